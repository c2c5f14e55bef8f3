/*
 * Unit tests for lib/ippkt.c: UDP and TCP over IPv4 and IPv6 (with extension headers), GSO
 * lengths, fragments, and packets cut at every length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ippkt.h"

/* IPv4 10.0.0.1:5353 -> 10.0.0.2:53, UDP, 4 bytes "abcd". */
static const uint8_t udp4[] = {
	0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
	0x14, 0xe9, 0, 53, 0, 12, 0, 0, 'a', 'b', 'c', 'd',
};

/* IPv6 fd00::1:1000 -> fd00::2:80 through a hop-by-hop and a destination options header,
 * TCP seq 0x01020304, data offset 5, 3 bytes "xyz". */
static const uint8_t tcp6[] = {
	0x60, 0, 0, 0, 0, 39, 0, 64,
	0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	60, 0, 1, 4, 0, 0, 0, 0,             /* hop-by-hop, next: destination options */
	6, 0, 1, 4, 0, 0, 0, 0,              /* destination options, next: TCP */
	0x03, 0xe8, 0, 80, 1, 2, 3, 4, 0, 0, 0, 0, 0x50, 0x18, 0, 0, 0, 0, 0, 0,
	'x', 'y', 'z',
};

static void test_udp4(void **state)
{
	struct fr_ippkt p;

	(void)state;
	assert_int_equal(fr_ippkt_parse(udp4, sizeof(udp4), sizeof(udp4), &p), 0);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.proto, 17);
	assert_memory_equal(p.src, "\x0a\x00\x00\x01", 4);
	assert_memory_equal(p.dst, "\x0a\x00\x00\x02", 4);
	assert_int_equal(p.sport, 5353);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.len, 4);
	assert_memory_equal(p.payload, "abcd", 4);
	assert_int_equal(p.more_fragments, 0);
}

static void test_tcp6_extension_headers(void **state)
{
	struct fr_ippkt p;

	(void)state;
	assert_int_equal(fr_ippkt_parse(tcp6, sizeof(tcp6), sizeof(tcp6), &p), 0);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.proto, 6);
	assert_int_equal(p.src[15], 1);
	assert_int_equal(p.dst[15], 2);
	assert_int_equal(p.sport, 1000);
	assert_int_equal(p.dport, 80);
	assert_int_equal(p.seq, 0x01020304);
	assert_int_equal(p.len, 3);
	assert_memory_equal(p.payload, "xyz", 3);
}

/* Shorter captures: nothing before the ports parses; from the ports on, the ports are there;
 * the payload never runs past what was captured. */
static void test_every_cut(void **state)
{
	static const struct { const uint8_t *pkt; size_t len; uint32_t ports_at; } cases[] = {
		{ udp4, sizeof(udp4), 24 },
		{ tcp6, sizeof(tcp6), 60 },
	};

	(void)state;
	for (size_t c = 0; c < 2; c++) {
		for (uint32_t n = 0; n <= cases[c].len; n++) {
			struct fr_ippkt p;
			int r = fr_ippkt_parse(cases[c].pkt, n, (uint32_t)cases[c].len, &p);

			if (n < cases[c].ports_at) {
				assert_int_equal(r, -1);
				continue;
			}
			assert_int_equal(r, 0);
			assert_true(p.len == 0 || p.payload + p.len <= cases[c].pkt + n);
		}
	}
}

/* A GSO packet: IP length says one segment, the capture has more: the payload goes on. */
static void test_gso_length(void **state)
{
	uint8_t big[40 + 20 + 100];
	struct fr_ippkt p;

	(void)state;
	memset(big, 0, sizeof(big));
	big[0] = 0x45;
	big[3] = 60; /* total length: one 20-byte segment */
	big[9] = 6;
	big[32] = 0x50;
	assert_int_equal(fr_ippkt_parse(big, 140, 140, &p), 0);
	assert_int_equal(p.len, 100);
	assert_int_equal(fr_ippkt_parse(big, 100, 140, &p), 0); /* cut by snaplen */
	assert_int_equal(p.len, 60);
}

static void test_rejects(void **state)
{
	uint8_t pkt[sizeof(udp4)];
	struct fr_ippkt p;

	(void)state;
	memcpy(pkt, udp4, sizeof(pkt));
	pkt[7] = 8; /* fragment offset 64: no UDP header here */
	assert_int_equal(fr_ippkt_parse(pkt, sizeof(pkt), sizeof(pkt), &p), -1);
	memcpy(pkt, udp4, sizeof(pkt));
	pkt[6] = 0x20; /* a first fragment: parsed, and said so */
	assert_int_equal(fr_ippkt_parse(pkt, sizeof(pkt), sizeof(pkt), &p), 0);
	assert_int_equal(p.more_fragments, 1);
	memcpy(pkt, udp4, sizeof(pkt));
	pkt[9] = 1; /* ICMP */
	assert_int_equal(fr_ippkt_parse(pkt, sizeof(pkt), sizeof(pkt), &p), -1);
	memcpy(pkt, udp4, sizeof(pkt));
	pkt[0] = 0x44; /* IHL 16 bytes */
	assert_int_equal(fr_ippkt_parse(pkt, sizeof(pkt), sizeof(pkt), &p), -1);
	pkt[0] = 0x55; /* version 5 */
	assert_int_equal(fr_ippkt_parse(pkt, sizeof(pkt), sizeof(pkt), &p), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp4),
		cmocka_unit_test(test_tcp6_extension_headers),
		cmocka_unit_test(test_every_cut),
		cmocka_unit_test(test_gso_length),
		cmocka_unit_test(test_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
