#!/usr/bin/env bash
# SQL reports (flowq report): every shipped report over a recording of known traffic — a
# big and a small TCP exchange, a connection held open across the recording, a refused
# connection, one that gets no reply, a DNS lookup and a connection to the address it gave —
# checked row by row against the flows and dns tables; every output format parsed; user
# reports overriding shipped ones; parameters bound, undeclared ones refused; writes refused.
. "$(dirname "$0")/lib.sh"
e2e_begin reports

NS=frR$$
new_ns $NS
NSINO=$(netns_inode $NS)
# Inside the test namespace only: an address for the name to point at, and a veth pair
# whose far end has no address, so that nobody ever answers for 10.66.0.2 (a connection
# that gets no reply; its ARP requests stay in the namespace).
ip -n $NS addr add 10.53.0.1/32 dev lo
ip -n $NS link add frq0 type veth peer name frq1
ip -n $NS link set frq0 up
ip -n $NS link set frq1 up
ip -n $NS addr add 10.66.0.1/24 dev frq0
# ip netns exec gives the namespace this resolv.conf: the system resolver asks dnsmasq.
mkdir -p /etc/netns/$NS && echo "nameserver 127.0.0.1" > /etc/netns/$NS/resolv.conf
trap 'rm -rf /etc/netns/'$NS'; e2e_cleanup; exit $?' EXIT
# The user's report directory is the test's own, and nothing in ~/.config is read.
export XDG_CONFIG_HOME="$T/xdg"

# The unanswered attempt is audited: the denied report has a row to show.
echo 'audit connect dst 10.66.0.2/32 port 9 name watch-noreply' > "$T/policy"
start_recorder --policy "$T/policy"
bg_ns $NS dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
	--listen-address=127.0.0.1 --port=53 --user=root --pid-file="$T/dnsmasq.pid" \
	--address=/a.test/10.53.0.1
for i in $(seq 50); do in_ns $NS dig @127.0.0.1 +time=1 +tries=1 a.test > /dev/null 2>&1 && break; sleep 0.1; done
# Servers first: a process started after the fifo below is opened would hold it open.
bg_ns $NS python3 "$PEER" --comm big-srv --pidfile "$T/bsrv.pid" --ready "$T/bsrv.ready" tcp-server 127.0.0.1 7601 > /dev/null
BSRV_JOB=$LAST_BG
bg_ns $NS python3 "$PEER" --comm small-srv --pidfile "$T/ssrv.pid" --ready "$T/ssrv.ready" \
	tcp-server 127.0.0.1 7602 --reply 2000 --accepts 2 > /dev/null
SSRV_JOB=$LAST_BG
bg_ns $NS python3 "$PEER" --comm hold-srv --pidfile "$T/hsrv.pid" --ready "$T/hsrv.ready" tcp-server 127.0.0.1 7603 > /dev/null
bg_ns $NS python3 "$PEER" --comm web --pidfile "$T/web.pid" --ready "$T/web.ready" tcp-server 0.0.0.0 8080 > /dev/null
WEB_JOB=$LAST_BG
for f in bsrv ssrv hsrv web; do wait_file "$T/$f.ready"; done

# --- before MID: the held connection opens; big, small, refused and unanswered ones -------------
mkfifo "$T/fifo"
bg_ns $NS python3 "$PEER" --comm hold-cli --pidfile "$T/hcli.pid" hold 127.0.0.1 7603 1000 "$T/fifo"
HOLD_JOB=$LAST_BG
exec 7> "$T/fifo"
echo go >&7
in_ns $NS python3 "$PEER" --comm big-cli --pidfile "$T/bcli.pid" tcp-client 127.0.0.1 7601 300000 > /dev/null
wait "$BSRV_JOB"
for n in 1 2; do
	in_ns $NS python3 "$PEER" --comm small-cli --pidfile "$T/scli$n.pid" tcp-client 127.0.0.1 7602 5000 > /dev/null
done
wait "$SSRV_JOB"
# A closed port: the connect is refused (peer.py exits with the error, as expected).
in_ns $NS python3 "$PEER" --comm refuser --pidfile "$T/refuser.pid" tcp-client 127.0.0.1 7609 10 > /dev/null 2>&1
# No answer ever comes from 10.66.0.2; the attempt is given up after a second.
in_ns $NS timeout 1 python3 "$PEER" --comm noreply --pidfile "$T/noreply.pid" tcp-client 10.66.0.2 9 10 > /dev/null 2>&1
echo go >&7
sleep 0.3
MID=$(date +%s.%N)
sleep 0.3

# --- after MID: a lookup and a connection to the address it gave; the held one closes ----------
in_ns $NS python3 "$PEER" --comm resolver --pidfile "$T/resolver.pid" resolve-connect a.test 8080
wait "$WEB_JOB"
echo go >&7
sleep 0.3
exec 7>&-
wait "$HOLD_JOB"
sleep 0.5
stop_recorder

BSRV=$(cat "$T/bsrv.pid"); BCLI=$(cat "$T/bcli.pid"); SSRV=$(cat "$T/ssrv.pid"); WEB=$(cat "$T/web.pid")
RES=$(cat "$T/resolver.pid"); REFUSER=$(cat "$T/refuser.pid"); NOREPLY=$(cat "$T/noreply.pid")
SUM=$(sha256sum "$DB" | cut -d' ' -f1)
fr() { "$FLOWQ" --db "$DB" report "$@"; }
rows() { "$FLOWQ" --db "$DB" --format jsonl report "$@"; }
# jqs FILTER: FILTER over the rows read as JSON lines, all in one array; raw output
jqs() { jq -rs "$1"; }
# fields ROW KEYS...: the values of the row ROW (a jq filter over the array), space-separated
fields() {
	local row=$1; shift
	jq -rs "$row | [$(printf '.["%s"],' "$@" | sed 's/,$//')] | map(tostring) | join(\" \")"
}
SHIPPED=$(cd "$ROOT/schema/reports" && ls *.sql | sed 's/\.sql$//')

# --- the list -------------------------------------------------------------------------------
check "--list: every shipped report, by name, each with its file" \
	"$(for n in $SHIPPED; do echo "$n $ROOT/schema/reports/$n.sql"; done)" \
	"$(fr --list --format jsonl | jqs '.[] | .name + " " + .file')"
check "--list: descriptions and parameters from the headers" \
	"Processes by bytes sent and received, most first|:since :until :limit=20" \
	"$(fr --list --format jsonl | jqs '.[] | select(.name == "top-talkers") | .description + "|" + .parameters')"
check "the ten reports of the issue are shipped (none missing)" "" \
	"$(for n in top-talkers processes containers destinations new-destinations dns-names listeners \
		failed-connections long-lived recorder-health; do [ -f "$ROOT/schema/reports/$n.sql" ] || echo "$n"; done)"

# --- top-talkers: the big client first (the server has the same total, but sent less) ---------
read -r B BO PO < <(q "SELECT bytes_out + bytes_in, bytes_out, packets_out FROM flows WHERE pid=$BCLI" | tr '|' ' ')
# IPv4 (20) + TCP (20, up to 40 more on the SYN; 12 for timestamps) per packet.
check_range "the big client's bytes_out: its 300000 bytes of payload + 40..60 per packet" \
	$((300000 + 40 * PO)) $((300000 + 60 * PO)) "$BO"
check "top-talkers: first the big client, its exact bytes from flows" "$BCLI big-cli $B $BO 1" \
	"$(rows top-talkers | fields '.[0]' pid comm bytes bytes_out flows)"
check "top-talkers: then the server it sent to, same total" "$BSRV big-srv $B" \
	"$(rows top-talkers | fields '.[1]' pid comm bytes)"
check "top-talkers --limit 1: one row" 1 "$(rows top-talkers --limit 1 | wc -l)"
check "top-talkers: every process with a flow, at most 20 (the default :limit)" \
	"$(q "SELECT min(20, count(DISTINCT pid || '/' || proc_start_ns)) FROM flows")" "$(rows top-talkers | wc -l)"

# --- processes ----------------------------------------------------------------------------------
read -r RF RBO RBI < <(q "SELECT count(*), sum(bytes_out), sum(bytes_in) FROM flows WHERE pid=$RES" | tr '|' ' ')
RQ=$(q "SELECT count(*) FROM dns WHERE role='client' AND pid=$RES")
check "processes: the resolver's two flows (DNS, then 8080), two peers, its lookup named" \
	"resolver 2 2 $RF $RBO $RBI $RQ a.test" \
	"$(rows processes | fields "map(select(.pid == $RES))[0]" comm flows_out peers flows bytes_out bytes_in dns_queries names)"
check "processes --param pid=N: that process only" "$RES" \
	"$(rows processes --param pid=$RES | jqs 'map(.pid) | join(" ")')"
check "processes: ppid and uid from the processes table" "$(q "SELECT ppid, uid FROM processes WHERE pid=$RES" | tr '|' ' ')" \
	"$(rows processes --param pid=$RES | fields '.[0]' ppid uid)"

# --- containers: everything ran in the test's cgroup ---------------------------------------------
check "containers: one cgroup, the test's, with all its flows and bytes" \
	"1 $(stat -c %i "$CG") $(q "SELECT count(DISTINCT pid), count(*), sum(bytes_out), sum(bytes_in) FROM flows" | tr '|' ' ')" \
	"$(rows containers | jqs '"\(length) " + (.[0] | [.cgroup_id, .pids, .flows, .bytes_out, .bytes_in] | map(tostring) | join(" "))')"

# --- destinations -------------------------------------------------------------------------------
check "destinations: 10.53.0.1 named a.test, the resolver's one flow, exact bytes" \
	"a.test 1 tcp/8080 resolver $(q "SELECT bytes_out, bytes_in FROM flows WHERE raddr='10.53.0.1' AND direction='out'" | tr '|' ' ')" \
	"$(rows destinations | fields 'map(select(.raddr == "10.53.0.1"))[0]' names flows ports comms bytes_out bytes_in)"
check "destinations: loopback first (most bytes), with its total" \
	"127.0.0.1 $(q "SELECT sum(bytes_out + bytes_in) FROM flows WHERE raddr='127.0.0.1' AND direction='out'")" \
	"$(rows destinations | fields '.[0]' raddr bytes)"

# --- new-destinations: 127.0.0.1 is contacted again after MID, but first before it --------------
check "new-destinations --since MID: only 10.53.0.1, first contacted by the resolver" \
	"10.53.0.1 a.test $RES resolver tcp 8080 $(q "SELECT id FROM flows WHERE raddr='10.53.0.1' AND direction='out'")" \
	"$(rows new-destinations --since "@$MID" | jqs 'map([.raddr, .names, .pid, .comm, .proto, .rport, .first_flow] | map(tostring) | join(" ")) | join(" | ")')"
check "new-destinations: every destination over the whole recording, first contact first" \
	"127.0.0.1 10.66.0.2 10.53.0.1" "$(rows new-destinations | jqs 'map(.raddr) | join(" ")')"
check "new-destinations --until MID: those first contacted before MID" \
	"127.0.0.1 10.66.0.2" "$(rows new-destinations --until "@$MID" | jqs 'map(.raddr) | join(" ")')"

# --- dns-names ----------------------------------------------------------------------------------
check "dns-names: the resolver's lookup of a.test" "a.test $RQ A NOERROR 10.53.0.1 0" \
	"$(rows dns-names | fields "map(select(.pid == $RES))[0]" qname queries qtypes rcodes addresses unanswered)"
check "dns-names --param pid=N: only that process's names" "$RES a.test" \
	"$(rows dns-names --param pid=$RES | jqs 'map("\(.pid) \(.qname)") | join(" | ")')"
check "dns-names --since MID: dig's readiness lookups were before" "resolver" \
	"$(rows dns-names --since "@$MID" | jqs 'map(.comm) | unique | join(" ")')"

# --- listeners ----------------------------------------------------------------------------------
check "listeners: 7602 accepted two connections from one peer, by small-srv" \
	"$NSINO tcp 127.0.0.1 7602 $SSRV small-srv 2 1 127.0.0.1 $(q "SELECT sum(bytes_in) FROM flows WHERE lport=7602 AND direction='in'")" \
	"$(rows listeners | fields 'map(select(.lport == 7602))[0]' netns proto laddr lport pids comms connections peers peer_addrs bytes_in)"
check "listeners: 8080 on the address the name gave, accepted by web" "10.53.0.1 $WEB web 1 10.53.0.1" \
	"$(rows listeners | fields 'map(select(.lport == 8080))[0]' laddr pids comms connections peer_addrs)"
check "listeners: dnsmasq answering on udp 127.0.0.1:53" "udp 127.0.0.1 dnsmasq" \
	"$(rows listeners | fields 'map(select(.lport == 53))[0]' proto laddr comms)"
check "listeners: one row per listening port" "53 7601 7602 7603 8080" \
	"$(rows listeners | jqs 'map(.lport) | join(" ")')"

# --- failed-connections -------------------------------------------------------------------------
check "failed-connections: the refused port (a reset), then the unanswered attempt" \
	"$REFUSER refuser 127.0.0.1 7609 reset | $NOREPLY noreply 10.66.0.2 9 no reply" \
	"$(rows failed-connections | jqs 'map("\(.pid) \(.comm) \(.raddr) \(.rport) \(.outcome)") | join(" | ")')"
check "failed-connections: the unanswered attempt is closed and got nothing back" "true 0" \
	"$(rows failed-connections | jqs '.[] | select(.comm == "noreply") | "\(.end_ns != null) \(.packets_in)"')"

# --- long-lived ---------------------------------------------------------------------------------
check "long-lived: the held connection's two flows come first, with their durations" \
	"$(q "SELECT direction || ' ' || round((COALESCE(end_ns, last_ns) - start_ns) / 1e9, 3) FROM flows WHERE rport=7603 OR lport=7603 ORDER BY COALESCE(end_ns, last_ns) - start_ns DESC, id" | tr '\n' ' ')" \
	"$(rows long-lived --limit 2 | jqs 'map("\(.direction) \(.duration_s) ") | join("")')"
check_range "long-lived: held open across the recording (ms)" 1500 10000 \
	"$(rows long-lived --limit 1 | jqs '.[0].duration_s * 1000 | floor')"
check "long-lived: closed, the client's 3 x 1000 bytes counted" "closed true" \
	"$(rows long-lived | jqs '"\(.[0].state) \(map(select(.rport == 7603))[0].bytes_out >= 3000)"')"

# --- recorder-health ----------------------------------------------------------------------------
check "recorder-health: the run with its counts and pcap disk use, from the tables" \
	"1 1 $(q "SELECT lost_events, (SELECT count(*) FROM flows), (SELECT count(*) FROM dns), (SELECT sum(packets_in + packets_out) FROM flows), (SELECT sum(bytes) FROM pcap_segments WHERE deleted_ns IS NULL), (SELECT count(*) FROM pcap_segments) FROM runs" | tr '|' ' ') true" \
	"$(rows recorder-health | jqs '"\(length) " + (.[0] | [.run, .lost_events, .flows, .dns, .packets, .pcap_bytes, .pcap_segments, .end_ns != null] | map(tostring) | join(" "))')"
check_range "recorder-health: some packets captured to disk (bytes)" 1 100000000 \
	"$(rows recorder-health | jqs '.[0].pcap_bytes')"
check "recorder-health --since in the future: no run" 0 "$(rows recorder-health --since @4102444800 | wc -l)"

# --- denied: the audited attempt, with its task and rule -----------------------------------------
check "denied: the audited unanswered attempt, its task and the rule as written" \
	"audit watch-noreply connect $NOREPLY noreply 10.66.0.2 9 audit connect dst 10.66.0.2/32 port 9 name watch-noreply" \
	"$(rows denied | fields '.[0]' verdict rule what pid comm raddr rport rule_text)"
check "denied: that one row only" 1 "$(rows denied | wc -l)"

# --- flows and packets by DNS name and executable (flows/pcap --name, --exe) -----------------
check "flows --name: the flows whose peer came from a.test's answer (any case, final dot)" \
	"$(q "SELECT comm || ' ' || raddr || ' ' || rport FROM flows WHERE rname = 'a.test' ORDER BY start_ns, id")" \
	"$("$FLOWQ" --db "$DB" --format jsonl flows --name 'A.Test.' | jq -r '"\(.comm) \(.raddr) \(.rport)"')"
REXE=$(q "SELECT exe FROM processes WHERE pid = $RES")
check "flows --exe: the resolver's flows by its executable" "$(q "SELECT group_concat(id) FROM flows WHERE pid = $RES")" \
	"$("$FLOWQ" --db "$DB" --format jsonl flows --exe "$REXE" --comm resolver | jq -rs 'map(.id) | join(",")')"
"$FLOWQ" --db "$DB" pcap --name '*.test' -w "$T/by-name.pcap" 2> "$T/pcap.err"
# The same packets as --flow with those flows' ids (their handshake seen on the listener
# included), none of another port.
"$FLOWQ" --db "$DB" pcap $(q "SELECT '--flow ' || id FROM flows WHERE rname = 'a.test'") -w "$T/by-id.pcap"
check "pcap --name: the packets of the flows to *.test, as --flow with their ids, and only those" \
	"$(tcpdump -nn -r "$T/by-id.pcap" 2>/dev/null | wc -l) 0" \
	"$(tcpdump -nn -r "$T/by-name.pcap" 2>/dev/null | wc -l) $(tcpdump -nn -r "$T/by-name.pcap" 'not port 8080' 2>/dev/null | wc -l)"
check_range "pcap --name: packets there" 6 100 "$(tcpdump -nn -r "$T/by-name.pcap" 2>/dev/null | wc -l)"
"$FLOWQ" --db "$DB" pcap --exe "$REXE" --comm resolver -w "$T/by-exe.pcap" 2> "$T/pcap.err"
check "pcap --exe: the resolver's packets (its DNS question too)" \
	"$(q "SELECT sum(packets_captured) FROM flows WHERE pid = $RES")" \
	"$(tcpdump -nn -r "$T/by-exe.pcap" 2>/dev/null | wc -l)"
"$FLOWQ" --db "$DB" flows --exe relative/path > /dev/null 2> "$T/err"
check "flows --exe: a relative path is refused (exit 2, one line)" "2 1" "$? $(grep -c 'invalid --exe' "$T/err")"

# --- every shipped report in every format: same rows, times as RFC 3339 -------------------------
for n in $SHIPPED; do
	got=$(python3 - "$FLOWQ" "$DB" "$n" <<'EOF'
import csv, io, json, re, subprocess, sys
flowq, db, name = sys.argv[1:4]
def run(fmt):
    p = subprocess.run([flowq, "--db", db, "--format", fmt, "report", name], capture_output=True, text=True)
    if p.returncode != 0 or p.stderr:
        sys.exit(f"{fmt}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout
as_csv = list(csv.DictReader(io.StringIO(run("csv"), newline="")))
as_json = json.loads(run("json"))
as_jsonl = [json.loads(l) for l in run("jsonl").splitlines()]
table = run("table").splitlines()
if not as_json:
    sys.exit("no rows")
if not (len(as_csv) == len(as_json) == len(as_jsonl) == len(table) - 1):
    sys.exit(f"row counts differ: csv {len(as_csv)} json {len(as_json)} jsonl {len(as_jsonl)} table {len(table) - 1}")
if as_json != as_jsonl or list(as_csv[0]) != list(as_json[0]) or table[0].split() != list(as_json[0]):
    sys.exit("formats disagree")
when = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)")
for o in as_json:
    for k, v in o.items():
        if k.endswith("_ns") and v is not None and not (isinstance(v, str) and when.fullmatch(v)):
            sys.exit(f"{k} is not an RFC 3339 time: {v!r}")
print(f"ok {len(as_json)}")
EOF
	)
	if [[ "$got" == ok* ]]; then ok "$n: csv, json, jsonl and table agree (${got#ok } rows), times RFC 3339"
	else fail "$n: $got"; fi
done

# --- user reports -------------------------------------------------------------------------------
mkdir -p "$T/mine" "$XDG_CONFIG_HOME/flowrec/reports" "$T/home/.config/flowrec/reports"
cat > "$T/mine/top-talkers.sql" <<'EOF'
-- name: top-talkers
-- description: my own top talkers
SELECT 'mine' AS who
EOF
cat > "$T/mine/both.sql" <<'EOF'
-- name: both
-- description: from --reports-dir
SELECT 'reports-dir' AS source
EOF
cat > "$XDG_CONFIG_HOME/flowrec/reports/both.sql" <<'EOF'
-- name: both
-- description: from the user directory
SELECT 'user' AS source
EOF
cat > "$XDG_CONFIG_HOME/flowrec/reports/per-comm.sql" <<'EOF'
-- name: per-comm
-- description: flows per task name
-- param: :comm text   only this name
-- A comment that is not a header field.
SELECT comm, count(*) AS flows FROM flows WHERE comm = :comm GROUP BY comm
EOF
cat > "$T/home/.config/flowrec/reports/in-home.sql" <<'EOF'
-- name: in-home
-- description: found through HOME
SELECT 1 AS one
EOF
check "a user report with a shipped name overrides it (--reports-dir)" "mine" \
	"$(rows top-talkers --reports-dir "$T/mine" | jqs '.[0].who')"
check "--list shows the override's file and description" "$T/mine/top-talkers.sql my own top talkers" \
	"$(fr --list --reports-dir "$T/mine" --format jsonl | jqs '.[] | select(.name == "top-talkers") | .file + " " + .description')"
check "--list: user reports listed with the shipped ones" "both per-comm" \
	"$(fr --list --reports-dir "$T/mine" --format jsonl | jqs 'map(select(.name == "both" or .name == "per-comm") | .name) | join(" ")')"
check "--reports-dir comes before the user directory" "reports-dir" "$(rows both --reports-dir "$T/mine" | jqs '.[0].source')"
check "\$XDG_CONFIG_HOME/flowrec/reports is the user directory" "user" "$(rows both | jqs '.[0].source')"
check "without XDG_CONFIG_HOME: ~/.config/flowrec/reports" "in-home 1" \
	"$(env -u XDG_CONFIG_HOME HOME="$T/home" "$FLOWQ" --db "$DB" --format jsonl report in-home | jqs '"in-home \(.[0].one)"')"
check "a user report's text parameter, bound" "big-cli 1" \
	"$(rows per-comm --param comm=big-cli | fields '.[0]' comm flows)"
check "a value is bound, never pasted into the SQL" 0 "$(rows per-comm --param "comm=x' OR '1'='1" | wc -l)"

cat > "$T/mine/params.sql" <<'EOF'
-- name: params
-- description: what its parameters were bound to
-- param: :n any
-- param: :s any
-- param: :none any         no value and no default: NULL
-- param: :d integer = 7
-- param: :t text = 'two words'
-- param: :at time = @1700000000.5
SELECT :n AS n, typeof(:n) AS n_type, :s AS s, typeof(:s) AS s_type, :none AS none,
       typeof(:none) AS none_type, :d AS d, :t AS t, :at AS at
EOF
check "--param: integers as integers, else text; defaults; NULL without either" \
	"42 integer hello text null null 7 two words 1700000000500000000" \
	"$(rows params --reports-dir "$T/mine" --param n=42 --param s=hello | fields '.[0]' n n_type s s_type none none_type d t at)"
check "--param: the last value of a key wins; ':key' also accepted; 1.5 is text" "-3 integer 1.5 text 8" \
	"$(rows params --reports-dir "$T/mine" --param n=1 --param :n=-3 --param s=1.5 --param d=8 | fields '.[0]' n n_type s s_type d)"

# --- refusals ----------------------------------------------------------------------------------
# expect_error DESCRIPTION STATUS PATTERN ARGS...: flowq report ARGS exits STATUS with one line
expect_error() {
	local what=$1 want=$2 pattern=$3 rc; shift 3
	fr "$@" > "$T/out" 2> "$T/err"
	rc=$?
	if [ $rc -eq "$want" ] && [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "^flowq: .*$pattern" "$T/err" && [ ! -s "$T/out" ]; then
		ok "$what (exit $rc: $(cat "$T/err"))"
	else
		fail "$what: exit $rc, stderr '$(cat "$T/err")', stdout '$(head -c 200 "$T/out")'"
	fi
}
expect_error "an undeclared --param is a usage error" 2 "no parameter :bogus" top-talkers --param bogus=1
expect_error "--since for a report without :since is a usage error" 2 \
	"no :since parameter for --since (it takes: :n :s :none :d=7 :t='two words' :at=@1700000000.5)" \
	params --reports-dir "$T/mine" --since 1h
expect_error "a value that is not the declared kind" 2 ":d takes an integer" params --reports-dir "$T/mine" --param d=x
expect_error "--param without '='" 2 "KEY=VALUE" top-talkers --param limit
expect_error "a bad --since" 2 "invalid time" top-talkers --since yesterday
expect_error "an unknown report" 2 "no report named 'nope'" nope
expect_error "a name that is not a file name" 2 "invalid report name" ../etc/passwd
expect_error "a --reports-dir that does not exist" 2 "reports-dir" top-talkers --reports-dir "$T/absent"
for sql in "DELETE FROM flows" "UPDATE runs SET end_ns = 1" "CREATE TEMP TABLE t AS SELECT 1" \
	"INSERT INTO flows SELECT * FROM flows" "PRAGMA user_version = 5"; do
	printf -- '-- name: writes\n-- description: tries to write\n%s\n' "$sql" > "$T/mine/writes.sql"
	expect_error "a report that writes is refused: $sql" 1 "refusing to run a statement that writes: ${sql:0:20}" \
		writes --reports-dir "$T/mine"
done
printf -- "-- name: attach\n-- description: tries to attach\nATTACH '%s' AS o\n" "$T/other.db" > "$T/mine/attach.sql"
expect_error "a report that attaches is refused" 1 "not authorized" attach --reports-dir "$T/mine"
printf -- '-- name: undeclared\n-- description: uses what it does not declare\nSELECT :x AS x\n' > "$T/mine/undeclared.sql"
expect_error "SQL using an undeclared parameter" 1 "uses :x, which its header does not declare" undeclared --reports-dir "$T/mine"
printf -- '-- name: two\n-- description: two statements\nSELECT 1; SELECT 2;\n' > "$T/mine/two.sql"
expect_error "two statements in one report" 1 "more than one statement" two --reports-dir "$T/mine"
printf -- '-- name: other\n-- description: misnamed\nSELECT 1\n' > "$T/mine/misnamed.sql"
expect_error "a header name that is not the file's" 1 "is not the file's name" misnamed --reports-dir "$T/mine"
printf -- '-- name: kind\n-- description: bad kind\n-- param: :x number\nSELECT :x\n' > "$T/mine/kind.sql"
expect_error "a parameter of an unknown kind" 1 "kind 'number'" kind --reports-dir "$T/mine"
fr --list --reports-dir "$T/mine" --format jsonl > "$T/list" 2> "$T/err"
check "--list: one warning per broken report, which is not listed" "kind.sql misnamed.sql" \
	"$(sed -n 's|^flowq: warning: .*/\([a-z]*\.sql\).*; not listed$|\1|p' "$T/err" | sort | tr '\n' ' ' | sed 's/ $//')"
check "--list: the other reports still listed (shipped ones but the overridden top-talkers)" "10 attach params" \
	"$(jq -rs --arg dir "$ROOT/schema/reports/" '[(map(select(.file | startswith($dir))) | length)] + map(select(.name | IN("attach", "params", "misnamed", "kind", "other")) | .name) | map(tostring) | join(" ")' "$T/list")"
check "the database is unchanged by all of the above" "$SUM" "$(sha256sum "$DB" | cut -d' ' -f1)"
