/*
 * libFuzzer target for lib/ippkt.c (run by `make fuzz`).
 *
 * The first 4 bytes of the input are the packet's length on the wire, the rest the captured
 * bytes. Besides "no crash, no out-of-bounds read" (ASan/UBSan), it checks that a parsed
 * packet's addresses and payload lie inside the captured bytes, that its family and protocol
 * are ones the parser names, and that its payload never runs past what caplen and origlen
 * allow. A broken invariant aborts, which libFuzzer reports as a crash with the input saved.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ippkt.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fr_ippkt p;
	uint32_t origlen, caplen;
	uint8_t *pkt;

	if (size < 4)
		return 0;
	memcpy(&origlen, data, 4);
	caplen = (uint32_t)(size - 4);
	pkt = malloc(caplen ? caplen : 1); /* its own allocation: ASan sees any read past it */
	if (!pkt)
		return 0;
	memcpy(pkt, data + 4, caplen);
	if (fr_ippkt_parse(pkt, caplen, origlen, &p) == 0) {
		size_t alen = p.family == 4 ? 4 : 16;

		CHECK(p.family == 4 || p.family == 6);
		CHECK(p.proto == 6 || p.proto == 17);
		CHECK(p.src >= pkt && p.src + alen <= pkt + caplen);
		CHECK(p.dst >= pkt && p.dst + alen <= pkt + caplen);
		CHECK(p.len == 0 || (p.payload >= pkt && p.payload + p.len <= pkt + caplen));
		CHECK(!p.more_fragments || p.family == 4);
	}
	free(pkt);
	return 0;
}
