/*
 * prune.h — the prune calls docker's CLI makes, each rendered as docker 28's
 * RunPrune functions render them, for `berth system prune` and `image prune`.
 *
 * A call sends the --filter values (plus what the kind adds: images always
 * say dangling=true/false, build cache says all=1 with -a), and renders the
 * report as docker does: "Deleted Containers:" / "Deleted Networks:" /
 * "Deleted Volumes:" / "Deleted Images:" (untagged: / deleted: lines) /
 * "Deleted build cache objects:" then one line per item, or nothing when
 * nothing was deleted.  The caller prints the blank line after a block and
 * the "Total reclaimed space: " line, as each command does.
 *
 * Never: prune without the user's yes or -f, or send a filter the user did not give.
 */
#ifndef BERTH_CLI_PRUNE_H
#define BERTH_CLI_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "cli.h"
#include "client.h"

enum cli_prune_kind {
        CLI_PRUNE_CONTAINERS,
        CLI_PRUNE_NETWORKS,
        CLI_PRUNE_VOLUMES,
        CLI_PRUNE_IMAGES,
        CLI_PRUNE_BUILD_CACHE,
};

/* docker's prompt: warning, then "Are you sure you want to continue? [y/N] " on stdout;
 * true only for a "y" or "Y" line (spaces trimmed). */
bool cli_prune_confirm(struct cli_ctx *ctx, const char *warning);

/*
 * One POST /<kind>/prune with filters (the --filter values, NULL-terminated or NULL); all is
 * -a (images: dangling=false; build cache: all=1).  The rendered block (maybe empty) is
 * appended to out and the daemon's SpaceReclaimed added to *space.  Returns 0, or 1 after
 * printing the error as docker does.
 */
int cli_prune_call(struct cli_ctx *ctx, struct cli_client *c, enum cli_prune_kind kind,
                   char *const *filters, bool all, struct berth_buf *out, uint64_t *space);

/* The same for the build cache with `builder prune --keep-storage` (bytes; 0: not sent). */
int cli_prune_build_cache(struct cli_ctx *ctx, struct cli_client *c, char *const *filters,
                          bool all, int64_t keep_storage, struct berth_buf *out, uint64_t *space);

/* "Total reclaimed space: 1.2MB\n" (HumanSize) on ctx->out. */
void cli_prune_total(struct cli_ctx *ctx, uint64_t space);

#endif
