/*
 * fuzz-confine.h — a scratch directory for fuzz targets that write files from
 * hostile input (layer apply, load), where a write anywhere else is caught.
 *
 * confine_init() puts the fuzzer in a mount namespace of its own in which
 * every mount is read-only (mount_setattr AT_RECURSIVE) except a fresh tmpfs
 * at confine_dir and the directories libFuzzer itself writes to (cwd, corpus
 * dirs, the artifact prefix: found in argv before anything turns read-only).
 * So a write that escapes the scratch dir fails with EROFS (a hardlink out of
 * it with EXDEV) instead of landing on the host; confine_escaped() says
 * whether an error is one of those, and the target traps on it.  A helper
 * process left outside the namespace removes the mount point when the fuzzer
 * exits, however it exits.
 *
 * Needs root.  Never: use it for a target that must write anywhere else.
 */
#ifndef BERTH_TESTS_FUZZ_CONFINE_H
#define BERTH_TESTS_FUZZ_CONFINE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

static char confine_dir[] = "/tmp/berth-fuzz-XXXXXX";

static void confine_die(const char *what)
{
        fprintf(stderr, "fuzz confine: %s: %s\n", what, strerror(errno));
        _exit(1);
}

/* Removes the mount point once the fuzzer is gone (its end of the pipe closes). */
static void confine_reaper(void)
{
        int p[2];
        if (pipe(p) < 0)
                confine_die("pipe");
        pid_t pid = fork();
        if (pid < 0)
                confine_die("fork");
        if (pid == 0) {
                close(p[1]);
                char c;
                while (read(p[0], &c, 1) > 0)
                        ;
                rmdir(confine_dir);
                _exit(0);
        }
        close(p[0]); /* p[1] stays open, unused, until we exit */
}

/* A directory libFuzzer writes to stays writable in our namespace. */
static void confine_keep_writable(const char *dir)
{
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(dir, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
                return;
        int tree = open_tree(AT_FDCWD, real, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree < 0)
                confine_die("open_tree");
        struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
        if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &rw, sizeof(rw)) < 0)
                confine_die("mount_setattr rw");
        if (move_mount(tree, "", AT_FDCWD, real, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                confine_die("move_mount");
        close(tree);
}

static void confine_init(const char *name, int argc, char **argv)
{
        if (geteuid() != 0) {
                fprintf(stderr, "%s: needs root (a mount namespace of its own)\n", name);
                exit(1);
        }
        if (!mkdtemp(confine_dir))
                confine_die("mkdtemp");
        confine_reaper();
        const char **keep = calloc((size_t)argc + 2, sizeof(char *));
        char *prefix_dir = NULL;
        size_t n = 0;
        keep[n++] = ".";
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *pfx = "-artifact_prefix=";
                if (!strncmp(a, pfx, strlen(pfx)) && !prefix_dir) {
                        prefix_dir = strdup(a + strlen(pfx));
                        char *slash = strrchr(prefix_dir, '/');
                        if (slash)
                                slash[1] = '\0';
                        keep[n++] = slash ? prefix_dir : ".";
                } else if (a[0] != '-') {
                        keep[n++] = a;
                }
        }
        if (unshare(CLONE_NEWNS) < 0)
                confine_die("unshare");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                confine_die("make / private");
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
        if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof(ro)) < 0)
                confine_die("make every mount read-only");
        for (size_t i = 0; i < n; i++)
                confine_keep_writable(keep[i]);
        free(prefix_dir);
        free(keep);
        if (mount("tmpfs", confine_dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=0700") < 0)
                confine_die("tmpfs");
}

/* An error that can only come from a write outside the scratch dir. */
static inline bool confine_escaped(const struct berth_error *err)
{
        return err && (err->code == EROFS || err->code == EXDEV);
}

static int confine_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? -1 : 0;
}

/* rm -rf path (inside the scratch dir). */
static inline void confine_rm_rf(const char *path)
{
        (void)nftw(path, confine_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
