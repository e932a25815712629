/*
 * console.c — process.terminal: a pseudo-terminal made inside the
 * container's own devpts, its master handed out over a unix socket
 * (--console-socket, SCM_RIGHTS, as runc and containerd/podman expect), and
 * for a foreground `run`/`exec` without a console socket, the proxy that
 * joins our own terminal to it (raw mode, SIGWINCH resize, exit status).
 *
 * How: the child opens <rootfs>/dev/ptmx through the rootfs fd (so the pty
 * belongs to the container's devpts instance), unlocks it, gets the slave
 * with TIOCGPTPEER (no path lookup of /dev/pts/N), applies consoleSize, sends
 * the master, makes the slave its controlling terminal and its stdio, and
 * bind-mounts it on /dev/console.  The waiting side forwards every catchable
 * signal to the container's process through a signalfd.
 *
 * Never: keep the master in the container; leave our terminal in raw mode.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "base/fileio.h"
#include "runtime/runtime-internal.h"

int console_connect(const char *path, int *ret_fd, struct berth_error **err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return berth_error_set(err, ENAMETOOLONG, "console socket '%s': path too long",
                                       path);
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_sys(err, errno, "console socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return berth_error_sys(err, e, "connect to console socket '%s'", path);
        }
        *ret_fd = fd;
        return 0;
}

static int send_fd(int sock, int fd, const char *name)
{
        char cbuf[CMSG_SPACE(sizeof(int))];
        memset(cbuf, 0, sizeof(cbuf));
        struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
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

int console_recv_master(int sock, int *ret_master, struct berth_error **err)
{
        char buf[256];
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return berth_error_sys(err, errno, "receive terminal");
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_type != SCM_RIGHTS)
                return berth_error_set(err, EPROTO, "receive terminal: no fd");
        memcpy(ret_master, CMSG_DATA(c), sizeof(int));
        return 0;
}

int console_setup(int console_fd, const struct oci_process *p, bool mount_console,
                  struct berth_error **err)
{
        /* called after pivot_root: /dev/ptmx is the container's (pts/ptmx) */
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return berth_error_sys(err, errno, "open /");
        _cleanup_close_ int master = open_in_root(root, "/dev/ptmx", O_RDWR | O_NOCTTY, 0);
        if (master < 0)
                return berth_error_sys(err, -master, "open /dev/ptmx");
        int unlock = 0;
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return berth_error_sys(err, errno, "unlock pty");
        _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return berth_error_sys(err, errno, "open pty slave");
        if (p->has_console_size) {
                struct winsize ws = {.ws_row = (unsigned short)p->console_height,
                                     .ws_col = (unsigned short)p->console_width};
                if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
                        return berth_error_sys(err, errno, "set console size");
        }
        int ptn = 0;
        (void)ioctl(master, TIOCGPTN, &ptn);
        char name[32];
        snprintf(name, sizeof(name), "/dev/pts/%d", ptn);
        int r = send_fd(console_fd, master, name);
        if (r < 0)
                return berth_error_sys(err, -r, "send terminal to console socket");
        if (mount_console) {
                int cfd = open_in_root(root, "/dev/console", O_PATH, 0);
                if (cfd == -ENOENT) {
                        int w =
                            open_in_root(root, "/dev/console", O_WRONLY | O_CREAT | O_NOCTTY, 0600);
                        if (w >= 0)
                                close(w);
                        cfd = open_in_root(root, "/dev/console", O_PATH, 0);
                }
                if (cfd >= 0) {
                        char src[40], dst[40];
                        snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
                        snprintf(dst, sizeof(dst), "/proc/self/fd/%d", cfd);
                        (void)mount(src, dst, NULL, MS_BIND, NULL);
                        close(cfd);
                }
        }
        if (setsid() < 0 && errno != EPERM)
                return berth_error_sys(err, errno, "setsid");
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return berth_error_sys(err, errno, "set controlling terminal");
        for (int fd = 0; fd < 3; fd++)
                if (dup2(slave, fd) < 0)
                        return berth_error_sys(err, errno, "dup terminal to fd %d", fd);
        return 0;
}

static int status_to_exit(int status)
{
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 255;
}

static int make_signalfd(sigset_t *old)
{
        sigset_t all;
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        sigdelset(&all, SIGSEGV);
        sigdelset(&all, SIGBUS);
        sigdelset(&all, SIGILL);
        sigdelset(&all, SIGFPE);
        sigprocmask(SIG_BLOCK, &all, old);
        return signalfd(-1, &all, SFD_CLOEXEC);
}

static bool reap(pid_t pid, int *ret_status)
{
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
                *ret_status = status_to_exit(st);
                return true;
        }
        if (w < 0 && errno == ECHILD) {
                *ret_status = 255;
                return true;
        }
        return false;
}

/* Handle one signal from the signalfd: true when pid has exited. */
static bool on_signal(int sfd, pid_t pid, int master, int *ret_status)
{
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) != sizeof(si))
                return false;
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD)
                return reap(pid, ret_status);
        if (sig == SIGWINCH) {
                struct winsize ws;
                if (master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                        (void)ioctl(master, TIOCSWINSZ, &ws);
                return false;
        }
        if (sig == SIGPIPE)
                return false;
        (void)kill(pid, sig);
        return false;
}

int wait_forward_signals(pid_t pid, int *ret_status, struct berth_error **err)
{
        sigset_t old;
        _cleanup_close_ int sfd = make_signalfd(&old);
        if (sfd < 0)
                return berth_error_sys(err, errno, "signalfd");
        int r = 0;
        for (;;) {
                if (reap(pid, ret_status))
                        break;
                struct pollfd pfd = {.fd = sfd, .events = POLLIN};
                if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
                        r = berth_error_sys(err, errno, "poll");
                        break;
                }
                if ((pfd.revents & POLLIN) && on_signal(sfd, pid, -1, ret_status))
                        break;
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
}

static bool copy_once(int from, int to)
{
        char buf[8192];
        ssize_t n = read(from, buf, sizeof(buf));
        if (n <= 0)
                return n < 0 && (errno == EINTR || errno == EAGAIN);
        return write_all(to, buf, (size_t)n) == 0;
}

int console_proxy_wait(int master, pid_t pid, int *ret_status, struct berth_error **err)
{
        struct termios saved;
        bool raw = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
        if (raw) {
                struct termios t = saved;
                cfmakeraw(&t);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &t);
                struct winsize ws;
                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                        (void)ioctl(master, TIOCSWINSZ, &ws);
        }
        sigset_t old;
        _cleanup_close_ int sfd = make_signalfd(&old);
        int r = 0;
        bool in_open = true, out_open = true, exited = false;
        while (!exited || out_open) {
                struct pollfd p[3] = {
                    {.fd = sfd, .events = POLLIN},
                    {.fd = out_open ? master : -1, .events = POLLIN},
                    {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
                };
                int n = poll(p, 3, exited ? 100 : -1);
                if (n < 0 && errno != EINTR) {
                        r = berth_error_sys(err, errno, "poll");
                        break;
                }
                if (n == 0)
                        break; /* exited and the pty is quiet */
                if ((p[0].revents & POLLIN) && !exited && on_signal(sfd, pid, master, ret_status))
                        exited = true;
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        if (!copy_once(master, STDOUT_FILENO))
                                out_open = false;
                }
                if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
                        if (!copy_once(STDIN_FILENO, master))
                                in_open = false;
                }
                if (!exited && reap(pid, ret_status))
                        exited = true;
        }
        if (!exited)
                while (!reap(pid, ret_status))
                        usleep(1000);
        if (raw)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
}
