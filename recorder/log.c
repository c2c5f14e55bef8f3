/*
 * Logging to standard error, one line per event, prefixed with the program name so journald
 * and terminals both read it. Level 0 (errors) is always shown; 1 (notices: start, recovery,
 * rotation, capture paused) unless -q; 2 (debug) with -v; libbpf's own messages from -v on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "recorder.h"
#include "log.h"

int fr_verbose = 1;

/* The whole line goes out in one write(2): the consumer and the database writer log from
 * two threads, and stdio's three calls per line could interleave their pieces. */
void fr_log(int level, const char *fmt, ...)
{
	static const char prefix[] = "flowrec: ";
	char line[2048];
	size_t len = sizeof(prefix) - 1;
	va_list ap;
	int n;

	if (level > fr_verbose)
		return;
	memcpy(line, prefix, len);
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	len += (size_t)n < sizeof(line) - len - 1 ? (size_t)n : sizeof(line) - len - 2;
	line[len++] = '\n';
	while (len) {
		ssize_t w = write(STDERR_FILENO, line, len);

		if (w <= 0)
			return;
		memmove(line, line + w, len - (size_t)w);
		len -= (size_t)w;
	}
}
