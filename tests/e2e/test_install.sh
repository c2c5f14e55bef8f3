#!/usr/bin/env bash
# `make install`: what it lays out (files, modes, the unit's ExecStart=), that both man pages
# render without warnings and cover every option of the --help texts, that the bash
# completion works, and that a recorder running as the unit runs it (not root, only the
# unit's ambient capabilities) records flows, sockets open before it, and executables.
. "$(dirname "$0")/lib.sh"
e2e_begin install

DEST=$T/root
SAN=
grep -aq __asan_init "$FLOWREC" && SAN=1 # the tree under test was built with SANITIZE=1

# --- the layout -----------------------------------------------------------------------------
if make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr BUILD="$BUILD" SANITIZE="$SAN" > "$T/make.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	fail "make install failed: $(tail -5 "$T/make.log")"
	exit 1
fi

expected=( # path mode
	"usr/sbin/flowrec 755"
	"usr/bin/flowq 755"
	"usr/share/man/man8/flowrec.8 644"
	"usr/share/man/man1/flowq.1 644"
	"usr/share/bash-completion/completions/flowrec 644"
	"usr/share/bash-completion/completions/flowq link"
	"usr/lib/systemd/system/flowrec.service 644"
)
for f in "$ROOT"/schema/reports/*.sql; do
	[ -e "$f" ] && expected+=("usr/share/flowrec/reports/${f##*/} 644")
done
want=$(for e in "${expected[@]}"; do echo "${e% *}"; done | sort)
got=$(cd "$DEST" && find . -mindepth 1 ! -type d | sed 's|^\./||' | sort)
check "exactly the expected files" "$want" "$got"
# directories: the parents of those files, and the reports directory even when empty
want=$({ for e in "${expected[@]}"; do d=${e% *}; while d=$(dirname "$d") && [ "$d" != . ]; do echo "$d"; done; done
	echo usr/share/flowrec/reports; } | sort -u)
got=$(cd "$DEST" && find . -mindepth 1 -type d | sed 's|^\./||' | sort)
check "exactly the expected directories" "$want" "$got"
for e in "${expected[@]}"; do
	f=${e% *} mode=${e##* }
	if [ "$mode" = link ]; then
		check "$f is a symlink to flowrec" flowrec "$(readlink "$DEST/$f")"
	else
		check "$f mode" "$mode" "$(stat -c %a "$DEST/$f")"
	fi
done
for b in "$FLOWREC:usr/sbin/flowrec" "$FLOWQ:usr/bin/flowq"; do
	if cmp -s "${b%%:*}" "$DEST/${b#*:}"; then ok "${b#*:} is the one built"; else fail "${b#*:} differs from ${b%%:*}"; fi
done

# --- the unit -------------------------------------------------------------------------------
UNIT=$DEST/usr/lib/systemd/system/flowrec.service
check "ExecStart= runs /usr/sbin/flowrec" "/usr/sbin/flowrec --data /var/lib/flowrec" \
	"$(sed -n 's/^ExecStart=//p' "$UNIT")"
check "no @VARIABLE@ left in the unit" "" "$(grep -n '@[A-Z]*@' "$UNIT")"
if command -v systemd-analyze > /dev/null; then
	# The installed unit, its ExecStart= pointed into $DEST (not installed on this host);
	# --man=no: the pages of Documentation= are not in MANPATH.
	sed "s|^ExecStart=/usr/sbin/|ExecStart=$DEST/usr/sbin/|" "$UNIT" > "$T/flowrec.service"
	if systemd-analyze verify --man=no "$T/flowrec.service" > "$T/verify" 2>&1; then
		ok "systemd-analyze verify"
	else
		fail "systemd-analyze verify: $(cat "$T/verify")"
	fi
else
	echo "# systemd-analyze not installed: unit not verified"
fi
make -s -C "$ROOT" install DESTDIR="$T/root2" BUILD="$BUILD" SANITIZE="$SAN" > "$T/make2.log" 2>&1
check "default PREFIX: ExecStart= runs /usr/local/sbin/flowrec" "/usr/local/sbin/flowrec --data /var/lib/flowrec" \
	"$(sed -n 's/^ExecStart=//p' "$T/root2/usr/local/lib/systemd/system/flowrec.service" 2>/dev/null)"
check "default PREFIX: flowq in /usr/local/bin" 755 "$(stat -c %a "$T/root2/usr/local/bin/flowq" 2>/dev/null)"

# --- the man pages --------------------------------------------------------------------------
export MANWIDTH=80
for page in man8/flowrec.8:"flowrec - record which process on this host talked to whom" \
	man1/flowq.1:"flowq - query the network flows flowrec recorded"; do
	file=$DEST/usr/share/man/${page%%:*} name=${page#*:}
	check "man -l ${file##*/}: NAME" "$name" \
		"$(man -l "$file" 2>/dev/null | col -b | sed -n '/^NAME$/{n;s/^ *//;p;q}')"
	check "man --warnings ${file##*/}: no warnings" "" "$(man --warnings -l "$file" 2>&1 > /dev/null)"
	check "groff -man -ww ${file##*/}: no warnings" "" "$(groff -man -ww -z "$file" 2>&1)"
done
# every long option of the --help texts is in the page, and every flowq command has its section
long_opts() { grep -oE '^ {2,6}(-[[:alnum:]?], )?--[[:alnum:]][[:alnum:]-]*' | grep -oE -- '--[[:alnum:]-]+$'; }
in_page() { grep -qF -- "$(printf '%s' "$2" | sed 's/-/\\-/g')" "$1"; }
missing=
for o in $("$FLOWREC" --help | long_opts); do
	in_page "$ROOT/man/flowrec.8" "$o" || missing+=" $o"
done
check "flowrec.8 documents every option of flowrec --help" "" "$missing"
cmds=$("$FLOWQ" --help | sed -n '/^ Commands:/,/^ [A-Z]/p' | grep -oE '^  [a-z][a-z0-9-]*' | tr -d ' ')
check_range "flowq --help lists commands" 5 100 "$(echo "$cmds" | wc -l)"
for c in $cmds; do
	missing=
	grep -qE "^\.SS \"flowq $c( |\")" "$ROOT/man/flowq.1" || missing+=" (no .SS section)"
	for o in $("$FLOWQ" "$c" --help | long_opts); do
		in_page "$ROOT/man/flowq.1" "$o" || missing+=" $o"
	done
	check "flowq.1 documents flowq $c and its options" "" "$missing"
done

# --- bash completion ------------------------------------------------------------------------
COMP=$DEST/usr/share/bash-completion/completions
# complete FILE PATH WORD...: COMPREPLY for the last WORD (function named after WORD 1)
complete_words() {
	local file=$1 path=$2; shift 2
	PATH=$path bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _$1; echo "${COMPREPLY[*]}"' \
		_ "$file" "$@" 2>&1
}
check "flowq --format <TAB> (flowq not in PATH)" "table csv json jsonl" \
	"$(complete_words "$COMP/flowrec" /usr/bin:/bin flowq --format "")"
check "flowq --format <TAB> (through the flowq symlink, installed flowq in PATH)" "table csv json jsonl" \
	"$(complete_words "$COMP/flowq" "$DEST/usr/bin:/usr/bin:/bin" flowq --format "")"
check "flowq pcap --format <TAB>" "pcap pcapng" \
	"$(complete_words "$COMP/flowq" "$DEST/usr/bin:/usr/bin:/bin" flowq pcap --format "")"
check "flowq --format=j<TAB> ('=' not a word break)" "--format=json --format=jsonl" \
	"$(complete_words "$COMP/flowq" "$DEST/usr/bin:/usr/bin:/bin" flowq --format=j)"
check "flowq <TAB>: the commands of flowq --help" "$(xargs <<<"$cmds")" \
	"$(complete_words "$COMP/flowq" "$DEST/usr/bin:/usr/bin:/bin" flowq --utc "")"
check "flowq flows --pro<TAB>" "--proto=" \
	"$(complete_words "$COMP/flowq" "$DEST/usr/bin:/usr/bin:/bin" flowq flows --pro)"
check "flowq flows --proto <TAB>" "tcp udp icmp icmp6 mptcp" \
	"$(complete_words "$COMP/flowq" "$DEST/usr/bin:/usr/bin:/bin" flowq flows --proto "")"
check "flowrec --snap<TAB>" "--snaplen=" \
	"$(complete_words "$COMP/flowrec" "$DEST/usr/sbin:/usr/bin:/bin" flowrec --snap)"
if echo "$cmds" | grep -qx report; then
	want=$(for f in "$DEST"/usr/share/flowrec/reports/*.sql; do [ -e "$f" ] && basename "$f" .sql; done | sort | xargs)
	check "flowq report <TAB>: the installed reports" "$want" \
		"$(complete_words "$COMP/flowq" "$DEST/usr/bin:/usr/bin:/bin" flowq report --reports-dir "$DEST/usr/share/flowrec/reports" "" | tr ' ' '\n' | sort | xargs)"
fi
if echo "$cmds" | grep -qx plot; then
	check "flowq plot --by <TAB>" "process container destination" \
		"$(complete_words "$COMP/flowq" "$DEST/usr/bin:/usr/bin:/bin" flowq plot --by "")"
fi

# --- the recorder as the unit runs it: not root, the unit's capabilities only ---------------
# systemd may not be running here, so setpriv stands in for DynamicUser=, AmbientCapabilities=,
# CapabilityBoundingSet= and NoNewPrivileges=, with the installed binaries.
caps=$(sed -n 's/^AmbientCapabilities=//p' "$UNIT" | tr 'A-Z ' 'a-z,' | sed 's/cap_//g')
bset=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z ' 'a-z,' | sed 's/cap_//g')
check "the unit grants bpf, perfmon, net_admin, sys_ptrace, dac_read_search" "bpf,perfmon,net_admin,sys_ptrace,dac_read_search" "$caps"
NB=$T/nobody
chmod 0711 "$T"
mkdir "$NB" && chown nobody "$NB"
new_ns frI$$
bg_ns frI$$ python3 "$PEER" --comm inst-srv --pidfile "$T/srv.pid" --ready "$T/srv.ready" tcp-server 127.0.0.1 7900 --accepts 2 > /dev/null
wait_file "$T/srv.ready"
SRV_EXE=$(readlink "/proc/$(cat "$T/srv.pid")/exe")
mkfifo "$T/fifo"
bg_ns frI$$ python3 "$PEER" --comm inst-early --pidfile "$T/early.pid" hold 127.0.0.1 7900 100 "$T/fifo"
HOLD=$LAST_BG
exec 7> "$T/fifo"
echo go >&7
sleep 0.3
# LimitMEMLOCK=infinity, as far as this shell may raise it
ulimit -l unlimited 2> /dev/null || ulimit -l "$(ulimit -Hl)"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps="-all,+${caps//,/,+}" \
	--ambient-caps="-all,+${caps//,/,+}" --bounding-set="-all,+${bset//,/,+}" --no-new-privs \
	"$DEST/usr/sbin/flowrec" --data "$NB/data" --cgroup "$CG" --ready-file "$NB/ready" \
	--flush-interval 0.2 2> "$T/nobody.log" 7>&- &
REC_PID=$!
for ((i = 0; i < 300; i++)); do
	[ -e "$NB/ready" ] && break
	kill -0 "$REC_PID" 2> /dev/null || break
	sleep 0.05
done
if [ ! -e "$NB/ready" ] && grep -q "packet perf buffer" "$T/nobody.log" && [ "$(ulimit -l)" != unlimited ]; then
	# Not the unit's fault: LimitMEMLOCK=infinity cannot be emulated in this container.
	echo "# RLIMIT_MEMLOCK is capped at $(ulimit -l) KiB here, too low for $(nproc) CPUs: non-root run skipped"
	exec 7>&-
	wait "$HOLD"
elif [ ! -e "$NB/ready" ]; then
	fail "recorder as nobody with the unit's capabilities did not start: $(cat "$T/nobody.log")"
	exec 7>&-
else
	ok "recorder starts as nobody with only the unit's capabilities"
	echo go >&7
	sleep 0.1
	exec 7>&-
	wait "$HOLD"
	in_ns frI$$ python3 "$PEER" --comm inst-cli tcp-client 127.0.0.1 7900 500 > /dev/null
	sleep 0.5
	kill -TERM "$REC_PID"
	wait "$REC_PID"
	check "recorder exits 0 on SIGTERM" 0 $?
	REC_PID=
	check "its files belong to nobody" nobody \
		"$(stat -c %U "$NB/data" "$NB/data/flowrec.db" "$NB/data/pcap" | sort -u | xargs)"
	FQ() { "$DEST/usr/bin/flowq" --data "$NB/data" "$@"; }
	check "flows recorded (the held connection both ends, the new one both ends)" 4 \
		"$(FQ --format csv sql "SELECT count(*) FROM flows WHERE lport = 7900 OR rport = 7900" | tail -1 | tr -d '\r')"
	check "the connection open before the start is owned by its process" "$(cat "$T/early.pid")" \
		"$(FQ --format csv sql "SELECT pid FROM flows WHERE comm = 'inst-early'" | tail -1 | tr -d '\r')"
	check "processes.exe of a root process is read (CAP_SYS_PTRACE)" "$SRV_EXE" \
		"$(FQ --format csv sql "SELECT exe FROM processes WHERE comm = 'inst-srv'" | tail -1 | tr -d '\r')"
	check "the run ended cleanly" ended \
		"$(FQ --format csv status | python3 -c 'import csv,sys; print(list(csv.DictReader(sys.stdin))[-1]["state"])')"
fi
