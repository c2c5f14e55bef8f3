-- name: new-destinations
-- description: Remote hosts first contacted inside the window, with who contacted them first
-- param: :since time      first contact at or after this time (--since; default: all)
-- param: :until time      first contact at or before this time (--until; default: now)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- A destination is a remote address of an outgoing flow (direction 'out'). Its first
-- contact is the start of its earliest flow in the whole database, so an address also
-- contacted before the window is not new. The first flow's process, protocol, port and name
-- are shown; flows, bytes_out and bytes_in count its outgoing flows active in the window.
-- Reads every outgoing flow, whatever the window.
WITH ranked AS (
    SELECT id, raddr, start_ns, pid, comm, proto, rport, rname,
           row_number() OVER (PARTITION BY raddr ORDER BY start_ns, id) AS n
    FROM flows WHERE direction = 'out'
),
win AS (
    SELECT raddr, count(*) AS flows, sum(bytes_out) AS bytes_out, sum(bytes_in) AS bytes_in,
           group_concat(DISTINCT rname) AS names
    FROM flows
    WHERE direction = 'out' AND COALESCE(end_ns, last_ns) >= :since AND start_ns <= :until
    GROUP BY raddr
)
SELECT r.raddr, w.names, r.start_ns AS first_ns, r.pid, r.comm, r.proto, r.rport, r.rname,
       r.id AS first_flow, w.flows, w.bytes_out, w.bytes_in
FROM ranked r LEFT JOIN win w ON w.raddr = r.raddr
WHERE r.n = 1 AND r.start_ns BETWEEN :since AND :until
ORDER BY r.start_ns, r.id
LIMIT COALESCE(:limit, -1);
