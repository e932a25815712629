/*
 * prune.c — docker's prune calls and their output (contract in prune.h).
 */
#include <string.h>

#include "base/units.h"
#include "container-cmd.h"
#include "filter-flag.h"
#include "prune.h"

static const struct prune_kind {
        const char *path;
        const char *deleted_key; /* the report's list */
        const char *heading;
} kinds[] = {
    [CLI_PRUNE_CONTAINERS] = {"/containers/prune", "ContainersDeleted", "Deleted Containers:"},
    [CLI_PRUNE_NETWORKS] = {"/networks/prune", "NetworksDeleted", "Deleted Networks:"},
    [CLI_PRUNE_VOLUMES] = {"/volumes/prune", "VolumesDeleted", "Deleted Volumes:"},
    [CLI_PRUNE_IMAGES] = {"/images/prune", "ImagesDeleted", "Deleted Images:"},
    [CLI_PRUNE_BUILD_CACHE] = {"/build/prune", "CachesDeleted", "Deleted build cache objects:"},
};

bool cli_prune_confirm(struct cli_ctx *ctx, const char *warning)
{
        fprintf(ctx->out, "%s\nAre you sure you want to continue? [y/N] ", warning);
        fflush(ctx->out);
        char line[256] = "";
        if (!fgets(line, sizeof(line), stdin))
                return false;
        char *a = line + strspn(line, " \t\r\n");
        size_t n = strlen(a);
        while (n && strchr(" \t\r\n", a[n - 1]))
                n--;
        return n == 1 && (a[0] == 'y' || a[0] == 'Y');
}

static void render(const struct prune_kind *k, enum cli_prune_kind kind, const struct json *report,
                   struct berth_buf *out)
{
        const struct json *deleted = json_get(report, k->deleted_key);
        const struct json *space = json_get(report, "SpaceReclaimed");
        bool any_space = json_is(space, JSON_NUMBER) && space->num.u > 0;
        /* images print their heading when space came back without names, as docker does */
        if (!json_len(deleted) && !(kind == CLI_PRUNE_IMAGES && any_space))
                return;
        buf_printf(out, "%s\n", k->heading);
        size_t i;
        struct json *item;
        json_array_foreach (deleted, i, item) {
                if (kind != CLI_PRUNE_IMAGES) {
                        buf_printf(out, "%s\n", json_str(item) ?: "");
                        continue;
                }
                const char *u = json_str(json_get(item, "Untagged"));
                const char *d = json_str(json_get(item, "Deleted"));
                if (u && *u)
                        buf_printf(out, "untagged: %s\n", u);
                if (d && *d)
                        buf_printf(out, "deleted: %s\n", d);
        }
}

static int prune_call(struct cli_ctx *ctx, struct cli_client *c, enum cli_prune_kind kind,
                      char *const *filters, bool all, int64_t keep_storage, struct berth_buf *out,
                      uint64_t *space)
{
        const struct prune_kind *k = &kinds[kind];
        _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
        buf_append(&q, "", 0);
        if (kind == CLI_PRUNE_BUILD_CACHE && all)
                buf_puts(&q, "all=1");
        if (kind == CLI_PRUNE_IMAGES)
                cli_filters_query(&q, filters, "dangling", all ? "false" : "true");
        else
                cli_filters_query(&q, filters, NULL, NULL);
        if (keep_storage)
                buf_printf(&q, "%skeep-storage=%lld", q.len ? "&" : "", (long long)keep_storage);
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_request(c, "POST", k->path, q.len ? q.data : NULL, NULL, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status / 100 != 2) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        _cleanup_json_ struct json *report = NULL;
        int r = json_parse(resp.body, resp.len, &report, &err);
        cli_response_release(&resp);
        if (r < 0) {
                fprintf(ctx->err, "berth: bad %s reply from the daemon: %s\n", k->path,
                        berth_error_msg(err));
                return 1;
        }
        render(k, kind, report, out);
        const struct json *sp = json_get(report, "SpaceReclaimed");
        if (json_is(sp, JSON_NUMBER))
                *space += sp->num.u;
        return 0;
}

int cli_prune_call(struct cli_ctx *ctx, struct cli_client *c, enum cli_prune_kind kind,
                   char *const *filters, bool all, struct berth_buf *out, uint64_t *space)
{
        return prune_call(ctx, c, kind, filters, all, 0, out, space);
}

int cli_prune_build_cache(struct cli_ctx *ctx, struct cli_client *c, char *const *filters,
                          bool all, int64_t keep_storage, struct berth_buf *out, uint64_t *space)
{
        return prune_call(ctx, c, CLI_PRUNE_BUILD_CACHE, filters, all, keep_storage, out, space);
}

void cli_prune_total(struct cli_ctx *ctx, uint64_t space)
{
        _cleanup_buf_ struct berth_buf h = BERTH_BUF_INIT;
        units_human_size(&h, (double)space);
        fprintf(ctx->out, "Total reclaimed space: %s\n", h.data);
}
