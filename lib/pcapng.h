/*
 * pcapng and classic pcap, as flowrec writes and reads them.
 *
 * flowrec's segment files and pcapng exports are: one Section Header Block, one Interface
 * Description Block (LINKTYPE_RAW: packets start at the IP header, as cgroup_skb sees them;
 * if_tsresol 9, nanoseconds), then Enhanced Packet Blocks, each with
 *   epb_flags (direction: 1 inbound, 2 outbound), opt_comment "pid=… tid=… comm=… flow=…"
 *   (Wireshark's frame.comment), and epb_processid_threadid (option 8: pid, tid).
 * All in host byte order (the SHB's byte-order magic says which), as the format allows.
 *
 * Writers fill a caller's buffer and never allocate. Readers take untrusted bytes (a
 * segment cut short by a crash, or anything a fuzzer makes) and never read outside them.
 */
#ifndef FR_PCAPNG_H
#define FR_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

#define FR_LINKTYPE_RAW 101
#define FR_PCAPNG_SHB 0x0A0D0D0Au
#define FR_PCAPNG_IDB 0x00000001u
#define FR_PCAPNG_EPB 0x00000006u
#define FR_EPB_INBOUND 1u
#define FR_EPB_OUTBOUND 2u

/* The pcap index (pcap_chunks): a chunk's first and last packets are never further apart
 * than this, so the recorder closes a chunk before, and an export finds every chunk of a
 * window through the index on first_ns alone. */
#define FR_CHUNK_MAX_SPAN_NS 2000000000LL

struct fr_pcap_packet {
	int64_t ts_ns;      /* UTC ns since the epoch */
	uint32_t caplen;    /* bytes in data */
	uint32_t origlen;   /* length on the wire */
	const uint8_t *data;
	uint32_t flags;     /* epb_flags; 0 = none written */
	uint32_t pid, tid;  /* epb_processid_threadid when pid != 0 */
	const char *comment; /* opt_comment, NULL or "" = none; parsed: points into the block */
	uint16_t comment_len; /* bytes of comment, both ways: no NUL is needed or written, 0 = none */
};

/* SHB then IDB (snaplen 0 = unlimited). Returns bytes written, or 0 if len is too small. */
size_t fr_pcapng_header(uint8_t *buf, size_t len, uint32_t snaplen, const char *app);

/* One EPB. Returns bytes written (a multiple of 4), or 0 if len is too small. */
size_t fr_pcapng_epb(uint8_t *buf, size_t len, const struct fr_pcap_packet *p);

/* Upper bound of fr_pcapng_epb's size for a packet of caplen bytes and a comment. */
size_t fr_pcapng_epb_size(uint32_t caplen, size_t comment_len);

/* Classic pcap, nanosecond magic (0xa1b23c4d), LINKTYPE_RAW: 24-byte file header and one
 * 16-byte record header + data. Return bytes written or 0 if len is too small. Classic pcap
 * has no "unlimited" snaplen: 0 is written as 262144, libpcap's maximum. */
size_t fr_pcap_header(uint8_t *buf, size_t len, uint32_t snaplen);
size_t fr_pcap_record(uint8_t *buf, size_t len, const struct fr_pcap_packet *p);

/* Parse one block at buf[0..len). Returns:
 *   > 0  its total length; *type is set; for an EPB, *pkt is filled (pointing into buf)
 *   0    incomplete: the block runs past len (a file cut short)
 *   < 0  malformed (bad length, trailer mismatch, options past the end, bad magic)
 * Only the byte order of the writing host is accepted (flowrec reads its own files).
 * type and pkt may be NULL; pkt is left alone for blocks other than EPBs. The EPB timestamp
 * is taken as ns: the block carries no tsresol, and flowrec's IDB always says 9. */
long fr_pcapng_parse_block(const uint8_t *buf, size_t len, uint32_t *type, struct fr_pcap_packet *pkt);

/* Length of the longest prefix of buf made of whole, well-formed blocks, starting with an
 * SHB: where a segment cut short by a crash is trimmed to. */
size_t fr_pcapng_valid_prefix(const uint8_t *buf, size_t len);

/* Read "pid=… tid=… comm=… flow=…" back: the number after "flow=", or -1. */
int64_t fr_pcapng_comment_flow(const char *comment, size_t len);

#endif
