/*
 * events.c — GET /events: the daemon's event stream (`docker events`).
 *
 * The handler checks the query (since, until, filters on type, event and
 * image), then streams from a worker thread: the headers go out at once, then
 * one JSON object per line as engine/events.c hands them over.  The worker
 * wakes at least once a second to notice a client that left or an `until`
 * that passed, and ends when the event log closes at shutdown, so SIGTERM
 * does not wait for idle subscribers.
 *
 * Never: hold the event log's lock while writing to a socket (waits copy).
 */
#include <string.h>
#include <time.h>

#include "engine/events.h"
#include "engine/images.h"
#include "filters.h"
#include "handlers.h"

struct events_job {
        struct api_stream *stream;
        struct berth_events *events;
        uint64_t cursor;
        int64_t until_ns; /* 0: none */
        char **types, **actions, **images, **containers, **labels, **volumes;
};

static void job_free(struct events_job *j)
{
        strv_free(j->types);
        strv_free(j->actions);
        strv_free(j->images);
        strv_free(j->containers);
        strv_free(j->labels);
        strv_free(j->volumes);
        free(j);
}

/* "1764324000" or "1764324000.123456789" -> nanoseconds; -1 when malformed. */
static int64_t parse_timestamp(const char *s)
{
        int64_t sec = 0, frac = 0;
        int digits = 0;
        const char *p = s;
        if (!*p)
                return -1;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (sec > INT64_MAX / 10 / 1000000000)
                        return -1;
                sec = sec * 10 + (*p - '0');
        }
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (digits < 9)
                                frac = frac * 10 + (*p - '0'), digits++;
        if (*p)
                return -1;
        while (digits++ < 9)
                frac *= 10;
        return sec * 1000000000 + frac;
}

static bool in_list(char *const *list, const char *v)
{
        if (!list || !list[0])
                return true;
        for (size_t i = 0; v && list[i]; i++)
                if (strcmp(list[i], v) == 0)
                        return true;
        return false;
}

/* dockerd's event filter: exact, except that a filter naming health_status, exec_create or
 * exec_start (whose actions carry ": <detail>") matches any action it is a prefix of. */
static bool action_matches(char *const *list, const char *action)
{
        if (!list || !list[0])
                return true;
        bool fuzzy = false;
        for (size_t i = 0; list[i]; i++)
                fuzzy |= !strcmp(list[i], "health_status") || !strcmp(list[i], "exec_create") ||
                         !strcmp(list[i], "exec_start");
        for (size_t i = 0; action && list[i]; i++)
                if (strcmp(list[i], action) == 0 ||
                    (fuzzy && strncmp(action, list[i], strlen(list[i])) == 0))
                        return true;
        return false;
}

static bool matches(const struct events_job *j, const struct json *e)
{
        if (!in_list(j->types, json_str(json_get(e, "Type"))))
                return false;
        if (!action_matches(j->actions, json_str(json_get(e, "Action"))))
                return false;
        if (j->volumes && j->volumes[0]) {
                bool vol = strcmp(json_str(json_get(e, "Type")) ?: "", "volume") == 0;
                if (!vol || !in_list(j->volumes, json_str(json_get(json_get(e, "Actor"), "ID"))))
                        return false;
        }
        const struct json *actor = json_get(e, "Actor");
        const struct json *attrs = json_get(actor, "Attributes");
        bool is_container = strcmp(json_str(json_get(e, "Type")) ?: "", "container") == 0;
        if (j->containers && j->containers[0]) {
                /* dockerd: the container's id (or a prefix of it) or its name */
                const char *id = json_str(json_get(actor, "ID"));
                const char *name = json_str(json_get(attrs, "name"));
                bool hit = false;
                for (size_t i = 0; is_container && j->containers[i] && !hit; i++)
                        hit = (id && strncmp(id, j->containers[i], strlen(j->containers[i])) == 0 &&
                               j->containers[i][0]) ||
                              (name && strcmp(name, j->containers[i]) == 0);
                if (!hit)
                        return false;
        }
        for (size_t i = 0; j->labels && j->labels[i]; i++) {
                _cleanup_free_ char *k = xstrdup(j->labels[i]);
                char *eq = strchr(k, '=');
                if (eq)
                        *eq++ = '\0';
                const char *have = json_str(json_get(attrs, k));
                if (!have || (eq && strcmp(have, eq) != 0))
                        return false;
        }
        if (j->images && j->images[0]) {
                const char *id = json_str(json_get(actor, "ID"));
                /* an image event names the image; a container event has it as "image" */
                const char *name = json_str(json_get(attrs, is_container ? "image" : "name"));
                if (is_container)
                        id = NULL;
                bool hit = false;
                for (size_t i = 0; j->images[i] && !hit; i++) {
                        const char *want = j->images[i];
                        hit = (id && (strcmp(id, want) == 0 ||
                                      (strncmp(id, "sha256:", 7) == 0 &&
                                       strncmp(id + 7, want, strlen(want)) == 0))) ||
                              (name && strcmp(name, want) == 0);
                        if (!hit && name) {
                                _cleanup_free_ char *with_tag = xasprintf("%s:latest", want);
                                hit = strcmp(name, with_tag) == 0;
                        }
                }
                if (!hit)
                        return false;
        }
        return true;
}

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *events_worker(void *arg)
{
        struct events_job *j = arg;
        for (;;) {
                struct json *batch = NULL;
                if (berth_events_wait(j->events, &j->cursor, 1000, &batch) < 0)
                        break; /* shutdown */
                bool done = false;
                size_t i;
                struct json *e;
                json_array_foreach (batch, i, e) {
                        const struct json *t = json_get(e, "timeNano");
                        if (j->until_ns && json_is(t, JSON_NUMBER) && t->num.i > j->until_ns) {
                                done = true;
                                break;
                        }
                        if (matches(j, e) && api_stream_write_json(j->stream, e) < 0) {
                                done = true;
                                break;
                        }
                }
                json_free(batch);
                if (done || (j->until_ns && now_ns() > j->until_ns) ||
                    api_stream_client_gone(j->stream))
                        break;
        }
        api_stream_end(j->stream);
        job_free(j);
        return NULL;
}

static void handle_events(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        const char *since = api_request_query(req, "since");
        const char *until = api_request_query(req, "until");
        int64_t since_ns = 0, until_ns = 0;
        if (since && *since && (since_ns = parse_timestamp(since)) < 0) {
                api_reply_error(req, 400, "invalid timestamp for since: '%s'", since);
                return;
        }
        if (until && *until && (until_ns = parse_timestamp(until)) < 0) {
                api_reply_error(req, 400, "invalid timestamp for until: '%s'", until);
                return;
        }
        static const char *const allowed[] = {"type",  "event",  "image", "container",
                                              "label", "volume", NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;

        struct events_job *j = xcalloc(1, sizeof(*j));
        j->events = e->events;
        /* since=0 means from the start; no since means only what happens from now on. */
        j->cursor =
            berth_events_cursor(e->events, since && *since ? (since_ns > 0 ? since_ns : 1) : 0);
        j->until_ns = until_ns;
        j->types = api_filter_values(filters, "type");
        j->actions = api_filter_values(filters, "event");
        j->images = api_filter_values(filters, "image");
        j->containers = api_filter_values(filters, "container");
        j->labels = api_filter_values(filters, "label");
        j->volumes = api_filter_values(filters, "volume");
        j->stream = api_stream_begin(req, 200, "application/json");
        if (api_worker_spawn(events_worker, j) < 0) {
                api_stream_end(j->stream);
                job_free(j);
        }
}

void api_register_events(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"GET", "/events", handle_events, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
