/*
 * tar-writer.c — the walk and the ustar/PAX encoding behind tar-writer.h.
 *
 * Output goes through a 256 KiB buffer handed to the sink when full, so a
 * tree of small files costs few writes to the socket.  File data is read
 * straight into that buffer.  Hard links are found with a small open-addressed
 * table keyed by (st_dev, st_ino) of regular files whose link count is above
 * one.
 *
 * Never: open a child by a path longer than its own name, or leave an fd of
 * the walk open after tarw_add returns.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "image/tar-writer.h"

#define OUT_SIZE (256 * 1024)

struct link_slot {
        dev_t dev;
        ino_t ino;
        char *name; /* NULL: free */
};

struct tarw {
        tarw_write_fn write;
        void *ud;
        unsigned char *out;
        size_t out_len;
        uint64_t total;
        int failed; /* the sink's error, sticky */
        struct link_slot *links;
        size_t n_links, cap_links;
        bool whiteouts; /* overlay whiteouts and opaque dirs as OCI .wh. entries */
        tarw_skip_fn skip;
        void *skip_ud;
        tarw_filter_fn filter;
        void *filter_ud;
        bool chown;     /* every entry's owner is uid:gid (docker's ChownOpts) */
        bool perm_only; /* mode without the file type bits, as docker 28's CLI writes it */
        bool direct;    /* members opened for reading at once (tarw_set_direct) */
        bool readable;  /* the member at hand was (its fd reads) */
        uint64_t uid, gid;
};

struct tarw *tarw_new(tarw_write_fn write, void *userdata)
{
        struct tarw *w = xcalloc(1, sizeof(*w));
        w->write = write;
        w->ud = userdata;
        w->out = xmalloc(OUT_SIZE);
        return w;
}

void tarw_free(struct tarw *w)
{
        if (!w)
                return;
        for (size_t i = 0; i < w->cap_links; i++)
                free(w->links[i].name);
        free(w->links);
        free(w->out);
        free(w);
}

void tarw_set_overlay_whiteouts(struct tarw *w, bool on)
{
        w->whiteouts = on;
}

void tarw_set_skip(struct tarw *w, tarw_skip_fn skip, void *userdata)
{
        w->skip = skip;
        w->skip_ud = userdata;
}

void tarw_set_filter(struct tarw *w, tarw_filter_fn filter, void *userdata)
{
        w->filter = filter;
        w->filter_ud = userdata;
}

void tarw_set_owner(struct tarw *w, uint64_t uid, uint64_t gid)
{
        w->chown = true;
        w->uid = uid;
        w->gid = gid;
}

void tarw_set_perm_only(struct tarw *w, bool on)
{
        w->perm_only = on;
}

void tarw_set_direct(struct tarw *w, bool on)
{
        w->direct = on;
}

uint64_t tarw_bytes(const struct tarw *w)
{
        return w->total;
}

/* ---- output ---- */

static int flush(struct tarw *w)
{
        if (w->failed)
                return w->failed;
        if (w->out_len) {
                int r = w->write(w->out, w->out_len, w->ud);
                w->out_len = 0;
                if (r < 0)
                        return w->failed = r;
        }
        return 0;
}

static int put(struct tarw *w, const void *p, size_t n)
{
        const unsigned char *s = p;
        while (n) {
                if (w->out_len == OUT_SIZE) {
                        int r = flush(w);
                        if (r < 0)
                                return r;
                }
                size_t k = OUT_SIZE - w->out_len;
                if (k > n)
                        k = n;
                memcpy(w->out + w->out_len, s, k);
                w->out_len += k;
                w->total += k;
                s += k;
                n -= k;
        }
        return w->failed;
}

static int pad(struct tarw *w, uint64_t size)
{
        static const unsigned char zeros[512];
        size_t n = (size_t)((512 - size % 512) % 512);
        return n ? put(w, zeros, n) : 0;
}

/* ---- headers ---- */

struct hdr {
        const char *name;
        const char *link;
        char type;
        mode_t mode; /* with docker's file type bits */
        uint64_t uid, gid, size;
        int64_t mtime;
        unsigned devmajor, devminor;
        const char *cap; /* security.capability value, or NULL */
        size_t cap_len;
};

static bool fits_octal(uint64_t v, size_t width)
{
        /* width digits (the field holds width digits and a NUL) */
        return width >= 22 || v < (1ULL << (3 * width));
}

static void octal(unsigned char *field, size_t size, uint64_t v)
{
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%0*llo", (int)(size - 1), (unsigned long long)v);
        memcpy(field, tmp, size - 1);
        field[size - 1] = '\0';
}

static void pax_record(struct berth_buf *b, const char *key, const char *val, size_t vlen)
{
        /* "<len> key=value\n", len counting itself */
        size_t base = strlen(key) + vlen + 3;
        size_t len = base + 1;
        for (;;) {
                char digits[24];
                size_t d = (size_t)snprintf(digits, sizeof(digits), "%zu", len);
                if (base + d == len)
                        break;
                len = base + d;
        }
        buf_printf(b, "%zu %s=", len, key);
        buf_append(b, val, vlen);
        buf_putc(b, '\n');
}

/* ustar's prefix/name split of a long name at a '/', as Go's splitUSTARPath. */
static bool split_ustar(const char *name, size_t *ret_prefix_len)
{
        size_t n = strlen(name);
        if (n <= 100)
                return false;
        size_t i = n > 156 ? 156 : n - 1;
        /* the last '/' at or before index 155 whose remainder fits in 100 */
        while (i > 0 && name[i] != '/')
                i--;
        if (i == 0 || n - i - 1 > 100 || n - i - 1 == 0)
                return false;
        *ret_prefix_len = i;
        return true;
}

static int write_header_block(struct tarw *w, const struct hdr *h, const char *name,
                              const char *link, uint64_t size, char type)
{
        unsigned char b[512] = {0};
        size_t plen = 0;
        if (split_ustar(name, &plen)) {
                memcpy(b + 345, name, plen);
                strncpy((char *)b, name + plen + 1, 100);
        } else {
                strncpy((char *)b, name, 100);
        }
        octal(b + 100, 8, h->mode & 07777777);
        octal(b + 108, 8, fits_octal(h->uid, 7) ? h->uid : 0);
        octal(b + 116, 8, fits_octal(h->gid, 7) ? h->gid : 0);
        octal(b + 124, 12, fits_octal(size, 11) ? size : 0);
        octal(b + 136, 12,
              h->mtime >= 0 && fits_octal((uint64_t)h->mtime, 11) ? (uint64_t)h->mtime : 0);
        memset(b + 148, ' ', 8);
        b[156] = (unsigned char)type;
        if (link)
                strncpy((char *)b + 157, link, 100);
        memcpy(b + 257, "ustar", 6);
        memcpy(b + 263, "00", 2);
        octal(b + 329, 8, h->devmajor);
        octal(b + 337, 8, h->devminor);
        unsigned sum = 0;
        for (size_t i = 0; i < sizeof(b); i++)
                sum += b[i];
        char cs[8];
        snprintf(cs, sizeof(cs), "%06o", sum);
        memcpy(b + 148, cs, 7); /* six digits, NUL, then the space left there */
        return put(w, b, sizeof(b));
}

static int write_header(struct tarw *w, const struct hdr *h)
{
        _cleanup_buf_ struct berth_buf pax = BERTH_BUF_INIT;
        size_t plen;
        if (strlen(h->name) > 100 && !split_ustar(h->name, &plen))
                pax_record(&pax, "path", h->name, strlen(h->name));
        if (h->link && strlen(h->link) > 100)
                pax_record(&pax, "linkpath", h->link, strlen(h->link));
        char num[32];
        if (!fits_octal(h->size, 11)) {
                snprintf(num, sizeof(num), "%llu", (unsigned long long)h->size);
                pax_record(&pax, "size", num, strlen(num));
        }
        if (!fits_octal(h->uid, 7)) {
                snprintf(num, sizeof(num), "%llu", (unsigned long long)h->uid);
                pax_record(&pax, "uid", num, strlen(num));
        }
        if (!fits_octal(h->gid, 7)) {
                snprintf(num, sizeof(num), "%llu", (unsigned long long)h->gid);
                pax_record(&pax, "gid", num, strlen(num));
        }
        if (h->mtime < 0 || !fits_octal((uint64_t)h->mtime, 11)) {
                snprintf(num, sizeof(num), "%lld", (long long)h->mtime);
                pax_record(&pax, "mtime", num, strlen(num));
        }
        if (h->cap)
                pax_record(&pax, "SCHILY.xattr.security.capability", h->cap, h->cap_len);
        int r;
        if (pax.len) {
                /* Go names the extended header PaxHeaders.0/<base> beside the entry */
                const char *slash = strrchr(h->name, '/');
                const char *base = h->name;
                _cleanup_free_ char *trimmed = NULL;
                if (slash && !slash[1]) { /* a directory: its base before the '/' */
                        trimmed = xstrndup(h->name, (size_t)(slash - h->name));
                        slash = strrchr(trimmed, '/');
                        base = slash ? slash + 1 : trimmed;
                } else if (slash) {
                        base = slash + 1;
                }
                _cleanup_free_ char *pname = xasprintf("PaxHeaders.0/%.80s", base);
                r = write_header_block(w, h, pname, NULL, pax.len, 'x');
                if (r == 0)
                        r = put(w, pax.data, pax.len);
                if (r == 0)
                        r = pad(w, pax.len);
                if (r < 0)
                        return r;
        }
        return write_header_block(w, h, h->name, h->link, h->size, h->type);
}

/* ---- hard links ---- */

static size_t link_hash(dev_t dev, ino_t ino, size_t cap)
{
        uint64_t x = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev;
        return (size_t)(x ^ (x >> 29)) & (cap - 1);
}

/* The first name of (dev, ino), or NULL after remembering name for it. */
static const char *link_seen(struct tarw *w, dev_t dev, ino_t ino, const char *name)
{
        if ((w->n_links + 1) * 2 > w->cap_links) {
                size_t cap = w->cap_links ? w->cap_links * 2 : 64;
                struct link_slot *v = xcalloc(cap, sizeof(*v));
                for (size_t i = 0; i < w->cap_links; i++) {
                        struct link_slot *s = &w->links[i];
                        if (!s->name)
                                continue;
                        size_t k = link_hash(s->dev, s->ino, cap);
                        while (v[k].name)
                                k = (k + 1) & (cap - 1);
                        v[k] = *s;
                }
                free(w->links);
                w->links = v;
                w->cap_links = cap;
        }
        size_t k = link_hash(dev, ino, w->cap_links);
        while (w->links[k].name) {
                if (w->links[k].dev == dev && w->links[k].ino == ino)
                        return w->links[k].name;
                k = (k + 1) & (w->cap_links - 1);
        }
        w->links[k] = (struct link_slot){dev, ino, xstrdup(name)};
        w->n_links++;
        return NULL;
}

/* ---- entries ---- */

static mode_t type_bits(mode_t m)
{
        /* docker's fillGo18FileTypeBits: the st_mode type bits, as they are */
        return m & S_IFMT;
}

/* A regular file's bytes, from fd (opened for reading by a reopen of the O_PATH fd's inode). */
static int write_file_data(struct tarw *w, int fd, const char *name, uint64_t size,
                           struct berth_error **err)
{
        uint64_t left = size;
        while (left) {
                if (w->out_len == OUT_SIZE) {
                        int r = flush(w);
                        if (r < 0)
                                return r;
                }
                size_t room = OUT_SIZE - w->out_len;
                if (room > left)
                        room = (size_t)left;
                ssize_t n = read(fd, w->out + w->out_len, room);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_sys(err, errno, "read '%s'", name);
                if (n == 0) {
                        /* the file shrank while archived: keep the archive whole */
                        static const unsigned char zeros[4096];
                        while (left) {
                                size_t k = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
                                int r = put(w, zeros, k);
                                if (r < 0)
                                        return r;
                                left -= k;
                        }
                        break;
                }
                w->out_len += (size_t)n;
                w->total += (uint64_t)n;
                left -= (uint64_t)n;
        }
        return pad(w, size);
}

/* "dir/.wh.base" for an archived name "dir/base". */
static char *whiteout_name(const char *name, const char *base)
{
        const char *slash = strrchr(name, '/');
        size_t dlen = slash ? (size_t)(slash - name) + 1 : 0;
        return xasprintf("%.*s.wh.%s", (int)dlen, name, base);
}

static bool dir_is_opaque(int fd)
{
        char proc[64], v[2];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        ssize_t n = getxattr(proc, "trusted.overlay.opaque", v, sizeof(v));
        return n == 1 && v[0] == 'y';
}

/* One entry: fd is O_PATH on it, st its fstat, kfs whether it is on a kernel
 * filesystem (then a directory is archived empty and a file without its
 * contents: they are knobs, not data).  *ret_descend: a directory to list. */
static int write_entry(struct tarw *w, int fd, const struct stat *st, const char *name, bool kfs,
                       bool *ret_descend, struct berth_error **err)
{
        *ret_descend = false;
        if (w->skip && w->skip(name, fd, st, w->skip_ud))
                return 0;
        enum tarw_verdict v = w->filter ? w->filter(name, fd, st, w->filter_ud) : TARW_KEEP;
        if (v == TARW_SKIP)
                return 0;
        if (v == TARW_HIDE) {
                *ret_descend = S_ISDIR(st->st_mode) && !kfs;
                return 0;
        }
        struct hdr h = {
            .name = name,
            .mode = (w->perm_only ? 0 : type_bits(st->st_mode)) | (st->st_mode & 07777),
            .uid = w->chown ? w->uid : st->st_uid,
            .gid = w->chown ? w->gid : st->st_gid,
            .mtime = (int64_t)st->st_mtim.tv_sec,
        };
        _cleanup_free_ char *dirname = NULL;
        char link[4097];
        char cap[256];
        switch (st->st_mode & S_IFMT) {
        case S_IFDIR: {
                size_t n = strlen(name);
                if (!n || name[n - 1] != '/')
                        h.name = dirname = xasprintf("%s/", name);
                h.type = '5';
                *ret_descend = !kfs;
                int r = write_header(w, &h);
                if (r < 0 || !w->whiteouts || !dir_is_opaque(fd))
                        return r;
                _cleanup_free_ char *opq = xasprintf("%s.wh..wh..opq", h.name);
                struct hdr o = {.name = opq,
                                .type = '0',
                                .mode = st->st_mode & 0777,
                                .uid = h.uid,
                                .gid = h.gid};
                return write_header(w, &o);
        }
        case S_IFLNK: {
                ssize_t n = readlinkat(fd, "", link, sizeof(link) - 1);
                if (n < 0)
                        return berth_error_sys(err, errno, "readlink '%s'", name);
                link[n] = '\0';
                h.type = '2';
                h.link = link;
                return write_header(w, &h);
        }
        case S_IFCHR:
        case S_IFBLK:
                if (w->whiteouts && S_ISCHR(st->st_mode) && st->st_rdev == 0) {
                        const char *slash = strrchr(name, '/');
                        _cleanup_free_ char *wh = whiteout_name(name, slash ? slash + 1 : name);
                        h.name = wh;
                        h.type = '0';
                        h.mode = 0600;
                        return write_header(w, &h);
                }
                h.type = S_ISCHR(st->st_mode) ? '3' : '4';
                h.devmajor = major(st->st_rdev);
                h.devminor = minor(st->st_rdev);
                return write_header(w, &h);
        case S_IFIFO:
                h.type = '6';
                return write_header(w, &h);
        case S_IFSOCK:
                return 0; /* as docker: sockets are skipped */
        case S_IFREG:
                break;
        default:
                return 0;
        }
        if (st->st_nlink > 1) {
                const char *first = link_seen(w, st->st_dev, st->st_ino, name);
                if (first) {
                        h.type = '1';
                        h.link = first;
                        return write_header(w, &h);
                }
        }
        h.type = '0';
        h.size = kfs ? 0 : (uint64_t)st->st_size;
        if (kfs)
                return write_header(w, &h); /* nothing of the kernel's is opened or read */
        /* one reopen of the inode for reading serves the capability and the bytes (or the
         * member's own fd, when it was opened for reading) */
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        _cleanup_close_ int rfd = w->readable
                                      ? fcntl(fd, F_DUPFD_CLOEXEC, 3)
                                      : open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (rfd < 0)
                return berth_error_sys(err, errno, "open '%s'", name);
        ssize_t cl = fgetxattr(rfd, "security.capability", cap, sizeof(cap));
        if (cl > 0) {
                h.cap = cap;
                h.cap_len = (size_t)cl;
        }
        int r = write_header(w, &h);
        if (r < 0)
                return r;
        return write_file_data(w, rfd, name, h.size, err);
}

/* ---- the walk ---- */

struct frame {
        int fd;    /* O_PATH, the directory */
        dev_t dev; /* its filesystem, and whether that is a kernel one */
        bool kfs;
        char **names;
        size_t n, i;
        size_t plen; /* length of this directory's entry name prefix in path */
};

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(int fd, const char *name, char ***ret, size_t *ret_n, struct berth_error **err)
{
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_sys(err, errno, "open directory '%s'", name);
        DIR *d = fdopendir(dfd);
        if (!d) {
                int e = errno;
                close(dfd);
                return berth_error_sys(err, e, "open directory '%s'", name);
        }
        char **v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        errno = 0;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        v = xrealloc(v, cap * sizeof(*v));
                }
                v[n++] = xstrdup(de->d_name);
                errno = 0;
        }
        int e = errno;
        closedir(d);
        if (e) {
                for (size_t i = 0; i < n; i++)
                        free(v[i]);
                free(v);
                return berth_error_sys(err, e, "read directory '%s'", name);
        }
        if (n)
                qsort(v, n, sizeof(*v), cmp_names);
        *ret = v;
        *ret_n = n;
        return 0;
}

static void frame_release(struct frame *f)
{
        if (f->fd >= 0)
                close(f->fd);
        for (size_t i = 0; i < f->n; i++)
                free(f->names[i]);
        free(f->names);
}

int tarw_add(struct tarw *w, int dirfd, const char *name, const char *as, struct berth_error **err)
{
        bool self = !name || !*name || strcmp(name, ".") == 0;
        _cleanup_close_ int top = self ? fcntl(dirfd, F_DUPFD_CLOEXEC, 3)
                                       : openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (top < 0)
                return berth_error_sys(err, errno, "open '%s'", self ? as : name);
        return tarw_add_fd(w, top, as, err);
}

int tarw_add_fd(struct tarw *w, int fd, const char *as, struct berth_error **err)
{
        _cleanup_close_ int top = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (top < 0)
                return berth_error_sys(err, errno, "open '%s'", as);
        struct stat st;
        if (fstat(top, &st) < 0)
                return berth_error_sys(err, errno, "stat '%s'", as);
        /* the prefix of the children's names */
        _cleanup_buf_ struct berth_buf path = BERTH_BUF_INIT;
        bool kfs = fd_on_kernel_fs(top);
        bool descend = S_ISDIR(st.st_mode) && !kfs;
        int r = 0;
        if (*as) {
                bool root = strcmp(as, "/") == 0;
                r = write_entry(w, top, &st, root ? "/" : as, kfs, &descend, err);
                buf_puts(&path, root ? "" : as);
                if (path.len && path.data[path.len - 1] == '/')
                        path.data[--path.len] = '\0';
        }
        if (r < 0 || !descend)
                return r;
        struct frame *stack = NULL;
        size_t depth = 0, cap = 0;
        stack = xrealloc(stack, (cap = 16) * sizeof(*stack));
        stack[0] =
            (struct frame){.fd = TAKE_FD(top), .dev = st.st_dev, .kfs = kfs, .plen = path.len};
        depth = 1;
        r = list_dir(stack[0].fd, as, &stack[0].names, &stack[0].n, err);
        while (r == 0 && depth) {
                struct frame *f = &stack[depth - 1];
                if (f->i == f->n) {
                        frame_release(f);
                        depth--;
                        continue;
                }
                const char *child = f->names[f->i++];
                path.len = f->plen;
                if (path.len || *as)
                        buf_putc(&path, '/');
                buf_puts(&path, child);
                int cfd = -1;
                w->readable = false;
                if (w->direct) {
                        cfd = openat(f->fd, child,
                                     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                        w->readable = cfd >= 0;
                }
                if (cfd < 0)
                        cfd = openat(f->fd, child, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0) {
                        if (errno == ENOENT)
                                continue; /* removed since the listing */
                        r = berth_error_sys(err, errno, "open '%s'", path.data);
                        break;
                }
                if (fstat(cfd, &st) < 0) {
                        r = berth_error_sys(err, errno, "stat '%s'", path.data);
                        close(cfd);
                        break;
                }
                /* a mount point: what filesystem is below it */
                bool ckfs = st.st_dev == f->dev ? f->kfs : fd_on_kernel_fs(cfd);
                bool sub = false;
                r = write_entry(w, cfd, &st, path.data, ckfs, &sub, err);
                if (r < 0 || !sub) {
                        close(cfd);
                        continue;
                }
                if (depth == cap)
                        stack = xrealloc(stack, (cap *= 2) * sizeof(*stack));
                struct frame *nf = &stack[depth++];
                *nf = (struct frame){.fd = cfd, .dev = st.st_dev, .kfs = ckfs, .plen = path.len};
                r = list_dir(cfd, path.data, &nf->names, &nf->n, err);
        }
        while (depth)
                frame_release(&stack[--depth]);
        free(stack);
        if (r == 0 && w->failed)
                r = w->failed;
        if (r < 0 && err && !*err)
                berth_error_sys(err, -r, "write archive");
        return r;
}

int tarw_add_data(struct tarw *w, const char *as, const void *data, size_t len, mode_t mode,
                  int64_t mtime, struct berth_error **err)
{
        struct hdr h = {
            .name = as,
            .type = '0',
            .mode = (w->perm_only ? 0 : S_IFREG) | (mode & 07777),
            .uid = w->chown ? w->uid : 0,
            .gid = w->chown ? w->gid : 0,
            .size = len,
            .mtime = mtime,
        };
        int r = write_header(w, &h);
        if (r == 0 && len)
                r = put(w, data, len);
        if (r == 0)
                r = pad(w, len);
        if (r < 0)
                return berth_error_sys(err, -r, "write archive");
        return 0;
}

int tarw_finish(struct tarw *w, struct berth_error **err)
{
        static const unsigned char zeros[1024];
        int r = put(w, zeros, sizeof(zeros));
        if (r == 0)
                r = flush(w);
        if (r < 0)
                return berth_error_sys(err, -r, "write archive");
        return 0;
}
