/*
 * test-http.c — the request parser berthd puts in front of every client:
 * complete and partial heads, framing (Content-Length, chunked, both),
 * connection semantics (keep-alive, close, Upgrade: tcp), the limits, the
 * malformed inputs that must be refused (and with which status), the chunked
 * decoder fed byte by byte, query and percent decoding, and response heads.
 */
#include <check.h>
#include <string.h>

#include "api/http.h"
#include "base/buf.h"

static const struct http_limits lim = {.max_head = 1024};

static int parse(const char *s, struct http_request *req, size_t *used, char **msg)
{
        struct berth_error *err = NULL;
        int r = http_parse_request(s, strlen(s), &lim, req, used, &err);
        if (msg)
                *msg = err ? xstrdup(err->msg) : NULL;
        berth_error_free(err);
        return r;
}

START_TEST(test_simple_get)
{
        struct http_request req;
        size_t used = 0;
        const char *s = "GET /v1.41/info?a=1&b=x%20y HTTP/1.1\r\nHost: api.moby.localhost\r\n"
                        "User-Agent:  Docker-Client/28.2.2 (linux)  \r\n\r\nNEXT";
        ck_assert_int_eq(parse(s, &req, &used, NULL), 1);
        ck_assert_uint_eq(used, strlen(s) - 4);
        ck_assert_str_eq(req.method, "GET");
        ck_assert_str_eq(req.target, "/v1.41/info?a=1&b=x%20y");
        ck_assert_str_eq(req.path, "/v1.41/info");
        ck_assert_str_eq(req.query, "a=1&b=x%20y");
        ck_assert_int_eq(req.version_minor, 1);
        ck_assert_uint_eq(req.n_headers, 2);
        ck_assert_str_eq(http_request_header(&req, "user-agent"), "Docker-Client/28.2.2 (linux)");
        ck_assert_int_eq(req.body_kind, HTTP_BODY_NONE);
        ck_assert(req.keep_alive);
        ck_assert(!req.upgrade_tcp);
        http_request_release(&req);
}
END_TEST

START_TEST(test_incomplete_needs_more)
{
        const char *full = "POST /containers/create HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        size_t head = strlen(full) - 2;
        for (size_t n = 0; n < head; n++) {
                struct http_request req;
                size_t used = 0;
                struct berth_error *err = NULL;
                ck_assert_int_eq(http_parse_request(full, n, &lim, &req, &used, &err), 0);
                ck_assert_ptr_null(err);
        }
        struct http_request req;
        size_t used = 0;
        ck_assert_int_eq(http_parse_request(full, head, &lim, &req, &used, NULL), 1);
        ck_assert_uint_eq(used, head);
        ck_assert_int_eq(req.body_kind, HTTP_BODY_LENGTH);
        ck_assert_uint_eq(req.content_length, 2);
        http_request_release(&req);
}
END_TEST

START_TEST(test_bare_lf_and_leading_crlf)
{
        struct http_request req;
        size_t used;
        const char *s = "\r\nGET /_ping HTTP/1.0\nConnection: keep-alive\n\n";
        ck_assert_int_eq(parse(s, &req, &used, NULL), 1);
        ck_assert_uint_eq(used, strlen(s));
        ck_assert_int_eq(req.version_minor, 0);
        ck_assert(req.keep_alive);
        http_request_release(&req);

        ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n", &req, &used, NULL), 1);
        ck_assert(!req.keep_alive); /* HTTP/1.0 closes by default */
        http_request_release(&req);
}
END_TEST

START_TEST(test_connection_and_upgrade)
{
        struct http_request req;
        size_t used;
        ck_assert_int_eq(parse("POST /containers/x/attach?stream=1 HTTP/1.1\r\nConnection: "
                               "Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
                               &req, &used, NULL),
                         1);
        ck_assert(req.upgrade_tcp);
        ck_assert_int_eq(req.body_kind, HTTP_BODY_NONE);
        http_request_release(&req);

        ck_assert_int_eq(
            parse("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n", &req, &used, NULL), 1);
        ck_assert(!req.keep_alive);
        http_request_release(&req);

        /* Upgrade without the Connection token is not an upgrade. */
        ck_assert_int_eq(parse("GET / HTTP/1.1\r\nUpgrade: tcp\r\n\r\n", &req, &used, NULL), 1);
        ck_assert(!req.upgrade_tcp);
        http_request_release(&req);
}
END_TEST

START_TEST(test_framing)
{
        struct http_request req;
        size_t used;
        char *msg = NULL;
        ck_assert_int_eq(parse("POST /build HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                               "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n",
                               &req, &used, NULL),
                         1);
        ck_assert_int_eq(req.body_kind, HTTP_BODY_CHUNKED);
        ck_assert(req.expect_continue);
        http_request_release(&req);

        ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
                               &req, &used, NULL),
                         1);
        ck_assert_uint_eq(req.content_length, 3);
        http_request_release(&req);

        ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                               &req, &used, &msg),
                         -EBADMSG);
        ck_assert_str_eq(msg, "conflicting Content-Length headers");
        free(msg);
        ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &req, &used, &msg),
                         -EBADMSG);
        ck_assert_str_eq(msg, "bad Content-Length '-1'");
        free(msg);
        ck_assert_int_eq(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                               &req, &used, NULL),
                         -EBADMSG);
        int r = parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &req, &used, &msg);
        ck_assert_int_eq(r, -EOPNOTSUPP);
        ck_assert_int_eq(http_error_status(r), 501);
        ck_assert_str_eq(msg, "unsupported transfer encoding 'gzip'");
        free(msg);
        ck_assert_int_eq(
            parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &req, &used, NULL),
            -EBADMSG);
}
END_TEST

START_TEST(test_malformed)
{
        static const char *const bad[] = {
            "GARBAGE\r\n\r\n",
            "GET\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET noslash HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "GET / FTP/1.1\r\n\r\n",
            "G@T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
            "GET / HTTP/1.1\r\nName : value\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
            "GET /a\x7f HTTP/1.1\r\n\r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct http_request req;
                size_t used;
                int r = parse(bad[i], &req, &used, NULL);
                ck_assert_msg(r < 0, "accepted: %s", bad[i]);
                ck_assert_int_eq(http_error_status(r), 400);
        }
        struct http_request req;
        size_t used;
        /* NUL inside the head (strlen would stop there, so pass the length). */
        static const char nul[] = "GET / HTTP/1.1\r\nA: \0b\r\n\r\n";
        ck_assert_int_eq(http_parse_request(nul, sizeof(nul) - 1, &lim, &req, &used, NULL),
                         -EBADMSG);
        int r = parse("GET / HTTP/2.0\r\n\r\n", &req, &used, NULL);
        ck_assert_int_eq(http_error_status(r), 505);
}
END_TEST

START_TEST(test_limits)
{
        struct http_request req;
        size_t used;
        char *msg = NULL;
        /* No end of head within max_head bytes: 431, without waiting for more. */
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "GET / HTTP/1.1\r\nX-Big: ");
        for (int i = 0; i < 1100; i++)
                buf_putc(&b, 'a');
        int r = parse(b.data, &req, &used, &msg);
        ck_assert_int_eq(r, -EMSGSIZE);
        ck_assert_int_eq(http_error_status(r), 431);
        ck_assert_str_eq(msg, "request header too large");
        free(msg);
        buf_release(&b);

        /* Too many header fields. */
        buf_puts(&b, "GET / HTTP/1.1\r\n");
        for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
                buf_puts(&b, "A:b\r\n");
        buf_puts(&b, "\r\n");
        struct http_limits big = {.max_head = 65536};
        ck_assert_int_eq(http_parse_request(b.data, b.len, &big, &req, &used, NULL), -EMSGSIZE);
        buf_release(&b);
}
END_TEST

static char *dechunk(const char *in, size_t len, size_t step, int *ret, size_t *consumed)
{
        struct http_chunked c = {0};
        char *work = xmalloc(len + 1);
        memcpy(work, in, len);
        struct berth_buf out = BERTH_BUF_INIT;
        size_t off = 0;
        *ret = 0;
        while (off < len && !http_chunked_done(&c)) {
                size_t n = len - off < step ? len - off : step;
                size_t used = 0, produced = 0;
                struct berth_error *err = NULL;
                *ret = http_chunked_decode(&c, work + off, n, work + off, &used, &produced, &err);
                berth_error_free(err);
                buf_append(&out, work + off, produced);
                off += used;
                if (*ret < 0)
                        break;
                ck_assert(used == n || http_chunked_done(&c));
        }
        *consumed = off;
        free(work);
        if (!http_chunked_done(&c) && *ret == 0)
                *ret = 1; /* incomplete */
        return buf_steal(&out);
}

START_TEST(test_chunked)
{
        const char *body =
            "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        size_t len = strlen(body);
        for (size_t step = 1; step <= len; step++) {
                int r;
                size_t consumed;
                char *out = dechunk(body, len, step, &r, &consumed);
                ck_assert_int_eq(r, 0);
                ck_assert_str_eq(out, "hello 0123456789");
                ck_assert_uint_eq(consumed, len - 4);
                free(out);
        }
        static const char *const bad[] = {
            "x\r\n",
            "5\r\nhelloXX",
            "11111111111111111\r\n",
            "5\rX",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r;
                size_t consumed;
                free(dechunk(bad[i], strlen(bad[i]), 64, &r, &consumed));
                ck_assert_msg(r < 0, "accepted chunked '%s'", bad[i]);
        }
        /* Incomplete is not an error. */
        int r;
        size_t consumed;
        free(dechunk("5\r\nhel", 7, 64, &r, &consumed));
        ck_assert_int_eq(r, 1);
}
END_TEST

START_TEST(test_query_and_unescape)
{
        const char *q =
            "fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest&force&all=1&x=a+b&all=2";
        char *v = http_query_get(q, "fromImage");
        ck_assert_str_eq(v, "docker.io/library/busybox");
        free(v);
        v = http_query_get(q, "force");
        ck_assert_str_eq(v, "");
        free(v);
        v = http_query_get(q, "all");
        ck_assert_str_eq(v, "1");
        free(v);
        v = http_query_get(q, "x");
        ck_assert_str_eq(v, "a b");
        free(v);
        ck_assert_ptr_null(http_query_get(q, "missing"));
        ck_assert_ptr_null(http_query_get(NULL, "x"));

        ck_assert_ptr_null(http_unescape("%zz", 3, false));
        ck_assert_ptr_null(http_unescape("%2", 2, false));
        ck_assert_ptr_null(http_unescape("a%00", 4, false));
        v = http_unescape("/images/a%2Fb:1+2", 17, false);
        ck_assert_str_eq(v, "/images/a/b:1+2");
        free(v);

        struct berth_buf b = BERTH_BUF_INIT;
        http_escape_query(&b, "a/b c&d");
        ck_assert_str_eq(b.data, "a%2Fb%20c%26d");
        buf_release(&b);
}
END_TEST

START_TEST(test_versions)
{
        ck_assert_int_lt(api_version_compare("1.9", "1.24"), 0);
        ck_assert_int_gt(api_version_compare("1.41", "1.24"), 0);
        ck_assert_int_eq(api_version_compare("1.41", "1.41"), 0);
        ck_assert_int_gt(api_version_compare("2", "1.99"), 0);
        ck_assert_int_lt(api_version_compare("1", "1.24"), 0);
}
END_TEST

START_TEST(test_response_head)
{
        struct http_response resp;
        size_t used;
        const char *s =
            "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nTransfer-Encoding: chunked\r\n\r\n";
        ck_assert_int_eq(http_parse_response(s, strlen(s), &lim, "GET", &resp, &used, NULL), 1);
        ck_assert_int_eq(resp.status, 200);
        ck_assert_str_eq(resp.reason, "OK");
        ck_assert_str_eq(http_response_header(&resp, "api-version"), "1.41");
        ck_assert_int_eq(resp.body_kind, HTTP_BODY_CHUNKED);
        ck_assert(resp.keep_alive);
        http_response_release(&resp);

        s = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        ck_assert_int_eq(http_parse_response(s, strlen(s), &lim, "HEAD", &resp, &used, NULL), 1);
        ck_assert_int_eq(resp.body_kind, HTTP_BODY_NONE); /* HEAD: no body whatever the length */
        http_response_release(&resp);

        s = "HTTP/1.0 200 OK\r\n\r\n";
        ck_assert_int_eq(http_parse_response(s, strlen(s), &lim, "GET", &resp, &used, NULL), 1);
        ck_assert(resp.until_close);
        ck_assert(!resp.keep_alive);
        http_response_release(&resp);

        s = "HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n";
        ck_assert_int_eq(http_parse_response(s, strlen(s), &lim, "POST", &resp, &used, NULL), 1);
        ck_assert_int_eq(resp.status, 101);
        ck_assert_int_eq(resp.body_kind, HTTP_BODY_NONE);
        http_response_release(&resp);

        ck_assert_int_eq(
            http_parse_response("HTTP/1.1 2x0 OK\r\n\r\n", 19, &lim, "GET", &resp, &used, NULL),
            -EBADMSG);
        ck_assert_int_eq(
            http_parse_response("HTTP/1.1 200 OK\r\n", 17, &lim, "GET", &resp, &used, NULL), 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("http");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_simple_get);
        tcase_add_test(tc, test_incomplete_needs_more);
        tcase_add_test(tc, test_bare_lf_and_leading_crlf);
        tcase_add_test(tc, test_connection_and_upgrade);
        tcase_add_test(tc, test_framing);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_limits);
        tcase_add_test(tc, test_chunked);
        tcase_add_test(tc, test_query_and_unescape);
        tcase_add_test(tc, test_versions);
        tcase_add_test(tc, test_response_head);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
