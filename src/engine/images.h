/*
 * images.h — image records: what the engine knows about each stored image
 * (berth.db) and how a name the user typed finds one.
 *
 * An image is its config digest ("sha256:<hex>", the image ID), the names
 * pointing at it (tags "docker.io/library/busybox:latest" and repo digests
 * "docker.io/library/busybox@sha256:…", always stored fully normalised), its
 * creation time and size.  The config JSON itself is the blob of that digest
 * in the content store (src/image/store.h).
 *
 * Name resolution is dockerd's: a full ID (with or without "sha256:"), then a
 * reference (normalised; ":latest" added when neither tag nor digest is
 * given), then a unique ID prefix.  Deletion follows `docker rmi`: a name
 * removes that name (a repository's last tag takes the repository's digest
 * references with it), and the image goes when no name is left; an ID removes
 * every name, refusing (-EBUSY) when names from several repositories point at
 * it unless forced.
 *
 * Records only: freeing layers and blobs no image references any more is the
 * store's garbage collection (layers.h), not done here -- the image's own
 * config blob included, which a running save may be sending and a running
 * pull or load may be about to record again.
 *
 * Never: store a name that is not normalised, leave a name pointing at a
 * deleted image (foreign keys cascade), change records outside a transaction.
 */
#ifndef BERTH_ENGINE_IMAGES_H
#define BERTH_ENGINE_IMAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/json.h"
#include "engine.h"

struct berth_image {
        char *id;            /* sha256:<hex> */
        char **repo_tags;    /* full names, NULL-terminated (maybe empty) */
        char **repo_digests; /* full names, NULL-terminated (maybe empty) */
        char *parent;        /* "" when none */
        int64_t created;     /* unix seconds */
        int64_t size;
        int64_t added; /* when stored (unix seconds) */
};

void berth_image_free(struct berth_image *img);
static inline void berth_image_freep(struct berth_image **img)
{
        berth_image_free(*img);
}
#define _cleanup_image_ _cleanup_(berth_image_freep)
void berth_image_list_free(struct berth_image **list);

/* Every image, newest first.  NULL-terminated. */
int berth_image_list(struct berth_engine *e, struct berth_image ***ret, struct berth_error **err);

/* Resolve name as described above; -ENOENT "No such image: <name>". */
int berth_image_find(struct berth_engine *e, const char *name, struct berth_image **ret,
                     struct berth_error **err);

/* The image's config (parsed), from the content store; -ENOENT when absent. */
int berth_image_config(struct berth_engine *e, const struct berth_image *img, struct json **ret,
                       struct berth_error **err);

/* system df: the bytes of every unpacked layer, and per image id the bytes of its layers
 * that another image stacks too ({"sha256:…": bytes}, images sharing nothing absent). */
int berth_images_usage(struct berth_engine *e, int64_t *ret_layers_size, struct json **ret_shared,
                       struct berth_error **err);

/* Unpacked sizes of the image's layers, bottom first (*ret, count in *ret_n);
 * an image without layer records has none. */
int berth_image_layer_sizes(struct berth_engine *e, const struct berth_image *img, int64_t **ret,
                            size_t *ret_n, struct berth_error **err);

/* Point a tag (any form: "x", "x:1", "host:5000/a/b:c") at the image; a tag that
 * pointed elsewhere moves.  Digest references are refused (-EINVAL). */
int berth_image_tag(struct berth_engine *e, const char *image_id, const char *target,
                    struct berth_error **err);

/* One `docker rmi NAME`; *ret_actions gets [{"Untagged": familiar}, …,
 * {"Deleted": id}] as the API returns them. */
int berth_image_remove(struct berth_engine *e, const char *name, bool force,
                       struct json **ret_actions, struct berth_error **err);

/* What POST /images/prune removes, as dockerd's filters say it. */
struct berth_image_prune_opts {
        bool all;         /* dangling=false: tagged images too */
        bool until_set;   /* until: only images created at or before until_ns */
        int64_t until_ns; /* Unix nanoseconds */
        /* label/label!: false keeps the image; labels are its config's (NULL when none) */
        bool (*match)(const struct json *labels, void *arg);
        void *arg;
};

/* Remove dangling images (or, with all, every image) that opts select and no container,
 * running or stopped, uses; *ret_deleted as for remove, *ret_reclaimed bytes. */
int berth_image_prune(struct berth_engine *e, const struct berth_image_prune_opts *opts,
                      struct json **ret_deleted, uint64_t *ret_reclaimed,
                      struct berth_error **err);

/* "docker.io/library/busybox:latest" -> "busybox:latest" (docker's display form). */
char *berth_image_familiar(const char *full_name);

#endif
