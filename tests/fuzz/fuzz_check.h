/*
 * CHECK for the fuzz targets: a broken invariant aborts, which libFuzzer reports as a crash
 * with the input saved.
 */
#ifndef FR_FUZZ_CHECK_H
#define FR_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                         \
		}                                                                        \
	} while (0)

#endif
