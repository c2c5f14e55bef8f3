-- name: destinations
-- description: Remote hosts this host connected or sent to, by bytes, with their DNS names
-- param: :since time           flows still active at or after this time (--since; default: all)
-- param: :until time           flows that started at or before this time (--until; default: now)
-- param: :limit integer = 20   rows to print (--limit)
--
-- Outgoing flows only (direction 'out'; who connected to this host is the listeners
-- report), grouped by remote address. names: the names whose DNS answers gave the address
-- to the flows' owners (flows.rname), comma-separated; NULL when no lookup was seen.
SELECT f.raddr,
       group_concat(DISTINCT f.rname) AS names,
       sum(f.bytes_out + f.bytes_in) AS bytes,
       sum(f.bytes_out) AS bytes_out,
       sum(f.bytes_in) AS bytes_in,
       count(*) AS flows,
       group_concat(DISTINCT f.proto || '/' || f.rport) AS ports,
       count(DISTINCT f.pid) AS pids,
       group_concat(DISTINCT f.comm) AS comms,
       min(f.start_ns) AS first_ns,
       max(COALESCE(f.end_ns, f.last_ns)) AS last_ns
FROM flows f
WHERE f.direction = 'out'
  AND COALESCE(f.end_ns, f.last_ns) >= :since AND f.start_ns <= :until
GROUP BY f.raddr
ORDER BY bytes DESC, f.raddr
LIMIT :limit;
