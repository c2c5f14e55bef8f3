#!/usr/bin/env bash
# Forced losses: the smallest buffers (--buffer-size 16K: a few dozen events) and a burst of
# 2000 unconnected UDP sockets and 200 TCP connections made and closed faster than the
# consumer reads. Events are lost, and counted; every flow still gets its row, its owner and
# its end, 'closed' (an unconnected UDP flow ends only with its socket's release, whose event
# is among those lost: the sweep ends it from the released map).
. "$(dirname "$0")/lib.sh"
e2e_begin loss

new_ns frL$$
cat > "$T/burst.py" <<'PY'
import os, socket, sys
n_udp, n_tcp = int(sys.argv[1]), int(sys.argv[2])
for i in range(n_udp):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x" * 10, ("127.0.0.1", 9))
    s.close()
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 7390))
srv.listen(512)
for i in range(n_tcp):
    c = socket.create_connection(("127.0.0.1", 7390))
    a, _ = srv.accept()
    c.sendall(b"y" * 20)
    a.recv(20)
    c.close()
    a.close()
print(os.getpid())
PY
start_recorder --buffer-size 16K
in_ns frL$$ python3 "$T/burst.py" 2000 200 > "$T/burst.out"
check "the burst ran" 0 $?
PID=$(cat "$T/burst.out")
sleep 1.5 # several sweeps (--flush-interval 0.2)
stop_recorder

check_range "events were lost (the ring buffer was full)" 1 1000000 "$(q "SELECT ringbuf_full FROM runs")"
check "every UDP socket's flow: 2000 rows, the sender's, 38 bytes out each (10 + IP and UDP headers)" "2000|2000|2000" \
	"$(q "SELECT count(*), sum(pid = $PID), sum(bytes_out = 38) FROM flows WHERE proto = 'udp' AND rport = 9")"
check "every UDP flow ended with its socket's release, none left to the recorder's stop" "2000|0" \
	"$(q "SELECT sum(end_reason = 'closed'), sum(end_ns IS NULL OR end_ns < start_ns) FROM flows WHERE proto = 'udp' AND rport = 9")"
check "every TCP connection: 200 client and 200 server flows, all closed" "200|200|400" \
	"$(q "SELECT sum(direction = 'out'), sum(direction = 'in'), sum(end_reason = 'closed') FROM flows WHERE proto = 'tcp' AND (rport = 7390 OR lport = 7390)")"
check "runs.lost_events is the sum of the loss counters, each loss counted once" 1 \
	"$(q "SELECT lost_events = ringbuf_full + flows_full + owners_full + pending_full + capture_full + capture_lost + capture_disk + socket_events_lost FROM runs")"
