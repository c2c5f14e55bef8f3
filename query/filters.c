/*
 * The filters flowq flows, dns and pcap share: checking the values of the options they have
 * in common, and the one way a command's filters become SQL.
 *
 * A command describes its filters as a table of fixed conditions with named parameters. The
 * WHERE clause is assembled from the conditions of the filters given, and every value is
 * bound as a parameter: nothing from the command line is ever pasted into SQL. Only the
 * filters given appear at all, so that SQLite can use the indexes for those.
 */
#include "query.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct flowq_filter_value flowq_filter_number(int64_t number)
{
	return (struct flowq_filter_value){ .given = 1, .number = number };
}

struct flowq_filter_value flowq_filter_text(const char *text)
{
	return (struct flowq_filter_value){ .given = 1, .text = text, .text_len = -1 };
}

struct flowq_filter_value flowq_filter_pid(const char *arg)
{
	uint64_t v;

	if (flowq_parse_unsigned(arg, INT32_MAX, &v))
		flowq_usage_error("invalid --pid '%s': expected a process id (0 or more)", arg);
	return flowq_filter_number((int64_t)v);
}

struct flowq_filter_value flowq_filter_port(const char *arg)
{
	uint64_t v;

	if (flowq_parse_unsigned(arg, 65535, &v))
		flowq_usage_error("invalid --port '%s': expected a port number from 0 to 65535", arg);
	return flowq_filter_number((int64_t)v);
}

/* "4026531840" or "net:[4026531840]". */
struct flowq_filter_value flowq_filter_netns(const char *arg)
{
	char digits[32];
	const char *inode = arg;
	size_t n = strlen(arg);
	uint64_t v;

	if (n > 6 && strncmp(arg, "net:[", 5) == 0 && arg[n - 1] == ']' && n - 6 < sizeof(digits)) {
		memcpy(digits, arg + 5, n - 6);
		digits[n - 6] = '\0';
		inode = digits;
	}
	if (flowq_parse_unsigned(inode, INT64_MAX, &v))
		flowq_usage_error("invalid --netns '%s': expected an inode number such as 4026531840 "
				  "or net:[4026531840]", arg);
	return flowq_filter_number((int64_t)v);
}

struct flowq_filter_value flowq_filter_container(const char *arg, char text[65])
{
	size_t n = strlen(arg);

	if (!n || n > 64 || strspn(arg, "0123456789abcdefABCDEF") != n)
		flowq_usage_error("invalid --container '%s': expected a container id (1 to 64 hex digits)",
				  arg);
	for (size_t i = 0; i <= n; i++)
		text[i] = (char)tolower((unsigned char)arg[i]);
	return flowq_filter_text(text);
}

/* DNS names are compared without case, and "a.test." is "a.test". */
struct flowq_filter_value flowq_filter_name(const char *arg)
{
	struct flowq_filter_value v = flowq_filter_text(arg);
	size_t n = strlen(arg);

	if (n > 1 && arg[n - 1] == '.')
		n--;
	if (!n || n > 1024)
		flowq_usage_error("invalid --name '%s': expected a name or a glob such as '*.example.com'",
				  arg);
	v.text_len = (int)n;
	return v;
}

struct flowq_filter_value flowq_filter_exe(const char *arg)
{
	if (arg[0] != '/')
		flowq_usage_error("invalid --exe '%s': expected an absolute path, as processes.exe has it",
				  arg);
	return flowq_filter_text(arg);
}

/* The database holds addresses as inet_ntop writes them, and libpcap's filter compiler reads
 * that spelling whatever the input was: any other spelling of the same address is brought to
 * it, so that it matches. */
struct flowq_filter_value flowq_filter_host(const char *arg, char text[INET6_ADDRSTRLEN])
{
	unsigned char addr[sizeof(struct in6_addr)];
	int family = AF_INET;

	if (inet_pton(AF_INET, arg, addr) != 1) {
		family = AF_INET6;
		if (inet_pton(AF_INET6, arg, addr) != 1)
			flowq_usage_error("invalid --host '%s': not an IPv4 or IPv6 address", arg);
	}
	if (!inet_ntop(family, addr, text, INET6_ADDRSTRLEN))
		flowq_usage_error("invalid --host '%s': not an IPv4 or IPv6 address", arg);
	return flowq_filter_text(text);
}

static void resolve_time(const struct flowq_globals *globals, const char *arg, int64_t now_ns,
			 struct flowq_filter_value *out)
{
	char err[256];
	int64_t ns;

	if (!arg)
		return;
	if (fr_time_parse(arg, now_ns, globals->output.utc, &ns, err, sizeof(err)))
		flowq_usage_error("%s", err);
	*out = flowq_filter_number(ns);
}

/* One now for both, so that "--since 2h --until 1h" is exactly an hour. */
void flowq_resolve_times(const struct flowq_globals *globals, const char *since_arg,
			 const char *until_arg, struct flowq_filter_value *since,
			 struct flowq_filter_value *until)
{
	int64_t now_ns = fr_now_ns();

	resolve_time(globals, since_arg, now_ns, since);
	resolve_time(globals, until_arg, now_ns, until);
}

char *flowq_filter_sql(const struct flowq_filter_query *query, const struct flowq_filter_value *values)
{
	sqlite3_str *sql = sqlite3_str_new(NULL);
	int conditions = 0;

	sqlite3_str_appendall(sql, query->select);
	for (size_t id = 0; id < query->count; id++) {
		if (!values[id].given)
			continue;
		sqlite3_str_appendall(sql, conditions++ ? " AND " : " WHERE ");
		sqlite3_str_appendall(sql, query->filters[id].condition);
	}
	sqlite3_str_appendall(sql, query->order);
	return sqlite3_str_finish(sql);
}

int flowq_filter_bind(sqlite3_stmt *st, const struct flowq_filter_query *query,
		      const struct flowq_filter_value *values)
{
	for (size_t id = 0; id < query->count; id++) {
		const struct flowq_filter_value *value = &values[id];
		int index, rc;

		if (!value->given)
			continue;
		index = sqlite3_bind_parameter_index(st, query->filters[id].parameter);
		if (value->text)
			rc = sqlite3_bind_text(st, index, value->text, value->text_len, SQLITE_STATIC);
		else
			rc = sqlite3_bind_int64(st, index, value->number);
		if (rc != SQLITE_OK)
			return -1;
	}
	return 0;
}

int flowq_print_filtered(const struct flowq_globals *globals, const struct fr_output_opts *output,
			 const struct flowq_filter_query *query, const struct flowq_filter_value *values)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int status = FLOWQ_EXIT_FAILURE;

	if (flowq_db_open(globals, &db) || (query->setup && query->setup(db)))
		goto cleanup;
	sql = flowq_filter_sql(query, values);
	if (!sql) {
		fprintf(stderr, "flowq: out of memory\n");
		goto cleanup;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || flowq_filter_bind(st, query, values)) {
		fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
		goto cleanup;
	}
	if (flowq_print_result(st, output))
		goto cleanup;
	status = FLOWQ_EXIT_OK;
cleanup:
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_close(db);
	return status;
}
