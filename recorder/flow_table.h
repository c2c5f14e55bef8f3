/*
 * The recorder's table of open flows.
 */
#ifndef FR_FLOW_TABLE_H
#define FR_FLOW_TABLE_H

#include "recorder.h"

struct fr_uflow {
	struct fr_flow_key key;
	int64_t id;
	struct fr_identity owner;
	int64_t parent_id;   /* an MPTCP subflow: its connection's flow id (0: none or unknown) */
	struct fr_flow last; /* counters as last written */
	uint32_t sweep_gen;  /* last sweep that saw it in the BPF map */
	bool missing_once;   /* absent from one sweep: ended if absent from the next */
	bool inserted;       /* its row exists (written at the first flush or at its end) */
	bool ended;          /* its end is known; written and removed at the next cycle */
	int64_t end_ns;
	/* --ipfix: when its last record went (realtime; 0: none yet), with what totals */
	int64_t ipfix_ns;
	uint64_t ipfix_bytes_out, ipfix_bytes_in, ipfix_packets_out, ipfix_packets_in;
	bool ipfix_ended;    /* its end record went */
	char *ipfix_rname;   /* its row's rname, for every record (heap; freed on removal) */
	/* --sample-interval: the end of its last interval (realtime; 0: none yet), and the
	 * counters then */
	int64_t sample_ns;
	uint64_t sample_bytes_out, sample_bytes_in, sample_packets_out, sample_packets_in;
	uint64_t captured;   /* packets written to the pcap store */
	uint64_t captured_written;
	uint32_t next;       /* hash chain, index + 1 (0 = end) */
	uint32_t cookie_next; /* chain of the flows in this cookie's bucket, likewise */
};

struct fr_flow_table;
struct fr_flow_table *fr_flow_table_new(uint32_t capacity);
void fr_flow_table_free(struct fr_flow_table *t);
struct fr_uflow *fr_flow_table_find(struct fr_flow_table *t, const struct fr_flow_key *k);
/* NULL when full. */
struct fr_uflow *fr_flow_table_insert(struct fr_flow_table *t, const struct fr_flow_key *k);
void fr_flow_table_remove(struct fr_flow_table *t, struct fr_uflow *f);
/* Calls fn on every flow; fn may remove the flow it is given. */
void fr_flow_table_each(struct fr_flow_table *t, void (*fn)(struct fr_uflow *, void *), void *arg);
/* The same for the flows of one socket cookie only, in O(its flows). */
void fr_flow_table_each_cookie(struct fr_flow_table *t, uint64_t cookie,
			       void (*fn)(struct fr_uflow *, void *), void *arg);
uint32_t fr_flow_table_count(const struct fr_flow_table *t);

#endif
