/*
 * ops.c — what later runtime processes do to a container made by create:
 * state, kill, delete, pause/resume, ps, list, and the `features` document.
 *
 * How: everything starts from state.json (state.c).  Status is derived, not
 * stored: "stopped" when the recorded pid no longer runs with the recorded
 * start time, "created" while the exec fifo still exists, "paused" when the
 * cgroup is frozen, else "running".  Signals go through a pidfd, so a pid
 * recycled after the init died is never signalled.  delete kills what is
 * left (cgroup_kill_all), waits for the init to go, destroys the cgroup,
 * runs poststop hooks and removes the state dir.
 *
 * Never: signal a process that is not the container's; remove a state dir
 * of a container that still runs (without --force).
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "base/fileio.h"
#include "runtime/container.h"
#include "runtime/runtime-internal.h"

static const char *rt_root(const struct berth_runtime *rt)
{
        return rt && rt->root ? rt->root : BERTH_RUNTIME_DEFAULT_ROOT;
}

static int load_cgroup(const struct rt_state *st, struct berth_cgroup **ret,
                       struct berth_error **err)
{
        *ret = NULL;
        if (!st->cgroup)
                return 0;
        return cgroup_from_json(st->cgroup, ret, err);
}

static enum berth_status status_of(const char *root, const struct rt_state *st)
{
        if (!proc_alive(st->pid, st->pid_start))
                return BERTH_STATUS_STOPPED;
        _cleanup_free_ char *fifo = xasprintf("%s/%s/exec.fifo", root, st->id);
        if (access(fifo, F_OK) == 0)
                return BERTH_STATUS_CREATED;
        _cleanup_cgroup_ struct berth_cgroup *cg = NULL;
        struct berth_error *e = NULL;
        bool frozen = false;
        if (load_cgroup(st, &cg, &e) == 0 && cg && cgroup_is_frozen(cg, &frozen, &e) == 0 &&
            frozen) {
                berth_error_free(e);
                return BERTH_STATUS_PAUSED;
        }
        berth_error_free(e);
        return BERTH_STATUS_RUNNING;
}

int berth_container_status(const struct berth_runtime *rt, const char *id,
                           enum berth_status *ret_status, pid_t *ret_pid, struct berth_error **err)
{
        struct rt_state st;
        int r = state_read(rt_root(rt), id, &st, err);
        if (r < 0)
                return r;
        *ret_status = status_of(rt_root(rt), &st);
        if (ret_pid)
                *ret_pid = *ret_status == BERTH_STATUS_STOPPED ? 0 : st.pid;
        state_release(&st);
        return 0;
}

int berth_container_state_json(const struct berth_runtime *rt, const char *id, char **ret,
                               struct berth_error **err)
{
        struct rt_state st;
        int r = state_read(rt_root(rt), id, &st, err);
        if (r < 0)
                return r;
        enum berth_status s = status_of(rt_root(rt), &st);
        _cleanup_json_ struct json *j = json_new_object();
        json_set_str(j, "ociVersion", OCI_RUNTIME_SPEC_VERSION);
        json_set_str(j, "id", st.id);
        json_set_int(j, "pid", s == BERTH_STATUS_STOPPED ? 0 : st.pid);
        json_set_str(j, "status", berth_status_name(s));
        json_set_str(j, "bundle", st.bundle);
        json_set_str(j, "rootfs", st.rootfs);
        json_set_str(j, "created", st.created);
        if (st.annotations)
                json_object_set(j, "annotations", json_copy(st.annotations));
        json_set_str(j, "owner", st.owner ? st.owner : "");
        *ret = json_dump(j, JSON_DUMP_PRETTY);
        state_release(&st);
        return 0;
}

static const struct {
        const char *name;
        int sig;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

int berth_signal_parse(const char *s, int *ret_sig, struct berth_error **err)
{
        uint64_t n;
        if (parse_u64(s, &n) == 0) {
                if (n == 0 || n >= (uint64_t)NSIG)
                        return berth_error_set(err, EINVAL, "invalid signal '%s'", s);
                *ret_sig = (int)n;
                return 0;
        }
        const char *name = !strncasecmp(s, "SIG", 3) ? s + 3 : s;
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                if (!strcasecmp(name, signals[i].name)) {
                        *ret_sig = signals[i].sig;
                        return 0;
                }
        if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
                int64_t off = 0;
                const char *o = name + 5 + (name[5] == '+');
                if (name[5] && parse_i64(o, &off) < 0)
                        return berth_error_set(err, EINVAL, "invalid signal '%s'", s);
                int sig = (toupper(name[3]) == 'I' ? SIGRTMIN : SIGRTMAX) + (int)off;
                if (sig < SIGRTMIN || sig > SIGRTMAX)
                        return berth_error_set(err, EINVAL, "invalid signal '%s'", s);
                *ret_sig = sig;
                return 0;
        }
        return berth_error_set(err, EINVAL, "invalid signal '%s'", s);
}

static int signal_init(const struct rt_state *st, int sig, struct berth_error **err)
{
        int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
        if (pidfd < 0)
                return berth_error_set(err, ESRCH, "container '%s' is not running", st->id);
        int r = 0;
        /* the pidfd pins the process: check it is still our init, then signal */
        if (!proc_alive(st->pid, st->pid_start))
                r = berth_error_set(err, ESRCH, "container '%s' is not running", st->id);
        else if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
                r = berth_error_sys(err, errno, "signal container '%s'", st->id);
        close(pidfd);
        return r;
}

int berth_container_kill(const struct berth_runtime *rt, const char *id, int sig, bool all,
                         struct berth_error **err)
{
        struct rt_state st;
        int r = state_read(rt_root(rt), id, &st, err);
        if (r < 0)
                return r;
        enum berth_status s = status_of(rt_root(rt), &st);
        if (s == BERTH_STATUS_STOPPED && !all) {
                r = berth_error_set(err, ESRCH, "container '%s' is not running", id);
        } else if (all) {
                _cleanup_cgroup_ struct berth_cgroup *cg = NULL;
                r = load_cgroup(&st, &cg, err);
                if (r == 0 && cg)
                        r = cgroup_kill_all(cg, sig, err);
                else if (r == 0 && s != BERTH_STATUS_STOPPED)
                        r = signal_init(&st, sig, err);
        } else {
                r = signal_init(&st, sig, err);
        }
        state_release(&st);
        return r;
}

/* Wait up to timeout_ms for the init to be gone (it is usually not our child). */
static bool wait_gone(const struct rt_state *st, int timeout_ms)
{
        int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
        if (pidfd < 0)
                return true;
        bool gone = false;
        if (!proc_alive(st->pid, st->pid_start)) {
                gone = true;
        } else {
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                gone = poll(&p, 1, timeout_ms) > 0;
        }
        /* reap it if it happens to be our child (run, or create in-process) */
        (void)waitpid(st->pid, NULL, WNOHANG);
        close(pidfd);
        return gone;
}

int berth_container_delete(const struct berth_runtime *rt, const char *id, bool force,
                           struct berth_error **err)
{
        return berth_container_delete_oom(rt, id, force, NULL, err);
}

int berth_container_delete_oom(const struct berth_runtime *rt, const char *id, bool force,
                               uint64_t *ret_oom_kills, struct berth_error **err)
{
        if (ret_oom_kills)
                *ret_oom_kills = 0;
        struct rt_state st;
        struct berth_error *rerr = NULL;
        int r = state_read(rt_root(rt), id, &st, &rerr);
        if (r == -ENOENT && force && berth_container_id_check(id, NULL) == 0) {
                /* a create that died before writing state.json: nothing runs, clear the dir */
                _cleanup_free_ char *d = state_dir(rt_root(rt), id);
                if (access(d, F_OK) == 0) {
                        berth_error_free(rerr);
                        r = rm_rf(d);
                        return r < 0 ? berth_error_sys(err, -r, "remove state dir '%s'", d) : 0;
                }
        }
        if (r < 0) {
                if (err && !*err)
                        *err = rerr;
                else
                        berth_error_free(rerr);
                return r;
        }
        _cleanup_free_ char *dir = state_dir(rt_root(rt), id);
        enum berth_status s = status_of(rt_root(rt), &st);
        if ((s == BERTH_STATUS_RUNNING || s == BERTH_STATUS_PAUSED) && !force) {
                r = berth_error_set(err, EBUSY,
                                    "cannot delete container '%s' that is not stopped: %s", id,
                                    berth_status_name(s));
                state_release(&st);
                return r;
        }
        _cleanup_cgroup_ struct berth_cgroup *cg = NULL;
        struct berth_error *cgerr = NULL;
        (void)load_cgroup(&st, &cg, &cgerr);
        berth_error_free(cgerr);
        cgerr = NULL;
        if (ret_oom_kills && cg)
                *ret_oom_kills = cgroup_oom_kills(cg);
        if (s != BERTH_STATUS_STOPPED) {
                if (cg)
                        (void)cgroup_kill_all(cg, SIGKILL, &cgerr);
                berth_error_free(cgerr);
                cgerr = NULL;
                int pidfd = (int)syscall(SYS_pidfd_open, st.pid, 0);
                if (pidfd >= 0) {
                        if (proc_alive(st.pid, st.pid_start))
                                (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                        close(pidfd);
                }
                if (!wait_gone(&st, 10000)) {
                        r = berth_error_set(err, EBUSY, "container '%s': init did not die", id);
                        state_release(&st);
                        return r;
                }
        } else {
                (void)waitpid(st.pid, NULL, WNOHANG);
        }
        if (cg) {
                r = cgroup_destroy(cg, err);
                if (r < 0) {
                        state_release(&st);
                        return berth_error_prefix(err, "delete '%s'", id);
                }
        }
        if (st.late_hooks) {
                _cleanup_free_ char *cfg = xasprintf("%s/config.json", dir);
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                struct oci_spec *spec = NULL;
                struct berth_error *e = NULL;
                if (read_file_at(AT_FDCWD, cfg, OCI_CONFIG_MAX_SIZE, &text, &len) == 0 &&
                    oci_spec_parse(text, len, &spec, &e) == 0) {
                        _cleanup_free_ char *sj =
                            hooks_state_json(spec, id, "stopped", 0, st.bundle);
                        /* runtime spec: warn, run the rest, and delete goes on */
                        hooks_run_warn(&spec->hooks[OCI_HOOK_POSTSTOP], "poststop", id, sj);
                }
                berth_error_free(e);
                oci_spec_free(spec);
        }
        state_release(&st);
        _cleanup_free_ char *hm = xasprintf("%s/host-mounts", dir);
        _cleanup_free_ char *host_rootfs = NULL;
        if (read_file_at(AT_FDCWD, hm, PATH_MAX, &host_rootfs, NULL) == 0)
                rootfs_detach_host_mounts(host_rootfs);
        r = rm_rf(dir);
        if (r < 0)
                return berth_error_sys(err, -r, "remove state dir '%s'", dir);
        return 0;
}

int berth_container_pause(const struct berth_runtime *rt, const char *id, bool pause,
                          struct berth_error **err)
{
        struct rt_state st;
        int r = state_read(rt_root(rt), id, &st, err);
        if (r < 0)
                return r;
        enum berth_status s = status_of(rt_root(rt), &st);
        _cleanup_cgroup_ struct berth_cgroup *cg = NULL;
        if (pause && s != BERTH_STATUS_RUNNING && s != BERTH_STATUS_CREATED)
                r = berth_error_set(err, EINVAL, "container '%s' is not running", id);
        else if (!pause && s != BERTH_STATUS_PAUSED)
                r = berth_error_set(err, EINVAL, "container '%s' is not paused", id);
        if (r == 0)
                r = load_cgroup(&st, &cg, err);
        if (r == 0 && !cg)
                r = berth_error_set(err, ENOTSUP, "container '%s' has no cgroup", id);
        if (r == 0)
                r = cgroup_freeze(cg, pause, err);
        state_release(&st);
        return r;
}

int berth_container_update(const struct berth_runtime *rt, const char *id,
                           const struct oci_resources *res, struct berth_error **err)
{
        struct rt_state st;
        int r = state_read(rt_root(rt), id, &st, err);
        if (r < 0)
                return r;
        _cleanup_cgroup_ struct berth_cgroup *cg = NULL;
        if (status_of(rt_root(rt), &st) == BERTH_STATUS_STOPPED)
                r = berth_error_set(err, EINVAL, "container '%s' is not running", id);
        if (r == 0)
                r = load_cgroup(&st, &cg, err);
        if (r == 0 && !cg)
                r = berth_error_set(err, ENOTSUP, "container '%s' has no cgroup", id);
        if (r == 0)
                r = cgroup_update(cg, res, err);
        state_release(&st);
        return r;
}

int berth_container_pids(const struct berth_runtime *rt, const char *id, pid_t **ret, size_t *ret_n,
                         struct berth_error **err)
{
        struct rt_state st;
        int r = state_read(rt_root(rt), id, &st, err);
        if (r < 0)
                return r;
        _cleanup_cgroup_ struct berth_cgroup *cg = NULL;
        r = load_cgroup(&st, &cg, err);
        if (r == 0 && !cg)
                r = berth_error_set(err, ENOTSUP, "container '%s' has no cgroup", id);
        if (r == 0)
                r = cgroup_pids(cg, ret, ret_n, err);
        state_release(&st);
        return r;
}

int berth_container_stats(const struct berth_runtime *rt, const char *id,
                          struct berth_container_stats *ret, struct berth_error **err)
{
        struct rt_state st;
        int r = state_read(rt_root(rt), id, &st, err);
        if (r < 0)
                return r;
        _cleanup_cgroup_ struct berth_cgroup *cg = NULL;
        r = load_cgroup(&st, &cg, err);
        if (r == 0 && !cg)
                r = berth_error_set(err, ENOTSUP, "container '%s' has no cgroup", id);
        struct cgroup_stats cs = {0};
        if (r == 0)
                r = cgroup_stats(cg, &cs, err);
        if (r == 0)
                *ret = (struct berth_container_stats){
                    .has_cpu = cs.has_cpu,
                    .has_memory = cs.has_memory,
                    .has_pids = cs.has_pids,
                    .has_blkio = cs.has_blkio,
                    .cpu_usage_ns = cs.cpu_usage_ns,
                    .cpu_user_ns = cs.cpu_user_ns,
                    .cpu_system_ns = cs.cpu_system_ns,
                    .memory_usage = cs.memory_usage,
                    .memory_limit = cs.memory_limit,
                    .memory_inactive_file = cs.memory_inactive_file,
                    .memory_oom_kills = cs.memory_oom_kills,
                    .pids_current = cs.pids_current,
                    .pids_limit = cs.pids_limit,
                    .blkio_read_bytes = cs.blkio_read_bytes,
                    .blkio_write_bytes = cs.blkio_write_bytes,
                    .v2 = cgroup_get_mode(cg) == CGROUP_MODE_V2,
                };
        state_release(&st);
        return r;
}

static int info_cmp(const void *a, const void *b)
{
        return strcmp(((const struct berth_container_info *)a)->id,
                      ((const struct berth_container_info *)b)->id);
}

int berth_container_list(const struct berth_runtime *rt, struct berth_container_info **ret,
                         size_t *ret_n, struct berth_error **err)
{
        const char *root = rt_root(rt);
        *ret = NULL;
        *ret_n = 0;
        _cleanup_closedir_ DIR *d = opendir(root);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return berth_error_sys(err, errno, "list '%s'", root);
        }
        struct berth_container_info *v = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                struct rt_state st;
                if (state_read(root, de->d_name, &st, NULL) < 0)
                        continue;
                v = xrealloc(v, (n + 1) * sizeof(*v));
                enum berth_status s = status_of(root, &st);
                v[n++] = (struct berth_container_info){
                    .id = xstrdup(st.id),
                    .pid = s == BERTH_STATUS_STOPPED ? 0 : st.pid,
                    .status = s,
                    .bundle = xstrdup(st.bundle),
                    .created = xstrdup(st.created ? st.created : ""),
                    .owner = xstrdup(st.owner ? st.owner : ""),
                };
                state_release(&st);
        }
        if (n)
                qsort(v, n, sizeof(*v), info_cmp);
        *ret = v;
        *ret_n = n;
        return 0;
}

void berth_container_info_free(struct berth_container_info *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].id);
                free(v[i].bundle);
                free(v[i].created);
                free(v[i].owner);
        }
        free(v);
}

static struct json *strv_json(const char *const *v)
{
        struct json *a = json_new_array();
        for (size_t i = 0; v[i]; i++)
                json_array_append(a, json_new_string(v[i]));
        return a;
}

char *berth_runtime_features_json(void)
{
        static const char *const hooks[] = {"prestart",
                                            "createRuntime",
                                            "createContainer",
                                            "startContainer",
                                            "poststart",
                                            "poststop",
                                            NULL};
        static const char *const mount_opts[] = {"async",      "atime",       "bind",
                                                 "defaults",   "dev",         "diratime",
                                                 "dirsync",    "idmap",       "ridmap",
                                                 "exec",       "lazytime",    "loud",
                                                 "mand",       "noatime",     "nodev",
                                                 "nodiratime", "noexec",      "nolazytime",
                                                 "nomand",     "norelatime",  "nostrictatime",
                                                 "nosuid",     "private",     "rbind",
                                                 "relatime",   "remount",     "ro",
                                                 "rprivate",   "rro",         "rrw",
                                                 "rnosuid",    "rnodev",      "rnoexec",
                                                 "rshared",    "rslave",      "runbindable",
                                                 "rw",         "shared",      "silent",
                                                 "slave",      "strictatime", "suid",
                                                 "sync",       "tmpcopyup",   "unbindable",
                                                 NULL};
        static const char *const ns[] = {"cgroup", "ipc",  "mount", "network", "pid",
                                         "time",   "user", "uts",   NULL};
        static const char *const actions[] = {"SCMP_ACT_ALLOW",       "SCMP_ACT_ERRNO",
                                              "SCMP_ACT_KILL",        "SCMP_ACT_KILL_PROCESS",
                                              "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                                              "SCMP_ACT_NOTIFY",      "SCMP_ACT_TRACE",
                                              "SCMP_ACT_TRAP",        NULL};
        static const char *const ops[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                          "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                                          "SCMP_CMP_NE", NULL};
        static const char *const archs[] = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
                                            "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
                                            "SCMP_ARCH_ARM", NULL};
        static const char *const sflags[] = {"SECCOMP_FILTER_FLAG_LOG",
                                             "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                             "SECCOMP_FILTER_FLAG_TSYNC", NULL};
        struct json *j = json_new_object();
        json_set_str(j, "ociVersionMin", "1.0.0");
        json_set_str(j, "ociVersionMax", OCI_RUNTIME_SPEC_VERSION);
        json_object_set(j, "hooks", strv_json(hooks));
        json_object_set(j, "mountOptions", strv_json(mount_opts));
        struct json *l = json_object_set(j, "linux", json_new_object());
        json_object_set(l, "namespaces", strv_json(ns));
        struct json *caps = json_object_set(l, "capabilities", json_new_array());
        for (int c = 0; c <= oci_cap_last(); c++)
                if (oci_cap_name(c))
                        json_array_append(caps, json_new_string(oci_cap_name(c)));
        struct json *cg = json_object_set(l, "cgroup", json_new_object());
        json_set_bool(cg, "v1", true);
        json_set_bool(cg, "v2", true);
        json_set_bool(cg, "systemd", false);
        json_set_bool(cg, "systemdUser", false);
        json_set_bool(cg, "rdma", false);
        struct json *sc = json_object_set(l, "seccomp", json_new_object());
        json_set_bool(sc, "enabled", true);
        json_object_set(sc, "actions", strv_json(actions));
        json_object_set(sc, "operators", strv_json(ops));
        json_object_set(sc, "archs", strv_json(archs));
        json_object_set(sc, "knownFlags", strv_json(sflags));
        json_object_set(sc, "supportedFlags", strv_json(sflags));
        struct json *aa = json_object_set(l, "apparmor", json_new_object());
        json_set_bool(aa, "enabled", access("/sys/module/apparmor", F_OK) == 0);
        struct json *se = json_object_set(l, "selinux", json_new_object());
        json_set_bool(se, "enabled", access("/sys/fs/selinux", F_OK) == 0);
        struct json *ann = json_object_set(j, "annotations", json_new_object());
        json_set_str(ann, "org.opencontainers.runc.checkpoint.enabled", "false");
        json_set_str(ann, "io.github.berth.runtime.version", BERTH_VERSION);
        char *s = json_dump(j, JSON_DUMP_PRETTY);
        json_free(j);
        return s;
}

int berth_cgroup_remove(const char *cgroups_path, struct berth_error **err)
{
        return cgroup_remove_path(cgroups_path, err);
}

int berth_cgroup_hold(const char *path, struct berth_cgroup **ret, struct berth_error **err)
{
        return cgroup_create(path, NULL, NULL, false, ret, err);
}

void berth_cgroup_release(struct berth_cgroup *held)
{
        cgroup_release_empty(held);
}
