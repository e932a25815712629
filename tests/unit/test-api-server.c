/*
 * test-api-server.c — the server paths no endpoint exercises yet but pulls,
 * waits, attach and exec will: a chunked response streamed from a worker
 * thread (and the connection coming back for the next keep-alive request), a
 * worker noticing that its client left, a hijacked connection that gets the
 * bytes the client sent right behind the request, route parameters (greedy
 * ones for image names), and a request body in chunks reaching the handler.
 */
#include <check.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "api/server.h"
#include "base/buf.h"

static char sock_path[108];
static atomic_int gone_seen;

static void *stream_worker(void *arg)
{
        struct api_stream *s = arg;
        struct api_request *req = api_stream_request(s);
        const char *n = api_request_query(req, "n");
        int count = n ? atoi(n) : 3;
        for (int i = 0; i < count; i++) {
                struct json *j = json_new_object();
                json_set_int(j, "i", i);
                json_set_str(j, "path", api_request_path(req));
                int r = api_stream_write_json(s, j);
                json_free(j);
                if (r < 0)
                        break;
        }
        api_stream_end(s);
        return NULL;
}

static void handle_stream(struct api_request *req, void *userdata)
{
        struct api_stream *s = api_stream_begin(req, 200, "application/json");
        ck_assert_int_eq(api_worker_spawn(stream_worker, s), 0);
}

static void *wait_worker(void *arg)
{
        struct api_stream *s = arg;
        for (int i = 0; i < 500 && !api_stream_client_gone(s); i++)
                usleep(10000);
        if (api_stream_client_gone(s))
                atomic_store(&gone_seen, 1);
        api_stream_end(s);
        return NULL;
}

static void handle_wait(struct api_request *req, void *userdata)
{
        struct api_stream *s = api_stream_begin(req, 200, "application/json");
        ck_assert_int_eq(api_worker_spawn(wait_worker, s), 0);
}

struct hijacked {
        int fd;
        char *pending;
        size_t len;
};

static void *echo_upper(void *arg)
{
        struct hijacked *h = arg;
        struct berth_buf b = BERTH_BUF_INIT;
        buf_append(&b, h->pending, h->len);
        char tmp[256];
        ssize_t n;
        while ((n = read(h->fd, tmp, sizeof(tmp))) > 0)
                buf_append(&b, tmp, (size_t)n);
        for (size_t i = 0; i < b.len; i++)
                b.data[i] = (char)toupper((unsigned char)b.data[i]);
        (void)!write(h->fd, b.data, b.len);
        buf_release(&b);
        close(h->fd);
        free(h->pending);
        free(h);
        return NULL;
}

static void handle_hijack(struct api_request *req, void *userdata)
{
        struct hijacked *h = xcalloc(1, sizeof(*h));
        ck_assert_int_eq(api_hijack(req, &h->fd, &h->pending, &h->len), 0);
        ck_assert_int_eq(api_worker_spawn(echo_upper, h), 0);
}

static void handle_image(struct api_request *req, void *userdata)
{
        size_t len;
        const char *body = api_request_body(req, &len);
        struct json *j = json_new_object();
        json_set_str(j, "name", api_request_param(req, "name"));
        json_set_str(j, "body", body);
        json_set_int(j, "version", api_request_version(req));
        json_set_bool(j, "force", api_request_query_bool(req, "force", false));
        api_reply_json(req, 200, j);
        json_free(j);
}

static struct api_server *srv;
static pthread_t loop;

static void *run_loop(void *arg)
{
        struct berth_error *err = NULL;
        ck_assert_int_eq(api_server_run(srv, &err), 0);
        return NULL;
}

static void setup(void)
{
        snprintf(sock_path, sizeof(sock_path), "/tmp/berth-test-api-%d.sock", (int)getpid());
        struct api_server_config cfg = {.server_header = "Berth/test", .read_timeout_sec = 2};
        struct berth_error *err = NULL;
        ck_assert_int_eq(api_server_new(&cfg, &srv, &err), 0);
        const struct api_route routes[] = {
            {"GET", "/stream/{what*}", handle_stream, NULL},
            {"GET", "/wait", handle_wait, NULL},
            {"POST", "/containers/{id}/attach", handle_hijack, NULL},
            {"POST", "/images/{name*}/tag", handle_image, NULL},
        };
        api_server_add_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
        ck_assert_int_eq(api_server_listen_unix(srv, sock_path, NULL, &err), 0);
        pthread_create(&loop, NULL, run_loop, NULL);
}

static void teardown(void)
{
        api_server_stop(srv);
        pthread_join(loop, NULL);
        api_server_free(srv);
        ck_assert_int_eq(access(sock_path, F_OK), -1); /* removed on shutdown */
}

static int dial(void)
{
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, sock_path);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        struct timeval tv = {.tv_sec = 10};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

/* Read until `until` appears (or EOF). */
static char *read_until(int fd, const char *until)
{
        struct berth_buf b = BERTH_BUF_INIT;
        char tmp[4096];
        while (!b.data || !strstr(b.data, until)) {
                ssize_t n = read(fd, tmp, sizeof(tmp));
                if (n <= 0)
                        break;
                buf_append(&b, tmp, (size_t)n);
        }
        return buf_steal(&b);
}

START_TEST(test_stream_from_worker_then_keep_alive)
{
        int fd = dial();
        const char *req = "GET /v1.41/stream/a/b:c?n=3 HTTP/1.1\r\nHost: x\r\n\r\n";
        ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        char *out = read_until(fd, "\r\n0\r\n\r\n");
        ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
        ck_assert_ptr_nonnull(strstr(out, "Transfer-Encoding: chunked\r\n"));
        ck_assert_ptr_nonnull(strstr(out, "Api-Version: 1.41\r\n"));
        const char *line = "{\"i\":2,\"path\":\"/stream/a/b:c\"}\n";
        char want[64];
        snprintf(want, sizeof(want), "%zx\r\n%s\r\n", strlen(line), line);
        ck_assert_ptr_nonnull(strstr(out, want));
        ck_assert_ptr_nonnull(strstr(out, "\r\n0\r\n\r\n"));
        free(out);

        /* The connection came back to the loop: a second request on it is answered. */
        const char *req2 =
            "POST /images/127.0.0.1:5000/x/y:v1/tag?force=False HTTP/1.1\r\n"
            "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        ck_assert_int_eq(write(fd, req2, strlen(req2)), (ssize_t)strlen(req2));
        out = read_until(fd, "}\n");
        ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
        ck_assert_ptr_nonnull(
            strstr(out, "{\"name\":\"127.0.0.1:5000/x/y:v1\",\"body\":\"abcde\",\"version\":141,"
                        "\"force\":false}\n"));
        free(out);
        close(fd);
}
END_TEST

START_TEST(test_worker_sees_client_gone)
{
        atomic_store(&gone_seen, 0);
        int fd = dial();
        const char *req = "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n";
        ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        char *out = read_until(fd, "\r\n\r\n"); /* headers arrive before any body */
        ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
        free(out);
        close(fd);
        for (int i = 0; i < 300 && !atomic_load(&gone_seen); i++)
                usleep(10000);
        ck_assert_int_eq(atomic_load(&gone_seen), 1);
}
END_TEST

START_TEST(test_hijack_gets_pending_bytes)
{
        int fd = dial();
        const char *req = "POST /v1.41/containers/abc/attach?stream=1 HTTP/1.1\r\nHost: \r\n"
                          "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello ";
        ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        ck_assert_int_eq(write(fd, "world", 5), 5);
        shutdown(fd, SHUT_WR); /* the CLI half-closes after sending stdin */
        char *out = read_until(fd, "HELLO WORLD");
        ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 101 UPGRADED\r\n"
                                          "Content-Type: application/vnd.docker.raw-stream\r\n"
                                          "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"));
        ck_assert_ptr_nonnull(strstr(out, "\r\n\r\nHELLO WORLD"));
        free(out);
        close(fd);
}
END_TEST

START_TEST(test_stalled_request_is_cut_idle_kept)
{
        int stalled = dial(), idle = dial();
        const char *half = "GET /stream/x HTTP/1.1\r\nHost: x\r\n";
        ck_assert_int_eq(write(stalled, half, strlen(half)), (ssize_t)strlen(half));
        /* Within a few sweeps the half-sent request's connection is closed... */
        char c;
        ck_assert_int_eq(read(stalled, &c, 1), 0);
        close(stalled);
        /* ...while the idle keep-alive connection still serves. */
        const char *req = "GET /stream/y?n=1 HTTP/1.1\r\nHost: x\r\n\r\n";
        ck_assert_int_eq(write(idle, req, strlen(req)), (ssize_t)strlen(req));
        char *out = read_until(idle, "\r\n0\r\n\r\n");
        ck_assert_ptr_nonnull(strstr(out, "HTTP/1.1 200 OK\r\n"));
        free(out);
        close(idle);
}
END_TEST

START_TEST(test_listen_refuses_a_live_socket)
{
        struct api_server *other = NULL;
        struct api_server_config cfg = {0};
        struct berth_error *err = NULL;
        ck_assert_int_eq(api_server_new(&cfg, &other, &err), 0);
        ck_assert_int_eq(api_server_listen_unix(other, sock_path, NULL, &err), -EADDRINUSE);
        ck_assert_ptr_nonnull(strstr(berth_error_msg(err), "another daemon is already listening"));
        berth_error_free(err);
        api_server_free(other);
        /* The first server still owns and serves the path. */
        int fd = dial();
        close(fd);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("api-server");
        TCase *tc = tcase_create("core");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_stream_from_worker_then_keep_alive);
        tcase_add_test(tc, test_worker_sees_client_gone);
        tcase_add_test(tc, test_hijack_gets_pending_bytes);
        tcase_add_test(tc, test_listen_refuses_a_live_socket);
        tcase_add_test(tc, test_stalled_request_is_cut_idle_kept);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
