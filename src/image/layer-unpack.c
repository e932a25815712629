/*
 * layer-unpack.c — the extraction half of layer apply: tar entries (from
 * tar.c's callbacks) become files below the layer root, and nothing else.
 *
 * Path safety: entry names are cleaned lexically first (clean_path), then the
 * parent directory is opened with open_in_root() (openat2 RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) below the layer root fd and the entry is created with
 * an *at() call on its last component, never following a symlink there
 * (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, linkat without AT_SYMLINK_FOLLOW).  The
 * parent fds of the last few directories are cached (tars list a directory's
 * files together, and come back to a parent after a subdirectory), so most
 * entries cost no lookup: the cache is dropped whenever anything is removed,
 * since a removal may change what a path names.  A cached fd always refers to
 * a directory inside the layer (we never move directories), so even a stale
 * one cannot lead outside.
 *
 * Metadata: owner (fchown), mode incl. setuid (fchmod after chown, which
 * clears setuid), xattrs (after the contents: a write drops
 * security.capability), then times.  Directory times are set last, after
 * every child exists.  Xattrs are applied to regular files and directories;
 * symlinks, devices and fifos cannot carry user.* xattrs on Linux.
 *
 * Syscalls per entry: a regular file is openat + write + futimens + close, a
 * directory mkdirat + one utimensat at the end, a symlink symlinkat +
 * utimensat.  That needs knowing what creation gives without asking: the
 * extraction thread has a umask of its own set to 0 (layer_unpack_thread_init)
 * and the root has no default ACL, so a new inode has exactly the mode asked
 * for (entries with setuid/setgid/sticky bits are still chmod'ed); its owner
 * is ours (checked on the layer root) unless a setgid directory exists in the
 * layer, whose group new inodes inherit.  fchown/fchmod run only when the
 * entry wants something else, or when it replaced an existing directory.  A
 * small file whose data arrives in pieces is written with one write().
 *
 * Plain mode (untar.h) reuses all of this for docker's Untar into a live
 * tree, a container's: names land below a prefix, ".wh." names are files, and
 * docker's refusals (".." above the destination, noOverwriteDirNonDir) come in
 * docker's words.  A live tree may change under the walk, so nothing that
 * follows a last component is ever used (fchmodat with AT_SYMLINK_NOFOLLOW
 * included); a changed tree can only make an entry land elsewhere inside the
 * root, or fail.
 *
 * Never: resolve an archive path with a plain open(), or act on a name that
 * is not the entry's own last component below a directory opened in the root.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/fileio.h"
#include "image/layer-unpack.h"

/* ---- paths ------------------------------------------------------------- */

/* Lexical clean: "/a/./b//c/../d" → "a/b/d"; "" for the root; -EINVAL when a
 * ".." would climb above the root, unless clamp (then it stays at the root, as
 * Go's filepath.Join("/", name) does). */
static int clean_path_ex(const char *in, bool clamp, char **ret)
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
                        if (len == 0 && !clamp) {
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

static int clean_path(const char *in, char **ret)
{
        return clean_path_ex(in, false, ret);
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

/* Files up to this size that arrive in pieces are staged and written once. */
#define STAGE_MAX (256 * 1024)

static void cache_drop(struct layer_unpack *u)
{
        for (size_t i = 0; i < LAYER_UNPACK_DIRFDS; i++) {
                struct layer_unpack_dirfd *c = &u->cache[i];
                if (c->fd >= 0)
                        close(c->fd);
                c->fd = -EBADF;
                free(c->path);
                c->path = NULL;
                c->used = 0;
                c->mode_known = false;
        }
        u->cache_last = -1;
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
                        /* plain mode: no directory made in /sys/fs/cgroup and the like */
                        if (u->plain && fd_on_kernel_fs(pfd))
                                return -EPERM;
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

/* dir (below the root, "" = the root) as a borrowed O_PATH fd, from the cache
 * or resolved in the root and cached.  The slot of the previous lookup is
 * never evicted, so an entry may hold its parent while it looks up a hardlink
 * target.  The fd stays open until the next entry starts (cache_stale is
 * acted on there). */
static int lookup_dir(struct layer_unpack *u, const char *dir, int *ret_fd)
{
        if (!*dir) {
                *ret_fd = u->root_fd;
                return 0;
        }
        int victim = -1;
        for (int i = 0; i < LAYER_UNPACK_DIRFDS; i++) {
                struct layer_unpack_dirfd *c = &u->cache[i];
                if (c->path && strcmp(c->path, dir) == 0) {
                        c->used = ++u->cache_clock;
                        u->cache_last = i;
                        *ret_fd = c->fd;
                        return 0;
                }
                if (i != u->cache_last && (victim < 0 || c->used < u->cache[victim].used))
                        victim = i;
        }
        int fd = open_in_root(u->root_fd, dir, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        struct layer_unpack_dirfd *c = &u->cache[victim];
        if (c->fd >= 0)
                close(c->fd);
        free(c->path);
        c->path = xstrdup(dir);
        c->fd = fd;
        c->used = ++u->cache_clock;
        c->mode_known = false;
        c->kfs = u->plain && fd_on_kernel_fs(fd);
        u->cache_last = victim;
        *ret_fd = fd;
        return 0;
}

/* The directory an entry lives in, as a borrowed fd; missing parents are
 * made.  Sets u->parent_setgid: whether a new inode there takes the
 * directory's group (and, for a directory, its S_ISGID). */
static int open_parent(struct layer_unpack *u, const char *name, const char *dir, int *ret_fd,
                       struct berth_error **err)
{
        int r = lookup_dir(u, dir, ret_fd);
        if (r == -ENOENT) {
                r = mkdir_parents(u, dir);
                if (r < 0)
                        return berth_error_sys(err, r, "layer entry '%s': create parent '%s'", name,
                                               dir);
                r = lookup_dir(u, dir, ret_fd);
        }
        if (r < 0)
                return berth_error_sys(err, r, "layer entry '%s': parent '%s'", name, dir);
        u->parent_setgid = false;
        if (!u->setgid_dirs)
                return 0; /* no directory of this layer is setgid: nothing to ask */
        if (!*dir) {
                u->parent_setgid = u->root_setgid;
                return 0;
        }
        struct layer_unpack_dirfd *c = &u->cache[u->cache_last];
        if (!c->mode_known) {
                struct stat st;
                if (fstat(c->fd, &st) < 0)
                        return berth_error_sys(err, errno, "layer entry '%s': stat parent '%s'",
                                               name, dir);
                c->setgid = (st.st_mode & S_ISGID) != 0;
                c->mode_known = true;
        }
        u->parent_setgid = c->setgid;
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

/* An entry replaces whatever was at its name earlier in the tar.  Only an
 * actual removal invalidates the cache (nothing removed, nothing renamed: a
 * path keeps naming what it named). */
static int remove_existing(struct layer_unpack *u, int pfd, const char *base)
{
        if (unlinkat(pfd, base, 0) == 0) {
                u->cache_stale = u->removed = true;
                return 0;
        }
        if (errno == ENOENT)
                return 0;
        if (errno != EISDIR)
                return -errno;
        u->cache_stale = u->removed = true;
        return rm_rf_at(pfd, base, 0);
}

/* ---- what creation already gives ---------------------------------------- */

/* A new inode created with mode & 0777 on this thread gets exactly mode. */
static bool mode_exact(const struct layer_unpack *u, mode_t mode)
{
        return (mode & 07000) == 0 && u->umask_zero && u->no_default_acl &&
               pthread_equal(pthread_self(), u->umask_thread);
}

/* A new inode in the current entry's parent is already owned by uid:gid, or
 * owners are not ours to set (keep_owner). */
static bool owner_default(const struct layer_unpack *u, uint64_t uid, uint64_t gid)
{
        if (u->keep_owner)
                return true;
        return u->owner_known && !u->parent_setgid && uid == u->own_uid && gid == u->own_gid;
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

/* chown, chmod after it (chown clears setuid), then xattrs; the first two
 * only when asked (the inode may already be right, see owner_default and
 * mode_exact). */
static int apply_meta_fd(const char *name, int fd, uint64_t uid, uint64_t gid, bool do_chown,
                         mode_t mode, bool do_chmod, const struct layer_unpack_xattr *x, size_t nx,
                         struct berth_error **err)
{
        if (uid > UINT32_MAX - 1 || gid > UINT32_MAX - 1)
                return berth_error_set(err, EINVAL,
                                       "layer entry '%s': invalid owner %" PRIu64 ":%" PRIu64, name,
                                       uid, gid);
        if (do_chown && fchown(fd, (uid_t)uid, (gid_t)gid) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chown", name);
        if (do_chmod && fchmod(fd, mode) < 0)
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
        if (!owner_default(u, e->uid, e->gid) &&
            fchownat(pfd, victim, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chown", e->path);
        return 0;
}

static int make_dir(struct layer_unpack *u, const struct tar_entry *e, int pfd, const char *base,
                    const char *path, struct berth_error **err)
{
        /* In a setgid directory a new directory inherits S_ISGID: chmod then. */
        bool exact = mode_exact(u, e->mode) && !u->parent_setgid;
        bool fresh = true;
        bool do_chown = !owner_default(u, e->uid, e->gid);
        mode_t create = exact ? e->mode & 0777 : 0700;
        if (e->mode & S_ISGID)
                u->setgid_dirs = true; /* from now on new inodes may take another group */
        if (mkdirat(pfd, base, create) < 0) {
                struct stat st;
                if (errno != EEXIST)
                        return berth_error_sys(err, errno, "layer entry '%s': mkdir", e->path);
                if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return berth_error_sys(err, errno, "layer entry '%s': stat", e->path);
                if (!S_ISDIR(st.st_mode)) {
                        int r = remove_existing(u, pfd, base);
                        if (r < 0 || mkdirat(pfd, base, create) < 0)
                                return berth_error_sys(err, r < 0 ? r : errno,
                                                       "layer entry '%s': mkdir", e->path);
                } else {
                        /* an implicit parent or an earlier entry: set everything, and
                         * forget the modes of cached directories (this one's changes) */
                        fresh = false;
                        if (u->setgid_dirs)
                                u->cache_stale = true;
                }
        }
        struct layer_unpack_xattr *x = NULL;
        size_t nx = 0;
        int r = xattrs_take(e, &x, &nx, err);
        if (r == 0 && (!fresh || !exact || do_chown || nx > 0)) {
                _cleanup_close_ int dfd =
                    openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dfd < 0)
                        r = berth_error_sys(err, errno, "layer entry '%s': open", e->path);
                else
                        r = apply_meta_fd(e->path, dfd, e->uid, e->gid,
                                          do_chown || (!fresh && !u->keep_owner), e->mode,
                                          !exact || !fresh, x, nx, err);
        }
        xattrs_free(x, nx);
        if (r == 0)
                dirtime_add(u, path, e);
        return r;
}

static int make_file(struct layer_unpack *u, const struct tar_entry *e, int pfd, const char *base,
                     struct berth_error **err)
{
        bool exact = mode_exact(u, e->mode);
        int fd;
        for (int tries = 0;; tries++) {
                fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            exact ? e->mode & 0777 : 0600);
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
        u->cur_chown = !owner_default(u, e->uid, e->gid);
        u->cur_chmod = !exact;
        u->cur_ts[0] = e->atime;
        u->cur_ts[1] = e->mtime;
        u->cur_size = e->size;
        u->cur_seen = 0;
        u->staging = false;
        u->stage_len = 0;
        return xattrs_take(e, &u->cur_xattrs, &u->n_cur_xattrs, err);
}

static int make_hardlink(struct layer_unpack *u, const struct tar_entry *e, int pfd,
                         const char *base, const char *path, struct berth_error **err)
{
        _cleanup_free_ char *target = NULL;
        if (clean_path_ex(e->linkname, u->clamp_dotdot, &target) < 0 || !*target) {
                if (u->plain)
                        return berth_error_set(err, EPERM, "invalid hardlink \"%s\" -> \"%s\"",
                                               u->dest_name, e->linkname);
                return berth_error_set(err, EPERM,
                                       "layer entry '%s': hardlink target '%s' escapes the layer "
                                       "directory",
                                       e->path, e->linkname);
        }
        if (u->plain && u->prefix && *u->prefix) {
                char *t = xasprintf("%s/%s", u->prefix, target);
                free(target);
                target = t;
        }
        if (strcmp(target, path) == 0)
                return 0; /* a link to itself changes nothing */
        const char *tdir, *tbase;
        split_path(target, &tdir, &tbase);
        int from;
        int r = lookup_dir(u, tdir, &from); /* keeps pfd: it was the last lookup */
        if (r < 0)
                return berth_error_sys(err, r, "layer entry '%s': hardlink target '%s'", e->path,
                                       e->linkname);
        for (int tries = 0;; tries++) {
                if (linkat(from, tbase, pfd, base, 0) == 0)
                        return 0;
                if (errno != EEXIST || tries > 0)
                        break;
                r = remove_existing(u, pfd, base);
                if (r < 0)
                        return berth_error_sys(err, r, "layer entry '%s': replace", e->path);
        }
        return berth_error_sys(err, errno, "layer entry '%s': hardlink to '%s'", e->path,
                               e->linkname);
}

static int make_node(struct layer_unpack *u, const struct tar_entry *e, int pfd, const char *base,
                     struct berth_error **err)
{
        bool exact = mode_exact(u, e->mode);
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
        if (!owner_default(u, e->uid, e->gid) &&
            fchownat(pfd, base, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chown", e->path);
        /* Never following: in a live tree (a running container's) the node may
         * have been swapped for a symlink since mknodat. */
        if (e->type != TAR_SYMLINK && !exact &&
            fchmodat(pfd, base, e->mode, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': chmod", e->path);
        struct timespec ts[2] = {e->atime, e->mtime};
        if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "layer entry '%s': set times", e->path);
        return 0;
}

static int make_entry(struct layer_unpack *u, const struct tar_entry *e, int pfd, const char *base,
                      const char *full, struct berth_error **err)
{
        /* As dockerd sizes a layer: file bytes and link texts; a hard link adds nothing. */
        if (e->type == TAR_FILE)
                u->unpacked_size += e->size;
        else if (e->type == TAR_SYMLINK)
                u->unpacked_size += strlen(e->linkname);
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

/* ---- plain mode: docker's Untar (image/untar.h) ---------------------------- */

/* The destination joined with a name below it, as docker's messages show it. */
static char *dest_join(const struct layer_unpack *u, const char *rel)
{
        const char *d = u->dest_name ? u->dest_name : "";
        size_t n = strlen(d);
        if (!*rel)
                return xstrdup(d);
        return xasprintf("%s%s%s", d, n && d[n - 1] == '/' ? "" : "/", rel);
}

/* docker refuses a relative symlink whose target climbs above the destination
 * (harmless here, where every path resolves in the root, but refused alike). */
static int plain_symlink_check(const struct layer_unpack *u, const struct tar_entry *e,
                               const char *rel, struct berth_error **err)
{
        if (e->linkname[0] == '/' || u->clamp_dotdot)
                return 0;
        _cleanup_free_ char *dir = xstrdup(rel);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = '\0';
        else
                dir[0] = '\0';
        _cleanup_free_ char *joined = xasprintf("%s/%s", dir, e->linkname);
        _cleanup_free_ char *clean = NULL;
        if (clean_path(joined, &clean) == 0)
                return 0;
        _cleanup_free_ char *shown = dest_join(u, rel);
        return berth_error_set(err, EPERM, "invalid symlink \"%s\" -> \"%s\"", shown, e->linkname);
}

/* rel: the entry's cleaned name below the destination ("" for the destination). */
static int plain_entry(struct layer_unpack *u, const struct tar_entry *e, const char *rel,
                       struct berth_error **err)
{
        if (!*rel) {
                /* as docker's Untar: the destination directory itself stays as it is */
                if (e->type == TAR_DIR)
                        return 0;
                return berth_error_set(err, EEXIST,
                                       "cannot overwrite directory \"%s\" with non-directory "
                                       "\"%s\"",
                                       u->dest_name, u->dest_name);
        }
        int r;
        if (e->type == TAR_SYMLINK && (r = plain_symlink_check(u, e, rel, err)) < 0)
                return r;
        _cleanup_free_ char *path =
            u->prefix && *u->prefix ? xasprintf("%s/%s", u->prefix, rel) : xstrdup(rel);
        if (strlen(path) > u->max_path)
                return berth_error_set(err, ENAMETOOLONG, "%s: file name too long", e->path);
        _cleanup_free_ char *full = xstrdup(path);
        const char *dir, *base;
        split_path(path, &dir, &base);
        int pfd;
        r = open_parent(u, e->path, dir, &pfd, err);
        if (r < 0)
                return r;
        /* a running container's /proc, /sys, …: the kernel's knobs, never written */
        if (*dir ? u->cache[u->cache_last].kfs : u->root_kfs) {
                _cleanup_free_ char *shown = dest_join(u, rel);
                return berth_error_set(err, EPERM,
                                       "cannot extract \"%s\": not a file of the container but "
                                       "part of a kernel filesystem",
                                       shown);
        }
        struct stat st;
        if (u->no_overwrite_dir_nondir && fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode) != (e->type == TAR_DIR)) {
                _cleanup_free_ char *shown = dest_join(u, rel);
                return berth_error_set(err, EEXIST,
                                       S_ISDIR(st.st_mode)
                                           ? "cannot overwrite directory \"%s\" with "
                                             "non-directory \"%s\""
                                           : "cannot overwrite non-directory \"%s\" with "
                                             "directory \"%s\"",
                                       shown, u->dest_name);
        }
        return make_entry(u, e, pfd, base, full, err);
}

static int on_entry(void *ud, const struct tar_entry *e, struct berth_error **err)
{
        struct layer_unpack *u = ud;
        _cleanup_free_ char *path = NULL;
        if (clean_path_ex(e->path, u->clamp_dotdot, &path) < 0) {
                if (u->plain)
                        return berth_error_set(err, EPERM, "\"%s\" is outside of \"%s\"", e->path,
                                               u->dest_name);
                return berth_error_set(
                    err, EPERM, "layer entry '%s': path escapes the layer directory", e->path);
        }
        if (strlen(path) > u->max_path)
                return berth_error_set(err, ENAMETOOLONG, "layer entry '%s': name too long",
                                       e->path);
        /* The previous entry removed something: cached directories may be gone. */
        if (u->cache_stale)
                cache_drop(u);
        if (u->plain)
                return plain_entry(u, e, path, err);
        if (!*path) {
                if (e->type != TAR_DIR)
                        return berth_error_set(err, EINVAL,
                                               "layer entry '%s': the layer root must be a "
                                               "directory",
                                               e->path);
                struct layer_unpack_xattr *x = NULL;
                size_t nx = 0;
                int r = xattrs_take(e, &x, &nx, err);
                if (e->mode & S_ISGID)
                        u->setgid_dirs = true;
                u->root_setgid = (e->mode & S_ISGID) != 0;
                if (r == 0)
                        r = apply_meta_fd(e->path, u->root_fd, e->uid, e->gid, true, e->mode, true,
                                          x, nx, err);
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
        return make_entry(u, e, pfd, base, full, err);
}

static int stage_flush(struct layer_unpack *u, struct berth_error **err)
{
        int r = write_all(u->cur_fd, u->stage, u->stage_len);
        u->staging = false;
        u->stage_len = 0;
        if (r < 0)
                return berth_error_sys(err, r, "layer entry '%s': write", u->cur_name);
        return 0;
}

static int on_data(void *ud, const void *buf, size_t len, struct berth_error **err)
{
        struct layer_unpack *u = ud;
        if (u->cur_fd < 0)
                return 0;
        /* the first piece of a small file that is not all of it: collect the rest */
        if (u->cur_seen == 0 && len < u->cur_size && u->cur_size <= STAGE_MAX) {
                if (!u->stage)
                        u->stage = xmalloc(STAGE_MAX);
                u->staging = true;
        }
        u->cur_seen += len;
        if (u->staging && u->stage_len + len <= STAGE_MAX) {
                memcpy(u->stage + u->stage_len, buf, len);
                u->stage_len += len;
                return u->cur_seen < u->cur_size ? 0 : stage_flush(u, err);
        }
        if (u->staging) {
                int r = stage_flush(u, err);
                if (r < 0)
                        return r;
        }
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
        u->staging = false;
        u->stage_len = 0;
}

static int on_entry_end(void *ud, struct berth_error **err)
{
        struct layer_unpack *u = ud;
        if (u->cur_fd < 0)
                return 0;
        int r = u->staging ? stage_flush(u, err) : 0;
        if (r == 0)
                r = apply_meta_fd(u->cur_name, u->cur_fd, u->cur_uid, u->cur_gid, u->cur_chown,
                                  u->cur_mode, u->cur_chmod, u->cur_xattrs, u->n_cur_xattrs, err);
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
            .cache_last = -1,
        };
        for (size_t i = 0; i < LAYER_UNPACK_DIRFDS; i++)
                u->cache[i].fd = -EBADF;
        if (root_fd < 0)
                return;
        /* The root was just made by us: its owner is what a new inode gets
         * (unless it is setgid, or the filesystem maps owners). */
        struct stat st;
        if (fstat(root_fd, &st) == 0 && !(st.st_mode & S_ISGID) && st.st_uid == geteuid() &&
            st.st_gid == getegid()) {
                u->owner_known = true;
                u->own_uid = st.st_uid;
                u->own_gid = st.st_gid;
        }
        /* A default ACL decides a new inode's mode instead of the umask; every
         * directory below inherits it, and a layer cannot set one (only user.*
         * and security.capability xattrs are applied). */
        if (fgetxattr(root_fd, "system.posix_acl_default", NULL, 0) < 0 &&
            (errno == ENODATA || errno == EOPNOTSUPP))
                u->no_default_acl = true;
}

void layer_unpack_thread_init(struct layer_unpack *u)
{
        /* CLONE_FS: this thread's umask no longer is the process's. */
        if (unshare(CLONE_FS) < 0)
                return;
        umask(0);
        u->umask_thread = pthread_self();
        u->umask_zero = true;
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
        free(u->stage);
        u->stage = NULL;
}

int layer_unpack_finish(struct layer_unpack *u, struct berth_error **err)
{
        /* Directory times last: creating children changed them.  In tar order,
         * so a directory listed twice keeps its later times (setting a child's
         * times does not touch its parent). */
        for (size_t i = 0; i < u->n_dirs; i++) {
                const char *p = u->dirs[i].path;
                if (*p && !u->removed) {
                        /* Nothing was removed: p still names the directory made
                         * for it, and the cached parents are valid. */
                        _cleanup_free_ char *copy = xstrdup(p);
                        const char *dir, *base;
                        split_path(copy, &dir, &base);
                        int pfd;
                        int r = lookup_dir(u, dir, &pfd);
                        if (r == 0 && utimensat(pfd, base, u->dirs[i].ts, AT_SYMLINK_NOFOLLOW) < 0)
                                r = -errno;
                        if (r < 0)
                                return berth_error_sys(err, r, "layer entry '%s': set times", p);
                        continue;
                }
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
