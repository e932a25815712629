/*
 * container-logs.c — `docker logs`: reading the json-file log the shim
 * writes (contract in containers.h; the format in src/shim/shim-log.c).
 *
 * The files are read oldest first: <log>.N[.gz] … <log>.1[.gz], then <log>.
 * Each line is one entry {"log","stream"[,"attrs"],"time"}; entries are filtered by
 * stream, since and until, the last `tail` are kept, and each goes out as
 * docker sends it: an 8-byte header [stream,0,0,0,len32be] before the text
 * unless the container has a terminal, the RFC 3339 time and a space before
 * the text with timestamps.  Following: once the files are read, inotify on
 * the log's directory says when the log grows or rotates; following ends
 * when the container is no longer running and everything was sent, or when
 * the client is gone.
 *
 * Never: hold a whole log in memory when no tail is asked (entries stream
 * out as they are read); trust a log line (a garbled one is skipped).
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/units.h"
#include "container-internal.h"

struct entry {
        int stream;
        int64_t ns;
        char *time; /* as written */
        char *text;
        size_t len;
        char *details; /* "k=v,k2=v2" of the entry's attrs (with details), or NULL */
};

struct tail_ring {
        struct entry *v;
        size_t cap, n, head;
};

struct reader {
        const struct berth_logs_opts *o;
        bool tty;
        berth_logs_write_fn write;
        void *arg;
        struct tail_ring ring; /* with tail >= 0 */
        int r;
};

static int emit(struct reader *rd, const struct entry *en)
{
        struct berth_buf b = BERTH_BUF_INIT;
        if (!rd->tty) {
                unsigned char h[8] = {(unsigned char)en->stream, 0, 0, 0, 0, 0, 0, 0};
                buf_append(&b, h, sizeof(h));
        }
        if (rd->o->timestamps) {
                /* RFC 3339 with nanoseconds always nine digits, as docker prints them */
                char t[48];
                units_rfc3339_nano(en->ns, true, t);
                buf_printf(&b, "%s ", t);
        }
        if (rd->o->details) {
                if (en->details)
                        buf_puts(&b, en->details);
                buf_putc(&b, ' ');
        }
        buf_append(&b, en->text, en->len);
        if (!rd->tty) {
                uint32_t len = (uint32_t)(b.len - 8);
                unsigned char *h = (unsigned char *)b.data;
                h[4] = (unsigned char)(len >> 24);
                h[5] = (unsigned char)(len >> 16);
                h[6] = (unsigned char)(len >> 8);
                h[7] = (unsigned char)len;
        }
        int r = rd->write(rd->arg, b.data, b.len);
        buf_release(&b);
        return r;
}

static void entry_release(struct entry *e)
{
        free(e->time);
        free(e->text);
        free(e->details);
        memset(e, 0, sizeof(*e));
}

static int strcmp_p(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Go's url.QueryEscape */
static void query_escape(struct berth_buf *b, const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~')
                        buf_putc(b, (char)*p);
                else if (*p == ' ')
                        buf_putc(b, '+');
                else
                        buf_printf(b, "%%%02X", *p);
        }
}

/* dockerd's --details prefix: the entry's attrs as k=v joined by commas, keys and values
 * query-escaped, in key order; NULL when it has none. */
static char *details_of(const struct json *attrs)
{
        size_t n = json_is(attrs, JSON_OBJECT) ? json_len(attrs) : 0;
        if (n == 0)
                return NULL;
        const char **keys = xcalloc(n, sizeof(*keys));
        size_t nk = 0, i;
        const char *k;
        const struct json *v;
        json_object_foreach (attrs, i, k, v)
                if (json_str(v))
                        keys[nk++] = k;
        qsort(keys, nk, sizeof(*keys), strcmp_p);
        struct berth_buf b = BERTH_BUF_INIT;
        for (size_t j = 0; j < nk; j++) {
                if (j)
                        buf_putc(&b, ',');
                query_escape(&b, keys[j]);
                buf_putc(&b, '=');
                query_escape(&b, json_str(json_get(attrs, keys[j])));
        }
        free(keys);
        if (b.len == 0) {
                buf_release(&b);
                return NULL;
        }
        return buf_steal(&b);
}

/* One log line; 0 when it was skipped or sent, < 0 when the client is gone. */
static int line(struct reader *rd, const char *text, size_t len)
{
        _cleanup_json_ struct json *j = NULL;
        if (json_parse(text, len, &j, NULL) < 0)
                return 0;
        const struct json *log = json_get(j, "log");
        const char *stream = json_str(json_get(j, "stream"));
        const char *time = json_str(json_get(j, "time"));
        if (!json_is(log, JSON_STRING) || !stream)
                return 0;
        int s = strcmp(stream, "stderr") == 0 ? 2 : 1;
        if ((s == 1 && !rd->o->out) || (s == 2 && !rd->o->err))
                return 0;
        int64_t ns = 0;
        (void)units_parse_rfc3339(time, &ns);
        if (rd->o->since_ns && ns < rd->o->since_ns)
                return 0;
        if (rd->o->until_ns && ns > rd->o->until_ns)
                return 0;
        _cleanup_free_ char *details = rd->o->details ? details_of(json_get(j, "attrs")) : NULL;
        struct entry en = {
            .stream = s, .ns = ns, .text = log->str.s, .len = log->str.len, .details = details};
        if (rd->o->tail < 0)
                return emit(rd, &en);
        if (rd->o->tail == 0)
                return 0;
        struct tail_ring *t = &rd->ring;
        struct entry *slot;
        if (t->n < t->cap) {
                slot = &t->v[(t->head + t->n++) % t->cap];
        } else {
                slot = &t->v[t->head];
                entry_release(slot);
                t->head = (t->head + 1) % t->cap;
        }
        slot->stream = s;
        slot->ns = ns;
        slot->text = xmalloc(en.len + 1);
        memcpy(slot->text, en.text, en.len);
        slot->text[en.len] = '\0';
        slot->len = en.len;
        slot->details = TAKE_PTR(details);
        return 0;
}

/* Lines of a buffer; what is left after the last newline stays in b. */
static int lines(struct reader *rd, struct berth_buf *b)
{
        size_t start = 0;
        for (size_t i = 0; i < b->len; i++) {
                if (b->data[i] != '\n')
                        continue;
                int r = line(rd, b->data + start, i - start);
                if (r < 0)
                        return r;
                start = i + 1;
        }
        memmove(b->data, b->data + start, b->len - start);
        b->len -= start;
        if (b->data)
                b->data[b->len] = '\0';
        return 0;
}

static int read_plain_fd(struct reader *rd, int fd, struct berth_buf *b)
{
        char chunk[65536];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
                buf_append(b, chunk, (size_t)n);
                int r = lines(rd, b);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int read_gz(struct reader *rd, const char *path)
{
        gzFile gz = gzopen(path, "rb");
        if (!gz)
                return 0;
        struct berth_buf b = BERTH_BUF_INIT;
        char chunk[65536];
        int n, r = 0;
        while (r == 0 && (n = gzread(gz, chunk, sizeof(chunk))) > 0) {
                buf_append(&b, chunk, (size_t)n);
                r = lines(rd, &b);
        }
        gzclose(gz);
        buf_release(&b);
        return r;
}

static bool still_running(struct berth_engine *e, struct berth_ctr *c)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        bool r = c->state == CTR_RUNNING || c->state == CTR_PAUSED || c->state == CTR_RESTARTING;
        pthread_mutex_unlock(&m->lock);
        return r;
}

int berth_ctr_logs_check(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        const char *driver = json_str(json_get(json_get(c->host_config, "LogConfig"), "Type"));
        bool none = driver && strcmp(driver, "none") == 0;
        pthread_mutex_unlock(&m->lock);
        if (none)
                return berth_error_set(err, ENOTSUP,
                                       "configured logging driver does not support reading");
        return 0;
}

int berth_ctr_logs(struct berth_engine *e, struct berth_ctr *c, const struct berth_logs_opts *o,
                   berth_logs_write_fn write, bool (*gone)(void *arg), void *arg,
                   struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        int r = berth_ctr_logs_check(e, c, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = ctr_data_dir(m, c);
        _cleanup_free_ char *path = xasprintf("%s/%s-json.log", dir, c->id);
        struct reader rd = {.o = o, .tty = berth_ctr_tty(c), .write = write, .arg = arg};
        if (o->tail > 0) {
                rd.ring.cap = (size_t)(o->tail > 1000000 ? 1000000 : o->tail);
                rd.ring.v = xcalloc(rd.ring.cap, sizeof(struct entry));
        }
        /* set up the watch before reading, so nothing written in between is missed */
        _cleanup_close_ int ino = -EBADF;
        if (o->follow) {
                ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (ino >= 0)
                        (void)inotify_add_watch(
                            ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
        }
        for (int i = 20; i >= 1 && r == 0; i--) {
                _cleanup_free_ char *rot = xasprintf("%s.%d", path, i);
                _cleanup_free_ char *gz = xasprintf("%s.%d.gz", path, i);
                if (access(gz, F_OK) == 0) {
                        r = read_gz(&rd, gz);
                } else {
                        _cleanup_close_ int fd = open(rot, O_RDONLY | O_CLOEXEC);
                        struct berth_buf b = BERTH_BUF_INIT;
                        if (fd >= 0)
                                r = read_plain_fd(&rd, fd, &b);
                        else if (errno == ENOENT && access(gz, F_OK) == 0)
                                r = read_gz(&rd, gz); /* compressed in between */
                        buf_release(&b);
                }
        }
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct berth_buf pending = BERTH_BUF_INIT;
        if (r == 0 && fd >= 0)
                r = read_plain_fd(&rd, fd, &pending);
        /* the tail */
        for (size_t i = 0; r == 0 && i < rd.ring.n; i++)
                r = emit(&rd, &rd.ring.v[(rd.ring.head + i) % rd.ring.cap]);
        for (size_t i = 0; i < rd.ring.cap; i++)
                entry_release(&rd.ring.v[i]);
        free(rd.ring.v);
        rd.ring = (struct tail_ring){0};
        struct berth_logs_opts follow_opts = *o;
        follow_opts.tail = -1;
        rd.o = &follow_opts;
        while (r == 0 && o->follow && ino >= 0) {
                if (o->until_ns && ctr_now_ns() > o->until_ns)
                        break;
                bool running = still_running(e, c);
                struct pollfd p = {.fd = ino, .events = POLLIN};
                int n = poll(&p, 1, running ? 1000 : 0);
                if (n > 0) {
                        char evbuf[4096];
                        bool rotated = false;
                        ssize_t len;
                        while ((len = read(ino, evbuf, sizeof(evbuf))) > 0)
                                for (char *q = evbuf; q < evbuf + len;) {
                                        struct inotify_event *ev = (struct inotify_event *)q;
                                        if (ev->len && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
                                            strcmp(ev->name, strrchr(path, '/') + 1) == 0)
                                                rotated = true;
                                        q += sizeof(*ev) + ev->len;
                                }
                        if (fd >= 0)
                                r = read_plain_fd(&rd, fd, &pending);
                        if (rotated || fd < 0) {
                                /* the file was rotated away: go on with the new one */
                                if (fd >= 0)
                                        close(fd);
                                fd = open(path, O_RDONLY | O_CLOEXEC);
                                buf_reset(&pending);
                                if (fd >= 0 && r == 0)
                                        r = read_plain_fd(&rd, fd, &pending);
                        }
                        continue;
                }
                if (fd >= 0 && r == 0)
                        r = read_plain_fd(&rd, fd, &pending);
                if (!running)
                        break;
                if (gone && gone(arg))
                        break;
        }
        buf_release(&pending);
        (void)r; /* a client that left is not an error of ours */
        return 0;
}
