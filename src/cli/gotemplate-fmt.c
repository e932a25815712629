/*
 * gotemplate-fmt.c — Go's printing rules for JSON values, so that a
 * template prints what docker (a Go program) would print for the same data.
 *
 * How: %v of a map is "map[k:v …]" with keys sorted bytewise, of a slice
 * "[a b]", of a nil interface "<nil>"; integral numbers print as integers,
 * other numbers as strconv.FormatFloat(f, 'g', -1, 64) (shortest digits,
 * exponent form when the exponent is < -4 or >= 21 for JSON and >= 6 for
 * fmt, exactly as Go).  printf implements the verbs users write, with Go's
 * "%!d(string=x)", "%!s(MISSING)" and "%!(EXTRA …)" for mismatches.
 *
 * Never: hand a user-controlled format string to the C printf family; every
 * conversion here builds its own format from parsed, bounded pieces.
 */
#include <math.h> /* macros only (isnan, isinf, signbit): no libm */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/gotemplate-internal.h"
#include "cli/gotemplate.h"

bool gt_object_all_strings(const struct json *o)
{
        for (size_t i = 0; i < o->obj.n; i++)
                if (o->obj.m[i].value->type != JSON_STRING)
                        return false;
        return true;
}

bool gt_is_int(const struct json *v)
{
        return v && v->type == JSON_NUMBER && (v->num.flags & (JSON_NUM_INT | JSON_NUM_UINT));
}

const char *gt_type_name(const struct json *v)
{
        if (!v || v->type == JSON_NULL)
                return "<nil>";
        switch (v->type) {
        case JSON_BOOL:
                return "bool";
        case JSON_NUMBER:
                if (!gt_is_int(v))
                        return "float64";
                return (v->num.flags & GT_NUM_GO_INT) ? "int" : "int64";
        case JSON_STRING:
                return "string";
        case JSON_ARRAY:
                return "[]interface {}";
        case JSON_OBJECT:
                return gt_object_all_strings(v) ? "map[string]string" : "map[string]interface {}";
        default:
                return "<nil>";
        }
}

/* Shortest decimal digits that read back as d: d = 0.DIGITS × 10^dp. */
static double absd(double d)
{
        return d < 0 ? -d : d;
}

static int shortest_digits(double d, char digits[32], int *ret_dp)
{
        char tmp[64];
        if (d == 0) {
                digits[0] = '\0';
                *ret_dp = 0;
                return 0;
        }
        for (int p = 1; p <= 17; p++) {
                snprintf(tmp, sizeof(tmp), "%.*e", p - 1, absd(d));
                if (strtod(tmp, NULL) != absd(d) && p < 17)
                        continue;
                int nd = 0;
                const char *s = tmp;
                for (; *s && *s != 'e'; s++)
                        if (*s >= '0' && *s <= '9')
                                digits[nd++] = *s;
                int exp = *s == 'e' ? atoi(s + 1) : 0;
                while (nd > 1 && digits[nd - 1] == '0')
                        nd--;
                digits[nd] = '\0';
                *ret_dp = exp + 1;
                return nd;
        }
        return 0;
}

static void put_exp(struct berth_buf *b, char e, int exp)
{
        buf_putc(b, e);
        buf_putc(b, exp < 0 ? '-' : '+');
        if (exp < 0)
                exp = -exp;
        if (exp < 10)
                buf_putc(b, '0');
        buf_printf(b, "%d", exp);
}

/* Shortest representation in e or f form (Go's fmtE / fmtF with shortest digits). */
static void shortest_form(struct berth_buf *b, double d, char form)
{
        char digits[32];
        int dp;
        int nd = shortest_digits(d, digits, &dp);
        if (signbit(d) && d != 0)
                buf_putc(b, '-');
        if (nd == 0) {
                buf_puts(b, form == 'e' ? "0e+00" : "0");
                return;
        }
        if (form == 'e') {
                buf_putc(b, digits[0]);
                if (nd > 1) {
                        buf_putc(b, '.');
                        buf_append(b, digits + 1, nd - 1);
                }
                put_exp(b, 'e', dp - 1);
                return;
        }
        if (dp <= 0) {
                buf_puts(b, "0.");
                for (int i = 0; i < -dp; i++)
                        buf_putc(b, '0');
                buf_append(b, digits, nd);
        } else if (dp >= nd) {
                buf_append(b, digits, nd);
                for (int i = nd; i < dp; i++)
                        buf_putc(b, '0');
        } else {
                buf_append(b, digits, dp);
                buf_putc(b, '.');
                buf_append(b, digits + dp, nd - dp);
        }
}

void gt_format_float(struct berth_buf *b, double d, char verb, int prec)
{
        if (isnan(d)) {
                buf_puts(b, "NaN");
                return;
        }
        if (isinf(d)) {
                buf_puts(b, d < 0 ? "-Inf" : "+Inf");
                return;
        }
        if (prec >= 0) {
                if (prec > 100)
                        prec = 100;
                if (verb == 'e')
                        buf_printf(b, "%.*e", prec, d);
                else if (verb == 'f')
                        buf_printf(b, "%.*f", prec, d);
                else
                        buf_printf(b, "%.*g", prec, d);
                return;
        }
        if (verb == 'e' || verb == 'f') {
                shortest_form(b, d, verb);
                return;
        }
        char digits[32];
        int dp;
        int nd = shortest_digits(d, digits, &dp);
        int exp = dp - 1;
        shortest_form(b, d, nd > 0 && (exp < -4 || exp >= 6) ? 'e' : 'f');
}

static void print_number(struct berth_buf *b, const struct json *v)
{
        if (v->num.flags & JSON_NUM_INT)
                buf_printf(b, "%lld", (long long)v->num.i);
        else if (v->num.flags & JSON_NUM_UINT)
                buf_printf(b, "%llu", (unsigned long long)v->num.u);
        else
                gt_format_float(b, v->num.d, 'g', -1);
}

static int cmp_member(const void *a, const void *b)
{
        const struct json_member *x = *(const struct json_member *const *)a;
        const struct json_member *y = *(const struct json_member *const *)b;
        return strcmp(x->key, y->key);
}

/* Members of an object sorted by key, as fmt and text/template range see a Go map. */
static const struct json_member **sorted_members(const struct json *o)
{
        const struct json_member **m = xcalloc(o->obj.n + 1, sizeof(*m));
        for (size_t i = 0; i < o->obj.n; i++)
                m[i] = &o->obj.m[i];
        qsort(m, o->obj.n, sizeof(*m), cmp_member);
        return m;
}

struct fmt_spec {
        char verb;
        bool minus, plus, sharp, zero, space;
        int width, prec; /* -1 = absent */
};

static void fmt_value(struct berth_buf *b, const struct fmt_spec *sp, const struct json *v,
                      int depth);

/* "%!d(string=x)": the value is printed with %v and the verb's own flags, as Go's badVerb. */
static void bad_verb(struct berth_buf *b, const struct fmt_spec *sp, const struct json *v)
{
        buf_printf(b, "%%!%c(", sp->verb);
        if (!v || v->type == JSON_NULL) {
                buf_puts(b, "<nil>");
        } else {
                buf_puts(b, gt_type_name(v));
                buf_putc(b, '=');
                struct fmt_spec as_v = *sp;
                as_v.verb = 'v';
                fmt_value(b, &as_v, v, 0);
        }
        buf_putc(b, ')');
}

static size_t utf8_runes(const char *s, size_t len)
{
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
                if (((unsigned char)s[i] & 0xc0) != 0x80)
                        n++;
        return n;
}

/* Byte length of the first max runes of s. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
        size_t n = 0, i = 0;
        for (; i < len; i++) {
                if (((unsigned char)s[i] & 0xc0) != 0x80) {
                        if (n == max)
                                break;
                        n++;
                }
        }
        return i;
}

/* Write s padded to the spec's width (in runes), as fmt's padString. */
static void pad(struct berth_buf *b, const struct fmt_spec *sp, const char *s, size_t len,
                bool numeric)
{
        size_t w = utf8_runes(s, len);
        size_t fill = sp->width > 0 && (size_t)sp->width > w ? (size_t)sp->width - w : 0;
        if (sp->minus) {
                buf_append(b, s, len);
                for (size_t i = 0; i < fill; i++)
                        buf_putc(b, ' ');
                return;
        }
        if (sp->zero && numeric && fill) {
                /* zeros go after the sign */
                if (len && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) {
                        buf_putc(b, s[0]);
                        s++;
                        len--;
                }
                for (size_t i = 0; i < fill; i++)
                        buf_putc(b, '0');
                buf_append(b, s, len);
                return;
        }
        for (size_t i = 0; i < fill; i++)
                buf_putc(b, ' ');
        buf_append(b, s, len);
}

static void put_rune(struct berth_buf *b, uint32_t r)
{
        if (r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
                r = 0xfffd;
        if (r < 0x80) {
                buf_putc(b, (char)r);
        } else if (r < 0x800) {
                buf_putc(b, (char)(0xc0 | (r >> 6)));
                buf_putc(b, (char)(0x80 | (r & 0x3f)));
        } else if (r < 0x10000) {
                buf_putc(b, (char)(0xe0 | (r >> 12)));
                buf_putc(b, (char)(0x80 | ((r >> 6) & 0x3f)));
                buf_putc(b, (char)(0x80 | (r & 0x3f)));
        } else {
                buf_putc(b, (char)(0xf0 | (r >> 18)));
                buf_putc(b, (char)(0x80 | ((r >> 12) & 0x3f)));
                buf_putc(b, (char)(0x80 | ((r >> 6) & 0x3f)));
                buf_putc(b, (char)(0x80 | (r & 0x3f)));
        }
}

/* Decode one UTF-8 rune at s (len > 0); returns its length, *r = 0xFFFD and 1 when invalid. */
static size_t decode_rune(const unsigned char *s, size_t len, uint32_t *r)
{
        unsigned c = s[0];
        size_t n;
        uint32_t v, min;
        if (c < 0x80) {
                *r = c;
                return 1;
        } else if ((c & 0xe0) == 0xc0) {
                n = 2, v = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
                n = 3, v = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
                n = 4, v = c & 0x07, min = 0x10000;
        } else {
                *r = 0xfffd;
                return 1;
        }
        if (n > len)
                goto bad;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        goto bad;
                v = (v << 6) | (s[i] & 0x3f);
        }
        if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
                goto bad;
        *r = v;
        return n;
bad:
        *r = 0xfffd;
        return 1;
}

void gt_quote(struct berth_buf *b, const char *s, size_t len, long maxrunes)
{
        if (maxrunes >= 0)
                len = utf8_prefix(s, len, (size_t)maxrunes);
        buf_putc(b, '"');
        for (size_t i = 0; i < len;) {
                uint32_t r;
                size_t n = decode_rune((const unsigned char *)s + i, len - i, &r);
                if (r == 0xfffd && n == 1 && (unsigned char)s[i] >= 0x80) {
                        buf_printf(b, "\\x%02x", (unsigned char)s[i]);
                        i++;
                        continue;
                }
                i += n;
                switch (r) {
                case '"':
                        buf_puts(b, "\\\"");
                        continue;
                case '\\':
                        buf_puts(b, "\\\\");
                        continue;
                case '\a':
                        buf_puts(b, "\\a");
                        continue;
                case '\b':
                        buf_puts(b, "\\b");
                        continue;
                case '\f':
                        buf_puts(b, "\\f");
                        continue;
                case '\n':
                        buf_puts(b, "\\n");
                        continue;
                case '\r':
                        buf_puts(b, "\\r");
                        continue;
                case '\t':
                        buf_puts(b, "\\t");
                        continue;
                case '\v':
                        buf_puts(b, "\\v");
                        continue;
                }
                if (r < 0x20 || r == 0x7f)
                        buf_printf(b, "\\x%02x", r);
                else if (r >= 0x80 && r < 0xa0)
                        buf_printf(b, "\\u%04x", r);
                else
                        put_rune(b, r);
        }
        buf_putc(b, '"');
}

static void fmt_int(struct berth_buf *b, const struct fmt_spec *sp, const struct json *v)
{
        _cleanup_buf_ struct berth_buf t = BERTH_BUF_INIT;
        bool neg = (v->num.flags & JSON_NUM_INT) && v->num.i < 0;
        unsigned long long mag =
            (v->num.flags & JSON_NUM_INT)
                ? (neg ? 0ULL - (unsigned long long)v->num.i : (unsigned long long)v->num.i)
                : (unsigned long long)v->num.u;
        switch (sp->verb) {
        case 'c': /* a negative or too large code point is U+FFFD */
                put_rune(&t, neg || mag > 0x10ffff ? 0xfffd : (uint32_t)mag);
                pad(b, sp, t.data, t.len, false);
                return;
        case 'q': {
                _cleanup_buf_ struct berth_buf r = BERTH_BUF_INIT;
                put_rune(&r, (uint32_t)mag);
                buf_putc(&t, '\'');
                if (mag == '\'')
                        buf_puts(&t, "\\'");
                else if (mag < 0x20)
                        buf_printf(&t, "\\x%02llx", mag);
                else
                        buf_append(&t, r.data, r.len);
                buf_putc(&t, '\'');
                pad(b, sp, t.data, t.len, false);
                return;
        }
        case 'U': /* of the bits: a negative int is a huge code point */
                buf_printf(&t, "U+%04llX",
                           (v->num.flags & JSON_NUM_INT) ? (unsigned long long)v->num.i : mag);
                pad(b, sp, t.data, t.len, false);
                return;
        }
        if (neg)
                buf_putc(&t, '-');
        else if (sp->plus)
                buf_putc(&t, '+');
        else if (sp->space)
                buf_putc(&t, ' ');
        size_t digits_start = t.len;
        switch (sp->verb) {
        case 'b': {
                char d[65];
                int n = 0;
                do {
                        d[n++] = (char)('0' + (mag & 1));
                        mag >>= 1;
                } while (mag);
                while (n)
                        buf_putc(&t, d[--n]);
                break;
        }
        case 'o':
        case 'O':
                if (sp->verb == 'O')
                        buf_puts(&t, "0o");
                else if (sp->sharp)
                        buf_putc(&t, '0');
                buf_printf(&t, "%llo", mag);
                break;
        case 'x':
                if (sp->sharp)
                        buf_puts(&t, "0x");
                buf_printf(&t, "%llx", mag);
                break;
        case 'X':
                if (sp->sharp)
                        buf_puts(&t, "0X");
                buf_printf(&t, "%llX", mag);
                break;
        default:
                buf_printf(&t, "%llu", mag);
        }
        if (sp->prec >= 0) {
                /* precision: at least that many digits (after any 0x prefix) */
                size_t at = digits_start;
                if (t.len - at >= 2 && t.data[at] == '0' && strchr("xXo", t.data[at + 1]))
                        at += 2;
                size_t have = t.len - at;
                if ((size_t)sp->prec > have) {
                        _cleanup_buf_ struct berth_buf z = BERTH_BUF_INIT;
                        buf_append(&z, t.data, at);
                        for (size_t k = have; k < (size_t)sp->prec && k < 10000; k++)
                                buf_putc(&z, '0');
                        buf_append(&z, t.data + at, have);
                        pad(b, sp, z.data, z.len, false);
                        return;
                }
                if (sp->prec == 0 && mag == 0) {
                        t.len = digits_start;
                        t.data[t.len] = '\0';
                }
                pad(b, sp, t.data, t.len, false);
                return;
        }
        pad(b, sp, t.data, t.len, true);
}

static void fmt_float(struct berth_buf *b, const struct fmt_spec *sp, double d)
{
        _cleanup_buf_ struct berth_buf t = BERTH_BUF_INIT;
        char verb = sp->verb;
        int prec = sp->prec;
        if (verb == 'v')
                verb = 'g';
        if (prec < 0 && (verb == 'e' || verb == 'E' || verb == 'f' || verb == 'F'))
                prec = 6;
        char lower = verb == 'E' ? 'e' : verb == 'F' ? 'f' : verb == 'G' ? 'g' : verb;
        if (sp->plus && d >= 0)
                buf_putc(&t, '+');
        else if (sp->space && d >= 0)
                buf_putc(&t, ' ');
        size_t start = t.len;
        gt_format_float(&t, d, lower, prec);
        if (verb == 'E' || verb == 'G')
                for (size_t i = start; i < t.len; i++)
                        if (t.data[i] == 'e')
                                t.data[i] = 'E';
        pad(b, sp, t.data, t.len, true);
}

/* Go's %x of a float: "0x1.8p+00" (C's %a with a two-digit exponent). */
static void fmt_hex_float(struct berth_buf *b, const struct fmt_spec *sp, double d)
{
        char tmp[64];
        if (sp->prec >= 0)
                snprintf(tmp, sizeof(tmp), "%.*a", sp->prec > 30 ? 30 : sp->prec, d);
        else
                snprintf(tmp, sizeof(tmp), "%a", d);
        _cleanup_buf_ struct berth_buf t = BERTH_BUF_INIT;
        char *p = strchr(tmp, 'p');
        if (p && (p[1] == '+' || p[1] == '-') && p[2] && !p[3]) {
                buf_append(&t, tmp, (size_t)(p - tmp) + 2);
                buf_putc(&t, '0');
                buf_puts(&t, p + 2);
        } else {
                buf_puts(&t, tmp);
        }
        if (sp->verb == 'X')
                for (size_t i = 0; i < t.len; i++)
                        if (t.data[i] >= 'a' && t.data[i] <= 'z')
                                t.data[i] = (char)(t.data[i] - 'a' + 'A');
        pad(b, sp, t.data, t.len, true);
}

/* Go's %b of a float: decimal mantissa, binary exponent ("5902958103587057p-69"). */
static void fmt_bin_float(struct berth_buf *b, const struct fmt_spec *sp, double d)
{
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        uint64_t mant = bits & ((1ULL << 52) - 1);
        int exp = (int)((bits >> 52) & 0x7ff);
        if (exp == 0)
                exp++;
        else
                mant |= 1ULL << 52;
        exp += -1023 - 52;
        _cleanup_buf_ struct berth_buf t = BERTH_BUF_INIT;
        if (bits >> 63)
                buf_putc(&t, '-');
        buf_printf(&t, "%llup%c%d", (unsigned long long)mant, exp >= 0 ? '+' : '-',
                   exp >= 0 ? exp : -exp);
        pad(b, sp, t.data, t.len, true);
}

static void fmt_string(struct berth_buf *b, const struct fmt_spec *sp, const char *s, size_t len)
{
        _cleanup_buf_ struct berth_buf t = BERTH_BUF_INIT;
        switch (sp->verb) {
        case 'q':
                gt_quote(&t, s, len, sp->prec);
                break;
        case 'x':
        case 'X':
                for (size_t i = 0; i < len && (sp->prec < 0 || (long)i < sp->prec); i++)
                        buf_printf(&t, sp->verb == 'x' ? "%02x" : "%02X", (unsigned char)s[i]);
                break;
        default:
                buf_append(&t, s, sp->prec >= 0 ? utf8_prefix(s, len, (size_t)sp->prec) : len);
        }
        pad(b, sp, t.data, t.len, false);
}

static void fmt_value(struct berth_buf *b, const struct fmt_spec *sp, const struct json *v,
                      int depth)
{
        char verb = sp->verb;
        if (!v || v->type == JSON_NULL) {
                if (depth > 0) {
                        buf_puts(b, "<nil>"); /* inside a map or slice: never padded */
                } else if (verb == 'v') {
                        pad(b, sp, "<nil>", 5, false);
                } else {
                        bad_verb(b, sp, v);
                }
                return;
        }
        switch (v->type) {
        case JSON_BOOL:
                if (verb == 'v' || verb == 't')
                        pad(b, sp, v->b ? "true" : "false", v->b ? 4 : 5, false);
                else
                        bad_verb(b, sp, v);
                return;
        case JSON_NUMBER:
                if (gt_is_int(v)) {
                        if (strchr("vdbcoOqxXU", verb))
                                fmt_int(b, sp, v);
                        else
                                bad_verb(b, sp, v);
                } else if (verb == 'x' || verb == 'X') {
                        fmt_hex_float(b, sp, v->num.d);
                } else if (verb == 'b') {
                        fmt_bin_float(b, sp, v->num.d);
                } else if (strchr("veEfFgG", verb)) {
                        fmt_float(b, sp, v->num.d);
                } else {
                        bad_verb(b, sp, v);
                }
                return;
        case JSON_STRING:
                if (strchr("vsqxX", verb))
                        fmt_string(b, sp, v->str.s, v->str.len);
                else
                        bad_verb(b, sp, v);
                return;
        case JSON_ARRAY:
                buf_putc(b, '[');
                for (size_t i = 0; i < v->arr.n; i++) {
                        if (i)
                                buf_putc(b, ' ');
                        fmt_value(b, sp, v->arr.items[i], depth + 1);
                }
                buf_putc(b, ']');
                return;
        case JSON_OBJECT: {
                _cleanup_free_ const struct json_member **m = sorted_members(v);
                buf_puts(b, "map[");
                for (size_t i = 0; i < v->obj.n; i++) {
                        if (i)
                                buf_putc(b, ' ');
                        struct json key = {.type = JSON_STRING};
                        key.str.s = m[i]->key;
                        key.str.len = strlen(m[i]->key);
                        fmt_value(b, sp, &key, depth + 1);
                        buf_putc(b, ':');
                        fmt_value(b, sp, m[i]->value, depth + 1);
                }
                buf_putc(b, ']');
                return;
        }
        default:
                return;
        }
}

void gotemplate_print_value(struct berth_buf *out, const struct json *v)
{
        struct fmt_spec sp = {.verb = 'v', .width = -1, .prec = -1};
        fmt_value(out, &sp, v, 0);
}

void gotemplate_quote(struct berth_buf *out, const char *s, size_t len)
{
        gt_quote(out, s, len, -1);
}

void gt_sprint(struct berth_buf *b, const struct json *const *v, size_t n)
{
        bool prev_string = false;
        for (size_t i = 0; i < n; i++) {
                bool is_string = v[i] && v[i]->type == JSON_STRING;
                if (i > 0 && !is_string && !prev_string)
                        buf_putc(b, ' ');
                gotemplate_print_value(b, v[i]);
                prev_string = is_string;
        }
}

void gt_sprintln(struct berth_buf *b, const struct json *const *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        buf_putc(b, ' ');
                gotemplate_print_value(b, v[i]);
        }
        buf_putc(b, '\n');
}

static int parse_num(const char *f, size_t len, size_t *i)
{
        int n = 0;
        while (*i < len && f[*i] >= '0' && f[*i] <= '9') {
                if (n < 1000000)
                        n = n * 10 + (f[*i] - '0');
                (*i)++;
        }
        return n > 10000 ? 10000 : n;
}

void gt_sprintf(struct berth_buf *b, const char *f, size_t len, const struct json *const *v,
                size_t n)
{
        size_t argi = 0;
        for (size_t i = 0; i < len;) {
                if (f[i] != '%') {
                        size_t j = i;
                        while (j < len && f[j] != '%')
                                j++;
                        buf_append(b, f + i, j - i);
                        i = j;
                        continue;
                }
                i++;
                struct fmt_spec sp = {.width = -1, .prec = -1};
                for (; i < len; i++) {
                        char c = f[i];
                        if (c == '-')
                                sp.minus = true;
                        else if (c == '+')
                                sp.plus = true;
                        else if (c == '#')
                                sp.sharp = true;
                        else if (c == '0')
                                sp.zero = true;
                        else if (c == ' ')
                                sp.space = true;
                        else
                                break;
                }
                if (i < len && f[i] >= '1' && f[i] <= '9')
                        sp.width = parse_num(f, len, &i);
                if (i < len && f[i] == '.') {
                        i++;
                        sp.prec = parse_num(f, len, &i);
                }
                if (i >= len) {
                        buf_puts(b, "%!(NOVERB)");
                        break;
                }
                uint32_t r;
                size_t rl = decode_rune((const unsigned char *)f + i, len - i, &r);
                i += rl;
                if (r == '%') {
                        buf_putc(b, '%');
                        continue;
                }
                if (r >= 0x80) {
                        buf_puts(b, "%!");
                        put_rune(b, r);
                        buf_puts(b, argi < n ? "(" : "(MISSING)");
                        if (argi < n) {
                                buf_puts(b, gt_type_name(v[argi]));
                                buf_putc(b, '=');
                                gotemplate_print_value(b, v[argi]);
                                buf_putc(b, ')');
                                argi++;
                        }
                        continue;
                }
                sp.verb = (char)r;
                if (argi >= n) {
                        buf_printf(b, "%%!%c(MISSING)", sp.verb);
                        continue;
                }
                fmt_value(b, &sp, v[argi++], 0);
        }
        if (argi < n) {
                buf_puts(b, "%!(EXTRA ");
                for (size_t k = argi; k < n; k++) {
                        if (k > argi)
                                buf_puts(b, ", ");
                        if (!v[k] || v[k]->type == JSON_NULL) {
                                buf_puts(b, "<nil>");
                                continue;
                        }
                        buf_puts(b, gt_type_name(v[k]));
                        buf_putc(b, '=');
                        gotemplate_print_value(b, v[k]);
                }
                buf_putc(b, ')');
        }
}

void gt_json_encode(struct berth_buf *b, const struct json *v, bool escape_html)
{
        if (!v || v->type == JSON_NULL) {
                buf_puts(b, "null");
                return;
        }
        switch (v->type) {
        case JSON_BOOL:
                buf_puts(b, v->b ? "true" : "false");
                return;
        case JSON_NUMBER:
                if (gt_is_int(v)) {
                        print_number(b, v);
                } else {
                        double a = absd(v->num.d);
                        size_t start = b->len;
                        shortest_form(b, v->num.d, a != 0 && (a < 1e-6 || a >= 1e21) ? 'e' : 'f');
                        /* Go writes 1e-07, not 1e-7 */
                        size_t n = b->len - start;
                        char *s = b->data + start;
                        if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') {
                                s[n - 2] = s[n - 1];
                                b->len--;
                                b->data[b->len] = '\0';
                        }
                }
                return;
        case JSON_STRING:
                json_quote(b, v->str.s, v->str.len, escape_html ? 0 : JSON_DUMP_NO_ESCAPE_HTML);
                return;
        case JSON_ARRAY:
                buf_putc(b, '[');
                for (size_t i = 0; i < v->arr.n; i++) {
                        if (i)
                                buf_putc(b, ',');
                        gt_json_encode(b, v->arr.items[i], escape_html);
                }
                buf_putc(b, ']');
                return;
        case JSON_OBJECT:
                buf_putc(b, '{');
                for (size_t i = 0; i < v->obj.n; i++) {
                        if (i)
                                buf_putc(b, ',');
                        json_quote(b, v->obj.m[i].key, strlen(v->obj.m[i].key),
                                   escape_html ? 0 : JSON_DUMP_NO_ESCAPE_HTML);
                        buf_putc(b, ':');
                        gt_json_encode(b, v->obj.m[i].value, escape_html);
                }
                buf_putc(b, '}');
                return;
        default:
                return;
        }
}
