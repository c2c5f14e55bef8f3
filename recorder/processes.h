/*
 * Processes: the processes rows, one per (pid, start time) the first time a flow, a socket
 * event or an owner change names it, with its exe, command line and container.
 *
 * exe and cmdline come from the exec hook for a process started while recording (exact, and
 * there even for one that lives a few milliseconds), else from /proc while it most likely
 * still runs. Both the "seen" set and the exec cache are fixed-size tables indexed by hash:
 * a collision only costs a repeated INSERT OR IGNORE or a /proc read, never memory.
 */
#ifndef FR_PROCESSES_H
#define FR_PROCESSES_H

#include "recorder.h"
#include "db_writer.h"

struct fr_processes;

/* start_offset: realtime minus CLOCK_MONOTONIC at start, fixed for the run. NULL if out of
 * memory. */
struct fr_processes *fr_processes_new(struct fr_db_writer *w, int64_t start_offset);
void fr_processes_free(struct fr_processes *p);

/* An identity with its start time in realtime, whole milliseconds: the same every time for
 * one process (processes' primary key is pid and start time). */
struct fr_identity fr_processes_real(const struct fr_processes *p, const struct fr_identity *id);

/* Queue the process's row if this (pid, start) has not been seen. */
void fr_processes_seen(struct fr_processes *p, const struct fr_identity *id);

/* From now on, keep each seen process's exe and container for fr_processes_describe (the
 * IPFIX export's; a few MiB at most). -1: out of memory. */
int fr_processes_keep_descriptions(struct fr_processes *p);

/* The exe and container of a seen process, "" when unknown; valid until the next
 * fr_processes_seen. */
void fr_processes_describe(const struct fr_processes *p, const struct fr_identity *id,
			   const char **exe, const char **container);

/* Keep what the exec hook saw of a process, for its row. */
void fr_processes_exec(struct fr_processes *p, const struct fr_exec_event *e);

#endif
