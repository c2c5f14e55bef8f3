#!/usr/bin/env bash
# Packet capture and export: exact windows, flows, processes and filters, both file formats,
# recovery after kill -9 in the middle of capture, and retention under --max-disk.
. "$(dirname "$0")/lib.sh"
e2e_begin capture

new_ns frP$$
start_recorder
fq() { "$FLOWQ" --db "$DB" "$@"; }
# fields FILE FIELDS...: tshark fields, tab-separated, one packet a line
fields() { local f=$1; shift; tshark -r "$f" -T fields $(printf -- '-e %s ' "$@") 2>/dev/null; }

# --- 12 numbered datagrams, 0.1 s apart, and a TCP exchange ----------------------------------
bg_ns frP$$ python3 "$PEER" --comm sink --pidfile "$T/sink.pid" --ready "$T/sink.ready" udp-sink 127.0.0.1 9300 12
wait_file "$T/sink.ready"
in_ns frP$$ python3 "$PEER" --comm numbered --pidfile "$T/num.pid" udp-numbered 127.0.0.1 9300 12 0.1 "$T/num.log"
wait "$LAST_BG"
kill -HUP "$REC_PID" # the TCP exchange goes to a second segment
sleep 0.3
bg_ns frP$$ python3 "$PEER" --comm tsrv --pidfile "$T/tsrv.pid" --ready "$T/tsrv.ready" tcp-server 127.0.0.1 9301 --reply 700
wait_file "$T/tsrv.ready"
in_ns frP$$ python3 "$PEER" --comm tcli --pidfile "$T/tcli.pid" tcp-client 127.0.0.1 9301 3000 > /dev/null
wait "$LAST_BG"
sleep 1.5 # a chunk closes after 1 s
stop_recorder
NUM=$(cat "$T/num.pid"); SINK=$(cat "$T/sink.pid"); TSRV=$(cat "$T/tsrv.pid"); TCLI=$(cat "$T/tcli.pid")
SNDFLOW=$(q "SELECT id FROM flows WHERE rport=9300")
TSRVFLOW=$(q "SELECT id FROM flows WHERE lport=9301 AND direction='in'")

check "captured packets counted against the sender's flow" 12 "$(q "SELECT packets_captured FROM flows WHERE id=$SNDFLOW")"
check "segment indexed: chunks cover the packets" "$(q "SELECT sum(packets) FROM pcap_segments")" \
	"$(q "SELECT sum(packets) FROM pcap_chunks")"
check "no capture losses" "0|0|0" "$(q "SELECT capture_full, capture_lost, capture_disk FROM runs")"
check "SIGHUP started a second segment, both closed" "2|2" \
	"$(q "SELECT count(*), count(end_ns) FROM pcap_segments")"
check "SIGHUP is logged" 1 "$(grep -c 'SIGHUP: pcap segment closed' "$T/recorder.log")"

# Everything of the sender's flow, in order: seq 1..12, each with its process in the comment.
fq pcap -w "$T/all.pcapng" --flow "$SNDFLOW" 2> /dev/null
check "export by flow: the 12 datagrams in order" "$(seq -f 'seq=%06g' 1 12 | tr '\n' ' ')" \
	"$(fields "$T/all.pcapng" udp.payload | python3 -c 'import sys; print(*[bytes.fromhex(l.strip().replace(":",""))[:10].decode() for l in sys.stdin], end=" ")')"
check "pcapng comment names the sender" "pid=$NUM tid=$NUM comm=numbered flow=$SNDFLOW" \
	"$(fields "$T/all.pcapng" frame.comment | sort -u)"
check "direction is outbound" "0x00000002" "$(fields "$T/all.pcapng" frame.packet_flags | sort -u)"

# The window from datagram 4's timestamp to datagram 9's, inclusive: exactly 4..9.
TS4=$(fields "$T/all.pcapng" frame.time_epoch | sed -n 4p)
TS9=$(fields "$T/all.pcapng" frame.time_epoch | sed -n 9p)
fq pcap -w "$T/win.pcapng" --flow "$SNDFLOW" --since "@$TS4" --until "@$TS9" 2> /dev/null
check "window between two datagrams: exactly those, bounds inclusive" "4 5 6 7 8 9 " \
	"$(fields "$T/win.pcapng" udp.payload | python3 -c 'import sys; print(*[int(bytes.fromhex(l.strip().replace(":",""))[4:10]) for l in sys.stdin], end=" ")')"
fq pcap -w "$T/win2.pcapng" --since "@$TS4" --until "@$TS9" --port 9300 2> /dev/null
# Each datagram is seen leaving the sender and, microseconds later, arriving at the sink: the
# window holds 4..9 leaving and 4..8 arriving (9 arrives after the window's end).
check "same window without a flow: both ends of 4..8, and 9 leaving" "4 4 5 5 6 6 7 7 8 8 9 " \
	"$(fields "$T/win2.pcapng" udp.payload | python3 -c 'import sys; print(*sorted(int(bytes.fromhex(l.strip().replace(":",""))[4:10]) for l in sys.stdin), end=" ")')"

# By pid: the sink's in flow only; the sink's comment.
fq pcap -w "$T/sink.pcapng" --pid "$SINK" 2> /dev/null
check "export by pid: the sink's 12 received datagrams" "12 pid=$SINK tid=$SINK comm=sink" \
	"$(echo $(fields "$T/sink.pcapng" frame.comment | wc -l) $(fields "$T/sink.pcapng" frame.comment | sort -u | sed 's/ flow=.*//'))"

# A tcpdump filter: only the TCP server's packets with payload.
fq pcap -w "$T/f.pcapng" --pid "$TSRV" --filter 'tcp and greater 100' 2> /dev/null
check "--filter: only the server's packets over 100 bytes: 3000 in, 700 out (+52 header bytes)" \
	"3052 $(q "SELECT rport FROM flows WHERE id=$TSRVFLOW")>9301 752 9301>$(q "SELECT rport FROM flows WHERE id=$TSRVFLOW") " \
	"$(fields "$T/f.pcapng" frame.len tcp.srcport tcp.dstport | sort -rn | awk '{ printf "%s %s>%s ", $1, $2, $3 }')"
check "bad --filter is a clear error" 2 "$(fq pcap -w "$T/bad.pcap" --filter 'tcp and and' 2>/dev/null; echo $?)"
fq pcap -w "$T/bad.pcap" --port 1 --filter 'udp) or (udp' 2> "$T/esc.err"
check "--filter that is not one expression cannot escape the AND with --port: refused, one line" "2|1|1" \
	"$?|$(wc -l < "$T/esc.err")|$(grep -c "^flowq: invalid --filter 'udp) or (udp': " "$T/esc.err")"
check "no file left by a failed export" "" "$(ls "$T"/bad.pcap* 2>/dev/null)"

# The accepted flow includes its handshake, seen on the listening socket.
fq pcap -w "$T/tsrv.pcapng" --flow "$TSRVFLOW" 2> /dev/null
check "accepted flow export starts with the SYN (inbound)" "0x0002 0x00000001" \
	"$(fields "$T/tsrv.pcapng" tcp.flags frame.packet_flags | head -1 | tr '\t' ' ')"
check "accepted flow export: every packet of the flow, handshake included" \
	"$(q "SELECT packets_in + packets_out FROM flows WHERE id=$TSRVFLOW")" "$(fields "$T/tsrv.pcapng" frame.number | wc -l)"

# Classic pcap for tcpdump, and standard output for tshark.
fq pcap -w "$T/all.pcap" --flow "$SNDFLOW" 2> /dev/null
check "tcpdump reads the classic pcap" 12 "$(tcpdump -nn -r "$T/all.pcap" 2>/dev/null | grep -c 'UDP, length 51')"
check "pcap to standard output, read by tshark" 12 "$(fq pcap -w - --format pcap --flow "$SNDFLOW" 2>/dev/null | tshark -r - 2>/dev/null | wc -l)"

# Anything but a regular file is written in place, never renamed over; a FILE.tmp of the
# user's is left alone.
fq pcap -w /dev/null --format pcap --flow "$SNDFLOW" 2> /dev/null
check "-w /dev/null: exit 0, and /dev/null is still a character device" "0|1" "$?|$([ -c /dev/null ] && echo 1)"
fq pcap -w /dev/full --format pcap --flow "$SNDFLOW" 2> "$T/full.err"
check "-w /dev/full: exit 1, the error named" "1|1" "$?|$(grep -c '^flowq: cannot write /dev/full: No space left on device$' "$T/full.err")"
check "-w /dev/full: still a character device" 1 "$([ -c /dev/full ] && echo 1)"
echo mine > "$T/keep.pcap.tmp"
fq pcap -w "$T/keep.pcap" --flow "$SNDFLOW" 2> /dev/null
check "an unrelated FILE.tmp is left as it was, FILE written" "mine|12" \
	"$(cat "$T/keep.pcap.tmp")|$(tcpdump -nn -r "$T/keep.pcap" 2>/dev/null | grep -c 'UDP, length 51')"
mkfifo "$T/fifo"
tcpdump -nn -r "$T/fifo" > "$T/fifo.out" 2> /dev/null &
FIFO_READER=$!
fq pcap -w "$T/fifo" --format pcap --flow "$SNDFLOW" 2> /dev/null
FIFO_RC=$?
wait "$FIFO_READER" # here, not in a $(...) subshell, which cannot wait for it
check "-w FIFO: written through the FIFO, read by tcpdump" "0|12" "$FIFO_RC|$(grep -c 'UDP, length 51' "$T/fifo.out")"
# A FIFO put where a segment was is skipped with a warning, not opened for ever.
cp -a "$DATA" "$T/fifoseg"
for f in "$T"/fifoseg/pcap/*.pcapng; do rm -f "$f"; mkfifo "$f"; done
timeout 10 "$FLOWQ" --data "$T/fifoseg" pcap -w "$T/fifoseg.pcap" --format pcap --flow "$SNDFLOW" 2> "$T/fifoseg.err"
check "a FIFO segment: skipped with a warning, no hang, no packet" "0|1|0" \
	"$?|$(grep -q 'flowq: warning: .*fifoseg/pcap/.* is not a regular file; its packets are skipped' "$T/fifoseg.err" && echo 1)|$(tcpdump -nn -r "$T/fifoseg.pcap" 2>/dev/null | wc -l)"
check "-w FIFO: still a FIFO" 1 "$([ -p "$T/fifo" ] && echo 1)"

# --- kill -9 in the middle of heavy capture ---------------------------------------------------
start_recorder --segment-size 512K
bg_ns frP$$ python3 "$PEER" --ready "$T/sink2.ready" udp-sink 127.0.0.1 9302 1000000
SINK2=$LAST_BG
wait_file "$T/sink2.ready"
bg_ns frP$$ python3 "$PEER" --comm flood udp-numbered 127.0.0.1 9302 20000 0.0002 "$T/flood.log"
FLOOD=$LAST_BG
# Timed from the flood's first datagram, not its start: python starts slowly under the VM.
for ((i = 0; i < 200; i++)); do [ -s "$T/flood.log" ] && break; sleep 0.05; done
sleep 1.5
KILL_NS=$(date +%s%N)
kill -9 "$REC_PID"; wait "$REC_PID" 2>/dev/null; REC_PID=
wait "$FLOOD"; kill "$SINK2"
start_recorder --segment-size 512K # recovers
stop_recorder
check "database intact after kill -9" ok "$(q "PRAGMA integrity_check")"
bad=0
while IFS='|' read -r path bytes maxend; do
	size=$(stat -c %s "$DATA/$path")
	[ "$size" -eq "$bytes" ] && [ "$maxend" -le "$size" ] || { bad=1; echo "# $path: size $size, indexed $bytes, chunks end at $maxend"; }
	tshark -r "$DATA/$path" > /dev/null 2>&1 || { bad=1; echo "# $path does not parse"; }
done < <(q "SELECT path, bytes, (SELECT COALESCE(max(offset + length), 0) FROM pcap_chunks c WHERE c.segment_id = s.id) FROM pcap_segments s WHERE deleted_ns IS NULL")
check "every segment parses, and no index row points past the end of its file" 0 "$bad"
# Datagrams sent more than 0.5 s before the kill were written: all of them export.
EXPECT=$(awk -v k="$KILL_NS" '$3 < k - 500000000 { n = $1 } END { print n + 0 }' "$T/flood.log")
FLOODFLOW=$(q "SELECT id FROM flows WHERE rport=9302 AND run_id=2")
fq pcap -w "$T/flood.pcapng" --flow "$FLOODFLOW" 2> /dev/null
GOT=$(fields "$T/flood.pcapng" udp.payload | python3 -c '
import sys
seqs = [int(bytes.fromhex(l.strip().replace(":", ""))[4:10]) for l in sys.stdin]
n = 0
while n < len(seqs) and seqs[n] == n + 1:
    n += 1
print(n)')
if [ "$GOT" -ge "$EXPECT" ] && [ "$EXPECT" -gt 100 ]; then
	ok "kill -9: datagrams 1..$GOT export in order (all $EXPECT sent 0.5 s before the kill)"
else
	fail "kill -9: only 1..$GOT export in order, $EXPECT were sent 0.5 s before the kill"
fi

# --- retention -----------------------------------------------------------------------------------
rm -rf "$DATA"
start_recorder --max-disk 1M --segment-size 64K --snaplen 0
bg_ns frP$$ python3 "$PEER" --ready "$T/sink3.ready" udp-sink 127.0.0.1 9303 1000000
SINK3=$LAST_BG
wait_file "$T/sink3.ready"
in_ns frP$$ python3 "$PEER" --comm bulk udp-numbered 127.0.0.1 9303 10000 0 "$T/bulk.log"
kill "$SINK3"
sleep 1.2
stop_recorder
ONDISK=$(du -cb "$DATA"/pcap/*.pcapng | tail -1 | cut -f1)
check_range "retention: segments on disk within --max-disk (1 MiB)" 1 1048576 "$ONDISK"
check "retention: the files on disk are exactly the segments the index has not deleted" \
	"$(q "SELECT path FROM pcap_segments WHERE deleted_ns IS NULL ORDER BY path")" \
	"$(cd "$DATA" && ls pcap/*.pcapng | LC_ALL=C sort)"
check "retention: deleted segments recorded, their chunks gone" "0" \
	"$(q "SELECT count(*) FROM pcap_chunks c JOIN pcap_segments s ON s.id = c.segment_id WHERE s.deleted_ns IS NOT NULL")"
check_range "retention: some segments were deleted" 1 1000 "$(q "SELECT count(*) FROM pcap_segments WHERE deleted_ns IS NOT NULL")"
check "retention: flows are kept" 10000 "$(q "SELECT packets_out FROM flows WHERE rport=9303")"
BULKFLOW=$(q "SELECT id FROM flows WHERE rport=9303")
fq pcap -w "$T/bulk.pcapng" --flow "$BULKFLOW" 2> /dev/null
LEFT=$(q "SELECT sum(f.packets) FROM pcap_chunk_flows f WHERE f.flow_id=$BULKFLOW")
check "retention: export returns exactly what is left, the newest datagrams" "$LEFT 10000" \
	"$(echo $(fields "$T/bulk.pcapng" frame.number | wc -l) $(fields "$T/bulk.pcapng" udp.payload | tail -1 | python3 -c 'import sys; print(int(bytes.fromhex(sys.stdin.read().strip().replace(":",""))[4:10]))'))"

# --- a full disk: capture pauses (counted), flows go on ----------------------------------------
rm -rf "$DATA"; mkdir -p "$DATA/pcap"
mount -t tmpfs -o size=200k flowrec-e2e-full "$DATA/pcap" && MOUNTS+=("$DATA/pcap")
start_recorder --snaplen 0
bg_ns frP$$ python3 "$PEER" --ready "$T/sink4.ready" udp-sink 127.0.0.1 9304 1000000
SINK4=$LAST_BG
wait_file "$T/sink4.ready"
in_ns frP$$ python3 "$PEER" --comm filler udp-numbered 127.0.0.1 9304 5000 0 "$T/fill.log"
kill "$SINK4"
sleep 0.5
stop_recorder
check "full disk: flows still recorded exactly" 5000 "$(q "SELECT packets_out FROM flows WHERE rport=9304")"
check_range "full disk: dropped packets counted" 1 10000 "$(q "SELECT capture_disk FROM runs")"
# One line when capture pauses; a retry (at most once a second) may resume and pause again.
check_range "full disk: a clear message, not one per packet" 1 5 "$(grep -c 'packet capture paused, flows are still recorded' "$T/recorder.log")"
check "full disk: what was written still parses" 0 "$(for f in "$DATA"/pcap/*.pcapng; do tshark -r "$f" > /dev/null 2>&1 || echo bad; done | wc -l)"
FULLFLOW=$(q "SELECT id FROM flows WHERE rport=9304")
check "full disk: packets_captured is what the files hold (the export of the flow)" \
	"$(q "SELECT packets_captured FROM flows WHERE id=$FULLFLOW")" \
	"$("$FLOWQ" --db "$DB" pcap -w - --format pcap --flow "$FULLFLOW" 2>/dev/null | tcpdump -nn -r - 2>/dev/null | wc -l)"
check "full disk: the index's per-flow counts say the same" "$(q "SELECT packets_captured FROM flows WHERE id=$FULLFLOW")" \
	"$(q "SELECT coalesce(sum(packets), 0) FROM pcap_chunk_flows WHERE flow_id=$FULLFLOW")"
umount "$DATA/pcap"

# The disk full from the start, freed a second later: the first segment cannot get its header
# then, and must not be made without one (capture resumes in a readable segment).
rm -rf "$DATA"; mkdir -p "$DATA/pcap"
mount -t tmpfs -o size=200k flowrec-e2e-full "$DATA/pcap" && MOUNTS+=("$DATA/pcap")
dd if=/dev/zero of="$DATA/pcap/filler" bs=4k 2> /dev/null
start_recorder --snaplen 0
bg_ns frP$$ python3 "$PEER" --ready "$T/sink5.ready" udp-sink 127.0.0.1 9305 1000000
SINK5=$LAST_BG
wait_file "$T/sink5.ready"
bg_ns frP$$ python3 "$PEER" --comm late udp-numbered 127.0.0.1 9305 600 0.005 "$T/late.log"
LATE=$LAST_BG
sleep 1.2
rm -f "$DATA/pcap/filler"
wait "$LATE"
kill "$SINK5"
sleep 0.5
stop_recorder
LATEFLOW=$(q "SELECT id FROM flows WHERE rport=9305")
check_range "disk full at the start: packets dropped, counted (600 sent, 600 received)" 1 1199 "$(q "SELECT capture_disk FROM runs")"
check "disk full at the start: every segment file parses" "0" \
	"$(for f in "$DATA"/pcap/*.pcapng; do tshark -r "$f" > /dev/null 2>&1 || echo bad; done | wc -l)"
check "disk full at the start: captured once the disk had room, as many as counted" \
	"$(q "SELECT packets_captured FROM flows WHERE id=$LATEFLOW")" \
	"$("$FLOWQ" --db "$DB" pcap -w - --format pcap --flow "$LATEFLOW" 2>/dev/null | tcpdump -nn -r - 2>/dev/null | grep -c 'UDP, length 51')"
check_range "disk full at the start: some packets captured after it" 1 599 "$(q "SELECT packets_captured FROM flows WHERE id=$LATEFLOW")"
umount "$DATA/pcap"
