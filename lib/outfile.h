/*
 * Writing an output file (flowq pcap -w, flowq plot -o) so that a failure leaves nothing
 * half-written and nothing that is not a regular file is ever replaced.
 *
 * A regular file, or a name that does not exist yet, is written to a temporary of a unique
 * name beside it (mkstemp: an unrelated FILE.tmp is left alone, and nothing planted in a
 * shared directory is followed), synced, and renamed over the name when committed, with the
 * directory synced after the rename. Anything else that exists there (/dev/null, /dev/full,
 * a FIFO, a terminal) is written in place: renaming over a device node, as root, would
 * replace it with a regular file.
 */
#ifndef FR_OUTFILE_H
#define FR_OUTFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct fr_outfile {
	int fd;              /* write here; -1 once committed or aborted */
	bool in_place;       /* not a regular file: written where it is */
	char path[PATH_MAX];
	char tmp[PATH_MAX];  /* the temporary, "" when in place or gone */
};

/* Open path for writing; mode (less the umask) is the new file's. 0, or -1 with a message in
 * err ("cannot write PATH: ..."). */
int fr_outfile_open(struct fr_outfile *f, const char *path, mode_t mode, char *err, size_t errlen);

/* Make what was written the file: sync, close and rename (a regular file), or close. 0, or
 * -1 with a message in err; the temporary is removed either way. */
int fr_outfile_commit(struct fr_outfile *f, char *err, size_t errlen);

/* Give up: close and remove the temporary. Safe to call twice, and after commit. */
void fr_outfile_abort(struct fr_outfile *f);

#endif /* FR_OUTFILE_H */
