/*
 * json.c — recursive-descent JSON parser, document model and serialiser.
 *
 * The parser walks the input once with an explicit position; recursion depth
 * is bounded by JSON_MAX_DEPTH so hostile input cannot exhaust the stack.
 * Numbers are kept three ways (double, int64, uint64) so that 64-bit limits
 * such as memory.limit = 9223372036854775807 or a uint64 mask survive exactly.
 * Errors name the line and column of the offending byte.
 */
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "json.h"

struct parser {
        const char *p, *start, *end;
        int depth;
        struct berth_error **err;
};

static int perr(struct parser *ps, const char *what)
{
        int line = 1, col = 1;
        for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
                if (*q == '\n')
                        line++, col = 1;
                else
                        col++;
        }
        if (ps->p >= ps->end)
                return berth_error_set(ps->err, EINVAL,
                                       "line %d column %d: %s (unexpected end of input)", line, col,
                                       what);
        return berth_error_set(ps->err, EINVAL, "line %d column %d: %s", line, col, what);
}

static void skip_ws(struct parser *ps)
{
        while (ps->p < ps->end &&
               (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
                ps->p++;
}

static struct json *new_value(enum json_type t)
{
        struct json *j = xcalloc(1, sizeof(*j));
        j->type = t;
        return j;
}

static int parse_value(struct parser *ps, struct json **ret);

static int hex4(const char *s, unsigned *ret)
{
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
                char c = s[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned)(c - 'A' + 10);
                else
                        return -1;
        }
        *ret = v;
        return 0;
}

static void put_utf8(struct berth_buf *b, unsigned cp)
{
        char out[4];
        size_t n;
        if (cp < 0x80) {
                out[0] = (char)cp, n = 1;
        } else if (cp < 0x800) {
                out[0] = (char)(0xC0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3F));
                n = 2;
        } else if (cp < 0x10000) {
                out[0] = (char)(0xE0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char)(0x80 | (cp & 0x3F));
                n = 3;
        } else {
                out[0] = (char)(0xF0 | (cp >> 18));
                out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[3] = (char)(0x80 | (cp & 0x3F));
                n = 4;
        }
        buf_append(b, out, n);
}

/* ps->p at the opening quote. */
static int parse_string_raw(struct parser *ps, struct berth_buf *b)
{
        ps->p++;
        for (;;) {
                const char *run = ps->p;
                while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
                       (unsigned char)*ps->p >= 0x20)
                        ps->p++;
                buf_append(b, run, (size_t)(ps->p - run));
                if (ps->p >= ps->end)
                        return perr(ps, "unterminated string");
                char c = *ps->p;
                if (c == '"') {
                        ps->p++;
                        return 0;
                }
                if ((unsigned char)c < 0x20)
                        return perr(ps, "control character in string");
                /* backslash */
                ps->p++;
                if (ps->p >= ps->end)
                        return perr(ps, "unterminated escape");
                c = *ps->p++;
                switch (c) {
                case '"':
                        buf_putc(b, '"');
                        break;
                case '\\':
                        buf_putc(b, '\\');
                        break;
                case '/':
                        buf_putc(b, '/');
                        break;
                case 'b':
                        buf_putc(b, '\b');
                        break;
                case 'f':
                        buf_putc(b, '\f');
                        break;
                case 'n':
                        buf_putc(b, '\n');
                        break;
                case 'r':
                        buf_putc(b, '\r');
                        break;
                case 't':
                        buf_putc(b, '\t');
                        break;
                case 'u': {
                        unsigned cp;
                        if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
                                return perr(ps, "bad \\u escape");
                        ps->p += 4;
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                                unsigned lo;
                                if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' &&
                                    hex4(ps->p + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                                        ps->p += 6;
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                } else {
                                        cp = 0xFFFD; /* lone surrogate, as Go does */
                                }
                        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                                cp = 0xFFFD;
                        }
                        put_utf8(b, cp);
                        break;
                }
                default:
                        ps->p--;
                        return perr(ps, "bad escape in string");
                }
        }
}

static int parse_number(struct parser *ps, struct json **ret)
{
        const char *s = ps->p;
        bool neg = false, integral = true;
        if (ps->p < ps->end && *ps->p == '-')
                neg = true, ps->p++;
        if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9'))
                return perr(ps, "bad number");
        if (*ps->p == '0') {
                ps->p++;
        } else {
                while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                        ps->p++;
        }
        if (ps->p < ps->end && *ps->p == '.') {
                integral = false;
                ps->p++;
                if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9'))
                        return perr(ps, "bad number");
                while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                        ps->p++;
        }
        if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
                integral = false;
                ps->p++;
                if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
                        ps->p++;
                if (ps->p >= ps->end || !(*ps->p >= '0' && *ps->p <= '9'))
                        return perr(ps, "bad number");
                while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                        ps->p++;
        }
        size_t n = (size_t)(ps->p - s);
        char tmp[64];
        _cleanup_free_ char *heap = NULL;
        char *txt = tmp;
        if (n >= sizeof(tmp))
                txt = heap = xmalloc(n + 1);
        memcpy(txt, s, n);
        txt[n] = '\0';

        struct json *j = new_value(JSON_NUMBER);
        j->num.d = strtod(txt, NULL);
        if (integral) {
                const char *digits = txt + (neg ? 1 : 0);
                uint64_t u = 0;
                bool overflow = false;
                for (const char *q = digits; *q; q++) {
                        unsigned d = (unsigned)(*q - '0');
                        if (u > (UINT64_MAX - d) / 10) {
                                overflow = true;
                                break;
                        }
                        u = u * 10 + d;
                }
                if (!overflow) {
                        if (!neg) {
                                j->num.u = u;
                                j->num.flags |= JSON_NUM_UINT;
                                if (u <= (uint64_t)INT64_MAX) {
                                        j->num.i = (int64_t)u;
                                        j->num.flags |= JSON_NUM_INT;
                                }
                        } else if (u <= (uint64_t)INT64_MAX + 1) {
                                j->num.i = (u == (uint64_t)INT64_MAX + 1) ? INT64_MIN : -(int64_t)u;
                                j->num.flags |= JSON_NUM_INT;
                        }
                }
        }
        *ret = j;
        return 0;
}

static int expect_word(struct parser *ps, const char *w)
{
        size_t n = strlen(w);
        if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
                return perr(ps, "invalid literal");
        ps->p += n;
        return 0;
}

static int parse_array(struct parser *ps, struct json **ret)
{
        ps->p++;
        struct json *a = json_new_array();
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                *ret = a;
                return 0;
        }
        for (;;) {
                struct json *v = NULL;
                int r = parse_value(ps, &v);
                if (r < 0) {
                        json_free(a);
                        return r;
                }
                json_array_append(a, v);
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                        ps->p++;
                        continue;
                }
                if (ps->p < ps->end && *ps->p == ']') {
                        ps->p++;
                        *ret = a;
                        return 0;
                }
                json_free(a);
                return perr(ps, "expected ',' or ']' in array");
        }
}

static int parse_object(struct parser *ps, struct json **ret)
{
        ps->p++;
        struct json *o = json_new_object();
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                *ret = o;
                return 0;
        }
        for (;;) {
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p != '"') {
                        json_free(o);
                        return perr(ps, "expected string key in object");
                }
                _cleanup_buf_ struct berth_buf key = BERTH_BUF_INIT;
                int r = parse_string_raw(ps, &key);
                if (r < 0) {
                        json_free(o);
                        return r;
                }
                skip_ws(ps);
                if (ps->p >= ps->end || *ps->p != ':') {
                        json_free(o);
                        return perr(ps, "expected ':' after object key");
                }
                ps->p++;
                struct json *v = NULL;
                r = parse_value(ps, &v);
                if (r < 0) {
                        json_free(o);
                        return r;
                }
                json_object_set(o, key.data ? key.data : "", v);
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                        ps->p++;
                        continue;
                }
                if (ps->p < ps->end && *ps->p == '}') {
                        ps->p++;
                        *ret = o;
                        return 0;
                }
                json_free(o);
                return perr(ps, "expected ',' or '}' in object");
        }
}

static int parse_value(struct parser *ps, struct json **ret)
{
        skip_ws(ps);
        if (ps->p >= ps->end)
                return perr(ps, "expected a value");
        if (++ps->depth > JSON_MAX_DEPTH)
                return perr(ps, "nesting too deep");
        int r;
        switch (*ps->p) {
        case '{':
                r = parse_object(ps, ret);
                break;
        case '[':
                r = parse_array(ps, ret);
                break;
        case '"': {
                struct berth_buf b = BERTH_BUF_INIT;
                r = parse_string_raw(ps, &b);
                if (r < 0) {
                        buf_release(&b);
                        break;
                }
                struct json *j = new_value(JSON_STRING);
                j->str.len = b.len;
                j->str.s = buf_steal(&b);
                *ret = j;
                break;
        }
        case 't':
                r = expect_word(ps, "true");
                if (r == 0)
                        *ret = json_new_bool(true);
                break;
        case 'f':
                r = expect_word(ps, "false");
                if (r == 0)
                        *ret = json_new_bool(false);
                break;
        case 'n':
                r = expect_word(ps, "null");
                if (r == 0)
                        *ret = json_new_null();
                break;
        default:
                if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
                        r = parse_number(ps, ret);
                else
                        r = perr(ps, "unexpected character");
        }
        ps->depth--;
        return r;
}

int json_parse(const char *buf, size_t len, struct json **ret, struct berth_error **err)
{
        struct parser ps = {.p = buf, .start = buf, .end = buf + len, .err = err};
        struct json *j = NULL;
        int r = parse_value(&ps, &j);
        if (r < 0)
                return r;
        skip_ws(&ps);
        if (ps.p != ps.end) {
                json_free(j);
                return perr(&ps, "trailing data after JSON value");
        }
        *ret = j;
        return 0;
}

int json_parse_file(const char *path, size_t max_size, struct json **ret, struct berth_error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return berth_error_sys(err, errno, "open '%s'", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_sys(err, errno, "stat '%s'", path);
        if (!S_ISREG(st.st_mode))
                return berth_error_set(err, EINVAL, "'%s' is not a regular file", path);
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        for (;;) {
                buf_grow(&b, 65536);
                ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_error_sys(err, errno, "read '%s'", path);
                }
                if (n == 0)
                        break;
                b.len += (size_t)n;
                if (b.len > max_size)
                        return berth_error_set(err, EFBIG, "'%s' is larger than %zu bytes", path,
                                               max_size);
        }
        int r = json_parse(b.data ? b.data : "", b.len, ret, err);
        if (r < 0)
                return berth_error_prefix(err, "parse '%s'", path);
        return 0;
}

void json_free(struct json *j)
{
        if (!j)
                return;
        switch (j->type) {
        case JSON_STRING:
                free(j->str.s);
                break;
        case JSON_ARRAY:
                for (size_t i = 0; i < j->arr.n; i++)
                        json_free(j->arr.items[i]);
                free(j->arr.items);
                break;
        case JSON_OBJECT:
                for (size_t i = 0; i < j->obj.n; i++) {
                        free(j->obj.m[i].key);
                        json_free(j->obj.m[i].value);
                }
                free(j->obj.m);
                break;
        default:
                break;
        }
        free(j);
}

/* Index of key in obj, or -1.  The first bytes are compared before strcmp:
 * most keys of an object differ there (a listing of 1,000 containers spent a
 * tenth of berthd's time and of the CLI's in strcmp calls). */
static ssize_t member_index(const struct json *obj, const char *key)
{
        for (size_t i = 0; i < obj->obj.n; i++) {
                const char *k = obj->obj.m[i].key;
                if (k[0] == key[0] && strcmp(k, key) == 0)
                        return (ssize_t)i;
        }
        return -1;
}

struct json *json_get(const struct json *obj, const char *key)
{
        if (!json_is(obj, JSON_OBJECT))
                return NULL;
        ssize_t i = member_index(obj, key);
        return i < 0 ? NULL : obj->obj.m[i].value;
}

const char *json_type_name(enum json_type t)
{
        switch (t) {
        case JSON_NULL:
                return "null";
        case JSON_BOOL:
                return "boolean";
        case JSON_NUMBER:
                return "number";
        case JSON_STRING:
                return "string";
        case JSON_ARRAY:
                return "array";
        case JSON_OBJECT:
                return "object";
        }
        return "unknown";
}

const char *json_str(const struct json *j)
{
        return json_is(j, JSON_STRING) ? j->str.s : NULL;
}

size_t json_len(const struct json *j)
{
        if (!j)
                return 0;
        switch (j->type) {
        case JSON_STRING:
                return j->str.len;
        case JSON_ARRAY:
                return j->arr.n;
        case JSON_OBJECT:
                return j->obj.n;
        default:
                return 0;
        }
}

struct json *json_new_null(void)
{
        return new_value(JSON_NULL);
}

struct json *json_new_bool(bool b)
{
        struct json *j = new_value(JSON_BOOL);
        j->b = b;
        return j;
}

struct json *json_new_int(int64_t i)
{
        struct json *j = new_value(JSON_NUMBER);
        j->num.i = i;
        j->num.d = (double)i;
        j->num.flags = JSON_NUM_INT;
        if (i >= 0) {
                j->num.u = (uint64_t)i;
                j->num.flags |= JSON_NUM_UINT;
        }
        return j;
}

struct json *json_new_uint(uint64_t u)
{
        struct json *j = new_value(JSON_NUMBER);
        j->num.u = u;
        j->num.d = (double)u;
        j->num.flags = JSON_NUM_UINT;
        if (u <= (uint64_t)INT64_MAX) {
                j->num.i = (int64_t)u;
                j->num.flags |= JSON_NUM_INT;
        }
        return j;
}

struct json *json_new_double(double d)
{
        struct json *j = new_value(JSON_NUMBER);
        j->num.d = d;
        return j;
}

struct json *json_new_stringn(const char *s, size_t len)
{
        struct json *j = new_value(JSON_STRING);
        j->str.s = xmalloc(len + 1);
        memcpy(j->str.s, s, len);
        j->str.s[len] = '\0';
        j->str.len = len;
        return j;
}

struct json *json_new_string(const char *s)
{
        return json_new_stringn(s, strlen(s));
}

struct json *json_new_array(void)
{
        return new_value(JSON_ARRAY);
}

struct json *json_new_object(void)
{
        return new_value(JSON_OBJECT);
}

struct json *json_object_set(struct json *obj, const char *key, struct json *val)
{
        ssize_t i = member_index(obj, key);
        if (i >= 0) {
                json_free(obj->obj.m[i].value);
                obj->obj.m[i].value = val;
                return val;
        }
        if (obj->obj.n == obj->obj.cap) {
                obj->obj.cap = obj->obj.cap ? obj->obj.cap * 2 : 8;
                obj->obj.m = xrealloc(obj->obj.m, obj->obj.cap * sizeof(*obj->obj.m));
        }
        obj->obj.m[obj->obj.n].key = xstrdup(key);
        obj->obj.m[obj->obj.n].value = val;
        obj->obj.n++;
        return val;
}

bool json_object_del(struct json *obj, const char *key)
{
        if (!json_is(obj, JSON_OBJECT))
                return false;
        ssize_t i = member_index(obj, key);
        if (i < 0)
                return false;
        free(obj->obj.m[i].key);
        json_free(obj->obj.m[i].value);
        memmove(&obj->obj.m[i], &obj->obj.m[i + 1],
                (obj->obj.n - (size_t)i - 1) * sizeof(*obj->obj.m));
        obj->obj.n--;
        return true;
}

struct json *json_array_append(struct json *arr, struct json *val)
{
        if (arr->arr.n == arr->arr.cap) {
                arr->arr.cap = arr->arr.cap ? arr->arr.cap * 2 : 8;
                arr->arr.items = xrealloc(arr->arr.items, arr->arr.cap * sizeof(*arr->arr.items));
        }
        arr->arr.items[arr->arr.n++] = val;
        return val;
}

struct json *json_copy(const struct json *j)
{
        if (!j)
                return NULL;
        struct json *c;
        switch (j->type) {
        case JSON_STRING:
                return json_new_stringn(j->str.s, j->str.len);
        case JSON_ARRAY:
                c = json_new_array();
                for (size_t i = 0; i < j->arr.n; i++)
                        json_array_append(c, json_copy(j->arr.items[i]));
                return c;
        case JSON_OBJECT:
                c = json_new_object();
                for (size_t i = 0; i < j->obj.n; i++)
                        json_object_set(c, j->obj.m[i].key, json_copy(j->obj.m[i].value));
                return c;
        default:
                c = new_value(j->type);
                *c = *j;
                return c;
        }
}

void json_set_str(struct json *obj, const char *key, const char *s)
{
        json_object_set(obj, key, s ? json_new_string(s) : json_new_null());
}

void json_set_int(struct json *obj, const char *key, int64_t i)
{
        json_object_set(obj, key, json_new_int(i));
}

void json_set_bool(struct json *obj, const char *key, bool b)
{
        json_object_set(obj, key, json_new_bool(b));
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_valid(const unsigned char *s, size_t len, uint32_t *ret_cp)
{
        unsigned char c = s[0];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
                *ret_cp = c;
                return 1;
        } else if ((c & 0xe0) == 0xc0) {
                n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
                n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
                n = 4, cp = c & 0x07, min = 0x10000;
        } else {
                return 0;
        }
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return n;
}

/* As Go's encoding/json: control characters, quote and backslash escaped, <, >
 * and & as \u00XX unless told otherwise, U+2028/U+2029 escaped, and every byte
 * that is not part of valid UTF-8 replaced by \ufffd (container output and
 * file names are arbitrary bytes; the result is always valid JSON). */
void json_quote(struct berth_buf *b, const char *s, size_t len, unsigned flags)
{
        static const char hex[] = "0123456789abcdef";
        bool html = !(flags & JSON_DUMP_NO_ESCAPE_HTML);
        const unsigned char *u = (const unsigned char *)s;
        buf_putc(b, '"');
        size_t run = 0, i = 0;
        while (i < len) {
                unsigned char c = u[i];
                const char *esc = NULL;
                char ubuf[7];
                size_t step = 1;
                if (c == '"')
                        esc = "\\\"";
                else if (c == '\\')
                        esc = "\\\\";
                else if (c == '\n')
                        esc = "\\n";
                else if (c == '\r')
                        esc = "\\r";
                else if (c == '\t')
                        esc = "\\t";
                else if (c < 0x20 || (html && (c == '<' || c == '>' || c == '&'))) {
                        ubuf[0] = '\\', ubuf[1] = 'u', ubuf[2] = '0', ubuf[3] = '0';
                        ubuf[4] = hex[c >> 4], ubuf[5] = hex[c & 15], ubuf[6] = '\0';
                        esc = ubuf;
                } else if (c >= 0x80) {
                        uint32_t cp = 0;
                        step = utf8_valid(u + i, len - i, &cp);
                        if (step == 0) {
                                esc = "\\ufffd";
                                step = 1;
                        } else if (cp == 0x2028) {
                                esc = "\\u2028";
                        } else if (cp == 0x2029) {
                                esc = "\\u2029";
                        }
                }
                if (esc) {
                        buf_append(b, s + i - run, run);
                        run = 0;
                        buf_puts(b, esc);
                } else {
                        run += step;
                }
                i += step;
        }
        buf_append(b, s + len - run, run);
        buf_putc(b, '"');
}

static void indent(struct berth_buf *b, int level)
{
        buf_putc(b, '\n');
        for (int i = 0; i < level; i++)
                buf_append(b, "  ", 2);
}

static void dump(struct berth_buf *b, const struct json *j, unsigned flags, int level)
{
        bool pretty = flags & JSON_DUMP_PRETTY;
        switch (j->type) {
        case JSON_NULL:
                buf_puts(b, "null");
                break;
        case JSON_BOOL:
                buf_puts(b, j->b ? "true" : "false");
                break;
        case JSON_NUMBER:
                if (j->num.flags & JSON_NUM_INT)
                        buf_printf(b, "%lld", (long long)j->num.i);
                else if (j->num.flags & JSON_NUM_UINT)
                        buf_printf(b, "%llu", (unsigned long long)j->num.u);
                else if (isfinite(j->num.d))
                        buf_printf(b, "%.17g", j->num.d);
                else
                        buf_puts(b, "null");
                break;
        case JSON_STRING:
                json_quote(b, j->str.s, j->str.len, flags);
                break;
        case JSON_ARRAY:
                buf_putc(b, '[');
                for (size_t i = 0; i < j->arr.n; i++) {
                        if (i)
                                buf_putc(b, ',');
                        if (pretty)
                                indent(b, level + 1);
                        dump(b, j->arr.items[i], flags, level + 1);
                }
                if (pretty && j->arr.n)
                        indent(b, level);
                buf_putc(b, ']');
                break;
        case JSON_OBJECT:
                buf_putc(b, '{');
                for (size_t i = 0; i < j->obj.n; i++) {
                        if (i)
                                buf_putc(b, ',');
                        if (pretty)
                                indent(b, level + 1);
                        json_quote(b, j->obj.m[i].key, strlen(j->obj.m[i].key), flags);
                        buf_puts(b, pretty ? ": " : ":");
                        dump(b, j->obj.m[i].value, flags, level + 1);
                }
                if (pretty && j->obj.n)
                        indent(b, level);
                buf_putc(b, '}');
                break;
        }
}

char *json_dump(const struct json *j, unsigned flags)
{
        struct berth_buf b = BERTH_BUF_INIT;
        if (!j)
                buf_puts(&b, "null");
        else
                dump(&b, j, flags, 0);
        return buf_steal(&b);
}

void json_compact_text(struct berth_buf *b, const char *in, size_t len)
{
        bool in_string = false, escaped = false;
        for (size_t i = 0; i < len; i++) {
                char c = in[i];
                if (in_string) {
                        buf_putc(b, c);
                        if (escaped)
                                escaped = false;
                        else if (c == '\\')
                                escaped = true;
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                        continue;
                if (c == '"')
                        in_string = true;
                buf_putc(b, c);
        }
}
