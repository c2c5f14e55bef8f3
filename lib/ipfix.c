/*
 * IPFIX export of flow records through libfixbuf (see ipfix.h).
 *
 * libfixbuf encodes (templates, records, RFC 5610 type records, sequence numbers); the
 * sockets are ours. Its network exporter connects and writes with no timeout (a collector
 * that stops reading would hang the export thread), cannot be told an MTU, and ignores
 * SIGPIPE for the whole process behind our back. So each fBuf writes into a buffer exporter
 * (fbExporterAllocBuffer), whose size is the message size limit, in manual mode: when a
 * message is full fBufAppend says so (FB_ERROR_EOM), we emit it and send the bytes ourselves,
 * with MSG_NOSIGNAL and a 1 s limit on every connect and TCP send.
 *
 * A TCP connection that fails takes the fBuf (and with it the session) down: a new
 * connection is a new transport session, and starts again with the templates. A UDP socket
 * never goes down; its sends just fail.
 *
 * Time is the now_ns given to fr_ipfix_flush, never the clock, so that a test can drive the
 * template refresh and the reconnection delay; fr_ipfix_export uses the last flush's.
 *
 * Not thread-safe: one exporter is used by one thread at a time (each has its own libfixbuf
 * information model, so separate exporters may run in separate threads).
 */
#include "ipfix.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fixbuf/public.h>

#include "textsafe.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define NS_PER_S 1000000000LL
#define TEMPLATE_REFRESH_NS (60 * NS_PER_S) /* UDP: RFC 7011 10.3.6 */
#define RECONNECT_NS (5 * NS_PER_S)
#define IO_TIMEOUT_MS 1000

/* Largest IPFIX message: below a 1400-byte path MTU for UDP; over TCP fewer, larger writes. */
#define UDP_MSG_MAX 1400
#define TCP_MSG_MAX 8192

/* Template ids: external ones on the wire; the internal one only describes struct rec. */
#define TID_V4 256
#define TID_V6 257
#define TID_TYPE 258 /* RFC 5610 information element type records */
#define TID_REC 259

/* Seconds from the NTP epoch (1900) to the Unix epoch. */
#define NTP_UNIX_OFFSET 2208988800ULL

/* Which template an element is in: both when 0. */
#define IN_V4 1u
#define IN_V6 2u

/*
 * A record as libfixbuf's transcoder reads it: integers and IPv4 addresses in host order,
 * IPv6 addresses as bytes, dateTimeNanoseconds as a 64-bit NTP timestamp, strings as
 * fbVarfield_t. One layout serves both templates: each external template takes the fields
 * it names and skips the other family's addresses.
 */
struct rec {
	uint64_t flow_id;
	uint64_t start, end;
	uint64_t start_ms, end_ms; /* ms since the epoch */
	uint32_t sip4, dip4;
	uint8_t sip6[16], dip6[16];
	uint16_t sport, dport;
	uint8_t proto, end_reason, fw_event;
	uint64_t bytes_total, packets_total, rbytes_total, rpackets_total;
	uint64_t bytes_delta, packets_delta, rbytes_delta, rpackets_delta;
	uint32_t ntop_pid;
	fbVarfield_t ntop_name;
	uint32_t ntop_uid;
	uint32_t pid, tid, uid;
	fbVarfield_t comm, exe, container;
	uint64_t cgroup, netns;
	fbVarfield_t rname, rule;
};

struct element {
	const char *name;
	uint32_t pen;     /* 0: IANA; FB_IE_PEN_REVERSE: an RFC 5103 reverse element */
	uint16_t id;
	uint8_t type;     /* fbInfoElementDataType_t */
	uint8_t in;       /* IN_V4, IN_V6, or 0 for both templates */
	size_t off, size; /* its field in struct rec */
	const char *desc; /* our own elements: the description sent in their type record */
};

#define FIELD(f) offsetof(struct rec, f), sizeof(((struct rec *)0)->f)
#define PEN_REV FB_IE_PEN_REVERSE
#define PEN_NTOP FR_IPFIX_PEN_NTOP
#define PEN_FR FR_IPFIX_PEN_FLOWREC

/*
 * Every element a record carries, in template order. The forward direction is the
 * initiator's (RFC 5103): source is this host for an outgoing flow, the peer for an incoming
 * one, and the plain counters count what the source sent, the reverse ones what it received.
 * The ntop and flowrec process elements describe the process on this host that owns the
 * socket, whichever way the flow goes: on an incoming flow that is the destination.
 */
static const struct element elements[] = {
	/* flows.id, unique within a run */
	{ "flowId", 0, 148, FB_UINT_64, 0, FIELD(flow_id), NULL },
	/* first packet */
	{ "flowStartNanoseconds", 0, 156, FB_DT_NANOSEC, 0, FIELD(start), NULL },
	/* last packet; for an active-timeout record, the last packet so far */
	{ "flowEndNanoseconds", 0, 157, FB_DT_NANOSEC, 0, FIELD(end), NULL },
	/* the same in milliseconds, which more collectors read (nfdump 1.7 reads only these) */
	{ "flowStartMilliseconds", 0, 152, FB_DT_MILSEC, 0, FIELD(start_ms), NULL },
	{ "flowEndMilliseconds", 0, 153, FB_DT_MILSEC, 0, FIELD(end_ms), NULL },
	/* initiator */
	{ "sourceIPv4Address", 0, 8, FB_IP4_ADDR, IN_V4, FIELD(sip4), NULL },
	/* responder */
	{ "destinationIPv4Address", 0, 12, FB_IP4_ADDR, IN_V4, FIELD(dip4), NULL },
	{ "sourceIPv6Address", 0, 27, FB_IP6_ADDR, IN_V6, FIELD(sip6), NULL },
	{ "destinationIPv6Address", 0, 28, FB_IP6_ADDR, IN_V6, FIELD(dip6), NULL },
	{ "sourceTransportPort", 0, 7, FB_UINT_16, 0, FIELD(sport), NULL },
	{ "destinationTransportPort", 0, 11, FB_UINT_16, 0, FIELD(dport), NULL },
	/* MPTCP subflows as TCP (6) */
	{ "protocolIdentifier", 0, 4, FB_UINT_8, 0, FIELD(proto), NULL },
	/* FR_IPFIX_END_*: 2 active timeout, 3 the socket closed, 4 the recorder stopped */
	{ "flowEndReason", 0, 136, FB_UINT_8, 0, FIELD(end_reason), NULL },
	/* FR_IPFIX_FW_*: 0 no verdict, 3 denied by --policy, 4 audit (a deny rule matched) */
	{ "firewallEvent", 0, 233, FB_UINT_8, 0, FIELD(fw_event), NULL },
	/* Totals before deltas: a collector that keeps one counter per direction (nfdump)
	 * keeps the last it reads, and only deltas add up over a flow's records. */
	/* initiator to responder, since the flow began */
	{ "octetTotalCount", 0, 85, FB_UINT_64, 0, FIELD(bytes_total), NULL },
	{ "packetTotalCount", 0, 86, FB_UINT_64, 0, FIELD(packets_total), NULL },
	/* responder to initiator, since the flow began */
	{ "reverseOctetTotalCount", PEN_REV, 85, FB_UINT_64, 0, FIELD(rbytes_total), NULL },
	{ "reversePacketTotalCount", PEN_REV, 86, FB_UINT_64, 0, FIELD(rpackets_total), NULL },
	/* initiator to responder, since this flow's previous record */
	{ "octetDeltaCount", 0, 1, FB_UINT_64, 0, FIELD(bytes_delta), NULL },
	{ "packetDeltaCount", 0, 2, FB_UINT_64, 0, FIELD(packets_delta), NULL },
	/* responder to initiator, the same */
	{ "reverseOctetDeltaCount", PEN_REV, 1, FB_UINT_64, 0, FIELD(rbytes_delta), NULL },
	{ "reversePacketDeltaCount", PEN_REV, 2, FB_UINT_64, 0, FIELD(rpackets_delta), NULL },
	/* ntop's process elements, for the collectors that know them (ntopng, nProbe): pid */
	{ "SRC_PROC_PID", PEN_NTOP, 168, FB_UINT_32, 0, FIELD(ntop_pid), NULL },
	/* comm (ntop sends 16 bytes fixed; here variable length) */
	{ "SRC_PROC_NAME", PEN_NTOP, 169, FB_STRING, 0, FIELD(ntop_name), NULL },
	/* uid */
	{ "SRC_PROC_UID", PEN_NTOP, 425, FB_UINT_32, 0, FIELD(ntop_uid), NULL },
	/* flowrec's own, described to collectors by RFC 5610 type records; numbered from 101:
	 * pmacct reads an enterprise element numbered 1 or 2 as nothing */
	{ "flowrecProcessId", PEN_FR, 101, FB_UINT_32, 0, FIELD(pid),
	  "process id (tgid) of the process on this host that owns the socket" },
	{ "flowrecThreadId", PEN_FR, 102, FB_UINT_32, 0, FIELD(tid),
	  "thread id that created the socket or first used it" },
	{ "flowrecUserId", PEN_FR, 103, FB_UINT_32, 0, FIELD(uid),
	  "user id of the process on this host that owns the socket" },
	{ "flowrecCommand", PEN_FR, 104, FB_STRING, 0, FIELD(comm),
	  "command name (comm, at most 15 bytes) of the owning process" },
	{ "flowrecExecutable", PEN_FR, 105, FB_STRING, 0, FIELD(exe),
	  "path of the owning process's executable; empty when unknown" },
	{ "flowrecContainerId", PEN_FR, 106, FB_STRING, 0, FIELD(container),
	  "container id of the owning process's cgroup; empty when none" },
	{ "flowrecCgroupId", PEN_FR, 107, FB_UINT_64, 0, FIELD(cgroup),
	  "cgroup v2 id (the cgroup directory's inode) of the owning process" },
	{ "flowrecNetnsInode", PEN_FR, 108, FB_UINT_64, 0, FIELD(netns),
	  "inode of the socket's network namespace" },
	{ "flowrecDnsName", PEN_FR, 109, FB_STRING, 0, FIELD(rname),
	  "name the process looked up in DNS that resolved to the peer address; empty when none" },
	{ "flowrecPolicyRule", PEN_FR, 110, FB_STRING, 0, FIELD(rule),
	  "name of the flowrec --policy rule that decided firewallEvent; empty when none" },
};

#define NELEM ARRAY_LEN(elements)

struct fr_ipfix_exporter {
	bool tcp;
	char host[256], port[8];
	uint32_t domain;
	uint16_t msg_max;
	fbInfoModel_t *model;
	/* The internal template has a paddingOctets before each field struct rec aligns, and
	 * one at the end. */
	fbInfoElementSpec_t spec_int[2 * NELEM + 2];
	fbInfoElementSpec_t spec_ext[NELEM + 1];

	/* Up: both, or neither (fd -1, fbuf NULL). */
	int fd;
	fBuf_t *fbuf;
	uint16_t cur_tid;      /* external template the fBuf has set for records; 0: none */
	uint32_t msg_records;  /* flow records in the message being built */
	uint64_t lost_pending; /* records of messages that failed, for the next flush to report */

	/* now: the last flush's now_ns (have_now: there was one). An attempt or a template
	 * send before the first flush gets that flush's time ("unstamped"). */
	int64_t now;
	bool have_now;
	bool attempted, attempt_unstamped;
	int64_t last_attempt;
	bool tmpl_unstamped;
	int64_t tmpl_time;

	/* The strings of the record being appended, made valid UTF-8. */
	char comm[16], exe[256], container[65], rname[256], rule[64];
	uint8_t msg[TCP_MSG_MAX]; /* where the buffer exporter copies each message */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 7011 6.1.10: seconds since 1900 and a binary fraction of 2^-32 s, which keeps a
 * nanosecond exactly: the fraction is rounded to nearest (within 0.12 ns), and rounding the
 * other way back gives the same ns. The seconds wrap in 2036 into NTP era 1, as RFC 5905
 * says they do; times before 1970 (never a flow's) become 1970. */
static uint64_t ntp_from_unix_ns(int64_t ns)
{
	uint64_t sec, frac;

	if (ns < 0)
		ns = 0;
	sec = (uint64_t)ns / NS_PER_S;
	frac = (((uint64_t)ns % NS_PER_S << 32) + NS_PER_S / 2) / NS_PER_S;
	return (sec + NTP_UNIX_OFFSET) << 32 | frac;
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* IPFIX strings are UTF-8 (RFC 7011 6.1.6): each invalid byte becomes '?', so the length
 * (and the record's size, which must fit a message) never grows. */
static void set_string(fbVarfield_t *v, char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size), i = 0;

	while (i < n) {
		uint32_t cp;
		size_t l = fr_utf8_next((const unsigned char *)src + i, n - i, &cp);

		if (!l) {
			dst[i++] = '?';
			continue;
		}
		memcpy(dst + i, src + i, l);
		i += l;
	}
	v->buf = (uint8_t *)dst;
	v->len = n;
}

/*
 * Collector specs
 */

static bool all_alpha(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return n > 0;
}

int fr_ipfix_parse_collector(const char *spec, bool *tcp, char *host, size_t hostlen, char *port,
			     size_t portlen, char *err, size_t errlen)
{
	char shown[128], v6[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	const char *s, *h, *hend, *p, *colon;
	unsigned long v = 0;
	size_t hl, pl;
	bool t = false;

	if (!spec)
		spec = "";
	fr_term_safe_str(spec, shown, sizeof(shown));
	s = spec;
	if (!strncmp(s, "udp:", 4)) {
		s += 4;
	} else if (!strncmp(s, "tcp:", 4)) {
		t = true;
		s += 4;
	}
	if (*s == '[') {
		h = s + 1;
		hend = strchr(h, ']');
		if (!hend) {
			snprintf(err, errlen, "bad IPFIX collector '%s': no ']' after the IPv6 address",
				 shown);
			return -1;
		}
		if (hend[1] != ':')
			goto format;
		p = hend + 2;
		hl = (size_t)(hend - h);
		if (hl >= sizeof(v6))
			goto not_v6;
		memcpy(v6, h, hl);
		v6[hl] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			goto not_v6;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			goto format;
		h = s;
		hend = colon;
		p = colon + 1;
		colon = memchr(h, ':', (size_t)(hend - h));
		if (colon) {
			/* "sctp:host:port" is a transport we do not have; "fe80::1:4739" a bare
			 * IPv6 address, whose port cannot be told from its last group. */
			if (all_alpha(h, (size_t)(colon - h)) &&
			    !memchr(colon + 1, ':', (size_t)(hend - colon - 1))) {
				snprintf(err, errlen,
					 "bad IPFIX collector '%s': unknown transport '%.*s' (udp or tcp)",
					 shown, (int)(colon - h), h);
				return -1;
			}
			snprintf(err, errlen,
				 "bad IPFIX collector '%s': an IPv6 address needs brackets, as in [::1]:4739",
				 shown);
			return -1;
		}
	}
	hl = (size_t)(hend - h);
	pl = strlen(p);
	for (size_t i = 0; i < pl && v <= 65535; i++)
		v = p[i] >= '0' && p[i] <= '9' ? v * 10 + (unsigned long)(p[i] - '0') : 65536;
	if (!pl || v < 1 || v > 65535) {
		char pshown[32];

		snprintf(err, errlen, "bad IPFIX collector '%s': port '%s' is not a number from 1 to 65535",
			 shown, fr_term_safe_str(p, pshown, sizeof(pshown)));
		return -1;
	}
	if (hl >= hostlen) {
		snprintf(err, errlen, "bad IPFIX collector '%s': host name too long", shown);
		return -1;
	}
	if ((size_t)snprintf(port, portlen, "%lu", v) >= portlen) {
		snprintf(err, errlen, "bad IPFIX collector '%s': no room for the port", shown);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*tcp = t;
	return 0;
format:
	snprintf(err, errlen, "bad IPFIX collector '%s': expected [udp:|tcp:]HOST:PORT", shown);
	return -1;
not_v6:
	snprintf(err, errlen, "bad IPFIX collector '%s': no IPv6 address in the brackets", shown);
	return -1;
}

/*
 * Sockets
 */

/* Connect fd (non-blocking) to ai by the monotonic deadline. */
static int connect_by(int fd, const struct addrinfo *ai, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	for (;;) {
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return -1;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR)
			return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr)
		return -1;
	return 0;
}

/* A socket connected to the collector, or -1. The name is resolved here, on every attempt
 * (this may wait for the resolver): a TCP collector that moves is found again at the next
 * connection; a UDP one keeps the address it had at the first. */
static int open_socket(const struct fr_ipfix_exporter *e)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_flags = AI_NUMERICSERV }, *res = NULL;
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000, .tv_usec = IO_TIMEOUT_MS % 1000 * 1000 };
	int64_t deadline = mono_ms() + IO_TIMEOUT_MS;
	int fd = -1;

	hints.ai_socktype = e->tcp ? SOCK_STREAM : SOCK_DGRAM;
	if (getaddrinfo(e->host, e->port, &hints, &res))
		goto cleanup;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (!connect_by(fd, ai, deadline))
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0 || !e->tcp)
		goto cleanup; /* UDP stays non-blocking: a full send buffer drops the message */
	/* TCP sends block, for at most the timeout each: a message must go whole or not at all. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		close(fd);
		fd = -1;
	}
cleanup:
	if (res)
		freeaddrinfo(res);
	return fd;
}

/* A collector never sends: readable means it closed (or reset) the connection, which a send
 * into the socket buffer would not notice until the one after. What it may send is dropped. */
static bool peer_gone(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };
	char junk[256];
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (pfd.revents & (POLLERR | POLLHUP | POLLRDHUP))
		return true;
	n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static int send_msg(struct fr_ipfix_exporter *e, size_t len)
{
	int64_t deadline = mono_ms() + IO_TIMEOUT_MS;
	size_t off = 0;

	if (!e->tcp)
		return send(e->fd, e->msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
	if (peer_gone(e->fd))
		return -1;
	while (off < len) {
		ssize_t n = send(e->fd, e->msg + off, len - off, MSG_NOSIGNAL);

		if (n > 0)
			off += (size_t)n;
		else if (n == 0 || errno != EINTR)
			return -1;
		if (off < len && mono_ms() >= deadline)
			return -1; /* part of a message is out: the stream is broken either way */
	}
	return 0;
}

/*
 * The fBuf
 */

static void teardown(struct fr_ipfix_exporter *e)
{
	if (e->fbuf) {
		e->lost_pending += e->msg_records;
		fBufFree(e->fbuf); /* and its session, exporter and templates */
	}
	e->fbuf = NULL;
	e->msg_records = 0;
	e->cur_tid = 0;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

/* Emit the message being built, if any, and send it. A failed message's records are added
 * to lost_pending; a TCP failure (or a libfixbuf one) also takes the exporter down. */
static int emit(struct fr_ipfix_exporter *e)
{
	GError *gerr = NULL;
	uint32_t records = e->msg_records, t;
	size_t len;
	int rc = -1;

	e->msg[0] = 0xff; /* a message starts 0x00 0x0a: tells whether one was emitted */
	if (!fBufEmit(e->fbuf, &gerr)) {
		teardown(e);
		goto cleanup;
	}
	e->msg_records = 0;
	if (e->msg[0] != 0x00 || e->msg[1] != 0x0a) {
		rc = 0;
		goto cleanup;
	}
	len = fbExporterGetMsgLen(fBufGetExporter(e->fbuf));
	/* Export time is when the message leaves, not when its first record went in; before
	 * the first flush there is no now_ns, and the clock stands in. */
	t = htonl(e->have_now ? (uint32_t)(e->now / NS_PER_S) : (uint32_t)time(NULL));
	memcpy(e->msg + 4, &t, sizeof(t));
	if (len < 16 || len > e->msg_max || send_msg(e, len)) {
		e->lost_pending += records;
		if (e->tcp)
			teardown(e);
		goto cleanup;
	}
	rc = 0;
cleanup:
	g_clear_error(&gerr);
	return rc;
}

enum put_op { PUT_TEMPLATE, PUT_TYPE_RECORD, PUT_RECORD };

static gboolean put_once(struct fr_ipfix_exporter *e, enum put_op op, const void *arg,
			 GError **gerr)
{
	switch (op) {
	case PUT_TEMPLATE:
		return fbSessionExportTemplate(fBufGetSession(e->fbuf), *(const uint16_t *)arg, gerr);
	case PUT_TYPE_RECORD:
		return fbInfoElementWriteOptionsRecord(e->fbuf, arg, TID_TYPE, TID_TYPE, gerr);
	case PUT_RECORD:
		return fBufAppend(e->fbuf, (uint8_t *)arg, sizeof(struct rec), gerr);
	}
	return FALSE;
}

/* Add a template, a type record or a flow record to the message; when libfixbuf wants a new
 * message (this one is full, or template and data sets change over) send this one and try
 * again, once: anything fits an empty message. Any other failure leaves an fBuf we cannot
 * trust, and takes the exporter down. */
static int put(struct fr_ipfix_exporter *e, enum put_op op, const void *arg)
{
	GError *gerr = NULL;
	int rc = -1;

	for (int tries = 0; tries < 2; tries++) {
		if (put_once(e, op, arg, &gerr)) {
			rc = 0;
			goto cleanup;
		}
		if (!g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM))
			break;
		g_clear_error(&gerr);
		emit(e);
		if (!e->fbuf)
			goto cleanup;
	}
	teardown(e);
cleanup:
	g_clear_error(&gerr);
	return rc;
}

/* The type options template, the type records of flowrec's elements, then the record
 * templates, each kind in a message of its own and in that order: a collector learning our
 * elements from RFC 5610 records needs them before the templates that use them. Type records
 * go for flowrec's PEN only, so not through fbSessionSetMetadataExportElements(TRUE), which
 * describes every non-IANA element of the model (libfixbuf's CERT ones, ntop's) and needs
 * libfixbuf's automatic mode. */
static int send_templates(struct fr_ipfix_exporter *e)
{
	static const uint16_t tids[] = { TID_V4, TID_V6 };
	static const uint16_t type_tid = TID_TYPE;

	if (put(e, PUT_TEMPLATE, &type_tid))
		return -1;
	for (size_t i = 0; i < NELEM; i++) {
		const fbInfoElement_t *ie;

		if (elements[i].pen != PEN_FR)
			continue;
		ie = fbInfoModelGetElementByName(e->model, elements[i].name);
		if (!ie) {
			teardown(e);
			return -1;
		}
		if (put(e, PUT_TYPE_RECORD, ie))
			return -1;
	}
	for (size_t i = 0; i < ARRAY_LEN(tids); i++)
		if (put(e, PUT_TEMPLATE, &tids[i]))
			return -1;
	emit(e);
	if (!e->fbuf)
		return -1;
	e->cur_tid = 0; /* the type record template is set now */
	e->tmpl_time = e->now;
	e->tmpl_unstamped = !e->have_now;
	return 0;
}

static int add_template(fbSession_t *s, fbInfoModel_t *model, gboolean internal, uint16_t tid,
			fbInfoElementSpec_t *spec, uint32_t flags)
{
	fbTemplate_t *t = fbTemplateAlloc(model);
	GError *gerr = NULL;
	int rc = -1;

	if (!fbTemplateAppendSpecArray(t, spec, flags, &gerr))
		goto cleanup;
	if (!fbSessionAddTemplate(s, internal, tid, t, &gerr))
		goto cleanup;
	t = NULL; /* the session's */
	rc = 0;
cleanup:
	if (t)
		fbTemplateFreeUnused(t);
	g_clear_error(&gerr);
	return rc;
}

/* The session gets every template before it has an fBuf: added later, libfixbuf would write
 * each into the message at once, which in manual mode fails. */
static int build_fbuf(struct fr_ipfix_exporter *e)
{
	fbSession_t *s = fbSessionAlloc(e->model);
	GError *gerr = NULL;
	int rc = -1;

	fbSessionSetDomain(s, e->domain);
	if (add_template(s, e->model, TRUE, TID_REC, e->spec_int, IN_V4 | IN_V6) ||
	    add_template(s, e->model, FALSE, TID_V4, e->spec_ext, IN_V4) ||
	    add_template(s, e->model, FALSE, TID_V6, e->spec_ext, IN_V6))
		goto cleanup;
	/* Only to add the RFC 5610 type template (as TID_TYPE, internal and external) to the
	 * session: FALSE, because send_templates writes the records (see there). */
	if (fbSessionSetMetadataExportElements(s, FALSE, TID_TYPE, &gerr) != TID_TYPE)
		goto cleanup;
	e->fbuf = fBufAllocForExport(s, fbExporterAllocBuffer(e->msg, e->msg_max));
	s = NULL; /* the fBuf's */
	fBufSetAutomaticMode(e->fbuf, FALSE);
	fBufSetExportTime(e->fbuf, (uint32_t)(e->now / NS_PER_S));
	e->msg_records = 0;
	e->cur_tid = 0;
	rc = 0;
cleanup:
	if (s)
		fbSessionFree(s);
	g_clear_error(&gerr);
	return rc;
}

/* Connect (or, for UDP, set up the socket) if down and the last attempt was at least
 * RECONNECT_NS ago, then send the templates. */
static int bring_up(struct fr_ipfix_exporter *e)
{
	if (e->fbuf)
		return 0;
	/* A clock stepped back allows an attempt rather than none until it catches up. */
	if (e->attempted && (e->attempt_unstamped ||
			     (e->now >= e->last_attempt && e->now - e->last_attempt < RECONNECT_NS)))
		return -1;
	struct timespec t0, t1;

	e->attempted = true;
	e->last_attempt = e->now;
	e->attempt_unstamped = !e->have_now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	e->fd = open_socket(e);
	if (e->fd < 0) {
		/* The next try comes RECONNECT_NS after this one ended: a resolver that takes
		 * longer than that would otherwise be asked again at every flush. */
		clock_gettime(CLOCK_MONOTONIC, &t1);
		e->last_attempt += (t1.tv_sec - t0.tv_sec) * NS_PER_S + (t1.tv_nsec - t0.tv_nsec);
		return -1;
	}
	if (build_fbuf(e)) {
		teardown(e);
		return -1;
	}
	/* -1 only when down: a UDP send that fails is not, the refresh sends them again. */
	return send_templates(e);
}

/*
 * The API
 */

/* Our elements in the model, and the model's idea of every element checked against the
 * table, which is what docs/ipfix.md shows; then the template specs. */
static int init_model(struct fr_ipfix_exporter *e, char *err, size_t errlen)
{
	size_t ni = 0, ne = 0, at = 0;

	e->model = fbInfoModelAlloc();
	for (size_t i = 0; i < NELEM; i++) {
		const struct element *el = &elements[i];
		fbInfoElement_t ie = { 0 };

		if (el->pen != PEN_NTOP && el->pen != PEN_FR)
			continue;
		ie.ref.name = el->name;
		ie.ent = el->pen;
		ie.num = el->id;
		ie.type = el->type;
		ie.description = el->desc;
		if (el->type == FB_STRING) {
			ie.len = FB_IE_VARLEN;
			ie.flags = FB_IE_DEFAULT;
		} else {
			ie.len = (uint16_t)el->size;
			ie.flags = FB_IE_IDENTIFIER | FB_IE_F_ENDIAN;
		}
		fbInfoModelAddElement(e->model, &ie);
	}
	for (size_t i = 0; i < NELEM; i++) {
		const struct element *el = &elements[i];
		const fbInfoElement_t *ie = fbInfoModelGetElementByName(e->model, el->name);
		bool str = el->type == FB_STRING;

		if (!ie || ie->ent != el->pen || ie->num != el->id || ie->type != el->type ||
		    (str ? el->size != sizeof(fbVarfield_t) : ie->len != el->size) || el->off < at) {
			snprintf(err, errlen, "IPFIX export: element %s does not match libfixbuf's", el->name);
			return -1;
		}
		if (el->off > at)
			e->spec_int[ni++] = (fbInfoElementSpec_t){ (char *)"paddingOctets",
								   (uint16_t)(el->off - at), 0 };
		e->spec_int[ni++] = (fbInfoElementSpec_t){ (char *)el->name, str ? FB_IE_VARLEN : ie->len,
							   el->in };
		e->spec_ext[ne++] = e->spec_int[ni - 1];
		at = el->off + el->size;
	}
	if (sizeof(struct rec) > at)
		e->spec_int[ni++] = (fbInfoElementSpec_t){ (char *)"paddingOctets",
							   (uint16_t)(sizeof(struct rec) - at), 0 };
	e->spec_int[ni] = (fbInfoElementSpec_t)FB_IESPEC_NULL;
	e->spec_ext[ne] = (fbInfoElementSpec_t)FB_IESPEC_NULL;
	return 0;
}

struct fr_ipfix_exporter *fr_ipfix_exporter_new(const char *spec, uint32_t domain, char *err,
						size_t errlen)
{
	struct fr_ipfix_exporter *e = calloc(1, sizeof(*e));

	if (!e) {
		snprintf(err, errlen, "IPFIX export: out of memory");
		goto fail;
	}
	e->fd = -1;
	e->domain = domain;
	if (fr_ipfix_parse_collector(spec, &e->tcp, e->host, sizeof(e->host), e->port, sizeof(e->port),
				     err, errlen))
		goto fail;
	e->msg_max = e->tcp ? TCP_MSG_MAX : UDP_MSG_MAX;
	if (init_model(e, err, errlen))
		goto fail;
	return e;
fail:
	fr_ipfix_exporter_free(e);
	return NULL;
}

int fr_ipfix_export(struct fr_ipfix_exporter *e, const struct fr_ipfix_flow *f)
{
	GError *gerr = NULL;
	const uint8_t *src = f->inbound ? f->raddr : f->laddr, *dst = f->inbound ? f->laddr : f->raddr;
	uint16_t tid = f->family == 6 ? TID_V6 : TID_V4;
	struct rec r;
	int rc = -1;

	if ((f->family != 4 && f->family != 6) || bring_up(e))
		goto cleanup;
	memset(&r, 0, sizeof(r));
	r.flow_id = f->flow_id;
	r.start = ntp_from_unix_ns(f->start_ns);
	r.end = ntp_from_unix_ns(f->end_ns);
	r.start_ms = f->start_ns > 0 ? (uint64_t)f->start_ns / 1000000 : 0;
	r.end_ms = f->end_ns > 0 ? (uint64_t)f->end_ns / 1000000 : 0;
	if (f->family == 4) {
		r.sip4 = load_be32(src);
		r.dip4 = load_be32(dst);
	} else {
		memcpy(r.sip6, src, 16);
		memcpy(r.dip6, dst, 16);
	}
	r.sport = f->inbound ? f->rport : f->lport;
	r.dport = f->inbound ? f->lport : f->rport;
	r.proto = f->proto;
	r.end_reason = f->end_reason;
	r.fw_event = f->firewall_event;
	r.bytes_delta = f->inbound ? f->delta_bytes_in : f->delta_bytes_out;
	r.packets_delta = f->inbound ? f->delta_packets_in : f->delta_packets_out;
	r.bytes_total = f->inbound ? f->bytes_in : f->bytes_out;
	r.packets_total = f->inbound ? f->packets_in : f->packets_out;
	r.rbytes_delta = f->inbound ? f->delta_bytes_out : f->delta_bytes_in;
	r.rpackets_delta = f->inbound ? f->delta_packets_out : f->delta_packets_in;
	r.rbytes_total = f->inbound ? f->bytes_out : f->bytes_in;
	r.rpackets_total = f->inbound ? f->packets_out : f->packets_in;
	r.ntop_pid = r.pid = f->pid;
	r.ntop_uid = r.uid = f->uid;
	r.tid = f->tid;
	set_string(&r.comm, e->comm, f->comm, sizeof(f->comm));
	r.ntop_name = r.comm;
	set_string(&r.exe, e->exe, f->exe, sizeof(f->exe));
	set_string(&r.container, e->container, f->container, sizeof(f->container));
	set_string(&r.rname, e->rname, f->rname, sizeof(f->rname));
	set_string(&r.rule, e->rule, f->rule, sizeof(f->rule));
	r.cgroup = f->cgroup_id;
	r.netns = f->netns;
	if (e->cur_tid != tid) {
		if (!fBufSetInternalTemplate(e->fbuf, TID_REC, &gerr) ||
		    !fBufSetExportTemplate(e->fbuf, tid, &gerr)) {
			teardown(e);
			goto cleanup;
		}
		e->cur_tid = tid;
	}
	if (put(e, PUT_RECORD, &r))
		goto cleanup;
	e->msg_records++;
	rc = 0;
cleanup:
	g_clear_error(&gerr);
	return rc;
}

int fr_ipfix_flush(struct fr_ipfix_exporter *e, int64_t now_ns, uint64_t *lost)
{
	uint64_t n;

	e->now = now_ns;
	e->have_now = true;
	if (e->attempt_unstamped) {
		e->last_attempt = now_ns;
		e->attempt_unstamped = false;
	}
	if (e->tmpl_unstamped) {
		e->tmpl_time = now_ns;
		e->tmpl_unstamped = false;
	}
	bring_up(e);
	if (e->fbuf) {
		fBufSetExportTime(e->fbuf, (uint32_t)(now_ns / NS_PER_S));
		emit(e);
		/* After the data, in messages of their own: the collector has the templates
		 * this message used, and those that follow use them again. */
		if (e->fbuf && !e->tcp &&
		    (now_ns - e->tmpl_time >= TEMPLATE_REFRESH_NS || now_ns < e->tmpl_time))
			send_templates(e);
	}
	n = e->lost_pending;
	e->lost_pending = 0;
	if (lost)
		*lost = n;
	return n || !e->fbuf ? -1 : 0;
}

void fr_ipfix_exporter_free(struct fr_ipfix_exporter *e)
{
	struct timespec ts;

	if (!e)
		return;
	if (e->fbuf) {
		clock_gettime(CLOCK_REALTIME, &ts);
		fr_ipfix_flush(e, e->have_now ? e->now : (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec, NULL);
	}
	teardown(e);
	if (e->model)
		fbInfoModelFree(e->model);
	free(e);
}

/* FNV-1a: stable across runs and builds, which is all a domain id needs. */
static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

uint32_t fr_ipfix_default_domain(void)
{
	char buf[256];
	size_t n = 0;
	FILE *f = fopen("/etc/machine-id", "re");

	if (f) {
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
			n--;
	}
	if (!n && gethostname(buf, sizeof(buf)) == 0) {
		buf[sizeof(buf) - 1] = 0;
		n = strlen(buf);
	}
	/* 0 is a valid id, but some collectors read it as "none". */
	return fnv1a(buf, n) ? fnv1a(buf, n) : 1;
}
