/*
 * Database open and schema migration.
 *
 * Version 0 is an empty file: the whole of schema.sql (the latest version) is applied. An
 * older database goes through migrations[], each taking version N to N+1 and setting the
 * version inside one transaction, so a crash mid-migration leaves the old version intact.
 */
#include "db.h"
#include "share.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* migrations[i] takes version i+1 to i+2; a new database gets schema.sql, which is already
 * the latest version. Columns are documented in schema.sql; the unit test checks that a
 * migrated database has the same tables and columns as a new one. */
static const char *const migrations[] = {
	/* 1 -> 2: MPTCP subflows point to their connection; socket events and their loss count. */
	"ALTER TABLE flows ADD COLUMN parent_flow_id INTEGER;"
	"ALTER TABLE runs ADD COLUMN socket_events_lost INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE socket_events (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL,"
	" ts_ns INTEGER NOT NULL, pid INTEGER NOT NULL, tid INTEGER NOT NULL, comm TEXT,"
	" proc_start_ns INTEGER, uid INTEGER, netns INTEGER, cgroup_id INTEGER,"
	" event TEXT NOT NULL, kern INTEGER NOT NULL DEFAULT 0, fd INTEGER, family INTEGER,"
	" type TEXT, protocol TEXT, laddr TEXT, lport INTEGER, raddr TEXT, rport INTEGER,"
	" backlog INTEGER, level INTEGER, optname INTEGER, ret INTEGER, socket_cookie INTEGER,"
	" flow_id INTEGER);"
	"CREATE INDEX socket_events_ts ON socket_events(ts_ns);",
	/* 2 -> 3: which mechanism each capability used on the run's kernel; how a flow ended. */
	"ALTER TABLE runs ADD COLUMN features TEXT;"
	"ALTER TABLE flows ADD COLUMN end_reason TEXT;",
	/* 3 -> 4: policy verdicts on flows, the rules in force; the IPFIX export. */
	"ALTER TABLE runs ADD COLUMN policy TEXT;"
	"ALTER TABLE runs ADD COLUMN ipfix TEXT;"
	"ALTER TABLE runs ADD COLUMN ipfix_lost INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE flows ADD COLUMN verdict TEXT;"
	"ALTER TABLE flows ADD COLUMN rule TEXT;"
	"CREATE TABLE policy_rules (run_id INTEGER NOT NULL, version INTEGER NOT NULL,"
	" position INTEGER NOT NULL, line INTEGER NOT NULL, name TEXT NOT NULL, action TEXT NOT NULL,"
	" what TEXT NOT NULL, rule TEXT NOT NULL, file TEXT NOT NULL, loaded_ns INTEGER NOT NULL,"
	" replaced_ns INTEGER, hits INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (run_id, version, position)) WITHOUT ROWID;"
	"CREATE TABLE flow_samples (flow_id INTEGER NOT NULL, start_ns INTEGER NOT NULL,"
	" end_ns INTEGER NOT NULL, bytes_out INTEGER NOT NULL, bytes_in INTEGER NOT NULL,"
	" packets_out INTEGER NOT NULL, packets_in INTEGER NOT NULL);"
	"CREATE INDEX flow_samples_end ON flow_samples(end_ns);",
};

int fr_db_schema_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = FR_DB_UNREADABLE;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		goto cleanup;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
cleanup:
	sqlite3_finalize(st);
	return v;
}

static int exec_tx(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "schema migration failed: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

int fr_db_migrate(sqlite3 *db, char *err, size_t errlen)
{
	int v = fr_db_schema_version(db);

	if (v == FR_DB_UNREADABLE) {
		snprintf(err, errlen, "not a database: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (v < 0) {
		snprintf(err, errlen, "not a flowrec database (schema version %d)", v);
		return -1;
	}
	if (v > FR_SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema version %d is newer than this flowrec supports (%d)",
			 v, FR_SCHEMA_VERSION);
		return -1;
	}
	if (v == 0) {
		if (exec_tx(db, fr_schema_sql, err, errlen))
			return -1;
		v = FR_SCHEMA_VERSION;
	}
	for (; v < FR_SCHEMA_VERSION; v++) {
		char sql[2048];

		/* The version moves in the same transaction as the change it names. */
		snprintf(sql, sizeof(sql), "%s PRAGMA user_version = %d;", migrations[v - 1], v + 1);
		if (exec_tx(db, sql, err, errlen))
			return -1;
	}
	return 0;
}

static int share_sidecar(const char *path, const char *suffix)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return fr_share_path(p, false) && errno != ENOENT ? -1 : 0;
}

int fr_db_open_rw(const char *path, sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int fd;

	/* Create it ourselves so the mode is 0600 from the first byte. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open database %s: %s", path, strerror(errno));
		return -1;
	}
	/* --group: SQLite gives the -wal and -shm it makes the database's group and mode; those
	 * a crash left are given them here. */
	if (fr_share_fd(fd, false) || share_sidecar(path, "-wal") || share_sidecar(path, "-shm")) {
		snprintf(err, errlen, "cannot give database %s to its group: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	/* Refuse a newer schema before anything (even the journal mode) touches the file. */
	if (fr_db_schema_version(db) > FR_SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema version %d is newer than this flowrec supports (%d)",
			 fr_db_schema_version(db), FR_SCHEMA_VERSION);
		goto fail;
	}
	/* A 64 MiB page cache keeps the flows indexes' hot pages in memory: with the 2 MiB
	 * default, index pages are re-read from the file system on every batch. */
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
			 NULL, NULL, NULL)
	    != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (fr_db_migrate(db, err, errlen))
		goto fail;
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}

/* An older database is read as it is, its tables seen through temporary views that add the
 * later columns as NULL or 0; the file is not touched. compat_views[v] serves version v. */
#define FR_POLICY_RULES_VIEW                                                                      \
	"CREATE TEMP TABLE policy_rules (run_id INTEGER, version INTEGER, position INTEGER,"  \
	" line INTEGER, name TEXT, action TEXT, what TEXT, rule TEXT, file TEXT,"             \
	" loaded_ns INTEGER, replaced_ns INTEGER, hits INTEGER);"                             \
	"CREATE TEMP TABLE flow_samples (flow_id INTEGER, start_ns INTEGER, end_ns INTEGER,"  \
	" bytes_out INTEGER, bytes_in INTEGER, packets_out INTEGER, packets_in INTEGER);"
static const char *const compat_views[FR_SCHEMA_VERSION] = {
	[1] = "CREATE TEMP VIEW flows AS SELECT *, NULL AS parent_flow_id, NULL AS end_reason,"
	      " NULL AS verdict, NULL AS rule FROM main.flows;"
	      "CREATE TEMP VIEW runs AS SELECT *, 0 AS socket_events_lost, NULL AS features,"
	      " NULL AS policy, NULL AS ipfix, 0 AS ipfix_lost FROM main.runs;" FR_POLICY_RULES_VIEW,
	[2] = "CREATE TEMP VIEW flows AS SELECT *, NULL AS end_reason, NULL AS verdict, NULL AS rule"
	      " FROM main.flows;"
	      "CREATE TEMP VIEW runs AS SELECT *, NULL AS features, NULL AS policy, NULL AS ipfix,"
	      " 0 AS ipfix_lost FROM main.runs;"
	      FR_POLICY_RULES_VIEW,
	[3] = "CREATE TEMP VIEW flows AS SELECT *, NULL AS verdict, NULL AS rule FROM main.flows;"
	      "CREATE TEMP VIEW runs AS SELECT *, NULL AS policy, NULL AS ipfix, 0 AS ipfix_lost"
	      " FROM main.runs;" FR_POLICY_RULES_VIEW,
};

/* A regular file, or err says what it is instead: a FIFO would block the open, a directory
 * would come back as "disk I/O error". */
static int regular_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st)) {
		snprintf(err, errlen, "cannot open database %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 S_ISDIR(st.st_mode) ? "is a directory (give the data directory with --data)"
					     : "not a regular file");
		return -1;
	}
	return 0;
}

/* "file:PATH?PARAMS" with PATH percent-encoded where a URI needs it. */
static int db_uri(char *buf, size_t len, const char *path, const char *params)
{
	size_t n = 0;
	int k;

	k = snprintf(buf, len, "file:");
	if (k < 0 || (size_t)k >= len)
		return -1;
	n = (size_t)k;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		k = (*p == '%' || *p == '?' || *p == '#' || *p <= ' ' || *p >= 0x7f)
			    ? snprintf(buf + n, len - n, "%%%02X", *p)
			    : snprintf(buf + n, len - n, "%c", *p);
		if (k < 0 || (size_t)k >= len - n)
			return -1;
		n += (size_t)k;
	}
	k = snprintf(buf + n, len - n, "?%s", params);
	return k < 0 || (size_t)k >= len - n ? -1 : 0;
}

static bool exists(const char *path, const char *suffix)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return access(p, F_OK) == 0;
}

int fr_db_open_ro(const char *path, sqlite3 **out, int recorder_live, char *err, size_t errlen)
{
	char uri[3 * PATH_MAX + 64];
	const char *params;
	sqlite3 *db = NULL;
	int v;

	if (regular_file(path, err, errlen))
		return -1;
	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "cannot open database %s: %s", path, strerror(errno));
		return -1;
	}
	/* Read-only must not create anything beside the database. SQLite opens a WAL database
	 * by creating DB-wal and DB-shm where they are absent (as the caller's files, or failing
	 * in a directory it cannot write). A recorder that stopped removed both, and everything
	 * is in the file: it is opened immutable, unless a recorder is just starting (it makes
	 * the -wal itself a moment later). A live or crashed recorder left both, and a plain
	 * read-only open uses them (only a -wal copied without its -shm makes SQLite add one). */
	params = exists(path, "-wal") || recorder_live ? "mode=ro" : "mode=ro&immutable=1";
	if (db_uri(uri, sizeof(uri), path, params)) {
		snprintf(err, errlen, "cannot open database %s: path too long", path);
		return -1;
	}
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	v = fr_db_schema_version(db);
	if (v == FR_DB_UNREADABLE && sqlite3_errcode(db) == SQLITE_CANTOPEN) {
		snprintf(err, errlen, "cannot read database %s: its -wal or -shm file cannot be opened or "
			 "created (%s)", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (v == FR_DB_UNREADABLE) {
		snprintf(err, errlen, "%s is not a database (%s)", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (v <= 0) {
		snprintf(err, errlen, "%s is not a flowrec database (schema version %d)", path, v);
		goto fail;
	}
	if (v > FR_SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema version %d is newer than this flowq supports (%d)",
			 v, FR_SCHEMA_VERSION);
		goto fail;
	}
	/* An older database (no newer recorder has opened it): socket_events stays missing in
	 * version 1, and flowq events says so. */
	if (v < FR_SCHEMA_VERSION && sqlite3_exec(db, compat_views[v], NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (sqlite3_exec(db, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}
