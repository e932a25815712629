/*
 * cmd-pull.c — `berth pull`, `push`, `images` and `history`, also as `image
 * pull`, `image push`, `image ls` and `image history` (cmd-image.c has the
 * other image commands).
 *
 * Each command is a thin layer over one API call and cliformat's renderers:
 * pull feeds the daemon's JSON stream to the progress renderer (redrawn in
 * place on a terminal, plain lines otherwise) and ends with the pulled
 * reference as docker 28 does; images and history go through the formatter
 * (docker's tables, --format Go templates).  Outputs and error texts are
 * docker's ("Error response from daemon: …").
 *
 * Never: print a line docker would not print, or exit 0 after a daemon error.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "base/buf.h"
#include "cli.h"
#include "formatter.h"
#include "gotemplate.h"
#include "image/reference.h"
#include "progress.h"
#include "tabwriter.h"
#include "units.h"

/* ---- helpers ---- */

static void query_add(struct berth_buf *q, const char *key, const char *value)
{
        if (q->len)
                buf_putc(q, '&');
        buf_printf(q, "%s=", key);
        http_escape_query(q, value);
}

/* One request; on success *ret holds the parsed body (may be NULL for an empty one). */
static int call_json(struct cli_ctx *ctx, const char *method, const char *path, const char *query,
                     struct json **ret, int *ret_status)
{
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return -1;
        _cleanup_error_ struct berth_error *err = NULL;
        struct cli_response resp;
        if (cli_client_request(c, method, path, query, NULL, NULL, 0, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return -1;
        }
        if (ret_status)
                *ret_status = resp.status;
        if (resp.status >= 300) {
                if (!ret_status)
                        cli_daemon_error(ctx, &resp);
                else {
                        _cleanup_free_ char *m = cli_error_message(&resp);
                        *ret = json_new_string(m);
                }
                cli_response_release(&resp);
                return ret_status ? 0 : -1;
        }
        *ret = NULL;
        int r = 0;
        if (resp.len && json_parse(resp.body, resp.len, ret, &err) < 0) {
                fprintf(ctx->err, "berth: bad reply from the daemon: %s\n", berth_error_msg(err));
                r = -1;
        }
        cli_response_release(&resp);
        return r;
}

static char *image_path(const char *name, const char *suffix)
{
        return xasprintf("/images/%s%s", name, suffix ? suffix : "");
}

/* "--filter k=v" list → {"k":{"v":true}} text, docker's filters encoding. */
static char *filters_json(char **list)
{
        if (!list || !list[0])
                return NULL;
        struct json *o = json_new_object();
        for (size_t i = 0; list[i]; i++) {
                const char *eq = strchr(list[i], '=');
                _cleanup_free_ char *k =
                    eq ? xstrndup(list[i], (size_t)(eq - list[i])) : xstrdup(list[i]);
                const char *v = eq ? eq + 1 : "";
                struct json *m = json_get(o, k);
                if (!m)
                        m = json_object_set(o, k, json_new_object());
                json_object_set(m, v, json_new_bool(true));
        }
        char *s = json_dump(o, 0);
        json_free(o);
        return s;
}

static bool filters_valid(struct cli_ctx *ctx, char **list)
{
        for (size_t i = 0; list && list[i]; i++)
                if (!strchr(list[i], '=')) {
                        fprintf(ctx->err,
                                "invalid argument \"%s\" for \"-f, --filter\" flag: bad "
                                "format of filter (expected name=value)\n",
                                list[i]);
                        return false;
                }
        return true;
}

/* ---- pull ---- */

struct pull_render {
        struct cli_ctx *ctx;
        struct progress *p;
        bool quiet;
        int status;                  /* set by the client before the first byte */
        struct berth_buf error_body; /* a non-200 answer: {"message": …} */
        struct berth_error *err;
};

static int pull_data(const char *data, size_t len, void *userdata)
{
        struct pull_render *pr = userdata;
        if (pr->status != 200) {
                if (pr->error_body.len + len <= 1 << 20)
                        buf_append(&pr->error_body, data, len);
                return 0;
        }
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        int r = progress_feed(pr->p, data, len, &out, &pr->err);
        if (!pr->quiet && out.len) {
                fwrite(out.data, 1, out.len, pr->ctx->out);
                fflush(pr->ctx->out);
        }
        return r < 0 ? r : 0;
}

/* POST a progress stream and render it; 0 when it ended without an error. */
static int stream_progress(struct cli_ctx *ctx, const char *path, const char *query, bool quiet,
                           const char *registry)
{
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        /* Stored credentials for the registry (cmd-login.c), as docker sends them. */
        _cleanup_free_ char *auth = cli_registry_auth(registry);
        _cleanup_free_ char *hdr = auth ? xasprintf("X-Registry-Auth: %s\r\n", auth) : NULL;
        c->extra_headers = hdr;
        _cleanup_error_ struct berth_error *err = NULL;
        bool tty = isatty(fileno(ctx->out));
        struct pull_render pr = {
            .ctx = ctx,
            .p = progress_new(tty, tty ? progress_terminal_width(fileno(ctx->out)) : 0),
            .quiet = quiet,
        };
        int r = cli_client_stream(c, "POST", path, query, NULL, NULL, 0, &pr.status, pull_data, &pr,
                                  &err);
        int code = 0;
        if (r < 0 && pr.err) {
                fflush(ctx->out);
                fprintf(ctx->err, "%s\n", berth_error_msg(pr.err));
                code = 1;
        } else if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                code = 1;
        } else if (pr.status != 200) {
                struct cli_response resp = {.status = pr.status,
                                            .body = pr.error_body.data ? pr.error_body.data : "",
                                            .len = pr.error_body.len};
                code = cli_daemon_error(ctx, &resp);
        } else {
                _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
                if (progress_finish(pr.p, &out, &pr.err) < 0) {
                        fflush(ctx->out);
                        fprintf(ctx->err, "%s\n", berth_error_msg(pr.err));
                        code = 1;
                } else if (!quiet && out.len) {
                        fwrite(out.data, 1, out.len, ctx->out);
                }
        }
        c->extra_headers = NULL;
        progress_free(pr.p);
        berth_error_free(pr.err);
        buf_release(&pr.error_body);
        return code;
}

static int run_pull(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *arg = fs->args[0];
        bool all = cli_flag_bool(fs, "all-tags");
        bool quiet = cli_flag_bool(fs, "quiet");
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(arg, &ref, &err) < 0) {
                fprintf(ctx->err, "invalid reference format: %s\n", berth_error_msg(err));
                return 1;
        }
        if (all && (ref->tag || ref->digest)) {
                fprintf(ctx->err, "tag can't be used with --all-tags/-a\n");
                return 1;
        }
        if (!all && !ref->tag && !ref->digest) {
                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
                if (!quiet)
                        fprintf(ctx->out, "Using default tag: %s\n", IMAGE_REF_DEFAULT_TAG);
        }
        _cleanup_free_ char *name = image_ref_name(ref);
        struct berth_buf q = BERTH_BUF_INIT;
        query_add(&q, "fromImage", name);
        if (ref->digest || ref->tag)
                query_add(&q, "tag", ref->digest ? ref->digest : ref->tag);
        const char *platform = cli_flag_string(fs, "platform");
        if (platform && *platform)
                query_add(&q, "platform", platform);

        int code = stream_progress(ctx, "/images/create", q.data, quiet, ref->domain);
        buf_release(&q);
        if (code == 0) {
                _cleanup_free_ char *full = image_ref_string(ref);
                fprintf(ctx->out, "%s\n", full);
        }
        return code;
}

/* ---- push ---- */

static int run_push(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *arg = fs->args[0];
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(arg, &ref, &err) < 0) {
                fprintf(ctx->err, "invalid reference format: %s\n", berth_error_msg(err));
                return 1;
        }
        if (ref->digest) {
                fprintf(ctx->err, "cannot push a digest reference\n");
                return 1;
        }
        bool quiet = cli_flag_bool(fs, "quiet");
        if (!ref->tag) {
                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
                if (!quiet)
                        fprintf(ctx->out, "Using default tag: %s\n", IMAGE_REF_DEFAULT_TAG);
        }
        _cleanup_free_ char *name = image_ref_name(ref);
        _cleanup_free_ char *path = xasprintf("/images/%s/push", name);
        struct berth_buf q = BERTH_BUF_INIT;
        query_add(&q, "tag", ref->tag);
        int code = stream_progress(ctx, path, q.data, quiet, ref->domain);
        buf_release(&q);
        if (code == 0 && quiet) {
                _cleanup_free_ char *full = image_ref_string(ref);
                fprintf(ctx->out, "%s\n", full);
        }
        return code;
}

/* ---- images ---- */

static int run_images(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        char **filters = cli_flag_list(fs, "filter");
        if (!filters_valid(ctx, filters))
                return CLI_EXIT_USAGE;
        struct berth_buf q = BERTH_BUF_INIT;
        bool all = cli_flag_bool(fs, "all");
        bool digests = cli_flag_bool(fs, "digests");
        if (all)
                query_add(&q, "all", "1");
        _cleanup_strv_free_ char **fl = NULL;
        size_t n = 0;
        for (size_t i = 0; filters && filters[i]; i++)
                n++;
        fl = xcalloc(n + 2, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                fl[i] = xstrdup(filters[i]);
        if (fs->n_args == 1)
                fl[n++] = xasprintf("reference=%s", fs->args[0]);
        _cleanup_free_ char *fj = filters_json(fl);
        if (fj)
                query_add(&q, "filters", fj);
        _cleanup_json_ struct json *list = NULL;
        int r = call_json(ctx, "GET", "/images/json", q.len ? q.data : NULL, &list, NULL);
        buf_release(&q);
        if (r < 0)
                return 1;
        const char *format = cli_flag_string(fs, "format");
        _cleanup_free_ char *fmt =
            formatter_image_format(format, cli_flag_bool(fs, "quiet"), digests);
        _cleanup_json_ struct json *rows = formatter_image_rows(
            list, fmt, digests, cli_flag_bool(fs, "no-trunc"), (int64_t)time(NULL));
        _cleanup_json_ struct json *header = formatter_image_header();
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        _cleanup_error_ struct berth_error *err = NULL;
        if (formatter_write(fmt, rows, NULL, header, FORMATTER_IMAGE_ROW_TYPE, &out, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (out.len)
                fwrite(out.data, 1, out.len, ctx->out);
        return 0;
}

/* ---- history ---- */

#define HISTORY_TABLE                                                                              \
        "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}"

/* docker's stringutils.Ellipsis: at most max display columns, "…" when cut. */
static char *ellipsis(const char *s, size_t max)
{
        if (tabwriter_text_width(s, strlen(s)) <= max)
                return xstrdup(s);
        size_t end = 0, len = strlen(s);
        while (end < len) {
                size_t next = end + 1;
                while (next < len && ((unsigned char)s[next] & 0xc0) == 0x80)
                        next++;
                if (tabwriter_text_width(s, next) > max - 1)
                        break;
                end = next;
        }
        return xasprintf("%.*s…", (int)end, s);
}

static int run_history(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_free_ char *path = image_path(fs->args[0], "/history");
        _cleanup_json_ struct json *list = NULL;
        if (call_json(ctx, "GET", path, NULL, &list, NULL) < 0)
                return 1;
        bool no_trunc = cli_flag_bool(fs, "no-trunc");
        bool human = cli_flag_bool(fs, "human");
        const char *format = cli_flag_string(fs, "format");
        _cleanup_free_ char *fmt = NULL;
        if (cli_flag_bool(fs, "quiet"))
                fmt = xstrdup("{{.ID}}");
        else
                fmt = xstrdup(format && *format && strcmp(format, "table") != 0 ? format
                                                                                : HISTORY_TABLE);
        struct json *rows = json_new_array();
        int64_t now = (int64_t)time(NULL);
        size_t i;
        struct json *h;
        json_array_foreach (list, i, h) {
                struct json *row = json_array_append(rows, json_new_object());
                const char *id = json_str(json_get(h, "Id")) ?: "";
                if (no_trunc || strcmp(id, "<missing>") == 0)
                        json_set_str(row, "ID", id);
                else {
                        _cleanup_free_ char *t = units_truncate_id(id);
                        json_set_str(row, "ID", t);
                }
                const struct json *cj = json_get(h, "Created");
                int64_t created = cj ? cj->num.i : 0;
                struct berth_buf b = BERTH_BUF_INIT;
                if (created <= 0)
                        buf_puts(&b, "N/A"); /* docker 28 for a zero time */
                else if (human)
                        units_ago(&b, created, now);
                else {
                        time_t tt = (time_t)created;
                        struct tm tm;
                        gmtime_r(&tt, &tm);
                        char s[64];
                        strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
                        buf_puts(&b, s);
                }
                json_set_str(row, "CreatedSince", b.data ? b.data : "");
                buf_release(&b);
                json_set_str(row, "CreatedAt", "");
                _cleanup_free_ char *by = xstrdup(json_str(json_get(h, "CreatedBy")) ?: "");
                for (char *p = by; *p; p++)
                        if (*p == '\t')
                                *p = ' ';
                _cleanup_free_ char *shown = no_trunc ? xstrdup(by) : ellipsis(by, 45);
                json_set_str(row, "CreatedBy", shown);
                const struct json *sz = json_get(h, "Size");
                if (human)
                        units_human_size_prec(&b, sz ? (double)sz->num.i : 0, 3);
                else
                        buf_printf(&b, "%lld", (long long)(sz ? sz->num.i : 0));
                json_set_str(row, "Size", b.data ? b.data : "");
                buf_release(&b);
                json_set_str(row, "Comment", json_str(json_get(h, "Comment")) ?: "");
        }
        struct json *header = json_new_object();
        json_set_str(header, "ID", "IMAGE");
        json_set_str(header, "CreatedSince", "CREATED");
        json_set_str(header, "CreatedAt", "CREATED AT");
        json_set_str(header, "CreatedBy", "CREATED BY");
        json_set_str(header, "Size", "SIZE");
        json_set_str(header, "Comment", "COMMENT");
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = formatter_write(fmt, rows, NULL, header, "*formatter.historyContext", &out, &err);
        json_free(rows);
        json_free(header);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (out.len)
                fwrite(out.data, 1, out.len, ctx->out);
        return 0;
}

/* ---- the command table ---- */

static const struct cli_flag pull_flags[] = {
    {"all-tags", 'a', CLI_FLAG_BOOL, "Download all tagged images in the repository", NULL, NULL,
     false},
    {"platform", 0, CLI_FLAG_STRING, "Set platform if server is multi-platform capable", NULL, NULL,
     false},
    {"quiet", 'q', CLI_FLAG_BOOL, "Suppress verbose output", NULL, NULL, false},
};

static const struct cli_flag images_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Show all images (default hides intermediate images)", NULL, NULL,
     false},
    {"digests", 0, CLI_FLAG_BOOL, "Show digests", NULL, NULL, false},
    {"filter", 'f', CLI_FLAG_LIST, "Filter output based on conditions provided", NULL, "filter",
     false},
    {"format", 0, CLI_FLAG_STRING, "Format output using a custom template", NULL, "string", false},
    {"no-trunc", 0, CLI_FLAG_BOOL, "Don't truncate output", NULL, NULL, false},
    {"quiet", 'q', CLI_FLAG_BOOL, "Only show image IDs", NULL, NULL, false},
};

static const struct cli_flag history_flags[] = {
    {"format", 0, CLI_FLAG_STRING, "Format output using a custom template", NULL, "string", false},
    {"human", 'H', CLI_FLAG_BOOL, "Print sizes and dates in human readable format", "true", NULL,
     false},
    {"no-trunc", 0, CLI_FLAG_BOOL, "Don't truncate output", NULL, NULL, false},
    {"quiet", 'q', CLI_FLAG_BOOL, "Only show image IDs", NULL, NULL, false},
};

#define CMD(var, nm, use, sum, grp, fl, mn, mx, al, fn)                                            \
        const struct cli_command var = {                                                           \
            .name = nm,                                                                            \
            .usage = use,                                                                          \
            .summary = sum,                                                                        \
            .group = grp,                                                                          \
            .flags = fl,                                                                           \
            .n_flags = ELEMENTSOF(fl),                                                             \
            .mode = CLI_PARSE_INTERSPERSED,                                                        \
            .min_args = mn,                                                                        \
            .max_args = mx,                                                                        \
            .aliases = al,                                                                         \
            .run = fn,                                                                             \
        }

CMD(cli_cmd_pull, "pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry",
    CLI_GROUP_COMMON, pull_flags, 1, 1, "image pull, pull", run_pull);
static const struct cli_flag push_flags[] = {
    {"quiet", 'q', CLI_FLAG_BOOL, "Suppress verbose output", NULL, NULL, false},
};

CMD(cli_cmd_push, "push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", CLI_GROUP_COMMON,
    push_flags, 1, 1, "image push, push", run_push);
CMD(cli_cmd_image_push, "push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry",
    CLI_GROUP_OTHER, push_flags, 1, 1, "image push, push", run_push);
CMD(cli_cmd_images, "images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", CLI_GROUP_COMMON,
    images_flags, 0, 1, "image ls, image list, images", run_images);
CMD(cli_cmd_history, "history", "[OPTIONS] IMAGE", "Show the history of an image", CLI_GROUP_OTHER,
    history_flags, 1, 1, "image history, history", run_history);

CMD(cli_cmd_image_ls, "ls", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", CLI_GROUP_OTHER,
    images_flags, 0, 1, "image ls, image list, images", run_images);
CMD(cli_cmd_image_pull, "pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry",
    CLI_GROUP_OTHER, pull_flags, 1, 1, "image pull, pull", run_pull);
CMD(cli_cmd_image_history, "history", "[OPTIONS] IMAGE", "Show the history of an image",
    CLI_GROUP_OTHER, history_flags, 1, 1, "image history, history", run_history);
