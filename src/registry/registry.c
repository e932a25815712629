/*
 * registry.c — the distribution API v2 operations: client and repo set-up
 * (endpoints, mirrors, certs.d), ping with scheme selection, manifests by tag
 * or digest, platform resolution, verified blob streaming, and push (exists,
 * mount, upload, manifest put), tags and catalog.
 *
 * Pull operations try the endpoints in order (docker.io mirrors, then the
 * origin) and fall through to the next on any failure but cancellation; a
 * blob that broke off on one endpoint continues on the next from the byte it
 * reached.  When all fail, the error names each endpoint's failure, and a
 * mirror's answer (manifest unknown, a mismatch) decides the error when the
 * origin could not be reached.  A digest mismatch is final: the sink already holds the bad bytes,
 * and the caller must drop them and may retry the pull.  Push only ever talks
 * to the origin.
 *
 * Never: accept a manifest or blob whose bytes do not hash to the digest
 * asked for or announced, or probe plain HTTP for a registry that is neither
 * insecure nor loopback.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "base/fileio.h"
#include "base/json.h"
#include "registry-internal.h"

#define ACCEPT_MANIFESTS                                                                           \
        OCI_MEDIA_TYPE_MANIFEST ", " OCI_MEDIA_TYPE_INDEX ", " DOCKER_MEDIA_TYPE_MANIFEST          \
                                ", " DOCKER_MEDIA_TYPE_LIST

/* ---- digests ------------------------------------------------------------ */

struct digester {
        EVP_MD_CTX *ctx;
        const char *algo;
};

static int digester_init(struct digester *d, const char *digest)
{
        const EVP_MD *md;
        if (strncmp(digest, "sha512:", 7) == 0)
                md = EVP_sha512(), d->algo = "sha512";
        else
                md = EVP_sha256(), d->algo = "sha256";
        d->ctx = EVP_MD_CTX_new();
        if (!d->ctx)
                berth_oom();
        if (EVP_DigestInit_ex(d->ctx, md, NULL) != 1) {
                EVP_MD_CTX_free(d->ctx);
                d->ctx = NULL;
                return -EIO;
        }
        return 0;
}

static void digester_update(struct digester *d, const void *buf, size_t n)
{
        EVP_DigestUpdate(d->ctx, buf, n);
}

static char *digester_final(struct digester *d)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(d->ctx, md, &n);
        EVP_MD_CTX_free(d->ctx);
        d->ctx = NULL;
        struct berth_buf b = BERTH_BUF_INIT;
        buf_printf(&b, "%s:", d->algo);
        for (unsigned i = 0; i < n; i++)
                buf_printf(&b, "%02x", md[i]);
        return buf_steal(&b);
}

static char *digest_of(const char *algo_of, const void *buf, size_t len)
{
        struct digester d;
        if (digester_init(&d, algo_of) < 0)
                berth_oom();
        digester_update(&d, buf, len);
        return digester_final(&d);
}

char *registry_digest_sha256(const void *buf, size_t len)
{
        return digest_of("sha256:", buf, len);
}

/* ---- hosts -------------------------------------------------------------- */

/* Host part of "host", "host:port", "[v6]:port" (malloc'd). */
static char *strip_port(const char *hostport)
{
        if (hostport[0] == '[') {
                const char *end = strchr(hostport, ']');
                return end ? xstrndup(hostport + 1, (size_t)(end - hostport - 1))
                           : xstrdup(hostport);
        }
        const char *c = strchr(hostport, ':');
        if (c && strchr(c + 1, ':'))
                return xstrdup(hostport); /* bare IPv6 */
        return c ? xstrndup(hostport, (size_t)(c - hostport)) : xstrdup(hostport);
}

bool registry_host_loopback(const char *hostport)
{
        _cleanup_free_ char *h = strip_port(hostport);
        struct in_addr a4;
        struct in6_addr a6;
        if (strcasecmp(h, "localhost") == 0)
                return true;
        if (inet_pton(AF_INET, h, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, h, &a6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&a6);
        return false;
}

bool registry_host_insecure(char *const *insecure, const char *hostport)
{
        _cleanup_free_ char *h = strip_port(hostport);
        struct in_addr a4;
        bool is_v4 = inet_pton(AF_INET, h, &a4) == 1;
        for (size_t i = 0; insecure && insecure[i]; i++) {
                const char *e = insecure[i];
                if (strcasecmp(e, hostport) == 0)
                        return true;
                const char *slash = strchr(e, '/');
                if (!slash || !is_v4)
                        continue;
                _cleanup_free_ char *net = xstrndup(e, (size_t)(slash - e));
                struct in_addr n4;
                char *end;
                long bits = strtol(slash + 1, &end, 10);
                if (*end || bits < 0 || bits > 32 || inet_pton(AF_INET, net, &n4) != 1)
                        continue;
                uint32_t mask = bits == 0 ? 0 : htonl(~0u << (32 - bits));
                if ((a4.s_addr & mask) == (n4.s_addr & mask))
                        return true;
        }
        return false;
}

/* ---- client ------------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
        struct registry_client *c = ud;
        pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
        struct registry_client *c = ud;
        pthread_mutex_unlock(&c->share_locks[data]);
}

static char **strv_dup(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        if (!v)
                return NULL;
        char **r = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                r[i] = xstrdup(v[i]);
        return r;
}

static void init_curl(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

int registry_client_new(const struct registry_options *opts, struct registry_client **ret,
                        struct berth_error **err)
{
        static const struct registry_options none = {0};
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, init_curl);
        if (!opts)
                opts = &none;
        struct registry_client *c = xcalloc(1, sizeof(*c));
        struct registry_options *o = &c->o;
        o->mirrors = strv_dup(opts->mirrors);
        o->insecure = strv_dup(opts->insecure);
        if (opts->certs_dirs)
                o->certs_dirs = strv_dup(opts->certs_dirs);
        else {
                char *def[] = {"/etc/berth/certs.d", "/etc/docker/certs.d", NULL};
                o->certs_dirs = strv_dup(def);
        }
        o->docker_io_endpoint = xstrdup(opts->docker_io_endpoint ? opts->docker_io_endpoint
                                                                 : REGISTRY_DOCKER_IO_ENDPOINT);
        if (opts->ca_bundle)
                o->ca_bundle = xstrdup(opts->ca_bundle);
        else if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
                o->ca_bundle = xstrdup("/etc/ssl/certs/ca-certificates.crt");
        o->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 15000;
        o->low_speed_time_s = opts->low_speed_time_s > 0 ? opts->low_speed_time_s : 30;
        o->low_speed_limit = opts->low_speed_limit > 0 ? opts->low_speed_limit : 1;
        o->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 5;
        o->backoff_initial_ms = opts->backoff_initial_ms > 0 ? opts->backoff_initial_ms : 250;
        o->backoff_max_ms = opts->backoff_max_ms > 0 ? opts->backoff_max_ms : 8000;
        o->upload_chunk_size = opts->upload_chunk_size;
        o->user_agent =
            opts->user_agent ? xstrdup(opts->user_agent) : xstrdup("berth/" BERTH_VERSION);
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_init(&c->share_locks[i], NULL);
        c->share = curl_share_init();
        if (!c->share) {
                registry_client_free(c);
                return berth_error_set(err, ENOMEM, "registry client: cannot create curl share");
        }
        curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        *ret = c;
        return 0;
}

void registry_client_free(struct registry_client *c)
{
        if (!c)
                return;
        if (c->share)
                curl_share_cleanup(c->share);
        for (size_t i = 0; i < CURL_LOCK_DATA_LAST; i++)
                pthread_mutex_destroy(&c->share_locks[i]);
        strv_free(c->o.mirrors);
        strv_free(c->o.insecure);
        strv_free(c->o.certs_dirs);
        free((char *)c->o.docker_io_endpoint);
        free((char *)c->o.ca_bundle);
        free((char *)c->o.user_agent);
        free(c);
}

/* ---- repos and endpoints ------------------------------------------------ */

static bool has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* CAs (*.crt) and a client pair (*.cert + *.key) from <dir>/<host:port>/, as docker reads them. */
static void load_certs(const struct registry_options *o, struct reg_endpoint *ep)
{
        struct berth_buf cas = BERTH_BUF_INIT;
        for (size_t i = 0; o->certs_dirs && o->certs_dirs[i]; i++) {
                _cleanup_free_ char *dir = xasprintf("%s/%s", o->certs_dirs[i], ep->hostport);
                _cleanup_closedir_ DIR *d = opendir(dir);
                if (!d)
                        continue;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                        if (has_suffix(de->d_name, ".crt")) {
                                _cleanup_free_ char *pem = NULL;
                                size_t n = 0;
                                if (read_file_at(AT_FDCWD, path, 1 << 20, &pem, &n) == 0) {
                                        buf_append(&cas, pem, n);
                                        buf_putc(&cas, '\n');
                                }
                        } else if (has_suffix(de->d_name, ".cert") && !ep->client_cert) {
                                _cleanup_free_ char *key =
                                    xasprintf("%.*s.key", (int)(strlen(path) - 5), path);
                                if (access(key, R_OK) == 0) {
                                        ep->client_cert = TAKE_PTR(path);
                                        ep->client_key = TAKE_PTR(key);
                                }
                        }
                }
        }
        if (cas.len == 0) {
                buf_release(&cas);
                return;
        }
        /* Extra CAs add to the system's, as docker does; libcurl takes one blob. */
        struct berth_buf all = BERTH_BUF_INIT;
        _cleanup_free_ char *sys = NULL;
        size_t n = 0;
        if (o->ca_bundle && read_file_at(AT_FDCWD, o->ca_bundle, 16 << 20, &sys, &n) == 0) {
                buf_append(&all, sys, n);
                buf_putc(&all, '\n');
        }
        buf_append(&all, cas.data, cas.len);
        buf_release(&cas);
        ep->ca_len = all.len;
        ep->ca_blob = buf_steal(&all);
}

static void endpoint_release(struct reg_endpoint *ep)
{
        free(ep->base);
        free(ep->hostport);
        free(ep->realm);
        free(ep->service);
        reg_tokens_free(ep->tokens);
        free(ep->ca_blob);
        free(ep->client_cert);
        free(ep->client_key);
}

static int add_endpoint(struct registry_repo *r, const char *base, bool fixed, bool mirror,
                        struct berth_error **err)
{
        const struct registry_options *o = &r->client->o;
        _cleanup_free_ char *b = xstrdup(base);
        while (*b && b[strlen(b) - 1] == '/')
                b[strlen(b) - 1] = '\0';
        char *hp = reg_url_hostport(b);
        if (!hp)
                return berth_error_set(err, EINVAL, "registry endpoint '%s': invalid URL", base);
        r->eps = xrealloc(r->eps, (r->n_eps + 1) * sizeof(*r->eps));
        struct reg_endpoint *ep = &r->eps[r->n_eps++];
        memset(ep, 0, sizeof(*ep));
        ep->base = TAKE_PTR(b);
        ep->hostport = hp;
        ep->scheme_fixed = fixed;
        ep->mirror = mirror;
        ep->insecure = registry_host_insecure(o->insecure, hp);
        ep->loopback = registry_host_loopback(hp);
        load_certs(o, ep);
        return 0;
}

/*
 * Names go into URL paths unescaped, so only what the reference grammar
 * allows gets through: [A-Za-z0-9._-] components joined by '/', none empty,
 * "." or "..".  (src/image enforces the full grammar; this is the backstop.)
 */
static bool repository_name_ok(const char *name)
{
        size_t comp = 0;
        const char *start = name;
        for (const char *p = name;; p++) {
                if (*p == '/' || *p == '\0') {
                        size_t n = (size_t)(p - start);
                        if (n == 0 || (n == 1 && start[0] == '.') ||
                            (n == 2 && start[0] == '.' && start[1] == '.'))
                                return false;
                        comp++;
                        if (*p == '\0')
                                break;
                        start = p + 1;
                        continue;
                }
                if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
                        return false;
        }
        return comp > 0 && strlen(name) <= 255;
}

/* A tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) or a valid digest. */
static int check_reference(const char *ref, struct berth_error **err)
{
        if (strchr(ref, ':'))
                return oci_digest_validate(ref, err);
        size_t n = strlen(ref);
        bool ok = n > 0 && n <= 128 && (isalnum((unsigned char)ref[0]) || ref[0] == '_');
        for (size_t i = 1; ok && i < n; i++)
                ok = isalnum((unsigned char)ref[i]) || strchr("_.-", ref[i]);
        if (!ok)
                return berth_error_set(err, EINVAL, "tag '%.200s': invalid", ref);
        return 0;
}

static bool is_docker_io(const char *host)
{
        return strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
               strcmp(host, "registry-1.docker.io") == 0;
}

int registry_repo_open(struct registry_client *c, const char *host, const char *repository,
                       const struct registry_auth *auth, unsigned access,
                       struct registry_repo **ret, struct berth_error **err)
{
        int rr;
        if (!host || !*host || strchr(host, '/') || strpbrk(host, " \t\r\n?#@"))
                return berth_error_set(err, EINVAL, "registry host '%s': invalid",
                                       host ? host : "");
        if (repository && !repository_name_ok(repository))
                return berth_error_set(err, EINVAL, "repository '%s': invalid name", repository);
        struct registry_repo *r = xcalloc(1, sizeof(*r));
        r->client = c;
        r->host = xstrdup(host);
        r->repository = repository ? xstrdup(repository) : NULL;
        r->access = access ? access : REGISTRY_PULL;
        pthread_mutex_init(&r->lock, NULL);
        if (auth) {
                r->username = auth->username && *auth->username ? xstrdup(auth->username) : NULL;
                r->password = auth->password ? xstrdup(auth->password) : NULL;
                r->registry_token = auth->registry_token && *auth->registry_token
                                        ? xstrdup(auth->registry_token)
                                        : NULL;
                r->identity_token = auth->identity_token && *auth->identity_token
                                        ? xstrdup(auth->identity_token)
                                        : NULL;
        }
        if (is_docker_io(host)) {
                if (!(r->access & REGISTRY_PUSH))
                        for (size_t i = 0; c->o.mirrors && c->o.mirrors[i]; i++) {
                                const char *m = c->o.mirrors[i];
                                _cleanup_free_ char *url =
                                    strstr(m, "://") ? xstrdup(m) : xasprintf("https://%s", m);
                                if ((rr = add_endpoint(r, url, true, true, err)) < 0)
                                        goto fail;
                        }
                rr = add_endpoint(r, c->o.docker_io_endpoint, true, false, err);
        } else {
                _cleanup_free_ char *url = xasprintf("https://%s", host);
                rr = add_endpoint(r, url, false, false, err);
        }
        if (rr < 0)
                goto fail;
        *ret = r;
        return 0;
fail:
        registry_repo_free(r);
        return rr;
}

void registry_repo_free(struct registry_repo *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_eps; i++)
                endpoint_release(&r->eps[i]);
        free(r->eps);
        free(r->host);
        free(r->repository);
        free(r->username);
        if (r->password)
                explicit_bzero(r->password, strlen(r->password));
        free(r->password);
        free(r->registry_token);
        if (r->identity_token)
                explicit_bzero(r->identity_token, strlen(r->identity_token));
        free(r->identity_token);
        pthread_mutex_destroy(&r->lock);
        free(r);
}

void registry_repo_set_upload_progress(struct registry_repo *r, registry_progress_fn fn,
                                       void *userdata)
{
        r->upload_progress = fn;
        r->upload_progress_ud = userdata;
}

void registry_repo_set_cancel(struct registry_repo *r, const atomic_bool *flag)
{
        r->cancel = flag;
}

static struct reg_endpoint *origin(struct registry_repo *r)
{
        return &r->eps[r->n_eps - 1];
}

/*
 * The failures of a pull's endpoints, tried in order (docker.io's mirrors, then the origin).
 * When every one fails the user reads them all, mirrors first; and when the origin could not
 * be reached, the answer a mirror gave decides the error (its "manifest unknown" is a 404).
 */
struct ep_failures {
        struct berth_buf msg;
        size_t n;
        int answered; /* errno of the first endpoint that answered with an error, or 0 */
};

static bool unreachable(int code)
{
        return code == EHOSTUNREACH || code == ENETUNREACH || code == ECONNREFUSED ||
               code == ETIMEDOUT;
}

/* Endpoint ep failed with rr and e (taken). */
static void ep_failed(struct ep_failures *f, const struct reg_endpoint *ep, int rr,
                      struct berth_error *e)
{
        if (f->msg.len)
                buf_puts(&f->msg, "; ");
        if (ep->mirror)
                buf_printf(&f->msg, "mirror %s: ", ep->hostport);
        buf_puts(&f->msg, berth_error_msg(e));
        if (!f->answered && !unreachable(-rr))
                f->answered = -rr;
        f->n++;
        berth_error_free(e);
}

/*
 * How a loop over the endpoints ends, with rr and e (taken) from the last one tried: success,
 * cancellation, an error that is ours (alone), or a lone endpoint's error read as they were;
 * else every failure in one line.
 */
static int ep_finish(struct ep_failures *f, int rr, struct berth_error *e, bool alone,
                     struct berth_error **err)
{
        if (rr >= 0 || rr == -ECANCELED || alone || f->n == 0) {
                buf_release(&f->msg);
                if (err && !*err)
                        *err = e;
                else
                        berth_error_free(e);
                return rr;
        }
        int code = unreachable(-rr) && f->answered ? f->answered : -rr;
        buf_printf(&f->msg, "; %s", berth_error_msg(e));
        berth_error_free(e);
        rr = berth_error_set(err, code, "%s", f->msg.data);
        buf_release(&f->msg);
        return rr;
}

/* ---- ping --------------------------------------------------------------- */

static int ping_once(struct registry_repo *r, struct reg_endpoint *ep, struct reg_response *resp,
                     struct berth_error **err)
{
        struct reg_request req = {.method = "GET",
                                  .path = "/v2/",
                                  .body_fd = -1,
                                  .sink_limit = -1,
                                  .no_auth = true,
                                  .no_retry = true};
        return reg_send(r, ep, &req, resp, err);
}

int reg_ping(struct registry_repo *r, struct reg_endpoint *ep, struct berth_error **err)
{
        struct reg_response resp = {.content_length = -1};
        int rr = 0;
        pthread_mutex_lock(&r->lock);
        if (ep->pinged)
                goto out;
        struct berth_error *e1 = NULL;
        rr = ping_once(r, ep, &resp, &e1);
        if (rr < 0 && !ep->scheme_fixed && rr != -ECANCELED) {
                /* Plain HTTP only for insecure registries, and for loopback when the
                 * server speaks no TLS at all; a certificate error is never downgraded. */
                bool plain =
                    ep->insecure || (ep->loopback && resp.curl_code == CURLE_SSL_CONNECT_ERROR);
                if (plain) {
                        _cleanup_free_ char *http = xasprintf("http://%s", ep->hostport);
                        char *https = ep->base;
                        ep->base = TAKE_PTR(http);
                        struct berth_error *e2 = NULL;
                        int r2 = ping_once(r, ep, &resp, &e2);
                        /* Only a v2 answer over http counts; otherwise (a TLS server
                         * saying 400, nothing listening) the https error is the truth. */
                        if (r2 < 0 || (resp.status != 200 && resp.status != 401)) {
                                free(ep->base);
                                ep->base = https;
                                berth_error_free(e2);
                        } else {
                                rr = 0;
                                free(https);
                                berth_error_free(TAKE_PTR(e1));
                        }
                }
        }
        if (rr < 0) {
                if (err && !*err)
                        *err = TAKE_PTR(e1);
                berth_error_free(e1);
                rr = berth_error_prefix(err, "registry '%s'", ep->hostport);
                goto out;
        }
        berth_error_free(e1);
        if (resp.status == 200) {
                ep->auth = REG_AUTH_NONE;
        } else if (resp.status == 401) {
                struct registry_challenge c;
                if ((rr = registry_parse_challenge(resp.www_authenticate, &c, err)) < 0) {
                        rr = berth_error_prefix(err, "registry '%s'", ep->hostport);
                        goto out;
                }
                if (strcmp(c.scheme, "basic") == 0) {
                        ep->auth = REG_AUTH_BASIC;
                } else if (strcmp(c.scheme, "bearer") == 0) {
                        ep->auth = REG_AUTH_BEARER;
                        ep->realm = TAKE_PTR(c.realm);
                        ep->service = TAKE_PTR(c.service);
                } else {
                        rr = berth_error_set(
                            err, ENOTSUP, "registry '%s': unsupported authentication scheme '%s'",
                            ep->hostport, c.scheme);
                }
                registry_challenge_release(&c);
                if (rr < 0)
                        goto out;
        } else {
                rr = berth_error_set(
                    err, EPROTO, "registry '%s': GET /v2/ answered status %ld, not a v2 registry",
                    ep->hostport, resp.status);
                goto out;
        }
        ep->pinged = true;
out:
        pthread_mutex_unlock(&r->lock);
        reg_response_release(&resp);
        return rr;
}

int registry_ping(struct registry_repo *r, struct berth_error **err)
{
        struct ep_failures f = {BERTH_BUF_INIT, 0, 0};
        int rr = -EIO;
        for (size_t i = 0; i < r->n_eps; i++) {
                struct berth_error *e = NULL;
                rr = reg_ping(r, &r->eps[i], &e);
                if (rr == 0 || rr == -ECANCELED || i + 1 == r->n_eps)
                        return ep_finish(&f, rr, e, false, err);
                ep_failed(&f, &r->eps[i], rr, e);
        }
        return rr;
}

int registry_login(struct registry_repo *r, char **ret_identity_token, struct berth_error **err)
{
        struct reg_endpoint *ep = origin(r);
        struct reg_response resp = {.content_length = -1};
        int rr;
        if (ret_identity_token)
                *ret_identity_token = NULL;
        if ((rr = reg_ping(r, ep, err)) < 0)
                return rr;
        switch (ep->auth) {
        case REG_AUTH_BEARER:
                if (!r->username && !r->identity_token)
                        return berth_error_set(err, EINVAL, "login to '%s': no credentials",
                                               ep->hostport);
                rr = reg_login(r, ep, ret_identity_token, err);
                break;
        case REG_AUTH_BASIC: {
                struct reg_request req = {
                    .method = "GET", .path = "/v2/", .body_fd = -1, .sink_limit = -1};
                if (!r->username)
                        return berth_error_set(err, EINVAL, "login to '%s': no credentials",
                                               ep->hostport);
                rr = reg_send(r, ep, &req, &resp, err);
                if (rr == 0 && resp.status == 401)
                        rr = berth_error_set(err, EACCES,
                                             "unauthorized: incorrect username or password");
                else if (rr == 0 && resp.status != 200)
                        rr = reg_http_error(&resp, "GET /v2/", err);
                break;
        }
        default:
                break;
        }
        reg_response_release(&resp);
        if (rr < 0)
                return berth_error_prefix(err, "login to '%s'", ep->hostport);
        return 0;
}

/* ---- manifests ---------------------------------------------------------- */

/* What joins a repository and a reference in messages: "name:tag", "name@sha256:…". */
static const char *ref_sep(const char *ref)
{
        return strchr(ref, ':') ? "@" : ":";
}

void registry_manifest_release(struct registry_manifest *m)
{
        if (!m)
                return;
        free(m->media_type);
        free(m->digest);
        free(m->body);
        memset(m, 0, sizeof(*m));
}

static int manifest_get_ep(struct registry_repo *r, struct reg_endpoint *ep, const char *ref,
                           struct registry_manifest *ret, struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", r->repository, ref);
        struct reg_request req = {.method = "GET",
                                  .path = path,
                                  .accept = ACCEPT_MANIFESTS,
                                  .body_fd = -1,
                                  .sink_limit = -1,
                                  .max_body = OCI_MANIFEST_MAX_SIZE};
        struct reg_response resp = {.content_length = -1};
        _cleanup_free_ char *digest = NULL;
        int rr = reg_send(r, ep, &req, &resp, err);
        if (rr < 0)
                goto out;
        if (resp.status != 200) {
                rr = reg_http_error(&resp, "get manifest", err);
                goto out;
        }
        const char *body = resp.body.data ? resp.body.data : "";
        bool by_digest = strchr(ref, ':') != NULL;
        digest = digest_of(by_digest ? ref : "sha256:", body, resp.body.len);
        if (by_digest && strcmp(digest, ref) != 0) {
                rr = berth_error_set(err, EBADMSG, "manifest %s: digest mismatch: content is %s",
                                     ref, digest);
                goto out;
        }
        if (!by_digest && resp.docker_content_digest &&
            strncmp(resp.docker_content_digest, "sha256:", 7) == 0 &&
            strcmp(resp.docker_content_digest, digest) != 0) {
                rr = berth_error_set(
                    err, EBADMSG, "manifest '%s': digest mismatch: registry says %s, content is %s",
                    ref, resp.docker_content_digest, digest);
                goto out;
        }
        enum oci_doc_kind kind;
        if ((rr = oci_detect_kind(resp.content_type, body, resp.body.len, &kind, err)) < 0)
                goto out;
        memset(ret, 0, sizeof(*ret));
        ret->kind = kind;
        ret->digest = TAKE_PTR(digest);
        if (oci_media_type_kind(resp.content_type) != OCI_DOC_UNKNOWN) {
                char *semi = strchr(resp.content_type, ';');
                if (semi)
                        *semi = '\0';
                ret->media_type = TAKE_PTR(resp.content_type);
        } else {
                _cleanup_json_ struct json *j = NULL;
                json_parse(body, resp.body.len, &j, NULL);
                const char *mt = json_str(json_get(j, "mediaType"));
                ret->media_type = xstrdup(mt                      ? mt
                                          : kind == OCI_DOC_INDEX ? OCI_MEDIA_TYPE_INDEX
                                                                  : OCI_MEDIA_TYPE_MANIFEST);
        }
        ret->len = resp.body.len;
        ret->body = buf_steal(&resp.body);
out:
        reg_response_release(&resp);
        return rr;
}

int registry_manifest_get(struct registry_repo *r, const char *ref, struct registry_manifest *ret,
                          struct berth_error **err)
{
        int rr = -EIO;
        memset(ret, 0, sizeof(*ret));
        if (!r->repository)
                return berth_error_set(err, EINVAL, "get manifest: no repository");
        if ((rr = check_reference(ref, err)) < 0)
                return rr;
        struct ep_failures f = {BERTH_BUF_INIT, 0, 0};
        for (size_t i = 0; i < r->n_eps; i++) {
                struct berth_error *e = NULL;
                rr = manifest_get_ep(r, &r->eps[i], ref, ret, &e);
                if (rr == 0 || rr == -ECANCELED || i + 1 == r->n_eps) {
                        rr = ep_finish(&f, rr, e, false, err);
                        break;
                }
                ep_failed(&f, &r->eps[i], rr, e);
        }
        if (rr < 0)
                return berth_error_prefix(err, "%s/%s%s%s", r->host, r->repository, ref_sep(ref),
                                          ref);
        return 0;
}

static int manifest_head_ep(struct registry_repo *r, struct reg_endpoint *ep, const char *ref,
                            char **ret_digest, char **ret_media_type, int64_t *ret_size,
                            struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", r->repository, ref);
        struct reg_request req = {.method = "HEAD",
                                  .path = path,
                                  .accept = ACCEPT_MANIFESTS,
                                  .body_fd = -1,
                                  .sink_limit = -1};
        struct reg_response resp = {.content_length = -1};
        int rr = reg_send(r, ep, &req, &resp, err);
        if (rr == 0 && resp.status != 200)
                rr = reg_http_error(&resp, "head manifest", err);
        if (rr == 0 && (!resp.docker_content_digest ||
                        oci_digest_validate(resp.docker_content_digest, NULL) < 0))
                rr = berth_error_set(err, ENODATA, "head manifest: no valid Docker-Content-Digest");
        if (rr == 0 && strchr(ref, ':') && strcmp(ref, resp.docker_content_digest) != 0)
                rr = berth_error_set(err, EBADMSG, "head manifest: registry says %s",
                                     resp.docker_content_digest);
        if (rr == 0) {
                if (ret_digest)
                        *ret_digest = TAKE_PTR(resp.docker_content_digest);
                if (ret_media_type) {
                        char *semi = resp.content_type ? strchr(resp.content_type, ';') : NULL;
                        if (semi)
                                *semi = '\0';
                        *ret_media_type = TAKE_PTR(resp.content_type);
                }
                if (ret_size)
                        *ret_size = resp.content_length;
        }
        reg_response_release(&resp);
        return rr;
}

int registry_manifest_head(struct registry_repo *r, const char *ref, char **ret_digest,
                           char **ret_media_type, int64_t *ret_size, struct berth_error **err)
{
        int rr = -EIO;
        if (!r->repository)
                return berth_error_set(err, EINVAL, "head manifest: no repository");
        if ((rr = check_reference(ref, err)) < 0)
                return rr;
        struct ep_failures f = {BERTH_BUF_INIT, 0, 0};
        for (size_t i = 0; i < r->n_eps; i++) {
                struct berth_error *e = NULL;
                rr = manifest_head_ep(r, &r->eps[i], ref, ret_digest, ret_media_type, ret_size, &e);
                if (rr == 0 || rr == -ECANCELED || i + 1 == r->n_eps) {
                        rr = ep_finish(&f, rr, e, false, err);
                        break;
                }
                ep_failed(&f, &r->eps[i], rr, e);
        }
        if (rr < 0)
                return berth_error_prefix(err, "%s/%s%s%s", r->host, r->repository, ref_sep(ref),
                                          ref);
        return 0;
}

void registry_image_release(struct registry_image *img)
{
        registry_manifest_release(&img->index);
        registry_manifest_release(&img->manifest);
        oci_manifest_free(img->parsed);
        img->parsed = NULL;
}

int registry_resolve_top(struct registry_repo *r, const char *ref, struct registry_manifest *top,
                         const struct oci_platform *platform, struct registry_image *ret,
                         struct berth_error **err)
{
        static const struct oci_platform def = {.os = (char *)"linux",
                                                .architecture = (char *)"amd64"};
        int rr;
        memset(ret, 0, sizeof(*ret));
        if (top->kind == OCI_DOC_INDEX) {
                _cleanup_oci_index_ struct oci_index *x = NULL;
                ret->index = *top;
                memset(top, 0, sizeof(*top));
                if ((rr = oci_index_parse(ret->index.body, ret->index.len, &x, err)) < 0)
                        goto fail;
                int i = oci_index_select(x, platform ? platform : &def, err);
                if (i < 0) {
                        rr = i == -ENOENT ? -ENOEXEC : i;
                        goto fail;
                }
                const struct oci_descriptor *d = &x->manifests[i];
                if ((rr = registry_manifest_get(r, d->digest, &ret->manifest, err)) < 0)
                        goto fail;
                if (ret->manifest.kind != OCI_DOC_MANIFEST ||
                    (int64_t)ret->manifest.len != d->size) {
                        rr = berth_error_set(
                            err, EBADMSG,
                            "manifest %s: not the %lld byte image manifest the index lists",
                            d->digest, (long long)d->size);
                        goto fail;
                }
        } else {
                ret->manifest = *top;
                memset(top, 0, sizeof(*top));
        }
        if ((rr = oci_manifest_parse(ret->manifest.body, ret->manifest.len, &ret->parsed, err)) < 0)
                goto fail;
        return 0;
fail:
        berth_error_prefix(err, "%s/%s%s%s", r->host, r->repository, ref_sep(ref), ref);
        registry_image_release(ret);
        return rr;
}

int registry_resolve(struct registry_repo *r, const char *ref, const struct oci_platform *platform,
                     struct registry_image *ret, struct berth_error **err)
{
        struct registry_manifest top;
        memset(ret, 0, sizeof(*ret));
        int rr = registry_manifest_get(r, ref, &top, err);
        if (rr < 0)
                return rr;
        return registry_resolve_top(r, ref, &top, platform, ret, err);
}

/* ---- blobs: fetch ------------------------------------------------------- */

struct blob_sink {
        struct digester d;
        registry_sink_fn sink;
        void *ud;
        bool failed; /* the sink refused: final, whatever endpoints are left */
};

static int blob_sink_write(const void *buf, size_t n, void *ud, struct berth_error **err)
{
        struct blob_sink *s = ud;
        int rr = s->sink(buf, n, s->ud, err);
        if (rr < 0) {
                s->failed = true;
                return rr;
        }
        digester_update(&s->d, buf, n);
        return 0;
}

int registry_blob_fetch(struct registry_repo *r, const char *digest, int64_t size,
                        registry_sink_fn sink, void *userdata, struct berth_error **err)
{
        int rr;
        if (!r->repository)
                return berth_error_set(err, EINVAL, "fetch blob: no repository");
        if ((rr = oci_digest_validate(digest, err)) < 0)
                return rr;
        struct blob_sink bs = {.sink = sink, .ud = userdata};
        if (digester_init(&bs.d, digest) < 0)
                return berth_error_set(err, EIO, "blob %s: cannot start digest", digest);
        uint64_t delivered = 0;
        _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", r->repository, digest);
        struct reg_request req = {.method = "GET",
                                  .path = path,
                                  .body_fd = -1,
                                  .sink = blob_sink_write,
                                  .sink_ud = &bs,
                                  .sink_delivered = &delivered,
                                  .sink_limit = size};
        rr = -EIO;
        struct ep_failures f = {BERTH_BUF_INIT, 0, 0};
        for (size_t i = 0; i < r->n_eps; i++) {
                struct reg_response resp = {.content_length = -1};
                struct berth_error *e = NULL;
                rr = reg_send(r, &r->eps[i], &req, &resp, &e);
                if (rr == 0 && resp.status != 200 && resp.status != 206)
                        rr = reg_http_error(&resp, "get", &e);
                reg_response_release(&resp);
                /* A sink that refused is final, and its error is ours alone. */
                if (rr == 0 || rr == -ECANCELED || bs.failed || i + 1 == r->n_eps) {
                        rr = ep_finish(&f, rr, e, bs.failed, err);
                        break;
                }
                ep_failed(&f, &r->eps[i], rr, e);
        }
        _cleanup_free_ char *got = digester_final(&bs.d);
        if (rr < 0)
                return berth_error_prefix(err, "blob %s", digest);
        if (size >= 0 && delivered != (uint64_t)size)
                return berth_error_set(err, EBADMSG,
                                       "blob %s: size mismatch: got %llu bytes, want %lld", digest,
                                       (unsigned long long)delivered, (long long)size);
        if (strcmp(got, digest) != 0)
                return berth_error_set(err, EBADMSG, "blob %s: digest mismatch: content is %s",
                                       digest, got);
        return 0;
}

/* ---- blobs: push -------------------------------------------------------- */

int registry_blob_exists(struct registry_repo *r, const char *digest, int64_t *ret_size,
                         struct berth_error **err)
{
        int rr;
        if ((rr = oci_digest_validate(digest, err)) < 0)
                return rr;
        _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", r->repository, digest);
        struct reg_request req = {.method = "HEAD", .path = path, .body_fd = -1, .sink_limit = -1};
        struct reg_response resp = {.content_length = -1};
        rr = reg_send(r, origin(r), &req, &resp, err);
        if (rr == 0) {
                if (resp.status == 200) {
                        if (ret_size)
                                *ret_size = resp.content_length;
                        rr = 1;
                } else if (resp.status == 404) {
                        rr = 0;
                } else {
                        rr = reg_http_error(&resp, "check blob", err);
                }
        }
        reg_response_release(&resp);
        if (rr < 0)
                return berth_error_prefix(err, "blob %s", digest);
        return rr;
}

int registry_blob_mount(struct registry_repo *r, const char *digest, const char *from,
                        struct berth_error **err)
{
        int rr;
        if ((rr = oci_digest_validate(digest, err)) < 0)
                return rr;
        if (!repository_name_ok(from))
                return berth_error_set(err, EINVAL, "mount from '%s': invalid repository name",
                                       from);
        CURL *esc = curl_easy_init();
        if (!esc)
                berth_oom();
        char *d = curl_easy_escape(esc, digest, 0), *f = curl_easy_escape(esc, from, 0);
        _cleanup_free_ char *path =
            xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", r->repository, d, f);
        curl_free(d);
        curl_free(f);
        curl_easy_cleanup(esc);
        _cleanup_free_ char *scope = xasprintf("repository:%s:pull", from);
        struct reg_request req = {
            .method = "POST", .path = path, .body_fd = -1, .sink_limit = -1, .extra_scope = scope};
        struct reg_response resp = {.content_length = -1};
        rr = reg_send(r, origin(r), &req, &resp, err);
        if (rr == 0) {
                if (resp.status == 201)
                        rr = 1;
                else if (resp.status == 202)
                        rr = 0;
                else
                        rr = reg_http_error(&resp, "mount", err);
        }
        if (rr == 0 && resp.location) {
                /* Not mountable: the registry opened an upload instead; cancel it so it
                 * does not linger until the registry purges it. */
                _cleanup_free_ char *loc = registry_resolve_url(resp.url, resp.location);
                struct reg_request del = {
                    .method = "DELETE", .url = loc, .body_fd = -1, .sink_limit = -1};
                struct reg_response dresp = {.content_length = -1};
                if (loc && registry_same_origin(loc, origin(r)->base))
                        (void)reg_send(r, origin(r), &del, &dresp, NULL);
                reg_response_release(&dresp);
        }
        reg_response_release(&resp);
        if (rr < 0)
                return berth_error_prefix(err, "blob %s from '%s'", digest, from);
        return rr;
}

static char *with_query(const char *url, const char *key, const char *value)
{
        CURL *esc = curl_easy_init();
        if (!esc)
                berth_oom();
        char *v = curl_easy_escape(esc, value, 0);
        char *r = xasprintf("%s%c%s=%s", url, strchr(url, '?') ? '&' : '?', key, v);
        curl_free(v);
        curl_easy_cleanup(esc);
        return r;
}

/* The next upload URL from a 202 answer. */
static int next_location(const struct reg_response *resp, char **url, struct berth_error **err)
{
        if (!resp->location)
                return berth_error_set(err, EPROTO, "upload answer without Location");
        char *next = registry_resolve_url(resp->url, resp->location);
        if (!next)
                return berth_error_set(err, EPROTO, "upload Location '%.200s' is invalid",
                                       resp->location);
        free(*url);
        *url = next;
        return 0;
}

static int upload_once(struct registry_repo *r, const char *digest, int fd, int64_t size,
                       struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/uploads/", r->repository);
        _cleanup_free_ char *url = NULL;
        struct reg_response resp = {.content_length = -1};
        struct reg_request post = {.method = "POST", .path = path, .body_fd = -1, .sink_limit = -1};
        int rr = reg_send(r, origin(r), &post, &resp, err);
        if (rr == 0 && resp.status != 202)
                rr = reg_http_error(&resp, "start upload", err);
        if (rr == 0)
                rr = next_location(&resp, &url, err);
        size_t chunk = r->client->o.upload_chunk_size;
        int64_t off = 0;
        while (rr == 0 && chunk > 0 && off < size) {
                int64_t n = size - off < (int64_t)chunk ? size - off : (int64_t)chunk;
                _cleanup_free_ char *range =
                    xasprintf("%lld-%lld", (long long)off, (long long)(off + n - 1));
                struct reg_request patch = {.method = "PATCH",
                                            .url = url,
                                            .body_fd = fd,
                                            .body_off = off,
                                            .body_fd_len = n,
                                            .sink_limit = -1,
                                            .content_range = range,
                                            .no_retry = true,
                                            .progress_digest = digest,
                                            .progress_base = (uint64_t)off,
                                            .progress_total = (uint64_t)size};
                rr = reg_send(r, origin(r), &patch, &resp, err);
                if (rr == 0 && resp.status != 202)
                        rr = reg_http_error(&resp, "upload chunk", err);
                if (rr == 0)
                        rr = next_location(&resp, &url, err);
                off += n;
        }
        if (rr == 0) {
                _cleanup_free_ char *put_url = with_query(url, "digest", digest);
                bool mono = chunk == 0;
                struct reg_request put = {.method = "PUT",
                                          .url = put_url,
                                          .body_fd = mono ? fd : -1,
                                          .body_off = 0,
                                          .body_fd_len = mono ? size : 0,
                                          .sink_limit = -1,
                                          .no_retry = true,
                                          .progress_digest = mono ? digest : NULL,
                                          .progress_total = (uint64_t)size};
                rr = reg_send(r, origin(r), &put, &resp, err);
                if (rr == 0 && resp.status != 201)
                        rr = reg_http_error(&resp, "finish upload", err);
                if (rr == 0 && resp.docker_content_digest &&
                    strcmp(resp.docker_content_digest, digest) != 0)
                        rr = berth_error_set(err, EBADMSG, "registry stored it as %s",
                                             resp.docker_content_digest);
        }
        reg_response_release(&resp);
        return rr;
}

int registry_blob_upload(struct registry_repo *r, const char *digest, int fd, int64_t size,
                         struct berth_error **err)
{
        int rr;
        if ((rr = oci_digest_validate(digest, err)) < 0)
                return rr;
        if (!(r->access & REGISTRY_PUSH))
                return berth_error_set(err, EPERM, "upload blob %s: repository opened for pull",
                                       digest);
        long delay = r->client->o.backoff_initial_ms;
        for (unsigned attempt = 1;; attempt++) {
                berth_error_freep(err);
                rr = upload_once(r, digest, fd, size, err);
                /* A failed upload session is started over, within the same bounds. */
                bool transient =
                    rr == -EIO || rr == -ECONNREFUSED || rr == -ETIMEDOUT || rr == -EAGAIN;
                if (rr == 0 || !transient || attempt >= r->client->o.max_attempts)
                        break;
                struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
                nanosleep(&ts, NULL);
                delay *= 2;
                if (reg_cancelled(r))
                        return berth_error_set(err, ECANCELED, "cancelled");
        }
        if (rr < 0)
                return berth_error_prefix(err, "upload blob %s", digest);
        return 0;
}

int registry_blob_push(struct registry_repo *r, const char *digest, int fd, int64_t size,
                       const char *mount_from, struct berth_error **err)
{
        int rr = registry_blob_exists(r, digest, NULL, err);
        if (rr != 0)
                return rr < 0 ? rr : 1;
        if (mount_from && strcmp(mount_from, r->repository) != 0) {
                rr = registry_blob_mount(r, digest, mount_from, err);
                if (rr < 0)
                        return rr;
                if (rr == 1)
                        return 2;
        }
        return registry_blob_upload(r, digest, fd, size, err);
}

int registry_manifest_put(struct registry_repo *r, const char *ref, const char *media_type,
                          const char *body, size_t len, char **ret_digest, struct berth_error **err)
{
        _cleanup_free_ char *digest = registry_digest_sha256(body, len);
        int rc = check_reference(ref, err);
        if (rc < 0)
                return rc;
        if (strchr(ref, ':') && strcmp(ref, digest) != 0)
                return berth_error_set(err, EINVAL, "put manifest %s: content is %s", ref, digest);
        if (len > OCI_MANIFEST_MAX_SIZE)
                return berth_error_set(err, EFBIG, "put manifest '%s': %zu bytes is too large", ref,
                                       len);
        _cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", r->repository, ref);
        struct reg_request req = {.method = "PUT",
                                  .path = path,
                                  .content_type = media_type,
                                  .body = body,
                                  .body_len = len,
                                  .body_fd = -1,
                                  .sink_limit = -1};
        struct reg_response resp = {.content_length = -1};
        int rr = reg_send(r, origin(r), &req, &resp, err);
        if (rr == 0 && resp.status != 201)
                rr = reg_http_error(&resp, "put manifest", err);
        if (rr == 0 && resp.docker_content_digest &&
            strcmp(resp.docker_content_digest, digest) != 0)
                rr = berth_error_set(err, EBADMSG, "put manifest: registry says %s, content is %s",
                                     resp.docker_content_digest, digest);
        reg_response_release(&resp);
        if (rr < 0)
                return berth_error_prefix(err, "%s/%s%s%s", r->host, r->repository, ref_sep(ref),
                                          ref);
        if (ret_digest)
                *ret_digest = TAKE_PTR(digest);
        return 0;
}

/* ---- listings ----------------------------------------------------------- */

/* "<url>; rel=\"next\"" → url (malloc'd) or NULL. */
static char *link_next(const char *link)
{
        if (!link || !strstr(link, "rel=\"next\""))
                return NULL;
        const char *a = strchr(link, '<'), *b = a ? strchr(a, '>') : NULL;
        return a && b ? xstrndup(a + 1, (size_t)(b - a - 1)) : NULL;
}

/*
 * GET first and every page its Link header names (relative or absolute; another
 * origin gets no credentials, reg_send sees to that), collecting key's strings.
 */
static int list_paged(struct registry_repo *r, struct reg_endpoint *ep, const char *first,
                      const char *key, char ***ret, struct berth_error **err)
{
        size_t n = 0;
        char **out = xcalloc(1, sizeof(char *));
        _cleanup_free_ char *url = NULL;
        /* The endpoint's scheme is known only after a ping. */
        int rr = reg_ping(r, ep, err);
        if (rr < 0)
                goto fail;
        url = xasprintf("%s%s", ep->base, first);
        for (int page = 0; url; page++) {
                if (page == 10000) {
                        rr = berth_error_set(err, ELOOP, "%s: more than %d pages", key, page);
                        goto fail;
                }
                struct reg_request req = {.method = "GET",
                                          .url = url,
                                          .body_fd = -1,
                                          .sink_limit = -1,
                                          .max_body = 16 << 20};
                struct reg_response resp = {.content_length = -1};
                _cleanup_json_ struct json *j = NULL;
                rr = reg_send(r, ep, &req, &resp, err);
                if (rr == 0 && resp.status != 200)
                        rr = reg_http_error(&resp, key, err);
                if (rr == 0)
                        rr = json_parse(resp.body.data ? resp.body.data : "", resp.body.len, &j,
                                        err);
                char *next = rr == 0 ? link_next(resp.link) : NULL;
                _cleanup_free_ char *abs = next ? registry_resolve_url(resp.url, next) : NULL;
                free(next);
                reg_response_release(&resp);
                if (rr < 0)
                        goto fail;
                const struct json *arr = json_get(j, key), *it;
                size_t i;
                json_array_foreach (arr, i, it) {
                        if (!json_str(it))
                                continue;
                        out = xrealloc(out, (n + 2) * sizeof(char *));
                        out[n++] = xstrdup(json_str(it));
                        out[n] = NULL;
                }
                free(url);
                url = TAKE_PTR(abs);
        }
        *ret = out;
        return 0;
fail:
        strv_free(out);
        return rr;
}

/* Like a pull, the listing tries the mirrors of docker.io first, then the origin. */
int registry_tags_list(struct registry_repo *r, char ***ret, struct berth_error **err)
{
        if (!r->repository)
                return berth_error_set(err, EINVAL, "list tags: no repository");
        _cleanup_free_ char *path = xasprintf("/v2/%s/tags/list?n=1000", r->repository);
        int rr = -EIO;
        struct ep_failures f = {BERTH_BUF_INIT, 0, 0};
        for (size_t i = 0; i < r->n_eps; i++) {
                struct berth_error *e = NULL;
                rr = list_paged(r, &r->eps[i], path, "tags", ret, &e);
                if (rr == 0 || rr == -ECANCELED || i + 1 == r->n_eps) {
                        rr = ep_finish(&f, rr, e, false, err);
                        break;
                }
                ep_failed(&f, &r->eps[i], rr, e);
        }
        return rr < 0 ? berth_error_prefix(err, "list tags of %s/%s", r->host, r->repository) : 0;
}

int registry_catalog(struct registry_repo *r, char ***ret, struct berth_error **err)
{
        int rr = list_paged(r, origin(r), "/v2/_catalog?n=1000", "repositories", ret, err);
        return rr < 0 ? berth_error_prefix(err, "catalog of %s", r->host) : 0;
}
