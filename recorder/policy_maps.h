/*
 * The policy in force (--policy): compiled into the BPF maps, swapped whole on SIGHUP, its
 * rules and hit counts written to policy_rules, its rule names given to flows.rule.
 */
#ifndef FR_POLICY_MAPS_H
#define FR_POLICY_MAPS_H

#include "bpf_attach.h"
#include "db_writer.h"
#include "policy.h"

struct fr_policy_maps;

/* Parse path and put it in force in b's maps (loaded, not yet attached). NULL after
 * printing one line naming the problem. */
struct fr_policy_maps *fr_policy_maps_new(struct fr_bpf *b, const char *path);
/* SIGHUP: read the file again; a broken one is refused (one line says why, with its line
 * number) and the policy in force stays. 0 when the new one is in force (its rows, and the
 * old one's final hits, queued on w at once) or when it is the same. */
int fr_policy_maps_reload(struct fr_policy_maps *pm, struct fr_db_writer *w);
/* The name of the rule a flow's verdict names (fr_flow.rule), or NULL. */
const char *fr_policy_maps_rule_name(const struct fr_policy_maps *pm, uint16_t ref);
/* Queue the rows of a version not written yet and the hit counts of the one in force. */
void fr_policy_maps_flush(struct fr_policy_maps *pm, struct fr_db_writer *w);
void fr_policy_maps_free(struct fr_policy_maps *pm);

#endif
