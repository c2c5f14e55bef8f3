/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Policy (--policy): the rules of a policy file decide, in the hooks that already see the
 * task, whether a connect, a send to an address, a bind or a new inbound connection or
 * datagram goes ahead. include/flowrec.h describes the maps lib/policy.c fills; here a
 * decision is a handful of lookups and a 16-word AND, whatever the number of rules.
 *
 * Verdicts are recorded on the flow: a denied attempt becomes a flow of its own, with zero
 * bytes and the task, opened and ended at once (a denied send to an address stays open,
 * so that the socket's further sends to that peer add nothing, and ends with the socket);
 * an audited one puts its verdict on the flow it starts, through `verdicts` (sends and
 * connects, whose flow the first packet makes) or the pending handshake (accepts).
 *
 * Without --policy, policy_enabled is false and none of this is ever reached: the verifier
 * sees a constant and drops it. With it, a hook denies only when a rule says deny; a map
 * that cannot be read allows.
 */
#ifndef FR_POLICY_BPF_H
#define FR_POLICY_BPF_H

/* What a decision looks at; the caller fills the one in policy_scratch. ident false: no
 * task known (an accept to an unowned socket); only rules that name no uid, comm or
 * executable can match. */
struct policy_query {
	__u32 addr[4];
	__u16 port;
	__u8 what;
	__u8 family;
	__u8 proto;
	__u8 ident;
	__u8 gen;     /* the generation whose state the caller read (policy_for) */
	__u8 _pad;
	__u32 uid;
	__u32 exe_dev;
	__u64 exe_ino;
	char comm[FR_COMM_LEN];
};

/* A decision's working memory, too big for the stacks of the hooks that ask for one. */
struct policy_scratch {
	struct policy_query q;
	struct fr_policy_bits acc; /* the rules every dimension so far admits */
	struct fr_policy_bits cg;  /* the rules the task's cgroups admit */
	/* The lookup keys: the stack a global function adds to its caller's is what the
	 * caller's leaves of 512 bytes. */
	struct fr_policy_addr_key ak;
	struct fr_policy_port_key pk;
	struct fr_policy_match_key mk;
	/* A denied SYN's row, its key and its dedupe key: the packet hook's stack is full. */
	struct fr_flow flow;
	struct fr_flow_key flow_key;
	struct fr_pending_key syn_key;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct policy_scratch);
} policy_scratch SEC(".maps");

struct policy_decision {
	__u8 verdict; /* FR_VERDICT_*, 0: allowed */
	__u8 version; /* the low bits of the deciding policy's version */
	__u16 rule;   /* FR_POLICY_RULE_REF, 0: no rule matched */
};

/* The generation in force's state, or NULL when it has no rules of this kind. */
static __always_inline const struct fr_policy_state *policy_for(__u8 what)
{
	struct fr_policy_state *st;
	__u32 key = 0;

	if (!policy_enabled)
		return NULL;
	st = bpf_map_lookup_elem(&policy_state, &key);
	if (!st)
		return NULL;
	key = 1 + (st->gen & 1); /* one load of the word that switches */
	st = bpf_map_lookup_elem(&policy_state, &key);
	if (!st || !(st->whats & (1U << what)))
		return NULL;
	return st;
}

static __always_inline __u8 policy_proto(__u32 protocol)
{
	return protocol == FR_IPPROTO_MPTCP ? FR_IPPROTO_TCP : protocol;
}

/* The current task's executable, as the kernel names its file. mode: how this program type
 * may read the task (FR_IDENT_BTF: plain loads, a third of the cost of probe reads). */
static __always_inline void exe_of_current(__u32 *dev, __u64 *ino, __u8 mode)
{
	if (mode == FR_IDENT_BTF) {
		struct task_struct *task = bpf_get_current_task_btf();
		struct inode *inode = task->mm->exe_file->f_inode;

		*ino = inode->i_ino;
		*dev = inode->i_sb->s_dev;
	} else {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);

		*ino = BPF_CORE_READ(inode, i_ino);
		*dev = BPF_CORE_READ(inode, i_sb, s_dev);
	}
}

/* Trailing zeros of a non-zero word, without a branch: the verifier walks every branch of
 * every unrolled word, and six per word made the decision too big to verify. */
static __always_inline __u32 ctz64(__u64 w)
{
	__u64 x = (w & -w) - 1;

	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* acc &= b, one pass; b is dead after it, so the paths that did and did not AND a
 * dimension meet again (the verifier prunes them as one). */
static __always_inline void policy_and(struct fr_policy_bits *acc, const struct fr_policy_bits *b)
{
	for (int i = 0; i < FR_POLICY_WORDS; i++)
		acc->w[i] &= b->w[i];
}

/* The rules one value of a dimension admits: its own entry, else the rules that name no
 * value of that dimension. named false: the value is unknown, only the latter. */
static __always_inline const struct fr_policy_bits *
policy_dim(struct policy_scratch *sc, __u8 gen, __u8 dim, bool named, __u64 v0, __u64 v1)
{
	struct fr_policy_match_key *k = &sc->mk;
	const struct fr_policy_bits *b;

	__builtin_memset(k, 0, sizeof(*k));
	k->gen = gen;
	k->dim = dim;
	if (named) {
		k->v[0] = v0;
		k->v[1] = v1;
		b = bpf_map_lookup_elem(&policy_match, k);
		if (b)
			return b;
		k->v[0] = 0;
		k->v[1] = 0;
	}
	k->any = 1;
	return bpf_map_lookup_elem(&policy_match, k);
}

/* The rules naming a cgroup the task (or, for a packet, its socket) is in or under, plus
 * those naming none, into cg. Returns false if no rule can match. */
static __always_inline bool policy_cgroups(struct policy_scratch *sc, __u8 gen,
					   struct __sk_buff *skb, bool from_packet)
{
	struct fr_policy_match_key *k = &sc->mk;
	struct fr_policy_bits *cg = &sc->cg;
	const struct fr_policy_bits *b;
	__u32 found = 0;

	__builtin_memset(k, 0, sizeof(*k));
	k->gen = gen;
	k->dim = FR_PD_CGROUP;
	k->any = 1;
	b = bpf_map_lookup_elem(&policy_match, k);
	__builtin_memset(cg, 0, sizeof(*cg));
	if (b) {
		__builtin_memcpy(cg, b, sizeof(*cg));
		found = 1;
	}
	k->any = 0;
	for (int level = 0; level < FR_POLICY_CGROUP_DEPTH; level++) {
		__u64 id = from_packet ? bpf_skb_ancestor_cgroup_id(skb, level)
				       : bpf_get_current_ancestor_cgroup_id(level);

		if (!id)
			break;
		k->v[0] = id;
		b = bpf_map_lookup_elem(&policy_match, k);
		if (!b)
			continue;
		for (int i = 0; i < FR_POLICY_WORDS; i++)
			cg->w[i] |= b->w[i];
		found = 1;
	}
	return found;
}

static __always_inline struct policy_decision policy_unpack(__u32 packed)
{
	struct policy_decision d = { .verdict = packed & 0xff, .version = (packed >> 8) & 0xff,
				     .rule = packed >> 16 };

	return d;
}

/*
 * Decide the query in policy_scratch; returns the decision packed, verdict | version << 8 |
 * rule << 16, and
 * counts the hit of the deciding rule. from_packet: an accept, decided for skb (its
 * socket's cgroups count); otherwise for the current task.
 *
 * The two entry points below are global functions, so the verifier checks a decision once
 * per program, as a function of its own that returns an unknown scalar. Inlined (or as a
 * static function) every path of the caller that reaches it walked all of its paths, and
 * every one of its exits walked the rest of the caller: fr_skb_ingress passed the verifier's
 * million instructions. The query goes through the scratch map because a global function
 * takes only scalars and the context on the kernels before 5.12.
 */
static __always_inline __u32 policy_decide(struct __sk_buff *skb, bool from_packet)
{
	struct policy_decision d = {};
	const struct fr_policy_bits *addr, *port, *b;
	struct fr_policy_addr_key *ak;
	struct fr_policy_port_key *pk;
	const struct fr_policy_state *st;
	const struct policy_query *q;
	struct fr_policy_rule_action *ra;
	__u32 zero = 0, key, gen, dims, slot;
	struct policy_scratch *sc;
	__u64 comm_v[2] = {};
	__s32 idx = -1;
	bool ident;
	__u64 *hits;

	sc = bpf_map_lookup_elem(&policy_scratch, &zero);
	if (!sc)
		return 0;
	q = &sc->q;
	gen = q->gen & 1;
	key = 1 + gen;
	st = bpf_map_lookup_elem(&policy_state, &key);
	if (!st)
		return 0;
	dims = st->dims;
	ident = q->ident;
	ak = &sc->ak;
	__builtin_memset(ak, 0, sizeof(*ak));
	ak->prefixlen = 32 + (q->family == 6 ? 128 : 32);
	ak->gen = gen;
	ak->what = q->what;
	ak->family = q->family;
	__builtin_memcpy(ak->addr, q->addr, sizeof(ak->addr));
	addr = bpf_map_lookup_elem(&policy_addr, ak);
	if (!addr)
		return 0;
	pk = &sc->pk;
	__builtin_memset(pk, 0, sizeof(*pk));
	pk->prefixlen = 48;
	pk->gen = gen;
	pk->what = q->what;
	pk->proto = q->proto;
	pk->port[0] = q->port >> 8;
	pk->port[1] = q->port & 0xff;
	port = bpf_map_lookup_elem(&policy_port, pk);
	if (!port)
		return 0;
	for (int i = 0; i < FR_POLICY_WORDS; i++)
		sc->acc.w[i] = addr->w[i] & port->w[i];
	if (dims & (1U << FR_PD_UID)) {
		b = policy_dim(sc, gen, FR_PD_UID, ident, q->uid, 0);
		if (!b)
			return 0;
		policy_and(&sc->acc, b);
	}
	if (dims & (1U << FR_PD_COMM)) {
		/* As the file names it: NUL-padded (a kernel that set comm with strlcpy may
		 * leave an older name's bytes after the NUL). */
		if (ident) {
			__u8 live = 0xff;

			for (int i = 0; i < FR_COMM_LEN; i++) {
				__u8 ch = q->comm[i] & live;

				live &= -(__u8)(ch != 0);
				((__u8 *)comm_v)[i] = ch;
			}
		}
		b = policy_dim(sc, gen, FR_PD_COMM, ident, comm_v[0], comm_v[1]);
		if (!b)
			return 0;
		policy_and(&sc->acc, b);
	}
	if (dims & (1U << FR_PD_EXE)) {
		b = policy_dim(sc, gen, FR_PD_EXE, ident, q->exe_dev, q->exe_ino);
		if (!b)
			return 0;
		policy_and(&sc->acc, b);
	}
	if (dims & (1U << FR_PD_CGROUP)) {
		if (!policy_cgroups(sc, gen, skb, from_packet))
			return 0;
		policy_and(&sc->acc, &sc->cg);
	}
	for (int i = 0; i < FR_POLICY_WORDS; i++) {
		__u64 w = sc->acc.w[i];

		if (w) {
			idx = i * 64 + ctz64(w);
			break;
		}
	}
	if (idx < 0 || idx >= FR_POLICY_MAX_RULES)
		return 0;
	slot = gen * FR_POLICY_MAX_RULES + idx;
	hits = bpf_map_lookup_elem(&policy_hits, &slot);
	if (hits)
		__sync_fetch_and_add(hits, 1);
	ra = bpf_map_lookup_elem(&policy_rules, &slot);
	if (!ra)
		return 0;
	d.rule = FR_POLICY_RULE_REF(gen, idx);
	if (ra->action == FR_PA_DENY)
		d.verdict = FR_VERDICT_DENY;
	else if (ra->action == FR_PA_AUDIT)
		d.verdict = FR_VERDICT_AUDIT;
	return d.verdict | (st->version & 0xff) << 8 | (__u32)d.rule << 16;
}

__noinline __u32 policy_decide_task(void)
{
	return policy_decide(NULL, false);
}

__noinline __u32 policy_decide_packet(struct __sk_buff *skb)
{
	return policy_decide(skb, true);
}

/* Hands q to a decision about the current task. */
static __always_inline struct policy_decision policy_ask_task(const struct policy_query *q)
{
	struct policy_scratch *sc;
	__u32 zero = 0;

	sc = bpf_map_lookup_elem(&policy_scratch, &zero);
	if (!sc)
		return policy_unpack(0);
	__builtin_memcpy(&sc->q, q, sizeof(*q));
	return policy_unpack(policy_decide_task());
}

/* A query about the current task. */
static __always_inline void policy_query_current(struct policy_query *q,
						 const struct fr_policy_state *st,
						 const struct fr_identity *id, __u8 mode)
{
	q->ident = 1;
	q->gen = st->gen;
	q->uid = id->uid;
	__builtin_memcpy(q->comm, id->comm, sizeof(q->comm));
	if (st->dims & (1U << FR_PD_EXE))
		exe_of_current(&q->exe_dev, &q->exe_ino, mode);
}

/* A denied or audited attempt that has no flow of its own to carry the verdict: a flow row
 * with zero bytes, opened and ended now (ended_now false: left open, for the socket's
 * release to end). A flow already there for this key keeps its row. */
static __always_inline void policy_attempt_flow(const struct fr_flow_key *key, struct fr_flow *f,
						__u64 now, bool ended_now)
{
	struct fr_flow *cur;

	f->start_ns = now;
	f->last_ns = now;
	if (bpf_map_update_elem(&flows, key, f, BPF_NOEXIST))
		return;
	cur = bpf_map_lookup_elem(&flows, key);
	if (!cur)
		return;
	flow_opened(key, f, now);
	if (ended_now)
		flow_end_entry(key, cur, now);
}

/* cgroup/connect4|6 and sendmsg4|6. Returns the verdict; o is the socket's owner (may be
 * NULL). A send to an address (is_send) is decided for every datagram, but only the first
 * to a peer leaves a row. */
static __always_inline __u8 policy_connect(struct bpf_sock_addr *ctx, struct fr_owner *o,
					   bool is_send, bool v6)
{
	const struct fr_policy_state *st = policy_for(FR_PW_CONNECT);
	struct policy_query q = { .what = FR_PW_CONNECT };
	struct fr_flow_key key = {};
	struct policy_decision d;
	struct fr_flow f = {};
	struct bpf_sock *sk;
	__u64 now;

	if (!st)
		return 0;
	q.proto = policy_proto(ctx->protocol);
	if (q.proto != FR_IPPROTO_TCP && q.proto != FR_IPPROTO_UDP)
		return 0;
	if (v6) {
		__u32 a6[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };

		q.family = addr_normalise(q.addr, FR_AF_INET6, 0, a6);
	} else {
		q.family = 4;
		q.addr[0] = ctx->user_ip4;
	}
	q.port = bpf_ntohs(ctx->user_port);
	/* The task as it is now: the owner's identity may predate a setuid, an exec or a
	 * rename by the same thread. */
	identity_from_current(&f.id, ident_addr);
	policy_query_current(&q, st, &f.id, ident_addr);
	d = policy_ask_task(&q);
	if (!d.verdict)
		return 0;

	key.cookie = bpf_get_socket_cookie(ctx);
	key.proto = ctx->protocol;
	key.family = q.family;
	key.rport = q.port;
	__builtin_memcpy(key.raddr, q.addr, sizeof(key.raddr));
	if (d.verdict == FR_VERDICT_AUDIT) {
		/* The flow the first packet opens takes the verdict; a send to a peer whose flow
		 * is open already changes nothing. */
		if (!is_send || !bpf_map_lookup_elem(&flows, &key))
			bpf_map_update_elem(&verdicts, &key, &d, BPF_ANY);
		return d.verdict;
	}
	now = bpf_ktime_get_ns();
	f.family = q.family;
	f.direction = FR_DIR_OUT;
	f.verdict = d.verdict;
	f.rule = d.rule;
	__builtin_memcpy(f.wire_raddr, q.addr, sizeof(f.wire_raddr));
	f.wire_rport = q.port;
	sk = ctx->sk;
	if (sk) {
		__u32 s6[4] = { sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3] };

		addr_normalise(f.laddr, sk->family, sk->src_ip4, s6);
		f.lport = sk->src_port;
	}
	if (is_send && o)
		o->flags |= FR_OWNER_UNCONNECTED; /* the release ends the denied peer's flow */
	policy_attempt_flow(&key, &f, now, !is_send);
	return d.verdict;
}

/* cgroup/post_bind4|6: the port is the one bound (an ephemeral one too). v6: post_bind6,
 * the only one that may read src_ip6. */
static __always_inline __u8 policy_bind(struct bpf_sock *sk, bool v6)
{
	const struct fr_policy_state *st = policy_for(FR_PW_BIND);
	struct policy_query q = { .what = FR_PW_BIND };
	struct fr_flow_key key = {};
	struct policy_decision d;
	struct fr_flow f = {};

	if (!st)
		return 0;
	q.proto = policy_proto(sk->protocol);
	if (q.proto != FR_IPPROTO_TCP && q.proto != FR_IPPROTO_UDP)
		return 0;
	q.family = v6 ? 6 : 4;
	q.port = sk->src_port;
	if (!q.port) /* IP_BIND_ADDRESS_NO_PORT: the port comes at connect, not here */
		return 0;
	identity_from_current(&f.id, ident_sock);
	policy_query_current(&q, st, &f.id, ident_sock);
	d = policy_ask_task(&q);
	if (!d.verdict)
		return 0;
	/* The attempt's row: the local end only. */
	key.cookie = bpf_get_socket_cookie(sk);
	key.proto = sk->protocol;
	if (v6) {
		__u32 a6[4] = { sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3] };

		key.family = addr_normalise(f.laddr, FR_AF_INET6, 0, a6);
	} else {
		key.family = 4;
		f.laddr[0] = sk->src_ip4;
	}
	f.family = key.family;
	f.lport = q.port;
	f.direction = FR_DIR_IN;
	f.verdict = d.verdict;
	f.rule = d.rule;
	policy_attempt_flow(&key, &f, bpf_ktime_get_ns(), true);
	return d.verdict;
}

/* A new inbound connection (a SYN to a listener) or a datagram that starts a flow, from
 * p->saddr to local port p->dport, on the socket whose owner is o (may be NULL). */
static __always_inline struct policy_decision policy_accept(struct __sk_buff *skb,
							    const struct packet *p,
							    const struct fr_owner *o)
{
	const struct fr_policy_state *st = policy_for(FR_PW_ACCEPT);
	struct policy_decision none = {};
	struct policy_scratch *sc;
	struct policy_query *q;
	__u32 zero = 0;

	if (!st)
		return none;
	sc = bpf_map_lookup_elem(&policy_scratch, &zero);
	if (!sc)
		return none;
	q = &sc->q;
	q->what = FR_PW_ACCEPT;
	q->gen = st->gen;
	q->proto = p->proto;
	q->family = p->family;
	q->port = p->dport;
	__builtin_memcpy(q->addr, p->saddr, sizeof(q->addr));
	q->ident = o != NULL;
	if (o) {
		q->uid = o->id.uid;
		__builtin_memcpy(q->comm, o->id.comm, sizeof(q->comm));
		q->exe_dev = o->exe_dev;
		q->exe_ino = o->exe_ino;
	}
	return policy_unpack(policy_decide_packet(skb));
}

/* A denied SYN: one row per attempt, not per retransmission of it (a client retries for
 * about two minutes). */
#define FR_POLICY_SYN_REPEAT_NS (120ULL * 1000000000ULL)

static __noinline void policy_syn_denied(struct __sk_buff *skb, struct bpf_sock *sk,
					 const struct packet *p, const struct fr_owner *o, __u32 packed)
{
	struct policy_decision d = policy_unpack(packed);
	__u64 now = bpf_ktime_get_ns();
	struct fr_pending_key *pk;
	struct policy_scratch *sc;
	struct fr_flow_key *key;
	__u32 zero = 0;
	struct fr_flow *f;
	__u64 *seen;

	sc = bpf_map_lookup_elem(&policy_scratch, &zero);
	if (!sc)
		return;
	pk = &sc->syn_key;
	__builtin_memset(pk, 0, sizeof(*pk));
	pk->family = p->family;
	pk->netns = tcp_sock_netns(sk);
	__builtin_memcpy(pk->laddr, p->daddr, 16);
	__builtin_memcpy(pk->raddr, p->saddr, 16);
	pk->lport = p->dport;
	pk->rport = p->sport;
	seen = bpf_map_lookup_elem(&syn_denied, pk);
	if (seen && now - *seen < FR_POLICY_SYN_REPEAT_NS)
		return;
	bpf_map_update_elem(&syn_denied, pk, &now, BPF_ANY);
	key = &sc->flow_key;
	__builtin_memset(key, 0, sizeof(*key));
	key->cookie = bpf_get_socket_cookie(skb); /* the listener's */
	key->proto = FR_IPPROTO_TCP;
	key->family = p->family;
	key->rport = p->sport;
	__builtin_memcpy(key->raddr, p->saddr, 16);
	f = &sc->flow;
	__builtin_memset(f, 0, sizeof(*f));
	if (o)
		f->id = o->id;
	f->family = p->family;
	__builtin_memcpy(f->laddr, p->daddr, 16);
	f->lport = p->dport;
	__builtin_memcpy(f->wire_raddr, p->saddr, 16);
	f->wire_rport = p->sport;
	f->flags = FR_FLOW_WIRE_SEEN;
	f->direction = FR_DIR_IN;
	f->verdict = d.verdict;
	f->rule = d.rule;
	policy_attempt_flow(key, f, now, true);
}

/* The verdict an audited connect or send left for the flow its first packet opens. */
static __always_inline void policy_verdict_take(const struct fr_flow_key *key, struct fr_flow *f)
{
	struct policy_decision *d;

	if (!policy_enabled)
		return;
	d = bpf_map_lookup_elem(&verdicts, key);
	if (!d)
		return;
	f->verdict = d->verdict;
	f->rule = d->rule;
	bpf_map_delete_elem(&verdicts, key);
}

#endif /* FR_POLICY_BPF_H */
