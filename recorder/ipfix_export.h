/*
 * The IPFIX export thread (--ipfix): flows the consumer hands over are sent to each collector
 * by a thread of their own, through a bounded queue, so that a slow or absent collector costs
 * export records, counted, and never a database row or a moment of the consumer's time.
 */
#ifndef FR_IPFIX_EXPORT_H
#define FR_IPFIX_EXPORT_H

#include <stdint.h>

#include "ipfix.h"

#define FR_MAX_IPFIX_COLLECTORS 4

struct fr_ipfix_export;

/* Start the thread with one exporter per collector spec (lib/ipfix.h's syntax). NULL, with
 * the reason logged, on a bad spec or no memory. */
struct fr_ipfix_export *fr_ipfix_export_start(const char *const *collectors, int n, uint32_t domain);

/* Queue one record. A full queue drops it, counted in fr_ipfix_export_lost, and false comes
 * back; with wait, it waits for room instead (at stop only: the consumer never waits). */
bool fr_ipfix_export_push(struct fr_ipfix_export *x, const struct fr_ipfix_flow *f, bool wait);

/* Records not delivered so far: dropped from a full queue, or not accepted by a collector
 * (one per record and collector). */
uint64_t fr_ipfix_export_lost(const struct fr_ipfix_export *x);

/* Send what is queued (what is left after 5 s is lost), stop the thread, free. Returns the final fr_ipfix_export_lost (0 for
 * NULL). */
uint64_t fr_ipfix_export_stop(struct fr_ipfix_export *x);

#endif
