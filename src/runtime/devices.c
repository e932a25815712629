/*
 * devices.c — the container's /dev: the standard character devices (null,
 * zero, full, random, urandom, tty), the /dev/ptmx, /dev/fd, stdin/stdout/
 * stderr and /dev/core symlinks, and linux.devices from config.json.
 *
 * How: every node is made with mknodat() relative to an fd of its parent
 * directory resolved inside the rootfs (root_mkdir_p), then chowned by fd.
 * In a new user namespace mknod is not allowed, so an empty file is created
 * instead and the host's node bind-mounted on it, as runc does.  When /dev
 * is a bind mount from the host (not the usual tmpfs), nothing is created.
 *
 * Never: resolve a device path by string, or follow a symlink out of /dev.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/fileio.h"
#include "runtime/runtime-internal.h"

static const struct {
        const char *path;
        unsigned major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static int make_node(struct rt_init *ri, int rootfd, const char *path, mode_t type, dev_t dev,
                     mode_t perm, uid_t uid, gid_t gid, struct berth_error **err)
{
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        const char *name = slash ? slash + 1 : dir;
        if (slash)
                *slash = '\0';
        _cleanup_close_ int dfd = root_mkdir_p(rootfd, slash && *dir ? dir : "/", 0755, err);
        if (dfd < 0)
                return dfd;
        if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
                return berth_error_set(err, EINVAL, "device '%s': bad path", path);
        /* O_PATH dirfds cannot be used for mknodat/fchownat: reopen for real */
        char p[40];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", dfd);
        _cleanup_close_ int dirfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return berth_error_sys(err, errno, "device '%s': open parent", path);
        if (ri->in_userns) {
                int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd < 0)
                        return berth_error_sys(err, errno, "device '%s': create", path);
                char target[40];
                snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
                int r = 0;
                if (mount(path, target, NULL, MS_BIND, NULL) < 0)
                        r = berth_error_sys(err, errno, "device '%s': bind from host", path);
                close(fd);
                return r;
        }
        (void)unlinkat(dirfd, name, 0);
        if (mknodat(dirfd, name, type | (perm & 07777), dev) < 0)
                return berth_error_sys(err, errno, "device '%s': mknod", path);
        if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "device '%s': chown", path);
        return 0;
}

static bool dev_is_bind(const struct oci_spec *s)
{
        for (size_t i = 0; i < s->n_mounts; i++) {
                const struct oci_mount *m = &s->mounts[i];
                if (strcmp(m->destination, "/dev"))
                        continue;
                if (m->type && !strcmp(m->type, "bind"))
                        return true;
                for (size_t k = 0; m->options && m->options[k]; k++)
                        if (!strcmp(m->options[k], "bind") || !strcmp(m->options[k], "rbind"))
                                return true;
        }
        return false;
}

int devices_setup(struct rt_init *ri, int rootfd, struct berth_error **err)
{
        const struct oci_spec *s = ri->spec;
        int r;
        if (!dev_is_bind(s)) {
                for (size_t i = 0; i < ELEMENTSOF(default_devices); i++) {
                        r = make_node(ri, rootfd, default_devices[i].path, S_IFCHR,
                                      makedev(default_devices[i].major, default_devices[i].minor),
                                      0666, 0, 0, err);
                        if (r < 0)
                                return r;
                }
                static const char *const links[][2] = {
                    {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"},
                    {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                    {"pts/ptmx", "ptmx"},
                };
                _cleanup_close_ int dfd = root_mkdir_p(rootfd, "/dev", 0755, err);
                if (dfd < 0)
                        return dfd;
                char p[40];
                snprintf(p, sizeof(p), "/proc/self/fd/%d", dfd);
                _cleanup_close_ int dirfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dirfd < 0)
                        return berth_error_sys(err, errno, "open /dev in rootfs");
                for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                        /* a ptmx node (or anything) already there is replaced by the link */
                        if (!strcmp(links[i][1], "ptmx"))
                                (void)unlinkat(dirfd, "ptmx", 0);
                        if (symlinkat(links[i][0], dirfd, links[i][1]) < 0 && errno != EEXIST)
                                return berth_error_sys(err, errno, "symlink /dev/%s", links[i][1]);
                }
                if (access("/proc/kcore", F_OK) == 0)
                        (void)symlinkat("/proc/kcore", dirfd, "core");
        }
        const struct oci_linux *l = s->linux_;
        for (size_t i = 0; l && i < l->n_devices; i++) {
                const struct oci_device *d = &l->devices[i];
                mode_t type;
                switch (d->type) {
                case 'c':
                case 'u':
                        type = S_IFCHR;
                        break;
                case 'b':
                        type = S_IFBLK;
                        break;
                case 'p':
                        type = S_IFIFO;
                        break;
                default:
                        return berth_error_set(err, EINVAL, "device '%s': unknown type '%c'",
                                               d->path, d->type);
                }
                r = make_node(ri, rootfd, d->path, type,
                              makedev((unsigned)d->major, (unsigned)d->minor),
                              d->has_file_mode ? d->file_mode : 0666, d->has_uid ? d->uid : 0,
                              d->has_gid ? d->gid : 0, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
