/*
 * The packet consumer: reads captured packets from the BPF perf buffer and appends them to
 * the pcap store, each tagged with its flow and process.
 *
 * The perf buffer (not a ring buffer) is what lets the BPF side copy each packet straight
 * from the skb at its own length (bpf/flowrec.bpf.c). It is opened raw so that the kernel
 * wakes us only once a quarter of a CPU's buffer is full; the consumer also polls every
 * 50 ms, so quiet traffic is not held back.
 *
 * The event loop (fr_consumer_poll) reads the event rings before the packets, so a packet's
 * flow is nearly always known. One that is not (its open event queued after the rings were
 * read, and its flow already gone from the BPF map) waits here, copied, until the rings have
 * been read once more (fr_capture_resolve): a perf callback never reads the event rings.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "recorder.h"
#include "log.h"
#include "bpf_attach.h"
#include "pcap_store.h"
#include "dns_tracker.h"
#include "capture.h"
#include "flow_table.h"
#include "consumer.h"
#include "pcapng.h"
#include "flowrec.skel.h"

#define STASH_SLOTS 64
#define STASH_BYTES 4096 /* a stashed packet's bytes; a DNS message longer is cut */

struct stashed {
	struct fr_pkt_hdr hdr;
	uint8_t data[STASH_BYTES];
};

struct fr_capture {
	struct perf_buffer *pb;
	struct fr_consumer *consumer;
	struct fr_pcap_store *store; /* NULL: --no-capture */
	struct fr_dns_tracker *dns;
	uint32_t snaplen;
	uint64_t lost;
	struct stashed *stash; /* packets whose flow the next read of the rings will bring */
	unsigned nstash;
};

struct raw_sample {
	struct perf_event_header header;
	__u32 size;
	char data[];
};

struct lost_record {
	struct perf_event_header header;
	__u64 id;
	__u64 lost;
};

/* Hand a packet of flow uf (NULL: none known) to the DNS tracker and the pcap store. */
static void packet_take(struct fr_capture *cap, const struct fr_pkt_hdr *h, const uint8_t *data,
			struct fr_uflow *uf)
{
	struct fr_pcap_packet p = { 0 };
	char comment[96];
	int n;

	p.ts_ns = fr_consumer_real_ns(cap->consumer, h->ts_ns);
	if (h->flags & FR_PKT_DNS)
		fr_dns_tracker_packet(cap->dns, uf, h, data, p.ts_ns);
	if (!(h->flags & FR_PKT_STORE) || !cap->store)
		return;
	if (uf) {
		n = snprintf(comment, sizeof(comment), "pid=%u tid=%u comm=%.16s flow=%lld",
			     uf->owner.pid, uf->owner.tid, uf->owner.comm, (long long)uf->id);
		p.pid = uf->owner.pid;
		p.tid = uf->owner.tid;
	} else if (h->netns) { /* a handshake packet: flow last, as in every comment */
		n = snprintf(comment, sizeof(comment), "netns=%u flow=0", h->netns);
	} else {
		n = snprintf(comment, sizeof(comment), "flow=0");
	}
	/* DNS packets arrive whole for the parser; the store keeps snaplen of them too. */
	p.caplen = cap->snaplen && h->caplen > cap->snaplen ? cap->snaplen : h->caplen;
	p.origlen = h->len;
	p.data = data;
	p.flags = h->direction == FR_DIR_OUT ? FR_EPB_OUTBOUND : FR_EPB_INBOUND;
	p.comment = comment;
	p.comment_len = n < (int)sizeof(comment) ? n : (int)sizeof(comment) - 1;
	fr_pcap_store_append(cap->store, &p, uf); /* counts uf->captured once it holds the packet */
}

static void on_packet(struct fr_capture *cap, const void *data, __u32 size)
{
	struct fr_pkt_hdr hdr;
	struct fr_uflow *uf;

	/* A raw sample's data is only 4-byte aligned: copy the header out. */
	if (size < sizeof(hdr))
		return;
	memcpy(&hdr, data, sizeof(hdr));
	if (hdr.caplen > size - sizeof(hdr))
		return;
	/* cookie 0: a handshake packet on a listening socket, before its flow existed; the
	 * export finds it by its addresses (docs/capture.md). */
	uf = hdr.key.cookie ? fr_consumer_packet_flow(cap->consumer, &hdr.key) : NULL;
	if (!uf && hdr.key.cookie && cap->nstash < STASH_SLOTS) {
		struct stashed *st = &cap->stash[cap->nstash++];

		st->hdr = hdr;
		if (st->hdr.caplen > STASH_BYTES)
			st->hdr.caplen = STASH_BYTES;
		memcpy(st->data, (const uint8_t *)data + sizeof(hdr), st->hdr.caplen);
		return;
	}
	packet_take(cap, &hdr, (const uint8_t *)data + sizeof(hdr), uf);
}

void fr_capture_resolve(struct fr_capture *cap)
{
	for (unsigned i = 0; i < cap->nstash; i++) {
		struct stashed *st = &cap->stash[i];

		packet_take(cap, &st->hdr, st->data, fr_consumer_packet_flow(cap->consumer, &st->hdr.key));
	}
	cap->nstash = 0;
}

bool fr_capture_waiting(const struct fr_capture *cap)
{
	return cap->nstash > 0;
}

static enum bpf_perf_event_ret on_event(void *ctx, int cpu, struct perf_event_header *e)
{
	struct fr_capture *cap = ctx;

	(void)cpu;
	if (e->type == PERF_RECORD_SAMPLE) {
		const struct raw_sample *s = (const void *)e;

		on_packet(cap, s->data, s->size);
	} else if (e->type == PERF_RECORD_LOST) {
		cap->lost += ((const struct lost_record *)(const void *)e)->lost;
	}
	return LIBBPF_PERF_EVENT_CONT;
}

struct fr_capture *fr_capture_new(struct fr_bpf *b, struct fr_consumer *c, struct fr_pcap_store *store,
				  struct fr_dns_tracker *dns, uint32_t snaplen, size_t pages_per_cpu)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
		.watermark = 1,
		.wakeup_watermark = pages_per_cpu * 4096 / 4,
	};
	struct fr_capture *cap = calloc(1, sizeof(*cap));

	if (!cap)
		return NULL;
	cap->consumer = c;
	cap->store = store;
	cap->dns = dns;
	cap->snaplen = snaplen;
	cap->stash = malloc(STASH_SLOTS * sizeof(*cap->stash));
	if (!cap->stash) {
		free(cap);
		return NULL;
	}
	cap->pb = perf_buffer__new_raw(bpf_map__fd(b->skel->maps.packets), pages_per_cpu, &attr,
				       on_event, cap, NULL);
	if (!cap->pb) {
		fr_log(0, "cannot open the packet perf buffer: %s", strerror(errno));
		free(cap->stash);
		free(cap);
		return NULL;
	}
	return cap;
}

int fr_capture_epoll_fd(struct fr_capture *cap)
{
	return perf_buffer__epoll_fd(cap->pb);
}

void fr_capture_consume(struct fr_capture *cap)
{
	perf_buffer__consume(cap->pb);
	if (cap->store)
		fr_pcap_store_flush(cap->store);
}

uint64_t fr_capture_lost(const struct fr_capture *cap)
{
	return cap->lost;
}

void fr_capture_free(struct fr_capture *cap)
{
	if (!cap)
		return;
	perf_buffer__free(cap->pb);
	free(cap->stash);
	free(cap);
}
