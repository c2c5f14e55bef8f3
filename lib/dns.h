/*
 * DNS messages as flowrec records them: one parsed message, from the bytes of a UDP payload
 * or of one TCP-framed message (the 2-byte length prefix already removed).
 *
 * The wire parsing is ldns's (ldns_wire2rr: name compression, loops, bad pointers, long
 * names); this file walks the sections itself, one record at a time, so a message cut short
 * still yields its header, its question and every record before the cut.
 */
#ifndef FR_DNS_H
#define FR_DNS_H

#include <stddef.h>
#include <stdint.h>

#define FR_DNS_NAME_MAX 256   /* presentation form of a name, without the final dot */
#define FR_DNS_ANSWERS_MAX 8192 /* JSON text of the answer section */

struct fr_dns_msg {
	uint16_t id;
	int is_response;       /* QR bit */
	int opcode;
	int rcode;             /* 0..15 from the header */
	int truncated;         /* TC bit */
	int has_question;      /* the question section parsed (its first entry, if QDCOUNT > 1) */
	/* "example.com" (no trailing dot; "." for the root). Cut to fit, never inside an
	 * escape, in the rare case that escapes (\DDD) make it longer than 255 characters. */
	char qname[FR_DNS_NAME_MAX];
	uint16_t qtype;
	uint16_t qclass;
	int answers_parsed;    /* records of the answer section that parsed */
	int complete;          /* every section parsed to its declared count */
	/* JSON array of {"name","type","ttl","data"}; type as mnemonic ("A", "CNAME", or
	 * "TYPE65" for unknown ones); data in presentation form ("93.184.216.34",
	 * "www.example.com", "10 mail.example.com", "\"text\""). Names without the final dot.
	 * Always valid JSON: records that do not fit are left out from the first one that does
	 * not, and answers_parsed still counts them. */
	char answers_json[FR_DNS_ANSWERS_MAX];
	/* Addresses from A/AAAA answers, with the name that led to them: the question name
	 * (the start of a CNAME chain), for naming flows by what was resolved. */
	int naddrs;
	struct {
		int family;       /* 4 or 6 */
		uint8_t addr[16];
	} addrs[32];
};

/* Parse one message. Returns 0 when at least the 12-byte header parsed (look at
 * has_question / complete for the rest), -1 when not even that. Never reads outside
 * buf[0..len) and never crashes, whatever the bytes. */
int fr_dns_parse(const uint8_t *buf, size_t len, struct fr_dns_msg *out);

/* Mnemonics: "A", "AAAA", "MX", ... ("TYPE123" for unknown); "NOERROR", "NXDOMAIN",
 * "SERVFAIL", ... ("RCODE12" for unknown). Write into buf, return buf. */
const char *fr_dns_type_str(uint16_t type, char *buf, size_t len);
const char *fr_dns_rcode_str(int rcode, char *buf, size_t len);
/* Inverse, case-insensitive, for flowq's --type/--rcode: 0 and *out, or -1. */
int fr_dns_type_parse(const char *s, uint16_t *out);
int fr_dns_rcode_parse(const char *s, int *out);

#endif
