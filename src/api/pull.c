/*
 * pull.c — the registry-facing endpoints: POST /images/create (pull), POST
 * /images/{name}/push, POST /auth, GET /distribution/{name}/json, and the
 * archives: GET /images/get, GET /images/{name}/get (save) and POST
 * /images/load; the other image endpoints are in images.c.  A load's body
 * is buffered by the server, so it is bounded by the server's max_body.
 *
 * A pull (or push) runs on a worker thread with a lazy stream (server.h): errors found
 * before the first progress message (bad reference, unknown manifest, no such
 * registry) become a plain {"message"} answer with Docker's status code, as
 * dockerd does; later errors end the stream with {"errorDetail", "error"}.
 * Progress messages carry docker's key order (status, progressDetail,
 * progress, id) and the rendered bar text dockerd adds to "progress"; the
 * bar is cliformat's JSONProgress renderer (cli/progress.h) — the same
 * formatting code the CLI uses, so both ends print the same bytes.
 *
 *
 * Never: block the loop on the network, or answer a pull twice.
 */
#include <openssl/evp.h>
#include <string.h>

#include "base/log.h"
#include "cli/progress.h"
#include "engine/archive.h"
#include "engine/pull.h"
#include "engine/push.h"
#include "handlers.h"

static int status_for(int r)
{
        switch (-r) {
        case ENOENT:
                return 404;
        case EINVAL:
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

/* ---- X-Registry-Auth ---- */

/* base64url or base64, padded or not (docker sends URL-safe). */
static char *b64_decode(const char *in, size_t *ret_len)
{
        size_t n = strlen(in);
        char *s = xmalloc(n + 4);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                char c = in[i];
                if (c == '-')
                        c = '+';
                else if (c == '_')
                        c = '/';
                else if (c == '=' || c == '\n' || c == '\r')
                        continue;
                s[k++] = c;
        }
        size_t pad = (4 - k % 4) % 4;
        for (size_t i = 0; i < pad; i++)
                s[k++] = '=';
        s[k] = '\0';
        unsigned char *out = xmalloc(k / 4 * 3 + 1);
        int got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)k);
        free(s);
        if (got < 0) {
                free(out);
                return NULL;
        }
        got -= (int)(pad > 2 ? 2 : pad);
        out[got] = '\0';
        *ret_len = (size_t)got;
        return (char *)out;
}

struct auth_holder {
        struct registry_auth auth;
        struct json *j;
        bool set;
};

static void auth_parse(const char *header, struct auth_holder *h)
{
        memset(h, 0, sizeof(*h));
        if (!header || !*header)
                return;
        size_t len = 0;
        _cleanup_free_ char *raw = b64_decode(header, &len);
        if (!raw || json_parse(raw, len, &h->j, NULL) < 0 || !json_is(h->j, JSON_OBJECT))
                return;
        const char *u = json_str(json_get(h->j, "username"));
        const char *p = json_str(json_get(h->j, "password"));
        const char *it = json_str(json_get(h->j, "identitytoken"));
        const char *rt = json_str(json_get(h->j, "registrytoken"));
        h->auth = (struct registry_auth){u && *u ? u : NULL, p && *p ? p : NULL,
                                         rt && *rt ? rt : NULL, it && *it ? it : NULL};
        h->set = h->auth.username || h->auth.registry_token || h->auth.identity_token;
}

/* ---- pull ---- */

struct pull_job {
        struct api_stream *s;
        struct berth_engine *engine;
        char *from, *tag, *platform;
        struct auth_holder auth;
        bool push; /* a push of `from`, not a pull */
};

static int pull_progress(const struct json *msg, void *userdata)
{
        struct pull_job *job = userdata;
        if (json_get(msg, "aux")) /* push's {Tag, Digest, Size}: as it is */
                return api_stream_write_json(job->s, msg);
        const struct json *detail = json_get(msg, "progressDetail");
        struct json *m = json_new_object();
        json_set_str(m, "status", json_str(json_get(msg, "status")));
        if (detail)
                json_object_set(m, "progressDetail", json_copy(detail));
        const struct json *cur = json_get(detail, "current");
        const struct json *tot = json_get(detail, "total");
        if (cur && tot) {
                struct berth_buf bar = BERTH_BUF_INIT;
                progress_bar(&bar, cur->num.i, tot->num.i, 0, false, NULL, 200, 0);
                json_set_str(m, "progress", bar.data ? bar.data : "");
                buf_release(&bar);
        }
        if (json_get(msg, "id"))
                json_set_str(m, "id", json_str(json_get(msg, "id")));
        int r = api_stream_write_json(job->s, m);
        json_free(m);
        return r;
}

static bool pull_client_gone(void *userdata)
{
        struct pull_job *job = userdata;
        return api_stream_client_gone(job->s);
}

static void *pull_worker(void *arg)
{
        struct pull_job *job = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        struct pull_opts o = {
            .from_image = job->from,
            .tag = job->tag,
            .platform = job->platform,
            .auth = job->auth.set ? &job->auth.auth : NULL,
            .progress = pull_progress,
            .userdata = job,
            .client_gone = pull_client_gone,
        };
        int r;
        if (job->push) {
                struct push_opts po = {
                    .name = job->from,
                    .tag = job->tag,
                    .auth = o.auth,
                    .progress = pull_progress,
                    .userdata = job,
                };
                r = berth_image_push(job->engine->layers, &po, &err);
        } else {
                r = berth_image_pull(job->engine->layers, &o, &err);
        }
        if (r < 0 && api_stream_fail(job->s, status_for(r), berth_error_msg(err)) == -EALREADY) {
                struct json *m = json_new_object();
                struct json *d = json_object_set(m, "errorDetail", json_new_object());
                json_set_str(d, "message", berth_error_msg(err));
                json_set_str(m, "error", berth_error_msg(err));
                (void)api_stream_write_json(job->s, m);
                json_free(m);
        }
        api_stream_end(job->s);
        free(job->from);
        free(job->tag);
        free(job->platform);
        json_free(job->auth.j);
        free(job);
        return NULL;
}

static void handle_create(struct api_request *req, void *userdata)
{
        const char *from = api_request_query(req, "fromImage");
        if (api_request_query(req, "fromSrc")) {
                api_reply_error(req, 400, "importing images (fromSrc) is not supported by berth");
                return;
        }
        if (!from || !*from) {
                api_reply_error(req, 400, "fromImage is required");
                return;
        }
        struct pull_job *job = xcalloc(1, sizeof(*job));
        job->engine = userdata;
        job->from = xstrdup(from);
        const char *tag = api_request_query(req, "tag");
        job->tag = tag ? xstrdup(tag) : NULL;
        const char *plat = api_request_query(req, "platform");
        job->platform = plat ? xstrdup(plat) : NULL;
        auth_parse(api_request_header(req, "X-Registry-Auth"), &job->auth);
        job->s = api_stream_begin_lazy(req, 200, "application/json");
        if (api_worker_spawn(pull_worker, job) < 0) {
                api_stream_fail(job->s, 500, "cannot start a pull thread");
                api_stream_end(job->s);
                free(job->from);
                free(job->tag);
                free(job->platform);
                json_free(job->auth.j);
                free(job);
        }
}

static void handle_push(struct api_request *req, void *userdata)
{
        struct pull_job *job = xcalloc(1, sizeof(*job));
        job->engine = userdata;
        job->push = true;
        job->from = xstrdup(api_request_param(req, "name"));
        const char *tag = api_request_query(req, "tag");
        job->tag = tag ? xstrdup(tag) : NULL;
        auth_parse(api_request_header(req, "X-Registry-Auth"), &job->auth);
        job->s = api_stream_begin_lazy(req, 200, "application/json");
        if (api_worker_spawn(pull_worker, job) < 0) {
                api_stream_fail(job->s, 500, "cannot start a push thread");
                api_stream_end(job->s);
                free(job->from);
                free(job->tag);
                json_free(job->auth.j);
                free(job);
        }
}

/* ---- POST /auth ---- */

struct auth_job {
        struct api_stream *s;
        struct berth_engine *engine;
        struct json *body;
};

/* Checking credentials waits on the network: a worker answers, never the loop. */
static void *auth_worker(void *arg)
{
        struct auth_job *job = arg;
        const char *u = json_str(json_get(job->body, "username"));
        const char *p = json_str(json_get(job->body, "password"));
        const char *it = json_str(json_get(job->body, "identitytoken"));
        struct registry_auth auth = {u && *u ? u : NULL, p && *p ? p : NULL, NULL,
                                     it && *it ? it : NULL};
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_free_ char *token = NULL;
        int r = berth_registry_login(job->engine, json_str(json_get(job->body, "serveraddress")),
                                     &auth, &token, &err);
        if (r < 0) {
                api_stream_fail(job->s, r == -EACCES ? 401 : status_for(r), berth_error_msg(err));
        } else {
                struct json *o = json_new_object();
                json_set_str(o, "IdentityToken", token ? token : "");
                json_set_str(o, "Status", "Login Succeeded");
                (void)api_stream_write_json(job->s, o);
                json_free(o);
        }
        api_stream_end(job->s);
        json_free(job->body);
        free(job);
        return NULL;
}

static void handle_auth(struct api_request *req, void *userdata)
{
        _cleanup_error_ struct berth_error *err = NULL;
        struct json *body = NULL;
        if (api_request_json(req, &body, &err) < 0 || !json_is(body, JSON_OBJECT)) {
                json_free(body);
                api_reply_error(req, 400, "bad auth request: %s",
                                err ? berth_error_msg(err) : "a JSON object is required");
                return;
        }
        struct auth_job *job = xcalloc(1, sizeof(*job));
        job->engine = userdata;
        job->body = body;
        job->s = api_stream_begin_lazy(req, 200, "application/json");
        if (api_worker_spawn(auth_worker, job) < 0) {
                api_stream_fail(job->s, 500, "cannot start a login thread");
                api_stream_end(job->s);
                json_free(job->body);
                free(job);
        }
}

/* ---- GET /distribution/{name}/json ---- */

struct dist_job {
        struct api_stream *s;
        struct berth_engine *engine;
        char *name;
        struct auth_holder auth;
};

static void *dist_worker(void *arg)
{
        struct dist_job *job = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *out = NULL;
        int r = berth_registry_distribution(job->engine, job->name,
                                            job->auth.set ? &job->auth.auth : NULL, &out, &err);
        if (r < 0)
                api_stream_fail(job->s, r == -EACCES ? 401 : status_for(r), berth_error_msg(err));
        else
                (void)api_stream_write_json(job->s, out);
        api_stream_end(job->s);
        free(job->name);
        json_free(job->auth.j);
        free(job);
        return NULL;
}

static void handle_distribution(struct api_request *req, void *userdata)
{
        struct dist_job *job = xcalloc(1, sizeof(*job));
        job->engine = userdata;
        job->name = xstrdup(api_request_param(req, "name"));
        auth_parse(api_request_header(req, "X-Registry-Auth"), &job->auth);
        job->s = api_stream_begin_lazy(req, 200, "application/json");
        if (api_worker_spawn(dist_worker, job) < 0) {
                api_stream_fail(job->s, 500, "cannot start a registry thread");
                api_stream_end(job->s);
                free(job->name);
                json_free(job->auth.j);
                free(job);
        }
}

/* ---- GET /images/get, GET /images/{name}/get, POST /images/load ---- */

struct archive_job {
        struct api_stream *s;
        struct berth_engine *engine;
        char **names; /* save; NULL for a load */
        bool quiet;
};

static int save_write(const void *buf, size_t len, void *userdata)
{
        struct archive_job *job = userdata;
        return api_stream_write(job->s, buf, len);
}

static void write_stream_line(struct api_stream *s, const char *line)
{
        _cleanup_free_ char *text = xasprintf("%s\n", line);
        struct json *m = json_new_object();
        json_set_str(m, "stream", text);
        (void)api_stream_write_json(s, m);
        json_free(m);
}

static void *archive_worker(void *arg)
{
        struct archive_job *job = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        int r;
        if (job->names) {
                r = berth_image_save(job->engine->layers, job->names, save_write, job, &err);
                if (r < 0)
                        api_stream_fail(job->s, status_for(r), berth_error_msg(err));
        } else {
                size_t len = 0;
                const char *body = api_request_body(api_stream_request(job->s), &len);
                char **lines = NULL;
                r = berth_image_load(job->engine->layers, body, len, &lines, &err);
                if (r < 0 &&
                    api_stream_fail(job->s, status_for(r), berth_error_msg(err)) == -EALREADY) {
                        struct json *m = json_new_object();
                        struct json *d = json_object_set(m, "errorDetail", json_new_object());
                        json_set_str(d, "message", berth_error_msg(err));
                        json_set_str(m, "error", berth_error_msg(err));
                        (void)api_stream_write_json(job->s, m);
                        json_free(m);
                }
                for (size_t i = 0; r == 0 && lines[i]; i++)
                        write_stream_line(job->s, lines[i]);
                strv_free(lines);
        }
        api_stream_end(job->s);
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
        job->s = api_stream_begin_lazy(req, 200, content_type);
        if (api_worker_spawn(archive_worker, job) < 0) {
                api_stream_fail(job->s, 500, "cannot start an archive thread");
                api_stream_end(job->s);
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

void api_register_pull(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/images/create", handle_create, engine},
            {"POST", "/images/{name*}/push", handle_push, engine},
            {"POST", "/auth", handle_auth, engine},
            {"GET", "/distribution/{name*}/json", handle_distribution, engine},
            {"GET", "/images/get", handle_save_many, engine},
            {"GET", "/images/{name*}/get", handle_save_one, engine},
            {"POST", "/images/load", handle_load, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
