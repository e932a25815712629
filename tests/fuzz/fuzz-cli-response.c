/*
 * fuzz-cli-response.c — libFuzzer target for what the berth CLI reads from
 * the daemon's socket (cli/client.c on api/http.c's response parser and
 * chunked decoder): the input is everything "the daemon" sends on one
 * connection, and the real client reads it through a socketpair as three
 * exchanges in a row — the version negotiation (HEAD /_ping), a buffered
 * request (GET /info) and a streamed one (POST /images/create) — so
 * keep-alive leftovers, HEAD and 1xx/204/304 bodies, Content-Length against
 * chunked and close-delimited bodies all meet the bytes.
 *
 * Invariants: every failure has a message; no exchange delivers more body
 * bytes than were sent; an error body turns into a message.  The client never
 * dials anything real: its socket path does not exist and auto-start is off.
 *
 * Seeds (corpus-cli-response/, made by make-seeds.py): dockerd's and berthd's
 * answers as the integration tests see them, and the malformed ones
 * tests/integration/test_daemon.py's fake daemon sends.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u << 10) /* fits a socket buffer, so no writer thread */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        setenv("BERTH_NO_AUTOSTART", "1", 1);
        return 0;
}

struct sink {
        size_t got, limit;
};

static int count(const char *data, size_t len, void *userdata)
{
        struct sink *s = userdata;
        s->got += len;
        if (s->got > s->limit)
                __builtin_trap(); /* more body than the daemon sent */
        return 0;
}

static void check_err(int r, struct berth_error *err)
{
        if (r < 0 && (!err || !err->msg || !*err->msg))
                __builtin_trap();
        berth_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
                __builtin_trap();
        int buf = 4 * FUZZ_MAX_INPUT;
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
        size_t off = 0;
        while (off < size) {
                ssize_t n = write(sv[1], data + off, size - off);
                if (n <= 0) { /* the socket buffer is smaller here: skip this input */
                        close(sv[0]);
                        close(sv[1]);
                        return 0;
                }
                off += (size_t)n;
        }
        /* the client reads with blocking calls */
        int fl = fcntl(sv[0], F_GETFL);
        fcntl(sv[0], F_SETFL, fl & ~O_NONBLOCK);
        shutdown(sv[1], SHUT_WR); /* the daemon has said all it will say */

        struct cli_client c;
        struct berth_error *err = NULL;
        if (cli_client_init(&c, "unix:///nonexistent/berth-fuzz.sock", &err) < 0)
                __builtin_trap();
        c.fd = sv[0];

        struct cli_response resp;
        int r = cli_client_request(&c, "GET", "/info", NULL, NULL, NULL, 0, &resp, &err);
        check_err(r, err);
        err = NULL;
        if (r == 0) {
                if (resp.len > size || (resp.body && strlen(resp.body) > resp.len))
                        __builtin_trap();
                if (resp.status >= 400) {
                        char *m = cli_error_message(&resp);
                        if (!m)
                                __builtin_trap();
                        free(m);
                }
                cli_response_release(&resp);
        }
        struct sink s = {0, size};
        int status = 0;
        r = cli_client_stream(&c, "POST", "/images/create", "fromImage=busybox&tag=latest", NULL,
                              NULL, 0, &status, count, &s, &err);
        check_err(r, err);
        cli_client_release(&c); /* closes sv[0] if still held */
        close(sv[1]);
        return 0;
}
