/*
 * shim-helper.c — berth-shim-helper: the runtime work of a container's
 * monitor, one request per process (a create's start excepted).
 *
 * berth-shim (the monitor, shim.c) stays small by keeping no runtime code: for
 * each heavy step it forks and executes this program with the step's stdio on
 * fds 0-2 and a SEQPACKET socket on fd 3, sends one request (JSON, with fds),
 * reads one answer (JSON, with fds), and reaps it.  Requests ("Op"):
 *
 *   create  {ID, Bundle, RuntimeRoot, Tty}: the runtime's create; the answer
 *           {"Pid"} carries the fd that tells whether the init's execve
 *           succeeded and, with a terminal, the pty master.  The container's
 *           init is this process's child: when we exit it is re-parented to
 *           the monitor, a child subreaper.  Then the helper stays a while
 *           (LINGER_MS, stdio let go of) for a start request on the same
 *           socket: `run` starts right after create, and answering from here
 *           saves a second helper's fork and exec (1.4 ms of each start here).
 *           It goes at once when the init exits or the monitor closes the
 *           socket; without an answer the monitor runs a new helper for start.
 *   start   {ID, RuntimeRoot} with that execve fd: start, and wait for the exec
 *   exec    {ID, RuntimeRoot, Args, Env, Cwd, User, AdditionalGids, Tty, Privileged}: a detached
 *           exec; {"Pid"} and, with a terminal, its master (adopted like the init)
 *   delete  {ID, RuntimeRoot}: OOM kills counted, then the forced delete;
 *           {"OOMKilled"}
 *   gzip    {From, To}: a rotated log compressed (the `local` log driver)
 *
 * create and exec also take "SeccompCache" (optional): where compiled seccomp
 * filters are reused from.  Errors answer {"Error": "<one line>"}.  Our code runs inside the
 * container's namespaces during create and exec, so the binary seals itself first
 * (runtime/selfseal.c: CVE-2019-5736).
 *
 * Never: outlive the request (a create's: up to LINGER_MS more, for its start);
 * keep an fd the answer handed over.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#ifndef BERTH_HELPER_LITE
#include <zlib.h>
#endif

#include "base/buf.h"
#include "base/fileio.h"
#include "base/json.h"
#include "oci/runtime-spec.h"
#include "runtime/container.h"
#include "runtime/selfseal.h"
#include "shim/protocol.h"

#define SOCK 3
/* how long a create helper waits for the start that `run` sends right after */
#define LINGER_MS 5000

static int send_answer(const char *json, const int *fds, size_t n_fds)
{
        char cbuf[CMSG_SPACE(sizeof(int) * 4)];
        memset(cbuf, 0, sizeof(cbuf));
        struct iovec iov = {.iov_base = (void *)json, .iov_len = strlen(json)};
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
        return sendmsg(SOCK, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int answer_error(const struct berth_error *err)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "{\"Error\":");
        const char *m = err ? err->msg : "failed";
        json_quote(&b, m, strlen(m), 0);
#ifdef BERTH_HELPER_LITE
        /* what only the full helper can do (compile a seccomp profile, gzip): the
         * monitor asks it instead */
        if (err && err->code == SHIM_HELPER_NEEDS_FULL)
                buf_puts(&b, ",\"Full\":true");
#endif
        buf_putc(&b, '}');
        send_answer(b.data, NULL, 0);
        buf_release(&b);
        return 1;
}

static char **jstrv(const struct json *j, const char *key)
{
        const struct json *a = json_get(j, key);
        size_t n = json_len(a), i, k = 0;
        char **v = xcalloc(n + 1, sizeof(char *));
        const struct json *it;
        json_array_foreach (a, i, it)
                if (json_str(it))
                        v[k++] = xstrdup(json_str(it));
        return v;
}

static bool jbool(const struct json *j, const char *key)
{
        const struct json *v = json_get(j, key);
        return json_is(v, JSON_BOOL) && v->b;
}

/* Every capability this process holds, for a privileged exec. */
static char **all_caps(void)
{
        int last = oci_cap_last();
        char **v = xcalloc((size_t)last + 2, sizeof(char *));
        size_t k = 0;
        for (int c = 0; c <= last; c++)
                if (oci_cap_name(c) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
                        v[k++] = xstrdup(oci_cap_name(c));
        return v;
}

static int do_create(const struct json *req, const char *id, struct berth_runtime *rt,
                     pid_t *ret_pid)
{
        _cleanup_error_ struct berth_error *err = NULL;
        int master = -1, status_fd = -1;
        pid_t pid = 0;
        bool tty = jbool(req, "Tty");
        struct berth_create_opts o = {
            .bundle = json_str(json_get(req, "Bundle")),
            .ret_master = tty ? &master : NULL,
            .ret_pid = &pid,
            .ret_exec_status_fd = &status_fd,
        };
        if (berth_container_create(rt, id, &o, &err) < 0) {
                /* the runtime names the container; the user knows which one it is */
                _cleanup_free_ char *prefix = xasprintf("create '%s': ", id);
                if (err && strncmp(err->msg, prefix, strlen(prefix)) == 0)
                        memmove(err->msg, err->msg + strlen(prefix),
                                strlen(err->msg + strlen(prefix)) + 1);
                return answer_error(err);
        }
        char msg[64];
        snprintf(msg, sizeof(msg), "{\"Pid\":%d}", (int)pid);
        int fds[2] = {status_fd, master};
        int r = send_answer(msg, fds, master >= 0 ? 2 : 1) < 0;
        /* handed over: the monitor's now */
        close(status_fd);
        if (master >= 0)
                close(master);
        *ret_pid = pid;
        return r;
}

static int do_exec(const struct json *req, const char *id, struct berth_runtime *rt)
{
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_strv_free_ char **args = jstrv(req, "Args");
        _cleanup_strv_free_ char **env = jstrv(req, "Env");
        _cleanup_strv_free_ char **gids = jstrv(req, "AdditionalGids");
        _cleanup_strv_free_ char **caps = jbool(req, "Privileged") ? all_caps() : NULL;
        int master = -1;
        pid_t pid = 0;
        bool tty = jbool(req, "Tty");
        struct berth_exec_opts o = {
            .args = args,
            .env = env,
            .cwd = json_str(json_get(req, "Cwd")),
            .user = json_str(json_get(req, "User")),
            .additional_gids = gids,
            .caps = caps,
            .tty = tty,
            .detach = true,
            .ret_pid = &pid,
            .ret_master = tty ? &master : NULL,
        };
        if (berth_container_exec(rt, id, &o, NULL, &err) < 0)
                return answer_error(err);
        char msg[64];
        snprintf(msg, sizeof(msg), "{\"Pid\":%d}", (int)pid);
        return send_answer(msg, &master, master >= 0 ? 1 : 0) < 0;
}

/* One request into buf (NUL-terminated), with the fd it may carry in *ret_fd (-1). */
static ssize_t recv_request(char *buf, size_t size, int *ret_fd)
{
        char cbuf[CMSG_SPACE(sizeof(int) * 4)];
        struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        *ret_fd = -1;
        ssize_t n = recvmsg(SOCK, &mh, MSG_CMSG_CLOEXEC);
        if (n <= 0)
                return n;
        buf[n] = '\0';
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
        return n;
}

static int do_start(const struct berth_runtime *rt, const char *id, int status_fd)
{
        _cleanup_error_ struct berth_error *err = NULL;
        int r = berth_container_start(rt, id, &err);
        if (status_fd >= 0) {
                if (r == 0)
                        r = berth_exec_status_wait(status_fd, &err);
                else
                        close(status_fd);
        }
        if (r < 0)
                return answer_error(err);
        return send_answer("{}", NULL, 0) < 0;
}

/*
 * After a create: wait for the monitor's start request on our socket, and do
 * it.  We go without a word when the init exits first (its exit then reaches
 * the monitor, its new parent), when the monitor closes the socket, or after
 * LINGER_MS; the monitor then runs a helper of its own for start.
 */
static void linger(const struct berth_runtime *rt, const char *id, pid_t init)
{
        /* our stdio is the container's: let go of it, so that its readers see the
         * end when the container's own ends close */
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0)
                return;
        for (int fd = 0; fd <= 2; fd++)
                dup2(devnull, fd);
        close(devnull);
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, init, 0);
        struct pollfd p[2] = {{.fd = SOCK, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        int n;
        do
                n = poll(p, pidfd >= 0 ? 2 : 1, LINGER_MS);
        while (n < 0 && errno == EINTR);
        if (n <= 0 || !(p[0].revents & POLLIN))
                return;
        char buf[SHIM_MSG_MAX + 1];
        int fd_in;
        ssize_t len = recv_request(buf, sizeof(buf), &fd_in);
        if (len <= 0)
                return;
        _cleanup_json_ struct json *req = NULL;
        const char *op = json_parse(buf, (size_t)len, &req, NULL) == 0
                             ? json_str(json_get(req, "Op"))
                             : NULL;
        if (!op || strcmp(op, "start") != 0) {
                /* only start may follow a create; the monitor asks another helper */
                if (fd_in >= 0)
                        close(fd_in);
                return;
        }
        (void)do_start(rt, id, fd_in);
}

#ifdef BERTH_HELPER_LITE
static int do_gzip(const struct json *req)
{
        struct berth_error *err = NULL;
        berth_error_set(&err, SHIM_HELPER_NEEDS_FULL, "gzip: this helper is built without zlib");
        int r = answer_error(err);
        berth_error_free(err);
        return r;
}
#else
static int do_gzip(const struct json *req)
{
        const char *from = json_str(json_get(req, "From")), *to = json_str(json_get(req, "To"));
        struct berth_error *err = NULL;
        if (!from || !to) {
                berth_error_set(&err, EINVAL, "gzip: From and To are required");
                return answer_error(err);
        }
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", to);
        int out = in < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        gzFile gz = out >= 0 ? gzdopen(out, "wb") : NULL;
        if (!gz) {
                if (out >= 0)
                        close(out);
                berth_error_sys(&err, errno ? errno : EIO, "compress '%s'", from);
                return answer_error(err);
        }
        char buf[64 * 1024];
        ssize_t n;
        bool ok = true;
        while (ok && (n = read(in, buf, sizeof(buf))) > 0)
                ok = gzwrite(gz, buf, (unsigned)n) == (int)n;
        if (gzclose(gz) != Z_OK)
                ok = false;
        if (!ok || rename(tmp, to) < 0) {
                unlink(tmp);
                berth_error_set(&err, EIO, "compress '%s': write failed", from);
                return answer_error(err);
        }
        unlink(from);
        return send_answer("{}", NULL, 0) < 0;
}
#endif

int main(int argc, char **argv)
{
        if (argc != 1 || fcntl(SOCK, F_GETFD) < 0) {
                fprintf(stderr, "berth-shim-helper is run by berth-shim, not by hand\n");
                return 2;
        }
        _cleanup_error_ struct berth_error *err = NULL;
        if (runtime_seal_self(argv, &err) < 0)
                return answer_error(err);
        char buf[SHIM_MSG_MAX + 1];
        int fd_in;
        ssize_t n = recv_request(buf, sizeof(buf), &fd_in);
        if (n <= 0)
                return 1;
        _cleanup_json_ struct json *req = NULL;
        if (json_parse(buf, (size_t)n, &req, &err) < 0)
                return answer_error(err);
        const char *op = json_str(json_get(req, "Op"));
        const char *id = json_str(json_get(req, "ID"));
        struct berth_runtime rt = {.root = json_str(json_get(req, "RuntimeRoot")),
                                   .seccomp_cache = json_str(json_get(req, "SeccompCache"))};
        if (op && strcmp(op, "gzip") == 0)
                return do_gzip(req);
        if (!op || !id || !rt.root) {
                berth_error_set(&err, EINVAL, "shim helper: Op, ID and RuntimeRoot are required");
                return answer_error(err);
        }
        if (strcmp(op, "create") == 0) {
                pid_t init = 0;
                int r = do_create(req, id, &rt, &init);
                if (r == 0)
                        linger(&rt, id, init);
                return r;
        }
        if (strcmp(op, "exec") == 0)
                return do_exec(req, id, &rt);
        if (strcmp(op, "start") == 0)
                return do_start(&rt, id, fd_in);
        if (strcmp(op, "delete") == 0) {
                /* the OOM kills are read in the same pass, not with the whole stats */
                struct berth_error *e = NULL;
                uint64_t oom_kills = 0;
                bool failed = berth_container_delete_oom(&rt, id, true, &oom_kills, &e) < 0;
                bool oom = oom_kills > 0;
                if (failed && e && e->code != ENOENT) {
                        int r = answer_error(e);
                        berth_error_free(e);
                        return r;
                }
                berth_error_free(e);
                return send_answer(oom ? "{\"OOMKilled\":true}" : "{\"OOMKilled\":false}", NULL,
                                   0) < 0;
        }
        berth_error_set(&err, EINVAL, "shim helper: unknown operation '%s'", op);
        return answer_error(err);
}
