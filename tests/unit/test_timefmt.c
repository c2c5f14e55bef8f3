/*
 * Unit tests for lib/timefmt.c: every accepted time form with its exact nanosecond value,
 * every kind of rejection, and RFC 3339 output in UTC and in fixed local zones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "timefmt.h"

#define S 1000000000LL
/* 2027-01-15T08:00:00.123456789Z: a "now" with a fraction, so relative times must keep it. */
#define NOW (1800000000LL * S + 123456789LL)

struct accept_case {
	const char *in;
	int utc;
	int64_t want;
};

/* Zones are set explicitly: the tests must not depend on the machine's /etc/localtime. */
static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* Europe/Berlin from the tz database when installed, else the same rules as a POSIX string
 * (equivalent for every date these tests use). */
static void set_tz_berlin(void)
{
	set_tz(access("/usr/share/zoneinfo/Europe/Berlin", R_OK) == 0 ? "Europe/Berlin"
								     : "CET-1CEST,M3.5.0,M10.5.0/3");
}

static void check_accepts(const struct accept_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char err[256] = "";
		int64_t got = -7;
		int rc = fr_time_parse(cases[i].in, NOW, cases[i].utc, &got, err, sizeof(err));

		if (rc != 0)
			fail_msg("'%s' refused: %s", cases[i].in, err);
		if (got != cases[i].want)
			fail_msg("'%s' (utc=%d): got %lld, want %lld", cases[i].in, cases[i].utc, (long long)got,
				 (long long)cases[i].want);
	}
}

static void check_rejects(const char *const *cases, size_t n, int utc)
{
	for (size_t i = 0; i < n; i++) {
		char err[512] = "", want_prefix[256];
		int64_t got = 42;
		int rc = fr_time_parse(cases[i], NOW, utc, &got, err, sizeof(err));

		if (rc != -1)
			fail_msg("'%s' accepted as %lld", cases[i], (long long)got);
		if (got != 42)
			fail_msg("'%s' refused but *out_ns was written", cases[i]);
		snprintf(want_prefix, sizeof(want_prefix), "invalid time '%s': ", cases[i]);
		if (strncmp(err, want_prefix, strlen(want_prefix)) != 0)
			fail_msg("'%s': error does not name the text: %s", cases[i], err);
	}
}

static void test_rfc3339_utc(void **state)
{
	static const struct accept_case cases[] = {
		{ "2026-11-30T10:00:00Z", 0, 1796032800LL * S },
		{ "2026-11-30t10:00:00z", 0, 1796032800LL * S },
		{ "2026-11-30 10:00:00Z", 0, 1796032800LL * S },
		{ "2026-11-30T10:00:00.5Z", 0, 1796032800LL * S + 500000000 },
		{ "2026-11-30T10:00:00.123456789Z", 0, 1796032800LL * S + 123456789 },
		{ "2026-11-30T10:00:00.000000001Z", 0, 1796032800LL * S + 1 },
		{ "2026-11-30T10:00:00.10Z", 0, 1796032800LL * S + 100000000 },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "1970-01-01T00:00:00.000000001Z", 0, 1 },
		{ "2024-02-29T00:00:00Z", 0, 1709164800LL * S },
		/* A leap second reads as the first second of the next minute. */
		{ "2016-12-31T23:59:60Z", 0, 1483228800LL * S },
		{ "2016-12-31T23:59:60.5Z", 0, 1483228800LL * S + 500000000 },
		/* The last nanosecond an int64 holds. */
		{ "2262-04-11T23:47:16.854775807Z", 0, INT64_MAX },
	};

	(void)state;
	set_tz_berlin(); /* an explicit Z must win over the local zone */
	check_accepts(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_rfc3339_offsets(void **state)
{
	static const struct accept_case cases[] = {
		{ "2026-11-30T12:00:00+02:00", 0, 1796032800LL * S },
		{ "2026-11-30T05:30:00-04:30", 0, 1796032800LL * S },
		{ "2026-11-30T10:00:00+00:00", 0, 1796032800LL * S },
		{ "2026-11-30T10:00:00-00:00", 0, 1796032800LL * S },
		{ "2026-11-30T10:00:00.25+01:00", 0, 1796029200LL * S + 250000000 },
		{ "2026-12-01T09:59:00+23:59", 0, 1796032800LL * S },
		/* An explicit offset wins over utc=1 too. */
		{ "2026-11-30T11:00:00+01:00", 1, 1796032800LL * S },
		/* Offsets carry the date across midnight. */
		{ "2026-12-01T01:00:00+15:00", 0, 1796032800LL * S },
	};

	(void)state;
	set_tz_berlin();
	check_accepts(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_civil_utc(void **state)
{
	static const struct accept_case cases[] = {
		{ "2026-11-30 10:00", 1, 1796032800LL * S },
		{ "2026-11-30T10:00", 1, 1796032800LL * S },
		{ "2026-11-30 10:00:07", 1, 1796032807LL * S },
		{ "2026-11-30 10:00:07.25", 1, 1796032807LL * S + 250000000 },
		{ "2026-11-30 10:00:07.999999999", 1, 1796032807LL * S + 999999999 },
		{ "2026-11-30T10:00:00", 1, 1796032800LL * S },
		{ "2026-11-30", 1, 1795996800LL * S },
		{ "2024-02-29", 1, 1709164800LL * S },
		{ "2000-02-29", 1, 951782400LL * S },
		{ "2026-12-31 23:59:59", 1, 1798761599LL * S },
		{ "2026-01-31", 1, 1769817600LL * S },
	};

	(void)state;
	set_tz_berlin(); /* utc=1 must ignore it */
	check_accepts(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_civil_local(void **state)
{
	static const struct accept_case cases[] = {
		/* winter, CET = UTC+1 */
		{ "2026-11-30 10:00", 0, 1796029200LL * S },
		{ "2026-11-30 10:00:00.5", 0, 1796029200LL * S + 500000000 },
		{ "2026-11-30T10:00:00", 0, 1796029200LL * S },
		{ "2026-11-30", 0, 1795993200LL * S },
		/* summer, CEST = UTC+2 */
		{ "2026-07-01 10:00", 0, 1782892800LL * S },
		{ "2026-07-01t10:00:00.000000007", 0, 1782892800LL * S + 7 },
		/* the first minute after the spring change */
		{ "2026-03-29 03:00", 0, 1774746000LL * S },
		/* a wall-clock time that happens twice (autumn): always the first, in summer time */
		{ "2026-10-25 02:30", 0, 1792888200LL * S },
		{ "2026-07-01 10:00", 0, 1782892800LL * S },
		{ "2026-10-25 02:30", 0, 1792888200LL * S },
		{ "2026-11-30 10:00", 0, 1796029200LL * S },
		{ "2026-10-25 02:30", 0, 1792888200LL * S },
		{ "2026-10-25 02:59:59.5", 0, 1792889999LL * S + 500000000 },
		/* the hour after the repeated one is unambiguous again */
		{ "2026-10-25 03:00", 0, 1792893600LL * S },
	};

	(void)state;
	set_tz_berlin();
	check_accepts(cases, sizeof(cases) / sizeof(cases[0]));

	set_tz("America/New_York");
	{
		static const struct accept_case ny[] = {
			{ "2026-11-30 05:00", 0, 1796032800LL * S },
			{ "2026-07-01 06:00", 0, 1782900000LL * S },
		};
		check_accepts(ny, sizeof(ny) / sizeof(ny[0]));
	}
}

static void test_skipped_local_time(void **state)
{
	char err[256] = "";
	int64_t got = 42;

	(void)state;
	set_tz_berlin();
	/* 02:00-03:00 on 2026-03-29 does not exist in Berlin. */
	assert_int_equal(fr_time_parse("2026-03-29 02:30", NOW, 0, &got, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid time '2026-03-29 02:30': that local time does not exist "
				 "(skipped by a daylight saving change)");
	assert_true(got == 42);
	/* The same text is fine in UTC. */
	assert_int_equal(fr_time_parse("2026-03-29 02:30", NOW, 1, &got, err, sizeof(err)), 0);
	assert_true(got == 1774751400LL * S);
}

static void test_epoch(void **state)
{
	static const struct accept_case cases[] = {
		{ "@1700000000", 0, 1700000000LL * S },
		{ "@1700000000.25", 0, 1700000000LL * S + 250000000 },
		{ "@1700000000.123456789", 0, 1700000000LL * S + 123456789 },
		/* not what 1700000000.1 * 1e9 is as a double */
		{ "@1700000000.1", 1, 1700000000LL * S + 100000000 },
		{ "@1700000000.000000001", 0, 1700000000LL * S + 1 },
		{ "@0", 0, 0 },
		{ "@0.5", 0, 500000000 },
		{ "@00000000001", 0, 1 * S },
		{ "@9223372036.854775807", 0, INT64_MAX },
	};

	(void)state;
	set_tz_berlin();
	check_accepts(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_durations(void **state)
{
	static const struct accept_case cases[] = {
		{ "15m", 0, NOW - 15 * 60 * S },
		{ "2h", 0, NOW - 2 * 3600 * S },
		{ "3d", 0, NOW - 3 * 86400 * S },
		{ "1w", 0, NOW - 7 * 86400 * S },
		{ "30s", 0, NOW - 30 * S },
		{ "500ms", 0, NOW - 500000000 },
		{ "250us", 0, NOW - 250000 },
		{ "7ns", 0, NOW - 7 },
		{ "1h30m", 1, NOW - 90 * 60 * S },
		{ "1m30s", 0, NOW - 90 * S },
		{ "1s500ms", 0, NOW - 1500000000 },
		{ "1w1d1h1m1s1ms1us1ns", 0, NOW - (8 * 86400 + 3661) * S - 1001001 },
		{ "0s", 0, NOW },
		{ "90m", 0, NOW - 90 * 60 * S },
		{ "015m", 0, NOW - 15 * 60 * S },
		/* relative to now, not to anything in the zone */
		{ "1d", 1, NOW - 86400 * S },
	};

	(void)state;
	set_tz_berlin();
	check_accepts(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_rejects(void **state)
{
	static const char *const cases[] = {
		"",
		"yesterday",
		"now",
		/* calendar fields out of range */
		"2026-13-01",
		"2026-00-10",
		"2026-01-00",
		"2026-01-32",
		"2026-02-29",
		"2100-02-29",
		"2026-04-31",
		"2026-11-30T24:00:00Z",
		"2026-11-30T10:60Z",
		"2026-11-30T10:00:61Z",
		"2026-11-30T10:00:00+24:00",
		"2026-11-30T10:00:00+01:60",
		/* beyond what int64 nanoseconds can hold */
		"2262-04-11T23:47:16.854775808Z",
		"9999-12-31",
		/* malformed dates and times */
		"2026-1-5",
		"2026-11-5",
		"2026/11/30",
		"2026-11-30x",
		"2026-11-30T",
		"2026-11-30T10",
		"2026-11-30T10:0",
		"2026-11-30T10:00:0",
		"2026-11-30T10:00:00.",
		"2026-11-30T10:00:00.Z",
		"2026-11-30T10:00:00.1234567890Z",
		"2026-11-30T10:00:00Zjunk",
		"2026-11-30T10:00:00 Z",
		"2026-11-30T10:00:00+2:00",
		"2026-11-30T10:00:00+0200",
		"2026-11-30T10:00:00+02",
		"2026-11-30  10:00",
		"2026-11-30Z",
		" 2026-11-30",
		/* bad epochs */
		"@",
		"@abc",
		"@1.",
		"@.5",
		"@-5",
		"@+5",
		"@1700000000x",
		"@1700000000.1234567891",
		"@1700000000 ",
		"@9223372036.854775808",
		"@99999999999999999999",
		/* bad durations */
		"15x",
		"15",
		"1h30",
		"h",
		"ms",
		"1.5h",
		"1H",
		"-15m",
		"+15m",
		" 15m",
		"15m ",
		"15 m",
		"1hh",
		"1msec",
		"1mss",
		"9999999999999999999s",
		"106752d",
		"15m\n",
	};

	(void)state;
	set_tz_berlin();
	check_rejects(cases, sizeof(cases) / sizeof(cases[0]), 0);
	check_rejects(cases, sizeof(cases) / sizeof(cases[0]), 1);
}

static void test_reject_message(void **state)
{
	char err[256];
	int64_t got;

	(void)state;
	assert_int_equal(fr_time_parse("yesterday", NOW, 0, &got, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid time 'yesterday': expected RFC 3339, 'YYYY-MM-DD HH:MM[:SS]', "
				 "@EPOCH or a duration like 15m");
	assert_int_equal(fr_time_parse("2026-13-01", NOW, 1, &got, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid time '2026-13-01': no such date or time (a month, day, hour, "
				 "minute or offset out of range)");
	/* Well formed but beyond int64 nanoseconds: said so, not "expected RFC 3339". */
	for (size_t i = 0; i < 4; i++) {
		static const char *const far[] = { "9999-12-31", "2262-04-11T23:47:16.854775808Z", "@99999999999",
						   "99999999999w" };
		char want[256];

		assert_int_equal(fr_time_parse(far[i], NOW, 1, &got, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "invalid time '%s': out of range (times are 64-bit nanoseconds "
			 "since 1970: 1677-09-21 to 2262-04-11)", far[i]);
		assert_string_equal(err, want);
	}
	assert_int_equal(fr_time_parse("2262-04-11T23:47:16.854775807Z", NOW, 1, &got, err, sizeof(err)), 0);
	assert_true(got == INT64_MAX);
	assert_int_equal(fr_time_parse("", NOW, 1, &got, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid time '': expected RFC 3339, 'YYYY-MM-DD HH:MM[:SS]', "
				 "@EPOCH or a duration like 15m");
	/* A short buffer is cut, still terminated. */
	assert_int_equal(fr_time_parse("yesterday", NOW, 0, &got, err, 10), -1);
	assert_string_equal(err, "invalid t");
}

static void test_duration_past_int64(void **state)
{
	char err[256];
	int64_t got = 42;

	(void)state;
	/* Fits as a duration, but now minus it does not fit in int64. */
	assert_int_equal(fr_time_parse("15250w", INT64_MIN + 1, 0, &got, err, sizeof(err)), -1);
	assert_true(got == 42);
	assert_int_equal(fr_time_parse("1ns", INT64_MIN + 1, 0, &got, err, sizeof(err)), 0);
	assert_true(got == INT64_MIN);
}

static void check_format(int64_t ns, int utc, const char *want)
{
	char buf[64];
	size_t n;

	memset(buf, 'x', sizeof(buf));
	n = fr_time_format(ns, utc, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("format %lld (utc=%d): got '%s', want '%s'", (long long)ns, utc, buf, want);
	assert_int_equal(n, strlen(want));
	assert_true(n < 40);
}

static void test_format_utc(void **state)
{
	(void)state;
	set_tz_berlin(); /* utc=1 must ignore it */
	check_format(0, 1, "1970-01-01T00:00:00.000000000Z");
	check_format(1, 1, "1970-01-01T00:00:00.000000001Z");
	check_format(1700000000LL * S + 250000000, 1, "2023-11-14T22:13:20.250000000Z");
	check_format(1796032800LL * S + 123456789, 1, "2026-11-30T10:00:00.123456789Z");
	check_format(1709164800LL * S + 999999999, 1, "2024-02-29T00:00:00.999999999Z");
	check_format(INT64_MAX, 1, "2262-04-11T23:47:16.854775807Z");
	/* Not expected, but must still print a valid time. */
	check_format(-1, 1, "1969-12-31T23:59:59.999999999Z");
	check_format(-S, 1, "1969-12-31T23:59:59.000000000Z");
	check_format(INT64_MIN, 1, "1677-09-21T00:12:43.145224192Z");
}

static void test_format_local(void **state)
{
	(void)state;
	set_tz_berlin();
	check_format(1796032800LL * S, 0, "2026-11-30T11:00:00.000000000+01:00");
	check_format(1782892800LL * S + 5, 0, "2026-07-01T10:00:00.000000005+02:00");
	/* both sides of the autumn change */
	check_format(1792888200LL * S, 0, "2026-10-25T02:30:00.000000000+02:00");
	check_format(1792891800LL * S, 0, "2026-10-25T02:30:00.000000000+01:00");
	check_format(-1, 0, "1970-01-01T00:59:59.999999999+01:00");

	set_tz("America/New_York");
	check_format(1796032800LL * S, 0, "2026-11-30T05:00:00.000000000-05:00");
	check_format(1782900000LL * S, 0, "2026-07-01T06:00:00.000000000-04:00");

	set_tz("Asia/Kolkata");
	check_format(1796032800LL * S, 0, "2026-11-30T15:30:00.000000000+05:30");

	set_tz("UTC");
	check_format(1796032800LL * S, 0, "2026-11-30T10:00:00.000000000+00:00");
}

static void test_format_short_buffer(void **state)
{
	char buf[16];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fr_time_format(0, 1, buf, 10), 9);
	assert_string_equal(buf, "1970-01-0");
	assert_int_equal(buf[10], 'x');
	assert_int_equal(fr_time_format(0, 1, buf, 1), 0);
	assert_string_equal(buf, "");
	buf[0] = 'x';
	assert_int_equal(fr_time_format(0, 1, buf, 0), 0);
	assert_int_equal(buf[0], 'x');
}

static void check_round_trip(int64_t ns, int utc)
{
	char buf[40], err[256];
	int64_t back = -1;

	fr_time_format(ns, utc, buf, sizeof(buf));
	if (fr_time_parse(buf, NOW, utc, &back, err, sizeof(err)) != 0)
		fail_msg("'%s' does not parse back: %s", buf, err);
	if (back != ns)
		fail_msg("%lld -> '%s' -> %lld", (long long)ns, buf, (long long)back);
}

static void test_round_trips(void **state)
{
	static const int64_t values[] = {
		0, 1, 999999999, 1700000000LL * S + 250000000, 1796032800LL * S + 123456789,
		1792888200LL * S + 1, 1792891800LL * S + 2, 1774747800LL * S, 1709164800LL * S - 1,
		951782400LL * S + 500, INT64_MAX,
	};
	static const char *const zones[] = { "UTC", "Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3",
					     "America/New_York", "Asia/Kolkata" };

	(void)state;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		set_tz(zones[z]);
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			check_round_trip(values[i], 1);
			/* local output carries its offset, so it parses back exactly in any zone,
			 * including the ambiguous autumn hour */
			check_round_trip(values[i], 0);
		}
	}
}

static void test_now(void **state)
{
	int64_t a, b;
	time_t t;

	(void)state;
	a = fr_now_ns();
	t = time(NULL);
	b = fr_now_ns();
	assert_true(a <= b);
	assert_true(a / S <= (int64_t)t && (int64_t)t <= b / S + 1);
	assert_true(a > 1600000000LL * S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339_utc),
		cmocka_unit_test(test_rfc3339_offsets),
		cmocka_unit_test(test_civil_utc),
		cmocka_unit_test(test_civil_local),
		cmocka_unit_test(test_skipped_local_time),
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_reject_message),
		cmocka_unit_test(test_duration_past_int64),
		cmocka_unit_test(test_format_utc),
		cmocka_unit_test(test_format_local),
		cmocka_unit_test(test_format_short_buffer),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
