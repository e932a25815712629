/*
 * container-exec.c — `docker exec`: exec records and their processes
 * (contract in containers.h).
 *
 * POST /containers/{id}/exec makes a record in memory (dockerd keeps them in
 * memory too; they vanish with the daemon).  POST /exec/{id}/start asks the
 * container's shim to run the process ("exec" in shim/protocol.h), handing it
 * the client's hijacked stream; the shim answers with the pid and later, on
 * the same connection, with the exit code.  That connection is watched by the
 * monitor thread; GET /exec/{id}/json reads the record, and when the process
 * has just ended but its code is still in flight it takes the code from the
 * connection itself (a client asks right after its stream closed).
 *
 * Never: keep a record's container alive past its removal (records hold a
 * reference and are dropped with it); block the monitor on a connection.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/log.h"
#include "container-internal.h"

struct exec_rec {
        struct exec_rec *next;
        char id[65];
        uint64_t seq;
        struct berth_ctr *c;
        struct json *config; /* the create request */
        bool started, running;
        int exit_code; /* -1: not known */
        pid_t pid;
        int conn; /* the shim's connection that will bring the exit code */
};

static struct exec_rec *find_locked(struct ctr_manager *m, const char *id)
{
        for (struct exec_rec *x = m->execs; x; x = x->next)
                if (strcmp(x->id, id) == 0)
                        return x;
        return NULL;
}

/* dockerd's action names the command, its entrypoint, a space and the arguments:
 * "exec_create: sh -c date", "exec_start: sh " (one space after an argument-less sh). */
static char *exec_action(const char *verb, const struct json *config)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_printf(&b, "%s: ", verb);
        size_t i;
        const struct json *it;
        json_array_foreach (jget(config, "Cmd"), i, it) {
                buf_puts(&b, json_str(it) ? json_str(it) : "");
                if (i == 0 || i + 1 < json_len(jget(config, "Cmd")))
                        buf_putc(&b, ' ');
        }
        return buf_steal(&b);
}

int berth_exec_create(struct berth_engine *e, struct berth_ctr *c, const struct json *body,
                      char **ret_id, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (!json_is(body, JSON_OBJECT))
                return berth_error_set(err, EINVAL,
                                       "config cannot be empty in order to create "
                                       "an exec");
        const struct json *cmd = jget(body, "Cmd");
        if (json_is(cmd, JSON_STRING)) {
                /* accepted as one word, as docker's strslice does */
        } else if (!json_is(cmd, JSON_ARRAY) || json_len(cmd) == 0) {
                return berth_error_set(err, EINVAL, "No exec command specified");
        }
        size_t i;
        const struct json *it;
        json_array_foreach (cmd, i, it)
                if (!json_is(it, JSON_STRING))
                        return berth_error_set(
                            err, EINVAL,
                            "json: cannot unmarshal into field ExecConfig.Cmd of type string");
        pthread_mutex_lock(&m->lock);
        bool running = c->state == CTR_RUNNING;
        bool paused = c->state == CTR_PAUSED;
        pthread_mutex_unlock(&m->lock);
        if (paused)
                return berth_error_set(err, EBUSY,
                                       "Container %s is paused, unpause the container before "
                                       "exec",
                                       c->id);
        if (!running)
                return berth_error_set(err, EBUSY, "Container %s is not running", c->id);
        struct exec_rec *x = xcalloc(1, sizeof(*x));
        unsigned char b[32];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                for (size_t k = 0; k < sizeof(b); k++)
                        b[k] = (unsigned char)rand();
        for (size_t k = 0; k < sizeof(b); k++)
                snprintf(x->id + 2 * k, 3, "%02x", b[k]);
        x->config = json_copy(body);
        if (json_is(cmd, JSON_STRING)) {
                struct json *a = json_new_array();
                json_array_append(a, json_copy(cmd));
                json_object_set(x->config, "Cmd", a);
        }
        x->exit_code = -1;
        x->conn = -1;
        x->c = c;
        ctr_ref(c);
        pthread_mutex_lock(&m->lock);
        x->seq = ++m->exec_seq;
        x->next = m->execs;
        m->execs = x;
        pthread_mutex_unlock(&m->lock);
        const char *args[] = {"execID", x->id, NULL};
        _cleanup_free_ char *action = exec_action("exec_create", x->config);
        ctr_event(e, c, action, args);
        *ret_id = xstrdup(x->id);
        return 0;
}

static struct exec_rec *find_seq_locked(struct ctr_manager *m, uint64_t seq)
{
        for (struct exec_rec *x = m->execs; x; x = x->next)
                if (x->seq == seq)
                        return x;
        return NULL;
}

/* The exit code from the shim's connection, if it is there (or comes within
 * ms; the lock is let go meanwhile, so the record is found again by number).
 * Returns the record, or NULL when it went away. */
static struct exec_rec *take_exit_locked(struct ctr_manager *m, struct exec_rec *x, int ms)
{
        if (x->conn < 0)
                return x;
        if (ms > 0) {
                uint64_t seq = x->seq;
                _cleanup_close_ int fd = dup(x->conn);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                pthread_mutex_unlock(&m->lock);
                int n = fd >= 0 ? poll(&p, 1, ms) : 0;
                pthread_mutex_lock(&m->lock);
                x = find_seq_locked(m, seq);
                if (!x || n <= 0 || x->conn < 0)
                        return x;
        }
        char buf[256];
        ssize_t len = recv(x->conn, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (len < 0 && (errno == EAGAIN || errno == EINTR))
                return x;
        if (len > 0) {
                buf[len] = '\0';
                _cleanup_json_ struct json *j = NULL;
                if (json_parse(buf, (size_t)len, &j, NULL) == 0 &&
                    json_is(jget(j, "ExitCode"), JSON_NUMBER))
                        x->exit_code = (int)jget(j, "ExitCode")->num.i;
        }
        /* an answer, or the shim gone: either way this exec is over */
        (void)epoll_ctl(m->epfd, EPOLL_CTL_DEL, x->conn, NULL);
        close(x->conn);
        x->conn = -1;
        x->running = false;
        if (x->exit_code < 0)
                x->exit_code = 137; /* it died with its container */
        pthread_cond_broadcast(&m->changed);
        return x;
}

void ctr_exec_conn_event(struct berth_engine *e, uint64_t seq)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        struct exec_rec *x = find_seq_locked(m, seq);
        if (!x) {
                pthread_mutex_unlock(&m->lock);
                return;
        }
        bool was_running = x->running;
        take_exit_locked(m, x, 0);
        bool ended = was_running && !x->running;
        int code = x->exit_code;
        struct berth_ctr *c = x->c;
        char id[65];
        memcpy(id, x->id, sizeof(id));
        if (ended)
                ctr_ref(c);
        pthread_mutex_unlock(&m->lock);
        if (ended) {
                char code_s[16];
                snprintf(code_s, sizeof(code_s), "%d", code);
                const char *attrs[] = {"execID", id, "exitCode", code_s, NULL};
                ctr_event(e, c, "exec_die", attrs);
                berth_ctr_unref(c);
        }
}

void ctr_exec_container_gone(struct berth_engine *e, struct berth_ctr *c)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        for (struct exec_rec *x = m->execs; x; x = x->next) {
                if (x->c != c || !x->running)
                        continue;
                (void)take_exit_locked(m, x, 0);
                if (x->running) {
                        if (x->conn >= 0) {
                                (void)epoll_ctl(m->epfd, EPOLL_CTL_DEL, x->conn, NULL);
                                close(x->conn);
                                x->conn = -1;
                        }
                        x->running = false;
                        if (x->exit_code < 0)
                                x->exit_code = 137;
                }
        }
        pthread_cond_broadcast(&m->changed);
        pthread_mutex_unlock(&m->lock);
}

static void drop_locked(struct ctr_manager *m, struct exec_rec **px)
{
        struct exec_rec *x = *px;
        *px = x->next;
        if (x->conn >= 0) {
                (void)epoll_ctl(m->epfd, EPOLL_CTL_DEL, x->conn, NULL);
                close(x->conn);
        }
        json_free(x->config);
        berth_ctr_unref(x->c);
        free(x);
}

void ctr_exec_forget(struct berth_engine *e, struct berth_ctr *c)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        for (struct exec_rec **px = &m->execs; *px;) {
                if ((*px)->c == c)
                        drop_locked(m, px);
                else
                        px = &(*px)->next;
        }
        pthread_mutex_unlock(&m->lock);
}

void ctr_exec_drop(struct berth_engine *e, const char *exec_id)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        for (struct exec_rec **px = &m->execs; *px; px = &(*px)->next) {
                if (strcmp((*px)->id, exec_id) == 0) {
                        drop_locked(m, px);
                        break;
                }
        }
        pthread_mutex_unlock(&m->lock);
}

int berth_exec_start(struct berth_engine *e, const char *exec_id, int fd, bool detach, bool tty,
                     const char *payload, size_t payload_len, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        struct exec_rec *x = find_locked(m, exec_id);
        int r = 0;
        if (!x)
                r = berth_error_set(err, ENOENT, "No such exec instance: %s", exec_id);
        else if (x->started)
                r = berth_error_set(err, EBUSY, "Error: Exec command %s is already running",
                                    exec_id);
        else if (x->c->state != CTR_RUNNING)
                r = berth_error_set(err, EBUSY, "Container %s is not running", x->c->id);
        struct berth_ctr *c = x ? x->c : NULL;
        struct json *cfg = x ? json_copy(x->config) : NULL;
        uint64_t seq = x ? x->seq : 0;
        if (r == 0) {
                x->started = true;
                x->running = true;
                ctr_ref(c);
        }
        pthread_mutex_unlock(&m->lock);
        if (r < 0) {
                json_free(cfg);
                if (fd >= 0)
                        close(fd);
                return r;
        }
        _cleanup_free_ char *action = exec_action("exec_start", cfg);
        _cleanup_json_ struct json *req = json_new_object();
        json_set_str(req, "Op", "exec");
        json_set_str(req, "ExecID", exec_id);
        json_object_set(req, "Args", json_copy(jget(cfg, "Cmd")));
        /* the container's environment, then the exec's own (later wins in the runtime) */
        json_object_set(req, "Env",
                        json_is(jget(cfg, "Env"), JSON_ARRAY) ? json_copy(jget(cfg, "Env"))
                                                              : json_new_array());
        const char *wd = json_str(jget(cfg, "WorkingDir"));
        if (wd && *wd)
                json_set_str(req, "Cwd", wd);
        const char *user = json_str(jget(cfg, "User"));
        if (user && *user) {
                /* resolved here, as the container's own user was: the runtime gets numbers and
                 * the supplementary groups (the primary one first, as dockerd lists them) */
                char proc[64];
                pthread_mutex_lock(&m->lock);
                snprintf(proc, sizeof(proc), "/proc/%d/root", (int)c->pid);
                pthread_mutex_unlock(&m->lock);
                _cleanup_close_ int rootfd = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
                _cleanup_free_ char *ids = NULL;
                _cleanup_strv_free_ char **gids = NULL;
                if (rootfd >= 0 && ctr_exec_user(rootfd, user, &ids, &gids, NULL) == 0) {
                        json_set_str(req, "User", ids);
                        struct json *ga = json_object_set(req, "AdditionalGids", json_new_array());
                        for (char **g = gids; *g; g++)
                                json_array_append(ga, json_new_string(*g));
                } else {
                        json_set_str(req, "User", user); /* the runtime's own lookup and error */
                }
        }
        json_set_bool(req, "Tty", tty || jbool(cfg, "Tty"));
        json_set_bool(req, "Privileged", jbool(cfg, "Privileged"));
        json_set_bool(req, "Stdin", jbool(cfg, "AttachStdin") && fd >= 0);
        json_set_bool(req, "Stdout", jbool(cfg, "AttachStdout"));
        json_set_bool(req, "Stderr", jbool(cfg, "AttachStderr"));
        const char *keys = json_str(jget(cfg, "DetachKeys"));
        json_set_str(req, "DetachKeys", keys && *keys ? keys : "ctrl-p,ctrl-q");
        const struct json *cs = jget(cfg, "ConsoleSize");
        if (json_len(cs) == 2 && json_is(cs->arr.items[0], JSON_NUMBER)) {
                json_set_int(req, "Height", cs->arr.items[0]->num.i);
                json_set_int(req, "Width", cs->arr.items[1]->num.i);
        }
        _cleanup_json_ struct json *reply = NULL;
        int conn = -1;
        r = ctr_shim_call(m, c, req, detach ? -1 : fd, payload, payload_len, &reply, &conn, err);
        if (r < 0 && fd >= 0) {
                /* as dockerd: the reason goes down the stream (a stdout frame without a
                 * terminal), and the exec's inspect has the exit code */
                _cleanup_free_ char *msg = xasprintf("%s\r\n", berth_error_msg(*err));
                size_t len = strlen(msg);
                bool framed = !(tty || jbool(cfg, "Tty"));
                unsigned char h[8] = {1,
                                      0,
                                      0,
                                      0,
                                      (unsigned char)(len >> 24),
                                      (unsigned char)(len >> 16),
                                      (unsigned char)(len >> 8),
                                      (unsigned char)len};
                if (framed)
                        (void)send(fd, h, sizeof(h), MSG_NOSIGNAL);
                (void)send(fd, msg, len, MSG_NOSIGNAL);
        }
        if (fd >= 0)
                close(fd);
        json_free(cfg);
        pthread_mutex_lock(&m->lock);
        /* found again: a remove of the container may have dropped the record meanwhile */
        x = find_seq_locked(m, seq);
        if (!x) {
                if (r == 0 && conn >= 0)
                        close(conn);
        } else if (r < 0) {
                x->running = false;
                x->exit_code = 126;
                if (strstr(berth_error_msg(*err), "not found") ||
                    strstr(berth_error_msg(*err), "no such file"))
                        x->exit_code = 127;
        } else {
                const struct json *pid = jget(reply, "Pid");
                x->pid = json_is(pid, JSON_NUMBER) ? (pid_t)pid->num.i : 0;
                x->conn = conn;
                ctr_monitor_watch(m, conn, x->seq);
        }
        pthread_cond_broadcast(&m->changed);
        pthread_mutex_unlock(&m->lock);
        if (r == 0) {
                const char *attrs[] = {"execID", exec_id, NULL};
                ctr_event(e, c, action, attrs);
        }
        berth_ctr_unref(c);
        return r;
}

int berth_exec_resize(struct berth_engine *e, const char *exec_id, unsigned height, unsigned width,
                      struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        struct exec_rec *x = find_locked(m, exec_id);
        struct berth_ctr *c = x ? x->c : NULL;
        bool running = x && x->running;
        if (c)
                ctr_ref(c);
        pthread_mutex_unlock(&m->lock);
        if (!x)
                return berth_error_set(err, ENOENT, "No such exec instance: %s", exec_id);
        int r = 0;
        if (!running) {
                r = berth_error_set(err, EBUSY, "Exec %s is not running", exec_id);
        } else {
                _cleanup_json_ struct json *req = json_new_object();
                json_set_str(req, "Op", "exec-resize");
                json_set_str(req, "ExecID", exec_id);
                json_set_int(req, "Height", height);
                json_set_int(req, "Width", width);
                r = ctr_shim_call(m, c, req, -1, NULL, 0, NULL, NULL, err);
        }
        berth_ctr_unref(c);
        return r;
}

int berth_exec_inspect(struct berth_engine *e, const char *exec_id, struct json **ret,
                       struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        struct exec_rec *x = find_locked(m, exec_id);
        if (!x) {
                pthread_mutex_unlock(&m->lock);
                return berth_error_set(err, ENOENT, "No such exec instance: %s", exec_id);
        }
        /* the start's handler may still be between the shim's answer (after which the
         * process can end and the client's stream close) and the record of it */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 2;
        uint64_t seq = x->seq;
        while (x && x->running && x->conn < 0 && x->pid == 0) {
                if (pthread_cond_timedwait(&m->changed, &m->lock, &deadline) == ETIMEDOUT)
                        break;
                x = find_seq_locked(m, seq);
        }
        if (!x) {
                pthread_mutex_unlock(&m->lock);
                return berth_error_set(err, ENOENT, "No such exec instance: %s", exec_id);
        }
        /* a client asks right after its stream ended: the code may be in flight */
        if (x->running && x->pid > 0 && kill(x->pid, 0) < 0 && errno == ESRCH)
                x = take_exit_locked(m, x, 2000);
        else if (x->running)
                x = take_exit_locked(m, x, 0);
        if (!x) {
                pthread_mutex_unlock(&m->lock);
                return berth_error_set(err, ENOENT, "No such exec instance: %s", exec_id);
        }
        struct json *j = json_new_object();
        json_set_bool(j, "CanRemove", false);
        json_set_str(j, "ContainerID", x->c->id);
        const char *keys = json_str(jget(x->config, "DetachKeys"));
        json_set_str(j, "DetachKeys", keys ? keys : "");
        if (x->exit_code >= 0 && !x->running)
                json_set_int(j, "ExitCode", x->exit_code);
        else
                json_object_set(j, "ExitCode", json_new_null());
        json_set_str(j, "ID", x->id);
        json_set_bool(j, "OpenStderr", jbool(x->config, "AttachStderr"));
        json_set_bool(j, "OpenStdin", jbool(x->config, "AttachStdin"));
        json_set_bool(j, "OpenStdout", jbool(x->config, "AttachStdout"));
        struct json *pc = json_object_set(j, "ProcessConfig", json_new_object());
        const struct json *cmd = jget(x->config, "Cmd");
        struct json *args = json_new_array();
        for (size_t i = 1; i < json_len(cmd); i++)
                json_array_append(args, json_copy(cmd->arr.items[i]));
        json_object_set(pc, "arguments", args);
        json_set_str(pc, "entrypoint", json_len(cmd) ? json_str(cmd->arr.items[0]) : "");
        json_set_bool(pc, "privileged", jbool(x->config, "Privileged"));
        json_set_bool(pc, "tty", jbool(x->config, "Tty"));
        const char *user = json_str(jget(x->config, "User"));
        json_set_str(pc, "user", user ? user : "");
        json_set_bool(j, "Running", x->running);
        json_set_int(j, "Pid", x->running ? x->pid : 0);
        pthread_mutex_unlock(&m->lock);
        *ret = j;
        return 0;
}
