/*
 * One parser of the raw IP packets flowrec captures (LINKTYPE_RAW: no link header), for the
 * recorder's DNS tracker and flowq's export alike: IPv4 (a first fragment only: later ones
 * have no ports) or IPv6 after its hop-by-hop, routing and destination options headers, then
 * UDP or TCP. Every length is checked against what was captured; nothing is copied.
 */
#ifndef FR_IPPKT_H
#define FR_IPPKT_H

#include <stdint.h>

struct fr_ippkt {
	int family;               /* 4 or 6 */
	uint8_t proto;            /* 6 TCP, 17 UDP */
	const uint8_t *src, *dst; /* 4 or 16 bytes, in the packet */
	uint16_t sport, dport;
	uint32_t seq;             /* TCP */
	int more_fragments;       /* IPv4: a first fragment, the rest of its payload elsewhere */
	const uint8_t *payload;   /* the L4 payload, len bytes of it captured */
	uint32_t len;
};

/* Parse pkt (caplen bytes captured of origlen on the wire). A GSO packet's IP length field
 * describes one segment while the capture holds them all: the payload runs to the end of
 * what origlen and caplen allow. 0, or -1 when it is not UDP or TCP over IP or is cut
 * before the ports; with the rest of the L4 header cut, 0 with no payload (len 0). */
int fr_ippkt_parse(const uint8_t *pkt, uint32_t caplen, uint32_t origlen, struct fr_ippkt *o);

#endif
