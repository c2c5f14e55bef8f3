#!/usr/bin/env bash
# The command lines: flowq on a real recording (formats, filters, read-only refusal, errors)
# and the recorder's own refusals, plus what kill -9 leaves behind (nothing attached).
. "$(dirname "$0")/lib.sh"
e2e_begin cli

new_ns frC$$
NS=$(netns_inode frC$$)
start_recorder
bg_ns frC$$ python3 "$PEER" --comm cli-srv --pidfile "$T/srv.pid" --ready "$T/srv.ready" tcp-server 127.0.0.1 7800 --reply 10
wait_file "$T/srv.ready"
in_ns frC$$ python3 "$PEER" --comm cli-cli --pidfile "$T/cli.pid" tcp-client 127.0.0.1 7800 1000 > /dev/null
wait "$LAST_BG"
bg_ns frC$$ python3 "$PEER" --comm cli-echo --ready "$T/echo.ready" udp-echo 127.0.0.1 7801 1
wait_file "$T/echo.ready"
in_ns frC$$ python3 "$PEER" --comm cli-udp udp-connected 127.0.0.1 7801 1 10
wait "$LAST_BG"
sleep 0.3
stop_recorder
SRV=$(cat "$T/srv.pid")
fq() { "$FLOWQ" --db "$DB" "$@"; }

# --- output formats ----------------------------------------------------------------------
check "csv: RFC 4180 with CRLF" "$(printf 'n\r\n4\r\n')" "$(fq --format csv sql "SELECT count(*) AS n FROM flows")"
check "csv parses with python's csv module" "4 cli-cli" \
	"$(fq --format csv flows | python3 -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); print(len(r), [x["comm"] for x in r if x["rport"]=="7800"][0])')"
check "json: one array of objects, numbers as numbers" "4 <class 'int'> 1000" \
	"$(fq --format json flows | python3 -c 'import json,sys; r=json.load(sys.stdin); o=[x for x in r if x["direction"]=="in" and x["lport"]==7800][0]; print(len(r), type(o["bytes_in"]), o["bytes_in"]-o["packets_in"]*52+12 if False else min(o["bytes_in"],1000))')"
check "jsonl: one object per line" "4" "$(fq --format jsonl flows | python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l)))')"
check "--utc: times as RFC 3339 in UTC" 1 \
	"$(fq --utc --format jsonl flows --port 7800 --proto tcp | head -1 | python3 -c 'import json,re,sys; o=json.loads(sys.stdin.read()); print(int(bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", o["start_ns"]))))')"
check "table: header and rows" "2" "$(fq --format table flows --port 7800 | tail -n +2 | wc -l)"

# --- filters --------------------------------------------------------------------------------
check "--pid" "in 7800" "$(fq --format jsonl flows --pid "$SRV" | python3 -c 'import json,sys; print(*[o["direction"]+" "+str(o["lport"]) for o in map(json.loads, sys.stdin)])')"
check "--port" 2 "$(fq --format jsonl flows --port 7801 | wc -l)"
check "--proto udp" 2 "$(fq --format jsonl flows --proto udp | wc -l)"
check "--comm" 1 "$(fq --format jsonl flows --comm cli-udp | wc -l)"
check "--netns" 4 "$(fq --format jsonl flows --netns "$NS" | wc -l)"
check "--netns of another namespace" 0 "$(fq --format jsonl flows --netns 1 | wc -l)"
check "--host (normalised: 127.000.0.1 is not an address, ::ffff:0 forms aside)" 4 "$(fq --format jsonl flows --host 127.0.0.1 | wc -l)"
check "--since 1h" 4 "$(fq --format jsonl flows --since 1h | wc -l)"
check "--since in the future" 0 "$(fq --format jsonl flows --since @4102444800 | wc -l)"
check "--until before the recording" 0 "$(fq --format jsonl flows --until '2001-01-01 00:00' | wc -l)"
check "status: the run, ended, no loss, hooks" "ended 0 1" \
	"$(fq --format json status | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["state"], r["lost_events"], int("cgroup_skb/ingress" in r["hooks"]))')"

# --- flowq never writes ---------------------------------------------------------------------
SUM=$(sha256sum "$DB" | cut -d' ' -f1)
for sql in "DELETE FROM flows" "UPDATE flows SET pid=1" "INSERT INTO runs(start_ns) VALUES (1)" \
	"PRAGMA user_version=5" "ATTACH '$T/other.db' AS o" "CREATE TABLE t(x)" "DROP TABLE flows" \
	"PRAGMA query_only=0; DELETE FROM flows" "VACUUM"; do
	fq sql "$sql" > /dev/null 2> "$T/err"
	rc=$?
	if [ $rc -ne 0 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q '^flowq: ' "$T/err"; then
		ok "refused with one line: $sql"
	else
		fail "not refused cleanly (rc $rc): $sql: $(cat "$T/err")"
	fi
done
check "database unchanged after the refusals" "$SUM" "$(sha256sum "$DB" | cut -d' ' -f1)"
check "no attached file was created" "" "$(ls "$T/other.db" 2>/dev/null)"
check "flows still all there" 4 "$(q "SELECT count(*) FROM flows")"

# --- flowq creates nothing ---------------------------------------------------------------
DDIR=$(dirname "$DB")
check "after a clean stop: no -wal, no -shm" "" "$(ls "$DB-wal" "$DB-shm" 2>/dev/null)"
fq flows > /dev/null; fq status > /dev/null
check "flowq flows and status create no -wal or -shm" "" "$(ls "$DB-wal" "$DB-shm" 2>/dev/null)"
check "flowq reads the data directory through a read-only mount" "4|" \
	"$(unshare -m sh -c 'mount --bind -o ro "$1" "$1" && "$2" --data "$1" --format csv sql "SELECT count(*) FROM flows" | tail -1 | tr -d "\r"; touch "$1/x" 2>/dev/null && echo writable' - "$DDIR" "$FLOWQ")|$(ls "$DB-wal" "$DB-shm" 2>/dev/null)"

check "table: an endless query prints as it runs (header and 1001 rows before head closes the pipe)" 1002 \
	"$(timeout 20 "$FLOWQ" --db "$DB" sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n" | head -1002 | wc -l)"

# --- flowq errors: one line, non-zero -----------------------------------------------------
expect_error 2 "invalid time 'yesterday'" fq flows --since yesterday
expect_error 2 "invalid time" fq flows --until 2026-13-01
expect_error 2 "port" fq flows --port abc
expect_error 2 "proto" fq flows --proto sctp
expect_error 2 "format" fq --format xml flows
expect_error 2 "host" fq flows --host not-an-address
expect_error 2 "" "$FLOWQ" --db "$DB" nosuchcommand
expect_error 1 "cannot open database" "$FLOWQ" --db "$T/missing.db" flows
head -c 4096 /dev/urandom > "$T/corrupt.db"
expect_error 1 "not a database" "$FLOWQ" --db "$T/corrupt.db" flows
cp "$DB" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version=99"
expect_error 1 "newer" "$FLOWQ" --db "$T/newer.db" flows
expect_error 1 "SQL error" fq sql "SELECT nosuchcolumn FROM flows"
mkfifo "$T/fifo.db"
expect_error 1 "fifo.db: not a regular file" timeout 5 "$FLOWQ" --db "$T/fifo.db" flows
expect_error 1 "is a directory (give the data directory with --data)" "$FLOWQ" --db "$DDIR" flows
cp "$DB" "$T/minus.db"
sqlite3 "$T/minus.db" "PRAGMA user_version=-1"
expect_error 1 "not a flowrec database (schema version -1)" "$FLOWQ" --db "$T/minus.db" flows
expect_error 1 "not authorized" fq sql "SELECT fts3_tokenizer('simple')"

# A version 1 database (never opened by a version 2 recorder) is read as it is: the later
# columns are empty, and the file is not changed.
sqlite3 "$T/v1.db" < "$ROOT/tests/unit/schema-v1.sql"
sqlite3 "$T/v1.db" "INSERT INTO runs(id, start_ns, end_ns, hostname, kernel, version, options,
	cgroup, hooks) VALUES (1, 1700000000000000000, 1700000001000000000, 'h', 'k', '0.1.0', '', '/', '');
	INSERT INTO flows(id, run_id, start_ns, last_ns, netns, proto, family, direction, laddr,
	lport, raddr, rport, socket_cookie) VALUES (7, 1, 1700000000000000000,
	1700000000500000000, 1, 'tcp', 4, 'out', '10.0.0.1', 1000, '10.0.0.2', 80, 99)"
SUM1=$(sha256sum "$T/v1.db" | cut -d' ' -f1)
check "flowq flows on a version 1 database: the row, parent_flow_id empty" "7,tcp,10.0.0.2,80," \
	"$("$FLOWQ" --db "$T/v1.db" --format csv flows | tail -1 | tr -d '\r' | awk -F, '{ print $1 "," $10 "," $15 "," $16 "," $23 }')"
check "flowq sql on a version 1 database sees the later columns" "|0" \
	"$("$FLOWQ" --db "$T/v1.db" --format csv sql "SELECT f.parent_flow_id, r.socket_events_lost FROM flows f, runs r" | tail -1 | tr -d '\r' | tr , '|')"
check "flowq status on a version 1 database: the run, ended" "1,ended" \
	"$("$FLOWQ" --db "$T/v1.db" --format csv status | sed -n 2p | cut -d, -f1,4)"
check "a version 1 database is not changed by flowq" "$SUM1|1" \
	"$(sha256sum "$T/v1.db" | cut -d' ' -f1)|$(sqlite3 "$T/v1.db" "PRAGMA user_version")"

# --- recorder refusals ------------------------------------------------------------------------
SUM=$(sha256sum "$T/newer.db" | cut -d' ' -f1)
mkdir -m 0700 "$T/newer"; cp "$T/newer.db" "$T/newer/flowrec.db"
expect_error 1 "newer" "$FLOWREC" --data "$T/newer" --cgroup "$CG" --duration 1
check "newer database left untouched by the recorder" "$SUM" "$(sha256sum "$T/newer/flowrec.db" | cut -d' ' -f1)"
expect_error 1 "not a cgroup v2 directory" "$FLOWREC" --data "$T/d2" --cgroup /tmp
expect_error 1 "cannot use cgroup" "$FLOWREC" --data "$T/d2" --cgroup "$CG/nonexistent"
expect_error 1 "cannot create data directory" "$FLOWREC" --data /proc/flowrec-cannot --cgroup "$CG"
mkdir -m 0777 "$T/open-dir"; chmod 0777 "$T/open-dir"
expect_error 1 "data directory $T/open-dir can be written by others (owner uid 0, mode 0777)" \
	"$FLOWREC" --data "$T/open-dir" --cgroup "$CG" --duration 1
check "a data directory others may write is left empty" "" "$(ls "$T/open-dir")"
mkdir -m 0755 "$T/readable-dir"
"$FLOWREC" --data "$T/readable-dir" --cgroup "$CG" --duration 0.5 2> "$T/readable.err"
check "a data directory others may read: recorded, with a warning" "0|1" \
	"$?|$(grep -c "data directory $T/readable-dir is readable by others (mode 0755)" "$T/readable.err")"
expect_error 2 "duration" "$FLOWREC" --duration -3
expect_error 2 "unrecognized option" "$FLOWREC" --no-such-option
# A symlink planted at the ready file's path is replaced, not followed.
echo precious > "$T/victim"
ln -s "$T/victim" "$T/ready-link"
"$FLOWREC" --data "$T/d4" --cgroup "$CG" --ready-file "$T/ready-link" --duration 3 2> "$T/d4.log" &
RL_PID=$!
wait_file_gone() { local i; for ((i = 0; i < 100; i++)); do [ -L "$1" ] || return 0; sleep 0.05; done; }
wait_file_gone "$T/ready-link"
check "--ready-file over a symlink: the symlink replaced by a file holding the pid, its target untouched" \
	"precious|$RL_PID" "$(cat "$T/victim")|$(cat "$T/ready-link" 2>/dev/null)"
wait "$RL_PID"
check "--ready-file: removed at exit" "0" "$(ls "$T/ready-link" 2>/dev/null | wc -l)"
cp "$FLOWREC" "$T/flowrec-copy"; chmod 755 "$T" "$T/flowrec-copy"
expect_error 1 "needs root" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$T/flowrec-copy" --data "$T/d3" --cgroup "$CG"

# --- kill -9: nothing stays attached, what was flushed stays readable ------------------------
start_recorder
bg_ns frC$$ python3 "$PEER" --ready "$T/k.ready" tcp-server 127.0.0.1 7802
wait_file "$T/k.ready"
in_ns frC$$ python3 "$PEER" --comm before-kill tcp-client 127.0.0.1 7802 100 > /dev/null
sleep 0.6
check "9 cgroup programs attached while recording" 9 "$(bpftool cgroup show "$CG" | grep -c ' fr_')"
check "status: the new run is live" "ended live" \
	"$(fq --format jsonl status | python3 -c 'import json,sys; print(*[json.loads(l)["state"] for l in sys.stdin])')"
expect_error 1 "already recording" "$FLOWREC" --data "$DATA" --cgroup "$CG" --duration 1
strace -f -y -e trace=fcntl,flock "$FLOWQ" --data "$DATA" status 2> "$T/strace" > /dev/null
check "flowq status tests the lock without taking it (a starting recorder cannot fail on it)" "2|0" \
	"$(grep -c 'flowrec.lock>, F_OFD_GETLK' "$T/strace")|$(grep 'flowrec.lock>' "$T/strace" | grep -vc 'F_OFD_GETLK')"
kill -9 "$REC_PID"; wait "$REC_PID" 2>/dev/null; REC_PID=
sleep 0.2
check "nothing attached after kill -9" 0 "$(bpftool cgroup show "$CG" | grep -c 'fr_')"
check "no tp_btf link left" 0 "$(bpftool link show | grep -c fr_sys_exit)"
check "database passes integrity_check" ok "$(q "PRAGMA integrity_check")"
check "flushed flow survives kill -9" 1 "$(q "SELECT count(*) FROM flows WHERE comm='before-kill'")"
check "status calls the killed run crashed" "ended crashed" \
	"$(fq --format jsonl status | python3 -c 'import json,sys; print(*[json.loads(l)["state"] for l in sys.stdin])')"
cp -a "$DATA" "$T/unreadable-lock"
rm -f "$T/unreadable-lock/flowrec.lock"
ln -s flowrec.lock "$T/unreadable-lock/flowrec.lock" # a loop: ELOOP
check "a lock file that cannot be read: the newest run's state is unknown, not crashed, and a warning says so" "ended unknown|1" \
	"$("$FLOWQ" --data "$T/unreadable-lock" --format jsonl status 2> "$T/ul.err" | python3 -c 'import json,sys; print(*[json.loads(l)["state"] for l in sys.stdin])')|$(grep -c "cannot read .*/flowrec.lock (Too many levels of symbolic links): the newest run's state is unknown" "$T/ul.err")"

# --- flows no one will end: a crashed run's at the next start, an open one's at a clean stop --
start_recorder
bg_ns frC$$ python3 "$PEER" --ready "$T/h.ready" tcp-server 127.0.0.1 7803
wait_file "$T/h.ready"
mkfifo "$T/hfifo" "$T/hfifo2"
bg_ns frC$$ python3 "$PEER" --comm held hold 127.0.0.1 7803 500 "$T/hfifo"
exec 8> "$T/hfifo"
echo go >&8
sleep 0.6
kill -9 "$REC_PID"; wait "$REC_PID" 2>/dev/null; REC_PID=
check "kill -9: the held connection's two flows are open" 2 \
	"$(q "SELECT count(*) FROM flows WHERE (comm = 'held' OR lport = 7803) AND end_ns IS NULL")"
start_recorder
check "next start: the crashed run's open flows end at their last packet, 'crash'" "crash|2|2" \
	"$(q "SELECT group_concat(DISTINCT end_reason), count(*), sum(end_ns = last_ns) FROM flows WHERE comm = 'held' OR lport = 7803")"
check "next start: the closed flow says 'closed'" "closed" "$(q "SELECT end_reason FROM flows WHERE comm = 'before-kill'")"
check "next start: said once" 1 "$(grep -c '2 flows left open by a crashed run ended at their last packet' "$T/recorder.log")"
bg_ns frC$$ python3 "$PEER" --comm held2 hold 127.0.0.1 7803 300 "$T/hfifo2"
exec 9> "$T/hfifo2"
echo go >&9
sleep 0.6
stop_recorder
check "clean stop: the connection still open ends 'recorder-stop' at its last packet" "recorder-stop|1" \
	"$(q "SELECT end_reason, end_ns = last_ns FROM flows WHERE comm = 'held2'")"
check "flowq flows shows end_reason" "recorder-stop" \
	"$(fq --format csv flows --comm held2 | python3 -c 'import csv,sys; print(list(csv.DictReader(sys.stdin))[0]["end_reason"])')"
exec 8>&- 9>&-

# --- a hostile comm: invalid UTF-8, ESC, a bidi override ---------------------------------------
start_recorder
in_ns frC$$ python3 -c '
import ctypes, socket
ctypes.CDLL(None).prctl(15, b"\xff\x1b[2J\xe2\x80\xae", 0, 0, 0)  # PR_SET_NAME
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 7804))'
sleep 0.3
stop_recorder
check "json: valid, the comm's invalid byte as U+FFFD, ESC and U+202E escaped" "['\\ufffd\\x1b[2J\\u202e'] 1" \
	"$(fq --format json flows --port 7804 | tee "$T/hostile.json" | python3 -c 'import json,sys; print(ascii([o["comm"] for o in json.load(sys.stdin)]))') $(grep -c '\\u001b\[2J\\u202e' "$T/hostile.json")"
check "table: no ESC, no raw bidi override; each shown as '?'" "0|1" \
	"$(fq flows --port 7804 | grep -c $'\x1b\|\xe2\x80\xae')|$(fq flows --port 7804 | grep -c ' ??\[2J? ')"
