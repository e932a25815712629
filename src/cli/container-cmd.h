/*
 * container-cmd.h — what the container commands (cmd-container*.c) share:
 * connecting, container paths, docker's error wording, inspect, and the
 * driver of an attached session (signals proxied as kill?signal=NAME, window
 * size sent on start and on SIGWINCH).
 *
 * Never: print anything the corresponding docker command does not print.
 */
#ifndef BERTH_CLI_CONTAINER_CMD_H
#define BERTH_CLI_CONTAINER_CMD_H

#include "attach.h"
#include "cli.h"

/* The connected client, or NULL after printing docker's "Cannot connect…". */
struct cli_client *container_client(struct cli_ctx *ctx);
/* "/containers/<name><suffix>" cleaned and escaped as docker's client makes its paths
 * (path.Join, then url.URL): "/x" is "x", ".." climbs, spaces are %20. */
char *container_path(const char *name, const char *suffix);
/* The same for another kind of object: ("/images/", name, "/json"). */
char *container_api_path(const char *prefix, const char *name, const char *suffix);
/* Append "&" when q is not empty. */
void container_query_sep(struct berth_buf *q);

/* One request; <0 only when the daemon could not be reached (message in *err). */
int container_request(struct cli_client *c, const char *method, const char *path, const char *query,
                      const struct json *body, struct cli_response *ret, struct berth_error **err);
/* "Error response from daemon: <message>" for a non-2xx response (malloc'd). */
char *container_daemon_error(const struct cli_response *r);

/*
 * GET /containers/{name}/json; 0 and the object, or <0 with the message docker prints
 * ("Error response from daemon: No such container: x").
 */
int container_inspect(struct cli_client *c, const char *name, struct json **ret,
                      struct berth_error **err);

/* The settings of an attached session that commands fill in before running it. */
struct container_session {
        struct cli_ctx *ctx;
        struct cli_client *client;
        const char *id;    /* container (or exec) id */
        bool exec;         /* resize via /exec/{id}/resize */
        bool proxy;        /* forward signals as kill?signal=NAME */
        bool winch_resize; /* SIGWINCH resizes (set once the process runs) */
        struct attach_session s;
};

/*
 * Open the signal fd (proxying or not), to be called right where docker starts its
 * signal goroutines; closed by container_session_release.
 */
int container_session_signals(struct container_session *cs, bool tty);
/* POST …/resize with the size of the terminal on stdout, docker's initTtySize (retried,
 * "failed to resize tty, using default size" when it keeps failing); plus_one: attach's
 * first resize to h+1, w+1 that makes the program redraw. */
void container_session_resize(struct container_session *cs, bool plus_one);
void container_session_release(struct container_session *cs);

/* docker's run/exec TTY check: "the input device is not a TTY". */
bool container_check_tty(struct cli_ctx *ctx, bool attach_stdin, bool tty);

/* Detach keys from the flag, else the config file's "detachKeys", else docker's default;
 * an unparsable value warns as docker does and uses the default. */
void container_detach_keys(struct cli_ctx *ctx, const char *flag, struct attach_keys *ret,
                           char **ret_spec);

/* After a session: docker's messages for a forced exit or an interrupt; returns the exit
 * code to use, or -1 when the session ended normally. */
int container_session_exit_code(struct container_session *cs);

/* A string setting of the CLI's config file (docker's config.json keys: "psFormat",
 * "statsFormat", "detachKeys"), NULL when unset. */
char *container_config_key(const char *key);

/* docker's volumeContext row of one volume (cmd-volume.c; for volume ls and system df -v);
 * its Label method's map is appended to methods when that is not NULL. */
struct json *volume_context_row(const struct json *v, struct json *methods);

/* docker's network inspect --format (cmd-network.c; for network inspect and inspect): the
 * template over docker's network.Inspect struct, else over the raw JSON with
 * missingkey=error; the result and a newline appended to out. */
struct gotemplate;
int network_inspect_template(const struct gotemplate *tmpl, const struct json *raw,
                             struct berth_buf *out, struct berth_error **err);

/* sortorder.NaturalLess as a qsort comparator of char * elements (docker's name order). */
int container_natural_cmp(const void *pa, const void *pb);

/* Go's json.Indent(dst, src, "", "    ") of raw JSON text: docker inspect's output. */
void container_json_indent(struct berth_buf *out, const char *src, size_t len);

/* The run functions of run and create (their tables live with the flags). */
int container_cmd_run(struct cli_ctx *ctx, const struct cli_flagset *fs);
int container_cmd_create(struct cli_ctx *ctx, const struct cli_flagset *fs);

/* Commands of the other container files, for the `container` management command. */
extern const struct cli_command cli_cmd_container;

#endif
