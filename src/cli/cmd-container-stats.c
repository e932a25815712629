/*
 * cmd-container-stats.c — `berth stats` as docker's CLI 28 draws it.
 *
 * One stats stream per container (GET /containers/{id}/stats?stream=1, or
 * stream=0 with --no-stream), each on a connection of its own, all read in one
 * poll loop; without names, the containers come from GET /containers/json and
 * follow the container events (start adds, die removes, create adds with -a).
 * The table is redrawn every 500 ms exactly as docker writes it: "\033[H", the
 * table, then the same text again line by line with " \033[K" (erase to end of
 * line) after each, and "\033[J" (erase below).
 *
 * The figures are docker's formulas (stats_helpers.go): CPU % = Δcontainer /
 * Δsystem × online CPUs × 100 against the previous sample the daemon sends
 * (precpu_stats); memory = usage minus total_inactive_file (cgroup v1) or
 * inactive_file (v2) when smaller; MEM % against the limit; NET I/O summed over
 * the interfaces; BLOCK I/O from io_service_bytes_recursive by the first
 * letter of op (r/R read, w/W write); PIDS from pids_stats.current.  A stream
 * silent for 2 s shows "--" until it speaks again.
 *
 * Never: block on one container's stream while the others (or the redraw) wait.
 */
#include <poll.h>
#include <string.h>
#include <time.h>

#include "base/units.h"
#include "container-cmd.h"
#include "formatter.h"

#define STATS_TABLE                                                                                \
        "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t"        \
        "{{.BlockIO}}\t{{.PIDs}}"
#define STATS_ROW_TYPE "*container.statsContext"

struct entry {
        char *container; /* as given, or the 12-char id */
        char *name, *id;
        double cpu, mem, mem_limit, mem_pct, rx, tx, blk_r, blk_w;
        uint64_t pids;
        bool invalid;
        bool got_first;
        char *error;
        struct cli_stream *st;
        struct berth_buf in; /* undecoded stream bytes */
        int64_t last_ms;     /* last sample (or start) */
};

struct stats_run {
        struct cli_ctx *ctx;
        struct cli_client *c;
        bool stream, all, no_trunc;
        struct entry **e;
        size_t n;
        struct cli_stream *events;
        struct berth_buf ev_in;
};

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void entry_free(struct entry *e)
{
        if (!e)
                return;
        free(e->container);
        free(e->name);
        free(e->id);
        free(e->error);
        cli_stream_free(e->st);
        buf_release(&e->in);
        free(e);
}

static double num(const struct json *j)
{
        if (!json_is(j, JSON_NUMBER))
                return 0;
        if (j->num.flags & JSON_NUM_UINT)
                return (double)j->num.u;
        if (j->num.flags & JSON_NUM_INT)
                return (double)j->num.i;
        return j->num.d;
}

static uint64_t unum(const struct json *j)
{
        if (!json_is(j, JSON_NUMBER))
                return 0;
        if (j->num.flags & JSON_NUM_UINT)
                return j->num.u;
        if (j->num.flags & JSON_NUM_INT)
                return (uint64_t)j->num.i;
        return (uint64_t)j->num.d;
}

/* One sample of the daemon's StatsResponse into the entry (docker's collect()). */
static void sample(struct entry *e, const struct json *v)
{
        const struct json *cpu = json_get(v, "cpu_stats"), *pre = json_get(v, "precpu_stats");
        double prev_cpu = (double)unum(json_get(json_get(pre, "cpu_usage"), "total_usage"));
        double prev_sys = (double)unum(json_get(pre, "system_cpu_usage"));
        double cpu_delta =
            (double)unum(json_get(json_get(cpu, "cpu_usage"), "total_usage")) - prev_cpu;
        double sys_delta = (double)unum(json_get(cpu, "system_cpu_usage")) - prev_sys;
        double online = (double)unum(json_get(cpu, "online_cpus"));
        if (online == 0)
                online = (double)json_len(json_get(json_get(cpu, "cpu_usage"), "percpu_usage"));
        e->cpu = sys_delta > 0 && cpu_delta > 0 ? cpu_delta / sys_delta * online * 100.0 : 0.0;
        uint64_t r = 0, w = 0;
        const struct json *io = json_get(json_get(v, "blkio_stats"), "io_service_bytes_recursive");
        for (size_t i = 0; json_is(io, JSON_ARRAY) && i < json_len(io); i++) {
                const char *op = json_str(json_get(io->arr.items[i], "op"));
                uint64_t val = unum(json_get(io->arr.items[i], "value"));
                if (op && (*op == 'r' || *op == 'R'))
                        r += val;
                else if (op && (*op == 'w' || *op == 'W'))
                        w += val;
        }
        e->blk_r = (double)r;
        e->blk_w = (double)w;
        const struct json *mem = json_get(v, "memory_stats");
        uint64_t usage = unum(json_get(mem, "usage"));
        const struct json *ms = json_get(mem, "stats");
        const struct json *inactive1 = json_get(ms, "total_inactive_file");
        uint64_t inactive2 = unum(json_get(ms, "inactive_file"));
        if (inactive1 && unum(inactive1) < usage)
                e->mem = (double)(usage - unum(inactive1));
        else if (inactive2 < usage)
                e->mem = (double)(usage - inactive2);
        else
                e->mem = (double)usage;
        e->mem_limit = (double)unum(json_get(mem, "limit"));
        e->mem_pct = e->mem_limit != 0 ? e->mem / e->mem_limit * 100.0 : 0;
        e->pids = unum(json_get(json_get(v, "pids_stats"), "current"));
        double rx = 0, tx = 0;
        const struct json *nets = json_get(v, "networks");
        for (size_t i = 0; json_is(nets, JSON_OBJECT) && i < nets->obj.n; i++) {
                rx += num(json_get(nets->obj.m[i].value, "rx_bytes"));
                tx += num(json_get(nets->obj.m[i].value, "tx_bytes"));
        }
        e->rx = rx;
        e->tx = tx;
        free(e->name);
        free(e->id);
        e->name = xstrdup(json_str(json_get(v, "name")) ?: "");
        e->id = xstrdup(json_str(json_get(v, "id")) ?: "");
        e->invalid = false;
        e->got_first = true;
        free(e->error);
        e->error = NULL;
}

static void reset_invalid(struct entry *e, const char *why)
{
        e->cpu = e->mem = e->mem_pct = e->mem_limit = e->rx = e->tx = e->blk_r = e->blk_w = 0;
        e->pids = 0;
        e->invalid = true;
        free(e->error);
        e->error = xstrdup(why);
}

static void entry_open(struct stats_run *sr, struct entry *e)
{
        _cleanup_free_ char *path = container_path(e->container, "/stats");
        _cleanup_error_ struct berth_error *err = NULL;
        e->last_ms = now_ms();
        if (cli_client_open_stream(sr->c, "GET", path, sr->stream ? "stream=1" : "stream=0", NULL,
                                   NULL, 0, &e->st, &err) < 0) {
                e->error = xstrdup(berth_error_msg(err));
                e->invalid = true;
                e->got_first = true;
                return;
        }
        if (cli_stream_status(e->st) != 200) {
                struct berth_buf body = BERTH_BUF_INIT;
                (void)cli_stream_read_all(e->st, 1 << 20, &body, NULL);
                struct cli_response resp = {
                    .status = cli_stream_status(e->st), .body = body.data, .len = body.len};
                e->error = container_daemon_error(&resp);
                e->invalid = true;
                e->got_first = true;
                buf_release(&body);
                cli_stream_free(e->st);
                e->st = NULL;
        }
}

static bool stats_add(struct stats_run *sr, const char *container)
{
        for (size_t i = 0; i < sr->n; i++)
                if (strcmp(sr->e[i]->container, container) == 0)
                        return false;
        struct entry *e = xcalloc(1, sizeof(*e));
        e->container = xstrdup(container);
        sr->e = xrealloc(sr->e, (sr->n + 1) * sizeof(*sr->e));
        sr->e[sr->n++] = e;
        entry_open(sr, e);
        return true;
}

static void stats_remove(struct stats_run *sr, const char *container)
{
        for (size_t i = 0; i < sr->n; i++) {
                if (strcmp(sr->e[i]->container, container) == 0) {
                        entry_free(sr->e[i]);
                        memmove(&sr->e[i], &sr->e[i + 1], (sr->n - i - 1) * sizeof(*sr->e));
                        sr->n--;
                        return;
                }
        }
}

/* Whole lines of the stream: one JSON object each. */
static void entry_feed(struct entry *e, const char *data, size_t len)
{
        buf_append(&e->in, data, len);
        char *start = e->in.data;
        char *nl;
        while ((nl = memchr(start, '\n', e->in.len - (size_t)(start - e->in.data)))) {
                _cleanup_json_ struct json *v = NULL;
                if (json_parse(start, (size_t)(nl - start), &v, NULL) == 0 &&
                    json_is(v, JSON_OBJECT)) {
                        sample(e, v);
                        e->last_ms = now_ms();
                }
                start = nl + 1;
        }
        size_t rest = e->in.len - (size_t)(start - e->in.data);
        memmove(e->in.data, start, rest);
        e->in.len = rest;
}

static void entry_read(struct entry *e, bool stream)
{
        char piece[16384];
        for (;;) {
                _cleanup_error_ struct berth_error *err = NULL;
                ssize_t n = cli_stream_read(e->st, piece, sizeof(piece), &err);
                if (n == -EAGAIN)
                        return;
                if (n <= 0) {
                        /* a last object without its newline */
                        if (e->in.len)
                                entry_feed(e, "\n", 1);
                        cli_stream_free(e->st);
                        e->st = NULL;
                        /* a one-shot answer ends after its sample; a stream that ends is an
                         * error (docker's io.EOF) */
                        if (stream || !e->got_first)
                                e->invalid = true;
                        return;
                }
                entry_feed(e, piece, (size_t)n);
                if (!cli_stream_ready(e->st))
                        return;
        }
}

static void events_read(struct stats_run *sr)
{
        char piece[16384];
        _cleanup_error_ struct berth_error *err = NULL;
        ssize_t n = cli_stream_read(sr->events, piece, sizeof(piece), &err);
        if (n == -EAGAIN)
                return;
        if (n <= 0) {
                cli_stream_free(sr->events);
                sr->events = NULL;
                return;
        }
        buf_append(&sr->ev_in, piece, (size_t)n);
        char *start = sr->ev_in.data, *nl;
        while ((nl = memchr(start, '\n', sr->ev_in.len - (size_t)(start - sr->ev_in.data)))) {
                _cleanup_json_ struct json *ev = NULL;
                if (json_parse(start, (size_t)(nl - start), &ev, NULL) == 0) {
                        const char *action = json_str(json_get(ev, "Action"));
                        const char *id = json_str(json_get(json_get(ev, "Actor"), "ID"));
                        if (action && id && strlen(id) >= 12) {
                                _cleanup_free_ char *s = xstrndup(id, 12);
                                if (strcmp(action, "start") == 0 ||
                                    (sr->all && strcmp(action, "create") == 0))
                                        stats_add(sr, s);
                                else if (!sr->all && strcmp(action, "die") == 0)
                                        stats_remove(sr, s);
                        }
                }
                start = nl + 1;
        }
        size_t rest = sr->ev_in.len - (size_t)(start - sr->ev_in.data);
        memmove(sr->ev_in.data, start, rest);
        sr->ev_in.len = rest;
}

/* Wait up to timeout_ms for stream data; handle what came. */
static void pump(struct stats_run *sr, int timeout_ms)
{
        struct pollfd *p = xcalloc(sr->n + 1, sizeof(*p));
        struct entry **who = xcalloc(sr->n + 1, sizeof(*who));
        size_t n = 0;
        for (size_t i = 0; i < sr->n; i++) {
                if (sr->e[i]->st && cli_stream_ready(sr->e[i]->st))
                        timeout_ms = 0;
                if (sr->e[i]->st) {
                        p[n] = (struct pollfd){cli_stream_fd(sr->e[i]->st), POLLIN, 0};
                        who[n++] = sr->e[i];
                }
        }
        if (sr->events) {
                p[n] = (struct pollfd){cli_stream_fd(sr->events), POLLIN, 0};
                who[n++] = NULL;
        }
        if (poll(p, (nfds_t)n, timeout_ms) > 0 || timeout_ms == 0) {
                bool events_ready = false;
                for (size_t i = 0; i < n; i++) {
                        if (!who[i]) {
                                events_ready = p[i].revents != 0 ||
                                               (sr->events && cli_stream_ready(sr->events));
                                continue;
                        }
                        if (p[i].revents || (who[i]->st && cli_stream_ready(who[i]->st)))
                                entry_read(who[i], sr->stream);
                }
                /* last: an event may add or remove entries */
                if (events_ready && sr->events)
                        events_read(sr);
        }
        free(p);
        free(who);
        int64_t t = now_ms();
        for (size_t i = 0; i < sr->n; i++) {
                struct entry *e = sr->e[i];
                if (t - e->last_ms >= 2000 && (!e->error || !e->invalid) &&
                    (sr->stream || !e->got_first)) {
                        reset_invalid(e, "timeout waiting for stats");
                        e->got_first = true;
                        e->last_ms = t;
                }
        }
}

static void pct(struct berth_buf *b, double v)
{
        buf_printf(b, "%.2f%%", v);
}

static struct json *rows_of(struct stats_run *sr)
{
        struct json *rows = json_new_array();
        for (size_t i = 0; i < sr->n; i++) {
                const struct entry *e = sr->e[i];
                struct json *r = json_array_append(rows, json_new_object());
                struct berth_buf b = BERTH_BUF_INIT;
                json_set_str(r, "Container", e->container);
                json_set_str(r, "Name", e->name && strlen(e->name) > 1 ? e->name + 1 : "--");
                _cleanup_free_ char *id =
                    e->id ? (sr->no_trunc ? xstrdup(e->id) : xstrndup(e->id, 12)) : xstrdup("");
                json_set_str(r, "ID", id);
                if (e->invalid) {
                        json_set_str(r, "CPUPerc", "--");
                        json_set_str(r, "MemUsage", "-- / --");
                        json_set_str(r, "MemPerc", "--");
                        json_set_str(r, "NetIO", "--");
                        json_set_str(r, "BlockIO", "--");
                        json_set_str(r, "PIDs", "--");
                        continue;
                }
                pct(&b, e->cpu);
                json_set_str(r, "CPUPerc", b.data);
                b.len = 0;
                units_bytes_size(&b, e->mem);
                buf_puts(&b, " / ");
                units_bytes_size(&b, e->mem_limit);
                json_set_str(r, "MemUsage", b.data);
                b.len = 0;
                pct(&b, e->mem_pct);
                json_set_str(r, "MemPerc", b.data);
                b.len = 0;
                units_human_size_prec(&b, e->rx, 3);
                buf_puts(&b, " / ");
                units_human_size_prec(&b, e->tx, 3);
                json_set_str(r, "NetIO", b.data);
                b.len = 0;
                units_human_size_prec(&b, e->blk_r, 3);
                buf_puts(&b, " / ");
                units_human_size_prec(&b, e->blk_w, 3);
                json_set_str(r, "BlockIO", b.data);
                b.len = 0;
                buf_printf(&b, "%llu", (unsigned long long)e->pids);
                json_set_str(r, "PIDs", b.data);
                buf_release(&b);
        }
        return rows;
}

static struct json *stats_header(void)
{
        struct json *h = json_new_object();
        json_set_str(h, "Container", "CONTAINER");
        json_set_str(h, "Name", "NAME");
        json_set_str(h, "ID", "CONTAINER ID");
        json_set_str(h, "CPUPerc", "CPU %");
        json_set_str(h, "MemUsage", "MEM USAGE / LIMIT");
        json_set_str(h, "MemPerc", "MEM %");
        json_set_str(h, "NetIO", "NET I/O");
        json_set_str(h, "BlockIO", "BLOCK I/O");
        json_set_str(h, "PIDs", "PIDS");
        return h;
}

static int render(struct stats_run *sr, const char *format, struct berth_error **err)
{
        _cleanup_json_ struct json *rows = rows_of(sr);
        _cleanup_json_ struct json *header = stats_header();
        struct berth_buf out = BERTH_BUF_INIT;
        if (sr->stream)
                buf_puts(&out, "\033[H");
        int r = formatter_write(format, rows, NULL, header, STATS_ROW_TYPE, &out, err);
        if (r < 0) {
                buf_release(&out);
                return r;
        }
        if (sr->stream) {
                /* docker appends each line again with an erase to the same buffer */
                _cleanup_free_ char *copy = xstrndup(out.data ? out.data : "", out.len);
                char *line = copy;
                for (;;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = '\0';
                        buf_printf(&out, "%s \033[K\n", line);
                        if (!nl)
                                break;
                        line = nl + 1;
                }
                buf_puts(&out, "\033[J");
        }
        if (out.len)
                fwrite(out.data, 1, out.len, sr->ctx->out);
        fflush(sr->ctx->out);
        buf_release(&out);
        return 0;
}

static void open_events(struct stats_run *sr)
{
        /* filters={"type":{"container":true}} */
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_open_stream(sr->c, "GET", "/events",
                                   "filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D", NULL,
                                   NULL, 0, &sr->events, &err) < 0)
                return;
        if (cli_stream_status(sr->events) != 200) {
                cli_stream_free(sr->events);
                sr->events = NULL;
        }
}

static int list_containers(struct stats_run *sr)
{
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_request(sr->c, "GET", "/containers/json", sr->all ? "all=1" : NULL, NULL,
                              &resp, &err) < 0) {
                fprintf(sr->ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status != 200) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(sr->ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        _cleanup_json_ struct json *list = NULL;
        (void)json_parse(resp.body, resp.len, &list, NULL);
        cli_response_release(&resp);
        for (size_t i = 0; json_is(list, JSON_ARRAY) && i < json_len(list); i++) {
                const char *id = json_str(json_get(list->arr.items[i], "Id"));
                if (id && strlen(id) >= 12) {
                        _cleanup_free_ char *s = xstrndup(id, 12);
                        stats_add(sr, s);
                }
        }
        return 0;
}

/* docker's waitFirst: every collector has a first sample, an error, or its 2 s passed. */
static void wait_first(struct stats_run *sr)
{
        for (;;) {
                bool all = true;
                for (size_t i = 0; i < sr->n; i++)
                        all &= sr->e[i]->got_first;
                if (all)
                        return;
                pump(sr, 100);
        }
}

static int run_stats(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct stats_run sr = {.ctx = ctx,
                               .stream = !cli_flag_bool(fs, "no-stream"),
                               .all = cli_flag_bool(fs, "all"),
                               .no_trunc = cli_flag_bool(fs, "no-trunc")};
        if (!(sr.c = container_client(ctx)))
                return 1;
        bool show_all = fs->n_args == 0;
        int code = 0;
        _cleanup_free_ char *format = NULL;
        _cleanup_free_ char *cfg_format = NULL;
        if (show_all) {
                open_events(&sr);
                if ((code = list_containers(&sr)) != 0)
                        goto out;
        } else {
                for (size_t i = 0; i < fs->n_args; i++)
                        stats_add(&sr, fs->args[i]);
        }
        wait_first(&sr);
        if (!show_all) {
                struct berth_buf errs = BERTH_BUF_INIT;
                for (size_t i = 0; i < sr.n; i++)
                        if (sr.e[i]->error)
                                buf_printf(&errs, "%s\n", sr.e[i]->error);
                if (errs.len) {
                        fputs(errs.data, ctx->err);
                        buf_release(&errs);
                        code = 1;
                        goto out;
                }
        }
        const char *given = cli_flag_string(fs, "format");
        if (!given || !*given)
                given = cfg_format = container_config_key("statsFormat");
        if (given && *given && strcmp(given, "table") != 0)
                format = xstrdup(given);
        else
                format = xstrdup(STATS_TABLE);
        int64_t next = now_ms();
        for (;;) {
                int64_t t = now_ms();
                if (t < next) {
                        pump(&sr, (int)(next - t));
                        continue;
                }
                next = t + 500;
                _cleanup_error_ struct berth_error *err = NULL;
                if (render(&sr, format, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        code = 1;
                        break;
                }
                if ((sr.n == 0 && !show_all) || !sr.stream)
                        break;
        }
out:
        for (size_t i = 0; i < sr.n; i++)
                entry_free(sr.e[i]);
        free(sr.e);
        cli_stream_free(sr.events);
        buf_release(&sr.ev_in);
        return code;
}

static const struct cli_flag stats_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Show all containers (default shows just running)", NULL, NULL,
     false, NULL},
    {"format", 0, CLI_FLAG_STRING,
     "Format output using a custom template:\n'table':            Print output in table format "
     "with column headers (default)\n'table TEMPLATE':   Print output in table format using the "
     "given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print "
     "output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for "
     "more information about formatting output with templates",
     NULL, NULL, false, NULL},
    {"no-stream", 0, CLI_FLAG_BOOL, "Disable streaming stats and only pull the first result", NULL,
     NULL, false, NULL},
    {"no-trunc", 0, CLI_FLAG_BOOL, "Do not truncate output", NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_stats = {
    .name = "stats",
    .usage = "[OPTIONS] [CONTAINER...]",
    .summary = "Display a live stream of container(s) resource usage statistics",
    .group = CLI_GROUP_OTHER,
    .flags = stats_flags,
    .n_flags = ELEMENTSOF(stats_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = -1,
    .aliases = "container stats, stats",
    .run = run_stats,
};
