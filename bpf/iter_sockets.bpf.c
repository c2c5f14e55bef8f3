// SPDX-License-Identifier: GPL-2.0
/*
 * Sockets that were open before the recorder started: iter/task_file walks every task's
 * descriptors and writes one fr_iter_sock per TCP, UDP, MPTCP or ICMP socket, for
 * recorder/presock.c to give owners. Its own object, loaded once at start and freed.
 *
 * bpf_sock_from_file (5.11) and bpf_get_socket_cookie on a BTF socket (5.12) are used where
 * the kernel has them (have_sock_from_file, have_sock_ptr_cookie, tried by user space);
 * otherwise the socket is found as fd_socket() in sock_calls.bpf.h finds it, and the cookie
 * is read from the socket: 0 if nothing ever asked for it, and user space then asks.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "flowrec.h"

char LICENSE[] SEC("license") = "GPL";

#define FR_AF_INET 2
#define FR_AF_INET6 10
#define FR_S_IFMT 0170000
#define FR_S_IFSOCK 0140000

const volatile bool have_sock_from_file = true;
const volatile bool have_sock_ptr_cookie = true;

static __always_inline bool is_recorded_proto(__u16 p)
{
	return p == 6 || p == 17 || p == FR_IPPROTO_MPTCP || p == FR_IPPROTO_ICMP ||
	       p == FR_IPPROTO_ICMPV6;
}

/* The socket of a file, or NULL: a BTF pointer with bpf_sock_from_file, whose sk then is
 * one too, as bpf_get_socket_cookie wants; else found by the inode type and the socket's
 * pointer back to the file, and its sk read as a plain value. */
static __always_inline struct sock *file_sock(struct file *file)
{
	struct socket *sock;

	if (have_sock_from_file) {
		sock = bpf_sock_from_file(file);
		return sock ? sock->sk : NULL;
	}
	if ((BPF_CORE_READ(file, f_inode, i_mode) & FR_S_IFMT) != FR_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

SEC("iter/task_file")
int fr_iter_sockets(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct fr_iter_sock r = {};
	struct sock *sk;
	__u16 family;

	if (!task || !file)
		return 0;
	sk = file_sock(file);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r.proto = BPF_CORE_READ(sk, sk_protocol);
	if ((family != FR_AF_INET && family != FR_AF_INET6) || !is_recorded_proto(r.proto))
		return 0;
	if (have_sock_ptr_cookie)
		r.cookie = bpf_get_socket_cookie(sk);
	else
		r.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	r.fd = ctx->fd;
	r.task_cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	r.id.cgroup_id = r.task_cgroup_id;
	r.id.pid = BPF_CORE_READ(task, tgid);
	r.id.tid = BPF_CORE_READ(task, pid);
	r.id.ppid = BPF_CORE_READ(task, real_parent, tgid);
	r.id.uid = BPF_CORE_READ(task, cred, uid.val);
	r.id.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	r.id.proc_start_ns = BPF_CORE_READ(task, group_leader, start_time);
	BPF_CORE_READ_STR_INTO(&r.id.comm, task, group_leader, comm);
	r.family = family == FR_AF_INET6 ? 6 : 4;
	r.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	r.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	r.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == FR_AF_INET6) {
		BPF_CORE_READ_INTO(&r.laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&r.raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
	} else {
		r.laddr[0] = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		r.raddr[0] = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	}
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
