/*
 * container-archive.c — files in and out of a container: the stat, archive
 * and extract behind HEAD|GET|PUT /containers/{id}/archive, and export
 * (contract in containers.h).
 *
 * The container's root.  Every operation first opens the container's root
 * directory as an fd, holding the container's operation lock until it is done
 * (as dockerd holds the container's lock), so no start, stop, restart or
 * remove changes what that fd is while it is used:
 *   - a running (or paused) container: its init's root, /proc/<pid>/root,
 *     which is the container's own mount namespace's view (its mounts
 *     included).  The pid is checked to be the child of the container's shim
 *     (whose start time berthd recorded) through an fd on /proc/<pid>, and
 *     root is opened through that same fd, so a pid reused by another process
 *     after the container ended can never hand us a host root;
 *   - any other state: the container's overlay (image/snapshot.h) mounted at
 *     its rootfs dir, opened, and at once lazily unmounted: nothing is left in
 *     the mount table, and the overlay goes when the last fd does.
 * From there every path is resolved with openat2 RESOLVE_IN_ROOT below that
 * fd (base/fileio.h), and the archive is walked and extracted by fd
 * (image/tar-writer.h, image/untar.h): a symlink in the container, planted
 * before or swapped in during the copy (CVE-2018-15664), resolves inside the
 * container and never on the host.  Export reads the overlay alone (the
 * running container's mount at its rootfs dir, or one mounted as above), as
 * dockerd exports the container's layer without volumes or /proc.
 *
 * Paths follow dockerd: the request's path is cleaned as Go's filepath.Join
 * ("/" + path) with a trailing "/" or "/." kept; the directory part is
 * resolved following symlinks (in the root), the last element is not (a
 * symlink is archived as itself; its linkTarget is what it resolves to, by
 * the same rules, as a path in the container); PUT resolves the whole path.
 *
 * Never: resolve a container path with a plain open or realpath on the host,
 * hold the manager lock across I/O, or leave a mount behind.
 */
#include <fcntl.h>
#include <sched.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "container-internal.h"
#include "db.h"
#include "image/snapshot.h"
#include "image/tar-writer.h"
#include "image/untar.h"

/* ---- the image's layers ---- */

int ctr_image_chain_ids(struct berth_engine *e, const char *image_id, char ***ret, size_t *ret_n,
                        struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h,
                               "SELECT chain_id FROM image_layers WHERE image_id = ?1 ORDER BY "
                               "position",
                               -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
                v = xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = xstrdup((const char *)sqlite3_column_text(st, 0));
                v[n] = NULL;
        }
        sqlite3_finalize(st);
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- the container's root ---- */

struct ctr_root {
        struct berth_ctr *c;
        int fd; /* O_PATH, the root directory */
        bool locked;
        bool running;
        char *private_rootfs; /* mounted in this thread's own mount namespace, with volumes */
};

static uint64_t stat_field(int procfd, int field, pid_t *ret_ppid)
{
        _cleanup_free_ char *text = NULL;
        size_t n;
        _cleanup_close_ int fd = openat(procfd, "stat", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_full_fd(fd, 4096, &text, &n) < 0)
                return 0;
        /* the command may hold spaces and parentheses: fields start after the last ')' */
        const char *p = strrchr(text, ')');
        if (!p)
                return 0;
        p++;
        uint64_t want = 0;
        for (int f = 3; *p; f++) {
                while (*p == ' ')
                        p++;
                if (f == 4 && ret_ppid)
                        *ret_ppid = (pid_t)strtol(p, NULL, 10);
                if (f == field) {
                        want = strtoull(p, NULL, 10);
                        break;
                }
                while (*p && *p != ' ')
                        p++;
        }
        return want;
}

/* /proc/<pid>/root of the container's init, checked to be the shim's child. */
static int open_running_root(struct berth_ctr *c, pid_t pid, pid_t shim_pid, uint64_t shim_start,
                             struct berth_error **err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        _cleanup_close_ int procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        snprintf(path, sizeof(path), "/proc/%d", (int)shim_pid);
        _cleanup_close_ int shimfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        pid_t ppid = 0;
        if (procfd < 0 || shimfd < 0 || stat_field(procfd, 22, &ppid) == 0 || ppid != shim_pid ||
            stat_field(shimfd, 22, NULL) != shim_start)
                return berth_error_set(err, ESRCH, "container %.12s: its process has ended", c->id);
        /* through the checked /proc/<pid>: a process that ended since fails here */
        int fd = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, ESRCH, "container %.12s: its process has ended", c->id);
        return fd;
}

/* The overlay of a container that is not running, mounted at its rootfs dir
 * for as long as it takes to open it. */
/*
 * A stopped container's root: its overlay mounted, opened, and lazily unmounted at once;
 * with_mounts (archive and extract, as dockerd mounts volumes for them): when it has
 * volumes or binds, the overlay and those are mounted in a mount namespace of this thread
 * alone (a slave of the host's: nothing propagates back), kept until root_release.  The
 * caller's thread must be one of its own that ends after (an API worker).
 */
static int open_stopped_root(struct berth_engine *e, struct berth_ctr *c, bool with_mounts,
                             struct ctr_root *root, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_strv_free_ char **chains = NULL;
        size_t n = 0;
        int r = ctr_image_chain_ids(e, c->image_id, &chains, &n, err);
        if (r < 0)
                return r;
        ctr_rootfs_release(m, c->id); /* its last run's overlay, if still held */
        bool private = with_mounts && ctr_has_mount_points(c);
        if (private &&
            (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0))
                return berth_error_sys(err, errno,
                                       "container %.12s: a mount namespace for its volumes", c->id);
        _cleanup_free_ char *rootfs = snapshot_path(m->data_root, c->id, "rootfs");
        int fd;
        if (private) {
                r = snapshot_mount(m->data_root, c->id, (const char *const *)chains, n, NULL,
                                   err);
                if (r < 0)
                        return berth_error_prefix(err, "container %.12s: mount root filesystem",
                                                  c->id);
                fd = open(rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return berth_error_sys(err, errno,
                                               "container %.12s: open root filesystem", c->id);
        } else {
                (void)snapshot_unmount(m->data_root, c->id, NULL, NULL); /* a crash's leftover */
                /* an overlay in no mount tree: a kill of berthd now leaves no mount */
                fd = snapshot_open(m->data_root, c->id, (const char *const *)chains, n, err);
                if (fd < 0)
                        return berth_error_prefix(err, "container %.12s: mount root filesystem",
                                                  c->id);
        }
        /* what was opened is the overlay just mounted, never the empty directory
         * below it in the data root */
        struct statfs sf;
        if (fstatfs(fd, &sf) < 0 || sf.f_type != OVERLAYFS_SUPER_MAGIC) {
                close(fd);
                return berth_error_set(
                    err, EIO, "container %.12s: its root filesystem is not mounted", c->id);
        }
        if (private) {
                root->private_rootfs = TAKE_PTR(rootfs);
                pthread_mutex_lock(&m->lock);
                r = ctr_mount_points_at(c, fd, err);
                pthread_mutex_unlock(&m->lock);
                if (r < 0) {
                        close(fd);
                        return r;
                }
        }
        return fd;
}

static void root_release(struct ctr_root *r)
{
        if (r->fd >= 0)
                close(r->fd);
        r->fd = -EBADF;
        /* before the operation lock goes: a start must find the overlay free */
        if (r->private_rootfs && umount2(r->private_rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                log_warn("container %.12s: unmount '%s': %m", r->c->id, r->private_rootfs);
        free(r->private_rootfs);
        r->private_rootfs = NULL;
        if (r->locked)
                pthread_mutex_unlock(&r->c->op_lock);
        r->locked = false;
}

static void root_releasep(struct ctr_root *r)
{
        root_release(r);
}
#define _cleanup_root_ _cleanup_(root_releasep)

static int root_open(struct berth_engine *e, struct berth_ctr *c, bool with_mounts,
                     struct ctr_root *r, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        *r = (struct ctr_root){.c = c, .fd = -EBADF};
        pthread_mutex_lock(&c->op_lock);
        r->locked = true;
        pthread_mutex_lock(&m->lock);
        bool gone = c->removed;
        enum ctr_state st = c->state;
        pid_t pid = c->pid, shim = c->shim_pid;
        uint64_t shim_start = c->shim_start;
        pthread_mutex_unlock(&m->lock);
        if (gone)
                return berth_error_set(err, ENOENT, "No such container: %s", c->id);
        if ((st == CTR_RUNNING || st == CTR_PAUSED) && pid > 0) {
                r->running = true;
                r->fd = open_running_root(c, pid, shim, shim_start, err);
        } else {
                r->fd = open_stopped_root(e, c, with_mounts, r, err);
        }
        return r->fd < 0 ? r->fd : 0;
}

/* ---- paths as dockerd takes them ---- */

/* Go's filepath.Base. */
static char *go_base(const char *p)
{
        if (!*p)
                return xstrdup(".");
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
                n--;
        if (!n)
                return xstrdup("/");
        const char *s = memrchr(p, '/', n);
        return s ? xstrndup(s + 1, n - (size_t)(s + 1 - p)) : xstrndup(p, n);
}

static bool current_dir(const char *p)
{
        _cleanup_free_ char *b = go_base(p);
        return strcmp(b, ".") == 0;
}

/* docker's PreserveTrailingDotOrSeparator(Clean("/" + path), path). */
static char *abs_path(const char *path)
{
        char *clean = path_clean_abs(path);
        size_t n = strlen(path);
        if (!current_dir(clean) && current_dir(path)) {
                char *t = xasprintf("%s%s.", clean, clean[strlen(clean) - 1] == '/' ? "" : "/");
                free(clean);
                clean = t;
        }
        if (clean[strlen(clean) - 1] != '/' && n && path[n - 1] == '/') {
                char *t = xasprintf("%s/", clean);
                free(clean);
                clean = t;
        }
        return clean;
}

/* ---- stat ---- */

void berth_path_stat_release(struct berth_path_stat *st)
{
        free(st->name);
        free(st->link_target);
        *st = (struct berth_path_stat){0};
}

/* Go's os.FileMode from st_mode. */
static uint32_t go_file_mode(mode_t m)
{
        uint32_t v = m & 0777;
        switch (m & S_IFMT) {
        case S_IFDIR:
                v |= 1u << 31;
                break;
        case S_IFLNK:
                v |= 1u << 27;
                break;
        case S_IFBLK:
                v |= 1u << 26;
                break;
        case S_IFCHR:
                v |= 1u << 26 | 1u << 21;
                break;
        case S_IFIFO:
                v |= 1u << 25;
                break;
        case S_IFSOCK:
                v |= 1u << 24;
                break;
        }
        if (m & S_ISUID)
                v |= 1u << 23;
        if (m & S_ISGID)
                v |= 1u << 22;
        if (m & S_ISVTX)
                v |= 1u << 20;
        return v;
}

/*
 * docker's FollowSymlinkInScope, for naming only: abs resolved component by
 * component below rootfd (every step by fd, O_NOFOLLOW, links read with
 * readlinkat), as the path it is in the container.  A missing component ends
 * the walk, the rest taken lexically.  What is opened is always resolved again
 * with RESOLVE_IN_ROOT; this string is what the stat header shows.
 */
static int resolve_in_scope(int rootfd, const char *abs, char **ret, struct berth_error **err)
{
        _cleanup_free_ char *todo = xstrdup(abs);
        struct berth_buf done = BERTH_BUF_INIT;
        buf_putc(&done, '/');
        _cleanup_close_ int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        int links = 0;
        bool missing = false;
        for (;;) {
                char *p = todo;
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *end = strchrnul(p, '/');
                _cleanup_free_ char *comp = xstrndup(p, (size_t)(end - p));
                char *rest = xstrdup(end);
                free(todo);
                todo = rest;
                if (strcmp(comp, ".") == 0)
                        continue;
                if (strcmp(comp, "..") == 0 || missing) {
                        if (strcmp(comp, "..") == 0) {
                                while (done.len > 1 && done.data[done.len - 1] != '/')
                                        done.len--;
                                if (done.len > 1)
                                        done.len--;
                                done.data[done.len] = '\0';
                        } else {
                                if (done.len > 1)
                                        buf_putc(&done, '/');
                                buf_puts(&done, comp);
                        }
                        if (!missing) {
                                closep(&cur);
                                cur = open_in_root(rootfd, done.data, O_PATH | O_DIRECTORY, 0);
                                if (cur < 0)
                                        missing = true;
                        }
                        continue;
                }
                int fd = cur >= 0 ? openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        if (fd >= 0)
                                close(fd);
                        missing = true;
                        if (done.len > 1)
                                buf_putc(&done, '/');
                        buf_puts(&done, comp);
                        continue;
                }
                if (S_ISLNK(st.st_mode)) {
                        char link[4097];
                        ssize_t n = readlinkat(fd, "", link, sizeof(link) - 1);
                        close(fd);
                        if (n < 0 || ++links > 255) {
                                buf_release(&done);
                                return berth_error_set(err, ELOOP, "%s: too many links", abs);
                        }
                        link[n] = '\0';
                        char *t = xasprintf("%s/%s", link, todo);
                        free(todo);
                        todo = t;
                        if (link[0] == '/') {
                                buf_reset(&done);
                                buf_putc(&done, '/');
                        }
                        closep(&cur);
                        cur = open_in_root(rootfd, done.data, O_PATH | O_DIRECTORY, 0);
                        if (cur < 0)
                                missing = true;
                        continue;
                }
                if (done.len > 1)
                        buf_putc(&done, '/');
                buf_puts(&done, comp);
                closep(&cur);
                cur = fd;
        }
        *ret = buf_steal(&done);
        return 0;
}

static int not_found(const char *path, const char *ref, struct berth_error **err)
{
        return berth_error_set(err, ENOENT, "Could not find the file %s in container %s", path,
                               ref);
}

/* The resolved path: fd, O_PATH on the thing itself (a symlink not followed),
 * and its fstat: what the stat header shows is what is archived. */
struct resolved {
        char *abs;
        int fd;
        struct stat st;
};

static void resolved_release(struct resolved *r)
{
        free(r->abs);
        if (r->fd >= 0)
                close(r->fd);
}

static int resolve(int rootfd, const char *path, const char *ref, struct resolved *r,
                   struct berth_error **err)
{
        *r = (struct resolved){.fd = -EBADF};
        if (!path || !*path)
                return berth_error_set(err, EINVAL, "bad parameter: pathcannot be empty");
        r->abs = abs_path(path);
        const char *slash = strrchr(r->abs, '/');
        _cleanup_free_ char *dir = xstrndup(r->abs, (size_t)(slash - r->abs) + 1);
        const char *base = slash + 1;
        _cleanup_close_ int dirfd = open_in_root(rootfd, dir, O_PATH | O_DIRECTORY, 0);
        int e = dirfd < 0 ? -dirfd : 0;
        if (!e && *base && strcmp(base, ".") != 0)
                r->fd = openat(dirfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        else if (!e)
                r->fd = TAKE_FD(dirfd);
        if (!e && (r->fd < 0 || fstat(r->fd, &r->st) < 0))
                e = errno;
        if (e == ENOENT)
                return not_found(path, ref, err);
        if (e == ENOTDIR)
                return berth_error_set(err, EINVAL, "lstat %s: not a directory", r->abs);
        if (e)
                return berth_error_sys(err, e, "lstat %s", r->abs);
        return 0;
}

static int fill_stat(int rootfd, const struct resolved *r, struct berth_path_stat *ret,
                     struct berth_error **err)
{
        *ret = (struct berth_path_stat){
            .name = go_base(r->abs),
            .size = (int64_t)r->st.st_size,
            .mode = go_file_mode(r->st.st_mode),
            .mtime_ns = (int64_t)r->st.st_mtim.tv_sec * 1000000000 + r->st.st_mtim.tv_nsec,
        };
        if (S_ISLNK(r->st.st_mode)) {
                int k = resolve_in_scope(rootfd, r->abs, &ret->link_target, err);
                if (k < 0) {
                        berth_path_stat_release(ret);
                        return k;
                }
        } else {
                ret->link_target = xstrdup("");
        }
        return 0;
}

int berth_ctr_stat_path(struct berth_engine *e, struct berth_ctr *c, const char *ref,
                        const char *path, struct berth_path_stat *ret, struct berth_error **err)
{
        if (!path || !*path)
                return berth_error_set(err, EINVAL, "bad parameter: pathcannot be empty");
        _cleanup_root_ struct ctr_root root = {.fd = -EBADF};
        int r = root_open(e, c, true, &root, err);
        if (r < 0)
                return r;
        struct resolved res;
        r = resolve(root.fd, path, ref, &res, err);
        if (r == 0)
                r = fill_stat(root.fd, &res, ret, err);
        resolved_release(&res);
        return r;
}

/* ---- archive ---- */

int berth_ctr_archive_path(struct berth_engine *e, struct berth_ctr *c, const char *ref,
                           const char *path, berth_archive_ready_fn ready,
                           berth_archive_write_fn write, void *arg, struct berth_error **err)
{
        if (!path || !*path)
                return berth_error_set(err, EINVAL, "bad parameter: pathcannot be empty");
        _cleanup_root_ struct ctr_root root = {.fd = -EBADF};
        int r = root_open(e, c, true, &root, err);
        if (r < 0)
                return r;
        struct resolved res;
        struct berth_path_stat st = {0};
        r = resolve(root.fd, path, ref, &res, err);
        if (r == 0)
                r = fill_stat(root.fd, &res, &st, err);
        if (r == 0)
                r = ready(&st, arg);
        if (r == 0) {
                _cleanup_tarw_ struct tarw *w = tarw_new(write, arg);
                r = tarw_add_fd(w, res.fd, st.name, err);
                if (r == 0)
                        r = tarw_finish(w, err);
                if (r == 0)
                        ctr_event(e, c, "archive-path", NULL);
        }
        berth_path_stat_release(&st);
        resolved_release(&res);
        return r;
}

/* ---- extract ---- */

/* What the tar asked for failed: dockerd's words, and a 500 whatever the errno. */
static int tar_failed(struct berth_error **err)
{
        berth_error_prefix(err, "Error processing tar file(exit status 1)");
        if (err && *err)
                (*err)->code = EIO;
        return -EIO;
}

/* A file of the container's as text: opened O_PATH in the root, and read only
 * when it is a regular file (a FIFO planted there must not block us). */
static char *read_container_file(int rootfd, const char *path)
{
        _cleanup_close_ int fd = open_in_root(rootfd, path, O_PATH, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return NULL;
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        _cleanup_close_ int rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        char *text = NULL;
        if (rfd < 0 || read_full_fd(rfd, 16 << 20, &text, NULL) < 0)
                return NULL;
        return text;
}

/* The id in column 2 of the line of db (passwd or group) whose name (column 0)
 * or id is key; *ret_next the column after it (a user's group). */
static bool db_lookup(const char *db, const char *key, uint32_t *ret, uint32_t *ret_next)
{
        uint64_t num;
        bool numeric = parse_u64(key, &num) == 0 && num < UINT32_MAX;
        for (const char *line = db; line && *line;) {
                const char *nl = strchrnul(line, '\n');
                _cleanup_free_ char *l = xstrndup(line, (size_t)(nl - line));
                char *f[4] = {0};
                char *p = l;
                for (int i = 0; i < 4 && p; i++) {
                        f[i] = p;
                        p = strchr(p, ':');
                        if (p)
                                *p++ = '\0';
                }
                uint64_t id, next = 0;
                if (f[0] && f[2] && parse_u64(f[2], &id) == 0 && id < UINT32_MAX &&
                    (numeric ? id == num : strcmp(f[0], key) == 0)) {
                        *ret = (uint32_t)id;
                        if (ret_next && f[3] && parse_u64(f[3], &next) == 0 && next < UINT32_MAX)
                                *ret_next = (uint32_t)next;
                        return true;
                }
                line = *nl ? nl + 1 : NULL;
        }
        if (numeric) {
                *ret = (uint32_t)num;
                return true;
        }
        return false;
}

/*
 * copyUIDGID: the container's user (Config.User, "user[:group]") as owner of
 * every entry.  dockerd looks the name up in the host's passwd database; berth
 * looks it up in the container's own /etc/passwd and /etc/group, where the
 * user lives (a number not listed there stands for itself, group 0).
 */
static int container_owner(int rootfd, const char *spec, uid_t *ret_uid, gid_t *ret_gid,
                           struct berth_error **err)
{
        _cleanup_free_ char *user = xstrdup(spec);
        char *group = strchr(user, ':');
        if (group)
                *group++ = '\0';
        _cleanup_free_ char *passwd = read_container_file(rootfd, "/etc/passwd");
        _cleanup_free_ char *grp = group ? read_container_file(rootfd, "/etc/group") : NULL;
        uint32_t uid = 0, gid = 0;
        if (!db_lookup(passwd, user, &uid, &gid))
                return berth_error_set(err, EINVAL,
                                       "unable to find user %s: no matching entries in passwd file",
                                       user);
        if (group && !db_lookup(grp, group, &gid, NULL))
                return berth_error_set(err, EINVAL,
                                       "unable to find group %s: no matching entries in group file",
                                       group);
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}

int berth_ctr_extract_to_dir(struct berth_engine *e, struct berth_ctr *c, const char *ref,
                             const char *path, const struct berth_extract_opts *o,
                             berth_archive_read_fn read, void *arg, struct berth_error **err)
{
        if (!path || !*path)
                return berth_error_set(err, EINVAL, "bad parameter: pathcannot be empty");
        _cleanup_root_ struct ctr_root root = {.fd = -EBADF};
        int r = root_open(e, c, true, &root, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *abs = abs_path(path);
        /* the last element too: an archive may go to a symlink to a directory */
        _cleanup_close_ int dest = open_in_root(root.fd, abs, O_PATH, 0);
        if (dest == -ENOENT)
                return not_found(path, ref, err);
        struct stat st;
        if (dest < 0 || fstat(dest, &st) < 0)
                return berth_error_sys(err, dest < 0 ? -dest : errno, "lstat %s", abs);
        if (!S_ISDIR(st.st_mode))
                return berth_error_set(err, ENOTDIR, "extraction point is not a directory");
        const struct json *ro = json_get(c->host_config, "ReadonlyRootfs");
        if (json_is(ro, JSON_BOOL) && ro->b)
                return berth_error_set(err, EROFS, "container rootfs is marked read-only");
        if (fd_on_kernel_fs(dest))
                return berth_error_set(err, EPERM,
                                       "cannot extract to %s: not a directory of the container but "
                                       "part of a kernel filesystem",
                                       abs);
        /* the destination as docker's chroot sees it: walked again in the root
         * for every entry; "" for the root itself */
        _cleanup_free_ char *clean = path_clean_abs(path);
        struct untar_opts uo = {
            .prefix = clean + 1,
            .dest_name = clean,
            .no_overwrite_dir_nondir = o->no_overwrite_dir_nondir,
        };
        const char *user = json_str(json_get(c->config, "User"));
        if (o->copy_uid_gid && user && *user) {
                r = container_owner(root.fd, user, &uo.uid, &uo.gid, err);
                if (r < 0)
                        return r;
                uo.chown = true;
        }
        _cleanup_untar_ struct untar *u = NULL;
        r = untar_begin(root.fd, &uo, &u, err);
        char *buf = xmalloc(256 * 1024);
        while (r == 0) {
                ssize_t n = read(buf, 256 * 1024, arg, err);
                if (n < 0) {
                        r = (int)n;
                        break;
                }
                if (n == 0)
                        break;
                if ((r = untar_write(u, buf, (size_t)n, err)) < 0)
                        r = tar_failed(err);
        }
        free(buf);
        if (r == 0 && (r = untar_finish(u, err)) < 0)
                r = tar_failed(err);
        if (r == 0)
                ctr_event(e, c, "extract-to-dir", NULL);
        return r;
}

/* ---- export ---- */

int berth_ctr_export(struct berth_engine *e, struct berth_ctr *c, berth_archive_ready_fn ready,
                     berth_archive_write_fn write, void *arg, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_root_ struct ctr_root root = {.fd = -EBADF};
        int r = root_open(e, c, false, &root, err);
        if (r < 0)
                return r;
        _cleanup_close_ int layer = -EBADF;
        if (root.running) {
                /* the overlay alone, as start mounted it: not the namespace's view */
                _cleanup_free_ char *rootfs = snapshot_path(m->data_root, c->id, "rootfs");
                layer = open(rootfs, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct statfs sf;
                if (layer < 0 || fstatfs(layer, &sf) < 0 || sf.f_type != OVERLAYFS_SUPER_MAGIC)
                        return berth_error_set(err, EIO,
                                               "container %.12s: its root filesystem is not "
                                               "mounted",
                                               c->id);
        }
        r = ready(NULL, arg);
        if (r < 0)
                return r;
        _cleanup_tarw_ struct tarw *w = tarw_new(write, arg);
        r = tarw_add(w, layer >= 0 ? layer : root.fd, NULL, "", err);
        if (r == 0)
                r = tarw_finish(w, err);
        if (r == 0)
                ctr_event(e, c, "export", NULL);
        return r;
}

/* ---- the builder's COPY, ADD and WORKDIR ---- */

int build_ctr_with_root(struct berth_engine *e, struct berth_ctr *c, build_root_fn fn, void *arg,
                        struct berth_error **err)
{
        _cleanup_root_ struct ctr_root root = {.fd = -EBADF};
        int r = root_open(e, c, false, &root, err);
        if (r < 0)
                return r;
        if (root.running)
                return berth_error_set(err, EBUSY, "container %.12s is running", c->id);
        return fn(root.fd, arg, err);
}

int build_ctr_owner(int rootfd, const char *spec, uid_t *ret_uid, gid_t *ret_gid,
                    struct berth_error **err)
{
        return container_owner(rootfd, spec, ret_uid, ret_gid, err);
}
