/*
 * runtime-spec-linux.c — the "linux" section of config.json: namespaces,
 * id mappings, devices, cgroup resources, sysctl, seccomp, masked and
 * read-only paths, propagation, time offsets, personality.
 *
 * Same rules as runtime-spec.c: typed getters that name the JSON path, JSON
 * null as absent, every allocation linked into the tree before it is filled so
 * oci_linux_free() can release a partial parse.  Enumerations the spec fixes
 * (namespace types, device types, seccomp actions and operators, propagation
 * modes) are checked here; values whose meaning is the kernel's (cgroup knobs,
 * sysctl values, seccomp architecture and flag names) are kept as written.
 *
 * Never: open a namespace path or a device, or read the host's state.
 */
#include <inttypes.h>
#include <string.h>

#include "oci/spec-internal.h"

/* ---- namespaces, devices ---- */

static int parse_namespace(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                           void *userdata)
{
        struct oci_namespace *ns = elem;
        struct oci_linux *l = userdata;
        _cleanup_free_ char *type = NULL;
        int r = get_string(c, o, "type", REQUIRED, &type);
        if (r < 0)
                return r;
        int t = oci_ns_type_from_name(type);
        if (t < 0)
                return ctx_fail_key(c, "type", "unknown namespace type '%s'", type);
        for (size_t j = 0; j < idx; j++)
                if ((int)l->namespaces[j].type == t)
                        return ctx_fail_key(c, "type", "duplicate namespace type '%s'", type);
        ns->type = (enum oci_ns_type)t;
        if ((r = get_string(c, o, "path", OPTIONAL, &ns->path)) < 0)
                return r;
        if (ns->path && !ns->path[0]) /* "" is Go's zero value: create a new one */
                ns->path = (free(ns->path), NULL);
        return 0;
}

static int parse_device(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                        void *userdata)
{
        struct oci_device *d = elem;
        _cleanup_free_ char *type = NULL;
        int r;
        if ((r = get_string(c, o, "path", REQUIRED, &d->path)) < 0)
                return r;
        if (d->path[0] != '/')
                return ctx_fail_key(c, "path", "'%s' is not an absolute path", d->path);
        if ((r = get_string(c, o, "type", REQUIRED, &type)) < 0)
                return r;
        if (strlen(type) != 1 || !strchr("cbup", type[0]))
                return ctx_fail_key(c, "type", "unknown device type '%s' (expected c, b, u or p)",
                                    type);
        d->type = type[0];
        bool need_numbers = d->type != 'p';
        if ((r = get_i64(c, o, "major", need_numbers, &d->major)) < 0 ||
            (r = get_i64(c, o, "minor", need_numbers, &d->minor)) < 0)
                return r;
        if ((r = get_u32(c, o, "fileMode", OPTIONAL, &d->file_mode)) < 0)
                return r;
        d->has_file_mode = r > 0;
        if ((r = get_u32(c, o, "uid", OPTIONAL, &d->uid)) < 0)
                return r;
        d->has_uid = r > 0;
        if ((r = get_u32(c, o, "gid", OPTIONAL, &d->gid)) < 0)
                return r;
        d->has_gid = r > 0;
        return 0;
}

/* ---- resources ---- */

/*
 * Names that end up inside cgroup files ("eth0 5" in net_prio.ifpriomap,
 * "mlx5_1 hca_handle=3" in rdma.max): the kernel's rule for interface names
 * (dev_valid_name), which also keeps a name from smuggling in a second line.
 */
static bool valid_ifname(const char *n)
{
        size_t len = strlen(n);
        if (len == 0 || len >= 16 || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
                return false;
        for (const char *p = n; *p; p++)
                if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

static bool valid_rdma_device(const char *n)
{
        if (!*n)
                return false;
        for (const char *p = n; *p; p++)
                if (*p <= ' ' || *p == 0x7f || *p == '/')
                        return false;
        return true;
}

static int parse_device_cgroup(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                               void *userdata)
{
        struct oci_device_cgroup *d = elem;
        _cleanup_free_ char *type = NULL;
        int r;
        if ((r = get_bool(c, o, "allow", REQUIRED, &d->allow)) < 0 ||
            (r = get_string(c, o, "type", OPTIONAL, &type)) < 0)
                return r;
        d->type = 'a';
        if (type && type[0]) {
                if (strlen(type) != 1 || !strchr("acb", type[0]))
                        return ctx_fail_key(c, "type",
                                            "unknown device type '%s' (expected a, c or b)", type);
                d->type = type[0];
        }
        d->major = d->minor = -1;
        if ((r = get_i64(c, o, "major", OPTIONAL, &d->major)) < 0 ||
            (r = get_i64(c, o, "minor", OPTIONAL, &d->minor)) < 0 ||
            (r = get_string(c, o, "access", OPTIONAL, &d->access)) < 0)
                return r;
        if (d->access && d->access[strspn(d->access, "rwm")] != '\0')
                return ctx_fail_key(c, "access", "'%s' is not a combination of r, w and m",
                                    d->access);
        return 0;
}

static int parse_memory(struct spec_ctx *c, const struct json *res, struct oci_resources *rs)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "memory");
        int r = val_object(c, json_get(res, "memory"), &o);
        if (r <= 0)
                goto out;
        struct oci_memory *m = rs->memory = xcalloc(1, sizeof(*m));
#define MEM_FIELD(getter, key, field)                                                              \
        do {                                                                                       \
                if ((r = getter(c, o, key, OPTIONAL, &m->field)) < 0)                              \
                        goto out;                                                                  \
                m->has_##field = r > 0;                                                            \
        } while (0)
        MEM_FIELD(get_i64, "limit", limit);
        MEM_FIELD(get_i64, "reservation", reservation);
        MEM_FIELD(get_i64, "swap", swap);
        MEM_FIELD(get_i64, "kernel", kernel);
        MEM_FIELD(get_i64, "kernelTCP", kernel_tcp);
        MEM_FIELD(get_u64, "swappiness", swappiness);
        MEM_FIELD(get_bool, "disableOOMKiller", disable_oom_killer);
        MEM_FIELD(get_bool, "useHierarchy", use_hierarchy);
        MEM_FIELD(get_bool, "checkBeforeUpdate", check_before_update);
#undef MEM_FIELD
        if (m->has_swappiness && m->swappiness > 100)
                r = ctx_fail_key(c, "swappiness", "%" PRIu64 " is out of range 0..100",
                                 m->swappiness);
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_cpu(struct spec_ctx *c, const struct json *res, struct oci_resources *rs)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "cpu");
        int r = val_object(c, json_get(res, "cpu"), &o);
        if (r <= 0)
                goto out;
        struct oci_cpu *p = rs->cpu = xcalloc(1, sizeof(*p));
#define CPU_FIELD(getter, key, field)                                                              \
        do {                                                                                       \
                if ((r = getter(c, o, key, OPTIONAL, &p->field)) < 0)                              \
                        goto out;                                                                  \
                p->has_##field = r > 0;                                                            \
        } while (0)
        CPU_FIELD(get_u64, "shares", shares);
        CPU_FIELD(get_i64, "quota", quota);
        CPU_FIELD(get_u64, "burst", burst);
        CPU_FIELD(get_u64, "period", period);
        CPU_FIELD(get_i64, "realtimeRuntime", realtime_runtime);
        CPU_FIELD(get_u64, "realtimePeriod", realtime_period);
        CPU_FIELD(get_i64, "idle", idle);
#undef CPU_FIELD
        if ((r = get_string(c, o, "cpus", OPTIONAL, &p->cpus)) < 0)
                goto out;
        r = get_string(c, o, "mems", OPTIONAL, &p->mems);
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_pids(struct spec_ctx *c, const struct json *res, struct oci_resources *rs)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "pids");
        int r = val_object(c, json_get(res, "pids"), &o);
        if (r > 0 && (r = get_i64(c, o, "limit", REQUIRED, &rs->pids_limit)) > 0) {
                rs->has_pids_limit = true;
                if (rs->pids_limit < -1)
                        r = ctx_fail_key(c, "limit",
                                         "%" PRId64
                                         " is not a number of processes or -1 (unlimited)",
                                         rs->pids_limit);
        }
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_weight_device(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                               void *userdata)
{
        struct oci_blkio_weight_device *w = elem;
        int r;
        if ((r = get_i64(c, o, "major", REQUIRED, &w->major)) < 0 ||
            (r = get_i64(c, o, "minor", REQUIRED, &w->minor)) < 0 ||
            (r = get_u16(c, o, "weight", OPTIONAL, &w->weight)) < 0)
                return r;
        w->has_weight = r > 0;
        if ((r = get_u16(c, o, "leafWeight", OPTIONAL, &w->leaf_weight)) < 0)
                return r;
        w->has_leaf_weight = r > 0;
        return 0;
}

static int parse_throttle(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                          void *userdata)
{
        struct oci_blkio_throttle *t = elem;
        int r;
        if ((r = get_i64(c, o, "major", REQUIRED, &t->major)) < 0 ||
            (r = get_i64(c, o, "minor", REQUIRED, &t->minor)) < 0 ||
            (r = get_u64(c, o, "rate", REQUIRED, &t->rate)) < 0)
                return r;
        return 0;
}

static int parse_blkio(struct spec_ctx *c, const struct json *res, struct oci_resources *rs)
{
        static const char *const throttle_keys[_OCI_THROTTLE_MAX] = {
            [OCI_THROTTLE_READ_BPS] = "throttleReadBpsDevice",
            [OCI_THROTTLE_WRITE_BPS] = "throttleWriteBpsDevice",
            [OCI_THROTTLE_READ_IOPS] = "throttleReadIOPSDevice",
            [OCI_THROTTLE_WRITE_IOPS] = "throttleWriteIOPSDevice",
        };
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "blockIO");
        int r = val_object(c, json_get(res, "blockIO"), &o);
        if (r <= 0)
                goto out;
        struct oci_blkio *b = rs->blkio = xcalloc(1, sizeof(*b));
        if ((r = get_u16(c, o, "weight", OPTIONAL, &b->weight)) < 0)
                goto out;
        b->has_weight = r > 0;
        if ((r = get_u16(c, o, "leafWeight", OPTIONAL, &b->leaf_weight)) < 0)
                goto out;
        b->has_leaf_weight = r > 0;
        if ((r = get_object_array(c, o, "weightDevice", sizeof(*b->weight_devices),
                                  (void **)&b->weight_devices, &b->n_weight_devices,
                                  parse_weight_device, NULL)) < 0)
                goto out;
        for (int k = 0; k < _OCI_THROTTLE_MAX && r >= 0; k++)
                r = get_object_array(c, o, throttle_keys[k], sizeof(*b->throttle[k]),
                                     (void **)&b->throttle[k], &b->n_throttle[k], parse_throttle,
                                     NULL);
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_hugepage(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                          void *userdata)
{
        struct oci_hugepage_limit *h = elem;
        int r;
        if ((r = get_string(c, o, "pageSize", REQUIRED, &h->page_size)) < 0)
                return r;
        /* It becomes part of a cgroup file name (hugetlb.2MB.limit_in_bytes). */
        size_t digits = strspn(h->page_size, "0123456789");
        if (digits == 0 || !h->page_size[digits] || !strchr("KMGTP", h->page_size[digits]) ||
            strcmp(h->page_size + digits + 1, "B") != 0)
                return ctx_fail_key(c, "pageSize", "'%s' is not a page size like 2MB or 1GB",
                                    h->page_size);
        if ((r = get_u64(c, o, "limit", REQUIRED, &h->limit)) < 0)
                return r;
        return 0;
}

static int parse_net_priority(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                              void *userdata)
{
        struct oci_net_priority *p = elem;
        int r;
        if ((r = get_string(c, o, "name", REQUIRED, &p->name)) < 0)
                return r;
        if (!valid_ifname(p->name))
                return ctx_fail_key(c, "name", "'%s' is not a network interface name", p->name);
        if ((r = get_u32(c, o, "priority", REQUIRED, &p->priority)) < 0)
                return r;
        return 0;
}

static int parse_network(struct spec_ctx *c, const struct json *res, struct oci_resources *rs)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "network");
        int r = val_object(c, json_get(res, "network"), &o);
        if (r <= 0)
                goto out;
        struct oci_network_res *n = rs->network = xcalloc(1, sizeof(*n));
        if ((r = get_u32(c, o, "classID", OPTIONAL, &n->class_id)) < 0)
                goto out;
        n->has_class_id = r > 0;
        r = get_object_array(c, o, "priorities", sizeof(*n->priorities), (void **)&n->priorities,
                             &n->n_priorities, parse_net_priority, NULL);
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_rdma(struct spec_ctx *c, const struct json *res, struct oci_resources *rs)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "rdma");
        int r = val_object(c, json_get(res, "rdma"), &o);
        if (r <= 0)
                goto out;
        rs->rdma = xcalloc(o->obj.n ? o->obj.n : 1, sizeof(*rs->rdma));
        rs->n_rdma = o->obj.n;
        for (size_t i = 0; i < o->obj.n && r >= 0; i++) {
                struct oci_rdma *d = &rs->rdma[i];
                const struct json *e = NULL;
                d->device = xstrdup(o->obj.m[i].key);
                size_t s2 = ctx_push_map_key(c, d->device);
                if (!valid_rdma_device(d->device))
                        r = ctx_fail(c, "not an RDMA device name");
                else
                        r = val_object(c, o->obj.m[i].value, &e);
                if (r == 0)
                        r = ctx_fail(c, "expected object, got null");
                if (r > 0 && (r = get_u32(c, e, "hcaHandles", OPTIONAL, &d->hca_handles)) >= 0) {
                        d->has_hca_handles = r > 0;
                        if ((r = get_u32(c, e, "hcaObjects", OPTIONAL, &d->hca_objects)) >= 0)
                                d->has_hca_objects = r > 0;
                }
                ctx_pop(c, s2);
        }
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_resources(struct spec_ctx *c, const struct json *lo, struct oci_linux *l)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "resources");
        int r = val_object(c, json_get(lo, "resources"), &o);
        if (r <= 0)
                goto out;
        struct oci_resources *rs = l->resources = xcalloc(1, sizeof(*rs));
        if ((r = get_object_array(c, o, "devices", sizeof(*rs->devices), (void **)&rs->devices,
                                  &rs->n_devices, parse_device_cgroup, NULL)) < 0 ||
            (r = parse_memory(c, o, rs)) < 0 || (r = parse_cpu(c, o, rs)) < 0 ||
            (r = parse_pids(c, o, rs)) < 0 || (r = parse_blkio(c, o, rs)) < 0 ||
            (r = get_object_array(c, o, "hugepageLimits", sizeof(*rs->hugepage_limits),
                                  (void **)&rs->hugepage_limits, &rs->n_hugepage_limits,
                                  parse_hugepage, NULL)) < 0 ||
            (r = parse_network(c, o, rs)) < 0 || (r = parse_rdma(c, o, rs)) < 0)
                goto out;
        if ((r = get_string_map(c, o, "unified", &rs->unified, &rs->n_unified)) < 0)
                goto out;
        /* Each key is a file in the container's cgroup directory: never a path. */
        for (size_t i = 0; i < rs->n_unified; i++) {
                const char *k = rs->unified[i].key;
                if (strchr(k, '/') || strcmp(k, ".") == 0 || strcmp(k, "..") == 0) {
                        size_t s2 = ctx_push_key(c, "unified");
                        ctx_push_map_key(c, k);
                        r = ctx_fail(c, "not a cgroup file name");
                        ctx_pop(c, s2);
                        goto out;
                }
        }
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

/* ---- seccomp ---- */

static int get_seccomp_action(struct spec_ctx *c, const struct json *o, const char *key,
                              enum oci_seccomp_action *ret)
{
        _cleanup_free_ char *name = NULL;
        int r = get_string(c, o, key, REQUIRED, &name);
        if (r < 0)
                return r;
        int a = oci_seccomp_action_from_name(name);
        if (a < 0)
                return ctx_fail_key(c, key, "unknown seccomp action '%s'", name);
        *ret = (enum oci_seccomp_action)a;
        return 0;
}

static int parse_seccomp_arg(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                             void *userdata)
{
        struct oci_seccomp_arg *a = elem;
        _cleanup_free_ char *op = NULL;
        uint32_t index = 0;
        int r;
        if ((r = get_u32(c, o, "index", REQUIRED, &index)) < 0)
                return r;
        if (index > 5)
                return ctx_fail_key(c, "index", "%" PRIu32 " is not a system call argument (0..5)",
                                    index);
        a->index = index;
        if ((r = get_u64(c, o, "value", REQUIRED, &a->value)) < 0 ||
            (r = get_u64(c, o, "valueTwo", OPTIONAL, &a->value_two)) < 0 ||
            (r = get_string(c, o, "op", REQUIRED, &op)) < 0)
                return r;
        int n = oci_seccomp_op_from_name(op);
        if (n < 0)
                return ctx_fail_key(c, "op", "unknown seccomp operator '%s'", op);
        a->op = (enum oci_seccomp_op)n;
        return 0;
}

static int parse_syscall(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                         void *userdata)
{
        struct oci_seccomp_syscall *s = elem;
        int r;
        if ((r = get_strv(c, o, "names", &s->names)) < 0)
                return r;
        if (!s->names || !s->names[0])
                return ctx_fail_key(c, "names",
                                    r == 0 ? "missing required field" : "must not be empty");
        for (size_t i = 0; s->names[i]; i++)
                if (!s->names[i][0]) {
                        size_t saved = ctx_push_key(c, "names");
                        ctx_push_idx(c, i);
                        r = ctx_fail(c, "must not be empty");
                        ctx_pop(c, saved);
                        return r;
                }
        if ((r = get_seccomp_action(c, o, "action", &s->action)) < 0 ||
            (r = get_u32(c, o, "errnoRet", OPTIONAL, &s->errno_ret)) < 0)
                return r;
        s->has_errno_ret = r > 0;
        return get_object_array(c, o, "args", sizeof(*s->args), (void **)&s->args, &s->n_args,
                                parse_seccomp_arg, NULL);
}

static int parse_seccomp(struct spec_ctx *c, const struct json *lo, struct oci_linux *l)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "seccomp");
        int r = val_object(c, json_get(lo, "seccomp"), &o);
        if (r <= 0)
                goto out;
        struct oci_seccomp *s = l->seccomp = xcalloc(1, sizeof(*s));
        if ((r = get_seccomp_action(c, o, "defaultAction", &s->default_action)) < 0 ||
            (r = get_u32(c, o, "defaultErrnoRet", OPTIONAL, &s->default_errno_ret)) < 0)
                goto out;
        s->has_default_errno_ret = r > 0;
        if ((r = get_strv(c, o, "architectures", &s->architectures)) < 0 ||
            (r = get_strv(c, o, "flags", &s->flags)) < 0 ||
            (r = get_string(c, o, "listenerPath", OPTIONAL, &s->listener_path)) < 0 ||
            (r = get_string(c, o, "listenerMetadata", OPTIONAL, &s->listener_metadata)) < 0)
                goto out;
        r = get_object_array(c, o, "syscalls", sizeof(*s->syscalls), (void **)&s->syscalls,
                             &s->n_syscalls, parse_syscall, NULL);
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

/* ---- the rest ---- */

static int parse_propagation(struct spec_ctx *c, const struct json *lo, struct oci_linux *l)
{
        static const char *const modes[] = {"shared",  "slave",  "private",  "unbindable",
                                            "rshared", "rslave", "rprivate", "runbindable"};
        int r = get_string(c, lo, "rootfsPropagation", OPTIONAL, &l->rootfs_propagation);
        if (r <= 0)
                return r;
        if (!l->rootfs_propagation[0]) {
                l->rootfs_propagation = (free(l->rootfs_propagation), NULL);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(modes); i++)
                if (strcmp(modes[i], l->rootfs_propagation) == 0)
                        return 0;
        return ctx_fail_key(c, "rootfsPropagation", "unknown propagation mode '%s'",
                            l->rootfs_propagation);
}

static int parse_time_offset(struct spec_ctx *c, const struct json *offs, const char *key,
                             struct oci_time_offset *t)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, key);
        int r = val_object(c, json_get(offs, key), &o);
        if (r > 0) {
                t->present = true;
                if ((r = get_i64(c, o, "secs", OPTIONAL, &t->secs)) >= 0)
                        r = get_u32(c, o, "nanosecs", OPTIONAL, &t->nanosecs);
                if (r >= 0 && t->nanosecs >= 1000000000u)
                        r = ctx_fail_key(c, "nanosecs", "%" PRIu32 " is not below one second",
                                         t->nanosecs);
        }
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_time_offsets(struct spec_ctx *c, const struct json *lo, struct oci_linux *l)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "timeOffsets");
        int r = val_object(c, json_get(lo, "timeOffsets"), &o);
        if (r > 0 && (r = parse_time_offset(c, o, "boottime", &l->boottime)) >= 0)
                r = parse_time_offset(c, o, "monotonic", &l->monotonic);
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

/* Kept raw for the runtime, but checked: domain LINUX or LINUX32, flags strings. */
static int parse_personality(struct spec_ctx *c, const struct json *lo, struct oci_linux *l)
{
        const struct json *o = NULL;
        _cleanup_free_ char *domain = NULL;
        _cleanup_strv_free_ char **flags = NULL;
        size_t saved = ctx_push_key(c, "personality");
        int r = val_object(c, json_get(lo, "personality"), &o);
        if (r <= 0)
                goto out;
        if ((r = get_string(c, o, "domain", REQUIRED, &domain)) < 0)
                goto out;
        if (strcmp(domain, "LINUX") != 0 && strcmp(domain, "LINUX32") != 0) {
                r = ctx_fail_key(c, "domain", "unknown personality domain '%s'", domain);
                goto out;
        }
        if ((r = get_strv(c, o, "flags", &flags)) < 0)
                goto out;
        l->personality = json_copy(o);
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

/*
 * A sysctl name becomes a path under /proc/sys (dots to slashes; a slash
 * stands for a dot inside an interface name): no empty component, so no
 * "..", no leading or trailing separator.
 */
static int check_sysctl_names(struct spec_ctx *c, const struct oci_linux *l)
{
        for (size_t i = 0; i < l->n_sysctl; i++) {
                const char *k = l->sysctl[i].key;
                bool ok = true;
                for (const char *p = k; *p && ok; p++)
                        if ((*p == '.' || *p == '/') &&
                            (p == k || p[1] == '\0' || p[1] == '.' || p[1] == '/'))
                                ok = false;
                if (ok && (*k == '.' || *k == '/'))
                        ok = false;
                if (!ok) {
                        size_t saved = ctx_push_key(c, "sysctl");
                        ctx_push_map_key(c, k);
                        int r = ctx_fail(c, "not a sysctl name");
                        ctx_pop(c, saved);
                        return r;
                }
        }
        return 0;
}

int parse_linux(struct spec_ctx *c, const struct json *v, struct oci_linux **ret)
{
        const struct json *o = NULL;
        int r = val_object(c, v, &o);
        if (r <= 0)
                return r;
        struct oci_linux *l = *ret = xcalloc(1, sizeof(*l));
        if ((r = get_object_array(c, o, "namespaces", sizeof(*l->namespaces),
                                  (void **)&l->namespaces, &l->n_namespaces, parse_namespace, l)) <
                0 ||
            (r = parse_id_mappings(c, o, "uidMappings", &l->uid_mappings, &l->n_uid_mappings)) <
                0 ||
            (r = parse_id_mappings(c, o, "gidMappings", &l->gid_mappings, &l->n_gid_mappings)) <
                0 ||
            (r = get_object_array(c, o, "devices", sizeof(*l->devices), (void **)&l->devices,
                                  &l->n_devices, parse_device, NULL)) < 0 ||
            (r = get_string(c, o, "cgroupsPath", OPTIONAL, &l->cgroups_path)) < 0 ||
            (r = parse_resources(c, o, l)) < 0 ||
            (r = get_string_map(c, o, "sysctl", &l->sysctl, &l->n_sysctl)) < 0 ||
            (r = check_sysctl_names(c, l)) < 0 || (r = parse_seccomp(c, o, l)) < 0 ||
            (r = parse_propagation(c, o, l)) < 0 ||
            (r = get_strv(c, o, "maskedPaths", &l->masked_paths)) < 0 ||
            (r = get_strv(c, o, "readonlyPaths", &l->readonly_paths)) < 0 ||
            (r = get_string(c, o, "mountLabel", OPTIONAL, &l->mount_label)) < 0 ||
            (r = parse_time_offsets(c, o, l)) < 0)
                return r;
        const struct json *rdt = NULL;
        if ((r = get_object(c, o, "intelRdt", OPTIONAL, &rdt)) < 0)
                return r;
        l->has_intel_rdt = r > 0;
        return parse_personality(c, o, l);
}

static void resources_free(struct oci_resources *rs)
{
        if (!rs)
                return;
        for (size_t i = 0; i < rs->n_devices; i++)
                free(rs->devices[i].access);
        free(rs->devices);
        free(rs->memory);
        if (rs->cpu) {
                free(rs->cpu->cpus);
                free(rs->cpu->mems);
                free(rs->cpu);
        }
        if (rs->blkio) {
                free(rs->blkio->weight_devices);
                for (int k = 0; k < _OCI_THROTTLE_MAX; k++)
                        free(rs->blkio->throttle[k]);
                free(rs->blkio);
        }
        for (size_t i = 0; i < rs->n_hugepage_limits; i++)
                free(rs->hugepage_limits[i].page_size);
        free(rs->hugepage_limits);
        if (rs->network) {
                for (size_t i = 0; i < rs->network->n_priorities; i++)
                        free(rs->network->priorities[i].name);
                free(rs->network->priorities);
                free(rs->network);
        }
        for (size_t i = 0; i < rs->n_rdma; i++)
                free(rs->rdma[i].device);
        free(rs->rdma);
        kv_free(rs->unified, rs->n_unified);
        free(rs);
}

void oci_resources_free(struct oci_resources *rs)
{
        resources_free(rs);
}

int oci_resources_from_json(const struct json *res, struct oci_resources **ret,
                            struct berth_error **err)
{
        struct spec_ctx c = {.path = BERTH_BUF_INIT, .err = err};
        _cleanup_json_ struct json *lo = json_new_object();
        json_object_set(lo, "resources", json_copy(res));
        struct oci_linux l = {0};
        int r = parse_resources(&c, lo, &l);
        buf_release(&c.path);
        if (r < 0) {
                resources_free(l.resources);
                return r;
        }
        *ret = l.resources ? l.resources : xcalloc(1, sizeof(**ret));
        return 0;
}

static void seccomp_free(struct oci_seccomp *s)
{
        if (!s)
                return;
        strv_free(s->architectures);
        strv_free(s->flags);
        free(s->listener_path);
        free(s->listener_metadata);
        for (size_t i = 0; i < s->n_syscalls; i++) {
                strv_free(s->syscalls[i].names);
                free(s->syscalls[i].args);
        }
        free(s->syscalls);
        free(s);
}

void oci_linux_free(struct oci_linux *l)
{
        if (!l)
                return;
        for (size_t i = 0; i < l->n_namespaces; i++)
                free(l->namespaces[i].path);
        free(l->namespaces);
        free(l->uid_mappings);
        free(l->gid_mappings);
        for (size_t i = 0; i < l->n_devices; i++)
                free(l->devices[i].path);
        free(l->devices);
        free(l->cgroups_path);
        resources_free(l->resources);
        kv_free(l->sysctl, l->n_sysctl);
        seccomp_free(l->seccomp);
        free(l->rootfs_propagation);
        strv_free(l->masked_paths);
        strv_free(l->readonly_paths);
        free(l->mount_label);
        json_free(l->personality);
        free(l);
}
