/*
 * The pcap store: segments of pcapng in DATA/pcap, indexed by chunk in the database.
 */
#ifndef FR_PCAP_STORE_H
#define FR_PCAP_STORE_H

#include "recorder.h"
#include "db_writer.h"
#include "flow_table.h"

struct fr_pcap_packet;
struct fr_pcap_store;
/* Before the writer starts: recover crashed segments, learn the ids in use. */
struct fr_pcap_store *fr_pcap_store_open(const char *data_dir, sqlite3 *db, int64_t run_id,
					 const struct fr_capture_opts *o);
void fr_pcap_store_set_writer(struct fr_pcap_store *s, struct fr_db_writer *w);
/* Store a packet of uf (NULL: of no known flow), counting it in uf->captured while the
 * store holds it (a full disk's drop takes it back). 0, or -1 when dropped (counted). */
int fr_pcap_store_append(struct fr_pcap_store *s, const struct fr_pcap_packet *p, struct fr_uflow *uf);
void fr_pcap_store_flush(struct fr_pcap_store *s);
void fr_pcap_store_rotate(struct fr_pcap_store *s);
uint64_t fr_pcap_store_dropped(const struct fr_pcap_store *s);
void fr_pcap_store_close(struct fr_pcap_store *s);

#endif
