/*
 * churn: short-connection load for bench/run. Loopback only.
 *
 *   churn server PORT THREADS MAX_SECONDS
 *       Listen on 127.0.0.1:PORT. THREADS threads share the listener with blocking accept();
 *       each connection: read 100 bytes, write 100 bytes, wait for the peer's close, close.
 *       Exits by itself after MAX_SECONDS (or on SIGTERM/SIGINT).
 *
 *   churn client PORT THREADS SECONDS
 *       THREADS threads, each repeatedly: connect to 127.0.0.1:PORT, send 100 bytes, read the
 *       100-byte reply, close; until SECONDS have passed. A connection started before the
 *       deadline is finished. Prints one line:
 *           completed N errors E seconds S rate R
 *       N counts only connections that went through the whole exchange.
 *
 * Addresses are fixed to 127.0.0.1: the program cannot be pointed anywhere else.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MSG 100
#define MAX_THREADS 256

static int port;
static double seconds;
static int listen_fd = -1;
static atomic_ullong completed, errors;
static struct timespec t_start;

static double since_start(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t_start.tv_sec) + (t.tv_nsec - t_start.tv_nsec) / 1e9;
}

static struct sockaddr_in loopback(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const char *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t r = write(fd, buf + put, n - put);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		put += (size_t)r;
	}
	return 0;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *server_thread(void *arg)
{
	char buf[MSG];

	(void)arg;
	memset(buf, 's', sizeof(buf));
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
				continue;
			return NULL;
		}
		set_timeouts(fd);
		if (read_full(fd, buf, MSG) == 0 && write_full(fd, buf, MSG) == 0) {
			char c;

			/* Wait for the client's close so that the client closes first. */
			while (read(fd, &c, 1) > 0)
				;
		}
		close(fd);
	}
}

static void *client_thread(void *arg)
{
	struct sockaddr_in a = loopback();
	char out[MSG], in[MSG];

	(void)arg;
	memset(out, 'c', sizeof(out));
	while (since_start() < seconds) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = 0;

		if (fd < 0) {
			atomic_fetch_add(&errors, 1);
			usleep(1000);
			continue;
		}
		set_timeouts(fd);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && write_full(fd, out, MSG) == 0 &&
		    read_full(fd, in, MSG) == 0)
			ok = 1;
		close(fd);
		atomic_fetch_add(ok ? &completed : &errors, 1);
		if (!ok)
			usleep(1000);
	}
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: churn server PORT THREADS MAX_SECONDS | churn client PORT THREADS SECONDS\n");
	return 2;
}

int main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	int nthreads, one = 1;

	if (argc != 5)
		return usage();
	port = atoi(argv[2]);
	nthreads = atoi(argv[3]);
	seconds = atof(argv[4]);
	if (port <= 0 || port > 65535 || nthreads <= 0 || nthreads > MAX_THREADS || seconds <= 0)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t_start);

	if (!strcmp(argv[1], "server")) {
		struct sockaddr_in a = loopback();

		listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) || listen(listen_fd, 4096)) {
			perror("churn server");
			return 1;
		}
		for (int i = 0; i < nthreads; i++)
			if (pthread_create(&th[i], NULL, server_thread, NULL)) {
				perror("pthread_create");
				return 1;
			}
		printf("listening on 127.0.0.1:%d\n", port);
		fflush(stdout);
		/* Bounded: the server goes away by itself even if nobody stops it. */
		while (since_start() < seconds)
			usleep(100000);
		return 0;
	}
	if (!strcmp(argv[1], "client")) {
		/* Hard stop in case a connection hangs past every socket timeout. */
		alarm((unsigned)seconds + 30);
		for (int i = 0; i < nthreads; i++)
			if (pthread_create(&th[i], NULL, client_thread, NULL)) {
				perror("pthread_create");
				return 1;
			}
		for (int i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
		double el = since_start();

		printf("completed %llu errors %llu seconds %.3f rate %.0f\n",
		       (unsigned long long)completed, (unsigned long long)errors, el,
		       (double)completed / el);
		return 0;
	}
	return usage();
}
