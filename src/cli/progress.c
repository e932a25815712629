/*
 * progress.c — docker's jsonmessage.DisplayJSONMessagesStream in C.
 *
 * How: bytes are buffered until a whole JSON object is there (a brace
 * counter that knows strings and escapes finds its end), then the object is
 * parsed with json_parse and displayed with the same decisions, in the same
 * order, as docker's Go code, so the bytes match: the ids table gives each
 * layer with progress its line (a message without id or progress resets
 * it), cursor movements use aec's sequences (ESC[nA, ESC[nB, ESC[2K).
 *
 * Never: act on half an object; never write a message's text after its
 * error (docker returns before printing it).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/units.h"
#include "cli/progress.h"

struct progress {
        bool tty;
        int width;
        struct berth_buf pending;
        char **ids;
        size_t nids;
        progress_aux_fn aux_fn;
        void *aux_data;
        int64_t (*now_ns)(void);
        int error_code; /* errorDetail.code of the message that ended the stream */
};

int progress_error_code(const struct progress *p)
{
        return p->error_code;
}

static int64_t realtime_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * UNITS_NSEC_PER_SEC + ts.tv_nsec;
}

struct progress *progress_new(bool is_terminal, int width)
{
        struct progress *p = xcalloc(1, sizeof(*p));
        p->tty = is_terminal;
        progress_set_width(p, width);
        p->now_ns = realtime_ns;
        return p;
}

static void ids_reset(struct progress *p)
{
        for (size_t i = 0; i < p->nids; i++)
                free(p->ids[i]);
        p->nids = 0;
}

void progress_free(struct progress *p)
{
        if (!p)
                return;
        ids_reset(p);
        free(p->ids);
        buf_release(&p->pending);
        free(p);
}

void progress_set_width(struct progress *p, int width)
{
        /* As docker: off a terminal the width is 200; a terminal that reports
         * 0 columns gets no bar and no time left. */
        p->width = !p->tty || width < 0 ? 200 : width;
}

void progress_set_aux(struct progress *p, progress_aux_fn fn, void *userdata)
{
        p->aux_fn = fn;
        p->aux_data = userdata;
}

void progress_set_clock(struct progress *p, int64_t (*now_ns)(void))
{
        p->now_ns = now_ns ? now_ns : realtime_ns;
}

int progress_terminal_width(int fd)
{
        struct winsize ws;
        if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
                return 200;
        return ws.ws_col;
}

struct message {
        const char *stream, *status, *progress_msg, *id, *from;
        bool has_progress;
        int64_t current, total, start;
        bool hide_counts;
        const char *units;
        int64_t time, time_nano;
        bool has_error;
        const char *error_msg;
        int64_t error_code;
        const struct json *aux;
};

static int64_t num(const struct json *j)
{
        if (!json_is(j, JSON_NUMBER))
                return 0;
        if (j->num.flags & JSON_NUM_INT)
                return j->num.i;
        return (int64_t)j->num.d;
}

static const char *str(const struct json *o, const char *k)
{
        const char *s = json_str(json_get(o, k));
        return s ? s : "";
}

static void decode(const struct json *o, struct message *m)
{
        memset(m, 0, sizeof(*m));
        m->stream = str(o, "stream");
        m->status = str(o, "status");
        m->progress_msg = str(o, "progress");
        m->id = str(o, "id");
        m->from = str(o, "from");
        m->time = num(json_get(o, "time"));
        m->time_nano = num(json_get(o, "timeNano"));
        const struct json *pd = json_get(o, "progressDetail");
        if (json_is(pd, JSON_OBJECT)) {
                m->has_progress = true;
                m->current = num(json_get(pd, "current"));
                m->total = num(json_get(pd, "total"));
                m->start = num(json_get(pd, "start"));
                const struct json *hc = json_get(pd, "hidecounts");
                m->hide_counts = json_is(hc, JSON_BOOL) && hc->b;
                m->units = str(pd, "units");
        }
        const struct json *ed = json_get(o, "errorDetail");
        if (json_is(ed, JSON_OBJECT)) {
                m->has_error = true;
                m->error_msg = str(ed, "message");
                m->error_code = num(json_get(ed, "code"));
        } else if (*str(o, "error")) {
                /* docker's daemons always send both; a lone "error" still ends the stream */
                m->has_error = true;
                m->error_msg = str(o, "error");
        }
        const struct json *aux = json_get(o, "aux");
        if (aux && aux->type != JSON_NULL)
                m->aux = aux;
}

/* RFC3339NanoFixed in local time: 2006-01-02T15:04:05.000000000Z07:00 */
static void put_time(struct berth_buf *b, int64_t ns)
{
        int64_t sec = ns / UNITS_NSEC_PER_SEC, frac = ns % UNITS_NSEC_PER_SEC;
        if (frac < 0)
                frac += UNITS_NSEC_PER_SEC, sec--;
        time_t t = (time_t)sec;
        struct tm tm;
        localtime_r(&t, &tm);
        char s[64];
        strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
        buf_printf(b, "%s.%09lld", s, (long long)frac);
        long off = tm.tm_gmtoff;
        if (off == 0)
                buf_putc(b, 'Z');
        else
                buf_printf(b, "%c%02ld:%02ld", off < 0 ? '-' : '+', (off < 0 ? -off : off) / 3600,
                           (off < 0 ? -off : off) / 60 % 60);
        buf_putc(b, ' ');
}

/* jsonmessage.Display; returns -EIO with err set for an error message. */
static int display(struct progress *p, const struct message *m, struct berth_buf *out,
                   struct berth_error **err)
{
        if (m->has_error) {
                p->error_code = (int)m->error_code;
                return berth_error_set(err, EIO, "%s", m->error_msg);
        }
        _cleanup_buf_ struct berth_buf bar = BERTH_BUF_INIT;
        if (m->has_progress) {
                progress_bar(&bar, m->current, m->total, m->start, m->hide_counts, m->units,
                             p->width, p->now_ns());
                buf_append(&bar, "", 0);
        }
        const char *endl = "";
        if (p->tty && !*m->stream && m->has_progress) {
                buf_puts(out, "\x1b[2K\r");
                endl = "\r";
        } else if (m->has_progress && bar.len > 0) {
                return 0; /* no progress bars without a terminal */
        }
        if (m->time_nano != 0)
                put_time(out, m->time_nano);
        else if (m->time != 0)
                put_time(out, m->time * UNITS_NSEC_PER_SEC);
        if (*m->id)
                buf_printf(out, "%s: ", m->id);
        if (*m->from)
                buf_printf(out, "(from %s) ", m->from);
        if (m->has_progress && p->tty)
                buf_printf(out, "%s %s%s", m->status, bar.data, endl);
        else if (*m->progress_msg)
                buf_printf(out, "%s %s%s", m->status, m->progress_msg, endl);
        else if (*m->stream)
                buf_printf(out, "%s%s", m->stream, endl);
        else
                buf_printf(out, "%s%s\n", m->status, endl);
        return 0;
}

static int handle(struct progress *p, const struct json *o, struct berth_buf *out,
                  struct berth_error **err)
{
        struct message m;
        decode(o, &m);
        if (m.aux) {
                if (p->aux_fn)
                        p->aux_fn(m.aux, p->aux_data);
                return 0;
        }
        size_t diff = 0;
        if (*m.id && (m.has_progress || *m.progress_msg)) {
                size_t line = p->nids;
                bool found = false;
                for (size_t i = 0; i < p->nids; i++)
                        if (strcmp(p->ids[i], m.id) == 0) {
                                line = i;
                                found = true;
                                break;
                        }
                if (!found) {
                        p->ids = xrealloc(p->ids, (p->nids + 1) * sizeof(*p->ids));
                        p->ids[p->nids++] = xstrdup(m.id);
                        if (p->tty)
                                buf_putc(out, '\n');
                }
                diff = p->nids - line;
                if (p->tty && diff > 0)
                        buf_printf(out, "\x1b[%zuA", diff);
        } else {
                ids_reset(p);
        }
        int r = display(p, &m, out, err);
        if (*m.id && p->tty && diff > 0)
                buf_printf(out, "\x1b[%zuB", diff);
        return r;
}

/* Length of the JSON object starting at s (s[0] == '{'), or 0 if incomplete. */
static size_t object_end(const char *s, size_t len)
{
        size_t depth = 0;
        bool in_str = false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = false;
                        continue;
                }
                if (c == '"')
                        in_str = true;
                else if (c == '{' || c == '[')
                        depth++;
                else if (c == '}' || c == ']') {
                        if (--depth == 0)
                                return i + 1;
                }
        }
        return 0;
}

static int bad_start(char c, struct berth_error **err)
{
        const char *kind = c == '['                               ? "array"
                           : c == '"'                             ? "string"
                           : (c == 't' || c == 'f')               ? "bool"
                           : (c == '-' || (c >= '0' && c <= '9')) ? "number"
                                                                  : NULL;
        if (kind)
                return berth_error_set(err, EPROTO,
                                       "json: cannot unmarshal %s into Go value of type "
                                       "jsonmessage.JSONMessage",
                                       kind);
        if (c >= 0x20 && c < 0x7f && c != '\'')
                return berth_error_set(err, EPROTO,
                                       "invalid character '%c' looking for beginning of value", c);
        return berth_error_set(err, EPROTO,
                               "invalid character '\\x%02x' looking for beginning of value",
                               (unsigned char)c);
}

int progress_feed(struct progress *p, const char *data, size_t len, struct berth_buf *out,
                  struct berth_error **err)
{
        buf_append(&p->pending, data, len);
        size_t off = 0;
        int r = 0;
        for (;;) {
                while (off < p->pending.len && strchr(" \t\r\n", p->pending.data[off]) &&
                       p->pending.data[off])
                        off++;
                if (off >= p->pending.len)
                        break;
                const char *s = p->pending.data + off;
                size_t avail = p->pending.len - off;
                if (s[0] != '{') {
                        if (s[0] == 'n' && avail >= 4 && memcmp(s, "null", 4) == 0) {
                                off += 4; /* Go decodes null into the struct: nothing happens */
                                continue;
                        }
                        r = bad_start(s[0], err);
                        break;
                }
                size_t end = object_end(s, avail);
                if (end == 0) {
                        if (avail > PROGRESS_MAX_MESSAGE)
                                r = berth_error_set(err, EMSGSIZE,
                                                    "progress message larger than %u bytes",
                                                    PROGRESS_MAX_MESSAGE);
                        break;
                }
                _cleanup_json_ struct json *o = NULL;
                _cleanup_error_ struct berth_error *e = NULL;
                if (json_parse(s, end, &o, &e) < 0) {
                        r = berth_error_set(err, EPROTO, "invalid progress message: %s", e->msg);
                        break;
                }
                off += end;
                r = handle(p, o, out, err);
                if (r < 0)
                        break;
        }
        /* drop what was consumed */
        memmove(p->pending.data, p->pending.data + off, p->pending.len - off);
        p->pending.len -= off;
        p->pending.data[p->pending.len] = '\0';
        return r;
}

int progress_finish(struct progress *p, struct berth_buf *out, struct berth_error **err)
{
        int r = progress_feed(p, "", 0, out, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->pending.len; i++)
                if (!strchr(" \t\r\n", p->pending.data[i]))
                        return berth_error_set(err, EPROTO, "unexpected EOF");
        return 0;
}
