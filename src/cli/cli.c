/*
 * cli.c — berth's dispatcher: global flags, the command table, help texts
 * and usage errors (contract in cli.h).
 *
 * Parsing happens in two steps, as in docker: global flags up to the first
 * argument (the command name), then the command's own flags; a management
 * command (image, system, …) looks up its subcommand first.  Help and error
 * texts follow docker's cobra templates with "berth" for "docker".  Commands
 * write errors to a stream that flushes their output first (cli_main).
 */
#include <string.h>

#include "base/buf.h"
#include "base/version.h"
#include "cli.h"

static const struct cli_command *const commands[] = {
    /* One per line (keeps merges of new commands trivial). */
    // clang-format off
    &cli_cmd_version,
    &cli_cmd_events,
    &cli_cmd_history,
    &cli_cmd_images,
    &cli_cmd_info,
    &cli_cmd_login,
    &cli_cmd_logout,
    &cli_cmd_pull,
    &cli_cmd_push,
    &cli_cmd_image,
    &cli_cmd_system,
    &cli_cmd_rmi,
    &cli_cmd_tag,
    &cli_cmd_save,
    &cli_cmd_load,
    &cli_cmd_run,
    &cli_cmd_create,
    &cli_cmd_start,
    &cli_cmd_attach,
    &cli_cmd_stop,
    &cli_cmd_restart,
    &cli_cmd_kill,
    &cli_cmd_rm,
    &cli_cmd_pause,
    &cli_cmd_unpause,
    &cli_cmd_update,
    &cli_cmd_wait,
    &cli_cmd_rename,
    &cli_cmd_port,
    &cli_cmd_top,
    &cli_cmd_ps,
    &cli_cmd_logs,
    &cli_cmd_inspect,
    &cli_cmd_exec,
    &cli_cmd_stats,
    &cli_cmd_container,
    &cli_cmd_cp,
    &cli_cmd_diff,
    &cli_cmd_export,
    &cli_cmd_commit,
    &cli_cmd_import,
    &cli_cmd_volume,
    &cli_cmd_network,
    &cli_cmd_build,
    &cli_cmd_builder,
    // clang-format on
};

static const struct cli_flag global_flags[] = {
    {"debug", 'D', CLI_FLAG_BOOL, "Enable debug mode", NULL, NULL, false},
    {"host", 'H', CLI_FLAG_LIST, "Daemon socket to connect to", NULL, NULL, false},
    {"version", 'v', CLI_FLAG_BOOL, "Print version information and quit", NULL, NULL, false},
};

static const char *const group_titles[] = {
    [CLI_GROUP_COMMON] = "Common Commands:",
    [CLI_GROUP_MANAGEMENT] = "Management Commands:",
    [CLI_GROUP_OTHER] = "Commands:",
};

static void print_command_list(struct berth_buf *b, const struct cli_command *const *list, size_t n,
                               bool grouped)
{
        for (int g = 0; g < 3; g++) {
                bool any = false;
                for (size_t i = 0; i < n; i++) {
                        if ((grouped && (int)list[i]->group != g) || list[i]->hidden)
                                continue;
                        if (!any) {
                                buf_printf(b, "\n%s\n", grouped ? group_titles[g] : "Commands:");
                                any = true;
                        }
                        buf_printf(b, "  %-11s %s\n", list[i]->name, list[i]->summary);
                }
                if (!grouped)
                        break;
        }
}

static size_t count(const struct cli_command *const *list)
{
        size_t n = 0;
        while (list && list[n])
                n++;
        return n;
}

static void print_root_help(struct cli_ctx *ctx)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_printf(&b, "Usage:  %s [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n",
                   ctx->prog);
        print_command_list(&b, commands, ELEMENTSOF(commands), true);
        buf_puts(&b, "\nGlobal Options:\n");
        cli_flags_usage(&b, global_flags, ELEMENTSOF(global_flags));
        buf_printf(&b, "\nRun '%s COMMAND --help' for more information on a command.\n", ctx->prog);
        fputs(b.data, ctx->out);
        buf_release(&b);
}

static void print_command_help(struct cli_ctx *ctx, FILE *f, const char *path,
                               const struct cli_command *cmd)
{
        struct berth_buf b = BERTH_BUF_INIT;
        if (cmd->subcommands) {
                buf_printf(&b, "Usage:  %s COMMAND\n\n%s\n", path, cmd->summary);
                print_command_list(&b, cmd->subcommands, count(cmd->subcommands), false);
                buf_printf(&b, "\nRun '%s COMMAND --help' for more information on a command.\n",
                           path);
        } else {
                buf_printf(&b, "Usage:  %s %s\n\n%s\n", path, cmd->usage,
                           cmd->description ? cmd->description : cmd->summary);
                if (cmd->aliases) {
                        buf_puts(&b, "\nAliases:\n  ");
                        /* "system info, info" -> "berth system info, berth info" */
                        _cleanup_free_ char *copy = xstrdup(cmd->aliases);
                        char *save = NULL;
                        bool first = true;
                        for (char *a = strtok_r(copy, ",", &save); a;
                             a = strtok_r(NULL, ",", &save)) {
                                while (*a == ' ')
                                        a++;
                                buf_printf(&b, "%s%s %s", first ? "" : ", ", ctx->prog, a);
                                first = false;
                        }
                        buf_putc(&b, '\n');
                }
                bool any_flag = false;
                for (size_t i = 0; i < cmd->n_flags; i++)
                        any_flag |= !cmd->flags[i].hidden;
                if (any_flag) {
                        buf_puts(&b, "\nOptions:\n");
                        cli_flags_usage(&b, cmd->flags, cmd->n_flags);
                }
        }
        fputs(b.data, f);
        buf_release(&b);
}

/* "<msg>\n\nUsage:  <path> <usage>\n\n<verb> '<path> --help' for more information\n" */
static int usage_error_verb(struct cli_ctx *ctx, const char *path, const char *usage,
                            const char *msg, const char *verb, int code)
{
        fprintf(ctx->err, "%s\n\nUsage:  %s%s%s\n\n%s '%s --help' for more information\n", msg,
                path, usage ? " " : "", usage ? usage : "", verb, path);
        return code;
}

static int usage_error(struct cli_ctx *ctx, const char *path, const char *usage, const char *msg,
                       int code)
{
        return usage_error_verb(ctx, path, usage, msg, "Run", code);
}

static void notify_stderr(const char *msg)
{
        fprintf(stderr, "berth: %s\n", msg);
}

struct cli_client *cli_ctx_client(struct cli_ctx *ctx)
{
        if (ctx->client_ready)
                return &ctx->client;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_init(&ctx->client, ctx->host_flag, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return NULL;
        }
        ctx->client.notify = notify_stderr;
        ctx->client_ready = true;
        return &ctx->client;
}

int cli_daemon_error(struct cli_ctx *ctx, const struct cli_response *r)
{
        _cleanup_free_ char *m = cli_error_message(r);
        fprintf(ctx->err, "Error response from daemon: %s\n", m);
        return 1;
}

static const struct cli_command *find(const struct cli_command *const *list, size_t n,
                                      const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i]->name, name) == 0)
                        return list[i];
        return NULL;
}

/* A hidden entry that runs what a listed one runs is that one's alias (`volume remove` is
 * `volume rm`): docker names the command by its own name in usage lines and errors. */
static const struct cli_command *canonical(const struct cli_command *const *list,
                                           const struct cli_command *sub)
{
        for (size_t i = 0; sub->hidden && list[i]; i++)
                if (!list[i]->hidden && list[i]->run == sub->run && list[i]->flags == sub->flags)
                        return list[i];
        return sub;
}

static int run_command(struct cli_ctx *ctx, const char *path, const struct cli_command *cmd,
                       int argc, char **argv)
{
        if (cmd->subcommands) {
                /* docker: the bare management command's help goes to stderr (exit 0) */
                if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
                        print_command_help(ctx, argc ? ctx->out : ctx->err, path, cmd);
                        return 0;
                }
                const struct cli_command *sub =
                    find(cmd->subcommands, count(cmd->subcommands), argv[0]);
                if (!sub) {
                        _cleanup_free_ char *msg =
                            xasprintf("%s: unknown command: %s %s", ctx->prog, path, argv[0]);
                        return usage_error(ctx, path, cmd->usage, msg, 1);
                }
                sub = canonical(cmd->subcommands, sub);
                _cleanup_free_ char *subpath = xasprintf("%s %s", path, sub->name);
                return run_command(ctx, subpath, sub, argc - 1, argv + 1);
        }

        struct cli_flagset fs;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = cli_flags_parse(&fs, cmd->flags, cmd->n_flags, argc, argv, cmd->mode, &err);
        if (r < 0) {
                cli_flags_release(&fs);
                return usage_error(ctx, path, cmd->usage, berth_error_msg(err), CLI_EXIT_USAGE);
        }
        if (fs.help) {
                print_command_help(ctx, ctx->out, path, cmd);
                cli_flags_release(&fs);
                return 0;
        }
        /* docker's cli.NoArgs / ExactArgs / RequiresMinArgs / RequiresMaxArgs wording. */
        int n = (int)fs.n_args;
        _cleanup_free_ char *msg = NULL;
        const char *verb = "Run";
        if (cmd->max_args == 0 && n > 0) {
                msg = xasprintf("%s: '%s' accepts no arguments", ctx->prog, path);
        } else if (cmd->min_args == cmd->max_args && n != cmd->min_args) {
                msg = xasprintf("%s: '%s' requires %d argument%s", ctx->prog, path, cmd->min_args,
                                cmd->min_args == 1 ? "" : "s");
        } else if (n < cmd->min_args) {
                msg = xasprintf("%s: '%s' requires at least %d argument%s", ctx->prog, path,
                                cmd->min_args, cmd->min_args == 1 ? "" : "s");
                verb = "See";
        } else if (cmd->max_args >= 0 && n > cmd->max_args) {
                msg = xasprintf("%s: '%s' requires at most %d argument%s", ctx->prog, path,
                                cmd->max_args, cmd->max_args == 1 ? "" : "s");
                verb = "SRun"; /* sic: docker 28's RequiresMaxArgs prints "SRun '… --help'" */
        }
        if (msg) {
                cli_flags_release(&fs);
                return usage_error_verb(ctx, path, cmd->usage, msg, verb, 1);
        }
        r = cmd->run(ctx, &fs);
        cli_flags_release(&fs);
        return r;
}

/* `berth help [COMMAND [SUBCOMMAND]]` is `berth COMMAND [SUBCOMMAND] --help`; words that
 * name no command are docker's "unknown help topic". */
static int run_help(struct cli_ctx *ctx, int argc, char **argv)
{
        if (argc == 0) {
                print_root_help(ctx);
                return 0;
        }
        if (argc == 1 && strcmp(argv[0], "help") == 0) {
                fprintf(ctx->out, "Usage:  %s help [command]\n\nHelp about the command\n",
                        ctx->prog);
                return 0;
        }
        const struct cli_command *const *list = commands;
        size_t n = ELEMENTSOF(commands);
        const struct cli_command *cmd = NULL;
        _cleanup_free_ char *path = xstrdup(ctx->prog);
        int i = 0;
        for (; i < argc; i++) {
                const struct cli_command *c = list ? find(list, n, argv[i]) : NULL;
                if (!c)
                        break;
                cmd = c;
                char *longer = xasprintf("%s %s", path, c->name);
                free(path);
                path = longer;
                list = c->subcommands;
                n = count(list);
        }
        if (i < argc) {
                fputs("unknown help topic:", ctx->err);
                for (; i < argc; i++)
                        fprintf(ctx->err, " %s", argv[i]);
                fputc('\n', ctx->err);
                return 1;
        }
        print_command_help(ctx, ctx->out, path, cmd);
        return 0;
}

static int cli_run(int argc, char **argv, FILE *out, FILE *err, int err_fd)
{
        struct cli_ctx ctx = {.prog = "berth", .out = out, .err = err, .err_fd = err_fd};
        struct cli_flagset g;
        _cleanup_error_ struct berth_error *e = NULL;
        int code;

        int r = cli_flags_parse(&g, global_flags, ELEMENTSOF(global_flags), argc - 1, argv + 1,
                                CLI_PARSE_STOP_AT_ARG, &e);
        if (r < 0) {
                cli_flags_release(&g);
                return usage_error(&ctx, "berth", "[OPTIONS] COMMAND [ARG...]", berth_error_msg(e),
                                   CLI_EXIT_USAGE);
        }
        if (cli_flag_bool(&g, "version")) {
                fprintf(out, "Berth version %s, build %s\n", berth_version, berth_git_commit);
                cli_flags_release(&g);
                return 0;
        }
        if (g.help || g.n_args == 0) {
                print_root_help(&ctx);
                cli_flags_release(&g);
                return 0;
        }
        char **hosts = cli_flag_list(&g, "host");
        if (hosts && hosts[1]) {
                cli_flags_release(&g);
                return usage_error(&ctx, "berth", "[OPTIONS] COMMAND [ARG...]",
                                   "Please specify only one -H", CLI_EXIT_USAGE);
        }
        ctx.host_flag = hosts ? hosts[0] : NULL;
        ctx.debug = cli_flag_bool(&g, "debug");

        const char *name = g.args[0];
        const struct cli_command *cmd = find(commands, ELEMENTSOF(commands), name);
        if (!cmd && strcmp(name, "help") == 0) {
                code = run_help(&ctx, (int)g.n_args - 1, g.args + 1);
                cli_flags_release(&g);
                return code;
        }
        if (!cmd) {
                fprintf(err,
                        "berth: unknown command: berth %s\n\nRun 'berth --help' for more "
                        "information\n",
                        name);
                cli_flags_release(&g);
                return 1;
        }
        _cleanup_free_ char *path = xasprintf("berth %s", cmd->name);
        code = run_command(&ctx, path, cmd, (int)g.n_args - 1, g.args + 1);
        if (ctx.client_ready)
                cli_client_release(&ctx.client);
        cli_flags_release(&g);
        return code;
}

/* The error stream flushes the output before each write: read through one pipe (`2>&1 |
 * cat`), what a command printed stays before its error, as with docker's unbuffered writes. */
struct err_stream {
        FILE *out, *err;
};

static ssize_t err_stream_write(void *cookie, const char *buf, size_t len)
{
        struct err_stream *s = cookie;
        fflush(s->out);
        size_t n = fwrite(buf, 1, len, s->err);
        fflush(s->err);
        return (ssize_t)n;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
        struct err_stream es = {out, err};
        FILE *e = fopencookie(&es, "w", (cookie_io_functions_t){.write = err_stream_write});
        if (e)
                setvbuf(e, NULL, _IONBF, 0);
        int code = cli_run(argc, argv, out, e ? e : err, fileno(err));
        if (e)
                fclose(e);
        return code;
}
