/*
 * Policy files (flowrec --policy): parsing a rule file, and compiling the rules into the
 * entries of the BPF maps that bpf/policy.bpf.h evaluates (include/flowrec.h describes
 * them). docs/policy.md is the user's reference for the syntax.
 */
#ifndef FR_POLICY_H
#define FR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "flowrec.h"

#define FR_POLICY_NAME_LEN 64

struct fr_policy_rule {
	int line;                       /* 1-based line in the file */
	uint8_t action;                 /* enum fr_policy_action */
	uint8_t what;                   /* enum fr_policy_what */
	uint8_t family;                 /* of addr: 4 or 6; 0: no address match */
	uint8_t prefixlen;              /* address bits that must match (0..32 or 0..128) */
	uint32_t addr[4];               /* network order, host bits cleared */
	bool has_port;
	uint16_t port_lo, port_hi;      /* inclusive */
	uint8_t proto;                  /* 6 or 17; 0: both */
	bool has_uid;
	uint32_t uid;
	char comm[FR_COMM_LEN];         /* "" : any */
	bool has_exe;
	char exe[256];                  /* as written */
	uint32_t exe_dev;               /* its file, as the kernel names it: MKDEV(major, minor) */
	uint64_t exe_ino;
	bool has_cgroup;
	char cgroup[256];               /* as written */
	uint64_t cgroup_id;             /* the cgroup directory's inode number */
	char name[FR_POLICY_NAME_LEN];  /* `name WORD`, or "line N" */
	char text[512];                 /* the rule as written, comment and surrounding blanks removed */
};

struct fr_policy {
	char path[4096];
	int nrules;
	struct fr_policy_rule *rules;   /* heap, nrules entries */
};

/* Parse the policy file at path into p (which it owns until fr_policy_free). exe and cgroup
 * paths are resolved here (stat): one that does not exist is an error. Returns 0, or -1
 * with err holding one line "POLICY:LINE: what is wrong" (or, about the file itself,
 * "cannot read POLICY: ..."). */
int fr_policy_parse_file(const char *path, struct fr_policy *p, char *err, size_t errlen);

/* The same, from text in memory (path only names it in messages). */
int fr_policy_parse_text(const char *path, const char *text, struct fr_policy *p, char *err,
			 size_t errlen);

void fr_policy_free(struct fr_policy *p);

/* Whether a and b are the same rules, down to the files and cgroups they resolved to and the
 * lines they are on: a reload of a policy that is the same changes nothing. */
bool fr_policy_same(const struct fr_policy *a, const struct fr_policy *b);

/* The map entries of a policy, for one generation. Keys are fully written (padding zero);
 * every value is a bitmap of rule indexes. */
enum fr_policy_map {
	FR_PM_ADDR,  /* key struct fr_policy_addr_key */
	FR_PM_PORT,  /* key struct fr_policy_port_key */
	FR_PM_MATCH, /* key struct fr_policy_match_key */
};

typedef int (*fr_policy_entry_fn)(void *ctx, enum fr_policy_map map, const void *key,
				  const struct fr_policy_bits *value);

/* Call fn for every map entry of p under generation gen (0 or 1); fills *state (gen, whats, dims,
 * nrules). Stops at fn's first non-zero return and returns it; 0 when all went. */
int fr_policy_compile(const struct fr_policy *p, uint8_t gen, struct fr_policy_state *state,
		      fr_policy_entry_fn fn, void *ctx);

/* "deny", "audit", "allow"; "connect", "bind", "accept". */
const char *fr_policy_action_name(int action);
const char *fr_policy_what_name(int what);

#endif
