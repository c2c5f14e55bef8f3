/*
 * Time arguments and time output, shared by flowrec and flowq.
 * All times are int64 nanoseconds since the Unix epoch, UTC.
 */
#ifndef FR_TIMEFMT_H
#define FR_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parse a time argument:
 *   RFC 3339 with optional fractional seconds: 2026-11-30T10:00:00.5Z, ...+02:00
 *     (without an offset it is taken as local time, or UTC when utc != 0)
 *   YYYY-MM-DD HH:MM[:SS[.frac]]   (local time, or UTC when utc != 0)
 *   @EPOCH                         seconds since the epoch, fractions allowed: @1700000000.25
 *   relative durations: 15m, 2h, 3d, 30s, 500ms, 1h30m   (meaning now_ns minus that)
 * Returns 0, or -1 with a one-line reason in err naming the bad text. */
int fr_time_parse(const char *s, int64_t now_ns, int utc, int64_t *out_ns, char *err, size_t errlen);

/* RFC 3339 with nanoseconds: 2026-11-30T10:00:00.123456789Z (utc) or ...+01:00 (local).
 * Returns the length written (buf is always terminated); 40 bytes are always enough. */
size_t fr_time_format(int64_t ns, int utc, char *buf, size_t len);

/* CLOCK_REALTIME now, in ns. */
int64_t fr_now_ns(void);

#endif
