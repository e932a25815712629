/*
 * store.h — the content store: blobs (manifests, configs, compressed layers)
 * by digest at <data-root>/blobs/sha256/<hex>.
 *
 * A blob arrives through an ingest: blob_store_ingest_begin() reserves the
 * digest, blob_ingest_write() streams bytes into a temp file under
 * <data-root>/tmp/ingest-* while hashing them (OpenSSL EVP SHA-256), and
 * blob_ingest_commit() checks size and digest, fsyncs, renames into place and
 * fsyncs the directory.  So a blob under its final name is always complete and
 * verified; after a crash only temp files can be left, and blob_store_open()
 * removes them.
 *
 * Concurrent ingests of one digest in one process fetch once: the second
 * begin() waits until the first commits (then reports "already present") or
 * aborts (then it becomes the writer).  The store is thread-safe.
 *
 * Never: expose a blob under its digest before it is verified and on disk, or
 * leave a partial file behind on any error (ENOSPC included).
 */
#ifndef BERTH_IMAGE_STORE_H
#define BERTH_IMAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct blob_store;
struct blob_ingest;

/* Creates <data-root>/blobs/sha256 and <data-root>/tmp as needed and removes
 * leftover tmp/ingest-* files of an earlier crash. */
int blob_store_open(const char *data_root, struct blob_store **ret, struct berth_error **err);
void blob_store_free(struct blob_store *s);

/* "sha256:<64 lowercase hex>" only; anything else is -EINVAL with a message. */
int blob_digest_check(const char *digest, struct berth_error **err);

bool blob_store_exists(struct blob_store *s, const char *digest);
/* O_RDONLY|O_CLOEXEC fd of the blob; -ENOENT "blob sha256:…: not found". */
int blob_store_open_blob(struct blob_store *s, const char *digest, int *ret_fd,
                         struct berth_error **err);
int blob_store_size(struct blob_store *s, const char *digest, uint64_t *ret,
                    struct berth_error **err);
/* Whole blob into memory (manifests and configs), at most max bytes. */
int blob_store_read(struct blob_store *s, const char *digest, size_t max, char **ret,
                    size_t *ret_len, struct berth_error **err);
/* Re-hash a stored blob: -EBADMSG "blob sha256:…: content does not match its
 * digest (got sha256:…)" when something changed it after it was stored. */
int blob_store_verify(struct blob_store *s, const char *digest, struct berth_error **err);
/* Removing an absent blob is not an error. */
int blob_store_delete(struct blob_store *s, const char *digest, struct berth_error **err);
/* Every blob digest present (for garbage collection: the engine knows what is
 * referenced and deletes the rest).  NULL-terminated, sorted; strv_free(). */
int blob_store_list(struct blob_store *s, char ***ret, struct berth_error **err);
/* Path of a blob (whether present or not); caller frees. */
char *blob_store_path(struct blob_store *s, const char *digest);
/* The data root the store was opened on. */
const char *blob_store_root(struct blob_store *s);

/* Starts ingesting a blob.  digest may be NULL (unknown: the computed digest
 * names it), size < 0 means unknown.  Returns 0 with *ret set, or 1 with
 * *ret NULL when the blob is already present (possibly after waiting for a
 * concurrent ingest of the same digest to commit). */
int blob_store_ingest_begin(struct blob_store *s, const char *digest, int64_t size,
                            struct blob_ingest **ret, struct berth_error **err);
/* Appends bytes; fails early when more bytes arrive than the expected size. */
int blob_ingest_write(struct blob_ingest *in, const void *buf, size_t len,
                      struct berth_error **err);
/* Bytes written so far. */
uint64_t blob_ingest_offset(const struct blob_ingest *in);
/* Verifies, fsyncs and renames into place; frees the ingest whatever happens.
 * ret_digest (optional) receives the blob's digest.  On a mismatch the temp
 * file is deleted and the error reads
 * "blob sha256:<want>: digest mismatch (got sha256:<got>)". */
int blob_ingest_commit(struct blob_ingest *in, char **ret_digest, struct berth_error **err);
/* Drops the ingest: temp file deleted, waiters woken.  Accepts NULL. */
void blob_ingest_abort(struct blob_ingest *in);
static inline void blob_ingest_abortp(struct blob_ingest **in)
{
        blob_ingest_abort(*in);
}
#define _cleanup_blob_ingest_ _cleanup_(blob_ingest_abortp)

/* One-shot helper: ingest a whole buffer (manifests, configs). */
int blob_store_put(struct blob_store *s, const char *digest, const void *buf, size_t len,
                   char **ret_digest, struct berth_error **err);

/* Hex of a SHA-256 into out (65 bytes). */
void blob_sha256_hex(const unsigned char md[32], char out[65]);

#endif
