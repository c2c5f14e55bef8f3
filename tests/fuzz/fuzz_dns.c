/*
 * libFuzzer target for lib/dns.c's parser (run by `make fuzz`).
 *
 * The parser sees whatever crosses the wire on port 53. Besides "no crash, no out-of-bounds
 * read, no leak" (ASan/UBSan/LeakSanitizer), it checks that
 *   - the header parses exactly when there are 12 bytes;
 *   - answers_json is always valid JSON, an array, ASCII only, terminated inside its array,
 *     with no more objects than answers parsed;
 *   - the counts agree with the header (answers_parsed <= ANCOUNT, complete means all of
 *     them, addrs within their cap);
 *   - a prefix of the input never yields more than the whole: its question is the same,
 *     its answers are a prefix of the whole's, its JSON a prefix of the whole's JSON;
 *   - the mnemonics of the question type and rcode read back as themselves.
 * A broken invariant aborts, which libFuzzer reports as a crash with the input saved.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

#include "fuzz_check.h"

/* ---- a small strict JSON checker: the end of the value at p, or NULL ---- */

static const char *json_value(const char *p, int depth, int *elems);

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*p++;

		if (c == '"')
			return p;
		/* Control characters (the NUL at the end among them) must be escaped; the
		 * parser promises ASCII, so nothing above 0x7e either. */
		if (c < 0x20 || c > 0x7e)
			return NULL;
		if (c != '\\')
			continue;
		c = (unsigned char)*p++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++)
				if (!is_hex(*p++))
					return NULL;
		} else if (!c || !strchr("\"\\/bfnrt", c)) {
			return NULL;
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
		while (is_digit(*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!is_digit(*++p))
			return NULL;
		while (is_digit(*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		if (*++p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return NULL;
		while (is_digit(*p))
			p++;
	}
	return p;
}

/* The answers are whitespace-free, so none is accepted: one less thing to get wrong. With
 * elems, counts the elements of this array or object. */
static const char *json_value(const char *p, int depth, int *elems)
{
	char close;

	if (depth > 8)
		return NULL;
	if (*p == '"')
		return json_string(p);
	if (*p == '-' || is_digit(*p))
		return json_number(p);
	if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (*p != '[' && *p != '{')
		return NULL;
	close = *p++ == '[' ? ']' : '}';
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			p = json_string(p);
			if (!p || *p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1, NULL);
		if (!p)
			return NULL;
		if (elems)
			(*elems)++;
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

/* ---- the target ---- */

static void check_msg(const uint8_t *data, size_t size, const struct fr_dns_msg *m)
{
	const char *end;
	int elems = 0;
	unsigned ancount;

	CHECK(memchr(m->answers_json, 0, sizeof(m->answers_json)) != NULL);
	CHECK(memchr(m->qname, 0, sizeof(m->qname)) != NULL);
	CHECK(m->answers_json[0] == '[');
	end = json_value(m->answers_json, 0, &elems);
	CHECK(end != NULL && *end == '\0');
	CHECK(elems <= m->answers_parsed);

	CHECK(size >= 12);
	ancount = (unsigned)(data[6] << 8 | data[7]);
	CHECK(m->id == (data[0] << 8 | data[1]));
	CHECK(m->is_response == data[2] >> 7);
	CHECK(m->rcode == (data[3] & 15));
	CHECK(m->answers_parsed >= 0 && (unsigned)m->answers_parsed <= ancount);
	CHECK(m->naddrs >= 0 && m->naddrs <= 32 && m->naddrs <= m->answers_parsed);
	for (int i = 0; i < m->naddrs; i++)
		CHECK(m->addrs[i].family == 4 || m->addrs[i].family == 6);
	CHECK(m->has_question || m->qname[0] == '\0');
	CHECK(!m->has_question || m->qname[0] != '\0');
	if (m->complete) {
		CHECK((unsigned)m->answers_parsed == ancount);
		CHECK(m->has_question == ((data[4] << 8 | data[5]) > 0));
	}
}

static struct fr_dns_msg whole, part;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cut, n;
	uint8_t *copy;
	char name[32];
	uint16_t type;
	int rcode;

	if (fr_dns_parse(data, size, &whole) < 0) {
		CHECK(size < 12);
		CHECK(strcmp(whole.answers_json, "[]") == 0);
		return 0;
	}
	check_msg(data, size, &whole);

	if (whole.has_question) {
		CHECK(fr_dns_type_parse(fr_dns_type_str(whole.qtype, name, sizeof(name)), &type) == 0);
		CHECK(type == whole.qtype);
	}
	CHECK(fr_dns_rcode_parse(fr_dns_rcode_str(whole.rcode, name, sizeof(name)), &rcode) == 0);
	CHECK(rcode == whole.rcode);

	/* One prefix per input, chosen by the input, in a buffer of exactly its size. */
	cut = 12 + (size > 12 ? (size_t)data[size - 1] * (size - 12) / 255 : 0);
	if (cut >= size)
		return 0;
	copy = malloc(cut);
	CHECK(copy != NULL);
	memcpy(copy, data, cut);
	CHECK(fr_dns_parse(copy, cut, &part) == 0);
	check_msg(copy, cut, &part);
	free(copy);

	CHECK(part.answers_parsed <= whole.answers_parsed);
	CHECK(part.naddrs <= whole.naddrs);
	CHECK(memcmp(part.addrs, whole.addrs, (size_t)part.naddrs * sizeof(part.addrs[0])) == 0);
	CHECK(!part.complete || part.answers_parsed == whole.answers_parsed);
	if (part.has_question) {
		CHECK(whole.has_question);
		CHECK(strcmp(part.qname, whole.qname) == 0);
		CHECK(part.qtype == whole.qtype && part.qclass == whole.qclass);
	}
	n = strlen(part.answers_json) - 1;
	CHECK(strncmp(part.answers_json, whole.answers_json, n) == 0);
	return 0;
}
