/*
 * Declarations shared by flowq's files: the global options every command accepts, the one
 * way the database is opened, and the commands main() dispatches to.
 */
#ifndef FLOWQ_QUERY_H
#define FLOWQ_QUERY_H

#include <argp.h>
#include <stddef.h>
#include <stdint.h>
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

/* flowq pcap's file formats. The global --format takes them as well as the result formats,
 * so that it may come before the word pcap too; only flowq pcap accepts them. */
enum flowq_capture_format { FLOWQ_CAPTURE_NONE, FLOWQ_CAPTURE_PCAP, FLOWQ_CAPTURE_PCAPNG };

struct flowq_globals {
	const char *data_dir; /* --data */
	const char *db_file;  /* --db; wins over data_dir when set */
	/* --format: the last one given wins, whichever kind it names. A result format (table,
	 * csv, json, jsonl) goes to output.format and resets capture_format; pcap or pcapng
	 * goes to capture_format only. format_arg is that last --format's text (NULL: none). */
	struct fr_output_opts output;
	enum flowq_capture_format capture_format;
	const char *format_arg;
	int capture_command; /* set by flowq pcap: its --format must be pcap or pcapng */
	const char *usage_name; /* "flowq COMMAND" for --help once the command is known */
};

/* The global options as an argp child. Each command's argp includes it, so the globals are
 * accepted after the command word as well as before it. Its input is a struct
 * flowq_globals *, which the including parser passes on at ARGP_KEY_INIT with
 * flowq_command_init(). */
extern const struct argp flowq_globals_argp;

/* For a command's parser at ARGP_KEY_INIT: hands the globals to the child and makes --help
 * say "Usage: flowq COMMAND ..." (usage_name). Once a command's options are all read
 * (ARGP_KEY_END), the globals child checks that --format suits the command: pcap or pcapng
 * only for a command that set capture_command (flowq pcap), a result format only for the
 * others. A mismatch is a usage error. */
void flowq_command_init(struct argp_state *state, const char *usage_name, struct flowq_globals *globals);

/* Decimal digits only (no sign, no blanks), at most max: 0 and *out, or -1. For option
 * values such as --pid and --port. */
int flowq_parse_unsigned(const char *s, uint64_t max, uint64_t *out);

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
int cmd_dns(int argc, char **argv, struct flowq_globals *globals);
int cmd_status(int argc, char **argv, struct flowq_globals *globals);
int cmd_pcap(int argc, char **argv, struct flowq_globals *globals);

#endif
