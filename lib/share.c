/*
 * Who may read the recording (flowrec --group): without it the data directory is 0700 and
 * its files 0600, the recorder's user's alone; with it each directory the recorder makes or
 * uses is 0750 and each file 0640, with the group given, so that its members run flowq
 * without root. The recorder applies it to everything it creates in the data directory and
 * to what is there already; SQLite gives the -wal and -shm files the database's owner and
 * mode itself.
 */
#include "share.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static gid_t share_gid = (gid_t)-1;

void fr_share_set_group(gid_t gid)
{
	share_gid = gid;
}

bool fr_share_enabled(void)
{
	return share_gid != (gid_t)-1;
}

int fr_share_fd(int fd, bool is_dir)
{
	if (!fr_share_enabled())
		return 0;
	if (fchown(fd, (uid_t)-1, share_gid) || fchmod(fd, is_dir ? 0750 : 0640))
		return -1;
	return 0;
}

int fr_share_path(const char *path, bool is_dir)
{
	int fd, rc;

	if (!fr_share_enabled())
		return 0;
	fd = open(path, (is_dir ? O_DIRECTORY : 0) | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fr_share_fd(fd, is_dir);
	close(fd);
	return rc;
}

int fr_share_dir_files(const char *dir)
{
	char path[4352];
	struct dirent *e;
	int rc = 0;
	DIR *d;

	if (!fr_share_enabled())
		return 0;
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_type != DT_REG)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (fr_share_path(path, false))
			rc = -1;
	}
	closedir(d);
	return rc;
}
