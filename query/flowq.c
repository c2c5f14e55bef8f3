/*
 * flowq: read-only queries over the database flowrec records into.
 *
 * main() parses the global options that come before the command word, picks the command
 * and hands it the rest of the command line; each command parses that with its own argp,
 * which includes the globals again so that they may also follow the command word.
 */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct flowq_command {
	const char *name;
	int (*run)(int argc, char **argv, struct flowq_globals *globals);
};

static const struct flowq_command commands[] = {
	{ "sql", cmd_sql },
	{ "flows", cmd_flows },
	{ "dns", cmd_dns },
	{ "events", cmd_events },
	{ "status", cmd_status },
	{ "pcap", cmd_pcap },
	{ "plot", cmd_plot },
	{ "report", cmd_report },
	{ "ipfix", cmd_ipfix },
};

struct main_args {
	struct flowq_globals *globals;
	int command_index; /* argv index of the command word; 0 while none was seen */
};

static const char main_doc[] =
	"Query the network flows flowrec recorded. The database is only ever read."
	"\v"
	"Global options may come before or after the command. 'flowq COMMAND --help' lists a "
	"command's options and the columns it prints.\n"
	"\n"
	"Times (T): RFC 3339 (2026-11-30T10:00:00Z, 2026-11-30T11:00:00+01:00), "
	"'YYYY-MM-DD HH:MM[:SS[.frac]]' (local time, or UTC with --utc), @EPOCH seconds, or a "
	"duration back from now (30s, 15m, 2h, 1h30m, 3d). Times are printed as RFC 3339 text "
	"in every format.\n"
	"\n"
	"Exit status: 0 success; 1 failure (database, SQL, a refused write); 2 bad command line.";

/* The commands, shown in --help as documentation entries (they are not options). */
#define COMMAND_DOC(name, doc) { name, 0, NULL, OPTION_DOC | OPTION_NO_USAGE, doc, 1 }
static const struct argp_option main_options[] = {
	{ NULL, 0, NULL, 0, "Commands:", 1 },
	COMMAND_DOC("sql SQL",
		    "Run SQL (one or more statements separated by ';') and print each result. A "
		    "statement that would write is refused; ATTACH and DETACH are not authorised."),
	COMMAND_DOC("flows [FILTER...]",
		    "List flows ordered by start time. Filters, combined with AND: --since T, "
		    "--until T, --pid N, --comm NAME, --netns INODE, --host ADDR, --port N, "
		    "--proto tcp|udp|icmp|icmp6|mptcp, --container ID, --verdict deny|audit|any."),
	COMMAND_DOC("dns [FILTER...]",
		    "List DNS queries and their responses (either side: a recorded task asking or "
		    "answering) ordered by time. Filters, combined with AND: --since T, --until T "
		    "(inclusive), --pid N, --comm NAME, --name GLOB (case-insensitive), --rcode R "
		    "(NXDOMAIN, ...), --type T (A, AAAA, ...)."),
	COMMAND_DOC("events [FILTER...]",
		    "List socket calls (create, bind, listen, connect, accept, setsockopt, close) "
		    "with their arguments and results, ordered by time. Filters, combined with AND: "
		    "--since T, --until T (inclusive), --pid N, --comm NAME, --event E."),
	COMMAND_DOC("status",
		    "One row per recorder run (live, ended or crashed, with loss counters), and the "
		    "database size and row counts."),
	COMMAND_DOC("pcap -w FILE [FILTER...]",
		    "Export recorded packets, in time order, to FILE.pcap or FILE.pcapng ('-': "
		    "standard output). Filters, combined with AND: --since T, --until T (inclusive), "
		    "--flow ID (repeatable), --pid N, --comm NAME, --netns INODE, --host ADDR, "
		    "--port N, --filter EXPR (tcpdump syntax). --format pcap|pcapng (before or "
		    "after the word pcap) sets the file format."),
	COMMAND_DOC("ipfix [udp:|tcp:]HOST:PORT [FILTER...]",
		    "Send recorded flows to an IPFIX collector, one record per flow with the "
		    "elements flowrec --ipfix sends (a backfill). Filters as for flows; --domain N, "
		    "--rate N (records per second)."),
	COMMAND_DOC("plot -o FILE [--since T] [--until T] [--by KEY] [--top N]",
		    "Draw bytes per second over time as an SVG image ('-': standard output), one "
		    "line per top entry: --by process (default), container or destination; --top N "
		    "(default 5). Rates are approximate: each flow's bytes are spread evenly over "
		    "its lifetime."),
	COMMAND_DOC("report NAME [--since T] [--until T] [--limit N] [--param KEY=VALUE]...",
		    "Run the named SQL report (top-talkers, destinations, ...) with its parameters "
		    "bound; 'flowq report --list' lists those found (docs/reports.md)."),
	{ 0 }
};

static error_t parse_main_option(int key, char *arg, struct argp_state *state)
{
	struct main_args *args = state->input;

	(void)arg;
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = args->globals;
		break;
	case ARGP_KEY_ARG:
		/* The command word: everything after it is for the command's own parser. */
		args->command_index = state->next - 1;
		state->next = state->argc;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child main_children[] = {
	{ &flowq_globals_argp, 0, "Global options:", 2 },
	{ 0 }
};

static const struct argp main_argp = {
	.options = main_options,
	.parser = parse_main_option,
	.args_doc = "COMMAND [ARG...]",
	.doc = main_doc,
	.children = main_children,
};

/* Tables are cut to the terminal's width; into a pipe or file they are never cut. */
static int output_width(void)
{
	struct winsize ws;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0)
		return 0;
	return ws.ws_col;
}

int main(int argc, char **argv)
{
	/* getopt names the program from argv[0] in its messages; errors say "flowq: "
	 * however flowq was invoked. */
	static char program_name[] = "flowq";
	struct flowq_globals globals = { .output = { .format = FR_FMT_TABLE } };
	struct main_args args = { .globals = &globals };
	const struct flowq_command *command = NULL;
	int status;

	if (argc < 1)
		return FLOWQ_EXIT_USAGE;
	argv[0] = program_name;
	/* In order, so that the first non-option is the command and options after it are
	 * left to the command. The help options are flowq's own (-h and --help alike). */
	if (argp_parse(&main_argp, argc, argv, ARGP_IN_ORDER | ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	if (args.command_index == 0) {
		argp_help(&main_argp, stderr, ARGP_HELP_SHORT_USAGE, program_name);
		fputs("Commands: sql, flows, dns, events, status, pcap, plot, report. 'flowq --help' tells more.\n", stderr);
		return FLOWQ_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[args.command_index], commands[i].name) == 0)
			command = &commands[i];
	}
	if (!command)
		flowq_usage_error("unknown command '%s' (commands: sql, flows, dns, events, status, pcap, plot, report; see flowq --help)",
				  argv[args.command_index]);

	globals.output.width = output_width();
	argv[args.command_index] = program_name;
	status = command->run(argc - args.command_index, argv + args.command_index, &globals);

	/* A result cut short by a full disk must not look like success. A command that failed
	 * has said why already. */
	errno = 0;
	if (status == FLOWQ_EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "flowq: cannot write output%s%s\n", errno ? ": " : "",
			errno ? strerror(errno) : "");
		status = FLOWQ_EXIT_FAILURE;
	}
	return status;
}
