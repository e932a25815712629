/*
 * server.c — the epoll loop behind server.h: listeners, connections, request
 * dispatch, buffered responses, streams handed to workers, hijacks, shutdown.
 *
 * How a connection moves:
 *   READ      epoll waits for input; bytes accumulate in conn->in; the head is
 *             parsed (http.c), then the body is buffered (Content-Length or
 *             chunked, decoded as it arrives), then the route's handler runs.
 *   WRITE     the handler queued a whole response in conn->out; epoll waits
 *             for EPOLLOUT until it is written, then the connection goes back
 *             to READ (keep-alive; pipelined input is processed at once) or
 *             closes.
 *   DETACHED  api_stream_begin() removed the socket from epoll and gave it to
 *             a stream; api_stream_end() (any thread) queues the connection on
 *             srv->returned and pokes the eventfd; the loop re-adds it.
 * A hijacked connection is forgotten by the loop: the handler owns the fd.
 *
 * Memory: an idle keep-alive connection holds only its struct; its input
 * buffer is freed whenever it is fully consumed.
 *
 * Never: call a handler off the loop thread, read from a detached socket,
 * block on a socket the loop owns (all loop sockets are O_NONBLOCK).
 */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "http.h"
#include "server.h"

#define MAX_PARAMS          8
#define READ_CHUNK          16384
#define STREAM_SNDTIMEO_SEC 300
#define FLUSH_GRACE_MS      2000
/* A request that started arriving must finish within this long (slow-loris guard);
 * idle keep-alive connections, with nothing half-sent, are not timed out. */
#define READ_TIMEOUT_SEC   300
#define SWEEP_INTERVAL_SEC 30

enum ev_kind { EV_LISTENER, EV_CONN, EV_WATCH, EV_WAKE, EV_SWEEP };

struct ev {
        enum ev_kind kind;
};

struct listener {
        struct ev ev;
        int fd;
        char *path;
        ino_t ino;
        struct listener *next;
};

struct watch {
        struct ev ev;
        int fd;
        api_fd_cb cb;
        void *userdata;
        struct watch *next;
};

struct query_kv {
        char *key;
        char *value;
};

struct api_request {
        struct conn *conn;
        struct http_request http;
        char *path; /* decoded, version prefix removed */
        int version;
        struct {
                const char *name;
                size_t name_len;
                char *value;
        } params[MAX_PARAMS];
        size_t n_params;
        struct query_kv *queries;
        size_t n_queries;
        struct berth_buf body;
        struct berth_buf extra_headers;
        bool answered;
        /* Routing, done as soon as the head is parsed. */
        const struct api_route *route;
        char *version_str;  /* the "X.Y" of a /vX.Y prefix, or NULL */
        bool bad_path;      /* an invalid escape in the path */
        bool body_streamed; /* the route reads its body itself (api_stream_read_body) */
        bool body_done;     /* every body byte was consumed */
};

enum conn_state { CONN_READ, CONN_WRITE, CONN_DETACHED };

struct conn {
        struct ev ev;
        int fd;
        struct api_server *srv;
        struct conn *prev, *next; /* srv->conns */
        struct conn *returned_next;
        enum conn_state state;
        struct berth_buf in;
        size_t in_off;
        bool have_head;
        uint64_t body_left;
        struct http_chunked chunked;
        struct api_request req;
        struct berth_buf out;
        size_t out_off;
        bool close_after;
        bool hijacked;
        time_t request_started; /* monotonic seconds when the first byte of a request came */
        int stream_error;       /* written by the stream's thread before it returns the conn */
        bool stream_close;
        bool rcvtimeo_set;
};

struct api_stream {
        struct conn *conn;
        bool chunked;
        bool started; /* status line and headers sent */
        bool whole;   /* a complete response (api_stream_reply_error) was sent instead */
        int error;
        int read_error; /* of the request body (api_stream_read_body) */
};

struct api_server {
        struct api_server_config config;
        char *server_header;
        int epfd;
        int wakefd;
        struct ev wake_ev;
        int sweepfd; /* timerfd: close requests stalled past read_timeout_sec */
        struct ev sweep_ev;
        struct listener *listeners;
        struct watch *watches;
        struct conn *conns;
        size_t n_conns;
        size_t n_detached;
        struct api_route *routes;
        size_t n_routes;
        atomic_bool stopping;
        pthread_mutex_t returned_lock;
        struct conn *returned;
};

static void conn_close(struct conn *c);
static bool conn_process(struct conn *c);

static time_t mono_sec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

/* ---- versions ---- */

static int version_to_int(const char *v)
{
        unsigned long major = strtoul(v, NULL, 10);
        const char *dot = strchr(v, '.');
        unsigned long minor = dot ? strtoul(dot + 1, NULL, 10) : 0;
        if (major > 1000 || minor > 99)
                return 100000;
        return (int)(major * 100 + minor);
}

/* ---- server object ---- */

int api_server_new(const struct api_server_config *config, struct api_server **ret,
                   struct berth_error **err)
{
        struct api_server *srv = xcalloc(1, sizeof(*srv));
        srv->config = *config;
        if (!srv->config.max_head)
                srv->config.max_head = API_DEFAULT_MAX_HEAD;
        if (!srv->config.max_body)
                srv->config.max_body = API_DEFAULT_MAX_BODY;
        srv->server_header = xstrdup(config->server_header ? config->server_header : "Berth");
        srv->config.server_header = srv->server_header;
        srv->wakefd = -EBADF;
        srv->sweepfd = -EBADF;
        pthread_mutex_init(&srv->returned_lock, NULL);

        srv->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (srv->epfd < 0) {
                int r = berth_error_sys(err, errno, "create epoll instance");
                api_server_free(srv);
                return r;
        }
        srv->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (srv->wakefd < 0) {
                int r = berth_error_sys(err, errno, "create eventfd");
                api_server_free(srv);
                return r;
        }
        srv->wake_ev.kind = EV_WAKE;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &srv->wake_ev};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->wakefd, &e) < 0) {
                int r = berth_error_sys(err, errno, "watch eventfd");
                api_server_free(srv);
                return r;
        }
        srv->sweepfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (!srv->config.read_timeout_sec)
                srv->config.read_timeout_sec = READ_TIMEOUT_SEC;
        /* Sweep ten times per timeout (at most every 30 s), so a stall is cut within 10%. */
        time_t every = srv->config.read_timeout_sec / 10;
        every = every < 1 ? 1 : every > 30 ? 30 : every;
        struct itimerspec its = {.it_interval = {every, 0}, .it_value = {every, 0}};
        srv->sweep_ev.kind = EV_SWEEP;
        struct epoll_event se = {.events = EPOLLIN, .data.ptr = &srv->sweep_ev};
        if (srv->sweepfd < 0 || timerfd_settime(srv->sweepfd, 0, &its, NULL) < 0 ||
            epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->sweepfd, &se) < 0) {
                int r = berth_error_sys(err, errno, "create sweep timer");
                api_server_free(srv);
                return r;
        }
        *ret = srv;
        return 0;
}

static void listener_close(struct listener *l)
{
        if (l->fd >= 0) {
                close(l->fd);
                l->fd = -EBADF;
        }
        if (l->path) {
                /* Remove the path only while it still is our socket. */
                struct stat st;
                if (stat(l->path, &st) == 0 && st.st_ino == l->ino)
                        unlink(l->path);
                free(l->path);
                l->path = NULL;
        }
}

void api_server_free(struct api_server *srv)
{
        if (!srv)
                return;
        while (srv->listeners) {
                struct listener *l = srv->listeners;
                srv->listeners = l->next;
                listener_close(l);
                free(l);
        }
        while (srv->watches) {
                struct watch *w = srv->watches;
                srv->watches = w->next;
                free(w);
        }
        struct conn *c = srv->conns;
        while (c) {
                struct conn *next = c->next;
                if (c->state != CONN_DETACHED)
                        conn_close(c);
                c = next;
        }
        for (size_t i = 0; i < srv->n_routes; i++)
                free((char *)srv->routes[i].pattern);
        free(srv->routes);
        if (srv->wakefd >= 0)
                close(srv->wakefd);
        if (srv->sweepfd >= 0)
                close(srv->sweepfd);
        if (srv->epfd >= 0)
                close(srv->epfd);
        pthread_mutex_destroy(&srv->returned_lock);
        free(srv->server_header);
        free(srv);
}

void api_server_add_routes(struct api_server *srv, const struct api_route *routes, size_t n)
{
        srv->routes = xrealloc(srv->routes, (srv->n_routes + n) * sizeof(*srv->routes));
        for (size_t i = 0; i < n; i++) {
                srv->routes[srv->n_routes] = routes[i];
                srv->routes[srv->n_routes].pattern = xstrdup(routes[i].pattern);
                srv->n_routes++;
        }
}

static void wake(struct api_server *srv)
{
        uint64_t one = 1;
        (void)!write(srv->wakefd, &one, sizeof(one));
}

void api_server_stop(struct api_server *srv)
{
        atomic_store(&srv->stopping, true);
        wake(srv);
}

size_t api_server_open_streams(const struct api_server *srv)
{
        return srv->n_detached;
}

int api_server_watch_fd(struct api_server *srv, int fd, api_fd_cb cb, void *userdata,
                        struct berth_error **err)
{
        struct watch *w = xcalloc(1, sizeof(*w));
        w->ev.kind = EV_WATCH;
        w->fd = fd;
        w->cb = cb;
        w->userdata = userdata;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = w};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
                int r = berth_error_sys(err, errno, "watch fd %d", fd);
                free(w);
                return r;
        }
        w->next = srv->watches;
        srv->watches = w;
        return 0;
}

/* ---- listening ---- */

static int probe_socket(const char *path, struct berth_error **err)
{
        struct stat st;
        if (lstat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                return berth_error_sys(err, errno, "stat '%s'", path);
        }
        if (!S_ISSOCK(st.st_mode))
                return berth_error_set(err, EEXIST, "'%s' exists and is not a socket", path);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_sys(err, errno, "create socket");
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, path);
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        if (rc < 0 && errno != EAGAIN)
                return 0; /* stale: replaced by the rename below */
        struct ucred cred = {0};
        socklen_t len = sizeof(cred);
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0)
                return berth_error_set(err, EADDRINUSE,
                                       "another daemon is already listening on '%s' (pid %d)", path,
                                       (int)cred.pid);
        return berth_error_set(err, EADDRINUSE, "another daemon is already listening on '%s'",
                               path);
}

int api_server_listen_unix(struct api_server *srv, const char *path, const char *group,
                           struct berth_error **err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (path[0] != '/')
                return berth_error_set(err, EINVAL, "socket path '%s' is not absolute", path);
        if (strlen(path) + 24 >= sizeof(sa.sun_path))
                return berth_error_set(err, ENAMETOOLONG, "socket path '%s' is too long", path);

        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = '\0';
        else
                *slash = '\0';
        int r = mkdir_p(dir, 0711);
        if (r < 0)
                return berth_error_sys(err, -r, "create directory '%s'", dir);

        r = probe_socket(path, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *tmp = xasprintf("%s/.%s.%d.tmp", strcmp(dir, "/") ? dir : "",
                                             strrchr(path, '/') + 1, (int)getpid());
        if (strlen(tmp) >= sizeof(sa.sun_path))
                return berth_error_set(err, ENAMETOOLONG, "socket path '%s' is too long", path);
        (void)unlink(tmp);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return berth_error_sys(err, errno, "create socket");
        strcpy(sa.sun_path, tmp);
        /* The umask makes the file 0660 at creation: there is no moment when it is wider. */
        mode_t old = umask(0117);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return berth_error_sys(err, errno, "bind '%s'", path);
        if (group) {
                struct group gr, *res = NULL;
                char gbuf[1024];
                if (getgrnam_r(group, &gr, gbuf, sizeof(gbuf), &res) == 0 && res &&
                    chown(tmp, (uid_t)-1, res->gr_gid) < 0) {
                        r = berth_error_sys(err, errno, "chown '%s' to group '%s'", path, group);
                        unlink(tmp);
                        return r;
                }
        }
        if (listen(fd, 128) < 0 || rename(tmp, path) < 0) {
                r = berth_error_sys(err, errno, "listen on '%s'", path);
                unlink(tmp);
                return r;
        }

        struct listener *l = xcalloc(1, sizeof(*l));
        l->ev.kind = EV_LISTENER;
        l->path = xstrdup(path);
        struct stat st;
        if (stat(path, &st) == 0)
                l->ino = st.st_ino;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = l};
        if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
                r = berth_error_sys(err, errno, "watch socket '%s'", path);
                l->fd = -EBADF;
                listener_close(l);
                free(l);
                return r;
        }
        l->fd = TAKE_FD(fd);
        l->next = srv->listeners;
        srv->listeners = l;
        return 0;
}

/* ---- requests ---- */

static void request_reset(struct api_request *req)
{
        http_request_release(&req->http);
        free(req->path);
        req->path = NULL;
        for (size_t i = 0; i < req->n_params; i++)
                free(req->params[i].value);
        req->n_params = 0;
        for (size_t i = 0; i < req->n_queries; i++) {
                free(req->queries[i].key);
                free(req->queries[i].value);
        }
        free(req->queries);
        req->queries = NULL;
        req->n_queries = 0;
        buf_release(&req->body);
        buf_release(&req->extra_headers);
        req->answered = false;
        req->version = 0;
        req->route = NULL;
        free(req->version_str);
        req->version_str = NULL;
        req->bad_path = false;
        req->body_streamed = false;
        req->body_done = false;
}

const char *api_request_method(const struct api_request *req)
{
        return req->http.method;
}

const char *api_request_path(const struct api_request *req)
{
        return req->path;
}

int api_request_version(const struct api_request *req)
{
        return req->version;
}

const char *api_request_param(const struct api_request *req, const char *name)
{
        size_t n = strlen(name);
        for (size_t i = 0; i < req->n_params; i++)
                if (req->params[i].name_len == n && memcmp(req->params[i].name, name, n) == 0)
                        return req->params[i].value;
        return NULL;
}

const char *api_request_query(struct api_request *req, const char *key)
{
        for (size_t i = 0; i < req->n_queries; i++)
                if (strcmp(req->queries[i].key, key) == 0)
                        return req->queries[i].value;
        char *v = http_query_get(req->http.query, key);
        req->queries = xrealloc(req->queries, (req->n_queries + 1) * sizeof(*req->queries));
        req->queries[req->n_queries].key = xstrdup(key);
        req->queries[req->n_queries].value = v;
        req->n_queries++;
        return v;
}

char **api_request_query_all(const struct api_request *req, const char *key)
{
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        for (const char *p = req->http.query; p && *p;) {
                size_t len = strcspn(p, "&");
                const char *eq = memchr(p, '=', len);
                size_t klen = eq ? (size_t)(eq - p) : len;
                _cleanup_free_ char *k = http_unescape(p, klen, true);
                if (k && strcmp(k, key) == 0) {
                        char *val = eq ? http_unescape(eq + 1, len - klen - 1, true) : xstrdup("");
                        if (val) {
                                v = xrealloc(v, (n + 2) * sizeof(char *));
                                v[n++] = val;
                                v[n] = NULL;
                        }
                }
                p += len + (p[len] == '&');
        }
        return v;
}

bool api_request_query_bool(struct api_request *req, const char *key, bool def)
{
        const char *v = api_request_query(req, key);
        if (!v)
                return def;
        static const char *const falses[] = {"", "0", "no", "false", "none"};
        for (size_t i = 0; i < ELEMENTSOF(falses); i++)
                if (strcasecmp(v, falses[i]) == 0)
                        return false;
        return true;
}

const char *api_request_header(const struct api_request *req, const char *name)
{
        return http_request_header(&req->http, name);
}

const char *api_request_body(const struct api_request *req, size_t *ret_len)
{
        if (ret_len)
                *ret_len = req->body.len;
        return req->body.data ? req->body.data : "";
}

int api_request_json(const struct api_request *req, struct json **ret, struct berth_error **err)
{
        *ret = NULL;
        if (req->body.len == 0)
                return 0;
        return json_parse(req->body.data, req->body.len, ret, err);
}

/* ---- responses ---- */

static void format_date(char *out, size_t n)
{
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* content_length < 0: chunked (HTTP/1.1) or close-delimited (HTTP/1.0). */
static void format_head(struct berth_buf *b, struct api_request *req, int status,
                        const char *content_type, long long content_length, bool close)
{
        struct api_server *srv = req->conn->srv;
        char date[64];
        format_date(date, sizeof(date));
        buf_printf(b, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
        buf_puts(b, "Api-Version: " API_MAX_VERSION "\r\n");
        if (content_type)
                buf_printf(b, "Content-Type: %s\r\n", content_type);
        buf_puts(b, "Docker-Experimental: false\r\nOstype: linux\r\n");
        buf_printf(b, "Server: %s\r\n", srv->server_header);
        if (req->extra_headers.len)
                buf_append(b, req->extra_headers.data, req->extra_headers.len);
        buf_printf(b, "Date: %s\r\n", date);
        if (status != 204 && status != 304 && status >= 200) {
                if (content_length >= 0)
                        buf_printf(b, "Content-Length: %lld\r\n", content_length);
                else if (req->http.version_minor >= 1)
                        buf_puts(b, "Transfer-Encoding: chunked\r\n");
        }
        if (close)
                buf_puts(b, "Connection: close\r\n");
        buf_puts(b, "\r\n");
}

void api_response_header(struct api_request *req, const char *name, const char *value)
{
        buf_printf(&req->extra_headers, "%s: %s\r\n", name, value);
}

void api_reply(struct api_request *req, int status, const char *content_type, const void *body,
               size_t len)
{
        struct conn *c = req->conn;
        if (req->answered) {
                log_error("api: %s %s answered twice", req->http.method, req->http.target);
                return;
        }
        req->answered = true;
        bool close = c->close_after || !req->http.keep_alive || atomic_load(&c->srv->stopping);
        c->close_after = close;
        format_head(&c->out, req, status, content_type, (long long)len, close);
        if (strcmp(req->http.method, "HEAD") != 0 && status != 204 && status != 304)
                buf_append(&c->out, body, len);
        log_debug("api: %s %s -> %d", req->http.method, req->http.target, status);
}

void api_reply_json(struct api_request *req, int status, const struct json *body)
{
        _cleanup_free_ char *s = json_dump(body, 0);
        size_t n = strlen(s);
        /* Go's json.Encoder ends every value with a newline; clients expect it. */
        char *t = xrealloc(TAKE_PTR(s), n + 2);
        t[n] = '\n';
        t[n + 1] = '\0';
        api_reply(req, status, "application/json", t, n + 1);
        free(t);
}

void api_reply_error(struct api_request *req, int status, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        struct json *j = json_new_object();
        json_set_str(j, "message", msg);
        api_reply_json(req, status, j);
        json_free(j);
        if (status >= 500)
                log_error("api: %s %s: %s", req->http.method, req->http.target, msg);
        else
                log_debug("api: %s %s: %s", req->http.method, req->http.target, msg);
}

void api_reply_empty(struct api_request *req, int status)
{
        api_reply(req, status, NULL, NULL, 0);
}

/* ---- blocking writes for streams and hijacks ---- */

static int send_all(int fd, const struct iovec *iov_in, int n)
{
        struct iovec iov[4];
        memcpy(iov, iov_in, sizeof(*iov) * (size_t)n);
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        for (;;) {
                ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                size_t left = (size_t)w;
                while (msg.msg_iovlen && left >= msg.msg_iov[0].iov_len) {
                        left -= msg.msg_iov[0].iov_len;
                        msg.msg_iov++;
                        msg.msg_iovlen--;
                }
                if (!msg.msg_iovlen)
                        return 0;
                msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + left;
                msg.msg_iov[0].iov_len -= left;
        }
}

static void set_blocking(int fd, bool blocking)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
                return;
        fl = blocking ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
        (void)fcntl(fd, F_SETFL, fl);
}

static void detach_from_loop(struct conn *c)
{
        (void)epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        set_blocking(c->fd, true);
        struct timeval tv = {.tv_sec = STREAM_SNDTIMEO_SEC};
        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A request body left partly unread leaves the connection out of step: close it
 * after the answer (and say so in the answer's head). */
static void body_check_close(struct conn *c)
{
        if (c->req.body_streamed && !c->req.body_done)
                c->stream_close = true;
}

struct api_stream *api_stream_detach(struct api_request *req)
{
        struct conn *c = req->conn;
        struct api_stream *s = xcalloc(1, sizeof(*s));
        s->conn = c;
        s->chunked = req->http.version_minor >= 1;
        req->answered = true;
        c->state = CONN_DETACHED;
        c->srv->n_detached++;
        c->stream_error = 0;
        c->stream_close = !s->chunked || !req->http.keep_alive || c->close_after ||
                          atomic_load(&c->srv->stopping);
        detach_from_loop(c);
        return s;
}

void api_stream_start(struct api_stream *s, int status, const char *content_type)
{
        if (s->started || s->whole)
                return;
        s->started = true;
        struct conn *c = s->conn;
        struct api_request *req = &c->req;
        body_check_close(c);
        struct berth_buf head = BERTH_BUF_INIT;
        format_head(&head, req, status, content_type, -1, c->stream_close);
        struct iovec iov = {.iov_base = head.data, .iov_len = head.len};
        int r = send_all(c->fd, &iov, 1);
        if (r < 0 && !s->error)
                s->error = r;
        buf_release(&head);
        log_debug("api: %s %s -> %d (stream)", req->http.method, req->http.target, status);
}

void api_stream_reply_error(struct api_stream *s, int status, const char *fmt, ...)
{
        if (s->started || s->whole)
                return;
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        struct json *j = json_new_object();
        json_set_str(j, "message", msg);
        api_stream_reply_json(s, status, j);
        json_free(j);
        log_debug("api: %s %s -> %d: %s", s->conn->req.http.method, s->conn->req.http.target,
                  status, msg);
}

void api_stream_reply_json(struct api_stream *s, int status, const struct json *j)
{
        if (s->started || s->whole)
                return;
        s->whole = true;
        struct conn *c = s->conn;
        struct api_request *req = &c->req;
        body_check_close(c);
        _cleanup_free_ char *body = json_dump(j, 0);
        size_t len = strlen(body);
        struct berth_buf out = BERTH_BUF_INIT;
        format_head(&out, req, status, "application/json", (long long)len + 1, c->stream_close);
        if (strcmp(req->http.method, "HEAD") != 0) {
                buf_append(&out, body, len);
                buf_putc(&out, '\n');
        }
        struct iovec iov = {.iov_base = out.data, .iov_len = out.len};
        int r = send_all(c->fd, &iov, 1);
        if (r < 0 && !s->error)
                s->error = r;
        buf_release(&out);
}

void api_stream_reply_empty(struct api_stream *s, int status)
{
        if (s->started || s->whole)
                return;
        s->whole = true;
        struct conn *c = s->conn;
        struct api_request *req = &c->req;
        body_check_close(c);
        struct berth_buf out = BERTH_BUF_INIT;
        format_head(&out, req, status, NULL, 0, c->stream_close);
        struct iovec iov = {.iov_base = out.data, .iov_len = out.len};
        int r = send_all(c->fd, &iov, 1);
        if (r < 0 && !s->error)
                s->error = r;
        buf_release(&out);
}

struct api_stream *api_stream_begin(struct api_request *req, int status, const char *content_type)
{
        struct api_stream *s = api_stream_detach(req);
        api_stream_start(s, status, content_type);
        return s;
}

struct api_request *api_stream_request(struct api_stream *s)
{
        return &s->conn->req;
}

int api_stream_write(struct api_stream *s, const void *data, size_t len)
{
        if (s->error)
                return s->error;
        if (!s->started)
                return -EINVAL; /* api_stream_start() first */
        if (len == 0)
                return 0;
        if (strcmp(s->conn->req.http.method, "HEAD") == 0)
                return 0;
        char size[24];
        struct iovec iov[3];
        int n = 0;
        if (s->chunked) {
                int sl = snprintf(size, sizeof(size), "%zx\r\n", len);
                iov[n++] = (struct iovec){.iov_base = size, .iov_len = (size_t)sl};
        }
        iov[n++] = (struct iovec){.iov_base = (void *)data, .iov_len = len};
        if (s->chunked)
                iov[n++] = (struct iovec){.iov_base = (void *)"\r\n", .iov_len = 2};
        int r = send_all(s->conn->fd, iov, n);
        if (r < 0)
                s->error = r == -EAGAIN ? -ETIMEDOUT : r;
        return s->error;
}

int api_stream_write_json(struct api_stream *s, const struct json *j)
{
        _cleanup_free_ char *t = json_dump(j, 0);
        size_t n = strlen(t);
        char *line = xrealloc(TAKE_PTR(t), n + 2);
        line[n] = '\n';
        line[n + 1] = '\0';
        int r = api_stream_write(s, line, n + 1);
        free(line);
        return r;
}

ssize_t api_stream_read_body(struct api_stream *s, void *buf, size_t len)
{
        struct conn *c = s->conn;
        struct api_request *req = &c->req;
        if (!req->body_streamed)
                return -EINVAL; /* the server buffered it: api_request_body() */
        if (s->read_error)
                return s->read_error;
        if (!c->rcvtimeo_set) {
                struct timeval tv = {.tv_sec = (time_t)c->srv->config.read_timeout_sec};
                (void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                c->rcvtimeo_set = true;
        }
        while (!req->body_done && len > 0) {
                size_t avail = c->in.len - c->in_off;
                ssize_t n;
                if (avail == 0) {
                        c->in.len = c->in_off = 0;
                        if (req->http.body_kind == HTTP_BODY_LENGTH) {
                                /* Straight into the caller's buffer. */
                                size_t want = len < c->body_left ? len : (size_t)c->body_left;
                                n = read(c->fd, buf, want);
                                if (n > 0) {
                                        c->body_left -= (uint64_t)n;
                                        req->body_done = c->body_left == 0;
                                        return n;
                                }
                        } else {
                                buf_grow(&c->in, READ_CHUNK * 4);
                                n = read(c->fd, c->in.data, c->in.cap - 1);
                                if (n > 0) {
                                        c->in.len = (size_t)n;
                                        c->in.data[n] = '\0';
                                        continue;
                                }
                        }
                        if (n < 0 && errno == EINTR)
                                continue;
                        s->read_error = n == 0 ? -EPIPE : errno == EAGAIN ? -ETIMEDOUT : -errno;
                        return s->read_error;
                }
                if (req->http.body_kind == HTTP_BODY_LENGTH) {
                        size_t take = avail < len ? avail : len;
                        if (take > c->body_left)
                                take = (size_t)c->body_left;
                        memcpy(buf, c->in.data + c->in_off, take);
                        c->in_off += take;
                        c->body_left -= take;
                        req->body_done = c->body_left == 0;
                        return (ssize_t)take;
                }
                _cleanup_error_ struct berth_error *err = NULL;
                size_t feed = avail < len ? avail : len, used = 0, produced = 0;
                int r = http_chunked_decode(&c->chunked, c->in.data + c->in_off, feed, buf, &used,
                                            &produced, &err);
                c->in_off += used;
                if (r < 0) {
                        log_debug("api: request body: %s", berth_error_msg(err));
                        s->read_error = -EBADMSG;
                        return s->read_error;
                }
                req->body_done = http_chunked_done(&c->chunked);
                if (produced)
                        return (ssize_t)produced;
        }
        return 0;
}

ssize_t api_stream_read_body_err(struct api_stream *s, void *buf, size_t len,
                                 struct berth_error **err)
{
        ssize_t n = api_stream_read_body(s, buf, len);
        if (n >= 0)
                return n;
        switch (-n) {
        case EBADMSG:
                return berth_error_set(err, EBADMSG,
                                       "request body: invalid chunked transfer encoding");
        case EPIPE:
                return berth_error_set(err, EPIPE,
                                       "request body: the client closed the connection before "
                                       "the archive ended");
        case ETIMEDOUT:
                return berth_error_set(err, ETIMEDOUT,
                                       "request body: the client sent nothing for too long");
        default:
                return berth_error_sys(err, (int)-n, "request body");
        }
}

bool api_stream_client_gone(struct api_stream *s)
{
        if (s->error)
                return true;
        struct pollfd p = {.fd = s->conn->fd, .events = POLLRDHUP};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                return true;
        return false;
}

void api_stream_end(struct api_stream *s)
{
        if (!s)
                return;
        struct conn *c = s->conn;
        if (!s->started && !s->whole)
                api_stream_start(s, 200, NULL); /* a worker that never answered: empty 200 */
        if (s->whole) {
                c->stream_error = s->error;
        } else if (!s->error && s->chunked && strcmp(c->req.http.method, "HEAD") != 0) {
                struct iovec iov = {.iov_base = (void *)"0\r\n\r\n", .iov_len = 5};
                s->error = send_all(c->fd, &iov, 1);
        }
        c->stream_error = s->error;
        body_check_close(c);
        struct api_server *srv = c->srv;
        free(s);
        pthread_mutex_lock(&srv->returned_lock);
        c->returned_next = srv->returned;
        srv->returned = c;
        pthread_mutex_unlock(&srv->returned_lock);
        wake(srv);
}

int api_worker_spawn(void *(*fn)(void *), void *arg)
{
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 1024 * 1024);
        /* Workers must not take the daemon's signals (signalfd on the loop does). */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        pthread_t t;
        int r = pthread_create(&t, &attr, fn, arg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        return -r;
}

int api_hijack(struct api_request *req, int *ret_fd, char **ret_pending, size_t *ret_pending_len)
{
        struct conn *c = req->conn;
        req->answered = true;
        detach_from_loop(c);
        /* Hijacked streams are interactive: no send timeout. */
        struct timeval tv = {0};
        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

        struct berth_buf head = BERTH_BUF_INIT;
        if (req->http.upgrade_tcp)
                buf_puts(&head, "HTTP/1.1 101 UPGRADED\r\n"
                                "Content-Type: application/vnd.docker.raw-stream\r\n"
                                "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
        else
                buf_puts(&head, "HTTP/1.1 200 OK\r\n"
                                "Content-Type: application/vnd.docker.raw-stream\r\n\r\n");
        struct iovec iov = {.iov_base = head.data, .iov_len = head.len};
        int r = send_all(c->fd, &iov, 1);
        buf_release(&head);
        c->hijacked = true; /* the loop frees the conn after the handler, without closing fd */
        if (r < 0) {
                close(c->fd);
                c->fd = -EBADF;
                return r;
        }
        size_t n = c->in.len - c->in_off;
        *ret_pending = xmalloc(n + 1);
        memcpy(*ret_pending, c->in.data + c->in_off, n);
        *ret_pending_len = n;
        c->in_off = c->in.len;
        *ret_fd = TAKE_FD(c->fd);
        log_debug("api: %s %s hijacked", req->http.method, req->http.target);
        return 0;
}

/* ---- routing ---- */

/* Match pattern segments against path segments; greedy params may span several. */
static bool match_segments(const char *pat, const char *path, struct api_request *req)
{
        if (*pat == '\0')
                return *path == '\0';
        if (*pat != '/' || *path != '/')
                return false;
        pat++;
        path++;
        const char *pend = strchrnul(pat, '/');
        if (*pat == '{' && pend > pat + 1 && pend[-1] == '}') {
                bool greedy = pend - pat >= 3 && pend[-2] == '*';
                const char *name = pat + 1;
                size_t name_len = (size_t)(pend - pat) - 2 - (greedy ? 1 : 0);
                if (req->n_params >= MAX_PARAMS)
                        return false;
                /* Candidate ends: the next '/' (or end), or for greedy every later '/' too. */
                const char *end = strchrnul(path, '/');
                for (;;) {
                        if (end > path) {
                                size_t idx = req->n_params;
                                req->params[idx].name = name;
                                req->params[idx].name_len = name_len;
                                req->params[idx].value = xstrndup(path, (size_t)(end - path));
                                req->n_params++;
                                if (match_segments(pend, end, req))
                                        return true;
                                req->n_params--;
                                free(req->params[idx].value);
                        }
                        if (!greedy || *end == '\0')
                                return false;
                        end = strchrnul(end + 1, '/');
                }
        }
        size_t seg = (size_t)(pend - pat);
        if (strncmp(pat, path, seg) != 0 || (path[seg] != '/' && path[seg] != '\0'))
                return false;
        return match_segments(pend, path + seg, req);
}

static bool method_matches(const char *route, const char *method)
{
        if (strcmp(route, method) == 0)
                return true;
        return strcmp(route, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

/* "/v1.41/info" -> version "1.41", rest "/info".  Returns false when no prefix. */
static bool split_version(const char *path, char **ret_version, const char **ret_rest)
{
        if (path[0] != '/' || path[1] != 'v')
                return false;
        const char *p = path + 2;
        const char *start = p;
        while ((*p >= '0' && *p <= '9') || *p == '.')
                p++;
        if (p == start || (*p != '/' && *p != '\0'))
                return false;
        *ret_version = xstrndup(start, (size_t)(p - start));
        *ret_rest = *p ? p : "/";
        return true;
}

/* Find the route for a parsed head: path, version and parameters are set, and
 * req->route is NULL when nothing matches.  dispatch() answers the errors. */
static void route_request(struct conn *c)
{
        struct api_request *req = &c->req;
        struct api_server *srv = c->srv;
        _cleanup_free_ char *decoded = http_unescape(req->http.path, strlen(req->http.path), false);
        if (!decoded) {
                req->bad_path = true;
                return;
        }
        const char *rest = decoded;
        if (!split_version(decoded, &req->version_str, &rest))
                rest = decoded;
        req->path = xstrdup(rest);
        req->version = version_to_int(req->version_str ? req->version_str : API_MAX_VERSION);
        for (size_t i = 0; i < srv->n_routes && !req->route; i++) {
                if (!method_matches(srv->routes[i].method, req->http.method))
                        continue;
                if (match_segments(srv->routes[i].pattern, req->path, req))
                        req->route = &srv->routes[i];
        }
}

/* The route will run (no routing or version error to answer). */
static bool route_runs(const struct api_request *req)
{
        const char *v = req->version_str;
        return !req->bad_path && req->route &&
               (!v || (api_version_compare(v, API_MIN_VERSION) >= 0 &&
                       api_version_compare(v, API_MAX_VERSION) <= 0));
}

static void dispatch(struct conn *c)
{
        struct api_request *req = &c->req;
        const char *version = req->version_str;
        if (req->bad_path) {
                api_reply_error(req, 400, "invalid escape in request path");
                return;
        }
        if (!req->route) {
                api_reply_error(req, 404, "page not found");
                return;
        }
        if (version) {
                if (api_version_compare(version, API_MIN_VERSION) < 0) {
                        api_reply_error(req, 400,
                                        "client version %s is too old. Minimum supported API "
                                        "version is %s, please upgrade your client to a newer "
                                        "version",
                                        version, API_MIN_VERSION);
                        return;
                }
                if (api_version_compare(version, API_MAX_VERSION) > 0) {
                        api_reply_error(req, 400,
                                        "client version %s is too new. Maximum supported API "
                                        "version is %s",
                                        version, API_MAX_VERSION);
                        return;
                }
        }
        req->route->handler(req, req->route->userdata);
        if (!c->hijacked && !req->answered)
                api_reply_error(req, 500, "handler for %s %s did not respond", req->http.method,
                                req->path);
}

/* ---- connections ---- */

static void conn_set_events(struct conn *c, uint32_t events, int op)
{
        struct epoll_event e = {.events = events, .data.ptr = c};
        if (epoll_ctl(c->srv->epfd, op, c->fd, &e) < 0)
                log_error("api: epoll_ctl on connection: %s", strerror(errno));
}

static void conn_unlink(struct conn *c)
{
        struct api_server *srv = c->srv;
        srv->n_conns--;
        if (c->prev)
                c->prev->next = c->next;
        else
                srv->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
}

static void conn_free(struct conn *c)
{
        request_reset(&c->req);
        buf_release(&c->in);
        buf_release(&c->out);
        free(c);
}

static void conn_close(struct conn *c)
{
        conn_unlink(c);
        if (c->fd >= 0)
                close(c->fd);
        conn_free(c);
}

/* Parser-level failure: answer with the status and close (the stream is out of sync). */
static void conn_fail(struct conn *c, int status, const char *msg)
{
        struct api_request *req = &c->req;
        if (!req->http.method) {
                /* No parsed head: fake enough of one for the formatter. */
                http_request_release(&req->http);
                req->http.method = "GET";
                req->http.target = "-";
                req->http.version_minor = 1;
        }
        c->close_after = true;
        req->answered = false;
        buf_release(&req->extra_headers);
        log_debug("api: bad request: %s", msg);
        struct json *j = json_new_object();
        json_set_str(j, "message", msg);
        _cleanup_free_ char *s = json_dump(j, 0);
        json_free(j);
        format_head(&c->out, req, status, "application/json", (long long)strlen(s) + 1, true);
        buf_puts(&c->out, s);
        buf_putc(&c->out, '\n');
        req->answered = true;
        c->in_off = c->in.len; /* discard whatever else came */
        if (!req->http.head) {
                req->http.method = NULL;
                req->http.target = NULL;
        }
        c->state = CONN_WRITE;
}

static bool conn_flush(struct conn *c)
{
        while (c->out_off < c->out.len) {
                ssize_t w =
                    send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return false;
                        c->close_after = true;
                        c->out_off = c->out.len;
                        break;
                }
                c->out_off += (size_t)w;
        }
        buf_release(&c->out);
        c->out_off = 0;
        return true;
}

/* The exchange is over: next request, or close. */
static void conn_next(struct conn *c)
{
        request_reset(&c->req);
        c->have_head = false;
        c->body_left = 0;
        memset(&c->chunked, 0, sizeof(c->chunked));
        c->request_started = mono_sec(); /* pipelined bytes may already be the next request */
        if (c->in_off >= c->in.len) {
                buf_release(&c->in); /* idle connections hold no buffer */
                c->in_off = 0;
        }
        c->state = CONN_READ;
}

/* Consume body bytes from the input buffer; true when the body is complete. */
static bool conn_read_body(struct conn *c, bool *failed)
{
        struct api_request *req = &c->req;
        size_t avail = c->in.len - c->in_off;
        size_t max = c->srv->config.max_body;
        if (req->http.body_kind == HTTP_BODY_LENGTH) {
                size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
                buf_append(&req->body, c->in.data + c->in_off, take);
                c->in_off += take;
                c->body_left -= take;
                return c->body_left == 0;
        }
        if (req->http.body_kind == HTTP_BODY_CHUNKED) {
                _cleanup_error_ struct berth_error *err = NULL;
                size_t used = 0, produced = 0;
                buf_grow(&req->body, avail);
                int r = http_chunked_decode(&c->chunked, c->in.data + c->in_off, avail,
                                            req->body.data + req->body.len, &used, &produced, &err);
                req->body.len += produced;
                req->body.data[req->body.len] = '\0';
                c->in_off += used;
                if (r < 0) {
                        conn_fail(c, 400, berth_error_msg(err));
                        *failed = true;
                        return false;
                }
                if (req->body.len > max) {
                        conn_fail(c, 413, "request body too large");
                        *failed = true;
                        return false;
                }
                return http_chunked_done(&c->chunked);
        }
        return true;
}

/* Parse one request and run its handler; false when more input is needed. */
static bool conn_handle_one(struct conn *c)
{
        struct api_server *srv = c->srv;
        struct api_request *req = &c->req;
        if (!c->have_head) {
                if (c->in.len == c->in_off)
                        return false;
                _cleanup_error_ struct berth_error *err = NULL;
                struct http_limits lim = {.max_head = srv->config.max_head};
                size_t used = 0;
                int r = http_parse_request(c->in.data + c->in_off, c->in.len - c->in_off, &lim,
                                           &req->http, &used, &err);
                if (r == 0)
                        return false;
                if (r < 0) {
                        conn_fail(c, http_error_status(r), berth_error_msg(err));
                        return true;
                }
                c->have_head = true;
                c->in_off += used;
                c->body_left =
                    req->http.body_kind == HTTP_BODY_LENGTH ? req->http.content_length : 0;
                route_request(c);
                req->body_streamed = route_runs(req) && req->route->stream_body;
                req->body_done = c->body_left == 0 && req->http.body_kind != HTTP_BODY_CHUNKED;
                if (c->body_left > srv->config.max_body && !req->body_streamed) {
                        conn_fail(c, 413, "request body too large");
                        return true;
                }
                if (req->http.expect_continue) {
                        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                        if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) !=
                            (ssize_t)sizeof(cont) - 1)
                                c->close_after = true;
                }
        }
        bool failed = false;
        if (!req->body_streamed && !conn_read_body(c, &failed))
                return failed;
        dispatch(c);
        /* A streamed body the handler left unread cannot be skipped reliably:
         * the connection closes after the answer. */
        if (req->body_streamed && !req->body_done && c->state != CONN_DETACHED && !c->hijacked)
                c->close_after = true;
        if (!c->hijacked && c->state == CONN_READ)
                c->state = CONN_WRITE;
        return true;
}

/*
 * Drive a connection as far as its buffered input and the socket allow:
 * answer requests one after another (pipelining, iteratively), write replies,
 * wait for more input or for EPOLLOUT.  Returns false when c was freed.
 */
static bool conn_process(struct conn *c)
{
        for (;;) {
                switch (c->state) {
                case CONN_DETACHED:
                        return true;
                case CONN_READ:
                        if (!conn_handle_one(c)) {
                                if (c->close_after) {
                                        conn_close(c); /* peer finished sending */
                                        return false;
                                }
                                return true;
                        }
                        if (c->hijacked) {
                                conn_unlink(c);
                                if (c->fd >= 0)
                                        close(c->fd);
                                conn_free(c);
                                return false;
                        }
                        break;
                case CONN_WRITE:
                        if (!conn_flush(c)) {
                                conn_set_events(c, EPOLLOUT, EPOLL_CTL_MOD);
                                return true;
                        }
                        if (c->close_after || atomic_load(&c->srv->stopping)) {
                                conn_close(c);
                                return false;
                        }
                        conn_next(c);
                        conn_set_events(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
                        break;
                }
        }
}

/* Close connections whose request has been arriving for longer than read_timeout_sec. */
static void sweep_stalled(struct api_server *srv)
{
        time_t now = mono_sec();
        for (struct conn *c = srv->conns, *next; c; c = next) {
                next = c->next;
                bool partial = c->in.len > c->in_off || c->have_head;
                if (c->state == CONN_READ && partial &&
                    now - c->request_started >= (time_t)srv->config.read_timeout_sec) {
                        log_debug("api: closing a connection whose request stalled");
                        conn_close(c);
                }
        }
}

static void conn_on_readable(struct conn *c)
{
        size_t limit = c->srv->config.max_head + c->srv->config.max_body + READ_CHUNK;
        for (;;) {
                if (c->in_off > 0) {
                        /* Keep unread bytes at the front so the buffer only grows for data. */
                        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
                        c->in.len -= c->in_off;
                        c->in_off = 0;
                }
                if (c->in.len - c->in_off > limit)
                        break; /* the parser will reject what is there */
                buf_grow(&c->in, READ_CHUNK);
                size_t room = c->in.cap - c->in.len - 1;
                ssize_t n = read(c->fd, c->in.data + c->in.len, room);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        conn_close(c);
                        return;
                }
                if (n == 0) {
                        /* The peer is done sending: answer what it asked, then close. */
                        c->close_after = true;
                        break;
                }
                if (c->in.len == c->in_off && !c->have_head)
                        c->request_started = mono_sec();
                c->in.len += (size_t)n;
                c->in.data[c->in.len] = '\0';
                if ((size_t)n < room)
                        break;
                /* A complete head: dispatch it before reading on (epoll is
                 * level-triggered), so a stream_body route reads its body from
                 * the socket rather than from a buffer the loop filled. */
                size_t from = c->in.len - (size_t)n;
                from = from >= c->in_off + 3 ? from - 3 : c->in_off;
                if (!c->have_head && memmem(c->in.data + from, c->in.len - from, "\r\n\r\n", 4))
                        break;
        }
        conn_process(c);
}

static void accept_all(struct api_server *srv, struct listener *l)
{
        for (;;) {
                int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN)
                                log_warn("api: accept on '%s': %s", l->path, strerror(errno));
                        return;
                }
                if (srv->n_conns >= API_MAX_CONNECTIONS) {
                        /* Past the cap a client gets a closed socket, not a slot. */
                        log_warn("api: %zu connections open, refusing another", srv->n_conns);
                        close(fd);
                        continue;
                }
                srv->n_conns++;
                struct conn *c = xcalloc(1, sizeof(*c));
                c->ev.kind = EV_CONN;
                c->fd = fd;
                c->srv = srv;
                c->req.conn = c;
                c->next = srv->conns;
                if (srv->conns)
                        srv->conns->prev = c;
                srv->conns = c;
                conn_set_events(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
        }
}

/* Connections that streams handed back. */
static void take_returned(struct api_server *srv)
{
        pthread_mutex_lock(&srv->returned_lock);
        struct conn *list = srv->returned;
        srv->returned = NULL;
        pthread_mutex_unlock(&srv->returned_lock);
        while (list) {
                struct conn *c = list;
                list = c->returned_next;
                srv->n_detached--;
                if (c->stream_error || c->stream_close || atomic_load(&srv->stopping)) {
                        conn_close(c);
                        continue;
                }
                set_blocking(c->fd, false);
                conn_next(c);
                conn_set_events(c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
                conn_process(c);
        }
}

static void handle_event(struct api_server *srv, struct epoll_event *e)
{
        struct ev *ev = e->data.ptr;
        switch (ev->kind) {
        case EV_LISTENER:
                accept_all(srv, (struct listener *)ev);
                break;
        case EV_WATCH: {
                struct watch *w = (struct watch *)ev;
                w->cb(srv, w->fd, w->userdata);
                break;
        }
        case EV_SWEEP: {
                uint64_t v;
                (void)!read(srv->sweepfd, &v, sizeof(v));
                sweep_stalled(srv);
                break;
        }
        case EV_WAKE: {
                uint64_t v;
                (void)!read(srv->wakefd, &v, sizeof(v));
                take_returned(srv);
                break;
        }
        case EV_CONN: {
                struct conn *c = (struct conn *)ev;
                if (c->state == CONN_WRITE)
                        conn_process(c);
                else if (c->state == CONN_READ)
                        conn_on_readable(c);
                break;
        }
        }
}

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stop accepting, close idle connections, let queued replies and streams finish. */
static void shutdown_server(struct api_server *srv)
{
        while (srv->listeners) {
                struct listener *l = srv->listeners;
                srv->listeners = l->next;
                (void)epoll_ctl(srv->epfd, EPOLL_CTL_DEL, l->fd, NULL);
                listener_close(l);
                free(l);
        }
        long long start = now_ms();
        bool streams_cut = false;
        for (;;) {
                /* Idle or half-read connections go now; writers get FLUSH_GRACE_MS. */
                bool writers = false;
                for (struct conn *c = srv->conns, *next; c; c = next) {
                        next = c->next;
                        if (c->state == CONN_READ)
                                conn_close(c);
                        else if (c->state == CONN_WRITE)
                                writers = true;
                }
                long long elapsed = now_ms() - start;
                if (!writers && srv->n_detached == 0)
                        return;
                if (elapsed > API_SHUTDOWN_GRACE_MS && !streams_cut) {
                        log_warn("api: shutting down %zu streams still open", srv->n_detached);
                        for (struct conn *c = srv->conns; c; c = c->next)
                                if (c->state == CONN_DETACHED)
                                        shutdown(c->fd, SHUT_RDWR);
                        streams_cut = true;
                }
                if (elapsed > API_SHUTDOWN_GRACE_MS + FLUSH_GRACE_MS) {
                        for (struct conn *c = srv->conns, *next; c; c = next) {
                                next = c->next;
                                if (c->state == CONN_WRITE)
                                        conn_close(c);
                        }
                        if (srv->n_detached == 0)
                                return;
                        log_warn("api: %zu streams did not end", srv->n_detached);
                        return;
                }
                struct epoll_event evs[16];
                int n = epoll_wait(srv->epfd, evs, ELEMENTSOF(evs), 100);
                for (int i = 0; i < n; i++) {
                        struct ev *ev = evs[i].data.ptr;
                        if (ev->kind == EV_WATCH)
                                continue; /* no more signal handling while stopping */
                        handle_event(srv, &evs[i]);
                }
        }
}

int api_server_run(struct api_server *srv, struct berth_error **err)
{
        struct epoll_event evs[32];
        while (!atomic_load(&srv->stopping)) {
                int n = epoll_wait(srv->epfd, evs, ELEMENTSOF(evs), -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_error_sys(err, errno, "epoll_wait");
                }
                for (int i = 0; i < n; i++) {
                        handle_event(srv, &evs[i]);
                        /* A callback may have freed connections named later in evs;
                         * the only one that frees others is shutdown, handled below. */
                        if (atomic_load(&srv->stopping))
                                break;
                }
        }
        shutdown_server(srv);
        return 0;
}

int api_engine_status(int r)
{
        switch (-r) {
        case ENOENT:
                return 404;
        case EINVAL:
                return 400;
        case EBUSY:
        case EEXIST:
                return 409;
        case EALREADY:
                return 304;
        case ENOTSUP:
                return 501;
        default:
                return 500;
        }
}

struct deferred {
        struct api_stream *s;
        void (*fn)(struct api_stream *s, void *arg);
        void *arg;
};

static void *deferred_main(void *p)
{
        struct deferred *d = p;
        d->fn(d->s, d->arg);
        api_stream_end(d->s);
        free(d);
        return NULL;
}

void api_defer(struct api_request *req, void (*fn)(struct api_stream *s, void *arg), void *arg)
{
        struct deferred *d = xcalloc(1, sizeof(*d));
        d->s = api_stream_detach(req);
        d->fn = fn;
        d->arg = arg;
        if (api_worker_spawn(deferred_main, d) < 0) {
                api_stream_reply_error(d->s, 500, "cannot start a worker thread");
                api_stream_end(d->s);
                free(d);
        }
}
