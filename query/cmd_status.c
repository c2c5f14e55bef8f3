/*
 * flowq status: the recorder's runs (live, ended or crashed, with their loss counters) and
 * how big the database is.
 *
 * The table format prints two titled results, "runs:" and "database:". CSV and JSON
 * readers expect one result of one shape, so the other formats instead repeat the
 * database figures as the last columns of every run row.
 */
#include "query.h"
#include "lockfile.h"
#include "textsafe.h"

#include <libgen.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* A run is live when the data directory's lock is held (lib/lockfile.c) and it is the
 * newest run without an end; a run without an end otherwise crashed. :live is -1 when the
 * lock cannot be read: the newest run's state is then unknown, not called crashed. */
#define RUN_COLUMNS \
	"SELECT id, start_ns, end_ns," \
	" CASE WHEN end_ns IS NOT NULL THEN 'ended'" \
	" WHEN :live = 1 AND id = (SELECT max(id) FROM runs) THEN 'live'" \
	" WHEN :live = -1 AND id = (SELECT max(id) FROM runs) THEN 'unknown'" \
	" ELSE 'crashed' END AS state, heartbeat_ns," \
	" hostname, kernel, cgroup, hooks, features, lost_events, ringbuf_full, flows_full, owners_full," \
	" unowned_packets, ipfix, ipfix_lost, policy," POLICY_COLUMNS
/* The policy a run had in force last: the rules of its highest version, and their hits. */
#define POLICY_VERSION "(SELECT max(version) FROM policy_rules v WHERE v.run_id = runs.id)"
#define POLICY_COLUMNS \
	" (SELECT count(*) FROM policy_rules r WHERE r.run_id = runs.id AND r.version = " POLICY_VERSION \
	") AS policy_rules," \
	" (SELECT sum(hits) FROM policy_rules r WHERE r.run_id = runs.id AND r.version = " POLICY_VERSION \
	") AS policy_hits"
#define DATABASE_COLUMNS \
	":db_bytes AS db_bytes, (SELECT count(*) FROM flows) AS flows," \
	" (SELECT count(*) FROM processes) AS processes"

static const char runs_sql[] = RUN_COLUMNS " FROM runs ORDER BY id";
static const char database_sql[] = "SELECT " DATABASE_COLUMNS;
/* The table format's one-line summary of the newest run's policy. */
static const char policy_sql[] =
	"SELECT policy, " POLICY_COLUMNS ", " POLICY_VERSION ", end_ns IS NULL FROM runs"
	" WHERE id = (SELECT max(id) FROM runs)";
static const char runs_with_database_sql[] = RUN_COLUMNS ", " DATABASE_COLUMNS " FROM runs ORDER BY id";

struct status_args {
	struct flowq_globals *globals;
};

static const char status_doc[] =
	"Show the recorder's runs and the size of the database."
	"\v"
	"Run columns: id, start_ns, end_ns, state, heartbeat_ns, hostname, kernel, cgroup, hooks, features, "
	"lost_events, ringbuf_full, flows_full, owners_full, unowned_packets, ipfix, ipfix_lost, policy, "
	"policy_rules, policy_hits. ipfix names the --ipfix collectors and the observation domain; "
	"ipfix_lost counts the export records a collector did not get (the database has those "
	"flows all the same). policy is the --policy file, policy_rules and policy_hits the rules "
	"of its last version and the attempts they decided. state is 'ended' when the run "
	"stopped cleanly; 'live' when a recorder holds the data directory's lock (flowrec.lock) "
	"and this is its run; 'unknown' for the newest run when the lock file cannot be read; "
	"else 'crashed'. heartbeat_ns is the recorder's last flush.\n"
	"\n"
	"Database columns: db_bytes (the database file plus its -wal file), flows and processes "
	"(row counts).\n"
	"\n"
	"--format table prints two results, titled \"runs:\" and \"database:\". csv, json and "
	"jsonl print one result: the run rows, each with the database columns appended (so no "
	"rows at all when there are no runs).";

static error_t parse_status_option(int key, char *arg, struct argp_state *state)
{
	struct status_args *args = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq status", args->globals);
		break;
	case ARGP_KEY_ARG:
		flowq_usage_error("status takes no arguments ('%s' given)", arg);
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp status_argp = {
	.parser = parse_status_option,
	.doc = status_doc,
	.children = flowq_command_children,
};

/* Size of a file that need not exist: 0 if it does not. Returns -1 on other errors. */
static int add_file_size(const char *path, int64_t *total)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "flowq: cannot stat %s: %s\n", path, strerror(errno));
		return -1;
	}
	*total += st.st_size;
	return 0;
}

static int database_bytes(const char *db_file, int64_t *out)
{
	char wal_file[PATH_MAX + sizeof("-wal")];
	int64_t total = 0;

	if (snprintf(wal_file, sizeof(wal_file), "%s-wal", db_file) >= (int)sizeof(wal_file)) {
		fprintf(stderr, "flowq: path too long: %s\n", db_file);
		return -1;
	}
	if (add_file_size(db_file, &total) || add_file_size(wal_file, &total))
		return -1;
	*out = total;
	return 0;
}

/* Bind a named parameter if the statement has it. */
static int bind_if_present(sqlite3_stmt *st, const char *name, int64_t value)
{
	int index = sqlite3_bind_parameter_index(st, name);

	return index == 0 || sqlite3_bind_int64(st, index, value) == SQLITE_OK ? 0 : -1;
}

static int print_result(sqlite3 *db, const char *title, const char *sql, int64_t live,
			int64_t db_bytes, const struct fr_output_opts *output)
{
	sqlite3_stmt *st = NULL;
	int status = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    bind_if_present(st, ":live", live) ||
	    bind_if_present(st, ":db_bytes", db_bytes)) {
		fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
		goto cleanup;
	}
	if (title)
		printf("%s\n", title);
	if (flowq_print_result(st, output))
		goto cleanup;
	status = 0;
cleanup:
	sqlite3_finalize(st);
	return status;
}

/* "policy: FILE: N rules, H hits (version V, in force)" for the newest run; "none" when it had
 * no --policy. Nothing when there are no runs. */
static int print_policy_line(sqlite3 *db, int64_t live)
{
	sqlite3_stmt *st = NULL;
	int status = -1, rc;

	if (sqlite3_prepare_v2(db, policy_sql, -1, &st, NULL) != SQLITE_OK)
		goto sql_error;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL) {
		printf("\npolicy: none\n");
	} else if (rc == SQLITE_ROW) {
		char file[PATH_MAX];

		printf("\npolicy: %s: %lld rules, %lld hits (version %lld, %s)\n",
		       fr_term_safe_str((const char *)sqlite3_column_text(st, 0), file, sizeof(file)),
		       (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2),
		       (long long)sqlite3_column_int64(st, 3),
		       live == 1 && sqlite3_column_int(st, 4) ? "in force" : "not in force: its run is over");
	} else if (rc != SQLITE_DONE) {
		goto sql_error;
	}
	status = 0;
	goto cleanup;
sql_error:
	fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
cleanup:
	sqlite3_finalize(st);
	return status;
}

int cmd_status(int argc, char **argv, struct flowq_globals *globals)
{
	struct status_args args = { .globals = globals };
	const struct fr_output_opts *output = &globals->output;
	char path_buf[PATH_MAX];
	const char *db_file;
	sqlite3 *db = NULL;
	int64_t db_bytes, live;
	char dir[PATH_MAX];
	int status = FLOWQ_EXIT_FAILURE;

	if (argp_parse(&status_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	if (flowq_db_open(globals, &db))
		goto cleanup;
	/* Sizes after the open, so that a missing database is reported as such above. */
	db_file = flowq_db_file(globals, path_buf, sizeof(path_buf));
	if (!db_file || database_bytes(db_file, &db_bytes))
		goto cleanup;
	snprintf(dir, sizeof(dir), "%s", db_file);
	live = fr_lock_holder(dirname(dir));
	if (live < 0)
		fprintf(stderr, "flowq: cannot read %s/flowrec.lock (%s): the newest run's state is unknown\n",
			dir, strerror(errno));
	live = live > 0 ? 1 : live;

	if (output->format == FR_FMT_TABLE) {
		if (print_result(db, "runs:", runs_sql, live, db_bytes, output) ||
		    print_policy_line(db, live))
			goto cleanup;
		putchar('\n');
		if (print_result(db, "database:", database_sql, live, db_bytes, output))
			goto cleanup;
	} else if (print_result(db, NULL, runs_with_database_sql, live, db_bytes, output)) {
		goto cleanup;
	}
	status = FLOWQ_EXIT_OK;
cleanup:
	sqlite3_close(db);
	return status;
}
