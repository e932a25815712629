/*
 * container-opts.h — the flags `berth run` and `berth create` share and their
 * translation into the body of POST /containers/create, as docker's CLI 28
 * builds it (cli/command/container/opts.go: addFlags and parse), at API 1.41.
 *
 * The body is docker's configWrapper: Config's fields, then "HostConfig" and
 * "NetworkingConfig", every field in Go's struct order with Go's zero values
 * (null slices, {} maps where docker makes them, omitempty fields left out),
 * map keys sorted as encoding/json writes them, so that a daemon sees exactly
 * what docker's CLI would send for the same command line.  Values are checked
 * as docker checks them: while the flags are parsed (the flag error "invalid
 * argument "v" for "-p, --publish" flag: …", exit 125) or afterwards in parse
 * (the caller prints "berth: <message>" + the help hint, exit 125).
 *
 * The value parsers are exported for the unit tests (tests/unit/test-container-opts.c).
 *
 * Never: send a value the user did not give in a field docker leaves empty, or
 * read a file other than those named by --env-file, --label-file and
 * --security-opt seccomp=FILE.
 */
#ifndef BERTH_CLI_CONTAINER_OPTS_H
#define BERTH_CLI_CONTAINER_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"
#include "flags.h"

/* The flag tables (sorted as docker's help lists them). */
extern const struct cli_flag container_run_flags[];
extern const size_t container_run_n_flags;
extern const struct cli_flag container_create_flags[];
extern const size_t container_create_n_flags;

/* What parse() makes of a run/create command line. */
struct container_config {
        struct json *body; /* the create request */
        const char *image; /* point into the flagset's args */
        bool tty, open_stdin;
        bool attach_stdin, attach_stdout, attach_stderr;
        bool attach_given; /* -a was used */
        bool auto_remove;
        bool use_api_socket; /* --use-api-socket: the caller adds the socket and credentials */
        char *cidfile;       /* --cidfile or NULL */
};

/*
 * The create body for the parsed flags (fs->args: IMAGE [COMMAND] [ARG...]).
 * console_rows/cols: docker's HostConfig.ConsoleSize (the terminal on stdout, else 0).
 */
int container_config_parse(const struct cli_flagset *fs, unsigned console_rows,
                           unsigned console_cols, struct container_config *ret,
                           struct berth_error **err);
void container_config_release(struct container_config *c);
/* docker's check of flags annotated with an API version or an OS ("\"--annotation\" requires
 * API version 1.43, but the Docker daemon API version is 1.41"), one line per flag.  With
 * api_version NULL: 1 when such a flag is used (the version must be asked), else 0. */
int container_flags_supported(const struct cli_flagset *fs, const char *api_version,
                              struct berth_error **err);
/* docker's ValidateLabel as a flag validator (--label of run, create, volume create). */
char *container_check_label(const char *v);
/* docker's ValidateLink as a flag validator (--link of run, create, network connect). */
char *container_check_link(const char *v);

/* ---- networks (cmd-container-net.c) ---- */

/* The --network flag's validator (pflag's message for a bad long syntax). */
char *container_check_network(const char *v);
/* net.ParseMAC's forms: 6, 8 or 20 octets. */
bool container_valid_mac(const char *s);
/* docker's parseNetworkOpts: the endpoints object, HostConfig.NetworkMode, and the MAC
 * address docker copies into Config for daemons before API 1.44. */
int container_parse_networks(const struct cli_flagset *fs, struct json **ret_endpoints,
                             char **ret_mode, char **ret_mac, struct berth_error **err);

/* ---- value parsers (docker's opts package and friends) ---- */

/* nat.ParsePortSpecs plus --publish's long syntax; adds to exposed ({port: {}}) and
 * bindings ({port: [{"HostIp","HostPort"}]}). */
int container_parse_publish(const char *spec, struct json *exposed, struct json *bindings,
                            struct berth_error **err);
int container_parse_expose(const char *spec, struct json *exposed, struct berth_error **err);
/* --mount's CSV into a mount.Mount object. */
int container_parse_mount(const char *spec, struct json **ret, struct berth_error **err);
/* -v: 1 when the spec has a source (a bind: *ret_bind), 0 when it is an anonymous volume. */
int container_parse_volume(const char *spec, char **ret_bind, struct berth_error **err);
/* --gpus into a DeviceRequest object. */
int container_parse_gpus(const char *spec, struct json **ret, struct berth_error **err);
/* --add-host as opts.ValidateExtraHost: NULL and *ret "host:ip" (ret may be NULL), or the
 * reason it is refused (malloc'd). */
char *container_extra_host(const char *v, char **ret);
/* --ulimit name=soft[:hard] */
int container_parse_ulimit(const char *spec, char **ret_name, int64_t *ret_soft, int64_t *ret_hard,
                           struct berth_error **err);
/* --cpus: 1.5 -> 1500000000 */
int container_parse_cpus(const char *s, int64_t *ret, struct berth_error **err);
/* Go's time.ParseDuration, in nanoseconds. */
int container_parse_duration(const char *s, int64_t *ret, struct berth_error **err);
/* --env-file / --label-file lines (docker's kvfile); lookup says whether a bare KEY takes
 * its value from the environment. */
int container_read_kv_file(const char *path, bool lookup, char ***list, struct berth_error **err);
/* One record of Go's encoding/csv. */
int container_csv_fields(const char *s, char ***ret, struct berth_error **err);
/* --since/--until: a duration before now, a date (RFC 3339, local without a zone) or a Unix
 * timestamp, as the query value docker's client sends ("1700000000.000000000"). */
int container_timestamp(const char *value, int64_t now, char **ret, struct berth_error **err);
/* net.ParseIP and the canonical text of the address (NULL when not an address). */
char *container_ip_canonical(const char *s);

#endif
