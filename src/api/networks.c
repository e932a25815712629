/*
 * networks.c — /networks.  For now only POST /networks/prune, answering what a
 * daemon with no user-defined networks truthfully answers: nothing deleted,
 * {"NetworksDeleted":null}, as dockerd does when it has nothing to prune.
 * `docker system prune` calls it, so it must exist and check its filters as
 * dockerd's NetworksPrune does (label, label!, until; a bad until is dockerd's
 * 500 with its words).
 *
 * The networking issue replaces this body with the real prune (src/net and
 * engine/network*.c) and adds the rest of /networks here.
 *
 * Never: report a network as deleted that was not.
 */
#include "filters.h"
#include "handlers.h"

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
        _cleanup_json_ struct json *out = json_new_object();
        json_object_set(out, "NetworksDeleted", json_new_null());
        api_reply_json(req, 200, out);
}

void api_register_networks(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/networks/prune", handle_prune, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
