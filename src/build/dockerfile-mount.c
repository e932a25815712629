/*
 * dockerfile-mount.c — `RUN --mount=` values as BuildKit reads them (instructions/
 * commands_runmount.go): a CSV record of key=value fields, a type (bind by default), its keys,
 * and the defaults and refusals that depend on the type, with docker's messages.
 *
 * The parser calls this for a value without '$'; one with '$' is checked after expansion at build
 * time, as BuildKit does.  Never: accept a key docker refuses, or fill a field the type forbids.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/units.h"
#include "build/dockerfile.h"
#include "build/dockerfile-internal.h"

static void strv_push(char ***v, size_t *n, char *s)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = s;
        (*v)[*n] = NULL;
}

/* ---- RUN --mount ------------------------------------------------------------------------- */

void dockerfile_mount_release(struct dockerfile_mount *m)
{
        if (!m)
                return;
        free(m->spec);
        free(m->from);
        free(m->source);
        free(m->target);
        free(m->id);
        free(m->env);
        *m = (struct dockerfile_mount){.size = -1};
}

/* The fields of a CSV record, as Go's encoding/csv reads one line. */
static int csv_fields(const char *s, char ***ret)
{
        char **v = NULL;
        size_t n = 0;
        struct berth_buf f = BERTH_BUF_INIT;
        const char *p = s;
        for (;;) {
                buf_reset(&f);
                if (*p == '"') {
                        p++;
                        for (;;) {
                                if (!*p)
                                        goto bad;
                                if (*p == '"') {
                                        if (p[1] == '"') {
                                                buf_putc(&f, '"');
                                                p += 2;
                                                continue;
                                        }
                                        p++;
                                        break;
                                }
                                buf_putc(&f, *p++);
                        }
                        if (*p && *p != ',')
                                goto bad;
                } else {
                        while (*p && *p != ',') {
                                if (*p == '"')
                                        goto bad;
                                buf_putc(&f, *p++);
                        }
                }
                strv_push(&v, &n, xstrdup(f.data ? f.data : ""));
                if (!*p)
                        break;
                p++;
        }
        buf_release(&f);
        *ret = v;
        return 0;
bad:
        buf_release(&f);
        strv_free(v);
        return -EINVAL;
}

/* strconv.ParseBool */
static int parse_go_bool(const char *s, bool *ret)
{
        static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
        static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                if (strcmp(s, t[i]) == 0)
                        return *ret = true, 0;
                if (strcmp(s, f[i]) == 0)
                        return *ret = false, 0;
        }
        return -EINVAL;
}

static int parse_u32(const char *s, int base, uint32_t *ret)
{
        if (!*s)
                return -EINVAL;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                int d = *p >= '0' && *p <= '9' ? *p - '0' : 99;
                if (d >= base)
                        return -EINVAL;
                v = v * (uint64_t)base + (uint64_t)d;
                if (v > UINT32_MAX)
                        return -EINVAL;
        }
        *ret = (uint32_t)v;
        return 0;
}

static const char *const mount_types[] = {"bind", "cache", "tmpfs", "secret", "ssh"};

static int mount_field(struct dockerfile_mount *m, const char *field, bool *ro_auto,
                       struct berth_error **err)
{
        const char *eq = strchr(field, '=');
        _cleanup_free_ char *key = eq ? xstrndup(field, (size_t)(eq - field)) : xstrdup(field);
        for (char *p = key; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        const char *value = eq ? eq + 1 : NULL;
        const char *tname = mount_types[m->type];
        bool b;
        if (!value) {
                if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
                        m->readonly = true, *ro_auto = false;
                } else if (strcmp(key, "readwrite") == 0 || strcmp(key, "rw") == 0) {
                        m->readonly = false, *ro_auto = false;
                } else if (strcmp(key, "required") == 0) {
                        if (m->type != DF_MOUNT_SECRET && m->type != DF_MOUNT_SSH)
                                return berth_error_set(err, EINVAL,
                                                       "unexpected key '%s' for mount type '%s'",
                                                       key, tname);
                        m->required = true;
                } else {
                        return berth_error_set(
                            err, EINVAL, "invalid field '%s' must be a key=value pair", field);
                }
                return 0;
        }
        char **slot = NULL;
        if (strcmp(key, "type") == 0) {
                size_t t = 0;
                while (t < ELEMENTSOF(mount_types) && strcasecmp(value, mount_types[t]) != 0)
                        t++;
                if (t == ELEMENTSOF(mount_types)) {
                        _cleanup_free_ char *q = dockerfile_quote_go(value);
                        return berth_error_set(err, EINVAL, "unsupported mount type %s", q);
                }
                m->type = (enum dockerfile_mount_type)t;
        } else if (strcmp(key, "from") == 0) {
                slot = &m->from;
        } else if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
                slot = &m->source;
        } else if (strcmp(key, "target") == 0 || strcmp(key, "dst") == 0 ||
                   strcmp(key, "destination") == 0) {
                slot = &m->target;
        } else if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0 ||
                   strcmp(key, "readwrite") == 0 || strcmp(key, "rw") == 0) {
                if (parse_go_bool(value, &b) < 0)
                        return berth_error_set(err, EINVAL, "invalid value for %s: %s", key, value);
                m->readonly = key[1] == 'w' || key[4] == 'w' ? !b : b;
                *ro_auto = false;
        } else if (strcmp(key, "required") == 0) {
                if (m->type != DF_MOUNT_SECRET && m->type != DF_MOUNT_SSH)
                        return berth_error_set(
                            err, EINVAL, "unexpected key '%s' for mount type '%s'", key, tname);
                if (parse_go_bool(value, &m->required) < 0)
                        return berth_error_set(err, EINVAL, "invalid value for %s: %s", key, value);
        } else if (strcmp(key, "size") == 0) {
                if (m->type != DF_MOUNT_TMPFS)
                        return berth_error_set(
                            err, EINVAL, "unexpected key '%s' for mount type '%s'", key, tname);
                if (units_ram_in_bytes(value, &m->size, NULL) < 0)
                        return berth_error_set(err, EINVAL, "invalid value for %s: %s", key, value);
        } else if (strcmp(key, "id") == 0) {
                slot = &m->id;
        } else if (strcmp(key, "sharing") == 0) {
                if (strcasecmp(value, "shared") == 0)
                        m->sharing = DF_SHARING_SHARED;
                else if (strcasecmp(value, "private") == 0)
                        m->sharing = DF_SHARING_PRIVATE;
                else if (strcasecmp(value, "locked") == 0)
                        m->sharing = DF_SHARING_LOCKED;
                else {
                        _cleanup_free_ char *q = dockerfile_quote_go(value);
                        return berth_error_set(err, EINVAL, "unsupported sharing value %s", q);
                }
        } else if (strcmp(key, "mode") == 0) {
                if (parse_u32(value, 8, &m->mode) < 0)
                        return berth_error_set(err, EINVAL, "invalid value %s for mode", value);
                m->has_mode = true;
        } else if (strcmp(key, "uid") == 0) {
                if (parse_u32(value, 10, &m->uid) < 0)
                        return berth_error_set(err, EINVAL, "invalid value %s for uid", value);
                m->has_uid = true;
        } else if (strcmp(key, "gid") == 0) {
                if (parse_u32(value, 10, &m->gid) < 0)
                        return berth_error_set(err, EINVAL, "invalid value %s for gid", value);
                m->has_gid = true;
        } else if (strcmp(key, "env") == 0) {
                slot = &m->env;
        } else {
                return berth_error_set(err, EINVAL, "unexpected key '%s' in '%s'", key, field);
        }
        if (slot) {
                free(*slot);
                *slot = xstrdup(value);
        }
        return 0;
}

int dockerfile_mount_parse(const char *spec, struct dockerfile_mount *ret, struct berth_error **err)
{
        dockerfile_mount_release(ret);
        ret->spec = xstrdup(spec);
        _cleanup_strv_free_ char **fields = NULL;
        if (csv_fields(spec, &fields) < 0)
                return berth_error_set(err, EINVAL,
                                       "failed to parse csv mounts: bare or "
                                       "unterminated \" in %s",
                                       spec);
        bool ro_auto = true;
        for (size_t i = 0; fields[i]; i++) {
                int r = mount_field(ret, fields[i], &ro_auto, err);
                if (r < 0)
                        return r;
        }
        const char *tname = mount_types[ret->type];
        bool file_info = ret->type == DF_MOUNT_SECRET || ret->type == DF_MOUNT_SSH ||
                         ret->type == DF_MOUNT_CACHE;
        if (!file_info && ret->has_mode)
                return berth_error_set(err, EINVAL, "mode not allowed for \"%s\" type mounts",
                                       tname);
        if (!file_info && ret->has_uid)
                return berth_error_set(err, EINVAL, "uid not allowed for \"%s\" type mounts",
                                       tname);
        if (!file_info && ret->has_gid)
                return berth_error_set(err, EINVAL, "gid not allowed for \"%s\" type mounts",
                                       tname);
        if (ro_auto)
                ret->readonly = !(ret->type == DF_MOUNT_CACHE || ret->type == DF_MOUNT_TMPFS);
        if (ret->type == DF_MOUNT_SECRET) {
                if (ret->from)
                        return berth_error_set(err, EINVAL, "secret mount should not have a from");
                if (ret->sharing != DF_SHARING_UNSET)
                        return berth_error_set(err, EINVAL,
                                               "secret mount should not define sharing");
                if (!ret->source && !ret->target && !ret->id)
                        return berth_error_set(err, EINVAL,
                                               "invalid secret mount. one of source, target "
                                               "required");
                if (ret->source && ret->id)
                        return berth_error_set(err, EINVAL, "both source and id can't be set");
        }
        if (ret->sharing != DF_SHARING_UNSET && ret->type != DF_MOUNT_CACHE)
                return berth_error_set(err, EINVAL, "invalid cache sharing set for %s mount",
                                       tname);
        return 0;
}
