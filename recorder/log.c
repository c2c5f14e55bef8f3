/*
 * Logging to standard error, one line per event, prefixed with the program name so journald
 * and terminals both read it. Level 0 (errors) is always shown; 1 (notices: start, recovery,
 * rotation, capture paused) unless -q; 2 (debug) with -v; libbpf's own messages from -v on.
 */
#include <stdarg.h>
#include <stdio.h>

#include "recorder.h"

int fr_verbose = 1;

void fr_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > fr_verbose)
		return;
	fputs("flowrec: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
