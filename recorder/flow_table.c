/*
 * The recorder's own table of open flows, keyed like the BPF flows map, holding what the
 * database already has for each: its row id, owner and last written counters.
 *
 * Entries live in one array allocated at start (no allocation per flow); buckets and chains
 * are array indices plus one, with 0 meaning none. Entries are handed out in array order and,
 * once removed, kept on a free list through `next`: the array's pages are only touched, and
 * only resident, as far as the most flows ever open at once reached.
 * A second chain links the flows of one socket cookie, so that a socket's release finds its
 * flows (one per peer, for an unconnected UDP socket) without a walk of the whole table.
 */
#include <stdlib.h>
#include <string.h>

#include "recorder.h"
#include "flow_table.h"

struct fr_flow_table {
	struct fr_uflow *entries;
	uint32_t *buckets;
	uint32_t *cookie_buckets;
	uint32_t nbuckets; /* power of two, for both */
	uint32_t capacity;
	uint32_t count;
	uint32_t free_head; /* removed entries, index + 1 */
	uint32_t unused;    /* entries from here on were never handed out */
};

static uint32_t cookie_slot(const struct fr_flow_table *t, uint64_t cookie)
{
	return (uint32_t)((cookie * 0x9E3779B97F4A7C15ULL) >> 32) & (t->nbuckets - 1);
}

static uint32_t key_hash(const struct fr_flow_key *k)
{
	/* FNV-1a over the key bytes; keys are zero-padded so the padding is stable. */
	const unsigned char *p = (const unsigned char *)k;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

struct fr_flow_table *fr_flow_table_new(uint32_t capacity)
{
	struct fr_flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = 1;
	while (t->nbuckets < capacity)
		t->nbuckets <<= 1;
	t->capacity = capacity;
	t->entries = calloc(capacity, sizeof(*t->entries));
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->cookie_buckets = calloc(t->nbuckets, sizeof(*t->cookie_buckets));
	if (!t->entries || !t->buckets || !t->cookie_buckets) {
		fr_flow_table_free(t);
		return NULL;
	}
	return t;
}

void fr_flow_table_free(struct fr_flow_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; t->entries && i < t->capacity; i++)
		free(t->entries[i].ipfix_rname);
	free(t->entries);
	free(t->buckets);
	free(t->cookie_buckets);
	free(t);
}

struct fr_uflow *fr_flow_table_find(struct fr_flow_table *t, const struct fr_flow_key *k)
{
	uint32_t i = t->buckets[key_hash(k) & (t->nbuckets - 1)];

	while (i) {
		struct fr_uflow *f = &t->entries[i - 1];

		if (!memcmp(&f->key, k, sizeof(*k)))
			return f;
		i = f->next;
	}
	return NULL;
}

struct fr_uflow *fr_flow_table_insert(struct fr_flow_table *t, const struct fr_flow_key *k)
{
	uint32_t *bucket = &t->buckets[key_hash(k) & (t->nbuckets - 1)];
	uint32_t i = t->free_head;
	struct fr_uflow *f;

	if (i) {
		f = &t->entries[i - 1];
		t->free_head = f->next;
	} else if (t->unused < t->capacity) {
		i = ++t->unused;
		f = &t->entries[i - 1];
	} else {
		return NULL;
	}
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->next = *bucket;
	*bucket = i;
	bucket = &t->cookie_buckets[cookie_slot(t, k->cookie)];
	f->cookie_next = *bucket;
	*bucket = i;
	t->count++;
	return f;
}

void fr_flow_table_remove(struct fr_flow_table *t, struct fr_uflow *f)
{
	uint32_t idx = (uint32_t)(f - t->entries) + 1;
	uint32_t *link = &t->buckets[key_hash(&f->key) & (t->nbuckets - 1)];

	free(f->ipfix_rname);
	f->ipfix_rname = NULL;

	while (*link && *link != idx)
		link = &t->entries[*link - 1].next;
	if (!*link)
		return;
	*link = f->next;
	link = &t->cookie_buckets[cookie_slot(t, f->key.cookie)];
	while (*link && *link != idx)
		link = &t->entries[*link - 1].cookie_next;
	if (*link)
		*link = f->cookie_next;
	memset(f, 0, sizeof(*f));
	f->next = t->free_head;
	t->free_head = idx;
	t->count--;
}

void fr_flow_table_each(struct fr_flow_table *t, void (*fn)(struct fr_uflow *, void *), void *arg)
{
	for (uint32_t b = 0; b < t->nbuckets; b++) {
		uint32_t i = t->buckets[b];

		while (i) {
			struct fr_uflow *f = &t->entries[i - 1];
			uint32_t next = f->next; /* fn may remove f */

			fn(f, arg);
			i = next;
		}
	}
}

void fr_flow_table_each_cookie(struct fr_flow_table *t, uint64_t cookie,
			       void (*fn)(struct fr_uflow *, void *), void *arg)
{
	uint32_t i = t->cookie_buckets[cookie_slot(t, cookie)];

	while (i) {
		struct fr_uflow *f = &t->entries[i - 1];
		uint32_t next = f->cookie_next; /* fn may remove f */

		if (f->key.cookie == cookie)
			fn(f, arg);
		i = next;
	}
}

uint32_t fr_flow_table_count(const struct fr_flow_table *t)
{
	return t->count;
}
