/*
 * Unit tests for lib/dns.c: exact header, question, answers JSON and addresses for hand-made
 * messages (a query, a CNAME chain, NXDOMAIN, MX/TXT/SRV/PTR/NS/SOA, compression); records
 * that must fail without hanging or losing what came before (compression loops, pointers
 * past the end, names over 255 octets, RDLENGTH that disagrees with the rdata); every cut
 * of a valid response; JSON that stays valid when the answers overflow it; garbage; and
 * the mnemonic functions both ways.
 *
 * Every message is parsed from a heap copy of exactly its length, so that under ASan a
 * read past the end fails the test instead of reading a neighbour's bytes.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns.h"

#define U16(v) (uint8_t)((v) >> 8), (uint8_t)(v)
#define U32(v) (uint8_t)((uint32_t)(v) >> 24), (uint8_t)((uint32_t)(v) >> 16), \
	       (uint8_t)((uint32_t)(v) >> 8), (uint8_t)(v)
/* id, the two flag bytes, then QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT. */
#define HDR(id, f1, f2, qd, an, ns, ar) U16(id), f1, f2, U16(qd), U16(an), U16(ns), U16(ar)
#define EXAMPLE 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e'
#define COM 3, 'c', 'o', 'm'
#define IN U16(1)

#define T_A 1
#define T_NS 2
#define T_CNAME 5
#define T_SOA 6
#define T_PTR 12
#define T_MX 15
#define T_TXT 16
#define T_AAAA 28
#define T_SRV 33

static int parse_exact(const uint8_t *buf, size_t len, struct fr_dns_msg *m)
{
	uint8_t *c = malloc(len ? len : 1);
	int r;

	assert_non_null(c);
	if (len)
		memcpy(c, buf, len);
	r = fr_dns_parse(c, len, m);
	free(c);
	return r;
}

static struct fr_dns_msg *msg_new(void)
{
	struct fr_dns_msg *m = malloc(sizeof(*m));

	assert_non_null(m);
	return m;
}

/* A strict JSON checker (RFC 8259 grammar, ASCII only: the parser promises to escape the
 * rest). Returns the end of the value at p, or NULL. */
static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*p++;

		if (c == '"')
			return p;
		if (c < 0x20 || c >= 0x7f)
			return NULL;
		if (c == '\\') {
			c = (unsigned char)*p++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++)
					if (!isxdigit((unsigned char)*p++))
						return NULL;
			} else if (!c || !strchr("\"\\/bfnrt", c)) {
				return NULL;
			}
		}
	}
}

static const char *json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		if (*++p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

static const char *json_value(const char *p, int depth)
{
	char close;

	if (depth > 16)
		return NULL;
	p = json_ws(p);
	if (*p == '"')
		return json_string(p);
	if (*p == '-' || isdigit((unsigned char)*p))
		return json_number(p);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (*p != '[' && *p != '{')
		return NULL;
	close = *p == '[' ? ']' : '}';
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			p = json_string(json_ws(p));
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static void assert_json_array(const char *s)
{
	const char *end;

	if (s[0] != '[')
		fail_msg("not an array: %s", s);
	end = json_value(s, 0);
	if (!end || *json_ws(end))
		fail_msg("invalid JSON: %s", s);
}

/* Objects in the answers array: each starts with {"name": and no string holds that. */
static int json_records(const char *s)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, "{\"name\":")); p++)
		n++;
	return n;
}

/* ---- a query and a CNAME chain ---- */

static const uint8_t query_a[] = {
	HDR(0x1234, 0x01, 0x00, 1, 0, 0, 0), /* RD */
	EXAMPLE, COM, 0, U16(T_A), IN,
};

/* www.example.com -> example.com -> 93.184.216.34 and 2606:2800:220:1:248:1893:25c8:1946,
 * every name after the question a pointer into it. */
static const uint8_t cname_resp[] = {
	HDR(0x1234, 0x81, 0x80, 1, 3, 0, 0),
	/* 12 */ 3, 'w', 'w', 'w', /* 16 */ EXAMPLE, COM, 0, U16(T_A), IN,
	/* 33 */ 0xc0, 12, U16(T_CNAME), IN, U32(300), U16(2), 0xc0, 16,
	/* 47 */ 0xc0, 16, U16(T_A), IN, U32(60), U16(4), 93, 184, 216, 34,
	/* 63 */ 0xc0, 16, U16(T_AAAA), IN, U32(60), U16(16),
	0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01, 0x02, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46,
	/* 91 */
};
static const size_t cname_ends[] = { 47, 63, 91 };

#define CNAME_J0 "{\"name\":\"www.example.com\",\"type\":\"CNAME\",\"ttl\":300,\"data\":\"example.com\"}"
#define CNAME_J1 "{\"name\":\"example.com\",\"type\":\"A\",\"ttl\":60,\"data\":\"93.184.216.34\"}"
#define CNAME_J2 "{\"name\":\"example.com\",\"type\":\"AAAA\",\"ttl\":60," \
		 "\"data\":\"2606:2800:220:1:248:1893:25c8:1946\"}"
static const char *const cname_json[] = {
	"[]",
	"[" CNAME_J0 "]",
	"[" CNAME_J0 "," CNAME_J1 "]",
	"[" CNAME_J0 "," CNAME_J1 "," CNAME_J2 "]",
};

static const uint8_t v4[4] = { 93, 184, 216, 34 };
static const uint8_t v6[16] = { 0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01,
				0x02, 0x48, 0x18, 0x93, 0x25, 0xc8, 0x19, 0x46 };

static void test_query(void **state)
{
	struct fr_dns_msg *m = msg_new();
	char buf[32];

	(void)state;
	assert_int_equal(parse_exact(query_a, sizeof(query_a), m), 0);
	assert_int_equal(m->id, 0x1234);
	assert_int_equal(m->is_response, 0);
	assert_int_equal(m->opcode, 0);
	assert_int_equal(m->rcode, 0);
	assert_int_equal(m->truncated, 0);
	assert_int_equal(m->has_question, 1);
	assert_string_equal(m->qname, "example.com");
	assert_int_equal(m->qtype, T_A);
	assert_int_equal(m->qclass, 1);
	assert_string_equal(fr_dns_type_str(m->qtype, buf, sizeof(buf)), "A");
	assert_int_equal(m->answers_parsed, 0);
	assert_int_equal(m->complete, 1);
	assert_string_equal(m->answers_json, "[]");
	assert_int_equal(m->naddrs, 0);
	free(m);
}

static void test_cname_chain(void **state)
{
	struct fr_dns_msg *m = msg_new();
	char buf[32];

	(void)state;
	assert_int_equal(parse_exact(cname_resp, sizeof(cname_resp), m), 0);
	assert_int_equal(m->id, 0x1234);
	assert_int_equal(m->is_response, 1);
	assert_string_equal(fr_dns_rcode_str(m->rcode, buf, sizeof(buf)), "NOERROR");
	assert_int_equal(m->has_question, 1);
	assert_string_equal(m->qname, "www.example.com");
	assert_int_equal(m->qtype, T_A);
	assert_int_equal(m->answers_parsed, 3);
	assert_int_equal(m->complete, 1);
	assert_string_equal(m->answers_json, cname_json[3]);
	assert_int_equal(m->naddrs, 2);
	assert_int_equal(m->addrs[0].family, 4);
	assert_memory_equal(m->addrs[0].addr, v4, 4);
	assert_int_equal(m->addrs[1].family, 6);
	assert_memory_equal(m->addrs[1].addr, v6, 16);
	free(m);
}

/* ---- NXDOMAIN ---- */

static const uint8_t nxdomain[] = {
	HDR(0xbeef, 0x81, 0x83, 1, 0, 1, 0),
	/* 12 */ 4, 'n', 'o', 'p', 'e', /* 17 */ EXAMPLE, COM, 0, U16(T_A), IN,
	/* 34: example.com SOA in the authority section */
	0xc0, 17, U16(T_SOA), IN, U32(3600), U16(44),
	/* 46 */ 2, 'n', 's', /* 49 */ 5, 'i', 'c', 'a', 'n', 'n', 3, 'o', 'r', 'g', 0,
	3, 'n', 'o', 'c', 3, 'd', 'n', 's', 0xc0, 49,
	U32(2024010101), U32(7200), U32(3600), U32(1209600), U32(3600),
};

static void test_nxdomain(void **state)
{
	struct fr_dns_msg *m = msg_new();
	char buf[32];

	(void)state;
	assert_int_equal(parse_exact(nxdomain, sizeof(nxdomain), m), 0);
	assert_int_equal(m->id, 0xbeef);
	assert_int_equal(m->rcode, 3);
	assert_string_equal(fr_dns_rcode_str(m->rcode, buf, sizeof(buf)), "NXDOMAIN");
	assert_string_equal(m->qname, "nope.example.com");
	assert_int_equal(m->answers_parsed, 0);
	assert_string_equal(m->answers_json, "[]");
	assert_int_equal(m->naddrs, 0);
	/* The SOA was parsed: the message is complete. */
	assert_int_equal(m->complete, 1);
	free(m);
}

/* ---- MX, TXT, SRV, PTR, NS, SOA, and an OPT record in the additional section ---- */

static const uint8_t mixed[] = {
	HDR(0x0001, 0x84, 0x00, 1, 6, 0, 1),
	/* 12 */ EXAMPLE, COM, 0, U16(255), IN,
	/* 29 */ 0xc0, 12, U16(T_MX), IN, U32(3600), U16(9), U16(10), 4, 'm', 'a', 'i', 'l', 0xc0, 12,
	/* 50: a quote and a backslash in the first string */
	0xc0, 12, U16(T_TXT), IN, U32(300), U16(21),
	16, 'v', '=', 's', 'p', 'f', '1', ' ', '"', 'q', '"', ' ', '\\', ' ', 'e', 'n', 'd',
	3, 't', 'w', 'o',
	/* 83 */ 4, '_', 's', 'i', 'p', 4, '_', 't', 'c', 'p', 0xc0, 12, U16(T_SRV), IN, U32(60),
	U16(12), U16(10), U16(60), U16(5060), 3, 's', 'i', 'p', 0xc0, 12,
	/* 117 */ 2, '3', '4', 3, '2', '1', '6', 3, '1', '8', '4', 2, '9', '3',
	7, 'i', 'n', '-', 'a', 'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0,
	U16(T_PTR), IN, U32(86400), U16(2), 0xc0, 12,
	/* 157 */ 0xc0, 12, U16(T_NS), IN, U32(172800), U16(20),
	1, 'a', 12, 'i', 'a', 'n', 'a', '-', 's', 'e', 'r', 'v', 'e', 'r', 's', 3, 'n', 'e', 't', 0,
	/* 189 */ 0xc0, 12, U16(T_SOA), IN, U32(3600), U16(44),
	/* 201 */ 2, 'n', 's', /* 204 */ 5, 'i', 'c', 'a', 'n', 'n', 3, 'o', 'r', 'g', 0,
	3, 'n', 'o', 'c', 3, 'd', 'n', 's', 0xc0, 204,
	U32(2024010101), U32(7200), U32(3600), U32(1209600), U32(3600),
	/* 245: EDNS OPT, 4096 bytes */
	0, U16(41), U16(4096), U32(0), U16(0),
	/* 256 */
};
static const size_t mixed_ends[] = { 50, 83, 117, 157, 189, 245 };

static void test_mixed_types(void **state)
{
	struct fr_dns_msg *m = msg_new();

	(void)state;
	assert_int_equal(parse_exact(mixed, sizeof(mixed), m), 0);
	assert_int_equal(m->opcode, 0);
	assert_int_equal(m->qtype, 255);
	assert_int_equal(m->answers_parsed, 6);
	assert_int_equal(m->complete, 1);
	assert_int_equal(m->naddrs, 0);
	/* TXT: ldns's presentation ("..." per string, \" and \\ inside), then JSON-escaped. */
	assert_string_equal(m->answers_json,
		"[{\"name\":\"example.com\",\"type\":\"MX\",\"ttl\":3600,\"data\":\"10 mail.example.com\"},"
		"{\"name\":\"example.com\",\"type\":\"TXT\",\"ttl\":300,"
		"\"data\":\"\\\"v=spf1 \\\\\\\"q\\\\\\\" \\\\\\\\ end\\\" \\\"two\\\"\"},"
		"{\"name\":\"_sip._tcp.example.com\",\"type\":\"SRV\",\"ttl\":60,"
		"\"data\":\"10 60 5060 sip.example.com\"},"
		"{\"name\":\"34.216.184.93.in-addr.arpa\",\"type\":\"PTR\",\"ttl\":86400,"
		"\"data\":\"example.com\"},"
		"{\"name\":\"example.com\",\"type\":\"NS\",\"ttl\":172800,\"data\":\"a.iana-servers.net\"},"
		"{\"name\":\"example.com\",\"type\":\"SOA\",\"ttl\":3600,"
		"\"data\":\"ns.icann.org noc.dns.icann.org 2024010101 7200 3600 1209600 3600\"}]");
	assert_json_array(m->answers_json);
	free(m);
}

/* ---- compression ---- */

/* Pointers to pointers, and a pointer into the middle of a name. */
static void test_compression(void **state)
{
	static const uint8_t msg[] = {
		HDR(7, 0x81, 0x80, 1, 2, 0, 0),
		/* 12 */ 3, 'w', 'w', 'w', /* 16 */ EXAMPLE, COM, 0, U16(T_CNAME), IN,
		/* 33: owner "cdn" + pointer to example.com */
		3, 'c', 'd', 'n', 0xc0, 16, U16(T_A), IN, U32(5), U16(4), 10, 0, 0, 1,
		/* 53: owner is a pointer to 33, which ends in a pointer to 16 */
		0xc0, 33, U16(T_CNAME), IN, U32(5), U16(4), 1, 'x', 0xc0, 33,
	};
	struct fr_dns_msg *m = msg_new();

	(void)state;
	assert_int_equal(parse_exact(msg, sizeof(msg), m), 0);
	assert_int_equal(m->complete, 1);
	assert_string_equal(m->answers_json,
		"[{\"name\":\"cdn.example.com\",\"type\":\"A\",\"ttl\":5,\"data\":\"10.0.0.1\"},"
		"{\"name\":\"cdn.example.com\",\"type\":\"CNAME\",\"ttl\":5,\"data\":\"x.cdn.example.com\"}]");
	assert_int_equal(m->naddrs, 1);
	free(m);
}

/* A good answer, then one whose name can never end: the second fails, quickly, and the
 * first stays. */
static void check_bad_second(const uint8_t *msg, size_t len)
{
	struct fr_dns_msg *m = msg_new();

	assert_int_equal(parse_exact(msg, len, m), 0);
	assert_int_equal(m->has_question, 1);
	assert_string_equal(m->qname, "example.com");
	assert_int_equal(m->answers_parsed, 1);
	assert_int_equal(m->complete, 0);
	assert_string_equal(m->answers_json,
		"[{\"name\":\"example.com\",\"type\":\"A\",\"ttl\":60,\"data\":\"93.184.216.34\"}]");
	assert_int_equal(m->naddrs, 1);
	free(m);
}

#define GOOD_FIRST \
	HDR(9, 0x81, 0x80, 1, 2, 0, 0), \
	/* 12 */ EXAMPLE, COM, 0, U16(T_A), IN, \
	/* 29 */ 0xc0, 12, U16(T_A), IN, U32(60), U16(4), 93, 184, 216, 34
	/* 45: the second answer */

static void test_compression_loops(void **state)
{
	/* A pointer to itself. */
	static const uint8_t self[] = { GOOD_FIRST, 0xc0, 45, U16(T_A), IN, U32(1), U16(4), 1, 2, 3, 4 };
	/* A label, then a pointer back to that label: x.x.x.x... */
	static const uint8_t label[] = { GOOD_FIRST, 1, 'x', 0xc0, 45, U16(T_A), IN, U32(1), U16(4),
					 1, 2, 3, 4 };
	/* Two pointers to each other (the second sits where the type would be). */
	static const uint8_t pair[] = { GOOD_FIRST, 0xc0, 47, 0xc0, 45, IN, U32(1), U16(4), 1, 2, 3, 4 };
	/* A CNAME whose target points to itself. */
	static const uint8_t rdata[] = { GOOD_FIRST, 0xc0, 12, U16(T_CNAME), IN, U32(1), U16(2), 0xc0, 57 };

	(void)state;
	check_bad_second(self, sizeof(self));
	check_bad_second(label, sizeof(label));
	check_bad_second(pair, sizeof(pair));
	check_bad_second(rdata, sizeof(rdata));
}

static void test_pointer_past_end(void **state)
{
	/* Past the end, to exactly the end, and the largest pointer there is. */
	static const uint8_t past[] = { GOOD_FIRST, 0xc0, 200, U16(T_A), IN, U32(1), U16(4), 1, 2, 3, 4 };
	static const uint8_t at_end[] = { GOOD_FIRST, 0xc0, 61, U16(T_A), IN, U32(1), U16(4), 1, 2, 3, 4 };
	static const uint8_t max[] = { GOOD_FIRST, 0xff, 0xff, U16(T_A), IN, U32(1), U16(4), 1, 2, 3, 4 };
	/* In the rdata, and a pointer cut in half by the end of the message. */
	static const uint8_t in_rdata[] = { GOOD_FIRST, 0xc0, 12, U16(T_CNAME), IN, U32(1), U16(2), 0xc1, 0 };
	static const uint8_t half[] = { GOOD_FIRST, 0xc0 };
	/* 0x40 and 0x80 label types. */
	static const uint8_t ext[] = { GOOD_FIRST, 0x41, 0, U16(T_A), IN, U32(1), U16(4), 1, 2, 3, 4 };
	static const uint8_t bin[] = { GOOD_FIRST, 0x80, 0, U16(T_A), IN, U32(1), U16(4), 1, 2, 3, 4 };
	/* A label longer than what is left. */
	static const uint8_t label[] = { GOOD_FIRST, 20, 'a', 'b' };

	(void)state;
	check_bad_second(past, sizeof(past));
	check_bad_second(at_end, sizeof(at_end));
	check_bad_second(max, sizeof(max));
	check_bad_second(in_rdata, sizeof(in_rdata));
	check_bad_second(half, sizeof(half));
	check_bad_second(ext, sizeof(ext));
	check_bad_second(bin, sizeof(bin));
	check_bad_second(label, sizeof(label));
}

/* The record's length fields and ldns's reading of its fields must agree. */
static void test_rdlength_mismatch(void **state)
{
	/* A with 6 bytes of rdata; a CNAME whose name runs past RDLENGTH; AAAA with 4 bytes. */
	static const uint8_t a6[] = { GOOD_FIRST, 0xc0, 12, U16(T_A), IN, U32(1), U16(6), 1, 2, 3, 4, 5, 6 };
	static const uint8_t cname[] = { GOOD_FIRST, 0xc0, 12, U16(T_CNAME), IN, U32(1), U16(2),
					 3, 'f', 'o', 'o', 0 };
	static const uint8_t aaaa4[] = { GOOD_FIRST, 0xc0, 12, U16(T_AAAA), IN, U32(1), U16(4), 1, 2, 3, 4 };
	/* RDLENGTH past the end of the message. */
	static const uint8_t past[] = { GOOD_FIRST, 0xc0, 12, U16(T_A), IN, U32(1), U16(5), 1, 2, 3, 4 };

	(void)state;
	check_bad_second(a6, sizeof(a6));
	check_bad_second(cname, sizeof(cname));
	check_bad_second(aaaa4, sizeof(aaaa4));
	check_bad_second(past, sizeof(past));
}

/* ---- a builder, for messages too long to write out ---- */

struct wire {
	uint8_t b[65535];
	size_t n;
};

static void w_bytes(struct wire *w, const void *p, size_t n)
{
	assert_true(n <= sizeof(w->b) - w->n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void w_u16(struct wire *w, uint16_t v)
{
	const uint8_t b[2] = { U16(v) };

	w_bytes(w, b, 2);
}

static void w_u32(struct wire *w, uint32_t v)
{
	const uint8_t b[4] = { U32(v) };

	w_bytes(w, b, 4);
}

static void w_hdr(struct wire *w, uint16_t qd, uint16_t an)
{
	w->n = 0;
	w_u16(w, 42);
	w_u16(w, 0x8180);
	w_u16(w, qd);
	w_u16(w, an);
	w_u16(w, 0);
	w_u16(w, 0);
}

/* A label of n copies of c. */
static void w_label(struct wire *w, size_t n, uint8_t c)
{
	uint8_t b = (uint8_t)n;

	w_bytes(w, &b, 1);
	for (size_t i = 0; i < n; i++)
		w_bytes(w, &c, 1);
}

static void w_rr_head(struct wire *w, uint16_t type, uint32_t ttl, uint16_t rdlen)
{
	w_u16(w, 0xc00c); /* the question name */
	w_u16(w, type);
	w_u16(w, 1);
	w_u32(w, ttl);
	w_u16(w, rdlen);
}

static struct wire *wire_new(void)
{
	struct wire *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	return w;
}

/* ---- names ---- */

static void test_long_names(void **state)
{
	struct fr_dns_msg *m = msg_new();
	struct wire *w = wire_new();
	char want[256];

	(void)state;
	/* 255 octets on the wire (63+1)*3 + 61+1 + 1: the longest name there is. */
	w_hdr(w, 1, 0);
	w_label(w, 63, 'a');
	w_label(w, 63, 'b');
	w_label(w, 63, 'c');
	w_label(w, 61, 'd');
	w_bytes(w, "\0\0\1\0\1", 5);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->has_question, 1);
	assert_int_equal(m->complete, 1);
	assert_int_equal(strlen(m->qname), 253);
	memset(want, 'a', 63);
	want[63] = '.';
	assert_memory_equal(m->qname, want, 64);
	assert_int_equal(m->qname[252], 'd');

	/* 256 octets: not a name. The header still parses. */
	w_hdr(w, 1, 0);
	w_label(w, 63, 'a');
	w_label(w, 63, 'b');
	w_label(w, 63, 'c');
	w_label(w, 62, 'd');
	w_bytes(w, "\0\0\1\0\1", 5);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->id, 42);
	assert_int_equal(m->has_question, 0);
	assert_string_equal(m->qname, "");
	assert_int_equal(m->complete, 0);
	assert_string_equal(m->answers_json, "[]");

	/* Over 255 only through compression: a question of 100 octets, and an answer whose
	 * owner is 192 octets of labels and a pointer to it. */
	w_hdr(w, 1, 1);
	w_label(w, 63, 'a');
	w_label(w, 34, 'b');
	w_bytes(w, "\0\0\1\0\1", 5);
	w_label(w, 63, 'x');
	w_label(w, 63, 'y');
	w_label(w, 63, 'z');
	w_u16(w, 0xc00c);
	w_bytes(w, "\0\1\0\1\0\0\0\1\0\4\1\2\3\4", 14);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->has_question, 1);
	assert_int_equal(strlen(m->qname), 98);
	assert_int_equal(m->answers_parsed, 0);
	assert_int_equal(m->complete, 0);
	free(w);
	free(m);
}

static void test_name_escapes(void **state)
{
	static const uint8_t esc[] = {
		HDR(1, 0, 0, 1, 0, 0, 0),
		3, 'a', '.', 'b', 3, 'c', ' ', 'd', 2, 0x01, 0xff, 0, U16(T_A), IN,
	};
	static const uint8_t root[] = {
		HDR(1, 0x81, 0x80, 1, 1, 0, 0),
		0, U16(T_NS), IN,
		0, U16(T_NS), IN, U32(518400), U16(20),
		1, 'a', 12, 'r', 'o', 'o', 't', '-', 's', 'e', 'r', 'v', 'e', 'r', 's', 3, 'n', 'e', 't', 0,
	};
	struct fr_dns_msg *m = msg_new();
	struct wire *w = wire_new();
	char want[256];

	(void)state;
	assert_int_equal(parse_exact(esc, sizeof(esc), m), 0);
	assert_string_equal(m->qname, "a\\.b.c\\032d.\\001\\255");

	assert_int_equal(parse_exact(root, sizeof(root), m), 0);
	assert_string_equal(m->qname, ".");
	assert_string_equal(m->answers_json,
		"[{\"name\":\".\",\"type\":\"NS\",\"ttl\":518400,\"data\":\"a.root-servers.net\"}]");

	/* 62 bytes shown as \255 (248 characters), ".", then "abc" and a fourth \255 that
	 * would end at 256: qname stops before that escape. */
	w_hdr(w, 1, 0);
	w_label(w, 62, 0xff);
	w_bytes(w, "\4abc\377", 5);
	w_bytes(w, "\0\0\1\0\1", 5);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->has_question, 1);
	for (int i = 0; i < 62; i++)
		memcpy(want + 4 * i, "\\255", 4);
	memcpy(want + 248, ".abc", 5);
	assert_string_equal(m->qname, want);

	/* With "ab" instead, the escape ends at exactly 255 characters and is kept. */
	w_hdr(w, 1, 0);
	w_label(w, 62, 0xff);
	w_bytes(w, "\3ab\377", 4);
	w_bytes(w, "\0\0\1\0\1", 5);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	memcpy(want + 248, ".ab\\255", 8);
	assert_int_equal(strlen(m->qname), 255);
	assert_string_equal(m->qname, want);
	free(w);
	free(m);
}

/* ---- header fields, question counts ---- */

static void test_header_fields(void **state)
{
	/* QR, opcode 5 (UPDATE), TC, RD; rcode REFUSED. */
	static const uint8_t upd[] = { HDR(0xffff, 0x80 | 5 << 3 | 0x02 | 0x01, 0x05, 0, 0, 0, 0) };
	/* Two questions: the first is the one shown. */
	static const uint8_t two_q[] = {
		HDR(2, 0, 0, 2, 0, 0, 0),
		EXAMPLE, COM, 0, U16(T_AAAA), IN,
		3, 'w', 'w', 'w', 0xc0, 12, U16(T_A), IN,
	};
	/* No question, an answer anyway (as in mDNS). */
	static const uint8_t no_q[] = {
		HDR(0, 0x84, 0, 0, 1, 0, 0),
		EXAMPLE, COM, 0, U16(T_A), U16(0x8001), U32(120), U16(4), 10, 1, 2, 3,
	};
	struct fr_dns_msg *m = msg_new();
	char buf[32];

	(void)state;
	assert_int_equal(parse_exact(upd, sizeof(upd), m), 0);
	assert_int_equal(m->id, 0xffff);
	assert_int_equal(m->is_response, 1);
	assert_int_equal(m->opcode, 5);
	assert_int_equal(m->truncated, 1);
	assert_int_equal(m->rcode, 5);
	assert_string_equal(fr_dns_rcode_str(m->rcode, buf, sizeof(buf)), "REFUSED");
	assert_int_equal(m->has_question, 0);
	assert_int_equal(m->complete, 1);
	assert_string_equal(m->answers_json, "[]");

	assert_int_equal(parse_exact(two_q, sizeof(two_q), m), 0);
	assert_int_equal(m->has_question, 1);
	assert_string_equal(m->qname, "example.com");
	assert_int_equal(m->qtype, T_AAAA);
	assert_int_equal(m->complete, 1);

	assert_int_equal(parse_exact(no_q, sizeof(no_q), m), 0);
	assert_int_equal(m->has_question, 0);
	assert_string_equal(m->qname, "");
	assert_int_equal(m->answers_parsed, 1);
	assert_int_equal(m->naddrs, 1);
	assert_int_equal(m->complete, 1);
	free(m);
}

static void test_short_input(void **state)
{
	struct fr_dns_msg *m = msg_new();

	(void)state;
	assert_int_equal(fr_dns_parse(NULL, 0, m), -1);
	assert_string_equal(m->answers_json, "[]");
	assert_int_equal(fr_dns_parse(query_a, 12, NULL), -1);
	for (size_t n = 0; n < 12; n++) {
		assert_int_equal(parse_exact(query_a, n, m), -1);
		assert_string_equal(m->answers_json, "[]");
		assert_int_equal(m->has_question, 0);
	}
	free(m);
}

/* ---- every cut ---- */

/* The JSON of a cut, without its "]", is a prefix of the JSON of any longer cut. */
static void assert_json_prefix(const char *shorter, const char *longer)
{
	size_t n = strlen(shorter) - 1;

	if (strncmp(shorter, longer, n) != 0)
		fail_msg("%s is not a prefix of %s", shorter, longer);
}

static void test_truncated_cname(void **state)
{
	struct fr_dns_msg *m = msg_new();

	(void)state;
	for (size_t cut = 0; cut <= sizeof(cname_resp); cut++) {
		int k = 0;

		for (size_t i = 0; i < 3; i++)
			k += cut >= cname_ends[i];
		if (cut < 12) {
			assert_int_equal(parse_exact(cname_resp, cut, m), -1);
			continue;
		}
		assert_int_equal(parse_exact(cname_resp, cut, m), 0);
		assert_int_equal(m->id, 0x1234);
		assert_int_equal(m->is_response, 1);
		assert_int_equal(m->has_question, cut >= 33);
		assert_string_equal(m->qname, cut >= 33 ? "www.example.com" : "");
		assert_int_equal(m->answers_parsed, k);
		assert_string_equal(m->answers_json, cname_json[k]);
		assert_int_equal(m->naddrs, k >= 2 ? k - 1 : 0);
		assert_int_equal(m->complete, cut == sizeof(cname_resp));
	}
	free(m);
}

/* For the other messages: the header from 12 bytes, the question once it is whole, answers
 * only ever added as the cut grows, JSON valid at every cut. */
static void check_cuts(const uint8_t *msg, size_t len, size_t q_end, const size_t *ends, size_t nends)
{
	struct fr_dns_msg *m = msg_new(), *prev = msg_new();

	memset(prev, 0, sizeof(*prev));
	strcpy(prev->answers_json, "[]");
	for (size_t cut = 12; cut <= len; cut++) {
		int k = 0;

		for (size_t i = 0; i < nends; i++)
			k += cut >= ends[i];
		assert_int_equal(parse_exact(msg, cut, m), 0);
		assert_int_equal(m->has_question, cut >= q_end);
		assert_int_equal(m->answers_parsed, k);
		assert_true(m->answers_parsed >= prev->answers_parsed);
		assert_json_array(m->answers_json);
		assert_json_prefix(prev->answers_json, m->answers_json);
		assert_int_equal(json_records(m->answers_json), k);
		assert_int_equal(m->complete, cut == len);
		memcpy(prev, m, sizeof(*m));
	}
	free(prev);
	free(m);
}

static void test_truncated_all(void **state)
{
	(void)state;
	check_cuts(cname_resp, sizeof(cname_resp), 33, cname_ends, 3);
	check_cuts(mixed, sizeof(mixed), 29, mixed_ends, 6);
	check_cuts(nxdomain, sizeof(nxdomain), 34, NULL, 0);
	check_cuts(query_a, sizeof(query_a), sizeof(query_a), NULL, 0);
}

/* ---- rdata presentation ---- */

static void test_txt_escapes(void **state)
{
	/* A tab, a control byte, a byte above 0x7f, a quote and a backslash; then an empty
	 * string. ldns shows "a<TAB>\001\255\"\\" "", and JSON escapes that again. */
	static const uint8_t txt[] = {
		HDR(3, 0x81, 0x80, 1, 1, 0, 0),
		EXAMPLE, COM, 0, U16(T_TXT), IN,
		0xc0, 12, U16(T_TXT), IN, U32(1), U16(8), 6, 'a', '\t', 0x01, 0xff, '"', '\\', 0,
	};
	struct fr_dns_msg *m = msg_new();
	struct wire *w = wire_new();
	uint8_t all[256];

	(void)state;
	assert_int_equal(parse_exact(txt, sizeof(txt), m), 0);
	assert_string_equal(m->answers_json,
		"[{\"name\":\"example.com\",\"type\":\"TXT\",\"ttl\":1,"
		"\"data\":\"\\\"a\\t\\\\001\\\\255\\\\\\\"\\\\\\\\\\\" \\\"\\\"\"}]");

	/* Every byte value, in one string of 255 and one of 1. */
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	w_hdr(w, 1, 1);
	w_bytes(w, "\7example\3com\0\0\20\0\1", 17);
	w_rr_head(w, T_TXT, 1, 258);
	w_bytes(w, "\377", 1);
	w_bytes(w, all, 255);
	w_bytes(w, "\1", 1);
	w_bytes(w, all + 255, 1);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->answers_parsed, 1);
	assert_json_array(m->answers_json);
	assert_int_equal(json_records(m->answers_json), 1);
	free(w);
	free(m);
}

static void test_unknown_and_empty(void **state)
{
	/* Type 4660, unknown to everyone: RFC 3597's \# form. Then an A record with no rdata
	 * (as in a dynamic update), shown the same way, and no address from it. */
	static const uint8_t msg[] = {
		HDR(4, 0x81, 0x80, 1, 2, 0, 0),
		EXAMPLE, COM, 0, U16(0x1234), IN,
		0xc0, 12, U16(0x1234), IN, U32(1), U16(3), 0xde, 0xad, 0xbe,
		0xc0, 12, U16(T_A), IN, U32(1), U16(0),
	};
	struct fr_dns_msg *m = msg_new();

	(void)state;
	assert_int_equal(parse_exact(msg, sizeof(msg), m), 0);
	assert_int_equal(m->qtype, 0x1234);
	assert_int_equal(m->complete, 1);
	assert_string_equal(m->answers_json,
		"[{\"name\":\"example.com\",\"type\":\"TYPE4660\",\"ttl\":1,\"data\":\"\\\\# 3 deadbe\"},"
		"{\"name\":\"example.com\",\"type\":\"A\",\"ttl\":1,\"data\":\"\\\\# 0\"}]");
	assert_int_equal(m->naddrs, 0);
	free(m);
}

/* SVCB/HTTPS parameters, whose printer in ldns 1.8.3 writes without growing its buffer;
 * WKS, shown in the generic form rather than through getservbyport(); NSEC. */
static void test_https_and_wks(void **state)
{
	static const uint8_t https[] = {
		HDR(5, 0x81, 0x80, 1, 3, 0, 0),
		EXAMPLE, COM, 0, U16(65), IN,
		0xc0, 12, U16(65), IN, U32(300), U16(3 + 10 + 12 + 36),
		U16(1), 0,                                      /* priority 1, target "." */
		U16(1), U16(6), 2, 'h', '3', 2, 'h', '2',       /* alpn */
		U16(4), U16(8), 104, 16, 132, 229, 104, 16, 133, 229,
		U16(6), U16(32),
		0x26, 0x06, 0x47, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x68, 0x10, 0x84, 0xe5,
		0x26, 0x06, 0x47, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x68, 0x10, 0x85, 0xe5,
		0xc0, 12, U16(11), IN, U32(1), U16(8), 1, 2, 3, 4, 6, 0, 0, 0x40,
		/* NSEC: ldns ends its type list with a space, which does not make it here. */
		0xc0, 12, U16(47), IN, U32(1), U16(4 + 8), 1, 'b', 0xc0, 12, 0, 6, 0x40, 0x01, 0, 0, 0, 0x03,
	};
	struct fr_dns_msg *m = msg_new();
	struct wire *w = wire_new();
	char *want;
	size_t n;

	(void)state;
	assert_int_equal(parse_exact(https, sizeof(https), m), 0);
	assert_int_equal(m->complete, 1);
	assert_string_equal(m->answers_json,
		"[{\"name\":\"example.com\",\"type\":\"HTTPS\",\"ttl\":300,"
		"\"data\":\"1 . alpn=h3,h2 ipv4hint=104.16.132.229,104.16.133.229 "
		"ipv6hint=2606:4700::6810:84e5,2606:4700::6810:85e5\"},"
		"{\"name\":\"example.com\",\"type\":\"WKS\",\"ttl\":1,"
		"\"data\":\"\\\\# 8 0102030406000040\"},"
		"{\"name\":\"example.com\",\"type\":\"NSEC\",\"ttl\":1,"
		"\"data\":\"b.example.com A MX RRSIG NSEC\"}]");

	/* A mandatory list of 200 keys, each shown as "no-default-alpn": 8 characters per
	 * byte of rdata, far past the buffer's first size. */
	w_hdr(w, 1, 1);
	w_bytes(w, "\7example\3com\0\0\101\0\1", 17);
	w_rr_head(w, 65, 1, 3 + 4 + 400);
	w_bytes(w, "\0\1\0\0\0\1\220", 7);
	for (int i = 0; i < 200; i++)
		w_u16(w, 2);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->answers_parsed, 1);
	assert_int_equal(json_records(m->answers_json), 1);
	want = malloc(8192);
	assert_non_null(want);
	n = (size_t)sprintf(want, "[{\"name\":\"example.com\",\"type\":\"HTTPS\",\"ttl\":1,"
				  "\"data\":\"1 . mandatory=no-default-alpn");
	for (int i = 1; i < 200; i++)
		n += (size_t)sprintf(want + n, ",no-default-alpn");
	strcpy(want + n, "\"}]");
	assert_string_equal(m->answers_json, want);
	free(want);
	free(w);
	free(m);
}

/* ---- limits ---- */

static void test_json_overflow(void **state)
{
	struct fr_dns_msg *m = msg_new();
	struct wire *w = wire_new();
	uint8_t str[256];
	size_t one, len;
	int fit;

	(void)state;
	/* One TXT record of 255 'x' alone gives the size of one object. */
	str[0] = 255;
	memset(str + 1, 'x', 255);
	w_hdr(w, 1, 1);
	w_bytes(w, "\7example\3com\0\0\20\0\1", 17);
	w_rr_head(w, T_TXT, 1, 256);
	w_bytes(w, str, 256);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	one = strlen(m->answers_json) - 2;

	/* 200 of them: "[" + k objects + (k-1) commas + "]" + NUL must fit in the array. */
	w_hdr(w, 1, 200);
	w_bytes(w, "\7example\3com\0\0\20\0\1", 17);
	for (int i = 0; i < 200; i++) {
		w_rr_head(w, T_TXT, 1, 256);
		w_bytes(w, str, 256);
	}
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->answers_parsed, 200);
	assert_int_equal(m->complete, 1);
	assert_json_array(m->answers_json);
	fit = (int)((FR_DNS_ANSWERS_MAX - 1 - 2 + 1) / (one + 1));
	assert_int_equal(json_records(m->answers_json), fit);
	len = strlen(m->answers_json);
	assert_int_equal(len, 2 + fit * one + (fit - 1));
	assert_true(len + (one + 1) > FR_DNS_ANSWERS_MAX - 1);
	assert_string_equal(m->answers_json + len - 2, "}]");
	free(w);
	free(m);
}

/* ldns_wire2rr costs fields x RDLENGTH; records over 256 fields get the generic form. */
static void test_many_fields(void **state)
{
	struct fr_dns_msg *m = msg_new();
	struct wire *w = wire_new();
	char *want = malloc(8192);
	size_t n;

	(void)state;
	assert_non_null(want);
	/* 256 strings: ldns's presentation. */
	w_hdr(w, 1, 1);
	w_bytes(w, "\7example\3com\0\0\20\0\1", 17);
	w_rr_head(w, T_TXT, 1, 512);
	for (int i = 0; i < 256; i++)
		w_bytes(w, "\1a", 2);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	n = (size_t)sprintf(want, "[{\"name\":\"example.com\",\"type\":\"TXT\",\"ttl\":1,\"data\":\"");
	for (int i = 0; i < 256; i++)
		n += (size_t)sprintf(want + n, i ? " \\\"a\\\"" : "\\\"a\\\"");
	strcpy(want + n, "\"}]");
	assert_string_equal(m->answers_json, want);

	/* 300: the generic form, and the record still counts. */
	w_hdr(w, 1, 2);
	w_bytes(w, "\7example\3com\0\0\20\0\1", 17);
	w_rr_head(w, T_TXT, 7, 600);
	for (int i = 0; i < 300; i++)
		w_bytes(w, "\1a", 2);
	w_rr_head(w, T_A, 1, 4);
	w_bytes(w, "\12\0\0\1", 4);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->answers_parsed, 2);
	assert_int_equal(m->complete, 1);
	n = (size_t)sprintf(want, "[{\"name\":\"example.com\",\"type\":\"TXT\",\"ttl\":7,"
				  "\"data\":\"\\\\# 600 ");
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(want + n, "0161");
	strcpy(want + n, "\"},{\"name\":\"example.com\",\"type\":\"A\",\"ttl\":1,\"data\":\"10.0.0.1\"}]");
	assert_string_equal(m->answers_json, want);

	/* The same with an owner that loops: still a bad record. */
	w->b[29] = 0xc0;
	w->b[30] = 29;
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->answers_parsed, 0);
	assert_int_equal(m->complete, 0);

	/* As many empty strings as a message holds: quick, and too big for the JSON. */
	w_hdr(w, 1, 1);
	w_bytes(w, "\7example\3com\0\0\20\0\1", 17);
	w_rr_head(w, T_TXT, 1, (uint16_t)(sizeof(w->b) - w->n - 12));
	memset(w->b + w->n, 0, sizeof(w->b) - w->n);
	w->n = sizeof(w->b);
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->answers_parsed, 1);
	assert_int_equal(m->complete, 1);
	assert_string_equal(m->answers_json, "[]");
	free(want);
	free(w);
	free(m);
}

static void test_addrs_cap(void **state)
{
	struct fr_dns_msg *m = msg_new();
	struct wire *w = wire_new();

	(void)state;
	w_hdr(w, 1, 40);
	w_bytes(w, "\7example\3com\0\0\1\0\1", 17);
	for (int i = 0; i < 40; i++) {
		const uint8_t a[4] = { 10, 0, 0, (uint8_t)i };

		w_rr_head(w, T_A, 1, 4);
		w_bytes(w, a, 4);
	}
	assert_int_equal(parse_exact(w->b, w->n, m), 0);
	assert_int_equal(m->answers_parsed, 40);
	assert_int_equal(json_records(m->answers_json), 40);
	assert_int_equal(m->naddrs, 32);
	for (int i = 0; i < 32; i++) {
		assert_int_equal(m->addrs[i].family, 4);
		assert_int_equal(m->addrs[i].addr[3], i);
	}
	free(w);
	free(m);
}

/* ---- garbage ---- */

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void check_any(const uint8_t *buf, size_t len, struct fr_dns_msg *m)
{
	int r = parse_exact(buf, len, m);

	assert_int_equal(r, len >= 12 ? 0 : -1);
	assert_json_array(m->answers_json);
	assert_true(m->naddrs >= 0 && m->naddrs <= 32);
	assert_true(memchr(m->qname, 0, sizeof(m->qname)) != NULL);
	assert_true(m->answers_parsed <= (len >= 12 ? (buf[6] << 8 | buf[7]) : 0));
	assert_true(json_records(m->answers_json) <= m->answers_parsed);
}

static void test_garbage(void **state)
{
	static const uint8_t *const valid[] = { query_a, cname_resp, nxdomain, mixed };
	static const size_t valid_len[] = { sizeof(query_a), sizeof(cname_resp), sizeof(nxdomain),
					    sizeof(mixed) };
	struct fr_dns_msg *m = msg_new();
	uint8_t buf[600];

	(void)state;
	/* Counts of 65535 in every section and nothing after the header. */
	memset(buf, 0xff, sizeof(buf));
	check_any(buf, 12, m);
	assert_int_equal(m->complete, 0);
	check_any(buf, sizeof(buf), m);
	memset(buf, 0, sizeof(buf));
	check_any(buf, sizeof(buf), m);
	assert_int_equal(m->complete, 1);

	for (int i = 0; i < 20000; i++) {
		size_t len = rnd() % sizeof(buf);

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rnd();
		check_any(buf, len, m);
	}
	/* Valid messages with a few bytes changed reach much further than random ones. */
	for (int i = 0; i < 20000; i++) {
		size_t v = rnd() % 4, len = valid_len[v];

		memcpy(buf, valid[v], len);
		for (int k = 1 + rnd() % 4; k > 0; k--)
			buf[rnd() % len] = (uint8_t)rnd();
		check_any(buf, len, m);
	}
	free(m);
}

/* ---- mnemonics ---- */

static void test_type_names(void **state)
{
	static const struct {
		uint16_t type;
		const char *name;
	} known[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" }, { 15, "MX" },
		{ 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" }, { 41, "OPT" }, { 64, "SVCB" },
		{ 65, "HTTPS" }, { 255, "ANY" }, { 252, "AXFR" }, { 257, "CAA" },
		{ 0, "TYPE0" }, { 54, "TYPE54" }, { 65280, "TYPE65280" }, { 65535, "TYPE65535" },
	};
	char buf[32];
	uint16_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		assert_string_equal(fr_dns_type_str(known[i].type, buf, sizeof(buf)), known[i].name);
		assert_int_equal(fr_dns_type_parse(known[i].name, &t), 0);
		assert_int_equal(t, known[i].type);
	}
	/* Every type reads back as itself. */
	for (unsigned v = 0; v <= 0xffff; v++) {
		fr_dns_type_str((uint16_t)v, buf, sizeof(buf));
		if (fr_dns_type_parse(buf, &t) != 0 || t != v)
			fail_msg("type %u shown as %s does not read back", v, buf);
	}
	assert_int_equal(fr_dns_type_parse("aaaa", &t), 0);
	assert_int_equal(t, 28);
	assert_int_equal(fr_dns_type_parse("Mx", &t), 0);
	assert_int_equal(t, 15);
	assert_int_equal(fr_dns_type_parse("type123", &t), 0);
	assert_int_equal(t, 123);
	assert_int_equal(fr_dns_type_parse("TYPE01", &t), 0);
	assert_int_equal(t, 1);
	t = 7;
	assert_int_equal(fr_dns_type_parse("TYPE65536", &t), -1);
	assert_int_equal(fr_dns_type_parse("TYPE99999999999999999999", &t), -1);
	assert_int_equal(fr_dns_type_parse("TYPE-5", &t), -1);
	assert_int_equal(fr_dns_type_parse("TYPE 5", &t), -1);
	assert_int_equal(fr_dns_type_parse("TYPE", &t), -1);
	assert_int_equal(fr_dns_type_parse("TYPEx", &t), -1);
	assert_int_equal(fr_dns_type_parse("A ", &t), -1);
	assert_int_equal(fr_dns_type_parse("", &t), -1);
	assert_int_equal(fr_dns_type_parse("nosuch", &t), -1);
	assert_int_equal(fr_dns_type_parse(NULL, &t), -1);
	assert_int_equal(t, 7);
	/* A short buffer gets a cut, terminated name. */
	assert_string_equal(fr_dns_type_str(5, buf, 3), "CN");
}

static void test_rcode_names(void **state)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMPL",
					     "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
					     "NOTZONE" };
	char buf[32];
	int r;

	(void)state;
	for (int i = 0; i < 11; i++) {
		assert_string_equal(fr_dns_rcode_str(i, buf, sizeof(buf)), names[i]);
		assert_int_equal(fr_dns_rcode_parse(names[i], &r), 0);
		assert_int_equal(r, i);
	}
	assert_string_equal(fr_dns_rcode_str(12, buf, sizeof(buf)), "RCODE12");
	assert_string_equal(fr_dns_rcode_str(15, buf, sizeof(buf)), "RCODE15");
	for (int i = 0; i <= 4095; i++) {
		fr_dns_rcode_str(i, buf, sizeof(buf));
		assert_int_equal(fr_dns_rcode_parse(buf, &r), 0);
		assert_int_equal(r, i);
	}
	assert_int_equal(fr_dns_rcode_parse("nxdomain", &r), 0);
	assert_int_equal(r, 3);
	assert_int_equal(fr_dns_rcode_parse("rcode12", &r), 0);
	assert_int_equal(r, 12);
	r = 99;
	assert_int_equal(fr_dns_rcode_parse("RCODE4096", &r), -1);
	assert_int_equal(fr_dns_rcode_parse("RCODE", &r), -1);
	assert_int_equal(fr_dns_rcode_parse("RCODE1x", &r), -1);
	assert_int_equal(fr_dns_rcode_parse("bogus", &r), -1);
	assert_int_equal(fr_dns_rcode_parse("", &r), -1);
	assert_int_equal(fr_dns_rcode_parse(NULL, &r), -1);
	assert_int_equal(r, 99);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_mixed_types),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_compression_loops),
		cmocka_unit_test(test_pointer_past_end),
		cmocka_unit_test(test_rdlength_mismatch),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_name_escapes),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_short_input),
		cmocka_unit_test(test_truncated_cname),
		cmocka_unit_test(test_truncated_all),
		cmocka_unit_test(test_txt_escapes),
		cmocka_unit_test(test_unknown_and_empty),
		cmocka_unit_test(test_https_and_wks),
		cmocka_unit_test(test_json_overflow),
		cmocka_unit_test(test_many_fields),
		cmocka_unit_test(test_addrs_cap),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_rcode_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
