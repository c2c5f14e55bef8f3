#!/usr/bin/env python3
"""Traffic peers for the end-to-end tests: exact, known payloads so flows can be checked
byte for byte.

Each mode names itself (prctl PR_SET_NAME) before it opens a socket, so the recorded comm is
known, and writes "pid" to --pidfile so the test knows which process to expect.

  tcp-server ADDR PORT [--reply N] [--accepts K] [--forks F] [--mptcp]
      listen; per accepted connection read until EOF, print the byte count, reply N bytes.
      --forks F: the listening socket is shared by F child processes that each accept once
      (each child writes its pid to PIDFILE.<i>). --mptcp: an MPTCP socket (protocol 262).
  tcp-client ADDR PORT SEND [--chunks C --interval S] [--mptcp]
      connect, send SEND bytes (in C chunks S seconds apart), shut down, read until EOF.
  icmp-echo ADDR COUNT SIZE [--raw]
      COUNT echo requests with SIZE payload bytes through a ping socket (or a raw one), each
      waiting for its reply; prints the echo identifier, then how many replies came
  udp-echo ADDR PORT COUNT       receive COUNT datagrams, echo each back
  udp-sink ADDR PORT COUNT       receive COUNT datagrams
  udp-connected ADDR PORT COUNT SIZE     connect(), send COUNT datagrams, read the echoes
  udp-unconnected SIZE ADDR1 PORT1 N1 ADDR2 PORT2 N2   sendto() from one socket to two peers
  hold ADDR PORT SEND FIFO       connect and send SEND bytes each time a line is read from FIFO;
                                 exit at EOF (a connection that outlives a recorder start)
  dns-delayed ADDR PORT DELAY COUNT   answer COUNT DNS queries with an A record 10.53.0.9,
                                      each DELAY seconds after it arrived
  resolve-connect NAME PORT      resolve NAME with the system resolver, connect to its first
                                 IPv4 address, send 10 bytes
  udp-send ADDR PORT HEX         send one datagram of these bytes
  udp-numbered ADDR PORT COUNT INTERVAL LOG
      send COUNT datagrams "seq=000001 ..." INTERVAL seconds apart from one connected socket;
      LOG gets "seq epoch_ns_before epoch_ns_after" per datagram
  attempt KIND ADDR PORT [--src ADDR] [--uid N]
      one try, printing its outcome: "ok", an errno name (EPERM) or "timeout" (2 s). KIND:
      tcp (connect, send 10 bytes), udp-sendto (two 12-byte datagrams), udp-connect (connect,
      one 12-byte datagram), bind-tcp (bind ADDR PORT, as uid N if given)
  policy-server ADDR TCPPORTS UDPPORT LOG
      accept on every port of the comma-separated TCPPORTS (reading each connection to EOF)
      and receive on UDPPORT; LOG gets "tcp PORT PEER BYTES" / "udp PORT PEER BYTES" lines
"""
import argparse
import errno
import ctypes
import os
import socket
import struct
import sys
import time


def set_comm(name):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def write_pid(path, pid=None):
    if path:
        with open(path + ".tmp", "w") as f:
            f.write(f"{pid or os.getpid()}\n")
        os.rename(path + ".tmp", path)


def recv_all(conn):
    n = 0
    while True:
        d = conn.recv(65536)
        if not d:
            return n
        n += len(d)


def serve_one(conn, reply):
    n = recv_all(conn)
    print(n, flush=True)
    if reply:
        conn.sendall(b"r" * reply)
    conn.close()


IPPROTO_MPTCP = 262


def tcp_server(a):
    s = socket.socket(family_of(a.addr), socket.SOCK_STREAM, IPPROTO_MPTCP if a.mptcp else 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.addr, a.port))
    s.listen(64)
    if a.forks:
        kids = []
        for i in range(a.forks):
            pid = os.fork()
            if pid == 0:
                set_comm(f"acceptor{i}")
                write_pid(f"{a.pidfile}.{i}")
                conn, _ = s.accept()
                serve_one(conn, a.reply)
                os._exit(0)
            kids.append(pid)
        if a.ready:
            open(a.ready, "w").close()
        for pid in kids:
            os.waitpid(pid, 0)
        return
    if a.ready:
        open(a.ready, "w").close()
    for _ in range(a.accepts):
        conn, _ = s.accept()
        serve_one(conn, a.reply)


def tcp_client(a):
    c = socket.socket(family_of(a.addr), socket.SOCK_STREAM, IPPROTO_MPTCP if a.mptcp else 0)
    c.connect((a.addr, a.port))
    chunk = a.send // a.chunks
    for i in range(a.chunks):
        size = chunk if i < a.chunks - 1 else a.send - chunk * (a.chunks - 1)
        c.sendall(b"s" * size)
        if i < a.chunks - 1:
            time.sleep(a.interval)
    c.shutdown(socket.SHUT_WR)
    print(recv_all(c), flush=True)
    c.close()


def udp_server(a, echo):
    s = socket.socket(family_of(a.addr), socket.SOCK_DGRAM)
    s.bind((a.addr, a.port))
    if a.ready:
        open(a.ready, "w").close()
    for _ in range(a.count):
        d, peer = s.recvfrom(65536)
        if echo:
            s.sendto(d, peer)
    s.close()


def udp_connected(a):
    s = socket.socket(family_of(a.addr), socket.SOCK_DGRAM)
    s.connect((a.addr, a.port))
    s.settimeout(5)
    for _ in range(a.count):
        s.send(b"u" * a.size)
        s.recv(65536)
    s.close()


def udp_unconnected(a):
    s = socket.socket(family_of(a.addr1), socket.SOCK_DGRAM)
    for addr, port, n in ((a.addr1, a.port1, a.n1), (a.addr2, a.port2, a.n2)):
        for _ in range(n):
            s.sendto(b"v" * a.size, (addr, port))
            time.sleep(0.01)
    s.close()


def hold(a):
    c = socket.create_connection((a.addr, a.port))
    with open(a.fifo) as f:
        for _ in f:
            c.sendall(b"h" * a.send)
    c.shutdown(socket.SHUT_WR)
    recv_all(c)
    c.close()


def udp_numbered(a):
    s = socket.socket(family_of(a.addr), socket.SOCK_DGRAM)
    s.connect((a.addr, a.port))
    with open(a.log, "w") as log:
        for i in range(1, a.count + 1):
            before = time.time_ns()
            s.send(b"seq=%06d " % i + b"n" * 40)
            log.write(f"{i} {before} {time.time_ns()}\n")
            log.flush()
            if a.interval:
                time.sleep(a.interval)
    s.close()


def dns_delayed(a):
    s = socket.socket(family_of(a.addr), socket.SOCK_DGRAM)
    s.bind((a.addr, a.port))
    if a.ready:
        open(a.ready, "w").close()
    for _ in range(a.count):
        q, peer = s.recvfrom(4096)
        time.sleep(a.delay)
        qend = 12
        while q[qend] != 0:
            qend += q[qend] + 1
        qend += 5  # root label, qtype, qclass
        hdr = q[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
        answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([10, 53, 0, 9])
        s.sendto(hdr + q[12:qend] + answer, peer)


def resolve_connect(a):
    addr = socket.getaddrinfo(a.name, a.port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    c = socket.create_connection(addr)
    c.sendall(b"x" * 10)
    c.close()


def udp_send(a):
    s = socket.socket(family_of(a.addr), socket.SOCK_DGRAM)
    s.sendto(bytes.fromhex(a.hex), (a.addr, a.port))
    s.close()


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def icmp_echo(a):
    """COUNT echo requests of SIZE payload bytes, each waiting for its reply, through a ping
    socket (the kernel sets the identifier: the socket's port) or a raw one (identifier 0x4242;
    IPv4 checksum ours, IPv6's the kernel's). Prints the identifier, then the replies got."""
    fam = family_of(a.addr)
    v6 = fam == socket.AF_INET6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    s = socket.socket(fam, socket.SOCK_RAW if a.raw else socket.SOCK_DGRAM, proto)
    s.settimeout(2)
    ident = 0x4242
    req, rep = (128, 129) if v6 else (8, 0)
    got = 0
    for seq in range(1, a.count + 1):
        payload = bytes([seq]) * a.size
        hdr = struct.pack("!BBHHH", req, 0, 0, ident, seq)
        if a.raw and not v6:
            hdr = struct.pack("!BBHHH", req, 0, inet_checksum(hdr + payload), ident, seq)
        s.sendto(hdr + payload, (a.addr, 0))
        if not a.raw and seq == 1:
            ident = s.getsockname()[1]
            print(ident, flush=True)
        while True:
            data = s.recv(65535)
            if a.raw and not v6:
                data = data[(data[0] & 0xF) * 4:]  # raw IPv4 delivers the IP header
            if data[0] == rep and struct.unpack("!H", data[6:8])[0] == seq:
                got += 1
                break
    if a.raw:
        print(ident, flush=True)
    print(got, flush=True)


def attempt(a):
    fam = family_of(a.addr)
    try:
        if a.uid is not None:
            os.setresuid(a.uid, a.uid, a.uid)
        if a.kind == "tcp":
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(2)
            if a.src:
                s.bind((a.src, 0))
            if a.late_uid is not None:  # the socket is root's, the connect another user's
                os.setresuid(a.late_uid, a.late_uid, a.late_uid)
            s.connect((a.addr, a.port))
            s.sendall(b"x" * 10)
            s.shutdown(socket.SHUT_WR)
            s.recv(1)
        elif a.kind == "udp-sendto":
            s = socket.socket(fam, socket.SOCK_DGRAM)
            if a.src:
                s.bind((a.src, a.sport))
            for _ in range(2):
                s.sendto(b"q" * 12, (a.addr, a.port))
        elif a.kind == "udp-connect":
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.connect((a.addr, a.port))
            s.send(b"q" * 12)
        elif a.kind in ("bind-tcp", "bind-noport"):
            s = socket.socket(fam, socket.SOCK_STREAM)
            if a.kind == "bind-noport":  # the port is chosen at connect()
                s.setsockopt(socket.IPPROTO_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
            s.bind((a.addr, a.port))
        s.close()
        print("ok", flush=True)
    except TimeoutError:
        print("timeout", flush=True)
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)), flush=True)


def policy_server(a):
    import selectors
    sel = selectors.DefaultSelector()
    fam = family_of(a.addr)
    log = open(a.log, "a", buffering=1)
    for port in (int(x) for x in a.tcpports.split(",")):
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        ls.bind((a.addr, port))
        ls.listen(16)
        sel.register(ls, selectors.EVENT_READ, ("listen", port))
    us = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        us.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    us.bind((a.addr, a.udpport))
    sel.register(us, selectors.EVENT_READ, ("udp", a.udpport))
    if a.ready:
        open(a.ready, "w").close()
    counts = {}

    def v4(addr):  # a dual-stack socket shows v4 peers as ::ffff:a.b.c.d
        return addr[7:] if addr.startswith("::ffff:") else addr

    while True:
        for key, _ in sel.select():
            kind, port = key.data[0], key.data[1]
            if kind == "listen":
                c, _ = key.fileobj.accept()
                sel.register(c, selectors.EVENT_READ, ("conn", port, v4(c.getpeername()[0])))
                counts[c] = 0
            elif kind == "conn":
                d = key.fileobj.recv(65536)
                if d:
                    counts[key.fileobj] += len(d)
                    continue
                log.write(f"tcp {port} {key.data[2]} {counts.pop(key.fileobj)}\n")
                sel.unregister(key.fileobj)
                key.fileobj.close()
            else:
                d, peer = key.fileobj.recvfrom(65536)
                log.write(f"udp {port} {v4(peer[0])} {len(d)}\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--comm")
    p.add_argument("--pidfile")
    p.add_argument("--ready")
    sub = p.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("tcp-server")
    m.add_argument("addr"); m.add_argument("port", type=int)
    m.add_argument("--reply", type=int, default=0)
    m.add_argument("--accepts", type=int, default=1)
    m.add_argument("--forks", type=int, default=0)
    m.add_argument("--mptcp", action="store_true")
    m = sub.add_parser("tcp-client")
    m.add_argument("addr"); m.add_argument("port", type=int); m.add_argument("send", type=int)
    m.add_argument("--chunks", type=int, default=1)
    m.add_argument("--interval", type=float, default=0)
    m.add_argument("--mptcp", action="store_true")
    m = sub.add_parser("icmp-echo")
    m.add_argument("addr"); m.add_argument("count", type=int); m.add_argument("size", type=int)
    m.add_argument("--raw", action="store_true")
    for mode in ("udp-echo", "udp-sink"):
        m = sub.add_parser(mode)
        m.add_argument("addr"); m.add_argument("port", type=int); m.add_argument("count", type=int)
    m = sub.add_parser("udp-connected")
    m.add_argument("addr"); m.add_argument("port", type=int)
    m.add_argument("count", type=int); m.add_argument("size", type=int)
    m = sub.add_parser("udp-unconnected")
    m.add_argument("size", type=int)
    m.add_argument("addr1"); m.add_argument("port1", type=int); m.add_argument("n1", type=int)
    m.add_argument("addr2"); m.add_argument("port2", type=int); m.add_argument("n2", type=int)
    m = sub.add_parser("hold")
    m.add_argument("addr"); m.add_argument("port", type=int); m.add_argument("send", type=int)
    m.add_argument("fifo")
    m = sub.add_parser("dns-delayed")
    m.add_argument("addr"); m.add_argument("port", type=int)
    m.add_argument("delay", type=float); m.add_argument("count", type=int)
    m = sub.add_parser("resolve-connect")
    m.add_argument("name"); m.add_argument("port", type=int)
    m = sub.add_parser("udp-send")
    m.add_argument("addr"); m.add_argument("port", type=int); m.add_argument("hex")
    m = sub.add_parser("udp-numbered")
    m.add_argument("addr"); m.add_argument("port", type=int); m.add_argument("count", type=int)
    m.add_argument("interval", type=float); m.add_argument("log")
    m = sub.add_parser("attempt")
    m.add_argument("kind", choices=("tcp", "udp-sendto", "udp-connect", "bind-tcp", "bind-noport"))
    m.add_argument("addr"); m.add_argument("port", type=int)
    m.add_argument("--src"); m.add_argument("--sport", type=int, default=0)
    m.add_argument("--uid", type=int); m.add_argument("--late-uid", type=int)
    m = sub.add_parser("policy-server")
    m.add_argument("addr"); m.add_argument("tcpports"); m.add_argument("udpport", type=int)
    m.add_argument("log")
    a = p.parse_args()

    set_comm(a.comm or a.mode[:15])
    write_pid(a.pidfile)
    {"tcp-server": tcp_server, "tcp-client": tcp_client,
     "udp-echo": lambda a: udp_server(a, True), "udp-sink": lambda a: udp_server(a, False),
     "udp-connected": udp_connected, "udp-unconnected": udp_unconnected,
     "hold": hold, "udp-numbered": udp_numbered, "dns-delayed": dns_delayed,
     "resolve-connect": resolve_connect, "udp-send": udp_send, "icmp-echo": icmp_echo,
     "attempt": attempt, "policy-server": policy_server}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
