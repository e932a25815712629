/*
 * cmd-image.c — `berth tag`, `berth rmi` (`image rm`), `berth image inspect`,
 * `berth image prune`, and the `berth image` management command.
 *
 * `berth images` (`image ls`) lists with docker's table and --format through
 * formatter.h (the same rows and templates docker uses).
 *
 * Each is one or a few API calls rendered as docker renders them: rmi prints
 * "Untagged: …" / "Deleted: …" per action and goes on after a failed name
 * (exit 1 at the end), inspect prints a JSON array indented by four spaces
 * and "Error: No such image: <name>" for a missing one, prune asks before it
 * removes unless -f.
 *
 * Never: change a name the user typed before sending it (the daemon
 * normalises), print partial JSON on an error.
 */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "api/http.h"
#include "base/buf.h"
#include "cli.h"
#include "filter-flag.h"
#include "credentials.h"
#include "formatter.h"
#include "gotemplate.h"
#include "image/reference.h"
#include "progress.h"
#include "prune.h"
#include "base/units.h"

/* Image names go into paths raw, as docker sends them ("/images/a/b:1/json"). */
static void path_escape(struct berth_buf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (isalnum(*p) || strchr("-._~/:@", *p)) {
                        buf_putc(b, (char)*p);
                } else {
                        buf_putc(b, '%');
                        buf_putc(b, hex[*p >> 4]);
                        buf_putc(b, hex[*p & 15]);
                }
        }
}

static char *image_path(const char *name, const char *suffix)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "/images/");
        path_escape(&b, name);
        buf_puts(&b, suffix);
        return buf_steal(&b);
}

static int connect_or_fail(struct cli_ctx *ctx, struct cli_client **ret)
{
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return -EINVAL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_connect(c, NULL, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return -ECONNREFUSED;
        }
        *ret = c;
        return 0;
}

/* ---- images ---- */

static int run_images(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c;
        if (connect_or_fail(ctx, &c) < 0)
                return 1;
        struct berth_buf q = BERTH_BUF_INIT;
        if (cli_flag_bool(fs, "all"))
                buf_puts(&q, "all=1");
        cli_filters_query(&q, cli_flag_list(fs, "filter"), fs->n_args ? "reference" : NULL,
                          fs->n_args ? fs->args[0] : NULL);
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = cli_client_request(c, "GET", "/images/json", q.data, NULL, NULL, 0, &resp, &err);
        buf_release(&q);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status != 200) {
                r = cli_daemon_error(ctx, &resp);
                cli_response_release(&resp);
                return r;
        }
        _cleanup_json_ struct json *summaries = NULL;
        r = json_parse(resp.body, resp.len, &summaries, &err);
        cli_response_release(&resp);
        if (r < 0) {
                fprintf(ctx->err, "berth: bad /images/json reply from the daemon: %s\n",
                        berth_error_msg(err));
                return 1;
        }
        bool digests = cli_flag_bool(fs, "digests");
        const char *source = cli_flag_string(fs, "format");
        _cleanup_free_ char *format =
            formatter_image_format(source ? source : "", cli_flag_bool(fs, "quiet"), digests);
        _cleanup_json_ struct json *rows = formatter_image_rows(
            summaries, format, digests, cli_flag_bool(fs, "no-trunc"), (int64_t)time(NULL));
        _cleanup_json_ struct json *header = formatter_image_header();
        struct berth_buf out = BERTH_BUF_INIT;
        r = formatter_write(format, rows, NULL, header, FORMATTER_IMAGE_ROW_TYPE, &out, &err);
        if (r < 0) {
                buf_release(&out);
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (out.len)
                fwrite(out.data, 1, out.len, ctx->out);
        buf_release(&out);
        return 0;
}

/* ---- history ---- */

static const char *default_history_format =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
static const char *non_human_history_format =
    "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/* docker's formatter.Ellipsis for text: at most max runes, the last one "…" when cut. */
static void ellipsis(char *s, size_t max)
{
        size_t runes = 0;
        char *cut = NULL;
        for (char *p = s; *p; p++) {
                if (((unsigned char)*p & 0xc0) == 0x80)
                        continue;
                if (runes == max - 1)
                        cut = p;
                runes++;
        }
        if (runes <= max || !cut)
                return;
        strcpy(cut, "…"); /* 3 bytes, and cut has at least 2 runes (>= 2 bytes) + NUL after it */
}

/* One docker historyContext row per entry, values already rendered as docker renders them. */
static struct json *history_rows(const struct json *entries, bool human, bool no_trunc, int64_t now)
{
        struct json *rows = json_new_array();
        size_t i;
        struct json *h;
        json_array_foreach (entries, i, h) {
                struct json *row = json_array_append(rows, json_new_object());
                const char *id = json_str(json_get(h, "Id")) ?: "";
                if (strcmp(id, "<missing>") == 0 || no_trunc) {
                        json_set_str(row, "ID", id);
                } else {
                        _cleanup_free_ char *t = units_truncate_id(id);
                        json_set_str(row, "ID", t);
                }
                const struct json *c = json_get(h, "Created");
                int64_t created = json_is(c, JSON_NUMBER) ? c->num.i : 0;
                /* CreatedAt: Go's time.RFC3339 in local time ("Z" for UTC). */
                time_t t = (time_t)created;
                struct tm tm;
                localtime_r(&t, &tm);
                struct berth_buf at = BERTH_BUF_INIT;
                units_go_date_time(&at, &tm, 'T');
                if (tm.tm_gmtoff == 0)
                        buf_putc(&at, 'Z');
                else
                        buf_printf(&at, "%c%02ld:%02ld", tm.tm_gmtoff < 0 ? '-' : '+',
                                   labs(tm.tm_gmtoff) / 3600, labs(tm.tm_gmtoff) % 3600 / 60);
                json_set_str(row, "CreatedAt", at.data);
                struct berth_buf b = BERTH_BUF_INIT;
                if (human && created <= 0)
                        buf_puts(&b, "N/A"); /* docker's history: no (or the zero) time */
                else if (human)
                        units_ago(&b, created, now);
                else
                        buf_puts(&b, at.data);
                json_set_str(row, "CreatedSince", b.data);
                buf_release(&b);
                buf_release(&at);
                _cleanup_free_ char *by = xstrdup(json_str(json_get(h, "CreatedBy")) ?: "");
                for (char *p = by; *p; p++)
                        if (*p == '\t')
                                *p = ' ';
                if (!no_trunc) {
                        by = xrealloc(by, strlen(by) + 4);
                        ellipsis(by, 45);
                }
                json_set_str(row, "CreatedBy", by);
                const struct json *sz = json_get(h, "Size");
                double size = json_is(sz, JSON_NUMBER) ? (double)sz->num.i : 0.0;
                if (human)
                        units_human_size_prec(&b, size, 3);
                else
                        buf_printf(&b, "%lld", (long long)size);
                json_set_str(row, "Size", b.data);
                buf_release(&b);
                json_set_str(row, "Comment", json_str(json_get(h, "Comment")) ?: "");
        }
        return rows;
}

static int run_history(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c;
        if (connect_or_fail(ctx, &c) < 0)
                return 1;
        _cleanup_free_ char *path = image_path(fs->args[0], "/history");
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_request(c, "GET", path, NULL, NULL, NULL, 0, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status != 200) {
                int code = cli_daemon_error(ctx, &resp);
                cli_response_release(&resp);
                return code;
        }
        _cleanup_json_ struct json *entries = NULL;
        int r = json_parse(resp.body, resp.len, &entries, &err);
        cli_response_release(&resp);
        if (r < 0) {
                fprintf(ctx->err, "berth: bad history reply from the daemon: %s\n",
                        berth_error_msg(err));
                return 1;
        }
        const char *source = cli_flag_string(fs, "format");
        const char *format = cli_flag_bool(fs, "quiet")                          ? "{{.ID}}"
                             : source && *source && strcmp(source, "table") != 0 ? source
                             : cli_flag_bool(fs, "human") ? default_history_format
                                                          : non_human_history_format;
        _cleanup_json_ struct json *rows =
            history_rows(entries, cli_flag_bool(fs, "human"), cli_flag_bool(fs, "no-trunc"),
                         (int64_t)time(NULL));
        _cleanup_json_ struct json *header = NULL;
        (void)json_parse("{\"ID\":\"IMAGE\",\"CreatedSince\":\"CREATED\",\"CreatedAt\":"
                         "\"CREATED AT\",\"CreatedBy\":\"CREATED BY\",\"Size\":\"SIZE\","
                         "\"Comment\":\"COMMENT\"}",
                         strlen("{\"ID\":\"IMAGE\",\"CreatedSince\":\"CREATED\",\"CreatedAt\":"
                                "\"CREATED AT\",\"CreatedBy\":\"CREATED BY\",\"Size\":\"SIZE\","
                                "\"Comment\":\"COMMENT\"}"),
                         &header, NULL);
        struct berth_buf out = BERTH_BUF_INIT;
        r = formatter_write(format, rows, NULL, header, "*formatter.historyContext", &out, &err);
        if (r < 0) {
                buf_release(&out);
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (out.len)
                fwrite(out.data, 1, out.len, ctx->out);
        buf_release(&out);
        return 0;
}

/* ---- pull ---- */

struct pull_out {
        struct cli_ctx *ctx;
        struct progress *progress;
        bool quiet;
        int status;
        struct berth_buf error_body; /* a non-200 reply, kept whole */
        struct berth_error *stream_err;
};

static int pull_data(const char *data, size_t len, void *userdata)
{
        struct pull_out *po = userdata;
        if (po->status != 200) {
                buf_append(&po->error_body, data, len);
                return 0;
        }
        struct berth_buf out = BERTH_BUF_INIT;
        int r = progress_feed(po->progress, data, len, &out, &po->stream_err);
        if (!po->quiet && out.len) {
                fwrite(out.data, 1, out.len, po->ctx->out);
                fflush(po->ctx->out);
        }
        buf_release(&out);
        return r;
}

/* POST path and render docker's JSON progress stream; on success print done_line (may be NULL). */
static int stream_progress(struct cli_ctx *ctx, struct cli_client *c, const char *path,
                           const char *query, bool quiet, const char *done_line)
{
        _cleanup_error_ struct berth_error *err = NULL;
        struct pull_out po = {.ctx = ctx, .quiet = quiet};
        po.progress = progress_new(isatty(fileno(ctx->out)) && !quiet,
                                   progress_terminal_width(fileno(ctx->out)));
        int r = cli_client_stream(c, "POST", path, query, NULL, NULL, 0, &po.status, pull_data, &po,
                                  &err);
        int code = 0;
        if (r < 0 && po.stream_err) {
                fflush(ctx->out);
                fprintf(ctx->err, "%s\n", berth_error_msg(po.stream_err));
                code = 1;
        } else if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                code = 1;
        } else if (po.status != 200) {
                struct cli_response resp = {
                    .status = po.status, .body = po.error_body.data, .len = po.error_body.len};
                code = cli_daemon_error(ctx, &resp);
        } else {
                struct berth_buf out = BERTH_BUF_INIT;
                if (progress_finish(po.progress, &out, &po.stream_err) < 0) {
                        fflush(ctx->out);
                        fprintf(ctx->err, "%s\n", berth_error_msg(po.stream_err));
                        code = 1;
                } else {
                        if (!quiet && out.len)
                                fwrite(out.data, 1, out.len, ctx->out);
                        if (done_line)
                                fprintf(ctx->out, "%s\n", done_line);
                }
                buf_release(&out);
        }
        berth_error_free(po.stream_err);
        buf_release(&po.error_body);
        progress_free(po.progress);
        return code;
}

/*
 * pull and push alike: the reference normalised (docker's "Using default
 * tag"), then the daemon.  With all (--all-tags) the name must be a bare
 * repository, checked before the daemon is asked, as docker's CLI does.
 */
static int transfer_begin(struct cli_ctx *ctx, const char *arg, bool quiet, bool all,
                          struct image_ref **ret_ref, struct cli_client **ret_client)
{
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(arg, &ref, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return -EINVAL;
        }
        if (all && (ref->tag || ref->digest)) {
                fprintf(ctx->err, "tag can't be used with --all-tags/-a\n");
                return -EINVAL;
        }
        if (!all && !ref->tag && !ref->digest) {
                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
                if (!quiet)
                        fprintf(ctx->out, "Using default tag: %s\n", IMAGE_REF_DEFAULT_TAG);
        }
        if (connect_or_fail(ctx, ret_client) < 0)
                return -ECONNREFUSED;
        *ret_ref = TAKE_PTR(ref);
        return 0;
}

static int run_pull(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        bool quiet = cli_flag_bool(fs, "quiet");
        bool all = cli_flag_bool(fs, "all-tags");
        struct cli_client *c;
        if (transfer_begin(ctx, fs->args[0], quiet, all, &ref, &c) < 0)
                return 1;

        _cleanup_free_ char *name = image_ref_name(ref);
        struct berth_buf q = BERTH_BUF_INIT;
        buf_puts(&q, "fromImage=");
        http_escape_query(&q, name);
        /* No tag at all asks the daemon for every tag of the repository. */
        if (!all) {
                buf_puts(&q, "&tag=");
                http_escape_query(&q, ref->digest ? ref->digest : ref->tag);
        }
        const char *platform = cli_flag_string(fs, "platform");
        if (platform && *platform) {
                buf_puts(&q, "&platform=");
                http_escape_query(&q, platform);
        }
        /* Stored credentials for the image's registry go along, as docker's CLI sends them. */
        _cleanup_free_ char *cred_key = cli_credentials_key(ref->domain);
        _cleanup_free_ char *reg_auth = cli_credentials_registry_auth(cred_key);
        c->registry_auth = reg_auth ? reg_auth : "e30=";
        _cleanup_free_ char *full = image_ref_string(ref);
        int code = stream_progress(ctx, c, "/images/create", q.data, quiet, full);
        buf_release(&q);
        c->registry_auth = NULL;
        return code;
}

/* ---- push ---- */

static int run_push(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        bool quiet = cli_flag_bool(fs, "quiet");
        bool all = cli_flag_bool(fs, "all-tags");
        struct cli_client *c;
        if (transfer_begin(ctx, fs->args[0], quiet, all, &ref, &c) < 0)
                return 1;
        _cleanup_free_ char *name = image_ref_name(ref);
        _cleanup_free_ char *path = image_path(name, "/push");
        struct berth_buf q = BERTH_BUF_INIT;
        /* An empty tag pushes every local tag of the repository (--all-tags). */
        buf_puts(&q, "tag=");
        http_escape_query(&q, ref->tag ? ref->tag : "");
        _cleanup_free_ char *cred_key = cli_credentials_key(ref->domain);
        _cleanup_free_ char *reg_auth = cli_credentials_registry_auth(cred_key);
        c->registry_auth = reg_auth ? reg_auth : "e30=";
        _cleanup_free_ char *full = image_ref_string(ref);
        int code = stream_progress(ctx, c, path, q.data, quiet, quiet ? full : NULL);
        buf_release(&q);
        c->registry_auth = NULL;
        return code;
}

/* ---- tag ---- */

static int run_tag(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c;
        if (connect_or_fail(ctx, &c) < 0)
                return 1;
        /* TARGET[:TAG]: the tag is after the last ':' that follows the last '/'. */
        _cleanup_free_ char *repo = xstrdup(fs->args[1]);
        char *slash = strrchr(repo, '/');
        char *colon = strrchr(repo, ':');
        const char *tag = NULL;
        if (colon && (!slash || colon > slash)) {
                *colon = '\0';
                tag = colon + 1;
        }
        struct berth_buf q = BERTH_BUF_INIT;
        buf_puts(&q, "repo=");
        http_escape_query(&q, repo);
        if (tag) {
                buf_puts(&q, "&tag=");
                http_escape_query(&q, tag);
        }
        _cleanup_free_ char *path = image_path(fs->args[0], "/tag");
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = cli_client_request(c, "POST", path, q.data, NULL, NULL, 0, &resp, &err);
        buf_release(&q);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        int code = resp.status / 100 == 2 ? 0 : cli_daemon_error(ctx, &resp);
        cli_response_release(&resp);
        return code;
}

/* ---- rmi ---- */

static int run_rmi(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c;
        if (connect_or_fail(ctx, &c) < 0)
                return 1;
        const char *query = cli_flag_bool(fs, "force")      ? "force=1"
                            : cli_flag_bool(fs, "no-prune") ? "noprune=1"
                                                            : NULL;
        _cleanup_free_ char *both = cli_flag_bool(fs, "force") && cli_flag_bool(fs, "no-prune")
                                        ? xstrdup("force=1&noprune=1")
                                        : NULL;
        /* As docker: the errors after everything removed; with -f, missing images are
         * reported but are no failure. */
        _cleanup_buf_ struct berth_buf errors = BERTH_BUF_INIT;
        bool fatal = false;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *path = image_path(fs->args[i], "");
                struct cli_response resp;
                _cleanup_error_ struct berth_error *err = NULL;
                if (cli_client_request(c, "DELETE", path, both ? both : query, NULL, NULL, 0, &resp,
                                       &err) < 0) {
                        if (errors.len)
                                fputs(errors.data, ctx->err);
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
                if (resp.status != 200) {
                        _cleanup_free_ char *m = cli_error_message(&resp);
                        buf_printf(&errors, "Error response from daemon: %s\n", m);
                        fatal |= resp.status != 404;
                        cli_response_release(&resp);
                        continue;
                }
                _cleanup_json_ struct json *j = NULL;
                if (json_parse(resp.body, resp.len, &j, NULL) == 0) {
                        size_t k;
                        struct json *a;
                        json_array_foreach (j, k, a) {
                                const char *u = json_str(json_get(a, "Untagged"));
                                const char *d = json_str(json_get(a, "Deleted"));
                                if (u)
                                        fprintf(ctx->out, "Untagged: %s\n", u);
                                if (d)
                                        fprintf(ctx->out, "Deleted: %s\n", d);
                        }
                }
                cli_response_release(&resp);
        }
        if (!errors.len)
                return 0;
        fputs(errors.data, ctx->err);
        return fatal || !cli_flag_bool(fs, "force") ? 1 : 0;
}

/* ---- image inspect ---- */

/* json_dump's pretty form indents by two; docker inspect indents by four.  JSON
 * strings hold no raw newlines, so every leading space on a line is indent. */
static void four_space_indent(struct berth_buf *out, const char *pretty)
{
        for (const char *line = pretty; *line;) {
                const char *nl = strchrnul(line, '\n');
                const char *p = line;
                while (p < nl && *p == ' ')
                        p++;
                for (const char *s = line; s < p; s++)
                        buf_puts(out, "  ");
                buf_append(out, p, (size_t)(nl - p));
                if (*nl)
                        buf_putc(out, '\n');
                line = *nl ? nl + 1 : nl;
        }
}

/*
 * -f: docker executes the template over its image struct, then over the raw JSON as a map
 * with missingkey=error; over the JSON alone, the struct's fields the JSON may leave out read
 * as their zero values, and any other missing key is docker's error.  A failing image's
 * output is dropped, its error kept with the others, in order.
 */
static int inspect_format(const struct gotemplate *t, const struct json *img, struct berth_buf *out,
                          struct berth_buf *errors)
{
        static const char zero_json[] = "{\"Variant\":\"\",\"OsVersion\":\"\"}";
        _cleanup_json_ struct json *zero = NULL;
        (void)json_parse(zero_json, sizeof(zero_json) - 1, &zero, NULL);
        const struct gotemplate_object o = {img, NULL, zero};
        _cleanup_buf_ struct berth_buf one = BERTH_BUF_INIT;
        _cleanup_error_ struct berth_error *err = NULL;
        if (gotemplate_exec_objects(t, img, &o, 1, GOTEMPLATE_MISSINGKEY_ERROR, &one, &err) < 0) {
                buf_printf(errors, "template parsing error: %s\n", berth_error_msg(err));
                return 1;
        }
        buf_append(out, one.data, one.len);
        buf_putc(out, '\n');
        return 0;
}

static int run_image_inspect(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *format = cli_flag_string(fs, "format");
        _cleanup_gotemplate_ struct gotemplate *t = NULL;
        if (format && *format) {
                _cleanup_free_ char *text = formatter_template_string(format);
                _cleanup_error_ struct berth_error *terr = NULL;
                if (gotemplate_parse(text, &t, &terr) < 0) {
                        fprintf(ctx->err, "template parsing error: %s\n", berth_error_msg(terr));
                        return 64;
                }
        }
        struct cli_client *c;
        if (connect_or_fail(ctx, &c) < 0)
                return 1;
        _cleanup_json_ struct json *all = json_new_array();
        _cleanup_buf_ struct berth_buf errors = BERTH_BUF_INIT;
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        int code = 0;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *path = image_path(fs->args[i], "/json");
                struct cli_response resp;
                _cleanup_error_ struct berth_error *err = NULL;
                if (cli_client_request(c, "GET", path, NULL, NULL, NULL, 0, &resp, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
                struct json *j = NULL;
                if (resp.status == 200 && json_parse(resp.body, resp.len, &j, NULL) == 0) {
                        json_array_append(all, j);
                        if (t)
                                code |= inspect_format(t, j, &out, &errors);
                } else if (resp.status == 404) {
                        buf_printf(&errors, "Error: No such image: %s\n", fs->args[i]);
                        code = 1;
                } else {
                        _cleanup_free_ char *m = cli_error_message(&resp);
                        buf_printf(&errors, "Error response from daemon: %s\n", m);
                        code = 1;
                }
                cli_response_release(&resp);
        }
        if (t) {
                /* docker writes a newline when no image gave any output */
                fputs(out.len ? out.data : "\n", ctx->out);
        } else {
                _cleanup_free_ char *pretty =
                    json_dump(all, JSON_DUMP_PRETTY | JSON_DUMP_NO_ESCAPE_HTML);
                four_space_indent(&out, pretty);
                fprintf(ctx->out, "%s\n", out.data);
        }
        fflush(ctx->out);
        if (errors.len)
                fputs(errors.data, ctx->err);
        return code;
}

/* ---- image prune ---- */

static int run_image_prune(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        bool all = cli_flag_bool(fs, "all");
        if (!cli_flag_bool(fs, "force") &&
            !cli_prune_confirm(ctx, all ? "WARNING! This will remove all images without at least "
                                          "one container associated to them."
                                        : "WARNING! This will remove all dangling images."))
                return 0;
        struct cli_client *c;
        if (connect_or_fail(ctx, &c) < 0)
                return 1;
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        uint64_t space = 0;
        int code = cli_prune_call(ctx, c, CLI_PRUNE_IMAGES, cli_flag_list(fs, "filter"), all, &out,
                                  &space);
        if (code)
                return code;
        if (out.len)
                fprintf(ctx->out, "%s\n", out.data);
        cli_prune_total(ctx, space);
        return 0;
}

static const struct cli_flag rmi_flags[] = {
    {"force", 'f', CLI_FLAG_BOOL, "Force removal of the image", NULL, NULL, false},
    {"no-prune", 0, CLI_FLAG_BOOL, "Do not delete untagged parents", NULL, NULL, false},
};

static const struct cli_flag images_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Show all images (default hides intermediate images)", NULL, NULL,
     false, NULL},
    {"digests", 0, CLI_FLAG_BOOL, "Show digests", NULL, NULL, false, NULL},
    {"filter", 'f', CLI_FLAG_LIST, "Filter output based on conditions provided", NULL, "filter",
     false, cli_filter_validate},
    {"format", 0, CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'table':            Print output in table format with column "
     "headers (default)\n"
     "'table TEMPLATE':   Print output in table format using the "
     "given Go template\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template",
     NULL, NULL, false, NULL},
    {"no-trunc", 0, CLI_FLAG_BOOL, "Don't truncate output", NULL, NULL, false, NULL},
    {"quiet", 'q', CLI_FLAG_BOOL, "Only show image IDs", NULL, NULL, false, NULL},
};

static const struct cli_flag history_flags[] = {
    {"format", 0, CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'table':            Print output in table format with column "
     "headers (default)\n"
     "'table TEMPLATE':   Print output in table format using the "
     "given Go template\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template",
     NULL, NULL, false, NULL},
    {"human", 'H', CLI_FLAG_BOOL, "Print sizes and dates in human readable format", "true", NULL,
     false, NULL},
    {"no-trunc", 0, CLI_FLAG_BOOL, "Don't truncate output", NULL, NULL, false, NULL},
    {"quiet", 'q', CLI_FLAG_BOOL, "Only show image IDs", NULL, NULL, false, NULL},
};

static const struct cli_flag pull_flags[] = {
    {"all-tags", 'a', CLI_FLAG_BOOL, "Download all tagged images in the repository", NULL, NULL,
     false, NULL},
    {"platform", 0, CLI_FLAG_STRING, "Set platform if server is multi-platform capable", NULL, NULL,
     false, NULL},
    {"quiet", 'q', CLI_FLAG_BOOL, "Suppress verbose output", NULL, NULL, false, NULL},
};

static const struct cli_flag prune_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Remove all unused images, not just dangling ones", NULL, NULL,
     false},
    {"filter", 0, CLI_FLAG_LIST, "Provide filter values (e.g. \"until=<timestamp>\")", NULL,
     "filter", false, cli_filter_validate},
    {"force", 'f', CLI_FLAG_BOOL, "Do not prompt for confirmation", NULL, NULL, false},
};

const struct cli_command cli_cmd_images = {
    .name = "images",
    .usage = "[OPTIONS] [REPOSITORY[:TAG]]",
    .summary = "List images",
    .group = CLI_GROUP_COMMON,
    .flags = images_flags,
    .n_flags = ELEMENTSOF(images_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 1,
    .aliases = "image ls, image list, images",
    .run = run_images,
};

static const struct cli_command cli_cmd_image_ls = {
    .name = "ls",
    .usage = "[OPTIONS] [REPOSITORY[:TAG]]",
    .summary = "List images",
    .flags = images_flags,
    .n_flags = ELEMENTSOF(images_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 1,
    .aliases = "image ls, image list, images",
    .run = run_images,
};

const struct cli_command cli_cmd_history = {
    .name = "history",
    .usage = "[OPTIONS] IMAGE",
    .summary = "Show the history of an image",
    .group = CLI_GROUP_OTHER,
    .flags = history_flags,
    .n_flags = ELEMENTSOF(history_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 1,
    .aliases = "image history, history",
    .run = run_history,
};

const struct cli_command cli_cmd_pull = {
    .name = "pull",
    .usage = "[OPTIONS] NAME[:TAG|@DIGEST]",
    .summary = "Download an image from a registry",
    .group = CLI_GROUP_COMMON,
    .flags = pull_flags,
    .n_flags = ELEMENTSOF(pull_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 1,
    .aliases = "image pull, pull",
    .run = run_pull,
};

static const struct cli_flag push_flags[] = {
    {"all-tags", 'a', CLI_FLAG_BOOL, "Push all tags of an image to the repository", NULL, NULL,
     false, NULL},
    {"quiet", 'q', CLI_FLAG_BOOL, "Suppress verbose output", NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_push = {
    .name = "push",
    .usage = "[OPTIONS] NAME[:TAG]",
    .summary = "Upload an image to a registry",
    .group = CLI_GROUP_COMMON,
    .flags = push_flags,
    .n_flags = ELEMENTSOF(push_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 1,
    .aliases = "image push, push",
    .run = run_push,
};

const struct cli_command cli_cmd_tag = {
    .name = "tag",
    .usage = "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    .summary = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    .group = CLI_GROUP_OTHER,
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 2,
    .max_args = 2,
    .aliases = "image tag, tag",
    .run = run_tag,
};

const struct cli_command cli_cmd_rmi = {
    .name = "rmi",
    .usage = "[OPTIONS] IMAGE [IMAGE...]",
    .summary = "Remove one or more images",
    .group = CLI_GROUP_OTHER,
    .flags = rmi_flags,
    .n_flags = ELEMENTSOF(rmi_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .aliases = "image rm, image remove, rmi",
    .run = run_rmi,
};

static const struct cli_flag inspect_flags[] = {
    {"format", 'f', CLI_FLAG_STRING, "Format output using a custom template", NULL, "string",
     false},
};

static const struct cli_command cli_cmd_image_inspect = {
    .name = "inspect",
    .usage = "[OPTIONS] IMAGE [IMAGE...]",
    .summary = "Display detailed information on one or more images",
    .flags = inspect_flags,
    .n_flags = ELEMENTSOF(inspect_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .run = run_image_inspect,
};

static const struct cli_command cli_cmd_image_prune = {
    .name = "prune",
    .usage = "[OPTIONS]",
    .summary = "Remove unused images",
    .flags = prune_flags,
    .n_flags = ELEMENTSOF(prune_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .run = run_image_prune,
};

static const struct cli_command cli_cmd_image_rm = {
    .name = "rm",
    .usage = "[OPTIONS] IMAGE [IMAGE...]",
    .summary = "Remove one or more images",
    .flags = rmi_flags,
    .n_flags = ELEMENTSOF(rmi_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .aliases = "image rm, image remove, rmi",
    .run = run_rmi,
};

static const struct cli_command *const image_subcommands[] = {
    // clang-format off
    &cli_cmd_image_build,
    &cli_cmd_history,
    &cli_cmd_image_import,
    &cli_cmd_image_inspect,
    &cli_cmd_image_load,
    &cli_cmd_image_ls,
    &cli_cmd_image_prune,
    &cli_cmd_pull,
    &cli_cmd_push,
    &cli_cmd_image_rm,
    &cli_cmd_image_save,
    &cli_cmd_tag,
    NULL,
    // clang-format on
};

const struct cli_command cli_cmd_image = {
    .name = "image",
    .summary = "Manage images",
    .group = CLI_GROUP_MANAGEMENT,
    .subcommands = image_subcommands,
};
