/*
 * tar-writer.h — a tar stream of a file or directory tree, as docker's
 * archive package writes it (TarWithOptions): GET /containers/{id}/archive and
 * /export in berthd, and `berth cp SRC CONTAINER:DEST` in the CLI.
 *
 * The tree is walked by fd, never by path: the top is opened with O_PATH |
 * O_NOFOLLOW below a directory fd the caller resolved (for a container, with
 * openat2 RESOLVE_IN_ROOT), every child with openat(parent, name, O_PATH |
 * O_NOFOLLOW), and what each fd is comes from fstat on it.  A regular file's
 * bytes are read through a reopen of that same inode (/proc/self/fd), so a
 * name swapped for a symlink, a FIFO or a device between the listing and the
 * read is archived as what it was when opened, never followed or opened for
 * reading: the walk cannot leave the tree it started in, and a tree that
 * changes while it is archived (a running container's) still gives a
 * well-formed archive (a file that shrank is padded with zeros to the size
 * its header announced).  The walk keeps its own stack of directory fds (one
 * per level), so a deep tree costs fds, not thread stack.
 *
 * Entries: directories first then their children in byte order of names, as
 * Go's filepath.Walk; directory names end in '/'; mode carries the file type
 * bits as docker writes them (0040755); times in whole seconds; owners as
 * numbers (no user or group names); a regular file with more links than one
 * is archived once and then as hard links to that first name; sockets are
 * skipped; security.capability travels as a PAX SCHILY.xattr record.  Names
 * longer than the ustar fields go into PAX records.  Kernel filesystems met on
 * the way (a running container's /proc, /sys, …: base/fileio.h's
 * fd_on_kernel_fs) are archived as their mount points only, empty, and a file
 * on one without its contents: nothing of the kernel's is read, and a walk
 * through /proc cannot block on a file such as /proc/kmsg.
 *
 * Never: follow a symlink, open a non-regular file for reading, or read a name
 * from the tree as a path outside the walk.
 */
#ifndef BERTH_IMAGE_TAR_WRITER_H
#define BERTH_IMAGE_TAR_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#include <sys/stat.h>

/* Output sink: 0, or a negative errno that stops the walk (client gone). */
typedef int (*tarw_write_fn)(const void *buf, size_t len, void *userdata);

struct tarw;

struct tarw *tarw_new(tarw_write_fn write, void *userdata);
void tarw_free(struct tarw *w);
static inline void tarw_freep(struct tarw **w)
{
        tarw_free(*w);
}
#define _cleanup_tarw_ _cleanup_(tarw_freep)

/*
 * An overlay upper dir archived as an image layer (a commit), as dockerd's
 * overlay2 driver writes it: a whiteout (a character device 0/0) becomes an
 * empty regular file ".wh.<name>" of mode 0600, and a directory whose
 * trusted.overlay.opaque is "y" is followed by an empty ".wh..wh..opq" with the
 * directory's permissions and owner and time 0.  The xattr itself never goes
 * into the archive.
 */
void tarw_set_overlay_whiteouts(struct tarw *w, bool on);
/* Leave an entry out (a directory with everything below it) when skip returns
 * true; it gets the name as archived, an O_PATH fd on the entry and its fstat. */
typedef bool (*tarw_skip_fn)(const char *name, int fd, const struct stat *st, void *userdata);
void tarw_set_skip(struct tarw *w, tarw_skip_fn skip, void *userdata);

/* A finer filter (docker's build context and its .dockerignore): KEEP archives the
 * entry; SKIP leaves it out with everything below it; HIDE leaves out the entry itself
 * but still walks a directory's children (an excluded directory an exception may reach
 * into).  Called after the skip function, with the same arguments. */
enum tarw_verdict {
        TARW_KEEP,
        TARW_SKIP,
        TARW_HIDE,
};
typedef enum tarw_verdict (*tarw_filter_fn)(const char *name, int fd, const struct stat *st,
                                            void *userdata);
void tarw_set_filter(struct tarw *w, tarw_filter_fn filter, void *userdata);
/* Every entry owned by uid:gid whatever the disk says (docker's ChownOpts: a build
 * context is sent as 0:0). */
void tarw_set_owner(struct tarw *w, uint64_t uid, uint64_t gid);

/* Modes as permission bits only (0644, not 0100644): docker 28's CLI, whose vendored
 * archive package no longer adds Go 1.8's type bits, writes a build context so. */
void tarw_set_perm_only(struct tarw *w, bool on);

/* The tree is the caller's own (a build context the CLI sends), never one another process may
 * change under it (a container's): each member is opened for reading at once, not as a path
 * reopened through /proc, which saves a path walk per file. */
void tarw_set_direct(struct tarw *w, bool on);

/*
 * Archive name below dirfd (NULL, "" or ".": dirfd itself), not following a
 * symlink at name.  The top entry is called as ("/": "/", its children "/x";
 * "": no top entry, children "x", as docker's export), the entries below it
 * as/<relative path>.
 */
int tarw_add(struct tarw *w, int dirfd, const char *name, const char *as, struct berth_error **err);
/* The same for what fd (O_PATH, borrowed) is: what was stat'ed is what is archived. */
int tarw_add_fd(struct tarw *w, int fd, const char *as, struct berth_error **err);
/* A regular file of len bytes from memory, named as (a Dockerfile read from stdin);
 * owned by the set owner, else 0:0. */
int tarw_add_data(struct tarw *w, const char *as, const void *data, size_t len, mode_t mode,
                  int64_t mtime, struct berth_error **err);
/* The two zero blocks that end an archive, then a flush. */
int tarw_finish(struct tarw *w, struct berth_error **err);
/* Bytes written so far (headers included). */
uint64_t tarw_bytes(const struct tarw *w);

#endif
