/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TCP state from sockops: an active open marks the flow so that sock_release leaves its end
 * to TCP_CLOSE (the FIN exchange after close() is still counted); a passive open makes the
 * accepted socket's flow, carrying its handshake packets counted in `pending` and, until
 * accept() returns it to a task, the listener's owner.
 */
#ifndef FR_SOCKOPS_BPF_H
#define FR_SOCKOPS_BPF_H

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
	struct fr_owner child = { .fd = -1 };
	struct bpf_sock *sk;
	struct fr_owner *lo = NULL;
	struct fr_pending *pe;
	struct fr_flow f = {};

	pk.family = key->family;
	sk = skops->sk; /* loaded once: the NULL check must be on what the helper gets */
	pk.netns = tcp_sock_netns(sk);
	pk.lport = skops->local_port;
	pk.rport = key->rport;
	__builtin_memcpy(pk.raddr, key->raddr, 16);
	{
		__u32 v6[4] = { skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2],
				skops->local_ip6[3] };

		addr_normalise(pk.laddr, skops->family, skops->local_ip4, v6);
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
	if (have_mptcp && sk)
		f.parent_cookie = mptcp_parent_cookie(sk);

	pe = bpf_map_lookup_elem(&pending, &pk);
	if (pe) {
		f.start_ns = pe->start_ns;
		f.bytes_in = pe->bytes_in;
		f.bytes_out = pe->bytes_out;
		f.packets_in = pe->packets_in;
		f.packets_out = pe->packets_out;
		f.verdict = pe->verdict;
		f.rule = pe->rule;
		if (pe->listener_cookie)
			lo = bpf_map_lookup_elem(&owners, &pe->listener_cookie);
		bpf_map_delete_elem(&pending, &pk);
	}
	if (lo)
		child.id = lo->id;
	child.flags = f.parent_cookie ? FR_OWNER_KERN : FR_OWNER_PASSIVE;
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
	flow_opened(key, &f, now);
}

#endif /* FR_SOCKOPS_BPF_H */
