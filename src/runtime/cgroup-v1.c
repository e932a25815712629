/*
 * cgroup-v1.c — resources on cgroup v1 hierarchies: memory, cpu, cpuset,
 * blkio and devices, with runc's semantics and write order.
 *
 * Memory: OCI "swap" is memory+swap (memory.memsw.limit_in_bytes), which the
 * kernel keeps >= memory.limit_in_bytes at every moment, so the two are
 * written in the order that never crosses: memsw first when it grows (or
 * becomes unlimited), the limit first when it shrinks.  Zero means "not set"
 * for limits, as in runc.  kernel (memory.kmem.limit_in_bytes) is skipped
 * when the kernel no longer has the file (removed in Linux 6.x; runc ignores
 * it too); kernelTCP, whose file still exists, is an error when absent.
 *
 * cpuset: a new v1 cpuset cgroup starts with empty cpus/mems and refuses
 * tasks until they are set, so every level is filled from its parent first.
 *
 * Devices: each rule becomes one write to devices.allow or devices.deny, in
 * the spec's order, so the kernel's list ends as "last matching rule wins".
 *
 * Never: write outside the container's directory (cg_write() joins h->dir).
 */
#include <string.h>

#include "base/fileio.h"
#include "runtime/cgroup-internal.h"

/* ---- memory ---- */

static int fmt_i64(char *buf, size_t n, int64_t v)
{
        return snprintf(buf, n, "%lld", (long long)v);
}

static int v1_memory_limits(const struct cg_hier *h, const struct oci_memory *m,
                            struct berth_error **err)
{
        int64_t limit = m->has_limit ? m->limit : 0, swap = m->has_swap ? m->swap : 0;
        /* unlimited memory without an explicit swap means unlimited memory+swap */
        if (limit == -1 && swap == 0)
                swap = -1;
        bool memsw = cg_has_file(h, "memory.memsw.limit_in_bytes");
        if (swap != 0 && !memsw) {
                if (swap == -1)
                        swap = 0;
                else
                        return berth_error_set(
                            err, ENOTSUP,
                            "memory swap: memory.memsw.limit_in_bytes does not "
                            "exist in '%s' (swap accounting is disabled on this host)",
                            h->dir);
        }
        char lv[32], sv[32];
        fmt_i64(lv, sizeof(lv), limit);
        fmt_i64(sv, sizeof(sv), swap);
        if (limit != 0 && swap != 0) {
                _cleanup_free_ char *cur = NULL;
                int r = cg_read(h, "memory.limit_in_bytes", &cur, err);
                if (r < 0)
                        return r;
                int64_t c = 0;
                bool grow = swap == -1 || parse_i64(cur, &c) < 0 || c < swap;
                if (grow) {
                        r = cg_write(h, "memory.memsw.limit_in_bytes", sv, err);
                        if (r >= 0)
                                r = cg_write(h, "memory.limit_in_bytes", lv, err);
                } else {
                        r = cg_write(h, "memory.limit_in_bytes", lv, err);
                        if (r >= 0)
                                r = cg_write(h, "memory.memsw.limit_in_bytes", sv, err);
                }
                return r;
        }
        if (limit != 0) {
                int r = cg_write(h, "memory.limit_in_bytes", lv, err);
                if (r < 0)
                        return r;
        }
        if (swap != 0)
                return cg_write(h, "memory.memsw.limit_in_bytes", sv, err);
        return 0;
}

int cg_v1_memory(const struct cg_hier *h, const struct oci_memory *m, struct berth_error **err)
{
        int r = v1_memory_limits(h, m, err);
        if (r < 0)
                return r;
        if (m->has_reservation && m->reservation != 0) {
                r = cg_writef(h, "memory.soft_limit_in_bytes", err, "%lld",
                              (long long)m->reservation);
                if (r < 0)
                        return r;
        }
        if (m->has_kernel && m->kernel != 0 && cg_has_file(h, "memory.kmem.limit_in_bytes")) {
                r = cg_writef(h, "memory.kmem.limit_in_bytes", err, "%lld", (long long)m->kernel);
                if (r < 0)
                        return r;
        }
        if (m->has_kernel_tcp && m->kernel_tcp != 0) {
                if (!cg_has_file(h, "memory.kmem.tcp.limit_in_bytes"))
                        return berth_error_set(
                            err, ENOTSUP,
                            "memory kernelTCP: memory.kmem.tcp.limit_in_bytes does "
                            "not exist in '%s'",
                            h->dir);
                r = cg_writef(h, "memory.kmem.tcp.limit_in_bytes", err, "%lld",
                              (long long)m->kernel_tcp);
                if (r < 0)
                        return r;
        }
        /* swappiness -1 (as an unsigned 64-bit value) means "leave the kernel's" */
        if (m->has_swappiness && m->swappiness != UINT64_MAX) {
                if (m->swappiness > 100)
                        return berth_error_set(
                            err, EINVAL,
                            "memory swappiness: invalid value %llu (valid range is 0-100)",
                            (unsigned long long)m->swappiness);
                r = cg_writef(h, "memory.swappiness", err, "%llu",
                              (unsigned long long)m->swappiness);
                if (r < 0)
                        return r;
        }
        if (m->has_disable_oom_killer) {
                r = cg_write(h, "memory.oom_control", m->disable_oom_killer ? "1" : "0", err);
                if (r < 0)
                        return r;
        }
        if (m->has_use_hierarchy)
                return cg_write(h, "memory.use_hierarchy", m->use_hierarchy ? "1" : "0", err);
        return 0;
}

/* ---- cpu, cpuset ---- */

static int v1_cpu_shares(const struct cg_hier *h, uint64_t shares, struct berth_error **err)
{
        int r = cg_writef(h, "cpu.shares", err, "%llu", (unsigned long long)shares);
        if (r < 0)
                return r;
        /* the kernel clamps silently: report what it refused, as runc does */
        _cleanup_free_ char *got = NULL;
        r = cg_read(h, "cpu.shares", &got, err);
        if (r < 0)
                return r;
        uint64_t g = 0;
        if (parse_u64(got, &g) == 0 && g != shares)
                return berth_error_set(
                    err, ERANGE, "cpu shares: %llu is out of range, the kernel set %llu in '%s'",
                    (unsigned long long)shares, (unsigned long long)g, h->dir);
        return 0;
}

int cg_v1_cpu(const struct cg_hier *h, const struct oci_cpu *c, struct berth_error **err)
{
        int r;
        if (c->has_shares && c->shares != 0) {
                r = v1_cpu_shares(h, c->shares, err);
                if (r < 0)
                        return r;
        }
        int64_t quota = c->has_quota ? c->quota : 0;
        bool period_pending = false;
        if (c->has_period && c->period != 0) {
                struct berth_error *e = NULL;
                r = cg_writef(h, "cpu.cfs_period_us", &e, "%llu", (unsigned long long)c->period);
                /* a shorter period can exceed the parent's quota until the new quota is in */
                if (r == -EINVAL && quota != 0) {
                        period_pending = true;
                        berth_error_free(e);
                } else if (r < 0) {
                        if (err && !*err)
                                *err = TAKE_PTR(e);
                        berth_error_free(e);
                        return r;
                }
        }
        if (quota != 0) {
                r = cg_writef(h, "cpu.cfs_quota_us", err, "%lld", (long long)quota);
                if (r >= 0 && period_pending)
                        r = cg_writef(h, "cpu.cfs_period_us", err, "%llu",
                                      (unsigned long long)c->period);
                if (r < 0)
                        return r;
        }
        if (c->has_burst) {
                r = cg_writef(h, "cpu.cfs_burst_us", err, "%llu", (unsigned long long)c->burst);
                if (r < 0)
                        return r;
        }
        if (c->has_realtime_period && c->realtime_period != 0) {
                r = cg_writef(h, "cpu.rt_period_us", err, "%llu",
                              (unsigned long long)c->realtime_period);
                if (r < 0)
                        return r;
        }
        if (c->has_realtime_runtime && c->realtime_runtime != 0) {
                r = cg_writef(h, "cpu.rt_runtime_us", err, "%lld", (long long)c->realtime_runtime);
                if (r < 0)
                        return r;
        }
        if (c->has_idle)
                return cg_writef(h, "cpu.idle", err, "%lld", (long long)c->idle);
        return 0;
}

int cg_v1_cpuset(const struct cg_hier *h, const struct oci_cpu *c, struct berth_error **err)
{
        int r = 0;
        if (c->cpus && *c->cpus)
                r = cg_write(h, "cpuset.cpus", c->cpus, err);
        if (r >= 0 && c->mems && *c->mems)
                r = cg_write(h, "cpuset.mems", c->mems, err);
        return r;
}

int cg_v1_cpuset_init(const struct cg_hier *h, struct berth_error **err)
{
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
        size_t lm = strlen(h->mount);
        _cleanup_free_ char *p = xstrdup(h->dir);
        /* walk down from the mount: parent's value into each empty level */
        for (char *s = p + lm; s && *s;) {
                char *slash = strchr(s + 1, '/');
                if (slash)
                        *slash = '\0';
                _cleanup_free_ char *parent = xstrdup(p);
                char *ps = strrchr(parent, '/');
                if (ps && (size_t)(ps - parent) >= lm) {
                        *ps = '\0';
                        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                                _cleanup_free_ char *mine = NULL, *theirs = NULL;
                                int r = cg_read_at(p, files[i], &mine, err);
                                if (r < 0)
                                        return r;
                                if (*mine)
                                        continue;
                                r = cg_read_at(parent, files[i], &theirs, err);
                                if (r < 0)
                                        return r;
                                struct cg_hier lvl = {.dir = p};
                                r = cg_write(&lvl, files[i], theirs, err);
                                if (r < 0)
                                        return r;
                        }
                }
                if (slash)
                        *slash = '/';
                s = slash;
        }
        return 0;
}

/* ---- blkio ---- */

static const char *const throttle_files[_OCI_THROTTLE_MAX] = {
    [OCI_THROTTLE_READ_BPS] = "blkio.throttle.read_bps_device",
    [OCI_THROTTLE_WRITE_BPS] = "blkio.throttle.write_bps_device",
    [OCI_THROTTLE_READ_IOPS] = "blkio.throttle.read_iops_device",
    [OCI_THROTTLE_WRITE_IOPS] = "blkio.throttle.write_iops_device",
};

static int need_file(const struct cg_hier *h, const char *file, const char *what,
                     struct berth_error **err)
{
        if (cg_has_file(h, file))
                return 0;
        return berth_error_set(err, ENOTSUP, "%s: %s does not exist in '%s'", what, file, h->dir);
}

int cg_v1_blkio(const struct cg_hier *h, const struct oci_blkio *b, struct berth_error **err)
{
        /* CFQ's knobs, or BFQ's where CFQ is gone (Linux >= 5.0), as runc does */
        bool cfq = cg_has_file(h, "blkio.weight");
        const char *wfile = cfq ? "blkio.weight" : "blkio.bfq.weight";
        const char *wdev = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";
        int r;
        if (b->has_weight) {
                if ((r = need_file(h, wfile, "blkio weight", err)) < 0 ||
                    (r = cg_writef(h, wfile, err, "%u", b->weight)) < 0)
                        return r;
        }
        if (b->has_leaf_weight) {
                if ((r = need_file(h, "blkio.leaf_weight", "blkio leafWeight", err)) < 0 ||
                    (r = cg_writef(h, "blkio.leaf_weight", err, "%u", b->leaf_weight)) < 0)
                        return r;
        }
        for (size_t i = 0; i < b->n_weight_devices; i++) {
                const struct oci_blkio_weight_device *d = &b->weight_devices[i];
                if (d->has_weight) {
                        if ((r = need_file(h, wdev, "blkio weightDevice", err)) < 0 ||
                            (r = cg_writef(h, wdev, err, "%lld:%lld %u", (long long)d->major,
                                           (long long)d->minor, d->weight)) < 0)
                                return r;
                }
                if (d->has_leaf_weight) {
                        if ((r = need_file(h, "blkio.leaf_weight_device",
                                           "blkio weightDevice leafWeight", err)) < 0 ||
                            (r = cg_writef(h, "blkio.leaf_weight_device", err, "%lld:%lld %u",
                                           (long long)d->major, (long long)d->minor,
                                           d->leaf_weight)) < 0)
                                return r;
                }
        }
        for (int k = 0; k < _OCI_THROTTLE_MAX; k++)
                for (size_t i = 0; i < b->n_throttle[k]; i++) {
                        const struct oci_blkio_throttle *t = &b->throttle[k][i];
                        r = cg_writef(h, throttle_files[k], err, "%lld:%lld %llu",
                                      (long long)t->major, (long long)t->minor,
                                      (unsigned long long)t->rate);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* ---- devices ---- */

static void dev_num(char *buf, size_t n, int64_t v)
{
        if (v < 0)
                snprintf(buf, n, "*");
        else
                snprintf(buf, n, "%lld", (long long)v);
}

int cg_v1_devices(const struct cg_hier *h, const struct oci_device_cgroup *rules, size_t n,
                  struct berth_error **err)
{
        for (size_t i = 0; i < n; i++) {
                const struct oci_device_cgroup *d = &rules[i];
                char maj[24], min[24];
                dev_num(maj, sizeof(maj), d->major);
                dev_num(min, sizeof(min), d->minor);
                const char *access = d->access && *d->access ? d->access : "rwm";
                char type = d->type ? d->type : 'a';
                int r = cg_writef(h, d->allow ? "devices.allow" : "devices.deny", err,
                                  "%c %s:%s %s", type, maj, min, access);
                if (r < 0)
                        return r;
        }
        return 0;
}
