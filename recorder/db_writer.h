/*
 * The database writer thread and the operations queued for it.
 */
#ifndef FR_DB_WRITER_H
#define FR_DB_WRITER_H

#include "recorder.h"
#include "policy.h"

enum fr_op_type {
	FR_OP_FLOW_INSERT = 1,
	FR_OP_FLOW_COUNTERS,
	FR_OP_FLOW_OWNER,
	FR_OP_PROCESS,
	FR_OP_RUN_STATS,
	FR_OP_SEGMENT_INSERT,
	FR_OP_SEGMENT_UPDATE,
	FR_OP_SEGMENT_DELETE,
	FR_OP_CHUNK,
	FR_OP_DNS,
	FR_OP_SOCKET_EVENT,
	FR_OP_POLICY_LOAD,
	FR_OP_POLICY_HITS,
	FR_OP_FLOW_SAMPLE, /* flow_id, start_ns, end_ns; flow: what moved in between */
};

/* A flow with packets in a pcap chunk. */
struct fr_chunk_flow {
	int64_t flow_id;
	int64_t packets;
};

/* One database write, copied into the writer's queue. Times are realtime ns. The queue holds
 * tens of thousands of these and every slot gets touched: what only one kind of op needs
 * shares one union, which keeps an op near 300 bytes. */
struct fr_op {
	int type;
	int64_t flow_id;
	int64_t start_ns, last_ns, end_ns; /* end_ns 0: still open */
	struct fr_flow_key key;            /* FR_OP_FLOW_*, FR_OP_DNS */
	struct fr_identity id;
	union {
		struct { /* FR_OP_FLOW_* */
			struct fr_flow flow;
			uint64_t captured;           /* packets_captured */
			char *rname;                 /* FR_OP_FLOW_INSERT: heap string or NULL */
			int64_t parent_flow_id;      /* FR_OP_FLOW_INSERT: an MPTCP subflow's connection */
			char *rule_name;             /* FR_OP_FLOW_INSERT: the verdict's rule, heap or NULL */
		};
		/* FR_OP_SOCKET_EVENT: start_ns = the call's return, id = the caller, flow_id 0: none */
		struct fr_sock_event sock;
		struct { /* FR_OP_PROCESS: heap strings the writer frees; each may be NULL */
			char *exe, *cmdline, *container, *runtime, *pod_uid;
		};
		struct { /* FR_OP_RUN_STATS */
			uint64_t stats[FR_STAT_MAX];
			uint64_t queue_full, capture_lost, capture_disk, dns_malformed, ipfix_lost;
		};
		struct { /* FR_OP_SEGMENT_*, FR_OP_CHUNK: the pcap index */
			int64_t seg_id, chunk_id;
			uint64_t offset, length, packets;
			char path[64];
			struct fr_chunk_flow *chunk_flows; /* FR_OP_CHUNK: heap array the writer frees */
			uint32_t nchunk_flows;
			bool closes_fd; /* FR_OP_SEGMENT_UPDATE: fsync and close fd first */
			int fd;
		};
		struct { /* FR_OP_POLICY_*: start_ns = when the version came into force */
			int policy_version;
			int policy_nrules;
			struct fr_policy_rule *policy_rules; /* LOAD: heap copy the writer frees */
			char *policy_file;                   /* LOAD: heap */
			uint64_t *policy_hits;               /* HITS: heap, nrules counters */
		};
		struct { /* FR_OP_DNS: start_ns = query time, last_ns = response time (0: none), id = owner */
			char *qname, *answers;       /* heap strings or NULL */
			char dns_server[46];
			uint16_t dns_server_port, dns_qid, dns_qtype, dns_qclass;
			int16_t dns_rcode;           /* -1: unanswered */
			uint8_t dns_role, dns_transport;
		};
	};
};

struct fr_db_writer;
/* data_dir: where the pcap index's paths are; the writer deletes a segment's file once the
 * deletion of its index rows has committed. */
struct fr_db_writer *fr_db_writer_start(sqlite3 *db, int64_t run_id, const char *data_dir, size_t queue_len);
void fr_db_writer_push(struct fr_db_writer *w, const struct fr_op *op);
/* Wait until everything pushed so far is committed. */
void fr_db_writer_sync(struct fr_db_writer *w);
uint64_t fr_db_writer_queue_full(struct fr_db_writer *w);
/* The queue is half full or more: work that can be dropped (and counted) should be. */
bool fr_db_writer_busy(struct fr_db_writer *w);
/* Drain, commit, stop the thread. The database stays open (owned by the caller). */
void fr_db_writer_stop(struct fr_db_writer *w);
uint64_t fr_db_writer_rows(struct fr_db_writer *w);

#endif
