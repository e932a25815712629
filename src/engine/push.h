/*
 * push.h — `docker push`: send a stored image's layers, config and manifest to
 * a registry, reporting dockerd's progress messages:
 *   {"status":"The push refers to repository [127.0.0.1:5000/x/y]"}
 *   {"status":"Preparing","progressDetail":{},"id":"<12 hex of the diff_id>"}  per layer, top first
 *   {"status":"Pushing","progressDetail":{"current":n,"total":t},"progress":…,"id":…}
 *   {"status":"Pushed"|"Layer already exists"|"Mounted from <repo>","progressDetail":{},"id":…}
 *   {"status":"v1: digest: sha256:… size: 942"}
 *   {"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:…","Size":942}}
 * The manifest pushed is the one the image was pulled with, byte for byte, so
 * its digest stays the same; an image that never came from a registry has no
 * manifest yet and is refused with a clear error.
 *
 * Never: push a manifest before every blob it names is on the registry.
 */
#ifndef BERTH_ENGINE_PUSH_H
#define BERTH_ENGINE_PUSH_H

#include "pull.h"

struct berth_push_opts {
        const char *name; /* "127.0.0.1:5000/x/y" (no tag) */
        const char *tag;  /* NULL: latest */
        const struct registry_auth *auth;
        berth_pull_emit_fn emit;
        void *userdata;
        atomic_bool *cancel;
};

/* Errors before the first message: -ENOENT no such local tag, -EINVAL bad name. */
int berth_image_push(struct berth_engine *e, const struct berth_push_opts *opts, bool *ret_started,
                     struct berth_error **err);

#endif
