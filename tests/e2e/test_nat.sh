#!/usr/bin/env bash
# The NAT view: a connection whose destination is rewritten by DNAT in the output path is one
# flow, with the address on the wire in raddr/rport and the one the program asked for in
# orig_raddr/orig_rport. A connection without NAT has NULL orig columns.
. "$(dirname "$0")/lib.sh"
e2e_begin nat

NS=frN$$
new_ns $NS
# 10.99.0.1:80 exists only as a NAT rule inside the test namespace: it becomes 10.99.0.2:8080,
# an address of the namespace's own loopback.
ip -n $NS addr add 10.99.0.2/32 dev lo
ip -n $NS route add 10.99.0.0/24 dev lo
ip netns exec $NS nft -f - <<'NFT' || { fail "cannot set up nftables in the test namespace"; exit 1; }
table ip frnat {
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 10.99.0.1 tcp dport 80 dnat to 10.99.0.2:8080
	}
}
NFT
start_recorder
bg_ns $NS python3 "$PEER" --comm natsrv --ready "$T/srv.ready" tcp-server 0.0.0.0 8080 --reply 400 --accepts 2
wait_file "$T/srv.ready"
in_ns $NS python3 "$PEER" --comm natcli --pidfile "$T/cli.pid" tcp-client 10.99.0.1 80 5000 > "$T/cli.out"
in_ns $NS python3 "$PEER" --comm plaincli tcp-client 127.0.0.1 8080 100 > /dev/null
sleep 0.5
stop_recorder
CLI=$(cat "$T/cli.pid")

check "the client got the reply through the NAT" 400 "$(cat "$T/cli.out")"
check "one flow for the NATed connection, both addresses kept" "1|$CLI|10.99.0.2|8080|10.99.0.1|80" \
	"$(q "SELECT count(*), pid, raddr, rport, orig_raddr, orig_rport FROM flows WHERE comm='natcli'")"
read -r B P BI PI < <(q "SELECT bytes_out, packets_out, bytes_in, packets_in FROM flows WHERE comm='natcli'" | tr '|' ' ')
check_range "NATed flow: both directions counted on the one flow (5000 out)" $((5000 + 40 * P)) $((5000 + 60 * P)) "$B"
check_range "NATed flow: the 400-byte reply counted in" $((400 + 40 * PI)) $((400 + 60 * PI)) "$BI"
check "NATed flow ended" 1 "$(q "SELECT count(*) FROM flows WHERE comm='natcli' AND end_ns IS NOT NULL")"
check "no NAT: orig columns are NULL" "127.0.0.1|8080||" \
	"$(q "SELECT raddr, rport, orig_raddr, orig_rport FROM flows WHERE comm='plaincli'")"
