/*
 * push.h — `docker push`: send a stored image's layers, config and manifest to
 * a registry, reporting dockerd's progress messages:
 *   {"status":"The push refers to repository [127.0.0.1:5000/x/y]"}  (the full name, once)
 * then per tag (every local tag of the repository, in byte order, when no tag is given):
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
        const char *name; /* "127.0.0.1:5000/x/y", or with ":tag" */
        const char *tag;  /* overrides the name's tag; neither: every local tag (dockerd's API
                             with an empty `tag`) */
        const struct registry_auth *auth;
        berth_pull_emit_fn emit;
        void *userdata;
        atomic_bool *cancel;
};

/*
 * Errors before the first message: -EINVAL bad name or tag.  After it (in the
 * stream, as dockerd): "An image does not exist locally with the tag: x" when
 * the repository has no local reference, "tag does not exist: x:t", "no tags
 * to push for x", and transfer errors.
 */
int berth_image_push(struct berth_engine *e, const struct berth_push_opts *opts, bool *ret_started,
                     struct berth_error **err);

#endif
