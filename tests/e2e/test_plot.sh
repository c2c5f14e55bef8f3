#!/usr/bin/env bash
# flowq plot on a real recording: three client processes with distinct comms send clearly
# different amounts over about 3 s; the plot of the top 2 must be well-formed SVG with two
# lines, a legend naming those two in byte order, the rest as "other", and a comm holding
# XML's special characters escaped. Plus -o -, --by container/destination and the errors.
. "$(dirname "$0")/lib.sh"
e2e_begin plot

# The servers run in the namespace but outside the test cgroup, so they are not recorded:
# only the three clients are plotted, and no server ties with its client on bytes.
bg_unrecorded() { # bg_unrecorded NS CMD...
	local ns=$1; shift
	ip netns exec "$ns" "$@" &
	BG_PIDS+=($!)
	LAST_BG=$!
}

new_ns frP$$
start_recorder
SPECIAL='mid<&>"q'
for port in 7301 7302 7303; do
	bg_unrecorded frP$$ python3 "$PEER" --comm plot-sink --ready "$T/sink$port.ready" \
		tcp-server 127.0.0.1 $port > /dev/null
	wait_file "$T/sink$port.ready"
done
CLIENTS=()
for x in "big-sender 7301 3000000" "$SPECIAL 7302 1000000" "small-sender 7303 200000"; do
	read -r comm port bytes <<< "$x"
	bg_ns frP$$ python3 "$PEER" --comm "$comm" --pidfile "$T/$port.pid" \
		tcp-client 127.0.0.1 "$port" "$bytes" --chunks 30 --interval 0.1 > /dev/null
	CLIENTS+=("$LAST_BG")
done
for pid in "${CLIENTS[@]}"; do wait "$pid"; done
sleep 0.5
stop_recorder
BIG=$(cat "$T/7301.pid"); MID=$(cat "$T/7302.pid")
fq() { "$FLOWQ" --db "$DB" "$@"; }

check "three client flows, the servers not recorded" 3 "$(q "SELECT count(*) FROM flows")"
check "recorded byte order: big, special, small" "big-sender|$SPECIAL|small-sender" \
	"$(q "SELECT group_concat(comm, '|') FROM (SELECT comm FROM flows ORDER BY bytes_out + bytes_in DESC)")"

# --- flowq plot --top 2 -------------------------------------------------------------------
fq plot --top 2 -o "$T/out.svg" 2> "$T/err"
check "plot exits 0" 0 $?
check "one line on stderr naming the file" 1 "$(grep -c "written to $T/out.svg" "$T/err")"
check "no temporary left behind" "" "$(ls "$T"/out.svg.?* 2>/dev/null)"
fq plot --top 2 -o /dev/null 2> /dev/null
check "-o /dev/null: exit 0, and /dev/null is still a character device" "0|1" "$?|$([ -c /dev/null ] && echo 1)"

# Prints, tab-separated: parse result, series count, other count, legend labels in rank order
# (|-separated), the number of points per series, and whether the rank-1 line peaks above the
# rank-2 one (SVG y grows downwards).
read_svg() {
	python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
S = "{http://www.w3.org/2000/svg}"
try:
    root = ET.parse(sys.argv[1]).getroot()
except ET.ParseError as e:
    print("not-xml", e)
    sys.exit()
series = [e for e in root.iter(S + "polyline") if e.get("class") == "series"]
other = [e for e in root.iter(S + "polyline") if e.get("class") == "other"]
legend = sorted((int(g.get("data-rank")), t.text) for g in root.iter(S + "g")
                if g.get("class") == "legend-entry" for t in g if t.get("class") == "legend-label")
ys = {int(e.get("data-rank")): min(float(p.split(",")[1]) for p in e.get("points").split())
      for e in series}
npoints = sorted({len(e.get("points").split()) for e in series})
print("xml", len(series), len(other), "|".join(t for _, t in legend),
      ",".join(map(str, npoints)), int(ys.get(1, 0) < ys.get(2, 0)), sep="\t")
EOF
}
IFS=$'\t' read -r PARSED NSERIES NOTHER LEGEND POINTS PEAKS < <(read_svg "$T/out.svg")
check "well-formed XML (xml.etree parses it)" xml "$PARSED"
check "exactly 2 series" 2 "$NSERIES"
check "the third process is summed into one 'other' line" 1 "$NOTHER"
check "legend: the top 2 comms in byte order" "big-sender (pid $BIG)|$SPECIAL (pid $MID)" "$LEGEND"
check_range "one point per 1 s bucket over ~3 s" 3 6 "$POINTS"
check "the bigger sender peaks higher" 1 "$PEAKS"
check "the special comm is escaped in the file (legend and tooltip)" 2 "$(grep -cF 'mid&lt;&amp;&gt;&quot;q (pid' "$T/out.svg")"
check "the special comm never appears raw" 0 "$(grep -cF 'mid<&>' "$T/out.svg")"
check "other is labelled with the number of entries in it" 1 "$(grep -c 'class="legend-label"[^>]*>other (1 more)<' "$T/out.svg")"
check "self-contained: no scripts, links, style sheets or external fonts" 0 \
	"$(grep -ciE '<script|href|@import|url\(|@font-face|<style' "$T/out.svg")"
check "axis labels: rates in human units and times of day" "yes yes" \
	"$(grep -qE '>[0-9.]+ (B|kB|MB)/s<' "$T/out.svg" && echo yes) $(grep -qE '>[0-9]{2}:[0-9]{2}:[0-9]{2}<' "$T/out.svg" && echo yes)"

# --- variants ----------------------------------------------------------------------------------
fq plot --top 2 -o - > "$T/stdout.svg" 2> "$T/err"
check "-o - writes the same SVG to stdout, nothing on stderr" "0 0" \
	"$(cmp -s "$T/out.svg" "$T/stdout.svg"; echo $?) $(wc -c < "$T/err")"
check "--utc: the axis says UTC" 1 "$(fq --utc plot -o - | grep -c '>time (UTC)<')"
CGID=$(stat -c %i "$CG")
fq plot --by container -o "$T/c.svg" 2> /dev/null
IFS=$'\t' read -r PARSED NSERIES NOTHER LEGEND POINTS PEAKS < <(read_svg "$T/c.svg")
check "--by container: one line, labelled with the test cgroup's id" "xml 1 0 cgroup $CGID" \
	"$PARSED $NSERIES $NOTHER $LEGEND"
fq plot --by destination -o "$T/d.svg" 2> /dev/null
IFS=$'\t' read -r PARSED NSERIES NOTHER LEGEND POINTS PEAKS < <(read_svg "$T/d.svg")
check "--by destination: one line, 127.0.0.1" "xml 1 0 127.0.0.1" "$PARSED $NSERIES $NOTHER $LEGEND"
fq plot --top 5 -o "$T/t5.svg" 2> /dev/null
IFS=$'\t' read -r PARSED NSERIES NOTHER LEGEND POINTS PEAKS < <(read_svg "$T/t5.svg")
check "--top 5 with 3 processes: 3 lines, no other" "xml 3 0" "$PARSED $NSERIES $NOTHER"
fq plot --since @1000 --until @2000 -o "$T/empty.svg" 2> /dev/null
IFS=$'\t' read -r PARSED NSERIES NOTHER LEGEND POINTS PEAKS < <(read_svg "$T/empty.svg")
check "a window without traffic: a valid, empty plot" "xml 0 0" "$PARSED $NSERIES $NOTHER"

# --- errors: one line, exit 2 for the command line, 1 at run time -----------------------------
expect_error 2 "invalid --by 'pid'" fq plot --by pid -o "$T/x.svg"
expect_error 2 "invalid --top '0'" fq plot --top 0 -o "$T/x.svg"
expect_error 2 "needs -o FILE" fq plot --top 2
expect_error 2 "invalid time 'yesterday'" fq plot --since yesterday -o "$T/x.svg"
expect_error 2 "must be later than --since" fq plot --since @2000 --until @1000 -o "$T/x.svg"
expect_error 2 "not for 'flowq plot'" fq plot --format json -o "$T/x.svg"
expect_error 1 "cannot write $T/none/x.svg" fq plot -o "$T/none/x.svg"
expect_error 1 "nothing to plot" fq plot --since @4102444800 -o "$T/x.svg"
check "no file written by the failed commands" "" "$(ls "$T"/x.svg* "$T"/none 2>/dev/null)"

# --- a damaged or crafted database ---------------------------------------------------------
# A byte count that is not finite (REAL infinity) is left out instead of looping for ever;
# times at the ends of int64 do not overflow; byte counts beyond any link are refused.
cp "$DB" "$T/inf.db"
sqlite3 "$T/inf.db" "UPDATE flows SET bytes_out = 1e308 * 10 WHERE comm = 'small-sender';
	UPDATE flows SET start_ns = -9223372036854775808, end_ns = 9223372036854775807 WHERE comm = 'big-sender'"
timeout 20 "$FLOWQ" --db "$T/inf.db" plot --top 5 -o "$T/inf.svg" 2> "$T/inf.err"
check "infinite bytes and extreme times: exit 0, one line on stderr, valid SVG" "0|1|xml" \
	"$?|$(wc -l < "$T/inf.err")|$(read_svg "$T/inf.svg" | cut -f1)"
cp "$DB" "$T/huge.db"
sqlite3 "$T/huge.db" "UPDATE flows SET bytes_out = 1.7e308"
expect_error 1 "too large to plot" timeout 20 "$FLOWQ" --db "$T/huge.db" plot -o "$T/huge.svg"
check "-o FILE is not world-writable whatever the umask" 644 \
	"$( (umask 0; "$FLOWQ" --db "$DB" plot -o "$T/mode.svg" 2> /dev/null); stat -c %a "$T/mode.svg")"

# For a look (not a test): PLOT_KEEP=DIR keeps the SVG there.
if [ -n "${PLOT_KEEP:-}" ]; then cp "$T/out.svg" "$PLOT_KEEP/plot-top2.svg"; fi
