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
 *           of accept()/accept4() (the syscalls tracepoints, which walk the task's fd table to
 *           the accepted socket). Sockets that predate the recorder are added by user space
 *           from the iterator in iter_sockets.bpf.c.
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
 * One build runs on every kernel from 5.10: user space probes the running kernel and sets
 * the const volatile settings below before load (recorder/kernel_probe.c). The verifier sees
 * them as constants and never visits a branch that needs what this kernel lacks, and
 * programs this kernel cannot run are not loaded. docs/kernels.md has the table.
 *
 * Each concern has its header, included below in dependency order: common (identity,
 * addresses, events), mptcp, flows (open and end), packets (cgroup_skb), sock_life
 * (creation, ownership, release), sockops (TCP state), sock_calls (socket_events), exec.
 * This file holds the maps, the settings and the entry points.
 *
 * Every program is fail-open: it returns "allow" (1) on every path, except where a rule of
 * the policy the user gave (--policy, policy.bpf.h) says deny. Without one, nothing here
 * may drop.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "flowrec.h"

char LICENSE[] SEC("license") = "GPL";

/* ---- maps -------------------------------------------------------------------------------- */

/* Not preallocated: a deleted element is freed after an RCU grace period, so a packet that
 * looked its flow up just before the flow ended adds its counts to memory nothing reads any
 * more. A preallocated element is reused at once, and those counts would land on another
 * flow. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FR_MAX_FLOWS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fr_flow_key);
	__type(value, struct fr_flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FR_MAX_OWNERS);
	__type(key, __u64);
	__type(value, struct fr_owner);
} owners SEC(".maps");

/* Sockets whose release event found the ring buffer full (cookie -> release time): their
 * unconnected flows, which only the release ends, are ended by the next sweep instead. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FR_MAX_RELEASED);
	__type(key, __u64);
	__type(value, __u64);
} released SEC(".maps");

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

/* A socket call between its entry and its return, by thread id; nr 0: none. LRU: a thread
 * that dies inside a call must not hold its entry. */
struct fr_call {
	__u32 nr;
	__u32 _pad;
	struct fr_sock_event ev;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct fr_call);
} calls SEC(".maps");

/* Policy (policy.bpf.h, include/flowrec.h): LPM tries need BPF_F_NO_PREALLOC. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3); /* [0]: the generation in force; [1 + gen]: each generation's */
	__type(key, __u32);
	__type(value, struct fr_policy_state);
} policy_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FR_POLICY_MAX_ADDR);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fr_policy_addr_key);
	__type(value, struct fr_policy_bits);
} policy_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, FR_POLICY_MAX_PORT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fr_policy_port_key);
	__type(value, struct fr_policy_bits);
} policy_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FR_POLICY_MAX_MATCH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fr_policy_match_key);
	__type(value, struct fr_policy_bits);
} policy_match SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * FR_POLICY_MAX_RULES);
	__type(key, __u32);
	__type(value, struct fr_policy_rule_action);
} policy_rules SEC(".maps");

/* Hits per rule and generation; user space adds them up into policy_rules.hits. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * FR_POLICY_MAX_RULES);
	__type(key, __u32);
	__type(value, __u64);
} policy_hits SEC(".maps");


/* An audited connect's or send's verdict, until the first packet opens its flow. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fr_flow_key);
	__type(value, __u32); /* struct policy_decision */
} verdicts SEC(".maps");

/* Denied SYNs by 4-tuple and netns -> when their row was made. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fr_pending_key);
	__type(value, __u64);
} syn_denied SEC(".maps");

/* ---- settings, set by user space before load ------------------------------------------ */

const volatile __u32 capture_snaplen = 128; /* 0: whole packets */
const volatile bool socket_events_enabled = true; /* --no-socket-events */
const volatile bool capture_enabled = true;
/* DNS is taken whole whatever the snaplen, even without capture; 0 ends the list. */
const volatile __u16 dns_ports[FR_MAX_DNS_PORTS] = { 53 };
/* How each program type reads the current task (enum fr_ident_mode, common.bpf.h). */
const volatile __u8 ident_sock = FR_IDENT_BTF;   /* cgroup/sock_create, sock_release */
const volatile __u8 ident_addr = FR_IDENT_BTF;   /* cgroup/connect, sendmsg */
const volatile __u8 ident_trace = FR_IDENT_PROBE; /* tracepoints */
/* bpf_skc_to_mptcp_sock and atomic fetch operations: MPTCP connections as flows. */
const volatile bool have_mptcp = true;
/* bpf_skc_to_tcp_sock and _tcp_request_sock in cgroup_skb and sockops: a handshake's
 * network namespace, in its pending key. */
const volatile bool have_sk_netns = true;
/* --policy: the policy hooks decide (without it nothing here ever denies). */
const volatile bool policy_enabled = false;

#include "common.bpf.h"
#include "mptcp.bpf.h"
#include "flows.bpf.h"
#include "policy.bpf.h"
#include "packets.bpf.h"
#include "sock_life.bpf.h"
#include "sockops.bpf.h"
#include "sock_calls.bpf.h"
#include "exec.bpf.h"

/* ---- entry points ------------------------------------------------------------------------ */

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

SEC("cgroup/sock_create")
int fr_sock_create(struct bpf_sock *sk)
{
	sock_created(sk);
	return ALLOW;
}

SEC("cgroup/sock_release")
int fr_sock_release(struct bpf_sock *sk)
{
	sock_released(sk);
	return ALLOW;
}

SEC("cgroup/connect4")
int fr_connect4(struct bpf_sock_addr *ctx)
{
	return sock_addr_call(ctx, FR_DIR_OUT, false, false);
}

SEC("cgroup/connect6")
int fr_connect6(struct bpf_sock_addr *ctx)
{
	return sock_addr_call(ctx, FR_DIR_OUT, false, true);
}

SEC("cgroup/sendmsg4")
int fr_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_addr_call(ctx, 0, true, false);
}

SEC("cgroup/sendmsg6")
int fr_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_addr_call(ctx, 0, true, true);
}

/* Attached with --policy only: bind rules. */
SEC("cgroup/post_bind4")
int fr_post_bind4(struct bpf_sock *sk)
{
	return policy_bind(sk, false) == FR_VERDICT_DENY ? DENY : ALLOW;
}

SEC("cgroup/post_bind6")
int fr_post_bind6(struct bpf_sock *sk)
{
	return policy_bind(sk, true) == FR_VERDICT_DENY ? DENY : ALLOW;
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

/* Socket calls (--socket-events). User space attaches fr_sys_enter to the sys_enter
 * tracepoint of socket, bind, connect, accept, accept4 and setsockopt, fr_sys_enter_listen
 * to listen's, and fr_sys_exit to the sys_exit tracepoint of all seven. The raw pair is the
 * fallback for kernels without those tracepoints. */
SEC("tracepoint/syscalls/sys_enter_socket")
int fr_sys_enter(struct fr_tp_sys_enter3 *ctx)
{
	sock_call_enter(ctx->nr, ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_listen")
int fr_sys_enter_listen(struct fr_tp_sys_enter2 *ctx)
{
	sock_call_enter(ctx->nr, ctx->args[0], ctx->args[1], 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_socket")
int fr_sys_exit(struct fr_tp_sys_exit *ctx)
{
	sock_call_exit(ctx->nr, ctx->ret);
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(fr_raw_sys_enter, struct pt_regs *regs, long nr)
{
	/* Every syscall of the host comes here: the number first, cheapest. */
	if (!is_sock_call(nr) || FR_COMPAT_SYSCALL((struct task_struct *)bpf_get_current_task(), regs))
		return 0;
	sock_call_enter(nr, PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs),
			PT_REGS_PARM3_CORE_SYSCALL(regs));
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(fr_raw_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);

	if (!is_sock_call(nr) || FR_COMPAT_SYSCALL((struct task_struct *)bpf_get_current_task(), regs))
		return 0;
	sock_call_exit(nr, ret);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fr_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	exec_seen(task, bprm);
	return 0;
}
