/*
 * cgroup.h — a container's control group on cgroup v1, v2 or hybrid hosts.
 *
 * The host layout is detected once from /proc/self/mountinfo: pure v2
 * (one cgroup2 mount at /sys/fs/cgroup), pure v1 (one mount per controller),
 * or hybrid (v1 controllers plus a cgroup2 mount, usually
 * /sys/fs/cgroup/unified, holding whatever controllers were left to it —
 * on this project's build machine only hugetlb... or none).  On hybrid, every
 * resource goes to the hierarchy that actually has its controller.
 *
 * Life cycle, as the runtime uses it:
 *   cgroup_create()   make the directories, apply every resource limit; no process yet
 *   cgroup_v2_fd()    an O_PATH/O_DIRECTORY fd for clone3(CLONE_INTO_CGROUP) into the
 *                     v2 tree (pure v2 or hybrid)
 *   cgroup_join_open(), cgroup_join_self()   the new process moves itself into each v1
 *                     hierarchy (below)
 *   cgroup_update(), cgroup_freeze(), cgroup_pids(), cgroup_kill_all()
 *   cgroup_destroy()  remove every directory it made (kills leftovers first)
 * cgroup_to_json()/cgroup_from_json() persist it in the container's state dir
 * so a later `kill`, `pause` or `delete` process finds the same directories.
 *
 * Never: write outside the container's own cgroup directories; leave a
 * directory behind after a failed create.
 */
#ifndef BERTH_RUNTIME_CGROUP_H
#define BERTH_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"
#include "oci/runtime-spec.h"

enum cgroup_mode {
        CGROUP_MODE_V1,
        CGROUP_MODE_V2,
        CGROUP_MODE_HYBRID,
};

struct berth_cgroup;

int cgroup_detect_mode(enum cgroup_mode *ret, struct berth_error **err);
const char *cgroup_mode_name(enum cgroup_mode m); /* "v1", "v2", "hybrid" */

/*
 * cgroups_path: linux.cgroupsPath (NULL or "" -> "/berth/<container_id>";
 * relative paths are taken under the runtime's own cgroup as runc does; ".."
 * is refused).  res may be NULL.  An empty device rule list leaves the
 * devices cgroup alone: the caller adds runc's default rules (deny all, then
 * the standard character devices) when it wants them.
 * systemd: "slice:prefix:name" syntax; refused with a clear error when
 * systemd cgroup management is not available.
 */
int cgroup_create(const char *cgroups_path, const char *container_id,
                  const struct oci_resources *res, bool systemd, struct berth_cgroup **ret,
                  struct berth_error **err);
/* The v2 cgroup to clone3(CLONE_INTO_CGROUP) into (pure v2, and hybrid's cgroup2
 * tree), or -1 when there is none. */
int cgroup_v2_fd(const struct berth_cgroup *cg);
/* Move pid into every hierarchy (cgroup.procs).  A process started with
 * cgroup_join_open()/cgroup_join_self() instead starts faster: see there. */
int cgroup_enter(const struct berth_cgroup *cg, pid_t pid, struct berth_error **err);

/*
 * How a new process enters its cgroups without the kernel's threadgroup lock:
 * clone3(CLONE_INTO_CGROUP) with cgroup_v2_fd() for the v2 tree, and for each
 * v1 hierarchy the process itself, single-threaded, writes "0" into `tasks`.
 * A write of a pid to cgroup.procs takes that lock for writing, and its first
 * writer after an idle spell waits for an RCU grace period (about 15 ms on this
 * project's VM, at every container start); a thread moving itself does not.
 *
 * cgroup_join_open(): in the parent, before the clone: `tasks` of every v1
 * hierarchy (and cgroup.procs of a v2 one without a directory fd), opened for
 * writing (the write is checked against the opener's credentials, so a child
 * in a new user namespace may do it).  cgroup_join_self(): in the child, before
 * anything of the container's runs; closes the fds.  cgroup_join_release(): in
 * the parent, after the clone.  n == 0 on a pure v2 host.
 */
struct cgroup_join {
        size_t n;
        int *fds;
        char **paths;
};
int cgroup_join_open(const struct berth_cgroup *cg, struct cgroup_join *ret,
                     struct berth_error **err);
int cgroup_join_self(struct cgroup_join *j, struct berth_error **err);
void cgroup_join_release(struct cgroup_join *j);
int cgroup_update(struct berth_cgroup *cg, const struct oci_resources *res, struct berth_error **err);
int cgroup_freeze(struct berth_cgroup *cg, bool freeze, struct berth_error **err);
int cgroup_is_frozen(const struct berth_cgroup *cg, bool *ret, struct berth_error **err);
int cgroup_pids(const struct berth_cgroup *cg, pid_t **ret, size_t *ret_n, struct berth_error **err);
int cgroup_kill_all(const struct berth_cgroup *cg, int sig, struct berth_error **err);
int cgroup_destroy(struct berth_cgroup *cg, struct berth_error **err);
/* A container's cgroup known only by its path (no state left): kill, remove. */
int cgroup_remove_path(const char *cgroups_path, struct berth_error **err);
/* Remove cg's directory in every hierarchy where it is empty (and the ancestors
 * cgroup_create() made, where empty too); anything in use (tasks or sub-cgroups) is
 * left as it is, never killed.  Frees cg. */
void cgroup_release_empty(struct berth_cgroup *cg);
/*
 * Usage counters for `docker stats` and the stats API, read from whichever
 * hierarchy carries each controller.  has_* is false where this host lacks
 * the controller.  memory_usage includes page cache; subtract
 * memory_inactive_file for docker's "MEM USAGE" figure.
 */
struct cgroup_stats {
        bool has_cpu, has_memory, has_pids, has_blkio;
        uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
        uint64_t memory_usage, memory_limit, memory_inactive_file; /* limit UINT64_MAX: none */
        uint64_t memory_oom_kills; /* tasks the OOM killer took here (docker's State.OOMKilled) */
        uint64_t pids_current, pids_limit;                         /* limit UINT64_MAX: none */
        uint64_t blkio_read_bytes, blkio_write_bytes;
};
int cgroup_stats(const struct berth_cgroup *cg, struct cgroup_stats *ret, struct berth_error **err);
/* The memory controller's OOM kill count alone (0 without one): one file read. */
uint64_t cgroup_oom_kills(const struct berth_cgroup *cg);
/* The host layout the cgroup was made on. */
enum cgroup_mode cgroup_get_mode(const struct berth_cgroup *cg);
/*
 * The container's directory in each hierarchy, for the runtime's "cgroup"
 * mounts (bind-mount dir at /sys/fs/cgroup/<basename of mount> on v1/hybrid).
 * i runs from 0 to cgroup_n_hierarchies() - 1; -ERANGE beyond.
 */
size_t cgroup_n_hierarchies(const struct berth_cgroup *cg);
int cgroup_hierarchy(const struct berth_cgroup *cg, size_t i, const char **ret_mount,
                     const char **ret_dir, bool *ret_v2);
/* Path of the container's cgroup inside the hierarchy (what /proc/<pid>/cgroup shows). */
const char *cgroup_path(const struct berth_cgroup *cg);

struct json *cgroup_to_json(const struct berth_cgroup *cg);
int cgroup_from_json(const struct json *j, struct berth_cgroup **ret, struct berth_error **err);
void cgroup_free(struct berth_cgroup *cg);
static inline void cgroup_freep(struct berth_cgroup **cg)
{
        cgroup_free(*cg);
}
#define _cleanup_cgroup_ _cleanup_(cgroup_freep)

#endif
