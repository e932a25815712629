/*
 * image-spec.c — OCI image spec / Docker schema 2 documents: parse from the
 * JSON DOM into structs, validate, emit back, and select a platform.
 *
 * Each parse function walks the DOM with small typed getters that name the
 * document and the field in their errors ("manifest: layers[2]: digest
 * 'sha256:zz': invalid hex"), so a user sees which registry answer was bad.
 * Absent and null fields read as NULL; a present field of the wrong JSON type
 * is an error, never a silent default.
 *
 * Never: re-emit a document that came from a registry (see image-spec.h).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "image-spec.h"

/* ---- small string-vector helpers --------------------------------------- */

static size_t strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

static char **strv_copy_or_null(char *const *v)
{
        if (!v)
                return NULL;
        size_t n = strv_len(v);
        char **r = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                r[i] = xstrdup(v[i]);
        return r;
}

static bool strv_contains(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* ---- typed getters ------------------------------------------------------ */

static int get_str(const struct json *o, const char *key, const char *what, bool required,
                   char **ret, struct berth_error **err)
{
        const struct json *v = json_get(o, key);
        *ret = NULL;
        if (!v || v->type == JSON_NULL) {
                if (required)
                        return berth_error_set(err, EINVAL, "%s: missing '%s'", what, key);
                return 0;
        }
        if (v->type != JSON_STRING)
                return berth_error_set(err, EINVAL, "%s: '%s' must be a string, not %s", what, key,
                                       json_type_name(v->type));
        if (strlen(v->str.s) != v->str.len)
                return berth_error_set(err, EINVAL, "%s: '%s' contains a NUL byte", what, key);
        *ret = xstrdup(v->str.s);
        return 0;
}

static int get_strv(const struct json *o, const char *key, const char *what, char ***ret,
                    struct berth_error **err)
{
        const struct json *arr = json_get(o, key), *it;
        size_t i;
        *ret = NULL;
        if (!arr || arr->type == JSON_NULL)
                return 0;
        if (arr->type != JSON_ARRAY)
                return berth_error_set(err, EINVAL, "%s: '%s' must be an array of strings", what,
                                       key);
        char **r = xcalloc(arr->arr.n + 1, sizeof(char *));
        json_array_foreach (arr, i, it) {
                if (it->type != JSON_STRING || strlen(it->str.s) != it->str.len) {
                        strv_free(r);
                        return berth_error_set(err, EINVAL, "%s: '%s'[%zu] must be a string", what,
                                               key, i);
                }
                r[i] = xstrdup(it->str.s);
        }
        *ret = r;
        return 0;
}

/* Keys of an object whose values are objects ({"80/tcp": {}}). */
static int get_keys(const struct json *o, const char *key, const char *what, char ***ret,
                    struct berth_error **err)
{
        const struct json *v = json_get(o, key), *val;
        const char *k;
        size_t i;
        *ret = NULL;
        if (!v || v->type == JSON_NULL)
                return 0;
        if (v->type != JSON_OBJECT)
                return berth_error_set(err, EINVAL, "%s: '%s' must be an object", what, key);
        char **r = xcalloc(v->obj.n + 1, sizeof(char *));
        json_object_foreach (v, i, k, val) {
                (void)val;
                r[i] = xstrdup(k);
        }
        *ret = r;
        return 0;
}

/* Object of strings as alternating key, value. */
static int get_kv(const struct json *o, const char *key, const char *what, char ***ret,
                  struct berth_error **err)
{
        const struct json *v = json_get(o, key), *val;
        const char *k;
        size_t i;
        *ret = NULL;
        if (!v || v->type == JSON_NULL)
                return 0;
        if (v->type != JSON_OBJECT)
                return berth_error_set(err, EINVAL, "%s: '%s' must be an object", what, key);
        char **r = xcalloc(2 * v->obj.n + 1, sizeof(char *));
        json_object_foreach (v, i, k, val) {
                if (val->type != JSON_STRING) {
                        strv_free(r);
                        return berth_error_set(
                            err, EINVAL, "%s: '%s' value of '%s' must be a string", what, key, k);
                }
                r[2 * i] = xstrdup(k);
                r[2 * i + 1] = xstrdup(val->str.s);
        }
        *ret = r;
        return 0;
}

static int get_int64(const struct json *o, const char *key, const char *what, bool required,
                     int64_t *ret, struct berth_error **err)
{
        const struct json *v = json_get(o, key);
        *ret = 0;
        if (!v || v->type == JSON_NULL) {
                if (required)
                        return berth_error_set(err, EINVAL, "%s: missing '%s'", what, key);
                return 0;
        }
        if (v->type != JSON_NUMBER || !(v->num.flags & JSON_NUM_INT))
                return berth_error_set(err, EINVAL, "%s: '%s' must be an integer", what, key);
        *ret = v->num.i;
        return 0;
}

static int get_bool(const struct json *o, const char *key, const char *what, bool *ret,
                    struct berth_error **err)
{
        const struct json *v = json_get(o, key);
        *ret = false;
        if (!v || v->type == JSON_NULL)
                return 0;
        if (v->type != JSON_BOOL)
                return berth_error_set(err, EINVAL, "%s: '%s' must be a boolean", what, key);
        *ret = v->b;
        return 0;
}

static int get_annotations(const struct json *o, const char *what, struct json **ret,
                           struct berth_error **err)
{
        const struct json *v = json_get(o, "annotations"), *val;
        const char *k;
        size_t i;
        *ret = NULL;
        if (!v || v->type == JSON_NULL)
                return 0;
        if (v->type != JSON_OBJECT)
                return berth_error_set(err, EINVAL, "%s: 'annotations' must be an object", what);
        json_object_foreach (v, i, k, val)
                if (val->type != JSON_STRING)
                        return berth_error_set(err, EINVAL, "%s: annotation '%s' must be a string",
                                               what, k);
        *ret = json_copy(v);
        return 0;
}

static int parse_doc(const char *buf, size_t len, const char *what, struct json **ret,
                     struct berth_error **err)
{
        if (len > OCI_MANIFEST_MAX_SIZE && strcmp(what, "image config") != 0)
                return berth_error_set(err, EFBIG, "%s: %zu bytes is over the %u byte limit", what,
                                       len, OCI_MANIFEST_MAX_SIZE);
        int r = json_parse(buf, len, ret, err);
        if (r < 0)
                return berth_error_prefix(err, "%s", what);
        if ((*ret)->type != JSON_OBJECT) {
                json_free(*ret);
                *ret = NULL;
                return berth_error_set(err, EINVAL, "%s: not a JSON object", what);
        }
        return 0;
}

/* ---- media types -------------------------------------------------------- */

static const char *strip_params(const char *ct, char *buf, size_t bufsz)
{
        size_t n = strcspn(ct, ";");
        while (n > 0 && isspace((unsigned char)ct[n - 1]))
                n--;
        while (n > 0 && isspace((unsigned char)*ct))
                ct++, n--;
        if (n >= bufsz)
                n = bufsz - 1;
        memcpy(buf, ct, n);
        buf[n] = '\0';
        return buf;
}

enum oci_doc_kind oci_media_type_kind(const char *mt)
{
        char b[256];
        if (!mt)
                return OCI_DOC_UNKNOWN;
        mt = strip_params(mt, b, sizeof(b));
        if (strcasecmp(mt, OCI_MEDIA_TYPE_MANIFEST) == 0 ||
            strcasecmp(mt, DOCKER_MEDIA_TYPE_MANIFEST) == 0)
                return OCI_DOC_MANIFEST;
        if (strcasecmp(mt, OCI_MEDIA_TYPE_INDEX) == 0 ||
            strcasecmp(mt, DOCKER_MEDIA_TYPE_LIST) == 0)
                return OCI_DOC_INDEX;
        return OCI_DOC_UNKNOWN;
}

static bool is_schema1(const char *mt)
{
        char b[256];
        mt = strip_params(mt, b, sizeof(b));
        return strcasecmp(mt, DOCKER_MEDIA_TYPE_SCHEMA1) == 0 ||
               strcasecmp(mt, DOCKER_MEDIA_TYPE_SCHEMA1_SIG) == 0;
}

int oci_detect_kind(const char *content_type, const char *buf, size_t len, enum oci_doc_kind *ret,
                    struct berth_error **err)
{
        _cleanup_json_ struct json *j = NULL;
        enum oci_doc_kind by_header = oci_media_type_kind(content_type);
        *ret = OCI_DOC_UNKNOWN;
        if (content_type && is_schema1(content_type))
                return berth_error_set(err, ENOTSUP,
                                       "manifest: schema 1 manifests are not supported");
        int r = parse_doc(buf, len, "manifest", &j, err);
        if (r < 0)
                return r;
        const struct json *sv = json_get(j, "schemaVersion");
        if (json_is(sv, JSON_NUMBER) && sv->num.i == 1)
                return berth_error_set(err, ENOTSUP,
                                       "manifest: schema 1 manifests are not supported");
        const char *own = json_str(json_get(j, "mediaType"));
        enum oci_doc_kind by_doc = oci_media_type_kind(own);
        if (own && by_doc == OCI_DOC_UNKNOWN)
                return berth_error_set(err, ENOTSUP, "manifest: unsupported media type '%s'", own);
        if (by_header != OCI_DOC_UNKNOWN && by_doc != OCI_DOC_UNKNOWN && by_header != by_doc)
                return berth_error_set(err, EINVAL,
                                       "manifest: served as '%s' but its mediaType is '%s'",
                                       content_type, own);
        if (by_header != OCI_DOC_UNKNOWN)
                *ret = by_header;
        else if (by_doc != OCI_DOC_UNKNOWN)
                *ret = by_doc;
        else if (json_get(j, "manifests"))
                *ret = OCI_DOC_INDEX;
        else if (json_get(j, "layers") || json_get(j, "config"))
                *ret = OCI_DOC_MANIFEST;
        else
                return berth_error_set(err, ENOTSUP, "manifest: unsupported document of type '%s'",
                                       content_type ? content_type : "unknown");
        return 0;
}

static const struct {
        const char *mt;
        enum oci_compression comp;
        bool foreign;
} layer_types[] = {
    {OCI_MEDIA_TYPE_LAYER, OCI_COMPRESSION_NONE, false},
    {OCI_MEDIA_TYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP, false},
    {OCI_MEDIA_TYPE_LAYER_ZSTD, OCI_COMPRESSION_ZSTD, false},
    {OCI_MEDIA_TYPE_LAYER_ND, OCI_COMPRESSION_NONE, true},
    {OCI_MEDIA_TYPE_LAYER_ND_GZIP, OCI_COMPRESSION_GZIP, true},
    {OCI_MEDIA_TYPE_LAYER_ND_ZSTD, OCI_COMPRESSION_ZSTD, true},
    {DOCKER_MEDIA_TYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP, false},
    {DOCKER_MEDIA_TYPE_LAYER, OCI_COMPRESSION_NONE, false},
    {DOCKER_MEDIA_TYPE_LAYER_ZSTD, OCI_COMPRESSION_ZSTD, false},
    {DOCKER_MEDIA_TYPE_FOREIGN, OCI_COMPRESSION_GZIP, true},
};

int oci_layer_media_type(const char *mt, enum oci_compression *ret_comp, bool *ret_foreign)
{
        for (size_t i = 0; mt && i < ELEMENTSOF(layer_types); i++)
                if (strcmp(mt, layer_types[i].mt) == 0) {
                        if (ret_comp)
                                *ret_comp = layer_types[i].comp;
                        if (ret_foreign)
                                *ret_foreign = layer_types[i].foreign;
                        return 0;
                }
        return -EINVAL;
}

/* ---- digests ------------------------------------------------------------ */

int oci_digest_validate(const char *d, struct berth_error **err)
{
        size_t want;
        const char *hex;
        if (!d || !*d)
                return berth_error_set(err, EINVAL, "digest: empty");
        if (strncmp(d, "sha256:", 7) == 0)
                want = 64, hex = d + 7;
        else if (strncmp(d, "sha512:", 7) == 0)
                want = 128, hex = d + 7;
        else if (strchr(d, ':'))
                return berth_error_set(err, ENOTSUP, "digest '%.80s': unsupported algorithm", d);
        else
                return berth_error_set(err, EINVAL, "digest '%.80s': missing algorithm", d);
        size_t n = strlen(hex);
        for (size_t i = 0; i < n; i++)
                if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
                        return berth_error_set(err, EINVAL, "digest '%.80s': invalid hex", d);
        if (n != want)
                return berth_error_set(err, EINVAL, "digest '%.80s': wrong length %zu, want %zu", d,
                                       n, want);
        return 0;
}

/* ---- platforms ---------------------------------------------------------- */

static void set_str(char **p, const char *v)
{
        free(*p);
        *p = v ? xstrdup(v) : NULL;
}

void oci_platform_normalize(struct oci_platform *p)
{
        if (p->os) {
                for (char *c = p->os; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                if (strcmp(p->os, "macos") == 0)
                        set_str(&p->os, "darwin");
        }
        if (p->variant && !*p->variant)
                set_str(&p->variant, NULL);
        if (p->variant && isdigit((unsigned char)p->variant[0])) {
                char *v = xasprintf("v%s", p->variant);
                free(p->variant);
                p->variant = v;
        }
        if (!p->architecture)
                return;
        for (char *c = p->architecture; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        const char *a = p->architecture;
        if (strcmp(a, "x86_64") == 0 || strcmp(a, "x86-64") == 0 || strcmp(a, "amd64") == 0) {
                set_str(&p->architecture, "amd64");
                if (p->variant && strcmp(p->variant, "v1") == 0)
                        set_str(&p->variant, NULL);
        } else if (strcmp(a, "i386") == 0 || strcmp(a, "i686") == 0) {
                set_str(&p->architecture, "386");
        } else if (strcmp(a, "aarch64") == 0 || strcmp(a, "arm64") == 0) {
                set_str(&p->architecture, "arm64");
                if (!p->variant || strcmp(p->variant, "v8.0") == 0)
                        set_str(&p->variant, "v8");
        } else if (strcmp(a, "armhf") == 0) {
                set_str(&p->architecture, "arm");
                set_str(&p->variant, "v7");
        } else if (strcmp(a, "armel") == 0) {
                set_str(&p->architecture, "arm");
                set_str(&p->variant, "v6");
        }
}

/* Go's %q of a short ASCII-ish string, for containerd's parse errors. */
static char *go_quote(const char *s)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_putc(&b, '"');
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
                if (*c == '"' || *c == '\\')
                        buf_printf(&b, "\\%c", *c);
                else if (*c < 0x20 || *c == 0x7f)
                        buf_printf(&b, "\\x%02x", *c);
                else
                        buf_putc(&b, (char)*c);
        }
        buf_putc(&b, '"');
        return buf_steal(&b);
}

static bool in_list(const char *s, const char *const *list)
{
        for (size_t i = 0; list[i]; i++)
                if (strcmp(s, list[i]) == 0)
                        return true;
        return false;
}

/* Go's GOOS and GOARCH values, as containerd's isKnownOS / isKnownArch. */
static const char *const known_os[] = {
    "aix",  "android", "darwin",  "dragonfly", "freebsd", "hurd",   "illumos", "ios", "js", "linux",
    "nacl", "netbsd",  "openbsd", "plan9",     "solaris", "wasip1", "windows", "zos", NULL};
static const char *const known_arch[] = {"386",    "amd64",    "amd64p32",  "arm",         "armbe",
                                         "arm64",  "arm64be",  "loong64",   "mips",        "mipsle",
                                         "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
                                         "ppc64",  "ppc64le",  "riscv",     "riscv64",     "s390",
                                         "s390x",  "sparc",    "sparc64",   "wasm",        NULL};

static void lower(char *s)
{
        for (; s && *s; s++)
                *s = (char)tolower((unsigned char)*s);
}

/* containerd's normalizeOS */
static char *parse_os(const char *s)
{
        char *os = xstrdup(s);
        lower(os);
        if (strcmp(os, "macos") == 0)
                set_str(&os, "darwin");
        return os;
}

/* containerd's normalizeArch: the names docker's --platform takes (empty variant: NULL). */
static void parse_arch(const char *a, const char *v, struct oci_platform *p)
{
        char *arch = xstrdup(a), *var = xstrdup(v);
        lower(arch);
        lower(var);
        if (strcmp(arch, "i386") == 0) {
                set_str(&arch, "386");
                var[0] = '\0';
        } else if (strcmp(arch, "x86_64") == 0 || strcmp(arch, "x86-64") == 0 ||
                   strcmp(arch, "amd64") == 0) {
                set_str(&arch, "amd64");
                if (strcmp(var, "v1") == 0)
                        var[0] = '\0';
        } else if (strcmp(arch, "aarch64") == 0 || strcmp(arch, "arm64") == 0) {
                set_str(&arch, "arm64");
                if (strcmp(var, "8") == 0 || strcmp(var, "v8") == 0)
                        var[0] = '\0';
        } else if (strcmp(arch, "armhf") == 0) {
                set_str(&arch, "arm");
                set_str(&var, "v7");
        } else if (strcmp(arch, "armel") == 0) {
                set_str(&arch, "arm");
                set_str(&var, "v6");
        } else if (strcmp(arch, "arm") == 0) {
                if (!*var || strcmp(var, "7") == 0)
                        set_str(&var, "v7");
                else if (strcmp(var, "5") == 0 || strcmp(var, "6") == 0 || strcmp(var, "8") == 0) {
                        char *vn = xasprintf("v%s", var);
                        free(var);
                        var = vn;
                }
        }
        p->architecture = arch;
        if (*var)
                p->variant = var;
        else
                free(var);
}

static bool spec_component_ok(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
                        return false;
        return true;
}

int oci_platform_parse(const char *s, struct oci_platform *ret, struct berth_error **err)
{
        memset(ret, 0, sizeof(*ret));
        if (!s)
                s = "";
        _cleanup_free_ char *q = go_quote(s);
        if (strchr(s, '*'))
                return berth_error_set(err, EINVAL,
                                       "%s: wildcards not yet supported: invalid argument", q);
        _cleanup_free_ char *copy = xstrdup(s);
        char *parts[4] = {NULL};
        size_t n = 0;
        for (char *part = copy;; n++) {
                char *slash = strchr(part, '/');
                if (slash)
                        *slash = '\0';
                if (!spec_component_ok(part)) {
                        _cleanup_free_ char *qp = go_quote(part);
                        return berth_error_set(err, EINVAL,
                                               "%s is an invalid component of %s: platform "
                                               "specifier component must match "
                                               "\"^[A-Za-z0-9_-]+$\": invalid argument",
                                               qp, q);
                }
                if (n < ELEMENTSOF(parts))
                        parts[n] = part;
                if (!slash)
                        break;
                part = slash + 1;
        }
        n++;
        switch (n) {
        case 1:
                /* A lone word is an OS when Go knows it (the architecture is then this
                 * build's), else an architecture of Linux. */
                ret->os = parse_os(parts[0]);
                if (in_list(ret->os, known_os)) {
                        ret->architecture = xstrdup("amd64");
                        return 0;
                }
                set_str(&ret->os, "linux");
                parse_arch(parts[0], "", ret);
                if (ret->variant && strcmp(ret->architecture, "arm") == 0 &&
                    strcmp(ret->variant, "v7") == 0)
                        set_str(&ret->variant, NULL);
                if (in_list(ret->architecture, known_arch))
                        return 0;
                oci_platform_release(ret);
                return berth_error_set(err, EINVAL,
                                       "%s: unknown operating system or architecture: invalid "
                                       "argument",
                                       q);
        case 2:
                ret->os = parse_os(parts[0]);
                parse_arch(parts[1], "", ret);
                if (ret->variant && strcmp(ret->architecture, "arm") == 0 &&
                    strcmp(ret->variant, "v7") == 0)
                        set_str(&ret->variant, NULL);
                return 0;
        case 3:
                ret->os = parse_os(parts[0]);
                parse_arch(parts[1], parts[2], ret);
                if (!ret->variant && strcmp(ret->architecture, "arm64") == 0)
                        ret->variant = xstrdup("v8");
                return 0;
        default:
                return berth_error_set(err, EINVAL,
                                       "%s: cannot parse platform specifier: invalid argument", q);
        }
}

char *oci_platform_format(const struct oci_platform *p)
{
        const char *os = p->os ? p->os : "unknown",
                   *a = p->architecture ? p->architecture : "unknown";
        if (p->variant && *p->variant)
                return xasprintf("%s/%s/%s", os, a, p->variant);
        return xasprintf("%s/%s", os, a);
}

void oci_platform_release(struct oci_platform *p)
{
        if (!p)
                return;
        free(p->architecture);
        free(p->os);
        free(p->os_version);
        strv_free(p->os_features);
        free(p->variant);
        strv_free(p->features);
        memset(p, 0, sizeof(*p));
}

void oci_platform_copy(struct oci_platform *dst, const struct oci_platform *src)
{
        dst->architecture = src->architecture ? xstrdup(src->architecture) : NULL;
        dst->os = src->os ? xstrdup(src->os) : NULL;
        dst->os_version = src->os_version ? xstrdup(src->os_version) : NULL;
        dst->os_features = strv_copy_or_null(src->os_features);
        dst->variant = src->variant ? xstrdup(src->variant) : NULL;
        dst->features = strv_copy_or_null(src->features);
}

static int arm_level(const char *variant)
{
        if (!variant || variant[0] != 'v' || !isdigit((unsigned char)variant[1]))
                return 0;
        return atoi(variant + 1);
}

/* "10.0.17763.1234" and "10.0.17763.5" are the same build; the revision may differ. */
static bool same_windows_build(const char *a, const char *b)
{
        size_t dots = 0, i = 0;
        for (; a[i] && a[i] == b[i]; i++)
                if (a[i] == '.' && ++dots == 3)
                        return true;
        return dots == 2 && (a[i] == '\0' || a[i] == '.') && (b[i] == '\0' || b[i] == '.');
}

int oci_platform_match(const struct oci_platform *want_in, const struct oci_platform *have_in)
{
        struct oci_platform want = {0}, have = {0};
        int rank = 0;
        oci_platform_copy(&want, want_in);
        oci_platform_copy(&have, have_in);
        oci_platform_normalize(&want);
        oci_platform_normalize(&have);
        if (!want.os || !have.os || !want.architecture || !have.architecture)
                goto out;
        if (strcmp(want.os, have.os) != 0 || strcmp(want.architecture, have.architecture) != 0)
                goto out;
        /* Every OS feature the image needs must be one the host has. */
        for (size_t i = 0; have.os_features && have.os_features[i]; i++)
                if (!strv_contains(want.os_features, have.os_features[i]))
                        goto out;
        /* Windows images run on the build they were made for (major.minor.build). */
        if (strcmp(want.os, "windows") == 0 && want.os_version && have.os_version &&
            !same_windows_build(want.os_version, have.os_version))
                goto out;
        if (strcmp(want.architecture, "arm") == 0) {
                int w = want.variant ? arm_level(want.variant) : 7;
                int h = arm_level(have.variant);
                if (!have.variant)
                        rank = 1; /* unspecified arm: runs on any arm, ranked last */
                else if (h > 0 && h <= w)
                        rank = 2 + h;
                goto out;
        }
        bool wv = want.variant != NULL, hv = have.variant != NULL;
        if (wv == hv && (!wv || strcmp(want.variant, have.variant) == 0))
                rank = 3;
        else if (!wv && strcmp(want.architecture, "amd64") != 0)
                rank = 1; /* host did not say; any variant of another arch will do */
out:
        oci_platform_release(&want);
        oci_platform_release(&have);
        return rank;
}

static int platform_from_json(const struct json *j, const char *what, struct oci_platform **ret,
                              struct berth_error **err)
{
        *ret = NULL;
        if (!j || j->type == JSON_NULL)
                return 0;
        if (j->type != JSON_OBJECT)
                return berth_error_set(err, EINVAL, "%s: 'platform' must be an object", what);
        struct oci_platform *p = xcalloc(1, sizeof(*p));
        int r;
        if ((r = get_str(j, "architecture", what, true, &p->architecture, err)) < 0 ||
            (r = get_str(j, "os", what, true, &p->os, err)) < 0 ||
            (r = get_str(j, "os.version", what, false, &p->os_version, err)) < 0 ||
            (r = get_strv(j, "os.features", what, &p->os_features, err)) < 0 ||
            (r = get_str(j, "variant", what, false, &p->variant, err)) < 0 ||
            (r = get_strv(j, "features", what, &p->features, err)) < 0) {
                oci_platform_release(p);
                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

static struct json *platform_to_json(const struct oci_platform *p)
{
        struct json *o = json_new_object();
        json_set_str(o, "architecture", p->architecture ? p->architecture : "");
        json_set_str(o, "os", p->os ? p->os : "");
        if (p->os_version)
                json_set_str(o, "os.version", p->os_version);
        if (p->os_features) {
                struct json *a = json_object_set(o, "os.features", json_new_array());
                for (size_t i = 0; p->os_features[i]; i++)
                        json_array_append(a, json_new_string(p->os_features[i]));
        }
        if (p->variant)
                json_set_str(o, "variant", p->variant);
        return o;
}

/* ---- descriptors -------------------------------------------------------- */

void oci_descriptor_release(struct oci_descriptor *d)
{
        if (!d)
                return;
        free(d->media_type);
        free(d->digest);
        strv_free(d->urls);
        json_free(d->annotations);
        if (d->platform) {
                oci_platform_release(d->platform);
                free(d->platform);
        }
        free(d->artifact_type);
        memset(d, 0, sizeof(*d));
}

int oci_descriptor_validate(const struct oci_descriptor *d, struct berth_error **err)
{
        if (!d->media_type || !*d->media_type)
                return berth_error_set(err, EINVAL, "descriptor: missing 'mediaType'");
        int r = oci_digest_validate(d->digest, err);
        if (r < 0)
                return r;
        if (d->size < 0)
                return berth_error_set(err, EINVAL, "descriptor %s: negative size %lld", d->digest,
                                       (long long)d->size);
        for (size_t i = 0; d->urls && d->urls[i]; i++)
                if (strncmp(d->urls[i], "https://", 8) != 0 &&
                    strncmp(d->urls[i], "http://", 7) != 0)
                        return berth_error_set(err, EINVAL,
                                               "descriptor %s: url '%.100s' is not http(s)",
                                               d->digest, d->urls[i]);
        return 0;
}

int oci_descriptor_from_json(const struct json *j, struct oci_descriptor *ret,
                             struct berth_error **err)
{
        const char *what = "descriptor";
        int r;
        memset(ret, 0, sizeof(*ret));
        if (!json_is(j, JSON_OBJECT))
                return berth_error_set(err, EINVAL, "descriptor: not an object");
        const struct json *size = json_get(j, "size");
        if (!size)
                return berth_error_set(err, EINVAL, "descriptor: missing 'size'");
        if (size->type != JSON_NUMBER || !(size->num.flags & JSON_NUM_INT))
                return berth_error_set(err, EINVAL, "descriptor: 'size' must be an integer");
        ret->size = size->num.i;
        if ((r = get_str(j, "mediaType", what, true, &ret->media_type, err)) < 0 ||
            (r = get_str(j, "digest", what, true, &ret->digest, err)) < 0 ||
            (r = get_strv(j, "urls", what, &ret->urls, err)) < 0 ||
            (r = get_annotations(j, what, &ret->annotations, err)) < 0 ||
            (r = platform_from_json(json_get(j, "platform"), what, &ret->platform, err)) < 0 ||
            (r = get_str(j, "artifactType", what, false, &ret->artifact_type, err)) < 0 ||
            (r = oci_descriptor_validate(ret, err)) < 0) {
                oci_descriptor_release(ret);
                return r;
        }
        return 0;
}

struct json *oci_descriptor_to_json(const struct oci_descriptor *d)
{
        struct json *o = json_new_object();
        json_set_str(o, "mediaType", d->media_type);
        json_set_str(o, "digest", d->digest);
        json_set_int(o, "size", d->size);
        if (d->urls) {
                struct json *a = json_object_set(o, "urls", json_new_array());
                for (size_t i = 0; d->urls[i]; i++)
                        json_array_append(a, json_new_string(d->urls[i]));
        }
        if (d->annotations)
                json_object_set(o, "annotations", json_copy(d->annotations));
        if (d->platform)
                json_object_set(o, "platform", platform_to_json(d->platform));
        if (d->artifact_type)
                json_set_str(o, "artifactType", d->artifact_type);
        return o;
}

static int descriptors_from_json(const struct json *arr, const char *what, const char *key,
                                 struct oci_descriptor **ret, size_t *ret_n,
                                 struct berth_error **err)
{
        const struct json *it;
        size_t i;
        *ret = NULL;
        *ret_n = 0;
        if (!arr || arr->type == JSON_NULL)
                return 0;
        if (arr->type != JSON_ARRAY)
                return berth_error_set(err, EINVAL, "%s: '%s' must be an array", what, key);
        struct oci_descriptor *d = xcalloc(arr->arr.n ? arr->arr.n : 1, sizeof(*d));
        json_array_foreach (arr, i, it) {
                int r = oci_descriptor_from_json(it, &d[i], err);
                if (r < 0) {
                        for (size_t k = 0; k < i; k++)
                                oci_descriptor_release(&d[k]);
                        free(d);
                        return berth_error_prefix(err, "%s: %s[%zu]", what, key, i);
                }
        }
        *ret = d;
        *ret_n = arr->arr.n;
        return 0;
}

/* ---- manifests ---------------------------------------------------------- */

void oci_manifest_free(struct oci_manifest *m)
{
        if (!m)
                return;
        free(m->media_type);
        free(m->artifact_type);
        oci_descriptor_release(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                oci_descriptor_release(&m->layers[i]);
        free(m->layers);
        if (m->subject) {
                oci_descriptor_release(m->subject);
                free(m->subject);
        }
        json_free(m->annotations);
        free(m);
}

int oci_manifest_validate(const struct oci_manifest *m, struct berth_error **err)
{
        int r;
        if (m->schema_version != 2)
                return berth_error_set(err, ENOTSUP, "manifest: unsupported schemaVersion %d",
                                       m->schema_version);
        if (m->media_type && oci_media_type_kind(m->media_type) != OCI_DOC_MANIFEST)
                return berth_error_set(err, EINVAL, "manifest: mediaType '%s' is not a manifest",
                                       m->media_type);
        if ((r = oci_descriptor_validate(&m->config, err)) < 0)
                return berth_error_prefix(err, "manifest: config");
        bool docker = m->media_type && strcmp(m->media_type, DOCKER_MEDIA_TYPE_MANIFEST) == 0;
        for (size_t i = 0; i < m->n_layers; i++) {
                if ((r = oci_descriptor_validate(&m->layers[i], err)) < 0)
                        return berth_error_prefix(err, "manifest: layers[%zu]", i);
                /* Docker schema 2 only knows its own layer types; OCI manifests may carry
                 * artifacts. */
                if (docker && oci_layer_media_type(m->layers[i].media_type, NULL, NULL) < 0)
                        return berth_error_set(
                            err, EINVAL, "manifest: layers[%zu]: unknown layer media type '%s'", i,
                            m->layers[i].media_type);
        }
        return 0;
}

int oci_manifest_parse(const char *buf, size_t len, struct oci_manifest **ret,
                       struct berth_error **err)
{
        _cleanup_json_ struct json *j = NULL;
        const char *what = "manifest";
        int64_t sv;
        int r;
        *ret = NULL;
        if ((r = parse_doc(buf, len, what, &j, err)) < 0)
                return r;
        if ((r = get_int64(j, "schemaVersion", what, true, &sv, err)) < 0)
                return r;
        if (sv != 2)
                return berth_error_set(err, ENOTSUP, "manifest: unsupported schemaVersion %lld",
                                       (long long)sv);
        _cleanup_oci_manifest_ struct oci_manifest *m = xcalloc(1, sizeof(*m));
        m->schema_version = 2;
        if ((r = get_str(j, "mediaType", what, false, &m->media_type, err)) < 0 ||
            (r = get_str(j, "artifactType", what, false, &m->artifact_type, err)) < 0 ||
            (r = get_annotations(j, what, &m->annotations, err)) < 0)
                return r;
        const struct json *cfg = json_get(j, "config");
        if (!cfg)
                return berth_error_set(err, EINVAL, "manifest: missing 'config'");
        if ((r = oci_descriptor_from_json(cfg, &m->config, err)) < 0)
                return berth_error_prefix(err, "manifest: config");
        const struct json *layers = json_get(j, "layers");
        if (!json_is(layers, JSON_ARRAY))
                return berth_error_set(err, EINVAL, "manifest: 'layers' must be an array");
        if ((r = descriptors_from_json(layers, what, "layers", &m->layers, &m->n_layers, err)) < 0)
                return r;
        const struct json *subj = json_get(j, "subject");
        if (subj && subj->type != JSON_NULL) {
                m->subject = xcalloc(1, sizeof(*m->subject));
                if ((r = oci_descriptor_from_json(subj, m->subject, err)) < 0)
                        return berth_error_prefix(err, "manifest: subject");
        }
        if ((r = oci_manifest_validate(m, err)) < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

char *oci_manifest_emit(const struct oci_manifest *m)
{
        _cleanup_json_ struct json *o = json_new_object();
        json_set_int(o, "schemaVersion", m->schema_version);
        if (m->media_type)
                json_set_str(o, "mediaType", m->media_type);
        if (m->artifact_type)
                json_set_str(o, "artifactType", m->artifact_type);
        json_object_set(o, "config", oci_descriptor_to_json(&m->config));
        struct json *a = json_object_set(o, "layers", json_new_array());
        for (size_t i = 0; i < m->n_layers; i++)
                json_array_append(a, oci_descriptor_to_json(&m->layers[i]));
        if (m->subject)
                json_object_set(o, "subject", oci_descriptor_to_json(m->subject));
        if (m->annotations)
                json_object_set(o, "annotations", json_copy(m->annotations));
        return json_dump(o, 0);
}

/* ---- indexes ------------------------------------------------------------ */

void oci_index_free(struct oci_index *x)
{
        if (!x)
                return;
        free(x->media_type);
        for (size_t i = 0; i < x->n_manifests; i++)
                oci_descriptor_release(&x->manifests[i]);
        free(x->manifests);
        json_free(x->annotations);
        free(x);
}

int oci_index_validate(const struct oci_index *x, struct berth_error **err)
{
        int r;
        if (x->schema_version != 2)
                return berth_error_set(err, ENOTSUP, "index: unsupported schemaVersion %d",
                                       x->schema_version);
        if (x->media_type && oci_media_type_kind(x->media_type) != OCI_DOC_INDEX)
                return berth_error_set(err, EINVAL, "index: mediaType '%s' is not an index",
                                       x->media_type);
        for (size_t i = 0; i < x->n_manifests; i++)
                if ((r = oci_descriptor_validate(&x->manifests[i], err)) < 0)
                        return berth_error_prefix(err, "index: manifests[%zu]", i);
        return 0;
}

int oci_index_parse(const char *buf, size_t len, struct oci_index **ret, struct berth_error **err)
{
        _cleanup_json_ struct json *j = NULL;
        const char *what = "index";
        int64_t sv;
        int r;
        *ret = NULL;
        if ((r = parse_doc(buf, len, what, &j, err)) < 0)
                return r;
        if ((r = get_int64(j, "schemaVersion", what, true, &sv, err)) < 0)
                return r;
        if (sv != 2)
                return berth_error_set(err, ENOTSUP, "index: unsupported schemaVersion %lld",
                                       (long long)sv);
        _cleanup_oci_index_ struct oci_index *x = xcalloc(1, sizeof(*x));
        x->schema_version = 2;
        if ((r = get_str(j, "mediaType", what, false, &x->media_type, err)) < 0 ||
            (r = get_annotations(j, what, &x->annotations, err)) < 0)
                return r;
        const struct json *ms = json_get(j, "manifests");
        if (!json_is(ms, JSON_ARRAY))
                return berth_error_set(err, EINVAL, "index: 'manifests' must be an array");
        if ((r = descriptors_from_json(ms, what, "manifests", &x->manifests, &x->n_manifests,
                                       err)) < 0)
                return r;
        if ((r = oci_index_validate(x, err)) < 0)
                return r;
        *ret = TAKE_PTR(x);
        return 0;
}

char *oci_index_emit(const struct oci_index *x)
{
        _cleanup_json_ struct json *o = json_new_object();
        json_set_int(o, "schemaVersion", x->schema_version);
        if (x->media_type)
                json_set_str(o, "mediaType", x->media_type);
        struct json *a = json_object_set(o, "manifests", json_new_array());
        for (size_t i = 0; i < x->n_manifests; i++)
                json_array_append(a, oci_descriptor_to_json(&x->manifests[i]));
        if (x->annotations)
                json_object_set(o, "annotations", json_copy(x->annotations));
        return json_dump(o, 0);
}

int oci_index_select(const struct oci_index *x, const struct oci_platform *want,
                     struct berth_error **err)
{
        int best = -1, best_rank = 0;
        for (size_t i = 0; i < x->n_manifests; i++) {
                const struct oci_descriptor *d = &x->manifests[i];
                if (!d->platform || oci_media_type_kind(d->media_type) != OCI_DOC_MANIFEST)
                        continue;
                int rank = oci_platform_match(want, d->platform);
                if (rank > best_rank)
                        best = (int)i, best_rank = rank;
        }
        if (best >= 0)
                return best;
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        for (size_t i = 0; i < x->n_manifests; i++) {
                if (!x->manifests[i].platform)
                        continue;
                _cleanup_free_ char *s = oci_platform_format(x->manifests[i].platform);
                buf_printf(&b, "%s%s", b.len ? ", " : "", s);
        }
        _cleanup_free_ char *w = oci_platform_format(want);
        return berth_error_set(err, ENOENT, "no manifest for platform %s in the index (it has %s)",
                               w, b.len ? b.data : "none");
}

/* ---- image configs ------------------------------------------------------ */

static void container_config_release(struct oci_container_config *c)
{
        free(c->user);
        strv_free(c->exposed_ports);
        strv_free(c->env);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        strv_free(c->volumes);
        free(c->working_dir);
        strv_free(c->labels);
        free(c->stop_signal);
        if (c->healthcheck) {
                strv_free(c->healthcheck->test);
                free(c->healthcheck);
        }
        strv_free(c->on_build);
        strv_free(c->shell);
        memset(c, 0, sizeof(*c));
}

void oci_image_config_free(struct oci_image_config *c)
{
        if (!c)
                return;
        free(c->created);
        free(c->author);
        free(c->architecture);
        free(c->os);
        free(c->os_version);
        strv_free(c->os_features);
        free(c->variant);
        container_config_release(&c->config);
        free(c->rootfs_type);
        strv_free(c->diff_ids);
        for (size_t i = 0; i < c->n_history; i++) {
                free(c->history[i].created);
                free(c->history[i].created_by);
                free(c->history[i].author);
                free(c->history[i].comment);
        }
        free(c->history);
        free(c);
}

static int healthcheck_from_json(const struct json *j, struct oci_healthcheck **ret,
                                 struct berth_error **err)
{
        const char *what = "image config: Healthcheck";
        *ret = NULL;
        if (!j || j->type == JSON_NULL)
                return 0;
        if (j->type != JSON_OBJECT)
                return berth_error_set(err, EINVAL, "%s: not an object", what);
        struct oci_healthcheck *h = xcalloc(1, sizeof(*h));
        int r;
        if ((r = get_strv(j, "Test", what, &h->test, err)) < 0 ||
            (r = get_int64(j, "Interval", what, false, &h->interval, err)) < 0 ||
            (r = get_int64(j, "Timeout", what, false, &h->timeout, err)) < 0 ||
            (r = get_int64(j, "StartPeriod", what, false, &h->start_period, err)) < 0 ||
            (r = get_int64(j, "StartInterval", what, false, &h->start_interval, err)) < 0 ||
            (r = get_int64(j, "Retries", what, false, &h->retries, err)) < 0) {
                strv_free(h->test);
                free(h);
                return r;
        }
        *ret = h;
        return 0;
}

static int container_config_from_json(const struct json *j, struct oci_container_config *c,
                                      struct berth_error **err)
{
        const char *what = "image config: config";
        int r;
        if (j->type != JSON_OBJECT)
                return berth_error_set(err, EINVAL, "%s: not an object", what);
        if ((r = get_str(j, "User", what, false, &c->user, err)) < 0 ||
            (r = get_keys(j, "ExposedPorts", what, &c->exposed_ports, err)) < 0 ||
            (r = get_strv(j, "Env", what, &c->env, err)) < 0 ||
            (r = get_strv(j, "Entrypoint", what, &c->entrypoint, err)) < 0 ||
            (r = get_strv(j, "Cmd", what, &c->cmd, err)) < 0 ||
            (r = get_keys(j, "Volumes", what, &c->volumes, err)) < 0 ||
            (r = get_str(j, "WorkingDir", what, false, &c->working_dir, err)) < 0 ||
            (r = get_kv(j, "Labels", what, &c->labels, err)) < 0 ||
            (r = get_str(j, "StopSignal", what, false, &c->stop_signal, err)) < 0 ||
            (r = healthcheck_from_json(json_get(j, "Healthcheck"), &c->healthcheck, err)) < 0 ||
            (r = get_bool(j, "ArgsEscaped", what, &c->args_escaped, err)) < 0 ||
            (r = get_strv(j, "OnBuild", what, &c->on_build, err)) < 0 ||
            (r = get_strv(j, "Shell", what, &c->shell, err)) < 0)
                return r;
        return 0;
}

static int history_from_json(const struct json *arr, struct oci_image_config *c,
                             struct berth_error **err)
{
        const struct json *it;
        size_t i;
        int r;
        if (!arr || arr->type == JSON_NULL)
                return 0;
        if (arr->type != JSON_ARRAY)
                return berth_error_set(err, EINVAL, "image config: 'history' must be an array");
        c->history = xcalloc(arr->arr.n ? arr->arr.n : 1, sizeof(*c->history));
        json_array_foreach (arr, i, it) {
                struct oci_history *h = &c->history[i];
                c->n_history = i + 1;
                if (!json_is(it, JSON_OBJECT))
                        return berth_error_set(err, EINVAL,
                                               "image config: history[%zu] is not an object", i);
                if ((r = get_str(it, "created", "image config: history", false, &h->created, err)) <
                        0 ||
                    (r = get_str(it, "created_by", "image config: history", false, &h->created_by,
                                 err)) < 0 ||
                    (r = get_str(it, "author", "image config: history", false, &h->author, err)) <
                        0 ||
                    (r = get_str(it, "comment", "image config: history", false, &h->comment, err)) <
                        0 ||
                    (r = get_bool(it, "empty_layer", "image config: history", &h->empty_layer,
                                  err)) < 0)
                        return r;
        }
        return 0;
}

int oci_image_config_validate(const struct oci_image_config *c, struct berth_error **err)
{
        if (!c->architecture || !*c->architecture)
                return berth_error_set(err, EINVAL, "image config: missing 'architecture'");
        if (!c->os || !*c->os)
                return berth_error_set(err, EINVAL, "image config: missing 'os'");
        if (!c->rootfs_type || strcmp(c->rootfs_type, "layers") != 0)
                return berth_error_set(err, EINVAL,
                                       "image config: rootfs type '%s' is not 'layers'",
                                       c->rootfs_type ? c->rootfs_type : "");
        for (size_t i = 0; c->diff_ids && c->diff_ids[i]; i++) {
                int r = oci_digest_validate(c->diff_ids[i], err);
                if (r < 0)
                        return berth_error_prefix(err, "image config: diff_ids[%zu]", i);
        }
        return 0;
}

int oci_image_config_parse(const char *buf, size_t len, struct oci_image_config **ret,
                           struct berth_error **err)
{
        _cleanup_json_ struct json *j = NULL;
        const char *what = "image config";
        int r;
        *ret = NULL;
        if ((r = parse_doc(buf, len, what, &j, err)) < 0)
                return r;
        _cleanup_oci_image_config_ struct oci_image_config *c = xcalloc(1, sizeof(*c));
        if ((r = get_str(j, "created", what, false, &c->created, err)) < 0 ||
            (r = get_str(j, "author", what, false, &c->author, err)) < 0 ||
            (r = get_str(j, "architecture", what, true, &c->architecture, err)) < 0 ||
            (r = get_str(j, "os", what, true, &c->os, err)) < 0 ||
            (r = get_str(j, "os.version", what, false, &c->os_version, err)) < 0 ||
            (r = get_strv(j, "os.features", what, &c->os_features, err)) < 0 ||
            (r = get_str(j, "variant", what, false, &c->variant, err)) < 0)
                return r;
        const struct json *cfg = json_get(j, "config");
        if (cfg && cfg->type != JSON_NULL) {
                c->has_config = true;
                if ((r = container_config_from_json(cfg, &c->config, err)) < 0)
                        return r;
        }
        const struct json *rootfs = json_get(j, "rootfs");
        if (!json_is(rootfs, JSON_OBJECT))
                return berth_error_set(err, EINVAL, "image config: missing 'rootfs'");
        if ((r = get_str(rootfs, "type", "image config: rootfs", true, &c->rootfs_type, err)) < 0 ||
            (r = get_strv(rootfs, "diff_ids", "image config: rootfs", &c->diff_ids, err)) < 0)
                return r;
        if (!c->diff_ids)
                c->diff_ids = xcalloc(1, sizeof(char *));
        if ((r = history_from_json(json_get(j, "history"), c, err)) < 0)
                return r;
        if ((r = oci_image_config_validate(c, err)) < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static void set_strv(struct json *o, const char *key, char *const *v)
{
        if (!v)
                return;
        struct json *a = json_object_set(o, key, json_new_array());
        for (size_t i = 0; v[i]; i++)
                json_array_append(a, json_new_string(v[i]));
}

static void set_keys(struct json *o, const char *key, char *const *v)
{
        if (!v)
                return;
        struct json *m = json_object_set(o, key, json_new_object());
        for (size_t i = 0; v[i]; i++)
                json_object_set(m, v[i], json_new_object());
}

static struct json *container_config_to_json(const struct oci_container_config *c)
{
        struct json *o = json_new_object();
        if (c->user)
                json_set_str(o, "User", c->user);
        set_keys(o, "ExposedPorts", c->exposed_ports);
        set_strv(o, "Env", c->env);
        set_strv(o, "Entrypoint", c->entrypoint);
        set_strv(o, "Cmd", c->cmd);
        set_keys(o, "Volumes", c->volumes);
        if (c->working_dir)
                json_set_str(o, "WorkingDir", c->working_dir);
        if (c->labels) {
                struct json *m = json_object_set(o, "Labels", json_new_object());
                for (size_t i = 0; c->labels[i] && c->labels[i + 1]; i += 2)
                        json_set_str(m, c->labels[i], c->labels[i + 1]);
        }
        if (c->stop_signal)
                json_set_str(o, "StopSignal", c->stop_signal);
        if (c->healthcheck) {
                struct json *h = json_object_set(o, "Healthcheck", json_new_object());
                set_strv(h, "Test", c->healthcheck->test);
                if (c->healthcheck->interval)
                        json_set_int(h, "Interval", c->healthcheck->interval);
                if (c->healthcheck->timeout)
                        json_set_int(h, "Timeout", c->healthcheck->timeout);
                if (c->healthcheck->start_period)
                        json_set_int(h, "StartPeriod", c->healthcheck->start_period);
                if (c->healthcheck->start_interval)
                        json_set_int(h, "StartInterval", c->healthcheck->start_interval);
                if (c->healthcheck->retries)
                        json_set_int(h, "Retries", c->healthcheck->retries);
        }
        if (c->args_escaped)
                json_set_bool(o, "ArgsEscaped", true);
        set_strv(o, "OnBuild", c->on_build);
        set_strv(o, "Shell", c->shell);
        return o;
}

char *oci_image_config_emit(const struct oci_image_config *c)
{
        _cleanup_json_ struct json *o = json_new_object();
        if (c->created)
                json_set_str(o, "created", c->created);
        if (c->author)
                json_set_str(o, "author", c->author);
        json_set_str(o, "architecture", c->architecture ? c->architecture : "");
        if (c->variant)
                json_set_str(o, "variant", c->variant);
        json_set_str(o, "os", c->os ? c->os : "");
        if (c->os_version)
                json_set_str(o, "os.version", c->os_version);
        set_strv(o, "os.features", c->os_features);
        if (c->has_config)
                json_object_set(o, "config", container_config_to_json(&c->config));
        struct json *rootfs = json_object_set(o, "rootfs", json_new_object());
        json_set_str(rootfs, "type", c->rootfs_type ? c->rootfs_type : "layers");
        struct json *ids = json_object_set(rootfs, "diff_ids", json_new_array());
        for (size_t i = 0; c->diff_ids && c->diff_ids[i]; i++)
                json_array_append(ids, json_new_string(c->diff_ids[i]));
        if (c->history) {
                struct json *a = json_object_set(o, "history", json_new_array());
                for (size_t i = 0; i < c->n_history; i++) {
                        const struct oci_history *h = &c->history[i];
                        struct json *e = json_array_append(a, json_new_object());
                        if (h->created)
                                json_set_str(e, "created", h->created);
                        if (h->created_by)
                                json_set_str(e, "created_by", h->created_by);
                        if (h->author)
                                json_set_str(e, "author", h->author);
                        if (h->comment)
                                json_set_str(e, "comment", h->comment);
                        if (h->empty_layer)
                                json_set_bool(e, "empty_layer", true);
                }
        }
        return json_dump(o, 0);
}
