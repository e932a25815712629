/*
 * images.h — the daemon's images: records in SQLite over the image part's
 * content store and unpacked layers, the pull pipeline, and the queries the
 * image API serves (list, inspect, history, tag, delete, prune).
 *
 * Records (db.c migrations 1 and 2): an image is its config digest (the ID)
 * with size, created time, labels, the manifest it was pulled as, its layers
 * in order (image_layers: chain id, diff_id, blob) and the names pointing at
 * it (tags "docker.io/library/busybox:latest", repo_digests
 * "docker.io/library/busybox@sha256:…").  Unpacked layers are shared: the
 * `layers` table counts the images stacking each one; a layer or blob is
 * removed from disk only when nothing references it any more.
 *
 * Pull: resolve the reference (registry-mirrors first for docker.io, then the
 * origin), fetch the manifest (an index picks the platform), fetch the config,
 * then the layers in parallel (max-concurrent-downloads worker threads), each
 * streamed from the registry into the blob store and the streaming layer apply
 * at once, so decompressing, hashing and unpacking happen while bytes arrive.
 * The uncompressed digests must equal the config's diff_ids.  All records are
 * committed in one transaction at the end; before that only verified blobs and
 * complete layer directories exist, which start-up recovery collects if no
 * record names them.  Concurrent pulls of the same image fetch each blob once
 * (the store and the layer apply serialise by digest).
 *
 * Garbage collection (files nothing references) runs at start-up and after a
 * delete or prune, but never while a pull is running (a pull may have fetched
 * a blob it has not recorded yet): it is deferred to the end of the last pull.
 *
 * Results of queries are JSON values in the Docker API's shapes (the handler
 * serialises them); errors carry Docker's words ("No such image: x") and an
 * errno the handler maps to a status: -ENOENT 404, -EINVAL 400, -EEXIST /
 * -EBUSY 409, else 500.
 *
 * Never: make a record visible before its files are complete and verified, or
 * delete a file while a record (or a running pull) may still need it.
 */
#ifndef BERTH_ENGINE_IMAGES_H
#define BERTH_ENGINE_IMAGES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/json.h"
#include "engine.h"
#include "registry/registry.h"

struct berth_images;

/* Opens the stores under the engine's data root and recovers from a crash:
 * temp files and partial layers removed, records whose files are missing
 * dropped, files no record names collected. */
int berth_images_open(struct berth_engine *engine, struct berth_images **ret,
                      struct berth_error **err);
void berth_images_free(struct berth_images *imgs);

/*
 * A progress message as dockerd streams it: {"status", "id", "progressDetail"}.
 * Return < 0 when it cannot be delivered (client gone): the pull stops.
 */
typedef int (*images_progress_fn)(const struct json *msg, void *userdata);

struct images_pull_opts {
        const char *from_image; /* as the API got it: "busybox", "127.0.0.1:5000/x:v1" */
        const char *tag;        /* tag or digest; NULL/"" = the reference's own, or all tags */
        const char *platform;   /* "linux/arm64" or NULL for the host's */
        const struct registry_auth *auth; /* NULL: anonymous */
        images_progress_fn progress;
        void *userdata;
        /* Polled while waiting: true when the client went away. */
        bool (*client_gone)(void *userdata);
};

int berth_images_pull(struct berth_images *imgs, const struct images_pull_opts *opts,
                      struct berth_error **err);

/* The image ID ("sha256:…") a name, reference or ID prefix stands for. */
int berth_images_resolve(struct berth_images *imgs, const char *name, char **ret_id,
                         struct berth_error **err);

/* GET /images/json: filters is the decoded `filters` query parameter or NULL. */
int berth_images_list(struct berth_images *imgs, bool all, bool digests, const struct json *filters,
                      struct json **ret, struct berth_error **err);
/* GET /images/{name}/json */
int berth_images_inspect(struct berth_images *imgs, const char *name, struct json **ret,
                         struct berth_error **err);
/* GET /images/{name}/history */
int berth_images_history(struct berth_images *imgs, const char *name, struct json **ret,
                         struct berth_error **err);
/* POST /images/{name}/tag: repo as given ("x", "host:5000/y"), tag may be NULL. */
int berth_images_tag(struct berth_images *imgs, const char *name, const char *repo, const char *tag,
                     struct berth_error **err);
/* DELETE /images/{name}: an array of {"Untagged":…} / {"Deleted":…}. */
int berth_images_delete(struct berth_images *imgs, const char *name, bool force, bool noprune,
                        struct json **ret, struct berth_error **err);
/* POST /images/prune: {"ImagesDeleted": […], "SpaceReclaimed": n}. */
int berth_images_prune(struct berth_images *imgs, const struct json *filters, struct json **ret,
                       struct berth_error **err);

/* Parse a Docker `filters` value ({"k":{"v":true}} or the old {"k":["v"]}) into
 * {"k":["v",…]}; -EINVAL with "invalid filter" words on bad input. */
int berth_filters_parse(const char *s, struct json **ret, struct berth_error **err);

#endif
