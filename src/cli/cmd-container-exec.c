/*
 * cmd-container-exec.c — `berth exec` as docker's CLI 28 runs it: inspect the
 * container, POST /containers/{id}/exec with docker's ExecOptions body, then
 * either POST /exec/{id}/start {"Detach":true} (-d, nothing printed) or the
 * same start hijacked, the window size sent at once and on SIGWINCH through
 * /exec/{id}/resize, the streams until the output ends, and the exit code read
 * from GET /exec/{id}/json.
 *
 * Exec does not proxy signals (docker's does not either); Ctrl-C reaches the
 * process through the TTY, or ends berth when there is none.
 *
 * Never: send ConsoleSize below API 1.42 (docker's client drops it there).
 */
#include <string.h>
#include <unistd.h>

#include "api/http.h"
#include "container-cmd.h"
#include "container-opts.h"

static char *check_env(const char *v)
{
        return strchr(v, '=') == v || !*v ? xasprintf("invalid environment variable: %s", v) : NULL;
}

static struct json *exec_body(const struct cli_flagset *fs, struct berth_error **err)
{
        bool detach = cli_flag_bool(fs, "detach");
        struct json *b = json_new_object();
        const char *s;
        json_set_str(b, "User", (s = cli_flag_string(fs, "user")) ? s : "");
        json_set_bool(b, "Privileged", cli_flag_bool(fs, "privileged"));
        json_set_bool(b, "Tty", cli_flag_bool(fs, "tty"));
        json_set_bool(b, "AttachStdin", !detach && cli_flag_bool(fs, "interactive"));
        json_set_bool(b, "AttachStderr", !detach);
        json_set_bool(b, "AttachStdout", !detach);
        json_set_bool(b, "Detach", detach);
        json_set_str(b, "DetachKeys", "");
        /* env files first, then -e (a bare KEY takes the client's value) */
        char **env = NULL;
        char **files = cli_flag_list(fs, "env-file");
        for (size_t i = 0; files && files[i]; i++) {
                if (container_read_kv_file(files[i], true, &env, err) < 0) {
                        strv_free(env);
                        json_free(b);
                        return NULL;
                }
        }
        char **e = cli_flag_list(fs, "env");
        for (size_t i = 0; e && e[i]; i++) {
                const char *val = strchr(e[i], '=') ? NULL : getenv(e[i]);
                _cleanup_free_ char *v = val ? xasprintf("%s=%s", e[i], val) : xstrdup(e[i]);
                size_t n = 0;
                while (env && env[n])
                        n++;
                env = xrealloc(env, (n + 2) * sizeof(char *));
                env[n] = TAKE_PTR(v);
                env[n + 1] = NULL;
        }
        if (env) {
                struct json *a = json_object_set(b, "Env", json_new_array());
                for (size_t i = 0; env[i]; i++)
                        json_array_append(a, json_new_string(env[i]));
                strv_free(env);
        } else {
                json_object_set(b, "Env", json_new_null());
        }
        json_set_str(b, "WorkingDir", (s = cli_flag_string(fs, "workdir")) ? s : "");
        struct json *cmd = json_object_set(b, "Cmd", json_new_array());
        for (size_t i = 1; i < fs->n_args; i++)
                json_array_append(cmd, json_new_string(fs->args[i]));
        return b;
}

static int exec_start(struct cli_ctx *ctx, struct cli_client *c, const char *exec_id, bool tty,
                      bool detach, struct container_session *cs, struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("/exec/%s/start", exec_id);
        _cleanup_json_ struct json *body = json_new_object();
        json_set_bool(body, "Detach", detach);
        json_set_bool(body, "Tty", tty);
        _cleanup_free_ char *text = json_dump(body, 0);
        _cleanup_free_ char *line = xasprintf("%s\n", text);
        if (detach) {
                struct cli_response resp;
                int r = cli_client_request(c, "POST", path, NULL, "application/json", line,
                                           strlen(line), &resp, err);
                if (r < 0)
                        return r;
                if (resp.status / 100 != 2) {
                        _cleanup_free_ char *m = container_daemon_error(&resp);
                        cli_response_release(&resp);
                        return berth_error_set(err, EIO, "%s", m);
                }
                cli_response_release(&resp);
                return 0;
        }
        struct cli_response resp;
        int fd = -EBADF;
        int r = cli_client_hijack(c, path, NULL, "application/json", line, strlen(line), &fd,
                                  &cs->s.early, &resp, err);
        if (r < 0)
                return r;
        if (fd < 0) {
                r = berth_error_set(err, EIO, "unable to upgrade to tcp, received %d", resp.status);
                cli_response_release(&resp);
                return r;
        }
        cs->s.conn = fd;
        return 0;
}

/* GET /exec/{id}/json: the exit code, as docker's getExecExitStatus. */
static int exec_exit_code(struct cli_ctx *ctx, struct cli_client *c, const char *exec_id)
{
        _cleanup_free_ char *path = xasprintf("/exec/%s/json", exec_id);
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_request(c, "GET", path, NULL, NULL, NULL, 0, &resp, &err) < 0)
                return -1; /* the connection failed: docker's StatusError{-1} */
        if (resp.status != 200) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        _cleanup_json_ struct json *j = NULL;
        int code = 0;
        if (json_parse(resp.body, resp.len, &j, NULL) == 0) {
                const struct json *ec = json_get(j, "ExitCode");
                if (json_is(ec, JSON_NUMBER))
                        code = (int)ec->num.i;
        }
        cli_response_release(&resp);
        return code;
}

static int run_exec(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *body = exec_body(fs, &err);
        if (!body) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        const char *name = fs->args[0];
        _cleanup_json_ struct json *info = NULL;
        if (container_inspect(c, name, &info, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        bool detach = cli_flag_bool(fs, "detach"), tty = cli_flag_bool(fs, "tty");
        bool in = !detach && cli_flag_bool(fs, "interactive");
        if (!detach && !container_check_tty(ctx, in, tty))
                return 1;
        _cleanup_free_ char *spec = NULL;
        struct attach_keys keys;
        container_detach_keys(ctx, cli_flag_string(fs, "detach-keys"), &keys, &spec);
        if (spec)
                json_set_str(body, "DetachKeys", spec);
        if (tty && api_version_compare(c->api_version, "1.42") >= 0) {
                unsigned h = 0, w = 0;
                (void)attach_term_size(fileno(ctx->out), &h, &w);
                struct json *cs = json_new_array();
                json_array_append(cs, json_new_int(h));
                json_array_append(cs, json_new_int(w));
                json_object_set(body, "ConsoleSize", cs);
        }
        _cleanup_free_ char *path = container_path(name, "/exec");
        struct cli_response resp;
        if (container_request(c, "POST", path, NULL, body, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status / 100 != 2) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        _cleanup_json_ struct json *created = NULL;
        (void)json_parse(resp.body, resp.len, &created, NULL);
        cli_response_release(&resp);
        const char *exec_id = json_str(json_get(created, "Id"));
        if (!exec_id || !*exec_id) {
                fprintf(ctx->err, "exec ID empty\n");
                return 1;
        }
        struct container_session cs = {.ctx = ctx, .client = c, .id = exec_id, .exec = true};
        attach_session_init(&cs.s);
        cs.s.detach_keys = keys;
        int code = 1;
        if (exec_start(ctx, c, exec_id, tty, detach, &cs, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                goto out;
        }
        if (detach) {
                code = 0;
                goto out;
        }
        fflush(ctx->out);
        fflush(ctx->err);
        cs.s.tty = tty;
        cs.s.in_fd = in ? STDIN_FILENO : -1;
        cs.s.out_fd = fileno(ctx->out);
        cs.s.err_fd = tty ? fileno(ctx->out) : ctx->err_fd;
        if (tty)
                (void)container_session_signals(&cs, true);
        if (tty && isatty(STDIN_FILENO)) {
                container_session_resize(&cs, false);
                cs.winch_resize = true;
        }
        int r = attach_session_run(&cs.s, &err);
        int forced = container_session_exit_code(&cs);
        if (forced >= 0) {
                code = forced;
        } else if (cs.s.detached) {
                fprintf(ctx->err, "read escape sequence\n");
        } else if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
        } else {
                code = exec_exit_code(ctx, c, exec_id);
        }
out:
        container_session_release(&cs);
        return code;
}

static const struct cli_flag exec_flags[] = {
    {"detach", 'd', CLI_FLAG_BOOL, "Detached mode: run command in the background", NULL, NULL,
     false, NULL},
    {"detach-keys", 0, CLI_FLAG_STRING, "Override the key sequence for detaching a container", NULL,
     NULL, false, NULL},
    {"env", 'e', CLI_FLAG_LIST, "Set environment variables", NULL, "list", false, check_env},
    {"env-file", 0, CLI_FLAG_LIST, "Read in a file of environment variables", NULL, "list", false,
     NULL},
    {"interactive", 'i', CLI_FLAG_BOOL, "Keep STDIN open even if not attached", NULL, NULL, false,
     NULL},
    {"privileged", 0, CLI_FLAG_BOOL, "Give extended privileges to the command", NULL, NULL, false,
     NULL},
    {"tty", 't', CLI_FLAG_BOOL, "Allocate a pseudo-TTY", NULL, NULL, false, NULL},
    {"user", 'u', CLI_FLAG_STRING, "Username or UID (format: \"<name|uid>[:<group|gid>]\")", NULL,
     NULL, false, NULL},
    {"workdir", 'w', CLI_FLAG_STRING, "Working directory inside the container", NULL, NULL, false,
     NULL},
};

const struct cli_command cli_cmd_exec = {
    .name = "exec",
    .usage = "[OPTIONS] CONTAINER COMMAND [ARG...]",
    .summary = "Execute a command in a running container",
    .group = CLI_GROUP_COMMON,
    .flags = exec_flags,
    .n_flags = ELEMENTSOF(exec_flags),
    .mode = CLI_PARSE_STOP_AT_ARG,
    .min_args = 2,
    .max_args = -1,
    .aliases = "container exec, exec",
    .run = run_exec,
};
