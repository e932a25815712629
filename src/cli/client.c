/*
 * client.c — requests to berthd over its unix socket (contract in client.h).
 *
 * A request is written whole (an upload's body streamed from its fd: with
 * Content-Length for a regular file, chunked for a pipe), then the response
 * head is read and parsed
 * (api/http.c, the same syntax rules as the server), then the body according
 * to its framing: Content-Length, chunked (decoded in place with
 * http_chunked_decode), or until EOF.  A connection the server may keep is
 * kept for the next request; if writing the next request finds it closed,
 * the request is sent once more on a fresh connection (only when nothing of
 * the response was read, so a request is never answered twice).
 *
 * Auto-start runs berthd (next to berth, else on PATH; without one the error
 * says so, and nothing claims a start) detached (setsid, stdio to a log file)
 * and polls the socket; if berthd exits first, the last line of its log is the
 * error.
 */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "api/http.h"
#include "base/buf.h"
#include "base/fileio.h"
#include "client.h"
#include "engine/config.h"

#define MAX_RESPONSE_HEAD (1024 * 1024)
#define AUTOSTART_LOG     "/run/berth/berthd.log"
#define AUTOSTART_WAIT_MS 15000

static int parse_host(const char *h, char **ret_path, struct berth_error **err)
{
        if (strncmp(h, "unix://", 7) == 0) {
                if (h[7] != '/')
                        return berth_error_set(
                            err, EINVAL, "invalid host '%s': socket path must be absolute", h);
                *ret_path = xstrdup(h + 7);
                return 0;
        }
        if (h[0] == '/') {
                *ret_path = xstrdup(h);
                return 0;
        }
        return berth_error_set(err, EINVAL,
                               "unsupported host '%s': berth only talks to unix:// sockets", h);
}

int cli_client_init(struct cli_client *c, const char *host_flag, struct berth_error **err)
{
        memset(c, 0, sizeof(*c));
        c->fd = -EBADF;
        const char *h = host_flag;
        if (!h || !*h)
                h = getenv("BERTH_HOST");
        if (!h || !*h)
                h = getenv("DOCKER_HOST");
        if (!h || !*h) {
                h = BERTH_DEFAULT_HOST;
                c->may_autostart = true;
        }
        int r = parse_host(h, &c->socket_path, err);
        if (r < 0)
                return r;
        c->host = h[0] == '/' ? xasprintf("unix://%s", h) : xstrdup(h);
        return 0;
}

static void disconnect(struct cli_client *c)
{
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -EBADF;
        free(c->pending);
        c->pending = NULL;
        c->pending_len = 0;
}

void cli_client_release(struct cli_client *c)
{
        disconnect(c);
        free(c->host);
        free(c->socket_path);
        memset(c, 0, sizeof(*c));
        c->fd = -EBADF;
}

void cli_response_release(struct cli_response *r)
{
        free(r->body);
        free(r->content_type);
        memset(r, 0, sizeof(*r));
}

static int dial(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* ---- one exchange ---- */

struct exchange {
        cli_data_fn on_data;
        void *userdata;
        struct berth_buf *collect; /* when buffering */
        int status;
        char *content_type;
        char api_version[16]; /* the Api-Version header, "" when absent */
        bool upload;          /* the body comes from upload_fd */
        int upload_fd;
        const char *extra_headers; /* whole header lines ("Connection: Upgrade\r\n…"), or NULL */
};

static int collect_fn(const char *data, size_t len, void *userdata)
{
        buf_append(userdata, data, len);
        return 0;
}

/* Read more bytes into b; 0 on EOF, >0 bytes read, <0 error. */
static ssize_t read_more(int fd, struct berth_buf *b)
{
        buf_grow(b, 16384);
        for (;;) {
                ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                b->len += (size_t)n;
                b->data[b->len] = '\0';
                return n;
        }
}

/* The body of an upload, from fd: with its length when fd is a regular file,
 * chunked otherwise (a pipe). */
static int send_upload(int sock, int fd, bool sized)
{
        enum { PIECE = 1 << 20 };
        if (sized) {
                /* A regular file: the kernel copies it to the socket. */
                for (;;) {
                        ssize_t n = sendfile(sock, fd, NULL, PIECE);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && (errno == EINVAL || errno == ENOSYS))
                                break; /* not for this pair: copy below */
                        if (n <= 0)
                                return n < 0 ? -errno : 0;
                }
        }
        char *buf = xmalloc(PIECE + 16);
        int r = 0;
        for (;;) {
                /* Room for the chunk-size line before the data. */
                ssize_t n = read(fd, buf + 16, PIECE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0) {
                        if (!sized)
                                r = write_all(sock, "0\r\n\r\n", 5);
                        break;
                }
                char *start = buf + 16;
                size_t len = (size_t)n;
                if (!sized) {
                        char line[16];
                        int l = snprintf(line, sizeof(line), "%zx\r\n", len);
                        start -= l;
                        memcpy(start, line, (size_t)l);
                        len += (size_t)l;
                }
                if ((r = write_all(sock, start, len)) < 0)
                        break;
                if (!sized && (r = write_all(sock, "\r\n", 2)) < 0)
                        break;
        }
        free(buf);
        return r;
}

static int send_request(struct cli_client *c, const char *method, const char *path,
                        const char *query, const char *content_type, const void *body,
                        size_t body_len, const struct exchange *x)
{
        struct berth_buf req = BERTH_BUF_INIT;
        buf_printf(&req, "%s ", method);
        if (c->negotiated && strcmp(path, "/_ping") != 0)
                buf_printf(&req, "/v%s", c->api_version);
        buf_puts(&req, path);
        if (query && *query)
                buf_printf(&req, "?%s", query);
        buf_printf(
            &req,
            " HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: Berth-Client/%s (linux)\r\n",
            BERTH_VERSION);
        if (content_type)
                buf_printf(&req, "Content-Type: %s\r\n", content_type);
        if (c->registry_auth && strcmp(path, "/_ping") != 0)
                buf_printf(&req, "X-Registry-Auth: %s\r\n", c->registry_auth);
        if (c->registry_config && strcmp(path, "/_ping") != 0)
                buf_printf(&req, "X-Registry-Config: %s\r\n", c->registry_config);
        if (x->extra_headers)
                buf_puts(&req, x->extra_headers);
        struct stat st;
        bool sized = false;
        if (x->upload) {
                off_t pos = lseek(x->upload_fd, 0, SEEK_CUR);
                sized = fstat(x->upload_fd, &st) == 0 && S_ISREG(st.st_mode) && pos >= 0 &&
                        st.st_size >= pos;
                if (sized)
                        buf_printf(&req, "Content-Length: %lld\r\n", (long long)(st.st_size - pos));
                else
                        buf_puts(&req, "Transfer-Encoding: chunked\r\n");
        } else if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
                buf_printf(&req, "Content-Length: %zu\r\n", body_len);
        }
        buf_puts(&req, "\r\n");
        if (body_len && !x->upload)
                buf_append(&req, body, body_len);
        int r = write_all(c->fd, req.data, req.len);
        buf_release(&req);
        if (r == 0 && x->upload)
                r = send_upload(c->fd, x->upload_fd, sized);
        return r;
}

static int deliver(struct exchange *x, const char *data, size_t len)
{
        if (!len)
                return 0;
        return x->on_data(data, len, x->userdata);
}

/* Read the response to one request; *ret_started when any byte arrived. */
static int read_response(struct cli_client *c, const char *method, struct exchange *x,
                         bool *ret_started, struct berth_error **err)
{
        struct berth_buf in = BERTH_BUF_INIT;
        if (c->pending_len) {
                buf_append(&in, c->pending, c->pending_len);
                free(c->pending);
                c->pending = NULL;
                c->pending_len = 0;
        }
        struct http_response resp;
        struct http_limits lim = {.max_head = MAX_RESPONSE_HEAD};
        size_t head_len = 0;
        int r;
        *ret_started = in.len > 0;
        for (;;) {
                r = in.len
                        ? http_parse_response(in.data, in.len, &lim, method, &resp, &head_len, err)
                        : 0;
                if (r < 0)
                        goto out;
                if (r > 0)
                        break;
                ssize_t n = read_more(c->fd, &in);
                if (n <= 0) {
                        r = n < 0 ? berth_error_sys(err, (int)-n, "read from daemon")
                                  : berth_error_set(err, ECONNRESET,
                                                    "the daemon closed the connection");
                        goto out;
                }
                *ret_started = true;
        }
        x->status = resp.status;
        const char *ct = http_response_header(&resp, "Content-Type");
        x->content_type = ct ? xstrdup(ct) : NULL;
        const char *av = http_response_header(&resp, "Api-Version");
        snprintf(x->api_version, sizeof(x->api_version), "%s", av ? av : "");

        size_t off = head_len;
        if (resp.body_kind == HTTP_BODY_LENGTH) {
                uint64_t left = resp.content_length;
                for (;;) {
                        size_t avail = in.len - off;
                        size_t take = avail < left ? avail : (size_t)left;
                        if ((r = deliver(x, in.data + off, take)) < 0)
                                goto out_resp;
                        off += take;
                        left -= take;
                        if (!left)
                                break;
                        in.len = off = 0;
                        ssize_t n = read_more(c->fd, &in);
                        if (n <= 0) {
                                r = berth_error_set(err, ECONNRESET,
                                                    "unexpected EOF from the daemon");
                                goto out_resp;
                        }
                }
        } else if (resp.body_kind == HTTP_BODY_CHUNKED) {
                struct http_chunked ch = {0};
                for (;;) {
                        size_t used = 0, produced = 0;
                        r = http_chunked_decode(&ch, in.data + off, in.len - off, in.data + off,
                                                &used, &produced, err);
                        if (r < 0)
                                goto out_resp;
                        if ((r = deliver(x, in.data + off, produced)) < 0)
                                goto out_resp;
                        off += used;
                        if (http_chunked_done(&ch))
                                break;
                        in.len = off = 0;
                        ssize_t n = read_more(c->fd, &in);
                        if (n <= 0) {
                                r = berth_error_set(err, ECONNRESET,
                                                    "unexpected EOF from the daemon");
                                goto out_resp;
                        }
                }
        } else if (resp.until_close) {
                for (;;) {
                        if ((r = deliver(x, in.data + off, in.len - off)) < 0)
                                goto out_resp;
                        in.len = off = 0;
                        ssize_t n = read_more(c->fd, &in);
                        if (n < 0) {
                                r = berth_error_sys(err, (int)-n, "read from daemon");
                                goto out_resp;
                        }
                        if (n == 0)
                                break;
                }
        }
        r = 0;
        if (resp.keep_alive && in.len > off) {
                c->pending_len = in.len - off;
                c->pending = xmalloc(c->pending_len);
                memcpy(c->pending, in.data + off, c->pending_len);
        }
out_resp:
        if (r < 0 || !resp.keep_alive)
                disconnect(c);
        http_response_release(&resp);
out:
        if (r < 0)
                disconnect(c);
        buf_release(&in);
        return r;
}

/*
 * docker's words for a socket the user may not open, with the request as Go's HTTP client
 * names it: permission denied while trying to connect to the … daemon socket at
 * unix:///x.sock: Head "http://%2Fx.sock/_ping": dial unix /x.sock: connect: permission denied
 */
static int permission_denied(struct cli_client *c, const char *method, const char *path,
                             const char *query, int code, struct berth_error **err)
{
        _cleanup_buf_ struct berth_buf url = BERTH_BUF_INIT;
        buf_puts(&url, "http://");
        for (const unsigned char *p = (const unsigned char *)c->socket_path; *p; p++) {
                /* Go escapes a host's characters but for letters, digits and these */
                if (isalnum(*p) || strchr("-._~!$&'()*+,;=:[]<>\"", *p))
                        buf_putc(&url, (char)*p);
                else
                        buf_printf(&url, "%%%02X", *p);
        }
        if (c->negotiated && strcmp(path, "/_ping") != 0)
                buf_printf(&url, "/v%s", c->api_version);
        buf_puts(&url, path);
        if (query && *query)
                buf_printf(&url, "?%s", query);
        /* Go's url.Error names the method as "Head", "Get", "Post" */
        _cleanup_free_ char *op = xstrdup(method);
        for (char *p = op + 1; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return berth_error_set(err, code,
                               "permission denied while trying to connect to the Berth daemon "
                               "socket at %s: %s \"%s\": dial unix %s: connect: permission denied",
                               c->host, op, url.data, c->socket_path);
}

static int exchange(struct cli_client *c, const char *method, const char *path, const char *query,
                    const char *content_type, const void *body, size_t body_len, struct exchange *x,
                    struct berth_error **err)
{
        for (int attempt = 0;; attempt++) {
                /* An upload cannot be sent twice: always on a fresh connection. */
                if (x->upload && c->fd >= 0)
                        disconnect(c);
                bool reused = c->fd >= 0;
                if (!reused) {
                        int fd = dial(c->socket_path);
                        if (fd == -EACCES || fd == -EPERM)
                                return permission_denied(c, method, path, query, -fd, err);
                        if (fd < 0)
                                return berth_error_set(err, -fd,
                                                       "Cannot connect to the Berth daemon at %s. "
                                                       "Is the berth daemon running?",
                                                       c->host);
                        c->fd = fd;
                }
                int r = send_request(c, method, path, query, content_type, body, body_len, x);
                bool started = false;
                _cleanup_error_ struct berth_error *e = NULL;
                /* The daemon may answer (an error) before taking a whole upload. */
                if (r == 0 || (x->upload && (r == -EPIPE || r == -ECONNRESET)))
                        r = read_response(c, method, x, &started, &e);
                else
                        disconnect(c);
                if (r == 0)
                        return 0;
                /* A kept connection the daemon closed meanwhile: retry once, fresh. */
                if (reused && !started && attempt == 0)
                        continue;
                if (e)
                        return berth_error_set(err, e->code, "%s", e->msg);
                return berth_error_sys(err, -r, "send request to the daemon");
        }
}

static int negotiate(struct cli_client *c, struct berth_error **err)
{
        struct berth_buf sink = BERTH_BUF_INIT;
        struct exchange x = {.on_data = collect_fn, .userdata = &sink};
        int r = exchange(c, "HEAD", "/_ping", NULL, NULL, NULL, 0, &x, err);
        if (r == 0 && x.status != 200 && x.status != 500) {
                free(x.content_type);
                x.content_type = NULL;
                r = exchange(c, "GET", "/_ping", NULL, NULL, NULL, 0, &x, err);
        }
        free(x.content_type);
        buf_release(&sink);
        if (r < 0)
                return r;
        /* docker: min(ours, the server's); no header means the oldest, 1.24. */
        snprintf(c->server_api_version, sizeof(c->server_api_version), "%s", x.api_version);
        const char *v = x.api_version[0] ? x.api_version : CLI_API_MIN_DEFAULT;
        if (api_version_compare(v, CLI_API_VERSION) > 0)
                v = CLI_API_VERSION;
        snprintf(c->api_version, sizeof(c->api_version), "%s", v);
        c->negotiated = true;
        return 0;
}

/* berthd next to this binary (build tree or install dir), else from $PATH; ret_self gets
 * this binary's path for the message when there is none. */
static char *find_berthd(char **ret_self)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0)
                self[n] = '\0';
        *ret_self = xstrdup(n > 0 ? self : "berth");
        if (n > 0) {
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        char *p = xasprintf("%s/berthd", self);
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                }
        }
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy =
            xstrdup(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *p = xasprintf("%s/berthd", d);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

static char *last_log_line(const char *path)
{
        _cleanup_free_ char *s = NULL;
        size_t len = 0;
        if (read_file_at(AT_FDCWD, path, 1024 * 1024, &s, &len) < 0 || len == 0)
                return NULL;
        while (len && s[len - 1] == '\n')
                s[--len] = '\0';
        char *nl = strrchr(s, '\n');
        return xstrdup(nl ? nl + 1 : s);
}

static int autostart(struct cli_client *c, const char *berthd, struct berth_error **err)
{
        (void)mkdir_p("/run/berth", 0711);
        int logfd = open(AUTOSTART_LOG, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (logfd < 0)
                return berth_error_sys(err, errno, "open '%s'", AUTOSTART_LOG);
        off_t log_start = lseek(logfd, 0, SEEK_END);
        pid_t pid = fork();
        if (pid < 0) {
                close(logfd);
                return berth_error_sys(err, errno, "fork");
        }
        if (pid == 0) {
                setsid();
                int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (nul >= 0)
                        dup2(nul, STDIN_FILENO);
                dup2(logfd, STDOUT_FILENO);
                dup2(logfd, STDERR_FILENO);
                signal(SIGPIPE, SIG_DFL);
                execl(berthd, "berthd", (char *)NULL);
                _exit(127);
        }
        close(logfd);
        (void)log_start;

        for (int waited = 0; waited < AUTOSTART_WAIT_MS; waited += 50) {
                int fd = dial(c->socket_path);
                if (fd >= 0) {
                        close(fd);
                        return 0;
                }
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        _cleanup_free_ char *line = last_log_line(AUTOSTART_LOG);
                        return berth_error_set(err, ECHILD, "berthd exited before it answered: %s",
                                               line ? line : "no output");
                }
                struct timespec ts = {0, 50 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        return berth_error_set(err, ETIMEDOUT,
                               "berthd did not answer on %s within %d seconds (log: %s)", c->host,
                               AUTOSTART_WAIT_MS / 1000, AUTOSTART_LOG);
}

int cli_client_connect(struct cli_client *c, bool *ret_autostarted, struct berth_error **err)
{
        if (ret_autostarted)
                *ret_autostarted = false;
        if (c->negotiated)
                return 0;
        _cleanup_error_ struct berth_error *e = NULL;
        int r = negotiate(c, &e);
        if (r == 0)
                return 0;
        bool absent = e && (e->code == ENOENT || e->code == ECONNREFUSED);
        if (!absent || !c->may_autostart || geteuid() != 0 || getenv("BERTH_NO_AUTOSTART"))
                return berth_error_set(err, e ? e->code : -r, "%s", berth_error_msg(e));
        _cleanup_free_ char *self = NULL;
        _cleanup_free_ char *berthd = find_berthd(&self);
        if (!berthd)
                return berth_error_set(err, e->code,
                                       "%s berthd was found neither next to %s nor on PATH, so it "
                                       "cannot be started",
                                       berth_error_msg(e), self);
        if (c->notify) {
                _cleanup_free_ char *msg = xasprintf(
                    "the daemon is not running; starting berthd in the background (log: %s)",
                    AUTOSTART_LOG);
                c->notify(msg);
        }
        r = autostart(c, berthd, err);
        if (r < 0)
                return r;
        if (ret_autostarted)
                *ret_autostarted = true;
        return negotiate(c, err);
}

int cli_client_request(struct cli_client *c, const char *method, const char *path,
                       const char *query, const char *content_type, const void *body,
                       size_t body_len, struct cli_response *ret, struct berth_error **err)
{
        memset(ret, 0, sizeof(*ret));
        int r = cli_client_connect(c, NULL, err);
        if (r < 0)
                return r;
        struct berth_buf b = BERTH_BUF_INIT;
        struct exchange x = {.on_data = collect_fn, .userdata = &b};
        r = exchange(c, method, path, query, content_type, body, body_len, &x, err);
        if (r < 0) {
                buf_release(&b);
                free(x.content_type);
                return r;
        }
        ret->status = x.status;
        ret->content_type = x.content_type;
        ret->len = b.len;
        ret->body = buf_steal(&b);
        return 0;
}

struct stream_ctx {
        struct exchange *x;
        int *ret_status;
        cli_data_fn fn;
        void *userdata;
};

static int stream_fn(const char *data, size_t len, void *userdata)
{
        struct stream_ctx *s = userdata;
        *s->ret_status = s->x->status;
        return s->fn(data, len, s->userdata);
}

/* A streamed exchange; the body comes from body_fd when it is >= 0. */
static int stream_exchange(struct cli_client *c, const char *method, const char *path,
                           const char *query, const char *content_type, const void *body,
                           size_t body_len, int body_fd, int *ret_status, cli_data_fn on_data,
                           void *userdata, struct berth_error **err)
{
        int r = cli_client_connect(c, NULL, err);
        if (r < 0)
                return r;
        struct exchange x = {.upload = body_fd >= 0, .upload_fd = body_fd};
        struct stream_ctx s = {&x, ret_status, on_data, userdata};
        x.on_data = stream_fn;
        x.userdata = &s;
        r = exchange(c, method, path, query, content_type, body, body_len, &x, err);
        *ret_status = x.status;
        free(x.content_type);
        return r;
}

int cli_client_stream(struct cli_client *c, const char *method, const char *path, const char *query,
                      const char *content_type, const void *body, size_t body_len, int *ret_status,
                      cli_data_fn on_data, void *userdata, struct berth_error **err)
{
        return stream_exchange(c, method, path, query, content_type, body, body_len, -1, ret_status,
                               on_data, userdata, err);
}

int cli_client_upload(struct cli_client *c, const char *path, const char *query,
                      const char *content_type, int body_fd, int *ret_status, cli_data_fn on_data,
                      void *userdata, struct berth_error **err)
{
        return stream_exchange(c, "POST", path, query, content_type, NULL, 0, body_fd, ret_status,
                               on_data, userdata, err);
}

int cli_client_send_fd(struct cli_client *c, const char *method, const char *path,
                       const char *query, const char *content_type, int body_fd, int *ret_status,
                       cli_data_fn on_data, void *userdata, struct berth_error **err)
{
        return stream_exchange(c, method, path, query, content_type, NULL, 0, body_fd, ret_status,
                               on_data, userdata, err);
}

char *cli_error_message(const struct cli_response *r)
{
        _cleanup_json_ struct json *j = NULL;
        if (r->body && json_parse(r->body, r->len, &j, NULL) == 0) {
                const char *m = json_str(json_get(j, "message"));
                if (m)
                        return xstrdup(m);
        }
        if (r->body && r->len) {
                char *s = xstrndup(r->body, r->len);
                s[strcspn(s, "\n")] = '\0';
                return s;
        }
        return xasprintf("%d %s", r->status, http_reason(r->status));
}

/* ---- connections of their own: hijacked streams and bodies read piece by piece ----
 *
 * Containers need several exchanges at once (docker's run holds attach, wait and
 * start/resize/kill on three connections).  Each helper below dials a connection of
 * its own, sends the request with send_request() and parses only the response head;
 * what follows the head is handed to the caller: the raw socket after a 101, or a
 * cli_stream that decodes the body (chunked, sized or until EOF) as it is read.
 */

struct cli_stream {
        int fd;
        int status;
        char *content_type;
        enum http_body_kind kind;
        bool until_close;
        uint64_t left; /* HTTP_BODY_LENGTH: body bytes still to come */
        struct http_chunked ch;
        struct berth_buf raw;  /* received, not yet decoded */
        struct berth_buf body; /* decoded, not yet read */
        size_t body_off;
        bool ended;               /* the body is complete (or the peer closed) */
        struct berth_buf headers; /* the head's headers: "name\0value\0" each */
};

void cli_client_clone(struct cli_client *dst, const struct cli_client *src)
{
        memset(dst, 0, sizeof(*dst));
        dst->fd = -EBADF;
        dst->host = xstrdup(src->host);
        dst->socket_path = xstrdup(src->socket_path);
        dst->negotiated = src->negotiated;
        memcpy(dst->api_version, src->api_version, sizeof(dst->api_version));
        memcpy(dst->server_api_version, src->server_api_version, sizeof(dst->server_api_version));
        dst->notify = src->notify;
}

/* Send one request on a new connection and read the response head; the bytes that
 * followed the head stay in *rest. */
static int open_exchange(struct cli_client *c, const char *method, const char *path,
                         const char *query, const char *content_type, const void *body,
                         size_t body_len, const char *extra_headers, int *ret_fd,
                         struct http_response *ret_head, struct berth_buf *rest,
                         struct berth_error **err)
{
        int r = cli_client_connect(c, NULL, err);
        if (r < 0)
                return r;
        int fd = dial(c->socket_path);
        if (fd < 0)
                return berth_error_set(err, -fd,
                                       "Cannot connect to the Berth daemon at %s. Is the berth "
                                       "daemon running?",
                                       c->host);
        struct cli_client one = *c; /* send_request writes to one.fd */
        one.fd = fd;
        struct exchange x = {.extra_headers = extra_headers};
        r = send_request(&one, method, path, query, content_type, body, body_len, &x);
        if (r < 0) {
                close(fd);
                return berth_error_sys(err, -r, "send request to the daemon");
        }
        struct berth_buf in = BERTH_BUF_INIT;
        struct http_limits lim = {.max_head = MAX_RESPONSE_HEAD};
        size_t head_len = 0;
        for (;;) {
                r = in.len ? http_parse_response(in.data, in.len, &lim, method, ret_head, &head_len,
                                                 err)
                           : 0;
                if (r < 0)
                        break;
                if (r > 0) {
                        r = 0;
                        break;
                }
                ssize_t n = read_more(fd, &in);
                if (n <= 0) {
                        r = n < 0 ? berth_error_sys(err, (int)-n, "read from daemon")
                                  : berth_error_set(err, ECONNRESET,
                                                    "the daemon closed the connection");
                        break;
                }
        }
        if (r < 0) {
                close(fd);
                buf_release(&in);
                return r;
        }
        buf_append(rest, in.data + head_len, in.len - head_len);
        buf_release(&in);
        *ret_fd = fd;
        return 0;
}

static struct cli_stream *stream_new(int fd, const struct http_response *head)
{
        struct cli_stream *s = xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->status = head->status;
        const char *ct = http_response_header(head, "Content-Type");
        s->content_type = ct ? xstrdup(ct) : NULL;
        s->kind = head->body_kind;
        s->until_close = head->until_close;
        s->left = head->content_length;
        s->ended = s->kind == HTTP_BODY_NONE && !s->until_close;
        for (size_t i = 0; i < head->n_headers; i++) {
                buf_append(&s->headers, head->headers[i].name, strlen(head->headers[i].name) + 1);
                buf_append(&s->headers, head->headers[i].value, strlen(head->headers[i].value) + 1);
        }
        return s;
}

const char *cli_stream_header(const struct cli_stream *s, const char *name)
{
        for (size_t off = 0; off < s->headers.len;) {
                const char *n = s->headers.data + off;
                const char *v = n + strlen(n) + 1;
                if (strcasecmp(n, name) == 0)
                        return v;
                off = (size_t)(v + strlen(v) + 1 - s->headers.data);
        }
        return NULL;
}

/* Decode what raw holds into body. */
static int stream_decode(struct cli_stream *s, struct berth_error **err)
{
        if (!s->raw.len)
                return 0;
        if (s->kind == HTTP_BODY_CHUNKED) {
                size_t used = 0, produced = 0;
                int r = http_chunked_decode(&s->ch, s->raw.data, s->raw.len, s->raw.data, &used,
                                            &produced, err);
                if (r < 0)
                        return r;
                buf_append(&s->body, s->raw.data, produced);
                memmove(s->raw.data, s->raw.data + used, s->raw.len - used);
                s->raw.len -= used;
                if (http_chunked_done(&s->ch))
                        s->ended = true;
                return 0;
        }
        size_t take = s->raw.len;
        if (s->kind == HTTP_BODY_LENGTH) {
                if (take > s->left)
                        take = (size_t)s->left;
                s->left -= take;
                if (!s->left)
                        s->ended = true;
        }
        buf_append(&s->body, s->raw.data, take);
        s->raw.len = 0;
        return 0;
}

int cli_client_open_stream(struct cli_client *c, const char *method, const char *path,
                           const char *query, const char *content_type, const void *body,
                           size_t body_len, struct cli_stream **ret, struct berth_error **err)
{
        struct http_response head;
        struct berth_buf rest = BERTH_BUF_INIT;
        int fd = -EBADF;
        int r = open_exchange(c, method, path, query, content_type, body, body_len, NULL, &fd,
                              &head, &rest, err);
        if (r < 0)
                return r;
        struct cli_stream *s = stream_new(fd, &head);
        http_response_release(&head);
        s->raw = rest;
        r = stream_decode(s, err);
        if (r < 0) {
                cli_stream_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int cli_stream_status(const struct cli_stream *s)
{
        return s->status;
}

int cli_stream_fd(const struct cli_stream *s)
{
        return s->fd;
}

bool cli_stream_ready(const struct cli_stream *s)
{
        return s->body.len > s->body_off || s->ended;
}

ssize_t cli_stream_read(struct cli_stream *s, char *buf, size_t n, struct berth_error **err)
{
        for (;;) {
                size_t avail = s->body.len - s->body_off;
                if (avail) {
                        size_t take = avail < n ? avail : n;
                        memcpy(buf, s->body.data + s->body_off, take);
                        s->body_off += take;
                        if (s->body_off == s->body.len)
                                s->body.len = s->body_off = 0;
                        return (ssize_t)take;
                }
                if (s->ended)
                        return 0;
                ssize_t got = read_more(s->fd, &s->raw);
                if (got < 0)
                        return berth_error_sys(err, (int)-got, "read from daemon");
                if (got == 0) {
                        if (!s->until_close)
                                return berth_error_set(err, ECONNRESET,
                                                       "unexpected EOF from the daemon");
                        s->ended = true;
                        return 0;
                }
                int r = stream_decode(s, err);
                if (r < 0)
                        return r;
                if (s->body.len == s->body_off && !s->ended)
                        return -EAGAIN; /* framing only: poll again */
        }
}

int cli_stream_read_all(struct cli_stream *s, size_t max, struct berth_buf *out,
                        struct berth_error **err)
{
        char piece[16384];
        for (;;) {
                ssize_t n = cli_stream_read(s, piece, sizeof(piece), err);
                if (n == -EAGAIN)
                        continue;
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return 0;
                if (out->len + (size_t)n > max)
                        return berth_error_set(err, EFBIG, "response from the daemon too large");
                buf_append(out, piece, (size_t)n);
        }
}

void cli_stream_free(struct cli_stream *s)
{
        if (!s)
                return;
        if (s->fd >= 0)
                close(s->fd);
        free(s->content_type);
        buf_release(&s->raw);
        buf_release(&s->body);
        buf_release(&s->headers);
        free(s);
}

int cli_client_hijack(struct cli_client *c, const char *path, const char *query,
                      const char *content_type, const void *body, size_t body_len, int *ret_fd,
                      struct berth_buf *ret_early, struct cli_response *ret_resp,
                      struct berth_error **err)
{
        memset(ret_resp, 0, sizeof(*ret_resp));
        *ret_fd = -EBADF;
        struct http_response head;
        struct berth_buf rest = BERTH_BUF_INIT;
        int fd = -EBADF;
        int r = open_exchange(c, "POST", path, query, content_type, body, body_len,
                              "Connection: Upgrade\r\nUpgrade: tcp\r\n", &fd, &head, &rest, err);
        if (r < 0)
                return r;
        if (head.status == 101) {
                http_response_release(&head);
                buf_append(ret_early, rest.data, rest.len);
                buf_release(&rest);
                *ret_fd = fd;
                return 0;
        }
        /* Anything else is an answer in its own right (an error): read it whole. */
        struct cli_stream *s = stream_new(fd, &head);
        http_response_release(&head);
        s->raw = rest;
        struct berth_buf all = BERTH_BUF_INIT;
        r = stream_decode(s, err);
        if (r == 0)
                r = cli_stream_read_all(s, 16 << 20, &all, err);
        ret_resp->status = s->status;
        ret_resp->content_type = s->content_type ? xstrdup(s->content_type) : NULL;
        cli_stream_free(s);
        if (r < 0) {
                buf_release(&all);
                free(ret_resp->content_type);
                ret_resp->content_type = NULL;
                return r;
        }
        ret_resp->len = all.len;
        ret_resp->body = all.data ? buf_steal(&all) : xstrdup("");
        return 0;
}
