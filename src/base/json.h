/*
 * json.h — a small JSON document model: parse, inspect, build, emit.
 *
 * Every parser of untrusted JSON in berth (config.json, image manifests and
 * configs, Docker API request bodies) goes through json_parse(), which is
 * strict RFC 8259 (no comments, no trailing commas, no NaN), bounds nesting
 * depth, keeps 64-bit integers exact, and reports "line L column C: reason".
 * Objects keep insertion order; a duplicate key keeps the last value, as Go's
 * encoding/json does (Docker and runc are Go programs, so users expect it).
 *
 * Never: trust a length from the input, recurse without the depth bound.
 */
#ifndef BERTH_BASE_JSON_H
#define BERTH_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum json_type {
        JSON_NULL,
        JSON_BOOL,
        JSON_NUMBER,
        JSON_STRING,
        JSON_ARRAY,
        JSON_OBJECT,
};

enum json_num_flags {
        JSON_NUM_INT = 1 << 0,  /* integral and fits int64_t (see .i) */
        JSON_NUM_UINT = 1 << 1, /* integral, non-negative and fits uint64_t (see .u) */
};

struct json;

struct json_member {
        char *key;
        struct json *value;
};

struct json {
        enum json_type type;
        union {
                bool b;
                struct {
                        double d;
                        int64_t i;
                        uint64_t u;
                        unsigned flags; /* enum json_num_flags */
                } num;
                struct {
                        char *s; /* NUL-terminated; may contain NULs before len */
                        size_t len;
                } str;
                struct {
                        struct json **items;
                        size_t n, cap;
                } arr;
                struct {
                        struct json_member *m;
                        size_t n, cap;
                } obj;
        };
};

#define JSON_MAX_DEPTH 256

/* Parse len bytes of buf (need not be NUL-terminated). */
int json_parse(const char *buf, size_t len, struct json **ret, struct berth_error **err);
/* Read and parse a whole file (limit: max_size bytes). */
int json_parse_file(const char *path, size_t max_size, struct json **ret, struct berth_error **err);

void json_free(struct json *j);
static inline void json_freep(struct json **j)
{
        json_free(*j);
}
#define _cleanup_json_ _cleanup_(json_freep)

/* Inspection.  All accept NULL and wrong types gracefully. */
struct json *json_get(const struct json *obj, const char *key);
const char *json_type_name(enum json_type t);
static inline bool json_is(const struct json *j, enum json_type t)
{
        return j && j->type == t;
}
/* String value or NULL when j is not a string. */
const char *json_str(const struct json *j);
size_t json_len(const struct json *j); /* array or object element count, string length */

#define json_array_foreach(array_, idx_, val_)                                                     \
        for ((idx_) = 0; json_is((array_), JSON_ARRAY) && (idx_) < (array_)->arr.n &&              \
                         (((val_) = (array_)->arr.items[(idx_)]), 1);                              \
             (idx_)++)
#define json_object_foreach(object_, idx_, key_, val_)                                             \
        for ((idx_) = 0; json_is((object_), JSON_OBJECT) && (idx_) < (object_)->obj.n &&           \
                         (((key_) = (object_)->obj.m[(idx_)].key),                                 \
                          ((val_) = (object_)->obj.m[(idx_)].value), 1);                           \
             (idx_)++)

/* Construction.  New values are owned by the caller until added to a container. */
struct json *json_new_null(void);
struct json *json_new_bool(bool b);
struct json *json_new_int(int64_t i);
struct json *json_new_uint(uint64_t u);
struct json *json_new_double(double d);
struct json *json_new_string(const char *s);
struct json *json_new_stringn(const char *s, size_t len);
struct json *json_new_array(void);
struct json *json_new_object(void);
/* Takes ownership of val; replaces an existing key.  Returns val. */
struct json *json_object_set(struct json *obj, const char *key, struct json *val);
/* Removes key if present; returns whether it was there. */
bool json_object_del(struct json *obj, const char *key);
/* Takes ownership of val.  Returns val. */
struct json *json_array_append(struct json *arr, struct json *val);
struct json *json_copy(const struct json *j);

/* Convenience setters on objects. */
void json_set_str(struct json *obj, const char *key, const char *s); /* NULL -> null */
void json_set_int(struct json *obj, const char *key, int64_t i);
void json_set_bool(struct json *obj, const char *key, bool b);

enum json_dump_flags {
        JSON_DUMP_PRETTY = 1 << 0, /* two-space indent, as runc spec / docker inspect */
        JSON_DUMP_NO_ESCAPE_HTML = 1 << 1, /* Go escapes <, >, & by default; this turns it off */
};

/* Serialise; returns a malloc'd NUL-terminated string. */
char *json_dump(const struct json *j, unsigned flags);
/* Append a JSON-quoted string to a growing buffer (used by streaming writers). */
struct berth_buf;
void json_quote(struct berth_buf *b, const char *s, size_t len, unsigned flags);
/* Go's json.Compact: JSON text without the white space between tokens, every
 * other byte (escapes included) as it was. */
void json_compact_text(struct berth_buf *b, const char *in, size_t len);

#endif
