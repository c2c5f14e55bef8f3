/*
 * Structures shared by the BPF programs (bpf/ and its .bpf.c files) and the recorder in user space.
 *
 * Both sides compile this file: the BPF side against vmlinux.h, user space against
 * <linux/types.h>. Everything here is fixed-size and explicitly padded so the two compilers
 * agree on the layout.
 *
 * Ports are kept in host byte order; addresses as raw network-order bytes (an IPv4 address
 * sits in addr[0]). Times are CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns); user space adds
 * the realtime offset before anything reaches the database.
 */
#ifndef FLOWREC_H
#define FLOWREC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FR_COMM_LEN 16

/* Map sizes. A full map is counted (FR_STAT_*), never silent. */
#define FR_MAX_FLOWS   262144
#define FR_MAX_OWNERS  262144
#define FR_MAX_PENDING 16384
#define FR_MAX_RELEASED 16384 /* releases waiting for the sweep (their event was lost) */

enum fr_direction {
	FR_DIR_UNKNOWN = 0,
	FR_DIR_OUT = 1, /* this host's socket initiated: connect, or first packet sent */
	FR_DIR_IN = 2,  /* accepted, or first packet received */
};

/* Who a socket belongs to. Filled in process context (socket creation, connect, send,
 * accept) where the task is current, and looked up from softirq where it is not. */
struct fr_identity {
	__u64 cgroup_id;
	__u64 proc_start_ns; /* start of the thread-group leader: (pid, start) names a process */
	__u32 pid;           /* thread-group id, as seen from the initial pid namespace */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 netns; /* inode of the network namespace */
	__u32 _pad;
	char comm[FR_COMM_LEN];
};

/* fr_owner.flags */
#define FR_OWNER_UNCONNECTED 1 /* a UDP socket that sent or received without connect() */
#define FR_OWNER_KERN 2        /* an MPTCP subflow the kernel made: no task holds it */
#define FR_OWNER_PASSIVE 4     /* accepted: owned by the listener's owner until a task shows */

/* Value of the owners map, keyed by socket cookie. */
struct fr_owner {
	struct fr_identity id;
	__u8 dir_hint; /* enum fr_direction, or 0: take the first packet's direction */
	__u8 flags;
	__u8 peer_family; /* the connected socket's flow key, for its release: a failed */
	__u8 laddr_family; /* connect clears the socket's peer (tcp_disconnect) before that */
	__u16 peer_port;
	__u16 lport;
	__u32 peer_addr[4];
	/* For the socket_events 'close' row at release, whose hook cannot read the socket's
	 * local address: as the last socket call showed it (0 family: unknown or unbound). */
	__u32 laddr[4];
	__s32 fd; /* the descriptor socket() or accept() returned; -1: unknown */
	__u32 exe_dev; /* with --policy: the owning task's executable (kernel dev_t, inode), */
	__u64 exe_ino; /* for accept rules, whose packets come in no task's context */
};

/* How a program reads the current task's identity (bpf/common.bpf.h), chosen per program
 * type by what the running kernel allows there. */
enum fr_ident_mode {
	FR_IDENT_BTF = 0,   /* bpf_get_current_task_btf() and plain loads */
	FR_IDENT_PROBE = 1, /* bpf_get_current_task() and probe reads */
};
/* One flow: a socket and one remote endpoint. For TCP and connected UDP that is the socket;
 * an unconnected UDP socket has one flow per remote address and port. */
struct fr_flow_key {
	__u64 cookie;
	__u32 raddr[4];
	__u16 rport; /* ICMP: 0 */
	__u16 proto; /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 or _MPTCP (262) */
	__u8 family; /* 4 or 6 (0 in an MPTCP connection's key: see below) */
	__u8 _pad[3];
};

#define FR_IPPROTO_ICMP 1
#define FR_IPPROTO_ICMPV6 58
#define FR_IPPROTO_MPTCP 262

/* An MPTCP connection is a flow of its own, keyed by the MPTCP socket's cookie alone
 * (address and family zero: its subflows may use several), so that any subflow finds it
 * from the cookie it carries in parent_cookie. An accepted MPTCP socket has no cookie (the
 * kernel cloned it, and no BPF hook that could make one sees it): its connection token,
 * tagged with this bit, stands in. */
#define FR_MPTCP_TOKEN_COOKIE (1ULL << 63)

/* fr_flow.flags */
#define FR_FLOW_STATE_CB 1 /* sockops will report TCP_CLOSE: sock_release leaves it alone */
#define FR_FLOW_ENDED 2    /* closed, but the end event was lost: user space collects it */
#define FR_FLOW_WIRE_SEEN 4 /* wire_raddr comes from a packet this host sent */
#define FR_FLOW_DROP_IN 8   /* an accept rule denied this peer: its packets are dropped */

/* Value of the flows map. Counters are updated with atomic adds from every CPU. The owner
 * lives here too, not only in the owners map: a flow outlives its socket's release (TCP's
 * FIN exchange) and must still name its process if its open event was lost. */
struct fr_flow {
	struct fr_identity id;
	__u64 start_ns;
	__u64 last_ns;
	__u64 bytes_out;
	__u64 bytes_in;
	__u64 packets_out;
	__u64 packets_in;
	__u32 laddr[4];
	__u32 wire_raddr[4]; /* the remote as on the wire, after any NAT (the key has the asked one) */
	__u64 parent_cookie; /* an MPTCP subflow: its connection's key cookie; else 0 */
	__u32 subflows;      /* an MPTCP connection: subflows not yet ended */
	__u16 lport;         /* ICMP: the echo identifier of a ping socket, else 0 */
	__u16 wire_rport;
	__u8 direction;
	__u8 flags;
	__u8 family;         /* of laddr and wire_raddr: an MPTCP connection's key has none */
	__u8 verdict;        /* FR_VERDICT_*: a policy rule denied or audited it; 0: allowed */
	__u16 rule;          /* that rule: FR_POLICY_RULE_REF(generation, index); 0: none */
	__u8 policy_version; /* FR_FLOW_DROP_IN: the (low bits of the) version that denied it */
	__u8 _pad;
};

/* Packets of a TCP handshake seen on the listening socket, before the accepted socket
 * exists; moved into its flow when sockops reports the passive open. */
struct fr_pending_key {
	__u32 laddr[4];
	__u32 raddr[4];
	__u16 lport;
	__u16 rport;
	__u32 family;
	__u32 netns; /* the same 4-tuple may be in a handshake in two namespaces at once */
};

struct fr_pending {
	__u64 listener_cookie;
	__u64 start_ns;
	__u64 bytes_out;
	__u64 bytes_in;
	__u64 packets_out;
	__u64 packets_in;
	__u8 verdict;        /* an accept rule's audit of the SYN: the flow takes it */
	__u8 _pad;
	__u16 rule;
	__u32 _pad2;
};

enum fr_event_type {
	FR_EV_FLOW_OPEN = 1,    /* key, flow */
	FR_EV_FLOW_END = 2,     /* key, flow (final counters), ts = close time */
	FR_EV_OWNER = 3,        /* key, flow.id: the socket changed hands (accept) */
	FR_EV_SOCK_RELEASE = 4, /* key.cookie, ts: user space ends this socket's other flows */
	FR_EV_EXEC = 5,         /* struct fr_exec_event: a task of the subtree ran execve() */
	FR_EV_SOCKET = 6,       /* struct fr_sock_event: a socket call returned */
};

#define FR_EXEC_PATH_LEN 256
#define FR_EXEC_ARGS_LEN 512

/* Taken in the kernel at exec, so that a process that lives a few milliseconds still has
 * its exe and cmdline. type comes first, as in fr_event. */
struct fr_exec_event {
	__u32 type;
	__u32 pid;
	__u64 proc_start_ns;
	__u32 args_len; /* bytes of args: NUL-separated arguments */
	__u32 _pad;
	char exe[FR_EXEC_PATH_LEN]; /* the path given to execve */
	char args[FR_EXEC_ARGS_LEN];
};

/* The socket calls recorded in socket_events (fr_sock_event.call). */
enum fr_sock_call {
	FR_CALL_CREATE = 1, /* socket() */
	FR_CALL_BIND,
	FR_CALL_LISTEN,
	FR_CALL_CONNECT,
	FR_CALL_ACCEPT,     /* accept() and accept4() */
	FR_CALL_SETSOCKOPT,
	FR_CALL_CLOSE,
	FR_CALL_MAX,
};

/* One socket call of a recorded task on an IPv4 or IPv6 socket, taken at its return.
 * Address families are 4 or 6 as the address is written (an IPv4-mapped IPv6 address is
 * IPv4), 0 when there is no such address. type comes first, as in fr_event. */
struct fr_sock_event {
	__u32 type;         /* FR_EV_SOCKET */
	__u8 call;          /* enum fr_sock_call */
	__u8 family;        /* the socket's: 4 or 6 */
	__u8 laddr_family;
	__u8 raddr_family;
	__u64 ts_ns;
	__s64 ret;          /* the call's result: 0, a descriptor, or -errno */
	__u64 cookie;       /* accept: the new socket's; 0: none */
	struct fr_identity id;
	__s32 fd;           /* the descriptor given (accept: the listening one); -1 for create */
	__u16 sock_type;    /* SOCK_STREAM, ... without SOCK_NONBLOCK and SOCK_CLOEXEC */
	__u16 protocol;     /* the socket's sk_protocol (create: as asked, if it failed) */
	__s32 backlog;      /* listen */
	__s32 level;        /* setsockopt */
	__s32 optname;      /* setsockopt */
	__u16 lport;
	__u16 rport;
	__u32 laddr[4];     /* bind: the one asked for; else the socket's after the call */
	__u32 raddr[4];     /* connect: the one asked for; accept: the peer */
	/* The socket's connected peer after the call (close: before it), the remote of its
	 * flow key; peer_family 0: not connected. */
	__u32 peer_addr[4];
	__u16 peer_port;
	__u8 peer_family;
	__u8 kern;          /* create: the kernel made the socket (an MPTCP subflow) */
	__u32 _pad2;
};

/* The one record type of the events ring buffer. */
struct fr_event {
	__u32 type;
	__u32 _pad;
	__u64 ts_ns;
	struct fr_flow_key key;
	struct fr_flow flow;
};

/* Per-CPU counters of the stats array. Everything lost is counted here. */
enum fr_stat {
	FR_STAT_RINGBUF_FULL = 0, /* events dropped: ring buffer full */
	FR_STAT_FLOWS_FULL,       /* flows not tracked: flows map full */
	FR_STAT_OWNERS_FULL,      /* sockets not attributed: owners map full */
	FR_STAT_PENDING_FULL,     /* handshake packets not counted: pending map full */
	FR_STAT_UNOWNED_PACKETS,  /* packets of sockets with no known owner (closed, or unseen) */
	FR_STAT_CAPTURE_FULL,     /* packets not captured: the perf buffer was full */
	FR_STAT_SOCKEV_FULL,      /* socket events dropped: their ring buffer was full */
	FR_STAT_MAX,
};

/* Header of a captured packet in the packets perf buffer; the packet's first caplen bytes
 * (from the IP header) follow it in the same sample. */
struct fr_pkt_hdr {
	__u64 ts_ns;
	struct fr_flow_key key; /* cookie 0: a handshake packet on a listening socket */
	__u32 len;              /* IP packet length (a GSO packet: the whole super-packet) */
	__u32 caplen;
	__u8 direction;         /* FR_DIR_OUT or FR_DIR_IN */
	__u8 flags;             /* FR_PKT_* */
	__u8 _pad[2];
	__u32 netns;            /* cookie 0: the handshake's network namespace (0: unknown) */
};

#define FR_PKT_STORE 1 /* capture is on: store the first snaplen bytes */
#define FR_PKT_DNS 2   /* to or from a DNS port: the whole packet follows, for the parser */
#define FR_MAX_DNS_PORTS 8

/* A perf sample is at most 64 KiB with its headers. */
#define FR_MAX_CAPLEN (65535 - 64 - (int)sizeof(struct fr_pkt_hdr))

/* A socket found by the startup iterator (iter/task_file), written with bpf_seq_write. */
struct fr_iter_sock {
	__u64 cookie;
	__u64 task_cgroup_id;
	struct fr_identity id;
	__u32 laddr[4];
	__u32 raddr[4];
	__u16 lport;
	__u16 rport;
	__u16 proto;
	__u8 family;
	__u8 state; /* TCP state, 10 = LISTEN */
	__s32 fd;   /* the task's descriptor for it */
	__u32 _pad;
};

/*
 * Policy (--policy; lib/policy.c compiles a rule file into these maps, bpf/policy.bpf.h
 * evaluates them). Rules are numbered in file order and each match dimension maps its value
 * to the set of rules it admits, as a bitmap: the address (an LPM trie whose every prefix
 * holds the rules of all prefixes containing it), the port and protocol (an LPM trie over
 * disjoint port blocks), and the uid, comm, executable and cgroup (hash entries, each holding
 * the rules that name that value plus, except for cgroups, those that name none; the entry
 * with any = 1 holds the latter alone). The AND of the bitmaps is the set of rules that match; its lowest bit is
 * the first in the file, which decides. A thousand rules cost what ten do: a handful of
 * lookups and 16 words of AND.
 *
 * Every key starts with a generation (0 or 1): a new policy is written under the other one
 * and becomes active in one store to policy_state, so no program ever sees half a policy.
 */
#define FR_POLICY_MAX_RULES 1024
#define FR_POLICY_WORDS (FR_POLICY_MAX_RULES / 64)
#define FR_POLICY_RULE_REF(gen, idx) ((__u16)((((gen) & 1) << 15) | ((idx) + 1)))
#define FR_POLICY_REF_GEN(ref) (((ref) >> 15) & 1)
#define FR_POLICY_REF_INDEX(ref) (((ref) & 0x7fff) - 1)

enum fr_policy_what {
	FR_PW_CONNECT = 1, /* connect(), and sendto()/sendmsg() to an address */
	FR_PW_BIND = 2,    /* bind() of a local port */
	FR_PW_ACCEPT = 3,  /* a new inbound connection (SYN) or datagram */
};

enum fr_policy_action {
	FR_PA_ALLOW = 1,
	FR_PA_AUDIT = 2,
	FR_PA_DENY = 3,
};

/* fr_flow.verdict */
#define FR_VERDICT_AUDIT 1
#define FR_VERDICT_DENY 2

struct fr_policy_bits {
	__u64 w[FR_POLICY_WORDS];
};

/* policy_addr (LPM trie): prefixlen counts the 32 bits of gen..pad, then the address's.
 * connect rules match the remote address (dst), accept rules the source (src); a rule with
 * none is at prefix 0 of each family. */
struct fr_policy_addr_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 what;
	__u8 family; /* 4 or 6 */
	__u8 _pad;
	__u32 addr[4]; /* network order; IPv4 in addr[0] */
};

/* policy_port (LPM trie): prefixlen counts the 32 bits of gen..pad, then the port's (big
 * endian, so a block of 2^k ports is a prefix). The remote port for connect, the local one
 * for bind and accept. */
struct fr_policy_port_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 what;
	__u8 proto; /* 6 or 17 (MPTCP matches as 6) */
	__u8 _pad;
	__u8 port[2];
	__u8 _pad2[2];
};

enum fr_policy_dim {
	FR_PD_UID = 0,
	FR_PD_COMM,
	FR_PD_EXE,
	FR_PD_CGROUP,
	FR_PD_MAX,
};

/* policy_match (hash): one value of one dimension. any = 1: the rules that name no value
 * of it (v zero). uid: v[0]; comm: the 16 bytes in v; exe: v[0] = kernel dev_t, v[1] =
 * inode; cgroup: v[0] = cgroup id (an entry for the named cgroup holds its rules only: the
 * program ORs the entries of every ancestor of the task's cgroup). */
struct fr_policy_match_key {
	__u8 gen;
	__u8 dim; /* enum fr_policy_dim */
	__u8 any;
	__u8 _pad[5];
	__u64 v[2];
};

/* policy_state[1 + gen]: what generation gen's policy needs; policy_state[0].gen: which
 * generation is in force. A program reads that one word, then everything else from the
 * generation's own entry, which user space writes before it switches the word: no decision
 * mixes two policies. */
struct fr_policy_state {
	__u32 gen;
	__u32 whats;   /* bit 1 << FR_PW_*: some rule has that what */
	__u32 dims;    /* bit 1 << FR_PD_*: some rule matches on that dimension */
	__u32 nrules;
	__u32 version; /* the run's version of this policy (1, 2, ...): a denial made under
			* another one is decided again */
	__u32 _pad;
};

/* policy_rules[gen * FR_POLICY_MAX_RULES + index] */
struct fr_policy_rule_action {
	__u8 action; /* enum fr_policy_action */
	__u8 _pad[3];
};

/* Map sizes: two generations of up to FR_POLICY_MAX_RULES rules each. */
#define FR_POLICY_MAX_ADDR 16384
#define FR_POLICY_MAX_PORT 65536
#define FR_POLICY_MAX_MATCH 16384

/* The deepest cgroup level a cgroup rule's ancestor walk looks at. */
#define FR_POLICY_CGROUP_DEPTH 16

#endif /* FLOWREC_H */
