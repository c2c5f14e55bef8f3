/*
 * flowq plot: bytes per second over time, one line per top process, container or
 * destination, drawn as a self-contained SVG file (no scripts, no external fonts or CSS).
 *
 * How a plot is made
 * ------------------
 * 1. The window: --since and --until; a bound not given is taken from the flows, the first
 *    flow's start_ns or the last flow's COALESCE(end_ns, last_ns), among the flows within the
 *    bound that was given. No flow there and a bound missing: nothing to plot (exit 1).
 * 2. The bucket width: the smallest round width (1 s, 2 s, 5 s, 10 s, 15 s, 30 s, 1 min, ...
 *    1 d, 2 d, 3 d, 7 d, then whole weeks; none more than 2.5 times the one before) that
 *    cuts the window into at most PLOT_MAX_BUCKETS buckets, which gives 240 to 600 points
 *    for any window of 240 s or more (a shorter one has fewer: 1 s is the least width). The window is then widened to whole buckets,
 *    aligned on multiples of the width in the plot's time zone, so that buckets and axis
 *    ticks fall on round times.
 * 3. One query reads the flows overlapping the window ordered by the grouping key, so a
 *    group's flows come one after another. Each group's bytes are spread into a scratch
 *    series; when the group ends it takes a place among the top N (pushing the smallest out
 *    into "other") or is added to "other". One pass, and memory for N + 2 series however
 *    many groups there are; the legend's totals are exactly the sums of what is drawn.
 * 4. The SVG is built in memory, then written to a temporary beside FILE, synced and
 *    renamed to FILE (lib/outfile.c; a FILE that is not a regular file is written in place).
 *
 * The approximation: a flow row holds only byte totals and its start, last and end times,
 * not when its bytes went. Each flow's bytes_out + bytes_in are taken as spread evenly over
 * [start_ns, COALESCE(end_ns, last_ns)]: a bucket gets the share of the flow's lifetime it
 * holds. A flow shorter than a bucket thus lands in the bucket it lies in (split between two
 * when it straddles a boundary); one with no duration at all goes wholly into the bucket of
 * its start. A bursty long-lived flow is drawn as a flat line at its average rate.
 */
#include "query.h"
#include "textsafe.h"
#include "outfile.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define DAY_S 86400LL
#define WEEK_S (7 * DAY_S)

/* Bucket widths are chosen so that a window has at most this many. */
#define PLOT_MAX_BUCKETS 600
#define PLOT_DEFAULT_TOP 5
#define PLOT_MAX_TOP 100

/* The window is kept within [1970, 2200): no flow is older, none is newer, and every sum of
 * times below stays far from int64 overflow. */
#define PLOT_MAX_NS (7258118400LL * NS_PER_S)
#define PLOT_MAX_RATE 4.6e18 /* bytes per second, about 2^62 */

/* Points are marked with dots when there are few enough of them to tell apart. */
#define PLOT_MARKERS_MAX 60

/* Legend labels longer than this (in characters) are cut, with "…"; the series' tooltip
 * has the whole label. */
#define LEGEND_LABEL_MAX 80

/* Layout, in SVG user units (pixels at 100%). The legend sits below the plot and grows
 * with the number of lines. */
#define SVG_WIDTH 960
#define PLOT_LEFT 84
#define PLOT_RIGHT (SVG_WIDTH - 40)
#define PLOT_TOP 64
#define PLOT_HEIGHT 320
#define PLOT_BOTTOM (PLOT_TOP + PLOT_HEIGHT)
#define PLOT_WIDTH (PLOT_RIGHT - PLOT_LEFT)
#define LEGEND_TOP (PLOT_BOTTOM + 78)
#define LEGEND_ROW 20
/* Time labels need about this much room each. */
#define X_TICK_MIN_SPACING 84

enum plot_by { BY_PROCESS, BY_CONTAINER, BY_DESTINATION };

/* Each grouping as two key columns, k_int and k_text (either may be the constant NULL). The
 * text is fixed per --by: nothing from the command line reaches SQL but bound values. */
struct by_sql {
	const char *name;
	const char *title; /* "Bytes per second by ..." */
	const char *k_int, *k_text;
};

static const struct by_sql by_sql[] = {
	[BY_PROCESS] = { "process", "process", "pid", "comm" },
	/* There is no container column yet: a container is its cgroup for now, labelled
	 * "cgroup <id>". When flows get a container name, it becomes k_text here. */
	[BY_CONTAINER] = { "container", "container (cgroup)", "cgroup_id", "NULL" },
	[BY_DESTINATION] = { "destination", "destination", "NULL", "COALESCE(rname, raddr)" },
};

struct plot_args {
	struct flowq_globals *globals;
	const char *out; /* -o; "-" is standard output */
	/* Times stay text until all options are read: --utc may come after them. */
	const char *since_arg, *until_arg;
	enum plot_by by;
	unsigned top;
};

enum {
	OPT_SINCE = 0x200,
	OPT_UNTIL,
	OPT_BY,
	OPT_TOP,
};

static const struct argp_option plot_options[] = {
	{ NULL, 0, NULL, 0, "Output:", 1 },
	{ "output", 'o', "FILE", 0,
	  "Write the SVG to FILE (required); '-' is standard output", 0 },
	{ NULL, 0, NULL, 0, "What is drawn:", 2 },
	{ "since", OPT_SINCE, "T", 0, "Start of the window (default: the first flow's start)", 0 },
	{ "until", OPT_UNTIL, "T", 0,
	  "End of the window (default: the last flow's end, or last packet if still open)", 0 },
	{ "by", OPT_BY, "KEY", 0,
	  "One line per process (pid and comm; the default), container (for now its cgroup id) "
	  "or destination (the DNS name that gave the remote address, else the address)", 0 },
	{ "top", OPT_TOP, "N", 0,
	  "Lines for the N entries with the most bytes in the window (default 5, at most 100); "
	  "when there are more, the rest are summed into one dashed grey line, 'other'", 0 },
	{ 0 }
};

static const char plot_doc[] =
	"Draw bytes per second (sent plus received) over time as an SVG image: one line for each "
	"of the top entries, with time and rate axes and a legend."
	"\v"
	"The rates are an approximation. flowrec stores each flow's byte totals and its start, "
	"last and end times, not when the bytes went: each flow's bytes_out + bytes_in are taken "
	"as spread evenly from start_ns to end_ns (last_ns while open), so a bursty long-lived "
	"flow shows as a flat line at its average rate. A flow shorter than a bucket lands in "
	"the bucket it lies in (split between two if it straddles a boundary).\n"
	"\n"
	"The window: --since and --until, or where missing the first flow's start and the last "
	"flow's end. A flow counts when its lifetime overlaps the window. The bucket width is "
	"round (1 s, 2 s, 5 s, 10 s, ... 1 min, ... 1 h, ... 1 d, ...), at least 1 s, chosen for "
	"at most 600 points (a window of 4 minutes or more gets 240 to 600); the window is "
	"widened to whole buckets. Top entries are those with the most bytes in the window.\n"
	"\n"
	"Times on the axis are local time, or UTC with --utc. FILE is written to a temporary "
	"beside it and renamed when complete (a FILE that is not a regular file, such as "
	"/dev/null, is written in place). The image uses no scripts, fonts or style sheets from elsewhere: "
	"any browser shows it.\n"
	"\n"
	"Times (T): RFC 3339, 'YYYY-MM-DD HH:MM[:SS[.frac]]' (local time, or UTC with --utc), "
	"@EPOCH seconds, or a duration back from now (30s, 15m, 2h, 1h30m, 3d).";

static error_t parse_plot_option(int key, char *arg, struct argp_state *state)
{
	struct plot_args *args = state->input;
	uint64_t v;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq plot", args->globals);
		break;
	case 'o':
		if (!*arg)
			flowq_usage_error("-o needs a file name ('-' for standard output)");
		args->out = arg;
		break;
	case OPT_SINCE:
		args->since_arg = arg;
		break;
	case OPT_UNTIL:
		args->until_arg = arg;
		break;
	case OPT_BY:
		if (strcmp(arg, "process") == 0)
			args->by = BY_PROCESS;
		else if (strcmp(arg, "container") == 0)
			args->by = BY_CONTAINER;
		else if (strcmp(arg, "destination") == 0)
			args->by = BY_DESTINATION;
		else
			flowq_usage_error("invalid --by '%s': expected process, container or destination", arg);
		break;
	case OPT_TOP:
		if (flowq_parse_unsigned(arg, PLOT_MAX_TOP, &v) || v == 0)
			flowq_usage_error("invalid --top '%s': expected a number from 1 to %d", arg, PLOT_MAX_TOP);
		args->top = (unsigned)v;
		break;
	case ARGP_KEY_ARG:
		flowq_usage_error("plot takes options only, no arguments ('%s' given; see flowq plot --help)",
				  arg);
	case ARGP_KEY_END:
		if (!args->out)
			flowq_usage_error("plot needs -o FILE (the SVG to write; '-' for standard output)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp plot_argp = {
	.options = plot_options,
	.parser = parse_plot_option,
	.args_doc = "-o FILE",
	.doc = plot_doc,
	.children = flowq_command_children,
};

/* ---- time arithmetic ---------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

/* The plot's offset from UTC at t, in ns: 0 with --utc. One offset serves the whole window
 * for aligning buckets and ticks; labels are converted tick by tick. */
static int64_t zone_offset_ns(int64_t t_ns, int utc)
{
	time_t t = (time_t)(t_ns / NS_PER_S);
	struct tm tm;

	if (utc || !localtime_r(&t, &tm))
		return 0;
	return (int64_t)tm.tm_gmtoff * NS_PER_S;
}

/* The epoch fell on a Thursday: weeks are aligned on Mondays (1970-01-05) instead. */
static int64_t grid_offset(int64_t step, int64_t off)
{
	return step % (WEEK_S * NS_PER_S) == 0 ? off - 4 * DAY_S * NS_PER_S : off;
}

/* The largest multiple of step (shifted by the zone offset) at or before t, and the smallest
 * at or after it. */
static int64_t align_down(int64_t t, int64_t step, int64_t off)
{
	off = grid_offset(step, off);
	return floor_div(t + off, step) * step - off;
}

static int64_t align_up(int64_t t, int64_t step, int64_t off)
{
	off = grid_offset(step, off);
	return -floor_div(-(t + off), step) * step - off;
}

/* The smallest of the round widths (seconds) for which span fits in max_count steps; past
 * the list, whole weeks. */
static int64_t round_step_ns(int64_t span, int64_t max_count)
{
	static const int64_t steps_s[] = {
		1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
		DAY_S, 2 * DAY_S, 3 * DAY_S, WEEK_S,
	};
	int64_t weeks;

	for (size_t i = 0; i < sizeof(steps_s) / sizeof(steps_s[0]); i++) {
		int64_t step = steps_s[i] * NS_PER_S;

		if ((span + step - 1) / step <= max_count)
			return step;
	}
	weeks = (span + max_count * WEEK_S * NS_PER_S - 1) / (max_count * WEEK_S * NS_PER_S);
	return weeks * WEEK_S * NS_PER_S;
}

/* "1 s", "5 min", "2 h", "7 d". */
static void format_step(int64_t step_ns, char *buf, size_t len)
{
	int64_t s = step_ns / NS_PER_S;

	if (s % DAY_S == 0)
		snprintf(buf, len, "%lld d", (long long)(s / DAY_S));
	else if (s % 3600 == 0)
		snprintf(buf, len, "%lld h", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(buf, len, "%lld min", (long long)(s / 60));
	else
		snprintf(buf, len, "%lld s", (long long)s);
}

/* strftime of t (ns) in the plot's zone; "" if it cannot be converted. */
static void format_time(int64_t t_ns, int utc, const char *fmt, char *buf, size_t len)
{
	time_t t = (time_t)floor_div(t_ns, NS_PER_S);
	struct tm tm;

	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) || strftime(buf, len, fmt, &tm) == 0)
		buf[0] = '\0';
}

/* ---- human units -------------------------------------------------------------------------- */

/* SI units (1 kB = 1000 B), three significant digits: "0", "512 B", "1.5 MB". */
static void format_bytes(double v, const char *suffix, char *buf, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
	size_t u = 0;

	if (v <= 0) {
		snprintf(buf, len, "0");
		return;
	}
	while (v >= 999.5 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	snprintf(buf, len, "%.3g %s%s", v, units[u], suffix);
}

/* A step of 1, 2, 2.5 or 5 times a power of ten, at least raw. */
static double nice_step(double raw)
{
	static const double mantissas[] = { 1, 2, 2.5, 5, 10 };
	double p = 1;

	if (!(raw > 0) || !isfinite(raw))
		return 1;
	while (p * 10 <= raw)
		p *= 10;
	while (p > raw)
		p /= 10;
	for (size_t i = 0; i < sizeof(mantissas) / sizeof(mantissas[0]); i++) {
		if (mantissas[i] * p >= raw)
			return mantissas[i] * p;
	}
	return 10 * p;
}

/* ---- XML text ----------------------------------------------------------------------------- */

/* Write len bytes of s as XML character data, fit for an element or an attribute value:
 * & < > " ' become references; bytes that are not valid UTF-8, control characters (which
 * XML 1.0 does not allow, or which would break the layout) and U+FFFE/U+FFFF become U+FFFD.
 * Names such as comm are whatever bytes a process chose. At most max_chars characters are
 * written; a longer text is cut and ends with "…" (0: no limit). */
static void xml_text(FILE *f, const char *s, size_t len, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, total = 0;

	/* Count first, so that a cut text keeps room for the ellipsis. */
	if (max_chars) {
		for (size_t i = 0; i < len; total++) {
			uint32_t cp;
			size_t n = fr_utf8_next(p + i, len - i, &cp);

			i += n ? n : 1;
		}
	}
	for (size_t i = 0; i < len; chars++) {
		uint32_t cp;
		size_t n = fr_utf8_next(p + i, len - i, &cp);

		if (max_chars && total > max_chars && chars == max_chars - 1) {
			fputs("\xe2\x80\xa6", f); /* … */
			return;
		}
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0xfffe || cp == 0xffff) {
			fputs("\xef\xbf\xbd", f); /* U+FFFD */
			i += n ? n : 1;
			continue;
		}
		switch (cp) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			fwrite(p + i, 1, n, f);
		}
		i += n;
	}
}

static void xml_str(FILE *f, const char *s)
{
	xml_text(f, s, strlen(s), 0);
}

/* ---- series ----------------------------------------------------------------------------- */

/* A group's key as read from the query: k_int and k_text, either possibly NULL. */
struct group_key {
	int has_int, has_text;
	int64_t i;
	char *text; /* has_text: len bytes, NUL-terminated (the text may hold NULs itself) */
	size_t len;
};

struct series {
	struct group_key key;
	double total;  /* bytes in the window */
	uint64_t seq;  /* the group's position in key order: breaks ties in total */
	double *bytes; /* per bucket */
};

struct plot {
	enum plot_by by;
	int utc;
	int64_t lo, hi;   /* the window as asked (or taken from the flows) */
	int64_t start;    /* the window widened to whole buckets: start + nbuckets * width */
	int64_t width;
	size_t nbuckets;
	struct series *top; /* the top entries; sorted, most bytes first, once all are read */
	size_t ntop, maxtop;
	double *other;         /* everything else, summed */
	size_t other_groups;   /* entries with bytes summed into other */
	double other_total;
};

static int key_read(sqlite3_stmt *st, struct group_key *k)
{
	*k = (struct group_key){ 0 };
	k->has_int = sqlite3_column_type(st, 0) != SQLITE_NULL;
	if (k->has_int)
		k->i = sqlite3_column_int64(st, 0);
	k->has_text = sqlite3_column_type(st, 1) != SQLITE_NULL;
	if (k->has_text) {
		const unsigned char *t = sqlite3_column_text(st, 1);
		int n = sqlite3_column_bytes(st, 1);

		if (!t || n < 0)
			return -1;
		k->len = (size_t)n;
		k->text = malloc(k->len + 1);
		if (!k->text)
			return -1;
		memcpy(k->text, t, k->len);
		k->text[k->len] = '\0';
	}
	return 0;
}

static int key_matches(sqlite3_stmt *st, const struct group_key *k)
{
	int has_int = sqlite3_column_type(st, 0) != SQLITE_NULL;
	int has_text = sqlite3_column_type(st, 1) != SQLITE_NULL;

	if (has_int != k->has_int || has_text != k->has_text)
		return 0;
	if (has_int && sqlite3_column_int64(st, 0) != k->i)
		return 0;
	if (has_text) {
		const unsigned char *t = sqlite3_column_text(st, 1);
		int n = sqlite3_column_bytes(st, 1);

		return t && n >= 0 && (size_t)n == k->len && memcmp(t, k->text, k->len) == 0;
	}
	return 1;
}

static void key_free(struct group_key *k)
{
	free(k->text);
	k->text = NULL;
}

/* The label of an entry (not yet escaped), in buf. */
static void entry_label(enum plot_by by, const struct group_key *k, char *buf, size_t len)
{
	switch (by) {
	case BY_PROCESS:
		if ((!k->has_int || k->i == 0) && !k->has_text)
			snprintf(buf, len, "owner unknown");
		else if (!k->has_int || k->i == 0)
			snprintf(buf, len, "%s (pid unknown)", k->text);
		else
			snprintf(buf, len, "%s (pid %lld)", k->has_text ? k->text : "?", (long long)k->i);
		break;
	case BY_CONTAINER:
		if (k->has_int)
			snprintf(buf, len, "cgroup %llu", (unsigned long long)k->i);
		else
			snprintf(buf, len, "cgroup unknown");
		break;
	case BY_DESTINATION:
		snprintf(buf, len, "%s", k->has_text ? k->text : "?");
		break;
	}
}

/* Spread bytes evenly over [s, e] into the buckets; returns the bytes that fell inside. The
 * database may hold anything (a damaged or crafted one): byte counts that are not finite are
 * left out, and a lifetime is taken as a double, which no pair of times overflows. */
static double spread(const struct plot *p, double *buckets, int64_t s, int64_t e, double bytes)
{
	int64_t end = p->start + (int64_t)p->nbuckets * p->width, cs, ce;
	double per_ns;
	size_t i;

	if (!(bytes > 0) || !isfinite(bytes))
		return 0;
	if (e < s)
		e = s;
	if (e == s) {
		if (s < p->start || s > end)
			return 0;
		i = (size_t)((s - p->start) / p->width);
		if (i >= p->nbuckets)
			i = p->nbuckets - 1;
		buckets[i] += bytes;
		return bytes;
	}
	cs = s > p->start ? s : p->start;
	ce = e < end ? e : end;
	if (ce <= cs)
		return 0;
	per_ns = bytes / ((double)e - (double)s);
	for (i = (size_t)((cs - p->start) / p->width); i < p->nbuckets; i++) {
		int64_t bs = p->start + (int64_t)i * p->width, be = bs + p->width;

		if (bs >= ce)
			break;
		buckets[i] += per_ns * (double)((ce < be ? ce : be) - (cs > bs ? cs : bs));
	}
	return per_ns * (double)(ce - cs);
}

static void add_into(double *to, double *from, size_t n, int clear)
{
	for (size_t i = 0; i < n; i++) {
		to[i] += from[i];
		if (clear)
			from[i] = 0;
	}
}

/* A group is complete: it joins the top entries, possibly pushing the smallest into other,
 * or goes into other itself. cur->bytes is left all zeros for the next group. */
static void finish_group(struct plot *p, struct series *cur)
{
	struct series *min = NULL;

	if (!(cur->total > 0)) {
		key_free(&cur->key);
		memset(cur->bytes, 0, p->nbuckets * sizeof(*cur->bytes));
		return;
	}
	if (p->ntop < p->maxtop) {
		double *spare = p->top[p->ntop].bytes;

		p->top[p->ntop++] = *cur;
		cur->bytes = spare;
		cur->key = (struct group_key){ 0 };
		return;
	}
	/* The smallest; of equal ones, the latest in key order goes first. */
	for (size_t i = 0; i < p->ntop; i++) {
		struct series *s = &p->top[i];

		if (!min || s->total < min->total || (s->total == min->total && s->seq > min->seq))
			min = s;
	}
	if (cur->total > min->total) {
		struct series out = *min;

		*min = *cur;
		cur->bytes = out.bytes;
		cur->key = out.key;
		cur->total = out.total;
	}
	add_into(p->other, cur->bytes, p->nbuckets, 1);
	p->other_total += cur->total;
	p->other_groups++;
	key_free(&cur->key);
}

static int cmp_series(const void *a, const void *b)
{
	const struct series *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Read the flows of the widened window, grouped, into p. Returns 0, or -1 after a message. */
static int read_series(sqlite3 *db, struct plot *p)
{
	const struct by_sql *by = &by_sql[p->by];
	struct series cur = { 0 };
	sqlite3_str *sql = sqlite3_str_new(NULL);
	sqlite3_stmt *st = NULL;
	char *text;
	int in_group = 0, rc, ret = -1;
	uint64_t seq = 0;

	sqlite3_str_appendf(sql,
			    "SELECT %s AS k_int, %s AS k_text, start_ns, COALESCE(end_ns, last_ns),"
			    " bytes_out + bytes_in FROM flows"
			    " WHERE COALESCE(end_ns, last_ns) >= :lo AND start_ns <= :hi"
			    " ORDER BY k_text, k_int",
			    by->k_int, by->k_text);
	text = sqlite3_str_finish(sql);
	cur.bytes = calloc(p->nbuckets, sizeof(*cur.bytes));
	if (!text || !cur.bytes) {
		fprintf(stderr, "flowq: out of memory\n");
		goto cleanup;
	}
	if (sqlite3_prepare_v2(db, text, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":lo"), p->start) != SQLITE_OK ||
	    sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":hi"),
			       p->start + (int64_t)p->nbuckets * p->width) != SQLITE_OK)
		goto sql_error;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!in_group || !key_matches(st, &cur.key)) {
			if (in_group)
				finish_group(p, &cur);
			if (key_read(st, &cur.key)) {
				fprintf(stderr, "flowq: out of memory\n");
				goto cleanup;
			}
			cur.total = 0;
			cur.seq = seq++;
			in_group = 1;
		}
		cur.total += spread(p, cur.bytes, sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
				    sqlite3_column_double(st, 4));
	}
	if (rc != SQLITE_DONE)
		goto sql_error;
	if (in_group)
		finish_group(p, &cur);
	qsort(p->top, p->ntop, sizeof(*p->top), cmp_series);
	ret = 0;
	goto cleanup;
sql_error:
	fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
cleanup:
	key_free(&cur.key);
	free(cur.bytes);
	sqlite3_finalize(st);
	sqlite3_free(text);
	return ret;
}

/* ---- the window --------------------------------------------------------------------------- */

/* Bounds not given come from the flows within the bound that was. Returns 0; 1 when a bound
 * is missing and no flow could give it (after a message); -1 on an SQL error. */
static int resolve_window(sqlite3 *db, int has_since, int has_until, struct plot *p)
{
	static const char bounds_sql[] =
		"SELECT min(start_ns), max(COALESCE(end_ns, last_ns)) FROM flows"
		" WHERE COALESCE(end_ns, last_ns) >= :since AND start_ns <= :until";
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (has_since && has_until)
		return 0;
	if (sqlite3_prepare_v2(db, bounds_sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, has_since ? p->lo : INT64_MIN) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, has_until ? p->hi : INT64_MAX) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
		goto cleanup;
	}
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		fprintf(stderr, "flowq: no flows recorded%s: nothing to plot\n",
			has_since || has_until ? " in the window" : "");
		ret = 1;
		goto cleanup;
	}
	if (!has_since)
		p->lo = sqlite3_column_int64(st, 0);
	if (!has_until)
		p->hi = sqlite3_column_int64(st, 1);
	ret = 0;
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* The bucket width and the widened window, from p->lo and p->hi. */
static void choose_buckets(struct plot *p)
{
	int64_t off, span, end;

	if (p->lo < 0)
		p->lo = 0;
	if (p->hi > PLOT_MAX_NS)
		p->hi = PLOT_MAX_NS;
	if (p->hi < p->lo)
		p->hi = p->lo;
	span = p->hi - p->lo;
	p->width = round_step_ns(span > 0 ? span : 1, PLOT_MAX_BUCKETS);
	off = zone_offset_ns(p->lo, p->utc);
	p->start = align_down(p->lo, p->width, off);
	end = align_up(p->hi, p->width, off);
	if (end <= p->start)
		end = p->start + p->width;
	p->nbuckets = (size_t)((end - p->start) / p->width);
}

/* ---- drawing ------------------------------------------------------------------------------- */

/* Tableau 10: distinct for the usual colour blindnesses, readable on white. Past ten lines
 * the colours repeat with a dash pattern. */
static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};
static const char *const dashes[] = { NULL, "7 3", "2 2", "7 2 2 2" };
#define NCOLORS (sizeof(palette) / sizeof(palette[0]))
#define OTHER_COLOR "#8c8c8c"
#define OTHER_DASH "5 3"

static double x_of(const struct plot *p, double i)
{
	return PLOT_LEFT + (i + 0.5) * PLOT_WIDTH / (double)p->nbuckets;
}

static double y_of(double rate, double ymax)
{
	return PLOT_BOTTOM - rate / ymax * PLOT_HEIGHT;
}

static void line_style(FILE *f, const char *color, const char *dash, double width)
{
	fprintf(f, " fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-linejoin=\"round\"", color, width);
	if (dash)
		fprintf(f, " stroke-dasharray=\"%s\"", dash);
}

static void draw_series(FILE *f, const struct plot *p, const double *bytes, double ymax, const char *cls,
			size_t rank, const char *color, const char *dash, const char *label)
{
	double secs = (double)p->width / NS_PER_S;

	fprintf(f, "<polyline class=\"%s\"", cls);
	if (rank)
		fprintf(f, " data-rank=\"%zu\"", rank);
	line_style(f, color, dash, 2);
	fputs(" points=\"", f);
	for (size_t i = 0; i < p->nbuckets; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", x_of(p, (double)i), y_of(bytes[i] / secs, ymax));
	fputs("\"><title>", f);
	xml_str(f, label);
	fputs("</title></polyline>\n", f);
	if (p->nbuckets <= PLOT_MARKERS_MAX) {
		fprintf(f, "<g class=\"markers\" fill=\"%s\">", color);
		for (size_t i = 0; i < p->nbuckets; i++)
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>", x_of(p, (double)i),
				y_of(bytes[i] / secs, ymax));
		fputs("</g>\n", f);
	}
}

static double peak_rate(const struct plot *p, const double *bytes)
{
	double peak = 0;

	for (size_t i = 0; i < p->nbuckets; i++)
		if (bytes[i] > peak)
			peak = bytes[i];
	return peak / ((double)p->width / NS_PER_S);
}

static void draw_legend_entry(FILE *f, size_t row, const char *cls, size_t rank, const char *color,
			      const char *dash, const char *label, double total, double peak)
{
	double y = LEGEND_TOP + (double)row * LEGEND_ROW;
	char tbuf[32], pbuf[32];

	format_bytes(total, "", tbuf, sizeof(tbuf));
	format_bytes(peak, "/s", pbuf, sizeof(pbuf));
	fprintf(f, "<g class=\"%s\"", cls);
	if (rank)
		fprintf(f, " data-rank=\"%zu\"", rank);
	fprintf(f, "><line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"", PLOT_LEFT, y - 4, PLOT_LEFT + 26, y - 4);
	line_style(f, color, dash, 3);
	fprintf(f, "/><text class=\"legend-label\" x=\"%d\" y=\"%.1f\">", PLOT_LEFT + 34, y);
	xml_text(f, label, strlen(label), LEGEND_LABEL_MAX);
	fprintf(f, "</text><text class=\"legend-total\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\">",
		PLOT_RIGHT, y);
	xml_str(f, tbuf);
	fputs(", peak ", f);
	xml_str(f, pbuf);
	fputs("</text></g>\n", f);
}

/* Time ticks on round times, with the date under the first one and wherever it changes. */
static void draw_time_axis(FILE *f, const struct plot *p)
{
	int64_t end = p->start + (int64_t)p->nbuckets * p->width;
	int64_t span = end - p->start;
	int64_t max_ticks = PLOT_WIDTH / X_TICK_MIN_SPACING;
	int64_t step = round_step_ns(span, max_ticks > 1 ? max_ticks : 1);
	int64_t off = zone_offset_ns(p->start, p->utc);
	const char *fmt = step < 60 * NS_PER_S ? "%H:%M:%S" : step < DAY_S * NS_PER_S ? "%H:%M" : "%Y-%m-%d";
	char label[64], date[32], last_date[32] = "";

	fputs("<g class=\"x-axis\" text-anchor=\"middle\" fill=\"#333\">\n", f);
	for (int64_t t = align_up(p->start, step, off); t <= end; t += step) {
		double x = PLOT_LEFT + (double)(t - p->start) / (double)span * PLOT_WIDTH;

		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ececec\"/>", x, PLOT_TOP, x,
			PLOT_BOTTOM);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>", x, PLOT_BOTTOM, x,
			PLOT_BOTTOM + 5);
		format_time(t, p->utc, fmt, label, sizeof(label));
		fprintf(f, "<text x=\"%.1f\" y=\"%d\">", x, PLOT_BOTTOM + 19);
		xml_str(f, label);
		fputs("</text>", f);
		if (step < DAY_S * NS_PER_S) {
			format_time(t, p->utc, "%Y-%m-%d", date, sizeof(date));
			if (strcmp(date, last_date) != 0) {
				fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#666\">", x, PLOT_BOTTOM + 34);
				xml_str(f, date);
				fputs("</text>", f);
				snprintf(last_date, sizeof(last_date), "%s", date);
			}
		}
		fputc('\n', f);
	}
	if (p->utc) {
		snprintf(label, sizeof(label), "time (UTC)");
	} else {
		char name[24], offset[16];

		format_time(p->start, 0, "%Z", name, sizeof(name));
		format_time(p->start, 0, "%z", offset, sizeof(offset));
		if (strcmp(offset, "+0000") == 0 && (strcmp(name, "UTC") == 0 || strcmp(name, "GMT") == 0))
			snprintf(label, sizeof(label), "local time (UTC)");
		else
			snprintf(label, sizeof(label), "local time (%s, UTC%s)", name, offset);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#555\">", (PLOT_LEFT + PLOT_RIGHT) / 2, PLOT_BOTTOM + 54);
	xml_str(f, label);
	fputs("</text>\n</g>\n", f);
}

/* Rate ticks: 0 to ymax in round steps. */
static void draw_rate_axis(FILE *f, double ymax, double ystep)
{
	char label[32];

	fputs("<g class=\"y-axis\" text-anchor=\"end\" fill=\"#333\">\n", f);
	for (int k = 0; k * ystep <= ymax * (1 + 1e-9); k++) {
		double y = y_of(k * ystep, ymax);

		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>", PLOT_LEFT, y,
			PLOT_RIGHT, y, k ? "#e2e2e2" : "#333");
		format_bytes(k * ystep, "/s", label, sizeof(label));
		fprintf(f, "<text x=\"%d\" y=\"%.1f\">", PLOT_LEFT - 8, y + 4);
		xml_str(f, label);
		fputs("</text>\n", f);
	}
	fprintf(f, "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\" transform=\"rotate(-90 16 %d)\">"
		   "bytes per second (sent + received)</text>\n</g>\n",
		(PLOT_TOP + PLOT_BOTTOM) / 2, (PLOT_TOP + PLOT_BOTTOM) / 2);
}

/* The highest rate of any line, in bytes per second. */
static double max_peak_rate(const struct plot *p)
{
	double max_rate = p->other_groups > 0 ? peak_rate(p, p->other) : 0;

	for (size_t s = 0; s < p->ntop; s++)
		if (peak_rate(p, p->top[s].bytes) > max_rate)
			max_rate = peak_rate(p, p->top[s].bytes);
	return max_rate;
}

static void render(FILE *f, const struct plot *p)
{
	double max_rate = max_peak_rate(p), ymax, ystep;
	int has_other = p->other_groups > 0;
	size_t rows = p->ntop + (size_t)has_other;
	int height = LEGEND_TOP + (int)(rows ? rows : 1) * LEGEND_ROW + 4;
	char label[512], from[48], to[48], width[32], title[160];

	ystep = nice_step((max_rate > 0 ? max_rate : 1) / 5);
	ymax = ystep;
	while (ymax < max_rate * (1 - 1e-12))
		ymax += ystep;

	snprintf(title, sizeof(title), "Bytes per second by %s, top %zu", by_sql[p->by].title, p->maxtop);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
		   " font-family=\"sans-serif\" font-size=\"12\">\n<title>",
		SVG_WIDTH, height, SVG_WIDTH, height);
	xml_str(f, title);
	fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_WIDTH, height);
	fprintf(f, "<text class=\"title\" x=\"%d\" y=\"26\" font-size=\"16\" font-weight=\"bold\" fill=\"#222\">",
		PLOT_LEFT);
	xml_str(f, title);
	fputs("</text>\n", f);

	format_time(p->lo, p->utc, "%Y-%m-%d %H:%M:%S", from, sizeof(from));
	format_time(p->hi, p->utc, "%Y-%m-%d %H:%M:%S", to, sizeof(to));
	format_step(p->width, width, sizeof(width));
	snprintf(label, sizeof(label),
		 "%s to %s, %zu buckets of %s; each flow's bytes spread evenly over its lifetime", from, to,
		 p->nbuckets, width);
	fprintf(f, "<text class=\"subtitle\" x=\"%d\" y=\"46\" fill=\"#555\">", PLOT_LEFT);
	xml_str(f, label);
	fputs("</text>\n", f);

	draw_rate_axis(f, ymax, ystep);
	draw_time_axis(f, p);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
		PLOT_LEFT, PLOT_TOP, PLOT_WIDTH, PLOT_HEIGHT);

	/* Lines: other first, then from the smallest up, so that the biggest is drawn on top. */
	fputs("<g class=\"lines\">\n", f);
	if (has_other) {
		snprintf(label, sizeof(label), "other (%zu more)", p->other_groups);
		draw_series(f, p, p->other, ymax, "other", 0, OTHER_COLOR, OTHER_DASH, label);
	}
	for (size_t s = p->ntop; s-- > 0;) {
		entry_label(p->by, &p->top[s].key, label, sizeof(label));
		draw_series(f, p, p->top[s].bytes, ymax, "series", s + 1, palette[s % NCOLORS],
			    dashes[(s / NCOLORS) % (sizeof(dashes) / sizeof(dashes[0]))], label);
	}
	fputs("</g>\n", f);
	if (p->ntop == 0)
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"16\" fill=\"#888\">"
			   "no traffic in this window</text>\n",
			(PLOT_LEFT + PLOT_RIGHT) / 2, (PLOT_TOP + PLOT_BOTTOM) / 2);

	fputs("<g class=\"legend\" fill=\"#222\">\n", f);
	for (size_t s = 0; s < p->ntop; s++) {
		entry_label(p->by, &p->top[s].key, label, sizeof(label));
		draw_legend_entry(f, s, "legend-entry", s + 1, palette[s % NCOLORS],
				  dashes[(s / NCOLORS) % (sizeof(dashes) / sizeof(dashes[0]))], label,
				  p->top[s].total, peak_rate(p, p->top[s].bytes));
	}
	if (has_other) {
		snprintf(label, sizeof(label), "other (%zu more)", p->other_groups);
		draw_legend_entry(f, p->ntop, "legend-other", 0, OTHER_COLOR, OTHER_DASH, label, p->other_total,
				  peak_rate(p, p->other));
	}
	fputs("</g>\n</svg>\n", f);
}

/* ---- output ------------------------------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Written whole or not at all, and never over anything but a regular file (lib/outfile.c). */
static int write_file(const char *path, const char *buf, size_t len)
{
	char err[PATH_MAX + 128];
	struct fr_outfile f;

	if (fr_outfile_open(&f, path, 0644, err, sizeof(err))) {
		fprintf(stderr, "flowq: %s\n", err);
		return -1;
	}
	if (write_all(f.fd, buf, len)) {
		fprintf(stderr, "flowq: cannot write %s: %s\n", path, strerror(errno));
		fr_outfile_abort(&f);
		return -1;
	}
	if (fr_outfile_commit(&f, err, sizeof(err))) {
		fprintf(stderr, "flowq: %s\n", err);
		return -1;
	}
	return 0;
}

/* ---- the command -------------------------------------------------------------------------- */

int cmd_plot(int argc, char **argv, struct flowq_globals *globals)
{
	struct plot_args args = { .globals = globals, .by = BY_PROCESS, .top = PLOT_DEFAULT_TOP };
	struct plot p = { 0 };
	sqlite3 *db = NULL;
	char *svg = NULL, width[32];
	size_t svg_len = 0;
	FILE *mem = NULL;
	int status = FLOWQ_EXIT_FAILURE, rc;
	struct flowq_filter_value since = { 0 }, until = { 0 };

	if (argp_parse(&plot_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	/* The globals accept table/csv/json/jsonl for every command but pcap; none applies. */
	if (globals->format_arg)
		flowq_usage_error("--format %s is not for 'flowq plot' (it always writes SVG)", globals->format_arg);
	p.by = args.by;
	p.utc = globals->output.utc;
	p.maxtop = args.top;
	flowq_resolve_times(globals, args.since_arg, args.until_arg, &since, &until);
	p.lo = since.given ? since.number : 0;
	p.hi = until.given ? until.number : 0;
	if (args.since_arg && args.until_arg && p.hi <= p.lo)
		flowq_usage_error("--until (%s) must be later than --since (%s)", args.until_arg, args.since_arg);

	if (flowq_db_open(globals, &db))
		goto cleanup;
	rc = resolve_window(db, args.since_arg != NULL, args.until_arg != NULL, &p);
	if (rc)
		goto cleanup;
	choose_buckets(&p);

	p.top = calloc(p.maxtop, sizeof(*p.top));
	p.other = calloc(p.nbuckets, sizeof(*p.other));
	if (!p.top || !p.other)
		goto nomem;
	for (size_t i = 0; i < p.maxtop; i++) {
		p.top[i].bytes = calloc(p.nbuckets, sizeof(*p.top[i].bytes));
		if (!p.top[i].bytes)
			goto nomem;
	}
	if (read_series(db, &p))
		goto cleanup;
	sqlite3_close(db);
	db = NULL;
	/* Only a damaged or crafted database gets here (2^62 bytes per second is far beyond any
	 * link): an axis up to it would not be drawable. */
	if (!(max_peak_rate(&p) <= PLOT_MAX_RATE)) {
		fprintf(stderr, "flowq: the flows' byte counts are too large to plot (%g bytes per second)\n",
			max_peak_rate(&p));
		goto cleanup;
	}

	mem = open_memstream(&svg, &svg_len);
	if (!mem)
		goto nomem;
	render(mem, &p);
	if (fclose(mem)) {
		mem = NULL;
		goto nomem;
	}
	mem = NULL;

	if (strcmp(args.out, "-") == 0) {
		if (fwrite(svg, 1, svg_len, stdout) != svg_len) {
			fprintf(stderr, "flowq: cannot write standard output: %s\n", strerror(errno));
			goto cleanup;
		}
	} else {
		if (write_file(args.out, svg, svg_len))
			goto cleanup;
		format_step(p.width, width, sizeof(width));
		fprintf(stderr, "flowq: %zu lines%s, %zu points of %s, written to %s\n", p.ntop,
			p.other_groups ? " and other" : "", p.nbuckets, width, args.out);
	}
	status = FLOWQ_EXIT_OK;
	goto cleanup;
nomem:
	fprintf(stderr, "flowq: out of memory\n");
cleanup:
	if (mem)
		fclose(mem);
	free(svg);
	sqlite3_close(db);
	if (p.top) {
		for (size_t i = 0; i < p.maxtop; i++) {
			key_free(&p.top[i].key);
			free(p.top[i].bytes);
		}
	}
	free(p.top);
	free(p.other);
	return status;
}
