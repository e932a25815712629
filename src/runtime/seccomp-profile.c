/*
 * seccomp-profile.c — a Docker seccomp profile (moby template) resolved into
 * an OCI linux.seccomp object for one container, as dockerd's
 * profiles/seccomp setupSeccomp() does.
 *
 * How: the standard linux.seccomp keys are copied (after type checks);
 * "archMap" contributes the native architecture's entry and its
 * sub-architectures to "architectures" (a profile may not have both); each
 * syscall entry is kept when its "excludes" do not match (arch equal to the
 * native one, any listed capability in the bounding set, kernel at least
 * minKernel) and its "includes" all do (arch listed, every capability in the
 * bounding set, kernel at least minKernel).  Kept entries lose "name"
 * (folded into "names"), "comment", "includes" and "excludes".
 *
 * Architecture names in includes/excludes are dockerd's: "amd64", "x86",
 * "x32", "arm", "arm64", "s390x", "ppc64le", "riscv64" …; kernel versions
 * are "<kernel>.<major>", compared on those two numbers only.
 *
 * Never: validate action/operator/architecture names (the OCI parser and
 * berth_seccomp_compile() do, with their own paths), or keep a key the OCI
 * parser does not know.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "oci/runtime-spec.h"
#include "runtime/seccomp-profile.h"

/* json.h's json_array_foreach() names its parameter 'arr' like the member it
 * reads, so it only compiles on a variable called 'arr'; this one does not. */
#define each_item(list, idx, val)                                                                  \
        for ((idx) = 0; json_is((list), JSON_ARRAY) && (idx) < (list)->arr.n &&                    \
                        (((val) = (list)->arr.items[(idx)]), 1);                                   \
             (idx)++)

/* dockerd's name for an architecture and the SCMP_ARCH_* of its archMap entry. */
static const struct {
        const char *in;     /* GOARCH or uname machine */
        const char *native; /* the name includes/excludes use */
        const char *scmp;
} arch_table[] = {
    {"amd64", "amd64", "SCMP_ARCH_X86_64"},
    {"x86_64", "amd64", "SCMP_ARCH_X86_64"},
    {"386", "x86", "SCMP_ARCH_X86"},
    {"x86", "x86", "SCMP_ARCH_X86"},
    {"i386", "x86", "SCMP_ARCH_X86"},
    {"i686", "x86", "SCMP_ARCH_X86"},
    {"arm64", "arm64", "SCMP_ARCH_AARCH64"},
    {"aarch64", "arm64", "SCMP_ARCH_AARCH64"},
    {"arm", "arm", "SCMP_ARCH_ARM"},
    {"armv7l", "arm", "SCMP_ARCH_ARM"},
    {"armv6l", "arm", "SCMP_ARCH_ARM"},
    {"loong64", "loong64", "SCMP_ARCH_LOONGARCH64"},
    {"loongarch64", "loong64", "SCMP_ARCH_LOONGARCH64"},
    {"mips64", "mips64", "SCMP_ARCH_MIPS64"},
    {"mips64p32", "mips64n32", "SCMP_ARCH_MIPS64N32"},
    {"mips64le", "mipsel64", "SCMP_ARCH_MIPSEL64"},
    {"mips64p32le", "mips3l64n32", "SCMP_ARCH_MIPSEL64N32"},
    {"mipsle", "mipsel", "SCMP_ARCH_MIPSEL"},
    {"ppc", "ppc", "SCMP_ARCH_PPC"},
    {"ppc64", "ppc64", "SCMP_ARCH_PPC64"},
    {"ppc64le", "ppc64le", "SCMP_ARCH_PPC64LE"},
    {"riscv64", "riscv64", "SCMP_ARCH_RISCV64"},
    {"s390", "s390", "SCMP_ARCH_S390"},
    {"s390x", "s390x", "SCMP_ARCH_S390X"},
};

struct resolve_ctx {
        uint64_t caps;
        const char *native; /* dockerd's arch name */
        const char *scmp;   /* NULL when the arch has no archMap name */
        unsigned kmajor, kminor;
        bool have_kernel;
};

/* "<kernel>.<major>" with both < 256 and not both 0, as moby accepts. */
static bool parse_min_kernel(const char *s, unsigned *ret_a, unsigned *ret_b)
{
        unsigned v[2] = {0, 0};
        const char *p = s;

        for (int k = 0; k < 2; k++) {
                if (*p < '0' || *p > '9')
                        return false;
                while (*p >= '0' && *p <= '9') {
                        v[k] = v[k] * 10 + (unsigned)(*p - '0');
                        if (v[k] > 255)
                                return false;
                        p++;
                }
                if (k == 0 && *p++ != '.')
                        return false;
        }
        if (*p != '\0' || (v[0] == 0 && v[1] == 0))
                return false;
        *ret_a = v[0];
        *ret_b = v[1];
        return true;
}

static int type_error(struct berth_error **err, const char *path, const char *want,
                      const struct json *got)
{
        return berth_error_set(err, EINVAL, "seccomp profile: %s: expected %s, got %s", path, want,
                               json_type_name(got->type));
}

/* Optional array of strings; NULL or absent is fine. */
static int check_strv(const struct json *v, const char *path, struct berth_error **err)
{
        size_t i;
        struct json *item;

        if (!v || v->type == JSON_NULL)
                return 0;
        if (v->type != JSON_ARRAY)
                return type_error(err, path, "an array of strings", v);
        each_item(v, i, item)
        {
                if (item->type != JSON_STRING)
                        return berth_error_set(
                            err, EINVAL, "seccomp profile: %s[%zu]: expected a string, got %s",
                            path, i, json_type_name(item->type));
        }
        return 0;
}

static bool strv_has(const struct json *v, const char *s)
{
        size_t i;
        struct json *item;

        each_item(v, i, item)
        {
                if (strcmp(json_str(item), s) == 0)
                        return true;
        }
        return false;
}

static bool has_cap(const struct resolve_ctx *c, const char *name)
{
        int n = oci_cap_from_name(name);
        return n >= 0 && n < 64 && (c->caps & (UINT64_C(1) << n));
}

/* Whether the host kernel is at least the filter's minKernel (absent: -1). */
static int kernel_at_least(const struct resolve_ctx *c, const struct json *mk, const char *path,
                           struct berth_error **err)
{
        unsigned a, b;

        if (!mk || mk->type == JSON_NULL || (mk->type == JSON_STRING && mk->str.len == 0))
                return -1;
        if (mk->type != JSON_STRING)
                return type_error(err, path, "a string", mk);
        if (!parse_min_kernel(json_str(mk), &a, &b))
                return berth_error_set(err, EINVAL,
                                       "seccomp profile: %s: invalid kernel version '%s', expected "
                                       "\"<kernel>.<major>\"",
                                       path, json_str(mk));
        if (!c->have_kernel)
                return berth_error_set(err, EINVAL,
                                       "seccomp profile: %s: cannot tell the kernel version", path);
        return c->kmajor > a || (c->kmajor == a && c->kminor >= b);
}

/* 1 when the entry applies, 0 when it is dropped, <0 on a malformed filter. */
static int filter_match(const struct resolve_ctx *c, const struct json *f, bool includes,
                        const char *path, struct berth_error **err)
{
        char sub[96];
        size_t i;
        struct json *item;
        int r;

        if (!f || f->type == JSON_NULL)
                return 1;
        if (f->type != JSON_OBJECT)
                return type_error(err, path, "an object", f);
        struct json *arches = json_get(f, "arches"), *caps = json_get(f, "caps");
        snprintf(sub, sizeof(sub), "%s.arches", path);
        if ((r = check_strv(arches, sub, err)) < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.caps", path);
        if ((r = check_strv(caps, sub, err)) < 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.minKernel", path);
        int k = kernel_at_least(c, json_get(f, "minKernel"), sub, err);
        if (k < -1)
                return k;

        if (includes) {
                /* every condition must hold */
                if (json_len(arches) > 0 && !strv_has(arches, c->native))
                        return 0;
                each_item(caps, i, item)
                {
                        if (!has_cap(c, json_str(item)))
                                return 0;
                }
                return k != 0;
        }
        /* any condition drops the entry */
        if (json_len(arches) > 0 && strv_has(arches, c->native))
                return 0;
        each_item(caps, i, item)
        {
                if (has_cap(c, json_str(item)))
                        return 0;
        }
        return k != 1;
}

static int check_uint(const struct json *v, const char *path, struct berth_error **err)
{
        if (!json_is(v, JSON_NUMBER) || !(v->num.flags & JSON_NUM_UINT))
                return berth_error_set(
                    err, EINVAL, "seccomp profile: %s: expected a non-negative integer", path);
        return 0;
}

static int copy_args(const struct json *args, const char *path, struct json *out,
                     struct berth_error **err)
{
        char sub[128];
        size_t i;
        struct json *a;
        int r;

        if (!args || args->type == JSON_NULL)
                return 0;
        if (args->type != JSON_ARRAY)
                return type_error(err, path, "an array", args);
        struct json *list = json_object_set(out, "args", json_new_array());
        each_item(args, i, a)
        {
                if (a->type != JSON_OBJECT) {
                        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                        return type_error(err, sub, "an object", a);
                }
                struct json *o = json_array_append(list, json_new_object());
                static const char *const nums[] = {"index", "value", "valueTwo"};
                for (size_t k = 0; k < ELEMENTSOF(nums); k++) {
                        struct json *v = json_get(a, nums[k]);
                        if (!v)
                                continue;
                        snprintf(sub, sizeof(sub), "%s[%zu].%s", path, i, nums[k]);
                        if ((r = check_uint(v, sub, err)) < 0)
                                return r;
                        json_object_set(o, nums[k], json_new_uint(v->num.u));
                }
                struct json *op = json_get(a, "op");
                if (!json_is(op, JSON_STRING)) {
                        snprintf(sub, sizeof(sub), "%s[%zu].op", path, i);
                        return berth_error_set(err, EINVAL,
                                               "seccomp profile: %s: expected a string", sub);
                }
                json_object_set(o, "op", json_copy(op));
        }
        return 0;
}

/* Resolve one syscall entry; appends to out_list when it applies. */
static int resolve_syscall(const struct resolve_ctx *c, const struct json *sc, size_t idx,
                           struct json *out_list, struct berth_error **err)
{
        char path[64], sub[96];
        int r;

        snprintf(path, sizeof(path), "syscalls[%zu]", idx);
        if (sc->type != JSON_OBJECT)
                return type_error(err, path, "an object", sc);
        struct json *name = json_get(sc, "name"), *names = json_get(sc, "names");
        snprintf(sub, sizeof(sub), "%s.name", path);
        if (name && name->type != JSON_NULL && !json_is(name, JSON_STRING))
                return type_error(err, sub, "a string", name);
        snprintf(sub, sizeof(sub), "%s.names", path);
        if ((r = check_strv(names, sub, err)) < 0)
                return r;
        bool has_name = json_is(name, JSON_STRING) && name->str.len > 0;
        if (has_name && json_len(names) > 0)
                return berth_error_set(
                    err, EINVAL,
                    "seccomp profile: %s: both 'name' and 'names' are given, use "
                    "one",
                    path);
        struct json *action = json_get(sc, "action");
        if (!json_is(action, JSON_STRING))
                return berth_error_set(err, EINVAL, "seccomp profile: %s.action: expected a string",
                                       path);
        struct json *errno_ret = json_get(sc, "errnoRet");
        snprintf(sub, sizeof(sub), "%s.errnoRet", path);
        if (errno_ret && errno_ret->type != JSON_NULL && (r = check_uint(errno_ret, sub, err)) < 0)
                return r;

        snprintf(sub, sizeof(sub), "%s.excludes", path);
        if ((r = filter_match(c, json_get(sc, "excludes"), false, sub, err)) <= 0)
                return r;
        snprintf(sub, sizeof(sub), "%s.includes", path);
        if ((r = filter_match(c, json_get(sc, "includes"), true, sub, err)) <= 0)
                return r;

        struct json *o = json_new_object();
        struct json *nl = json_object_set(o, "names", json_new_array());
        if (has_name)
                json_array_append(nl, json_copy(name));
        else {
                size_t i;
                struct json *item;
                each_item(names, i, item)
                {
                        json_array_append(nl, json_copy(item));
                }
        }
        json_object_set(o, "action", json_copy(action));
        if (errno_ret && errno_ret->type != JSON_NULL)
                json_object_set(o, "errnoRet", json_copy(errno_ret));
        snprintf(sub, sizeof(sub), "%s.args", path);
        if ((r = copy_args(json_get(sc, "args"), sub, o, err)) < 0) {
                json_free(o);
                return r;
        }
        json_array_append(out_list, o);
        return 0;
}

/* architectures, or the native entry of archMap with its sub-architectures. */
static int resolve_arches(const struct resolve_ctx *c, const struct json *profile, struct json *out,
                          struct berth_error **err)
{
        struct json *arches = json_get(profile, "architectures");
        struct json *map = json_get(profile, "archMap");
        size_t i;
        struct json *e;
        char sub[64];
        int r;

        if ((r = check_strv(arches, "architectures", err)) < 0)
                return r;
        if (map && map->type != JSON_NULL && map->type != JSON_ARRAY)
                return type_error(err, "archMap", "an array", map);
        if (json_len(arches) > 0 && json_len(map) > 0)
                return berth_error_set(err, EINVAL,
                                       "seccomp profile: both 'architectures' and 'archMap' are "
                                       "given, use one");
        if (json_len(arches) > 0) {
                json_object_set(out, "architectures", json_copy(arches));
                return 0;
        }
        each_item(map, i, e)
        {
                snprintf(sub, sizeof(sub), "archMap[%zu]", i);
                if (e->type != JSON_OBJECT)
                        return type_error(err, sub, "an object", e);
                struct json *a = json_get(e, "architecture"),
                            *subs = json_get(e, "subArchitectures");
                if (!json_is(a, JSON_STRING))
                        return berth_error_set(
                            err, EINVAL, "seccomp profile: %s.architecture: expected a string",
                            sub);
                snprintf(sub, sizeof(sub), "archMap[%zu].subArchitectures", i);
                if ((r = check_strv(subs, sub, err)) < 0)
                        return r;
                if (!c->scmp || strcmp(json_str(a), c->scmp) != 0)
                        continue;
                struct json *list = json_object_set(out, "architectures", json_new_array());
                json_array_append(list, json_copy(a));
                size_t k;
                struct json *s;
                each_item(subs, k, s)
                {
                        json_array_append(list, json_copy(s));
                }
                break;
        }
        return 0;
}

static int copy_optional(const struct json *profile, struct json *out, const char *key,
                         enum json_type want, struct berth_error **err)
{
        struct json *v = json_get(profile, key);
        int r;

        if (!v || v->type == JSON_NULL)
                return 0;
        if (want == JSON_NUMBER) {
                if ((r = check_uint(v, key, err)) < 0)
                        return r;
        } else if (want == JSON_ARRAY) {
                if ((r = check_strv(v, key, err)) < 0)
                        return r;
        } else if (v->type != want) {
                return type_error(err, key, "a string", v);
        }
        json_object_set(out, key, json_copy(v));
        return 0;
}

static int init_ctx(struct resolve_ctx *c, uint64_t caps, const char *arch, const char *kernel,
                    struct berth_error **err)
{
        struct utsname u = {0};
        bool need_uname = !arch || !kernel;

        if (need_uname && uname(&u) < 0)
                return berth_error_sys(err, errno, "seccomp profile: uname");
        if (!arch)
                arch = u.machine;
        if (!kernel)
                kernel = u.release;
        *c = (struct resolve_ctx){.caps = caps, .native = NULL};
        for (size_t i = 0; i < ELEMENTSOF(arch_table); i++)
                if (strcmp(arch, arch_table[i].in) == 0) {
                        c->native = arch_table[i].native;
                        c->scmp = arch_table[i].scmp;
                        break;
                }
        if (!c->native)
                return berth_error_set(err, EINVAL, "seccomp profile: unknown architecture '%s'",
                                       arch);
        c->have_kernel = sscanf(kernel, "%u.%u", &c->kmajor, &c->kminor) == 2;
        return 0;
}

int seccomp_profile_resolve_for_kernel(const struct json *profile, uint64_t caps_mask,
                                       const char *arch, const char *kernel_release,
                                       struct json **ret_oci_linux_seccomp,
                                       struct berth_error **err)
{
        struct resolve_ctx c;
        size_t i;
        struct json *sc;
        int r;

        if (!json_is(profile, JSON_OBJECT))
                return berth_error_set(err, EINVAL, "seccomp profile: expected an object, got %s",
                                       profile ? json_type_name(profile->type) : "nothing");
        if ((r = init_ctx(&c, caps_mask, arch, kernel_release, err)) < 0)
                return r;
        struct json *def = json_get(profile, "defaultAction");
        struct json *syscalls = json_get(profile, "syscalls");
        if (def && def->type != JSON_NULL && def->type != JSON_STRING)
                return type_error(err, "defaultAction", "a string", def);
        if (syscalls && syscalls->type != JSON_NULL && syscalls->type != JSON_ARRAY)
                return type_error(err, "syscalls", "an array", syscalls);
        if ((!def || json_str(def) == NULL || *json_str(def) == '\0') && json_len(syscalls) == 0) {
                *ret_oci_linux_seccomp = NULL; /* dockerd: no seccomp at all */
                return 0;
        }

        _cleanup_json_ struct json *out = json_new_object();
        if ((r = copy_optional(profile, out, "defaultAction", JSON_STRING, err)) < 0 ||
            (r = copy_optional(profile, out, "defaultErrnoRet", JSON_NUMBER, err)) < 0)
                return r;
        if ((r = resolve_arches(&c, profile, out, err)) < 0)
                return r;
        if ((r = copy_optional(profile, out, "flags", JSON_ARRAY, err)) < 0 ||
            (r = copy_optional(profile, out, "listenerPath", JSON_STRING, err)) < 0 ||
            (r = copy_optional(profile, out, "listenerMetadata", JSON_STRING, err)) < 0)
                return r;
        struct json *list = json_object_set(out, "syscalls", json_new_array());
        each_item(syscalls, i, sc)
        {
                if ((r = resolve_syscall(&c, sc, i, list, err)) < 0)
                        return r;
        }

        *ret_oci_linux_seccomp = TAKE_PTR(out);
        return 0;
}

int seccomp_profile_resolve(const struct json *profile, uint64_t caps_mask, const char *arch,
                            struct json **ret_oci_linux_seccomp, struct berth_error **err)
{
        return seccomp_profile_resolve_for_kernel(profile, caps_mask, arch, NULL,
                                                  ret_oci_linux_seccomp, err);
}

int seccomp_profile_default(struct json **ret, struct berth_error **err)
{
        int r = json_parse(seccomp_default_json, seccomp_default_json_len, ret, err);
        if (r < 0)
                return berth_error_prefix(err, "built-in seccomp profile");
        return 0;
}
