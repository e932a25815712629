/*
 * cmd-login.c — `berth login` and `berth logout`, as docker's.
 *
 * login asks the daemon to check the credentials with the registry
 * (POST /auth), then stores them (credentials.h).  The user name comes from
 * -u or a prompt, the password from --password-stdin, -p (with docker's
 * warning) or a prompt without echo.  logout only forgets the stored entry.
 *
 * Never: echo or log the password.
 */
#include <string.h>
#include <termios.h>

#include "base/buf.h"
#include "cli.h"
#include "credentials.h"

/* One line from stdin without the newline; echo off when it is a terminal. */
static char *read_line(FILE *prompt_to, const char *prompt, bool secret)
{
        if (prompt)
                fputs(prompt, prompt_to), fflush(prompt_to);
        struct termios old, quiet;
        bool tty = secret && tcgetattr(STDIN_FILENO, &old) == 0;
        if (tty) {
                quiet = old;
                quiet.c_lflag &= (tcflag_t)~ECHO;
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (tty) {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
                fputc('\n', prompt_to);
        }
        if (n < 0) {
                free(line);
                return NULL;
        }
        line[strcspn(line, "\r\n")] = '\0';
        return line;
}

static int run_login(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *server = fs->n_args ? fs->args[0] : NULL;
        _cleanup_free_ char *key = cli_credentials_key(server);
        _cleanup_free_ char *user =
            cli_flag_string(fs, "username") ? xstrdup(cli_flag_string(fs, "username")) : NULL;
        _cleanup_free_ char *pass = NULL;
        bool from_stdin = cli_flag_bool(fs, "password-stdin");
        if (cli_flag_string(fs, "password")) {
                if (from_stdin) {
                        fprintf(ctx->err, "--password and --password-stdin are mutually "
                                          "exclusive\n");
                        return 1;
                }
                fprintf(ctx->err, "WARNING! Using --password via the CLI is insecure. Use "
                                  "--password-stdin.\n");
                pass = xstrdup(cli_flag_string(fs, "password"));
        }
        if (from_stdin) {
                if (!user) {
                        fprintf(ctx->err, "Must provide --username with --password-stdin\n");
                        return 1;
                }
                pass = read_line(ctx->err, NULL, false);
        }
        if (!user || !*user) {
                free(user);
                user = read_line(ctx->out, "Username: ", false);
        }
        if (!user || !*user) {
                fprintf(ctx->err, "Error: Non-null Username Required\n");
                return 1;
        }
        if (!pass)
                pass = read_line(ctx->out, "Password: ", true);
        if (!pass || !*pass) {
                fprintf(ctx->err, "Error: Non-null Password Required\n");
                free(pass);
                pass = NULL;
                return 1;
        }

        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        struct json *body = json_new_object();
        json_set_str(body, "username", user);
        json_set_str(body, "password", pass);
        json_set_str(body, "serveraddress", key);
        _cleanup_free_ char *text = json_dump(body, 0);
        json_free(body);
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = cli_client_request(c, "POST", "/auth", NULL, "application/json", text, strlen(text),
                                   &resp, &err);
        explicit_bzero(text, strlen(text));
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                explicit_bzero(pass, strlen(pass));
                return 1;
        }
        if (resp.status != 200) {
                r = cli_daemon_error(ctx, &resp);
                cli_response_release(&resp);
                explicit_bzero(pass, strlen(pass));
                return r;
        }
        _cleanup_json_ struct json *j = NULL;
        (void)json_parse(resp.body, resp.len, &j, NULL);
        cli_response_release(&resp);
        const char *token = json_str(json_get(j, "IdentityToken"));
        r = cli_credentials_store(key, user, pass, token, &err);
        explicit_bzero(pass, strlen(pass));
        if (r < 0) {
                fprintf(ctx->err, "Error saving credentials: %s\n", berth_error_msg(err));
                return 1;
        }
        fputs("Login Succeeded\n", ctx->out);
        return 0;
}

static int run_logout(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *server = fs->n_args ? fs->args[0] : NULL;
        _cleanup_free_ char *key = cli_credentials_key(server);
        _cleanup_error_ struct berth_error *err = NULL;
        int r = cli_credentials_erase(key, &err);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (r == 0)
                fprintf(ctx->out, "Not logged in to %s\n", key);
        else
                fprintf(ctx->out, "Removing login credentials for %s\n", key);
        return 0;
}

static const struct cli_flag login_flags[] = {
    {"password", 'p', CLI_FLAG_STRING, "Password", NULL, NULL, false, NULL},
    {"password-stdin", 0, CLI_FLAG_BOOL, "Take the password from stdin", NULL, NULL, false, NULL},
    {"username", 'u', CLI_FLAG_STRING, "Username", NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_login = {
    .name = "login",
    .usage = "[OPTIONS] [SERVER]",
    .summary = "Authenticate to a registry",
    .group = CLI_GROUP_COMMON,
    .flags = login_flags,
    .n_flags = ELEMENTSOF(login_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 1,
    .run = run_login,
};

const struct cli_command cli_cmd_logout = {
    .name = "logout",
    .usage = "[SERVER]",
    .summary = "Log out from a registry",
    .group = CLI_GROUP_COMMON,
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 1,
    .run = run_logout,
};
