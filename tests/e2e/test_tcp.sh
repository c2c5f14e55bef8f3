#!/usr/bin/env bash
# TCP attribution: server and client processes, accepted vs connected, a listening socket
# shared by several accepting processes, and two namespaces with the same server address.
. "$(dirname "$0")/lib.sh"
e2e_begin tcp

new_ns frA$$
new_ns frB$$
NSA=$(netns_inode frA$$)
NSB=$(netns_inode frB$$)
start_recorder

# --- one server process, one client process -------------------------------------------
bg_ns frA$$ python3 "$PEER" --comm srv-one --pidfile "$T/srv.pid" --ready "$T/srv.ready" \
	tcp-server 127.0.0.1 7001 --reply 5000
wait_file "$T/srv.ready"
in_ns frA$$ python3 "$PEER" --comm cli-one --pidfile "$T/cli.pid" tcp-client 127.0.0.1 7001 200000 > "$T/cli.out"
wait "$LAST_BG"
SRV=$(cat "$T/srv.pid"); CLI=$(cat "$T/cli.pid")
check "client read the whole reply" 5000 "$(cat "$T/cli.out")"

# --- a listening socket shared by two processes, each accepting one connection ---------
bg_ns frA$$ python3 "$PEER" --comm acc-parent --pidfile "$T/acc.pid" --ready "$T/acc.ready" \
	tcp-server 127.0.0.1 7002 --forks 2
wait_file "$T/acc.ready"
wait_file "$T/acc.pid.0"; wait_file "$T/acc.pid.1"
in_ns frA$$ python3 "$PEER" --comm cli-shared tcp-client 127.0.0.1 7002 1111 > /dev/null
in_ns frA$$ python3 "$PEER" --comm cli-shared tcp-client 127.0.0.1 7002 2222 > /dev/null
wait "$LAST_BG"

# --- two namespaces, each with a server on 0.0.0.0:8080 --------------------------------
for ns in frA$$ frB$$; do
	bg_ns $ns python3 "$PEER" --comm srv8080 --pidfile "$T/$ns.srv" --ready "$T/$ns.ready" \
		tcp-server 0.0.0.0 8080
	wait_file "$T/$ns.ready"
done
in_ns frA$$ python3 "$PEER" --comm cli8080 --pidfile "$T/frA.cli" tcp-client 127.0.0.1 8080 10000 > /dev/null
in_ns frB$$ python3 "$PEER" --comm cli8080 --pidfile "$T/frB.cli" tcp-client 127.0.0.1 8080 30000 > /dev/null
# --- a refused connection: SYN out, RST back, and the flow ends --------------------------------
in_ns frA$$ python3 -c '
import socket
s = socket.socket()
try:
    s.connect(("127.0.0.1", 7009))
except ConnectionRefusedError:
    pass
s.close()'
sleep 0.5
stop_recorder

# --- checks ------------------------------------------------------------------------------
check "two flows on port 7001" 2 "$(q "SELECT count(*) FROM flows WHERE lport=7001 OR rport=7001")"
check "in flow: server pid, comm, netns, addresses" "$SRV|srv-one|$NSA|tcp|4|127.0.0.1|7001|127.0.0.1" \
	"$(q "SELECT pid, comm, netns, proto, family, laddr, lport, raddr FROM flows WHERE direction='in' AND lport=7001")"
check "out flow: client pid, comm, netns" "$CLI|cli-one|$NSA|127.0.0.1|7001" \
	"$(q "SELECT pid, comm, netns, raddr, rport FROM flows WHERE direction='out' AND rport=7001")"
check "client and server ports pair up" 1 \
	"$(q "SELECT count(*) FROM flows o JOIN flows i ON o.lport = i.rport AND i.lport = o.rport
	      WHERE o.direction='out' AND o.rport=7001 AND i.direction='in'")"
read -r OUT_B OUT_P IN_B IN_P < <(q "SELECT bytes_out, packets_out, bytes_in, packets_in FROM flows WHERE direction='out' AND rport=7001" | tr '|' ' ')
# IPv4 (20) + TCP (20, plus options up to 40 on SYN; 12 for timestamps) per packet.
check_range "client bytes_out = 200000 payload + 40..60 per packet" \
	$((200000 + 40 * OUT_P)) $((200000 + 60 * OUT_P)) "$OUT_B"
check_range "client bytes_in = 5000 payload + 40..60 per packet" \
	$((5000 + 40 * IN_P)) $((5000 + 60 * IN_P)) "$IN_B"
check "server saw exactly what the client sent" "$OUT_B|$OUT_P|$IN_B|$IN_P" \
	"$(q "SELECT bytes_in, packets_in, bytes_out, packets_out FROM flows WHERE direction='in' AND lport=7001")"
check "both flows ended, start <= last <= end" 2 \
	"$(q "SELECT count(*) FROM flows WHERE (lport=7001 OR rport=7001) AND end_ns IS NOT NULL AND start_ns <= last_ns AND last_ns <= end_ns")"
check "server process row" "srv-one|$NSA" "$(q "SELECT comm, netns FROM processes WHERE pid=$SRV")"
check "flow joins its process row" 1 \
	"$(q "SELECT count(*) FROM flows f JOIN processes p ON p.pid=f.pid AND p.start_ns=f.proc_start_ns WHERE f.direction='in' AND f.lport=7001")"

# Shared listening socket: each accepted flow belongs to the child that accepted it.
A0=$(cat "$T/acc.pid.0"); A1=$(cat "$T/acc.pid.1")
check "shared listener: one in flow per accepting child" "$(printf '%s\n' "$A0" "$A1" | sort -n | tr '\n' ' ')" \
	"$(q "SELECT pid FROM flows WHERE direction='in' AND lport=7002 ORDER BY pid" | tr '\n' ' ')"
check "shared listener: accepting children's comms" "acceptor0 acceptor1 " \
	"$(q "SELECT comm FROM flows WHERE direction='in' AND lport=7002 ORDER BY comm" | tr '\n' ' ')"
check "shared listener: handshake and payload counted on the accepted flows" "1 1 " \
	"$(q "SELECT packets_in >= 4 AND bytes_in >= 1111 + 4*40 FROM flows WHERE direction='in' AND lport=7002 ORDER BY pid" | tr '\n' ' ')"

# Two namespaces, same server address: told apart by netns, pid and bytes.
for x in "frA$$ $NSA 10000" "frB$$ $NSB 30000"; do
	set -- $x
	P=$(cat "$T/$1.srv")
	read -r B PK < <(q "SELECT bytes_in, packets_in FROM flows WHERE direction='in' AND lport=8080 AND netns=$2" | tr '|' ' ')
	check "netns $2: one in flow on 8080 with its own server pid" "1|$P" \
		"$(q "SELECT count(*), pid FROM flows WHERE direction='in' AND lport=8080 AND netns=$2")"
	check_range "netns $2: bytes received fit the client's $3" $(($3 + 40 * PK)) $(($3 + 60 * PK)) "$B"
done
check "refused connect: one out flow, SYN out and RST in, ended" "out|1|1|1" \
	"$(q "SELECT direction, packets_out, packets_in, end_ns IS NOT NULL FROM flows WHERE rport=7009")"
check "no losses" "0|0|0|0" "$(q "SELECT lost_events, ringbuf_full, flows_full, owners_full FROM runs")"

# --- one 4-tuple in two namespaces' handshakes at once ---------------------------------------
# In frC the server never sees the client's last ACK (dropped), so its handshake stays
# pending; a second later the same 4-tuple connects in frD. frD's accepted flow must carry
# frD's handshake only: it starts at frD's SYN, not at frC's a second before.
new_ns frC$$
new_ns frD$$
ip netns exec frC$$ nft -f - <<'NFT' || fail "cannot set up nftables in frC"
table inet hold {
	chain in {
		type filter hook input priority 0; policy accept;
		tcp dport 7400 tcp flags & (syn | ack) == ack drop
	}
}
NFT
cat > "$T/same4.py" <<'PY'
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 7400)); srv.listen(8)
c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c.bind(("127.0.0.1", 45123)); c.connect(("127.0.0.1", 7400))
if sys.argv[1] == "accept":
    a, _ = srv.accept(); a.close()
    c.close()
else:
    time.sleep(float(sys.argv[2]))
PY
start_recorder
bg_ns frC$$ python3 "$T/same4.py" hold 4
sleep 1
in_ns frD$$ python3 "$T/same4.py" accept
sleep 0.5
stop_recorder
NSD=$(netns_inode frD$$)
check "same 4-tuple in two namespaces: frD's accepted flow starts at frD's own SYN, after its client's connect" "1|1" \
	"$(q "SELECT count(*), min(s.start_ns >= c.start_ns) FROM flows s, flows c WHERE s.direction = 'in' AND s.lport = 7400 AND s.netns = $NSD AND c.direction = 'out' AND c.rport = 7400 AND c.netns = $NSD")"
DFLOW=$(q "SELECT id FROM flows WHERE direction = 'in' AND lport = 7400 AND netns = $NSD")
"$FLOWQ" --db "$DB" pcap -w "$T/same4.pcap" --format pcap --flow "$DFLOW" 2> /dev/null
check "same 4-tuple in two namespaces: the export of frD's accepted flow has frD's SYN only, not frC's" 1 \
	"$(tcpdump -nn -r "$T/same4.pcap" 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0' 2>/dev/null | wc -l)"
