#!/usr/bin/env bash
# IPv6: TCP and UDP over ::1, with IPv6 header sizes (40) in the byte counts.
. "$(dirname "$0")/lib.sh"
e2e_begin ipv6

new_ns fr6$$
start_recorder

bg_ns fr6$$ python3 "$PEER" --comm srv6 --pidfile "$T/srv.pid" --ready "$T/srv.ready" tcp-server ::1 7600 --reply 3000
wait_file "$T/srv.ready"
in_ns fr6$$ python3 "$PEER" --comm cli6 --pidfile "$T/cli.pid" tcp-client ::1 7600 50000 > /dev/null
wait "$LAST_BG"
bg_ns fr6$$ python3 "$PEER" --comm echo6 --ready "$T/echo.ready" udp-echo ::1 7601 3
wait_file "$T/echo.ready"
in_ns fr6$$ python3 "$PEER" --comm udp6 --pidfile "$T/udp.pid" udp-connected ::1 7601 3 100
wait "$LAST_BG"
sleep 0.3
stop_recorder

SRV=$(cat "$T/srv.pid"); CLI=$(cat "$T/cli.pid"); UDP=$(cat "$T/udp.pid")
check "tcp in flow over ::1" "$SRV|srv6|6|::1|7600|::1" \
	"$(q "SELECT pid, comm, family, laddr, lport, raddr FROM flows WHERE direction='in' AND lport=7600")"
check "tcp out flow over ::1" "$CLI|cli6|6|::1|7600" \
	"$(q "SELECT pid, comm, family, raddr, rport FROM flows WHERE direction='out' AND rport=7600")"
read -r B P < <(q "SELECT bytes_out, packets_out FROM flows WHERE direction='out' AND rport=7600" | tr '|' ' ')
check_range "tcp bytes_out = 50000 + 60..80 per packet" $((50000 + 60 * P)) $((50000 + 80 * P)) "$B"
check "udp over ::1: 3 datagrams of 100 + 48 header bytes each way" "$UDP|6|3|444|3|444" \
	"$(q "SELECT pid, family, packets_out, bytes_out, packets_in, bytes_in FROM flows WHERE rport=7601")"
