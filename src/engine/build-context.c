/*
 * build-context.c — the build context as it arrives: kept as its plain tar in the build's tmpfs
 * and indexed (every member's cleaned name, type, mode, link and the sha256 of its bytes) while
 * it streams in; unpacked into a directory only when a step needs its files (a COPY the cache
 * does not hold, a RUN --mount=type=bind).  A re-build whose steps all come from the cache
 * never unpacks it: COPY's and ADD's cache keys come from the index.
 *
 * The index is what the unpacked directory would hold: names cleaned as Go's
 * filepath.Clean("/" + name) (a ".." stays at the top, as the unpacker's clamp mode), a later
 * member of the same name replacing an earlier one, hard links standing for their target,
 * directories no member names made 0755.  Sources are resolved in it as openat2
 * RESOLVE_IN_ROOT resolves them in the directory (symlinks followed inside the context, a ".."
 * never above it).
 *
 * Never: hold the context's bytes in memory (only the Dockerfile's and .dockerignore's), or
 * trust a name before it is cleaned.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "build-internal.h"
#include "image/decompress.h"
#include "image/tar.h"
#include "image/untar.h"

#define CAPTURE_MAX (16u << 20) /* the Dockerfile and .dockerignore kept from the stream */

struct ctx_entry {
        char *path; /* cleaned, no leading '/' */
        enum tar_type type;
        mode_t mode; /* 07777 */
        char *link;  /* a symlink's text, a hard link's cleaned target */
        unsigned char digest[32];
        uint64_t seq; /* member order: the later of two equal names wins */
        bool removed; /* .dockerignore excluded it from the context */
};

struct ctx_index {
        struct ctx_entry *v;
        size_t n, cap;
        /* the member being read */
        struct ctx_entry cur;
        bool in_file;
        EVP_MD_CTX *md;
        uint64_t seq;
        /* names whose bytes are kept, and what was kept */
        char **capture_names; /* NULL-terminated */
        size_t n_capture;
        char **capture_data;
        size_t *capture_len;
        int capturing; /* index into capture_names, or -1 */
        struct berth_buf cbuf;
};

/* ---- receiving ---- */

static char *clean_rel(const char *name)
{
        char *abs = path_clean_abs(name);
        char *rel = xstrdup(abs + 1);
        free(abs);
        return rel;
}

static int on_entry(void *ud, const struct tar_entry *e, struct berth_error **err)
{
        struct ctx_index *x = ud;
        (void)err;
        x->cur = (struct ctx_entry){
            .path = clean_rel(e->path), .type = e->type, .mode = e->mode & 07777, .seq = x->seq++};
        if (e->type == TAR_SYMLINK)
                x->cur.link = xstrdup(e->linkname);
        else if (e->type == TAR_HARDLINK)
                x->cur.link = clean_rel(e->linkname);
        x->in_file = e->type == TAR_FILE;
        if (x->in_file && EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1)
                berth_oom();
        x->capturing = -1;
        for (size_t i = 0; x->in_file && x->capture_names[i]; i++)
                if (strcmp(x->capture_names[i], x->cur.path) == 0 && e->size <= CAPTURE_MAX) {
                        x->capturing = (int)i;
                        buf_reset(&x->cbuf);
                        buf_puts(&x->cbuf, "");
                }
        return 0;
}

static int on_data(void *ud, const void *buf, size_t len, struct berth_error **err)
{
        struct ctx_index *x = ud;
        (void)err;
        if (x->in_file)
                EVP_DigestUpdate(x->md, buf, len);
        if (x->capturing >= 0)
                buf_append(&x->cbuf, buf, len);
        return 0;
}

static int on_entry_end(void *ud, struct berth_error **err)
{
        struct ctx_index *x = ud;
        (void)err;
        if (x->in_file) {
                unsigned dl = 0;
                EVP_DigestFinal_ex(x->md, x->cur.digest, &dl);
        }
        if (x->capturing >= 0) {
                size_t i = (size_t)x->capturing;
                free(x->capture_data[i]);
                x->capture_len[i] = x->cbuf.len;
                x->capture_data[i] = buf_steal(&x->cbuf);
        }
        if (!*x->cur.path) { /* "." : the context's own directory */
                free(x->cur.path);
                free(x->cur.link);
        } else {
                if (x->n == x->cap) {
                        x->cap = x->cap ? 2 * x->cap : 256;
                        x->v = xrealloc(x->v, x->cap * sizeof(*x->v));
                }
                x->v[x->n++] = x->cur;
        }
        x->cur = (struct ctx_entry){0};
        x->in_file = false;
        x->capturing = -1;
        return 0;
}

/* Paths in walk order: '/' below every other byte, so a directory's members follow it at
 * once, each level in byte order of names (as the unpacked tree is walked). */
static int path_cmp(const char *a, const char *b)
{
        for (;; a++, b++) {
                unsigned char ca = *a == '/' ? 1 : (unsigned char)*a;
                unsigned char cb = *b == '/' ? 1 : (unsigned char)*b;
                if (ca != cb || !ca)
                        return (int)ca - (int)cb;
        }
}

static int entry_cmp(const void *pa, const void *pb)
{
        const struct ctx_entry *a = pa, *b = pb;
        int c = path_cmp(a->path, b->path);
        if (c)
                return c;
        return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static ssize_t find(const struct ctx_index *x, const char *path)
{
        size_t lo = 0, hi = x->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = path_cmp(x->v[mid].path, path);
                if (c == 0)
                        return x->v[mid].removed ? -1 : (ssize_t)mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

static void entry_free(struct ctx_entry *e)
{
        free(e->path);
        free(e->link);
}

/* Sorted in walk order, one entry per name (the last member's; a directory made for a parent
 * gives way to any member of that name). */
static void sort_dedup(struct ctx_index *x)
{
        if (x->n)
                qsort(x->v, x->n, sizeof(*x->v), entry_cmp);
        size_t k = 0;
        for (size_t i = 0; i < x->n; i++) {
                if (k && strcmp(x->v[k - 1].path, x->v[i].path) == 0) {
                        entry_free(&x->v[k - 1]);
                        x->v[k - 1] = x->v[i];
                        continue;
                }
                x->v[k++] = x->v[i];
        }
        x->n = k;
}

static void add_parents(struct ctx_index *x)
{
        size_t n0 = x->n;
        for (size_t i = 0; i < n0; i++) {
                char *p = xstrdup(x->v[i].path);
                for (char *s = strrchr(p, '/'); s; s = strrchr(p, '/')) {
                        *s = '\0';
                        if (x->n == x->cap) {
                                x->cap = x->cap ? 2 * x->cap : 256;
                                x->v = xrealloc(x->v, x->cap * sizeof(*x->v));
                        }
                        /* seq 0 sorts first: any member of that name comes later and wins */
                        x->v[x->n++] =
                            (struct ctx_entry){.path = xstrdup(p), .type = TAR_DIR, .mode = 0755};
                }
                free(p);
        }
}

static ssize_t resolve(const struct ctx_index *x, const char *name);

/* The index as the unpacked tree will be: parents made, a member below a symlink moved to where
 * the symlink leads inside the context (the unpacker writes there) or refused as dockerd's
 * unpacker refuses it, hard links standing for their targets. */
static int finish_index(struct ctx_index *x, struct berth_error **err)
{
        add_parents(x);
        sort_dedup(x);
        bool moved = false;
        for (size_t i = 0; i < x->n; i++) {
                struct ctx_entry *e = &x->v[i];
                char *slash = strrchr(e->path, '/');
                if (!slash)
                        continue;
                _cleanup_free_ char *parent = xstrndup(e->path, (size_t)(slash - e->path));
                ssize_t p = find(x, parent);
                if (p >= 0 && x->v[p].type == TAR_DIR)
                        continue;
                ssize_t t = resolve(x, parent);
                if (t == -1 || (t >= 0 && x->v[t].type != TAR_DIR))
                        return berth_error_set(err, EIO,
                                               "Error processing tar file(exit status 1): open "
                                               "/%s: no such file or directory",
                                               e->path);
                char *to =
                    t >= 0 ? xasprintf("%s/%s", x->v[t].path, slash + 1) : xstrdup(slash + 1);
                free(e->path);
                e->path = to;
                moved = true;
        }
        if (moved)
                sort_dedup(x);
        /* a hard link is its target's bytes and mode */
        for (size_t i = 0; i < x->n; i++) {
                struct ctx_entry *e = &x->v[i];
                if (e->type != TAR_HARDLINK)
                        continue;
                ssize_t t = find(x, e->link);
                if (t >= 0 && x->v[t].type == TAR_FILE) {
                        e->type = TAR_FILE;
                        e->mode = x->v[t].mode;
                        memcpy(e->digest, x->v[t].digest, sizeof(e->digest));
                }
        }
        return 0;
}

struct receive {
        struct build *b;
        int fd; /* the plain tar, saved */
        struct tar_reader *tr;
        uint64_t bytes;
};

static int plain_sink(const void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct receive *rc = userdata;
        if (write_all(rc->fd, buf, len) < 0)
                return berth_error_sys(err, errno, "save the build context");
        rc->bytes += len;
        return tar_reader_feed(rc->tr, buf, len, err);
}

void build_context_free(struct ctx_index *x)
{
        if (!x)
                return;
        for (size_t i = 0; i < x->n; i++)
                entry_free(&x->v[i]);
        free(x->v);
        entry_free(&x->cur);
        EVP_MD_CTX_free(x->md);
        strv_free(x->capture_names);
        for (size_t i = 0; x->capture_data && i < x->n_capture; i++)
                free(x->capture_data[i]);
        free(x->capture_data);
        free(x->capture_len);
        buf_release(&x->cbuf);
        free(x);
}

/* The body read, saved as plain tar below dir (the build's tmpfs) and indexed. */
int build_context_receive(struct build *b, int dirfd, char *const *capture, struct ctx_index **ret,
                          struct berth_error **err)
{
        struct ctx_index *x = xcalloc(1, sizeof(*x));
        x->md = EVP_MD_CTX_new();
        if (!x->md)
                berth_oom();
        x->capture_names = strv_copy(capture);
        while (x->capture_names[x->n_capture])
                x->n_capture++;
        x->capture_data = xcalloc(x->n_capture + 1, sizeof(char *));
        x->capture_len = xcalloc(x->n_capture + 1, sizeof(size_t));
        x->capturing = -1;
        struct receive rc = {.b = b};
        rc.fd = openat(dirfd, "context.tar", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600);
        if (rc.fd < 0) {
                build_context_free(x);
                return berth_error_sys(err, errno, "save the build context");
        }
        static const struct tar_ops ops = {on_entry, on_data, on_entry_end};
        const struct tar_limits limits = {.max_path = 4096,
                                          .max_entries = UINT64_MAX,
                                          .max_size = UINT64_MAX,
                                          .unpadded_end = true};
        rc.tr = tar_reader_new(&ops, x, &limits);
        struct decompressor *d = decomp_new(plain_sink, &rc);
        char *buf = xmalloc(256 * 1024);
        int r = 0;
        for (;;) {
                ssize_t n = b->o->read(buf, 256 * 1024, b->o->userdata, err);
                if (n < 0) {
                        r = (int)n;
                        break;
                }
                if (n == 0)
                        break;
                r = decomp_write(d, buf, (size_t)n, err);
                if (r < 0)
                        break;
        }
        free(buf);
        if (r == 0)
                r = decomp_finish(d, err);
        if (r == 0)
                r = tar_reader_finish(rc.tr, err);
        decomp_free(d);
        tar_reader_free(rc.tr);
        if (r == 0 && fsync(rc.fd) < 0 && errno != EINVAL)
                r = berth_error_sys(err, errno, "save the build context");
        close(rc.fd);
        if (r < 0) {
                build_context_free(x);
                return r;
        }
        r = finish_index(x, err);
        if (r < 0) {
                build_context_free(x);
                return r;
        }
        log_debug("build: context of %zu names, %llu bytes", x->n, (unsigned long long)rc.bytes);
        *ret = x;
        return 0;
}

int build_context_unpack(struct build *b, struct berth_error **err)
{
        if (b->ctx_unpacked)
                return 0;
        const char *path = "the saved build context";
        _cleanup_close_ int fd =
            openat(b->ctx_dirfd, "context.tar", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_sys(err, errno, "open %s", path);
        struct untar_opts uo = {
            .dest_name = "the build context", .keep_owner = true, .clamp = true};
        int r = untar_fd(b->ctxfd, &uo, fd, path, err);
        if (r < 0)
                return berth_error_prefix(err, "Error processing tar file(exit status 1)");
        /* what .dockerignore took out of the context */
        for (size_t i = 0; i < b->ctx->n; i++)
                if (b->ctx->v[i].removed)
                        build_context_unlink(b, b->ctx->v[i].path);
        b->ctx_unpacked = true;
        return 0;
}

void build_context_unlink(struct build *b, const char *path)
{
        _cleanup_free_ char *clean = path_clean_abs(path);
        char *slash = strrchr(clean, '/');
        if (!slash[1])
                return;
        *slash = '\0';
        _cleanup_close_ int pfd =
            open_in_root(b->ctxfd, *clean ? clean : "/", O_PATH | O_DIRECTORY, 0);
        if (pfd >= 0)
                (void)unlinkat(pfd, slash + 1, 0);
}

int build_context_captured(struct build *b, const char *path, char **ret, size_t *ret_len)
{
        struct ctx_index *x = b->ctx;
        _cleanup_free_ char *rel = clean_rel(path);
        ssize_t i = find(x, rel);
        if (i < 0)
                return -ENOENT;
        if (x->v[i].type != TAR_FILE)
                return -EINVAL; /* a symlink or a directory: the unpacked tree answers */
        for (size_t k = 0; k < x->n_capture; k++)
                if (strcmp(x->capture_names[k], rel) == 0 && x->capture_data[k]) {
                        *ret = xmalloc(x->capture_len[k] + 1);
                        memcpy(*ret, x->capture_data[k], x->capture_len[k] + 1);
                        *ret_len = x->capture_len[k];
                        return 0;
                }
        return -EINVAL;
}

void build_context_remove(struct build *b, const char *path)
{
        _cleanup_free_ char *rel = clean_rel(path);
        ssize_t i = find(b->ctx, rel);
        if (i >= 0)
                b->ctx->v[i].removed = true;
}

/* ---- sources in the index ---- */

/* A name resolved as openat2 RESOLVE_IN_ROOT would in the unpacked tree: its entry, or -1
 * (ENOENT, ENOTDIR, ELOOP); "" (the root itself) gives -2. */
static ssize_t resolve(const struct ctx_index *x, const char *name)
{
        _cleanup_free_ char *todo = clean_rel(name);
        char *cur = xstrdup("");
        unsigned hops = 0;
        ssize_t at = -2;
        const char *p = todo;
        while (*p) {
                size_t len = strcspn(p, "/");
                char *next =
                    *cur ? xasprintf("%s/%.*s", cur, (int)len, p) : xasprintf("%.*s", (int)len, p);
                p += len;
                while (*p == '/')
                        p++;
                ssize_t i = find(x, next);
                if (i < 0) {
                        free(next);
                        free(cur);
                        return -1;
                }
                if (x->v[i].type == TAR_SYMLINK) {
                        if (++hops > 40) {
                                free(next);
                                free(cur);
                                return -1;
                        }
                        const char *t = x->v[i].link;
                        char *rest = t[0] == '/' ? xasprintf("%s/%s", t, p)
                                                 : xasprintf("%s/%s/%s", cur, t, p);
                        char *cleaned = clean_rel(rest);
                        free(rest);
                        free(next);
                        free(todo);
                        todo = cleaned;
                        p = todo;
                        free(cur);
                        cur = xstrdup("");
                        at = -2;
                        continue;
                }
                if (*p && x->v[i].type != TAR_DIR) {
                        free(next);
                        free(cur);
                        return -1;
                }
                free(cur);
                cur = next;
                at = i;
        }
        free(cur);
        return at;
}

static void hash_str(EVP_MD_CTX *md, const char *s)
{
        EVP_DigestUpdate(md, s, strlen(s) + 1);
}

static mode_t type_bits(enum tar_type t)
{
        switch (t) {
        case TAR_DIR:
                return S_IFDIR;
        case TAR_SYMLINK:
                return S_IFLNK;
        case TAR_CHAR:
                return S_IFCHR;
        case TAR_BLOCK:
                return S_IFBLK;
        case TAR_FIFO:
                return S_IFIFO;
        default:
                return S_IFREG;
        }
}

static void hash_one(EVP_MD_CTX *md, const struct ctx_entry *e, const char *rel)
{
        char head[32];
        snprintf(head, sizeof(head), "%o", (unsigned)(type_bits(e->type) | e->mode));
        hash_str(md, rel);
        hash_str(md, head);
        if (e->type == TAR_SYMLINK)
                hash_str(md, e->link);
        else if (e->type == TAR_FILE)
                EVP_DigestUpdate(md, e->digest, sizeof(e->digest));
}

/* One source into md: the entry, and for a directory everything below it, in walk order. */
static void hash_tree(const struct ctx_index *x, ssize_t at, const char *name, EVP_MD_CTX *md)
{
        const char *prefix = at >= 0 ? x->v[at].path : "";
        size_t pl = strlen(prefix);
        if (at >= 0)
                hash_one(md, &x->v[at], name);
        else
                hash_str(md, name), hash_str(md, "40755");
        bool dir = at < 0 || x->v[at].type == TAR_DIR;
        if (!dir)
                return;
        size_t start = at >= 0 ? (size_t)at + 1 : 0;
        for (size_t i = start; i < x->n; i++) {
                const char *p = x->v[i].path;
                if (pl && (strncmp(p, prefix, pl) != 0 || p[pl] != '/'))
                        break;
                if (x->v[i].removed)
                        continue;
                _cleanup_free_ char *rel = xasprintf("%s/%s", name, pl ? p + pl + 1 : p);
                hash_one(md, &x->v[i], rel);
        }
}

int build_context_source(struct build *b, const char *src, bool *ret_dir, struct berth_error **err)
{
        ssize_t at = resolve(b->ctx, src);
        if (at == -1) {
                _cleanup_free_ char *rel = clean_rel(src);
                return berth_error_set(err, ENOENT,
                                       "file not found in build context or excluded by "
                                       ".dockerignore: stat %s: file does not exist",
                                       *rel ? rel : ".");
        }
        *ret_dir = at == -2 || b->ctx->v[at].type == TAR_DIR;
        return 0;
}

char **build_context_match(struct build *b, const char *pattern)
{
        struct ctx_index *x = b->ctx;
        _cleanup_free_ char *pat = clean_rel(pattern);
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; i < x->n; i++) {
                if (x->v[i].removed || fnmatch(pat, x->v[i].path, FNM_PATHNAME) != 0)
                        continue;
                v = xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = xasprintf("/%s", x->v[i].path);
                v[n] = NULL;
        }
        return v;
}

void build_context_hash(struct build *b, const char *src, EVP_MD_CTX *md)
{
        ssize_t at = resolve(b->ctx, src);
        const char *slash = strrchr(src, '/');
        const char *name = slash && slash[1] ? slash + 1 : ".";
        if (at == -1)
                return;
        hash_tree(b->ctx, at, name, md);
}
