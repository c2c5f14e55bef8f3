#!/usr/bin/env bash
# Policy (--policy): denied and audited connects, sends, binds and accepts, each with its
# verdict in the database; matching by address (v4 and v6 CIDR), port range, protocol, comm,
# exe, uid and cgroup subtree; first match wins; SIGHUP reload of a changed file and of a
# broken one; kill -9 lifts the policy.
#
# Two namespaces joined by a veth pair: the client side has 10.77.0.1 and 10.77.0.5 (and
# fd77::1), the server side 10.77.0.2 and 10.77.0.3 (and fd77::2). Every task is in the test
# cgroup, and the policy is attached to that cgroup only.
. "$(dirname "$0")/lib.sh"
e2e_begin policy

new_ns pc
new_ns ps
ip link add fr-pol-c netns pc type veth peer name fr-pol-s netns ps
ip -n pc addr add 10.77.0.1/24 dev fr-pol-c
ip -n pc addr add 10.77.0.5/24 dev fr-pol-c
ip -n ps addr add 10.77.0.2/24 dev fr-pol-s
ip -n ps addr add 10.77.0.3/24 dev fr-pol-s
ip -n pc addr add fd77::1/64 dev fr-pol-c nodad
ip -n ps addr add fd77::2/64 dev fr-pol-s nodad
ip -n pc link set fr-pol-c up
ip -n ps link set fr-pol-s up
mkdir "$CG/sub"
# The interpreter itself: python3 on PATH may be a wrapper script (pyenv) that execs it.
PY=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')

# attempt [--cg DIR] COMM ARGS...: one try from the client namespace, its outcome printed.
attempt() {
	local cg=$CG
	if [ "$1" = --cg ]; then cg=$2; shift 2; fi
	local comm=$1; shift
	bash -c 'echo $$ > "$0/cgroup.procs" && exec ip netns exec pc "$@"' "$cg" \
		python3 "$PEER" --comm "$comm" attempt "$@"
}

cat > "$T/policy" <<EOF
# flowrec test policy: every rule below is tried
deny    connect dst 10.77.0.2 port 443 proto tcp comm fr-curl name no-https
audit   connect dst 10.77.0.2 port 8080 proto tcp name watch-8080
deny    connect dst 10.77.0.3 port 53 proto udp
allow   connect dst fd77::2 port 7000 name v6-allowed
deny    connect dst fd77::/64 name no-v6
deny    connect dst 10.77.0.2 port 6000 exe $PY name no-python
deny    connect dst 10.77.0.2 port 6001 cgroup $CG/sub name no-sub
deny    bind    port 9000-9100 proto tcp uid 4242 name no-bind-range
deny    accept  src 10.77.0.1 port 2222 name no-ssh-from-1
deny    accept  src 10.77.0.1 port 5300 proto udp name no-udp-from-1
EOF

# A broken policy at start: no recorder, the line named.
printf 'deny connect dst 10.77.0.2\ndeny connect dst 10.77.0.999\n' > "$T/broken"
"$FLOWREC" --data "$DATA" --cgroup "$CG" --policy "$T/broken" --duration 5 2> "$T/err"
check "a broken policy at start: exit 1" 1 $?
check "the broken line is named" 1 "$(grep -c "$T/broken:2: " "$T/err")"

start_recorder --policy "$T/policy" --socket-events
bg_ns ps python3 "$PEER" --comm fr-server --ready "$T/srv-ready" policy-server :: \
	443,8080,6000,6001,6002,7000,7001,2222 5300 "$T/server.log"
wait_file "$T/srv-ready"

check "deny connect by address, port, proto and comm: EPERM" EPERM "$(attempt fr-curl tcp 10.77.0.2 443)"
check "another comm to the same port connects" ok "$(attempt fr-other tcp 10.77.0.2 443)"
check "audit connect: connects" ok "$(attempt fr-audited tcp 10.77.0.2 8080)"
check "deny sendto by port: EPERM" EPERM "$(attempt fr-dig udp-sendto 10.77.0.3 53)"
check "the same port on another address is not denied" ok "$(attempt fr-dig2 udp-sendto 10.77.0.2 53)"
check "deny a UDP connect() to a denied peer" EPERM "$(attempt fr-udpc udp-connect 10.77.0.3 53)"
check "v6: allow before deny wins" ok "$(attempt fr-v6 tcp fd77::2 7000)"
check "v6: the /64 is denied" EPERM "$(attempt fr-v6 tcp fd77::2 7001)"
check "exe: python is denied port 6000" EPERM "$(attempt fr-py tcp 10.77.0.2 6000)"
bash -c 'echo $$ > "$0/cgroup.procs" && exec ip netns exec pc bash -c "exec 3<>/dev/tcp/10.77.0.2/6000 && echo ok"' \
	"$CG" > "$T/bash-6000" 2>&1
check "exe: bash to port 6000 connects" ok "$(cat "$T/bash-6000")"
check "cgroup: a task in the subtree is denied" EPERM "$(attempt --cg "$CG/sub" fr-sub tcp 10.77.0.2 6001)"
check "cgroup: a task outside it connects" ok "$(attempt fr-nosub tcp 10.77.0.2 6001)"
check "bind: uid 4242 in the range: EPERM" EPERM "$(attempt fr-bind bind-tcp 0.0.0.0 9050 --uid 4242)"
check "bind: another uid binds" ok "$(attempt fr-bind bind-tcp 0.0.0.0 9050 --uid 4243)"
check "bind: uid 4242 outside the range binds" ok "$(attempt fr-bind bind-tcp 0.0.0.0 9200 --uid 4242)"
check "accept: a SYN from 10.77.0.1 is dropped" timeout "$(attempt fr-ssh1 tcp 10.77.0.2 2222 --src 10.77.0.1)"
check "accept: a SYN from 10.77.0.5 is accepted" ok "$(attempt fr-ssh5 tcp 10.77.0.2 2222 --src 10.77.0.5)"
attempt fr-udp1 udp-sendto 10.77.0.2 5300 --src 10.77.0.1 --sport 40001 > /dev/null
attempt fr-udp5 udp-sendto 10.77.0.2 5300 --src 10.77.0.5 > /dev/null
sleep 0.5
check "accept: no datagram from 10.77.0.1 reached the server" 0 "$(grep -c "^udp 5300 10.77.0.1 " "$T/server.log")"
check "accept: both datagrams from 10.77.0.5 did" 2 "$(grep -c "^udp 5300 10.77.0.5 12$" "$T/server.log")"
sleep 1

# What the database says.
F="SELECT verdict, rule, proto, raddr, rport, bytes_out + bytes_in, end_reason FROM flows"
check "denied connect: its flow row" "deny|no-https|tcp|10.77.0.2|443|0|denied" \
	"$(q "$F WHERE comm = 'fr-curl'")"
check "the denied row names the task" "$(q "SELECT pid FROM processes WHERE comm = 'fr-curl'")" \
	"$(q "SELECT pid FROM flows WHERE comm = 'fr-curl' AND verdict = 'deny'")"
check "allowed connect: no verdict" "||tcp|10.77.0.2|443" \
	"$(q "SELECT verdict, rule, proto, raddr, rport FROM flows WHERE comm = 'fr-other' AND direction = 'out'")"
check "audited connect: the real flow carries the verdict, and its bytes" "audit|watch-8080|1" \
	"$(q "SELECT verdict, rule, bytes_out > 10 FROM flows WHERE comm = 'fr-audited' AND direction = 'out'")"
check "denied sendto: one row for the peer, rule named after its line" \
	"deny|line 4|udp|10.77.0.3|53|0|denied" "$(q "$F WHERE comm = 'fr-dig'")"
check "the other sendto: allowed, with its bytes" "||udp|10.77.0.2|53|80|closed" "$(q "$F WHERE comm = 'fr-dig2'")"
check "denied UDP connect" "deny|line 4|udp|10.77.0.3|53|0|denied" "$(q "$F WHERE comm = 'fr-udpc'")"
check "v6 denied" "deny|no-v6|tcp|fd77::2|7001|0|denied" "$(q "$F WHERE comm = 'fr-v6' AND verdict IS NOT NULL")"
check "v6 allowed by rule" 1 "$(q "SELECT count(*) FROM flows WHERE comm = 'fr-v6' AND rport = 7000 AND verdict IS NULL")"
check "exe denied" "deny|no-python|tcp|10.77.0.2|6000|0|denied" "$(q "$F WHERE comm = 'fr-py'")"
check "cgroup denied" "deny|no-sub|tcp|10.77.0.2|6001|0|denied" "$(q "$F WHERE comm = 'fr-sub'")"
check "bind denied: a row with the local port" "deny|no-bind-range|tcp|9050|4242" \
	"$(q "SELECT verdict, rule, proto, lport, uid FROM flows WHERE comm = 'fr-bind' AND verdict IS NOT NULL")"
check "accept denied: one row for the SYN and its retransmissions" \
	"deny|no-ssh-from-1|tcp|10.77.0.1|2222|0|in|fr-server" \
	"$(q "SELECT verdict, rule, proto, raddr, lport, bytes_in, direction, comm FROM flows WHERE direction = 'in' AND lport = 2222 AND verdict IS NOT NULL")"
check "accept allowed from 10.77.0.5" "10.77.0.5|" \
	"$(q "SELECT raddr, verdict FROM flows WHERE direction = 'in' AND lport = 2222 AND verdict IS NULL")"
check "UDP accept denied: the server's flow, nothing counted in" "deny|no-udp-from-1|0" \
	"$(q "SELECT verdict, rule, packets_in FROM flows WHERE comm = 'fr-server' AND lport = 5300 AND raddr = '10.77.0.1'")"
check "socket_events: the denied connect returned -1 (EPERM)" -1 \
	"$(q "SELECT ret FROM socket_events WHERE comm = 'fr-curl' AND event = 'connect'")"
check "socket_events: the denied bind returned -1" -1 \
	"$(q "SELECT ret FROM socket_events WHERE comm = 'fr-bind' AND event = 'bind' AND lport = 9050 AND uid = 4242")"
check "runs.policy" "$T/policy" "$(q "SELECT policy FROM runs")"
check "policy_rules: ten rules, version 1" "10|1" "$(q "SELECT count(*), max(version) FROM policy_rules")"
check "hits: no-https decided once, the v6 allow once" "1|1" \
	"$(q "SELECT (SELECT hits FROM policy_rules WHERE name = 'no-https'), (SELECT hits FROM policy_rules WHERE name = 'v6-allowed')")"
check "hits: the denied sendto (the first datagram fails) and the denied UDP connect" 2 "$(q "SELECT hits FROM policy_rules WHERE name = 'line 4'")"
check "flowq flows --verdict deny" 9 "$("$FLOWQ" --data "$DATA" flows --verdict deny --format csv | tail -n +2 | wc -l)"
check "flowq flows --verdict audit" fr-audited \
	"$("$FLOWQ" --data "$DATA" flows --verdict audit --format json | jq -r '.[0].comm')"
check "denied report: each attempt, its kind, rule and task, oldest first" \
	"deny/no-https/connect/fr-curl audit/watch-8080/connect/fr-audited deny/line 4/connect/fr-dig deny/line 4/connect/fr-udpc deny/no-v6/connect/fr-v6 deny/no-python/connect/fr-py deny/no-sub/connect/fr-sub deny/no-bind-range/bind/fr-bind deny/no-ssh-from-1/accept/fr-server deny/no-udp-from-1/accept/fr-server" \
	"$("$FLOWQ" --data "$DATA" report denied --format json | jq -r '[.[] | "\(.verdict)/\(.rule)/\(.what)/\(.comm)"] | join(" ")')"
check "denied report: the rule as written" "deny connect dst 10.77.0.2 port 443 proto tcp comm fr-curl name no-https" \
	"$("$FLOWQ" --data "$DATA" report denied --format json | jq -r '.[0].rule_text')"
check "flowq flows --verdict any: denied and audited" 10 \
	"$("$FLOWQ" --data "$DATA" flows --verdict any --format csv | tail -n +2 | wc -l)"
expect_error 2 "invalid --verdict 'maybe'" "$FLOWQ" --data "$DATA" flows --verdict maybe
"$FLOWQ" --data "$DATA" status > "$T/status"
check "flowq status shows the policy in force" 1 \
	"$(grep -cxF "policy: $T/policy: 10 rules, $(q "SELECT sum(hits) FROM policy_rules") hits (version 1, in force)" "$T/status")"

# SIGHUP: an unchanged file stays as it is; a changed one comes into force; a broken one is
# refused, the rules stay.
kill -HUP "$REC_PID"
sleep 0.5
check "SIGHUP of an unchanged file: the same version stays" 1 \
	"$(grep -c "SIGHUP: policy $T/policy unchanged: its 10 rules stay in force (version 1)" "$T/recorder.log")"
sed -i '/no-https/d; /no-udp-from-1/d' "$T/policy"
printf '%s\n' 'deny bind port 0-1023 proto tcp name no-low-bind' \
	'deny connect dst 10.77.0.2 port 6002 uid 4243 name no-uid' >> "$T/policy"
kill -HUP "$REC_PID"
sleep 0.5
check "SIGHUP reload: the removed rule no longer denies" ok "$(attempt fr-curl tcp 10.77.0.2 443)"
attempt fr-udp1b udp-sendto 10.77.0.2 5300 --src 10.77.0.1 --sport 40001 > /dev/null
sleep 0.3
check "SIGHUP reload: the peer a removed rule denied is let through (same address and port)" 2 \
	"$(grep -c "^udp 5300 10.77.0.1 12$" "$T/server.log")"
check "bind: a low port is denied" EPERM "$(attempt fr-lowbind bind-tcp 10.77.0.1 80)"
check "bind: a bind that takes no port yet (IP_BIND_ADDRESS_NO_PORT) is not a port-0 bind" ok \
	"$(attempt fr-lowbind bind-noport 10.77.0.1 0)"
check "uid: the connecting task's uid, not the socket creator's" EPERM \
	"$(attempt fr-lateuid tcp 10.77.0.2 6002 --late-uid 4243)"
printf 'deny connect dst 10.77.0.2\nallow bogus\n' > "$T/policy.new"
cp "$T/policy" "$T/policy.good"
mv "$T/policy.new" "$T/policy"
kill -HUP "$REC_PID"
sleep 0.5
check "SIGHUP of a broken file: refused, line named" 1 "$(grep -c "SIGHUP: $T/policy:2: .*the policy in force stays" "$T/recorder.log")"
check "the policy in force stays" EPERM "$(attempt fr-v6 tcp fd77::2 7001)"
sleep 0.5
check "policy_rules: version 2 has ten rules, version 1 replaced" "10|1" \
	"$(q "SELECT (SELECT count(*) FROM policy_rules WHERE version = 2), (SELECT count(*) FROM policy_rules WHERE version = 1 AND replaced_ns IS NOT NULL AND name = 'no-https')")"

# Two reloads within one flush interval: neither version loses its rows or its end.
cp "$T/policy.good" "$T/policy"
echo 'deny connect dst 10.77.0.9 name v3' >> "$T/policy"
kill -HUP "$REC_PID"
sleep 0.1
echo 'deny connect dst 10.77.0.10 name v4' >> "$T/policy"
kill -HUP "$REC_PID"
sleep 0.6
check "two quick reloads: every version has its rules, each but the last replaced" "2:10:1 3:11:1 4:12:0" \
	"$(q "SELECT group_concat(v, ' ') FROM (SELECT version || ':' || count(*) || ':' || (max(replaced_ns) IS NOT NULL) AS v FROM policy_rules WHERE version > 1 GROUP BY version ORDER BY version)")"

# kill -9: the links go with the process, and the policy with them.
kill -9 "$REC_PID"
wait "$REC_PID" 2>/dev/null
REC_PID=
out=timeout
for _ in 1 2 3 4 5 6 7 8 9 10; do
	out=$(attempt fr-v6 tcp fd77::2 7001)
	[ "$out" = ok ] && break
	sleep 0.2
done
check "after kill -9 nothing is denied" ok "$out"
