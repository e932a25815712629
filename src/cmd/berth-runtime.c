/*
 * berth-runtime — an OCI runtime with runc's command line, for containerd's
 * runc shim, podman/conmon, dockerd --add-runtime and humans.
 *
 * How: global flags, a command, the command's flags, then its arguments, as
 * runc (urfave/cli) parses them: "--flag value", "--flag=value", "-flag" and
 * the short aliases runc has.  Each command is one call into the runtime
 * library (runtime/container.h).  On failure: one line on stderr, and with
 * --log a line appended to the log file — logrus text by default, or
 * {"level":"error","msg":…,"time":…} with --log-format json, whose last msg
 * containerd's shim reports — and exit status 1 (for run and exec in the
 * foreground: the container process's status).  Warnings the library logs
 * (a failing poststart or poststop hook) take the same two ways with level
 * "warning", and the command goes on.
 *
 * Never: print anything but the command's output on stdout; leave the
 * terminal raw (the library restores it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/json.h"
#include "base/log.h"
#include "base/units.h"
#include "oci/runtime-spec.h"
#include "runtime/container.h"
#include "runtime/selfseal.h"

static const char *log_path;
static bool log_json;
static bool debug;

static void log_line(const char *level, const char *msg)
{
        if (!log_path) {
                if (debug && !strcmp(level, "debug"))
                        fprintf(stderr, "berth-runtime: debug: %s\n", msg);
                return;
        }
        int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char t[64];
        strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
        struct berth_buf b = BERTH_BUF_INIT;
        if (log_json) {
                buf_puts(&b, "{\"level\":");
                json_quote(&b, level, strlen(level), 0);
                buf_puts(&b, ",\"msg\":");
                json_quote(&b, msg, strlen(msg), 0);
                buf_printf(&b, ",\"time\":\"%s.%09ldZ\"}\n", t, ts.tv_nsec);
        } else {
                buf_printf(&b, "time=\"%s.%09ldZ\" level=%s msg=", t, ts.tv_nsec, level);
                json_quote(&b, msg, strlen(msg), JSON_DUMP_NO_ESCAPE_HTML);
                buf_putc(&b, '\n');
        }
        (void)write_all(fd, b.data, b.len);
        buf_release(&b);
        close(fd);
}

/* The library's log lines (base/log.h): warnings and errors to stderr and --log. */
static void log_from_library(enum berth_log_level level, const char *msg)
{
        if (level == BERTH_LOG_DEBUG) {
                if (debug)
                        log_line("debug", msg);
                return;
        }
        const char *name = berth_log_level_to_string(level);
        if (level <= BERTH_LOG_WARN)
                fprintf(stderr, "berth-runtime: %s: %s\n", name, msg);
        log_line(name, msg);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        const char *m = msg ? msg : "out of memory";
        fprintf(stderr, "berth-runtime: %s\n", m);
        log_line("error", m);
        free(msg);
        return 1;
}

static int fail_err(struct berth_error *e)
{
        int r = fail("%s", berth_error_msg(e));
        berth_error_free(e);
        return r;
}

/* ---- option parsing, runc style ---- */

enum opt_kind { OPT_BOOL, OPT_STR, OPT_LIST, OPT_UINT };

struct opt {
        const char *name;
        char short_;
        enum opt_kind kind;
        void *ptr;
};

static bool parse_bool(const char *v)
{
        return !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "t") || !strcmp(v, "TRUE");
}

/* Parse flags at argv[*i...] until the first non-flag (or "--"); returns -1 on error. */
static int parse_opts(const char *cmd, const struct opt *opts, int argc, char **argv, int *i)
{
        while (*i < argc) {
                const char *a = argv[*i];
                if (!strcmp(a, "--")) {
                        (*i)++;
                        return 0;
                }
                if (a[0] != '-' || !a[1])
                        return 0;
                const char *name = a + 1 + (a[1] == '-');
                const char *eq = strchr(name, '=');
                size_t nl = eq ? (size_t)(eq - name) : strlen(name);
                const struct opt *o = NULL;
                for (const struct opt *p = opts; p->name; p++) {
                        if ((strlen(p->name) == nl && !strncmp(p->name, name, nl)) ||
                            (p->short_ && nl == 1 && name[0] == p->short_))
                                o = p;
                }
                if (!o) {
                        fail("%s: unknown flag '%s'", cmd, a);
                        return -1;
                }
                const char *val = eq ? eq + 1 : NULL;
                if (o->kind == OPT_BOOL) {
                        *(bool *)o->ptr = val ? parse_bool(val) : true;
                        (*i)++;
                        continue;
                }
                if (!val) {
                        if (*i + 1 >= argc) {
                                fail("%s: flag '%s' needs a value", cmd, a);
                                return -1;
                        }
                        val = argv[++*i];
                }
                (*i)++;
                if (o->kind == OPT_STR) {
                        *(const char **)o->ptr = val;
                } else if (o->kind == OPT_UINT) {
                        uint64_t v;
                        if (parse_u64(val, &v) < 0 || v > 65536) {
                                fail("%s: flag '%s': invalid number '%s'", cmd, a, val);
                                return -1;
                        }
                        *(unsigned *)o->ptr = (unsigned)v;
                } else {
                        char ***l = o->ptr;
                        size_t n = 0;
                        while (*l && (*l)[n])
                                n++;
                        *l = xrealloc(*l, (n + 2) * sizeof(char *));
                        (*l)[n] = (char *)val;
                        (*l)[n + 1] = NULL;
                }
        }
        return 0;
}

static struct berth_runtime rt;

static const char *one_id(const char *cmd, int argc, char **argv, int i)
{
        if (i >= argc) {
                fail("%s: requires exactly 1 argument: the container id", cmd);
                return NULL;
        }
        return argv[i];
}

/* ---- commands ---- */

static int cmd_create_run(const char *cmd, int argc, char **argv, int i, bool run)
{
        struct berth_create_opts o = {0};
        bool detach = false, keep = false, no_subreaper = false;
        const char *bundle = NULL;
        const struct opt opts[] = {
            {"bundle", 'b', OPT_STR, &bundle},
            {"pid-file", 0, OPT_STR, &o.pid_file},
            {"console-socket", 0, OPT_STR, &o.console_socket},
            {"no-pivot", 0, OPT_BOOL, &o.no_pivot},
            {"no-new-keyring", 0, OPT_BOOL, &o.no_new_keyring},
            {"preserve-fds", 0, OPT_UINT, &o.preserve_fds},
            {"detach", 'd', OPT_BOOL, &detach},
            {"keep", 0, OPT_BOOL, &keep},
            {"no-subreaper", 0, OPT_BOOL, &no_subreaper},
            {NULL, 0, 0, NULL},
        };
        if (parse_opts(cmd, opts, argc, argv, &i) < 0)
                return 1;
        if (!run && detach)
                return fail("create: unknown flag '--detach'");
        o.bundle = bundle;
        o.keep = keep;
        (void)no_subreaper; /* we never become a subreaper: the flag has nothing to turn off */
        const char *id = one_id(cmd, argc, argv, i);
        if (!id)
                return 1;
        struct berth_error *e = NULL;
        if (!run) {
                if (berth_container_create(&rt, id, &o, &e) < 0)
                        return fail_err(e);
                return 0;
        }
        int status = 0;
        if (berth_container_run(&rt, id, &o, detach, &status, &e) < 0)
                return fail_err(e);
        return status;
}

static int cmd_simple(const char *cmd, int argc, char **argv, int i)
{
        const struct opt none[] = {{NULL, 0, 0, NULL}};
        if (parse_opts(cmd, none, argc, argv, &i) < 0)
                return 1;
        const char *id = one_id(cmd, argc, argv, i);
        if (!id)
                return 1;
        struct berth_error *e = NULL;
        int r;
        if (!strcmp(cmd, "start")) {
                r = berth_container_start(&rt, id, &e);
        } else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
                r = berth_container_pause(&rt, id, !strcmp(cmd, "pause"), &e);
        } else {
                char *s = NULL;
                r = berth_container_state_json(&rt, id, &s, &e);
                if (r == 0) {
                        printf("%s\n", s);
                        free(s);
                }
        }
        return r < 0 ? fail_err(e) : 0;
}

static int cmd_kill(int argc, char **argv, int i)
{
        bool all = false;
        const struct opt opts[] = {{"all", 'a', OPT_BOOL, &all}, {NULL, 0, 0, NULL}};
        if (parse_opts("kill", opts, argc, argv, &i) < 0)
                return 1;
        const char *id = one_id("kill", argc, argv, i);
        if (!id)
                return 1;
        int sig = 15;
        struct berth_error *e = NULL;
        if (i + 1 < argc && berth_signal_parse(argv[i + 1], &sig, &e) < 0)
                return fail_err(e);
        if (berth_container_kill(&rt, id, sig, all, &e) < 0)
                return fail_err(e);
        return 0;
}

static int cmd_delete(int argc, char **argv, int i)
{
        bool force = false;
        const struct opt opts[] = {{"force", 'f', OPT_BOOL, &force}, {NULL, 0, 0, NULL}};
        if (parse_opts("delete", opts, argc, argv, &i) < 0)
                return 1;
        const char *id = one_id("delete", argc, argv, i);
        if (!id)
                return 1;
        struct berth_error *e = NULL;
        if (berth_container_delete(&rt, id, force, &e) < 0) {
                if (force && e && e->code == ENOENT) {
                        berth_error_free(e);
                        return 0;
                }
                return fail_err(e);
        }
        return 0;
}

/* runc update: --resources FILE|- (linux.resources JSON), then any of the flags on top. */
static int cmd_update(int argc, char **argv, int i)
{
        const char *resources = NULL, *memory = NULL, *swap = NULL, *reservation = NULL,
                   *kmem = NULL, *period = NULL, *quota = NULL, *shares = NULL, *cpus = NULL,
                   *mems = NULL, *blkio = NULL, *pids = NULL;
        const struct opt opts[] = {
            {"resources", 'r', OPT_STR, &resources},
            {"memory", 0, OPT_STR, &memory},
            {"memory-swap", 0, OPT_STR, &swap},
            {"memory-reservation", 0, OPT_STR, &reservation},
            {"kernel-memory", 0, OPT_STR, &kmem},
            {"cpu-period", 0, OPT_STR, &period},
            {"cpu-quota", 0, OPT_STR, &quota},
            {"cpu-share", 0, OPT_STR, &shares},
            {"cpuset-cpus", 0, OPT_STR, &cpus},
            {"cpuset-mems", 0, OPT_STR, &mems},
            {"blkio-weight", 0, OPT_STR, &blkio},
            {"pids-limit", 0, OPT_STR, &pids},
            {NULL, 0, 0, NULL},
        };
        if (parse_opts("update", opts, argc, argv, &i) < 0)
                return 1;
        const char *id = one_id("update", argc, argv, i);
        if (!id)
                return 1;
        struct berth_error *e = NULL;
        _cleanup_json_ struct json *res = NULL;
        if (resources) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                int fd = strcmp(resources, "-") ? open(resources, O_RDONLY | O_CLOEXEC) : 0;
                if (fd < 0)
                        return fail("update: open '%s': %s", resources, strerror(errno));
                int r = read_full_fd(fd, 1 << 20, &text, &len);
                if (fd > 0)
                        close(fd);
                if (r < 0)
                        return fail("update: read '%s': %s", resources, strerror(-r));
                if (json_parse(text, len, &res, &e) < 0) {
                        berth_error_prefix(&e, "update: '%s'", resources);
                        return fail_err(e);
                }
                if (!json_is(res, JSON_OBJECT))
                        return fail("update: '%s' is not a JSON object", resources);
        } else {
                res = json_new_object();
        }
        /* each flag given: {section, key, value kind} as runc maps them */
        const struct {
                const char *flag, *value, *section, *key;
                int kind; /* 0 bytes (human sizes), 1 integer, 2 string */
        } flags[] = {
            {"memory", memory, "memory", "limit", 0},
            {"memory-swap", swap, "memory", "swap", 0},
            {"memory-reservation", reservation, "memory", "reservation", 0},
            {"kernel-memory", kmem, "memory", "kernel", 0},
            {"cpu-period", period, "cpu", "period", 1},
            {"cpu-quota", quota, "cpu", "quota", 1},
            {"cpu-share", shares, "cpu", "shares", 1},
            {"cpuset-cpus", cpus, "cpu", "cpus", 2},
            {"cpuset-mems", mems, "cpu", "mems", 2},
            {"blkio-weight", blkio, "blockIO", "weight", 1},
            {"pids-limit", pids, "pids", "limit", 1},
        };
        for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
                if (!flags[k].value)
                        continue;
                struct json *sec = json_get(res, flags[k].section);
                if (!json_is(sec, JSON_OBJECT))
                        sec = json_object_set(res, flags[k].section, json_new_object());
                int64_t v = 0;
                if (flags[k].kind == 2) {
                        json_set_str(sec, flags[k].key, flags[k].value);
                        continue;
                }
                if (flags[k].kind == 0 && strcmp(flags[k].value, "-1") != 0) {
                        if (units_ram_in_bytes(flags[k].value, &v, &e) < 0)
                                return fail_err(e);
                } else if (parse_i64(flags[k].value, &v) < 0) {
                        return fail("update: invalid value '%s' for --%s", flags[k].value,
                                    flags[k].flag);
                } else if (flags[k].kind == 0) {
                        v = -1;
                }
                json_set_int(sec, flags[k].key, v);
        }
        struct oci_resources * or = NULL;
        if (oci_resources_from_json(res, & or, &e) < 0)
                return fail_err(e);
        int r = berth_container_update(&rt, id, or, &e);
        oci_resources_free(or);
        return r < 0 ? fail_err(e) : 0;
}

static int cmd_list(int argc, char **argv, int i)
{
        const char *format = "table";
        bool quiet = false;
        const struct opt opts[] = {{"format", 'f', OPT_STR, &format},
                                   {"quiet", 'q', OPT_BOOL, &quiet},
                                   {NULL, 0, 0, NULL}};
        if (parse_opts("list", opts, argc, argv, &i) < 0)
                return 1;
        struct berth_container_info *v = NULL;
        size_t n = 0;
        struct berth_error *e = NULL;
        if (berth_container_list(&rt, &v, &n, &e) < 0)
                return fail_err(e);
        if (quiet) {
                for (size_t k = 0; k < n; k++)
                        printf("%s\n", v[k].id);
        } else if (!strcmp(format, "json")) {
                struct json *a = json_new_array();
                for (size_t k = 0; k < n; k++) {
                        struct json *o = json_array_append(a, json_new_object());
                        json_set_str(o, "ociVersion", OCI_RUNTIME_SPEC_VERSION);
                        json_set_str(o, "id", v[k].id);
                        json_set_int(o, "pid", v[k].pid);
                        json_set_str(o, "status", berth_status_name(v[k].status));
                        json_set_str(o, "bundle", v[k].bundle);
                        json_set_str(o, "rootfs", "");
                        json_set_str(o, "created", v[k].created);
                        json_set_str(o, "owner", v[k].owner);
                }
                char *s = json_dump(a, 0);
                printf("%s\n", s);
                free(s);
                json_free(a);
        } else if (!strcmp(format, "table")) {
                printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE",
                       "CREATED", "OWNER");
                for (size_t k = 0; k < n; k++)
                        printf("%-12s %-8d %-10s %-40s %-30s %s\n", v[k].id, (int)v[k].pid,
                               berth_status_name(v[k].status), v[k].bundle, v[k].created,
                               v[k].owner);
        } else {
                berth_container_info_free(v, n);
                return fail("list: invalid format '%s' (table or json)", format);
        }
        berth_container_info_free(v, n);
        return 0;
}

static int cmd_ps(int argc, char **argv, int i)
{
        const char *format = "table";
        const struct opt opts[] = {{"format", 'f', OPT_STR, &format}, {NULL, 0, 0, NULL}};
        if (parse_opts("ps", opts, argc, argv, &i) < 0)
                return 1;
        const char *id = one_id("ps", argc, argv, i);
        if (!id)
                return 1;
        pid_t *pids = NULL;
        size_t n = 0;
        struct berth_error *e = NULL;
        if (berth_container_pids(&rt, id, &pids, &n, &e) < 0)
                return fail_err(e);
        if (!strcmp(format, "json")) {
                printf("[");
                for (size_t k = 0; k < n; k++)
                        printf("%s%d", k ? "," : "", (int)pids[k]);
                printf("]\n");
                free(pids);
                return 0;
        }
        if (strcmp(format, "table")) {
                free(pids);
                return fail("ps: invalid format '%s' (table or json)", format);
        }
        /* runc runs ps(1) with the given options (default -ef) and keeps the container's lines */
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0) {
                free(pids);
                return fail("ps: pipe: %s", strerror(errno));
        }
        pid_t child = fork();
        if (child == 0) {
                dup2(pfd[1], 1);
                char **args = xcalloc((size_t)(argc - i) + 2, sizeof(char *));
                args[0] = (char *)"ps";
                int k = 1;
                for (int a = i + 1; a < argc; a++)
                        args[k++] = argv[a];
                if (k == 1)
                        args[k++] = (char *)"-ef";
                execvp("ps", args);
                _exit(127);
        }
        close(pfd[1]);
        char *out = NULL;
        size_t len = 0;
        int r = read_full_fd(pfd[0], 16 << 20, &out, &len);
        close(pfd[0]);
        int st = 0;
        waitpid(child, &st, 0);
        if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                free(out);
                free(pids);
                return fail("ps: running ps(1) failed");
        }
        char *save = NULL;
        int pidcol = -1;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (pidcol < 0) {
                        /* header: find the PID column */
                        char *copy = xstrdup(line), *s2 = NULL;
                        int c = 0;
                        for (char *t = strtok_r(copy, " \t", &s2); t;
                             t = strtok_r(NULL, " \t", &s2), c++)
                                if (!strcmp(t, "PID"))
                                        pidcol = c;
                        free(copy);
                        if (pidcol < 0) {
                                free(out);
                                free(pids);
                                return fail("ps: no PID column in the output of ps(1)");
                        }
                        printf("%s\n", line);
                        continue;
                }
                char *copy = xstrdup(line), *s2 = NULL;
                int c = 0;
                long p = -1;
                for (char *t = strtok_r(copy, " \t", &s2); t; t = strtok_r(NULL, " \t", &s2), c++)
                        if (c == pidcol) {
                                p = strtol(t, NULL, 10);
                                break;
                        }
                free(copy);
                for (size_t k = 0; k < n; k++)
                        if (pids[k] == p) {
                                printf("%s\n", line);
                                break;
                        }
        }
        free(out);
        free(pids);
        return 0;
}

static int cmd_exec(int argc, char **argv, int i)
{
        struct berth_exec_opts o = {0};
        const char *process = NULL, *pid_file = NULL, *cwd = NULL, *user = NULL;
        const char *console = NULL, *label = NULL, *apparmor = NULL;
        char **env = NULL, **caps = NULL, **groups = NULL;
        bool detach = false, tty = false, nnp = false, ignore_paused = false;
        const struct opt opts[] = {
            {"process", 'p', OPT_STR, &process},
            {"tty", 't', OPT_BOOL, &tty},
            {"console-socket", 0, OPT_STR, &console},
            {"detach", 'd', OPT_BOOL, &detach},
            {"pid-file", 0, OPT_STR, &pid_file},
            {"cwd", 0, OPT_STR, &cwd},
            {"env", 'e', OPT_LIST, &env},
            {"user", 'u', OPT_STR, &user},
            {"additional-gids", 'g', OPT_LIST, &groups},
            {"cap", 'c', OPT_LIST, &caps},
            {"no-new-privs", 0, OPT_BOOL, &nnp},
            {"process-label", 0, OPT_STR, &label},
            {"apparmor", 0, OPT_STR, &apparmor},
            {"preserve-fds", 0, OPT_UINT, &o.preserve_fds},
            {"ignore-paused", 0, OPT_BOOL, &ignore_paused},
            {NULL, 0, 0, NULL},
        };
        int rc = 1;
        struct oci_process *proc = NULL;
        if (parse_opts("exec", opts, argc, argv, &i) < 0)
                goto out;
        const char *id = one_id("exec", argc, argv, i);
        if (!id)
                goto out;
        i++;
        struct berth_error *e = NULL;
        if (process) {
                char *text = NULL;
                size_t len = 0;
                int r = read_file_at(AT_FDCWD, process, OCI_CONFIG_MAX_SIZE, &text, &len);
                if (r < 0) {
                        rc = fail("exec: process file '%s': %s", process, strerror(-r));
                        goto out;
                }
                r = oci_process_parse(text, len, &proc, &e);
                free(text);
                if (r < 0) {
                        berth_error_prefix(&e, "exec: process file '%s'", process);
                        rc = fail_err(e);
                        goto out;
                }
        } else if (i >= argc) {
                rc = fail("exec: a command to run is required (arguments or --process)");
                goto out;
        }
        if (label && *label) {
                rc = fail("exec: --process-label: SELinux is not enabled on this host");
                goto out;
        }
        if (apparmor && *apparmor) {
                rc = fail("exec: --apparmor: AppArmor is not enabled on this host");
                goto out;
        }
        o.process = proc;
        o.args = argv + i;
        o.env = env;
        o.cwd = cwd;
        o.user = user;
        o.caps = caps;
        o.additional_gids = groups;
        o.tty = tty;
        o.no_new_privs = nnp;
        o.console_socket = console;
        o.pid_file = pid_file;
        o.detach = detach;
        int status = 0;
        if (berth_container_exec(&rt, id, &o, &status, &e) < 0) {
                rc = fail_err(e);
                goto out;
        }
        rc = status;
out:
        if (proc)
                oci_process_free(proc);
        free(env);
        free(caps);
        free(groups);
        return rc;
}

static int cmd_spec(int argc, char **argv, int i)
{
        const char *bundle = NULL;
        bool rootless = false;
        const struct opt opts[] = {{"bundle", 'b', OPT_STR, &bundle},
                                   {"rootless", 0, OPT_BOOL, &rootless},
                                   {NULL, 0, 0, NULL}};
        if (parse_opts("spec", opts, argc, argv, &i) < 0)
                return 1;
        char *path = xasprintf("%s/config.json", bundle ? bundle : ".");
        if (access(path, F_OK) == 0) {
                int r = fail("spec: '%s' exists: remove it first", path);
                free(path);
                return r;
        }
        struct json *j = oci_spec_default(rootless);
        char *text = json_dump(j, JSON_DUMP_PRETTY);
        json_free(j);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        int r = fd < 0 ? -errno : write_all(fd, text, strlen(text));
        if (r == 0)
                r = write_all(fd, "\n", 1);
        if (fd >= 0)
                close(fd);
        free(text);
        if (r < 0) {
                int rc = fail("spec: write '%s': %s", path, strerror(-r));
                free(path);
                return rc;
        }
        free(path);
        return 0;
}

static void usage(FILE *f)
{
        fputs("usage: berth-runtime [global flags] COMMAND [flags] ID [args]\n"
              "\n"
              "global flags: --root DIR (default " BERTH_RUNTIME_DEFAULT_ROOT ")  --log FILE\n"
              "              --log-format text|json  --debug  --systemd-cgroup  --version\n"
              "\n"
              "  create [--bundle B] [--pid-file F] [--console-socket S] [--no-pivot]\n"
              "         [--no-new-keyring] [--preserve-fds N] ID\n"
              "  start ID                      release a created container\n"
              "  run [create flags] [--detach] [--keep] ID\n"
              "  state ID                      OCI state JSON\n"
              "  kill [--all] ID [SIGNAL]      name (TERM, SIGTERM) or number; default TERM\n"
              "  delete [--force] ID\n"
              "  exec [--process F] [--tty] [--console-socket S] [--detach] [--pid-file F]\n"
              "       [--cwd D] [--env K=V]... [--user U[:G]] [--additional-gids G]...\n"
              "       [--cap CAP]... [--no-new-privs] [--preserve-fds N] ID [ARGS...]\n"
              "  ps [--format table|json] ID [ps options]\n"
              "  pause ID | resume ID\n"
              "  update [--resources FILE|-] [--memory M] [--memory-swap M] [--pids-limit N]\n"
              "         [--cpu-quota N] [--cpu-period N] [--cpu-share N] [--cpuset-cpus S]\n"
              "         [--cpuset-mems S] [--blkio-weight N] [--memory-reservation M] ID\n"
              "  list [--format table|json] [--quiet]\n"
              "  spec [--bundle B] [--rootless]  write a default config.json\n"
              "  features                      what this runtime supports (JSON)\n",
              f);
}

int main(int argc, char **argv)
{
        const char *root = NULL, *log_format = "text", *criu = NULL, *rootless = NULL;
        bool systemd = false, version = false, help = false;
        const struct opt global[] = {
            {"root", 0, OPT_STR, &root},
            {"log", 0, OPT_STR, &log_path},
            {"log-format", 0, OPT_STR, &log_format},
            {"debug", 0, OPT_BOOL, &debug},
            {"systemd-cgroup", 0, OPT_BOOL, &systemd},
            {"criu", 0, OPT_STR, &criu},
            {"rootless", 0, OPT_STR, &rootless},
            {"version", 'v', OPT_BOOL, &version},
            {"help", 'h', OPT_BOOL, &help},
            {NULL, 0, 0, NULL},
        };
        int i = 1;
        if (parse_opts("berth-runtime", global, argc, argv, &i) < 0)
                return 1;
        if (strcmp(log_format, "text") && strcmp(log_format, "json"))
                return fail("invalid --log-format '%s' (text or json)", log_format);
        log_json = !strcmp(log_format, "json");
        berth_log_set_sink(log_from_library);
        if (version) {
                printf("berth-runtime version %s\nspec: %s\n", BERTH_VERSION,
                       OCI_RUNTIME_SPEC_VERSION);
                return 0;
        }
        if (help || i >= argc) {
                usage(help ? stdout : stderr);
                return help ? 0 : 1;
        }
        rt.root = root;
        rt.systemd_cgroup = systemd;
        const char *cmd = argv[i++];
        /* Before any of our code can run inside a container: see runtime/selfseal.c. */
        if (!strcmp(cmd, "create") || !strcmp(cmd, "run") || !strcmp(cmd, "exec")) {
                struct berth_error *err = NULL;
                if (runtime_seal_self(argv, &err) < 0) {
                        int rc = fail("%s", berth_error_msg(err));
                        berth_error_free(err);
                        return rc;
                }
        }
        if (debug) {
                struct berth_buf b = BERTH_BUF_INIT;
                buf_puts(&b, "berth-runtime");
                for (int k = 1; k < argc; k++) {
                        buf_putc(&b, ' ');
                        buf_puts(&b, argv[k]);
                }
                log_line("debug", b.data);
                buf_release(&b);
        }
        if (!strcmp(cmd, "create"))
                return cmd_create_run(cmd, argc, argv, i, false);
        if (!strcmp(cmd, "run"))
                return cmd_create_run(cmd, argc, argv, i, true);
        if (!strcmp(cmd, "start") || !strcmp(cmd, "state") || !strcmp(cmd, "pause") ||
            !strcmp(cmd, "resume"))
                return cmd_simple(cmd, argc, argv, i);
        if (!strcmp(cmd, "kill"))
                return cmd_kill(argc, argv, i);
        if (!strcmp(cmd, "delete"))
                return cmd_delete(argc, argv, i);
        if (!strcmp(cmd, "list"))
                return cmd_list(argc, argv, i);
        if (!strcmp(cmd, "update"))
                return cmd_update(argc, argv, i);
        if (!strcmp(cmd, "ps"))
                return cmd_ps(argc, argv, i);
        if (!strcmp(cmd, "exec"))
                return cmd_exec(argc, argv, i);
        if (!strcmp(cmd, "spec"))
                return cmd_spec(argc, argv, i);
        if (!strcmp(cmd, "features")) {
                char *s = berth_runtime_features_json();
                printf("%s\n", s);
                free(s);
                return 0;
        }
        if (!strcmp(cmd, "help")) {
                usage(stdout);
                return 0;
        }
        return fail("unknown command '%s'", cmd);
}
