#!/usr/bin/env bash
# IPFIX export (--ipfix), to real collectors on 127.0.0.1: nfcapd gets the flows of known
# TCP (both directions), UDP and IPv6 exchanges, and nfdump shows their exact 5-tuples and
# counters; a long connection's active-timeout records reach the collector before it ends
# and their deltas add up to the database's totals; over TCP, ipfixDump decodes the
# templates and the process elements (described by RFC 5610 type records); a collector that
# is absent or killed costs counted records, never a database row, and TCP reconnects when
# it returns.
. "$(dirname "$0")/lib.sh"
e2e_begin ipfix

NS=frI$$
new_ns $NS
# Collector ports on 127.0.0.1 of this namespace (the recorder's): random, so that two
# runs of the suite do not meet.
PU=$((20000 + RANDOM % 10000))
PT=$((PU + 1))
PCLOSED=$((PU + 2))

# The collectors run outside the recorded cgroup: their own sockets are not what is tested.
# -E prints each record as it arrives: how the active-timeout records are seen early.
mkdir -p "$T/nf"
nfcapd -b 127.0.0.1 -p "$PU" -w "$T/nf" -t 3600 -E > "$T/nfcapd.out" 2>&1 &
NFCAPD=$!
BG_PIDS+=($!)
# A TCP collector: socat writes the byte stream, ipfixDump reads it.
tcp_collector() { # FILE
	socat -u "TCP-LISTEN:$PT,bind=127.0.0.1,reuseaddr" "OPEN:$1,creat,trunc" &
	SOCAT=$!
	BG_PIDS+=($!)
}
tcp_collector "$T/tcp1.ipfix"
for _ in $(seq 50); do grep -q "Startup nfcapd" "$T/nfcapd.out" && break; sleep 0.1; done
sleep 0.3

start_recorder --no-capture --ipfix "127.0.0.1:$PU" --ipfix "tcp:127.0.0.1:$PT" \
	--ipfix-active-timeout 1 --ipfix-domain 4242

bg_ns $NS python3 "$PEER" --comm ipx-srv --ready "$T/srv.ready" tcp-server 127.0.0.1 7701 --reply 3000
wait_file "$T/srv.ready"
in_ns $NS python3 "$PEER" --comm ipx-cli --pidfile "$T/cli.pid" tcp-client 127.0.0.1 7701 20000 > /dev/null
bg_ns $NS python3 "$PEER" --comm ipx-udpsrv --ready "$T/usrv.ready" udp-echo 127.0.0.1 7702 3
wait_file "$T/usrv.ready"
in_ns $NS python3 "$PEER" --comm ipx-udpcli udp-connected 127.0.0.1 7702 3 100
bg_ns $NS python3 "$PEER" --comm ipx-srv6 --ready "$T/srv6.ready" tcp-server ::1 7703 --reply 500
wait_file "$T/srv6.ready"
in_ns $NS python3 "$PEER" --comm ipx-cli6 tcp-client ::1 7703 4000 > /dev/null

# A long connection: data every 0.6 s; with a 1 s active timeout its records come while
# it is open.
bg_ns $NS python3 "$PEER" --comm ipx-holdsrv --ready "$T/hsrv.ready" tcp-server 127.0.0.1 7704
wait_file "$T/hsrv.ready"
mkfifo "$T/fifo"
bg_ns $NS python3 "$PEER" --comm ipx-hold hold 127.0.0.1 7704 1000 "$T/fifo"
HOLD=$LAST_BG
exec 7> "$T/fifo"
for _ in 1 2 3 4 5; do echo go >&7; sleep 0.6; done
sleep 1
check "active timeout: the open connection is in the collector before it ends" 1 \
	"$(grep -A30 'dst port *= *7704' "$T/nfcapd.out" | grep -c -m1 'end reason *= *0x02')"
exec 7>&-
wait "$HOLD"

# The TCP collector goes away: what is sent meanwhile is lost, and counted.
kill "$SOCAT"; wait "$SOCAT" 2>/dev/null
bg_ns $NS python3 "$PEER" --comm ipx-srvl --ready "$T/srvl.ready" tcp-server 127.0.0.1 7707
wait_file "$T/srvl.ready"
in_ns $NS python3 "$PEER" --comm ipx-lost tcp-client 127.0.0.1 7707 100 > /dev/null
sleep 1
# ... and comes back: the recorder connects again within 5 s, templates first.
tcp_collector "$T/tcp2.ipfix"
sleep 6
bg_ns $NS python3 "$PEER" --comm ipx-srv2 --ready "$T/srv2.ready" tcp-server 127.0.0.1 7705
wait_file "$T/srv2.ready"
in_ns $NS python3 "$PEER" --comm ipx-after tcp-client 127.0.0.1 7705 777 > /dev/null
sleep 1
stop_recorder
kill "$NFCAPD" "$SOCAT" 2>/dev/null; wait "$NFCAPD" "$SOCAT" 2>/dev/null

# --- nfdump: each 5-tuple's counters, summed over its records, are the database's --------
# Both ends of a loopback connection are recorded, and both export it with the initiator as
# source; the sums over records cover both, as the database's sums over its two rows do.
# nf_sums DIR: per 5-tuple, the sums of the records' counters, one sorted line each.
nf_sums() {
	nfdump -R "$1" -o json 2> "$T/nfdump.err" | jq -r '
	group_by([.proto, (.src4_addr // .src6_addr), .src_port, (.dst4_addr // .dst6_addr), .dst_port]) |
	map("\(.[0].proto) \(.[0].src4_addr // .[0].src6_addr) \(.[0].src_port) \(.[0].dst4_addr // .[0].dst6_addr) \(.[0].dst_port) \(map(.in_bytes) | add) \(map(.in_packets) | add) \(map(.out_bytes) | add) \(map(.out_packets) | add)") |
	sort | .[]'
}
TZ=UTC nfdump -R "$T/nf" -o json > "$T/nf.json"
from_nfdump=$(nf_sums "$T/nf")
check "nfdump reads the collector's files" "" "$(cat "$T/nfdump.err")"
# The database's side: each flow with the initiator as source, summed per 5-tuple.
from_db=$(q "SELECT CASE proto WHEN 'tcp' THEN 6 WHEN 'udp' THEN 17 END, s, sp, d, dp, sum(fb), sum(fp), sum(rb), sum(rp) FROM (
	SELECT proto, laddr AS s, lport AS sp, raddr AS d, rport AS dp, bytes_out AS fb, packets_out AS fp, bytes_in AS rb, packets_in AS rp FROM flows WHERE direction = 'out'
	UNION ALL
	SELECT proto, raddr, rport, laddr, lport, bytes_in, packets_in, bytes_out, packets_out FROM flows WHERE direction = 'in')
	GROUP BY 1, 2, 3, 4, 5" | tr '|' ' ' | sort)
check "nfdump: every flow's 5-tuple, bytes and packets each way, as the database has them" "$from_db" "$from_nfdump"
check_range "nfdump: the flows of the test are there (tcp, udp, v6, the long one)" 5 20 "$(echo "$from_nfdump" | wc -l)"
check "nfdump: the IPv6 connection" 1 "$(echo "$from_nfdump" | grep -c '^6 ::1 [0-9]* ::1 7703 ')"
check "nfdump: the long connection was sent in several records (active timeout)" 1 \
	"$(jq '[.[] | select(.dst_port == 7704)] | length > 2' "$T/nf.json" | grep -c true)"
check "nfdump: the first and last packet times of the 7701 connection, to the millisecond" \
	"$(q "SELECT strftime('%Y-%m-%dT%H:%M:%S', s / 1000, 'unixepoch') || printf('.%03d', s % 1000) || ' ' ||
		strftime('%Y-%m-%dT%H:%M:%S', e / 1000, 'unixepoch') || printf('.%03d', e % 1000)
		FROM (SELECT min(start_ns) / 1000000 AS s, max(end_ns) / 1000000 AS e FROM flows WHERE lport = 7701 OR rport = 7701)")" \
	"$(jq -r '[.[] | select(.dst_port == 7701)] | "\(map(.first) | min) \(map(.last) | max)"' "$T/nf.json")"

# --- TCP: ipfixDump decodes both streams; the process elements carry the test's task -----
ipfixDump --rfc5610 --in "$T/tcp1.ipfix" > "$T/dump1" 2> "$T/dump1.err"
check "ipfixDump: the first TCP stream decodes" 0 $?
check "ipfixDump: the flowrec elements are named (RFC 5610)" 1 \
	"$(grep -c -m1 'flowrecExecutable' "$T/dump1")"
CLI=$(cat "$T/cli.pid")
check "ipfixDump: the client's record has its pid and comm" 1 \
	"$(grep -A40 "flowrecProcessId.*: *$CLI\$" "$T/dump1" | grep -c -m1 'flowrecCommand.*ipx-cli')"
ipfixDump --rfc5610 --in "$T/tcp2.ipfix" > "$T/dump2" 2> "$T/dump2.err"
check "ipfixDump: the stream after the reconnection decodes (templates sent again)" 0 $?
check "after the reconnection: the new flow is exported" 1 \
	"$(grep -c -m1 'flowrecCommand.*ipx-after' "$T/dump2")"
check_range "the records the absent TCP collector missed are counted" 1 1000 \
	"$(q "SELECT ipfix_lost FROM runs")"
check "flowq status shows the lost records and the collectors" \
	"$(q "SELECT ipfix_lost FROM runs") 127.0.0.1:$PU tcp:127.0.0.1:$PT domain=4242" \
	"$("$FLOWQ" --data "$DATA" --format json status | jq -r '.[0] | "\(.ipfix_lost) \(.ipfix)"')"
check "runs.ipfix names the collectors and the domain" "127.0.0.1:$PU tcp:127.0.0.1:$PT domain=4242" \
	"$(q "SELECT ipfix FROM runs")"
check "the database has both ends of the connection the TCP collector missed" 2 \
	"$(q "SELECT count(*) FROM flows WHERE lport = 7707 OR rport = 7707")"
check "the TCP collector missed it" 0 "$(grep -c 'ipx-lost' "$T/dump1" "$T/dump2" | awk -F: '{ s += $2 } END { print s }')"

# --- flowq ipfix: the recording replayed, to nfcapd and to pmacct's nfacctd ----------------
PR=$((PU + 3))
PP=$((PU + 4))
mkdir -p "$T/nf2"
nfcapd -b 127.0.0.1 -p "$PR" -w "$T/nf2" -t 3600 > "$T/nfcapd2.out" 2>&1 &
NFCAPD2=$!
BG_PIDS+=($!)
cat > "$T/primitives.lst" <<EOF
name=flowrec_pid field_type=32473:101 len=4 semantics=u_int
name=flowrec_comm field_type=32473:104 len=vlen semantics=str
name=flowrec_exe field_type=32473:105 len=vlen semantics=str
EOF
cat > "$T/nfacctd.conf" <<EOF
daemonize: false
pidfile: $T/nfacctd.pid
nfacctd_ip: 127.0.0.1
nfacctd_port: $PP
aggregate_primitives: $T/primitives.lst
plugins: print
aggregate: src_host, dst_host, dst_port, proto, flowrec_pid, flowrec_comm, flowrec_exe
print_output: csv
print_output_file: $T/pmacct.csv
print_refresh_time: 1
EOF
nfacctd -f "$T/nfacctd.conf" > "$T/nfacctd.log" 2>&1 &
NFACCTD=$!
BG_PIDS+=($!)
for _ in $(seq 50); do grep -q "waiting for NetFlow/IPFIX data" "$T/nfacctd.log" && break; sleep 0.1; done
# Its print plugin is a process of its own: cleaned up by pid too.
for _ in $(seq 20); do [ -s "$T/nfacctd.pid-print-default_print" ] && break; sleep 0.1; done
[ -s "$T/nfacctd.pid-print-default_print" ] && BG_PIDS+=($(cat "$T/nfacctd.pid-print-default_print"))
for _ in $(seq 50); do grep -q "Startup nfcapd" "$T/nfcapd2.out" && break; sleep 0.1; done
sleep 0.3
"$FLOWQ" --data "$DATA" ipfix "127.0.0.1:$PR" 2> "$T/replay.err"
check "flowq ipfix: every flow sent" "flowq: $(q "SELECT count(*) FROM flows") flows sent to 127.0.0.1:$PR" \
	"$(cat "$T/replay.err")"
"$FLOWQ" --data "$DATA" ipfix "127.0.0.1:$PP" --comm ipx-cli --domain 7 2> "$T/replay2.err"
check "flowq ipfix --comm: the one flow" "flowq: 1 flows sent to 127.0.0.1:$PP" "$(cat "$T/replay2.err")"
expect_error 2 "bad IPFIX collector" "$FLOWQ" --data "$DATA" ipfix nowhere
sleep 2.5
kill -INT "$NFACCTD" "$NFCAPD2"
sleep 1
# nfacctd's core may hang once its plugin is gone: by pid, the plugin's too.
kill -9 "$NFACCTD" $(cat "$T/nfacctd.pid-print-default_print" 2>/dev/null) 2>/dev/null
wait "$NFCAPD2" 2>/dev/null
check "flowq ipfix: nfdump sees the database's flows, counters whole" "$from_db" "$(nf_sums "$T/nf2")"
check "flowq ipfix: the domain the recording's export used, by default" 1 \
	"$(grep -c 'Observation domain 4242 ' "$T/nfcapd2.out")"
check "nfacctd: the client's flow with its pid, comm and exe (enterprise elements)" \
	"127.0.0.1,127.0.0.1,7701,tcp,$CLI,ipx-cli,$(q "SELECT exe FROM processes WHERE pid = $CLI")" \
	"$(sed -n 2p "$T/pmacct.csv" | cut -d, -f1-7)"

# --- a collector that is never there: every record lost, counted, nothing else ---------------
rm -rf "$DATA"
start_recorder --no-capture --ipfix "tcp:127.0.0.1:$PCLOSED"
bg_ns $NS python3 "$PEER" --comm ipx-srv3 --ready "$T/srv3.ready" tcp-server 127.0.0.1 7706
wait_file "$T/srv3.ready"
in_ns $NS python3 "$PEER" --comm ipx-cli3 tcp-client 127.0.0.1 7706 500 > /dev/null
sleep 0.5
stop_recorder
check "no collector: both ends of the connection are in the database" 2 \
	"$(q "SELECT count(*) FROM flows WHERE lport = 7706 OR rport = 7706")"
check "no collector: each of their records is counted lost" 2 "$(q "SELECT ipfix_lost FROM runs")"

