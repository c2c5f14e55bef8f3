/*
 * DNS transactions from captured packets, and names for flows.
 */
#ifndef FR_DNS_TRACKER_H
#define FR_DNS_TRACKER_H

#include "recorder.h"
#include "db_writer.h"
#include "flow_table.h"

struct fr_dns_tracker;
struct fr_pkt_hdr;
struct fr_dns_tracker *fr_dns_tracker_new(struct fr_db_writer *w);
/* A packet to or from a DNS port, of flow uf (NULL if unknown); ts in realtime ns. */
void fr_dns_tracker_packet(struct fr_dns_tracker *t, struct fr_uflow *uf, const struct fr_pkt_hdr *h,
			   const uint8_t *pkt, int64_t ts);
/* The name a new flow's remote address was resolved from, or NULL. */
const char *fr_dns_tracker_rname(struct fr_dns_tracker *t, uint32_t netns, int family,
				 const uint32_t *addr, uint32_t pid, int64_t before_ns);
void fr_dns_tracker_flow_ended(struct fr_dns_tracker *t, const struct fr_flow_key *k);
void fr_dns_tracker_expire(struct fr_dns_tracker *t, int64_t now);
uint64_t fr_dns_tracker_malformed(const struct fr_dns_tracker *t);
void fr_dns_tracker_free(struct fr_dns_tracker *t);

#endif
