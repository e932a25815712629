/*
 * cli.h — the berth command line: the command table, dispatch, help and usage
 * errors laid out as docker (cobra) prints them, and exit codes as docker
 * returns them (0 ok; 1 for an unknown command, wrong argument count or a
 * daemon error; 125 for a flag error).
 *
 * A command is a struct cli_command in a cmd-*.c file; adding one is adding
 * its declaration here and its line to the table in cli.c.  Its run function
 * gets the parsed flags and the shared context (client, output streams) and
 * returns the exit code; it prints its own output and errors through ctx.
 *
 * Never: exit() from a command (return the code), write to stdout/stderr other
 * than through ctx->out / ctx->err (tests capture them).
 */
#ifndef BERTH_CLI_CLI_H
#define BERTH_CLI_CLI_H

#include <stdio.h>

#include "client.h"
#include "flags.h"

#define CLI_EXIT_USAGE 125

struct cli_ctx {
        const char *prog; /* "berth" */
        FILE *out, *err;
        /* err writes through a stream that flushes out first (cli.c): raw output of a
         * container's stderr goes to this fd instead */
        int err_fd;
        const char *host_flag; /* -H value or NULL */
        bool debug;
        struct cli_client client;
        bool client_ready;
};

enum cli_group {
        CLI_GROUP_COMMON,
        CLI_GROUP_MANAGEMENT,
        CLI_GROUP_OTHER,
};

struct cli_command {
        const char *name;
        const char *usage;       /* after the command path: "[OPTIONS]" */
        const char *summary;     /* one line, in command lists and help */
        const char *description; /* the help's text instead of summary, when it differs */
        enum cli_group group;
        const struct cli_flag *flags;
        size_t n_flags;
        enum cli_parse_mode mode;
        int min_args, max_args; /* max -1: unlimited */
        const char *aliases;    /* "system info, info" (shown with the program name) */
        int (*run)(struct cli_ctx *ctx, const struct cli_flagset *fs);
        const struct cli_command *const *subcommands; /* NULL-terminated; a management command */
        bool hidden; /* runs, but is not listed in help (docker's aliases: `container ps`) */
};

/* The whole CLI: argv as main() got it.  Returns the exit code. */
int cli_main(int argc, char **argv, FILE *out, FILE *err);

/* The connected client (auto-starting the daemon when allowed); NULL + message on failure. */
struct cli_client *cli_ctx_client(struct cli_ctx *ctx);
/* "Error response from daemon: <message>" on ctx->err; returns 1. */
int cli_daemon_error(struct cli_ctx *ctx, const struct cli_response *r);

/* Commands (cmd-*.c). */
extern const struct cli_command cli_cmd_version;
extern const struct cli_command cli_cmd_info;
extern const struct cli_command cli_cmd_system;
extern const struct cli_command cli_cmd_system_df;    /* system df (cmd-system-df.c) */
extern const struct cli_command cli_cmd_system_prune; /* system prune (cmd-system-prune.c) */
extern const struct cli_command cli_cmd_image; /* image inspect|prune|rm|tag */
extern const struct cli_command cli_cmd_rmi;
extern const struct cli_command cli_cmd_images; /* images, image ls */
extern const struct cli_command cli_cmd_tag;
/* cmd-archive.c: save, load, also as `image save|load` */
extern const struct cli_command cli_cmd_save;
extern const struct cli_command cli_cmd_image_save;
extern const struct cli_command cli_cmd_load;
extern const struct cli_command cli_cmd_image_load;
extern const struct cli_command cli_cmd_history; /* history, image history */
extern const struct cli_command cli_cmd_events;  /* events, system events */
extern const struct cli_command cli_cmd_pull;    /* pull, image pull */
extern const struct cli_command cli_cmd_push;    /* push, image push */
extern const struct cli_command cli_cmd_login;
extern const struct cli_command cli_cmd_logout;
/* cmd-container*.c: containers, also as `container <verb>` */
extern const struct cli_command cli_cmd_run;
extern const struct cli_command cli_cmd_create;
extern const struct cli_command cli_cmd_start;
extern const struct cli_command cli_cmd_attach;
extern const struct cli_command cli_cmd_stop;
extern const struct cli_command cli_cmd_restart;
extern const struct cli_command cli_cmd_kill;
extern const struct cli_command cli_cmd_rm;
extern const struct cli_command cli_cmd_pause;
extern const struct cli_command cli_cmd_unpause;
extern const struct cli_command cli_cmd_update;
extern const struct cli_command cli_cmd_wait;
extern const struct cli_command cli_cmd_rename;
extern const struct cli_command cli_cmd_port;
extern const struct cli_command cli_cmd_top;
extern const struct cli_command cli_cmd_ps;
extern const struct cli_command cli_cmd_logs;
extern const struct cli_command cli_cmd_inspect;
extern const struct cli_command cli_cmd_exec;
extern const struct cli_command cli_cmd_stats;
extern const struct cli_command cli_cmd_container;
/* cmd-cp.c and cmd-export.c: files in and out of containers */
extern const struct cli_command cli_cmd_cp;
extern const struct cli_command cli_cmd_export;
extern const struct cli_command cli_cmd_commit;
extern const struct cli_command cli_cmd_import;
extern const struct cli_command cli_cmd_image_import;
extern const struct cli_command cli_cmd_diff;
/* cmd-volume.c */
extern const struct cli_command cli_cmd_volume;
/* cmd-build.c: build (also `image build`, `builder build`) and `builder prune` */
extern const struct cli_command cli_cmd_build;
extern const struct cli_command cli_cmd_image_build;
extern const struct cli_command cli_cmd_builder;
/* cmd-network.c */
extern const struct cli_command cli_cmd_network;

#endif
