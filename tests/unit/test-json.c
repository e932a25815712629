/*
 * test-json.c — the JSON parser must accept exactly RFC 8259, keep 64-bit
 * integers exact, and say where malformed input went wrong.
 */
#include <check.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"

static struct json *parse_ok(const char *s)
{
        struct berth_error *err = NULL;
        struct json *j = NULL;
        int r = json_parse(s, strlen(s), &j, &err);
        ck_assert_msg(r == 0, "parse '%s': %s", s, berth_error_msg(err));
        berth_error_free(err);
        return j;
}

static char *parse_fail(const char *s)
{
        struct berth_error *err = NULL;
        struct json *j = NULL;
        int r = json_parse(s, strlen(s), &j, &err);
        ck_assert_msg(r < 0, "'%s' should not parse", s);
        ck_assert_ptr_null(j);
        ck_assert_ptr_nonnull(err);
        char *m = xstrdup(err->msg);
        berth_error_free(err);
        return m;
}

START_TEST(test_roundtrip)
{
        const char *in =
            "{\"a\":[1,-2,3.5,true,false,null],\"b\":{\"c\":\"d\\n\\u00e9\"},\"e\":\"\"}";
        struct json *j = parse_ok(in);
        char *out = json_dump(j, JSON_DUMP_NO_ESCAPE_HTML);
        ck_assert_str_eq(
            out, "{\"a\":[1,-2,3.5,true,false,null],\"b\":{\"c\":\"d\\n\xc3\xa9\"},\"e\":\"\"}");
        free(out);
        json_free(j);
}
END_TEST

START_TEST(test_int64_exact)
{
        struct json *j =
            parse_ok("[9223372036854775807,-9223372036854775808,18446744073709551615,1e3]");
        ck_assert(j->arr.items[0]->num.flags & JSON_NUM_INT);
        ck_assert_int_eq(j->arr.items[0]->num.i, INT64_MAX);
        ck_assert_int_eq(j->arr.items[1]->num.i, INT64_MIN);
        ck_assert(!(j->arr.items[2]->num.flags & JSON_NUM_INT));
        ck_assert(j->arr.items[2]->num.u == UINT64_MAX);
        ck_assert(!(j->arr.items[3]->num.flags & (JSON_NUM_INT | JSON_NUM_UINT)));
        json_free(j);
}
END_TEST

START_TEST(test_errors_name_position)
{
        char *m = parse_fail("{\n  \"a\": 1,\n}");
        ck_assert_msg(strstr(m, "line 3 column 1") != NULL, "got: %s", m);
        free(m);
        m = parse_fail("[1, 2");
        ck_assert_msg(strstr(m, "unexpected end of input") != NULL, "got: %s", m);
        free(m);
        free(parse_fail("01"));
        free(parse_fail("\"\\x\""));
        free(parse_fail("nul"));
        free(parse_fail("[1] x"));
        free(parse_fail("\"a\tb\""));
        free(parse_fail(""));
}
END_TEST

START_TEST(test_depth_bounded)
{
        char s[2 * JSON_MAX_DEPTH + 10];
        size_t n = JSON_MAX_DEPTH + 2;
        memset(s, '[', n);
        memset(s + n, ']', n);
        s[2 * n] = '\0';
        char *m = parse_fail(s);
        ck_assert_msg(strstr(m, "nesting too deep") != NULL, "got: %s", m);
        free(m);
}
END_TEST

START_TEST(test_duplicate_key_last_wins)
{
        struct json *j = parse_ok("{\"k\":1,\"k\":2}");
        ck_assert_int_eq(json_len(j), 1);
        ck_assert_int_eq(json_get(j, "k")->num.i, 2);
        json_free(j);
}
END_TEST

START_TEST(test_surrogates_and_html_escape)
{
        struct json *j = parse_ok("\"\\ud83d\\ude00<&>\"");
        ck_assert_str_eq(json_str(j), "\xf0\x9f\x98\x80<&>");
        char *out = json_dump(j, 0);
        ck_assert_str_eq(out, "\"\xf0\x9f\x98\x80\\u003c\\u0026\\u003e\"");
        free(out);
        json_free(j);
}
END_TEST

/* Container output is arbitrary bytes: the quoted form is always valid JSON,
 * as Go's encoder makes it (invalid UTF-8 becomes U+FFFD; U+2028/9 escaped). */
START_TEST(test_quote_arbitrary_bytes)
{
        static const struct {
                const char *in;
                size_t len;
                const char *out;
        } cases[] = {
            {"ok\xc3\xa9", 4, "\"ok\xc3\xa9\""}, /* é stays */
            {"a\xff"
             "b",
             3, "\"a\\ufffdb\""},                             /* a stray byte */
            {"\xc3", 1, "\"\\ufffd\""},                       /* a cut sequence */
            {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},            /* overlong '/' */
            {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
            {"\xe2\x80\xa8", 3, "\"\\u2028\""},
            {"nul\0x", 5, "\"nul\\u0000x\""},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct berth_buf b = BERTH_BUF_INIT;
                json_quote(&b, cases[i].in, cases[i].len, 0);
                ck_assert_str_eq(b.data, cases[i].out);
                struct json *back = NULL;
                ck_assert_int_eq(json_parse(b.data, b.len, &back, NULL), 0);
                json_free(back);
                buf_release(&b);
        }
}
END_TEST

START_TEST(test_build_pretty)
{
        struct json *o = json_new_object();
        json_set_str(o, "ociVersion", "1.1.0");
        struct json *a = json_object_set(o, "args", json_new_array());
        json_array_append(a, json_new_string("sh"));
        json_object_set(o, "empty", json_new_array());
        char *out = json_dump(o, JSON_DUMP_PRETTY);
        ck_assert_str_eq(
            out,
            "{\n  \"ociVersion\": \"1.1.0\",\n  \"args\": [\n    \"sh\"\n  ],\n  \"empty\": []\n}");
        free(out);
        json_free(o);
}
END_TEST

START_TEST(test_foreach_any_names)
{
        struct json *arr = parse_ok("[1,2,3]");
        struct json *obj = parse_ok("{\"a\":1,\"b\":2}");
        size_t i;
        struct json *v;
        const char *k;
        int64_t sum = 0;
        json_array_foreach (arr, i, v)
                sum += v->num.i;
        json_object_foreach (obj, i, k, v)
                sum += v->num.i * (k[0] == 'b' ? 10 : 1);
        ck_assert_int_eq(sum, 6 + 21);
        json_free(arr);
        json_free(obj);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("json");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_roundtrip);
        tcase_add_test(tc, test_int64_exact);
        tcase_add_test(tc, test_errors_name_position);
        tcase_add_test(tc, test_depth_bounded);
        tcase_add_test(tc, test_duplicate_key_last_wins);
        tcase_add_test(tc, test_surrogates_and_html_escape);
        tcase_add_test(tc, test_quote_arbitrary_bytes);
        tcase_add_test(tc, test_build_pretty);
        tcase_add_test(tc, test_foreach_any_names);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
