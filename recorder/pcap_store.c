/*
 * The packet store: append-only pcapng segment files under DATA/pcap/, indexed in SQLite.
 *
 * Design
 * ------
 * Packets are appended to the current segment as Enhanced Packet Blocks through a 1 MiB
 * buffer that is written out at the end of every consumer cycle (at most ~50 ms of packets
 * live only in memory). A segment is cut into chunks of at most 1 MiB and 1 s of packets;
 * when a chunk is complete its row (offset, length, first/last timestamp, packet count) and
 * the list of flows with packets in it go to the database writer, always after its bytes
 * were written to the file: an index row never points past the end of a file.
 *
 * Packets come from several CPUs, so timestamps inside a chunk are only nearly sorted;
 * first_ns/last_ns are the true minimum and maximum, and a chunk never spans more than
 * FR_CHUNK_MAX_SPAN_NS, which lets an export find every chunk of a window through the
 * index on first_ns alone (first_ns >= since - span).
 *
 * Segments rotate by size and age. Retention (--max-disk) deletes the oldest closed segments:
 * index rows first (and committed), then the file.
 *
 * Recovery: a segment left open by a crash (end_ns NULL) is read back from its last indexed
 * chunk on: whole blocks found there are indexed as one more chunk (their flow ids are in
 * their comments), and the file is trimmed to its last whole block.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recorder.h"
#include "log.h"
#include "db_writer.h"
#include "pcap_store.h"
#include "share.h"
#include "flow_table.h"
#include "pcapng.h"
#include "timefmt.h"

#define BUF_SIZE (1 << 20)
#define CHUNK_MAX_BYTES (1 << 20)
#define CHUNK_MAX_AGE_NS 1000000000LL
#define FLOW_SLOTS 65536 /* over twice the packets a 1 MiB chunk can hold */

struct flow_slot {
	int64_t flow_id;
	uint32_t idx;
	uint32_t gen;
};

struct flow_counts {
	struct fr_chunk_flow *flows;
	uint32_t n, cap;
	struct flow_slot *slots;
	uint32_t gen;
};

struct segment {
	int64_t id;
	uint64_t bytes;
	char path[64]; /* relative to the data directory */
};

struct fr_pcap_store {
	struct fr_db_writer *w;
	char dir[4096];
	int64_t run_id;
	uint32_t snaplen;
	uint64_t segment_bytes, max_disk;
	int64_t segment_ns;

	int fd;
	struct segment cur;
	int64_t cur_start_ns, cur_packets;
	uint32_t seq;
	int64_t next_segment_id, next_chunk_id;

	/* the open chunk */
	uint64_t chunk_off;
	uint32_t chunk_len, chunk_packets;
	int64_t chunk_first, chunk_last, chunk_opened;
	struct flow_counts flows;

	uint8_t *buf;
	size_t buf_len;
	uint32_t buf_packets;
	/* the flow of each buffered packet, to take it back from the counts if it is dropped */
	struct buffered { struct fr_uflow *uf; int64_t flow_id; } *buf_flows;

	/* closed segments still on disk, oldest first, for retention */
	struct segment *old;
	size_t nold, capold;
	uint64_t disk_bytes;

	bool paused; /* disk full: dropping until a write succeeds again */
	int64_t paused_until; /* no write is tried before this */
	uint64_t dropped;
};

static void full_path(const struct fr_pcap_store *s, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", s->dir, rel);
}

static int old_push(struct fr_pcap_store *s, const struct segment *seg)
{
	if (s->nold == s->capold) {
		size_t cap = s->capold ? s->capold * 2 : 64;
		struct segment *n = realloc(s->old, cap * sizeof(*n));

		if (!n)
			return -1;
		s->old = n;
		s->capold = cap;
	}
	s->old[s->nold++] = *seg;
	s->disk_bytes += seg->bytes;
	return 0;
}

/* Delete the oldest closed segments until they and a full current segment fit in max_disk.
 * The writer deletes each file once its index rows' deletion has committed, so no export is
 * pointed at a vanished file and a failed commit leaves the file with its index. */
static void retention(struct fr_pcap_store *s)
{
	while (s->max_disk && s->nold && s->disk_bytes + s->segment_bytes > s->max_disk) {
		struct segment seg = s->old[0];
		struct fr_op op = { .type = FR_OP_SEGMENT_DELETE, .seg_id = seg.id, .end_ns = fr_now_ns() };

		memmove(s->old, s->old + 1, (s->nold - 1) * sizeof(*s->old));
		s->nold--;
		s->disk_bytes -= seg.bytes;
		memcpy(op.path, seg.path, sizeof(op.path));
		fr_db_writer_push(s->w, &op);
		fr_debug("retention: deleting %s (%" PRIu64 " bytes)", seg.path, seg.bytes);
	}
}

/* Packets per flow in a chunk, counted for every packet: a hash of flow ids to their place
 * in the list, so a chunk with thousands of flows (connection churn) costs no scan. The
 * slots are cleared by generation, not by memset, when a chunk starts. */
static int flow_counts_add(struct flow_counts *fc, int64_t flow_id)
{
	uint32_t h = (uint32_t)((uint64_t)flow_id * 0x9E3779B97F4A7C15ULL >> 32) % FLOW_SLOTS;

	if (!fc->slots) {
		fc->slots = calloc(FLOW_SLOTS, sizeof(*fc->slots));
		if (!fc->slots)
			return -1;
	}
	if (!fc->gen)
		fc->gen = 1;
	/* More than half full (only a recovered tail can be): probing would get long. */
	for (uint32_t probe = 0; fc->n < FLOW_SLOTS / 2; probe++, h = (h + 1) % FLOW_SLOTS) {
		if (fc->slots[h].gen != fc->gen)
			break; /* free: not in the list yet */
		if (fc->slots[h].flow_id == flow_id) {
			fc->flows[fc->slots[h].idx].packets++;
			return 0;
		}
	}
	if (fc->n >= FLOW_SLOTS / 2) {
		for (uint32_t i = 0; i < fc->n; i++) {
			if (fc->flows[i].flow_id == flow_id) {
				fc->flows[i].packets++;
				return 0;
			}
		}
	}
	if (fc->n == fc->cap) {
		uint32_t cap = fc->cap ? fc->cap * 2 : 64;
		struct fr_chunk_flow *n = realloc(fc->flows, cap * sizeof(*n));

		if (!n)
			return -1;
		fc->flows = n;
		fc->cap = cap;
	}
	if (fc->n < FLOW_SLOTS / 2)
		fc->slots[h] = (struct flow_slot){ flow_id, fc->n, fc->gen };
	fc->flows[fc->n++] = (struct fr_chunk_flow){ flow_id, 1 };
	return 0;
}

/* Start counting a new chunk. The list itself has been handed on (or is freed here). */
static void flow_counts_restart(struct flow_counts *fc)
{
	fc->n = 0;
	fc->gen++;
}

static void flow_counts_free(struct flow_counts *fc)
{
	free(fc->flows);
	free(fc->slots);
	memset(fc, 0, sizeof(*fc));
}

/* On a full disk the buffer's packets are dropped (counted in capture_disk) and taken back
 * from their flows' packets_captured and the chunk's per-flow counts: both say what the
 * files hold. A rare path: the chunk's list is searched. */
static void buffer_drop(struct fr_pcap_store *s)
{
	for (uint32_t i = 0; i < s->buf_packets; i++) {
		struct buffered *b = &s->buf_flows[i];

		for (uint32_t k = 0; k < s->flows.n; k++) {
			if (s->flows.flows[k].flow_id == b->flow_id && s->flows.flows[k].packets) {
				s->flows.flows[k].packets--;
				break;
			}
		}
		if (b->uf && b->uf->id == b->flow_id && b->uf->captured) /* not reused meanwhile */
			b->uf->captured--;
	}
	s->dropped += s->buf_packets;
	s->chunk_packets -= s->buf_packets;
	s->chunk_len -= s->buf_len;
	s->buf_len = 0;
	s->buf_packets = 0;
}

/* Append len bytes to the segment file. A failed write (a full disk) pauses capture: one
 * message, the file cut back to its last whole block, no other try for a second. */
static int segment_write(struct fr_pcap_store *s, const uint8_t *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(s->fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (!s->paused)
				fr_log(0, "cannot write %s: %s; packet capture paused, flows are still recorded",
				       s->cur.path, strerror(errno));
			s->paused = true;
			s->paused_until = fr_now_ns() + 1000000000LL;
			if (ftruncate(s->fd, s->cur.bytes) == 0)
				lseek(s->fd, s->cur.bytes, SEEK_SET);
			return -1;
		}
		done += n;
	}
	if (s->paused)
		fr_log(0, "writing %s again: packet capture resumed", s->cur.path);
	s->paused = false;
	s->cur.bytes += len;
	return 0;
}

static bool paused_now(const struct fr_pcap_store *s)
{
	return s->paused && fr_now_ns() < s->paused_until;
}

static int buffer_write(struct fr_pcap_store *s)
{
	if (paused_now(s) || (s->buf_len && segment_write(s, s->buf, s->buf_len))) {
		buffer_drop(s);
		return -1;
	}
	s->buf_len = 0;
	s->buf_packets = 0;
	return 0;
}

static void chunk_close(struct fr_pcap_store *s)
{
	struct fr_op op = { .type = FR_OP_CHUNK };

	buffer_write(s);
	if (s->chunk_packets) {
		op.chunk_id = s->next_chunk_id++;
		op.seg_id = s->cur.id;
		op.offset = s->chunk_off;
		op.length = s->chunk_len;
		op.start_ns = s->chunk_first;
		op.last_ns = s->chunk_last;
		op.packets = s->chunk_packets;
		op.chunk_flows = s->flows.flows;
		op.nchunk_flows = s->flows.n;
		s->flows.flows = NULL; /* the writer frees them */
		s->flows.cap = 0;
		s->cur_packets += s->chunk_packets;
		fr_db_writer_push(s->w, &op);
	}
	flow_counts_restart(&s->flows);
	s->chunk_off = s->cur.bytes;
	s->chunk_len = 0;
	s->chunk_packets = 0;
}

/* The file goes to the writer, which syncs and closes it before it writes the segment's end:
 * an fsync can take long, and the consumer must not wait for the disk. */
static void segment_close(struct fr_pcap_store *s)
{
	struct fr_op op = { .type = FR_OP_SEGMENT_UPDATE, .closes_fd = true };

	if (s->fd < 0)
		return;
	chunk_close(s);
	op.fd = s->fd;
	op.seg_id = s->cur.id;
	op.end_ns = fr_now_ns();
	op.length = s->cur.bytes;
	op.packets = s->cur_packets;
	fr_db_writer_push(s->w, &op);
	s->fd = -1;
	old_push(s, &s->cur);
	memset(&s->cur, 0, sizeof(s->cur));
}

/* A new segment file, its header written before anything else (directly: the buffer holds
 * only the current chunk's packets, which a full disk may drop). Fails, creating nothing, on
 * a full disk. */
static int segment_open(struct fr_pcap_store *s)
{
	struct fr_op op = { .type = FR_OP_SEGMENT_INSERT };
	uint8_t header[256];
	size_t header_len;
	char path[4200];

	if (paused_now(s))
		return -1;
	memset(&s->cur, 0, sizeof(s->cur));
	s->cur.id = s->next_segment_id++;
	snprintf(s->cur.path, sizeof(s->cur.path), "pcap/%" PRId64 "-%u.pcapng", s->run_id, ++s->seq);
	full_path(s, s->cur.path, path, sizeof(path));
	s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (s->fd < 0 || fr_share_fd(s->fd, false)) {
		fr_log(0, "cannot create %s: %s", path, strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return -1;
	}
	header_len = fr_pcapng_header(header, sizeof(header), s->snaplen, "flowrec " FR_VERSION);
	if (!header_len || segment_write(s, header, header_len)) {
		close(s->fd);
		s->fd = -1;
		unlink(path);
		return -1;
	}
	s->cur_start_ns = fr_now_ns();
	s->cur_packets = 0;
	s->buf_len = 0;
	s->buf_packets = 0;
	op.seg_id = s->cur.id;
	op.start_ns = s->cur_start_ns;
	memcpy(op.path, s->cur.path, sizeof(op.path));
	fr_db_writer_push(s->w, &op);
	s->chunk_off = s->cur.bytes;
	retention(s);
	return 0;
}

int fr_pcap_store_append(struct fr_pcap_store *s, const struct fr_pcap_packet *p, struct fr_uflow *uf)
{
	int64_t flow_id = uf ? uf->id : 0;
	size_t need = fr_pcapng_epb_size(p->caplen, p->comment_len);
	int64_t first, last, now = p->ts_ns;

	if (s->fd < 0 && segment_open(s))
		goto drop;
	if (s->cur.bytes + s->buf_len + need > s->segment_bytes ||
	    now - s->cur_start_ns > s->segment_ns) {
		segment_close(s);
		if (segment_open(s))
			goto drop;
	}
	first = s->chunk_packets && s->chunk_first < now ? s->chunk_first : now;
	last = s->chunk_packets && s->chunk_last > now ? s->chunk_last : now;
	if (s->chunk_packets && (s->chunk_len + need > CHUNK_MAX_BYTES ||
				 last - first > FR_CHUNK_MAX_SPAN_NS ||
				 fr_now_ns() - s->chunk_opened > CHUNK_MAX_AGE_NS)) {
		chunk_close(s);
		first = last = now;
	}
	if (s->buf_len + need > BUF_SIZE && buffer_write(s))
		goto drop;
	if (!s->chunk_packets)
		s->chunk_opened = fr_now_ns();
	need = fr_pcapng_epb(s->buf + s->buf_len, BUF_SIZE - s->buf_len, p);
	s->buf_len += need;
	s->buf_packets++;
	s->chunk_len += need;
	s->chunk_packets++;
	s->chunk_first = first;
	s->chunk_last = last;
	if (flow_counts_add(&s->flows, flow_id))
		goto drop;
	s->buf_flows[s->buf_packets - 1] = (struct buffered){ uf, flow_id };
	if (uf)
		uf->captured++; /* counted once it is in the buffer: a drop takes it back */
	return 0;
drop:
	s->dropped++;
	return -1;
}

void fr_pcap_store_flush(struct fr_pcap_store *s)
{
	if (s->fd < 0)
		return;
	if (s->chunk_packets && fr_now_ns() - s->chunk_opened > CHUNK_MAX_AGE_NS)
		chunk_close(s); /* quiet traffic: the last packets become exportable within 1 s */
	else if (s->buf_len)
		buffer_write(s);
}

void fr_pcap_store_rotate(struct fr_pcap_store *s)
{
	segment_close(s);
}

uint64_t fr_pcap_store_dropped(const struct fr_pcap_store *s)
{
	return s->dropped;
}

/* ---- start-up: ids, segments on disk, recovery of a crashed segment ----------------------- */

static int64_t next_id(sqlite3 *db, const char *table)
{
	char sql[128];
	sqlite3_stmt *st = NULL;
	int64_t id = 1;

	snprintf(sql, sizeof(sql), "SELECT COALESCE(MAX(id), 0) + 1 FROM %s", table);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

static int exec_int(sqlite3 *db, const char *sql, const int64_t *args, int nargs)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < nargs; i++)
		sqlite3_bind_int64(st, i + 1, args[i]);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Index the whole blocks after a crashed segment's last chunk as one chunk, trim the rest. */
static int recover_segment(struct fr_pcap_store *s, sqlite3 *db, int64_t seg_id, const char *rel,
			   int64_t indexed_end)
{
	char path[4200];
	uint8_t *data = NULL;
	struct stat st;
	size_t valid, off, chunk_start = 0;
	int64_t first = INT64_MAX, last = 0, packets = 0, seg_packets = 0;
	int fd = -1, ret = -1;
	struct flow_counts flows = { 0 };

	full_path(s, rel, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		/* Gone: nothing of it can be exported; forget its index. */
		exec_int(db, "DELETE FROM pcap_chunk_flows WHERE chunk_id IN (SELECT id FROM pcap_chunks WHERE segment_id = ?1)", &seg_id, 1);
		exec_int(db, "DELETE FROM pcap_chunks WHERE segment_id = ?1", &seg_id, 1);
		ret = exec_int(db, "UPDATE pcap_segments SET end_ns = start_ns, bytes = 0, deleted_ns = start_ns WHERE id = ?1", &seg_id, 1);
		goto cleanup;
	}
	data = malloc(st.st_size ? st.st_size : 1);
	if (!data || pread(fd, data, st.st_size, 0) != st.st_size)
		goto cleanup;
	valid = fr_pcapng_valid_prefix(data, st.st_size);
	if ((int64_t)valid < indexed_end) {
		/* Shorter than its index (a power loss, not a process crash): forget the chunks
		 * past the valid end, and index again from the last one that remains. */
		int64_t args[2] = { seg_id, (int64_t)valid };
		sqlite3_stmt *q = NULL;

		exec_int(db, "DELETE FROM pcap_chunk_flows WHERE chunk_id IN (SELECT id FROM pcap_chunks WHERE segment_id = ?1 AND offset + length > ?2)", args, 2);
		exec_int(db, "DELETE FROM pcap_chunks WHERE segment_id = ?1 AND offset + length > ?2", args, 2);
		indexed_end = 0;
		if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(offset + length), 0) FROM pcap_chunks WHERE segment_id = ?1", -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(q, 1, seg_id);
			if (sqlite3_step(q) == SQLITE_ROW)
				indexed_end = sqlite3_column_int64(q, 0);
		}
		sqlite3_finalize(q);
	}
	for (off = (size_t)indexed_end; off < valid;) {
		struct fr_pcap_packet pkt = { 0 };
		uint32_t type;
		long n = fr_pcapng_parse_block(data + off, valid - off, &type, &pkt);
		int64_t fid;

		if (n <= 0)
			break;
		off += n;
		if (type != FR_PCAPNG_EPB)
			continue; /* the segment's own header */
		if (!packets)
			chunk_start = off - n;
		packets++;
		first = pkt.ts_ns < first ? pkt.ts_ns : first;
		last = pkt.ts_ns > last ? pkt.ts_ns : last;
		fid = fr_pcapng_comment_flow(pkt.comment, pkt.comment_len);
		if (fid < 0)
			fid = 0;
		if (flow_counts_add(&flows, fid))
			goto cleanup;
	}
	if (packets) {
		int64_t chunk_id = next_id(db, "pcap_chunks");
		int64_t args[7] = { chunk_id, seg_id, (int64_t)chunk_start, (int64_t)(valid - chunk_start),
				    first, last, packets };

		if (exec_int(db, "INSERT INTO pcap_chunks(id, segment_id, offset, length, first_ns, last_ns, packets) VALUES (?1,?2,?3,?4,?5,?6,?7)", args, 7))
			goto cleanup;
		for (uint32_t i = 0; i < flows.n; i++) {
			int64_t a[3] = { flows.flows[i].flow_id, chunk_id, flows.flows[i].packets };

			exec_int(db, "INSERT INTO pcap_chunk_flows(flow_id, chunk_id, packets) VALUES (?1,?2,?3)", a, 3);
		}
	}
	if (ftruncate(fd, valid))
		goto cleanup;
	{
		sqlite3_stmt *q = NULL;

		if (sqlite3_prepare_v2(db, "SELECT COALESCE(SUM(packets), 0) FROM pcap_chunks WHERE segment_id = ?1", -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(q, 1, seg_id);
			if (sqlite3_step(q) == SQLITE_ROW)
				seg_packets = sqlite3_column_int64(q, 0);
		}
		sqlite3_finalize(q);
	}
	{
		int64_t args[4] = { seg_id, (int64_t)valid, seg_packets, fr_now_ns() };

		ret = exec_int(db, "UPDATE pcap_segments SET bytes = ?2, packets = ?3, end_ns = ?4 WHERE id = ?1", args, 4);
	}
	fr_info("recovered %s: %" PRId64 " packets indexed after the crash, trimmed to %zu bytes", rel, packets, valid);
cleanup:
	flow_counts_free(&flows);
	free(data);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int load_segments(struct fr_pcap_store *s, sqlite3 *db)
{
	static const char sql[] =
		"SELECT s.id, s.path, s.bytes, s.end_ns IS NULL,"
		" (SELECT COALESCE(MAX(offset + length), 0) FROM pcap_chunks c WHERE c.segment_id = s.id)"
		" FROM pcap_segments s WHERE s.deleted_ns IS NULL ORDER BY s.id";
	sqlite3_stmt *st = NULL;
	int ret = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto cleanup;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct segment seg = { .id = sqlite3_column_int64(st, 0),
				       .bytes = (uint64_t)sqlite3_column_int64(st, 2) };
		const char *rel = (const char *)sqlite3_column_text(st, 1);

		snprintf(seg.path, sizeof(seg.path), "%s", rel ? rel : "");
		if (sqlite3_column_int(st, 3)) {
			char full[4200];
			struct stat fst;

			if (recover_segment(s, db, seg.id, seg.path, sqlite3_column_int64(st, 4)))
				fr_log(0, "cannot recover %s", seg.path);
			full_path(s, seg.path, full, sizeof(full));
			seg.bytes = stat(full, &fst) ? 0 : (uint64_t)fst.st_size;
		}
		if (old_push(s, &seg))
			goto cleanup;
	}
	ret = 0;
cleanup:
	if (ret)
		fr_log(0, "cannot read the packet index: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ret;
}

struct fr_pcap_store *fr_pcap_store_open(const char *data_dir, sqlite3 *db, int64_t run_id,
					 const struct fr_capture_opts *o)
{
	struct fr_pcap_store *s = calloc(1, sizeof(*s));
	char pdir[4200];

	if (!s)
		return NULL;
	s->fd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", data_dir);
	s->run_id = run_id;
	s->snaplen = o->snaplen;
	s->segment_bytes = o->segment_bytes;
	s->segment_ns = o->segment_ns;
	s->max_disk = o->max_disk;
	s->buf = malloc(BUF_SIZE);
	s->buf_flows = calloc(BUF_SIZE / fr_pcapng_epb_size(0, 0) + 1, sizeof(*s->buf_flows));
	snprintf(pdir, sizeof(pdir), "%s/pcap", data_dir);
	if (!s->buf || !s->buf_flows || (mkdir(pdir, 0700) && errno != EEXIST)) {
		fr_log(0, "cannot create %s: %s", pdir, strerror(errno));
		goto fail;
	}
	/* --group: the directory, and the segments recorded before it was given. */
	if (fr_share_path(pdir, true) || fr_share_dir_files(pdir)) {
		fr_log(0, "cannot give %s and its segments to the --group: %s", pdir, strerror(errno));
		goto fail;
	}
	if (load_segments(s, db))
		goto fail;
	s->next_segment_id = next_id(db, "pcap_segments");
	s->next_chunk_id = next_id(db, "pcap_chunks");
	return s;
fail:
	free(s->buf);
	free(s->buf_flows);
	free(s->old);
	free(s);
	return NULL;
}

/* The writer must still be running: closing writes the last chunk and segment rows. */
void fr_pcap_store_close(struct fr_pcap_store *s)
{
	if (!s)
		return;
	segment_close(s);
	flow_counts_free(&s->flows);
	free(s->buf);
	free(s->buf_flows);
	free(s->old);
	free(s);
}

void fr_pcap_store_set_writer(struct fr_pcap_store *s, struct fr_db_writer *w)
{
	s->w = w;
}
