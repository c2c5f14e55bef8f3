/*
 * DNS message parsing for flowrec's DNS records (see dns.h): the header, the question, the
 * answer section as JSON and the addresses it resolves to.
 *
 * Each record is decoded by ldns (ldns_wire2rr) and presented by ldns (ldns_rdf2buffer_str);
 * the walk over the sections is ours, so that the first bad record ends the walk without
 * losing what came before it. Everything written into the caller's struct is bounded by the
 * struct's arrays, whatever the message holds.
 */
#include "dns.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#define HDR_LEN 12

/* Extended RCODEs (EDNS) are 12 bits; "RCODE4095" is the largest name that can mean one. */
#define RCODE_MAX 4095

/* Records whose rdata would make more fields than this skip ldns's decoding (see
 * fields_bound); no TXT record in real use comes near. */
#define FIELDS_MAX 256

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Where one record sits, by its own length fields. */
struct extent {
	size_t fixed;   /* TYPE, CLASS and the rest, after the owner name */
	size_t rdata;   /* first byte of the rdata (answer, authority, additional) */
	size_t rdlen;
	size_t end;     /* first byte after the record */
};

/*
 * The record at pos as the wire lays it out: the owner name up to its root label or its
 * first pointer (where the pointer leads is ldns's business), type and class, and outside
 * the question TTL, RDLENGTH and the rdata. -1 when that runs past len.
 */
static int record_extent(const uint8_t *buf, size_t len, size_t pos, int question, struct extent *x)
{
	for (;;) {
		if (pos >= len)
			return -1;
		if (buf[pos] == 0) {
			pos += 1;
			break;
		}
		if ((buf[pos] & 0xc0) == 0xc0) {
			pos += 2;
			break;
		}
		/* 0x40 and 0x80 are the extended and binary label types no one deployed; ldns
		 * refuses them as well. */
		if (buf[pos] & 0xc0)
			return -1;
		pos += 1 + (size_t)buf[pos];
	}
	x->fixed = pos;
	if (question) {
		if (pos > len || len - pos < 4)
			return -1;
		x->rdata = x->end = pos + 4;
		x->rdlen = 0;
		return 0;
	}
	if (pos > len || len - pos < 10)
		return -1;
	x->rdata = pos + 10;
	x->rdlen = get16(buf + pos + 8);
	if (x->rdlen > len - x->rdata)
		return -1;
	x->end = x->rdata + x->rdlen;
	return 0;
}

/*
 * How many fields ldns_wire2rr would make of this rdata, or more. It allocates the whole
 * RDLENGTH for each field and grows the field array one at a time, so that a TXT record of
 * 65000 empty strings costs it seconds and gigabytes of address space. Only types with a
 * repeating field can have many: TXT and SPF, strings all through, are counted exactly;
 * for the others (HIP's names, APL) each field takes a byte at least.
 */
static size_t fields_bound(uint16_t type, const uint8_t *rdata, size_t rdlen)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);
	size_t n = 0;

	if (!d)
		return rdlen;
	if (d->_variable == LDNS_RDF_TYPE_NONE)
		return d->_maximum;
	if (d->_variable != LDNS_RDF_TYPE_STR)
		return d->_maximum + rdlen;
	for (size_t i = 0; i < rdlen; i += 1 + (size_t)rdata[i])
		n++;
	return n;
}

/* The record without its rdata decoded, for those fields_bound keeps from ldns: the owner
 * by ldns, type, class and TTL from the wire. put_rdata shows the rdata in generic form. */
static ldns_rr *bare_record(const uint8_t *buf, size_t len, size_t pos, const struct extent *x)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = NULL;

	if (!rr || ldns_wire2dname(&owner, buf, len, &pos) != LDNS_STATUS_OK || pos != x->fixed) {
		ldns_rdf_deep_free(owner);
		ldns_rr_free(rr);
		return NULL;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, get16(buf + pos));
	ldns_rr_set_class(rr, get16(buf + pos + 2));
	ldns_rr_set_ttl(rr, get32(buf + pos + 4));
	return rr;
}

/*
 * Decodes the record at *pos and moves *pos past it; NULL when it is malformed. ldns finds
 * the end of a record by decoding its fields, which need not agree with RDLENGTH: it stops
 * after the last field the type defines (an A record with 6 bytes of rdata) and follows a
 * name in the rdata however far it goes (a CNAME whose name runs past RDLENGTH). Walking on
 * from there would read the next record from the middle of this one, so a record counts
 * only when ldns and the length fields agree on where it ends.
 */
static ldns_rr *next_record(const uint8_t *buf, size_t len, size_t *pos, ldns_pkt_section sec,
			    struct extent *x)
{
	ldns_rr *rr = NULL;
	size_t p = *pos;

	if (record_extent(buf, len, *pos, sec == LDNS_SECTION_QUESTION, x) < 0)
		return NULL;
	if (sec != LDNS_SECTION_QUESTION &&
	    fields_bound(get16(buf + x->fixed), buf + x->rdata, x->rdlen) > FIELDS_MAX) {
		rr = bare_record(buf, len, p, x);
		p = x->end;
	} else if (ldns_wire2rr(&rr, buf, len, &p, sec) != LDNS_STATUS_OK) {
		return NULL;
	}
	if (!rr)
		return NULL;
	if (p != x->end) {
		ldns_rr_free(rr);
		return NULL;
	}
	*pos = p;
	return rr;
}

/*
 * Appends rdf's presentation form to b. Names lose their final dot, except the root, and
 * the space some printers leave at the end (NSEC bitmaps, NSEC3 salts) goes too, since
 * fields are joined with one space anyway.
 *
 * Some of ldns's printers write characters without growing the buffer first: those of
 * SVCB/HTTPS parameters in 1.8.3 write key names, separators and alpn bytes that way, and
 * past the end of the buffer they abort on an assertion (or, built without assertions,
 * write past the allocation). In all of them no byte of rdata becomes more than 8
 * characters ("no-default-alpn," for each 2-byte key of a mandatory list is the most), so
 * that much room is made first. The buffer serves the whole message, so this allocates only
 * for a field larger than any before it.
 */
static int put_rdf(ldns_buffer *b, const ldns_rdf *rdf)
{
	size_t start = ldns_buffer_position(b), end;

	if (!ldns_buffer_reserve(b, 8 * ldns_rdf_size(rdf) + 64))
		return -1;
	if (ldns_rdf2buffer_str(b, rdf) != LDNS_STATUS_OK || !ldns_buffer_status_ok(b))
		return -1;
	end = ldns_buffer_position(b);
	while (end > start && *ldns_buffer_at(b, end - 1) == ' ')
		end--;
	if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_DNAME && end - start > 1 &&
	    *ldns_buffer_at(b, end - 1) == '.')
		end--;
	ldns_buffer_set_position(b, end);
	return 0;
}

/* RFC 3597's generic form, for rdata that ldns decoded but cannot present. */
static int put_generic(ldns_buffer *b, const uint8_t *rdata, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	ldns_buffer_printf(b, "\\# %zu%s", n, n ? " " : "");
	if (!ldns_buffer_reserve(b, 2 * n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		ldns_buffer_write_u8(b, (uint8_t)hex[rdata[i] >> 4]);
		ldns_buffer_write_u8(b, (uint8_t)hex[rdata[i] & 15]);
	}
	return ldns_buffer_status_ok(b) ? 0 : -1;
}

/*
 * The rdata's fields in presentation form, separated by spaces, as in a zone file. WKS is
 * shown in the generic form: ldns names its ports with getservbyport(), a scan of
 * /etc/services for each of up to 65536 bits, which one message could make last seconds.
 */
static int put_rdata(ldns_buffer *b, const ldns_rr *rr, const uint8_t *rdata, size_t rdlen)
{
	size_t n = ldns_rr_rd_count(rr), start = ldns_buffer_position(b);

	for (size_t i = 0; i < n; i++) {
		ldns_rdf_type t = ldns_rdf_get_type(ldns_rr_rdf(rr, i));

		if (t == LDNS_RDF_TYPE_WKS || t == LDNS_RDF_TYPE_SERVICE)
			return put_generic(b, rdata, rdlen);
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			ldns_buffer_printf(b, " ");
		/* A field ldns decoded but will not show (an SVCB parameter it finds
		 * malformed, say): the whole rdata in the generic form instead. */
		if (put_rdf(b, ldns_rr_rdf(rr, i)) < 0) {
			ldns_buffer_set_position(b, start);
			return put_generic(b, rdata, rdlen);
		}
	}
	/* No fields: RDLENGTH 0 (ldns writes the same), or a record from bare_record. */
	if (n == 0)
		return put_generic(b, rdata, rdlen);
	return 0;
}

/* JSON text being built into a fixed array. cap leaves room for the closing "]" and the NUL,
 * so the array can always be closed. */
struct json {
	char *s;
	size_t cap;
	size_t len;
	int full;   /* a write did not fit; it and all later ones were dropped */
};

static void put(struct json *j, const char *s, size_t n)
{
	if (j->full || n > j->cap - j->len) {
		j->full = 1;
		return;
	}
	memcpy(j->s + j->len, s, n);
	j->len += n;
}

/*
 * A JSON string. ldns escapes what is not printable as \DDD, but lets tabs through, and a
 * locale other than C could let bytes above 0x7f through too: anything outside printable
 * ASCII is escaped here, so the text is ASCII and valid JSON whatever the bytes.
 */
static void put_str(struct json *j, const char *s, size_t n)
{
	char esc[8];

	put(j, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *short_esc = NULL;

		switch (c) {
		case '"': short_esc = "\\\""; break;
		case '\\': short_esc = "\\\\"; break;
		case '\b': short_esc = "\\b"; break;
		case '\f': short_esc = "\\f"; break;
		case '\n': short_esc = "\\n"; break;
		case '\r': short_esc = "\\r"; break;
		case '\t': short_esc = "\\t"; break;
		}
		if (short_esc)
			put(j, short_esc, 2);
		else if (c < 0x20 || c >= 0x7f)
			put(j, esc, (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c));
		else
			put(j, (const char *)&c, 1);
	}
	put(j, "\"", 1);
}

static void put_buf_str(struct json *j, ldns_buffer *b)
{
	put_str(j, (const char *)ldns_buffer_begin(b), ldns_buffer_position(b));
}

static void add_addr(struct fr_dns_msg *m, const ldns_rr *rr)
{
	const ldns_rdf *rdf = ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : NULL;
	size_t n;

	if (!rdf || (size_t)m->naddrs >= sizeof(m->addrs) / sizeof(m->addrs[0]))
		return;
	n = ldns_rdf_size(rdf);
	if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_A && n == 4)
		m->addrs[m->naddrs].family = 4;
	else if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_AAAA && n == 16)
		m->addrs[m->naddrs].family = 6;
	else
		return;
	memcpy(m->addrs[m->naddrs].addr, ldns_rdf_data(rdf), n);
	m->naddrs++;
}

/*
 * One answer as {"name","type","ttl","data"}. A record that does not fit is taken back
 * whole and ends the array there, so the JSON stays valid and keeps the order of the
 * section; answers_parsed still counts every record.
 */
static void add_answer(struct json *j, ldns_buffer *b, const ldns_rr *rr, const uint8_t *buf,
		       const struct extent *x)
{
	size_t mark = j->len;
	char type[16], ttl[32];

	if (j->full)
		return;
	put(j, mark > 1 ? ",{\"name\":" : "{\"name\":", mark > 1 ? 9 : 8);
	ldns_buffer_clear(b);
	if (put_rdf(b, ldns_rr_owner(rr)) < 0)
		goto fail;
	put_buf_str(j, b);
	put(j, ",\"type\":", 8);
	fr_dns_type_str(ldns_rr_get_type(rr), type, sizeof(type));
	put_str(j, type, strlen(type));
	put(j, ttl, (size_t)snprintf(ttl, sizeof(ttl), ",\"ttl\":%u", (unsigned)ldns_rr_ttl(rr)));
	put(j, ",\"data\":", 8);
	ldns_buffer_clear(b);
	if (put_rdata(b, rr, buf + x->rdata, x->rdlen) < 0)
		goto fail;
	put_buf_str(j, b);
	put(j, "}", 1);
	if (!j->full)
		return;
fail:
	/* Out of memory in ldns lands here too: the array ends rather than skipping. */
	j->len = mark;
	j->full = 1;
}

/*
 * qname gets the name cut to fit if need be, never inside an escape: only names with many
 * escaped bytes are longer than 255 characters, and half an escape would not read back.
 */
static void set_qname(struct fr_dns_msg *m, ldns_buffer *b, const ldns_rdf *owner)
{
	const char *s;
	size_t n, i = 0;

	ldns_buffer_clear(b);
	if (put_rdf(b, owner) < 0)
		return;
	s = (const char *)ldns_buffer_begin(b);
	n = ldns_buffer_position(b);
	while (i < n) {
		size_t step = 1;

		if (s[i] == '\\')
			step = i + 1 < n && isdigit((unsigned char)s[i + 1]) ? 4 : 2;
		if (i + step > n)
			step = n - i;
		if (i + step > sizeof(m->qname) - 1)
			break;
		i += step;
	}
	memcpy(m->qname, s, i);
	m->qname[i] = '\0';
}

int fr_dns_parse(const uint8_t *buf, size_t len, struct fr_dns_msg *out)
{
	static const ldns_pkt_section sections[4] = {
		LDNS_SECTION_QUESTION, LDNS_SECTION_ANSWER, LDNS_SECTION_AUTHORITY,
		LDNS_SECTION_ADDITIONAL,
	};
	struct json j;
	ldns_buffer *b = NULL;
	size_t pos = HDR_LEN;

	if (!out)
		return -1;
	memset(out, 0, sizeof(*out));
	memcpy(out->answers_json, "[]", 3);
	if (!buf || len < HDR_LEN)
		return -1;

	out->id = get16(buf);
	out->is_response = buf[2] >> 7;
	out->opcode = (buf[2] >> 3) & 15;
	out->truncated = (buf[2] >> 1) & 1;
	out->rcode = buf[3] & 15;

	j = (struct json){ .s = out->answers_json, .cap = sizeof(out->answers_json) - 2 };
	put(&j, "[", 1);
	b = ldns_buffer_new(256);
	if (!b)
		goto done;
	for (int s = 0; s < 4; s++) {
		unsigned count = get16(buf + 4 + 2 * s);

		for (unsigned i = 0; i < count; i++) {
			struct extent x;
			ldns_rr *rr = next_record(buf, len, &pos, sections[s], &x);

			if (!rr)
				goto done;
			if (sections[s] == LDNS_SECTION_QUESTION && i == 0) {
				set_qname(out, b, ldns_rr_owner(rr));
				out->qtype = ldns_rr_get_type(rr);
				out->qclass = ldns_rr_get_class(rr);
				out->has_question = 1;
			} else if (sections[s] == LDNS_SECTION_ANSWER) {
				out->answers_parsed++;
				add_answer(&j, b, rr, buf, &x);
				if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A ||
				    ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA)
					add_addr(out, rr);
			}
			ldns_rr_free(rr);
		}
	}
	out->complete = 1;
done:
	j.s[j.len++] = ']';
	j.s[j.len] = '\0';
	ldns_buffer_free(b);
	return 0;
}

const char *fr_dns_type_str(uint16_t type, char *buf, size_t len)
{
	char *s;

	if (!buf || !len)
		return buf;
	/* ldns_rr_type2str knows the query-only types (ANY, AXFR, ...) besides its table. */
	s = ldns_rr_type2str((ldns_rr_type)type);
	if (s)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "TYPE%u", (unsigned)type);
	free(s);
	return buf;
}

const char *fr_dns_rcode_str(int rcode, char *buf, size_t len)
{
	const ldns_lookup_table *l = ldns_lookup_by_id(ldns_rcodes, rcode);

	if (!buf || !len)
		return buf;
	if (l && l->name)
		snprintf(buf, len, "%s", l->name);
	else
		snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}

/* "PREFIX123": the number after prefix, all digits, at most max. Stricter than ldns's atoi,
 * which takes "TYPE99999" as some other type and "TYPE-5" as 65531. */
static int parse_numeric(const char *s, const char *prefix, unsigned long max, unsigned long *out)
{
	size_t n = strlen(prefix);
	unsigned long v = 0;

	if (strncasecmp(s, prefix, n) != 0 || !s[n])
		return -1;
	for (s += n; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

int fr_dns_type_parse(const char *s, uint16_t *out)
{
	unsigned long v;
	ldns_rr_type t;

	if (!s || !*s || !out)
		return -1;
	/* No type's name starts with TYPE but the numeric ones, which ldns would atoi. */
	if (strncasecmp(s, "TYPE", 4) == 0) {
		if (parse_numeric(s, "TYPE", UINT16_MAX, &v) < 0)
			return -1;
		*out = (uint16_t)v;
		return 0;
	}
	/* 0 is ldns's "no such name"; TYPE0 has been handled above. */
	t = ldns_get_rr_type_by_name(s);
	if (t == 0)
		return -1;
	*out = (uint16_t)t;
	return 0;
}

int fr_dns_rcode_parse(const char *s, int *out)
{
	const ldns_lookup_table *l;
	unsigned long v;

	if (!s || !*s || !out)
		return -1;
	if (parse_numeric(s, "RCODE", RCODE_MAX, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	l = ldns_lookup_by_name(ldns_rcodes, s);
	if (!l)
		return -1;
	*out = l->id;
	return 0;
}
