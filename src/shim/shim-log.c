/*
 * shim-log.c — the container's log in docker's json-file format.
 *
 * One JSON object per line: {"log":"<text>","stream":"stdout"|"stderr",
 * ["attrs":{...},] "time":"<RFC 3339, nanoseconds, trailing zeros dropped as Go
 * prints>"}; attrs are the --log-opt labels/env values berthd rendered.
 * As docker's copier does, output is cut into lines: each complete line
 * (with its "\n") is one entry; a partial line waits for its end, or goes out
 * on its own once it reaches 16 KiB or the stream ends.  Text is escaped as
 * Go's encoding/json escapes it (<, > and & as \u00XX, invalid UTF-8 as
 * U+FFFD), so `docker logs`, `berth logs` and a user's `tail` agree.
 *
 * Rotation (--log-opt max-size/max-file): before an entry would take the
 * file past max-size, <path> becomes <path>.1, .1 becomes .2, …, and the
 * oldest beyond max-file - 1 is dropped; with compress (the "local" driver)
 * the rotated file is gzip'd to <path>.1.gz by a berth-shim-helper process
 * (the monitor links no compressor); the next rotation waits for it.  Readers (berthd) read the
 * rotated files oldest first, then <path>.
 *
 * Never: buffer more than a line per stream; block on the log (it is a
 * local file: a full disk loses log lines, never the container).
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/json.h"
#include "shim.h"

#define LINE_MAX_BYTES (16 * 1024)

struct shim_log {
        char *path;
        int fd;
        uint64_t size, max_size;
        unsigned max_file;
        bool compress;
        int compressing; /* pidfd of the helper compressing <path>.1, or -1 */
        char *attrs;
        struct berth_buf partial[3];
        struct berth_buf entry;
};

static void rfc3339nano(char out[48])
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm);
        if (ts.tv_nsec) {
                char frac[16];
                snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
                size_t k = strlen(frac);
                while (k > 1 && frac[k - 1] == '0')
                        frac[--k] = '\0';
                memcpy(out + n, frac, k + 1);
                n += k;
        }
        out[n++] = 'Z';
        out[n] = '\0';
}

static int open_log(struct shim_log *l)
{
        l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (l->fd < 0)
                return -errno;
        struct stat st;
        l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        return 0;
}

/* The compression of the last rotated file, waited for: it reads <path>.1 and
 * writes <path>.1.gz, which the next rotation renames. */
static void compressed(struct shim_log *l)
{
        if (l->compressing < 0)
                return;
        struct pollfd p = {.fd = l->compressing, .events = POLLIN};
        while (poll(&p, 1, 30000) < 0 && errno == EINTR)
                ;
        close(l->compressing);
        l->compressing = -1;
}

static void rotate(struct shim_log *l)
{
        close(l->fd);
        l->fd = -1;
        /* a file still being compressed would be renamed over, and its end unlinked
         * by the helper: logging faster than gzip waits for it */
        compressed(l);
        const char *ext = l->compress ? ".gz" : "";
        if (l->max_file <= 1) {
                (void)truncate(l->path, 0);
        } else {
                _cleanup_free_ char *oldest = xasprintf("%s.%u%s", l->path, l->max_file - 1, ext);
                (void)unlink(oldest);
                for (unsigned i = l->max_file - 1; i > 1; i--) {
                        _cleanup_free_ char *a = xasprintf("%s.%u%s", l->path, i - 1, ext);
                        _cleanup_free_ char *b = xasprintf("%s.%u%s", l->path, i, ext);
                        (void)rename(a, b);
                }
                _cleanup_free_ char *first = xasprintf("%s.1", l->path);
                if (rename(l->path, first) == 0 && l->compress) {
                        /* compressed by a helper process, not in the monitor's loop */
                        _cleanup_free_ char *gz = xasprintf("%s.1.gz", l->path);
                        l->compressing = shim_compress_async(first, gz);
                }
        }
        if (open_log(l) < 0)
                shim_warn("log '%s': reopen after rotation: %s", l->path, strerror(errno));
}

int shim_log_open(const char *path, uint64_t max_size, unsigned max_file, bool compress,
                  const char *attrs, struct shim_log **ret, struct berth_error **err)
{
        struct shim_log *l = xcalloc(1, sizeof(*l));
        l->path = xstrdup(path);
        l->attrs = attrs && *attrs ? xstrdup(attrs) : NULL;
        l->max_size = max_size;
        l->max_file = max_file ? max_file : 1;
        l->compress = compress;
        l->compressing = -1;
        for (int i = 0; i < 3; i++)
                l->partial[i] = (struct berth_buf)BERTH_BUF_INIT;
        l->entry = (struct berth_buf)BERTH_BUF_INIT;
        int r = open_log(l);
        if (r < 0) {
                r = berth_error_sys(err, -r, "open log file '%s'", path);
                free(l->path);
                free(l->attrs);
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

static void emit(struct shim_log *l, int stream, const char *text, size_t len)
{
        char ts[48];
        rfc3339nano(ts);
        struct berth_buf *e = &l->entry;
        buf_reset(e);
        buf_puts(e, "{\"log\":");
        json_quote(e, text, len, 0);
        buf_printf(e, ",\"stream\":\"%s\"", stream == STREAM_STDERR ? "stderr" : "stdout");
        if (l->attrs) /* where dockerd's json-file puts them: after the stream */
                buf_printf(e, ",\"attrs\":%s", l->attrs);
        buf_printf(e, ",\"time\":\"%s\"}\n", ts);
        if (l->max_size && l->size > 0 && l->size + e->len > l->max_size)
                rotate(l);
        if (l->fd < 0)
                return;
        /* O_APPEND: a whole entry goes in one write, so readers never see half a line
         * (a short write on a full disk drops the entry's rest: the log is best effort). */
        ssize_t n = write(l->fd, e->data, e->len);
        if (n > 0)
                l->size += (uint64_t)n;
}

void shim_log_write(struct shim_log *l, int stream, const char *data, size_t len)
{
        if (!l || stream < 1 || stream > 2)
                return;
        struct berth_buf *p = &l->partial[stream];
        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t take = nl ? (size_t)(nl - data) + 1 : len;
                if (p->len + take > LINE_MAX_BYTES && !nl) {
                        /* fill the partial line up to the limit and let it go */
                        take = LINE_MAX_BYTES - p->len;
                        buf_append(p, data, take);
                        emit(l, stream, p->data, p->len);
                        buf_reset(p);
                } else if (p->len) {
                        buf_append(p, data, take);
                        if (nl) {
                                emit(l, stream, p->data, p->len);
                                buf_reset(p);
                        }
                } else if (nl) {
                        emit(l, stream, data, take);
                } else {
                        buf_append(p, data, take);
                }
                data += take;
                len -= take;
        }
}

void shim_log_flush(struct shim_log *l)
{
        if (!l)
                return;
        for (int s = 1; s <= 2; s++)
                if (l->partial[s].len) {
                        emit(l, s, l->partial[s].data, l->partial[s].len);
                        buf_reset(&l->partial[s]);
                }
}

void shim_log_close(struct shim_log *l)
{
        if (!l)
                return;
        shim_log_flush(l);
        if (l->fd >= 0)
                close(l->fd);
        if (l->compressing >= 0)
                close(l->compressing); /* it finishes on its own */
        for (int i = 0; i < 3; i++)
                buf_release(&l->partial[i]);
        buf_release(&l->entry);
        free(l->path);
        free(l->attrs);
        free(l);
}
