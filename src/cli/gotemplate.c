/*
 * gotemplate.c — executor of the Go text/template subset described in
 * gotemplate.h (the lexer and parser are gotemplate-parse.c).
 *
 * How it works: the node tree is walked with Go's exec.go semantics.
 * Values are JSON nodes, either borrowed from the data or created during
 * execution and kept in an arena that is freed when execution ends (and
 * after each range iteration that assigned no variable, so long ranges run
 * in bounded memory).  "boxed" marks a value read out of a map or slice: Go
 * sees it as interface{} until a pipeline stage ends, which decides the
 * wording of some errors.  Functions take Go's parameter kinds
 * (reflect.Value, interface{}, string, int) so argument errors read as Go's.
 *
 * Errors are returned, never printed: "template: :L:C: executing \"\" at
 * <node>: …".  Bounds: an operation and an output budget, so hostile
 * templates end with an error.
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

#define MAX_OPS       (10 * 1000 * 1000)
#define MAX_OUTPUT    (64u << 20)
#define MAX_ARENA_STR (64u << 20)

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
        const struct json **slices; /* split's results: Go's []string, not []interface{} */
        size_t nslices;
        const struct json *root; /* with root_type: the data, a Go struct */
        const char *root_type;
        const struct json *methods;              /* the struct's one-argument methods */
        const struct gotemplate_object *objects; /* structs and maps described by the caller */
        size_t n_objects;
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
                return berth_error_set(s->err, EINVAL, "template: %s: %s", s->t->name, m);
        const char *text = s->t->text;
        size_t pos = s->node->pos;
        int line = gt_line_of(text, pos);
        size_t col = pos;
        const char *nl = NULL;
        for (size_t i = 0; i < pos; i++)
                if (text[i] == '\n')
                        nl = text + i;
        if (nl)
                col = pos - (size_t)(nl + 1 - text);
        _cleanup_buf_ struct berth_buf ctx = BERTH_BUF_INIT;
        gt_node_string(&ctx, s->node);
        return berth_error_set(s->err, EINVAL, "template: %s:%d:%zu: executing \"%s\" at <%s>: %s",
                               s->t->name, line, col, s->t->name, ctx.data ? ctx.data : "", m);
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
                for (size_t i = 0; i < s->nslices; i++)
                        if (s->slices[i] == j)
                                s->slices[i] = s->slices[--s->nslices];
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
        struct json *j = json_new_int(i);
        j->num.flags |= GT_NUM_GO_INT;
        return (struct tval){own(s, j), false};
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
                if (json_get(s->methods, name))
                        return x_error(s, "wrong number of args for %s: want 1 got 0", name);
                ret->j = json_get(recv.j, name);
                ret->boxed = false;
                if (!ret->j)
                        return x_error(s, "can't evaluate field %s in type %s", name, s->root_type);
                if (has_args)
                        return x_error(s, "wrong number of args for %s: want 0 got 1", name);
                return 0;
        }
        const struct gotemplate_object *o = NULL;
        for (size_t i = 0; recv.j->type == JSON_OBJECT && i < s->n_objects; i++)
                if (s->objects[i].object == recv.j)
                        o = &s->objects[i];
        if (o && o->type) {
                ret->j = json_get(recv.j, name);
                if (!ret->j)
                        ret->j = json_get(o->zero, name);
                ret->boxed = false;
                if (!ret->j)
                        return x_error(s, "can't evaluate field %s in type %s", name, o->type);
                if (has_args)
                        return x_error(s, "%s has arguments but cannot be invoked as function",
                                       name);
                return 0;
        }
        if (recv.j->type == JSON_OBJECT) {
                if (has_args)
                        return x_error(s, "%s is not a method but has arguments", name);
                ret->j = json_get(recv.j, name);
                if (!ret->j && o)
                        ret->j = json_get(o->zero, name);
                if (!ret->j && (s->flags & GOTEMPLATE_MISSINGKEY_ERROR)) {
                        _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
                        gotemplate_quote(&q, name, strlen(name));
                        return x_error(s, "map has no entry for key %s", q.data);
                }
                /* map[string]interface{} elements are interfaces; map[string]string ones are not */
                ret->boxed = !gt_object_all_strings(recv.j);
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
                        else if (gt_object_all_strings(item.j))
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
                if (c->argv[i + 1].boxed && c->argv[i + 1].j) {
                        /* Go's slice (unlike index) does not look inside interfaces */
                        call_fail(c, "cannot index slice/array with type interface {}");
                        return;
                }
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
        default: {
                /* Go's wording: the second operand printed with %s, then its type */
                _cleanup_buf_ struct berth_buf sa = BERTH_BUF_INIT, sb = BERTH_BUF_INIT;
                gt_sprintf(&sa, "%s", 2, &a, 1);
                if (a->type == b->type) {
                        gt_sprintf(&sb, "%s", 2, &b, 1);
                        call_fail(c, "non-comparable type %s: %s", sb.data, gt_type_name(b));
                } else {
                        gt_sprintf(&sb, "%v", 2, &b, 1);
                        call_fail(c, "non-comparable types %s: %s, %s: %s", sa.data,
                                  gt_type_name(a), gt_type_name(b), sb.data);
                }
                return -1;
        }
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
        struct state *s = c->s;
        s->slices = xrealloc(s->slices, (s->nslices + 1) * sizeof(*s->slices));
        s->slices[s->nslices++] = a;
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

/* Simple case mapping for Latin-1, Latin Extended-A, Greek and Cyrillic (unicode.ToUpper/ToLower).
 */
static uint32_t rune_upper(uint32_t r)
{
        if (r >= 'a' && r <= 'z')
                return r - 32;
        if (r < 0x80)
                return r;
        if (r == 0xb5)
                return 0x39c;
        if (r >= 0xe0 && r <= 0xfe && r != 0xf7)
                return r - 32;
        if (r == 0xff)
                return 0x178;
        if (r == 0x131)
                return 'I';
        if (r == 0x17f)
                return 'S';
        if ((r >= 0x100 && r <= 0x12f) || (r >= 0x132 && r <= 0x137) || (r >= 0x14a && r <= 0x177))
                return r & 1 ? r - 1 : r;
        if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17e))
                return r & 1 ? r : r - 1;
        if (r == 0x3c2)
                return 0x3a3;
        if ((r >= 0x3b1 && r <= 0x3c9) || (r >= 0x430 && r <= 0x44f))
                return r - 32;
        if (r >= 0x450 && r <= 0x45f)
                return r - 80;
        return r;
}

static uint32_t rune_lower(uint32_t r)
{
        if (r >= 'A' && r <= 'Z')
                return r + 32;
        if (r < 0x80)
                return r;
        if (r >= 0xc0 && r <= 0xde && r != 0xd7)
                return r + 32;
        if (r == 0x178)
                return 0xff;
        if (r == 0x130)
                return 'i';
        if ((r >= 0x100 && r <= 0x12f) || (r >= 0x132 && r <= 0x137) || (r >= 0x14a && r <= 0x177))
                return r & 1 ? r : r + 1;
        if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17e))
                return r & 1 ? r + 1 : r;
        if ((r >= 0x391 && r <= 0x3a9 && r != 0x3a2) || (r >= 0x410 && r <= 0x42f))
                return r + 32;
        if (r >= 0x400 && r <= 0x40f)
                return r + 80;
        return r;
}

static bool unicode_space(uint32_t r)
{
        return r == 0x85 || r == 0xa0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200a) ||
               r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000;
}

static void put_utf8(struct berth_buf *b, uint32_t r)
{
        char e[4];
        if (r < 0x80) {
                buf_putc(b, (char)r);
        } else if (r < 0x800) {
                e[0] = (char)(0xc0 | (r >> 6));
                e[1] = (char)(0x80 | (r & 0x3f));
                buf_append(b, e, 2);
        } else if (r < 0x10000) {
                e[0] = (char)(0xe0 | (r >> 12));
                e[1] = (char)(0x80 | ((r >> 6) & 0x3f));
                e[2] = (char)(0x80 | (r & 0x3f));
                buf_append(b, e, 3);
        } else {
                e[0] = (char)(0xf0 | (r >> 18));
                e[1] = (char)(0x80 | ((r >> 12) & 0x3f));
                e[2] = (char)(0x80 | ((r >> 6) & 0x3f));
                e[3] = (char)(0x80 | (r & 0x3f));
                buf_append(b, e, 4);
        }
}

/* Next rune of s; invalid UTF-8 is U+FFFD of one byte (as Go's range over a string). */
static size_t utf8_next(const char *s, size_t len, uint32_t *r)
{
        unsigned char c = (unsigned char)s[0];
        size_t n = c < 0x80 ? 1 : c >= 0xf5 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (n == 0 || n > len) {
                *r = 0xfffd;
                return 1;
        }
        uint32_t v = n == 1 ? c : c & (0x3f >> (n - 1));
        for (size_t i = 1; i < n; i++) {
                if (((unsigned char)s[i] & 0xc0) != 0x80) {
                        *r = 0xfffd;
                        return 1;
                }
                v = (v << 6) | ((unsigned char)s[i] & 0x3f);
        }
        if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
            (n == 4 && (v < 0x10000 || v > 0x10ffff))) {
                *r = 0xfffd;
                return 1;
        }
        *r = v;
        return n;
}

/* strings.ToLower / ToUpper / Title ('l', 'u', 't'). */
static void fn_case(struct call *c, int mode)
{
        size_t len;
        const char *str = sarg(c, 0, &len);
        bool ascii = true;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)str[i] >= 0x80)
                        ascii = false;
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        bool prev_sep = true; /* Title: a letter after a separator is upper-cased */
        for (size_t i = 0; i < len;) {
                uint32_t r;
                size_t n = utf8_next(str + i, len - i, &r);
                uint32_t out = r;
                if (mode == 'l')
                        out = rune_lower(r);
                else if (mode == 'u')
                        out = rune_upper(r);
                else {
                        if (prev_sep)
                                out = rune_upper(r);
                        if (r < 0x80)
                                prev_sep = !((r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') ||
                                             (r >= 'A' && r <= 'Z') || r == '_');
                        else
                                prev_sep = unicode_space(r);
                }
                if (ascii)
                        buf_putc(&b, (char)out);
                else
                        put_utf8(&b, out);
                i += n;
        }
        result_buf(c, &b);
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

/* Go's evalArgs: a lone string argument as is, anything else fmt.Sprint'ed. */
static void eval_args_string(struct call *c, struct berth_buf *b)
{
        if (c->argc == 1 && c->argv[0].j && c->argv[0].j->type == JSON_STRING) {
                buf_append(b, c->argv[0].j->str.s, c->argv[0].j->str.len);
                return;
        }
        _cleanup_free_ const struct json **v = arg_jsons(c, 0);
        /* printableValue: a missing value prints as "<no value>" here */
        struct json novalue = {.type = JSON_STRING};
        novalue.str.s = (char *)"<no value>";
        novalue.str.len = 10;
        for (size_t i = 0; i < c->argc; i++)
                if (!v[i])
                        v[i] = &novalue;
        gt_sprint(b, v, c->argc);
}

static void fn_html(struct call *c)
{
        _cleanup_buf_ struct berth_buf in = BERTH_BUF_INIT, b = BERTH_BUF_INIT;
        eval_args_string(c, &in);
        for (size_t i = 0; i < in.len; i++) {
                char ch = in.data[i];
                if (ch == '&')
                        buf_puts(&b, "&amp;");
                else if (ch == '\'')
                        buf_puts(&b, "&#39;");
                else if (ch == '<')
                        buf_puts(&b, "&lt;");
                else if (ch == '>')
                        buf_puts(&b, "&gt;");
                else if (ch == '"')
                        buf_puts(&b, "&#34;");
                else if (ch == '\0')
                        buf_puts(&b, "\xef\xbf\xbd");
                else
                        buf_putc(&b, ch);
        }
        result_buf(c, &b);
}

static void fn_js(struct call *c)
{
        _cleanup_buf_ struct berth_buf in = BERTH_BUF_INIT, b = BERTH_BUF_INIT;
        eval_args_string(c, &in);
        for (size_t i = 0; i < in.len; i++) {
                unsigned char ch = (unsigned char)in.data[i];
                if (ch == '\\')
                        buf_puts(&b, "\\\\");
                else if (ch == '\'')
                        buf_puts(&b, "\\'");
                else if (ch == '"')
                        buf_puts(&b, "\\\"");
                else if (ch == '<' || ch == '>' || ch == '&' || ch == '=' || ch < ' ')
                        buf_printf(&b, "\\u%04X", ch);
                else
                        buf_putc(&b, (char)ch);
        }
        result_buf(c, &b);
}

static void fn_urlquery(struct call *c)
{
        _cleanup_buf_ struct berth_buf in = BERTH_BUF_INIT, b = BERTH_BUF_INIT;
        eval_args_string(c, &in);
        for (size_t i = 0; i < in.len; i++) {
                unsigned char ch = (unsigned char)in.data[i];
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
                        buf_putc(&b, (char)ch);
                else if (ch == ' ')
                        buf_putc(&b, '+');
                else
                        buf_printf(&b, "%%%02X", ch);
        }
        result_buf(c, &b);
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
    {"html", fn_html, 0, true, {P_ANY}, false},
    {"js", fn_js, 0, true, {P_ANY}, false},
    {"urlquery", fn_urlquery, 0, true, {P_ANY}, false},
};

static const struct func *find_func(const char *name, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(funcs); i++)
                if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0)
                        return &funcs[i];
        return NULL;
}

bool gt_function_exists(const char *name, size_t len)
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
        /* an int parameter takes the template's ints, not the data's int64s (as Go) */
        bool ok = t == P_STRING ? v.j->type == JSON_STRING
                                : gt_is_int(v.j) && (v.j->num.flags & GT_NUM_GO_INT);
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
                gt_node_string(&b, cmd_first);
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
                gt_node_string(&b, chain);
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
                if (t == P_ANY || t == P_NONE || t == P_VALUE) {
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
        /* as Go: a type error names the node evaluated last, not the argument */
        return validate(s, v, t, ret);
}

/* {{.Label "key"}} on a typed root: a method with one string argument. */
static int eval_method(struct state *s, struct tval dot, const struct node *cmd,
                       const struct tval *final, struct tval *ret)
{
        const struct node *first = cmd->kids[0];
        const char *name = first->idents[0];
        size_t nargs = cmd->nkids - 1 + (final ? 1 : 0);
        if (nargs != 1)
                return x_error(s, "wrong number of args for %s: want 1 got %zu", name, nargs);
        struct tval arg;
        int r = final ? validate(s, *final, P_STRING, &arg)
                      : eval_arg(s, dot, P_STRING, cmd->kids[1], &arg);
        if (r < 0)
                return r;
        const struct json *v = json_get(json_get(s->methods, name), arg.j->str.s);
        *ret = json_is(v, JSON_STRING) ? (struct tval){v, false} : str_val(s, "", 0);
        return 0;
}

/* docker's SubHeaderContext.Label: the header of {{.Label "com.x.foo-bar"}} is "foo bar". */
static int eval_header_label(struct state *s, struct tval dot, const struct node *cmd,
                             const struct tval *final, struct tval *ret)
{
        size_t nargs = cmd->nkids - 1 + (final ? 1 : 0);
        if (nargs != 1)
                return x_error(s, "wrong number of args for Label: want 1 got %zu", nargs);
        struct tval arg;
        int r = final ? validate(s, *final, P_STRING, &arg)
                      : eval_arg(s, dot, P_STRING, cmd->kids[1], &arg);
        if (r < 0)
                return r;
        const char *name = arg.j->str.s;
        const char *last = strrchr(name, '.');
        last = last ? last + 1 : name;
        *ret = str_val(s, last, strlen(last));
        for (char *p = ((struct json *)ret->j)->str.s; *p; p++)
                if (*p == '-' || *p == '_')
                        *p = ' ';
        return 0;
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
                if (first->nidents == 1 && s->methods && dot.j == s->root && !dot.boxed &&
                    json_get(s->methods, first->idents[0]))
                        return eval_method(s, dot, cmd, final, ret);
                if ((s->flags & GOTEMPLATE_HEADER) && first->nidents == 1 && has_args &&
                    strcmp(first->idents[0], "Label") == 0 && json_is(dot.j, JSON_OBJECT))
                        return eval_header_label(s, dot, cmd, final, ret);
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
        bool all_strings = false;
        bool string_slice = false;
        for (size_t k = 0; j && k < s->nslices; k++)
                if (s->slices[k] == j)
                        string_slice = true;
        if (!j) {
                count = 0;
        } else if (j->type == JSON_ARRAY) {
                count = j->arr.n;
        } else if (j->type == JSON_OBJECT) {
                count = j->obj.n;
                all_strings = gt_object_all_strings(j);
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
                        elem = (struct tval){j->arr.items[i], !string_slice};
                } else if (j->type == JSON_OBJECT) {
                        index = str_val(s, members[i]->key, strlen(members[i]->key));
                        elem = (struct tval){members[i]->value, !all_strings};
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
        return gotemplate_exec_typed(t, data, NULL, NULL, flags, out, err);
}

int gotemplate_exec_objects(const struct gotemplate *t, const struct json *data,
                            const struct gotemplate_object *objects, size_t n_objects,
                            unsigned flags, struct berth_buf *out, struct berth_error **err)
{
        struct state s = {.t = t,
                          .out = out,
                          .flags = flags,
                          .err = err,
                          .objects = objects,
                          .n_objects = n_objects};
        struct tval root = unbox((struct tval){data, false});
        push_var(&s, "$", root);
        buf_append(out, "", 0);
        int r = walk(&s, root, t->root);
        arena_release(&s, 0);
        free(s.arena);
        free(s.slices);
        free(s.vars);
        return r < 0 ? r : 0;
}

int gotemplate_exec_typed(const struct gotemplate *t, const struct json *data,
                          const char *root_type, const struct json *methods, unsigned flags,
                          struct berth_buf *out, struct berth_error **err)
{
        struct state s = {.t = t, .out = out, .flags = flags, .err = err};
        if (root_type && json_is(data, JSON_OBJECT)) {
                s.root = data;
                s.root_type = root_type;
                s.methods = json_is(methods, JSON_OBJECT) ? methods : NULL;
        }
        struct tval root = unbox((struct tval){data, false});
        push_var(&s, "$", root);
        buf_append(out, "", 0);
        int r = walk(&s, root, t->root);
        arena_release(&s, 0);
        free(s.arena);
        free(s.slices);
        free(s.vars);
        return r < 0 ? r : 0;
}
