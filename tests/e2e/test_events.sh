#!/usr/bin/env bash
# Socket events: one process makes every recorded call, with its arguments, in a known order
# (a listener with SO_REUSEADDR and backlog 7, a client connecting to it, the accept, a
# refused connect, a bind to an address in use, an IPv6 UDP socket, a close of each), and
# every socket_events row is checked exactly (--socket-events); then flowq events, and the
# default, no socket events and no syscall hook.
. "$(dirname "$0")/lib.sh"
e2e_begin events

new_ns frE$$
NSE=$(netns_inode frE$$)
P=7301 CLOSED=7309

# Prints: pid, then the descriptors it got (listener, client, accepted, refused, in-use bind,
# udp) and the client's local port.
cat > "$T/calls.py" <<'PY'
import ctypes, errno, os, socket, sys
ctypes.CDLL(None).prctl(15, b"ev-calls", 0, 0, 0)  # PR_SET_NAME, before any socket
P, CLOSED = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", P))
srv.listen(7)
cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
cli.connect(("127.0.0.1", P))
conn, _ = srv.accept()
ref = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    ref.connect(("127.0.0.1", CLOSED))
    sys.exit("connect to a closed port succeeded")
except ConnectionRefusedError:
    pass
dup = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    dup.bind(("127.0.0.1", P))
    sys.exit("bind to an address in use succeeded")
except OSError as e:
    if e.errno != errno.EADDRINUSE:
        raise
udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
print(os.getpid(), srv.fileno(), cli.fileno(), conn.fileno(), ref.fileno(), dup.fileno(),
      udp.fileno(), cli.getsockname()[1])
for s in (conn, cli, srv, ref, dup, udp):
    s.close()
PY

start_recorder --socket-events
in_ns frE$$ python3 "$T/calls.py" $P $CLOSED > "$T/calls.out"
check "the script ran" 0 $?
read -r PID SRV CLI CONN REF DUP UDP CPORT < "$T/calls.out"
sleep 0.5
stop_recorder

# --- every row, exactly, in order ---------------------------------------------------------
cols="event, fd, family, type, protocol, laddr, lport, raddr, rport, backlog, level, optname, ret"
expected="create||4|stream|tcp||||||||$SRV
setsockopt|$SRV|4|stream|tcp||||||1|2|0
bind|$SRV|4|stream|tcp|127.0.0.1|$P||||||0
listen|$SRV|4|stream|tcp|127.0.0.1|$P|||7|||0
create||4|stream|tcp||||||||$CLI
connect|$CLI|4|stream|tcp|127.0.0.1|$CPORT|127.0.0.1|$P||||0
accept|$SRV|4|stream|tcp|127.0.0.1|$P|127.0.0.1|$CPORT||||$CONN
create||4|stream|tcp||||||||$REF
connect|$REF|4|stream|tcp|||127.0.0.1|$CLOSED||||-111
create||4|stream|tcp||||||||$DUP
bind|$DUP|4|stream|tcp|127.0.0.1|$P||||||-98
create||6|dgram|udp||||||||$UDP
close|$CONN|4|stream|tcp|127.0.0.1|$P||||||0
close|$CLI|4|stream|tcp|127.0.0.1|$CPORT||||||0
close|$SRV|4|stream|tcp|127.0.0.1|$P||||||0
close|$REF|4|stream|tcp||||||||0
close|$DUP|4|stream|tcp||||||||0
close|$UDP|6|dgram|udp||||||||0"
check "every call, its arguments and result, in order" "$expected" \
	"$(q "SELECT $cols FROM socket_events ORDER BY ts_ns, id")"
check "all made by the script's one thread, named, in its netns" "$PID|$PID|ev-calls|$NSE|18" \
	"$(q "SELECT pid, tid, comm, netns, count(*) FROM socket_events GROUP BY 1, 2, 3, 4")"
check "times within the run, in id order" 18 \
	"$(q "SELECT count(*) FROM socket_events e, runs r WHERE e.ts_ns BETWEEN r.start_ns AND r.end_ns
	      AND NOT EXISTS (SELECT 1 FROM socket_events o WHERE o.id < e.id AND o.ts_ns > e.ts_ns)")"
check "the caller's process row exists and joins" "18|ev-calls" \
	"$(q "SELECT count(*), p.comm FROM socket_events e JOIN processes p ON p.pid = e.pid AND p.start_ns = e.proc_start_ns")"
check "uid and cgroup of the caller" "0|1" \
	"$(q "SELECT DISTINCT e.uid, e.cgroup_id = p.cgroup_id FROM socket_events e JOIN processes p ON p.pid = e.pid AND p.start_ns = e.proc_start_ns")"
check "kern is 0 (every socket came from socket())" 0 "$(q "SELECT sum(kern) FROM socket_events")"

# --- sockets: one cookie each, the accepted one its own --------------------------------------
check "calls per socket cookie, in order" "create setsockopt bind listen close
create connect close
accept close
create connect close
create bind close
create close" \
	"$(q "SELECT group_concat(event, ' ') FROM (SELECT socket_cookie, event, id FROM socket_events ORDER BY id)
	      GROUP BY socket_cookie ORDER BY min(id)")"
check "every row has a socket cookie; six sockets" "0|6" \
	"$(q "SELECT sum(socket_cookie IS NULL), count(DISTINCT socket_cookie) FROM socket_events")"
LISTENER=$(q "SELECT socket_cookie FROM socket_events WHERE event='listen'")
ACCEPTED=$(q "SELECT socket_cookie FROM socket_events WHERE event='accept'")
if [ -n "$ACCEPTED" ] && [ "$ACCEPTED" != "$LISTENER" ]; then
	ok "accept's cookie ($ACCEPTED) is the new socket's, not the listener's ($LISTENER)"
else
	fail "accept's cookie '$ACCEPTED' vs listener's '$LISTENER'"
fi
IN_FLOW=$(q "SELECT id || '|' || socket_cookie FROM flows WHERE direction='in' AND lport=$P")
check "accept row: the accepted flow's cookie and id" "$IN_FLOW" \
	"$(q "SELECT flow_id || '|' || socket_cookie FROM socket_events WHERE event='accept'")"
check "close of the accepted socket: the same flow" "$IN_FLOW" \
	"$(q "SELECT flow_id || '|' || socket_cookie FROM socket_events WHERE event='close' AND fd=$CONN")"
OUT_FLOW=$(q "SELECT id || '|' || socket_cookie FROM flows WHERE direction='out' AND rport=$P")
check "connect row: the client's flow id and cookie" "$OUT_FLOW" \
	"$(q "SELECT flow_id || '|' || socket_cookie FROM socket_events WHERE event='connect' AND ret=0")"
REF_FLOW=$(q "SELECT id || '|' || socket_cookie FROM flows WHERE rport=$CLOSED")
check "refused connect and its close: the refused flow" "$REF_FLOW
$REF_FLOW" \
	"$(q "SELECT flow_id || '|' || socket_cookie FROM socket_events WHERE fd=$REF AND event IN ('connect', 'close') ORDER BY id")"
check "no flow_id where the socket has no flow (listener, in-use bind, udp) nor yet one (creates)" "0|12" \
	"$(q "SELECT count(flow_id), count(*) FROM socket_events WHERE socket_cookie NOT IN
	      (SELECT socket_cookie FROM flows) OR event = 'create'")"
check "runs.hooks names the connect tracepoints" 1 "$(q "SELECT hooks LIKE '%tracepoint/syscalls/sys_exit_connect%tracepoint/syscalls/sys_enter_connect%' FROM runs")"
check "no losses" "0|0|0" "$(q "SELECT lost_events, ringbuf_full, socket_events_lost FROM runs")"

# --- flowq events --------------------------------------------------------------------------
FQ() { "$FLOWQ" --data "$DATA" "$@"; }
RC=$(q "SELECT socket_cookie FROM socket_events WHERE fd=$REF AND event='connect'")
CC=${OUT_FLOW#*|} RF=${REF_FLOW%|*} OF=${OUT_FLOW%|*}
check "flowq events --event connect --pid N: exactly the two connects" \
"pid,tid,comm,netns,event,kern,fd,family,type,protocol,laddr,lport,raddr,rport,backlog,level,optname,ret,error,socket_cookie,flow_id
$PID,$PID,ev-calls,$NSE,connect,0,$CLI,4,stream,tcp,127.0.0.1,$CPORT,127.0.0.1,$P,,,,0,,$CC,$OF
$PID,$PID,ev-calls,$NSE,connect,0,$REF,4,stream,tcp,,,127.0.0.1,$CLOSED,,,,-111,ECONNREFUSED,$RC,$RF" \
	"$(FQ --format csv events --event connect --pid "$PID" | cut -d, -f3- | tr -d '\r')"
check "flowq events --event connect: ts_ns as RFC 3339 text" 2 \
	"$(FQ --format csv --utc events --event connect | cut -d, -f2 | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$')"
check "flowq events --format json: 18 rows, EADDRINUSE named" "18|bind|-98|EADDRINUSE" \
	"$(FQ --format json events | jq -r '"\(length)|\(.[10].event)|\(.[10].ret)|\(.[10].error)"')"
check "flowq events --comm and --event setsockopt" "1|2" \
	"$(FQ --format json events --comm ev-calls --event setsockopt | jq -r '.[] | "\(.level)|\(.optname)"')"
check "flowq events --pid of another process: nothing" 0 \
	"$(FQ --format json events --pid $((PID + 1)) | jq length)"
check "flowq events --until before the run: nothing" 0 "$(FQ --format json events --until @1 | jq length)"
check "flowq events --since @1 (all)" 18 "$(FQ --format json events --since @1 | jq length)"
FQ events --event bogus > "$T/bogus.out" 2> "$T/bogus.err"
check "flowq events --event bogus: exit 2, one line" "2|1|" "$?|$(wc -l < "$T/bogus.err")|$(cat "$T/bogus.out")"
check "flowq events --event bogus: the message names the choices" \
	"flowq: invalid --event 'bogus': expected one of create, bind, listen, connect, accept, setsockopt, close" \
	"$(cat "$T/bogus.err")"
sqlite3 "$T/v1.db" < "$ROOT/tests/unit/schema-v1.sql"
"$FLOWQ" --db "$T/v1.db" events > "$T/v1.out" 2> "$T/v1.err"
check "flowq events on a version 1 database: exit 1, one line, no output" "1|1|" \
	"$?|$(wc -l < "$T/v1.err")|$(cat "$T/v1.out")"
check "flowq events on a version 1 database: says why" \
	"flowq: this database has schema version 1, which has no socket events (recorded from version 2 on)" \
	"$(cat "$T/v1.err")"

# --- the default, no socket events: flows all the same, no syscall hook -------------------------
DATA="$T/data-off" DB="$T/data-off/flowrec.db"
start_recorder
in_ns frE$$ python3 "$T/calls.py" 7311 7319 > "$T/calls-off.out"
check "the script ran again" 0 $?
sleep 0.5
stop_recorder
check "no socket events: no socket_events rows" 0 "$(q "SELECT count(*) FROM socket_events")"
check "no socket events: the three flows are recorded" "in|7311|out|7319|out|7311" \
	"$(q "SELECT direction, CASE direction WHEN 'in' THEN lport ELSE rport END FROM flows ORDER BY direction, rport DESC" | tr '\n' '|' | sed 's/|$//')"
check "no socket events: accepted flow owned by the accepting process" "$(cut -d' ' -f1 "$T/calls-off.out")" \
	"$(q "SELECT pid FROM flows WHERE direction='in'")"
check "no socket events: no syscall hook attached" 0 "$(q "SELECT hooks LIKE '%sys_e%' FROM runs")"
check "no socket events: features say off" 1 "$(q "SELECT features LIKE '%socket-calls=off%' FROM runs")"
