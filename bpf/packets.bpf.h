/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packets: cgroup_skb sees every packet of the recorded sockets from the IP header on, in
 * both directions, in softirq where the current task means nothing. It finds the flow by
 * socket cookie and remote endpoint, counts the packet there, and hands it to the capture
 * perf buffer (pcap store and DNS parser). The server side of a TCP handshake, before the
 * accepted socket exists, is counted by 4-tuple in `pending`.
 */
#ifndef FR_PACKETS_BPF_H
#define FR_PACKETS_BPF_H


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
		__u8 doff_flags[2];

		if (load(skb, l4off + 12, doff_flags, 2))
			return -1;
		p->hdrlen = l4off + (doff_flags[0] >> 4) * 4;
		p->tcp_flags = doff_flags[1];
	} else {
		p->hdrlen = l4off + 8;
	}
	return 0;
}

/* Server side of a handshake: no accepted socket yet, count by 4-tuple. */
static __always_inline void pending_count(struct __sk_buff *skb, struct bpf_sock *sk,
					  const struct packet *p, bool egress, __u64 nbytes,
					  __u32 segs, __u64 now, struct policy_decision d)
{
	struct fr_pending_key pk = {};
	struct fr_pending *pe;

	pk.family = p->family;
	pk.netns = tcp_sock_netns(sk);
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
	if (d.verdict) { /* an audited SYN: the accepted flow takes the verdict */
		pe->verdict = d.verdict;
		pe->rule = d.rule;
	}
	if (egress)
		count(&pe->bytes_out, &pe->packets_out, nbytes, segs);
	else
		count(&pe->bytes_in, &pe->packets_in, nbytes, segs);
}

/* d: an accept rule's verdict on the datagram that starts the flow (a denied one makes a
 * flow that drops what comes in). */
static __always_inline struct fr_flow *flow_create(const struct fr_flow_key *key,
						   const struct packet *p, bool egress,
						   struct bpf_sock *fs, __u64 now,
						   struct policy_decision d)
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
	if (d.verdict) {
		f.verdict = d.verdict;
		f.rule = d.rule;
		if (d.verdict == FR_VERDICT_DENY) {
			f.flags |= FR_FLOW_DROP_IN;
			f.policy_version = d.version;
		}
	} else {
		policy_verdict_take(key, &f);
	}
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
	flow_opened(key, &f, now);
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
				    const struct packet *p, bool egress, __u64 now, __u32 netns)
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
	hdr.netns = netns;
	if (bpf_perf_event_output(skb, &packets, BPF_F_CURRENT_CPU | (caplen << 32), &hdr, sizeof(hdr)))
		stat_inc(FR_STAT_CAPTURE_FULL);
}

static __always_inline int on_packet(struct __sk_buff *skb, bool egress)
{
	struct bpf_sock *sk = skb->sk;
	struct policy_decision d = {};
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
		if (policy_enabled && !egress && sk->state == FR_TCP_LISTEN &&
		    (p.tcp_flags & (FR_TCP_FLAG_SYN | FR_TCP_FLAG_ACK)) == FR_TCP_FLAG_SYN) {
			__u64 lc = mptcp_parent_cookie(sk);
			struct fr_owner *o;

			if (!lc)
				lc = bpf_get_socket_cookie(skb);
			o = bpf_map_lookup_elem(&owners, &lc);
			d = policy_accept(skb, &p, o);
			if (d.verdict == FR_VERDICT_DENY) {
				policy_syn_denied(skb, sk, &p, o, d.verdict | (__u32)d.rule << 16);
				if (capture_enabled)
					capture(skb, &key, &p, egress, now, tcp_sock_netns(sk));
				return DENY;
			}
		}
		pending_count(skb, sk, &p, egress, nbytes, segs, now, d);
		if (capture_enabled) /* no flow yet: the export finds it by 4-tuple and netns */
			capture(skb, &key, &p, egress, now, tcp_sock_netns(sk));
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
		if (policy_enabled && !egress && p.proto == FR_IPPROTO_UDP)
			d = policy_accept(skb, &p, bpf_map_lookup_elem(&owners, &key.cookie));
		f = flow_create(&key, &p, egress, fs, now, d);
		if (d.verdict == FR_VERDICT_DENY)
			return DENY;
		if (!f)
			return ALLOW;
	} else if (policy_enabled && !egress && (f->flags & FR_FLOW_DROP_IN)) {
		/* A denied peer's datagrams: dropped, not counted, while the policy that denied
		 * it is in force; after a reload the next one is decided again. */
		const struct fr_policy_state *st = policy_for(FR_PW_ACCEPT);

		if (st && (__u8)st->version == f->policy_version)
			return DENY;
		if (st) {
			d = policy_accept(skb, &p, bpf_map_lookup_elem(&owners, &key.cookie));
			if (d.verdict == FR_VERDICT_DENY) {
				f->policy_version = d.version;
				return DENY;
			}
		}
		/* A plain store, like the flags' other writes: a race only repeats a decision. */
		f->flags &= (__u8)~FR_FLOW_DROP_IN;
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
	if (f->parent_cookie) /* an MPTCP subflow: its connection carries the same bytes */
		mptcp_count(f, egress, nbytes, segs, now);
	capture(skb, &key, &p, egress, now, 0);
	return ALLOW;
}

#endif /* FR_PACKETS_BPF_H */
