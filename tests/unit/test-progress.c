/*
 * test-progress.c — pull/push progress must render as docker's CLI renders
 * it: bars redrawn in place on a terminal, plain lines otherwise, the
 * daemon's error message ending the stream, whatever pieces the stream
 * arrives in.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/units.h"
#include "cli/progress.h"

#define SEC 1000000000LL

static int64_t fixed_now(void)
{
        return 1700000010LL * SEC;
}

struct result {
        char *out;
        char *err; /* NULL: no error */
};

static struct result render(const char *stream, bool tty, int width, size_t chunk)
{
        struct progress *p = progress_new(tty, width);
        progress_set_clock(p, fixed_now);
        struct berth_buf out = BERTH_BUF_INIT;
        struct berth_error *err = NULL;
        size_t len = strlen(stream);
        int r = 0;
        for (size_t i = 0; i < len && r >= 0; i += chunk)
                r = progress_feed(p, stream + i, len - i < chunk ? len - i : chunk, &out, &err);
        if (r >= 0)
                r = progress_finish(p, &out, &err);
        progress_free(p);
        buf_append(&out, "", 0);
        struct result res = {buf_steal(&out), r < 0 ? xstrdup(err->msg) : NULL};
        berth_error_free(err);
        return res;
}

static void result_free(struct result *r)
{
        free(r->out);
        free(r->err);
}

static const char *PULL =
    "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n"
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"aaa\"}\r\n"
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bbb\"}\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1000,\"total\":4000},"
    "\"progress\":\"[===>  ]\",\"id\":\"aaa\"}\r\n"
    "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"bbb\"}\r\n"
    "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"aaa\"}\r\n"
    "{\"status\":\"Digest: sha256:0123\"}\r\n"
    "{\"status\":\"Status: Downloaded newer image for busybox:latest\"}\r\n";

START_TEST(test_plain)
{
        for (size_t chunk = 1; chunk < 200; chunk += 37) {
                struct result r = render(PULL, false, 0, chunk);
                ck_assert_ptr_null(r.err);
                ck_assert_str_eq(r.out, "latest: Pulling from library/busybox\n"
                                        "aaa: Pulling fs layer\n"
                                        "bbb: Pulling fs layer\n"
                                        "bbb: Download complete\n"
                                        "aaa: Pull complete\n"
                                        "Digest: sha256:0123\n"
                                        "Status: Downloaded newer image for busybox:latest\n");
                result_free(&r);
        }
}
END_TEST

START_TEST(test_terminal)
{
        struct result r = render(PULL, true, 80, 5);
        ck_assert_ptr_null(r.err);
        ck_assert_str_eq(r.out, "latest: Pulling from library/busybox\n"
                                "\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B"
                                "\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B"
                                "\x1b[2A\x1b[2K\raaa: Downloading      1kB/4kB\r\x1b[2B"
                                "\x1b[1A\x1b[2K\rbbb: Download complete \r\x1b[1B"
                                "\x1b[2A\x1b[2K\raaa: Pull complete \r\x1b[2B"
                                "Digest: sha256:0123\n"
                                "Status: Downloaded newer image for busybox:latest\n");
        result_free(&r);
}
END_TEST

static char *bar(int64_t cur, int64_t total, int64_t start, bool hide, const char *units, int width)
{
        struct berth_buf b = BERTH_BUF_INIT;
        progress_bar(&b, cur, total, start, hide, units, width, fixed_now());
        buf_append(&b, "", 0);
        return buf_steal(&b);
}

#define BAR_EQ(want, ...)                                                                          \
        do {                                                                                       \
                char *s_ = bar(__VA_ARGS__);                                                       \
                ck_assert_str_eq(s_, (want));                                                      \
                free(s_);                                                                          \
        } while (0)

START_TEST(test_bar)
{
        BAR_EQ("[=========================>                         ]   12.3MB/24.6MB", 12300000,
               24600000, 0, false, "", 120);
        BAR_EQ("  12.3MB/24.6MB", 12300000, 24600000, 0, false, "", 110);
        BAR_EQ("[==================================================>]  1.234kB/1.234kB", 1234, 1234,
               0, false, "", 200);
        /* ETA: 50 MB in 10 s, 50 MB to go */
        BAR_EQ("[=========================>                         ]     50MB/100MB 10s", 50000000,
               100000000, 1700000000, false, "", 120);
        BAR_EQ("    50MB/100MB", 50000000, 100000000, 1700000000, false, "", 50);
        BAR_EQ("   1.5kB", 1500, 0, 0, false, "", 120);
        BAR_EQ("     2kB", 2000, 1000, 0, false, "", 80);
        BAR_EQ("7/9 items", 7, 9, 0, false, "items", 80);
        BAR_EQ("77 items", 77, 0, 0, false, "items", 80);
        BAR_EQ("[=====>                                             ] ", 1, 9, 0, true, "", 120);
        BAR_EQ("", 0, 0, 0, false, "", 120);
}
END_TEST

START_TEST(test_errors)
{
        struct result r = render(
            "{\"status\":\"Pulling from x\",\"id\":\"v1\"}\n"
            "{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest unknown\"}\n"
            "{\"status\":\"never shown\"}\n",
            false, 0, 3);
        ck_assert_str_eq(r.out, "v1: Pulling from x\n");
        ck_assert_str_eq(r.err, "manifest unknown");
        result_free(&r);
        r = render("{\"error\":\"only error\"}", false, 0, 100);
        ck_assert_str_eq(r.err, "only error");
        result_free(&r);
        r = render("{\"status\":\"a\"}\n{\"status\":", false, 0, 100);
        ck_assert_str_eq(r.out, "a\n");
        ck_assert_str_eq(r.err, "unexpected EOF");
        result_free(&r);
        r = render("garbage", false, 0, 100);
        ck_assert_str_eq(r.err, "invalid character 'g' looking for beginning of value");
        result_free(&r);
}
END_TEST

static int aux_calls;
static void on_aux(const struct json *aux, void *data)
{
        ck_assert_str_eq(json_str(json_get(aux, "ID")), "sha256:abc");
        ck_assert_ptr_eq(data, &aux_calls);
        aux_calls++;
}

START_TEST(test_aux_stream_and_time)
{
        setenv("TZ", "UTC", 1);
        tzset();
        struct progress *p = progress_new(false, 0);
        progress_set_aux(p, on_aux, &aux_calls);
        struct berth_buf out = BERTH_BUF_INIT;
        struct berth_error *err = NULL;
        const char *s = "{\"aux\":{\"ID\":\"sha256:abc\"}}{\"stream\":\"Step 1/2 : FROM x\\n\"}"
                        "{\"status\":\"tick\",\"time\":1700000000,\"id\":\"i\",\"from\":\"img\"}";
        ck_assert_int_eq(progress_feed(p, s, strlen(s), &out, &err), 0);
        ck_assert_int_eq(progress_finish(p, &out, &err), 0);
        ck_assert_int_eq(aux_calls, 1);
        ck_assert_str_eq(out.data, "Step 1/2 : FROM x\n"
                                   "2023-11-14T22:13:20.000000000Z i: (from img) tick\n");
        buf_release(&out);
        progress_free(p);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("progress");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_plain);
        tcase_add_test(tc, test_terminal);
        tcase_add_test(tc, test_bar);
        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_aux_stream_and_time);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
