/*
 * registry-internal.h — what the files of src/registry share and nobody else
 * may use: the client and repo structs, the HTTP transport (transport.c) and
 * the auth state machine (auth.c).
 *
 * A request runs through reg_send(): one libcurl easy handle per call,
 * redirects followed by hand so credentials stay on the registry's origin,
 * a 401 answered once by fetching new credentials, and retries with
 * exponential backoff on 5xx, 429 and broken connections.  A streamed body
 * resumes with Range from the bytes already delivered.
 */
#ifndef BERTH_REGISTRY_INTERNAL_H
#define BERTH_REGISTRY_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <sys/types.h>

#include "base/buf.h"
#include "registry.h"

struct registry_client {
        struct registry_options o; /* deep copy */
        CURLSH *share;
        pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
};

struct reg_token {
        char *scope; /* space-separated scopes the token was issued for */
        char *token;
        time_t expires;
        struct reg_token *next;
};

enum reg_auth_scheme {
        REG_AUTH_UNKNOWN, /* not pinged yet */
        REG_AUTH_NONE,
        REG_AUTH_BASIC,
        REG_AUTH_BEARER,
};

struct reg_endpoint {
        char *base;        /* "https://host:port" without trailing slash */
        char *hostport;    /* for certs.d and origin checks */
        bool mirror;       /* a docker.io mirror: pull only */
        bool scheme_fixed; /* scheme given by configuration, no probing */
        bool insecure;     /* TLS unverified, HTTP fallback allowed */
        bool loopback;     /* HTTP fallback allowed when the server speaks no TLS */
        bool pinged;
        enum reg_auth_scheme auth;
        char *realm, *service;
        struct reg_token *tokens;
        char *ca_blob; /* system bundle + certs.d CAs, or NULL */
        size_t ca_len;
        char *client_cert, *client_key;
};

struct registry_repo {
        struct registry_client *client;
        char *host;
        char *repository; /* NULL for registry-wide calls */
        char *username, *password, *registry_token, *identity_token;
        unsigned access;
        struct reg_endpoint *eps;
        size_t n_eps;
        const atomic_bool *cancel;
        registry_progress_fn upload_progress;
        void *upload_progress_ud;
        pthread_mutex_t lock; /* endpoint scheme, auth state, tokens */
};

struct reg_response {
        long status;
        char *content_type;
        char *location;
        char *docker_content_digest;
        char *www_authenticate;
        char *content_range;
        char *retry_after;
        char *link;
        char *range;
        int64_t content_length; /* -1 unknown */
        struct berth_buf body;  /* non-2xx bodies, and 2xx bodies without a sink */
        char *url;              /* the URL that gave the final answer */
        int curl_code;          /* CURLcode of the last exchange */
        char *curl_error;       /* libcurl's detailed message, or NULL */
};
void reg_response_release(struct reg_response *r);

struct reg_request {
        const char *method;
        const char *path; /* below the endpoint base ("/v2/…"), or NULL with url */
        const char *url;  /* absolute URL (upload locations) */
        const char *accept;
        const char *content_type;
        const char *body; /* in-memory request body */
        size_t body_len;
        int body_fd; /* or a body read from fd at body_off, body_fd_len bytes */
        off_t body_off;
        int64_t body_fd_len;
        const char *content_range; /* PATCH chunk "start-end" */
        registry_sink_fn sink;     /* 2xx body streamed here, resumable */
        void *sink_ud;
        uint64_t *sink_delivered;    /* bytes handed to the sink so far (in/out) */
        int64_t sink_limit;          /* abort when more than this arrives (-1: none) */
        size_t max_body;             /* limit for buffered bodies */
        const char *extra_scope;     /* another scope needed (mount source) */
        bool no_retry;               /* POST that must not be repeated blindly */
        bool no_auth;                /* ping: no credentials, no 401 handling */
        const char *progress_digest; /* report body bytes sent as this blob's progress */
        uint64_t progress_base;      /* bytes of the blob before this request's body */
        uint64_t progress_total;
};

/* Send a request to one endpoint with auth, redirects and retries. */
int reg_send(struct registry_repo *r, struct reg_endpoint *ep, const struct reg_request *req,
             struct reg_response *resp, struct berth_error **err);
/* Ensure the endpoint's scheme and auth challenge are known. */
int reg_ping(struct registry_repo *r, struct reg_endpoint *ep, struct berth_error **err);
/* The error a registry answered, as "<status> <message>" prefixed with what. */
int reg_http_error(const struct reg_response *resp, const char *what, struct berth_error **err);
/* Whether the repo was cancelled. */
bool reg_cancelled(const struct registry_repo *r);

/* auth.c: the Authorization value for a request on ep (malloc'd, or NULL for none). */
int reg_auth_header(struct registry_repo *r, struct reg_endpoint *ep, const char *extra_scope,
                    bool force_refresh, char **ret, struct berth_error **err);
/* auth.c: learn from a 401 answer; returns 0 when retrying may help, else an error. */
int reg_auth_challenge(struct registry_repo *r, struct reg_endpoint *ep, const char *header,
                       struct berth_error **err);
void reg_tokens_free(struct reg_token *t);
/* auth.c: check credentials with the realm (scope-less token); maybe an identity token back. */
int reg_login(struct registry_repo *r, struct reg_endpoint *ep, char **ret_identity_token,
              struct berth_error **err);
/* The scopes a request on r needs ("repository:x:pull,push" …), space separated. */
char *reg_scopes(const struct registry_repo *r, const char *extra_scope);

/* transport.c: apply timeouts, TLS and the share handle to an easy handle for ep. */
void reg_setup_handle(struct registry_repo *r, struct reg_endpoint *ep, CURL *h);
/* transport.c: "host[:port]" of a URL as certs.d names it (malloc'd, NULL if invalid). */
char *reg_url_hostport(const char *url);
/*
 * transport.c: a plain request without registry auth (token realms).  The
 * realm is reached with the TLS settings of the registry that named it
 * (certs.d CAs, client pair, insecure), as docker's shared transport does.
 */
int reg_plain_request(struct registry_repo *r, const struct reg_endpoint *tls_from, const char *url,
                      const char *form, const char *basic_user, const char *basic_pass,
                      size_t max_body, struct reg_response *resp, struct berth_error **err);

#endif
