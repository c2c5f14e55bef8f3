-- name: failed-connections
-- description: Outgoing TCP connections that got no answer, or only a reset
-- param: :since time      attempts still active at or after this time (--since; default: all)
-- param: :until time      attempts that started at or before this time (--until; default: now)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- What the counters can tell, without the packets:
--   'no reply': not one packet came back and the socket is closed (end_ns set): timed
--     out, unreachable, or given up. An attempt still waiting (end_ns NULL) is not shown.
--   'reset': exactly one packet came back and it was a bare TCP header (40 bytes over
--     IPv4, 60 over IPv6, no options, no data). A SYN-ACK always carries options (MSS), so
--     that packet was a RST: the port was closed (connection refused). Such a socket may
--     still show end_ns NULL (see docs/reports.md).
-- A connection opened before the recorder started whose only packet seen coming back was a
-- bare ACK would also read as 'reset'. Oldest first.
SELECT f.id, f.start_ns, f.end_ns, f.pid, f.comm, f.netns,
       f.laddr, f.lport, f.raddr, f.rport, f.rname,
       CASE WHEN f.packets_in = 0 THEN 'no reply' ELSE 'reset' END AS outcome,
       f.packets_out, f.bytes_out, f.packets_in, f.bytes_in
FROM flows f
WHERE f.proto = 'tcp' AND f.direction = 'out'
  AND COALESCE(f.end_ns, f.last_ns) >= :since AND f.start_ns <= :until
  AND (f.packets_in = 0 AND f.end_ns IS NOT NULL
       OR f.packets_in = 1 AND f.bytes_in = CASE f.family WHEN 4 THEN 40 ELSE 60 END)
ORDER BY f.start_ns, f.id
LIMIT COALESCE(:limit, -1);
