/*
 * commit.c — POST /commit and POST /images/create?fromSrc= (import): new
 * images from a container or from a tar (engine/commit.h).
 *
 * Both run on a worker thread with a detached stream, since archiving an
 * upper dir or reading an upload takes as long as the data is big.  A commit
 * answers 201 {"Id": "sha256:…"} or dockerd's error with its status code.  An
 * import streams JSON messages as dockerd does ("Downloading from <url>" and
 * "Importing" progress for a URL, then {"status": "sha256:…"}); an error
 * before the first message is a plain {"message"} answer, after it the
 * stream's {"errorDetail", "error"}.  The import reads its body from the
 * socket as it goes (images.c's /images/create route streams its body).
 *
 * Never: block the server's loop, or answer twice.
 */
#include <string.h>

#include "base/log.h"
#include "engine/commit.h"
#include "handlers.h"

static int status_for(int r)
{
        switch (-r) {
        case ENOENT:
                return 404;
        case EINVAL:
        case EBADMSG:
                return 400;
        case EBUSY:
        case EEXIST:
                return 409;
        default:
                return 500;
        }
}

/* ---- POST /commit ---- */

struct commit_job {
        struct api_stream *s;
        struct berth_engine *engine;
        char *container, *repo, *tag, *author, *comment;
        char **changes;
        struct json *config;
        bool pause;
};

static void *commit_worker(void *arg)
{
        struct commit_job *j = arg;
        struct berth_commit_opts o = {
            .container = j->container,
            .repo = j->repo,
            .tag = j->tag,
            .author = j->author,
            .comment = j->comment,
            .changes = j->changes,
            .config = j->config,
            .pause = j->pause,
        };
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_free_ char *id = NULL;
        int r = berth_container_commit(j->engine, &o, &id, &err);
        if (r < 0) {
                log_info("commit %s: %s", j->container, berth_error_msg(err));
                api_stream_reply_error(j->s, status_for(r), "%s", berth_error_msg(err));
        } else {
                _cleanup_json_ struct json *b = json_new_object();
                json_set_str(b, "Id", id);
                api_stream_reply_json(j->s, 201, b);
        }
        api_stream_end(j->s);
        free(j->container);
        free(j->repo);
        free(j->tag);
        free(j->author);
        free(j->comment);
        strv_free(j->changes);
        json_free(j->config);
        free(j);
        return NULL;
}

static char *query_dup(struct api_request *req, const char *key)
{
        const char *v = api_request_query(req, key);
        return v ? xstrdup(v) : NULL;
}

static void handle_commit(struct api_request *req, void *userdata)
{
        const char *container = api_request_query(req, "container");
        size_t len = 0;
        const char *body = api_request_body(req, &len);
        struct json *config = NULL;
        /* an empty body (or "null", the CLI's) means the container's own config */
        if (body && len && json_parse(body, len, &config, NULL) < 0) {
                api_reply_error(req, 400, "invalid JSON in the request body");
                return;
        }
        struct commit_job *j = xcalloc(1, sizeof(*j));
        j->engine = userdata;
        j->container = xstrdup(container ? container : "");
        j->repo = query_dup(req, "repo");
        j->tag = query_dup(req, "tag");
        j->author = query_dup(req, "author");
        j->comment = query_dup(req, "comment");
        j->changes = api_request_query_all(req, "changes");
        j->config = config;
        j->pause = api_request_query_bool(req, "pause", true);
        j->s = api_stream_detach(req);
        if (api_worker_spawn(commit_worker, j) < 0) {
                api_stream_reply_error(j->s, 500, "cannot start the commit: out of threads");
                api_stream_end(j->s);
                free(j->container);
                free(j->repo);
                free(j->tag);
                free(j->author);
                free(j->comment);
                strv_free(j->changes);
                json_free(j->config);
                free(j);
        }
}

/* ---- POST /images/create?fromSrc= ---- */

struct import_job {
        struct api_stream *s;
        struct berth_engine *engine;
        char *src, *repo, *tag, *message, *platform;
        char **changes;
        bool started;
};

static ssize_t import_read(void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct import_job *j = userdata;
        return api_stream_read_body_err(j->s, buf, len, err);
}

static void import_start(struct import_job *j)
{
        if (!j->started) {
                api_stream_start(j->s, 200, "application/json");
                j->started = true;
        }
}

static int import_emit(const struct json *msg, void *userdata)
{
        struct import_job *j = userdata;
        import_start(j);
        return api_stream_write_json(j->s, msg);
}

static void import_job_free(struct import_job *j)
{
        free(j->src);
        free(j->repo);
        free(j->tag);
        free(j->message);
        free(j->platform);
        strv_free(j->changes);
        free(j);
}

static void *import_worker(void *arg)
{
        struct import_job *j = arg;
        struct berth_import_opts o = {
            .src = j->src,
            .read = import_read,
            .emit = import_emit,
            .userdata = j,
            .repo = j->repo,
            .tag = j->tag,
            .message = j->message,
            .platform = j->platform,
            .changes = j->changes,
        };
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_free_ char *id = NULL;
        int r = berth_image_import(j->engine, &o, &id, &err);
        struct json *m = json_new_object();
        if (r == 0) {
                json_set_str(m, "status", id);
                import_emit(m, j);
        } else if (!j->started) {
                api_stream_reply_error(j->s, status_for(r), "%s", berth_error_msg(err));
        } else {
                struct json *d = json_object_set(m, "errorDetail", json_new_object());
                json_set_str(d, "message", berth_error_msg(err));
                json_set_str(m, "error", berth_error_msg(err));
                (void)api_stream_write_json(j->s, m);
        }
        json_free(m);
        if (r < 0)
                log_info("import %s: %s", j->src, berth_error_msg(err));
        api_stream_end(j->s);
        import_job_free(j);
        return NULL;
}

void api_image_import(struct api_request *req, struct berth_engine *engine)
{
        struct import_job *j = xcalloc(1, sizeof(*j));
        j->engine = engine;
        j->src = query_dup(req, "fromSrc");
        j->repo = query_dup(req, "repo");
        j->tag = query_dup(req, "tag");
        j->message = query_dup(req, "message");
        j->platform = query_dup(req, "platform");
        j->changes = api_request_query_all(req, "changes");
        j->s = api_stream_detach(req);
        if (api_worker_spawn(import_worker, j) < 0) {
                api_stream_reply_error(j->s, 500, "cannot start the import: out of threads");
                api_stream_end(j->s);
                import_job_free(j);
        }
}

void api_register_commit(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/commit", handle_commit, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
