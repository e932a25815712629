/*
 * archive.c — the image archives: GET /images/get, GET /images/{name}/get
 * (save, docker-archive) and POST /images/load.  Pull, push, /auth and
 * /distribution are in images.c and auth.c.
 *
 * Each runs on a worker thread with a detached stream (server.h).  A save's
 * error found before the first byte (unknown image) is a plain {"message"}
 * answer with Docker's status code.  A load, as dockerd's, always answers
 * 200: its errors end the JSON stream with {"errorDetail", "error"}, which
 * docker-py raises as ImageLoadError and the CLIs print as the bare message
 * with exit status 1.  A load reads its body from the
 * socket as the engine consumes it (a stream_body route), so an archive of
 * any size passes through without being held in memory.
 *
 * Never: block the loop on the network or the disk, or answer twice.
 */
#include <string.h>

#include "base/log.h"
#include "engine/archive.h"
#include "handlers.h"

static int status_for(int r)
{
        switch (-r) {
        case ENOENT:
                return 404;
        case EINVAL:
        case EBADMSG:
                return 400;
        case EEXIST:
        case EBUSY:
                return 409;
        case EACCES:
                return 401;
        default:
                return 500;
        }
}

/* A detached stream whose head goes out with the first message (or never, when
 * an error comes first and is answered whole). */
struct out {
        struct api_stream *s;
        const char *content_type;
        bool started;
};

static void out_start(struct out *o)
{
        if (!o->started) {
                api_stream_start(o->s, 200, o->content_type);
                o->started = true;
        }
}

static int out_json(struct out *o, const struct json *j)
{
        out_start(o);
        return api_stream_write_json(o->s, j);
}

/* in_stream: the error goes in a 200 stream even before any message (a load). */
static void out_fail(struct out *o, int r, const struct berth_error *err, bool in_stream)
{
        if (in_stream)
                out_start(o);
        if (!o->started) {
                api_stream_reply_error(o->s, status_for(r), "%s", berth_error_msg(err));
                return;
        }
        struct json *m = json_new_object();
        struct json *d = json_object_set(m, "errorDetail", json_new_object());
        json_set_str(d, "message", berth_error_msg(err));
        json_set_str(m, "error", berth_error_msg(err));
        (void)api_stream_write_json(o->s, m);
        json_free(m);
}

/* ---- GET /images/get, GET /images/{name}/get, POST /images/load ---- */

struct archive_job {
        struct out o;
        struct berth_engine *engine;
        char **names; /* save; NULL for a load */
};

static int save_write(const void *buf, size_t len, void *userdata)
{
        struct archive_job *job = userdata;
        out_start(&job->o);
        return api_stream_write(job->o.s, buf, len);
}

static ssize_t load_read(void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct archive_job *job = userdata;
        return api_stream_read_body_err(job->o.s, buf, len, err);
}

static int load_emit(const struct json *msg, void *userdata)
{
        struct archive_job *job = userdata;
        return out_json(&job->o, msg);
}

static void *archive_worker(void *arg)
{
        struct archive_job *job = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        int r;
        if (job->names) {
                r = berth_image_save(job->engine->layers, job->names, save_write, job, &err);
        } else {
                struct berth_load_opts lo = {
                    .read = load_read,
                    .emit = load_emit,
                    .userdata = job,
                    .quiet = api_request_query_bool(api_stream_request(job->o.s), "quiet", false),
                };
                r = berth_image_load(job->engine->layers, &lo, &err);
                if (r == 0)
                        out_start(&job->o);
        }
        if (r < 0)
                out_fail(&job->o, r, err, !job->names);
        api_stream_end(job->o.s);
        strv_free(job->names);
        free(job);
        return NULL;
}

static void start_archive(struct api_request *req, struct berth_engine *engine, char **names,
                          const char *content_type)
{
        struct archive_job *job = xcalloc(1, sizeof(*job));
        job->engine = engine;
        job->names = names;
        job->o = (struct out){api_stream_detach(req), content_type, false};
        if (api_worker_spawn(archive_worker, job) < 0) {
                api_stream_reply_error(job->o.s, 500, "cannot start an archive thread");
                api_stream_end(job->o.s);
                strv_free(job->names);
                free(job);
        }
}

static void handle_save_many(struct api_request *req, void *userdata)
{
        char **names = api_request_query_all(req, "names");
        if (!names[0]) {
                strv_free(names);
                api_reply_error(req, 400, "no images to save: give names=IMAGE");
                return;
        }
        start_archive(req, userdata, names, "application/x-tar");
}

static void handle_save_one(struct api_request *req, void *userdata)
{
        char **names = xcalloc(2, sizeof(char *));
        names[0] = xstrdup(api_request_param(req, "name"));
        start_archive(req, userdata, names, "application/x-tar");
}

static void handle_load(struct api_request *req, void *userdata)
{
        start_archive(req, userdata, NULL, "application/json");
}

void api_register_archive(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"GET", "/images/get", handle_save_many, engine},
            {"GET", "/images/{name*}/get", handle_save_one, engine},
            {"POST", "/images/load", handle_load, engine, .stream_body = true},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
