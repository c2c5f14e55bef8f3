/*
 * flowq sql: run the user's SQL against the database and print every result.
 *
 * The text may hold several statements; they are prepared and run one at a time, because a
 * later one may depend on an earlier one having run. Each is checked with
 * sqlite3_stmt_readonly() before it is stepped, so a write is refused before it starts
 * rather than left to the read-only open to reject halfway.
 */
#include "query.h"

#include <stdio.h>
#include <string.h>

/* How much of a refused statement the error message quotes. */
#define REFUSED_QUOTE_BYTES 60

struct sql_args {
	struct flowq_globals *globals;
	const char *sql;
};

static const char sql_doc[] =
	"Run SQL against the flowrec database and print each statement's result in the chosen "
	"--format. SQL may hold several statements separated by ';'. Only statements that read "
	"are run: one that would write is refused (exit 1) and the database is left untouched; "
	"ATTACH and DETACH are not authorised."
	"\v"
	"Tables: runs, processes, flows, dns, pcap_segments, pcap_chunks, pcap_chunk_flows; flowq "
	"sql \"SELECT sql FROM sqlite_schema\" prints their "
	"definitions. Integer columns named *_ns that hold a point in time are printed as RFC 3339 "
	"text. SQL that starts with '-' goes after a '--' argument.";

static error_t parse_sql_option(int key, char *arg, struct argp_state *state)
{
	struct sql_args *args = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq sql", args->globals);
		break;
	case ARGP_KEY_ARG:
		if (args->sql)
			flowq_usage_error("sql takes a single argument: quote the whole SQL text");
		args->sql = arg;
		break;
	case ARGP_KEY_END:
		if (!args->sql)
			flowq_usage_error("sql needs the SQL to run, e.g. "
					  "flowq sql \"SELECT count(*) FROM flows\"");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp sql_argp = {
	.parser = parse_sql_option,
	.args_doc = "SQL",
	.doc = sql_doc,
	.children = flowq_command_children,
};

/* The start of a statement's text on one line: leading blanks skipped, line breaks and
 * tabs shown as spaces, cut at REFUSED_QUOTE_BYTES without splitting a UTF-8 character. */
static void quote_statement(const char *text, char *buf, size_t len)
{
	size_t n = 0;

	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	n = strlen(text);
	if (n > REFUSED_QUOTE_BYTES) {
		n = REFUSED_QUOTE_BYTES;
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
	}
	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
	buf[n] = '\0';
}

/* Step a statement that returns no columns (BEGIN, a PRAGMA that only sets) to its end. */
static int step_to_end(sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	return rc == SQLITE_DONE ? 0 : -1;
}

static int run_statements(sqlite3 *db, const char *sql, const struct fr_output_opts *output)
{
	const char *next = sql;
	sqlite3_stmt *st = NULL;
	int status = FLOWQ_EXIT_FAILURE, results = 0;
	char quoted[REFUSED_QUOTE_BYTES + 1];

	while (*next) {
		const char *tail = NULL;

		if (sqlite3_prepare_v2(db, next, -1, &st, &tail) != SQLITE_OK) {
			fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
			goto cleanup;
		}
		next = tail;
		if (!st) /* only blanks or a comment left */
			continue;
		if (!sqlite3_stmt_readonly(st)) {
			quote_statement(sqlite3_sql(st), quoted, sizeof(quoted));
			fprintf(stderr, "flowq: refusing to run a statement that writes: %s\n", quoted);
			goto cleanup;
		}
		if (sqlite3_column_count(st) == 0) {
			if (step_to_end(st)) {
				fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
				goto cleanup;
			}
		} else {
			/* Tables one after another would read as one table with a second header. */
			if (results++ > 0 && output->format == FR_FMT_TABLE)
				putchar('\n');
			if (flowq_print_result(st, output))
				goto cleanup;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	status = FLOWQ_EXIT_OK;
cleanup:
	sqlite3_finalize(st);
	return status;
}

int cmd_sql(int argc, char **argv, struct flowq_globals *globals)
{
	struct sql_args args = { .globals = globals };
	sqlite3 *db = NULL;
	int status = FLOWQ_EXIT_FAILURE;

	if (argp_parse(&sql_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	if (flowq_db_open(globals, &db))
		goto cleanup;
	status = run_statements(db, args.sql, &globals->output);
cleanup:
	sqlite3_close(db);
	return status;
}
