/*
 * container.h — the life cycle of one OCI container: create, start, state,
 * kill, delete, run, exec, pause/resume, ps, list.
 *
 * This is the whole interface of the runtime part.  berth-runtime (the
 * runc-compatible CLI) is a thin parser over it, and berthd/berth-shim may
 * call it in-process to save an exec.  Every function works from the state
 * directory <root>/<id>/ (state.json, exec.fifo, a copy of config.json), so
 * the process that creates a container need not be the one that starts,
 * signals or deletes it.
 *
 * A failed create leaves nothing behind: no state dir, no cgroup, no mount
 * (every mount is made inside the container's own mount namespace), no
 * process.  Errors follow base/error.h: one lowercase line naming the thing.
 *
 * Callers: the child of create/exec is cloned like fork() and runs our code
 * (malloc included) until execve, so call these from a single-threaded
 * process (berth-runtime, berth-shim) — in a threaded one another thread may
 * hold a libc lock at the clone.
 *
 * Never: print, exit, or leave the calling process in another namespace.
 */
#ifndef BERTH_RUNTIME_CONTAINER_H
#define BERTH_RUNTIME_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"
#include "oci/runtime-spec.h"

#define BERTH_RUNTIME_DEFAULT_ROOT "/run/berth-runtime"

struct berth_runtime {
        const char *root;    /* state root; NULL: BERTH_RUNTIME_DEFAULT_ROOT */
        bool systemd_cgroup; /* cgroupsPath in systemd's slice:prefix:name syntax */
        /* compiled seccomp programs are reused from (and stored in) this
         * directory; NULL: every create and exec compiles its profile */
        const char *seccomp_cache;
};

struct berth_create_opts {
        const char *bundle;         /* NULL: current directory */
        const char *pid_file;       /* NULL: none */
        const char *console_socket; /* unix socket receiving the pty master (terminal: true) */
        bool no_pivot;              /* MS_MOVE + chroot instead of pivot_root */
        bool no_new_keyring;        /* keep the caller's session keyring */
        unsigned preserve_fds;      /* fds 3 .. 3+N-1 reach the container */
        bool keep;                  /* run only: keep the stopped container (runc run --keep) */
        /* create only, for a caller that keeps the container's terminal itself
         * (berth-shim): with process.terminal and no console_socket, the pty
         * master comes back here instead of through a socket. */
        int *ret_master;
        pid_t *ret_pid; /* create only: the init's pid (optional) */
        /* create only: an fd for berth_exec_status_wait() after start, for a
         * caller that wants to know whether the process's execve succeeded. */
        int *ret_exec_status_fd;
};

/* After start: 0 once the container's process runs (its execve succeeded),
 * else the init's own error ("exec '/x': permission denied").  Closes fd. */
int berth_exec_status_wait(int fd, struct berth_error **err);

enum berth_status {
        BERTH_STATUS_CREATING,
        BERTH_STATUS_CREATED,
        BERTH_STATUS_RUNNING,
        BERTH_STATUS_PAUSED,
        BERTH_STATUS_STOPPED,
};
const char *berth_status_name(enum berth_status s);

/* Validate a container id: not empty, no '/', not "." or "..", printable, <= 1024 bytes. */
int berth_container_id_check(const char *id, struct berth_error **err);

int berth_container_create(const struct berth_runtime *rt, const char *id,
                           const struct berth_create_opts *o, struct berth_error **err);
int berth_container_start(const struct berth_runtime *rt, const char *id, struct berth_error **err);

/*
 * create + start + (unless detach) wait.  Foreground: signals are forwarded to
 * the container's init, a terminal without console socket is proxied to our
 * own stdin/stdout, and *ret_exit receives the shell-style exit status
 * (code, or 128+signal); the container is deleted afterwards.
 */
int berth_container_run(const struct berth_runtime *rt, const char *id,
                        const struct berth_create_opts *o, bool detach, int *ret_exit,
                        struct berth_error **err);

/* OCI state JSON, pretty-printed as runc prints it; *ret malloc'd. */
int berth_container_state_json(const struct berth_runtime *rt, const char *id, char **ret,
                               struct berth_error **err);
int berth_container_status(const struct berth_runtime *rt, const char *id,
                           enum berth_status *ret_status, pid_t *ret_pid, struct berth_error **err);

/* Signal by name ("TERM", "SIGTERM") or number. */
int berth_signal_parse(const char *s, int *ret_sig, struct berth_error **err);
int berth_container_kill(const struct berth_runtime *rt, const char *id, int sig, bool all,
                         struct berth_error **err);
int berth_container_delete(const struct berth_runtime *rt, const char *id, bool force,
                           struct berth_error **err);
/* The same, and *ret_oom_kills: the OOM kills its cgroup counted (read before it goes). */
int berth_container_delete_oom(const struct berth_runtime *rt, const char *id, bool force,
                               uint64_t *ret_oom_kills, struct berth_error **err);
int berth_container_pause(const struct berth_runtime *rt, const char *id, bool pause,
                          struct berth_error **err);
/* New resource limits on a created, running or paused container's cgroup (runc update). */
int berth_container_update(const struct berth_runtime *rt, const char *id,
                           const struct oci_resources *res, struct berth_error **err);
int berth_container_pids(const struct berth_runtime *rt, const char *id, pid_t **ret, size_t *ret_n,
                         struct berth_error **err);

/* Usage counters of the container's cgroup (docker stats), from whichever
 * hierarchy carries each controller; has_* false where the host lacks it.
 * memory_usage includes page cache (docker subtracts inactive_file). */
struct berth_container_stats {
        bool has_cpu, has_memory, has_pids, has_blkio;
        bool v2; /* the memory counters follow cgroup v2's names */
        uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
        uint64_t memory_usage, memory_limit, memory_inactive_file; /* limit UINT64_MAX: none */
        uint64_t memory_oom_kills;
        uint64_t pids_current, pids_limit; /* limit UINT64_MAX: none */
        uint64_t blkio_read_bytes, blkio_write_bytes;
};
int berth_container_stats(const struct berth_runtime *rt, const char *id,
                          struct berth_container_stats *ret, struct berth_error **err);

/* One entry of `list`. */
struct berth_container_info {
        char *id;
        pid_t pid;
        enum berth_status status;
        char *bundle;
        char *created; /* RFC 3339 with nanoseconds */
        char *owner;
};
int berth_container_list(const struct berth_runtime *rt, struct berth_container_info **ret,
                         size_t *ret_n, struct berth_error **err);
void berth_container_info_free(struct berth_container_info *v, size_t n);

struct berth_exec_opts {
        struct oci_process *process; /* full process, or NULL: built from the fields below */
        char **args;                 /* with process == NULL: argv */
        char **env;                  /* appended/overriding */
        const char *cwd;
        const char *user;       /* "uid[:gid]" */
        char **caps;            /* added to bounding, effective and permitted */
        char **additional_gids; /* numbers, replacing the process's */
        bool tty;
        bool no_new_privs;
        const char *console_socket;
        const char *pid_file;
        bool detach;
        unsigned preserve_fds;
        /* With detach, for a caller that monitors the process itself (berth-shim):
         * its pid, and with a terminal and no console_socket its pty master. */
        pid_t *ret_pid;
        int *ret_master;
};
/* Run a process inside a running container; foreground: *ret_exit as for run. */
int berth_container_exec(const struct berth_runtime *rt, const char *id,
                         const struct berth_exec_opts *o, int *ret_exit, struct berth_error **err);

/* A container's cgroup by its cgroupsPath when its state dir is gone (a reboot,
 * a wiped runtime root): what still runs in it is killed and it is removed in
 * every hierarchy.  A cgroup that does not exist is fine. */
int berth_cgroup_remove(const char *cgroups_path, struct berth_error **err);

/*
 * An engine's parent cgroup (an absolute cgroupsPath such as "/berth"), made where it is
 * missing in every hierarchy and held while the engine runs: a container below a parent
 * that exists makes and removes only its own directory (on cgroup v1 and hybrid hosts that
 * is one mkdir, a cpuset copy and one rmdir per hierarchy saved at each start and exit).
 * Released, it is removed wherever nothing is in it (whoever made it: an engine killed
 * before leaves it to the next); a parent still holding containers (they outlive the
 * engine) stays.
 */
struct berth_cgroup;
int berth_cgroup_hold(const char *path, struct berth_cgroup **ret, struct berth_error **err);
void berth_cgroup_release(struct berth_cgroup *held);

/* `runc features` JSON (pretty), malloc'd. */
char *berth_runtime_features_json(void);

#endif
