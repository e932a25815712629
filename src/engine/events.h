/*
 * events.h — the daemon's event log: what `docker events` shows.
 *
 * Engine code publishes one event per action (image tag/untag/delete now;
 * containers, networks and volumes later) in dockerd's message shape:
 *   {"status":"tag","id":"sha256:…","Type":"image","Action":"tag",
 *    "Actor":{"ID":"sha256:…","Attributes":{"name":"busybox:latest"}},
 *    "scope":"local","time":1764324000,"timeNano":1764324000123456789}
 * The last BERTH_EVENTS_KEEP events stay in a ring for `since`; subscribers
 * (API workers streaming /events) block in berth_events_wait() until newer
 * events arrive, a timeout passes, or the log is closed at shutdown.
 *
 * Thread-safe: publishers run on the loop thread, waiters on workers.
 * Never: block a publisher on a slow subscriber (waiters copy what they need).
 */
#ifndef BERTH_ENGINE_EVENTS_H
#define BERTH_ENGINE_EVENTS_H

#include <stdint.h>

#include "base/error.h"
#include "base/json.h"

#define BERTH_EVENTS_KEEP 256 /* as dockerd keeps */

struct berth_events;

struct berth_events *berth_events_new(void);
void berth_events_free(struct berth_events *ev);

/* attrs: key, value, key, value, …, NULL. */
void berth_events_publish(struct berth_events *ev, const char *type, const char *action,
                          const char *actor_id, const char *const *attrs);

/* The cursor that yields every kept event at or after since_ns (0: only future events). */
uint64_t berth_events_cursor(struct berth_events *ev, int64_t since_ns);

/*
 * Events after *cursor (copies, oldest first, in a JSON array; may be empty
 * after timeout_ms), advancing *cursor.  -ESHUTDOWN once the log is closed.
 */
int berth_events_wait(struct berth_events *ev, uint64_t *cursor, int timeout_ms, struct json **ret);

/* Wake every waiter for good (daemon shutdown). */
void berth_events_close(struct berth_events *ev);

#endif
