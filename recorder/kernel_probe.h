/*
 * What the running kernel offers flowrec's BPF programs, found by asking it (never by its
 * version number: distributions backport BPF), and which mechanism each capability uses on
 * this run. docs/kernels.md has the table.
 */
#ifndef FR_KERNEL_PROBE_H
#define FR_KERNEL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fr_kernel {
	/* enum fr_ident_mode per program type: how the current task is read */
	uint8_t ident_sock;  /* cgroup/sock_create, sock_release */
	uint8_t ident_addr;  /* cgroup/connect4|6, sendmsg4|6 */
	uint8_t ident_trace; /* tracepoints */
	bool mptcp;          /* bpf_skc_to_mptcp_sock (and atomic fetch): MPTCP connections */
	bool sk_netns;       /* bpf_skc_to_tcp_sock/_request_sock: handshakes keyed by netns too */
	bool syscall_tracepoints; /* syscalls/sys_enter_* (else raw_tp/sys_enter, sys_exit) */
	bool sock_from_file; /* the start-up iterator: bpf_sock_from_file */
	bool sock_ptr_cookie; /* ... and bpf_get_socket_cookie on a BTF socket */
	uint32_t masked;     /* FR_KF_* treated as absent (--kernel-compat) */
};

/* Capabilities --kernel-compat can take away, by name. */
enum {
	FR_KF_TASK_BTF = 1 << 0,        /* bpf_get_current_task_btf in tracepoints */
	FR_KF_TASK_BTF_CGROUP = 1 << 1, /* ... in cgroup socket programs */
	FR_KF_MPTCP = 1 << 2,
	FR_KF_SYSCALL_TP = 1 << 3,
	FR_KF_SOCK_FROM_FILE = 1 << 4,
	FR_KF_SOCK_PTR_COOKIE = 1 << 5,
};

/* Parse a --kernel-compat value: a kernel version ("5.10": what that kernel lacks) or a
 * comma-separated list of capability names. 0, or -1 with a message in err. */
int fr_kernel_compat_parse(const char *s, uint32_t *mask, char *err, size_t errlen);

/* Check the floor (BTF, program and map types, helpers nothing can stand in for) and choose
 * a mechanism for everything else, leaving out what mask names. 0, or -1 after printing one
 * line that names what is missing. Needs the privileges to load BPF programs. */
int fr_kernel_probe(struct fr_kernel *k, uint32_t mask);

/* The tracefs id of syscalls/NAME (sys_enter_connect, ...) for each of n names, mounting
 * tracefs in a private mount namespace of a child process where it is not mounted. 0, or -1
 * if any is missing. Call before any thread starts. */
int fr_tracepoint_ids(const char *const *names, int n, long *ids);

/* runs.features: "capability=mechanism" words, the degraded ones marked with a trailing '!'.
 * socket_events: whether --no-socket-events was left out. */
void fr_kernel_features(const struct fr_kernel *k, bool socket_events, char *buf, size_t len);

/* One notice per degraded capability, saying what is lost and why. */
void fr_kernel_report(const struct fr_kernel *k, bool socket_events);

#endif /* FR_KERNEL_PROBE_H */
