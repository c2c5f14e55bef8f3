/*
 * Unit tests for lib/output.c: each format's exact bytes for a small in-memory table with
 * NULLs, text that needs CSV quoting and JSON escaping, a point in time (start_ns) and a
 * duration (latency_ns).
 */
#include <math.h>
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

#include "output.h"

/* comm "a,b "q"" needs CSV quoting; note has every kind of character JSON escapes, UTF-8
 * that passes through, and DEL, escaped like the other controls. */
#define NOTE2 "line1\nline2\r\tend\\ \x01 \xc3\xa9 \"q\" \x1f\x7f"

static sqlite3 *open_fixture(void)
{
	static const struct {
		long long id;
		const char *comm;
		long long start_ns, latency_ns;
		double ratio;
		const char *note;
	} rows[] = {
		{ 1, "curl", 1796032800123456789LL, 1500000, 0.5, "plain" },
		{ 2, "a,b \"q\"", 1796032801000000000LL, -1, -1, NOTE2 },
		{ 3, NULL, 1796032802000000000LL, 250, 0.1, "" },
	};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE f (id INTEGER, comm TEXT, start_ns INTEGER, latency_ns INTEGER,"
				      " ratio REAL, note TEXT)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO f VALUES (?, ?, ?, ?, ?, ?)", -1, &st, NULL),
			 SQLITE_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sqlite3_bind_int64(st, 1, rows[i].id);
		if (rows[i].comm)
			sqlite3_bind_text(st, 2, rows[i].comm, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 2);
		sqlite3_bind_int64(st, 3, rows[i].start_ns);
		/* -1 stands for NULL here */
		if (rows[i].latency_ns >= 0)
			sqlite3_bind_int64(st, 4, rows[i].latency_ns);
		else
			sqlite3_bind_null(st, 4);
		if (rows[i].ratio >= 0)
			sqlite3_bind_double(st, 5, rows[i].ratio);
		else
			sqlite3_bind_null(st, 5);
		sqlite3_bind_text(st, 6, rows[i].note, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	sqlite3_finalize(st);
	return db;
}

static int setup(void **state)
{
	/* Times in these tests are printed in UTC unless a test sets a zone itself. */
	setenv("TZ", "UTC", 1);
	tzset();
	*state = open_fixture();
	return 0;
}

static int teardown(void **state)
{
	sqlite3_close(*state);
	return 0;
}

struct result {
	long rows;
	char *text;
	size_t len;
	char err[256];
};

/* Run sql through fr_output_stmt into memory. The caller frees r->text. */
static void run(sqlite3 *db, const char *sql, enum fr_format format, int utc, int width, struct result *r)
{
	struct fr_output_opts o = { .format = format, .utc = utc, .width = width };
	sqlite3_stmt *st = NULL;
	FILE *f;

	memset(r, 0, sizeof(*r));
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	f = open_memstream(&r->text, &r->len);
	assert_non_null(f);
	r->rows = fr_output_stmt(f, st, &o, r->err, sizeof(r->err));
	fclose(f);
	sqlite3_finalize(st);
}

static void expect_output(sqlite3 *db, const char *sql, enum fr_format format, int utc, int width,
			  long want_rows, const char *want, size_t want_len)
{
	struct result r;

	run(db, sql, format, utc, width, &r);
	if (r.rows != want_rows)
		fail_msg("%s: %ld rows (err '%s'), want %ld", sql, r.rows, r.err, want_rows);
	if (r.len != want_len || memcmp(r.text, want, want_len) != 0) {
		print_error("got (%zu bytes):\n%s\nwant (%zu bytes):\n%s\n", r.len, r.text, want_len, want);
		free(r.text);
		fail_msg("%s: output differs", sql);
	}
	free(r.text);
}

#define EXPECT(db, sql, format, utc, width, rows, want) \
	expect_output(db, sql, format, utc, width, rows, want, sizeof(want) - 1)

#define ALL "SELECT id, comm, start_ns, latency_ns, ratio, note FROM f ORDER BY id"

static void test_format_parse(void **state)
{
	enum fr_format f = FR_FMT_TABLE;

	(void)state;
	assert_int_equal(fr_format_parse("table", &f), 0);
	assert_int_equal(f, FR_FMT_TABLE);
	assert_int_equal(fr_format_parse("csv", &f), 0);
	assert_int_equal(f, FR_FMT_CSV);
	assert_int_equal(fr_format_parse("json", &f), 0);
	assert_int_equal(f, FR_FMT_JSON);
	assert_int_equal(fr_format_parse("jsonl", &f), 0);
	assert_int_equal(f, FR_FMT_JSONL);
	f = FR_FMT_CSV;
	assert_int_equal(fr_format_parse("JSON", &f), -1);
	assert_int_equal(fr_format_parse("", &f), -1);
	assert_int_equal(fr_format_parse("tsv", &f), -1);
	assert_int_equal(fr_format_parse("json ", &f), -1);
	assert_int_equal(f, FR_FMT_CSV);
}

static void test_table(void **state)
{
	/* Numbers (id, latency_ns, ratio) right-aligned, header with them; text left-aligned;
	 * control characters as '?'; no trailing blanks. */
	EXPECT(*state, ALL, FR_FMT_TABLE, 1, 0, 3,
	       "id  comm     start_ns                        latency_ns  ratio  note\n"
	       " 1  curl     2026-11-30T10:00:00.123456789Z     1500000    0.5  plain\n"
	       " 2  a,b \"q\"  2026-11-30T10:00:01.000000000Z                     line1?line2??end\\ ? \xc3\xa9 \"q\" ??\n"
	       " 3           2026-11-30T10:00:02.000000000Z         250    0.1\n");
}

static void test_table_width(void **state)
{
	/* Cut at 20 bytes, then trailing blanks dropped. */
	EXPECT(*state, "SELECT id, comm, start_ns FROM f ORDER BY id", FR_FMT_TABLE, 1, 20, 3,
	       "id  comm     start_n\n"
	       " 1  curl     2026-11\n"
	       " 2  a,b \"q\"  2026-11\n"
	       " 3           2026-11\n");
	EXPECT(*state, "SELECT id, comm FROM f ORDER BY id", FR_FMT_TABLE, 1, 6, 3,
	       "id  co\n"
	       " 1  cu\n"
	       " 2  a,\n"
	       " 3\n");
	/* A cut never splits a UTF-8 sequence: the 'é' would end at byte 3. */
	EXPECT(*state, "SELECT 'x' || char(233) || 'y' AS s", FR_FMT_TABLE, 1, 2, 1,
	       "s\n"
	       "x\n");
	EXPECT(*state, "SELECT 'x' || char(233) || 'y' AS s", FR_FMT_TABLE, 1, 3, 1,
	       "s\n"
	       "x\xc3\xa9\n");
}

static void test_table_mixed_column(void **state)
{
	/* A column holding numbers and text is left-aligned throughout. */
	EXPECT(*state, "SELECT 12345 AS v UNION ALL SELECT 'ab' UNION ALL SELECT 7", FR_FMT_TABLE, 1, 0, 3,
	       "v\n"
	       "12345\n"
	       "ab\n"
	       "7\n");
	/* Reals in a table are the shortest text that reads back the same. */
	EXPECT(*state, "SELECT 0.1 AS a, 1.0/3 AS b, 2.0 AS c, 1e308 * 10 AS d, x'00ff' AS e", FR_FMT_TABLE, 1, 0,
	       1,
	       "  a                   b  c    d  e\n"
	       "0.1  0.3333333333333333  2  inf  00ff\n");
}

static void test_csv(void **state)
{
	EXPECT(*state, ALL, FR_FMT_CSV, 1, 0, 3,
	       "id,comm,start_ns,latency_ns,ratio,note\r\n"
	       "1,curl,2026-11-30T10:00:00.123456789Z,1500000,0.5,plain\r\n"
	       "2,\"a,b \"\"q\"\"\",2026-11-30T10:00:01.000000000Z,,,\"line1\nline2\r\tend\\ \x01 \xc3\xa9 \"\"q\"\" "
	       "\x1f\x7f\"\r\n"
	       "3,,2026-11-30T10:00:02.000000000Z,250,0.10000000000000001,\r\n");
}

static void test_csv_header_quoting(void **state)
{
	EXPECT(*state, "SELECT 1 AS \"a,b\", 2 AS \"say \"\"hi\"\"\", 3 AS plain, 'x\ny' AS \"multi\nline\"", FR_FMT_CSV,
	       1, 0, 1,
	       "\"a,b\",\"say \"\"hi\"\"\",plain,\"multi\nline\"\r\n"
	       "1,2,3,\"x\ny\"\r\n");
	/* A width applies to tables only. */
	EXPECT(*state, "SELECT 'abcdefgh' AS s", FR_FMT_CSV, 1, 3, 1, "s\r\nabcdefgh\r\n");
}

static void test_json(void **state)
{
	EXPECT(*state, ALL, FR_FMT_JSON, 1, 0, 3,
	       "[\n"
	       "{\"id\":1,\"comm\":\"curl\",\"start_ns\":\"2026-11-30T10:00:00.123456789Z\",\"latency_ns\":1500000,"
	       "\"ratio\":0.5,\"note\":\"plain\"},\n"
	       "{\"id\":2,\"comm\":\"a,b \\\"q\\\"\",\"start_ns\":\"2026-11-30T10:00:01.000000000Z\",\"latency_ns\":null,"
	       "\"ratio\":null,\"note\":\"line1\\nline2\\r\\tend\\\\ \\u0001 \xc3\xa9 \\\"q\\\" \\u001f\\u007f\"},\n"
	       "{\"id\":3,\"comm\":null,\"start_ns\":\"2026-11-30T10:00:02.000000000Z\",\"latency_ns\":250,"
	       "\"ratio\":0.10000000000000001,\"note\":\"\"}\n"
	       "]\n");
}

static void test_jsonl(void **state)
{
	EXPECT(*state, ALL, FR_FMT_JSONL, 1, 0, 3,
	       "{\"id\":1,\"comm\":\"curl\",\"start_ns\":\"2026-11-30T10:00:00.123456789Z\",\"latency_ns\":1500000,"
	       "\"ratio\":0.5,\"note\":\"plain\"}\n"
	       "{\"id\":2,\"comm\":\"a,b \\\"q\\\"\",\"start_ns\":\"2026-11-30T10:00:01.000000000Z\",\"latency_ns\":null,"
	       "\"ratio\":null,\"note\":\"line1\\nline2\\r\\tend\\\\ \\u0001 \xc3\xa9 \\\"q\\\" \\u001f\\u007f\"}\n"
	       "{\"id\":3,\"comm\":null,\"start_ns\":\"2026-11-30T10:00:02.000000000Z\",\"latency_ns\":250,"
	       "\"ratio\":0.10000000000000001,\"note\":\"\"}\n");
}

static void test_json_values(void **state)
{
	/* Non-finite reals become null; blobs hex strings; keys are escaped like values. */
	EXPECT(*state,
	       "SELECT 1e308 * 10 AS inf, -1e308 * 10 AS ninf, x'00ff10' AS b, x'' AS e, -5 AS n,"
	       " 9223372036854775807 AS big, 1.5e-7 AS small, 'k' AS \"a\"\"b\\c\"",
	       FR_FMT_JSON, 1, 0, 1,
	       "[\n"
	       "{\"inf\":null,\"ninf\":null,\"b\":\"00ff10\",\"e\":\"\",\"n\":-5,\"big\":9223372036854775807,"
	       "\"small\":1.4999999999999999e-07,\"a\\\"b\\\\c\":\"k\"}\n"
	       "]\n");
	EXPECT(*state, "SELECT 1e308 * 10 AS inf, -1e308 * 10 AS ninf, x'00ff10' AS b, 0.25 AS r", FR_FMT_CSV, 1, 0,
	       1,
	       "inf,ninf,b,r\r\n"
	       "inf,-inf,00ff10,0.25\r\n");
}

static void test_empty(void **state)
{
	static const char *const sql = "SELECT id, comm, start_ns FROM f WHERE id < 0";

	EXPECT(*state, sql, FR_FMT_TABLE, 1, 0, 0, "id  comm  start_ns\n");
	EXPECT(*state, sql, FR_FMT_CSV, 1, 0, 0, "id,comm,start_ns\r\n");
	EXPECT(*state, sql, FR_FMT_JSON, 1, 0, 0, "[]\n");
	EXPECT(*state, sql, FR_FMT_JSONL, 1, 0, 0, "");
}

static void test_no_columns(void **state)
{
	/* A statement without result columns writes nothing (JSON: an empty array). */
	EXPECT(*state, "UPDATE f SET note = note WHERE id = 1", FR_FMT_TABLE, 1, 0, 0, "");
	EXPECT(*state, "UPDATE f SET note = note WHERE id = 1", FR_FMT_CSV, 1, 0, 0, "");
	EXPECT(*state, "UPDATE f SET note = note WHERE id = 1", FR_FMT_JSON, 1, 0, 0, "[]\n");
	EXPECT(*state, "UPDATE f SET note = note WHERE id = 1", FR_FMT_JSONL, 1, 0, 0, "");
}

static void test_time_rule(void **state)
{
	/* Only integers >= 1e15 in a column ending in "_ns" are times. */
	static const char *const sql =
		"SELECT 999999999999999 AS below_ns, 1000000000000000 AS at_ns, 1796032800000000000 AS ns,"
		" 1796032800000000000 AS start_ns_x, 1796032800000000000 AS start_NS,"
		" '1796032800000000000' AS text_ns, 1796032800000000000.0 AS real_ns, NULL AS end_ns,"
		" -1796032800000000000 AS neg_ns";

	EXPECT(*state, sql, FR_FMT_JSONL, 1, 0, 1,
	       "{\"below_ns\":999999999999999,\"at_ns\":\"1970-01-12T13:46:40.000000000Z\","
	       "\"ns\":1796032800000000000,\"start_ns_x\":1796032800000000000,\"start_NS\":1796032800000000000,"
	       "\"text_ns\":\"1796032800000000000\",\"real_ns\":1.7960328e+18,\"end_ns\":null,"
	       "\"neg_ns\":-1796032800000000000}\n");
}

static void test_local_times(void **state)
{
	static const char *const sql = "SELECT start_ns, latency_ns FROM f WHERE id = 1";

	setenv("TZ", access("/usr/share/zoneinfo/Europe/Berlin", R_OK) == 0 ? "Europe/Berlin"
									     : "CET-1CEST,M3.5.0,M10.5.0/3",
	       1);
	tzset();
	EXPECT(*state, sql, FR_FMT_JSONL, 0, 0, 1,
	       "{\"start_ns\":\"2026-11-30T11:00:00.123456789+01:00\",\"latency_ns\":1500000}\n");
	EXPECT(*state, sql, FR_FMT_CSV, 0, 0, 1,
	       "start_ns,latency_ns\r\n"
	       "2026-11-30T11:00:00.123456789+01:00,1500000\r\n");
	EXPECT(*state, sql, FR_FMT_TABLE, 0, 0, 1,
	       "start_ns                             latency_ns\n"
	       "2026-11-30T11:00:00.123456789+01:00     1500000\n");
	/* utc wins over the zone */
	EXPECT(*state, sql, FR_FMT_JSONL, 1, 0, 1,
	       "{\"start_ns\":\"2026-11-30T10:00:00.123456789Z\",\"latency_ns\":1500000}\n");
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_step_error(void **state)
{
	/* abs() of the smallest int64 fails while stepping, after the first row. */
	static const char *const sql =
		"SELECT abs(v) AS a FROM (SELECT 1 AS v UNION ALL SELECT -9223372036854775807 - 1)";
	static const struct {
		enum fr_format format;
		const char *written;
	} cases[] = {
		{ FR_FMT_JSONL, "{\"a\":1}\n" },
		{ FR_FMT_JSON, "[\n{\"a\":1}" },
		{ FR_FMT_CSV, "a\r\n1\r\n" },
		{ FR_FMT_TABLE, "" }, /* nothing printed before all rows are known */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r;

		run(*state, sql, cases[i].format, 1, 0, &r);
		assert_int_equal(r.rows, -1);
		assert_string_equal(r.err, "integer overflow");
		assert_string_equal(r.text, cases[i].written);
		free(r.text);
	}
	/* An error on the very first step. */
	{
		struct result r;

		run(*state, "SELECT abs(-9223372036854775807 - 1) AS a", FR_FMT_JSON, 1, 0, &r);
		assert_int_equal(r.rows, -1);
		assert_string_equal(r.err, "integer overflow");
		assert_string_equal(r.text, "");
		free(r.text);
	}
}

/* Bytes any process can put in its comm or a DNS name: invalid UTF-8 (a stray 0xff, an
 * overlong '/', a surrogate), ESC, the C1 control U+009B (a CSI by itself) and U+202E (right
 * to left override). JSON stays valid and says what was there; CSV stays valid UTF-8; a
 * table shows '?' for each, headers included, and counts a code point as one column. */
#define UNSAFE "SELECT CAST(x'61ff62' AS TEXT) AS bad, CAST(x'1b5b33316d' AS TEXT) AS esc," \
	" CAST(x'c29b' AS TEXT) AS c1, CAST(x'e280ae6b' AS TEXT) AS bidi, CAST(x'c0af' AS TEXT) AS overlong," \
	" CAST(x'eda080' AS TEXT) AS surrogate"

static void test_unsafe_text(void **state)
{
	EXPECT(*state, UNSAFE, FR_FMT_JSONL, 1, 0, 1,
	       "{\"bad\":\"a\\ufffdb\",\"esc\":\"\\u001b[31m\",\"c1\":\"\\u009b\",\"bidi\":\"\\u202ek\","
	       "\"overlong\":\"\\ufffd\\ufffd\",\"surrogate\":\"\\ufffd\\ufffd\\ufffd\"}\n");
	EXPECT(*state, UNSAFE, FR_FMT_CSV, 1, 0, 1,
	       "bad,esc,c1,bidi,overlong,surrogate\r\n"
	       "a\xef\xbf\xbd" "b,\x1b[31m,\xc2\x9b,\xe2\x80\xaek,\xef\xbf\xbd\xef\xbf\xbd,"
	       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\r\n");
	EXPECT(*state, UNSAFE, FR_FMT_TABLE, 1, 0, 1,
	       "bad  esc    c1  bidi  overlong  surrogate\n"
	       "a?b  ?[31m  ?   ?k    ??        ???\n");
	EXPECT(*state, "SELECT 1 AS \"x\x1b]0;pwned\x07y\", 'e\xcc\x81' AS \"\xc3\xa9t\xc3\xa9\"", FR_FMT_TABLE, 1, 0, 1,
	       "x?]0;pwned?y  \xc3\xa9t\xc3\xa9\n"
	       "           1  e\xcc\x81\n");
}

static void test_many_rows(void **state)
{
	/* Enough rows to make the table's buffers grow several times. */
	static const char *const sql =
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
		" SELECT i, printf('%0*d', i % 50, 0) AS pad FROM n";
	static const enum fr_format formats[] = { FR_FMT_TABLE, FR_FMT_CSV, FR_FMT_JSON, FR_FMT_JSONL };

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct result r;
		size_t lines = 0;

		run(*state, sql, formats[i], 1, 0, &r);
		assert_int_equal(r.rows, 5000);
		for (size_t k = 0; k < r.len; k++)
			lines += r.text[k] == '\n';
		/* table and CSV: header + rows; JSON: '[' + rows + ']'; JSONL: rows */
		assert_int_equal(lines, formats[i] == FR_FMT_JSONL ? 5000 : formats[i] == FR_FMT_JSON ? 5002 : 5001);
		if (formats[i] == FR_FMT_TABLE)
			assert_non_null(strstr(r.text, "\n5000  0\n"));
		free(r.text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test_setup_teardown(test_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_width, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_mixed_column, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_header_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_text, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
