/*
 * container-internal.h — what the engine's container files share
 * (container-store.c, container-spec.c, container-run.c, container-exec.c,
 * container-logs.c, container-stats.c, container-json.c).  Not an interface
 * for anything outside src/engine.
 */
#ifndef BERTH_ENGINE_CONTAINER_INTERNAL_H
#define BERTH_ENGINE_CONTAINER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/json.h"
#include "containers.h"
#include "networks.h"

enum ctr_state {
        CTR_CREATED,
        CTR_RUNNING,
        CTR_PAUSED,
        CTR_RESTARTING,
        CTR_REMOVING,
        CTR_EXITED,
        CTR_DEAD,
};
const char *ctr_state_name(enum ctr_state s); /* docker's State.Status words */

struct pending_attach {
        struct pending_attach *next;
        int fd;
        bool in, out, err;
        char *detach_keys;
        char *payload;
        size_t payload_len;
};

/* JSON reading shared by the container-*.c files: a missing key or a value of
 * another type reads as NULL, false, 0. */
static inline struct json *jget(const struct json *j, const char *k)
{
        return json_get(j, k);
}
static inline bool jbool(const struct json *j, const char *k)
{
        const struct json *v = json_get(j, k);
        return json_is(v, JSON_BOOL) && v->b;
}
static inline int64_t jint(const struct json *j, const char *k)
{
        const struct json *v = json_get(j, k);
        if (!json_is(v, JSON_NUMBER))
                return 0;
        return (v->num.flags & JSON_NUM_INT) ? v->num.i : (int64_t)v->num.d;
}
static inline const char *jstr(const struct json *j, const char *k)
{
        return json_str(json_get(j, k));
}

struct berth_ctr {
        unsigned refs; /* under the table lock */
        char id[65];
        char *name; /* "/name" */
        char *image_id;
        char *image_ref; /* as the user named it (Config.Image) */
        int64_t created_ns;
        struct json *config;      /* Docker Config, normalised */
        struct json *host_config; /* Docker HostConfig, normalised */
        struct json *networking;  /* NetworkingConfig (kept for inspect) */
        struct json *mounts;      /* MountPoints (container-mounts.c), under the table lock */
        struct json *net;         /* endpoints and ports while running (network-endpoints.c) */
        char *platform;
        /* state (under the table lock) */
        enum ctr_state state;
        pid_t pid; /* the container's init, 0 when not running */
        pid_t shim_pid;
        uint64_t shim_start;
        int pidfd; /* the shim's, watched by the monitor; -1 */
        int exit_code;
        char *error;
        bool oom_killed;
        int64_t started_ns, finished_ns;
        int restart_count;
        bool manual_stop; /* stopped by the user: no restart (unless-stopped, always) */
        bool boot_start;  /* the pending restart is the daemon's start's: not counted */
        bool has_started;
        char *cgroups_path;    /* the last start's (the daemon's cgroup-parent may change) */
        bool removed;          /* gone from the table */
        int64_t restart_at_ns; /* a restart is scheduled (CLOCK_MONOTONIC) */
        int64_t backoff_ms;
        uint64_t exits;                 /* how many exits seen (waiters for next-exit) */
        struct pending_attach *pending; /* streams waiting for start */
        /* health checks (container-health.c), under the table lock */
        struct json *health;   /* State.Health as dockerd's, NULL before a start with one */
        int64_t health_due_ns; /* next probe (CLOCK_MONOTONIC), 0: none scheduled */
        bool health_probing;
        uint64_t health_gen; /* counted at each start and stop: a probe of an older run is void */
        pthread_mutex_t op_lock;        /* start/stop/kill/remove one at a time */
};

struct ctr_manager {
        pthread_mutex_t lock;
        pthread_cond_t changed; /* broadcast on every state change */
        struct berth_ctr **v;   /* every container, any order */
        size_t n, cap;
        int epfd;    /* monitor: shims' pidfds, exec connections, wake-ups */
        int wake_fd; /* eventfd: timers changed, or stop */
        pthread_t monitor;
        bool monitor_running;
        bool stopping;
        char *runtime_root;  /* <exec-root>/runtime */
        char *seccomp_cache; /* <exec-root>/seccomp-cache: compiled filters */
        char *run_root;      /* <exec-root>/containers */
        char *data_root;
        char *cgroup_parent;    /* the daemon's cgroup-parent (config) */
        struct berth_cgroup *cgroup_held; /* that parent, made and held while berthd runs */
        char *shim_dir;         /* where berth-shim and berth-init are (berthd's own dir) */
        /* removed containers' data dirs are renamed into <data-root>/containers/
         * .trash-<id> and deleted by this thread, off the removal's path */
        pthread_t trash;
        bool trash_running;
        bool trash_pending;       /* under lock: something to delete */
        pthread_cond_t trash_cond; /* with lock */
        /* exited containers' overlays, detached and held (snapshot_detach): the
         * trash thread lets them go together, ROOTFS_HOLD_MS after the first, so
         * that containers exiting one after another cost their upper filesystem
         * one sync between them, not one each, and none on an exit's path */
        struct rootfs_hold {
                char id[65];
                int fd;
        } *holds; /* under lock */
        size_t n_holds, cap_holds;
        unsigned holds_closing; /* under lock: a batch is being let go */
        pthread_t health_thread; /* container-health.c: runs due probes */
        bool health_running;
        unsigned health_probes; /* probe threads running, under lock */
        pthread_cond_t health_cond; /* with lock, on CLOCK_MONOTONIC: probes to schedule */
        struct exec_rec *execs; /* under lock */
        uint64_t exec_seq;      /* under lock: numbers exec records */
};

struct ctr_manager *ctr_mgr(struct berth_engine *e);

/* container-store.c: the table and the records */
void ctr_ref(struct berth_ctr *c); /* under the lock */
int ctr_save(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err);
int ctr_save_state(struct berth_engine *e, struct berth_ctr *c);
int ctr_insert(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err);
int ctr_delete_record(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err);
char *ctr_generate_name(struct berth_engine *e); /* under the lock */
struct berth_ctr *ctr_find_locked(struct ctr_manager *m, const char *ref, int *ret_err);
bool ctr_name_valid(const char *name);
struct json *ctr_state_json(const struct berth_ctr *c);
void ctr_state_from_json(struct berth_ctr *c, const struct json *j);
char *ctr_run_dir(struct ctr_manager *m, const struct berth_ctr *c);
char *ctr_data_dir(struct ctr_manager *m, const struct berth_ctr *c);
int64_t ctr_now_ns(void);
void ctr_format_time(int64_t ns, char out[64]); /* RFC 3339 nano, "0001-01-01T00:00:00Z" for 0 */
void ctr_event(struct berth_engine *e, struct berth_ctr *c, const char *action,
               const char *const *extra);

/* container-spec.c: Docker's create request → stored config; start → OCI spec */
int ctr_normalize_create(struct berth_engine *e, const struct json *body, struct json **ret_config,
                         struct json **ret_host_config, struct json **ret_networking,
                         char **ret_image_id, char ***ret_warnings, struct berth_error **err);
/* The OCI config.json for a start, with the rootfs mounted at rootfs_dir. */
/* The container's resolv.conf into out; *ret_upstreams: the servers behind 127.0.0.11. */
void ctr_resolv_conf(struct berth_engine *e, struct berth_ctr *c, bool net_host,
                     struct berth_buf *out, char ***ret_upstreams);
int ctr_oci_spec(struct berth_engine *e, struct berth_ctr *c, const char *rootfs_dir,
                 const char *data_dir, struct json **ret, struct berth_error **err);
/* A create's checks of HostConfig (-EINVAL with dockerd's words); update checks the merged one. */
int ctr_check_host_config(const struct json *hc, struct berth_error **err);
/* HostConfig's resources and devices into the config's linux object (container-resources.c). */
int ctr_spec_resources(const struct json *hc, struct json *linux_, struct berth_error **err);
/* The container's cgroupsPath: HostConfig.CgroupParent (default /berth) + "/" + id. */
char *ctr_cgroups_path(struct ctr_manager *m, const struct berth_ctr *c);
/* Signal by docker's names ("SIGTERM", "TERM", "15"); -EINVAL with docker's text. */
int ctr_parse_signal(const char *s, int *ret, struct berth_error **err);
/* An exec's user resolved in the container's root as its own is: "uid:gid" and the
 * supplementary groups (container-spec.c). */
int ctr_exec_user(int rootfd, const char *spec, char **ret_user, char ***ret_gids,
                  struct berth_error **err);

/* container-run.c */
int ctr_shim_connect(struct ctr_manager *m, struct berth_ctr *c, struct berth_error **err);
/* One request to the shim (on a connection of its own); fd handed over when >= 0. */
int ctr_shim_call(struct ctr_manager *m, struct berth_ctr *c, const struct json *req, int fd,
                  const void *payload, size_t payload_len, struct json **ret_reply, int *ret_conn,
                  struct berth_error **err);
void ctr_monitor_wake(struct ctr_manager *m);
/* Watch an exec's shim connection; its events reach ctr_exec_conn_event(seq). */
void ctr_monitor_watch(struct ctr_manager *m, int fd, uint64_t exec_seq);

/* container-archive.c: the image's layers, bottom first, by chain id */
int ctr_image_chain_ids(struct berth_engine *e, const char *image_id, char ***ret, size_t *ret_n,
                        struct berth_error **err);

/* container-mounts.c: the mount points, resolved at create (the volumes they name made;
 * the caller holds the volumes lock), prepared at start, released at stop */
int ctr_resolve_mounts(struct berth_engine *e, const struct json *cfg, const struct json *hc,
                       struct json **ret, struct berth_error **err);
/* A record from before MountPoints were kept: its HostConfig.Mounts binds. */
struct json *ctr_legacy_mounts(const struct json *hc);
/* Removes the anonymous volumes of these mount points (volumes lock held). */
void ctr_forget_anonymous(struct berth_engine *e, const struct json *mps);
int ctr_prepare_mounts(struct berth_engine *e, struct berth_ctr *c, const char *rootfs,
                       struct berth_error **err);
void ctr_release_mounts(struct berth_engine *e, struct berth_ctr *c);
/* The overlay of container id's last run, if still held, goes now: before a new
 * one over its directories. */
void ctr_rootfs_release(struct ctr_manager *m, const char *id);
/* A running container found at daemon start holds its volumes again. */
void ctr_reacquire_mounts(struct berth_engine *e, struct berth_ctr *c);
/* volume mount/unmount events, as dockerd sends them at start and stop */
void ctr_volume_events(struct berth_engine *e, struct berth_ctr *c, bool mount);
void ctr_user_mounts(const struct berth_ctr *c, struct json *oci_mounts);
/* Whether it has volumes or binds; those mounted on their destinations in the root at rootfd
 * (in the caller's own mount namespace), parents first (cp on a stopped container). */
bool ctr_has_mount_points(const struct berth_ctr *c);
int ctr_mount_points_at(struct berth_ctr *c, int rootfd, struct berth_error **err);
/* inspect's and list's Mounts */
struct json *ctr_mounts_json(const struct berth_ctr *c);

/* container-health.c: Config.Healthcheck checked at create (-EINVAL, dockerd's words);
 * probes scheduled from each start, ended at each stop */
int ctr_health_check_config(const struct json *healthcheck, struct berth_error **err);
void ctr_health_init(struct ctr_manager *m); /* before any container is loaded */
int ctr_health_open(struct berth_engine *e, struct berth_error **err); /* the thread */
void ctr_health_close(struct berth_engine *e);
void ctr_health_started(struct berth_engine *e, struct berth_ctr *c);
void ctr_health_stopped_locked(struct berth_ctr *c);
/* "starting", "healthy", "unhealthy", or NULL without a health check */
const char *ctr_health_status_locked(const struct berth_ctr *c);

/* container-exec.c: exec connections readable in the monitor */
struct exec_rec;
void ctr_exec_conn_event(struct berth_engine *e, uint64_t exec_seq);
void ctr_exec_container_gone(struct berth_engine *e, struct berth_ctr *c);
/* The container is removed: its exec records go. */
void ctr_exec_forget(struct berth_engine *e, struct berth_ctr *c);
/* One exec record goes (a health probe's, once its result is read). */
void ctr_exec_drop(struct berth_engine *e, const char *exec_id);

#endif
