/*
 * Output files written whole or not at all (see outfile.h).
 */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *path, const char *what, int e)
{
	snprintf(err, errlen, "cannot write %s: %s%s%s", path, what, *what ? ": " : "", strerror(e));
	return -1;
}

int fr_outfile_open(struct fr_outfile *f, const char *path, mode_t mode, char *err, size_t errlen)
{
	struct stat st;
	mode_t mask;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (snprintf(f->path, sizeof(f->path), "%s", path) >= (int)sizeof(f->path) ||
	    snprintf(f->tmp, sizeof(f->tmp), "%s.XXXXXX", path) >= (int)sizeof(f->tmp)) {
		snprintf(err, errlen, "cannot write %s: file name too long", path);
		return -1;
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode)) {
			f->tmp[0] = 0;
			return fail(err, errlen, path, "", EISDIR);
		}
		f->in_place = true;
		f->tmp[0] = 0;
		f->fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		return f->fd < 0 ? fail(err, errlen, path, "", errno) : 0;
	}
	f->fd = mkostemp(f->tmp, O_CLOEXEC);
	if (f->fd < 0) {
		int e = errno;

		f->tmp[0] = 0;
		return fail(err, errlen, path, "", e);
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(f->fd, mode & ~mask)) {
		int e = errno;

		fr_outfile_abort(f);
		return fail(err, errlen, path, "", e);
	}
	return 0;
}

/* The directory's entry is made durable too: without it a crash after the rename may bring
 * back the old file, or none. */
static int sync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, ret;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int fr_outfile_commit(struct fr_outfile *f, char *err, size_t errlen)
{
	int fd = f->fd;

	f->fd = -1;
	if (fd < 0)
		return fail(err, errlen, f->path, "", EBADF);
	if (f->in_place)
		return close(fd) ? fail(err, errlen, f->path, "", errno) : 0;
	/* A full disk may show only here (delayed allocation, NFS). */
	if (fsync(fd)) {
		int e = errno;

		close(fd);
		fr_outfile_abort(f);
		return fail(err, errlen, f->path, "", e);
	}
	if (close(fd) || rename(f->tmp, f->path)) {
		int e = errno;

		fr_outfile_abort(f);
		return fail(err, errlen, f->path, "", e);
	}
	f->tmp[0] = 0;
	if (sync_dir(f->path))
		return fail(err, errlen, f->path, "syncing its directory", errno);
	return 0;
}

void fr_outfile_abort(struct fr_outfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmp[0])
		unlink(f->tmp);
	f->tmp[0] = 0;
}
