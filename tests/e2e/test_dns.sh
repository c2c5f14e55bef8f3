#!/usr/bin/env bash
# DNS: queries and answers per task, both sides (dig asking, dnsmasq answering), over UDP and
# TCP, NXDOMAIN, a CNAME chain, a query never answered, latency against a responder with a
# known delay, a malformed message, and flows named by what their process resolved. Recorded
# with --no-capture: DNS is taken whatever the capture settings.
. "$(dirname "$0")/lib.sh"
e2e_begin dns

NS=frD$$
new_ns $NS
NSINO=$(netns_inode $NS)
# Private addresses inside the test namespace only, for the names to point at.
ip -n $NS addr add 10.53.0.1/32 dev lo
ip -n $NS addr add 10.53.0.3/32 dev lo
# ip netns exec gives the namespace this resolv.conf: the system resolver asks dnsmasq.
mkdir -p /etc/netns/$NS && echo "nameserver 127.0.0.1" > /etc/netns/$NS/resolv.conf
trap 'rm -rf /etc/netns/'$NS'; e2e_cleanup; exit $?' EXIT

start_recorder --no-capture --dns-port 53 --dns-port 5399 --dns-port 5400
bg_ns $NS dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
	--listen-address=127.0.0.1 --port=53 --user=root --pid-file="$T/dnsmasq.pid" \
	--address=/a.test/10.53.0.1 --address=/a.test/fd00::53 --address=/nx.test/ \
	--host-record=c.test,10.53.0.3 --cname=www.c.test,c.test
DNSMASQ=$LAST_BG
for i in $(seq 50); do in_ns $NS dig @127.0.0.1 +time=1 +tries=1 a.test > /dev/null 2>&1 && break; sleep 0.1; done
bg_ns $NS python3 "$PEER" --ready "$T/delayed.ready" dns-delayed 127.0.0.1 5400 0.3 1
wait_file "$T/delayed.ready"
bg_ns $NS python3 "$PEER" --ready "$T/silent.ready" udp-sink 127.0.0.1 5399 1
wait_file "$T/silent.ready"
bg_ns $NS python3 "$PEER" --ready "$T/web.ready" tcp-server 0.0.0.0 8080 --accepts 2
wait_file "$T/web.ready"

dig_as() { # dig_as NAME ARGS...: run dig in the namespace, its pid in $T/NAME.pid
	local name=$1; shift
	in_ns $NS bash -c 'echo $$ > "$0"; exec dig "$@"' "$T/$name.pid" "$@"
}
check "dig A a.test" 10.53.0.1 "$(dig_as a @127.0.0.1 +short a.test A)"
check "dig AAAA a.test" fd00::53 "$(dig_as aaaa @127.0.0.1 +short a.test AAAA)"
check "dig CNAME chain" "c.test. 10.53.0.3" "$(echo $(dig_as cname @127.0.0.1 +short www.c.test A))"
dig_as nx @127.0.0.1 nx.test A > /dev/null
check "dig over TCP" 10.53.0.1 "$(dig_as tcp @127.0.0.1 +tcp +short a.test A)"
dig_as never @127.0.0.1 -p 5399 +tries=1 +time=1 never.test A > /dev/null
check "delayed responder answers" 10.53.0.9 "$(dig_as slow @127.0.0.1 -p 5400 +tries=1 +time=3 +short slow.test A)"
in_ns $NS python3 "$PEER" --comm badsender udp-send 127.0.0.1 53 0102030405
in_ns $NS python3 "$PEER" --comm resolver1 --pidfile "$T/rc1.pid" resolve-connect a.test 8080
in_ns $NS python3 "$PEER" --comm resolver2 --pidfile "$T/rc2.pid" resolve-connect www.c.test 8080
sleep 0.5
stop_recorder

row() { q "SELECT $1 FROM dns WHERE role='client' AND $2"; }
A=$(cat "$T/a.pid")
check "A query: the asking process, its namespace, the server" "$A|dig|$NSINO|udp|127.0.0.1|53|A|1|NOERROR" \
	"$(row "pid, comm, netns, transport, server, server_port, qtype, qclass, rcode" "pid=$A")"
check "A query: answers as JSON" '[{"name":"a.test","type":"A","ttl":0,"data":"10.53.0.1"}]' \
	"$(row "answers" "pid=$A" | python3 -c 'import json,sys; print(json.dumps([{k: a[k] for k in ("name","type","ttl","data")} for a in json.load(sys.stdin)], separators=(",",":")))')"
check "A query: response and latency" "1 1" "$(row "response_ns >= ts_ns, latency_ns = response_ns - ts_ns" "pid=$A" | tr '|' ' ')"
check "A query: tied to the dig socket's flow" "$A" "$(q "SELECT f.pid FROM dns d JOIN flows f ON f.id = d.flow_id WHERE d.role='client' AND d.pid=$A")"
check "AAAA" "AAAA fd00::53" "$(row "qtype, json_extract(answers, '\$[0].data')" "pid=$(cat "$T/aaaa.pid")" | tr '|' ' ')"
check "CNAME chain" "www.c.test CNAME c.test A 10.53.0.3" \
	"$(row "qname, json_extract(answers, '\$[0].type'), json_extract(answers, '\$[0].data'), json_extract(answers, '\$[1].type'), json_extract(answers, '\$[1].data')" "pid=$(cat "$T/cname.pid")" | tr '|' ' ')"
check "NXDOMAIN" "nx.test NXDOMAIN" "$(row "qname, rcode" "pid=$(cat "$T/nx.pid")" | tr '|' ' ')"
check "TCP query" "tcp a.test NOERROR 10.53.0.1" \
	"$(row "transport, qname, rcode, json_extract(answers, '\$[0].data')" "pid=$(cat "$T/tcp.pid")" | tr '|' ' ')"
check "never answered: NULL response columns" "never.test|5399|||" \
	"$(row "qname, server_port, rcode, response_ns, latency_ns" "pid=$(cat "$T/never.pid")")"
check_range "latency against a responder that waits 300 ms (ms)" 300 700 \
	"$(row "latency_ns / 1000000" "pid=$(cat "$T/slow.pid")")"
check_range "malformed message counted" 1 10 "$(q "SELECT dns_malformed FROM runs")"
check "dnsmasq's side recorded as server" "dnsmasq server 127.0.0.1 53" \
	"$(q "SELECT DISTINCT comm, role, server, server_port FROM dns WHERE role='server' AND qname='a.test' AND transport='udp'" | tr '|' ' ')"
check_range "dnsmasq answered every query of its port, each recorded" 6 100 \
	"$(q "SELECT count(*) FROM dns WHERE role='server' AND server_port=53 AND rcode IS NOT NULL")"
check "a flow named by what its process resolved" "resolver1|10.53.0.1|a.test" \
	"$(q "SELECT comm, raddr, rname FROM flows WHERE rport=8080 AND direction='out' AND comm='resolver1'")"
check "a flow after a CNAME chain keeps the name asked for" "resolver2|10.53.0.3|www.c.test" \
	"$(q "SELECT comm, raddr, rname FROM flows WHERE rport=8080 AND direction='out' AND comm='resolver2'")"
check "flowq dns --name: the client lookups of a.test (A, AAAA, TCP, resolver1's)" "a.test" \
	"$("$FLOWQ" --db "$DB" --format jsonl dns --name 'A.*' | python3 -c 'import json,sys; print(*sorted({json.loads(l)["qname"] for l in sys.stdin}))')"
check "flowq dns --format json: answers nested" "10.53.0.1" \
	"$("$FLOWQ" --db "$DB" --format json dns --pid "$A" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["answers"][0]["data"])')"
check "flowq dns --rcode NXDOMAIN" "nx.test" \
	"$("$FLOWQ" --db "$DB" --format jsonl dns --rcode NXDOMAIN | python3 -c 'import json,sys; print(*sorted({json.loads(l)["qname"] for l in sys.stdin}))')"
check "flowq dns --type AAAA" "AAAA" \
	"$("$FLOWQ" --db "$DB" --format jsonl dns --type aaaa | python3 -c 'import json,sys; print(*sorted({json.loads(l)["qtype"] for l in sys.stdin}))')"
check "flowq flows shows rname" "a.test" \
	"$("$FLOWQ" --db "$DB" --format jsonl flows --comm resolver1 --port 8080 | python3 -c 'import json,sys; print(*[json.loads(l)["rname"] for l in sys.stdin])')"
