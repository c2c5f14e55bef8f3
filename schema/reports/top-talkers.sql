-- name: top-talkers
-- description: Processes by bytes sent and received, most first
-- param: :since time           flows still active at or after this time (--since; default: all)
-- param: :until time           flows that started at or before this time (--until; default: now)
-- param: :limit integer = 20   rows to print (--limit)
--
-- One row per process instance (pid and start time) owning flows active in the window. A
-- flow's whole counters count, not only what it carried inside the window (flows have no
-- per-interval counters). pid 0 collects the flows whose owner is unknown. Equal byte
-- counts (a client and the server it talked to) put the one that sent more first.
SELECT f.pid,
       max(f.comm) AS comm,
       sum(f.bytes_out + f.bytes_in) AS bytes,
       sum(f.bytes_out) AS bytes_out,
       sum(f.bytes_in) AS bytes_in,
       sum(f.packets_out + f.packets_in) AS packets,
       count(*) AS flows,
       count(DISTINCT f.raddr) AS peers,
       f.proc_start_ns,
       min(f.start_ns) AS first_ns,
       max(COALESCE(f.end_ns, f.last_ns)) AS last_ns
FROM flows f
WHERE COALESCE(f.end_ns, f.last_ns) >= :since AND f.start_ns <= :until
GROUP BY f.pid, f.proc_start_ns
ORDER BY bytes DESC, bytes_out DESC, f.pid
LIMIT :limit;
