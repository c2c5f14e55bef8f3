/*
 * flowq flows: list flows, optionally filtered, ordered by start time. Its filters are shared
 * with flowq ipfix, which replays the same flows to a collector.
 *
 * The filters are a table of SQL conditions, joined into the WHERE clause as query/filters.c
 * describes.
 */
#include "query.h"

#include <string.h>

enum flows_filter_id {
	FILTER_SINCE,
	FILTER_UNTIL,
	FILTER_PID,
	FILTER_COMM,
	FILTER_NETNS,
	FILTER_HOST,
	FILTER_PORT,
	FILTER_PROTO,
	FILTER_CONTAINER,
	FILTER_VERDICT,
	FILTER_NAME,
	FILTER_EXE,
	FILTER_COUNT
};
_Static_assert(FILTER_COUNT == FLOWQ_FLOWS_FILTERS, "query.h sizes the values by it");

static const struct flowq_filter flows_filters[FILTER_COUNT] = {
	[FILTER_SINCE] = { "COALESCE(end_ns, last_ns) >= :since", ":since" },
	[FILTER_UNTIL] = { "start_ns <= :until", ":until" },
	[FILTER_PID] = { "pid = :pid", ":pid" },
	[FILTER_COMM] = { "comm = :comm", ":comm" },
	[FILTER_NETNS] = { "netns = :netns", ":netns" },
	[FILTER_HOST] = { "(laddr = :host OR raddr = :host)", ":host" },
	[FILTER_PORT] = { "(lport = :port OR rport = :port)", ":port" },
	[FILTER_PROTO] = { "proto = :proto", ":proto" },
	/* the owning process's container id, or a prefix of it (docker's 12-hex short ids) */
	[FILTER_CONTAINER] = { FLOWQ_FLOW_CONTAINER_COND, ":container" },
	[FILTER_NAME] = { FLOWQ_FLOW_NAME_COND, ":name" },
	[FILTER_EXE] = { FLOWQ_FLOW_EXE_COND, ":exe" },
	[FILTER_VERDICT] = { "CASE :verdict WHEN 'any' THEN verdict IS NOT NULL ELSE verdict = :verdict END",
			     ":verdict" },
};

struct flowq_filter_query flowq_flows_query(const char *select)
{
	return (struct flowq_filter_query){
		.select = select,
		.filters = flows_filters,
		.count = FILTER_COUNT,
		.order = " ORDER BY start_ns, id",
		/* new flows, and those printed open that have ended since */
		.follow_condition = "(id > json_extract(:follow, '$.after') OR (end_ns IS NOT NULL AND"
				    " id IN (SELECT value FROM json_each(:follow, '$.open'))))",
		.follow_state = "SELECT id, end_ns IS NULL FROM flows",
	};
}

struct flows_args {
	struct flowq_globals *globals;
	struct flowq_flows_filter filter;
	int follow;
};

#define OPT_FOLLOW 0x280

static const struct argp_option flows_options[] = {
	{ "follow", OPT_FOLLOW, NULL, 0,
	  "Then print the flows that come, as they reach the database (new ones, and each again "
	  "when it ends), until Ctrl-C", 0 },
	{ 0 }
};

enum {
	OPT_SINCE = 0x200,
	OPT_UNTIL,
	OPT_PID,
	OPT_COMM,
	OPT_NETNS,
	OPT_HOST,
	OPT_PORT,
	OPT_PROTO,
	OPT_CONTAINER,
	OPT_VERDICT,
	OPT_NAME,
	OPT_EXE,
};

static const struct argp_option flows_filter_options[] = {
	{ "since", OPT_SINCE, "T", 0,
	  "Only flows still active at or after T (closed or last seen at or after T)", 0 },
	{ "until", OPT_UNTIL, "T", 0, "Only flows that started at or before T", 0 },
	{ "pid", OPT_PID, "N", 0, "Only flows owned by process N (0: owner unknown)", 0 },
	{ "comm", OPT_COMM, "NAME", 0, "Only flows whose owning task is named exactly NAME", 0 },
	{ "netns", OPT_NETNS, "INODE", 0,
	  "Only flows in the network namespace with this inode (a number, or net:[N] as readlink "
	  "/proc/PID/ns/net prints it)", 0 },
	{ "host", OPT_HOST, "ADDR", 0,
	  "Only flows whose local or remote address is ADDR (IPv4 or IPv6, any spelling: ::0001 "
	  "matches ::1)", 0 },
	{ "port", OPT_PORT, "N", 0, "Only flows whose local or remote port is N", 0 },
	{ "proto", OPT_PROTO, "PROTO", 0, "Only flows of this protocol: tcp, udp, icmp, icmp6 or mptcp", 0 },
	{ "container", OPT_CONTAINER, "ID", 0,
	  "Only flows whose owning process ran in container ID (processes.container: the full "
	  "hex id or a prefix of it, such as Docker's 12-character short id)", 0 },
	{ "name", OPT_NAME, "GLOB", 0,
	  "Only flows whose remote address came from a DNS answer for a name matching GLOB "
	  "(rname; '*', '?', '[...]', ignoring case)", 0 },
	{ "exe", OPT_EXE, "PATH", 0,
	  "Only flows whose owning process ran the executable PATH (processes.exe)", 0 },
	{ "verdict", OPT_VERDICT, "V", 0,
	  "Only attempts a --policy rule decided: deny (refused), audit (allowed, would have been "
	  "denied) or any (either)", 0 },
	{ 0 }
};

static const char flows_doc[] =
	"List recorded flows, oldest first (by start time, then id). Filters combine with AND."
	"\v"
	"Columns: id, start_ns, last_ns, end_ns, pid, tid, comm, uid, netns, proto, family, "
	"direction, laddr, lport, raddr, rport, rname, bytes_out, bytes_in, packets_out, "
	"packets_in, packets_captured, parent_flow_id, end_reason, verdict, rule. end_ns is null "
	"while the flow is open; end_reason says how it ended: closed, recorder-stop (open when "
	"the recorder stopped), crash (its run crashed) or denied (a policy refused it); verdict "
	"is deny or audit when a --policy rule (named in rule) decided the attempt, null when it "
	"was allowed; "
	"family is 4 or 6; direction is 'out' (this host connected or sent first) or 'in'. An "
	"'mptcp' flow is an MPTCP connection; its TCP subflows name it in parent_flow_id. ICMP "
	"flows have the echo identifier as lport and 0 as rport. rname is the name whose "
	"DNS answer gave raddr (the name asked for, the start of a CNAME chain), null when no "
	"such answer was seen; packets_captured counts the flow's packets written to the "
	"capture files (flowq pcap --flow ID exports them). --container matches the owning "
	"process's processes.container (its cgroup's container id), so flows whose process was "
	"never seen match no container.\n"
	"\n"
	"Times (T): RFC 3339, 'YYYY-MM-DD HH:MM[:SS[.frac]]' (local time, or UTC with --utc), "
	"@EPOCH seconds, or a duration back from now (30s, 15m, 2h, 1h30m, 3d).";

static error_t parse_flows_filter_option(int key, char *arg, struct argp_state *state)
{
	struct flowq_flows_filter *args = state->input;

	switch (key) {
	case OPT_SINCE:
		args->since_arg = arg;
		break;
	case OPT_UNTIL:
		args->until_arg = arg;
		break;
	case OPT_PID:
		args->values[FILTER_PID] = flowq_filter_pid(arg);
		break;
	case OPT_COMM:
		args->values[FILTER_COMM] = flowq_filter_text(arg);
		break;
	case OPT_NETNS:
		args->values[FILTER_NETNS] = flowq_filter_netns(arg);
		break;
	case OPT_HOST:
		args->values[FILTER_HOST] = flowq_filter_host(arg, args->host);
		break;
	case OPT_PORT:
		args->values[FILTER_PORT] = flowq_filter_port(arg);
		break;
	case OPT_PROTO:
		if (strcmp(arg, "tcp") && strcmp(arg, "udp") && strcmp(arg, "icmp") &&
		    strcmp(arg, "icmp6") && strcmp(arg, "mptcp"))
			flowq_usage_error("invalid --proto '%s': expected tcp, udp, icmp, icmp6 or mptcp",
					  arg);
		args->values[FILTER_PROTO] = flowq_filter_text(arg);
		break;
	case OPT_CONTAINER:
		args->values[FILTER_CONTAINER] = flowq_filter_container(arg, args->container);
		break;
	case OPT_NAME:
		args->values[FILTER_NAME] = flowq_filter_name(arg);
		break;
	case OPT_EXE:
		args->values[FILTER_EXE] = flowq_filter_exe(arg);
		break;
	case OPT_VERDICT:
		if (strcmp(arg, "deny") && strcmp(arg, "audit") && strcmp(arg, "any"))
			flowq_usage_error("invalid --verdict '%s': expected deny, audit or any", arg);
		args->values[FILTER_VERDICT] = flowq_filter_text(arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp flowq_flows_filter_argp = {
	.options = flows_filter_options,
	.parser = parse_flows_filter_option,
};

void flowq_flows_filter_times(const struct flowq_globals *globals, struct flowq_flows_filter *f)
{
	flowq_resolve_times(globals, f->since_arg, f->until_arg, &f->values[FILTER_SINCE],
			    &f->values[FILTER_UNTIL]);
}

static error_t parse_flows_option(int key, char *arg, struct argp_state *state)
{
	struct flows_args *args = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq flows", args->globals);
		state->child_inputs[1] = &args->filter;
		break;
	case OPT_FOLLOW:
		args->follow = 1;
		break;
	case ARGP_KEY_ARG:
		flowq_usage_error("flows takes options only, no arguments ('%s' given; see flowq flows --help)",
				  arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* The globals first: flowq_command_init hands them their input as child 0. */
static const struct argp_child flows_children[] = {
	{ &flowq_globals_argp, 0, "Global options:", 3 },
	{ &flowq_flows_filter_argp, 0, NULL, 0 },
	{ 0 }
};

static const struct argp flows_argp = {
	.options = flows_options,
	.parser = parse_flows_option,
	.doc = flows_doc,
	.children = flows_children,
};

int cmd_flows(int argc, char **argv, struct flowq_globals *globals)
{
	struct flows_args args = { .globals = globals };
	struct flowq_filter_query query = flowq_flows_query(
		"SELECT id, start_ns, last_ns, end_ns, pid, tid, comm, uid, netns, proto, family,"
		" direction, laddr, lport, raddr, rport, rname, bytes_out, bytes_in, packets_out,"
		" packets_in, packets_captured, parent_flow_id, end_reason, verdict, rule FROM flows");

	if (argp_parse(&flows_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	flowq_flows_filter_times(globals, &args.filter);
	if (args.follow)
		return flowq_follow_filtered(globals, &globals->output, &query, args.filter.values);
	return flowq_print_filtered(globals, &globals->output, &query, args.filter.values);
}
