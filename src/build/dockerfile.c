/*
 * dockerfile.c — the Dockerfile parser (see dockerfile.h for what it promises).
 *
 * Pass 1 (read_nodes) walks physical lines as BuildKit's parser.Parse does: directives while
 * they last, comments dropped, continuation lines joined (a trailing escape character not
 * itself escaped; comment and blank lines inside a continuation skipped), the logical line split
 * into command, `--flags` and the rest, the rest cut by the command's rule (JSON array or shell
 * string, whitespace list, key=value words), and heredoc bodies read after it.  Pass 2
 * (build_instruction) checks each node as BuildKit's instructions package does and fills the
 * typed instruction; the two passes are apart because docker reports a broken file structure
 * (an unterminated heredoc at the end) before a bad instruction near the top.
 *
 * Everything is bytes: a Dockerfile is mostly ASCII, and Go's unicode.IsSpace differs from the
 * ASCII one only on U+0085 and U+00A0, which we treat as ordinary characters.
 *
 * Never: expand a variable, print, or keep a pointer into the caller's buffer.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/units.h"
#include "build/dockerfile.h"
#include "build/dockerfile-internal.h"

static const char *const kind_names[DF_KIND_COUNT] = {
    [DF_ADD] = "ADD",
    [DF_ARG] = "ARG",
    [DF_CMD] = "CMD",
    [DF_COPY] = "COPY",
    [DF_ENTRYPOINT] = "ENTRYPOINT",
    [DF_ENV] = "ENV",
    [DF_EXPOSE] = "EXPOSE",
    [DF_FROM] = "FROM",
    [DF_HEALTHCHECK] = "HEALTHCHECK",
    [DF_LABEL] = "LABEL",
    [DF_MAINTAINER] = "MAINTAINER",
    [DF_ONBUILD] = "ONBUILD",
    [DF_RUN] = "RUN",
    [DF_SHELL] = "SHELL",
    [DF_STOPSIGNAL] = "STOPSIGNAL",
    [DF_USER] = "USER",
    [DF_VOLUME] = "VOLUME",
    [DF_WORKDIR] = "WORKDIR",
};

const char *dockerfile_kind_name(enum dockerfile_kind kind)
{
        return (unsigned)kind < DF_KIND_COUNT ? kind_names[kind] : NULL;
}

static int kind_from_word(const char *w)
{
        for (int k = 0; k < DF_KIND_COUNT; k++)
                if (strcasecmp(w, kind_names[k]) == 0)
                        return k;
        return -1;
}

/* ---- small helpers ---------------------------------------------------------------------- */

static bool is_ws(int c) /* Go's reWhitespace class [\t\v\f\r ] */
{
        return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_space(int c) /* unicode.IsSpace on ASCII */
{
        return is_ws(c) || c == '\n';
}

static char *trim_dup(const char *s)
{
        while (is_space((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && is_space((unsigned char)s[n - 1]))
                n--;
        return xstrndup(s, n);
}

static void strv_push(char ***v, size_t *n, char *s)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = s;
        (*v)[*n] = NULL;
}

static size_t strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

/* Levenshtein distance, for docker's "(did you mean x?)". */
static size_t distance(const char *a, const char *b, bool fold)
{
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return SIZE_MAX;
        size_t row[65];
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        int ca = (unsigned char)a[i - 1], cb = (unsigned char)b[j - 1];
                        size_t cost = fold ? tolower(ca) != tolower(cb) : ca != cb;
                        size_t best = prev + cost;
                        if (row[j] + 1 < best)
                                best = row[j] + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        prev = cur;
                }
        }
        return row[lb];
}

/* BuildKit's suggest.Search: " (did you mean x?)" for the first option closest within 2 edits,
 * none when the value is an option; case-insensitive ones answer in the value's case. */
static char *suggest(const char *value, const char *const *options, size_t n, bool fold)
{
        const char *best = NULL;
        size_t best_d = 3;
        for (size_t i = 0; i < n; i++) {
                size_t d = distance(value, options[i], fold);
                if (d == 0)
                        return xstrdup("");
                if (d < best_d) {
                        best_d = d;
                        best = options[i];
                }
        }
        if (!best)
                return xstrdup("");
        char *m = xstrdup(best);
        bool lower = true, upper = true;
        for (const char *p = value; *p; p++) {
                lower &= tolower((unsigned char)*p) == (unsigned char)*p;
                upper &= toupper((unsigned char)*p) == (unsigned char)*p;
        }
        for (char *p = m; fold && *p; p++)
                *p = (char)(lower   ? tolower((unsigned char)*p)
                            : upper ? toupper((unsigned char)*p)
                                    : *p);
        char *r = xasprintf(" (did you mean %s?)", m);
        free(m);
        return r;
}

/* ---- pass 1: lines to nodes ------------------------------------------------------------- */

struct node {
        char *cmd;    /* as written */
        char **flags; /* "--name=value" words */
        char **args;
        bool json;
        bool have_args; /* the line parser produced a node (docker's Next != nil) */
        char *original;
        unsigned line, end_line;
        struct node *sub; /* ONBUILD's trigger */
        struct dockerfile_heredoc *heredocs;
        size_t n_heredocs;
        char *error; /* a line parser's error, reported in pass 2 as docker does */
};

static void heredocs_free(struct dockerfile_heredoc *h, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(h[i].name);
                free(h[i].content);
        }
        free(h);
}

static void node_free(struct node *n)
{
        if (!n)
                return;
        free(n->cmd);
        strv_free(n->flags);
        strv_free(n->args);
        free(n->original);
        node_free(n->sub);
        heredocs_free(n->heredocs, n->n_heredocs);
        free(n->error);
        free(n);
}

struct reader {
        const char *buf;
        size_t len, pos;
        unsigned line; /* physical lines consumed */
        char escape;
        bool directives_done;
        struct dockerfile *df;
        struct berth_error **err;
};

_printf_(3, 4) static int fail_at(struct berth_error **err, unsigned line, const char *fmt, ...)
{
        va_list ap;
        char *m = NULL;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        berth_error_set(err, EINVAL, "dockerfile parse error on line %u: %s", line, m);
        free(m);
        return -EINVAL;
}

/* The next physical line with its line ending; false at the end. */
static bool read_line(struct reader *r, const char **ret, size_t *ret_len)
{
        if (r->pos >= r->len)
                return false;
        const char *s = r->buf + r->pos;
        const char *nl = memchr(s, '\n', r->len - r->pos);
        size_t n = nl ? (size_t)(nl - s) + 1 : r->len - r->pos;
        r->pos += n;
        *ret = s;
        *ret_len = n;
        return true;
}

static size_t trim_newline(const char *s, size_t n)
{
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                n--;
        return n;
}

/*
 * A parser directive while they last: "#" then `name = value`, name one of syntax, escape,
 * check.  Any other line ends them, and so does a comment that is not one.
 */
static int directive(struct reader *r, const char *s, size_t n, unsigned line)
{
        if (r->directives_done)
                return 0;
        if (n == 0 || s[0] != '#') {
                r->directives_done = true;
                return 0;
        }
        size_t i = 1;
        while (i < n && is_space((unsigned char)s[i]))
                i++;
        size_t ks = i;
        if (i >= n || !isalpha((unsigned char)s[i])) {
                r->directives_done = true;
                return 0;
        }
        while (i < n && isalnum((unsigned char)s[i]))
                i++;
        size_t ke = i;
        while (i < n && is_space((unsigned char)s[i]))
                i++;
        if (i >= n || s[i] != '=') {
                r->directives_done = true;
                return 0;
        }
        i++;
        while (i < n && is_space((unsigned char)s[i]))
                i++;
        size_t ve = n;
        while (ve > i && is_space((unsigned char)s[ve - 1]))
                ve--;
        if (ve == i) {
                r->directives_done = true;
                return 0;
        }
        _cleanup_free_ char *name = xstrndup(s + ks, ke - ks);
        for (char *p = name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        if (strcmp(name, "syntax") != 0 && strcmp(name, "escape") != 0 &&
            strcmp(name, "check") != 0) {
                r->directives_done = true;
                return 0;
        }
        struct dockerfile *df = r->df;
        for (size_t k = 0; k < df->n_directives; k++)
                if (strcmp(df->directives[k].name, name) == 0)
                        return fail_at(r->err, line, "only one %s parser directive can be used",
                                       name);
        _cleanup_free_ char *value = xstrndup(s + i, ve - i);
        if (strcmp(name, "escape") == 0) {
                if (strcmp(value, "`") != 0 && strcmp(value, "\\") != 0)
                        return fail_at(r->err, line,
                                       "invalid escape token '%s' does not match ` or \\", value);
                r->escape = value[0];
        }
        df->directives = xrealloc(df->directives, (df->n_directives + 1) * sizeof(*df->directives));
        df->directives[df->n_directives++] = (struct dockerfile_directive){
            .name = TAKE_PTR(name), .value = TAKE_PTR(value), .line = line};
        return 0;
}

static bool is_comment(const char *s, size_t n)
{
        size_t i = 0;
        while (i < n && is_space((unsigned char)s[i]))
                i++;
        return i < n && s[i] == '#';
}

/* Docker's continuation rule: the last character before trailing blanks is the escape
 * character and is not itself escaped.  Returns the new length, or SIZE_MAX when the line
 * does not continue. */
static size_t continuation(const char *s, size_t n, char esc)
{
        size_t e = n;
        while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
        if (e == 0 || s[e - 1] != esc)
                return SIZE_MAX;
        if (e >= 2 && s[e - 2] == esc)
                return SIZE_MAX;
        return e - 1;
}

/* BuildKit's extractBuilderFlags: leading words that start with "--", quotes and escapes
 * removed; a lone "--" ends them.  Returns the rest of the line. */
static const char *extract_flags(const char *line, char esc, char ***ret_flags)
{
        char **flags = NULL;
        size_t nf = 0, len = strlen(line), pos = 0;
        struct berth_buf w = BERTH_BUF_INIT;
        for (;;) {
                while (pos < len && is_space((unsigned char)line[pos]))
                        pos++;
                if (pos >= len || line[pos] != '-' || pos + 1 >= len || line[pos + 1] != '-')
                        break;
                char quote = 0;
                bool blank_ok = false;
                buf_reset(&w);
                for (; pos < len; pos++) {
                        char c = line[pos];
                        if (quote) {
                                if (c == quote) {
                                        quote = 0;
                                        continue;
                                }
                        } else {
                                if (is_space((unsigned char)c))
                                        break;
                                if (c == '\'' || c == '"') {
                                        quote = c;
                                        blank_ok = true;
                                        continue;
                                }
                        }
                        if (c == esc) {
                                if (pos + 1 == len)
                                        continue;
                                c = line[++pos];
                        }
                        buf_putc(&w, c);
                }
                const char *word = w.data ? w.data : "";
                if (strcmp(word, "--") == 0 && pos < len) {
                        buf_release(&w);
                        *ret_flags = flags ? flags : xcalloc(1, sizeof(char *));
                        return line + pos;
                }
                if (strcmp(word, "--") != 0 && (blank_ok || w.len > 0))
                        strv_push(&flags, &nf, xstrdup(word));
                if (pos >= len)
                        break;
        }
        buf_release(&w);
        *ret_flags = flags ? flags : xcalloc(1, sizeof(char *));
        return line + pos;
}

/* BuildKit's parseWords: split at white space outside quotes, quotes and escapes kept. */
static char **parse_words(const char *rest, char esc)
{
        char **v = NULL;
        size_t n = 0, len = strlen(rest);
        struct berth_buf w = BERTH_BUF_INIT;
        bool in_word = false, blank_ok = false;
        char quote = 0;
        for (size_t pos = 0; pos < len; pos++) {
                char c = rest[pos];
                if (!in_word) {
                        if (is_space((unsigned char)c))
                                continue;
                        in_word = true;
                }
                if (!quote) {
                        if (is_space((unsigned char)c)) {
                                if (blank_ok || w.len > 0)
                                        strv_push(&v, &n, buf_steal(&w));
                                in_word = blank_ok = false;
                                continue;
                        }
                        if (c == '\'' || c == '"') {
                                quote = c;
                                blank_ok = true;
                        }
                        if (c == esc) {
                                if (pos + 1 == len)
                                        continue;
                                buf_putc(&w, c);
                                c = rest[++pos];
                        }
                        buf_putc(&w, c);
                        continue;
                }
                if (c == quote)
                        quote = 0;
                else if (c == esc && quote != '\'') {
                        if (pos + 1 == len) {
                                quote = 0;
                                continue;
                        }
                        buf_putc(&w, c);
                        c = rest[++pos];
                }
                buf_putc(&w, c);
        }
        if (in_word && (blank_ok || w.len > 0))
                strv_push(&v, &n, buf_steal(&w));
        buf_release(&w);
        return v ? v : xcalloc(1, sizeof(char *));
}

/* Go's reWhitespace.Split(s, -1). */
static char **split_ws(const char *s)
{
        char **v = NULL;
        size_t n = 0;
        const char *start = s;
        for (const char *p = s;; p++) {
                if (*p == '\0' || is_ws((unsigned char)*p)) {
                        strv_push(&v, &n, xstrndup(start, (size_t)(p - start)));
                        if (*p == '\0')
                                break;
                        while (is_ws((unsigned char)p[1]))
                                p++;
                        start = p + 1;
                }
        }
        return v;
}

#define ERR_NOT_STRING_ARRAY                                                                       \
        "when using JSON array syntax, arrays must be comprised of strings only"

/* 1: a JSON string array (*ret set), 0: not JSON, <0: JSON with a non-string (msg set). */
static int parse_json(const char *rest, char ***ret, char **ret_msg)
{
        while (is_space((unsigned char)*rest))
                rest++;
        if (*rest != '[')
                return 0;
        _cleanup_json_ struct json *j = NULL;
        struct berth_error *e = NULL;
        if (json_parse(rest, strlen(rest), &j, &e) < 0) {
                berth_error_free(e);
                return 0;
        }
        if (!json_is(j, JSON_ARRAY))
                return 0;
        char **v = NULL;
        size_t n = 0, i;
        struct json *item;
        json_array_foreach (j, i, item) {
                if (!json_is(item, JSON_STRING) || memchr(item->str.s, 0, item->str.len)) {
                        strv_free(v);
                        *ret_msg = xstrdup(ERR_NOT_STRING_ARRAY);
                        return -EINVAL;
                }
                strv_push(&v, &n, xstrdup(item->str.s));
        }
        *ret = v ? v : xcalloc(1, sizeof(char *));
        return 1;
}

enum line_rule {
        RULE_MAYBE_JSON,       /* RUN CMD ENTRYPOINT SHELL */
        RULE_MAYBE_JSON_LIST,  /* ADD COPY VOLUME */
        RULE_WS_LIST,          /* FROM EXPOSE */
        RULE_STRING,           /* USER WORKDIR STOPSIGNAL MAINTAINER */
        RULE_NAME_VAL,         /* ENV LABEL */
        RULE_NAME_OR_NAME_VAL, /* ARG */
        RULE_HEALTH,
        RULE_SUB,    /* ONBUILD */
        RULE_IGNORE, /* unknown: reported in pass 2 */
};

static enum line_rule rule_of(int kind)
{
        switch (kind) {
        case DF_RUN:
        case DF_CMD:
        case DF_ENTRYPOINT:
        case DF_SHELL:
                return RULE_MAYBE_JSON;
        case DF_ADD:
        case DF_COPY:
        case DF_VOLUME:
                return RULE_MAYBE_JSON_LIST;
        case DF_FROM:
        case DF_EXPOSE:
                return RULE_WS_LIST;
        case DF_USER:
        case DF_WORKDIR:
        case DF_STOPSIGNAL:
        case DF_MAINTAINER:
                return RULE_STRING;
        case DF_ENV:
        case DF_LABEL:
                return RULE_NAME_VAL;
        case DF_ARG:
                return RULE_NAME_OR_NAME_VAL;
        case DF_HEALTHCHECK:
                return RULE_HEALTH;
        case DF_ONBUILD:
                return RULE_SUB;
        default:
                return RULE_IGNORE;
        }
}

static struct node *node_from_line(const char *line, char esc);

/* ENV and LABEL: docker's parseNameVal. Pairs are stored flat: key, value, "=" or "". */
static void rule_name_val(struct node *n, const char *rest, char esc, const char *what)
{
        _cleanup_strv_free_ char **words = parse_words(rest, esc);
        if (!words[0])
                return;
        char **v = NULL;
        size_t k = 0;
        n->have_args = true;
        if (!strchr(words[0], '=')) {
                const char *p = rest;
                while (*p && !is_ws((unsigned char)*p))
                        p++;
                if (!*p) {
                        n->error = xasprintf("%s must have two arguments", what);
                        return;
                }
                strv_push(&v, &k, xstrndup(rest, (size_t)(p - rest)));
                while (is_ws((unsigned char)*p))
                        p++;
                strv_push(&v, &k, xstrdup(p));
                strv_push(&v, &k, xstrdup(""));
                n->args = v;
                return;
        }
        for (size_t i = 0; words[i]; i++) {
                char *eq = strchr(words[i], '=');
                if (!eq) {
                        _cleanup_free_ char *q = dockerfile_quote_go(words[i]);
                        n->error = xasprintf("Syntax error - can't find = in %s. Must be of the "
                                             "form: name=value",
                                             q);
                        strv_free(v);
                        return;
                }
                strv_push(&v, &k, xstrndup(words[i], (size_t)(eq - words[i])));
                strv_push(&v, &k, xstrdup(eq + 1));
                strv_push(&v, &k, xstrdup("="));
        }
        n->args = v;
}

static void apply_rule(struct node *n, int kind, const char *rest, char esc)
{
        int r;
        switch (rule_of(kind)) {
        case RULE_MAYBE_JSON:
                if (!*rest)
                        break;
                r = parse_json(rest, &n->args, &n->error);
                n->have_args = r >= 0;
                if (r > 0)
                        n->json = true;
                else if (r == 0)
                        n->args = strv_copy((char *const[]){(char *)rest, NULL});
                break;
        case RULE_MAYBE_JSON_LIST:
                r = parse_json(rest, &n->args, &n->error);
                if (r > 0)
                        n->json = n->have_args = true;
                else if (r == 0 && *rest)
                        n->args = split_ws(rest), n->have_args = true;
                break;
        case RULE_WS_LIST:
                if (*rest)
                        n->args = split_ws(rest), n->have_args = true;
                break;
        case RULE_STRING:
                if (*rest)
                        n->args = strv_copy((char *const[]){(char *)rest, NULL}),
                        n->have_args = true;
                break;
        case RULE_NAME_VAL:
                rule_name_val(n, rest, esc, kind == DF_ENV ? "ENV" : "LABEL");
                break;
        case RULE_NAME_OR_NAME_VAL:
                n->args = parse_words(rest, esc);
                n->have_args = n->args[0] != NULL;
                break;
        case RULE_HEALTH: {
                size_t sep = 0;
                while (rest[sep] && !is_space((unsigned char)rest[sep]))
                        sep++;
                if (sep == 0)
                        break;
                size_t nx = sep;
                while (rest[nx] && is_space((unsigned char)rest[nx]))
                        nx++;
                char **v = NULL, **cmd = NULL;
                size_t k = 0;
                strv_push(&v, &k, xstrndup(rest, sep));
                n->have_args = true;
                if (rest[nx]) {
                        r = parse_json(rest + nx, &cmd, &n->error);
                        if (r > 0)
                                n->json = true;
                        else if (r == 0)
                                cmd = strv_copy((char *const[]){(char *)rest + nx, NULL});
                        for (size_t i = 0; cmd && cmd[i]; i++)
                                strv_push(&v, &k, xstrdup(cmd[i]));
                        strv_free(cmd);
                }
                n->args = v;
                break;
        }
        case RULE_SUB:
                if (!*rest)
                        break;
                n->sub = node_from_line(rest, esc);
                n->have_args = true;
                n->args = strv_copy((char *const[]){n->sub->cmd, NULL});
                break;
        case RULE_IGNORE:
                break;
        }
}

/* docker's newNodeFromLine: command word, flags, then the rest cut by the command's rule. */
static struct node *node_from_line(const char *line, char esc)
{
        struct node *n = xcalloc(1, sizeof(*n));
        n->original = xstrdup(line);
        _cleanup_free_ char *trimmed = trim_dup(line);
        char *p = trimmed;
        while (*p && !is_ws((unsigned char)*p))
                p++;
        n->cmd = xstrndup(trimmed, (size_t)(p - trimmed));
        _cleanup_free_ char *rest = NULL;
        if (*p) {
                while (is_ws((unsigned char)*p))
                        p++;
                rest = trim_dup(extract_flags(p, esc, &n->flags));
        } else {
                n->flags = xcalloc(1, sizeof(char *));
                rest = xstrdup("");
        }
        apply_rule(n, kind_from_word(n->cmd), rest, esc);
        if (!n->args)
                n->args = xcalloc(1, sizeof(char *));
        return n;
}

/* ---- heredocs ---------------------------------------------------------------------------- */

static const char *null_lookup(const char *name, void *userdata)
{
        return NULL;
}

/* docker's ParseHeredoc on one word: `^(\d*)<<(-?)\s*([^<]*)$`. 1 when it is one. */
static int heredoc_from_word(const char *word, struct dockerfile_heredoc *ret)
{
        const char *p = word;
        unsigned fd = 0;
        while (*p >= '0' && *p <= '9') {
                if (fd < 100000)
                        fd = fd * 10 + (unsigned)(*p - '0');
                p++;
        }
        if (p[0] != '<' || p[1] != '<')
                return 0;
        p += 2;
        bool chomp = *p == '-';
        if (chomp)
                p++;
        while (is_space((unsigned char)*p))
                p++;
        if (!*p || strchr(p, '<'))
                return 0;
        /* Lexed with and without quotes: more quote characters raw means part of the word was
         * quoted, so the body is not to be expanded. */
        _cleanup_strv_free_ char **words = NULL, **raw = NULL;
        if (dockerfile_expand_words(p, null_lookup, NULL, '\\', DF_EXPAND_SKIP_UNSET, &words,
                                    NULL) < 0)
                return -EINVAL;
        if (strv_len(words) != 1)
                return 0;
        if (dockerfile_expand_words(p, null_lookup, NULL, '\\',
                                    DF_EXPAND_SKIP_UNSET | DF_EXPAND_RAW_QUOTES, &raw, NULL) < 0 ||
            strv_len(raw) != 1)
                return -EINVAL;
        size_t q1 = 0, q2 = 0;
        for (const char *c = words[0]; *c; c++)
                q1 += *c == '\'' || *c == '"';
        for (const char *c = raw[0]; *c; c++)
                q2 += *c == '\'' || *c == '"';
        *ret = (struct dockerfile_heredoc){
            .name = xstrdup(words[0]), .expand = q1 == q2, .chomp = chomp, .fd = fd};
        return 1;
}

static bool can_contain_heredoc(const struct node *n)
{
        const struct node *t = n;
        if (kind_from_word(t->cmd) == DF_ONBUILD && t->sub)
                t = t->sub;
        int k = kind_from_word(t->cmd);
        return (k == DF_RUN || k == DF_COPY || k == DF_ADD) && !t->json;
}

static void strip_leading_tabs(struct berth_buf *b)
{
        size_t o = 0;
        bool bol = true;
        for (size_t i = 0; i < b->len; i++) {
                if (bol && b->data[i] == '\t')
                        continue;
                bol = b->data[i] == '\n';
                b->data[o++] = b->data[i];
        }
        b->len = o;
        if (b->data)
                b->data[o] = '\0';
}

static int read_heredocs(struct reader *r, struct node *n, unsigned start)
{
        _cleanup_strv_free_ char **words = NULL;
        if (dockerfile_expand_words(n->original, null_lookup, NULL, '\\',
                                    DF_EXPAND_RAW_QUOTES | DF_EXPAND_RAW_ESCAPES |
                                        DF_EXPAND_SKIP_UNSET,
                                    &words, NULL) < 0)
                return 0; /* docker ignores the lexer's error here */
        for (size_t i = 0; words[i]; i++) {
                struct dockerfile_heredoc h;
                int k = heredoc_from_word(words[i], &h);
                if (k < 0)
                        return fail_at(r->err, start, "internal lexing of heredoc failed: %s",
                                       words[i]);
                if (k == 0)
                        continue;
                _cleanup_buf_ struct berth_buf body = BERTH_BUF_INIT;
                bool done = false;
                const char *s;
                size_t len;
                while (read_line(r, &s, &len)) {
                        r->line++;
                        size_t m = trim_newline(s, len), off = 0;
                        if (h.chomp)
                                while (off < m && s[off] == '\t')
                                        off++;
                        if (m - off == strlen(h.name) && memcmp(s + off, h.name, m - off) == 0) {
                                done = true;
                                break;
                        }
                        buf_append(&body, s, len);
                }
                if (!done) {
                        free(h.name);
                        return fail_at(r->err, start, "unterminated heredoc");
                }
                if (h.chomp)
                        strip_leading_tabs(&body);
                h.content = buf_steal(&body);
                n->heredocs = xrealloc(n->heredocs, (n->n_heredocs + 1) * sizeof(h));
                n->heredocs[n->n_heredocs++] = h;
        }
        return 0;
}

/* Pass 1: all the nodes of the file. */
static int read_nodes(struct reader *r, struct node ***ret, size_t *ret_n)
{
        struct node **nodes = NULL;
        size_t nn = 0;
        int res = 0;
        const char *s;
        size_t len;
        _cleanup_buf_ struct berth_buf line = BERTH_BUF_INIT;

        while (read_line(r, &s, &len)) {
                if (r->line == 0 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
                        s += 3, len -= 3;
                size_t m = trim_newline(s, len);
                while (m > 0 && is_space((unsigned char)*s))
                        s++, m--;
                res = directive(r, s, m, r->line + 1);
                if (res < 0)
                        goto fail;
                if (is_comment(s, m))
                        m = 0;
                r->line++;
                unsigned start = r->line;
                size_t c = continuation(s, m, r->escape);
                if (c == SIZE_MAX && m == 0)
                        continue;
                buf_reset(&line);
                buf_append(&line, s, c == SIZE_MAX ? m : c);
                while (c != SIZE_MAX && read_line(r, &s, &len)) {
                        m = trim_newline(s, len);
                        res = directive(r, s, m, r->line + 1);
                        if (res < 0)
                                goto fail;
                        r->line++;
                        if (is_comment(s, m))
                                continue;
                        size_t i = 0;
                        while (i < m && is_space((unsigned char)s[i]))
                                i++;
                        if (i == m)
                                continue; /* an empty continuation line (docker warns) */
                        c = continuation(s, m, r->escape);
                        buf_append(&line, s, c == SIZE_MAX ? m : c);
                }
                /* A NUL byte would end the C string early: docker reads it as an ordinary
                 * character; we refuse the file rather than parse something else. */
                if (memchr(line.data ? line.data : "", 0, line.len)) {
                        res = fail_at(r->err, start, "invalid NUL byte in instruction");
                        goto fail;
                }
                struct node *n = node_from_line(line.data ? line.data : "", r->escape);
                nodes = xrealloc(nodes, (nn + 1) * sizeof(*nodes));
                nodes[nn++] = n;
                n->line = start;
                if (can_contain_heredoc(n) && strstr(n->original, "<<")) {
                        res = read_heredocs(r, n, start);
                        if (res < 0)
                                goto fail;
                }
                n->end_line = r->line;
        }
        *ret = nodes;
        *ret_n = nn;
        return 0;
fail:
        for (size_t i = 0; i < nn; i++)
                node_free(nodes[i]);
        free(nodes);
        return res;
}

/* ---- flags ------------------------------------------------------------------------------- */

enum flag_type { FLAG_STRING, FLAG_BOOL, FLAG_STRINGS };

struct flag_def {
        const char *name;
        enum flag_type type;
};

struct flag_val {
        bool used;
        char *value;   /* string, or "true"/"false" */
        char **values; /* strings */
        size_t n;
};

static void flag_vals_release(struct flag_val *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].value);
                strv_free(v[i].values);
        }
}

/* docker's BFlags.Parse with its messages. */
static int parse_flags(char **flags, const struct flag_def *defs, size_t n_defs,
                       struct flag_val *vals, char **ret_msg)
{
        for (size_t i = 0; flags[i]; i++) {
                const char *a = flags[i];
                if (strcmp(a, "--") == 0)
                        return 0;
                if (strncmp(a, "--", 2) != 0) {
                        *ret_msg = xasprintf("arg should start with -- : %s", a);
                        return -EINVAL;
                }
                const char *eq = strchr(a, '=');
                _cleanup_free_ char *flag = eq ? xstrndup(a, (size_t)(eq - a)) : xstrdup(a);
                const char *name = flag + 2, *value = eq ? eq + 1 : "";
                size_t d = 0;
                while (d < n_defs && strcmp(defs[d].name, name) != 0)
                        d++;
                if (d == n_defs) {
                        const char *opts[8];
                        size_t no = 0;
                        for (size_t k = 0; k < n_defs && no < ELEMENTSOF(opts); k++)
                                opts[no++] = defs[k].name;
                        _cleanup_free_ char *hint = suggest(name, opts, no, false);
                        *ret_msg = xasprintf("unknown flag: %s%s", flag, hint);
                        return -EINVAL;
                }
                struct flag_val *v = &vals[d];
                if (v->used && defs[d].type != FLAG_STRINGS) {
                        *ret_msg = xasprintf("duplicate flag specified: %s", flag);
                        return -EINVAL;
                }
                v->used = true;
                switch (defs[d].type) {
                case FLAG_BOOL:
                        if (eq && !*value) {
                                *ret_msg = xasprintf("missing a value on flag: %s", flag);
                                return -EINVAL;
                        }
                        if (!*value || strcasecmp(value, "true") == 0) {
                                v->value = xstrdup("true");
                        } else if (strcasecmp(value, "false") == 0) {
                                v->value = xstrdup("false");
                        } else {
                                *ret_msg = xasprintf("expecting boolean value for flag %s, not: %s",
                                                     flag, value);
                                return -EINVAL;
                        }
                        break;
                case FLAG_STRING:
                        if (!eq) {
                                *ret_msg = xasprintf("missing a value on flag: %s", flag);
                                return -EINVAL;
                        }
                        v->value = xstrdup(value);
                        break;
                case FLAG_STRINGS:
                        if (!eq) {
                                *ret_msg = xasprintf("missing a value on flag: %s", flag);
                                return -EINVAL;
                        }
                        strv_push(&v->values, &v->n, xstrdup(value));
                        break;
                }
        }
        return 0;
}

static bool flag_true(const struct flag_val *v)
{
        return v->used && strcmp(v->value, "true") == 0;
}

/* ---- pass 2: nodes to instructions -------------------------------------------------------- */

void dockerfile_instruction_free(struct dockerfile_instruction *ins)
{
        if (!ins)
                return;
        free(ins->command);
        free(ins->original);
        strv_free(ins->args);
        for (size_t i = 0; i < ins->n_kvs; i++) {
                free(ins->kvs[i].key);
                free(ins->kvs[i].value);
        }
        free(ins->kvs);
        struct dockerfile_flags *f = &ins->flags;
        free(f->platform);
        free(f->from);
        free(f->chown);
        free(f->chmod);
        free(f->checksum);
        strv_free(f->exclude);
        for (size_t i = 0; i < f->n_mounts; i++)
                dockerfile_mount_release(&f->mounts[i]);
        free(f->mounts);
        free(f->network);
        free(f->security);
        heredocs_free(ins->heredocs, ins->n_heredocs);
        strv_free(ins->health_test);
        free(ins->onbuild_expression);
        dockerfile_instruction_free(ins->onbuild);
        free(ins);
}

/* Set *msg to docker's message for the instruction's problem; the caller adds the line. */
#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        *msg = xasprintf(__VA_ARGS__);                                             \
                        return -EINVAL;                                                            \
                }                                                                                  \
        } while (0)

static int take_flags(struct dockerfile_instruction *ins, const struct node *n,
                      const struct flag_def *defs, size_t n_defs, struct flag_val *vals, char **msg)
{
        (void)ins;
        return parse_flags(n->flags, defs, n_defs, vals, msg);
}

static int kvs_from_args(struct dockerfile_instruction *ins, const char *what, char **msg)
{
        size_t n = strv_len(ins->args);
        CHECK(n > 0, "%s requires at least one argument", what);
        CHECK(n % 3 == 0, "Bad input to %s, too many arguments", what);
        ins->kvs = xcalloc(n / 3, sizeof(*ins->kvs));
        for (size_t j = 0; j < n; j += 3) {
                CHECK(*ins->args[j], "%s names can not be blank", what);
                ins->kvs[ins->n_kvs++] = (struct dockerfile_kv){.key = xstrdup(ins->args[j]),
                                                                .value = xstrdup(ins->args[j + 1]),
                                                                .legacy = !*ins->args[j + 2]};
        }
        return 0;
}

static int sources_and_dest(struct dockerfile_instruction *ins, const char *what, char **msg)
{
        size_t n = strv_len(ins->args);
        CHECK(n >= 2,
              "%s requires at least two arguments, but only one was provided. Destination could "
              "not be determined",
              what);
        struct dockerfile_heredoc h;
        int k = heredoc_from_word(ins->args[n - 1], &h);
        if (k > 0)
                free(h.name);
        CHECK(k == 0, "%s cannot accept a heredoc as a destination", what);
        return 0;
}

static int parse_copy_add(struct dockerfile_instruction *ins, const struct node *n, char **msg)
{
        bool copy = ins->kind == DF_COPY;
        int r = sources_and_dest(ins, copy ? "COPY" : "ADD", msg);
        if (r < 0)
                return r;
        static const struct flag_def copy_defs[] = {
            {"chown", FLAG_STRING}, {"from", FLAG_STRING},     {"chmod", FLAG_STRING},
            {"link", FLAG_BOOL},    {"exclude", FLAG_STRINGS}, {"parents", FLAG_BOOL},
        };
        static const struct flag_def add_defs[] = {
            {"chown", FLAG_STRING},      {"chmod", FLAG_STRING},    {"link", FLAG_BOOL},
            {"keep-git-dir", FLAG_BOOL}, {"checksum", FLAG_STRING}, {"unpack", FLAG_BOOL},
            {"exclude", FLAG_STRINGS},
        };
        struct flag_val v[7] = {0};
        const struct flag_def *defs = copy ? copy_defs : add_defs;
        size_t nd = copy ? ELEMENTSOF(copy_defs) : ELEMENTSOF(add_defs);
        r = take_flags(ins, n, defs, nd, v, msg);
        if (r >= 0) {
                struct dockerfile_flags *f = &ins->flags;
                for (size_t i = 0; i < nd; i++) {
                        const char *name = defs[i].name;
                        if (strcmp(name, "chown") == 0)
                                f->chown = TAKE_PTR(v[i].value);
                        else if (strcmp(name, "chmod") == 0)
                                f->chmod = TAKE_PTR(v[i].value);
                        else if (strcmp(name, "from") == 0)
                                f->from = TAKE_PTR(v[i].value);
                        else if (strcmp(name, "checksum") == 0)
                                f->checksum = TAKE_PTR(v[i].value);
                        else if (strcmp(name, "link") == 0)
                                f->link = flag_true(&v[i]);
                        else if (strcmp(name, "parents") == 0)
                                f->parents = flag_true(&v[i]);
                        else if (strcmp(name, "keep-git-dir") == 0)
                                f->keep_git_dir = flag_true(&v[i]);
                        else if (strcmp(name, "unpack") == 0)
                                f->unpack = flag_true(&v[i]), f->unpack_set = v[i].used;
                        else if (strcmp(name, "exclude") == 0)
                                f->exclude = TAKE_PTR(v[i].values);
                }
        }
        flag_vals_release(v, nd);
        return r;
}

static bool valid_stage_name(const char *s)
{
        if (!(*s >= 'a' && *s <= 'z'))
                return false;
        for (s++; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                      *s == '_' || *s == '.'))
                        return false;
        return true;
}

static int parse_from(struct dockerfile_instruction *ins, const struct node *n, char **msg)
{
        size_t na = strv_len(ins->args);
        if (na == 3 && strcasecmp(ins->args[1], "as") == 0) {
                _cleanup_free_ char *lower = xstrdup(ins->args[2]);
                for (char *p = lower; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                if (!valid_stage_name(lower)) {
                        _cleanup_free_ char *q = dockerfile_quote_go(ins->args[2]);
                        CHECK(false,
                              "invalid name for build stage: %s, name can't start with a number "
                              "or contain symbols",
                              q);
                }
        } else {
                CHECK(na == 1, "FROM requires either one or three arguments");
        }
        static const struct flag_def defs[] = {{"platform", FLAG_STRING}};
        struct flag_val v[1] = {0};
        int r = take_flags(ins, n, defs, 1, v, msg);
        if (r >= 0)
                ins->flags.platform = TAKE_PTR(v[0].value);
        flag_vals_release(v, 1);
        return r;
}

static int parse_run(struct dockerfile_instruction *ins, const struct node *n, char **msg)
{
        static const struct flag_def defs[] = {
            {"mount", FLAG_STRINGS}, {"network", FLAG_STRING}, {"security", FLAG_STRING}};
        struct flag_val v[3] = {0};
        int r = take_flags(ins, n, defs, 3, v, msg);
        struct dockerfile_flags *f = &ins->flags;
        if (r < 0)
                goto out;
        f->network = TAKE_PTR(v[1].value);
        f->security = TAKE_PTR(v[2].value);
        f->mounts = xcalloc(v[0].n + 1, sizeof(*f->mounts));
        for (size_t i = 0; i < v[0].n; i++) {
                struct dockerfile_mount *m = &f->mounts[f->n_mounts++];
                const char *spec = v[0].values[i];
                *m = (struct dockerfile_mount){.size = -1};
                if (strchr(spec, '$')) {
                        /* BuildKit checks a spec after expansion, except for from=. */
                        m->spec = xstrdup(spec);
                        m->deferred = true;
                        const char *p = strstr(spec, "from=");
                        while (p && p != spec && p[-1] != ',')
                                p = strstr(p + 1, "from=");
                        if (p) {
                                const char *val = p + 5, *end = strchr(val, ',');
                                size_t len = end ? (size_t)(end - val) : strlen(val);
                                const char *d = memchr(val, '$', len);
                                if (d && (size_t)(d - val) != len - 1) {
                                        *msg = xstrdup("'from' doesn't support variable "
                                                       "expansion, define alias stage instead");
                                        r = -EINVAL;
                                        goto out;
                                }
                        }
                        continue;
                }
                struct berth_error *e = NULL;
                r = dockerfile_mount_parse(spec, m, &e);
                if (r < 0) {
                        *msg = xstrdup(berth_error_msg(e));
                        berth_error_free(e);
                        goto out;
                }
        }
        if (f->network && strcmp(f->network, "default") != 0 && strcmp(f->network, "none") != 0 &&
            strcmp(f->network, "host") != 0) {
                _cleanup_free_ char *q = dockerfile_quote_go(f->network);
                *msg = xasprintf("invalid network mode %s", q);
                r = -EINVAL;
        } else if (f->security && strcmp(f->security, "sandbox") != 0 &&
                   strcmp(f->security, "insecure") != 0) {
                _cleanup_free_ char *q = dockerfile_quote_go(f->security);
                *msg = xasprintf("security %s is not valid", q);
                r = -EINVAL;
        }
out:
        flag_vals_release(v, 3);
        return r;
}

/* A Go duration flag of HEALTHCHECK: 0 when empty, at least 1ms otherwise. */
static int health_duration(const struct flag_val *v, const char *name, int64_t *ret, char **msg)
{
        *ret = 0;
        if (!v->used || !*v->value)
                return 0;
        int64_t d;
        if (units_parse_go_duration(v->value, &d) < 0) {
                _cleanup_free_ char *q = dockerfile_quote_go(v->value);
                CHECK(false, "time: invalid duration %s", q);
        }
        CHECK(d == 0 || d >= 1000000, "Interval \"%s\" cannot be less than 1ms", name);
        *ret = d;
        return 0;
}

static int parse_healthcheck(struct dockerfile_instruction *ins, const struct node *n, char **msg)
{
        size_t na = strv_len(ins->args);
        CHECK(na > 0, "HEALTHCHECK requires at least one argument");
        _cleanup_free_ char *typ = xstrdup(ins->args[0]);
        for (char *p = typ; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        char **test = NULL;
        size_t nt = 0;
        if (strcmp(typ, "NONE") == 0) {
                CHECK(na == 1, "HEALTHCHECK NONE takes no arguments");
                strv_push(&ins->health_test, &nt, xstrdup("NONE"));
                return 0;
        }
        static const struct flag_def defs[] = {
            {"interval", FLAG_STRING},     {"timeout", FLAG_STRING},
            {"start-period", FLAG_STRING}, {"start-interval", FLAG_STRING},
            {"retries", FLAG_STRING},
        };
        struct flag_val v[5] = {0};
        struct dockerfile_flags *f = &ins->flags;
        int r = take_flags(ins, n, defs, 5, v, msg);
        if (r < 0)
                goto out;
        if (strcmp(typ, "CMD") != 0) {
                _cleanup_free_ char *q = dockerfile_quote_go(typ);
                *msg = xasprintf("Unknown type %s in HEALTHCHECK (try CMD)", q);
                r = -EINVAL;
                goto out;
        }
        if (na == 1) {
                *msg = xstrdup("Missing command after HEALTHCHECK CMD");
                r = -EINVAL;
                goto out;
        }
        strv_push(&test, &nt, xstrdup(ins->json ? "CMD" : "CMD-SHELL"));
        for (size_t i = 1; i < na; i++)
                strv_push(&test, &nt, xstrdup(ins->args[i]));
        ins->health_test = test;
        if ((r = health_duration(&v[0], "interval", &f->interval, msg)) < 0 ||
            (r = health_duration(&v[1], "timeout", &f->timeout, msg)) < 0 ||
            (r = health_duration(&v[2], "start-period", &f->start_period, msg)) < 0 ||
            (r = health_duration(&v[3], "start-interval", &f->start_interval, msg)) < 0)
                goto out;
        if (v[4].used && *v[4].value) {
                char *end;
                errno = 0;
                long long x = strtoll(v[4].value, &end, 10);
                if (*end || end == v[4].value || isspace((unsigned char)v[4].value[0]) || errno ||
                    x > INT32_MAX || x < INT32_MIN) {
                        *msg =
                            xasprintf("strconv.ParseInt: parsing \"%s\": %s", v[4].value,
                                      errno || (!*end && end != v[4].value) ? "value out of range"
                                                                            : "invalid syntax");
                        r = -EINVAL;
                        goto out;
                }
                if (x < 0) {
                        *msg = xasprintf("--retries cannot be negative (%lld)", x);
                        r = -EINVAL;
                        goto out;
                }
                f->retries = (int)x;
        }
out:
        flag_vals_release(v, 5);
        return r;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int build_instruction(const struct node *n, char esc, struct dockerfile_instruction **ret,
                             char **msg);

static int parse_onbuild(struct dockerfile_instruction *ins, const struct node *n, char esc,
                         char **msg)
{
        CHECK(strv_len(ins->args) > 0, "ONBUILD requires at least one argument");
        int r = take_flags(ins, n, NULL, 0, NULL, msg);
        if (r < 0)
                return r;
        _cleanup_free_ char *trigger = trim_dup(n->sub->cmd);
        for (char *p = trigger; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        CHECK(strcmp(trigger, "ONBUILD") != 0,
              "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        CHECK(strcmp(trigger, "MAINTAINER") != 0 && strcmp(trigger, "FROM") != 0,
              "%s isn't allowed as an ONBUILD trigger", trigger);
        /* The expression: the original line without `^\s*ONBUILD\s*`, heredocs after it. */
        const char *p = n->original;
        while (is_space((unsigned char)*p))
                p++;
        p += strlen("ONBUILD");
        while (is_space((unsigned char)*p))
                p++;
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, p);
        for (size_t i = 0; i < n->n_heredocs; i++) {
                buf_putc(&b, '\n');
                buf_puts(&b, n->heredocs[i].content);
                buf_puts(&b, n->heredocs[i].name);
        }
        ins->onbuild_expression = buf_steal(&b);
        /* docker checks the trigger itself only when a child image runs it. */
        _cleanup_free_ char *sub_msg = NULL;
        struct dockerfile_instruction *sub = NULL;
        if (build_instruction(n->sub, esc, &sub, &sub_msg) == 0) {
                sub->line = n->line;
                sub->end_line = n->end_line;
                sub->heredocs = xcalloc(n->n_heredocs + 1, sizeof(*sub->heredocs));
                for (size_t i = 0; i < n->n_heredocs; i++) {
                        sub->heredocs[i] = n->heredocs[i];
                        sub->heredocs[i].name = xstrdup(n->heredocs[i].name);
                        sub->heredocs[i].content = xstrdup(n->heredocs[i].content);
                }
                sub->n_heredocs = n->n_heredocs;
                ins->onbuild = sub;
        }
        return 0;
}

static int parse_by_kind(struct dockerfile_instruction *ins, const struct node *n, char esc,
                         char **msg)
{
        size_t na = strv_len(ins->args);
        switch (ins->kind) {
        case DF_ENV:
        case DF_LABEL: {
                int r = take_flags(ins, n, NULL, 0, NULL, msg);
                if (r < 0)
                        return r;
                return kvs_from_args(ins, ins->kind == DF_ENV ? "ENV" : "LABEL", msg);
        }
        case DF_MAINTAINER:
        case DF_WORKDIR:
        case DF_USER:
        case DF_STOPSIGNAL:
                CHECK(na == 1, "%s requires exactly one argument", kind_names[ins->kind]);
                return take_flags(ins, n, NULL, 0, NULL, msg);
        case DF_ADD:
        case DF_COPY:
                return parse_copy_add(ins, n, msg);
        case DF_FROM:
                return parse_from(ins, n, msg);
        case DF_ONBUILD:
                return parse_onbuild(ins, n, esc, msg);
        case DF_RUN:
                return parse_run(ins, n, msg);
        case DF_CMD:
        case DF_ENTRYPOINT:
                return take_flags(ins, n, NULL, 0, NULL, msg);
        case DF_SHELL: {
                int r = take_flags(ins, n, NULL, 0, NULL, msg);
                if (r < 0)
                        return r;
                CHECK(na > 0, "SHELL requires at least one argument");
                CHECK(ins->json, "SHELL requires the arguments to be in JSON form");
                return 0;
        }
        case DF_HEALTHCHECK:
                return parse_healthcheck(ins, n, msg);
        case DF_EXPOSE: {
                CHECK(na > 0, "EXPOSE requires at least one argument");
                int r = take_flags(ins, n, NULL, 0, NULL, msg);
                if (r >= 0)
                        qsort(ins->args, na, sizeof(char *), cmp_str);
                return r;
        }
        case DF_VOLUME: {
                CHECK(na > 0, "VOLUME requires at least one argument");
                int r = take_flags(ins, n, NULL, 0, NULL, msg);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < na; i++) {
                        char *t = trim_dup(ins->args[i]);
                        free(ins->args[i]);
                        ins->args[i] = t;
                        CHECK(*t, "VOLUME specified can not be an empty string");
                }
                return 0;
        }
        case DF_ARG:
                /* docker never looks at ARG's flags */
                CHECK(na > 0, "ARG requires at least one argument");
                ins->kvs = xcalloc(na, sizeof(*ins->kvs));
                for (size_t i = 0; i < na; i++) {
                        const char *a = ins->args[i], *eq = strchr(a, '=');
                        CHECK(!eq || eq != a, "ARG names can not be blank");
                        ins->kvs[ins->n_kvs++] = (struct dockerfile_kv){
                            .key = eq ? xstrndup(a, (size_t)(eq - a)) : xstrdup(a),
                            .value = eq ? xstrdup(eq + 1) : NULL};
                }
                return 0;
        }
        return 0;
}

/* Pass 2 for one node: *msg (without the line) on errors. */
static int build_instruction(const struct node *n, char esc, struct dockerfile_instruction **ret,
                             char **msg)
{
        int kind = kind_from_word(n->cmd);
        if (kind < 0) {
                _cleanup_free_ char *hint =
                    suggest(n->cmd, (const char *const *)kind_names, DF_KIND_COUNT, true);
                *msg = xasprintf("unknown instruction: %s%s", n->cmd, hint);
                return -EINVAL;
        }
        if (n->error) {
                *msg = xstrdup(n->error);
                return -EINVAL;
        }
        struct dockerfile_instruction *ins = xcalloc(1, sizeof(*ins));
        ins->kind = (enum dockerfile_kind)kind;
        ins->line = n->line;
        ins->end_line = n->end_line;
        ins->command = xstrdup(n->cmd);
        ins->original = xstrdup(n->original);
        ins->args = strv_copy(n->args);
        ins->json = n->json;
        if (n->n_heredocs) {
                ins->heredocs = xcalloc(n->n_heredocs, sizeof(*ins->heredocs));
                for (size_t i = 0; i < n->n_heredocs; i++) {
                        ins->heredocs[i] = n->heredocs[i];
                        ins->heredocs[i].name = xstrdup(n->heredocs[i].name);
                        ins->heredocs[i].content = xstrdup(n->heredocs[i].content);
                }
                ins->n_heredocs = n->n_heredocs;
        }
        int r = parse_by_kind(ins, n, esc, msg);
        if (r < 0) {
                dockerfile_instruction_free(ins);
                return r;
        }
        *ret = ins;
        return 0;
}

/* ---- the file ------------------------------------------------------------------------------ */

void dockerfile_free(struct dockerfile *df)
{
        if (!df)
                return;
        for (size_t i = 0; i < df->n_directives; i++) {
                free(df->directives[i].name);
                free(df->directives[i].value);
        }
        free(df->directives);
        for (size_t i = 0; i < df->n_meta_args; i++)
                dockerfile_instruction_free(df->meta_args[i]);
        free(df->meta_args);
        for (size_t i = 0; i < df->n_stages; i++) {
                struct dockerfile_stage *st = &df->stages[i];
                free(st->base);
                free(st->name);
                free(st->platform);
                dockerfile_instruction_free(st->from);
                for (size_t k = 0; k < st->n_instructions; k++)
                        dockerfile_instruction_free(st->instructions[k]);
                free(st->instructions);
        }
        free(df->stages);
        free(df);
}

static void add_instruction(struct dockerfile *df, struct dockerfile_instruction *ins)
{
        if (ins->kind == DF_FROM) {
                df->stages = xrealloc(df->stages, (df->n_stages + 1) * sizeof(*df->stages));
                struct dockerfile_stage *st = &df->stages[df->n_stages++];
                *st = (struct dockerfile_stage){
                    .base = xstrdup(ins->args[0]),
                    .platform = ins->flags.platform ? xstrdup(ins->flags.platform) : NULL,
                    .line = ins->line,
                    .from = ins,
                };
                if (ins->args[1]) {
                        st->name = xstrdup(ins->args[2]);
                        for (char *p = st->name; *p; p++)
                                *p = (char)tolower((unsigned char)*p);
                }
                return;
        }
        if (df->n_stages == 0) {
                df->meta_args = xrealloc(df->meta_args, (df->n_meta_args + 1) * sizeof(ins));
                df->meta_args[df->n_meta_args++] = ins;
                return;
        }
        struct dockerfile_stage *st = &df->stages[df->n_stages - 1];
        st->instructions = xrealloc(st->instructions, (st->n_instructions + 1) * sizeof(ins));
        st->instructions[st->n_instructions++] = ins;
}

int dockerfile_parse(const char *buf, size_t len, struct dockerfile **ret, struct berth_error **err)
{
        _cleanup_dockerfile_ struct dockerfile *df = xcalloc(1, sizeof(*df));
        struct reader r = {.buf = buf, .len = len, .escape = '\\', .df = df, .err = err};
        struct node **nodes = NULL;
        size_t nn = 0;
        int res = read_nodes(&r, &nodes, &nn);
        if (res < 0)
                return res;
        df->escape = r.escape;
        if (nn == 0)
                res = berth_error_set(err, EINVAL, "file with no instructions");
        for (size_t i = 0; i < nn && res >= 0; i++) {
                struct dockerfile_instruction *ins = NULL;
                _cleanup_free_ char *msg = NULL;
                res = build_instruction(nodes[i], r.escape, &ins, &msg);
                if (res < 0) {
                        fail_at(err, nodes[i]->line, "%s", msg);
                        break;
                }
                if (ins->kind != DF_FROM && ins->kind != DF_ARG && df->n_stages == 0) {
                        res = fail_at(err, ins->line, "no build stage in current context");
                        dockerfile_instruction_free(ins);
                        break;
                }
                add_instruction(df, ins);
        }
        for (size_t i = 0; i < nn; i++)
                node_free(nodes[i]);
        free(nodes);
        if (res < 0)
                return res;
        if (df->n_stages == 0)
                return berth_error_set(err, EINVAL, "dockerfile contains no stages to build");
        *ret = TAKE_PTR(df);
        return 0;
}
