/*
 * ingest.h — one pulled layer, from the bytes off the wire to a verified blob
 * in the content store and an unpacked layer directory, in one pass.
 *
 * layer_ingest_begin() looks at what is already there:
 *   blob and layer present   → 1, nothing to fetch;
 *   blob present, no layer   → unpacks from the stored blob, then 1;
 *   otherwise                → 0 and an ingest to feed: every byte goes to the
 *                              store (which hashes and verifies the digest) and,
 *                              when the layer is missing, to layer apply.
 * layer_ingest_write() has the shape of the registry client's sink callback
 * (registry_sink_fn: bytes, length, userdata, err → 0 or a negative errno),
 * so a pull passes it straight to registry_blob_fetch().
 * layer_ingest_commit() first commits the blob (digest
 * and size checked), then finishes the layer (diff_id checked): a layer is
 * never published from bytes whose digest did not match.
 *
 * Never: publish a layer before its blob verified, or keep a partial blob or
 * layer after an error.
 */
#ifndef BERTH_IMAGE_INGEST_H
#define BERTH_IMAGE_INGEST_H

#include <stdint.h>

#include "base/error.h"
#include "image/layer.h"
#include "image/store.h"

struct layer_ingest;

struct layer_ingest_opts {
        const char *digest;          /* the manifest's layer digest (required) */
        int64_t size;                /* the manifest's size, -1 unknown */
        const char *diff_id;         /* the config's rootfs.diff_ids[n] (required) */
        const char *parent_chain_id; /* chain id of the layers below, NULL for the first */
        struct layer_limits limits;
};

int layer_ingest_begin(struct blob_store *s, const struct layer_ingest_opts *opts,
                       struct layer_ingest **ret, struct berth_error **err);
/* registry_sink_fn-compatible; after a failure every later call fails too. */
int layer_ingest_write(const void *buf, size_t n, void *userdata, struct berth_error **err);
/* Verifies and publishes blob and layer; frees the ingest whatever happens.
 * res (optional) gets the layer's sizes and ids when this ingest unpacked it,
 * and is zeroed otherwise. */
int layer_ingest_commit(struct layer_ingest *in, struct layer_result *res,
                        struct berth_error **err);
void layer_ingest_abort(struct layer_ingest *in);
static inline void layer_ingest_abortp(struct layer_ingest **in)
{
        layer_ingest_abort(*in);
}
#define _cleanup_layer_ingest_ _cleanup_(layer_ingest_abortp)

#endif
