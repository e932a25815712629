/*
 * cmd-image.c — `berth tag`, `berth rmi` (`image rm`), `berth image inspect`,
 * `berth image prune`, and the `berth image` management command.
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

#include "api/http.h"
#include "base/buf.h"
#include "cli.h"
#include "formatter.h"
#include "gotemplate.h"

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
        int code = 0;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *path = image_path(fs->args[i], "");
                struct cli_response resp;
                _cleanup_error_ struct berth_error *err = NULL;
                if (cli_client_request(c, "DELETE", path, both ? both : query, NULL, NULL, 0, &resp,
                                       &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
                if (resp.status != 200) {
                        code = cli_daemon_error(ctx, &resp);
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
        return code;
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

static int run_image_inspect(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c;
        if (connect_or_fail(ctx, &c) < 0)
                return 1;
        struct json *all = json_new_array();
        struct berth_buf errors = BERTH_BUF_INIT;
        int code = 0;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *path = image_path(fs->args[i], "/json");
                struct cli_response resp;
                _cleanup_error_ struct berth_error *err = NULL;
                if (cli_client_request(c, "GET", path, NULL, NULL, NULL, 0, &resp, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        json_free(all);
                        buf_release(&errors);
                        return 1;
                }
                struct json *j = NULL;
                if (resp.status == 200 && json_parse(resp.body, resp.len, &j, NULL) == 0) {
                        json_array_append(all, j);
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
        struct berth_buf out = BERTH_BUF_INIT;
        const char *format = cli_flag_string(fs, "format");
        if (format && *format) {
                /* -f: one template result per image, as docker inspect --format. */
                _cleanup_free_ char *text = formatter_template_string(format);
                _cleanup_gotemplate_ struct gotemplate *t = NULL;
                _cleanup_error_ struct berth_error *terr = NULL;
                int r = gotemplate_parse(text, &t, &terr);
                for (size_t i = 0; r == 0 && i < json_len(all); i++) {
                        r = gotemplate_exec(t, all->arr.items[i], 0, &out, &terr);
                        buf_putc(&out, '\n');
                }
                if (r < 0) {
                        fprintf(ctx->err, "template parsing error: %s\n", berth_error_msg(terr));
                        code = 1;
                } else if (out.len) {
                        fputs(out.data, ctx->out);
                }
        } else {
                _cleanup_free_ char *pretty =
                    json_dump(all, JSON_DUMP_PRETTY | JSON_DUMP_NO_ESCAPE_HTML);
                four_space_indent(&out, pretty);
                fprintf(ctx->out, "%s\n", out.data);
        }
        fflush(ctx->out);
        if (errors.len)
                fputs(errors.data, ctx->err);
        buf_release(&out);
        buf_release(&errors);
        json_free(all);
        return code;
}

/* ---- image prune ---- */

static int run_image_prune(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        bool all = cli_flag_bool(fs, "all");
        if (!cli_flag_bool(fs, "force")) {
                fprintf(ctx->out,
                        "WARNING! This will remove all %s.\nAre you sure you want to "
                        "continue? [y/N] ",
                        all ? "images without at least one container associated to them"
                            : "dangling images");
                fflush(ctx->out);
                char answer[16] = "";
                if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y'))
                        return 0;
        }
        struct cli_client *c;
        if (connect_or_fail(ctx, &c) < 0)
                return 1;
        const char *query = all ? "filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D" : NULL;
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_request(c, "POST", "/images/prune", query, NULL, NULL, 0, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status != 200) {
                int code = cli_daemon_error(ctx, &resp);
                cli_response_release(&resp);
                return code;
        }
        _cleanup_json_ struct json *j = NULL;
        (void)json_parse(resp.body, resp.len, &j, NULL);
        cli_response_release(&resp);
        const struct json *deleted = json_get(j, "ImagesDeleted");
        if (json_len(deleted)) {
                fputs("Deleted Images:\n", ctx->out);
                size_t k;
                struct json *a;
                json_array_foreach (deleted, k, a) {
                        const char *u = json_str(json_get(a, "Untagged"));
                        const char *d = json_str(json_get(a, "Deleted"));
                        if (u)
                                fprintf(ctx->out, "untagged: %s\n", u);
                        if (d)
                                fprintf(ctx->out, "deleted: %s\n", d);
                }
                fputc('\n', ctx->out);
        }
        const struct json *space = json_get(j, "SpaceReclaimed");
        _cleanup_free_ char *human =
            cli_human_size(json_is(space, JSON_NUMBER) ? (double)space->num.u : 0.0);
        fprintf(ctx->out, "Total reclaimed space: %s\n", human);
        return 0;
}

static const struct cli_flag rmi_flags[] = {
    {"force", 'f', CLI_FLAG_BOOL, "Force removal of the image", NULL, NULL, false},
    {"no-prune", 0, CLI_FLAG_BOOL, "Do not delete untagged parents", NULL, NULL, false},
};

static const struct cli_flag prune_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Remove all unused images, not just dangling ones", NULL, NULL,
     false},
    {"force", 'f', CLI_FLAG_BOOL, "Do not prompt for confirmation", NULL, NULL, false},
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
    &cli_cmd_image_history, &cli_cmd_image_inspect, &cli_cmd_image_ls, &cli_cmd_image_prune,
    &cli_cmd_image_pull,    &cli_cmd_image_push,    &cli_cmd_image_rm, &cli_cmd_tag, NULL,
};

const struct cli_command cli_cmd_image = {
    .name = "image",
    .summary = "Manage images",
    .group = CLI_GROUP_MANAGEMENT,
    .subcommands = image_subcommands,
};
