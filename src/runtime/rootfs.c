/*
 * rootfs.c — the container's filesystem view, built by the init child inside
 * its own mount namespace: propagation, the rootfs bind, config.json mounts
 * (bind/rbind with flags and propagation, tmpfs, proc, sysfs, mqueue, devpts,
 * cgroup, overlay, anything else the kernel knows), masked and read-only
 * paths, pivot_root (or MS_MOVE + chroot with --no-pivot), read-only root.
 *
 * How: every target inside the rootfs is opened with open_in_root()
 * (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and mounted on through
 * "/proc/self/fd/N" of the host's /proc (still ours before pivot_root), so a
 * symlink planted in the rootfs — or swapped in between two steps — can only
 * ever point inside the rootfs (CVE-2021-30465).  Missing targets are created
 * one component at a time relative to an fd.  A rootfs whose /proc or /dev
 * is a symlink is refused.  Masked files are covered by the host's /dev/null,
 * opened in the child's own mount namespace and verified to be the character
 * device 1:3 (CVE-2025-31133), never by the container's /dev/null.
 * Idmapped binds are detached trees the parent made (open_tree +
 * MOUNT_ATTR_IDMAP with a throwaway user namespace), attached by fd with
 * move_mount(); recursive attributes (rro, rnosuid, …) use mount_setattr().
 *
 * Never: resolve a container path as a plain string before pivot_root;
 * mount anything outside the rootfs (without a mount namespace of its own,
 * a container's mounts live under its rootfs and delete detaches them).
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "base/buf.h"
#include "base/linux-compat.h"
#include "base/fileio.h"
#include "runtime/runtime-internal.h"

#define FD_PATH_MAX 40

static void fd_path(char buf[FD_PATH_MAX], int fd)
{
        snprintf(buf, FD_PATH_MAX, "/proc/self/fd/%d", fd);
}

static int mkdir_p_depth(int rootfd, const char *path, mode_t mode, unsigned depth,
                         struct berth_error **err)
{
        if (depth > 40)
                return berth_error_sys(err, ELOOP, "resolve '%s' in rootfs", path);
        _cleanup_free_ char *p = xstrdup(path);
        size_t len = strlen(p);
        for (size_t i = 0; i <= len; i++) {
                if ((p[i] != '/' && p[i] != '\0') || i == 0)
                        continue;
                char saved = p[i];
                p[i] = '\0';
                int fd = open_in_root(rootfd, p, O_PATH | O_DIRECTORY, 0);
                if (fd == -ENOENT) {
                        char *slash = strrchr(p, '/');
                        const char *name = slash ? slash + 1 : p;
                        int pfd;
                        if (slash && slash != p) {
                                *slash = '\0';
                                pfd = open_in_root(rootfd, p, O_PATH | O_DIRECTORY, 0);
                                *slash = '/';
                        } else {
                                pfd = open_in_root(rootfd, "/", O_PATH | O_DIRECTORY, 0);
                        }
                        if (pfd < 0)
                                return berth_error_sys(err, -pfd, "resolve '%s' in rootfs", p);
                        if (*name && strcmp(name, ".") && strcmp(name, "..") &&
                            mkdirat(pfd, name, mode) < 0 && errno != EEXIST) {
                                int e = errno;
                                close(pfd);
                                return berth_error_sys(err, e, "mkdir '%s' in rootfs", p);
                        }
                        /* a dangling symlink: make its target, resolved inside the root */
                        char target[PATH_MAX];
                        ssize_t tl = readlinkat(pfd, name, target, sizeof(target) - 1);
                        close(pfd);
                        if (tl > 0) {
                                target[tl] = '\0';
                                if (slash)
                                        *slash = '\0';
                                _cleanup_free_ char *next =
                                    xasprintf("%s%s%s%s%s", target[0] == '/' ? "" : p,
                                              target[0] == '/' ? "" : "/", target, saved ? "/" : "",
                                              saved ? p + i + 1 : "");
                                return mkdir_p_depth(rootfd, next, mode, depth + 1, err);
                        }
                        fd = open_in_root(rootfd, p, O_PATH | O_DIRECTORY, 0);
                }
                if (fd < 0)
                        return berth_error_sys(err, -fd, "resolve '%s' in rootfs", p);
                p[i] = saved;
                if (saved == '\0')
                        return fd;
                close(fd);
        }
        return open_in_root(rootfd, "/", O_PATH | O_DIRECTORY, 0);
}

/* The common cases in one or two lookups: path is there, or only its last
 * component is missing.  Returns the fd, or -1 for the component walk (which
 * also follows a dangling symlink to make its target). */
static int mkdir_p_quick(int rootfd, const char *path, mode_t mode)
{
        int fd = open_in_root(rootfd, path, O_PATH | O_DIRECTORY, 0);
        if (fd >= 0 || fd != -ENOENT)
                return fd >= 0 ? fd : -1;
        _cleanup_free_ char *parent = xstrdup(path);
        char *slash = strrchr(parent, '/');
        if (!slash || slash == parent || !slash[1])
                return -1;
        *slash = '\0';
        const char *name = slash + 1;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -1;
        _cleanup_close_ int pfd = open_in_root(rootfd, parent, O_PATH | O_DIRECTORY, 0);
        /* made here, it is a directory and no symlink: one component, not followed */
        if (pfd < 0 || mkdirat(pfd, name, mode) < 0)
                return -1;
        fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd >= 0 ? fd : -1;
}

int root_mkdir_p(int rootfd, const char *path, mode_t mode, struct berth_error **err)
{
        int fd = mkdir_p_quick(rootfd, path, mode);
        if (fd >= 0)
                return fd;
        return mkdir_p_depth(rootfd, path, mode, 0, err);
}

/* Open (creating when missing) a mount target inside root: a directory, or an
 * empty regular file when dir is false.  Returns an O_PATH fd. */
int root_open_target(int rootfd, const char *path, bool dir, struct berth_error **err)
{
        if (dir)
                return root_mkdir_p(rootfd, path, 0755, err);
        int fd = open_in_root(rootfd, path, O_PATH, 0);
        if (fd >= 0)
                return fd;
        if (fd != -ENOENT)
                return berth_error_sys(err, -fd, "resolve '%s' in rootfs", path);
        _cleanup_free_ char *parent = xstrdup(path);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
                *slash = '\0';
                int pfd = root_mkdir_p(rootfd, parent, 0755, err);
                if (pfd < 0)
                        return pfd;
                close(pfd);
        }
        fd = open_in_root(rootfd, path, O_WRONLY | O_CREAT | O_NOCTTY, 0644);
        if (fd < 0)
                return berth_error_sys(err, -fd, "create '%s' in rootfs", path);
        close(fd);
        fd = open_in_root(rootfd, path, O_PATH, 0);
        if (fd < 0)
                return berth_error_sys(err, -fd, "resolve '%s' in rootfs", path);
        return fd;
}

struct mount_opts {
        unsigned long flags, clear, prop;
        bool bind, rec_bind;
        uint64_t rattr_set, rattr_clr; /* rro, rnosuid, …: mount_setattr(AT_RECURSIVE) */
        char *data;
};

static const struct {
        const char *name;
        bool clear;
        uint64_t attr;
} rattr_table[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
};

static const struct {
        const char *name;
        bool clear;
        unsigned long flag;
} mount_flag_table[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
};

static const struct {
        const char *name;
        unsigned long flag;
} prop_table[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

static int parse_mount_opts(char *const *opts, struct mount_opts *m, struct berth_error **err)
{
        memset(m, 0, sizeof(*m));
        struct berth_buf data = BERTH_BUF_INIT;
        for (size_t i = 0; opts && opts[i]; i++) {
                const char *o = opts[i];
                bool done = false;
                for (size_t k = 0; k < ELEMENTSOF(mount_flag_table) && !done; k++)
                        if (!strcmp(o, mount_flag_table[k].name)) {
                                if (mount_flag_table[k].clear) {
                                        m->flags &= ~mount_flag_table[k].flag;
                                        m->clear |= mount_flag_table[k].flag;
                                } else {
                                        m->flags |= mount_flag_table[k].flag;
                                        m->clear &= ~mount_flag_table[k].flag;
                                }
                                done = true;
                        }
                for (size_t k = 0; k < ELEMENTSOF(prop_table) && !done; k++)
                        if (!strcmp(o, prop_table[k].name)) {
                                m->prop = prop_table[k].flag;
                                done = true;
                        }
                if (done)
                        continue;
                if (!strcmp(o, "bind")) {
                        m->bind = true;
                } else if (!strcmp(o, "rbind")) {
                        m->bind = m->rec_bind = true;
                } else if (!strcmp(o, "tmpcopyup") || !strcmp(o, "defaults")) {
                        /* accepted; tmpcopyup only matters for image volumes we never see */
                } else if (!strcmp(o, "idmap") || !strcmp(o, "ridmap")) {
                        /* the parent made an idmapped tree (rootfs_idmap_prepare) */
                } else {
                        bool rattr = false;
                        for (size_t k = 0; k < ELEMENTSOF(rattr_table); k++)
                                if (!strcmp(o, rattr_table[k].name)) {
                                        if (rattr_table[k].clear)
                                                m->rattr_clr |= rattr_table[k].attr;
                                        else
                                                m->rattr_set |= rattr_table[k].attr;
                                        rattr = true;
                                }
                        if (rattr)
                                continue;
                        if (data.len)
                                buf_putc(&data, ',');
                        buf_puts(&data, o);
                }
        }
        m->data = data.len ? buf_steal(&data) : NULL;
        buf_release(&data);
        return 0;
}

/* Flags a bind remount must keep: the kernel refuses to clear them on a mount
 * locked by a less privileged user namespace. */
static unsigned long locked_flags(int fd)
{
        struct statvfs sv;
        if (fstatvfs(fd, &sv) < 0)
                return 0;
        unsigned long f = 0;
        if (sv.f_flag & ST_NOSUID)
                f |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV)
                f |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
                f |= MS_NOEXEC;
        return f;
}

/* Remount the mount now on top of path (inside root) with flags; re-resolved by fd. */
static int remount_at(int rootfd, const char *path, unsigned long flags, struct berth_error **err)
{
        int fd = open_in_root(rootfd, path, O_PATH, 0);
        if (fd < 0)
                return berth_error_sys(err, -fd, "resolve '%s' in rootfs", path);
        char p[FD_PATH_MAX];
        fd_path(p, fd);
        int r = 0;
        if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0) {
                unsigned long lf = locked_flags(fd);
                if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | flags | lf, NULL) < 0)
                        r = berth_error_sys(err, errno, "remount '%s'", path);
        }
        close(fd);
        return r;
}

static int set_propagation(int rootfd, const char *path, unsigned long prop,
                           struct berth_error **err)
{
        if (!prop)
                return 0;
        int fd = open_in_root(rootfd, path, O_PATH, 0);
        if (fd < 0)
                return berth_error_sys(err, -fd, "resolve '%s' in rootfs", path);
        char p[FD_PATH_MAX];
        fd_path(p, fd);
        int r = 0;
        if (mount(NULL, p, NULL, prop, NULL) < 0)
                r = berth_error_sys(err, errno, "set propagation of '%s'", path);
        close(fd);
        return r;
}

static int set_rattr(int rootfd, const char *path, const struct mount_opts *mo,
                     struct berth_error **err)
{
        if (!mo->rattr_set && !mo->rattr_clr)
                return 0;
        int fd = open_in_root(rootfd, path, O_PATH, 0);
        if (fd < 0)
                return berth_error_sys(err, -fd, "resolve '%s' in rootfs", path);
        struct mount_attr a = {.attr_set = mo->rattr_set, .attr_clr = mo->rattr_clr};
        int r = 0;
        if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
                r = berth_error_sys(err, errno, "set recursive attributes of '%s'", path);
        close(fd);
        return r;
}

static int bind_mount(int rootfd, const char *src, const char *dest, const struct mount_opts *mo,
                      struct berth_error **err)
{
        struct stat st;
        if (stat(src, &st) < 0)
                return berth_error_sys(err, errno, "bind source '%s'", src);
        int fd = root_open_target(rootfd, dest, S_ISDIR(st.st_mode), err);
        if (fd < 0)
                return fd;
        char p[FD_PATH_MAX];
        fd_path(p, fd);
        unsigned long f = MS_BIND | (mo->rec_bind ? MS_REC : 0);
        int r = 0;
        if (mount(src, p, NULL, f, NULL) < 0)
                r = berth_error_sys(err, errno, "bind '%s' on '%s'", src, dest);
        close(fd);
        if (r < 0)
                return r;
        unsigned long extra = mo->flags & ~(MS_REMOUNT | MS_BIND | MS_REC);
        if (extra) {
                r = remount_at(rootfd, dest, extra | (mo->rec_bind ? MS_REC : 0), err);
                if (r < 0)
                        return r;
        }
        r = set_rattr(rootfd, dest, mo, err);
        if (r < 0)
                return r;
        return set_propagation(rootfd, dest, mo->prop, err);
}

/* Whether the container has a cgroup namespace of its own (new or joined). */
static bool own_cgroupns(const struct rt_init *ri)
{
        const struct oci_linux *l = ri->spec->linux_;
        for (size_t i = 0; l && i < l->n_namespaces; i++)
                if (l->namespaces[i].type == OCI_NS_CGROUP)
                        return true;
        return false;
}

/* A v1 hierarchy's mount data for a fresh mount of it: its controllers and
 * name= from the superblock options ("rw,xattr,name=systemd" -> "none,name=systemd").
 * The kernel gives a second mount of an existing hierarchy only when the set
 * matches exactly, and reads "no controller named" as "every controller". */
static char *v1_mount_data(const char *super)
{
        static const char *const known[] = {
            "cpuset",     "cpu",      "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls",
            "perf_event", "net_prio", "hugetlb", "pids",  "rdma",   "misc",    "debug",
        };
        struct berth_buf b = BERTH_BUF_INIT;
        _cleanup_free_ char *copy = xstrdup(super);
        bool any = false, named = false;
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                bool keep = strncmp(t, "name=", 5) == 0;
                named = named || keep;
                for (size_t k = 0; !keep && k < ELEMENTSOF(known); k++)
                        keep = strcmp(t, known[k]) == 0;
                if (!keep)
                        continue;
                any = any || strncmp(t, "name=", 5) != 0;
                if (b.len)
                        buf_putc(&b, ',');
                buf_puts(&b, t);
        }
        if (!any && named) {
                _cleanup_free_ char *names = buf_steal(&b);
                return xasprintf("none,%s", names);
        }
        return buf_steal(&b);
}

/* A fresh cgroup (v1, data = its controllers) or cgroup2 (data NULL) mount:
 * in a cgroup namespace the kernel roots it at the namespace's root. */
static int mount_cgroupfs(int rootfd, const char *dest, const char *data, unsigned long flags,
                          struct berth_error **err)
{
        int fd = root_open_target(rootfd, dest, true, err);
        if (fd < 0)
                return fd;
        char p[FD_PATH_MAX];
        fd_path(p, fd);
        const char *type = data ? "cgroup" : "cgroup2";
        int r = 0;
        if (mount(type, p, type, flags, data) < 0)
                r = berth_error_sys(err, errno, "mount %s%s%s on '%s'", type, data ? " " : "",
                                    data ? data : "", dest);
        close(fd);
        return r;
}

/* This process's cgroup in one hierarchy, from /proc/self/cgroup's text:
 * the "0::/path" line for cgroup2, else the line naming the controllers the
 * mount point is named after ("cpu,cpuacct", "systemd" for name=systemd). */
static const char *self_cgroup(const char *self, bool v2, const char *name, size_t *ret_len)
{
        for (const char *l = self; l && *l;) {
                const char *nl = strchr(l, '\n');
                const char *end = nl ? nl : l + strlen(l);
                const char *c1 = memchr(l, ':', (size_t)(end - l));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
                if (c2) {
                        size_t wl = (size_t)(c2 - c1 - 1);
                        bool match =
                            v2 ? wl == 0 && l[0] == '0'
                               : (strlen(name) == wl && !strncmp(c1 + 1, name, wl)) ||
                                     (!strcmp(name, "systemd") && wl == strlen("name=systemd") &&
                                      !strncmp(c1 + 1, "name=systemd", wl));
                        if (match) {
                                *ret_len = (size_t)(end - c2 - 1);
                                return c2 + 1;
                        }
                }
                l = nl ? nl + 1 : NULL;
        }
        return NULL;
}

/*
 * linux "cgroup" mount, as runc makes it.  Pure v2: the cgroup2 fs at dest,
 * mounted afresh, which the kernel roots at the cgroup namespace's root (the
 * container's own cgroup with a namespace of its own; the whole tree, as with
 * dockerd, without).  v1 and hybrid: a tmpfs holding one mount per hierarchy
 * (co-mounted ones also under each controller's name, as symlinks): fresh
 * ones with a cgroup namespace of its own, else a bind of the container's own
 * directory in each, found from /proc/self/cgroup.  Never that bind inside a
 * cgroup namespace: there /proc/self/cgroup says "/", the host's root cgroup.
 */
static int mount_cgroup(struct rt_init *ri, int rootfd, const char *dest,
                        const struct mount_opts *mo, struct berth_error **err)
{
        _cleanup_free_ char *self = NULL;
        int r = read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16, &self, NULL);
        if (r < 0)
                return berth_error_sys(err, -r, "read /proc/self/cgroup");
        _cleanup_fclose_ FILE *mi = fopen("/proc/self/mountinfo", "re");
        if (!mi)
                return berth_error_sys(err, errno, "read /proc/self/mountinfo");
        int fd = root_open_target(rootfd, dest, true, err);
        if (fd < 0)
                return fd;
        char p[FD_PATH_MAX];
        fd_path(p, fd);
        bool pure_v2 = false, fresh = own_cgroupns(ri);
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        struct {
                char *mnt, *ctrls;
                bool v2;
        } hier[32];
        size_t nh = 0;
        while (getline(&line, &cap, mi) > 0 && nh < ELEMENTSOF(hier)) {
                char *sep = strstr(line, " - ");
                if (!sep)
                        continue;
                char fstype[32], mnt[PATH_MAX], src[64], super[512];
                char *f[10];
                char *save = NULL, *tok = strtok_r(line, " ", &save);
                int nf = 0;
                for (; tok && nf < 5; tok = strtok_r(NULL, " ", &save))
                        f[nf++] = tok;
                if (nf < 5 || sscanf(sep + 3, "%31s %63s %511s", fstype, src, super) != 3)
                        continue;
                snprintf(mnt, sizeof(mnt), "%s", f[4]);
                if (strncmp(mnt, "/sys/fs/cgroup", 14))
                        continue;
                bool v2 = !strcmp(fstype, "cgroup2");
                if (!v2 && strcmp(fstype, "cgroup"))
                        continue;
                if (v2 && !strcmp(mnt, "/sys/fs/cgroup"))
                        pure_v2 = true;
                hier[nh].mnt = xstrdup(mnt);
                hier[nh].ctrls = xstrdup(super);
                hier[nh].v2 = v2;
                nh++;
        }
        r = 0;
        unsigned long ro = mo->flags & MS_RDONLY;
        unsigned long base = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (!pure_v2 && mount("tmpfs", p, "tmpfs", base, "mode=755") < 0)
                r = berth_error_sys(err, errno, "mount tmpfs on '%s'", dest);
        close(fd);
        for (size_t i = 0; i < nh && r == 0; i++) {
                const char *name = strrchr(hier[i].mnt, '/') + 1;
                _cleanup_free_ char *sub = pure_v2 ? xstrdup(dest) : xasprintf("%s/%s", dest, name);
                bool bind = !fresh && !pure_v2;
                if (!bind) {
                        _cleanup_free_ char *data =
                            hier[i].v2 ? NULL : v1_mount_data(hier[i].ctrls);
                        r = mount_cgroupfs(rootfd, sub, data, base | ro, fresh ? err : NULL);
                        /* a user namespace without a cgroup namespace of its own may
                         * not mount cgroup2 (runc falls back too): bind our directory */
                        if (r == -EPERM || r == -EBUSY)
                                bind = !fresh;
                        if (r < 0 && !fresh && !bind)
                                r = berth_error_sys(err, -r, "mount cgroup2 on '%s'", sub);
                        if (bind)
                                r = 0;
                }
                if (bind) {
                        size_t cl = 0;
                        const char *cgpath = self_cgroup(self, hier[i].v2, name, &cl);
                        if (!cgpath)
                                continue;
                        _cleanup_free_ char *srcdir =
                            xasprintf("%s%.*s", hier[i].mnt, (int)cl, cgpath);
                        struct mount_opts bo = {.flags = base | ro, .rec_bind = false};
                        r = bind_mount(rootfd, srcdir, sub, &bo, err);
                }
                if (r < 0)
                        break;
                /* "cpu,cpuacct" also answers to "cpu" and "cpuacct", as on the host */
                if (!pure_v2 && strchr(name, ',')) {
                        _cleanup_free_ char *names = xstrdup(name);
                        char *s2 = NULL;
                        for (char *t = strtok_r(names, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
                                int dfd = open_in_root(rootfd, dest, O_PATH | O_DIRECTORY, 0);
                                if (dfd < 0)
                                        break;
                                (void)symlinkat(name, dfd, t);
                                close(dfd);
                        }
                }
        }
        for (size_t i = 0; i < nh; i++) {
                free(hier[i].mnt);
                free(hier[i].ctrls);
        }
        if (r == 0 && ro && !pure_v2)
                r = remount_at(rootfd, dest, base | MS_RDONLY, err);
        return r;
}

/* Attach an idmapped tree the parent prepared, then apply flags and propagation. */
static int attach_idmapped(int rootfd, int tree, const char *src, const struct oci_mount *m,
                           const struct mount_opts *mo, struct berth_error **err)
{
        struct stat st;
        if (fstat(tree, &st) < 0)
                return berth_error_sys(err, errno, "idmapped mount '%s'", src);
        int fd = root_open_target(rootfd, m->destination, S_ISDIR(st.st_mode), err);
        if (fd < 0)
                return fd;
        int r = 0;
        if (move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                r = berth_error_sys(err, errno, "attach idmapped '%s' on '%s'", src,
                                    m->destination);
        close(fd);
        if (r < 0)
                return r;
        unsigned long extra = mo->flags & ~(MS_REMOUNT | MS_BIND | MS_REC);
        if (extra) {
                r = remount_at(rootfd, m->destination, extra | (mo->rec_bind ? MS_REC : 0), err);
                if (r < 0)
                        return r;
        }
        r = set_rattr(rootfd, m->destination, mo, err);
        if (r < 0)
                return r;
        return set_propagation(rootfd, m->destination, mo->prop, err);
}

static bool mount_wants_idmap(const struct oci_mount *m)
{
        if (m->n_uid_mappings || m->n_gid_mappings)
                return true;
        for (size_t k = 0; m->options && m->options[k]; k++)
                if (!strcmp(m->options[k], "idmap") || !strcmp(m->options[k], "ridmap"))
                        return true;
        return false;
}

static int pause_child(void *arg)
{
        (void)arg;
        for (;;)
                pause();
        return 0;
}

static int idmap_userns(const struct oci_mount *m, const struct oci_linux *l,
                        struct berth_error **err)
{
        struct oci_linux maps = {0};
        maps.uid_mappings = m->n_uid_mappings ? m->uid_mappings : l ? l->uid_mappings : NULL;
        maps.n_uid_mappings = m->n_uid_mappings ? m->n_uid_mappings : l ? l->n_uid_mappings : 0;
        maps.gid_mappings = m->n_gid_mappings ? m->gid_mappings : l ? l->gid_mappings : NULL;
        maps.n_gid_mappings = m->n_gid_mappings ? m->n_gid_mappings : l ? l->n_gid_mappings : 0;
        if (!maps.n_uid_mappings || !maps.n_gid_mappings)
                return berth_error_set(err, EINVAL,
                                       "mount '%s': idmap needs uidMappings and gidMappings",
                                       m->destination);
        pid_t pid;
        int r = ns_spawn(CLONE_NEWUSER, -1, pause_child, NULL, &pid, err);
        if (r < 0)
                return r;
        r = ns_write_id_maps(pid, &maps, err);
        int fd = -1;
        if (r == 0) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = berth_error_sys(err, errno, "open idmap user namespace");
        }
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return r < 0 ? r : fd;
}

int rootfs_idmap_prepare(const struct oci_spec *s, const char *bundle, int **ret_fds,
                         struct berth_error **err)
{
        *ret_fds = NULL;
        int *fds = NULL;
        for (size_t i = 0; i < s->n_mounts; i++) {
                const struct oci_mount *m = &s->mounts[i];
                if (!mount_wants_idmap(m))
                        continue;
                if (!fds) {
                        fds = xcalloc(s->n_mounts, sizeof(int));
                        for (size_t k = 0; k < s->n_mounts; k++)
                                fds[k] = -1;
                }
                bool rec = false;
                _cleanup_free_ char *src = NULL;
                for (size_t k = 0; m->options && m->options[k]; k++)
                        if (!strcmp(m->options[k], "rbind") || !strcmp(m->options[k], "ridmap"))
                                rec = true;
                int r;
                if (!m->source) {
                        r = berth_error_set(err, EINVAL, "mount '%s': idmap needs a bind source",
                                            m->destination);
                        goto fail;
                }
                src = m->source[0] == '/' ? xstrdup(m->source)
                                          : xasprintf("%s/%s", bundle, m->source);
                int userns = idmap_userns(m, s->linux_, err);
                if (userns < 0) {
                        r = userns;
                        goto fail;
                }
                int tree = open_tree(
                    AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0));
                if (tree < 0) {
                        r = berth_error_sys(err, errno, "mount '%s': open '%s'", m->destination,
                                            src);
                        close(userns);
                        goto fail;
                }
                struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP,
                                          .userns_fd = (uint64_t)userns};
                int e = mount_setattr(tree, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr,
                                      sizeof(attr));
                int saved = errno;
                close(userns);
                if (e < 0) {
                        close(tree);
                        r = berth_error_sys(err, saved, "mount '%s': idmap '%s'", m->destination,
                                            src);
                        goto fail;
                }
                fds[i] = tree;
                continue;
        fail:
                for (size_t k = 0; k < s->n_mounts; k++)
                        if (fds[k] >= 0)
                                close(fds[k]);
                free(fds);
                return r;
        }
        *ret_fds = fds;
        return 0;
}

static int mount_one(struct rt_init *ri, int rootfd, size_t index, struct berth_error **err)
{
        const struct oci_mount *m = &ri->spec->mounts[index];
        struct mount_opts mo;
        int r = parse_mount_opts(m->options, &mo, err);
        if (r < 0)
                return berth_error_prefix(err, "mount '%s'", m->destination);
        _cleanup_free_ char *data = mo.data;
        const char *type = m->type;
        if (ri->idmap_fds && ri->idmap_fds[index] >= 0)
                return attach_idmapped(rootfd, ri->idmap_fds[index], m->source, m, &mo, err);
        if (mo.bind || (type && !strcmp(type, "bind"))) {
                if (!m->source)
                        return berth_error_set(err, EINVAL, "mount '%s': bind without a source",
                                               m->destination);
                _cleanup_free_ char *src = NULL;
                if (m->source[0] == '/')
                        src = xstrdup(m->source);
                else
                        src = xasprintf("%s/%s", ri->bundle, m->source);
                return bind_mount(rootfd, src, m->destination, &mo, err);
        }
        if (!type || !*type)
                return berth_error_set(err, EINVAL, "mount '%s': no type", m->destination);
        if (!strcmp(type, "cgroup"))
                return mount_cgroup(ri, rootfd, m->destination, &mo, err);
        int fd = root_open_target(rootfd, m->destination, true, err);
        if (fd < 0)
                return fd;
        char p[FD_PATH_MAX];
        fd_path(p, fd);
        const char *src = m->source ? m->source : type;
        r = 0;
        if (mount(src, p, type, mo.flags, data) < 0) {
                int e = errno;
                /* In a user namespace without its own network namespace sysfs cannot
                 * be mounted; mqueue likewise without its own ipc namespace: bind the
                 * host's as runc does. */
                if (e == EPERM && ri->in_userns &&
                    (!strcmp(type, "sysfs") || !strcmp(type, "mqueue"))) {
                        close(fd);
                        struct mount_opts bo = {.flags =
                                                    mo.flags | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                                .rec_bind = true,
                                                .prop = mo.prop};
                        return bind_mount(rootfd, !strcmp(type, "sysfs") ? "/sys" : "/dev/mqueue",
                                          m->destination, &bo, err);
                }
                r = berth_error_sys(err, e, "mount %s on '%s'", type, m->destination);
        }
        close(fd);
        if (r < 0)
                return r;
        r = set_rattr(rootfd, m->destination, &mo, err);
        if (r < 0)
                return r;
        return set_propagation(rootfd, m->destination, mo.prop, err);
}

static int mask_paths(struct rt_init *ri, int rootfd, struct berth_error **err)
{
        const struct oci_linux *l = ri->spec->linux_;
        for (size_t i = 0; l && l->masked_paths && l->masked_paths[i]; i++) {
                const char *path = l->masked_paths[i];
                int fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW, 0);
                if (fd == -ENOENT || fd == -ELOOP)
                        continue;
                if (fd < 0)
                        return berth_error_sys(err, -fd, "masked path '%s'", path);
                struct stat st;
                char p[FD_PATH_MAX], src[FD_PATH_MAX];
                fd_path(p, fd);
                int r = 0;
                if (fstat(fd, &st) < 0) {
                        r = berth_error_sys(err, errno, "masked path '%s'", path);
                } else if (S_ISDIR(st.st_mode)) {
                        if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0)
                                r = berth_error_sys(err, errno, "mask '%s'", path);
                } else {
                        fd_path(src, ri->devnull_fd);
                        if (mount(src, p, NULL, MS_BIND, NULL) < 0)
                                r = berth_error_sys(err, errno, "mask '%s'", path);
                }
                close(fd);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int readonly_paths(struct rt_init *ri, int rootfd, struct berth_error **err)
{
        const struct oci_linux *l = ri->spec->linux_;
        for (size_t i = 0; l && l->readonly_paths && l->readonly_paths[i]; i++) {
                const char *path = l->readonly_paths[i];
                int fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW, 0);
                if (fd == -ENOENT || fd == -ELOOP)
                        continue;
                if (fd < 0)
                        return berth_error_sys(err, -fd, "read-only path '%s'", path);
                char p[FD_PATH_MAX];
                fd_path(p, fd);
                int r = 0;
                if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0)
                        r = berth_error_sys(err, errno, "bind read-only path '%s'", path);
                close(fd);
                if (r < 0)
                        return r;
                r = remount_at(rootfd, path, MS_RDONLY | MS_REC, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_not_symlink(int rootfd, const char *name, struct berth_error **err)
{
        struct stat st;
        if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                return berth_error_set(err, ELOOP, "rootfs: /%s is a symlink: refused", name);
        return 0;
}

static unsigned long propagation_flag(const char *s)
{
        for (size_t k = 0; s && k < ELEMENTSOF(prop_table); k++)
                if (!strcmp(s, prop_table[k].name))
                        return prop_table[k].flag;
        return 0;
}

/* The mount point (a host path, before pivot_root) of the mount holding path. */
static char *mount_point_of(const char *path)
{
        char *p = realpath(path, NULL);
        if (!p)
                return NULL;
        struct statx sx;
        if (statx(AT_FDCWD, p, 0, STATX_MNT_ID, &sx) < 0) {
                free(p);
                return NULL;
        }
        uint64_t id = sx.stx_mnt_id;
        for (;;) {
                char *slash = strrchr(p, '/');
                if (!slash || slash == p) {
                        if (statx(AT_FDCWD, "/", 0, STATX_MNT_ID, &sx) == 0 && sx.stx_mnt_id == id)
                                strcpy(p, "/");
                        return p;
                }
                *slash = '\0';
                if (statx(AT_FDCWD, p, 0, STATX_MNT_ID, &sx) < 0 || sx.stx_mnt_id != id) {
                        *slash = '/';
                        return p;
                }
        }
}

int rootfs_prepare(struct rt_init *ri, int *ret_rootfd, struct berth_error **err)
{
        const struct oci_linux *l = ri->spec->linux_;
        unsigned long prop = propagation_flag(l ? l->rootfs_propagation : NULL);
        if (!prop)
                prop = MS_SLAVE | MS_REC;
        /* an unbindable rootfs could not be bind-mounted onto itself: private until
         * rootfs_finish makes the new "/" unbindable */
        if (prop & MS_UNBINDABLE)
                prop = MS_PRIVATE | MS_REC;
        if (ri->inherit_mount_ns)
                goto mounts; /* our own namespace: "/" and the rootfs stay as they are */
        if (mount(NULL, "/", NULL, prop | MS_REC, NULL) < 0)
                return berth_error_sys(err, errno, "set propagation of /");
        /* pivot_root and MS_MOVE refuse a shared parent mount, and pivot_root a
         * shared new root: make both private; the asked propagation is set on
         * the new "/" after the switch (rootfs_finish) */
        if (prop & MS_SHARED) {
                _cleanup_free_ char *parent = xasprintf("%s/..", ri->rootfs);
                _cleanup_free_ char *mp = mount_point_of(parent);
                if (mp && mount(NULL, mp, NULL, MS_PRIVATE, NULL) < 0)
                        return berth_error_sys(err, errno, "make '%s' private", mp);
        }
        if (mount(ri->rootfs, ri->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
                return berth_error_sys(err, errno, "bind rootfs '%s'", ri->rootfs);
        if ((prop & MS_SHARED) && mount(NULL, ri->rootfs, NULL, MS_PRIVATE, NULL) < 0)
                return berth_error_sys(err, errno, "make rootfs mount private");
mounts:;
        _cleanup_close_ int rootfd = open(ri->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return berth_error_sys(err, errno, "open rootfs '%s'", ri->rootfs);
        /* the host's /dev/null, opened in our own mount namespace (a mount of the
         * parent's namespace cannot be a bind source here), verified to be 1:3 */
        if (ri->devnull_fd < 0) {
                ri->devnull_fd = open("/dev/null", O_PATH | O_CLOEXEC);
                struct stat st;
                if (ri->devnull_fd < 0 || fstat(ri->devnull_fd, &st) < 0 || !S_ISCHR(st.st_mode) ||
                    st.st_rdev != makedev(1, 3))
                        return berth_error_set(err, EPERM,
                                               "/dev/null is not the null device (1:3): refusing "
                                               "to mask paths with it");
        }
        int r = check_not_symlink(rootfd, "proc", err);
        if (r == 0)
                r = check_not_symlink(rootfd, "dev", err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ri->spec->n_mounts; i++) {
                r = mount_one(ri, rootfd, i, err);
                if (r < 0)
                        return r;
        }
        r = devices_setup(ri, rootfd, err);
        if (r < 0)
                return r;
        /* a missing cwd is made now, while the root may still be written */
        const char *cwd = ri->process->cwd;
        if (cwd && *cwd) {
                int fd = open_in_root(rootfd, cwd, O_PATH | O_DIRECTORY, 0);
                if (fd == -ENOENT)
                        fd = root_mkdir_p(rootfd, cwd, 0755, err);
                if (fd >= 0)
                        close(fd);
                else if (*err)
                        return berth_error_prefix(err, "cwd '%s'", cwd);
        }
        *ret_rootfd = TAKE_FD(rootfd);
        return 0;
}

/* After the hooks that want the full view: masks, read-only paths, then the
 * switch of root itself. */
int rootfs_pivot(struct rt_init *ri, int rootfd, struct berth_error **err)
{
        int r = mask_paths(ri, rootfd, err);
        if (r == 0)
                r = readonly_paths(ri, rootfd, err);
        if (r < 0)
                return r;
        if (fchdir(rootfd) < 0)
                return berth_error_sys(err, errno, "chdir to rootfs");
        if (ri->inherit_mount_ns) {
                /* no namespace of its own to pivot in: confined by chroot, as runc does */
                if (chroot(".") < 0)
                        return berth_error_sys(err, errno, "chroot to rootfs");
        } else if (ri->no_pivot) {
                if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                        return berth_error_sys(err, errno, "move rootfs to /");
                if (chroot(".") < 0)
                        return berth_error_sys(err, errno, "chroot to rootfs");
        } else {
                if (syscall(SYS_pivot_root, ".", ".") < 0)
                        return berth_error_sys(err, errno, "pivot_root");
                /* the old root is now stacked under "."; detach it without
                 * letting the unmount propagate anywhere */
                if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                        return berth_error_sys(err, errno, "make old root a slave");
                if (umount2(".", MNT_DETACH) < 0)
                        return berth_error_sys(err, errno, "detach old root");
        }
        if (chdir("/") < 0)
                return berth_error_sys(err, errno, "chdir /");
        return 0;
}

int rootfs_finish(struct rt_init *ri, struct berth_error **err)
{
        const struct oci_spec *s = ri->spec;
        if (s->root && s->root->readonly) {
                unsigned long lf = 0;
                int fd = open("/", O_PATH | O_CLOEXEC);
                if (fd >= 0) {
                        lf = locked_flags(fd);
                        close(fd);
                }
                if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | lf, NULL) < 0)
                        return berth_error_sys(err, errno, "remount / read-only");
        }
        unsigned long prop = propagation_flag(s->linux_ ? s->linux_->rootfs_propagation : NULL);
        if (prop && mount(NULL, "/", NULL, prop, NULL) < 0)
                return berth_error_sys(err, errno, "set propagation of / to '%s'",
                                       s->linux_->rootfs_propagation);
        return 0;
}

/* Octal escapes of /proc/self/mountinfo (\040 for a space) decoded in place. */
static void unescape_mountinfo(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

/* A container without a mount namespace of its own made its mounts in ours,
 * under its rootfs (never the rootfs itself: we do not bind it there).  Detach
 * every mount strictly below rootfs, newest first, so nested ones go before
 * their parents.  Best effort: used by delete and by a failed create. */
void rootfs_detach_host_mounts(const char *rootfs)
{
        _cleanup_free_ char *text = NULL;
        if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 64u << 20, &text, NULL) < 0)
                return;
        size_t n = 0, cap = 0, len = strlen(rootfs);
        _cleanup_free_ char **below = NULL;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* id parent major:minor root mount-point ... */
                char *f = line;
                for (int i = 0; i < 4 && f; i++) {
                        f = strchr(f, ' ');
                        f = f ? f + 1 : NULL;
                }
                if (!f)
                        continue;
                char *end = strchr(f, ' ');
                if (end)
                        *end = '\0';
                unescape_mountinfo(f);
                if (strncmp(f, rootfs, len) != 0 || f[len] != '/')
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 16;
                        below = xrealloc(below, cap * sizeof(char *));
                }
                below[n++] = f;
        }
        while (n > 0)
                (void)umount2(below[--n], MNT_DETACH);
}
