/*
 * --follow (flowq flows, dns, events): print the matching rows there are, then those that
 * reach the database after, until Ctrl-C, read-only like every other command.
 *
 * Rows are told apart by their id, which the recorder's one writer hands out in the order it
 * inserts them. Every half second, one read transaction (a consistent snapshot, whatever the
 * writer commits meanwhile) prints the rows past the last id seen and, for flows, the rows
 * printed while open that have an end now (printed again, with it), then reads back which
 * ids it printed and which of them are still open. Both go into the query as one JSON
 * parameter, so that the command's filters and their SQL stay as they are.
 */
#include "query.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_NS 500000000L

static volatile sig_atomic_t follow_stop;

static void on_interrupt(int sig)
{
	(void)sig;
	follow_stop = 1;
}

struct follow_state {
	int64_t after;     /* the highest id printed */
	int64_t *open;     /* flows printed without an end, to print again when they end */
	size_t nopen, capopen;
	sqlite3_str *param;
};

/* '{"after":N,"open":[...]}' for :follow, or NULL when out of memory. */
static const char *follow_param(struct follow_state *fs)
{
	sqlite3_free(sqlite3_str_finish(fs->param));
	fs->param = sqlite3_str_new(NULL);
	sqlite3_str_appendf(fs->param, "{\"after\":%lld,\"open\":[", (long long)fs->after);
	for (size_t i = 0; i < fs->nopen; i++)
		sqlite3_str_appendf(fs->param, "%s%lld", i ? "," : "", (long long)fs->open[i]);
	sqlite3_str_appendall(fs->param, "]}");
	return sqlite3_str_errcode(fs->param) ? NULL : sqlite3_str_value(fs->param);
}

/* The rows st (the state query: id, open) returns replace what fs knows of those ids. */
static int follow_update(struct follow_state *fs, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		int open = sqlite3_column_int(st, 1);
		size_t i;

		if (id > fs->after)
			fs->after = id;
		for (i = 0; i < fs->nopen && fs->open[i] != id; i++)
			;
		if (i < fs->nopen && !open)
			fs->open[i] = fs->open[--fs->nopen];
		else if (i == fs->nopen && open) {
			if (fs->nopen == fs->capopen) {
				size_t cap = fs->capopen ? fs->capopen * 2 : 256;
				int64_t *n = realloc(fs->open, cap * sizeof(*n));

				if (!n)
					return -1;
				fs->open = n;
				fs->capopen = cap;
			}
			fs->open[fs->nopen++] = id;
		}
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

/* query with the filters given plus, after the first round, the follow condition. */
static sqlite3_stmt *prepare(sqlite3 *db, const struct flowq_filter_query *query,
			     const struct flowq_filter_value *values, const char *param)
{
	struct flowq_filter filters[64];
	struct flowq_filter_value vals[64];
	struct flowq_filter_query q = *query;
	sqlite3_stmt *st = NULL;
	char *sql;

	if (query->count + 1 > sizeof(filters) / sizeof(filters[0]))
		return NULL;
	memcpy(filters, query->filters, query->count * sizeof(*filters));
	memcpy(vals, values, query->count * sizeof(*vals));
	filters[query->count] = (struct flowq_filter){ q.follow_condition, ":follow" };
	vals[query->count] = param ? flowq_filter_text(param) : (struct flowq_filter_value){ 0 };
	q.filters = filters;
	q.count = query->count + 1;
	sql = flowq_filter_sql(&q, vals);
	if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || flowq_filter_bind(st, &q, vals)) {
		sqlite3_finalize(st);
		st = NULL;
	}
	sqlite3_free(sql);
	return st;
}

int flowq_follow_filtered(const struct flowq_globals *globals, const struct fr_output_opts *output,
			  const struct flowq_filter_query *query, const struct flowq_filter_value *values)
{
	struct flowq_filter_query state_query = *query;
	struct fr_output_opts o = *output;
	struct follow_state fs = { 0 };
	struct sigaction sa = { .sa_handler = on_interrupt };
	sqlite3_stmt *rows = NULL, *state = NULL;
	const char *param = NULL;
	sqlite3 *db = NULL;
	char err[512];
	int status = FLOWQ_EXIT_FAILURE;

	if (output->format == FR_FMT_JSON) {
		fprintf(stderr, "flowq: --follow prints rows as they come: use --format table, csv or jsonl\n");
		return FLOWQ_EXIT_USAGE;
	}
	if (flowq_db_open(globals, &db) || (query->setup && query->setup(db)))
		goto cleanup;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	state_query.select = query->follow_state;
	state_query.order = "";
	while (!follow_stop) {
		struct timespec pause = { 0, POLL_NS };

		rows = prepare(db, query, values, param);
		state = prepare(db, &state_query, values, param);
		if (!rows || !state || sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
			goto cleanup;
		}
		if (fr_output_stmt(stdout, rows, &o, err, sizeof(err)) < 0) {
			fprintf(stderr, "flowq: %s\n", err);
			goto cleanup;
		}
		if (follow_update(&fs, state)) {
			fprintf(stderr, "flowq: %s\n", sqlite3_errmsg(db));
			goto cleanup;
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_finalize(rows);
		sqlite3_finalize(state);
		rows = state = NULL;
		o.no_header = 1; /* the header once, at the top */
		param = follow_param(&fs);
		if (!param) {
			fprintf(stderr, "flowq: out of memory\n");
			goto cleanup;
		}
		nanosleep(&pause, NULL);
	}
	status = FLOWQ_EXIT_OK;
cleanup:
	sqlite3_finalize(rows);
	sqlite3_finalize(state);
	sqlite3_free(sqlite3_str_finish(fs.param));
	free(fs.open);
	sqlite3_close(db);
	return status;
}
