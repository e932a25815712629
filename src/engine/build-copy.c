/*
 * build-copy.c — COPY, ADD and WORKDIR as dockerd's classic builder performs them (contract in
 * build.h).
 *
 * Sources are names below a root: the unpacked context, a --from stage's or image's root
 * filesystem, or the heredoc files of `COPY <<EOF`.  Each is cleaned as Go's filepath.Clean("/"
 * + name) (a ".." cannot climb out) and opened with openat2 RESOLVE_IN_ROOT (a symlink on the
 * way resolves inside that root).  Wildcards match names below the root with Go's
 * filepath.Match rules (fnmatch with FNM_PATHNAME).  A directory copies its contents; a file
 * copies to DEST/<its name> when DEST ends in '/' or is a directory, else to DEST; several
 * sources need a DEST ending in '/'.  Missing parents of DEST are made 0755, owned by --chown's
 * user (root without it); everything copied is owned by that user, keeps its mode (or gets
 * --chmod) and its modification time.  ADD extracts a local tar archive (plain, gzip, bzip2,
 * xz) into DEST with the confined unpacker, owners from the archive.
 *
 * Below the destination directory every name is made with *at() calls on the parent's fd,
 * never following a symlink: an entry that exists and is not a directory is replaced, a
 * directory is merged into.
 *
 * The cache key of a COPY or ADD is the hash of every source: its name below the source, type,
 * permission bits, link target and bytes (not its time), plus the --chown, --chmod and --from
 * values; the history names that hash as dockerd does ("file:…", "dir:…", "multi:…").  The
 * context's sources are found and hashed in its index (build-context.c: the sha256 of each
 * file taken as the context streamed in), so a step the cache holds never unpacks the
 * context; a --from image's, a heredoc's and a URL's are read from their trees.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <curl/curl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/units.h"
#include "layers.h"
#include <limits.h>
#include "build-internal.h"
#include "commit.h"
#include "container-internal.h"
#include "containers.h"
#include "image/store.h"
#include "image/untar.h"
#include "images.h"

struct copy_src {
        char *rel; /* "/a/b", cleaned */
        bool dir;
};

struct copy {
        struct stage *st;
        const struct dockerfile_instruction *ins;
        bool add;
        int srcroot;     /* the context, a --from root, or the heredoc dir */
        char *dest;      /* absolute */
        bool dest_slash; /* DEST ended in '/' (or names a directory by "." forms) */
        struct copy_src *srcs;
        size_t n_srcs;
        bool chown;
        char *chown_spec;
        uid_t uid;
        gid_t gid;
        bool has_chmod;
        mode_t chmod;
        char *from_image; /* --from's image id, or NULL */
        /* files with several links copied so far: linked again, not copied, when met again
         * (as docker's tar keeps hard links) */
        struct copied_link {
                dev_t dev;
                ino_t ino;
                int dirfd; /* O_PATH, the copy's directory */
                char *name;
        } * links;
        size_t n_links;
};

/* ---- names ---- */

static void names_free(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static int cmp_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory fd (O_PATH or not), sorted; NULL with errno on failure. */
static char **list_dir(int fd, size_t *ret_n)
{
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return NULL;
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return NULL;
        }
        char **v = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                v = xrealloc(v, (n + 1) * sizeof(char *));
                v[n++] = xstrdup(de->d_name);
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(char *), cmp_name);
        *ret_n = n;
        return v ? v : xcalloc(1, sizeof(char *));
}

/* fd read to its end, each piece given to sink (which fails with errno set). */
static int read_each(int fd, int (*sink)(const void *buf, size_t len, void *arg), void *arg,
                     const char *shown, struct berth_error **err)
{
        char buf[65536];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_sys(err, errno, "read %s", shown);
                if (n == 0)
                        return 0;
                if (sink(buf, (size_t)n, arg) < 0)
                        return berth_error_sys(err, errno, "write %s", shown);
        }
}

static int digest_sink(const void *buf, size_t len, void *arg)
{
        EVP_DigestUpdate(arg, buf, len);
        return 0;
}

static int write_sink(const void *buf, size_t len, void *arg)
{
        return write_all(*(int *)arg, buf, len);
}

/* ---- the hash of the sources ---- */

struct hasher {
        EVP_MD_CTX *md;
};

static void hash_str(struct hasher *h, const char *s)
{
        EVP_DigestUpdate(h->md, s, strlen(s) + 1);
}

static int hash_entry(struct hasher *h, int dirfd, const char *name, const char *rel,
                      struct berth_error **err);

static int hash_fd(struct hasher *h, int fd, const struct stat *st, const char *rel,
                   struct berth_error **err)
{
        char head[64];
        snprintf(head, sizeof(head), "%o", (unsigned)st->st_mode);
        hash_str(h, rel);
        hash_str(h, head);
        if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int rfd = -EBADF;
                int flags = fcntl(fd, F_GETFL);
                if (flags >= 0 && (flags & O_PATH) == 0) {
                        rfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                } else {
                        char proc[64];
                        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                        rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                }
                if (rfd < 0)
                        return berth_error_sys(err, errno, "open %s", rel);
                int r = read_each(rfd, digest_sink, h->md, rel, err);
                if (r < 0)
                        return r;
        } else if (S_ISDIR(st->st_mode)) {
                size_t n = 0;
                char **names = list_dir(fd, &n);
                if (!names)
                        return berth_error_sys(err, errno, "list %s", rel);
                int r = 0;
                for (size_t i = 0; i < n && r == 0; i++) {
                        _cleanup_free_ char *sub = xasprintf("%s/%s", rel, names[i]);
                        r = hash_entry(h, fd, names[i], sub, err);
                }
                names_free(names, n);
                return r;
        }
        return 0;
}

static int hash_entry(struct hasher *h, int dirfd, const char *name, const char *rel,
                      struct berth_error **err)
{
        /* a regular file is opened for reading at once (no reopen through /proc: thousands of
         * them per COPY); anything else only as a path */
        struct stat lst;
        if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "stat %s", rel);
        int flags = S_ISREG(lst.st_mode) ? O_RDONLY | O_NONBLOCK | O_NOCTTY : O_PATH;
        _cleanup_close_ int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return berth_error_sys(err, errno, "stat %s", rel);
        if (st.st_ino != lst.st_ino || st.st_dev != lst.st_dev ||
            (st.st_mode & S_IFMT) != (lst.st_mode & S_IFMT))
                return berth_error_set(err, EAGAIN, "%s changed while it was read", rel);
        if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
                if (n < 0)
                        return berth_error_sys(err, errno, "readlink %s", rel);
                target[n] = '\0';
                hash_str(h, rel);
                hash_str(h, "link");
                hash_str(h, target);
                return 0;
        }
        return hash_fd(h, fd, &st, rel, err);
}

static int hash_sources(struct copy *cp, char **ret, struct berth_error **err)
{
        struct hasher h = {EVP_MD_CTX_new()};
        if (!h.md || EVP_DigestInit_ex(h.md, EVP_sha256(), NULL) != 1)
                berth_oom();
        int r = 0;
        for (size_t i = 0; i < cp->n_srcs && r == 0; i++) {
                _cleanup_close_ int fd = open_in_root(cp->srcroot, cp->srcs[i].rel, O_PATH, 0);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        r = berth_error_sys(err, fd < 0 ? -fd : errno, "stat %s",
                                            cp->srcs[i].rel + 1);
                        break;
                }
                const char *base = strrchr(cp->srcs[i].rel, '/');
                r = hash_fd(&h, fd, &st, base && base[1] ? base + 1 : ".", err);
        }
        unsigned char d[32];
        unsigned dl = 0;
        EVP_DigestFinal_ex(h.md, d, &dl);
        EVP_MD_CTX_free(h.md);
        if (r < 0)
                return r;
        char hex[65];
        blob_sha256_hex(d, hex);
        const char *kind = cp->n_srcs > 1 ? "multi" : cp->srcs[0].dir ? "dir" : "file";
        *ret = xasprintf("%s:%s", kind, hex);
        return 0;
}

/* ---- sources ---- */

static void add_src(struct copy *cp, const char *rel, bool dir)
{
        cp->srcs = xrealloc(cp->srcs, (cp->n_srcs + 1) * sizeof(*cp->srcs));
        cp->srcs[cp->n_srcs++] = (struct copy_src){xstrdup(rel), dir};
}

static bool has_wildcards(const char *s)
{
        for (; *s; s++) {
                if (*s == '\\' && s[1]) {
                        s++;
                        continue;
                }
                if (*s == '*' || *s == '?' || *s == '[')
                        return true;
        }
        return false;
}

/* Every name below dirfd (rel its path, "" the root) matching pattern, in walk order. */
static int match_walk(struct copy *cp, int dirfd, const char *rel, const char *pattern,
                      unsigned depth, unsigned max_depth, struct berth_error **err)
{
        size_t n = 0;
        char **names = list_dir(dirfd, &n);
        if (!names)
                return berth_error_sys(err, errno, "list /%s", rel);
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                _cleanup_free_ char *sub =
                    *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
                struct stat st;
                if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (fnmatch(pattern, sub, FNM_PATHNAME) == 0) {
                        _cleanup_free_ char *abs = xasprintf("/%s", sub);
                        /* a symlink matched resolves (in the root) to what it names */
                        _cleanup_close_ int fd = open_in_root(cp->srcroot, abs, O_PATH, 0);
                        struct stat t;
                        if (fd >= 0 && fstat(fd, &t) == 0)
                                add_src(cp, abs, S_ISDIR(t.st_mode));
                        continue;
                }
                if (S_ISDIR(st.st_mode) && depth < max_depth) {
                        _cleanup_close_ int sfd =
                            openat(dirfd, names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sfd >= 0)
                                r = match_walk(cp, sfd, sub, pattern, depth + 1, max_depth, err);
                }
        }
        names_free(names, n);
        return r;
}

static int resolve_source(struct copy *cp, const char *src, struct berth_error **err)
{
        _cleanup_free_ char *rel = path_clean(src);
        if (strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0)
                return berth_error_set(err, EPERM,
                                       "forbidden path outside the build context: %s ()", src);
        _cleanup_free_ char *clean = path_clean_abs(src);
        if (has_wildcards(clean)) {
                unsigned depth = 0;
                for (const char *p = clean + 1; *p; p++)
                        depth += *p == '/';
                size_t before = cp->n_srcs;
                int r = match_walk(cp, cp->srcroot, "", clean + 1, 0, depth, err);
                if (r < 0)
                        return r;
                if (cp->n_srcs == before)
                        return berth_error_set(err, ENOENT, "no source files were specified");
                return 0;
        }
        _cleanup_close_ int fd = open_in_root(cp->srcroot, clean, O_PATH, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return berth_error_set(err, ENOENT,
                                       "file not found in build context or excluded by "
                                       ".dockerignore: stat %s: file does not exist",
                                       *(clean + 1) ? clean + 1 : ".");
        add_src(cp, clean, S_ISDIR(st.st_mode));
        return 0;
}

/* ---- writing below the destination ---- */

/* mkdir -p of abs inside rootfd; new directories 0755 owned by uid:gid; the directory's fd. */
static int mkdir_in_root(int rootfd, const char *abs, uid_t uid, gid_t gid,
                         struct berth_error **err)
{
        _cleanup_free_ char *path = path_clean_abs(abs);
        int fd = open_in_root(rootfd, path, O_PATH | O_DIRECTORY, 0);
        if (fd >= 0 || fd != -ENOENT)
                return fd >= 0 ? fd : berth_error_sys(err, -fd, "mkdir %s", path);
        char *slash = strrchr(path, '/');
        _cleanup_free_ char *parent =
            slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
        _cleanup_close_ int pfd = mkdir_in_root(rootfd, parent, uid, gid, err);
        if (pfd < 0)
                return pfd;
        const char *name = slash + 1;
        if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST)
                return berth_error_sys(err, errno, "mkdir %s", path);
        if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "chown %s", path);
        fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_sys(err, errno, "mkdir %s", path);
        return fd;
}

/* Make room for a new entry name in dirfd: anything there that is not (want_dir and) a
 * directory goes; returns 1 when a directory stays to merge into. */
static int make_room(int dirfd, const char *name, bool want_dir, const char *shown,
                     struct berth_error **err)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : berth_error_sys(err, errno, "stat %s", shown);
        if (S_ISDIR(st.st_mode)) {
                if (want_dir)
                        return 1;
                if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
                        return berth_error_sys(err, errno, "replace directory %s", shown);
                return 0;
        }
        if (unlinkat(dirfd, name, 0) < 0)
                return berth_error_sys(err, errno, "replace %s", shown);
        return 0;
}

static int set_meta(struct copy *cp, int dirfd, const char *name, const struct stat *src,
                    const char *shown, struct berth_error **err)
{
        if (fchownat(dirfd, name, cp->uid, cp->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "chown %s", shown);
        if (!S_ISLNK(src->st_mode)) {
                mode_t mode = cp->has_chmod ? cp->chmod : (src->st_mode & 07777);
                if (fchmodat(dirfd, name, mode, 0) < 0)
                        return berth_error_sys(err, errno, "chmod %s", shown);
        }
        struct timespec ts[2] = {src->st_atim, src->st_mtim};
        if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return berth_error_sys(err, errno, "set times of %s", shown);
        return 0;
}

static int copy_data(int in, int out, const char *shown, struct berth_error **err)
{
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n > 0)
                        continue;
                if (errno == EINTR)
                        continue;
                if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                        return berth_error_sys(err, errno, "copy %s", shown);
                break;
        }
        return read_each(in, write_sink, &out, shown, err);
}

static int copy_entry(struct copy *cp, int srcdir, const char *srcname, int dstdir,
                      const char *dstname, const char *shown, struct berth_error **err);

static int copy_contents(struct copy *cp, int srcfd, int dstfd, const char *shown,
                         struct berth_error **err)
{
        size_t n = 0;
        char **names = list_dir(srcfd, &n);
        if (!names)
                return berth_error_sys(err, errno, "list %s", shown);
        int r = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
                _cleanup_free_ char *sub = xasprintf("%s/%s", shown, names[i]);
                r = copy_entry(cp, srcfd, names[i], dstfd, names[i], sub, err);
        }
        names_free(names, n);
        return r;
}

static int copy_entry(struct copy *cp, int srcdir, const char *srcname, int dstdir,
                      const char *dstname, const char *shown, struct berth_error **err)
{
        /* "": srcdir itself (a source given by name, its symlinks followed in its root) */
        _cleanup_close_ int sfd = *srcname
                                      ? openat(srcdir, srcname, O_PATH | O_NOFOLLOW | O_CLOEXEC)
                                      : fcntl(srcdir, F_DUPFD_CLOEXEC, 3);
        struct stat st;
        if (sfd < 0 || fstat(sfd, &st) < 0)
                return berth_error_sys(err, errno, "stat %s", shown);
        int r = make_room(dstdir, dstname, S_ISDIR(st.st_mode), shown, err);
        if (r < 0)
                return r;
        if (S_ISDIR(st.st_mode)) {
                if (r == 0 && mkdirat(dstdir, dstname, 0700) < 0)
                        return berth_error_sys(err, errno, "mkdir %s", shown);
                _cleanup_close_ int dfd =
                    openat(dstdir, dstname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dfd < 0)
                        return berth_error_sys(err, errno, "open %s", shown);
                r = copy_contents(cp, sfd, dfd, shown, err);
                if (r < 0)
                        return r;
                return set_meta(cp, dstdir, dstname, &st, shown, err);
        }
        if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(sfd, "", target, sizeof(target) - 1);
                if (n < 0)
                        return berth_error_sys(err, errno, "readlink %s", shown);
                target[n] = '\0';
                if (symlinkat(target, dstdir, dstname) < 0)
                        return berth_error_sys(err, errno, "symlink %s", shown);
                return set_meta(cp, dstdir, dstname, &st, shown, err);
        }
        if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
                for (size_t i = 0; i < cp->n_links; i++) {
                        struct copied_link *l = &cp->links[i];
                        if (l->dev != st.st_dev || l->ino != st.st_ino)
                                continue;
                        if (linkat(l->dirfd, l->name, dstdir, dstname, 0) < 0)
                                return berth_error_sys(err, errno, "link %s", shown);
                        return 0;
                }
        }
        if (S_ISREG(st.st_mode)) {
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sfd);
                _cleanup_close_ int in = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (in < 0)
                        return berth_error_sys(err, errno, "open %s", shown);
                _cleanup_close_ int out = openat(
                    dstdir, dstname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return berth_error_sys(err, errno, "create %s", shown);
                r = copy_data(in, out, shown, err);
                if (r == 0)
                        r = set_meta(cp, dstdir, dstname, &st, shown, err);
                if (r == 0 && st.st_nlink > 1) {
                        int dfd = fcntl(dstdir, F_DUPFD_CLOEXEC, 3);
                        if (dfd < 0)
                                return berth_error_sys(err, errno, "copy %s", shown);
                        cp->links = xrealloc(cp->links, (cp->n_links + 1) * sizeof(*cp->links));
                        cp->links[cp->n_links++] =
                            (struct copied_link){st.st_dev, st.st_ino, dfd, xstrdup(dstname)};
                }
                return r;
        }
        if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                if (mknodat(dstdir, dstname, st.st_mode & (S_IFMT | 0777), st.st_rdev) < 0)
                        return berth_error_sys(err, errno, "mknod %s", shown);
                return set_meta(cp, dstdir, dstname, &st, shown, err);
        }
        return 0; /* sockets are not copied */
}

/* ---- archives (ADD) ---- */

static bool is_archive(int fd)
{
        unsigned char h[512];
        ssize_t n = pread(fd, h, sizeof(h), 0);
        if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
                return true;
        if (n >= 3 && memcmp(h, "BZh", 3) == 0)
                return true;
        if (n >= 6 && memcmp(h,
                             "\xfd"
                             "7zXZ\0",
                             6) == 0)
                return true;
        if (n >= 4 && memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0)
                return true;
        return n == 512 && memcmp(h + 257, "ustar", 5) == 0;
}

static int extract_archive(struct copy *cp, int rootfd, int in, const char *shown,
                           struct berth_error **err)
{
        _cleanup_close_ int dfd = mkdir_in_root(rootfd, cp->dest, 0, 0, err);
        if (dfd < 0)
                return dfd;
        _cleanup_free_ char *clean = path_clean_abs(cp->dest);
        struct untar_opts uo = {
            .prefix = clean + 1, .dest_name = clean,
            /* owners come from the archive: dockerd applies --chown to files, not to what
             * an archive unpacks */
        };
        int r = untar_fd(rootfd, &uo, in, shown, err);
        return r < 0 ? berth_error_prefix(err, "extract %s", shown) : 0;
}

/* ---- one COPY into a root ---- */

static int copy_into(int rootfd, void *arg, struct berth_error **err)
{
        struct copy *cp = arg;
        if (cp->chown_spec) {
                _cleanup_error_ struct berth_error *oerr = NULL;
                int r = build_ctr_owner(rootfd, cp->chown_spec, &cp->uid, &cp->gid, &oerr);
                if (r < 0) {
                        /* dockerd's words for a name its passwd or group file lacks */
                        _cleanup_free_ char *user = xstrdup(cp->chown_spec);
                        char *group = strchr(user, ':');
                        if (group)
                                *group++ = '\0';
                        bool grp =
                            oerr && strncmp(berth_error_msg(oerr), "unable to find group", 20) == 0;
                        return berth_error_set(err, EINVAL,
                                               "unable to convert uid/gid chown string to host "
                                               "mapping: can't find %s for %s %s: no such %s: %s",
                                               grp ? "gid" : "uid", grp ? "group" : "user",
                                               grp ? group : user, grp ? "group" : "user",
                                               grp ? group : user);
                }
        }
        bool dest_is_dir = cp->dest_slash;
        if (!dest_is_dir) {
                _cleanup_close_ int fd = open_in_root(rootfd, cp->dest, O_PATH, 0);
                struct stat st;
                dest_is_dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        }
        for (size_t i = 0; i < cp->n_srcs; i++) {
                const struct copy_src *s = &cp->srcs[i];
                const char *shown = *(s->rel + 1) ? s->rel + 1 : ".";
                _cleanup_close_ int sfd = open_in_root(cp->srcroot, s->rel, O_PATH, 0);
                struct stat st;
                if (sfd < 0 || fstat(sfd, &st) < 0)
                        return berth_error_sys(err, sfd < 0 ? -sfd : errno, "stat %s", shown);
                int r;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int dfd =
                            mkdir_in_root(rootfd, cp->dest, cp->uid, cp->gid, err);
                        if (dfd < 0)
                                return dfd;
                        r = copy_contents(cp, sfd, dfd, shown, err);
                } else if (cp->add && !cp->from_image && S_ISREG(st.st_mode)) {
                        char proc[64];
                        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sfd);
                        _cleanup_close_ int in =
                            open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                        if (in < 0)
                                return berth_error_sys(err, errno, "open %s", shown);
                        if (is_archive(in)) {
                                r = extract_archive(cp, rootfd, in, shown, err);
                                goto next;
                        }
                        goto plain;
                } else {
                plain:;
                        const char *base = strrchr(s->rel, '/') + 1;
                        _cleanup_free_ char *target = dest_is_dir
                                                          ? xasprintf("%s/%s", cp->dest, base)
                                                          : path_clean_abs(cp->dest);
                        _cleanup_free_ char *clean = path_clean_abs(target);
                        char *slash = strrchr(clean, '/');
                        _cleanup_free_ char *parent =
                            slash == clean ? xstrdup("/")
                                           : xstrndup(clean, (size_t)(slash - clean));
                        if (!slash[1])
                                return berth_error_set(err, EINVAL, "cannot copy %s to /", shown);
                        _cleanup_close_ int pfd =
                            mkdir_in_root(rootfd, parent, cp->uid, cp->gid, err);
                        if (pfd < 0)
                                return pfd;
                        r = copy_entry(cp, sfd, "", pfd, slash + 1, shown, err);
                }
        next:
                if (r < 0)
                        return r;
        }
        return 0;
}

static int copy_from_root(int rootfd, void *arg, struct berth_error **err);

struct nested {
        struct copy *cp;
        struct berth_ctr *dest_ctr; /* NULL: dest_fd, a directory of ours */
        int dest_fd;
};

static int copy_from_root(int rootfd, void *arg, struct berth_error **err)
{
        struct nested *n = arg;
        n->cp->srcroot = rootfd;
        if (n->dest_ctr)
                return build_ctr_with_root(n->cp->st->b->e, n->dest_ctr, copy_into, n->cp, err);
        return copy_into(n->dest_fd, n->cp, err);
}

/* ---- ADD <url> ---- */

struct fetch {
        int fd;
        int64_t mtime; /* Last-Modified, or -1 */
        int werr;
};

static size_t fetch_body(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct fetch *f = userdata;
        if (write_all(f->fd, p, size * nmemb) < 0) {
                f->werr = errno;
                return 0;
        }
        return size * nmemb;
}

/* ADD's URL: downloaded (as dockerd does, with the Last-Modified time when the server sends
 * one) into dirfd, the step's own directory; *ret its name there. */
static int fetch_url(const char *url, int dirfd, char **ret, struct berth_error **err)
{
        /* the file's name: the URL path's last element, else "download" (dockerd's rule) */
        const char *path = strstr(url, "://") + 3;
        path = strchr(path, '/');
        _cleanup_free_ char *name = NULL;
        if (path) {
                size_t end = strcspn(path, "?#");
                _cleanup_free_ char *p = xstrndup(path, end);
                const char *base = strrchr(p, '/');
                if (base && base[1] && strcmp(base + 1, "..") != 0 && strcmp(base + 1, ".") != 0)
                        name = xstrdup(base + 1);
        }
        if (!name)
                name = xstrdup("download");
        const char *file = name;
        struct fetch f = {.mtime = -1};
        f.fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f.fd < 0)
                return berth_error_sys(err, errno == EEXIST ? EINVAL : errno,
                                       "ADD %s: another source is named %s too", url, name);
        char errbuf[CURL_ERROR_SIZE] = "";
        CURL *c = curl_easy_init();
        if (!c) {
                close(f.fd);
                return berth_error_set(err, ENOMEM, "%s: cannot start a transfer", url);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_off_t ft = -1;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_FILETIME_T, &ft);
        curl_easy_cleanup(c);
        int r = 0;
        if (f.werr)
                r = berth_error_sys(err, f.werr, "write '%s'", file);
        else if (rc != CURLE_OK)
                r = berth_error_set(err, EIO, "%s: %s", url,
                                    *errbuf ? errbuf : curl_easy_strerror(rc));
        else if (status >= 400)
                r = berth_error_set(err, EIO, "failed to GET %s with status %ld", url, status);
        if (r == 0 && ft >= 0) {
                struct timespec ts[2] = {{(time_t)ft, 0}, {(time_t)ft, 0}};
                (void)futimens(f.fd, ts);
        }
        close(f.fd);
        if (r < 0)
                return r;
        *ret = xstrdup(name);
        return 0;
}

/* ---- the step ---- */

static void copy_release(struct copy *cp)
{
        for (size_t i = 0; i < cp->n_links; i++) {
                close(cp->links[i].dirfd);
                free(cp->links[i].name);
        }
        free(cp->links);
        free(cp->dest);
        for (size_t i = 0; i < cp->n_srcs; i++)
                free(cp->srcs[i].rel);
        free(cp->srcs);
        free(cp->chown_spec);
        free(cp->from_image);
}

/* A fresh directory below the build's (on disk, seen by every process): *ret_path and an
 * O_PATH fd. */
static int step_dir(struct build *b, const char *what, char **ret_path, struct berth_error **err)
{
        static unsigned counter;
        char *path = xasprintf("%s/%s-%u", b->tmpdir, what,
                               __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
        if (mkdir(path, 0755) < 0) {
                int r = berth_error_sys(err, errno, "mkdir '%s'", path);
                free(path);
                return r;
        }
        int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int r = berth_error_sys(err, errno, "open '%s'", path);
                free(path);
                return r;
        }
        *ret_path = path;
        return fd;
}

/* A fresh directory below the build's for a layer made from nothing (FROM scratch). */
static int scratch_dir(struct build *b, struct berth_error **err)
{
        static unsigned counter;
        _cleanup_free_ char *path = xasprintf("%s/scratch-%u", b->tmpdir,
                                              __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
        if (mkdir(path, 0755) < 0)
                return berth_error_sys(err, errno, "mkdir '%s'", path);
        int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? berth_error_sys(err, errno, "open '%s'", path) : fd;
}

/* Commit what fn writes into a root as the step's layer: a container of st->image, or a
 * directory of ours for scratch. */
static int write_step(struct stage *st, const struct json *cc, const char *extra, build_root_fn fn,
                      void *arg, struct berth_ctr *src_ctr, bool say, struct berth_error **err)
{
        struct build *b = st->b;
        struct build_commit bc = BUILD_STEP_COMMIT(st, cc);
        _cleanup_free_ char *id = NULL;
        int r;
        if (!*st->image) {
                _cleanup_close_ int dfd = scratch_dir(b, err);
                if (dfd < 0)
                        return dfd;
                if (src_ctr) {
                        struct nested n = {arg, NULL, dfd};
                        r = build_ctr_with_root(b->e, src_ctr, copy_from_root, &n, err);
                } else {
                        r = fn(dfd, arg, err);
                }
                bc.has_dir = true;
                bc.dir_fd = dfd;
                if (r == 0)
                        r = build_commit(b->e, &bc, &id, err);
        } else {
                _cleanup_free_ char *cid = NULL;
                _cleanup_ctr_ struct berth_ctr *c = NULL;
                r = build_create(st, cc, false, &cid, &c, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *short_id = units_truncate_id(cid);
                if (say && build_say(b, " ---> Running in %s\n", short_id) < 0) {
                        build_remove(st, c, false);
                        return berth_error_set(err, ECANCELED, "the client went away");
                }
                if (src_ctr) {
                        struct nested n = {arg, c, -1};
                        r = build_ctr_with_root(b->e, src_ctr, copy_from_root, &n, err);
                } else {
                        r = build_ctr_with_root(b->e, c, fn, arg, err);
                }
                if (r == 0) {
                        bc.ctr = c;
                        r = build_commit(b->e, &bc, &id, err);
                }
                if (r == 0 || b->o->rm || b->o->forcerm)
                        build_remove(st, c, say);
        }
        if (r == 0)
                r = build_cached(st, cc, extra, id, err);
        return r;
}

/* --from: an earlier stage (by name or index) or an image; *ret_id "" for scratch. */
static int from_image(struct stage *st, const char *from, char **ret_id, struct berth_error **err)
{
        struct build *b = st->b;
        for (size_t i = 0; i < st->index; i++) {
                const char *name = b->df->stages[i].name;
                char idx[32];
                snprintf(idx, sizeof(idx), "%zu", i);
                if ((name && strcasecmp(name, from) == 0) || strcmp(idx, from) == 0) {
                        pthread_mutex_lock(&b->lock);
                        const char *id = b->done[i] ? b->stage_ids[i] : NULL;
                        *ret_id = id ? xstrdup(id) : NULL;
                        pthread_mutex_unlock(&b->lock);
                        if (!*ret_id)
                                return berth_error_set(err, ECANCELED, "stage %s failed", from);
                        return 0;
                }
        }
        _cleanup_image_ struct berth_image *img = NULL;
        int r = berth_image_find(b->e, from, &img, err);
        if (r < 0)
                return r;
        *ret_id = xstrdup(img->id);
        return 0;
}

static int parse_chmod(const char *s, mode_t *ret, struct berth_error **err)
{
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 8);
        if (!*s || *end || errno || v > 07777)
                return berth_error_set(err, EINVAL, "invalid chmod parameter: %s", s);
        *ret = (mode_t)v;
        return 0;
}

static int write_heredocs(struct stage *st, const struct dockerfile_instruction *ins,
                          struct berth_error **err)
{
        int dfd = scratch_dir(st->b, err);
        if (dfd < 0)
                return dfd;
        for (size_t i = 0; i < ins->n_heredocs; i++) {
                const struct dockerfile_heredoc *h = &ins->heredocs[i];
                _cleanup_free_ char *content = NULL;
                int r = 0;
                if (h->expand)
                        r = build_expand(st, h->content ? h->content : "", &content, err);
                else
                        content = xstrdup(h->content ? h->content : "");
                _cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", dfd);
                _cleanup_close_ int wfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (r == 0 && write_file_at(wfd, h->name, content, strlen(content), 0644) < 0)
                        r = berth_error_sys(err, errno, "write heredoc %s", h->name);
                if (r < 0) {
                        close(dfd);
                        return r;
                }
        }
        return dfd;
}

struct prepare {
        struct copy *cp;
        char **srcs;
        size_t n;
        char *hash;
        bool index; /* the context's sources, found and hashed in its index */
};

/* A context source in the index, as resolve_source() finds it in a tree. */
static int resolve_in_index(struct copy *cp, const char *src, struct berth_error **err)
{
        struct build *b = cp->st->b;
        _cleanup_free_ char *rel = path_clean(src);
        if (strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0)
                return berth_error_set(err, EPERM,
                                       "forbidden path outside the build context: %s ()", src);
        _cleanup_free_ char *clean = path_clean_abs(src);
        if (has_wildcards(clean)) {
                _cleanup_strv_free_ char **m = build_context_match(b, clean);
                if (!m[0])
                        return berth_error_set(err, ENOENT, "no source files were specified");
                for (char **p = m; *p; p++) {
                        bool dir = false;
                        if (build_context_source(b, *p, &dir, NULL) == 0)
                                add_src(cp, *p, dir);
                }
                return 0;
        }
        bool dir = false;
        int r = build_context_source(b, clean, &dir, err);
        if (r < 0)
                return r;
        add_src(cp, clean, dir);
        return 0;
}

static int hash_in_index(struct copy *cp, char **ret)
{
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                berth_oom();
        for (size_t i = 0; i < cp->n_srcs; i++)
                build_context_hash(cp->st->b, cp->srcs[i].rel, md);
        unsigned char d[32];
        unsigned dl = 0;
        EVP_DigestFinal_ex(md, d, &dl);
        EVP_MD_CTX_free(md);
        char hex[65];
        blob_sha256_hex(d, hex);
        const char *kind = cp->n_srcs > 1 ? "multi" : cp->srcs[0].dir ? "dir" : "file";
        *ret = xasprintf("%s:%s", kind, hex);
        return 0;
}

/* The sources found and hashed with their root open. */
static int prepare_in(int rootfd, void *arg, struct berth_error **err)
{
        struct prepare *p = arg;
        p->cp->srcroot = rootfd;
        for (size_t i = 0; i < p->n; i++) {
                int r = p->index ? resolve_in_index(p->cp, p->srcs[i], err)
                                 : resolve_source(p->cp, p->srcs[i], err);
                if (r < 0)
                        return berth_error_prefix(err, "%s failed",
                                                  dockerfile_kind_name(p->cp->ins->kind));
        }
        return p->index ? hash_in_index(p->cp, &p->hash) : hash_sources(p->cp, &p->hash, err);
}

int build_copy(struct stage *st, const struct dockerfile_instruction *ins, struct berth_error **err)
{
        struct build *b = st->b;
        const char *what = dockerfile_kind_name(ins->kind);
        struct copy cp = {.st = st, .ins = ins, .add = ins->kind == DF_ADD, .srcroot = b->ctxfd};
        size_t n = 0;
        while (ins->args[n])
                n++;
        int r = 0;
        _cleanup_close_ int heredoc_fd = -EBADF;
        _cleanup_free_ char *dest = NULL;
        if (n < 2)
                r = berth_error_set(err, EINVAL, "%s requires at least two arguments", what);
        if (r == 0)
                r = build_expand(st, ins->args[n - 1], &dest, err);
        const struct dockerfile_flags *f = &ins->flags;
        if (r == 0 && f->chown && *f->chown) {
                _cleanup_free_ char *c = NULL;
                r = build_expand(st, f->chown, &c, err);
                if (r == 0) {
                        cp.chown = true;
                        /* a user alone: the group of the same name or number */
                        cp.chown_spec = strchr(c, ':') ? xstrdup(c) : xasprintf("%s:%s", c, c);
                }
        }
        if (r == 0 && f->chmod && *f->chmod) {
                _cleanup_free_ char *c = NULL;
                r = build_expand(st, f->chmod, &c, err);
                if (r == 0)
                        r = parse_chmod(c, &cp.chmod, err);
                cp.has_chmod = r == 0;
        }
        _cleanup_free_ char *from = NULL;
        if (r == 0 && f->from && *f->from) {
                r = build_expand(st, f->from, &from, err);
                if (r == 0)
                        r = from_image(st, from, &cp.from_image, err);
        }
        if (r < 0) {
                copy_release(&cp);
                return r;
        }
        /* DEST: relative to WORKDIR; a trailing '/' (or "." naming WORKDIR) means a directory */
        size_t dl = strlen(dest);
        cp.dest_slash = dl && dest[dl - 1] == '/';
        if (dest[0] != '/') {
                const char *wd = json_str(json_get(st->config, "WorkingDir"));
                _cleanup_free_ char *joined = xasprintf("/%s/%s", wd ? wd : "", dest);
                cp.dest = path_clean(joined);
        } else {
                cp.dest = path_clean(dest);
        }
        if (ins->n_heredocs) {
                heredoc_fd = write_heredocs(st, ins, err);
                if (heredoc_fd < 0) {
                        copy_release(&cp);
                        return heredoc_fd;
                }
        }
        /* the sources; a --from image's are resolved inside its root below */
        _cleanup_free_ char *hash = NULL;
        _cleanup_free_ char *extra = NULL;
        _cleanup_ctr_ struct berth_ctr *src_ctr = NULL;
        _cleanup_free_ char *src_cid = NULL;
        struct stage src_st = *st;
        if (cp.from_image && *cp.from_image) {
                _cleanup_json_ struct json *rc = json_new_object();
                struct json *cmd = json_object_set(rc, "Cmd", json_new_array());
                json_array_append(cmd, json_new_string("#(nop) source"));
                json_object_set(rc, "Entrypoint", json_new_array());
                src_st.image = cp.from_image;
                r = build_create(&src_st, rc, false, &src_cid, &src_ctr, err);
        } else if (cp.from_image) {
                r = berth_error_set(err, EINVAL, "%s --from=%s: the stage has no files", what,
                                    from);
        }
        char **srcs = xcalloc(n + 1, sizeof(char *));
        size_t n_srcs = 0;
        bool heredoc_srcs = false, plain_srcs = false, url_srcs = false;
        int url_fd = -1;
        _cleanup_free_ char *url_dir = NULL;
        for (size_t i = 0; r == 0 && i + 1 < n; i++) {
                const char *a = ins->args[i];
                if (ins->n_heredocs && a[0] == '<' && a[1] == '<') {
                        const char *name = a + 2;
                        if (*name == '-')
                                name++;
                        _cleanup_free_ char *nm = xstrdup(name);
                        size_t k = strlen(nm);
                        if (k >= 2 && (nm[0] == '"' || nm[0] == '\'') && nm[k - 1] == nm[0]) {
                                nm[k - 1] = '\0';
                                memmove(nm, nm + 1, k - 1);
                        }
                        srcs[n_srcs++] = xstrdup(nm);
                        heredoc_srcs = true;
                        continue;
                }
                _cleanup_free_ char *src = NULL;
                r = build_expand(st, a, &src, err);
                if (r < 0)
                        break;
                if (cp.add &&
                    (strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0)) {
                        /* downloads go to a directory of the step's own, their root */
                        if (url_fd < 0)
                                url_fd = step_dir(b, "url", &url_dir, err);
                        r = url_fd < 0 ? url_fd : fetch_url(src, url_fd, &srcs[n_srcs++], err);
                        url_srcs = true;
                } else {
                        srcs[n_srcs++] = TAKE_PTR(src);
                        plain_srcs = true;
                }
        }
        if (r == 0 && (heredoc_srcs + plain_srcs + url_srcs) > 1)
                r = berth_error_set(err, EINVAL,
                                    "%s: sources of one kind only (files of the context, URLs "
                                    "or heredocs)",
                                    what);
        if (r == 0 && heredoc_srcs)
                cp.srcroot = heredoc_fd;
        if (r == 0 && url_srcs)
                cp.srcroot = url_fd;
        /* the context's sources come from its index */
        struct prepare p = {&cp, srcs, n_srcs, NULL, !src_ctr && cp.srcroot == b->ctxfd};
        if (r == 0 && src_ctr)
                r = build_ctr_with_root(b->e, src_ctr, prepare_in, &p, err);
        else if (r == 0)
                r = prepare_in(cp.srcroot, &p, err);
        if (r == 0 && cp.n_srcs > 1 && !cp.dest_slash)
                r = berth_error_set(err, EINVAL,
                                    "When using %s with more than one source file, the "
                                    "destination must be a directory and end with a /",
                                    what);
        bool hit = false;
        _cleanup_json_ struct json *cc = NULL;
        if (r == 0) {
                /* dockerd's form, --chown glued to the hash */
                _cleanup_free_ char *chown_comment =
                    cp.chown ? xasprintf("--chown=%s", f->chown) : xstrdup("");
                _cleanup_free_ char *comment =
                    xasprintf("%s %s%s in %s ", what, chown_comment, p.hash, dest);
                extra = xasprintf("chown=%s chmod=%s%o from=%s", cp.chown_spec ? cp.chown_spec : "",
                                  cp.has_chmod ? "" : "-", (unsigned)cp.chmod,
                                  cp.from_image ? cp.from_image : "");
                cc = build_comment_config(st, comment, false);
                r = build_probe(st, cc, extra, &hit, err);
        }
        if (r == 0 && !hit && p.index)
                r = build_context_unpack(b, err);
        if (r == 0 && !hit)
                r = write_step(st, cc, extra, copy_into, &cp, src_ctr, false, err);
        if (src_ctr)
                build_remove(st, src_ctr, false);
        free(p.hash);
        for (size_t i = 0; i < n_srcs; i++)
                free(srcs[i]);
        if (url_fd >= 0)
                close(url_fd);
        if (url_dir)
                (void)rm_rf(url_dir); /* the downloads go with their step */
        free(srcs);
        copy_release(&cp);
        (void)hash;
        (void)src_cid;
        return r;
}

/* ---- RUN --mount ---- */

static char *sha256_hex(const char *s)
{
        unsigned char d[32];
        unsigned dl = 0;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(md, s, strlen(s)) != 1 || EVP_DigestFinal_ex(md, d, &dl) != 1)
                berth_oom();
        EVP_MD_CTX_free(md);
        char *hex = xmalloc(65);
        blob_sha256_hex(d, hex);
        return hex;
}

static char *mounts_root(struct berth_engine *e)
{
        return xasprintf("%s/build-mounts", berth_layers_data_root(e->layers));
}

int build_cache_mount(struct build *b, const struct dockerfile_mount *m, struct json *mounts,
                      struct berth_error **err)
{
        _cleanup_free_ char *root = mounts_root(b->e);
        if (mkdir(root, 0700) < 0 && errno != EEXIST)
                return berth_error_sys(err, errno, "mkdir '%s'", root);
        _cleanup_free_ char *hex = sha256_hex(m->id && *m->id ? m->id : m->target);
        _cleanup_free_ char *dir = xasprintf("%s/%s", root, hex);
        if (mkdir(dir, m->has_mode ? (mode_t)m->mode : 0755) == 0) {
                if (chown(dir, m->has_uid ? m->uid : 0, m->has_gid ? m->gid : 0) < 0 ||
                    chmod(dir, m->has_mode ? (mode_t)m->mode : 0755) < 0)
                        return berth_error_sys(err, errno, "cache mount '%s'", dir);
        } else if (errno != EEXIST) {
                return berth_error_sys(err, errno, "mkdir '%s'", dir);
        }
        struct json *o = json_array_append(mounts, json_new_object());
        json_set_str(o, "Type", "bind");
        json_set_str(o, "Source", dir);
        json_set_str(o, "Target", m->target);
        json_set_bool(o, "ReadOnly", m->readonly);
        return 0;
}

int build_bind_mount(struct build *b, const struct dockerfile_mount *m, struct json *mounts,
                     struct berth_buf *key, struct berth_error **err)
{
        int ur = build_context_unpack(b, err);
        if (ur < 0)
                return ur;
        _cleanup_free_ char *clean = path_clean_abs(m->source && *m->source ? m->source : "/");
        _cleanup_close_ int fd = open_in_root(b->ctxfd, clean, O_PATH, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return berth_error_set(err, ENOENT, "failed to compute cache key: \"%s\" not found",
                                       clean);
        /* its contents count in the cache key, as a COPY's */
        struct copy cp = {.srcroot = b->ctxfd};
        add_src(&cp, clean, S_ISDIR(st.st_mode));
        _cleanup_free_ char *hash = NULL;
        int r = hash_sources(&cp, &hash, err);
        if (r == 0) {
                buf_puts(key, hash);
                buf_putc(key, ' ');
        }
        /* the context is berthd's alone (its tmpfs is reached through fds): what the RUN sees
         * is a copy below the build's directory, and what it writes there (rw) is dropped with
         * the build, as BuildKit drops it */
        _cleanup_free_ char *dir = NULL, *source = NULL;
        _cleanup_close_ int dfd = r == 0 ? step_dir(b, "bind", &dir, err) : -1;
        if (r == 0 && dfd < 0)
                r = dfd;
        if (r == 0) {
                const char *slash = strrchr(clean, '/');
                _cleanup_close_ int parent = -EBADF;
                if (slash == clean) {
                        parent = open_in_root(b->ctxfd, "/", O_PATH | O_DIRECTORY, 0);
                } else {
                        _cleanup_free_ char *pd = xstrndup(clean, (size_t)(slash - clean));
                        parent = open_in_root(b->ctxfd, pd, O_PATH | O_DIRECTORY, 0);
                }
                struct copy c2 = {.srcroot = b->ctxfd};
                if (parent < 0)
                        r = berth_error_sys(err, -parent, "bind mount %s", clean);
                else if (slash[1])
                        r = copy_entry(&c2, parent, slash + 1, dfd, "src", clean, err);
                else
                        r = copy_entry(&c2, b->ctxfd, "", dfd, "src", clean, err);
                copy_release(&c2);
                source = xasprintf("%s/src", dir);
        }
        copy_release(&cp);
        if (r < 0)
                return r;
        struct json *o = json_array_append(mounts, json_new_object());
        json_set_str(o, "Type", "bind");
        json_set_str(o, "Source", source);
        json_set_str(o, "Target", m->target);
        json_set_bool(o, "ReadOnly", m->readonly);
        return 0;
}

int build_cache_mounts_prune(struct berth_engine *e, uint64_t *ret_bytes)
{
        _cleanup_free_ char *root = mounts_root(e);
        DIR *d = opendir(root);
        int n = 0;
        *ret_bytes = 0;
        if (!d)
                return 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *dir = xasprintf("%s/%s", root, de->d_name);
                int64_t bytes = du_bytes(dir);
                if (rm_rf(dir) == 0) {
                        n++;
                        *ret_bytes += bytes > 0 ? (uint64_t)bytes : 0;
                }
        }
        closedir(d);
        return n;
}

/* ---- WORKDIR ---- */

static int workdir_in(int rootfd, void *arg, struct berth_error **err)
{
        struct stage *st = arg;
        const char *wd = json_str(json_get(st->config, "WorkingDir"));
        int fd = mkdir_in_root(rootfd, wd, 0, 0, err);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

int build_workdir(struct stage *st, struct berth_error **err)
{
        const char *wd = json_str(json_get(st->config, "WorkingDir"));
        _cleanup_free_ char *comment = xasprintf("WORKDIR %s", wd);
        _cleanup_json_ struct json *cc = build_comment_config(st, comment, false);
        bool hit;
        int r = build_probe(st, cc, NULL, &hit, err);
        if (r < 0 || hit)
                return r;
        return write_step(st, cc, NULL, workdir_in, st, NULL, true, err);
}
