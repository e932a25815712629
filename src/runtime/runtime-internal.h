/*
 * runtime-internal.h — what the runtime's modules share among themselves
 * (never included outside src/runtime/).
 *
 * struct rt_init is everything the cloned child needs to become the
 * container's init (or an exec'd process): the parsed spec, fds opened by the
 * parent, and the compiled seccomp program.  The child runs our own code
 * between clone and execve (no re-exec of the runtime binary, see ns.c), so it
 * reads these structures directly from its copy of the parent's memory.
 *
 * Sync protocol over a SOCK_SEQPACKET socketpair, one message per packet:
 *   parent -> child  'G'          go on (maps written, cgroup entered, hooks run)
 *   child  -> parent 'H'          about to pivot: run prestart/createRuntime hooks
 *   child  -> parent 'R'          set up; now waiting on exec.fifo (or about to exec)
 *   child  -> parent 'E' <text>   failed; the text is the one-line error
 */
#ifndef BERTH_RUNTIME_INTERNAL_H
#define BERTH_RUNTIME_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"
#include "oci/runtime-spec.h"
#include "runtime/cgroup.h"
#include "runtime/seccomp.h"

#define SYNC_GO      'G'
#define SYNC_HOOKS   'H'
#define SYNC_READY   'R'
#define SYNC_ERROR   'E'
#define SYNC_SECCOMP 'S' /* child -> parent, with the seccomp listener fd (SCM_RIGHTS) */

struct rt_init {
        const char *id;
        const struct oci_spec *spec;
        const struct oci_process *process; /* spec->process, or the exec process */
        const char *rootfs;                /* absolute host path */
        const char *bundle;                /* absolute host path */
        int parent_sync_fd;                /* parent's end: the child closes it */
        bool exec;                         /* joining a running container */
        int sync_fd;                       /* child's end of the socketpair */
        int fifo_fd;                       /* exec.fifo opened O_RDWR (create only) */
        int console_fd;                    /* connected console socket, or -1 */
        int devnull_fd;                    /* host /dev/null (verified 1:3), opened by the child */
        int ns_fds[_OCI_NS_MAX];           /* namespaces to join in the child, or -1 */
        unsigned long new_ns_flags;        /* CLONE_NEW* the child unshares itself */
        bool new_userns; /* cloned into a new user namespace (the parent writes the maps) */
        bool new_netns;  /* a new network namespace: its loopback is brought up, as runc does */
        bool in_userns;
        const int *idmap_fds;
        /* per spec mount: a detached idmapped tree, or -1; or NULL */ /* new or joined: no
                                                                          mknod, sysfs may need
                                                                          a bind */
        bool no_pivot;
        bool inherit_mount_ns; /* no mount namespace in the config: mounts land in ours, chroot */
        bool exec_chroot;      /* exec into such a container: chroot to exec_root_fd */
        int exec_root_fd;
        bool no_new_keyring;
        unsigned preserve_fds;
        const struct berth_seccomp_prog *seccomp;
        bool hooks_before_pivot; /* prestart or createRuntime present */
        char *cgroup_path;       /* for cgroup mounts without a cgroup namespace */
        struct cgroup_join cg_join; /* v1 hierarchies the child moves itself into */
        dev_t self_dev;          /* identity of the runtime binary: never exec'd inside */
        ino_t self_ino;
        char **env; /* final environment */
};

/* sync.c-ish helpers (ns.c) */
int sync_send(int fd, char type, const char *text);
/* Receive one message; returns the type, 0 on EOF, negative errno.  *ret_text malloc'd for 'E'. */
int sync_recv(int fd, char **ret_text);
int sync_recv_fd(int fd, char **ret_text, int *ret_fd);
int sync_expect(int fd, char want, const char *what, struct berth_error **err);
/* Child: load the filter; a listener fd (SCMP_ACT_NOTIFY) is sent to the parent. */
int seccomp_load_child(struct rt_init *ri, struct berth_error **err);
/* Parent: hand a listener fd received from the child to linux.seccomp.listenerPath. */
int seccomp_forward_listener(const struct oci_spec *spec, const char *id, pid_t pid,
                             const char *bundle, int lfd, struct berth_error **err);

/* ns.c */
unsigned long ns_clone_flag(enum oci_ns_type t);
int ns_open_joins(const struct oci_spec *spec, int ret_fds[_OCI_NS_MAX], struct berth_error **err);
/* Clone the child; it runs fn(arg) and _exit()s with its result. ret_pid: host pid. */
int ns_spawn(unsigned long flags, int cgroup_fd, int (*fn)(void *), void *arg, pid_t *ret_pid,
             struct berth_error **err);
int ns_write_id_maps(pid_t pid, const struct oci_linux *l, struct berth_error **err);
int ns_join_all(struct rt_init *ri, struct berth_error **err);
/* Child, in a network namespace of its own: set "lo" up (runc does the same). */
int ns_loopback_up(struct berth_error **err);

/* rootfs.c (child, in its own mount namespace) */
int rootfs_prepare(struct rt_init *ri, int *ret_rootfd, struct berth_error **err);
int rootfs_pivot(struct rt_init *ri, int rootfd, struct berth_error **err);
int rootfs_finish(struct rt_init *ri, struct berth_error **err);
/* Parent: detached idmapped trees (open_tree + MOUNT_ATTR_IDMAP) for mounts asking for one. */
int rootfs_idmap_prepare(const struct oci_spec *s, const char *bundle, int **ret_fds,
                         struct berth_error **err);
void rootfs_detach_host_mounts(const char *rootfs);
/* Open (creating with parents when asked) a path inside root by fd. */
int root_mkdir_p(int rootfd, const char *path, mode_t mode, struct berth_error **err);
int root_open_target(int rootfd, const char *path, bool dir, struct berth_error **err);

/* devices.c */
int devices_setup(struct rt_init *ri, int rootfd, struct berth_error **err);

/* caps.c */
int caps_drop_bounding(const struct oci_capabilities *c, struct berth_error **err);
int caps_apply(const struct oci_capabilities *c, struct berth_error **err);
uint64_t caps_all_mask(void);

/* process.c */
int process_set_user(const struct oci_process *p, struct berth_error **err);
int process_set_rlimits(const struct oci_process *p, struct berth_error **err);
int process_set_oom(const struct oci_process *p, struct berth_error **err);
int process_chdir(const struct oci_process *p, struct berth_error **err);
int process_find_exec(const struct rt_init *ri, char **ret, struct berth_error **err);
int process_mark_fds(unsigned keep_from3, struct berth_error **err);
int process_set_sysctl(const struct oci_linux *l, struct berth_error **err);
char **process_env(const struct oci_process *p, unsigned listen_fds);
int process_set_misc(const struct oci_process *p, struct berth_error **err);
int process_set_sched(const struct oci_process *p, const struct json *personality,
                      struct berth_error **err);

/* console.c */
int console_setup(int console_fd, const struct oci_process *p, bool mount_console,
                  struct berth_error **err);
int console_connect(const char *path, int *ret_fd, struct berth_error **err);
int console_recv_master(int fd, int *ret_master, struct berth_error **err);
/* Proxy our stdin/stdout to the pty master and forward signals to pid until it exits. */
int console_proxy_wait(int master, pid_t pid, int *ret_status, struct berth_error **err);
int wait_forward_signals(pid_t pid, int *ret_status, struct berth_error **err);

/* hooks.c */
/* Run the hooks in order; the first failure fails the call (prestart,
 * createRuntime, createContainer, startContainer). */
int hooks_run(const struct oci_hook_list *l, const char *kind, const char *state_json,
              struct berth_error **err);
/* Run every hook; each failure is a log_warn() line naming the container and the
 * hook, and never stops the others (poststart, poststop: runtime spec). */
void hooks_run_warn(const struct oci_hook_list *l, const char *kind, const char *id,
                    const char *state_json);
char *hooks_state_json(const struct oci_spec *spec, const char *id, const char *status, pid_t pid,
                       const char *bundle);

/* state.c: <root>/<id>/state.json */
struct rt_state {
        char *id;
        pid_t pid;
        uint64_t pid_start; /* /proc/<pid>/stat starttime: tells a reused pid apart */
        char *bundle, *rootfs, *created, *owner;
        struct json *annotations; /* object or NULL */
        struct json *cgroup;      /* cgroup_to_json() */
        bool systemd;
        bool late_hooks; /* poststart or poststop present: config.json copy in the dir */
};
char *state_dir(const char *root, const char *id);
int state_write(const char *dir, const struct rt_state *st, struct berth_error **err);
int state_read(const char *root, const char *id, struct rt_state *ret, struct berth_error **err);
void state_release(struct rt_state *st);
char *state_now_rfc3339(void);

/* container.c, shared with exec.c */
int container_read_config(const char *dir, char **ret_text, size_t *ret_len, struct oci_spec **ret,
                          struct berth_error **err);
int container_write_pid_file(const char *path, pid_t pid, struct berth_error **err);

/* small helpers (process.c) */
uint64_t proc_start_time(pid_t pid);
bool proc_alive(pid_t pid, uint64_t start_time);
/* Gone, a zombie, or on its way out (PF_EXITING: a pid namespace's init waits
 * there for its namespace to empty). */
bool proc_exiting(pid_t pid);

#endif
