/*
 * tar.h — a streaming (push) tar reader for image layers.
 *
 * Bytes are fed in chunks of any size as they come out of the decompressor;
 * the reader calls entry() once per member with its header (ustar, GNU L/K long
 * names and links, PAX records: path, linkpath, size, uid, gid, mtime, atime,
 * SCHILY.xattr.*), then data() for the member's contents as they arrive, then
 * entry_end().  Global PAX headers are skipped (as Docker does); GNU sparse
 * files and other exotic types are refused.  Header-only types (links,
 * devices, dirs, fifos) carry no data whatever their size field says, like Go's
 * archive/tar that wrote most layers.
 *
 * Checks: header checksums, numeric fields (octal or base-256, never
 * negative), extension records bounded (1 MiB), path and link name length
 * bounded by limits->max_path.  Names are handed on raw; confining them to a
 * directory is the caller's job (layer.c).
 *
 * Never: allocate in proportion to a size the archive claims, beyond the bounds above.
 */
#ifndef BERTH_IMAGE_TAR_H
#define BERTH_IMAGE_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "base/error.h"

enum tar_type {
        TAR_FILE,
        TAR_HARDLINK,
        TAR_SYMLINK,
        TAR_CHAR,
        TAR_BLOCK,
        TAR_DIR,
        TAR_FIFO,
};

struct tar_xattr {
        char *name;
        char *value; /* may hold NUL bytes */
        size_t len;
};

struct tar_entry {
        enum tar_type type;
        char *path;
        char *linkname; /* hardlink target or symlink text; "" otherwise */
        uint64_t size;  /* bytes of data that follow (0 for header-only types) */
        mode_t mode;    /* permission bits incl. setuid/setgid/sticky (07777) */
        uint64_t uid, gid;
        struct timespec mtime, atime;
        unsigned devmajor, devminor;
        struct tar_xattr *xattrs;
        size_t n_xattrs;
};

struct tar_ops {
        int (*entry)(void *ud, const struct tar_entry *e, struct berth_error **err);
        int (*data)(void *ud, const void *buf, size_t len, struct berth_error **err);
        int (*entry_end)(void *ud, struct berth_error **err);
};

struct tar_limits {
        size_t max_path;      /* longest name or link name */
        uint64_t max_entries; /* members, extension headers included */
        uint64_t max_size;    /* largest single member */
        /* the stream may end right after the last member's data, without its padding or
         * the end-of-archive blocks: Go's archive/tar reads that as complete, and docker's
         * CLI sends build contexts so (`-f -`, a Dockerfile outside the context) */
        bool unpadded_end;
};

struct tar_reader;

struct tar_reader *tar_reader_new(const struct tar_ops *ops, void *ud,
                                  const struct tar_limits *limits);
void tar_reader_free(struct tar_reader *r);
int tar_reader_feed(struct tar_reader *r, const void *buf, size_t len, struct berth_error **err);
/* End of input: fine at a member boundary, after the end-of-archive blocks, or
 * (limits->unpadded_end) in the padding after a member's whole data; an error
 * ("unexpected end of tar data") inside a member. */
int tar_reader_finish(struct tar_reader *r, struct berth_error **err);
uint64_t tar_reader_entries(const struct tar_reader *r);

#endif
