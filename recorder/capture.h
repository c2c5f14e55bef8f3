/*
 * The packet perf buffer: captured packets to the DNS tracker and the pcap store.
 */
#ifndef FR_CAPTURE_H
#define FR_CAPTURE_H

#include "bpf_attach.h"
#include "consumer.h"
#include "pcap_store.h"
#include "dns_tracker.h"

struct fr_capture;
/* store NULL: packets are not stored (--no-capture), only DNS is parsed. */
struct fr_capture *fr_capture_new(struct fr_bpf *b, struct fr_consumer *c, struct fr_pcap_store *store,
				  struct fr_dns_tracker *dns, uint32_t snaplen, size_t pages_per_cpu);
int fr_capture_epoll_fd(struct fr_capture *cap);
void fr_capture_consume(struct fr_capture *cap);
/* Packets whose flow was not known when they were read wait for the next read of the event
 * rings: then fr_capture_resolve stores them. */
bool fr_capture_waiting(const struct fr_capture *cap);
void fr_capture_resolve(struct fr_capture *cap);
uint64_t fr_capture_lost(const struct fr_capture *cap);
void fr_capture_free(struct fr_capture *cap);

#endif
