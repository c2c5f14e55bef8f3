/*
 * writer_bench: throughput of the recorder's database writer (recorder/db_writer.c), linked
 * against the project's own objects, on a fresh database made by fr_db_open_rw.
 *
 *   writer_bench DB_PATH [N]
 *
 * Three phases, each timed from the first push to fr_db_writer_sync() returning (everything
 * committed):
 *   insert    N FR_OP_FLOW_INSERT ops: distinct flow ids and socket cookies, IPv4 remote
 *             addresses drawn from REMOTES hosts, ports, pid/comm of PROCS processes, as the
 *             consumer pushes them for new flows
 *   update    N FR_OP_FLOW_COUNTERS ops, one per flow inserted above, ending it
 *   churn     N/2 flows as short connections produce them: insert, then its end update
 *   sockev    N FR_OP_SOCKET_EVENT ops: connect() calls, each naming one of the flows above
 * Prints one line per phase:  PHASE ops N seconds S rate R queue_full Q
 * and a check line with the row counts found in the tables afterwards.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_writer.h"
#include "db.h"

#define QUEUE_LEN 65536 /* as recorder/main.c */
#define PROCS 200       /* distinct processes owning the flows */
#define REMOTES 4096    /* distinct remote addresses */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int64_t real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static const char *const comms[] = { "curl", "nginx", "postgres", "python3", "java", "sshd",
				     "redis-server", "node" };

static void make_insert(struct fr_op *op, int64_t id, int64_t base_ns)
{
	uint32_t h = (uint32_t)(id * 2654435761u);
	uint32_t proc = (h >> 12) % PROCS;

	memset(op, 0, sizeof(*op));
	op->type = FR_OP_FLOW_INSERT;
	op->flow_id = id;
	op->start_ns = base_ns + id * 1000;
	op->last_ns = op->start_ns + 500;
	op->key.cookie = 0x100000000ULL + (uint64_t)id;
	op->key.family = 4;
	op->key.proto = (id % 10) ? 6 : 17;
	/* Addresses are only data here: nothing is sent anywhere. */
	op->key.raddr[0] = htonl(0x7f000000u | ((h % REMOTES) * 2654435761u & 0x00ffffffu));
	op->key.rport = (uint16_t)((id % 3) ? 443 : 1024 + h % 50000);
	op->flow.laddr[0] = htonl(0x7f000001u);
	op->flow.lport = (uint16_t)(32768 + id % 28000);
	op->flow.direction = (id % 4) ? FR_DIR_OUT : FR_DIR_IN;
	op->flow.start_ns = (uint64_t)op->start_ns;
	op->flow.last_ns = (uint64_t)op->last_ns;
	op->flow.bytes_out = 60 + h % 1000;
	op->flow.packets_out = 1;
	op->id.pid = 1000 + proc;
	op->id.tid = op->id.pid;
	op->id.ppid = 1;
	op->id.uid = 1000;
	op->id.cgroup_id = 4242;
	op->id.netns = 4026531840u;
	op->id.proc_start_ns = (uint64_t)base_ns - 1000000000ULL * proc;
	memcpy(op->id.comm, comms[proc % (sizeof(comms) / sizeof(comms[0]))],
	       strlen(comms[proc % (sizeof(comms) / sizeof(comms[0]))]));
}

static void make_update(struct fr_op *op, int64_t id, int64_t base_ns)
{
	memset(op, 0, sizeof(*op));
	op->type = FR_OP_FLOW_COUNTERS;
	op->flow_id = id;
	op->last_ns = base_ns + id * 1000 + 2000000;
	op->end_ns = op->last_ns + 1000;
	op->flow.bytes_out = 740 + (uint64_t)id % 1000;
	op->flow.bytes_in = 380 + (uint64_t)id % 700;
	op->flow.packets_out = 6;
	op->flow.packets_in = 5;
	op->flow.last_ns = (uint64_t)op->last_ns;
}

static void make_sock_event(struct fr_op *op, int64_t id, int64_t base_ns)
{
	struct fr_flow_key key;
	struct fr_flow flow;

	make_insert(op, id, base_ns); /* the same owner and addresses */
	key = op->key; /* sock shares their room */
	flow = op->flow;
	memset(&op->sock, 0, sizeof(op->sock));
	op->type = FR_OP_SOCKET_EVENT;
	op->sock.type = FR_EV_SOCKET;
	op->sock.call = FR_CALL_CONNECT;
	op->sock.family = 4;
	op->sock.fd = 3 + id % 1000;
	op->sock.sock_type = 1;
	op->sock.protocol = 6;
	op->sock.cookie = key.cookie;
	op->sock.laddr_family = 4;
	op->sock.laddr[0] = flow.laddr[0];
	op->sock.lport = flow.lport;
	op->sock.raddr_family = 4;
	op->sock.raddr[0] = key.raddr[0];
	op->sock.rport = key.rport;
	op->sock.ret = (id % 20) ? 0 : -111;
}

static void report(const char *phase, long n, double secs, uint64_t qfull)
{
	printf("%s ops %ld seconds %.3f rate %.0f queue_full %llu\n", phase, n, secs, n / secs,
	       (unsigned long long)qfull);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char err[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	struct fr_db_writer *w;
	struct fr_op op;
	long n = 1000000;
	int64_t run_id, base = real_ns(), id, next_id;
	uint64_t q0;
	double t0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: writer_bench DB_PATH [N]\n");
		return 2;
	}
	if (argc == 3)
		n = atol(argv[2]);
	if (n < 2) {
		fprintf(stderr, "writer_bench: N must be at least 2\n");
		return 2;
	}
	if (fr_db_open_rw(argv[1], &db, err, sizeof(err))) {
		fprintf(stderr, "writer_bench: %s\n", err);
		return 1;
	}
	if (sqlite3_exec(db,
			 "INSERT INTO runs(start_ns, heartbeat_ns, hostname, kernel, version, options, "
			 "cgroup, hooks) VALUES (0, 0, 'bench', 'bench', 'bench', 'writer_bench', '/', '')",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "writer_bench: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	run_id = sqlite3_last_insert_rowid(db);
	w = fr_db_writer_start(db, run_id, "/nonexistent", QUEUE_LEN);
	if (!w)
		return 1;

	/* insert */
	t0 = now_s();
	for (id = 1; id <= n; id++) {
		make_insert(&op, id, base);
		fr_db_writer_push(w, &op);
	}
	fr_db_writer_sync(w);
	report("insert", n, now_s() - t0, fr_db_writer_queue_full(w));

	/* update: one end-of-flow counter update per flow */
	q0 = fr_db_writer_queue_full(w);
	t0 = now_s();
	for (id = 1; id <= n; id++) {
		make_update(&op, id, base);
		fr_db_writer_push(w, &op);
	}
	fr_db_writer_sync(w);
	report("update", n, now_s() - t0, fr_db_writer_queue_full(w) - q0);

	/* churn: insert and end each short flow, as a connection storm produces them */
	q0 = fr_db_writer_queue_full(w);
	next_id = n + 1;
	t0 = now_s();
	for (long i = 0; i < n / 2; i++) {
		id = next_id++;
		make_insert(&op, id, base);
		fr_db_writer_push(w, &op);
		make_update(&op, id, base);
		fr_db_writer_push(w, &op);
	}
	fr_db_writer_sync(w);
	report("churn", (n / 2) * 2, now_s() - t0, fr_db_writer_queue_full(w) - q0);

	/* sockev: a connect() per flow */
	q0 = fr_db_writer_queue_full(w);
	t0 = now_s();
	for (id = 1; id <= n; id++) {
		make_sock_event(&op, id, base);
		fr_db_writer_push(w, &op);
	}
	fr_db_writer_sync(w);
	report("sockev", n, now_s() - t0, fr_db_writer_queue_full(w) - q0);

	fr_db_writer_stop(w);
	if (sqlite3_prepare_v2(db, "SELECT (SELECT COUNT(*) FROM flows), (SELECT COUNT(end_ns) FROM "
			       "flows), (SELECT COUNT(*) FROM socket_events)", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		printf("check flows %lld ended %lld expected %ld socket_events %lld expected %ld\n",
		       (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
		       n + n / 2, (long long)sqlite3_column_int64(st, 2), n);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}
