-- name: dns-names
-- description: Names each process looked up: queries, types, answers and outcomes
-- param: :since time      queries at or after this time (--since; default: all)
-- param: :until time      queries at or before this time (--until; default: now)
-- param: :pid   integer   only this process (default: every process)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- The recorded tasks' own lookups (dns.role 'client'), one row per process and name asked,
-- by pid then name. qtypes, rcodes and addresses (the A and AAAA data of the answers) are
-- comma-separated distinct values in no particular order; rcodes leaves out unanswered
-- queries, which are counted in unanswered. latency_max_ms: the slowest answer.
SELECT d.pid, d.comm, d.qname,
       count(DISTINCT d.id) AS queries,
       group_concat(DISTINCT d.qtype) AS qtypes,
       group_concat(DISTINCT d.rcode) AS rcodes,
       count(DISTINCT CASE WHEN d.rcode IS NULL THEN d.id END) AS unanswered,
       group_concat(DISTINCT json_extract(a.value, '$.data')) AS addresses,
       round(max(d.latency_ns) / 1e6, 3) AS latency_max_ms,
       min(d.ts_ns) AS first_ns,
       max(d.ts_ns) AS last_ns
FROM dns d
LEFT JOIN json_each(d.answers) a ON json_extract(a.value, '$.type') IN ('A', 'AAAA')
WHERE d.role = 'client' AND d.ts_ns BETWEEN :since AND :until
  AND (:pid IS NULL OR d.pid = :pid)
GROUP BY d.pid, d.comm, d.qname
ORDER BY d.pid, d.qname
LIMIT COALESCE(:limit, -1);
