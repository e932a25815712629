/*
 * client.h — the berth CLI's HTTP/1.1 client for the daemon's unix socket.
 *
 * Finding the daemon: -H/--host, else BERTH_HOST, else DOCKER_HOST, else the
 * default socket /run/berth/berth.sock.  Only the default may be auto-started:
 * when nothing answers there (and we are root, and BERTH_NO_AUTOSTART is not
 * set) the client starts berthd from the directory of the berth binary (or
 * $PATH) in the background, tells c->notify (the CLI prints it on stderr),
 * and waits until the socket answers.
 *
 * Version negotiation is docker's: the first request is HEAD /_ping (GET if
 * HEAD fails); the API version used is min(our maximum, the server's
 * Api-Version), 1.24 when the server sends none.  Every later request goes to
 * /v<version><path>.
 *
 * One keep-alive connection is reused for consecutive requests.  Bodies are
 * either buffered (cli_client_request) or handed to a callback as they arrive
 * (cli_client_stream: chunked decoding done here), for progress streams.
 *
 * Never: print or exit (the commands decide), follow anything but unix://.
 */
#ifndef BERTH_CLI_CLIENT_H
#define BERTH_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"

#define CLI_API_VERSION     "1.41"
#define CLI_API_MIN_DEFAULT "1.24"

struct cli_client {
        char *host;        /* "unix:///run/berth/berth.sock" as shown to users */
        char *socket_path; /* "/run/berth/berth.sock" */
        bool may_autostart;
        int fd; /* keep-alive connection, or -EBADF */
        bool negotiated;
        char api_version[16];        /* "1.41" after negotiation */
        char server_api_version[16]; /* what /_ping said ("" when nothing) */
        char *pending;               /* bytes read past the last response */
        size_t pending_len;
        void (*notify)(const char *msg); /* told before an auto-start (the CLI prints it) */
        const char *registry_auth;       /* sent as X-Registry-Auth while set (pull, push) */
        const char *registry_config;     /* sent as X-Registry-Config while set (build) */
};

/*
 * Resolve the host (flag value or NULL) as described above.  Errors for
 * unsupported schemes ("tcp://…") come back here.
 */
int cli_client_init(struct cli_client *c, const char *host_flag, struct berth_error **err);
void cli_client_release(struct cli_client *c);

/*
 * Make sure the daemon answers and the version is negotiated (auto-starting it
 * when allowed).  Message on failure: "Cannot connect to the Berth daemon at
 * unix://… Is the berth daemon running?".  ret_autostarted tells whether we
 * started it.
 */
int cli_client_connect(struct cli_client *c, bool *ret_autostarted, struct berth_error **err);

struct cli_response {
        int status;
        char *body; /* NUL-terminated */
        size_t len;
        char *content_type;
};
void cli_response_release(struct cli_response *r);

/*
 * One request to path (e.g. "/info"; the version prefix is added), with an
 * optional query ("a=1&b=2", already escaped) and body.
 */
int cli_client_request(struct cli_client *c, const char *method, const char *path,
                       const char *query, const char *content_type, const void *body,
                       size_t body_len, struct cli_response *ret, struct berth_error **err);

/*
 * Same, delivering the body to on_data as it arrives (returns <0 to abort).
 * The status is known before the first call (ret_status).
 */
typedef int (*cli_data_fn)(const char *data, size_t len, void *userdata);
int cli_client_stream(struct cli_client *c, const char *method, const char *path, const char *query,
                      const char *content_type, const void *body, size_t body_len, int *ret_status,
                      cli_data_fn on_data, void *userdata, struct berth_error **err);

/*
 * The same for a POST whose body is read from body_fd as it is sent (load: an
 * archive of any size), always on a fresh connection.
 */
int cli_client_upload(struct cli_client *c, const char *path, const char *query,
                      const char *content_type, int body_fd, int *ret_status, cli_data_fn on_data,
                      void *userdata, struct berth_error **err);
/* The same with another method (cp's PUT of an archive). */
int cli_client_send_fd(struct cli_client *c, const char *method, const char *path,
                       const char *query, const char *content_type, int body_fd, int *ret_status,
                       cli_data_fn on_data, void *userdata, struct berth_error **err);

/* The daemon's {"message": …} from an error body, or the body itself. */
char *cli_error_message(const struct cli_response *r);

/* ---- connections of their own (containers: attach, exec, wait, logs, stats) ----
 *
 * docker's run holds three exchanges at once: the hijacked attach, the wait whose
 * headers must be read before start, and start/resize/kill.  These helpers each dial
 * a connection of their own (negotiating on c's first), so c's keep-alive
 * connection stays free for the short requests.
 */

/* A second client for the same daemon and negotiated version, not yet connected. */
void cli_client_clone(struct cli_client *dst, const struct cli_client *src);

/*
 * POST path with "Connection: Upgrade" and "Upgrade: tcp", as docker hijacks attach and
 * exec start.  On 101 the raw connection is the caller's (*ret_fd) and ret_early gets the
 * bytes that arrived right behind the head.  Any other status is an answer of its own:
 * ret_resp gets it whole and *ret_fd stays -EBADF.  Returns <0 only when the exchange
 * itself failed.
 */
struct berth_buf;
int cli_client_hijack(struct cli_client *c, const char *path, const char *query,
                      const char *content_type, const void *body, size_t body_len, int *ret_fd,
                      struct berth_buf *ret_early, struct cli_response *ret_resp,
                      struct berth_error **err);

/*
 * A response whose body is read when the caller likes: the request is sent and the head
 * read before this returns (so the status is known, as docker's run knows wait's before it
 * starts the container).  Read the body with cli_stream_read when poll() finds
 * cli_stream_fd readable or cli_stream_ready() is true.
 */
struct cli_stream;
int cli_client_open_stream(struct cli_client *c, const char *method, const char *path,
                           const char *query, const char *content_type, const void *body,
                           size_t body_len, struct cli_stream **ret, struct berth_error **err);
int cli_stream_status(const struct cli_stream *s);
/* A header of the response head (the first of that name), or NULL. */
const char *cli_stream_header(const struct cli_stream *s, const char *name);
int cli_stream_fd(const struct cli_stream *s);
/* Decoded bytes (or the end) can be read without touching the socket. */
bool cli_stream_ready(const struct cli_stream *s);
/* >0 bytes of body, 0 at its end, -EAGAIN when a read brought framing only, <0 error. */
ssize_t cli_stream_read(struct cli_stream *s, char *buf, size_t n, struct berth_error **err);
/* The rest of the body into out (at most max bytes), blocking. */
int cli_stream_read_all(struct cli_stream *s, size_t max, struct berth_buf *out,
                        struct berth_error **err);
void cli_stream_free(struct cli_stream *s);
static inline void cli_stream_freep(struct cli_stream **s)
{
        cli_stream_free(*s);
}
#define _cleanup_cli_stream_ _cleanup_(cli_stream_freep)

#endif
