#!/usr/bin/env bash
# Kernel capabilities: by default no syscall hook at all (an accepted flow goes to the task
# that releases it); runs.features names what this kernel let each capability use, and
# every fallback of an older kernel works when --kernel-compat forces it on this one: the raw
# syscall hooks, probe-read identities, MPTCP as plain TCP, and the start-up iterator's cookie fallback (that one is
# also run by the suite's --kernel-compat 5.10 pass, test_lifetime). Then what kill -9 leaves
# (nothing) and the one-line errors of a bad --kernel-compat.
. "$(dirname "$0")/lib.sh"
e2e_begin kernels

new_ns frK$$
P=7401

# A listener, a client that connects to it, the accept in a forked child, three closes.
# Prints: pid, child pid, client port, descriptors (listener, client, accepted).
cat > "$T/calls.py" <<'PY'
import ctypes, os, socket, sys
ctypes.CDLL(None).prctl(15, b"k-calls", 0, 0, 0)
P = int(sys.argv[1])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", P))
srv.listen(3)
cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
cli.connect(("127.0.0.1", P))
r, w = os.pipe()
child = os.fork()
if child == 0:
    ctypes.CDLL(None).prctl(15, b"k-acceptor", 0, 0, 0)
    conn, _ = srv.accept()
    conn.sendall(b"x" * 1000)
    os.write(w, str(conn.fileno()).encode())
    conn.close()
    os._exit(0)
os.waitpid(child, 0)
acc = os.read(r, 16).decode()
assert len(cli.recv(1000, socket.MSG_WAITALL)) == 1000
print(os.getpid(), child, cli.getsockname()[1], srv.fileno(), cli.fileno(), acc)
cli.close()
srv.close()
PY

# run_calls OPTIONS...: record the script once, on a new port P (the last one is in
# TIME_WAIT); sets PID CHILD CPORT SRV CLI ACC.
run_calls() {
	rm -rf "$DATA"
	P=$((P + 1))
	start_recorder "$@"
	in_ns frK$$ python3 "$T/calls.py" $P > "$T/calls.out"
	check "the script ran ($*)" 0 $?
	read -r PID CHILD CPORT SRV CLI ACC < "$T/calls.out"
	sleep 0.5
	stop_recorder
}

# --- this kernel, as it is -------------------------------------------------------------------
run_calls
# The iterator's best variant (bpf_get_socket_cookie on the socket bpf_sock_from_file gives)
# loads on Debian's 6.1; a later verifier may call that socket untrusted (this host's 6.18
# does), and the iterator then reads the cookie field instead: the next variant, as complete.
PRE=$(q "SELECT features FROM runs" | grep -o 'preexisting=[a-z+-]*')
PRE=${PRE#preexisting=}
case "$(uname -r):$PRE" in
6.1.*:full | 6.[2-9]*:full | 6.[2-9]*:so-cookie | 6.[1-9][0-9]*:full | 6.[1-9][0-9]*:so-cookie)
	ok "pre-existing sockets: the iterator's variant on $(uname -r): $PRE" ;;
*)	fail "pre-existing sockets: the iterator's variant on $(uname -r): '$PRE'"
	PRE=full ;;
esac
FULL="identity-sock=btf identity-connect=btf identity-syscalls=btf socket-calls=syscall-tracepoints mptcp=connections preexisting=$PRE"
check "default options: no syscall hook at all, features say so" "0|${FULL/syscall-tracepoints/off}" \
	"$(q "SELECT hooks LIKE '%sys_e%', features FROM runs")"
check "default options: the accepted flow goes to the acceptor at its release" "$CHILD|k-acceptor" \
	"$(q "SELECT pid, comm FROM flows WHERE direction = 'in' AND lport = $P")"
check "default options: the client's flow stays the parent's" "$PID|k-calls" \
	"$(q "SELECT pid, comm FROM flows WHERE direction = 'out' AND rport = $P")"

run_calls --socket-events
check "runs.features: everything this kernel offers (6.1 and 6.18 alike)" "$FULL" \
	"$(q "SELECT features FROM runs")"
check "flowq status shows runs.features" "$FULL" \
	"$("$FLOWQ" --data "$DATA" --format json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["features"])')"
check "no raw syscall hook when the per-call tracepoints exist" 0 "$(q "SELECT hooks LIKE '%raw_tp%' FROM runs")"

# --- raw syscall hooks, as on a kernel without CONFIG_FTRACE_SYSCALLS --------------------------
run_calls --socket-events --kernel-compat syscall-tracepoints
expected="create||stream|||||$SRV
bind|$SRV|stream|127.0.0.1|$P|||0
listen|$SRV|stream|127.0.0.1|$P|||0
create||stream|||||$CLI
connect|$CLI|stream|127.0.0.1|$CPORT|127.0.0.1|$P|0
close|$CLI|stream|127.0.0.1|$CPORT|||0
close|$SRV|stream|127.0.0.1|$P|||0"
cols="event, fd, type, laddr, lport, raddr, rport, ret"
check "raw hooks: features say so" "identity-sock=btf identity-connect=btf identity-syscalls=btf socket-calls=raw-syscalls! mptcp=connections preexisting=$PRE kernel-compat" \
	"$(q "SELECT features FROM runs")"
check "raw hooks: runs.hooks has raw_tp/sys_enter and sys_exit, no syscalls tracepoint" "1|1|0" \
	"$(q "SELECT hooks LIKE '%raw_tp/sys_exit%', hooks LIKE '%raw_tp/sys_enter%', hooks LIKE '%tracepoint/syscalls%' FROM runs")"
check "raw hooks: the parent's calls, exactly" "$expected" \
	"$(q "SELECT $cols FROM socket_events WHERE pid = $PID ORDER BY ts_ns, id")"
check "raw hooks: the child's accept and close" "accept|$SRV|127.0.0.1|$P|127.0.0.1|$CPORT|$ACC
close|$ACC|127.0.0.1|$P|||0" \
	"$(q "SELECT event, fd, laddr, lport, raddr, rport, ret FROM socket_events WHERE pid = $CHILD ORDER BY ts_ns, id")"
check "raw hooks: the accepted flow is the acceptor's" "$CHILD|k-acceptor" \
	"$(q "SELECT pid, comm FROM flows WHERE direction = 'in' AND lport = $P")"

# --- Linux 5.10: probe-read identities, no MPTCP, the iterator's cookie fallback ---------------
run_calls --socket-events --kernel-compat 5.10
check "5.10: features" "identity-sock=probe-read identity-connect=probe-read identity-syscalls=probe-read socket-calls=syscall-tracepoints mptcp=tcp-only! preexisting=inode+so-cookie kernel-compat" \
	"$(q "SELECT features FROM runs")"
check "5.10: the start names what is lost" 1 "$(grep -c 'lacks bpf_skc_to_mptcp_sock (Linux 5.19)' "$T/recorder.log")"
check "5.10: flows carry the full identity (pid, comm, ppid, netns) read by probe reads" \
	"$PID|k-calls|$(netns_inode frK$$)|1
$CHILD|k-acceptor|$(netns_inode frK$$)|1" \
	"$(q "SELECT f.pid, f.comm, f.netns, p.ppid > 1 FROM flows f JOIN processes p ON p.pid = f.pid AND p.start_ns = f.proc_start_ns
	      WHERE f.lport = $P OR f.rport = $P ORDER BY f.direction DESC")"
check "5.10: the same socket calls, one thread each" "$PID|7
$CHILD|2" "$(q "SELECT pid, count(*) FROM socket_events GROUP BY pid ORDER BY count(*) DESC")"

# --- MPTCP without bpf_skc_to_mptcp_sock: the first subflow is a plain TCP flow -------------
S=frKs$$
new_ns $S
ip link add frKc$$ netns frK$$ type veth peer name frKs$$ netns $S
ip -n frK$$ addr add 10.98.1.1/24 dev frKc$$
ip -n $S addr add 10.98.1.2/24 dev frKs$$
ip -n frK$$ link set frKc$$ up
ip -n $S link set frKs$$ up
for ns in frK$$ $S; do ip netns exec $ns sysctl -qw net.mptcp.enabled=1; done
rm -rf "$DATA"
start_recorder --kernel-compat mptcp
bg_ns $S python3 "$PEER" --comm kmpsrv --ready "$T/srv.ready" tcp-server 0.0.0.0 5001 --reply 2000 --mptcp > /dev/null
wait_file "$T/srv.ready"
in_ns frK$$ python3 "$PEER" --comm kmpcli --pidfile "$T/cli.pid" tcp-client 10.98.1.2 5001 50000 --mptcp > "$T/cli.out"
wait "$LAST_BG"
sleep 0.5
stop_recorder
check "mptcp off: the client got its reply" 2000 "$(cat "$T/cli.out")"
check "mptcp off: no 'mptcp' flow, the client's subflow a tcp flow of its own" "0|tcp|$(cat "$T/cli.pid")|kmpcli|out" \
	"$(q "SELECT (SELECT count(*) FROM flows WHERE proto = 'mptcp'), proto, pid, comm, direction FROM flows WHERE rport = 5001")"
check "mptcp off: features say tcp-only" 1 "$(q "SELECT features LIKE '%mptcp=tcp-only!%' FROM runs")"

# --- kill -9 leaves nothing attached, tracepoint links included --------------------------------
rm -rf "$DATA"
start_recorder --socket-events
TP_PROGS=$(bpftool perf show | awk -v p="$REC_PID" '$2 == p && $7 == "tracepoint" { print $6 }' | sort -u)
check "while recording: 14 syscalls tracepoints, on three programs" "14|3" \
	"$(bpftool perf show | awk -v p="$REC_PID" '$2 == p && $7 == "tracepoint"' | wc -l)|$(wc -w <<< "$TP_PROGS")"
kill -9 "$REC_PID"
wait "$REC_PID" 2>/dev/null
REC_PID=
check "after kill -9: nothing attached to the cgroup" 0 "$(bpftool cgroup show "$CG" | grep -c 'fr_')"
left=0
for id in $TP_PROGS; do bpftool prog show id "$id" > /dev/null 2>&1 && left=$((left + 1)); done
check "after kill -9: the tracepoint programs are gone" "3|0" "$(wc -w <<< "$TP_PROGS")|$left"

# --- bad values ---------------------------------------------------------------------------------
"$FLOWREC" --data "$T/x" --kernel-compat 4.19 > "$T/out" 2> "$T/err"
check "--kernel-compat 4.19: exit 2, one line" "2|1" "$?|$(wc -l < "$T/err")"
check "--kernel-compat 4.19: says the floor" 1 "$(grep -c 'flowrec needs Linux 5.10 or later' "$T/err")"
"$FLOWREC" --data "$T/x" --kernel-compat mptcp,bogus > "$T/out" 2> "$T/err"
check "--kernel-compat bogus name: exit 2, names the choices" "2|1" "$?|$(grep -c "invalid --kernel-compat 'bogus'.*task-btf, task-btf-cgroup, mptcp" "$T/err")"
