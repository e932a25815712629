/*
 * pull.h — `docker pull`: resolve a reference on its registry, fetch the
 * config and the layers into the store, record the image, report progress.
 *
 * Progress is reported as dockerd's JSON messages, one call of emit per
 * message, in dockerd's order:
 *   {"status":"Pulling from library/busybox","id":"latest"}
 *   {"status":"Pulling fs layer","progressDetail":{},"id":"<12 hex>"}  (or "Already exists")
 *   {"status":"Downloading","progressDetail":{"current":n,"total":t},"progress":"[=>  ] …","id":…}
 *   {"status":"Verifying Checksum",…} {"status":"Download complete",…}
 *   {"status":"Extracting","progressDetail":{"current":t,"total":t},…} {"status":"Pull complete",…}
 *   {"status":"Digest: sha256:…"}
 *   {"status":"Status: Downloaded newer image for busybox:latest"}  (or "Image is up to date for
 * …")
 * A whole repository (all_tags, a reference without tag or digest) lists the
 * registry's tags and pulls each in that order in the same stream, each
 * with its own "Pulling from" (id the tag) … "Digest:" part, then one status
 * line for the repository: "Status: Downloaded newer image for busybox" when
 * any tag changed, else "Image is up to date for busybox".
 * Layers download in parallel (max-concurrent-downloads at a time), each decompressed, verified
 * and unpacked while its bytes arrive (image/ingest.h); emit may be called from those threads, one
 * call at a time.
 *
 * Errors before the first message (a bad reference, an unknown manifest,
 * refused credentials) come back as the return value with nothing emitted, so
 * the API can answer with a plain status (404 for a missing manifest); later
 * errors also come back, and the caller reports them in the stream.
 *
 * The image is recorded (images, image_layers, tags, repo_digests) in one
 * transaction on the worker's own database connection, only after every blob
 * and layer is verified and published.
 *
 * Never: record an image whose blobs or layers are not all in place, emit
 * after an error, keep fetching once emit failed or cancel was set.
 */
#ifndef BERTH_ENGINE_PULL_H
#define BERTH_ENGINE_PULL_H

#include <stdatomic.h>

#include "base/error.h"
#include "base/json.h"
#include "engine.h"
#include "registry/registry.h"

/* A negative return stops the pull (the client went away). */
typedef int (*berth_pull_emit_fn)(const struct json *msg, void *userdata);

struct berth_pull_opts {
        const char *reference; /* "busybox", "busybox:1", "host:5000/a/b@sha256:…" */
        const char *platform;  /* "os/arch[/variant]", NULL: linux/amd64 */
        /* A reference without tag or digest means every tag (docker's API with an empty `tag`),
         * not :latest. */
        bool all_tags;
        const struct registry_auth *auth; /* NULL: anonymous */
        berth_pull_emit_fn emit;
        void *userdata;
        atomic_bool *cancel; /* set by the pull when emit fails; may be set by the caller */
};

/*
 * Returns 0, or a negative errno: -EINVAL bad reference or platform, -ENOENT
 * manifest unknown, -EACCES credentials refused, others for transfer or store
 * failures.  *ret_started tells whether any message was emitted.
 */
int berth_image_pull(struct berth_engine *e, const struct berth_pull_opts *opts, bool *ret_started,
                     struct berth_error **err);

/* A layer's progress message as dockerd sends it: {"status", "progressDetail":
 * {"current","total"}, "progress": "[====>    ]  1.2MB/3.4MB", "id"}. */
struct json *berth_progress_json(const char *status, const char *id, int64_t current,
                                 int64_t total);

#endif
