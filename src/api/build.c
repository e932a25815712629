/*
 * build.c — /build.  For now only POST /build/prune, answering what a daemon
 * with no build cache truthfully answers: {"CachesDeleted":null,
 * "SpaceReclaimed":0}, as dockerd's BuildKit does with an empty cache.
 * `docker system prune` and `docker builder prune` call it, so it checks its
 * query as dockerd 20.10 does (every failure prefixed "failed to prune build
 * cache: " except keep-storage's):
 *   - filters: BuildKit's cache fields (id, parent, type, description, inuse,
 *     shared, private), until and its old name unused-for (a Go duration,
 *     not both), label and label! (accepted, matched by nothing yet); one
 *     value each;
 *   - keep-storage: an integer.
 *
 * The build issue replaces this body with the real cache prune (src/build)
 * and adds POST /build here.
 *
 * Never: report cache as deleted, or space as reclaimed, that was not.
 */
#include <stdlib.h>
#include <string.h>

#include "base/units.h"
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
static int check_until(struct api_request *req, const struct json *filters)
{
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
        int64_t d;
        if (units_parse_go_duration(v[0], &d) < 0) {
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
        if (check_until(req, filters) < 0)
                return;
        if (!single_valued(filters)) {
                api_reply_error(req, 400, PRUNE_FAILED "filters expect only one value");
                return;
        }
        _cleanup_json_ struct json *out = json_new_object();
        json_object_set(out, "CachesDeleted", json_new_null());
        json_set_int(out, "SpaceReclaimed", 0);
        api_reply_json(req, 200, out);
}

void api_register_build(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/build/prune", handle_prune, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
