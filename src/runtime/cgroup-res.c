/*
 * cgroup-res.c — routes each resource of linux.resources to the hierarchy
 * that carries its controller, v1 or v2, so one code path serves v1, v2 and
 * hybrid hosts; the knobs whose format is the same on both versions (pids,
 * hugetlb, rdma, net_cls/net_prio) are written here.
 *
 * Order follows runc's v1 subsystem order (cpuset, devices, memory, cpu,
 * pids, blkio, hugetlb, network, rdma), then the v2 "unified" map last so it
 * can override anything set before it.  A resource that is asked for but
 * whose controller this host lacks is an error naming the controller —
 * never silently dropped.
 *
 * Never: write a knob outside the container's own directories.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cgroup-internal.h"

static int no_controller(const char *what, const char *ctrl, struct berth_error **err)
{
        return berth_error_set(
            err, ENOTSUP, "%s: the %s cgroup controller is not available on this host", what, ctrl);
}

static bool memory_set(const struct oci_memory *m)
{
        return m && (m->has_limit || m->has_reservation || m->has_swap || m->has_kernel ||
                     m->has_kernel_tcp || m->has_swappiness || m->has_disable_oom_killer ||
                     m->has_use_hierarchy);
}

static bool cpu_set(const struct oci_cpu *c)
{
        return c && (c->has_shares || c->has_quota || c->has_burst || c->has_period ||
                     c->has_realtime_runtime || c->has_realtime_period || c->has_idle);
}

static bool cpuset_set(const struct oci_cpu *c)
{
        return c && ((c->cpus && *c->cpus) || (c->mems && *c->mems));
}

static bool blkio_set(const struct oci_blkio *b)
{
        if (!b)
                return false;
        bool any = b->has_weight || b->has_leaf_weight || b->n_weight_devices > 0;
        for (int k = 0; k < _OCI_THROTTLE_MAX; k++)
                any |= b->n_throttle[k] > 0;
        return any;
}

static int apply_pids(const struct berth_cgroup *cg, const struct oci_resources *res,
                      struct berth_error **err)
{
        if (!res->has_pids_limit)
                return 0;
        struct cg_hier *h = cg_find(cg, "pids");
        if (!h)
                return no_controller("pids limit", "pids", err);
        /* as runc: a positive number is a limit, 0 or -1 mean none */
        if (res->pids_limit > 0)
                return cg_writef(h, "pids.max", err, "%lld", (long long)res->pids_limit);
        return cg_write(h, "pids.max", "max", err);
}

/* "2MB" -> 2048 (kB), as /sys/kernel/mm/hugepages names sizes; 0 when malformed */
static uint64_t page_size_kb(const char *s)
{
        char *end = NULL;
        if (!s || !isdigit((unsigned char)s[0]))
                return 0;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || v == 0 || v > (1ull << 40))
                return 0;
        if (strcmp(end, "KB") == 0)
                return v;
        if (strcmp(end, "MB") == 0)
                return v << 10;
        if (strcmp(end, "GB") == 0)
                return v << 20;
        return 0;
}

static int apply_hugetlb(const struct berth_cgroup *cg, const struct oci_resources *res,
                         struct berth_error **err)
{
        if (res->n_hugepage_limits == 0)
                return 0;
        struct cg_hier *h = cg_find(cg, "hugetlb");
        if (!h)
                return no_controller("hugepageLimits", "hugetlb", err);
        for (size_t i = 0; i < res->n_hugepage_limits; i++) {
                const struct oci_hugepage_limit *l = &res->hugepage_limits[i];
                uint64_t kb = page_size_kb(l->page_size);
                if (kb == 0)
                        return berth_error_set(
                            err, EINVAL, "hugepageLimits: invalid page size '%s' (want e.g. '2MB')",
                            l->page_size ? l->page_size : "");
                /* the kernel's list of sizes, not the cgroup's files: a missing file
                 * there means an undelegated controller, which cg_write() says */
                char sys[80];
                snprintf(sys, sizeof(sys), "/sys/kernel/mm/hugepages/hugepages-%llukB",
                         (unsigned long long)kb);
                if (access(sys, F_OK) < 0)
                        return berth_error_set(err, EINVAL,
                                               "hugepageLimits: page size '%s' is not supported on "
                                               "this host (no %s)",
                                               l->page_size, sys);
                _cleanup_free_ char *file =
                    xasprintf(h->v2 ? "hugetlb.%s.max" : "hugetlb.%s.limit_in_bytes", l->page_size);
                int r = cg_writef(h, file, err, "%llu", (unsigned long long)l->limit);
                if (r < 0)
                        return r;
                /* reservations follow the limit where the kernel has them, as runc does */
                _cleanup_free_ char *rsvd = xasprintf(
                    h->v2 ? "hugetlb.%s.rsvd.max" : "hugetlb.%s.rsvd.limit_in_bytes", l->page_size);
                if (cg_has_file(h, rsvd)) {
                        r = cg_writef(h, rsvd, err, "%llu", (unsigned long long)l->limit);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int apply_network(const struct berth_cgroup *cg, const struct oci_resources *res,
                         struct berth_error **err)
{
        const struct oci_network_res *n = res->network;
        if (!n || (!n->has_class_id && n->n_priorities == 0))
                return 0;
        if (n->has_class_id) {
                struct cg_hier *h = cg_find(cg, "net_cls");
                if (!h || h->v2)
                        return berth_error_set(
                            err, ENOTSUP,
                            "network classID: the net_cls cgroup v1 controller is "
                            "not mounted on this host (cgroup v2 has no equivalent)");
                int r = cg_writef(h, "net_cls.classid", err, "%u", n->class_id);
                if (r < 0)
                        return r;
        }
        if (n->n_priorities > 0) {
                struct cg_hier *h = cg_find(cg, "net_prio");
                if (!h || h->v2)
                        return berth_error_set(
                            err, ENOTSUP,
                            "network priorities: the net_prio cgroup v1 controller "
                            "is not mounted on this host (cgroup v2 has no equivalent)");
                for (size_t i = 0; i < n->n_priorities; i++) {
                        const struct oci_net_priority *p = &n->priorities[i];
                        if (!p->name || !*p->name || strpbrk(p->name, " \n/"))
                                return berth_error_set(
                                    err, EINVAL, "network priorities: invalid interface name '%s'",
                                    p->name ? p->name : "");
                        int r =
                            cg_writef(h, "net_prio.ifpriomap", err, "%s %u", p->name, p->priority);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int apply_rdma(const struct berth_cgroup *cg, const struct oci_resources *res,
                      struct berth_error **err)
{
        if (res->n_rdma == 0)
                return 0;
        struct cg_hier *h = cg_find(cg, "rdma");
        if (!h)
                return no_controller("rdma", "rdma", err);
        for (size_t i = 0; i < res->n_rdma; i++) {
                const struct oci_rdma *d = &res->rdma[i];
                if (!d->device || !*d->device || strpbrk(d->device, " \n="))
                        return berth_error_set(err, EINVAL, "rdma: invalid device name '%s'",
                                               d->device ? d->device : "");
                if (!d->has_hca_handles && !d->has_hca_objects)
                        continue;
                char handles[32] = "", objects[32] = "";
                if (d->has_hca_handles)
                        snprintf(handles, sizeof(handles), " hca_handle=%u", d->hca_handles);
                if (d->has_hca_objects)
                        snprintf(objects, sizeof(objects), " hca_object=%u", d->hca_objects);
                int r = cg_writef(h, "rdma.max", err, "%s%s%s", d->device, handles, objects);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The same words for a bad rule on v1 and v2, before the kernel or the verifier sees it. */
static int check_device_rules(const struct oci_device_cgroup *d, size_t n, struct berth_error **err)
{
        for (size_t i = 0; i < n; i++) {
                char t = d[i].type ? d[i].type : 'a';
                if (t != 'a' && t != 'b' && t != 'c')
                        return berth_error_set(
                            err, EINVAL, "devices[%zu]: invalid type '%c' (want 'a', 'c' or 'b')",
                            i, t);
                const char *a = d[i].access ? d[i].access : "rwm";
                if (strspn(a, "rwm") != strlen(a))
                        return berth_error_set(
                            err, EINVAL,
                            "devices[%zu]: invalid access '%s' (want a subset of 'rwm')", i, a);
                if (d[i].major > UINT32_MAX || d[i].minor > UINT32_MAX || d[i].major < -1 ||
                    d[i].minor < -1)
                        return berth_error_set(
                            err, EINVAL, "devices[%zu]: device number %lld:%lld is out of range", i,
                            (long long)d[i].major, (long long)d[i].minor);
        }
        return 0;
}

static int apply_devices(const struct berth_cgroup *cg, const struct oci_resources *res,
                         struct berth_error **err)
{
        if (res->n_devices == 0)
                return 0;
        int r = check_device_rules(res->devices, res->n_devices, err);
        if (r < 0)
                return r;
        struct cg_hier *h = cg_find(cg, "devices");
        if (h && !h->v2)
                return cg_v1_devices(h, res->devices, res->n_devices, err);
        /* cgroup v2 (or a hybrid host without a v1 devices hierarchy): eBPF */
        h = cg_v2(cg);
        if (!h)
                return no_controller("devices", "devices", err);
        return cg_v2_devices(h, res->devices, res->n_devices, err);
}

int cg_apply(struct berth_cgroup *cg, const struct oci_resources *res, struct berth_error **err)
{
        int r = 0;
        struct cg_hier *h;
        if (res->cpu && cpuset_set(res->cpu)) {
                h = cg_find(cg, "cpuset");
                if (!h)
                        return no_controller("cpu cpus/mems", "cpuset", err);
                r = h->v2 ? cg_v2_cpuset(h, res->cpu, err) : cg_v1_cpuset(h, res->cpu, err);
                if (r < 0)
                        return r;
        }
        r = apply_devices(cg, res, err);
        if (r < 0)
                return r;
        if (memory_set(res->memory)) {
                h = cg_find(cg, "memory");
                if (!h)
                        return no_controller("memory", "memory", err);
                r = h->v2 ? cg_v2_memory(h, res->memory, err) : cg_v1_memory(h, res->memory, err);
                if (r < 0)
                        return r;
        }
        if (cpu_set(res->cpu)) {
                h = cg_find(cg, "cpu");
                if (!h)
                        return no_controller("cpu", "cpu", err);
                r = h->v2 ? cg_v2_cpu(h, res->cpu, err) : cg_v1_cpu(h, res->cpu, err);
                if (r < 0)
                        return r;
        }
        r = apply_pids(cg, res, err);
        if (r < 0)
                return r;
        if (blkio_set(res->blkio)) {
                h = cg_find(cg, "blkio");
                if (!h || h->v2)
                        h = cg_find(cg, "io");
                if (!h)
                        return no_controller("blockIO", "blkio/io", err);
                r = h->v2 ? cg_v2_io(h, res->blkio, err) : cg_v1_blkio(h, res->blkio, err);
                if (r < 0)
                        return r;
        }
        r = apply_hugetlb(cg, res, err);
        if (r >= 0)
                r = apply_network(cg, res, err);
        if (r >= 0)
                r = apply_rdma(cg, res, err);
        if (r < 0 || res->n_unified == 0)
                return r;
        h = cg_v2(cg);
        if (!h)
                return berth_error_set(
                    err, ENOTSUP,
                    "unified: cgroup v2 is not mounted on this host (cgroup v1 only)");
        return cg_v2_unified(h, res->unified, res->n_unified, err);
}
