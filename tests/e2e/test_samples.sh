#!/usr/bin/env bash
# flow_samples (--sample-interval): a connection idle for 3.5 s that then sends 1 MB shows
# that MB in the intervals the burst fell in, nothing while idle; the intervals lie on
# whole seconds; a flow's samples add up to its totals, the one still open at the stop too.
. "$(dirname "$0")/lib.sh"
e2e_begin samples

NS=frS$$
new_ns $NS
start_recorder --no-capture --sample-interval 1
bg_ns $NS python3 "$PEER" --comm smp-srv --ready "$T/srv.ready" tcp-server 127.0.0.1 8001 --accepts 2
wait_file "$T/srv.ready"
mkfifo "$T/fifo"
bg_ns $NS python3 "$PEER" --comm smp-cli hold 127.0.0.1 8001 1000000 "$T/fifo"
HOLD=$LAST_BG
exec 7> "$T/fifo"
T_OPEN=$(date +%s%N)
sleep 3.5
T0=$(date +%s%N)
echo go >&7
sleep 2.5
exec 7>&-
wait "$HOLD"
# A second connection left open across the stop.
mkfifo "$T/fifo2"
bg_ns $NS python3 "$PEER" --comm smp-open hold 127.0.0.1 8001 5000 "$T/fifo2"
exec 8> "$T/fifo2"
echo go >&8
sleep 1.5
stop_recorder
exec 8>&-

F=$(q "SELECT id FROM flows WHERE comm = 'smp-cli' AND direction = 'out'")
S="FROM flow_samples WHERE flow_id = $F"
check "the samples add up to the flow's totals" \
	"$(q "SELECT bytes_out, bytes_in, packets_out, packets_in FROM flows WHERE id = $F")" \
	"$(q "SELECT sum(bytes_out), sum(bytes_in), sum(packets_out), sum(packets_in) $S")"
check "no interval within the idle time (from 1.2 s after the connect to the burst)" 0 \
	"$(q "SELECT count(*) $S AND start_ns >= $T_OPEN + 1200000000 AND end_ns <= $T0")"
check_range "the intervals: the handshake's, the burst's (maybe across a boundary), the close's" 3 4 \
	"$(q "SELECT count(*) $S")"
check "the MB is in the intervals the burst fell in (within 1.5 s of it)" 1 \
	"$(q "SELECT sum(bytes_out) >= 1000000 $S AND end_ns > $T0 AND start_ns < $T0 + 1500000000")"
check "those intervals are a second long at most" 0 \
	"$(q "SELECT count(*) $S AND end_ns > $T0 AND start_ns < $T0 + 1500000000 AND end_ns - start_ns > 1000000000")"
check "every interval but the flow's last ends on a whole second" 0 \
	"$(q "SELECT count(*) $S AND end_ns % 1000000000 != 0 AND end_ns < (SELECT end_ns FROM flows WHERE id = $F)")"
check "the flow's last interval ends with it" 1 \
	"$(q "SELECT max(end_ns) = (SELECT end_ns FROM flows WHERE id = $F) $S")"
O=$(q "SELECT id FROM flows WHERE comm = 'smp-open' AND direction = 'out'")
check "a flow open at the stop: its samples add up to its totals too" \
	"$(q "SELECT bytes_out, packets_in FROM flows WHERE id = $O")" \
	"$(q "SELECT sum(bytes_out), sum(packets_in) FROM flow_samples WHERE flow_id = $O")"
check "flowq reads them" "$(q "SELECT count(*) FROM flow_samples")" \
	"$("$FLOWQ" --data "$DATA" --format csv sql "SELECT count(*) AS n FROM flow_samples" | tail -1 | tr -d '\r')"
