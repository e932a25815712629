/*
 * test-attach.c — the CLI side of hijacked container streams: docker's detach
 * key grammar and escape proxy, stdcopy demultiplexing fed in any pieces,
 * signal names as docker forwards them, the wait body, json.Indent of inspect
 * output, and a whole session over a socketpair standing in for the daemon
 * (stdin copied and half-closed at EOF, frames split to stdout/stderr).
 */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "cli/attach.h"
#include "cli/container-cmd.h"

START_TEST(test_detach_keys)
{
        struct attach_keys k;
        ck_assert_int_eq(attach_keys_parse("ctrl-p,ctrl-q", &k, NULL), 0);
        ck_assert_int_eq(k.n, 2);
        ck_assert_int_eq(k.keys[0], 16);
        ck_assert_int_eq(k.keys[1], 17);
        ck_assert_int_eq(attach_keys_parse("a,ctrl-@,ctrl-_,DEL,ctrl-[", &k, NULL), 0);
        ck_assert_int_eq(k.n, 5);
        ck_assert_int_eq(k.keys[0], 'a');
        ck_assert_int_eq(k.keys[1], 0);
        ck_assert_int_eq(k.keys[2], 31);
        ck_assert_int_eq(k.keys[3], 127);
        ck_assert_int_eq(k.keys[4], 27);
        struct berth_error *e = NULL;
        ck_assert_int_lt(attach_keys_parse("ctrl-P", &k, &e), 0); /* case matters, as in moby */
        ck_assert_str_eq(e->msg, "Unknown character: 'ctrl-P'");
        berth_error_freep(&e);
        ck_assert_int_lt(attach_keys_parse("x,,y", &k, &e), 0);
        ck_assert_str_eq(e->msg, "Unknown character: ''");
        berth_error_freep(&e);
        attach_keys_default(&k);
        ck_assert_int_eq(k.n, 2);
        ck_assert_int_eq(k.keys[0], 16);
}
END_TEST

static void filter(struct attach_escape *esc, const char *in, const char *want_out,
                   bool want_detached)
{
        struct berth_buf out = BERTH_BUF_INIT;
        buf_append(&out, "", 0);
        bool detached = false;
        attach_escape_filter(esc, in, strlen(in), &out, &detached);
        ck_assert_str_eq(out.data, want_out);
        ck_assert_int_eq(detached, want_detached);
        buf_release(&out);
}

START_TEST(test_escape_proxy)
{
        struct attach_escape esc = {0};
        attach_keys_default(&esc.k);
        filter(&esc, "ls\n", "ls\n", false);
        /* the keys in one read: what came before goes, the keys never */
        filter(&esc, "ab\x10\x11", "ab", true);
        /* split over reads: the partial sequence is held back */
        esc.pos = 0;
        filter(&esc, "x\x10", "x", false);
        filter(&esc, "\x11", "", true);
        /* not the sequence after all: the held-back key goes out with the byte */
        esc.pos = 0;
        filter(&esc, "\x10", "", false);
        filter(&esc, "y", "\x10y", false);
        /* moby/term does not retry a mismatching byte as a new start */
        esc.pos = 0;
        filter(&esc, "\x10\x10\x11", "\x10\x10\x11", false);
        /* custom keys */
        struct attach_escape e2 = {0};
        ck_assert_int_eq(attach_keys_parse("ctrl-a,d", &e2.k, NULL), 0);
        filter(&e2, "a\x01", "a", false);
        filter(&e2, "d", "", true);
}
END_TEST

struct sink {
        struct berth_buf out, err;
};

static int sink_write(int stream, const char *data, size_t len, void *userdata)
{
        struct sink *s = userdata;
        buf_append(stream == 2 ? &s->err : &s->out, data, len);
        return 0;
}

static void frame(struct berth_buf *b, int stream, const char *payload)
{
        size_t n = strlen(payload);
        char h[8] = {(char)stream,   0,      0, 0, (char)(n >> 24), (char)(n >> 16),
                     (char)(n >> 8), (char)n};
        buf_append(b, h, 8);
        buf_append(b, payload, n);
}

START_TEST(test_stdcopy)
{
        struct berth_buf in = BERTH_BUF_INIT;
        frame(&in, 1, "out\n");
        frame(&in, 2, "err\n");
        frame(&in, 0, "stdin-echo\n");
        frame(&in, 1, "");
        frame(&in, 1, "tail");
        /* every way of cutting the input gives the same result */
        for (size_t piece = 1; piece <= in.len; piece++) {
                struct stdcopy sc = {0};
                struct sink s = {BERTH_BUF_INIT, BERTH_BUF_INIT};
                buf_append(&s.out, "", 0);
                buf_append(&s.err, "", 0);
                for (size_t off = 0; off < in.len; off += piece) {
                        size_t n = in.len - off < piece ? in.len - off : piece;
                        ck_assert_int_eq(stdcopy_feed(&sc, in.data + off, n, sink_write, &s, NULL),
                                         0);
                }
                ck_assert_str_eq(s.out.data, "out\nstdin-echo\ntail");
                ck_assert_str_eq(s.err.data, "err\n");
                stdcopy_release(&sc);
                buf_release(&s.out);
                buf_release(&s.err);
        }
        buf_release(&in);

        /* a frame cut short is not written (StdCopy drops it at EOF) */
        struct stdcopy sc = {0};
        struct sink s = {BERTH_BUF_INIT, BERTH_BUF_INIT};
        buf_append(&s.out, "", 0);
        struct berth_buf part = BERTH_BUF_INIT;
        frame(&part, 1, "whole");
        ck_assert_int_eq(stdcopy_feed(&sc, part.data, part.len - 1, sink_write, &s, NULL), 0);
        ck_assert_str_eq(s.out.data, "");
        stdcopy_release(&sc);
        buf_release(&part);

        struct berth_error *e = NULL;
        struct berth_buf bad = BERTH_BUF_INIT;
        frame(&bad, 3, "boom");
        ck_assert_int_lt(stdcopy_feed(&sc, bad.data, bad.len, sink_write, &s, &e), 0);
        ck_assert_str_eq(e->msg, "error from daemon in stream: boom");
        berth_error_freep(&e);
        stdcopy_release(&sc);
        bad.len = 0;
        frame(&bad, 7, "x");
        ck_assert_int_lt(stdcopy_feed(&sc, bad.data, bad.len, sink_write, &s, &e), 0);
        ck_assert_str_eq(e->msg, "Unrecognized input header: 7");
        berth_error_freep(&e);
        stdcopy_release(&sc);
        buf_release(&bad);
        buf_release(&s.out);
        buf_release(&s.err);
}
END_TEST

START_TEST(test_signal_names_and_wait)
{
        ck_assert_str_eq(attach_signal_name(SIGINT), "INT");
        ck_assert_str_eq(attach_signal_name(SIGWINCH), "WINCH");
        ck_assert_str_eq(attach_signal_name(SIGUSR1), "USR1");
        ck_assert_str_eq(attach_signal_name(34), "RTMIN");
        ck_assert_str_eq(attach_signal_name(35), "RTMIN+1");
        ck_assert_str_eq(attach_signal_name(64), "RTMAX");
        ck_assert_str_eq(attach_signal_name(63), "RTMAX-1");
        /* never forwarded */
        ck_assert_ptr_null(attach_signal_name(SIGKILL));
        ck_assert_ptr_null(attach_signal_name(SIGSTOP));
        ck_assert_ptr_null(attach_signal_name(SIGCHLD));
        ck_assert_ptr_null(attach_signal_name(SIGPIPE));
        ck_assert_ptr_null(attach_signal_name(SIGURG));

        int status;
        char *err = NULL;
        const char ok[] = "{\"Error\":null,\"StatusCode\":3}\n";
        attach_wait_parse(ok, strlen(ok), &status, &err);
        ck_assert_int_eq(status, 3);
        ck_assert_ptr_null(err);
        const char bad[] = "{\"Error\":{\"Message\":\"context canceled\"},\"StatusCode\":-1}";
        attach_wait_parse(bad, strlen(bad), &status, &err);
        ck_assert_int_eq(status, 125);
        ck_assert_str_eq(err, "context canceled");
        free(err);
}
END_TEST

START_TEST(test_json_indent)
{
        const char raw[] = "{\"Id\":\"x\",\"Args\":[],\"State\":{\"Running\":true,\"Pid\":3},"
                           "\"Env\":[\"A=1\",\"B=\\\"q\\\" , :\"],\"Labels\":{}}\n";
        struct berth_buf b = BERTH_BUF_INIT;
        buf_putc(&b, '[');
        buf_append(&b, raw, strlen(raw));
        buf_putc(&b, ']');
        struct berth_buf out = BERTH_BUF_INIT;
        container_json_indent(&out, b.data, b.len);
        buf_putc(&out, '\0');
        ck_assert_str_eq(out.data, "[\n"
                                   "    {\n"
                                   "        \"Id\": \"x\",\n"
                                   "        \"Args\": [],\n"
                                   "        \"State\": {\n"
                                   "            \"Running\": true,\n"
                                   "            \"Pid\": 3\n"
                                   "        },\n"
                                   "        \"Env\": [\n"
                                   "            \"A=1\",\n"
                                   "            \"B=\\\"q\\\" , :\"\n"
                                   "        ],\n"
                                   "        \"Labels\": {}\n"
                                   "    }\n"
                                   "]");
        buf_release(&b);
        buf_release(&out);
}
END_TEST

/* A session against a socketpair playing the daemon: stdin from a pipe. */
START_TEST(test_session_non_tty)
{
        int sv[2], in[2], out[2], err[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
        ck_assert_int_eq(write_all(in[1], "typed\n", 6), 0);
        close(in[1]);
        /* the daemon's side: everything the frames say, then the client's stdin echoed after
         * its half-close */
        struct berth_buf frames = BERTH_BUF_INIT;
        frame(&frames, 1, "hello\n");
        frame(&frames, 2, "oops\n");
        ck_assert_int_eq(write_all(sv[1], frames.data, frames.len), 0);
        buf_release(&frames);

        struct attach_session s;
        attach_session_init(&s);
        s.conn = sv[0];
        s.in_fd = in[0];
        s.out_fd = out[1];
        s.err_fd = err[1];
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* the "daemon": read stdin until the half-close, answer it, close */
                close(sv[0]);
                char buf[64];
                size_t got = 0;
                ssize_t n;
                while ((n = read(sv[1], buf + got, sizeof(buf) - got)) > 0)
                        got += (size_t)n;
                struct berth_buf f = BERTH_BUF_INIT;
                buf_append(&f, "\1\0\0\0\0\0\0", 7);
                buf_putc(&f, (char)got);
                buf_append(&f, buf, got);
                (void)write_all(sv[1], f.data, f.len);
                _exit(0);
        }
        close(sv[1]);
        struct berth_error *e = NULL;
        ck_assert_int_eq(attach_session_run(&s, &e), 0);
        s.conn = -EBADF;
        close(sv[0]);
        attach_session_release(&s);
        close(out[1]);
        close(err[1]);
        char *o = NULL, *x = NULL;
        size_t ol = 0, xl = 0;
        ck_assert_int_eq(read_full_fd(out[0], 1 << 20, &o, &ol), 0);
        ck_assert_int_eq(read_full_fd(err[0], 1 << 20, &x, &xl), 0);
        ck_assert_str_eq(o, "hello\ntyped\n");
        ck_assert_str_eq(x, "oops\n");
        free(o);
        free(x);
        close(in[0]);
        close(out[0]);
        close(err[0]);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("attach");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_detach_keys);
        tcase_add_test(tc, test_escape_proxy);
        tcase_add_test(tc, test_stdcopy);
        tcase_add_test(tc, test_signal_names_and_wait);
        tcase_add_test(tc, test_json_indent);
        tcase_add_test(tc, test_session_non_tty);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
