#!/usr/bin/env bash
# ICMP and ICMPv6 flows: echo requests through ping sockets (the unprivileged `ping`, and
# python's SOCK_DGRAM) and a raw socket, from a test namespace to a veth peer in another.
# Each is a flow of the pinging process with proto 'icmp'/'icmp6', both directions counted,
# lport the echo identifier and rport 0.
. "$(dirname "$0")/lib.sh"
e2e_begin icmp

A=frIa$$
B=frIb$$
new_ns $A
new_ns $B
ip link add frIa$$ netns $A type veth peer name frIb$$ netns $B
ip -n $A addr add 10.98.0.1/24 dev frIa$$
ip -n $B addr add 10.98.0.2/24 dev frIb$$
ip -n $A addr add fd98::1/64 dev frIa$$ nodad
ip -n $B addr add fd98::2/64 dev frIb$$ nodad
ip -n $A link set frIa$$ up
ip -n $B link set frIb$$ up
# Ping sockets are open to every group in A only; the host's setting is untouched.
ip netns exec $A sysctl -qw net.ipv4.ping_group_range="0 2147483647"
# Neighbours known up front: no ARP or neighbour discovery to count.
MAC_A=$(ip -n $A -br link show frIa$$ | awk '{print $3}')
MAC_B=$(ip -n $B -br link show frIb$$ | awk '{print $3}')
ip -n $A neigh replace 10.98.0.2 lladdr "$MAC_B" dev frIa$$ nud permanent
ip -n $A neigh replace fd98::2 lladdr "$MAC_B" dev frIa$$ nud permanent
ip -n $B neigh replace 10.98.0.1 lladdr "$MAC_A" dev frIb$$ nud permanent
ip -n $B neigh replace fd98::1 lladdr "$MAC_A" dev frIb$$ nud permanent

start_recorder
in_ns $A bash -c 'echo $$ > "$0"; exec ping -n -q -c 3 -i 0.2 -s 56 10.98.0.2' "$T/ping.pid" > "$T/ping.out"
in_ns $A python3 "$PEER" --comm pingsock4 --pidfile "$T/p4.pid" icmp-echo 10.98.0.2 2 100 > "$T/p4.out"
in_ns $A python3 "$PEER" --comm pingsock6 --pidfile "$T/p6.pid" icmp-echo fd98::2 4 10 > "$T/p6.out"
in_ns $A python3 "$PEER" --comm rawping --pidfile "$T/raw.pid" icmp-echo 10.98.0.2 3 20 --raw > "$T/raw.out"
sleep 0.5
stop_recorder

PING=$(cat "$T/ping.pid")
check "ping got its 3 replies" 1 "$(grep -c '3 packets transmitted, 3 received' "$T/ping.out")"
# 3 x (20 IP + 8 ICMP + 56) each way
check "ping: one icmp flow of the ping process, 3 packets each way" \
	"1|$PING|ping|icmp|4|out|10.98.0.1|10.98.0.2|0|3|3|252|252" \
	"$(q "SELECT count(*), pid, comm, proto, family, direction, laddr, raddr, rport, packets_out,
	      packets_in, bytes_out, bytes_in FROM flows WHERE comm = 'ping'")"
check "ping flow ended when ping closed its socket" 1 \
	"$(q "SELECT count(*) FROM flows WHERE comm = 'ping' AND end_ns IS NOT NULL")"

read -r ID4 GOT4 < <(tr '\n' ' ' < "$T/p4.out")
check "ping socket (IPv4): 2 replies" 2 "$GOT4"
check "ping socket (IPv4): flow with the echo identifier as lport" \
	"1|$(cat "$T/p4.pid")|icmp|$ID4|0|2|2|256|256" \
	"$(q "SELECT count(*), pid, proto, lport, rport, packets_out, packets_in, bytes_out, bytes_in
	      FROM flows WHERE comm = 'pingsock4'")"

read -r ID6 GOT6 < <(tr '\n' ' ' < "$T/p6.out")
check "ping socket (IPv6): 4 replies" 4 "$GOT6"
# 4 x (40 IPv6 + 8 ICMPv6 + 10)
check "ping socket (IPv6): icmp6 flow" \
	"1|$(cat "$T/p6.pid")|icmp6|6|fd98::1|fd98::2|$ID6|4|4|232|232" \
	"$(q "SELECT count(*), pid, proto, family, laddr, raddr, lport, packets_out, packets_in,
	      bytes_out, bytes_in FROM flows WHERE comm = 'pingsock6'")"

read -r IDR GOTR < <(tr '\n' ' ' < "$T/raw.out")
check "raw socket: 3 replies, identifier 0x4242" "16962 3" "$IDR $GOTR"
# 3 x (20 + 8 + 20)
check "raw socket: icmp flow of the raw socket's process" \
	"1|$(cat "$T/raw.pid")|icmp|16962|3|3|144|144" \
	"$(q "SELECT count(*), pid, proto, lport, packets_out, packets_in, bytes_out, bytes_in
	      FROM flows WHERE comm = 'rawping'")"
check "every ICMP flow ended" 0 "$(q "SELECT count(*) FROM flows WHERE proto LIKE 'icmp%' AND end_ns IS NULL")"
check "nothing lost" 0 "$(q "SELECT lost_events FROM runs")"
