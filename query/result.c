/*
 * Printing one prepared statement's result on stdout, with failures reported the same way
 * by every command.
 */
#include "query.h"

#include <stdio.h>

int flowq_print_result(sqlite3_stmt *st, const struct fr_output_opts *output)
{
	char err[512];

	if (fr_output_stmt(stdout, st, output, err, sizeof(err)) >= 0)
		return 0;
	/* fr_output_stmt reports a failed write and a failed query alike; only the latter is
	 * the SQL's fault. */
	if (ferror(stdout))
		fprintf(stderr, "flowq: %s\n", err);
	else
		fprintf(stderr, "flowq: SQL error: %s\n", err);
	return -1;
}
