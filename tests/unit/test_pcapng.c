/*
 * Unit tests for lib/pcapng.c: exact bytes of the pcapng header, of EPBs and of classic pcap
 * records; write/parse round trips; the reader's answers on every truncation and on
 * corrupted blocks; trimming a cut-short file; and, when tshark (and tcpdump) are installed,
 * that those tools read what flowrec writes: comments, addresses, ns times, direction.
 *
 * Truncated and corrupted inputs are copied into buffers of exactly their size, so that
 * under ASan any read past the end fails the test instead of reading a neighbour's bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pcapng.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 2023-11-14T22:13:20.123456789Z */
#define TS1 1700000000123456789LL

/* The expected byte arrays below are written little-endian, as an x86 or arm64 host writes
 * them; on a big-endian host those tests are skipped (the round trips still run). */
static int host_le(void)
{
	const uint16_t one = 1;
	uint8_t b;

	memcpy(&b, &one, 1);
	return b == 1;
}

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	if (got_len != want_len)
		fail_msg("%zu bytes, want %zu", got_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		if (got[i] != want[i])
			fail_msg("byte %zu is 0x%02x, want 0x%02x", i, got[i], want[i]);
}

/* A heap copy of exactly len bytes (never NULL, even for 0), for ASan to guard. */
static uint8_t *exact_copy(const uint8_t *buf, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	assert_non_null(c);
	if (len)
		memcpy(c, buf, len);
	return c;
}

static long parse_exact(const uint8_t *buf, size_t len, uint32_t *type, struct fr_pcap_packet *pkt)
{
	uint8_t *c = exact_copy(buf, len);
	long r = fr_pcapng_parse_block(c, len, type, pkt);

	/* pkt would point into c: callers that want the packet use the original buffer. */
	if (pkt)
		memset(pkt, 0, sizeof(*pkt));
	free(c);
	return r;
}

static size_t valid_prefix_exact(const uint8_t *buf, size_t len)
{
	uint8_t *c = exact_copy(buf, len);
	size_t r = fr_pcapng_valid_prefix(c, len);

	free(c);
	return r;
}

static const uint8_t want_header[] = {
	/* SHB */
	0x0a, 0x0d, 0x0d, 0x0a, 44, 0, 0, 0,
	0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,                     /* magic, major 1, minor 0 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,         /* section length -1 */
	4, 0, 7, 0, 'f', 'l', 'o', 'w', 'r', 'e', 'c', 0,       /* shb_userappl, padded */
	0, 0, 0, 0,                                             /* opt_endofopt */
	44, 0, 0, 0,
	/* IDB */
	1, 0, 0, 0, 44, 0, 0, 0,
	101, 0, 0, 0, 0xff, 0xff, 0, 0,                         /* LINKTYPE_RAW, snaplen 65535 */
	2, 0, 7, 0, 'f', 'l', 'o', 'w', 'r', 'e', 'c', 0,       /* if_name */
	9, 0, 1, 0, 9, 0, 0, 0,                                 /* if_tsresol 10^-9 */
	0, 0, 0, 0,
	44, 0, 0, 0,
};

static void test_header_bytes(void **state)
{
	uint8_t buf[256];
	uint32_t type;
	size_t n;

	(void)state;
	if (!host_le())
		skip();
	memset(buf, 0xaa, sizeof(buf));
	n = fr_pcapng_header(buf, sizeof(buf), 65535, "flowrec");
	expect_bytes(buf, n, want_header, sizeof(want_header));
	assert_int_equal(buf[n], 0xaa);

	assert_int_equal(fr_pcapng_parse_block(buf, n, &type, NULL), 44);
	assert_int_equal(type, FR_PCAPNG_SHB);
	assert_int_equal(fr_pcapng_parse_block(buf + 44, n - 44, &type, NULL), 44);
	assert_int_equal(type, FR_PCAPNG_IDB);
	assert_int_equal(fr_pcapng_valid_prefix(buf, n), n);

	/* Without an application name the SHB has only opt_endofopt. */
	n = fr_pcapng_header(buf, sizeof(buf), 0, NULL);
	assert_int_equal(n, 32 + 44);
	assert_int_equal(buf[4], 32);
	assert_int_equal(buf[24], 0);
	assert_int_equal(buf[32 + 12], 0); /* snaplen 0 */
	assert_int_equal(fr_pcapng_parse_block(buf, n, &type, NULL), 32);
	assert_int_equal(fr_pcapng_header(buf, sizeof(buf), 0, ""), 32 + 44);
}

static const uint8_t pkt5[] = { 0x45, 0x00, 0x00, 0x3c, 0xab };
#define COMMENT1 "pid=42 tid=43 comm=curl flow=7"

static const uint8_t want_epb[] = {
	6, 0, 0, 0, 100, 0, 0, 0,
	0, 0, 0, 0,                                             /* interface 0 */
	0xfe, 0x9c, 0x97, 0x17, 0x15, 0xcd, 0x85, 0x3d,         /* TS1: high, low */
	5, 0, 0, 0, 60, 0, 0, 0,                                /* caplen 5, origlen 60 */
	0x45, 0x00, 0x00, 0x3c, 0xab, 0, 0, 0,                  /* data, padded */
	1, 0, 30, 0,                                            /* opt_comment, 30 bytes */
	'p', 'i', 'd', '=', '4', '2', ' ', 't', 'i', 'd', '=', '4', '3', ' ', 'c', 'o',
	'm', 'm', '=', 'c', 'u', 'r', 'l', ' ', 'f', 'l', 'o', 'w', '=', '7', 0, 0,
	2, 0, 4, 0, 2, 0, 0, 0,                                 /* epb_flags outbound */
	8, 0, 8, 0, 42, 0, 0, 0, 43, 0, 0, 0,                   /* pid 42, tid 43 */
	0, 0, 0, 0,
	100, 0, 0, 0,
};

static struct fr_pcap_packet packet1(void)
{
	return (struct fr_pcap_packet){
		.ts_ns = TS1,
		.caplen = sizeof(pkt5),
		.origlen = 60,
		.data = pkt5,
		.flags = FR_EPB_OUTBOUND,
		.pid = 42,
		.tid = 43,
		.comment = COMMENT1,
		.comment_len = sizeof(COMMENT1) - 1,
	};
}

static void test_epb_bytes(void **state)
{
	struct fr_pcap_packet p = packet1(), q;
	uint8_t buf[256];
	uint32_t type;
	size_t n;

	(void)state;
	if (!host_le())
		skip();
	memset(buf, 0xaa, sizeof(buf));
	n = fr_pcapng_epb(buf, sizeof(buf), &p);
	expect_bytes(buf, n, want_epb, sizeof(want_epb));
	assert_int_equal(buf[n], 0xaa);

	memset(&q, 0, sizeof(q));
	assert_int_equal(fr_pcapng_parse_block(buf, n, &type, &q), 100);
	assert_int_equal(type, FR_PCAPNG_EPB);
	assert_int_equal(q.ts_ns, TS1);
	assert_int_equal(fr_pcapng_comment_flow(q.comment, q.comment_len), 7);
}

/* No comment, flags or pid: no options at all, so no opt_endofopt either. */
static void test_epb_bare_bytes(void **state)
{
	static const uint8_t want[] = {
		6, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 1, 0, 0, 0,                          /* ts 1 ns */
		0, 0, 0, 0, 40, 0, 0, 0,                         /* caplen 0, origlen 40 */
		32, 0, 0, 0,
	};
	struct fr_pcap_packet p = { .ts_ns = 1, .origlen = 40, .comment = "" };
	uint8_t buf[64];

	(void)state;
	if (!host_le())
		skip();
	expect_bytes(buf, fr_pcapng_epb(buf, sizeof(buf), &p), want, sizeof(want));
	/* tid alone is not written: the option exists only with a pid. */
	p.tid = 9;
	assert_int_equal(fr_pcapng_epb(buf, sizeof(buf), &p), 32);
}

/* A damaged block saying it holds more than was on the wire: parsed with origlen raised to
 * caplen, so that an export from it is a file tcpdump reads. */
static void test_epb_caplen_over_origlen(void **state)
{
	static const uint8_t block[] = {
		6, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 1, 0, 0, 0,                          /* ts 1 ns */
		8, 0, 0, 0, 4, 0, 0, 0,                          /* caplen 8, origlen 4 */
		1, 2, 3, 4, 5, 6, 7, 8,
		40, 0, 0, 0,
	};
	struct fr_pcap_packet p = { 0 };
	uint32_t type = 0;

	(void)state;
	if (!host_le())
		skip();
	assert_int_equal(fr_pcapng_parse_block(block, sizeof(block), &type, &p), (long)sizeof(block));
	assert_int_equal(type, FR_PCAPNG_EPB);
	assert_int_equal(p.caplen, 8);
	assert_int_equal(p.origlen, 8);
}

static void expect_same_packet(const struct fr_pcap_packet *got, const struct fr_pcap_packet *want)
{
	assert_int_equal(got->ts_ns, want->ts_ns);
	assert_int_equal(got->caplen, want->caplen);
	assert_int_equal(got->origlen, want->origlen);
	if (want->caplen)
		assert_memory_equal(got->data, want->data, want->caplen);
	assert_int_equal(got->flags, want->flags);
	assert_int_equal(got->pid, want->pid);
	assert_int_equal(got->tid, want->pid ? want->tid : 0);
	if (want->comment && want->comment_len) {
		assert_int_equal(got->comment_len, want->comment_len);
		assert_memory_equal(got->comment, want->comment, want->comment_len);
	} else {
		assert_null(got->comment);
		assert_int_equal(got->comment_len, 0);
	}
}

#define NPKT 16
#define LONG_COMMENT UINT16_MAX

/* A file of packets covering caplen 0, every padding, long data, the longest comment, and
 * each option alone. Returns its size; the packets are in p[0..NPKT). */
static size_t make_file(uint8_t *buf, size_t len, struct fr_pcap_packet p[NPKT], uint8_t *data,
			char *comment)
{
	size_t off, n;

	for (size_t i = 0; i < 1500; i++)
		data[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < LONG_COMMENT; i++)
		comment[i] = (char)('a' + i % 26);
	for (int i = 0; i < NPKT; i++) {
		p[i] = (struct fr_pcap_packet){
			.ts_ns = TS1 + i * 1000003LL,
			.caplen = (uint32_t)i,
			.origlen = (uint32_t)i + 100,
			.data = data + i,
			.flags = (uint32_t)(i % 3),
			.pid = (uint32_t)(i % 4 ? 1000 + i : 0),
			.tid = (uint32_t)(2000 + i),
			.comment = i % 2 ? comment : NULL,
			.comment_len = (uint16_t)(i % 2 ? i * 3 : 0),
		};
	}
	p[0].data = NULL; /* caplen 0 needs no data */
	p[8].caplen = p[8].origlen = 1500;
	p[9].comment_len = LONG_COMMENT;
	p[10].ts_ns = -1; /* before the epoch: all 64 bits are stored */
	p[11].ts_ns = INT64_MAX;
	p[12] = (struct fr_pcap_packet){ .ts_ns = 5, .caplen = 3, .origlen = 3, .data = data, .pid = 1, .tid = 0 };
	p[13] = (struct fr_pcap_packet){ .caplen = 2, .origlen = 2, .data = data, .flags = UINT32_MAX };
	p[14] = (struct fr_pcap_packet){ .caplen = 7, .origlen = 7, .data = data, .comment = "x", .comment_len = 1 };
	p[15] = (struct fr_pcap_packet){ .pid = UINT32_MAX, .tid = UINT32_MAX };

	off = fr_pcapng_header(buf, len, 0, "flowrec test");
	assert_int_not_equal(off, 0);
	for (int i = 0; i < NPKT; i++) {
		n = fr_pcapng_epb(buf + off, len - off, &p[i]);
		assert_int_not_equal(n, 0);
		assert_int_equal(n % 4, 0);
		assert_true(n <= fr_pcapng_epb_size(p[i].caplen, p[i].comment_len));
		off += n;
	}
	return off;
}

struct file {
	uint8_t buf[1 << 18];
	struct fr_pcap_packet p[NPKT];
	uint8_t data[1500 + NPKT];
	char comment[LONG_COMMENT];
	size_t len;
	size_t ends[NPKT + 2]; /* where each block ends */
};

static int file_setup(void **state)
{
	struct file *f = calloc(1, sizeof(*f));
	size_t off = 0;
	int k = 0;

	if (!f)
		return -1;
	f->len = make_file(f->buf, sizeof(f->buf), f->p, f->data, f->comment);
	while (off < f->len) {
		long r = fr_pcapng_parse_block(f->buf + off, f->len - off, NULL, NULL);

		if (r <= 0 || k >= NPKT + 2)
			return -1;
		off += (size_t)r;
		f->ends[k++] = off;
	}
	*state = f;
	return 0;
}

static int file_teardown(void **state)
{
	free(*state);
	return 0;
}

static void test_round_trip(void **state)
{
	struct file *f = *state;
	size_t off = 0;
	uint32_t type;
	long r;

	r = fr_pcapng_parse_block(f->buf, f->len, &type, NULL);
	assert_true(r > 0);
	assert_int_equal(type, FR_PCAPNG_SHB);
	off += (size_t)r;
	r = fr_pcapng_parse_block(f->buf + off, f->len - off, &type, NULL);
	assert_true(r > 0);
	assert_int_equal(type, FR_PCAPNG_IDB);
	off += (size_t)r;
	for (int i = 0; i < NPKT; i++) {
		struct fr_pcap_packet q;

		memset(&q, 0x5a, sizeof(q));
		r = fr_pcapng_parse_block(f->buf + off, f->len - off, &type, &q);
		if (r <= 0)
			fail_msg("packet %d: parse returned %ld", i, r);
		assert_int_equal(type, FR_PCAPNG_EPB);
		expect_same_packet(&q, &f->p[i]);
		/* Data and comment point into the block, not at the writer's copies. */
		if (q.caplen)
			assert_true(q.data > f->buf + off && q.data < f->buf + off + r);
		if (q.comment)
			assert_true((const uint8_t *)q.comment > f->buf + off &&
				    (const uint8_t *)q.comment < f->buf + off + r);
		off += (size_t)r;
	}
	assert_int_equal(off, f->len);
	assert_int_equal(fr_pcapng_parse_block(f->buf + off, 0, &type, NULL), 0);
	assert_int_equal(fr_pcapng_valid_prefix(f->buf, f->len), f->len);
}

/* A writer given too little room writes nothing past what it was given, and returns 0. */
static void test_too_small(void **state)
{
	static uint8_t buf[1 << 17];
	struct file *f = *state;

	for (size_t need = fr_pcapng_header(buf, sizeof(buf), 0, "flowrec"), len = 0; len < need; len++) {
		memset(buf, 0xaa, need);
		assert_int_equal(fr_pcapng_header(buf, len, 0, "flowrec"), 0);
		for (size_t i = len; i < need; i++)
			assert_int_equal(buf[i], 0xaa);
	}
	assert_int_equal(fr_pcapng_header(NULL, 0, 0, NULL), 0);
	for (int k = 0; k < NPKT; k++) {
		size_t need = fr_pcapng_epb(buf, sizeof(buf), &f->p[k]);
		/* Every length for small blocks; near the end for the long ones. */
		size_t from = need > 200 ? need - 200 : 0;

		assert_int_not_equal(need, 0);
		for (size_t len = from; len < need; len++) {
			memset(buf, 0xaa, need);
			assert_int_equal(fr_pcapng_epb(buf, len, &f->p[k]), 0);
			for (size_t i = len; i < need; i++)
				assert_int_equal(buf[i], 0xaa);
		}
		assert_int_equal(fr_pcapng_epb(buf, need, &f->p[k]), need);
	}
	for (size_t len = 0; len < 24; len++)
		assert_int_equal(fr_pcap_header(buf, len, 0), 0);
	for (size_t len = 0; len < 16 + f->p[8].caplen; len++)
		assert_int_equal(fr_pcap_record(buf, len, &f->p[8]), 0);
	assert_int_equal(fr_pcap_record(buf, 16 + f->p[8].caplen, &f->p[8]), 16 + 1500);

	/* Data missing for a non-zero caplen is refused rather than read from NULL. */
	{
		struct fr_pcap_packet p = { .caplen = 4 };

		assert_int_equal(fr_pcapng_epb(buf, sizeof(buf), &p), 0);
		assert_int_equal(fr_pcap_record(buf, sizeof(buf), &p), 0);
	}
}

static void test_epb_size(void **state)
{
	static uint8_t data[64], buf[1 << 17];
	static char comment[UINT16_MAX];

	(void)state;
	memset(comment, 'c', sizeof(comment));
	for (uint32_t caplen = 0; caplen < 40; caplen++) {
		for (size_t clen = 0; clen < 40; clen++) {
			struct fr_pcap_packet p = {
				.caplen = caplen, .origlen = caplen, .data = data, .flags = 3, .pid = 1, .tid = 2,
				.comment = comment, .comment_len = (uint16_t)clen,
			};
			size_t n = fr_pcapng_epb(buf, sizeof(buf), &p);

			assert_int_not_equal(n, 0);
			assert_true(n <= fr_pcapng_epb_size(caplen, clen));
			/* The bound is what a buffer gets sized by: it must be enough on its own. */
			assert_int_equal(fr_pcapng_epb(buf, fr_pcapng_epb_size(caplen, clen), &p), n);
		}
	}
	{
		struct fr_pcap_packet p = {
			.caplen = 3, .data = data, .flags = 1, .pid = 1,
			.comment = comment, .comment_len = UINT16_MAX,
		};
		size_t n = fr_pcapng_epb(buf, sizeof(buf), &p);

		assert_true(n > UINT16_MAX);
		assert_true(n <= fr_pcapng_epb_size(3, UINT16_MAX));
		/* A longer comment than an option can hold is bounded by what can be written. */
		assert_int_equal(fr_pcapng_epb_size(3, SIZE_MAX), fr_pcapng_epb_size(3, UINT16_MAX));
	}
	assert_true(fr_pcapng_epb_size(UINT32_MAX, 0) > UINT32_MAX);
}

/* Every proper prefix of every block is "incomplete", never malformed, never read past. */
static void test_truncated(void **state)
{
	struct file *f = *state;
	size_t start = 0;

	for (size_t k = 0; k < NPKT + 2; k++) {
		size_t end = f->ends[k];
		/* The comment-heavy block is long: every cut near its edges and some in between. */
		for (size_t cut = 0; cut < end - start; cut += (cut > 300 && cut + 300 < end - start) ? 997 : 1) {
			uint32_t type = 0xdeadbeef;
			long r = parse_exact(f->buf + start, cut, &type, NULL);

			if (r != 0)
				fail_msg("block %zu cut at %zu: %ld, want 0", k, cut, r);
			assert_int_equal(type, 0xdeadbeef);
		}
		start = end;
	}
}

/* Writes a u32 in host order at b + off. */
static void set32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

static void set16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, 2);
}

static long parse_copy_with(const uint8_t *blk, size_t n, size_t off, uint32_t v)
{
	uint8_t tmp[256];

	assert_true(n <= sizeof(tmp));
	memcpy(tmp, blk, n);
	set32(tmp, off, v);
	return parse_exact(tmp, n, NULL, NULL);
}

static void test_corrupted(void **state)
{
	struct fr_pcap_packet p = packet1();
	uint8_t hdr[128], epb[128], tmp[256];
	size_t hn = fr_pcapng_header(hdr, sizeof(hdr), 0, "flowrec");
	size_t en = fr_pcapng_epb(epb, sizeof(epb), &p);

	(void)state;
	assert_int_equal(parse_exact(epb, en, NULL, NULL), (long)en);

	/* Lengths that no block can have, in the header and in the trailer. */
	for (uint32_t bad = 0; bad < 12; bad++)
		assert_true(parse_copy_with(epb, en, 4, bad) < 0);
	assert_true(parse_copy_with(epb, en, 4, (uint32_t)en - 2) < 0);
	assert_true(parse_copy_with(epb, en, 4, (uint32_t)en + 1) < 0);
	assert_true(parse_copy_with(epb, en, 4, (uint32_t)en - 4) < 0); /* trailer then mismatches */
	assert_true(parse_copy_with(epb, en, en - 4, (uint32_t)en + 4) < 0);
	assert_true(parse_copy_with(epb, en, en - 4, 0) < 0);
	/* A length past the buffer cannot be told from a cut-short file. */
	assert_int_equal(parse_copy_with(epb, en, 4, (uint32_t)en + 4), 0);
	assert_int_equal(parse_copy_with(epb, en, 4, 0xfffffffc), 0);

	/* caplen past the body, including values whose padding would wrap. */
	assert_true(parse_copy_with(epb, en, 20, (uint32_t)en) < 0);
	assert_true(parse_copy_with(epb, en, 20, (uint32_t)en - 32 + 1) < 0);
	assert_true(parse_copy_with(epb, en, 20, UINT32_MAX) < 0);
	assert_true(parse_copy_with(epb, en, 20, UINT32_MAX - 2) < 0);
	/* caplen 5 -> 12: still inside the block, but the options then start mid-comment. */
	assert_true(parse_copy_with(epb, en, 20, 12) < 0);

	/* An option whose value runs past the block, and known options of the wrong size. */
	memcpy(tmp, epb, en);
	set16(tmp, 36 + 2, 200);
	assert_true(parse_exact(tmp, en, NULL, NULL) < 0);
	memcpy(tmp, epb, en);
	set16(tmp, 72 + 2, 8);
	assert_true(parse_exact(tmp, en, NULL, NULL) < 0);
	memcpy(tmp, epb, en);
	set16(tmp, 72 + 2, 2);
	assert_true(parse_exact(tmp, en, NULL, NULL) < 0);
	memcpy(tmp, epb, en);
	set16(tmp, 80 + 2, 4);
	assert_true(parse_exact(tmp, en, NULL, NULL) < 0);

	/* A body too short for the block's fixed fields. */
	{
		uint8_t small[16] = { 0 };

		set32(small, 0, FR_PCAPNG_EPB);
		set32(small, 4, 16);
		set32(small, 12, 16);
		assert_true(parse_exact(small, 16, NULL, NULL) < 0);
		set32(small, 0, FR_PCAPNG_IDB);
		assert_true(parse_exact(small, 16, NULL, NULL) < 0);
		set32(small, 0, 0x0BAD);
		set32(small, 8, 0);
		assert_int_equal(parse_exact(small, 16, NULL, NULL), 16); /* unknown: any body */
	}

	/* SHB: bad magic, the other byte order, another major version, short body. */
	assert_true(parse_copy_with(hdr, hn, 8, 0x12345678) < 0);
	assert_true(parse_copy_with(hdr, hn, 8, 0x4D3C2B1A) < 0);
	{
		/* The whole SHB as a host of the other byte order writes it. */
		uint8_t sw[32];

		memcpy(sw, hdr, sizeof(sw));
		for (size_t i = 4; i < 12; i += 4) {
			uint8_t t[4] = { sw[i + 3], sw[i + 2], sw[i + 1], sw[i] };

			memcpy(sw + i, t, 4);
		}
		/* Refused as soon as the magic is in, whatever the length then seems to say. */
		for (size_t cut = 12; cut <= sizeof(sw); cut++)
			assert_true(parse_exact(sw, cut, NULL, NULL) < 0);
		assert_int_equal(parse_exact(sw, 11, NULL, NULL), 0);
		assert_int_equal(valid_prefix_exact(sw, sizeof(sw)), 0);
	}
	memcpy(tmp, hdr, hn);
	set16(tmp, 12, 2);
	assert_true(parse_exact(tmp, hn, NULL, NULL) < 0);
	memcpy(tmp, hdr, hn);
	set16(tmp, 14, 7); /* a later minor version is still readable */
	assert_true(parse_exact(tmp, hn, NULL, NULL) > 0);
	{
		uint8_t shb[24] = { 0 };

		set32(shb, 0, FR_PCAPNG_SHB);
		set32(shb, 4, 24);
		set32(shb, 8, 0x1A2B3C4D);
		set32(shb, 20, 24);
		assert_true(parse_exact(shb, 24, NULL, NULL) < 0);
	}
	/* IDB options past the end. */
	memcpy(tmp, hdr, hn);
	set16(tmp, 44 + 16 + 2, 100);
	assert_true(parse_exact(tmp + 44, hn - 44, NULL, NULL) < 0);
}

/* Appends option code with val[0..len) at b + off, zero-padded; returns the next offset. */
static size_t add_opt(uint8_t *b, size_t off, uint16_t code, const uint8_t *val, uint16_t len)
{
	set16(b, off, code);
	set16(b, off + 2, len);
	if (len)
		memcpy(b + off + 4, val, len);
	return off + 4 + ((len + 3u) & ~3u);
}

/* Options are found in any order, unknown ones and unknown blocks are skipped, and an
 * options list may end with or without opt_endofopt. */
static void test_options_any_order(void **state)
{
	uint8_t b[128] = { 0 }, pid_tid[8], flags[4];
	size_t o = 0;
	struct fr_pcap_packet q;
	uint32_t type;

	(void)state;
	set32(pid_tid, 0, 11);
	set32(pid_tid, 4, 12);
	set32(flags, 0, FR_EPB_INBOUND);
	set32(b, 0, FR_PCAPNG_EPB);
	set32(b, 8, 0);
	set32(b, 12, 0);
	set32(b, 16, 77);
	set32(b, 20, 3);
	set32(b, 24, 3);
	memcpy(b + 28, "abc", 3);
	o = 32;
	o = add_opt(b, o, 8, pid_tid, 8);
	o = add_opt(b, o, 99, (const uint8_t *)"zzz", 3);  /* unknown */
	o = add_opt(b, o, 1, (const uint8_t *)"flow=9", 6);
	o = add_opt(b, o, 0x0BAD, NULL, 0);                /* custom, empty */
	o = add_opt(b, o, 2, flags, 4);
	o += 4;                                            /* trailer, no opt_endofopt before it */
	set32(b, 4, (uint32_t)o);
	set32(b, o - 4, (uint32_t)o);

	memset(&q, 0, sizeof(q));
	assert_int_equal(fr_pcapng_parse_block(b, o, &type, &q), (long)o);
	assert_int_equal(type, FR_PCAPNG_EPB);
	assert_int_equal(q.ts_ns, 77);
	assert_int_equal(q.caplen, 3);
	assert_memory_equal(q.data, "abc", 3);
	assert_int_equal(q.pid, 11);
	assert_int_equal(q.tid, 12);
	assert_int_equal(q.flags, 1);
	assert_int_equal(q.comment_len, 6);
	assert_memory_equal(q.comment, "flow=9", 6);
	assert_int_equal(fr_pcapng_comment_flow(q.comment, q.comment_len), 9);
	assert_int_equal(parse_exact(b, o, NULL, NULL), (long)o);

	/* Bytes after opt_endofopt are not options. */
	set16(b, 32, 0);
	set16(b, 34, 0);
	memset(&q, 0, sizeof(q));
	assert_int_equal(fr_pcapng_parse_block(b, o, &type, &q), (long)o);
	assert_int_equal(q.pid, 0);
	assert_int_equal(q.flags, 0);
	assert_null(q.comment);

	/* An unknown block type: its length, its type, and *pkt untouched. */
	{
		uint8_t u[20] = { 0 };
		struct fr_pcap_packet keep = { .ts_ns = 123, .caplen = 0 };

		set32(u, 0, 0x00000005); /* Interface Statistics Block */
		set32(u, 4, 20);
		set32(u, 16, 20);
		assert_int_equal(fr_pcapng_parse_block(u, 20, &type, &keep), 20);
		assert_int_equal(type, 5);
		assert_int_equal(keep.ts_ns, 123);
	}
}

/* A segment cut at any byte is trimmed to its last whole block. */
static void test_valid_prefix(void **state)
{
	struct file *f = *state;
	/* The block with the longest comment (packet 9) is walked in strides: every cut is
	 * otherwise a copy of the whole prefix. */
	size_t long_from = f->ends[10] + 300, long_to = f->ends[11] - 300;
	size_t k = 0;

	for (size_t cut = 0; cut <= f->len; cut += (cut > long_from && cut < long_to) ? 331 : 1) {
		size_t want;

		while (k < NPKT + 2 && f->ends[k] <= cut)
			k++;
		/* Nothing is valid until the SHB is whole. */
		want = k == 0 ? 0 : f->ends[k - 1];
		if (valid_prefix_exact(f->buf, cut) != want)
			fail_msg("cut at %zu: %zu, want %zu", cut, valid_prefix_exact(f->buf, cut), want);
	}

	/* A corrupted block stops the walk before it; so does garbage after the last block. */
	{
		uint8_t *c = exact_copy(f->buf, f->len);

		set32(c, f->ends[4] - 4, 12345);
		assert_int_equal(fr_pcapng_valid_prefix(c, f->len), f->ends[3]);
		free(c);
	}
	{
		uint8_t *c = malloc(f->ends[2] + 5);

		assert_non_null(c);
		memcpy(c, f->buf, f->ends[2]);
		memset(c + f->ends[2], 0xee, 5);
		assert_int_equal(fr_pcapng_valid_prefix(c, f->ends[2] + 5), f->ends[2]);
		free(c);
	}
	/* A file must begin with an SHB. */
	assert_int_equal(valid_prefix_exact(f->buf + f->ends[0], f->len - f->ends[0]), 0);
	assert_int_equal(fr_pcapng_valid_prefix(NULL, 0), 0);
	/* A second section may follow. */
	{
		static uint8_t two[1024];
		size_t n = fr_pcapng_header(two, sizeof(two), 0, "a");

		n += fr_pcapng_header(two + n, sizeof(two) - n, 0, "b");
		assert_int_equal(valid_prefix_exact(two, n), n);
	}
}

static void test_comment_flow(void **state)
{
	static const struct {
		const char *s;
		int64_t want;
	} cases[] = {
		{ "pid=1 tid=2 comm=curl flow=123", 123 },
		{ "flow=0", 0 },
		{ "flow=9223372036854775807", INT64_MAX },
		{ "flow=9223372036854775808", -1 },
		{ "flow=99999999999999999999999", -1 },
		{ "pid=1 tid=2 comm=curl flow=", -1 },
		{ "pid=1 tid=2 comm=curl flow=12x", -1 },
		{ "pid=1 tid=2 comm=curl flow=-3", -1 },
		{ "pid=1 tid=2 comm=curl flow=+3", -1 },
		{ "pid=1 tid=2 comm=curl", -1 },
		{ "pid=1 tid=2 comm=curl overflow=5", -1 },
		{ "pid=1 tid=2 comm=a flow=5 flow=6", 6 },  /* comm "a flow=5" */
		{ "pid=1 tid=2 comm=x flow=8 extra", 8 },
		{ "flow", -1 },
		{ "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n = strlen(cases[i].s);
		char *c = (char *)exact_copy((const uint8_t *)cases[i].s, n); /* no NUL to stop at */
		int64_t got = fr_pcapng_comment_flow(c, n);

		free(c);
		if (got != cases[i].want)
			fail_msg("'%s': %lld, want %lld", cases[i].s, (long long)got, (long long)cases[i].want);
	}
	/* The length bounds the number, not a NUL. */
	assert_int_equal(fr_pcapng_comment_flow("flow=1234", 7), 12);
	assert_int_equal(fr_pcapng_comment_flow("flow=1234", 5), -1);
	assert_int_equal(fr_pcapng_comment_flow(NULL, 10), -1);
}

static void test_pcap_classic_bytes(void **state)
{
	static const uint8_t want_hdr[] = {
		0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0,              /* ns magic, version 2.4 */
		0, 0, 0, 0, 0, 0, 0, 0,                          /* thiszone, sigfigs */
		0xff, 0xff, 0, 0, 101, 0, 0, 0,                  /* snaplen 65535, LINKTYPE_RAW */
	};
	static const uint8_t want_rec[] = {
		0x00, 0xf1, 0x53, 0x65, 0x15, 0xcd, 0x5b, 0x07,  /* 1700000000 s, 123456789 ns */
		5, 0, 0, 0, 60, 0, 0, 0,
		0x45, 0x00, 0x00, 0x3c, 0xab,                    /* no padding in classic pcap */
	};
	struct fr_pcap_packet p = packet1();
	uint8_t buf[64];

	(void)state;
	if (!host_le())
		skip();
	memset(buf, 0xaa, sizeof(buf));
	expect_bytes(buf, fr_pcap_header(buf, sizeof(buf), 65535), want_hdr, sizeof(want_hdr));
	assert_int_equal(buf[24], 0xaa);
	memset(buf, 0xaa, sizeof(buf));
	expect_bytes(buf, fr_pcap_record(buf, sizeof(buf), &p), want_rec, sizeof(want_rec));
	assert_int_equal(buf[sizeof(want_rec)], 0xaa);

	/* snaplen 0 ("unlimited" in pcapng) becomes libpcap's maximum, 262144. */
	fr_pcap_header(buf, sizeof(buf), 0);
	assert_int_equal(buf[16] | buf[17] << 8 | buf[18] << 16 | buf[19] << 24, 262144);

	/* 1 ns before the epoch: second -1, 999999999 ns. */
	p = (struct fr_pcap_packet){ .ts_ns = -1 };
	assert_int_equal(fr_pcap_record(buf, sizeof(buf), &p), 16);
	assert_memory_equal(buf, "\xff\xff\xff\xff\xff\xc9\x9a\x3b", 8);
}

/* ---- Interoperability: what tshark and tcpdump make of flowrec's files. ---- */

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n % 2)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* 192.0.2.1:40000 -> 198.51.100.2:9999 UDP "hello", checksums filled in. */
static size_t build_udp4(uint8_t *b)
{
	static const uint8_t src[4] = { 192, 0, 2, 1 }, dst[4] = { 198, 51, 100, 2 };
	uint8_t *udp = b + 20;
	uint32_t sum;

	memset(b, 0, 33);
	b[0] = 0x45;
	put_be16(b + 2, 33);
	put_be16(b + 4, 0x1234);
	b[8] = 64;
	b[9] = 17;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	put_be16(b + 10, csum_fold(csum_add(0, b, 20)));
	put_be16(udp, 40000);
	put_be16(udp + 2, 9999);
	put_be16(udp + 4, 13);
	memcpy(udp + 8, "hello", 5);
	sum = csum_add(0, src, 4);
	sum = csum_add(sum, dst, 4);
	sum += 17 + 13;
	put_be16(udp + 6, csum_fold(csum_add(sum, udp, 13)));
	return 33;
}

/* [2001:db8::1]:40001 -> [2001:db8::2]:443 TCP PSH|ACK "hi", checksum filled in. */
static size_t build_tcp6(uint8_t *b)
{
	uint8_t *tcp = b + 40;
	uint32_t sum;

	memset(b, 0, 62);
	b[0] = 0x60;
	put_be16(b + 4, 22);
	b[6] = 6;
	b[7] = 64;
	memcpy(b + 8, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	memcpy(b + 24, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
	put_be16(tcp, 40001);
	put_be16(tcp + 2, 443);
	memcpy(tcp + 4, "\0\x01\0\0\0\0\0\x01", 8); /* seq 65536, ack 1 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;
	put_be16(tcp + 14, 65535);
	memcpy(tcp + 20, "hi", 2);
	sum = csum_add(0, b + 8, 32);
	sum += 22 + 6;
	put_be16(tcp + 16, csum_fold(csum_add(sum, tcp, 22)));
	return 62;
}

#define IA_TS1 1700000000123456789LL
#define IA_TS2 1700000001000000001LL
#define IA_C1 "pid=4242 tid=4243 comm=curl flow=17"
#define IA_C2 "pid=77 tid=78 comm=ssh client flow=18"

struct interop {
	char dir[64];
	char ng[96], pcap[96], out[96];
};

/* Whether prog is an executable file in one of PATH's directories. */
static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path)
		return 0;
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* FR_INTEROP=1: the tool must be there; FR_INTEROP=0: skip; unset: run it if it is found. */
static int interop_wanted(const char *tool)
{
	const char *e = getenv("FR_INTEROP");

	if (e && strcmp(e, "0") == 0) {
		printf("skip: FR_INTEROP=0, %s not run\n", tool);
		return 0;
	}
	if (in_path(tool))
		return 1;
	if (e && strcmp(e, "1") == 0)
		fail_msg("FR_INTEROP=1 but %s is not in PATH", tool);
	printf("skip: %s not found in PATH, not checked\n", tool);
	return 0;
}

/* Runs cmd via the shell and returns its stdout (caller frees), failing on a non-zero exit. */
static char *run_cmd(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = calloc(1, 65536);
	size_t n = 0, r;
	int st;

	assert_non_null(p);
	assert_non_null(out);
	while (n < 65535 && (r = fread(out + n, 1, 65535 - n, p)) > 0)
		n += r;
	st = pclose(p);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("'%s' failed (status %d), output:\n%s", cmd, st, out);
	return out;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *out = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(out);
	if (fread(out, 1, 65535, f) == 0 && ferror(f))
		fail_msg("reading %s failed", path);
	fclose(f);
	return out;
}

static void write_file(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void expect_contains(const char *what, const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("%s: missing \"%s\" in:\n%s", what, needle, text);
}

/* Nothing in a tool's stderr may say the file is damaged (the root warning is fine). */
static void expect_clean_stderr(const char *what, const char *err)
{
	static const char *const bad[] = { "damaged", "corrupt", "bad", "invalid", "rror", "truncated", "unknown" };

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (strstr(err, bad[i]))
			fail_msg("%s complains:\n%s", what, err);
}

static int interop_setup(void **state)
{
	static struct interop ia;

	strcpy(ia.dir, "/tmp/fr_pcapng_XXXXXX");
	if (!mkdtemp(ia.dir))
		return -1;
	snprintf(ia.ng, sizeof(ia.ng), "%s/t.pcapng", ia.dir);
	snprintf(ia.pcap, sizeof(ia.pcap), "%s/t.pcap", ia.dir);
	snprintf(ia.out, sizeof(ia.out), "%s/stderr", ia.dir);
	*state = &ia;
	return 0;
}

static int interop_teardown(void **state)
{
	struct interop *ia = *state;

	unlink(ia->ng);
	unlink(ia->pcap);
	unlink(ia->out);
	rmdir(ia->dir);
	return 0;
}

static void test_interop(void **state)
{
	struct interop *ia = *state;
	uint8_t udp4[64], tcp6[64], ng[1024], pc[1024];
	struct fr_pcap_packet p[2];
	size_t nn = 0, pn = 0;
	char cmd[512];
	char *out, *err;

	/* tshark is what the check is about; without it the test is reported as skipped. */
	if (!interop_wanted("tshark"))
		skip();
	p[0] = (struct fr_pcap_packet){
		.ts_ns = IA_TS1, .caplen = (uint32_t)build_udp4(udp4), .origlen = 33, .data = udp4,
		.flags = FR_EPB_INBOUND, .pid = 4242, .tid = 4243,
		.comment = IA_C1, .comment_len = sizeof(IA_C1) - 1,
	};
	p[1] = (struct fr_pcap_packet){
		.ts_ns = IA_TS2, .caplen = (uint32_t)build_tcp6(tcp6), .origlen = 62, .data = tcp6,
		.flags = FR_EPB_OUTBOUND, .pid = 77, .tid = 78,
		.comment = IA_C2, .comment_len = sizeof(IA_C2) - 1,
	};
	nn = fr_pcapng_header(ng, sizeof(ng), 0, "flowrec test");
	pn = fr_pcap_header(pc, sizeof(pc), 0);
	for (int i = 0; i < 2; i++) {
		nn += fr_pcapng_epb(ng + nn, sizeof(ng) - nn, &p[i]);
		pn += fr_pcap_record(pc + pn, sizeof(pc) - pn, &p[i]);
	}
	assert_int_equal(fr_pcapng_valid_prefix(ng, nn), nn);
	write_file(ia->ng, ng, nn);
	write_file(ia->pcap, pc, pn);

	{
		/* Checksums are verified too, so a wrong hand-built packet cannot pass. */
		snprintf(cmd, sizeof(cmd),
			 "tshark -r '%s' -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE"
			 " -o tcp.check_checksum:TRUE -T fields -E separator='|'"
			 " -e frame.comment -e ip.src -e ipv6.src -e frame.time_epoch"
			 " -e frame.packet_flags_direction -e udp.srcport -e tcp.dstport"
			 " -e ip.checksum.status -e udp.checksum.status -e tcp.checksum.status"
			 " 2>'%s'",
			 ia->ng, ia->out);
		out = run_cmd(cmd);
		err = slurp(ia->out);
		expect_clean_stderr("tshark", err);
		expect_contains("tshark", out,
				IA_C1 "|192.0.2.1||1700000000.123456789|0x00000001|40000||1|1|\n");
		expect_contains("tshark", out,
				IA_C2 "||2001:db8::1|1700000001.000000001|0x00000002||443|||1\n");
		free(out);
		free(err);

		/* The classic file: same packets and ns times, no options to carry. */
		snprintf(cmd, sizeof(cmd),
			 "tshark -r '%s' -T fields -E separator='|' -e ip.src -e ipv6.dst -e frame.time_epoch"
			 " -e frame.cap_len 2>'%s'",
			 ia->pcap, ia->out);
		out = run_cmd(cmd);
		err = slurp(ia->out);
		expect_clean_stderr("tshark (pcap)", err);
		expect_contains("tshark (pcap)", out,
				"192.0.2.1||1700000000.123456789|33\n"
				"|2001:db8::2|1700000001.000000001|62\n");
		free(out);
		free(err);
	}

	if (interop_wanted("tcpdump")) {
		snprintf(cmd, sizeof(cmd), "tcpdump -nn -tt --nano -r '%s' 2>'%s'", ia->pcap, ia->out);
		out = run_cmd(cmd);
		err = slurp(ia->out);
		expect_clean_stderr("tcpdump", err);
		expect_contains("tcpdump", err, "link-type RAW");
		expect_contains("tcpdump", out,
				"1700000000.123456789 IP 192.0.2.1.40000 > 198.51.100.2.9999: UDP, length 5\n");
		expect_contains("tcpdump", out,
				"1700000001.000000001 IP6 2001:db8::1.40001 > 2001:db8::2.443: Flags [P.]");
		expect_contains("tcpdump", out, "length 2\n");
		free(out);
		free(err);

		/* libpcap reads the pcapng export too, skipping the options it does not know. */
		snprintf(cmd, sizeof(cmd), "tcpdump -nn -tt --nano -r '%s' 2>'%s'", ia->ng, ia->out);
		out = run_cmd(cmd);
		err = slurp(ia->out);
		expect_clean_stderr("tcpdump (pcapng)", err);
		expect_contains("tcpdump (pcapng)", out, "1700000000.123456789 IP 192.0.2.1.40000 > ");
		expect_contains("tcpdump (pcapng)", out, "1700000001.000000001 IP6 2001:db8::1.40001 > ");
		free(out);
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_epb_bytes),
		cmocka_unit_test(test_epb_bare_bytes),
		cmocka_unit_test(test_epb_caplen_over_origlen),
		cmocka_unit_test_setup_teardown(test_round_trip, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_too_small, file_setup, file_teardown),
		cmocka_unit_test(test_epb_size),
		cmocka_unit_test_setup_teardown(test_truncated, file_setup, file_teardown),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_options_any_order),
		cmocka_unit_test_setup_teardown(test_valid_prefix, file_setup, file_teardown),
		cmocka_unit_test(test_comment_flow),
		cmocka_unit_test(test_pcap_classic_bytes),
		cmocka_unit_test_setup_teardown(test_interop, interop_setup, interop_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
