/*
 * cmd-system-df.c — `berth system df [-v] [--format F]`, docker CLI 28's
 * rendering of GET /system/df.
 *
 * The summary is four rows (Images, Containers, Local Volumes, Build Cache)
 * of docker's diskUsage*Context values, all strings: TotalCount, Active, Size
 * and Reclaimable ("1.2MB (50%)", the percentage of the row's total, integer
 * division, left out when the total is 0).  Images count what no container
 * uses as reclaimable (LayersSize less the unique size of used images);
 * containers what is not running, paused or restarting; volumes what no
 * container mounts; build cache what is neither in use nor shared.
 *
 * -v prints the four sections docker prints ("Images space usage:" …), with
 * IDs truncated and containers' virtual size left out; -v with json or a
 * template executes it once over {Images, Containers, Volumes, BuildCache},
 * the rows untruncated, without a final newline, as docker 28 does.
 *
 * Never: count a size the daemon reported as unknown (-1).
 */
#include <string.h>
#include <time.h>

#include "base/units.h"
#include "container-cmd.h"
#include "formatter.h"

#define DF_TABLE "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
#define DF_IMAGES                                                                                  \
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"  \
        "\t{{.UniqueSize}}\t{{.Containers}}"
#define DF_CONTAINERS                                                                              \
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"   \
        "\t{{.Status}}\t{{.Names}}"
#define DF_VOLUMES "table {{.Name}}\t{{.Links}}\t{{.Size}}"
#define DF_BUILD_CACHE                                                                             \
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"          \
        "\t{{.UsageCount}}\t{{.Shared}}"

static int64_t num(const struct json *o, const char *key, int64_t dflt)
{
        const struct json *v = json_get(o, key);
        if (!json_is(v, JSON_NUMBER))
                return dflt;
        return (v->num.flags & JSON_NUM_INT) ? v->num.i : (int64_t)v->num.d;
}

static bool flag(const struct json *o, const char *key)
{
        const struct json *v = json_get(o, key);
        return json_is(v, JSON_BOOL) && v->b;
}

static char *human(int64_t size)
{
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        units_human_size(&b, (double)size);
        return buf_steal(&b);
}

/* "1.2MB (50%)", or "1.2MB" when total is 0. */
static char *reclaimable(int64_t r, int64_t total)
{
        _cleanup_free_ char *h = human(r);
        return total > 0 ? xasprintf("%s (%lld%%)", h, (long long)(r * 100 / total)) : xstrdup(h);
}

static void add_row(struct json *rows, const char *type, size_t total, size_t active, int64_t size,
                    char *reclaim)
{
        struct json *row = json_array_append(rows, json_new_object());
        _cleanup_free_ char *a = xasprintf("%zu", active);
        _cleanup_free_ char *h = human(size);
        _cleanup_free_ char *t = xasprintf("%zu", total);
        json_set_str(row, "Active", a);
        json_set_str(row, "Reclaimable", reclaim);
        json_set_str(row, "Size", h);
        json_set_str(row, "TotalCount", t);
        json_set_str(row, "Type", type);
        free(reclaim);
}

static bool container_active(const struct json *c)
{
        const char *st = json_str(json_get(c, "State")) ?: "";
        return strstr(st, "running") || strstr(st, "paused") || strstr(st, "restarting");
}

/* The builder's size: every record not shared with another. */
static int64_t builder_size(const struct json *cache)
{
        int64_t size = 0;
        size_t i;
        struct json *bc;
        json_array_foreach (cache, i, bc)
                if (!flag(bc, "Shared"))
                        size += num(bc, "Size", 0);
        return size;
}

static struct json *summary_rows(const struct json *du)
{
        struct json *rows = json_new_array();
        const struct json *images = json_get(du, "Images");
        int64_t layers = num(du, "LayersSize", 0), used = 0;
        size_t active = 0, i;
        struct json *o;
        json_array_foreach (images, i, o) {
                if (num(o, "Containers", 0) == 0)
                        continue;
                active++;
                int64_t size = num(o, "Size", -1), shared = num(o, "SharedSize", -1);
                if (size != -1 && shared != -1)
                        used += size - shared;
        }
        add_row(rows, "Images", json_len(images), active, layers,
                reclaimable(layers - used, layers));

        const struct json *ctrs = json_get(du, "Containers");
        int64_t total = 0, reclaim = 0;
        active = 0;
        json_array_foreach (ctrs, i, o) {
                int64_t rw = num(o, "SizeRw", 0);
                total += rw;
                if (container_active(o))
                        active++;
                else
                        reclaim += rw;
        }
        add_row(rows, "Containers", json_len(ctrs), active, total, reclaimable(reclaim, total));

        const struct json *vols = json_get(du, "Volumes");
        total = reclaim = 0;
        active = 0;
        json_array_foreach (vols, i, o) {
                const struct json *u = json_get(o, "UsageData");
                int64_t size = num(u, "Size", -1), refs = num(u, "RefCount", 0);
                if (refs > 0)
                        active++;
                if (size == -1)
                        continue;
                total += size;
                if (refs == 0)
                        reclaim += size;
        }
        add_row(rows, "Local Volumes", json_len(vols), active, total, reclaimable(reclaim, total));

        const struct json *cache = json_get(du, "BuildCache");
        int64_t bsize = builder_size(cache), in_use = 0;
        active = 0;
        json_array_foreach (cache, i, o) {
                if (flag(o, "InUse"))
                        active++;
                if (flag(o, "InUse") && !flag(o, "Shared"))
                        in_use += num(o, "Size", 0);
        }
        add_row(rows, "Build Cache", json_len(cache), active, bsize, human(bsize - in_use));
        return rows;
}

/* docker's buildCacheContext rows (the daemon's RFC 3339 times, seen from now). */
static struct json *cache_rows(const struct json *cache, bool trunc, int64_t now)
{
        struct json *rows = json_new_array();
        size_t i;
        struct json *bc;
        json_array_foreach (cache, i, bc) {
                struct json *row = json_array_append(rows, json_new_object());
                _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
                const char *id = json_str(json_get(bc, "ID")) ?: "";
                buf_printf(&b, "%.*s%s", trunc ? 12 : (int)strlen(id), id,
                           trunc && flag(bc, "Shared") ? "*" : "");
                json_set_str(row, "ID", b.data);
                json_set_str(row, "CacheType", json_str(json_get(bc, "Type")) ?: "");
                _cleanup_free_ char *size = human(num(bc, "Size", 0));
                json_set_str(row, "Size", size);
                static const char *const times[][2] = {{"CreatedAt", "CreatedSince"},
                                                       {"LastUsedAt", "LastUsedSince"}};
                for (size_t t = 0; t < ELEMENTSOF(times); t++) {
                        struct tm tm = {0};
                        const char *when = json_str(json_get(bc, times[t][0]));
                        b.len = 0;
                        buf_append(&b, "", 0);
                        if (when && strptime(when, "%Y-%m-%dT%H:%M:%S", &tm))
                                units_ago(&b, (int64_t)timegm(&tm), now);
                        json_set_str(row, times[t][1], b.data);
                }
                _cleanup_free_ char *count = xasprintf("%lld", (long long)num(bc, "UsageCount", 0));
                json_set_str(row, "UsageCount", count);
                json_set_str(row, "Shared", flag(bc, "Shared") ? "true" : "false");
        }
        return rows;
}

static struct json *volume_rows(const struct json *vols)
{
        struct json *rows = json_new_array();
        size_t i;
        struct json *v;
        json_array_foreach (vols, i, v)
                json_array_append(rows, volume_context_row(v, NULL));
        return rows;
}

/* Containers without their virtual size, which docker's df does not show. */
static struct json *container_rows(const struct json *ctrs, bool no_trunc, int64_t now)
{
        _cleanup_json_ struct json *copy = json_copy(ctrs);
        size_t i;
        struct json *c;
        json_array_foreach (copy, i, c)
                json_object_set(c, "SizeRootFs", json_new_int(0));
        _cleanup_json_ struct json *methods = NULL;
        return formatter_container_rows(copy, no_trunc, now, &methods);
}

static struct json *header(const char *const (*cols)[2], size_t n)
{
        struct json *o = json_new_object();
        for (size_t i = 0; i < n; i++)
                json_set_str(o, cols[i][0], cols[i][1]);
        return o;
}

static int write_section(struct berth_buf *out, const char *format, const struct json *rows,
                         struct json *head, const char *row_type, struct berth_error **err)
{
        int r = formatter_write(format, rows, NULL, head, row_type, out, err);
        json_free(head);
        return r;
}

static int verbose_tables(const struct json *du, int64_t now, struct berth_buf *out,
                          struct berth_error **err)
{
        static const char *const vol_cols[][2] = {
            {"Name", "VOLUME NAME"}, {"Links", "LINKS"}, {"Size", "SIZE"}};
        static const char *const cache_cols[][2] = {
            {"ID", "CACHE ID"},          {"CacheType", "CACHE TYPE"},    {"Size", "SIZE"},
            {"CreatedSince", "CREATED"}, {"LastUsedSince", "LAST USED"}, {"UsageCount", "USAGE"},
            {"Shared", "SHARED"}};
        _cleanup_json_ struct json *images =
            formatter_image_rows(json_get(du, "Images"), DF_IMAGES, false, false, now);
        _cleanup_json_ struct json *ctrs = container_rows(json_get(du, "Containers"), false, now);
        _cleanup_json_ struct json *vols = volume_rows(json_get(du, "Volumes"));
        _cleanup_json_ struct json *cache = cache_rows(json_get(du, "BuildCache"), true, now);
        buf_puts(out, "Images space usage:\n\n");
        int r = write_section(out, DF_IMAGES, images, formatter_image_header(),
                              FORMATTER_IMAGE_ROW_TYPE, err);
        if (r == 0) {
                buf_puts(out, "\nContainers space usage:\n\n");
                r = write_section(out, DF_CONTAINERS, ctrs, formatter_container_header(),
                                  FORMATTER_CONTAINER_ROW_TYPE, err);
        }
        if (r == 0) {
                buf_puts(out, "\nLocal Volumes space usage:\n\n");
                r = write_section(out, DF_VOLUMES, vols, header(vol_cols, ELEMENTSOF(vol_cols)),
                                  "*formatter.volumeContext", err);
        }
        if (r == 0) {
                _cleanup_free_ char *bsize = human(builder_size(json_get(du, "BuildCache")));
                buf_printf(out, "\nBuild cache usage: %s\n\n", bsize);
                r = write_section(out, DF_BUILD_CACHE, cache,
                                  header(cache_cols, ELEMENTSOF(cache_cols)),
                                  "*formatter.buildCacheContext", err);
        }
        return r;
}

/* -v with json or a template: once over the four lists, rows untruncated. */
static int verbose_template(const struct json *du, const char *format, int64_t now,
                            struct berth_buf *out, struct berth_error **err)
{
        _cleanup_json_ struct json *rows = json_new_array();
        struct json *data = json_array_append(rows, json_new_object());
        struct json *images = json_object_set(
            data, "Images", formatter_image_rows(json_get(du, "Images"), "", false, true, now));
        size_t i;
        struct json *row;
        json_array_foreach (images, i, row)
                json_set_str(row, "Digest", ""); /* docker's df rows carry no digest */
        json_object_set(data, "Containers", container_rows(json_get(du, "Containers"), true, now));
        json_object_set(data, "Volumes", volume_rows(json_get(du, "Volumes")));
        json_object_set(data, "BuildCache", cache_rows(json_get(du, "BuildCache"), false, now));
        size_t before = out->len;
        int r = formatter_write(format, rows, NULL, NULL, "*formatter.diskUsageContext", out, err);
        const char *prefix = "template parsing error: ";
        if (r < 0 && strncmp(berth_error_msg(*err), prefix, strlen(prefix)) == 0) {
                /* docker's verbose path reports the template's error as it is */
                _cleanup_free_ char *msg = xstrdup(berth_error_msg(*err) + strlen(prefix));
                berth_error_freep(err);
                return berth_error_set(err, EINVAL, "%s", msg);
        }
        if (r == 0 && out->len > before && out->data[out->len - 1] == '\n')
                out->data[--out->len] = '\0'; /* docker's verbose template ends without one */
        return r;
}

static int run_df(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *format = cli_flag_string(fs, "format");
        bool verbose = cli_flag_bool(fs, "verbose");
        bool table = !format || !*format || strcmp(format, "table") == 0;
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_request(c, "GET", "/system/df", NULL, NULL, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status / 100 != 2) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        _cleanup_json_ struct json *du = NULL;
        int r = json_parse(resp.body, resp.len, &du, &err);
        cli_response_release(&resp);
        if (r < 0) {
                fprintf(ctx->err, "berth: bad /system/df reply from the daemon: %s\n",
                        berth_error_msg(err));
                return 1;
        }
        int64_t now = (int64_t)time(NULL);
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        buf_append(&out, "", 0);
        if (verbose && table) {
                r = verbose_tables(du, now, &out, &err);
        } else if (verbose) {
                r = verbose_template(du, format, now, &out, &err);
        } else {
                _cleanup_json_ struct json *rows = summary_rows(du);
                static const char *const cols[][2] = {{"Type", "TYPE"},
                                                      {"TotalCount", "TOTAL"},
                                                      {"Active", "ACTIVE"},
                                                      {"Size", "SIZE"},
                                                      {"Reclaimable", "RECLAIMABLE"}};
                r = write_section(&out, table ? DF_TABLE : format, rows,
                                  header(cols, ELEMENTSOF(cols)),
                                  "*formatter.diskUsageImagesContext", &err);
        }
        fputs(out.data, ctx->out);
        if (r < 0) {
                fflush(ctx->out);
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        return 0;
}

static const struct cli_flag df_flags[] = {
    {"format", 0, CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'table':            Print output in table format with column headers (default)\n"
     "'table TEMPLATE':   Print output in table format using the given Go template\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template.\n"
     "Refer to https://docs.docker.com/go/formatting/ for more information about formatting "
     "output with templates",
     NULL, NULL, false, NULL},
    {"verbose", 'v', CLI_FLAG_BOOL, "Show detailed information on space usage", NULL, NULL, false,
     NULL},
};

const struct cli_command cli_cmd_system_df = {
    .name = "df",
    .usage = "[OPTIONS]",
    .summary = "Show berth disk usage",
    .group = CLI_GROUP_MANAGEMENT,
    .flags = df_flags,
    .n_flags = ELEMENTSOF(df_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .run = run_df,
};
