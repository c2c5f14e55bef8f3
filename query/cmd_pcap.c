/*
 * flowq pcap: export recorded packets to a pcap or pcapng file.
 *
 * How an export runs
 * ------------------
 * 1. The command line is checked completely first: times, the output format, and the packet
 *    filter (--host, --port and --filter, compiled by libpcap for LINKTYPE_RAW). A mistake
 *    there is exit 2 before anything is read or written.
 * 2. A flow restriction (--flow, --pid, --comm, --netns, --container, --name, --exe) becomes a sorted set of flow ids,
 *    read from `flows`, plus the addresses of its TCP flows: handshake packets seen on a
 *    listening socket before their flow existed carry "flow=0" in their comment and are
 *    matched to a flow by addresses, ports and time (handshake_flow below).
 * 3. The chunks to read come from the index: a chunk never spans more than
 *    FR_CHUNK_MAX_SPAN_NS, so those of a window are found through the index on first_ns alone.
 *    With a flow restriction, only chunks that hold packets of those flows (or flow 0) are
 *    read.
 * 4. Each chunk's byte range is read from its segment file under DATA/ and parsed block by
 *    block; the packets kept are copied into one arena, so memory follows what is exported,
 *    not what is read.
 * 5. Packets are sorted by timestamp (stable: ties keep the order of the files) and written
 *    to a temporary beside FILE, which is renamed to FILE once complete and synced: a failed
 *    or interrupted export leaves no partial FILE behind (lib/outfile.c; a FILE that is not
 *    a regular file, /dev/null or a FIFO, is written in place).
 *
 * flowq never writes to the database, not even a TEMP table (query_only forbids it), so flow
 * ids reach SQL as one bound parameter each.
 */
#include "query.h"
#include "pcapng.h"
#include "ippkt.h"
#include "outfile.h"
#include "textsafe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A handshake packet ("flow=0") belongs to a flow when its addresses match and it was seen
 * within this window around the flow's start. */
#define HANDSHAKE_BEFORE_NS 5000000000LL
#define HANDSHAKE_AFTER_NS 1000000000LL

/* Flows whose lifetime is further than this from the window are not selected: generous, as
 * a flow's start and end are not exactly its first and last packet. */
#define FLOW_WINDOW_MARGIN_NS 10000000000LL

/* At most this many flow ids go into the chunk query as bound parameters (SQLite's limit is
 * 32766 by default). Beyond that, chunks are chosen by time only; packets are still filtered
 * by flow one by one, so the result is the same, only more is read. */
#define MAX_CHUNK_FLOW_PARAMS 30000

/* Classic pcap cannot say "unlimited", and libpcap refuses larger snaplens. */
#define PCAP_SNAPLEN 262144u

/* Exports reading more than this show progress on a terminal. */
#define PROGRESS_MIN_BYTES (50LL * 1000 * 1000)

#define OUT_BUF_SIZE (1u << 20)

enum pcap_out_format { OUT_PCAP, OUT_PCAPNG };

struct pcap_args {
	struct flowq_globals *globals;
	const char *out; /* -w; "-" is standard output */
	/* Times stay text until all options are read: --utc may come after them. */
	const char *since_arg, *until_arg;
	struct flowq_filter_value since, until;
	/* Which flows: --flow ids in the order given; --pid, --comm, --netns, --container, --name, --exe. */
	int64_t *flows;
	size_t nflows, capflows;
	struct flowq_filter_value pid, comm, netns, container, name, exe;
	char container_text[65];
	/* The packet filter. */
	char host_text[INET6_ADDRSTRLEN]; /* --host, as inet_ntop spells it */
	struct flowq_filter_value host, port;
	const char *filter;
};

enum {
	OPT_SINCE = 0x200,
	OPT_UNTIL,
	OPT_FLOW,
	OPT_PID,
	OPT_COMM,
	OPT_NETNS,
	OPT_HOST,
	OPT_PORT,
	OPT_FILTER,
	OPT_CONTAINER,
	OPT_NAME,
	OPT_EXE,
};

static const struct argp_option pcap_options[] = {
	{ NULL, 0, NULL, 0, "Output:", 1 },
	{ "write", 'w', "FILE", 0,
	  "Write the packets to FILE (required): FILE.pcap is classic pcap, FILE.pcapng is pcapng; "
	  "'-' is standard output (pcapng unless --format says otherwise)", 0 },
	/* The global --format, which takes pcap and pcapng for this command (query/globals.c):
	 * listed here too, as it means something else than for the other commands. */
	{ "--format pcap|pcapng", 0, NULL, OPTION_DOC | OPTION_NO_USAGE,
	  "Output format, whatever FILE's name is; before or after the word pcap. table, csv, "
	  "json and jsonl are refused", 0 },
	{ NULL, 0, NULL, 0, "Which packets (all given must hold):", 2 },
	{ "since", OPT_SINCE, "T", 0, "Only packets captured at or after T", 0 },
	{ "until", OPT_UNTIL, "T", 0, "Only packets captured at or before T", 0 },
	{ "flow", OPT_FLOW, "ID", 0,
	  "Only packets of flow ID (flows.id, as flowq flows prints it); may be repeated", 0 },
	{ "pid", OPT_PID, "N", 0, "Only packets of flows owned by process N (0: owner unknown)", 0 },
	{ "comm", OPT_COMM, "NAME", 0, "Only packets of flows whose owning task is named exactly NAME",
	  0 },
	{ "netns", OPT_NETNS, "INODE", 0,
	  "Only packets of flows in this network namespace (a number, or net:[N] as readlink "
	  "/proc/PID/ns/net prints it)", 0 },
	{ "container", OPT_CONTAINER, "ID", 0,
	  "Only packets of flows whose owning process ran in container ID (processes.container, "
	  "or a prefix of it such as Docker's short id)", 0 },
	{ "name", OPT_NAME, "GLOB", 0,
	  "Only packets of flows whose remote address came from a DNS answer for a name matching "
	  "GLOB (flows.rname; ignoring case): everything that talked to *.example.com", 0 },
	{ "exe", OPT_EXE, "PATH", 0,
	  "Only packets of flows whose owning process ran the executable PATH (processes.exe)", 0 },
	{ "host", OPT_HOST, "ADDR", 0,
	  "Only packets from or to ADDR (IPv4 or IPv6): the packet filter 'host ADDR'", 0 },
	{ "port", OPT_PORT, "N", 0, "Only packets from or to port N: the packet filter 'port N'", 0 },
	{ "filter", OPT_FILTER, "EXPR", 0,
	  "Only packets matching the tcpdump/libpcap filter expression EXPR (pcap-filter(7)), "
	  "e.g. 'tcp[tcpflags] & tcp-syn != 0'", 0 },
	{ 0 }
};

static const char pcap_doc[] =
	"Export recorded packets to a capture file that tcpdump, tshark and Wireshark read. "
	"Packets are written in timestamp order."
	"\v"
	"Time bounds are inclusive: a packet is exported when since <= its timestamp <= until; "
	"either bound may be left out.\n"
	"\n"
	"--flow, --pid, --comm, --netns, --container, --name and --exe choose flows (from the "
	"flows table): when several are given, a flow must match all of them (the --flow ids that "
	"also match the others). Only the packets of the chosen flows are exported, including the TCP handshake "
	"packets seen on a listening socket before the accepted connection's flow existed (their "
	"comment says flow=0, after netns=N where the kernel told the handshake's namespace): "
	"those are matched to a flow by addresses, ports and namespace, within 5 s "
	"before to 1 s after the flow's start. Without any of these options every packet in the "
	"time window is exported, flow=0 ones included. A --flow id not (yet) in the flows table "
	"still selects the packets tagged with it, unless one of the others is also given.\n"
	"\n"
	"--host, --port and --filter are packet filters, compiled by libpcap for raw IP packets "
	"(LINKTYPE_RAW) and combined with AND: 'host ADDR and port N and (EXPR)'. A filter that "
	"does not compile is a usage error (exit 2) and nothing is written. Packets are kept at "
	"the recorder's --snaplen, so a filter on bytes past it does not match.\n"
	"\n"
	"Output: FILE.pcap is classic pcap (nanosecond timestamps, LINKTYPE_RAW, snaplen 262144; "
	"no comments). FILE.pcapng is pcapng keeping each packet's comment "
	"(\"pid=P tid=T comm=C flow=ID\", or \"netns=N flow=0\"), direction flags (1 inbound, 2 outbound) "
	"and process/thread ids. Another name needs --format pcap|pcapng. The file is first "
	"written to a temporary beside it (mode 0600) and renamed to FILE when complete, so a "
	"failed export leaves no partial FILE; a FILE that exists and is not a regular file "
	"(/dev/null, a FIFO) is written in place. '-w -' writes to standard output, which must not be a terminal. No packet "
	"matching is not an error: the file is a valid, empty capture. A summary line "
	"\"flowq: N packets written to FILE\" goes to stderr (not for standard output); a "
	"progress line too when stderr is a terminal and more than 50 MB are read.\n"
	"\n"
	"Segment files removed by retention (--max-disk) while the export runs are skipped with a "
	"warning. The packets of the last second or so of a running recorder are not in the index "
	"yet and are not exported.\n"
	"\n"
	"Times (T): RFC 3339, 'YYYY-MM-DD HH:MM[:SS[.frac]]' (local time, or UTC with --utc), "
	"@EPOCH seconds, or a duration back from now (30s, 15m, 2h, 1h30m, 3d).\n"
	"\n"
	"Exit status: 0 success (also when no packet matched); 1 failure (database, reading a "
	"segment, writing FILE); 2 bad command line.";

/* ---- command line ------------------------------------------------------------------------ */

static void add_flow(struct pcap_args *args, const char *arg)
{
	uint64_t v;

	if (flowq_parse_unsigned(arg, INT64_MAX, &v) || v == 0)
		flowq_usage_error("invalid --flow '%s': expected a flow id (1 or more)", arg);
	if (args->nflows == args->capflows) {
		size_t cap = args->capflows ? args->capflows * 2 : 16;
		int64_t *n = realloc(args->flows, cap * sizeof(*n));

		if (!n)
			flowq_usage_error("out of memory");
		args->flows = n;
		args->capflows = cap;
	}
	args->flows[args->nflows++] = (int64_t)v;
}

static error_t parse_pcap_option(int key, char *arg, struct argp_state *state)
{
	struct pcap_args *args = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq pcap", args->globals);
		args->globals->capture_command = 1;
		break;
	case 'w':
		if (!*arg)
			flowq_usage_error("-w needs a file name ('-' for standard output)");
		args->out = arg;
		break;
	case OPT_SINCE:
		args->since_arg = arg;
		break;
	case OPT_UNTIL:
		args->until_arg = arg;
		break;
	case OPT_FLOW:
		add_flow(args, arg);
		break;
	case OPT_PID:
		args->pid = flowq_filter_pid(arg);
		break;
	case OPT_COMM:
		args->comm = flowq_filter_text(arg);
		break;
	case OPT_NETNS:
		args->netns = flowq_filter_netns(arg);
		break;
	case OPT_CONTAINER:
		args->container = flowq_filter_container(arg, args->container_text);
		break;
	case OPT_NAME:
		args->name = flowq_filter_name(arg);
		break;
	case OPT_EXE:
		args->exe = flowq_filter_exe(arg);
		break;
	case OPT_HOST:
		args->host = flowq_filter_host(arg, args->host_text);
		break;
	case OPT_PORT:
		args->port = flowq_filter_port(arg);
		break;
	case OPT_FILTER:
		args->filter = arg;
		break;
	case ARGP_KEY_ARG:
		flowq_usage_error("pcap takes options only, no arguments ('%s' given; a filter "
				  "expression goes in --filter)", arg);
	case ARGP_KEY_END:
		if (!args->out)
			flowq_usage_error("pcap needs -w FILE (FILE.pcap, FILE.pcapng, or - for "
					  "standard output)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp pcap_argp = {
	.options = pcap_options,
	.parser = parse_pcap_option,
	.args_doc = "-w FILE",
	.doc = pcap_doc,
	.children = flowq_command_children,
};

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* --format (the global option: query/globals.c has checked that it is pcap or pcapng),
 * else FILE's name. */
static enum pcap_out_format output_format(const struct pcap_args *args)
{
	switch (args->globals->capture_format) {
	case FLOWQ_CAPTURE_PCAP:
		return OUT_PCAP;
	case FLOWQ_CAPTURE_PCAPNG:
		return OUT_PCAPNG;
	case FLOWQ_CAPTURE_NONE:
		break;
	}
	if (strcmp(args->out, "-") == 0)
		return OUT_PCAPNG;
	if (ends_with(args->out, ".pcapng"))
		return OUT_PCAPNG;
	if (ends_with(args->out, ".pcap"))
		return OUT_PCAP;
	flowq_usage_error("cannot tell the format of '%s': name it .pcap or .pcapng, or give "
			  "--format pcap|pcapng", args->out);
}

/* Compile expr for raw IP packets; a bad one is a usage error naming what (the user's
 * --filter, or the filter made of --host and --port). */
static void compile_or_exit(const char *expr, const char *what, const char *shown, struct bpf_program *prog)
{
	pcap_t *p = pcap_open_dead(DLT_RAW, PCAP_SNAPLEN);
	char msg[1024];

	if (!p)
		flowq_usage_error("cannot set up the packet filter compiler (libpcap)");
	if (pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0) {
		pcap_close(p);
		return;
	}
	snprintf(msg, sizeof(msg), "invalid %s '%s': %s", what, shown, pcap_geterr(p));
	pcap_close(p); /* freed before exiting, so that leak checkers stay quiet */
	flowq_usage_error("%s", msg);
}

/* "host ADDR and port N and (EXPR)", compiled; a bad expression is a usage error. Returns 1
 * when there is a filter (in *prog), 0 when every packet passes. The user's EXPR is first
 * compiled alone: one that is not a whole expression ('udp) or (udp') would otherwise
 * reach outside its parentheses and undo the AND with --host and --port. */
static int compile_filter(const struct pcap_args *args, struct bpf_program *prog)
{
	sqlite3_str *text = sqlite3_str_new(NULL);
	const char *sep = "";
	char *expr;
	int have = 0;

	if (args->host.given) {
		sqlite3_str_appendf(text, "host %s", args->host.text);
		sep = " and ";
		have = 1;
	}
	if (args->port.given) {
		sqlite3_str_appendf(text, "%sport %lld", sep, (long long)args->port.number);
		sep = " and ";
		have = 1;
	}
	/* An empty or blank --filter is no filter, as for tcpdump; "()" would not compile. */
	if (args->filter && args->filter[strspn(args->filter, " \t\r\n")]) {
		compile_or_exit(args->filter, "--filter", args->filter, prog);
		if (!have) {
			sqlite3_free(sqlite3_str_finish(text));
			return 1;
		}
		pcap_freecode(prog);
		sqlite3_str_appendf(text, "%s(%s)", sep, args->filter);
		have = 1;
	}
	if (!have) {
		sqlite3_free(sqlite3_str_finish(text));
		return 0;
	}
	expr = sqlite3_str_finish(text);
	if (!expr)
		flowq_usage_error("out of memory");
	compile_or_exit(expr, "packet filter", expr, prog);
	sqlite3_free(expr);
	return 1;
}

/* ---- the chosen flows ---------------------------------------------------------------------- */

/* A flow's TCP endpoints, for matching its handshake packets. IPv4 (and IPv4-mapped IPv6)
 * addresses are kept as 4 bytes, family 4. */
struct endpoints {
	uint8_t family;
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
};

struct hs_flow {
	struct endpoints ep;
	int64_t start_ns;
	int64_t id;
	uint32_t netns;
};

struct flow_set {
	int active;        /* a flow restriction was given */
	int64_t *ids;      /* sorted, unique */
	size_t nids, capids;
	struct hs_flow *hs; /* TCP flows with known addresses, sorted by endpoints */
	size_t nhs, caphs;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_endpoints(const struct endpoints *a, const struct endpoints *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->lport != b->lport)
		return a->lport < b->lport ? -1 : 1;
	if (a->rport != b->rport)
		return a->rport < b->rport ? -1 : 1;
	c = memcmp(a->laddr, b->laddr, sizeof(a->laddr));
	if (c)
		return c;
	return memcmp(a->raddr, b->raddr, sizeof(a->raddr));
}

static int cmp_hs(const void *a, const void *b)
{
	return cmp_endpoints(&((const struct hs_flow *)a)->ep, &((const struct hs_flow *)b)->ep);
}

/* Text address from the database into the endpoint form; -1 if it does not parse. */
static int parse_addr(const char *text, uint8_t *family, uint8_t out[16])
{
	struct in6_addr a6;

	memset(out, 0, 16);
	if (!text)
		return -1;
	if (inet_pton(AF_INET, text, out) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		/* A dual-stack socket's IPv4 peer: on the wire the packet is IPv4. */
		*family = 4;
		memcpy(out, a6.s6_addr + 12, 4);
	} else {
		*family = 6;
		memcpy(out, a6.s6_addr, 16);
	}
	return 0;
}

static int set_add_id(struct flow_set *set, int64_t id)
{
	if (set->nids == set->capids) {
		size_t cap = set->capids ? set->capids * 2 : 64;
		int64_t *n = realloc(set->ids, cap * sizeof(*n));

		if (!n)
			return -1;
		set->ids = n;
		set->capids = cap;
	}
	set->ids[set->nids++] = id;
	return 0;
}

/* Columns: id, start_ns, proto, laddr, lport, raddr, rport, netns. */
static int set_add_row(struct flow_set *set, sqlite3_stmt *st)
{
	struct hs_flow f = { .id = sqlite3_column_int64(st, 0), .start_ns = sqlite3_column_int64(st, 1) };
	const char *proto = (const char *)sqlite3_column_text(st, 2);
	uint8_t rfamily;

	if (set_add_id(set, f.id))
		return -1;
	if (!proto || strcmp(proto, "tcp") != 0)
		return 0;
	if (parse_addr((const char *)sqlite3_column_text(st, 3), &f.ep.family, f.ep.laddr) ||
	    parse_addr((const char *)sqlite3_column_text(st, 5), &rfamily, f.ep.raddr) ||
	    rfamily != f.ep.family)
		return 0;
	f.ep.lport = (uint16_t)sqlite3_column_int(st, 4);
	f.ep.rport = (uint16_t)sqlite3_column_int(st, 6);
	f.netns = (uint32_t)sqlite3_column_int64(st, 7);
	if (set->nhs == set->caphs) {
		size_t cap = set->caphs ? set->caphs * 2 : 64;
		struct hs_flow *n = realloc(set->hs, cap * sizeof(*n));

		if (!n)
			return -1;
		set->hs = n;
		set->caphs = cap;
	}
	set->hs[set->nhs++] = f;
	return 0;
}

static int bind_named(sqlite3_stmt *st, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	return i == 0 || sqlite3_bind_int64(st, i, v) == SQLITE_OK ? 0 : -1;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* The flows the options choose, as conditions on the flows table. */
enum flow_filter_id {
	FLOW_ID,
	FLOW_PID,
	FLOW_COMM,
	FLOW_NETNS,
	FLOW_CONTAINER,
	FLOW_NAME,
	FLOW_EXE,
	FLOW_STARTED_BY,
	FLOW_OPEN_FROM,
	FLOW_FILTER_COUNT
};

static const struct flowq_filter flow_filters[FLOW_FILTER_COUNT] = {
	[FLOW_ID] = { "id = :id", ":id" },
	[FLOW_PID] = { "pid = :pid", ":pid" },
	[FLOW_COMM] = { "comm = :comm", ":comm" },
	[FLOW_NETNS] = { "netns = :netns", ":netns" },
	[FLOW_CONTAINER] = { FLOWQ_FLOW_CONTAINER_COND, ":container" },
	[FLOW_NAME] = { FLOWQ_FLOW_NAME_COND, ":name" },
	[FLOW_EXE] = { FLOWQ_FLOW_EXE_COND, ":exe" },
	/* The window widened by FLOW_WINDOW_MARGIN_NS. */
	[FLOW_STARTED_BY] = { "start_ns <= :until_hi", ":until_hi" },
	[FLOW_OPEN_FROM] = { "(end_ns IS NULL OR end_ns >= :since_lo)", ":since_lo" },
};

static const struct flowq_filter_query flow_query = {
	.select = "SELECT id, start_ns, proto, laddr, lport, raddr, rport, netns FROM flows",
	.filters = flow_filters,
	.count = FLOW_FILTER_COUNT,
	.order = "",
};

/* Reads the chosen flows. Returns 0, or -1 after printing the reason. */
static int select_flows(sqlite3 *db, const struct pcap_args *args, struct flow_set *set)
{
	struct flowq_filter_value values[FLOW_FILTER_COUNT] = {
		[FLOW_PID] = args->pid,
		[FLOW_COMM] = args->comm,
		[FLOW_NETNS] = args->netns,
		[FLOW_CONTAINER] = args->container,
		[FLOW_NAME] = args->name,
		[FLOW_EXE] = args->exe,
	};
	int by_row = args->pid.given || args->comm.given || args->netns.given || args->container.given ||
		     args->name.given || args->exe.given;
	sqlite3_stmt *st = NULL;
	char *sql;
	int ret = -1, rc;

	set->active = args->nflows || by_row;
	if (!set->active)
		return 0;
	if (args->nflows) {
		/* The first id; the lookups below bind each in turn. */
		values[FLOW_ID] = flowq_filter_number(args->flows[0]);
	} else {
		/* Every flow a process ever had may be many; only those that can have packets in
		 * the window matter. */
		if (args->until.given)
			values[FLOW_STARTED_BY] =
				flowq_filter_number(sat_add(args->until.number, FLOW_WINDOW_MARGIN_NS));
		if (args->since.given)
			values[FLOW_OPEN_FROM] =
				flowq_filter_number(sat_add(args->since.number, -FLOW_WINDOW_MARGIN_NS));
	}
	sql = flowq_filter_sql(&flow_query, values);
	if (!sql) {
		fprintf(stderr, "flowq: out of memory\n");
		return -1;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    flowq_filter_bind(st, &flow_query, values))
		goto sql_error;

	if (args->nflows) {
		/* One primary-key lookup per id: no limit on how many, nothing written. */
		int id_index = sqlite3_bind_parameter_index(st, ":id");

		for (size_t i = 0; i < args->nflows; i++) {
			sqlite3_reset(st);
			if (sqlite3_bind_int64(st, id_index, args->flows[i]) != SQLITE_OK)
				goto sql_error;
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW) {
				if (set_add_row(set, st))
					goto oom;
			} else if (rc != SQLITE_DONE) {
				goto sql_error;
			} else if (!by_row) {
				/* Not in flows (yet: a running recorder writes a flow's row at its
				 * first flush); its packets are tagged with the id all the same. */
				if (set_add_id(set, args->flows[i]))
					goto oom;
			}
		}
	} else {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (set_add_row(set, st))
				goto oom;
		}
		if (rc != SQLITE_DONE)
			goto sql_error;
	}

	if (set->nids)
		qsort(set->ids, set->nids, sizeof(*set->ids), cmp_i64);
	{
		size_t n = 0;

		for (size_t i = 0; i < set->nids; i++) {
			if (n == 0 || set->ids[i] != set->ids[n - 1])
				set->ids[n++] = set->ids[i];
		}
		set->nids = n;
	}
	/* Repeated --flow ids add their row more than once: harmless for the lookup. */
	if (set->nhs)
		qsort(set->hs, set->nhs, sizeof(*set->hs), cmp_hs);
	ret = 0;
	goto cleanup;
sql_error:
	fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
	goto cleanup;
oom:
	fprintf(stderr, "flowq: out of memory\n");
cleanup:
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return ret;
}

static int set_has_id(const struct flow_set *set, int64_t id)
{
	return set->nids && bsearch(&id, set->ids, set->nids, sizeof(*set->ids), cmp_i64) != NULL;
}

/* netns: the packet's network namespace from its comment, 0 when the recorder did not know
 * it (then the addresses, ports and time alone decide). */
static int hs_match_one(const struct flow_set *set, const struct endpoints *key, int64_t ts,
			uint32_t netns)
{
	size_t lo = 0, hi = set->nhs;

	/* First entry not less than key; a reused port pair may have several flows. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_endpoints(&set->hs[mid].ep, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < set->nhs && cmp_endpoints(&set->hs[lo].ep, key) == 0; lo++) {
		int64_t start = set->hs[lo].start_ns;

		if (netns && set->hs[lo].netns && netns != set->hs[lo].netns)
			continue;
		if (ts >= sat_add(start, -HANDSHAKE_BEFORE_NS) && ts <= sat_add(start, HANDSHAKE_AFTER_NS))
			return 1;
	}
	return 0;
}

/* Whether a "flow=0" packet is a handshake packet of one of the chosen flows: inbound, its
 * source is the flow's remote end and its destination the local one; outbound the reverse. */
static int handshake_flow(const struct flow_set *set, const struct fr_pcap_packet *p)
{
	struct endpoints key;
	struct fr_ippkt ip;
	uint32_t dir, netns = 0;
	size_t alen;

	if (!set->nhs || fr_ippkt_parse(p->data, p->caplen, p->origlen, &ip) || ip.proto != IPPROTO_TCP)
		return 0;
	/* "netns=N flow=0": the recorder writes it, first, for a handshake packet it knew it of */
	if (p->comment && p->comment_len > 6 && !memcmp(p->comment, "netns=", 6))
		for (size_t i = 6; i < p->comment_len && p->comment[i] >= '0' && p->comment[i] <= '9'; i++)
			netns = netns * 10 + (uint32_t)(p->comment[i] - '0'); /* wraps: no match then */
	key.family = (uint8_t)ip.family;
	alen = key.family == 4 ? 4 : 16;
	memset(key.laddr, 0, sizeof(key.laddr));
	memset(key.raddr, 0, sizeof(key.raddr));
	/* epb_flags bits 0-1: direction (0 unknown: try both ways). */
	dir = p->flags & 3u;
	if (dir != FR_EPB_OUTBOUND) {
		memcpy(key.raddr, ip.src, alen);
		key.rport = ip.sport;
		memcpy(key.laddr, ip.dst, alen);
		key.lport = ip.dport;
		if (hs_match_one(set, &key, p->ts_ns, netns))
			return 1;
	}
	if (dir != FR_EPB_INBOUND) {
		memcpy(key.laddr, ip.src, alen);
		key.lport = ip.sport;
		memcpy(key.raddr, ip.dst, alen);
		key.rport = ip.dport;
		if (hs_match_one(set, &key, p->ts_ns, netns))
			return 1;
	}
	return 0;
}

/* ---- the chunks to read ------------------------------------------------------------------- */

struct chunk {
	size_t segment; /* index into chunk_list.paths */
	int64_t offset, length;
	int64_t first_ns;
	int64_t later_min; /* the earliest first_ns of the chunks after this one: no packet read
			    * later is older, so every packet before it can be written */
};

struct chunk_list {
	struct chunk *chunks;
	size_t n, cap;
	char **paths; /* one per segment, in reading order */
	size_t npaths, cappaths;
	int64_t total_bytes;
};

static void chunk_list_free(struct chunk_list *l)
{
	for (size_t i = 0; i < l->npaths; i++)
		free(l->paths[i]);
	free(l->paths);
	free(l->chunks);
}

static int chunk_list_add(struct chunk_list *l, int64_t segment_id, int64_t *last_segment_id,
			  const char *path, int64_t offset, int64_t length, int64_t first_ns)
{
	if (l->npaths == 0 || segment_id != *last_segment_id) {
		if (l->npaths == l->cappaths) {
			size_t cap = l->cappaths ? l->cappaths * 2 : 16;
			char **n = realloc(l->paths, cap * sizeof(*n));

			if (!n)
				return -1;
			l->paths = n;
			l->cappaths = cap;
		}
		l->paths[l->npaths] = strdup(path);
		if (!l->paths[l->npaths])
			return -1;
		l->npaths++;
		*last_segment_id = segment_id;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct chunk *n = realloc(l->chunks, cap * sizeof(*n));

		if (!n)
			return -1;
		l->chunks = n;
		l->cap = cap;
	}
	l->chunks[l->n++] = (struct chunk){ l->npaths - 1, offset, length, first_ns, INT64_MAX };
	l->total_bytes += length;
	return 0;
}

/* The chunks of the window (and of the chosen flows), by segment and offset, so that each
 * file is opened once and read forwards. Returns 0, or -1 after printing the reason. */
static int select_chunks(sqlite3 *db, const struct pcap_args *args, const struct flow_set *set,
			 struct chunk_list *out)
{
	sqlite3_str *text = sqlite3_str_new(db);
	sqlite3_stmt *st = NULL;
	int limit = sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1) - 8;
	size_t max_params = limit > 0 && limit < MAX_CHUNK_FLOW_PARAMS ? (size_t)limit : MAX_CHUNK_FLOW_PARAMS;
	int by_flow = set->active && set->nids <= max_params;
	int64_t last_segment = 0;
	size_t next_id = 0;
	char *sql;
	int ret = -1, rc;

	sqlite3_str_appendall(text,
			      "SELECT c.segment_id, s.path, c.offset, c.length, c.first_ns FROM pcap_chunks c"
			      " JOIN pcap_segments s ON s.id = c.segment_id WHERE s.deleted_ns IS NULL");
	/* A chunk spans at most FR_CHUNK_MAX_SPAN_NS: its first_ns bounds it on both sides, which
	 * the index on first_ns serves. */
	if (args->since.given)
		sqlite3_str_appendall(text, " AND c.first_ns >= :since_lo AND c.last_ns >= :since");
	if (args->until.given)
		sqlite3_str_appendall(text, " AND c.first_ns <= :until");
	if (by_flow) {
		/* Flow 0: handshake packets, which may belong to the chosen flows. Beyond
		 * max_params ids, chunks are chosen by time only (see MAX_CHUNK_FLOW_PARAMS).
		 *
		 * Which side drives the query matters, and SQLite has no statistics to choose
		 * (flowq cannot ANALYZE). Flow 0 may be in nearly every chunk ever written, so
		 * with --since the time index drives and each chunk's own flow rows are checked
		 * (the '+' keeps SQLite from probing the index once per id per chunk: 15 s
		 * instead of 0.07 s for 30000 ids over 3600 chunks). Without --since the window
		 * reaches back to the first chunk, and the flows' rows drive instead. */
		if (args->since.given)
			sqlite3_str_appendall(text, " AND EXISTS (SELECT 1 FROM pcap_chunk_flows f"
						    " WHERE f.chunk_id = c.id AND +f.flow_id IN (0");
		else
			sqlite3_str_appendall(text, " AND c.id IN (SELECT chunk_id FROM pcap_chunk_flows"
						    " WHERE flow_id IN (0");
		for (size_t i = 0; i < set->nids; i++)
			sqlite3_str_appendall(text, ",?");
		sqlite3_str_appendall(text, "))");
	}
	sqlite3_str_appendall(text, " ORDER BY c.segment_id, c.offset");
	sql = sqlite3_str_finish(text);
	if (!sql) {
		fprintf(stderr, "flowq: out of memory\n");
		return -1;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    bind_named(st, ":since_lo", sat_add(args->since.number, -FR_CHUNK_MAX_SPAN_NS)) ||
	    bind_named(st, ":since", args->since.number) || bind_named(st, ":until", args->until.number))
		goto sql_error;
	/* The anonymous parameters are the flow ids, in order. */
	for (int i = 1; i <= sqlite3_bind_parameter_count(st); i++) {
		if (sqlite3_bind_parameter_name(st, i))
			continue;
		if (next_id >= set->nids || sqlite3_bind_int64(st, i, set->ids[next_id++]) != SQLITE_OK)
			goto sql_error;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(st, 1);

		if (chunk_list_add(out, sqlite3_column_int64(st, 0), &last_segment, path ? path : "",
				   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
				   sqlite3_column_int64(st, 4))) {
			fprintf(stderr, "flowq: out of memory\n");
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE)
		goto sql_error;
	for (size_t i = out->n; i-- > 1;) {
		int64_t f = out->chunks[i].first_ns, later = out->chunks[i].later_min;

		out->chunks[i - 1].later_min = f < later ? f : later;
	}
	ret = 0;
	goto cleanup;
sql_error:
	fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
cleanup:
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return ret;
}

/* ---- reading and keeping packets ------------------------------------------------------- */

struct kept {
	int64_t ts_ns;
	size_t seq;   /* reading order: ties in ts keep it */
	size_t off;   /* data in the arena, then the comment */
	uint32_t caplen, origlen, flags, pid, tid;
	uint16_t comment_len;
};

/* The packets read and not yet written: sorted and written out up to the time no later
 * chunk can go below (chunk.later_min), after every chunk. Memory holds what overlaps in
 * time, not the export. */
struct packets {
	struct kept *v;
	size_t n, cap;
	uint8_t *arena;
	size_t used, size;
	size_t next_seq, written;
};

static int keep_packet(struct packets *ps, const struct fr_pcap_packet *p)
{
	size_t need = (size_t)p->caplen + p->comment_len;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 1024;
		struct kept *n = realloc(ps->v, cap * sizeof(*n));

		if (!n)
			return -1;
		ps->v = n;
		ps->cap = cap;
	}
	if (ps->size - ps->used < need) {
		size_t size = ps->size ? ps->size : 1 << 20;
		uint8_t *n;

		while (size - ps->used < need) {
			if (size > SIZE_MAX / 2)
				return -1;
			size *= 2;
		}
		n = realloc(ps->arena, size);
		if (!n)
			return -1;
		ps->arena = n;
		ps->size = size;
	}
	ps->v[ps->n] = (struct kept){ .ts_ns = p->ts_ns, .seq = ps->next_seq++, .off = ps->used,
				      .caplen = p->caplen, .origlen = p->origlen, .flags = p->flags,
				      .pid = p->pid, .tid = p->tid,
				      .comment_len = p->comment ? p->comment_len : 0 };
	if (p->caplen)
		memcpy(ps->arena + ps->used, p->data, p->caplen);
	if (p->comment && p->comment_len)
		memcpy(ps->arena + ps->used + p->caplen, p->comment, p->comment_len);
	ps->used += need;
	ps->n++;
	return 0;
}

static int cmp_kept(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;

	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

struct writer;

struct reader {
	const struct pcap_args *args;
	const struct flow_set *set;
	const struct bpf_program *filter; /* NULL: none */
	struct packets *out;
	struct writer *w;
	enum pcap_out_format format;
	/* progress on stderr */
	int progress;
	int64_t total, done;
	struct timespec last_shown;
	int shown_len;
};

static int wanted(const struct reader *r, const struct fr_pcap_packet *p)
{
	const struct pcap_args *a = r->args;

	if ((a->since.given && p->ts_ns < a->since.number) ||
	    (a->until.given && p->ts_ns > a->until.number))
		return 0;
	if (r->set->active) {
		int64_t flow = fr_pcapng_comment_flow(p->comment, p->comment ? p->comment_len : 0);

		if (flow > 0 ? !set_has_id(r->set, flow) : !handshake_flow(r->set, p))
			return 0;
	}
	if (r->filter) {
		struct pcap_pkthdr h = { .caplen = p->caplen, .len = p->origlen };

		if (!pcap_offline_filter(r->filter, &h, p->data))
			return 0;
	}
	return 1;
}

/* At most five times a second. */
static void progress_show(struct reader *r)
{
	struct timespec now;
	char line[128];
	int n;

	if (!r->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - r->last_shown.tv_sec) * 1000000000LL +
		    (now.tv_nsec - r->last_shown.tv_nsec) < 200000000LL)
		return;
	r->last_shown = now;
	n = snprintf(line, sizeof(line), "flowq: reading packets: %.1f / %.1f MB (%d%%)",
		     r->done / 1e6, r->total / 1e6, (int)(r->total ? r->done * 100 / r->total : 100));
	fprintf(stderr, "\r%s", line);
	/* Cover what a longer earlier line left. */
	if (n < r->shown_len)
		fprintf(stderr, "%*s", r->shown_len - n, "");
	r->shown_len = n;
}

static void progress_clear(struct reader *r)
{
	if (r->progress && r->shown_len)
		fprintf(stderr, "\r%*s\r", r->shown_len, "");
	r->shown_len = 0;
}

/* Paths stored in the database are relative to the data directory; one that would leave it
 * is not followed. */
static bool regular_fd(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static int safe_relative(const char *p)
{
	if (!*p || p[0] == '/')
		return 0;
	for (const char *s = p; *s; s = strchr(s, '/') ? strchr(s, '/') + 1 : s + strlen(s)) {
		if (strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0'))
			return 0;
	}
	return 1;
}

/* Parse one chunk's bytes and keep the packets wanted. */
static int read_chunk_blocks(struct reader *r, const char *path, const uint8_t *buf, size_t len,
			     int64_t base)
{
	size_t off = 0;

	while (off < len) {
		struct fr_pcap_packet p = { 0 };
		uint32_t type = 0;
		long n = fr_pcapng_parse_block(buf + off, len - off, &type, &p);

		if (n <= 0) {
			progress_clear(r);
			fprintf(stderr, "flowq: warning: %s: %s block at offset %lld; the rest of its "
					"chunk is skipped\n", path, n == 0 ? "truncated" : "malformed",
				(long long)(base + (int64_t)off));
			return 0;
		}
		off += (size_t)n;
		if (type != FR_PCAPNG_EPB || !wanted(r, &p))
			continue;
		if (keep_packet(r->out, &p)) {
			progress_clear(r);
			fprintf(stderr, "flowq: out of memory\n");
			return -1;
		}
	}
	return 0;
}

static int packets_emit(struct reader *r, int64_t limit);

/* Read every chosen chunk, writing the packets as the time order allows. Returns 0, or -1
 * after printing the reason. */
static int read_chunks(struct reader *r, const char *data_dir, const struct chunk_list *l)
{
	uint8_t *buf = NULL;
	size_t buf_size = 0;
	size_t open_segment = SIZE_MAX;
	int fd = -1, missing = 0, ret = -1;
	char path[PATH_MAX], shown[PATH_MAX]; /* shown: path as messages print it */

	for (size_t i = 0; i < l->n; i++) {
		const struct chunk *c = &l->chunks[i];
		ssize_t got;

		if (c->segment != open_segment) {
			const char *rel = l->paths[c->segment];

			if (fd >= 0)
				close(fd);
			fd = -1;
			missing = 0;
			open_segment = c->segment;
			if (snprintf(path, sizeof(path), "%s/%s", data_dir, rel) >= (int)sizeof(path)) {
				fprintf(stderr, "flowq: segment path too long: %s\n",
					fr_term_safe_str(rel, shown, sizeof(shown)));
				goto cleanup;
			}
			/* The path comes from the database: no escape sequence reaches the terminal. */
			fr_term_safe_str(path, shown, sizeof(shown));
			if (!safe_relative(rel)) {
				progress_clear(r);
				fprintf(stderr, "flowq: warning: segment path '%s' is not inside the data "
						"directory; skipped\n", fr_term_safe_str(rel, shown, sizeof(shown)));
				missing = 1;
			} else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) >= 0 && !regular_fd(fd)) {
				/* A FIFO or device put where a segment was would block or never end. */
				progress_clear(r);
				fprintf(stderr, "flowq: warning: %s is not a regular file; its packets are "
						"skipped\n", shown);
				close(fd);
				fd = -1;
				missing = 1;
			} else if (fd < 0) {
				if (errno != ENOENT) {
					progress_clear(r);
					fprintf(stderr, "flowq: cannot open %s: %s\n", shown, strerror(errno));
					goto cleanup;
				}
				/* Retention removed it after the index was read. */
				progress_clear(r);
				fprintf(stderr, "flowq: warning: %s is gone (removed by retention?); "
						"its packets are skipped\n", shown);
				missing = 1;
			}
		}
		if (missing || c->length <= 0 || c->offset < 0) {
			r->done += c->length > 0 ? c->length : 0;
			if (packets_emit(r, c->later_min))
				goto cleanup;
			continue;
		}
		if ((uint64_t)c->length > buf_size) {
			uint8_t *n;

			if ((uint64_t)c->length > SIZE_MAX || !(n = realloc(buf, (size_t)c->length))) {
				progress_clear(r);
				fprintf(stderr, "flowq: out of memory (a chunk of %lld bytes in %s)\n",
					(long long)c->length, shown);
				goto cleanup;
			}
			buf = n;
			buf_size = (size_t)c->length;
		}
		{
			size_t have = 0;

			while (have < (size_t)c->length) {
				got = pread(fd, buf + have, (size_t)c->length - have, c->offset + (off_t)have);
				if (got < 0 && errno == EINTR)
					continue;
				if (got < 0) {
					progress_clear(r);
					fprintf(stderr, "flowq: cannot read %s: %s\n", shown, strerror(errno));
					goto cleanup;
				}
				if (got == 0)
					break;
				have += (size_t)got;
			}
			if (have < (size_t)c->length) {
				progress_clear(r);
				fprintf(stderr, "flowq: warning: %s is shorter than its index (%lld bytes "
						"missing at offset %lld)\n", shown,
					(long long)(c->length - (int64_t)have), (long long)(c->offset + (int64_t)have));
			}
			if (read_chunk_blocks(r, shown, buf, have, c->offset))
				goto cleanup;
		}
		r->done += c->length;
		progress_show(r);
		if (packets_emit(r, c->later_min))
			goto cleanup;
	}
	progress_clear(r);
	ret = packets_emit(r, INT64_MAX);
cleanup:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* The output while it is being written, for the signal handler to remove its temporary. */
static struct fr_outfile out;
static volatile sig_atomic_t out_open;

static void remove_tmp_and_die(int sig)
{
	if (out_open && out.tmp[0])
		unlink(out.tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_signals(void (*handler)(int))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa = { .sa_handler = handler };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

struct writer {
	int fd;
	const char *name; /* for messages: FILE, or "standard output" */
	uint8_t *buf;
	size_t len, size;
	int err; /* errno of the first failure */
};

static int writer_flush(struct writer *w)
{
	size_t done = 0;

	if (w->err)
		return -1;
	while (done < w->len) {
		ssize_t n = write(w->fd, w->buf + done, w->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			w->err = errno;
			return -1;
		}
		done += (size_t)n;
	}
	w->len = 0;
	return 0;
}

/* Room for need more bytes at w->buf + w->len. */
static int writer_room(struct writer *w, size_t need)
{
	if (w->size - w->len >= need)
		return 0;
	if (writer_flush(w))
		return -1;
	if (w->size < need) {
		uint8_t *n = realloc(w->buf, need);

		if (!n) {
			w->err = ENOMEM;
			return -1;
		}
		w->buf = n;
		w->size = need;
	}
	return 0;
}

static int write_header(struct writer *w, enum pcap_out_format format)
{
	size_t n;

	if (writer_room(w, 4096))
		return -1;
	/* The largest packet is not known before the end: pcapng's snaplen 0 says "no limit". */
	if (format == OUT_PCAP)
		n = fr_pcap_header(w->buf + w->len, w->size - w->len, PCAP_SNAPLEN);
	else
		n = fr_pcapng_header(w->buf + w->len, w->size - w->len, 0, "flowq " FLOWQ_VERSION);
	if (!n) {
		w->err = EINVAL;
		return -1;
	}
	w->len += n;
	return 0;
}

static int write_kept(struct writer *w, enum pcap_out_format format, const struct packets *ps,
		      const struct kept *k)
{
	struct fr_pcap_packet p = {
		.ts_ns = k->ts_ns, .caplen = k->caplen, .origlen = k->origlen,
		.data = ps->arena + k->off, .flags = k->flags, .pid = k->pid, .tid = k->tid,
		.comment = k->comment_len ? (const char *)ps->arena + k->off + k->caplen : NULL,
		.comment_len = k->comment_len,
	};
	size_t n;

	if (format == OUT_PCAP) {
		/* libpcap refuses a record longer than the file's snaplen. */
		if (p.caplen > PCAP_SNAPLEN)
			p.caplen = PCAP_SNAPLEN;
		if (writer_room(w, 16 + (size_t)p.caplen))
			return -1;
		n = fr_pcap_record(w->buf + w->len, w->size - w->len, &p);
	} else {
		if (writer_room(w, fr_pcapng_epb_size(p.caplen, p.comment_len)))
			return -1;
		n = fr_pcapng_epb(w->buf + w->len, w->size - w->len, &p);
	}
	if (!n) {
		w->err = EINVAL;
		return -1;
	}
	w->len += n;
	return 0;
}

/* Write, in time order, the packets kept that are older than limit, and keep the rest (their
 * bytes moved to the front of the arena). qsort is not stable; seq, the reading order,
 * breaks ties, which makes it so. -1 after a write error (in w->err). */
static int packets_emit(struct reader *r, int64_t limit)
{
	struct packets *ps = r->out;
	size_t k = 0, used = 0;
	uint8_t *arena;

	if (!ps->n)
		return 0;
	qsort(ps->v, ps->n, sizeof(*ps->v), cmp_kept);
	for (; k < ps->n && ps->v[k].ts_ns < limit; k++)
		if (write_kept(r->w, r->format, ps, &ps->v[k]))
			return -1;
	ps->written += k;
	if (k == ps->n) {
		ps->n = ps->used = 0;
		return 0;
	}
	if (!k)
		return 0;
	arena = malloc(ps->size);
	if (!arena) {
		r->w->err = ENOMEM;
		return -1;
	}
	for (size_t i = k; i < ps->n; i++) {
		struct kept *e = &ps->v[i];
		size_t len = (size_t)e->caplen + e->comment_len;

		memcpy(arena + used, ps->arena + e->off, len);
		e->off = used;
		used += len;
		ps->v[i - k] = *e;
	}
	free(ps->arena);
	ps->arena = arena;
	ps->used = used;
	ps->n -= k;
	return 0;
}

/* ---- the command -------------------------------------------------------------------------- */

int cmd_pcap(int argc, char **argv, struct flowq_globals *globals)
{
	struct pcap_args args = { .globals = globals };
	struct bpf_program prog = { 0 };
	struct flow_set set = { 0 };
	struct chunk_list chunks = { 0 };
	struct packets ps = { 0 };
	struct writer w = { .fd = -1 };
	struct reader r = { 0 };
	enum pcap_out_format format;
	char db_buf[PATH_MAX], data_dir[PATH_MAX], err[PATH_MAX + 128];
	const char *db_file;
	sqlite3 *db = NULL;
	int has_filter, to_stdout, status = FLOWQ_EXIT_FAILURE;

	if (argp_parse(&pcap_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0) {
		free(args.flows);
		return FLOWQ_EXIT_USAGE;
	}
	flowq_resolve_times(globals, args.since_arg, args.until_arg, &args.since, &args.until);
	format = output_format(&args);
	to_stdout = strcmp(args.out, "-") == 0;
	if (to_stdout && isatty(STDOUT_FILENO))
		flowq_usage_error("refusing to write a capture to a terminal: redirect standard output "
				  "or give -w FILE");
	if (!to_stdout && strlen(args.out) + sizeof(".XXXXXX") > sizeof(out.tmp))
		flowq_usage_error("-w '%s': file name too long", args.out);
	has_filter = compile_filter(&args, &prog);

	if (flowq_db_open(globals, &db))
		goto cleanup;
	/* Segment paths are relative to the database's directory, as for flowq status. */
	db_file = flowq_db_file(globals, db_buf, sizeof(db_buf));
	if (!db_file)
		goto cleanup;
	{
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s", db_file);
		snprintf(data_dir, sizeof(data_dir), "%s", dirname(tmp));
	}

	if (select_flows(db, &args, &set))
		goto cleanup;
	/* A restriction no flow matches exports nothing: no chunk needs reading. */
	if (!(set.active && set.nids == 0) && select_chunks(db, &args, &set, &chunks))
		goto cleanup;
	/* The index is read; segments are read without holding the database. */
	sqlite3_close(db);
	db = NULL;

	/* Created before the reading, so that a path that cannot be written fails at once. */
	w.name = to_stdout ? "standard output" : args.out;
	w.size = OUT_BUF_SIZE;
	w.buf = malloc(w.size);
	if (!w.buf) {
		fprintf(stderr, "flowq: out of memory\n");
		goto cleanup;
	}
	if (to_stdout) {
		w.fd = STDOUT_FILENO;
	} else {
		catch_signals(remove_tmp_and_die);
		if (fr_outfile_open(&out, args.out, 0600, err, sizeof(err))) {
			fprintf(stderr, "flowq: %s\n", err);
			goto cleanup;
		}
		out_open = 1;
		w.fd = out.fd;
	}

	r.args = &args;
	r.set = &set;
	r.filter = has_filter ? &prog : NULL;
	r.out = &ps;
	r.w = &w;
	r.format = format;
	r.total = chunks.total_bytes;
	r.progress = isatty(STDERR_FILENO) && r.total > PROGRESS_MIN_BYTES;
	/* A failed read has said why; a failed write says it here. */
	if (write_header(&w, format) || read_chunks(&r, data_dir, &chunks) || writer_flush(&w) || w.err) {
		if (w.err)
			fprintf(stderr, "flowq: cannot write %s: %s\n", w.name, strerror(w.err));
		goto cleanup;
	}
	if (!to_stdout) {
		w.fd = -1;
		if (fr_outfile_commit(&out, err, sizeof(err))) {
			fprintf(stderr, "flowq: %s\n", err);
			goto cleanup;
		}
		fprintf(stderr, "flowq: %zu packets written to %s\n", ps.written, args.out);
	}
	status = FLOWQ_EXIT_OK;
cleanup:
	if (out_open) {
		fr_outfile_abort(&out);
		out_open = 0;
	}
	if (has_filter)
		pcap_freecode(&prog);
	sqlite3_close(db);
	chunk_list_free(&chunks);
	free(set.ids);
	free(set.hs);
	free(ps.v);
	free(ps.arena);
	free(w.buf);
	free(args.flows);
	return status;
}
