/*
 * archive.h — `docker save` / `docker load` archives (docker-archive, OCI layout).
 *
 * Save writes a tar: each layer as "<hex>/layer.tar" (the blob as pulled,
 * which docker load decompresses when it is compressed), each config as
 * "<hex>.json", and manifest.json [{"Config", "RepoTags", "Layers"}].  Load
 * reads such a tar, or an OCI image layout (oci-layout, index.json,
 * blobs/sha256/…, as `docker save` 25+, skopeo and buildah write it), plain
 * or compressed with gzip, bzip2, xz or zstd as docker accepts it, as a
 * stream (image/decompress.h): every member except the small metadata files
 * goes straight into the content store under its digest (names of the form
 * blobs/sha256/<hex> are verified against it), so memory stays flat whatever
 * the size.  At the end the manifest (manifest.json first, else index.json
 * with platform linux/amd64 chosen from nested indexes) says which blobs are
 * configs and layers; every layer is unpacked and checked against the
 * config's diff_ids, and the image is recorded with the archive's names.
 * Spooled members no image uses are collected afterwards.  Loaded images
 * have no registry manifest, so they cannot be pushed (push.h).
 *
 * Never: record an image before all its layers are unpacked and verified, or
 * take a member path from the archive as a file name on disk.
 */
#ifndef BERTH_ENGINE_ARCHIVE_H
#define BERTH_ENGINE_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"
#include "layers.h"

/* Output sink: 0 or a negative errno (client gone stops the save). */
typedef int (*archive_write_fn)(const void *buf, size_t len, void *userdata);

/* names: NULL-terminated references or IDs; -ENOENT before any byte is written
 * when one is unknown. */
int berth_image_save(struct berth_layers *l, char *const *names, archive_write_fn write,
                     void *userdata, struct berth_error **err);

/* Input source of a load: up to len bytes into buf, 0 at the end, or a
 * negative errno with *err set. */
typedef ssize_t (*archive_read_fn)(void *buf, size_t len, void *userdata, struct berth_error **err);
/* One message of the load's JSON stream; a negative return (the client is
 * gone) stops the load. */
typedef int (*archive_emit_fn)(const struct json *msg, void *userdata);

struct berth_load_opts {
        archive_read_fn read;
        archive_emit_fn emit;
        void *userdata; /* for both */
        /* Without quiet, each layer unpacked gets dockerd's "Loading layer"
         * progress ({"status","progressDetail","progress","id"}); either way
         * each image gets {"stream":"Loaded image: x\n"} (or "Loaded image ID:
         * sha256:…") once it is recorded. */
        bool quiet;
};

/* Load a docker-archive or an OCI image layout tar. */
int berth_image_load(struct berth_layers *l, const struct berth_load_opts *o,
                     struct berth_error **err);

#endif
