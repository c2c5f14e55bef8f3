/*
 * The IPFIX export thread (see ipfix_export.h).
 *
 * The consumer copies a record into a fixed ring under a mutex held for that copy only; the
 * thread takes up to a batch at a time, encodes and sends it to every collector (lib/ipfix.c),
 * and sends a message per batch. It also wakes every 200 ms with nothing to do, for the
 * exporters' timers: UDP template refresh, TCP reconnection.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "ipfix_export.h"
#include "log.h"

#define QUEUE_RECORDS 4096
#define BATCH 64
#define DRAIN_NS (5 * 1000000000LL) /* at stop, what is still queued after this is lost */

struct fr_ipfix_export {
	struct fr_ipfix_exporter *exp[FR_MAX_IPFIX_COLLECTORS];
	int nexp;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t wake, room;
	bool stopping;
	int64_t stop_deadline; /* CLOCK_MONOTONIC ns */
	uint32_t head, count; /* ring[head] is the oldest of count records */
	_Atomic uint64_t lost;
	struct fr_ipfix_flow batch[BATCH]; /* the thread's own */
	struct fr_ipfix_flow ring[QUEUE_RECORDS];
};

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void send_batch(struct fr_ipfix_export *x, uint32_t n)
{
	int64_t now = realtime_ns();
	uint64_t lost = 0;

	for (int e = 0; e < x->nexp; e++) {
		uint64_t message_lost = 0;

		for (uint32_t i = 0; i < n; i++)
			if (fr_ipfix_export(x->exp[e], &x->batch[i]))
				lost++;
		if (fr_ipfix_flush(x->exp[e], now, &message_lost))
			lost += message_lost;
	}
	if (lost)
		atomic_fetch_add(&x->lost, lost);
}

static void *export_thread(void *arg)
{
	struct fr_ipfix_export *x = arg;

	pthread_mutex_lock(&x->lock);
	for (;;) {
		uint32_t n = 0;

		if (!x->count && !x->stopping) {
			struct timespec until;

			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += 200 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&x->wake, &x->lock, &until);
		}
		if (x->stopping && monotonic_ns() > x->stop_deadline && x->count) {
			/* A collector that takes this long must not hold up the recorder's stop. */
			atomic_fetch_add(&x->lost, (uint64_t)x->count * (uint64_t)x->nexp);
			x->count = 0;
		}
		while (n < BATCH && x->count) {
			x->batch[n++] = x->ring[x->head];
			x->head = (x->head + 1) % QUEUE_RECORDS;
			x->count--;
		}
		if (n)
			pthread_cond_broadcast(&x->room);
		if (!n && x->stopping)
			break;
		pthread_mutex_unlock(&x->lock);
		send_batch(x, n);
		pthread_mutex_lock(&x->lock);
	}
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

struct fr_ipfix_export *fr_ipfix_export_start(const char *const *collectors, int n, uint32_t domain)
{
	struct fr_ipfix_export *x = calloc(1, sizeof(*x));
	pthread_condattr_t ca;
	char err[512];

	if (!x) {
		fr_log(0, "IPFIX export: out of memory");
		return NULL;
	}
	pthread_mutex_init(&x->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->wake, &ca);
	pthread_cond_init(&x->room, &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i < n && i < FR_MAX_IPFIX_COLLECTORS; i++) {
		x->exp[i] = fr_ipfix_exporter_new(collectors[i], domain, err, sizeof(err));
		if (!x->exp[i]) {
			fr_log(0, "%s", err);
			goto fail;
		}
		x->nexp++;
	}
	if (pthread_create(&x->thread, NULL, export_thread, x)) {
		fr_log(0, "IPFIX export: cannot start its thread");
		goto fail;
	}
	x->started = true;
	return x;
fail:
	fr_ipfix_export_stop(x);
	return NULL;
}

bool fr_ipfix_export_push(struct fr_ipfix_export *x, const struct fr_ipfix_flow *f, bool wait)
{
	pthread_mutex_lock(&x->lock);
	while (wait && x->count == QUEUE_RECORDS) {
		pthread_cond_signal(&x->wake);
		pthread_cond_wait(&x->room, &x->lock);
	}
	if (x->count == QUEUE_RECORDS) {
		pthread_mutex_unlock(&x->lock);
		atomic_fetch_add(&x->lost, (uint64_t)x->nexp);
		return false;
	}
	x->ring[(x->head + x->count) % QUEUE_RECORDS] = *f;
	/* Wake the thread for a batch's worth, not for every record. */
	if (++x->count == BATCH)
		pthread_cond_signal(&x->wake);
	pthread_mutex_unlock(&x->lock);
	return true;
}

uint64_t fr_ipfix_export_lost(const struct fr_ipfix_export *x)
{
	return x ? atomic_load(&((struct fr_ipfix_export *)x)->lost) : 0;
}

uint64_t fr_ipfix_export_stop(struct fr_ipfix_export *x)
{
	uint64_t lost;

	if (!x)
		return 0;
	if (x->started) {
		pthread_mutex_lock(&x->lock);
		x->stopping = true;
		x->stop_deadline = monotonic_ns() + DRAIN_NS;
		pthread_cond_signal(&x->wake);
		pthread_mutex_unlock(&x->lock);
		pthread_join(x->thread, NULL);
	}
	for (int i = 0; i < x->nexp; i++)
		fr_ipfix_exporter_free(x->exp[i]);
	lost = atomic_load(&x->lost);
	pthread_cond_destroy(&x->wake);
	pthread_cond_destroy(&x->room);
	pthread_mutex_destroy(&x->lock);
	free(x);
	return lost;
}
