/*
 * fileio.c — see fileio.h.  All loops retry EINTR; all fds are O_CLOEXEC.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "buf.h"
#include "fileio.h"

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
        struct berth_buf b = BERTH_BUF_INIT;
        for (;;) {
                buf_grow(&b, 16384);
                b.data[b.len] = '\0'; /* an empty file reads as "", not as stale heap */
                ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        buf_release(&b);
                        return r;
                }
                if (n == 0)
                        break;
                b.len += (size_t)n;
                b.data[b.len] = '\0';
                if (b.len > max) {
                        buf_release(&b);
                        return -EFBIG;
                }
        }
        if (ret_len)
                *ret_len = b.len;
        *ret = buf_steal(&b);
        return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_len);
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int write_file_at(int dirfd, const char *path, const void *buf, size_t len, mode_t mode)
{
        int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
        if (mode)
                flags |= O_CREAT | O_TRUNC;
        _cleanup_close_ int fd = openat(dirfd, path, flags, mode);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, buf, len);
        if (r < 0)
                return r;
        if (close(TAKE_FD(fd)) < 0)
                return -errno;
        return 0;
}

int write_string_file(const char *path, const char *s)
{
        return write_file_at(AT_FDCWD, path, s, strlen(s), 0);
}

int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", path, (int)getpid());
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, buf, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash) {
                if (slash == dir)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0)
                        (void)fsync(dfd);
        }
        return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = xstrdup(path);
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* statx by its syscall: the static shim's libc (musl) may have no wrapper. */
static int statx_(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf)
{
        return (int)syscall(SYS_statx, dirfd, path, flags, mask, buf);
}

/* A directory that is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT, 5.8+), or on
 * another device than the tree's: rm_rf leaves it, and what is mounted there, alone. */
static bool is_mount_root(const struct statx *stx, dev_t dev)
{
        if ((stx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
            (stx->stx_attributes & STATX_ATTR_MOUNT_ROOT))
                return true;
        return makedev(stx->stx_dev_major, stx->stx_dev_minor) != dev;
}

bool is_mount_point(const char *path)
{
        struct statx stx, parent;
        if (statx_(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0 ||
            !S_ISDIR(stx.stx_mode))
                return false;
        if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
                return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
        _cleanup_free_ char *up = xasprintf("%s/..", path);
        return statx_(AT_FDCWD, up, 0, STATX_TYPE, &parent) == 0 &&
               (parent.stx_dev_major != stx.stx_dev_major ||
                parent.stx_dev_minor != stx.stx_dev_minor);
}

/* The names in a directory (without "." and ".."), read whole so no DIR stays open while
 * the walk goes deeper.  NULL-terminated; NULL when it cannot be read. */
static char **dir_names(int fd)
{
        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return NULL;
        DIR *d = fdopendir(dup_fd);
        if (!d) {
                close(dup_fd);
                return NULL;
        }
        rewinddir(d); /* the dup shares its offset with fd, which an earlier read moved */
        size_t n = 0, cap = 8;
        char **v = xcalloc(cap, sizeof(char *));
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (n + 1 >= cap) {
                        cap *= 2;
                        v = xrealloc(v, cap * sizeof(char *));
                }
                v[n++] = xstrdup(de->d_name);
                v[n] = NULL;
        }
        closedir(d);
        return v;
}

/* Below this depth a directory is moved up into the tree's root and removed from there, so
 * a tree of any depth (a container can make one) is removed with a bounded number of fds. */
#define RM_FLATTEN_DEPTH 64

struct rm_ctx {
        dev_t dev;
        int rootfd;     /* the tree's root directory */
        unsigned moved; /* subtrees moved up in this pass */
        unsigned long seq;
};

static int rm_at(int parent, const char *name, struct rm_ctx *c, unsigned depth);

/* Everything in dirfd; the first error is returned, the rest still removed. */
static int rm_children(int dirfd, struct rm_ctx *c, unsigned depth)
{
        char **names = dir_names(dirfd);
        if (!names)
                return -errno;
        int first = 0;
        for (size_t i = 0; names[i]; i++) {
                int r = rm_at(dirfd, names[i], c, depth + 1);
                if (r < 0 && !first)
                        first = r;
        }
        strv_free(names);
        return first;
}

static int rm_at(int parent, const char *name, struct rm_ctx *c, unsigned depth)
{
        struct statx stx;
        if (statx_(parent, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(stx.stx_mode))
                return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        if (is_mount_root(&stx, c->dev))
                return -EBUSY;
        if (depth >= RM_FLATTEN_DEPTH) {
                char up[64];
                snprintf(up, sizeof(up), ".rm-rf-deep-%lu", c->seq++);
                if (renameat(parent, name, c->rootfd, up) == 0) {
                        c->moved++;
                        return 0;
                }
        }
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* what was opened, not what was looked at: a mount put there in between stays */
        if (statx_(fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx) < 0 || is_mount_root(&stx, c->dev)) {
                close(fd);
                return -EBUSY;
        }
        int first = rm_children(fd, c, depth);
        close(fd);
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !first)
                first = -errno;
        return first;
}

/* Bytes below dirfd, names read whole at each level, at most 4096 levels deep. */
static int64_t du_at(int dirfd, dev_t dev, unsigned depth)
{
        char **names = depth < 4096 ? dir_names(dirfd) : NULL;
        int64_t total = 0;
        for (size_t i = 0; names && names[i]; i++) {
                struct stat st;
                if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd, names[i],
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0) {
                                total += du_at(sub, dev, depth + 1);
                                close(sub);
                        }
                } else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
                        total += st.st_size;
                }
        }
        strv_free(names);
        return total;
}

int64_t du_bytes(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                return 0;
        int64_t total = fstat(fd, &st) == 0 ? du_at(fd, st.st_dev, 0) : 0;
        close(fd);
        return total;
}

int rm_rf(const char *path)
{
        struct statx stx;
        if (statx_(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(stx.stx_mode))
                return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
            (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
                return -EBUSY;
        struct rm_ctx c = {.dev = makedev(stx.stx_dev_major, stx.stx_dev_minor)};
        c.rootfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c.rootfd < 0)
                return errno == ENOENT ? 0 : -errno;
        int first = 0;
        /* deep subtrees moved up into the root are taken in further passes */
        do {
                c.moved = 0;
                int r = rm_children(c.rootfd, &c, 0);
                if (r < 0 && !first)
                        first = r;
        } while (c.moved);
        close(c.rootfd);
        if (rmdir(path) < 0 && errno != ENOENT && !first)
                first = -errno;
        return first;
}

size_t path_clean_n(const char *s, size_t n, char *out)
{
        if (n == 0) {
                out[0] = '.';
                return 1;
        }
        bool rooted = s[0] == '/';
        size_t r = 0, w = 0, dotdot = 0;
        if (rooted) {
                out[w++] = '/';
                r = dotdot = 1;
        }
        while (r < n) {
                if (s[r] == '/') {
                        r++;
                } else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
                        r++;
                } else if (s[r] == '.' && r + 1 < n && s[r + 1] == '.' &&
                           (r + 2 == n || s[r + 2] == '/')) {
                        r += 2;
                        if (w > dotdot) {
                                /* back over the last name */
                                w--;
                                while (w > dotdot && out[w] != '/')
                                        w--;
                        } else if (!rooted) {
                                /* a leading "..": kept */
                                if (w > 0)
                                        out[w++] = '/';
                                out[w++] = '.';
                                out[w++] = '.';
                                dotdot = w;
                        }
                } else {
                        if ((rooted && w != 1) || (!rooted && w != 0))
                                out[w++] = '/';
                        while (r < n && s[r] != '/')
                                out[w++] = s[r++];
                }
        }
        if (w == 0)
                out[w++] = '.';
        return w;
}

char *path_clean(const char *path)
{
        size_t n = strlen(path);
        char *out = xmalloc(n + 2);
        out[path_clean_n(path, n, out)] = '\0';
        return out;
}

char *path_clean_abs(const char *path)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_putc(&b, '/');
        const char *p = path;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *end = strchrnul(p, '/');
                size_t n = (size_t)(end - p);
                if (n == 1 && p[0] == '.') {
                        /* nothing */
                } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                        while (b.len > 1 && b.data[b.len - 1] != '/')
                                b.len--;
                        if (b.len > 1)
                                b.len--;
                        b.data[b.len] = '\0';
                } else {
                        if (b.len > 1)
                                buf_putc(&b, '/');
                        buf_append(&b, p, n);
                }
                p = end;
        }
        return buf_steal(&b);
}

int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        /* EAGAIN: a rename or mount somewhere raced a ".." step (the kernel cannot
         * vouch for the walk then); in a live tree, such as a running container's,
         * that happens, so the walk is retried a few times. */
        for (int tries = 0;; tries++) {
                int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
                if (fd >= 0)
                        return fd;
                if (errno != EAGAIN || tries >= 16)
                        return -errno;
        }
}

bool fd_on_kernel_fs(int fd)
{
        static const unsigned long kernel_fs[] = {
            PROC_SUPER_MAGIC,
            SYSFS_MAGIC,
            CGROUP_SUPER_MAGIC,
            CGROUP2_SUPER_MAGIC,
            DEBUGFS_MAGIC,
            TRACEFS_MAGIC,
            SECURITYFS_MAGIC,
            BPF_FS_MAGIC,
            DEVPTS_SUPER_MAGIC,
            0x19800202 /* mqueue */,
            PSTOREFS_MAGIC,
            EFIVARFS_MAGIC,
            0x62656570 /* configfs */,
            0x65735543 /* fusectl */,
            BINFMTFS_MAGIC,
            SELINUX_MAGIC,
            SMACK_MAGIC,
            NSFS_MAGIC,
        };
        struct statfs sf;
        if (fstatfs(fd, &sf) < 0)
                return true; /* unknown: treat as not data */
        for (size_t i = 0; i < ELEMENTSOF(kernel_fs); i++)
                if ((unsigned long)sf.f_type == kernel_fs[i])
                        return true;
        return false;
}

bool have_openat2(void)
{
        static int cached = -1;
        if (cached < 0) {
                struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_PATH};
                int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
                cached = fd >= 0;
                if (fd >= 0)
                        close(fd);
        }
        return cached;
}

int parse_u64(const char *s, uint64_t *ret)
{
        if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno)
                return -errno;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_i64(const char *s, int64_t *ret)
{
        if (!s || !*s || *s == ' ' || *s == '+')
                return -EINVAL;
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno)
                return -errno;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}
