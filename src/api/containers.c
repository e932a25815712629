/*
 * containers.c — the container and exec endpoints of the Docker API 1.41:
 * create, start, stop, restart, kill, wait, pause, unpause, rename, resize,
 * attach, logs, top, stats, json (inspect), list, delete, prune; exec create,
 * start, resize, json.
 *
 * Anything that may take more than a moment (start spawns a shim and mounts;
 * stop waits for an exit; wait and logs stream; attach and exec hand a
 * hijacked socket to the shim) runs on a worker thread with the connection
 * detached from the loop; quick ones (create, list, inspect without sizes,
 * rename, exec create) answer on the loop thread.  The engine
 * (engine/containers.h) does the work; this file parses, calls and renders,
 * mapping errors to Docker's codes: ENOENT 404, EINVAL 400, EBUSY/EEXIST
 * 409, EALREADY 304, anything else 500.
 *
 * Never: answer twice; touch a stream from the loop once a worker has it;
 * hand the engine a socket still in HTTP mode (hijack first).
 */
#include <regex.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/units.h"
#include "engine/containers.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/images.h"
#include "filters.h"
#include "handlers.h"

static void reply_error(struct api_request *req, int r, struct berth_error *err)
{
        api_reply_error(req, api_engine_status(r), "%s", err ? berth_error_msg(err) : "error");
}

static void stream_error(struct api_stream *s, int r, struct berth_error *err)
{
        if (r == -EALREADY)
                api_stream_reply_empty(s, 304);
        else
                api_stream_reply_error(s, api_engine_status(r), "%s",
                                       err ? berth_error_msg(err) : "error");
}

/* ---- jobs: the container resolved on the loop, the work on a worker ---- */

struct job {
        struct api_stream *s;
        struct berth_engine *e;
        struct berth_ctr *c;
        int fd; /* hijacked socket, or -1 */
        char *pending;
        size_t pending_len;
};

static void job_free(struct job *j)
{
        berth_ctr_unref(j->c);
        if (j->fd >= 0)
                close(j->fd);
        free(j->pending);
        free(j);
}

static struct job *job_new(struct api_request *req, struct berth_engine *e, bool need_ctr)
{
        struct berth_ctr *c = NULL;
        if (need_ctr) {
                _cleanup_error_ struct berth_error *err = NULL;
                int r = berth_ctr_get(e, api_request_param(req, "id"), &c, &err);
                if (r < 0) {
                        reply_error(req, r == -EINVAL ? -EINVAL : r, err);
                        return NULL;
                }
        }
        struct job *j = xcalloc(1, sizeof(*j));
        j->e = e;
        j->c = c;
        j->fd = -1;
        return j;
}

static void job_run(struct api_request *req, struct job *j, void *(*fn)(void *))
{
        j->s = api_stream_detach(req);
        if (api_worker_spawn(fn, j) < 0) {
                api_stream_reply_error(j->s, 500, "cannot start a worker thread");
                api_stream_end(j->s);
                job_free(j);
        }
}

static bool stream_gone(void *arg)
{
        return api_stream_client_gone(arg);
}

static int query_int(struct api_request *req, const char *key, int def)
{
        const char *v = api_request_query(req, key);
        if (!v || !*v)
                return def;
        return atoi(v);
}

/* ---- create ---- */

static void handle_create(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_json_ struct json *body = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (api_request_json(req, &body, &err) < 0) {
                api_reply_error(req, 400, "%s", berth_error_msg(err));
                return;
        }
        if (!body) {
                api_reply_error(req, 400, "config cannot be empty in order to create a container");
                return;
        }
        char *id = NULL;
        char **warnings = NULL;
        int r = berth_ctr_create(e, api_request_query(req, "name"), body,
                                 api_request_query(req, "platform"), &id, &warnings, &err);
        if (r < 0) {
                reply_error(req, r, err);
                return;
        }
        _cleanup_json_ struct json *out = json_new_object();
        json_set_str(out, "Id", id);
        struct json *w = json_object_set(out, "Warnings", json_new_array());
        for (size_t i = 0; warnings && warnings[i]; i++)
                json_array_append(w, json_new_string(warnings[i]));
        strv_free(warnings);
        free(id);
        api_reply_json(req, 201, out);
}

/* ---- simple lifecycle operations ---- */

static void *start_worker(void *arg)
{
        struct job *j = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = berth_ctr_start(j->e, j->c, &err);
        if (r < 0)
                stream_error(j->s, r, err);
        else
                api_stream_reply_empty(j->s, 204);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_start(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, start_worker);
}

static void *stop_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        _cleanup_error_ struct berth_error *err = NULL;
        int t = query_int(req, "t", -1);
        const char *sig = api_request_query(req, "signal");
        bool restart = strstr(api_request_path(req), "/restart") != NULL;
        int r = restart ? berth_ctr_restart(j->e, j->c, t, &err)
                        : berth_ctr_stop(j->e, j->c, t, sig, &err);
        if (r < 0)
                stream_error(j->s, r, err);
        else
                api_stream_reply_empty(j->s, 204);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_stop(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, stop_worker);
}

static void *kill_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        _cleanup_error_ struct berth_error *err = NULL;
        int r = berth_ctr_kill(j->e, j->c, api_request_query(req, "signal"), &err);
        if (r < 0)
                stream_error(j->s, r, err);
        else
                api_stream_reply_empty(j->s, 204);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_kill(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, kill_worker);
}

static void *pause_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        _cleanup_error_ struct berth_error *err = NULL;
        bool pause = strstr(api_request_path(req), "/unpause") == NULL;
        int r = berth_ctr_pause(j->e, j->c, pause, &err);
        if (r < 0)
                stream_error(j->s, r, err);
        else
                api_stream_reply_empty(j->s, 204);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_pause(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, pause_worker);
}

static void *update_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *body = NULL;
        int r = api_request_json(req, &body, &err);
        if (r < 0)
                r = -EINVAL;
        else
                r = berth_ctr_update(j->e, j->c, body, &err);
        if (r < 0) {
                stream_error(j->s, r, err);
        } else {
                _cleanup_json_ struct json *out = json_new_object();
                json_object_set(out, "Warnings", json_new_null());
                api_stream_reply_json(j->s, 200, out);
        }
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_update(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, update_worker);
}

static void handle_rename(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_ctr_ struct berth_ctr *c = NULL;
        int r = berth_ctr_get(e, api_request_param(req, "id"), &c, &err);
        if (r == 0)
                r = berth_ctr_rename(e, c, api_request_query(req, "name"), &err);
        if (r < 0)
                reply_error(req, r, err);
        else
                api_reply_empty(req, 204);
}

static void *resize_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        _cleanup_error_ struct berth_error *err = NULL;
        int h = query_int(req, "h", 0), w = query_int(req, "w", 0);
        int r;
        if (h < 0 || w < 0)
                r = berth_error_set(&err, EINVAL, "invalid height or width: %d x %d", h, w);
        else if (j->c)
                r = berth_ctr_resize(j->e, j->c, (unsigned)h, (unsigned)w, &err);
        else
                r = berth_exec_resize(j->e, api_request_param(req, "id"), (unsigned)h, (unsigned)w,
                                      &err);
        if (r < 0)
                stream_error(j->s, r, err);
        else
                api_stream_reply_empty(j->s, 200);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_resize(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, resize_worker);
}

static void handle_exec_resize(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, false);
        if (j)
                job_run(req, j, resize_worker);
}

static void *delete_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        _cleanup_error_ struct berth_error *err = NULL;
        if (api_request_query_bool(req, "link", false)) {
                api_stream_reply_error(j->s, 400,
                                       "Conflict, cannot remove the default link name "
                                       "of the container");
        } else {
                int r = berth_ctr_remove(j->e, j->c, api_request_query_bool(req, "force", false),
                                         api_request_query_bool(req, "v", false), &err);
                if (r < 0)
                        stream_error(j->s, r, err);
                else
                        api_stream_reply_empty(j->s, 204);
        }
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_delete(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, delete_worker);
}

/* ---- wait ---- */

static void *wait_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        const char *cond = api_request_query(req, "condition");
        enum berth_wait_condition c = BERTH_WAIT_NOT_RUNNING;
        if (cond && strcmp(cond, "next-exit") == 0)
                c = BERTH_WAIT_NEXT_EXIT;
        else if (cond && strcmp(cond, "removed") == 0)
                c = BERTH_WAIT_REMOVED;
        /* the headers go out now: `docker run` sends start only once it has them */
        api_stream_start(j->s, 200, "application/json");
        int code = 0;
        char *error = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = berth_ctr_wait(j->e, j->c, c, stream_gone, j->s, &code, &error, &err);
        if (r == 0) {
                _cleanup_json_ struct json *out = json_new_object();
                /* a removed container's error stays with the start that failed
                 * (docker's CLI would print it twice) */
                if (error && *error && c != BERTH_WAIT_REMOVED) {
                        struct json *e = json_object_set(out, "Error", json_new_object());
                        json_set_str(e, "Message", error);
                } else {
                        json_object_set(out, "Error", json_new_null());
                }
                json_set_int(out, "StatusCode", code);
                (void)api_stream_write_json(j->s, out);
        }
        free(error);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_wait(struct api_request *req, void *userdata)
{
        const char *cond = api_request_query(req, "condition");
        if (cond && *cond && strcmp(cond, "not-running") != 0 && strcmp(cond, "next-exit") != 0 &&
            strcmp(cond, "removed") != 0) {
                api_reply_error(req, 400, "invalid condition: \"%s\"", cond);
                return;
        }
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, wait_worker);
}

/* ---- attach ---- */

struct logs_sink {
        int fd;
};

static int fd_write(void *arg, const void *data, size_t len)
{
        struct logs_sink *k = arg;
        const char *p = data;
        while (len) {
                ssize_t n = send(k->fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -EPIPE;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

struct attach_job {
        struct berth_engine *e;
        struct berth_ctr *c;
        int fd;
        char *pending;
        size_t pending_len;
        bool in, out, err, logs, stream;
        char *keys;
};

static void *attach_worker(void *arg)
{
        struct attach_job *j = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        if (j->logs) {
                struct berth_logs_opts lo = {.out = j->out, .err = j->err, .tail = -1};
                struct logs_sink k = {j->fd};
                (void)berth_ctr_logs(j->e, j->c, &lo, fd_write, NULL, &k, &err);
                berth_error_free(TAKE_PTR(err));
        }
        if (j->stream) {
                struct berth_attach_opts o = {
                    .in = j->in,
                    .out = j->out,
                    .err = j->err,
                    .detach_keys = j->keys,
                    .payload = j->pending,
                    .payload_len = j->pending_len,
                };
                if (berth_ctr_attach(j->e, j->c, j->fd, &o, &err) < 0)
                        log_debug("attach %.12s: %s", berth_ctr_id(j->c), berth_error_msg(err));
                j->fd = -1; /* taken, whatever happened */
        }
        if (j->fd >= 0)
                close(j->fd);
        berth_ctr_unref(j->c);
        free(j->pending);
        free(j->keys);
        free(j);
        return NULL;
}

static void handle_attach(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_error_ struct berth_error *err = NULL;
        struct berth_ctr *c = NULL;
        int r = berth_ctr_get(e, api_request_param(req, "id"), &c, &err);
        if (r < 0) {
                reply_error(req, r, err);
                return;
        }
        /* a stopped container is attached to as dockerd does: the streams wait for
         * its next start (`docker start -a` attaches first); the CLIs refuse a plain
         * `attach` to a stopped container themselves */
        const char *keys = api_request_query(req, "detachKeys");
        if (keys && *keys) {
                /* docker's grammar: single characters or ctrl-<key>, comma separated */
                _cleanup_free_ char *copy = xstrdup(keys);
                char *save = NULL;
                for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save))
                        if (strlen(k) != 1 && !(strncmp(k, "ctrl-", 5) == 0 && strlen(k) == 6 &&
                                                ((k[5] >= 'a' && k[5] <= 'z') || k[5] == '@' ||
                                                 (k[5] >= '[' && k[5] <= '_')))) {
                                berth_ctr_unref(c);
                                api_reply_error(req, 400, "Invalid detach keys (%s) provided",
                                                keys);
                                return;
                        }
        }
        struct attach_job *j = xcalloc(1, sizeof(*j));
        j->e = e;
        j->c = c;
        j->fd = -1;
        j->in = api_request_query_bool(req, "stdin", false);
        j->out = api_request_query_bool(req, "stdout", false);
        j->err = api_request_query_bool(req, "stderr", false);
        j->logs = api_request_query_bool(req, "logs", false);
        j->stream = api_request_query_bool(req, "stream", false);
        j->keys = keys && *keys ? xstrdup(keys) : NULL;
        if (api_hijack(req, &j->fd, &j->pending, &j->pending_len) < 0 ||
            api_worker_spawn(attach_worker, j) < 0) {
                if (j->fd >= 0)
                        close(j->fd);
                berth_ctr_unref(j->c);
                free(j->pending);
                free(j->keys);
                free(j);
        }
}

static void handle_attach_ws(struct api_request *req, void *userdata)
{
        (void)userdata;
        api_reply_error(req, 501,
                        "attach over a websocket is not supported by berthd; use POST "
                        "/containers/{id}/attach with Upgrade: tcp");
}

/* ---- logs ---- */

static int stream_write(void *arg, const void *data, size_t len)
{
        return api_stream_write(arg, data, len);
}

static int64_t parse_ts(const char *s)
{
        if (!s || !*s)
                return 0;
        /* docker's filter timestamps: a duration back from now ("1h"), seconds with an
         * optional fraction ("1767323045.000000000"), or RFC 3339 */
        int64_t d;
        if (units_parse_go_duration(s, &d) == 0) {
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - d;
        }
        char *end = NULL;
        double v = strtod(s, &end);
        if (end && *end == '\0')
                return (int64_t)(v * 1e9);
        int64_t ns;
        return units_parse_rfc3339(s, &ns) == 0 ? ns : 0;
}

static void *logs_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        struct berth_logs_opts o = {
            .out = api_request_query_bool(req, "stdout", false),
            .err = api_request_query_bool(req, "stderr", false),
            .follow = api_request_query_bool(req, "follow", false),
            .timestamps = api_request_query_bool(req, "timestamps", false),
            .details = api_request_query_bool(req, "details", false),
            .since_ns = parse_ts(api_request_query(req, "since")),
            .until_ns = parse_ts(api_request_query(req, "until")),
            .tail = -1,
        };
        const char *tail = api_request_query(req, "tail");
        if (tail && *tail && strcmp(tail, "all") != 0)
                o.tail = atoll(tail);
        _cleanup_error_ struct berth_error *err = NULL;
        int r = 0;
        if (!o.out && !o.err)
                r = berth_error_set(&err, EINVAL,
                                    "Bad parameters: you must choose at least one stream");
        else
                r = berth_ctr_logs_check(j->e, j->c, &err);
        if (r < 0) {
                stream_error(j->s, r, err);
        } else {
                api_stream_start(j->s, 200,
                                 berth_ctr_tty(j->c) ? "application/vnd.docker.raw-stream"
                                                     : "application/vnd.docker.multiplexed-stream");
                (void)berth_ctr_logs(j->e, j->c, &o, stream_write, stream_gone, j->s, &err);
        }
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_logs(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, logs_worker);
}

/* ---- top and stats ---- */

static void *top_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *out = NULL;
        int r = berth_ctr_top(j->e, j->c, api_request_query(req, "ps_args"), &out, &err);
        if (r < 0)
                stream_error(j->s, r, err);
        else
                api_stream_reply_json(j->s, 200, out);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_top(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, top_worker);
}

static void *stats_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        bool stream = api_request_query_bool(req, "stream", true);
        bool one_shot = api_request_query_bool(req, "one-shot", false);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *prev = NULL;
        /* without one-shot, dockerd reads twice a second apart so the first document
         * already carries a precpu_stats to compute CPU % from */
        if (!stream && !one_shot) {
                (void)berth_ctr_stats(j->e, j->c, NULL, &prev, &err);
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
        }
        api_stream_start(j->s, 200, "application/json");
        for (;;) {
                struct json *cur = NULL;
                if (berth_ctr_stats(j->e, j->c, prev, &cur, &err) < 0)
                        break;
                int r = api_stream_write_json(j->s, cur);
                json_free(prev);
                prev = cur;
                if (r < 0 || !stream)
                        break;
                /* a stopped container's stream ends after one zeroed document */
                const char *read = json_str(json_get(cur, "read"));
                if (read && strncmp(read, "0001-", 5) == 0)
                        break;
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
                if (api_stream_client_gone(j->s))
                        break;
        }
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_stats(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, true);
        if (j)
                job_run(req, j, stats_worker);
}

/* ---- inspect and list ---- */

static void *inspect_worker(void *arg)
{
        struct job *j = arg;
        _cleanup_json_ struct json *out = berth_ctr_inspect(j->e, j->c, true);
        api_stream_reply_json(j->s, 200, out);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_inspect(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        if (api_request_query_bool(req, "size", false)) {
                struct job *j = job_new(req, e, true);
                if (j)
                        job_run(req, j, inspect_worker);
                return;
        }
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_ctr_ struct berth_ctr *c = NULL;
        int r = berth_ctr_get(e, api_request_param(req, "id"), &c, &err);
        if (r < 0) {
                reply_error(req, r, err);
                return;
        }
        _cleanup_json_ struct json *out = berth_ctr_inspect(e, c, false);
        api_reply_json(req, 200, out);
}

static bool any_match(char *const *want, const char *have)
{
        for (size_t i = 0; want[i]; i++)
                if (strcmp(want[i], have) == 0)
                        return true;
        return false;
}

/* docker's volume filter: a mount point whose volume name or destination is one given. */
static bool volume_match(const struct json *mounts, char *const *want)
{
        size_t i;
        const struct json *m;
        json_array_foreach (mounts, i, m) {
                const char *name = json_str(json_get(m, "Name"));
                const char *dst = json_str(json_get(m, "Destination"));
                const char *src = json_str(json_get(m, "Source"));
                for (size_t k = 0; want[k]; k++)
                        if ((name && strcmp(name, want[k]) == 0) ||
                            (dst && strcmp(dst, want[k]) == 0) ||
                            (src && *src && strcmp(src, want[k]) == 0))
                                return true;
        }
        return false;
}

/* The full id of a container named by a before/since filter (NULL: none). */
static char *id_of(struct berth_engine *e, const char *ref)
{
        _cleanup_ctr_ struct berth_ctr *c = NULL;
        if (berth_ctr_get(e, ref, &c, NULL) < 0)
                return NULL;
        return xstrdup(berth_ctr_id(c));
}

/*
 * dockerd's ancestor filter: the ids of the images it names and of every image built on one
 * of them (the parent chain, as a build records it), NULL-terminated.
 */
static char **ancestor_ids(struct berth_engine *e, char *const *want)
{
        size_t n = 0;
        char **ids = xcalloc(1, sizeof(char *));
        for (size_t i = 0; want[i]; i++) {
                _cleanup_image_ struct berth_image *img = NULL;
                if (berth_image_find(e, want[i], &img, NULL) < 0 || any_match(ids, img->id))
                        continue;
                ids = xrealloc(ids, (n + 2) * sizeof(char *));
                ids[n++] = xstrdup(img->id);
                ids[n] = NULL;
        }
        struct berth_image **all = NULL;
        if (n == 0 || berth_image_list(e, &all, NULL) < 0)
                return ids;
        /* an image is a descendant when its parents lead to one found: found ones grow until
         * a pass adds nothing (chains are short; a cycle cannot loop this) */
        bool grew = true;
        while (grew) {
                grew = false;
                for (size_t i = 0; all[i]; i++) {
                        const char *parent = all[i]->parent;
                        if (!parent || !*parent || any_match(ids, all[i]->id) ||
                            !any_match(ids, parent))
                                continue;
                        ids = xrealloc(ids, (n + 2) * sizeof(char *));
                        ids[n++] = xstrdup(all[i]->id);
                        ids[n] = NULL;
                        grew = true;
                }
        }
        berth_image_list_free(all);
        return ids;
}

/* ps --filter name=: as dockerd's, a value equals the name or is a regular
 * expression found in it, with or without its leading '/' ("^/web$", "web-[0-9]");
 * one that does not compile matches nothing more.  POSIX extended expressions
 * stand in for Go's: the same for what users type.  Compiled once per request. */
struct name_filter {
        const char *text;
        regex_t rx;
        bool compiled;
};

struct name_filters {
        struct name_filter *v;
        size_t n;
};

static void name_filters_compile(char *const *names, struct name_filters *f)
{
        while (names[f->n])
                f->n++;
        f->v = xcalloc(f->n + 1, sizeof(*f->v));
        for (size_t k = 0; k < f->n; k++) {
                f->v[k].text = names[k];
                f->v[k].compiled = regcomp(&f->v[k].rx, names[k], REG_EXTENDED | REG_NOSUB) == 0;
        }
}

static void name_filters_free(struct name_filters *f)
{
        for (size_t k = 0; k < f->n; k++)
                if (f->v[k].compiled)
                        regfree(&f->v[k].rx);
        free(f->v);
}

static bool name_filters_match(const struct name_filters *f, const char *name)
{
        const char *bare = name[0] == '/' ? name + 1 : name;
        for (size_t k = 0; k < f->n; k++) {
                const struct name_filter *nf = &f->v[k];
                if (strcmp(nf->text, name) == 0 || strcmp(nf->text, bare) == 0 ||
                    (nf->compiled && (regexec(&nf->rx, name, 0, NULL, 0) == 0 ||
                                      regexec(&nf->rx, bare, 0, NULL, 0) == 0)))
                        return true;
        }
        return false;
}

static bool ancestor_match(const struct json *item, char *const *want, char *const *ids)
{
        const char *image = json_str(json_get(item, "Image"));
        const char *image_id = json_str(json_get(item, "ImageID"));
        return (image_id && any_match(ids, image_id)) || (image && any_match(want, image));
}

static void handle_list(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        static const char *const allowed[] = {"id",      "name",    "label",   "status", "ancestor",
                                              "before",  "since",   "exited",  "health", "volume",
                                              "network", "is-task", "publish", "expose", NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;
        _cleanup_strv_free_ char **ids = api_filter_values(filters, "id");
        _cleanup_strv_free_ char **names = api_filter_values(filters, "name");
        _cleanup_(name_filters_free) struct name_filters name_rx = {0};
        name_filters_compile(names, &name_rx);
        _cleanup_strv_free_ char **labels = api_filter_values(filters, "label");
        _cleanup_strv_free_ char **status = api_filter_values(filters, "status");
        _cleanup_strv_free_ char **ancestors = api_filter_values(filters, "ancestor");
        _cleanup_strv_free_ char **before = api_filter_values(filters, "before");
        _cleanup_strv_free_ char **since = api_filter_values(filters, "since");
        _cleanup_strv_free_ char **exited = api_filter_values(filters, "exited");
        _cleanup_strv_free_ char **health = api_filter_values(filters, "health");
        _cleanup_strv_free_ char **volume = api_filter_values(filters, "volume");
        _cleanup_strv_free_ char **network = api_filter_values(filters, "network");
        static const char *const states[] = {"created", "restarting", "running", "removing",
                                             "paused",  "exited",     "dead",    NULL};
        for (size_t i = 0; status[i]; i++)
                if (!any_match((char *const *)states, status[i])) {
                        api_reply_error(req, 400, "Invalid filter 'status=%s'", status[i]);
                        return;
                }
        for (size_t i = 0; exited[i]; i++) {
                char *end = NULL;
                strtol(exited[i], &end, 10);
                if (!*exited[i] || *end) {
                        api_reply_error(req, 400, "invalid filter 'exited=%s'", exited[i]);
                        return;
                }
        }
        static const char *const healths[] = {"starting", "healthy", "unhealthy", "none", NULL};
        for (size_t i = 0; health[i]; i++)
                if (!any_match((char *const *)healths, health[i])) {
                        api_reply_error(req, 400, "Unrecognised filter value for health: %s",
                                        health[i]);
                        return;
                }
        /* dockerd's before/since go by the list's order (newest first): before=X leaves out
         * every container up to X and X itself, since=X ends the list at X */
        _cleanup_free_ char *before_id = NULL, *since_id = NULL;
        if (before[0] && !(before_id = id_of(e, before[0]))) {
                api_reply_error(req, 404, "No such container: %s", before[0]);
                return;
        }
        if (since[0] && !(since_id = id_of(e, since[0]))) {
                api_reply_error(req, 404, "No such container: %s", since[0]);
                return;
        }
        bool all = api_request_query_bool(req, "all", false) || status[0] || exited[0];
        int limit = query_int(req, "limit", -1);
        bool size = api_request_query_bool(req, "size", false);
        if (limit > 0 || before[0] || since[0])
                all = true;
        _cleanup_json_ struct json *list = berth_ctr_list(e, all, size);
        _cleanup_json_ struct json *out = json_new_array();
        size_t i;
        const struct json *it;
        _cleanup_strv_free_ char **ancestor_set = ancestors[0] ? ancestor_ids(e, ancestors) : NULL;
        bool before_reached = !before_id;
        json_array_foreach (list, i, it) {
                const char *id = json_str(json_get(it, "Id"));
                if (!before_reached) {
                        before_reached = strcmp(id, before_id) == 0;
                        continue;
                }
                if (since_id && strcmp(id, since_id) == 0)
                        break;
                const char *name = json_len(json_get(it, "Names"))
                           ? json_str(json_get(it, "Names")->arr.items[0])
                           : "";
                const char *state = json_str(json_get(it, "State"));
                if (ids[0]) {
                        bool ok = false;
                        for (size_t k = 0; ids[k]; k++)
                                ok |= strncmp(id, ids[k], strlen(ids[k])) == 0;
                        if (!ok)
                                continue;
                }
                if (names[0] && !name_filters_match(&name_rx, name))
                        continue;
                if (labels[0] && !api_labels_match(json_get(it, "Labels"), labels))
                        continue;
                if (status[0] && !any_match(status, state))
                        continue;
                if (ancestors[0] && !ancestor_match(it, ancestors, ancestor_set))
                        continue;
                if (exited[0]) {
                        if (strcmp(state, "exited") != 0)
                                continue;
                        _cleanup_ctr_ struct berth_ctr *c = NULL;
                        if (berth_ctr_get(e, id, &c, NULL) < 0)
                                continue;
                        _cleanup_json_ struct json *info = berth_ctr_inspect(e, c, false);
                        char code[16];
                        snprintf(code, sizeof(code), "%lld",
                                 (long long)json_get(json_get(info, "State"), "ExitCode")->num.i);
                        if (!any_match(exited, code))
                                continue;
                }
                if (health[0]) {
                        _cleanup_ctr_ struct berth_ctr *hc = NULL;
                        _cleanup_free_ char *h = NULL;
                        if (berth_ctr_get(e, id, &hc, NULL) == 0)
                                h = berth_ctr_health(e, hc);
                        if (!h || !any_match(health, h))
                                continue;
                }
                if (volume[0] && !volume_match(json_get(it, "Mounts"), volume))
                        continue;
                if (network[0]) {
                        const struct json *nets =
                            json_get(json_get(it, "NetworkSettings"), "Networks");
                        bool ok = false;
                        size_t k;
                        const char *key;
                        const struct json *v;
                        json_object_foreach (nets, k, key, v) {
                                /* dockerd's: a network's name, or a prefix of its id */
                                ok |= any_match(network, key);
                                const char *nid = json_str(json_get(v, "NetworkID"));
                                for (size_t n = 0; nid && network[n]; n++)
                                        ok |= strncmp(nid, network[n], strlen(network[n])) == 0;
                        }
                        if (!ok)
                                continue;
                }
                /* moved, not copied: list has no other use */
                json_array_append(out, list->arr.items[i]);
                list->arr.items[i] = NULL;
                if (limit > 0 && (int)json_len(out) >= limit)
                        break;
        }
        api_reply_json(req, 200, out);
}

/* ---- prune ---- */

static void *prune_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        static const char *const allowed[] = {"until", "label", "label!", NULL};
        _cleanup_json_ struct json *filters = NULL;
        (void)allowed;
        _cleanup_error_ struct berth_error *err = NULL;
        /* filters were checked on the loop; read them again here */
        const char *raw = api_request_query(req, "filters");
        if (raw && *raw)
                (void)json_parse(raw, strlen(raw), &filters, NULL);
        _cleanup_strv_free_ char **labels = api_filter_values(filters, "label");
        _cleanup_strv_free_ char **not_labels = api_filter_values(filters, "label!");
        _cleanup_strv_free_ char **until = api_filter_values(filters, "until");
        int64_t until_ns = until[0] ? parse_ts(until[0]) : 0;
        _cleanup_strv_free_ char **ids = berth_ctr_ids(j->e);
        _cleanup_json_ struct json *deleted = json_new_array();
        uint64_t reclaimed = 0;
        for (size_t i = 0; ids[i]; i++) {
                _cleanup_ctr_ struct berth_ctr *c = NULL;
                if (berth_ctr_get(j->e, ids[i], &c, NULL) < 0)
                        continue;
                _cleanup_json_ struct json *info = berth_ctr_inspect(j->e, c, true);
                const char *st = json_str(json_get(json_get(info, "State"), "Status"));
                if (!st || (strcmp(st, "exited") != 0 && strcmp(st, "created") != 0 &&
                            strcmp(st, "dead") != 0))
                        continue;
                const struct json *lab = json_get(json_get(info, "Config"), "Labels");
                if (labels[0] && !api_labels_match(lab, labels))
                        continue;
                bool excluded = false;
                for (size_t k = 0; not_labels[k]; k++) {
                        char *one[] = {not_labels[k], NULL};
                        excluded |= api_labels_match(lab, one);
                }
                if (excluded)
                        continue;
                if (until_ns) {
                        int64_t ns;
                        if (units_parse_rfc3339(json_str(json_get(info, "Created")), &ns) == 0 &&
                            ns >= until_ns)
                                continue;
                }
                const struct json *rw = json_get(info, "SizeRw");
                uint64_t sz = json_is(rw, JSON_NUMBER) ? (uint64_t)rw->num.i : 0;
                if (berth_ctr_remove(j->e, c, false, false, &err) == 0) {
                        json_array_append(deleted, json_new_string(ids[i]));
                        reclaimed += sz;
                }
                berth_error_free(TAKE_PTR(err));
        }
        /* dockerd's event after the destroys: the space given back */
        _cleanup_free_ char *rec = xasprintf("%llu", (unsigned long long)reclaimed);
        const char *attrs[] = {"reclaimed", rec, NULL};
        berth_events_publish(j->e->events, "container", "prune", "", attrs);
        _cleanup_json_ struct json *out = json_new_object();
        json_object_set(out, "ContainersDeleted",
                        json_len(deleted) ? json_copy(deleted) : json_new_null());
        json_object_set(out, "SpaceReclaimed", json_new_uint(reclaimed));
        api_stream_reply_json(j->s, 200, out);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_prune(struct api_request *req, void *userdata)
{
        static const char *const allowed[] = {"until", "label", "label!", NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;
        bool until_set;
        int64_t until_ns;
        if (api_filter_until(req, filters, &until_set, &until_ns) < 0)
                return; /* dockerd's answer to a bad until, not a prune of everything */
        struct job *j = job_new(req, userdata, false);
        if (j)
                job_run(req, j, prune_worker);
}

/* ---- exec ---- */

static void handle_exec_create(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_json_ struct json *body = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (api_request_json(req, &body, &err) < 0) {
                api_reply_error(req, 400, "%s", berth_error_msg(err));
                return;
        }
        _cleanup_ctr_ struct berth_ctr *c = NULL;
        int r = berth_ctr_get(e, api_request_param(req, "id"), &c, &err);
        char *id = NULL;
        if (r == 0)
                r = berth_exec_create(e, c, body, &id, &err);
        if (r < 0) {
                reply_error(req, r, err);
                return;
        }
        _cleanup_json_ struct json *out = json_new_object();
        json_set_str(out, "Id", id);
        free(id);
        api_reply_json(req, 201, out);
}

struct exec_job {
        struct berth_engine *e;
        char *id;
        int fd;
        bool tty, detach;
        char *pending;
        size_t pending_len;
        struct api_stream *s; /* detached requests only */
};

static void *exec_start_worker(void *arg)
{
        struct exec_job *j = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = berth_exec_start(j->e, j->id, j->fd, j->detach, j->tty, j->pending, j->pending_len,
                                 &err);
        j->fd = -1;
        if (j->s) {
                if (r < 0)
                        stream_error(j->s, r, err);
                else
                        api_stream_reply_empty(j->s, 200);
                api_stream_end(j->s);
        } else if (r < 0) {
                log_debug("exec %.12s: %s", j->id, berth_error_msg(err));
        }
        free(j->id);
        free(j->pending);
        free(j);
        return NULL;
}

static void handle_exec_start(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_json_ struct json *body = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (api_request_json(req, &body, &err) < 0) {
                api_reply_error(req, 400, "%s", berth_error_msg(err));
                return;
        }
        const char *id = api_request_param(req, "id");
        _cleanup_json_ struct json *info = NULL;
        int r = berth_exec_inspect(e, id, &info, &err);
        if (r < 0) {
                reply_error(req, r, err);
                return;
        }
        if (json_get(info, "Running")->b || json_is(json_get(info, "ExitCode"), JSON_NUMBER)) {
                api_reply_error(req, 409, "Error: Exec command %s is already running", id);
                return;
        }
        const struct json *d = json_get(body, "Detach"), *t = json_get(body, "Tty");
        struct exec_job *j = xcalloc(1, sizeof(*j));
        j->e = e;
        j->id = xstrdup(id);
        j->fd = -1;
        j->detach = json_is(d, JSON_BOOL) && d->b;
        j->tty = json_is(t, JSON_BOOL) && t->b;
        if (j->detach) {
                j->s = api_stream_detach(req);
        } else if (api_hijack(req, &j->fd, &j->pending, &j->pending_len) < 0) {
                free(j->id);
                free(j);
                return;
        }
        if (api_worker_spawn(exec_start_worker, j) < 0) {
                if (j->s) {
                        api_stream_reply_error(j->s, 500, "cannot start a worker thread");
                        api_stream_end(j->s);
                }
                if (j->fd >= 0)
                        close(j->fd);
                free(j->id);
                free(j->pending);
                free(j);
        }
}

static void *exec_inspect_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *out = NULL;
        int r = berth_exec_inspect(j->e, api_request_param(req, "id"), &out, &err);
        if (r < 0)
                stream_error(j->s, r, err);
        else
                api_stream_reply_json(j->s, 200, out);
        api_stream_end(j->s);
        job_free(j);
        return NULL;
}

static void handle_exec_inspect(struct api_request *req, void *userdata)
{
        struct job *j = job_new(req, userdata, false);
        if (j)
                job_run(req, j, exec_inspect_worker);
}

void api_register_containers(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/containers/create", handle_create, engine, false},
            {"GET", "/containers/json", handle_list, engine, false},
            {"POST", "/containers/prune", handle_prune, engine, false},
            {"GET", "/containers/{id}/json", handle_inspect, engine, false},
            {"POST", "/containers/{id}/start", handle_start, engine, false},
            {"POST", "/containers/{id}/stop", handle_stop, engine, false},
            {"POST", "/containers/{id}/restart", handle_stop, engine, false},
            {"POST", "/containers/{id}/kill", handle_kill, engine, false},
            {"POST", "/containers/{id}/pause", handle_pause, engine, false},
            {"POST", "/containers/{id}/unpause", handle_pause, engine, false},
            {"POST", "/containers/{id}/rename", handle_rename, engine, false},
            {"POST", "/containers/{id}/update", handle_update, engine, false},
            {"POST", "/containers/{id}/resize", handle_resize, engine, false},
            {"POST", "/containers/{id}/wait", handle_wait, engine, false},
            {"POST", "/containers/{id}/attach", handle_attach, engine, false},
            {"GET", "/containers/{id}/attach/ws", handle_attach_ws, engine, false},
            {"GET", "/containers/{id}/logs", handle_logs, engine, false},
            {"GET", "/containers/{id}/top", handle_top, engine, false},
            {"GET", "/containers/{id}/stats", handle_stats, engine, false},
            {"DELETE", "/containers/{id}", handle_delete, engine, false},
            {"POST", "/containers/{id}/exec", handle_exec_create, engine, false},
            {"POST", "/exec/{id}/start", handle_exec_start, engine, false},
            {"POST", "/exec/{id}/resize", handle_exec_resize, engine, false},
            {"GET", "/exec/{id}/json", handle_exec_inspect, engine, false},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
