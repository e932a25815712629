/*
 * test-events.c — the daemon's event log: events come out in order with
 * dockerd's fields, `since` replays what the ring still holds, the ring keeps
 * only the newest BERTH_EVENTS_KEEP, a waiter wakes for a publish from
 * another thread or times out empty, and closing the log ends every waiter.
 */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/events.h"

static void publish(struct berth_events *ev, const char *action, const char *id)
{
        const char *attrs[] = {"name", "busybox:latest", NULL};
        berth_events_publish(ev, "image", action, id, attrs);
}

START_TEST(test_fields_and_order)
{
        struct berth_events *ev = berth_events_new();
        uint64_t cursor = berth_events_cursor(ev, 0);
        publish(ev, "tag", "sha256:aa");
        publish(ev, "untag", "sha256:aa");
        struct json *batch = NULL;
        ck_assert_int_eq(berth_events_wait(ev, &cursor, 1000, &batch), 0);
        ck_assert_uint_eq(json_len(batch), 2);
        const struct json *e = batch->arr.items[0];
        ck_assert_str_eq(json_str(json_get(e, "status")), "tag");
        ck_assert_str_eq(json_str(json_get(e, "id")), "sha256:aa");
        ck_assert_str_eq(json_str(json_get(e, "Type")), "image");
        ck_assert_str_eq(json_str(json_get(e, "Action")), "tag");
        ck_assert_str_eq(json_str(json_get(e, "scope")), "local");
        const struct json *actor = json_get(e, "Actor");
        ck_assert_str_eq(json_str(json_get(actor, "ID")), "sha256:aa");
        ck_assert_str_eq(json_str(json_get(json_get(actor, "Attributes"), "name")),
                         "busybox:latest");
        const struct json *t = json_get(e, "time"), *tn = json_get(e, "timeNano");
        ck_assert_int_eq(t->num.i, tn->num.i / 1000000000);
        ck_assert_str_eq(json_str(json_get(batch->arr.items[1], "Action")), "untag");
        json_free(batch);

        /* Nothing new: an empty batch after the timeout. */
        ck_assert_int_eq(berth_events_wait(ev, &cursor, 50, &batch), 0);
        ck_assert_uint_eq(json_len(batch), 0);
        json_free(batch);
        berth_events_free(ev);
}
END_TEST

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

START_TEST(test_since_and_ring_limit)
{
        struct berth_events *ev = berth_events_new();
        publish(ev, "old", "sha256:00");
        usleep(2000);
        int64_t mark = now_ns();
        for (int i = 0; i < 3; i++)
                publish(ev, "new", "sha256:11");
        uint64_t cursor = berth_events_cursor(ev, mark);
        struct json *batch = NULL;
        ck_assert_int_eq(berth_events_wait(ev, &cursor, 10, &batch), 0);
        ck_assert_uint_eq(json_len(batch), 3);
        json_free(batch);

        for (int i = 0; i < BERTH_EVENTS_KEEP + 10; i++)
                publish(ev, "flood", "sha256:22");
        cursor = berth_events_cursor(ev, 1); /* everything still kept */
        ck_assert_int_eq(berth_events_wait(ev, &cursor, 10, &batch), 0);
        ck_assert_uint_eq(json_len(batch), BERTH_EVENTS_KEEP);
        json_free(batch);
        berth_events_free(ev);
}
END_TEST

static void *late_publisher(void *arg)
{
        usleep(100000);
        publish(arg, "tag", "sha256:33");
        return NULL;
}

static void *closer(void *arg)
{
        usleep(100000);
        berth_events_close(arg);
        return NULL;
}

START_TEST(test_wakeups)
{
        struct berth_events *ev = berth_events_new();
        uint64_t cursor = berth_events_cursor(ev, 0);
        pthread_t t;
        pthread_create(&t, NULL, late_publisher, ev);
        struct json *batch = NULL;
        ck_assert_int_eq(berth_events_wait(ev, &cursor, 5000, &batch), 0);
        ck_assert_uint_eq(json_len(batch), 1);
        json_free(batch);
        pthread_join(t, NULL);

        pthread_create(&t, NULL, closer, ev);
        int64_t start = now_ns();
        ck_assert_int_eq(berth_events_wait(ev, &cursor, 5000, &batch), -ESHUTDOWN);
        ck_assert_int_lt(now_ns() - start, 3000000000LL);
        pthread_join(t, NULL);
        berth_events_free(ev);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("events");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_fields_and_order);
        tcase_add_test(tc, test_since_and_ring_limit);
        tcase_add_test(tc, test_wakeups);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
