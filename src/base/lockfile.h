/*
 * lockfile.h — one process per resource: an exclusive lock on a small file
 * that holds the owner's pid.
 *
 * berthd claims its pid file, its exec root and its data root this way, so a
 * second daemon pointed at any of them stops at once with the pid of the one
 * that holds it, before it opens (let alone changes) anything there.
 *
 * The lock is an open file description lock (fcntl F_OFD_SETLK): it belongs
 * to the descriptor, not to the process, so it lasts until the returned fd is
 * closed (or the process dies) and no unrelated close() of the same file
 * elsewhere in the process can drop it — unlike the POSIX record locks SQLite
 * uses (see engine/db.h, the lock rule).  A lock file left by a process that
 * died is simply locked again.
 *
 * Never: decide ownership from the pid in the file (pids are reused); the
 * lock decides, the pid is only for the message.
 */
#ifndef BERTH_BASE_LOCKFILE_H
#define BERTH_BASE_LOCKFILE_H

#include <sys/types.h>

#include "error.h"

/*
 * Create path (mode 0644) if needed, lock it exclusively and write our pid into
 * it.  On success *ret_fd holds the lock (O_CLOEXEC; keep it open).  When
 * another process holds it: -EBUSY, *ret_holder its pid (0 when it has not
 * written it yet), and no error message (the caller names the resource).
 * Other failures: a negative errno with a message.
 */
int lockfile_acquire(const char *path, int *ret_fd, pid_t *ret_holder, struct berth_error **err);

#endif
