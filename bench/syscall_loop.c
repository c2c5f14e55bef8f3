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
 *   syscall_loop connect N
 *       N connect() calls of one UDP socket, to 127.0.0.1 ports 9 and 10 in turn: each runs
 *       the cgroup/connect4 hook (and a policy's decision) and sends nothing.
 *
 * An untimed warm-up of N/10 iterations comes first. Prints one line: the nanoseconds per
 * iteration of the N timed ones (CLOCK_MONOTONIC), e.g. "123.45". N is 1 to 10^9: the program
 * ends by itself. Exits 1 if a call fails, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 1000000000L

static int usage(void)
{
	fprintf(stderr, "usage: syscall_loop getppid|close|connect N   (N iterations, 1..%ld)\n", MAX_N);
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

/* n connect() calls of the UDP socket fd, alternating between two loopback peers (a UDP
 * connect only sets the peer); 0, or -1 with errno. */
static int loop_connect(int fd, long n)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	long i;

	for (i = 0; i < n; i++) {
		to.sin_port = htons(9 + (i & 1));
		if (connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0)
			return -1;
	}
	return 0;
}

static int loop(int which, int fd, long n)
{
	switch (which) {
	case 0:
		return loop_getppid(n);
	case 1:
		return loop_close(fd, n);
	default:
		return loop_connect(fd, n);
	}
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
	else if (strcmp(argv[1], "connect") == 0)
		which = 2;
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
	if (which == 2 && (p[0] = socket(AF_INET, SOCK_DGRAM, 0)) < 0) {
		fprintf(stderr, "syscall_loop: socket: %s\n", strerror(errno));
		return 1;
	}

	rc = loop(which, p[0], n / 10); /* warm-up */
	t0 = now_ns();
	if (rc == 0)
		rc = loop(which, p[0], n);
	t1 = now_ns();
	if (rc != 0) {
		fprintf(stderr, "syscall_loop: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	printf("%.2f\n", (double)(t1 - t0) / (double)n);
	return 0;
}
