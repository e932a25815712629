/*
 * test-units.c — sizes, durations and IDs as docker prints them (go-units),
 * and --memory style sizes parsed with go-units' rules and error words.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "base/units.h"

#define SEC UNITS_NSEC_PER_SEC

static char *fmt_size(double v, int prec)
{
        struct berth_buf b = BERTH_BUF_INIT;
        if (prec == 0)
                units_bytes_size(&b, v);
        else if (prec < 0)
                units_human_size(&b, v);
        else
                units_human_size_prec(&b, v, prec);
        return buf_steal(&b);
}

#define SIZE_EQ(v, prec, want)                                                                     \
        do {                                                                                       \
                char *s_ = fmt_size((v), (prec));                                                  \
                ck_assert_str_eq(s_, (want));                                                      \
                free(s_);                                                                          \
        } while (0)

START_TEST(test_sizes)
{
        SIZE_EQ(0, -1, "0B");
        SIZE_EQ(999, -1, "999B");
        SIZE_EQ(1000, -1, "1kB");
        SIZE_EQ(1234567, -1, "1.235MB");
        SIZE_EQ(1982392, 3, "1.98MB");
        SIZE_EQ(45600000, 3, "45.6MB");
        SIZE_EQ(252818488, 3, "253MB");
        SIZE_EQ(1200000000, 3, "1.2GB");
        SIZE_EQ(999999, 3, "1e+03kB"); /* as docker prints it */
        SIZE_EQ(1048576, 0, "1MiB");
        SIZE_EQ(1536, 0, "1.5KiB");
        SIZE_EQ(1e30, -1, "1e+06YB");
}
END_TEST

static char *dur(int64_t d, int go)
{
        struct berth_buf b = BERTH_BUF_INIT;
        if (go)
                units_go_duration(&b, d);
        else
                units_human_duration(&b, d);
        return buf_steal(&b);
}

#define DUR_EQ(d, go, want)                                                                        \
        do {                                                                                       \
                char *s_ = dur((d), (go));                                                         \
                ck_assert_str_eq(s_, (want));                                                      \
                free(s_);                                                                          \
        } while (0)

START_TEST(test_human_duration)
{
        DUR_EQ(0, 0, "Less than a second");
        DUR_EQ(-5 * SEC, 0, "Less than a second");
        DUR_EQ(SEC, 0, "1 second");
        DUR_EQ(59 * SEC, 0, "59 seconds");
        DUR_EQ(60 * SEC, 0, "About a minute");
        DUR_EQ(119 * SEC, 0, "About a minute");
        DUR_EQ(120 * SEC, 0, "2 minutes");
        DUR_EQ(60 * 60 * SEC, 0, "About an hour");
        DUR_EQ(89 * 60 * SEC, 0, "About an hour");
        DUR_EQ(90 * 60 * SEC, 0, "2 hours");
        DUR_EQ(47 * 3600 * SEC, 0, "47 hours");
        DUR_EQ(48 * 3600 * SEC, 0, "2 days");
        DUR_EQ(13 * 86400 * SEC, 0, "13 days");
        DUR_EQ(14 * 86400 * SEC, 0, "2 weeks");
        DUR_EQ(59 * 86400 * SEC, 0, "8 weeks");
        DUR_EQ(60 * 86400 * SEC, 0, "2 months");
        DUR_EQ(729 * 86400 * SEC, 0, "24 months");
        DUR_EQ(730 * 86400 * SEC, 0, "2 years");
        struct berth_buf b = BERTH_BUF_INIT;
        units_ago(&b, 1000, 1000 + 3 * 3600);
        ck_assert_str_eq(b.data, "3 hours ago");
        buf_release(&b);
}
END_TEST

START_TEST(test_go_duration)
{
        DUR_EQ(0, 1, "0s");
        DUR_EQ(SEC * 3 / 2, 1, "1.5s");
        DUR_EQ(90 * SEC, 1, "1m30s");
        DUR_EQ(3600 * SEC, 1, "1h0m0s");
        DUR_EQ(3661 * SEC, 1, "1h1m1s");
        DUR_EQ(1500000, 1, "1.5ms");
        DUR_EQ(2000, 1, "2\xc2\xb5s");
        DUR_EQ(-7 * SEC, 1, "-7s");
}
END_TEST

static void parse_ok(int (*fn)(const char *, int64_t *, struct berth_error **), const char *s,
                     int64_t want)
{
        int64_t v = -42;
        struct berth_error *err = NULL;
        int r = fn(s, &v, &err);
        ck_assert_msg(r == 0, "'%s': %s", s, berth_error_msg(err));
        ck_assert_msg(v == want, "'%s' = %lld, want %lld", s, (long long)v, (long long)want);
}

static void parse_fail(int (*fn)(const char *, int64_t *, struct berth_error **), const char *s,
                       const char *msg)
{
        int64_t v;
        struct berth_error *err = NULL;
        ck_assert_int_lt(fn(s, &v, &err), 0);
        ck_assert_str_eq(err->msg, msg);
        berth_error_free(err);
}

START_TEST(test_parse_sizes)
{
        parse_ok(units_ram_in_bytes, "512m", 536870912);
        parse_ok(units_ram_in_bytes, "1g", 1073741824);
        parse_ok(units_ram_in_bytes, "100k", 102400);
        parse_ok(units_ram_in_bytes, "32KB", 32768);
        parse_ok(units_ram_in_bytes, "32kib", 32768);
        parse_ok(units_ram_in_bytes, "1.5g", 1610612736);
        parse_ok(units_ram_in_bytes, "10", 10);
        parse_ok(units_ram_in_bytes, "10b", 10);
        parse_ok(units_ram_in_bytes, "10 mb", 10485760);
        parse_ok(units_from_human_size, "1kb", 1000);
        parse_ok(units_from_human_size, "1.5MB", 1500000);
        parse_fail(units_ram_in_bytes, "abc", "invalid size: 'abc'");
        parse_fail(units_ram_in_bytes, "10x", "invalid suffix: 'x'");
        parse_fail(units_ram_in_bytes, "1kbb", "invalid suffix: 'kbb'");
        parse_fail(units_ram_in_bytes, "5bytes", "invalid suffix: 'bytes'");
        parse_fail(units_ram_in_bytes, "-1", "invalid size: '-1'");
        parse_fail(units_ram_in_bytes, "1.2.3m",
                   "strconv.ParseFloat: parsing \"1.2.3\": invalid syntax");
}
END_TEST

/* Go writes year 1 (its zero time, an image without "created") as 0001. */
START_TEST(test_go_date_time)
{
        struct berth_buf b = BERTH_BUF_INIT;
        time_t t = (time_t)UNITS_GO_ZERO_TIME;
        struct tm tm;
        gmtime_r(&t, &tm);
        units_go_date_time(&b, &tm, ' ');
        ck_assert_str_eq(b.data, "0001-01-01 00:00:00");
        buf_release(&b);
        t = 1767323045;
        gmtime_r(&t, &tm);
        units_go_date_time(&b, &tm, 'T');
        ck_assert_str_eq(b.data, "2026-01-02T03:04:05");
        buf_release(&b);
}
END_TEST

START_TEST(test_truncate_id)
{
        char *s = units_truncate_id(
            "sha256:1dd75f815fbad5a1663e9f09f346b875ab8adc9425f5402dcc042fab41fb6920");
        ck_assert_str_eq(s, "1dd75f815fba");
        free(s);
        s = units_truncate_id("abc");
        ck_assert_str_eq(s, "abc");
        free(s);
}
END_TEST

START_TEST(test_parse_go_duration)
{
        static const struct {
                const char *in;
                int64_t ns;
        } ok[] = {
            {"1h", 3600000000000LL},
            {"10m", 600000000000LL},
            {"1.5h", 5400000000000LL},
            {"1h30m", 5400000000000LL},
            {"-2s", -2000000000LL},
            {"300ms", 300000000LL},
            {"0", 0},
            {"5us", 5000},
            {"7ns", 7},
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                int64_t v = -1;
                ck_assert_int_eq(units_parse_go_duration(ok[i].in, &v), 0);
                ck_assert_int_eq(v, ok[i].ns);
        }
        static const char *const bad[] = {"", "1", "h", "1x", "1h ", "1.2.3s", "abc", NULL};
        for (size_t i = 0; bad[i]; i++) {
                int64_t v;
                ck_assert_int_eq(units_parse_go_duration(bad[i], &v), -EINVAL);
        }
}
END_TEST

START_TEST(test_rfc3339)
{
        char out[48];
        /* 2026-12-07T10:41:11.54408261Z: Go drops the fraction's trailing zeros */
        int64_t t = 1796640071LL * SEC + 544082610;
        units_rfc3339_nano(t, false, out);
        ck_assert_str_eq(out, "2026-12-07T10:41:11.54408261Z");
        units_rfc3339_nano(t, true, out);
        ck_assert_str_eq(out, "2026-12-07T10:41:11.544082610Z");
        units_rfc3339_nano(1796640071LL * SEC, false, out);
        ck_assert_str_eq(out, "2026-12-07T10:41:11Z");
        units_rfc3339_nano(1796640071LL * SEC + 500000000, false, out);
        ck_assert_str_eq(out, "2026-12-07T10:41:11.5Z");

        int64_t ns = 0;
        ck_assert_int_eq(units_parse_rfc3339("2026-12-07T10:41:11.54408261Z", &ns), 0);
        ck_assert_int_eq(ns, t);
        ck_assert_int_eq(units_parse_rfc3339("2026-12-07T10:41:11.5Z", &ns), 0);
        ck_assert_int_eq(ns, 1796640071LL * SEC + 500000000);
        ck_assert_int_eq(units_parse_rfc3339("2026-12-07T12:41:11+02:00", &ns), 0);
        ck_assert_int_eq(ns, 1796640071LL * SEC);
        ck_assert_int_eq(units_parse_rfc3339("2026-12-07T10:41:11.1234567891Z", &ns), 0);
        ck_assert_int_eq(ns, 1796640071LL * SEC + 123456789);
        ck_assert_int_eq(units_parse_rfc3339("yesterday", &ns), -EINVAL);
        ck_assert_int_eq(units_parse_rfc3339(NULL, &ns), -EINVAL);
}
END_TEST

START_TEST(test_parse_timestamp)
{
        const int64_t now = 1700000000LL * UNITS_NSEC_PER_SEC + 600000000LL;
        static const struct {
                const char *in;
                int64_t ns;
        } ok[] = {
            {"10m", 1699999400LL * UNITS_NSEC_PER_SEC}, /* whole seconds, as docker's */
            {"0", 0},
            {"1700000000", 1700000000LL * UNITS_NSEC_PER_SEC},
            {"1700000000.5", 1700000000LL * UNITS_NSEC_PER_SEC + 500000000LL},
            {"2023-11-14T22:13:20Z", 1700000000LL * UNITS_NSEC_PER_SEC},
            {"2023-11-14T23:13:20+01:00", 1700000000LL * UNITS_NSEC_PER_SEC},
            {"2023-11-14T22:13:20.25Z", 1700000000LL * UNITS_NSEC_PER_SEC + 250000000LL},
        };
        setenv("TZ", "UTC", 1);
        tzset();
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                int64_t v = -1;
                ck_assert_msg(units_parse_timestamp(ok[i].in, now, &v, NULL) == 0, "%s", ok[i].in);
                ck_assert_int_eq(v, ok[i].ns);
        }
        int64_t v = -1;
        ck_assert_int_eq(units_parse_timestamp("2023-11-14", now, &v, NULL), 0);
        ck_assert_int_eq(v, 1699920000LL * UNITS_NSEC_PER_SEC); /* local midnight (TZ=UTC) */
        struct berth_error *err = NULL;
        ck_assert_int_eq(units_parse_timestamp("abc", now, &v, &err), -EINVAL);
        ck_assert_str_eq(berth_error_msg(err),
                         "failed to parse value as time or duration: \"abc\"");
        berth_error_free(err);
        err = NULL;
        ck_assert_int_eq(units_parse_timestamp("2020-13-01", now, &v, &err), -EINVAL);
        ck_assert_str_eq(berth_error_msg(err), "parsing time \"2020-13-01\": month out of range");
        berth_error_free(err);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("units");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_sizes);
        tcase_add_test(tc, test_human_duration);
        tcase_add_test(tc, test_go_duration);
        tcase_add_test(tc, test_parse_sizes);
        tcase_add_test(tc, test_truncate_id);
        tcase_add_test(tc, test_go_date_time);
        tcase_add_test(tc, test_parse_go_duration);
        tcase_add_test(tc, test_parse_timestamp);
        tcase_add_test(tc, test_rfc3339);
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
