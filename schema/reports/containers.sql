-- name: containers
-- description: Per container, by cgroup id for now: processes, flows, bytes, peers
-- param: :since time      flows still active at or after this time (--since; default: all)
-- param: :until time      flows that started at or before this time (--until; default: now)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- Grouped by the owning task's cgroup v2 id (the inode of its cgroup directory: `stat -c %i`
-- on it), as the schema has no container column yet. Once processes.container exists this
-- report will group by it (joining processes on pid and proc_start_ns) and keep cgroup_id
-- as a column. Most bytes first.
SELECT f.cgroup_id,
       count(DISTINCT f.pid) AS pids,
       group_concat(DISTINCT f.comm) AS comms,
       count(*) AS flows,
       sum(f.bytes_out + f.bytes_in) AS bytes,
       sum(f.bytes_out) AS bytes_out,
       sum(f.bytes_in) AS bytes_in,
       count(DISTINCT f.raddr) AS peers,
       min(f.start_ns) AS first_ns,
       max(COALESCE(f.end_ns, f.last_ns)) AS last_ns
FROM flows f
WHERE COALESCE(f.end_ns, f.last_ns) >= :since AND f.start_ns <= :until
GROUP BY f.cgroup_id
ORDER BY bytes DESC, f.cgroup_id
LIMIT COALESCE(:limit, -1);
