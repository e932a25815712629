/*
 * push.h — pushing a stored image to a registry (push.c).
 *
 * The image is found by the name given (tag ":latest" when none); its layer
 * blobs, config and manifest are the very bytes that were pulled, so what was
 * pulled goes back byte-identical, under the same digests.  Each blob is
 * checked first (present on the registry: "Layer already exists"), then
 * uploaded with progress; the manifest is put last under the tag.  Progress is
 * reported as dockerd words it: "The push refers to repository [x]", per layer
 * "Preparing", "Waiting", "Pushing" (current/total), "Pushed" | "Layer already
 * exists", then "<tag>: digest: sha256:… size: N" and an aux {Tag, Digest,
 * Size} message.
 *
 * Only images that came with a manifest (pulled ones) can be pushed; others
 * are -EINVAL "has no manifest".  errno otherwise as pull.h.
 *
 * Never: push a blob the store has not verified, or put the manifest before
 * every blob it names is on the registry.
 */
#ifndef BERTH_ENGINE_PUSH_H
#define BERTH_ENGINE_PUSH_H

#include "layers.h"
#include "registry/registry.h"

/* A progress message {"status", "progressDetail", "id"} (or {"aux"}); < 0 when it
 * cannot be delivered (client gone): the push stops. */
typedef int (*push_progress_fn)(const struct json *msg, void *userdata);

struct push_opts {
        const char *name; /* as the API got it: "127.0.0.1:5000/x" */
        const char *tag;  /* NULL/"": the name's own, else "latest" */
        const struct registry_auth *auth;
        push_progress_fn progress;
        void *userdata;
};

int berth_image_push(struct berth_layers *l, const struct push_opts *opts,
                     struct berth_error **err);

#endif
