/*
 * flowq dns: list recorded DNS transactions (the dns table), optionally filtered, oldest
 * first.
 *
 * The filters are a table of SQL conditions, joined into the WHERE clause as query/filters.c
 * describes. --rcode and --type are checked against lib/dns.c's mnemonics and brought to the
 * spelling the recorder stores (fr_dns_rcode_str, fr_dns_type_str), so 'nxdomain' finds
 * NXDOMAIN and 'type28' finds AAAA.
 *
 * answers is JSON text in the database; in --format json/jsonl it is written as a nested
 * value (fr_output_opts.json_columns). The recorder only stores valid JSON there; anything
 * else (a database written by other hands) is quoted by SQLite first, so the output stays
 * JSON either way.
 */
#include "query.h"
#include "dns.h"

#include <stdint.h>
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

static const struct flowq_filter dns_filters[FILTER_COUNT] = {
	[FILTER_SINCE] = { "ts_ns >= :since", ":since" },
	[FILTER_UNTIL] = { "ts_ns <= :until", ":until" },
	[FILTER_PID] = { "pid = :pid", ":pid" },
	[FILTER_COMM] = { "comm = :comm", ":comm" },
	/* lower() folds ASCII only, which is what DNS names compare by (RFC 4343). */
	[FILTER_NAME] = { "lower(qname) GLOB lower(:name)", ":name" },
	[FILTER_RCODE] = { "rcode = :rcode", ":rcode" },
	[FILTER_TYPE] = { "qtype = :type", ":type" },
};

static const struct flowq_filter_query dns_query = {
	.select = "SELECT id, ts_ns, pid, tid, comm, netns, flow_id, role, transport, server,"
		  " server_port, qid, qname, qtype, rcode,"
		  " CASE WHEN answers IS NULL OR json_valid(answers) THEN answers"
		  " ELSE json_quote(answers) END AS answers, response_ns, latency_ns FROM dns",
	.filters = dns_filters,
	.count = FILTER_COUNT,
	.order = " ORDER BY ts_ns, id",
	.follow_condition = FLOWQ_FOLLOW_NEW,
	.follow_state = "SELECT id, 0 FROM dns",
};

/* Large enough for every mnemonic fr_dns_rcode_str and fr_dns_type_str write
 * ("RCODE4095", "TYPE65535", "NSEC3PARAM"). */
#define MNEMONIC_MAX 32

struct dns_args {
	struct flowq_globals *globals;
	/* Times are kept as text until all options are read: --utc may come after them. */
	const char *since_arg, *until_arg;
	char rcode[MNEMONIC_MAX], type[MNEMONIC_MAX];
	struct flowq_filter_value filters[FILTER_COUNT];
	int follow;
};

enum {
	OPT_SINCE = 0x200,
	OPT_UNTIL,
	OPT_PID,
	OPT_COMM,
	OPT_FOLLOW,
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
	{ "follow", OPT_FOLLOW, NULL, 0,
	  "Then print the DNS transactions that come, as they reach the database, until Ctrl-C", 0 },
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

/* Names are stored without their final dot; dig and most tools print it. "." (the root)
 * stays as it is. */
static void set_name(struct dns_args *args, const char *arg)
{
	size_t n = strlen(arg);

	if (n > 1 && arg[n - 1] == '.')
		n--;
	if (n > INT32_MAX)
		flowq_usage_error("invalid --name: too long");
	args->filters[FILTER_NAME] = flowq_filter_text(arg);
	args->filters[FILTER_NAME].text_len = (int)n;
}

static void set_rcode(struct dns_args *args, const char *arg)
{
	int rcode;

	if (fr_dns_rcode_parse(arg, &rcode))
		flowq_usage_error("invalid --rcode '%s': expected an rcode such as NOERROR, NXDOMAIN, "
				  "SERVFAIL or REFUSED (or RCODEn)", arg);
	fr_dns_rcode_str(rcode, args->rcode, sizeof(args->rcode));
	args->filters[FILTER_RCODE] = flowq_filter_text(args->rcode);
}

static void set_type(struct dns_args *args, const char *arg)
{
	uint16_t type;

	if (fr_dns_type_parse(arg, &type))
		flowq_usage_error("invalid --type '%s': expected a record type such as A, AAAA, MX or "
				  "TXT (or TYPEn)", arg);
	fr_dns_type_str(type, args->type, sizeof(args->type));
	args->filters[FILTER_TYPE] = flowq_filter_text(args->type);
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
		args->filters[FILTER_PID] = flowq_filter_pid(arg);
		break;
	case OPT_FOLLOW:
		args->follow = 1;
		break;
	case OPT_COMM:
		args->filters[FILTER_COMM] = flowq_filter_text(arg);
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

static const struct argp dns_argp = {
	.options = dns_options,
	.parser = parse_dns_option,
	.doc = dns_doc,
	.children = flowq_command_children,
};

int cmd_dns(int argc, char **argv, struct flowq_globals *globals)
{
	struct dns_args args = { .globals = globals };
	struct fr_output_opts output;

	if (argp_parse(&dns_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	flowq_resolve_times(globals, args.since_arg, args.until_arg, &args.filters[FILTER_SINCE],
			    &args.filters[FILTER_UNTIL]);
	output = globals->output;
	output.json_columns = json_columns;
	return args.follow ? flowq_follow_filtered(globals, &output, &dns_query, args.filters) :
			     flowq_print_filtered(globals, &output, &dns_query, args.filters);
}
