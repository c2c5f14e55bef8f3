/*
 * Container identity from a process's cgroup v2 path.
 *
 * fr_container_parse() is pure: it reads the components of a path such as
 * "/system.slice/docker-<64 hex>.scope" and says which container (and Kubernetes pod) it
 * names. The cache maps the cgroup ids the BPF side reports (inode numbers of cgroup
 * directories) to paths: one walk of the cgroup v2 tree, walked again on a miss at most once
 * a second, with /proc/PID/cgroup (checked against the id) for cgroups newer than the walk.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "recorder.h"
#include "cgroup.h"
#include "container.h"

static bool is_hex(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "<prefix><id><suffix>" with id hex of exactly want characters (any length up to 64 if
 * want is 0). Copies the id to out. */
static bool match_id(const char *c, size_t n, const char *prefix, const char *suffix, size_t want,
		     char out[FR_CONTAINER_ID_MAX + 1])
{
	size_t pl = strlen(prefix), sl = strlen(suffix), idn;

	if (n < pl + sl || strncmp(c, prefix, pl) != 0 || strncmp(c + n - sl, suffix, sl) != 0)
		return false;
	idn = n - pl - sl;
	if ((want && idn != want) || idn > FR_CONTAINER_ID_MAX || !is_hex(c + pl, idn))
		return false;
	memcpy(out, c + pl, idn);
	out[idn] = 0;
	return true;
}

/* A pod uid: hex digits and '-' (cgroupfs) or '_' (systemd, which reserves '-'). */
static bool copy_uid(const char *s, size_t n, char out[FR_POD_UID_MAX + 1])
{
	if (!n || n > FR_POD_UID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '_')
			ch = '-';
		else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || ch == '-'))
			return false;
		out[i] = ch;
	}
	out[n] = 0;
	return true;
}

static bool comp_is(const char *c, size_t n, const char *word)
{
	return strlen(word) == n && strncmp(c, word, n) == 0;
}

int fr_container_parse(const char *path, struct fr_container *out)
{
	const char *c = path, *prev = NULL;
	size_t prevn = 0;
	bool kubepods = false, after_pod = false;

	memset(out, 0, sizeof(*out));
	if (!path)
		return 0;
	while (*c) {
		size_t n = strcspn(c, "/");
		char id[FR_CONTAINER_ID_MAX + 1];
		const char *runtime = NULL;
		bool pod = false;

		if (!n) {
			c++;
			continue;
		}
		if (match_id(c, n, "docker-", ".scope", 64, id))
			runtime = "docker";
		else if (match_id(c, n, "cri-containerd-", ".scope", 64, id))
			runtime = "containerd";
		else if (match_id(c, n, "crio-", ".scope", 64, id))
			runtime = "cri-o";
		else if (match_id(c, n, "libpod-", ".scope", 64, id))
			runtime = "podman";
		else if (prev && comp_is(prev, prevn, "libpod_parent") &&
			 (match_id(c, n, "libpod-", ".scope", 0, id) || match_id(c, n, "libpod-", "", 0, id)))
			runtime = "podman";
		else if (prev && comp_is(prev, prevn, "docker") && match_id(c, n, "", "", 64, id))
			runtime = "docker";
		else if (after_pod && match_id(c, n, "", "", 64, id))
			runtime = ""; /* cgroupfs Kubernetes: the path does not name the runtime */
		else if (n > 8 && strncmp(c, "kubepods", 8) == 0 && (c[8] == '-' || c[8] == '.')) {
			/* systemd: kubepods[-QOS]-pod<uid with _>.slice */
			const char *p = NULL;

			kubepods = true;
			for (const char *s = c; s + 4 <= c + n; s++)
				if (strncmp(s, "-pod", 4) == 0)
					p = s + 4;
			if (p && n > 6 && strncmp(c + n - 6, ".slice", 6) == 0 &&
			    copy_uid(p, (size_t)(c + n - 6 - p), out->pod_uid))
				pod = true;
		} else if (comp_is(c, n, "kubepods")) {
			kubepods = true;
		} else if (kubepods && n > 3 && strncmp(c, "pod", 3) == 0 &&
			   copy_uid(c + 3, n - 3, out->pod_uid)) {
			pod = true; /* cgroupfs: /kubepods[/QOS]/pod<uid> */
		}
		if (runtime) {
			memcpy(out->id, id, sizeof(id));
			snprintf(out->runtime, sizeof(out->runtime), "%s", runtime);
		}
		after_pod = pod;
		prev = c;
		prevn = n;
		c += n;
	}
	return out->id[0] || out->pod_uid[0];
}

/* ---- cgroup id -> path cache ---- */

struct cg_entry {
	uint64_t id;
	char *path; /* relative to the cgroup v2 root, starting with '/' */
};

/* An open-addressing hash of cgroup ids (id 0: a free slot; no cgroup has inode 0), kept at
 * most half full: a new process's lookup and a new cgroup's insert are O(1). */
struct fr_cgroup_paths {
	char root[4096];
	size_t rootlen;
	struct cg_entry *e;
	size_t n, cap; /* cap: a power of two */
	int64_t last_walk_ns;
};

static size_t slot_of(const struct fr_cgroup_paths *p, uint64_t id)
{
	size_t i = (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & (p->cap - 1);

	while (p->e[i].id && p->e[i].id != id)
		i = (i + 1) & (p->cap - 1);
	return i;
}

static int grow(struct fr_cgroup_paths *p)
{
	size_t cap = p->cap ? p->cap * 2 : 256;
	struct cg_entry *old = p->e, *e = calloc(cap, sizeof(*e));
	size_t oldcap = p->cap;

	if (!e)
		return -1;
	p->e = e;
	p->cap = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].id)
			p->e[slot_of(p, old[i].id)] = old[i];
	free(old);
	return 0;
}

static struct fr_cgroup_paths *walk_paths;

static int add_entry(struct fr_cgroup_paths *p, uint64_t id, const char *rel)
{
	struct cg_entry *e;
	char *s;

	if (!id || ((p->n + 1) * 2 > p->cap && grow(p)))
		return -1;
	e = &p->e[slot_of(p, id)];
	s = strdup(*rel ? rel : "/");
	if (!s)
		return -1;
	if (e->id) {
		free(e->path); /* the same id walked again: the newer path */
	} else {
		e->id = id;
		p->n++;
	}
	e->path = s;
	return 0;
}

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_D)
		return 0;
	return add_entry(walk_paths, st->st_ino, path + walk_paths->rootlen);
}

static void clear_entries(struct fr_cgroup_paths *p)
{
	for (size_t i = 0; i < p->cap; i++) {
		free(p->e[i].path);
		p->e[i] = (struct cg_entry){ 0 };
	}
	p->n = 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void walk(struct fr_cgroup_paths *p)
{
	clear_entries(p);
	walk_paths = p;
	nftw(p->root, walk_one, 32, FTW_PHYS); /* a partial walk still helps */
	walk_paths = NULL;
	p->last_walk_ns = mono_ns();
}

static const char *find(struct fr_cgroup_paths *p, uint64_t id)
{
	return p->cap && id ? p->e[slot_of(p, id)].path : NULL;
}

struct fr_cgroup_paths *fr_cgroup_paths_new(void)
{
	struct fr_cgroup_paths *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (fr_cgroup2_root(p->root, sizeof(p->root))) {
		free(p);
		return NULL;
	}
	p->rootlen = strlen(p->root);
	while (p->rootlen > 1 && p->root[p->rootlen - 1] == '/')
		p->root[--p->rootlen] = 0;
	walk(p);
	return p;
}

void fr_cgroup_paths_free(struct fr_cgroup_paths *p)
{
	if (!p)
		return;
	clear_entries(p);
	free(p->e);
	free(p);
}

/* The cgroup /proc/PID/cgroup names ("0::/path"), if its directory has this id. */
static const char *from_proc(struct fr_cgroup_paths *p, uint32_t pid, uint64_t id)
{
	char file[64], line[4096], full[8192];
	struct stat st;
	FILE *f;
	const char *found = NULL;

	snprintf(file, sizeof(file), "/proc/%u/cgroup", pid);
	f = fopen(file, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		snprintf(full, sizeof(full), "%s%s", p->root, line + 3);
		if (stat(full, &st) == 0 && (uint64_t)st.st_ino == id && !add_entry(p, id, line + 3))
			found = find(p, id);
		break;
	}
	fclose(f);
	return found;
}

const char *fr_cgroup_paths_lookup(struct fr_cgroup_paths *p, uint64_t id, uint32_t pid)
{
	const char *path;

	if (!p || !id)
		return NULL;
	path = find(p, id);
	if (path)
		return path;
	if (mono_ns() - p->last_walk_ns >= 1000000000LL) {
		walk(p);
		path = find(p, id);
		if (path)
			return path;
	}
	return pid ? from_proc(p, pid, id) : NULL;
}
