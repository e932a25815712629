/*
 * networks.c — /networks: list (with dockerd's filters), inspect, create,
 * remove, connect, disconnect and prune, over engine/networks.h.
 *
 * Calls that change links or firewall rules (create, remove, connect,
 * disconnect, prune) run on a worker (api_defer): each is a few netlink and
 * nftables round trips, which the event loop must not wait for.
 *
 * Status codes as dockerd's: 404 for an unknown network or container, 400 for
 * a bad request, 409 for a name taken, 403 for what the network forbids
 * (predefined, in use, overlapping pool, already connected).
 *
 * Never: report a network as deleted that was not.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/units.h"
#include "engine/networks.h"
#include "filters.h"
#include "handlers.h"

static int status_of(int r)
{
        return r == -EPERM ? 403 : r == -ENOSPC ? 403 : api_engine_status(r);
}

static void stream_error(struct api_stream *s, int r, struct berth_error *err)
{
        api_stream_reply_error(s, status_of(r), "%s", err ? berth_error_msg(err) : "error");
}

static bool matches_any(char *const *wanted, const char *have, bool prefix)
{
        if (!wanted[0])
                return true;
        for (size_t i = 0; wanted[i]; i++)
                if (prefix ? strncmp(have, wanted[i], strlen(wanted[i])) == 0
                           : strstr(have, wanted[i]) != NULL)
                        return true;
        return false;
}

static bool predefined(const char *name)
{
        return strcmp(name, "bridge") == 0 || strcmp(name, "host") == 0 ||
               strcmp(name, "none") == 0;
}

static void handle_list(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        static const char *const allowed[] = {"dangling", "driver", "id",   "label",
                                              "name",     "scope",  "type", NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;
        _cleanup_strv_free_ char **drivers = api_filter_values(filters, "driver");
        _cleanup_strv_free_ char **ids = api_filter_values(filters, "id");
        _cleanup_strv_free_ char **labels = api_filter_values(filters, "label");
        _cleanup_strv_free_ char **names = api_filter_values(filters, "name");
        _cleanup_strv_free_ char **scopes = api_filter_values(filters, "scope");
        _cleanup_strv_free_ char **types = api_filter_values(filters, "type");
        _cleanup_strv_free_ char **dangling = api_filter_values(filters, "dangling");
        for (size_t i = 0; types[i]; i++)
                if (strcmp(types[i], "custom") && strcmp(types[i], "builtin")) {
                        api_reply_error(req, 400, "invalid filter: 'type'='%s'", types[i]);
                        return;
                }
        for (size_t i = 0; dangling[i]; i++)
                if (strcmp(dangling[i], "true") && strcmp(dangling[i], "false") &&
                    strcmp(dangling[i], "1") && strcmp(dangling[i], "0")) {
                        api_reply_error(req, 400, "invalid filter 'dangling=%s'", dangling[i]);
                        return;
                }
        _cleanup_json_ struct json *all = berth_network_list(e);
        _cleanup_json_ struct json *out = json_new_array();
        size_t i;
        const struct json *n;
        json_array_foreach (all, i, n) {
                const char *name = json_str(json_get(n, "Name")) ?: "";
                const char *id = json_str(json_get(n, "Id")) ?: "";
                bool builtin = predefined(name);
                if (!matches_any(drivers, json_str(json_get(n, "Driver")) ?: "", false) ||
                    !matches_any(ids, id, false) || !matches_any(names, name, false) ||
                    !matches_any(scopes, "local", false))
                        continue;
                if (types[0] && strcmp(types[0], builtin ? "builtin" : "custom") != 0)
                        continue;
                if (labels[0] && !api_labels_match(json_get(n, "Labels"), labels))
                        continue;
                if (dangling[0]) {
                        bool want = strcmp(dangling[0], "true") == 0 ||
                                    strcmp(dangling[0], "1") == 0;
                        _cleanup_json_ struct json *full = NULL;
                        bool unused = !builtin &&
                                      berth_network_inspect(e, id, &full, NULL) == 0 &&
                                      !json_len(json_get(full, "Containers"));
                        if (unused != want)
                                continue;
                }
                json_array_append(out, json_copy(n));
        }
        api_reply_json(req, 200, out);
}

static void handle_inspect(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *out = NULL;
        const char *scope = api_request_query(req, "scope");
        int r = scope && *scope && strcmp(scope, "local") != 0
                    ? berth_error_set(&err, ENOENT, "network %s not found",
                                      api_request_param(req, "id"))
                    : berth_network_inspect(e, api_request_param(req, "id"), &out, &err);
        if (r < 0) {
                api_reply_error(req, status_of(r), "%s", berth_error_msg(err));
                return;
        }
        api_reply_json(req, 200, out);
}

static void create_worker(struct api_stream *s, void *userdata)
{
        struct berth_engine *e = userdata;
        struct api_request *req = api_stream_request(s);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *body = NULL;
        if (api_request_json(req, &body, &err) < 0 || !json_is(body, JSON_OBJECT)) {
                api_stream_reply_error(s, 400, "%s",
                                       err ? berth_error_msg(err) : "invalid JSON: not an object");
                return;
        }
        static const char *const strings[] = {"Name", "Driver"};
        for (size_t i = 0; i < ELEMENTSOF(strings); i++) {
                const struct json *v = json_get(body, strings[i]);
                if (v && !json_is(v, JSON_STRING) && !json_is(v, JSON_NULL)) {
                        api_stream_reply_error(s, 400,
                                               "json: cannot unmarshal %s into Go struct field "
                                               "NetworkCreateRequest.%s of type string",
                                               json_type_name(v->type), strings[i]);
                        return;
                }
        }
        static const char *const maps[] = {"Options", "Labels"};
        for (size_t i = 0; i < ELEMENTSOF(maps); i++) {
                const struct json *v = json_get(body, maps[i]);
                size_t j;
                const char *k;
                const struct json *x;
                json_object_foreach (v, j, k, x) {
                        if (!json_is(x, JSON_STRING)) {
                                api_stream_reply_error(s, 400, "invalid %s '%s': values are strings",
                                                       maps[i], k);
                                return;
                        }
                }
        }
        _cleanup_json_ struct json *out = NULL;
        int r = berth_network_create(e, body, &out, &err);
        if (r < 0) {
                stream_error(s, r, err);
                return;
        }
        api_stream_reply_json(s, 201, out);
}

static void handle_create(struct api_request *req, void *userdata)
{
        api_defer(req, create_worker, userdata);
}

static void delete_worker(struct api_stream *s, void *userdata)
{
        struct berth_engine *e = userdata;
        struct api_request *req = api_stream_request(s);
        _cleanup_error_ struct berth_error *err = NULL;
        int r = berth_network_remove(e, api_request_param(req, "id"), &err);
        if (r < 0)
                stream_error(s, r, err);
        else
                api_stream_reply_empty(s, 204);
}

static void handle_delete(struct api_request *req, void *userdata)
{
        api_defer(req, delete_worker, userdata);
}

static void connect_worker(struct api_stream *s, void *userdata, bool connect)
{
        struct berth_engine *e = userdata;
        struct api_request *req = api_stream_request(s);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *body = NULL;
        if (api_request_json(req, &body, &err) < 0 || !json_is(body, JSON_OBJECT)) {
                api_stream_reply_error(s, 400, "%s",
                                       err ? berth_error_msg(err) : "invalid JSON: not an object");
                return;
        }
        const char *ctr = json_str(json_get(body, "Container"));
        if (!ctr || !*ctr) {
                api_stream_reply_error(s, 400, "invalid name or ID supplied: \"%s\"", ctr ? ctr : "");
                return;
        }
        const char *net = api_request_param(req, "id");
        int r;
        if (connect) {
                r = berth_network_connect(e, net, ctr, json_get(body, "EndpointConfig"), &err);
        } else {
                const struct json *f = json_get(body, "Force");
                r = berth_network_disconnect(e, net, ctr, json_is(f, JSON_BOOL) && f->b, &err);
        }
        if (r < 0)
                stream_error(s, r, err);
        else
                api_stream_reply_empty(s, 200);
}

static void connect_main(struct api_stream *s, void *userdata)
{
        connect_worker(s, userdata, true);
}

static void disconnect_main(struct api_stream *s, void *userdata)
{
        connect_worker(s, userdata, false);
}

static void handle_connect(struct api_request *req, void *userdata)
{
        api_defer(req, connect_main, userdata);
}

static void handle_disconnect(struct api_request *req, void *userdata)
{
        api_defer(req, disconnect_main, userdata);
}

struct prune_filter {
        struct api_prune_labels labels;
        bool until_set;
        int64_t until_ns;
};

/* true: kept (not pruned). */
static bool prune_keeps(const struct json *doc, void *arg)
{
        const struct prune_filter *f = arg;
        if (api_prune_labels_keep(&f->labels, json_get(doc, "Labels")))
                return true;
        if (f->until_set) {
                int64_t ns = 0;
                (void)units_parse_rfc3339(json_str(json_get(doc, "Created")), &ns);
                if (ns >= f->until_ns)
                        return true;
        }
        return false;
}

static void prune_worker(struct api_stream *s, void *userdata)
{
        struct berth_engine *e = userdata;
        struct api_request *req = api_stream_request(s);
        _cleanup_json_ struct json *filters = NULL;
        const char *fq = api_request_query(req, "filters");
        if (fq && *fq)
                (void)json_parse(fq, strlen(fq), &filters, NULL);
        struct prune_filter pf = {0};
        api_prune_labels_init(&pf.labels, req);
        _cleanup_strv_free_ char **until = api_filter_values(filters, "until");
        if (until[0]) {
                /* checked on the loop; read again against the same clock */
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                int64_t now_ns = (int64_t)now.tv_sec * UNITS_NSEC_PER_SEC + now.tv_nsec;
                pf.until_set = units_parse_timestamp(until[0], now_ns, &pf.until_ns, NULL) == 0;
        }
        _cleanup_error_ struct berth_error *err = NULL;
        struct json *deleted = NULL;
        int r = berth_network_prune(e, prune_keeps, &pf, &deleted, &err);
        api_prune_labels_release(&pf.labels);
        if (r < 0) {
                stream_error(s, r, err);
                return;
        }
        _cleanup_json_ struct json *out = json_new_object();
        json_object_set(out, "NetworksDeleted", json_len(deleted) ? deleted : json_new_null());
        if (!json_len(deleted))
                json_free(deleted);
        api_stream_reply_json(s, 200, out);
}

static void handle_prune(struct api_request *req, void *userdata)
{
        static const char *const allowed[] = {"label", "label!", "until", NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;
        bool until_set;
        int64_t until_ns;
        if (api_filter_until(req, filters, &until_set, &until_ns) < 0)
                return;
        api_defer(req, prune_worker, userdata);
}

void api_register_networks(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"GET", "/networks", handle_list, engine},
            {"POST", "/networks/create", handle_create, engine},
            {"POST", "/networks/prune", handle_prune, engine},
            {"GET", "/networks/{id}", handle_inspect, engine},
            {"DELETE", "/networks/{id}", handle_delete, engine},
            {"POST", "/networks/{id}/connect", handle_connect, engine},
            {"POST", "/networks/{id}/disconnect", handle_disconnect, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
