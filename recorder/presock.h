/*
 * Sockets already open when the recorder starts: owners from the task_file iterator.
 */
#ifndef FR_PRESOCK_H
#define FR_PRESOCK_H

#include "bpf_attach.h"
#include "cgroup.h"

/* Give owners to the sockets that existed before the recorder: returns how many, or -1. */
int fr_presock_adopt(struct fr_bpf *b, const struct fr_idset *cgroups);

#endif
