#!/usr/bin/env bash
# MPTCP: a connection over two paths between two test namespaces. Each side has one 'mptcp'
# flow (the socket the program holds, counting all its bytes) and two 'tcp' subflows that
# point to it with parent_flow_id; the second subflow, which the kernel's path manager opens
# after the server announces its second address, is still the client process's.
. "$(dirname "$0")/lib.sh"
e2e_begin mptcp

C=frMc$$
S=frMs$$
new_ns $C
new_ns $S
for i in 1 2; do
	ip link add frM${i}c$$ netns $C type veth peer name frM${i}s$$ netns $S
	ip -n $C addr add 10.97.$i.1/24 dev frM${i}c$$
	ip -n $S addr add 10.97.$i.2/24 dev frM${i}s$$
	ip -n $C link set frM${i}c$$ up
	ip -n $S link set frM${i}s$$ up
done
for ns in $C $S; do
	ip netns exec $ns sysctl -qw net.mptcp.enabled=1
	ip -n $ns mptcp limits set subflows 2 add_addr_accepted 2
done
# The server announces its second address; the client opens a subflow to it.
ip -n $S mptcp endpoint add 10.97.2.2 dev frM2s$$ signal

start_recorder --socket-events
bg_ns $S python3 "$PEER" --comm mpsrv --pidfile "$T/srv.pid" --ready "$T/srv.ready" \
	tcp-server 0.0.0.0 5000 --reply 3000 --mptcp
wait_file "$T/srv.ready"
# Two chunks two seconds apart: the second subflow joins in between (the VM is slow to).
in_ns $C python3 "$PEER" --comm mpcli --pidfile "$T/cli.pid" tcp-client 10.97.1.2 5000 200000 \
	--chunks 2 --interval 2 --mptcp > "$T/cli.out"
wait "$LAST_BG"
sleep 0.5
stop_recorder
CLI=$(cat "$T/cli.pid")
SRV=$(cat "$T/srv.pid")

check "client got the 3000-byte reply" 3000 "$(cat "$T/cli.out")"
check "client: one mptcp flow, to the address it connected to" "1|$CLI|mpcli|out|10.97.1.2|5000|" \
	"$(q "SELECT count(*), pid, comm, direction, raddr, rport, parent_flow_id FROM flows
	      WHERE proto = 'mptcp' AND comm = 'mpcli'")"
MPC=$(q "SELECT id FROM flows WHERE proto = 'mptcp' AND comm = 'mpcli'")
check "client: two subflows of that connection, one per server address, both the client's" \
	"$CLI|10.97.1.2|5000|$MPC,$CLI|10.97.2.2|5000|$MPC" \
	"$(q "SELECT group_concat(x, ',') FROM (SELECT pid || '|' || raddr || '|' || rport || '|' ||
	      parent_flow_id AS x FROM flows WHERE proto = 'tcp' AND parent_flow_id = $MPC ORDER BY raddr)")"
check "client: the connection counts exactly its subflows' packets and bytes" \
	"$(q "SELECT sum(bytes_out), sum(bytes_in), sum(packets_out), sum(packets_in) FROM flows WHERE parent_flow_id = $MPC")" \
	"$(q "SELECT bytes_out, bytes_in, packets_out, packets_in FROM flows WHERE id = $MPC")"
check_range "client: 200000 bytes sent over the connection" 200000 260000 \
	"$(q "SELECT bytes_out FROM flows WHERE id = $MPC")"
check "client: connection and subflows ended" 0 \
	"$(q "SELECT count(*) FROM flows WHERE (id = $MPC OR parent_flow_id = $MPC) AND end_ns IS NULL")"

MPS=$(q "SELECT id FROM flows WHERE proto = 'mptcp' AND pid = $SRV")
check "server: one mptcp flow, accepted" "1|in|10.97.1.1|5000" \
	"$(q "SELECT count(*), direction, raddr, lport FROM flows WHERE proto = 'mptcp' AND pid = $SRV")"
check "server: two subflows, from each client address, both the server's" \
	"$SRV|10.97.1.1|10.97.1.2,$SRV|10.97.2.1|10.97.2.2" \
	"$(q "SELECT group_concat(x, ',') FROM (SELECT pid || '|' || raddr || '|' || laddr AS x
	      FROM flows WHERE parent_flow_id = $MPS ORDER BY raddr)")"
check "server: the connection counts exactly its subflows' bytes" \
	"$(q "SELECT sum(bytes_in), sum(bytes_out) FROM flows WHERE parent_flow_id = $MPS")" \
	"$(q "SELECT bytes_in, bytes_out FROM flows WHERE id = $MPS")"
check "no flow other than these six" 6 "$(q "SELECT count(*) FROM flows")"
check "nothing lost" 0 "$(q "SELECT lost_events FROM runs")"

# Socket events: the program's socket() made the MPTCP socket whose cookie the connection
# carries; each subflow has a 'create' row the kernel made (kern = 1) on the owner's behalf.
check "client: socket() of the MPTCP socket, the connection's cookie" "mptcp|stream|0|$CLI" \
	"$(q "SELECT e.protocol, e.type, e.kern, e.pid FROM socket_events e JOIN flows f
	      ON f.socket_cookie = e.socket_cookie WHERE f.id = $MPC AND e.event = 'create'")"
check "client: connect() of that socket names the connection's flow" "0|$MPC|10.97.1.2|5000" \
	"$(q "SELECT ret, flow_id, raddr, rport FROM socket_events WHERE event = 'connect' AND pid = $CLI")"
check "client: one kernel-made 'create' per subflow, the client's, naming the subflow" \
	"$CLI|tcp|1|10.97.1.1,$CLI|tcp|1|10.97.2.1" \
	"$(q "SELECT group_concat(x, ',') FROM (SELECT e.pid || '|' || e.protocol || '|' || e.kern || '|' ||
	      e.laddr AS x FROM socket_events e JOIN flows f ON f.id = e.flow_id
	      WHERE e.event = 'create' AND e.kern = 1 AND f.parent_flow_id = $MPC ORDER BY e.laddr)")"
check "server: one kernel-made 'create' per subflow" 2 \
	"$(q "SELECT count(*) FROM socket_events e JOIN flows f ON f.id = e.flow_id
	      WHERE e.kern = 1 AND f.parent_flow_id = $MPS AND e.pid = $SRV")"
