/*
 * Declarations shared by flowq's files: the global options every command accepts, the one
 * way the database is opened, the filters flows, dns and pcap share, and the commands main()
 * dispatches to.
 */
#ifndef FLOWQ_QUERY_H
#define FLOWQ_QUERY_H

#include <argp.h>
#include <netinet/in.h>
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

/* The children of a command's argp: the global options, listed after the command's own
 * under "Global options:". */
extern const struct argp_child flowq_command_children[];

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

/* Filters (query/filters.c). A command has a table of them, indexed by its own enum, and an
 * array of values indexed alike: the conditions of the values given join the WHERE clause,
 * in table order, and the values are bound to their parameters. */
struct flowq_filter {
	const char *condition; /* SQL; uses parameter exactly as named, possibly more than once */
	const char *parameter; /* ":name" */
};

struct flowq_filter_query {
	const char *select; /* "SELECT ... FROM table" */
	const struct flowq_filter *filters;
	size_t count;
	const char *order; /* " ORDER BY ...", or "" */
	/* Called on the open database before the statement is prepared (NULL: none): to check
	 * that the database has what the query needs, or to add SQL functions. Returns 0, or -1
	 * after printing the reason. */
	int (*setup)(sqlite3 *db);
	/* --follow (query/follow.c): the condition, on the JSON parameter :follow
	 * ({"after": ID, "open": [ID...]}), that chooses the rows to print next, and the query
	 * "SELECT id, <still open> FROM table" that tells which were printed. */
	const char *follow_condition;
	const char *follow_state;
};

struct flowq_filter_value {
	int given;
	const char *text; /* bound as text when set (not copied), else number */
	int text_len;     /* bytes of text to bind; -1: up to its NUL */
	int64_t number;
};

struct flowq_filter_value flowq_filter_number(int64_t number);
struct flowq_filter_value flowq_filter_text(const char *text);

/* The option values flows, dns and pcap share, checked: a bad one is a usage error
 * ("invalid --pid '...': ..."). flowq_filter_host writes the address's usual spelling to
 * text, which the value points to. */
struct flowq_filter_value flowq_filter_pid(const char *arg);
struct flowq_filter_value flowq_filter_port(const char *arg);
struct flowq_filter_value flowq_filter_netns(const char *arg);
struct flowq_filter_value flowq_filter_host(const char *arg, char text[INET6_ADDRSTRLEN]);
/* --container ID (1 to 64 hex digits, matched as a prefix; text gets it in lower case),
 * --name GLOB (a final dot ignored) and --exe PATH (absolute), as flows, ipfix and pcap take
 * them, with the conditions on the flows table below. */
struct flowq_filter_value flowq_filter_container(const char *arg, char text[65]);
struct flowq_filter_value flowq_filter_name(const char *arg);
struct flowq_filter_value flowq_filter_exe(const char *arg);
#define FLOWQ_FLOW_PROCESS_IS(cond)                                                          \
	"EXISTS (SELECT 1 FROM processes p WHERE p.pid = flows.pid"                          \
	" AND p.start_ns = flows.proc_start_ns AND " cond ")"
#define FLOWQ_FLOW_CONTAINER_COND \
	FLOWQ_FLOW_PROCESS_IS("substr(p.container, 1, length(:container)) = :container")
#define FLOWQ_FLOW_NAME_COND "lower(flows.rname) GLOB lower(:name)"
#define FLOWQ_FLOW_EXE_COND FLOWQ_FLOW_PROCESS_IS("p.exe = :exe")

/* --since and --until are kept as text until all options are read, as --utc may follow
 * them; this turns those given (not NULL) into ns. A time that does not parse is a usage
 * error. */
void flowq_resolve_times(const struct flowq_globals *globals, const char *since_arg,
			 const char *until_arg, struct flowq_filter_value *since,
			 struct flowq_filter_value *until);

/* query's statement with the WHERE clause of the values given (sqlite3_free it), or NULL
 * when out of memory. */
char *flowq_filter_sql(const struct flowq_filter_query *query, const struct flowq_filter_value *values);

/* Bind the values given to st, prepared from flowq_filter_sql's text. Returns 0, or -1 (the
 * reason is sqlite3_errmsg's). */
int flowq_filter_bind(sqlite3_stmt *st, const struct flowq_filter_query *query,
		      const struct flowq_filter_value *values);

/* Open the database, run query with the values given and print its result. Returns the
 * exit status, after printing the reason for a failure. */
int flowq_print_filtered(const struct flowq_globals *globals, const struct fr_output_opts *output,
			 const struct flowq_filter_query *query, const struct flowq_filter_value *values);

/* The same, then the rows that come after, every half second until SIGINT or SIGTERM
 * (--follow). Returns the exit status. */
int flowq_follow_filtered(const struct flowq_globals *globals, const struct fr_output_opts *output,
			  const struct flowq_filter_query *query, const struct flowq_filter_value *values);

/* The --follow condition of a table whose rows, once written, do not change. */
#define FLOWQ_FOLLOW_NEW "id > json_extract(:follow, '$.after')"

/* flowq flows' filters (query/cmd_flows.c), which flowq ipfix shares: an argp child whose
 * input is a struct flowq_flows_filter, then flowq_flows_filter_times once all options are
 * read, then a query over flows with flowq_flows_query (ordered by start time). */
#define FLOWQ_FLOWS_FILTERS 12
struct flowq_flows_filter {
	/* Times are kept as text until all options are read: --utc may come after them. */
	const char *since_arg, *until_arg;
	char host[INET6_ADDRSTRLEN]; /* --host, as the database spells it */
	char container[65];          /* --container, lower case */
	struct flowq_filter_value values[FLOWQ_FLOWS_FILTERS];
};
extern const struct argp flowq_flows_filter_argp;
void flowq_flows_filter_times(const struct flowq_globals *globals, struct flowq_flows_filter *f);
/* select: "SELECT ... FROM flows" (joins allowed: the conditions name flows' own columns). */
struct flowq_filter_query flowq_flows_query(const char *select);

/* Commands: argv[0] is the program name, argv[1..] the command's arguments. Each returns
 * the exit status. */
int cmd_sql(int argc, char **argv, struct flowq_globals *globals);
int cmd_flows(int argc, char **argv, struct flowq_globals *globals);
int cmd_dns(int argc, char **argv, struct flowq_globals *globals);
int cmd_status(int argc, char **argv, struct flowq_globals *globals);
int cmd_pcap(int argc, char **argv, struct flowq_globals *globals);
int cmd_plot(int argc, char **argv, struct flowq_globals *globals);
int cmd_report(int argc, char **argv, struct flowq_globals *globals);
int cmd_events(int argc, char **argv, struct flowq_globals *globals);
int cmd_ipfix(int argc, char **argv, struct flowq_globals *globals);
int cmd_ipfix(int argc, char **argv, struct flowq_globals *globals);

#endif
