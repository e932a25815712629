/*
 * untar.h — docker's Untar: a tar stream (plain, or compressed as docker's
 * DecompressStream accepts it) extracted into a directory, for PUT
 * /containers/{id}/archive in berthd and for `berth cp CONTAINER:SRC DEST` in
 * the CLI.
 *
 * It is the layer unpacker (layer-unpack.c) in its plain mode: the same
 * confinement (every name cleaned, every parent opened with openat2
 * RESOLVE_IN_ROOT below root_fd, every entry made with an *at() call on its
 * last component that never follows a symlink), with docker's Untar rules
 * instead of a layer's: ".wh." names are ordinary files, the destination
 * directory itself ("." in the tar) stays as it is, a relative symlink
 * climbing above the destination is refused, noOverwriteDirNonDir refuses to
 * turn a directory into a file or back, and owners come from the tar
 * (CopyUIDGID's fixed owner, or none at all for a user's copy to the local
 * disk).  The destination is a path below root_fd (prefix) that is walked
 * again for every entry inside the root, as docker walks it in its chroot:
 * a symlink in the container's tree may redirect an entry elsewhere in the
 * container, never out of it.
 *
 * Never: let a name from the tar, or a symlink in the tree, resolve outside
 * root_fd; buffer the stream (memory stays flat whatever its size).
 */
#ifndef BERTH_IMAGE_UNTAR_H
#define BERTH_IMAGE_UNTAR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

struct untar_opts {
        const char *prefix;    /* destination below root_fd, cleaned; NULL or "" the root */
        const char *dest_name; /* the destination as messages name it ("/tmp") */
        bool no_overwrite_dir_nondir;
        /* ".." at the top stays at the destination and symlinks may name anything (they
         * resolve inside the root anyway), as docker extracts into a chroot at "/": a
         * build context */
        bool clamp;      /* also: the stream may end without its last member's padding */
        bool keep_owner; /* never chown (docker's NoLchown) */
        bool chown;      /* every entry owned by uid:gid (docker's ChownOpts) */
        uid_t uid;
        gid_t gid;
        /* docker's RebaseArchiveEntries: the first occurrence of rebase_old in each
         * name (and hard link target) becomes rebase_new; NULL for none */
        const char *rebase_old, *rebase_new;
};

struct untar;

/* root_fd is borrowed and must stay open until untar_free(). */
int untar_begin(int root_fd, const struct untar_opts *o, struct untar **ret,
                struct berth_error **err);
int untar_write(struct untar *u, const void *buf, size_t len, struct berth_error **err);
/* End of input: the stream must end at a member boundary; directory times are
 * set last. */
int untar_finish(struct untar *u, struct berth_error **err);
/* The whole of fd (read to its end) extracted: untar_begin, _write, _finish; what names fd in
 * a read error. */
int untar_fd(int root_fd, const struct untar_opts *o, int fd, const char *what,
             struct berth_error **err);
/* Entries seen so far. */
unsigned long long untar_entries(const struct untar *u);
void untar_free(struct untar *u);
static inline void untar_freep(struct untar **u)
{
        untar_free(*u);
}
#define _cleanup_untar_ _cleanup_(untar_freep)

#endif
