/*
 * flowq's global options (--data, --db, --format, --utc, --help, --version) as an argp
 * child that every command includes, and the one-line usage error they all share.
 *
 * --format names either a result format (table, csv, json, jsonl) or, for flowq pcap only, a
 * capture file format (pcap, pcapng); set_format records it and check_format decides,
 * after a command's options are all read, whether it suits that command.
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
	{ "format", OPT_FORMAT, "FMT", 0,
	  "table (default), csv, json or jsonl; for flowq pcap: pcap or pcapng", 0 },
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

int flowq_parse_unsigned(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -1;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

void flowq_command_init(struct argp_state *state, const char *usage_name, struct flowq_globals *globals)
{
	state->child_inputs[0] = globals;
	globals->usage_name = usage_name;
}

/* --format, before or after the command word: result formats and flowq pcap's file formats
 * alike, so that the word may come anywhere. Which kind the command takes is checked by
 * check_format once all its options are read. */
static void set_format(struct flowq_globals *globals, const char *arg)
{
	if (fr_format_parse(arg, &globals->output.format) == 0)
		globals->capture_format = FLOWQ_CAPTURE_NONE;
	else if (strcmp(arg, "pcap") == 0)
		globals->capture_format = FLOWQ_CAPTURE_PCAP;
	else if (strcmp(arg, "pcapng") == 0)
		globals->capture_format = FLOWQ_CAPTURE_PCAPNG;
	else
		flowq_usage_error("invalid --format '%s' (expected table, csv, json or jsonl; pcap or "
				  "pcapng for flowq pcap)", arg);
	globals->format_arg = arg;
}

/* The one place that decides whether the last --format suits the command. */
static void check_format(const struct flowq_globals *globals)
{
	if (!globals->format_arg)
		return;
	if (globals->capture_command && globals->capture_format == FLOWQ_CAPTURE_NONE)
		flowq_usage_error("--format %s is not for 'flowq pcap' (expected pcap or pcapng)",
				  globals->format_arg);
	if (!globals->capture_command && globals->capture_format != FLOWQ_CAPTURE_NONE)
		flowq_usage_error("--format %s is only for 'flowq pcap'", globals->format_arg);
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
		set_format(globals, arg);
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
	case ARGP_KEY_END:
		/* Only in a command's parser (usage_name is set by flowq_command_init): before
		 * the command word the command is not known yet. */
		if (globals->usage_name)
			check_format(globals);
		break;
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

/* Group 3: after a command's own option groups (flowq pcap has 1 and 2), which argp lists in
 * ascending order. */
const struct argp_child flowq_command_children[] = {
	{ &flowq_globals_argp, 0, "Global options:", 3 },
	{ 0 }
};
