/*
 * layer-unpack.c — the extraction half of layer apply: tar entries (from
 * tar.c's callbacks) become files below the layer root, and nothing else.
 *
 * Path safety: entry names are cleaned lexically first (clean_path), then the
 * parent directory is opened with open_in_root() (openat2 RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) below the layer root fd and the entry is created with
 * an *at() call on its last component, never following a symlink there
 * (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, linkat without AT_SYMLINK_FOLLOW).  The
 * parent fd is cached while consecutive entries share a directory (tars list
 * a directory's files together), so most entries cost one open: the cache is
 * dropped whenever anything is removed, since a removal may change what a
 * path names.  A cached fd always refers to a directory inside the layer (we
 * never move directories), so even a stale one cannot lead outside.
 *
 * Metadata: owner (fchown), mode incl. setuid (fchmod after chown, which
 * clears setuid), xattrs (after the contents: a write drops
 * security.capability), then times.  Directory times are set last, after
 * every child exists.  Xattrs are applied to regular files and directories;
 * symlinks, devices and fifos cannot carry user.* xattrs on Linux.
 *
 * Never: resolve an archive path with a plain open(), or act on a name that
 * is not the entry's own last component below a directory opened in the root.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/fileio.h"
#include "image/layer-unpack.h"

/* ---- paths ------------------------------------------------------------- */

/* Lexical clean: "/a/./b//c/../d" → "a/b/d"; "" for the root; -EINVAL when a
 * ".." would climb above the root. */
static int clean_path(const char *in, char **ret)
{
        size_t n = strlen(in);
        char *out = xmalloc(n + 1);
        size_t len = 0;
        const char *p = in;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchrnul(p, '/');
                size_t cl = (size_t)(e - p);
                if (cl == 1 && p[0] == '.') {
                        /* skip */
                } else if (cl == 2 && p[0] == '.' && p[1] == '.') {
                        if (len == 0) {
                                free(out);
                                return -EINVAL;
                        }
                        char *slash = memrchr(out, '/', len);
                        len = slash ? (size_t)(slash - out) : 0;
                } else {
                        if (len)
                                out[len++] = '/';
                        memcpy(out + len, p, cl);
                        len += cl;
                }
                p = e;
        }
        out[len] = '\0';
        *ret = out;
        return 0;
}

static void split_path(char *path, const char **ret_dir, const char **ret_base)
{
        char *slash = strrchr(path, '/');
        if (slash) {
                *slash = '\0';
                *ret_dir = path;
                *ret_base = slash + 1;
        } else {
                *ret_dir = "";
                *ret_base = path;
        }
}

static void cache_drop(struct layer_unpack *u)
{
        if (u->cache_fd >= 0)
                close(u->cache_fd);
        u->cache_fd = -EBADF;
        free(u->cache_path);
        u->cache_path = NULL;
        u->cache_stale = false;
}

/* mkdir -p of dir below the root, every step resolved in the root. */
static int mkdir_parents(struct layer_unpack *u, const char *dir)
{
        _cleanup_free_ char *p = xstrdup(dir);
        _cleanup_close_ int prev = -EBADF;
        for (char *s = p;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char saved = *s;
                *s = '\0';
                int fd = open_in_root(u->root_fd, p, O_PATH | O_DIRECTORY, 0);
                if (fd == -ENOENT) {
                        const char *comp = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
                        int pfd = prev >= 0 ? prev : u->root_fd;
                        if (mkdirat(pfd, comp, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        fd = open_in_root(u->root_fd, p, O_PATH | O_DIRECTORY, 0);
                }
                if (fd < 0)
                        return fd;
                closep(&prev);
                prev = fd;
                *s = saved;
                if (!saved)
                        return 0;
        }
}

/* The directory an entry lives in, as a borrowed fd (cached). */
static int open_parent(struct layer_unpack *u, const char *name, const char *dir, int *ret_fd,
                       struct berth_error **err)
{
        if (!*dir) {
                *ret_fd = u->root_fd;
                return 0;
        }
        if (u->cache_stale)
                cache_drop(u);
        if (u->cache_path && strcmp(u->cache_path, dir) == 0) {
                *ret_fd = u->cache_fd;
                return 0;
        }
        int fd = open_in_root(u->root_fd, dir, O_PATH | O_DIRECTORY, 0);
        if (fd == -ENOENT) {
                int r = mkdir_parents(u, dir);
                if (r < 0)
                        return berth_error_sys(err, r, "layer entry '%s': create parent '%s'", name,
                                               dir);
                fd = open_in_root(u->root_fd, dir, O_PATH | O_DIRECTORY, 0);
        }
        if (fd < 0)
                return berth_error_sys(err, fd, "layer entry '%s': parent '%s'", name, dir);
        cache_drop(u);
        u->cache_path = xstrdup(dir);
        u->cache_fd = fd;
        *ret_fd = fd;
        return 0;
}

static int rm_rf_at(int dirfd, const char *name, int depth)
{
        if (depth > 4096)
                return -ELOOP;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        struct dirent *de;
        int r = 0;
        while (r == 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (unlinkat(fd, de->d_name, 0) < 0) {
                        if (errno == EISDIR)
                                r = rm_rf_at(fd, de->d_name, depth + 1);
                        else
                                r = -errno;
                }
        }
        closedir(d);
        if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
                r = -errno;
        return r;
}

/* An entry replaces whatever was at its name earlier in the tar. */
static int remove_existing(struct layer_unpack *u, int pfd, const char *base)
{
        u->cache_stale = true;
        if (unlinkat(pfd, base, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR)
                return -errno;
        return rm_rf_at(pfd, base, 0);
}

/* ---- xattrs ------------------------------------------------------------ */

/* 1 apply, 0 ignore, -1 refuse the layer. */
static int xattr_policy(const char *name)
{
        if (strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0)
                return -1;
        if (strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0)
                return 1;
        return 0;
}

static int apply_xattrs(const char *name, int fd, const struct layer_unpack_xattr *x, size_t n,
                        struct berth_error **err)
{
        for (size_t i = 0; i < n; i++) {
                if (fsetxattr(fd, x[i].name, x[i].value, x[i].len, 0) < 0) {
                        /* as Docker: a filesystem without xattr support is not fatal */
                        if (errno == ENOTSUP || errno == EPERM)
                                continue;
                        return berth_error_sys(err, errno, "layer entry '%s': set xattr '%s'", name,
                                               x[i].name);
                }
        }
        return 0;
}

static void xattrs_free(struct layer_unpack_xattr *x, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(x[i].name);
                free(x[i].value);
        }
        free(x);
}

/* Copies the applicable xattrs; a reserved one refuses the entry. */
static int xattrs_take(const struct tar_entry *e, struct layer_unpack_xattr **ret, size_t *ret_n,
                       struct berth_error **err)
{
        *ret = NULL;
        *ret_n = 0;
        for (size_t i = 0; i < e->n_xattrs; i++) {
                int p = xattr_policy(e->xattrs[i].name);
                if (p < 0) {
                        xattrs_free(*ret, *ret_n);
                        *ret = NULL;
                        *ret_n = 0;
                        return berth_error_set(err, EPERM,
                                               "layer entry '%s': xattr '%s' is reserved for "
                                               "overlayfs",
                                               e->path, e->xattrs[i].name);
                }
                if (p == 0)
                        continue;
                *ret = xrealloc(*ret, (*ret_n + 1) * sizeof(**ret));
                struct layer_unpack_xattr *c = &(*ret)[(*ret_n)++];
                c->name = xstrdup(e->xattrs[i].name);
                c->value = xmalloc(e->xattrs[i].len + 1);
                memcpy(c->value, e->xattrs[i].value, e->xattrs[i].len);
                c->len = e->xattrs[i].len;
        }
        return 0;
}

/* chown, chmod after it (chown clears setuid), then xattrs. */
static int apply_meta_fd(const char *name, int fd, uint64_t uid, uint64_t gid, mode_t mode,
                         const struct layer_unpack_xattr *x, size_t nx, struct berth_error **err)
{
        if (uid > UINT32_MAX - 1 || gid > UINT32_MAX - 1)
                return berth_error_set(err, EINVAL,
                                       "layer entry '%s': invalid owner %" PRIu64 ":%" PRIu64, name,
                                       uid, gid);
        /* Always: a new inode's group is not ours inside a setgid directory. */
        if (fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chown", name);
        if (fchmod(fd, mode) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chmod", name);
        return apply_xattrs(name, fd, x, nx, err);
}

static void dirtime_add(struct layer_unpack *u, const char *path, const struct tar_entry *e)
{
        if (u->n_dirs == u->cap_dirs) {
                u->cap_dirs = u->cap_dirs ? u->cap_dirs * 2 : 64;
                u->dirs = xrealloc(u->dirs, u->cap_dirs * sizeof(*u->dirs));
        }
        struct layer_unpack_dirtime *d = &u->dirs[u->n_dirs++];
        d->path = xstrdup(path);
        d->ts[0] = e->atime;
        d->ts[1] = e->mtime;
}

/* ---- entries ----------------------------------------------------------- */

static int whiteout(struct layer_unpack *u, const struct tar_entry *e, const char *dir,
                    const char *base, struct berth_error **err)
{
        if (strcmp(base, ".wh..wh..opq") == 0) {
                int pfd;
                int r = open_parent(u, e->path, dir, &pfd, err);
                if (r < 0)
                        return r;
                _cleanup_close_ int dfd = -EBADF;
                if (*dir)
                        dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                else
                        dfd = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 3);
                if (dfd < 0)
                        return berth_error_sys(err, errno, "layer entry '%s': open directory",
                                               e->path);
                if (fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
                        return berth_error_sys(err, errno,
                                               "layer entry '%s': mark directory opaque", e->path);
                return 0;
        }
        if (strncmp(base, ".wh..wh.", 8) == 0)
                return 0; /* aufs bookkeeping (.wh..wh.plnk, …): meaningless here */
        const char *victim = base + 4;
        if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
                return berth_error_set(err, EINVAL, "layer entry '%s': invalid whiteout", e->path);
        int pfd;
        int r = open_parent(u, e->path, dir, &pfd, err);
        if (r < 0)
                return r;
        r = remove_existing(u, pfd, victim);
        if (r < 0)
                return berth_error_sys(err, r, "layer entry '%s': replace '%s'", e->path, victim);
        if (mknodat(pfd, victim, S_IFCHR | 0, makedev(0, 0)) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': create whiteout", e->path);
        if (e->uid > UINT32_MAX - 1 || e->gid > UINT32_MAX - 1)
                return berth_error_set(err, EINVAL, "layer entry '%s': invalid owner", e->path);
        if (fchownat(pfd, victim, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chown", e->path);
        return 0;
}

static int make_dir(struct layer_unpack *u, const struct tar_entry *e, int pfd, const char *base,
                    const char *path, struct berth_error **err)
{
        if (mkdirat(pfd, base, 0700) < 0) {
                struct stat st;
                if (errno != EEXIST)
                        return berth_error_sys(err, errno, "layer entry '%s': mkdir", e->path);
                if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return berth_error_sys(err, errno, "layer entry '%s': stat", e->path);
                if (!S_ISDIR(st.st_mode)) {
                        int r = remove_existing(u, pfd, base);
                        if (r < 0 || mkdirat(pfd, base, 0700) < 0)
                                return berth_error_sys(err, r < 0 ? r : errno,
                                                       "layer entry '%s': mkdir", e->path);
                }
        }
        _cleanup_close_ int dfd =
            openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_sys(err, errno, "layer entry '%s': open", e->path);
        struct layer_unpack_xattr *x = NULL;
        size_t nx = 0;
        int r = xattrs_take(e, &x, &nx, err);
        if (r == 0)
                r = apply_meta_fd(e->path, dfd, e->uid, e->gid, e->mode, x, nx, err);
        xattrs_free(x, nx);
        if (r == 0)
                dirtime_add(u, path, e);
        return r;
}

static int make_file(struct layer_unpack *u, const struct tar_entry *e, int pfd, const char *base,
                     struct berth_error **err)
{
        int fd;
        for (int tries = 0;; tries++) {
                fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0 || errno != EEXIST || tries > 0)
                        break;
                int r = remove_existing(u, pfd, base);
                if (r < 0)
                        return berth_error_sys(err, r, "layer entry '%s': replace", e->path);
        }
        if (fd < 0)
                return berth_error_sys(err, errno, "layer entry '%s': create", e->path);
        u->cur_fd = fd;
        u->cur_name = xstrdup(e->path);
        u->cur_uid = e->uid;
        u->cur_gid = e->gid;
        u->cur_mode = e->mode;
        u->cur_ts[0] = e->atime;
        u->cur_ts[1] = e->mtime;
        return xattrs_take(e, &u->cur_xattrs, &u->n_cur_xattrs, err);
}

static int make_hardlink(struct layer_unpack *u, const struct tar_entry *e, int pfd,
                         const char *base, const char *path, struct berth_error **err)
{
        _cleanup_free_ char *target = NULL;
        if (clean_path(e->linkname, &target) < 0 || !*target)
                return berth_error_set(err, EPERM,
                                       "layer entry '%s': hardlink target '%s' escapes the layer "
                                       "directory",
                                       e->path, e->linkname);
        if (strcmp(target, path) == 0)
                return 0; /* a link to itself changes nothing */
        const char *tdir, *tbase;
        split_path(target, &tdir, &tbase);
        _cleanup_close_ int tfd = -EBADF;
        if (*tdir) {
                tfd = open_in_root(u->root_fd, tdir, O_PATH | O_DIRECTORY, 0);
                if (tfd < 0)
                        return berth_error_sys(err, tfd, "layer entry '%s': hardlink target '%s'",
                                               e->path, e->linkname);
        }
        int from = *tdir ? tfd : u->root_fd;
        for (int tries = 0;; tries++) {
                if (linkat(from, tbase, pfd, base, 0) == 0)
                        return 0;
                if (errno != EEXIST || tries > 0)
                        break;
                int r = remove_existing(u, pfd, base);
                if (r < 0)
                        return berth_error_sys(err, r, "layer entry '%s': replace", e->path);
        }
        return berth_error_sys(err, errno, "layer entry '%s': hardlink to '%s'", e->path,
                               e->linkname);
}

static int make_node(struct layer_unpack *u, const struct tar_entry *e, int pfd, const char *base,
                     struct berth_error **err)
{
        int r;
        for (int tries = 0;; tries++) {
                if (e->type == TAR_SYMLINK)
                        r = symlinkat(e->linkname, pfd, base);
                else {
                        mode_t fmt = e->type == TAR_CHAR    ? S_IFCHR
                                     : e->type == TAR_BLOCK ? S_IFBLK
                                                            : S_IFIFO;
                        r = mknodat(pfd, base, fmt | (e->mode & 0777),
                                    makedev(e->devmajor, e->devminor));
                }
                if (r == 0 || errno != EEXIST || tries > 0)
                        break;
                r = remove_existing(u, pfd, base);
                if (r < 0)
                        return berth_error_sys(err, r, "layer entry '%s': replace", e->path);
        }
        if (r < 0)
                return berth_error_sys(err, errno, "layer entry '%s': create", e->path);
        if (e->uid > UINT32_MAX - 1 || e->gid > UINT32_MAX - 1)
                return berth_error_set(err, EINVAL, "layer entry '%s': invalid owner", e->path);
        if (fchownat(pfd, base, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chown", e->path);
        /* The node was just created by us and is not a symlink: chmod may follow. */
        if (e->type != TAR_SYMLINK && fchmodat(pfd, base, e->mode, 0) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chmod", e->path);
        struct timespec ts[2] = {e->atime, e->mtime};
        if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': set times", e->path);
        return 0;
}

static int on_entry(void *ud, const struct tar_entry *e, struct berth_error **err)
{
        struct layer_unpack *u = ud;
        _cleanup_free_ char *path = NULL;
        if (clean_path(e->path, &path) < 0)
                return berth_error_set(
                    err, EPERM, "layer entry '%s': path escapes the layer directory", e->path);
        if (strlen(path) > u->max_path)
                return berth_error_set(err, ENAMETOOLONG, "layer entry '%s': name too long",
                                       e->path);
        if (!*path) {
                if (e->type != TAR_DIR)
                        return berth_error_set(err, EINVAL,
                                               "layer entry '%s': the layer root must be a "
                                               "directory",
                                               e->path);
                struct layer_unpack_xattr *x = NULL;
                size_t nx = 0;
                int r = xattrs_take(e, &x, &nx, err);
                if (r == 0)
                        r = apply_meta_fd(e->path, u->root_fd, e->uid, e->gid, e->mode, x, nx, err);
                xattrs_free(x, nx);
                if (r == 0)
                        dirtime_add(u, "", e);
                return r;
        }
        _cleanup_free_ char *full = xstrdup(path);
        const char *dir, *base;
        split_path(path, &dir, &base);
        if (strncmp(base, ".wh.", 4) == 0)
                return whiteout(u, e, dir, base, err);
        int pfd;
        int r = open_parent(u, e->path, dir, &pfd, err);
        if (r < 0)
                return r;
        switch (e->type) {
        case TAR_DIR:
                return make_dir(u, e, pfd, base, full, err);
        case TAR_FILE:
                return make_file(u, e, pfd, base, err);
        case TAR_HARDLINK:
                return make_hardlink(u, e, pfd, base, full, err);
        case TAR_SYMLINK:
        case TAR_CHAR:
        case TAR_BLOCK:
        case TAR_FIFO:
                return make_node(u, e, pfd, base, err);
        }
        return berth_error_set(err, EINVAL, "layer entry '%s': unknown type", e->path);
}

static int on_data(void *ud, const void *buf, size_t len, struct berth_error **err)
{
        struct layer_unpack *u = ud;
        if (u->cur_fd < 0)
                return 0;
        int r = write_all(u->cur_fd, buf, len);
        if (r < 0)
                return berth_error_sys(err, r, "layer entry '%s': write", u->cur_name);
        return 0;
}

static void cur_release(struct layer_unpack *u)
{
        if (u->cur_fd >= 0)
                close(u->cur_fd);
        u->cur_fd = -EBADF;
        free(u->cur_name);
        u->cur_name = NULL;
        xattrs_free(u->cur_xattrs, u->n_cur_xattrs);
        u->cur_xattrs = NULL;
        u->n_cur_xattrs = 0;
}

static int on_entry_end(void *ud, struct berth_error **err)
{
        struct layer_unpack *u = ud;
        if (u->cur_fd < 0)
                return 0;
        int r = apply_meta_fd(u->cur_name, u->cur_fd, u->cur_uid, u->cur_gid, u->cur_mode,
                              u->cur_xattrs, u->n_cur_xattrs, err);
        if (r == 0 && futimens(u->cur_fd, u->cur_ts) < 0)
                r = berth_error_sys(err, errno, "layer entry '%s': set times", u->cur_name);
        if (r == 0 && close(TAKE_FD(u->cur_fd)) < 0)
                r = berth_error_sys(err, errno, "layer entry '%s': close", u->cur_name);
        cur_release(u);
        return r;
}

const struct tar_ops layer_unpack_ops = {
    .entry = on_entry,
    .data = on_data,
    .entry_end = on_entry_end,
};

void layer_unpack_init(struct layer_unpack *u, int root_fd, size_t max_path)
{
        *u = (struct layer_unpack){
            .root_fd = root_fd,
            .max_path = max_path,
            .cur_fd = -EBADF,
            .cache_fd = -EBADF,
        };
}

void layer_unpack_release(struct layer_unpack *u)
{
        cur_release(u);
        cache_drop(u);
        for (size_t i = 0; i < u->n_dirs; i++)
                free(u->dirs[i].path);
        free(u->dirs);
        u->dirs = NULL;
        u->n_dirs = u->cap_dirs = 0;
}

int layer_unpack_finish(struct layer_unpack *u, struct berth_error **err)
{
        /* Directory times last: creating children changed them. */
        for (size_t i = u->n_dirs; i-- > 0;) {
                const char *p = u->dirs[i].path;
                _cleanup_close_ int fd = -EBADF;
                if (*p) {
                        fd = open_in_root(u->root_fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
                        if (fd < 0)
                                continue; /* replaced by a later entry */
                }
                if (futimens(*p ? fd : u->root_fd, u->dirs[i].ts) < 0)
                        return berth_error_sys(err, errno, "layer entry '%s': set times", p);
        }
        return 0;
}

int layer_unpack_rm_rf_at(int dirfd, const char *name)
{
        return rm_rf_at(dirfd, name, 0);
}
