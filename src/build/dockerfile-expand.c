/*
 * dockerfile-expand.c — docker's shell-word expansion for Dockerfile instructions (BuildKit's
 * frontend/dockerfile/shell lexer, which the classic builder shares): what `ENV`, `COPY`,
 * `WORKDIR`, … do to "$HOME/${APP:-app}" before they act, and what the parser uses (with raw
 * quotes and escapes) to find heredoc words.
 *
 * How it works: a recursive-descent scan of one word.  stop_on() reads up to a stop character
 * (the end, or '}' or '/' inside ${…}), handing '$', '\'', '"' and '<' to their own readers and
 * building two results at once: the whole string (ProcessWord) and the list of words
 * (ProcessWords), where text that came out of a variable splits at white space like unquoted
 * text, and quoted text never does.  Patterns of ${x#pat}, ${x%pat} and ${x/pat/repl} are
 * BuildKit's: '*' and '?' wildcards, "\*" "\?" "\\" literals, no bracket classes.
 *
 * Never: call the shell, or read past the word (every reader checks the end first).
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "base/buf.h"
#include "build/dockerfile.h"
#include "build/dockerfile-internal.h"

#define LX_EOF (-1)

struct words {
        struct berth_buf buf;
        char **v;
        size_t n;
        bool in_word;
};

struct lexer {
        const char *s;
        size_t len, pos;
        char escape;
        bool raw_quotes, raw_escapes, skip_unset;
        dockerfile_lookup_fn lookup;
        void *userdata;
        char *errmsg; /* the reason, before "failed to process …" is put in front */
};

_printf_(2, 3) static int lx_fail(struct lexer *lx, const char *fmt, ...)
{
        va_list ap;
        char *m = NULL;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        free(lx->errmsg);
        lx->errmsg = m;
        return -EINVAL;
}

static int peek(const struct lexer *lx)
{
        return lx->pos < lx->len ? (unsigned char)lx->s[lx->pos] : LX_EOF;
}

static int next(struct lexer *lx)
{
        return lx->pos < lx->len ? (unsigned char)lx->s[lx->pos++] : LX_EOF;
}

static bool is_space(int c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void words_push(struct words *w)
{
        w->v = xrealloc(w->v, (w->n + 2) * sizeof(char *));
        w->v[w->n++] = buf_steal(&w->buf);
        w->v[w->n] = NULL;
        w->in_word = false;
}

static void words_raw_char(struct words *w, char c)
{
        buf_putc(&w->buf, c);
        w->in_word = true;
}

static void words_char(struct words *w, char c)
{
        if (is_space((unsigned char)c)) {
                if (w->in_word && w->buf.len > 0)
                        words_push(w);
        } else {
                words_raw_char(w, c);
        }
}

static void words_raw_string(struct words *w, const char *s, size_t n)
{
        buf_append(&w->buf, s, n);
        w->in_word = true;
}

static void words_finish(struct words *w)
{
        if (w->buf.len > 0)
                words_push(w);
}

static void words_release(struct words *w)
{
        buf_release(&w->buf);
        strv_free(w->v);
        w->v = NULL;
        w->n = 0;
}

static int stop_on(struct lexer *lx, int stop, bool raw_escapes, struct berth_buf *out,
                   struct words *words);
static int dollar(struct lexer *lx, struct berth_buf *out);

static int single_quote(struct lexer *lx, struct berth_buf *out)
{
        int c = next(lx);
        if (lx->raw_quotes)
                buf_putc(out, (char)c);
        for (;;) {
                c = next(lx);
                if (c == LX_EOF)
                        return lx_fail(lx, "unexpected end of statement while looking for "
                                           "matching single-quote");
                if (c == '\'') {
                        if (lx->raw_quotes)
                                buf_putc(out, (char)c);
                        return 0;
                }
                buf_putc(out, (char)c);
        }
}

static int double_quote(struct lexer *lx, struct berth_buf *out)
{
        int c = next(lx);
        if (lx->raw_quotes)
                buf_putc(out, (char)c);
        for (;;) {
                int p = peek(lx);
                if (p == LX_EOF)
                        return lx_fail(lx, "unexpected end of statement while looking for "
                                           "matching double-quote");
                if (p == '"') {
                        next(lx);
                        if (lx->raw_quotes)
                                buf_putc(out, '"');
                        return 0;
                }
                if (p == '$') {
                        int r = dollar(lx, out);
                        if (r < 0)
                                return r;
                        continue;
                }
                c = next(lx);
                if (c == (unsigned char)lx->escape) {
                        if (lx->raw_escapes)
                                buf_putc(out, (char)c);
                        p = peek(lx);
                        if (p == LX_EOF)
                                continue; /* the loop then reports the missing quote */
                        /* Only ", $ and the escape itself are escaped inside double quotes;
                         * before anything else the escape character stays. */
                        if (p == '"' || p == '$' || p == (unsigned char)lx->escape)
                                c = next(lx);
                }
                buf_putc(out, (char)c);
        }
}

static bool is_name_char(int c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
}

static bool is_special_param(int c)
{
        return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' ||
               c == '0';
}

/* A name after '$': digits only ($10), one special character, or letters, digits, '_'. */
static char *read_name(struct lexer *lx)
{
        struct berth_buf b = BERTH_BUF_INIT;
        int c = peek(lx);
        if (c >= '0' && c <= '9') {
                while ((c = peek(lx)) >= '0' && c <= '9')
                        buf_putc(&b, (char)next(lx));
                return buf_steal(&b);
        }
        if (c != LX_EOF && is_special_param(c)) {
                buf_putc(&b, (char)next(lx));
                return buf_steal(&b);
        }
        while ((c = peek(lx)) != LX_EOF && is_name_char(c))
                buf_putc(&b, (char)next(lx));
        return buf_steal(&b);
}

static const char *getenv_lx(struct lexer *lx, const char *name)
{
        return lx->lookup ? lx->lookup(name, lx->userdata) : NULL;
}

/* BuildKit's pattern: '*' any run, '?' one character, '\' before * ? \ literal, before } or /
 * dropped; any other escape is an error.  Compiled to tokens: -1 star, -2 any, else a byte. */
struct pattern {
        int *t;
        size_t n;
};

static int pattern_compile(struct lexer *lx, const char *p, struct pattern *ret)
{
        size_t n = strlen(p), k = 0;
        int *t = xmalloc((n + 1) * sizeof(int));
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)p[i];
                if (c == '*') {
                        t[k++] = -1;
                } else if (c == '?') {
                        t[k++] = -2;
                } else if (c == '\\') {
                        if (i + 1 < n && (p[i + 1] == '}' || p[i + 1] == '/'))
                                continue;
                        if (i + 1 >= n ||
                            (p[i + 1] != '*' && p[i + 1] != '?' && p[i + 1] != '\\')) {
                                free(t);
                                return lx_fail(lx,
                                               "invalid pattern (%s) in substitution: "
                                               "invalid escape '\\%c'",
                                               p, i + 1 < n ? p[i + 1] : '?');
                        }
                        t[k++] = (unsigned char)p[++i];
                } else {
                        t[k++] = c;
                }
        }
        *ret = (struct pattern){t, k};
        return 0;
}

/* Length of the UTF-8 sequence starting at s[0] (1 for a stray byte). */
static size_t char_len(const char *s, size_t n)
{
        unsigned char c = (unsigned char)s[0];
        size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        size_t i = 1;
        while (i < want && i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
                i++;
        return i;
}

/* Whether the pattern matches all of s[0..n): the iterative wildcard match, O(n·m). */
static bool pattern_match(const struct pattern *p, const char *s, size_t n)
{
        size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
        while (si < n) {
                if (pi < p->n && p->t[pi] == -1) {
                        star_p = pi++;
                        star_s = si;
                } else if (pi < p->n && p->t[pi] == -2) {
                        pi++;
                        si += char_len(s + si, n - si);
                } else if (pi < p->n && p->t[pi] == (unsigned char)s[si]) {
                        pi++;
                        si++;
                } else if (star_p != SIZE_MAX) {
                        pi = star_p + 1;
                        star_s += char_len(s + star_s, n - star_s);
                        si = star_s;
                } else {
                        return false;
                }
        }
        while (pi < p->n && p->t[pi] == -1)
                pi++;
        return pi == p->n && si == n;
}

/* ${v#pat} ${v##pat} ${v%pat} ${v%%pat}: the shortest (or greedy: longest) matching prefix or
 * suffix removed. */
static int trim_affix(struct lexer *lx, const char *pat, const char *value, bool greedy,
                      bool suffix, struct berth_buf *out)
{
        struct pattern p;
        int r = pattern_compile(lx, pat, &p);
        if (r < 0)
                return r;
        size_t n = strlen(value), cut = SIZE_MAX;
        for (size_t k = 0; k <= n; k++) {
                size_t len = greedy ? n - k : k;
                bool m = suffix ? pattern_match(&p, value + n - len, len)
                                : pattern_match(&p, value, len);
                if (m) {
                        cut = len;
                        break;
                }
        }
        free(p.t);
        if (cut == SIZE_MAX)
                buf_puts(out, value);
        else if (suffix)
                buf_append(out, value, n - cut);
        else
                buf_puts(out, value + cut);
        return 0;
}

/* ${v/pat/repl} and ${v//pat/repl}: leftmost, longest matches replaced. */
static int replace(struct lexer *lx, const char *pat, const char *repl, const char *value, bool all,
                   struct berth_buf *out)
{
        struct pattern p;
        int r = pattern_compile(lx, pat, &p);
        if (r < 0)
                return r;
        size_t n = strlen(value), i = 0;
        bool done = false;
        while (i <= n) {
                size_t best = SIZE_MAX;
                if (!done)
                        for (size_t len = n - i + 1; len-- > 0;)
                                if (pattern_match(&p, value + i, len)) {
                                        best = len;
                                        break;
                                }
                if (best == SIZE_MAX) {
                        if (i == n)
                                break;
                        size_t cl = char_len(value + i, n - i);
                        buf_append(out, value + i, cl);
                        i += cl;
                        continue;
                }
                buf_puts(out, repl);
                done = !all;
                if (best == 0) {
                        /* An empty match: step over one character, as Go's ReplaceAll. */
                        if (i == n)
                                break;
                        size_t cl = char_len(value + i, n - i);
                        buf_append(out, value + i, cl);
                        i += cl;
                } else {
                        i += best;
                }
        }
        free(p.t);
        return 0;
}

static int dollar_modifier(struct lexer *lx, const char *name, int c, struct berth_buf *out)
{
        bool null_is_unset = false;
        char mod[3] = {(char)c, 0, 0};
        if (c == ':') {
                null_is_unset = true;
                c = next(lx);
                if (c == LX_EOF)
                        return lx_fail(lx, "syntax error: missing '}'");
                mod[1] = (char)c;
        }
        bool raw = c == '#' || c == '%';
        if (null_is_unset && raw)
                return lx_fail(lx, "unsupported modifier (%s) in substitution", mod);

        _cleanup_buf_ struct berth_buf word = BERTH_BUF_INIT;
        struct words ignored = {BERTH_BUF_INIT, NULL, 0, false};
        int r = stop_on(lx, '}', raw, &word, &ignored);
        words_release(&ignored);
        if (r < 0) {
                if (peek(lx) == LX_EOF)
                        return lx_fail(lx, "syntax error: missing '}'");
                return r;
        }
        const char *w = word.data ? word.data : "";
        const char *value = getenv_lx(lx, name);
        bool set = value != NULL;
        if (lx->skip_unset && !set) {
                buf_printf(out, "${%s%s%s}", name, mod, w);
                return 0;
        }
        if (!value)
                value = "";
        switch (c) {
        case '-':
                buf_puts(out, !set || (null_is_unset && !*value) ? w : value);
                return 0;
        case '+':
                if (set && !(null_is_unset && !*value))
                        buf_puts(out, w);
                return 0;
        case '?':
                if (!set)
                        return lx_fail(lx, "%s: %s", name, *w ? w : "is not allowed to be unset");
                if (null_is_unset && !*value)
                        return lx_fail(lx, "%s: %s", name, *w ? w : "is not allowed to be empty");
                buf_puts(out, value);
                return 0;
        case '#':
        case '%': {
                bool greedy = *w == c;
                return trim_affix(lx, greedy ? w + 1 : w, value, greedy, c == '%', out);
        }
        default:
                return lx_fail(lx, "unsupported modifier (%s) in substitution", mod);
        }
}

static int dollar_replace(struct lexer *lx, const char *name, struct berth_buf *out)
{
        bool all = peek(lx) == '/';
        if (all)
                next(lx);
        _cleanup_buf_ struct berth_buf pat = BERTH_BUF_INIT, repl = BERTH_BUF_INIT;
        struct words ignored = {BERTH_BUF_INIT, NULL, 0, false};
        int r = stop_on(lx, '/', true, &pat, &ignored);
        words_release(&ignored);
        if (r < 0)
                return peek(lx) == LX_EOF ? lx_fail(lx, "syntax error: missing '/' in ${}") : r;
        r = stop_on(lx, '}', true, &repl, &ignored);
        words_release(&ignored);
        if (r < 0)
                return peek(lx) == LX_EOF ? lx_fail(lx, "syntax error: missing '}'") : r;
        const char *p = pat.data ? pat.data : "", *rp = repl.data ? repl.data : "";
        const char *value = getenv_lx(lx, name);
        if (lx->skip_unset && !value) {
                buf_printf(out, "${%s/%s/%s}", name, p, rp);
                return 0;
        }
        return replace(lx, p, rp, value ? value : "", all, out);
}

static int dollar(struct lexer *lx, struct berth_buf *out)
{
        next(lx); /* '$' */
        if (peek(lx) != '{') {
                _cleanup_free_ char *name = read_name(lx);
                if (!*name) {
                        buf_putc(out, '$');
                        return 0;
                }
                const char *v = getenv_lx(lx, name);
                if (!v && lx->skip_unset)
                        buf_printf(out, "$%s", name);
                else if (v)
                        buf_puts(out, v);
                return 0;
        }
        next(lx); /* '{' */
        int c = peek(lx);
        if (c == LX_EOF)
                return lx_fail(lx, "syntax error: missing '}'");
        if (c == '{' || c == '}' || c == ':')
                return lx_fail(lx, "syntax error: bad substitution");
        _cleanup_free_ char *name = read_name(lx);
        c = next(lx);
        switch (c) {
        case LX_EOF:
                return lx_fail(lx, "syntax error: missing '}'");
        case '}': {
                const char *v = getenv_lx(lx, name);
                if (!v && lx->skip_unset)
                        buf_printf(out, "${%s}", name);
                else if (v)
                        buf_puts(out, v);
                return 0;
        }
        case ':':
        case '+':
        case '-':
        case '?':
        case '#':
        case '%':
                return dollar_modifier(lx, name, c, out);
        case '/':
                return dollar_replace(lx, name, out);
        default:
                return lx_fail(lx, "unsupported modifier (%c) in substitution", c);
        }
}

/* "<<" and the white space after it stay one piece, so "<< EOF" is one heredoc word. */
static void possible_heredoc(struct lexer *lx, struct berth_buf *out)
{
        next(lx);
        if (peek(lx) != '<') {
                buf_putc(out, '<');
                return;
        }
        next(lx);
        buf_puts(out, "<<");
        while (peek(lx) != LX_EOF && is_space(peek(lx)))
                buf_putc(out, (char)next(lx));
}

static int stop_on(struct lexer *lx, int stop, bool raw_escapes, struct berth_buf *out,
                   struct words *words)
{
        bool saved_raw = lx->raw_escapes;
        int r = 0;
        lx->raw_escapes = raw_escapes;
        for (int c; (c = peek(lx)) != LX_EOF;) {
                if (stop != LX_EOF && c == stop) {
                        next(lx);
                        goto done;
                }
                if (c == '$' || c == '\'' || c == '"' || c == '<') {
                        _cleanup_buf_ struct berth_buf tmp = BERTH_BUF_INIT;
                        if (c == '$')
                                r = dollar(lx, &tmp);
                        else if (c == '\'')
                                r = single_quote(lx, &tmp);
                        else if (c == '"')
                                r = double_quote(lx, &tmp);
                        else
                                possible_heredoc(lx, &tmp);
                        if (r < 0)
                                goto out;
                        buf_append(out, tmp.data ? tmp.data : "", tmp.len);
                        if (c == '$')
                                for (size_t i = 0; i < tmp.len; i++)
                                        words_char(words, tmp.data[i]);
                        else
                                words_raw_string(words, tmp.data ? tmp.data : "", tmp.len);
                        continue;
                }
                c = next(lx);
                if (c == (unsigned char)lx->escape) {
                        if (lx->raw_escapes) {
                                words_raw_char(words, (char)c);
                                buf_putc(out, (char)c);
                        }
                        c = next(lx);
                        if (c == LX_EOF)
                                break;
                        words_raw_char(words, (char)c);
                } else {
                        words_char(words, (char)c);
                }
                buf_putc(out, (char)c);
        }
        if (stop != LX_EOF) {
                r = lx_fail(lx, "unexpected end of statement while looking for matching %c", stop);
                goto out;
        }
done:
        words_finish(words);
out:
        lx->raw_escapes = saved_raw;
        return r;
}

/* Go's %q, enough for what a Dockerfile holds. */
static void quote_go(struct berth_buf *b, const char *s)
{
        buf_putc(b, '"');
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        buf_printf(b, "\\%c", c);
                else if (c == '\n')
                        buf_puts(b, "\\n");
                else if (c == '\t')
                        buf_puts(b, "\\t");
                else if (c < 0x20 || c == 0x7f)
                        buf_printf(b, "\\x%02x", c);
                else
                        buf_putc(b, (char)c);
        }
        buf_putc(b, '"');
}

char *dockerfile_quote_go(const char *s)
{
        struct berth_buf b = BERTH_BUF_INIT;
        quote_go(&b, s);
        return buf_steal(&b);
}

static int process(const char *word, dockerfile_lookup_fn lookup, void *userdata, char escape,
                   unsigned flags, struct berth_buf *out, struct words *words,
                   struct berth_error **err)
{
        struct lexer lx = {
            .s = word,
            .len = strlen(word),
            .escape = escape,
            .raw_quotes = flags & DF_EXPAND_RAW_QUOTES,
            .raw_escapes = flags & DF_EXPAND_RAW_ESCAPES,
            .skip_unset = flags & DF_EXPAND_SKIP_UNSET,
            .lookup = lookup,
            .userdata = userdata,
        };
        int r = stop_on(&lx, LX_EOF, lx.raw_escapes, out, words);
        if (r < 0) {
                _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
                quote_go(&q, word);
                berth_error_set(err, EINVAL, "failed to process %s: %s", q.data,
                                lx.errmsg ? lx.errmsg : "invalid word");
        }
        free(lx.errmsg);
        return r;
}

int dockerfile_expand(const char *word, dockerfile_lookup_fn lookup, void *userdata, char escape,
                      unsigned flags, char **ret, struct berth_error **err)
{
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        struct words words = {BERTH_BUF_INIT, NULL, 0, false};
        int r = process(word, lookup, userdata, escape, flags, &out, &words, err);
        words_release(&words);
        if (r < 0)
                return r;
        *ret = buf_steal(&out);
        return 0;
}

int dockerfile_expand_words(const char *word, dockerfile_lookup_fn lookup, void *userdata,
                            char escape, unsigned flags, char ***ret, struct berth_error **err)
{
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        struct words words = {BERTH_BUF_INIT, NULL, 0, false};
        int r = process(word, lookup, userdata, escape, flags, &out, &words, err);
        if (r < 0) {
                words_release(&words);
                return r;
        }
        buf_release(&words.buf);
        *ret = words.v ? words.v : xcalloc(1, sizeof(char *));
        return 0;
}
