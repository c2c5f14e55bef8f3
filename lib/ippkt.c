/*
 * The IP packet parser (see ippkt.h).
 */
#include "ippkt.h"

#include <string.h>

#define IPV6_EXT_MAX 8 /* option headers followed before giving up */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int fr_ippkt_parse(const uint8_t *pkt, uint32_t caplen, uint32_t origlen, struct fr_ippkt *o)
{
	uint32_t hl, total, ip_len;

	memset(o, 0, sizeof(*o));
	if (caplen < 1)
		return -1;
	if (pkt[0] >> 4 == 4) {
		if (caplen < 20)
			return -1;
		hl = (pkt[0] & 0xf) * 4u;
		if (hl < 20 || be16(pkt + 6) & 0x1fff) /* a later fragment: no L4 header */
			return -1;
		total = be16(pkt + 2);
		o->more_fragments = !!(pkt[6] & 0x20);
		o->family = 4;
		o->proto = pkt[9];
		o->src = pkt + 12;
		o->dst = pkt + 16;
	} else if (pkt[0] >> 4 == 6) {
		uint8_t next;

		if (caplen < 40)
			return -1;
		next = pkt[6];
		hl = 40;
		for (int i = 0; i < IPV6_EXT_MAX && (next == 0 || next == 43 || next == 60); i++) {
			if (caplen - hl < 2)
				return -1;
			next = pkt[hl];
			hl += (pkt[hl + 1] + 1u) * 8;
			if (hl > caplen)
				return -1;
		}
		total = 40u + be16(pkt + 4);
		o->family = 6;
		o->proto = next;
		o->src = pkt + 8;
		o->dst = pkt + 24;
	} else {
		return -1;
	}
	if (o->proto != 6 && o->proto != 17)
		return -1;
	ip_len = origlen > total ? origlen : total;
	ip_len = ip_len < caplen ? ip_len : caplen;
	if (ip_len < hl || ip_len - hl < 4)
		return -1;
	o->sport = be16(pkt + hl);
	o->dport = be16(pkt + hl + 2);
	if (o->proto == 17) {
		uint32_t ulen;

		if (ip_len - hl < 8)
			return 0; /* the ports alone: no payload */
		ulen = be16(pkt + hl + 4);
		o->payload = pkt + hl + 8;
		o->len = ulen >= 8 && ulen <= ip_len - hl ? ulen - 8 : ip_len - hl - 8;
		return 0;
	}
	if (ip_len - hl < 20)
		return 0;
	{
		uint32_t doff = (pkt[hl + 12] >> 4) * 4u;

		if (doff < 20 || doff > ip_len - hl)
			return -1;
		o->seq = (uint32_t)be16(pkt + hl + 4) << 16 | be16(pkt + hl + 6);
		o->payload = pkt + hl + doff;
		o->len = ip_len - hl - doff;
	}
	return 0;
}
