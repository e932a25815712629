/*
 * cmd-system-prune.c — `berth system prune [-a] [--volumes] [-f] [--filter k=v]`,
 * as docker CLI 28 runs it against a daemon of API 1.41.
 *
 * docker's order: refuse until with --volumes (before asking), ask unless -f
 * (the warning lists what goes and the label, label! and until filters, in
 * natural order), then prune containers, networks, volumes (with --volumes),
 * images (dangling, or with -a every image no container uses) and build cache
 * (all of it with -a), each with the same filters; print each non-empty block
 * followed by a blank line and the sum of the reclaimed space.  The first
 * failing call ends the command (exit 1) after the blocks already printed.
 *
 * Never: prune before the user said yes, or go on after a failed call.
 */
#include <stdlib.h>
#include <string.h>

#include "container-cmd.h"
#include "filter-flag.h"
#include "prune.h"

/* docker's confirmationMessage, without the question prune.c adds. */
static char *warning_text(bool all, bool volumes, char *const *filters)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "WARNING! This will remove:\n");
        buf_puts(&b, "  - all stopped containers\n");
        buf_puts(&b, "  - all networks not used by at least one container\n");
        if (volumes)
                buf_puts(&b, "  - all anonymous volumes not used by at least one container\n");
        buf_puts(&b, all ? "  - all images without at least one container associated to them\n"
                         : "  - all dangling images\n");
        buf_puts(&b, all ? "  - all build cache\n" : "  - unused build cache\n");
        size_t n = 0;
        for (size_t i = 0; filters && filters[i]; i++)
                n++;
        _cleanup_free_ char **shown = xcalloc(n + 1, sizeof(char *));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                size_t name_len = strcspn(filters[i], "=");
                if ((name_len == 5 && strncmp(filters[i], "label", 5) == 0) ||
                    (name_len == 6 && strncmp(filters[i], "label!", 6) == 0) ||
                    (name_len == 5 && strncmp(filters[i], "until", 5) == 0)) {
                        bool dup = false;
                        for (size_t j = 0; j < k; j++)
                                dup |= strcmp(shown[j], filters[i]) == 0;
                        if (!dup)
                                shown[k++] = filters[i];
                }
        }
        if (k) {
                qsort(shown, k, sizeof(char *), container_natural_cmp);
                buf_puts(&b, "\n  Items to be pruned will be filtered with:\n");
                for (size_t i = 0; i < k; i++)
                        buf_printf(&b, "  - %s\n", shown[i]);
        }
        return b.data;
}

static int run_system_prune(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        bool all = cli_flag_bool(fs, "all");
        bool volumes = cli_flag_bool(fs, "volumes");
        char **filters = cli_flag_list(fs, "filter");
        for (size_t i = 0; volumes && filters && filters[i]; i++)
                if (strncmp(filters[i], "until=", 6) == 0) {
                        fprintf(
                            ctx->err,
                            "ERROR: The \"until\" filter is not supported with \"--volumes\"\n");
                        return 1;
                }
        if (!cli_flag_bool(fs, "force")) {
                _cleanup_free_ char *warning = warning_text(all, volumes, filters);
                if (!cli_prune_confirm(ctx, warning))
                        return 0;
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        enum cli_prune_kind order[] = {CLI_PRUNE_CONTAINERS, CLI_PRUNE_NETWORKS, CLI_PRUNE_VOLUMES,
                                       CLI_PRUNE_IMAGES, CLI_PRUNE_BUILD_CACHE};
        uint64_t space = 0;
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                if (order[i] == CLI_PRUNE_VOLUMES && !volumes)
                        continue;
                _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
                int code = cli_prune_call(ctx, c, order[i], filters, all, &out, &space);
                if (code)
                        return code;
                if (out.len) {
                        fprintf(ctx->out, "%s\n", out.data);
                        fflush(ctx->out);
                }
        }
        cli_prune_total(ctx, space);
        return 0;
}

static const struct cli_flag prune_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Remove all unused images not just dangling ones", NULL, NULL,
     false, NULL},
    {"filter", 0, CLI_FLAG_LIST, "Provide filter values (e.g. \"label=<key>=<value>\")", NULL,
     "filter", false, cli_filter_validate},
    {"force", 'f', CLI_FLAG_BOOL, "Do not prompt for confirmation", NULL, NULL, false, NULL},
    {"volumes", 0, CLI_FLAG_BOOL, "Prune anonymous volumes", NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_system_prune = {
    .name = "prune",
    .usage = "[OPTIONS]",
    .summary = "Remove unused data",
    .group = CLI_GROUP_MANAGEMENT,
    .flags = prune_flags,
    .n_flags = ELEMENTSOF(prune_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .run = run_system_prune,
};
