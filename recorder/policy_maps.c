/*
 * The policy in force: lib/policy.c parses the file and compiles it into map entries; this
 * file writes them into the BPF maps and keeps the two generations.
 *
 * A new policy goes into the generation not in force (first emptied of the policy it held
 * before), and comes into force with one write of policy_state. Programs that read the old
 * generation a moment earlier still find all of its entries: they are deleted only by the
 * next load into that generation. A policy that does not fit the maps never comes into
 * force; what of it was written is taken out again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "policy_maps.h"
#include "log.h"
#include "timefmt.h"
#include "flowrec.skel.h"

struct fr_policy_maps {
	struct fr_bpf *b;
	char path[4096];
	struct fr_policy pol[2]; /* by generation */
	int version[2];          /* the run's version number of each generation's policy; 0: none */
	int64_t loaded_ns[2];
	int gen;                 /* in force */
	int written;             /* the highest version whose rows are queued */
	int ncpus;
	uint64_t *percpu;        /* one per-CPU value, for reading and zeroing hits */
};

static void load_push(struct fr_policy_maps *pm, int gen, struct fr_db_writer *w);
static void hits_push(struct fr_db_writer *w, int version, int n, uint64_t *hits);

static int map_fd(const struct fr_policy_maps *pm, enum fr_policy_map m)
{
	const struct flowrec_bpf *s = pm->b->skel;

	return bpf_map__fd(m == FR_PM_ADDR ? s->maps.policy_addr
			   : m == FR_PM_PORT ? s->maps.policy_port : s->maps.policy_match);
}

static int entry_put(void *ctx, enum fr_policy_map m, const void *key, const struct fr_policy_bits *v)
{
	return bpf_map_update_elem(map_fd(ctx, m), key, v, BPF_ANY) ? -errno : 0;
}

static int entry_remove(void *ctx, enum fr_policy_map m, const void *key, const struct fr_policy_bits *v)
{
	(void)v;
	bpf_map_delete_elem(map_fd(ctx, m), key);
	return 0;
}

/* Take generation gen's entries out of the maps. */
static void generation_clear(struct fr_policy_maps *pm, int gen)
{
	struct fr_policy_state unused;

	if (pm->version[gen])
		fr_policy_compile(&pm->pol[gen], gen, &unused, entry_remove, pm);
	fr_policy_free(&pm->pol[gen]);
	pm->version[gen] = 0;
}

/* Each rule's hits in generation gen, summed over the CPUs, into out[nrules]. */
static void hits_read(struct fr_policy_maps *pm, int gen, int nrules, uint64_t *out)
{
	int fd = bpf_map__fd(pm->b->skel->maps.policy_hits);

	for (int i = 0; i < nrules; i++) {
		__u32 slot = gen * FR_POLICY_MAX_RULES + i;

		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &slot, pm->percpu))
			continue;
		for (int c = 0; c < pm->ncpus; c++)
			out[i] += pm->percpu[c];
	}
}

/* Put p (taken over on success) in force. */
static int install(struct fr_policy_maps *pm, struct fr_policy *p, char *err, size_t errlen)
{
	int gen = pm->version[pm->gen] ? !pm->gen : pm->gen;
	int rules_fd = bpf_map__fd(pm->b->skel->maps.policy_rules);
	int hits_fd = bpf_map__fd(pm->b->skel->maps.policy_hits);
	int state_fd = bpf_map__fd(pm->b->skel->maps.policy_state);
	struct fr_policy_state st = {}, active = { .gen = (__u32)gen };
	int version = (pm->version[0] > pm->version[1] ? pm->version[0] : pm->version[1]) + 1;
	__u32 zero = 0, gen_key = 1 + (__u32)gen;
	int rc;

	generation_clear(pm, gen);
	memset(pm->percpu, 0, pm->ncpus * sizeof(*pm->percpu));
	for (int i = 0; i < p->nrules; i++) {
		struct fr_policy_rule_action a = { .action = p->rules[i].action };
		__u32 slot = gen * FR_POLICY_MAX_RULES + i;

		if (bpf_map_update_elem(rules_fd, &slot, &a, BPF_ANY) ||
		    bpf_map_update_elem(hits_fd, &slot, pm->percpu, BPF_ANY)) {
			snprintf(err, errlen, "%.256s: cannot write the policy's rules: %s", p->path, strerror(errno));
			return -1;
		}
	}
	rc = fr_policy_compile(p, gen, &st, entry_put, pm);
	if (rc) {
		snprintf(err, errlen, "%.256s: the policy does not fit the kernel's maps (%s); it has too many "
			 "addresses or port ranges", p->path, strerror(-rc));
		fr_policy_compile(p, gen, &st, entry_remove, pm);
		return -1;
	}
	/* The generation's state first, then the word that puts it in force. */
	st.version = (uint32_t)version;
	if (bpf_map_update_elem(state_fd, &gen_key, &st, BPF_ANY) ||
	    bpf_map_update_elem(state_fd, &zero, &active, BPF_ANY)) {
		snprintf(err, errlen, "%.256s: cannot put the policy in force: %s", p->path, strerror(errno));
		fr_policy_compile(p, gen, &st, entry_remove, pm);
		return -1;
	}
	pm->pol[gen] = *p;
	memset(p, 0, sizeof(*p));
	pm->version[gen] = version;
	pm->loaded_ns[gen] = fr_now_ns();
	pm->gen = gen;
	return 0;
}

struct fr_policy_maps *fr_policy_maps_new(struct fr_bpf *b, const char *path)
{
	struct fr_policy_maps *pm = calloc(1, sizeof(*pm));
	struct fr_policy p = {};
	char err[1024];

	if (!pm)
		goto fail;
	pm->b = b;
	snprintf(pm->path, sizeof(pm->path), "%s", path);
	pm->ncpus = libbpf_num_possible_cpus();
	pm->percpu = calloc(pm->ncpus > 0 ? pm->ncpus : 1, sizeof(*pm->percpu));
	if (pm->ncpus <= 0 || !pm->percpu) {
		snprintf(err, sizeof(err), "policy: out of memory");
		goto fail_msg;
	}
	if (fr_policy_parse_file(path, &p, err, sizeof(err)) || install(pm, &p, err, sizeof(err)))
		goto fail_msg;
	fr_info("policy %s: %d rules in force", path, pm->pol[pm->gen].nrules);
	return pm;
fail_msg:
	fr_log(0, "%s", err);
fail:
	fr_policy_free(&p);
	fr_policy_maps_free(pm);
	return NULL;
}

int fr_policy_maps_reload(struct fr_policy_maps *pm, struct fr_db_writer *w)
{
	int old = pm->gen, n = pm->pol[old].nrules;
	struct fr_policy p = {};
	char err[1024];
	uint64_t *hits;

	if (fr_policy_parse_file(pm->path, &p, err, sizeof(err))) {
		fr_log(0, "SIGHUP: %s; the policy in force stays", err);
		goto fail;
	}
	if (fr_policy_same(&p, &pm->pol[old])) {
		fr_info("SIGHUP: policy %s unchanged: its %d rules stay in force (version %d)", pm->path,
			n, pm->version[old]);
		fr_policy_free(&p);
		return 0;
	}
	/* The version going out must have its rows before the next one replaces them: two
	 * reloads within a flush interval would otherwise skip one. */
	load_push(pm, old, w);
	if (install(pm, &p, err, sizeof(err))) {
		fr_log(0, "SIGHUP: %s; the policy in force stays", err);
		goto fail;
	}
	/* Its final counts, read now that no program decides with it any more. */
	hits = calloc(n ? n : 1, sizeof(*hits));
	if (hits) {
		hits_read(pm, old, n, hits);
		hits_push(w, pm->version[old], n, hits);
	}
	load_push(pm, pm->gen, w);
	fr_info("SIGHUP: policy %s reloaded: %d rules in force (version %d)", pm->path,
		pm->pol[pm->gen].nrules, pm->version[pm->gen]);
	return 0;
fail:
	fr_policy_free(&p);
	return -1;
}

const char *fr_policy_maps_rule_name(const struct fr_policy_maps *pm, uint16_t ref)
{
	int gen = FR_POLICY_REF_GEN(ref), idx = FR_POLICY_REF_INDEX(ref);

	if (!pm || !ref || !pm->version[gen] || idx < 0 || idx >= pm->pol[gen].nrules)
		return NULL;
	return pm->pol[gen].rules[idx].name;
}

static void hits_push(struct fr_db_writer *w, int version, int n, uint64_t *hits)
{
	struct fr_op op = { .type = FR_OP_POLICY_HITS };

	op.policy_version = version;
	op.policy_nrules = n;
	op.policy_hits = hits;
	fr_db_writer_push(w, &op);
}

/* Queue the rows of generation gen's version, once. */
static void load_push(struct fr_policy_maps *pm, int gen, struct fr_db_writer *w)
{
	const struct fr_policy *p = &pm->pol[gen];
	struct fr_op op = { .type = FR_OP_POLICY_LOAD, .start_ns = pm->loaded_ns[gen] };

	if (!pm->version[gen] || pm->written >= pm->version[gen])
		return;
	op.policy_version = pm->version[gen];
	op.policy_nrules = p->nrules;
	op.policy_rules = p->nrules ? malloc(p->nrules * sizeof(*p->rules)) : NULL;
	op.policy_file = strdup(pm->path);
	if ((p->nrules && !op.policy_rules) || !op.policy_file) {
		free(op.policy_rules);
		free(op.policy_file);
		fr_log(0, "policy: out of memory: its rules are not written to the database");
		return;
	}
	if (p->nrules)
		memcpy(op.policy_rules, p->rules, p->nrules * sizeof(*p->rules));
	fr_db_writer_push(w, &op);
	pm->written = op.policy_version;
}

void fr_policy_maps_flush(struct fr_policy_maps *pm, struct fr_db_writer *w)
{
	const struct fr_policy *p = &pm->pol[pm->gen];
	uint64_t *hits;

	load_push(pm, pm->gen, w);
	if (!p->nrules)
		return;
	hits = malloc(p->nrules * sizeof(*hits));
	if (!hits)
		return;
	hits_read(pm, pm->gen, p->nrules, hits);
	hits_push(w, pm->version[pm->gen], p->nrules, hits);
}

void fr_policy_maps_free(struct fr_policy_maps *pm)
{
	if (!pm)
		return;
	fr_policy_free(&pm->pol[0]);
	fr_policy_free(&pm->pol[1]);
	free(pm->percpu);
	free(pm);
}
