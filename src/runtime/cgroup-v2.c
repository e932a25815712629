/*
 * cgroup-v2.c — resources on the cgroup2 hierarchy (pure v2, or the unified
 * mount of a hybrid host), translated from the OCI's v1-shaped fields the
 * way runc translates them:
 *   memory.limit -> memory.max, reservation -> memory.low,
 *   swap (memory+swap) -> memory.swap.max = swap - limit (0 when equal),
 *   cpu.shares -> cpu.weight = 1 + (shares - 2) * 9999 / 262142,
 *   quota/period -> cpu.max "quota period", burst -> cpu.max.burst,
 *   blkio weight -> io.bfq.weight as is, or io.weight = 1 + (w - 10) * 9999 / 990,
 *   throttles -> io.max "maj:min rbps=… wbps=… riops=… wiops=…",
 *   devices -> an eBPF program (cgroup-bpf.c).
 * Fields with no v2 equivalent: kernel, kernelTCP, swappiness,
 * disableOOMKiller and useHierarchy are ignored, as runc ignores them
 * (v2 is always hierarchical; kernel memory is part of memory.max);
 * realtime and leafWeight are errors, since ignoring them would change what
 * the container may do.
 *
 * Never: write "" to memory.swap.max (the kernel reads it as 0).
 */
#include <fcntl.h>
#include <string.h>

#include "base/fileio.h"
#include "runtime/cgroup-internal.h"

uint64_t cg_shares_to_weight(uint64_t shares)
{
        if (shares == 0)
                return 0;
        if (shares < 2)
                shares = 2;
        if (shares > 262144)
                shares = 262144;
        return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cg_blkio_to_io_weight(uint64_t weight)
{
        if (weight == 0)
                return 0;
        if (weight < 10)
                weight = 10;
        if (weight > 1000)
                weight = 1000;
        return 1 + ((weight - 10) * 9999) / 990;
}

static void fmt_max(char *buf, size_t n, int64_t v)
{
        if (v < 0)
                snprintf(buf, n, "max");
        else
                snprintf(buf, n, "%lld", (long long)v);
}

/* runc's ConvertMemorySwapToCgroupV2Value; *ret 0 = leave alone, -1 = max */
static int swap_to_v2(int64_t swap, int64_t limit, int64_t *ret, struct berth_error **err)
{
        if (limit == -1 && swap == 0) {
                *ret = -1;
                return 0;
        }
        if (swap == -1 || swap == 0) {
                *ret = swap;
                return 0;
        }
        if (limit == 0)
                return berth_error_set(
                    err, EINVAL, "memory swap: a swap limit needs a memory limit on cgroup v2");
        if (limit < 0)
                return berth_error_set(err, EINVAL, "memory swap: invalid memory limit %lld",
                                       (long long)limit);
        if (swap < limit)
                return berth_error_set(err, EINVAL,
                                       "memory swap: memory+swap limit %lld is below the memory "
                                       "limit %lld",
                                       (long long)swap, (long long)limit);
        *ret = swap - limit;
        return 0;
}

int cg_v2_memory(const struct cg_hier *h, const struct oci_memory *m, struct berth_error **err)
{
        int64_t limit = m->has_limit ? m->limit : 0, swap = 0;
        int r = swap_to_v2(m->has_swap ? m->swap : 0, limit, &swap, err);
        if (r < 0)
                return r;
        char v[32];
        /* memory+swap equal to memory means "no swap": write 0, not "leave alone" */
        bool no_swap = swap == 0 && m->has_swap && m->swap > 0;
        if (swap != 0 || no_swap) {
                fmt_max(v, sizeof(v), swap);
                if (cg_has_file(h, "memory.swap.max"))
                        r = cg_write(h, "memory.swap.max", v, err);
                else if (swap != -1)
                        r = berth_error_set(err, ENOTSUP,
                                            "memory swap: memory.swap.max does not exist in '%s' "
                                            "(swap accounting is disabled on this host)",
                                            h->dir);
                if (r < 0)
                        return r;
        }
        if (limit != 0) {
                if (m->check_before_update && limit > 0) {
                        _cleanup_free_ char *cur = NULL;
                        uint64_t c = 0;
                        if (cg_read(h, "memory.current", &cur, NULL) == 0 &&
                            parse_u64(cur, &c) == 0 && c > (uint64_t)limit)
                                return berth_error_set(
                                    err, EBUSY,
                                    "memory limit %lld is below the current usage "
                                    "%llu of '%s'",
                                    (long long)limit, (unsigned long long)c, h->dir);
                }
                fmt_max(v, sizeof(v), limit);
                r = cg_write(h, "memory.max", v, err);
                if (r < 0)
                        return r;
        }
        if (m->has_reservation && m->reservation != 0) {
                fmt_max(v, sizeof(v), m->reservation);
                r = cg_write(h, "memory.low", v, err);
        }
        return r;
}

int cg_v2_cpu(const struct cg_hier *h, const struct oci_cpu *c, struct berth_error **err)
{
        int r;
        if ((c->has_realtime_runtime && c->realtime_runtime != 0) ||
            (c->has_realtime_period && c->realtime_period != 0))
                return berth_error_set(
                    err, ENOTSUP, "cpu realtimeRuntime/realtimePeriod: not supported on cgroup v2");
        if (c->has_shares && c->shares != 0) {
                r = cg_writef(h, "cpu.weight", err, "%llu",
                              (unsigned long long)cg_shares_to_weight(c->shares));
                if (r < 0)
                        return r;
        }
        int64_t quota = c->has_quota ? c->quota : 0;
        uint64_t period = c->has_period ? c->period : 0;
        if (quota != 0 || period != 0) {
                char q[32];
                fmt_max(q, sizeof(q), quota > 0 ? quota : -1);
                if (period != 0)
                        r = cg_writef(h, "cpu.max", err, "%s %llu", q, (unsigned long long)period);
                else
                        r = cg_write(h, "cpu.max", q, err);
                if (r < 0)
                        return r;
        }
        if (c->has_burst) {
                r = cg_writef(h, "cpu.max.burst", err, "%llu", (unsigned long long)c->burst);
                if (r < 0)
                        return r;
        }
        if (c->has_idle)
                return cg_writef(h, "cpu.idle", err, "%lld", (long long)c->idle);
        return 0;
}

int cg_v2_cpuset(const struct cg_hier *h, const struct oci_cpu *c, struct berth_error **err)
{
        int r = 0;
        if (c->cpus && *c->cpus)
                r = cg_write(h, "cpuset.cpus", c->cpus, err);
        if (r >= 0 && c->mems && *c->mems)
                r = cg_write(h, "cpuset.mems", c->mems, err);
        return r;
}

static const char *const io_max_keys[_OCI_THROTTLE_MAX] = {
    [OCI_THROTTLE_READ_BPS] = "rbps",
    [OCI_THROTTLE_WRITE_BPS] = "wbps",
    [OCI_THROTTLE_READ_IOPS] = "riops",
    [OCI_THROTTLE_WRITE_IOPS] = "wiops",
};

int cg_v2_io(const struct cg_hier *h, const struct oci_blkio *b, struct berth_error **err)
{
        bool bfq = cg_has_file(h, "io.bfq.weight");
        int r;
        if (b->has_leaf_weight)
                return berth_error_set(err, ENOTSUP,
                                       "blkio leafWeight: not supported on cgroup v2");
        for (size_t i = 0; i < b->n_weight_devices; i++)
                if (b->weight_devices[i].has_leaf_weight)
                        return berth_error_set(
                            err, ENOTSUP,
                            "blkio weightDevice leafWeight: not supported on cgroup v2");
        if (b->has_weight) {
                if (bfq)
                        r = cg_writef(h, "io.bfq.weight", err, "%u", b->weight);
                else if (cg_has_file(h, "io.weight"))
                        r = cg_writef(h, "io.weight", err, "default %llu",
                                      (unsigned long long)cg_blkio_to_io_weight(b->weight));
                else
                        r = berth_error_set(
                            err, ENOTSUP,
                            "blkio weight: neither io.bfq.weight nor io.weight exists "
                            "in '%s'",
                            h->dir);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < b->n_weight_devices; i++) {
                const struct oci_blkio_weight_device *d = &b->weight_devices[i];
                if (!d->has_weight)
                        continue;
                if (bfq)
                        r = cg_writef(h, "io.bfq.weight", err, "%lld:%lld %u", (long long)d->major,
                                      (long long)d->minor, d->weight);
                else
                        r = cg_writef(h, "io.weight", err, "%lld:%lld %llu", (long long)d->major,
                                      (long long)d->minor,
                                      (unsigned long long)cg_blkio_to_io_weight(d->weight));
                if (r < 0)
                        return r;
        }
        for (int k = 0; k < _OCI_THROTTLE_MAX; k++)
                for (size_t i = 0; i < b->n_throttle[k]; i++) {
                        const struct oci_blkio_throttle *t = &b->throttle[k][i];
                        /* 0 removes the limit, as writing 0 to the v1 file does */
                        if (t->rate == 0)
                                r = cg_writef(h, "io.max", err, "%lld:%lld %s=max",
                                              (long long)t->major, (long long)t->minor,
                                              io_max_keys[k]);
                        else
                                r = cg_writef(h, "io.max", err, "%lld:%lld %s=%llu",
                                              (long long)t->major, (long long)t->minor,
                                              io_max_keys[k], (unsigned long long)t->rate);
                        if (r < 0)
                                return r;
                }
        return 0;
}

int cg_v2_devices(const struct cg_hier *h, const struct oci_device_cgroup *rules, size_t n,
                  struct berth_error **err)
{
        _cleanup_close_ int fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_sys(err, errno, "open cgroup '%s'", h->dir);
        return cg_bpf_devices_apply(fd, h->dir, rules, n, err);
}

int cg_v2_unified(const struct cg_hier *h, const struct oci_kv *kv, size_t n,
                  struct berth_error **err)
{
        for (size_t i = 0; i < n; i++) {
                const char *k = kv[i].key, *v = kv[i].value ? kv[i].value : "";
                if (!k || !*k || k[0] == '.' || strchr(k, '/'))
                        return berth_error_set(
                            err, EINVAL, "unified: invalid cgroup file name '%s'", k ? k : "");
                if (!cg_has_file(h, k)) {
                        const char *dot = strchr(k, '.');
                        return berth_error_set(
                            err, ENOENT,
                            "unified: '%s' does not exist in '%s' (is the '%.*s' "
                            "controller available on this cgroup v2 hierarchy?)",
                            k, h->dir, dot ? (int)(dot - k) : (int)strlen(k), k);
                }
                int r = cg_write(h, k, v, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cg_v2_enable_controllers(const struct cg_hier *h, bool below_root, struct berth_error **err)
{
        size_t lm = strlen(h->mount);
        _cleanup_free_ char *p = xstrdup(h->dir);
        /* every level from the mount's root to the leaf's parent delegates what it has */
        for (char *s = p + lm;;) {
                char saved = *s;
                *s = '\0';
                const char *dir = *p ? p : "/";
                if (below_root && s == p + lm) {
                        *s = saved;
                        char *next = strchr(s + 1, '/');
                        if (!next)
                                break;
                        s = next;
                        continue;
                }
                _cleanup_free_ char *avail = NULL;
                if (cg_read_at(dir, "cgroup.controllers", &avail, NULL) == 0) {
                        char *save = NULL;
                        for (char *c = strtok_r(avail, " ", &save); c;
                             c = strtok_r(NULL, " ", &save)) {
                                _cleanup_free_ char *plus = xasprintf("+%s", c);
                                struct cg_hier lvl = {.dir = (char *)dir};
                                /* a level holding processes refuses (EBUSY): the
                                 * knob writes below then name the missing file */
                                (void)cg_write(&lvl, "cgroup.subtree_control", plus, NULL);
                        }
                }
                *s = saved;
                char *slash = strchr(s + 1, '/');
                if (!slash)
                        break;
                s = slash;
        }
        (void)err;
        return 0;
}
