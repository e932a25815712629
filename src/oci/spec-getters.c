/*
 * spec-getters.c — typed reads of config.json values with the JSON path in
 * every error message.
 *
 * The parse context keeps the path of the value being read in a growable
 * buffer; callers push a key or an index before descending and pop it after,
 * so "linux.resources.memory.limit: expected integer, got string" costs no
 * bookkeeping in the parser proper.  Integers must be JSON integers that fit
 * the field's C type exactly (Go's encoding/json refuses 1.5 or -1 for a
 * uint32 too); strings must not contain NUL bytes, since everything here ends
 * up in C strings and paths.
 *
 * Never: accept a value of the wrong type silently, or truncate a number.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "oci/spec-internal.h"

size_t ctx_push_key(struct spec_ctx *c, const char *key)
{
        size_t saved = c->path.len;
        if (c->path.len > 0)
                buf_putc(&c->path, '.');
        buf_puts(&c->path, key);
        return saved;
}

size_t ctx_push_map_key(struct spec_ctx *c, const char *key)
{
        size_t saved = c->path.len;
        buf_printf(&c->path, "[\"%s\"]", key);
        return saved;
}

size_t ctx_push_idx(struct spec_ctx *c, size_t idx)
{
        size_t saved = c->path.len;
        buf_printf(&c->path, "[%zu]", idx);
        return saved;
}

void ctx_pop(struct spec_ctx *c, size_t saved)
{
        c->path.len = saved;
        if (c->path.data)
                c->path.data[saved] = '\0';
}

/*
 * Messages quote names and paths from the document: keep them one printable
 * line of bounded length, whatever the document holds.
 */
#define MSG_MAX 512

static char *sanitize_message(const char *m)
{
        struct berth_buf b = BERTH_BUF_INIT;
        for (const unsigned char *p = (const unsigned char *)m; *p; p++) {
                if (b.len >= MSG_MAX) {
                        buf_puts(&b, "...");
                        break;
                }
                if (*p < 0x20 || *p == 0x7f)
                        buf_printf(&b, "\\x%02x", *p);
                else
                        buf_putc(&b, (char)*p);
        }
        return buf_steal(&b);
}

_printf_(3, 0) static int ctx_vfail(struct spec_ctx *c, const char *key, const char *fmt,
                                    va_list ap)
{
        _cleanup_free_ char *msg = NULL, *full = NULL, *clean = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                berth_oom();
        const char *path = c->path.len > 0 ? c->path.data : "";
        if (key)
                full = xasprintf("%s%s%s: %s", path, *path ? "." : "", key, msg);
        else if (*path)
                full = xasprintf("%s: %s", path, msg);
        else
                full = TAKE_PTR(msg);
        clean = sanitize_message(full);
        return berth_error_set(c->err, EINVAL, "%s", clean);
}

int ctx_fail(struct spec_ctx *c, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = ctx_vfail(c, NULL, fmt, ap);
        va_end(ap);
        return r;
}

int ctx_fail_key(struct spec_ctx *c, const char *key, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = ctx_vfail(c, key, fmt, ap);
        va_end(ap);
        return r;
}

static bool absent(const struct json *v)
{
        return !v || v->type == JSON_NULL;
}

static int wrong_type(struct spec_ctx *c, const char *expected, const struct json *v)
{
        return ctx_fail(c, "expected %s, got %s", expected, json_type_name(v->type));
}

int val_string(struct spec_ctx *c, const struct json *v, char **ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_STRING)
                return wrong_type(c, "string", v);
        if (strlen(v->str.s) != v->str.len)
                return ctx_fail(c, "string contains a NUL byte");
        free(*ret);
        *ret = xstrdup(v->str.s);
        return 1;
}

int val_strv(struct spec_ctx *c, const struct json *v, char ***ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_ARRAY)
                return wrong_type(c, "array of strings", v);
        _cleanup_strv_free_ char **l = xcalloc(v->arr.n + 1, sizeof(char *));
        for (size_t i = 0; i < v->arr.n; i++) {
                const struct json *e = v->arr.items[i];
                size_t saved = ctx_push_idx(c, i);
                int r = absent(e) ? wrong_type(c, "string", e) : val_string(c, e, &l[i]);
                ctx_pop(c, saved);
                if (r < 0)
                        return r;
        }
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 1;
}

/* The number as the document wrote it, near enough for a message. */
static void number_text(const struct json *v, char *buf, size_t size)
{
        if (v->num.flags & JSON_NUM_INT)
                snprintf(buf, size, "%" PRId64, v->num.i);
        else if (v->num.flags & JSON_NUM_UINT)
                snprintf(buf, size, "%" PRIu64, v->num.u);
        else
                snprintf(buf, size, "%.17g", v->num.d);
}

static int out_of_range(struct spec_ctx *c, const struct json *v, const char *what)
{
        char num[64];
        number_text(v, num, sizeof(num));
        return ctx_fail(c, "%s is not %s", num, what);
}

int val_u64(struct spec_ctx *c, const struct json *v, uint64_t *ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_NUMBER)
                return wrong_type(c, "unsigned integer", v);
        if (!(v->num.flags & JSON_NUM_UINT))
                return out_of_range(c, v, "an unsigned 64-bit integer");
        *ret = v->num.u;
        return 1;
}

int val_i64(struct spec_ctx *c, const struct json *v, int64_t *ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_NUMBER)
                return wrong_type(c, "integer", v);
        if (!(v->num.flags & JSON_NUM_INT))
                return out_of_range(c, v, "a 64-bit integer");
        *ret = v->num.i;
        return 1;
}

static int val_ranged_uint(struct spec_ctx *c, const struct json *v, uint64_t max, const char *what,
                           uint64_t *ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_NUMBER)
                return wrong_type(c, "unsigned integer", v);
        if (!(v->num.flags & JSON_NUM_UINT) || v->num.u > max)
                return out_of_range(c, v, what);
        *ret = v->num.u;
        return 1;
}

int val_u32(struct spec_ctx *c, const struct json *v, uint32_t *ret)
{
        uint64_t u = 0;
        int r = val_ranged_uint(c, v, UINT32_MAX, "an unsigned 32-bit integer", &u);
        if (r > 0)
                *ret = (uint32_t)u;
        return r;
}

int val_u16(struct spec_ctx *c, const struct json *v, uint16_t *ret)
{
        uint64_t u = 0;
        int r = val_ranged_uint(c, v, UINT16_MAX, "an unsigned 16-bit integer", &u);
        if (r > 0)
                *ret = (uint16_t)u;
        return r;
}

int val_i32(struct spec_ctx *c, const struct json *v, int32_t *ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_NUMBER)
                return wrong_type(c, "integer", v);
        if (!(v->num.flags & JSON_NUM_INT) || v->num.i < INT32_MIN || v->num.i > INT32_MAX)
                return out_of_range(c, v, "a 32-bit integer");
        *ret = (int32_t)v->num.i;
        return 1;
}

int val_bool(struct spec_ctx *c, const struct json *v, bool *ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_BOOL)
                return wrong_type(c, "boolean", v);
        *ret = v->b;
        return 1;
}

int val_object(struct spec_ctx *c, const struct json *v, const struct json **ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_OBJECT)
                return wrong_type(c, "object", v);
        *ret = v;
        return 1;
}

int val_array(struct spec_ctx *c, const struct json *v, const struct json **ret)
{
        if (absent(v))
                return 0;
        if (v->type != JSON_ARRAY)
                return wrong_type(c, "array", v);
        *ret = v;
        return 1;
}

/* Look key up, push it, run the value check, pop; enforce "required". */
#define GET_WITH(c, obj, key, required, check)                                                     \
        ({                                                                                         \
                const struct json *_v = json_get((obj), (key));                                    \
                size_t _saved = ctx_push_key((c), (key));                                          \
                int _r = check;                                                                    \
                if (_r == 0 && (required))                                                         \
                        _r = ctx_fail((c), "missing required field");                              \
                ctx_pop((c), _saved);                                                              \
                _r;                                                                                \
        })

int get_string(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
               char **ret)
{
        return GET_WITH(c, obj, key, required, val_string(c, _v, ret));
}

int get_strv(struct spec_ctx *c, const struct json *obj, const char *key, char ***ret)
{
        return GET_WITH(c, obj, key, false, val_strv(c, _v, ret));
}

int get_u64(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            uint64_t *ret)
{
        return GET_WITH(c, obj, key, required, val_u64(c, _v, ret));
}

int get_i64(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            int64_t *ret)
{
        return GET_WITH(c, obj, key, required, val_i64(c, _v, ret));
}

int get_u32(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            uint32_t *ret)
{
        return GET_WITH(c, obj, key, required, val_u32(c, _v, ret));
}

int get_i32(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            int32_t *ret)
{
        return GET_WITH(c, obj, key, required, val_i32(c, _v, ret));
}

int get_u16(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            uint16_t *ret)
{
        return GET_WITH(c, obj, key, required, val_u16(c, _v, ret));
}

int get_bool(struct spec_ctx *c, const struct json *obj, const char *key, bool required, bool *ret)
{
        return GET_WITH(c, obj, key, required, val_bool(c, _v, ret));
}

int get_object(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
               const struct json **ret)
{
        return GET_WITH(c, obj, key, required, val_object(c, _v, ret));
}

int get_array(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
              const struct json **ret)
{
        return GET_WITH(c, obj, key, required, val_array(c, _v, ret));
}

void kv_free(struct oci_kv *kv, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

int get_string_map(struct spec_ctx *c, const struct json *obj, const char *key, struct oci_kv **ret,
                   size_t *ret_n)
{
        const struct json *m = NULL;
        size_t saved = ctx_push_key(c, key);
        int r = val_object(c, json_get(obj, key), &m);
        if (r <= 0)
                goto out;
        struct oci_kv *kv = xcalloc(m->obj.n ? m->obj.n : 1, sizeof(*kv));
        for (size_t i = 0; i < m->obj.n; i++) {
                const struct json_member *mem = &m->obj.m[i];
                size_t s2 = ctx_push_map_key(c, mem->key);
                if (strlen(mem->key) == 0)
                        r = ctx_fail(c, "empty key");
                else if (absent(mem->value))
                        r = wrong_type(c, "string", mem->value);
                else
                        r = val_string(c, mem->value, &kv[i].value);
                ctx_pop(c, s2);
                if (r < 0) {
                        kv_free(kv, i + 1);
                        goto out;
                }
                kv[i].key = xstrdup(mem->key);
        }
        kv_free(*ret, *ret_n);
        *ret = kv;
        *ret_n = m->obj.n;
        r = 1;
out:
        ctx_pop(c, saved);
        return r;
}

static int parse_id_mapping(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                            void *userdata)
{
        struct oci_id_mapping *m = elem;
        int r;
        if ((r = get_u32(c, o, "containerID", REQUIRED, &m->container_id)) < 0 ||
            (r = get_u32(c, o, "hostID", REQUIRED, &m->host_id)) < 0 ||
            (r = get_u32(c, o, "size", REQUIRED, &m->size)) < 0)
                return r;
        return 0;
}

int parse_id_mappings(struct spec_ctx *c, const struct json *obj, const char *key,
                      struct oci_id_mapping **ret, size_t *ret_n)
{
        return get_object_array(c, obj, key, sizeof(**ret), (void **)ret, ret_n, parse_id_mapping,
                                NULL);
}

int get_object_array(struct spec_ctx *c, const struct json *obj, const char *key, size_t elem_size,
                     void **ret, size_t *ret_n, spec_elem_fn fn, void *userdata)
{
        const struct json *a = NULL;
        size_t saved = ctx_push_key(c, key);
        int r = val_array(c, json_get(obj, key), &a);
        if (r > 0) {
                /* Linked in before filling: the owner's free releases a partial array. */
                char *v = xcalloc(a->arr.n ? a->arr.n : 1, elem_size);
                *ret = v;
                *ret_n = a->arr.n;
                for (size_t i = 0; i < a->arr.n && r >= 0; i++) {
                        const struct json *o = NULL;
                        size_t s2 = ctx_push_idx(c, i);
                        r = val_object(c, a->arr.items[i], &o);
                        if (r == 0)
                                r = ctx_fail(c, "expected object, got null");
                        if (r > 0)
                                r = fn(c, o, v + i * elem_size, i, userdata);
                        ctx_pop(c, s2);
                }
        }
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}
