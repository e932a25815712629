/*
 * gotemplate.c — lexer, parser and executor of the Go text/template subset
 * described in gotemplate.h.
 *
 * How it works: the lexer turns the whole text into an item array (Go's
 * lexer states, including the trim markers; "{{.ID}" is "bad character
 * U+007D '}'" as in docker 28); a recursive
 * descent parser mirroring Go's parse.Tree builds nodes; the executor walks
 * them with Go's exec.go semantics: values are JSON nodes, either borrowed
 * from the data or created during execution and kept in an arena that is
 * freed when execution ends (and after each range iteration that assigned
 * no variable, so long ranges run in bounded memory).  "boxed" marks a value
 * read out of a map or slice: Go sees it as interface{} until a pipeline
 * stage ends, which decides the wording of some errors.
 *
 * Errors are returned, never printed; their text follows Go's so that users
 * can search for them.  Bounds: nesting depth when parsing, an operation and
 * an output budget when executing, so hostile templates end with an error.
 *
 * Never: keep a pointer to an arena value across an arena reclaim, or let a
 * template run without the operation budget.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "cli/gotemplate-internal.h"
#include "cli/gotemplate.h"

#define MAX_DEPTH     100
#define MAX_OPS       (10 * 1000 * 1000)
#define MAX_OUTPUT    (64u << 20)
#define MAX_ARENA_STR (64u << 20)

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

static bool lex_number(struct lexer *l)
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
        bool bad = false;
        if (lpeek(l) == 'i')
                bad = true; /* imaginary numbers: not supported */
        if (bad || is_alnum(lpeek(l)) || lpeek(l) == '+' || lpeek(l) == '-') {
                if (l->pos < l->len)
                        l->pos++;
                _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
                gt_quote(&q, l->in + l->start, l->pos - l->start, -1);
                return lex_error(l, "bad number syntax: %s", q.data);
        }
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
                l->paren--;
                if (l->paren < 0)
                        return lex_error(l, "unexpected right paren");
                emit(l, IT_RPAREN);
                return true;
        case '.':
                if (lpeek(l) < '0' || lpeek(l) > '9')
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

enum node_type {
        N_LIST,
        N_TEXT,
        N_ACTION,
        N_IF,
        N_RANGE,
        N_WITH,
        N_BREAK,
        N_CONTINUE,
        N_ELSE,
        N_END,
        N_PIPE,
        N_CMD,
        N_FIELD,
        N_VAR,
        N_DOT,
        N_NIL,
        N_BOOL,
        N_NUMBER,
        N_STRING,
        N_IDENT,
        N_CHAIN,
};

struct node {
        enum node_type type;
        size_t pos;
        char *text; /* N_TEXT: the text; N_STRING/N_NUMBER: source form; N_IDENT: name */
        size_t text_len;
        char *sval; /* N_STRING: the value */
        size_t sval_len;
        char **idents; /* N_FIELD: names without dots; N_VAR: "$x", then fields; N_CHAIN: fields */
        size_t nidents;
        struct node **kids; /* N_LIST: items; N_PIPE: commands; N_CMD: arguments */
        size_t nkids;
        struct node *pipe, *list, *else_list; /* N_ACTION (pipe), N_IF, N_RANGE, N_WITH */
        struct node *sub;                     /* N_CHAIN: the term */
        char **decls;                         /* N_PIPE */
        size_t ndecls;
        bool is_assign;
        bool bval;                /* N_BOOL */
        bool is_int, ideal_float; /* N_NUMBER: usable as integer; prints as float */
        bool is_uint_only;        /* N_NUMBER: only fits uint64 (overflows int) */
        int64_t ival;
        double fval;
};

struct gotemplate {
        char *text;
        struct node *root;
};

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

static void node_string(struct berth_buf *b, const struct node *n);

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
                node_string(b, p->kids[i]);
        }
}

/* Go's Node.String(), used in error contexts ("at <.A.B>"). */
static void node_string(struct berth_buf *b, const struct node *n)
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
                        node_string(b, n->sub);
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
                                node_string(b, n->kids[i]);
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
                        node_string(b, n->kids[i]);
                return;
        case N_IF:
        case N_RANGE:
        case N_WITH:
                buf_puts(b, n->type == N_IF      ? "{{if "
                            : n->type == N_RANGE ? "{{range "
                                                 : "{{with ");
                pipe_string(b, n->pipe);
                buf_puts(b, "}}");
                node_string(b, n->list);
                if (n->else_list) {
                        buf_puts(b, "{{else}}");
                        node_string(b, n->else_list);
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
        struct berth_error **err;
        bool failed;
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

static int line_of(const char *text, size_t pos)
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
        berth_error_set(p->err, EINVAL, "template: :%d: %s",
                        line_of(p->lx->in, p->lx->items[p->hi].pos), m);
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
        else if (it->type > IT_KEYWORD)
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
        if (it->type == IT_ERROR)
                return p_error(p, "%s", b.data);
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
                        return p_error(p, "malformed character constant: %.*s", (int)it->len, text);
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
                _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
                gt_quote(&q, n->text, n->text_len, -1);
                node_free(n);
                return p_error(p, "illegal number syntax: %s", q.data);
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

static bool function_exists(const char *name, size_t len);

static struct node *parse_term(struct parser *p)
{
        const struct item *it = p_next_nonspace(p);
        const char *v = p->lx->in + it->pos;
        struct node *n;
        switch (it->type) {
        case IT_IDENT:
                if (!function_exists(v, it->len))
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
                node_string(&s, n);
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
        if (it->type == IT_LDELIM)
                return parse_action(p);
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
        free(t);
}

int gotemplate_parse(const char *text, struct gotemplate **ret, struct berth_error **err)
{
        struct gotemplate *t = xcalloc(1, sizeof(*t));
        t->text = xstrdup(text);
        struct lexer lx = {.in = t->text, .len = strlen(t->text)};
        lex_all(&lx);
        struct parser p = {.lx = &lx, .err = err};
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

/* -------------------------------------------------------------- execution */

struct tval {
        const struct json *j; /* NULL: no value (Go's invalid reflect.Value) */
        bool boxed;           /* read out of a map or slice: Go's interface{} */
};

struct var {
        const char *name;
        struct tval v;
};

enum ctl {
        CTL_NONE,
        CTL_BREAK,
        CTL_CONTINUE,
};

struct state {
        const struct gotemplate *t;
        struct berth_buf *out;
        unsigned flags;
        struct var *vars;
        size_t nvars, cap;
        struct json **arena;
        size_t narena, arena_cap;
        size_t arena_bytes;
        unsigned long assigns;
        const struct node *node;
        struct berth_error **err;
        enum ctl ctl;
        unsigned long ops;
        int depth;
        const struct json *root; /* with root_type: the data, a Go struct */
        const char *root_type;
};

static const struct tval NO_VALUE = {NULL, false};

_printf_(2, 3) static int x_error(struct state *s, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = NULL;
        if (vasprintf(&m, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        if (!s->node)
                return berth_error_set(s->err, EINVAL, "template: : %s", m);
        const char *text = s->t->text;
        size_t pos = s->node->pos;
        int line = line_of(text, pos);
        size_t col = pos;
        const char *nl = NULL;
        for (size_t i = 0; i < pos; i++)
                if (text[i] == '\n')
                        nl = text + i;
        if (nl)
                col = pos - (size_t)(nl + 1 - text);
        _cleanup_buf_ struct berth_buf ctx = BERTH_BUF_INIT;
        node_string(&ctx, s->node);
        return berth_error_set(s->err, EINVAL, "template: :%d:%zu: executing \"\" at <%s>: %s",
                               line, col, ctx.data ? ctx.data : "", m);
}

static const struct json *own(struct state *s, struct json *j)
{
        if (s->narena == s->arena_cap) {
                s->arena_cap = s->arena_cap ? s->arena_cap * 2 : 64;
                s->arena = xrealloc(s->arena, s->arena_cap * sizeof(*s->arena));
        }
        s->arena[s->narena++] = j;
        if (j->type == JSON_STRING)
                s->arena_bytes += j->str.len;
        return j;
}

static void arena_release(struct state *s, size_t to)
{
        while (s->narena > to) {
                struct json *j = s->arena[--s->narena];
                if (j->type == JSON_STRING)
                        s->arena_bytes -= j->str.len;
                json_free(j);
        }
}

static int tick(struct state *s)
{
        if (++s->ops > MAX_OPS)
                return x_error(s, "template execution exceeded %d steps", MAX_OPS);
        if (s->out->len > MAX_OUTPUT || s->arena_bytes > MAX_ARENA_STR)
                return x_error(s, "template output exceeds %u bytes", MAX_OUTPUT);
        return 0;
}

static struct tval str_val(struct state *s, const char *p, size_t len)
{
        return (struct tval){own(s, json_new_stringn(p, len)), false};
}

static struct tval int_val(struct state *s, int64_t i)
{
        return (struct tval){own(s, json_new_int(i)), false};
}

static struct tval bool_val(struct state *s, bool b)
{
        return (struct tval){own(s, json_new_bool(b)), false};
}

static struct tval unbox(struct tval v)
{
        v.boxed = false;
        if (v.j && v.j->type == JSON_NULL)
                v.j = NULL;
        return v;
}

static const char *val_type(struct tval v)
{
        if (v.boxed)
                return "interface {}";
        return gt_type_name(v.j);
}

static bool truth(struct tval v)
{
        const struct json *j = v.j;
        if (!j)
                return false;
        switch (j->type) {
        case JSON_NULL:
                return false;
        case JSON_BOOL:
                return j->b;
        case JSON_NUMBER:
                return gt_is_int(j) ? (j->num.flags & JSON_NUM_INT ? j->num.i != 0 : j->num.u != 0)
                                    : j->num.d != 0;
        case JSON_STRING:
                return j->str.len > 0;
        case JSON_ARRAY:
                return j->arr.n > 0;
        case JSON_OBJECT:
                return j->obj.n > 0;
        }
        return false;
}

static void push_var(struct state *s, const char *name, struct tval v)
{
        if (s->nvars == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 16;
                s->vars = xrealloc(s->vars, s->cap * sizeof(*s->vars));
        }
        s->vars[s->nvars++] = (struct var){name, v};
}

static int set_var(struct state *s, const char *name, struct tval v)
{
        for (size_t i = s->nvars; i-- > 0;)
                if (strcmp(s->vars[i].name, name) == 0) {
                        s->vars[i].v = v;
                        s->assigns++;
                        return 0;
                }
        return x_error(s, "undefined variable: %s", name);
}

static int var_value(struct state *s, const char *name, struct tval *ret)
{
        for (size_t i = s->nvars; i-- > 0;)
                if (strcmp(s->vars[i].name, name) == 0) {
                        *ret = s->vars[i].v;
                        return 0;
                }
        return x_error(s, "undefined variable: %s", name);
}

static int walk(struct state *s, struct tval dot, const struct node *n);
static int eval_pipeline(struct state *s, struct tval dot, const struct node *pipe,
                         struct tval *ret);
static int eval_arg(struct state *s, struct tval dot, int ptype, const struct node *n,
                    struct tval *ret);

static void print_tval(struct state *s, struct tval v)
{
        v = unbox(v);
        if (!v.j)
                buf_puts(s->out, "<no value>");
        else
                gotemplate_print_value(s->out, v.j);
}

static int eval_field(struct state *s, const char *name, bool has_args, struct tval recv,
                      struct tval *ret)
{
        if (!recv.j) {
                *ret = NO_VALUE;
                return 0;
        }
        if (recv.j->type == JSON_NULL)
                return x_error(s, "nil pointer evaluating %s.%s", val_type(recv), name);
        if (recv.j->type == JSON_OBJECT && s->root_type && recv.j == s->root && !recv.boxed) {
                /* a struct: its fields are methods returning strings, not map entries */
                ret->j = json_get(recv.j, name);
                ret->boxed = false;
                if (!ret->j)
                        return x_error(s, "can't evaluate field %s in type %s", name, s->root_type);
                if (has_args)
                        return x_error(s, "wrong number of args for %s: want 0 got 1", name);
                return 0;
        }
        if (recv.j->type == JSON_OBJECT) {
                if (has_args)
                        return x_error(s, "%s is not a method but has arguments", name);
                ret->j = json_get(recv.j, name);
                ret->boxed = true;
                return 0;
        }
        return x_error(s, "can't evaluate field %s in type %s", name, val_type(recv));
}

static int eval_field_chain(struct state *s, struct tval recv, char *const *idents, size_t n,
                            bool has_args, struct tval *ret)
{
        for (size_t i = 0; i + 1 < n; i++) {
                int r = eval_field(s, idents[i], false, recv, &recv);
                if (r < 0)
                        return r;
        }
        return eval_field(s, idents[n - 1], has_args, recv, ret);
}

/* ------------------------------------------------------------- functions */

enum ptype {
        P_VALUE,  /* reflect.Value: anything, including no value */
        P_ANY,    /* interface{}: no value becomes nil */
        P_STRING, /* string */
        P_INT,    /* int */
        P_NONE,   /* chain receiver: as is */
};

struct call {
        struct state *s;
        struct tval *argv;
        size_t argc;
        struct tval result;
        char *error; /* "error calling NAME: <error>" */
};

typedef void (*builtin_fn)(struct call *c);

struct func {
        const char *name;
        builtin_fn fn;
        int nfixed;    /* fixed parameters */
        bool variadic; /* more of the last type */
        enum ptype types[3];
        bool header_identity; /* returns its first argument under GOTEMPLATE_HEADER */
};

_printf_(2, 3) static void call_fail(struct call *c, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&c->error, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
}

static const char *sarg(struct call *c, size_t i, size_t *len)
{
        *len = c->argv[i].j->str.len;
        return c->argv[i].j->str.s;
}

static int64_t iarg(struct call *c, size_t i)
{
        const struct json *j = c->argv[i].j;
        return j->num.flags & JSON_NUM_INT ? j->num.i : (int64_t)j->num.u;
}

static void fn_not(struct call *c)
{
        c->result = bool_val(c->s, !truth(c->argv[0]));
}

static void fn_len(struct call *c)
{
        struct tval v = c->argv[0];
        if (!v.j) {
                call_fail(c, "reflect: call of reflect.Value.Type on zero Value");
                return;
        }
        if (v.j->type == JSON_NULL) {
                call_fail(c, "len of nil pointer");
                return;
        }
        if (v.j->type == JSON_STRING || v.j->type == JSON_ARRAY || v.j->type == JSON_OBJECT)
                c->result = int_val(c->s, (int64_t)json_len(v.j));
        else
                call_fail(c, "len of type %s", gt_type_name(v.j));
}

/* An index argument for a slice, array or string of length cap. */
static bool index_arg(struct call *c, struct tval idx, size_t cap, int64_t *ret)
{
        idx = unbox(idx);
        if (!idx.j) {
                call_fail(c, "cannot index slice/array with nil");
                return false;
        }
        if (!gt_is_int(idx.j)) {
                call_fail(c, "cannot index slice/array with type %s", gt_type_name(idx.j));
                return false;
        }
        int64_t x = idx.j->num.flags & JSON_NUM_INT ? idx.j->num.i : INT64_MAX;
        if (x < 0 || (uint64_t)x > cap) {
                call_fail(c, "index out of range: %" PRId64, x);
                return false;
        }
        *ret = x;
        return true;
}

static bool object_all_strings(const struct json *o)
{
        for (size_t i = 0; i < o->obj.n; i++)
                if (o->obj.m[i].value->type != JSON_STRING)
                        return false;
        return true;
}

static void fn_index(struct call *c)
{
        struct tval item = unbox(c->argv[0]);
        if (!item.j) {
                call_fail(c, "index of untyped nil");
                return;
        }
        for (size_t i = 1; i < c->argc; i++) {
                if (!item.j) {
                        call_fail(c, "index of nil pointer");
                        return;
                }
                struct tval idx = unbox(c->argv[i]);
                int64_t x;
                switch (item.j->type) {
                case JSON_ARRAY:
                        if (!index_arg(c, idx, item.j->arr.n, &x))
                                return;
                        if ((size_t)x == item.j->arr.n) {
                                call_fail(c, "index out of range: %" PRId64, x);
                                return;
                        }
                        item = unbox((struct tval){item.j->arr.items[x], true});
                        break;
                case JSON_STRING:
                        if (!index_arg(c, idx, item.j->str.len, &x))
                                return;
                        if ((size_t)x == item.j->str.len) {
                                call_fail(c, "index out of range: %" PRId64, x);
                                return;
                        }
                        item = int_val(c->s, (unsigned char)item.j->str.s[x]);
                        break;
                case JSON_OBJECT: {
                        if (!idx.j) {
                                call_fail(c, "value is nil; should be of type string");
                                return;
                        }
                        if (idx.j->type != JSON_STRING) {
                                call_fail(c, "value has type %s; should be string",
                                          gt_type_name(idx.j));
                                return;
                        }
                        const struct json *v = json_get(item.j, idx.j->str.s);
                        if (v)
                                item = unbox((struct tval){v, true});
                        else if (object_all_strings(item.j))
                                /* a map[string]string (labels): the zero value is "" */
                                item = str_val(c->s, "", 0);
                        else
                                item = NO_VALUE;
                        break;
                }
                default:
                        call_fail(c, "can't index item of type %s", gt_type_name(item.j));
                        return;
                }
        }
        c->result = item;
}

static void fn_slice(struct call *c)
{
        struct tval item = unbox(c->argv[0]);
        if (!item.j) {
                call_fail(c, "slice of untyped nil");
                return;
        }
        size_t nidx = c->argc - 1;
        if (nidx > 3) {
                call_fail(c, "too many slice indexes: %zu", nidx);
                return;
        }
        size_t cap;
        if (item.j->type == JSON_STRING) {
                if (nidx == 3) {
                        call_fail(c, "cannot 3-index slice a string");
                        return;
                }
                cap = item.j->str.len;
        } else if (item.j->type == JSON_ARRAY) {
                cap = item.j->arr.n;
        } else {
                call_fail(c, "can't slice item of type %s", gt_type_name(item.j));
                return;
        }
        int64_t idx[3] = {0, (int64_t)cap, (int64_t)cap};
        for (size_t i = 0; i < nidx; i++) {
                if (!index_arg(c, c->argv[i + 1], cap, &idx[i]))
                        return;
        }
        if (idx[0] > idx[1]) {
                call_fail(c, "invalid slice index: %" PRId64 " > %" PRId64, idx[0], idx[1]);
                return;
        }
        if (nidx == 3 && idx[1] > idx[2]) {
                call_fail(c, "invalid slice index: %" PRId64 " > %" PRId64, idx[1], idx[2]);
                return;
        }
        if (item.j->type == JSON_STRING) {
                c->result = str_val(c->s, item.j->str.s + idx[0], (size_t)(idx[1] - idx[0]));
                return;
        }
        struct json *a = json_new_array();
        for (int64_t i = idx[0]; i < idx[1]; i++)
                json_array_append(a, json_copy(item.j->arr.items[i]));
        c->result = (struct tval){own(c->s, a), false};
}

enum kind {
        K_INVALID,
        K_BOOL,
        K_INT,
        K_FLOAT,
        K_STRING,
        K_OTHER,
};

static enum kind basic_kind(const struct json *j)
{
        if (!j || j->type == JSON_NULL)
                return K_INVALID;
        switch (j->type) {
        case JSON_BOOL:
                return K_BOOL;
        case JSON_NUMBER:
                return gt_is_int(j) ? K_INT : K_FLOAT;
        case JSON_STRING:
                return K_STRING;
        default:
                return K_OTHER;
        }
}

static int cmp_int(const struct json *a, const struct json *b)
{
        bool an = (a->num.flags & JSON_NUM_INT) && a->num.i < 0;
        bool bn = (b->num.flags & JSON_NUM_INT) && b->num.i < 0;
        if (an != bn)
                return an ? -1 : 1;
        if (an)
                return a->num.i < b->num.i ? -1 : a->num.i > b->num.i;
        uint64_t x = a->num.flags & JSON_NUM_INT ? (uint64_t)a->num.i : a->num.u;
        uint64_t y = b->num.flags & JSON_NUM_INT ? (uint64_t)b->num.i : b->num.u;
        return x < y ? -1 : x > y;
}

/* Go's eq for one pair; returns -1 with c->error set on a type error. */
static int eq_pair(struct call *c, const struct json *a, const struct json *b)
{
        enum kind ka = basic_kind(a), kb = basic_kind(b);
        if (ka != kb) {
                if (ka != K_INVALID && kb != K_INVALID) {
                        call_fail(c, "incompatible types for comparison");
                        return -1;
                }
                return 0;
        }
        switch (ka) {
        case K_INVALID:
                return 1;
        case K_BOOL:
                return a->b == b->b;
        case K_INT:
                return cmp_int(a, b) == 0;
        case K_FLOAT:
                return a->num.d == b->num.d;
        case K_STRING:
                return a->str.len == b->str.len && memcmp(a->str.s, b->str.s, a->str.len) == 0;
        default:
                call_fail(c, "non-comparable type %s", gt_type_name(a));
                return -1;
        }
}

static void fn_eq(struct call *c)
{
        if (c->argc < 2) {
                call_fail(c, "missing argument for comparison");
                return;
        }
        for (size_t i = 1; i < c->argc; i++) {
                int r = eq_pair(c, unbox(c->argv[0]).j, unbox(c->argv[i]).j);
                if (r < 0)
                        return;
                if (r) {
                        c->result = bool_val(c->s, true);
                        return;
                }
        }
        c->result = bool_val(c->s, false);
}

static void fn_ne(struct call *c)
{
        int r = eq_pair(c, unbox(c->argv[0]).j, unbox(c->argv[1]).j);
        if (r >= 0)
                c->result = bool_val(c->s, !r);
}

/* Go's lt; returns -1 with c->error set. */
static int lt_pair(struct call *c, const struct json *a, const struct json *b)
{
        enum kind ka = basic_kind(a), kb = basic_kind(b);
        if (ka == K_INVALID || ka == K_OTHER || kb == K_INVALID || kb == K_OTHER) {
                call_fail(c, "invalid type for comparison");
                return -1;
        }
        if (ka != kb) {
                call_fail(c, "incompatible types for comparison");
                return -1;
        }
        switch (ka) {
        case K_INT:
                return cmp_int(a, b) < 0;
        case K_FLOAT:
                return a->num.d < b->num.d;
        case K_STRING: {
                size_t n = a->str.len < b->str.len ? a->str.len : b->str.len;
                int r = memcmp(a->str.s, b->str.s, n);
                return r < 0 || (r == 0 && a->str.len < b->str.len);
        }
        default:
                call_fail(c, "invalid type for comparison");
                return -1;
        }
}

static void fn_cmp(struct call *c, bool want_lt, bool or_eq, bool negate)
{
        const struct json *a = unbox(c->argv[0]).j, *b = unbox(c->argv[1]).j;
        int lt = lt_pair(c, a, b);
        if (lt < 0)
                return;
        int r = lt;
        if (or_eq &&!r) {
                r = eq_pair(c, a, b);
                if (r < 0)
                        return;
        }
        (void)want_lt;
        c->result = bool_val(c->s, negate ? !r : r);
}

static void fn_lt(struct call *c)
{
        fn_cmp(c, true, false, false);
}
static void fn_le(struct call *c)
{
        fn_cmp(c, true, true, false);
}
static void fn_gt(struct call *c)
{
        fn_cmp(c, true, true, true);
}
static void fn_ge(struct call *c)
{
        fn_cmp(c, true, false, true);
}

static const struct json **arg_jsons(struct call *c, size_t from)
{
        const struct json **v = xcalloc(c->argc + 1, sizeof(*v));
        for (size_t i = from; i < c->argc; i++)
                v[i - from] = unbox(c->argv[i]).j;
        return v;
}

static void result_buf(struct call *c, struct berth_buf *b)
{
        c->result = str_val(c->s, b->data ? b->data : "", b->len);
}

static void fn_print(struct call *c)
{
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        _cleanup_free_ const struct json **v = arg_jsons(c, 0);
        gt_sprint(&b, v, c->argc);
        result_buf(c, &b);
}

static void fn_println(struct call *c)
{
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        _cleanup_free_ const struct json **v = arg_jsons(c, 0);
        gt_sprintln(&b, v, c->argc);
        result_buf(c, &b);
}

static void fn_printf(struct call *c)
{
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        _cleanup_free_ const struct json **v = arg_jsons(c, 1);
        size_t flen;
        const char *f = sarg(c, 0, &flen);
        gt_sprintf(&b, f, flen, v, c->argc - 1);
        result_buf(c, &b);
}

static void fn_json(struct call *c)
{
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        const struct json *v = unbox(c->argv[0]).j;
        /* docker's row types marshal themselves with json.Marshal, which escapes HTML */
        gt_json_encode(&b, v, c->s->root_type && v == c->s->root);
        result_buf(c, &b);
}

static void fn_split(struct call *c)
{
        size_t slen, seplen;
        const char *str = sarg(c, 0, &slen), *sep = sarg(c, 1, &seplen);
        struct json *a = json_new_array();
        if (seplen == 0) {
                /* one element per UTF-8 sequence */
                for (size_t i = 0; i < slen;) {
                        size_t n = 1;
                        unsigned char u = (unsigned char)str[i];
                        if (u >= 0xc0) {
                                size_t want = u >= 0xf0 ? 4 : u >= 0xe0 ? 3 : 2;
                                while (n < want && i + n < slen &&
                                       ((unsigned char)str[i + n] & 0xc0) == 0x80)
                                        n++;
                                if (n != want)
                                        n = 1;
                        }
                        json_array_append(a, json_new_stringn(str + i, n));
                        i += n;
                }
        } else {
                size_t start = 0;
                for (size_t i = 0; i + seplen <= slen;) {
                        if (memcmp(str + i, sep, seplen) == 0) {
                                json_array_append(a, json_new_stringn(str + start, i - start));
                                i += seplen;
                                start = i;
                        } else {
                                i++;
                        }
                }
                json_array_append(a, json_new_stringn(str + start, slen - start));
        }
        c->result = (struct tval){own(c->s, a), false};
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fn_join(struct call *c)
{
        const struct json *e = unbox(c->argv[0]).j;
        size_t seplen;
        const char *sep = sarg(c, 1, &seplen);
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        if (!e) {
                result_buf(c, &b);
                return;
        }
        if (e->type == JSON_ARRAY) {
                for (size_t i = 0; i < e->arr.n; i++) {
                        if (i)
                                buf_append(&b, sep, seplen);
                        gotemplate_print_value(&b, e->arr.items[i]);
                }
        } else if (e->type == JSON_OBJECT) {
                char **vals = xcalloc(e->obj.n + 1, sizeof(*vals));
                for (size_t i = 0; i < e->obj.n; i++) {
                        struct berth_buf t = BERTH_BUF_INIT;
                        gotemplate_print_value(&t, e->obj.m[i].value);
                        vals[i] = buf_steal(&t);
                }
                qsort(vals, e->obj.n, sizeof(*vals), cmp_str);
                for (size_t i = 0; i < e->obj.n; i++) {
                        if (i)
                                buf_append(&b, sep, seplen);
                        buf_puts(&b, vals[i]);
                }
                strv_free(vals);
        } else {
                call_fail(c, "expected slice, got %s", gt_type_name(e));
                return;
        }
        result_buf(c, &b);
}

static void fn_case(struct call *c, int mode)
{
        size_t len;
        const char *str = sarg(c, 0, &len);
        _cleanup_free_ char *o = xstrndup(str, len);
        bool prev_sep = true; /* strings.Title: a letter after a separator is upper-cased */
        for (size_t i = 0; i < len; i++) {
                char ch = o[i];
                if (mode == 'l' && ch >= 'A' && ch <= 'Z')
                        o[i] = (char)(ch - 'A' + 'a');
                else if (mode == 'u' && ch >= 'a' && ch <= 'z')
                        o[i] = (char)(ch - 'a' + 'A');
                else if (mode == 't') {
                        unsigned char u = (unsigned char)ch;
                        bool sep = u < 0x80 && !((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') ||
                                                 (u >= 'A' && u <= 'Z') || u == '_');
                        if (prev_sep && ch >= 'a' && ch <= 'z')
                                o[i] = (char)(ch - 'a' + 'A');
                        if ((u & 0xc0) != 0x80)
                                prev_sep = sep;
                }
        }
        c->result = str_val(c->s, o, len);
}

static void fn_lower(struct call *c)
{
        fn_case(c, 'l');
}
static void fn_upper(struct call *c)
{
        fn_case(c, 'u');
}
static void fn_title(struct call *c)
{
        fn_case(c, 't');
}

static void fn_pad(struct call *c)
{
        size_t len;
        const char *str = sarg(c, 0, &len);
        int64_t pre = iarg(c, 1), suf = iarg(c, 2);
        if (len == 0) {
                c->result = str_val(c->s, "", 0);
                return;
        }
        if (pre < 0 || suf < 0) {
                call_fail(c, "strings: negative Repeat count");
                return;
        }
        if (pre > 100000 || suf > 100000) {
                call_fail(c, "pad: width too large");
                return;
        }
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        for (int64_t i = 0; i < pre; i++)
                buf_putc(&b, ' ');
        buf_append(&b, str, len);
        for (int64_t i = 0; i < suf; i++)
                buf_putc(&b, ' ');
        result_buf(c, &b);
}

static void fn_truncate(struct call *c)
{
        size_t len;
        const char *str = sarg(c, 0, &len);
        int64_t n = iarg(c, 1);
        if ((int64_t)len < n) {
                c->result = str_val(c->s, str, len);
                return;
        }
        if (n < 0) {
                call_fail(c, "runtime error: slice bounds out of range [:%" PRId64 "]", n);
                return;
        }
        c->result = str_val(c->s, str, (size_t)n);
}

static void fn_and_or(struct call *c)
{
        /* handled in eval_call: arguments are evaluated lazily */
}

static const struct func funcs[] = {
    {"and", fn_and_or, 1, true, {P_VALUE}, false},
    {"or", fn_and_or, 1, true, {P_VALUE}, false},
    {"not", fn_not, 1, false, {P_VALUE}, false},
    {"len", fn_len, 1, false, {P_VALUE}, false},
    {"index", fn_index, 1, true, {P_VALUE, P_VALUE}, false},
    {"slice", fn_slice, 1, true, {P_VALUE, P_VALUE}, false},
    {"eq", fn_eq, 1, true, {P_VALUE, P_VALUE}, false},
    {"ne", fn_ne, 2, false, {P_VALUE, P_VALUE}, false},
    {"lt", fn_lt, 2, false, {P_VALUE, P_VALUE}, false},
    {"le", fn_le, 2, false, {P_VALUE, P_VALUE}, false},
    {"gt", fn_gt, 2, false, {P_VALUE, P_VALUE}, false},
    {"ge", fn_ge, 2, false, {P_VALUE, P_VALUE}, false},
    {"print", fn_print, 0, true, {P_ANY}, false},
    {"println", fn_println, 0, true, {P_ANY}, false},
    {"printf", fn_printf, 1, true, {P_STRING, P_ANY}, false},
    {"json", fn_json, 1, false, {P_ANY}, true},
    {"split", fn_split, 2, false, {P_STRING, P_STRING}, true},
    {"join", fn_join, 2, false, {P_ANY, P_STRING}, true},
    {"title", fn_title, 1, false, {P_STRING}, true},
    {"lower", fn_lower, 1, false, {P_STRING}, true},
    {"upper", fn_upper, 1, false, {P_STRING}, true},
    {"pad", fn_pad, 3, false, {P_STRING, P_INT, P_INT}, false},
    {"truncate", fn_truncate, 2, false, {P_STRING, P_INT}, true},
};

static const struct func *find_func(const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(funcs); i++)
                if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0)
                        return &funcs[i];
        return NULL;
}

static bool function_exists(const char *name, size_t len)
{
        return find_func(name, len) != NULL;
}

static const char *ptype_name(enum ptype t)
{
        switch (t) {
        case P_STRING:
                return "string";
        case P_INT:
                return "int";
        case P_VALUE:
                return "reflect.Value";
        default:
                return "interface {}";
        }
}

/* Go's validateType for a computed value. */
static int validate(struct state *s, struct tval v, enum ptype t, struct tval *ret)
{
        if (t == P_VALUE || t == P_NONE) {
                *ret = v;
                return 0;
        }
        if (!v.j) {
                if (t == P_ANY) {
                        *ret = NO_VALUE;
                        return 0;
                }
                return x_error(s, "invalid value; expected %s", ptype_name(t));
        }
        if (t == P_ANY) {
                *ret = unbox(v);
                return 0;
        }
        bool ok = t == P_STRING ? v.j->type == JSON_STRING : gt_is_int(v.j);
        if (!ok) {
                const char *got =
                    v.boxed && v.j->type == JSON_NULL ? "interface {}" : gt_type_name(v.j);
                return x_error(s, "wrong type for value; expected %s; got %s", ptype_name(t), got);
        }
        *ret = unbox(v);
        return 0;
}

static enum ptype param_type(const struct func *f, size_t i)
{
        size_t nt = (size_t)f->nfixed + (f->variadic ? 1 : 0);
        if (f->variadic && f->nfixed == 0)
                return f->types[0];
        if (i < (size_t)f->nfixed)
                return f->types[i];
        return f->types[nt - 1 < 3 ? nt - 1 : 2];
}

static int eval_call(struct state *s, struct tval dot, const struct func *f, const struct node *cmd,
                     struct node *const *args, size_t nargs, const struct tval *final,
                     struct tval *ret)
{
        size_t num_in = nargs + (final ? 1 : 0);
        size_t nparams = (size_t)f->nfixed + (f->variadic ? 1 : 0);
        if (f->variadic && f->nfixed == 0)
                nparams = 1;
        if (f->variadic) {
                if (num_in < (size_t)f->nfixed)
                        return x_error(s, "wrong number of args for %s: want at least %d got %zu",
                                       f->name, f->nfixed, nargs);
        } else if (num_in != (size_t)f->nfixed) {
                return x_error(s, "wrong number of args for %s: want %zu got %zu", f->name, nparams,
                               num_in);
        }
        int r;
        if (f->fn == fn_and_or) {
                bool is_or = f->name[0] == 'o';
                struct tval v = NO_VALUE;
                for (size_t i = 0; i < nargs; i++) {
                        r = eval_arg(s, dot, P_VALUE, args[i], &v);
                        if (r < 0)
                                return r;
                        v = unbox(v);
                        if (truth(v) == is_or) {
                                *ret = v;
                                return 0;
                        }
                }
                if (final)
                        v = unbox(*final);
                *ret = v;
                return 0;
        }
        bool header = (s->flags & GOTEMPLATE_HEADER) && f->header_identity;
        _cleanup_free_ struct tval *argv = xcalloc(num_in + 1, sizeof(*argv));
        for (size_t i = 0; i < nargs; i++) {
                enum ptype t =
                    header ? (i == 1 && f->fn == fn_truncate ? P_INT : P_STRING) : param_type(f, i);
                r = eval_arg(s, dot, t, args[i], &argv[i]);
                if (r < 0)
                        return r;
        }
        if (final) {
                enum ptype t = header ? (nargs == 1 && f->fn == fn_truncate ? P_INT : P_STRING)
                                      : param_type(f, nargs);
                s->node = cmd;
                r = validate(s, *final, t, &argv[nargs]);
                if (r < 0)
                        return r;
        }
        if (header) {
                *ret = unbox(argv[0]);
                return 0;
        }
        struct call c = {.s = s, .argv = argv, .argc = num_in};
        f->fn(&c);
        if (c.error) {
                s->node = cmd;
                r = x_error(s, "error calling %s: %s", f->name, c.error);
                free(c.error);
                return r;
        }
        *ret = c.result;
        return 0;
}

/* ------------------------------------------------------------ evaluation */

static int not_a_function(struct state *s, const struct node *cmd_first, size_t nargs,
                          const struct tval *final)
{
        if (nargs > 1 || final) {
                _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
                node_string(&b, cmd_first);
                return x_error(s, "can't give argument to non-function %s", b.data);
        }
        return 0;
}

static struct tval ideal_constant(struct state *s, const struct node *n, int *r)
{
        s->node = n;
        *r = 0;
        if (n->ideal_float)
                return (struct tval){own(s, json_new_double(n->fval)), false};
        if (n->is_int)
                return int_val(s, n->ival);
        *r = x_error(s, "%s overflows int", n->text);
        return NO_VALUE;
}

static int eval_function(struct state *s, struct tval dot, const struct node *ident,
                         const struct node *cmd, struct node *const *args, size_t nargs,
                         const struct tval *final, struct tval *ret)
{
        s->node = ident;
        const struct func *f = find_func(ident->text, ident->text_len);
        if (!f)
                return x_error(s, "%s is not a defined function", ident->text);
        return eval_call(s, dot, f, cmd, args, nargs, final, ret);
}

static int eval_chain(struct state *s, struct tval dot, const struct node *chain, bool has_args,
                      struct tval *ret)
{
        s->node = chain;
        if (chain->sub->type == N_NIL) {
                _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
                node_string(&b, chain);
                return x_error(s, "indirection through explicit nil in %s", b.data);
        }
        struct tval recv;
        int r = eval_arg(s, dot, P_NONE, chain->sub, &recv);
        if (r < 0)
                return r;
        return eval_field_chain(s, recv, chain->idents, chain->nidents, has_args, ret);
}

static int eval_variable(struct state *s, const struct node *v, bool has_args,
                         const struct node *cmd_first, size_t nargs, const struct tval *final,
                         struct tval *ret)
{
        s->node = v;
        struct tval val;
        int r = var_value(s, v->idents[0], &val);
        if (r < 0)
                return r;
        if (v->nidents == 1) {
                r = not_a_function(s, cmd_first, nargs, final);
                if (r < 0)
                        return r;
                *ret = val;
                return 0;
        }
        return eval_field_chain(s, val, v->idents + 1, v->nidents - 1, has_args, ret);
}

static int eval_arg(struct state *s, struct tval dot, int ptype, const struct node *n,
                    struct tval *ret)
{
        int r = tick(s);
        if (r < 0)
                return r;
        s->node = n;
        struct tval v;
        enum ptype t = (enum ptype)ptype;
        switch (n->type) {
        case N_DOT:
                return validate(s, dot, t, ret);
        case N_NIL:
                if (t == P_ANY || t == P_NONE) {
                        *ret = NO_VALUE;
                        return 0;
                }
                return x_error(s, "cannot assign nil to %s", ptype_name(t));
        case N_FIELD:
                s->node = n;
                r = eval_field_chain(s, dot, n->idents, n->nidents, false, &v);
                break;
        case N_VAR:
                r = eval_variable(s, n, false, n, 1, NULL, &v);
                break;
        case N_PIPE:
                r = eval_pipeline(s, dot, n, &v);
                break;
        case N_IDENT:
                r = eval_function(s, dot, n, n, NULL, 0, NULL, &v);
                break;
        case N_CHAIN:
                r = eval_chain(s, dot, n, false, &v);
                break;
        case N_BOOL:
                if (t == P_STRING || t == P_INT)
                        return x_error(s, "expected %s; found %s",
                                       t == P_STRING ? "string" : "integer",
                                       n->bval ? "true" : "false");
                *ret = bool_val(s, n->bval);
                return 0;
        case N_NUMBER:
                if (t == P_STRING)
                        return x_error(s, "expected string; found %s", n->text);
                if (t == P_INT) {
                        if (!n->is_int)
                                return x_error(s, "expected integer; found %s", n->text);
                        *ret = int_val(s, n->ival);
                        return 0;
                }
                *ret = ideal_constant(s, n, &r);
                return r;
        case N_STRING:
                if (t == P_INT)
                        return x_error(s, "expected integer; found %s", n->text);
                *ret = str_val(s, n->sval, n->sval_len);
                return 0;
        default:
                return x_error(s, "can't handle node for arg");
        }
        if (r < 0)
                return r;
        s->node = n;
        return validate(s, v, t, ret);
}

static int eval_command(struct state *s, struct tval dot, const struct node *cmd,
                        const struct tval *final, struct tval *ret)
{
        const struct node *first = cmd->kids[0];
        size_t nargs = cmd->nkids;
        bool has_args = nargs > 1 || final;
        int r;
        switch (first->type) {
        case N_FIELD:
                s->node = first;
                return eval_field_chain(s, dot, first->idents, first->nidents, has_args, ret);
        case N_CHAIN:
                return eval_chain(s, dot, first, has_args, ret);
        case N_IDENT:
                return eval_function(s, dot, first, cmd, cmd->kids + 1, nargs - 1, final, ret);
        case N_PIPE:
                r = not_a_function(s, first, nargs, final);
                if (r < 0)
                        return r;
                return eval_pipeline(s, dot, first, ret);
        case N_VAR:
                return eval_variable(s, first, has_args, first, nargs, final, ret);
        default:
                break;
        }
        s->node = first;
        r = not_a_function(s, first, nargs, final);
        if (r < 0)
                return r;
        switch (first->type) {
        case N_BOOL:
                *ret = bool_val(s, first->bval);
                return 0;
        case N_DOT:
                *ret = dot;
                return 0;
        case N_NIL:
                return x_error(s, "nil is not a command");
        case N_NUMBER:
                *ret = ideal_constant(s, first, &r);
                return r;
        case N_STRING:
                *ret = str_val(s, first->sval, first->sval_len);
                return 0;
        default:
                return x_error(s, "can't evaluate command");
        }
}

static int eval_pipeline(struct state *s, struct tval dot, const struct node *pipe,
                         struct tval *ret)
{
        s->node = pipe;
        if (++s->depth > MAX_DEPTH * 2) {
                s->depth--;
                return x_error(s, "template nesting too deep");
        }
        struct tval value = NO_VALUE;
        bool have = false;
        int r = 0;
        for (size_t i = 0; i < pipe->nkids; i++) {
                struct tval next;
                r = eval_command(s, dot, pipe->kids[i], have ? &value : NULL, &next);
                if (r < 0)
                        goto out;
                value = unbox(next);
                have = true;
        }
        for (size_t i = 0; i < pipe->ndecls; i++) {
                if (pipe->is_assign) {
                        r = set_var(s, pipe->decls[i], value);
                        if (r < 0)
                                goto out;
                } else {
                        push_var(s, pipe->decls[i], value);
                }
        }
        *ret = value;
out:
        s->depth--;
        return r;
}

static int walk_range(struct state *s, struct tval dot, const struct node *n)
{
        size_t mark0 = s->nvars;
        struct tval val;
        int r = eval_pipeline(s, dot, n->pipe, &val);
        if (r < 0)
                return r;
        val = unbox(val);
        size_t mark = s->nvars;
        const struct node *p = n->pipe;
        size_t count = 0;
        const struct json *j = val.j;
        const struct json_member **members = NULL;
        if (!j) {
                count = 0;
        } else if (j->type == JSON_ARRAY) {
                count = j->arr.n;
        } else if (j->type == JSON_OBJECT) {
                count = j->obj.n;
                members = xcalloc(count + 1, sizeof(*members));
                for (size_t i = 0; i < count; i++)
                        members[i] = &j->obj.m[i];
                for (size_t i = 1; i < count;
                     i++) /* insertion sort by key: Go ranges maps sorted */
                        for (size_t k = i;
                             k > 0 && strcmp(members[k - 1]->key, members[k]->key) > 0; k--) {
                                const struct json_member *t = members[k];
                                members[k] = members[k - 1];
                                members[k - 1] = t;
                        }
        } else if (j->type == JSON_NUMBER && gt_is_int(j)) {
                count = (j->num.flags & JSON_NUM_INT) ? (j->num.i > 0 ? (size_t)j->num.i : 0)
                                                      : (size_t)j->num.u;
        } else {
                _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
                gotemplate_print_value(&b, j);
                r = x_error(s, "range can't iterate over %s", b.data);
                goto out;
        }
        for (size_t i = 0; i < count; i++) {
                size_t arena_mark = s->narena;
                unsigned long assigns = s->assigns;
                struct tval index, elem;
                if (j->type == JSON_ARRAY) {
                        index = int_val(s, (int64_t)i);
                        elem = (struct tval){j->arr.items[i], true};
                } else if (j->type == JSON_OBJECT) {
                        index = str_val(s, members[i]->key, strlen(members[i]->key));
                        elem = (struct tval){members[i]->value, true};
                } else {
                        index = elem = int_val(s, (int64_t)i);
                }
                if (p->ndecls > 0) {
                        if (p->is_assign) {
                                r = set_var(s, p->decls[0], p->ndecls > 1 ? index : elem);
                                if (r < 0)
                                        goto out;
                        } else {
                                s->vars[s->nvars - 1].v = elem;
                        }
                }
                if (p->ndecls > 1) {
                        if (p->is_assign) {
                                r = set_var(s, p->decls[1], elem);
                                if (r < 0)
                                        goto out;
                        } else {
                                s->vars[s->nvars - 2].v = index;
                        }
                }
                r = walk(s, elem, n->list);
                s->nvars = mark;
                if (r < 0)
                        goto out;
                enum ctl ctl = s->ctl;
                s->ctl = CTL_NONE;
                if (s->assigns == assigns && !p->is_assign)
                        arena_release(s, arena_mark);
                if (ctl == CTL_BREAK)
                        break;
        }
        if (count == 0 && n->else_list)
                r = walk(s, dot, n->else_list);
out:
        free(members);
        s->nvars = mark0;
        return r;
}

static int walk(struct state *s, struct tval dot, const struct node *n)
{
        int r = tick(s);
        if (r < 0)
                return r;
        switch (n->type) {
        case N_LIST:
                for (size_t i = 0; i < n->nkids && s->ctl == CTL_NONE; i++) {
                        r = walk(s, dot, n->kids[i]);
                        if (r < 0)
                                return r;
                }
                return 0;
        case N_TEXT:
                buf_append(s->out, n->text, n->text_len);
                return 0;
        case N_ACTION: {
                struct tval v;
                r = eval_pipeline(s, dot, n->pipe, &v);
                if (r < 0)
                        return r;
                if (n->pipe->ndecls == 0) {
                        s->node = n;
                        print_tval(s, v);
                }
                return 0;
        }
        case N_IF:
        case N_WITH: {
                size_t mark = s->nvars;
                struct tval v;
                r = eval_pipeline(s, dot, n->pipe, &v);
                if (r >= 0) {
                        if (truth(v))
                                r = walk(s, n->type == N_WITH ? v : dot, n->list);
                        else if (n->else_list)
                                r = walk(s, dot, n->else_list);
                }
                s->nvars = mark;
                return r;
        }
        case N_RANGE:
                return walk_range(s, dot, n);
        case N_BREAK:
                s->ctl = CTL_BREAK;
                return 0;
        case N_CONTINUE:
                s->ctl = CTL_CONTINUE;
                return 0;
        default:
                s->node = n;
                return x_error(s, "unknown node");
        }
}

int gotemplate_exec(const struct gotemplate *t, const struct json *data, unsigned flags,
                    struct berth_buf *out, struct berth_error **err)
{
        return gotemplate_exec_typed(t, data, NULL, flags, out, err);
}

int gotemplate_exec_typed(const struct gotemplate *t, const struct json *data,
                          const char *root_type, unsigned flags, struct berth_buf *out,
                          struct berth_error **err)
{
        struct state s = {.t = t, .out = out, .flags = flags, .err = err};
        if (root_type && json_is(data, JSON_OBJECT)) {
                s.root = data;
                s.root_type = root_type;
        }
        struct tval root = unbox((struct tval){data, false});
        push_var(&s, "$", root);
        buf_append(out, "", 0);
        int r = walk(&s, root, t->root);
        arena_release(&s, 0);
        free(s.arena);
        free(s.vars);
        return r < 0 ? r : 0;
}
