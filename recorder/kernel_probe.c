/*
 * Probing the running kernel for what flowrec's BPF programs use.
 *
 * The recorder is one build for every kernel with BTF from 5.10 on. Each program type, map
 * type and helper is asked for with libbpf's probes (a tiny program or map the kernel
 * accepts or refuses), never inferred from the kernel's version: RHEL backports BPF. What
 * nothing can replace is the floor, and a kernel below it gets one line naming what it
 * lacks. For the rest a mechanism is chosen here (struct fr_kernel), handed to the BPF
 * object as const volatile settings, shown in runs.features and, where something is lost,
 * said at start.
 *
 * --kernel-compat takes capabilities away on a kernel that has them, so that every
 * fallback runs in the tests on this project's machines: a version names what that kernel
 * lacks (kernel_versions[] below, which docs/kernels.md also lists).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowrec.h"
#include "kernel_probe.h"
#include "recorder.h"
#include "log.h"

/* The first mainline version with each capability; --kernel-compat VERSION masks those
 * newer than VERSION. The syscall tracepoints are a build option, not a version. */
static const struct {
	uint32_t flag;
	const char *name;
	int major, minor;
} capabilities[] = {
	{ FR_KF_TASK_BTF, "task-btf", 5, 11 },
	{ FR_KF_TASK_BTF_CGROUP, "task-btf-cgroup", 5, 15 },
	{ FR_KF_MPTCP, "mptcp", 5, 19 },
	{ FR_KF_SYSCALL_TP, "syscall-tracepoints", 0, 0 },
	{ FR_KF_SOCK_FROM_FILE, "sock-from-file", 5, 11 },
	{ FR_KF_SOCK_PTR_COOKIE, "sock-ptr-cookie", 5, 12 },
};
#define NCAPS (sizeof(capabilities) / sizeof(capabilities[0]))

int fr_kernel_compat_parse(const char *s, uint32_t *mask, char *err, size_t errlen)
{
	int major, minor, n = 0;
	char *copy, *tok, *save = NULL;
	int ret = 0;

	*mask = 0;
	if (sscanf(s, "%d.%d%n", &major, &minor, &n) == 2 && s[n] == 0) {
		if (major < 5 || (major == 5 && minor < 10)) {
			snprintf(err, errlen, "invalid --kernel-compat '%s': flowrec needs Linux 5.10 or later", s);
			return -1;
		}
		for (size_t i = 0; i < NCAPS; i++)
			if (capabilities[i].major &&
			    (capabilities[i].major > major ||
			     (capabilities[i].major == major && capabilities[i].minor > minor)))
				*mask |= capabilities[i].flag;
		return 0;
	}
	copy = strdup(s);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < NCAPS && strcmp(tok, capabilities[i].name); i++)
			;
		if (i == NCAPS) {
			int off = snprintf(err, errlen, "invalid --kernel-compat '%s': expected a kernel "
					   "version (5.10) or names among", tok);

			for (size_t j = 0; j < NCAPS && off > 0 && (size_t)off < errlen; j++)
				off += snprintf(err + off, errlen - off, "%s %s", j ? "," : "",
						capabilities[j].name);
			ret = -1;
			break;
		}
		*mask |= capabilities[i].flag;
	}
	free(copy);
	return ret;
}

static bool helper(enum bpf_prog_type type, enum bpf_func_id id)
{
	return libbpf_probe_bpf_helper(type, id, NULL) == 1;
}

/* How a program of this type reads the current task: through BTF where the kernel allows
 * it, else with probe reads, which the floor guarantees. */
static uint8_t ident_mode(enum bpf_prog_type type, uint32_t mask, uint32_t btf_flag)
{
	return !(mask & btf_flag) && helper(type, BPF_FUNC_get_current_task_btf) ? FR_IDENT_BTF
										  : FR_IDENT_PROBE;
}

int fr_kernel_probe(struct fr_kernel *k, uint32_t mask)
{
	static const struct {
		enum bpf_prog_type type;
		const char *what;
	} progs[] = {
		{ BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb programs (CONFIG_CGROUP_BPF)" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, "cgroup/sock_create and sock_release programs" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup/connect and sendmsg programs" },
		{ BPF_PROG_TYPE_SOCK_OPS, "sockops programs" },
		{ BPF_PROG_TYPE_TRACEPOINT, "tracepoint programs" },
		{ BPF_PROG_TYPE_RAW_TRACEPOINT, "raw tracepoint programs" },
	};
	static const struct {
		enum bpf_map_type type;
		const char *what;
	} maps[] = {
		{ BPF_MAP_TYPE_RINGBUF, "BPF ring buffers (Linux 5.8)" },
		{ BPF_MAP_TYPE_LRU_HASH, "LRU hash maps" },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, "perf event arrays" },
		{ BPF_MAP_TYPE_CGROUP_ARRAY, "cgroup arrays" },
	};
	/* Helpers with no stand-in, by the program types that call them. */
	static const struct {
		enum bpf_prog_type type;
		enum bpf_func_id id;
		const char *what;
	} helpers[] = {
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_get_socket_cookie, "bpf_get_socket_cookie in cgroup/sock_create" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_get_current_pid_tgid, "bpf_get_current_pid_tgid in cgroup/sock_create" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_get_current_uid_gid, "bpf_get_current_uid_gid in cgroup/sock_create" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_get_current_cgroup_id, "bpf_get_current_cgroup_id in cgroup/sock_create" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve in cgroup/sock_release" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_socket_cookie, "bpf_get_socket_cookie in cgroup/connect4" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_pid_tgid, "bpf_get_current_pid_tgid in cgroup/connect4" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_uid_gid, "bpf_get_current_uid_gid in cgroup/connect4" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_cgroup_id, "bpf_get_current_cgroup_id in cgroup/connect4" },
		{ BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_get_socket_cookie, "bpf_get_socket_cookie in cgroup_skb" },
		{ BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_sk_fullsock, "bpf_sk_fullsock in cgroup_skb" },
		{ BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_perf_event_output, "bpf_perf_event_output in cgroup_skb" },
		{ BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve in cgroup_skb" },
		{ BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_get_socket_cookie, "bpf_get_socket_cookie in sockops" },
		{ BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_sock_ops_cb_flags_set, "bpf_sock_ops_cb_flags_set in sockops" },
		/* bpf_base_func_proto gives these to every program type from 5.10, unless the
		 * kernel is locked down for confidentiality (no reads of kernel memory at all). */
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_get_current_task, "bpf_get_current_task in cgroup/sock_create" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel in cgroup/sock_create (is the kernel locked down?)" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_probe_read_kernel_str, "bpf_probe_read_kernel_str in cgroup/sock_create" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_task, "bpf_get_current_task in cgroup/connect4" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel in cgroup/connect4" },
		{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_current_task_under_cgroup, "bpf_current_task_under_cgroup in tracepoints" },
		{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel (Linux 5.5)" },
		{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve in tracepoints" },
	};

	memset(k, 0, sizeof(*k));
	k->masked = mask;
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
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (libbpf_probe_bpf_map_type(maps[i].type, NULL) != 1) {
			fr_log(0, "this kernel does not support %s", maps[i].what);
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (!helper(helpers[i].type, helpers[i].id)) {
			fr_log(0, "this kernel does not offer %s", helpers[i].what);
			return -1;
		}
	}
	k->ident_sock = ident_mode(BPF_PROG_TYPE_CGROUP_SOCK, mask, FR_KF_TASK_BTF_CGROUP);
	k->ident_addr = ident_mode(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, mask, FR_KF_TASK_BTF_CGROUP);
	k->ident_trace = ident_mode(BPF_PROG_TYPE_TRACEPOINT, mask, FR_KF_TASK_BTF);
	/* bpf_skc_to_mptcp_sock came in 5.19, after the atomic fetch operations (5.12) that
	 * count an MPTCP connection's subflows down: one probe answers for both. */
	k->mptcp = !(mask & FR_KF_MPTCP) && helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_skc_to_mptcp_sock) &&
		   helper(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_skc_to_mptcp_sock);
	k->sk_netns = helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_skc_to_tcp_sock) &&
		      helper(BPF_PROG_TYPE_CGROUP_SKB, BPF_FUNC_skc_to_tcp_request_sock) &&
		      helper(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_skc_to_tcp_sock);
	{
		static const char *const name[] = { "sys_enter_socket" };
		long id;

		k->syscall_tracepoints = !(mask & FR_KF_SYSCALL_TP) && fr_tracepoint_ids(name, 1, &id) == 0;
	}
	/* Tracing helpers cannot be probed without a target: the iterator's loader tries them
	 * (recorder/presock.c) and clears these if the kernel refuses. */
	k->sock_from_file = !(mask & FR_KF_SOCK_FROM_FILE);
	k->sock_ptr_cookie = !(mask & FR_KF_SOCK_PTR_COOKIE);
	return 0;
}

/* ---- tracepoint ids ---------------------------------------------------------------------- */

static int read_ids(const char *tracefs, const char *const *names, int n, long *ids)
{
	char path[256], buf[32];

	for (int i = 0; i < n; i++) {
		int fd;
		ssize_t r;

		snprintf(path, sizeof(path), "%s/events/syscalls/%s/id", tracefs, names[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			return -1;
		buf[r] = 0;
		ids[i] = strtol(buf, NULL, 10);
		if (ids[i] <= 0)
			return -1;
	}
	return 0;
}

static bool tracefs_mounted(const char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/events", dir);
	return access(path, F_OK) == 0;
}

int fr_tracepoint_ids(const char *const *names, int n, long *ids)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	int pipefd[2];
	pid_t pid;
	int status;
	ssize_t got = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (tracefs_mounted(dirs[i]))
			return read_ids(dirs[i], names, n, ids);
	/* Not mounted here (common outside systemd): mount it where only a child sees it, so
	 * the host's mounts are left as they were. */
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pipefd[0]);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tracefs", dirs[0], "tracefs", 0, NULL) || read_ids(dirs[0], names, n, ids))
			_exit(1);
		_exit(write(pipefd[1], ids, n * sizeof(*ids)) == (ssize_t)(n * sizeof(*ids)) ? 0 : 1);
	}
	close(pipefd[1]);
	while (got < (ssize_t)(n * sizeof(*ids))) {
		ssize_t r = read(pipefd[0], (char *)ids + got, n * sizeof(*ids) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return got == (ssize_t)(n * sizeof(*ids)) && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- what this run uses ------------------------------------------------------------------- */

static const char *ident_name(uint8_t mode)
{
	return mode == FR_IDENT_BTF ? "btf" : "probe-read";
}

void fr_kernel_features(const struct fr_kernel *k, bool socket_events, char *buf, size_t len)
{
	snprintf(buf, len,
		 "identity-sock=%s identity-connect=%s identity-syscalls=%s socket-calls=%s "
		 "mptcp=%s preexisting=%s%s%s",
		 ident_name(k->ident_sock), ident_name(k->ident_addr), ident_name(k->ident_trace),
		 !socket_events		     ? "off"
		 : k->syscall_tracepoints ? "syscall-tracepoints"
					  : "raw-syscalls!",
		 k->mptcp ? "connections" : "tcp-only!",
		 !k->sock_from_file    ? "inode+so-cookie"
		 : !k->sock_ptr_cookie ? "so-cookie"
				       : "full",
		 k->sk_netns ? "" : " handshakes=4-tuple!", k->masked ? " kernel-compat" : "");
}

void fr_kernel_report(const struct fr_kernel *k, bool socket_events)
{
	if (socket_events && !k->syscall_tracepoints)
		fr_info("no syscalls tracepoints here (a kernel without CONFIG_FTRACE_SYSCALLS, or "
			"tracefs neither readable nor mountable): socket calls are taken from "
			"raw_tp/sys_enter and sys_exit, which run for every system call of the host");
	if (!k->sk_netns)
		fr_info("this kernel lacks bpf_skc_to_tcp_sock or bpf_skc_to_tcp_request_sock in "
			"cgroup_skb or sockops programs: server handshakes are told apart by their "
			"addresses and ports only, so two at once with the same ones in two network "
			"namespaces share their counts");
	if (!k->mptcp)
		fr_info("this kernel lacks bpf_skc_to_mptcp_sock (Linux 5.19): MPTCP subflows are "
			"recorded as plain TCP flows, and only the first subflow of a connection this "
			"host opened has an owner");
}
