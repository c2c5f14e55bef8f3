-- name: long-lived
-- description: Flows open longest (closed or still open), longest first
-- param: :since time           flows still active at or after this time (--since; default: all)
-- param: :until time           flows that started at or before this time (--until; default: now)
-- param: :limit integer = 20   rows to print (--limit)
--
-- duration_s: from the first packet to the close, or to the last packet seen for a flow
-- still open (end_ns NULL, state 'open'), in seconds; the whole lifetime, not clipped to
-- the window.
SELECT f.id, f.pid, f.comm, f.proto, f.direction,
       f.laddr, f.lport, f.raddr, f.rport, f.rname,
       round((COALESCE(f.end_ns, f.last_ns) - f.start_ns) / 1e9, 3) AS duration_s,
       CASE WHEN f.end_ns IS NULL THEN 'open' ELSE 'closed' END AS state,
       f.start_ns, f.last_ns, f.end_ns,
       f.bytes_out, f.bytes_in
FROM flows f
WHERE COALESCE(f.end_ns, f.last_ns) >= :since AND f.start_ns <= :until
ORDER BY COALESCE(f.end_ns, f.last_ns) - f.start_ns DESC, f.id
LIMIT :limit;
