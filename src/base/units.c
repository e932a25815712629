/*
 * units.c — go-units' HumanSize, BytesSize, HumanDuration, RAMInBytes and
 * FromHumanSize, Go's Duration.String and docker's TruncateID in C.
 *
 * How: sizes divide by 1000 (or 1024) until below the base, then print with
 * "%.*g" (C's %g and Go's agree for an explicit precision: both drop
 * trailing zeros and switch to e-notation at the same exponents).  Parsing
 * follows go-units' parseSize: the number is everything up to the last
 * digit, '.' or space; the suffix is one of b, k, m, g, t, p with an
 * optional "b" or "ib".
 *
 * Never: accept a negative size or a suffix go-units rejects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/units.h"

static const char *const decimal_abbrs[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
static const char *const binary_abbrs[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                           "PiB", "EiB", "ZiB", "YiB"};

void units_human_size_prec(struct berth_buf *b, double size, int precision)
{
        int i = 0;
        while (size >= 1000.0 && i < 8) {
                size /= 1000.0;
                i++;
        }
        buf_printf(b, "%.*g%s", precision, size, decimal_abbrs[i]);
}

void units_human_size(struct berth_buf *b, double size)
{
        units_human_size_prec(b, size, 4);
}

void units_bytes_size(struct berth_buf *b, double size)
{
        int i = 0;
        while (size >= 1024.0 && i < 8) {
                size /= 1024.0;
                i++;
        }
        buf_printf(b, "%.4g%s", size, binary_abbrs[i]);
}

void units_human_duration(struct berth_buf *b, int64_t d)
{
        const int64_t sec = UNITS_NSEC_PER_SEC;
        int64_t seconds = d / sec;
        if (seconds < 1) {
                buf_puts(b, "Less than a second");
                return;
        }
        if (seconds == 1) {
                buf_puts(b, "1 second");
                return;
        }
        if (seconds < 60) {
                buf_printf(b, "%lld seconds", (long long)seconds);
                return;
        }
        int64_t minutes = d / (60 * sec);
        if (minutes == 1) {
                buf_puts(b, "About a minute");
                return;
        }
        if (minutes < 60) {
                buf_printf(b, "%lld minutes", (long long)minutes);
                return;
        }
        /* Go: hours := int(d.Hours() + 0.5) */
        double fh = (double)d / (3600.0 * (double)sec);
        int64_t hours = (int64_t)(fh + 0.5);
        if (hours == 1) {
                buf_puts(b, "About an hour");
                return;
        }
        if (hours < 48) {
                buf_printf(b, "%lld hours", (long long)hours);
                return;
        }
        if (hours < 24 * 7 * 2) {
                buf_printf(b, "%lld days", (long long)(hours / 24));
                return;
        }
        if (hours < 24 * 30 * 2) {
                buf_printf(b, "%lld weeks", (long long)(hours / 24 / 7));
                return;
        }
        if (hours < 24 * 365 * 2) {
                buf_printf(b, "%lld months", (long long)(hours / 24 / 30));
                return;
        }
        buf_printf(b, "%lld years", (long long)((int64_t)fh / 24 / 365));
}

void units_ago(struct berth_buf *b, int64_t unix_time, int64_t now)
{
        int64_t delta = now - unix_time;
        /* time.Duration saturates; keep the multiplication in range */
        if (delta > INT64_MAX / UNITS_NSEC_PER_SEC)
                delta = INT64_MAX / UNITS_NSEC_PER_SEC;
        if (delta < INT64_MIN / UNITS_NSEC_PER_SEC)
                delta = INT64_MIN / UNITS_NSEC_PER_SEC;
        units_human_duration(b, delta * UNITS_NSEC_PER_SEC);
        buf_puts(b, " ago");
}

/* Go's fmtFrac / fmtInt for Duration.String: "1h2m3.5s", "1.5ms", "0s". */
void units_go_duration(struct berth_buf *b, int64_t d)
{
        if (d == 0) {
                buf_puts(b, "0s");
                return;
        }
        uint64_t u = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
        if (d < 0)
                buf_putc(b, '-');
        char frac[16];
        if (u < (uint64_t)UNITS_NSEC_PER_SEC) {
                /* sub-second: ns, µs or ms with a fraction */
                const char *unit;
                uint64_t div;
                if (u < 1000)
                        unit = "ns", div = 1;
                else if (u < 1000000)
                        unit = "\xc2\xb5s", div = 1000;
                else
                        unit = "ms", div = 1000000;
                buf_printf(b, "%llu", (unsigned long long)(u / div));
                uint64_t rest = u % div;
                if (rest) {
                        int digits = div == 1000 ? 3 : 6;
                        snprintf(frac, sizeof(frac), "%0*llu", digits, (unsigned long long)rest);
                        size_t n = strlen(frac);
                        while (n > 0 && frac[n - 1] == '0')
                                frac[--n] = '\0';
                        buf_printf(b, ".%s", frac);
                }
                buf_puts(b, unit);
                return;
        }
        uint64_t secs = u / (uint64_t)UNITS_NSEC_PER_SEC;
        uint64_t ns = u % (uint64_t)UNITS_NSEC_PER_SEC;
        uint64_t h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
        if (h)
                buf_printf(b, "%lluh", (unsigned long long)h);
        if (h || m)
                buf_printf(b, "%llum", (unsigned long long)m);
        buf_printf(b, "%llu", (unsigned long long)s);
        if (ns) {
                snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)ns);
                size_t n = strlen(frac);
                while (n > 0 && frac[n - 1] == '0')
                        frac[--n] = '\0';
                buf_printf(b, ".%s", frac);
        }
        buf_putc(b, 's');
}

static int parse_size(const char *str, bool binary, int64_t *ret, struct berth_error **err)
{
        const char *last = NULL;
        for (const char *p = str; *p; p++)
                if ((*p >= '0' && *p <= '9') || *p == '.' || *p == ' ')
                        last = p;
        if (!last)
                return berth_error_set(err, EINVAL, "invalid size: '%s'", str);
        size_t numlen = (size_t)(last - str) + (*last != ' ' ? 1 : 0);
        const char *sfx = last + 1;
        _cleanup_free_ char *num = xstrndup(str, numlen);
        /* strconv.ParseFloat: the whole number, no surrounding space */
        char *end = NULL;
        errno = 0;
        double size = numlen && num[0] != ' ' && num[0] != '\t' ? strtod(num, &end) : 0;
        if (!end || *end || end == num || errno == ERANGE)
                return berth_error_set(err, EINVAL, "strconv.ParseFloat: parsing \"%s\": %s", num,
                                       errno == ERANGE ? "value out of range" : "invalid syntax");
        if (size < 0)
                return berth_error_set(err, EINVAL, "invalid size: '%s'", str);
        size_t sl = strlen(sfx);
        if (sl == 0) {
                *ret = (int64_t)size;
                return 0;
        }
        char lower[4] = {0};
        if (sl > 3)
                goto bad;
        for (size_t i = 0; i < sl; i++)
                lower[i] = (char)(sfx[i] >= 'A' && sfx[i] <= 'Z' ? sfx[i] - 'A' + 'a' : sfx[i]);
        if (lower[0] == 'b') {
                if (sl > 1)
                        goto bad;
                *ret = (int64_t)size;
                return 0;
        }
        const char *units = "kmgtp";
        const char *u = strchr(units, lower[0]);
        if (!u || !*u)
                goto bad;
        double mul = 1;
        for (const char *k = units; k <= u; k++)
                mul *= binary ? 1024.0 : 1000.0;
        size *= mul;
        if ((sl == 2 && lower[1] != 'b') || (sl == 3 && strcmp(lower + 1, "ib") != 0))
                goto bad;
        *ret = size >= 9223372036854775807.0 ? INT64_MIN : (int64_t)size;
        return 0;
bad:
        return berth_error_set(err, EINVAL, "invalid suffix: '%s'", sl <= 3 ? lower : sfx);
}

int units_ram_in_bytes(const char *s, int64_t *ret, struct berth_error **err)
{
        return parse_size(s, true, ret, err);
}

int units_parse_go_bool(const char *s, bool *ret)
{
        static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
        static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                if (strcmp(s, t[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcmp(s, f[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int units_from_human_size(const char *s, int64_t *ret, struct berth_error **err)
{
        return parse_size(s, false, ret, err);
}

char *units_truncate_id(const char *id)
{
        const char *colon = strchr(id, ':');
        if (colon)
                id = colon + 1;
        return xstrndup(id, 12);
}

/* ---- JSONProgress.String ---- */

/* fmt's %8v of a string: right-aligned in 8 runes. */
static void pad8(struct berth_buf *b, const char *s)
{
        size_t runes = 0;
        for (const char *c = s; *c; c++)
                if (((unsigned char)*c & 0xc0) != 0x80)
                        runes++;
        for (size_t i = runes; i < 8; i++)
                buf_putc(b, ' ');
        buf_puts(b, s);
}

void progress_bar(struct berth_buf *b, int64_t current, int64_t total, int64_t start,
                  bool hide_counts, const char *units, int width, int64_t now_ns)
{
        _cleanup_buf_ struct berth_buf t = BERTH_BUF_INIT;
        if (current <= 0 && total <= 0)
                return;
        if (total <= 0) {
                if (!units || !*units) {
                        units_human_size(&t, (double)current);
                        pad8(b, t.data);
                } else {
                        buf_printf(b, "%lld %s", (long long)current, units);
                }
                return;
        }
        /* Go: int(float64(current)/float64(total)*100) / 2, capped at 50 */
        double ratio = (double)current / (double)total * 100.0;
        int64_t percentage = ratio >= 1e18 ? (int64_t)1e18 : (int64_t)ratio;
        percentage /= 2;
        if (percentage > 50)
                percentage = 50;
        if (width > 110) {
                buf_putc(b, '[');
                for (int64_t i = 0; i < percentage; i++)
                        buf_putc(b, '=');
                buf_putc(b, '>');
                for (int64_t i = percentage < 0 ? 0 : percentage; i < 50; i++)
                        buf_putc(b, ' ');
                buf_puts(b, "] ");
        }
        if (hide_counts) {
                /* nothing */
        } else if (!units || !*units) {
                units_human_size(&t, (double)current);
                pad8(b, t.data);
                if (current <= total) {
                        buf_putc(b, '/');
                        units_human_size(b, (double)total);
                }
        } else if (current > total) {
                buf_printf(b, "%lld %s", (long long)current, units);
        } else {
                buf_printf(b, "%lld/%lld %s", (long long)current, (long long)total, units);
        }
        if (width > 50 && current > 0 && start > 0 && percentage < 50) {
                /* Go's Duration arithmetic: integer nanoseconds, wrapping on overflow */
                int64_t from_start =
                    (int64_t)((uint64_t)now_ns - (uint64_t)start * (uint64_t)UNITS_NSEC_PER_SEC);
                int64_t per_entry = from_start / current;
                int64_t left = (int64_t)((uint64_t)(total - current) * (uint64_t)per_entry);
                /* Round(time.Second): halfway away from zero */
                int64_t sec = UNITS_NSEC_PER_SEC;
                int64_t r = left % sec;
                int64_t rounded = left - r;
                if (left >= 0 && r + r >= sec)
                        rounded += sec;
                else if (left < 0 && -(r + r) >= sec)
                        rounded -= sec;
                buf_putc(b, ' ');
                units_go_duration(b, rounded);
        }
}

void units_go_date_time(struct berth_buf *b, const struct tm *tm, char sep)
{
        buf_printf(b, "%04lld-%02d-%02d%c%02d:%02d:%02d", (long long)tm->tm_year + 1900,
                   tm->tm_mon + 1, tm->tm_mday, sep, tm->tm_hour, tm->tm_min, tm->tm_sec);
}

int units_parse_go_duration(const char *s, int64_t *ret_ns)
{
        static const struct {
                const char *unit;
                double ns;
        } units[] = {
            {"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
            {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9},
        };
        if (!s || !*s)
                return -EINVAL;
        bool neg = false;
        if (*s == '-' || *s == '+')
                neg = *s++ == '-';
        if (strcmp(s, "0") == 0) {
                *ret_ns = 0;
                return 0;
        }
        double total = 0;
        while (*s) {
                char *end = NULL;
                if (!((*s >= '0' && *s <= '9') || *s == '.'))
                        return -EINVAL;
                double v = strtod(s, &end);
                if (end == s)
                        return -EINVAL;
                s = end;
                size_t best = 0;
                double mult = 0;
                for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                        size_t n = strlen(units[i].unit);
                        if (strncmp(s, units[i].unit, n) == 0 && n > best) {
                                best = n;
                                mult = units[i].ns;
                        }
                }
                if (!best)
                        return -EINVAL; /* Go wants a unit after every number */
                total += v * mult;
                s += best;
        }
        if (total > 9.2e18)
                return -ERANGE;
        *ret_ns = (int64_t)(neg ? -total : total);
        return 0;
}

/* "1700000000" or "1700000000.123": Unix seconds and nanoseconds. */
static int parse_unix_seconds(const char *s, int64_t *ret_ns)
{
        int64_t sec = 0, frac = 0;
        int digits = 0;
        const char *p = s;
        bool neg = *p == '-';
        if (neg)
                p++;
        if (!(*p >= '0' && *p <= '9'))
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (sec > INT64_MAX / 10 / UNITS_NSEC_PER_SEC)
                        return -ERANGE;
                sec = sec * 10 + (*p - '0');
        }
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (digits < 9)
                                frac = frac * 10 + (*p - '0'), digits++;
        if (*p)
                return -EINVAL;
        while (digits++ < 9)
                frac *= 10;
        *ret_ns = (neg ? -sec : sec) * UNITS_NSEC_PER_SEC + frac;
        return 0;
}

/* "2006-01-02", then optionally "T15", ":04", ":05", ".999999999", and "Z" or "±07:00". */
/* A fraction of a second at p (".5", ".123456789", more digits ignored) in *ret_ns, 0 when
 * there is none; returns what follows it. */
static const char *parse_fraction(const char *p, int64_t *ret_ns)
{
        int64_t ns = 0;
        if (*p == '.') {
                int digits = 0;
                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (digits < 9)
                                ns = ns * 10 + (*p - '0'), digits++;
                while (digits++ < 9)
                        ns *= 10;
        }
        *ret_ns = ns;
        return p;
}

static int parse_date_time(const char *s, int64_t *ret_ns, struct berth_error **err)
{
        struct tm tm = {0};
        int64_t nsec = 0;
        int year, mon, day, n = 0;
        if (sscanf(s, "%4d-%2d-%2d%n", &year, &mon, &day, &n) != 3 || n != 10)
                return berth_error_set(err, EINVAL, "parsing time \"%s\": cannot parse", s);
        if (mon < 1 || mon > 12)
                return berth_error_set(err, EINVAL, "parsing time \"%s\": month out of range", s);
        if (day < 1 || day > 31)
                return berth_error_set(err, EINVAL, "parsing time \"%s\": day out of range", s);
        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        const char *p = s + n;
        if (*p == 'T') {
                p = strptime(p + 1, "%H", &tm);
                if (p && *p == ':')
                        p = strptime(p + 1, "%M", &tm);
                if (p && *p == ':')
                        p = strptime(p + 1, "%S", &tm);
        }
        if (p)
                p = parse_fraction(p, &nsec);
        if (!p)
                return berth_error_set(err, EINVAL, "parsing time \"%s\": cannot parse", s);
        int64_t off = 0;
        bool zoned = false;
        if (*p == 'Z' || *p == 'z') {
                zoned = true;
                p++;
        } else if (*p == '+' || *p == '-') {
                int hh = 0, mm = 0, used = 0;
                if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &used) != 2 || used != 5)
                        return berth_error_set(err, EINVAL, "parsing time \"%s\": cannot parse", s);
                off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
                zoned = true;
                p += 1 + used;
        }
        if (*p)
                return berth_error_set(err, EINVAL, "parsing time \"%s\": extra text: \"%s\"", s,
                                       p);
        time_t t;
        if (zoned) {
                t = timegm(&tm) - off;
        } else {
                tm.tm_isdst = -1;
                t = mktime(&tm);
        }
        *ret_ns = (int64_t)t * UNITS_NSEC_PER_SEC + nsec;
        return 0;
}

void units_rfc3339_nano(int64_t ns, bool fixed, char out[48])
{
        int64_t secs = ns / UNITS_NSEC_PER_SEC, frac = ns % UNITS_NSEC_PER_SEC;
        if (frac < 0)
                secs--, frac += UNITS_NSEC_PER_SEC;
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        units_go_date_time(&b, &tm, 'T');
        char digits[16];
        snprintf(digits, sizeof(digits), ".%09lld", (long long)frac);
        size_t n = strlen(digits);
        while (!fixed && n > 1 && digits[n - 1] == '0')
                digits[--n] = '\0';
        snprintf(out, 48, "%s%sZ", b.data, n > 1 ? digits : "");
}

int units_parse_rfc3339(const char *s, int64_t *ret_ns)
{
        struct tm tm = {0};
        const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
        if (!p)
                return -EINVAL;
        int64_t frac;
        p = parse_fraction(p, &frac);
        int64_t off = 0;
        int hh, mm, used = 0;
        if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &used) == 2 &&
            used == 5)
                off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
        *ret_ns = ((int64_t)timegm(&tm) - off) * UNITS_NSEC_PER_SEC + frac;
        return 0;
}

int units_parse_timestamp(const char *s, int64_t now_ns, int64_t *ret_ns, struct berth_error **err)
{
        int64_t d;
        if (strcmp(s, "0") != 0 && units_parse_go_duration(s, &d) == 0) {
                /* docker keeps whole seconds of now - d */
                int64_t t = now_ns - d;
                *ret_ns =
                    (t / UNITS_NSEC_PER_SEC - (t % UNITS_NSEC_PER_SEC < 0)) * UNITS_NSEC_PER_SEC;
                return 0;
        }
        if (strchr(s, '-') && !(s[0] == '-' && !strchr(s + 1, '-')))
                return parse_date_time(s, ret_ns, err);
        if (parse_unix_seconds(s, ret_ns) < 0)
                return berth_error_set(err, EINVAL,
                                       "failed to parse value as time or duration: \"%s\"", s);
        return 0;
}
