/*
 * cmd-container-list.c — `berth ps` (`container ls|list|ps`), `berth logs`,
 * `berth inspect` and `berth container inspect`, and the `berth container`
 * management command.
 *
 * ps renders with formatter.h (docker's ContainerContext rows and table);
 * logs demultiplexes unless the container has a TTY (it asks inspect first, as
 * docker does); inspect prints the daemon's own bytes re-indented as Go's
 * json.Indent does (four spaces), so the output is byte for byte docker's, and
 * `inspect` without --type tries container, image, network, volume and plugin
 * in docker's order ("Error: No such object: x" when none has it).
 *
 * Never: re-encode inspect data (key order and escapes are the daemon's).
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "container-cmd.h"
#include "container-opts.h"
#include "credentials.h"
#include "filter-flag.h"
#include "formatter.h"
#include "gotemplate.h"

/* ---- ps ---- */

char *container_config_key(const char *key)
{
        _cleanup_free_ char *path = cli_credentials_path();
        _cleanup_json_ struct json *j = NULL;
        if (access(path, F_OK) != 0 || json_parse_file(path, 16 << 20, &j, NULL) < 0)
                return NULL;
        const char *v = json_str(json_get(j, key));
        return v && *v ? xstrdup(v) : NULL;
}

static int run_ps(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *given = cli_flag_string(fs, "format");
        bool quiet = cli_flag_bool(fs, "quiet");
        _cleanup_free_ char *cfg_format = NULL;
        const char *format = given;
        if (!format || !*format)
                format = cfg_format = container_config_key("psFormat");
        else if (quiet)
                fprintf(ctx->err,
                        "WARNING: Ignoring custom format, because both --format and --quiet are "
                        "set.\n");
        bool size = cli_flag_bool(fs, "size");
        if (format && *format) {
                bool uses_size = false;
                _cleanup_error_ struct berth_error *err = NULL;
                if (formatter_container_check(format, &uses_size, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
                if (!quiet && !size && !cli_flag_is_set(fs, "size") && uses_size)
                        size = true;
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        struct berth_buf q = BERTH_BUF_INIT;
        if (cli_flag_bool(fs, "all"))
                buf_puts(&q, "all=1");
        cli_filters_query(&q, cli_flag_list(fs, "filter"), NULL, NULL);
        int64_t limit = cli_flag_int(fs, "last");
        if (cli_flag_bool(fs, "latest") && limit == -1)
                limit = 1;
        if (limit > 0) {
                container_query_sep(&q);
                buf_printf(&q, "limit=%lld", (long long)limit);
        }
        if (size) {
                container_query_sep(&q);
                buf_puts(&q, "size=1");
        }
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = container_request(c, "GET", "/containers/json", q.len ? q.data : NULL, NULL, &resp,
                                  &err);
        buf_release(&q);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status != 200) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        _cleanup_json_ struct json *list = NULL;
        r = json_parse(resp.body, resp.len, &list, &err);
        cli_response_release(&resp);
        if (r < 0) {
                fprintf(ctx->err, "berth: bad /containers/json reply from the daemon: %s\n",
                        berth_error_msg(err));
                return 1;
        }
        _cleanup_json_ struct json *methods = NULL;
        _cleanup_json_ struct json *rows = formatter_container_rows(
            list, cli_flag_bool(fs, "no-trunc"), (int64_t)time(NULL), &methods);
        _cleanup_free_ char *fmt = formatter_container_format(format ? format : "", quiet, size);
        _cleanup_json_ struct json *header = formatter_container_header();
        struct berth_buf out = BERTH_BUF_INIT;
        r = formatter_write(fmt, rows, methods, header, FORMATTER_CONTAINER_ROW_TYPE, &out, &err);
        if (r < 0) {
                buf_release(&out);
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (out.len)
                fwrite(out.data, 1, out.len, ctx->out);
        buf_release(&out);
        return 0;
}

/* ---- logs ---- */

struct logs_out {
        struct cli_ctx *ctx;
        bool tty;
        int status;
        struct stdcopy demux;
        struct berth_buf error_body;
        struct berth_error *err;
};

static int logs_write(int stream, const char *data, size_t len, void *userdata)
{
        struct logs_out *lo = userdata;
        FILE *f = stream == 2 ? lo->ctx->err : lo->ctx->out;
        if (fwrite(data, 1, len, f) != len)
                return -EIO;
        fflush(f);
        return 0;
}

static int logs_chunk(const char *data, size_t len, void *userdata)
{
        struct logs_out *lo = userdata;
        if (lo->status != 200) {
                buf_append(&lo->error_body, data, len);
                return 0;
        }
        if (lo->tty)
                return logs_write(1, data, len, lo);
        return stdcopy_feed(&lo->demux, data, len, logs_write, lo, &lo->err);
}

static int run_logs(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_json_ struct json *info = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_inspect(c, fs->args[0], &info, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        const struct json *tty = json_get(json_get(info, "Config"), "Tty");
        const char *id = json_str(json_get(info, "Id"));
        /* the Go client's query, keys in url.Values order */
        struct berth_buf q = BERTH_BUF_INIT;
        if (cli_flag_bool(fs, "details"))
                buf_puts(&q, "details=1&");
        if (cli_flag_bool(fs, "follow"))
                buf_puts(&q, "follow=1&");
        const char *since = cli_flag_string(fs, "since");
        if (since && *since) {
                _cleanup_free_ char *ts = NULL;
                if (container_timestamp(since, (int64_t)time(NULL), &ts, &err) < 0) {
                        fprintf(ctx->err, "invalid value for \"since\": %s\n",
                                berth_error_msg(err));
                        buf_release(&q);
                        return 1;
                }
                buf_puts(&q, "since=");
                http_escape_query(&q, ts);
                buf_putc(&q, '&');
        }
        buf_puts(&q, "stderr=1&stdout=1");
        const char *tail = cli_flag_string(fs, "tail");
        if (tail && *tail) {
                buf_puts(&q, "&tail=");
                http_escape_query(&q, tail);
        }
        if (cli_flag_bool(fs, "timestamps"))
                buf_puts(&q, "&timestamps=1");
        const char *until = cli_flag_string(fs, "until");
        if (until && *until) {
                _cleanup_free_ char *ts = NULL;
                if (container_timestamp(until, (int64_t)time(NULL), &ts, &err) < 0) {
                        fprintf(ctx->err, "invalid value for \"until\": %s\n",
                                berth_error_msg(err));
                        buf_release(&q);
                        return 1;
                }
                buf_puts(&q, "&until=");
                http_escape_query(&q, ts);
        }
        _cleanup_free_ char *path = container_path(id ? id : fs->args[0], "/logs");
        struct logs_out lo = {.ctx = ctx, .tty = tty && tty->b};
        fflush(ctx->out);
        int r = cli_client_stream(c, "GET", path, q.data, NULL, NULL, 0, &lo.status, logs_chunk,
                                  &lo, &err);
        buf_release(&q);
        int code = 0;
        if (r < 0 && lo.err) {
                fprintf(ctx->err, "%s\n", berth_error_msg(lo.err));
                code = 1;
        } else if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                code = 1;
        } else if (lo.status != 200) {
                struct cli_response resp = {
                    .status = lo.status, .body = lo.error_body.data, .len = lo.error_body.len};
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                code = 1;
        }
        berth_error_free(lo.err);
        stdcopy_release(&lo.demux);
        buf_release(&lo.error_body);
        return code;
}

/* ---- inspect ---- */

/* Go's json.Indent(dst, src, "", "    "): the bytes as they are, whitespace between
 * tokens replaced by newlines and indentation; empty [] and {} stay on one line. */
void container_json_indent(struct berth_buf *out, const char *src, size_t len)
{
        int depth = 0;
        bool in_str = false, esc = false, need_indent = false;
        for (size_t i = 0; i < len; i++) {
                char c = src[i];
                if (in_str) {
                        buf_putc(out, c);
                        if (esc)
                                esc = false;
                        else if (c == '\\')
                                esc = true;
                        else if (c == '"')
                                in_str = false;
                        continue;
                }
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                        continue;
                if (need_indent && c != ']' && c != '}') {
                        buf_putc(out, '\n');
                        for (int k = 0; k < depth; k++)
                                buf_puts(out, "    ");
                }
                if (need_indent && (c == ']' || c == '}')) {
                        /* an empty container: no line of its own */
                        need_indent = false;
                        depth--;
                        buf_putc(out, c);
                        continue;
                }
                need_indent = false;
                switch (c) {
                case '{':
                case '[':
                        buf_putc(out, c);
                        depth++;
                        need_indent = true;
                        break;
                case ',':
                        buf_putc(out, c);
                        need_indent = true;
                        break;
                case ':':
                        buf_puts(out, ": ");
                        break;
                case '}':
                case ']':
                        depth--;
                        buf_putc(out, '\n');
                        for (int k = 0; k < depth; k++)
                                buf_puts(out, "    ");
                        buf_putc(out, c);
                        break;
                case '"':
                        in_str = true;
                        buf_putc(out, c);
                        break;
                default:
                        buf_putc(out, c);
                }
        }
}

enum inspect_kind {
        KIND_CONTAINER,
        KIND_IMAGE,
        KIND_NETWORK,
        KIND_VOLUME,
        KIND_PLUGIN,
};

static const char *const all_types =
    "\"config\", \"container\", \"image\", \"network\", \"node\", \"plugin\", \"secret\", "
    "\"service\", \"task\", \"volume\"";

/* One object's raw JSON; 0 found, 1 not found (or not supported: try the next kind), <0 error
 * with docker's message. */
static int inspect_one(struct cli_client *c, enum inspect_kind kind, const char *ref, bool size,
                       struct cli_response *ret, char **ret_msg)
{
        _cleanup_free_ char *path = NULL;
        const char *query = NULL;
        switch (kind) {
        case KIND_CONTAINER:
                path = container_path(ref, "/json");
                query = size ? "size=1" : NULL;
                break;
        case KIND_IMAGE:
                path = container_api_path("/images/", ref, "/json");
                break;
        case KIND_NETWORK:
                path = container_api_path("/networks/", ref, "");
                break;
        case KIND_VOLUME:
                path = container_api_path("/volumes/", ref, "");
                break;
        case KIND_PLUGIN:
                path = container_api_path("/plugins/", ref, "/json");
                break;
        }
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_request(c, "GET", path, query, NULL, NULL, 0, ret, &err) < 0) {
                *ret_msg = xstrdup(berth_error_msg(err));
                return -EIO;
        }
        if (ret->status == 200)
                return 0;
        *ret_msg = container_daemon_error(ret);
        int r = ret->status == 404 || strstr(*ret_msg, "not supported") ||
                        strstr(*ret_msg, "invalid reference format")
                    ? 1
                    : -EIO;
        cli_response_release(ret);
        return r;
}

/* docker's isSwarmManager: GET /info, Swarm.ControlAvailable. */
static bool swarm_manager(struct cli_ctx *ctx, struct cli_client *c)
{
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_request(c, "GET", "/info", NULL, NULL, NULL, 0, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return false;
        }
        _cleanup_json_ struct json *j = NULL;
        bool manager = false;
        if (resp.status == 200 && json_parse(resp.body, resp.len, &j, NULL) == 0) {
                const struct json *ca = json_get(json_get(j, "Swarm"), "ControlAvailable");
                manager = ca && ca->b;
        }
        cli_response_release(&resp);
        return manager;
}

struct inspect_run {
        struct cli_ctx *ctx;
        struct cli_client *c;
        const char *type; /* NULL: every kind */
        bool size;
        struct gotemplate *tmpl;
        struct berth_buf raw;    /* "[a,b" without format */
        struct berth_buf text;   /* template results */
        struct berth_buf errors; /* joined errors */
        size_t n_found;
};

static void inspect_add(struct inspect_run *ir, enum inspect_kind kind,
                        const struct cli_response *resp)
{
        if (!ir->tmpl) {
                buf_putc(&ir->raw, ir->n_found ? ',' : '[');
                buf_append(&ir->raw, resp->body, resp->len);
                ir->n_found++;
                return;
        }
        _cleanup_json_ struct json *j = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (json_parse(resp->body, resp->len, &j, &e) < 0) {
                buf_printf(&ir->errors, "unable to read inspect data: %s\n", berth_error_msg(e));
                return;
        }
        if (kind == KIND_NETWORK) {
                /* docker's network.Inspect struct first, then the raw JSON */
                if (network_inspect_template(ir->tmpl, j, &ir->text, &e) < 0) {
                        buf_printf(&ir->errors, "template parsing error: %s\n", berth_error_msg(e));
                        return;
                }
                ir->n_found++;
                return;
        }
        size_t before = ir->text.len;
        if (gotemplate_exec(ir->tmpl, j, 0, &ir->text, &e) < 0) {
                ir->text.len = before;
                if (ir->text.data)
                        ir->text.data[before] = '\0';
                buf_printf(&ir->errors, "template parsing error: %s\n", berth_error_msg(e));
                return;
        }
        buf_putc(&ir->text, '\n');
        ir->n_found++;
}

static void inspect_ref(struct inspect_run *ir, const char *ref)
{
        static const struct {
                enum inspect_kind kind;
                const char *name;
                bool swarm_after; /* the swarm kinds docker tries next come after this one */
        } order[] = {
            {KIND_CONTAINER, "container", false}, {KIND_IMAGE, "image", false},
            {KIND_NETWORK, "network", false},     {KIND_VOLUME, "volume", true},
            {KIND_PLUGIN, "plugin", false},
        };
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                if (ir->type && strcmp(ir->type, order[i].name) != 0)
                        continue;
                struct cli_response resp;
                _cleanup_free_ char *msg = NULL;
                int r = inspect_one(ir->c, order[i].kind, ref, ir->size, &resp, &msg);
                if (r == 0) {
                        if (ir->size && order[i].kind != KIND_CONTAINER)
                                fprintf(ir->ctx->err, "WARNING: --size ignored for %s\n",
                                        order[i].name);
                        inspect_add(ir, order[i].kind, &resp);
                        cli_response_release(&resp);
                        return;
                }
                if (r < 0 || ir->type) {
                        buf_printf(&ir->errors, "%s\n", msg);
                        return;
                }
                /* services, tasks and nodes are only asked of a swarm manager */
                if (order[i].swarm_after && swarm_manager(ir->ctx, ir->c)) {
                        /* berth has no swarm objects; a manager would have been asked here */
                }
        }
        if (ir->type && strcmp(ir->type, "container") && strcmp(ir->type, "image") &&
            strcmp(ir->type, "network") && strcmp(ir->type, "volume") &&
            strcmp(ir->type, "plugin")) {
                /* node, service, task, secret, config: swarm objects */
                buf_printf(&ir->errors,
                           "Error response from daemon: This node is not a swarm manager. Use "
                           "\"docker swarm init\" or \"docker swarm join\" to connect this node "
                           "to swarm and try again.\n");
                return;
        }
        buf_printf(&ir->errors, "Error: No such object: %s\n", ref);
}

static int inspect_run(struct cli_ctx *ctx, const struct cli_flagset *fs, const char *type)
{
        const char *format = cli_flag_string(fs, "format");
        struct inspect_run ir = {.ctx = ctx, .type = type, .size = cli_flag_bool(fs, "size")};
        if (format && *format && strcmp(format, "json") != 0) {
                _cleanup_free_ char *text = formatter_template_string(format);
                _cleanup_error_ struct berth_error *err = NULL;
                if (gotemplate_parse(text, &ir.tmpl, &err) < 0) {
                        fprintf(ctx->err, "template parsing error: %s\n", berth_error_msg(err));
                        return 64;
                }
        }
        if (!(ir.c = container_client(ctx))) {
                gotemplate_free(ir.tmpl);
                return 1;
        }
        for (size_t i = 0; i < fs->n_args; i++)
                inspect_ref(&ir, fs->args[i]);
        struct berth_buf out = BERTH_BUF_INIT;
        if (ir.tmpl) {
                buf_append(&out, ir.text.len ? ir.text.data : "\n", ir.text.len ? ir.text.len : 1);
        } else if (!ir.n_found) {
                buf_puts(&out, "[]\n");
        } else {
                buf_putc(&ir.raw, ']');
                if (format && strcmp(format, "json") == 0) {
                        /* json.Compact: the daemon's bytes, escapes and all */
                        json_compact_text(&out, ir.raw.data, ir.raw.len);
                } else {
                        container_json_indent(&out, ir.raw.data, ir.raw.len);
                }
                buf_putc(&out, '\n');
        }
        fwrite(out.data, 1, out.len, ctx->out);
        fflush(ctx->out);
        int code = 0;
        if (ir.errors.len) {
                fputs(ir.errors.data, ctx->err);
                code = 1;
        }
        buf_release(&out);
        buf_release(&ir.raw);
        buf_release(&ir.text);
        buf_release(&ir.errors);
        gotemplate_free(ir.tmpl);
        return code;
}

static int run_inspect(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *type = cli_flag_string(fs, "type");
        if (cli_flag_is_set(fs, "type") && (!type || !*type)) {
                fprintf(ctx->err, "type is empty: must be one of %s\n", all_types);
                return 1;
        }
        static const char *const known[] = {"config", "container", "image",   "network", "node",
                                            "plugin", "secret",    "service", "task",    "volume"};
        if (type && *type) {
                bool ok = false;
                for (size_t i = 0; i < ELEMENTSOF(known); i++)
                        ok |= strcmp(type, known[i]) == 0;
                if (!ok) {
                        fprintf(ctx->err, "unknown type: \"%s\": must be one of %s\n", type,
                                all_types);
                        return 1;
                }
        }
        return inspect_run(ctx, fs, type && *type ? type : NULL);
}

static int run_container_inspect(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        return inspect_run(ctx, fs, "container");
}

/* ---- tables ---- */

#define FORMAT_HELP                                                                                \
        "Format output using a custom template:\n"                                                 \
        "'table':            Print output in table format with column headers (default)\n"         \
        "'table TEMPLATE':   Print output in table format using the given Go template\n"           \
        "'json':             Print in JSON format\n"                                               \
        "'TEMPLATE':         Print output using the given Go template.\n"                          \
        "Refer to https://docs.docker.com/go/formatting/ for more information about formatting "   \
        "output with templates"

static const struct cli_flag ps_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Show all containers (default shows just running)", NULL, NULL,
     false, NULL},
    {"filter", 'f', CLI_FLAG_LIST, "Filter output based on conditions provided", NULL, "filter",
     false, cli_filter_validate},
    {"format", 0, CLI_FLAG_STRING, FORMAT_HELP, NULL, NULL, false, NULL},
    {"last", 'n', CLI_FLAG_INT, "Show n last created containers (includes all states)", "-1", NULL,
     false, NULL},
    {"latest", 'l', CLI_FLAG_BOOL, "Show the latest created container (includes all states)", NULL,
     NULL, false, NULL},
    {"no-trunc", 0, CLI_FLAG_BOOL, "Don't truncate output", NULL, NULL, false, NULL},
    {"quiet", 'q', CLI_FLAG_BOOL, "Only display container IDs", NULL, NULL, false, NULL},
    {"size", 's', CLI_FLAG_BOOL, "Display total file sizes", NULL, NULL, false, NULL},
};

static const struct cli_flag logs_flags[] = {
    {"details", 0, CLI_FLAG_BOOL, "Show extra details provided to logs", NULL, NULL, false, NULL},
    {"follow", 'f', CLI_FLAG_BOOL, "Follow log output", NULL, NULL, false, NULL},
    {"since", 0, CLI_FLAG_STRING,
     "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 "
     "minutes)",
     NULL, NULL, false, NULL},
    {"tail", 'n', CLI_FLAG_STRING, "Number of lines to show from the end of the logs", "all", NULL,
     false, NULL},
    {"timestamps", 't', CLI_FLAG_BOOL, "Show timestamps", NULL, NULL, false, NULL},
    {"until", 0, CLI_FLAG_STRING,
     "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for "
     "42 minutes)",
     NULL, NULL, false, NULL},
};

static const struct cli_flag inspect_flags[] = {
    {"format", 'f', CLI_FLAG_STRING,
     "Format output using a custom template:\n'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template.\nRefer to "
     "https://docs.docker.com/go/formatting/ for more information about formatting output with "
     "templates",
     NULL, NULL, false, NULL},
    {"size", 's', CLI_FLAG_BOOL, "Display total file sizes if the type is container", NULL, NULL,
     false, NULL},
    {"type", 0, CLI_FLAG_STRING, "Only inspect objects of the given type", NULL, NULL, false, NULL},
};

static const struct cli_flag container_inspect_flags[] = {
    {"format", 'f', CLI_FLAG_STRING,
     "Format output using a custom template:\n'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template.\nRefer to "
     "https://docs.docker.com/go/formatting/ for more information about formatting output with "
     "templates",
     NULL, NULL, false, NULL},
    {"size", 's', CLI_FLAG_BOOL, "Display total file sizes", NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_ps = {
    .name = "ps",
    .usage = "[OPTIONS]",
    .summary = "List containers",
    .group = CLI_GROUP_COMMON,
    .flags = ps_flags,
    .n_flags = ELEMENTSOF(ps_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .aliases = "container ls, container list, container ps, ps",
    .run = run_ps,
};

static const struct cli_command cli_cmd_container_ls = {
    .name = "ls",
    .usage = "[OPTIONS]",
    .summary = "List containers",
    .flags = ps_flags,
    .n_flags = ELEMENTSOF(ps_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .aliases = "container ls, container list, container ps, ps",
    .run = run_ps,
};

static const struct cli_command cli_cmd_container_ps = {
    .name = "ps",
    .usage = "[OPTIONS]",
    .summary = "List containers",
    .flags = ps_flags,
    .n_flags = ELEMENTSOF(ps_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .aliases = "container ls, container list, container ps, ps",
    .run = run_ps,
    .hidden = true,
};

static const struct cli_command cli_cmd_container_list = {
    .hidden = true,
    .name = "list",
    .usage = "[OPTIONS]",
    .summary = "List containers",
    .flags = ps_flags,
    .n_flags = ELEMENTSOF(ps_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .aliases = "container ls, container list, container ps, ps",
    .run = run_ps,
};

const struct cli_command cli_cmd_logs = {
    .name = "logs",
    .usage = "[OPTIONS] CONTAINER",
    .summary = "Fetch the logs of a container",
    .group = CLI_GROUP_OTHER,
    .flags = logs_flags,
    .n_flags = ELEMENTSOF(logs_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 1,
    .aliases = "container logs, logs",
    .run = run_logs,
};

const struct cli_command cli_cmd_inspect = {
    .name = "inspect",
    .usage = "[OPTIONS] NAME|ID [NAME|ID...]",
    .summary = "Return low-level information on Docker objects",
    .group = CLI_GROUP_OTHER,
    .flags = inspect_flags,
    .n_flags = ELEMENTSOF(inspect_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .run = run_inspect,
};

static const struct cli_command cli_cmd_container_inspect = {
    .name = "inspect",
    .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
    .summary = "Display detailed information on one or more containers",
    .flags = container_inspect_flags,
    .n_flags = ELEMENTSOF(container_inspect_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .run = run_container_inspect,
};

/* ---- the container management command ---- */

extern const struct cli_command cli_cmd_container_prune;
extern const struct cli_command cli_cmd_container_remove;

static const struct cli_command *const container_subcommands[] = {
    // clang-format off
    &cli_cmd_attach,
    &cli_cmd_commit,
    &cli_cmd_cp,
    &cli_cmd_create,
    &cli_cmd_diff,
    &cli_cmd_exec,
    &cli_cmd_export,
    &cli_cmd_container_inspect,
    &cli_cmd_kill,
    &cli_cmd_logs,
    &cli_cmd_container_ls,
    &cli_cmd_container_list,
    &cli_cmd_pause,
    &cli_cmd_port,
    &cli_cmd_container_prune,
    &cli_cmd_container_ps,
    &cli_cmd_rename,
    &cli_cmd_container_remove,
    &cli_cmd_restart,
    &cli_cmd_rm,
    &cli_cmd_run,
    &cli_cmd_start,
    &cli_cmd_stats,
    &cli_cmd_stop,
    &cli_cmd_top,
    &cli_cmd_unpause,
    &cli_cmd_update,
    &cli_cmd_wait,
    NULL,
    // clang-format on
};

const struct cli_command cli_cmd_container = {
    .name = "container",
    .summary = "Manage containers",
    .group = CLI_GROUP_MANAGEMENT,
    .subcommands = container_subcommands,
};
