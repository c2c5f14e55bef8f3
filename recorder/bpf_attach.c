/*
 * Loading and attaching flowrec's BPF programs.
 *
 * Every hook is a BPF link owned by this process (never pinned, never the legacy
 * bpf_prog_attach), so everything detaches when the recorder exits, even by kill -9.
 * Before loading, the kernel is asked for each program and map type the recorder needs, so
 * a missing feature is reported by name instead of as a verifier failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "recorder.h"
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

static int check_kernel(void)
{
	static const struct {
		enum bpf_prog_type type;
		const char *what;
	} progs[] = {
		{ BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb programs (CONFIG_CGROUP_BPF)" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, "cgroup/sock_create and sock_release programs" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup/connect and sendmsg programs" },
		{ BPF_PROG_TYPE_SOCK_OPS, "sockops programs" },
	};
	struct btf *vmlinux;
	bool found;

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fr_log(0, "this kernel has no BTF (/sys/kernel/btf/vmlinux: %s); flowrec needs "
			  "CONFIG_DEBUG_INFO_BTF", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		if (libbpf_probe_bpf_prog_type(progs[i].type, NULL) != 1) {
			fr_log(0, "this kernel does not support %s", progs[i].what);
			return -1;
		}
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		fr_log(0, "this kernel does not support BPF ring buffers (Linux 5.8 or later)");
		return -1;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) != 1) {
		fr_log(0, "this kernel does not support BPF task storage (Linux 5.11 or later)");
		return -1;
	}
	vmlinux = btf__load_vmlinux_btf();
	found = vmlinux && btf__find_by_name_kind(vmlinux, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	if (!found) {
		fr_log(0, "this kernel does not offer the bpf_rdonly_cast kfunc (Linux 6.2 or later)");
		return -1;
	}
	return 0;
}

int fr_bpf_load(struct fr_bpf *b, bool capture, uint32_t snaplen, const uint16_t *dns_ports,
		bool socket_events)
{
	struct bpf_program *prog;
	int err;

	memset(b, 0, sizeof(*b));
	b->cgroup_fd = -1;
	libbpf_set_print(libbpf_log);
	if (!has_caps()) {
		fr_log(0, "needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN) to load BPF programs");
		return -1;
	}
	if (check_kernel())
		return -1;
	b->skel = flowrec_bpf__open();
	if (!b->skel) {
		fr_log(0, "cannot open BPF object: %s", strerror(errno));
		return -1;
	}
	b->skel->rodata->capture_enabled = capture;
	b->skel->rodata->capture_snaplen = snaplen;
	for (int i = 0; i < FR_MAX_DNS_PORTS; i++)
		b->skel->rodata->dns_ports[i] = dns_ports[i];
	/* Without socket events sys_enter has nothing to do; sys_exit stays, for accept(). */
	b->skel->rodata->socket_events_enabled = socket_events;
	bpf_program__set_autoload(b->skel->progs.fr_sys_enter, socket_events);
	err = flowrec_bpf__load(b->skel);
	if (err) {
		fr_log(0, "loading BPF programs failed: %s (run with -v for the verifier log)",
		       strerror(-err));
		return -1;
	}
	/* Every program but the start-up iterator is attached, or the recorder stops. */
	bpf_object__for_each_program(prog, b->skel->obj) {
		if (prog == b->skel->progs.fr_iter_sockets || !bpf_program__autoload(prog))
			continue;
		if (b->hooks[0])
			strncat(b->hooks, " ", sizeof(b->hooks) - strlen(b->hooks) - 1);
		strncat(b->hooks, bpf_program__section_name(prog), sizeof(b->hooks) - strlen(b->hooks) - 1);
	}
	return 0;
}

static int attach_one(struct fr_bpf *b, struct bpf_program *prog, int cgroup_fd)
{
	struct bpf_link *link;

	link = cgroup_fd >= 0 ? bpf_program__attach_cgroup(prog, cgroup_fd) : bpf_program__attach(prog);
	if (!link) {
		fr_log(0, "this kernel cannot attach %s: %s", bpf_program__section_name(prog),
		       strerror(errno));
		return -1;
	}
	b->links[b->nlinks++] = link;
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
	/* The exec and syscall hooks are global: they check the task against this cgroup
	 * themselves. */
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.recorded_cgroup), &(__u32){ 0 }, &b->cgroup_fd,
				BPF_ANY)) {
		fr_log(0, "cannot set the recorded cgroup for the exec hook: %s", strerror(errno));
		return -1;
	}
	if (attach_one(b, P(fr_exec), -1))
		return -1;
	if (attach_one(b, P(fr_sys_exit), -1))
		return -1;
	/* After sys_exit: a call stashed at entry then always has its return seen. */
	if (bpf_program__autoload(P(fr_sys_enter)))
		return attach_one(b, P(fr_sys_enter), -1);
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
