/*
 * registry.h — a client for the OCI distribution API v2 (Docker registries).
 *
 * A `registry_client` holds what is shared by every transfer: the options
 * (mirrors, insecure registries, certificate directories, timeouts, retry
 * bounds) and one libcurl share handle so connections, DNS answers and TLS
 * sessions are reused across transfers and threads.  A `registry_repo` is
 * one repository on one registry: its endpoints (the mirrors of docker.io,
 * then the origin), the scheme chosen by ping, and the auth state (Basic
 * credentials, bearer tokens cached per scope).
 *
 * Threads: every call makes its own libcurl easy handle, so any number of
 * threads may fetch blobs of the same repo at once (that is how a pull
 * downloads layers in parallel); the repo's endpoint and token state is
 * behind a mutex.  The easy API was chosen over the multi API because the
 * caller's layer apply runs in the sink callback, and a thread per layer lets
 * decompression and unpacking of one layer overlap the download of another
 * on several cores without an event loop in the image code.
 *
 * Security: TLS is verified unless the registry is listed as insecure; CAs
 * come from <certs-dir>/<host:port>/ *.crt on top of the system bundle, client
 * certificates from *.cert + *.key there.  Plain HTTP is tried only for
 * insecure registries and loopback hosts, and for loopback only when the
 * server does not speak TLS at all (a certificate error is reported, never
 * downgraded).  Credentials and tokens are sent only to the registry's own
 * origin (scheme, host and port) and to its token realm: redirects are
 * followed here, not by libcurl, and a hop to another origin goes without
 * the Authorization header.
 *
 * Never: print, exit, send credentials across origins, deliver a byte of a
 * blob twice to a sink, or return success for a blob or manifest whose
 * digest was not verified.
 */
#ifndef BERTH_REGISTRY_REGISTRY_H
#define BERTH_REGISTRY_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "oci/image-spec.h"

#define REGISTRY_DOCKER_IO_ENDPOINT "https://registry-1.docker.io"

struct registry_options {
        char **mirrors;    /* registry-mirrors (URLs) tried first for docker.io */
        char **insecure;   /* insecure-registries: "host[:port]" or IPv4 CIDR "a.b.c.d/n" */
        char **certs_dirs; /* NULL: /etc/berth/certs.d then /etc/docker/certs.d */
        const char *docker_io_endpoint; /* NULL: REGISTRY_DOCKER_IO_ENDPOINT */
        const char *ca_bundle;          /* system CA bundle; NULL: libcurl's default */
        long connect_timeout_ms;        /* 0: 15000 */
        long low_speed_time_s;          /* abort a transfer slower than low_speed_limit
                                           bytes/s for this long; 0: 30 */
        long low_speed_limit;           /* 0: 1 byte/s */
        unsigned max_attempts;          /* per request, counting the first; 0: 5 */
        long backoff_initial_ms;        /* 0: 250, doubled each retry */
        long backoff_max_ms;            /* 0: 8000 */
        size_t upload_chunk_size;       /* 0: one monolithic PUT; else PATCH chunks */
        const char *user_agent;         /* NULL: "berth/<version>" */
};

/* Credentials for one registry (from config.json or X-Registry-Auth). */
struct registry_auth {
        const char *username;
        const char *password;
        const char *registry_token; /* a bearer token to use as is */
        const char *identity_token; /* an OAuth2 refresh token from a previous login */
};

enum registry_access {
        REGISTRY_PULL = 1 << 0,
        REGISTRY_PUSH = 1 << 1,
};

struct registry_client;
struct registry_repo;

int registry_client_new(const struct registry_options *opts, struct registry_client **ret,
                        struct berth_error **err);
void registry_client_free(struct registry_client *c);

/*
 * host is a registry host[:port] ("docker.io", "127.0.0.1:5000"); repository
 * the path ("library/busybox"), or NULL for registry-wide calls (catalog).
 * auth may be NULL (anonymous); it is copied.
 */
int registry_repo_open(struct registry_client *c, const char *host, const char *repository,
                       const struct registry_auth *auth, unsigned access,
                       struct registry_repo **ret, struct berth_error **err);
void registry_repo_free(struct registry_repo *r);
/* The caller sets *flag to true to stop every transfer of this repo (client gone). */
void registry_repo_set_cancel(struct registry_repo *r, const atomic_bool *flag);

/*
 * Upload progress: called from the uploading thread as bytes of a blob leave
 * (done counts from 0 again when an upload session is started over).
 */
typedef void (*registry_progress_fn)(const char *digest, uint64_t done, uint64_t total,
                                     void *userdata);
void registry_repo_set_upload_progress(struct registry_repo *r, registry_progress_fn fn,
                                       void *userdata);

/* GET /v2/ on the first endpoint that answers: checks reachability, not credentials. */
int registry_ping(struct registry_repo *r, struct berth_error **err);
/*
 * Check the credentials with the registry itself (never a mirror), as
 * `docker login` does: Basic registries must accept them on /v2/, token
 * registries must issue a token for them.  A registry that wants no auth
 * accepts any.  *ret_identity_token (if non-NULL) gets the refresh token the
 * realm offered, or NULL; store it instead of the password.
 */
int registry_login(struct registry_repo *r, char **ret_identity_token, struct berth_error **err);

struct registry_manifest {
        enum oci_doc_kind kind;
        char *media_type; /* as served (Content-Type), else the document's own */
        char *digest;     /* computed from the bytes */
        char *body;
        size_t len;
};
void registry_manifest_release(struct registry_manifest *m);

/*
 * Fetch a manifest or index by tag or digest, accepting all four types.  By
 * digest the bytes must hash to it; by tag the computed digest must agree
 * with Docker-Content-Digest when the server sends one.
 */
int registry_manifest_get(struct registry_repo *r, const char *reference,
                          struct registry_manifest *ret, struct berth_error **err);

/*
 * HEAD a manifest: its digest (Docker-Content-Digest), media type and size
 * without the body — how a pull learns that the image it has is current.
 * -ENODATA when the registry does not say the digest (then GET it).
 */
int registry_manifest_head(struct registry_repo *r, const char *reference, char **ret_digest,
                           char **ret_media_type, int64_t *ret_size, struct berth_error **err);

struct registry_image {
        struct registry_manifest index;    /* .body NULL when the reference named a manifest */
        struct registry_manifest manifest; /* the platform's image manifest */
        struct oci_manifest *parsed;
};
void registry_image_release(struct registry_image *img);

/* Resolve a reference to one image manifest, choosing from an index by platform (NULL:
 * linux/amd64).  -ENOEXEC when the index has no manifest for the platform. */
int registry_resolve(struct registry_repo *r, const char *reference,
                     const struct oci_platform *platform, struct registry_image *ret,
                     struct berth_error **err);
/* The second half of registry_resolve, for a caller that reports between the halves (a
 * pull says "Pulling from" once the reference exists, then picks the platform, as dockerd):
 * from top, what registry_manifest_get() fetched for reference, to the image manifest.
 * Takes top over, whatever the outcome. */
int registry_resolve_top(struct registry_repo *r, const char *reference,
                         struct registry_manifest *top, const struct oci_platform *platform,
                         struct registry_image *ret, struct berth_error **err);

/*
 * Sink for blob bytes (the store's ingest, a layer apply).  Each byte of the
 * blob reaches it exactly once and in order, also across resumed connections
 * and endpoints.  A negative return aborts the fetch at once (no retry, no
 * other endpoint) with the sink's own error in *err, or "write blob data:
 * <errno>" if it set none.  The bytes are not verified until
 * registry_blob_fetch() returns 0: a sink must not publish what it wrote
 * before then.
 */
typedef int (*registry_sink_fn)(const void *buf, size_t n, void *userdata,
                                struct berth_error **err);

/* Stream a blob to sink; size -1 when unknown.  Verifies size and digest at the end. */
int registry_blob_fetch(struct registry_repo *r, const char *digest, int64_t size,
                        registry_sink_fn sink, void *userdata, struct berth_error **err);

/* 1 when the blob exists (size in *ret_size if non-NULL), 0 when not. */
int registry_blob_exists(struct registry_repo *r, const char *digest, int64_t *ret_size,
                         struct berth_error **err);
/* Cross-repository mount from another repository of the same registry: 1 mounted, 0 not. */
int registry_blob_mount(struct registry_repo *r, const char *digest, const char *from_repository,
                        struct berth_error **err);
/* Upload size bytes read from fd (from offset 0) as blob digest. */
int registry_blob_upload(struct registry_repo *r, const char *digest, int fd, int64_t size,
                         struct berth_error **err);
/* exists → mount (when mount_from is set) → upload.  Returns 0 uploaded, 1 already there, 2
 * mounted. */
int registry_blob_push(struct registry_repo *r, const char *digest, int fd, int64_t size,
                       const char *mount_from, struct berth_error **err);

/* PUT a manifest under a tag or its digest with its media type; *ret_digest gets the digest. */
int registry_manifest_put(struct registry_repo *r, const char *reference, const char *media_type,
                          const char *body, size_t len, char **ret_digest,
                          struct berth_error **err);

/* Tags of the repository, and repositories of the registry (following Link pagination). */
int registry_tags_list(struct registry_repo *r, char ***ret, struct berth_error **err);
int registry_catalog(struct registry_repo *r, char ***ret, struct berth_error **err);

/* "sha256:<hex>" of a buffer (malloc'd). */
char *registry_digest_sha256(const void *buf, size_t len);

/* Parts exposed for the unit tests. */
struct registry_challenge {
        char *scheme; /* "basic", "bearer" (lowercase) */
        char *realm;
        char *service;
        char *scope;
        char *error;
};
/* Parse one WWW-Authenticate header value. */
int registry_parse_challenge(const char *header, struct registry_challenge *ret,
                             struct berth_error **err);
void registry_challenge_release(struct registry_challenge *c);
/* Whether two absolute URLs share scheme, host and port. */
bool registry_same_origin(const char *a, const char *b);
/* Resolve a Location against the URL that answered (malloc'd, NULL if invalid). */
char *registry_resolve_url(const char *base, const char *location);
/* Whether host[:port] is listed in the insecure list (exact or IPv4 CIDR) . */
bool registry_host_insecure(char *const *insecure, const char *hostport);
bool registry_host_loopback(const char *hostport);

#endif
