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
#include "pull.h"

struct push_opts {
        const char *name; /* as the API got it: "127.0.0.1:5000/x" */
        const char *tag;  /* NULL/"": the name's own, else "latest" */
        const struct registry_auth *auth;
        pull_progress_fn progress; /* same message shape as a pull's */
        void *userdata;
};

int berth_image_push(struct berth_layers *l, const struct push_opts *opts,
                     struct berth_error **err);

/*
 * POST /auth: check credentials with the registry itself (never a mirror), as
 * `docker login` does.  server is what the client sent ("127.0.0.1:5000",
 * "https://index.docker.io/v1/").  *ret_identity_token gets the refresh
 * token a token realm offered, or NULL.
 */
int berth_registry_login(struct berth_engine *e, const char *server,
                         const struct registry_auth *auth, char **ret_identity_token,
                         struct berth_error **err);

/* GET /distribution/{name}/json: the registry's descriptor for a reference
 * and the platforms it offers ({"Descriptor": {…}, "Platforms": […]}). */
int berth_registry_distribution(struct berth_engine *e, const char *name,
                                const struct registry_auth *auth, struct json **ret,
                                struct berth_error **err);

#endif
