/*
 * flowq events: list recorded socket calls (the socket_events table), optionally filtered,
 * oldest first.
 *
 * The filters are a table of SQL conditions, joined into the WHERE clause as query/filters.c
 * describes. --event is checked against the seven names the recorder writes (lib/sockev.c).
 * The error column names a negative ret (ECONNREFUSED for -111) with an SQL function this
 * command adds to its own connection; the database holds only the number.
 */
#include "query.h"
#include "db.h"
#include "sockev.h"

#include <stdio.h>
#include <string.h>

enum events_filter_id {
	FILTER_SINCE,
	FILTER_UNTIL,
	FILTER_PID,
	FILTER_COMM,
	FILTER_EVENT,
	FILTER_COUNT
};

static const struct flowq_filter events_filters[FILTER_COUNT] = {
	[FILTER_SINCE] = { "ts_ns >= :since", ":since" },
	[FILTER_UNTIL] = { "ts_ns <= :until", ":until" },
	[FILTER_PID] = { "pid = :pid", ":pid" },
	[FILTER_COMM] = { "comm = :comm", ":comm" },
	[FILTER_EVENT] = { "event = :event", ":event" },
};

/* errno_name(ret): "ECONNREFUSED" for -111; NULL for a result that is not an error, or an
 * errno glibc has no name for. */
static void errno_name(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	sqlite3_int64 ret;
	const char *name;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER)
		return; /* NULL */
	ret = sqlite3_value_int64(argv[0]);
	if (ret >= 0 || ret < -4095)
		return;
	name = strerrorname_np((int)-ret);
	if (name)
		sqlite3_result_text(ctx, name, -1, SQLITE_STATIC);
}

/* socket_events came with schema version 2: say so rather than "no such table". */
static int events_setup(sqlite3 *db)
{
	int version = fr_db_schema_version(db);

	if (version < 2) {
		fprintf(stderr, "flowq: this database has schema version %d, which has no socket "
			"events (recorded from version 2 on)\n", version);
		return -1;
	}
	if (sqlite3_create_function(db, "errno_name", 1,
				    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
				    errno_name, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "flowq: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static const struct flowq_filter_query events_query = {
	.select = "SELECT id, ts_ns, pid, tid, comm, netns, event, kern, fd, family, type, protocol,"
		  " laddr, lport, raddr, rport, backlog, level, optname, ret,"
		  " errno_name(ret) AS error, socket_cookie, flow_id FROM socket_events",
	.filters = events_filters,
	.count = FILTER_COUNT,
	.order = " ORDER BY ts_ns, id",
	.follow_condition = FLOWQ_FOLLOW_NEW,
	.follow_state = "SELECT id, 0 FROM socket_events",
	.setup = events_setup,
};

struct events_args {
	struct flowq_globals *globals;
	/* Times are kept as text until all options are read: --utc may come after them. */
	const char *since_arg, *until_arg;
	struct flowq_filter_value filters[FILTER_COUNT];
	int follow;
};

enum {
	OPT_SINCE = 0x200,
	OPT_UNTIL,
	OPT_PID,
	OPT_COMM,
	OPT_FOLLOW,
	OPT_EVENT,
};

static const struct argp_option events_options[] = {
	{ "since", OPT_SINCE, "T", 0, "Only calls that returned at or after T", 0 },
	{ "until", OPT_UNTIL, "T", 0, "Only calls that returned at or before T", 0 },
	{ "pid", OPT_PID, "N", 0, "Only calls made by process N", 0 },
	{ "comm", OPT_COMM, "NAME", 0, "Only calls of processes named exactly NAME", 0 },
	{ "event", OPT_EVENT, "E", 0,
	  "Only this call: create|bind|listen|connect|accept|setsockopt|close", 0 },
	{ "follow", OPT_FOLLOW, NULL, 0,
	  "Then print the socket calls that come, as they reach the database, until Ctrl-C", 0 },
	{ 0 }
};

static const char events_doc[] =
	"List recorded socket calls (socket, bind, listen, connect, accept, setsockopt, close on "
	"IPv4 and IPv6 sockets), oldest first (by the time the call returned, then id). Filters "
	"combine with AND."
	"\v"
	"Columns: id, ts_ns, pid, tid, comm, netns, event, kern, fd, family, type, protocol, "
	"laddr, lport, raddr, rport, backlog, level, optname, ret, error, socket_cookie, flow_id. "
	"event is 'create' for socket(), else the call's name (accept covers accept4); kern is 1 "
	"on a 'create' of a socket the kernel made for the task (an MPTCP subflow). fd is the "
	"descriptor the call was given (accept: the listening one; null for create); ret is the "
	"result: 0, a new descriptor (create, accept) or a negative errno, which error names "
	"(ECONNREFUSED for -111). laddr is bind's requested address, otherwise the socket's "
	"after the call (null while unbound); raddr is the address connect asked for, or the "
	"peer accept returned. backlog is listen's; level and optname are setsockopt's (1 and 2: "
	"SOL_SOCKET, SO_REUSEADDR). socket_cookie names the socket (accept: the new one) as "
	"flows.socket_cookie does; flow_id is its flow when one was known (docs/events.md).\n"
	"\n"
	"Times (T): RFC 3339, 'YYYY-MM-DD HH:MM[:SS[.frac]]' (local time, or UTC with --utc), "
	"@EPOCH seconds, or a duration back from now (30s, 15m, 2h, 1h30m, 3d).";

static error_t parse_events_option(int key, char *arg, struct argp_state *state)
{
	struct events_args *args = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq events", args->globals);
		break;
	case OPT_SINCE:
		args->since_arg = arg;
		break;
	case OPT_UNTIL:
		args->until_arg = arg;
		break;
	case OPT_PID:
		args->filters[FILTER_PID] = flowq_filter_pid(arg);
		break;
	case OPT_FOLLOW:
		args->follow = 1;
		break;
	case OPT_COMM:
		args->filters[FILTER_COMM] = flowq_filter_text(arg);
		break;
	case OPT_EVENT:
		if (fr_sock_call_parse(arg) < 0)
			flowq_usage_error("invalid --event '%s': expected one of %s", arg,
					  fr_sock_call_list());
		args->filters[FILTER_EVENT] = flowq_filter_text(arg);
		break;
	case ARGP_KEY_ARG:
		flowq_usage_error("events takes options only, no arguments ('%s' given; see flowq "
				  "events --help)", arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp events_argp = {
	.options = events_options,
	.parser = parse_events_option,
	.doc = events_doc,
	.children = flowq_command_children,
};

int cmd_events(int argc, char **argv, struct flowq_globals *globals)
{
	struct events_args args = { .globals = globals };

	if (argp_parse(&events_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	flowq_resolve_times(globals, args.since_arg, args.until_arg, &args.filters[FILTER_SINCE],
			    &args.filters[FILTER_UNTIL]);
	return args.follow ? flowq_follow_filtered(globals, &globals->output, &events_query, args.filters) :
			     flowq_print_filtered(globals, &globals->output, &events_query, args.filters);
}
