/*
 * container-changes.c — GET /containers/{id}/changes (`docker diff`): what the
 * container changed, as dockerd reports it.
 *
 * dockerd's overlay2 driver compares two trees whenever the kernel has
 * overlayfs redirect_dir (every current kernel), the "naive diff": the
 * container's view against its image's view, file by file (archive's
 * ChangesDirs).  An entry of the container's view is added ("A", Kind 1) when
 * the image has no such name, and everything below an added directory is added
 * too; changed ("C", 0) when its lstat differs from the image's (type and
 * mode, owner, device, and for a non-directory its size or mtime, or its
 * security.capability); a name of the image missing from the container's view
 * is deleted ("D", 2), without what was below it; and a directory with changes
 * inside it is reported changed before them, unless it was itself (the root
 * never is).
 *
 * Only what the container wrote can differ, and all of it is in the overlay's
 * upper dir, so that is what is walked (by fd, O_NOFOLLOW at every step, names
 * in byte order): a whiteout (a character device 0/0) is a deleted name; an
 * opaque directory (trusted.overlay.opaque "y") hides the image's entries
 * below it, each of which is then deleted unless the upper dir has it again;
 * anything else is looked up in the image's view.  That view is the image's
 * layers merged by the same rules (top layer first, whiteouts and opaque
 * directories of the layers honoured), every lookup inside a layer by fd from
 * the layer's directory, never following a symlink.
 *
 * dockerd keeps the mount points it makes for every container (/etc/hosts,
 * /etc/hostname, /etc/resolv.conf, /dev, /proc, /sys, …) in an "init" layer
 * below the container's own, so they never show.  berth makes them in the
 * upper dir at start; their empty placeholders count as unchanged.
 *
 * Works on running and stopped containers alike (the upper dir is a plain
 * directory on the host); the container's operation lock keeps a remove away.
 *
 * Never: follow a symlink of the upper dir or of a layer, or write anything.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "container-internal.h"
#include "image/layer.h"
#include "image/snapshot.h"

enum { KIND_MODIFY = 0, KIND_ADD = 1, KIND_DELETE = 2 };

struct change {
        char *path;
        int kind;
};

struct changes {
        int *layers; /* O_PATH fds of the image's layer dirs, top first */
        size_t n_layers;
        struct change *v;
        size_t n, cap;
};

static void add(struct changes *ch, const char *path, int kind)
{
        if (ch->n == ch->cap) {
                ch->cap = ch->cap ? ch->cap * 2 : 64;
                ch->v = xrealloc(ch->v, ch->cap * sizeof(*ch->v));
        }
        ch->v[ch->n++] = (struct change){xstrdup(path), kind};
}

/* A directory's "C" before the changes made inside it (from index at on). */
static void insert_modify(struct changes *ch, size_t at, const char *path)
{
        add(ch, path, KIND_MODIFY);
        struct change c = ch->v[ch->n - 1];
        memmove(&ch->v[at + 1], &ch->v[at], (ch->n - 1 - at) * sizeof(*ch->v));
        ch->v[at] = c;
}

static bool is_whiteout(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0;
}

static bool is_opaque(int fd)
{
        /* fd may be O_PATH: read the xattr through a reopen */
        char proc[64], v[2];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        return getxattr(proc, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/* ---- the image's view ---- */

enum lookup { FOUND, ABSENT_HERE, HIDDEN };

/* path ("/a/b") in one layer: FOUND with its lstat; ABSENT_HERE when a lower
 * layer may still have it; HIDDEN when this layer hides it from the layers
 * below (a whiteout on the way, a non-directory where a directory is needed,
 * or an opaque directory above it). */
static enum lookup layer_lookup(int layer, const char *path, struct stat *ret)
{
        _cleanup_close_ int cur = fcntl(layer, F_DUPFD_CLOEXEC, 3);
        bool opaque = false;
        const char *p = path;
        while (cur >= 0) {
                while (*p == '/')
                        p++;
                const char *end = strchrnul(p, '/');
                _cleanup_free_ char *comp = xstrndup(p, (size_t)(end - p));
                p = end;
                struct stat st;
                if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return opaque ? HIDDEN : ABSENT_HERE;
                if (is_whiteout(&st))
                        return HIDDEN;
                while (*p == '/')
                        p++;
                if (!*p) {
                        *ret = st;
                        return FOUND;
                }
                if (!S_ISDIR(st.st_mode))
                        return HIDDEN;
                int next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                closep(&cur);
                cur = next;
                if (cur >= 0 && is_opaque(cur))
                        opaque = true;
        }
        return ABSENT_HERE;
}

/* lstat of path in the image's view (its layers merged); false when absent. */
static bool image_lstat(const struct changes *ch, const char *path, struct stat *ret,
                        int *ret_layer)
{
        for (size_t i = 0; i < ch->n_layers; i++) {
                switch (layer_lookup(ch->layers[i], path, ret)) {
                case FOUND:
                        if (ret_layer)
                                *ret_layer = (int)i;
                        return true;
                case HIDDEN:
                        return false;
                case ABSENT_HERE:
                        break;
                }
        }
        return false;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of a directory fd (opened readable), sorted; NULL-terminated. */
static char **list_names(int fd, size_t *ret_n)
{
        char **v = xcalloc(1, sizeof(*v));
        size_t n = 0;
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                *ret_n = 0;
                return v;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                v = xrealloc(v, (n + 2) * sizeof(*v));
                v[n++] = xstrdup(de->d_name);
                v[n] = NULL;
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(*v), cmp_names);
        *ret_n = n;
        return v;
}

/* The names the image's view has in directory path, sorted; NULL-terminated. */
static char **image_names(const struct changes *ch, const char *path)
{
        char **all = xcalloc(1, sizeof(*all));
        size_t n_all = 0;
        for (size_t i = 0; i < ch->n_layers; i++) {
                _cleanup_close_ int dfd =
                    *path ? open_in_root(ch->layers[i], path, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0)
                          : fcntl(ch->layers[i], F_DUPFD_CLOEXEC, 3);
                if (dfd < 0)
                        continue;
                size_t n;
                _cleanup_strv_free_ char **names = list_names(dfd, &n);
                for (size_t k = 0; k < n; k++) {
                        bool dup = false;
                        for (size_t j = 0; j < n_all && !dup; j++)
                                dup = strcmp(all[j], names[k]) == 0;
                        if (dup)
                                continue;
                        all = xrealloc(all, (n_all + 2) * sizeof(*all));
                        all[n_all++] = xstrdup(names[k]);
                        all[n_all] = NULL;
                }
        }
        /* keep what the merged view really has (whiteouts and opaque dirs applied) */
        size_t w = 0;
        for (size_t k = 0; k < n_all; k++) {
                _cleanup_free_ char *child = xasprintf("%s/%s", path, all[k]);
                struct stat st;
                if (image_lstat(ch, child, &st, NULL))
                        all[w++] = all[k];
                else
                        free(all[k]);
        }
        all[w] = NULL;
        if (w)
                qsort(all, w, sizeof(*all), cmp_names);
        return all;
}

static bool same_fs_time(const struct timespec *a, const struct timespec *b)
{
        return a->tv_sec == b->tv_sec &&
               (a->tv_nsec == b->tv_nsec || a->tv_nsec == 0 || b->tv_nsec == 0);
}

static bool capability_differs(int dirfd, const char *name, const struct changes *ch, int layer,
                               const char *path)
{
        char a[256], b[256];
        _cleanup_close_ int fa = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = xstrndup(path, (size_t)(slash - path) + 1);
        _cleanup_close_ int ld = open_in_root(ch->layers[layer], dir, O_PATH | O_DIRECTORY, 0);
        _cleanup_close_ int fb =
            ld >= 0 ? openat(ld, slash + 1, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -EBADF;
        char pa[64], pb[64];
        snprintf(pa, sizeof(pa), "/proc/self/fd/%d", fa);
        snprintf(pb, sizeof(pb), "/proc/self/fd/%d", fb);
        ssize_t na = fa >= 0 ? getxattr(pa, "security.capability", a, sizeof(a)) : -1;
        ssize_t nb = fb >= 0 ? getxattr(pb, "security.capability", b, sizeof(b)) : -1;
        if (na < 0 && nb < 0)
                return false;
        return na != nb || memcmp(a, b, (size_t)na) != 0;
}

/* archive's statDifferent */
static bool stat_different(const struct stat *o, const struct stat *n)
{
        if (o->st_mode != n->st_mode || o->st_uid != n->st_uid || o->st_gid != n->st_gid ||
            o->st_rdev != n->st_rdev)
                return true;
        return !S_ISDIR(o->st_mode) &&
               (!same_fs_time(&o->st_mtim, &n->st_mtim) || o->st_size != n->st_size);
}

/* The mount points dockerd's init layer would hold. */
static bool init_path(const char *path)
{
        static const char *const paths[] = {
            "/etc",        "/etc/hostname", "/etc/hosts",   "/etc/resolv.conf",
            "/.dockerenv", "/dev",          "/proc",        "/sys",
            "/dev/pts",    "/dev/shm",      "/dev/console", "/dev/mqueue",
        };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (strcmp(path, paths[i]) == 0)
                        return true;
        return false;
}

/* ---- the walk of the upper dir ---- */

struct frame {
        int fd; /* the upper dir's directory, O_PATH */
        char **names;
        size_t n, i;
        size_t plen;
        size_t mark;    /* changes before this directory's own */
        bool reported;  /* the directory itself is A or C (dockerd's info.added) */
        bool added;     /* everything below is added */
        char **deleted; /* names of the image's view hidden by this opaque directory */
};

static void frame_release(struct frame *f)
{
        if (f->fd >= 0)
                close(f->fd);
        strv_free(f->names);
        strv_free(f->deleted);
}

static bool strv_has(char **v, const char *s)
{
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

/* A directory of the walk ends: deletions hidden by it, then its own "C". */
static void frame_end(struct changes *ch, struct frame *f, const char *path)
{
        for (char **d = f->deleted; d && *d; d++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", path, *d);
                add(ch, p, KIND_DELETE);
        }
        if (ch->n > f->mark && !f->reported && *path)
                insert_modify(ch, f->mark, path);
}

static int walk_upper(struct changes *ch, int upper, struct berth_error **err)
{
        struct frame *stack = xcalloc(16, sizeof(*stack));
        size_t depth = 1, cap = 16;
        struct berth_buf path = BERTH_BUF_INIT;
        buf_grow(&path, 256);
        path.data[0] = '\0';
        stack[0] = (struct frame){.fd = fcntl(upper, F_DUPFD_CLOEXEC, 3)};
        if (stack[0].fd < 0) {
                free(stack);
                return berth_error_sys(err, errno, "read the container's changes");
        }
        stack[0].names = list_names(stack[0].fd, &stack[0].n);
        while (depth) {
                struct frame *f = &stack[depth - 1];
                if (f->i == f->n) {
                        path.len = f->plen;
                        path.data[path.len] = '\0';
                        frame_end(ch, f, path.data);
                        frame_release(f);
                        depth--;
                        continue;
                }
                const char *name = f->names[f->i++];
                path.len = f->plen;
                buf_putc(&path, '/');
                buf_puts(&path, name);
                struct stat st;
                if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* gone meanwhile (a running container) */
                struct stat lo;
                int layer = -1;
                bool in_image = !f->added && image_lstat(ch, path.data, &lo, &layer);
                bool init = init_path(path.data);
                bool reported = false;
                if (is_whiteout(&st)) {
                        if (in_image)
                                add(ch, path.data, KIND_DELETE);
                        continue;
                }
                if (init && !in_image &&
                    (S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0))) {
                        /* a placeholder of dockerd's init layer: unchanged */
                } else if (!in_image) {
                        add(ch, path.data, KIND_ADD);
                        reported = true;
                } else if (stat_different(&lo, &st) ||
                           (S_ISREG(st.st_mode) &&
                            capability_differs(f->fd, name, ch, layer, path.data))) {
                        add(ch, path.data, KIND_MODIFY);
                        reported = true;
                }
                if (!S_ISDIR(st.st_mode))
                        continue;
                struct frame nf = {.plen = path.len, .mark = ch->n, .reported = reported};
                nf.added = f->added || (reported && !in_image);
                nf.fd = openat(f->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nf.fd < 0)
                        continue;
                nf.names = list_names(nf.fd, &nf.n);
                if (in_image && S_ISDIR(lo.st_mode) && is_opaque(nf.fd)) {
                        /* what the image had here and the container has no more */
                        char **was = image_names(ch, path.data);
                        size_t k = 0;
                        for (char **w = was; *w; w++)
                                if (!strv_has(nf.names, *w))
                                        was[k++] = *w;
                                else
                                        free(*w);
                        was[k] = NULL;
                        nf.deleted = was;
                }
                if (depth == cap)
                        stack = xrealloc(stack, (cap *= 2) * sizeof(*stack));
                stack[depth++] = nf;
        }
        free(stack);
        buf_release(&path);
        return 0;
}

int berth_ctr_changes(struct berth_engine *e, struct berth_ctr *c, struct json **ret,
                      struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&c->op_lock);
        pthread_mutex_lock(&m->lock);
        bool gone = c->removed;
        pthread_mutex_unlock(&m->lock);
        int r = 0;
        struct changes ch = {0};
        _cleanup_strv_free_ char **chains = NULL;
        size_t n = 0;
        _cleanup_free_ char *upper_path = snapshot_path(m->data_root, c->id, "upper");
        _cleanup_close_ int upper = -EBADF;
        if (gone)
                r = berth_error_set(err, ENOENT, "No such container: %s", c->id);
        if (r == 0)
                r = ctr_image_chain_ids(e, c->image_id, &chains, &n, err);
        if (r == 0) {
                ch.layers = xcalloc(n + 1, sizeof(int));
                for (size_t i = n; i-- > 0;) { /* top first */
                        _cleanup_free_ char *p = layer_path(m->data_root, chains[i]);
                        int fd = open(p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd >= 0)
                                ch.layers[ch.n_layers++] = fd;
                }
                upper = open(upper_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                /* never started: no upper dir yet, and nothing changed */
                if (upper >= 0)
                        r = walk_upper(&ch, upper, err);
                else if (errno != ENOENT)
                        r = berth_error_sys(err, errno, "open '%s'", upper_path);
        }
        pthread_mutex_unlock(&c->op_lock);
        for (size_t i = 0; i < ch.n_layers; i++)
                close(ch.layers[i]);
        free(ch.layers);
        struct json *out = json_new_array();
        for (size_t i = 0; i < ch.n; i++) {
                struct json *o = json_array_append(out, json_new_object());
                json_set_str(o, "Path", ch.v[i].path);
                json_set_int(o, "Kind", ch.v[i].kind);
                free(ch.v[i].path);
        }
        free(ch.v);
        if (r < 0) {
                json_free(out);
                return r;
        }
        *ret = out;
        return 0;
}
