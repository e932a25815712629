/*
 * container-health.c — docker's health checks: Config.Healthcheck (the
 * image's or --health-*) probed in the running container, State.Health kept
 * and reported as dockerd does.
 *
 * A probe is an exec (container-exec.c) of the test, CMD as it is, CMD-SHELL
 * through the container's Shell or /bin/sh -c, with the container's user and
 * working dir; its output comes back on a socketpair end handed over as the
 * exec's stream, read up to 4096 bytes, and its exit code from the exec's
 * record, which is dropped once read.  A probe that outlives its timeout is
 * killed and counts as a failure with exit code -1 ("Health check exceeded
 * timeout (30s)").
 *
 * dockerd's rules: at each start the status is "starting" with a failing
 * streak of 0 (the log is kept); the first probe runs one interval after the
 * start; exit 0 is healthy and resets the streak; a failure during the start
 * period while still starting is logged but not counted; otherwise the streak
 * grows and reaching Retries makes the container unhealthy; the log keeps the
 * last five results; a status change is a "health_status: <status>" event;
 * when the container stops its status becomes unhealthy.  Defaults: interval
 * and timeout 30 s, retries 3.  A paused container is not probed.
 *
 * One scheduler thread sleeps until the earliest due probe and runs each probe
 * on a thread of its own, so a slow probe delays no other container.  A
 * probe's result is applied only if the container is still in the run it was
 * started for (a generation counted at each start and stop).
 *
 * Never: probe a container that is not running, keep a probe's exec record,
 * or hold the table lock across a probe.
 */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/units.h"
#include "container-internal.h"

#define HEALTH_DEFAULT_NS      (30LL * 1000000000)
#define HEALTH_DEFAULT_RETRIES 3
#define HEALTH_LOG_MAX         5
#define HEALTH_OUTPUT_MAX      4096

static int64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The test to run, or NULL when there is none (absent, empty or NONE). */
static const struct json *health_test(const struct berth_ctr *c)
{
        const struct json *t = jget(jget(c->config, "Healthcheck"), "Test");
        if (!json_is(t, JSON_ARRAY) || json_len(t) == 0)
                return NULL;
        const char *kind = json_str(t->arr.items[0]);
        if (!kind || strcmp(kind, "NONE") == 0)
                return NULL;
        if (strcmp(kind, "CMD") == 0 && json_len(t) < 2)
                return NULL;
        return t;
}

static int64_t hc_ns(const struct berth_ctr *c, const char *key, int64_t def)
{
        int64_t v = jint(jget(c->config, "Healthcheck"), key);
        return v > 0 ? v : def;
}

int ctr_health_check_config(const struct json *hc, struct berth_error **err)
{
        if (!json_is(hc, JSON_OBJECT))
                return 0;
        static const char *const durations[] = {"Interval", "Timeout", "StartPeriod",
                                                "StartInterval"};
        for (size_t i = 0; i < ELEMENTSOF(durations); i++) {
                int64_t v = jint(hc, durations[i]);
                if (v != 0 && v < 1000000)
                        return berth_error_set(
                            err, EINVAL, "%s in Healthcheck cannot be less than 1ms", durations[i]);
        }
        if (jint(hc, "Retries") < 0)
                return berth_error_set(err, EINVAL, "Retries in Healthcheck cannot be negative");
        return 0;
}

/* ---- the probe ---- */

struct probe_result {
        int exit_code;
        char *output;
        int64_t start_ns, end_ns;
};

static struct json *probe_cmd(const struct berth_ctr *c, const struct json *test)
{
        struct json *cmd = json_new_array();
        const char *kind = json_str(test->arr.items[0]);
        if (strcmp(kind, "CMD-SHELL") == 0) {
                const struct json *shell = jget(c->config, "Shell");
                if (json_is(shell, JSON_ARRAY) && json_len(shell)) {
                        for (size_t i = 0; i < json_len(shell); i++)
                                json_array_append(cmd, json_copy(shell->arr.items[i]));
                } else {
                        json_array_append(cmd, json_new_string("/bin/sh"));
                        json_array_append(cmd, json_new_string("-c"));
                }
                /* docker joins the rest with spaces (one string in practice) */
                struct berth_buf b = BERTH_BUF_INIT;
                for (size_t i = 1; i < json_len(test); i++)
                        buf_printf(&b, "%s%s", i > 1 ? " " : "",
                                   json_str(test->arr.items[i]) ? json_str(test->arr.items[i])
                                                                : "");
                char *line = buf_steal(&b);
                json_array_append(cmd, json_new_string(line));
                free(line);
        } else {
                size_t first = strcmp(kind, "CMD") == 0 ? 1 : 0;
                for (size_t i = first; i < json_len(test); i++)
                        json_array_append(cmd, json_copy(test->arr.items[i]));
        }
        return cmd;
}

/* Reads the exec's framed stream (8-byte headers, no terminal) until EOF or the deadline;
 * keeps the first HEALTH_OUTPUT_MAX bytes of payload.  false: the deadline passed. */
static bool read_output(struct ctr_manager *m, int fd, int64_t deadline_ns, struct berth_buf *out)
{
        unsigned char hdr[8];
        size_t have = 0, left = 0;
        char buf[4096];
        for (;;) {
                int64_t now = mono_ns();
                if (now >= deadline_ns)
                        return false;
                if (__atomic_load_n(&m->stopping, __ATOMIC_ACQUIRE))
                        return false; /* berthd stops: the probe's result is not wanted */
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int ms = (int)((deadline_ns - now + 999999) / 1000000);
                if (ms > 200)
                        ms = 200; /* a stop is noticed within this */
                int n = poll(&p, 1, ms);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        continue; /* the deadline is checked above */
                ssize_t k = read(fd, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return true;
                for (ssize_t i = 0; i < k;) {
                        if (left == 0) {
                                hdr[have++] = (unsigned char)buf[i++];
                                if (have == sizeof(hdr)) {
                                        left = (size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 |
                                               (size_t)hdr[6] << 8 | hdr[7];
                                        have = 0;
                                }
                                continue;
                        }
                        size_t take = (size_t)(k - i) < left ? (size_t)(k - i) : left;
                        size_t room =
                            out->len < HEALTH_OUTPUT_MAX ? HEALTH_OUTPUT_MAX - out->len : 0;
                        buf_append(out, buf + i, take < room ? take : room);
                        i += (ssize_t)take;
                        left -= take;
                }
        }
}

/* The probe that ran out of time, by a pidfd, and only if it is still in the container's
 * pid namespace: a pid the shim has reaped and the host reused is never signalled. */
static void kill_probe(struct berth_engine *e, struct berth_ctr *c, pid_t pid)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        pid_t init = c->pid;
        pthread_mutex_unlock(&m->lock);
        if (pid <= 0 || init <= 0)
                return;
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pfd < 0)
                return;
        char a[64], b[64];
        snprintf(a, sizeof(a), "/proc/%d/ns/pid", (int)pid);
        snprintf(b, sizeof(b), "/proc/%d/ns/pid", (int)init);
        struct stat sa, sb;
        if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
            sa.st_ino == sb.st_ino)
                (void)syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
        close(pfd);
}

static void run_probe(struct berth_engine *e, struct berth_ctr *c, const struct json *test,
                      int64_t timeout_ns, struct probe_result *res)
{
        res->start_ns = ctr_now_ns();
        res->exit_code = -1;
        _cleanup_json_ struct json *body = json_new_object();
        json_object_set(body, "Cmd", probe_cmd(c, test));
        json_set_bool(body, "AttachStdout", true);
        json_set_bool(body, "AttachStderr", true);
        const char *user = jstr(c->config, "User");
        if (user && *user)
                json_set_str(body, "User", user);
        const char *wd = jstr(c->config, "WorkingDir");
        if (wd && *wd)
                json_set_str(body, "WorkingDir", wd);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_free_ char *id = NULL;
        struct berth_buf out = BERTH_BUF_INIT;
        int sv[2] = {-1, -1};
        int r = berth_exec_create(e, c, body, &id, &err);
        if (r == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                r = berth_error_sys(&err, errno, "health check: socketpair");
        if (r == 0) {
                int64_t deadline = mono_ns() + timeout_ns;
                r = berth_exec_start(e, id, sv[1], false, false, NULL, 0, &err);
                sv[1] = -1; /* handed over (closed by the start) */
                bool done = r == 0 && read_output(ctr_mgr(e), sv[0], deadline, &out);
                _cleanup_json_ struct json *info = NULL;
                if (r == 0 && berth_exec_inspect(e, id, &info, NULL) == 0) {
                        if (done && !jbool(info, "Running") &&
                            json_is(jget(info, "ExitCode"), JSON_NUMBER)) {
                                res->exit_code = (int)jint(info, "ExitCode");
                        } else if (!done) {
                                kill_probe(e, c, (pid_t)jint(info, "Pid"));
                                char secs[64];
                                struct berth_buf d = BERTH_BUF_INIT;
                                units_go_duration(&d, timeout_ns);
                                snprintf(secs, sizeof(secs), "%s", d.data ? d.data : "");
                                buf_release(&d);
                                buf_release(&out);
                                buf_printf(&out, "Health check exceeded timeout (%s)", secs);
                        }
                }
        }
        if (r < 0) {
                buf_release(&out);
                buf_puts(&out, berth_error_msg(err));
        }
        if (sv[0] >= 0)
                close(sv[0]);
        if (sv[1] >= 0)
                close(sv[1]);
        if (id)
                ctr_exec_drop(e, id);
        res->end_ns = ctr_now_ns();
        res->output = out.data ? buf_steal(&out) : xstrdup("");
}

/* ---- state ---- */

static void set_status_locked(struct berth_ctr *c, const char *status)
{
        json_set_str(c->health, "Status", status);
}

static const char *status_locked(const struct berth_ctr *c)
{
        return jstr(c->health, "Status");
}

/* Applies a result; the new status when it changed, else NULL. */
static const char *apply_locked(struct berth_ctr *c, const struct probe_result *res)
{
        const char *before = status_locked(c);
        _cleanup_free_ char *was = xstrdup(before ? before : "");
        struct json *log = jget(c->health, "Log");
        if (!json_is(log, JSON_ARRAY))
                log = json_object_set(c->health, "Log", json_new_array());
        char start[64], end[64];
        ctr_format_time(res->start_ns, start);
        ctr_format_time(res->end_ns, end);
        struct json *entry = json_new_object();
        json_set_str(entry, "Start", start);
        json_set_str(entry, "End", end);
        json_set_int(entry, "ExitCode", res->exit_code);
        json_set_str(entry, "Output", res->output);
        json_array_append(log, entry);
        if (json_len(log) > HEALTH_LOG_MAX) {
                struct json *kept = json_new_array();
                for (size_t i = json_len(log) - HEALTH_LOG_MAX; i < json_len(log); i++)
                        json_array_append(kept, json_copy(log->arr.items[i]));
                json_object_set(c->health, "Log", kept);
        }
        int64_t streak = jint(c->health, "FailingStreak");
        if (res->exit_code == 0) {
                streak = 0;
                set_status_locked(c, "healthy");
        } else {
                int64_t period = hc_ns(c, "StartPeriod", 0);
                bool in_start =
                    strcmp(was, "starting") == 0 && res->start_ns < c->started_ns + period;
                if (!in_start) {
                        streak++;
                        int64_t retries = jint(jget(c->config, "Healthcheck"), "Retries");
                        if (retries <= 0)
                                retries = HEALTH_DEFAULT_RETRIES;
                        if (streak >= retries)
                                set_status_locked(c, "unhealthy");
                }
        }
        json_set_int(c->health, "FailingStreak", streak);
        const char *now = status_locked(c);
        return strcmp(was, now) != 0 ? now : NULL;
}

/* The next probe after one interval (the start interval during the start period). */
static void schedule_locked(struct berth_ctr *c)
{
        int64_t interval = hc_ns(c, "Interval", HEALTH_DEFAULT_NS);
        int64_t si = jint(jget(c->config, "Healthcheck"), "StartInterval");
        if (si > 0 && ctr_now_ns() < c->started_ns + hc_ns(c, "StartPeriod", 0))
                interval = si;
        c->health_due_ns = mono_ns() + interval;
}

/* ---- threads ---- */

struct probe_job {
        struct berth_engine *e;
        struct berth_ctr *c;
        uint64_t gen;
};

static void *probe_main(void *arg)
{
        struct probe_job *j = arg;
        struct berth_engine *e = j->e;
        struct berth_ctr *c = j->c;
        struct ctr_manager *m = ctr_mgr(e);
        const struct json *test = health_test(c); /* the config does not change */
        struct probe_result res = {0};
        if (test)
                run_probe(e, c, test, hc_ns(c, "Timeout", HEALTH_DEFAULT_NS), &res);
        pthread_mutex_lock(&m->lock);
        const char *changed = NULL;
        bool current = test && !m->stopping && c->health_gen == j->gen && c->health &&
                       (c->state == CTR_RUNNING || c->state == CTR_PAUSED);
        if (current) {
                changed = apply_locked(c, &res);
                schedule_locked(c);
        }
        _cleanup_free_ char *action = changed ? xasprintf("health_status: %s", changed) : NULL;
        c->health_probing = false;
        m->health_probes--;
        pthread_cond_broadcast(&m->health_cond);
        pthread_mutex_unlock(&m->lock);
        if (current)
                ctr_save_state(e, c);
        if (action)
                ctr_event(e, c, action, NULL);
        free(res.output);
        berth_ctr_unref(c);
        free(j);
        return NULL;
}

static void *health_main(void *arg)
{
        struct berth_engine *e = arg;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        while (!m->stopping) {
                int64_t now = mono_ns(), next = INT64_MAX;
                for (size_t i = 0; i < m->n; i++) {
                        struct berth_ctr *c = m->v[i];
                        if (!c->health_due_ns || c->health_probing)
                                continue;
                        if (c->state == CTR_PAUSED && c->health_due_ns <= now)
                                c->health_due_ns = now + 1000000000; /* not probed paused */
                        if (c->state != CTR_RUNNING && c->state != CTR_PAUSED)
                                continue;
                        if (c->state == CTR_PAUSED) {
                                if (c->health_due_ns < next)
                                        next = c->health_due_ns;
                                continue;
                        }
                        if (c->health_due_ns > now) {
                                if (c->health_due_ns < next)
                                        next = c->health_due_ns;
                                continue;
                        }
                        struct probe_job *j = xcalloc(1, sizeof(*j));
                        j->e = e;
                        j->c = c;
                        j->gen = c->health_gen;
                        ctr_ref(c);
                        c->health_probing = true;
                        m->health_probes++;
                        pthread_t t;
                        pthread_attr_t attr;
                        pthread_attr_init(&attr);
                        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                        if (pthread_create(&t, &attr, probe_main, j) != 0) {
                                log_warn("container %.12s: health check: cannot start a thread",
                                         c->id);
                                c->health_probing = false;
                                m->health_probes--;
                                c->health_due_ns = now + 1000000000;
                                berth_ctr_unref(c); /* the table's stays */
                                free(j);
                        }
                        pthread_attr_destroy(&attr);
                }
                if (next == INT64_MAX) {
                        pthread_cond_wait(&m->health_cond, &m->lock);
                        continue;
                }
                /* the condition variable runs on CLOCK_MONOTONIC (ctr_health_open) */
                struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
                pthread_cond_timedwait(&m->health_cond, &m->lock, &ts);
        }
        pthread_mutex_unlock(&m->lock);
        return NULL;
}

void ctr_health_started(struct berth_engine *e, struct berth_ctr *c)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (!health_test(c))
                return;
        pthread_mutex_lock(&m->lock);
        c->health_gen++;
        if (!c->health) {
                c->health = json_new_object();
                json_object_set(c->health, "Log", json_new_array());
        }
        /* Status, FailingStreak, Log: dockerd's key order */
        struct json *log = json_copy(jget(c->health, "Log"));
        json_free(c->health);
        c->health = json_new_object();
        json_set_str(c->health, "Status", "starting");
        json_set_int(c->health, "FailingStreak", 0);
        json_object_set(c->health, "Log", json_is(log, JSON_ARRAY) ? log : json_new_array());
        if (!json_is(log, JSON_ARRAY))
                json_free(log);
        schedule_locked(c);
        pthread_cond_signal(&m->health_cond);
        pthread_mutex_unlock(&m->lock);
}

void ctr_health_stopped_locked(struct berth_ctr *c)
{
        c->health_gen++;
        c->health_due_ns = 0;
        if (c->health)
                set_status_locked(c, "unhealthy");
}

const char *ctr_health_status_locked(const struct berth_ctr *c)
{
        return c->health ? status_locked(c) : NULL;
}

void ctr_health_init(struct ctr_manager *m)
{
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&m->health_cond, &ca);
        pthread_condattr_destroy(&ca);
}

int ctr_health_open(struct berth_engine *e, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        int r = pthread_create(&m->health_thread, NULL, health_main, e);
        if (r != 0)
                return berth_error_sys(err, r, "start the health check thread");
        m->health_running = true;
        return 0;
}

void ctr_health_close(struct berth_engine *e)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (!m->health_running)
                return;
        pthread_mutex_lock(&m->lock);
        m->stopping = true;
        pthread_cond_broadcast(&m->health_cond);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->health_thread, NULL);
        m->health_running = false;
        /* probes in flight notice the stop within 200 ms (read_output) and end */
        pthread_mutex_lock(&m->lock);
        while (m->health_probes)
                pthread_cond_wait(&m->health_cond, &m->lock);
        pthread_mutex_unlock(&m->lock);
}
