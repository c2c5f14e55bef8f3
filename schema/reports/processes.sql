-- name: processes
-- description: Per process: flows, bytes, distinct peers and the names it looked up
-- param: :since time      flows still active at or after this time, DNS queries at or after it (--since; default: all)
-- param: :until time      flows that started at or before this time, DNS queries at or before it (--until; default: now)
-- param: :pid   integer   only this process (default: every process)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- One row per process instance (pid and start time) owning flows active in the window,
-- oldest first, with what the recorder knows of it (processes table; NULL when it had gone
-- before it was seen). peers: distinct remote addresses. names: the distinct names it asked
-- DNS for in the window (a lookup belongs to the process owning the flow it went over),
-- comma-separated, in no particular order.
WITH f AS (
    SELECT * FROM flows
    WHERE COALESCE(end_ns, last_ns) >= :since AND start_ns <= :until
      AND (:pid IS NULL OR pid = :pid)
),
per AS (
    SELECT pid, proc_start_ns,
           max(comm) AS comm,
           count(*) AS flows,
           sum(direction = 'out') AS flows_out,
           sum(direction = 'in') AS flows_in,
           sum(bytes_out) AS bytes_out,
           sum(bytes_in) AS bytes_in,
           count(DISTINCT raddr) AS peers,
           min(start_ns) AS first_ns,
           max(COALESCE(end_ns, last_ns)) AS last_ns
    FROM f GROUP BY pid, proc_start_ns
),
lookups AS (
    SELECT o.pid, o.proc_start_ns,
           count(*) AS dns_queries,
           group_concat(DISTINCT d.qname) AS names
    FROM dns d JOIN flows o ON o.id = d.flow_id
    WHERE d.role = 'client' AND d.ts_ns BETWEEN :since AND :until
      AND (:pid IS NULL OR o.pid = :pid)
    GROUP BY o.pid, o.proc_start_ns
)
SELECT per.pid, per.comm, p.ppid, p.uid, p.exe,
       per.proc_start_ns AS start_ns,
       per.flows, per.flows_out, per.flows_in, per.bytes_out, per.bytes_in, per.peers,
       COALESCE(l.dns_queries, 0) AS dns_queries, l.names,
       per.first_ns, per.last_ns
FROM per
LEFT JOIN processes p ON p.pid = per.pid AND p.start_ns = per.proc_start_ns
LEFT JOIN lookups l ON l.pid = per.pid AND l.proc_start_ns IS per.proc_start_ns
ORDER BY per.first_ns, per.pid
LIMIT COALESCE(:limit, -1);
