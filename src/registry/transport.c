/*
 * transport.c — HTTP for the registry client, on libcurl's easy API.
 *
 * reg_send() is the one way a request leaves: it resolves the URL on the
 * endpoint, attaches the Authorization header only while the URL is on the
 * endpoint's origin, follows redirects itself (libcurl's FOLLOWLOCATION is
 * off) so a blob redirected to object storage never carries credentials,
 * answers one 401 by refreshing credentials, and retries 5xx, 429 and broken
 * connections with exponential backoff up to a bounded number of attempts.
 * A body streamed to a sink survives a broken connection: the retry asks for
 * Range bytes=<delivered>- and, if the server ignores Range and starts over,
 * the bytes already delivered are skipped, so the sink sees each byte once.
 * A complete answer of another size than expected is a size mismatch, final
 * at once: retrying cannot change what the registry holds.
 *
 * Every handle shares one CURLSH (connections, DNS, TLS sessions) so parallel
 * layer downloads reuse connections; TLS settings come from the endpoint
 * (certs.d CAs on top of the system bundle, client certs, insecure flag).
 *
 * Never: let libcurl follow a redirect, send Authorization to another
 * origin, or follow an https → http redirect to a host that is neither
 * insecure nor loopback.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "base/json.h"
#include "registry-internal.h"

void reg_response_release(struct reg_response *r)
{
        free(r->content_type);
        free(r->location);
        free(r->docker_content_digest);
        free(r->www_authenticate);
        free(r->content_range);
        free(r->retry_after);
        free(r->link);
        free(r->range);
        buf_release(&r->body);
        free(r->url);
        free(r->curl_error);
        memset(r, 0, sizeof(*r));
        r->content_length = -1;
}

bool reg_cancelled(const struct registry_repo *r)
{
        return r->cancel && atomic_load(r->cancel);
}

/* ---- URLs --------------------------------------------------------------- */

struct url_parts {
        char *scheme, *host, *port;
};

static void url_parts_release(struct url_parts *p)
{
        curl_free(p->scheme);
        curl_free(p->host);
        curl_free(p->port);
}

static int url_split(const char *url, struct url_parts *ret)
{
        memset(ret, 0, sizeof(*ret));
        CURLU *u = curl_url();
        if (!u)
                berth_oom();
        int r = -EINVAL;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &ret->scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &ret->host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &ret->port, CURLU_DEFAULT_PORT) == CURLUE_OK)
                r = 0;
        curl_url_cleanup(u);
        if (r < 0)
                url_parts_release(ret);
        return r;
}

bool registry_same_origin(const char *a, const char *b)
{
        struct url_parts pa, pb;
        if (url_split(a, &pa) < 0)
                return false;
        if (url_split(b, &pb) < 0) {
                url_parts_release(&pa);
                return false;
        }
        bool same = strcasecmp(pa.scheme, pb.scheme) == 0 && strcasecmp(pa.host, pb.host) == 0 &&
                    strcmp(pa.port, pb.port) == 0;
        url_parts_release(&pa);
        url_parts_release(&pb);
        return same;
}

char *registry_resolve_url(const char *base, const char *location)
{
        CURLU *u = curl_url();
        char *out = NULL, *ret = NULL;
        if (!u)
                berth_oom();
        if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
            curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
                if (strncasecmp(out, "http://", 7) == 0 || strncasecmp(out, "https://", 8) == 0)
                        ret = xstrdup(out);
        }
        curl_free(out);
        curl_url_cleanup(u);
        return ret;
}

/* "host:port" of a URL as certs.d and the insecure list name it (port only when explicit). */
char *reg_url_hostport(const char *url)
{
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL, *ret = NULL;
        if (!u)
                berth_oom();
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
                if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
                        ret = xasprintf("%s:%s", host, port);
                else
                        ret = xstrdup(host);
        }
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return ret;
}

/* ---- handle set-up ------------------------------------------------------ */

static int progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
        const struct registry_repo *r = ud;
        return reg_cancelled(r) ? 1 : 0;
}

void reg_setup_handle(struct registry_repo *r, struct reg_endpoint *ep, CURL *h)
{
        const struct registry_options *o = &r->client->o;
        curl_easy_setopt(h, CURLOPT_SHARE, r->client->share);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
        curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        /* Big reads: fewer sink calls per layer, the sink decompresses in large steps. */
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
        if (o->ca_bundle)
                curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_bundle);
        if (!ep)
                return;
        if (ep->insecure) {
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (ep->ca_blob) {
                struct curl_blob blob = {ep->ca_blob, ep->ca_len, CURL_BLOB_NOCOPY};
                curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        }
        if (ep->client_cert && ep->client_key) {
                curl_easy_setopt(h, CURLOPT_SSLCERT, ep->client_cert);
                curl_easy_setopt(h, CURLOPT_SSLKEY, ep->client_key);
        }
}

/* ---- one HTTP exchange -------------------------------------------------- */

struct xfer {
        struct registry_repo *r;
        const struct reg_request *req;
        struct reg_response *resp;
        uint64_t resume_from; /* the Range we asked for */
        bool resume_checked;
        uint64_t skip;  /* bytes to drop: the server restarted a resumed body from 0 */
        int sink_error; /* negative errno when the sink or a limit aborted */
        struct berth_error *sink_err;
        const char *body; /* in-memory upload position */
        size_t body_left;
        off_t fd_off;
        int64_t fd_left;
};

static char *header_value(const char *line, size_t n, const char *name)
{
        size_t k = strlen(name);
        if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
                return NULL;
        const char *v = line + k + 1, *end = line + n;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && isspace((unsigned char)end[-1]))
                end--;
        return xstrndup(v, (size_t)(end - v));
}

static void set_header(char **slot, char *v)
{
        if (!v)
                return;
        free(*slot);
        *slot = v;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
        struct xfer *x = ud;
        struct reg_response *resp = x->resp;
        size_t n = size * nitems;
        if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
                /* A new response (after 100 Continue): forget the previous headers. */
                char *url = TAKE_PTR(resp->url);
                reg_response_release(resp);
                resp->url = url;
                const char *sp = memchr(buf, ' ', n);
                resp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
                return n;
        }
        set_header(&resp->content_type, header_value(buf, n, "Content-Type"));
        set_header(&resp->location, header_value(buf, n, "Location"));
        set_header(&resp->docker_content_digest, header_value(buf, n, "Docker-Content-Digest"));
        set_header(&resp->www_authenticate, header_value(buf, n, "WWW-Authenticate"));
        set_header(&resp->content_range, header_value(buf, n, "Content-Range"));
        set_header(&resp->retry_after, header_value(buf, n, "Retry-After"));
        set_header(&resp->link, header_value(buf, n, "Link"));
        set_header(&resp->range, header_value(buf, n, "Range"));
        char *cl = header_value(buf, n, "Content-Length");
        if (cl) {
                resp->content_length = strtoll(cl, NULL, 10);
                free(cl);
        }
        return n;
}

/* A 206 must start where we asked; a 200 means the server started over. */
static int check_resume(const struct reg_response *resp, uint64_t from, uint64_t *ret_skip)
{
        *ret_skip = 0;
        if (from == 0)
                return 0;
        if (resp->status == 200) {
                *ret_skip = from;
                return 0;
        }
        if (resp->status == 206) {
                unsigned long long start;
                if (!resp->content_range ||
                    sscanf(resp->content_range, "bytes %llu-", &start) != 1 || start != from)
                        return -EPROTO;
        }
        return 0;
}

/* The whole body's size as the server states it: a 200's Content-Length, the total of a
 * 206's Content-Range; -1 when it does not say. */
static int64_t stated_size(const struct reg_response *resp)
{
        if (resp->status == 200)
                return resp->content_length;
        const char *slash = resp->content_range ? strchr(resp->content_range, '/') : NULL;
        if (resp->status == 206 && slash && slash[1] >= '0' && slash[1] <= '9')
                return strtoll(slash + 1, NULL, 10);
        return -1;
}

static int size_mismatch(struct berth_error **err, int64_t stated, int64_t expected)
{
        return berth_error_set(err, EBADMSG,
                               "size mismatch: the registry has %lld bytes, %lld expected",
                               (long long)stated, (long long)expected);
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
        struct xfer *x = ud;
        const struct reg_request *req = x->req;
        size_t n = size * nmemb;
        if (reg_cancelled(x->r))
                return 0;
        bool ok = x->resp->status >= 200 && x->resp->status < 300;
        if (!ok || !req->sink) {
                size_t limit = ok && req->max_body ? req->max_body : 64 * 1024;
                if (x->resp->body.len + n > limit) {
                        if (!ok)
                                return n; /* an error page: keep its start, drop the rest */
                        x->sink_error = berth_error_set(&x->sink_err, EFBIG,
                                                        "response over the %zu byte limit", limit);
                        return 0;
                }
                buf_append(&x->resp->body, buf, n);
                return n;
        }
        if (!x->resume_checked) {
                x->resume_checked = true;
                if (check_resume(x->resp, x->resume_from, &x->skip) < 0) {
                        x->sink_error = berth_error_set(
                            &x->sink_err, EPROTO, "resume at byte %llu: bad Content-Range '%s'",
                            (unsigned long long)x->resume_from,
                            x->resp->content_range ? x->resp->content_range : "");
                        return 0;
                }
                /* A blob of another size than the manifest says is wrong, not truncated:
                 * refused before a byte reaches the sink, and never retried. */
                int64_t stated = stated_size(x->resp);
                if (req->sink_limit >= 0 && stated >= 0 && stated != req->sink_limit) {
                        x->sink_error = size_mismatch(&x->sink_err, stated, req->sink_limit);
                        return 0;
                }
        }
        size_t off = 0;
        if (x->skip) {
                off = n < x->skip ? n : (size_t)x->skip;
                x->skip -= off;
        }
        if (off == n)
                return n;
        uint64_t done = *req->sink_delivered;
        if (req->sink_limit >= 0 && done + (n - off) > (uint64_t)req->sink_limit) {
                x->sink_error = berth_error_set(&x->sink_err, EFBIG,
                                                "server sent more than the expected %lld bytes",
                                                (long long)req->sink_limit);
                return 0;
        }
        int r = req->sink(buf + off, n - off, req->sink_ud, &x->sink_err);
        if (r < 0) {
                if (!x->sink_err)
                        berth_error_sys(&x->sink_err, r, "write blob data");
                x->sink_error = r;
                return 0;
        }
        *req->sink_delivered = done + (n - off);
        return n;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
        struct xfer *x = ud;
        size_t n = size * nitems;
        if (reg_cancelled(x->r))
                return CURL_READFUNC_ABORT;
        if (x->req->body_fd >= 0) {
                if (x->fd_left <= 0)
                        return 0;
                if ((int64_t)n > x->fd_left)
                        n = (size_t)x->fd_left;
                ssize_t k;
                do
                        k = pread(x->req->body_fd, buf, n, x->fd_off);
                while (k < 0 && errno == EINTR);
                if (k <= 0)
                        return CURL_READFUNC_ABORT;
                x->fd_off += k;
                x->fd_left -= k;
                if (x->req->progress_digest && x->r->upload_progress)
                        x->r->upload_progress(x->req->progress_digest,
                                              x->req->progress_base +
                                                  (uint64_t)(x->fd_off - x->req->body_off),
                                              x->req->progress_total, x->r->upload_progress_ud);
                return (size_t)k;
        }
        if (n > x->body_left)
                n = x->body_left;
        memcpy(buf, x->body, n);
        x->body += n;
        x->body_left -= n;
        return n;
}

static int seek_cb(void *ud, curl_off_t offset, int origin)
{
        struct xfer *x = ud;
        if (origin != SEEK_SET)
                return CURL_SEEKFUNC_CANTSEEK;
        if (x->req->body_fd >= 0) {
                x->fd_off = x->req->body_off + offset;
                x->fd_left = x->req->body_fd_len - offset;
        } else {
                x->body = x->req->body + offset;
                x->body_left = x->req->body_len - (size_t)offset;
        }
        return CURL_SEEKFUNC_OK;
}

/* Perform one exchange with url; *ret_cc gets libcurl's verdict. */
static int perform(struct registry_repo *r, struct reg_endpoint *ep, const char *url,
                   const char *method, const struct reg_request *req, const char *auth,
                   uint64_t resume_from, struct reg_response *resp, CURLcode *ret_cc,
                   struct berth_error **err)
{
        CURL *h = curl_easy_init();
        if (!h)
                berth_oom();
        struct curl_slist *hdrs = NULL;
        struct xfer x = {.r = r, .req = req, .resp = resp};
        _cleanup_free_ char *auth_h = NULL, *range_h = NULL, *accept_h = NULL, *ct_h = NULL,
                            *cr_h = NULL;

        reg_response_release(resp);
        resp->url = xstrdup(url);
        /* Endpoint TLS settings apply to its own host only; other hosts get the defaults. */
        reg_setup_handle(r, registry_same_origin(url, ep->base) ? ep : NULL, h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
        if (auth) {
                auth_h = xasprintf("Authorization: %s", auth);
                hdrs = curl_slist_append(hdrs, auth_h);
        }
        if (req->accept) {
                accept_h = xasprintf("Accept: %s", req->accept);
                hdrs = curl_slist_append(hdrs, accept_h);
        }
        if (resume_from > 0 && req->sink) {
                range_h = xasprintf("Range: bytes=%llu-", (unsigned long long)resume_from);
                hdrs = curl_slist_append(hdrs, range_h);
                x.resume_from = resume_from;
        }
        bool has_body = strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
                        strcmp(method, "POST") == 0;
        if (has_body) {
                int64_t len = req->body_fd >= 0 ? req->body_fd_len : (int64_t)req->body_len;
                x.body = req->body;
                x.body_left = req->body_len;
                x.fd_off = req->body_off;
                x.fd_left = req->body_fd_len;
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
                curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
                curl_easy_setopt(h, CURLOPT_READDATA, &x);
                curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
                curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
                ct_h =
                    xasprintf("Content-Type: %s",
                              req->content_type ? req->content_type : "application/octet-stream");
                hdrs = curl_slist_append(hdrs, ct_h);
                /* The registry answers at once; no need to wait a second for 100 Continue. */
                hdrs = curl_slist_append(hdrs, "Expect:");
                if (req->content_range) {
                        cr_h = xasprintf("Content-Range: %s", req->content_range);
                        hdrs = curl_slist_append(hdrs, cr_h);
                }
        }
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "HEAD") == 0)
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        CURLcode cc = curl_easy_perform(h);
        resp->curl_code = (int)cc;
        if (cc != CURLE_OK)
                resp->curl_error = xstrdup(errbuf[0] ? errbuf : curl_easy_strerror(cc));
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status)
                resp->status = status;
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        *ret_cc = cc;
        if (x.sink_error) {
                int rr = x.sink_error;
                if (err && !*err)
                        *err = TAKE_PTR(x.sink_err);
                berth_error_free(x.sink_err);
                return rr;
        }
        if (reg_cancelled(r))
                return berth_error_set(err, ECANCELED, "cancelled");
        return 0;
}

static bool retryable_curl(CURLcode cc)
{
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_SSL_CONNECT_ERROR:
                return true;
        default:
                return false;
        }
}

static bool retryable_status(long s)
{
        return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static int curl_errno(CURLcode cc)
{
        switch (cc) {
        case CURLE_COULDNT_RESOLVE_HOST:
                return EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                return ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return ETIMEDOUT;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
                return EPERM;
        case CURLE_ABORTED_BY_CALLBACK:
                return ECANCELED;
        default:
                return EIO;
        }
}

/* Sleep for ms, waking early when cancelled. */
static int backoff_sleep(struct registry_repo *r, long ms)
{
        while (ms > 0) {
                if (reg_cancelled(r))
                        return -ECANCELED;
                long step = ms < 50 ? ms : 50;
                struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
                nanosleep(&ts, NULL);
                ms -= step;
        }
        return reg_cancelled(r) ? -ECANCELED : 0;
}

/* Follow redirects by hand from url; Authorization only on the endpoint's origin. */
static int perform_redirects(struct registry_repo *r, struct reg_endpoint *ep, const char *url0,
                             const struct reg_request *req, const char *auth, uint64_t resume_from,
                             struct reg_response *resp, CURLcode *ret_cc, struct berth_error **err)
{
        _cleanup_free_ char *url = xstrdup(url0);
        const char *method = req->method;
        for (int hop = 0; hop <= 10; hop++) {
                bool own = registry_same_origin(url, ep->base);
                int rr = perform(r, ep, url, method, req, own ? auth : NULL, resume_from, resp,
                                 ret_cc, err);
                if (rr < 0 || *ret_cc != CURLE_OK)
                        return rr;
                long s = resp->status;
                if (!(s == 301 || s == 302 || s == 303 || s == 307 || s == 308) || !resp->location)
                        return 0;
                _cleanup_free_ char *next = registry_resolve_url(url, resp->location);
                if (!next)
                        return berth_error_set(err, EPROTO, "redirect to invalid location '%.200s'",
                                               resp->location);
                if (strncasecmp(url, "https:", 6) == 0 && strncasecmp(next, "http:", 5) == 0) {
                        _cleanup_free_ char *hp = reg_url_hostport(next);
                        if (!hp || !(registry_host_insecure(r->client->o.insecure, hp) ||
                                     registry_host_loopback(hp)))
                                return berth_error_set(
                                    err, EPERM, "refusing redirect from https to '%.200s'", next);
                }
                if (s == 303 || ((s == 301 || s == 302) && strcmp(method, "HEAD") != 0))
                        method = strcmp(method, "HEAD") == 0 ? "HEAD" : "GET";
                free(url);
                url = TAKE_PTR(next);
        }
        return berth_error_set(err, ELOOP, "too many redirects");
}

int reg_send(struct registry_repo *r, struct reg_endpoint *ep, const struct reg_request *req,
             struct reg_response *resp, struct berth_error **err)
{
        const struct registry_options *o = &r->client->o;
        _cleanup_free_ char *url = NULL, *auth = NULL;
        bool refreshed = false;
        long delay = o->backoff_initial_ms;
        int rr;

        if (!req->no_auth) {
                if ((rr = reg_ping(r, ep, err)) < 0)
                        return rr;
                if ((rr = reg_auth_header(r, ep, req->extra_scope, false, &auth, err)) < 0)
                        return rr;
        }
        /* After the ping: it may have settled the endpoint on plain http. */
        url = req->url ? xstrdup(req->url) : xasprintf("%s%s", ep->base, req->path);
        for (unsigned attempt = 1;; attempt++) {
                CURLcode cc = CURLE_OK;
                uint64_t from = req->sink_delivered ? *req->sink_delivered : 0;
                rr = perform_redirects(r, ep, url, req, auth, from, resp, &cc, err);
                if (rr < 0)
                        return rr;
                if (cc == CURLE_OK && resp->status == 401 && !refreshed && !req->no_auth &&
                    registry_same_origin(resp->url, ep->base)) {
                        refreshed = true;
                        if ((rr = reg_auth_challenge(r, ep, resp->www_authenticate, err)) < 0)
                                return rr;
                        free(auth);
                        auth = NULL;
                        if ((rr = reg_auth_header(r, ep, req->extra_scope, true, &auth, err)) < 0)
                                return rr;
                        attempt--;
                        continue;
                }
                bool retry = false;
                _cleanup_free_ char *why = NULL;
                if (cc != CURLE_OK) {
                        retry = retryable_curl(cc) && !req->no_retry;
                        why = xstrdup(resp->curl_error ? resp->curl_error : curl_easy_strerror(cc));
                        if (!retry || attempt >= o->max_attempts)
                                return berth_error_set(err, curl_errno(cc), "%s", why);
                } else if (retryable_status(resp->status) && !req->no_retry) {
                        retry = true;
                        why = xasprintf("status %ld", resp->status);
                } else if (req->sink && resp->status >= 200 && resp->status < 300) {
                        /* A complete-looking answer that stopped short of the expected size. */
                        if (req->sink_limit >= 0 &&
                            *req->sink_delivered < (uint64_t)req->sink_limit) {
                                int64_t stated = stated_size(resp);
                                if (stated >= 0 && stated != req->sink_limit)
                                        return size_mismatch(err, stated, req->sink_limit);
                                retry = !req->no_retry;
                                why = xasprintf("truncated: received %llu of %lld bytes",
                                                (unsigned long long)*req->sink_delivered,
                                                (long long)req->sink_limit);
                                if (!retry || attempt >= o->max_attempts)
                                        return berth_error_set(err, EPIPE, "%s", why);
                        }
                }
                if (!retry || attempt >= o->max_attempts)
                        return 0; /* the caller judges the status */
                long wait = delay;
                if (resp->status == 429 && resp->retry_after) {
                        long ra = strtol(resp->retry_after, NULL, 10);
                        if (ra > 0)
                                wait = ra * 1000;
                }
                if (wait > o->backoff_max_ms)
                        wait = o->backoff_max_ms;
                if ((rr = backoff_sleep(r, wait)) < 0)
                        return berth_error_set(err, ECANCELED, "cancelled");
                delay = delay * 2 > o->backoff_max_ms ? o->backoff_max_ms : delay * 2;
        }
}

/* Token realms: GET, or POST of a form; no registry auth, optional Basic, retries on 5xx. */
int reg_plain_request(struct registry_repo *r, const struct reg_endpoint *tls_from, const char *url,
                      const char *form, const char *user, const char *pass, size_t max_body,
                      struct reg_response *resp, struct berth_error **err)
{
        const struct registry_options *o = &r->client->o;
        long delay = o->backoff_initial_ms;
        struct reg_request req = {.method = form ? "POST" : "GET",
                                  .body = form,
                                  .body_len = form ? strlen(form) : 0,
                                  .content_type = "application/x-www-form-urlencoded",
                                  .body_fd = -1,
                                  .max_body = max_body,
                                  .sink_limit = -1};
        /* The realm is its own origin for the Authorization header; TLS as the registry's. */
        struct reg_endpoint ep = {0};
        _cleanup_free_ char *basic = NULL;
        ep.base = (char *)url;
        ep.insecure = tls_from->insecure;
        ep.ca_blob = tls_from->ca_blob;
        ep.ca_len = tls_from->ca_len;
        ep.client_cert = tls_from->client_cert;
        ep.client_key = tls_from->client_key;
        if (user) {
                _cleanup_free_ char *raw = xasprintf("%s:%s", user, pass ? pass : "");
                size_t n = strlen(raw);
                _cleanup_free_ char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
                EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)raw, (int)n);
                basic = xasprintf("Basic %s", b64);
        }
        for (unsigned attempt = 1;; attempt++) {
                CURLcode cc = CURLE_OK;
                int rr = perform_redirects(r, &ep, url, &req, basic, 0, resp, &cc, err);
                if (rr < 0)
                        return rr;
                bool retry = cc != CURLE_OK ? retryable_curl(cc) : retryable_status(resp->status);
                if (!retry || attempt >= o->max_attempts) {
                        if (cc != CURLE_OK)
                                return berth_error_set(err, curl_errno(cc), "%s",
                                                       resp->curl_error ? resp->curl_error
                                                                        : curl_easy_strerror(cc));
                        return 0;
                }
                if (backoff_sleep(r, delay) < 0)
                        return berth_error_set(err, ECANCELED, "cancelled");
                delay = delay * 2 > o->backoff_max_ms ? o->backoff_max_ms : delay * 2;
        }
}

int reg_http_error(const struct reg_response *resp, const char *what, struct berth_error **err)
{
        _cleanup_json_ struct json *j = NULL;
        const char *msg = NULL, *code = NULL;
        if (resp->body.len && json_parse(resp->body.data, resp->body.len, &j, NULL) == 0) {
                const struct json *e0 = json_get(j, "errors");
                if (json_is(e0, JSON_ARRAY) && e0->arr.n > 0) {
                        msg = json_str(json_get(e0->arr.items[0], "message"));
                        code = json_str(json_get(e0->arr.items[0], "code"));
                }
        }
        /* 5xx and unexpected answers are EIO (worth another try); client errors are not. */
        long st = resp->status;
        int e = st == 401 || st == 403  ? EACCES
                : st == 404             ? ENOENT
                : st == 429             ? EAGAIN
                : st == 413             ? EFBIG
                : st >= 400 && st < 500 ? EINVAL
                                        : EIO;
        if (resp->status == 401)
                return berth_error_set(err, e, "%s: unauthorized: %s", what,
                                       msg ? msg : "authentication required");
        if (msg)
                return berth_error_set(err, e, "%s: %s (%s, status %ld)", what, msg,
                                       code ? code : "error", resp->status);
        return berth_error_set(err, e, "%s: registry answered status %ld", what, resp->status);
}
