/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Socket calls of the recorded tasks: socket(), bind(), listen(), connect(), accept() and
 * accept4(), setsockopt(), with their arguments and results (socket_events; docs/events.md).
 * close() is recorded at the socket's release instead (sock_life.bpf.h).
 *
 * Hooks: the per-syscall tracepoints syscalls/sys_enter_NAME and sys_exit_NAME, which run
 * only for those calls, so a process that makes none pays nothing. Where a kernel lacks them
 * (no CONFIG_FTRACE_SYSCALLS), raw_tp/sys_enter and sys_exit, which run for every system call
 * of the host, are the fallback that user space attaches instead (runs.features says so).
 * Both call sock_call_enter() and sock_call_exit() below.
 *
 * Entry stashes the call by thread id (a hash: task storage is not in every kernel's tracing
 * programs); the return adds the result and queues one record. A descriptor is tied to its
 * socket in the calling task, through task->files->fdt->fd[fd]: at entry to know whether
 * the call is on an inet socket at all, at return for what the call changed (the address
 * bound, the socket accept made). Kernel structures are read with CO-RE probe reads, which
 * every kernel from 5.10 allows here; these programs run only for socket calls.
 *
 * accept()'s return also hands the accepted socket's flow from the listener's owner to the
 * accepting task. These hooks are attached only with --socket-events: any syscall
 * tracepoint puts every system call of every task on the kernel's tracing slow path
 * (measured: a getppid() loop anywhere on the host at 0.6-0.8 of its speed). Without them
 * the release hands the flow over instead (sock_life.bpf.h).
 */
#ifndef FR_SOCK_CALLS_BPF_H
#define FR_SOCK_CALLS_BPF_H

#if defined(__TARGET_ARCH_x86)
#define FR_NR_ACCEPT 43
#define FR_NR_ACCEPT4 288
#define FR_NR_SOCKET 41
#define FR_NR_CONNECT 42
#define FR_NR_BIND 49
#define FR_NR_LISTEN 50
#define FR_NR_SETSOCKOPT 54
#define SYSCALL_NR(regs) BPF_CORE_READ((regs), orig_ax)
/* A 32-bit task's syscall numbers mean other calls: TS_COMPAT. The per-syscall tracepoints
 * ignore such calls themselves (ARCH_TRACE_IGNORE_COMPAT_SYSCALLS); the raw ones do not. */
#define FR_COMPAT_SYSCALL(task, regs) (BPF_CORE_READ((task), thread_info.status) & 0x0002)
#elif defined(__TARGET_ARCH_arm64)
#define FR_NR_ACCEPT 202
#define FR_NR_ACCEPT4 242
#define FR_NR_SOCKET 198
#define FR_NR_BIND 200
#define FR_NR_LISTEN 201
#define FR_NR_CONNECT 203
#define FR_NR_SETSOCKOPT 208
#define SYSCALL_NR(regs) BPF_CORE_READ((regs), syscallno)
/* AArch32 tasks: PSR_MODE32_BIT in the saved pstate. */
#define FR_COMPAT_SYSCALL(task, regs) (BPF_CORE_READ((regs), pstate) & 0x10)
#endif

#define FR_S_IFMT 0170000
#define FR_S_IFSOCK 0140000
#define FR_FMODE_PATH (1U << 14)
#define FR_SOCK_TYPE_MASK 0xf

/* The layout of every syscalls/sys_enter_NAME and sys_exit_NAME record (see their format
 * files): common fields, the call number, then the arguments or the result. A program may
 * read no further than the shortest record it is attached to, so listen() (two arguments)
 * has a program of its own. */
struct fr_tp_sys_enter3 {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 args[3];
};

struct fr_tp_sys_enter2 {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 args[2];
};

struct fr_tp_sys_exit {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__s64 ret;
};

static __always_inline bool is_sock_call(long nr)
{
	return nr == FR_NR_SOCKET || nr == FR_NR_BIND || nr == FR_NR_LISTEN || nr == FR_NR_CONNECT ||
	       nr == FR_NR_ACCEPT || nr == FR_NR_ACCEPT4 || nr == FR_NR_SETSOCKOPT;
}

static __always_inline bool is_accept(long nr)
{
	return nr == FR_NR_ACCEPT || nr == FR_NR_ACCEPT4;
}

/* Descriptor -> socket in task's table, or NULL if fd is not a socket. The socket file
 * operations are a static (not in BTF or kallsyms), so a socket file is known by its inode
 * type and the socket's pointer back to the file (an O_PATH descriptor of a socket inode
 * has neither). */
static __always_inline struct socket *fd_socket(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file;
	struct socket *sock;

	if (fd < 0 || !fdt || (unsigned long)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & FR_S_IFMT) != FR_S_IFSOCK ||
	    (BPF_CORE_READ(file, f_mode) & FR_FMODE_PATH))
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return sock;
}

/* The socket's local address as the database writes it; returns its family, 0 if unbound
 * (no port and no address). */
static __always_inline __u8 sock_local(struct sock *sk, __u16 family, __u32 *laddr, __u16 *lport)
{
	__u32 v6[4];
	__u8 lfam;

	BPF_CORE_READ_INTO(&v6, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
	__builtin_memset(laddr, 0, 16);
	lfam = addr_normalise(laddr, family, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), v6);
	*lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!*lport && !(laddr[0] | laddr[1] | laddr[2] | laddr[3]))
		return 0;
	return lfam;
}

/* The socket's family, type and protocol, its cookie and its connected peer. Returns the
 * struct sock, or NULL if it is not an IPv4 or IPv6 socket. */
static __always_inline struct sock *sock_fill(struct fr_sock_event *e, struct socket *sock)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u16 family;
	__u16 port;
	__u32 v6[4];

	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != FR_AF_INET && family != FR_AF_INET6)
		return NULL;
	e->family = family == FR_AF_INET6 ? 6 : 4;
	e->sock_type = BPF_CORE_READ(sock, type);
	e->protocol = BPF_CORE_READ(sk, sk_protocol);
	/* 0 if never generated: cgroup/sock_create makes it for the sockets of the recorded
	 * tasks. */
	e->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	port = BPF_CORE_READ(sk, __sk_common.skc_dport);
	e->peer_family = 0;
	__builtin_memset(e->peer_addr, 0, sizeof(e->peer_addr));
	if (port) {
		BPF_CORE_READ_INTO(&v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
		e->peer_family = addr_normalise(e->peer_addr, family,
						BPF_CORE_READ(sk, __sk_common.skc_daddr), v6);
		e->peer_port = bpf_ntohs(port);
	}
	return sk;
}

/* The address a bind() or connect() was given, from the caller's memory. Returns its
 * family (4 or 6), or 0 if it is none of those or unreadable. */
static __always_inline __u8 sockaddr_read(const void *uaddr, long len, __u32 *addr, __u16 *port)
{
	struct sockaddr_in6 sa6 = {};
	__u16 family;

	if (!uaddr || bpf_probe_read_user(&family, sizeof(family), uaddr))
		return 0;
	if (family == FR_AF_INET && len >= (long)sizeof(struct sockaddr_in)) {
		struct sockaddr_in sa;

		if (bpf_probe_read_user(&sa, sizeof(sa), uaddr))
			return 0;
		*port = bpf_ntohs(sa.sin_port);
		addr[0] = sa.sin_addr.s_addr;
		return 4;
	}
	if (family == FR_AF_INET6 && len >= (long)sizeof(sa6)) {
		if (bpf_probe_read_user(&sa6, sizeof(sa6), uaddr))
			return 0;
		*port = bpf_ntohs(sa6.sin6_port);
		return addr_normalise(addr, FR_AF_INET6, 0, sa6.sin6_addr.in6_u.u6_addr32);
	}
	return 0;
}

/* A socket call's entry: nr and its first three arguments. */
static __always_inline void sock_call_enter(long nr, long a0, long a1, long a2)
{
	struct task_struct *task;
	struct fr_call c = {};
	struct socket *sock;
	__u32 tid;

	if (bpf_current_task_under_cgroup(&recorded_cgroup, 0) != 1)
		return;
	c.ev.type = FR_EV_SOCKET;
	c.ev.fd = a0;
	if (nr == FR_NR_SOCKET) {
		if (a0 != FR_AF_INET && a0 != FR_AF_INET6)
			return;
		c.ev.call = FR_CALL_CREATE;
		c.ev.fd = -1;
		c.ev.family = a0 == FR_AF_INET6 ? 6 : 4;
		c.ev.sock_type = a1 & FR_SOCK_TYPE_MASK;
		c.ev.protocol = a2;
	} else {
		/* Every other call names a descriptor: only those of inet sockets count. */
		task = (struct task_struct *)bpf_get_current_task();
		sock = fd_socket(task, a0);
		if (!sock || !sock_fill(&c.ev, sock))
			return;
		switch (nr) {
		case FR_NR_BIND:
			c.ev.call = FR_CALL_BIND;
			c.ev.laddr_family = sockaddr_read((void *)a1, a2, c.ev.laddr, &c.ev.lport);
			break;
		case FR_NR_CONNECT:
			c.ev.call = FR_CALL_CONNECT;
			c.ev.raddr_family = sockaddr_read((void *)a1, a2, c.ev.raddr, &c.ev.rport);
			break;
		case FR_NR_LISTEN:
			c.ev.call = FR_CALL_LISTEN;
			c.ev.backlog = a1;
			break;
		case FR_NR_SETSOCKOPT:
			c.ev.call = FR_CALL_SETSOCKOPT;
			c.ev.level = a1;
			c.ev.optname = a2;
			break;
		default:
			c.ev.call = FR_CALL_ACCEPT;
			break;
		}
	}
	c.nr = nr;
	tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&calls, &tid, &c, BPF_ANY);
}

/* accept() returned sk (ours if the owners map has it): the accepting task now owns the
 * socket and its flow. Returns the owner entry, or NULL. */
static __always_inline struct fr_owner *accept_owner(struct sock *sk, __u64 cookie)
{
	struct fr_flow_key key = { .cookie = cookie, .proto = FR_IPPROTO_TCP };
	struct fr_owner *o;
	struct fr_flow *f;
	__u32 v6[4];

	/* sockops generated the cookie at the passive open; 0 means not one of ours. */
	if (!cookie)
		return NULL;
	o = bpf_map_lookup_elem(&owners, &cookie);
	if (!o)
		return NULL;
	identity_from_current(&o->id, ident_trace);
	BPF_CORE_READ_INTO(&v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
	key_set_remote(&key, BPF_CORE_READ(sk, __sk_common.skc_family),
		       BPF_CORE_READ(sk, __sk_common.skc_daddr), v6,
		       bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)));
	f = bpf_map_lookup_elem(&flows, &key);
	if (f) {
		f->id = o->id;
		emit(FR_EV_OWNER, bpf_ktime_get_ns(), &key, f);
	}
	return o;
}

/* A socket call's return: one FR_EV_SOCKET record for a call sock_call_enter stashed, and
 * the owner change of an accept. */
static __always_inline void sock_call_exit(long nr, long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fr_sock_event ev = {};
	struct fr_sock_event *e;
	struct fr_owner *o = NULL;
	struct socket *sock = NULL;
	struct sock *sk = NULL;
	struct fr_call *c = NULL;
	__u32 laddr[4] = {};
	__u16 lport = 0;
	__u8 lfam = 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long fd = ret;

	if (socket_events_enabled) {
		c = bpf_map_lookup_elem(&calls, &tid);
		if (c && c->nr != nr) /* a stale entry: this call was not stashed */
			c = NULL;
	}
	if (!c && !is_accept(nr))
		return;
	if (c && c->ev.call != FR_CALL_CREATE && c->ev.call != FR_CALL_ACCEPT)
		fd = c->ev.fd; /* the call's own descriptor, not a new one */
	/* What the call changed is read from the socket after it. */
	if (fd >= 0 && (c || ret >= 0))
		sock = fd_socket(task, fd);
	if (sock)
		sk = sock_fill(&ev, sock);
	if (sk)
		lfam = sock_local(sk, BPF_CORE_READ(sk, __sk_common.skc_family), laddr, &lport);
	if (sk && is_accept(nr) && ret >= 0)
		o = accept_owner(sk, ev.cookie);
	if (!c)
		return;
	if (!o && sk && ev.cookie)
		o = bpf_map_lookup_elem(&owners, &ev.cookie);
	/* The release's close row takes the descriptor and local address from here. */
	if (o && sk) {
		if (c->ev.call == FR_CALL_CREATE || c->ev.call == FR_CALL_ACCEPT)
			o->fd = ret;
		o->laddr_family = lfam;
		o->lport = lport;
		__builtin_memcpy(o->laddr, laddr, sizeof(o->laddr));
	}
	e = bpf_ringbuf_reserve(&sock_events, sizeof(*e), 0);
	if (!e) {
		stat_inc(FR_STAT_SOCKEV_FULL);
		bpf_map_delete_elem(&calls, &tid);
		return;
	}
	__builtin_memcpy(e, &c->ev, sizeof(*e));
	bpf_map_delete_elem(&calls, &tid);
	e->ts_ns = bpf_ktime_get_ns();
	e->ret = ret;
	identity_from_current(&e->id, ident_trace);
	if (sk) {
		/* A descriptor that is no longer an inet socket (closed and reused by another
		 * thread) keeps what entry saw. */
		e->family = ev.family;
		e->sock_type = ev.sock_type;
		e->protocol = ev.protocol;
		e->cookie = ev.cookie;
		e->peer_family = ev.peer_family;
		e->peer_port = ev.peer_port;
		__builtin_memcpy(e->peer_addr, ev.peer_addr, sizeof(e->peer_addr));
		if (e->call != FR_CALL_BIND) { /* bind: laddr stays the address asked for */
			e->laddr_family = lfam;
			e->lport = lport;
			__builtin_memcpy(e->laddr, laddr, sizeof(e->laddr));
		}
		if (e->call == FR_CALL_ACCEPT && e->peer_family) {
			e->raddr_family = e->peer_family;
			__builtin_memcpy(e->raddr, e->peer_addr, sizeof(e->raddr));
			e->rport = e->peer_port;
		}
	} else if (e->call == FR_CALL_ACCEPT || e->call == FR_CALL_CREATE) {
		e->cookie = 0; /* failed: no new socket (an accept's family, type, laddr: the listener's) */
	}
	ringbuf_submit(&sock_events, e);
}

#endif /* FR_SOCK_CALLS_BPF_H */
