/*
 * snapshot.h — a container's root filesystem: an overlay of the image's
 * unpacked layers (read-only lower dirs, <data-root>/layers/<chain-id>) under
 * a writable upper dir of its own (<data-root>/containers/<id>/upper, with
 * work/ beside it), mounted at containers/<id>/rootfs or a target of the
 * caller's choosing.
 *
 * Layers are given bottom first, as an image's rootfs.diff_ids are, by chain
 * id.  Mounting uses the new mount API with one "lowerdir+" per layer (Linux
 * 6.8+), which has no length limit, and falls back to mount(2) with a
 * "lowerdir=top:…:bottom" option string (limited to one page) on older
 * kernels.
 *
 * Never: mount a layer that is not fully unpacked (only final layer dirs, never
 * *.tmp, can be named), or remove a container's directory while its overlay is
 * still mounted.
 */
#ifndef BERTH_IMAGE_SNAPSHOT_H
#define BERTH_IMAGE_SNAPSHOT_H

#include <stddef.h>

#include "base/error.h"

/* "lowerdir" value, top layer first: "<root>/layers/<top>:…:<root>/layers/<bottom>". */
int snapshot_lowerdir(const char *data_root, const char *const *chain_ids, size_t n, char **ret,
                      struct berth_error **err);
/* Creates containers/<id>/{upper,work,rootfs} and mounts the overlay at target
 * (NULL: containers/<id>/rootfs).  An image has at least one layer: n == 0 is
 * -EINVAL. */
int snapshot_mount(const char *data_root, const char *container_id, const char *const *chain_ids,
                   size_t n, const char *target, struct berth_error **err);
/* The overlay containers/<id>/rootfs would have, as a mount in no mount tree: an fd on its
 * root (closing it ends the overlay), so that a kill leaves no mount behind.  Creates the
 * dirs as snapshot_mount does.  Returns the fd or a negative errno. */
int snapshot_open(const char *data_root, const char *container_id, const char *const *chain_ids,
                  size_t n, struct berth_error **err);
/* Unmounts containers/<id>/rootfs (or target); not mounted is fine. */
int snapshot_unmount(const char *data_root, const char *container_id, const char *target,
                     struct berth_error **err);
/* Detaches the overlay at containers/<id>/rootfs from the mount tree while
 * *ret_hold (an O_PATH fd; -1 when nothing was mounted there) keeps it alive.
 * The overlay's end syncs its whole upper filesystem (ovl_sync_fs: 2 ms here
 * each time, far more on a busy disk); it comes where the caller closes the
 * fd.  Until then the upper and work dirs are that overlay's: no new one. */
int snapshot_detach(const char *data_root, const char *container_id, int *ret_hold,
                    struct berth_error **err);
/* Unmounts and removes containers/<id>/{upper,work,rootfs}. */
int snapshot_remove(const char *data_root, const char *container_id, struct berth_error **err);
/* containers/<id>/<what> ("upper", "work", "rootfs"); caller frees. */
char *snapshot_path(const char *data_root, const char *container_id, const char *what);

#endif
