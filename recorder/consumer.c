/*
 * The ring-buffer consumer: turns BPF events into database operations, and every flush
 * interval reconciles the user-space flow table with the BPF flows map.
 *
 * Events make rows timely and exact (a flow's first packet, its final counters at close,
 * the task that accepted it). The sweep makes them complete: it reads the whole flows map in
 * batches (one syscall per few thousand flows), writes the counters of open flows that
 * changed, creates rows for flows whose open event was lost, ends flows whose end event was
 * lost (absent from two sweeps in a row: one sweep's absence may just be an end event still
 * in flight), and ends the unconnected flows of sockets whose release event was lost (the
 * released map). So a lost event costs precision, never a row or an end.
 *
 * Flow events and socket calls come on two ring buffers, read flows first; a socket call
 * whose flow is not known yet reads the flow ring once more. The event loop (fr_consumer_poll)
 * reads both rings, then the packets (capture.c).
 */
#include <errno.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "recorder.h"
#include "log.h"
#include "bpf_attach.h"
#include "db_writer.h"
#include "pcap_store.h"
#include "dns_tracker.h"
#include "capture.h"
#include "flow_table.h"
#include "consumer.h"
#include "processes.h"
#include "policy_maps.h"
#include "ipfix_export.h"
#include "timefmt.h"
#include "flowrec.skel.h"

#define SWEEP_CHUNK 8192
#define SOCK_FLOW_SLOTS 4096 /* socket cookie -> flow id, learnt from socket events */

/* A socket's flow as a socket event found it by its full key. A later call on that socket
 * may not have the key any more: close() after a refused connect (the peer is cleared). */
struct sock_flow_slot {
	uint64_t cookie;
	int64_t flow_id;
};

struct fr_consumer {
	struct fr_bpf *bpf;
	struct fr_db_writer *w;
	struct ring_buffer *flow_rb; /* the events ring: flows, releases, execs */
	struct ring_buffer *sock_rb; /* the sock_events ring: socket calls */
	struct fr_flow_table *flows;
	int flows_fd, stats_fd, released_fd;
	int64_t next_flow_id;
	int64_t mono_to_real; /* add to CLOCK_MONOTONIC ns to get realtime ns */
	int64_t start_offset; /* the same, fixed at start: process start times must not jitter */
	uint32_t gen;
	uint64_t table_full;
	uint64_t sock_events_shed; /* socket events dropped to keep the writer's queue for flows */
	int ncpus;
	uint64_t *stat_vals;
	struct fr_flow_key *sweep_keys;
	struct fr_flow *sweep_vals;
	int epfd;
	struct fr_capture *cap;
	struct fr_pcap_store *store;
	struct fr_dns_tracker *dns;
	struct fr_processes *procs;
	struct fr_policy_maps *policy;
	struct fr_ipfix_export *ipfix;
	int64_t ipfix_active_ns;
	int64_t sample_ns;      /* --sample-interval; 0: no flow_samples */
	int64_t next_sample_ns; /* the next interval boundary (realtime) */
	/* Flows whose end is written but which stay findable for one more cycle: a packet
	 * captured just before the end may be read just after it. */
	struct fr_uflow **ended;
	size_t nended, capended;
	struct sock_flow_slot sock_flows[SOCK_FLOW_SLOTS];
	/* the released map, as the sweep took it (FR_MAX_RELEASED at most) */
	uint64_t released_keys[FR_MAX_RELEASED], released_vals[FR_MAX_RELEASED];
	uint32_t nreleased;
};

static int64_t mono_to_real_offset(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

static int64_t real_ns(const struct fr_consumer *c, uint64_t mono)
{
	return mono ? (int64_t)mono + c->mono_to_real : 0;
}

/* The name the flow's remote address was resolved from, as its row has it. */
static const char *flow_rname(struct fr_consumer *c, const struct fr_uflow *uf, const struct fr_flow *f,
			      int64_t start_ns)
{
	if (uf->key.family)
		return fr_dns_tracker_rname(c->dns, uf->owner.netns, uf->key.family, uf->key.raddr,
					    uf->owner.pid, start_ns);
	/* an MPTCP connection: the peer its first subflow went to */
	return fr_dns_tracker_rname(c->dns, uf->owner.netns, f->family, f->wire_raddr,
				    uf->owner.pid, start_ns);
}

/*
 * IPFIX (--ipfix): a record when a flow ends, and while it carries traffic one per active
 * timeout, each with the deltas since the flow's previous record. reason: FR_IPFIX_END_*;
 * FR_IPFIX_END_ACTIVE only sends when the timeout has passed since the last record.
 */
static void ipfix_flow(struct fr_consumer *c, struct fr_uflow *uf, const struct fr_flow *f,
		       int64_t end_ns, uint8_t reason)
{
	struct fr_ipfix_flow r;
	int64_t start = real_ns(c, f->start_ns), last = real_ns(c, f->last_ns);
	const char *s, *exe, *container;
	struct fr_identity id;

	if (!c->ipfix || uf->ipfix_ended)
		return;
	/* An MPTCP connection counts what its subflows carry, and they are exported. */
	if (uf->key.proto == FR_IPPROTO_MPTCP)
		return;
	/* The first active record comes between half the timeout and all of it, spread by flow
	 * id: flows that began together (those open at start) do not all come due at once. */
	if (reason == FR_IPFIX_END_ACTIVE &&
	    last - (uf->ipfix_ns ? uf->ipfix_ns
				 : start - c->ipfix_active_ns / 2 + (uf->id % 64) * c->ipfix_active_ns / 128) <
		    c->ipfix_active_ns)
		return;
	memset(&r, 0, sizeof(r));
	r.flow_id = (uint64_t)uf->id;
	r.start_ns = start;
	r.end_ns = reason == FR_IPFIX_END_ACTIVE ? last : end_ns;
	r.family = uf->key.family ? uf->key.family : f->family;
	r.proto = uf->key.proto == FR_IPPROTO_MPTCP ? 6 : (uint8_t)uf->key.proto;
	r.inbound = f->direction == FR_DIR_IN;
	r.end_reason = reason;
	r.firewall_event = f->verdict == FR_VERDICT_DENY    ? FR_IPFIX_FW_DENIED
			   : f->verdict == FR_VERDICT_AUDIT ? FR_IPFIX_FW_ALERT
							    : FR_IPFIX_FW_NONE;
	memcpy(r.laddr, f->laddr, sizeof(r.laddr));
	memcpy(r.raddr, f->wire_raddr, sizeof(r.raddr));
	r.lport = f->lport;
	r.rport = f->wire_rport;
	r.bytes_out = f->bytes_out;
	r.bytes_in = f->bytes_in;
	r.packets_out = f->packets_out;
	r.packets_in = f->packets_in;
	r.delta_bytes_out = f->bytes_out - uf->ipfix_bytes_out;
	r.delta_bytes_in = f->bytes_in - uf->ipfix_bytes_in;
	r.delta_packets_out = f->packets_out - uf->ipfix_packets_out;
	r.delta_packets_in = f->packets_in - uf->ipfix_packets_in;
	r.pid = uf->owner.pid;
	r.tid = uf->owner.tid;
	r.uid = uf->owner.uid;
	r.cgroup_id = uf->owner.cgroup_id;
	r.netns = uf->owner.netns;
	memcpy(r.comm, uf->owner.comm, sizeof(r.comm));
	r.comm[sizeof(r.comm) - 1] = 0;
	id = uf->owner;
	fr_processes_describe(c->procs, &id, &exe, &container);
	snprintf(r.exe, sizeof(r.exe), "%s", exe);
	snprintf(r.container, sizeof(r.container), "%s", container);
	if (uf->ipfix_rname)
		snprintf(r.rname, sizeof(r.rname), "%s", uf->ipfix_rname);
	if (f->rule && (s = fr_policy_maps_rule_name(c->policy, f->rule)))
		snprintf(r.rule, sizeof(r.rule), "%s", s);
	/* A record the queue had no room for leaves the baseline: the next one's deltas carry
	 * what it would have. */
	if (!fr_ipfix_export_push(c->ipfix, &r, reason == FR_IPFIX_END_FORCED))
		return;
	uf->ipfix_ns = last;
	uf->ipfix_bytes_out = f->bytes_out;
	uf->ipfix_bytes_in = f->bytes_in;
	uf->ipfix_packets_out = f->packets_out;
	uf->ipfix_packets_in = f->packets_in;
	uf->ipfix_ended = reason != FR_IPFIX_END_ACTIVE;
}

int fr_consumer_set_ipfix(struct fr_consumer *c, struct fr_ipfix_export *x, double active_timeout_s)
{
	if (fr_processes_keep_descriptions(c->procs)) {
		fr_log(0, "IPFIX export: out of memory");
		return -1;
	}
	c->ipfix = x;
	c->ipfix_active_ns = (int64_t)(active_timeout_s * 1e9);
	return 0;
}

/* Bring the database up to date with a flow. A flow reaches the database at the first flush
 * after it opened, or when it ends if that comes first: a connection that opens and closes
 * within one flush interval costs one INSERT instead of an INSERT and two UPDATEs. */
static void flow_write(struct fr_consumer *c, struct fr_uflow *uf, const struct fr_flow *now,
		       int64_t end_ns)
{
	struct fr_op op = { .flow_id = uf->id, .end_ns = end_ns };

	op.flow = *now;
	op.last_ns = real_ns(c, now->last_ns);
	op.captured = uf->captured;
	uf->captured_written = uf->captured;
	if (uf->inserted) {
		op.type = FR_OP_FLOW_COUNTERS;
	} else {
		const char *rname;

		op.type = FR_OP_FLOW_INSERT;
		op.key = uf->key;
		op.id = fr_processes_real(c->procs, &uf->owner);
		op.start_ns = real_ns(c, now->start_ns);
		rname = flow_rname(c, uf, now, op.start_ns);
		op.rname = rname ? strdup(rname) : NULL;
		if (c->ipfix && rname && !uf->ipfix_rname)
			uf->ipfix_rname = strdup(rname);
		op.parent_flow_id = uf->parent_id;
		if (now->rule) {
			const char *rule = fr_policy_maps_rule_name(c->policy, now->rule);

			op.rule_name = rule ? strdup(rule) : NULL;
		}
		uf->inserted = true;
	}
	fr_db_writer_push(c->w, &op);
	ipfix_flow(c, uf, now, end_ns, end_ns ? FR_IPFIX_END_FLOW : FR_IPFIX_END_ACTIVE);
	uf->last = *now;
}

void fr_consumer_set_policy(struct fr_consumer *c, struct fr_policy_maps *pm)
{
	c->policy = pm;
}

static struct fr_uflow *flow_new(struct fr_consumer *c, const struct fr_flow_key *key,
				 const struct fr_flow *f)
{
	struct fr_uflow *uf = fr_flow_table_insert(c->flows, key);

	if (!uf) {
		c->table_full++;
		return NULL;
	}
	uf->id = c->next_flow_id++;
	uf->owner = f->id;
	uf->last = *f;
	if (f->parent_cookie) { /* BPF opens an MPTCP connection before its first subflow */
		struct fr_flow_key pk = { .cookie = f->parent_cookie, .proto = FR_IPPROTO_MPTCP };
		struct fr_uflow *parent = fr_flow_table_find(c->flows, &pk);

		uf->parent_id = parent ? parent->id : 0;
	}
	uf->sweep_gen = c->gen;
	fr_processes_seen(c->procs, &f->id);
	return uf;
}

static void owner_changed(struct fr_consumer *c, struct fr_uflow *uf, const struct fr_identity *id)
{
	struct fr_op op = { .type = FR_OP_FLOW_OWNER, .flow_id = uf->id };

	if (!memcmp(&uf->owner, id, sizeof(*id)))
		return;
	uf->owner = *id;
	fr_processes_seen(c->procs, id);
	if (!uf->inserted)
		return; /* the insert will carry it */
	op.id = fr_processes_real(c->procs, id);
	fr_db_writer_push(c->w, &op);
}

/*
 * flow_samples (--sample-interval): at each interval boundary every flow that moved since
 * the last one gets a row with what it moved in between, and at its end one with the rest.
 * The counters are those of the sweep just before (a flush interval's precision). A flow
 * that no boundary passed (most short connections) gets no row at all: its row says it all,
 * and a churning host does not write each of them twice.
 */
static void flow_sample(struct fr_consumer *c, struct fr_uflow *uf, const struct fr_flow *f, int64_t until)
{
	struct fr_op op = { .type = FR_OP_FLOW_SAMPLE, .flow_id = uf->id, .end_ns = until };

	op.start_ns = uf->sample_ns ? uf->sample_ns : real_ns(c, f->start_ns);
	op.flow.bytes_out = f->bytes_out - uf->sample_bytes_out;
	op.flow.bytes_in = f->bytes_in - uf->sample_bytes_in;
	op.flow.packets_out = f->packets_out - uf->sample_packets_out;
	op.flow.packets_in = f->packets_in - uf->sample_packets_in;
	uf->sample_ns = until;
	if (!op.flow.packets_out && !op.flow.packets_in)
		return; /* idle over the interval: no row */
	uf->sample_bytes_out = f->bytes_out;
	uf->sample_bytes_in = f->bytes_in;
	uf->sample_packets_out = f->packets_out;
	uf->sample_packets_in = f->packets_in;
	fr_db_writer_push(c->w, &op);
}

static void flow_sample_boundary(struct fr_uflow *uf, void *arg)
{
	struct fr_consumer *c = arg;

	if (!uf->ended)
		flow_sample(c, uf, &uf->last, c->next_sample_ns);
}

void fr_consumer_set_sample_interval(struct fr_consumer *c, double seconds)
{
	c->sample_ns = (int64_t)(seconds * 1e9);
	if (c->sample_ns)
		c->next_sample_ns = fr_now_ns() / c->sample_ns * c->sample_ns + c->sample_ns;
}

static void finish_one(struct fr_uflow *uf, void *arg)
{
	struct fr_consumer *c = arg;
	int64_t now = fr_now_ns();

	if (uf->ended)
		return;
	if (c->sample_ns && uf->sample_ns)
		flow_sample(c, uf, &uf->last, now > uf->sample_ns ? now : uf->sample_ns);
	ipfix_flow(c, uf, &uf->last, real_ns(c, uf->last.last_ns), FR_IPFIX_END_FORCED);
}

void fr_consumer_finish(struct fr_consumer *c)
{
	if (c->ipfix || c->sample_ns)
		fr_flow_table_each(c->flows, finish_one, c);
}

/* Write a flow's end now; forget it at the end of the next cycle (finish_ended). */
static void flow_end(struct fr_consumer *c, struct fr_uflow *uf, const struct fr_flow *final,
		     int64_t end_ns)
{
	flow_write(c, uf, final, end_ns);
	if (c->sample_ns && uf->sample_ns)
		flow_sample(c, uf, final, end_ns > uf->sample_ns ? end_ns : uf->sample_ns);
	fr_dns_tracker_flow_ended(c->dns, &uf->key);
	uf->ended = true;
	uf->end_ns = end_ns;
	if (c->nended == c->capended) {
		size_t cap = c->capended ? c->capended * 2 : 1024;
		struct fr_uflow **n = realloc(c->ended, cap * sizeof(*n));

		if (!n) { /* no room to wait: forget it now */
			fr_flow_table_remove(c->flows, uf);
			return;
		}
		c->ended = n;
		c->capended = cap;
	}
	c->ended[c->nended++] = uf;
}

/* Forget the first n ended flows, those whose end was read before this cycle began. */
static void finish_ended(struct fr_consumer *c, size_t n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		struct fr_uflow *uf = c->ended[i];

		if (uf->captured != uf->captured_written)
			flow_write(c, uf, &uf->last, uf->end_ns);
		fr_flow_table_remove(c->flows, uf);
	}
	memmove(c->ended, c->ended + n, (c->nended - n) * sizeof(*c->ended));
	c->nended -= n;
}

/* An unconnected UDP socket closed: end every flow it had (its cookie's chain, not a scan). */
struct release_ctx {
	struct fr_consumer *c;
	uint64_t cookie;
	int64_t end_ns;
	unsigned found;
};

static void release_one(struct fr_uflow *uf, void *arg)
{
	struct release_ctx *r = arg;
	struct fr_flow final;

	if (uf->key.cookie != r->cookie || uf->ended)
		return;
	r->found++;
	if (bpf_map_lookup_and_delete_elem(r->c->flows_fd, &uf->key, &final))
		final = uf->last;
	flow_end(r->c, uf, &final, r->end_ns);
}

/* The flow of the socket a call was on, as the flow table has it now; 0 if none is known.
 * A flow is a socket and a peer: found by the socket's connected peer (accept, close, any
 * call on a connected socket) or the address connect() asked for (a refused connect has no
 * peer left). A call with neither, on a socket whose flow an earlier call found, gets that
 * one; an unconnected UDP socket has a flow per peer and gets none. */
static int64_t sock_event_flow(struct fr_consumer *c, const struct fr_sock_event *e)
{
	struct sock_flow_slot *slot = &c->sock_flows[(e->cookie * 0x9E3779B97F4A7C15ULL) >> 52];
	struct fr_flow_key k;
	struct fr_uflow *uf = NULL;

	if (!e->cookie)
		return 0;
	memset(&k, 0, sizeof(k));
	k.cookie = e->cookie;
	k.proto = e->protocol;
	if (e->protocol == FR_IPPROTO_MPTCP) { /* keyed by its cookie alone */
		uf = fr_flow_table_find(c->flows, &k);
	} else if (e->peer_family) {
		k.family = e->peer_family;
		k.rport = e->peer_port;
		memcpy(k.raddr, e->peer_addr, sizeof(k.raddr));
		uf = fr_flow_table_find(c->flows, &k);
	} else if (e->call == FR_CALL_CONNECT && e->raddr_family) {
		k.family = e->raddr_family;
		k.rport = e->rport;
		memcpy(k.raddr, e->raddr, sizeof(k.raddr));
		uf = fr_flow_table_find(c->flows, &k);
	}
	if (uf) {
		slot->cookie = e->cookie;
		slot->flow_id = uf->id;
		return uf->id;
	}
	return slot->cookie == e->cookie ? slot->flow_id : 0;
}

static void sock_event_seen(struct fr_consumer *c, const struct fr_sock_event *e)
{
	struct fr_op op = { .type = FR_OP_SOCKET_EVENT };

	/* When the database falls behind, socket events give way: waiting for room here would
	 * stop the reading of flow events too. Counted in runs.socket_events_lost. */
	if (fr_db_writer_busy(c->w)) {
		c->sock_events_shed++;
		return;
	}
	op.flow_id = sock_event_flow(c, e);
	/* The call's flow was opened before the call returned, but on the other ring buffer,
	 * which the last read may have passed before the open was queued: read it again. */
	if (!op.flow_id && e->cookie) {
		ring_buffer__consume(c->flow_rb);
		op.flow_id = sock_event_flow(c, e);
	}
	op.sock = *e;
	op.id = fr_processes_real(c->procs, &e->id);
	op.start_ns = real_ns(c, e->ts_ns);
	fr_processes_seen(c->procs, &e->id);
	fr_db_writer_push(c->w, &op);
}

/* Both ring buffers, flows first: a socket event's flow is then usually known already.
 * Returns the first error, or the number of events read. */
static int rings_consume(struct fr_consumer *c)
{
	int n = ring_buffer__consume(c->flow_rb), m = ring_buffer__consume(c->sock_rb);

	return n < 0 ? n : m < 0 ? m : n + m;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct fr_consumer *c = ctx;
	const struct fr_event *e = data;
	struct fr_uflow *uf;

	if (len >= sizeof(struct fr_exec_event) && e->type == FR_EV_EXEC) {
		fr_processes_exec(c->procs, data);
		return 0;
	}
	if (len >= sizeof(struct fr_sock_event) && e->type == FR_EV_SOCKET) {
		sock_event_seen(c, data);
		return 0;
	}
	if (len < sizeof(*e))
		return 0;
	uf = fr_flow_table_find(c->flows, &e->key);
	if (uf && uf->ended)
		uf = NULL; /* a new flow on a reused key would be another row; rare enough to drop */
	switch (e->type) {
	case FR_EV_FLOW_OPEN:
		if (!uf && !fr_flow_table_find(c->flows, &e->key))
			flow_new(c, &e->key, &e->flow);
		else if (uf && !uf->owner.pid && e->flow.id.pid)
			owner_changed(c, uf, &e->flow.id);
		break;
	case FR_EV_FLOW_END:
		if (!uf && !fr_flow_table_find(c->flows, &e->key))
			uf = flow_new(c, &e->key, &e->flow);
		if (uf) {
			owner_changed(c, uf, &e->flow.id);
			flow_end(c, uf, &e->flow, real_ns(c, e->ts_ns));
		}
		break;
	case FR_EV_OWNER:
		if (uf)
			owner_changed(c, uf, &e->flow.id);
		break;
	case FR_EV_SOCK_RELEASE: {
		struct release_ctx r = { c, e->key.cookie, real_ns(c, e->ts_ns), 0 };

		fr_flow_table_each_cookie(c->flows, r.cookie, release_one, &r);
		/* Flows whose open event was lost are not known yet: the next sweep makes them
		 * from the flows map, and then ends them with the released map's others. */
		if (!r.found)
			bpf_map_update_elem(c->released_fd, &r.cookie, &e->ts_ns, BPF_ANY);
		break;
	}
	}
	return 0;
}

struct fr_consumer *fr_consumer_new(struct fr_bpf *b, struct fr_db_writer *w, int64_t next_flow_id)
{
	struct fr_consumer *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->bpf = b;
	c->w = w;
	c->next_flow_id = next_flow_id;
	c->mono_to_real = mono_to_real_offset();
	c->start_offset = c->mono_to_real;
	c->flows_fd = bpf_map__fd(b->skel->maps.flows);
	c->stats_fd = bpf_map__fd(b->skel->maps.stats);
	c->released_fd = bpf_map__fd(b->skel->maps.released);
	c->procs = fr_processes_new(w, c->start_offset);
	c->ncpus = libbpf_num_possible_cpus();
	c->stat_vals = calloc(c->ncpus > 0 ? c->ncpus : 1, sizeof(uint64_t));
	c->flows = fr_flow_table_new(FR_MAX_FLOWS);
	c->sweep_keys = calloc(SWEEP_CHUNK, sizeof(*c->sweep_keys));
	c->sweep_vals = calloc(SWEEP_CHUNK, sizeof(*c->sweep_vals));
	c->flow_rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), handle_event, c, NULL);
	c->sock_rb = ring_buffer__new(bpf_map__fd(b->skel->maps.sock_events), handle_event, c, NULL);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->flow_rb && c->sock_rb && c->epfd >= 0 &&
	    (epoll_ctl(c->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(c->flow_rb),
		       &(struct epoll_event){ .events = EPOLLIN }) ||
	     epoll_ctl(c->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(c->sock_rb),
		       &(struct epoll_event){ .events = EPOLLIN }))) {
		close(c->epfd);
		c->epfd = -1;
	}
	if (c->ncpus <= 0 || !c->procs || !c->stat_vals || !c->flows || !c->sweep_keys || !c->sweep_vals ||
	    !c->flow_rb || !c->sock_rb || c->epfd < 0) {
		fr_log(0, "cannot set up the event consumer: %s", strerror(errno));
		fr_consumer_free(c);
		return NULL;
	}
	return c;
}

void fr_consumer_free(struct fr_consumer *c)
{
	if (!c)
		return;
	ring_buffer__free(c->flow_rb);
	ring_buffer__free(c->sock_rb);
	if (c->epfd >= 0)
		close(c->epfd);
	free(c->ended);
	fr_processes_free(c->procs);
	fr_flow_table_free(c->flows);
	free(c->stat_vals);
	free(c->sweep_keys);
	free(c->sweep_vals);
	free(c);
}

int fr_consumer_set_capture(struct fr_consumer *c, struct fr_capture *cap, struct fr_pcap_store *store,
			    struct fr_dns_tracker *dns)
{
	c->cap = cap;
	c->store = store;
	c->dns = dns;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fr_capture_epoll_fd(cap),
		      &(struct epoll_event){ .events = EPOLLIN })) {
		fr_log(0, "cannot poll the packet perf buffer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* One cycle: events, then packets, then the ends read before this cycle made final. Events
 * first, so that a packet's flow is known (a packet waits in capture.c for one more read of
 * the rings when it is not). An ended flow stays findable for one whole cycle after the one
 * that read its end: a packet captured just before the end, or a socket call that returned
 * just after it (a refused connect), may be read that much later. */
int fr_consumer_poll(struct fr_consumer *c, int timeout_ms)
{
	struct epoll_event ev[3];
	size_t ended_before = c->nended;
	int n;

	n = epoll_wait(c->epfd, ev, 3, timeout_ms);
	if (n < 0 && errno != EINTR) {
		fr_log(0, "waiting for events: %s", strerror(errno));
		return -1;
	}
	n = rings_consume(c);
	if (c->cap) {
		fr_capture_consume(c->cap);
		if (fr_capture_waiting(c->cap)) {
			ring_buffer__consume(c->flow_rb);
			fr_capture_resolve(c->cap);
		}
	}
	finish_ended(c, ended_before);
	if (n < 0 && n != -EINTR) {
		fr_log(0, "reading the event ring buffer: %s", strerror(-n));
		return -1;
	}
	return 0;
}

struct fr_uflow *fr_consumer_packet_flow(struct fr_consumer *c, const struct fr_flow_key *k)
{
	struct fr_uflow *uf = fr_flow_table_find(c->flows, k);
	struct fr_flow v;

	if (uf)
		return uf;
	if (bpf_map_lookup_elem(c->flows_fd, k, &v))
		return NULL;
	return flow_new(c, k, &v);
}

int64_t fr_consumer_real_ns(const struct fr_consumer *c, uint64_t mono_ns)
{
	return real_ns(c, mono_ns);
}

static void sweep_entry(struct fr_consumer *c, const struct fr_flow_key *k, const struct fr_flow *v)
{
	struct fr_uflow *uf = fr_flow_table_find(c->flows, k);

	if (uf && uf->ended)
		return;
	if (!uf) {
		uf = flow_new(c, k, v);
		if (!uf)
			return;
	}
	uf->sweep_gen = c->gen;
	uf->missing_once = false;
	if (v->flags & FR_FLOW_ENDED) {
		owner_changed(c, uf, &v->id);
		bpf_map_delete_elem(c->flows_fd, k);
		flow_end(c, uf, v, real_ns(c, v->last_ns));
		return;
	}
	if (!uf->inserted || memcmp(&uf->last, v, sizeof(*v))) {
		owner_changed(c, uf, &v->id); /* in case the owner event was lost */
		flow_write(c, uf, v, 0);
	}
}

static void sweep_missing(struct fr_uflow *uf, void *arg)
{
	struct fr_consumer *c = arg;

	if (uf->sweep_gen == c->gen || uf->ended)
		return;
	if (!uf->missing_once) {
		uf->missing_once = true;
		return;
	}
	flow_end(c, uf, &uf->last, real_ns(c, uf->last.last_ns));
}

static void read_stats(struct fr_consumer *c, uint64_t *out)
{
	for (uint32_t i = 0; i < FR_STAT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(c->stats_fd, &i, c->stat_vals))
			continue;
		for (int cpu = 0; cpu < c->ncpus; cpu++)
			out[i] += c->stat_vals[cpu];
	}
}

/* Sockets released while the ring buffer was full: BPF kept their cookies and release times
 * in the released map (so does handle_event for a release whose flows were not known yet).
 * The sweep takes the map before it reads the flows map, so that every flow of a socket
 * taken is known by the time released_end ends it as the lost FR_EV_SOCK_RELEASE would
 * have; a socket released during the sweep waits for the next one. */
static void released_take(struct fr_consumer *c)
{
	uint64_t token = 0;
	bool first = true;
	int err;

	c->nreleased = 0;
	do {
		__u32 n = FR_MAX_RELEASED - c->nreleased;

		if (!n)
			break;
		err = bpf_map_lookup_and_delete_batch(c->released_fd, first ? NULL : &token, &token,
						      c->released_keys + c->nreleased,
						      c->released_vals + c->nreleased, &n, NULL);
		if (err && errno != ENOENT) {
			fr_log(0, "reading the released map: %s", strerror(errno));
			return;
		}
		c->nreleased += n;
		first = false;
	} while (!err);
}

static void released_end(struct fr_consumer *c)
{
	for (uint32_t i = 0; i < c->nreleased; i++) {
		struct release_ctx r = { c, c->released_keys[i], real_ns(c, c->released_vals[i]), 0 };

		fr_flow_table_each_cookie(c->flows, r.cookie, release_one, &r);
	}
	c->nreleased = 0;
}

void fr_consumer_flush(struct fr_consumer *c)
{
	struct fr_op op = { .type = FR_OP_RUN_STATS };
	uint64_t token = 0;
	bool first = true;
	int err;

	/* Events already queued first, so the sweep sees as few in-flight ends as possible. */
	rings_consume(c);
	released_take(c);
	c->mono_to_real = mono_to_real_offset();
	c->gen++;
	do {
		__u32 n = SWEEP_CHUNK;

		err = bpf_map_lookup_batch(c->flows_fd, first ? NULL : &token, &token, c->sweep_keys,
					   c->sweep_vals, &n, NULL);
		if (err && errno != ENOENT) {
			fr_log(0, "reading the flows map: %s", strerror(errno));
			break;
		}
		for (__u32 i = 0; i < n; i++)
			sweep_entry(c, &c->sweep_keys[i], &c->sweep_vals[i]);
		first = false;
	} while (!err);
	released_end(c);
	fr_flow_table_each(c->flows, sweep_missing, c);

	read_stats(c, op.stats);
	op.stats[FR_STAT_FLOWS_FULL] += c->table_full;
	op.stats[FR_STAT_SOCKEV_FULL] += c->sock_events_shed;
	op.queue_full = fr_db_writer_queue_full(c->w);
	if (c->cap)
		op.capture_lost = fr_capture_lost(c->cap);
	if (c->store)
		op.capture_disk = fr_pcap_store_dropped(c->store);
	if (c->dns) {
		fr_dns_tracker_expire(c->dns, fr_now_ns());
		op.dns_malformed = fr_dns_tracker_malformed(c->dns);
	}
	if (c->sample_ns && fr_now_ns() >= c->next_sample_ns) {
		fr_flow_table_each(c->flows, flow_sample_boundary, c);
		/* A boundary passed while the recorder was held up is not made up for. */
		c->next_sample_ns = fr_now_ns() / c->sample_ns * c->sample_ns + c->sample_ns;
	}
	op.ipfix_lost = fr_ipfix_export_lost(c->ipfix);
	op.last_ns = fr_now_ns();
	fr_db_writer_push(c->w, &op);
}
