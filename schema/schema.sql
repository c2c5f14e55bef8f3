-- flowrec database schema, version 4.
--
-- This file is compiled into both binaries. The recorder applies it to a new database and
-- migrates older ones (lib/db.c); flowq only reads. PRAGMA user_version holds the version.
-- Column names are a contract: later versions add columns and tables, never rename.
--
-- Conventions:
--   * Times are INTEGER nanoseconds since the Unix epoch, UTC (columns ending in _ns, except
--     durations, which say so).
--   * Addresses are text in inet_ntop form ('10.0.0.1', '::1'); ports are integers.
--   * netns is the inode number of the network namespace, as `readlink /proc/PID/ns/net`
--     prints it ('net:[4026531840]' -> 4026531840).
--   * pid is the thread-group id and tid the thread id, both as seen from the initial pid
--     namespace.

-- One row per start of the recorder.
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,  -- run number, 1, 2, ...
    start_ns        INTEGER NOT NULL,     -- when the recorder started
    end_ns          INTEGER,              -- when it stopped cleanly; NULL while running or after a crash
    heartbeat_ns    INTEGER,              -- last time the recorder flushed; tells a live run from a crashed one
    hostname        TEXT NOT NULL,        -- uname nodename
    kernel          TEXT NOT NULL,        -- uname release
    version         TEXT NOT NULL,        -- flowrec version
    options         TEXT NOT NULL,        -- command line the recorder was started with
    cgroup          TEXT NOT NULL,        -- cgroup v2 directory whose subtree is recorded
    hooks           TEXT NOT NULL,        -- space-separated hooks attached: section names, and
                                          -- tracepoint/syscalls/NAME for each syscall tracepoint
    lost_events     INTEGER NOT NULL DEFAULT 0, -- sum of the loss counters below
    ringbuf_full    INTEGER NOT NULL DEFAULT 0, -- flow events dropped: their ring buffer was full
    flows_full      INTEGER NOT NULL DEFAULT 0, -- flows not tracked because the flow map was full
    owners_full     INTEGER NOT NULL DEFAULT 0, -- sockets not attributed because the owner map was full
    pending_full    INTEGER NOT NULL DEFAULT 0, -- TCP handshakes whose packets were not counted (map full)
    unowned_packets INTEGER NOT NULL DEFAULT 0, -- packets of sockets with no known owner (not a loss:
                                                -- mostly TCP teardown after the flow ended)
    queue_full      INTEGER NOT NULL DEFAULT 0, -- times the database writer's queue was full (the
                                                -- reader waited; not a loss by itself)
    capture_full    INTEGER NOT NULL DEFAULT 0, -- packets not captured: perf buffer full (kernel side)
    capture_lost    INTEGER NOT NULL DEFAULT 0, -- packets not captured: perf samples lost (user side)
    capture_disk    INTEGER NOT NULL DEFAULT 0, -- packets not captured: disk full or write error
    snaplen         INTEGER,                    -- bytes kept per packet (0 = whole); NULL: no capture
    dns_malformed   INTEGER NOT NULL DEFAULT 0, -- DNS messages that did not parse (or TCP DNS that
                                                -- could not be reassembled)
    socket_events_lost INTEGER NOT NULL DEFAULT 0, -- (v2) socket events dropped: their ring buffer
                                                -- was full, or the database writer was behind
    features        TEXT,                       -- (v3) how this kernel let each capability work:
                                                -- space-separated capability=mechanism words, a
                                                -- trailing '!' on the degraded ones, then
                                                -- 'kernel-compat' if --kernel-compat took some
                                                -- away (docs/kernels.md lists them all)
    policy          TEXT,                       -- (v4) the --policy file, as given; NULL: no policy
                                                -- (policy_rules has the rules in force)
    ipfix           TEXT,                       -- (v4) the --ipfix collectors, space-separated, then
                                                -- 'domain=N'; NULL: no export
    ipfix_lost      INTEGER NOT NULL DEFAULT 0  -- (v4) IPFIX records not delivered: the export queue
                                                -- was full, or a collector was unreachable (one
                                                -- per record and collector); the database has them
);

-- One row per process instance: (pid, start_ns) so that a reused pid is a new row.
CREATE TABLE processes (
    pid        INTEGER NOT NULL,  -- thread-group id
    start_ns   INTEGER NOT NULL,  -- process start time
    ppid       INTEGER,           -- parent's pid at the time it was seen
    comm       TEXT,              -- task name (16 bytes at most) when first seen
    exe        TEXT,              -- executable: the path given to execve, taken at exec; for a process
                                  -- started before the recorder, /proc/PID/exe (NULL if it had gone)
    cmdline    TEXT,              -- arguments joined by spaces (the first 512 bytes), likewise
    uid        INTEGER,           -- real uid
    cgroup_id  INTEGER,           -- cgroup v2 id (the inode of its directory)
    netns      INTEGER,           -- network namespace inode
    run_id     INTEGER,           -- run that first saw it
    container  TEXT,              -- container id (hex, the innermost one) from the cgroup v2 path
                                  -- when first seen; NULL if not in a container (or cgroup gone)
    runtime    TEXT,              -- container runtime the path names: 'docker', 'containerd',
                                  -- 'cri-o' or 'podman'; NULL if none or not told by the path
    pod_uid    TEXT,              -- Kubernetes pod uid (with '-') from the path; NULL outside pods
    PRIMARY KEY (pid, start_ns)
) WITHOUT ROWID;

-- One row per flow: a socket and one remote endpoint. TCP and connected UDP sockets have one
-- flow; an unconnected UDP socket has one per remote address and port it talked to.
CREATE TABLE flows (
    id            INTEGER PRIMARY KEY, -- flow id, unique across runs
    run_id        INTEGER NOT NULL,    -- runs.id
    start_ns      INTEGER NOT NULL,    -- first packet (or connection set-up) seen
    last_ns       INTEGER NOT NULL,    -- last packet seen, as of the latest flush
    end_ns        INTEGER,             -- socket closed (TCP: reached CLOSE); NULL while open (see end_reason)
    pid           INTEGER,             -- owning process (connecting, accepting or sending task); 0 if unknown
    tid           INTEGER,             -- owning thread
    comm          TEXT,                -- owning process's name (its thread-group leader's comm)
    uid           INTEGER,             -- owning task's real uid
    cgroup_id     INTEGER,             -- owning task's cgroup v2 id
    netns         INTEGER NOT NULL,    -- network namespace inode: part of the flow's identity
    proc_start_ns INTEGER,             -- start time of the owning process: joins processes(pid, start_ns)
    proto         TEXT NOT NULL,       -- 'tcp', 'udp', 'icmp', 'icmp6' or 'mptcp' (an MPTCP connection:
                                       -- the socket the program holds; its packets are its subflows')
    family        INTEGER NOT NULL,    -- 4 or 6
    direction     TEXT NOT NULL,       -- 'out': this host connected or sent first; 'in': accepted or received first
    laddr         TEXT NOT NULL,       -- local address
    lport         INTEGER NOT NULL,    -- local port (ICMP: the echo identifier of a ping socket, else 0)
    raddr         TEXT NOT NULL,       -- remote address as on the wire (after any NAT on the way out)
    rport         INTEGER NOT NULL,    -- remote port as on the wire (ICMP: 0)
    orig_raddr    TEXT,                -- remote address the program asked for (connect), when the
                                       -- wire shows another one (DNAT in the output path, a
                                       -- transparent proxy); NULL when they are the same
    orig_rport    INTEGER,             -- likewise for the port
    bytes_out     INTEGER NOT NULL DEFAULT 0, -- bytes sent: IP packet lengths, a GSO packet counted
                                              -- as the segments it becomes on the wire
    bytes_in      INTEGER NOT NULL DEFAULT 0, -- bytes received, likewise
    packets_out   INTEGER NOT NULL DEFAULT 0, -- packets sent (GSO: segments on the wire)
    packets_in    INTEGER NOT NULL DEFAULT 0, -- packets received (GRO: segments on the wire)
    socket_cookie INTEGER NOT NULL,    -- kernel socket cookie: same socket, same cookie, within one boot
    packets_captured INTEGER NOT NULL DEFAULT 0, -- packets of this flow written to pcap segments
    rname         TEXT,                -- the name whose DNS answer last gave raddr, in the same netns,
                                       -- the owner's own lookups first, before the flow started
                                       -- (a CNAME chain's first name); NULL if none was seen
    parent_flow_id INTEGER,            -- (v2) an MPTCP subflow ('tcp'): flows.id of its 'mptcp'
                                       -- connection; NULL otherwise
    end_reason    TEXT,                -- (v3) how end_ns came: 'closed' (the socket closed),
                                       -- 'recorder-stop' (still open when the recorder stopped:
                                       -- end_ns is its last packet), 'crash' (its run crashed;
                                       -- ended at its last packet by the next start); NULL
                                       -- while open; (v4) 'denied' for a policy's denied attempt
    verdict       TEXT,                -- (v4) 'deny': a policy rule refused this attempt (the call
                                       -- failed with EPERM, or the inbound SYN or datagrams were
                                       -- dropped; zero bytes); 'audit': a rule would have; NULL:
                                       -- allowed (or no policy)
    rule          TEXT                 -- (v4) the deciding rule's name (policy_rules.name); NULL if none
);

-- Only start_ns is indexed: flows arrive in time order, so this index grows at its end.
-- Indexes on scattered keys (pid, raddr) cut the writer's insert rate by two thirds
-- (bench/run, writer); reports are time-bounded and filter the rest.
CREATE INDEX flows_start ON flows(start_ns);

-- One row per DNS query (or per response whose query was not seen), from either side.
CREATE TABLE dns (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL,  -- runs.id
    ts_ns       INTEGER NOT NULL,  -- when the query was seen (the response, if the query was not)
    pid         INTEGER,           -- the recorded task: the asking one (client) or the answering one (server)
    tid         INTEGER,
    comm        TEXT,              -- the process's name
    netns       INTEGER,           -- network namespace inode
    flow_id     INTEGER,           -- flows.id of the socket and peer it went over
    role        TEXT NOT NULL,     -- 'client': the recorded task asked; 'server': it answered
    transport   TEXT NOT NULL,     -- 'udp' or 'tcp'
    server      TEXT,              -- the DNS server's address (the peer for a client, local for a server)
    server_port INTEGER,
    qid         INTEGER NOT NULL,  -- DNS message id
    qname       TEXT,              -- question name, no trailing dot ('.' for the root)
    qtype       TEXT,              -- 'A', 'AAAA', 'MX', ... ('TYPE65' when unknown)
    qclass      INTEGER,           -- 1 = IN
    rcode       TEXT,              -- 'NOERROR', 'NXDOMAIN', ...; NULL while unanswered
    answers     TEXT,              -- JSON array of {"name","type","ttl","data"}; NULL while unanswered
    response_ns INTEGER,           -- when the response was seen; NULL if never answered
    latency_ns  INTEGER            -- response_ns - ts_ns (a duration); NULL if either is missing
);
CREATE INDEX dns_ts ON dns(ts_ns);

-- Packet capture (docs/capture.md). Packets are stored in append-only pcapng segment files
-- under DATA/pcap/; SQLite holds only their index. A segment is cut into chunks of at most
-- 1 MiB and 1 s; each chunk row says where its bytes are and what time span they cover, and
-- pcap_chunk_flows which flows have packets in it. An export reads only the chunks it needs.

-- One row per segment file.
CREATE TABLE pcap_segments (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL,    -- runs.id of the recorder that wrote it
    path      TEXT NOT NULL,       -- relative to the data directory: pcap/<run>-<seq>.pcapng
    start_ns  INTEGER NOT NULL,    -- when the file was created
    end_ns    INTEGER,             -- when it was closed; NULL while being written (or after a crash,
                                   -- until the next start recovers it)
    bytes     INTEGER NOT NULL DEFAULT 0, -- size covered by its chunks (the file is never shorter)
    packets   INTEGER NOT NULL DEFAULT 0, -- packets in its chunks
    deleted_ns INTEGER             -- when retention (--max-disk) removed the file; its chunks are gone
);

-- One row per chunk: a run of whole Enhanced Packet Blocks in one segment.
CREATE TABLE pcap_chunks (
    id         INTEGER PRIMARY KEY,
    segment_id INTEGER NOT NULL,   -- pcap_segments.id
    offset     INTEGER NOT NULL,   -- byte offset of its first block in the file
    length     INTEGER NOT NULL,   -- bytes, whole blocks only
    first_ns   INTEGER NOT NULL,   -- earliest packet timestamp in it
    last_ns    INTEGER NOT NULL,   -- latest packet timestamp in it (last_ns - first_ns <= 2 s)
    packets    INTEGER NOT NULL    -- packets in it
);
CREATE INDEX pcap_chunks_first ON pcap_chunks(first_ns);

-- Which flows have packets in which chunk. flow_id 0: handshake packets seen on a listening
-- socket before their flow existed, resolved where possible (docs/capture.md).
CREATE TABLE pcap_chunk_flows (
    flow_id  INTEGER NOT NULL,     -- flows.id
    chunk_id INTEGER NOT NULL,     -- pcap_chunks.id
    packets  INTEGER NOT NULL,     -- packets of the flow in the chunk
    PRIMARY KEY (flow_id, chunk_id)
) WITHOUT ROWID;
CREATE INDEX pcap_chunk_flows_chunk ON pcap_chunk_flows(chunk_id);

-- (v2) One row per socket call of a recorded task on an IPv4 or IPv6 socket: socket(),
-- bind(), listen(), connect(), accept()/accept4(), setsockopt() and close(), failed calls
-- included; plus 'create' rows for sockets the kernel made for a recorded task (MPTCP
-- subflows). Taken at the call's return (docs/events.md).
CREATE TABLE socket_events (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL,  -- runs.id
    ts_ns         INTEGER NOT NULL,  -- when the call returned ('close': when the socket was released)
    pid           INTEGER NOT NULL,  -- calling process
    tid           INTEGER NOT NULL,  -- calling thread
    comm          TEXT,              -- the process's name
    proc_start_ns INTEGER,           -- joins processes(pid, start_ns)
    uid           INTEGER,           -- caller's real uid
    netns         INTEGER,           -- caller's network namespace inode
    cgroup_id     INTEGER,           -- caller's cgroup v2 id
    event         TEXT NOT NULL,     -- 'create', 'bind', 'listen', 'connect', 'accept', 'setsockopt', 'close'
    kern          INTEGER NOT NULL DEFAULT 0, -- 'create': 1 if the kernel created the socket on the
                                     -- task's behalf (an MPTCP subflow), 0 for socket();
                                     -- 'close': 1 for such a subflow the kernel released (v3)
    fd            INTEGER,           -- descriptor the call was given (accept: the listening one);
                                     -- NULL for 'create'; 'close' (taken at the socket's release,
                                     -- v3): the descriptor socket() or accept() returned
    family        INTEGER,           -- 4 or 6
    type          TEXT,              -- 'stream', 'dgram', 'raw', 'seqpacket' (a number if other)
    protocol      TEXT,              -- 'tcp', 'udp', 'icmp', 'icmp6', 'mptcp' (a number if other;
                                     -- '0' for a failed socket() that asked for the default)
    laddr         TEXT,              -- local address: bind's requested one; otherwise the socket's
                                     -- after the call (accept: the new connection's); NULL if none
    lport         INTEGER,
    raddr         TEXT,              -- connect: the address asked for; accept: the peer; NULL otherwise
    rport         INTEGER,
    backlog       INTEGER,           -- listen: the backlog asked for
    level         INTEGER,           -- setsockopt: level (1 = SOL_SOCKET, 6 = IPPROTO_TCP, ...)
    optname       INTEGER,           -- setsockopt: option number (2 = SO_REUSEADDR, ...)
    ret           INTEGER,           -- the call's result: 0, a descriptor (socket, accept), or a
                                     -- negative errno (-111 = ECONNREFUSED, -115 = EINPROGRESS)
    socket_cookie INTEGER,           -- the socket's cookie (accept: the new socket's); NULL if the
                                     -- call made none
    flow_id       INTEGER            -- flows.id of the socket's flow when one was known by the time
                                     -- the row was written; else join on socket_cookie
);
CREATE INDEX socket_events_ts ON socket_events(ts_ns);

-- (v4) The rules of each policy a run enforced (--policy; docs/policy.md): one row per rule
-- and version. A run starts with version 1; each SIGHUP that loads a changed file adds the
-- next version.
CREATE TABLE policy_rules (
    run_id      INTEGER NOT NULL,  -- runs.id
    version     INTEGER NOT NULL,  -- 1, 2, ...: the policy's load in that run
    position    INTEGER NOT NULL,  -- 1-based order in the file: the first matching rule decides
    line        INTEGER NOT NULL,  -- line in the file
    name        TEXT NOT NULL,     -- `name WORD`, or 'line N'
    action      TEXT NOT NULL,     -- 'deny', 'audit' or 'allow'
    what        TEXT NOT NULL,     -- 'connect', 'bind' or 'accept'
    rule        TEXT NOT NULL,     -- the rule as written (comment removed, blanks collapsed)
    file        TEXT NOT NULL,     -- the policy file
    loaded_ns   INTEGER NOT NULL,  -- when this version came into force
    replaced_ns INTEGER,           -- when the next version replaced it; NULL for the last one of
                                   -- a run (in force until runs.end_ns)
    hits        INTEGER NOT NULL DEFAULT 0, -- attempts this rule decided (allow rules included), as
                                   -- of the latest flush
    PRIMARY KEY (run_id, version, position)
) WITHOUT ROWID;

-- (v4) What each flow moved in each --sample-interval in which it moved: the true shape of
-- its traffic over time, which the flow's totals do not keep. A flow idle over an interval
-- has no row for it. Written at each interval's end (aligned on multiples of the interval
-- in Unix time) and at the flow's end; the rows of a flow add up to its totals. A flow that
-- began and ended between two boundaries has no rows: it moved its totals within
-- [start_ns, end_ns], which lies in one interval.
CREATE TABLE flow_samples (
    flow_id     INTEGER NOT NULL,  -- flows.id
    start_ns    INTEGER NOT NULL,  -- the interval: the previous boundary (or the flow's start)
    end_ns      INTEGER NOT NULL,  -- to this one (or the flow's end)
    bytes_out   INTEGER NOT NULL,  -- moved within [start_ns, end_ns], as flows counts them
    bytes_in    INTEGER NOT NULL,
    packets_out INTEGER NOT NULL,
    packets_in  INTEGER NOT NULL
);
-- By time only: rows arrive in time order, so this index grows at its end.
CREATE INDEX flow_samples_end ON flow_samples(end_ns);

PRAGMA user_version = 4;
