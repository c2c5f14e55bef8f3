/*
 * DATA/flowrec.lock: one recorder per data directory. The recorder holds an exclusive
 * flock for its whole life (the kernel drops it on any exit, kill -9 included) and keeps
 * its pid in the file; flowq tests the lock to tell a live run from a crashed one.
 */
#ifndef FR_LOCKFILE_H
#define FR_LOCKFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Take the lock of a data directory. Returns the fd to keep open, or -1 with err. */
int fr_lock_acquire(const char *dir, char *err, size_t errlen);

/* The pid of the recorder holding the lock of dir, or 0 if none does. Never writes. */
pid_t fr_lock_holder(const char *dir);

#endif
