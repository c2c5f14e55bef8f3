/*
 * Sockets that were open before the recorder started.
 *
 * The iter/task_file program (bpf/iter_sockets.bpf.c, an object of its own, freed once
 * done) walks every task's descriptors and writes one fr_iter_sock per TCP, UDP, MPTCP or
 * ICMP socket. Those owned by tasks in the recorded cgroup subtree get an owners-map
 * entry, so their packets are attributed from the first one the packet hooks see. A TCP
 * socket whose local port has a listener in the same namespace was accepted ('in'); any
 * other connected TCP socket connected out. Entries the socket hooks already made win
 * (BPF_NOEXIST): they are newer.
 *
 * Where the iterator cannot make a socket's cookie (before Linux 5.12) it reports 0 for a
 * socket no one has asked the cookie of; the recorder then takes a copy of the descriptor
 * (pidfd_getfd, 5.6) and asks with SO_COOKIE, which makes it.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "recorder.h"
#include "log.h"
#include "cgroup.h"
#include "bpf_attach.h"
#include "presock.h"
#include "flowrec.skel.h"
#include "iter_sockets.skel.h"

#define TCP_LISTEN 10
#define IPPROTO_TCP_ 6

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

/* The cookie of a socket another task holds as fd, made now if it had none; 0 if that task
 * or descriptor has gone. */
static uint64_t cookie_of(uint32_t pid, int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int pidfd, copy;

	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return 0;
	copy = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if (copy < 0)
		return 0;
	if (getsockopt(copy, SOL_SOCKET, SO_COOKIE, &cookie, &len))
		cookie = 0;
	close(copy);
	return cookie;
}

/* Listening TCP ports by (netns, port), sorted, so that each connected socket asks in
 * O(log n) whether it was accepted: start-up must not cost O(n^2) on a host with many
 * connections. */
static uint64_t listener_key(const struct fr_iter_sock *s)
{
	return (uint64_t)s->id.netns << 16 | s->lport;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sorted keys of the listeners among s[0..n), or NULL (*count 0) for none. */
static uint64_t *listeners_sorted(const struct fr_iter_sock *s, size_t n, size_t *count)
{
	uint64_t *keys = NULL;

	*count = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i].proto != IPPROTO_TCP_ || s[i].state != TCP_LISTEN)
			continue;
		if (!keys && !(keys = malloc(n * sizeof(*keys))))
			return NULL;
		keys[(*count)++] = listener_key(&s[i]);
	}
	if (*count)
		qsort(keys, *count, sizeof(*keys), cmp_u64);
	return keys;
}

/* Load the iterator with the helpers this kernel accepts in it: tracing helpers cannot be
 * probed without loading, so each variant is tried, best first, and the one that loads is
 * what b->kernel records. */
static struct iter_sockets_bpf *iter_load(struct fr_kernel *k)
{
	static const bool variants[][2] = { { true, true }, { true, false }, { false, false } };

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct iter_sockets_bpf *skel;

		if ((variants[i][0] && !k->sock_from_file) || (variants[i][1] && !k->sock_ptr_cookie))
			continue;
		skel = iter_sockets_bpf__open();
		if (!skel)
			return NULL;
		skel->rodata->have_sock_from_file = variants[i][0];
		skel->rodata->have_sock_ptr_cookie = variants[i][1];
		if (!iter_sockets_bpf__load(skel)) {
			k->sock_from_file = variants[i][0];
			k->sock_ptr_cookie = variants[i][1];
			return skel;
		}
		iter_sockets_bpf__destroy(skel);
	}
	return NULL;
}

int fr_presock_adopt(struct fr_bpf *b, const struct fr_idset *cgroups)
{
	struct iter_sockets_bpf *skel = NULL;
	struct bpf_link *link = NULL;
	struct fr_iter_sock *socks = NULL;
	uint64_t *listeners = NULL;
	size_t n = 0, cap = 0, nlisten = 0;
	int iter_fd = -1, owners_fd, adopted = 0, missed = 0, ret = -1;
	ssize_t r;

	skel = iter_load(&b->kernel);
	if (!skel) {
		fr_log(0, "this kernel cannot load the iter/task_file program (run with -v for the "
			  "verifier log)");
		goto cleanup;
	}
	link = bpf_program__attach_iter(skel->progs.fr_iter_sockets, NULL);
	if (!link) {
		fr_log(0, "this kernel cannot attach iter/task_file: %s", strerror(errno));
		goto cleanup;
	}
	iter_fd = bpf_iter_create(bpf_link__fd(link));
	if (iter_fd < 0) {
		fr_log(0, "cannot start the socket iterator: %s", strerror(errno));
		goto cleanup;
	}
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			struct fr_iter_sock *ns = realloc(socks, ncap * sizeof(*ns));

			if (!ns)
				goto cleanup;
			socks = ns;
			cap = ncap;
		}
		/* The iterator writes whole records; a read returns a multiple of them. */
		r = read(iter_fd, &socks[n], (cap - n) * sizeof(*socks));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fr_log(0, "reading the socket iterator: %s", strerror(errno));
			goto cleanup;
		}
		if (r == 0)
			break;
		n += (size_t)r / sizeof(*socks);
	}
	owners_fd = bpf_map__fd(b->skel->maps.owners);
	listeners = listeners_sorted(socks, n, &nlisten);
	for (size_t i = 0; i < n; i++) {
		struct fr_iter_sock *s = &socks[i];
		struct fr_owner o = { .id = s->id, .fd = s->fd };

		if (!fr_idset_has(cgroups, s->task_cgroup_id))
			continue;
		if (!s->cookie)
			s->cookie = cookie_of(s->id.pid, s->fd);
		if (!s->cookie) {
			missed++;
			continue;
		}
		if (s->proto == IPPROTO_TCP_ && s->state != TCP_LISTEN && s->rport)
			o.dir_hint = nlisten && bsearch(&(uint64_t){ listener_key(s) }, listeners, nlisten,
							 sizeof(*listeners), cmp_u64)
					     ? FR_DIR_IN
					     : FR_DIR_OUT;
		if (bpf_map_update_elem(owners_fd, &s->cookie, &o, BPF_NOEXIST) == 0)
			adopted++;
	}
	fr_debug("%zu sockets open at start, %d in the recorded cgroup adopted", n, adopted);
	if (missed)
		fr_info("%d sockets open at start could not be adopted (their cookie could not be "
			"had: the process or descriptor went, or pidfd_getfd was refused)", missed);
	ret = adopted;
cleanup:
	free(listeners);
	free(socks);
	if (iter_fd >= 0)
		close(iter_fd);
	bpf_link__destroy(link);
	iter_sockets_bpf__destroy(skel);
	return ret;
}
