/*
 * Container identity from a cgroup path, and a cache of cgroup id -> path.
 */
#ifndef FR_CONTAINER_H
#define FR_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FR_CONTAINER_ID_MAX 64
#define FR_POD_UID_MAX 63
/* What a cgroup v2 path says about its container; empty strings where it says nothing. */
struct fr_container {
	char id[FR_CONTAINER_ID_MAX + 1];  /* innermost container id (hex) */
	char runtime[16];                  /* "docker", "containerd", "cri-o", "podman" or "" */
	char pod_uid[FR_POD_UID_MAX + 1];  /* Kubernetes pod uid, with '-' */
};
/* Parse a path relative to the cgroup v2 root ("/system.slice/docker-<hex>.scope"). Pure.
 * 1 if it names a container or a pod, else 0 (and out all empty). */
int fr_container_parse(const char *path, struct fr_container *out);
/* cgroup id -> path, relative to the cgroup v2 root. NULL if cgroup v2 is not mounted. */
struct fr_cgroup_paths;
struct fr_cgroup_paths *fr_cgroup_paths_new(void);
void fr_cgroup_paths_free(struct fr_cgroup_paths *p);
/* The path of cgroup id (pid: a process in it, a fallback for a cgroup newer than the last
 * walk; 0 for none). Valid until the next call. NULL if unknown. */
const char *fr_cgroup_paths_lookup(struct fr_cgroup_paths *p, uint64_t id, uint32_t pid);

#endif
