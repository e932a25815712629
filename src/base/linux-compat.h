/*
 * linux-compat.h — what glibc 2.36 declares of newer Linux and musl 1.2.3
 * (Debian 12's) does not: the mount API's flags and struct mount_attr, and
 * statx().  Included after <sys/mount.h> and <sys/stat.h> by the runtime code
 * that berth-shim-helper-lite compiles against musl (src/shim/meson.build);
 * with glibc it adds nothing (glibc's <sys/mount.h> and <linux/mount.h>
 * clash).
 */
#pragma once

#ifndef __GLIBC__
#include <linux/mount.h>
#include <linux/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int open_tree(int dfd, const char *path, unsigned int flags)
{
        return (int)syscall(SYS_open_tree, dfd, path, flags);
}

static inline int move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path,
                             unsigned int flags)
{
        return (int)syscall(SYS_move_mount, from_dfd, from_path, to_dfd, to_path, flags);
}

static inline int mount_setattr(int dfd, const char *path, unsigned int flags,
                                struct mount_attr *attr, size_t size)
{
        return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, size);
}

static inline int statx(int dfd, const char *path, int flags, unsigned int mask, struct statx *buf)
{
        return (int)syscall(SYS_statx, dfd, path, flags, mask, buf);
}
#endif
