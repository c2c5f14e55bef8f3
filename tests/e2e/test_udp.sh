#!/usr/bin/env bash
# UDP: a connected socket is one flow; an unconnected socket sending to two peers is two
# flows of one socket; the receiving sides are 'in' flows. Sizes are exact: IPv4 (20) + UDP
# (8) + payload.
. "$(dirname "$0")/lib.sh"
e2e_begin udp

new_ns frU$$
NS=$(netns_inode frU$$)
start_recorder

bg_ns frU$$ python3 "$PEER" --comm echo-srv --pidfile "$T/echo.pid" --ready "$T/echo.ready" udp-echo 127.0.0.1 9000 5
wait_file "$T/echo.ready"
in_ns frU$$ python3 "$PEER" --comm udp-conn --pidfile "$T/conn.pid" udp-connected 127.0.0.1 9000 5 100
wait "$LAST_BG"

bg_ns frU$$ python3 "$PEER" --comm sink1 --ready "$T/s1.ready" udp-sink 127.0.0.1 9001 3
S1=$LAST_BG
bg_ns frU$$ python3 "$PEER" --comm sink2 --ready "$T/s2.ready" udp-sink 127.0.0.1 9002 4
S2=$LAST_BG
wait_file "$T/s1.ready"; wait_file "$T/s2.ready"
in_ns frU$$ python3 "$PEER" --comm udp-unconn --pidfile "$T/unconn.pid" udp-unconnected 200 127.0.0.1 9001 3 127.0.0.1 9002 4
wait "$S1" "$S2"
# A process that lives a few milliseconds: exe and cmdline are taken at its exec.
in_ns frU$$ /usr/bin/bash -c 'echo short-lived > /dev/udp/127.0.0.1/9009'
sleep 0.5
stop_recorder

CONN=$(cat "$T/conn.pid"); ECHO=$(cat "$T/echo.pid"); UNCONN=$(cat "$T/unconn.pid")
check "connected socket: one out flow with exact counters" "$CONN|udp-conn|$NS|udp|out|9000|5|640|5|640" \
	"$(q "SELECT pid, comm, netns, proto, direction, rport, packets_out, bytes_out, packets_in, bytes_in FROM flows WHERE rport=9000")"
check "echo server: one in flow, same counters mirrored" "$ECHO|echo-srv|in|9000|5|640|5|640" \
	"$(q "SELECT pid, comm, direction, lport, packets_in, bytes_in, packets_out, bytes_out FROM flows WHERE lport=9000")"
check "unconnected socket: two flows, one per peer, exact counters" \
	"$UNCONN|udp-unconn|out|9001|3|684|0
$UNCONN|udp-unconn|out|9002|4|912|0" \
	"$(q "SELECT pid, comm, direction, rport, packets_out, bytes_out, packets_in FROM flows WHERE rport IN (9001, 9002) ORDER BY rport")"
check "unconnected socket: both flows share the socket" 1 \
	"$(q "SELECT count(DISTINCT socket_cookie) FROM flows WHERE rport IN (9001, 9002)")"
check "unconnected socket: both flows ended when it closed" 2 \
	"$(q "SELECT count(*) FROM flows WHERE rport IN (9001, 9002) AND end_ns IS NOT NULL")"
check "sinks: in flows with what they received" "sink1|in|3|684
sink2|in|4|912" \
	"$(q "SELECT comm, direction, packets_in, bytes_in FROM flows WHERE lport IN (9001, 9002) ORDER BY lport")"
check "short-lived process: exe and cmdline from its exec" \
	"bash|/usr/bin/bash|/usr/bin/bash -c echo short-lived > /dev/udp/127.0.0.1/9009" \
	"$(q "SELECT p.comm, p.exe, p.cmdline FROM flows f JOIN processes p ON p.pid = f.pid AND p.start_ns = f.proc_start_ns WHERE f.rport = 9009")"
check "no losses" 0 "$(q "SELECT lost_events FROM runs")"
