/*
 * cmd-container-values.c — the value syntaxes of run/create flags, parsed as
 * docker's CLI parses them (contract in container-opts.h): ports (go-connections
 * nat), --mount and --gpus (CSV records), -v (compose's ParseVolume), ulimits
 * (go-units), CPUs (a big.Rat), durations (time.ParseDuration), env and label
 * files (docker's kvfile), IP addresses (net.ParseIP).
 *
 * Messages are docker's, word for word, because users search for them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/units.h"
#include "container-opts.h"

static void strv_push(char ***v, const char *s)
{
        size_t n = 0;
        while (*v && (*v)[n])
                n++;
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = xstrdup(s);
        (*v)[n + 1] = NULL;
}

/* ---- Go's strconv, as the messages quote it ---- */

/* strconv.ParseUint(s, 10, bits) */
static int parse_uint(const char *s, int bits, uint64_t *ret, const char **ret_why)
{
        if (!*s) {
                *ret_why = "invalid syntax";
                return -EINVAL;
        }
        uint64_t v = 0, max = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
        bool over = false;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9') {
                        *ret_why = "invalid syntax";
                        return -EINVAL;
                }
                if (v > (max - (uint64_t)(*p - '0')) / 10)
                        over = true;
                else
                        v = v * 10 + (uint64_t)(*p - '0');
        }
        if (over) {
                *ret_why = "value out of range";
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

static int parse_int64(const char *s, int64_t *ret, const char **ret_why)
{
        const char *p = s;
        bool neg = false;
        if (*p == '+' || *p == '-')
                neg = *p++ == '-';
        uint64_t u;
        if (parse_uint(p, 64, &u, ret_why) < 0)
                return -EINVAL;
        if (u > (uint64_t)INT64_MAX + (neg ? 1 : 0)) {
                *ret_why = "value out of range";
                return -ERANGE;
        }
        *ret = neg ? (int64_t)(0 - u) : (int64_t)u;
        return 0;
}

/* ---- net.ParseIP ---- */

char *container_ip_canonical(const char *s)
{
        unsigned char a[16];
        char text[INET6_ADDRSTRLEN];
        if (inet_pton(AF_INET, s, a) == 1)
                return xstrdup(inet_ntop(AF_INET, a, text, sizeof(text)));
        if (!strchr(s, ':') || inet_pton(AF_INET6, s, a) != 1)
                return NULL;
        /* Go prints an IPv4-mapped address as the IPv4 address. */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0)
                return xstrdup(inet_ntop(AF_INET, a + 12, text, sizeof(text)));
        return xstrdup(inet_ntop(AF_INET6, a, text, sizeof(text)));
}

/* ---- encoding/csv, one record ---- */

int container_csv_fields(const char *s, char ***ret, struct berth_error **err)
{
        char **v = xcalloc(1, sizeof(char *));
        const char *p = s;
        size_t col = 1;
        for (;;) {
                struct berth_buf f = BERTH_BUF_INIT;
                buf_puts(&f, "");
                if (*p == '"') {
                        p++;
                        col++;
                        for (;;) {
                                if (!*p) {
                                        buf_release(&f);
                                        strv_free(v);
                                        return berth_error_set(
                                            err, EINVAL,
                                            "parse error on line 1, column %zu: extraneous or "
                                            "missing \" in quoted-field",
                                            col);
                                }
                                if (*p == '"' && p[1] == '"') {
                                        buf_putc(&f, '"');
                                        p += 2;
                                        col += 2;
                                        continue;
                                }
                                if (*p == '"') {
                                        p++;
                                        col++;
                                        break;
                                }
                                buf_putc(&f, *p++);
                                col++;
                        }
                        if (*p && *p != ',' && *p != '\n') {
                                buf_release(&f);
                                strv_free(v);
                                return berth_error_set(err, EINVAL,
                                                       "parse error on line 1, column %zu: "
                                                       "extraneous or missing \" in quoted-field",
                                                       col);
                        }
                } else {
                        while (*p && *p != ',' && *p != '\n') {
                                if (*p == '"') {
                                        buf_release(&f);
                                        strv_free(v);
                                        return berth_error_set(
                                            err, EINVAL,
                                            "parse error on line 1, column %zu: bare \" in "
                                            "non-quoted-field",
                                            col);
                                }
                                buf_putc(&f, *p++);
                                col++;
                        }
                }
                strv_push(&v, f.data);
                buf_release(&f);
                if (*p != ',')
                        break;
                p++;
                col++;
        }
        *ret = v;
        return 0;
}

static char *lower(const char *s)
{
        char *l = xstrdup(s);
        for (char *p = l; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return l;
}

/* ---- ports (go-connections/nat) ---- */

static int port_range(const char *s, uint64_t *ret_start, uint64_t *ret_end, const char **why)
{
        if (!*s) {
                *why = "empty string specified for ports";
                return -EINVAL;
        }
        const char *dash = strchr(s, '-');
        if (!dash) {
                if (parse_uint(s, 16, ret_start, why) < 0)
                        return -EINVAL;
                *ret_end = *ret_start;
                return 0;
        }
        _cleanup_free_ char *a = xstrndup(s, (size_t)(dash - s));
        const char *b = dash + 1;
        _cleanup_free_ char *bb = xstrndup(b, strcspn(b, "-"));
        if (parse_uint(a, 16, ret_start, why) < 0 || parse_uint(bb, 16, ret_end, why) < 0)
                return -EINVAL;
        if (*ret_end < *ret_start) {
                *why = "invalid range specified for port";
                return -EINVAL;
        }
        return 0;
}

/* nat.SplitProtoPort */
static void split_proto_port(const char *raw, char **ret_proto, char **ret_port)
{
        const char *slash = strchr(raw, '/');
        if (!*raw || raw[0] == '/') {
                *ret_proto = xstrdup("");
                *ret_port = xstrdup("");
                return;
        }
        if (!slash) {
                *ret_proto = xstrdup("tcp");
                *ret_port = xstrdup(raw);
                return;
        }
        const char *proto = slash + 1;
        size_t plen = strcspn(proto, "/");
        *ret_port = xstrndup(raw, (size_t)(slash - raw));
        *ret_proto = plen ? xstrndup(proto, plen) : xstrdup("tcp");
}

static void add_exposed(struct json *exposed, const char *port)
{
        if (!json_get(exposed, port))
                json_object_set(exposed, port, json_new_object());
}

static void add_binding(struct json *bindings, const char *port, const char *ip, const char *hp)
{
        struct json *list = json_get(bindings, port);
        if (!list)
                list = json_object_set(bindings, port, json_new_array());
        struct json *b = json_array_append(list, json_new_object());
        json_set_str(b, "HostIp", ip);
        json_set_str(b, "HostPort", hp);
}

/* --publish long syntax: "published=8080,target=80,protocol=udp" -> "8080:80/udp". */
static int standard_notation(const char *spec, char **ret, struct berth_error **err)
{
        if (!strchr(spec, '=')) {
                *ret = xstrdup(spec);
                return 0;
        }
        _cleanup_free_ char *copy = xstrdup(spec);
        const char *published = "", *target = "", *protocol = "tcp";
        char *save = NULL;
        for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(f, '=');
                if (!eq || eq == f)
                        return berth_error_set(err, EINVAL,
                                               "invalid publish opts format (should be "
                                               "name=value but got '%s')",
                                               f);
                *eq = '\0';
                if (strcmp(f, "published") == 0)
                        published = eq + 1;
                else if (strcmp(f, "target") == 0)
                        target = eq + 1;
                else if (strcmp(f, "protocol") == 0)
                        protocol = eq + 1;
        }
        *ret = xasprintf("%s:%s/%s", published, target, protocol);
        return 0;
}

int container_parse_publish(const char *spec, struct json *exposed, struct json *bindings,
                            struct berth_error **err)
{
        _cleanup_free_ char *raw = NULL;
        int r = standard_notation(spec, &raw, err);
        if (r < 0)
                return r;
        /* splitParts: [ip:]hostPort:containerPort, the ip may hold colons */
        char *last = strrchr(raw, ':');
        _cleanup_free_ char *ip = NULL, *host_port = NULL, *cport_raw = NULL;
        if (!last) {
                ip = xstrdup("");
                host_port = xstrdup("");
                cport_raw = xstrdup(raw);
        } else {
                cport_raw = xstrdup(last + 1);
                *last = '\0';
                char *prev = strrchr(raw, ':');
                if (!prev) {
                        ip = xstrdup("");
                        host_port = xstrdup(raw);
                } else {
                        host_port = xstrdup(prev + 1);
                        *prev = '\0';
                        ip = xstrdup(raw);
                }
        }
        _cleanup_free_ char *proto = NULL, *cport = NULL;
        split_proto_port(cport_raw, &proto, &cport);
        if (ip[0] == '[') {
                char *close = strchr(ip, ']');
                if (!close || close[1])
                        return berth_error_set(err, EINVAL,
                                               "invalid IP address %s: address %s:: missing ']' "
                                               "in address",
                                               ip, ip);
                memmove(ip, ip + 1, (size_t)(close - ip - 1));
                ip[close - ip - 1] = '\0';
        }
        if (*ip) {
                _cleanup_free_ char *canon = container_ip_canonical(ip);
                if (!canon)
                        return berth_error_set(err, EINVAL, "invalid IP address: %s", ip);
        }
        if (!*cport)
                return berth_error_set(err, EINVAL, "no port specified: %s<empty>", spec);
        uint64_t start, end, hstart = 0, hend = 0;
        const char *why = NULL;
        if (port_range(cport, &start, &end, &why) < 0)
                return berth_error_set(err, EINVAL, "invalid containerPort: %s", cport);
        if (*host_port && port_range(host_port, &hstart, &hend, &why) < 0)
                return berth_error_set(err, EINVAL, "invalid hostPort: %s", host_port);
        if (*host_port && end - start != hend - hstart && end != start)
                return berth_error_set(err, EINVAL,
                                       "invalid ranges specified for container and host Ports: "
                                       "%s and %s",
                                       cport, host_port);
        _cleanup_free_ char *lproto = lower(proto);
        if (strcmp(lproto, "tcp") != 0 && strcmp(lproto, "udp") != 0 && strcmp(lproto, "sctp") != 0)
                return berth_error_set(err, EINVAL, "invalid proto: %s", proto);
        for (uint64_t i = 0; i <= end - start; i++) {
                _cleanup_free_ char *hp = NULL;
                if (*host_port) {
                        if (start == end && hstart != hend)
                                hp = xasprintf("%llu-%llu", (unsigned long long)(hstart + i),
                                               (unsigned long long)hend);
                        else
                                hp = xasprintf("%llu", (unsigned long long)(hstart + i));
                }
                _cleanup_free_ char *port =
                    xasprintf("%llu/%s", (unsigned long long)(start + i), lproto);
                add_exposed(exposed, port);
                add_binding(bindings, port, ip, hp ? hp : "");
        }
        return 0;
}

int container_parse_expose(const char *spec, struct json *exposed, struct berth_error **err)
{
        if (strchr(spec, ':'))
                return berth_error_set(err, EINVAL, "invalid port format for --expose: %s", spec);
        _cleanup_free_ char *proto = NULL, *port = NULL;
        split_proto_port(spec, &proto, &port);
        uint64_t start, end;
        const char *why = NULL;
        if (port_range(port, &start, &end, &why) < 0) {
                if (strcmp(why, "invalid syntax") == 0 || strcmp(why, "value out of range") == 0) {
                        /* strconv's own words name the piece that failed */
                        const char *dash = strchr(port, '-');
                        _cleanup_free_ char *bad = NULL;
                        uint64_t tmp;
                        const char *w2 = NULL;
                        if (!dash) {
                                bad = xstrdup(port);
                        } else {
                                bad = xstrndup(port, (size_t)(dash - port));
                                if (parse_uint(bad, 16, &tmp, &w2) == 0) {
                                        free(bad);
                                        bad = xstrndup(dash + 1, strcspn(dash + 1, "-"));
                                }
                        }
                        return berth_error_set(err, EINVAL,
                                               "invalid range format for --expose: %s, error: "
                                               "strconv.ParseUint: parsing \"%s\": %s",
                                               spec, bad, why);
                }
                if (strcmp(why, "invalid range specified for port") == 0)
                        return berth_error_set(err, EINVAL,
                                               "invalid range format for --expose: %s, error: %s: "
                                               "%s",
                                               spec, why, port);
                return berth_error_set(
                    err, EINVAL, "invalid range format for --expose: %s, error: %s", spec, why);
        }
        for (uint64_t i = start; i <= end; i++) {
                _cleanup_free_ char *p = xasprintf("%llu/%s", (unsigned long long)i, proto);
                add_exposed(exposed, p);
        }
        return 0;
}

/* ---- paths (Go's path.Clean and filepath.Abs) ---- */

static char *abs_path(const char *p)
{
        char cwd[PATH_MAX];
        if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
                return path_clean(p);
        _cleanup_free_ char *joined = xasprintf("%s/%s", cwd, p);
        return path_clean(joined);
}

/* ---- -v (compose loader.ParseVolume) ---- */

int container_parse_volume(const char *spec, char **ret_bind, struct berth_error **err)
{
        *ret_bind = NULL;
        size_t len = strlen(spec);
        if (len == 0)
                return berth_error_set(err, EINVAL, "invalid empty volume spec");
        if (len <= 2)
                return 0;
        _cleanup_free_ char *source = NULL, *target = NULL;
        const char *p = spec;
        struct berth_buf field = BERTH_BUF_INIT;
        for (;; p++) {
                char c = *p;
                /* "c:" right at a field's start is a Windows drive letter, kept whole */
                if (c == ':' && field.len == 1 && isalpha((unsigned char)field.data[0])) {
                        buf_putc(&field, c);
                        continue;
                }
                if (c == ':' || c == '\0') {
                        const char *why = NULL;
                        if (field.len == 0)
                                why = "empty section between colons";
                        else if (!source && c == '\0')
                                target = xstrdup(field.data);
                        else if (!source)
                                source = xstrdup(field.data);
                        else if (!target)
                                target = xstrdup(field.data);
                        else if (c == ':')
                                why = "too many colons";
                        if (why) {
                                buf_release(&field);
                                return berth_error_set(err, EINVAL, "invalid spec: %s: %s", spec,
                                                       why);
                        }
                        field.len = 0;
                        if (field.data)
                                field.data[0] = '\0';
                        if (c == '\0')
                                break;
                        continue;
                }
                buf_putc(&field, c);
        }
        buf_release(&field);
        if (!source)
                return 0;
        /* A bind when the source is a path: ".", "/", "~", "\\\\" or a drive letter. */
        bool is_path = strchr("./~", source[0]) || strncmp(source, "\\\\", 2) == 0 ||
                       (isalpha((unsigned char)source[0]) && source[1] == ':');
        const char *colon = strchr(spec, ':');
        if (is_path && colon) {
                _cleanup_free_ char *host = xstrndup(spec, (size_t)(colon - spec));
                if (host[0] == '.') {
                        _cleanup_free_ char *abs = abs_path(host);
                        *ret_bind = xasprintf("%s%s", abs, colon);
                        return 1;
                }
        }
        *ret_bind = xstrdup(spec);
        return 1;
}

/* ---- --mount (opts.MountOpt) ---- */

static bool go_parse_bool(const char *s, bool *ret)
{
        return cli_parse_bool(s, ret) == 0;
}

static struct json *obj_child(struct json *parent, const char *key)
{
        struct json *o = json_get(parent, key);
        return o ? o : json_object_set(parent, key, json_new_object());
}

static void set_kv(struct json *map, const char *kv)
{
        const char *eq = strchr(kv, '=');
        _cleanup_free_ char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
        if (*k)
                json_set_str(map, k, eq ? eq + 1 : "");
}

struct mount_parts {
        char *type, *source, *target, *consistency;
        bool readonly;
        struct json *bind, *volume, *image, *tmpfs; /* option objects, NULL when unused */
        struct json *vol_labels, *vol_driver;
};

static void mount_parts_release(struct mount_parts *m)
{
        free(m->type);
        free(m->source);
        free(m->target);
        free(m->consistency);
        json_free(m->bind);
        json_free(m->volume);
        json_free(m->image);
        json_free(m->tmpfs);
        json_free(m->vol_labels);
        json_free(m->vol_driver);
}

static struct json *mp_volume(struct mount_parts *m)
{
        if (!m->volume) {
                m->volume = json_new_object();
                m->vol_labels = json_new_object();
                m->vol_driver = json_new_object();
        }
        return m->volume;
}

static int mount_field(struct mount_parts *m, const char *field, struct berth_error **err)
{
        const char *eq = strchr(field, '=');
        _cleanup_free_ char *rawkey = eq ? xstrndup(field, (size_t)(eq - field)) : xstrdup(field);
        _cleanup_free_ char *key = lower(rawkey);
        const char *val = eq ? eq + 1 : NULL;
        bool b;
        if (!val) {
                if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0)
                        m->readonly = true;
                else if (strcmp(key, "volume-nocopy") == 0)
                        json_set_bool(mp_volume(m), "NoCopy", true);
                else if (strcmp(key, "bind-nonrecursive") == 0)
                        json_set_bool(m->bind ? m->bind : (m->bind = json_new_object()),
                                      "NonRecursive", true);
                else
                        return berth_error_set(
                            err, EINVAL, "invalid field '%s' must be a key=value pair", field);
                return 0;
        }
        if (strcmp(key, "type") == 0) {
                free(m->type);
                m->type = lower(val);
        } else if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
                free(m->source);
                m->source = val[0] == '.' ? abs_path(val) : xstrdup(val);
        } else if (strcmp(key, "target") == 0 || strcmp(key, "dst") == 0 ||
                   strcmp(key, "destination") == 0) {
                free(m->target);
                m->target = xstrdup(val);
        } else if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
                if (!go_parse_bool(val, &m->readonly))
                        return berth_error_set(err, EINVAL, "invalid value for %s: %s", key, val);
        } else if (strcmp(key, "consistency") == 0) {
                free(m->consistency);
                m->consistency = lower(val);
        } else if (strcmp(key, "bind-propagation") == 0) {
                _cleanup_free_ char *l = lower(val);
                json_set_str(m->bind ? m->bind : (m->bind = json_new_object()), "Propagation", l);
        } else if (strcmp(key, "bind-nonrecursive") == 0) {
                if (!go_parse_bool(val, &b))
                        return berth_error_set(err, EINVAL, "invalid value for %s: %s", key, val);
                json_set_bool(m->bind ? m->bind : (m->bind = json_new_object()), "NonRecursive", b);
        } else if (strcmp(key, "bind-recursive") == 0) {
                const char *set = strcmp(val, "disabled") == 0   ? "NonRecursive"
                                  : strcmp(val, "writable") == 0 ? "ReadOnlyNonRecursive"
                                  : strcmp(val, "readonly") == 0 ? "ReadOnlyForceRecursive"
                                                                 : NULL;
                if (!set && strcmp(val, "enabled") != 0)
                        return berth_error_set(err, EINVAL,
                                               "invalid value for %s: %s (must be \"enabled\", "
                                               "\"disabled\", \"writable\", or \"readonly\")",
                                               key, val);
                if (!m->bind)
                        m->bind = json_new_object();
                if (set)
                        json_set_bool(m->bind, set, true);
        } else if (strcmp(key, "volume-subpath") == 0) {
                json_set_str(mp_volume(m), "Subpath", val);
        } else if (strcmp(key, "volume-nocopy") == 0) {
                if (!go_parse_bool(val, &b))
                        return berth_error_set(err, EINVAL, "invalid value for volume-nocopy: %s",
                                               val);
                json_set_bool(mp_volume(m), "NoCopy", b);
        } else if (strcmp(key, "volume-label") == 0) {
                mp_volume(m);
                set_kv(m->vol_labels, val);
        } else if (strcmp(key, "volume-driver") == 0) {
                mp_volume(m);
                json_set_str(m->vol_driver, "Name", val);
        } else if (strcmp(key, "volume-opt") == 0) {
                mp_volume(m);
                set_kv(obj_child(m->vol_driver, "Options"), val);
        } else if (strcmp(key, "image-subpath") == 0) {
                json_set_str(m->image ? m->image : (m->image = json_new_object()), "Subpath", val);
        } else if (strcmp(key, "tmpfs-size") == 0) {
                int64_t size;
                if (units_ram_in_bytes(val, &size, NULL) < 0)
                        return berth_error_set(err, EINVAL, "invalid value for %s: %s", key, val);
                json_set_int(m->tmpfs ? m->tmpfs : (m->tmpfs = json_new_object()), "SizeBytes",
                             size);
        } else if (strcmp(key, "tmpfs-mode") == 0) {
                char *end = NULL;
                errno = 0;
                unsigned long long mode = strtoull(val, &end, 8);
                if (!*val || *end || errno || mode > UINT32_MAX || val[0] == '-' || val[0] == '+')
                        return berth_error_set(err, EINVAL, "invalid value for %s: %s", key, val);
                json_set_int(m->tmpfs ? m->tmpfs : (m->tmpfs = json_new_object()), "Mode",
                             (int64_t)mode);
        } else {
                return berth_error_set(err, EINVAL, "unexpected key '%s' in '%s'", key, field);
        }
        return 0;
}

/* Go's omitempty order of a mount.Mount's option struct. */
static struct json *ordered(const struct json *src, const char *const *keys, size_t n)
{
        struct json *o = json_new_object();
        for (size_t i = 0; i < n; i++) {
                const struct json *v = json_get(src, keys[i]);
                if (!v || (json_is(v, JSON_BOOL) && !v->b) ||
                    (json_is(v, JSON_STRING) && !*json_str(v)) ||
                    (json_is(v, JSON_NUMBER) && v->num.i == 0) ||
                    (json_is(v, JSON_OBJECT) && json_len(v) == 0 && strcmp(keys[i], "Options")))
                        continue;
                json_object_set(o, keys[i], json_copy(v));
        }
        return o;
}

static struct json *sorted_map(const struct json *m);

static int mount_check(struct mount_parts *m, struct berth_error **err)
{
        if (!*m->type)
                return berth_error_set(err, EINVAL, "type is required");
        if (!m->target || !*m->target)
                return berth_error_set(err, EINVAL, "target is required");
        static const struct {
                const char *kind, *type;
                size_t off;
        } mix[] = {
            {"volume", "volume", offsetof(struct mount_parts, volume)},
            {"image", "image", offsetof(struct mount_parts, image)},
            {"bind", "bind", offsetof(struct mount_parts, bind)},
            {"tmpfs", "tmpfs", offsetof(struct mount_parts, tmpfs)},
        };
        for (size_t i = 0; i < ELEMENTSOF(mix); i++) {
                struct json *o = *(struct json **)((char *)m + mix[i].off);
                if (o && strcmp(m->type, mix[i].type) != 0)
                        return berth_error_set(err, EINVAL,
                                               "cannot mix '%s-*' options with mount type '%s'",
                                               mix[i].kind, m->type);
        }
        const struct json *b = m->bind;
        const struct json *rnr = json_get(b, "ReadOnlyNonRecursive");
        const struct json *rfr = json_get(b, "ReadOnlyForceRecursive");
        if (rnr && rnr->b && !m->readonly)
                return berth_error_set(err, EINVAL,
                                       "option 'bind-recursive=writable' requires 'readonly' to "
                                       "be specified in conjunction");
        if (rfr && rfr->b) {
                if (!m->readonly)
                        return berth_error_set(err, EINVAL,
                                               "option 'bind-recursive=readonly' requires "
                                               "'readonly' to be specified in conjunction");
                const char *prop = json_str(json_get(b, "Propagation"));
                if (!prop || strcmp(prop, "rprivate") != 0)
                        return berth_error_set(err, EINVAL,
                                               "option 'bind-recursive=readonly' requires "
                                               "'bind-propagation=rprivate' to be specified in "
                                               "conjunction");
        }
        return 0;
}

int container_parse_mount(const char *spec, struct json **ret, struct berth_error **err)
{
        _cleanup_strv_free_ char **fields = NULL;
        int r = container_csv_fields(spec, &fields, err);
        if (r < 0)
                return r;
        struct mount_parts m = {.type = xstrdup("volume")};
        for (size_t i = 0; fields[i] && r == 0; i++)
                r = mount_field(&m, fields[i], err);
        if (r == 0)
                r = mount_check(&m, err);
        if (r < 0) {
                mount_parts_release(&m);
                return r;
        }
        struct json *o = json_new_object();
        json_set_str(o, "Type", m.type);
        if (m.source && *m.source)
                json_set_str(o, "Source", m.source);
        json_set_str(o, "Target", m.target);
        if (m.readonly)
                json_set_bool(o, "ReadOnly", true);
        if (m.consistency && *m.consistency)
                json_set_str(o, "Consistency", m.consistency);
        if (m.bind) {
                static const char *const k[] = {"Propagation", "NonRecursive", "CreateMountpoint",
                                                "ReadOnlyNonRecursive", "ReadOnlyForceRecursive"};
                json_object_set(o, "BindOptions", ordered(m.bind, k, ELEMENTSOF(k)));
        }
        if (m.volume) {
                if (json_len(m.vol_labels))
                        json_object_set(m.volume, "Labels", sorted_map(m.vol_labels));
                struct json *drv = json_new_object();
                if (json_str(json_get(m.vol_driver, "Name")) &&
                    *json_str(json_get(m.vol_driver, "Name")))
                        json_set_str(drv, "Name", json_str(json_get(m.vol_driver, "Name")));
                if (json_len(json_get(m.vol_driver, "Options")))
                        json_object_set(drv, "Options",
                                        sorted_map(json_get(m.vol_driver, "Options")));
                json_object_set(m.volume, "DriverConfig", drv);
                static const char *const k[] = {"NoCopy", "Labels", "Subpath", "DriverConfig"};
                struct json *v = ordered(m.volume, k, ELEMENTSOF(k));
                if (!json_get(v, "DriverConfig"))
                        json_object_set(v, "DriverConfig", json_new_object());
                json_object_set(o, "VolumeOptions", v);
        }
        if (m.image) {
                static const char *const k[] = {"Subpath"};
                json_object_set(o, "ImageOptions", ordered(m.image, k, ELEMENTSOF(k)));
        }
        if (m.tmpfs) {
                static const char *const k[] = {"SizeBytes", "Mode", "Options"};
                json_object_set(o, "TmpfsOptions", ordered(m.tmpfs, k, ELEMENTSOF(k)));
        }
        mount_parts_release(&m);
        *ret = o;
        return 0;
}

static int cmp_member(const void *a, const void *b)
{
        const struct json_member *x = a, *y = b;
        return strcmp(x->key, y->key);
}

/* A copy of an object with its keys in encoding/json's (sorted) order. */
static struct json *sorted_map(const struct json *m)
{
        struct json *c = json_copy(m);
        if (json_is(c, JSON_OBJECT) && c->obj.n > 1)
                qsort(c->obj.m, c->obj.n, sizeof(*c->obj.m), cmp_member);
        return c;
}

/* ---- --gpus (opts.GpuOpts) ---- */

static int gpu_count(const char *s, int64_t *ret, struct berth_error **err)
{
        if (strcmp(s, "all") == 0) {
                *ret = -1;
                return 0;
        }
        const char *why = NULL;
        int64_t v;
        if (parse_int64(s, &v, &why) < 0)
                return berth_error_set(err, EINVAL,
                                       "invalid count (%s): value must be either \"all\" or an "
                                       "integer: %s",
                                       s, why);
        *ret = v;
        return 0;
}

int container_parse_gpus(const char *spec, struct json **ret, struct berth_error **err)
{
        _cleanup_strv_free_ char **fields = NULL;
        int r = container_csv_fields(spec, &fields, err);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **seen = NULL;
        _cleanup_free_ char *driver = NULL;
        _cleanup_strv_free_ char **devices = NULL;
        _cleanup_json_ struct json *caps = NULL, *options = NULL;
        bool have_devices = false, counted = false;
        int64_t count = 0;
        for (size_t i = 0; fields[i]; i++) {
                const char *f = fields[i];
                const char *eq = strchr(f, '=');
                _cleanup_free_ char *key = eq ? xstrndup(f, (size_t)(eq - f)) : xstrdup(f);
                for (size_t k = 0; seen && seen[k]; k++)
                        if (strcmp(seen[k], key) == 0)
                                return berth_error_set(err, EINVAL,
                                                       "gpu request key '%s' can be specified "
                                                       "only once",
                                                       key);
                strv_push(&seen, key);
                if (!eq) {
                        counted = true;
                        strv_push(&seen, "count");
                        if ((r = gpu_count(key, &count, err)) < 0)
                                return r;
                        continue;
                }
                const char *val = eq + 1;
                if (strcmp(key, "driver") == 0) {
                        free(driver);
                        driver = xstrdup(val);
                } else if (strcmp(key, "count") == 0) {
                        counted = true;
                        if ((r = gpu_count(val, &count, err)) < 0)
                                return r;
                } else if (strcmp(key, "device") == 0) {
                        strv_free(devices);
                        devices = NULL;
                        have_devices = true;
                        _cleanup_free_ char *copy = xstrdup(val);
                        char *p = copy;
                        for (;;) {
                                char *c = strchr(p, ',');
                                if (c)
                                        *c = '\0';
                                strv_push(&devices, p);
                                if (!c)
                                        break;
                                p = c + 1;
                        }
                } else if (strcmp(key, "capabilities") == 0) {
                        json_free(caps);
                        caps = json_new_array();
                        struct json *inner = json_array_append(caps, json_new_array());
                        _cleanup_free_ char *copy = xstrdup(val);
                        char *p = copy;
                        for (;;) {
                                char *c = strchr(p, ',');
                                if (c)
                                        *c = '\0';
                                json_array_append(inner, json_new_string(p));
                                if (!c)
                                        break;
                                p = c + 1;
                        }
                        json_array_append(inner, json_new_string("gpu"));
                } else if (strcmp(key, "options") == 0) {
                        _cleanup_strv_free_ char **of = NULL;
                        _cleanup_error_ struct berth_error *e = NULL;
                        if (container_csv_fields(val, &of, &e) < 0)
                                return berth_error_set(err, EINVAL,
                                                       "failed to read gpu options: %s",
                                                       berth_error_msg(e));
                        json_free(options);
                        options = json_new_object();
                        for (size_t k = 0; of[k]; k++)
                                set_kv(options, of[k]);
                } else {
                        return berth_error_set(err, EINVAL, "unexpected key '%s' in '%s'", key, f);
                }
        }
        (void)counted;
        bool count_seen = false;
        for (size_t k = 0; seen && seen[k]; k++)
                count_seen |= strcmp(seen[k], "count") == 0;
        if (!count_seen && !have_devices)
                count = 1;
        struct json *o = json_new_object();
        json_set_str(o, "Driver", driver ? driver : "");
        json_set_int(o, "Count", count);
        if (devices) {
                struct json *a = json_object_set(o, "DeviceIDs", json_new_array());
                for (size_t k = 0; devices[k]; k++)
                        json_array_append(a, json_new_string(devices[k]));
        } else {
                json_object_set(o, "DeviceIDs", json_new_null());
        }
        if (!caps) {
                caps = json_new_array();
                json_array_append(json_array_append(caps, json_new_array()),
                                  json_new_string("gpu"));
        }
        json_object_set(o, "Capabilities", TAKE_PTR(caps));
        json_object_set(o, "Options", options ? sorted_map(options) : json_new_object());
        *ret = o;
        return 0;
}

/* ---- --ulimit (go-units ParseUlimit) ---- */

int container_parse_ulimit(const char *spec, char **ret_name, int64_t *ret_soft, int64_t *ret_hard,
                           struct berth_error **err)
{
        static const char *const names[] = {"core",    "cpu",      "data",   "fsize",      "locks",
                                            "memlock", "msgqueue", "nice",   "nofile",     "nproc",
                                            "rss",     "rtprio",   "rttime", "sigpending", "stack"};
        const char *eq = strchr(spec, '=');
        if (!eq)
                return berth_error_set(err, EINVAL, "invalid ulimit argument: %s", spec);
        _cleanup_free_ char *name = xstrndup(spec, (size_t)(eq - spec));
        bool known = false;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                known |= strcmp(names[i], name) == 0;
        if (!known)
                return berth_error_set(err, EINVAL, "invalid ulimit type: %s", name);
        const char *vals = eq + 1;
        const char *colon = strchr(vals, ':');
        if (colon && strchr(colon + 1, ':'))
                return berth_error_set(err, EINVAL,
                                       "too many limit value arguments - %s, can only have up to "
                                       "two, `soft[:hard]`",
                                       vals);
        _cleanup_free_ char *soft_s =
            colon ? xstrndup(vals, (size_t)(colon - vals)) : xstrdup(vals);
        int64_t soft, hard;
        const char *why = NULL;
        if (colon && parse_int64(colon + 1, &hard, &why) < 0)
                return berth_error_set(err, EINVAL, "strconv.ParseInt: parsing \"%s\": %s",
                                       colon + 1, why);
        if (parse_int64(soft_s, &soft, &why) < 0)
                return berth_error_set(err, EINVAL, "strconv.ParseInt: parsing \"%s\": %s", soft_s,
                                       why);
        if (!colon)
                hard = soft;
        if (hard != -1 && soft > hard)
                return berth_error_set(err, EINVAL,
                                       "ulimit soft limit must be less than or equal to hard "
                                       "limit: %lld > %lld",
                                       (long long)soft, (long long)hard);
        *ret_name = TAKE_PTR(name);
        *ret_soft = soft;
        *ret_hard = hard;
        return 0;
}

/* ---- --cpus (a big.Rat times 1e9, which must be whole) ---- */

int container_parse_cpus(const char *s, int64_t *ret, struct berth_error **err)
{
        const char *slash = strchr(s, '/');
        __int128 nano;
        if (slash) {
                _cleanup_free_ char *a = xstrndup(s, (size_t)(slash - s));
                int64_t num, den;
                const char *why = NULL;
                if (parse_int64(a, &num, &why) < 0 || slash[1] == '-' || slash[1] == '+' ||
                    parse_int64(slash + 1, &den, &why) < 0 || den == 0)
                        return berth_error_set(err, EINVAL,
                                               "failed to parse %s as a rational number", s);
                __int128 scaled = (__int128)num * 1000000000;
                if (scaled % den)
                        return berth_error_set(err, EINVAL, "value is too precise");
                nano = scaled / den;
        } else {
                /* [+-]digits[.digits][e[+-]digits] */
                const char *p = s;
                bool neg = false;
                if (*p == '+' || *p == '-')
                        neg = *p++ == '-';
                struct berth_buf digits = BERTH_BUF_INIT;
                long frac = 0;
                bool any = false, dot = false;
                for (; *p; p++) {
                        if (*p >= '0' && *p <= '9') {
                                buf_putc(&digits, *p);
                                any = true;
                                if (dot)
                                        frac++;
                        } else if (*p == '.' && !dot) {
                                dot = true;
                        } else {
                                break;
                        }
                }
                long exp = 0;
                if (any && (*p == 'e' || *p == 'E')) {
                        char *end = NULL;
                        errno = 0;
                        exp = strtol(p + 1, &end, 10);
                        if (end == p + 1 || errno)
                                any = false;
                        p = end;
                }
                if (!any || *p) {
                        buf_release(&digits);
                        return berth_error_set(err, EINVAL,
                                               "failed to parse %s as a rational number", s);
                }
                long shift = exp - frac + 9;
                nano = 0;
                bool precise = true;
                for (size_t i = 0; i < digits.len; i++) {
                        long pos = (long)(digits.len - 1 - i) + shift; /* power of ten */
                        int d = digits.data[i] - '0';
                        if (pos < 0) {
                                precise &= d == 0;
                                continue;
                        }
                        __int128 v = d;
                        for (long k = 0; k < pos && v; k++) {
                                v *= 10;
                                if (v > ((__int128)1 << 100))
                                        break;
                        }
                        nano += v;
                        if (nano > ((__int128)1 << 100))
                                nano = (__int128)1 << 100;
                }
                buf_release(&digits);
                if (!precise)
                        return berth_error_set(err, EINVAL, "value is too precise");
                if (neg)
                        nano = -nano;
        }
        *ret = (int64_t)nano;
        return 0;
}

/* ---- time.ParseDuration ---- */

int container_parse_duration(const char *orig, int64_t *ret, struct berth_error **err)
{
        static const struct {
                const char *unit;
                uint64_t ns;
        } units[] = {
            {"ns", 1},       {"us", 1000},      {"\xc2\xb5s", 1000},   {"\xce\xbcs", 1000},
            {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000ull}, {"h", 3600000000000ull}};
        const char *s = orig;
        bool neg = false;
        if (*s == '-' || *s == '+')
                neg = *s++ == '-';
        if (strcmp(s, "0") == 0) {
                *ret = 0;
                return 0;
        }
        if (!*s)
                return berth_error_set(err, EINVAL, "time: invalid duration \"%s\"", orig);
        long double total = 0;
        while (*s) {
                if (!(*s == '.' || (*s >= '0' && *s <= '9')))
                        return berth_error_set(err, EINVAL, "time: invalid duration \"%s\"", orig);
                const char *start = s;
                long double v = 0, scale = 1;
                bool pre = false, post = false, dot = false;
                for (; (*s >= '0' && *s <= '9') || (*s == '.' && !dot); s++) {
                        if (*s == '.') {
                                dot = true;
                                continue;
                        }
                        if (dot) {
                                scale /= 10;
                                v += (*s - '0') * scale;
                                post = true;
                        } else {
                                v = v * 10 + (*s - '0');
                                pre = true;
                        }
                }
                if (!pre && !post)
                        return berth_error_set(err, EINVAL, "time: invalid duration \"%s\"", orig);
                (void)start;
                const char *u = s;
                while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
                        s++;
                size_t ulen = (size_t)(s - u);
                if (!ulen)
                        return berth_error_set(err, EINVAL, "time: missing unit in duration \"%s\"",
                                               orig);
                uint64_t mul = 0;
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (strlen(units[i].unit) == ulen && strncmp(units[i].unit, u, ulen) == 0)
                                mul = units[i].ns;
                if (!mul)
                        return berth_error_set(err, EINVAL,
                                               "time: unknown unit \"%.*s\" in duration \"%s\"",
                                               (int)ulen, u, orig);
                total += v * (long double)mul;
                if (total > 9223372036854775807.0L)
                        return berth_error_set(err, EINVAL, "time: invalid duration \"%s\"", orig);
        }
        *ret = (int64_t)(neg ? -total : total);
        return 0;
}

/* ---- env and label files (docker's pkg/kvfile) ---- */

int container_read_kv_file(const char *path, bool lookup, char ***list, struct berth_error **err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_file_at(AT_FDCWD, path, 64 << 20, &data, &len);
        if (r < 0)
                return berth_error_set(err, -r, "open %s: %s", path,
                                       r == -ENOENT ? "no such file or directory" : strerror(-r));
        const char *p = data;
        if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
                p += 3;
        for (;;) {
                const char *nl = strchr(p, '\n');
                size_t l = nl ? (size_t)(nl - p) : strlen(p);
                if (l && p[l - 1] == '\r')
                        l--; /* bufio.ScanLines drops a trailing \r */
                _cleanup_free_ char *line = xstrndup(p, l);
                char *t = line;
                while (*t && isspace((unsigned char)*t))
                        t++;
                if (*t && *t != '#') {
                        char *eq = strchr(t, '=');
                        size_t klen = eq ? (size_t)(eq - t) : strlen(t);
                        if (klen == 0)
                                return berth_error_set(err, EINVAL,
                                                       "invalid env file (%s): no variable name "
                                                       "on line '%s'",
                                                       path, t);
                        if (strcspn(t, " \t") < klen) {
                                _cleanup_free_ char *key = xstrndup(t, klen);
                                return berth_error_set(err, EINVAL,
                                                       "invalid env file (%s): variable '%s' "
                                                       "contains whitespaces",
                                                       path, key);
                        }
                        if (eq) {
                                strv_push(list, t);
                        } else if (lookup && getenv(t)) {
                                _cleanup_free_ char *kv = xasprintf("%s=%s", t, getenv(t));
                                strv_push(list, kv);
                        }
                }
                if (!nl)
                        break;
                p = nl + 1;
        }
        return 0;
}

/* ---- --since / --until (docker's timetypes.GetTimestamp) ---- */

static bool all_digits(const char *s, size_t n)
{
        if (!n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

int container_timestamp(const char *value, int64_t now, char **ret, struct berth_error **err)
{
        int64_t d;
        if (strcmp(value, "0") != 0 && container_parse_duration(value, &d, NULL) == 0) {
                int64_t secs = d / 1000000000, rem = d % 1000000000;
                /* reference.Add(-d).Unix(): rounding toward the past */
                int64_t t = now - secs - (rem > 0 ? 1 : 0);
                *ret = xasprintf("%lld", (long long)t);
                return 0;
        }
        bool has_zone = strpbrk(value, "zZ+") != NULL;
        size_t dashes = 0;
        for (const char *p = value; *p; p++)
                dashes += *p == '-';
        bool local = !has_zone && dashes != 3;
        /* date[Thh[:mm[:ss[.frac]]]][Z|±hh:mm] */
        int y, mo, da, h = 0, mi = 0, s = 0, consumed = 0;
        long frac_ns = 0;
        if (sscanf(value, "%4d-%2d-%2d%n", &y, &mo, &da, &consumed) == 3 && consumed == 10) {
                const char *p = value + consumed;
                if (*p == 'T') {
                        int c2 = 0;
                        if (sscanf(p + 1, "%2d%n", &h, &c2) != 1 || c2 != 2)
                                goto bad_time;
                        p += 3;
                        if (*p == ':') {
                                if (sscanf(p + 1, "%2d%n", &mi, &c2) != 1 || c2 != 2)
                                        goto bad_time;
                                p += 3;
                                if (*p == ':') {
                                        if (sscanf(p + 1, "%2d%n", &s, &c2) != 1 || c2 != 2)
                                                goto bad_time;
                                        p += 3;
                                        if (*p == '.') {
                                                long scale = 100000000;
                                                for (p++; isdigit((unsigned char)*p); p++) {
                                                        frac_ns += (*p - '0') * scale;
                                                        scale /= 10;
                                                }
                                        }
                                }
                        }
                }
                long off = 0;
                if (*p == 'Z' || *p == 'z') {
                        p++;
                } else if (*p == '+' || *p == '-') {
                        int oh = 0, om = 0, c3 = 0;
                        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &c3) != 2 || c3 != 5)
                                goto bad_time;
                        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
                        p += 6;
                } else if (!local) {
                        goto bad_time;
                }
                if (*p || mo < 1 || mo > 12 || da < 1 || da > 31 || h > 23 || mi > 59 || s > 59)
                        goto bad_time;
                struct tm tm = {.tm_year = y - 1900,
                                .tm_mon = mo - 1,
                                .tm_mday = da,
                                .tm_hour = h,
                                .tm_min = mi,
                                .tm_sec = s,
                                .tm_isdst = -1};
                time_t t = local ? mktime(&tm) : timegm(&tm) - off;
                *ret = xasprintf("%lld.%09ld", (long long)t, frac_ns);
                return 0;
        }
bad_time:
        if (strchr(value, '-'))
                return berth_error_set(err, EINVAL, "parsing time \"%s\": cannot parse as a date",
                                       value);
        /* a Unix timestamp, sent as it is: seconds[.nanoseconds] */
        const char *dot = strchr(value, '.');
        size_t ilen = dot ? (size_t)(dot - value) : strlen(value);
        if (!all_digits(value, ilen) || (dot && !all_digits(dot + 1, strlen(dot + 1))))
                return berth_error_set(err, EINVAL,
                                       "failed to parse value as time or duration: \"%s\"", value);
        *ret = xstrdup(value);
        return 0;
}
