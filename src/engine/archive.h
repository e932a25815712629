/*
 * archive.h — `docker save` / `docker load` archives (docker-archive format).
 *
 * Save writes a tar: each layer as "<hex>/layer.tar" (the blob as pulled,
 * which docker load decompresses when it is compressed), each config as
 * "<hex>.json", and manifest.json [{"Config", "RepoTags", "Layers"}].  Load
 * reads such a tar (from memory), checks every layer against the config's
 * diff_ids while unpacking it, stores the config and records the image with
 * the archive's tags.  Loaded images have no registry manifest, so they
 * cannot be pushed (push.h).
 *
 * Never: record an image before all its layers are unpacked and verified, or
 * take a member path from the archive as a file name on disk.
 */
#ifndef BERTH_ENGINE_ARCHIVE_H
#define BERTH_ENGINE_ARCHIVE_H

#include <stddef.h>

#include "base/error.h"
#include "base/json.h"
#include "layers.h"

/* Output sink: 0 or a negative errno (client gone stops the save). */
typedef int (*archive_write_fn)(const void *buf, size_t len, void *userdata);

/* names: NULL-terminated references or IDs; -ENOENT before any byte is written
 * when one is unknown. */
int berth_image_save(struct berth_layers *l, char *const *names, archive_write_fn write,
                     void *userdata, struct berth_error **err);

/* Load a docker-archive tar; *ret_loaded gets the "Loaded image: x" /
 * "Loaded image ID: sha256:…" lines (NULL-terminated, strv_free). */
int berth_image_load(struct berth_layers *l, const void *tar, size_t len, char ***ret_loaded,
                     struct berth_error **err);

#endif
