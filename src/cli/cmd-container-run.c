/*
 * cmd-container-run.c — `berth run`, `create`, `start` and `attach`, in the
 * order of calls docker's CLI 28 makes (../shared/reference/docker-api-notes.md):
 *
 *   run:  create (on 404 "No such image": "Unable to find image 'X' locally" on
 *         stderr, pull with the progress on stderr, create again), attach
 *         (hijacked, before start), wait?condition=next-exit|removed (its head
 *         read before start), start, resize (TTY), then the streams until the
 *         output ends and the wait body says the status, which is the exit code.
 *   create: the same create, then the ID on stdout.
 *   start: without -a/-i each container in turn (name on stdout, errors on
 *         stderr, "Error: failed to start containers: a, b" at the end); with
 *         them the run sequence from attach on, for one container.
 *   attach: wait (no condition), inspect (must be running), hijack, resize to
 *         h+1,w+1 then h,w, streams, the wait's status.
 *
 * Exit codes as docker's: 125 for a run whose create or start the daemon
 * refuses (126 when the message says permission denied / is a directory, 127
 * when it says not found / no such file), printed "berth: Error response from
 * daemon: …" with the help hint; otherwise the container's status.
 *
 * Never: leave the terminal raw, or start a container before its attach and
 * wait are in place.
 */
#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "base/fileio.h"
#include "container-cmd.h"
#include "container-opts.h"
#include "credentials.h"
#include "image/reference.h"
#include "progress.h"

/* ---- shared helpers (container-cmd.h) ---- */

struct cli_client *container_client(struct cli_ctx *ctx)
{
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_connect(c, NULL, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return NULL;
        }
        return c;
}

/* Go's path.Clean: docker's client joins its paths with path.Join, so "/containers//x/json"
 * (a name given with its slash) is "/containers/x/json" and ".." climbs. */
static char *go_path_clean(const char *p)
{
        size_t n = strlen(p);
        char *out = xmalloc(n + 2);
        size_t w = 0;
        out[w++] = '/';
        for (size_t r = 0; r < n;) {
                if (p[r] == '/') {
                        r++;
                } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
                        r++;
                } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
                        r += 2;
                        if (w > 1) {
                                w--;
                                while (w > 1 && out[w - 1] != '/')
                                        w--;
                                if (w > 1)
                                        w--;
                        }
                } else {
                        if (w > 1)
                                out[w++] = '/';
                        while (r < n && p[r] != '/')
                                out[w++] = p[r++];
                }
        }
        out[w] = '\0';
        return out;
}

char *container_path(const char *name, const char *suffix)
{
        return container_api_path("/containers/", name, suffix);
}

char *container_api_path(const char *prefix, const char *name, const char *suffix)
{
        _cleanup_free_ char *raw = xasprintf("%s%s%s", prefix, name, suffix);
        _cleanup_free_ char *clean = go_path_clean(raw);
        struct berth_buf b = BERTH_BUF_INIT;
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *p = (const unsigned char *)clean; *p; p++) {
                /* what Go's url.URL keeps raw in a path */
                if (isalnum(*p) || strchr("-._~$&+,/:;=@", *p)) {
                        buf_putc(&b, (char)*p);
                } else {
                        buf_putc(&b, '%');
                        buf_putc(&b, hex[*p >> 4]);
                        buf_putc(&b, hex[*p & 15]);
                }
        }
        return buf_steal(&b);
}

void container_query_sep(struct berth_buf *q)
{
        if (q->len)
                buf_putc(q, '&');
}

int container_request(struct cli_client *c, const char *method, const char *path, const char *query,
                      const struct json *body, struct cli_response *ret, struct berth_error **err)
{
        _cleanup_free_ char *text = body ? json_dump(body, 0) : NULL;
        _cleanup_free_ char *line = text ? xasprintf("%s\n", text) : NULL;
        return cli_client_request(c, method, path, query, line ? "application/json" : NULL, line,
                                  line ? strlen(line) : 0, ret, err);
}

char *container_daemon_error(const struct cli_response *r)
{
        _cleanup_free_ char *m = cli_error_message(r);
        return xasprintf("Error response from daemon: %s", m);
}

int container_inspect(struct cli_client *c, const char *name, struct json **ret,
                      struct berth_error **err)
{
        _cleanup_free_ char *path = container_path(name, "/json");
        struct cli_response resp;
        int r = container_request(c, "GET", path, NULL, NULL, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 200) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                cli_response_release(&resp);
                return berth_error_set(err, ENOENT, "%s", m);
        }
        r = json_parse(resp.body, resp.len, ret, err);
        cli_response_release(&resp);
        return r;
}

bool container_check_tty(struct cli_ctx *ctx, bool attach_stdin, bool tty)
{
        if (tty && attach_stdin && !isatty(STDIN_FILENO)) {
                fprintf(ctx->err, "the input device is not a TTY\n");
                return false;
        }
        return true;
}

/* logrus's line for a warning, as docker's CLI prints it on stderr. */
static void logrus_line(struct cli_ctx *ctx, const char *level, const char *msg)
{
        if (isatty(ctx->err_fd)) {
                char lv[5];
                for (int i = 0; i < 4; i++)
                        lv[i] = (char)toupper((unsigned char)level[i]);
                lv[4] = '\0';
                fprintf(ctx->err, "%s[0000] %s\n", lv, msg);
                return;
        }
        char stamp[64];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm);
        /* %z is +0100; Go writes +01:00 */
        size_t l = strlen(stamp);
        if (l > 4 && (stamp[l - 5] == '+' || stamp[l - 5] == '-')) {
                memmove(stamp + l - 1, stamp + l - 2, 3);
                stamp[l - 2] = ':';
        }
        fprintf(ctx->err, "time=\"%s\" level=%s msg=\"%s\"\n", stamp, level, msg);
}

void container_detach_keys(struct cli_ctx *ctx, const char *flag, struct attach_keys *ret,
                           char **ret_spec)
{
        _cleanup_free_ char *cfg = NULL;
        const char *spec = flag && *flag ? flag : (cfg = container_config_key("detachKeys"));
        attach_keys_default(ret);
        if (ret_spec)
                *ret_spec = spec ? xstrdup(spec) : NULL;
        if (!spec)
                return;
        _cleanup_error_ struct berth_error *err = NULL;
        if (attach_keys_parse(spec, ret, &err) < 0) {
                attach_keys_default(ret);
                _cleanup_free_ char *m = xasprintf("invalid detach escape keys, using default: %s",
                                                   berth_error_msg(err));
                logrus_line(ctx, "warning", m);
        }
}

/* ---- signals and window size ---- */

static void post_quietly(struct cli_client *c, const char *path, const char *query)
{
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_request(c, "POST", path, query, NULL, NULL, 0, &resp, &err) == 0)
                cli_response_release(&resp);
}

static int resize_to(struct container_session *cs, unsigned h, unsigned w)
{
        if (h == 0 && w == 0)
                return 0;
        _cleanup_free_ char *path =
            cs->exec ? xasprintf("/exec/%s/resize", cs->id) : container_path(cs->id, "/resize");
        _cleanup_free_ char *q = xasprintf("h=%u&w=%u", h, w);
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = cli_client_request(cs->client, "POST", path, q, NULL, NULL, 0, &resp, &err);
        if (r < 0)
                return r;
        r = resp.status / 100 == 2 ? 0 : -EIO;
        cli_response_release(&resp);
        return r;
}

void container_session_resize(struct container_session *cs, bool plus_one)
{
        unsigned h = 0, w = 0;
        if (!attach_term_size(fileno(cs->ctx->out), &h, &w))
                return;
        if (plus_one) {
                (void)resize_to(cs, h + 1, w + 1);
                if (!attach_term_size(fileno(cs->ctx->out), &h, &w))
                        return;
        }
        if (resize_to(cs, h, w) == 0)
                return;
        /* docker's initTtySize: ten more tries, 10 ms apart and growing */
        for (int retry = 0; retry < 10; retry++) {
                struct timespec ts = {0, (retry + 1) * 10 * 1000 * 1000L};
                nanosleep(&ts, NULL);
                if (resize_to(cs, h, w) == 0)
                        return;
        }
        fprintf(cs->ctx->err, "failed to resize tty, using default size\n");
}

static void on_signal(int sig, void *userdata)
{
        struct container_session *cs = userdata;
        if (sig == SIGWINCH && cs->winch_resize) {
                unsigned h, w;
                if (attach_term_size(fileno(cs->ctx->out), &h, &w))
                        (void)resize_to(cs, h, w);
        }
        if (!cs->proxy)
                return;
        const char *name = attach_signal_name(sig);
        if (!name || sig == SIGCHLD || sig == SIGPIPE || sig == SIGURG)
                return;
        _cleanup_free_ char *path = container_path(cs->id, "/kill");
        _cleanup_free_ char *q = xasprintf("signal=%s", name);
        post_quietly(cs->client, path, q);
}

static sigset_t saved_mask;

int container_session_signals(struct container_session *cs, bool tty)
{
        cs->s.on_signal = on_signal;
        cs->s.userdata = cs;
        int fd = attach_signals_open(cs->proxy, tty, &saved_mask);
        cs->s.sigfd = fd < 0 ? -1 : fd;
        return fd < 0 ? fd : 0;
}

void container_session_release(struct container_session *cs)
{
        if (cs->s.sigfd >= 0)
                attach_signals_close(cs->s.sigfd, &saved_mask);
        cs->s.sigfd = -1;
        cli_stream_free(cs->s.wait);
        cs->s.wait = NULL;
        attach_session_release(&cs->s);
}

int container_session_exit_code(struct container_session *cs)
{
        if (cs->s.forced_exit) {
                attach_term_restore();
                fprintf(cs->ctx->err, "\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n");
                return 1;
        }
        if (cs->s.interrupted) {
                fputc('\n', cs->ctx->out);
                return 1;
        }
        return -1;
}

/* ---- create ---- */

/* docker's toStatusError: 127 not found, 126 cannot execute, else 125; "berth: <msg>" + hint. */
static int status_error(struct cli_ctx *ctx, const char *cmd, const char *msg)
{
        int code = 125;
        if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory") ||
            strstr(msg, "system cannot find the file specified"))
                code = 127;
        else if (strstr(msg, "permission denied") || strstr(msg, "is a directory"))
                code = 126;
        fprintf(ctx->err, "berth: %s\n\nRun 'berth %s --help' for more information\n", msg, cmd);
        return code;
}

static int usage_like_error(struct cli_ctx *ctx, const char *cmd, const char *msg)
{
        fprintf(ctx->err, "berth: %s\n\nRun 'berth %s --help' for more information\n", msg, cmd);
        return 125;
}

struct pull_sink {
        struct progress *p;
        FILE *out;
        bool quiet;
        int status;
        struct berth_buf error_body;
        struct berth_error *stream_err;
};

static int pull_chunk(const char *data, size_t len, void *userdata)
{
        struct pull_sink *ps = userdata;
        if (ps->status != 200) {
                buf_append(&ps->error_body, data, len);
                return 0;
        }
        struct berth_buf out = BERTH_BUF_INIT;
        int r = progress_feed(ps->p, data, len, &out, &ps->stream_err);
        if (!ps->quiet && out.len) {
                fwrite(out.data, 1, out.len, ps->out);
                fflush(ps->out);
        }
        buf_release(&out);
        return r;
}

/* docker's pullImage for run/create: ImageCreate, the JSON stream shown on stderr. */
static int pull_image(struct cli_ctx *ctx, struct cli_client *c, const struct image_ref *ref,
                      const char *platform, bool quiet, struct berth_error **err)
{
        _cleanup_free_ char *name = image_ref_name(ref);
        struct berth_buf q = BERTH_BUF_INIT;
        buf_puts(&q, "fromImage=");
        http_escape_query(&q, name);
        if (platform && *platform) {
                _cleanup_free_ char *lower = xstrdup(platform);
                for (char *p = lower; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                buf_puts(&q, "&platform=");
                http_escape_query(&q, lower);
        }
        buf_puts(&q, "&tag=");
        http_escape_query(&q, ref->digest ? ref->digest : ref->tag ? ref->tag : "latest");
        _cleanup_free_ char *key = cli_credentials_key(ref->domain);
        _cleanup_free_ char *auth = cli_credentials_registry_auth(key);
        c->registry_auth = auth ? auth : "e30=";
        struct pull_sink ps = {.out = ctx->err, .quiet = quiet};
        ps.p = progress_new(isatty(ctx->err_fd) && !quiet,
                            progress_terminal_width(ctx->err_fd));
        int r = cli_client_stream(c, "POST", "/images/create", q.data, NULL, NULL, 0, &ps.status,
                                  pull_chunk, &ps, err);
        c->registry_auth = NULL;
        buf_release(&q);
        if (r < 0 && ps.stream_err) {
                berth_error_freep(err);
                r = berth_error_set(err, EIO, "%s", berth_error_msg(ps.stream_err));
        } else if (r == 0 && ps.status != 200) {
                struct cli_response resp = {
                    .status = ps.status, .body = ps.error_body.data, .len = ps.error_body.len};
                _cleanup_free_ char *m = container_daemon_error(&resp);
                r = berth_error_set(err, EIO, "%s", m);
        } else if (r == 0) {
                struct berth_buf out = BERTH_BUF_INIT;
                if (progress_finish(ps.p, &out, &ps.stream_err) < 0)
                        r = berth_error_set(err, EIO, "%s", berth_error_msg(ps.stream_err));
                else if (!quiet && out.len)
                        fwrite(out.data, 1, out.len, ctx->err);
                buf_release(&out);
        }
        fflush(ctx->err);
        berth_error_free(ps.stream_err);
        buf_release(&ps.error_body);
        progress_free(ps.p);
        return r;
}

struct create_opts {
        const char *name;
        const char *platform;
        const char *pull; /* always | missing | never */
        bool quiet;
};

static int post_create(struct cli_client *c, const struct container_config *cfg,
                       const struct create_opts *o, const char *platform_q,
                       struct cli_response *resp, struct berth_error **err)
{
        struct berth_buf q = BERTH_BUF_INIT;
        if (o->name && *o->name) {
                buf_puts(&q, "name=");
                http_escape_query(&q, o->name);
        }
        if (platform_q) {
                container_query_sep(&q);
                buf_puts(&q, "platform=");
                http_escape_query(&q, platform_q);
        }
        int r = container_request(c, "POST", "/containers/create", q.data, cfg->body, resp, err);
        buf_release(&q);
        return r;
}

/* containerd's platforms.Parse and the client's formatPlatform: "os/arch[/variant]". */
static int platform_query(const char *spec, char **ret, struct berth_error **err)
{
        static const char *const oses[] = {"aix",    "android", "darwin",  "dragonfly", "freebsd",
                                           "hurd",   "illumos", "ios",     "js",        "linux",
                                           "nacl",   "netbsd",  "openbsd", "plan9",     "solaris",
                                           "wasip1", "windows", "zos"};
        static const char *const arches[] = {
            "386",     "amd64",    "amd64p32",  "arm",         "armbe",   "arm64",
            "arm64be", "ppc64",    "ppc64le",   "loong64",     "mips",    "mipsle",
            "mips64",  "mips64le", "mips64p32", "mips64p32le", "ppc",     "riscv",
            "riscv64", "s390",     "s390x",     "sparc",       "sparc64", "wasm"};
        _cleanup_free_ char *copy = xstrdup(spec);
        char *part[4] = {NULL};
        int n = 0;
        for (char *p = copy;; n++) {
                if (n == 3)
                        return berth_error_set(err, EINVAL,
                                               "error parsing specified platform: \"%s\": cannot "
                                               "parse platform specifier: invalid argument",
                                               spec);
                part[n] = p;
                char *slash = strchr(p, '/');
                if (!slash)
                        break;
                *slash = '\0';
                p = slash + 1;
        }
        n++;
        for (int i = 0; i < n; i++) {
                bool ok = *part[i] != '\0';
                char *c = part[i];
                for (; *c && *c != '('; c++)
                        ok &= isalnum((unsigned char)*c) || *c == '_' || *c == '-' ||
                              (i > 0 && *c == '.');
                if (*c == '(' && i == 0) {
                        /* "os(version)": the version is not part of what is sent */
                        char *close = strchr(c, ')');
                        ok &= c != part[i] && close && !close[1];
                        *c = '\0';
                } else if (*c) {
                        ok = false;
                }
                if (!ok && i == 0)
                        return berth_error_set(
                            err, EINVAL,
                            "error parsing specified platform: \"%s\" is an invalid OS component "
                            "of \"%s\": OSAndVersion specifier component must match "
                            "\"^([A-Za-z0-9_-]+)(?:\\\\(([A-Za-z0-9_.-]*)\\\\))?$\": invalid "
                            "argument",
                            part[i], spec);
                if (!ok)
                        return berth_error_set(
                            err, EINVAL,
                            "error parsing specified platform: \"%s\" is an invalid component of "
                            "\"%s\": platform specifier component must match "
                            "\"^[A-Za-z0-9_.-]+$\": invalid argument",
                            part[i], spec);
                for (char *l = part[i]; *l; l++)
                        *l = (char)tolower((unsigned char)*l);
        }
        const char *os = NULL, *arch = NULL, *variant = n == 3 ? part[2] : "";
        if (n == 1) {
                for (size_t i = 0; i < ELEMENTSOF(oses); i++)
                        if (strcmp(part[0], oses[i]) == 0 || strcmp(part[0], "macos") == 0)
                                os = strcmp(part[0], "macos") == 0 ? "darwin" : part[0];
                if (os) {
                        *ret = xasprintf("%s/amd64", os);
                        return 0;
                }
                arch = part[0];
        } else {
                os = strcmp(part[0], "macos") == 0 ? "darwin" : part[0];
                arch = part[1];
        }
        /* normalizeArch */
        if (strcmp(arch, "i386") == 0) {
                arch = "386";
                variant = "";
        } else if (!strcmp(arch, "x86_64") || !strcmp(arch, "x86-64") || !strcmp(arch, "amd64")) {
                arch = "amd64";
                if (!strcmp(variant, "v1"))
                        variant = "";
        } else if (!strcmp(arch, "aarch64") || !strcmp(arch, "arm64")) {
                arch = "arm64";
                if (!strcmp(variant, "8") || !strcmp(variant, "v8") || !strcmp(variant, "v8.0"))
                        variant = n == 3 ? "v8" : "";
        } else if (!strcmp(arch, "armhf")) {
                arch = "arm";
                variant = "";
        } else if (!strcmp(arch, "armel")) {
                arch = "arm";
                variant = "v6";
        } else if (!strcmp(arch, "arm")) {
                if (!*variant || !strcmp(variant, "7") || !strcmp(variant, "v7"))
                        variant = n == 3 ? "v7" : "";
                else if (strlen(variant) == 1 && strchr("568", *variant))
                        variant = *variant == '5' ? "v5" : *variant == '6' ? "v6" : "v8";
        }
        if (n == 3 && !strcmp(arch, "arm64") && !*variant)
                variant = "v8";
        if (n == 1) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(arches); i++)
                        known |= strcmp(arch, arches[i]) == 0;
                if (!known)
                        return berth_error_set(err, EINVAL,
                                               "error parsing specified platform: \"%s\": "
                                               "unknown operating system or architecture: invalid "
                                               "argument",
                                               spec);
                os = "linux";
        }
        *ret = *variant ? xasprintf("%s/%s/%s", os, arch, variant) : xasprintf("%s/%s", os, arch);
        return 0;
}

/* Checks docker's client makes against the negotiated API version. */
static int api_checks(struct cli_client *c, const struct container_config *cfg,
                      struct berth_error **err)
{
        const char *v = c->api_version;
        const struct json *health = json_get(cfg->body, "Healthcheck");
        if (api_version_compare(v, "1.44") < 0 && json_get(health, "StartInterval"))
                return berth_error_set(err, EINVAL,
                                       "\"specify health-check start interval\" requires API "
                                       "version 1.44, but the Docker daemon API version is %s",
                                       v);
        const struct json *eps =
            json_get(json_get(cfg->body, "NetworkingConfig"), "EndpointsConfig");
        for (size_t i = 0; eps && i < eps->obj.n; i++) {
                const char *mac = json_str(json_get(eps->obj.m[i].value, "MacAddress"));
                if (mac && *mac && api_version_compare(v, "1.44") < 0)
                        return berth_error_set(err, EINVAL,
                                               "\"specify mac-address per network\" requires API "
                                               "version 1.44, but the Docker daemon API version "
                                               "is %s",
                                               v);
        }
        const struct json *mounts = json_get(json_get(cfg->body, "HostConfig"), "Mounts");
        for (size_t i = 0; mounts && i < json_len(mounts); i++) {
                const struct json *b = json_get(mounts->arr.items[i], "BindOptions");
                const struct json *f = json_get(b, "ReadOnlyForceRecursive");
                if (f && f->b && api_version_compare(v, "1.44") < 0)
                        return berth_error_set(err, EINVAL,
                                               "bind-recursive=readonly requires API v1.44 or "
                                               "later");
        }
        return 0;
}

/* ---- --use-api-socket ---- */

#define API_SOCKET_CONFIG "/run/secrets/docker/config.json"

/* The registry credentials to hand to the container: $DOCKER_AUTH_CONFIG's "auths", else
 * those of our config file, as docker's SaveToWriter writes them (auth and identitytoken). */
static char *api_socket_credentials(void)
{
        _cleanup_json_ struct json *src = NULL;
        const char *env = getenv("DOCKER_AUTH_CONFIG");
        if (env && *env)
                (void)json_parse(env, strlen(env), &src, NULL);
        if (!json_len(json_get(src, "auths"))) {
                json_free(TAKE_PTR(src));
                _cleanup_free_ char *path = cli_credentials_path();
                if (access(path, F_OK) == 0)
                        (void)json_parse_file(path, 16 << 20, &src, NULL);
        }
        const struct json *auths = json_get(src, "auths");
        if (!json_is(auths, JSON_OBJECT) || !json_len(auths))
                return NULL;
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "{\n\t\"auths\": {");
        for (size_t i = 0; i < auths->obj.n; i++) {
                const struct json *a = auths->obj.m[i].value;
                buf_puts(&b, i ? ",\n\t\t" : "\n\t\t");
                json_quote(&b, auths->obj.m[i].key, strlen(auths->obj.m[i].key), 0);
                buf_puts(&b, ": {");
                static const char *const fields[] = {"auth", "identitytoken"};
                bool first = true;
                for (size_t k = 0; k < ELEMENTSOF(fields); k++) {
                        const char *v = json_str(json_get(a, fields[k]));
                        if (!v || !*v)
                                continue;
                        buf_printf(&b, "%s\n\t\t\t\"%s\": ", first ? "" : ",", fields[k]);
                        json_quote(&b, v, strlen(v), 0);
                        first = false;
                }
                buf_puts(&b, first ? "}" : "\n\t\t}");
        }
        buf_puts(&b, "\n\t}\n}");
        return buf_steal(&b);
}

/* The socket bind mount, and DOCKER_CONFIG when credentials will be copied in. */
static void api_socket_prepare(struct cli_client *c, struct container_config *cfg,
                               bool with_credentials)
{
        struct json *hc = json_get(cfg->body, "HostConfig");
        struct json *mounts = json_get(hc, "Mounts");
        if (!mounts) {
                /* Mounts sits between the resources and MaskedPaths in docker's struct */
                struct json *copy = json_new_object();
                for (size_t i = 0; i < hc->obj.n; i++) {
                        if (strcmp(hc->obj.m[i].key, "MaskedPaths") == 0)
                                mounts = json_object_set(copy, "Mounts", json_new_array());
                        json_object_set(copy, hc->obj.m[i].key, json_copy(hc->obj.m[i].value));
                }
                json_object_set(cfg->body, "HostConfig", copy);
        }
        struct json *m = json_array_append(mounts, json_new_object());
        json_set_str(m, "Type", "bind");
        json_set_str(m, "Source", c->socket_path);
        json_set_str(m, "Target", "/var/run/docker.sock");
        json_object_set(m, "BindOptions", json_new_object());
        if (!with_credentials)
                return;
        struct json *env = json_get(cfg->body, "Env");
        for (size_t i = 0; json_is(env, JSON_ARRAY) && i < json_len(env); i++) {
                const char *e = json_str(env->arr.items[i]);
                if (e && strncmp(e, "DOCKER_CONFIG=", 14) == 0)
                        return;
        }
        if (!json_is(env, JSON_ARRAY))
                env = json_object_set(cfg->body, "Env", json_new_array());
        json_array_append(env, json_new_string("DOCKER_CONFIG=/run/secrets/docker"));
}

/* A one-file ustar archive of the credentials, PUT at the container's /. */
static int api_socket_copy(struct cli_client *c, const char *id, const char *config,
                           struct berth_error **err)
{
        size_t len = strlen(config);
        size_t total = 512 + (len + 511) / 512 * 512 + 1024;
        char *tar = xcalloc(1, total);
        snprintf(tar, 100, "%s", API_SOCKET_CONFIG);
        snprintf(tar + 100, 8, "%07o", 0600);
        snprintf(tar + 108, 8, "%07o", 0);
        snprintf(tar + 116, 8, "%07o", 0);
        snprintf(tar + 124, 12, "%011o", (unsigned)(len & 07777777777));
        snprintf(tar + 136, 12, "%011o", 0);
        tar[156] = '0';
        memcpy(tar + 257, "ustar", 6);
        memcpy(tar + 263, "00", 2);
        memset(tar + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)tar[i];
        snprintf(tar + 148, 8, "%06o", sum);
        memcpy(tar + 512, config, len);
        _cleanup_free_ char *path = container_path(id, "/archive");
        struct cli_response resp;
        int r = cli_client_request(c, "PUT", path, "path=%2F", "application/x-tar", tar, total,
                                   &resp, err);
        free(tar);
        if (r < 0)
                return berth_error_prefix(err, "injecting docker config.json into container "
                                               "failed: copying config.json into container "
                                               "failed");
        if (resp.status / 100 != 2) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                r = berth_error_set(err, EIO,
                                    "injecting docker config.json into container failed: copying "
                                    "config.json into container failed: %s",
                                    m);
        }
        cli_response_release(&resp);
        return r;
}

/*
 * docker's createContainer: cidfile, pull policy, create with the 404 -> pull -> create
 * dance, warnings.  0 and the id, or <0 with the error docker returns (its text in err).
 */
static int create_container(struct cli_ctx *ctx, struct cli_client *c, struct container_config *cfg,
                            const struct create_opts *o, char **ret_id, struct berth_error **err)
{
        int cid_fd = -EBADF;
        bool cid_written = false;
        int r = 0;
        _cleanup_free_ char *platform_q = NULL;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_json_ struct json *j = NULL;
        _cleanup_free_ char *creds = NULL;
        if (cfg->cidfile) {
                struct stat st;
                if (stat(cfg->cidfile, &st) == 0)
                        return berth_error_set(err, EEXIST,
                                               "container ID file found, make sure the other "
                                               "container isn't running or delete %s",
                                               cfg->cidfile);
                cid_fd = open(cfg->cidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
                if (cid_fd < 0)
                        return berth_error_set(err, errno,
                                               "failed to create the container ID file: open %s: "
                                               "%s",
                                               cfg->cidfile,
                                               errno == ENOENT ? "no such file or directory"
                                                               : strerror(errno));
        }
        /* reference.ParseAnyReference; a name gets ":latest" for the messages */
        bool is_id = strlen(cfg->image) == 64 && strspn(cfg->image, "0123456789abcdef") == 64;
        if (!is_id && strncmp(cfg->image, "sha256:", 7) != 0) {
                _cleanup_error_ struct berth_error *e = NULL;
                if (image_ref_parse_normalized(cfg->image, &ref, &e) < 0) {
                        r = berth_error_set(err, EINVAL, "%s", berth_error_msg(e));
                        goto out;
                }
                if (!ref->tag && !ref->digest)
                        ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
        }
        if (o->platform && *o->platform && (r = platform_query(o->platform, &platform_q, err)) < 0)
                goto out;
        if ((r = api_checks(c, cfg, err)) < 0)
                goto out;
        if (cfg->use_api_socket) {
                creds = api_socket_credentials();
                api_socket_prepare(c, cfg, creds != NULL);
        }
        if (ref && strcmp(o->pull, "always") == 0 &&
            (r = pull_image(ctx, c, ref, o->platform, o->quiet, err)) < 0)
                goto out;
        struct cli_response resp;
        if ((r = post_create(c, cfg, o, platform_q, &resp, err)) < 0)
                goto out;
        if (resp.status == 404 && ref && strcmp(o->pull, "missing") == 0) {
                cli_response_release(&resp);
                if (!o->quiet) {
                        _cleanup_free_ char *fam = image_ref_familiar(ref);
                        fprintf(ctx->err, "Unable to find image '%s' locally\n", fam);
                        fflush(ctx->err);
                }
                if ((r = pull_image(ctx, c, ref, o->platform, o->quiet, err)) < 0)
                        goto out;
                if ((r = post_create(c, cfg, o, platform_q, &resp, err)) < 0)
                        goto out;
        }
        if (resp.status != 201 && resp.status != 200) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                cli_response_release(&resp);
                r = berth_error_set(err, EIO, "%s", m);
                goto out;
        }
        if (json_parse(resp.body, resp.len, &j, NULL) < 0 || !json_str(json_get(j, "Id"))) {
                cli_response_release(&resp);
                r = berth_error_set(err, EPROTO, "unexpected reply to create from the daemon");
                goto out;
        }
        cli_response_release(&resp);
        const struct json *warnings = json_get(j, "Warnings");
        for (size_t i = 0; i < json_len(warnings); i++)
                if (json_str(warnings->arr.items[i]))
                        fprintf(ctx->err, "WARNING: %s\n", json_str(warnings->arr.items[i]));
        /* localhostDNSWarning */
        const struct json *dns = json_get(json_get(cfg->body, "HostConfig"), "Dns");
        for (size_t i = 0; i < json_len(dns); i++) {
                const char *d = json_str(dns->arr.items[i]);
                if (d && (strncmp(d, "127.", 4) == 0 || strcmp(d, "::1") == 0)) {
                        fprintf(ctx->err, "WARNING: Localhost DNS (%s) may fail in containers.\n",
                                d);
                        break;
                }
        }
        *ret_id = xstrdup(json_str(json_get(j, "Id")));
        if (cid_fd >= 0) {
                if (write_all(cid_fd, *ret_id, strlen(*ret_id)) < 0) {
                        r = berth_error_set(err, EIO,
                                            "failed to write the container ID to the file");
                        goto out;
                }
                cid_written = true;
        }
        if (creds && (r = api_socket_copy(c, *ret_id, creds, err)) < 0)
                goto out;
out:
        if (cid_fd >= 0) {
                close(cid_fd);
                if (!cid_written && unlink(cfg->cidfile) < 0)
                        fprintf(ctx->err, "failed to remove the CID file '%s': %s\n", cfg->cidfile,
                                strerror(errno));
        }
        return r;
}

static bool valid_pull(const char *p)
{
        return strcmp(p, "always") == 0 || strcmp(p, "missing") == 0 || strcmp(p, "never") == 0;
}

static int parse_for(struct cli_ctx *ctx, const struct cli_flagset *fs, const char *cmd,
                     struct container_config *cfg, struct create_opts *o)
{
        /* docker checks annotated flags first, asking the daemon only when one is used */
        _cleanup_error_ struct berth_error *ferr = NULL;
        if (container_flags_supported(fs, NULL, NULL) > 0) {
                struct cli_client *c = container_client(ctx);
                if (!c)
                        return 1;
                if (container_flags_supported(fs, c->api_version, &ferr) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(ferr));
                        return 1;
                }
        }
        o->name = cli_flag_string(fs, "name");
        o->platform = cli_flag_string(fs, "platform");
        /* docker's AddPlatformFlag: the flag's default is $DOCKER_DEFAULT_PLATFORM */
        if (!cli_flag_is_set(fs, "platform") && getenv("DOCKER_DEFAULT_PLATFORM"))
                o->platform = getenv("DOCKER_DEFAULT_PLATFORM");
        o->pull = cli_flag_string(fs, "pull");
        o->quiet = cli_flag_bool(fs, "quiet");
        if (!valid_pull(o->pull)) {
                _cleanup_free_ char *m = xasprintf("invalid pull option: '%s': must be one of "
                                                   "\"always\", \"missing\" or \"never\"",
                                                   o->pull);
                return usage_like_error(ctx, cmd, m);
        }
        unsigned rows = 0, cols = 0;
        if (!attach_term_size(fileno(ctx->out), &rows, &cols))
                rows = cols = 0;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_config_parse(fs, rows, cols, cfg, &err) < 0)
                return usage_like_error(ctx, cmd, berth_error_msg(err));
        return 0;
}

int container_cmd_create(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct container_config cfg;
        struct create_opts o;
        int code = parse_for(ctx, fs, "create", &cfg, &o);
        if (code)
                return code;
        struct cli_client *c = container_client(ctx);
        if (!c) {
                container_config_release(&cfg);
                return 1;
        }
        _cleanup_free_ char *id = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (create_container(ctx, c, &cfg, &o, &id, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                container_config_release(&cfg);
                return 1;
        }
        fprintf(ctx->out, "%s\n", id);
        container_config_release(&cfg);
        return 0;
}

/* ---- attach, wait, start ---- */

/* POST /containers/{id}/attach hijacked; <0 with docker's message. */
static int hijack_attach(struct container_session *cs, bool in, bool out, bool errs,
                         const char *detach_spec, struct berth_error **err)
{
        struct berth_buf q = BERTH_BUF_INIT;
        if (detach_spec) {
                buf_puts(&q, "detachKeys=");
                http_escape_query(&q, detach_spec);
                buf_putc(&q, '&');
        }
        if (errs)
                buf_puts(&q, "stderr=1&");
        if (in)
                buf_puts(&q, "stdin=1&");
        if (out)
                buf_puts(&q, "stdout=1&");
        buf_puts(&q, "stream=1");
        _cleanup_free_ char *path = container_path(cs->id, "/attach");
        struct cli_response resp;
        int fd = -EBADF;
        int r = cli_client_hijack(cs->client, path, q.data, "text/plain", NULL, 0, &fd,
                                  &cs->s.early, &resp, err);
        buf_release(&q);
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

/* POST /containers/{id}/wait, its head read; a refused wait is reported as docker does
 * when its status is needed (status 125). */
static void open_wait(struct container_session *cs, const char *condition)
{
        _cleanup_free_ char *path = container_path(cs->id, "/wait");
        _cleanup_free_ char *q = condition ? xasprintf("condition=%s", condition) : NULL;
        struct cli_stream *st = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_open_stream(cs->client, "POST", path, q, NULL, NULL, 0, &st, &err) < 0) {
                cs->s.wait_done = true;
                cs->s.wait_status = 125;
                cs->s.wait_error =
                    xasprintf("error waiting for container: %s", berth_error_msg(err));
                return;
        }
        if (cli_stream_status(st) != 200) {
                struct berth_buf body = BERTH_BUF_INIT;
                (void)cli_stream_read_all(st, 1 << 20, &body, NULL);
                struct cli_response resp = {
                    .status = cli_stream_status(st), .body = body.data, .len = body.len};
                _cleanup_free_ char *m = container_daemon_error(&resp);
                cs->s.wait_done = true;
                cs->s.wait_status = 125;
                cs->s.wait_error = xasprintf("error waiting for container: %s", m);
                buf_release(&body);
                cli_stream_free(st);
                return;
        }
        cs->s.wait = st;
}

/* Block until the wait response is complete (signals still served). */
static void finish_wait(struct container_session *cs)
{
        if (cs->s.wait_done || !cs->s.wait)
                return;
        if (cs->s.conn >= 0)
                close(cs->s.conn);
        cs->s.conn = -EBADF;
        cs->s.in_fd = cs->s.out_fd = cs->s.err_fd = -1;
        (void)attach_session_run(&cs->s, NULL);
}

static int start_container(struct cli_client *c, const char *id, char **ret_msg)
{
        _cleanup_free_ char *path = container_path(id, "/start");
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_request(c, "POST", path, NULL, NULL, &resp, &err) < 0) {
                *ret_msg = xstrdup(berth_error_msg(err));
                return -EIO;
        }
        int r = 0;
        if (resp.status / 100 != 2 && resp.status != 304) {
                *ret_msg = container_daemon_error(&resp);
                r = -EIO;
        }
        cli_response_release(&resp);
        return r;
}

/* The exit code once the wait answered: its status, 125 (with docker's log line) when it
 * failed. */
static int wait_exit_code(struct container_session *cs)
{
        if (cs->s.wait_error) {
                logrus_line(cs->ctx, "error", cs->s.wait_error);
                return 125;
        }
        return cs->s.wait_status;
}

/* ---- run ---- */

struct run_state {
        struct cli_ctx *ctx;
        struct container_config cfg;
        struct create_opts o;
        bool detach, sig_proxy;
        const char *detach_keys;
};

static void setup_streams(struct container_session *cs, struct cli_ctx *ctx, bool tty, bool in,
                          bool out, bool errs)
{
        fflush(ctx->out);
        fflush(ctx->err);
        cs->s.tty = tty;
        cs->s.in_fd = in ? STDIN_FILENO : -1;
        cs->s.out_fd = out ? fileno(ctx->out) : -1;
        cs->s.err_fd = errs ? (tty ? fileno(ctx->out) : ctx->err_fd) : -1;
}

static int run_attached(struct run_state *rs, struct container_session *cs)
{
        struct cli_ctx *ctx = rs->ctx;
        struct container_config *cfg = &rs->cfg;
        bool attach = cfg->attach_stdin || cfg->attach_stdout || cfg->attach_stderr;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_free_ char *spec = NULL;
        if (attach) {
                container_detach_keys(ctx, rs->detach_keys, &cs->s.detach_keys, &spec);
                if (hijack_attach(cs, cfg->attach_stdin, cfg->attach_stdout, cfg->attach_stderr,
                                  spec, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
                setup_streams(cs, ctx, cfg->tty, cfg->attach_stdin, cfg->attach_stdout,
                              cfg->attach_stderr);
                cs->s.stop_when_exited = true;
        }
        open_wait(cs, cfg->auto_remove ? "removed" : "next-exit");
        if (!attach) {
                /* docker prints the ID while start is on its way */
                fprintf(ctx->out, "%s\n", cs->id);
                fflush(ctx->out);
        }
        _cleanup_free_ char *msg = NULL;
        if (start_container(cs->client, cs->id, &msg) < 0) {
                if (cs->s.conn >= 0) {
                        close(cs->s.conn);
                        cs->s.conn = -EBADF;
                }
                attach_term_restore();
                if (cfg->auto_remove)
                        finish_wait(cs);
                return status_error(ctx, "run", msg);
        }
        if (!attach)
                return 0;
        if (cfg->tty && isatty(fileno(ctx->out))) {
                container_session_resize(cs, false);
                cs->winch_resize = true;
        }
        int r = attach_session_run(&cs->s, &err);
        int forced = container_session_exit_code(cs);
        if (forced >= 0)
                return forced;
        if (cs->s.detached)
                return 0;
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        return wait_exit_code(cs);
}

int container_cmd_run(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct run_state rs = {.ctx = ctx};
        rs.detach = cli_flag_bool(fs, "detach");
        rs.sig_proxy = cli_flag_bool(fs, "sig-proxy");
        rs.detach_keys = cli_flag_string(fs, "detach-keys");
        int code = parse_for(ctx, fs, "run", &rs.cfg, &rs.o);
        if (code)
                return code;
        struct container_config *cfg = &rs.cfg;
        struct cli_client *c = NULL;
        _cleanup_free_ char *id = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        code = 1;
        if (!rs.detach) {
                if (!container_check_tty(ctx, cfg->attach_stdin, cfg->tty))
                        goto out;
        } else {
                if (cfg->attach_given) {
                        fprintf(ctx->err, "conflicting options: cannot specify both --attach and "
                                          "--detach\n");
                        goto out;
                }
                cfg->attach_stdin = cfg->attach_stdout = cfg->attach_stderr = false;
                json_set_bool(cfg->body, "AttachStdin", false);
                json_set_bool(cfg->body, "AttachStdout", false);
                json_set_bool(cfg->body, "AttachStderr", false);
                json_set_bool(cfg->body, "StdinOnce", false);
        }
        /* run reports an unreachable daemon as its other create errors (125) */
        if (!(c = cli_ctx_client(ctx)))
                goto out;
        if (cli_client_connect(c, NULL, &err) < 0 ||
            create_container(ctx, c, cfg, &rs.o, &id, &err) < 0) {
                code = status_error(ctx, "run", berth_error_msg(err));
                goto out;
        }
        struct container_session cs = {.ctx = ctx, .client = c, .id = id, .proxy = rs.sig_proxy};
        attach_session_init(&cs.s);
        (void)container_session_signals(&cs, cfg->tty);
        code = run_attached(&rs, &cs);
        container_session_release(&cs);
out:
        container_config_release(cfg);
        return code;
}

/* ---- start ---- */

static int start_attached(struct cli_ctx *ctx, struct cli_client *c, const char *name,
                          bool interactive, const char *detach_flag)
{
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *info = NULL;
        if (container_inspect(c, name, &info, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        const char *id = json_str(json_get(info, "Id"));
        const struct json *config = json_get(info, "Config");
        const struct json *t = json_get(config, "Tty"), *os = json_get(config, "OpenStdin");
        const struct json *ar = json_get(json_get(info, "HostConfig"), "AutoRemove");
        bool tty = t && t->b, open_stdin = os && os->b, auto_remove = ar && ar->b;
        struct container_session cs = {.ctx = ctx, .client = c, .id = id, .proxy = !tty};
        attach_session_init(&cs.s);
        if (!tty)
                (void)container_session_signals(&cs, false);
        else
                (void)container_session_signals(&cs, true);
        _cleanup_free_ char *spec = NULL;
        container_detach_keys(ctx, detach_flag, &cs.s.detach_keys, &spec);
        bool in = interactive && open_stdin;
        int code = 1;
        _cleanup_free_ char *msg = NULL;
        if (hijack_attach(&cs, in, true, true, spec, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                goto out;
        }
        setup_streams(&cs, ctx, tty, in, true, true);
        open_wait(&cs, auto_remove ? "removed" : "next-exit");
        if (start_container(c, id, &msg) < 0) {
                close(cs.s.conn);
                cs.s.conn = -EBADF;
                attach_term_restore();
                if (auto_remove)
                        finish_wait(&cs);
                fprintf(ctx->err, "%s\n", msg);
                goto out;
        }
        if (tty && isatty(fileno(ctx->out))) {
                container_session_resize(&cs, false);
                cs.winch_resize = true;
        }
        int r = attach_session_run(&cs.s, &err);
        int forced = container_session_exit_code(&cs);
        if (forced >= 0) {
                code = forced;
        } else if (cs.s.detached) {
                code = 0;
        } else if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
        } else {
                code = wait_exit_code(&cs);
        }
out:
        container_session_release(&cs);
        return code;
}

static int run_start(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        bool attach = cli_flag_bool(fs, "attach"), interactive = cli_flag_bool(fs, "interactive");
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        /* checkpoints are an experimental daemon feature (and Linux only) in docker */
        struct berth_buf exp = BERTH_BUF_INIT;
        if (cli_flag_is_set(fs, "checkpoint"))
                buf_puts(&exp, "\"--checkpoint\" is only supported on a Docker daemon with "
                               "experimental features enabled\n");
        if (cli_flag_is_set(fs, "checkpoint-dir"))
                buf_puts(&exp, "\"--checkpoint-dir\" is only supported on a Docker daemon with "
                               "experimental features enabled\n");
        if (exp.len) {
                fputs(exp.data, ctx->err);
                buf_release(&exp);
                return 1;
        }
        if (attach || interactive) {
                if (fs->n_args > 1) {
                        fprintf(ctx->err, "you cannot start and attach multiple containers at "
                                          "once\n");
                        return 1;
                }
                return start_attached(ctx, c, fs->args[0], interactive,
                                      cli_flag_string(fs, "detach-keys"));
        }
        struct berth_buf failed = BERTH_BUF_INIT;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *msg = NULL;
                if (start_container(c, fs->args[i], &msg) < 0) {
                        fprintf(ctx->err, "%s\n", msg);
                        buf_printf(&failed, "%s%s", failed.len ? ", " : "", fs->args[i]);
                        continue;
                }
                fprintf(ctx->out, "%s\n", fs->args[i]);
        }
        int code = 0;
        if (failed.len) {
                fflush(ctx->out);
                fprintf(ctx->err, "Error: failed to start containers: %s\n", failed.data);
                code = 1;
        }
        buf_release(&failed);
        return code;
}

/* ---- attach ---- */

static int check_attachable(const struct json *info, struct berth_error **err)
{
        const struct json *st = json_get(info, "State");
        const struct json *running = json_get(st, "Running"), *paused = json_get(st, "Paused");
        const struct json *restarting = json_get(st, "Restarting");
        if (!running || !running->b)
                return berth_error_set(err, EINVAL,
                                       "You cannot attach to a stopped container, start it first");
        if (paused && paused->b)
                return berth_error_set(err, EINVAL,
                                       "You cannot attach to a paused container, unpause it first");
        if (restarting && restarting->b)
                return berth_error_set(err, EINVAL,
                                       "You cannot attach to a restarting container, wait until "
                                       "it is running");
        return 0;
}

static int run_attach(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        const char *name = fs->args[0];
        struct container_session cs = {.ctx = ctx, .client = c, .id = name};
        attach_session_init(&cs.s);
        /* docker asks for the wait first (no condition), then inspects */
        open_wait(&cs, NULL);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *info = NULL;
        _cleanup_free_ char *spec = NULL;
        int code = 1;
        if (container_inspect(c, name, &info, &err) < 0 || check_attachable(info, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                goto out;
        }
        const struct json *config = json_get(info, "Config");
        const struct json *t = json_get(config, "Tty"), *os = json_get(config, "OpenStdin");
        bool tty = t && t->b, open_stdin = os && os->b;
        bool no_stdin = cli_flag_bool(fs, "no-stdin");
        if (!container_check_tty(ctx, !no_stdin, tty))
                goto out;
        container_detach_keys(ctx, cli_flag_string(fs, "detach-keys"), &cs.s.detach_keys, &spec);
        bool in = !no_stdin && open_stdin;
        cs.proxy = cli_flag_bool(fs, "sig-proxy") && !tty;
        if (cs.proxy || tty)
                (void)container_session_signals(&cs, tty);
        if (hijack_attach(&cs, in, true, true, spec, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                goto out;
        }
        json_free(TAKE_PTR(info));
        if (container_inspect(c, name, &info, &err) < 0 || check_attachable(info, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                goto out;
        }
        setup_streams(&cs, ctx, tty, in, true, true);
        if (tty && isatty(fileno(ctx->out))) {
                container_session_resize(&cs, true);
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
        } else if (cs.s.wait_error) {
                fprintf(ctx->err, "%s\n", cs.s.wait_error);
        } else {
                code = cs.s.wait_status;
        }
out:
        container_session_release(&cs);
        return code;
}

/* ---- the commands ---- */

static const struct cli_flag start_flags[] = {
    {"attach", 'a', CLI_FLAG_BOOL, "Attach STDOUT/STDERR and forward signals", NULL, NULL, false,
     NULL},
    {"checkpoint", 0, CLI_FLAG_STRING, "Restore from this checkpoint", NULL, NULL, true, NULL},
    {"checkpoint-dir", 0, CLI_FLAG_STRING, "Use a custom checkpoint storage directory", NULL, NULL,
     true, NULL},
    {"detach-keys", 0, CLI_FLAG_STRING, "Override the key sequence for detaching a container", NULL,
     NULL, false, NULL},
    {"interactive", 'i', CLI_FLAG_BOOL, "Attach container's STDIN", NULL, NULL, false, NULL},
};

static const struct cli_flag attach_flags[] = {
    {"detach-keys", 0, CLI_FLAG_STRING, "Override the key sequence for detaching a container", NULL,
     NULL, false, NULL},
    {"no-stdin", 0, CLI_FLAG_BOOL, "Do not attach STDIN", NULL, NULL, false, NULL},
    {"sig-proxy", 0, CLI_FLAG_BOOL, "Proxy all received signals to the process", "true", NULL,
     false, NULL},
};

const struct cli_command cli_cmd_start = {
    .name = "start",
    .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
    .summary = "Start one or more stopped containers",
    .group = CLI_GROUP_OTHER,
    .flags = start_flags,
    .n_flags = ELEMENTSOF(start_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .aliases = "container start, start",
    .run = run_start,
};

const struct cli_command cli_cmd_attach = {
    .name = "attach",
    .usage = "[OPTIONS] CONTAINER",
    .summary = "Attach local standard input, output, and error streams to a running container",
    .group = CLI_GROUP_OTHER,
    .flags = attach_flags,
    .n_flags = ELEMENTSOF(attach_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 1,
    .aliases = "container attach, attach",
    .run = run_attach,
};
