/*
 * layer-unpack.h — internal to src/image: the extraction state of one layer
 * apply and the tar callbacks that write entries below the layer root (see
 * layer-unpack.c).  layer.c owns the stream (digests, decompression, the
 * extraction thread) and hands the tar reader &layer_unpack_ops with a
 * struct layer_unpack as userdata.
 *
 * Never: include this outside src/image.
 */
#ifndef BERTH_IMAGE_LAYER_UNPACK_H
#define BERTH_IMAGE_LAYER_UNPACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/error.h"
#include "image/tar.h"

struct layer_unpack_dirtime {
        char *path;
        struct timespec ts[2];
};

struct layer_unpack_xattr {
        char *name, *value;
        size_t len;
};

struct layer_unpack_dirfd {
        char *path; /* NULL: free slot */
        int fd;     /* O_PATH, opened with RESOLVE_IN_ROOT */
        uint64_t used;
        bool mode_known, setgid; /* fstat'ed once setgid_dirs is set */
        bool kfs;                /* plain mode: on a kernel filesystem (proc, sysfs, …) */
};

#define LAYER_UNPACK_DIRFDS 8

struct layer_unpack {
        int root_fd; /* the layer directory (not owned) */
        size_t max_path;
        /* what a new inode gets without fchown/fchmod (layer_unpack_init,
         * layer_unpack_thread_init): owners ours, mode as asked */
        bool owner_known;
        uid_t own_uid;
        gid_t own_gid;
        bool no_default_acl;
        bool umask_zero;
        pthread_t umask_thread;
        bool setgid_dirs; /* a directory here has S_ISGID: new inodes may take its group */
        bool root_setgid;
        bool parent_setgid; /* of the current entry (open_parent) */
        bool removed;       /* an entry replaced something: paths may name other inodes */
        /* the regular file being written */
        int cur_fd;
        char *cur_name;
        uint64_t cur_uid, cur_gid;
        mode_t cur_mode;
        bool cur_chown, cur_chmod;
        struct timespec cur_ts[2];
        struct layer_unpack_xattr *cur_xattrs;
        size_t n_cur_xattrs;
        uint64_t cur_size, cur_seen;
        /* a small file whose data arrives in pieces is collected here and written once */
        unsigned char *stage;
        size_t stage_len;
        bool staging;
        /* parent directory cache (least recently used goes first) */
        struct layer_unpack_dirfd cache[LAYER_UNPACK_DIRFDS];
        uint64_t cache_clock;
        int cache_last; /* slot of the last hit: never evicted by the next lookup */
        bool cache_stale;
        /* directories whose times are set at the end */
        struct layer_unpack_dirtime *dirs;
        size_t n_dirs, cap_dirs;
        /* docker's size of the layer: regular file bytes and symlink target lengths */
        uint64_t unpacked_size;
        /* Plain mode (image/untar.h, set after layer_unpack_init): docker's Untar
         * into a destination below the root instead of a layer apply.  Names are
         * taken as they are (".wh." is no whiteout), every entry lands below
         * prefix, and refusals use docker's words with dest_name. */
        bool plain;
        const char *prefix;    /* below root_fd, cleaned, "" for the root (not owned) */
        const char *dest_name; /* the destination as messages show it (not owned) */
        bool clamp_dotdot;     /* ".." stops at the root (dest_name "/"), as Go's Join */
        bool no_overwrite_dir_nondir;
        bool keep_owner; /* never chown: new inodes stay ours (docker's NoLchown) */
        bool root_kfs;   /* root_fd is on a kernel filesystem */
};

extern const struct tar_ops layer_unpack_ops;

void layer_unpack_init(struct layer_unpack *u, int root_fd, size_t max_path);
/* On the thread that feeds the tar, before the first entry: gives that thread
 * a umask of its own (unshare CLONE_FS) set to 0, so new inodes get their
 * final mode at creation and most fchmod calls are skipped.  Without it (or
 * on another thread) every mode is set with fchmod as before. */
void layer_unpack_thread_init(struct layer_unpack *u);
/* Closes the open file and cached fds, frees the lists (root_fd stays). */
void layer_unpack_release(struct layer_unpack *u);
/* After the last entry: directory times. */
int layer_unpack_finish(struct layer_unpack *u, struct berth_error **err);
/* rm -rf of dirfd/name without following symlinks. */
int layer_unpack_rm_rf_at(int dirfd, const char *name);

#endif
