/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flows map: a flow is opened by its first packet (packets.bpf.h) or by the passive open
 * (sockops.bpf.h), and ended by TCP_CLOSE or the socket's release. The end event carries the
 * final counters and the entry is deleted in the same step; if the event cannot be queued
 * the entry stays, marked ended, for user space's sweep.
 */
#ifndef FR_FLOWS_BPF_H
#define FR_FLOWS_BPF_H

/* A flow just added to the map (f is what was added): tell user space, with an MPTCP
 * subflow's connection first and its 'create' socket event after. */
static __always_inline void flow_opened(const struct fr_flow_key *key, struct fr_flow *f,
					__u64 now)
{
	if (f->parent_cookie)
		mptcp_subflow_joined(f, now);
	emit(FR_EV_FLOW_OPEN, now, key, f);
	if (f->parent_cookie) /* after the open: user space finds the flow it names */
		mptcp_subflow_created(key, f, now);
}

/* Report a flow's final counters and forget it. */
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
	if (!have_mptcp || !pk.cookie)
		return;
	pf = bpf_map_lookup_elem(&flows, &pk);
	if (pf && __sync_sub_and_fetch(&pf->subflows, 1) == 0)
		flow_end_entry(&pk, pf, now);
}

#endif /* FR_FLOWS_BPF_H */
