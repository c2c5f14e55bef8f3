/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MPTCP: the program's MPTCP socket is a flow of its own (keyed by its cookie alone, see
 * FR_MPTCP_TOKEN_COOKIE in flowrec.h) that counts every packet of its TCP subflows; each
 * subflow is a TCP flow whose parent_cookie names it.
 *
 * Everything here needs bpf_skc_to_mptcp_sock (Linux 5.19) and atomic fetch operations
 * (5.12). Without them (have_mptcp false, probed by user space) the verifier never visits
 * this code: an MPTCP subflow is then a plain TCP flow, attributed when the program's
 * connect() reaches it (the first subflow of an outgoing connection) and unowned otherwise.
 */
#ifndef FR_MPTCP_BPF_H
#define FR_MPTCP_BPF_H

/* The key cookie of the MPTCP connection a TCP subflow belongs to (FR_MPTCP_TOKEN_COOKIE
 * for one without a cookie), or 0 for plain TCP. */
static __always_inline __u64 mptcp_parent_cookie(struct bpf_sock *sk)
{
	struct mptcp_sock *msk;
	__u64 cookie;

	if (!have_mptcp)
		return 0;
	msk = bpf_skc_to_mptcp_sock(sk);
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
	e = sock_event_reserve();
	if (!e)
		return;
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
static __always_inline void mptcp_subflow_joined(struct fr_flow *f, __u64 now)
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

/* A subflow's packet also counts for its connection. */
static __always_inline void mptcp_count(const struct fr_flow *f, bool egress, __u64 nbytes,
					__u32 segs, __u64 now)
{
	struct fr_flow_key pk = { .cookie = f->parent_cookie, .proto = FR_IPPROTO_MPTCP };
	struct fr_flow *pf;

	if (!have_mptcp)
		return;
	pf = bpf_map_lookup_elem(&flows, &pk);
	if (!pf)
		return;
	if (egress)
		count(&pf->bytes_out, &pf->packets_out, nbytes, segs);
	else
		count(&pf->bytes_in, &pf->packets_in, nbytes, segs);
	pf->last_ns = now;
}

#endif /* FR_MPTCP_BPF_H */
