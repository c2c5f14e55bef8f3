/*
 * udpflood: paced UDP load on loopback for bench/run (the pcap export stores).
 *
 *   udpflood sink PORT MAX_SECONDS
 *       Bind 127.0.0.1:PORT and read datagrams until MAX_SECONDS have passed (or SIGTERM/SIGINT).
 *       Prints one line: received N
 *
 *   udpflood send PORT RATE SECONDS
 *       Send RATE datagrams per second (100 bytes of payload each, a sequence number first) to
 *       127.0.0.1:PORT for SECONDS, paced in 1 ms steps. Prints one line:
 *           sent N seconds S rate R
 *
 * Addresses are fixed to 127.0.0.1: the program cannot be pointed anywhere else. Both modes end
 * by themselves.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD 100

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int usage(void)
{
	fprintf(stderr, "usage: udpflood sink PORT MAX_SECONDS | udpflood send PORT RATE SECONDS\n");
	return 2;
}

static int sink(int port, double seconds)
{
	struct sockaddr_in a = loopback(port);
	struct timeval tv = { .tv_usec = 200000 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), size = 8 << 20;
	unsigned long long n = 0;
	char buf[2048];
	double end = now() + seconds;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("udpflood sink");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	printf("listening on 127.0.0.1:%d\n", port);
	fflush(stdout);
	while (!stop && now() < end) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);

		if (r >= 0)
			n++;
	}
	printf("received %llu\n", n);
	return 0;
}

static int send_load(int port, long rate, double seconds)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned long long sent = 0, errs = 0;
	char buf[PAYLOAD];
	struct timespec tick;
	double start, el;

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("udpflood send");
		return 1;
	}
	memset(buf, 'u', sizeof(buf));
	alarm((unsigned)seconds + 30); /* hard stop */
	clock_gettime(CLOCK_MONOTONIC, &tick);
	start = now();
	while (!stop) {
		el = now() - start;
		if (el >= seconds)
			break;
		/* Catch up to where the schedule says we should be, then sleep 1 ms. */
		unsigned long long due = (unsigned long long)(el * (double)rate);

		while (sent + errs < due && !stop) {
			snprintf(buf, sizeof(buf), "%010llu", sent + 1);
			buf[10] = ' ';
			if (send(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf))
				sent++;
			else
				errs++;
		}
		tick.tv_nsec += 1000000;
		if (tick.tv_nsec >= 1000000000) {
			tick.tv_sec++;
			tick.tv_nsec -= 1000000000;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL) == EINTR && !stop)
			;
	}
	el = now() - start;
	printf("sent %llu errors %llu seconds %.3f rate %.0f\n", sent, errs, el, (double)sent / el);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int port;

	if (argc < 4)
		return usage();
	port = atoi(argv[2]);
	if (port <= 0 || port > 65535)
		return usage();
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (!strcmp(argv[1], "sink") && argc == 4) {
		double s = atof(argv[3]);

		return s > 0 ? sink(port, s) : usage();
	}
	if (!strcmp(argv[1], "send") && argc == 5) {
		long rate = atol(argv[3]);
		double s = atof(argv[4]);

		return rate > 0 && rate <= 10000000 && s > 0 ? send_load(port, rate, s) : usage();
	}
	return usage();
}
