-- name: recorder-health
-- description: Recorder runs: duration, loss counters, what each recorded, pcap disk use
-- param: :since time      runs still going at or after this time (--since; default: all)
-- param: :until time      runs that started at or before this time (--until; default: now)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- One row per run (recorder start), oldest first. end_ns NULL: still running, or crashed
-- (flowq status tells which). duration_s runs to the end, else to the last heartbeat.
-- lost_events sums the loss counters after it (not unowned_packets, queue_full,
-- dns_malformed: see docs/operations.md). flows, dns, packets and bytes count the run's rows
-- and their counters; pcap_segments the capture files it wrote, pcap_bytes those still on
-- disk (not removed by --max-disk), pcap_deleted those removed. Whole runs: the window only
-- chooses them.
WITH fl AS (
    SELECT run_id, count(*) AS flows, sum(packets_out + packets_in) AS packets,
           sum(bytes_out + bytes_in) AS bytes, sum(packets_captured) AS packets_captured
    FROM flows GROUP BY run_id
),
dn AS (
    SELECT run_id, count(*) AS dns FROM dns GROUP BY run_id
),
pc AS (
    SELECT run_id, count(*) AS pcap_segments,
           sum(CASE WHEN deleted_ns IS NULL THEN bytes ELSE 0 END) AS pcap_bytes,
           sum(deleted_ns IS NOT NULL) AS pcap_deleted
    FROM pcap_segments GROUP BY run_id
)
SELECT r.id AS run, r.start_ns, r.end_ns, r.heartbeat_ns,
       round((COALESCE(r.end_ns, r.heartbeat_ns, r.start_ns) - r.start_ns) / 1e9, 3) AS duration_s,
       r.hostname, r.version,
       r.lost_events, r.ringbuf_full, r.flows_full, r.owners_full, r.pending_full,
       r.capture_full, r.capture_lost, r.capture_disk,
       r.unowned_packets, r.queue_full, r.dns_malformed,
       COALESCE(fl.flows, 0) AS flows,
       COALESCE(dn.dns, 0) AS dns,
       COALESCE(fl.packets, 0) AS packets,
       COALESCE(fl.bytes, 0) AS bytes,
       r.snaplen,
       COALESCE(fl.packets_captured, 0) AS packets_captured,
       COALESCE(pc.pcap_segments, 0) AS pcap_segments,
       COALESCE(pc.pcap_bytes, 0) AS pcap_bytes,
       COALESCE(pc.pcap_deleted, 0) AS pcap_deleted
FROM runs r
LEFT JOIN fl ON fl.run_id = r.id
LEFT JOIN dn ON dn.run_id = r.id
LEFT JOIN pc ON pc.run_id = r.id
WHERE r.start_ns <= :until AND COALESCE(r.end_ns, r.heartbeat_ns, r.start_ns) >= :since
ORDER BY r.id
LIMIT COALESCE(:limit, -1);
