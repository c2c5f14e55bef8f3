/*
 * The processes rows (see processes.h).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "processes.h"
#include "container.h"

#define SEEN_SLOTS 65536 /* processes remembered as already written; a miss only re-inserts */
#define EXEC_SLOTS 4096  /* exe and arguments taken at exec, by pid, until the process is seen */

struct exec_slot {
	uint32_t pid;
	uint64_t proc_start_ns;
	char *exe, *cmdline;
};

/* What the IPFIX export sends of a process, kept beside its seen slot. */
struct desc_slot {
	uint64_t tag;
	char *exe, *container;
};

struct fr_processes {
	struct fr_db_writer *w;
	int64_t start_offset;
	struct fr_cgroup_paths *cgpaths; /* NULL: no container columns */
	uint64_t seen[SEEN_SLOTS];
	struct exec_slot execs[EXEC_SLOTS];
	struct desc_slot *descs; /* SEEN_SLOTS of them, with --ipfix only */
};

struct fr_processes *fr_processes_new(struct fr_db_writer *w, int64_t start_offset)
{
	struct fr_processes *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->w = w;
	p->start_offset = start_offset;
	p->cgpaths = fr_cgroup_paths_new(); /* NULL only costs the container columns */
	return p;
}

void fr_processes_free(struct fr_processes *p)
{
	if (!p)
		return;
	for (int i = 0; i < EXEC_SLOTS; i++) {
		free(p->execs[i].exe);
		free(p->execs[i].cmdline);
	}
	for (int i = 0; p->descs && i < SEEN_SLOTS; i++) {
		free(p->descs[i].exe);
		free(p->descs[i].container);
	}
	free(p->descs);
	fr_cgroup_paths_free(p->cgpaths);
	free(p);
}

/* A fixed offset, and whole milliseconds so that runs whose offsets differ by a few
 * microseconds still agree. */
struct fr_identity fr_processes_real(const struct fr_processes *p, const struct fr_identity *id)
{
	struct fr_identity r = *id;

	if (r.proc_start_ns)
		r.proc_start_ns = ((int64_t)r.proc_start_ns + p->start_offset) / 1000000 * 1000000;
	return r;
}

/* /proc/PID/cmdline with NULs turned into spaces; NULL if the process has gone. */
static char *read_cmdline(uint32_t pid)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	while (n > 0 && buf[n - 1] == 0)
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = 0;
	return strdup(buf);
}

static char *read_exe(uint32_t pid)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

static char *dup_or_null(const char *s)
{
	return *s ? strdup(s) : NULL;
}

/* processes.container, runtime and pod_uid, from the path of the process's cgroup. */
static void fill_container(struct fr_processes *p, const struct fr_identity *id, struct fr_op *op)
{
	const char *path = fr_cgroup_paths_lookup(p->cgpaths, id->cgroup_id, id->pid);
	struct fr_container ct;

	if (!path || !fr_container_parse(path, &ct))
		return;
	op->container = dup_or_null(ct.id);
	op->runtime = dup_or_null(ct.runtime);
	op->pod_uid = dup_or_null(ct.pod_uid);
}

void fr_processes_exec(struct fr_processes *p, const struct fr_exec_event *e)
{
	struct exec_slot *s = &p->execs[e->pid % EXEC_SLOTS];
	char args[FR_EXEC_ARGS_LEN + 1];
	uint32_t n = e->args_len < FR_EXEC_ARGS_LEN ? e->args_len : FR_EXEC_ARGS_LEN;

	while (n && !e->args[n - 1])
		n--;
	for (uint32_t i = 0; i < n; i++)
		args[i] = e->args[i] ? e->args[i] : ' ';
	args[n] = 0;
	free(s->exe);
	free(s->cmdline);
	s->pid = e->pid;
	s->proc_start_ns = e->proc_start_ns;
	s->exe = strndup(e->exe, sizeof(e->exe));
	s->cmdline = n ? strdup(args) : NULL;
}

static uint32_t seen_index(const struct fr_identity *id, uint64_t *tag)
{
	*tag = ((uint64_t)id->pid << 40) ^ id->proc_start_ns;
	return (uint32_t)((*tag * 0x9E3779B97F4A7C15ULL) >> 48);
}

int fr_processes_keep_descriptions(struct fr_processes *p)
{
	p->descs = calloc(SEEN_SLOTS, sizeof(*p->descs));
	return p->descs ? 0 : -1;
}

void fr_processes_describe(const struct fr_processes *p, const struct fr_identity *id,
			   const char **exe, const char **container)
{
	uint64_t tag;
	const struct desc_slot *d = p->descs ? &p->descs[seen_index(id, &tag)] : NULL;

	*exe = d && d->tag == tag && d->exe ? d->exe : "";
	*container = d && d->tag == tag && d->container ? d->container : "";
}

static void keep_description(struct fr_processes *p, uint32_t index, uint64_t tag,
			     const struct fr_op *op)
{
	struct desc_slot *d = &p->descs[index];

	free(d->exe);
	free(d->container);
	d->tag = tag;
	d->exe = op->exe ? strdup(op->exe) : NULL;
	d->container = op->container ? strdup(op->container) : NULL;
}

void fr_processes_seen(struct fr_processes *p, const struct fr_identity *id)
{
	uint64_t tag;
	uint32_t index = seen_index(id, &tag);
	uint64_t *slot = &p->seen[index];
	struct fr_op op = { .type = FR_OP_PROCESS };

	if (!id->pid || *slot == tag)
		return;
	*slot = tag;
	op.id = fr_processes_real(p, id);
	op.start_ns = (int64_t)op.id.proc_start_ns;
	{
		struct exec_slot *x = &p->execs[id->pid % EXEC_SLOTS];

		if (x->pid == id->pid && x->proc_start_ns == id->proc_start_ns && x->exe) {
			op.exe = strdup(x->exe);
			op.cmdline = x->cmdline ? strdup(x->cmdline) : NULL;
		} else {
			op.exe = read_exe(id->pid);
			op.cmdline = read_cmdline(id->pid);
		}
	}
	fill_container(p, id, &op);
	if (p->descs)
		keep_description(p, index, tag, &op);
	fr_db_writer_push(p->w, &op);
}

