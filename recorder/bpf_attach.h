/*
 * The BPF programs: loaded for this kernel, attached to the cgroup, detached.
 */
#ifndef FR_BPF_ATTACH_H
#define FR_BPF_ATTACH_H

#include "recorder.h"

struct flowrec_bpf;
struct fr_bpf {
	struct flowrec_bpf *skel;
	struct fr_kernel kernel; /* what this kernel offers, and what this run uses */
	bool socket_events;
	bool policy;              /* --policy: the policy hooks decide */
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

#endif
