/*
 * http.h — HTTP/1.1 message syntax shared by the daemon's server and the CLI's
 * client: the request-head parser, the chunked transfer-coding decoder,
 * query-string and percent decoding, status reason phrases.
 *
 * Everything here is pure (no I/O, no globals) so the same code parses what a
 * socket delivers, what a unit test feeds and what the fuzzer throws at it.
 * The parser is incremental in the simplest way: call it on the bytes received
 * so far; it answers "need more", "complete after N bytes" or an error that maps
 * to a status code (http_error_status()).  Limits are the caller's: the head
 * may not exceed limits->max_head bytes (431 when it does), at most
 * HTTP_MAX_HEADERS header fields.
 *
 * What it accepts is RFC 9112 with the leniencies Go's net/http (dockerd's
 * server) also has: bare LF line ends, empty lines before the request line.
 * What it rejects: obsolete line folding, whitespace before a header colon,
 * control characters, a Content-Length that is not a single decimal number (or
 * several different ones), transfer codings other than "chunked" (501),
 * versions other than HTTP/1.0 and 1.1 (505).
 *
 * Never: read outside [buf, buf+len), trust a length from the peer without a
 * bound, keep pointers into the caller's buffer (the request owns a copy).
 */
#ifndef BERTH_API_HTTP_H
#define BERTH_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define HTTP_MAX_HEADERS 100

struct http_limits {
        size_t max_head; /* request line + header fields, bytes */
};

struct http_header {
        const char *name;  /* as sent; compare with strcasecmp */
        const char *value; /* leading and trailing whitespace removed */
};

enum http_body_kind {
        HTTP_BODY_NONE,
        HTTP_BODY_LENGTH, /* content_length bytes follow */
        HTTP_BODY_CHUNKED,
};

struct http_request {
        char *head; /* owned copy of the head; the strings below point into it */
        const char *method;
        const char *target; /* request-target as sent ("/v1.41/info?x=1") */
        const char *path;   /* target up to '?', still percent-encoded */
        const char *query;  /* after '?', or NULL */
        int version_minor;  /* HTTP/1.<minor>: 0 or 1 */
        struct http_header headers[HTTP_MAX_HEADERS];
        size_t n_headers;
        enum http_body_kind body_kind;
        uint64_t content_length;
        bool keep_alive;      /* after this exchange, per version and Connection */
        bool upgrade_tcp;     /* Connection: Upgrade + Upgrade: tcp (docker's hijack) */
        bool expect_continue; /* Expect: 100-continue */
};

/*
 * Parse the request head at the start of buf.  Returns 1 and sets *ret_consumed
 * to the head's length (body bytes follow) when complete, 0 when more bytes are
 * needed, a negative errno when the request is bad:
 *   -EBADMSG 400, -EMSGSIZE 431, -EOPNOTSUPP 501, -EPROTONOSUPPORT 505.
 * On success req must later be released with http_request_release().
 */
int http_parse_request(const char *buf, size_t len, const struct http_limits *limits,
                       struct http_request *req, size_t *ret_consumed, struct berth_error **err);
void http_request_release(struct http_request *req);

/* A response head, for the CLI's client (same rules for header fields). */
struct http_response {
        char *head;
        int status;
        const char *reason;
        int version_minor;
        struct http_header headers[HTTP_MAX_HEADERS];
        size_t n_headers;
        enum http_body_kind body_kind; /* NONE also for "until the connection closes": see below */
        uint64_t content_length;
        bool until_close; /* no length and no chunking: the body ends at EOF */
        bool keep_alive;
};

/*
 * Parse a response head; request_method decides whether a body can follow
 * (none after HEAD, 1xx, 204, 304).  Returns like http_parse_request().
 */
int http_parse_response(const char *buf, size_t len, const struct http_limits *limits,
                        const char *request_method, struct http_response *resp,
                        size_t *ret_consumed, struct berth_error **err);
void http_response_release(struct http_response *resp);
const char *http_response_header(const struct http_response *resp, const char *name);

/* Value of the first header field with this name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);

/* Status code for a negative errno from this module (400 for anything unknown). */
int http_error_status(int r);
/* "OK", "Not Found", … ("Unknown" for codes we never send). */
const char *http_reason(int status);

/*
 * Chunked transfer-coding decoder (RFC 9112 §7.1), incremental.  Feed it bytes
 * as they arrive; payload bytes are written to out (which may alias in: the
 * output never runs ahead of the input).  Chunk extensions and trailer fields
 * are skipped, each bounded.  Returns 0 (or a negative errno, -EBADMSG for bad
 * syntax); *ret_in = input bytes consumed, *ret_out = payload bytes produced.
 * Consumption stops right after the final CRLF: http_chunked_done() then says so
 * and the remaining input belongs to the next message.
 */
struct http_chunked {
        int state;
        uint64_t size; /* bytes left in the current chunk */
        unsigned digits;
        size_t line;    /* bytes in the current extension or trailer line */
        size_t trailer; /* total trailer bytes */
};
int http_chunked_decode(struct http_chunked *c, const char *in, size_t len, char *out,
                        size_t *ret_in, size_t *ret_out, struct berth_error **err);
bool http_chunked_done(const struct http_chunked *c);

/*
 * Percent-decode len bytes of s ('+' stays '+' unless plus_is_space).  Returns a
 * new NUL-terminated string, or NULL if it has a bad escape or decodes to a NUL.
 */
char *http_unescape(const char *s, size_t len, bool plus_is_space);

/*
 * Value of key in a query string ("a=1&b=x%20y"), decoded; NULL when absent.
 * A key without '=' has the value "".  Later occurrences are ignored, as Go's
 * url.Values.Get does.
 */
char *http_query_get(const char *query, const char *key);

/* Compare Docker API versions ("1.24") numerically per component: <0, 0, >0. */
int api_version_compare(const char *a, const char *b);

/* Append s percent-encoded for a query value (RFC 3986 unreserved stay). */
struct berth_buf;
void http_escape_query(struct berth_buf *b, const char *s);

#endif
