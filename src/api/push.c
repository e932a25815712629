/*
 * push.c — POST /images/{name}/push and the archives: GET /images/get, GET
 * /images/{name}/get (save) and POST /images/load.  Pull, /auth and
 * /distribution are in images.c and auth.c.
 *
 * Each runs on a worker thread with a detached stream (server.h): errors
 * found before the first byte (unknown image, unreachable registry, bad
 * archive) become a plain {"message"} answer with Docker's status code;
 * later errors end a push or load stream with {"errorDetail", "error"}.
 * Push progress carries docker's key order (status, progressDetail,
 * progress, id) and the bar text dockerd adds to "progress", rendered by
 * cliformat's JSONProgress code (cli/progress.h), the same the CLI uses.  A
 * load's body is buffered by the server, so it is bounded by max_body.
 *
 * Never: block the loop on the network or the disk, or answer twice.
 */
#include <openssl/evp.h>
#include <string.h>

#include "base/log.h"
#include "cli/progress.h"
#include "engine/archive.h"
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

/* ---- push ---- */

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

static void out_fail(struct out *o, int r, const struct berth_error *err)
{
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

struct push_job {
        struct out o;
        struct berth_engine *engine;
        char *name, *tag;
        struct auth_holder auth;
};

static int push_progress(const struct json *msg, void *userdata)
{
        struct push_job *job = userdata;
        if (json_get(msg, "aux")) /* {Tag, Digest, Size}: as it is */
                return out_json(&job->o, msg);
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
        int r = out_json(&job->o, m);
        json_free(m);
        return r;
}

static void *push_worker(void *arg)
{
        struct push_job *job = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        struct push_opts po = {
            .name = job->name,
            .tag = job->tag,
            .auth = job->auth.set ? &job->auth.auth : NULL,
            .progress = push_progress,
            .userdata = job,
        };
        int r = berth_image_push(job->engine->layers, &po, &err);
        if (r < 0)
                out_fail(&job->o, r, err);
        api_stream_end(job->o.s);
        free(job->name);
        free(job->tag);
        json_free(job->auth.j);
        free(job);
        return NULL;
}

static void handle_push(struct api_request *req, void *userdata)
{
        struct push_job *job = xcalloc(1, sizeof(*job));
        job->engine = userdata;
        job->name = xstrdup(api_request_param(req, "name"));
        const char *tag = api_request_query(req, "tag");
        job->tag = tag ? xstrdup(tag) : NULL;
        auth_parse(api_request_header(req, "X-Registry-Auth"), &job->auth);
        job->o = (struct out){api_stream_detach(req), "application/json", false};
        if (api_worker_spawn(push_worker, job) < 0) {
                api_stream_reply_error(job->o.s, 500, "cannot start a push thread");
                api_stream_end(job->o.s);
                free(job->name);
                free(job->tag);
                json_free(job->auth.j);
                free(job);
        }
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

static void *archive_worker(void *arg)
{
        struct archive_job *job = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        int r;
        if (job->names) {
                r = berth_image_save(job->engine->layers, job->names, save_write, job, &err);
        } else {
                size_t len = 0;
                const char *body = api_request_body(api_stream_request(job->o.s), &len);
                char **lines = NULL;
                r = berth_image_load(job->engine->layers, body, len, &lines, &err);
                for (size_t i = 0; r == 0 && lines[i]; i++) {
                        _cleanup_free_ char *text = xasprintf("%s\n", lines[i]);
                        struct json *m = json_new_object();
                        json_set_str(m, "stream", text);
                        (void)out_json(&job->o, m);
                        json_free(m);
                }
                if (r == 0)
                        out_start(&job->o);
                strv_free(lines);
        }
        if (r < 0)
                out_fail(&job->o, r, err);
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

void api_register_push(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/images/{name*}/push", handle_push, engine},
            {"GET", "/images/get", handle_save_many, engine},
            {"GET", "/images/{name*}/get", handle_save_one, engine},
            {"POST", "/images/load", handle_load, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
