/*
 * archive-container.c — files in and out of containers: HEAD, GET and PUT
 * /containers/{id}/archive, GET /containers/{id}/export and GET
 * /containers/{id}/changes (engine/containers.h does the work).
 *
 * Every one runs on a worker thread with the connection detached: they mount
 * or walk file trees.  GET answers its error as a whole {"message"} response
 * as long as nothing was sent; once the path is found, the stat header
 * (X-Docker-Container-Path-Stat: base64 of {"name", "size", "mode", "mtime",
 * "linkTarget"} as dockerd encodes a ContainerPathStat) goes out with the
 * 200, then the tar streams; an error after that can only cut the stream
 * short.  PUT is a stream_body route: the tar is read from the socket as it is
 * extracted, never held whole, and a refused PUT reads what is left of a small
 * body before it answers.  The path is checked before the container, as
 * dockerd does (400 "bad parameter: pathcannot be empty").
 *
 * Never: buffer an archive, or send the stat header on an error.
 */
#include <openssl/evp.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "engine/containers.h"
#include "handlers.h"

static int status_of(int r)
{
        switch (-r) {
        case ENOENT:
                return 404;
        case EINVAL:
        case ENOTDIR:
                return 400;
        case EROFS:
                return 403;
        default:
                return 500;
        }
}

struct job {
        struct api_stream *s;
        struct berth_engine *e;
        struct berth_ctr *c;
        char *ref;
        bool started;
        bool head;
};

static void job_free(struct job *j)
{
        berth_ctr_unref(j->c);
        free(j->ref);
        free(j);
}

/* The worker's first step: the path (checked first, as dockerd does) and the
 * container. */
static int job_start(struct job *j, bool need_path, struct berth_error **err)
{
        struct api_request *req = api_stream_request(j->s);
        const char *p = api_request_query(req, "path");
        if (need_path && (!p || !*p))
                return berth_error_set(err, EINVAL, "bad parameter: pathcannot be empty");
        return berth_ctr_get(j->e, j->ref, &j->c, err);
}

/* Everything runs on a worker, errors included: a PUT's body is then read
 * before its error is answered (see drain_body). */
static void run(struct api_request *req, struct berth_engine *e, void *(*fn)(void *))
{
        struct job *j = xcalloc(1, sizeof(*j));
        j->e = e;
        j->ref = xstrdup(api_request_param(req, "id"));
        j->head = strcmp(api_request_method(req), "HEAD") == 0;
        j->s = api_stream_detach(req);
        if (api_worker_spawn(fn, j) < 0) {
                api_stream_reply_error(j->s, 500, "cannot start a worker thread");
                api_stream_end(j->s);
                job_free(j);
        }
}

/* As Go's server does: a small body left unread is read before the answer, so a
 * client still sending it gets the answer, not a reset connection. */
static void drain_body(struct job *j)
{
        char sink[16384];
        for (size_t left = 1 << 20; left;) {
                ssize_t n = api_stream_read_body(j->s, sink, sizeof(sink));
                if (n <= 0)
                        break;
                left -= (size_t)n < left ? (size_t)n : left;
        }
}

static void finish(struct job *j, int r, struct berth_error *err)
{
        if (r < 0 && !j->started)
                api_stream_reply_error(j->s, status_of(r), "%s",
                                       err ? berth_error_msg(err) : "error");
        else if (r < 0)
                log_debug("container %.12s: archive cut short: %s", berth_ctr_id(j->c),
                          err ? berth_error_msg(err) : "client gone");
        api_stream_end(j->s);
        job_free(j);
}

/* ---- the stat header ---- */

/* Go's time.Time as JSON (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC. */
static void go_time(int64_t ns, char out[64])
{
        time_t sec = (time_t)(ns / 1000000000);
        long frac = (long)(ns % 1000000000);
        if (frac < 0) {
                frac += 1000000000;
                sec--;
        }
        struct tm tm;
        gmtime_r(&sec, &tm);
        size_t n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
        if (frac) {
                char digits[16];
                snprintf(digits, sizeof(digits), "%09ld", frac);
                size_t k = 9;
                while (k > 0 && digits[k - 1] == '0')
                        k--;
                digits[k] = '\0';
                n += (size_t)snprintf(out + n, 64 - n, ".%s", digits);
        }
        snprintf(out + n, 64 - n, "Z");
}

static void stat_header(struct api_request *req, const struct berth_path_stat *st)
{
        _cleanup_json_ struct json *j = json_new_object();
        json_set_str(j, "name", st->name);
        json_set_int(j, "size", st->size);
        json_set_int(j, "mode", (int64_t)st->mode);
        char t[64];
        go_time(st->mtime_ns, t);
        json_set_str(j, "mtime", t);
        json_set_str(j, "linkTarget", st->link_target ? st->link_target : "");
        _cleanup_free_ char *text = json_dump(j, 0);
        size_t n = strlen(text);
        _cleanup_free_ char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)text, (int)n);
        api_response_header(req, "X-Docker-Container-Path-Stat", b64);
}

/* ---- HEAD and GET /containers/{id}/archive ---- */

static int tar_ready(const struct berth_path_stat *st, void *arg)
{
        struct job *j = arg;
        if (st)
                stat_header(api_stream_request(j->s), st);
        api_stream_start(j->s, 200, "application/x-tar");
        j->started = true;
        return 0;
}

static int tar_write(const void *buf, size_t len, void *arg)
{
        struct job *j = arg;
        return api_stream_write(j->s, buf, len);
}

static void *archive_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        const char *path = api_request_query(req, "path");
        _cleanup_error_ struct berth_error *err = NULL;
        int r = job_start(j, true, &err);
        if (r < 0) {
                /* the error answered below */
        } else if (j->head) {
                struct berth_path_stat st = {0};
                r = berth_ctr_stat_path(j->e, j->c, j->ref, path, &st, &err);
                if (r == 0) {
                        stat_header(req, &st);
                        api_stream_reply_empty(j->s, 200);
                }
                berth_path_stat_release(&st);
        } else {
                r = berth_ctr_archive_path(j->e, j->c, j->ref, path, tar_ready, tar_write, j, &err);
        }
        finish(j, r, err);
        return NULL;
}

static void handle_archive(struct api_request *req, void *userdata)
{
        run(req, userdata, archive_worker);
}

/* ---- PUT /containers/{id}/archive ---- */

static ssize_t body_read(void *buf, size_t len, void *arg, struct berth_error **err)
{
        struct job *j = arg;
        return api_stream_read_body_err(j->s, buf, len, err);
}

static void *extract_worker(void *arg)
{
        struct job *j = arg;
        struct api_request *req = api_stream_request(j->s);
        struct berth_extract_opts o = {
            .no_overwrite_dir_nondir = api_request_query_bool(req, "noOverwriteDirNonDir", false),
            .copy_uid_gid = api_request_query_bool(req, "copyUIDGID", false),
        };
        _cleanup_error_ struct berth_error *err = NULL;
        int r = job_start(j, true, &err);
        if (r == 0)
                r = berth_ctr_extract_to_dir(j->e, j->c, j->ref, api_request_query(req, "path"), &o,
                                             body_read, j, &err);
        if (r == 0)
                api_stream_reply_empty(j->s, 200);
        else
                drain_body(j);
        finish(j, r, err);
        return NULL;
}

static void handle_extract(struct api_request *req, void *userdata)
{
        run(req, userdata, extract_worker);
}

/* ---- GET /containers/{id}/export ---- */

static void *export_worker(void *arg)
{
        struct job *j = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = job_start(j, false, &err);
        if (r == 0)
                r = berth_ctr_export(j->e, j->c, tar_ready, tar_write, j, &err);
        finish(j, r, err);
        return NULL;
}

static void handle_export(struct api_request *req, void *userdata)
{
        run(req, userdata, export_worker);
}

/* ---- GET /containers/{id}/changes ---- */

static void *changes_worker(void *arg)
{
        struct job *j = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *out = NULL;
        int r = job_start(j, false, &err);
        if (r == 0)
                r = berth_ctr_changes(j->e, j->c, &out, &err);
        if (r == 0) {
                /* dockerd: null for no changes */
                _cleanup_json_ struct json *null = json_new_null();
                api_stream_reply_json(j->s, 200, json_len(out) ? out : null);
                j->started = true;
        }
        finish(j, r, err);
        return NULL;
}

static void handle_changes(struct api_request *req, void *userdata)
{
        run(req, userdata, changes_worker);
}

void api_register_container_archive(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"HEAD", "/containers/{id}/archive", handle_archive, engine},
            {"GET", "/containers/{id}/archive", handle_archive, engine},
            {"PUT", "/containers/{id}/archive", handle_extract, engine, .stream_body = true},
            {"GET", "/containers/{id}/export", handle_export, engine},
            {"GET", "/containers/{id}/changes", handle_changes, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
