/*
 * volumes.c — /volumes: create, list, inspect, remove and prune, as dockerd
 * answers them (API 1.41; engine/volumes.h does the work).
 */
#include <errno.h>
#include <string.h>

#include "engine/containers.h"
#include "engine/volumes.h"
#include "filters.h"
#include "handlers.h"

static void reply_error(struct api_request *req, int r, struct berth_error *err)
{
        api_reply_error(req, api_engine_status(r), "%s", err ? berth_error_msg(err) : "error");
}

static void handle_create(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *body = NULL;
        size_t len = 0;
        api_request_body(req, &len);
        if (len && api_request_json(req, &body, &err) < 0) {
                api_reply_error(req, 400, "%s", berth_error_msg(err));
                return;
        }
        const struct json *name = json_get(body, "Name"), *driver = json_get(body, "Driver");
        const struct json *opts = json_get(body, "DriverOpts"), *labels = json_get(body, "Labels");
        if ((name && !json_is(name, JSON_STRING) && !json_is(name, JSON_NULL)) ||
            (driver && !json_is(driver, JSON_STRING) && !json_is(driver, JSON_NULL)) ||
            (opts && !json_is(opts, JSON_OBJECT) && !json_is(opts, JSON_NULL)) ||
            (labels && !json_is(labels, JSON_OBJECT) && !json_is(labels, JSON_NULL))) {
                api_reply_error(req, 400,
                                "invalid volume create request: Name and Driver are "
                                "strings, DriverOpts and Labels objects");
                return;
        }
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (labels, i, k, v) {
                if (!json_is(v, JSON_STRING)) {
                        api_reply_error(req, 400, "invalid label '%s': values are strings", k);
                        return;
                }
        }
        _cleanup_json_ struct json *out = NULL;
        int r = berth_volume_create(
            e, json_str(name), json_str(driver), json_is(opts, JSON_OBJECT) ? opts : NULL,
            json_is(labels, JSON_OBJECT) ? labels : NULL, false, &out, NULL, &err);
        if (r < 0) {
                reply_error(req, r, err);
                return;
        }
        api_reply_json(req, 201, out);
}

static bool truthy(const char *s)
{
        return strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
}

static void handle_list(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        static const char *const allowed[] = {"dangling", "driver", "label", "name", NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;
        _cleanup_strv_free_ char **dangling = api_filter_values(filters, "dangling");
        _cleanup_strv_free_ char **drivers = api_filter_values(filters, "driver");
        _cleanup_strv_free_ char **labels = api_filter_values(filters, "label");
        _cleanup_strv_free_ char **names = api_filter_values(filters, "name");
        for (size_t i = 0; dangling[i]; i++) {
                const char *d = dangling[i];
                if (strcmp(d, "true") && strcmp(d, "false") && strcmp(d, "1") && strcmp(d, "0")) {
                        api_reply_error(req, 400, "invalid filter 'dangling=%s'", d);
                        return;
                }
        }
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *all = NULL;
        int r = berth_volume_list(e, false, &all, &err);
        if (r < 0) {
                reply_error(req, r, err);
                return;
        }
        _cleanup_json_ struct json *out = json_new_object();
        struct json *vols = json_object_set(out, "Volumes", json_new_array());
        size_t i;
        const struct json *v;
        json_array_foreach (all, i, v) {
                const char *name = json_str(json_get(v, "Name"));
                if (dangling[0]) {
                        _cleanup_strv_free_ char **users = berth_ctr_volume_users(e, name, false);
                        if ((users[0] == NULL) != truthy(dangling[0]))
                                continue;
                }
                bool ok = !drivers[0];
                for (size_t k = 0; !ok && drivers[k]; k++)
                        ok = strcmp(drivers[k], json_str(json_get(v, "Driver"))) == 0;
                if (!ok)
                        continue;
                ok = !names[0];
                for (size_t k = 0; !ok && names[k]; k++)
                        ok = strstr(name, names[k]) != NULL;
                if (!ok || (labels[0] && !api_labels_match(json_get(v, "Labels"), labels)))
                        continue;
                json_array_append(vols, json_copy(v));
        }
        json_object_set(out, "Warnings", json_new_null());
        api_reply_json(req, 200, out);
}

static void handle_inspect(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *out = NULL;
        int r = berth_volume_inspect(e, api_request_param(req, "name"), &out, &err);
        if (r < 0) {
                reply_error(req, r, err);
                return;
        }
        api_reply_json(req, 200, out);
}

static void stream_error(struct api_stream *s, int r, struct berth_error *err)
{
        api_stream_reply_error(s, api_engine_status(r), "%s", err ? berth_error_msg(err) : "error");
}

/* the files of a volume can be many: deleted on a worker, never on the loop */
static void delete_worker(struct api_stream *s, void *userdata)
{
        struct berth_engine *e = userdata;
        struct api_request *req = api_stream_request(s);
        _cleanup_error_ struct berth_error *err = NULL;
        int r = berth_volume_remove(e, api_request_param(req, "name"),
                                    api_request_query_bool(req, "force", false), false, &err);
        if (r < 0)
                stream_error(s, r, err);
        else
                api_stream_reply_empty(s, 204);
}

static void handle_delete(struct api_request *req, void *userdata)
{
        api_defer(req, delete_worker, userdata);
}

/* true: kept (not pruned). */
static bool prune_keeps(const struct json *labels, void *arg)
{
        return api_prune_labels_keep(arg, labels);
}

static void prune_worker(struct api_stream *s, void *userdata)
{
        struct berth_engine *e = userdata;
        struct api_request *req = api_stream_request(s);
        /* parsed again here (checked on the loop): the values are the worker's */
        struct api_prune_labels pf;
        api_prune_labels_init(&pf, req);
        _cleanup_error_ struct berth_error *err = NULL;
        struct json *deleted = NULL;
        uint64_t reclaimed = 0;
        int r = berth_volume_prune(e, prune_keeps, &pf, &deleted, &reclaimed, &err);
        api_prune_labels_release(&pf);
        if (r < 0) {
                stream_error(s, r, err);
                return;
        }
        _cleanup_json_ struct json *out = json_new_object();
        json_object_set(out, "VolumesDeleted", deleted);
        json_object_set(out, "SpaceReclaimed", json_new_uint(reclaimed));
        api_stream_reply_json(s, 200, out);
}

static void handle_prune(struct api_request *req, void *userdata)
{
        /* "all" arrived with API 1.42, where a prune without it takes anonymous volumes only;
         * berthd speaks 1.41, where every unused volume goes */
        static const char *const allowed[] = {"label", "label!", NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;
        api_defer(req, prune_worker, userdata);
}

void api_register_volumes(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/volumes/create", handle_create, engine},
            {"GET", "/volumes", handle_list, engine},
            {"POST", "/volumes/prune", handle_prune, engine},
            {"GET", "/volumes/{name}", handle_inspect, engine},
            {"DELETE", "/volumes/{name}", handle_delete, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
