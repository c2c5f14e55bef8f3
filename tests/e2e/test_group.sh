#!/usr/bin/env bash
# Reading without root (flowrec --group): the data directory, database, lock file and packet
# segments belong to the group and are readable by it only; an unprivileged member runs
# flowq status, flows and pcap while the recorder runs and after it stopped; a user outside
# the group gets a one-line permission error. The group is made here and removed on exit;
# the users are nobody (65534), with and without it.
. "$(dirname "$0")/lib.sh"
e2e_begin group

G=frgrp$$
groupadd "$G" || { fail "cannot create group $G"; exit 1; }
trap 'groupdel "$G" 2>/dev/null; e2e_cleanup; exit $?' EXIT
GID=$(getent group "$G" | cut -d: -f3)
# nobody must reach the data directory: the test's own directory is only traversable.
chmod 0711 "$T"
member() { setpriv --reuid=65534 --regid=65534 --groups="$GID" "$@"; }
outsider() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

NS=frG$$
new_ns $NS
# A segment from before --group: made readable too.
start_recorder
bg_ns $NS python3 "$PEER" --comm grp-srv0 --ready "$T/srv0.ready" tcp-server 127.0.0.1 7800
wait_file "$T/srv0.ready"
in_ns $NS python3 "$PEER" --comm grp-cli0 tcp-client 127.0.0.1 7800 100 > /dev/null
sleep 0.3
stop_recorder
start_recorder --group "$G"
bg_ns $NS python3 "$PEER" --comm grp-srv --ready "$T/srv.ready" tcp-server 127.0.0.1 7801 --reply 700
wait_file "$T/srv.ready"
in_ns $NS python3 "$PEER" --comm grp-cli tcp-client 127.0.0.1 7801 1500 > /dev/null
sleep 0.5

modes=$(cd "$DATA" && stat -c '%n %a %G' . flowrec.db flowrec.db-wal flowrec.db-shm flowrec.lock pcap pcap/* | sort)
check "every file and directory is the group's, 0640 and 0750" \
	"$(printf '%s\n' ". 750 $G" "flowrec.db 640 $G" "flowrec.db-shm 640 $G" "flowrec.db-wal 640 $G" \
		"flowrec.lock 640 $G" "pcap 750 $G" | sort)" \
	"$(grep -v '^pcap/' <<<"$modes")"
check "both segments (the one from before --group too) are the group's, 0640" "2" \
	"$(grep -c "^pcap/.* 640 $G\$" <<<"$modes")"

check "a member: flowq status while the recorder runs (live, read from its lock)" "live" \
	"$(member "$FLOWQ" --data "$DATA" --format csv status 2>&1 | sed -n 3p | cut -d, -f4)"
check "a member: flowq flows shows the connection, as the database has it" \
	"$(q "SELECT comm || ' ' || rport || ' ' || bytes_out FROM flows WHERE comm = 'grp-cli'")" \
	"$(member "$FLOWQ" --data "$DATA" --format jsonl flows --comm grp-cli 2>&1 | jq -r '"\(.comm) \(.rport) \(.bytes_out)"')"
outsider "$FLOWQ" --data "$DATA" status > /dev/null 2> "$T/err"
check "outside the group: exit 1 and one line saying permission denied" "1 1" \
	"$? $(grep -c 'Permission denied' "$T/err")"
check "outside the group: nothing else on stderr" 1 "$(wc -l < "$T/err")"
stop_recorder
# The packets are in their segment once the recorder has written its last chunk.
member "$FLOWQ" --data "$DATA" pcap --comm grp-cli -w - 2> "$T/pcap.err" > "$T/member.pcapng"
check "a member: flowq pcap exports the client's packets" \
	"$(q "SELECT packets_captured FROM flows WHERE comm = 'grp-cli'") " \
	"$(tcpdump -nn -r "$T/member.pcapng" 2>/dev/null | wc -l) $(cat "$T/pcap.err")"
check "a member, after the recorder stopped: flowq flows" \
	"$(q "SELECT count(*) FROM flows")" \
	"$(member "$FLOWQ" --data "$DATA" --format jsonl flows 2>/dev/null | wc -l)"
"$FLOWREC" --data "$DATA" --group no-such-group-$$ --duration 1 > /dev/null 2> "$T/err"
check "an unknown group: exit 2, one line" "2 1" "$? $(grep -c "invalid --group 'no-such-group-$$': no such group" "$T/err")"
