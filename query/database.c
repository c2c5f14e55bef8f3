/*
 * The one way flowq opens the recorder's database: read-only at every level SQLite offers,
 * so that neither a command nor SQL a user types can change what the recorder wrote.
 *
 * Layers: the file is opened SQLITE_OPEN_READONLY with PRAGMA query_only (fr_db_open_ro),
 * without creating its -wal or -shm; the authorizer below refuses ATTACH and DETACH (an
 * attached file is a way around the first layer), switching query_only off, and
 * fts3_tokenizer() (which hands out a code address); `flowq sql` also refuses any statement
 * for which sqlite3_stmt_readonly() is false before stepping it. SQLite's defensive mode is
 * on and the schema untrusted, so a crafted database cannot make its views or triggers
 * call functions with side effects.
 */
#include "query.h"
#include "db.h"
#include "lockfile.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>

const char *flowq_db_file(const struct flowq_globals *globals, char *buf, size_t len)
{
	const char *dir = globals->data_dir ? globals->data_dir : FLOWQ_DEFAULT_DATA_DIR;
	int n;

	if (globals->db_file)
		return globals->db_file;
	n = snprintf(buf, len, "%s/%s", dir, FLOWQ_DB_FILE_NAME);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "flowq: cannot open database: path too long: %s/%s\n", dir,
			FLOWQ_DB_FILE_NAME);
		return NULL;
	}
	return buf;
}

static int authorize(void *unused, int action, const char *arg1, const char *arg2, const char *db_name,
		     const char *trigger)
{
	(void)unused;
	(void)db_name;
	(void)trigger;
	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH:
		return SQLITE_DENY;
	case SQLITE_FUNCTION:
		return arg2 && strcasecmp(arg2, "fts3_tokenizer") == 0 ? SQLITE_DENY : SQLITE_OK;
	case SQLITE_PRAGMA:
		/* Reading query_only is harmless; setting it would lower one of the guards. */
		if (arg1 && arg2 && strcasecmp(arg1, "query_only") == 0)
			return SQLITE_DENY;
		return SQLITE_OK;
	default:
		return SQLITE_OK;
	}
}

int flowq_db_open(const struct flowq_globals *globals, sqlite3 **out)
{
	char path_buf[PATH_MAX], dir[PATH_MAX], err[512];
	const char *path = flowq_db_file(globals, path_buf, sizeof(path_buf));
	sqlite3 *db = NULL;

	if (!path)
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	if (fr_db_open_ro(path, &db, fr_lock_holder(dirname(dir)) != 0, err, sizeof(err))) {
		fprintf(stderr, "flowq: %s\n", err);
		goto fail;
	}
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL) != SQLITE_OK) {
		fprintf(stderr, "flowq: %s: %s\n", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (sqlite3_set_authorizer(db, authorize, NULL) != SQLITE_OK) {
		fprintf(stderr, "flowq: %s: %s\n", path, sqlite3_errmsg(db));
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return -1;
}
