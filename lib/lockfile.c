/*
 * The data directory lock (see lockfile.h).
 *
 * An open file description lock (F_OFD_SETLK), not flock: F_OFD_GETLK lets flowq ask whether
 * the lock is held without taking it, so a flowq status running at the moment a recorder
 * starts cannot make the recorder think another one is recording.
 */
#include "lockfile.h"
#include "share.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t read_pid(int fd)
{
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = n > 0 ? strtol(buf, NULL, 10) : 0;

	return pid > 0 ? (pid_t)pid : 0;
}

int fr_lock_acquire(const char *dir, char *err, size_t errlen)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/flowrec.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0 || fr_share_fd(fd, false)) { /* --group: flowq status reads it */
		snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fcntl(fd, F_OFD_SETLK, &lk)) {
		if (errno == EAGAIN || errno == EACCES)
			snprintf(err, errlen, "another flowrec (pid %d) is already recording into %s",
				 (int)read_pid(fd), dir);
		else
			snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) == 0)
		dprintf(fd, "%d\n", (int)getpid());
	return fd;
}

pid_t fr_lock_holder(const char *dir)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[4096];
	pid_t pid = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/flowrec.lock", dir);
	/* O_NONBLOCK: a FIFO put where the lock file should be must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fcntl(fd, F_OFD_GETLK, &lk) == 0)
		pid = lk.l_type == F_UNLCK ? 0 : read_pid(fd) ? read_pid(fd) : 1;
	close(fd);
	return pid;
}
