// SPDX-License-Identifier: GPL-2.0
/*
 * flowrec's BPF programs: attribute every TCP and UDP socket of a cgroup subtree to its task
 * and count its packets, without touching any network interface.
 *
 * Design
 * ------
 * Two maps carry the state:
 *
 *   owners  socket cookie -> identity of the task that owns the socket. Written in process
 *           context, where the task is current: socket creation (cgroup/sock_create),
 *           connect (cgroup/connect4|6), unconnected send (cgroup/sendmsg4|6) and the return
 *           of accept()/accept4() (tp_btf/sys_exit, which walks the task's fd table to the
 *           accepted socket). Sockets that predate the recorder are added by user space from
 *           the iter/task_file iterator below.
 *
 *   flows   (socket cookie, remote address, remote port) -> counters. cgroup_skb sees every
 *           packet from the IP header on, in both directions, in softirq where the current
 *           task means nothing; it finds the owner by cookie instead. A TCP or connected UDP
 *           socket has one flow; an unconnected UDP socket gets one per peer.
 *
 * The server side of a TCP handshake runs on the listening socket (SYN, third ACK) or on a
 * request socket (SYN-ACK), before the accepted socket exists. Those packets are counted in
 * `pending` by 4-tuple and moved into the new flow when sockops reports the passive open;
 * the flow first takes the listener's owner and then the accepting task's, once accept()
 * returns it, so a listening socket shared by several processes is attributed right.
 *
 * A flow ends when its socket reaches TCP_CLOSE (sockops state callback, so the FIN exchange
 * after close() is still counted) or, for UDP and TCP sockets that never established, when
 * the socket is released. The end event carries the final counters and the map entry is
 * deleted in the same step. User space also sweeps the flows map every flush interval, so a
 * lost event delays a row but never loses it.
 *
 * Every program is fail-open: it returns "allow" (1) on every path. Nothing here may drop.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "flowrec.h"

char LICENSE[] SEC("license") = "GPL";

#define FR_AF_INET 2
#define FR_AF_INET6 10
#define FR_IPPROTO_TCP 6
#define FR_IPPROTO_UDP 17
#define FR_TCP_SYN_RECV 3
#define FR_TCP_CLOSE 7
#define FR_TCP_LISTEN 10
#define FR_TCP_NEW_SYN_RECV 12
#define ALLOW 1

/* Wake the consumer only once this much is queued; it also polls on a short timeout. At
 * high connection rates a wakeup per event would cost more than the event. */
#define FR_WAKEUP_BYTES (256 * 1024)
/* How much is queued is asked every this many records per CPU: the answer reads the
 * consumer's position, a cache line user space writes, which costs more than the record. */
#define FR_WAKEUP_CHECK_EVERY 64

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FR_MAX_FLOWS);
	__type(key, struct fr_flow_key);
	__type(value, struct fr_flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FR_MAX_OWNERS);
	__type(key, __u64);
	__type(value, struct fr_owner);
} owners SEC(".maps");

/* LRU: a handshake that never completes must not hold its entry forever. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FR_MAX_PENDING);
	__type(key, struct fr_pending_key);
	__type(value, struct fr_pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024); /* user space may resize before load */
} events SEC(".maps");

/* Socket calls have a ring buffer of their own: at high connection rates they are most of
 * the records, and when user space falls behind they must not crowd out flow events. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} sock_events SEC(".maps");

/* Packet capture: perf buffer, not ring buffer. bpf_perf_event_output on an skb copies the
 * packet bytes straight from the skb (the length goes in the flags' upper 32 bits), sized to
 * each packet; a ring buffer would need a constant-size reservation and an extra copy
 * through bpf_skb_load_bytes into it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} packets SEC(".maps");

/* Set by user space before load. */
const volatile __u32 capture_snaplen = 128; /* 0: whole packets */
const volatile bool socket_events_enabled = true; /* --no-socket-events */
const volatile bool capture_enabled = true;
/* DNS is taken whole whatever the snaplen, even without capture; 0 ends the list. */
const volatile __u16 dns_ports[FR_MAX_DNS_PORTS] = { 53 };

/* The recorded cgroup, for the one hook that is not a cgroup hook and must filter itself. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} recorded_cgroup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FR_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Records submitted on this CPU, for ringbuf_submit(). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} submitted SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomic needed */
}

static __always_inline void identity_from_current(struct fr_identity *id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_struct *leader = task->group_leader;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	/* Plain loads through BTF, not helper calls: this runs for every socket. */
	id->pid = pid_tgid >> 32;
	id->tid = (__u32)pid_tgid;
	id->uid = (__u32)bpf_get_current_uid_gid();
	id->cgroup_id = bpf_get_current_cgroup_id();
	id->ppid = task->real_parent->tgid;
	id->netns = task->nsproxy->net_ns->ns.inum;
	id->proc_start_ns = leader->start_time;
	/* The process's name, not the calling thread's ("dig", not its "isc-net-0000"): comm
	 * goes with pid; tid tells the thread. */
	__builtin_memcpy(id->comm, leader->comm, sizeof(id->comm));
}

/* An IPv4 peer of an IPv6 socket appears as ::ffff:a.b.c.d to the socket but as plain IPv4
 * on the wire; keys always use the wire form. */
static __always_inline void key_set_remote(struct fr_flow_key *key, __u32 family, __u32 v4,
					   const __u32 *v6, __u16 port)
{
	key->rport = port;
	if (family == FR_AF_INET6 && !(v6[0] | v6[1]) && v6[2] == bpf_htonl(0xffff)) {
		key->family = 4;
		key->raddr[0] = v6[3];
	} else if (family == FR_AF_INET6) {
		key->family = 6;
		key->raddr[0] = v6[0];
		key->raddr[1] = v6[1];
		key->raddr[2] = v6[2];
		key->raddr[3] = v6[3];
	} else {
		key->family = 4;
		key->raddr[0] = v4;
	}
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

/* Report a flow's final counters and forget it. If the report cannot be queued the entry
 * stays, marked ended, for user space's sweep to collect. */
static __always_inline void flow_end_entry(const struct fr_flow_key *key, struct fr_flow *f,
					   __u64 now)
{
	if (emit(FR_EV_FLOW_END, now, key, f)) {
		f->flags |= FR_FLOW_ENDED;
		f->last_ns = now;
		return;
	}
	bpf_map_delete_elem(&flows, key);
}

/* End a flow. An MPTCP connection ends with its last subflow: the MPTCP socket's release
 * comes before its subflows' FIN exchange, and an accepted one has no cookie to find it by. */
static __always_inline void flow_end(const struct fr_flow_key *key, __u64 now)
{
	struct fr_flow *f = bpf_map_lookup_elem(&flows, key);
	struct fr_flow_key pk = { .proto = FR_IPPROTO_MPTCP };
	struct fr_flow *pf;

	if (!f)
		return;
	pk.cookie = f->parent_cookie;
	flow_end_entry(key, f, now);
	if (!pk.cookie)
		return;
	pf = bpf_map_lookup_elem(&flows, &pk);
	if (pf && __sync_sub_and_fetch(&pf->subflows, 1) == 0)
		flow_end_entry(&pk, pf, now);
}

/* ---- packets ---------------------------------------------------------------------------- */

struct packet {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u16 hdrlen; /* IP plus transport header: what each GSO segment repeats on the wire */
};

/* Headers are almost always in the skb's linear part, where a direct read costs a few
 * instructions; bpf_skb_load_bytes (a helper call) is the fallback for the rest. */
static __always_inline int load(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (off <= 64 && data + off + len <= end) {
		__builtin_memcpy(to, data + off, len);
		return 0;
	}
	return bpf_skb_load_bytes(skb, off, to, len);
}

static __always_inline bool is_icmp(__u32 proto)
{
	return proto == FR_IPPROTO_ICMP || proto == FR_IPPROTO_ICMPV6;
}

static __always_inline int packet_parse(struct __sk_buff *skb, struct packet *p, bool egress)
{
	__u16 ports[2];
	__u32 l4off;
	__u8 vhl;

	if (load(skb, 0, &vhl, 1))
		return -1;
	if ((vhl >> 4) == 4) {
		struct iphdr ip;

		if (load(skb, 0, &ip, sizeof(ip)))
			return -1;
		if (ip.frag_off & bpf_htons(0x1fff)) /* later fragments carry no ports */
			return -1;
		p->family = 4;
		p->proto = ip.protocol;
		p->saddr[0] = ip.saddr;
		p->daddr[0] = ip.daddr;
		l4off = (vhl & 0xf) * 4;
	} else if ((vhl >> 4) == 6) {
		struct ipv6hdr ip6;

		if (load(skb, 0, &ip6, sizeof(ip6)))
			return -1;
		p->family = 6;
		p->proto = ip6.nexthdr;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
		l4off = sizeof(ip6);
	} else {
		return -1;
	}
	if (is_icmp(p->proto)) {
		/* No ports: the local side's echo identifier stands in for its port (a ping
		 * socket's "port" is that identifier); the remote has none. */
		__u8 type;
		__u16 id = 0;

		if (load(skb, l4off, &type, 1))
			return -1;
		if ((p->proto == FR_IPPROTO_ICMP && (type == 8 || type == 0)) ||
		    (p->proto == FR_IPPROTO_ICMPV6 && (type == 128 || type == 129)))
			if (load(skb, l4off + 4, &id, 2))
				return -1;
		p->sport = egress ? bpf_ntohs(id) : 0;
		p->dport = egress ? 0 : bpf_ntohs(id);
		p->hdrlen = l4off + 8;
		return 0;
	}
	if (p->proto != FR_IPPROTO_TCP && p->proto != FR_IPPROTO_UDP)
		return -1;
	if (load(skb, l4off, ports, sizeof(ports)))
		return -1;
	p->sport = bpf_ntohs(ports[0]);
	p->dport = bpf_ntohs(ports[1]);
	if (p->proto == FR_IPPROTO_TCP) {
		__u8 doff;

		if (load(skb, l4off + 12, &doff, 1))
			return -1;
		p->hdrlen = l4off + (doff >> 4) * 4;
	} else {
		p->hdrlen = l4off + 8;
	}
	return 0;
}

static __always_inline void count(__u64 *bytes, __u64 *packets, __u64 nbytes, __u32 segs)
{
	__sync_fetch_and_add(bytes, nbytes);
	__sync_fetch_and_add(packets, segs);
}

/* The key cookie of the MPTCP connection a TCP subflow belongs to (FR_MPTCP_TOKEN_COOKIE
 * for one without a cookie), or 0 for plain TCP. */
static __always_inline __u64 mptcp_parent_cookie(struct bpf_sock *sk)
{
	struct mptcp_sock *msk = bpf_skc_to_mptcp_sock(sk);
	__u64 cookie;

	if (!msk)
		return 0;
	cookie = BPF_CORE_READ(msk, sk.icsk_inet.sk.__sk_common.skc_cookie.counter);
	return cookie ? cookie : FR_MPTCP_TOKEN_COOKIE | BPF_CORE_READ(msk, token);
}

/* A socket_events 'create' row for a subflow the kernel made for the connection's owner,
 * when its flow starts: no socket() call shows it. */
static __always_inline void mptcp_subflow_created(const struct fr_flow_key *key,
						  const struct fr_flow *f, __u64 now)
{
	struct fr_sock_event *e;

	if (!socket_events_enabled)
		return;
	e = bpf_ringbuf_reserve(&sock_events, sizeof(*e), 0);
	if (!e) {
		stat_inc(FR_STAT_SOCKEV_FULL);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = FR_EV_SOCKET;
	e->call = FR_CALL_CREATE;
	e->kern = 1;
	e->ts_ns = now;
	e->cookie = key->cookie;
	e->id = f->id;
	e->fd = -1;
	e->family = key->family;
	e->sock_type = 1; /* SOCK_STREAM */
	e->protocol = FR_IPPROTO_TCP;
	e->laddr_family = key->family;
	__builtin_memcpy(e->laddr, f->laddr, sizeof(e->laddr));
	e->lport = f->lport;
	e->peer_family = key->family;
	__builtin_memcpy(e->peer_addr, key->raddr, sizeof(e->peer_addr));
	e->peer_port = key->rport;
	ringbuf_submit(&sock_events, e);
}

/* A new subflow (f, already in the map) joins its MPTCP connection, whose flow is made by
 * the first subflow from the subflow's own values: same owner, addresses and start. f is
 * used as scratch and given back unchanged. The connection's open event goes first, so user
 * space knows it by the time the subflow names it. */
static __always_inline void mptcp_subflow_opened(struct fr_flow *f, __u64 now)
{
	struct fr_flow_key pk = { .cookie = f->parent_cookie, .proto = FR_IPPROTO_MPTCP };
	struct fr_flow *pf;

	f->parent_cookie = 0;
	f->subflows = 1;
	if (!bpf_map_update_elem(&flows, &pk, f, BPF_NOEXIST)) {
		emit(FR_EV_FLOW_OPEN, now, &pk, f);
	} else {
		pf = bpf_map_lookup_elem(&flows, &pk);
		if (pf) {
			__sync_fetch_and_add(&pf->subflows, 1);
			/* an accepted join brings its handshake, counted before it existed */
			count(&pf->bytes_out, &pf->packets_out, f->bytes_out, f->packets_out);
			count(&pf->bytes_in, &pf->packets_in, f->bytes_in, f->packets_in);
		} else {
			stat_inc(FR_STAT_FLOWS_FULL);
		}
	}
	f->parent_cookie = pk.cookie;
	f->subflows = 0;
}

/* Server side of a handshake: no accepted socket yet, count by 4-tuple. */
static __always_inline void pending_count(struct __sk_buff *skb, struct bpf_sock *sk,
					  const struct packet *p, bool egress, __u64 nbytes,
					  __u32 segs, __u64 now)
{
	struct fr_pending_key pk = {};
	struct fr_pending *pe;

	pk.family = p->family;
	__builtin_memcpy(pk.laddr, egress ? p->saddr : p->daddr, 16);
	__builtin_memcpy(pk.raddr, egress ? p->daddr : p->saddr, 16);
	pk.lport = egress ? p->sport : p->dport;
	pk.rport = egress ? p->dport : p->sport;
	pe = bpf_map_lookup_elem(&pending, &pk);
	if (!pe) {
		struct fr_pending fresh = { .start_ns = now };

		if (bpf_map_update_elem(&pending, &pk, &fresh, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&pending, &pk)) {
			stat_inc(FR_STAT_PENDING_FULL);
			return;
		}
		pe = bpf_map_lookup_elem(&pending, &pk);
		if (!pe)
			return;
	}
	if (!pe->listener_cookie && sk->state == FR_TCP_LISTEN) {
		/* An MPTCP listener listens through a kernel subflow socket nobody owns: the
		 * owner is the MPTCP socket's. */
		pe->listener_cookie = mptcp_parent_cookie(sk);
		if (!pe->listener_cookie)
			pe->listener_cookie = bpf_get_socket_cookie(skb);
	}
	if (egress)
		count(&pe->bytes_out, &pe->packets_out, nbytes, segs);
	else
		count(&pe->bytes_in, &pe->packets_in, nbytes, segs);
}

static __always_inline struct fr_flow *flow_create(const struct fr_flow_key *key,
						   const struct packet *p, bool egress,
						   struct bpf_sock *fs, __u64 now)
{
	struct fr_owner *o = bpf_map_lookup_elem(&owners, &key->cookie);
	__u32 connected = fs->dst_port; /* one load: the verifier refuses arithmetic on fs */
	struct fr_flow f = {};
	struct fr_flow *ret;

	barrier_var(connected);

	/* An MPTCP subflow speaks for its MPTCP socket, whose owner is the program's task; a
	 * subflow the path manager opened has no owner of its own. */
	if (key->proto == FR_IPPROTO_TCP)
		f.parent_cookie = mptcp_parent_cookie(fs);
	if (f.parent_cookie && !(f.parent_cookie & FR_MPTCP_TOKEN_COOKIE)) {
		struct fr_owner *po = bpf_map_lookup_elem(&owners, &f.parent_cookie);

		if (po)
			o = po;
	}
	/* No owner: a socket that was closed already (late TCP teardown) or one we never saw
	 * created. Counted, not guessed. */
	if (!o) {
		stat_inc(FR_STAT_UNOWNED_PACKETS);
		return NULL;
	}
	f.id = o->id;
	f.start_ns = now;
	f.last_ns = now;
	f.family = key->family;
	__builtin_memcpy(f.laddr, egress ? p->saddr : p->daddr, 16);
	f.lport = egress ? p->sport : p->dport;
	__builtin_memcpy(f.wire_raddr, egress ? p->daddr : p->saddr, 16);
	f.wire_rport = egress ? p->dport : p->sport;
	if (egress)
		f.flags |= FR_FLOW_WIRE_SEEN;
	f.direction = o->dir_hint ? o->dir_hint : (egress ? FR_DIR_OUT : FR_DIR_IN);
	if (bpf_map_update_elem(&flows, key, &f, BPF_NOEXIST)) {
		/* Lost a race with another CPU creating the same flow: use theirs. */
		ret = bpf_map_lookup_elem(&flows, key);
		if (!ret)
			stat_inc(FR_STAT_FLOWS_FULL);
		return ret;
	}
	/* A socket with one flow per peer: its release ends them all. */
	if ((p->proto == FR_IPPROTO_UDP || is_icmp(p->proto)) && !connected)
		o->flags |= FR_OWNER_UNCONNECTED;
	if (connected) {
		o->peer_family = key->family;
		o->peer_port = key->rport;
		__builtin_memcpy(o->peer_addr, key->raddr, 16);
	}
	if (f.parent_cookie)
		mptcp_subflow_opened(&f, now);
	emit(FR_EV_FLOW_OPEN, now, key, &f);
	if (f.parent_cookie) /* after the open: user space finds the flow it names */
		mptcp_subflow_created(key, &f, now);
	return bpf_map_lookup_elem(&flows, key);
}

static __always_inline bool is_dns(const struct packet *p)
{
	if (is_icmp(p->proto))
		return false;
	for (int i = 0; i < FR_MAX_DNS_PORTS; i++) {
		if (!dns_ports[i])
			break;
		if (p->sport == dns_ports[i] || p->dport == dns_ports[i])
			return true;
	}
	return false;
}

/* One sample per packet serves both the pcap store and the DNS parser. */
static __always_inline void capture(struct __sk_buff *skb, const struct fr_flow_key *key,
				    const struct packet *p, bool egress, __u64 now)
{
	struct fr_pkt_hdr hdr = {};
	__u64 caplen = skb->len;

	if (capture_enabled)
		hdr.flags |= FR_PKT_STORE;
	if (is_dns(p))
		hdr.flags |= FR_PKT_DNS;
	else if (capture_snaplen && caplen > capture_snaplen)
		caplen = capture_snaplen;
	if (!hdr.flags)
		return;
	if (caplen > FR_MAX_CAPLEN)
		caplen = FR_MAX_CAPLEN;
	hdr.ts_ns = now;
	hdr.key = *key;
	hdr.len = skb->len;
	hdr.caplen = caplen;
	hdr.direction = egress ? FR_DIR_OUT : FR_DIR_IN;
	if (bpf_perf_event_output(skb, &packets, BPF_F_CURRENT_CPU | (caplen << 32), &hdr, sizeof(hdr)))
		stat_inc(FR_STAT_CAPTURE_FULL);
}

static __always_inline int on_packet(struct __sk_buff *skb, bool egress)
{
	struct bpf_sock *sk = skb->sk;
	struct fr_flow_key key = {};
	struct packet p = {};
	struct bpf_sock *fs;
	struct fr_flow *f;
	__u64 now, nbytes;
	__u32 segs;

	if (!sk || packet_parse(skb, &p, egress))
		return ALLOW;
	now = bpf_ktime_get_ns();
	segs = skb->gso_segs ? skb->gso_segs : 1;
	/* A GSO packet becomes segs packets on the wire, each with its own headers. */
	nbytes = skb->len + (__u64)(segs - 1) * p.hdrlen;

	if (p.proto == FR_IPPROTO_TCP &&
	    (sk->state == FR_TCP_LISTEN || sk->state == FR_TCP_NEW_SYN_RECV)) {
		pending_count(skb, sk, &p, egress, nbytes, segs, now);
		if (capture_enabled) /* no flow yet: user space finds it by 4-tuple */
			capture(skb, &key, &p, egress, now);
		return ALLOW;
	}
	key.cookie = bpf_get_socket_cookie(skb);
	key.proto = p.proto;
	if (sk->dst_port) {
		/* A connected socket: key by its own peer, the address the program asked for.
		 * With DNAT in the output path the wire shows another address going out and
		 * the asked one coming back (conntrack undoes it before the socket); keyed by
		 * packet address, one connection would split in two. */
		__u32 v6[4] = { sk->dst_ip6[0], sk->dst_ip6[1], sk->dst_ip6[2], sk->dst_ip6[3] };

		key_set_remote(&key, sk->family, sk->dst_ip4, v6, bpf_ntohs(sk->dst_port));
	} else {
		key.family = p.family;
		key.rport = egress ? p.dport : p.sport;
		__builtin_memcpy(key.raddr, egress ? p.daddr : p.saddr, 16);
	}

	f = bpf_map_lookup_elem(&flows, &key);
	if (!f) {
		/* Only full sockets start flows; a time-wait socket only adds to its flow. */
		fs = bpf_sk_fullsock(sk);
		if (!fs)
			return ALLOW;
		f = flow_create(&key, &p, egress, fs, now);
		if (!f)
			return ALLOW;
	}
	if (egress) {
		count(&f->bytes_out, &f->packets_out, nbytes, segs);
		/* Arriving packets show the peer as asked (NAT undone); the wire's address is
		 * the one the first packet going out carried. */
		if (!(f->flags & FR_FLOW_WIRE_SEEN)) {
			__builtin_memcpy(f->wire_raddr, p.daddr, 16);
			f->wire_rport = p.dport;
			f->flags |= FR_FLOW_WIRE_SEEN;
		}
	} else {
		count(&f->bytes_in, &f->packets_in, nbytes, segs);
	}
	f->last_ns = now;
	if (f->parent_cookie) { /* an MPTCP subflow: its connection carries the same bytes */
		struct fr_flow_key pk = { .cookie = f->parent_cookie, .proto = FR_IPPROTO_MPTCP };
		struct fr_flow *pf = bpf_map_lookup_elem(&flows, &pk);

		if (pf) {
			if (egress)
				count(&pf->bytes_out, &pf->packets_out, nbytes, segs);
			else
				count(&pf->bytes_in, &pf->packets_in, nbytes, segs);
			pf->last_ns = now;
		}
	}
	capture(skb, &key, &p, egress, now);
	return ALLOW;
}

SEC("cgroup_skb/egress")
int fr_skb_egress(struct __sk_buff *skb)
{
	return on_packet(skb, true);
}

SEC("cgroup_skb/ingress")
int fr_skb_ingress(struct __sk_buff *skb)
{
	return on_packet(skb, false);
}

/* ---- socket life ------------------------------------------------------------------------ */

/* Sockets recorded: TCP, UDP, MPTCP, and ping or raw ICMP sockets. */
static __always_inline bool is_inet_l4(__u32 family, __u32 protocol)
{
	return (family == FR_AF_INET || family == FR_AF_INET6) &&
	       (protocol == FR_IPPROTO_TCP || protocol == FR_IPPROTO_UDP ||
		protocol == FR_IPPROTO_MPTCP || is_icmp(protocol));
}

SEC("cgroup/sock_create")
int fr_sock_create(struct bpf_sock *sk)
{
	struct fr_owner o = {};
	__u64 cookie;

	if (!is_inet_l4(sk->family, sk->protocol))
		return ALLOW;
	identity_from_current(&o.id);
	cookie = bpf_get_socket_cookie(sk);
	if (bpf_map_update_elem(&owners, &cookie, &o, BPF_ANY))
		stat_inc(FR_STAT_OWNERS_FULL);
	return ALLOW;
}

/* connect() and unconnected sendmsg(): the calling task now speaks for the socket (it may
 * have been inherited across fork). */
static __always_inline void owner_take(struct bpf_sock_addr *ctx, __u8 dir_hint)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct fr_owner *o = bpf_map_lookup_elem(&owners, &cookie);
	struct fr_owner fresh = {};

	if (!is_inet_l4(ctx->family, ctx->protocol))
		return;
	if (o) {
		if (o->id.tid != (__u32)bpf_get_current_pid_tgid())
			identity_from_current(&o->id);
		if (dir_hint)
			o->dir_hint = dir_hint;
		return;
	}
	identity_from_current(&fresh.id);
	fresh.dir_hint = dir_hint;
	if (bpf_map_update_elem(&owners, &cookie, &fresh, BPF_ANY))
		stat_inc(FR_STAT_OWNERS_FULL);
}

SEC("cgroup/connect4")
int fr_connect4(struct bpf_sock_addr *ctx)
{
	owner_take(ctx, FR_DIR_OUT);
	return ALLOW;
}

SEC("cgroup/connect6")
int fr_connect6(struct bpf_sock_addr *ctx)
{
	owner_take(ctx, FR_DIR_OUT);
	return ALLOW;
}

SEC("cgroup/sendmsg4")
int fr_sendmsg4(struct bpf_sock_addr *ctx)
{
	owner_take(ctx, 0);
	return ALLOW;
}

SEC("cgroup/sendmsg6")
int fr_sendmsg6(struct bpf_sock_addr *ctx)
{
	owner_take(ctx, 0);
	return ALLOW;
}

SEC("cgroup/sock_release")
int fr_sock_release(struct bpf_sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct fr_owner *o = bpf_map_lookup_elem(&owners, &cookie);
	struct fr_flow_key key = {};
	__u64 now = bpf_ktime_get_ns();
	struct fr_flow *f;

	if (!o)
		return ALLOW;
	if (sk->dst_port || o->peer_family) {
		__u32 v6[4] = { sk->dst_ip6[0], sk->dst_ip6[1], sk->dst_ip6[2], sk->dst_ip6[3] };

		key.cookie = cookie;
		key.proto = sk->protocol;
		if (sk->dst_port) {
			key_set_remote(&key, sk->family, sk->dst_ip4, v6, bpf_ntohs(sk->dst_port));
		} else { /* a failed connect cleared the peer: the flow's key is remembered */
			key.family = o->peer_family;
			key.rport = o->peer_port;
			__builtin_memcpy(key.raddr, o->peer_addr, 16);
		}
		f = bpf_map_lookup_elem(&flows, &key);
		/* An established TCP flow still has its FIN exchange ahead: sockops ends it. */
		if (f && !(f->flags & FR_FLOW_STATE_CB))
			flow_end(&key, now);
	}
	if (o->flags & FR_OWNER_UNCONNECTED) {
		key.cookie = cookie;
		emit(FR_EV_SOCK_RELEASE, now, &key, NULL);
	}
	bpf_map_delete_elem(&owners, &cookie);
	return ALLOW;
}

/* ---- TCP state (sockops) ---------------------------------------------------------------- */

static __always_inline void sockops_key(struct bpf_sock_ops *skops, struct fr_flow_key *key)
{
	/* ctx fields must be loaded one by one: the verifier refuses pointers into ctx. */
	__u32 v6[4] = { skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2],
			skops->remote_ip6[3] };

	key->cookie = bpf_get_socket_cookie(skops);
	key->proto = FR_IPPROTO_TCP;
	key_set_remote(key, skops->family, skops->remote_ip4, v6, bpf_ntohl(skops->remote_port));
}

/* The accepted socket exists now: give it a flow carrying its handshake packets and, until
 * accept() returns it to a task, the listener's owner. */
static __always_inline void passive_open(struct bpf_sock_ops *skops, struct fr_flow_key *key,
					 __u64 now)
{
	struct fr_pending_key pk = {};
	struct fr_owner child = {};
	struct bpf_sock *sk;
	struct fr_owner *lo = NULL;
	struct fr_pending *pe;
	struct fr_flow f = {};

	pk.family = key->family;
	pk.lport = skops->local_port;
	pk.rport = key->rport;
	__builtin_memcpy(pk.raddr, key->raddr, 16);
	if (key->family == 4 && skops->family == FR_AF_INET6) {
		pk.laddr[0] = skops->local_ip6[3];
	} else if (key->family == 4) {
		pk.laddr[0] = skops->local_ip4;
	} else {
		pk.laddr[0] = skops->local_ip6[0];
		pk.laddr[1] = skops->local_ip6[1];
		pk.laddr[2] = skops->local_ip6[2];
		pk.laddr[3] = skops->local_ip6[3];
	}
	__builtin_memcpy(f.laddr, pk.laddr, 16);
	f.lport = pk.lport;
	__builtin_memcpy(f.wire_raddr, key->raddr, 16);
	f.wire_rport = key->rport;
	f.start_ns = now;
	f.last_ns = now;
	f.family = key->family;
	f.direction = FR_DIR_IN;
	f.flags = FR_FLOW_STATE_CB;
	sk = skops->sk; /* loaded once: the NULL check must be on what the helper gets */
	if (sk)
		f.parent_cookie = mptcp_parent_cookie(sk);

	pe = bpf_map_lookup_elem(&pending, &pk);
	if (pe) {
		f.start_ns = pe->start_ns;
		f.bytes_in = pe->bytes_in;
		f.bytes_out = pe->bytes_out;
		f.packets_in = pe->packets_in;
		f.packets_out = pe->packets_out;
		if (pe->listener_cookie)
			lo = bpf_map_lookup_elem(&owners, &pe->listener_cookie);
		bpf_map_delete_elem(&pending, &pk);
	}
	if (lo)
		child.id = lo->id;
	f.id = child.id;
	child.dir_hint = FR_DIR_IN;
	if (bpf_map_update_elem(&owners, &key->cookie, &child, BPF_ANY))
		stat_inc(FR_STAT_OWNERS_FULL);
	if (bpf_map_update_elem(&flows, key, &f, BPF_NOEXIST)) {
		struct fr_flow *cur = bpf_map_lookup_elem(&flows, key);

		if (!cur)
			stat_inc(FR_STAT_FLOWS_FULL);
		else
			cur->flags |= FR_FLOW_STATE_CB;
		return;
	}
	if (f.parent_cookie)
		mptcp_subflow_opened(&f, now);
	emit(FR_EV_FLOW_OPEN, now, key, &f);
	if (f.parent_cookie)
		mptcp_subflow_created(key, &f, now);
}

SEC("sockops")
int fr_sockops(struct bpf_sock_ops *skops)
{
	struct fr_flow_key key = {};
	__u64 now;
	struct fr_flow *f;

	if (skops->family != FR_AF_INET && skops->family != FR_AF_INET6)
		return ALLOW;
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
		sockops_key(skops, &key);
		f = bpf_map_lookup_elem(&flows, &key);
		if (f)
			f->flags |= FR_FLOW_STATE_CB;
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
		sockops_key(skops, &key);
		passive_open(skops, &key, bpf_ktime_get_ns());
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] != FR_TCP_CLOSE)
			break;
		now = bpf_ktime_get_ns();
		sockops_key(skops, &key);
		flow_end(&key, now);
		break;
	}
	return ALLOW;
}

/* ---- accept(): tie the returned descriptor to its socket in the accepting task --------- */

#if defined(__TARGET_ARCH_x86)
#define FR_NR_ACCEPT 43
#define FR_NR_ACCEPT4 288
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#define FR_NR_SOCKET 41
#define FR_NR_CONNECT 42
#define FR_NR_BIND 49
#define FR_NR_LISTEN 50
#define FR_NR_SETSOCKOPT 54
#define FR_NR_CLOSE 3
/* A 32-bit task's syscall numbers mean other calls (3 is read there): TS_COMPAT. */
#define FR_COMPAT_SYSCALL(task, regs) ((task)->thread_info.status & 0x0002)
#elif defined(__TARGET_ARCH_arm64)
#define FR_NR_ACCEPT 202
#define FR_NR_ACCEPT4 242
#define SYSCALL_NR(regs) ((regs)->syscallno)
#define FR_NR_SOCKET 198
#define FR_NR_BIND 200
#define FR_NR_LISTEN 201
#define FR_NR_CONNECT 203
#define FR_NR_SETSOCKOPT 208
#define FR_NR_CLOSE 57
/* AArch32 tasks: PSR_MODE32_BIT in the saved pstate. */
#define FR_COMPAT_SYSCALL(task, regs) ((regs)->pstate & 0x10)
#endif

/* ---- socket calls ----------------------------------------------------------------------- */

/*
 * socket(), bind(), listen(), connect(), accept(), setsockopt() and close() on IPv4 and IPv6
 * sockets of the recorded tasks, with their arguments and results (socket_events, and
 * docs/events.md). No kprobe or LSM hook is needed: tp_btf/sys_enter stashes the arguments
 * by thread, tp_btf/sys_exit takes the result and queues one record. A descriptor is tied to
 * its socket in the calling task, through task->files->fdt->fd[fd]: at entry to know whether
 * the call is on an inet socket at all (and, for close, while the socket is still there),
 * at exit for what the call changed (the address bound, the socket accept made).
 *
 * Speed: both programs run on every system call of the host, so the call number is tested
 * first; the rest runs only for socket calls of the recorded tasks. The stash is task-local
 * storage (a pointer away from the task, no hash lookup or delete), and kernel structures
 * are read with plain loads through BTF, not helper calls: the pointers BTF cannot type (a
 * descriptor table slot, file->private_data) are cast with bpf_rdonly_cast() (Linux 6.2).
 */


#define FR_S_IFMT 0170000
#define FR_S_IFSOCK 0140000
#define FR_FMODE_PATH (1U << 14)
#define FR_SOCK_TYPE_MASK 0xf

/* A call between its entry and its return; nr 0: none. */
struct fr_call {
	__u32 nr;
	__u32 _pad;
	struct fr_sock_event ev;
};

/* One per thread that made a socket call, freed with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fr_call);
} calls SEC(".maps");

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define fr_cast(ptr, type) ((type *)bpf_rdonly_cast((ptr), bpf_core_type_id_kernel(type)))

/* Descriptor -> socket in task's table, or NULL if fd is not a socket. The socket file
 * operations are not in this kernel's BTF or kallsyms (a static), so a socket file is
 * known by its inode type and the socket's pointer back to the file (an O_PATH descriptor
 * of a socket inode has neither). */
static __always_inline struct socket *fd_socket(struct task_struct *task, long fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *file;
	struct socket *sock;

	if (fd < 0 || (unsigned long)fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return NULL;
	file = fr_cast(file, struct file);
	if ((file->f_inode->i_mode & FR_S_IFMT) != FR_S_IFSOCK || (file->f_mode & FR_FMODE_PATH))
		return NULL;
	sock = fr_cast(file->private_data, struct socket);
	if (!sock || sock->file != file)
		return NULL;
	return sock;
}

static __always_inline bool is_sock_call(long nr)
{
	return nr == FR_NR_SOCKET || nr == FR_NR_BIND || nr == FR_NR_LISTEN || nr == FR_NR_CONNECT ||
	       nr == FR_NR_ACCEPT || nr == FR_NR_ACCEPT4 || nr == FR_NR_SETSOCKOPT || nr == FR_NR_CLOSE;
}

/* An address as the database writes it: an IPv4-mapped IPv6 address is IPv4. Returns the
 * family (4 or 6). */
static __always_inline __u8 addr_put(__u32 *to, __u32 family, __u32 v4, const __u32 *v6)
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

/* The socket's family, type and protocol, its cookie, its connected peer and (local) its
 * local address. false if it is not an IPv4 or IPv6 socket. */
static __always_inline bool sock_fill(struct fr_sock_event *e, struct socket *sock, bool local)
{
	struct sock *sk = sock->sk;
	__u16 family;
	__u16 port;
	__u32 v6[4];

	if (!sk)
		return false;
	family = sk->__sk_common.skc_family;
	if (family != FR_AF_INET && family != FR_AF_INET6)
		return false;
	e->family = family == FR_AF_INET6 ? 6 : 4;
	e->sock_type = sock->type;
	e->protocol = sk->sk_protocol;
	/* 0 if never generated: cgroup/sock_create makes it for the sockets of the recorded
	 * tasks. */
	e->cookie = sk->__sk_common.skc_cookie.counter;
	port = sk->__sk_common.skc_dport;
	e->peer_family = 0;
	if (port) {
		v6[0] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0];
		v6[1] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[1];
		v6[2] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2];
		v6[3] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3];
		e->peer_family = addr_put(e->peer_addr, family, sk->__sk_common.skc_daddr, v6);
		e->peer_port = bpf_ntohs(port);
	}
	if (!local)
		return true;
	v6[0] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[0];
	v6[1] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[1];
	v6[2] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[2];
	v6[3] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[3];
	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	e->laddr_family = addr_put(e->laddr, family, sk->__sk_common.skc_rcv_saddr, v6);
	e->lport = sk->__sk_common.skc_num;
	/* Unbound: no local address. */
	if (!e->lport && !(e->laddr[0] | e->laddr[1] | e->laddr[2] | e->laddr[3]))
		e->laddr_family = 0;
	return true;
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
		return addr_put(addr, FR_AF_INET6, 0, sa6.sin6_addr.in6_u.u6_addr32);
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(fr_sys_enter, struct pt_regs *regs, long nr)
{
	struct task_struct *task;
	struct fr_call *c;
	struct socket *sock;
	long arg0;

	/* Every syscall of the host comes here: the number first, cheapest. */
	if (!socket_events_enabled || !is_sock_call(nr))
		return 0;
	if (bpf_current_task_under_cgroup(&recorded_cgroup, 0) != 1)
		return 0;
	task = bpf_get_current_task_btf();
	if (FR_COMPAT_SYSCALL(task, regs))
		return 0;
	/* tp_btf/sys_enter has the task's own registers, not a syscall wrapper's. */
	arg0 = PT_REGS_PARM1_CORE_SYSCALL(regs);
	if (nr == FR_NR_SOCKET) {
		if (arg0 != FR_AF_INET && arg0 != FR_AF_INET6)
			return 0;
		sock = NULL;
	} else {
		/* Every other call names a descriptor: only those of inet sockets are recorded,
		 * and close() must look now, the socket is gone at its return. */
		sock = fd_socket(task, arg0);
		if (!sock)
			return 0;
	}
	c = bpf_task_storage_get(&calls, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c)
		return 0;
	__builtin_memset(&c->ev, 0, sizeof(c->ev));
	c->nr = 0;
	c->ev.type = FR_EV_SOCKET;
	c->ev.fd = arg0;
	if (nr == FR_NR_SOCKET) {
		c->ev.call = FR_CALL_CREATE;
		c->ev.fd = -1;
		c->ev.family = arg0 == FR_AF_INET6 ? 6 : 4;
		c->ev.sock_type = PT_REGS_PARM2_CORE_SYSCALL(regs) & FR_SOCK_TYPE_MASK;
		c->ev.protocol = PT_REGS_PARM3_CORE_SYSCALL(regs);
		c->nr = nr;
		return 0;
	}
	if (!sock_fill(&c->ev, sock, true))
		return 0;
	switch (nr) {
	case FR_NR_BIND:
		c->ev.call = FR_CALL_BIND;
		__builtin_memset(c->ev.laddr, 0, sizeof(c->ev.laddr));
		c->ev.lport = 0;
		c->ev.laddr_family = sockaddr_read((void *)PT_REGS_PARM2_CORE_SYSCALL(regs),
						  PT_REGS_PARM3_CORE_SYSCALL(regs), c->ev.laddr, &c->ev.lport);
		break;
	case FR_NR_CONNECT:
		c->ev.call = FR_CALL_CONNECT;
		c->ev.raddr_family = sockaddr_read((void *)PT_REGS_PARM2_CORE_SYSCALL(regs),
						  PT_REGS_PARM3_CORE_SYSCALL(regs), c->ev.raddr, &c->ev.rport);
		break;
	case FR_NR_LISTEN:
		c->ev.call = FR_CALL_LISTEN;
		c->ev.backlog = PT_REGS_PARM2_CORE_SYSCALL(regs);
		break;
	case FR_NR_ACCEPT:
	case FR_NR_ACCEPT4:
		c->ev.call = FR_CALL_ACCEPT;
		break;
	case FR_NR_SETSOCKOPT:
		c->ev.call = FR_CALL_SETSOCKOPT;
		c->ev.level = PT_REGS_PARM2_CORE_SYSCALL(regs);
		c->ev.optname = PT_REGS_PARM3_CORE_SYSCALL(regs);
		break;
	default:
		c->ev.call = FR_CALL_CLOSE;
		break;
	}
	c->nr = nr;
	return 0;
}

/* The return of a call stashed by fr_sys_enter: one FR_EV_SOCKET record. */
static __always_inline void sock_call_exit(long nr, long ret)
{
	struct task_struct *task;
	struct fr_sock_event *e;
	struct socket *sock = NULL;
	struct fr_call *c;
	__u8 call;
	long fd;

	if (!is_sock_call(nr))
		return;
	task = bpf_get_current_task_btf();
	c = bpf_task_storage_get(&calls, task, 0, 0);
	if (!c || c->nr != nr) /* not stashed (not ours, or not an inet socket) */
		return;
	c->nr = 0;
	call = c->ev.call;
	/* What the call changed is read from the socket after it; close() has taken it away. */
	fd = c->ev.fd;
	if (call == FR_CALL_CREATE || call == FR_CALL_ACCEPT)
		fd = ret; /* the new socket's descriptor, if the call made one */
	if (call != FR_CALL_CLOSE && fd >= 0)
		sock = fd_socket(task, fd);
	e = bpf_ringbuf_reserve(&sock_events, sizeof(*e), 0);
	if (!e) {
		stat_inc(FR_STAT_SOCKEV_FULL);
		return;
	}
	__builtin_memcpy(e, &c->ev, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->ret = ret;
	identity_from_current(&e->id);
	if (sock) {
		/* bind: laddr stays the address asked for. A descriptor that is no longer an
		 * inet socket (closed and reused by another thread) keeps what entry saw. */
		if (!sock_fill(e, sock, call != FR_CALL_BIND) && call == FR_CALL_ACCEPT)
			e->cookie = 0;
		if (call == FR_CALL_ACCEPT && e->peer_family) {
			e->raddr_family = e->peer_family;
			__builtin_memcpy(e->raddr, e->peer_addr, sizeof(e->raddr));
			e->rport = e->peer_port;
		}
	} else if (call == FR_CALL_ACCEPT) {
		e->cookie = 0; /* failed: no new socket (family, type and laddr are the listener's) */
	}
	ringbuf_submit(&sock_events, e);
}

/* ---- accept() (continued) and the return of every socket call ---------------------------- */

SEC("tp_btf/sys_exit")
int BPF_PROG(fr_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task;
	struct fr_flow_key key = {};
	struct fr_owner *o;
	struct fr_flow *f;
	struct socket *sock;
	struct sock *sk;
	long nr;

	nr = SYSCALL_NR(regs);
	if (socket_events_enabled)
		sock_call_exit(nr, ret);
	if (ret < 0)
		return 0;
	if (nr != FR_NR_ACCEPT && nr != FR_NR_ACCEPT4)
		return 0;
	task = bpf_get_current_task_btf();
	sock = fd_socket(task, ret);
	if (!sock)
		return 0;
	sk = sock->sk;
	if (!sk)
		return 0;
	/* sockops generated the cookie at the passive open; 0 means not one of ours. */
	key.cookie = sk->__sk_common.skc_cookie.counter;
	if (!key.cookie)
		return 0;
	o = bpf_map_lookup_elem(&owners, &key.cookie);
	if (!o)
		return 0;
	identity_from_current(&o->id);
	{
		__u32 v6[4] = { sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0],
				sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[1],
				sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2],
				sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3] };

		key.proto = FR_IPPROTO_TCP;
		key_set_remote(&key, sk->__sk_common.skc_family, sk->__sk_common.skc_daddr, v6,
			       bpf_ntohs(sk->__sk_common.skc_dport));
	}
	f = bpf_map_lookup_elem(&flows, &key);
	if (!f)
		return 0;
	f->id = o->id;
	emit(FR_EV_OWNER, bpf_ktime_get_ns(), &key, f);
	return 0;
}

/* ---- exec: exe and arguments while the process surely exists ------------------------------ */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fr_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct fr_exec_event *e;
	unsigned long arg_start, arg_end, len;

	if (bpf_current_task_under_cgroup(&recorded_cgroup, 0) != 1)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(FR_STAT_RINGBUF_FULL);
		return 0;
	}
	e->type = FR_EV_EXEC;
	e->pid = BPF_CORE_READ(task, tgid);
	e->proc_start_ns = BPF_CORE_READ(task, group_leader, start_time);
	e->_pad = 0;
	if (bpf_probe_read_kernel_str(e->exe, sizeof(e->exe), BPF_CORE_READ(bprm, filename)) < 0)
		e->exe[0] = 0;
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	if (len > sizeof(e->args))
		len = sizeof(e->args);
	if (len && bpf_probe_read_user(e->args, len, (void *)arg_start))
		len = 0;
	e->args_len = len;
	ringbuf_submit(&events, e);
	return 0;
}

/* ---- sockets that were open before the recorder started --------------------------------- */

SEC("iter/task_file")
int fr_iter_sockets(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct fr_iter_sock r = {};
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = sock->sk; /* a BTF pointer, as bpf_get_socket_cookie() wants */
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r.proto = BPF_CORE_READ(sk, sk_protocol);
	if (!is_inet_l4(family, r.proto))
		return 0;
	r.cookie = bpf_get_socket_cookie(sk);
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
