/*
 * runtime-spec.h — the OCI runtime specification 1.1 (config.json) as C structs.
 *
 * oci_spec_parse() turns config.json into these structs and validates it:
 * every field's JSON type, required fields, enumerations (namespace types,
 * capability names, rlimit names, seccomp actions and operators, hook lists),
 * absolute paths where the spec demands them.  Anything wrong is one error
 * line naming the JSON path ("linux.namespaces[2].type: unknown namespace
 * type 'pidd'").  Mount options, sysctl values and cgroup values are kept as
 * the spec's strings and numbers: their meaning is the kernel's, and the
 * runtime part interprets them.
 *
 * Optional scalars carry a has_* flag; optional objects are NULL pointers;
 * string lists are NULL-terminated (strv), NULL when absent.  The structure
 * owns everything it points to; oci_spec_free() releases it all.
 *
 * This part knows nothing of the kernel beyond the names the spec uses.
 */
#ifndef BERTH_OCI_RUNTIME_SPEC_H
#define BERTH_OCI_RUNTIME_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"

#define OCI_RUNTIME_SPEC_VERSION "1.1.0"
#define OCI_CONFIG_MAX_SIZE      (16u << 20) /* a config.json larger than this is refused */

struct oci_kv {
        char *key;
        char *value;
};

/* ---- process ---- */

struct oci_user {
        uint32_t uid, gid;
        bool has_umask;
        uint32_t umask;
        uint32_t *additional_gids;
        size_t n_additional_gids;
        char *username; /* Windows only; kept, ignored */
};

enum oci_cap_set {
        OCI_CAP_BOUNDING,
        OCI_CAP_EFFECTIVE,
        OCI_CAP_INHERITABLE,
        OCI_CAP_PERMITTED,
        OCI_CAP_AMBIENT,
        _OCI_CAP_SET_MAX,
};

struct oci_capabilities {
        /* bit n = capability number n (CAP_CHOWN = 0 …); has[set] false when the list is absent */
        uint64_t set[_OCI_CAP_SET_MAX];
        bool has[_OCI_CAP_SET_MAX];
};

struct oci_rlimit {
        int resource; /* RLIMIT_* number */
        char *type;   /* "RLIMIT_NOFILE" as written */
        uint64_t hard, soft;
};

struct oci_io_priority {
        int class_; /* IOPRIO_CLASS_RT = 1, BE = 2, IDLE = 3 */
        int priority;
};

struct oci_scheduler {
        char *policy; /* "SCHED_OTHER", … */
        int32_t nice, priority;
        char **flags;
        uint64_t runtime, deadline, period;
};

struct oci_process {
        bool terminal;
        bool has_console_size;
        uint32_t console_height, console_width;
        struct oci_user user;
        char **args;          /* required, non-empty (the parser checks, as runc does) */
        char *command_line;   /* Windows only */
        char **env;           /* each "NAME=VALUE" with a non-empty NAME (checked) */
        char *cwd;            /* required, absolute */
        struct oci_capabilities *capabilities; /* NULL: none at all */
        struct oci_rlimit *rlimits;
        size_t n_rlimits;
        bool no_new_privileges;
        char *apparmor_profile;
        bool has_oom_score_adj;
        int oom_score_adj;
        char *selinux_label;
        struct oci_io_priority *io_priority;
        struct oci_scheduler *scheduler;
};

/* ---- root, mounts, hooks ---- */

struct oci_root {
        char *path; /* required; relative to the bundle or absolute */
        bool readonly;
};

struct oci_id_mapping {
        uint32_t container_id, host_id, size;
};

struct oci_mount {
        char *destination; /* required; absolute (relative accepted for runc compatibility) */
        char *type;        /* may be NULL ("bind" implied by a bind option) */
        char *source;
        char **options;
        struct oci_id_mapping *uid_mappings, *gid_mappings; /* idmapped mounts */
        size_t n_uid_mappings, n_gid_mappings;
};

struct oci_hook {
        char *path; /* required, absolute */
        char **args;
        char **env;
        bool has_timeout;
        int timeout; /* seconds, > 0 */
};

enum oci_hook_kind {
        OCI_HOOK_PRESTART,
        OCI_HOOK_CREATE_RUNTIME,
        OCI_HOOK_CREATE_CONTAINER,
        OCI_HOOK_START_CONTAINER,
        OCI_HOOK_POSTSTART,
        OCI_HOOK_POSTSTOP,
        _OCI_HOOK_KIND_MAX,
};

struct oci_hook_list {
        struct oci_hook *v;
        size_t n;
};

/* ---- linux ---- */

enum oci_ns_type {
        OCI_NS_PID,
        OCI_NS_NETWORK,
        OCI_NS_MOUNT,
        OCI_NS_IPC,
        OCI_NS_UTS,
        OCI_NS_USER,
        OCI_NS_CGROUP,
        OCI_NS_TIME,
        _OCI_NS_MAX,
};

struct oci_namespace {
        enum oci_ns_type type;
        char *path; /* NULL: create a new one */
};

struct oci_device {
        char *path; /* required, absolute */
        char type;  /* 'c', 'b', 'u' or 'p' */
        int64_t major, minor;
        bool has_file_mode, has_uid, has_gid;
        uint32_t file_mode, uid, gid;
};

struct oci_device_cgroup {
        bool allow;
        char type;            /* 'a', 'c' or 'b' ('a' when absent) */
        int64_t major, minor; /* -1: wildcard (absent) */
        char *access;         /* subset of "rwm"; NULL: "rwm" */
};

struct oci_memory {
        bool has_limit, has_reservation, has_swap, has_kernel, has_kernel_tcp, has_swappiness;
        bool has_disable_oom_killer, has_use_hierarchy, has_check_before_update;
        int64_t limit, reservation, swap, kernel, kernel_tcp;
        uint64_t swappiness;
        bool disable_oom_killer, use_hierarchy, check_before_update;
};

struct oci_cpu {
        bool has_shares, has_quota, has_burst, has_period, has_realtime_runtime,
                has_realtime_period, has_idle;
        uint64_t shares, burst, period, realtime_period;
        int64_t quota, realtime_runtime, idle;
        char *cpus, *mems;
};

struct oci_blkio_weight_device {
        int64_t major, minor;
        bool has_weight, has_leaf_weight;
        uint16_t weight, leaf_weight;
};

struct oci_blkio_throttle {
        int64_t major, minor;
        uint64_t rate;
};

enum oci_throttle_kind {
        OCI_THROTTLE_READ_BPS,
        OCI_THROTTLE_WRITE_BPS,
        OCI_THROTTLE_READ_IOPS,
        OCI_THROTTLE_WRITE_IOPS,
        _OCI_THROTTLE_MAX,
};

struct oci_blkio {
        bool has_weight, has_leaf_weight;
        uint16_t weight, leaf_weight;
        struct oci_blkio_weight_device *weight_devices;
        size_t n_weight_devices;
        struct oci_blkio_throttle *throttle[_OCI_THROTTLE_MAX];
        size_t n_throttle[_OCI_THROTTLE_MAX];
};

struct oci_hugepage_limit {
        char *page_size; /* "2MB", "1GB" */
        uint64_t limit;
};

struct oci_net_priority {
        char *name;
        uint32_t priority;
};

struct oci_network_res {
        bool has_class_id;
        uint32_t class_id;
        struct oci_net_priority *priorities;
        size_t n_priorities;
};

struct oci_rdma {
        char *device;
        bool has_hca_handles, has_hca_objects;
        uint32_t hca_handles, hca_objects;
};

struct oci_resources {
        struct oci_device_cgroup *devices;
        size_t n_devices;
        struct oci_memory *memory;
        struct oci_cpu *cpu;
        bool has_pids_limit;
        int64_t pids_limit;
        struct oci_blkio *blkio;
        struct oci_hugepage_limit *hugepage_limits;
        size_t n_hugepage_limits;
        struct oci_network_res *network;
        struct oci_rdma *rdma;
        size_t n_rdma;
        struct oci_kv *unified; /* cgroup v2 file name -> value */
        size_t n_unified;
};

enum oci_seccomp_action {
        OCI_SCMP_ACT_KILL, /* = KILL_THREAD */
        OCI_SCMP_ACT_KILL_PROCESS,
        OCI_SCMP_ACT_KILL_THREAD,
        OCI_SCMP_ACT_TRAP,
        OCI_SCMP_ACT_ERRNO,
        OCI_SCMP_ACT_TRACE,
        OCI_SCMP_ACT_ALLOW,
        OCI_SCMP_ACT_LOG,
        OCI_SCMP_ACT_NOTIFY,
};

enum oci_seccomp_op {
        OCI_SCMP_CMP_NE,
        OCI_SCMP_CMP_LT,
        OCI_SCMP_CMP_LE,
        OCI_SCMP_CMP_EQ,
        OCI_SCMP_CMP_GE,
        OCI_SCMP_CMP_GT,
        OCI_SCMP_CMP_MASKED_EQ,
};

struct oci_seccomp_arg {
        unsigned index; /* 0..5 */
        uint64_t value, value_two;
        enum oci_seccomp_op op;
};

struct oci_seccomp_syscall {
        char **names; /* non-empty */
        enum oci_seccomp_action action;
        bool has_errno_ret;
        uint32_t errno_ret;
        struct oci_seccomp_arg *args;
        size_t n_args;
};

struct oci_seccomp {
        enum oci_seccomp_action default_action;
        bool has_default_errno_ret;
        uint32_t default_errno_ret;
        char **architectures; /* "SCMP_ARCH_X86_64", … */
        char **flags;         /* "SECCOMP_FILTER_FLAG_LOG", … */
        char *listener_path;
        char *listener_metadata;
        struct oci_seccomp_syscall *syscalls;
        size_t n_syscalls;
};

struct oci_time_offset {
        bool present;
        int64_t secs;
        uint32_t nanosecs;
};

struct oci_linux {
        struct oci_namespace *namespaces;
        size_t n_namespaces;
        struct oci_id_mapping *uid_mappings, *gid_mappings;
        size_t n_uid_mappings, n_gid_mappings;
        struct oci_device *devices;
        size_t n_devices;
        char *cgroups_path;
        struct oci_resources *resources;
        struct oci_kv *sysctl;
        size_t n_sysctl;
        struct oci_seccomp *seccomp;
        char *rootfs_propagation; /* "shared", "slave", "private", "unbindable", r* variants */
        char **masked_paths;
        char **readonly_paths;
        char *mount_label;
        struct oci_time_offset boottime, monotonic;
        bool has_intel_rdt;          /* accepted; the runtime reports it unsupported */
        struct json *personality;    /* kept raw: {"domain": "LINUX32", "flags": […]}; domain
                                        checked to be LINUX or LINUX32, flags strings */
};

struct oci_spec {
        char *oci_version; /* required */
        struct oci_root *root;
        struct oci_process *process;
        char *hostname, *domainname;
        struct oci_mount *mounts;
        size_t n_mounts;
        struct oci_hook_list hooks[_OCI_HOOK_KIND_MAX];
        struct oci_kv *annotations;
        size_t n_annotations;
        struct oci_linux *linux_; /* 'linux' is a predefined macro under gnu11 */
};

/* Parse and validate config.json text. */
int oci_spec_parse(const char *buf, size_t len, struct oci_spec **ret, struct berth_error **err);
/* Read <bundle>/config.json (bundle NULL or "": the current directory); errors are
 * prefixed with the file's path. */
int oci_spec_load_bundle(const char *bundle, struct oci_spec **ret, struct berth_error **err);
/* Parse a lone process object (runc exec --process F). */
int oci_process_parse(const char *buf, size_t len, struct oci_process **ret, struct berth_error **err);
void oci_spec_free(struct oci_spec *s);
void oci_process_free(struct oci_process *p);
static inline void oci_spec_freep(struct oci_spec **s)
{
        oci_spec_free(*s);
}
#define _cleanup_oci_spec_ _cleanup_(oci_spec_freep)

/* The default config.json `berth-runtime spec` writes, as runc does (rootless variant too). */
struct json *oci_spec_default(bool rootless);

/* Names of the spec's enumerations. */
const char *oci_ns_type_name(enum oci_ns_type t); /* "pid", "network", … */
int oci_ns_type_from_name(const char *name);      /* -1 when unknown */
const char *oci_hook_kind_name(enum oci_hook_kind k); /* "prestart", "createRuntime", … */
int oci_cap_from_name(const char *name);          /* "CAP_CHOWN" -> 0; -1 when unknown */
const char *oci_cap_name(int cap);                /* NULL when unknown */
int oci_cap_last(void);                           /* highest capability number the table knows */
int oci_rlimit_from_name(const char *name);       /* "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 */
const char *oci_seccomp_action_name(enum oci_seccomp_action a);
int oci_seccomp_action_from_name(const char *name); /* "SCMP_ACT_ERRNO" -> OCI_SCMP_ACT_ERRNO; -1 */
const char *oci_seccomp_op_name(enum oci_seccomp_op op); /* "SCMP_CMP_EQ", … */
int oci_seccomp_op_from_name(const char *name);          /* -1 when unknown */

/* linux.resources alone (what `runc update --resources` reads), checked as the spec's. */
int oci_resources_from_json(const struct json *res, struct oci_resources **ret,
                            struct berth_error **err);
void oci_resources_free(struct oci_resources *rs);

#endif
