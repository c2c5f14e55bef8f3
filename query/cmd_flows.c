/*
 * flowq flows: list flows, optionally filtered, ordered by start time.
 *
 * The WHERE clause is assembled from fixed fragments, one per filter given, and every value
 * is bound as a parameter: nothing from the command line is ever pasted into SQL. Only the
 * filters given appear at all, so that SQLite can use the indexes for those.
 */
#include "query.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
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
	FILTER_COUNT
};

struct flows_filter_sql {
	const char *option;    /* for messages */
	const char *condition; /* uses parameter exactly as named below, possibly twice */
	const char *parameter;
};

static const struct flows_filter_sql filter_sql[FILTER_COUNT] = {
	[FILTER_SINCE] = { "--since", "COALESCE(end_ns, last_ns) >= :since", ":since" },
	[FILTER_UNTIL] = { "--until", "start_ns <= :until", ":until" },
	[FILTER_PID] = { "--pid", "pid = :pid", ":pid" },
	[FILTER_COMM] = { "--comm", "comm = :comm", ":comm" },
	[FILTER_NETNS] = { "--netns", "netns = :netns", ":netns" },
	[FILTER_HOST] = { "--host", "(laddr = :host OR raddr = :host)", ":host" },
	[FILTER_PORT] = { "--port", "(lport = :port OR rport = :port)", ":port" },
	[FILTER_PROTO] = { "--proto", "proto = :proto", ":proto" },
};

static const char flows_select[] =
	"SELECT id, start_ns, last_ns, end_ns, pid, tid, comm, uid, netns, proto, family, direction,"
	" laddr, lport, raddr, rport, rname, bytes_out, bytes_in, packets_out, packets_in,"
	" packets_captured FROM flows";
static const char flows_order[] = " ORDER BY start_ns, id";

struct flows_filter_value {
	int given;
	const char *text; /* bound as text when set, else number */
	int64_t number;
};

struct flows_args {
	struct flowq_globals *globals;
	/* Times are kept as text until all options are read: --utc may come after them. */
	const char *since_arg, *until_arg;
	char host[INET6_ADDRSTRLEN];
	struct flows_filter_value filters[FILTER_COUNT];
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
};

static const struct argp_option flows_options[] = {
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
	{ "proto", OPT_PROTO, "PROTO", 0, "Only tcp or only udp flows", 0 },
	{ 0 }
};

static const char flows_doc[] =
	"List recorded flows, oldest first (by start time, then id). Filters combine with AND."
	"\v"
	"Columns: id, start_ns, last_ns, end_ns, pid, tid, comm, uid, netns, proto, family, "
	"direction, laddr, lport, raddr, rport, rname, bytes_out, bytes_in, packets_out, "
	"packets_in, packets_captured. end_ns is null while the flow is open; family is 4 or 6; "
	"direction is 'out' (this host connected or sent first) or 'in'. rname is the name whose "
	"DNS answer gave raddr (the name asked for, the start of a CNAME chain), null when no "
	"such answer was seen; packets_captured counts the flow's packets written to the "
	"capture files (flowq pcap --flow ID exports them).\n"
	"\n"
	"Times (T): RFC 3339, 'YYYY-MM-DD HH:MM[:SS[.frac]]' (local time, or UTC with --utc), "
	"@EPOCH seconds, or a duration back from now (30s, 15m, 2h, 1h30m, 3d).";

static void set_number(struct flows_args *args, enum flows_filter_id id, const char *arg, uint64_t max,
		       const char *expected)
{
	uint64_t v;

	if (flowq_parse_unsigned(arg, max, &v))
		flowq_usage_error("invalid %s '%s': expected %s", filter_sql[id].option, arg, expected);
	args->filters[id] = (struct flows_filter_value){ .given = 1, .number = (int64_t)v };
}

static void set_text(struct flows_args *args, enum flows_filter_id id, const char *text)
{
	args->filters[id] = (struct flows_filter_value){ .given = 1, .text = text };
}

/* "4026531840" or "net:[4026531840]". */
static void set_netns(struct flows_args *args, const char *arg)
{
	char digits[32];
	const char *inode = arg;
	size_t n = strlen(arg);
	uint64_t v;

	if (n > 6 && strncmp(arg, "net:[", 5) == 0 && arg[n - 1] == ']' && n - 6 < sizeof(digits)) {
		memcpy(digits, arg + 5, n - 6);
		digits[n - 6] = '\0';
		inode = digits;
	}
	if (flowq_parse_unsigned(inode, INT64_MAX, &v))
		flowq_usage_error("invalid --netns '%s': expected an inode number such as 4026531840 "
				  "or net:[4026531840]", arg);
	args->filters[FILTER_NETNS] = (struct flows_filter_value){ .given = 1, .number = (int64_t)v };
}

/* The database holds addresses as inet_ntop writes them; any other spelling of the same
 * address is brought to that form so that it matches. */
static void set_host(struct flows_args *args, const char *arg)
{
	unsigned char addr[sizeof(struct in6_addr)];
	int family = AF_INET;

	if (inet_pton(AF_INET, arg, addr) != 1) {
		family = AF_INET6;
		if (inet_pton(AF_INET6, arg, addr) != 1)
			flowq_usage_error("invalid --host '%s': not an IPv4 or IPv6 address", arg);
	}
	if (!inet_ntop(family, addr, args->host, sizeof(args->host)))
		flowq_usage_error("invalid --host '%s': not an IPv4 or IPv6 address", arg);
	set_text(args, FILTER_HOST, args->host);
}

static error_t parse_flows_option(int key, char *arg, struct argp_state *state)
{
	struct flows_args *args = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq flows", args->globals);
		break;
	case OPT_SINCE:
		args->since_arg = arg;
		break;
	case OPT_UNTIL:
		args->until_arg = arg;
		break;
	case OPT_PID:
		set_number(args, FILTER_PID, arg, INT32_MAX, "a process id (0 or more)");
		break;
	case OPT_COMM:
		set_text(args, FILTER_COMM, arg);
		break;
	case OPT_NETNS:
		set_netns(args, arg);
		break;
	case OPT_HOST:
		set_host(args, arg);
		break;
	case OPT_PORT:
		set_number(args, FILTER_PORT, arg, 65535, "a port number from 0 to 65535");
		break;
	case OPT_PROTO:
		if (strcmp(arg, "tcp") != 0 && strcmp(arg, "udp") != 0)
			flowq_usage_error("invalid --proto '%s': expected tcp or udp", arg);
		set_text(args, FILTER_PROTO, arg);
		break;
	case ARGP_KEY_ARG:
		flowq_usage_error("flows takes options only, no arguments ('%s' given; see flowq flows --help)",
				  arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child flows_children[] = {
	{ &flowq_globals_argp, 0, "Global options:", 0 },
	{ 0 }
};

static const struct argp flows_argp = {
	.options = flows_options,
	.parser = parse_flows_option,
	.doc = flows_doc,
	.children = flows_children,
};

/* Turn --since/--until into ns now that --utc is known. */
static void resolve_time(struct flows_args *args, enum flows_filter_id id, const char *arg, int64_t now_ns)
{
	char err[256];
	int64_t ns;

	if (!arg)
		return;
	if (fr_time_parse(arg, now_ns, args->globals->output.utc, &ns, err, sizeof(err)))
		flowq_usage_error("%s", err);
	args->filters[id] = (struct flows_filter_value){ .given = 1, .number = ns };
}

/* Returns the statement text (sqlite3_free it), or NULL when out of memory. */
static char *build_query(const struct flows_args *args)
{
	sqlite3_str *sql = sqlite3_str_new(NULL);
	int conditions = 0;

	sqlite3_str_appendall(sql, flows_select);
	for (int id = 0; id < FILTER_COUNT; id++) {
		if (!args->filters[id].given)
			continue;
		sqlite3_str_appendall(sql, conditions++ ? " AND " : " WHERE ");
		sqlite3_str_appendall(sql, filter_sql[id].condition);
	}
	sqlite3_str_appendall(sql, flows_order);
	return sqlite3_str_finish(sql);
}

static int bind_filters(sqlite3_stmt *st, const struct flows_args *args)
{
	for (int id = 0; id < FILTER_COUNT; id++) {
		const struct flows_filter_value *value = &args->filters[id];
		int index, rc;

		if (!value->given)
			continue;
		index = sqlite3_bind_parameter_index(st, filter_sql[id].parameter);
		if (value->text)
			rc = sqlite3_bind_text(st, index, value->text, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_int64(st, index, value->number);
		if (rc != SQLITE_OK)
			return -1;
	}
	return 0;
}

int cmd_flows(int argc, char **argv, struct flowq_globals *globals)
{
	struct flows_args args = { .globals = globals };
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int64_t now_ns;
	int status = FLOWQ_EXIT_FAILURE;

	if (argp_parse(&flows_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	now_ns = fr_now_ns();
	resolve_time(&args, FILTER_SINCE, args.since_arg, now_ns);
	resolve_time(&args, FILTER_UNTIL, args.until_arg, now_ns);

	if (flowq_db_open(globals, &db))
		goto cleanup;
	sql = build_query(&args);
	if (!sql) {
		fprintf(stderr, "flowq: out of memory\n");
		goto cleanup;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || bind_filters(st, &args)) {
		fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
		goto cleanup;
	}
	if (flowq_print_result(st, &globals->output))
		goto cleanup;
	status = FLOWQ_EXIT_OK;
cleanup:
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_close(db);
	return status;
}
