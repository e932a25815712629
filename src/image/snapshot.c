/*
 * snapshot.c — overlay mounts for containers (see snapshot.h).
 *
 * The container id is checked to be a plain name (no '/', not "." or "..")
 * before it becomes part of a path; chain ids must be sha256 digests.  Every
 * lower layer must exist as a directory before anything is mounted.
 *
 * Never: mount over a path that is not the container's own rootfs unless the
 * caller named it, or leave a half-configured mount behind on error.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "image/layer.h"
#include "image/snapshot.h"
#include "image/store.h"

static int check_id(const char *id, struct berth_error **err)
{
        if (!id || !*id || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 ||
            strlen(id) > 128)
                return berth_error_set(err, EINVAL, "container id '%s': invalid", id ? id : "");
        return 0;
}

char *snapshot_path(const char *data_root, const char *container_id, const char *what)
{
        return xasprintf("%s/containers/%s/%s", data_root, container_id, what);
}

static int check_layers(const char *data_root, const char *const *ids, size_t n,
                        struct berth_error **err)
{
        if (n == 0)
                return berth_error_set(err, EINVAL, "snapshot: an image needs at least one layer");
        for (size_t i = 0; i < n; i++) {
                int r = blob_digest_check(ids[i], err);
                if (r < 0)
                        return berth_error_prefix(err, "snapshot: layer");
                if (!layer_exists(data_root, ids[i]))
                        return berth_error_set(err, ENOENT, "snapshot: layer %s: not found",
                                               ids[i]);
        }
        return 0;
}

int snapshot_lowerdir(const char *data_root, const char *const *chain_ids, size_t n, char **ret,
                      struct berth_error **err)
{
        int r = check_layers(data_root, chain_ids, n, err);
        if (r < 0)
                return r;
        struct berth_buf b = BERTH_BUF_INIT;
        for (size_t i = n; i-- > 0;) {
                _cleanup_free_ char *p = layer_path(data_root, chain_ids[i]);
                if (b.len)
                        buf_putc(&b, ':');
                buf_puts(&b, p);
        }
        *ret = buf_steal(&b);
        return 0;
}

/*
 * New mount API: one lowerdir+ per layer, top first. -ENOSYS/-EINVAL: fall back.
 * Before 6.5 overlay parses its options the legacy way: fsconfig() only
 * collects "lowerdir+=…" into a string and the kernel refuses it at
 * FSCONFIG_CMD_CREATE, so EINVAL there means "no lowerdir+" too (a real
 * problem with the dirs is then reported by the mount(2) fallback).
 */
/* The overlay as a detached mount (fsmount's fd), in no mount tree; -EINVAL or -ENOSYS with
 * nothing in *err where this kernel lacks lowerdir+ or the new mount API. */
static int overlay_fsmount(const char *data_root, const char *const *ids, size_t n,
                           const char *upper, const char *work, const char *what,
                           struct berth_error **err)
{
        _cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0) {
                if (errno == ENOSYS)
                        return -ENOSYS;
                return berth_error_sys(err, errno, "snapshot: overlay for '%s'", what);
        }
        for (size_t i = n; i-- > 0;) {
                _cleanup_free_ char *p = layer_path(data_root, ids[i]);
                if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", p, 0) < 0)
                        return -EINVAL; /* 6.5 to 6.7: the new parser, without lowerdir+ */
        }
        if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
                return berth_error_sys(err, errno, "snapshot: create overlay for '%s'", what);
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                if (errno == EINVAL)
                        return -EINVAL; /* before 6.5: the legacy parser refused lowerdir+ */
                return berth_error_sys(err, errno, "snapshot: create overlay for '%s'", what);
        }
        int m = fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (m < 0)
                return berth_error_sys(err, errno, "snapshot: overlay for '%s'", what);
        return m;
}

static int mount_fsconfig(const char *data_root, const char *const *ids, size_t n,
                          const char *upper, const char *work, const char *target,
                          struct berth_error **err)
{
        _cleanup_close_ int m = overlay_fsmount(data_root, ids, n, upper, work, target, err);
        if (m < 0)
                return m;
        if (move_mount(m, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return berth_error_sys(err, errno, "snapshot: mount overlay on '%s'", target);
        return 0;
}

static int mount_legacy(const char *data_root, const char *const *ids, size_t n, const char *upper,
                        const char *work, const char *target, struct berth_error **err)
{
        _cleanup_free_ char *lower = NULL;
        int r = snapshot_lowerdir(data_root, ids, n, &lower, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *opts =
            xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        if (strlen(opts) >= 4096)
                return berth_error_set(err, E2BIG,
                                       "snapshot: %zu layers make overlay options longer than a "
                                       "page on this kernel (needs Linux 6.8 for more)",
                                       n);
        if (mount("overlay", target, "overlay", 0, opts) < 0)
                return berth_error_sys(err, errno, "snapshot: mount overlay on '%s'", target);
        return 0;
}

/* The checks and the dirs a container's overlay needs: its upper, work and rootfs paths. */
static int prepare(const char *data_root, const char *container_id, const char *const *chain_ids,
                   size_t n, char **ret_upper, char **ret_work, char **ret_rootfs,
                   struct berth_error **err)
{
        int r = check_id(container_id, err);
        if (r < 0)
                return r;
        r = check_layers(data_root, chain_ids, n, err);
        if (r < 0)
                return r;
        char *dirs[] = {snapshot_path(data_root, container_id, "upper"),
                        snapshot_path(data_root, container_id, "work"),
                        snapshot_path(data_root, container_id, "rootfs")};
        for (size_t i = 0; i < ELEMENTSOF(dirs) && r == 0; i++) {
                r = mkdir_p(dirs[i], 0755);
                if (r < 0)
                        r = berth_error_sys(err, r, "snapshot: create '%s'", dirs[i]);
        }
        if (r < 0) {
                for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                        free(dirs[i]);
                return r;
        }
        *ret_upper = dirs[0];
        *ret_work = dirs[1];
        *ret_rootfs = dirs[2];
        return 0;
}

int snapshot_mount(const char *data_root, const char *container_id, const char *const *chain_ids,
                   size_t n, const char *target, struct berth_error **err)
{
        _cleanup_free_ char *upper = NULL, *work = NULL, *rootfs = NULL;
        int r = prepare(data_root, container_id, chain_ids, n, &upper, &work, &rootfs, err);
        if (r < 0)
                return r;
        const char *where = target ? target : rootfs;
        /* once mount(2) served where lowerdir+ did not, go straight to it: an
         * old kernel logs "unrecognized mount option" for every refused try */
        static _Atomic bool legacy_only = false;
        r = legacy_only ? -EINVAL
                        : mount_fsconfig(data_root, chain_ids, n, upper, work, where, err);
        if (r == -EINVAL || r == -ENOSYS) {
                if (err && *err) /* a real failure, not a missing feature */
                        return r;
                r = mount_legacy(data_root, chain_ids, n, upper, work, where, err);
                if (r == 0)
                        legacy_only = true;
        }
        return r;
}

int snapshot_open(const char *data_root, const char *container_id, const char *const *chain_ids,
                  size_t n, struct berth_error **err)
{
        _cleanup_free_ char *upper = NULL, *work = NULL, *rootfs = NULL;
        int r = prepare(data_root, container_id, chain_ids, n, &upper, &work, &rootfs, err);
        if (r < 0)
                return r;
        r = overlay_fsmount(data_root, chain_ids, n, upper, work, rootfs, err);
        if (r >= 0 || (err && *err))
                return r;
        /* no detached mounts here: mounted at rootfs, opened, and let go of at once (a
         * kill in between leaves the mount for the next start to find) */
        r = mount_legacy(data_root, chain_ids, n, upper, work, rootfs, err);
        if (r < 0)
                return r;
        int fd = open(rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        (void)umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW);
        if (fd < 0)
                return berth_error_sys(err, e, "snapshot: open '%s'", rootfs);
        return fd;
}

int snapshot_unmount(const char *data_root, const char *container_id, const char *target,
                     struct berth_error **err)
{
        int r = check_id(container_id, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *rootfs = snapshot_path(data_root, container_id, "rootfs");
        const char *where = target ? target : rootfs;
        if (umount2(where, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                return berth_error_sys(err, errno, "snapshot: unmount '%s'", where);
        return 0;
}

int snapshot_detach(const char *data_root, const char *container_id, int *ret_hold,
                    struct berth_error **err)
{
        *ret_hold = -1;
        int r = check_id(container_id, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *rootfs = snapshot_path(data_root, container_id, "rootfs");
        int fd = open(rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0
                                       : berth_error_sys(err, errno, "snapshot: open '%s'", rootfs);
        if (umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
                *ret_hold = fd;
                return 0;
        }
        int e = errno;
        close(fd);
        if (e == EINVAL) /* not a mount point: nothing was mounted */
                return 0;
        return berth_error_sys(err, e, "snapshot: unmount '%s'", rootfs);
}

int snapshot_remove(const char *data_root, const char *container_id, struct berth_error **err)
{
        int r = snapshot_unmount(data_root, container_id, NULL, err);
        if (r < 0)
                return r;
        static const char *const what[] = {"rootfs", "work", "upper"};
        for (size_t i = 0; i < ELEMENTSOF(what); i++) {
                _cleanup_free_ char *p = snapshot_path(data_root, container_id, what[i]);
                r = rm_rf(p);
                if (r < 0)
                        return berth_error_sys(err, r, "snapshot: remove '%s'", p);
        }
        return 0;
}
