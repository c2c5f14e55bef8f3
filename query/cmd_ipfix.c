/*
 * flowq ipfix: send recorded flows to an IPFIX collector, with the elements the recorder's
 * --ipfix export sends (lib/ipfix.c, docs/ipfix.md): a backfill after a collector's outage,
 * or a recording taken elsewhere loaded into a fleet's collector.
 *
 * One record per flow, its counters whole (deltas equal to totals), oldest first. The same
 * filters as flowq flows choose them. Records go at --rate per second at most, so that a
 * collector reading UDP is not flooded by a database of a million flows.
 */
#include "query.h"
#include "ipfix.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_RATE 10000

struct ipfix_args {
	struct flowq_globals *globals;
	struct flowq_flows_filter filter;
	const char *collector;
	uint32_t domain;
	bool domain_given;
	uint64_t rate;
};

enum { OPT_DOMAIN = 0x300, OPT_RATE };

static const struct argp_option ipfix_options[] = {
	{ "domain", OPT_DOMAIN, "N", 0,
	  "Observation domain id (default: the one the newest run's --ipfix used, else this "
	  "host's, as flowrec derives it)", 0 },
	{ "rate", OPT_RATE, "N", 0, "Records per second at most (default 10000)", 0 },
	{ 0 }
};

static const char ipfix_doc[] =
	"Send recorded flows to the IPFIX collector [udp:|tcp:]HOST:PORT, one record per flow, "
	"oldest first, with the elements flowrec --ipfix sends (docs/ipfix.md). The filters are "
	"flowq flows' and combine with AND."
	"\v"
	"Each record carries the flow's whole counters, as deltas and totals; flowEndReason is 3 "
	"for a flow that ended (closed or denied), 4 for one the recorder's stop or crash ended, "
	"2 for one still open. A summary goes to standard error; the exit status is 1 when a "
	"record could not be sent.";

static error_t parse_ipfix_option(int key, char *arg, struct argp_state *state)
{
	struct ipfix_args *args = state->input;
	uint64_t v;

	switch (key) {
	case ARGP_KEY_INIT:
		flowq_command_init(state, "flowq ipfix", args->globals);
		state->child_inputs[1] = &args->filter;
		break;
	case OPT_DOMAIN:
		if (flowq_parse_unsigned(arg, UINT32_MAX, &v))
			flowq_usage_error("invalid --domain '%s': expected a number from 0 to 4294967295", arg);
		args->domain = (uint32_t)v;
		args->domain_given = true;
		break;
	case OPT_RATE:
		if (flowq_parse_unsigned(arg, 100000000, &v) || !v)
			flowq_usage_error("invalid --rate '%s': expected records per second, 1 or more", arg);
		args->rate = v;
		break;
	case ARGP_KEY_ARG: {
		char host[256], port[32], err[512];
		bool tcp;

		if (args->collector)
			flowq_usage_error("ipfix takes one collector ('%s' is a second)", arg);
		if (fr_ipfix_parse_collector(arg, &tcp, host, sizeof(host), port, sizeof(port), err,
					     sizeof(err)))
			flowq_usage_error("%s", err);
		args->collector = arg;
		break;
	}
	case ARGP_KEY_END:
		if (!args->collector)
			flowq_usage_error("ipfix needs a collector: flowq ipfix [udp:|tcp:]HOST:PORT [FILTER...]");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child ipfix_children[] = {
	{ &flowq_globals_argp, 0, "Global options:", 3 },
	{ &flowq_flows_filter_argp, 0, "Filters (as flowq flows):", 2 },
	{ 0 }
};

static const struct argp ipfix_argp = {
	.options = ipfix_options,
	.parser = parse_ipfix_option,
	.args_doc = "[udp:|tcp:]HOST:PORT",
	.doc = ipfix_doc,
	.children = ipfix_children,
};

/* Column numbers of the statement below. */
enum { C_ID, C_START, C_END, C_PROTO, C_FAMILY, C_DIR, C_LADDR, C_LPORT, C_RADDR, C_RPORT,
       C_BOUT, C_BIN, C_POUT, C_PIN, C_PID, C_TID, C_UID, C_CGROUP, C_NETNS, C_COMM, C_EXE,
       C_CONTAINER, C_RNAME, C_RULE, C_VERDICT, C_END_REASON, C_OPEN };

static const char ipfix_select[] =
	"SELECT id, start_ns, COALESCE(end_ns, last_ns), proto, family, direction, laddr, lport,"
	" raddr, rport, bytes_out, bytes_in, packets_out, packets_in, pid, tid, uid, cgroup_id,"
	" netns, comm,"
	" (SELECT p.exe FROM processes p WHERE p.pid = flows.pid AND p.start_ns = flows.proc_start_ns),"
	" (SELECT p.container FROM processes p WHERE p.pid = flows.pid AND p.start_ns = flows.proc_start_ns),"
	" rname, rule, verdict, end_reason, end_ns IS NULL FROM flows";

static void copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, len, "%s", t ? (const char *)t : "");
}

static uint8_t proto_number(const char *p)
{
	if (!strcmp(p, "tcp") || !strcmp(p, "mptcp"))
		return 6;
	if (!strcmp(p, "udp"))
		return 17;
	if (!strcmp(p, "icmp"))
		return 1;
	if (!strcmp(p, "icmp6"))
		return 58;
	return 0;
}

/* One row into a record; false for a row whose addresses do not read (not sent). */
static bool row_record(sqlite3_stmt *st, struct fr_ipfix_flow *r)
{
	const char *laddr = (const char *)sqlite3_column_text(st, C_LADDR);
	const char *raddr = (const char *)sqlite3_column_text(st, C_RADDR);
	const char *proto = (const char *)sqlite3_column_text(st, C_PROTO);
	const char *dir = (const char *)sqlite3_column_text(st, C_DIR);
	const char *reason = (const char *)sqlite3_column_text(st, C_END_REASON);
	const char *verdict = (const char *)sqlite3_column_text(st, C_VERDICT);
	int af;

	memset(r, 0, sizeof(*r));
	r->family = (uint8_t)sqlite3_column_int(st, C_FAMILY);
	af = r->family == 6 ? AF_INET6 : AF_INET;
	if (!laddr || !raddr || inet_pton(af, laddr, r->laddr) != 1 || inet_pton(af, raddr, r->raddr) != 1)
		return false;
	r->flow_id = (uint64_t)sqlite3_column_int64(st, C_ID);
	r->start_ns = sqlite3_column_int64(st, C_START);
	r->end_ns = sqlite3_column_int64(st, C_END);
	r->proto = proto ? proto_number(proto) : 0;
	r->inbound = dir && !strcmp(dir, "in");
	/* A database older than end_reason (version 3) tells an ended flow by its end_ns. */
	r->end_reason = sqlite3_column_int(st, C_OPEN)                          ? FR_IPFIX_END_ACTIVE
			: !reason || !strcmp(reason, "closed") || !strcmp(reason, "denied") ? FR_IPFIX_END_FLOW
											      : FR_IPFIX_END_FORCED;
	r->firewall_event = !verdict                  ? FR_IPFIX_FW_NONE
			    : !strcmp(verdict, "deny") ? FR_IPFIX_FW_DENIED
						       : FR_IPFIX_FW_ALERT;
	r->lport = (uint16_t)sqlite3_column_int(st, C_LPORT);
	r->rport = (uint16_t)sqlite3_column_int(st, C_RPORT);
	r->bytes_out = r->delta_bytes_out = (uint64_t)sqlite3_column_int64(st, C_BOUT);
	r->bytes_in = r->delta_bytes_in = (uint64_t)sqlite3_column_int64(st, C_BIN);
	r->packets_out = r->delta_packets_out = (uint64_t)sqlite3_column_int64(st, C_POUT);
	r->packets_in = r->delta_packets_in = (uint64_t)sqlite3_column_int64(st, C_PIN);
	r->pid = (uint32_t)sqlite3_column_int64(st, C_PID);
	r->tid = (uint32_t)sqlite3_column_int64(st, C_TID);
	r->uid = (uint32_t)sqlite3_column_int64(st, C_UID);
	r->cgroup_id = (uint64_t)sqlite3_column_int64(st, C_CGROUP);
	r->netns = (uint64_t)sqlite3_column_int64(st, C_NETNS);
	copy_text(r->comm, sizeof(r->comm), st, C_COMM);
	copy_text(r->exe, sizeof(r->exe), st, C_EXE);
	copy_text(r->container, sizeof(r->container), st, C_CONTAINER);
	copy_text(r->rname, sizeof(r->rname), st, C_RNAME);
	copy_text(r->rule, sizeof(r->rule), st, C_RULE);
	return true;
}

/* The domain the newest run that exported used (runs.ipfix ends "domain=N"), so that a
 * backfill joins the host's live records; else this host's. */
static uint32_t recorded_domain(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	uint32_t domain = fr_ipfix_default_domain();
	const char *text, *at;

	if (sqlite3_prepare_v2(db, "SELECT ipfix FROM runs WHERE ipfix IS NOT NULL ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && (text = (const char *)sqlite3_column_text(st, 0)) &&
	    (at = strstr(text, "domain=")))
		domain = (uint32_t)strtoul(at + 7, NULL, 10);
	sqlite3_finalize(st);
	return domain;
}

static void sleep_until(int64_t when_ns)
{
	int64_t now = fr_now_ns();
	struct timespec ts;

	if (when_ns <= now)
		return;
	ts.tv_sec = (when_ns - now) / 1000000000LL;
	ts.tv_nsec = (when_ns - now) % 1000000000LL;
	nanosleep(&ts, NULL);
}

int cmd_ipfix(int argc, char **argv, struct flowq_globals *globals)
{
	struct ipfix_args args = { .globals = globals, .rate = DEFAULT_RATE };
	struct flowq_filter_query query = flowq_flows_query(ipfix_select);
	struct fr_ipfix_exporter *e = NULL;
	uint64_t sent = 0, lost = 0, skipped = 0, batch_lost;
	sqlite3_stmt *st = NULL;
	struct fr_ipfix_flow r;
	sqlite3 *db = NULL;
	char *sql = NULL, err[512];
	int status = FLOWQ_EXIT_FAILURE, rc;
	int64_t start;

	if (argp_parse(&ipfix_argp, argc, argv, ARGP_NO_HELP, NULL, &args) != 0)
		return FLOWQ_EXIT_USAGE;
	flowq_flows_filter_times(globals, &args.filter);
	if (flowq_db_open(globals, &db))
		goto cleanup;
	sql = flowq_filter_sql(&query, args.filter.values);
	if (!sql) {
		fprintf(stderr, "flowq: out of memory\n");
		goto cleanup;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    flowq_filter_bind(st, &query, args.filter.values)) {
		fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
		goto cleanup;
	}
	if (!args.domain_given)
		args.domain = recorded_domain(db);
	e = fr_ipfix_exporter_new(args.collector, args.domain, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "flowq: %s\n", err);
		goto cleanup;
	}
	start = fr_now_ns();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *proto = sqlite3_column_text(st, C_PROTO);

		/* An MPTCP connection counts what its subflows carry, and they are sent. */
		if (proto && !strcmp((const char *)proto, "mptcp"))
			continue;
		if (!row_record(st, &r)) {
			skipped++;
			continue;
		}
		if (fr_ipfix_export(e, &r))
			lost++;
		else
			sent++;
		/* A message per 20 records, paced to the rate. */
		if ((sent + lost) % 20 == 0) {
			batch_lost = 0;
			if (fr_ipfix_flush(e, fr_now_ns(), &batch_lost)) {
				lost += batch_lost;
				sent -= batch_lost < sent ? batch_lost : sent;
			}
			sleep_until(start + (int64_t)((sent + lost) * 1000000000ULL / args.rate));
		}
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "flowq: SQL error: %s\n", sqlite3_errmsg(db));
		goto cleanup;
	}
	batch_lost = 0;
	if (fr_ipfix_flush(e, fr_now_ns(), &batch_lost)) {
		lost += batch_lost;
		sent -= batch_lost < sent ? batch_lost : sent;
	}
	fprintf(stderr, "flowq: %llu flows sent to %s", (unsigned long long)sent, args.collector);
	if (lost)
		fprintf(stderr, ", %llu not (the collector could not be reached)", (unsigned long long)lost);
	if (skipped)
		fprintf(stderr, ", %llu skipped (an address that does not read)", (unsigned long long)skipped);
	fputc('\n', stderr);
	status = lost ? FLOWQ_EXIT_FAILURE : FLOWQ_EXIT_OK;
cleanup:
	fr_ipfix_exporter_free(e);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	sqlite3_close(db);
	return status;
}
