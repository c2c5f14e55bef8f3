/*
 * flowq report: named SQL reports kept as .sql files, run read-only with bound parameters.
 *
 * A report is one SQL statement in a file NAME.sql whose first lines are a header of
 * comments (docs/reports.md):
 *
 *   -- name: NAME
 *   -- description: ONE LINE
 *   -- param: :PARAM KIND [= DEFAULT] [DESCRIPTION]      (KIND: time, integer, text or any)
 *
 * Files are looked for in --reports-dir, the user's directory ($XDG_CONFIG_HOME or
 * ~/.config, then flowrec/reports), the installed directory (FR_REPORTS_DIR) and
 * schema/reports next to the binary's directory (a source tree); the first file of a name
 * wins. Values reach the SQL only through sqlite3_bind_*: the file's text is prepared as it
 * is, never edited. A statement that would write is refused as flowq sql refuses it.
 */
#include "query.h"
#include "timefmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* `make install` may set this with its PREFIX. */
#ifndef FR_REPORTS_DIR
#define FR_REPORTS_DIR "/usr/local/share/flowrec/reports"
#endif

#define REPORT_MAX_BYTES (1024 * 1024) /* a report file larger than this is refused */
#define REPORT_NAME_MAX 64
#define REPORT_MAX_PARAMS 64
#define REPORT_MAX_VALUES 64 /* --since, --until, --limit and --param options together */
#define REFUSED_QUOTE_BYTES 60
#define SEARCH_DIRS_MAX 4

enum param_kind { KIND_TIME, KIND_INTEGER, KIND_TEXT, KIND_ANY };

static const char *const kind_names[] = {
	[KIND_TIME] = "time",
	[KIND_INTEGER] = "integer",
	[KIND_TEXT] = "text",
	[KIND_ANY] = "any",
};

struct report_param {
	const char *name; /* with its ':', as SQLite names it */
	enum param_kind kind;
	const char *def;  /* default value's text; NULL: none */
	const char *doc;
};

struct report {
	char name[REPORT_NAME_MAX + 1];
	char path[PATH_MAX];
	char *text;   /* the whole file: what is prepared */
	char *header; /* a copy of the text, cut in place into the strings below */
	const char *description;
	struct report_param params[REPORT_MAX_PARAMS];
	int nparams;
};

/* A value from the command line, for the report's parameter :key. */
struct cli_value {
	const char *option; /* "--since", "--until", "--limit" or "--param" */
	const char *key;    /* without its ':' */
	size_t key_len;
	const char *text;
};

struct report_args {
	struct flowq_globals *globals;
	const char *name;
	const char *reports_dir;
	int list;
	struct cli_value values[REPORT_MAX_VALUES];
	int nvalues;
};

struct search_dir {
	char path[PATH_MAX];
};

/* A value ready to bind. */
struct bound {
	int type; /* SQLITE_NULL, SQLITE_INTEGER or SQLITE_TEXT */
	int64_t number;
	const char *text;
};

enum {
	OPT_LIST = 0x300,
	OPT_REPORTS_DIR,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_LIMIT,
	OPT_PARAM,
};

static const struct argp_option report_options[] = {
	{ "list", OPT_LIST, NULL, 0, "List the reports found: name, description, parameters, file", 0 },
	{ "reports-dir", OPT_REPORTS_DIR, "DIR", 0,
	  "Look for reports in DIR first (before the user's and the shipped ones)", 0 },
	{ "since", OPT_SINCE, "T", 0, "Value of the report's :since (default: 0, everything)", 0 },
	{ "until", OPT_UNTIL, "T", 0, "Value of the report's :until (default: now)", 0 },
	{ "limit", OPT_LIMIT, "N", 0, "Value of the report's :limit", 0 },
	{ "param", OPT_PARAM, "KEY=VALUE", 0,
	  "Value of the report's parameter :KEY (repeatable; the last one of a key wins)", 0 },
	{ 0 }
};

static const char report_doc[] =
	"Run a named SQL report, or list them. A report is an SQL file whose header names it, "
	"describes it and declares its parameters; values given here are bound to them, never "
	"pasted into the SQL. The report must only read: one that would write is refused (exit 1)."
	"\v"
	"Header (the comment lines at the top of NAME.sql):\n"
	"  -- name: NAME                 (the file name without .sql)\n"
	"  -- description: ONE LINE\n"
	"  -- param: :P KIND [= DEFAULT] [DESCRIPTION]    (one line per parameter)\n"
	"KIND: time (--since/--until syntax, or 'now'; bound as ns since the epoch), integer, text, "
	"or any (an integer when it reads as one, else text). A parameter given no value and "
	"with no default is NULL, except :since (0) and :until (now). A --param the report does "
	"not declare is an error.\n"
	"\n"
	"Where reports are found, the first file of a name winning: --reports-dir DIR; "
	"$XDG_CONFIG_HOME/flowrec/reports (or ~/.config/flowrec/reports); " FR_REPORTS_DIR "; "
	"schema/reports in the directory above flowq's own (a source tree). See docs/reports.md.\n"
	"\n"
	"Times (T): RFC 3339, 'YYYY-MM-DD HH:MM[:SS[.frac]]' (local time, or UTC with --utc), "
	"@EPOCH seconds, or a duration back from now (30s, 15m, 2h, 1h30m, 3d).";

/* ---- small helpers ---------------------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("flowq: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return FLOWQ_EXIT_USAGE;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static char *skip_blanks(char *s)
{
	while (is_blank(*s))
		s++;
	return s;
}

static int is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Report names: letters, digits, '_' and '-', so that NAME.sql is a plain file name. */
static int valid_report_name(const char *s, size_t len)
{
	if (len == 0 || len > REPORT_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_word_char(s[i]) && s[i] != '-')
			return 0;
	}
	return 1;
}

/* An optional '-' and decimal digits, nothing else, within int64. */
static int parse_int64(const char *s, int64_t *out)
{
	int negative = *s == '-';
	int64_t v = 0;

	if (negative)
		s++;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    (negative ? __builtin_sub_overflow(v, *s - '0', &v) : __builtin_add_overflow(v, *s - '0', &v)))
			return -1;
	}
	*out = v;
	return 0;
}

/* 'now', or anything fr_time_parse reads. */
static int parse_time(const char *s, int64_t now_ns, int utc, int64_t *out, char *err, size_t errlen)
{
	if (strcmp(s, "now") == 0) {
		*out = now_ns;
		return 0;
	}
	return fr_time_parse(s, now_ns, utc, out, err, errlen);
}

/* A value's text as the parameter's kind takes it. Returns 0, or -1 with the reason. */
static int convert(const struct report_param *p, const char *text, int64_t now_ns, int utc, struct bound *out,
		   char *err, size_t errlen)
{
	switch (p->kind) {
	case KIND_TIME:
		out->type = SQLITE_INTEGER;
		return parse_time(text, now_ns, utc, &out->number, err, errlen);
	case KIND_INTEGER:
		out->type = SQLITE_INTEGER;
		if (parse_int64(text, &out->number) == 0)
			return 0;
		snprintf(err, errlen, "%s takes an integer", p->name);
		return -1;
	case KIND_TEXT:
		out->type = SQLITE_TEXT;
		out->text = text;
		return 0;
	case KIND_ANY:
		if (parse_int64(text, &out->number) == 0) {
			out->type = SQLITE_INTEGER;
		} else {
			out->type = SQLITE_TEXT;
			out->text = text;
		}
		return 0;
	}
	return -1;
}

/* ---- loading a report ------------------------------------------------------------------- */

static void report_free(struct report *r)
{
	free(r->text);
	free(r->header);
	r->text = r->header = NULL;
}

static const struct report_param *find_param(const struct report *r, const char *key, size_t key_len)
{
	for (int i = 0; i < r->nparams; i++) {
		if (strlen(r->params[i].name + 1) == key_len && strncmp(r->params[i].name + 1, key, key_len) == 0)
			return &r->params[i];
	}
	return NULL;
}

/* "-- param: :P KIND [= DEFAULT] [DESCRIPTION]", after "param:". */
static int parse_param_line(struct report *r, char *s, int64_t now_ns, int utc, char *err, size_t errlen)
{
	struct report_param p = { 0 };
	struct bound check;
	char *name = s, *kind;
	char reason[300];
	int k;

	if (*s != ':')
		goto bad_name;
	for (s++; is_word_char(*s); s++)
		;
	if (s == name + 1 || (*s && !is_blank(*s)))
		goto bad_name;
	if (*s)
		*s++ = '\0';
	p.name = name;
	if (find_param(r, name + 1, strlen(name + 1))) {
		snprintf(err, errlen, "parameter %s is declared twice", name);
		return -1;
	}
	kind = s = skip_blanks(s);
	while (*s && !is_blank(*s))
		s++;
	if (*s)
		*s++ = '\0';
	for (k = 0; k < (int)(sizeof(kind_names) / sizeof(kind_names[0])); k++) {
		if (strcmp(kind, kind_names[k]) == 0)
			break;
	}
	if (k == (int)(sizeof(kind_names) / sizeof(kind_names[0]))) {
		snprintf(err, errlen, "parameter %s: kind '%s' is not time, integer, text or any", name, kind);
		return -1;
	}
	p.kind = (enum param_kind)k;
	s = skip_blanks(s);
	if (*s == '=') {
		s = skip_blanks(s + 1);
		if (*s == '\'') {
			char *close = strchr(s + 1, '\'');

			if (!close) {
				snprintf(err, errlen, "parameter %s: default has no closing quote", name);
				return -1;
			}
			p.def = s + 1;
			*close = '\0';
			s = close + 1;
		} else {
			p.def = s;
			while (*s && !is_blank(*s))
				s++;
			if (*s)
				*s++ = '\0';
			if (!*p.def) {
				snprintf(err, errlen, "parameter %s: '=' without a default value", name);
				return -1;
			}
		}
		if (convert(&p, p.def, now_ns, utc, &check, reason, sizeof(reason))) {
			snprintf(err, errlen, "parameter %s: bad default: %s", name, reason);
			return -1;
		}
	}
	p.doc = skip_blanks(s);
	if (r->nparams == REPORT_MAX_PARAMS) {
		snprintf(err, errlen, "more than %d parameters", REPORT_MAX_PARAMS);
		return -1;
	}
	r->params[r->nparams++] = p;
	return 0;
bad_name:
	snprintf(err, errlen, "expected ':NAME KIND', NAME of letters, digits and '_'");
	return -1;
}

/* The header: the comment and blank lines before the first line of SQL. Lines "-- name:",
 * "-- description:" and "-- param:" are read; other comments are the author's. */
static int parse_header(struct report *r, int64_t now_ns, int utc, char *err, size_t errlen)
{
	char *p = r->header, reason[400];
	int line = 0, has_name = 0;

	while (*p) {
		char *eol = strchr(p, '\n'), *next = eol ? eol + 1 : p + strlen(p), *s, *end;

		line++;
		if (eol)
			*eol = '\0';
		for (end = p + strlen(p); end > p && is_blank(end[-1]); end--)
			end[-1] = '\0';
		s = skip_blanks(p);
		if (*s == '\0') {
			p = next;
			continue;
		}
		if (strncmp(s, "--", 2) != 0)
			break;
		s = skip_blanks(s + 2);
		if (strncmp(s, "name:", 5) == 0) {
			s = skip_blanks(s + 5);
			if (has_name) {
				snprintf(reason, sizeof(reason), "a second name line");
				goto bad;
			}
			if (strcmp(s, r->name) != 0) {
				snprintf(reason, sizeof(reason), "name '%s' is not the file's name '%s'", s, r->name);
				goto bad;
			}
			has_name = 1;
		} else if (strncmp(s, "description:", 12) == 0) {
			s = skip_blanks(s + 12);
			if (r->description) {
				snprintf(reason, sizeof(reason), "a second description line");
				goto bad;
			}
			if (!*s) {
				snprintf(reason, sizeof(reason), "empty description");
				goto bad;
			}
			r->description = s;
		} else if (strncmp(s, "param:", 6) == 0) {
			if (parse_param_line(r, skip_blanks(s + 6), now_ns, utc, reason, sizeof(reason)))
				goto bad;
		}
		p = next;
	}
	if (!has_name || !r->description) {
		snprintf(err, errlen, "%s: its header has no '-- %s:' line", r->path,
			 has_name ? "description" : "name");
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s:%d: %s", r->path, line, reason);
	return -1;
}

/* Read and parse DIR/NAME.sql. Returns 0; 1 if there is no such file; -1 with err. */
static int report_load(struct report *r, const char *dir, const char *name, int64_t now_ns, int utc, char *err,
		       size_t errlen)
{
	struct stat st;
	size_t n = 0;
	int fd;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (snprintf(r->path, sizeof(r->path), "%s/%s.sql", dir, name) >= (int)sizeof(r->path)) {
		snprintf(err, errlen, "path too long: %s/%s.sql", dir, name);
		return -1;
	}
	/* O_NONBLOCK: a FIFO of that name must not hang flowq; only a regular file is read. */
	fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "cannot open %s: %s", r->path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > REPORT_MAX_BYTES) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", r->path, REPORT_MAX_BYTES);
		goto fail;
	}
	r->text = malloc((size_t)st.st_size + 1);
	if (!r->text) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (n < (size_t)st.st_size) {
		ssize_t got = read(fd, r->text + n, (size_t)st.st_size - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			snprintf(err, errlen, "cannot read %s: %s", r->path, got < 0 ? strerror(errno) : "file shrank");
			goto fail;
		}
		n += (size_t)got;
	}
	r->text[n] = '\0';
	close(fd);
	fd = -1;
	if (strlen(r->text) != n) {
		snprintf(err, errlen, "%s: not a text file (holds a NUL byte)", r->path);
		goto fail;
	}
	r->header = strdup(r->text);
	if (!r->header) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (parse_header(r, now_ns, utc, err, errlen))
		goto fail;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	report_free(r);
	return -1;
}

/* ---- where reports are ------------------------------------------------------------------ */

static void add_dir(struct search_dir *dirs, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void add_dir(struct search_dir *dirs, int *n, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(dirs[*n].path, sizeof(dirs[*n].path), fmt, ap);
	va_end(ap);
	if (len <= 0 || len >= (int)sizeof(dirs[*n].path))
		return; /* cannot be a directory we could open */
	(*n)++;
}

/* The directories in the order they are searched. */
static int search_dirs(const struct report_args *args, struct search_dir *dirs)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char exe[PATH_MAX], resolved[PATH_MAX], *slash;
	ssize_t len;
	int n = 0;

	if (args->reports_dir)
		add_dir(dirs, &n, "%s", args->reports_dir);
	/* XDG Base Directory: a relative $XDG_CONFIG_HOME is to be ignored. */
	if (xdg && xdg[0] == '/')
		add_dir(dirs, &n, "%s/flowrec/reports", xdg);
	else if (home && home[0])
		add_dir(dirs, &n, "%s/.config/flowrec/reports", home);
	add_dir(dirs, &n, "%s", FR_REPORTS_DIR);
	/* build/flowq -> build/../schema/reports: the shipped reports of a source tree. */
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(resolved, sizeof(resolved), "%s/../schema/reports", exe) < (int)sizeof(resolved) &&
			    realpath(resolved, exe))
				add_dir(dirs, &n, "%s", exe);
		}
	}
	return n;
}

/* ---- flowq report --list ---------------------------------------------------------------- */

struct list_entry {
	char name[REPORT_NAME_MAX + 1];
	struct report report; /* report.text NULL: broken, not listed (a warning said why) */
};

static int compare_entries(const void *a, const void *b)
{
	return strcmp(((const struct list_entry *)a)->name, ((const struct list_entry *)b)->name);
}

static int seen(const struct list_entry *entries, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(entries[i].name, name) == 0)
			return 1;
	}
	return 0;
}

/* ":since :until :limit=20", a default with blanks (or none at all) quoted as in the header:
 * ":t='two words'". */
static void describe_params(const struct report *r, sqlite3_str *out)
{
	for (int i = 0; i < r->nparams; i++) {
		const char *def = r->params[i].def;

		if (i)
			sqlite3_str_appendchar(out, 1, ' ');
		sqlite3_str_appendall(out, r->params[i].name);
		if (def && (!*def || strpbrk(def, " \t")))
			sqlite3_str_appendf(out, "='%s'", def);
		else if (def)
			sqlite3_str_appendf(out, "=%s", def);
	}
}

/* The list is printed through the same output code as every result: its rows go into a
 * table of a private in-memory database (not the recorder's, which is not even opened). */
static int print_list(const struct list_entry *entries, size_t n, const struct fr_output_opts *output)
{
	sqlite3 *mem = NULL;
	sqlite3_stmt *ins = NULL, *sel = NULL;
	int status = FLOWQ_EXIT_FAILURE;

	if (sqlite3_open(":memory:", &mem) != SQLITE_OK ||
	    sqlite3_exec(mem, "CREATE TABLE reports (name TEXT, description TEXT, parameters TEXT, file TEXT)",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(mem, "INSERT INTO reports VALUES (?, ?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
		goto sql_error;
	for (size_t i = 0; i < n; i++) {
		const struct report *r = &entries[i].report;
		sqlite3_str *params;
		char *text;
		int rc;

		if (!r->text)
			continue;
		params = sqlite3_str_new(mem);
		describe_params(r, params);
		text = sqlite3_str_finish(params);
		sqlite3_bind_text(ins, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, r->description, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, text ? text : "", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 4, r->path, -1, SQLITE_STATIC);
		rc = sqlite3_step(ins);
		sqlite3_free(text);
		sqlite3_reset(ins);
		if (rc != SQLITE_DONE)
			goto sql_error;
	}
	if (sqlite3_prepare_v2(mem, "SELECT * FROM reports ORDER BY name", -1, &sel, NULL) != SQLITE_OK)
		goto sql_error;
	if (flowq_print_result(sel, output) == 0)
		status = FLOWQ_EXIT_OK;
	goto cleanup;
sql_error:
	fprintf(stderr, "flowq: cannot list the reports: %s\n", mem ? sqlite3_errmsg(mem) : "out of memory");
cleanup:
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	sqlite3_close(mem);
	return status;
}

static int list_reports(const struct report_args *args, int64_t now_ns)
{
	struct search_dir dirs[SEARCH_DIRS_MAX];
	struct list_entry *entries = NULL;
	size_t n = 0, cap = 0;
	int ndirs = search_dirs(args, dirs), status = FLOWQ_EXIT_FAILURE;
	char err[PATH_MAX + 512];

	for (int d = 0; d < ndirs; d++) {
		DIR *dir = opendir(dirs[d].path);
		struct dirent *de;

		if (!dir) {
			if (errno != ENOENT)
				fprintf(stderr, "flowq: warning: cannot read %s: %s\n", dirs[d].path, strerror(errno));
			continue;
		}
		while ((de = readdir(dir))) {
			size_t len = strlen(de->d_name);
			char name[REPORT_NAME_MAX + 1];
			struct list_entry *e;
			int rc;

			if (len < 5 || strcmp(de->d_name + len - 4, ".sql") != 0 ||
			    !valid_report_name(de->d_name, len - 4))
				continue;
			memcpy(name, de->d_name, len - 4);
			name[len - 4] = '\0';
			if (seen(entries, n, name))
				continue; /* an earlier directory has this name: that file wins */
			if (n == cap) {
				struct list_entry *more = realloc(entries, (cap ? 2 * cap : 16) * sizeof(*entries));

				if (!more) {
					closedir(dir);
					fprintf(stderr, "flowq: out of memory\n");
					goto cleanup;
				}
				entries = more;
				cap = cap ? 2 * cap : 16;
			}
			e = &entries[n++];
			memcpy(e->name, name, sizeof(name));
			rc = report_load(&e->report, dirs[d].path, e->name, now_ns, args->globals->output.utc, err,
					 sizeof(err));
			/* A broken file still hides the same name further down the search order, as
			 * it would for flowq report NAME. */
			if (rc != 0)
				fprintf(stderr, "flowq: warning: %s; not listed\n",
					rc > 0 ? "report vanished while listing" : err);
		}
		closedir(dir);
	}
	if (n)
		qsort(entries, n, sizeof(*entries), compare_entries);
	status = print_list(entries, n, &args->globals->output);
cleanup:
	for (size_t i = 0; i < n; i++)
		report_free(&entries[i].report);
	free(entries);
	return status;
}

/* ---- flowq report NAME ------------------------------------------------------------------ */

/* Find NAME in the search order. Returns 0 with r loaded, or an exit status. */
static int find_report(const struct report_args *args, struct report *r, int64_t now_ns)
{
	struct search_dir dirs[SEARCH_DIRS_MAX];
	int ndirs = search_dirs(args, dirs);
	char err[PATH_MAX + 512];

	for (int d = 0; d < ndirs; d++) {
		int rc = report_load(r, dirs[d].path, args->name, now_ns, args->globals->output.utc, err, sizeof(err));

		if (rc == 0)
			return 0;
		if (rc < 0) {
			fprintf(stderr, "flowq: report %s: %s\n", args->name, err);
			return FLOWQ_EXIT_FAILURE;
		}
	}
	return usage("no report named '%s' (flowq report --list shows those found)", args->name);
}

/* The declared parameters' values: the command line's (the last of a key wins), else the
 * default, else 0 for :since and now for :until, else NULL. Returns 0 or an exit status. */
static int resolve_values(const struct report_args *args, const struct report *r, int64_t now_ns,
			  struct bound *values)
{
	int utc = args->globals->output.utc;
	char err[512];

	for (int i = 0; i < r->nparams; i++)
		values[i] = (struct bound){ .type = -1 };
	for (int v = 0; v < args->nvalues; v++) {
		const struct cli_value *cv = &args->values[v];
		const struct report_param *p = find_param(r, cv->key, cv->key_len);
		struct bound *b;
		uint64_t limit;

		if (!p) {
			sqlite3_str *known = sqlite3_str_new(NULL);
			char *list;
			int status;

			describe_params(r, known);
			list = sqlite3_str_finish(known);
			if (strcmp(cv->option, "--param") == 0)
				status = usage("report %s has no parameter :%.*s (it takes: %s)", r->name,
					       (int)cv->key_len, cv->key, list && *list ? list : "none");
			else
				status = usage("report %s has no :%.*s parameter for %s (it takes: %s)", r->name,
					       (int)cv->key_len, cv->key, cv->option, list && *list ? list : "none");
			sqlite3_free(list);
			return status;
		}
		b = &values[p - r->params];
		if (strcmp(cv->option, "--limit") == 0) {
			if (flowq_parse_unsigned(cv->text, INT64_MAX, &limit))
				return usage("invalid --limit '%s': expected a number of rows (0 or more)", cv->text);
			*b = (struct bound){ .type = SQLITE_INTEGER, .number = (int64_t)limit };
		} else if (strcmp(cv->option, "--param") != 0) { /* --since, --until */
			b->type = SQLITE_INTEGER;
			if (parse_time(cv->text, now_ns, utc, &b->number, err, sizeof(err)))
				return usage("invalid %s: %s", cv->option, err);
		} else if (convert(p, cv->text, now_ns, utc, b, err, sizeof(err))) {
			return usage("invalid --param '%.*s=%s': %s", (int)cv->key_len, cv->key, cv->text, err);
		}
	}
	for (int i = 0; i < r->nparams; i++) {
		const struct report_param *p = &r->params[i];

		if (values[i].type != -1)
			continue;
		if (p->def) {
			/* Checked when the header was read, with the same now and --utc. */
			if (convert(p, p->def, now_ns, utc, &values[i], err, sizeof(err)))
				return usage("report %s: %s", r->name, err);
		} else if (strcmp(p->name, ":since") == 0) {
			values[i] = (struct bound){ .type = SQLITE_INTEGER, .number = 0 };
		} else if (strcmp(p->name, ":until") == 0) {
			values[i] = (struct bound){ .type = SQLITE_INTEGER, .number = now_ns };
		} else {
			values[i] = (struct bound){ .type = SQLITE_NULL };
		}
	}
	return 0;
}

/* The start of a statement on one line, comments and blanks before it skipped. */
static void quote_statement(const char *text, char *buf, size_t len)
{
	size_t n;

	for (;;) {
		while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
			text++;
		if (text[0] == '-' && text[1] == '-') {
			text += strcspn(text, "\n");
		} else if (text[0] == '/' && text[1] == '*') {
			const char *end = strstr(text + 2, "*/");

			text = end ? end + 2 : text + strlen(text);
		} else {
			break;
		}
	}
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

/* Bind every parameter the statement uses; each must be declared. Returns 0 or -1. */
static int bind_values(sqlite3_stmt *st, const struct report *r, const struct bound *values)
{
	int count = sqlite3_bind_parameter_count(st);

	for (int i = 1; i <= count; i++) {
		const char *name = sqlite3_bind_parameter_name(st, i);
		const struct report_param *p = NULL;
		const struct bound *b;
		int rc;

		if (!name) {
			fprintf(stderr, "flowq: report %s: a parameter without a name ('?'): name it (:NAME) and "
				"declare it with '-- param:'\n", r->name);
			return -1;
		}
		if (name[0] == ':')
			p = find_param(r, name + 1, strlen(name + 1));
		if (!p) {
			fprintf(stderr, "flowq: report %s: its SQL uses %s, which its header does not declare "
				"('-- param: :NAME KIND')\n", r->name, name);
			return -1;
		}
		b = &values[p - r->params];
		if (b->type == SQLITE_INTEGER)
			rc = sqlite3_bind_int64(st, i, b->number);
		else if (b->type == SQLITE_TEXT)
			rc = sqlite3_bind_text(st, i, b->text, -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_null(st, i);
		if (rc != SQLITE_OK) {
			fprintf(stderr, "flowq: report %s: cannot bind %s: %s\n", r->name, name,
				sqlite3_errmsg(sqlite3_db_handle(st)));
			return -1;
		}
	}
	return 0;
}

static int run_report(sqlite3 *db, const struct report *r, const struct bound *values,
		      const struct fr_output_opts *output)
{
	sqlite3_stmt *st = NULL, *extra = NULL;
	const char *tail = NULL;
	char quoted[REFUSED_QUOTE_BYTES + 1];
	int status = FLOWQ_EXIT_FAILURE;

	if (sqlite3_prepare_v2(db, r->text, -1, &st, &tail) != SQLITE_OK) {
		fprintf(stderr, "flowq: report %s: SQL error: %s\n", r->name, sqlite3_errmsg(db));
		goto cleanup;
	}
	if (!st) {
		fprintf(stderr, "flowq: report %s: %s holds no SQL statement\n", r->name, r->path);
		goto cleanup;
	}
	/* One statement, one result: what follows it may only be blanks and comments. */
	if (sqlite3_prepare_v2(db, tail, -1, &extra, NULL) != SQLITE_OK || extra) {
		fprintf(stderr, "flowq: report %s: %s holds more than one statement (a report is one)\n", r->name,
			r->path);
		goto cleanup;
	}
	if (!sqlite3_stmt_readonly(st)) {
		quote_statement(sqlite3_sql(st), quoted, sizeof(quoted));
		fprintf(stderr, "flowq: report %s: refusing to run a statement that writes: %s\n", r->name, quoted);
		goto cleanup;
	}
	if (sqlite3_column_count(st) == 0) {
		fprintf(stderr, "flowq: report %s: its statement returns no columns\n", r->name);
		goto cleanup;
	}
	if (bind_values(st, r, values))
		goto cleanup;
	if (flowq_print_result(st, output))
		goto cleanup;
	status = FLOWQ_EXIT_OK;
cleanup:
	sqlite3_finalize(extra);
	sqlite3_finalize(st);
	return status;
}

/* ---- the command line ------------------------------------------------------------------- */

static void add_value(struct report_args *args, const char *option, const char *key, size_t key_len,
		      const char *text)
{
	if (args->nvalues == REPORT_MAX_VALUES)
		flowq_usage_error("too many parameter values (at most %d)", REPORT_MAX_VALUES);
	args->values[args->nvalues++] = (struct cli_value){ option, key, key_len, text };
}

static void add_param(struct report_args *args, const char *arg)
{
	const char *eq = strchr(arg, '='), *key = arg;
	size_t key_len;

	if (!eq)
		flowq_usage_error("invalid --param '%s': expected KEY=VALUE", arg);
	if (*key == ':')
		key++;
	key_len = (size_t)(eq - key);
	for (size_t i = 0; i < key_len; i++) {
		if (!is_word_char(key[i]))
			key_len = 0;
	}
	if (key_len == 0)
		flowq_usage_error("invalid --param '%s': KEY is letters, digits and '_'", arg);
	add_value(args, "--param", key, key_len, eq + 1);
}

static error_t parse_report_option(int key, char *arg, struct argp_state *state)
{
	struct report_args *args = state->input;
	struct stat st;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq report", args->globals);
		break;
	case OPT_LIST:
		args->list = 1;
		break;
	case OPT_REPORTS_DIR:
		if (!*arg)
			flowq_usage_error("--reports-dir needs a directory");
		args->reports_dir = arg;
		break;
	case OPT_SINCE:
		add_value(args, "--since", "since", 5, arg);
		break;
	case OPT_UNTIL:
		add_value(args, "--until", "until", 5, arg);
		break;
	case OPT_LIMIT:
		add_value(args, "--limit", "limit", 5, arg);
		break;
	case OPT_PARAM:
		add_param(args, arg);
		break;
	case ARGP_KEY_ARG:
		if (args->name)
			flowq_usage_error("report takes one report name ('%s' and '%s' given)", args->name, arg);
		if (!valid_report_name(arg, strlen(arg)))
			flowq_usage_error("invalid report name '%s': letters, digits, '_' and '-' only", arg);
		args->name = arg;
		break;
	case ARGP_KEY_END:
		if (args->list && args->name)
			flowq_usage_error("--list takes no report name");
		if (args->list && args->nvalues)
			flowq_usage_error("--list takes no parameter values");
		if (!args->list && !args->name)
			flowq_usage_error("report needs a report name, or --list to see them");
		if (args->reports_dir && stat(args->reports_dir, &st) != 0)
			flowq_usage_error("cannot use --reports-dir %s: %s", args->reports_dir, strerror(errno));
		if (args->reports_dir && !S_ISDIR(st.st_mode))
			flowq_usage_error("cannot use --reports-dir %s: not a directory", args->reports_dir);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp report_argp = {
	.options = report_options,
	.parser = parse_report_option,
	.args_doc = "NAME\n--list",
	.doc = report_doc,
	.children = flowq_command_children,
};

int cmd_report(int argc, char **argv, struct flowq_globals *globals)
{
	struct report_args args = { .globals = globals };
	struct report report = { 0 };
	struct bound values[REPORT_MAX_PARAMS];
	sqlite3 *db = NULL;
	int64_t now_ns;
	int status;

	if (argp_parse(&report_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	now_ns = fr_now_ns();
	if (args.list)
		return list_reports(&args, now_ns);

	/* Everything the command line can get wrong is checked before the database is opened. */
	status = find_report(&args, &report, now_ns);
	if (status)
		goto cleanup;
	status = resolve_values(&args, &report, now_ns, values);
	if (status)
		goto cleanup;
	status = FLOWQ_EXIT_FAILURE;
	if (flowq_db_open(globals, &db))
		goto cleanup;
	status = run_report(db, &report, values, &globals->output);
cleanup:
	sqlite3_close(db);
	report_free(&report);
	return status;
}
