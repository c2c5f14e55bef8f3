/*
 * Result output for flowq: every row of a prepared statement as an aligned table, CSV
 * (RFC 4180), one JSON array, or JSON Lines.
 *
 * CSV and JSON stream row by row with nothing allocated per row. The table has to see rows
 * before it knows the column widths: it keeps the rendered cells of up to TABLE_BATCH rows in
 * one buffer, prints them, and goes on with the next batch at widths that only grow, so an
 * endless query prints as it goes in bounded memory.
 *
 * Text is made safe for each format by textsafe.c: valid UTF-8 in CSV and JSON, nothing a
 * terminal would act on in a table.
 */
#include "output.h"
#include "textsafe.h"
#include "timefmt.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 1e15 ns is 1970-01-12: no duration we record is that long, no time we record that early. */
#define TIME_MIN_NS 1000000000000000LL
#define TABLE_BATCH 1000

static const char replacement_char[] = "\xef\xbf\xbd"; /* U+FFFD, for invalid UTF-8 */

int fr_format_parse(const char *s, enum fr_format *out)
{
	static const struct {
		const char *name;
		enum fr_format format;
	} formats[] = {
		{ "table", FR_FMT_TABLE },
		{ "csv", FR_FMT_CSV },
		{ "json", FR_FMT_JSON },
		{ "jsonl", FR_FMT_JSONL },
	};

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (s && strcmp(s, formats[i].name) == 0) {
			*out = formats[i].format;
			return 0;
		}
	}
	return -1;
}

struct column {
	const char *name;
	char *shown;     /* table: the name, terminal-safe */
	int is_time;     /* name ends in _ns */
	int is_json;     /* listed in json_columns: written as a nested JSON value */
	int has_number;  /* table: some cell is a number ... */
	int has_text;    /* ... or text, which decides the alignment */
	size_t width;    /* table: widest cell or the header */
};

/* One value of the current row, ready to print. Text and blobs point into the statement;
 * numbers and times are rendered into buf. */
struct cell {
	enum { CELL_NULL, CELL_NUMBER, CELL_NONFINITE, CELL_TEXT, CELL_BLOB } kind;
	const char *p;
	size_t len;
	char buf[48];
};

/* Shortest %g that reads back as the same double: exact like %.17g, without showing 0.1 as
 * 0.10000000000000001 to a person reading a table. */
static int format_real_short(char *buf, size_t len, double d)
{
	int n = 0;

	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return n;
}

static void cell_get(sqlite3_stmt *st, int i, const struct column *col, const struct fr_output_opts *o,
		     int short_reals, struct cell *c)
{
	int n;

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER: {
		sqlite3_int64 v = sqlite3_column_int64(st, i);

		if (col->is_time && v >= TIME_MIN_NS) {
			c->kind = CELL_TEXT;
			c->len = fr_time_format(v, o->utc, c->buf, sizeof(c->buf));
		} else {
			c->kind = CELL_NUMBER;
			n = snprintf(c->buf, sizeof(c->buf), "%lld", (long long)v);
			c->len = (size_t)n;
		}
		c->p = c->buf;
		break;
	}
	case SQLITE_FLOAT: {
		double d = sqlite3_column_double(st, i);

		c->kind = isfinite(d) ? CELL_NUMBER : CELL_NONFINITE;
		if (short_reals)
			n = format_real_short(c->buf, sizeof(c->buf), d);
		else
			n = snprintf(c->buf, sizeof(c->buf), "%.17g", d);
		c->p = c->buf;
		c->len = (size_t)n;
		break;
	}
	case SQLITE_TEXT:
		c->kind = CELL_TEXT;
		/* text before bytes: the byte count is of the UTF-8 form text returned. */
		c->p = (const char *)sqlite3_column_text(st, i);
		c->len = (size_t)sqlite3_column_bytes(st, i);
		if (!c->p) { /* out of memory converting it: show it as empty rather than crash */
			c->p = "";
			c->len = 0;
		}
		break;
	case SQLITE_BLOB:
		c->kind = CELL_BLOB;
		c->p = sqlite3_column_blob(st, i);
		c->len = (size_t)sqlite3_column_bytes(st, i);
		break;
	default:
		c->kind = CELL_NULL;
		c->p = "";
		c->len = 0;
		break;
	}
}

static void write_hex(FILE *f, const char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		putc(digits[(unsigned char)p[i] >> 4], f);
		putc(digits[(unsigned char)p[i] & 15], f);
	}
}

/* ---- CSV ---- */

/* bytes with each invalid UTF-8 byte as U+FFFD */
static void write_utf8(FILE *f, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t start = 0, i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = fr_utf8_next(u + i, len - i, &cp);

		if (n) {
			i += n;
			continue;
		}
		fwrite(p + start, 1, i - start, f);
		fputs(replacement_char, f);
		start = ++i;
	}
	fwrite(p + start, 1, len - start, f);
}

static void csv_field(FILE *f, const char *p, size_t len)
{
	size_t start = 0;

	if (!memchr(p, ',', len) && !memchr(p, '"', len) && !memchr(p, '\r', len) && !memchr(p, '\n', len)) {
		write_utf8(f, p, len);
		return;
	}
	putc('"', f);
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '"')
			continue;
		write_utf8(f, p + start, i + 1 - start);
		putc('"', f);
		start = i + 1;
	}
	write_utf8(f, p + start, len - start);
	putc('"', f);
}

static void csv_header(FILE *f, const struct column *cols, int ncols)
{
	for (int i = 0; i < ncols; i++) {
		if (i)
			putc(',', f);
		csv_field(f, cols[i].name, strlen(cols[i].name));
	}
	fputs("\r\n", f);
}

static void csv_row(FILE *f, sqlite3_stmt *st, const struct column *cols, int ncols,
		    const struct fr_output_opts *o)
{
	struct cell c;

	for (int i = 0; i < ncols; i++) {
		if (i)
			putc(',', f);
		cell_get(st, i, &cols[i], o, 0, &c);
		if (c.kind == CELL_BLOB)
			write_hex(f, c.p, c.len);
		else
			csv_field(f, c.p, c.len);
	}
	fputs("\r\n", f);
}

/* ---- JSON and JSON Lines ---- */

/* A JSON string: valid UTF-8 whatever the bytes (U+FFFD for an invalid one), with every
 * control and bidi code point escaped, so that a terminal showing the JSON is safe too. */
static void json_string(FILE *f, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t start = 0, i = 0;

	putc('"', f);
	while (i < len) {
		uint32_t cp;
		size_t n = fr_utf8_next(u + i, len - i, &cp);
		const char *esc;
		char ubuf[8];

		if (!n) {
			esc = "\\ufffd";
			n = 1;
		} else if (cp == '"') {
			esc = "\\\"";
		} else if (cp == '\\') {
			esc = "\\\\";
		} else if (cp == '\n') {
			esc = "\\n";
		} else if (cp == '\r') {
			esc = "\\r";
		} else if (cp == '\t') {
			esc = "\\t";
		} else if (fr_cp_unsafe(cp)) {
			snprintf(ubuf, sizeof(ubuf), "\\u%04x", (unsigned)cp);
			esc = ubuf;
		} else {
			i += n;
			continue;
		}
		fwrite(p + start, 1, i - start, f);
		fputs(esc, f);
		i += n;
		start = i;
	}
	fwrite(p + start, 1, len - start, f);
	putc('"', f);
}

static void json_object(FILE *f, sqlite3_stmt *st, const struct column *cols, int ncols,
			const struct fr_output_opts *o)
{
	struct cell c;

	putc('{', f);
	for (int i = 0; i < ncols; i++) {
		if (i)
			putc(',', f);
		json_string(f, cols[i].name, strlen(cols[i].name));
		putc(':', f);
		cell_get(st, i, &cols[i], o, 0, &c);
		switch (c.kind) {
		case CELL_NUMBER:
			fwrite(c.p, 1, c.len, f);
			break;
		case CELL_TEXT:
			if (cols[i].is_json)
				fwrite(c.p, 1, c.len, f);
			else
				json_string(f, c.p, c.len);
			break;
		case CELL_BLOB:
			putc('"', f);
			write_hex(f, c.p, c.len);
			putc('"', f);
			break;
		case CELL_NULL:
		case CELL_NONFINITE: /* JSON has no infinity or NaN */
			fputs("null", f);
			break;
		}
	}
	putc('}', f);
}

/* ---- table ---- */

/* Every cell of every row, NUL-terminated, one after the other; cell k starts at off[k]. */
struct table {
	char *text;
	size_t used, cap;
	size_t *off;
	size_t ncells, cap_cells;
};

/* Returns the cell's width (code points), or -1 if out of memory. */
static long table_add_cell(struct table *t, const struct cell *c)
{
	size_t need = (c->kind == CELL_BLOB ? 2 * c->len : c->len) + 1;
	char *dst;

	if (t->ncells == t->cap_cells) {
		size_t cap = t->cap_cells ? 2 * t->cap_cells : 256;
		size_t *off = realloc(t->off, cap * sizeof(*off));

		if (!off)
			return -1;
		t->off = off;
		t->cap_cells = cap;
	}
	if (t->cap - t->used < need) {
		size_t cap = t->cap ? t->cap : 4096;
		char *text;

		while (cap - t->used < need)
			cap *= 2;
		text = realloc(t->text, cap);
		if (!text)
			return -1;
		t->text = text;
		t->cap = cap;
	}
	dst = t->text + t->used;
	t->off[t->ncells++] = t->used;
	if (c->kind == CELL_BLOB) {
		static const char digits[] = "0123456789abcdef";

		for (size_t i = 0; i < c->len; i++) {
			*dst++ = digits[(unsigned char)c->p[i] >> 4];
			*dst++ = digits[(unsigned char)c->p[i] & 15];
		}
		*dst = '\0';
		t->used += need;
		return (long)(2 * c->len);
	}
	/* Task names and command lines are whatever a process chose: keep control characters
	 * (escape sequences, newlines, bidi overrides) away from the terminal and the layout. */
	need = fr_term_safe(dst, c->p, c->len) + 1;
	t->used += need;
	return (long)fr_utf8_count(dst, need - 1);
}

static int table_row(struct table *t, sqlite3_stmt *st, struct column *cols, int ncols,
		     const struct fr_output_opts *o)
{
	struct cell c;

	for (int i = 0; i < ncols; i++) {
		long width;

		cell_get(st, i, &cols[i], o, 1, &c);
		width = table_add_cell(t, &c);
		if (width < 0)
			return -1;
		if (c.kind == CELL_NUMBER || c.kind == CELL_NONFINITE)
			cols[i].has_number = 1;
		else if (c.kind != CELL_NULL)
			cols[i].has_text = 1;
		if ((size_t)width > cols[i].width)
			cols[i].width = (size_t)width;
	}
	return 0;
}

/* Lay one row of cells out in line (which is long enough for the widest row) and print it,
 * cut to o->width. */
static void table_line(FILE *f, char *line, const char *const *cells, const struct column *cols, int ncols,
		       const struct fr_output_opts *o)
{
	size_t len = 0;

	for (int i = 0; i < ncols; i++) {
		size_t n = strlen(cells[i]), pad = cols[i].width - fr_utf8_count(cells[i], n);
		int right = cols[i].has_number && !cols[i].has_text;

		if (i) {
			memcpy(line + len, "  ", 2);
			len += 2;
		}
		if (right) {
			memset(line + len, ' ', pad);
			len += pad;
		}
		memcpy(line + len, cells[i], n);
		len += n;
		if (!right && i < ncols - 1) {
			memset(line + len, ' ', pad);
			len += pad;
		}
	}
	if (o->width > 0 && len > (size_t)o->width) {
		len = (size_t)o->width;
		/* Back off to a character boundary rather than print half a UTF-8 sequence. */
		while (len > 0 && ((unsigned char)line[len] & 0xc0) == 0x80)
			len--;
	}
	while (len > 0 && line[len - 1] == ' ')
		len--;
	fwrite(line, 1, len, f);
	putc('\n', f);
}

/* Print the rows kept in t (after the header, if header) and empty t for the next batch. */
static int table_print(FILE *f, struct table *t, const struct column *cols, int ncols,
		       const struct fr_output_opts *o, int header)
{
	const char **cells = NULL;
	char *line = NULL;
	size_t line_len = 0;
	int ret = -1;

	cells = malloc((size_t)ncols * sizeof(*cells));
	for (int i = 0; i < ncols; i++)
		line_len += 4 * cols[i].width + 2; /* a code point is at most 4 bytes */
	line = malloc(line_len + 1);
	if (!cells || !line)
		goto cleanup;
	for (int i = 0; i < ncols && header; i++)
		cells[i] = cols[i].shown;
	if (header)
		table_line(f, line, cells, cols, ncols, o);
	for (size_t k = 0; k < t->ncells; k += (size_t)ncols) {
		for (int i = 0; i < ncols; i++)
			cells[i] = t->text + t->off[k + (size_t)i];
		table_line(f, line, cells, cols, ncols, o);
	}
	t->ncells = t->used = 0;
	ret = 0;
cleanup:
	free(cells);
	free(line);
	return ret;
}

/* ---- driver ---- */

static int columns_init(struct column *cols, sqlite3_stmt *st, int ncols,
			const char *const *json_columns)
{
	for (int i = 0; i < ncols; i++) {
		const char *name = sqlite3_column_name(st, i);
		size_t n;

		if (!name)
			return -1;
		n = strlen(name);
		cols[i].name = name;
		cols[i].shown = malloc(n + 1);
		if (!cols[i].shown)
			return -1;
		fr_term_safe(cols[i].shown, name, n);
		cols[i].is_time = n >= 3 && strcmp(name + n - 3, "_ns") == 0;
		for (const char *const *j = json_columns; j && *j; j++)
			cols[i].is_json |= strcmp(*j, name) == 0;
		cols[i].width = fr_utf8_count(cols[i].shown, strlen(cols[i].shown));
	}
	return 0;
}

static void step_error(sqlite3_stmt *st, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
}

long fr_output_stmt(FILE *f, sqlite3_stmt *st, const struct fr_output_opts *o, char *err, size_t errlen)
{
	struct column *cols = NULL;
	struct table table = { 0 };
	long rows = 0;
	int ncols = 0, rc, header = !o->no_header;

	/* Step once before looking at the columns: the first step may re-prepare the statement,
	 * which invalidates the names taken before it. */
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		step_error(st, err, errlen);
		goto fail;
	}
	ncols = sqlite3_column_count(st);
	cols = calloc(ncols ? (size_t)ncols : 1, sizeof(*cols));
	if (!cols || columns_init(cols, st, ncols, o->json_columns)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}

	if (ncols > 0 && o->format == FR_FMT_CSV && header)
		csv_header(f, cols, ncols);
	for (; rc == SQLITE_ROW; rc = sqlite3_step(st), rows++) {
		if (ncols == 0)
			continue;
		switch (o->format) {
		case FR_FMT_TABLE:
			if (table_row(&table, st, cols, ncols, o) ||
			    (table.ncells >= (size_t)TABLE_BATCH * ncols &&
			     table_print(f, &table, cols, ncols, o, header))) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			if (!table.ncells)
				header = 0;
			break;
		case FR_FMT_CSV:
			csv_row(f, st, cols, ncols, o);
			break;
		case FR_FMT_JSON:
			fputs(rows ? ",\n" : "[\n", f);
			json_object(f, st, cols, ncols, o);
			break;
		case FR_FMT_JSONL:
			json_object(f, st, cols, ncols, o);
			putc('\n', f);
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		step_error(st, err, errlen);
		goto fail;
	}

	if (o->format == FR_FMT_JSON)
		fputs(rows && ncols ? "\n]\n" : "[]\n", f);
	else if (o->format == FR_FMT_TABLE && ncols > 0 && table_print(f, &table, cols, ncols, o, header)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (fflush(f) != 0 || ferror(f)) {
		snprintf(err, errlen, "cannot write output: %s", strerror(errno));
		goto fail;
	}
	goto cleanup;
fail:
	rows = -1;
cleanup:
	for (int i = 0; cols && i < ncols; i++)
		free(cols[i].shown);
	free(cols);
	free(table.text);
	free(table.off);
	return rows;
}
