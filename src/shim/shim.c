/*
 * shim.c — berth-shim: one small process per running container, so the
 * container outlives berthd (protocol.h is the contract with berthd).
 *
 * `berth-shim <run-dir>`: the process berthd runs is only a launcher.  It
 * reads shim.json, forks the monitor and waits for its one-line report, which
 * it prints before exiting.
 *
 * The monitor starts a session of its own and becomes a child subreaper.  It
 * keeps no runtime code: the runtime's create, start and exec run in
 * berth-shim-helper processes it forks and executes, one per step (the
 * create helper also takes the start that follows at once: shim-helper.c;
 * that binary seals itself, as our runtime code runs inside the container's
 * namespaces — the monitor never enters them).  A helper hands back the new
 * process's pid and pty master and exits; the new process
 * is re-parented to the monitor (the subreaper), which reaps it and so learns
 * its exit status.  The monitor itself only moves bytes (shim-io.c), writes
 * the log (shim-log.c), answers control requests and, at the end, records the
 * exit.  Built against musl (meson.build) it maps about 160 KB; as a static
 * glibc program it drops what setup touched once the container runs.
 *
 * Never: exit before the container has (a monitor that dies loses the exit
 * status; berthd then records it as killed); depend on berthd; take a signal
 * meant for the container (SIGTERM and friends are ignored here: berthd
 * signals the container's processes, not us).
 */
#include <fcntl.h>
#include <linux/mount.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "base/fileio.h"
#include "base/json.h"
#include "shim.h"
#include "shim/protocol.h"

int shim_watch_lookup(int fd, void **ret_obj);

static const char *run_dir_g;

void shim_warn(const char *fmt, ...)
{
        if (!run_dir_g)
                return;
        char path[4096];
        snprintf(path, sizeof(path), "%s/" SHIM_LOGFILE, run_dir_g);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        if ((size_t)n > sizeof(line) - 2)
                n = (int)sizeof(line) - 2;
        line[n++] = '\n';
        (void)write(fd, line, (size_t)n);
        close(fd);
}

/* ---- configuration ---- */

struct shim_config {
        char *log_driver, *log_path;
        char *log_attrs; /* a JSON object's text, or NULL */
        uint64_t log_max_size;
        unsigned log_max_file;
        bool log_compress;
};

static char *jstr(const struct json *j, const char *key)
{
        const char *v = json_str(json_get(j, key));
        return v ? xstrdup(v) : NULL;
}

static bool jbool(const struct json *j, const char *key)
{
        const struct json *v = json_get(j, key);
        return json_is(v, JSON_BOOL) && v->b;
}

static uint64_t juint(const struct json *j, const char *key)
{
        const struct json *v = json_get(j, key);
        return json_is(v, JSON_NUMBER) && (v->num.flags & JSON_NUM_UINT) ? v->num.u : 0;
}

static int load_config(struct shim *s, struct shim_config *c, struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/" SHIM_CONFIG, s->run_dir);
        _cleanup_json_ struct json *j = NULL;
        int r = json_parse_file(path, 1 << 20, &j, err);
        if (r < 0)
                return r;
        s->id = jstr(j, "ID");
        s->bundle = jstr(j, "Bundle");
        s->runtime_root = jstr(j, "RuntimeRoot");
        s->seccomp_cache = jstr(j, "SeccompCache");
        s->tty = jbool(j, "Tty");
        s->open_stdin = jbool(j, "OpenStdin");
        s->stdin_once = jbool(j, "StdinOnce");
        s->height = (unsigned)juint(j, "Height");
        s->width = (unsigned)juint(j, "Width");
        c->log_driver = jstr(j, "LogDriver");
        c->log_path = jstr(j, "LogPath");
        c->log_max_size = juint(j, "LogMaxSize");
        c->log_max_file = (unsigned)juint(j, "LogMaxFile");
        c->log_compress = jbool(j, "LogCompress");
        c->log_attrs = jstr(j, "LogAttrs");
        if (!s->id || !s->bundle || !s->runtime_root)
                return berth_error_set(err, EINVAL, "%s: ID, Bundle and RuntimeRoot are required",
                                       path);
        return 0;
}

/* ---- messages with fds ---- */

static int send_msg(int fd, const char *data, size_t len, const int *fds, size_t n_fds)
{
        char cbuf[CMSG_SPACE(sizeof(int) * 4)];
        memset(cbuf, 0, sizeof(cbuf));
        struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (n_fds) {
                mh.msg_control = cbuf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        ssize_t n;
        do
                n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : 0;
}

/* One message into buf (NUL-terminated), up to 4 fds; returns its length or -errno. */
static ssize_t recv_msg(int fd, char *buf, size_t size, int *fds, size_t *n_fds)
{
        char cbuf[CMSG_SPACE(sizeof(int) * 4)];
        struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n;
        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        *n_fds = 0;
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                int got;
                                memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                if (*n_fds < 4)
                                        fds[(*n_fds)++] = got;
                                else
                                        close(got);
                        }
                }
        buf[n] = '\0';
        return n;
}

/* ---- helpers: the runtime's create and exec in a child of ours ---- */

struct child_stdio {
        int in, out, err;       /* the child's ends */
        int in_w, out_r, err_r; /* ours */
};

static int stdio_pipes(bool tty, bool want_stdin, struct child_stdio *io, struct berth_error **err)
{
        *io = (struct child_stdio){-1, -1, -1, -1, -1, -1};
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0)
                return berth_error_sys(err, errno, "open /dev/null");
        int p[2];
        if (tty) {
                /* the runtime gives the process its terminal; plain fds are /dev/null */
                io->in = devnull;
                io->out = dup(devnull);
                io->err = dup(devnull);
                return 0;
        }
        if (want_stdin) {
                if (pipe2(p, O_CLOEXEC) < 0)
                        goto fail;
                io->in = p[0];
                io->in_w = p[1];
                close(devnull);
        } else {
                io->in = devnull;
        }
        if (pipe2(p, O_CLOEXEC) < 0)
                goto fail;
        io->out_r = p[0];
        io->out = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                goto fail;
        io->err_r = p[0];
        io->err = p[1];
        return 0;
fail:
        return berth_error_sys(err, errno, "create stdio pipes");
}

static void close_fd(int *fd)
{
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void stdio_close_child(struct child_stdio *io)
{
        close_fd(&io->in);
        close_fd(&io->out);
        close_fd(&io->err);
}

static void stdio_close_ours(struct child_stdio *io)
{
        close_fd(&io->in_w);
        close_fd(&io->out_r);
        close_fd(&io->err_r);
}

/*
 * The helpers beside us (the monitor keeps no runtime code of its own):
 * berth-shim-helper, and berth-shim-helper-lite where the build made one
 * (protocol.h), asked first.  fd: the helper as a read-only detached mount of
 * its file, made once: executed from it, each helper finds itself sealed
 * (runtime/selfseal.c) and skips its own re-exec.  -1 where the mount API is
 * missing: each helper seals itself.
 */
struct helper {
        char path[4096];
        int fd;
};
static struct helper full_helper = {.fd = -1}, lite_helper = {.fd = -1};
static bool have_lite;

static void seal_helper(struct helper *h)
{
        int t = (int)syscall(SYS_open_tree, AT_FDCWD, h->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (t < 0)
                return;
        struct mount_attr attr = {.attr_set =
                                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
        if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
                close(t);
                return;
        }
        /* above the fds a helper's stdio and request socket are put on */
        h->fd = fcntl(t, F_DUPFD_CLOEXEC, 10);
        close(t);
}

static void exec_helper(const struct helper *h, char **envp)
{
        char *argv[] = {(char *)(h == &lite_helper ? SHIM_HELPER_LITE : SHIM_HELPER), NULL};
        if (h->fd >= 0)
                syscall(SYS_execveat, h->fd, "", argv, envp, AT_EMPTY_PATH);
        execve(h->path, argv, envp);
}

static void find_helper(void)
{
        char self[3072];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
                snprintf(full_helper.path, sizeof(full_helper.path), "%s", SHIM_HELPER);
                return;
        }
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
                *slash = '\0';
        snprintf(full_helper.path, sizeof(full_helper.path), "%s/%s", self, SHIM_HELPER);
        seal_helper(&full_helper);
        snprintf(lite_helper.path, sizeof(lite_helper.path), "%s/%s", self, SHIM_HELPER_LITE);
        have_lite = access(lite_helper.path, X_OK) == 0;
        if (have_lite)
                seal_helper(&lite_helper);
}

/* The create helper, waiting for our start request (shim-helper.c: linger). */
static pid_t kept_helper;
static const struct helper *kept_from;
static int kept_sock = -1;

/* An answer of n bytes in ret (see helper_call) from h: -SHIM_HELPER_NEEDS_FULL
 * (err untouched) when the lite helper leaves the request to the full one. */
static int helper_answer(const struct helper *h, const char *ret, ssize_t n, int *ret_fds,
                         size_t *ret_n, struct berth_error **err)
{
        if (n <= 0)
                return berth_error_set(err, EIO,
                                       "%s: exited without an answer (is it installed "
                                       "beside berth-shim?)",
                                       h->path);
        _cleanup_json_ struct json *j = NULL;
        if (json_parse(ret, (size_t)n, &j, NULL) < 0)
                return berth_error_set(err, EIO, "%s: garbled answer", h->path);
        const char *e = json_str(json_get(j, "Error"));
        if (e) {
                for (size_t i = 0; i < *ret_n; i++)
                        close(ret_fds[i]);
                *ret_n = 0;
                const struct json *full = json_get(j, "Full");
                if (h == &lite_helper && json_is(full, JSON_BOOL) && full->b)
                        return -SHIM_HELPER_NEEDS_FULL;
                return berth_error_set(err, EIO, "%s", e);
        }
        return 0;
}

/* One request to one helper process, h (see helper_call). */
static int helper_call_one(const struct helper *h, struct child_stdio *io, const struct json *req,
                           const int *fds_in, size_t n_in, char *ret, size_t ret_size, int *ret_fds,
                           size_t *ret_n, bool wait, bool keep, struct berth_error **err)
{
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return berth_error_sys(err, errno, "socketpair");
        int devnull = -1;
        if (!io) {
                devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (devnull < 0) {
                        close(sp[0]);
                        close(sp[1]);
                        return berth_error_sys(err, errno, "open /dev/null");
                }
        }
        pid_t pid = fork();
        if (pid < 0) {
                close(sp[0]);
                close(sp[1]);
                if (devnull >= 0)
                        close(devnull);
                return berth_error_sys(err, errno, "fork");
        }
        if (pid == 0) {
                /* stdio on 0-2, the request socket on 3; every other fd of ours is
                 * close-on-exec */
                dup2(io ? io->in : devnull, 0);
                dup2(io ? io->out : devnull, 1);
                dup2(io ? io->err : devnull, 2);
                dup2(sp[1], 3);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                char *envp[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                        "/sbin:/bin",
                                NULL};
                exec_helper(h, envp);
                _exit(127);
        }
        close(sp[1]);
        if (devnull >= 0)
                close(devnull);
        _cleanup_free_ char *text = json_dump(req, 0);
        int r = send_msg(sp[0], text, strlen(text), fds_in, n_in);
        ssize_t n = r < 0 ? r : recv_msg(sp[0], ret, ret_size, ret_fds, ret_n);
        r = helper_answer(h, ret, n, ret_fds, ret_n, err);
        if (keep && r == 0) {
                kept_helper = pid;
                kept_from = h;
                kept_sock = sp[0];
                return 0;
        }
        close(sp[0]);
        if (wait || r == -SHIM_HELPER_NEEDS_FULL)
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        return r;
}

/*
 * One request to a berth-shim-helper process (see shim-helper.c): the lite
 * helper where there is one, the full one when the lite one leaves it the
 * request (or for every request without it).  It runs with io as its stdio
 * (NULL: /dev/null) and the request socket on fd 3; the answer (JSON,
 * NUL-terminated in ret) and up to 4 fds come back.  When wait is false the
 * helper is left to finish on its own (reaped by the loop).  keep (create):
 * on success the helper and its socket are kept for the start request
 * (kept_helper, kept_sock), not waited for.
 */
static int helper_call(struct child_stdio *io, const struct json *req, const int *fds_in,
                       size_t n_in, char *ret, size_t ret_size, int *ret_fds, size_t *ret_n,
                       bool wait, bool keep, struct berth_error **err)
{
        int r = -SHIM_HELPER_NEEDS_FULL;
        if (have_lite)
                r = helper_call_one(&lite_helper, io, req, fds_in, n_in, ret, ret_size, ret_fds,
                                    ret_n, wait, keep, err);
        if (r == -SHIM_HELPER_NEEDS_FULL) {
                *ret_n = 0;
                r = helper_call_one(&full_helper, io, req, fds_in, n_in, ret, ret_size, ret_fds,
                                    ret_n, wait, keep, err);
        }
        return r;
}

/*
 * req to the kept create helper, if there is one: 1 when it answered (r0: how
 * the request went), 0 when it could not (gone, or went without an answer):
 * the caller then asks a helper of its own.
 */
static int kept_call(const struct json *req, const int *fds_in, size_t n_in, char *ret,
                     size_t ret_size, int *ret_fds, size_t *ret_n, int *r0,
                     struct berth_error **err)
{
        if (kept_sock < 0)
                return 0;
        _cleanup_free_ char *text = json_dump(req, 0);
        int r = send_msg(kept_sock, text, strlen(text), fds_in, n_in);
        ssize_t n = r < 0 ? r : recv_msg(kept_sock, ret, ret_size, ret_fds, ret_n);
        close(kept_sock);
        kept_sock = -1;
        /* it exits right after answering, or has gone already */
        while (kept_helper > 0 && waitpid(kept_helper, NULL, 0) < 0 && errno == EINTR)
                ;
        kept_helper = 0;
        if (n <= 0)
                return 0;
        *r0 = helper_answer(kept_from, ret, n, ret_fds, ret_n, err);
        /* left to the full helper (not for a start): the caller asks one */
        return *r0 == -SHIM_HELPER_NEEDS_FULL ? 0 : 1;
}

int shim_compress_async(const char *from, const char *to)
{
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return -1;
        pid_t h = fork();
        if (h == 0) {
                int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                dup2(devnull, 0);
                dup2(devnull, 1);
                dup2(devnull, 2);
                dup2(sp[1], 3);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                char *envp[] = {NULL};
                exec_helper(&full_helper, envp); /* the lite one has no zlib */
                _exit(127);
        }
        close(sp[1]);
        /* before the loop can reap it: the pidfd tells its end whenever asked */
        int pidfd = h > 0 ? (int)syscall(SYS_pidfd_open, h, 0) : -1;
        if (pidfd >= 0)
                (void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
        if (h > 0) {
                _cleanup_json_ struct json *req = json_new_object();
                json_set_str(req, "Op", "gzip");
                json_set_str(req, "From", from);
                json_set_str(req, "To", to);
                _cleanup_free_ char *text = json_dump(req, 0);
                (void)send_msg(sp[0], text, strlen(text), NULL, 0);
        }
        close(sp[0]); /* its answer is not awaited; the loop reaps it */
        return pidfd;
}

static struct json *base_request(struct shim *s, const char *op)
{
        struct json *j = json_new_object();
        json_set_str(j, "Op", op);
        json_set_str(j, "ID", s->id);
        json_set_str(j, "RuntimeRoot", s->runtime_root);
        if (s->seccomp_cache)
                json_set_str(j, "SeccompCache", s->seccomp_cache);
        return j;
}

static pid_t answer_pid(const char *answer)
{
        _cleanup_json_ struct json *j = NULL;
        if (json_parse(answer, strlen(answer), &j, NULL) < 0)
                return 0;
        const struct json *p = json_get(j, "Pid");
        return json_is(p, JSON_NUMBER) ? (pid_t)p->num.i : 0;
}

static struct shim_proc *init_proc(struct shim *s)
{
        return s->procs && s->procs->is_init ? s->procs : NULL;
}

static int exec_status_fd = -1;
static bool started;

static void reply(int fd, const char *json)
{
        (void)send_msg(fd, json, strlen(json), NULL, 0);
}

static void reply_error(int fd, const char *msg)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "{\"Error\":");
        json_quote(&b, msg, strlen(msg), 0);
        buf_putc(&b, '}');
        reply(fd, b.data);
        buf_release(&b);
}

/*
 * Memory: once the container runs, the monitor's steady work is a small loop
 * (move bytes, write the log, answer requests).  The code and read-only data
 * that setup and start touched stay mapped in its page tables and count in
 * its RSS, though nothing will use most of them again.  They are dropped from
 * this process (MADV_DONTNEED on our own executable's read-only mappings:
 * clean file pages, faulted back from the page cache if ever needed) and the
 * heap's free top is given back.  This is what takes a shim from about 1 MB to
 * well under half of that.
 */
static void shed_memory(void)
{
        FILE *f = fopen("/proc/self/maps", "re");
        if (!f)
                return;
        char line[512];
        unsigned long dev_major = 0, dev_minor = 0, inode = 0;
        bool first = true;
        while (fgets(line, sizeof(line), f)) {
                unsigned long lo, hi, off, maj, min, ino;
                char perms[8];
                if (sscanf(line, "%lx-%lx %7s %lx %lx:%lx %lu", &lo, &hi, perms, &off, &maj, &min,
                           &ino) != 7)
                        continue;
                if (first) {
                        /* the first mapping is our executable (static, not PIE-relocated) */
                        dev_major = maj, dev_minor = min, inode = ino;
                        first = false;
                }
                if (ino != inode || maj != dev_major || min != dev_minor || ino == 0)
                        continue;
                if (perms[1] == 'w')
                        continue; /* data and bss: live state */
                (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
        }
        fclose(f);
#ifdef __GLIBC__
        malloc_trim(0);
#endif
}

static void op_start(struct shim *s, int fd)
{
        struct shim_proc *init = init_proc(s);
        if (started || !init || init->exited) {
                reply_error(fd, started ? "the container was started already"
                                        : "the container's process has exited");
                return;
        }
        started = true;
        _cleanup_json_ struct json *req = base_request(s, "start");
        _cleanup_error_ struct berth_error *err = NULL;
        char answer[4096];
        int fds[4];
        size_t n = 0;
        int r;
        if (!kept_call(req, &exec_status_fd, exec_status_fd >= 0 ? 1 : 0, answer, sizeof(answer),
                       fds, &n, &r, &err))
                r = helper_call(NULL, req, &exec_status_fd, exec_status_fd >= 0 ? 1 : 0, answer,
                                sizeof(answer), fds, &n, true, false, &err);
        if (exec_status_fd >= 0) {
                close(exec_status_fd);
                exec_status_fd = -1;
        }
        if (r < 0) {
                reply_error(fd, berth_error_msg(err));
                return;
        }
        char msg[64];
        snprintf(msg, sizeof(msg), "{\"Pid\":%d}", (int)init->pid);
        reply(fd, msg);
        shed_memory();
}

static void op_exec(struct shim *s, int fd, const struct json *j, int client_fd,
                    const char *payload, size_t payload_len)
{
        struct shim_proc *init = init_proc(s);
        const char *exec_id = json_str(json_get(j, "ExecID"));
        if (!started || !init || init->exited || !exec_id) {
                reply_error(fd, !exec_id ? "exec: ExecID missing" : "the container is not running");
                if (client_fd >= 0)
                        close(client_fd);
                return;
        }
        bool tty = jbool(j, "Tty");
        bool want_in = jbool(j, "Stdin");
        _cleanup_json_ struct json *req = base_request(s, "exec");
        static const char *const keys[] = {"Args",           "Env", "Cwd",       "User",
                                           "AdditionalGids", "Tty", "Privileged"};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (json_get(j, keys[i]))
                        json_object_set(req, keys[i], json_copy(json_get(j, keys[i])));
        struct child_stdio io;
        _cleanup_error_ struct berth_error *err = NULL;
        char answer[4096];
        int fds[4];
        size_t n_fds = 0;
        int r = stdio_pipes(tty, want_in, &io, &err);
        if (r == 0)
                r = helper_call(&io, req, NULL, 0, answer, sizeof(answer), fds, &n_fds, true,
                                false, &err);
        stdio_close_child(&io);
        if (r < 0) {
                stdio_close_ours(&io);
                reply_error(fd, berth_error_msg(err));
                if (client_fd >= 0)
                        close(client_fd); /* berthd tells the client why, on its own copy */
                return;
        }
        pid_t pid = answer_pid(answer);
        struct shim_proc *p = xcalloc(1, sizeof(*p));
        p->pid = pid;
        p->tty = tty;
        p->stdin_once = true;
        p->master = tty && n_fds ? fds[0] : -1;
        p->in_w = io.in_w;
        p->out_r = io.out_r;
        p->err_r = io.err_r;
        p->exec_id = xstrdup(exec_id);
        p->ctl_fd = fd;
        shim_proc_add(s, p);
        shim_proc_resize(p, (unsigned)juint(j, "Height"), (unsigned)juint(j, "Width"));
        if (client_fd >= 0) {
                if (shim_client_add(s, p, client_fd, want_in, jbool(j, "Stdout"),
                                    jbool(j, "Stderr"), json_str(json_get(j, "DetachKeys")),
                                    payload, payload_len, &err) < 0)
                        close(client_fd);
        } else if (p->in_w >= 0) {
                close_fd(&p->in_w);
        }
        char msg[64];
        snprintf(msg, sizeof(msg), "{\"Pid\":%d}", (int)pid);
        reply(fd, msg);
}

void shim_conn_request(struct shim *s, int fd)
{
        static char *buf;
        if (!buf)
                buf = xmalloc(SHIM_MSG_MAX + 1);
        int fds[4];
        size_t n_fds = 0;
        ssize_t n = recv_msg(fd, buf, SHIM_MSG_MAX + 1, fds, &n_fds);
        if (n == -EAGAIN)
                return;
        if (n <= 0) {
                /* berthd hung up: an exec it watched is no longer told its code */
                for (struct shim_proc *p = s->procs; p; p = p->next)
                        if (p->ctl_fd == fd)
                                p->ctl_fd = -1;
                shim_unwatch(s, fd);
                close(fd);
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                return;
        }
        int client_fd = n_fds ? fds[0] : -1;
        for (size_t i = 1; i < n_fds; i++)
                close(fds[i]);
        char *nl = memchr(buf, '\n', (size_t)n);
        size_t jlen = nl ? (size_t)(nl - buf) : (size_t)n;
        const char *payload = nl ? nl + 1 : NULL;
        size_t payload_len = nl ? (size_t)n - jlen - 1 : 0;
        _cleanup_json_ struct json *j = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (json_parse(buf, jlen, &j, &err) < 0 || !json_is(j, JSON_OBJECT)) {
                reply_error(fd, "malformed request");
                if (client_fd >= 0)
                        close(client_fd);
                return;
        }
        const char *op = json_str(json_get(j, "Op"));
        struct shim_proc *init = init_proc(s);
        if (op && strcmp(op, "start") == 0) {
                op_start(s, fd);
        } else if (op && strcmp(op, "attach") == 0) {
                if (client_fd < 0 || !init || init->exited) {
                        reply_error(fd, client_fd < 0 ? "attach: no stream"
                                                      : "the container is not running");
                } else if (shim_client_add(s, init, TAKE_FD(client_fd), jbool(j, "Stdin"),
                                           jbool(j, "Stdout"), jbool(j, "Stderr"),
                                           json_str(json_get(j, "DetachKeys")), payload,
                                           payload_len, &err) < 0) {
                        reply_error(fd, berth_error_msg(err));
                } else {
                        reply(fd, "{}");
                }
        } else if (op && strcmp(op, "resize") == 0) {
                if (init)
                        shim_proc_resize(init, (unsigned)juint(j, "Height"),
                                         (unsigned)juint(j, "Width"));
                reply(fd, "{}");
        } else if (op && strcmp(op, "exec") == 0) {
                op_exec(s, fd, j, TAKE_FD(client_fd), payload, payload_len);
        } else if (op && strcmp(op, "exec-resize") == 0) {
                const char *id = json_str(json_get(j, "ExecID"));
                struct shim_proc *p = id ? shim_find_exec(s, id) : NULL;
                if (p)
                        shim_proc_resize(p, (unsigned)juint(j, "Height"),
                                         (unsigned)juint(j, "Width"));
                if (p)
                        reply(fd, "{}");
                else
                        reply_error(fd, "no such exec");
        } else {
                reply_error(fd, "unknown operation");
        }
        if (client_fd >= 0)
                close(client_fd);
}

/* ---- files in the run dir ---- */

static int write_small_file(const char *dir, const char *name, const char *text)
{
        _cleanup_free_ char *tmp = xasprintf("%s/.%s.tmp", dir, name);
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        int r = write_file_at(AT_FDCWD, tmp, text, strlen(text), 0600);
        if (r < 0)
                return r;
        if (rename(tmp, path) < 0) {
                r = -errno;
                unlink(tmp);
        }
        return r;
}

static uint64_t own_start_time(void)
{
        _cleanup_free_ char *stat = NULL;
        if (read_file_at(AT_FDCWD, "/proc/self/stat", 4096, &stat, NULL) < 0)
                return 0;
        const char *p = strrchr(stat, ')');
        if (!p)
                return 0;
        /* after ") ": state is field 3; starttime is field 22 */
        p += 2;
        for (int field = 3; field < 22 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        return p ? strtoull(p, NULL, 10) : 0;
}

static void write_exit(struct shim *s, const char *error)
{
        struct shim_proc *init = init_proc(s);
        int code = 0, sig = 0;
        int64_t ns = 0;
        if (init && init->exited) {
                if (WIFEXITED(init->status))
                        code = WEXITSTATUS(init->status);
                else if (WIFSIGNALED(init->status))
                        sig = WTERMSIG(init->status), code = 128 + sig;
                ns = init->exited_ns;
        }
        if (!ns) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        }
        time_t secs = (time_t)(ns / 1000000000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char when[64];
        size_t k = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + k, sizeof(when) - k, ".%09lldZ", (long long)(ns % 1000000000));
        _cleanup_json_ struct json *j = json_new_object();
        json_set_int(j, "ExitCode", code);
        json_set_int(j, "Signal", sig);
        json_set_str(j, "FinishedAt", when);
        json_set_str(j, "Error", error ? error : "");
        _cleanup_free_ char *text = json_dump(j, 0);
        int r = write_small_file(s->run_dir, SHIM_EXIT, text);
        if (r < 0)
                shim_warn("write exit record: %s", strerror(-r));
}

/* ---- the monitor ---- */

static void reap(struct shim *s)
{
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        return;
                if (pid == kept_helper) {
                        /* the create helper stopped waiting for start (shim-helper.c) */
                        kept_helper = 0;
                        close(kept_sock);
                        kept_sock = -1;
                        continue;
                }
                shim_proc_exited(s, pid, status);
                struct shim_proc *init = init_proc(s);
                if (init && init->pid == pid && s->timer_fd >= 0) {
                        /* the last output may take a moment; processes outside a pid
                         * namespace may hold the pipes for ever: 2 s at most */
                        struct itimerspec its = {.it_value = {2, 0}};
                        (void)timerfd_settime(s->timer_fd, 0, &its, NULL);
                }
        }
}

static void finish(struct shim *s, const char *error) __attribute__((noreturn));
static void finish(struct shim *s, const char *error)
{
        struct shim_proc *init = init_proc(s);
        /* what is still readable of the init's output goes to the log */
        if (init) {
                int *fds[] = {&init->master, &init->out_r, &init->err_r};
                for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                        if (*fds[i] >= 0) {
                                char buf[32768];
                                ssize_t n;
                                while ((n = read(*fds[i], buf, sizeof(buf))) > 0)
                                        shim_log_write(s->log, fds[i] == &init->err_r ? 2 : 1, buf,
                                                       (size_t)n);
                        }
        }
        shim_log_close(s->log);
        s->log = NULL;
        /* the record; the runtime container (its cgroups, which counted the OOM
         * kills, and its state) is berthd's to delete (protocol.h) */
        write_exit(s, error);
        _cleanup_free_ char *sock = xasprintf("%s/" SHIM_SOCKET, s->run_dir);
        (void)unlink(sock);
        shim_clients_finish(s);
        _exit(0);
}

static void loop(struct shim *s) __attribute__((noreturn));
static void loop(struct shim *s)
{
        struct epoll_event ev[32];
        for (;;) {
                if (shim_init_done(s))
                        finish(s, NULL);
                int n = epoll_wait(s->epfd, ev, 32, -1);
                if (n < 0 && errno != EINTR) {
                        shim_warn("epoll: %s", strerror(errno));
                        finish(s, "the shim's event loop failed");
                }
                for (int i = 0; i < n; i++) {
                        void *obj = NULL;
                        int fd = ev[i].data.fd;
                        int tag = shim_watch_lookup(fd, &obj);
                        switch (tag) {
                        case TAG_SIGNAL: {
                                struct signalfd_siginfo si;
                                while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                                        ;
                                reap(s);
                                /* an exec that ended after its output: its client goes now */
                                shim_clients_sweep(s);
                                break;
                        }
                        case TAG_TIMER: {
                                uint64_t x;
                                (void)read(s->timer_fd, &x, sizeof(x));
                                struct shim_proc *init = init_proc(s);
                                if (init && init->exited)
                                        finish(s, NULL);
                                break;
                        }
                        case TAG_LISTEN: {
                                int c =
                                    accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                                if (c >= 0)
                                        shim_watch(s, c, TAG_CONN, NULL, EPOLLIN);
                                break;
                        }
                        case TAG_CONN:
                                shim_conn_request(s, fd);
                                break;
                        case 0:
                                break;
                        default:
                                shim_io_event(s, tag, obj, ev[i].events);
                                break;
                        }
                }
        }
}

/* The socket is bound by a relative name from inside the run dir: a run dir
 * under a long exec root would not fit sun_path's 108 bytes (berthd connects
 * through /proc/self/fd/<dirfd>/ the same way). */
static int bind_control(struct shim *s, struct berth_error **err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, SHIM_SOCKET);
        if (chdir(s->run_dir) < 0)
                return berth_error_sys(err, errno, "enter run dir '%s'", s->run_dir);
        (void)unlink(SHIM_SOCKET);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return berth_error_sys(err, errno, "control socket");
        mode_t old = umask(0077);
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 64) < 0) {
                r = berth_error_sys(err, errno, "bind control socket in '%s'", s->run_dir);
                close(fd);
                return r;
        }
        s->listen_fd = fd;
        return 0;
}

static int monitor_setup(struct shim *s, const struct shim_config *c, struct berth_error **err)
{
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
                dup2(devnull, 0);
                dup2(devnull, 1);
                dup2(devnull, 2);
                if (devnull > 2)
                        close(devnull);
        }
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (s->epfd < 0 || s->sigfd < 0 || s->timer_fd < 0)
                return berth_error_sys(err, errno, "event loop");
        shim_watch(s, s->sigfd, TAG_SIGNAL, NULL, EPOLLIN);
        shim_watch(s, s->timer_fd, TAG_TIMER, NULL, EPOLLIN);

        if (c->log_driver && strcmp(c->log_driver, "none") != 0 && c->log_path) {
                int r = shim_log_open(c->log_path, c->log_max_size, c->log_max_file,
                                      c->log_compress, c->log_attrs, &s->log, err);
                if (r < 0)
                        return r;
        }

        struct child_stdio io;
        int r = stdio_pipes(s->tty, s->open_stdin, &io, err);
        int fds[4];
        size_t n_fds = 0;
        char answer[4096];
        _cleanup_json_ struct json *req = base_request(s, "create");
        json_set_str(req, "Bundle", s->bundle);
        json_set_bool(req, "Tty", s->tty);
        if (r == 0)
                r = helper_call(&io, req, NULL, 0, answer, sizeof(answer), fds, &n_fds, true,
                                true, err);
        stdio_close_child(&io);
        if (r < 0) {
                stdio_close_ours(&io);
                return r;
        }
        pid_t pid = answer_pid(answer);
        exec_status_fd = n_fds > 0 ? fds[0] : -1;
        struct shim_proc *p = xcalloc(1, sizeof(*p));
        p->pid = pid;
        p->is_init = true;
        p->tty = s->tty;
        p->stdin_once = s->stdin_once;
        p->master = s->tty && n_fds > 1 ? fds[1] : -1;
        p->in_w = io.in_w;
        p->out_r = io.out_r;
        p->err_r = io.err_r;
        p->ctl_fd = -1;
        shim_proc_add(s, p);
        shim_proc_resize(p, s->height, s->width);
        r = bind_control(s, err);
        if (r < 0)
                return r;
        shim_watch(s, s->listen_fd, TAG_LISTEN, NULL, EPOLLIN);
        char text[96];
        snprintf(text, sizeof(text), "%d %llu\n", (int)getpid(),
                 (unsigned long long)own_start_time());
        if ((r = write_small_file(s->run_dir, SHIM_PIDFILE, text)) < 0)
                return berth_error_sys(err, -r, "write %s", SHIM_PIDFILE);
        snprintf(text, sizeof(text), "%d\n", (int)pid);
        if ((r = write_small_file(s->run_dir, SHIM_INITPID, text)) < 0)
                return berth_error_sys(err, -r, "write %s", SHIM_INITPID);
        return 0;
}

static void monitor(struct shim *s, const struct shim_config *c, int report_fd)
    __attribute__((noreturn));
static void monitor(struct shim *s, const struct shim_config *c, int report_fd)
{
        setsid();
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        (void)prctl(PR_SET_NAME, "berth-shim", 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        _cleanup_error_ struct berth_error *err = NULL;
        char line[4200];
        if (monitor_setup(s, c, &err) < 0) {
                snprintf(line, sizeof(line), "error %s\n", berth_error_msg(err));
                (void)write_all(report_fd, line, strlen(line));
                struct shim_proc *init = init_proc(s);
                if (init) {
                        /* made but not to be watched: take it down again */
                        _cleanup_json_ struct json *req = base_request(s, "delete");
                        char answer[4096];
                        int fds[4];
                        size_t n = 0;
                        struct berth_error *e = NULL;
                        (void)helper_call(NULL, req, NULL, 0, answer, sizeof(answer), fds, &n, true,
                                          false, &e);
                        berth_error_free(e);
                }
                _exit(1);
        }
        struct shim_proc *init = init_proc(s);
        snprintf(line, sizeof(line), "ok %d %d\n", (int)getpid(), (int)init->pid);
        (void)write_all(report_fd, line, strlen(line));
        close(report_fd);
        loop(s);
}

int main(int argc, char **argv)
{
        if (argc != 2 || argv[1][0] != '/') {
                fprintf(stderr,
                        "usage: %s <absolute run directory>\n"
                        "(berth-shim is started by berthd, one per container)\n",
                        argv[0]);
                return 2;
        }
        _cleanup_error_ struct berth_error *err = NULL;
        find_helper();
        struct shim s = {
            .run_dir = argv[1], .epfd = -1, .sigfd = -1, .listen_fd = -1, .timer_fd = -1};
        run_dir_g = s.run_dir;
        struct shim_config c = {0};
        if (load_config(&s, &c, &err) < 0) {
                printf("error %s\n", berth_error_msg(err));
                return 1;
        }
        int rp[2];
        if (pipe2(rp, O_CLOEXEC) < 0) {
                printf("error pipe: %s\n", strerror(errno));
                return 1;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
                printf("error fork: %s\n", strerror(errno));
                return 1;
        }
        if (pid == 0) {
                close(rp[0]);
                monitor(&s, &c, rp[1]);
        }
        close(rp[1]);
        char buf[4200];
        size_t len = 0;
        ssize_t n;
        /* one line: the report pipe may stay open in processes of the container */
        while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len) &&
               (n = read(rp[0], buf + len, sizeof(buf) - 1 - len)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                len += (size_t)n;
        }
        buf[len] = '\0';
        if (strncmp(buf, "ok ", 3) == 0) {
                fputs(buf, stdout);
                return 0;
        }
        /* the monitor failed (and exits): reap it so nothing lingers */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (len)
                fputs(buf, stdout);
        else
                fputs("error the shim's monitor exited during setup\n", stdout);
        return 1;
}
