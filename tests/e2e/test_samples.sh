#!/usr/bin/env bash
# flow_samples (--sample-interval): a connection idle for 3.5 s that then sends 1 MB shows
# that MB within one interval, and 3 or 4 intervals in 6 s (none while idle); they lie on
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
sleep 3.5
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
# The burst's interval: the MB in one second at most (wherever the burst fell).
check "the MB is in an interval a second long at most" 1 \
	"$(q "SELECT bytes_out >= 1000000 AND end_ns - start_ns <= 1000000000 $S ORDER BY bytes_out DESC LIMIT 1")"
check_range "the intervals: the handshake's, the burst's (maybe across a boundary), the close's" 3 4 \
	"$(q "SELECT count(*) $S")"
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
