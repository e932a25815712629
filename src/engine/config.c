/*
 * config.c — daemon.json + flags -> struct berth_config (contract in config.h).
 *
 * One table lists every key berthd understands, its JSON type, whether a
 * reload may change it and which flag also sets it.  Loading is: read and
 * parse the file, reject unknown keys, reject keys set twice (flag and file),
 * type-check, then fill defaults, file values and flag values in that order,
 * then validate the result as a whole.  Messages follow dockerd's wording,
 * with "berthd" for "the Docker daemon", so a user's search for the docker
 * message finds the same explanation.
 *
 * Never: accept a key silently that berthd does not act on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "config.h"
#include "net/ipam.h"

#define CONFIG_MAX_SIZE (1024 * 1024)

enum key_type { K_STRING, K_BOOL, K_INT, K_STRV, K_POOLS };

struct key {
        const char *name;
        enum key_type type;
        bool reloadable;
};

static const struct key keys[] = {
    {"data-root", K_STRING, false},
    {"exec-root", K_STRING, false},
    {"cgroup-parent", K_STRING, false},
    {"pidfile", K_STRING, false},
    {"hosts", K_STRV, false},
    {"debug", K_BOOL, true},
    {"log-level", K_STRING, true},
    {"registry-mirrors", K_STRV, true},
    {"insecure-registries", K_STRV, true},
    {"max-concurrent-downloads", K_INT, true},
    {"max-concurrent-uploads", K_INT, true},
    {"labels", K_STRV, true},
    /* networking (engine/networks.c); a restart applies them */
    {"bridge", K_STRING, false},
    {"bip", K_STRING, false},
    {"fixed-cidr", K_STRING, false},
    {"default-address-pools", K_POOLS, false},
    {"mtu", K_INT, false},
    {"ip-masq", K_BOOL, false},
    {"ip-forward", K_BOOL, false},
    {"iptables", K_BOOL, false},
    {"icc", K_BOOL, false},
    {"userland-proxy", K_BOOL, false},
    {"dns", K_STRV, false},
    {"dns-search", K_STRV, false},
    {"dns-opts", K_STRV, false},
};

static const char *const type_names[] = {
    [K_STRING] = "a string",
    [K_BOOL] = "a boolean",
    [K_INT] = "an integer",
    [K_STRV] = "an array of strings",
    [K_POOLS] = "an array of {\"base\": CIDR, \"size\": prefix length} objects",
};

void berth_config_flags_init(struct berth_config_flags *f)
{
        memset(f, 0, sizeof(*f));
        f->max_concurrent_downloads = -1;
        f->debug = -1;
        f->mtu = -1;
        f->ip_masq = f->ip_forward = f->iptables = f->icc = f->userland_proxy = -1;
}

static size_t strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

static void strv_push(char ***v, char *s)
{
        size_t n = strv_len(*v);
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

static bool strv_equal(char *const *a, char *const *b)
{
        size_t n = strv_len(a);
        if (n != strv_len(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
}

static char *strv_join(char *const *v, const char *sep)
{
        struct berth_buf b = BERTH_BUF_INIT;
        for (size_t i = 0; v && v[i]; i++) {
                if (i)
                        buf_puts(&b, sep);
                buf_puts(&b, v[i]);
        }
        return buf_steal(&b);
}

struct berth_config *berth_config_ref(struct berth_config *c)
{
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
        return c;
}

void berth_config_unref(struct berth_config *c)
{
        if (!c)
                return;
        if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
                return;
        free(c->config_file);
        free(c->data_root);
        free(c->exec_root);
        free(c->cgroup_parent);
        free(c->pidfile);
        strv_free(c->hosts);
        strv_free(c->registry_mirrors);
        strv_free(c->insecure_registries);
        strv_free(c->labels);
        free(c->log_level);
        free(c->bridge);
        free(c->bip);
        free(c->fixed_cidr);
        strv_free(c->address_pools);
        strv_free(c->dns);
        strv_free(c->dns_search);
        strv_free(c->dns_opts);
        free(c);
}

int berth_config_parse_host(const char *host, char **ret_path, struct berth_error **err)
{
        const char *path = host;
        if (strncmp(host, "unix://", 7) == 0)
                path = host + 7;
        else if (strstr(host, "://"))
                return berth_error_set(
                    err, EINVAL, "invalid host '%s': only unix:// sockets are supported", host);
        if (path[0] == '\0')
                path = BERTH_DEFAULT_SOCKET;
        if (path[0] != '/')
                return berth_error_set(err, EINVAL,
                                       "invalid host '%s': socket path must be absolute", host);
        *ret_path = xstrdup(path);
        return 0;
}

/* "https://mirror.example.com" -> "https://mirror.example.com/", as dockerd normalises. */
static int normalise_mirror(const char *m, char **ret, struct berth_error **err)
{
        const char *sep = strstr(m, "://");
        if (!sep)
                return berth_error_set(err, EINVAL, "invalid mirror: \"%s\" is not a valid URI", m);
        size_t slen = (size_t)(sep - m);
        if (!((slen == 4 && strncasecmp(m, "http", 4) == 0) ||
              (slen == 5 && strncasecmp(m, "https", 5) == 0)))
                return berth_error_set(err, EINVAL,
                                       "invalid mirror: unsupported scheme \"%.*s\" in \"%s\"",
                                       (int)slen, m, m);
        const char *host = sep + 3;
        size_t hlen = strcspn(host, "/?#");
        if (hlen == 0)
                return berth_error_set(err, EINVAL, "invalid mirror: no host in \"%s\"", m);
        const char *rest = host + hlen;
        if (rest[0] && strcmp(rest, "/") != 0)
                return berth_error_set(
                    err, EINVAL,
                    "invalid mirror: path, query, or fragment at end of the URI \"%s\"", m);
        *ret = xasprintf("%.*s://%.*s/", (int)slen, m, (int)hlen, host);
        for (char *p = *ret; *p && *p != ':'; p++)
                *p = (char)(*p | 0x20); /* scheme in lower case */
        return 0;
}

static int validate_insecure(const char *r, struct berth_error **err)
{
        if (strstr(r, "://"))
                return berth_error_set(err, EINVAL, "insecure registry %s should not contain '://'",
                                       r);
        if (!*r || strchr(r, ' ') || strchr(r, '\t'))
                return berth_error_set(err, EINVAL, "insecure registry \"%s\" is not valid", r);
        return 0;
}

static const struct key *find_key(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(keys[i].name, name) == 0)
                        return &keys[i];
        return NULL;
}

static bool type_ok(const struct key *k, const struct json *v)
{
        switch (k->type) {
        case K_STRING:
                return json_is(v, JSON_STRING);
        case K_BOOL:
                return json_is(v, JSON_BOOL);
        case K_INT:
                return json_is(v, JSON_NUMBER) && (v->num.flags & JSON_NUM_INT) &&
                       v->num.i >= INT32_MIN && v->num.i <= INT32_MAX;
        case K_POOLS: {
                if (!json_is(v, JSON_ARRAY))
                        return false;
                size_t i;
                struct json *item;
                json_array_foreach (v, i, item) {
                        const struct json *sz = json_get(item, "size");
                        if (!json_is(item, JSON_OBJECT) ||
                            !json_is(json_get(item, "base"), JSON_STRING) ||
                            !json_is(sz, JSON_NUMBER) || !(sz->num.flags & JSON_NUM_INT))
                                return false;
                }
                return true;
        }
        case K_STRV: {
                if (!json_is(v, JSON_ARRAY))
                        return false;
                size_t i;
                struct json *item;
                json_array_foreach (v, i, item)
                        if (!json_is(item, JSON_STRING))
                                return false;
                return true;
        }
        }
        return false;
}

static char **json_strv(const struct json *v)
{
        char **r = xcalloc(json_len(v) + 1, sizeof(char *));
        size_t i;
        struct json *item;
        json_array_foreach (v, i, item)
                r[i] = xstrdup(json_str(item));
        return r;
}

static char *str_flag(const char *v)
{
        return v ? xstrdup(v) : NULL;
}

static char *strv_flag(char *const *v)
{
        return v ? strv_join(v, ", ") : NULL;
}

static char *bool_flag(int b)
{
        return b >= 0 ? xstrdup(b ? "true" : "false") : NULL;
}

/* A flag's value as text for the conflict message, or NULL when the flag was not given. */
static char *flag_value(const struct berth_config_flags *f, const char *key)
{
        if (strcmp(key, "data-root") == 0)
                return f->data_root ? xstrdup(f->data_root) : NULL;
        if (strcmp(key, "exec-root") == 0)
                return f->exec_root ? xstrdup(f->exec_root) : NULL;
        if (strcmp(key, "pidfile") == 0)
                return f->pidfile ? xstrdup(f->pidfile) : NULL;
        if (strcmp(key, "cgroup-parent") == 0)
                return f->cgroup_parent ? xstrdup(f->cgroup_parent) : NULL;
        if (strcmp(key, "log-level") == 0)
                return f->log_level ? xstrdup(f->log_level) : NULL;
        if (strcmp(key, "hosts") == 0)
                return f->hosts ? strv_join(f->hosts, ", ") : NULL;
        if (strcmp(key, "registry-mirrors") == 0)
                return f->registry_mirrors ? strv_join(f->registry_mirrors, ", ") : NULL;
        if (strcmp(key, "insecure-registries") == 0)
                return f->insecure_registries ? strv_join(f->insecure_registries, ", ") : NULL;
        if (strcmp(key, "max-concurrent-downloads") == 0)
                return f->max_concurrent_downloads >= 0
                           ? xasprintf("%d", f->max_concurrent_downloads)
                           : NULL;
        if (strcmp(key, "debug") == 0)
                return f->debug >= 0 ? xstrdup(f->debug ? "true" : "false") : NULL;
        if (strcmp(key, "bridge") == 0)
                return str_flag(f->bridge);
        if (strcmp(key, "bip") == 0)
                return str_flag(f->bip);
        if (strcmp(key, "fixed-cidr") == 0)
                return str_flag(f->fixed_cidr);
        if (strcmp(key, "dns") == 0)
                return strv_flag(f->dns);
        if (strcmp(key, "dns-search") == 0)
                return strv_flag(f->dns_search);
        if (strcmp(key, "dns-opts") == 0)
                return strv_flag(f->dns_opts);
        if (strcmp(key, "default-address-pools") == 0)
                return strv_flag(f->address_pools);
        if (strcmp(key, "ip-masq") == 0)
                return bool_flag(f->ip_masq);
        if (strcmp(key, "ip-forward") == 0)
                return bool_flag(f->ip_forward);
        if (strcmp(key, "iptables") == 0)
                return bool_flag(f->iptables);
        if (strcmp(key, "icc") == 0)
                return bool_flag(f->icc);
        if (strcmp(key, "userland-proxy") == 0)
                return bool_flag(f->userland_proxy);
        if (strcmp(key, "mtu") == 0)
                return f->mtu >= 0 ? xasprintf("%d", f->mtu) : NULL;
        return NULL;
}

static char *json_value_text(const struct json *v)
{
        if (json_is(v, JSON_STRING))
                return xstrdup(json_str(v));
        if (json_is(v, JSON_ARRAY)) {
                struct berth_buf b = BERTH_BUF_INIT;
                size_t i;
                struct json *item;
                json_array_foreach (v, i, item) {
                        if (i)
                                buf_puts(&b, ", ");
                        buf_puts(&b, json_str(item) ? json_str(item) : "?");
                }
                return buf_steal(&b);
        }
        return json_dump(v, 0);
}

/* Read, parse and check the file; *ret is NULL when there is no file. */
static int read_file_json(const struct berth_config_flags *flags, char **ret_path,
                          struct json **ret, struct berth_error **err)
{
        const char *path = flags->config_file ? flags->config_file : BERTH_DEFAULT_CONFIG_FILE;
        _cleanup_json_ struct json *j = NULL;
        _cleanup_error_ struct berth_error *e = NULL;

        *ret = NULL;
        *ret_path = NULL;
        if (!flags->config_file && access(path, F_OK) < 0 && errno == ENOENT)
                return 0;
        int r = json_parse_file(path, CONFIG_MAX_SIZE, &j, &e);
        if (r < 0)
                return berth_error_set(err, -r, "unable to configure berthd with file %s: %s", path,
                                       berth_error_msg(e));
        if (!json_is(j, JSON_OBJECT))
                return berth_error_set(err, EINVAL,
                                       "unable to configure berthd with file %s: the configuration "
                                       "must be a JSON object",
                                       path);

        struct berth_buf unknown = BERTH_BUF_INIT, both = BERTH_BUF_INIT;
        size_t i;
        const char *k;
        struct json *v;
        json_object_foreach (j, i, k, v) {
                const struct key *key = find_key(k);
                if (!key) {
                        buf_printf(&unknown, "%s%s", unknown.len ? ", " : "", k);
                        continue;
                }
                _cleanup_free_ char *fv = flag_value(flags, k);
                if (fv) {
                        _cleanup_free_ char *jv = json_value_text(v);
                        buf_printf(&both, "%s%s: (from flag: %s, from file: %s)",
                                   both.len ? ", " : "", k, fv, jv);
                }
        }
        if (unknown.len) {
                r = berth_error_set(err, EINVAL,
                                    "unable to configure berthd with file %s: the following "
                                    "directives don't match any configuration option: %s",
                                    path, unknown.data);
                buf_release(&unknown);
                buf_release(&both);
                return r;
        }
        if (both.len) {
                r = berth_error_set(err, EINVAL,
                                    "unable to configure berthd with file %s: the following "
                                    "directives are specified both as a flag and in the "
                                    "configuration file: %s",
                                    path, both.data);
                buf_release(&both);
                return r;
        }
        json_object_foreach (j, i, k, v) {
                const struct key *key = find_key(k);
                if (!type_ok(key, v))
                        return berth_error_set(err, EINVAL,
                                               "unable to configure berthd with file %s: \"%s\" "
                                               "must be %s, not %s",
                                               path, k, type_names[key->type],
                                               json_type_name(v->type));
        }
        *ret_path = xstrdup(path);
        *ret = TAKE_PTR(j);
        return 0;
}

/* A cgroupfs path below each hierarchy's root: "/berth", "berth/ci" (made
 * absolute); no "." or ".." component, no systemd slice (no systemd driver). */
static int validate_cgroup_parent(char *v, struct berth_error **err)
{
        if (!*v)
                return berth_error_set(err, EINVAL, "cgroup-parent must not be empty");
        if (strlen(v) >= 1024)
                return berth_error_set(err, EINVAL, "cgroup-parent '%.40s…': too long", v);
        if (strlen(v) > 6 && strcmp(v + strlen(v) - 6, ".slice") == 0 && !strchr(v, '/'))
                return berth_error_set(err, EINVAL,
                                       "cgroup-parent '%s': a systemd slice needs the systemd "
                                       "cgroup driver, which berthd does not have; give a path "
                                       "such as /berth",
                                       v);
        for (const char *p = v; *p;) {
                size_t n = strcspn(p, "/");
                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return berth_error_set(
                            err, EINVAL, "cgroup-parent '%s': '.' and '..' are not allowed", v);
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                                return berth_error_set(err, EINVAL,
                                                       "cgroup-parent: control character");
                p += n;
                while (*p == '/')
                        p++;
        }
        return 0;
}

/* The networking keys, checked as dockerd checks them at start. */
static int validate_network(const struct berth_config *c, struct berth_error **err)
{
        struct net_addr a, b;
        _cleanup_error_ struct berth_error *e = NULL;
        if (!*c->bridge || strlen(c->bridge) > 15 || strchr(c->bridge, '/'))
                return berth_error_set(err, EINVAL, "bridge '%s': not a valid interface name",
                                       c->bridge);
        if (c->bip && (ipam_parse_cidr(c->bip, &a, &e) < 0 || a.family != AF_INET))
                return berth_error_set(err, EINVAL, "bip '%s': %s", c->bip,
                                       e ? berth_error_msg(e) : "not an IPv4 address");
        if (c->fixed_cidr) {
                if (ipam_parse_cidr(c->fixed_cidr, &b, &e) < 0 || b.family != AF_INET)
                        return berth_error_set(err, EINVAL, "fixed-cidr '%s': %s", c->fixed_cidr,
                                               e ? berth_error_msg(e) : "not an IPv4 subnet");
                if (c->bip && !(ipam_contains(&a, &b) && b.prefixlen >= a.prefixlen))
                        return berth_error_set(err, EINVAL,
                                               "fixed-cidr '%s' is not inside bip '%s'",
                                               c->fixed_cidr, c->bip);
        }
        if (c->mtu < 0 || (c->mtu && (c->mtu < 68 || c->mtu > 65535)))
                return berth_error_set(err, EINVAL, "invalid MTU %d: it must be 68 to 65535",
                                       c->mtu);
        for (size_t i = 0; c->address_pools[i]; i++) {
                _cleanup_free_ char *base = xstrdup(c->address_pools[i]);
                char *sp = strchr(base, ' ');
                *sp = '\0';
                long size = strtol(sp + 1, NULL, 10);
                if (ipam_parse_cidr(base, &a, &e) < 0)
                        return berth_error_set(err, EINVAL, "default-address-pools: %s",
                                               berth_error_msg(e));
                if (size < a.prefixlen || size > (long)ipam_family_bits(a.family))
                        return berth_error_set(err, EINVAL,
                                               "default-address-pools: size %ld is not between "
                                               "%u and %u for base %s",
                                               size, a.prefixlen, ipam_family_bits(a.family),
                                               base);
        }
        return 0;
}

static int finish(struct berth_config *c, struct berth_error **err)
{
        const char *ctx = c->config_file ? c->config_file : NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        int r = 0;

        /* Mirrors: normalised; insecure registries: checked. */
        char **mirrors = NULL;
        for (size_t i = 0; c->registry_mirrors && c->registry_mirrors[i]; i++) {
                char *m = NULL;
                r = normalise_mirror(c->registry_mirrors[i], &m, &e);
                if (r < 0)
                        break;
                strv_push(&mirrors, m);
        }
        strv_free(c->registry_mirrors);
        c->registry_mirrors = mirrors ? mirrors : xcalloc(1, sizeof(char *));
        for (size_t i = 0; r == 0 && c->insecure_registries[i]; i++)
                r = validate_insecure(c->insecure_registries[i], &e);
        for (size_t i = 0; r == 0 && c->labels[i]; i++)
                if (!strchr(c->labels[i], '=') || c->labels[i][0] == '=')
                        r = berth_error_set(&e, EINVAL, "bad attribute format: %s", c->labels[i]);
        if (r == 0 && c->max_concurrent_downloads < 0)
                r = berth_error_set(&e, EINVAL, "invalid max concurrent downloads: %d",
                                    c->max_concurrent_downloads);
        if (r == 0 && c->max_concurrent_uploads < 0)
                r = berth_error_set(&e, EINVAL, "invalid max concurrent uploads: %d",
                                    c->max_concurrent_uploads);
        enum berth_log_level lvl;
        if (r == 0 && berth_log_level_from_string(c->log_level, &lvl) < 0)
                r = berth_error_set(&e, EINVAL, "unable to parse logging level: %s", c->log_level);
        if (r == 0 && c->data_root[0] != '/')
                r = berth_error_set(&e, EINVAL, "data-root '%s' must be an absolute path",
                                    c->data_root);
        if (r == 0 && c->exec_root[0] != '/')
                r = berth_error_set(&e, EINVAL, "exec-root '%s' must be an absolute path",
                                    c->exec_root);
        if (r == 0)
                r = validate_cgroup_parent(c->cgroup_parent, &e);
        if (r == 0)
                r = validate_network(c, &e);
        if (r == 0 && c->pidfile[0] != '/')
                r = berth_error_set(&e, EINVAL, "pidfile '%s' must be an absolute path",
                                    c->pidfile);
        if (r < 0) {
                if (ctx)
                        return berth_error_set(err, -r,
                                               "unable to configure berthd with file %s: %s", ctx,
                                               berth_error_msg(e));
                return berth_error_set(err, -r, "%s", berth_error_msg(e));
        }
        if (c->debug) {
                free(c->log_level);
                c->log_level = xstrdup("debug");
        }
        return 0;
}

/* dockerd's --default-address-pool value, "base=CIDR,size=N" (either order), as the
 * "CIDR N" the file's objects become; the values themselves are checked with the file's. */
static int parse_pool_flag(const char *text, char **ret, struct berth_error **err)
{
        _cleanup_free_ char *copy = xstrdup(text);
        _cleanup_free_ char *base = NULL;
        long size = -1;
        char *save = NULL;
        for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(f, '=');
                if (strncmp(f, "base=", 5) == 0 && !base) {
                        base = xstrdup(eq + 1);
                } else if (strncmp(f, "size=", 5) == 0 && size < 0) {
                        char *end;
                        errno = 0;
                        size = strtol(eq + 1, &end, 10);
                        if (errno || end == eq + 1 || *end || size < 0)
                                return berth_error_set(err, EINVAL,
                                                       "invalid default-address-pool '%s': size "
                                                       "'%s' is not a prefix length",
                                                       text, eq + 1);
                } else {
                        return berth_error_set(err, EINVAL,
                                               "invalid default-address-pool '%s': '%s' is not "
                                               "base=CIDR or size=N",
                                               text, f);
                }
        }
        if (!base || size < 0)
                return berth_error_set(err, EINVAL,
                                       "invalid default-address-pool '%s': it needs base=CIDR "
                                       "and size=N",
                                       text);
        *ret = xasprintf("%s %ld", base, size);
        return 0;
}

int berth_config_load(const struct berth_config_flags *flags, struct berth_config **ret,
                      struct berth_error **err)
{
        _cleanup_json_ struct json *file = NULL;
        _cleanup_free_ char *path = NULL;
        int r = read_file_json(flags, &path, &file, err);
        if (r < 0)
                return r;

        struct berth_config *c = xcalloc(1, sizeof(*c));
        c->refs = 1;
        c->config_file = TAKE_PTR(path);
        struct json *v;

#define STR(key, field, flagv, def)                                                                \
        do {                                                                                       \
                if ((flagv))                                                                       \
                        c->field = xstrdup((flagv));                                               \
                else if ((v = json_get(file, key)))                                                \
                        c->field = xstrdup(json_str(v));                                           \
                else                                                                               \
                        c->field = (def);                                                          \
        } while (0)
#define STRV(key, field, flagv)                                                                    \
        do {                                                                                       \
                if ((flagv))                                                                       \
                        c->field = strv_copy((flagv));                                              \
                else if ((v = json_get(file, key)))                                                \
                        c->field = json_strv(v);                                                   \
                else                                                                               \
                        c->field = xcalloc(1, sizeof(char *));                                     \
        } while (0)

        STR("data-root", data_root, flags->data_root, xstrdup(BERTH_DEFAULT_DATA_ROOT));
        STR("exec-root", exec_root, flags->exec_root, xstrdup(BERTH_DEFAULT_EXEC_ROOT));
        STR("pidfile", pidfile, flags->pidfile, xasprintf("%s/berthd.pid", c->exec_root));
        STR("log-level", log_level, flags->log_level, xstrdup("info"));
        STR("cgroup-parent", cgroup_parent, flags->cgroup_parent,
            xstrdup(BERTH_DEFAULT_CGROUP_PARENT));
        STRV("registry-mirrors", registry_mirrors, flags->registry_mirrors);
        STRV("insecure-registries", insecure_registries, flags->insecure_registries);
        STRV("labels", labels, (char **)NULL);
        STR("bridge", bridge, flags->bridge, xstrdup("berth0"));
        STR("bip", bip, flags->bip, NULL);
        STR("fixed-cidr", fixed_cidr, flags->fixed_cidr, NULL);
        STRV("dns", dns, flags->dns);
        STRV("dns-search", dns_search, flags->dns_search);
        STRV("dns-opts", dns_opts, flags->dns_opts);
#undef STR
#undef STRV

        /* Hosts: parsed into socket paths; none given means the default socket. */
        char **hosts_in = flags->hosts                    ? strv_copy(flags->hosts)
                          : (v = json_get(file, "hosts")) ? json_strv(v)
                                                          : NULL;
        c->hosts = xcalloc(1, sizeof(char *));
        for (size_t i = 0; hosts_in && hosts_in[i] && r == 0; i++) {
                char *p = NULL;
                r = berth_config_parse_host(hosts_in[i], &p, err);
                if (r == 0)
                        strv_push(&c->hosts, p);
        }
        strv_free(hosts_in);
        if (r < 0) {
                berth_config_unref(c);
                return r;
        }
        if (!c->hosts[0])
                strv_push(&c->hosts, xstrdup(BERTH_DEFAULT_SOCKET));

        c->debug = flags->debug >= 0 ? flags->debug : (v = json_get(file, "debug")) ? v->b : false;
        c->max_concurrent_downloads =
            flags->max_concurrent_downloads >= 0               ? flags->max_concurrent_downloads
            : (v = json_get(file, "max-concurrent-downloads")) ? (int)v->num.i
                                                               : 3;
        c->max_concurrent_uploads =
            (v = json_get(file, "max-concurrent-uploads")) ? (int)v->num.i : 5;
        c->mtu = flags->mtu >= 0 ? flags->mtu : (v = json_get(file, "mtu")) ? (int)v->num.i : 0;
#define BOOL(key, field, def)                                                                      \
        c->field = flags->field >= 0 ? flags->field : (v = json_get(file, key)) ? v->b : (def)
        BOOL("ip-masq", ip_masq, true);
        BOOL("ip-forward", ip_forward, true);
        BOOL("iptables", iptables, true);
        BOOL("icc", icc, true);
        BOOL("userland-proxy", userland_proxy, -1);
#undef BOOL
        c->address_pools = xcalloc(1, sizeof(char *));
        for (size_t i = 0; flags->address_pools && flags->address_pools[i] && r == 0; i++) {
                char *pool = NULL;
                r = parse_pool_flag(flags->address_pools[i], &pool, err);
                if (r == 0)
                        strv_push(&c->address_pools, pool);
        }
        if (r < 0) {
                berth_config_unref(c);
                return r;
        }
        size_t pi;
        struct json *pool;
        if (!flags->address_pools)
                json_array_foreach (json_get(file, "default-address-pools"), pi, pool)
                        strv_push(&c->address_pools,
                                  xasprintf("%s %lld", json_str(json_get(pool, "base")),
                                            (long long)json_get(pool, "size")->num.i));

        r = finish(c, err);
        if (r < 0) {
                berth_config_unref(c);
                return r;
        }
        *ret = c;
        return 0;
}

static void note_change(char ***changes, const char *key, const char *from, const char *to)
{
        strv_push(changes, xasprintf("%s: %s -> %s", key, from, to));
}

int berth_config_reload(const struct berth_config *old, const struct berth_config_flags *flags,
                        struct berth_config **ret, char ***ret_changes, struct berth_error **err)
{
        struct berth_config *n = NULL;
        int r = berth_config_load(flags, &n, err);
        if (r < 0)
                return r;
        char **changes = xcalloc(1, sizeof(char *));

        /* Keys that need a restart keep their running values. */
#define KEEP(field, key)                                                                           \
        do {                                                                                       \
                if (strcmp(n->field, old->field) != 0)                                             \
                        strv_push(&changes,                                                        \
                                  xasprintf("%s: changed to %s, restart berthd to apply", key,     \
                                            n->field));                                            \
                free(n->field);                                                                    \
                n->field = xstrdup(old->field);                                                    \
        } while (0)
        KEEP(data_root, "data-root");
        KEEP(exec_root, "exec-root");
        KEEP(pidfile, "pidfile");
        KEEP(cgroup_parent, "cgroup-parent");
        KEEP(bridge, "bridge");
#undef KEEP
        /* the other networking keys too: the networks were set up with them */
        bool net_changed = !strv_equal(n->dns, old->dns) ||
                           !strv_equal(n->dns_search, old->dns_search) ||
                           !strv_equal(n->dns_opts, old->dns_opts) ||
                           !strv_equal(n->address_pools, old->address_pools) ||
                           n->mtu != old->mtu || n->ip_masq != old->ip_masq ||
                           n->ip_forward != old->ip_forward || n->iptables != old->iptables ||
                           n->icc != old->icc || n->userland_proxy != old->userland_proxy ||
                           !!n->bip != !!old->bip ||
                           (n->bip && strcmp(n->bip, old->bip) != 0) ||
                           !!n->fixed_cidr != !!old->fixed_cidr ||
                           (n->fixed_cidr && strcmp(n->fixed_cidr, old->fixed_cidr) != 0);
        if (net_changed)
                strv_push(&changes, xstrdup("networking keys: changed, restart berthd to apply"));
        free(n->bip);
        n->bip = old->bip ? xstrdup(old->bip) : NULL;
        free(n->fixed_cidr);
        n->fixed_cidr = old->fixed_cidr ? xstrdup(old->fixed_cidr) : NULL;
        strv_free(n->address_pools);
        n->address_pools = strv_copy(old->address_pools);
        strv_free(n->dns);
        n->dns = strv_copy(old->dns);
        strv_free(n->dns_search);
        n->dns_search = strv_copy(old->dns_search);
        strv_free(n->dns_opts);
        n->dns_opts = strv_copy(old->dns_opts);
        n->mtu = old->mtu;
        n->ip_masq = old->ip_masq;
        n->ip_forward = old->ip_forward;
        n->iptables = old->iptables;
        n->icc = old->icc;
        n->userland_proxy = old->userland_proxy;
        if (!strv_equal(n->hosts, old->hosts))
                strv_push(&changes, xstrdup("hosts: changed, restart berthd to apply"));
        strv_free(n->hosts);
        n->hosts = strv_copy(old->hosts);

        if (n->debug != old->debug)
                note_change(&changes, "debug", old->debug ? "true" : "false",
                            n->debug ? "true" : "false");
        if (strcmp(n->log_level, old->log_level) != 0)
                note_change(&changes, "log-level", old->log_level, n->log_level);
#define LIST(field, key)                                                                           \
        do {                                                                                       \
                if (!strv_equal(n->field, old->field)) {                                           \
                        _cleanup_free_ char *a = strv_join(old->field, ", ");                      \
                        _cleanup_free_ char *b = strv_join(n->field, ", ");                        \
                        strv_push(&changes, xasprintf("%s: [%s] -> [%s]", key, a, b));             \
                }                                                                                  \
        } while (0)
        LIST(registry_mirrors, "registry-mirrors");
        LIST(insecure_registries, "insecure-registries");
        LIST(labels, "labels");
#undef LIST
        if (n->max_concurrent_downloads != old->max_concurrent_downloads)
                strv_push(&changes,
                          xasprintf("max-concurrent-downloads: %d -> %d",
                                    old->max_concurrent_downloads, n->max_concurrent_downloads));
        if (n->max_concurrent_uploads != old->max_concurrent_uploads)
                strv_push(&changes,
                          xasprintf("max-concurrent-uploads: %d -> %d", old->max_concurrent_uploads,
                                    n->max_concurrent_uploads));
        *ret = n;
        *ret_changes = changes;
        return 0;
}

/* Parse "a.b.c.d/n" or "x::y/n" and test addr against it. */
static bool cidr_contains(const char *cidr, int family, const unsigned char *addr)
{
        const char *slash = strchr(cidr, '/');
        if (!slash)
                return false;
        char ip[64];
        size_t l = (size_t)(slash - cidr);
        if (l >= sizeof(ip))
                return false;
        memcpy(ip, cidr, l);
        ip[l] = '\0';
        unsigned char net[16];
        if (inet_pton(family, ip, net) != 1)
                return false;
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        int max = family == AF_INET ? 32 : 128;
        if (*end || bits < 0 || bits > max)
                return false;
        for (long i = 0; i < bits; i++) {
                int byte = (int)(i / 8), bit = 7 - (int)(i % 8);
                if (((net[byte] >> bit) & 1) != ((addr[byte] >> bit) & 1))
                        return false;
        }
        return true;
}

bool berth_config_registry_insecure(const struct berth_config *c, const char *host_port)
{
        for (size_t i = 0; c->insecure_registries[i]; i++)
                if (strcasecmp(c->insecure_registries[i], host_port) == 0)
                        return true;

        /* Strip the port: "[::1]:5000", "127.0.0.1:5000", "localhost:5000". */
        char host[256];
        const char *h = host_port;
        size_t hl;
        if (h[0] == '[') {
                const char *close = strchr(h, ']');
                if (!close)
                        return false;
                h++;
                hl = (size_t)(close - h);
        } else {
                const char *colon = strrchr(h, ':');
                hl = colon && !strchr(h, ':')           ? strlen(h)
                     : colon && colon == strchr(h, ':') ? (size_t)(colon - h)
                                                        : strlen(h);
        }
        if (hl >= sizeof(host))
                return false;
        memcpy(host, h, hl);
        host[hl] = '\0';
        if (strcasecmp(host, "localhost") == 0)
                return true;

        unsigned char addr[16];
        int family = AF_INET;
        if (inet_pton(AF_INET, host, addr) != 1) {
                family = AF_INET6;
                if (inet_pton(AF_INET6, host, addr) != 1)
                        return false;
        }
        if (family == AF_INET ? cidr_contains("127.0.0.0/8", family, addr)
                              : cidr_contains("::1/128", family, addr))
                return true;
        for (size_t i = 0; c->insecure_registries[i]; i++)
                if (cidr_contains(c->insecure_registries[i], family, addr))
                        return true;
        return false;
}
