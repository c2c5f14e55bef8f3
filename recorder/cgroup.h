/*
 * cgroup v2: the mount point, and the ids of a subtree.
 */
#ifndef FR_CGROUP_H
#define FR_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Find the cgroup v2 mount point from /proc/self/mountinfo. 0 or -1. */
int fr_cgroup2_root(char *buf, size_t len);
/* Set of cgroup ids (inode numbers) of a directory and all below it. */
struct fr_idset {
	uint64_t *ids;
	size_t n, cap;
};
int fr_cgroup_subtree(const char *path, struct fr_idset *out);
bool fr_idset_has(const struct fr_idset *s, uint64_t id);
void fr_idset_free(struct fr_idset *s);

#endif
