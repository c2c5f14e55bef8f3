/*
 * Unit tests for the recorder's user-space flow table (recorder/flow_table.c): insert, find,
 * remove (including from inside a walk), capacity, keys that differ in one field only, and
 * the walk of one cookie's flows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "../../recorder/flow_table.h"

static struct fr_flow_key key(uint64_t cookie, uint32_t raddr, uint16_t rport)
{
	struct fr_flow_key k = { .cookie = cookie, .rport = rport, .family = 4, .proto = 17 };

	k.raddr[0] = raddr;
	return k;
}

static void insert_find_remove(void **state)
{
	struct fr_flow_table *t = fr_flow_table_new(16);
	struct fr_flow_key a = key(1, 0x0100007f, 53), b = key(1, 0x0100007f, 54);
	struct fr_uflow *fa, *fb;

	(void)state;
	assert_non_null(t);
	fa = fr_flow_table_insert(t, &a);
	fa->id = 10;
	fb = fr_flow_table_insert(t, &b);
	fb->id = 11;
	assert_int_equal(fr_flow_table_count(t), 2);
	assert_int_equal(fr_flow_table_find(t, &a)->id, 10);
	assert_int_equal(fr_flow_table_find(t, &b)->id, 11);
	fr_flow_table_remove(t, fa);
	assert_null(fr_flow_table_find(t, &a));
	assert_int_equal(fr_flow_table_find(t, &b)->id, 11);
	assert_int_equal(fr_flow_table_count(t), 1);
	fr_flow_table_free(t);
}

static void full_table_refuses_then_reuses(void **state)
{
	struct fr_flow_table *t = fr_flow_table_new(4);
	struct fr_flow_key k;
	struct fr_uflow *first = NULL;

	(void)state;
	for (uint64_t i = 0; i < 4; i++) {
		k = key(i + 1, 1, 1);
		struct fr_uflow *f = fr_flow_table_insert(t, &k);

		assert_non_null(f);
		if (!first)
			first = f;
	}
	k = key(99, 1, 1);
	assert_null(fr_flow_table_insert(t, &k));
	fr_flow_table_remove(t, first);
	assert_non_null(fr_flow_table_insert(t, &k));
	assert_non_null(fr_flow_table_find(t, &k));
	fr_flow_table_free(t);
}

static void remove_even(struct fr_uflow *f, void *arg)
{
	struct fr_flow_table *t = arg;

	if (f->key.cookie % 2 == 0)
		fr_flow_table_remove(t, f);
}

static void walk_may_remove_the_current_flow(void **state)
{
	struct fr_flow_table *t = fr_flow_table_new(1000);

	(void)state;
	/* More flows than buckets' worth of spread: chains get long. */
	for (uint64_t i = 1; i <= 1000; i++) {
		struct fr_flow_key k = key(i, (uint32_t)(i * 7), (uint16_t)i);

		assert_non_null(fr_flow_table_insert(t, &k));
	}
	fr_flow_table_each(t, remove_even, t);
	assert_int_equal(fr_flow_table_count(t), 500);
	for (uint64_t i = 1; i <= 1000; i++) {
		struct fr_flow_key k = key(i, (uint32_t)(i * 7), (uint16_t)i);

		if (i % 2)
			assert_non_null(fr_flow_table_find(t, &k));
		else
			assert_null(fr_flow_table_find(t, &k));
	}
	fr_flow_table_free(t);
}

struct cookie_walk {
	struct fr_flow_table *t;
	uint64_t cookie;
	int seen, wrong;
};

static void count_and_remove(struct fr_uflow *f, void *arg)
{
	struct cookie_walk *w = arg;

	w->seen++;
	if (f->key.cookie != w->cookie)
		w->wrong++;
	fr_flow_table_remove(w->t, f);
}

/* A socket's flows, found by its cookie alone: exactly those, whatever else shares their
 * buckets, removable during the walk, and the table consistent after. */
static void each_cookie_finds_exactly_its_flows(void **state)
{
	struct fr_flow_table *t = fr_flow_table_new(64);
	struct cookie_walk w = { .t = t, .cookie = 7 };

	(void)state;
	for (uint64_t c = 1; c <= 40; c++)
		assert_non_null(fr_flow_table_insert(t, &(struct fr_flow_key){ .cookie = c, .rport = 1 }));
	for (uint16_t p = 2; p <= 20; p++) /* 20 peers of cookie 7 */
		assert_non_null(fr_flow_table_insert(t, &(struct fr_flow_key){ .cookie = 7, .rport = p }));
	fr_flow_table_each_cookie(t, 7, count_and_remove, &w);
	assert_int_equal(w.seen, 20);
	assert_int_equal(w.wrong, 0);
	assert_int_equal(fr_flow_table_count(t), 39);
	w.seen = 0;
	fr_flow_table_each_cookie(t, 7, count_and_remove, &w);
	assert_int_equal(w.seen, 0);
	for (uint64_t c = 1; c <= 40; c++) {
		struct fr_flow_key k = { .cookie = c, .rport = 1 };

		if (c == 7)
			assert_null(fr_flow_table_find(t, &k));
		else
			assert_non_null(fr_flow_table_find(t, &k));
	}
	/* Removal by the key chain unlinks the cookie chain too. */
	fr_flow_table_remove(t, fr_flow_table_find(t, &(struct fr_flow_key){ .cookie = 9, .rport = 1 }));
	w.cookie = 9;
	fr_flow_table_each_cookie(t, 9, count_and_remove, &w);
	assert_int_equal(w.seen, 0);
	fr_flow_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(insert_find_remove),
		cmocka_unit_test(full_table_refuses_then_reuses),
		cmocka_unit_test(walk_may_remove_the_current_flow),
		cmocka_unit_test(each_cookie_finds_exactly_its_flows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
