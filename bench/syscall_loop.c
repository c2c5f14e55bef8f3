/*
 * syscall_loop: a tight loop of cheap system calls, for bench/run's "syscall tax" part (what a
 * recorder's per-syscall hooks cost a process, recorded or not).
 *
 *   syscall_loop getppid N
 *       N calls of getppid(), made with syscall(SYS_getppid) so that libc cannot answer any of
 *       them from a cache.
 *
 *   syscall_loop close N
 *       N pairs of fd = dup(P) and close(fd), P being the read end of a pipe made here (so no
 *       path lookup, no socket: close() of a plain file descriptor).
 *
 * An untimed warm-up of N/10 iterations comes first. Prints one line: the nanoseconds per
 * iteration of the N timed ones (CLOCK_MONOTONIC), e.g. "123.45". N is 1 to 10^9: the program
 * ends by itself. Exits 1 if a call fails, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 1000000000L

static int usage(void)
{
	fprintf(stderr, "usage: syscall_loop getppid|close N   (N iterations, 1..%ld)\n", MAX_N);
	return 2;
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* n calls of getppid(); 0, or -1 if one failed (it cannot, but the result is used). */
static int loop_getppid(long n)
{
	long i;

	for (i = 0; i < n; i++) {
		if (syscall(SYS_getppid) < 0)
			return -1;
	}
	return 0;
}

/* n pairs of dup(fd) + close(); 0, or -1 with errno if a call failed. */
static int loop_close(int fd, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		int d = dup(fd);

		if (d < 0 || close(d) != 0)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	long n;
	int which, p[2] = { -1, -1 }, rc;
	long long t0, t1;

	if (argc != 3)
		return usage();
	if (strcmp(argv[1], "getppid") == 0)
		which = 0;
	else if (strcmp(argv[1], "close") == 0)
		which = 1;
	else
		return usage();
	errno = 0;
	n = strtol(argv[2], &end, 10);
	if (errno != 0 || end == argv[2] || *end != '\0' || n < 1 || n > MAX_N)
		return usage();

	if (which == 1 && pipe(p) != 0) {
		fprintf(stderr, "syscall_loop: pipe: %s\n", strerror(errno));
		return 1;
	}

	rc = which == 0 ? loop_getppid(n / 10) : loop_close(p[0], n / 10); /* warm-up */
	t0 = now_ns();
	if (rc == 0)
		rc = which == 0 ? loop_getppid(n) : loop_close(p[0], n);
	t1 = now_ns();
	if (rc != 0) {
		fprintf(stderr, "syscall_loop: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("%.2f\n", (double)(t1 - t0) / (double)n);
	return 0;
}
