-- name: listeners
-- description: Listening sockets and who connected to them, from the flows they accepted
-- param: :since time      flows still active at or after this time (--since; default: all)
-- param: :until time      flows that started at or before this time (--until; default: now)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- Incoming flows (direction 'in': TCP connections accepted, UDP peers that sent first)
-- grouped by network namespace, protocol, local address and port. A socket that accepted
-- nothing in the window has no flows and is not shown. pids and comms are the accepting
-- (or receiving) processes; peers counts the distinct remote addresses, peer_addrs lists
-- them; lists are comma-separated in no particular order. By port, then address.
SELECT f.netns, f.proto, f.laddr, f.lport,
       group_concat(DISTINCT f.pid) AS pids,
       group_concat(DISTINCT f.comm) AS comms,
       count(*) AS connections,
       count(DISTINCT f.raddr) AS peers,
       group_concat(DISTINCT f.raddr) AS peer_addrs,
       sum(f.bytes_in) AS bytes_in,
       sum(f.bytes_out) AS bytes_out,
       min(f.start_ns) AS first_ns,
       max(COALESCE(f.end_ns, f.last_ns)) AS last_ns
FROM flows f
WHERE f.direction = 'in'
  AND COALESCE(f.end_ns, f.last_ns) >= :since AND f.start_ns <= :until
GROUP BY f.netns, f.proto, f.laddr, f.lport
ORDER BY f.lport, f.laddr, f.proto, f.netns
LIMIT COALESCE(:limit, -1);
