/*
 * cmd-login.c — `berth login` and `berth logout`, and the credentials pull
 * and push send.
 *
 * Credentials live where docker keeps them, in docker's format:
 * $DOCKER_CONFIG/config.json (default ~/.docker/config.json), "auths" keyed
 * by registry ("127.0.0.1:5000"; "https://index.docker.io/v1/" for Docker
 * Hub), each {"auth": base64("user:password")} — so docker and berth share
 * logins.  login asks the daemon to check them first (POST /auth), as docker
 * does, and writes the file (0600, atomically) only when they work.  Pull and
 * push look the registry up there and send X-Registry-Auth (base64url JSON of
 * username, password, serveraddress), as docker does.
 *
 * Never: print a password, or write the file when the daemon refused them.
 */
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "cli.h"
#include "image/reference.h"

#define INDEX_SERVER "https://index.docker.io/v1/"

static char *config_path(void)
{
        const char *dir = getenv("DOCKER_CONFIG");
        if (dir && *dir)
                return xasprintf("%s/config.json", dir);
        const char *home = getenv("HOME");
        return xasprintf("%s/.docker/config.json", home && *home ? home : "/root");
}

/* The key docker files a server under. */
static char *server_key(const char *server)
{
        if (!server || !*server || strcmp(server, IMAGE_REF_DEFAULT_DOMAIN) == 0 ||
            strstr(server, "index.docker.io") || strstr(server, "registry-1.docker.io"))
                return xstrdup(INDEX_SERVER);
        const char *s = strstr(server, "://");
        s = s ? s + 3 : server;
        return xstrndup(s, strcspn(s, "/"));
}

static char *b64(const void *data, size_t n, bool url)
{
        char *out = xmalloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)out, data, (int)n);
        if (url)
                for (char *p = out; *p; p++)
                        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        return out;
}

static struct json *load_config(void)
{
        _cleanup_free_ char *path = config_path();
        struct json *j = NULL;
        if (json_parse_file(path, 16u << 20, &j, NULL) < 0 || !json_is(j, JSON_OBJECT)) {
                json_free(j);
                j = json_new_object();
        }
        return j;
}

char *cli_registry_auth(const char *host)
{
        _cleanup_free_ char *key = server_key(host);
        _cleanup_json_ struct json *cfg = load_config();
        const char *auth = json_str(json_get(json_get(json_get(cfg, "auths"), key), "auth"));
        if (!auth || !*auth)
                return NULL;
        unsigned char *raw = xmalloc(strlen(auth) + 1);
        int n = EVP_DecodeBlock(raw, (const unsigned char *)auth, (int)strlen(auth));
        if (n < 0) {
                free(raw);
                return NULL;
        }
        size_t len = strlen(auth);
        while (len && auth[len - 1] == '=' && n > 0) /* DecodeBlock counts padding as zeros */
                len--, n--;
        raw[n] = '\0';
        char *colon = strchr((char *)raw, ':');
        if (!colon) {
                free(raw);
                return NULL;
        }
        *colon = '\0';
        struct json *o = json_new_object();
        json_set_str(o, "username", (char *)raw);
        json_set_str(o, "password", colon + 1);
        json_set_str(o, "serveraddress", key);
        _cleanup_free_ char *text = json_dump(o, 0);
        json_free(o);
        explicit_bzero(raw, (size_t)n);
        free(raw);
        return b64(text, strlen(text), true);
}

static int save_config(struct cli_ctx *ctx, struct json *cfg)
{
        _cleanup_free_ char *path = config_path();
        _cleanup_free_ char *dir = xstrdup(path);
        *strrchr(dir, '/') = '\0';
        (void)mkdir_p(dir, 0700);
        _cleanup_free_ char *text = json_dump(cfg, JSON_DUMP_PRETTY);
        int r = write_file_atomic(path, text, strlen(text), 0600);
        if (r < 0)
                fprintf(ctx->err, "Error saving credentials: write %s: %s\n", path, strerror(-r));
        return r;
}

static char *read_password_stdin(void)
{
        struct berth_buf b = BERTH_BUF_INIT;
        char chunk[256];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0 && b.len < 4096)
                buf_append(&b, chunk, n);
        char *s = buf_steal(&b);
        s[strcspn(s, "\r\n")] = '\0';
        return s;
}

static int run_login(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *server = fs->n_args ? fs->args[0] : NULL;
        const char *user = cli_flag_string(fs, "username");
        const char *pass_flag = cli_flag_string(fs, "password");
        bool from_stdin = cli_flag_bool(fs, "password-stdin");
        if (pass_flag && from_stdin) {
                fprintf(ctx->err, "--password and --password-stdin are mutually exclusive\n");
                return 1;
        }
        if (!user || !*user) {
                fprintf(ctx->err, "Error: Cannot perform an interactive login from a non TTY "
                                  "device\n");
                return 1;
        }
        _cleanup_free_ char *pass = NULL;
        if (from_stdin)
                pass = read_password_stdin();
        else if (pass_flag) {
                fprintf(ctx->err, "WARNING! Using --password via the CLI is insecure. Use "
                                  "--password-stdin.\n");
                pass = xstrdup(pass_flag);
        } else {
                fprintf(ctx->err, "Error: Cannot perform an interactive login from a non TTY "
                                  "device\n");
                return 1;
        }
        _cleanup_free_ char *key = server_key(server);
        struct json *req = json_new_object();
        json_set_str(req, "username", user);
        json_set_str(req, "password", pass);
        json_set_str(req, "serveraddress", key);
        _cleanup_free_ char *body = json_dump(req, 0);
        json_free(req);

        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        _cleanup_error_ struct berth_error *err = NULL;
        struct cli_response resp;
        if (cli_client_request(c, "POST", "/auth", NULL, "application/json", body, strlen(body),
                               &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        explicit_bzero(body, strlen(body));
        if (resp.status != 200) {
                int code = cli_daemon_error(ctx, &resp);
                cli_response_release(&resp);
                return code;
        }
        cli_response_release(&resp);
        _cleanup_json_ struct json *cfg = load_config();
        struct json *auths = json_get(cfg, "auths");
        if (!json_is(auths, JSON_OBJECT))
                auths = json_object_set(cfg, "auths", json_new_object());
        _cleanup_free_ char *up = xasprintf("%s:%s", user, pass);
        struct json *entry = json_object_set(auths, key, json_new_object());
        char *enc = b64(up, strlen(up), false);
        json_set_str(entry, "auth", enc);
        free(enc);
        explicit_bzero(up, strlen(up));
        explicit_bzero(pass, strlen(pass));
        if (save_config(ctx, cfg) < 0)
                return 1;
        _cleanup_free_ char *path = config_path();
        fprintf(ctx->err, "WARNING! Your password will be stored unencrypted in %s.\n", path);
        fprintf(ctx->out, "Login Succeeded\n");
        return 0;
}

static int run_logout(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_free_ char *key = server_key(fs->n_args ? fs->args[0] : NULL);
        _cleanup_json_ struct json *cfg = load_config();
        struct json *auths = json_get(cfg, "auths");
        if (!json_get(auths, key)) {
                fprintf(ctx->out, "Not logged in to %s\n", key);
                return 0;
        }
        fprintf(ctx->out, "Removing login credentials for %s\n", key);
        json_object_del(auths, key);
        return save_config(ctx, cfg) < 0 ? 1 : 0;
}

static const struct cli_flag login_flags[] = {
    {"password", 'p', CLI_FLAG_STRING, "Password", NULL, NULL, false},
    {"password-stdin", 0, CLI_FLAG_BOOL, "Take the password from stdin", NULL, NULL, false},
    {"username", 'u', CLI_FLAG_STRING, "Username", NULL, NULL, false},
};

const struct cli_command cli_cmd_login = {
    .name = "login",
    .usage = "[OPTIONS] [SERVER]",
    .summary = "Log in to a registry",
    .group = CLI_GROUP_COMMON,
    .flags = login_flags,
    .n_flags = ELEMENTSOF(login_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 1,
    .run = run_login,
};

static const struct cli_flag no_flags[1];
const struct cli_command cli_cmd_logout = {
    .name = "logout",
    .usage = "[SERVER]",
    .summary = "Log out from a registry",
    .group = CLI_GROUP_COMMON,
    .flags = no_flags,
    .n_flags = 0,
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 1,
    .run = run_logout,
};
