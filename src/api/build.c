/*
 * build.c — POST /build (dockerd's classic builder API: the context tar as the body, read as it
 * arrives; docker's JSON stream back) and POST /build/prune, over the engine's builder
 * (engine/build.h).
 *
 * The query as dockerd 1.41 reads it: t (repeated), dockerfile, buildargs and labels (JSON
 * objects), target, nocache, pull, rm (true unless given), forcerm, q, networkmode, platform,
 * extrahosts (repeated or comma-separated), cachefrom (a JSON array), shmsize, memory, memswap,
 * cpushares, cpuperiod, cpuquota, cpusetcpus, cpusetmems, ulimits (JSON).  remote (a context
 * by URL or git) is refused with a 400: berth takes the context as the body only.
 *
 * Errors before the first message are the HTTP answer (400 for a bad Dockerfile or option,
 * 404 for a missing base image, else 500); after it they are the stream's errorDetail, with
 * the failed RUN's status as its code.
 *
 * /build/prune checks its query as dockerd 20.10 does (every failure prefixed "failed to prune
 * build cache: " except keep-storage's):
 *   - filters: BuildKit's cache fields (id, parent, type, description, inuse, shared, private),
 *     until and its old name unused-for (a Go duration, not both), label and label!; one value
 *     each; until/unused-for select steps not used for that long, the others are accepted and
 *     select nothing narrower (berth's cache has no labels or types);
 *   - keep-storage: an integer;
 *   - all: also the steps of images that have names (the images stay).
 *
 * Never: report cache as deleted, or space as reclaimed, that was not.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/units.h"
#include "engine/build.h"
#include "filters.h"
#include "handlers.h"

#define PRUNE_FAILED "failed to prune build cache: "

static bool single_valued(const struct json *filters)
{
        static const char *const cache_fields[] = {"id",    "parent", "type",    "description",
                                                   "inuse", "shared", "private", NULL};
        for (size_t i = 0; cache_fields[i]; i++) {
                _cleanup_strv_free_ char **v = api_filter_values(filters, cache_fields[i]);
                if (v[0] && v[1])
                        return false;
        }
        return true;
}

/* until / unused-for as BuildKit's KeepDuration; replies and returns -EINVAL when bad. */
static int check_until(struct api_request *req, const struct json *filters, int64_t *ret_ns)
{
        *ret_ns = 0;
        _cleanup_strv_free_ char **until = api_filter_values(filters, "until");
        _cleanup_strv_free_ char **unused = api_filter_values(filters, "unused-for");
        if (until[0] && unused[0]) {
                api_reply_error(req, 400,
                                PRUNE_FAILED "conflicting filters: \"until\" and \"unused-for\"");
                return -EINVAL;
        }
        char **v = until[0] ? until : unused;
        if (!v[0])
                return 0;
        if (v[1]) {
                api_reply_error(req, 400, PRUNE_FAILED "filters expect only one value");
                return -EINVAL;
        }
        if (units_parse_go_duration(v[0], ret_ns) < 0) {
                api_reply_error(req, 500,
                                PRUNE_FAILED "\"%s\" filter expects a duration (e.g., '24h'): "
                                             "time: invalid duration \"%s\"",
                                until[0] ? "until" : "unused-for", v[0]);
                return -EINVAL;
        }
        return 0;
}

static void handle_prune(struct api_request *req, void *userdata)
{
        const char *keep = api_request_query(req, "keep-storage");
        if (keep && *keep) {
                char *end = NULL;
                (void)strtoll(keep, &end, 10);
                if (*end || end == keep) {
                        api_reply_error(req, 500,
                                        "keep-storage is in bytes and expects an integer, got %s: "
                                        "strconv.Atoi: parsing \"%s\": invalid syntax",
                                        keep, keep);
                        return;
                }
        }
        const char *raw = api_request_query(req, "filters");
        _cleanup_json_ struct json *filters = NULL;
        if (raw && *raw) {
                _cleanup_error_ struct berth_error *err = NULL;
                if (json_parse(raw, strlen(raw), &filters, &err) < 0 ||
                    !json_is(filters, JSON_OBJECT)) {
                        api_reply_error(req, 400, "could not parse filters: %s",
                                        err ? berth_error_msg(err) : "not a JSON object");
                        return;
                }
        }
        static const char *const allowed[] = {"id",         "parent", "type",    "description",
                                              "inuse",      "shared", "private", "until",
                                              "unused-for", "label",  "label!",  NULL};
        size_t i;
        const char *k;
        struct json *v;
        json_object_foreach (filters, i, k, v) {
                bool ok = false;
                for (size_t a = 0; v && allowed[a]; a++)
                        ok |= strcmp(allowed[a], k) == 0;
                if (!ok) {
                        api_reply_error(req, 400, PRUNE_FAILED "invalid filter '%s'", k);
                        return;
                }
        }
        int64_t until_ns = 0;
        if (check_until(req, filters, &until_ns) < 0)
                return;
        if (!single_valued(filters)) {
                api_reply_error(req, 400, PRUNE_FAILED "filters expect only one value");
                return;
        }
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_strv_free_ char **deleted = NULL;
        uint64_t reclaimed = 0;
        int64_t unused_s = until_ns > 0 ? (until_ns + 999999999) / 1000000000 : 0;
        if (berth_build_cache_prune(userdata, api_request_query_bool(req, "all", false), unused_s,
                                    &deleted, &reclaimed, &err) < 0) {
                api_reply_error(req, 500, PRUNE_FAILED "%s", berth_error_msg(err));
                return;
        }
        _cleanup_json_ struct json *out = json_new_object();
        if (deleted && deleted[0]) {
                struct json *list = json_object_set(out, "CachesDeleted", json_new_array());
                for (char **d = deleted; *d; d++)
                        json_array_append(list, json_new_string(*d));
        } else {
                json_object_set(out, "CachesDeleted", json_new_null());
        }
        json_set_int(out, "SpaceReclaimed", (int64_t)reclaimed);
        api_reply_json(req, 200, out);
}

/* ---- POST /build ---- */

struct build_job {
        struct api_stream *s;
        struct berth_engine *engine;
        struct berth_build_opts o;
        char **tags, **extra_hosts, **cache_from;
        char *dockerfile, *target, *network, *platform, *cpuset_cpus, *cpuset_mems;
        struct json *buildargs, *labels, *ulimits;
        bool started;
};

static void build_job_free(struct build_job *j)
{
        strv_free(j->tags);
        strv_free(j->extra_hosts);
        strv_free(j->cache_from);
        free(j->dockerfile);
        free(j->target);
        free(j->network);
        free(j->platform);
        free(j->cpuset_cpus);
        free(j->cpuset_mems);
        json_free(j->buildargs);
        json_free(j->labels);
        json_free(j->ulimits);
        free(j);
}

static ssize_t build_read(void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct build_job *j = userdata;
        return api_stream_read_body_err(j->s, buf, len, err);
}

static int build_emit(const struct json *msg, void *userdata)
{
        struct build_job *j = userdata;
        if (!j->started) {
                api_stream_start(j->s, 200, "application/json");
                j->started = true;
        }
        return api_stream_write_json(j->s, msg);
}

static bool build_gone(void *userdata)
{
        struct build_job *j = userdata;
        return api_stream_client_gone(j->s);
}

static void *build_worker(void *arg)
{
        struct build_job *j = arg;
        j->o.read = build_read;
        j->o.emit = build_emit;
        j->o.gone = build_gone;
        j->o.userdata = j;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_free_ char *id = NULL;
        bool emitted = false;
        int code = 0;
        int r = berth_build(j->engine, &j->o, &id, &emitted, &code, &err);
        if (r < 0 && !j->started) {
                api_stream_reply_error(j->s, api_engine_status(r), "%s", berth_error_msg(err));
        } else if (r < 0 && -r != ECANCELED) {
                struct json *m = json_new_object();
                struct json *d = json_object_set(m, "errorDetail", json_new_object());
                if (code)
                        json_set_int(d, "code", code);
                json_set_str(d, "message", berth_error_msg(err));
                json_set_str(m, "error", berth_error_msg(err));
                (void)build_emit(m, j);
                json_free(m);
        }
        if (r < 0)
                log_info("build: %s", berth_error_msg(err));
        api_stream_end(j->s);
        build_job_free(j);
        return NULL;
}

static char *query_dup(struct api_request *req, const char *key)
{
        const char *v = api_request_query(req, key);
        return v && *v ? xstrdup(v) : NULL;
}

/* A JSON query value of the given type (NULL when absent); replies 400 when malformed. */
static int query_json(struct api_request *req, const char *key, enum json_type type,
                      struct json **ret)
{
        *ret = NULL;
        const char *v = api_request_query(req, key);
        if (!v || !*v)
                return 0;
        _cleanup_error_ struct berth_error *err = NULL;
        if (json_parse(v, strlen(v), ret, &err) == 0 && json_is(*ret, JSON_NULL)) {
                json_free(*ret); /* docker's CLI sends "null" for an empty list */
                *ret = NULL;
                return 0;
        }
        if (!*ret || !json_is(*ret, type)) {
                json_free(*ret);
                *ret = NULL;
                api_reply_error(req, 400, "invalid %s: %s", key,
                                err ? berth_error_msg(err) : "wrong JSON type");
                return -EINVAL;
        }
        return 0;
}

static int query_int(struct api_request *req, const char *key, int64_t *ret)
{
        *ret = 0;
        const char *v = api_request_query(req, key);
        if (!v || !*v)
                return 0;
        char *end = NULL;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || *end) {
                api_reply_error(req, 400,
                                "invalid %s: strconv.ParseInt: parsing \"%s\": invalid "
                                "syntax",
                                key, v);
                return -EINVAL;
        }
        *ret = n;
        return 0;
}

static void handle_build(struct api_request *req, void *userdata)
{
        const char *remote = api_request_query(req, "remote");
        if (remote && *remote) {
                api_reply_error(req, 400,
                                "remote build contexts are not supported: send the context as the "
                                "request body (%s)",
                                remote);
                return;
        }
        struct build_job *j = xcalloc(1, sizeof(*j));
        j->engine = userdata;
        struct berth_build_opts *o = &j->o;
        if (query_json(req, "buildargs", JSON_OBJECT, &j->buildargs) < 0 ||
            query_json(req, "labels", JSON_OBJECT, &j->labels) < 0 ||
            query_json(req, "ulimits", JSON_ARRAY, &j->ulimits) < 0 ||
            query_int(req, "shmsize", &o->shm_size) < 0 ||
            query_int(req, "memory", &o->memory) < 0 ||
            query_int(req, "memswap", &o->memswap) < 0 ||
            query_int(req, "cpushares", &o->cpu_shares) < 0 ||
            query_int(req, "cpuperiod", &o->cpu_period) < 0 ||
            query_int(req, "cpuquota", &o->cpu_quota) < 0) {
                build_job_free(j);
                return;
        }
        _cleanup_json_ struct json *cache_from = NULL;
        if (query_json(req, "cachefrom", JSON_ARRAY, &cache_from) < 0) {
                build_job_free(j);
                return;
        }
        size_t ncf = json_len(cache_from), k = 0;
        j->cache_from = xcalloc(ncf + 1, sizeof(char *));
        for (size_t i = 0; i < ncf; i++)
                if (json_str(cache_from->arr.items[i]))
                        j->cache_from[k++] = xstrdup(json_str(cache_from->arr.items[i]));
        j->tags = api_request_query_all(req, "t");
        /* extrahosts: repeated, or one comma-separated value */
        _cleanup_strv_free_ char **eh = api_request_query_all(req, "extrahosts");
        size_t neh = 0;
        for (char **h = eh; h && *h; h++)
                neh += 1 + strlen(*h);
        j->extra_hosts = xcalloc(neh + 1, sizeof(char *));
        k = 0;
        for (char **h = eh; h && *h; h++) {
                const char *p = *h;
                while (*p) {
                        size_t n = strcspn(p, ",");
                        if (n)
                                j->extra_hosts[k++] = xstrndup(p, n);
                        p += n;
                        if (*p == ',')
                                p++;
                }
        }
        j->dockerfile = query_dup(req, "dockerfile");
        j->target = query_dup(req, "target");
        j->network = query_dup(req, "networkmode");
        j->platform = query_dup(req, "platform");
        j->cpuset_cpus = query_dup(req, "cpusetcpus");
        j->cpuset_mems = query_dup(req, "cpusetmems");
        o->dockerfile = j->dockerfile;
        o->tags = j->tags;
        o->buildargs = j->buildargs;
        o->labels = j->labels;
        o->target = j->target;
        o->nocache = api_request_query_bool(req, "nocache", false);
        o->pull = api_request_query_bool(req, "pull", false);
        o->rm = api_request_query_bool(req, "rm", true);
        o->forcerm = api_request_query_bool(req, "forcerm", false);
        o->quiet = api_request_query_bool(req, "q", false);
        o->network_mode = j->network;
        o->platform = j->platform;
        o->extra_hosts = j->extra_hosts;
        o->cache_from = j->cache_from;
        o->cpuset_cpus = j->cpuset_cpus;
        o->cpuset_mems = j->cpuset_mems;
        o->ulimits = j->ulimits;
        j->s = api_stream_detach(req);
        if (api_worker_spawn(build_worker, j) < 0) {
                api_stream_reply_error(j->s, 500, "cannot start the build: out of threads");
                api_stream_end(j->s);
                build_job_free(j);
        }
}

void api_register_build(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/build/prune", handle_prune, engine},
            /* the body is the context tar, read as it arrives */
            {"POST", "/build", handle_build, engine, .stream_body = true},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
