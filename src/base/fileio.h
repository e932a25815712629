/*
 * fileio.h — whole-file reads and writes, directories, and path resolution
 * confined to a root directory.
 *
 * write_file_atomic() writes a temp file beside the target, fsyncs it and
 * renames it into place, so readers see the old content or the new, never a
 * mix.  open_in_root() resolves a path inside a directory fd with openat2
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: symlinks and ".." cannot leave the
 * root, whatever the path says — use it for every path inside a container's
 * rootfs or an image layer.
 *
 * Every fd is opened O_CLOEXEC.
 */
#ifndef BERTH_BASE_FILEIO_H
#define BERTH_BASE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Read everything from fd (up to max bytes, else -EFBIG). Result NUL-terminated. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* Read a whole file relative to dirfd (AT_FDCWD for plain paths). */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);
/* Write all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* Open, write, close (O_TRUNC|O_CREAT with mode). For /proc and /sys files use flags 0 and no
 * create. */
int write_file_at(int dirfd, const char *path, const void *buf, size_t len, mode_t mode);
/* Write a string to an existing file (cgroup and /proc knobs). */
int write_string_file(const char *path, const char *s);
/* temp + fsync + rename + fsync(dir). */
int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* mkdir -p; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);
/* Bytes of the regular files and symlinks below path (du's apparent size, not crossing
 * mount points); 0 when it cannot be read. */
int64_t du_bytes(const char *path);

/* The directory is the root of a mount (a bind of the same filesystem too, on 5.8+). */
bool is_mount_point(const char *path);

/* rm -rf of a directory tree, by fd, never into a mount: a directory that is the root of
 * one (a bind of the same filesystem too) or on another device is left with what is below
 * it, and -EBUSY returned.  Any depth, with a bounded number of fds (deep subtrees are
 * moved up into the root and removed from there).  0 when path is already gone. */
int rm_rf(const char *path);

/*
 * Go's path.Clean (filepath.Clean on Linux) of s[0..n) into out, which holds
 * n + 1 bytes (not NUL-terminated); returns the length.  "" is ".".
 */
size_t path_clean_n(const char *s, size_t n, char *out);
/* The same of a string, malloc'd and NUL-terminated. */
char *path_clean(const char *path);

/* Go's filepath.Clean("/" + path): "." and ".." resolved lexically, one "/" between
 * names, none at the end (malloc'd). */
char *path_clean_abs(const char *path);

/* openat2 with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS; flags get O_CLOEXEC added.
 * A walk the kernel refuses with EAGAIN (a concurrent rename) is retried. */
int open_in_root(int rootfd, const char *path, int flags, mode_t mode);
/* True when fd is on a kernel pseudo filesystem (proc, sysfs, cgroup, debugfs,
 * tracefs, securityfs, bpf, devpts, mqueue, …): files there are kernel knobs,
 * not data, and must not be archived into or unpacked from a container. */
bool fd_on_kernel_fs(int fd);
/* True when the kernel has openat2 (5.6+); probed once. */
bool have_openat2(void);

/* Parse a decimal unsigned/signed integer, whole string, no overflow. */
int parse_u64(const char *s, uint64_t *ret);
int parse_i64(const char *s, int64_t *ret);

#endif
