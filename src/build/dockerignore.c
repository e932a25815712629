/*
 * dockerignore.c — docker's .dockerignore patterns (see dockerignore.h for
 * the rules a user relies on).
 *
 * How it works.  Each line goes through docker's two cleaning passes
 * (ignorefile.ReadAll, then patternmatcher.New), each spelled out below with
 * Go's TrimSpace and filepath.Clean redone byte for byte.  The pattern is
 * checked as Go's filepath.Match checks it (its scanChunk/matchChunk syntax
 * rules), then classified as patternmatcher's compile() classifies it:
 *   EXACT   no wildcard, class or escape: the path equals the text;
 *   PREFIX  that plus a final "**": the path starts with the text before it;
 *   SUFFIX  a leading "**" and nothing special after: the path ends with the
 *           text after "**" (or "**\/x" is x itself) — so "**.go" matches any
 *           name ending in ".go", as docker's shortcut does;
 *   REGEXP  anything else, which docker turns into a Go regular expression:
 *           '*' [^/]*, '?' [^/], "**" before more text (.*\/)?, a final "**"
 *           .*, a class as itself, '^' outside a class an anchor.
 * REGEXP patterns become a tiny automaton (one node per element) simulated
 * with a set of states, one step per character of the path, so a match costs
 * O(path × pattern) whatever the pattern; matching a path and all its parent
 * directories is one pass, reading acceptance at each '/'.  Characters are
 * UTF-8 runes as Go reads them (an invalid byte is one U+FFFD), so '?' and
 * classes take a whole character.
 *
 * Where berth parts from docker (each a corner no real .dockerignore uses;
 * berth follows filepath.Match, which docker's documentation promises):
 *  - '\' before a letter or digit Go's regexp gives a meaning ("\d", "\w",
 *    "\b", "\x41", …) is that plain character here; docker reads them as
 *    classes, assertions or codes.  The escapes its regexp refuses (any
 *    non-ASCII character, "\c", "\8", a lone "\1", …) are refused here
 *    too; a few malformed ones ("\x4", "\pq") are not.
 *  - inside a class, '*', '?' and "[:name:]" are plain characters; docker's
 *    translation rewrites or reinterprets them (the only differences a
 *    differential run against docker's algorithm on Go's regexp still found).
 *  - a reversed range ("[z-a]") and the above failures are refused when the
 *    file is parsed, with docker's "syntax error in pattern"; docker only
 *    fails once a path reaches the pattern during the walk.
 *  - docker/cli decides whether to keep the Dockerfile with the older,
 *    one-parent Matches(), so "**\/c" over c/x/Dockerfile lets docker drop
 *    it and fail; berth uses the full rule and keeps it.  The exception for
 *    the Dockerfile is literal here; docker parses the name as a pattern.
 *
 * Never: backtrack over the path, or read past len in the file's text.
 */
#include "build/dockerignore.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "base/fileio.h"
#include "base/macro.h"

/* bufio.Scanner's largest token: a longer line fails docker's reader. */
#define LINE_MAX_BYTES 65535
#define RUNE_ERROR     0xFFFDu

enum pat_type { PAT_EXACT, PAT_PREFIX, PAT_SUFFIX, PAT_REGEXP };

enum node_kind {
        N_RUNE,  /* one character equal to arg */
        N_ANY,   /* one character but '/' */
        N_CLASS, /* one character in class arg */
        N_STAR,  /* any run of characters but '/' */
        N_DSTAR, /* any run of characters but '\n' (Go's '.') */
        N_SPLIT, /* empty, or on to node arg: the "?" of (.*\/)? */
        N_BOL,   /* empty at the path's start only (a stray '^') */
};

struct node {
        uint8_t kind;
        uint32_t arg;
};

struct range {
        uint32_t lo, hi;
};

struct class {
        bool negated;
        size_t n;
        struct range *ranges;
};

struct pattern {
        char *text; /* cleaned, no '!'; may hold NUL bytes, hence len */
        size_t len;
        bool exception;
        enum pat_type type;
        struct node *nodes;
        size_t n_nodes, cap_nodes;
        struct class *classes;
        size_t n_classes;
};

struct dockerignore {
        struct pattern *pats;
        size_t n;
        bool exceptions;
};

/* ---- Go's strings and runes ---------------------------------------------- */

/* utf8.DecodeRune: an invalid or short sequence is U+FFFD of width 1. */
static uint32_t decode_rune(const unsigned char *s, size_t n, size_t *ret_width)
{
        unsigned char c = s[0];
        *ret_width = 1;
        if (c < 0x80)
                return c;
        size_t w;
        uint32_t r, min;
        if (c >= 0xC2 && c <= 0xDF)
                w = 2, r = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
                w = 3, r = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
                w = 4, r = c & 0x07, min = 0x10000;
        else
                return RUNE_ERROR;
        if (n < w)
                return RUNE_ERROR;
        for (size_t i = 1; i < w; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return RUNE_ERROR;
                r = r << 6 | (s[i] & 0x3F);
        }
        if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
                return RUNE_ERROR;
        *ret_width = w;
        return r;
}

/* unicode.IsSpace's runes as UTF-8: TrimSpace strips whole runes, and the
 * last rune Go decodes at a string's end starts at the last start byte, so
 * comparing these byte sequences at either end is what TrimSpace does. */
static const char *const space_runes[] = {
        "\t", "\n", "\v", "\f", "\r", " ", "\xC2\x85", "\xC2\xA0", "\xE1\x9A\x80",
        "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82", "\xE2\x80\x83", "\xE2\x80\x84",
        "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88", "\xE2\x80\x89",
        "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F",
        "\xE3\x80\x80",
};

static size_t space_at(const char *s, size_t n, bool at_end)
{
        for (size_t i = 0; i < ELEMENTSOF(space_runes); i++) {
                size_t w = strlen(space_runes[i]);
                if (w <= n && memcmp(at_end ? s + n - w : s, space_runes[i], w) == 0)
                        return w;
        }
        return 0;
}

/* strings.TrimSpace, in place on (*s, *n). */
static void trim_space(const char **s, size_t *n)
{
        size_t w;
        while (*n > 0 && (w = space_at(*s, *n, false)) > 0)
                *s += w, *n -= w;
        while (*n > 0 && (w = space_at(*s, *n, true)) > 0)
                *n -= w;
}

/* ---- filepath.Match's syntax, and classes -------------------------------- */

/*
 * An escape that docker's regexp refuses ("invalid escape
 * sequence"): any non-ASCII character, and the letters and digits Go gives
 * no meaning.  The ones it does ("\d", "\x41", "\pL", …) pass, read as the
 * plain character (see the file's header).
 */
static bool escape_valid(const char *c, const char *end, bool in_class)
{
        unsigned char e = (unsigned char)*c;
        if (e >= 0x80)
                return false;
        if (e >= '1' && e <= '7') /* octal needs two digits; one is a backreference */
                return c + 1 < end && c[1] >= '0' && c[1] <= '7';
        if (e == '8' || e == '9')
                return false;
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))
                /* the assertions \b \B \A \z and \Q quoting only outside a class */
                return strchr(in_class ? "adDfnpPrsStvwWx" : "aAbBdDfnpPQrsStvwWxz", e) != NULL;
        return true;
}

/* getEsc: one character of a class, '\' escaping; NULL when malformed. */
static const char *class_char(const char *c, const char *end, uint32_t *ret)
{
        if (c == end || *c == '-' || *c == ']')
                return NULL;
        if (*c == '\\' && (++c == end || !escape_valid(c, end, true)))
                return NULL;
        size_t w;
        *ret = decode_rune((const unsigned char *)c, end - c, &w);
        if (*ret == RUNE_ERROR && w == 1)
                return NULL;
        c += w;
        return c == end ? NULL : c;
}

/* A class after its '[': returns the byte after its ']', or NULL when
 * malformed as matchChunk says, or when a range is reversed (docker's regexp
 * refuses those).  Fills cls when given. */
static const char *class_parse(const char *c, const char *end, struct class *cls)
{
        bool negated = false;
        if (c < end && *c == '^')
                negated = true, c++;
        if (cls)
                *cls = (struct class){.negated = negated};
        for (size_t nrange = 0;; nrange++) {
                if (c < end && *c == ']' && nrange > 0)
                        return c + 1;
                uint32_t lo, hi;
                c = class_char(c, end, &lo);
                if (!c)
                        return NULL;
                hi = lo;
                if (*c == '-' && !(c = class_char(c + 1, end, &hi)))
                        return NULL;
                if (lo > hi)
                        return NULL;
                if (cls) {
                        cls->ranges = xrealloc(cls->ranges, (cls->n + 1) * sizeof(*cls->ranges));
                        cls->ranges[cls->n++] = (struct range){lo, hi};
                }
        }
}

/* matchChunk run over a chunk for its errors only. */
static bool chunk_valid(const char *c, const char *end)
{
        while (c < end) {
                switch (*c) {
                case '[':
                        c = class_parse(c + 1, end, NULL);
                        if (!c)
                                return false;
                        break;
                case '\\':
                        if (++c == end || !escape_valid(c, end, false))
                                return false;
                        c++;
                        break;
                default: /* '?' too */
                        c++;
                }
        }
        return true;
}

/* filepath.Match(p, ".") fails exactly when one of p's chunks (scanChunk:
 * split at '*' outside what looks like a class) is malformed. */
static bool pattern_valid(const char *p, size_t n)
{
        const char *s = p, *end = p + n;
        while (s < end) {
                while (s < end && *s == '*')
                        s++;
                bool inrange = false;
                const char *c = s;
                for (; c < end; c++) {
                        if (*c == '\\') {
                                if (c + 1 < end)
                                        c++;
                        } else if (*c == '[') {
                                inrange = true;
                        } else if (*c == ']') {
                                inrange = false;
                        } else if (*c == '*' && !inrange) {
                                break;
                        }
                }
                if (!chunk_valid(s, c))
                        return false;
                s = c;
        }
        return true;
}

/* ---- compile: patternmatcher's compile(), to nodes ----------------------- */

static void emit(struct pattern *p, enum node_kind kind, uint32_t arg)
{
        if (p->n_nodes == p->cap_nodes) {
                p->cap_nodes = p->cap_nodes ? 2 * p->cap_nodes : 8;
                p->nodes = xrealloc(p->nodes, p->cap_nodes * sizeof(*p->nodes));
        }
        p->nodes[p->n_nodes++] = (struct node){kind, arg};
}

static bool should_escape(uint32_t r)
{
        return r < 0x80 && strchr(".+()|{}$", (int)r) && r != 0;
}

/* Runs over the (valid) pattern as docker's scanner loop does; only REGEXP
 * patterns keep their nodes. */
static void pattern_compile(struct pattern *p)
{
        const char *s = p->text, *end = p->text + p->len;
        size_t w;
        enum pat_type type = PAT_EXACT;

#define PEEK() (s < end ? (int64_t)decode_rune((const unsigned char *)s, end - s, &w) : -1)
#define NEXT() (s < end ? (s += (decode_rune((const unsigned char *)s, end - s, &w), w), 0) : 0)
        /* text/scanner skips a byte order mark at the very start. */
        if (PEEK() == 0xFEFF)
                NEXT();
        for (size_t i = 0; s < end; i++) {
                uint32_t r = (uint32_t)PEEK();
                NEXT();
                if (r == '*' && PEEK() == '*') {
                        NEXT();
                        if (PEEK() == '/')
                                NEXT();
                        if (PEEK() == -1) {
                                if (type == PAT_EXACT) {
                                        type = PAT_PREFIX;
                                } else {
                                        emit(p, N_DSTAR, 0);
                                        type = PAT_REGEXP;
                                }
                        } else {
                                emit(p, N_SPLIT, (uint32_t)p->n_nodes + 3);
                                emit(p, N_DSTAR, 0);
                                emit(p, N_RUNE, '/');
                                type = PAT_REGEXP;
                        }
                        if (i == 0)
                                type = PAT_SUFFIX;
                } else if (r == '*') {
                        emit(p, N_STAR, 0);
                        type = PAT_REGEXP;
                } else if (r == '?') {
                        emit(p, N_ANY, 0);
                        type = PAT_REGEXP;
                } else if (should_escape(r)) {
                        emit(p, N_RUNE, r);
                } else if (r == '\\') {
                        /* never last: pattern_valid refused that */
                        emit(p, N_RUNE, (uint32_t)PEEK());
                        NEXT();
                        type = PAT_REGEXP;
                } else if (r == '[') {
                        struct class cls;
                        s = class_parse(s, end, &cls);
                        assert(s); /* pattern_valid() parsed this class the same way */
                        p->classes = xrealloc(p->classes, (p->n_classes + 1) * sizeof(*p->classes));
                        p->classes[p->n_classes] = cls;
                        emit(p, N_CLASS, (uint32_t)p->n_classes++);
                        type = PAT_REGEXP;
                } else if (r == ']') {
                        emit(p, N_RUNE, r);
                        type = PAT_REGEXP;
                } else if (r == '^') {
                        emit(p, N_BOL, 0);
                } else {
                        emit(p, N_RUNE, r);
                }
        }
#undef PEEK
#undef NEXT
        p->type = type;
        if (type != PAT_REGEXP) { /* docker's shortcuts compare the text */
                free(p->nodes);
                p->nodes = NULL;
                p->n_nodes = p->cap_nodes = 0;
        }
}

/* ---- matching ------------------------------------------------------------ */

static bool class_has(const struct class *c, uint32_t r)
{
        bool in = false;
        for (size_t i = 0; i < c->n && !in; i++)
                in = c->ranges[i].lo <= r && r <= c->ranges[i].hi;
        return in != c->negated;
}

#define BIT(set, i)  ((set)[(i) / 64] >> ((i) % 64) & 1)
#define SETB(set, i) ((set)[(i) / 64] |= UINT64_C(1) << ((i) % 64))

/* Follow the empty moves (all forward, so one ascending pass). */
static void closure(const struct pattern *p, uint64_t *set, bool at_start)
{
        for (size_t i = 0; i < p->n_nodes; i++) {
                if (!BIT(set, i))
                        continue;
                const struct node *nd = &p->nodes[i];
                if (nd->kind == N_STAR || nd->kind == N_DSTAR || (nd->kind == N_BOL && at_start))
                        SETB(set, i + 1);
                else if (nd->kind == N_SPLIT) {
                        SETB(set, i + 1);
                        SETB(set, nd->arg);
                }
        }
}

static bool step(const struct pattern *p, const uint64_t *cur, uint64_t *next, size_t words,
                 uint32_t r)
{
        bool any = false;
        memset(next, 0, words * sizeof(*next));
        for (size_t i = 0; i < p->n_nodes; i++) {
                if (!BIT(cur, i))
                        continue;
                const struct node *nd = &p->nodes[i];
                size_t to = i + 1;
                bool ok;
                switch (nd->kind) {
                case N_RUNE: ok = r == nd->arg; break;
                case N_ANY: ok = r != '/'; break;
                case N_CLASS: ok = class_has(&p->classes[nd->arg], r); break;
                case N_STAR: ok = r != '/', to = i; break;
                case N_DSTAR: ok = r != '\n', to = i; break;
                default: ok = false;
                }
                if (ok) {
                        SETB(next, to);
                        any = true;
                }
        }
        return any;
}

/* The regexp over path and over every parent (the text before each '/'). */
static bool regexp_matches_or_parent(const struct pattern *p, const char *path, size_t n)
{
        size_t words = (p->n_nodes + 1 + 63) / 64;
        uint64_t stack[2 * 16];
        _cleanup_free_ uint64_t *heap = NULL;
        uint64_t *cur = stack, *next = stack + 16;
        if (words > 16) {
                heap = xcalloc(2 * words, sizeof(uint64_t));
                cur = heap, next = heap + words;
        }
        memset(cur, 0, words * sizeof(*cur));
        SETB(cur, 0);
        closure(p, cur, true);
        for (size_t i = 0; i < n;) {
                if (path[i] == '/' && BIT(cur, p->n_nodes))
                        return true;
                size_t w;
                uint32_t r = decode_rune((const unsigned char *)path + i, n - i, &w);
                if (!step(p, cur, next, words, r))
                        return false;
                i += w;
                closure(p, next, false);
                uint64_t *t = cur;
                cur = next, next = t;
        }
        return BIT(cur, p->n_nodes);
}

static bool has_suffix(const char *s, size_t n, const char *suf, size_t sn)
{
        return sn <= n && memcmp(s + n - sn, suf, sn) == 0;
}

/* pattern.match of one path, docker's shortcuts first. */
static bool match_one(const struct pattern *p, const char *s, size_t n)
{
        switch (p->type) {
        case PAT_EXACT:
                return n == p->len && memcmp(s, p->text, n) == 0;
        case PAT_PREFIX:
                return n >= p->len - 2 && memcmp(s, p->text, p->len - 2) == 0;
        case PAT_SUFFIX: {
                const char *suf = p->text + 2;
                size_t sn = p->len - 2;
                if (has_suffix(s, n, suf, sn))
                        return true;
                return suf[0] == '/' && n == sn - 1 && memcmp(s, suf + 1, n) == 0;
        }
        default:
                return false;
        }
}

/* The pattern matches relpath or one of its parents (MatchesOrParentMatches'
 * inner test; the parents are the text before each '/'). */
static bool matches_or_parent(const struct pattern *p, const char *path, size_t n)
{
        if (p->type == PAT_REGEXP)
                return regexp_matches_or_parent(p, path, n);
        /* A parent that starts with the prefix means the path does too. */
        if (p->type == PAT_PREFIX)
                return match_one(p, path, n);
        if (match_one(p, path, n))
                return true;
        for (size_t i = 0; i < n; i++)
                if (path[i] == '/' && match_one(p, path, i))
                        return true;
        return false;
}

bool dockerignore_excluded(const struct dockerignore *di, const char *relpath)
{
        size_t n = strlen(relpath);
        if (!di || n == 0 || (n == 1 && relpath[0] == '.'))
                return false;
        bool matched = false;
        for (size_t i = 0; i < di->n; i++) {
                const struct pattern *p = &di->pats[i];
                /* An exclusion can change nothing once matched, an exception
                 * nothing before: docker does not even look. */
                if (p->exception != matched)
                        continue;
                if (matches_or_parent(p, relpath, n))
                        matched = !p->exception;
        }
        return matched;
}

bool dockerignore_can_skip_dir(const struct dockerignore *di, const char *reldir)
{
        if (!dockerignore_excluded(di, reldir))
                return false;
        if (!di->exceptions)
                return true;
        size_t n = strlen(reldir);
        for (size_t i = 0; i < di->n; i++) {
                const struct pattern *p = &di->pats[i];
                /* strings.HasPrefix(pattern + "/", reldir + "/") */
                if (p->exception && p->len >= n && memcmp(p->text, reldir, n) == 0 &&
                    (p->len == n || p->text[n] == '/'))
                        return false;
        }
        return true;
}

/* ---- the list ------------------------------------------------------------ */

static void pattern_release(struct pattern *p)
{
        free(p->text);
        free(p->nodes);
        for (size_t i = 0; i < p->n_classes; i++)
                free(p->classes[i].ranges);
        free(p->classes);
}

void dockerignore_free(struct dockerignore *di)
{
        if (!di)
                return;
        for (size_t i = 0; i < di->n; i++)
                pattern_release(&di->pats[i]);
        free(di->pats);
        free(di);
}

size_t dockerignore_count(const struct dockerignore *di)
{
        return di ? di->n : 0;
}

const char *dockerignore_pattern(const struct dockerignore *di, size_t i, bool *ret_exception)
{
        if (ret_exception)
                *ret_exception = di->pats[i].exception;
        return di->pats[i].text;
}

static struct pattern *pattern_add(struct dockerignore *di)
{
        di->pats = xrealloc(di->pats, (di->n + 1) * sizeof(*di->pats));
        struct pattern *p = &di->pats[di->n++];
        *p = (struct pattern){0};
        return p;
}

/*
 * One line (n bytes at s) through ReadAll and New.  Returns the length of the
 * cleaned pattern, "!" first for an exception, at *ret, or 0 for a line that
 * yields none.  buf holds 2 * n + 4 bytes: each pass cleans into one half
 * (Clean never lengthens, but for "." out of nothing; ReadAll adds a '!').
 */
static size_t line_to_pattern(const char *s, size_t n, char *buf, const char **ret)
{
        char *second = buf + n + 2;
        if (n > 0 && s[0] == '#')
                return 0;
        trim_space(&s, &n);
        if (n == 0)
                return 0;
        /* ReadAll: '!', Clean, one leading '/' off. */
        bool invert = s[0] == '!';
        if (invert) {
                s++, n--;
                trim_space(&s, &n);
        }
        size_t an = 0;
        if (invert)
                buf[an++] = '!';
        if (n > 0) {
                size_t cn = path_clean_n(s, n, buf + an);
                if (cn > 1 && buf[an] == '/')
                        memmove(buf + an, buf + an + 1, --cn);
                an += cn;
        }
        /* New: TrimSpace and Clean once more. */
        const char *t = buf;
        trim_space(&t, &an);
        if (an == 0)
                return 0;
        *ret = second;
        return path_clean_n(t, an, second);
}

int dockerignore_parse(const char *text, size_t len, struct dockerignore **ret,
                       struct berth_error **err)
{
        struct dockerignore *di = xcalloc(1, sizeof(*di));
        unsigned line = 0;
        for (size_t pos = 0; pos < len;) {
                const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - s) : len - pos;
                pos += n + (nl ? 1 : 0);
                line++;
                if (n > LINE_MAX_BYTES) {
                        dockerignore_free(di);
                        return berth_error_set(err, EINVAL, "line %u: longer than %u bytes", line,
                                               LINE_MAX_BYTES);
                }
                if (n > 0 && s[n - 1] == '\r')
                        n--;
                if (line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
                        s += 3, n -= 3;
                _cleanup_free_ char *buf = xmalloc(2 * n + 4);
                const char *p = NULL;
                size_t pn = line_to_pattern(s, n, buf, &p);
                if (pn == 0)
                        continue;
                bool exception = p[0] == '!';
                if (exception && pn == 1) {
                        dockerignore_free(di);
                        return berth_error_set(err, EINVAL,
                                               "line %u: illegal exclusion pattern: \"!\"", line);
                }
                if (exception)
                        p++, pn--;
                if (!pattern_valid(p, pn)) {
                        dockerignore_free(di);
                        return berth_error_set(err, EINVAL, "line %u: syntax error in pattern '%.*s'",
                                               line, (int)pn, p);
                }
                struct pattern *pat = pattern_add(di);
                pat->text = xmalloc(pn + 1); /* the text may hold a NUL: no xstrndup */
                memcpy(pat->text, p, pn);
                pat->text[pn] = '\0';
                pat->len = pn;
                pat->exception = exception;
                di->exceptions |= exception;
                pattern_compile(pat);
        }
        *ret = di;
        return 0;
}

/* Appends the literal exception path when the list excludes it. */
static void keep_file(struct dockerignore *di, const char *path)
{
        if (!dockerignore_excluded(di, path))
                return;
        struct pattern *p = pattern_add(di);
        p->text = xstrdup(path);
        p->len = strlen(path);
        p->exception = true;
        p->type = PAT_EXACT;
        di->exceptions = true;
}

void dockerignore_keep_build_files(struct dockerignore *di, const char *dockerfile,
                                   bool dockerfile_from_stdin)
{
        keep_file(di, ".dockerignore");
        if (dockerfile_from_stdin || !dockerfile)
                return;
        size_t n = strlen(dockerfile);
        _cleanup_free_ char *clean = xmalloc(n + 2);
        size_t cn = path_clean_n(dockerfile, n, clean);
        clean[cn] = '\0';
        if (clean[0] == '/' || strcmp(clean, ".") == 0 ||
            (cn >= 2 && clean[0] == '.' && clean[1] == '.' && (cn == 2 || clean[2] == '/')))
                return;
        keep_file(di, clean);
}
