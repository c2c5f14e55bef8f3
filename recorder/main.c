/*
 * flowrec: the recorder. Options, start-up checks, the run row, and the main loop that
 * alternates between consuming BPF events and flushing counters to the database writer.
 *
 * Start-up order matters: socket hooks first, then the iterator adopts sockets that were
 * already open, then the packet hooks, so that no packet is counted before its socket has
 * an owner. Shutdown drains the ring buffer, writes the final counters and marks the run
 * ended before the BPF links go.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/magic.h>

#include "recorder.h"
#include "log.h"
#include "cgroup.h"
#include "bpf_attach.h"
#include "presock.h"
#include "db_writer.h"
#include "pcap_store.h"
#include "dns_tracker.h"
#include "capture.h"
#include "consumer.h"
#include "policy_maps.h"
#include "ipfix_export.h"
#include "share.h"
#include <grp.h>
#include "outfile.h"
#include "db.h"
#include "lockfile.h"
#include "timefmt.h"

#define DEFAULT_DATA "/var/lib/flowrec"
#define QUEUE_LEN 65536


static volatile sig_atomic_t stop_requested, rotate_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_sighup(int sig)
{
	(void)sig;
	rotate_requested = 1;
}

const char *argp_program_version = "flowrec " FR_VERSION;
static const char doc[] =
	"flowrec -- record which process on this host talked to whom.\n\n"
	"Attributes every TCP and UDP flow of the tasks in a cgroup v2 subtree (default: the whole "
	"host) to its process, with byte and packet counters, and writes them to DIR/flowrec.db "
	"(SQLite) with every DNS query and answer and every socket call (socket, bind, listen, "
	"connect, accept, setsockopt, close) on an IPv4 or IPv6 socket; writes their packets (the first --snaplen bytes "
	"from the IP header) to pcapng segments under DIR/pcap/, indexed in that database. Runs in "
	"the foreground until SIGINT or SIGTERM, then flushes and exits 0 (--duration: stops by "
	"itself); SIGHUP starts a new pcap segment and re-reads --policy. Query the result with "
	"flowq.\v"
	"Exit status: 0 after a clean stop, 1 when the recorder cannot run (the reason is one "
	"line on standard error), 2 for bad arguments.";

enum {
	OPT_READY = 1000, OPT_FLUSH, OPT_DURATION, OPT_CGROUP, OPT_SNAPLEN, OPT_NO_CAPTURE,
	OPT_SEGMENT_SIZE, OPT_SEGMENT_TIME, OPT_MAX_DISK, OPT_DNS_PORT, OPT_NO_SOCKET_EVENTS,
	OPT_SOCKET_EVENTS, OPT_KERNEL_COMPAT, OPT_BUFFER_SIZE, OPT_POLICY,
	OPT_IPFIX, OPT_IPFIX_ACTIVE_TIMEOUT, OPT_IPFIX_DOMAIN, OPT_GROUP, OPT_SAMPLE_INTERVAL
};

static const struct argp_option options[] = {
	{ "data", 'd', "DIR", 0, "Data directory (default " DEFAULT_DATA "; created mode 0700)", 0 },
	{ "group", OPT_GROUP, "NAME", 0,
	  "Let group NAME read the recording: the data directory and its directories become 0750, "
	  "the database, lock file and packet segments 0640, all of group NAME, so that its "
	  "members run flowq without root. The recording holds every recorded process's packets: "
	  "give the group to those who may read them", 0 },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "Record only tasks in this cgroup v2 directory and below (default: the cgroup v2 root)", 0 },
	{ "duration", OPT_DURATION, "SECONDS", 0, "Stop after this many seconds", 0 },
	{ "ready-file", OPT_READY, "PATH", 0,
	  "Create PATH once every hook is attached and the database is ready", 0 },
	{ "flush-interval", OPT_FLUSH, "SECONDS", 0,
	  "How often counters of open flows reach the database (default 1)", 0 },
	{ "snaplen", OPT_SNAPLEN, "BYTES", 0,
	  "Bytes of each packet to capture, from the IP header (default 128; 0 = whole packet)", 0 },
	{ "no-capture", OPT_NO_CAPTURE, NULL, 0, "Record flows only, no packets", 0 },
	{ "segment-size", OPT_SEGMENT_SIZE, "SIZE", 0,
	  "Start a new pcapng segment after this many bytes (default 64M; K, M, G suffixes)", 0 },
	{ "segment-time", OPT_SEGMENT_TIME, "SECONDS", 0,
	  "Start a new pcapng segment after this long (default 3600)", 0 },
	{ "max-disk", OPT_MAX_DISK, "SIZE", 0,
	  "Delete the oldest pcap segments to keep them under SIZE (default: no limit)", 0 },
	{ "dns-port", OPT_DNS_PORT, "PORT", 0,
	  "Parse DNS on this port (repeatable, up to 8; default 53). DNS is taken whole, whatever "
	  "--snaplen, even with --no-capture", 0 },
	{ "sample-interval", OPT_SAMPLE_INTERVAL, "SECONDS", 0,
	  "Write what each flow moved in each interval of this length in which it moved "
	  "(flow_samples: traffic over time as it went, not spread over a flow's life; default "
	  "10, 0: none)", 0 },
	{ "socket-events", OPT_SOCKET_EVENTS, NULL, 0,
	  "Record socket calls (socket, bind, listen, connect, accept, setsockopt, close) in "
	  "socket_events, with their arguments and results. Off by default: the syscall "
	  "tracepoints this takes slow every system call of every process on the host", 0 },
	{ "no-socket-events", OPT_NO_SOCKET_EVENTS, NULL, 0,
	  "No socket_events rows (the default); flows are recorded all the same", 0 },
	{ "kernel-compat", OPT_KERNEL_COMPAT, "VERSION|NAMES", 0,
	  "Behave as on an older kernel: leave out what Linux VERSION (5.10 or later) lacks, or "
	  "the named capabilities (comma-separated: task-btf, task-btf-cgroup, mptcp, "
	  "syscall-tracepoints, sock-from-file, sock-ptr-cookie). For testing the fallbacks; "
	  "runs.features shows what was used", 0 },
	{ "buffer-size", OPT_BUFFER_SIZE, "SIZE", 0,
	  "The kernel's event ring buffer (default 4M; a power of two from 16K to 1G); socket calls "
	  "get half that, packets that much per CPU. Events that find it full are lost and counted", 0 },
	{ "policy", OPT_POLICY, "FILE", 0,
	  "Enforce the rules in FILE (docs/policy.md): deny or audit connects, sends, binds and "
	  "inbound connections of the recorded tasks, each verdict recorded on its flow. Only "
	  "while the recorder runs; SIGHUP re-reads FILE (a broken one is refused and the rules "
	  "in force stay)", 0 },
	{ "ipfix", OPT_IPFIX, "[udp:|tcp:]HOST:PORT", 0,
	  "Also send every flow as IPFIX to this collector (docs/ipfix.md), with its process, "
	  "container and DNS name: UDP by default, tcp: for TCP (reconnected when it breaks). "
	  "Repeatable, up to 4. Records a collector does not take are counted in runs.ipfix_lost; "
	  "the database has every flow all the same", 0 },
	{ "ipfix-active-timeout", OPT_IPFIX_ACTIVE_TIMEOUT, "SECONDS", 0,
	  "Send a record of a flow still open at least this often while it carries traffic "
	  "(default 60); every flow also gets one when it ends", 0 },
	{ "ipfix-domain", OPT_IPFIX_DOMAIN, "N", 0,
	  "IPFIX observation domain id (default: derived from /etc/machine-id, so each host has "
	  "its own)", 0 },
	{ "verbose", 'v', NULL, 0,
	  "More messages: -v adds details and libbpf's warnings (the verifier log of a failed "
	  "load), -vv and -vvv libbpf's info and debug messages", 0 },
	{ "quiet", 'q', NULL, 0, "Errors only", 0 },
	{ 0 },
};

static int parse_seconds(const char *arg, double *out, bool allow_zero)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < 0 || (!allow_zero && v == 0) || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

/* Bad arguments: one line, exit 2 (argp_error would add a "Try --help" line). */
__attribute__((noreturn, format(printf, 1, 2))) static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("flowrec: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* "128", "64K", "64M", "2G" -> bytes. */
static int parse_size(const char *arg, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*arg == '-')
		return -1;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	case 't': case 'T': v <<= 40; end++; break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct fr_options *o = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->err_stream = NULL; /* getopt already printed its one line */
		break;
	case 'd':
		o->data_dir = arg;
		break;
	case OPT_CGROUP:
		o->cgroup = arg;
		break;
	case OPT_DURATION:
		if (parse_seconds(arg, &o->duration_s, false))
			usage_error("invalid --duration '%s': expected a positive number of seconds", arg);
		break;
	case OPT_FLUSH:
		if (parse_seconds(arg, &o->flush_interval_s, false))
			usage_error("invalid --flush-interval '%s': expected a positive number of seconds", arg);
		break;
	case OPT_READY:
		o->ready_file = arg;
		break;
	case OPT_SNAPLEN: {
		uint64_t v;

		if (parse_size(arg, &v) || v > 262144)
			usage_error("invalid --snaplen '%s': expected 0 (whole packets) to 262144 bytes", arg);
		o->capture.snaplen = (uint32_t)v;
		break;
	}
	case OPT_NO_CAPTURE:
		o->capture.enabled = false;
		break;
	case OPT_SEGMENT_SIZE:
		if (parse_size(arg, &o->capture.segment_bytes) || o->capture.segment_bytes < 4096)
			usage_error("invalid --segment-size '%s': expected a size of at least 4K, like 64M", arg);
		break;
	case OPT_SEGMENT_TIME: {
		double v;

		if (parse_seconds(arg, &v, false))
			usage_error("invalid --segment-time '%s': expected a positive number of seconds", arg);
		o->capture.segment_ns = (int64_t)(v * 1e9);
		break;
	}
	case OPT_DNS_PORT: {
		char *end;
		long v = strtol(arg, &end, 10);
		int i;

		if (*end || end == arg || v < 1 || v > 65535)
			usage_error("invalid --dns-port '%s': expected a port number", arg);
		if (!o->dns_ports_given) { /* the first --dns-port replaces the default */
			memset(o->dns_ports, 0, sizeof(o->dns_ports));
			o->dns_ports_given = true;
		}
		for (i = 0; i < FR_MAX_DNS_PORTS && o->dns_ports[i]; i++)
			;
		if (i == FR_MAX_DNS_PORTS)
			usage_error("too many --dns-port options (at most %d)", FR_MAX_DNS_PORTS);
		o->dns_ports[i] = (uint16_t)v;
		break;
	}
	case OPT_NO_SOCKET_EVENTS:
		o->socket_events = false;
		break;
	case OPT_SOCKET_EVENTS:
		o->socket_events = true;
		break;
	case OPT_KERNEL_COMPAT: {
		char err[512];

		if (fr_kernel_compat_parse(arg, &o->compat_mask, err, sizeof(err)))
			usage_error("%s", err);
		break;
	}
	case OPT_BUFFER_SIZE: {
		uint64_t v;

		if (parse_size(arg, &v) || v < 16384 || v > (1ULL << 30) || (v & (v - 1)))
			usage_error("invalid --buffer-size '%s': expected a power of two from 16K to 1G, like 4M",
				    arg);
		o->buffer_bytes = (uint32_t)v;
		break;
	}
	case OPT_POLICY:
		o->policy_path = arg;
		break;
	case OPT_GROUP: {
		struct group *gr = getgrnam(arg);

		if (!gr)
			usage_error("invalid --group '%s': no such group", arg);
		o->group = arg;
		fr_share_set_group(gr->gr_gid);
		break;
	}
	case OPT_IPFIX: {
		char host[256], port[32], err[512];
		bool tcp;

		_Static_assert(sizeof(o->ipfix) / sizeof(o->ipfix[0]) == FR_MAX_IPFIX_COLLECTORS,
			       "one slot per collector");
		if (o->nipfix == FR_MAX_IPFIX_COLLECTORS)
			usage_error("too many --ipfix options (at most %d)", FR_MAX_IPFIX_COLLECTORS);
		if (fr_ipfix_parse_collector(arg, &tcp, host, sizeof(host), port, sizeof(port), err,
					     sizeof(err)))
			usage_error("%s", err);
		o->ipfix[o->nipfix++] = arg;
		break;
	}
	case OPT_SAMPLE_INTERVAL:
		if (parse_seconds(arg, &o->sample_interval_s, true) || (o->sample_interval_s && o->sample_interval_s < 0.1))
			usage_error("invalid --sample-interval '%s': expected seconds (0.1 or more), or 0 for none",
				    arg);
		break;
	case OPT_IPFIX_ACTIVE_TIMEOUT:
		if (parse_seconds(arg, &o->ipfix_active_s, false))
			usage_error("invalid --ipfix-active-timeout '%s': expected seconds, more than 0", arg);
		break;
	case OPT_IPFIX_DOMAIN: {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || v > UINT32_MAX)
			usage_error("invalid --ipfix-domain '%s': expected a number from 0 to 4294967295", arg);
		o->ipfix_domain = (uint32_t)v;
		o->ipfix_domain_given = true;
		break;
	}
	case OPT_MAX_DISK:
		if (parse_size(arg, &o->capture.max_disk) || o->capture.max_disk == 0)
			usage_error("invalid --max-disk '%s': expected a size, like 10G", arg);
		break;
	case 'v':
		o->verbose++;
		break;
	case 'q':
		o->quiet = true;
		break;
	case ARGP_KEY_ARG:
		usage_error("unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Resolve --cgroup (or the v2 root) and make sure it is a cgroup v2 directory. */
static int resolve_cgroup(const char *want, char *out, size_t len)
{
	struct statfs fs;
	char root[4096];

	if (fr_cgroup2_root(root, sizeof(root))) {
		fr_log(0, "no cgroup v2 file system is mounted (see /proc/self/mountinfo); flowrec needs cgroup v2");
		return -1;
	}
	if (!realpath(want ? want : root, out)) {
		fr_log(0, "cannot use cgroup %s: %s", want ? want : root, strerror(errno));
		return -1;
	}
	(void)len;
	if (statfs(out, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC) {
		fr_log(0, "%s is not a cgroup v2 directory (cgroup v2 is mounted at %s)", out, root);
		return -1;
	}
	return 0;
}

/* The data directory: made 0700, or an existing one that only its owner, this user, can
 * write (anyone else could swap the database or a segment for a symlink). One readable by
 * others is used, with a warning: the recording names every process and peer. */
static int prepare_data_dir(const char *dir, char *db_path, size_t len)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		fr_log(0, "cannot create data directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fr_log(0, "data directory %s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		fr_log(0, "data directory %s can be written by others (owner uid %u, mode %04o): give it "
		       "to this user with mode 0700", dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (fr_share_path(dir, true)) {
		fr_log(0, "cannot give data directory %s to the --group: %s", dir, strerror(errno));
		return -1;
	}
	if (fr_share_enabled() ? (st.st_mode & 004) : (st.st_mode & 044))
		fr_info("data directory %s is readable by others (mode %04o): the recording names every "
			"process and peer; chmod 0700 it (0750 with --group) to keep it private", dir,
			(unsigned)(st.st_mode & 07777));
	if (access(dir, W_OK | X_OK)) {
		fr_log(0, "data directory %s is not writable: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(db_path, len, "%s/flowrec.db", dir);
	return 0;
}

static int64_t run_begin(sqlite3 *db, const struct fr_options *o, const char *cgroup,
			 const struct fr_bpf *b, int64_t *next_flow_id)
{
	static const char sql[] =
		"INSERT INTO runs(start_ns, heartbeat_ns, hostname, kernel, version, options, cgroup, hooks, "
		"snaplen, features, policy, ipfix) VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	char features[512];
	sqlite3_stmt *st = NULL;
	struct utsname u;
	int64_t id = -1;

	uname(&u);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto cleanup;
	sqlite3_bind_int64(st, 1, fr_now_ns());
	sqlite3_bind_text(st, 2, u.nodename, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, u.release, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, FR_VERSION, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, o->cmdline ? o->cmdline : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, cgroup, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, b->hooks, -1, SQLITE_STATIC);
	fr_kernel_features(&b->kernel, o->socket_events, features, sizeof(features));
	sqlite3_bind_text(st, 9, features, -1, SQLITE_STATIC);
	if (o->nipfix) {
		char ipfix[4 * 300 + 32] = "";
		size_t n = 0;

		for (int i = 0; i < o->nipfix && n < sizeof(ipfix) - 1; i++)
			n += (size_t)snprintf(ipfix + n, sizeof(ipfix) - n, "%s ", o->ipfix[i]);
		if (n < sizeof(ipfix) - 1)
			snprintf(ipfix + n, sizeof(ipfix) - n, "domain=%u", o->ipfix_domain);
		sqlite3_bind_text(st, 11, ipfix, -1, SQLITE_TRANSIENT);
	}
	if (o->policy_path)
		sqlite3_bind_text(st, 10, o->policy_path, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 10);
	if (o->capture.enabled)
		sqlite3_bind_int64(st, 8, o->capture.snaplen);
	else
		sqlite3_bind_null(st, 8);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto cleanup;
	id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	st = NULL;
	/* Flow ids continue across runs so that a flow id names one flow in the whole file. */
	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(id), 0) + 1 FROM flows", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		id = -1;
		goto cleanup;
	}
	*next_flow_id = sqlite3_column_int64(st, 0);
cleanup:
	if (id < 0)
		fr_log(0, "cannot write the run to the database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return id;
}

/* Flows no one will end any more: those of run_id (or, with run_id 0, of every run that
 * crashed, for the start of a new one: the data directory's lock says no recorder is live)
 * end at their last packet, marked with why. */
static void flows_end_unfinished(sqlite3 *db, int64_t run_id, const char *reason)
{
	static const char sql[] =
		"UPDATE flows SET end_ns = last_ns, end_reason = ?2 WHERE end_ns IS NULL AND "
		"(run_id = ?1 OR (?1 = 0 AND run_id IN (SELECT id FROM runs WHERE end_ns IS NULL)))";
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, run_id);
		sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			fr_log(0, "cannot end the flows left open: %s", sqlite3_errmsg(db));
		else if (sqlite3_changes(db))
			fr_info("%d flows left open by %s ended at their last packet", sqlite3_changes(db),
				run_id ? "this run" : "a crashed run");
	}
	sqlite3_finalize(st);
}

/* ipfix_lost: the export's final count, which came after the writer's last flush. */
static void run_end(sqlite3 *db, int64_t run_id, uint64_t ipfix_lost)
{
	sqlite3_stmt *st = NULL;

	flows_end_unfinished(db, run_id, "recorder-stop");
	if (sqlite3_prepare_v2(db, "UPDATE runs SET end_ns = ?1, heartbeat_ns = ?1, "
			       "ipfix_lost = max(ipfix_lost, ?3) WHERE id = ?2", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, fr_now_ns());
		sqlite3_bind_int64(st, 2, run_id);
		sqlite3_bind_int64(st, 3, (int64_t)ipfix_lost);
		if (sqlite3_step(st) != SQLITE_DONE)
			fr_log(0, "cannot mark the run ended: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
}

/* Written whole and renamed into place (lib/outfile.c): a symlink planted at the path is
 * replaced, never followed, and a reader never sees it empty. */
static int write_ready_file(const char *path)
{
	char err[PATH_MAX + 128];
	struct fr_outfile f;

	if (fr_outfile_open(&f, path, 0644, err, sizeof(err)) || dprintf(f.fd, "%d\n", getpid()) < 0 ||
	    fr_outfile_commit(&f, err, sizeof(err))) {
		if (f.fd >= 0)
			snprintf(err, sizeof(err), "cannot write %s: %s", path, strerror(errno));
		fr_outfile_abort(&f);
		fr_log(0, "ready file: %s", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fr_options o = {
		.data_dir = DEFAULT_DATA,
		.flush_interval_s = 1.0,
		.capture = { .enabled = true, .snaplen = 128, .segment_bytes = 64ULL << 20,
			     .segment_ns = 3600LL * 1000000000 },
		.dns_ports = { 53 },
		.ipfix_active_s = 60,
		.sample_interval_s = 10,
		.buffer_bytes = 4 << 20,
	};
	static const struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };
	char cgroup[4096], db_path[4096], err[512];
	struct fr_db_writer *writer = NULL;
	struct fr_consumer *consumer = NULL;
	struct fr_pcap_store *store = NULL;
	struct fr_capture *capture = NULL;
	struct fr_dns_tracker *dns = NULL;
	struct fr_policy_maps *policy = NULL;
	struct fr_ipfix_export *ipfix = NULL;
	uint64_t ipfix_lost = 0;
	struct fr_idset cgroup_ids = {};
	struct fr_bpf bpf = { .cgroup_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	sqlite3 *db = NULL;
	int64_t run_id = -1, next_flow_id = 1, start, next_flush, flush_ns;
	int ret = 1, adopted, lock_fd = -1;

	argv[0] = (char *)"flowrec"; /* getopt names the program after argv[0] in its errors */
	if (argp_parse(&argp, argc, argv, 0, NULL, &o))
		return 2;
	fr_verbose = o.quiet ? 0 : 1 + o.verbose;
	if (o.nipfix && !o.ipfix_domain_given)
		o.ipfix_domain = fr_ipfix_default_domain();
	o.cmdline = join_args(argc, argv);
	/* Before anything is attached: a SIGINT or SIGTERM during the set-up makes a clean stop
	 * once it is done (the loop below sees the flag at once), never a half-made run. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_sighup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (resolve_cgroup(o.cgroup, cgroup, sizeof(cgroup)))
		goto cleanup;
	/* A budget smaller than a segment could never be kept: segments shrink to fit it. */
	if (o.capture.max_disk && o.capture.segment_bytes > o.capture.max_disk / 4)
		o.capture.segment_bytes = o.capture.max_disk / 4 > 4096 ? o.capture.max_disk / 4 : 4096;
	if (fr_bpf_load(&bpf, &o))
		goto cleanup;
	/* In force before any hook is attached. */
	if (o.policy_path && !(policy = fr_policy_maps_new(&bpf, o.policy_path)))
		goto cleanup;
	if (prepare_data_dir(o.data_dir, db_path, sizeof(db_path)))
		goto cleanup;
	lock_fd = fr_lock_acquire(o.data_dir, err, sizeof(err));
	if (lock_fd < 0) {
		fr_log(0, "%s", err);
		goto cleanup;
	}
	if (fr_db_open_rw(db_path, &db, err, sizeof(err))) {
		fr_log(0, "%s", err);
		goto cleanup;
	}
	if (fr_bpf_attach_sockets(&bpf, cgroup))
		goto cleanup;
	if (fr_cgroup_subtree(cgroup, &cgroup_ids)) {
		fr_log(0, "cannot list the cgroups under %s: %s", cgroup, strerror(errno));
		goto cleanup;
	}
	adopted = fr_presock_adopt(&bpf, &cgroup_ids);
	if (adopted < 0)
		goto cleanup;
	flows_end_unfinished(db, 0, "crash");
	run_id = run_begin(db, &o, cgroup, &bpf, &next_flow_id);
	if (run_id < 0)
		goto cleanup;
	/* Recovery of a crashed segment uses the database directly: before the writer. */
	if (o.capture.enabled) {
		store = fr_pcap_store_open(o.data_dir, db, run_id, &o.capture);
		if (!store)
			goto cleanup;
	}
	writer = fr_db_writer_start(db, run_id, o.data_dir, QUEUE_LEN);
	if (!writer)
		goto cleanup;
	consumer = fr_consumer_new(&bpf, writer, next_flow_id);
	if (!consumer)
		goto cleanup;
	fr_consumer_set_policy(consumer, policy);
	fr_consumer_set_sample_interval(consumer, o.sample_interval_s);
	if (o.nipfix) {
		ipfix = fr_ipfix_export_start(o.ipfix, o.nipfix, o.ipfix_domain);
		if (!ipfix || fr_consumer_set_ipfix(consumer, ipfix, o.ipfix_active_s))
			goto cleanup;
	}
	/* The packet perf buffer carries DNS even without capture. */
	if (store)
		fr_pcap_store_set_writer(store, writer);
	dns = fr_dns_tracker_new(writer);
	if (!dns)
		goto cleanup;
	capture = fr_capture_new(&bpf, consumer, store, dns, o.capture.snaplen, o.buffer_bytes / 4096);
	if (!capture || fr_consumer_set_capture(consumer, capture, store, dns))
		goto cleanup;
	/* Packets last: everything that consumes them is in place. */
	if (fr_bpf_attach_packets(&bpf))
		goto cleanup;

	if (o.ready_file && write_ready_file(o.ready_file))
		goto cleanup;
	fr_info("recording cgroup %s into %s (run %lld, %d sockets already open adopted)", cgroup,
		db_path, (long long)run_id, adopted);

	start = fr_now_ns();
	flush_ns = (int64_t)(o.flush_interval_s * 1e9);
	next_flush = start + flush_ns;
	while (!stop_requested) {
		int64_t now;

		if (fr_consumer_poll(consumer, 50))
			break;
		if (rotate_requested) {
			rotate_requested = 0;
			if (store) {
				fr_pcap_store_rotate(store);
				fr_info("SIGHUP: pcap segment closed, a new one starts with the next packet");
			}
			if (policy)
				fr_policy_maps_reload(policy, writer);
		}
		now = fr_now_ns();
		if (now >= next_flush) {
			fr_consumer_flush(consumer);
			if (policy)
				fr_policy_maps_flush(policy, writer);
			next_flush = now + flush_ns;
		}
		if (o.duration_s > 0 && now - start >= (int64_t)(o.duration_s * 1e9))
			break;
	}
	fr_consumer_poll(consumer, 0);
	fr_consumer_poll(consumer, 0); /* the second cycle makes the first one's ends final */
	fr_consumer_flush(consumer);
	if (policy)
		fr_policy_maps_flush(policy, writer);
	fr_consumer_finish(consumer);
	ret = 0;
cleanup:
	fr_bpf_detach(&bpf); /* no more packets or events from here on */
	ipfix_lost = fr_ipfix_export_stop(ipfix); /* sends what is queued */
	if (store && writer)
		fr_pcap_store_close(store);
	if (writer)
		fr_dns_tracker_free(dns); /* unanswered queries are written */
	if (writer) {
		fr_db_writer_sync(writer);
		fr_db_writer_stop(writer);
	}
	if (run_id > 0)
		run_end(db, run_id, ipfix_lost);
	fr_capture_free(capture);
	fr_consumer_free(consumer);
	fr_policy_maps_free(policy);
	fr_bpf_destroy(&bpf);
	if (o.ready_file && run_id > 0)
		unlink(o.ready_file);
	sqlite3_close(db);
	fr_idset_free(&cgroup_ids);
	free(o.cmdline);
	if (lock_fd >= 0)
		close(lock_fd);
	return ret;
}
