# Shared set-up for the end-to-end tests: a test cgroup, test network namespaces, the real
# recorder attached to that cgroup, assertions, and a cleanup that runs even on failure.
#
# A test file sources this, calls e2e_begin NAME, runs traffic with in_ns, and checks the
# database with q (sqlite3) or flowq. Each check prints "ok - ..." or "FAIL - ..."; the
# runner counts those lines. Everything a test creates is registered here and removed by the
# EXIT trap: background processes by saved pid, namespaces, the cgroup, the temp dir.

set -u
BUILD=${FLOWREC_BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FLOWREC="$ROOT/$BUILD/flowrec"
FLOWQ="$ROOT/$BUILD/flowq"
PEER="$ROOT/tests/e2e/peer.py"
PASSED=0
FAILED=0
BG_PIDS=()
NETNS=()
MOUNTS=()
REC_PID=

CG2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)

e2e_cleanup() {
	local pid ns m
	for pid in "${BG_PIDS[@]}" $REC_PID; do
		kill -9 "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}" $REC_PID; do
		wait "$pid" 2>/dev/null
	done
	if [ -n "${CG:-}" ] && [ -d "$CG" ]; then
		# A cgroup can only go once empty: move stragglers (ours) to the root first, from
		# the test cgroup and any sub-cgroups a test made, which go deepest first.
		local procs
		while read -r procs; do
			while read -r pid; do echo "$pid" > "$CG2/cgroup.procs"; done < "$procs" 2>/dev/null
		done < <(find "$CG" -name cgroup.procs 2>/dev/null)
		find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
	for ns in "${NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	[ -n "${T:-}" ] && rm -rf "$T"
	echo "# $TEST_NAME: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

e2e_begin() {
	TEST_NAME=$1
	T=$(mktemp -d "/tmp/flowrec-e2e.XXXXXX")
	CG="$CG2/flowrec-e2e-$$"
	mkdir "$CG"
	trap 'e2e_cleanup; exit $?' EXIT
	trap 'exit 130' INT TERM
	DATA="$T/data"
	DB="$DATA/flowrec.db"
}

ok() { echo "ok - $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL - $*"; FAILED=$((FAILED + 1)); }

# check DESCRIPTION EXPECTED ACTUAL
check() {
	if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# expect_error RC PATTERN CMD...: CMD exits RC with one line on stderr, matching PATTERN
expect_error() {
	local rc=$1 pat=$2; shift 2
	"$@" > /dev/null 2> "$T/err"
	local got=$?
	if [ $got -eq "$rc" ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
		ok "error ($rc, '$pat'): ${*: -3}"
	else
		fail "expected exit $rc and one line matching '$pat' from ${*: -3}; got $got: $(cat "$T/err")"
	fi
}

# check_range DESCRIPTION LOW HIGH ACTUAL (integers, inclusive)
check_range() {
	if [[ "$4" =~ ^[0-9]+$ ]] && [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		ok "$1 ($4)"
	else
		fail "$1: expected $2..$3, got '$4'"
	fi
}

# A network namespace of this test, with loopback up. Prints nothing; name in $1.
new_ns() {
	ip netns add "$1" || { fail "cannot create namespace $1"; exit 1; }
	NETNS+=("$1")
	ip -n "$1" link set lo up
}

netns_inode() { ip netns exec "$1" stat -L -c %i /proc/self/ns/net; }

# in_ns NS CMD...: run CMD in namespace NS (or "-" for this one) inside the test cgroup.
# The cgroup is joined first: `ip netns exec` remounts /sys, hiding the cgroup file system.
in_ns() {
	local ns=$1; shift
	if [ "$ns" = - ]; then
		bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"
	else
		bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" ip netns exec "$ns" "$@"
	fi
}

# bg_ns NS CMD...: as in_ns, in the background. The job is the command itself (bash execs
# into it), so the pid registered for cleanup is the command's own.
bg_ns() {
	local ns=$1; shift
	if [ "$ns" = - ]; then
		bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@" &
	else
		bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" ip netns exec "$ns" "$@" &
	fi
	BG_PIDS+=($!)
	LAST_BG=$!
}

wait_file() { # wait_file PATH [SECONDS]
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	fail "timed out waiting for $1"
	return 1
}

# FLOWREC_TEST_OPTS: options every recorder of the suite gets (tests/run-all runs a subset
# with --kernel-compat, to exercise the fallbacks of older kernels on this one).
start_recorder() { # extra flowrec options
	rm -f "$T/ready"
	# shellcheck disable=SC2086 # word splitting wanted
	"$FLOWREC" --data "$DATA" --cgroup "$CG" --ready-file "$T/ready" --flush-interval 0.2 \
		${FLOWREC_TEST_OPTS:-} "$@" \
		2> "$T/recorder.log" 7>&- &  # 7: a test's fifo, which must see EOF
	REC_PID=$!
	if ! wait_file "$T/ready" 15; then
		cat "$T/recorder.log"
		exit 1
	fi
}

stop_recorder() {
	kill -INT "$REC_PID" || cat "$T/recorder.log"
	wait "$REC_PID"
	check "recorder exits 0 on SIGINT" 0 $?
	REC_PID=
}

# q SQL: one value (or rows, '|'-separated) from the recorded database.
q() { sqlite3 -batch "$DB" "$1"; }
