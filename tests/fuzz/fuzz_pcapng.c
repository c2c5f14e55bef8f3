/*
 * libFuzzer target for lib/pcapng.c's readers (run by `make fuzz`).
 *
 * The readers are what sees untrusted bytes: segments cut short by a crash, or damaged on
 * disk. Besides "no crash, no out-of-bounds read" (ASan/UBSan), it checks that
 *   - fr_pcapng_valid_prefix agrees with walking fr_pcapng_parse_block by hand;
 *   - every EPB the reader accepts survives re-encoding: fr_pcapng_epb writes it within
 *     fr_pcapng_epb_size, the reader reads the same packet back, and a second round gives
 *     the same bytes (so the writer's output is canonical);
 *   - fr_pcapng_comment_flow on any comment stays in range.
 * A broken invariant aborts, which libFuzzer reports as a crash with the input saved.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapng.h"

#include "fuzz_check.h"

/* What the writer promises to keep: tid is only written with a pid, and a comment of
 * length 0 is none. */
static void check_same(const struct fr_pcap_packet *a, const struct fr_pcap_packet *b)
{
	CHECK(a->ts_ns == b->ts_ns);
	CHECK(a->caplen == b->caplen);
	CHECK(a->origlen == b->origlen);
	CHECK(a->caplen == 0 || memcmp(a->data, b->data, a->caplen) == 0);
	CHECK(a->flags == b->flags);
	CHECK(a->pid == b->pid);
	CHECK(a->pid == 0 || a->tid == b->tid);
	CHECK(a->comment_len == b->comment_len);
	CHECK((a->comment == NULL) == (a->comment_len == 0));
	CHECK((b->comment == NULL) == (b->comment_len == 0));
	CHECK(a->comment_len == 0 || memcmp(a->comment, b->comment, a->comment_len) == 0);
}

static void reencode(const struct fr_pcap_packet *p)
{
	size_t cap = fr_pcapng_epb_size(p->caplen, p->comment_len);
	uint8_t *b1 = malloc(cap), *b2 = malloc(cap), *rec;
	struct fr_pcap_packet q, r;
	uint32_t type = 0;
	size_t n1, n2;

	CHECK(b1 && b2);
	n1 = fr_pcapng_epb(b1, cap, p);
	CHECK(n1 > 0 && n1 <= cap && n1 % 4 == 0);
	CHECK(fr_pcapng_epb(b1, n1 - 1, p) == 0);

	memset(&q, 0, sizeof(q));
	CHECK(fr_pcapng_parse_block(b1, n1, &type, &q) == (long)n1);
	CHECK(type == FR_PCAPNG_EPB);
	check_same(p, &q);
	/* Every proper prefix of a good block is incomplete, not malformed. */
	CHECK(fr_pcapng_parse_block(b1, n1 - 4, &type, &r) == 0);

	n2 = fr_pcapng_epb(b2, cap, &q);
	CHECK(n2 == n1 && memcmp(b1, b2, n1) == 0);

	rec = malloc(16 + (size_t)p->caplen);
	CHECK(rec);
	CHECK(fr_pcap_record(rec, 16 + (size_t)p->caplen, p) == 16 + (size_t)p->caplen);
	free(rec);
	free(b1);
	free(b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, prefix;
	uint32_t first = 0;
	int blocks = 0;
	long n;

	prefix = fr_pcapng_valid_prefix(data, size);
	CHECK(prefix <= size);

	for (;;) {
		struct fr_pcap_packet p;
		uint32_t type = 0;

		memset(&p, 0, sizeof(p));
		n = fr_pcapng_parse_block(data + off, size - off, &type, &p);
		if (n <= 0)
			break;
		CHECK((size_t)n <= size - off && n % 4 == 0 && n >= 12);
		if (blocks++ == 0)
			first = type;
		if (type == FR_PCAPNG_EPB) {
			CHECK(p.caplen == 0 || (p.data >= data + off && p.data + p.caplen <= data + off + n));
			if (p.comment) {
				const uint8_t *c = (const uint8_t *)p.comment;
				int64_t flow = fr_pcapng_comment_flow(p.comment, p.comment_len);

				CHECK(c >= data + off && c + p.comment_len <= data + off + n);
				CHECK(flow >= -1);
			}
			reencode(&p);
		}
		off += (size_t)n;
	}
	CHECK(prefix == (blocks && first == FR_PCAPNG_SHB ? off : 0));

	/* The comment parser on raw bytes as well: it takes any length, NUL or not. */
	CHECK(fr_pcapng_comment_flow((const char *)data, size) >= -1);
	return 0;
}
