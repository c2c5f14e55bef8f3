/*
 * Declarations shared by flowq's files: the global options every command accepts, the one
 * way the database is opened, and the commands main() dispatches to.
 */
#ifndef FLOWQ_QUERY_H
#define FLOWQ_QUERY_H

#include <argp.h>
#include <stddef.h>
#include <sqlite3.h>

#include "output.h"

#ifdef FR_VERSION
#define FLOWQ_VERSION FR_VERSION
#else
#define FLOWQ_VERSION "0.1"
#endif

#define FLOWQ_DEFAULT_DATA_DIR "/var/lib/flowrec"
#define FLOWQ_DB_FILE_NAME "flowrec.db"

/* Exit statuses: 2 is a command line the user can fix before anything was read; 1 is a
 * failure while working (database, SQL, a refused write, a write error on stdout). */
enum { FLOWQ_EXIT_OK = 0, FLOWQ_EXIT_FAILURE = 1, FLOWQ_EXIT_USAGE = 2 };

struct flowq_globals {
	const char *data_dir; /* --data */
	const char *db_file;  /* --db; wins over data_dir when set */
	struct fr_output_opts output;
	const char *usage_name; /* "flowq COMMAND" for --help once the command is known */
};

/* The global options as an argp child. Each command's argp includes it, so the globals are
 * accepted after the command word as well as before it. Its input is a struct
 * flowq_globals *, which the including parser passes on at ARGP_KEY_INIT with
 * flowq_command_init(). */
extern const struct argp flowq_globals_argp;

/* For a command's parser at ARGP_KEY_INIT: hands the globals to the child and makes --help
 * say "Usage: flowq COMMAND ..." (usage_name). */
void flowq_command_init(struct argp_state *state, const char *usage_name, struct flowq_globals *globals);

/* Print "flowq: <message>" on stderr and exit with FLOWQ_EXIT_USAGE. */
__attribute__((noreturn, format(printf, 1, 2))) void flowq_usage_error(const char *fmt, ...);

/* The database file the globals name: --db, else DATA_DIR/flowrec.db. NULL (with a message
 * printed) if the path does not fit in buf. */
const char *flowq_db_file(const struct flowq_globals *globals, char *buf, size_t len);

/* Open that file read-only with writes, ATTACH and DETACH refused. Returns 0, or -1 after
 * printing the reason. */
int flowq_db_open(const struct flowq_globals *globals, sqlite3 **out);

/* Step st to its end, printing its result on stdout in the chosen format. Returns 0, or
 * -1 after printing the reason ("flowq: SQL error: ..." or a write error). */
int flowq_print_result(sqlite3_stmt *st, const struct fr_output_opts *output);

/* Commands: argv[0] is the program name, argv[1..] the command's arguments. Each returns
 * the exit status. */
int cmd_sql(int argc, char **argv, struct flowq_globals *globals);
int cmd_flows(int argc, char **argv, struct flowq_globals *globals);
int cmd_status(int argc, char **argv, struct flowq_globals *globals);

#endif
