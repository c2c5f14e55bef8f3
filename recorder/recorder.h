/*
 * What the recorder's parts share: the version and the options. Each part has its own
 * header beside its .c file (bpf_attach.h, consumer.h, db_writer.h, ...).
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
	const char *policy_path; /* --policy FILE, or NULL */
	const char *ipfix[4];    /* --ipfix collectors (FR_MAX_IPFIX_COLLECTORS) */
	int nipfix;
	double ipfix_active_s;   /* --ipfix-active-timeout */
	uint32_t ipfix_domain;   /* --ipfix-domain, or derived from the host */
	bool ipfix_domain_given;
	const char *group;       /* --group: who may read the data directory, or NULL */
	double sample_interval_s; /* --sample-interval; 0: no flow_samples */
};

#endif
