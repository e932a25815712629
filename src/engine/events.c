/*
 * events.c — a ring of the last events and a condition variable for waiters
 * (contract in events.h).
 *
 * Every event gets a sequence number; the ring holds the newest
 * BERTH_EVENTS_KEEP.  A waiter remembers the last sequence it saw and takes
 * copies of everything newer under the lock, so publishing never waits for a
 * subscriber's socket.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "events.h"

struct berth_events {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct json *ring[BERTH_EVENTS_KEEP];
        int64_t ring_time[BERTH_EVENTS_KEEP]; /* timeNano of each */
        uint64_t next_seq;                    /* sequence of the next event (first is 1) */
        bool closed;
};

struct berth_events *berth_events_new(void)
{
        struct berth_events *ev = xcalloc(1, sizeof(*ev));
        pthread_mutex_init(&ev->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&ev->cond, &ca);
        pthread_condattr_destroy(&ca);
        ev->next_seq = 1;
        return ev;
}

void berth_events_free(struct berth_events *ev)
{
        if (!ev)
                return;
        for (size_t i = 0; i < BERTH_EVENTS_KEEP; i++)
                json_free(ev->ring[i]);
        pthread_cond_destroy(&ev->cond);
        pthread_mutex_destroy(&ev->lock);
        free(ev);
}

void berth_events_publish(struct berth_events *ev, const char *type, const char *action,
                          const char *actor_id, const char *const *attrs)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t nano = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;

        struct json *e = json_new_object();
        /* The pre-1.22 fields dockerd still sends for containers and images. */
        json_set_str(e, "status", action);
        json_set_str(e, "id", actor_id);
        json_set_str(e, "Type", type);
        json_set_str(e, "Action", action);
        struct json *actor = json_object_set(e, "Actor", json_new_object());
        json_set_str(actor, "ID", actor_id);
        struct json *a = json_object_set(actor, "Attributes", json_new_object());
        for (size_t i = 0; attrs && attrs[i] && attrs[i + 1]; i += 2)
                json_set_str(a, attrs[i], attrs[i + 1]);
        json_set_str(e, "scope", "local");
        json_set_int(e, "time", (int64_t)ts.tv_sec);
        json_set_int(e, "timeNano", nano);

        pthread_mutex_lock(&ev->lock);
        size_t slot = ev->next_seq % BERTH_EVENTS_KEEP;
        json_free(ev->ring[slot]);
        ev->ring[slot] = e;
        ev->ring_time[slot] = nano;
        ev->next_seq++;
        pthread_cond_broadcast(&ev->cond);
        pthread_mutex_unlock(&ev->lock);
}

/* Oldest sequence still in the ring; under the lock. */
static uint64_t oldest(const struct berth_events *ev)
{
        return ev->next_seq > BERTH_EVENTS_KEEP ? ev->next_seq - BERTH_EVENTS_KEEP : 1;
}

uint64_t berth_events_cursor(struct berth_events *ev, int64_t since_ns)
{
        pthread_mutex_lock(&ev->lock);
        uint64_t cursor = ev->next_seq - 1;
        if (since_ns > 0)
                for (uint64_t s = oldest(ev); s < ev->next_seq; s++)
                        if (ev->ring_time[s % BERTH_EVENTS_KEEP] >= since_ns) {
                                cursor = s - 1;
                                break;
                        }
        pthread_mutex_unlock(&ev->lock);
        return cursor;
}

int berth_events_wait(struct berth_events *ev, uint64_t *cursor, int timeout_ms, struct json **ret)
{
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&ev->lock);
        while (!ev->closed && *cursor + 1 >= ev->next_seq) {
                if (pthread_cond_timedwait(&ev->cond, &ev->lock, &deadline) == ETIMEDOUT)
                        break;
        }
        if (ev->closed) {
                pthread_mutex_unlock(&ev->lock);
                return -ESHUTDOWN;
        }
        struct json *out = json_new_array();
        uint64_t from = *cursor + 1 < oldest(ev) ? oldest(ev) : *cursor + 1;
        for (uint64_t s = from; s < ev->next_seq; s++)
                json_array_append(out, json_copy(ev->ring[s % BERTH_EVENTS_KEEP]));
        *cursor = ev->next_seq - 1;
        pthread_mutex_unlock(&ev->lock);
        *ret = out;
        return 0;
}

void berth_events_close(struct berth_events *ev)
{
        pthread_mutex_lock(&ev->lock);
        ev->closed = true;
        pthread_cond_broadcast(&ev->cond);
        pthread_mutex_unlock(&ev->lock);
}
