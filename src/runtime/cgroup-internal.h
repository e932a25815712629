/*
 * cgroup-internal.h — what cgroup.c, cgroup-v1.c, cgroup-v2.c and
 * cgroup-bpf.c share: the hierarchy list of a container's cgroup and the
 * helpers that write one knob with an error naming file, value and directory.
 *
 * A container's cgroup is one directory per mounted hierarchy (every v1
 * hierarchy, named ones such as name=systemd included, plus the cgroup2
 * mount when there is one).  `created` records how many trailing path
 * components this library made, so destroy never removes a directory it
 * did not create.
 *
 * Never include this outside src/runtime/cgroup*.c.
 */
#ifndef BERTH_RUNTIME_CGROUP_INTERNAL_H
#define BERTH_RUNTIME_CGROUP_INTERNAL_H

#include "runtime/cgroup.h"

struct cg_hier {
        char *mount;        /* mount point, e.g. /sys/fs/cgroup/memory */
        char **controllers; /* v1: superblock options ("memory", "name=systemd"); v2:
                               cgroup.controllers of the mount's root */
        bool v2;
        char *path;       /* the container's cgroup inside the hierarchy, "/berth/x" */
        char *dir;        /* its directory on this host */
        unsigned created; /* trailing components of path made by cgroup_create() */
};

struct berth_cgroup {
        enum cgroup_mode mode;
        bool systemd;
        struct cg_hier *h;
        size_t n;
        int v2_fd; /* O_PATH fd of the v2 directory (pure v2 only), else -EBADF */
};

/* The hierarchy that carries controller `name` ("memory", "hugetlb"), or NULL.
 * v1 hierarchies win over the v2 one, as the kernel binds a controller to one only. */
struct cg_hier *cg_find(const struct berth_cgroup *cg, const char *controller);
/* The cgroup2 hierarchy, or NULL. */
struct cg_hier *cg_v2(const struct berth_cgroup *cg);

bool cg_has_file(const struct cg_hier *h, const char *file);
/* Write value to <dir>/<file>; on failure "set <file> to <value> in '<dir>': <reason>". */
int cg_write(const struct cg_hier *h, const char *file, const char *value,
             struct berth_error **err);
_printf_(4, 5) int cg_writef(const struct cg_hier *h, const char *file, struct berth_error **err,
                             const char *fmt, ...);
/* Read <dir>/<file>, trailing newline stripped. */
int cg_read(const struct cg_hier *h, const char *file, char **ret, struct berth_error **err);
int cg_read_at(const char *dir, const char *file, char **ret, struct berth_error **err);

/* Route every resource to the hierarchy that carries its controller (cgroup-res.c). */
int cg_apply(struct berth_cgroup *cg, const struct oci_resources *res, struct berth_error **err);

/* One resource kind on a v1 hierarchy (cgroup-v1.c) ... */
int cg_v1_memory(const struct cg_hier *h, const struct oci_memory *m, struct berth_error **err);
int cg_v1_cpu(const struct cg_hier *h, const struct oci_cpu *c, struct berth_error **err);
int cg_v1_cpuset(const struct cg_hier *h, const struct oci_cpu *c, struct berth_error **err);
int cg_v1_blkio(const struct cg_hier *h, const struct oci_blkio *b, struct berth_error **err);
int cg_v1_devices(const struct cg_hier *h, const struct oci_device_cgroup *rules, size_t n,
                  struct berth_error **err);
/* ... and on the v2 hierarchy (cgroup-v2.c). */
int cg_v2_memory(const struct cg_hier *h, const struct oci_memory *m, struct berth_error **err);
int cg_v2_cpu(const struct cg_hier *h, const struct oci_cpu *c, struct berth_error **err);
int cg_v2_cpuset(const struct cg_hier *h, const struct oci_cpu *c, struct berth_error **err);
int cg_v2_io(const struct cg_hier *h, const struct oci_blkio *b, struct berth_error **err);
int cg_v2_devices(const struct cg_hier *h, const struct oci_device_cgroup *rules, size_t n,
                  struct berth_error **err);
int cg_v2_unified(const struct cg_hier *h, const struct oci_kv *kv, size_t n,
                  struct berth_error **err);
/* Conversions runc uses, exposed for the tests. */
uint64_t cg_shares_to_weight(uint64_t shares);
uint64_t cg_blkio_to_io_weight(uint64_t weight);
/* v1 cpuset: copy cpuset.cpus/mems from the parent into every new, empty level. */
int cg_v1_cpuset_init(const struct cg_hier *h, struct berth_error **err);
/* v2: every level from the root down to the leaf's parent delegates what it has;
 * with below_root, the root's own subtree_control is left as the host set it. */
int cg_v2_enable_controllers(const struct cg_hier *h, bool below_root, struct berth_error **err);

/* Device rules as a BPF_PROG_TYPE_CGROUP_DEVICE program attached to dir_fd
 * with BPF_F_ALLOW_MULTI; the programs attached before are detached after. */
int cg_bpf_devices_apply(int dir_fd, const char *dir, const struct oci_device_cgroup *rules,
                         size_t n, struct berth_error **err);

#endif
