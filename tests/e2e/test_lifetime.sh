#!/usr/bin/env bash
# Flows over time: a long-lived connection whose counters grow in the database while it is
# open, and a connection opened before the recorder started, attributed once it starts.
. "$(dirname "$0")/lib.sh"
e2e_begin lifetime

new_ns frL$$

# --- opened before the recorder -----------------------------------------------------------
bg_ns frL$$ python3 "$PEER" --comm early-srv --pidfile "$T/esrv.pid" --ready "$T/esrv.ready" tcp-server 127.0.0.1 7700
wait_file "$T/esrv.ready"
mkfifo "$T/fifo"
bg_ns frL$$ python3 "$PEER" --comm early-cli --pidfile "$T/ecli.pid" hold 127.0.0.1 7700 1000 "$T/fifo"
HOLD=$LAST_BG
exec 7> "$T/fifo"
echo go >&7 # traffic before the recorder: not counted
sleep 0.3
start_recorder
for i in 1 2 3; do echo go >&7; sleep 0.1; done
exec 7>&-
wait "$HOLD"

# --- long-lived: 12 chunks of 5000 bytes, 0.5 s apart (6 s: the VM's sqlite3 is slow) ---------
bg_ns frL$$ python3 "$PEER" --comm long-srv --ready "$T/lsrv.ready" tcp-server 127.0.0.1 7701
wait_file "$T/lsrv.ready"
bg_ns frL$$ python3 "$PEER" --comm long-cli tcp-client 127.0.0.1 7701 60000 --chunks 12 --interval 0.5
LONG=$LAST_BG
# Watch the open flow's row while the client runs: its byte count must take several values
# before the close.
SEEN=""
for ((i = 0; i < 300 && $(kill -0 "$LONG" 2>/dev/null && echo 1 || echo 0); i++)); do
	B=$(q "SELECT bytes_out FROM flows WHERE rport=7701 AND end_ns IS NULL")
	[ -n "$B" ] && [[ " $SEEN " != *" $B "* ]] && SEEN="$SEEN $B"
	# flowq while the recorder writes, as soon as the open flow is in the database
	[ -n "$B" ] && [ ! -e "$T/mid.jsonl" ] && "$FLOWQ" --db "$DB" --format jsonl flows --port 7701 --proto tcp > "$T/mid.jsonl"
	sleep 0.05
done
wait "$LONG"
sleep 0.5
stop_recorder

ESRV=$(cat "$T/esrv.pid"); ECLI=$(cat "$T/ecli.pid")
check "early connection: client flow attributed, direction out" "$ECLI|early-cli|out" \
	"$(q "SELECT pid, comm, direction FROM flows WHERE rport=7700")"
check "early connection: server flow attributed, direction in" "$ESRV|early-srv|in" \
	"$(q "SELECT pid, comm, direction FROM flows WHERE lport=7700")"
read -r B P < <(q "SELECT bytes_out, packets_out FROM flows WHERE rport=7700" | tr '|' ' ')
check_range "early connection: only the 3000 bytes sent after the start counted" \
	$((3000 + 40 * P)) $((3000 + 60 * P)) "$B"
# 12 chunks 0.5 s apart, watched for 6 s with a 0.2 s flush: at least 4 distinct values.
set -- $SEEN
if [ $# -ge 4 ] && [ "${!#}" -gt "$1" ]; then
	ok "long-lived: counters grew in the database while open:$SEEN"
else
	fail "long-lived: counters did not grow while open:$SEEN"
fi
check "flowq reads while the recorder writes: the open flow, end_ns null" "long-cli out 7701 None" \
	"$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(*[" ".join(str(x) for x in (o["comm"], o["direction"], o["rport"], o["end_ns"])) for o in r if o["direction"]=="out"])' "$T/mid.jsonl")"
read -r B P < <(q "SELECT bytes_out, packets_out FROM flows WHERE rport=7701" | tr '|' ' ')
check_range "long-lived: final bytes_out = 60000 + headers" $((60000 + 40 * P)) $((60000 + 60 * P)) "$B"
check "long-lived: ended" 1 "$(q "SELECT count(*) FROM flows WHERE rport=7701 AND end_ns IS NOT NULL")"
