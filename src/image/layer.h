/*
 * layer.h — unpacking image layers into <data-root>/layers/<chain-id>/.
 *
 * A layer arrives as a byte stream pushed in chunks (so the puller can hash,
 * decompress and unpack while bytes come off the network).  layer_apply
 * detects gzip (isa-l igzip when built with it, else zlib), zstd, bzip2, xz
 * (image/decompress.h) or plain tar from the first bytes, computes the compressed digest and the
 * uncompressed diff_id as it goes, and unpacks into layers/<chain-id>.tmp (or
 * layers/ingest-<rand>.tmp when the diff_id is not known up front); finish()
 * checks the digests, syncfs()es once, and renames the directory to its chain
 * id.  chain(1) = diff_id(1); chain(n) = sha256(chain(n-1) + " " + diff_id(n)).
 *
 * The unpacked directory is an overlayfs lower layer: OCI whiteouts `.wh.x`
 * become character devices 0/0 named x, `.wh..wh..opq` becomes the xattr
 * trusted.overlay.opaque=y on its directory.
 *
 * Security — extraction never writes outside the layer directory, whatever the
 * tar says: names are cleaned lexically (a leading '/' is dropped; a '..' that
 * climbs above the root is an error), and every path is resolved with
 * openat2(RESOLVE_IN_ROOT) below the layer directory fd, so a symlink planted
 * earlier in the same tar resolves inside the layer.  Hardlinks may only name
 * files of this layer.  Xattrs from the tar: user.* and security.capability
 * are applied; trusted.overlay.* and user.overlay.* refuse the layer (they would
 * forge whiteouts, opaque dirs or redirects); every other trusted.*, security.*
 * and system.* name is ignored.  Limits (layer_limits) stop decompression bombs.
 *
 * Never: follow a path from the archive with a plain open, or leave a partial
 * layer under its final name.
 */
#ifndef BERTH_IMAGE_LAYER_H
#define BERTH_IMAGE_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct layer_limits {
        uint64_t max_bytes;   /* uncompressed bytes per layer; 0 = default (64 GiB) */
        uint64_t max_entries; /* tar members per layer; 0 = default (4,000,000) */
        size_t max_path;      /* longest member name; 0 = default (4096) */
};

enum layer_compression {
        LAYER_PLAIN,
        LAYER_GZIP,
        LAYER_ZSTD,
        LAYER_BZIP2, /* not in the image specs, but docker's load takes them */
        LAYER_XZ,
};

struct layer_apply_opts {
        const char *parent_chain_id;  /* "sha256:…" of the layers below, NULL for the first */
        const char *expected_digest;  /* digest of the (compressed) stream, or NULL */
        const char *expected_diff_id; /* the config's rootfs.diff_ids[n], or NULL */
        /* The caller verifies the compressed bytes itself (the registry client
         * and the store both hash them during a pull): skip that SHA-256 here;
         * result.digest is then "" and expected_digest must be NULL. */
        bool no_digest;
        struct layer_limits limits;
};

struct layer_result {
        char digest[72];   /* sha256:… of the bytes pushed in ("" with no_digest) */
        char diff_id[72];  /* sha256:… of the uncompressed tar */
        char chain_id[72]; /* sha256:… naming layers/<hex> */
        uint64_t compressed_size, size, entries; /* size: bytes of the uncompressed tar */
        /* What dockerd reports as the layer's size (its walk of the unpacked directory):
         * regular files' bytes plus symlinks' target lengths, a hard-linked file once.
         * Counted from the tar as it unpacks, so a path the tar writes twice counts twice. */
        uint64_t unpacked_size;
        enum layer_compression compression;
};

struct layer_apply;

/* Returns 0 with *ret set, or 1 with *ret NULL when the layer (known by its
 * expected diff_id) is already unpacked — after waiting for a concurrent apply
 * of the same chain id in this process, if any. */
int layer_apply_begin(const char *data_root, const struct layer_apply_opts *opts,
                      struct layer_apply **ret, struct berth_error **err);
int layer_apply_write(struct layer_apply *la, const void *buf, size_t len,
                      struct berth_error **err);
/* Ends the stream: verifies, syncs, renames; frees la whatever happens. */
int layer_apply_finish(struct layer_apply *la, struct layer_result *res, struct berth_error **err);
/* Drops the temp directory.  Accepts NULL. */
void layer_apply_abort(struct layer_apply *la);
static inline void layer_apply_abortp(struct layer_apply **la)
{
        layer_apply_abort(*la);
}
#define _cleanup_layer_apply_ _cleanup_(layer_apply_abortp)

/* Whole layer from an fd (a stored blob, a `docker load` archive member):
 * begin + write in 1 MiB reads + finish.  Returns 1 when already present. */
int layer_apply_fd(const char *data_root, const struct layer_apply_opts *opts, int fd,
                   struct layer_result *res, struct berth_error **err);
/* The same, calling progress after every read (done of total bytes of fd, total
 * 0 when fd is not a regular file) and once more with last set before the
 * finish; a negative return stops the apply (the client went away). */
typedef int (*layer_progress_fn)(uint64_t done, uint64_t total, bool last, void *userdata,
                                 struct berth_error **err);
int layer_apply_fd_progress(const char *data_root, const struct layer_apply_opts *opts, int fd,
                            layer_progress_fn progress, void *userdata, struct layer_result *res,
                            struct berth_error **err);

/* chain id from the parent's chain id (NULL for the first layer) and a diff_id. */
void layer_chain_id(const char *parent, const char *diff_id, char out[72]);
/* Crash recovery at start-up: removes layers/ *.tmp. */
int layer_store_cleanup(const char *data_root, struct berth_error **err);
bool layer_exists(const char *data_root, const char *chain_id);
/* Every unpacked layer's chain id (never *.tmp), sorted, NULL-terminated;
 * strv_free().  For garbage collection by the engine. */
int layer_list(const char *data_root, char ***ret, struct berth_error **err);
/* <data-root>/layers/<hex>; caller frees. */
char *layer_path(const char *data_root, const char *chain_id);
int layer_delete(const char *data_root, const char *chain_id, struct berth_error **err);

const char *layer_compression_name(enum layer_compression c);

#endif
