/*
 * cmd-volume.c — `berth volume` create, ls (list), inspect, rm (remove) and
 * prune, as docker CLI 28 runs them against a daemon of API 1.41.
 *
 * Each is one or a few Engine API calls (POST /volumes/create, GET /volumes,
 * GET /volumes/{name}, DELETE /volumes/{name}, POST /volumes/prune) rendered
 * the way docker renders them:
 *   - ls sorts by name (sortorder.NaturalLess) and renders docker's
 *     volumeContext rows through formatter.h, so `--format` (table, json,
 *     templates, {{.Label "k"}}) and the "DRIVER    VOLUME NAME" table are
 *     docker's, the config file's "volumesFormat" included;
 *   - inspect decodes each volume into docker's volume.Volume and encodes it
 *     again, as docker 28 does (it asks no raw JSON): keys in the struct's
 *     order, omitempty fields left out, a template sees the struct (a missing
 *     field is "can't evaluate field X in type volume.Volume"; a nil map is
 *     given as {} so that it prints map[] and index/range work on it, at the
 *     cost of {{json .Labels}} printing {} where docker prints null, and
 *     {{json .}} showing the empty fields; a nil pointer prints "<no value>",
 *     docker's "<nil>");
 *   - rm goes on after a failed name and prints every error at the end (exit 1).
 *
 * berth speaks API 1.41 at most.  docker 28 hides its cluster-volume flags, the
 * prune --all flag and `volume update` below API 1.42 and refuses them with
 * "\"--x\" requires API version 1.42, but the Docker daemon API version is
 * 1.41"; here those flags are hidden from help and refused in the same words.
 * Below 1.42 the daemon's prune removes named volumes too, hence docker's
 * "all local volumes" warning.
 *
 * Never: print partial output for a failed list, or send a filter or label the
 * user did not give.
 */
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "base/units.h"
#include "container-cmd.h"
#include "container-opts.h"
#include "filter-flag.h"
#include "formatter.h"
#include "gotemplate.h"

#define VOLUME_MIN_CLUSTER_API "1.42"

/*
 * docker's version check of annotated flags: one line per flag given (names in
 * pflag's sorted order, as docker visits them), printed together; 1 when any.
 */
static int refuse_cluster_flags(struct cli_ctx *ctx, const struct cli_client *c,
                                const struct cli_flagset *fs, const char *const *names)
{
        if (api_version_compare(c->api_version, VOLUME_MIN_CLUSTER_API) >= 0)
                return 0;
        _cleanup_buf_ struct berth_buf msg = BERTH_BUF_INIT;
        for (size_t i = 0; names[i]; i++)
                if (cli_flag_is_set(fs, names[i]))
                        buf_printf(&msg,
                                   "%s\"--%s\" requires API version %s, but the Docker daemon "
                                   "API version is %s",
                                   msg.len ? "\n" : "", names[i], VOLUME_MIN_CLUSTER_API,
                                   c->api_version);
        if (!msg.len)
                return 0;
        fprintf(ctx->err, "%s\n", msg.data);
        return 1;
}

/* One request whose 2xx reply is parsed into *ret (may be NULL); a daemon error is printed
 * as docker prints it.  Returns 0, or the exit code. */
static int volume_call(struct cli_ctx *ctx, struct cli_client *c, const char *method,
                       const char *path, const char *query, const struct json *body,
                       struct json **ret)
{
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_request(c, method, path, query, body, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status / 100 != 2) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        int r = 0;
        if (ret && json_parse(resp.body, resp.len, ret, &err) < 0) {
                fprintf(ctx->err, "berth: bad %s reply from the daemon: %s\n", path,
                        berth_error_msg(err));
                r = 1;
        }
        cli_response_release(&resp);
        return r;
}

/* ---- create ---- */

/* "k=v" items to {"k":"v"} ("k" alone is "k":""), docker's ConvertKVStringsToMap;
 * NULL when there are none (the fields are omitempty). */
static struct json *kv_map(char **list)
{
        if (!list || !list[0])
                return NULL;
        struct json *m = json_new_object();
        for (size_t i = 0; list[i]; i++) {
                _cleanup_free_ char *k = xstrdup(list[i]);
                char *eq = strchr(k, '=');
                if (eq)
                        *eq++ = '\0';
                json_object_set(m, k, json_new_string(eq ? eq : ""));
        }
        return m;
}

static int run_create(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *name = cli_flag_string(fs, "name");
        if (fs->n_args && name && *name) {
                fprintf(ctx->err, "conflicting options: cannot specify a volume-name through both "
                                  "--name and as a positional arg\n");
                return 1;
        }
        if (fs->n_args)
                name = fs->args[0];
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        static const char *const cluster[] = {
            "availability", "group",   "limit-bytes",        "required-bytes",    "scope",
            "secret",       "sharing", "topology-preferred", "topology-required", "type",
            NULL,
        };
        if (refuse_cluster_flags(ctx, c, fs, cluster))
                return 1;
        /* volume.CreateOptions in its field order, every field omitempty */
        _cleanup_json_ struct json *body = json_new_object();
        const char *driver = cli_flag_string(fs, "driver");
        if (driver && *driver)
                json_set_str(body, "Driver", driver);
        struct json *opts = kv_map(cli_flag_list(fs, "opt"));
        if (opts)
                json_object_set(body, "DriverOpts", opts);
        struct json *labels = kv_map(cli_flag_list(fs, "label"));
        if (labels)
                json_object_set(body, "Labels", labels);
        if (name && *name)
                json_set_str(body, "Name", name);
        _cleanup_json_ struct json *vol = NULL;
        int code = volume_call(ctx, c, "POST", "/volumes/create", NULL, body, &vol);
        if (code)
                return code;
        fprintf(ctx->out, "%s\n", json_str(json_get(vol, "Name")) ?: "");
        return 0;
}

/* ---- ls ---- */

static const char *volume_name(const struct json *v)
{
        return json_str(json_get(v, "Name")) ?: "";
}

static int cmp_volumes(const void *pa, const void *pb)
{
        const char *a = volume_name(*(struct json *const *)pa);
        const char *b = volume_name(*(struct json *const *)pb);
        return container_natural_cmp(&a, &b);
}

/* docker's volumeContext: every method's value as docker computes it, keys sorted (what
 * {{json .}} prints); the Label method's map goes to methods. */
struct json *volume_context_row(const struct json *v, struct json *methods)
{
        struct json *row = json_new_object();
        const struct json *cluster = json_get(v, "ClusterVolume");
        const struct json *spec = json_get(cluster, "Spec");
        bool is_cluster = json_is(cluster, JSON_OBJECT);
        const char *availability = json_str(json_get(spec, "Availability"));
        json_set_str(row, "Availability", is_cluster ? availability ?: "" : "N/A");
        json_set_str(row, "Driver", json_str(json_get(v, "Driver")) ?: "");
        const char *group = json_str(json_get(spec, "Group"));
        json_set_str(row, "Group", is_cluster ? group ?: "" : "N/A");
        /* Labels: "k=v" joined by commas (docker ranges over a Go map: any order) */
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        buf_append(&b, "", 0);
        const struct json *labels = json_get(v, "Labels");
        size_t i;
        const char *k;
        struct json *val;
        json_object_foreach (labels, i, k, val)
                buf_printf(&b, "%s%s=%s", i ? "," : "", k, json_str(val) ?: "");
        json_set_str(row, "Labels", b.data);
        const struct json *usage = json_get(v, "UsageData");
        const struct json *refs = json_get(usage, "RefCount");
        const struct json *size = json_get(usage, "Size");
        b.len = 0;
        b.data[0] = '\0';
        if (json_is(usage, JSON_OBJECT))
                buf_printf(&b, "%lld", json_is(refs, JSON_NUMBER) ? (long long)refs->num.i : 0LL);
        json_set_str(row, "Links", json_is(usage, JSON_OBJECT) ? b.data : "N/A");
        json_set_str(row, "Mountpoint", json_str(json_get(v, "Mountpoint")) ?: "");
        json_set_str(row, "Name", volume_name(v));
        json_set_str(row, "Scope", json_str(json_get(v, "Scope")) ?: "");
        b.len = 0;
        b.data[0] = '\0';
        units_human_size(&b, json_is(size, JSON_NUMBER) ? (double)size->num.i : 0.0);
        json_set_str(row, "Size", json_is(usage, JSON_OBJECT) ? b.data : "N/A");
        /* docker's Status for a cluster volume tells its publish state; berth has none */
        json_set_str(row, "Status", is_cluster ? "pending creation" : "N/A");
        if (!methods)
                return row;
        struct json *m = json_array_append(methods, json_new_object());
        json_object_set(m, "Label",
                        json_is(labels, JSON_OBJECT) ? json_copy(labels) : json_new_object());
        return row;
}

static struct json *volume_header(void)
{
        static const char *const cols[][2] = {
            {"Availability", "AVAILABILITY"},
            {"Driver", "DRIVER"},
            {"Group", "GROUP"},
            {"Labels", "LABELS"},
            {"Links", "LINKS"},
            {"Mountpoint", "MOUNTPOINT"},
            {"Name", "VOLUME NAME"},
            {"Scope", "SCOPE"},
            {"Size", "SIZE"},
            {"Status", "STATUS"},
        };
        struct json *h = json_new_object();
        for (size_t i = 0; i < ELEMENTSOF(cols); i++)
                json_set_str(h, cols[i][0], cols[i][1]);
        return h;
}

/* docker's NewVolumeFormat */
static char *volume_format(const char *source, bool quiet)
{
        if (strcmp(source, "table") == 0)
                return xstrdup(quiet ? "{{.Name}}" : "table {{.Driver}}\\t{{.Name}}");
        if (strcmp(source, "raw") == 0)
                return xstrdup(quiet ? "name: {{.Name}}"
                                     : "name: {{.Name}}\\ndriver: {{.Driver}}\\n");
        return xstrdup(source);
}

static int run_ls(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        static const char *const cluster[] = {"cluster", NULL};
        if (refuse_cluster_flags(ctx, c, fs, cluster))
                return 1;
        bool quiet = cli_flag_bool(fs, "quiet");
        const char *given = cli_flag_string(fs, "format");
        _cleanup_free_ char *cfg = NULL;
        const char *source = given && *given ? given : NULL;
        if (!source && !quiet)
                source = cfg = container_config_key("volumesFormat");
        _cleanup_free_ char *format = volume_format(source ? source : "table", quiet);

        _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
        buf_append(&q, "", 0);
        cli_filters_query(&q, cli_flag_list(fs, "filter"), NULL, NULL);
        _cleanup_json_ struct json *list = NULL;
        int code = volume_call(ctx, c, "GET", "/volumes", q.len ? q.data : NULL, NULL, &list);
        if (code)
                return code;
        struct json *vols = json_get(list, "Volumes");
        if (json_is(vols, JSON_ARRAY) && vols->arr.n > 1)
                qsort(vols->arr.items, vols->arr.n, sizeof(*vols->arr.items), cmp_volumes);
        _cleanup_json_ struct json *rows = json_new_array();
        _cleanup_json_ struct json *methods = json_new_array();
        size_t i;
        struct json *v;
        json_array_foreach (vols, i, v)
                json_array_append(rows, volume_context_row(v, methods));
        _cleanup_json_ struct json *header = volume_header();
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        _cleanup_error_ struct berth_error *err = NULL;
        if (formatter_write(format, rows, methods, header, "*formatter.volumeContext", &out, &err) <
            0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (out.len)
                fwrite(out.data, 1, out.len, ctx->out);
        return 0;
}

/* ---- inspect ---- */

/* The daemon's volume as docker's volume.Volume encodes it again: struct order, unknown keys
 * dropped, omitempty fields left out when empty.  For a template, null maps become {} (a nil
 * Go map prints map[]). */
static struct json *volume_struct(const struct json *v, bool for_template)
{
        enum kind { STR, MAP, PTR };
        static const struct {
                const char *key;
                enum kind kind;
                bool omitempty;
        } fields[] = {
            {"ClusterVolume", PTR, true}, {"CreatedAt", STR, true},   {"Driver", STR, false},
            {"Labels", MAP, false},       {"Mountpoint", STR, false}, {"Name", STR, false},
            {"Options", MAP, false},      {"Scope", STR, false},      {"Status", MAP, true},
            {"UsageData", PTR, true},
        };
        struct json *o = json_new_object();
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const struct json *val = json_get(v, fields[i].key);
                if (json_is(val, JSON_NULL))
                        val = NULL;
                bool empty = !val || (fields[i].kind != PTR && !json_len(val));
                if (fields[i].omitempty && empty && !for_template)
                        continue;
                if (val)
                        json_object_set(o, fields[i].key, json_copy(val));
                else if (fields[i].kind == STR)
                        json_set_str(o, fields[i].key, "");
                else if (fields[i].kind == MAP && for_template)
                        json_object_set(o, fields[i].key, json_new_object());
                else
                        json_object_set(o, fields[i].key, json_new_null());
        }
        return o;
}

static int run_inspect(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *format = cli_flag_string(fs, "format");
        bool as_json = format && strcmp(format, "json") == 0;
        _cleanup_gotemplate_ struct gotemplate *t = NULL;
        if (format && *format && !as_json) {
                _cleanup_free_ char *text = formatter_template_string(format);
                _cleanup_error_ struct berth_error *err = NULL;
                if (gotemplate_parse(text, &t, &err) < 0) {
                        fprintf(ctx->err, "template parsing error: %s\n", berth_error_msg(err));
                        return 64;
                }
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_json_ struct json *all = json_new_array();
        _cleanup_buf_ struct berth_buf text = BERTH_BUF_INIT;
        _cleanup_buf_ struct berth_buf errors = BERTH_BUF_INIT;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *path = container_api_path("/volumes/", fs->args[i], "");
                struct cli_response resp;
                _cleanup_error_ struct berth_error *err = NULL;
                if (container_request(c, "GET", path, NULL, NULL, &resp, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
                _cleanup_json_ struct json *v = NULL;
                if (resp.status != 200) {
                        _cleanup_free_ char *m = container_daemon_error(&resp);
                        buf_printf(&errors, "%s\n", m);
                } else if (json_parse(resp.body, resp.len, &v, &err) < 0) {
                        buf_printf(&errors, "berth: bad volume reply from the daemon: %s\n",
                                   berth_error_msg(err));
                } else if (t) {
                        _cleanup_json_ struct json *data = volume_struct(v, true);
                        size_t before = text.len;
                        if (gotemplate_exec_typed(t, data, "volume.Volume", NULL, 0, &text, &err) <
                            0) {
                                text.len = before;
                                if (text.data)
                                        text.data[before] = '\0';
                                buf_printf(&errors, "template parsing error: %s\n",
                                           berth_error_msg(err));
                        } else {
                                buf_putc(&text, '\n');
                        }
                } else {
                        json_array_append(all, volume_struct(v, false));
                }
                cli_response_release(&resp);
        }
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        if (t) {
                buf_append(&out, text.len ? text.data : "\n", text.len ? text.len : 1);
        } else {
                _cleanup_free_ char *dump = json_dump(all, 0);
                if (as_json)
                        buf_puts(&out, dump);
                else
                        container_json_indent(&out, dump, strlen(dump));
                buf_putc(&out, '\n');
        }
        fwrite(out.data, 1, out.len, ctx->out);
        fflush(ctx->out);
        if (!errors.len)
                return 0;
        fputs(errors.data, ctx->err);
        return 1;
}

/* ---- rm ---- */

static int run_rm(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        const char *query = cli_flag_bool(fs, "force") ? "force=1" : NULL;
        _cleanup_buf_ struct berth_buf errors = BERTH_BUF_INIT;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *path = container_api_path("/volumes/", fs->args[i], "");
                struct cli_response resp;
                _cleanup_error_ struct berth_error *err = NULL;
                if (container_request(c, "DELETE", path, query, NULL, &resp, &err) < 0) {
                        buf_printf(&errors, "%s\n", berth_error_msg(err));
                        continue;
                }
                if (resp.status / 100 == 2) {
                        fprintf(ctx->out, "%s\n", fs->args[i]);
                } else {
                        _cleanup_free_ char *m = container_daemon_error(&resp);
                        buf_printf(&errors, "%s\n", m);
                }
                cli_response_release(&resp);
        }
        if (!errors.len)
                return 0;
        fputs(errors.data, ctx->err);
        return 1;
}

/* ---- prune ---- */

/* docker's PromptForConfirmation: true only for "y" (any case, spaces trimmed). */
static bool confirm(struct cli_ctx *ctx, const char *warning)
{
        fprintf(ctx->out, "%s\nAre you sure you want to continue? [y/N] ", warning);
        fflush(ctx->out);
        char line[64] = "";
        if (!fgets(line, sizeof(line), stdin))
                return false;
        char *a = line + strspn(line, " \t\r\n");
        size_t n = strlen(a);
        while (n && strchr(" \t\r\n", a[n - 1]))
                n--;
        return n == 1 && (a[0] == 'y' || a[0] == 'Y');
}

static int run_prune(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        static const char *const newer[] = {"all", NULL};
        if (refuse_cluster_flags(ctx, c, fs, newer))
                return 1;
        /* below API 1.42 the daemon prunes named volumes as well */
        if (!cli_flag_bool(fs, "force") &&
            !confirm(ctx, "WARNING! This will remove all local volumes not used by at least one "
                          "container."))
                return 0;
        _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
        buf_append(&q, "", 0);
        cli_filters_query(&q, cli_flag_list(fs, "filter"), NULL, NULL);
        _cleanup_json_ struct json *report = NULL;
        int code =
            volume_call(ctx, c, "POST", "/volumes/prune", q.len ? q.data : NULL, NULL, &report);
        if (code)
                return code;
        const struct json *deleted = json_get(report, "VolumesDeleted");
        if (json_len(deleted)) {
                fputs("Deleted Volumes:\n", ctx->out);
                size_t i;
                struct json *name;
                json_array_foreach (deleted, i, name)
                        fprintf(ctx->out, "%s\n", json_str(name) ?: "");
                fputc('\n', ctx->out);
        }
        const struct json *space = json_get(report, "SpaceReclaimed");
        _cleanup_buf_ struct berth_buf human = BERTH_BUF_INIT;
        units_human_size(&human, json_is(space, JSON_NUMBER) ? (double)space->num.u : 0.0);
        fprintf(ctx->out, "Total reclaimed space: %s\n", human.data);
        return 0;
}

/* ---- update (cluster volumes only: API 1.42) ---- */

static int run_update(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        (void)fs;
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        fprintf(ctx->err,
                "%s volume update requires API version %s, but the Docker daemon API version is "
                "%s\n",
                ctx->prog, VOLUME_MIN_CLUSTER_API, c->api_version);
        return 1;
}

/* ---- the tables ---- */

static const struct cli_flag create_flags[] = {
    {"availability", 0, CLI_FLAG_STRING,
     "Cluster Volume availability (\"active\", \"pause\", \"drain\")", "active", NULL, true, NULL},
    {"driver", 'd', CLI_FLAG_STRING, "Specify volume driver name", "local", NULL, false, NULL},
    {"group", 0, CLI_FLAG_STRING, "Cluster Volume group (cluster volumes)", NULL, NULL, true, NULL},
    {"label", 0, CLI_FLAG_LIST, "Set metadata for a volume", NULL, NULL, false,
     container_check_label},
    {"limit-bytes", 0, CLI_FLAG_STRING, "Minimum size of the Cluster Volume in bytes", NULL,
     "bytes", true, NULL},
    {"name", 0, CLI_FLAG_STRING, "Specify volume name", NULL, NULL, true, NULL},
    {"opt", 'o', CLI_FLAG_LIST, "Set driver specific options (default map[])", NULL, "map", false,
     NULL},
    {"required-bytes", 0, CLI_FLAG_STRING, "Maximum size of the Cluster Volume in bytes", NULL,
     "bytes", true, NULL},
    {"scope", 0, CLI_FLAG_STRING, "Cluster Volume access scope (\"single\", \"multi\")", "single",
     NULL, true, NULL},
    {"secret", 0, CLI_FLAG_LIST, "Cluster Volume secrets (default map[])", NULL, "map", true, NULL},
    {"sharing", 0, CLI_FLAG_STRING,
     "Cluster Volume access sharing (\"none\", \"readonly\", \"onewriter\", \"all\")", "none", NULL,
     true, NULL},
    {"topology-preferred", 0, CLI_FLAG_LIST,
     "A topology that the Cluster Volume would be "
     "preferred in",
     NULL, NULL, true, NULL},
    {"topology-required", 0, CLI_FLAG_LIST,
     "A topology that the Cluster Volume must be accessible "
     "from",
     NULL, NULL, true, NULL},
    {"type", 0, CLI_FLAG_STRING, "Cluster Volume access type (\"mount\", \"block\")", "block", NULL,
     true, NULL},
};

static const struct cli_flag ls_flags[] = {
    {"cluster", 0, CLI_FLAG_BOOL,
     "Display only cluster volumes, and use cluster volume list "
     "formatting",
     NULL, NULL, true, NULL},
    {"filter", 'f', CLI_FLAG_LIST, "Provide filter values (e.g. \"dangling=true\")", NULL, "filter",
     false, cli_filter_validate},
    {"format", 0, CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'table':            Print output in table format with column headers (default)\n"
     "'table TEMPLATE':   Print output in table format using the given Go template\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template.\n"
     "Refer to https://docs.docker.com/go/formatting/ for more information about formatting "
     "output with templates",
     NULL, NULL, false, NULL},
    {"quiet", 'q', CLI_FLAG_BOOL, "Only display volume names", NULL, NULL, false, NULL},
};

static const struct cli_flag inspect_flags[] = {
    {"format", 'f', CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template.\n"
     "Refer to https://docs.docker.com/go/formatting/ for more information about formatting "
     "output with templates",
     NULL, NULL, false, NULL},
};

static const struct cli_flag rm_flags[] = {
    {"force", 'f', CLI_FLAG_BOOL, "Force the removal of one or more volumes", NULL, NULL, false,
     NULL},
};

static const struct cli_flag prune_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Remove all unused volumes, not just anonymous ones", NULL, NULL,
     true, NULL},
    {"filter", 0, CLI_FLAG_LIST, "Provide filter values (e.g. \"label=<label>\")", NULL, "filter",
     false, cli_filter_validate},
    {"force", 'f', CLI_FLAG_BOOL, "Do not prompt for confirmation", NULL, NULL, false, NULL},
};

static const struct cli_flag update_flags[] = {
    {"availability", 0, CLI_FLAG_STRING,
     "Cluster Volume availability (\"active\", \"pause\", \"drain\")", "active", NULL, false, NULL},
};

static const struct cli_command volume_create = {
    .name = "create",
    .usage = "[OPTIONS] [VOLUME]",
    .summary = "Create a volume",
    .flags = create_flags,
    .n_flags = ELEMENTSOF(create_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 1,
    .run = run_create,
};

static const struct cli_command volume_inspect = {
    .name = "inspect",
    .usage = "[OPTIONS] VOLUME [VOLUME...]",
    .summary = "Display detailed information on one or more volumes",
    .flags = inspect_flags,
    .n_flags = ELEMENTSOF(inspect_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .run = run_inspect,
};

#define VOLUME_LS(name_, hidden_)                                                                  \
        {                                                                                          \
                .name = name_, .usage = "[OPTIONS]", .summary = "List volumes", .flags = ls_flags, \
                .n_flags = ELEMENTSOF(ls_flags), .mode = CLI_PARSE_INTERSPERSED, .min_args = 0,    \
                .max_args = 0, .aliases = "volume ls, volume list", .run = run_ls,                 \
                .hidden = hidden_,                                                                 \
        }

static const struct cli_command volume_ls = VOLUME_LS("ls", false);
static const struct cli_command volume_list = VOLUME_LS("list", true);

static const struct cli_command volume_prune = {
    .name = "prune",
    .usage = "[OPTIONS]",
    .summary = "Remove unused local volumes",
    .flags = prune_flags,
    .n_flags = ELEMENTSOF(prune_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .run = run_prune,
};

#define VOLUME_RM(name_, hidden_)                                                                  \
        {                                                                                          \
                .name = name_, .usage = "[OPTIONS] VOLUME [VOLUME...]",                            \
                .summary = "Remove one or more volumes",                                           \
                .description =                                                                     \
                    "Remove one or more volumes. You cannot remove a volume that is in "           \
                    "use by a container.",                                                         \
                .flags = rm_flags, .n_flags = ELEMENTSOF(rm_flags),                                \
                .mode = CLI_PARSE_INTERSPERSED, .min_args = 1, .max_args = -1,                     \
                .aliases = "volume rm, volume remove", .run = run_rm, .hidden = hidden_,           \
        }

static const struct cli_command volume_rm = VOLUME_RM("rm", false);
static const struct cli_command volume_remove = VOLUME_RM("remove", true);

/* docker hides it below API 1.42, which is all berth speaks */
static const struct cli_command volume_update = {
    .name = "update",
    .usage = "[OPTIONS] [VOLUME]",
    .summary = "Update a volume (cluster volumes only)",
    .flags = update_flags,
    .n_flags = ELEMENTSOF(update_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 1,
    .run = run_update,
    .hidden = true,
};

static const struct cli_command *const volume_subcommands[] = {
    // clang-format off
    &volume_create,
    &volume_inspect,
    &volume_ls,
    &volume_list,
    &volume_prune,
    &volume_rm,
    &volume_remove,
    &volume_update,
    NULL,
    // clang-format on
};

const struct cli_command cli_cmd_volume = {
    .name = "volume",
    .usage = "COMMAND", /* docker's Use "volume COMMAND": its unknown-command usage line */
    .summary = "Manage volumes",
    .group = CLI_GROUP_MANAGEMENT,
    .subcommands = volume_subcommands,
};
