/*
 * auth.c — registry authentication: the WWW-Authenticate challenge, Basic
 * credentials, and bearer tokens fetched from the challenge's realm.
 *
 * The ping (GET /v2/) tells which scheme an endpoint wants.  Basic sends the
 * credentials on every request to the endpoint's origin.  Bearer asks the
 * realm for a token covering the scopes of the request ("repository:x:pull",
 * plus "repository:y:pull" for a cross-repository mount), with the
 * credentials as Basic auth when there are any and anonymously otherwise, and
 * caches it per scope set until it expires.  A 401 on a request drops the
 * cached token and fetches a fresh one once; a second 401 is final, so a
 * registry that keeps answering 401 cannot loop us.
 *
 * Never: send credentials to a realm over plain HTTP unless that host is
 * loopback or insecure, or log a token.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "base/json.h"
#include "registry-internal.h"

void registry_challenge_release(struct registry_challenge *c)
{
        free(c->scheme);
        free(c->realm);
        free(c->service);
        free(c->scope);
        free(c->error);
        memset(c, 0, sizeof(*c));
}

static void challenge_set(struct registry_challenge *c, const char *key, size_t klen, char *val)
{
        char **slot = NULL;
        if (klen == 5 && strncasecmp(key, "realm", 5) == 0)
                slot = &c->realm;
        else if (klen == 7 && strncasecmp(key, "service", 7) == 0)
                slot = &c->service;
        else if (klen == 5 && strncasecmp(key, "scope", 5) == 0)
                slot = &c->scope;
        else if (klen == 5 && strncasecmp(key, "error", 5) == 0)
                slot = &c->error;
        if (!slot) {
                free(val);
                return;
        }
        free(*slot);
        *slot = val;
}

int registry_parse_challenge(const char *h, struct registry_challenge *ret,
                             struct berth_error **err)
{
        memset(ret, 0, sizeof(*ret));
        if (!h)
                return berth_error_set(err, EPROTO, "401 without a WWW-Authenticate challenge");
        const char *p = h;
        while (*p == ' ' || *p == '\t')
                p++;
        const char *s0 = p;
        while (*p && !isspace((unsigned char)*p) && *p != ',')
                p++;
        if (p == s0)
                return berth_error_set(err, EPROTO, "WWW-Authenticate '%.100s': no scheme", h);
        ret->scheme = xstrndup(s0, (size_t)(p - s0));
        for (char *c = ret->scheme; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        for (;;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                if (!*p)
                        break;
                const char *k = p;
                while (*p && *p != '=' && *p != ',' && !isspace((unsigned char)*p))
                        p++;
                size_t klen = (size_t)(p - k);
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p != '=') {
                        registry_challenge_release(ret);
                        return berth_error_set(
                            err, EPROTO, "WWW-Authenticate '%.100s': parameter without value", h);
                }
                p++;
                while (*p == ' ' || *p == '\t')
                        p++;
                struct berth_buf v = BERTH_BUF_INIT;
                if (*p == '"') {
                        p++;
                        while (*p && *p != '"') {
                                if (*p == '\\' && p[1])
                                        p++;
                                buf_putc(&v, *p++);
                        }
                        if (*p != '"') {
                                buf_release(&v);
                                registry_challenge_release(ret);
                                return berth_error_set(
                                    err, EPROTO, "WWW-Authenticate '%.100s': unterminated quote",
                                    h);
                        }
                        p++;
                } else {
                        while (*p && *p != ',' && !isspace((unsigned char)*p))
                                buf_putc(&v, *p++);
                }
                challenge_set(ret, k, klen, buf_steal(&v));
        }
        if (strcmp(ret->scheme, "bearer") == 0 && (!ret->realm || !*ret->realm)) {
                registry_challenge_release(ret);
                return berth_error_set(err, EPROTO, "bearer challenge without a realm");
        }
        return 0;
}

void reg_tokens_free(struct reg_token *t)
{
        while (t) {
                struct reg_token *next = t->next;
                free(t->scope);
                if (t->token)
                        explicit_bzero(t->token, strlen(t->token));
                free(t->token);
                free(t);
                t = next;
        }
}

char *reg_scopes(const struct registry_repo *r, const char *extra_scope)
{
        struct berth_buf b = BERTH_BUF_INIT;
        if (r->repository)
                buf_printf(&b, "repository:%s:%s", r->repository,
                           (r->access & REGISTRY_PUSH) ? "pull,push" : "pull");
        else
                buf_puts(&b, "registry:catalog:*");
        if (extra_scope)
                buf_printf(&b, " %s", extra_scope);
        return buf_steal(&b);
}

static char *basic_value(const char *user, const char *pass)
{
        _cleanup_free_ char *raw = xasprintf("%s:%s", user, pass ? pass : "");
        size_t n = strlen(raw);
        _cleanup_free_ char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)raw, (int)n);
        explicit_bzero(raw, n);
        return xasprintf("Basic %s", b64);
}

static char *escape(CURL *esc, const char *s)
{
        char *e = curl_easy_escape(esc, s, 0);
        if (!e)
                berth_oom();
        char *r = xstrdup(e);
        curl_free(e);
        return r;
}

/* May credentials travel to this realm?  Over plain HTTP only to loopback or insecure hosts. */
static int check_realm(struct registry_repo *r, const char *realm, struct berth_error **err)
{
        if (strncasecmp(realm, "http://", 7) != 0)
                return 0;
        if (!r->username && !r->identity_token)
                return 0;
        _cleanup_free_ char *hp = reg_url_hostport(realm);
        if (hp && (registry_host_loopback(hp) || registry_host_insecure(r->client->o.insecure, hp)))
                return 0;
        return berth_error_set(
            err, EPERM, "refusing to send credentials to token realm '%s' over plain http", realm);
}

/*
 * Ask the realm for a token covering scopes (space separated, may be empty).
 * With an identity token: the OAuth2 refresh-token grant (POST).  Otherwise
 * GET with Basic credentials when there are any; login asks for an offline
 * (refresh) token too, returned in *ret_refresh when the server gives one.
 */
static int fetch_token(struct registry_repo *r, struct reg_endpoint *ep, const char *scopes,
                       bool login, char **ret, time_t *ret_expires, char **ret_refresh,
                       struct berth_error **err)
{
        CURL *esc = curl_easy_init();
        if (!esc)
                berth_oom();
        struct berth_buf q = BERTH_BUF_INIT;
        _cleanup_free_ char *svc = ep->service ? escape(esc, ep->service) : NULL;
        _cleanup_free_ char *copy = xstrdup(scopes);
        int rr = check_realm(r, ep->realm, err);
        if (rr < 0) {
                curl_easy_cleanup(esc);
                return rr;
        }
        if (r->identity_token) {
                _cleanup_free_ char *rt = escape(esc, r->identity_token);
                _cleanup_free_ char *sc = escape(esc, scopes);
                buf_printf(&q, "grant_type=refresh_token&refresh_token=%s&client_id=berth", rt);
                if (svc)
                        buf_printf(&q, "&service=%s", svc);
                if (*scopes)
                        buf_printf(&q, "&scope=%s", sc);
        } else {
                if (svc)
                        buf_printf(&q, "&service=%s", svc);
                for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok;
                     tok = strtok_r(NULL, " ", &save)) {
                        _cleanup_free_ char *e = escape(esc, tok);
                        buf_printf(&q, "&scope=%s", e);
                }
                if (login && r->username) {
                        _cleanup_free_ char *acct = escape(esc, r->username);
                        buf_printf(&q, "&account=%s&offline_token=true&client_id=berth", acct);
                }
        }
        curl_easy_cleanup(esc);
        _cleanup_free_ char *body = buf_steal(&q);
        _cleanup_free_ char *url = NULL;
        const char *form = NULL;
        if (r->identity_token) {
                url = xstrdup(ep->realm);
                form = body;
        } else {
                url = xasprintf("%s%c%s", ep->realm, strchr(ep->realm, '?') ? '&' : '?',
                                body[0] == '&' ? body + 1 : body);
        }

        struct reg_response resp = {.content_length = -1};
        rr = reg_plain_request(r, ep, url, form, r->identity_token ? NULL : r->username,
                               r->password, 1024 * 1024, &resp, err);
        if (rr < 0) {
                reg_response_release(&resp);
                return berth_error_prefix(err, "get token from '%s'", ep->realm);
        }
        if (resp.status != 200) {
                if (resp.status == 400 || resp.status == 401 || resp.status == 403)
                        rr = berth_error_set(err, EACCES, "get token from '%s': unauthorized: %s",
                                             ep->realm,
                                             r->identity_token ? "identity token refused"
                                             : r->username     ? "incorrect username or password"
                                                               : "authentication required");
                else
                        rr = berth_error_set(err, EIO, "get token from '%s': status %ld", ep->realm,
                                             resp.status);
                reg_response_release(&resp);
                return rr;
        }
        _cleanup_json_ struct json *j = NULL;
        rr = json_parse(resp.body.data ? resp.body.data : "", resp.body.len, &j, err);
        reg_response_release(&resp);
        if (rr < 0)
                return berth_error_prefix(err, "token from '%s'", ep->realm);
        const char *tok = json_str(json_get(j, "token"));
        if (!tok || !*tok)
                tok = json_str(json_get(j, "access_token"));
        if (!tok || !*tok)
                return berth_error_set(err, EPROTO, "token from '%s': no token in the answer",
                                       ep->realm);
        /* Like docker: a token is kept at least a minute, whatever the server says. */
        int64_t expires_in = 60;
        const struct json *e = json_get(j, "expires_in");
        if (json_is(e, JSON_NUMBER) && (e->num.flags & JSON_NUM_INT) && e->num.i > 60)
                expires_in = e->num.i;
        *ret = xstrdup(tok);
        *ret_expires = time(NULL) + expires_in;
        const char *refresh = json_str(json_get(j, "refresh_token"));
        if (ret_refresh)
                *ret_refresh = refresh && *refresh ? xstrdup(refresh) : NULL;
        return 0;
}

int reg_login(struct registry_repo *r, struct reg_endpoint *ep, char **ret_identity_token,
              struct berth_error **err)
{
        _cleanup_free_ char *tok = NULL;
        time_t exp;
        pthread_mutex_lock(&r->lock);
        int rr = fetch_token(r, ep, "", true, &tok, &exp, ret_identity_token, err);
        pthread_mutex_unlock(&r->lock);
        if (tok)
                explicit_bzero(tok, strlen(tok));
        return rr;
}

int reg_auth_header(struct registry_repo *r, struct reg_endpoint *ep, const char *extra_scope,
                    bool force_refresh, char **ret, struct berth_error **err)
{
        int rr = 0;
        *ret = NULL;
        pthread_mutex_lock(&r->lock);
        switch (ep->auth) {
        case REG_AUTH_UNKNOWN:
        case REG_AUTH_NONE:
                break;
        case REG_AUTH_BASIC:
                if (r->username)
                        *ret = basic_value(r->username, r->password);
                break;
        case REG_AUTH_BEARER: {
                if (r->registry_token && !r->identity_token) {
                        *ret = xasprintf("Bearer %s", r->registry_token);
                        break;
                }
                _cleanup_free_ char *scopes = reg_scopes(r, extra_scope);
                time_t now = time(NULL);
                struct reg_token **pp = &ep->tokens;
                for (; *pp; pp = &(*pp)->next)
                        if (strcmp((*pp)->scope, scopes) == 0)
                                break;
                if (*pp && !force_refresh && (*pp)->expires > now + 10) {
                        *ret = xasprintf("Bearer %s", (*pp)->token);
                        break;
                }
                if (*pp) {
                        struct reg_token *old = *pp;
                        *pp = old->next;
                        old->next = NULL;
                        reg_tokens_free(old);
                }
                struct reg_token *t = xcalloc(1, sizeof(*t));
                rr = fetch_token(r, ep, scopes, false, &t->token, &t->expires, NULL, err);
                if (rr < 0) {
                        free(t);
                        break;
                }
                t->scope = TAKE_PTR(scopes);
                t->next = ep->tokens;
                ep->tokens = t;
                *ret = xasprintf("Bearer %s", t->token);
                break;
        }
        }
        pthread_mutex_unlock(&r->lock);
        return rr;
}

int reg_auth_challenge(struct registry_repo *r, struct reg_endpoint *ep, const char *header,
                       struct berth_error **err)
{
        struct registry_challenge c;
        int rr = registry_parse_challenge(header, &c, err);
        if (rr < 0)
                return berth_error_prefix(err, "registry '%s'", ep->hostport);
        pthread_mutex_lock(&r->lock);
        if (strcmp(c.scheme, "basic") == 0) {
                if (!r->username)
                        rr = berth_error_set(err, EACCES,
                                             "registry '%s': unauthorized: authentication required",
                                             ep->hostport);
                ep->auth = REG_AUTH_BASIC;
        } else if (strcmp(c.scheme, "bearer") == 0) {
                ep->auth = REG_AUTH_BEARER;
                free(ep->realm);
                ep->realm = TAKE_PTR(c.realm);
                free(ep->service);
                ep->service = TAKE_PTR(c.service);
        } else {
                rr = berth_error_set(err, ENOTSUP,
                                     "registry '%s': unsupported authentication scheme '%s'",
                                     ep->hostport, c.scheme);
        }
        pthread_mutex_unlock(&r->lock);
        registry_challenge_release(&c);
        return rr;
}
