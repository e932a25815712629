/*
 * http.c — HTTP/1.1 request-head parsing, chunked decoding and URL escapes
 * (the contract is in http.h).
 *
 * The head parser first finds the blank line that ends the head (bounded by
 * max_head), copies the head once, then walks it line by line, cutting it into
 * NUL-terminated pieces in place.  All pointers in struct http_request point
 * into that copy, so releasing a request is one free().
 *
 * Never: index past len, accept a header line the peer could use to smuggle a
 * second request (folding, spaces before ':', conflicting lengths).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "http.h"

/* RFC 9110 tchar: the characters of methods and header names. */
static bool is_tchar(unsigned char c)
{
        if (isalnum(c))
                return true;
        return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Where the head ends (index just past the blank line), or 0 if not yet in buf. */
static size_t find_head_end(const char *buf, size_t len, size_t skip)
{
        /* A line end is LF, optionally preceded by CR; the head ends at an empty line. */
        size_t line_start = skip;
        for (size_t i = skip; i < len; i++) {
                if (buf[i] != '\n')
                        continue;
                size_t line_len = i - line_start;
                if (line_len > 0 && buf[i - 1] == '\r')
                        line_len--;
                if (line_len == 0 && line_start > skip)
                        return i + 1;
                line_start = i + 1;
        }
        return 0;
}

static bool token_list_has(const char *value, const char *token)
{
        size_t tl = strlen(token);
        const char *p = value;
        while (*p) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                const char *s = p;
                while (*p && *p != ',')
                        p++;
                const char *e = p;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
                        return true;
        }
        return false;
}

static int parse_request_line(char *line, struct http_request *req, struct berth_error **err)
{
        char *p = line;
        req->method = p;
        while (is_tchar((unsigned char)*p))
                p++;
        if (p == line || *p != ' ')
                return berth_error_set(err, EBADMSG, "malformed request line: bad method");
        *p++ = '\0';

        req->target = p;
        while (*p && *p != ' ') {
                unsigned char c = (unsigned char)*p;
                if (c <= 0x20 || c == 0x7f)
                        return berth_error_set(err, EBADMSG,
                                               "malformed request line: bad request target");
                p++;
        }
        if (*p != ' ' || req->target[0] != '/')
                return berth_error_set(err, EBADMSG, "malformed request line: bad request target");
        *p++ = '\0';

        if (strncmp(p, "HTTP/", 5) != 0 || !isdigit((unsigned char)p[5]) || p[6] != '.' ||
            !isdigit((unsigned char)p[7]) || p[8] != '\0')
                return berth_error_set(err, EBADMSG, "malformed request line: bad HTTP version");
        if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
                return berth_error_set(err, EPROTONOSUPPORT, "unsupported HTTP version '%s'", p);
        req->version_minor = p[7] - '0';
        return 0;
}

static int parse_header_line(char *line, struct http_request *req, struct berth_error **err)
{
        if (line[0] == ' ' || line[0] == '\t')
                return berth_error_set(err, EBADMSG, "malformed header: obsolete line folding");
        char *p = line;
        while (is_tchar((unsigned char)*p))
                p++;
        if (p == line || *p != ':')
                return berth_error_set(err, EBADMSG, "malformed header line");
        *p++ = '\0';
        while (*p == ' ' || *p == '\t')
                p++;
        char *value = p;
        for (; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return berth_error_set(err, EBADMSG,
                                               "malformed header '%s': control character", line);
        }
        while (p > value && (p[-1] == ' ' || p[-1] == '\t'))
                *--p = '\0';
        if (req->n_headers >= HTTP_MAX_HEADERS)
                return berth_error_set(err, EMSGSIZE, "too many header fields");
        req->headers[req->n_headers].name = line;
        req->headers[req->n_headers].value = value;
        req->n_headers++;
        return 0;
}

static int parse_content_length(const char *v, uint64_t *ret)
{
        uint64_t n = 0;
        if (!*v)
                return -EBADMSG;
        for (const char *p = v; *p; p++) {
                if (!isdigit((unsigned char)*p))
                        return -EBADMSG;
                if (n > (UINT64_MAX - 9) / 10)
                        return -EBADMSG;
                n = n * 10 + (uint64_t)(*p - '0');
        }
        *ret = n;
        return 0;
}

/* Body framing and connection semantics from the header fields. */
static int interpret_headers(struct http_request *req, struct berth_error **err)
{
        bool have_length = false, have_te = false, conn_close = false, conn_keep = false,
             conn_upgrade = false, upgrade_tcp = false;
        uint64_t length = 0;

        for (size_t i = 0; i < req->n_headers; i++) {
                const char *n = req->headers[i].name, *v = req->headers[i].value;
                if (strcasecmp(n, "Content-Length") == 0) {
                        uint64_t l;
                        if (parse_content_length(v, &l) < 0)
                                return berth_error_set(err, EBADMSG, "bad Content-Length '%s'", v);
                        if (have_length && l != length)
                                return berth_error_set(err, EBADMSG,
                                                       "conflicting Content-Length headers");
                        have_length = true;
                        length = l;
                } else if (strcasecmp(n, "Transfer-Encoding") == 0) {
                        if (have_te || strcasecmp(v, "chunked") != 0)
                                return berth_error_set(err, EOPNOTSUPP,
                                                       "unsupported transfer encoding '%s'", v);
                        have_te = true;
                } else if (strcasecmp(n, "Connection") == 0) {
                        conn_close |= token_list_has(v, "close");
                        conn_keep |= token_list_has(v, "keep-alive");
                        conn_upgrade |= token_list_has(v, "upgrade");
                } else if (strcasecmp(n, "Upgrade") == 0) {
                        upgrade_tcp |= token_list_has(v, "tcp");
                } else if (strcasecmp(n, "Expect") == 0) {
                        if (strcasecmp(v, "100-continue") == 0)
                                req->expect_continue = true;
                }
        }

        if (have_te) {
                if (req->version_minor == 0)
                        return berth_error_set(err, EBADMSG,
                                               "transfer encoding in an HTTP/1.0 request");
                /* Both framings: chunked wins and the length is dropped (RFC 9112 §6.3). */
                req->body_kind = HTTP_BODY_CHUNKED;
        } else if (have_length && length > 0) {
                req->body_kind = HTTP_BODY_LENGTH;
                req->content_length = length;
        } else {
                req->body_kind = HTTP_BODY_NONE;
        }
        if (req->version_minor == 0)
                req->keep_alive = conn_keep && !conn_close;
        else
                req->keep_alive = !conn_close;
        req->upgrade_tcp = conn_upgrade && upgrade_tcp;
        if (!req->expect_continue || req->body_kind == HTTP_BODY_NONE)
                req->expect_continue = false;
        return 0;
}

int http_parse_request(const char *buf, size_t len, const struct http_limits *limits,
                       struct http_request *req, size_t *ret_consumed, struct berth_error **err)
{
        memset(req, 0, sizeof(*req));

        /* Go's server (and RFC 9112 §2.2) ignores empty lines before the request line. */
        size_t skip = 0;
        while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n')) {
                if (buf[skip] == '\r' && (skip + 1 >= len || buf[skip + 1] != '\n'))
                        break;
                skip++;
        }
        if (skip > 64)
                return berth_error_set(err, EBADMSG, "too many empty lines before the request");

        size_t scan = len < limits->max_head + skip ? len : limits->max_head + skip;
        size_t end = find_head_end(buf, scan, skip);
        if (end == 0) {
                if (len - skip >= limits->max_head)
                        return berth_error_set(err, EMSGSIZE, "request header too large");
                return 0;
        }

        size_t head_len = end - skip;
        if (memchr(buf + skip, '\0', head_len))
                return berth_error_set(err, EBADMSG, "NUL byte in request head");
        /* Room for the head and, after it, a copy of the target split at '?'. */
        char *head = xmalloc(2 * head_len + 2);
        memcpy(head, buf + skip, head_len);
        head[head_len] = '\0';
        req->head = head;

        /* Cut into lines; the last line is the empty one. */
        char *line = head;
        bool first = true;
        int r = 0;
        while (*line) {
                char *nl = strchr(line, '\n');
                if (!nl)
                        break; /* unreachable: the head ends with LF */
                char *next = nl + 1;
                if (nl > line && nl[-1] == '\r')
                        nl--;
                *nl = '\0';
                if (nl == line)
                        break;
                if (memchr(line, '\r', (size_t)(nl - line))) {
                        r = berth_error_set(err, EBADMSG, "bare CR in request head");
                        break;
                }
                r = first ? parse_request_line(line, req, err) : parse_header_line(line, req, err);
                if (r < 0)
                        break;
                first = false;
                line = next;
        }
        if (r == 0 && first)
                r = berth_error_set(err, EBADMSG, "empty request");
        if (r == 0)
                r = interpret_headers(req, err);
        if (r < 0) {
                http_request_release(req);
                return r;
        }

        /* The target stays whole; path and query are split in a copy after the head. */
        char *tail = head + head_len + 1;
        strcpy(tail, req->target);
        char *q = strchr(tail, '?');
        if (q)
                *q++ = '\0';
        req->path = tail;
        req->query = q;
        *ret_consumed = end;
        return 1;
}

/* Cut a head copy into lines; call line_fn for each non-empty line. */
static int split_head_lines(char *head, int (*line_fn)(char *line, bool first, void *ud), void *ud,
                            struct berth_error **err)
{
        char *line = head;
        bool first = true;
        while (*line) {
                char *nl = strchr(line, '\n');
                if (!nl)
                        break;
                char *next = nl + 1;
                if (nl > line && nl[-1] == '\r')
                        nl--;
                *nl = '\0';
                if (nl == line)
                        break;
                if (memchr(line, '\r', (size_t)(nl - line)))
                        return berth_error_set(err, EBADMSG, "bare CR in message head");
                int r = line_fn(line, first, ud);
                if (r < 0)
                        return r;
                first = false;
                line = next;
        }
        if (first)
                return berth_error_set(err, EBADMSG, "empty message head");
        return 0;
}

struct resp_ctx {
        struct http_response *resp;
        struct berth_error **err;
};

static int response_line(char *line, bool first, void *ud)
{
        struct resp_ctx *ctx = ud;
        struct http_response *resp = ctx->resp;
        if (!first) {
                /* Same rules as requests: reuse the request header parser on a scratch request. */
                if (line[0] == ' ' || line[0] == '\t')
                        return berth_error_set(ctx->err, EBADMSG,
                                               "malformed header: obsolete line folding");
                char *p = line;
                while (is_tchar((unsigned char)*p))
                        p++;
                if (p == line || *p != ':')
                        return berth_error_set(ctx->err, EBADMSG, "malformed header line");
                *p++ = '\0';
                while (*p == ' ' || *p == '\t')
                        p++;
                char *value = p;
                p += strlen(p);
                while (p > value && (p[-1] == ' ' || p[-1] == '\t'))
                        *--p = '\0';
                if (resp->n_headers >= HTTP_MAX_HEADERS)
                        return berth_error_set(ctx->err, EMSGSIZE, "too many header fields");
                resp->headers[resp->n_headers].name = line;
                resp->headers[resp->n_headers].value = value;
                resp->n_headers++;
                return 0;
        }
        if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
            line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
            !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]) ||
            (line[12] != ' ' && line[12] != '\0'))
                return berth_error_set(ctx->err, EBADMSG, "malformed status line");
        resp->version_minor = line[7] - '0';
        resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        resp->reason = line[12] ? line + 13 : line + 12;
        return 0;
}

int http_parse_response(const char *buf, size_t len, const struct http_limits *limits,
                        const char *request_method, struct http_response *resp,
                        size_t *ret_consumed, struct berth_error **err)
{
        memset(resp, 0, sizeof(*resp));
        size_t scan = len < limits->max_head ? len : limits->max_head;
        /* find_head_end() wants the start of the first line to not count as a blank line. */
        size_t end = find_head_end(buf, scan, 0);
        if (end == 0) {
                if (len >= limits->max_head)
                        return berth_error_set(err, EMSGSIZE, "response header too large");
                return 0;
        }
        if (memchr(buf, '\0', end))
                return berth_error_set(err, EBADMSG, "NUL byte in response head");
        resp->head = xstrndup(buf, end);
        struct resp_ctx ctx = {resp, err};
        int r = split_head_lines(resp->head, response_line, &ctx, err);
        if (r < 0) {
                http_response_release(resp);
                return r;
        }

        bool chunked = false, have_len = false, conn_close = false, conn_keep = false;
        for (size_t i = 0; i < resp->n_headers; i++) {
                const char *n = resp->headers[i].name, *v = resp->headers[i].value;
                if (strcasecmp(n, "Transfer-Encoding") == 0) {
                        chunked = token_list_has(v, "chunked");
                } else if (strcasecmp(n, "Content-Length") == 0) {
                        if (parse_content_length(v, &resp->content_length) < 0) {
                                /* v points into resp->head: the message first */
                                r = berth_error_set(err, EBADMSG, "bad Content-Length '%s'", v);
                                http_response_release(resp);
                                return r;
                        }
                        have_len = true;
                } else if (strcasecmp(n, "Connection") == 0) {
                        conn_close |= token_list_has(v, "close");
                        conn_keep |= token_list_has(v, "keep-alive");
                }
        }
        bool no_body = strcmp(request_method, "HEAD") == 0 || resp->status < 200 ||
                       resp->status == 204 || resp->status == 304;
        if (no_body)
                resp->body_kind = HTTP_BODY_NONE;
        else if (chunked)
                resp->body_kind = HTTP_BODY_CHUNKED;
        else if (have_len)
                resp->body_kind = resp->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
        else
                resp->until_close = true;
        resp->keep_alive = !resp->until_close &&
                           (resp->version_minor == 1 ? !conn_close : conn_keep && !conn_close);
        *ret_consumed = end;
        return 1;
}

void http_response_release(struct http_response *resp)
{
        if (!resp)
                return;
        free(resp->head);
        memset(resp, 0, sizeof(*resp));
}

const char *http_response_header(const struct http_response *resp, const char *name)
{
        for (size_t i = 0; i < resp->n_headers; i++)
                if (strcasecmp(resp->headers[i].name, name) == 0)
                        return resp->headers[i].value;
        return NULL;
}

void http_request_release(struct http_request *req)
{
        if (!req)
                return;
        free(req->head);
        memset(req, 0, sizeof(*req));
}

const char *http_request_header(const struct http_request *req, const char *name)
{
        for (size_t i = 0; i < req->n_headers; i++)
                if (strcasecmp(req->headers[i].name, name) == 0)
                        return req->headers[i].value;
        return NULL;
}

int http_error_status(int r)
{
        switch (-r) {
        case EMSGSIZE:
                return 431;
        case EOPNOTSUPP:
                return 501;
        case EPROTONOSUPPORT:
                return 505;
        case EFBIG:
                return 413;
        default:
                return 400;
        }
}

const char *http_reason(int status)
{
        switch (status) {
        case 100:
                return "Continue";
        case 101:
                return "UPGRADED"; /* what dockerd sends on a hijack */
        case 200:
                return "OK";
        case 201:
                return "Created";
        case 204:
                return "No Content";
        case 304:
                return "Not Modified";
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 409:
                return "Conflict";
        case 411:
                return "Length Required";
        case 413:
                return "Request Entity Too Large";
        case 431:
                return "Request Header Fields Too Large";
        case 500:
                return "Internal Server Error";
        case 501:
                return "Not Implemented";
        case 503:
                return "Service Unavailable";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return "Unknown";
        }
}

/* ---- chunked ---- */

enum {
        CH_SIZE = 0, /* hex digits of the chunk size */
        CH_EXT,      /* ";ext" up to the line end */
        CH_SIZE_LF,  /* CR seen, LF expected */
        CH_DATA,     /* payload */
        CH_DATA_CR,  /* CRLF after the payload */
        CH_DATA_LF,
        CH_TRAILER,    /* trailer lines after the last chunk */
        CH_TRAILER_LF, /* CR seen in a trailer line */
        CH_DONE,
};

#define CH_MAX_LINE    4096
#define CH_MAX_TRAILER 16384

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* End of a size line: a size of 0 starts the trailer, else the data. */
static void chunked_size_done(struct http_chunked *c)
{
        c->state = c->size == 0 ? CH_TRAILER : CH_DATA;
        c->line = 0;
        c->digits = 0;
}

int http_chunked_decode(struct http_chunked *c, const char *in, size_t len, char *out,
                        size_t *ret_in, size_t *ret_out, struct berth_error **err)
{
        size_t i = 0, o = 0;
        int r = 0;

        while (i < len && c->state != CH_DONE) {
                char ch = in[i];
                switch (c->state) {
                case CH_SIZE: {
                        int h = hexval(ch);
                        if (h >= 0) {
                                if (c->digits >= 16) {
                                        r = berth_error_set(err, EBADMSG, "chunk size too large");
                                        goto out;
                                }
                                c->size = c->size * 16 + (uint64_t)h;
                                c->digits++;
                                i++;
                        } else if (c->digits == 0) {
                                r = berth_error_set(err, EBADMSG, "malformed chunk size");
                                goto out;
                        } else if (ch == ';' || ch == ' ' || ch == '\t') {
                                c->state = CH_EXT;
                                c->line = 0;
                                i++;
                        } else if (ch == '\r') {
                                c->state = CH_SIZE_LF;
                                i++;
                        } else if (ch == '\n') {
                                chunked_size_done(c);
                                i++;
                        } else {
                                r = berth_error_set(err, EBADMSG, "malformed chunk size");
                                goto out;
                        }
                        break;
                }
                case CH_EXT:
                        if (ch == '\r') {
                                c->state = CH_SIZE_LF;
                        } else if (ch == '\n') {
                                chunked_size_done(c);
                        } else if (++c->line > CH_MAX_LINE) {
                                r = berth_error_set(err, EBADMSG, "chunk extension too long");
                                goto out;
                        }
                        i++;
                        break;
                case CH_SIZE_LF:
                        if (ch != '\n') {
                                r = berth_error_set(err, EBADMSG, "malformed chunk size line");
                                goto out;
                        }
                        chunked_size_done(c);
                        i++;
                        break;
                case CH_DATA: {
                        size_t n = len - i;
                        if (n > c->size)
                                n = (size_t)c->size;
                        memmove(out + o, in + i, n);
                        o += n;
                        i += n;
                        c->size -= n;
                        if (c->size == 0)
                                c->state = CH_DATA_CR;
                        break;
                }
                case CH_DATA_CR:
                        if (ch == '\r') {
                                c->state = CH_DATA_LF;
                        } else if (ch == '\n') {
                                c->state = CH_SIZE;
                        } else {
                                r = berth_error_set(err, EBADMSG, "missing CRLF after chunk data");
                                goto out;
                        }
                        i++;
                        break;
                case CH_DATA_LF:
                        if (ch != '\n') {
                                r = berth_error_set(err, EBADMSG, "missing CRLF after chunk data");
                                goto out;
                        }
                        c->state = CH_SIZE;
                        i++;
                        break;
                case CH_TRAILER:
                        if (ch == '\r') {
                                c->state = CH_TRAILER_LF;
                        } else if (ch == '\n') {
                                if (c->line == 0)
                                        c->state = CH_DONE;
                                c->line = 0;
                        } else {
                                c->line++;
                                if (++c->trailer > CH_MAX_TRAILER) {
                                        r = berth_error_set(err, EBADMSG,
                                                            "chunked trailer too large");
                                        goto out;
                                }
                        }
                        i++;
                        break;
                case CH_TRAILER_LF:
                        if (ch != '\n') {
                                r = berth_error_set(err, EBADMSG, "malformed chunked trailer");
                                goto out;
                        }
                        c->state = c->line == 0 ? CH_DONE : CH_TRAILER;
                        c->line = 0;
                        i++;
                        break;
                default:
                        r = berth_error_set(err, EINVAL, "chunked decoder in a bad state");
                        goto out;
                }
        }
out:
        *ret_in = i;
        *ret_out = o;
        return r;
}

bool http_chunked_done(const struct http_chunked *c)
{
        return c->state == CH_DONE;
}

/* ---- URL escapes ---- */

char *http_unescape(const char *s, size_t len, bool plus_is_space)
{
        char *out = xmalloc(len + 1);
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c == '%') {
                        if (len - i < 3) {
                                free(out);
                                return NULL;
                        }
                        int hi = hexval(s[i + 1]);
                        int lo = hexval(s[i + 2]);
                        if (hi < 0 || lo < 0) {
                                free(out);
                                return NULL;
                        }
                        c = (char)(hi * 16 + lo);
                        i += 2;
                        if (c == '\0') {
                                free(out);
                                return NULL;
                        }
                } else if (c == '+' && plus_is_space) {
                        c = ' ';
                } else if (c == '\0') {
                        free(out);
                        return NULL;
                }
                out[o++] = c;
        }
        out[o] = '\0';
        return out;
}

char *http_query_get(const char *query, const char *key)
{
        if (!query)
                return NULL;
        size_t klen = strlen(key);
        const char *p = query;
        while (*p) {
                const char *amp = strchr(p, '&');
                size_t plen = amp ? (size_t)(amp - p) : strlen(p);
                const char *eq = memchr(p, '=', plen);
                size_t nlen = eq ? (size_t)(eq - p) : plen;
                _cleanup_free_ char *name = http_unescape(p, nlen, true);
                if (name && strlen(name) == klen && memcmp(name, key, klen) == 0) {
                        if (!eq)
                                return xstrdup("");
                        return http_unescape(eq + 1, plen - nlen - 1, true);
                }
                p += plen;
                if (*p == '&')
                        p++;
        }
        return NULL;
}

void http_escape_query(struct berth_buf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
                        buf_putc(b, (char)*p);
                } else {
                        buf_putc(b, '%');
                        buf_putc(b, hex[*p >> 4]);
                        buf_putc(b, hex[*p & 15]);
                }
        }
}

int api_version_compare(const char *a, const char *b)
{
        while (*a || *b) {
                unsigned long x = 0, y = 0;
                while (*a >= '0' && *a <= '9')
                        x = x * 10 + (unsigned long)(*a++ - '0'), x = x > 100000 ? 100000 : x;
                while (*b >= '0' && *b <= '9')
                        y = y * 10 + (unsigned long)(*b++ - '0'), y = y > 100000 ? 100000 : y;
                if (x != y)
                        return x < y ? -1 : 1;
                if (*a == '.')
                        a++;
                else if (*a)
                        a++; /* junk is skipped; the caller validated the syntax */
                if (*b == '.')
                        b++;
                else if (*b)
                        b++;
        }
        return 0;
}
