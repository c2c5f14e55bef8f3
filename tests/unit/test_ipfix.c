/*
 * Unit tests for lib/ipfix.c. Records go to a UDP collector on 127.0.0.1 (a port bound
 * here) and are decoded by libfixbuf's collecting side, into a layout of this file's own:
 * every field, the RFC 5103 orientation of an outgoing and an incoming flow, the exact NTP
 * timestamps and the nanoseconds they give back, the ntop and flowrec process elements, and
 * the flowrec elements as the collector learnt them from the RFC 5610 type records. Then the
 * message sizes under the MTU, the UDP template refresh at 60 s of now_ns and not before,
 * TCP: no collector, no retry within 5 s, the reconnection after, a collector that goes
 * away; and the collector spec parser's answers, with its exact error messages.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fixbuf/public.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ipfix.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NS 1000000000LL

/* Flushes happen at T (2023-11-14T22:13:30Z) and later. */
#define T (1700000010LL * NS)

/* The exporter's external template ids. */
#define TID_V4 256
#define TID_V6 257

/*
 * Datagrams and messages
 */

struct dgram {
	uint8_t b[65536];
	size_t len;
};

static struct dgram dgrams[64];

static int udp_collector(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A TCP socket bound to a port of 127.0.0.1 and not listening: connections to it are
 * refused until listen(). */
static int tcp_bound(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Every datagram the exporter sent, into dgrams from index at on; returns how many. The
 * sends are done when flush returns, so whatever is not queued by then never comes. */
static int recv_all_from(int fd, int at)
{
	int n = at;

	while (n < (int)ARRAY_LEN(dgrams) && readable(fd, n > at ? 50 : 500)) {
		ssize_t r = recv(fd, dgrams[n].b, sizeof(dgrams[n].b), 0);

		assert_true(r >= 0);
		dgrams[n++].len = (size_t)r;
	}
	assert_false(readable(fd, 0));
	return n - at;
}

static int recv_all(int fd)
{
	return recv_all_from(fd, 0);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* A whole IPFIX message of len bytes, checked down to its sets; returns how many sets have
 * the id set_id. */
static int count_sets(const uint8_t *m, size_t len, uint16_t set_id)
{
	size_t off = 16;
	int n = 0;

	assert_true(len >= 16);
	assert_int_equal(get16(m), 10);
	assert_int_equal(get16(m + 2), len);
	while (off < len) {
		uint16_t id = get16(m + off), sl = get16(m + off + 2);

		assert_true(off + 4 <= len);
		assert_true(sl >= 4 && off + sl <= len);
		if (id == set_id)
			n++;
		off += sl;
	}
	return n;
}

static int count_sets_all(int ndg, uint16_t set_id)
{
	int n = 0;

	for (int i = 0; i < ndg; i++)
		n += count_sets(dgrams[i].b, dgrams[i].len, set_id);
	return n;
}

/* Every datagram: one message of at most 1400 bytes, observation domain domain, exported at
 * now (seconds). */
static void check_headers(int ndg, uint32_t domain, int64_t now)
{
	for (int i = 0; i < ndg; i++) {
		assert_true(dgrams[i].len <= 1400);
		count_sets(dgrams[i].b, dgrams[i].len, 0);
		assert_int_equal(get32(dgrams[i].b + 4), (uint32_t)(now / NS));
		assert_int_equal(get32(dgrams[i].b + 12), domain);
	}
}

/* What the first flush at T sends: the type template (a set 3) alone, the type records,
 * then both record templates in a set 2; no data. */
static int first_templates(int fd, uint32_t domain)
{
	int ndg = recv_all(fd);

	check_headers(ndg, domain, T);
	assert_int_equal(ndg, 3);
	assert_int_equal(count_sets(dgrams[0].b, dgrams[0].len, 3), 1);
	assert_int_equal(count_sets(dgrams[1].b, dgrams[1].len, 258), 1);
	assert_int_equal(count_sets(dgrams[2].b, dgrams[2].len, 2), 1);
	assert_int_equal(count_sets_all(ndg, TID_V4) + count_sets_all(ndg, TID_V6), 0);
	return ndg;
}

/*
 * The collecting side
 */

/* This file's record layout, independent of the exporter's: what a collector would write. */
struct got {
	uint64_t flow_id, start, end, start_ms, end_ms;
	uint64_t oct_d, pkt_d, oct_t, pkt_t, roct_d, rpkt_d, roct_t, rpkt_t;
	uint64_t cgroup, netns;
	fbVarfield_t ntop_name, comm, exe, container, dns, rule;
	uint8_t sip6[16], dip6[16];
	uint32_t sip4, dip4, ntop_pid, ntop_uid, pid, tid, uid;
	uint16_t sport, dport;
	uint8_t proto, reason, fw;
	uint8_t pad[5];
};
_Static_assert(sizeof(struct got) == 288, "no implicit padding in struct got");

static fbInfoElementSpec_t got_spec[] = {
	{ "flowId", 8, 0 },
	{ "flowStartNanoseconds", 8, 0 },
	{ "flowEndNanoseconds", 8, 0 },
	{ "flowStartMilliseconds", 8, 0 },
	{ "flowEndMilliseconds", 8, 0 },
	{ "octetDeltaCount", 8, 0 },
	{ "packetDeltaCount", 8, 0 },
	{ "octetTotalCount", 8, 0 },
	{ "packetTotalCount", 8, 0 },
	{ "reverseOctetDeltaCount", 8, 0 },
	{ "reversePacketDeltaCount", 8, 0 },
	{ "reverseOctetTotalCount", 8, 0 },
	{ "reversePacketTotalCount", 8, 0 },
	{ "flowrecCgroupId", 8, 0 },
	{ "flowrecNetnsInode", 8, 0 },
	{ "SRC_PROC_NAME", FB_IE_VARLEN, 0 },
	{ "flowrecCommand", FB_IE_VARLEN, 0 },
	{ "flowrecExecutable", FB_IE_VARLEN, 0 },
	{ "flowrecContainerId", FB_IE_VARLEN, 0 },
	{ "flowrecDnsName", FB_IE_VARLEN, 0 },
	{ "flowrecPolicyRule", FB_IE_VARLEN, 0 },
	{ "sourceIPv6Address", 16, 0 },
	{ "destinationIPv6Address", 16, 0 },
	{ "sourceIPv4Address", 4, 0 },
	{ "destinationIPv4Address", 4, 0 },
	{ "SRC_PROC_PID", 4, 0 },
	{ "SRC_PROC_UID", 4, 0 },
	{ "flowrecProcessId", 4, 0 },
	{ "flowrecThreadId", 4, 0 },
	{ "flowrecUserId", 4, 0 },
	{ "sourceTransportPort", 2, 0 },
	{ "destinationTransportPort", 2, 0 },
	{ "protocolIdentifier", 1, 0 },
	{ "flowEndReason", 1, 0 },
	{ "firewallEvent", 1, 0 },
	{ "paddingOctets", 5, 0 },
	FB_IESPEC_NULL,
};

/* ntop's elements as an ntop-aware collector knows them: nothing describes them on the wire. */
static fbInfoElement_t ntop_elements[] = {
	FB_IE_INIT_FULL("SRC_PROC_PID", FR_IPFIX_PEN_NTOP, 168, 4, FB_IE_F_ENDIAN, 0, 0, FB_UINT_32, NULL),
	FB_IE_INIT_FULL("SRC_PROC_NAME", FR_IPFIX_PEN_NTOP, 169, FB_IE_VARLEN, 0, 0, 0, FB_STRING, NULL),
	FB_IE_INIT_FULL("SRC_PROC_UID", FR_IPFIX_PEN_NTOP, 425, 4, FB_IE_F_ENDIAN, 0, 0, FB_UINT_32, NULL),
	FB_IE_NULL,
};

struct decoded {
	struct got g;
	char ntop_name[300], comm[300], exe[300], container[300], dns[300], rule[300];
};

struct decoder {
	fbInfoModel_t *model;
	fBuf_t *fbuf;
	bool full;   /* got_spec is the internal template (the flowrec elements are known) */
	int early;   /* data records read before that */
	struct decoded recs[64];
	int n;
};

#define TID_GOT_MIN 0x9000
#define TID_GOT 0x9001

static void add_internal(struct decoder *d, uint16_t tid, fbInfoElementSpec_t *spec)
{
	fbTemplate_t *t = fbTemplateAlloc(d->model);
	GError *gerr = NULL;

	if (!fbTemplateAppendSpecArray(t, spec, UINT32_MAX, &gerr))
		fail_msg("template: %s", gerr->message);
	if (!fbSessionAddTemplate(fBufGetSession(d->fbuf), TRUE, tid, t, &gerr))
		fail_msg("add template: %s", gerr->message);
	if (!fBufSetInternalTemplate(d->fbuf, tid, &gerr))
		fail_msg("set template: %s", gerr->message);
}

static void decoder_init(struct decoder *d)
{
	static fbInfoElementSpec_t min_spec[] = { { "flowId", 8, 0 }, FB_IESPEC_NULL };
	GError *gerr = NULL;

	memset(d, 0, sizeof(*d));
	d->model = fbInfoModelAlloc();
	fbInfoModelAddElementArray(d->model, ntop_elements);
	d->fbuf = fBufAllocForCollection(fbSessionAlloc(d->model), NULL);
	fBufSetAutomaticMode(d->fbuf, FALSE);
	/* The flowrec elements come from the type records, or not at all. */
	if (!fBufSetAutomaticInsert(d->fbuf, &gerr))
		fail_msg("automatic insert: %s", gerr->message);
	add_internal(d, TID_GOT_MIN, min_spec);
}

static void decoder_free(struct decoder *d)
{
	fBufFree(d->fbuf);
	fbInfoModelFree(d->model);
}

static void copy_var(char *dst, const fbVarfield_t *v)
{
	assert_true(v->len < 300);
	if (v->len)
		memcpy(dst, v->buf, v->len);
	dst[v->len] = '\0';
}

static void decode(struct decoder *d, uint8_t *m, size_t len)
{
	GError *gerr = NULL;

	if (!d->full && fbInfoModelGetElementByName(d->model, "flowrecPolicyRule")) {
		add_internal(d, TID_GOT, got_spec);
		d->full = true;
	}
	fBufSetBuffer(d->fbuf, m, len);
	for (;;) {
		struct got g;
		size_t sz = sizeof(g);
		struct decoded *r;

		memset(&g, 0, sizeof(g));
		if (!fBufNext(d->fbuf, (uint8_t *)&g, &sz, &gerr)) {
			if (!g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM) &&
			    !g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_BUFSZ))
				fail_msg("fBufNext: %s", gerr->message);
			g_clear_error(&gerr);
			return;
		}
		if (!d->full) {
			d->early++;
			continue;
		}
		assert_true(d->n < (int)ARRAY_LEN(d->recs));
		r = &d->recs[d->n++];
		r->g = g;
		copy_var(r->ntop_name, &g.ntop_name);
		copy_var(r->comm, &g.comm);
		copy_var(r->exe, &g.exe);
		copy_var(r->container, &g.container);
		copy_var(r->dns, &g.dns);
		copy_var(r->rule, &g.rule);
	}
}

static void decode_all(struct decoder *d, int ndg)
{
	for (int i = 0; i < ndg; i++)
		decode(d, dgrams[i].b, dgrams[i].len);
	assert_int_equal(d->early, 0);
}

/* What the collector's ns time is: the NTP fraction rounded to the nearest ns. */
static int64_t unix_ns(uint64_t ntp)
{
	int64_t sec = (int64_t)(ntp >> 32) - 2208988800LL;

	return sec * NS + (int64_t)(((ntp & 0xffffffffu) * (uint64_t)NS + (1u << 31)) >> 32);
}

/*
 * Records
 */

static void set_addr(uint8_t *a, int family, const char *s)
{
	memset(a, 0, 16);
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, s, a), 1);
}

/* An outgoing TCP connection over IPv4, with no container, DNS name or rule. */
static struct fr_ipfix_flow flow_v4(void)
{
	struct fr_ipfix_flow f;

	memset(&f, 0, sizeof(f));
	f.flow_id = 41;
	f.start_ns = 1700000000123456789LL;
	f.end_ns = 1700000005999999999LL;
	f.family = 4;
	f.proto = 6;
	f.inbound = false;
	f.end_reason = FR_IPFIX_END_FLOW;
	f.firewall_event = FR_IPFIX_FW_NONE;
	set_addr(f.laddr, 4, "192.0.2.1");
	set_addr(f.raddr, 4, "198.51.100.7");
	f.lport = 40000;
	f.rport = 443;
	f.bytes_out = 1000;
	f.bytes_in = 5000;
	f.packets_out = 10;
	f.packets_in = 20;
	f.delta_bytes_out = 100;
	f.delta_bytes_in = 500;
	f.delta_packets_out = 1;
	f.delta_packets_in = 2;
	f.pid = 1234;
	f.tid = 1240;
	f.uid = 1000;
	f.cgroup_id = 0x1234567890ULL;
	f.netns = 4026531840ULL;
	strcpy(f.comm, "curl");
	strcpy(f.exe, "/usr/bin/curl");
	return f;
}

/* An incoming UDP flow over IPv6 that a policy rule denied, every string set (the exe with
 * a byte that is not UTF-8). */
static struct fr_ipfix_flow flow_v6(void)
{
	struct fr_ipfix_flow f;

	memset(&f, 0, sizeof(f));
	f.flow_id = 42;
	f.start_ns = 1700000100000000001LL;
	f.end_ns = 1700000100500000000LL;
	f.family = 6;
	f.proto = 17;
	f.inbound = true;
	f.end_reason = FR_IPFIX_END_ACTIVE;
	f.firewall_event = FR_IPFIX_FW_DENIED;
	set_addr(f.laddr, 6, "2001:db8::1");
	set_addr(f.raddr, 6, "2001:db8:0:7::2");
	f.lport = 53;
	f.rport = 5353;
	f.bytes_out = 7000;
	f.bytes_in = 3000;
	f.packets_out = 70;
	f.packets_in = 30;
	f.delta_bytes_out = 700;
	f.delta_bytes_in = 300;
	f.delta_packets_out = 7;
	f.delta_packets_in = 3;
	f.pid = 77;
	f.tid = 78;
	f.uid = 101;
	f.cgroup_id = 98765;
	f.netns = 4026532000ULL;
	strcpy(f.comm, "dnsmasq");
	strcpy(f.exe, "/usr/sbin/dnsmasq\xff");
	strcpy(f.container, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	strcpy(f.rname, "peer.example.com");
	strcpy(f.rule, "no-mdns-in");
	return f;
}

static struct fr_ipfix_exporter *exporter(const char *proto, uint16_t port, uint32_t domain)
{
	char spec[64], err[256];
	struct fr_ipfix_exporter *e;

	snprintf(spec, sizeof(spec), "%s127.0.0.1:%u", proto, port);
	e = fr_ipfix_exporter_new(spec, domain, err, sizeof(err));
	if (!e)
		fail_msg("%s: %s", spec, err);
	return e;
}

static void test_udp_records(void **state)
{
	static const uint8_t ntp_start_v4[8] = { 0xe8, 0xfe, 0x6f, 0x80, 0x1f, 0x9a, 0xdd, 0x37 };
	struct fr_ipfix_flow f4 = flow_v4(), f6 = flow_v6();
	struct fr_ipfix_exporter *e;
	struct decoder *d = malloc(sizeof(*d));
	const struct decoded *a, *b;
	uint8_t ip6[16];
	uint64_t lost = 99;
	uint16_t port;
	int fd = udp_collector(&port), ndg, found = 0;

	(void)state;
	assert_non_null(d);
	e = exporter("", port, 7);
	/* Nothing is sent before the first flush (or export) sets the exporter up. */
	assert_false(readable(fd, 0));
	assert_int_equal(fr_ipfix_flush(e, T, &lost), 0);
	assert_int_equal(lost, 0);
	ndg = first_templates(fd, 7);
	assert_int_equal(fr_ipfix_export(e, &f4), 0);
	assert_int_equal(fr_ipfix_export(e, &f6), 0);
	assert_int_equal(fr_ipfix_flush(e, T, &lost), 0);
	assert_int_equal(lost, 0);
	ndg += recv_all_from(fd, ndg);
	check_headers(ndg, 7, T);
	assert_int_equal(count_sets_all(ndg, TID_V4), 1);
	assert_int_equal(count_sets_all(ndg, TID_V6), 1);
	/* dateTimeNanoseconds on the wire: NTP seconds, then the fraction, big-endian. */
	for (int i = 0; i < ndg; i++)
		if (memmem(dgrams[i].b, dgrams[i].len, ntp_start_v4, sizeof(ntp_start_v4)))
			found++;
	assert_int_equal(found, 1);

	decoder_init(d);
	decode_all(d, ndg);
	assert_int_equal(d->n, 2);
	a = &d->recs[0];
	b = &d->recs[1];

	/* Outgoing: the source is this host, forward counters are what it sent. */
	assert_int_equal(a->g.flow_id, 41);
	assert_int_equal(a->g.start, 0xe8fe6f801f9add37ULL);
	assert_int_equal(a->g.end, 0xe8fe6f85fffffffcULL);
	assert_int_equal(unix_ns(a->g.start), f4.start_ns);
	assert_int_equal(unix_ns(a->g.end), f4.end_ns);
	assert_int_equal(a->g.start_ms, f4.start_ns / 1000000);
	assert_int_equal(a->g.end_ms, f4.end_ns / 1000000);
	assert_int_equal(a->g.sip4, 0xc0000201u);
	assert_int_equal(a->g.dip4, 0xc6336407u);
	memset(ip6, 0, sizeof(ip6));
	assert_memory_equal(a->g.sip6, ip6, 16);
	assert_memory_equal(a->g.dip6, ip6, 16);
	assert_int_equal(a->g.sport, 40000);
	assert_int_equal(a->g.dport, 443);
	assert_int_equal(a->g.proto, 6);
	assert_int_equal(a->g.reason, FR_IPFIX_END_FLOW);
	assert_int_equal(a->g.fw, FR_IPFIX_FW_NONE);
	assert_int_equal(a->g.oct_d, 100);
	assert_int_equal(a->g.pkt_d, 1);
	assert_int_equal(a->g.oct_t, 1000);
	assert_int_equal(a->g.pkt_t, 10);
	assert_int_equal(a->g.roct_d, 500);
	assert_int_equal(a->g.rpkt_d, 2);
	assert_int_equal(a->g.roct_t, 5000);
	assert_int_equal(a->g.rpkt_t, 20);
	assert_int_equal(a->g.ntop_pid, 1234);
	assert_int_equal(a->g.ntop_uid, 1000);
	assert_string_equal(a->ntop_name, "curl");
	assert_int_equal(a->g.pid, 1234);
	assert_int_equal(a->g.tid, 1240);
	assert_int_equal(a->g.uid, 1000);
	assert_string_equal(a->comm, "curl");
	assert_string_equal(a->exe, "/usr/bin/curl");
	assert_string_equal(a->container, "");
	assert_string_equal(a->dns, "");
	assert_string_equal(a->rule, "");
	assert_int_equal(a->g.cgroup, 0x1234567890ULL);
	assert_int_equal(a->g.netns, 4026531840ULL);

	/* Incoming: the source is the peer, forward counters are what this host received; the
	 * process elements still describe the local process. */
	assert_int_equal(b->g.flow_id, 42);
	assert_int_equal(b->g.start, 0xe8fe6fe400000004ULL);
	assert_int_equal(b->g.end, 0xe8fe6fe480000000ULL);
	assert_int_equal(unix_ns(b->g.start), f6.start_ns);
	assert_int_equal(unix_ns(b->g.end), f6.end_ns);
	assert_memory_equal(b->g.sip6, f6.raddr, 16);
	assert_memory_equal(b->g.dip6, f6.laddr, 16);
	assert_int_equal(b->g.sip4, 0);
	assert_int_equal(b->g.dip4, 0);
	assert_int_equal(b->g.sport, 5353);
	assert_int_equal(b->g.dport, 53);
	assert_int_equal(b->g.proto, 17);
	assert_int_equal(b->g.reason, FR_IPFIX_END_ACTIVE);
	assert_int_equal(b->g.fw, FR_IPFIX_FW_DENIED);
	assert_int_equal(b->g.oct_d, 300);
	assert_int_equal(b->g.pkt_d, 3);
	assert_int_equal(b->g.oct_t, 3000);
	assert_int_equal(b->g.pkt_t, 30);
	assert_int_equal(b->g.roct_d, 700);
	assert_int_equal(b->g.rpkt_d, 7);
	assert_int_equal(b->g.roct_t, 7000);
	assert_int_equal(b->g.rpkt_t, 70);
	assert_int_equal(b->g.ntop_pid, 77);
	assert_int_equal(b->g.ntop_uid, 101);
	assert_string_equal(b->ntop_name, "dnsmasq");
	assert_int_equal(b->g.pid, 77);
	assert_int_equal(b->g.tid, 78);
	assert_int_equal(b->g.uid, 101);
	assert_string_equal(b->comm, "dnsmasq");
	assert_string_equal(b->exe, "/usr/sbin/dnsmasq?");
	assert_string_equal(b->container, f6.container);
	assert_string_equal(b->dns, "peer.example.com");
	assert_string_equal(b->rule, "no-mdns-in");
	assert_int_equal(b->g.cgroup, 98765);
	assert_int_equal(b->g.netns, 4026532000ULL);

	/* The collector learnt flowrec's elements, numbered 1..10, from the type records. */
	{
		static const struct {
			const char *name;
			uint8_t type;
		} want[] = {
			{ "flowrecProcessId", FB_UINT_32 },   { "flowrecThreadId", FB_UINT_32 },
			{ "flowrecUserId", FB_UINT_32 },      { "flowrecCommand", FB_STRING },
			{ "flowrecExecutable", FB_STRING },   { "flowrecContainerId", FB_STRING },
			{ "flowrecCgroupId", FB_UINT_64 },    { "flowrecNetnsInode", FB_UINT_64 },
			{ "flowrecDnsName", FB_STRING },      { "flowrecPolicyRule", FB_STRING },
		};

		for (size_t i = 0; i < ARRAY_LEN(want); i++) {
			const fbInfoElement_t *ie = fbInfoModelGetElementByName(d->model, want[i].name);

			assert_non_null(ie);
			assert_int_equal(ie->ent, FR_IPFIX_PEN_FLOWREC);
			assert_int_equal(ie->num, i + 101); /* past the ids pmacct reads as its own (1, 2) */
			assert_int_equal(ie->type, want[i].type);
			assert_non_null(ie->description);
			assert_true(strlen(ie->description) > 10);
		}
	}

	decoder_free(d);
	free(d);
	fr_ipfix_exporter_free(e);
	close(fd);
}

/* Records with every string as long as it can be, more than a message holds: each message
 * stays under 1400 bytes and every record arrives. */
static void test_udp_full_messages(void **state)
{
	struct fr_ipfix_flow f = flow_v6();
	struct fr_ipfix_exporter *e;
	struct decoder *d = malloc(sizeof(*d));
	uint64_t lost = 99;
	uint16_t port;
	int fd = udp_collector(&port), ndg;

	(void)state;
	assert_non_null(d);
	memset(f.comm, 'c', sizeof(f.comm) - 1);
	memset(f.exe, 'e', sizeof(f.exe) - 1);
	memset(f.container, 'f', sizeof(f.container) - 1);
	memset(f.rname, 'n', sizeof(f.rname) - 1);
	memset(f.rule, 'r', sizeof(f.rule) - 1);
	e = exporter("udp:", port, 1);
	assert_int_equal(fr_ipfix_flush(e, T, &lost), 0);
	ndg = first_templates(fd, 1);
	for (int i = 0; i < 20; i++) {
		f.flow_id = 1000 + (uint64_t)i;
		assert_int_equal(fr_ipfix_export(e, &f), 0);
	}
	assert_int_equal(fr_ipfix_flush(e, T, &lost), 0);
	assert_int_equal(lost, 0);
	ndg += recv_all_from(fd, ndg);
	check_headers(ndg, 1, T);
	assert_int_equal(ndg, 23); /* one 840-byte record a message */
	assert_int_equal(count_sets_all(ndg, TID_V6), 20);
	decoder_init(d);
	decode_all(d, ndg);
	assert_int_equal(d->n, 20);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(d->recs[i].g.flow_id, 1000 + (uint64_t)i);
		assert_int_equal(strlen(d->recs[i].exe), 255);
		assert_int_equal(strlen(d->recs[i].dns), 255);
		assert_int_equal(strlen(d->recs[i].container), 64);
		assert_int_equal(strlen(d->recs[i].rule), 63);
		assert_string_equal(d->recs[i].comm, "ccccccccccccccc");
	}
	decoder_free(d);
	free(d);
	fr_ipfix_exporter_free(e);
	close(fd);
}

/* Export one record and flush at now; the datagrams in dgrams, their number returned. */
static int round_trip(struct fr_ipfix_exporter *e, int fd, int64_t now)
{
	struct fr_ipfix_flow f = flow_v4();
	uint64_t lost = 99;
	int ndg;

	assert_int_equal(fr_ipfix_export(e, &f), 0);
	assert_int_equal(fr_ipfix_flush(e, now, &lost), 0);
	assert_int_equal(lost, 0);
	ndg = recv_all(fd);
	check_headers(ndg, 3, now);
	return ndg;
}

static void test_udp_template_refresh(void **state)
{
	struct fr_ipfix_exporter *e;
	uint64_t lost = 99;
	uint16_t port;
	int fd = udp_collector(&port), ndg;

	(void)state;
	e = exporter("udp:", port, 3);
	assert_int_equal(fr_ipfix_flush(e, T, &lost), 0);
	first_templates(fd, 3);
	ndg = round_trip(e, fd, T);
	assert_int_equal(ndg, 1);
	assert_int_equal(count_sets_all(ndg, 2), 0);
	assert_int_equal(count_sets_all(ndg, TID_V4), 1);

	ndg = round_trip(e, fd, T + 60 * NS - 1);
	assert_int_equal(ndg, 1);
	assert_int_equal(count_sets_all(ndg, 2), 0);
	assert_int_equal(count_sets_all(ndg, 3), 0);
	assert_int_equal(count_sets_all(ndg, TID_V4), 1);

	/* Due: the data first, then the templates (type records too) in messages of their own. */
	ndg = round_trip(e, fd, T + 60 * NS);
	assert_int_equal(count_sets_all(ndg, 2), 1);
	assert_int_equal(count_sets_all(ndg, 3), 1);
	assert_int_equal(count_sets_all(ndg, TID_V4), 1);
	assert_int_equal(count_sets(dgrams[0].b, dgrams[0].len, TID_V4), 1);

	ndg = round_trip(e, fd, T + 61 * NS);
	assert_int_equal(count_sets_all(ndg, 2), 0);

	/* With nothing to send, the refresh still goes. */
	assert_int_equal(fr_ipfix_flush(e, T + 119 * NS, &lost), 0);
	assert_int_equal(recv_all(fd), 0);
	assert_int_equal(fr_ipfix_flush(e, T + 120 * NS, &lost), 0);
	assert_int_equal(lost, 0);
	ndg = recv_all(fd);
	check_headers(ndg, 3, T + 120 * NS);
	assert_int_equal(count_sets_all(ndg, 2), 1);
	assert_int_equal(count_sets_all(ndg, TID_V4), 0);

	fr_ipfix_exporter_free(e);
	close(fd);
}

/* Bytes from a TCP connection until it has been quiet for a while; returns how many. */
static size_t read_stream(int fd, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	while (n < cap && readable(fd, n ? 100 : 1000)) {
		ssize_t r = recv(fd, buf + n, cap - n, 0);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	return n;
}

/* The messages of a TCP stream, checked whole; the number of sets with id set_id. */
static int stream_sets(const uint8_t *buf, size_t len, uint16_t set_id)
{
	size_t off = 0;
	int n = 0;

	while (off < len) {
		size_t ml;

		assert_true(off + 4 <= len);
		ml = get16(buf + off + 2);
		assert_true(ml >= 16 && off + ml <= len);
		n += count_sets(buf + off, ml, set_id);
		off += ml;
	}
	return n;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_tcp_reconnect(void **state)
{
	static uint8_t buf[1 << 16];
	struct fr_ipfix_flow f = flow_v4();
	struct fr_ipfix_exporter *e;
	uint64_t lost = 99;
	uint16_t port;
	int ls = tcp_bound(&port), c, rc_e = 0, rc_f = 0;
	int64_t t0;
	size_t n;

	(void)state;
	e = exporter("tcp:", port, 5);

	/* Refused: the first export tries, and fails at once. */
	t0 = mono_ms();
	assert_int_equal(fr_ipfix_export(e, &f), -1);
	assert_true(mono_ms() - t0 < 500);
	assert_int_equal(fr_ipfix_flush(e, T, &lost), -1);
	assert_int_equal(lost, 0);

	/* A collector now, but no new attempt until 5 s after the last. */
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(fr_ipfix_export(e, &f), -1);
	assert_int_equal(fr_ipfix_flush(e, T + 5 * NS - 1, &lost), -1);
	assert_int_equal(lost, 0);
	assert_false(readable(ls, 0));

	assert_int_equal(fr_ipfix_flush(e, T + 5 * NS, &lost), 0);
	assert_int_equal(lost, 0);
	assert_true(readable(ls, 1000));
	c = accept(ls, NULL, NULL);
	assert_true(c >= 0);
	assert_int_equal(fr_ipfix_export(e, &f), 0);
	assert_int_equal(fr_ipfix_flush(e, T + 5 * NS, &lost), 0);
	n = read_stream(c, buf, sizeof(buf));
	assert_true(n >= 16);
	assert_int_equal(buf[0], 0x00);
	assert_int_equal(buf[1], 0x0a);
	assert_int_equal(stream_sets(buf, n, 3), 1);
	assert_int_equal(stream_sets(buf, n, 2), 1);
	assert_int_equal(stream_sets(buf, n, TID_V4), 1);
	assert_int_equal(get32(buf + 12), 5);

	/* The collector goes away: the record sent after that is lost, and counted. */
	close(c);
	for (int i = 0; i < 3; i++) {
		rc_e = fr_ipfix_export(e, &f);
		rc_f = fr_ipfix_flush(e, T + 6 * NS, &lost);
		if (rc_f)
			break;
	}
	assert_int_equal(rc_f, -1);
	assert_int_equal(lost, rc_e ? 0 : 1);
	assert_int_equal(fr_ipfix_export(e, &f), -1);
	assert_int_equal(fr_ipfix_flush(e, T + 9 * NS, &lost), -1);
	assert_false(readable(ls, 0));

	/* Back 5 s after the last attempt, with the templates again. */
	assert_int_equal(fr_ipfix_flush(e, T + 10 * NS, &lost), 0);
	assert_true(readable(ls, 1000));
	c = accept(ls, NULL, NULL);
	assert_true(c >= 0);
	assert_int_equal(fr_ipfix_export(e, &f), 0);
	fr_ipfix_exporter_free(e); /* flushes */
	n = read_stream(c, buf, sizeof(buf));
	assert_int_equal(buf[0], 0x00);
	assert_int_equal(buf[1], 0x0a);
	assert_int_equal(stream_sets(buf, n, 2), 1);
	assert_int_equal(stream_sets(buf, n, TID_V4), 1);
	close(c);
	close(ls);
}

static void test_parse_collector(void **state)
{
	static const struct {
		const char *spec;
		bool tcp;
		const char *host, *port;
	} good[] = {
		{ "127.0.0.1:4739", false, "127.0.0.1", "4739" },
		{ "udp:collector.example:2055", false, "collector.example", "2055" },
		{ "tcp:10.1.2.3:4739", true, "10.1.2.3", "4739" },
		{ "[::1]:4739", false, "::1", "4739" },
		{ "udp:[::1]:9995", false, "::1", "9995" },
		{ "tcp:[2001:db8::1]:65535", true, "2001:db8::1", "65535" },
		{ "localhost:04739", false, "localhost", "4739" },
	};
	static const struct {
		const char *spec, *err;
	} bad[] = {
		{ "x", "bad IPFIX collector 'x': expected [udp:|tcp:]HOST:PORT" },
		{ "", "bad IPFIX collector '': expected [udp:|tcp:]HOST:PORT" },
		{ ":4739", "bad IPFIX collector ':4739': expected [udp:|tcp:]HOST:PORT" },
		{ "tcp:", "bad IPFIX collector 'tcp:': expected [udp:|tcp:]HOST:PORT" },
		{ "[::1]4739", "bad IPFIX collector '[::1]4739': expected [udp:|tcp:]HOST:PORT" },
		{ "host:", "bad IPFIX collector 'host:': port '' is not a number from 1 to 65535" },
		{ "host:0", "bad IPFIX collector 'host:0': port '0' is not a number from 1 to 65535" },
		{ "host:65536",
		  "bad IPFIX collector 'host:65536': port '65536' is not a number from 1 to 65535" },
		{ "host:ipfix",
		  "bad IPFIX collector 'host:ipfix': port 'ipfix' is not a number from 1 to 65535" },
		{ "::1:4739",
		  "bad IPFIX collector '::1:4739': an IPv6 address needs brackets, as in [::1]:4739" },
		{ "sctp:host:4739",
		  "bad IPFIX collector 'sctp:host:4739': unknown transport 'sctp' (udp or tcp)" },
		{ "[::1:4739", "bad IPFIX collector '[::1:4739': no ']' after the IPv6 address" },
		{ "[host]:4739", "bad IPFIX collector '[host]:4739': no IPv6 address in the brackets" },
		{ "x\033[2J", "bad IPFIX collector 'x?[2J': expected [udp:|tcp:]HOST:PORT" },
	};
	char host[64], port[8], err[256], small[4];
	bool tcp;

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		tcp = !good[i].tcp;
		err[0] = '\0';
		if (fr_ipfix_parse_collector(good[i].spec, &tcp, host, sizeof(host), port, sizeof(port),
					     err, sizeof(err)))
			fail_msg("%s: %s", good[i].spec, err);
		assert_int_equal(tcp, good[i].tcp);
		assert_string_equal(host, good[i].host);
		assert_string_equal(port, good[i].port);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		assert_int_equal(fr_ipfix_parse_collector(bad[i].spec, &tcp, host, sizeof(host), port,
							  sizeof(port), err, sizeof(err)),
				 -1);
		assert_string_equal(err, bad[i].err);
	}
	assert_int_equal(fr_ipfix_parse_collector("abcd:1", &tcp, small, sizeof(small), port,
						  sizeof(port), err, sizeof(err)),
			 -1);
	assert_string_equal(err, "bad IPFIX collector 'abcd:1': host name too long");
	assert_int_equal(fr_ipfix_parse_collector("abc:1", &tcp, small, sizeof(small), port,
						  sizeof(port), err, sizeof(err)),
			 0);
	assert_string_equal(small, "abc");

	/* The exporter refuses what the parser does, with the same words. */
	assert_null(fr_ipfix_exporter_new("tcp:", 1, err, sizeof(err)));
	assert_string_equal(err, "bad IPFIX collector 'tcp:': expected [udp:|tcp:]HOST:PORT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_records),
		cmocka_unit_test(test_udp_full_messages),
		cmocka_unit_test(test_udp_template_refresh),
		cmocka_unit_test(test_tcp_reconnect),
		cmocka_unit_test(test_parse_collector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
