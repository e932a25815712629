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

struct layer_unpack {
        int root_fd; /* the layer directory (not owned) */
        size_t max_path;
        /* the regular file being written */
        int cur_fd;
        char *cur_name;
        uint64_t cur_uid, cur_gid;
        mode_t cur_mode;
        struct timespec cur_ts[2];
        struct layer_unpack_xattr *cur_xattrs;
        size_t n_cur_xattrs;
        /* parent directory cache */
        char *cache_path;
        int cache_fd;
        bool cache_stale;
        /* directories whose times are set at the end */
        struct layer_unpack_dirtime *dirs;
        size_t n_dirs, cap_dirs;
};

extern const struct tar_ops layer_unpack_ops;

void layer_unpack_init(struct layer_unpack *u, int root_fd, size_t max_path);
/* Closes the open file and cached fds, frees the lists (root_fd stays). */
void layer_unpack_release(struct layer_unpack *u);
/* After the last entry: directory times. */
int layer_unpack_finish(struct layer_unpack *u, struct berth_error **err);
/* rm -rf of dirfd/name without following symlinks. */
int layer_unpack_rm_rf_at(int dirfd, const char *name);

#endif
