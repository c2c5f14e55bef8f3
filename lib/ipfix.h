/*
 * IPFIX export of flows (RFC 7011), through libfixbuf: one exporter per collector, over UDP
 * or TCP. The recorder's export thread (recorder/ipfix_export.c) and `flowq ipfix` (the
 * replay of recorded flows) both hand it struct fr_ipfix_flow records; docs/ipfix.md lists
 * every element a record carries.
 *
 * A record is a biflow (RFC 5103): the forward direction is the flow's initiator's, so the
 * source is this host for an outgoing flow and the peer for an incoming one.
 */
#ifndef FR_IPFIX_H
#define FR_IPFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Private enterprise numbers: ntop's, for the process elements its tools decode, and the
 * one RFC 5612 sets aside for documentation, for flowrec's own (described to collectors by
 * RFC 5610 information element type records). */
#define FR_IPFIX_PEN_NTOP 35632
#define FR_IPFIX_PEN_FLOWREC 32473

/* flowEndReason (IANA IE 136) */
#define FR_IPFIX_END_IDLE 1     /* not used: flows end when their socket does */
#define FR_IPFIX_END_ACTIVE 2   /* still open: an active-timeout record */
#define FR_IPFIX_END_FLOW 3     /* the socket closed */
#define FR_IPFIX_END_FORCED 4   /* the recorder stopped, or its run crashed */

/* firewallEvent (IANA IE 233) for a --policy verdict */
#define FR_IPFIX_FW_NONE 0
#define FR_IPFIX_FW_DENIED 3
#define FR_IPFIX_FW_ALERT 4     /* audit: allowed, a rule would have denied it */

struct fr_ipfix_flow {
	uint64_t flow_id;               /* flows.id (IANA flowId) */
	int64_t start_ns, end_ns;       /* first and last packet (realtime ns) */
	uint8_t family;                 /* 4 or 6 */
	uint8_t proto;                  /* IP protocol number; MPTCP subflows are 6 */
	bool inbound;                   /* direction 'in': the peer initiated */
	uint8_t end_reason;             /* FR_IPFIX_END_* */
	uint8_t firewall_event;         /* FR_IPFIX_FW_* */
	uint8_t laddr[16], raddr[16];   /* network order; IPv4 in the first 4 bytes */
	uint16_t lport, rport;          /* host order */
	/* Totals since the flow began, and deltas since this flow's previous record. */
	uint64_t bytes_out, bytes_in, packets_out, packets_in;
	uint64_t delta_bytes_out, delta_bytes_in, delta_packets_out, delta_packets_in;
	uint32_t pid, tid, uid;         /* the owning task */
	uint64_t cgroup_id, netns;
	char comm[16];
	/* Strings: NUL-terminated, "" when unknown (sent as empty). */
	char exe[256];
	char container[65];             /* processes.container */
	char rname[256];                /* flows.rname */
	char rule[64];                  /* flows.rule, with a verdict */
};

struct fr_ipfix_exporter;

/* Parse a collector: "HOST:PORT" or "udp:HOST:PORT" (UDP), "tcp:HOST:PORT" (TCP); HOST a
 * name or address, an IPv6 address in brackets ("[::1]:4739"). Returns 0, or -1 with a
 * one-line reason in err. */
int fr_ipfix_parse_collector(const char *spec, bool *tcp, char *host, size_t hostlen, char *port,
			     size_t portlen, char *err, size_t errlen);

/* A new exporter to the collector spec, with this observation domain id. Nothing is sent
 * yet: a TCP collector that is down does not fail this (fr_ipfix_flush connects, and
 * reconnects). NULL with err on a bad spec or no memory. */
struct fr_ipfix_exporter *fr_ipfix_exporter_new(const char *spec, uint32_t domain, char *err,
						size_t errlen);

/* Add a record to the message being built. Returns 0, or -1 when the record could not be
 * sent (collector unreachable, TCP connection down): the caller counts it as lost. Never
 * blocks for longer than a TCP send's timeout (1 s). */
int fr_ipfix_export(struct fr_ipfix_exporter *e, const struct fr_ipfix_flow *f);

/* Send what is built. Sends the templates (and RFC 5610 type records) first after a
 * (re)connection and, over UDP, again every 60 s (RFC 7011 10.3.6); a TCP connection that
 * broke is retried at most every 5 s. now_ns: realtime. Returns 0, or -1 with the records of
 * the message lost (returned in *lost when lost is not NULL). */
int fr_ipfix_flush(struct fr_ipfix_exporter *e, int64_t now_ns, uint64_t *lost);

/* The observation domain id when none is given: from /etc/machine-id, else the host name,
 * so that each host of a fleet has its own and keeps it across restarts. */
uint32_t fr_ipfix_default_domain(void);

/* Flush and free. */
void fr_ipfix_exporter_free(struct fr_ipfix_exporter *e);

#endif
