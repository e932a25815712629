/*
 * cmd-archive.c — `berth save` and `load`, also as `image save|load`
 * (cmd-image.c has pull, push and the other image commands).
 *
 * Each command is a thin layer over one API call and cliformat's renderers:
 * load feeds the daemon's JSON stream to the progress renderer; save writes the archive to -o (a
 * temp name renamed when complete) or to a redirected stdout. Outputs and error texts are docker's
 * ("Error response from daemon: …").
 *
 * Never: print a line docker would not print, or exit 0 after a daemon error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/http.h"
#include "base/buf.h"
#include "cli.h"
#include "credentials.h"
#include "image/reference.h"
#include "progress.h"

/* ---- helpers ---- */

static void query_add(struct berth_buf *q, const char *key, const char *value)
{
        if (q->len)
                buf_putc(q, '&');
        buf_printf(q, "%s=", key);
        http_escape_query(q, value);
}

/* ---- progress streams ---- */

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
static int stream_progress_body(struct cli_ctx *ctx, const char *path, const char *query,
                                bool quiet, const char *registry, const char *content_type,
                                int body_fd)
{
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        /* Stored credentials for the registry (credentials.h), as docker sends them. */
        _cleanup_free_ char *key = registry ? cli_credentials_key(registry) : NULL;
        _cleanup_free_ char *auth = key ? cli_credentials_registry_auth(key) : NULL;
        c->registry_auth = registry ? (auth ? auth : "e30=") : NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        bool tty = isatty(fileno(ctx->out));
        struct pull_render pr = {
            .ctx = ctx,
            .p = progress_new(tty, tty ? progress_terminal_width(fileno(ctx->out)) : 0),
            .quiet = quiet,
        };
        int r = cli_client_upload(c, path, query, content_type, body_fd, &pr.status, pull_data, &pr,
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
        c->registry_auth = NULL;
        progress_free(pr.p);
        berth_error_free(pr.err);
        buf_release(&pr.error_body);
        return code;
}

/* ---- save and load ---- */

/* An errno in Go's words, as docker prints them: "no such file or directory". */
static char *go_errno_text(int e)
{
        char *s = xstrdup(strerror(e));
        s[0] = (char)tolower((unsigned char)s[0]);
        return s;
}

/*
 * docker's check of save -o before anything is asked or written: the directory must be
 * one, and the output must not be.  0, or 1 with the error printed.
 */
static int check_output_path(struct cli_ctx *ctx, const char *output)
{
        _cleanup_free_ char *copy = xstrdup(output);
        const char *dir = dirname(copy);
        struct stat st;
        if (strcmp(dir, ".") != 0) {
                int e = stat(dir, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
                if (e) {
                        _cleanup_free_ char *why = go_errno_text(e);
                        fprintf(ctx->err,
                                "failed to save image: invalid output path: stat %s: %s\n", dir,
                                why);
                        return 1;
                }
        }
        if (stat(output, &st) == 0 && S_ISDIR(st.st_mode)) {
                fprintf(ctx->err, "failed to save image: cannot write to a directory\n");
                return 1;
        }
        return 0;
}

struct save_sink {
        FILE *f;
        int status;
        struct berth_buf error_body;
};

static int save_data(const char *data, size_t len, void *userdata)
{
        struct save_sink *ss = userdata;
        if (ss->status != 200) {
                if (ss->error_body.len + len <= 1 << 20)
                        buf_append(&ss->error_body, data, len);
                return 0;
        }
        return fwrite(data, 1, len, ss->f) == len ? 0 : -EIO;
}

static int run_save(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *output = cli_flag_string(fs, "output");
        if ((!output || !*output) && isatty(fileno(ctx->out))) {
                fprintf(ctx->err, "Cowardly refusing to save to a terminal. Use the -o flag or "
                                  "redirect\n");
                return 1;
        }
        if (output && *output && check_output_path(ctx, output))
                return 1;
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        _cleanup_free_ char *tmp = output && *output ? xasprintf("%s.berth-tmp", output) : NULL;
        struct save_sink ss = {.f = tmp ? fopen(tmp, "we") : ctx->out};
        if (!ss.f) {
                /* the user's path: the temp name beside it is ours */
                _cleanup_free_ char *why = go_errno_text(errno);
                fprintf(ctx->err, "failed to save image: open %s: %s\n", output, why);
                return 1;
        }
        struct berth_buf q = BERTH_BUF_INIT;
        for (size_t i = 0; i < fs->n_args; i++)
                query_add(&q, "names", fs->args[i]);
        _cleanup_error_ struct berth_error *err = NULL;
        int r = cli_client_stream(c, "GET", "/images/get", q.data, NULL, NULL, 0, &ss.status,
                                  save_data, &ss, &err);
        buf_release(&q);
        int code = 0;
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                code = 1;
        } else if (ss.status != 200) {
                struct cli_response resp = {.status = ss.status,
                                            .body = ss.error_body.data ? ss.error_body.data : "",
                                            .len = ss.error_body.len};
                code = cli_daemon_error(ctx, &resp);
        }
        if (tmp) {
                if (fclose(ss.f) != 0 && code == 0) {
                        _cleanup_free_ char *why = go_errno_text(errno);
                        fprintf(ctx->err, "failed to save image: write %s: %s\n", output, why);
                        code = 1;
                }
                if (code == 0 && rename(tmp, output) < 0) {
                        _cleanup_free_ char *why = go_errno_text(errno);
                        fprintf(ctx->err, "failed to save image: rename %s: %s\n", output, why);
                        code = 1;
                }
                if (code != 0)
                        (void)unlink(tmp);
        }
        buf_release(&ss.error_body);
        return code;
}

static int run_load(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *input = cli_flag_string(fs, "input");
        _cleanup_close_ int fd = -EBADF;
        if (input && *input) {
                fd = open(input, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        fprintf(ctx->err, "open %s: %s\n", input, strerror(errno));
                        return 1;
                }
        } else if (isatty(STDIN_FILENO)) {
                fprintf(ctx->err, "requested load from stdin, but stdin is empty\n");
                return 1;
        }
        /* As docker: layer progress only on a terminal.  The archive streams to
         * the daemon as it is read: no copy in memory. */
        bool quiet = cli_flag_bool(fs, "quiet") || !isatty(fileno(ctx->out));
        return stream_progress_body(ctx, "/images/load", quiet ? "quiet=1" : "quiet=0", false, NULL,
                                    "application/x-tar", fd >= 0 ? fd : STDIN_FILENO);
}

/* docker 28's import: a file is opened here and sent as fromSrc=-, a URL is
 * fetched by the daemon, "-" sends stdin. */
static int run_import(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *src = fs->args[0];
        const char *refname = fs->n_args > 1 ? fs->args[1] : "";
        if (*refname) {
                _cleanup_image_ref_ struct image_ref *ref = NULL;
                _cleanup_error_ struct berth_error *err = NULL;
                if (image_ref_parse_normalized(refname, &ref, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
        }
        bool url = strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0;
        _cleanup_close_ int fd = -EBADF;
        if (url) {
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        } else if (strcmp(src, "-") != 0) {
                fd = open(src, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        _cleanup_free_ char *why = go_errno_text(errno);
                        fprintf(ctx->err, "open %s: %s\n", src, why);
                        return 1;
                }
        }
        struct berth_buf q = BERTH_BUF_INIT;
        query_add(&q, "fromSrc", url ? src : "-");
        query_add(&q, "repo", refname);
        query_add(&q, "tag", "");
        query_add(&q, "message", cli_flag_string(fs, "message") ?: "");
        const char *platform = cli_flag_string(fs, "platform");
        if (platform && *platform) {
                _cleanup_free_ char *lower = xstrdup(platform);
                for (char *p = lower; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                query_add(&q, "platform", lower);
        }
        char **changes = cli_flag_list(fs, "change");
        for (size_t i = 0; changes && changes[i]; i++)
                query_add(&q, "changes", changes[i]);
        int code = stream_progress_body(ctx, "/images/create", q.data, false, NULL, "text/plain",
                                        fd >= 0 ? fd : STDIN_FILENO);
        buf_release(&q);
        return code;
}

/* ---- the command table ---- */

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

static const struct cli_flag save_flags[] = {
    {"output", 'o', CLI_FLAG_STRING, "Write to a file, instead of STDOUT", NULL, "string", false},
};
static const struct cli_flag load_flags[] = {
    {"input", 'i', CLI_FLAG_STRING, "Read from tar archive file, instead of STDIN", NULL, "string",
     false},
    {"quiet", 'q', CLI_FLAG_BOOL, "Suppress the load output", NULL, NULL, false},
};
static const struct cli_flag import_flags[] = {
    {"change", 'c', CLI_FLAG_LIST, "Apply Dockerfile instruction to the created image", NULL,
     "list", false},
    {"message", 'm', CLI_FLAG_STRING, "Set commit message for imported image", NULL, "string",
     false},
    {"platform", 0, CLI_FLAG_STRING, "Set platform if server is multi-platform capable", NULL,
     "string", false},
};
CMD(cli_cmd_import, "import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    "Import the contents from a tarball to create a filesystem image", CLI_GROUP_OTHER,
    import_flags, 1, 2, "image import, import", run_import);
CMD(cli_cmd_image_import, "import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
    "Import the contents from a tarball to create a filesystem image", CLI_GROUP_OTHER,
    import_flags, 1, 2, "image import, import", run_import);
CMD(cli_cmd_save, "save", "[OPTIONS] IMAGE [IMAGE...]",
    "Save one or more images to a tar archive (streamed to STDOUT by default)", CLI_GROUP_OTHER,
    save_flags, 1, -1, "image save, save", run_save);
CMD(cli_cmd_image_save, "save", "[OPTIONS] IMAGE [IMAGE...]",
    "Save one or more images to a tar archive (streamed to STDOUT by default)", CLI_GROUP_OTHER,
    save_flags, 1, -1, "image save, save", run_save);
CMD(cli_cmd_load, "load", "[OPTIONS]", "Load an image from a tar archive or STDIN", CLI_GROUP_OTHER,
    load_flags, 0, 0, "image load, load", run_load);
CMD(cli_cmd_image_load, "load", "[OPTIONS]", "Load an image from a tar archive or STDIN",
    CLI_GROUP_OTHER, load_flags, 0, 0, "image load, load", run_load);
