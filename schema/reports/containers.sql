-- name: containers
-- description: Per container (or, outside containers, per cgroup): processes, flows, bytes, peers
-- param: :since time      flows still active at or after this time (--since; default: all)
-- param: :until time      flows that started at or before this time (--until; default: now)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- One row per container id and cgroup v2 id of the flows' owners (processes.container,
-- runtime and pod_uid, parsed from the cgroup path when the process was first seen). Tasks
-- outside containers have NULL container and are told apart by cgroup_id (the inode of
-- their cgroup directory: `stat -c %i DIR`). Most bytes first.
SELECT p.container,
       p.runtime,
       p.pod_uid,
       f.cgroup_id,
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
LEFT JOIN processes p ON p.pid = f.pid AND p.start_ns = f.proc_start_ns
WHERE COALESCE(f.end_ns, f.last_ns) >= :since AND f.start_ns <= :until
GROUP BY p.container, p.runtime, p.pod_uid, f.cgroup_id
ORDER BY bytes DESC, p.container, f.cgroup_id
LIMIT COALESCE(:limit, -1);
