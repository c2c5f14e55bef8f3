/*
 * Unit tests for lib/db.c: schema creation and its column contract, idempotent reopening,
 * refusal of newer schemas and of files that are not flowrec databases, and a read-only open
 * that really cannot write. Each test works in its own directory under /tmp.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"

struct fixture {
	char dir[64];
	char db[PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/flowrec-test-db-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->db, sizeof(fx->db), "%s/flows.db", fx->dir);
	*state = fx;
	return 0;
}

/* Remove the directory and whatever SQLite left in it (-wal, -shm). */
static int teardown(void **state)
{
	struct fixture *fx = *state;
	DIR *d = opendir(fx->dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[PATH_MAX];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fx->dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static long long query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A database made without db.c, for the files flowrec must refuse. */
static void make_raw_db(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, sql);
	sqlite3_close(db);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The whole file; *len gets its size. The caller frees it. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = (size_t)n;
	return buf;
}

static void check_columns(sqlite3 *db, const char *table, const char *const *want, size_t nwant)
{
	char sql[128];
	sqlite3_stmt *st = NULL;
	int found[64] = { 0 };

	assert_true(nwant <= 64);
	snprintf(sql, sizeof(sql), "SELECT name FROM pragma_table_info('%s')", table);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		for (size_t i = 0; i < nwant; i++)
			found[i] |= strcmp(name, want[i]) == 0;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < nwant; i++) {
		if (!found[i])
			fail_msg("table %s has no column %s", table, want[i]);
	}
}

static void insert_sample(sqlite3 *db)
{
	exec_ok(db, "INSERT INTO runs (start_ns, hostname, kernel, version, options, cgroup, hooks)"
		    " VALUES (1796032800000000000, 'h', '6.1', '0.1', '', '/', 'x')");
	exec_ok(db, "INSERT INTO flows (run_id, start_ns, last_ns, netns, proto, family, direction, laddr, lport,"
		    " raddr, rport, socket_cookie)"
		    " VALUES (1, 1796032800000000000, 1796032801000000000, 4026531840, 'tcp', 4, 'out',"
		    " '10.0.0.1', 40000, '10.0.0.2', 443, 77)");
}

static void test_fresh_db(void **state)
{
	static const char *const flows_cols[] = {
		"id", "run_id", "start_ns", "last_ns", "end_ns", "pid", "tid", "comm",
		"uid", "cgroup_id", "netns", "proto", "family", "direction", "laddr", "lport",
		"raddr", "rport", "bytes_out", "bytes_in", "packets_out", "packets_in", "socket_cookie",
	};
	static const char *const runs_cols[] = {
		"id", "start_ns", "end_ns", "heartbeat_ns", "hostname", "kernel", "version", "options",
		"cgroup", "hooks", "lost_events", "features",
	};
	static const char *const processes_cols[] = {
		"pid", "start_ns", "ppid", "comm", "exe", "cmdline", "uid", "cgroup_id", "netns", "run_id",
	};
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	char err[256] = "", wal[PATH_MAX + 8];
	struct stat sb;
	mode_t old_umask;

	/* Even with a umask that lets everyone read, the database is private. */
	old_umask = umask(0);
	if (fr_db_open_rw(fx->db, &db, err, sizeof(err)) != 0) {
		umask(old_umask);
		fail_msg("open_rw: %s", err);
	}
	assert_int_equal(fr_db_schema_version(db), FR_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
				       " AND name IN ('runs', 'processes', 'flows')"),
			 3);
	check_columns(db, "flows", flows_cols, sizeof(flows_cols) / sizeof(flows_cols[0]));
	check_columns(db, "runs", runs_cols, sizeof(runs_cols) / sizeof(runs_cols[0]));
	check_columns(db, "processes", processes_cols, sizeof(processes_cols) / sizeof(processes_cols[0]));
	assert_int_equal(query_int(db, "SELECT count(*) FROM flows"), 0);

	/* SQLite gives its -wal file the database's mode: private too. */
	insert_sample(db);
	snprintf(wal, sizeof(wal), "%s-wal", fx->db);
	assert_int_equal(stat(wal, &sb), 0);
	umask(old_umask);
	assert_int_equal(sb.st_mode & 07777, 0600);
	sqlite3_close(db);

	assert_int_equal(stat(fx->db, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
}

static void test_migrate_in_memory(void **state)
{
	sqlite3 *db = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(fr_db_schema_version(db), 0);
	if (fr_db_migrate(db, err, sizeof(err)) != 0)
		fail_msg("migrate: %s", err);
	assert_int_equal(fr_db_schema_version(db), FR_SCHEMA_VERSION);
	/* a second migration is a no-op */
	insert_sample(db);
	if (fr_db_migrate(db, err, sizeof(err)) != 0)
		fail_msg("second migrate: %s", err);
	assert_int_equal(query_int(db, "SELECT count(*) FROM flows"), 1);
	sqlite3_close(db);
}

/* Every table's columns as "table.col type notnull default pk" lines, in order. */
static char *schema_shape(sqlite3 *db)
{
	static const char sql[] =
		"SELECT group_concat(m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\""
		" || ' ' || ifnull(p.dflt_value, '-') || ' ' || p.pk, char(10))"
		" FROM sqlite_master m, pragma_table_info(m.name) p"
		" WHERE m.type = 'table' ORDER BY m.name, p.cid";
	sqlite3_stmt *st = NULL;
	char *shape = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	shape = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return shape;
}

/* A version 1 database (schema/schema.sql as it was, kept in tests/unit/schema-v1.sql)
 * migrates to exactly the tables and columns a new database gets, and keeps its rows. */
static void test_migrate_from_v1(void **state)
{
	sqlite3 *fresh = NULL, *old = NULL;
	char err[256] = "", *want, *got, *v1 = NULL;
	FILE *f = fopen(FR_TEST_DATA "/schema-v1.sql", "r");
	long n;

	(void)state;
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	v1 = calloc(1, n + 1);
	assert_int_equal(fread(v1, 1, n, f), n);
	fclose(f);

	assert_int_equal(sqlite3_open(":memory:", &fresh), SQLITE_OK);
	if (fr_db_migrate(fresh, err, sizeof(err)) != 0)
		fail_msg("migrate new: %s", err);
	assert_int_equal(sqlite3_open(":memory:", &old), SQLITE_OK);
	assert_int_equal(sqlite3_exec(old, v1, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(fr_db_schema_version(old), 1);
	insert_sample(old);
	if (fr_db_migrate(old, err, sizeof(err)) != 0)
		fail_msg("migrate v1: %s", err);
	assert_int_equal(fr_db_schema_version(old), FR_SCHEMA_VERSION);
	assert_int_equal(query_int(old, "SELECT socket_cookie FROM flows"), 77);
	assert_int_equal(query_int(old, "SELECT parent_flow_id IS NULL FROM flows"), 1);

	want = schema_shape(fresh);
	got = schema_shape(old);
	assert_string_equal(got, want);
	assert_non_null(strstr(want, "socket_events.flow_id INTEGER"));
	assert_non_null(strstr(want, "runs.features TEXT"));
	free(want);
	free(got);
	free(v1);
	sqlite3_close(fresh);
	sqlite3_close(old);
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	char err[256] = "";

	if (fr_db_open_rw(fx->db, &db, err, sizeof(err)) != 0)
		fail_msg("open_rw: %s", err);
	insert_sample(db);
	sqlite3_close(db);

	for (int i = 0; i < 2; i++) {
		db = NULL;
		if (fr_db_open_rw(fx->db, &db, err, sizeof(err)) != 0)
			fail_msg("reopen %d: %s", i, err);
		assert_int_equal(fr_db_schema_version(db), FR_SCHEMA_VERSION);
		assert_int_equal(query_int(db, "SELECT count(*) FROM runs"), 1);
		assert_int_equal(query_int(db, "SELECT count(*) FROM flows"), 1);
		assert_int_equal(query_int(db, "SELECT socket_cookie FROM flows"), 77);
		assert_int_equal(query_int(db, "SELECT bytes_out FROM flows"), 0);
		sqlite3_close(db);
	}

	db = NULL;
	if (fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)) != 0)
		fail_msg("open_ro: %s", err);
	assert_int_equal(query_int(db, "SELECT count(*) FROM flows"), 1);
	sqlite3_close(db);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = (sqlite3 *)0x1;
	char err[256] = "";

	make_raw_db(fx->db, "CREATE TABLE flows (id INTEGER PRIMARY KEY); PRAGMA user_version = 99;");

	assert_int_equal(fr_db_open_rw(fx->db, &db, err, sizeof(err)), -1);
	assert_true(db == (sqlite3 *)0x1);
	if (!strstr(err, "newer"))
		fail_msg("open_rw error does not say newer: %s", err);

	err[0] = '\0';
	assert_int_equal(fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)), -1);
	assert_true(db == (sqlite3 *)0x1);
	if (!strstr(err, "newer"))
		fail_msg("open_ro error does not say newer: %s", err);

	/* and neither touched the version */
	db = NULL;
	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	assert_int_equal(fr_db_schema_version(db), 99);
	sqlite3_close(db);
}

static void test_ro_refuses_missing(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	char err[512] = "";

	assert_int_equal(fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)), -1);
	assert_null(db);
	if (!strstr(err, fx->db) || !strstr(err, "No such file"))
		fail_msg("unexpected error: %s", err);
	/* and did not create it */
	assert_int_equal(access(fx->db, F_OK), -1);
}

static void test_ro_refuses_garbage(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	char err[512] = "", junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)('a' + i % 26);
	write_file(fx->db, junk, sizeof(junk));

	assert_int_equal(fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)), -1);
	assert_null(db);
	if (!strstr(err, "not a database"))
		fail_msg("open_ro error does not say 'not a database': %s", err);

	err[0] = '\0';
	assert_int_equal(fr_db_open_rw(fx->db, &db, err, sizeof(err)), -1);
	assert_null(db);
	if (!strstr(err, "not a database"))
		fail_msg("open_rw error does not say 'not a database': %s", err);
}

static void test_ro_refuses_version_0(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	char err[512] = "";

	/* an empty file is an empty SQLite database */
	write_file(fx->db, "", 0);
	assert_int_equal(fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)), -1);
	assert_null(db);
	if (!strstr(err, "not a flowrec database"))
		fail_msg("unexpected error for an empty file: %s", err);

	/* a real SQLite database of something else */
	unlink(fx->db);
	make_raw_db(fx->db, "CREATE TABLE other (x); INSERT INTO other VALUES (1);");
	err[0] = '\0';
	assert_int_equal(fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)), -1);
	assert_null(db);
	if (!strstr(err, "not a flowrec database"))
		fail_msg("unexpected error for a foreign database: %s", err);
}

static void test_ro_cannot_write(void **state)
{
	static const char *const writes[] = {
		"INSERT INTO runs (start_ns, hostname, kernel, version, options, cgroup, hooks)"
		" VALUES (1, 'h', 'k', 'v', 'o', 'c', 'h')",
		"UPDATE flows SET bytes_out = 1",
		"DELETE FROM flows",
		"CREATE TABLE t (x)",
		"PRAGMA user_version = 5",
	};
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	char err[256] = "", *before, *after;
	size_t before_len, after_len;

	if (fr_db_open_rw(fx->db, &db, err, sizeof(err)) != 0)
		fail_msg("open_rw: %s", err);
	insert_sample(db);
	sqlite3_close(db);
	before = read_file(fx->db, &before_len);

	db = NULL;
	if (fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)) != 0)
		fail_msg("open_ro: %s", err);
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		if (sqlite3_exec(db, writes[i], NULL, NULL, NULL) == SQLITE_OK)
			fail_msg("read-only database accepted: %s", writes[i]);
	}
	assert_int_equal(query_int(db, "SELECT count(*) FROM flows"), 1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM runs"), 1);
	sqlite3_close(db);

	after = read_file(fx->db, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);
}

/* An older database (tests/unit/schema-vN.sql, with a sample row) is read as it is: the
 * later columns show through temporary views (checked by the count query, which must give
 * 1) and the file keeps its version; the recorder then migrates it to the shape of a new
 * one. */
static void read_and_migrate(struct fixture *fx, const char *file, int version, const char *later_sql)
{
	char err[256] = "", *old = read_file(file, NULL), *want, *got;
	sqlite3 *db = NULL, *fresh = NULL;

	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	exec_ok(db, old);
	insert_sample(db);
	sqlite3_close(db);

	db = NULL;
	if (fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)) != 0)
		fail_msg("open_ro v%d: %s", version, err);
	assert_int_equal(query_int(db, later_sql), 1);
	assert_int_equal(query_int(db, "SELECT socket_cookie FROM flows"), 77);
	assert_int_equal(query_int(db, "SELECT count(*) FROM policy_rules"), 0);
	assert_int_equal(fr_db_schema_version(db), version);
	sqlite3_close(db);

	db = NULL;
	if (fr_db_open_rw(fx->db, &db, err, sizeof(err)) != 0)
		fail_msg("open_rw v%d: %s", version, err);
	assert_int_equal(fr_db_schema_version(db), FR_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "SELECT socket_cookie FROM flows"), 77);
	assert_int_equal(sqlite3_open(":memory:", &fresh), SQLITE_OK);
	if (fr_db_migrate(fresh, err, sizeof(err)) != 0)
		fail_msg("migrate new: %s", err);
	want = schema_shape(fresh);
	got = schema_shape(db);
	assert_string_equal(got, want);
	free(want);
	free(got);
	free(old);
	sqlite3_close(fresh);
	sqlite3_close(db);
}

static void test_v2_read_and_migrated(void **state)
{
	read_and_migrate(*state, FR_TEST_DATA "/schema-v2.sql", 2,
			 "SELECT count(*) FROM runs WHERE features IS NULL AND policy IS NULL");
}

static void test_v3_read_and_migrated(void **state)
{
	read_and_migrate(*state, FR_TEST_DATA "/schema-v3.sql", 3,
			 "SELECT count(*) FROM flows WHERE verdict IS NULL AND rule IS NULL");
}

static bool exists_with(const char *db, const char *suffix)
{
	char p[PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s%s", db, suffix);
	return access(p, F_OK) == 0;
}

/* A database a recorder closed cleanly (no -wal, no -shm): reading it creates neither (the
 * e2e test does it in a read-only mount). One a recorder left by crashing (-wal, -shm): read
 * with what the -wal holds. */
static void test_ro_creates_nothing(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	char err[512] = "";
	pid_t pid;
	int st;

	assert_int_equal(fr_db_open_rw(fx->db, &db, err, sizeof(err)), 0);
	exec_ok(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
	sqlite3_close(db);
	assert_false(exists_with(fx->db, "-wal"));

	db = NULL;
	if (fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)) != 0)
		fail_msg("open_ro of a closed database: %s", err);
	assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 1);
	sqlite3_close(db);
	assert_false(exists_with(fx->db, "-wal"));
	assert_false(exists_with(fx->db, "-shm"));

	/* the crash: a child writes a second run and exits without closing */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sqlite3 *w = NULL;

		if (fr_db_open_rw(fx->db, &w, err, sizeof(err)) ||
		    sqlite3_exec(w, "PRAGMA wal_autocheckpoint=0; INSERT INTO t VALUES (2)",
				 NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(exists_with(fx->db, "-wal"));
	db = NULL;
	if (fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)) != 0)
		fail_msg("open_ro after a crash: %s", err);
	assert_int_equal(query_int(db, "SELECT count(*) FROM t"), 2);
	sqlite3_close(db);
}

/* What is not a regular file is named as such: a FIFO is not opened (it would block), a
 * directory is not "disk I/O error"; a negative user_version is not "not an error". */
static void test_ro_refuses_odd_files(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = NULL;
	char err[512] = "";

	assert_int_equal(mkfifo(fx->db, 0600), 0);
	assert_int_equal(fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)), -1);
	assert_null(db);
	if (!strstr(err, "not a regular file"))
		fail_msg("FIFO: %s", err);
	assert_int_equal(fr_db_open_ro(fx->dir, &db, 0, err, sizeof(err)), -1);
	if (!strstr(err, "is a directory"))
		fail_msg("directory: %s", err);
	unlink(fx->db);
	make_raw_db(fx->db, "PRAGMA user_version = -1;");
	assert_int_equal(fr_db_open_ro(fx->db, &db, 0, err, sizeof(err)), -1);
	if (!strstr(err, "not a flowrec database (schema version -1)"))
		fail_msg("user_version -1: %s", err);
	assert_int_equal(fr_db_open_rw(fx->db, &db, err, sizeof(err)), -1);
	if (!strstr(err, "not a flowrec database (schema version -1)"))
		fail_msg("user_version -1, read-write: %s", err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_db, setup, teardown),
		cmocka_unit_test(test_migrate_in_memory),
		cmocka_unit_test(test_migrate_from_v1),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_refuses_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_refuses_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_refuses_version_0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_cannot_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_read_and_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v3_read_and_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_creates_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ro_refuses_odd_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
