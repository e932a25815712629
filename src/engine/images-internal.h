/*
 * images-internal.h — what images.c (records, queries, collection) and
 * images-pull.c (the pull pipeline) share.  Not an interface for anyone else.
 */
#ifndef BERTH_ENGINE_IMAGES_INTERNAL_H
#define BERTH_ENGINE_IMAGES_INTERNAL_H

#include <pthread.h>

#include "image/store.h"
#include "images.h"

struct berth_images {
        struct berth_engine *engine;
        struct blob_store *blobs;
        char *data_root;
        pthread_mutex_t gc_lock; /* guards active_pulls and gc_pending; held while collecting */
        unsigned active_pulls;
        bool gc_pending;
};

/* One layer as the pull commits it. */
struct images_layer_rec {
        const char *chain_id;
        const char *diff_id;
        const char *blob_digest;
        uint64_t size;
};

/* One transaction: the image (if new), its layers and refcounts, the tag and
 * repo digest.  *ret_changed: the image is new or the tag moved to it. */
int images_commit_pull(struct berth_images *imgs, const char *id, const char *manifest_digest,
                       int64_t created, const char *labels_json,
                       const struct images_layer_rec *layers, size_t n, const char *tag_name,
                       const char *digest_name, bool *ret_changed, struct berth_error **err);

/* True when an image record with this ID exists and all its layers are on disk. */
bool images_have_complete(struct berth_images *imgs, const char *id);
/* Size recorded for an unpacked layer (0 when unknown). */
uint64_t images_layer_size(struct berth_images *imgs, const char *chain_id);

/* Pulls hold off collection while they run (see images.h). */
void images_pull_enter(struct berth_images *imgs);
void images_pull_leave(struct berth_images *imgs);

/* RFC 3339 → Unix seconds (0 when unparsable). */
int64_t images_parse_time(const char *s);

#endif
