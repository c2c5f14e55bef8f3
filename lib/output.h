/*
 * Result output for flowq: table, CSV (RFC 4180), JSON (one array of objects keyed by column
 * name) and JSON Lines (one object per line).
 *
 * Times: an integer column whose name ends in "_ns" and whose value is at least 1e15
 * (later than 1970-01-12) is a point in time and is shown as RFC 3339 text in every format;
 * smaller _ns values (durations such as latency_ns) stay numbers.
 */
#ifndef FR_OUTPUT_H
#define FR_OUTPUT_H

#include <stdio.h>
#include <sqlite3.h>

enum fr_format { FR_FMT_TABLE, FR_FMT_CSV, FR_FMT_JSON, FR_FMT_JSONL };

struct fr_output_opts {
	enum fr_format format;
	int utc;   /* times in UTC instead of local time */
	int width; /* table: cut lines to this many columns; 0 = never cut */
	/* json/jsonl: text columns (NULL-terminated list of names) that hold JSON and are
	 * written as nested values, not as strings. The caller guarantees the text is JSON. */
	const char *const *json_columns;
	/* table and csv: no header line (the rows continue an earlier result: --follow) */
	int no_header;
};

/* "table", "csv", "json", "jsonl" -> 0 and *out; anything else -> -1. */
int fr_format_parse(const char *s, enum fr_format *out);

/* Step st to its end, writing every row to f. Returns the number of rows, or -1 with the
 * SQLite error in err (rows already written stay written). */
long fr_output_stmt(FILE *f, sqlite3_stmt *st, const struct fr_output_opts *o, char *err, size_t errlen);

#endif
