/*
 * Who may read the recording (flowrec --group): see share.c.
 */
#ifndef FR_SHARE_H
#define FR_SHARE_H

#include <stdbool.h>
#include <sys/types.h>

/* From now on, what the recorder makes in the data directory is for this group too. */
void fr_share_set_group(gid_t gid);
bool fr_share_enabled(void);

/* Give a file (0640) or directory (0750) to the group; nothing without --group. 0, or -1
 * with errno. */
int fr_share_fd(int fd, bool is_dir);
int fr_share_path(const char *path, bool is_dir);

/* The same for every regular file in dir (segments recorded before --group was given). */
int fr_share_dir_files(const char *dir);

#endif
