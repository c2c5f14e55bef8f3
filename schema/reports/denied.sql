-- name: denied
-- description: What a --policy denied or audited: each attempt, its task and the deciding rule
-- param: :since time      attempts at or after this time (--since; default: all)
-- param: :until time      attempts at or before this time (--until; default: now)
-- param: :limit integer   rows to print (--limit; default: all)
--
-- One row per flow that carries a verdict (docs/policy.md): 'deny' (the call failed with
-- EPERM, or the inbound SYN or datagrams were dropped) or 'audit' (allowed, and a rule
-- would have denied it). what is the kind of rule that decided: 'connect' (a connect or a
-- send from this host), 'bind' (no remote: the local address and port the task asked for)
-- or 'accept' (an inbound connection or datagram; comm and pid are the listening or
-- receiving socket's owner). rule_text is the rule as the policy file had it when it
-- decided; exe comes from the process row. Oldest first.
SELECT f.id, f.start_ns, f.verdict, f.rule,
       CASE WHEN f.rport = 0 AND f.raddr IN ('0.0.0.0', '::') THEN 'bind'
            WHEN f.direction = 'in' THEN 'accept'
            ELSE 'connect' END AS what,
       f.pid, f.comm, f.uid, p.exe, f.netns, f.proto,
       f.laddr, f.lport, f.raddr, f.rport, f.rname,
       (SELECT r.rule FROM policy_rules r
        WHERE r.run_id = f.run_id AND r.name = f.rule AND r.loaded_ns <= f.start_ns
        ORDER BY r.version DESC, r.position LIMIT 1) AS rule_text
FROM flows f
LEFT JOIN processes p ON p.pid = f.pid AND p.start_ns = f.proc_start_ns
WHERE f.verdict IS NOT NULL
  AND f.start_ns >= :since AND f.start_ns <= :until
ORDER BY f.start_ns, f.id
LIMIT COALESCE(:limit, -1);
