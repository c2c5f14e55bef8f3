/*
 * Database open and schema migration.
 *
 * Version 0 is an empty file: the whole of schema.sql is applied. Each later version will
 * add an entry to migrations[] that takes the database from version N to N+1 inside one
 * transaction, so a crash mid-migration leaves the old version intact.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* migrations[i] takes version i+1 to i+2; version 0 to 1 is schema.sql itself. */
static const char *const migrations[] = { NULL };

int fr_db_schema_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = -1;

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

	if (v < 0) {
		snprintf(err, errlen, "not a database: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (v > FR_SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema version %d is newer than this flowrec supports (%d)",
			 v, FR_SCHEMA_VERSION);
		return -1;
	}
	if (v == 0 && exec_tx(db, fr_schema_sql, err, errlen))
		return -1;
	for (v = v ? v : 1; v < FR_SCHEMA_VERSION; v++) {
		char sql[64];

		if (exec_tx(db, migrations[v - 1], err, errlen))
			return -1;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "schema migration failed: %s", sqlite3_errmsg(db));
			return -1;
		}
	}
	return 0;
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

int fr_db_open_ro(const char *path, sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int v;

	if (access(path, R_OK) != 0) {
		snprintf(err, errlen, "cannot open database %s: %s", path, strerror(errno));
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	v = fr_db_schema_version(db);
	if (v < 0) {
		snprintf(err, errlen, "%s is not a database (%s)", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (v == 0) {
		snprintf(err, errlen, "%s is not a flowrec database (schema version 0)", path);
		goto fail;
	}
	if (v > FR_SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema version %d is newer than this flowq supports (%d)",
			 v, FR_SCHEMA_VERSION);
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}
