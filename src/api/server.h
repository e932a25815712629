/*
 * server.h — berthd's HTTP/1.1 server on unix sockets: event loop, routing,
 * responses, streams and hijacks.  This header is src/api's whole interface to
 * the handlers (system.c, and later images, containers, exec, …) and to the main.
 *
 * Threads and memory.  One thread runs an epoll loop that accepts, reads,
 * parses, dispatches and writes with non-blocking sockets; an idle daemon is
 * that one thread blocked in epoll_wait, a few KiB per open connection and no
 * buffers for idle ones.  Handlers run on the loop thread and must not block.
 *
 * A handler answers exactly once, by one of:
 *   api_reply(), api_reply_json(), api_reply_error(), api_reply_empty()
 *       a whole response, queued and written by the loop;
 *   api_stream_begin()
 *       a streamed response (chunked): the connection leaves the loop and
 *       belongs to the returned struct api_stream until api_stream_end();
 *   api_hijack()
 *       "101 UPGRADED" and the raw socket, for attach and exec.
 * If a handler returns without answering, the client gets a 500.
 *
 * Long operations (pulls, waits, logs) stream from a worker thread:
 *
 *     static void *pull_worker(void *arg) {
 *             struct api_stream *s = arg;
 *             struct api_request *req = api_stream_request(s); // still valid
 *             ...
 *             if (api_stream_write_json(s, progress) < 0)       // client gone
 *                     cancel the pull;
 *             api_stream_end(s);                                 // frees s
 *             return NULL;
 *     }
 *     static void handle_pull(struct api_request *req, void *userdata) {
 *             validate; on error api_reply_error(req, 404, ...) and return;
 *             struct api_stream *s = api_stream_begin(req, 200, "application/json");
 *             if (api_worker_spawn(pull_worker, s) < 0) api_stream_end(s);
 *     }
 *
 * api_stream_begin() writes the status line and headers at once (docker's
 * `wait` relies on that), switches the socket to blocking mode with a send
 * timeout, and removes it from the loop.  From then on exactly one thread at a
 * time may use the stream; writes block that thread, never the loop.  A failed
 * write (client gone, timeout, daemon shutting down) returns a negative errno
 * and every later write fails too; the worker should stop its work and call
 * api_stream_end(), which finishes the chunked body (when it still can), hands
 * the connection back to the loop for the next keep-alive request (or closes
 * it) and frees the stream.  api_stream_client_gone() lets a worker that writes
 * nothing for a long time (wait) notice a vanished client.
 *
 * On shutdown (api_server_stop()) listeners close at once, idle connections
 * close, queued responses get a short grace period, and open streams get
 * API_SHUTDOWN_GRACE_MS to end before their sockets are shut down, which makes
 * their writes fail so workers finish.
 *
 * Never: block the loop thread, touch a stream's socket from two threads, let
 * a request's memory be freed while a stream still uses it.
 */
#ifndef BERTH_API_SERVER_H
#define BERTH_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"

#define API_MIN_VERSION       "1.24"
#define API_MAX_VERSION       "1.41"
#define API_SHUTDOWN_GRACE_MS 10000
#define API_DEFAULT_MAX_HEAD  (64 * 1024)
#define API_DEFAULT_MAX_BODY  (16 * 1024 * 1024)
#define API_MAX_CONNECTIONS   4096

struct api_server;
struct api_request;
struct api_stream;

typedef void (*api_handler_fn)(struct api_request *req, void *userdata);

/*
 * A route: method ("GET"; "GET" also serves HEAD unless a HEAD route matches
 * first) and a path pattern of literal segments and parameters: "{name}" is one
 * segment, "{name*}" one or more (image references contain '/'), e.g.
 * "/images/{name*}/json".  Patterns are matched against the path with any
 * "/vX.Y" prefix removed and percent-escapes decoded.
 */
struct api_route {
        const char *method;
        const char *pattern;
        api_handler_fn handler;
        void *userdata;
        /* The handler runs as soon as the head arrived, with the body still on
         * the socket: it detaches a stream and its worker reads the body with
         * api_stream_read_body() (image loads, archives: no size cap, nothing
         * buffered).  Otherwise the server buffers the body, up to max_body. */
        bool stream_body;
};

struct api_server_config {
        size_t max_head;           /* bytes of request line + headers (431 beyond) */
        size_t max_body;           /* bytes of a buffered request body (413 beyond) */
        const char *server_header; /* "Berth/0.1.0 (linux)" */
        unsigned read_timeout_sec; /* a started request must arrive within this; 0: 300 s */
};

int api_server_new(const struct api_server_config *config, struct api_server **ret,
                   struct berth_error **err);
void api_server_free(struct api_server *srv);

/* Add routes; the table is copied.  Earlier routes win. */
void api_server_add_routes(struct api_server *srv, const struct api_route *routes, size_t n);

/*
 * Listen on a unix socket path.  The socket is 0660 from the moment it exists
 * (bound under a temporary name with a restrictive umask, then renamed), owned
 * by group `group` when that group exists.  An existing socket file that
 * nobody answers on is replaced; one that answers is an error (-EADDRINUSE).
 */
int api_server_listen_unix(struct api_server *srv, const char *path, const char *group,
                           struct berth_error **err);

/* Call cb on the loop thread whenever fd is readable (signalfd, timers). */
typedef void (*api_fd_cb)(struct api_server *srv, int fd, void *userdata);
int api_server_watch_fd(struct api_server *srv, int fd, api_fd_cb cb, void *userdata,
                        struct berth_error **err);

/* Run the loop until api_server_stop(); then the shutdown described above. */
int api_server_run(struct api_server *srv, struct berth_error **err);
/* Safe from any thread and from the loop's own callbacks. */
void api_server_stop(struct api_server *srv);
/* Streams still owned by workers after api_server_run() returned: while any is
 * left, neither the server nor what its handlers use may be freed. */
size_t api_server_open_streams(const struct api_server *srv);

/* ---- requests (valid during the handler, or until api_stream_end) ---- */

const char *api_request_method(const struct api_request *req);
/* Path without the version prefix, decoded ("/images/busybox:latest/json"). */
const char *api_request_path(const struct api_request *req);
/* Requested API version as major*100+minor (1.41 -> 141); the maximum when unprefixed. */
int api_request_version(const struct api_request *req);
/* A path parameter by name ("name" for "{name}"), or NULL. */
const char *api_request_param(const struct api_request *req, const char *name);
/* A query parameter, decoded; NULL when absent.  The request owns the string. */
const char *api_request_query(struct api_request *req, const char *key);
/* Every value of a repeated query parameter ("names=a&names=b"), decoded;
 * NULL-terminated, never NULL; the caller frees it with strv_free(). */
char **api_request_query_all(const struct api_request *req, const char *key);
/* Docker's boolean query rule: absent -> def; "", 0, no, false, none -> false; else true. */
bool api_request_query_bool(struct api_request *req, const char *key, bool def);
const char *api_request_header(const struct api_request *req, const char *name);
/* The buffered body (NUL-terminated; len may be 0). */
const char *api_request_body(const struct api_request *req, size_t *ret_len);
/* Parse the body as JSON (an empty body gives *ret = NULL and 0). */
int api_request_json(const struct api_request *req, struct json **ret, struct berth_error **err);

/* ---- whole responses (loop thread, inside the handler) ---- */

void api_reply(struct api_request *req, int status, const char *content_type, const void *body,
               size_t len);
void api_reply_json(struct api_request *req, int status, const struct json *body);
/* {"message":"..."} with Content-Type application/json, as dockerd sends errors. */
_printf_(3, 4) void api_reply_error(struct api_request *req, int status, const char *fmt, ...);
void api_reply_empty(struct api_request *req, int status); /* 204, 304, … */
/* An engine error's status by its errno: ENOENT 404, EINVAL 400, EBUSY and EEXIST 409,
 * EALREADY 304, ENOTSUP 501, anything else 500. */
int api_engine_status(int r);
/* Add a response header to the reply or stream that follows (before it). */
void api_response_header(struct api_request *req, const char *name, const char *value);

/* ---- streams ---- */

/* Start a chunked response and take the connection off the loop.  Never NULL. */
struct api_stream *api_stream_begin(struct api_request *req, int status, const char *content_type);
/*
 * The same in two steps, for a worker that must decide the status first (a
 * pull answers 404 before streaming when the manifest is missing):
 * api_stream_detach() on the loop thread, then from the owning thread either
 * api_stream_start() (then writes as above) or api_stream_reply_error() (a
 * whole {"message"} response; writes then fail), then api_stream_end().
 */
struct api_stream *api_stream_detach(struct api_request *req);
void api_stream_start(struct api_stream *s, int status, const char *content_type);
_printf_(3, 4) void api_stream_reply_error(struct api_stream *s, int status, const char *fmt, ...);
/* The same with any JSON body (a worker's whole answer, e.g. POST /auth). */
void api_stream_reply_json(struct api_stream *s, int status, const struct json *j);
/* The same without a body (204, 304). */
void api_stream_reply_empty(struct api_stream *s, int status);
struct api_request *api_stream_request(struct api_stream *s);
/* One chunk; 0 or a negative errno (-EPIPE when the client is gone). */
int api_stream_write(struct api_stream *s, const void *data, size_t len);
/* One JSON value followed by "\n", as docker's progress streams are framed. */
int api_stream_write_json(struct api_stream *s, const struct json *j);
/*
 * Read the request body of a stream_body route: up to len bytes (Content-Length
 * or chunked, decoded), 0 at its end, or a negative errno: -EPIPE when the
 * client closed before the body ended, -ETIMEDOUT after read_timeout_sec
 * without a byte, -EBADMSG for broken chunked framing, -EINVAL when the route
 * does not stream its body.  A body the worker leaves unread makes the
 * connection close after the answer.
 */
ssize_t api_stream_read_body(struct api_stream *s, void *buf, size_t len);
/* The same, with a failure as a one-line error naming the request body. */
ssize_t api_stream_read_body_err(struct api_stream *s, void *buf, size_t len,
                                 struct berth_error **err);
/* True when the peer closed or reset the connection. */
bool api_stream_client_gone(struct api_stream *s);
/* Finish the body, give the connection back (or close it), free s. */
void api_stream_end(struct api_stream *s);

/* Start a detached worker thread with a small stack. */
int api_worker_spawn(void *(*fn)(void *), void *arg);

/* A handler whose work may take long (a deletion, a walk of a tree): fn runs on a worker
 * with the detached stream, answers with api_stream_reply_*() and returns; the stream is
 * ended after it.  arg is fn's (the route's userdata). */
void api_defer(struct api_request *req, void (*fn)(struct api_stream *s, void *arg), void *arg);

/*
 * Hijack (docker attach/exec): requires Upgrade: tcp on the request.  Sends
 * "101 UPGRADED" with Content-Type application/vnd.docker.raw-stream and hands
 * the socket (blocking, O_CLOEXEC) to the caller, who must close it.  Bytes the
 * client already sent after the request (piped stdin) are returned in
 * *ret_pending (malloc'd, *ret_pending_len bytes, may be 0).  On failure the
 * client got an error response and a negative errno is returned.
 */
int api_hijack(struct api_request *req, int *ret_fd, char **ret_pending, size_t *ret_pending_len);

#endif
