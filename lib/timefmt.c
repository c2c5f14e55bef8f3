/*
 * Time arguments and time output: the forms flowrec and flowq accept for --since/--until
 * and the like, and RFC 3339 with nanoseconds for everything they print.
 *
 * Parsing works on digits and integer nanoseconds throughout, never through a double, so
 * "@1700000000.25" and ".123456789" come out exact.
 */
#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000LL

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits: "2026-1-5" is not a date we want to guess at. */
static int fixed_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect_char(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

/* The digits after a '.': one to nine of them, scaled to nanoseconds. More than nine would
 * be precision we silently drop, so they are refused instead. */
static int fraction_ns(const char **p, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;
	int n = 0;

	for (; is_digit(*s); s++, n++) {
		if (n == 9)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (n == 0)
		return -1;
	for (; n < 9; n++)
		v *= 10;
	*p = s;
	*out = v;
	return 0;
}

static int secs_to_ns(int64_t secs, int64_t frac_ns, int64_t *out)
{
	int64_t ns;

	if (__builtin_mul_overflow(secs, NS_PER_S, &ns) || __builtin_add_overflow(ns, frac_ns, &ns))
		return -1;
	*out = ns;
	return 0;
}

/* "@SECONDS[.FRACTION]" after the '@'. Returns 0, -1 for bad text, -2 when well formed but
 * too large. */
static int parse_epoch(const char *s, int64_t *out)
{
	int64_t secs = 0, frac = 0;
	const char *start = s;
	int big = 0;

	for (; is_digit(*s); s++) {
		if (__builtin_mul_overflow(secs, 10, &secs) || __builtin_add_overflow(secs, *s - '0', &secs))
			big = 1;
	}
	if (s == start)
		return -1;
	if (*s == '.') {
		s++;
		if (fraction_ns(&s, &frac))
			return -1;
	}
	if (*s)
		return -1;
	return big || secs_to_ns(secs, frac, out) ? -2 : 0;
}

/* A sequence of NUMBER UNIT pairs such as "1h30m" or "500ms"; the total in ns. Returns 0, -1
 * for bad text, -2 when well formed but too long. */
static int parse_duration(const char *s, int64_t *out)
{
	int64_t total = 0;
	int big = 0;

	if (!*s)
		return -1;
	while (*s) {
		const char *start = s;
		int64_t n = 0, unit;

		for (; is_digit(*s); s++) {
			if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *s - '0', &n))
				big = 1;
		}
		if (s == start)
			return -1;
		/* Two-letter units first, so that "ms" is not read as minutes followed by junk. */
		if (s[0] == 'n' && s[1] == 's')
			unit = 1, s += 2;
		else if (s[0] == 'u' && s[1] == 's')
			unit = 1000, s += 2;
		else if (s[0] == 'm' && s[1] == 's')
			unit = 1000000, s += 2;
		else if (s[0] == 's')
			unit = NS_PER_S, s++;
		else if (s[0] == 'm')
			unit = 60 * NS_PER_S, s++;
		else if (s[0] == 'h')
			unit = 3600 * NS_PER_S, s++;
		else if (s[0] == 'd')
			unit = 86400 * NS_PER_S, s++;
		else if (s[0] == 'w')
			unit = 7 * 86400 * NS_PER_S, s++;
		else
			return -1;
		if (__builtin_mul_overflow(n, unit, &n) || __builtin_add_overflow(total, n, &total))
			big = 1;
	}
	*out = total;
	return big ? -2 : 0;
}

static int days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

static int same_wall_clock(const struct tm *a, const struct tm *b)
{
	return a->tm_year == b->tm_year && a->tm_mon == b->tm_mon && a->tm_mday == b->tm_mday &&
	       a->tm_hour == b->tm_hour && a->tm_min == b->tm_min && a->tm_sec == b->tm_sec;
}

/* Each failure says what it is: the text, a field (month 13), a time beyond what 64 bits of
 * nanoseconds hold, or a local time a daylight saving change skipped. */
enum civil_result { CIVIL_OK, CIVIL_SYNTAX, CIVIL_RANGE, CIVIL_TOO_FAR, CIVIL_NO_SUCH_LOCAL_TIME };

/* YYYY-MM-DD[(T|t| )HH:MM[:SS[.frac]][Z|z|±HH:MM]] */
static enum civil_result parse_civil(const char *s, int utc, int64_t *out)
{
	int year, mon, day, hour = 0, min = 0, sec = 0;
	int has_offset = 0, offset_s = 0;
	int64_t frac = 0;
	struct tm tm = { 0 };
	time_t t;

	if (fixed_digits(&s, 4, &year) || expect_char(&s, '-') || fixed_digits(&s, 2, &mon) ||
	    expect_char(&s, '-') || fixed_digits(&s, 2, &day))
		return CIVIL_SYNTAX;
	if (*s) {
		if (*s != 'T' && *s != 't' && *s != ' ')
			return CIVIL_SYNTAX;
		s++;
		if (fixed_digits(&s, 2, &hour) || expect_char(&s, ':') || fixed_digits(&s, 2, &min))
			return CIVIL_SYNTAX;
		if (*s == ':') {
			s++;
			if (fixed_digits(&s, 2, &sec))
				return CIVIL_SYNTAX;
			if (*s == '.') {
				s++;
				if (fraction_ns(&s, &frac))
					return CIVIL_SYNTAX;
			}
		}
		if (*s == 'Z' || *s == 'z') {
			has_offset = 1;
			s++;
		} else if (*s == '+' || *s == '-') {
			int sign = *s == '-' ? -1 : 1, oh, om;

			s++;
			if (fixed_digits(&s, 2, &oh) || expect_char(&s, ':') || fixed_digits(&s, 2, &om))
				return CIVIL_SYNTAX;
			if (oh > 23 || om > 59)
				return CIVIL_RANGE;
			has_offset = 1;
			offset_s = sign * (oh * 3600 + om * 60);
		}
		if (*s)
			return CIVIL_SYNTAX;
	}
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 || min > 59 ||
	    sec > 60)
		return CIVIL_RANGE;

	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	/* A leap second is taken as the second after :59, i.e. the next minute's :00; converting
	 * :59 keeps the round-trip check below meaningful. */
	tm.tm_sec = sec == 60 ? 59 : sec;
	if (has_offset || utc) {
		t = timegm(&tm);
		t -= offset_s;
	} else {
		struct tm want = tm, other = tm;
		time_t t_other;

		tm.tm_isdst = -1;
		errno = 0;
		t = mktime(&tm);
		if (t == (time_t)-1 && errno)
			return CIVIL_TOO_FAR;
		/* mktime moves a wall-clock time that a DST change skipped to some other time;
		 * refuse it rather than answer for a different moment than the one asked for. */
		if (!same_wall_clock(&tm, &want))
			return CIVIL_NO_SUCH_LOCAL_TIME;
		/* A time the autumn change repeats has two answers, and which one glibc's mktime
		 * gives depends on earlier calls. Take the earlier one, always: it is the first
		 * moment the clock showed that time. */
		other.tm_isdst = !tm.tm_isdst;
		t_other = mktime(&other);
		if (t_other != (time_t)-1 && t_other < t && other.tm_isdst == !tm.tm_isdst &&
		    same_wall_clock(&other, &want))
			t = t_other;
	}
	if (sec == 60)
		t += 1;
	if (secs_to_ns((int64_t)t, frac, out))
		return CIVIL_TOO_FAR;
	return CIVIL_OK;
}

int fr_time_parse(const char *s, int64_t now_ns, int utc, int64_t *out_ns, char *err, size_t errlen)
{
	static const char too_far[] = "out of range (times are 64-bit nanoseconds since 1970: "
				      "1677-09-21 to 2262-04-11)";
	const char *reason = "expected RFC 3339, 'YYYY-MM-DD HH:MM[:SS]', @EPOCH or a duration like 15m";
	int64_t ns, dur;

	if (!s)
		s = "";
	if (s[0] == '@') {
		int r = parse_epoch(s + 1, &ns);

		if (r) {
			reason = r == -2 ? too_far : reason;
			goto fail;
		}
	} else if (is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) && s[4] == '-') {
		switch (parse_civil(s, utc, &ns)) {
		case CIVIL_OK:
			break;
		case CIVIL_SYNTAX:
			goto fail;
		case CIVIL_RANGE:
			reason = "no such date or time (a month, day, hour, minute or offset out of range)";
			goto fail;
		case CIVIL_TOO_FAR:
			reason = too_far;
			goto fail;
		case CIVIL_NO_SUCH_LOCAL_TIME:
			reason = "that local time does not exist (skipped by a daylight saving change)";
			goto fail;
		}
	} else {
		int r = parse_duration(s, &dur);

		if (r) {
			reason = r == -2 ? too_far : reason;
			goto fail;
		}
		if (__builtin_sub_overflow(now_ns, dur, &ns)) {
			reason = too_far;
			goto fail;
		}
	}
	*out_ns = ns;
	return 0;
fail:
	snprintf(err, errlen, "invalid time '%s': %s", s, reason);
	return -1;
}

size_t fr_time_format(int64_t ns, int utc, char *buf, size_t len)
{
	int64_t secs = ns / NS_PER_S, frac = ns % NS_PER_S;
	struct tm tm;
	time_t t;
	int n;

	if (len == 0)
		return 0;
	/* Floor division, so that a (not expected) negative time still prints a valid fraction. */
	if (frac < 0) {
		frac += NS_PER_S;
		secs--;
	}
	t = (time_t)secs;
	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm))) {
		buf[0] = '\0';
		return 0;
	}
	if (utc) {
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
	} else {
		long off_min = tm.tm_gmtoff / 60;
		char sign = off_min < 0 ? '-' : '+';

		if (off_min < 0)
			off_min = -off_min;
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09lld%c%02ld:%02ld", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac, sign,
			     off_min / 60, off_min % 60);
	}
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)n < len ? (size_t)n : len - 1;
}

int64_t fr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}
