/*
 * The database writer: one thread, the only one that writes SQLite.
 *
 * Other threads copy fixed-size fr_op records into a bounded queue and never wait for disk.
 * The writer takes whatever is queued in chunks and applies it inside one transaction with
 * prepared statements, so a burst of a hundred thousand flow rows costs one commit. When the
 * queue is full the producer waits (counted in queue_full): the backlog then shows up as
 * ring-buffer drops in the kernel, which are counted too, rather than as unbounded memory.
 *
 * It is also the thread that waits for the disk: it syncs and closes each finished pcap
 * segment, and deletes the file of a segment retention dropped only after the deletion of
 * its index rows has committed. A transaction that cannot begin or commit is said so, with
 * the number of operations it loses, and rolled back; its files stay.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recorder.h"
#include "log.h"
#include "db_writer.h"
#include "dns.h"
#include "sockev.h"

#define CHUNK 1024
#define MAX_OPS_PER_TX 200000

enum {
	ST_FLOW_INSERT, ST_FLOW_COUNTERS, ST_FLOW_OWNER, ST_PROCESS, ST_RUN_STATS,
	ST_SEGMENT_INSERT, ST_SEGMENT_UPDATE, ST_SEGMENT_DELETE_FLOWS, ST_SEGMENT_DELETE_CHUNKS,
	ST_SEGMENT_DELETED, ST_CHUNK, ST_CHUNK_FLOW, ST_DNS, ST_SOCKET_EVENT, ST_POLICY_RULE, ST_POLICY_REPLACED, ST_POLICY_HITS, ST_FLOW_SAMPLE, ST_MAX
};

static const char *const stmt_sql[ST_MAX] = {
	[ST_FLOW_INSERT] =
		"INSERT INTO flows(id, run_id, start_ns, last_ns, end_ns, pid, tid, comm, uid, "
		"cgroup_id, netns, proc_start_ns, proto, family, direction, laddr, lport, raddr, "
		"rport, bytes_out, bytes_in, packets_out, packets_in, socket_cookie, packets_captured, "
		"rname, orig_raddr, orig_rport, parent_flow_id, verdict, rule, end_reason) VALUES (?1,?2,"
		"?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,"
		"?26,?27,?28,?29,?30,?31,CASE WHEN ?5 IS NULL THEN NULL WHEN ?30 = 'deny' THEN 'denied' "
		"ELSE 'closed' END)",
	[ST_FLOW_COUNTERS] =
		"UPDATE flows SET last_ns=?2, end_ns=?3, bytes_out=?4, bytes_in=?5, packets_out=?6, "
		"packets_in=?7, packets_captured=?8, end_reason=CASE WHEN ?3 IS NULL THEN NULL "
		"WHEN verdict = 'deny' THEN 'denied' ELSE 'closed' END WHERE id=?1",
	[ST_FLOW_OWNER] = "UPDATE flows SET pid=?2, tid=?3, comm=?4, uid=?5, cgroup_id=?6, "
			  "proc_start_ns=?7 WHERE id=?1",
	[ST_PROCESS] = "INSERT OR IGNORE INTO processes(pid, start_ns, ppid, comm, exe, cmdline, "
		       "uid, cgroup_id, netns, run_id, container, runtime, pod_uid) "
		       "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
	[ST_RUN_STATS] = "UPDATE runs SET heartbeat_ns=?2, lost_events=?3, ringbuf_full=?4, "
			 "flows_full=?5, owners_full=?6, pending_full=?7, unowned_packets=?8, "
			 "queue_full=?9, capture_full=?10, capture_lost=?11, capture_disk=?12, "
			 "dns_malformed=?13, socket_events_lost=?14, ipfix_lost=?15 WHERE id=?1",
	[ST_SEGMENT_INSERT] = "INSERT INTO pcap_segments(id, run_id, path, start_ns) VALUES (?1,?2,?3,?4)",
	[ST_SEGMENT_UPDATE] = "UPDATE pcap_segments SET bytes=?2, packets=?3, end_ns=?4 WHERE id=?1",
	[ST_SEGMENT_DELETE_FLOWS] = "DELETE FROM pcap_chunk_flows WHERE chunk_id IN "
				    "(SELECT id FROM pcap_chunks WHERE segment_id=?1)",
	[ST_SEGMENT_DELETE_CHUNKS] = "DELETE FROM pcap_chunks WHERE segment_id=?1",
	[ST_SEGMENT_DELETED] = "UPDATE pcap_segments SET deleted_ns=?2 WHERE id=?1",
	[ST_CHUNK] = "INSERT INTO pcap_chunks(id, segment_id, offset, length, first_ns, last_ns, "
		     "packets) VALUES (?1,?2,?3,?4,?5,?6,?7)",
	[ST_CHUNK_FLOW] = "INSERT OR REPLACE INTO pcap_chunk_flows(flow_id, chunk_id, packets) "
			  "VALUES (?1,?2,?3)",
	[ST_DNS] = "INSERT INTO dns(run_id, ts_ns, pid, tid, comm, netns, flow_id, role, transport, "
		   "server, server_port, qid, qname, qtype, qclass, rcode, answers, response_ns, "
		   "latency_ns) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
		   "?18,?19)",
	[ST_SOCKET_EVENT] =
		"INSERT INTO socket_events(run_id, ts_ns, pid, tid, comm, uid, cgroup_id, "
		"proc_start_ns, netns, event, fd, family, type, protocol, laddr, lport, raddr, rport, "
		"backlog, level, optname, ret, socket_cookie, flow_id, kern) VALUES (?1,?2,?3,?4,?5,?6,"
		"?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25)",
	[ST_POLICY_RULE] = "INSERT OR REPLACE INTO policy_rules(run_id, version, position, line, name, "
			   "action, what, rule, file, loaded_ns) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
	[ST_POLICY_REPLACED] = "UPDATE policy_rules SET replaced_ns=?3 WHERE run_id=?1 AND version=?2 "
			       "AND replaced_ns IS NULL",
	[ST_POLICY_HITS] = "UPDATE policy_rules SET hits=?4 WHERE run_id=?1 AND version=?2 AND position=?3",
	[ST_FLOW_SAMPLE] = "INSERT INTO flow_samples(flow_id, start_ns, end_ns, bytes_out, bytes_in,"
			   " packets_out, packets_in) VALUES (?1,?2,?3,?4,?5,?6,?7)",
};

struct fr_db_writer {
	sqlite3 *db;
	int64_t run_id;
	sqlite3_stmt *st[ST_MAX];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full, done;
	struct fr_op *ring;
	size_t cap, head, count;
	uint64_t pushed, committed; /* sequence numbers for fr_db_writer_sync */
	uint64_t queue_full, rows;
	bool stop;
	char data_dir[4096];
	char (*unlinks)[64]; /* segment files to delete when the transaction commits */
	size_t nunlinks, capunlinks;
};

/* Text is bound SQLITE_STATIC: every buffer bound in apply() lives until its statement has
 * been stepped and reset, and not copying saves an allocation per column per row. */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s && *s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void bind_addr(sqlite3_stmt *st, int i, int family, const __u32 *addr, char *buf)
{
	inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, INET6_ADDRSTRLEN);
	sqlite3_bind_text(st, i, buf, -1, SQLITE_STATIC);
}

static void bind_identity(sqlite3_stmt *st, int first, const struct fr_identity *id, char *comm)
{
	memcpy(comm, id->comm, FR_COMM_LEN);
	comm[FR_COMM_LEN] = 0;
	sqlite3_bind_int64(st, first, id->pid);
	sqlite3_bind_int64(st, first + 1, id->tid);
	bind_text_or_null(st, first + 2, comm);
	sqlite3_bind_int64(st, first + 3, id->uid);
	sqlite3_bind_int64(st, first + 4, (int64_t)id->cgroup_id);
}

static void step(struct fr_db_writer *w, sqlite3_stmt *st)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		fr_log(0, "database write failed: %s", sqlite3_errmsg(w->db));
	else
		w->rows++;
	sqlite3_reset(st);
}

static void bind_end(sqlite3_stmt *st, int i, int64_t end_ns)
{
	if (end_ns)
		sqlite3_bind_int64(st, i, end_ns);
	else
		sqlite3_bind_null(st, i);
}

/* The pcap index: several statements per operation. */
static void apply_pcap(struct fr_db_writer *w, struct fr_op *op)
{
	sqlite3_stmt *st;

	switch (op->type) {
	case FR_OP_SEGMENT_INSERT:
		st = w->st[ST_SEGMENT_INSERT];
		sqlite3_bind_int64(st, 1, op->seg_id);
		sqlite3_bind_int64(st, 2, w->run_id);
		sqlite3_bind_text(st, 3, op->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, op->start_ns);
		step(w, st);
		break;
	case FR_OP_SEGMENT_UPDATE:
		if (op->closes_fd) {
			if (fsync(op->fd))
				fr_log(0, "cannot sync pcap segment %" PRId64 ": %s", op->seg_id, strerror(errno));
			close(op->fd);
		}
		st = w->st[ST_SEGMENT_UPDATE];
		sqlite3_bind_int64(st, 1, op->seg_id);
		sqlite3_bind_int64(st, 2, (int64_t)op->length);
		sqlite3_bind_int64(st, 3, (int64_t)op->packets);
		bind_end(st, 4, op->end_ns);
		step(w, st);
		break;
	case FR_OP_SEGMENT_DELETE:
		for (int i = ST_SEGMENT_DELETE_FLOWS; i <= ST_SEGMENT_DELETED; i++) {
			sqlite3_bind_int64(w->st[i], 1, op->seg_id);
			if (i == ST_SEGMENT_DELETED)
				sqlite3_bind_int64(w->st[i], 2, op->end_ns);
			step(w, w->st[i]);
		}
		if (w->nunlinks == w->capunlinks) {
			size_t cap = w->capunlinks ? 2 * w->capunlinks : 16;
			char (*n)[64] = realloc(w->unlinks, cap * sizeof(*n));

			if (!n) {
				fr_log(0, "out of memory: pcap segment %s stays on disk", op->path);
				break;
			}
			w->unlinks = n;
			w->capunlinks = cap;
		}
		memcpy(w->unlinks[w->nunlinks++], op->path, sizeof(op->path));
		break;
	case FR_OP_CHUNK:
		st = w->st[ST_CHUNK];
		sqlite3_bind_int64(st, 1, op->chunk_id);
		sqlite3_bind_int64(st, 2, op->seg_id);
		sqlite3_bind_int64(st, 3, (int64_t)op->offset);
		sqlite3_bind_int64(st, 4, (int64_t)op->length);
		sqlite3_bind_int64(st, 5, op->start_ns);
		sqlite3_bind_int64(st, 6, op->last_ns);
		sqlite3_bind_int64(st, 7, (int64_t)op->packets);
		step(w, st);
		st = w->st[ST_CHUNK_FLOW];
		for (uint32_t i = 0; i < op->nchunk_flows; i++) {
			if (!op->chunk_flows[i].packets) /* all its packets dropped at a full disk */
				continue;
			sqlite3_bind_int64(st, 1, op->chunk_flows[i].flow_id);
			sqlite3_bind_int64(st, 2, op->chunk_id);
			sqlite3_bind_int64(st, 3, op->chunk_flows[i].packets);
			step(w, st);
		}
		free(op->chunk_flows);
		op->chunk_flows = NULL;
		break;
	}
}

static void bind_int_or_null(sqlite3_stmt *st, int i, bool present, int64_t v)
{
	if (present)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* One socket_events row. Columns a call does not have are NULL (schema.sql). */
static void apply_socket_event(struct fr_db_writer *w, struct fr_op *op)
{
	const struct fr_sock_event *e = &op->sock;
	char comm[FR_COMM_LEN + 1], laddr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN];
	char type[16], protocol[16];
	const char *event = fr_sock_call_str(e->call);
	sqlite3_stmt *st = w->st[ST_SOCKET_EVENT];

	if (!event)
		return;
	sqlite3_bind_int64(st, 1, w->run_id);
	sqlite3_bind_int64(st, 2, op->start_ns);
	bind_identity(st, 3, &op->id, comm);
	bind_int_or_null(st, 8, op->id.proc_start_ns, (int64_t)op->id.proc_start_ns);
	sqlite3_bind_int64(st, 9, op->id.netns);
	sqlite3_bind_text(st, 10, event, -1, SQLITE_STATIC);
	bind_int_or_null(st, 11, e->call != FR_CALL_CREATE, e->fd);
	bind_int_or_null(st, 12, e->family, e->family);
	sqlite3_bind_text(st, 13, fr_sock_type_str(e->sock_type, type, sizeof(type)), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, fr_sock_proto_str(e->protocol, protocol, sizeof(protocol)), -1,
			  SQLITE_STATIC);
	if (e->laddr_family) {
		bind_addr(st, 15, e->laddr_family, e->laddr, laddr);
		sqlite3_bind_int(st, 16, e->lport);
	} else {
		sqlite3_bind_null(st, 15);
		sqlite3_bind_null(st, 16);
	}
	/* raddr belongs to connect (the address asked for) and accept (the peer) only. */
	if (e->raddr_family && (e->call == FR_CALL_CONNECT || e->call == FR_CALL_ACCEPT)) {
		bind_addr(st, 17, e->raddr_family, e->raddr, raddr);
		sqlite3_bind_int(st, 18, e->rport);
	} else {
		sqlite3_bind_null(st, 17);
		sqlite3_bind_null(st, 18);
	}
	bind_int_or_null(st, 19, e->call == FR_CALL_LISTEN, e->backlog);
	bind_int_or_null(st, 20, e->call == FR_CALL_SETSOCKOPT, e->level);
	bind_int_or_null(st, 21, e->call == FR_CALL_SETSOCKOPT, e->optname);
	sqlite3_bind_int64(st, 22, e->ret);
	bind_int_or_null(st, 23, e->cookie, (int64_t)e->cookie);
	bind_int_or_null(st, 24, op->flow_id, op->flow_id);
	sqlite3_bind_int(st, 25, e->kern);
	step(w, st);
}

/* A policy version's rules (the previous version replaced at the same time), or its hit
 * counts. */
static void apply_policy(struct fr_db_writer *w, const struct fr_op *op)
{
	sqlite3_stmt *st;

	if (op->type == FR_OP_POLICY_HITS) {
		st = w->st[ST_POLICY_HITS];
		for (int i = 0; i < op->policy_nrules; i++) {
			sqlite3_bind_int64(st, 1, w->run_id);
			sqlite3_bind_int(st, 2, op->policy_version);
			sqlite3_bind_int(st, 3, i + 1);
			sqlite3_bind_int64(st, 4, (int64_t)op->policy_hits[i]);
			step(w, st);
		}
		return;
	}
	st = w->st[ST_POLICY_REPLACED];
	sqlite3_bind_int64(st, 1, w->run_id);
	sqlite3_bind_int(st, 2, op->policy_version - 1);
	sqlite3_bind_int64(st, 3, op->start_ns);
	step(w, st);
	st = w->st[ST_POLICY_RULE];
	for (int i = 0; i < op->policy_nrules; i++) {
		const struct fr_policy_rule *r = &op->policy_rules[i];

		sqlite3_bind_int64(st, 1, w->run_id);
		sqlite3_bind_int(st, 2, op->policy_version);
		sqlite3_bind_int(st, 3, i + 1);
		sqlite3_bind_int(st, 4, r->line);
		sqlite3_bind_text(st, 5, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, fr_policy_action_name(r->action), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, fr_policy_what_name(r->what), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, r->text, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, op->policy_file ? op->policy_file : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 10, op->start_ns);
		step(w, st);
	}
}

/* The heap strings an op of its type carries (the union holds other things otherwise). */
static void op_free(struct fr_op *op)
{
	switch (op->type) {
	case FR_OP_FLOW_INSERT:
		free(op->rname);
		free(op->rule_name);
		op->rname = op->rule_name = NULL;
		break;
	case FR_OP_POLICY_LOAD:
	case FR_OP_POLICY_HITS:
		free(op->policy_rules);
		free(op->policy_file);
		free(op->policy_hits);
		op->policy_rules = NULL;
		op->policy_file = NULL;
		op->policy_hits = NULL;
		break;
	case FR_OP_PROCESS:
		free(op->exe);
		free(op->cmdline);
		free(op->container);
		free(op->runtime);
		free(op->pod_uid);
		op->exe = op->cmdline = op->container = op->runtime = op->pod_uid = NULL;
		break;
	case FR_OP_DNS:
		free(op->qname);
		free(op->answers);
		op->qname = op->answers = NULL;
		break;
	}
}

static void apply(struct fr_db_writer *w, struct fr_op *op)
{
	/* Every buffer bound below lives until the step at the end of this function. */
	char comm[FR_COMM_LEN + 1], laddr[INET6_ADDRSTRLEN], raddr[INET6_ADDRSTRLEN];
	char qtype[16], rcode[16], proto[16], orig_raddr[INET6_ADDRSTRLEN];
	sqlite3_stmt *st;

	switch (op->type) {
	case FR_OP_FLOW_INSERT: {
		/* An MPTCP connection's key has no address: the family is the flow's. */
		int family = op->key.family ? op->key.family : op->flow.family;

		st = w->st[ST_FLOW_INSERT];
		sqlite3_bind_int64(st, 1, op->flow_id);
		sqlite3_bind_int64(st, 2, w->run_id);
		sqlite3_bind_int64(st, 3, op->start_ns);
		sqlite3_bind_int64(st, 4, op->last_ns);
		if (op->end_ns)
			sqlite3_bind_int64(st, 5, op->end_ns);
		else
			sqlite3_bind_null(st, 5);
		bind_identity(st, 6, &op->id, comm);
		sqlite3_bind_int64(st, 11, op->id.netns);
		if (op->id.proc_start_ns)
			sqlite3_bind_int64(st, 12, (int64_t)op->id.proc_start_ns);
		else
			sqlite3_bind_null(st, 12);
		sqlite3_bind_text(st, 13, fr_sock_proto_str(op->key.proto, proto, sizeof(proto)), -1,
				  SQLITE_STATIC);
		sqlite3_bind_int(st, 14, family);
		sqlite3_bind_text(st, 15, op->flow.direction == FR_DIR_IN ? "in" : "out", -1,
				  SQLITE_STATIC);
		bind_addr(st, 16, family, op->flow.laddr, laddr);
		sqlite3_bind_int(st, 17, op->flow.lport);
		/* raddr as on the wire; the key's (asked) one too when NAT made them differ */
		bind_addr(st, 18, family, op->flow.wire_raddr, raddr);
		sqlite3_bind_int(st, 19, op->flow.wire_rport);
		if (op->key.family && (memcmp(op->flow.wire_raddr, op->key.raddr, sizeof(op->key.raddr)) ||
				       op->flow.wire_rport != op->key.rport)) {
			bind_addr(st, 27, op->key.family, op->key.raddr, orig_raddr);
			sqlite3_bind_int(st, 28, op->key.rport);
		} else {
			sqlite3_bind_null(st, 27);
			sqlite3_bind_null(st, 28);
		}
		sqlite3_bind_int64(st, 20, (int64_t)op->flow.bytes_out);
		sqlite3_bind_int64(st, 21, (int64_t)op->flow.bytes_in);
		sqlite3_bind_int64(st, 22, (int64_t)op->flow.packets_out);
		sqlite3_bind_int64(st, 23, (int64_t)op->flow.packets_in);
		sqlite3_bind_int64(st, 24, (int64_t)op->key.cookie);
		sqlite3_bind_int64(st, 25, (int64_t)op->captured);
		bind_text_or_null(st, 26, op->rname);
		bind_int_or_null(st, 29, op->parent_flow_id, op->parent_flow_id);
		if (op->flow.verdict)
			sqlite3_bind_text(st, 30, op->flow.verdict == FR_VERDICT_DENY ? "deny" : "audit", -1,
					  SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 30);
		bind_text_or_null(st, 31, op->rule_name);
		break;
	}
	case FR_OP_FLOW_COUNTERS:
		st = w->st[ST_FLOW_COUNTERS];
		sqlite3_bind_int64(st, 1, op->flow_id);
		sqlite3_bind_int64(st, 2, op->last_ns);
		if (op->end_ns)
			sqlite3_bind_int64(st, 3, op->end_ns);
		else
			sqlite3_bind_null(st, 3);
		sqlite3_bind_int64(st, 4, (int64_t)op->flow.bytes_out);
		sqlite3_bind_int64(st, 5, (int64_t)op->flow.bytes_in);
		sqlite3_bind_int64(st, 6, (int64_t)op->flow.packets_out);
		sqlite3_bind_int64(st, 7, (int64_t)op->flow.packets_in);
		sqlite3_bind_int64(st, 8, (int64_t)op->captured);
		break;
	case FR_OP_FLOW_SAMPLE:
		st = w->st[ST_FLOW_SAMPLE];
		sqlite3_bind_int64(st, 1, op->flow_id);
		sqlite3_bind_int64(st, 2, op->start_ns);
		sqlite3_bind_int64(st, 3, op->end_ns);
		sqlite3_bind_int64(st, 4, (int64_t)op->flow.bytes_out);
		sqlite3_bind_int64(st, 5, (int64_t)op->flow.bytes_in);
		sqlite3_bind_int64(st, 6, (int64_t)op->flow.packets_out);
		sqlite3_bind_int64(st, 7, (int64_t)op->flow.packets_in);
		break;
	case FR_OP_FLOW_OWNER:
		st = w->st[ST_FLOW_OWNER];
		sqlite3_bind_int64(st, 1, op->flow_id);
		bind_identity(st, 2, &op->id, comm);
		sqlite3_bind_int64(st, 7, (int64_t)op->id.proc_start_ns);
		break;
	case FR_OP_PROCESS:
		st = w->st[ST_PROCESS];
		memcpy(comm, op->id.comm, FR_COMM_LEN);
		comm[FR_COMM_LEN] = 0;
		sqlite3_bind_int64(st, 1, op->id.pid);
		sqlite3_bind_int64(st, 2, op->start_ns);
		sqlite3_bind_int64(st, 3, op->id.ppid);
		bind_text_or_null(st, 4, comm);
		bind_text_or_null(st, 5, op->exe);
		bind_text_or_null(st, 6, op->cmdline);
		sqlite3_bind_int64(st, 7, op->id.uid);
		sqlite3_bind_int64(st, 8, (int64_t)op->id.cgroup_id);
		sqlite3_bind_int64(st, 9, op->id.netns);
		sqlite3_bind_int64(st, 10, w->run_id);
		bind_text_or_null(st, 11, op->container);
		bind_text_or_null(st, 12, op->runtime);
		bind_text_or_null(st, 13, op->pod_uid);
		break;
	case FR_OP_RUN_STATS: {
		uint64_t lost = op->stats[FR_STAT_RINGBUF_FULL] + op->stats[FR_STAT_FLOWS_FULL] +
				op->stats[FR_STAT_OWNERS_FULL] + op->stats[FR_STAT_PENDING_FULL] +
				op->stats[FR_STAT_CAPTURE_FULL] + op->capture_lost + op->capture_disk +
				op->stats[FR_STAT_SOCKEV_FULL];

		st = w->st[ST_RUN_STATS];
		sqlite3_bind_int64(st, 1, w->run_id);
		sqlite3_bind_int64(st, 2, op->last_ns);
		sqlite3_bind_int64(st, 3, (int64_t)lost);
		sqlite3_bind_int64(st, 4, (int64_t)op->stats[FR_STAT_RINGBUF_FULL]);
		sqlite3_bind_int64(st, 5, (int64_t)op->stats[FR_STAT_FLOWS_FULL]);
		sqlite3_bind_int64(st, 6, (int64_t)op->stats[FR_STAT_OWNERS_FULL]);
		sqlite3_bind_int64(st, 7, (int64_t)op->stats[FR_STAT_PENDING_FULL]);
		sqlite3_bind_int64(st, 8, (int64_t)op->stats[FR_STAT_UNOWNED_PACKETS]);
		sqlite3_bind_int64(st, 9, (int64_t)op->queue_full);
		sqlite3_bind_int64(st, 10, (int64_t)op->stats[FR_STAT_CAPTURE_FULL]);
		sqlite3_bind_int64(st, 11, (int64_t)op->capture_lost);
		sqlite3_bind_int64(st, 12, (int64_t)op->capture_disk);
		sqlite3_bind_int64(st, 13, (int64_t)op->dns_malformed);
		sqlite3_bind_int64(st, 14, (int64_t)op->stats[FR_STAT_SOCKEV_FULL]);
		sqlite3_bind_int64(st, 15, (int64_t)op->ipfix_lost);
		break;
	}
	case FR_OP_DNS: {
		st = w->st[ST_DNS];
		sqlite3_bind_int64(st, 1, w->run_id);
		sqlite3_bind_int64(st, 2, op->start_ns);
		if (op->id.pid) {
			memcpy(comm, op->id.comm, FR_COMM_LEN);
			comm[FR_COMM_LEN] = 0;
			sqlite3_bind_int64(st, 3, op->id.pid);
			sqlite3_bind_int64(st, 4, op->id.tid);
			bind_text_or_null(st, 5, comm);
			sqlite3_bind_int64(st, 6, op->id.netns);
		} else {
			for (int i = 3; i <= 6; i++)
				sqlite3_bind_null(st, i);
		}
		if (op->flow_id)
			sqlite3_bind_int64(st, 7, op->flow_id);
		else
			sqlite3_bind_null(st, 7);
		sqlite3_bind_text(st, 8, op->dns_role == 1 ? "client" : "server", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, op->dns_transport == 2 ? "tcp" : "udp", -1, SQLITE_STATIC);
		bind_text_or_null(st, 10, op->dns_server);
		sqlite3_bind_int(st, 11, op->dns_server_port);
		sqlite3_bind_int(st, 12, op->dns_qid);
		bind_text_or_null(st, 13, op->qname);
		if (op->qname) {
			sqlite3_bind_text(st, 14, fr_dns_type_str(op->dns_qtype, qtype, sizeof(qtype)), -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 15, op->dns_qclass);
		} else {
			sqlite3_bind_null(st, 14);
			sqlite3_bind_null(st, 15);
		}
		if (op->dns_rcode >= 0)
			sqlite3_bind_text(st, 16, fr_dns_rcode_str(op->dns_rcode, rcode, sizeof(rcode)), -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 16);
		bind_text_or_null(st, 17, op->answers);
		if (op->last_ns) {
			sqlite3_bind_int64(st, 18, op->last_ns);
			sqlite3_bind_int64(st, 19, op->last_ns - op->start_ns);
		} else {
			sqlite3_bind_null(st, 18);
			sqlite3_bind_null(st, 19);
		}
		break;
	}
	case FR_OP_SOCKET_EVENT:
		/* after the FR_OP_PROCESS pushed before it: the process row exists */
		apply_socket_event(w, op);
		return;
	case FR_OP_POLICY_LOAD:
	case FR_OP_POLICY_HITS:
		apply_policy(w, op);
		op_free(op);
		return;
	default:
		apply_pcap(w, op);
		return;
	}
	step(w, st);
	op_free(op); /* after the step: bound SQLITE_STATIC */
}

/* Commit; then delete the files of the segments whose index rows the transaction deleted. A
 * failed commit is rolled back (SQLite may have done so already) and its files kept. */
static void transaction_end(struct fr_db_writer *w, bool began, size_t ops)
{
	char path[4200];

	if (began && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fr_log(0, "database commit failed: %s; %zu operations lost", sqlite3_errmsg(w->db), ops);
		if (!sqlite3_get_autocommit(w->db))
			sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
		w->nunlinks = 0;
		return;
	}
	for (size_t i = 0; i < w->nunlinks; i++) {
		snprintf(path, sizeof(path), "%s/%s", w->data_dir, w->unlinks[i]);
		if (unlink(path) && errno != ENOENT)
			fr_log(0, "retention: cannot delete %s: %s", path, strerror(errno));
	}
	w->nunlinks = 0;
}

static void *writer_main(void *arg)
{
	struct fr_db_writer *w = arg;
	struct fr_op *batch = malloc(CHUNK * sizeof(*batch));

	if (!batch) {
		fr_log(0, "database writer: out of memory");
		return NULL;
	}
	pthread_mutex_lock(&w->lock);
	for (;;) {
		size_t in_tx = 0;
		uint64_t seq = w->committed;
		bool began;

		while (!w->count && !w->stop)
			pthread_cond_wait(&w->not_empty, &w->lock);
		if (!w->count && w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		began = sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
		if (!began) /* each statement then commits by itself: slower, nothing lost */
			fr_log(0, "database: cannot begin a transaction: %s", sqlite3_errmsg(w->db));
		pthread_mutex_lock(&w->lock);
		while (w->count && in_tx < MAX_OPS_PER_TX) {
			size_t n = 0;

			while (w->count && n < CHUNK) {
				batch[n++] = w->ring[w->head];
				w->head = (w->head + 1) % w->cap;
				w->count--;
			}
			pthread_cond_broadcast(&w->not_full);
			pthread_mutex_unlock(&w->lock);
			for (size_t i = 0; i < n; i++)
				apply(w, &batch[i]);
			in_tx += n;
			pthread_mutex_lock(&w->lock);
		}
		pthread_mutex_unlock(&w->lock);
		transaction_end(w, began, in_tx);
		pthread_mutex_lock(&w->lock);
		w->committed = seq + in_tx;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->lock);
	free(batch);
	return NULL;
}

struct fr_db_writer *fr_db_writer_start(sqlite3 *db, int64_t run_id, const char *data_dir, size_t queue_len)
{
	struct fr_db_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	snprintf(w->data_dir, sizeof(w->data_dir), "%s", data_dir);
	w->db = db;
	w->run_id = run_id;
	w->cap = queue_len;
	w->ring = calloc(queue_len, sizeof(*w->ring));
	if (!w->ring)
		goto fail;
	for (int i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &w->st[i], NULL)
		    != SQLITE_OK) {
			fr_log(0, "cannot prepare database statement: %s", sqlite3_errmsg(db));
			goto fail;
		}
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->not_empty, NULL);
	pthread_cond_init(&w->not_full, NULL);
	pthread_cond_init(&w->done, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w)) {
		fr_log(0, "cannot start the database writer thread");
		goto fail;
	}
	return w;
fail:
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(w->st[i]);
	free(w->ring);
	free(w);
	return NULL;
}

void fr_db_writer_push(struct fr_db_writer *w, const struct fr_op *op)
{
	pthread_mutex_lock(&w->lock);
	if (w->count == w->cap) {
		w->queue_full++;
		while (w->count == w->cap)
			pthread_cond_wait(&w->not_full, &w->lock);
	}
	w->ring[(w->head + w->count) % w->cap] = *op;
	w->count++;
	w->pushed++;
	pthread_cond_signal(&w->not_empty);
	pthread_mutex_unlock(&w->lock);
}

void fr_db_writer_sync(struct fr_db_writer *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t target = w->pushed;

	while (w->committed < target)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

bool fr_db_writer_busy(struct fr_db_writer *w)
{
	bool busy;

	pthread_mutex_lock(&w->lock);
	busy = w->count >= w->cap / 2;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

uint64_t fr_db_writer_queue_full(struct fr_db_writer *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->lock);
	n = w->queue_full;
	pthread_mutex_unlock(&w->lock);
	return n;
}

uint64_t fr_db_writer_rows(struct fr_db_writer *w)
{
	return w->rows;
}

void fr_db_writer_stop(struct fr_db_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->not_empty);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(w->st[i]);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->not_empty);
	pthread_cond_destroy(&w->not_full);
	pthread_cond_destroy(&w->done);
	free(w->ring);
	free(w->unlinks);
	free(w);
}
