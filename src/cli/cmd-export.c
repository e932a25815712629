/*
 * cmd-export.c — `berth export` and `berth diff` (also as `container export`
 * and `container diff`): a container's filesystem as a tar, and what the
 * container changed in it, with docker 28's output and messages.
 *
 * export streams GET /containers/{id}/export to stdout (never to a terminal)
 * or to -o, written under a temp name beside the output and renamed when
 * complete, mode 0600 as docker's CopyToFile leaves it.  diff prints GET
 * /containers/{id}/changes as "<C|A|D> <path>" lines in the daemon's order.
 *
 * Never: leave a partial -o file under its final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "cli.h"
#include "container-cmd.h"

static char *go_errno(int e)
{
        char *s = xstrdup(strerror(e));
        if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z'))
                s[0] = (char)(s[0] - 'A' + 'a');
        return s;
}

/* docker 28's check of export -o: NULL when fine, else the reason. */
static char *check_output(const char *output)
{
        _cleanup_free_ char *copy = xstrdup(output);
        const char *dir = dirname(copy);
        struct stat st;
        if (strcmp(dir, ".") != 0) {
                int e = stat(dir, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
                if (e) {
                        _cleanup_free_ char *why = go_errno(e);
                        return xasprintf("invalid output path: stat %s: %s", dir, why);
                }
        }
        if (stat(output, &st) == 0) {
                if (S_ISDIR(st.st_mode))
                        return xstrdup("cannot write to a directory");
                if (S_ISCHR(st.st_mode))
                        return xstrdup("cannot write to a character device file");
                if (S_ISBLK(st.st_mode))
                        return xstrdup("cannot write to a block device file");
        }
        return NULL;
}

struct sink {
        int fd;
        int status;
        struct berth_buf error_body;
        int write_errno;
};

static int sink_data(const char *data, size_t len, void *userdata)
{
        struct sink *k = userdata;
        if (k->status / 100 != 2) {
                if (k->error_body.len + len <= 1 << 20)
                        buf_append(&k->error_body, data, len);
                return 0;
        }
        int r = write_all(k->fd, data, len);
        if (r < 0)
                k->write_errno = -r;
        return r;
}

static int run_export(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *name = fs->args[0];
        const char *output = cli_flag_string(fs, "output");
        bool to_file = output && *output;
        if (!to_file && isatty(fileno(ctx->out))) {
                fprintf(ctx->err,
                        "cowardly refusing to save to a terminal. Use the -o flag or redirect\n");
                return 1;
        }
        if (to_file) {
                _cleanup_free_ char *why = check_output(output);
                if (why) {
                        fprintf(ctx->err, "failed to export container: %s\n", why);
                        return 1;
                }
        }
        if (!*name) {
                fprintf(ctx->err, "invalid container name or ID: value is empty\n");
                return 1;
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_free_ char *tmp = NULL;
        struct sink k = {.fd = fileno(ctx->out)};
        if (to_file) {
                _cleanup_free_ char *copy = xstrdup(output);
                tmp = xasprintf("%s/.docker_temp_XXXXXX", dirname(copy));
                k.fd = mkostemp(tmp, O_CLOEXEC);
                if (k.fd < 0) {
                        _cleanup_free_ char *why = go_errno(errno);
                        fprintf(ctx->err, "open %s: %s\n", tmp, why);
                        return 1;
                }
        } else {
                fflush(ctx->out);
        }
        _cleanup_free_ char *path = container_path(name, "/export");
        _cleanup_error_ struct berth_error *err = NULL;
        int r =
            cli_client_stream(c, "GET", path, NULL, NULL, NULL, 0, &k.status, sink_data, &k, &err);
        int code = 0;
        if (r < 0 && k.write_errno) {
                _cleanup_free_ char *why = go_errno(k.write_errno);
                fprintf(ctx->err, "write %s: %s\n", to_file ? tmp : "/dev/stdout", why);
                code = 1;
        } else if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                code = 1;
        } else if (k.status / 100 != 2) {
                struct cli_response resp = {.status = k.status,
                                            .body = k.error_body.data ? k.error_body.data : "",
                                            .len = k.error_body.len};
                code = cli_daemon_error(ctx, &resp);
        }
        if (to_file) {
                if (close(k.fd) < 0 && code == 0) {
                        _cleanup_free_ char *why = go_errno(errno);
                        fprintf(ctx->err, "close %s: %s\n", tmp, why);
                        code = 1;
                }
                if (code == 0 && rename(tmp, output) < 0) {
                        _cleanup_free_ char *why = go_errno(errno);
                        fprintf(ctx->err, "rename %s %s: %s\n", tmp, output, why);
                        code = 1;
                }
                if (code != 0)
                        (void)unlink(tmp);
        }
        buf_release(&k.error_body);
        return code;
}

static int run_diff(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *name = fs->args[0];
        if (!*name) {
                fprintf(ctx->err, "Container name cannot be empty\n");
                return 1;
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_free_ char *path = container_path(name, "/changes");
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_request(c, "GET", path, NULL, NULL, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status / 100 != 2) {
                int code = cli_daemon_error(ctx, &resp);
                cli_response_release(&resp);
                return code;
        }
        _cleanup_json_ struct json *list = NULL;
        int code = 0;
        if (json_parse(resp.body, resp.len, &list, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                code = 1;
        }
        size_t i;
        const struct json *it;
        json_array_foreach (list, i, it) {
                const struct json *kind = json_get(it, "Kind");
                int64_t k = json_is(kind, JSON_NUMBER) ? kind->num.i : -1;
                fprintf(ctx->out, "%s %s\n",
                        k == 0   ? "C"
                        : k == 1 ? "A"
                        : k == 2 ? "D"
                                 : "",
                        json_str(json_get(it, "Path")) ?: "");
        }
        cli_response_release(&resp);
        return code;
}

static const struct cli_flag export_flags[] = {
    {"output", 'o', CLI_FLAG_STRING, "Write to a file, instead of STDOUT", NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_export = {
    .name = "export",
    .usage = "[OPTIONS] CONTAINER",
    .summary = "Export a container's filesystem as a tar archive",
    .group = CLI_GROUP_OTHER,
    .flags = export_flags,
    .n_flags = ELEMENTSOF(export_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 1,
    .aliases = "container export, export",
    .run = run_export,
};

const struct cli_command cli_cmd_diff = {
    .name = "diff",
    .usage = "CONTAINER",
    .summary = "Inspect changes to files or directories on a container's filesystem",
    .group = CLI_GROUP_OTHER,
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 1,
    .aliases = "container diff, diff",
    .run = run_diff,
};
