/*
 * DNS transactions: turns captured DNS packets into dns rows, and remembers which names the
 * answers gave so that flows can be named (flows.rname).
 *
 * Every packet to or from a DNS port reaches user space whole, whatever --snaplen is
 * (bpf/flowrec.bpf.c). A query opens a pending transaction keyed by the socket and peer it
 * went over (the flow key), its id and the side the recorded task is on: a query leaving a
 * socket is that task asking ('client'), a query arriving is that task being asked
 * ('server'). The response coming back the other way on the same key completes it. A query
 * never answered is written after PENDING_TIMEOUT_NS with NULL response columns.
 *
 * Packets reach us per CPU, so a response can be read before its query (they left and
 * arrived on different CPUs). A response without a query is therefore held for
 * ORPHAN_HOLD_NS: a query read meanwhile completes it; after that it gets a row of its own.
 *
 * TCP DNS is reassembled per socket and direction: segments are appended in sequence order
 * and each 2-byte-length-prefixed message is parsed once whole. A gap in the sequence makes
 * the stream unusable; it is counted as malformed and ignored, never misread.
 *
 * Names for flows: each answer's A/AAAA addresses are remembered with the question name
 * (the first name of a CNAME chain), per network namespace, both for the asking process and
 * for anyone. A new flow takes the name its own process resolved for its remote address, or
 * failing that, any process's in the namespace, if it was resolved before the flow started.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recorder.h"
#include "db_writer.h"
#include "dns_tracker.h"
#include "flow_table.h"
#include "dns.h"
#include "ippkt.h"

#define PENDING_BUCKETS 4096
#define PENDING_MAX 65536
#define PENDING_TIMEOUT_NS (30LL * 1000000000)
#define ORPHAN_HOLD_NS (2LL * 1000000000)
#define NAMES_SLOTS 16384
#define STREAMS_MAX 256
#define STREAM_BUF (65535 + 2)

enum { ROLE_CLIENT = 1, ROLE_SERVER = 2 };
enum { TRANSPORT_UDP = 1, TRANSPORT_TCP = 2 };

/* What a pending query keeps of its message (a whole fr_dns_msg is 9 KiB). */
struct question {
	int has_question;
	uint16_t qtype, qclass;
	char qname[FR_DNS_NAME_MAX];
};

static void question_from(struct question *q, const struct fr_dns_msg *m)
{
	q->has_question = m->has_question;
	q->qtype = m->qtype;
	q->qclass = m->qclass;
	memcpy(q->qname, m->qname, sizeof(q->qname));
}

struct pending {
	struct pending *next;
	struct fr_flow_key key;
	uint16_t qid;
	uint8_t role, transport;
	int64_t ts_ns, flow_id;
	struct fr_identity owner;
	char server[INET6_ADDRSTRLEN];
	uint16_t server_port;
	struct question q;        /* the query's question */
	struct fr_dns_msg *resp;  /* set: a response read before its query (held, see above) */
	int64_t resp_ns;
};

struct name_slot {
	uint32_t netns, pid; /* pid 0: the latest of any process */
	uint8_t family;
	uint8_t addr[16];
	int64_t ts_ns;
	char name[FR_DNS_NAME_MAX];
};

struct stream {
	struct fr_flow_key key;
	uint8_t direction;
	bool broken;
	uint32_t next_seq;
	uint32_t len;
	uint8_t *buf;
};

struct fr_dns_tracker {
	struct fr_db_writer *w;
	struct pending *buckets[PENDING_BUCKETS];
	uint32_t npending;
	struct name_slot *names;
	struct stream streams[STREAMS_MAX];
	unsigned nstreams; /* streams with a buffer: a TCP flow's end looks for its own only if any */
	uint32_t stream_rr; /* next slot to evict when all are taken */
	uint64_t malformed;
	struct fr_dns_msg msg; /* scratch: large, so not on the stack */
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t pending_hash(const struct fr_flow_key *k, uint16_t qid, uint8_t role)
{
	uint64_t h = k->cookie * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)k->rport << 32) ^ k->raddr[0] ^
		     k->raddr[3] ^ ((uint64_t)qid << 16) ^ role;

	return (uint32_t)(h ^ h >> 29) % PENDING_BUCKETS;
}

static struct pending **pending_find(struct fr_dns_tracker *t, const struct fr_flow_key *k,
				     uint16_t qid, uint8_t role)
{
	struct pending **pp = &t->buckets[pending_hash(k, qid, role)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->qid == qid && (*pp)->role == role && !memcmp(&(*pp)->key, k, sizeof(*k)))
			return pp;
	return pp;
}

/* Queue a dns row. resp may be NULL (never answered). */
static void write_row(struct fr_dns_tracker *t, const struct pending *p, const struct fr_dns_msg *resp,
		      int64_t response_ns)
{
	struct fr_op op = { .type = FR_OP_DNS, .flow_id = p->flow_id, .start_ns = p->ts_ns };
	struct question from_resp;
	const struct question *q = &p->q;

	if (!q->has_question && resp) { /* a response alone: its question section */
		question_from(&from_resp, resp);
		q = &from_resp;
	}

	op.id = p->owner;
	op.key = p->key;
	op.dns_role = p->role;
	op.dns_transport = p->transport;
	op.dns_qid = p->qid;
	memcpy(op.dns_server, p->server, sizeof(op.dns_server));
	op.dns_server_port = p->server_port;
	op.dns_rcode = -1;
	if (q->has_question) {
		op.qname = strdup(q->qname);
		op.dns_qtype = q->qtype;
		op.dns_qclass = q->qclass;
	}
	if (resp) {
		op.last_ns = response_ns;
		op.dns_rcode = resp->rcode;
		op.answers = strdup(resp->answers_json);
	}
	fr_db_writer_push(t->w, &op);
}

static void names_remember(struct fr_dns_tracker *t, uint32_t netns, uint32_t pid,
			   const struct fr_dns_msg *m, int64_t ts)
{
	for (int i = 0; i < m->naddrs; i++) {
		for (int any = 0; any < 2; any++) {
			uint32_t who = any ? 0 : pid;
			uint64_t h = ((uint64_t)netns << 32 | who) * 0x9E3779B97F4A7C15ULL;
			struct name_slot *s;

			for (int b = 0; b < 16; b++)
				h = (h ^ m->addrs[i].addr[b]) * 0x100000001B3ULL;
			s = &t->names[h % NAMES_SLOTS];
			s->netns = netns;
			s->pid = who;
			s->family = (uint8_t)m->addrs[i].family;
			memcpy(s->addr, m->addrs[i].addr, 16);
			s->ts_ns = ts;
			snprintf(s->name, sizeof(s->name), "%s", m->qname);
		}
	}
}

const char *fr_dns_tracker_rname(struct fr_dns_tracker *t, uint32_t netns, int family,
				 const uint32_t *addr, uint32_t pid, int64_t before_ns)
{
	uint8_t a[16] = { 0 };

	if (!t)
		return NULL;
	memcpy(a, addr, family == 6 ? 16 : 4);
	for (int any = 0; any < 2; any++) {
		uint32_t who = any ? 0 : pid;
		uint64_t h = ((uint64_t)netns << 32 | who) * 0x9E3779B97F4A7C15ULL;
		const struct name_slot *s;

		for (int b = 0; b < 16; b++)
			h = (h ^ a[b]) * 0x100000001B3ULL;
		s = &t->names[h % NAMES_SLOTS];
		if (s->netns == netns && s->pid == who && s->family == family &&
		    !memcmp(s->addr, a, 16) && s->ts_ns <= before_ns && s->name[0])
			return s->name;
	}
	return NULL;
}

static void handle_message(struct fr_dns_tracker *t, struct fr_uflow *uf, const struct fr_pkt_hdr *h,
			   const struct fr_ippkt *l, const uint8_t *msg, uint32_t len, int64_t ts,
			   uint8_t transport)
{
	struct fr_dns_msg *m = &t->msg;
	bool out = h->direction == FR_DIR_OUT;
	uint8_t role;
	struct pending **pp, *p;

	if (fr_dns_parse(msg, len, m) || !m->complete)
		t->malformed++;
	if (len < 12)
		return;
	/* A query leaving the socket, or a response arriving: the recorded task asked. */
	role = (!m->is_response) == out ? ROLE_CLIENT : ROLE_SERVER;
	pp = pending_find(t, &h->key, m->id, role);
	if (!m->is_response) {
		if (*pp && (*pp)->resp) {
			/* Its response was read first: the transaction is whole now. */
			p = *pp;
			*pp = p->next;
			t->npending--;
			p->ts_ns = ts;
			question_from(&p->q, m);
			if (uf) {
				p->flow_id = uf->id;
				p->owner = uf->owner;
			}
			write_row(t, p, p->resp, p->resp_ns);
			free(p->resp);
			free(p);
			return;
		}
		if (*pp || t->npending >= PENDING_MAX)
			return; /* a retransmission keeps the first query's time */
		p = calloc(1, sizeof(*p));
		if (!p)
			return;
		p->key = h->key;
		p->qid = m->id;
		p->role = role;
		p->transport = transport;
		p->ts_ns = ts;
		question_from(&p->q, m);
		if (uf) {
			p->flow_id = uf->id;
			p->owner = uf->owner;
		}
		/* A query goes to the server: the peer for a client, this host for a server. */
		inet_ntop(l->family == 6 ? AF_INET6 : AF_INET, l->dst, p->server, sizeof(p->server));
		p->server_port = l->dport;
		*pp = p;
		t->npending++;
		return;
	}
	if (role == ROLE_CLIENT && uf && m->has_question)
		names_remember(t, uf->owner.netns, uf->owner.pid, m, ts);
	if (*pp) {
		p = *pp;
		*pp = p->next;
		t->npending--;
		write_row(t, p, m, ts);
		free(p);
		return;
	}
	/* No query yet: hold the response (see the top of the file). */
	if (t->npending >= PENDING_MAX)
		return;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->resp = malloc(sizeof(*m)))) {
		free(p);
		return;
	}
	*p->resp = *m;
	p->resp_ns = ts;
	p->ts_ns = ts;
	p->key = h->key;
	p->qid = m->id;
	p->role = role;
	p->transport = transport;
	if (uf) {
		p->flow_id = uf->id;
		p->owner = uf->owner;
	}
	/* A response comes from the server. */
	inet_ntop(l->family == 6 ? AF_INET6 : AF_INET, l->src, p->server, sizeof(p->server));
	p->server_port = l->sport;
	*pp = p;
	t->npending++;
}

static struct stream *stream_get(struct fr_dns_tracker *t, const struct fr_flow_key *k, uint8_t dir,
				 uint32_t seq)
{
	struct stream *free_slot = NULL, *s;

	for (int i = 0; i < STREAMS_MAX; i++) {
		s = &t->streams[i];
		if (s->buf && s->direction == dir && !memcmp(&s->key, k, sizeof(*k)))
			return s;
		if (!s->buf && !free_slot)
			free_slot = s;
	}
	if (!free_slot) {
		free_slot = &t->streams[t->stream_rr++ % STREAMS_MAX];
		free(free_slot->buf);
		free_slot->buf = NULL;
		t->nstreams--;
	}
	s = free_slot;
	s->buf = malloc(STREAM_BUF);
	if (!s->buf)
		return NULL;
	t->nstreams++;
	s->key = *k;
	s->direction = dir;
	s->broken = false;
	s->next_seq = seq;
	s->len = 0;
	return s;
}

static void tcp_segment(struct fr_dns_tracker *t, struct fr_uflow *uf, const struct fr_pkt_hdr *h,
			const struct fr_ippkt *l, int64_t ts)
{
	struct stream *s = stream_get(t, &h->key, h->direction, l->seq);
	const uint8_t *data = l->payload;
	uint32_t len = l->len, skip;

	if (!s || s->broken)
		return;
	skip = s->next_seq - l->seq; /* bytes already seen (a retransmission), modulo 2^32 */
	if (skip >= len && skip < 0x80000000u)
		return;
	if (skip >= 0x80000000u) {
		/* A gap: what follows cannot be framed reliably. */
		s->broken = true;
		t->malformed++;
		return;
	}
	data += skip;
	len -= skip;
	if (s->len + len > STREAM_BUF) {
		s->broken = true;
		t->malformed++;
		return;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->next_seq += len;
	while (s->len >= 2 && s->len >= 2u + be16(s->buf)) {
		uint32_t mlen = be16(s->buf);

		handle_message(t, uf, h, l, s->buf + 2, mlen, ts, TRANSPORT_TCP);
		memmove(s->buf, s->buf + 2 + mlen, s->len - 2 - mlen);
		s->len -= 2 + mlen;
	}
}

void fr_dns_tracker_packet(struct fr_dns_tracker *t, struct fr_uflow *uf, const struct fr_pkt_hdr *h,
			   const uint8_t *pkt, int64_t ts)
{
	struct fr_ippkt l;

	/* A fragmented message is not reassembled: its first fragment would parse as cut short. */
	if (fr_ippkt_parse(pkt, h->caplen, h->len, &l) || l.more_fragments || !l.len)
		return;
	if (l.proto == 17)
		handle_message(t, uf, h, &l, l.payload, l.len, ts, TRANSPORT_UDP);
	else
		tcp_segment(t, uf, h, &l, ts);
}

void fr_dns_tracker_flow_ended(struct fr_dns_tracker *t, const struct fr_flow_key *k)
{
	if (!t || k->proto != 6)
		return;
	for (int i = 0; i < STREAMS_MAX && t->nstreams; i++) {
		struct stream *s = &t->streams[i];

		if (s->buf && !memcmp(&s->key, k, sizeof(*k))) {
			free(s->buf);
			s->buf = NULL;
			t->nstreams--;
		}
	}
}

/* Write queries older than the timeout as unanswered, and held responses whose query did
 * not come as rows of their own; everything when now is INT64_MAX. */
void fr_dns_tracker_expire(struct fr_dns_tracker *t, int64_t now)
{
	for (int b = 0; b < PENDING_BUCKETS; b++) {
		struct pending **pp = &t->buckets[b];

		while (*pp) {
			struct pending *p = *pp;
			int64_t hold = p->resp ? ORPHAN_HOLD_NS : PENDING_TIMEOUT_NS;

			if (now != INT64_MAX && now - p->ts_ns < hold) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			t->npending--;
			write_row(t, p, p->resp, p->resp_ns);
			free(p->resp);
			free(p);
		}
	}
}

uint64_t fr_dns_tracker_malformed(const struct fr_dns_tracker *t)
{
	return t ? t->malformed : 0;
}

struct fr_dns_tracker *fr_dns_tracker_new(struct fr_db_writer *w)
{
	struct fr_dns_tracker *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->w = w;
	t->names = calloc(NAMES_SLOTS, sizeof(*t->names));
	if (!t->names) {
		free(t);
		return NULL;
	}
	return t;
}

/* Pending queries are written as unanswered: the writer must still be running. */
void fr_dns_tracker_free(struct fr_dns_tracker *t)
{
	if (!t)
		return;
	fr_dns_tracker_expire(t, INT64_MAX);
	for (int i = 0; i < STREAMS_MAX; i++)
		free(t->streams[i].buf);
	free(t->names);
	free(t);
}
