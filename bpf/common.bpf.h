/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every concern of flowrec.bpf.c uses: constants, counters, the identity of the
 * current task, address normalisation and queueing an event. Included by flowrec.bpf.c after
 * its maps and configuration, which these functions name.
 */
#ifndef FR_COMMON_BPF_H
#define FR_COMMON_BPF_H

#define FR_AF_INET 2
#define FR_AF_INET6 10
#define FR_IPPROTO_TCP 6
#define FR_IPPROTO_UDP 17
#define FR_TCP_SYN_RECV 3
#define FR_TCP_CLOSE 7
#define FR_TCP_LISTEN 10
#define FR_TCP_NEW_SYN_RECV 12
#define ALLOW 1
#define DENY 0 /* only a policy rule's verdict (policy.bpf.h) ever returns this */
#define FR_TCP_FLAG_SYN 0x02
#define FR_TCP_FLAG_ACK 0x10

/* Wake the consumer only once this much is queued; it also polls on a short timeout. At
 * high connection rates a wakeup per event would cost more than the event. */
#define FR_WAKEUP_BYTES (256 * 1024)
/* How much is queued is asked every this many records per CPU: the answer reads the
 * consumer's position, a cache line user space writes, which costs more than the record. */
#define FR_WAKEUP_CHECK_EVERY 64

/* A packet's addresses and ports, as packets.bpf.h parses them. */
struct packet {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u16 hdrlen; /* IP plus transport header: what each GSO segment repeats on the wire */
	__u8 tcp_flags;
	__u8 _pad[3];
};

/* An atomic add without fetch (BPF_XADD, every kernel): programs may be preempted
 * mid-update, even in a per-CPU slot. */
static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void count(__u64 *bytes, __u64 *packets, __u64 nbytes, __u32 segs)
{
	__sync_fetch_and_add(bytes, nbytes);
	__sync_fetch_and_add(packets, segs);
}

/*
 * The current task's identity, read the way this kernel lets this program type read it
 * (mode is one of the const volatile ident_* settings, so the verifier sees a constant and
 * never visits the other branch, whose helper the kernel may not have):
 *   FR_IDENT_BTF     plain loads through bpf_get_current_task_btf(): cheapest (5.11 in
 *                    tracepoints, 5.15 in cgroup socket programs).
 *   FR_IDENT_PROBE   bpf_get_current_task() and CO-RE probe reads (every kernel from 5.10).
 */
static __always_inline void identity_from_current(struct fr_identity *id, __u8 mode)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	id->pid = pid_tgid >> 32;
	id->tid = (__u32)pid_tgid;
	id->uid = (__u32)bpf_get_current_uid_gid();
	id->cgroup_id = bpf_get_current_cgroup_id();
	if (mode == FR_IDENT_BTF) {
		struct task_struct *task = bpf_get_current_task_btf();
		struct task_struct *leader = task->group_leader;

		id->ppid = task->real_parent->tgid;
		id->netns = task->nsproxy->net_ns->ns.inum;
		id->proc_start_ns = leader->start_time;
		/* The process's name, not the calling thread's ("dig", not its "isc-net-0000"):
		 * comm goes with pid; tid tells the thread. */
		__builtin_memcpy(id->comm, leader->comm, sizeof(id->comm));
	} else {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();

		id->ppid = BPF_CORE_READ(task, real_parent, tgid);
		id->netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
		id->proc_start_ns = BPF_CORE_READ(task, group_leader, start_time);
		BPF_CORE_READ_STR_INTO(&id->comm, task, group_leader, comm);
	}
}

#define FR_PF_KTHREAD 0x00200000

static __always_inline bool current_is_kthread(__u8 mode)
{
	if (mode == FR_IDENT_BTF)
		return bpf_get_current_task_btf()->flags & FR_PF_KTHREAD;
	return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), flags) & FR_PF_KTHREAD;
}

/* An address as keys and the database have it: an IPv4 peer of an IPv6 socket appears as
 * ::ffff:a.b.c.d to the socket but as plain IPv4 on the wire, so a mapped address is IPv4.
 * to[] must be zeroed by the caller. Returns the family, 4 or 6. */
static __always_inline __u8 addr_normalise(__u32 *to, __u32 family, __u32 v4, const __u32 *v6)
{
	if (family == FR_AF_INET6 && !(v6[0] | v6[1]) && v6[2] == bpf_htonl(0xffff)) {
		to[0] = v6[3];
		return 4;
	}
	if (family == FR_AF_INET6) {
		to[0] = v6[0];
		to[1] = v6[1];
		to[2] = v6[2];
		to[3] = v6[3];
		return 6;
	}
	to[0] = v4;
	return 4;
}

static __always_inline void key_set_remote(struct fr_flow_key *key, __u32 family, __u32 v4,
					   const __u32 *v6, __u16 port)
{
	key->rport = port;
	key->family = addr_normalise(key->raddr, family, v4, v6);
}

static __always_inline bool is_icmp(__u32 proto)
{
	return proto == FR_IPPROTO_ICMP || proto == FR_IPPROTO_ICMPV6;
}

/* Sockets recorded: TCP, UDP, MPTCP, and ping or raw ICMP sockets. */
static __always_inline bool is_inet_l4(__u32 family, __u32 protocol)
{
	return (family == FR_AF_INET || family == FR_AF_INET6) &&
	       (protocol == FR_IPPROTO_TCP || protocol == FR_IPPROTO_UDP ||
		protocol == FR_IPPROTO_MPTCP || is_icmp(protocol));
}

/* Submit a record reserved in ring buffer rb, waking the consumer only when FR_WAKEUP_BYTES
 * are queued there. */
static __always_inline void ringbuf_submit(void *rb, void *rec)
{
	__u32 zero = 0;
	__u32 *n = bpf_map_lookup_elem(&submitted, &zero);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (n && ++*n % FR_WAKEUP_CHECK_EVERY == 0 &&
	    bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= FR_WAKEUP_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(rec, flags);
}

/* Queue an event. Returns 0, or -1 if the ring buffer was full (counted). */
static __always_inline int emit(__u32 type, __u64 ts, const struct fr_flow_key *key,
				const struct fr_flow *flow)
{
	struct fr_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(FR_STAT_RINGBUF_FULL);
		return -1;
	}
	e->type = type;
	e->_pad = 0;
	e->ts_ns = ts;
	e->key = *key;
	if (flow)
		e->flow = *flow;
	else
		__builtin_memset(&e->flow, 0, sizeof(e->flow));
	ringbuf_submit(&events, e);
	return 0;
}

/* A socket_events record reserved, zeroed, or NULL (counted) when the ring is full. */
static __always_inline struct fr_sock_event *sock_event_reserve(void)
{
	struct fr_sock_event *e = bpf_ringbuf_reserve(&sock_events, sizeof(*e), 0);

	if (!e) {
		stat_inc(FR_STAT_SOCKEV_FULL);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = FR_EV_SOCKET;
	return e;
}

/* The network namespace of a TCP socket a packet or sockops program sees: a listener, a
 * request socket (a handshake in progress) or an accepted one. 0 without have_sk_netns. */
static __always_inline __u32 tcp_sock_netns(struct bpf_sock *sk)
{
	struct tcp_request_sock *rq;
	struct tcp_sock *tp;

	if (!have_sk_netns || !sk)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp)
		return BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_net.net, ns.inum);
	rq = bpf_skc_to_tcp_request_sock(sk);
	if (rq)
		return BPF_CORE_READ(rq, req.req.__req_common.skc_net.net, ns.inum);
	return 0;
}

#endif /* FR_COMMON_BPF_H */
