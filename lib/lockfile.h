/*
 * DATA/flowrec.lock: one recorder per data directory. The recorder holds an exclusive
 * lock for its whole life (the kernel drops it on any exit, kill -9 included) and keeps
 * its pid in the file; flowq tests the lock, without taking it, to tell a live run from a
 * crashed one.
 */
#ifndef FR_LOCKFILE_H
#define FR_LOCKFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Take the lock of a data directory. Returns the fd to keep open, or -1 with err. */
int fr_lock_acquire(const char *dir, char *err, size_t errlen);

/* The pid of the recorder holding the lock of dir (1 if its pid is unreadable), 0 if none
 * does, -1 if that cannot be told (the lock file cannot be read). Never writes or locks. */
pid_t fr_lock_holder(const char *dir);

#endif
