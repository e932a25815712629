/*
 * tar.c — the streaming tar reader (see tar.h).
 *
 * A small state machine over 512-byte blocks: HEADER collects one block (from
 * the input directly when a whole block is there, else through hdr[]), EXT
 * collects the data of a PAX or GNU long-name member into a bounded buffer,
 * DATA hands a member's contents to data() straight from the caller's buffer
 * (no copy), PAD skips to the next block boundary, ZERO/END handle the two
 * zero blocks that close the archive (anything after them is ignored).
 *
 * Never: trust a length from the archive before checking it against a bound.
 */
#include <ctype.h>
#include <inttypes.h>
#include <errno.h>
#include <string.h>

#include "base/buf.h"
#include "image/tar.h"

#define BLOCK      512
#define EXT_MAX    (1024 * 1024)
#define XATTRS_MAX 128

enum state { ST_HEADER, ST_EXT, ST_DATA, ST_PAD, ST_ZERO, ST_END };

enum ext_kind { EXT_PAX, EXT_GLOBAL, EXT_LONGNAME, EXT_LONGLINK };

struct tar_reader {
        struct tar_ops ops;
        void *ud;
        struct tar_limits lim;
        enum state st;
        unsigned char hdr[BLOCK];
        size_t hdr_fill;
        uint64_t remaining; /* of EXT / DATA / PAD */
        uint64_t pad_after;
        enum ext_kind ext_kind;
        struct berth_buf ext;
        uint64_t entries;
        /* pending extensions for the next real header */
        char *long_name, *long_link;
        char *pax_path, *pax_link;
        bool pax_has_size, pax_has_uid, pax_has_gid, pax_has_mtime, pax_has_atime;
        uint64_t pax_size, pax_uid, pax_gid;
        struct timespec pax_mtime, pax_atime;
        struct tar_xattr *xattrs;
        size_t n_xattrs;
        struct tar_entry cur;
        bool in_entry;
};

static void pending_clear(struct tar_reader *r)
{
        free(r->long_name);
        free(r->long_link);
        free(r->pax_path);
        free(r->pax_link);
        r->long_name = r->long_link = r->pax_path = r->pax_link = NULL;
        r->pax_has_size = r->pax_has_uid = r->pax_has_gid = false;
        r->pax_has_mtime = r->pax_has_atime = false;
        for (size_t i = 0; i < r->n_xattrs; i++) {
                free(r->xattrs[i].name);
                free(r->xattrs[i].value);
        }
        free(r->xattrs);
        r->xattrs = NULL;
        r->n_xattrs = 0;
}

static void entry_clear(struct tar_reader *r)
{
        free(r->cur.path);
        free(r->cur.linkname);
        r->cur = (struct tar_entry){0};
}

struct tar_reader *tar_reader_new(const struct tar_ops *ops, void *ud,
                                  const struct tar_limits *limits)
{
        struct tar_reader *r = xcalloc(1, sizeof(*r));
        r->ops = *ops;
        r->ud = ud;
        r->lim = *limits;
        r->st = ST_HEADER;
        return r;
}

void tar_reader_free(struct tar_reader *r)
{
        if (!r)
                return;
        pending_clear(r);
        entry_clear(r);
        buf_release(&r->ext);
        free(r);
}

uint64_t tar_reader_entries(const struct tar_reader *r)
{
        return r->entries;
}

/* Octal with optional leading spaces, ended by NUL or space; or GNU base-256. */
static int parse_numeric(const unsigned char *f, size_t n, uint64_t *ret)
{
        if (f[0] & 0x80) {
                if (f[0] & 0x40)
                        return -EINVAL; /* negative */
                uint64_t v = f[0] & 0x3f;
                for (size_t i = 1; i < n; i++) {
                        if (v >> 56)
                                return -ERANGE;
                        v = (v << 8) | f[i];
                }
                *ret = v;
                return 0;
        }
        size_t i = 0;
        while (i < n && (f[i] == ' ' || f[i] == '\0'))
                i++;
        uint64_t v = 0;
        bool any = false;
        for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
                if (v >> 61)
                        return -ERANGE;
                v = v * 8 + (uint64_t)(f[i] - '0');
                any = true;
        }
        for (; i < n; i++)
                if (f[i] != ' ' && f[i] != '\0')
                        return -EINVAL;
        (void)any; /* an all-blank field is 0, as GNU tar and Go read it */
        *ret = v;
        return 0;
}

static bool block_is_zero(const unsigned char *b)
{
        for (size_t i = 0; i < BLOCK; i++)
                if (b[i])
                        return false;
        return true;
}

static bool checksum_ok(const unsigned char *b)
{
        uint64_t want;
        if (parse_numeric(b + 148, 8, &want) < 0)
                return false;
        uint64_t u = 0;
        int64_t s = 0;
        for (size_t i = 0; i < BLOCK; i++) {
                unsigned char c = (i >= 148 && i < 156) ? ' ' : b[i];
                u += c;
                s += (signed char)c;
        }
        return u == want || (uint64_t)s == want;
}

static char *field_str(const unsigned char *f, size_t n)
{
        size_t len = strnlen((const char *)f, n);
        return xstrndup((const char *)f, len);
}

/* PAX times: decimal seconds with an optional fraction; negative refused. */
static int parse_pax_time(const char *v, struct timespec *ts)
{
        uint64_t sec = 0;
        const char *p = v;
        if (!isdigit((unsigned char)*p))
                return -EINVAL;
        for (; isdigit((unsigned char)*p); p++) {
                if (sec > (uint64_t)INT64_MAX / 10)
                        return -ERANGE;
                sec = sec * 10 + (uint64_t)(*p - '0');
        }
        long nsec = 0;
        if (*p == '.') {
                p++;
                int digits = 0;
                for (; isdigit((unsigned char)*p); p++, digits++)
                        if (digits < 9)
                                nsec = nsec * 10 + (*p - '0');
                for (; digits < 9; digits++)
                        nsec *= 10;
        }
        if (*p)
                return -EINVAL;
        ts->tv_sec = (time_t)sec;
        ts->tv_nsec = nsec;
        return 0;
}

static int parse_pax_u64(const char *v, uint64_t *ret)
{
        if (!*v)
                return -EINVAL;
        uint64_t x = 0;
        for (const char *p = v; *p; p++) {
                if (!isdigit((unsigned char)*p) || x > (UINT64_MAX - 9) / 10)
                        return -EINVAL;
                x = x * 10 + (uint64_t)(*p - '0');
        }
        *ret = x;
        return 0;
}

static int pax_record(struct tar_reader *r, const char *key, const char *val, size_t vlen,
                      struct berth_error **err)
{
        bool has_nul = memchr(val, '\0', vlen) != NULL;
        if (strncmp(key, "SCHILY.xattr.", 13) == 0) {
                if (r->n_xattrs >= XATTRS_MAX)
                        return berth_error_set(err, E2BIG, "tar: more than %d xattrs on one entry",
                                               XATTRS_MAX);
                r->xattrs = xrealloc(r->xattrs, (r->n_xattrs + 1) * sizeof(*r->xattrs));
                struct tar_xattr *x = &r->xattrs[r->n_xattrs++];
                x->name = xstrdup(key + 13);
                x->value = xmalloc(vlen + 1);
                memcpy(x->value, val, vlen);
                x->value[vlen] = '\0';
                x->len = vlen;
                return 0;
        }
        if (strncmp(key, "GNU.sparse.", 11) == 0)
                return berth_error_set(err, ENOTSUP, "tar: sparse files are not supported");
        bool is_path = strcmp(key, "path") == 0, is_link = strcmp(key, "linkpath") == 0;
        if ((is_path || is_link) && has_nul)
                return berth_error_set(err, EINVAL, "tar: invalid pax record '%s'", key);
        if (is_path) {
                free(r->pax_path);
                r->pax_path = xstrdup(val);
        } else if (is_link) {
                free(r->pax_link);
                r->pax_link = xstrdup(val);
        } else if (strcmp(key, "size") == 0) {
                if (parse_pax_u64(val, &r->pax_size) < 0)
                        return berth_error_set(err, EINVAL, "tar: invalid pax size '%s'", val);
                r->pax_has_size = true;
        } else if (strcmp(key, "uid") == 0) {
                if (parse_pax_u64(val, &r->pax_uid) < 0)
                        return berth_error_set(err, EINVAL, "tar: invalid pax uid '%s'", val);
                r->pax_has_uid = true;
        } else if (strcmp(key, "gid") == 0) {
                if (parse_pax_u64(val, &r->pax_gid) < 0)
                        return berth_error_set(err, EINVAL, "tar: invalid pax gid '%s'", val);
                r->pax_has_gid = true;
        } else if (strcmp(key, "mtime") == 0) {
                if (parse_pax_time(val, &r->pax_mtime) < 0)
                        return berth_error_set(err, EINVAL, "tar: invalid pax mtime '%s'", val);
                r->pax_has_mtime = true;
        } else if (strcmp(key, "atime") == 0) {
                if (parse_pax_time(val, &r->pax_atime) == 0)
                        r->pax_has_atime = true;
        }
        /* other keys (uname, gname, ctime, comment, charset, …) carry nothing we apply */
        return 0;
}

/* Records: "<len> <key>=<value>\n", len counting the whole record. */
static int parse_pax(struct tar_reader *r, const char *d, size_t n, struct berth_error **err)
{
        size_t off = 0;
        while (off < n) {
                if (d[off] == '\0')
                        break; /* NUL padding at the end, as some writers leave */
                size_t len = 0, i = off;
                while (i < n && isdigit((unsigned char)d[i])) {
                        len = len * 10 + (size_t)(d[i] - '0');
                        if (len > n)
                                return berth_error_set(err, EINVAL, "tar: invalid pax header");
                        i++;
                }
                if (i == off || i >= n || d[i] != ' ' || len <= i - off + 1 || off + len > n ||
                    d[off + len - 1] != '\n')
                        return berth_error_set(err, EINVAL, "tar: invalid pax header");
                const char *kv = d + i + 1, *end = d + off + len - 1;
                const char *eq = memchr(kv, '=', (size_t)(end - kv));
                if (!eq || eq == kv)
                        return berth_error_set(err, EINVAL, "tar: invalid pax header");
                _cleanup_free_ char *key = xstrndup(kv, (size_t)(eq - kv));
                size_t vlen = (size_t)(end - eq - 1);
                _cleanup_free_ char *val = xmalloc(vlen + 1);
                memcpy(val, eq + 1, vlen);
                val[vlen] = '\0';
                if (r->ext_kind == EXT_PAX) {
                        int ret = pax_record(r, key, val, vlen, err);
                        if (ret < 0)
                                return ret;
                }
                off += len;
        }
        return 0;
}

static int ext_done(struct tar_reader *r, struct berth_error **err)
{
        const char *d = r->ext.data ? r->ext.data : "";
        size_t n = r->ext.len;
        int ret = 0;
        switch (r->ext_kind) {
        case EXT_PAX:
        case EXT_GLOBAL: /* parsed for validity, then ignored (as Docker does) */
                ret = parse_pax(r, d, n, err);
                break;
        case EXT_LONGNAME:
                free(r->long_name);
                r->long_name = xstrndup(d, strnlen(d, n));
                break;
        case EXT_LONGLINK:
                free(r->long_link);
                r->long_link = xstrndup(d, strnlen(d, n));
                break;
        }
        r->ext.len = 0;
        return ret;
}

static int check_name(const struct tar_reader *r, const char *what, const char *s,
                      struct berth_error **err)
{
        size_t n = strlen(s);
        if (n > r->lim.max_path)
                return berth_error_set(err, ENAMETOOLONG,
                                       "tar: %s of %zu bytes exceeds the limit of %zu", what, n,
                                       r->lim.max_path);
        return 0;
}

static int begin_data(struct tar_reader *r, uint64_t size)
{
        r->remaining = size;
        r->pad_after = (BLOCK - size % BLOCK) % BLOCK;
        return 0;
}

/* Typeflag → type; false for types berth refuses (GNU sparse 'S', multi-volume
 * 'M', 'V', 'D', 'N', vendor letters). */
static bool entry_type(char tf, enum tar_type *ret)
{
        static const struct {
                char flag;
                enum tar_type type;
        } map[] = {{'0', TAR_FILE},     {'\0', TAR_FILE},   {'7', TAR_FILE},
                   {'1', TAR_HARDLINK}, {'2', TAR_SYMLINK}, {'3', TAR_CHAR},
                   {'4', TAR_BLOCK},    {'5', TAR_DIR},     {'6', TAR_FIFO}};
        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                if (map[i].flag == tf) {
                        *ret = map[i].type;
                        return true;
                }
        }
        return false;
}

static int header(struct tar_reader *r, const unsigned char *b, struct berth_error **err)
{
        if (block_is_zero(b)) {
                r->st = ST_ZERO;
                return 0;
        }
        if (!checksum_ok(b))
                return berth_error_set(err, EINVAL, "tar: invalid header checksum");
        if (++r->entries > r->lim.max_entries)
                return berth_error_set(err, E2BIG, "tar: more than %" PRIu64 " entries",
                                       r->lim.max_entries);
        uint64_t size, mode, uid, gid, mtime, major = 0, minor = 0;
        if (parse_numeric(b + 124, 12, &size) < 0 || parse_numeric(b + 100, 8, &mode) < 0 ||
            parse_numeric(b + 108, 8, &uid) < 0 || parse_numeric(b + 116, 8, &gid) < 0 ||
            parse_numeric(b + 136, 12, &mtime) < 0)
                return berth_error_set(err, EINVAL, "tar: invalid numeric field in header");
        char tf = (char)b[156];
        bool ustar = memcmp(b + 257, "ustar\0", 6) == 0;
        bool gnu = memcmp(b + 257, "ustar  \0", 8) == 0;

        if (tf == 'x' || tf == 'g' || tf == 'L' || tf == 'K') {
                if (size > EXT_MAX)
                        return berth_error_set(err, E2BIG,
                                               "tar: extended header of %" PRIu64
                                               " bytes exceeds the limit of %d",
                                               size, EXT_MAX);
                r->ext_kind = tf == 'x'   ? EXT_PAX
                              : tf == 'g' ? EXT_GLOBAL
                              : tf == 'L' ? EXT_LONGNAME
                                          : EXT_LONGLINK;
                r->ext.len = 0;
                begin_data(r, size);
                r->st = ST_EXT;
                return 0;
        }

        struct tar_entry *e = &r->cur;
        entry_clear(r);
        if (!entry_type(tf, &e->type))
                return berth_error_set(err, ENOTSUP, "tar: unsupported entry type '%c'",
                                       isprint((unsigned char)tf) ? tf : '?');

        if (r->pax_path)
                e->path = xstrdup(r->pax_path);
        else if (r->long_name)
                e->path = xstrdup(r->long_name);
        else if (ustar && b[345])
                e->path = xasprintf("%.155s/%.100s", (const char *)b + 345, (const char *)b);
        else
                e->path = field_str(b, 100);
        if (r->pax_link)
                e->linkname = xstrdup(r->pax_link);
        else if (r->long_link)
                e->linkname = xstrdup(r->long_link);
        else
                e->linkname = field_str(b + 157, 100);
        if (tf == '\0') {
                size_t n = strlen(e->path);
                if (n > 0 && e->path[n - 1] == '/')
                        e->type = TAR_DIR; /* pre-POSIX directories */
        }
        int ret = check_name(r, "name", e->path, err);
        if (ret == 0)
                ret = check_name(r, "link name", e->linkname, err);
        if (ret < 0)
                return ret;
        if (!*e->path)
                return berth_error_set(err, EINVAL, "tar: entry with an empty name");

        if (r->pax_has_size)
                size = r->pax_size;
        e->uid = r->pax_has_uid ? r->pax_uid : uid;
        e->gid = r->pax_has_gid ? r->pax_gid : gid;
        e->mode = (mode_t)(mode & 07777);
        if (r->pax_has_mtime) {
                e->mtime = r->pax_mtime;
        } else {
                e->mtime.tv_sec = (time_t)mtime;
                e->mtime.tv_nsec = 0;
        }
        uint64_t atime;
        if (r->pax_has_atime)
                e->atime = r->pax_atime;
        else if (gnu && parse_numeric(b + 345, 12, &atime) == 0 && atime)
                e->atime = (struct timespec){.tv_sec = (time_t)atime};
        else
                e->atime = e->mtime;
        if (e->type == TAR_CHAR || e->type == TAR_BLOCK) {
                if (parse_numeric(b + 329, 8, &major) < 0 ||
                    parse_numeric(b + 337, 8, &minor) < 0 || major > 0xfff || minor > 0xfffff)
                        return berth_error_set(err, EINVAL, "tar: '%s': invalid device numbers",
                                               e->path);
                e->devmajor = (unsigned)major;
                e->devminor = (unsigned)minor;
        }
        if (e->type != TAR_FILE)
                size = 0; /* header-only types carry no data, like Go's reader */
        if (size > r->lim.max_size)
                return berth_error_set(err, EFBIG,
                                       "tar: '%s': size %" PRIu64 " exceeds the limit of %" PRIu64
                                       " bytes",
                                       e->path, size, r->lim.max_size);
        e->size = size;
        e->xattrs = r->xattrs;
        e->n_xattrs = r->n_xattrs;
        ret = r->ops.entry(r->ud, e, err);
        e->xattrs = NULL;
        e->n_xattrs = 0;
        pending_clear(r);
        if (ret < 0)
                return ret;
        r->in_entry = true;
        begin_data(r, size);
        r->st = ST_DATA;
        return 0;
}

static int end_member(struct tar_reader *r, struct berth_error **err)
{
        int ret = 0;
        if (r->st == ST_EXT) {
                ret = ext_done(r, err);
        } else if (r->in_entry) {
                r->in_entry = false;
                ret = r->ops.entry_end(r->ud, err);
        }
        if (ret < 0)
                return ret;
        r->remaining = r->pad_after;
        r->st = r->remaining ? ST_PAD : ST_HEADER;
        return 0;
}

int tar_reader_feed(struct tar_reader *r, const void *buf, size_t len, struct berth_error **err)
{
        const unsigned char *p = buf;
        int ret;
        while (len > 0 || (r->st == ST_DATA && r->remaining == 0) ||
               (r->st == ST_EXT && r->remaining == 0)) {
                switch (r->st) {
                case ST_HEADER:
                case ST_ZERO: {
                        const unsigned char *blk;
                        if (r->hdr_fill == 0 && len >= BLOCK) {
                                blk = p;
                                p += BLOCK;
                                len -= BLOCK;
                        } else {
                                size_t n = BLOCK - r->hdr_fill < len ? BLOCK - r->hdr_fill : len;
                                memcpy(r->hdr + r->hdr_fill, p, n);
                                r->hdr_fill += n;
                                p += n;
                                len -= n;
                                if (r->hdr_fill < BLOCK)
                                        return 0;
                                r->hdr_fill = 0;
                                blk = r->hdr;
                        }
                        if (r->st == ST_ZERO) {
                                if (!block_is_zero(blk))
                                        return berth_error_set(
                                            err, EINVAL,
                                            "tar: data after the first end-of-archive block");
                                r->st = ST_END;
                                break;
                        }
                        ret = header(r, blk, err);
                        if (ret < 0)
                                return ret;
                        break;
                }
                case ST_EXT: {
                        size_t n = r->remaining < len ? (size_t)r->remaining : len;
                        buf_append(&r->ext, p, n);
                        p += n;
                        len -= n;
                        r->remaining -= n;
                        if (r->remaining == 0) {
                                ret = end_member(r, err);
                                if (ret < 0)
                                        return ret;
                        }
                        break;
                }
                case ST_DATA: {
                        size_t n = r->remaining < len ? (size_t)r->remaining : len;
                        if (n > 0) {
                                ret = r->ops.data(r->ud, p, n, err);
                                if (ret < 0)
                                        return ret;
                        }
                        p += n;
                        len -= n;
                        r->remaining -= n;
                        if (r->remaining == 0) {
                                ret = end_member(r, err);
                                if (ret < 0)
                                        return ret;
                        }
                        break;
                }
                case ST_PAD: {
                        size_t n = r->remaining < len ? (size_t)r->remaining : len;
                        p += n;
                        len -= n;
                        r->remaining -= n;
                        if (r->remaining == 0)
                                r->st = ST_HEADER;
                        break;
                }
                case ST_END:
                        return 0; /* trailing blocks after the archive are ignored */
                }
        }
        return 0;
}

int tar_reader_finish(struct tar_reader *r, struct berth_error **err)
{
        /* ST_PAD, when asked: the last member's data is whole and only its padding is
         * missing, as in the context docker's CLI sends with `-f -` */
        if ((r->st == ST_HEADER && r->hdr_fill == 0) || r->st == ST_END ||
            (r->st == ST_PAD && r->lim.unpadded_end) || (r->st == ST_ZERO && r->hdr_fill == 0))
                return 0;
        return berth_error_set(err, EPIPE, "tar: unexpected end of tar data");
}
