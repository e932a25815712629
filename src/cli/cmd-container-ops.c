/*
 * cmd-container-ops.c — the container commands that are one request per
 * container: stop, kill, rm, pause, unpause (in parallel, as docker's
 * parallelOperation: up to 50 at once, each on a connection of its own),
 * restart and wait (one after the other), rename, port, top, container prune.
 *
 * Output is docker's: each name that worked on stdout, in the order given,
 * and the errors together at the end on stderr, one per line, exit 1 (Go's
 * errors.Join).  `rm -f` of a container that does not exist prints the error
 * at once and does not fail the command.
 *
 * Never: stop at the first failing name; print a name whose request failed.
 */
#include <ctype.h>
#include <pthread.h>
#include <string.h>

#include "api/http.h"
#include "base/units.h"
#include "container-cmd.h"
#include "filter-flag.h"
#include "tabwriter.h"

/* ---- docker's parallelOperation ---- */

struct op_job {
        struct cli_client *base;
        const char *name;
        const char *method;
        char *path;
        char *query;
        /* results */
        int status; /* HTTP status, 0 when the daemon could not be reached */
        char *error;
        bool not_found;
};

static void *op_thread(void *arg)
{
        struct op_job *j = arg;
        struct cli_client c;
        cli_client_clone(&c, j->base);
        struct cli_response resp;
        struct berth_error *err = NULL;
        if (cli_client_request(&c, j->method, j->path, j->query, NULL, NULL, 0, &resp, &err) < 0) {
                j->error = xstrdup(berth_error_msg(err));
                berth_error_free(err);
        } else {
                j->status = resp.status;
                if (resp.status / 100 != 2 && resp.status != 304) {
                        j->error = container_daemon_error(&resp);
                        j->not_found = resp.status == 404;
                }
                cli_response_release(&resp);
        }
        cli_client_release(&c);
        return NULL;
}

enum { PARALLEL_MAX = 50 };

/* Run every job, at most PARALLEL_MAX at a time. */
static void run_parallel(struct op_job *jobs, size_t n)
{
        for (size_t start = 0; start < n; start += PARALLEL_MAX) {
                size_t end = start + PARALLEL_MAX < n ? start + PARALLEL_MAX : n;
                pthread_t tid[PARALLEL_MAX];
                bool started[PARALLEL_MAX] = {false};
                for (size_t i = start; i < end; i++)
                        started[i - start] =
                            pthread_create(&tid[i - start], NULL, op_thread, &jobs[i]) == 0;
                for (size_t i = start; i < end; i++) {
                        if (started[i - start])
                                pthread_join(tid[i - start], NULL);
                        else
                                op_thread(&jobs[i]);
                }
        }
}

static void jobs_free(struct op_job *jobs, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(jobs[i].path);
                free(jobs[i].query);
                free(jobs[i].error);
        }
        free(jobs);
}

/* Names that worked on stdout, errors joined on stderr; exit 1 when any failed. */
static int report(struct cli_ctx *ctx, struct op_job *jobs, size_t n, bool force_missing_ok)
{
        struct berth_buf errs = BERTH_BUF_INIT;
        for (size_t i = 0; i < n; i++) {
                if (!jobs[i].error) {
                        fprintf(ctx->out, "%s\n", jobs[i].name);
                        continue;
                }
                if (force_missing_ok && jobs[i].not_found) {
                        fflush(ctx->out);
                        fprintf(ctx->err, "%s\n", jobs[i].error);
                        continue;
                }
                buf_printf(&errs, "%s\n", jobs[i].error);
        }
        int code = 0;
        if (errs.len) {
                fflush(ctx->out);
                fputs(errs.data, ctx->err);
                code = 1;
        }
        buf_release(&errs);
        return code;
}

static int parallel_command(struct cli_ctx *ctx, const struct cli_flagset *fs, const char *suffix,
                            const char *query, bool rm)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        struct op_job *jobs = xcalloc(fs->n_args, sizeof(*jobs));
        for (size_t i = 0; i < fs->n_args; i++) {
                jobs[i].base = c;
                jobs[i].name = fs->args[i];
                jobs[i].method = rm ? "DELETE" : "POST";
                jobs[i].query = query ? xstrdup(query) : NULL;
                if (rm) {
                        /* docker trims "/" from rm's names; an empty one is an error of its own */
                        const char *s = fs->args[i];
                        size_t len = strlen(s);
                        while (len && s[len - 1] == '/')
                                len--;
                        while (len && *s == '/') {
                                s++;
                                len--;
                        }
                        if (!len) {
                                jobs[i].error = xstrdup("container name cannot be empty");
                                continue;
                        }
                        _cleanup_free_ char *trimmed = xstrndup(s, len);
                        jobs[i].path = container_path(trimmed, "");
                } else {
                        jobs[i].path = container_path(fs->args[i], suffix);
                }
        }
        /* the empty names are done already; run the others */
        struct op_job *todo = xcalloc(fs->n_args, sizeof(*todo));
        size_t n_todo = 0;
        for (size_t i = 0; i < fs->n_args; i++)
                if (jobs[i].path)
                        todo[n_todo++] = jobs[i];
        run_parallel(todo, n_todo);
        for (size_t i = 0, k = 0; i < fs->n_args; i++)
                if (jobs[i].path)
                        jobs[i] = todo[k++];
        free(todo);
        int code = report(ctx, jobs, fs->n_args, rm && cli_flag_bool(fs, "force"));
        jobs_free(jobs, fs->n_args);
        return code;
}

/* ---- stop, restart ---- */

/* The query of stop and restart: t when -t/--time was given; signal only from API 1.42. */
static int stop_query(struct cli_ctx *ctx, const struct cli_flagset *fs, char **ret)
{
        bool time_set = cli_flag_is_set(fs, "time"), timeout_set = cli_flag_is_set(fs, "timeout");
        /* pflag says it while parsing, before the command looks at the values */
        if (time_set)
                fprintf(ctx->out, "Flag --time has been deprecated, use --timeout instead\n");
        if (time_set && timeout_set) {
                fprintf(ctx->err,
                        "conflicting options: cannot specify both --timeout and --time\n");
                return 1;
        }
        struct berth_buf q = BERTH_BUF_INIT;
        const char *sig = cli_flag_string(fs, "signal");
        if (sig && *sig) {
                struct cli_client *c = container_client(ctx);
                if (!c) {
                        buf_release(&q);
                        return 1;
                }
                if (api_version_compare(c->api_version, "1.42") >= 0) {
                        buf_puts(&q, "signal=");
                        http_escape_query(&q, sig);
                }
        }
        if (time_set || timeout_set) {
                container_query_sep(&q);
                buf_printf(&q, "t=%lld",
                           (long long)cli_flag_int(fs, time_set ? "time" : "timeout"));
        }
        *ret = q.len ? buf_steal(&q) : NULL;
        buf_release(&q);
        return 0;
}

static int run_stop(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_free_ char *q = NULL;
        if (stop_query(ctx, fs, &q))
                return 1;
        return parallel_command(ctx, fs, "/stop", q, false);
}

static int run_restart(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_free_ char *q = NULL;
        if (stop_query(ctx, fs, &q))
                return 1;
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        struct berth_buf errs = BERTH_BUF_INIT;
        for (size_t i = 0; i < fs->n_args; i++) {
                struct op_job j = {.base = c, .name = fs->args[i], .method = "POST"};
                j.path = container_path(fs->args[i], "/restart");
                j.query = q ? xstrdup(q) : NULL;
                op_thread(&j);
                if (j.error)
                        buf_printf(&errs, "%s\n", j.error);
                else
                        fprintf(ctx->out, "%s\n", fs->args[i]);
                free(j.path);
                free(j.query);
                free(j.error);
        }
        int code = errs.len ? 1 : 0;
        if (errs.len) {
                fflush(ctx->out);
                fputs(errs.data, ctx->err);
        }
        buf_release(&errs);
        return code;
}

/* ---- kill, rm, pause, unpause ---- */

static int run_kill(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *sig = cli_flag_string(fs, "signal");
        struct berth_buf q = BERTH_BUF_INIT;
        if (sig && *sig) {
                buf_puts(&q, "signal=");
                http_escape_query(&q, sig);
        }
        int code = parallel_command(ctx, fs, "/kill", q.len ? q.data : NULL, false);
        buf_release(&q);
        return code;
}

static int run_rm(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct berth_buf q = BERTH_BUF_INIT;
        if (cli_flag_bool(fs, "force"))
                buf_puts(&q, "force=1");
        if (cli_flag_bool(fs, "link")) {
                container_query_sep(&q);
                buf_puts(&q, "link=1");
        }
        if (cli_flag_bool(fs, "volumes")) {
                container_query_sep(&q);
                buf_puts(&q, "v=1");
        }
        int code = parallel_command(ctx, fs, "", q.len ? q.data : NULL, true);
        buf_release(&q);
        return code;
}

static int run_pause(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        return parallel_command(ctx, fs, "/pause", NULL, false);
}

static int run_unpause(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        return parallel_command(ctx, fs, "/unpause", NULL, false);
}

/* ---- wait ---- */

static int run_wait(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        struct berth_buf errs = BERTH_BUF_INIT;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *path = container_path(fs->args[i], "/wait");
                struct cli_stream *st = NULL;
                _cleanup_error_ struct berth_error *err = NULL;
                if (cli_client_open_stream(c, "POST", path, NULL, NULL, NULL, 0, &st, &err) < 0) {
                        buf_printf(&errs, "%s\n", berth_error_msg(err));
                        continue;
                }
                struct berth_buf body = BERTH_BUF_INIT;
                int r = cli_stream_read_all(st, 1 << 20, &body, &err);
                if (r < 0) {
                        buf_printf(&errs, "%s\n", berth_error_msg(err));
                } else if (cli_stream_status(st) != 200) {
                        struct cli_response resp = {
                            .status = cli_stream_status(st), .body = body.data, .len = body.len};
                        _cleanup_free_ char *m = container_daemon_error(&resp);
                        buf_printf(&errs, "%s\n", m);
                } else {
                        int status;
                        _cleanup_free_ char *werr = NULL;
                        attach_wait_parse(body.data ? body.data : "", body.len, &status, &werr);
                        if (werr) {
                                /* docker prints the status field even then */
                                _cleanup_json_ struct json *j = NULL;
                                status = 0;
                                if (json_parse(body.data, body.len, &j, NULL) == 0 &&
                                    json_is(json_get(j, "StatusCode"), JSON_NUMBER))
                                        status = (int)json_get(j, "StatusCode")->num.i;
                        }
                        fprintf(ctx->out, "%d\n", status);
                        fflush(ctx->out);
                }
                buf_release(&body);
                cli_stream_free(st);
        }
        int code = errs.len ? 1 : 0;
        if (errs.len) {
                fflush(ctx->out);
                fputs(errs.data, ctx->err);
        }
        buf_release(&errs);
        return code;
}

/* ---- rename ---- */

static char *trim(const char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t l = strlen(s);
        while (l && isspace((unsigned char)s[l - 1]))
                l--;
        return xstrndup(s, l);
}

static int run_rename(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_free_ char *old = trim(fs->args[0]), *new = trim(fs->args[1]);
        if (!*old || !*new) {
                fprintf(ctx->err, "Error: Neither old nor new names may be empty\n");
                return 1;
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_free_ char *path = container_path(old, "/rename");
        struct berth_buf q = BERTH_BUF_INIT;
        buf_puts(&q, "name=");
        http_escape_query(&q, new);
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = container_request(c, "POST", path, q.data, NULL, &resp, &err);
        buf_release(&q);
        if (r < 0) {
                fprintf(ctx->err, "%s\nError: failed to rename container named %s\n",
                        berth_error_msg(err), old);
                return 1;
        }
        int code = 0;
        if (resp.status / 100 != 2) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\nError: failed to rename container named %s\n", m, old);
                code = 1;
        }
        cli_response_release(&resp);
        return code;
}

/* ---- port ---- */

/* sortorder.NaturalLess: digit runs compare as numbers. */
static int natural_cmp(const void *pa, const void *pb)
{
        const char *a = *(char *const *)pa, *b = *(char *const *)pb;
        while (*a && *b) {
                if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
                        const char *sa = a, *sb = b;
                        while (*sa == '0')
                                sa++;
                        while (*sb == '0')
                                sb++;
                        const char *ea = sa, *eb = sb;
                        while (isdigit((unsigned char)*ea))
                                ea++;
                        while (isdigit((unsigned char)*eb))
                                eb++;
                        if (ea - sa != eb - sb)
                                return (ea - sa) < (eb - sb) ? -1 : 1;
                        int c = strncmp(sa, sb, (size_t)(ea - sa));
                        if (c)
                                return c;
                        a = ea;
                        b = eb;
                        continue;
                }
                if (*a != *b)
                        return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
                a++;
                b++;
        }
        return *a ? 1 : *b ? -1 : 0;
}

int container_natural_cmp(const void *pa, const void *pb)
{
        return natural_cmp(pa, pb);
}

static void join_host_port(struct berth_buf *b, const char *ip, const char *port)
{
        if (strchr(ip, ':'))
                buf_printf(b, "[%s]:%s", ip, port);
        else
                buf_printf(b, "%s:%s", ip, port);
}

static int run_port(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_json_ struct json *info = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_inspect(c, fs->args[0], &info, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        const struct json *ports = json_get(json_get(info, "NetworkSettings"), "Ports");
        char **out = NULL;
        size_t n = 0;
        if (fs->n_args > 1) {
                _cleanup_free_ char *want = xstrdup(fs->args[1]);
                char *slash = strchr(want, '/');
                const char *proto = slash && slash[1] ? slash + 1 : "tcp";
                if (slash)
                        *slash = '\0';
                char *end = NULL;
                errno = 0;
                unsigned long p = strtoul(want, &end, 10);
                if (!*want || *end || errno || p > 65535 || !isdigit((unsigned char)want[0])) {
                        fprintf(ctx->err,
                                "Error: invalid port (%s): strconv.ParseUint: parsing \"%s\": %s\n",
                                want, want,
                                (*want && !*end && isdigit((unsigned char)want[0]))
                                    ? "value out of range"
                                    : "invalid syntax");
                        return 1;
                }
                _cleanup_free_ char *key = xasprintf("%s/%s", want, proto);
                const struct json *fronts = json_get(ports, key);
                if (!json_len(fronts) || !json_is(fronts, JSON_ARRAY)) {
                        fprintf(ctx->err, "Error: No public port '%s' published for %s\n",
                                fs->args[1], fs->args[0]);
                        return 1;
                }
                for (size_t i = 0; i < json_len(fronts); i++) {
                        struct berth_buf b = BERTH_BUF_INIT;
                        const struct json *f = fronts->arr.items[i];
                        join_host_port(&b, json_str(json_get(f, "HostIp")) ?: "",
                                       json_str(json_get(f, "HostPort")) ?: "");
                        out = xrealloc(out, (n + 1) * sizeof(char *));
                        out[n++] = buf_steal(&b);
                }
        } else {
                for (size_t i = 0; json_is(ports, JSON_OBJECT) && i < ports->obj.n; i++) {
                        const struct json *fronts = ports->obj.m[i].value;
                        for (size_t k = 0; json_is(fronts, JSON_ARRAY) && k < json_len(fronts);
                             k++) {
                                struct berth_buf b = BERTH_BUF_INIT;
                                const struct json *f = fronts->arr.items[k];
                                buf_printf(&b, "%s -> ", ports->obj.m[i].key);
                                join_host_port(&b, json_str(json_get(f, "HostIp")) ?: "",
                                               json_str(json_get(f, "HostPort")) ?: "");
                                out = xrealloc(out, (n + 1) * sizeof(char *));
                                out[n++] = buf_steal(&b);
                        }
                }
        }
        qsort(out, n, sizeof(char *), natural_cmp);
        for (size_t i = 0; i < n; i++) {
                fprintf(ctx->out, "%s\n", out[i]);
                free(out[i]);
        }
        free(out);
        return 0;
}

/* ---- top ---- */

static int run_top(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_free_ char *path = container_path(fs->args[0], "/top");
        struct berth_buf q = BERTH_BUF_INIT;
        if (fs->n_args > 1) {
                buf_puts(&q, "ps_args=");
                for (size_t i = 1; i < fs->n_args; i++) {
                        if (i > 1)
                                buf_puts(&q, "+");
                        http_escape_query(&q, fs->args[i]);
                }
        }
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = container_request(c, "GET", path, q.len ? q.data : NULL, NULL, &resp, &err);
        buf_release(&q);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status != 200) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        _cleanup_json_ struct json *j = NULL;
        r = json_parse(resp.body, resp.len, &j, NULL);
        cli_response_release(&resp);
        if (r < 0) {
                fprintf(ctx->err, "unexpected reply to top from the daemon\n");
                return 1;
        }
        struct berth_buf out = BERTH_BUF_INIT;
        _cleanup_tabwriter_ struct tabwriter *tw = tabwriter_new(&out, 20, 1, 3, ' ', 0);
        const struct json *titles = json_get(j, "Titles");
        for (size_t i = 0; i < json_len(titles); i++) {
                if (i)
                        tabwriter_puts(tw, "\t");
                tabwriter_puts(tw, json_str(titles->arr.items[i]) ?: "");
        }
        tabwriter_puts(tw, "\n");
        const struct json *procs = json_get(j, "Processes");
        for (size_t i = 0; i < json_len(procs); i++) {
                const struct json *p = procs->arr.items[i];
                for (size_t k = 0; k < json_len(p); k++) {
                        if (k)
                                tabwriter_puts(tw, "\t");
                        tabwriter_puts(tw, json_str(p->arr.items[k]) ?: "");
                }
                tabwriter_puts(tw, "\n");
        }
        tabwriter_flush(tw);
        fwrite(out.data ? out.data : "", 1, out.len, ctx->out);
        buf_release(&out);
        return 0;
}

/* ---- container prune ---- */

static int run_prune(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        if (!cli_flag_bool(fs, "force")) {
                fprintf(ctx->out, "WARNING! This will remove all stopped containers.\nAre you sure "
                                  "you want to continue? [y/N] ");
                fflush(ctx->out);
                char answer[64] = "";
                if (!fgets(answer, sizeof(answer), stdin))
                        return 0;
                answer[strcspn(answer, "\r\n")] = '\0';
                _cleanup_free_ char *a = trim(answer);
                if (strcasecmp(a, "y") != 0 && strcasecmp(a, "yes") != 0)
                        return 0;
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        struct berth_buf q = BERTH_BUF_INIT;
        cli_filters_query(&q, cli_flag_list(fs, "filter"), NULL, NULL);
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = container_request(c, "POST", "/containers/prune", q.len ? q.data : NULL, NULL,
                                  &resp, &err);
        buf_release(&q);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status != 200) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        _cleanup_json_ struct json *j = NULL;
        (void)json_parse(resp.body, resp.len, &j, NULL);
        cli_response_release(&resp);
        const struct json *deleted = json_get(j, "ContainersDeleted");
        uint64_t space = 0;
        if (json_len(deleted) && json_is(deleted, JSON_ARRAY)) {
                fputs("Deleted Containers:\n", ctx->out);
                for (size_t i = 0; i < json_len(deleted); i++)
                        fprintf(ctx->out, "%s\n", json_str(deleted->arr.items[i]) ?: "");
                fputc('\n', ctx->out);
                const struct json *sp = json_get(j, "SpaceReclaimed");
                if (json_is(sp, JSON_NUMBER))
                        space = sp->num.u;
        }
        struct berth_buf h = BERTH_BUF_INIT;
        units_human_size(&h, (double)space);
        fprintf(ctx->out, "Total reclaimed space: %s\n", h.data);
        buf_release(&h);
        return 0;
}

/* ---- the commands ---- */

static const struct cli_flag stop_flags[] = {
    {"signal", 's', CLI_FLAG_STRING, "Signal to send to the container", NULL, NULL, false, NULL},
    {"time", 0, CLI_FLAG_INT,
     "Seconds to wait before killing the container (deprecated: use --timeout)", NULL, NULL, true,
     NULL},
    {"timeout", 't', CLI_FLAG_INT, "Seconds to wait before killing the container", NULL, NULL,
     false, NULL},
};

static const struct cli_flag kill_flags[] = {
    {"signal", 's', CLI_FLAG_STRING, "Signal to send to the container", NULL, NULL, false, NULL},
};

static const struct cli_flag rm_flags[] = {
    {"force", 'f', CLI_FLAG_BOOL, "Force the removal of a running container (uses SIGKILL)", NULL,
     NULL, false, NULL},
    {"link", 'l', CLI_FLAG_BOOL, "Remove the specified link", NULL, NULL, false, NULL},
    {"volumes", 'v', CLI_FLAG_BOOL, "Remove anonymous volumes associated with the container", NULL,
     NULL, false, NULL},
};

static const struct cli_flag prune_flags[] = {
    {"filter", 0, CLI_FLAG_LIST, "Provide filter values (e.g. \"until=<timestamp>\")", NULL,
     "filter", false, cli_filter_validate},
    {"force", 'f', CLI_FLAG_BOOL, "Do not prompt for confirmation", NULL, NULL, false, NULL},
};

#define CONTAINER_COMMAND(var, cname, cusage, csummary, cflags, nflags, mn, mx, calias, fn)        \
        const struct cli_command var = {                                                           \
            .name = cname,                                                                         \
            .usage = cusage,                                                                       \
            .summary = csummary,                                                                   \
            .group = CLI_GROUP_OTHER,                                                              \
            .flags = cflags,                                                                       \
            .n_flags = nflags,                                                                     \
            .mode = CLI_PARSE_INTERSPERSED,                                                        \
            .min_args = mn,                                                                        \
            .max_args = mx,                                                                        \
            .aliases = calias,                                                                     \
            .run = fn,                                                                             \
        }

CONTAINER_COMMAND(cli_cmd_stop, "stop", "[OPTIONS] CONTAINER [CONTAINER...]",
                  "Stop one or more running containers", stop_flags, ELEMENTSOF(stop_flags), 1, -1,
                  "container stop, stop", run_stop);
CONTAINER_COMMAND(cli_cmd_restart, "restart", "[OPTIONS] CONTAINER [CONTAINER...]",
                  "Restart one or more containers", stop_flags, ELEMENTSOF(stop_flags), 1, -1,
                  "container restart, restart", run_restart);
CONTAINER_COMMAND(cli_cmd_kill, "kill", "[OPTIONS] CONTAINER [CONTAINER...]",
                  "Kill one or more running containers", kill_flags, ELEMENTSOF(kill_flags), 1, -1,
                  "container kill, kill", run_kill);
CONTAINER_COMMAND(cli_cmd_rm, "rm", "[OPTIONS] CONTAINER [CONTAINER...]",
                  "Remove one or more containers", rm_flags, ELEMENTSOF(rm_flags), 1, -1,
                  "container rm, container remove, rm", run_rm);
/* `container remove`: docker's alias of rm, not listed in help */
const struct cli_command cli_cmd_container_remove = {
    .name = "remove",
    .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
    .summary = "Remove one or more containers",
    .flags = rm_flags,
    .n_flags = ELEMENTSOF(rm_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .aliases = "container rm, container remove, rm",
    .run = run_rm,
    .hidden = true,
};
CONTAINER_COMMAND(cli_cmd_pause, "pause", "CONTAINER [CONTAINER...]",
                  "Pause all processes within one or more containers", NULL, 0, 1, -1,
                  "container pause, pause", run_pause);
CONTAINER_COMMAND(cli_cmd_unpause, "unpause", "CONTAINER [CONTAINER...]",
                  "Unpause all processes within one or more containers", NULL, 0, 1, -1,
                  "container unpause, unpause", run_unpause);
CONTAINER_COMMAND(cli_cmd_wait, "wait", "CONTAINER [CONTAINER...]",
                  "Block until one or more containers stop, then print their exit codes", NULL, 0,
                  1, -1, "container wait, wait", run_wait);
CONTAINER_COMMAND(cli_cmd_rename, "rename", "CONTAINER NEW_NAME", "Rename a container", NULL, 0, 2,
                  2, "container rename, rename", run_rename);
CONTAINER_COMMAND(cli_cmd_port, "port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
                  "List port mappings or a specific mapping for the container", NULL, 0, 1, 2,
                  "container port, port", run_port);
CONTAINER_COMMAND(cli_cmd_container_prune, "prune", "[OPTIONS]", "Remove all stopped containers",
                  prune_flags, ELEMENTSOF(prune_flags), 0, 0, NULL, run_prune);

const struct cli_command cli_cmd_top = {
    .name = "top",
    .usage = "CONTAINER [ps OPTIONS]",
    .summary = "Display the running processes of a container",
    .group = CLI_GROUP_OTHER,
    .mode = CLI_PARSE_STOP_AT_ARG,
    .min_args = 1,
    .max_args = -1,
    .aliases = "container top, top",
    .run = run_top,
};
