/*
 * layers.h — unpacked layers as records with reference counts, garbage
 * collection and start-up recovery.  pull.c holds collection off while it
 * runs, archive.c (load) records images through it, and images.c's removals
 * are collected by it.
 *
 * Records (db.c migration 2): `layers` holds each unpacked layer once (chain
 * id, diff_id, parent chain id, unpacked size, compressed blob) with the
 * number of images stacking it; image_layers (migration 1) says which.  A
 * layer directory or blob is removed only when no record names it.
 *
 * Collection runs at start-up and whenever berth_layers_collect() is asked
 * (after rmi and prune), but never while a pull is running: a pull may hold
 * a verified blob or unpacked layer it has not recorded yet, so collection is
 * deferred to the end of the last pull.
 *
 * Never: delete a file a record names, or collect during a pull.
 */
#ifndef BERTH_ENGINE_LAYERS_H
#define BERTH_ENGINE_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/json.h"
#include "engine.h"

struct berth_layers;

/* Recovers from a crash (partial layers removed, unreferenced files
 * collected) and checks the store: a layer directory no record names is
 * refused (-EUCLEAN, the message says what to do); an image whose files are
 * missing or damaged keeps its record and gets an error line in the log naming
 * it and the command that mends it.  Uses engine->store. */
int berth_layers_open(struct berth_engine *engine, struct berth_layers **ret,
                      struct berth_error **err);
void berth_layers_free(struct berth_layers *l);

/* Remove layers and blobs nothing references (now, or after the last pull). */
void berth_layers_collect(struct berth_layers *l);

/* One layer as a load records it. */
struct berth_layer_rec {
        const char *chain_id;
        const char *diff_id;
        const char *blob_digest;
        uint64_t size;
};

/*
 * One transaction: the image (when new) with its layers (refcounts up), the
 * tag (full name, may be NULL) and the repo digest (full name, may be NULL).
 * *ret_changed: the image is new or the tag moved to it.
 */
int berth_layers_commit_pull(struct berth_layers *l, const char *id, const char *manifest_digest,
                             int64_t created, const char *labels_json,
                             const struct berth_layer_rec *layers, size_t n, const char *tag_name,
                             const char *digest_name, bool *ret_changed, struct berth_error **err);

/*
 * Before unpacking: a row (refs 0) for each layer about to get its directory,
 * in one transaction, so a directory under its final name always has a row
 * (a crash before the image is recorded leaves rows the next collection
 * finishes; a directory without one is damage, see berth_layers_open).
 */
int berth_layers_reserve(struct berth_layers *l, const struct berth_layer_rec *layers, size_t n,
                         struct berth_error **err);

/* An image record with this ID exists and its config and layers are on disk. */
bool berth_layers_have_image(struct berth_layers *l, const char *id);
/* Recorded unpacked size of a layer (0 when unknown). */
uint64_t berth_layers_size(struct berth_layers *l, const char *chain_id);
/* The digest of the manifest an image was pulled as; -EINVAL when it has none. */
int berth_layers_manifest(struct berth_layers *l, const char *id, char **ret,
                          struct berth_error **err);
/* Compressed blob digests of an image's layers, bottom first; -ENOENT when one
 * is not in the store. */
int berth_layers_blobs(struct berth_layers *l, const char *id, char ***ret,
                       struct berth_error **err);
/* config.Labels of an image config as JSON text, or NULL. */
char *berth_layers_config_labels(const char *buf, size_t len);
const char *berth_layers_data_root(struct berth_layers *l);
struct berth_engine *berth_layers_engine(struct berth_layers *l);

/* Pulls hold collection off while they run. */
void berth_layers_pull_enter(struct berth_layers *l);
void berth_layers_pull_leave(struct berth_layers *l);

/* RFC 3339 → Unix seconds (0 when unparsable). */
int64_t berth_layers_parse_time(const char *s);

#endif
