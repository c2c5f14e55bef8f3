/*
 * pcapng and classic pcap writers and a bounds-checked pcapng block reader (see pcapng.h).
 *
 * Layouts follow draft-ietf-opsawg-pcapng. Every multi-byte field goes through put/get
 * helpers built on memcpy, so buffers need no alignment and the reader never dereferences a
 * pointer it has not checked against the end of its input.
 */
#include "pcapng.h"

#include <limits.h>
#include <string.h>

#define SHB_MAGIC 0x1A2B3C4Du
#define SHB_MAGIC_SWAPPED 0x4D3C2B1Au

#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_TSRESOL 9
#define OPT_EPB_FLAGS 2
#define OPT_EPB_PID_TID 8

#define IF_NAME "flowrec"

/* Fixed parts of each block: type, length, body before the options, trailing length. */
#define SHB_FIXED (8 + 16 + 4)
#define IDB_FIXED (8 + 8 + 4)
#define EPB_FIXED (8 + 20 + 4)

/* libpcap's MAXIMUM_SNAPLEN: classic pcap has no "unlimited", and 0 is not a snaplen. */
#define PCAP_SNAPLEN_MAX 262144u

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Writes one option at p (the caller has checked the room) and returns its padded size.
 * Padding is zeroed so that files are byte-for-byte reproducible. */
static size_t put_opt(uint8_t *p, uint16_t code, const void *val, uint16_t len)
{
	size_t n = pad4(len);

	put16(p, code);
	put16(p + 2, len);
	if (len)
		memcpy(p + 4, val, len);
	memset(p + 4 + len, 0, n - len);
	return 4 + n;
}

size_t fr_pcapng_header(uint8_t *buf, size_t len, uint32_t snaplen, const char *app)
{
	static const uint8_t tsresol = 9;
	/* An option's length is 16 bits; an application name longer than that is cut rather
	 * than refused, because 0 here means "buffer too small" to the caller. */
	size_t app_len = app ? strnlen(app, UINT16_MAX) : 0;
	size_t shb = SHB_FIXED + (app_len ? 4 + pad4(app_len) : 0) + 4;
	size_t idb = IDB_FIXED + 4 + pad4(sizeof(IF_NAME) - 1) + 4 + 4 + 4;
	uint8_t *p = buf;

	if (!buf || len < shb + idb)
		return 0;

	put32(p, FR_PCAPNG_SHB);
	put32(p + 4, (uint32_t)shb);
	put32(p + 8, SHB_MAGIC);
	put16(p + 12, 1);
	put16(p + 14, 0);
	/* Section length -1: unknown, so readers walk blocks instead of skipping sections. */
	memset(p + 16, 0xff, 8);
	p += 24;
	if (app_len)
		p += put_opt(p, OPT_SHB_USERAPPL, app, (uint16_t)app_len);
	p += put_opt(p, OPT_ENDOFOPT, NULL, 0);
	put32(p, (uint32_t)shb);
	p += 4;

	put32(p, FR_PCAPNG_IDB);
	put32(p + 4, (uint32_t)idb);
	put16(p + 8, FR_LINKTYPE_RAW);
	put16(p + 10, 0);
	put32(p + 12, snaplen);
	p += 16;
	p += put_opt(p, OPT_IF_NAME, IF_NAME, sizeof(IF_NAME) - 1);
	p += put_opt(p, OPT_IF_TSRESOL, &tsresol, 1);
	p += put_opt(p, OPT_ENDOFOPT, NULL, 0);
	put32(p, (uint32_t)idb);
	p += 4;

	return (size_t)(p - buf);
}

/* Exact size of the EPB fr_pcapng_epb writes for p. */
static size_t epb_len(const struct fr_pcap_packet *p)
{
	size_t n = EPB_FIXED + pad4(p->caplen);
	int opts = 0;

	if (p->comment && p->comment_len) {
		n += 4 + pad4(p->comment_len);
		opts = 1;
	}
	if (p->flags) {
		n += 4 + 4;
		opts = 1;
	}
	if (p->pid) {
		n += 4 + 8;
		opts = 1;
	}
	/* opt_endofopt only terminates a list; a block without options needs none. */
	return n + (opts ? 4 : 0);
}

size_t fr_pcapng_epb_size(uint32_t caplen, size_t comment_len)
{
	if (comment_len > UINT16_MAX)
		comment_len = UINT16_MAX;
	return EPB_FIXED + pad4(caplen) + 4 + pad4(comment_len) + 4 + 4 + 4 + 8 + 4;
}

size_t fr_pcapng_epb(uint8_t *buf, size_t len, const struct fr_pcap_packet *p)
{
	size_t n, data_pad;
	uint64_t ts;
	uint8_t *q = buf;

	if (!buf || !p || (p->caplen && !p->data))
		return 0;
	n = epb_len(p);
	/* The block length field is 32 bits; only a caplen near 4 GiB gets here. */
	if (n > UINT32_MAX || len < n)
		return 0;

	ts = (uint64_t)p->ts_ns;
	put32(q, FR_PCAPNG_EPB);
	put32(q + 4, (uint32_t)n);
	put32(q + 8, 0);
	put32(q + 12, (uint32_t)(ts >> 32));
	put32(q + 16, (uint32_t)ts);
	put32(q + 20, p->caplen);
	put32(q + 24, p->origlen);
	q += 28;
	if (p->caplen)
		memcpy(q, p->data, p->caplen);
	data_pad = pad4(p->caplen);
	memset(q + p->caplen, 0, data_pad - p->caplen);
	q += data_pad;

	if (p->comment && p->comment_len)
		q += put_opt(q, OPT_COMMENT, p->comment, p->comment_len);
	if (p->flags)
		q += put_opt(q, OPT_EPB_FLAGS, &p->flags, 4);
	if (p->pid) {
		uint8_t v[8];

		put32(v, p->pid);
		put32(v + 4, p->tid);
		q += put_opt(q, OPT_EPB_PID_TID, v, 8);
	}
	if (q != buf + 28 + data_pad)
		q += put_opt(q, OPT_ENDOFOPT, NULL, 0);
	put32(q, (uint32_t)n);
	q += 4;
	return (size_t)(q - buf);
}

size_t fr_pcap_header(uint8_t *buf, size_t len, uint32_t snaplen)
{
	if (!buf || len < 24)
		return 0;
	put32(buf, 0xa1b23c4du);
	put16(buf + 4, 2);
	put16(buf + 6, 4);
	put32(buf + 8, 0);  /* thiszone: timestamps are UTC */
	put32(buf + 12, 0); /* sigfigs */
	put32(buf + 16, snaplen ? snaplen : PCAP_SNAPLEN_MAX);
	put32(buf + 20, FR_LINKTYPE_RAW);
	return 24;
}

size_t fr_pcap_record(uint8_t *buf, size_t len, const struct fr_pcap_packet *p)
{
	int64_t sec, nsec;

	if (!buf || !p || (p->caplen && !p->data) || len < 16 || len - 16 < p->caplen)
		return 0;
	/* Floor division, so that a time before the epoch still has 0 <= nsec < 1e9. */
	sec = p->ts_ns / 1000000000;
	nsec = p->ts_ns % 1000000000;
	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	put32(buf, (uint32_t)sec);
	put32(buf + 4, (uint32_t)nsec);
	put32(buf + 8, p->caplen);
	put32(buf + 12, p->origlen);
	if (p->caplen)
		memcpy(buf + 16, p->data, p->caplen);
	return 16 + (size_t)p->caplen;
}

/* Walks the options in opt[0..len). For an EPB (pkt != NULL) fills in the ones flowrec
 * writes, in whatever order they come; everything else is only checked for fitting.
 * Returns 0, or -1 if an option runs past the block or a known one has the wrong size. */
static int parse_opts(const uint8_t *opt, size_t len, struct fr_pcap_packet *pkt)
{
	size_t off = 0;

	while (len - off >= 4) {
		uint16_t code = get16(opt + off);
		uint16_t olen = get16(opt + off + 2);
		const uint8_t *val = opt + off + 4;

		if (code == OPT_ENDOFOPT)
			return 0;
		if (pad4(olen) > len - off - 4)
			return -1;
		if (pkt) {
			switch (code) {
			case OPT_COMMENT:
				/* A zero-length comment is no comment: keeps NULL and "" alike. */
				pkt->comment = olen ? (const char *)val : NULL;
				pkt->comment_len = olen;
				break;
			case OPT_EPB_FLAGS:
				if (olen != 4)
					return -1;
				pkt->flags = get32(val);
				break;
			case OPT_EPB_PID_TID:
				if (olen != 8)
					return -1;
				pkt->pid = get32(val);
				pkt->tid = get32(val + 4);
				break;
			default:
				break;
			}
		}
		off += 4 + pad4(olen);
	}
	/* Block lengths and fixed parts are multiples of 4, so nothing can be left over
	 * here; an options area that ends without opt_endofopt is allowed. */
	return 0;
}

/* parse_block returns any 32-bit block length as a positive long. */
_Static_assert(LONG_MAX >= UINT32_MAX, "long must hold a pcapng block length");

long fr_pcapng_parse_block(const uint8_t *buf, size_t len, uint32_t *type, struct fr_pcap_packet *pkt)
{
	uint32_t btype, total;
	const uint8_t *body;
	size_t body_len;

	if (!buf || len < 8)
		return 0;
	btype = get32(buf);
	/* The byte-order magic decides how to read the SHB's own length, so it is checked
	 * first: a file from a host of the other byte order is refused, not "incomplete". */
	if (btype == FR_PCAPNG_SHB) {
		if (len < 12)
			return 0;
		if (get32(buf + 8) != SHB_MAGIC)
			return -1;
	}
	total = get32(buf + 4);
	if (total < 12 || total % 4 != 0)
		return -1;
	if (total > len)
		return 0;
	if (get32(buf + total - 4) != total)
		return -1;
	body = buf + 8;
	body_len = total - 12;

	switch (btype) {
	case FR_PCAPNG_SHB:
		if (body_len < 16 || get16(body + 4) != 1)
			return -1;
		if (parse_opts(body + 16, body_len - 16, NULL) < 0)
			return -1;
		break;
	case FR_PCAPNG_IDB:
		if (body_len < 8 || parse_opts(body + 8, body_len - 8, NULL) < 0)
			return -1;
		break;
	case FR_PCAPNG_EPB: {
		struct fr_pcap_packet p = { 0 };
		uint64_t ts;
		size_t data_pad;

		if (body_len < 20)
			return -1;
		ts = (uint64_t)get32(body + 4) << 32 | get32(body + 8);
		p.ts_ns = (int64_t)ts;
		p.caplen = get32(body + 12);
		p.origlen = get32(body + 16);
		/* caplen is untrusted: compare before padding so that it cannot wrap. */
		if (p.caplen > body_len - 20)
			return -1;
		data_pad = pad4(p.caplen);
		if (data_pad > body_len - 20)
			return -1;
		p.data = body + 20;
		/* A packet is never longer on disk than on the wire; a damaged block that says so
		 * would make an export tcpdump rejects. What is there is kept. */
		if (p.origlen < p.caplen)
			p.origlen = p.caplen;
		if (parse_opts(body + 20 + data_pad, body_len - 20 - data_pad, &p) < 0)
			return -1;
		if (pkt)
			*pkt = p;
		break;
	}
	default:
		/* Other blocks (name resolution, statistics, custom) are skipped whole. */
		break;
	}
	if (type)
		*type = btype;
	return (long)total;
}

size_t fr_pcapng_valid_prefix(const uint8_t *buf, size_t len)
{
	size_t off = 0;
	uint32_t type = 0;
	long n;

	n = fr_pcapng_parse_block(buf, len, &type, NULL);
	if (n <= 0 || type != FR_PCAPNG_SHB)
		return 0;
	while (n > 0) {
		off += (size_t)n;
		n = fr_pcapng_parse_block(buf + off, len - off, &type, NULL);
	}
	return off;
}

int64_t fr_pcapng_comment_flow(const char *comment, size_t len)
{
	static const char key[] = "flow=";
	const size_t klen = sizeof(key) - 1;
	size_t at = SIZE_MAX, i;
	int64_t v = 0;

	if (!comment || len < klen)
		return -1;
	/* The last "flow=" that starts a field: flow is the last field, and comm (a process
	 * name anyone can choose) may itself contain "flow=". */
	for (i = len - klen + 1; i-- > 0;) {
		if ((i == 0 || comment[i - 1] == ' ') && memcmp(comment + i, key, klen) == 0) {
			at = i + klen;
			break;
		}
	}
	if (at == SIZE_MAX || at == len)
		return -1;
	for (i = at; i < len && comment[i] != ' '; i++) {
		int d = comment[i] - '0';

		if (d < 0 || d > 9)
			return -1;
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	return v;
}
