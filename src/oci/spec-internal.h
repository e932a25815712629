/*
 * spec-internal.h — what the config.json parser's files share, and nothing
 * outside src/oci/ may include: the parse context that tracks the JSON path
 * of the value being read, and typed getters over base/json.h.
 *
 * Every getter follows one convention: it returns 1 when the value is present
 * and valid (and stores it), 0 when it is absent or JSON null (Go's
 * encoding/json, which runc uses, treats null as "not set"), and a negative
 * errno after filling the error with "<json path>: <reason>".  Getters that
 * take a key push it onto the path themselves; the val_* forms check a value
 * whose path the caller has already pushed.
 *
 * Never: report an error without the JSON path, or leave a half-built value
 * that the oci_*_free() functions cannot release (arrays are allocated zeroed
 * at their full length before any element is parsed).
 */
#ifndef BERTH_OCI_SPEC_INTERNAL_H
#define BERTH_OCI_SPEC_INTERNAL_H

#include "base/buf.h"
#include "oci/runtime-spec.h"

struct spec_ctx {
        struct berth_buf path; /* "linux.namespaces[2].type" */
        struct berth_error **err;
};

enum {
        REQUIRED = true,
        OPTIONAL = false,
};

size_t ctx_push_key(struct spec_ctx *c, const char *key);
size_t ctx_push_map_key(struct spec_ctx *c, const char *key); /* sysctl["net.ipv4.x"] */
size_t ctx_push_idx(struct spec_ctx *c, size_t idx);
void ctx_pop(struct spec_ctx *c, size_t saved);
/* Error at the current path: "<path>: <message>" (EINVAL). */
_printf_(2, 3) int ctx_fail(struct spec_ctx *c, const char *fmt, ...);
/* Error at path + "." + key, without pushing. */
_printf_(3, 4) int ctx_fail_key(struct spec_ctx *c, const char *key, const char *fmt, ...);

/* Checks on a value whose path is pushed.  NULL or JSON null: 0. */
int val_string(struct spec_ctx *c, const struct json *v, char **ret);
int val_strv(struct spec_ctx *c, const struct json *v, char ***ret);
int val_u64(struct spec_ctx *c, const struct json *v, uint64_t *ret);
int val_i64(struct spec_ctx *c, const struct json *v, int64_t *ret);
int val_u32(struct spec_ctx *c, const struct json *v, uint32_t *ret);
int val_i32(struct spec_ctx *c, const struct json *v, int32_t *ret);
int val_u16(struct spec_ctx *c, const struct json *v, uint16_t *ret);
int val_bool(struct spec_ctx *c, const struct json *v, bool *ret);
/* Type checks only; *ret points into the document. */
int val_object(struct spec_ctx *c, const struct json *v, const struct json **ret);
int val_array(struct spec_ctx *c, const struct json *v, const struct json **ret);

/* Member of obj by key; required and absent: "<path>.<key>: missing required field". */
int get_string(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
               char **ret);
int get_strv(struct spec_ctx *c, const struct json *obj, const char *key, char ***ret);
int get_u64(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            uint64_t *ret);
int get_i64(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            int64_t *ret);
int get_u32(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            uint32_t *ret);
int get_i32(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            int32_t *ret);
int get_u16(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
            uint16_t *ret);
int get_bool(struct spec_ctx *c, const struct json *obj, const char *key, bool required, bool *ret);
int get_object(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
               const struct json **ret);
int get_array(struct spec_ctx *c, const struct json *obj, const char *key, bool required,
              const struct json **ret);
/* A JSON object of string values, in document order. */
int get_string_map(struct spec_ctx *c, const struct json *obj, const char *key, struct oci_kv **ret,
                   size_t *ret_n);

/* An array of objects: allocates *ret zeroed at full length (and sets *ret_n)
 * before calling fn on each element with its index pushed on the path.  fn
 * returns 0 or a negative errno.  Returns 0 or a negative errno. */
typedef int (*spec_elem_fn)(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                            void *userdata);
int get_object_array(struct spec_ctx *c, const struct json *obj, const char *key, size_t elem_size,
                     void **ret, size_t *ret_n, spec_elem_fn fn, void *userdata);

/* Shared between the general and the linux section. */
int parse_id_mappings(struct spec_ctx *c, const struct json *obj, const char *key,
                      struct oci_id_mapping **ret, size_t *ret_n);
void kv_free(struct oci_kv *kv, size_t n);

/* runtime-spec-linux.c */
int parse_linux(struct spec_ctx *c, const struct json *v, struct oci_linux **ret);
void oci_linux_free(struct oci_linux *l);

#endif
