/*
 * gotemplate-parse.c — lexer and parser of the Go text/template subset
 * described in gotemplate.h (the executor is gotemplate.c).
 *
 * How it works: the lexer turns the whole text into an item array with Go's
 * lexer states (trim markers "{{- " and " -}}", comments, quoted, raw and
 * character literals, numbers; "{{.ID}" is "bad character U+007D '}'" as in
 * docker 28).  A recursive descent parser mirroring Go's parse.Tree builds
 * the node tree (gotemplate-internal.h), checking functions and variables
 * as Go does, and reports errors in Go's words: "template: :LINE: …", the
 * line being that of the furthest item looked at, as Go's.
 *
 * Never: recurse past MAX_DEPTH nested actions or parentheses, or read
 * past the item array's EOF or error item.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "cli/gotemplate-internal.h"
#include "cli/gotemplate.h"

/* ------------------------------------------------------------------ lexer */

enum item_type {
        IT_ERROR,
        IT_EOF,
        IT_TEXT,
        IT_LDELIM,
        IT_RDELIM,
        IT_SPACE,
        IT_FIELD,
        IT_IDENT,
        IT_VAR,
        IT_STRING,
        IT_RAWSTRING,
        IT_CHARCONST,
        IT_NUMBER,
        IT_BOOL,
        IT_DOT,
        IT_PIPE,
        IT_DECLARE,
        IT_ASSIGN,
        IT_LPAREN,
        IT_RPAREN,
        IT_CHAR,
        IT_KEYWORD, /* keywords follow */
        IT_BLOCK,
        IT_BREAK,
        IT_CONTINUE,
        IT_DEFINE,
        IT_ELSE,
        IT_END,
        IT_IF,
        IT_NIL,
        IT_RANGE,
        IT_TEMPLATE,
        IT_WITH,
};

struct item {
        enum item_type type;
        size_t pos, len; /* the item's text is in[pos, pos+len) */
        char *msg;       /* IT_ERROR */
};

struct lexer {
        const char *in;
        size_t len, pos, start;
        int paren;
        struct item *items;
        size_t n, cap;
};

static const struct {
        const char *word;
        enum item_type type;
} keywords[] = {
    {"block", IT_BLOCK},
    {"break", IT_BREAK},
    {"continue", IT_CONTINUE},
    {"define", IT_DEFINE},
    {"else", IT_ELSE},
    {"end", IT_END},
    {"if", IT_IF},
    {"nil", IT_NIL},
    {"range", IT_RANGE},
    {"template", IT_TEMPLATE},
    {"with", IT_WITH},
};

static bool is_space(int c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(int c)
{
        /* Go: '_', unicode letters and digits; bytes of non-ASCII runes count as letters */
        return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || (c >= 0x80 && c != -1);
}

static int lpeek(struct lexer *l)
{
        return l->pos < l->len ? (unsigned char)l->in[l->pos] : -1;
}

static bool has_prefix(struct lexer *l, size_t at, const char *p)
{
        size_t n = strlen(p);
        return at <= l->len && l->len - at >= n && memcmp(l->in + at, p, n) == 0;
}

static void emit(struct lexer *l, enum item_type t)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
        }
        l->items[l->n++] = (struct item){t, l->start, l->pos - l->start, NULL};
        l->start = l->pos;
}

/* Go's %#U of the rune at position at (or of c when ASCII). */
static void fmt_rune_u(struct berth_buf *b, const char *s, size_t len)
{
        unsigned c = len ? (unsigned char)s[0] : 0;
        uint32_t r = c;
        size_t n = 1;
        if (c >= 0xc0 && c < 0xf8) {
                n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
                r = c & (0x3f >> (n - 1));
                if (n > len)
                        n = 1, r = 0xfffd;
                for (size_t i = 1; i < n; i++)
                        r = (r << 6) | ((unsigned char)s[i] & 0x3f);
        } else if (c >= 0x80) {
                r = 0xfffd;
        }
        buf_printf(b, "U+%04" PRIX32, r);
        if (r >= 0x20 && r != 0x7f && r != 0xfffd) {
                buf_puts(b, " '");
                buf_append(b, s, n);
                buf_putc(b, '\'');
        }
}

_printf_(2, 3) static bool lex_error(struct lexer *l, const char *fmt, ...)
{
        emit(l, IT_ERROR);
        va_list ap;
        va_start(ap, fmt);
        char *m = NULL;
        if (vasprintf(&m, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        l->items[l->n - 1].msg = m;
        return false;
}

static bool lex_error_rune(struct lexer *l, const char *what, size_t at)
{
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        fmt_rune_u(&b, l->in + at, at < l->len ? l->len - at : 0);
        return lex_error(l, "%s %s", what, b.data);
}

static bool has_left_trim(struct lexer *l, size_t at)
{
        return at + 1 < l->len && l->in[at] == '-' && is_space((unsigned char)l->in[at + 1]);
}

/* Is a right delimiter at pos?  *trim: it is " -}}". */
static bool at_right_delim(struct lexer *l, bool *trim)
{
        *trim = false;
        if (l->pos + 1 < l->len && is_space((unsigned char)l->in[l->pos]) &&
            l->in[l->pos + 1] == '-' && has_prefix(l, l->pos + 2, "}}")) {
                *trim = true;
                return true;
        }
        return has_prefix(l, l->pos, "}}");
}

static size_t left_trim_len(struct lexer *l, size_t at)
{
        size_t i = at;
        while (i < l->len && is_space((unsigned char)l->in[i]))
                i++;
        return i - at;
}

/* What may follow a word: docker 28's Go checks for the whole right delimiter here. */
static bool at_terminator(struct lexer *l)
{
        int c = lpeek(l);
        if (c == -1 || is_space(c))
                return true;
        if (c != 0 && strchr(".,|:)(", c))
                return true;
        return has_prefix(l, l->pos, "}}");
}

/* Returns false when lexing is over (EOF or error emitted). */
static bool lex_text(struct lexer *l, bool *inside)
{
        const char *x = memmem(l->in + l->pos, l->len - l->pos, "{{", 2);
        if (!x) {
                l->pos = l->len;
                if (l->pos > l->start)
                        emit(l, IT_TEXT);
                emit(l, IT_EOF);
                return false;
        }
        size_t at = (size_t)(x - l->in);
        if (at > l->pos) {
                size_t end = at;
                if (has_left_trim(l, at + 2))
                        while (end > l->start && is_space((unsigned char)l->in[end - 1]))
                                end--;
                l->pos = end;
                if (l->pos > l->start)
                        emit(l, IT_TEXT);
        }
        l->start = l->pos = at;
        /* left delimiter */
        l->pos += 2;
        bool trim = has_left_trim(l, l->pos);
        size_t after = trim ? 2 : 0;
        if (has_prefix(l, l->pos + after, "/*")) {
                l->pos += after + 2;
                const char *e = memmem(l->in + l->pos, l->len - l->pos, "*/", 2);
                l->start = l->pos;
                if (!e)
                        return lex_error(l, "unclosed comment");
                l->pos = (size_t)(e - l->in) + 2;
                bool rtrim;
                if (!at_right_delim(l, &rtrim))
                        return lex_error(l, "comment ends before closing delimiter");
                l->pos += (rtrim ? 2 : 0) + 2;
                if (rtrim)
                        l->pos += left_trim_len(l, l->pos);
                l->start = l->pos;
                return true;
        }
        emit(l, IT_LDELIM);
        l->pos += after;
        l->start = l->pos;
        l->paren = 0;
        *inside = true;
        return true;
}

/* Go's scanNumber: true when a well-formed number was consumed. */
static bool scan_number(struct lexer *l)
{
        const char *digits = "0123456789_";
        if (lpeek(l) == '+' || lpeek(l) == '-')
                l->pos++;
        if (lpeek(l) == '0') {
                l->pos++;
                int c = lpeek(l);
                if (c == 'x' || c == 'X')
                        digits = "0123456789abcdefABCDEF_", l->pos++;
                else if (c == 'o' || c == 'O')
                        digits = "01234567_", l->pos++;
                else if (c == 'b' || c == 'B')
                        digits = "01_", l->pos++;
        }
#define ACCEPT_RUN(set)                                                                            \
        while (lpeek(l) > 0 && strchr((set), lpeek(l)))                                            \
        l->pos++
        ACCEPT_RUN(digits);
        if (lpeek(l) == '.') {
                l->pos++;
                ACCEPT_RUN(digits);
        }
        if (strlen(digits) == 11 && (lpeek(l) == 'e' || lpeek(l) == 'E')) {
                l->pos++;
                if (lpeek(l) == '+' || lpeek(l) == '-')
                        l->pos++;
                ACCEPT_RUN("0123456789_");
        }
        if (strlen(digits) == 23 && (lpeek(l) == 'p' || lpeek(l) == 'P')) {
                l->pos++;
                if (lpeek(l) == '+' || lpeek(l) == '-')
                        l->pos++;
                ACCEPT_RUN("0123456789_");
        }
#undef ACCEPT_RUN
        if (lpeek(l) == 'i')
                l->pos++;
        if (is_alnum(lpeek(l))) {
                l->pos++;
                return false;
        }
        return true;
}

static bool bad_number(struct lexer *l)
{
        _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
        gt_quote(&q, l->in + l->start, l->pos - l->start, -1);
        return lex_error(l, "bad number syntax: %s", q.data);
}

static bool lex_number(struct lexer *l)
{
        if (!scan_number(l))
                return bad_number(l);
        if (lpeek(l) == '+' || lpeek(l) == '-') {
                /* Go's complex constants (1+2i): scanned like Go, not supported */
                if (!scan_number(l) || l->in[l->pos - 1] != 'i')
                        return bad_number(l);
                return lex_error(l, "complex numbers are not supported in --format templates");
        }
        if (l->in[l->pos - 1] == 'i')
                return lex_error(l, "complex numbers are not supported in --format templates");
        emit(l, IT_NUMBER);
        return true;
}

static bool lex_quoted(struct lexer *l, char close, enum item_type t, const char *unterminated)
{
        for (;;) {
                int c = lpeek(l);
                if (c == -1 || (c == '\n' && close != '`'))
                        return lex_error(l, "%s", unterminated);
                l->pos++;
                if (c == '\\' && close != '`') {
                        c = lpeek(l);
                        if (c == -1 || c == '\n')
                                return lex_error(l, "%s", unterminated);
                        l->pos++;
                } else if (c == close) {
                        break;
                }
        }
        emit(l, t);
        return true;
}

static bool lex_field_or_var(struct lexer *l, enum item_type t)
{
        if (at_terminator(l)) {
                emit(l, t == IT_VAR ? IT_VAR : IT_DOT);
                return true;
        }
        while (is_alnum(lpeek(l)))
                l->pos++;
        if (!at_terminator(l))
                return lex_error_rune(l, "bad character", l->pos);
        emit(l, t);
        return true;
}

static bool lex_identifier(struct lexer *l)
{
        while (is_alnum(lpeek(l)))
                l->pos++;
        if (!at_terminator(l))
                return lex_error_rune(l, "bad character", l->pos);
        const char *w = l->in + l->start;
        size_t n = l->pos - l->start;
        for (size_t i = 0; i < ELEMENTSOF(keywords); i++)
                if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, w, n) == 0) {
                        emit(l, keywords[i].type);
                        return true;
                }
        if ((n == 4 && memcmp(w, "true", 4) == 0) || (n == 5 && memcmp(w, "false", 5) == 0))
                emit(l, IT_BOOL);
        else
                emit(l, IT_IDENT);
        return true;
}

static bool lex_inside(struct lexer *l, bool *inside)
{
        bool trim;
        if (at_right_delim(l, &trim)) {
                if (l->paren != 0)
                        return lex_error(l, "unclosed left paren");
                if (trim) {
                        l->pos += 2;
                        l->start = l->pos;
                }
                l->pos += 2;
                emit(l, IT_RDELIM);
                if (trim) {
                        l->pos += left_trim_len(l, l->pos);
                        l->start = l->pos;
                }
                *inside = false;
                return true;
        }
        int c = lpeek(l);
        if (c == -1)
                return lex_error(l, "unclosed action");
        if (is_space(c)) {
                size_t n = 0;
                while (is_space(lpeek(l)))
                        l->pos++, n++;
                /* " -}}": the space belongs to the trim marker */
                if (l->in[l->pos - 1] != '\0' && lpeek(l) == '-' &&
                    has_prefix(l, l->pos + 1, "}}")) {
                        l->pos--;
                        if (n == 1)
                                return true;
                }
                emit(l, IT_SPACE);
                return true;
        }
        l->pos++;
        switch (c) {
        case '=':
                emit(l, IT_ASSIGN);
                return true;
        case ':':
                if (lpeek(l) != '=')
                        return lex_error(l, "expected :=");
                l->pos++;
                emit(l, IT_DECLARE);
                return true;
        case '|':
                emit(l, IT_PIPE);
                return true;
        case '"':
                return lex_quoted(l, '"', IT_STRING, "unterminated quoted string");
        case '`':
                return lex_quoted(l, '`', IT_RAWSTRING, "unterminated raw quoted string");
        case '\'':
                return lex_quoted(l, '\'', IT_CHARCONST, "unterminated character constant");
        case '$':
                return lex_field_or_var(l, IT_VAR);
        case '(':
                emit(l, IT_LPAREN);
                l->paren++;
                return true;
        case ')':
                /* as Go 1.19 (docker's Debian build): the paren is an item before the error */
                emit(l, IT_RPAREN);
                l->paren--;
                if (l->paren < 0)
                        return lex_error(l, "unexpected right paren U+0029 ')'");
                return true;
        case '.':
                /* ".5" is a number, and so (an ill-formed one) is a '.' ending the text */
                if (l->pos < l->len && (lpeek(l) < '0' || lpeek(l) > '9'))
                        return lex_field_or_var(l, IT_FIELD);
                l->pos--;
                return lex_number(l);
        }
        if (c == '+' || c == '-' || (c >= '0' && c <= '9')) {
                l->pos--;
                return lex_number(l);
        }
        if (is_alnum(c)) {
                l->pos--;
                return lex_identifier(l);
        }
        if (c >= 0x20 && c < 0x7f) {
                emit(l, IT_CHAR);
                return true;
        }
        return lex_error_rune(l, "unrecognized character in action:", l->start);
}

static void lex_all(struct lexer *l)
{
        bool inside = false;
        for (;;) {
                bool more = inside ? lex_inside(l, &inside) : lex_text(l, &inside);
                if (!more)
                        return;
        }
}

/* ----------------------------------------------------------------- nodes */

static struct node *node_new(enum node_type t, size_t pos)
{
        struct node *n = xcalloc(1, sizeof(*n));
        n->type = t;
        n->pos = pos;
        return n;
}

static void node_add(struct node *parent, struct node *kid)
{
        parent->kids = xrealloc(parent->kids, (parent->nkids + 1) * sizeof(*parent->kids));
        parent->kids[parent->nkids++] = kid;
}

static void strs_add(char ***v, size_t *n, const char *s, size_t len)
{
        *v = xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = xstrndup(s, len);
}

static void node_free(struct node *n)
{
        if (!n)
                return;
        free(n->text);
        free(n->sval);
        for (size_t i = 0; i < n->nidents; i++)
                free(n->idents[i]);
        free(n->idents);
        for (size_t i = 0; i < n->nkids; i++)
                node_free(n->kids[i]);
        free(n->kids);
        for (size_t i = 0; i < n->ndecls; i++)
                free(n->decls[i]);
        free(n->decls);
        node_free(n->pipe);
        node_free(n->list);
        node_free(n->else_list);
        node_free(n->sub);
        free(n);
}

static void pipe_string(struct berth_buf *b, const struct node *p)
{
        for (size_t i = 0; i < p->ndecls; i++) {
                if (i)
                        buf_puts(b, ", ");
                buf_puts(b, p->decls[i]);
        }
        if (p->ndecls)
                buf_puts(b, " := ");
        for (size_t i = 0; i < p->nkids; i++) {
                if (i)
                        buf_puts(b, " | ");
                gt_node_string(b, p->kids[i]);
        }
}

void gt_node_string(struct berth_buf *b, const struct node *n)
{
        switch (n->type) {
        case N_TEXT:
                gt_quote(b, n->text, n->text_len, -1);
                return;
        case N_FIELD:
                for (size_t i = 0; i < n->nidents; i++) {
                        buf_putc(b, '.');
                        buf_puts(b, n->idents[i]);
                }
                return;
        case N_VAR:
                for (size_t i = 0; i < n->nidents; i++) {
                        if (i)
                                buf_putc(b, '.');
                        buf_puts(b, n->idents[i]);
                }
                return;
        case N_DOT:
                buf_putc(b, '.');
                return;
        case N_NIL:
                buf_puts(b, "nil");
                return;
        case N_BOOL:
                buf_puts(b, n->bval ? "true" : "false");
                return;
        case N_NUMBER:
        case N_STRING:
        case N_IDENT:
                buf_append(b, n->text, n->text_len);
                return;
        case N_CHAIN:
                if (n->sub->type == N_PIPE) {
                        buf_putc(b, '(');
                        pipe_string(b, n->sub);
                        buf_putc(b, ')');
                } else {
                        gt_node_string(b, n->sub);
                }
                for (size_t i = 0; i < n->nidents; i++) {
                        buf_putc(b, '.');
                        buf_puts(b, n->idents[i]);
                }
                return;
        case N_CMD:
                for (size_t i = 0; i < n->nkids; i++) {
                        if (i)
                                buf_putc(b, ' ');
                        if (n->kids[i]->type == N_PIPE) {
                                buf_putc(b, '(');
                                pipe_string(b, n->kids[i]);
                                buf_putc(b, ')');
                        } else {
                                gt_node_string(b, n->kids[i]);
                        }
                }
                return;
        case N_PIPE:
                pipe_string(b, n);
                return;
        case N_ACTION:
                buf_puts(b, "{{");
                pipe_string(b, n->pipe);
                buf_puts(b, "}}");
                return;
        case N_LIST:
                for (size_t i = 0; i < n->nkids; i++)
                        gt_node_string(b, n->kids[i]);
                return;
        case N_IF:
        case N_RANGE:
        case N_WITH:
                buf_puts(b, n->type == N_IF      ? "{{if "
                            : n->type == N_RANGE ? "{{range "
                                                 : "{{with ");
                pipe_string(b, n->pipe);
                buf_puts(b, "}}");
                gt_node_string(b, n->list);
                if (n->else_list) {
                        buf_puts(b, "{{else}}");
                        gt_node_string(b, n->else_list);
                }
                buf_puts(b, "{{end}}");
                return;
        case N_BREAK:
                buf_puts(b, "{{break}}");
                return;
        case N_CONTINUE:
                buf_puts(b, "{{continue}}");
                return;
        case N_ELSE:
                buf_puts(b, "{{else}}");
                return;
        case N_END:
                buf_puts(b, "{{end}}");
                return;
        }
}

/* ---------------------------------------------------------------- parser */

struct parser {
        struct lexer *lx;
        size_t i;  /* next item */
        size_t hi; /* furthest item looked at: its line is the error's line */
        char **vars;
        size_t nvars;
        int range_depth;
        int depth;
        int action_line; /* line of the action being parsed, 0 between actions (Go's actionLine) */
        struct berth_error **err;
        bool failed;
        const char *name;
};

static const struct item *p_next(struct parser *p)
{
        const struct item *it = &p->lx->items[p->i];
        if (p->i > p->hi)
                p->hi = p->i;
        if (it->type != IT_EOF && it->type != IT_ERROR)
                p->i++;
        return it;
}

static const struct item *p_peek(struct parser *p)
{
        if (p->i > p->hi)
                p->hi = p->i;
        return &p->lx->items[p->i];
}

static void p_backup(struct parser *p, const struct item *to)
{
        p->i = (size_t)(to - p->lx->items);
}

static const struct item *p_next_nonspace(struct parser *p)
{
        const struct item *it;
        do
                it = p_next(p);
        while (it->type == IT_SPACE);
        return it;
}

static const struct item *p_peek_nonspace(struct parser *p)
{
        size_t save = p->i;
        const struct item *it = p_next_nonspace(p);
        p->i = save;
        return it;
}

int gt_line_of(const char *text, size_t pos)
{
        int line = 1;
        for (size_t i = 0; i < pos; i++)
                if (text[i] == '\n')
                        line++;
        return line;
}

_printf_(2, 3) static void *p_error(struct parser *p, const char *fmt, ...)
{
        if (p->failed)
                return NULL;
        p->failed = true;
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = NULL;
        if (vasprintf(&m, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        berth_error_set(p->err, EINVAL, "template: %s:%d: %s", p->name,
                        gt_line_of(p->lx->in, p->lx->items[p->hi].pos), m);
        return NULL;
}

/* Go's item.String() */
static void item_string(struct berth_buf *b, const struct parser *p, const struct item *it)
{
        const char *v = p->lx->in + it->pos;
        if (it->type == IT_EOF)
                buf_puts(b, "EOF");
        else if (it->type == IT_ERROR)
                buf_puts(b, it->msg);
        else if (it->type > IT_KEYWORD || it->type == IT_DOT) /* Go lists '.' as a keyword */
                buf_printf(b, "<%.*s>", (int)it->len, v);
        else if (it->len > 10) {
                gt_quote(b, v, it->len, 10);
                buf_puts(b, "...");
        } else
                gt_quote(b, v, it->len, -1);
}

static void *p_unexpected(struct parser *p, const struct item *it, const char *context)
{
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        item_string(&b, p, it);
        if (it->type == IT_ERROR) {
                int line = gt_line_of(p->lx->in, it->pos);
                if (p->action_line != 0 && p->action_line != line) {
                        size_t n = strlen(it->msg);
                        bool action = n >= 7 && strcmp(it->msg + n - 7, " action") == 0;
                        return p_error(p, "%s%s started at :%d", b.data, action ? "" : " in action",
                                       p->action_line);
                }
                return p_error(p, "%s", b.data);
        }
        return p_error(p, "unexpected %s in %s", b.data, context);
}

static struct node *parse_pipeline(struct parser *p, const char *context, enum item_type end);
static struct node *parse_list(struct parser *p, struct node **ret_stop);

/* strconv.Unquote for "…", `…` and '…'; returns false on malformed escapes. */
static bool unquote(const char *s, size_t len, struct berth_buf *out)
{
        if (len < 2)
                return false;
        if (s[0] == '`') {
                for (size_t i = 1; i + 1 < len; i++)
                        if (s[i] != '\r')
                                buf_putc(out, s[i]);
                return true;
        }
        for (size_t i = 1; i + 1 < len; i++) {
                char c = s[i];
                if (c != '\\') {
                        buf_putc(out, c);
                        continue;
                }
                if (++i + 1 > len - 1)
                        return false;
                c = s[i];
                switch (c) {
                case 'a':
                        buf_putc(out, '\a');
                        break;
                case 'b':
                        buf_putc(out, '\b');
                        break;
                case 'f':
                        buf_putc(out, '\f');
                        break;
                case 'n':
                        buf_putc(out, '\n');
                        break;
                case 'r':
                        buf_putc(out, '\r');
                        break;
                case 't':
                        buf_putc(out, '\t');
                        break;
                case 'v':
                        buf_putc(out, '\v');
                        break;
                case '\\':
                        buf_putc(out, '\\');
                        break;
                case '"':
                case '\'':
                        if (c != s[0])
                                return false;
                        buf_putc(out, c);
                        break;
                case '0':
                case '1':
                case '2':
                case '3':
                case '4':
                case '5':
                case '6':
                case '7': {
                        if (i + 3 > len - 1)
                                return false;
                        unsigned v = 0;
                        for (int k = 0; k < 3; k++) {
                                char d = s[i + k];
                                if (d < '0' || d > '7')
                                        return false;
                                v = v * 8 + (unsigned)(d - '0');
                        }
                        if (v > 255)
                                return false;
                        buf_putc(out, (char)v);
                        i += 2;
                        break;
                }
                case 'x':
                case 'u':
                case 'U': {
                        int nd = c == 'x' ? 2 : c == 'u' ? 4 : 8;
                        if (i + (size_t)nd + 1 > len - 1)
                                return false;
                        uint32_t v = 0;
                        for (int k = 1; k <= nd; k++) {
                                char d = s[i + k];
                                int h = d >= '0' && d <= '9'   ? d - '0'
                                        : d >= 'a' && d <= 'f' ? d - 'a' + 10
                                        : d >= 'A' && d <= 'F' ? d - 'A' + 10
                                                               : -1;
                                if (h < 0)
                                        return false;
                                v = v * 16 + (uint32_t)h;
                        }
                        i += (size_t)nd;
                        if (c == 'x') {
                                buf_putc(out, (char)v);
                        } else {
                                if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
                                        return false;
                                struct json tmp = {.type = JSON_NUMBER};
                                (void)tmp;
                                char enc[5];
                                int n;
                                if (v < 0x80)
                                        enc[0] = (char)v, n = 1;
                                else if (v < 0x800)
                                        enc[0] = (char)(0xc0 | (v >> 6)),
                                        enc[1] = (char)(0x80 | (v & 0x3f)), n = 2;
                                else if (v < 0x10000)
                                        enc[0] = (char)(0xe0 | (v >> 12)),
                                        enc[1] = (char)(0x80 | ((v >> 6) & 0x3f)),
                                        enc[2] = (char)(0x80 | (v & 0x3f)), n = 3;
                                else
                                        enc[0] = (char)(0xf0 | (v >> 18)),
                                        enc[1] = (char)(0x80 | ((v >> 12) & 0x3f)),
                                        enc[2] = (char)(0x80 | ((v >> 6) & 0x3f)),
                                        enc[3] = (char)(0x80 | (v & 0x3f)), n = 4;
                                buf_append(out, enc, (size_t)n);
                        }
                        break;
                }
                default:
                        return false;
                }
        }
        return true;
}

static bool parse_int_text(const char *t, bool *neg, unsigned long long *mag)
{
        _cleanup_free_ char *s = xstrdup(t);
        char *w = s;
        for (const char *r = t; *r; r++)
                if (*r != '_')
                        *w++ = *r;
        *w = '\0';
        const char *q = s;
        *neg = false;
        if (*q == '+' || *q == '-')
                *neg = *q++ == '-';
        int base = 10;
        if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
                base = 16, q += 2;
        else if (q[0] == '0' && (q[1] == 'o' || q[1] == 'O'))
                base = 8, q += 2;
        else if (q[0] == '0' && (q[1] == 'b' || q[1] == 'B'))
                base = 2, q += 2;
        else if (q[0] == '0' && q[1])
                base = 8, q += 1;
        if (!*q)
                return false;
        for (const char *c = q; *c; c++) {
                int d = *c >= '0' && *c <= '9'   ? *c - '0'
                        : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10
                        : *c >= 'A' && *c <= 'F' ? *c - 'A' + 10
                                                 : 99;
                if (d >= base)
                        return false;
        }
        errno = 0;
        *mag = strtoull(q, NULL, base);
        return errno == 0;
}

static struct node *new_number(struct parser *p, const struct item *it)
{
        const char *text = p->lx->in + it->pos;
        struct node *n = node_new(N_NUMBER, it->pos);
        n->text = xstrndup(text, it->len);
        n->text_len = it->len;
        if (it->type == IT_CHARCONST) {
                _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
                uint32_t r = 0;
                if (!unquote(text, it->len, &b) || b.len == 0) {
                        node_free(n);
                        return p_error(p, "invalid syntax");
                }
                const unsigned char *u = (const unsigned char *)b.data;
                size_t k = b.len;
                /* the first rune, and it must be the only one */
                if (u[0] < 0x80)
                        r = u[0], k -= 1;
                else {
                        size_t rl = u[0] >= 0xf0 ? 4 : u[0] >= 0xe0 ? 3 : 2;
                        r = u[0] & (0x3f >> (rl - 1));
                        for (size_t i = 1; i < rl && i < b.len; i++)
                                r = (r << 6) | (u[i] & 0x3f);
                        k = b.len > rl ? b.len - rl : 0;
                }
                if (k != 0) {
                        node_free(n);
                        return p_error(p, "malformed character constant: %.*s", (int)it->len, text);
                }
                n->is_int = true;
                n->ival = r;
                n->fval = r;
                return n;
        }
        bool neg;
        unsigned long long mag;
        bool has_float_chars = strpbrk(n->text, ".eEpP") != NULL;
        bool hex = (text[0] == '0' || ((text[0] == '+' || text[0] == '-') && text[1] == '0')) &&
                   strpbrk(n->text, "xX") != NULL;
        if ((!has_float_chars || (hex && !strpbrk(n->text, "pP"))) &&
            parse_int_text(n->text, &neg, &mag)) {
                if (neg ? mag <= (unsigned long long)INT64_MAX + 1 : mag <= INT64_MAX) {
                        n->is_int = true;
                        n->ival = neg ? (int64_t)(0 - mag) : (int64_t)mag;
                        n->fval = (double)n->ival;
                } else if (!neg) {
                        n->is_uint_only = true;
                        n->fval = (double)mag;
                } else {
                        node_free(n);
                        return p_error(p, "illegal number syntax: \"%s\"", text);
                }
                return n;
        }
        if (!has_float_chars) {
                /* digits too many for 64 bits: Go reads them as a float, then refuses */
                bool digits = strpbrk(n->text, "0123456789") != NULL;
                for (const char *c = n->text; *c; c++)
                        if (!((*c >= '0' && *c <= '9') || *c == '_' || *c == '+' || *c == '-'))
                                digits = false;
                _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
                gt_quote(&q, n->text, n->text_len, -1);
                node_free(n);
                return p_error(p, "%s: %s", digits ? "integer overflow" : "illegal number syntax",
                               q.data);
        }
        _cleanup_free_ char *clean = xstrdup(n->text);
        char *w = clean;
        for (const char *r = n->text; *r; r++)
                if (*r != '_')
                        *w++ = *r;
        *w = '\0';
        char *end;
        errno = 0;
        double d = strtod(clean, &end);
        if (*end || end == clean || errno == ERANGE) {
                _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
                gt_quote(&q, n->text, n->text_len, -1);
                node_free(n);
                return p_error(p, "illegal number syntax: %s", q.data);
        }
        n->fval = d;
        n->ideal_float = true;
        if (d > -9.2e18 && d < 9.2e18 && d == (double)(int64_t)d) {
                n->is_int = true;
                n->ival = (int64_t)d;
        }
        return n;
}

static bool p_has_var(struct parser *p, const char *name, size_t len)
{
        for (size_t i = 0; i < p->nvars; i++)
                if (strlen(p->vars[i]) == len && memcmp(p->vars[i], name, len) == 0)
                        return true;
        return false;
}

static void p_pop_vars(struct parser *p, size_t to)
{
        while (p->nvars > to)
                free(p->vars[--p->nvars]);
}

static struct node *parse_term(struct parser *p)
{
        const struct item *it = p_next_nonspace(p);
        const char *v = p->lx->in + it->pos;
        struct node *n;
        switch (it->type) {
        case IT_IDENT:
                if (!gt_function_exists(v, it->len))
                        return p_error(p, "function \"%.*s\" not defined", (int)it->len, v);
                n = node_new(N_IDENT, it->pos);
                n->text = xstrndup(v, it->len);
                n->text_len = it->len;
                return n;
        case IT_DOT:
                return node_new(N_DOT, it->pos);
        case IT_NIL:
                return node_new(N_NIL, it->pos);
        case IT_VAR:
                if (!p_has_var(p, v, it->len))
                        return p_error(p, "undefined variable \"%.*s\"", (int)it->len, v);
                n = node_new(N_VAR, it->pos);
                strs_add(&n->idents, &n->nidents, v, it->len);
                return n;
        case IT_FIELD:
                n = node_new(N_FIELD, it->pos);
                strs_add(&n->idents, &n->nidents, v + 1, it->len - 1);
                return n;
        case IT_BOOL:
                n = node_new(N_BOOL, it->pos);
                n->bval = v[0] == 't';
                return n;
        case IT_CHARCONST:
        case IT_NUMBER:
                return new_number(p, it);
        case IT_LPAREN:
                if (++p->depth > MAX_DEPTH)
                        return p_error(p, "template nesting too deep");
                n = parse_pipeline(p, "parenthesized pipeline", IT_RPAREN);
                p->depth--;
                return n;
        case IT_STRING:
        case IT_RAWSTRING: {
                _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
                if (!unquote(v, it->len, &b))
                        return p_error(p, "invalid syntax");
                n = node_new(N_STRING, it->pos);
                n->text = xstrndup(v, it->len);
                n->text_len = it->len;
                n->sval_len = b.len;
                n->sval = buf_steal(&b);
                return n;
        }
        default:
                p_backup(p, it);
                return NULL;
        }
}

static struct node *parse_operand(struct parser *p)
{
        struct node *n = parse_term(p);
        if (!n || p->failed)
                return n;
        if (p_peek(p)->type != IT_FIELD)
                return n;
        size_t chain_pos = p_peek(p)->pos;
        if (n->type == N_BOOL || n->type == N_STRING || n->type == N_NUMBER || n->type == N_NIL ||
            n->type == N_DOT) {
                _cleanup_buf_ struct berth_buf s = BERTH_BUF_INIT, q = BERTH_BUF_INIT;
                gt_node_string(&s, n);
                gt_quote(&q, s.data, s.len, -1);
                node_free(n);
                return p_error(p, "unexpected . after term %s", q.data);
        }
        struct node *target = n;
        if (n->type != N_FIELD && n->type != N_VAR) {
                target = node_new(N_CHAIN, chain_pos);
                target->sub = n;
        } else {
                n->pos = chain_pos;
        }
        while (p_peek(p)->type == IT_FIELD) {
                const struct item *f = p_next(p);
                strs_add(&target->idents, &target->nidents, p->lx->in + f->pos + 1, f->len - 1);
        }
        return target;
}

static struct node *parse_command(struct parser *p)
{
        struct node *cmd = node_new(N_CMD, p_peek_nonspace(p)->pos);
        for (;;) {
                p_peek_nonspace(p);
                struct node *op = parse_operand(p);
                if (p->failed) {
                        node_free(cmd);
                        return NULL;
                }
                if (op)
                        node_add(cmd, op);
                const struct item *it = p_next(p);
                if (it->type == IT_SPACE)
                        continue;
                if (it->type == IT_RDELIM || it->type == IT_RPAREN) {
                        p_backup(p, it);
                } else if (it->type != IT_PIPE) {
                        node_free(cmd);
                        return p_unexpected(p, it, "operand");
                }
                break;
        }
        if (cmd->nkids == 0) {
                node_free(cmd);
                return p_error(p, "empty command");
        }
        return cmd;
}

static struct node *parse_pipeline(struct parser *p, const char *context, enum item_type end)
{
        struct node *pipe = node_new(N_PIPE, p_peek_nonspace(p)->pos);
decls:;
        const struct item *v = p_peek_nonspace(p);
        if (v->type == IT_VAR) {
                p_next_nonspace(p);
                const struct item *after = p_peek(p);
                const struct item *next = p_peek_nonspace(p);
                const char *name = p->lx->in + v->pos;
                if (next->type == IT_ASSIGN || next->type == IT_DECLARE) {
                        pipe->is_assign = next->type == IT_ASSIGN;
                        p_next_nonspace(p);
                        strs_add(&pipe->decls, &pipe->ndecls, name, v->len);
                        strs_add(&p->vars, &p->nvars, name, v->len);
                } else if (next->type == IT_CHAR && p->lx->in[next->pos] == ',') {
                        p_next_nonspace(p);
                        strs_add(&pipe->decls, &pipe->ndecls, name, v->len);
                        strs_add(&p->vars, &p->nvars, name, v->len);
                        if (strcmp(context, "range") == 0 && pipe->ndecls < 2) {
                                enum item_type t = p_peek_nonspace(p)->type;
                                if (t == IT_VAR || t == IT_RDELIM || t == IT_RPAREN)
                                        goto decls;
                                node_free(pipe);
                                return p_error(p, "range can only initialize variables");
                        }
                        node_free(pipe);
                        return p_error(p, "too many declarations in %s", context);
                } else if (after->type == IT_SPACE) {
                        p_backup(p, v);
                } else {
                        p_backup(p, v);
                }
        }
        for (;;) {
                const struct item *it = p_next_nonspace(p);
                if (it->type == end) {
                        if (pipe->nkids == 0) {
                                node_free(pipe);
                                return p_error(p, "missing value for %s", context);
                        }
                        for (size_t i = 1; i < pipe->nkids; i++) {
                                enum node_type t = pipe->kids[i]->kids[0]->type;
                                if (t == N_BOOL || t == N_DOT || t == N_NIL || t == N_NUMBER ||
                                    t == N_STRING) {
                                        node_free(pipe);
                                        return p_error(
                                            p, "non executable command in pipeline stage %zu",
                                            i + 1);
                                }
                        }
                        return pipe;
                }
                switch (it->type) {
                case IT_BOOL:
                case IT_CHARCONST:
                case IT_DOT:
                case IT_FIELD:
                case IT_IDENT:
                case IT_NUMBER:
                case IT_NIL:
                case IT_RAWSTRING:
                case IT_STRING:
                case IT_VAR:
                case IT_LPAREN: {
                        p_backup(p, it);
                        struct node *cmd = parse_command(p);
                        if (!cmd) {
                                node_free(pipe);
                                return NULL;
                        }
                        node_add(pipe, cmd);
                        break;
                }
                default:
                        node_free(pipe);
                        return p_unexpected(p, it, context);
                }
        }
}

static const struct item *p_expect(struct parser *p, enum item_type t, const char *context)
{
        const struct item *it = p_next_nonspace(p);
        if (it->type != t) {
                p_unexpected(p, it, context);
                return NULL;
        }
        return it;
}

static struct node *parse_control(struct parser *p, enum node_type type, const char *context)
{
        if (++p->depth > MAX_DEPTH)
                return p_error(p, "template nesting too deep");
        size_t mark = p->nvars;
        struct node *n = node_new(type, 0);
        n->pipe = parse_pipeline(p, context, IT_RDELIM);
        if (!n->pipe)
                goto fail;
        n->pos = n->pipe->pos;
        if (type == N_RANGE)
                p->range_depth++;
        struct node *stop = NULL;
        n->list = parse_list(p, &stop);
        if (type == N_RANGE)
                p->range_depth--;
        if (!n->list)
                goto fail;
        if (stop->type == N_ELSE) {
                enum item_type pk = p_peek(p)->type;
                if ((type == N_IF && pk == IT_IF) || (type == N_WITH && pk == IT_WITH)) {
                        p_next(p);
                        n->else_list = node_new(N_LIST, stop->pos);
                        struct node *inner = parse_control(p, type, context);
                        if (!inner) {
                                node_free(stop);
                                goto fail;
                        }
                        node_add(n->else_list, inner);
                } else {
                        struct node *stop2 = NULL;
                        n->else_list = parse_list(p, &stop2);
                        if (!n->else_list) {
                                node_free(stop);
                                goto fail;
                        }
                        if (stop2->type != N_END) {
                                node_free(stop2);
                                node_free(stop);
                                p_error(p, "expected end; found {{else}}");
                                goto fail;
                        }
                        node_free(stop2);
                }
        }
        node_free(stop);
        p_pop_vars(p, mark);
        p->depth--;
        return n;
fail:
        p_pop_vars(p, mark);
        node_free(n);
        return NULL;
}

static struct node *parse_action(struct parser *p)
{
        const struct item *it = p_next_nonspace(p);
        switch (it->type) {
        case IT_ELSE: {
                const struct item *pk = p_peek_nonspace(p);
                if (pk->type == IT_IF || pk->type == IT_WITH) {
                        /* "{{else if" is "{{else}}{{if"; leave "if" for the caller */
                        p_next_nonspace(p);
                        p_backup(p, pk);
                        return node_new(N_ELSE, pk->pos);
                }
                if (!p_expect(p, IT_RDELIM, "else"))
                        return NULL;
                return node_new(N_ELSE, it->pos);
        }
        case IT_END:
                if (!p_expect(p, IT_RDELIM, "end"))
                        return NULL;
                return node_new(N_END, it->pos);
        case IT_IF:
                return parse_control(p, N_IF, "if");
        case IT_RANGE:
                return parse_control(p, N_RANGE, "range");
        case IT_WITH:
                return parse_control(p, N_WITH, "with");
        case IT_BREAK:
        case IT_CONTINUE: {
                const char *w = it->type == IT_BREAK ? "{{break}}" : "{{continue}}";
                const struct item *t = p_next_nonspace(p);
                if (t->type != IT_RDELIM)
                        return p_unexpected(p, t, w);
                if (p->range_depth == 0)
                        return p_error(p, "%s outside {{range}}", w);
                return node_new(it->type == IT_BREAK ? N_BREAK : N_CONTINUE, it->pos);
        }
        case IT_BLOCK:
        case IT_DEFINE:
        case IT_TEMPLATE:
                return p_error(p, "{{%.*s}} is not supported in --format templates", (int)it->len,
                               p->lx->in + it->pos);
        default:
                break;
        }
        p_backup(p, it);
        struct node *a = node_new(N_ACTION, p_peek(p)->pos);
        a->pipe = parse_pipeline(p, "command", IT_RDELIM);
        if (!a->pipe) {
                node_free(a);
                return NULL;
        }
        return a;
}

static struct node *parse_text_or_action(struct parser *p)
{
        const struct item *it = p_next_nonspace(p);
        if (it->type == IT_TEXT) {
                struct node *t = node_new(N_TEXT, it->pos);
                t->text = xstrndup(p->lx->in + it->pos, it->len);
                t->text_len = it->len;
                return t;
        }
        if (it->type == IT_LDELIM) {
                p->action_line = gt_line_of(p->lx->in, it->pos);
                struct node *n = parse_action(p);
                p->action_line = 0;
                return n;
        }
        return p_unexpected(p, it, "input");
}

/* Items up to {{end}} or {{else}}, which is returned in *ret_stop. */
static struct node *parse_list(struct parser *p, struct node **ret_stop)
{
        struct node *list = node_new(N_LIST, p_peek_nonspace(p)->pos);
        while (p_peek_nonspace(p)->type != IT_EOF) {
                struct node *n = parse_text_or_action(p);
                if (!n) {
                        node_free(list);
                        return NULL;
                }
                if (n->type == N_END || n->type == N_ELSE) {
                        *ret_stop = n;
                        return list;
                }
                node_add(list, n);
        }
        node_free(list);
        return p_error(p, "unexpected EOF");
}

void gotemplate_free(struct gotemplate *t)
{
        if (!t)
                return;
        node_free(t->root);
        free(t->text);
        free(t->name);
        free(t);
}

int gotemplate_parse(const char *text, struct gotemplate **ret, struct berth_error **err)
{
        return gotemplate_parse_named("", text, ret, err);
}

int gotemplate_parse_named(const char *name, const char *text, struct gotemplate **ret,
                           struct berth_error **err)
{
        struct gotemplate *t = xcalloc(1, sizeof(*t));
        t->text = xstrdup(text);
        t->name = xstrdup(name);
        struct lexer lx = {.in = t->text, .len = strlen(t->text)};
        lex_all(&lx);
        struct parser p = {.lx = &lx, .err = err, .name = t->name};
        strs_add(&p.vars, &p.nvars, "$", 1);
        t->root = node_new(N_LIST, 0);
        while (!p.failed && p_peek(&p)->type != IT_EOF) {
                struct node *n = parse_text_or_action(&p);
                if (!n)
                        break;
                if (n->type == N_END || n->type == N_ELSE) {
                        p_error(&p, "unexpected %s", n->type == N_END ? "{{end}}" : "{{else}}");
                        node_free(n);
                        break;
                }
                node_add(t->root, n);
        }
        p_pop_vars(&p, 0);
        free(p.vars);
        for (size_t i = 0; i < lx.n; i++)
                free(lx.items[i].msg);
        free(lx.items);
        if (p.failed) {
                gotemplate_free(t);
                return -EINVAL;
        }
        *ret = t;
        return 0;
}
