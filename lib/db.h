/*
 * Opening the flowrec database: read-write with migration (the recorder), or strictly
 * read-only (flowq). The schema itself is schema/schema.sql, compiled in.
 */
#ifndef FR_DB_H
#define FR_DB_H

#include <limits.h>
#include <stddef.h>
#include <sqlite3.h>

#define FR_SCHEMA_VERSION 4

extern const char fr_schema_sql[];

/* Open (creating it with mode 0600 if needed) and migrate to FR_SCHEMA_VERSION.
 * Returns 0, or -1 with a one-line reason in err. */
int fr_db_open_rw(const char *path, sqlite3 **out, char *err, size_t errlen);

/* Open read-only (SQLITE_OPEN_READONLY + PRAGMA query_only) without creating any file;
 * refuses a file that is missing, not regular, not a flowrec database, or from a newer
 * schema. recorder_live: a recorder holds the data directory's lock (or that is unknown).
 * Returns 0, or -1 with a reason in err. */
int fr_db_open_ro(const char *path, sqlite3 **out, int recorder_live, char *err, size_t errlen);

/* Bring an open read-write database to FR_SCHEMA_VERSION. Returns 0 or -1 with err. */
int fr_db_migrate(sqlite3 *db, char *err, size_t errlen);

/* PRAGMA user_version, or FR_DB_UNREADABLE if the file is not a database. */
#define FR_DB_UNREADABLE INT_MIN
int fr_db_schema_version(sqlite3 *db);

#endif
