/*
 * ns.c — namespaces: cloning the container's init into new ones, joining
 * existing ones by path, writing user-namespace id maps, and the small
 * parent/child sync protocol (see runtime-internal.h).
 *
 * How the child comes to life, and why we never re-exec ourselves
 * (the CVE-2019-5736 class): ns_spawn() calls clone3() like fork() — no
 * CLONE_VM, no separate stack — so the child continues in our own code with
 * a private copy of the parent's memory (the parsed spec, the compiled
 * seccomp program, the fds).  It sets up the container and then execve()s the
 * user's program directly; /proc/self/exe is never executed, and the runtime
 * binary is never copied (runc copies itself into a sealed memfd on every
 * start; we need not).  Between clone and execve the child marks itself
 * non-dumpable, so no process of the container can open /proc/<pid>/exe or
 * /proc/<pid>/map_files of our binary or libraries while our code runs in
 * its namespaces, and the final execve refuses a program that is the runtime
 * binary itself (process.c).
 *
 * CLONE_INTO_CGROUP puts the child in its v2 cgroup atomically when the
 * cgroup part gives us a v2 directory fd (pure v2, hybrid); the child moves
 * itself into each v1 hierarchy before it runs any user code
 * (cgroup_join_self(), after SYNC_GO), and where it does, it unshares its new
 * cgroup namespace after that, so its root is the container's own cgroup.  pid and time namespaces apply to children only,
 * so the parent joins or unshares them around the clone and returns to its
 * own afterwards.
 *
 * Never: leave the calling process in a namespace it did not start in; write
 * an id map for a pid we did not clone.
 */
#include <fcntl.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "runtime/runtime-internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

int sync_send(int fd, char type, const char *text)
{
        char buf[4096];
        size_t n = 1;
        buf[0] = type;
        if (text) {
                size_t l = strnlen(text, sizeof(buf) - 1);
                memcpy(buf + 1, text, l);
                n += l;
        }
        for (;;) {
                ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
                if (w >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

int sync_recv_fd(int fd, char **ret_text, int *ret_fd)
{
        char buf[4097];
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n;
        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == ECONNRESET ? 0 : -errno;
        int got = -1;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(&got, CMSG_DATA(c), sizeof(int));
        if (ret_fd)
                *ret_fd = got;
        else if (got >= 0)
                close(got);
        if (n == 0)
                return 0;
        buf[n] = '\0';
        if (ret_text)
                *ret_text = xstrdup(buf + 1);
        return (unsigned char)buf[0];
}

int sync_recv(int fd, char **ret_text)
{
        return sync_recv_fd(fd, ret_text, NULL);
}

static int sync_send_fd(int sock, char type, int fd)
{
        char cbuf[CMSG_SPACE(sizeof(int))];
        memset(cbuf, 0, sizeof(cbuf));
        struct iovec iov = {.iov_base = &type, .iov_len = 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

int seccomp_load_child(struct rt_init *ri, struct berth_error **err)
{
        int lfd = -1;
        int r = berth_seccomp_load(ri->seccomp, &lfd);
        if (r < 0)
                return berth_error_sys(err, -r, "load seccomp filter");
        if (lfd < 0)
                return 0;
        r = sync_send_fd(ri->sync_fd, SYNC_SECCOMP, lfd);
        close(lfd);
        if (r < 0)
                return berth_error_sys(err, -r, "hand the seccomp listener to the runtime");
        return 0;
}

int seccomp_forward_listener(const struct oci_spec *spec, const char *id, pid_t pid,
                             const char *bundle, int lfd, struct berth_error **err)
{
        const struct oci_seccomp *sc = spec->linux_ ? spec->linux_->seccomp : NULL;
        int r;
        if (!sc || !sc->listener_path || !*sc->listener_path) {
                r = berth_error_set(err, EINVAL,
                                    "linux.seccomp: SCMP_ACT_NOTIFY needs a listenerPath");
        } else {
                _cleanup_free_ char *st = hooks_state_json(spec, id, "creating", pid, bundle);
                _cleanup_json_ struct json *j = NULL;
                r = json_parse(st, strlen(st), &j, err);
                if (r == 0)
                        r = berth_seccomp_send_listener(sc->listener_path, lfd, pid,
                                                        sc->listener_metadata, j, err);
        }
        close(lfd);
        return r;
}

int sync_expect(int fd, char want, const char *what, struct berth_error **err)
{
        _cleanup_free_ char *text = NULL;
        int t = sync_recv(fd, &text);
        if (t == want)
                return 0;
        if (t == SYNC_ERROR)
                return berth_error_set(err, EIO, "%s", text);
        if (t == 0)
                return berth_error_set(err, EIO, "%s: container init exited unexpectedly", what);
        if (t < 0)
                return berth_error_sys(err, -t, "%s: read sync socket", what);
        return berth_error_set(err, EPROTO, "%s: unexpected sync message '%c'", what, t);
}

unsigned long ns_clone_flag(enum oci_ns_type t)
{
        switch (t) {
        case OCI_NS_PID:
                return CLONE_NEWPID;
        case OCI_NS_NETWORK:
                return CLONE_NEWNET;
        case OCI_NS_MOUNT:
                return CLONE_NEWNS;
        case OCI_NS_IPC:
                return CLONE_NEWIPC;
        case OCI_NS_UTS:
                return CLONE_NEWUTS;
        case OCI_NS_USER:
                return CLONE_NEWUSER;
        case OCI_NS_CGROUP:
                return CLONE_NEWCGROUP;
        case OCI_NS_TIME:
                return CLONE_NEWTIME;
        default:
                return 0;
        }
}

int ns_open_joins(const struct oci_spec *spec, int ret_fds[_OCI_NS_MAX], struct berth_error **err)
{
        for (int i = 0; i < _OCI_NS_MAX; i++)
                ret_fds[i] = -1;
        if (!spec->linux_)
                return 0;
        for (size_t i = 0; i < spec->linux_->n_namespaces; i++) {
                const struct oci_namespace *n = &spec->linux_->namespaces[i];
                if (!n->path || !*n->path)
                        continue;
                const char *name = oci_ns_type_name(n->type);
                int fd = open(n->path, O_RDONLY | O_CLOEXEC);
                int r = 0;
                if (fd < 0)
                        r = berth_error_sys(err, errno, "%s namespace path '%s'", name, n->path);
                int t = fd >= 0 ? ioctl(fd, NS_GET_NSTYPE) : 0;
                if (r == 0 && (t < 0 || (unsigned long)t != ns_clone_flag(n->type))) {
                        close(fd);
                        r = berth_error_set(err, EINVAL,
                                            "%s namespace path '%s': not a %s namespace", name,
                                            n->path, name);
                }
                if (r < 0) {
                        for (int k = 0; k < _OCI_NS_MAX; k++)
                                if (ret_fds[k] >= 0) {
                                        close(ret_fds[k]);
                                        ret_fds[k] = -1;
                                }
                        return r;
                }
                if (ret_fds[n->type] >= 0)
                        close(ret_fds[n->type]);
                ret_fds[n->type] = fd;
        }
        return 0;
}

int ns_spawn(unsigned long flags, int cgroup_fd, int (*fn)(void *), void *arg, pid_t *ret_pid,
             struct berth_error **err)
{
        struct clone_args ca = {
            .flags = flags,
            .exit_signal = SIGCHLD,
        };
        if (cgroup_fd >= 0) {
                ca.flags |= CLONE_INTO_CGROUP;
                ca.cgroup = (uint64_t)cgroup_fd;
        }
        fflush(NULL);
        long pid = syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid < 0 && errno == ENOSYS && cgroup_fd < 0)
                pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0)
                return berth_error_sys(err, errno, "clone container init");
        if (pid == 0)
                _exit(fn(arg));
        *ret_pid = (pid_t)pid;
        return 0;
}

static int write_map(pid_t pid, const char *file, const struct oci_id_mapping *m, size_t n,
                     struct berth_error **err)
{
        if (n == 0)
                return 0;
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        for (size_t i = 0; i < n; i++)
                buf_printf(&b, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        int r = write_file_at(AT_FDCWD, path, b.data, b.len, 0);
        if (r < 0)
                return berth_error_sys(err, -r, "write %s", file);
        return 0;
}

int ns_write_id_maps(pid_t pid, const struct oci_linux *l, struct berth_error **err)
{
        int r = write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, err);
        if (r < 0)
                return r;
        return write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, err);
}

/* Join every namespace given by path: the user namespace first, so the others
 * are joined with its capabilities; pid and time were joined by the parent. */
int ns_join_all(struct rt_init *ri, struct berth_error **err)
{
        static const enum oci_ns_type order[] = {OCI_NS_USER,    OCI_NS_IPC,    OCI_NS_UTS,
                                                 OCI_NS_NETWORK, OCI_NS_CGROUP, OCI_NS_MOUNT};
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                int fd = ri->ns_fds[order[i]];
                if (fd < 0)
                        continue;
                if (setns(fd, (int)ns_clone_flag(order[i])) < 0)
                        return berth_error_sys(err, errno, "join %s namespace",
                                               oci_ns_type_name(order[i]));
                if (order[i] == OCI_NS_USER && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
                        return berth_error_sys(err, errno, "become root in joined user namespace");
        }
        return 0;
}

int ns_loopback_up(struct berth_error **err)
{
        /* an interface ioctl reaches the device layer from a socket of any family:
         * AF_UNIX is there even in a kernel without IPv4 */
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_sys(err, errno, "bring up loopback: socket");
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        memcpy(ifr.ifr_name, "lo", 3);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return berth_error_sys(err, errno, "bring up loopback: read its flags");
        if (ifr.ifr_flags & IFF_UP)
                return 0;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return berth_error_sys(err, errno, "bring up loopback");
        return 0;
}
