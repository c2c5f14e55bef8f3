/*
 * Loading and attaching flowrec's BPF programs.
 *
 * Every hook is a BPF link owned by this process (never pinned, never the legacy
 * bpf_prog_attach; a tracepoint's link holds its perf event), so everything detaches when
 * the recorder exits, even by kill -9. Before loading, the kernel is probed
 * (kernel_probe.c): a missing feature is reported by name instead of as a verifier failure,
 * and what can be done another way is set up that way here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "recorder.h"
#include "log.h"
#include "bpf_attach.h"
#include "flowrec.skel.h"

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's warnings carry the verifier log of a failed load: shown from -v on. */
	if (level == LIBBPF_DEBUG && fr_verbose < 4)
		return 0;
	if (level == LIBBPF_INFO && fr_verbose < 3)
		return 0;
	if (level == LIBBPF_WARN && fr_verbose < 2)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool has_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	uint64_t eff;

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	eff = data[0].effective | ((uint64_t)data[1].effective << 32);
#define CAP(c) (eff & (1ULL << (c)))
	return CAP(CAP_SYS_ADMIN) || (CAP(39 /* CAP_BPF */) && CAP(38 /* CAP_PERFMON */) &&
				      CAP(CAP_NET_ADMIN));
#undef CAP
}

int fr_bpf_load(struct fr_bpf *b, const struct fr_options *o)
{
	bool socket_events = o->socket_events;
	__typeof__(b->skel->progs) *p;
	struct fr_kernel *k = &b->kernel;
	int err;

	memset(b, 0, sizeof(*b));
	b->cgroup_fd = -1;
	b->socket_events = socket_events;
	libbpf_set_print(libbpf_log);
	if (!has_caps()) {
		fr_log(0, "needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN) to load BPF programs");
		return -1;
	}
	if (fr_kernel_probe(k, o->compat_mask))
		return -1;
	b->skel = flowrec_bpf__open();
	if (!b->skel) {
		fr_log(0, "cannot open BPF object: %s", strerror(errno));
		return -1;
	}
	b->skel->rodata->capture_enabled = o->capture.enabled;
	b->skel->rodata->capture_snaplen = o->capture.snaplen;
	for (int i = 0; i < FR_MAX_DNS_PORTS; i++)
		b->skel->rodata->dns_ports[i] = o->dns_ports[i];
	/* The ring buffers are mapped into this process twice over (so records can wrap): their
	 * size is most of the recorder's memory. Socket calls get half the event ring's size,
	 * or one page when they are not recorded (nothing writes there then). */
	if (bpf_map__set_max_entries(b->skel->maps.events, o->buffer_bytes) ||
	    bpf_map__set_max_entries(b->skel->maps.sock_events,
				     socket_events ? o->buffer_bytes / 2 : (uint32_t)getpagesize())) {
		fr_log(0, "cannot size the ring buffers: %s", strerror(errno));
		return -1;
	}
	b->skel->rodata->socket_events_enabled = socket_events;
	b->skel->rodata->ident_sock = k->ident_sock;
	b->skel->rodata->ident_addr = k->ident_addr;
	b->skel->rodata->ident_trace = k->ident_trace;
	b->skel->rodata->have_mptcp = k->mptcp;
	b->skel->rodata->have_sk_netns = k->sk_netns;
	b->policy = o->policy_path != NULL;
	b->skel->rodata->policy_enabled = b->policy;
	/* Socket events take one pair of socket-call hooks: the per-syscall tracepoints, or the
	 * raw ones where the kernel has no others. Without them no syscall hook at all: any one
	 * puts every system call of the host on the kernel's tracing slow path. */
	p = &b->skel->progs;
	bpf_program__set_autoload(p->fr_sys_enter, socket_events && k->syscall_tracepoints);
	bpf_program__set_autoload(p->fr_sys_enter_listen, socket_events && k->syscall_tracepoints);
	bpf_program__set_autoload(p->fr_sys_exit, socket_events && k->syscall_tracepoints);
	bpf_program__set_autoload(p->fr_raw_sys_enter, socket_events && !k->syscall_tracepoints);
	bpf_program__set_autoload(p->fr_raw_sys_exit, socket_events && !k->syscall_tracepoints);
	bpf_program__set_autoload(p->fr_post_bind4, b->policy);
	bpf_program__set_autoload(p->fr_post_bind6, b->policy);
	err = flowrec_bpf__load(b->skel);
	if (err) {
		fr_log(0, "loading BPF programs failed: %s (run with -v for the verifier log)",
		       strerror(-err));
		return -1;
	}
	fr_kernel_report(k, socket_events);
	return 0;
}

static void hooks_add(struct fr_bpf *b, const char *hook)
{
	if (b->hooks[0])
		strncat(b->hooks, " ", sizeof(b->hooks) - strlen(b->hooks) - 1);
	strncat(b->hooks, hook, sizeof(b->hooks) - strlen(b->hooks) - 1);
}

static int link_keep(struct fr_bpf *b, struct bpf_link *link, const char *hook)
{
	if (!link) {
		fr_log(0, "this kernel cannot attach %s: %s", hook, strerror(errno));
		return -1;
	}
	if (b->nlinks == (int)(sizeof(b->links) / sizeof(b->links[0]))) {
		bpf_link__destroy(link);
		fr_log(0, "too many BPF links");
		return -1;
	}
	b->links[b->nlinks++] = link;
	if (!b->packets_listed) /* fr_bpf_attach_sockets listed the packet hooks already */
		hooks_add(b, hook);
	return 0;
}

static int attach_one(struct fr_bpf *b, struct bpf_program *prog, int cgroup_fd)
{
	return link_keep(b, cgroup_fd >= 0 ? bpf_program__attach_cgroup(prog, cgroup_fd)
					   : bpf_program__attach(prog),
			 bpf_program__section_name(prog));
}

/* A tracepoint program on syscalls/NAME (tracefs id given), through a perf event of our own:
 * libbpf's attach looks the id up in a tracefs that may not be mounted here. */
static int attach_syscall_tp(struct fr_bpf *b, struct bpf_program *prog, const char *name, long id)
{
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(attr) };
	struct bpf_link *link;
	char hook[96];
	int pfd;

	snprintf(hook, sizeof(hook), "tracepoint/syscalls/%s", name);
	attr.config = id;
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	pfd = syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0) {
		fr_log(0, "cannot open tracepoint %s: %s", hook, strerror(errno));
		return -1;
	}
	link = bpf_program__attach_perf_event(prog, pfd);
	if (!link)
		close(pfd);
	return link_keep(b, link, hook);
}

/* The socket-call hooks: each call's tracepoints (sys_exit_* before sys_enter_*, so that a
 * call stashed at entry always has its return seen), or the raw pair. */
static int attach_socket_calls(struct fr_bpf *b)
{
	static const char *const calls[] = { "accept", "accept4", "socket", "bind", "connect",
					     "setsockopt", "listen" };
	enum { NCALLS = sizeof(calls) / sizeof(calls[0]) };
	__typeof__(b->skel->progs) *p = &b->skel->progs;
	char names[2 * NCALLS][32];
	const char *namep[2 * NCALLS];
	long ids[2 * NCALLS];
	int n = NCALLS;

	if (!b->socket_events)
		return 0;
	if (!b->kernel.syscall_tracepoints) {
		if (attach_one(b, p->fr_raw_sys_exit, -1))
			return -1;
		return attach_one(b, p->fr_raw_sys_enter, -1);
	}
	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "sys_exit_%s", calls[i]);
		snprintf(names[n + i], sizeof(names[n + i]), "sys_enter_%s", calls[i]);
		namep[i] = names[i];
		namep[n + i] = names[n + i];
	}
	if (fr_tracepoint_ids(namep, 2 * n, ids)) {
		fr_log(0, "this kernel lacks a syscalls tracepoint for accept, accept4, socket, bind, "
			  "connect, setsockopt or listen");
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (attach_syscall_tp(b, p->fr_sys_exit, names[i], ids[i]))
			return -1;
	for (int i = 0; i < n; i++)
		if (attach_syscall_tp(b, strcmp(calls[i], "listen") ? p->fr_sys_enter : p->fr_sys_enter_listen,
				      names[n + i], ids[n + i]))
			return -1;
	return 0;
}

int fr_bpf_attach_sockets(struct fr_bpf *b, const char *cgroup_path)
{
#define P(name) b->skel->progs.name
	struct bpf_program *cg[] = { P(fr_sock_create), P(fr_connect4),     P(fr_connect6),
				     P(fr_sendmsg4),    P(fr_sendmsg6),     P(fr_sock_release),
				     P(fr_sockops) };

	b->cgroup_fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->cgroup_fd < 0) {
		fr_log(0, "cannot open cgroup %s: %s", cgroup_path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(cg) / sizeof(cg[0]); i++)
		if (attach_one(b, cg[i], b->cgroup_fd))
			return -1;
	if (b->policy && (attach_one(b, P(fr_post_bind4), b->cgroup_fd) ||
			  attach_one(b, P(fr_post_bind6), b->cgroup_fd)))
		return -1;
	/* The exec and syscall hooks are global: they check the task against this cgroup
	 * themselves. */
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.recorded_cgroup), &(__u32){ 0 }, &b->cgroup_fd,
				BPF_ANY)) {
		fr_log(0, "cannot set the recorded cgroup for the exec hook: %s", strerror(errno));
		return -1;
	}
	if (attach_one(b, P(fr_exec), -1) || attach_socket_calls(b))
		return -1;
	/* runs.hooks is written before the packet hooks go on: it names them already. */
	hooks_add(b, bpf_program__section_name(P(fr_skb_egress)));
	hooks_add(b, bpf_program__section_name(P(fr_skb_ingress)));
	b->packets_listed = true;
	return 0;
#undef P
}

int fr_bpf_attach_packets(struct fr_bpf *b)
{
	if (attach_one(b, b->skel->progs.fr_skb_egress, b->cgroup_fd))
		return -1;
	return attach_one(b, b->skel->progs.fr_skb_ingress, b->cgroup_fd);
}

void fr_bpf_detach(struct fr_bpf *b)
{
	for (int i = b->nlinks - 1; i >= 0; i--)
		bpf_link__destroy(b->links[i]);
	b->nlinks = 0;
}

void fr_bpf_destroy(struct fr_bpf *b)
{
	fr_bpf_detach(b);
	flowrec_bpf__destroy(b->skel);
	b->skel = NULL;
	if (b->cgroup_fd >= 0)
		close(b->cgroup_fd);
	b->cgroup_fd = -1;
}
