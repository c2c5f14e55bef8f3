/*
 * Declarations shared by the recorder's parts: options, the BPF attachment, the user-space
 * flow table, the event consumer and the database writer thread.
 */
#ifndef FR_RECORDER_H
#define FR_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "flowrec.h"
#include "kernel_probe.h"

#ifndef FR_VERSION /* set by the Makefile */
#define FR_VERSION "0.1.0"
#endif

struct fr_capture_opts {
	bool enabled;
	uint32_t snaplen;       /* 0: whole packets */
	uint64_t segment_bytes; /* rotate after this many bytes */
	int64_t segment_ns;     /* or after this long */
	uint64_t max_disk;      /* 0: no limit */
};

struct fr_options {
	const char *data_dir;
	const char *cgroup;     /* NULL: the cgroup v2 root */
	const char *ready_file;
	double duration_s;      /* 0: until signalled */
	double flush_interval_s;
	int verbose;
	bool quiet;
	char *cmdline;          /* for runs.options */
	struct fr_capture_opts capture;
	uint16_t dns_ports[FR_MAX_DNS_PORTS]; /* 0 ends the list */
	bool dns_ports_given;
	bool socket_events;     /* socket_events rows (--socket-events) */
	uint32_t compat_mask;   /* FR_KF_* left out (--kernel-compat) */
	uint32_t buffer_bytes;  /* the event ring buffer; the others scale from it (--buffer-size) */
};

struct fr_consumer;
struct fr_db_writer;
struct fr_uflow;

/* ---- log.c ---- */
extern int fr_verbose;
void fr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define fr_info(...) fr_log(1, __VA_ARGS__) /* a notice: shown unless -q */
#define fr_debug(...) fr_log(2, __VA_ARGS__)

/* ---- cgroup.c ---- */
/* Find the cgroup v2 mount point from /proc/self/mountinfo. 0 or -1. */
int fr_cgroup2_root(char *buf, size_t len);
/* Set of cgroup ids (inode numbers) of a directory and all below it. */
struct fr_idset {
	uint64_t *ids;
	size_t n, cap;
};
int fr_cgroup_subtree(const char *path, struct fr_idset *out);
bool fr_idset_has(const struct fr_idset *s, uint64_t id);
void fr_idset_free(struct fr_idset *s);

/* ---- container.c ---- */
#define FR_CONTAINER_ID_MAX 64
#define FR_POD_UID_MAX 63
/* What a cgroup v2 path says about its container; empty strings where it says nothing. */
struct fr_container {
	char id[FR_CONTAINER_ID_MAX + 1];  /* innermost container id (hex) */
	char runtime[16];                  /* "docker", "containerd", "cri-o", "podman" or "" */
	char pod_uid[FR_POD_UID_MAX + 1];  /* Kubernetes pod uid, with '-' */
};
/* Parse a path relative to the cgroup v2 root ("/system.slice/docker-<hex>.scope"). Pure.
 * 1 if it names a container or a pod, else 0 (and out all empty). */
int fr_container_parse(const char *path, struct fr_container *out);
/* cgroup id -> path, relative to the cgroup v2 root. NULL if cgroup v2 is not mounted. */
struct fr_cgroup_paths;
struct fr_cgroup_paths *fr_cgroup_paths_new(void);
void fr_cgroup_paths_free(struct fr_cgroup_paths *p);
/* The path of cgroup id (pid: a process in it, a fallback for a cgroup newer than the last
 * walk; 0 for none). Valid until the next call. NULL if unknown. */
const char *fr_cgroup_paths_lookup(struct fr_cgroup_paths *p, uint64_t id, uint32_t pid);

/* ---- bpf_attach.c ---- */
struct flowrec_bpf;
struct fr_bpf {
	struct flowrec_bpf *skel;
	struct fr_kernel kernel; /* what this kernel offers, and what this run uses */
	bool socket_events;
	struct bpf_link *links[32];
	int nlinks;
	char hooks[1024]; /* space-separated hooks attached, for runs.hooks */
	bool packets_listed;
	int cgroup_fd;
};
/* Check privileges and kernel features (less those compat_mask takes away), then load. 0,
 * or -1 after printing one line. */
int fr_bpf_load(struct fr_bpf *b, const struct fr_options *o);
/* Attach everything but the packet hooks, which go last (fr_bpf_attach_packets) so that
 * sockets found by the iterator have owners before their packets are counted. */
int fr_bpf_attach_sockets(struct fr_bpf *b, const char *cgroup_path);
int fr_bpf_attach_packets(struct fr_bpf *b);
/* Detach every hook (idempotent); fr_bpf_destroy also frees the maps. */
void fr_bpf_detach(struct fr_bpf *b);
void fr_bpf_destroy(struct fr_bpf *b);

/* ---- presock.c ---- */
/* Give owners to the sockets that existed before the recorder: returns how many, or -1. */
int fr_presock_adopt(struct fr_bpf *b, const struct fr_idset *cgroups);

/* ---- db_writer.c ---- */
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
		};
		/* FR_OP_SOCKET_EVENT: start_ns = the call's return, id = the caller, flow_id 0: none */
		struct fr_sock_event sock;
		struct { /* FR_OP_PROCESS: heap strings the writer frees; each may be NULL */
			char *exe, *cmdline, *container, *runtime, *pod_uid;
		};
		struct { /* FR_OP_RUN_STATS */
			uint64_t stats[FR_STAT_MAX];
			uint64_t queue_full, capture_lost, capture_disk, dns_malformed;
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

/* ---- pcap_store.c ---- */
/* A chunk never spans more than this, so exports find chunks by first_ns alone. */
#define FR_CHUNK_MAX_SPAN_NS 2000000000LL


struct fr_pcap_packet;
struct fr_pcap_store;
/* Before the writer starts: recover crashed segments, learn the ids in use. */
struct fr_pcap_store *fr_pcap_store_open(const char *data_dir, sqlite3 *db, int64_t run_id,
					 const struct fr_capture_opts *o);
void fr_pcap_store_set_writer(struct fr_pcap_store *s, struct fr_db_writer *w);
/* Store a packet of uf (NULL: of no known flow), counting it in uf->captured while the
 * store holds it (a full disk's drop takes it back). 0, or -1 when dropped (counted). */
int fr_pcap_store_append(struct fr_pcap_store *s, const struct fr_pcap_packet *p, struct fr_uflow *uf);
void fr_pcap_store_flush(struct fr_pcap_store *s);
void fr_pcap_store_rotate(struct fr_pcap_store *s);
uint64_t fr_pcap_store_dropped(const struct fr_pcap_store *s);
void fr_pcap_store_close(struct fr_pcap_store *s);

/* ---- dns_tracker.c ---- */
struct fr_dns_tracker;
struct fr_pkt_hdr;
struct fr_dns_tracker *fr_dns_tracker_new(struct fr_db_writer *w);
/* A packet to or from a DNS port, of flow uf (NULL if unknown); ts in realtime ns. */
void fr_dns_tracker_packet(struct fr_dns_tracker *t, struct fr_uflow *uf, const struct fr_pkt_hdr *h,
			   const uint8_t *pkt, int64_t ts);
/* The name a new flow's remote address was resolved from, or NULL. */
const char *fr_dns_tracker_rname(struct fr_dns_tracker *t, uint32_t netns, int family,
				 const uint32_t *addr, uint32_t pid, int64_t before_ns);
void fr_dns_tracker_flow_ended(struct fr_dns_tracker *t, const struct fr_flow_key *k);
void fr_dns_tracker_expire(struct fr_dns_tracker *t, int64_t now);
uint64_t fr_dns_tracker_malformed(const struct fr_dns_tracker *t);
void fr_dns_tracker_free(struct fr_dns_tracker *t);

/* ---- capture.c ---- */
/* store NULL: packets are not stored (--no-capture), only DNS is parsed. */
struct fr_capture *fr_capture_new(struct fr_bpf *b, struct fr_consumer *c, struct fr_pcap_store *store,
				  struct fr_dns_tracker *dns, uint32_t snaplen, size_t pages_per_cpu);
int fr_capture_epoll_fd(struct fr_capture *cap);
void fr_capture_consume(struct fr_capture *cap);
/* Packets whose flow was not known when they were read wait for the next read of the event
 * rings: then fr_capture_resolve stores them. */
bool fr_capture_waiting(const struct fr_capture *cap);
void fr_capture_resolve(struct fr_capture *cap);
uint64_t fr_capture_lost(const struct fr_capture *cap);
void fr_capture_free(struct fr_capture *cap);

/* ---- flow_table.c ---- */
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

/* ---- consumer.c ---- */
struct fr_consumer;
struct fr_capture;
struct fr_consumer *fr_consumer_new(struct fr_bpf *b, struct fr_db_writer *w, int64_t next_flow_id);
/* Consume captured packets too (and report their losses), in the same thread. store and
 * dns may be NULL. */
int fr_consumer_set_capture(struct fr_consumer *c, struct fr_capture *cap, struct fr_pcap_store *store,
			    struct fr_dns_tracker *dns);
/* The flow a captured packet belongs to, created from the BPF map if no event told of it
 * yet; NULL if it is unknown. */
struct fr_uflow *fr_consumer_packet_flow(struct fr_consumer *c, const struct fr_flow_key *k);
int64_t fr_consumer_real_ns(const struct fr_consumer *c, uint64_t mono_ns);
/* Wait up to timeout_ms for events and packets and handle them. 0, or -1 on error. */
int fr_consumer_poll(struct fr_consumer *c, int timeout_ms);
/* Reconcile with the BPF flows map and queue counter updates and run stats. */
void fr_consumer_flush(struct fr_consumer *c);
void fr_consumer_free(struct fr_consumer *c);

#endif
