/*
 * flowq's global options (--data, --db, --format, --utc, --help, --version) as an argp
 * child that every command includes, and the one-line usage error they all share.
 */
#include "query.h"
#include "db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_DATA = 0x100,
	OPT_DB,
	OPT_FORMAT,
	OPT_UTC,
	OPT_VERSION,
};

static const struct argp_option global_options[] = {
	{ "data", OPT_DATA, "DIR", 0,
	  "Recorder data directory; the database is DIR/" FLOWQ_DB_FILE_NAME
	  " (default " FLOWQ_DEFAULT_DATA_DIR ")", 0 },
	{ "db", OPT_DB, "FILE", 0, "Database file to read; overrides --data", 0 },
	{ "format", OPT_FORMAT, "FMT", 0, "table (default), csv, json or jsonl", 0 },
	{ "utc", OPT_UTC, NULL, 0,
	  "Print times in UTC, and read times given without an offset as UTC (default: local time)",
	  0 },
	/* Group -1: listed last, after the options of whatever command is being described. */
	{ "help", 'h', NULL, 0, "Print this help and exit", -1 },
	{ "version", OPT_VERSION, NULL, 0, "Print the version and exit", -1 },
	{ 0 }
};

void flowq_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("flowq: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(FLOWQ_EXIT_USAGE);
}

void flowq_command_init(struct argp_state *state, const char *usage_name, struct flowq_globals *globals)
{
	state->child_inputs[0] = globals;
	globals->usage_name = usage_name;
}

/* For --help and --version: success only if the text was really written. */
__attribute__((noreturn)) static void exit_after_output(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "flowq: cannot write output: %s\n", strerror(errno));
		exit(FLOWQ_EXIT_FAILURE);
	}
	exit(FLOWQ_EXIT_OK);
}

static error_t parse_global_option(int key, char *arg, struct argp_state *state)
{
	struct flowq_globals *globals = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		/* getopt has already printed a one-line reason for a bad option; argp would add
		 * a "Try --help" line and pick its own exit status. Errors are one line and exit
		 * 2, so argp stays quiet and the caller exits. */
		state->err_stream = NULL;
		break;
	case OPT_DATA:
		if (!*arg)
			flowq_usage_error("--data needs a directory");
		globals->data_dir = arg;
		break;
	case OPT_DB:
		if (!*arg)
			flowq_usage_error("--db needs a file name");
		globals->db_file = arg;
		break;
	case OPT_FORMAT:
		if (fr_format_parse(arg, &globals->output.format))
			flowq_usage_error("invalid --format '%s' (expected table, csv, json or jsonl)", arg);
		break;
	case OPT_UTC:
		globals->output.utc = 1;
		break;
	case 'h':
		/* argp names the program after argv[0], which stays "flowq" so that getopt's
		 * messages start "flowq: "; help for a command reads better as "flowq flows". */
		if (globals->usage_name)
			state->name = (char *)globals->usage_name;
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP & ~ARGP_HELP_EXIT_OK);
		exit_after_output();
	case OPT_VERSION:
		printf("flowq %s (database schema up to version %d)\n", FLOWQ_VERSION, FR_SCHEMA_VERSION);
		exit_after_output();
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp flowq_globals_argp = {
	.options = global_options,
	.parser = parse_global_option,
};
