/*
 * flowq dns: list recorded DNS transactions (the dns table), optionally filtered, oldest
 * first.
 *
 * Built like flowq flows: the WHERE clause is assembled from fixed fragments, one per filter
 * given, and every value is bound as a parameter. --rcode and --type are checked against
 * lib/dns.c's mnemonics and brought to the spelling the recorder stores (fr_dns_rcode_str,
 * fr_dns_type_str), so 'nxdomain' finds NXDOMAIN and 'type28' finds AAAA.
 *
 * answers is JSON text in the database; in --format json/jsonl it is written as a nested
 * value (fr_output_opts.json_columns). The recorder only stores valid JSON there; anything
 * else (a database written by other hands) is quoted by SQLite first, so the output stays
 * JSON either way.
 */
#include "query.h"
#include "dns.h"
#include "timefmt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum dns_filter_id {
	FILTER_SINCE,
	FILTER_UNTIL,
	FILTER_PID,
	FILTER_COMM,
	FILTER_NAME,
	FILTER_RCODE,
	FILTER_TYPE,
	FILTER_COUNT
};

struct dns_filter_sql {
	const char *option;    /* for messages */
	const char *condition; /* uses parameter exactly as named below */
	const char *parameter;
};

static const struct dns_filter_sql filter_sql[FILTER_COUNT] = {
	[FILTER_SINCE] = { "--since", "ts_ns >= :since", ":since" },
	[FILTER_UNTIL] = { "--until", "ts_ns <= :until", ":until" },
	[FILTER_PID] = { "--pid", "pid = :pid", ":pid" },
	[FILTER_COMM] = { "--comm", "comm = :comm", ":comm" },
	/* lower() folds ASCII only, which is what DNS names compare by (RFC 4343). */
	[FILTER_NAME] = { "--name", "lower(qname) GLOB lower(:name)", ":name" },
	[FILTER_RCODE] = { "--rcode", "rcode = :rcode", ":rcode" },
	[FILTER_TYPE] = { "--type", "qtype = :type", ":type" },
};

static const char dns_select[] =
	"SELECT id, ts_ns, pid, tid, comm, netns, flow_id, role, transport, server, server_port,"
	" qid, qname, qtype, rcode,"
	" CASE WHEN answers IS NULL OR json_valid(answers) THEN answers ELSE json_quote(answers) END"
	" AS answers, response_ns, latency_ns FROM dns";
static const char dns_order[] = " ORDER BY ts_ns, id";

struct dns_filter_value {
	int given;
	const char *text; /* bound as text when set, else number */
	int text_len;     /* bytes of text to bind; -1: up to its NUL */
	int64_t number;
};

/* Large enough for every mnemonic fr_dns_rcode_str and fr_dns_type_str write
 * ("RCODE4095", "TYPE65535", "NSEC3PARAM"). */
#define MNEMONIC_MAX 32

struct dns_args {
	struct flowq_globals *globals;
	/* Times are kept as text until all options are read: --utc may come after them. */
	const char *since_arg, *until_arg;
	char rcode[MNEMONIC_MAX], type[MNEMONIC_MAX];
	struct dns_filter_value filters[FILTER_COUNT];
};

enum {
	OPT_SINCE = 0x200,
	OPT_UNTIL,
	OPT_PID,
	OPT_COMM,
	OPT_NAME,
	OPT_RCODE,
	OPT_TYPE,
};

static const struct argp_option dns_options[] = {
	{ "since", OPT_SINCE, "T", 0, "Only transactions seen at or after T (by ts_ns)", 0 },
	{ "until", OPT_UNTIL, "T", 0, "Only transactions seen at or before T (by ts_ns)", 0 },
	{ "pid", OPT_PID, "N", 0,
	  "Only those of process N (the asking one for a client row, the answering one for a "
	  "server row)", 0 },
	{ "comm", OPT_COMM, "NAME", 0, "Only those of tasks named exactly NAME", 0 },
	{ "name", OPT_NAME, "GLOB", 0,
	  "Only questions whose name matches GLOB ('*', '?', '[...]'), ignoring case; a final dot "
	  "is ignored ('a.test.' is 'a.test')", 0 },
	{ "rcode", OPT_RCODE, "R", 0,
	  "Only responses with this rcode: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ... (any case; "
	  "RCODEn for a number)", 0 },
	{ "type", OPT_TYPE, "T", 0,
	  "Only questions of this type: A, AAAA, MX, HTTPS, ... (any case; TYPEn for a number)", 0 },
	{ 0 }
};

/* Written as nested JSON in --format json/jsonl. */
static const char *const json_columns[] = { "answers", NULL };

static const char dns_doc[] =
	"List recorded DNS transactions, oldest first (by the time the query was seen, then id). "
	"Filters combine with AND."
	"\v"
	"Columns: id, ts_ns, pid, tid, comm, netns, flow_id, role, transport, server, server_port, "
	"qid, qname, qtype, rcode, answers, response_ns, latency_ns. One row per query (or per "
	"response whose query was not seen), from either side: role is 'client' when the "
	"recorded task asked, 'server' when it answered; server and server_port are the DNS "
	"server's. ts_ns is when the query was seen (the response, if the query was not). "
	"qname has no final dot. rcode, answers and response_ns are null while unanswered; "
	"latency_ns (response_ns - ts_ns, in ns) is null when either is missing. answers is a "
	"JSON array of {\"name\",\"type\",\"ttl\",\"data\"}: text in the table and csv formats, "
	"a nested array in json and jsonl. flow_id is the flows.id of the socket it went over.\n"
	"\n"
	"Times (T): RFC 3339, 'YYYY-MM-DD HH:MM[:SS[.frac]]' (local time, or UTC with --utc), "
	"@EPOCH seconds, or a duration back from now (30s, 15m, 2h, 1h30m, 3d).";

static void set_text(struct dns_args *args, enum dns_filter_id id, const char *text, int text_len)
{
	args->filters[id] = (struct dns_filter_value){ .given = 1, .text = text, .text_len = text_len };
}

static void set_pid(struct dns_args *args, const char *arg)
{
	uint64_t v;

	if (flowq_parse_unsigned(arg, INT32_MAX, &v))
		flowq_usage_error("invalid --pid '%s': expected a process id (0 or more)", arg);
	args->filters[FILTER_PID] = (struct dns_filter_value){ .given = 1, .number = (int64_t)v };
}

/* Names are stored without their final dot; dig and most tools print it. "." (the root)
 * stays as it is. */
static void set_name(struct dns_args *args, const char *arg)
{
	size_t n = strlen(arg);

	if (n > 1 && arg[n - 1] == '.')
		n--;
	if (n > INT32_MAX)
		flowq_usage_error("invalid --name: too long");
	set_text(args, FILTER_NAME, arg, (int)n);
}

static void set_rcode(struct dns_args *args, const char *arg)
{
	int rcode;

	if (fr_dns_rcode_parse(arg, &rcode))
		flowq_usage_error("invalid --rcode '%s': expected an rcode such as NOERROR, NXDOMAIN, "
				  "SERVFAIL or REFUSED (or RCODEn)", arg);
	fr_dns_rcode_str(rcode, args->rcode, sizeof(args->rcode));
	set_text(args, FILTER_RCODE, args->rcode, -1);
}

static void set_type(struct dns_args *args, const char *arg)
{
	uint16_t type;

	if (fr_dns_type_parse(arg, &type))
		flowq_usage_error("invalid --type '%s': expected a record type such as A, AAAA, MX or "
				  "TXT (or TYPEn)", arg);
	fr_dns_type_str(type, args->type, sizeof(args->type));
	set_text(args, FILTER_TYPE, args->type, -1);
}

static error_t parse_dns_option(int key, char *arg, struct argp_state *state)
{
	struct dns_args *args = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq dns", args->globals);
		break;
	case OPT_SINCE:
		args->since_arg = arg;
		break;
	case OPT_UNTIL:
		args->until_arg = arg;
		break;
	case OPT_PID:
		set_pid(args, arg);
		break;
	case OPT_COMM:
		set_text(args, FILTER_COMM, arg, -1);
		break;
	case OPT_NAME:
		set_name(args, arg);
		break;
	case OPT_RCODE:
		set_rcode(args, arg);
		break;
	case OPT_TYPE:
		set_type(args, arg);
		break;
	case ARGP_KEY_ARG:
		flowq_usage_error("dns takes options only, no arguments ('%s' given; a name goes in "
				  "--name)", arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child dns_children[] = {
	{ &flowq_globals_argp, 0, "Global options:", 0 },
	{ 0 }
};

static const struct argp dns_argp = {
	.options = dns_options,
	.parser = parse_dns_option,
	.doc = dns_doc,
	.children = dns_children,
};

/* Turn --since/--until into ns now that --utc is known. */
static void resolve_time(struct dns_args *args, enum dns_filter_id id, const char *arg, int64_t now_ns)
{
	char err[256];
	int64_t ns;

	if (!arg)
		return;
	if (fr_time_parse(arg, now_ns, args->globals->output.utc, &ns, err, sizeof(err)))
		flowq_usage_error("%s", err);
	args->filters[id] = (struct dns_filter_value){ .given = 1, .number = ns };
}

/* Returns the statement text (sqlite3_free it), or NULL when out of memory. */
static char *build_query(const struct dns_args *args)
{
	sqlite3_str *sql = sqlite3_str_new(NULL);
	int conditions = 0;

	sqlite3_str_appendall(sql, dns_select);
	for (int id = 0; id < FILTER_COUNT; id++) {
		if (!args->filters[id].given)
			continue;
		sqlite3_str_appendall(sql, conditions++ ? " AND " : " WHERE ");
		sqlite3_str_appendall(sql, filter_sql[id].condition);
	}
	sqlite3_str_appendall(sql, dns_order);
	return sqlite3_str_finish(sql);
}

static int bind_filters(sqlite3_stmt *st, const struct dns_args *args)
{
	for (int id = 0; id < FILTER_COUNT; id++) {
		const struct dns_filter_value *value = &args->filters[id];
		int index, rc;

		if (!value->given)
			continue;
		index = sqlite3_bind_parameter_index(st, filter_sql[id].parameter);
		if (value->text)
			rc = sqlite3_bind_text(st, index, value->text, value->text_len, SQLITE_STATIC);
		else
			rc = sqlite3_bind_int64(st, index, value->number);
		if (rc != SQLITE_OK)
			return -1;
	}
	return 0;
}

int cmd_dns(int argc, char **argv, struct flowq_globals *globals)
{
	struct dns_args args = { .globals = globals };
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	struct fr_output_opts output;
	int64_t now_ns;
	int status = FLOWQ_EXIT_FAILURE;

	if (argp_parse(&dns_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
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
	output = globals->output;
	output.json_columns = json_columns;
	if (flowq_print_result(st, &output))
		goto cleanup;
	status = FLOWQ_EXIT_OK;
cleanup:
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_close(db);
	return status;
}
