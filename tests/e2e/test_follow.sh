#!/usr/bin/env bash
# --follow (flowq flows, events, dns): rows already there, then each new flow as it reaches
# the database and again when it ends, new socket calls and DNS transactions; filters hold;
# the header comes once; json (one array) is refused; SIGINT ends it with status 0.
. "$(dirname "$0")/lib.sh"
e2e_begin follow

NS=frF$$
new_ns $NS
start_recorder --socket-events --no-capture
bg_ns $NS python3 "$PEER" --comm fol-srv --ready "$T/srv.ready" tcp-server 127.0.0.1 7901 --accepts 2
wait_file "$T/srv.ready"
in_ns $NS python3 "$PEER" --comm fol-early tcp-client 127.0.0.1 7901 100 > /dev/null
sleep 0.5

"$FLOWQ" --data "$DATA" --format jsonl flows --follow --comm fol-cli > "$T/flows.jsonl" 2> "$T/flows.err" &
FQ1=$!
BG_PIDS+=($!)
"$FLOWQ" --data "$DATA" --format csv flows --follow --port 7901 > "$T/flows.csv" 2>&1 &
FQ2=$!
BG_PIDS+=($!)
"$FLOWQ" --data "$DATA" --format jsonl events --follow --comm fol-cli > "$T/events.jsonl" 2>&1 &
FQ3=$!
BG_PIDS+=($!)
sleep 1
# A connection held open: its flow shows before it ends, and again at its end.
mkfifo "$T/fifo"
bg_ns $NS python3 "$PEER" --comm fol-cli hold 127.0.0.1 7901 300 "$T/fifo"
HOLD=$LAST_BG
exec 7> "$T/fifo"
echo go >&7
sleep 1.5
check "flows --follow: the new flow, open (no end yet)" "fol-cli 7901 null" \
	"$(jq -rs 'map("\(.comm) \(.rport) \(.end_ns)") | join(" / ")' "$T/flows.jsonl")"
exec 7>&-
wait "$HOLD"
sleep 1.5
check "flows --follow: then the same flow again, ended" "fol-cli open, fol-cli closed" \
	"$(jq -rs --arg id "$(jq -rs '.[0].id' "$T/flows.jsonl")" \
		'map(select(.id == ($id | tonumber)) | "\(.comm) \(if .end_ns == null then "open" else .end_reason end)") | join(", ")' "$T/flows.jsonl")"
check "events --follow: the client's socket calls as they came" "create connect close" \
	"$(jq -rs 'map(.event) | join(" ")' "$T/events.jsonl")"
kill -INT "$FQ1" "$FQ2" "$FQ3"
wait "$FQ1"
check "SIGINT ends --follow with status 0" 0 $?
wait "$FQ2" "$FQ3"
check "csv --follow: the header once, the early flows (both ends), then the new ones as they came" \
	"1 $(q "SELECT count(*) FROM flows WHERE lport = 7901 OR rport = 7901") " \
	"$(grep -c '^id,' "$T/flows.csv") $(( $(wc -l < "$T/flows.csv") - 1 - 2 )) $(cat "$T/flows.err")"
"$FLOWQ" --data "$DATA" --format json flows --follow > /dev/null 2> "$T/err"
check "--follow with json: refused (exit 2, one line)" "2 1" "$? $(grep -c 'use --format table, csv or jsonl' "$T/err")"
stop_recorder
