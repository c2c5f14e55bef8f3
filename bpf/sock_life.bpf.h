/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A socket's life in the recorded cgroup: its creation gives it an owner, connect() and an
 * unconnected send hand it to the calling task (it may have been inherited across fork),
 * and its release ends the flows sockops will not end and records the socket's 'close'.
 *
 * Without socket events no hook sees accept() return (every syscall hook costs every system
 * call of the host the kernel's tracing slow path), so an accepted socket keeps the
 * listener's owner until its release, and then takes the releasing task, the one that held
 * it last: in a prefork server, the worker that accepted it.
 *
 * The close is taken at release, not at close(): a hook on close() would run for every file
 * closed on the host, and this one runs only for sockets of the recorded cgroup. So the row
 * means "the socket went" (its last descriptor closed, or its process exited); its fd is the
 * descriptor socket() or accept() gave, and its local address the one the socket calls and
 * packets last showed (the kernel does not let a release program read it).
 */
#ifndef FR_SOCK_LIFE_BPF_H
#define FR_SOCK_LIFE_BPF_H

static __always_inline void sock_created(struct bpf_sock *sk)
{
	struct fr_owner o = { .fd = -1 };
	__u64 cookie;

	if (!is_inet_l4(sk->family, sk->protocol))
		return;
	identity_from_current(&o.id, ident_sock);
	if (policy_enabled) /* for accept rules, decided where no task is current */
		exe_of_current(&o.exe_dev, &o.exe_ino, ident_sock);
	cookie = bpf_get_socket_cookie(sk);
	if (bpf_map_update_elem(&owners, &cookie, &o, BPF_ANY))
		stat_inc(FR_STAT_OWNERS_FULL);
}

/* Returns the socket's owner entry, or NULL (not an inet socket we record, or the map
 * is full). */
static __always_inline struct fr_owner *owner_take(struct bpf_sock_addr *ctx, __u8 dir_hint)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct fr_owner *o = bpf_map_lookup_elem(&owners, &cookie);
	struct fr_owner fresh = { .fd = -1 };

	if (!is_inet_l4(ctx->family, ctx->protocol))
		return NULL;
	if (o) {
		if (o->id.tid != (__u32)bpf_get_current_pid_tgid())
			identity_from_current(&o->id, ident_addr);
		if (dir_hint)
			o->dir_hint = dir_hint;
		return o;
	}
	identity_from_current(&fresh.id, ident_addr);
	fresh.dir_hint = dir_hint;
	if (bpf_map_update_elem(&owners, &cookie, &fresh, BPF_ANY)) {
		stat_inc(FR_STAT_OWNERS_FULL);
		return NULL;
	}
	return policy_enabled ? bpf_map_lookup_elem(&owners, &cookie) : NULL;
}

/* connect() (dir_hint FR_DIR_OUT) or a send to an address: the caller owns the socket, and
 * the policy may refuse the call (EPERM). v6: a connect6/sendmsg6 program (only those may
 * read user_ip6). */
static __always_inline int sock_addr_call(struct bpf_sock_addr *ctx, __u8 dir_hint, bool is_send,
					  bool v6)
{
	struct fr_owner *o = owner_take(ctx, dir_hint);

	if (policy_enabled && policy_connect(ctx, o, is_send, v6) == FR_VERDICT_DENY)
		return DENY;
	return ALLOW;
}

static __always_inline void sock_close_event(struct bpf_sock *sk, __u64 cookie,
					     const struct fr_owner *o, __u64 now)
{
	struct fr_sock_event *e;
	__u16 family = sk->family;

	if (!socket_events_enabled)
		return;
	e = sock_event_reserve();
	if (!e)
		return;
	e->call = FR_CALL_CLOSE;
	e->ts_ns = now;
	e->cookie = cookie;
	e->fd = o->fd;
	/* A kernel-made subflow goes with its connection, in whatever task: its 'close' names
	 * the connection's owner, as its 'create' did. */
	if (o->flags & FR_OWNER_KERN) {
		e->kern = 1;
		e->id = o->id;
	} else {
		identity_from_current(&e->id, ident_sock);
	}
	e->family = family == FR_AF_INET6 ? 6 : 4;
	e->sock_type = sk->type;
	e->protocol = sk->protocol;
	e->laddr_family = o->laddr_family;
	__builtin_memcpy(e->laddr, o->laddr, sizeof(e->laddr));
	e->lport = o->lport;
	if (sk->dst_port) {
		__u32 v6[4] = { sk->dst_ip6[0], sk->dst_ip6[1], sk->dst_ip6[2], sk->dst_ip6[3] };

		e->peer_family = addr_normalise(e->peer_addr, family, sk->dst_ip4, v6);
		e->peer_port = bpf_ntohs(sk->dst_port);
	}
	ringbuf_submit(&sock_events, e);
}

static __always_inline void sock_released(struct bpf_sock *sk)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct fr_owner *o = bpf_map_lookup_elem(&owners, &cookie);
	struct fr_flow_key key = {};
	__u64 now = bpf_ktime_get_ns();
	bool owner_moved = false;
	struct fr_flow *f;

	if (!o)
		return;
	sock_close_event(sk, cookie, o, now);
	if (!socket_events_enabled && (o->flags & FR_OWNER_PASSIVE) &&
	    o->id.pid != bpf_get_current_pid_tgid() >> 32 && !current_is_kthread(ident_sock)) {
		identity_from_current(&o->id, ident_sock);
		owner_moved = true;
	}
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
		if (f && owner_moved) {
			f->id = o->id;
			emit(FR_EV_OWNER, now, &key, f);
		}
		/* An established TCP flow still has its FIN exchange ahead: sockops ends it. */
		if (f && !(f->flags & FR_FLOW_STATE_CB))
			flow_end(&key, now);
	}
	if (o->flags & FR_OWNER_UNCONNECTED) {
		__builtin_memset(&key, 0, sizeof(key));
		key.cookie = cookie;
		if (emit(FR_EV_SOCK_RELEASE, now, &key, NULL))
			bpf_map_update_elem(&released, &cookie, &now, BPF_ANY);
	}
	bpf_map_delete_elem(&owners, &cookie);
}

#endif /* FR_SOCK_LIFE_BPF_H */
