/*
 * cgroup v2: where it is mounted (never assumed: hybrid systems mount it at
 * /sys/fs/cgroup/unified) and which cgroup ids lie under a directory. A cgroup v2 id is the
 * inode number of its directory, which is what the BPF side reads from task->cgroups.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "recorder.h"
#include "cgroup.h"

int fr_cgroup2_root(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int ret = -1;

	if (!f)
		return -1;
	/* id parent major:minor root mountpoint options [optional...] - fstype source superopts */
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");
		char mnt[2048];

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1)
			continue;
		snprintf(buf, len, "%s", mnt);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static struct fr_idset *walk_set;

static int walk_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag != FTW_D)
		return 0;
	if (walk_set->n == walk_set->cap) {
		size_t cap = walk_set->cap ? walk_set->cap * 2 : 256;
		uint64_t *ids = realloc(walk_set->ids, cap * sizeof(*ids));

		if (!ids)
			return -1;
		walk_set->ids = ids;
		walk_set->cap = cap;
	}
	walk_set->ids[walk_set->n++] = st->st_ino;
	return 0;
}

int fr_cgroup_subtree(const char *path, struct fr_idset *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	walk_set = out;
	ret = nftw(path, walk_add, 32, FTW_PHYS);
	walk_set = NULL;
	return ret ? -1 : 0;
}

bool fr_idset_has(const struct fr_idset *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return true;
	return false;
}

void fr_idset_free(struct fr_idset *s)
{
	free(s->ids);
	memset(s, 0, sizeof(*s));
}
