/*
 * cgroup-stats.c — usage counters of a container's cgroup (cgroup_stats()),
 * for `docker stats`: CPU time, memory, pids and block I/O bytes.
 *
 * v1 sources: cpuacct.usage and cpuacct.stat (USER_HZ ticks),
 * memory.usage_in_bytes / limit_in_bytes / stat (total_inactive_file) /
 * oom_control (oom_kill),
 * pids.current / pids.max, blkio.throttle.io_service_bytes_recursive.
 * v2 sources: cpu.stat (microseconds), memory.current / memory.max /
 * memory.stat (inactive_file) / memory.events (oom_kill), pids.current /
 * pids.max, io.stat.
 * Each counter comes from the hierarchy that carries its controller, so a
 * hybrid host mixes both.
 *
 * Never: write anything; a missing controller is has_* = false, not an error.
 */
#include <string.h>

#include "base/fileio.h"
#include "runtime/cgroup-internal.h"

/* "max" or a number; a missing or unparsable value leaves *ret alone. */
static void read_limit(const struct cg_hier *h, const char *file, uint64_t *ret)
{
        _cleanup_free_ char *v = NULL;
        if (cg_read(h, file, &v, NULL) < 0)
                return;
        if (strcmp(v, "max") == 0) {
                *ret = UINT64_MAX;
                return;
        }
        uint64_t u;
        int64_t i;
        if (parse_u64(v, &u) == 0)
                *ret = u;
        else if (parse_i64(v, &i) == 0 && i < 0)
                *ret = UINT64_MAX;
}

static int read_u64(const struct cg_hier *h, const char *file, uint64_t *ret,
                    struct berth_error **err)
{
        _cleanup_free_ char *v = NULL;
        int r = cg_read(h, file, &v, err);
        if (r < 0)
                return r;
        if (parse_u64(v, ret) < 0)
                return berth_error_set(err, EINVAL, "read %s in '%s': not a number: '%s'", file,
                                       h->dir, v);
        return 0;
}

/* Value of "key N" in a flat-keyed file (memory.stat, cpu.stat, cpuacct.stat). */
static bool keyed(const char *text, const char *key, uint64_t *ret)
{
        size_t lk = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, lk) == 0 && l[lk] == ' ') {
                        *ret = strtoull(l + lk + 1, NULL, 10);
                        return true;
                }
        }
        return false;
}

static int cpu_stats(const struct berth_cgroup *cg, struct cgroup_stats *s,
                     struct berth_error **err)
{
        struct cg_hier *h = cg_find(cg, "cpuacct");
        _cleanup_free_ char *text = NULL;
        if (h && !h->v2) {
                int r = read_u64(h, "cpuacct.usage", &s->cpu_usage_ns, err);
                if (r < 0)
                        return r;
                if (cg_read(h, "cpuacct.stat", &text, NULL) == 0) {
                        long hz = sysconf(_SC_CLK_TCK);
                        uint64_t ns_per_tick = hz > 0 ? 1000000000ull / (uint64_t)hz : 10000000ull;
                        uint64_t u = 0, sy = 0;
                        keyed(text, "user", &u);
                        keyed(text, "system", &sy);
                        s->cpu_user_ns = u * ns_per_tick;
                        s->cpu_system_ns = sy * ns_per_tick;
                }
                s->has_cpu = true;
                return 0;
        }
        /* cpu.stat's usage is core on cgroup2: present without the cpu controller */
        h = cg_v2(cg);
        if (!h || cg_read(h, "cpu.stat", &text, NULL) < 0)
                return 0;
        uint64_t usage = 0, user = 0, sys = 0;
        if (!keyed(text, "usage_usec", &usage))
                return 0;
        keyed(text, "user_usec", &user);
        keyed(text, "system_usec", &sys);
        s->cpu_usage_ns = usage * 1000;
        s->cpu_user_ns = user * 1000;
        s->cpu_system_ns = sys * 1000;
        s->has_cpu = true;
        return 0;
}

static int memory_stats(const struct berth_cgroup *cg, struct cgroup_stats *s,
                        struct berth_error **err)
{
        struct cg_hier *h = cg_find(cg, "memory");
        if (!h)
                return 0;
        int r =
            read_u64(h, h->v2 ? "memory.current" : "memory.usage_in_bytes", &s->memory_usage, err);
        if (r < 0)
                return r;
        s->memory_limit = UINT64_MAX;
        read_limit(h, h->v2 ? "memory.max" : "memory.limit_in_bytes", &s->memory_limit);
        /* v1 reports "unlimited" as the largest page-aligned long */
        if (!h->v2 && s->memory_limit >= (UINT64_MAX >> 1) - 4096)
                s->memory_limit = UINT64_MAX;
        /* oom_kill counts in memory.events (v2) and memory.oom_control (v1, Linux >= 4.13) */
        _cleanup_free_ char *ev = NULL;
        if (cg_read(h, h->v2 ? "memory.events" : "memory.oom_control", &ev, NULL) == 0)
                keyed(ev, "oom_kill", &s->memory_oom_kills);
        _cleanup_free_ char *stat = NULL;
        if (cg_read(h, "memory.stat", &stat, NULL) == 0)
                keyed(stat, h->v2 ? "inactive_file" : "total_inactive_file",
                      &s->memory_inactive_file);
        s->has_memory = true;
        return 0;
}

static int pids_stats(const struct berth_cgroup *cg, struct cgroup_stats *s,
                      struct berth_error **err)
{
        struct cg_hier *h = cg_find(cg, "pids");
        if (!h)
                return 0;
        int r = read_u64(h, "pids.current", &s->pids_current, err);
        if (r < 0)
                return r;
        s->pids_limit = UINT64_MAX;
        read_limit(h, "pids.max", &s->pids_limit);
        s->has_pids = true;
        return 0;
}

static void blkio_stats(const struct berth_cgroup *cg, struct cgroup_stats *s)
{
        struct cg_hier *h = cg_find(cg, "blkio");
        _cleanup_free_ char *text = NULL;
        if (h && !h->v2) {
                if (cg_read(h, "blkio.throttle.io_service_bytes_recursive", &text, NULL) < 0)
                        return;
                /* "maj:min Read N" lines, plus a "Total" per device and overall */
                char *save = NULL;
                for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        char dev[64], op[16];
                        unsigned long long n;
                        if (sscanf(l, "%63s %15s %llu", dev, op, &n) != 3)
                                continue;
                        if (strcmp(op, "Read") == 0)
                                s->blkio_read_bytes += n;
                        else if (strcmp(op, "Write") == 0)
                                s->blkio_write_bytes += n;
                }
                s->has_blkio = true;
                return;
        }
        h = cg_find(cg, "io");
        if (!h || cg_read(h, "io.stat", &text, NULL) < 0)
                return;
        /* "maj:min rbytes=N wbytes=N rios=N …" per device */
        for (const char *p = text; (p = strstr(p, "bytes=")); p += 6) {
                unsigned long long n = strtoull(p + 6, NULL, 10);
                if (p > text && p[-1] == 'r')
                        s->blkio_read_bytes += n;
                else if (p > text && p[-1] == 'w')
                        s->blkio_write_bytes += n;
        }
        s->has_blkio = true;
}

uint64_t cgroup_oom_kills(const struct berth_cgroup *cg)
{
        struct cg_hier *h = cg_find(cg, "memory");
        uint64_t n = 0;
        _cleanup_free_ char *ev = NULL;
        if (h && cg_read(h, h->v2 ? "memory.events" : "memory.oom_control", &ev, NULL) == 0)
                keyed(ev, "oom_kill", &n);
        return n;
}

int cgroup_stats(const struct berth_cgroup *cg, struct cgroup_stats *ret, struct berth_error **err)
{
        struct cgroup_stats s = {0};
        int r = cpu_stats(cg, &s, err);
        if (r >= 0)
                r = memory_stats(cg, &s, err);
        if (r >= 0)
                r = pids_stats(cg, &s, err);
        if (r < 0)
                return berth_error_prefix(err, "stats of cgroup '%s'", cgroup_path(cg));
        blkio_stats(cg, &s);
        *ret = s;
        return 0;
}
