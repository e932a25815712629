/*
 * selfseal.c — the runtime binary must not be writable from inside a container.
 *
 * The threat (CVE-2019-5736 and its variants): while a process of ours runs in
 * a container's namespaces — the init between clone and execve, an `exec`
 * joining a running container, or the host binary run *inside* the container
 * because the container's program is a `#!/proc/self/exe` script (the kernel
 * resolves that interpreter while our binary is still the caller's exe) — a
 * process in the container can open /proc/<pid>/exe with O_PATH, wait until
 * we exit, and reopen it for writing: that is the host's berth-runtime.
 * Being non-dumpable does not stop a container that was given CAP_SYS_PTRACE,
 * and a check of the program's path before execve can be raced.
 *
 * The defence here does not depend on any of that: what /proc/<pid>/exe
 * points at is made unwritable.  Before create, run or exec do anything, the
 * runtime checks its own exe; unless it is on a read-only mount already, it
 * clones a detached bind mount of just its own file (open_tree
 * OPEN_TREE_CLONE), makes that mount read-only (mount_setattr), and
 * re-executes itself from it with execveat(AT_EMPTY_PATH).  From then on
 * /proc/self/exe resolves through a read-only mount: opening it for writing
 * fails with EROFS, whoever asks.  The mount is attached to no namespace — the
 * host's mount table never shows it — and disappears with the process.  Cost:
 * two syscalls and one execve of a static binary, instead of runc's copy of
 * its whole binary into a memfd at every start.  Where the mount API is
 * unavailable (kernels before 5.12, or no CAP_SYS_ADMIN) we fall back to
 * runc's way: a copy in a write-sealed memfd.
 *
 * A container given CAP_SYS_ADMIN in the host's user namespace (privileged)
 * can remount anything; no runtime defends that case and we do not claim to.
 *
 * Never: exec a binary other than our own exe; loop (the re-executed process
 * sees a sealed exe and goes on).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "base/linux-compat.h"
#include "runtime/selfseal.h"

extern char **environ;

bool runtime_self_is_sealed(void)
{
        _cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        struct statvfs vfs;
        if (fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
                return true;
        int seals = fcntl(fd, F_GET_SEALS);
        return seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SEAL);
}

static int reexec_from(int fd, char **argv)
{
        syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
        return -errno;
}

static int seal_by_readonly_mount(char **argv)
{
        _cleanup_close_ int tree =
            open_tree(AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return -errno;
        struct mount_attr attr = {
            .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        };
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return -errno;
        return reexec_from(tree, argv);
}

static int seal_by_memfd_copy(char **argv)
{
        _cleanup_close_ int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (src < 0)
                return -errno;
        struct stat st;
        if (fstat(src, &st) < 0)
                return -errno;
        _cleanup_close_ int mfd = memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return -errno;
        off_t off = 0;
        while (off < st.st_size) {
                ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
        }
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return -errno;
        return reexec_from(mfd, argv);
}

int runtime_seal_self(char **argv, struct berth_error **err)
{
        if (runtime_self_is_sealed())
                return 0;
        int r = seal_by_readonly_mount(argv);
        /* Only reached when the re-exec did not happen. */
        int r2 = seal_by_memfd_copy(argv);
        return berth_error_set(err, -r2,
                               "seal the runtime binary against writes from containers: "
                               "read-only mount: %s; sealed copy: %s",
                               strerror(-r), strerror(-r2));
}
