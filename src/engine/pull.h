/*
 * pull.h — pulling an image from a registry into the store (pull.c).
 *
 * Resolve the reference (registry-mirrors first for docker.io, then the
 * origin), fetch the manifest (an index picks the platform), fetch the
 * config, then the layers in parallel (max-concurrent-downloads worker
 * threads), each streamed from the registry into the content store and the
 * streaming layer apply at once, so decompressing, hashing and unpacking
 * happen while bytes arrive.  The uncompressed digests must equal the
 * config's diff_ids.  All records are committed in one transaction at the end
 * (layers.h).  Concurrent pulls of the same image fetch each blob once (the
 * store and the layer apply serialise by digest).
 *
 * Progress is reported as dockerd words it, one message at a time:
 * "Pulling from", per layer "Already exists" | "Pulling fs layer", "Waiting",
 * "Downloading" (current/total), "Verifying Checksum", "Download complete",
 * "Extracting", "Pull complete"; then "Digest: sha256:…" and "Status:
 * Downloaded newer image for x" | "Status: Image is up to date for x".
 * Errors found before the first message (bad reference, unknown manifest,
 * unreachable registry) come back with no message sent, so the API can still
 * answer with a status code.  errno: -EINVAL bad input, -ENOENT unknown
 * manifest, -ECANCELED client gone, else as the registry or store said.
 *
 * Never: publish a record before its files are complete, or keep pulling for
 * a client that is gone.
 */
#ifndef BERTH_ENGINE_PULL_H
#define BERTH_ENGINE_PULL_H

#include <stdbool.h>

#include "base/error.h"
#include "base/json.h"
#include "layers.h"
#include "registry/registry.h"

/* A progress message {"status", "progressDetail", "id"}; < 0 when it cannot be
 * delivered (client gone): the pull stops. */
typedef int (*pull_progress_fn)(const struct json *msg, void *userdata);

struct pull_opts {
        const char *from_image; /* as the API got it: "busybox", "127.0.0.1:5000/x" */
        const char *tag;        /* tag or digest; NULL/"" = the reference's own, or all tags */
        const char *platform;   /* "linux/arm64" or NULL for linux/amd64 */
        const struct registry_auth *auth; /* NULL: anonymous */
        pull_progress_fn progress;
        void *userdata;
        bool (*client_gone)(void *userdata); /* polled while waiting */
};

int berth_image_pull(struct berth_layers *l, const struct pull_opts *opts,
                     struct berth_error **err);

#endif
