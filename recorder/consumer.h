/*
 * The event consumer: both ring buffers, the sweep of the flows map, the event loop.
 */
#ifndef FR_CONSUMER_H
#define FR_CONSUMER_H

#include "bpf_attach.h"
#include "db_writer.h"
#include "flow_table.h"
#include "pcap_store.h"
#include "dns_tracker.h"

struct fr_consumer;
struct fr_capture;
struct fr_consumer *fr_consumer_new(struct fr_bpf *b, struct fr_db_writer *w, int64_t next_flow_id);
/* Consume captured packets too (and report their losses), in the same thread. store and
 * dns may be NULL. */
int fr_consumer_set_capture(struct fr_consumer *c, struct fr_capture *cap, struct fr_pcap_store *store,
			    struct fr_dns_tracker *dns);
struct fr_policy_maps;
/* Name the rules of flows' verdicts after this policy (NULL: none). */
void fr_consumer_set_policy(struct fr_consumer *c, struct fr_policy_maps *pm);
/* Export flows as IPFIX records to x (--ipfix): at their end, and every active_timeout_s
 * while they carry traffic. -1 (logged): out of memory. */
struct fr_ipfix_export;
int fr_consumer_set_ipfix(struct fr_consumer *c, struct fr_ipfix_export *x, double active_timeout_s);
/* Write flow_samples rows every seconds (0: none). */
void fr_consumer_set_sample_interval(struct fr_consumer *c, double seconds);
/* At stop, for every flow still open: its last flow_samples row, and an IPFIX end record
 * (forced end). */
void fr_consumer_finish(struct fr_consumer *c);
/* The flow a captured packet belongs to, created from the BPF map if no event told of it
 * yet; NULL if it is unknown. */
struct fr_uflow *fr_consumer_packet_flow(struct fr_consumer *c, const struct fr_flow_key *k);
int64_t fr_consumer_real_ns(const struct fr_consumer *c, uint64_t mono_ns);
/* Wait up to timeout_ms for events and packets and handle them. 0, or -1 on error. */
int fr_consumer_poll(struct fr_consumer *c, int timeout_ms);
/* Reconcile with the BPF flows map and queue counter updates and run stats. */
void fr_consumer_flush(struct fr_consumer *c);
void fr_consumer_free(struct fr_consumer *c);

#endif
