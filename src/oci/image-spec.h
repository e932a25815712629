/*
 * image-spec.h — the OCI image specification and Docker image manifest
 * schema 2 as C structs: descriptors, manifests, indexes (manifest lists),
 * image configs and platforms, with parse, validate and emit.
 *
 * Both formats share one set of structs: a Docker schema 2 manifest is an OCI
 * manifest with other media types, a manifest list is an index.  Parsing goes
 * through json_parse() and rejects what a registry client must not act on: a
 * schemaVersion other than 2, a malformed digest, a negative size, a field of
 * the wrong JSON type.  Unknown fields are ignored (forward compatibility).
 *
 * Emitting rebuilds the JSON from the structs; it is for documents berth makes
 * itself (build, commit, save).  A document received from a registry is
 * content-addressed: keep its original bytes and never re-emit it, since any
 * change of spacing or key order changes its digest.
 *
 * Platform selection follows containerd's matcher: names are normalised
 * (x86_64 → amd64, aarch64 → arm64, armhf → arm/v7), arm64 without variant is
 * v8, amd64 has no variant, 32-bit arm accepts older variants in order.
 *
 * Never: trust a size or digest without validating its form, or allocate by a
 * number taken from the input.
 */
#ifndef BERTH_OCI_IMAGE_SPEC_H
#define BERTH_OCI_IMAGE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/json.h"

/* OCI media types. */
#define OCI_MEDIA_TYPE_MANIFEST      "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_INDEX         "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_TYPE_CONFIG        "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_TYPE_LAYER         "application/vnd.oci.image.layer.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_GZIP    "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ZSTD    "application/vnd.oci.image.layer.v1.tar+zstd"
#define OCI_MEDIA_TYPE_LAYER_ND      "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ND_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define OCI_MEDIA_TYPE_EMPTY         "application/vnd.oci.empty.v1+json"
/* Docker image manifest v2 schema 2 media types. */
#define DOCKER_MEDIA_TYPE_MANIFEST    "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_TYPE_LIST        "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_TYPE_CONFIG      "application/vnd.docker.container.image.v1+json"
#define DOCKER_MEDIA_TYPE_LAYER_GZIP  "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DOCKER_MEDIA_TYPE_LAYER       "application/vnd.docker.image.rootfs.diff.tar"
#define DOCKER_MEDIA_TYPE_LAYER_ZSTD  "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define DOCKER_MEDIA_TYPE_FOREIGN     "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define DOCKER_MEDIA_TYPE_SCHEMA1     "application/vnd.docker.distribution.manifest.v1+json"
#define DOCKER_MEDIA_TYPE_SCHEMA1_SIG "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* Manifests and indexes larger than this are refused (containerd uses 4 MiB too). */
#define OCI_MANIFEST_MAX_SIZE (4u * 1024 * 1024)

enum oci_doc_kind {
        OCI_DOC_UNKNOWN,
        OCI_DOC_MANIFEST, /* OCI image manifest or Docker schema 2 manifest */
        OCI_DOC_INDEX,    /* OCI index or Docker manifest list */
};

enum oci_compression {
        OCI_COMPRESSION_NONE,
        OCI_COMPRESSION_GZIP,
        OCI_COMPRESSION_ZSTD,
};

/* Kind of a manifest media type; OCI_DOC_UNKNOWN for anything else. */
enum oci_doc_kind oci_media_type_kind(const char *media_type);
/*
 * Decide what a fetched document is: by the Content-Type the server sent,
 * then its own "mediaType", then its shape ("manifests" vs "layers").  Schema 1
 * and unknown documents are an error naming the type.
 */
int oci_detect_kind(const char *content_type, const char *buf, size_t len, enum oci_doc_kind *ret,
                    struct berth_error **err);
/* Layer media type → compression; foreign (non-distributable) flagged. -EINVAL if not a layer. */
int oci_layer_media_type(const char *media_type, enum oci_compression *ret_comp, bool *ret_foreign);

/* "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>". */
int oci_digest_validate(const char *digest, struct berth_error **err);
static inline bool oci_digest_is_valid(const char *digest)
{
        return oci_digest_validate(digest, NULL) == 0;
}

struct oci_platform {
        char *architecture;
        char *os;
        char *os_version;   /* NULL when absent */
        char **os_features; /* NULL when absent */
        char *variant;      /* NULL when absent */
        char **features;    /* NULL when absent (reserved by the spec) */
};

/*
 * Parse "os[/arch[/variant]]" as docker's --platform (containerd's platforms.Parse): names
 * lowercased and normalised as it does (x86_64 → amd64, aarch64 → arm64, armhf → arm/v7,
 * macos → darwin; "linux/arm" and "linux/arm64" keep no variant), a lone word an OS or an
 * architecture Go knows; errors in its words ("\"x\": unknown operating system or
 * architecture: invalid argument").  oci_platform_match() normalises further for matching.
 */
int oci_platform_parse(const char *s, struct oci_platform *ret, struct berth_error **err);
/* Normalise names in place (x86_64 → amd64, arm64 variant → v8, amd64 variant dropped…). */
void oci_platform_normalize(struct oci_platform *p);
/* "linux/arm64/v8" (malloc'd). */
char *oci_platform_format(const struct oci_platform *p);
void oci_platform_release(struct oci_platform *p);
void oci_platform_copy(struct oci_platform *dst, const struct oci_platform *src);
/*
 * Rank of `have` for a host that wants `want`: 0 = no match, higher is better.
 * An exact variant ranks above an older compatible one (arm/v7 host: v7 > v6 > v5).
 */
int oci_platform_match(const struct oci_platform *want, const struct oci_platform *have);

struct oci_descriptor {
        char *media_type;
        char *digest;
        int64_t size;
        char **urls;                   /* NULL when absent */
        struct json *annotations;      /* object of strings, or NULL */
        struct oci_platform *platform; /* NULL when absent */
        char *artifact_type;           /* NULL when absent */
};

struct oci_manifest {
        int schema_version;  /* always 2 after a successful parse */
        char *media_type;    /* NULL when the document has none (legal for OCI) */
        char *artifact_type; /* NULL when absent */
        struct oci_descriptor config;
        struct oci_descriptor *layers;
        size_t n_layers;
        struct oci_descriptor *subject; /* NULL when absent */
        struct json *annotations;
};

struct oci_index {
        int schema_version;
        char *media_type;
        struct oci_descriptor *manifests;
        size_t n_manifests;
        struct json *annotations;
};

struct oci_healthcheck {
        char **test;      /* ["CMD", …], ["CMD-SHELL", "…"], ["NONE"] */
        int64_t interval; /* nanoseconds, 0 = inherit */
        int64_t timeout;
        int64_t start_period;
        int64_t start_interval;
        int64_t retries;
};

/*
 * The "config" member of an image config (what `docker inspect` shows as
 * Config).  String arrays are NULL when absent and non-NULL (maybe empty) when
 * present: an empty Entrypoint differs from none.  exposed_ports and volumes
 * are the keys of their JSON objects; labels alternate key, value.
 */
struct oci_container_config {
        char *user;
        char **exposed_ports;
        char **env;
        char **entrypoint;
        char **cmd;
        char **volumes;
        char *working_dir;
        char **labels;
        char *stop_signal;
        struct oci_healthcheck *healthcheck;
        bool args_escaped;
        char **on_build;
        char **shell;
};

struct oci_history {
        char *created;
        char *created_by;
        char *author;
        char *comment;
        bool empty_layer;
};

struct oci_image_config {
        char *created; /* RFC 3339, NULL when absent */
        char *author;
        char *architecture;
        char *os;
        char *os_version;
        char **os_features;
        char *variant;
        bool has_config;
        struct oci_container_config config;
        char *rootfs_type; /* "layers" */
        char **diff_ids;
        struct oci_history *history;
        size_t n_history;
};

/* Parse and validate.  *ret is owned by the caller. */
int oci_descriptor_from_json(const struct json *j, struct oci_descriptor *ret,
                             struct berth_error **err);
int oci_manifest_parse(const char *buf, size_t len, struct oci_manifest **ret,
                       struct berth_error **err);
int oci_index_parse(const char *buf, size_t len, struct oci_index **ret, struct berth_error **err);
int oci_image_config_parse(const char *buf, size_t len, struct oci_image_config **ret,
                           struct berth_error **err);

/* Validation of structs built in code (parse already calls these). */
int oci_descriptor_validate(const struct oci_descriptor *d, struct berth_error **err);
int oci_manifest_validate(const struct oci_manifest *m, struct berth_error **err);
int oci_index_validate(const struct oci_index *x, struct berth_error **err);
int oci_image_config_validate(const struct oci_image_config *c, struct berth_error **err);

/* Emit compact JSON (malloc'd, Go-style HTML escaping as Docker writes it). */
struct json *oci_descriptor_to_json(const struct oci_descriptor *d);
char *oci_manifest_emit(const struct oci_manifest *m);
char *oci_index_emit(const struct oci_index *x);
char *oci_image_config_emit(const struct oci_image_config *c);

/*
 * Pick the index entry for `want`: the best-ranked manifest of a manifest
 * media type whose platform matches.  Returns the position in x->manifests,
 * or -ENOENT with an error that lists what the index offers.
 */
int oci_index_select(const struct oci_index *x, const struct oci_platform *want,
                     struct berth_error **err);

void oci_descriptor_release(struct oci_descriptor *d);
void oci_manifest_free(struct oci_manifest *m);
void oci_index_free(struct oci_index *x);
void oci_image_config_free(struct oci_image_config *c);
static inline void oci_manifest_freep(struct oci_manifest **m)
{
        oci_manifest_free(*m);
}
static inline void oci_index_freep(struct oci_index **x)
{
        oci_index_free(*x);
}
static inline void oci_image_config_freep(struct oci_image_config **c)
{
        oci_image_config_free(*c);
}
#define _cleanup_oci_manifest_     _cleanup_(oci_manifest_freep)
#define _cleanup_oci_index_        _cleanup_(oci_index_freep)
#define _cleanup_oci_image_config_ _cleanup_(oci_image_config_freep)

#endif
