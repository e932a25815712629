/*
 * cmd-system.c — `berth version`, `berth info` and `berth system info`.
 *
 * Both render the daemon's JSON (GET /version, GET /info) in docker's layout:
 * version as the Client and Server sections with values in column 20, info as
 * docker 28 prints it, leaving out the lines about parts berth does not have
 * (contexts, containerd, runc, init, swarm details).  docker's "Go version"
 * line becomes "C compiler", which is what built berth, and berth's "Built"
 * time is its commit's, labelled "(commit time)".
 *
 * Never: print a value the daemon did not send as if it had (missing fields
 * print empty, as docker does).
 */
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/version.h"
#include "cli.h"
#include "engine/sysinfo.h"
#include "gotemplate.h"
#include "base/units.h"

#define LABEL_WIDTH 20

static void line(struct berth_buf *b, const char *label, const char *value)
{
        buf_printf(b, "%-*s%s\n", LABEL_WIDTH, label, value ? value : "");
}

/* "2026-11-28T09:51:53.000000000+00:00" -> "Sat Nov 28 09:51:53 2026" (Go's ANSIC). */
static char *ansic_time(const char *rfc3339)
{
        struct tm tm = {0};
        if (!rfc3339 || !strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm))
                return xstrdup(rfc3339 ? rfc3339 : "");
        time_t t = timegm(&tm);
        gmtime_r(&t, &tm);
        char s[64];
        strftime(s, sizeof(s), "%a %b %e %H:%M:%S %Y", &tm);
        return xstrdup(s);
}

static char *client_build_time(void)
{
        if (berth_build_time <= 0)
                return xstrdup("");
        time_t t = (time_t)berth_build_time;
        struct tm tm;
        gmtime_r(&t, &tm);
        char s[64];
        strftime(s, sizeof(s), "%a %b %e %H:%M:%S %Y", &tm);
        return xstrdup(s);
}

/* berth stamps the time of the commit it was built from, not of the build (so that builds
 * are reproducible); `version` says so beside docker's "Built:". */
static char *commit_time_label(const char *when)
{
        return xasprintf("%s (commit time)", when);
}

static void render_server_version(struct berth_buf *b, const struct json *v)
{
        const char *platform = json_str(json_get(json_get(v, "Platform"), "Name"));
        buf_printf(b, "\nServer:%s%s\n", platform && *platform ? " " : "",
                   platform ? platform : "");
        size_t i;
        struct json *comp;
        json_array_foreach (json_get(v, "Components"), i, comp) {
                const char *name = json_str(json_get(comp, "Name"));
                const struct json *d = json_get(comp, "Details");
                buf_printf(b, " %s:\n", name ? name : "");
                line(b, "  Version:", json_str(json_get(comp, "Version")));
                if (name && strcmp(name, "Engine") == 0) {
                        _cleanup_free_ char *api = xasprintf(
                            "%s (minimum version %s)", json_str(json_get(d, "ApiVersion")) ?: "",
                            json_str(json_get(d, "MinAPIVersion")) ?: "");
                        line(b, "  API version:", api);
                        const char *go = json_str(json_get(d, "GoVersion"));
                        const char *cc = json_str(json_get(d, "CCompiler"));
                        if (cc && *cc)
                                line(b, "  C compiler:", cc);
                        if (go && *go)
                                line(b, "  Go version:", go);
                        line(b, "  Git commit:", json_str(json_get(d, "GitCommit")));
                        _cleanup_free_ char *built = ansic_time(json_str(json_get(d, "BuildTime")));
                        /* a berthd (it names its C compiler) stamps its commit's time */
                        _cleanup_free_ char *shown =
                            cc && *cc && *built ? commit_time_label(built) : xstrdup(built);
                        line(b, "  Built:", shown);
                        _cleanup_free_ char *osarch =
                            xasprintf("%s/%s", json_str(json_get(d, "Os")) ?: "",
                                      json_str(json_get(d, "Arch")) ?: "");
                        line(b, "  OS/Arch:", osarch);
                        line(b, "  Experimental:", json_str(json_get(d, "Experimental")));
                        continue;
                }
                size_t k;
                const char *key;
                struct json *val;
                json_object_foreach (d, k, key, val) {
                        _cleanup_free_ char *label = xasprintf("  %s:", key);
                        line(b, label, json_str(val));
                }
        }
}

/* GET path and parse the JSON body; prints the error and returns 1 on failure. */
static int fetch_json(struct cli_ctx *ctx, struct cli_client *c, const char *path,
                      struct json **ret)
{
        _cleanup_error_ struct berth_error *err = NULL;
        struct cli_response resp;
        if (cli_client_request(c, "GET", path, NULL, NULL, NULL, 0, &resp, &err) < 0) {
                fflush(ctx->out);
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status != 200) {
                fflush(ctx->out);
                int r = cli_daemon_error(ctx, &resp);
                cli_response_release(&resp);
                return r;
        }
        int r = json_parse(resp.body, resp.len, ret, &err);
        cli_response_release(&resp);
        if (r < 0) {
                fprintf(ctx->err, "berth: bad %s reply from the daemon: %s\n", path,
                        berth_error_msg(err));
                return 1;
        }
        return 0;
}

/*
 * --format: "json" or a Go template named name over data, then a newline, as docker prints
 * it; objects says which objects of data are Go structs.  A template that does not parse
 * exits 64; one that fails leaves what it wrote and the newline on stdout, and exits 1.
 */
static int print_format(struct cli_ctx *ctx, const char *name, const char *format,
                        const struct json *data, const struct gotemplate_object *objects,
                        size_t n_objects)
{
        const char *text = strcmp(format, "json") == 0 ? "{{json .}}" : format;
        _cleanup_gotemplate_ struct gotemplate *t = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (gotemplate_parse_named(name, text, &t, &err) < 0) {
                fprintf(ctx->err, "template parsing error: %s\n", berth_error_msg(err));
                return 64;
        }
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        int r = gotemplate_exec_objects(t, data, objects, n_objects, 0, &out, &err);
        buf_putc(&out, '\n');
        fputs(out.data, ctx->out);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        return 0;
}

/* docker's version template data: versionInfo{Client, Server}, Go structs all (their
 * omitempty fields read as zero when the JSON leaves them out). */
static int print_version_format(struct cli_ctx *ctx, const char *format, const struct json *data)
{
        _cleanup_json_ struct json *client_zero = NULL, *server_zero = NULL, *comp_zero = NULL;
        static const char cz[] = "{\"GoVersion\":\"\",\"Context\":\"\",\"Platform\":null}";
        static const char sz[] = "{\"Experimental\":false}";
        static const char kz[] = "{\"Details\":null}";
        (void)json_parse(cz, sizeof(cz) - 1, &client_zero, NULL);
        (void)json_parse(sz, sizeof(sz) - 1, &server_zero, NULL);
        (void)json_parse(kz, sizeof(kz) - 1, &comp_zero, NULL);
        const struct json *server = json_get(data, "Server");
        const struct json *comps = json_get(server, "Components");
        size_t n = 4 + (json_is(comps, JSON_ARRAY) ? json_len(comps) : 0);
        _cleanup_free_ struct gotemplate_object *o = xcalloc(n, sizeof(*o));
        size_t k = 0;
        o[k++] = (struct gotemplate_object){data, "system.versionInfo", NULL};
        o[k++] = (struct gotemplate_object){json_get(data, "Client"), "system.clientVersion",
                                            client_zero};
        if (json_is(server, JSON_OBJECT)) {
                o[k++] = (struct gotemplate_object){server, "*types.Version", server_zero};
                o[k++] = (struct gotemplate_object){json_get(server, "Platform"),
                                                    "struct { Name string }", NULL};
        }
        for (size_t i = 0; json_is(comps, JSON_ARRAY) && i < json_len(comps); i++)
                o[k++] = (struct gotemplate_object){comps->arr.items[i], "types.ComponentVersion",
                                                    comp_zero};
        return print_format(ctx, "version", format, data, o, k);
}

static int run_version(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = cli_client_connect(c, NULL, &err);
        _cleanup_json_ struct json *server = NULL;
        int server_code = r < 0 ? 1 : fetch_json(ctx, c, "/version", &server);

        _cleanup_free_ char *built = client_build_time();
        struct berth_sysinfo si;
        berth_sysinfo_get(&si);
        _cleanup_free_ char *api =
            r == 0 && strcmp(c->api_version, CLI_API_VERSION) != 0
                ? xasprintf("%s (downgraded from %s)", c->api_version, CLI_API_VERSION)
                : xstrdup(CLI_API_VERSION);
        const char *format = cli_flag_string(fs, "format");
        if (format && *format) {
                struct json *data = json_new_object();
                struct json *cl = json_object_set(data, "Client", json_new_object());
                json_set_str(cl, "Version", berth_version);
                json_set_str(cl, "ApiVersion", r == 0 ? c->api_version : CLI_API_VERSION);
                json_set_str(cl, "DefaultAPIVersion", CLI_API_VERSION);
                json_set_str(cl, "GitCommit", berth_git_commit);
                json_set_str(cl, "CCompiler", berth_compiler);
                json_set_str(cl, "Os", "linux");
                json_set_str(cl, "Arch", si.go_arch);
                json_set_str(cl, "BuildTime", built);
                json_object_set(data, "Server", server ? json_copy(server) : json_new_null());
                int code = print_version_format(ctx, format, data);
                json_free(data);
                berth_sysinfo_release(&si);
                if (r < 0)
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return code ? code : r < 0 ? 1 : server_code;
        }

        struct berth_buf b = BERTH_BUF_INIT;
        _cleanup_free_ char *osarch = xasprintf("linux/%s", si.go_arch);
        berth_sysinfo_release(&si);
        buf_puts(&b, "Client:\n");
        line(&b, " Version:", berth_version);
        line(&b, " API version:", api);
        line(&b, " C compiler:", berth_compiler);
        line(&b, " Git commit:", berth_git_commit);
        _cleanup_free_ char *shown = *built ? commit_time_label(built) : xstrdup("");
        line(&b, " Built:", shown);
        line(&b, " OS/Arch:", osarch);
        if (server)
                render_server_version(&b, server);
        fputs(b.data, ctx->out);
        buf_release(&b);
        if (r < 0) {
                fflush(ctx->out);
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        return server_code;
}

static const char *jstr(const struct json *j, const char *key)
{
        const char *s = json_str(json_get(j, key));
        return s ? s : "";
}

static long long jint(const struct json *j, const char *key)
{
        const struct json *v = json_get(j, key);
        return json_is(v, JSON_NUMBER) ? (long long)v->num.i : 0;
}

static bool jbool(const struct json *j, const char *key)
{
        const struct json *v = json_get(j, key);
        return json_is(v, JSON_BOOL) && v->b;
}

static const char *item_str(const struct json *arr, size_t i)
{
        if (!json_is(arr, JSON_ARRAY) || i >= arr->arr.n)
                return NULL;
        return json_str(arr->arr.items[i]);
}

static void nonempty(struct berth_buf *b, const char *label, const char *value)
{
        if (value && *value)
                buf_printf(b, "%s %s\n", label, value);
}

static void joined(struct berth_buf *b, const char *label, const struct json *arr)
{
        /* docker joins with spaces after "Label: ", so an empty list leaves "Label: ". */
        buf_printf(b, "%s ", label);
        size_t i;
        struct json *v;
        json_array_foreach (arr, i, v)
                buf_printf(b, "%s%s", i ? " " : "", json_str(v) ? json_str(v) : "");
        buf_putc(b, '\n');
}

static void render_info(struct berth_buf *b, const struct json *j)
{
        buf_puts(b, "\nServer:\n");
        buf_printf(b, " Containers: %lld\n", jint(j, "Containers"));
        buf_printf(b, "  Running: %lld\n", jint(j, "ContainersRunning"));
        buf_printf(b, "  Paused: %lld\n", jint(j, "ContainersPaused"));
        buf_printf(b, "  Stopped: %lld\n", jint(j, "ContainersStopped"));
        buf_printf(b, " Images: %lld\n", jint(j, "Images"));
        nonempty(b, " Server Version:", jstr(j, "ServerVersion"));
        nonempty(b, " Storage Driver:", jstr(j, "Driver"));
        size_t i;
        struct json *row;
        json_array_foreach (json_get(j, "DriverStatus"), i, row) {
                const char *k = item_str(row, 0);
                const char *v = item_str(row, 1);
                buf_printf(b, "  %s: %s\n", k ? k : "", v ? v : "");
        }
        nonempty(b, " Logging Driver:", jstr(j, "LoggingDriver"));
        nonempty(b, " Cgroup Driver:", jstr(j, "CgroupDriver"));
        nonempty(b, " Cgroup Version:", jstr(j, "CgroupVersion"));
        const struct json *plugins = json_get(j, "Plugins");
        buf_puts(b, " Plugins:\n");
        joined(b, "  Volume:", json_get(plugins, "Volume"));
        joined(b, "  Network:", json_get(plugins, "Network"));
        if (json_len(json_get(plugins, "Authorization")))
                joined(b, "  Authorization:", json_get(plugins, "Authorization"));
        joined(b, "  Log:", json_get(plugins, "Log"));
        buf_printf(b, " Swarm: %s\n", jstr(json_get(j, "Swarm"), "LocalNodeState"));
        const struct json *rt = json_get(j, "Runtimes");
        if (json_len(rt)) {
                buf_puts(b, " Runtimes:");
                size_t k;
                const char *name;
                struct json *v;
                json_object_foreach (rt, k, name, v)
                        buf_printf(b, " %s", v ? name : "");
                buf_putc(b, '\n');
                buf_printf(b, " Default Runtime: %s\n", jstr(j, "DefaultRuntime"));
        }
        nonempty(b, " Init Binary:", jstr(j, "InitBinary"));
        const struct json *sec = json_get(j, "SecurityOptions");
        if (json_len(sec)) {
                buf_puts(b, " Security Options:\n");
                struct json *o;
                json_array_foreach (sec, i, o) {
                        /* "name=seccomp,profile=default" -> "  seccomp\n   Profile: default" */
                        _cleanup_free_ char *copy = xstrdup(json_str(o) ? json_str(o) : "");
                        char *save = NULL;
                        for (char *kv = strtok_r(copy, ",", &save); kv;
                             kv = strtok_r(NULL, ",", &save)) {
                                char *eq = strchr(kv, '=');
                                if (!eq)
                                        continue;
                                *eq = '\0';
                                if (strcmp(kv, "name") == 0)
                                        buf_printf(b, "  %s\n", eq + 1);
                                else
                                        buf_printf(b, "   %c%s: %s\n", kv[0] & ~0x20, kv + 1,
                                                   eq + 1);
                        }
                }
        }
        nonempty(b, " Kernel Version:", jstr(j, "KernelVersion"));
        nonempty(b, " Operating System:", jstr(j, "OperatingSystem"));
        nonempty(b, " OSType:", jstr(j, "OSType"));
        nonempty(b, " Architecture:", jstr(j, "Architecture"));
        buf_printf(b, " CPUs: %lld\n", jint(j, "NCPU"));
        const struct json *mem = json_get(j, "MemTotal");
        struct berth_buf memstr = BERTH_BUF_INIT;
        units_bytes_size(&memstr, json_is(mem, JSON_NUMBER) ? (double)mem->num.u : 0.0);
        buf_printf(b, " Total Memory: %s\n", memstr.data);
        buf_release(&memstr);
        nonempty(b, " Name:", jstr(j, "Name"));
        nonempty(b, " ID:", jstr(j, "ID"));
        buf_printf(b, " Docker Root Dir: %s\n", jstr(j, "DockerRootDir"));
        buf_printf(b, " Debug Mode: %s\n", jbool(j, "Debug") ? "true" : "false");
        if (jbool(j, "Debug")) {
                buf_printf(b, "  File Descriptors: %lld\n", jint(j, "NFd"));
                buf_printf(b, "  Threads: %lld\n", jint(j, "NGoroutines"));
                buf_printf(b, "  System Time: %s\n", jstr(j, "SystemTime"));
                buf_printf(b, "  EventsListeners: %lld\n", jint(j, "NEventsListener"));
        }
        nonempty(b, " HTTP Proxy:", jstr(j, "HttpProxy"));
        nonempty(b, " HTTPS Proxy:", jstr(j, "HttpsProxy"));
        nonempty(b, " No Proxy:", jstr(j, "NoProxy"));
        const struct json *labels = json_get(j, "Labels");
        if (json_len(labels)) {
                buf_puts(b, " Labels:\n");
                struct json *l;
                json_array_foreach (labels, i, l)
                        buf_printf(b, "  %s\n", json_str(l) ? json_str(l) : "");
        }
        buf_printf(b, " Experimental: %s\n", jbool(j, "ExperimentalBuild") ? "true" : "false");
        const struct json *rc = json_get(j, "RegistryConfig");
        const struct json *idx = json_get(rc, "IndexConfigs");
        const struct json *cidrs = json_get(rc, "InsecureRegistryCIDRs");
        bool any_insecure = json_len(cidrs) > 0;
        size_t k;
        const char *name;
        struct json *ic;
        json_object_foreach (idx, k, name, ic)
                any_insecure |= !jbool(ic, "Secure");
        if (any_insecure) {
                buf_puts(b, " Insecure Registries:\n");
                json_object_foreach (idx, k, name, ic)
                        if (!jbool(ic, "Secure"))
                                buf_printf(b, "  %s\n", name);
                struct json *cidr;
                json_array_foreach (cidrs, i, cidr)
                        buf_printf(b, "  %s\n", json_str(cidr) ? json_str(cidr) : "");
        }
        const struct json *mirrors = json_get(rc, "Mirrors");
        if (json_len(mirrors)) {
                buf_puts(b, " Registry Mirrors:\n");
                struct json *m;
                json_array_foreach (mirrors, i, m)
                        buf_printf(b, "  %s\n", json_str(m) ? json_str(m) : "");
        }
        buf_printf(b, " Live Restore Enabled: %s\n\n",
                   jbool(j, "LiveRestoreEnabled") ? "true" : "false");
}

static int run_info(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *format = cli_flag_string(fs, "format");
        struct berth_buf b = BERTH_BUF_INIT;
        if (!format || !*format) {
                buf_puts(&b, "Client:\n");
                buf_printf(&b, " Version:    %s\n", berth_version);
                buf_printf(&b, " Debug Mode: %s\n", ctx->debug ? "true" : "false");
                fputs(b.data, ctx->out);
                buf_release(&b);
        }
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        _cleanup_json_ struct json *j = NULL;
        int r = fetch_json(ctx, c, "/info", &j);
        if (r)
                return r;
        if (format && *format) {
                /* docker's info template sees the server's fields plus ClientInfo. */
                struct json *data = json_copy(j);
                struct json *ci = json_object_set(data, "ClientInfo", json_new_object());
                json_set_bool(ci, "Debug", ctx->debug);
                json_set_str(ci, "Version", berth_version);
                r = print_format(ctx, "", format, data, NULL, 0);
                json_free(data);
                return r;
        }
        render_info(&b, j);
        fputs(b.data, ctx->out);
        buf_release(&b);
        const struct json *warnings = json_get(j, "Warnings");
        size_t i;
        struct json *w;
        fflush(ctx->out);
        json_array_foreach (warnings, i, w)
                fprintf(ctx->err, "%s\n", json_str(w) ? json_str(w) : "");
        return 0;
}

static const struct cli_flag format_flags[] = {
    {"format", 'f', CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template",
     NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_version = {
    .name = "version",
    .usage = "[OPTIONS]",
    .summary = "Show the Berth version information",
    .group = CLI_GROUP_COMMON,
    .flags = format_flags,
    .n_flags = ELEMENTSOF(format_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .run = run_version,
};

const struct cli_command cli_cmd_info = {
    .name = "info",
    .usage = "[OPTIONS]",
    .summary = "Display system-wide information",
    .group = CLI_GROUP_COMMON,
    .flags = format_flags,
    .n_flags = ELEMENTSOF(format_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .aliases = "system info, info",
    .run = run_info,
};

static const struct cli_command *const system_subcommands[] = {
    &cli_cmd_system_df,
    &cli_cmd_events,
    &cli_cmd_info,
    &cli_cmd_system_prune,
    NULL,
};

const struct cli_command cli_cmd_system = {
    .name = "system",
    .summary = "Manage Berth",
    .group = CLI_GROUP_MANAGEMENT,
    .subcommands = system_subcommands,
};
