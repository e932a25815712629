/*
 * cmd-events.c — `berth events` (`system events`): the daemon's event stream
 * printed as docker prints it,
 *   2026-11-28T10:31:32.099042690Z image tag sha256:… (name=busybox:1)
 * or through --format.  --since/--until take a Unix timestamp (seconds with
 * an optional fraction) or a Go duration before now ("10m", "1h30m"), sent
 * to the daemon as "seconds.nanoseconds" as docker's CLI sends them.
 *
 * Never: buffer the stream: each event is printed (and flushed) as it arrives.
 */
#include <string.h>
#include <time.h>

#include "api/http.h"
#include "base/buf.h"
#include "cli.h"
#include "filter-flag.h"
#include "gotemplate.h"

/* Go's time.ParseDuration subset: [0-9.]+(ns|us|µs|ms|s|m|h), repeated. */
static int parse_duration_ns(const char *s, int64_t *ret)
{
        double total = 0;
        const char *p = s;
        if (!*p)
                return -EINVAL;
        while (*p) {
                char *end;
                double v = strtod(p, &end);
                if (end == p)
                        return -EINVAL;
                p = end;
                double unit;
                if (strncmp(p, "ns", 2) == 0)
                        unit = 1, p += 2;
                else if (strncmp(p, "us", 2) == 0)
                        unit = 1e3, p += 2;
                else if (strncmp(p, "µs", strlen("µs")) == 0)
                        unit = 1e3, p += strlen("µs");
                else if (strncmp(p, "ms", 2) == 0)
                        unit = 1e6, p += 2;
                else if (*p == 's')
                        unit = 1e9, p++;
                else if (*p == 'm')
                        unit = 60e9, p++;
                else if (*p == 'h')
                        unit = 3600e9, p++;
                else
                        return -EINVAL;
                total += v * unit;
        }
        *ret = (int64_t)total;
        return 0;
}

/* docker's timetypes.GetTimestamp for what we accept: "sec[.frac]" or a duration. */
static int timestamp_arg(const char *value, struct berth_buf *out)
{
        const char *p = value;
        bool numeric = *p != '\0';
        for (; *p; p++)
                if (!((*p >= '0' && *p <= '9') || *p == '.'))
                        numeric = false;
        if (numeric) {
                buf_puts(out, value);
                return 0;
        }
        int64_t d;
        if (parse_duration_ns(value, &d) < 0)
                return -EINVAL;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - d;
        buf_printf(out, "%lld.%09lld", (long long)(t / 1000000000), (long long)(t % 1000000000));
        return 0;
}

/* docker's jsonmessage.RFC3339NanoFixed in local time: always nine fraction digits. */
static void rfc3339nano(struct berth_buf *b, int64_t nano)
{
        time_t t = (time_t)(nano / 1000000000);
        long frac = (long)(nano % 1000000000);
        struct tm tm;
        localtime_r(&t, &tm);
        char stamp[40];
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        buf_printf(b, "%s.%09ld", stamp, frac);
        if (tm.tm_gmtoff == 0)
                buf_putc(b, 'Z');
        else
                buf_printf(b, "%c%02ld:%02ld", tm.tm_gmtoff < 0 ? '-' : '+',
                           labs(tm.tm_gmtoff) / 3600, labs(tm.tm_gmtoff) % 3600 / 60);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_plain(struct berth_buf *b, const struct json *e)
{
        const struct json *tn = json_get(e, "timeNano");
        rfc3339nano(b, json_is(tn, JSON_NUMBER) ? tn->num.i : 0);
        const struct json *actor = json_get(e, "Actor");
        buf_printf(b, " %s %s %s", json_str(json_get(e, "Type")) ?: "",
                   json_str(json_get(e, "Action")) ?: "", json_str(json_get(actor, "ID")) ?: "");
        const struct json *attrs = json_get(actor, "Attributes");
        size_t n = json_len(attrs);
        if (json_is(attrs, JSON_OBJECT) && n) {
                char **kv = xcalloc(n + 1, sizeof(char *));
                size_t i;
                const char *k;
                struct json *v;
                json_object_foreach (attrs, i, k, v)
                        kv[i] = xasprintf("%s=%s", k, json_str(v) ?: "");
                qsort(kv, n, sizeof(char *), cmp_str);
                buf_puts(b, " (");
                for (i = 0; i < n; i++)
                        buf_printf(b, "%s%s", i ? ", " : "", kv[i]);
                buf_putc(b, ')');
                strv_free(kv);
        }
        buf_putc(b, '\n');
}

struct events_ctx {
        struct cli_ctx *ctx;
        struct berth_buf line;
        struct gotemplate *tmpl;
        int status;
        int error;
};

static int on_data(const char *data, size_t len, void *userdata)
{
        struct events_ctx *ec = userdata;
        buf_append(&ec->line, data, len);
        if (ec->status != 200)
                return 0; /* an error body: kept whole for the message */
        char *start = ec->line.data;
        char *nl;
        while ((nl = memchr(start, '\n', ec->line.len - (size_t)(start - ec->line.data)))) {
                _cleanup_json_ struct json *e = NULL;
                if (json_parse(start, (size_t)(nl - start), &e, NULL) == 0) {
                        struct berth_buf out = BERTH_BUF_INIT;
                        _cleanup_error_ struct berth_error *err = NULL;
                        if (ec->tmpl) {
                                if (gotemplate_exec(ec->tmpl, e, 0, &out, &err) < 0) {
                                        fprintf(ec->ctx->err, "%s\n", berth_error_msg(err));
                                        buf_release(&out);
                                        ec->error = 1;
                                        return -EINVAL;
                                }
                                buf_putc(&out, '\n');
                        } else {
                                print_plain(&out, e);
                        }
                        fputs(out.data, ec->ctx->out);
                        fflush(ec->ctx->out);
                        buf_release(&out);
                }
                start = nl + 1;
        }
        size_t rest = ec->line.len - (size_t)(start - ec->line.data);
        memmove(ec->line.data, start, rest);
        ec->line.len = rest;
        ec->line.data[rest] = '\0';
        return 0;
}

static int run_events(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct berth_buf q = BERTH_BUF_INIT;
        static const char *const times[] = {"since", "until"};
        for (size_t i = 0; i < ELEMENTSOF(times); i++) {
                const char *v = cli_flag_string(fs, times[i]);
                if (!v || !*v)
                        continue;
                struct berth_buf t = BERTH_BUF_INIT;
                if (timestamp_arg(v, &t) < 0) {
                        fprintf(ctx->err, "failed to parse value as time or duration: \"%s\"\n", v);
                        buf_release(&t);
                        buf_release(&q);
                        return 1;
                }
                buf_printf(&q, "%s%s=", q.len ? "&" : "", times[i]);
                http_escape_query(&q, t.data);
                buf_release(&t);
        }
        cli_filters_query(&q, cli_flag_list(fs, "filter"), NULL, NULL);

        struct events_ctx ec = {.ctx = ctx};
        const char *format = cli_flag_string(fs, "format");
        _cleanup_error_ struct berth_error *err = NULL;
        if (format && *format) {
                const char *text = strcmp(format, "json") == 0 ? "{{json .}}" : format;
                if (gotemplate_parse(text, &ec.tmpl, &err) < 0) {
                        fprintf(ctx->err, "template parsing error: %s\n", berth_error_msg(err));
                        buf_release(&q);
                        return 1;
                }
        }
        struct cli_client *c = cli_ctx_client(ctx);
        int code = 0;
        if (!c) {
                code = 1;
        } else if (cli_client_stream(c, "GET", "/events", q.data, NULL, NULL, 0, &ec.status,
                                     on_data, &ec, &err) < 0) {
                if (!ec.error)
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                code = 1;
        } else if (ec.status != 200) {
                struct cli_response r = {
                    .status = ec.status, .body = ec.line.data, .len = ec.line.len};
                code = cli_daemon_error(ctx, &r);
        }
        buf_release(&ec.line);
        buf_release(&q);
        gotemplate_free(ec.tmpl);
        return code;
}

static const struct cli_flag events_flags[] = {
    {"filter", 'f', CLI_FLAG_LIST, "Filter output based on conditions provided", NULL, "filter",
     false, cli_filter_validate},
    {"format", 0, CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template",
     NULL, NULL, false, NULL},
    {"since", 0, CLI_FLAG_STRING, "Show all events created since timestamp", NULL, NULL, false,
     NULL},
    {"until", 0, CLI_FLAG_STRING, "Stream events until this timestamp", NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_events = {
    .name = "events",
    .usage = "[OPTIONS]",
    .summary = "Get real time events from the server",
    .group = CLI_GROUP_OTHER,
    .flags = events_flags,
    .n_flags = ELEMENTSOF(events_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .aliases = "system events, events",
    .run = run_events,
};
