/*
 * exec.c — `exec`: one more process inside a running container.
 *
 * How: the process is the container's own process object from the copy of
 * config.json in the state dir, with the exec's args, env, cwd, user, caps,
 * terminal and no_new_privs laid over it (or a whole process from
 * --process).  The parent opens /proc/<init>/ns/<type> for every namespace that
 * differs from its own, joins the pid and time namespaces around the clone
 * (they apply to children), and clones a child straight into the
 * container's cgroup (CLONE_INTO_CGROUP for the v2 tree; the child moves
 * itself into each v1 hierarchy first thing, cgroup_join_self()).  The child joins the user namespace first and the mount
 * namespace last, then does what the init did: terminal, cwd resolved inside
 * the root, rlimits, seccomp, capabilities, user, no_new_privs, fds, execve.
 * It is non-dumpable until execve (see ns.c), so the container cannot reach
 * the runtime binary through it.
 *
 * Never: leave the caller in the container's namespaces; let the exec'd
 * process see any fd of ours.
 */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/fileio.h"
#include "runtime/container.h"
#include "runtime/runtime-internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *proc_ns_name(enum oci_ns_type t)
{
        static const char *const names[_OCI_NS_MAX] = {
            [OCI_NS_PID] = "pid",       [OCI_NS_NETWORK] = "net", [OCI_NS_MOUNT] = "mnt",
            [OCI_NS_IPC] = "ipc",       [OCI_NS_UTS] = "uts",     [OCI_NS_USER] = "user",
            [OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
        };
        return names[t];
}

/* A container made without a mount namespace shares ours and lives chrooted in
 * it: an exec must chroot to the same directory.  -1 if its root is ours. */
static int open_shared_mount_ns_root(pid_t pid, int *ret_fd, struct berth_error **err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
        _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat a, b;
        if (fd < 0 || fstat(fd, &a) < 0)
                return berth_error_sys(err, errno, "open root of pid %d", (int)pid);
        if (stat("/", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                *ret_fd = -1;
        else
                *ret_fd = TAKE_FD(fd);
        return 0;
}

static int open_container_ns(pid_t pid, int fds[_OCI_NS_MAX], struct berth_error **err)
{
        for (int t = 0; t < _OCI_NS_MAX; t++) {
                fds[t] = -1;
                char theirs[64], ours[64];
                snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)pid, proc_ns_name(t));
                snprintf(ours, sizeof(ours), "/proc/self/ns/%s", proc_ns_name(t));
                struct stat a, b;
                if (stat(theirs, &a) < 0) {
                        if (errno == ENOENT)
                                continue; /* kernel without this namespace type */
                        return berth_error_sys(err, errno, "open %s namespace of pid %d",
                                               proc_ns_name(t), (int)pid);
                }
                if (stat(ours, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
                        continue;
                fds[t] = open(theirs, O_RDONLY | O_CLOEXEC);
                if (fds[t] < 0)
                        return berth_error_sys(err, errno, "open %s namespace of pid %d",
                                               proc_ns_name(t), (int)pid);
        }
        return 0;
}

/* Look a user or group name up in the container's /etc/passwd or /etc/group. */
static int lookup_id(int rootfd, const char *file, const char *name, uint32_t *ret_id,
                     uint32_t *ret_gid)
{
        int fd = open_in_root(rootfd, file, O_RDONLY, 0);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *text = NULL;
        int r = read_full_fd(fd, 1 << 22, &text, NULL);
        close(fd);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[4] = {0};
                char *s2 = l;
                for (int k = 0; k < 4 && s2; k++) {
                        f[k] = s2;
                        s2 = strchr(s2, ':');
                        if (s2)
                                *s2++ = '\0';
                }
                if (!f[0] || strcmp(f[0], name) || !f[2])
                        continue;
                *ret_id = (uint32_t)strtoul(f[2], NULL, 10);
                if (ret_gid && f[3])
                        *ret_gid = (uint32_t)strtoul(f[3], NULL, 10);
                return 0;
        }
        return -ENOENT;
}

static int parse_user(pid_t pid, const char *spec, struct oci_user *u, struct berth_error **err)
{
        _cleanup_free_ char *s = xstrdup(spec);
        char *colon = strchr(s, ':');
        if (colon)
                *colon++ = '\0';
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
        _cleanup_close_ int rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        uint64_t v;
        u->n_additional_gids = 0;
        u->additional_gids = NULL;
        if (parse_u64(s, &v) == 0 && v <= UINT32_MAX) {
                u->uid = (uint32_t)v;
                u->gid = colon ? u->gid : 0;
        } else {
                uint32_t gid = 0;
                if (rootfd < 0 || lookup_id(rootfd, "/etc/passwd", s, &u->uid, &gid) < 0)
                        return berth_error_set(err, ENOENT,
                                               "unable to find user %s: no matching entries in "
                                               "passwd file",
                                               s);
                u->gid = gid;
        }
        if (colon) {
                if (parse_u64(colon, &v) == 0 && v <= UINT32_MAX)
                        u->gid = (uint32_t)v;
                else if (rootfd < 0 || lookup_id(rootfd, "/etc/group", colon, &u->gid, NULL) < 0)
                        return berth_error_set(err, ENOENT,
                                               "unable to find group %s: no matching entries in "
                                               "group file",
                                               colon);
        }
        return 0;
}

/* The exec's process: the container's, overlaid with the exec options.  Pointers
 * in *p belong to base or to *owned_env/owned_caps; nothing here frees base. */
static int build_process(pid_t pid, const struct oci_process *base, const struct berth_exec_opts *o,
                         struct oci_process *p, struct oci_capabilities *caps, char ***owned_env,
                         uint32_t **owned_gids, struct berth_error **err)
{
        *p = *base;
        p->args = o->args;
        p->terminal = o->tty;
        p->has_console_size = false;
        if (o->cwd)
                p->cwd = (char *)o->cwd;
        if (o->no_new_privs)
                p->no_new_privileges = true;
        size_t nb = 0, ne = 0;
        while (base->env && base->env[nb])
                nb++;
        while (o->env && o->env[ne])
                ne++;
        char **env = xcalloc(nb + ne + 1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; i < nb; i++) {
                size_t kl = strcspn(base->env[i], "=");
                bool overridden = false;
                for (size_t k = 0; k < ne; k++)
                        if (!strncmp(o->env[k], base->env[i], kl) && o->env[k][kl] == '=')
                                overridden = true;
                if (!overridden)
                        env[n++] = base->env[i];
        }
        for (size_t k = 0; k < ne; k++)
                env[n++] = o->env[k];
        env[n] = NULL;
        *owned_env = env;
        p->env = env;
        if (o->user) {
                int r = parse_user(pid, o->user, &p->user, err);
                if (r < 0)
                        return r;
        }
        if (o->additional_gids && o->additional_gids[0]) {
                size_t n_g = 0;
                while (o->additional_gids[n_g])
                        n_g++;
                uint32_t *g = xcalloc(n_g, sizeof(uint32_t));
                *owned_gids = g;
                for (size_t i = 0; i < n_g; i++) {
                        uint64_t v;
                        if (parse_u64(o->additional_gids[i], &v) < 0 || v > UINT32_MAX)
                                return berth_error_set(err, EINVAL,
                                                       "additional gid '%s': not a number",
                                                       o->additional_gids[i]);
                        g[i] = (uint32_t)v;
                }
                p->user.additional_gids = g;
                p->user.n_additional_gids = n_g;
        }
        if (o->caps && o->caps[0]) {
                if (base->capabilities)
                        *caps = *base->capabilities;
                else
                        memset(caps, 0, sizeof(*caps));
                for (size_t i = 0; o->caps[i]; i++) {
                        int c = oci_cap_from_name(o->caps[i]);
                        if (c < 0)
                                return berth_error_set(err, EINVAL, "unknown capability '%s'",
                                                       o->caps[i]);
                        static const enum oci_cap_set sets[] = {OCI_CAP_BOUNDING, OCI_CAP_EFFECTIVE,
                                                                OCI_CAP_PERMITTED};
                        for (size_t k = 0; k < ELEMENTSOF(sets); k++) {
                                caps->set[sets[k]] |= 1ULL << c;
                                caps->has[sets[k]] = true;
                        }
                }
                p->capabilities = caps;
        }
        return 0;
}

static int exec_child_setup(struct rt_init *ri, char **ret_path, struct berth_error **err)
{
        int t = sync_recv(ri->sync_fd, NULL);
        if (t != SYNC_GO)
                return berth_error_set(err, EIO, "exec: parent went away");
        int r = cgroup_join_self(&ri->cg_join, err);
        if (r < 0)
                return r;
        r = ns_join_all(ri, err);
        if (r < 0)
                return r;
        if (ri->exec_chroot && (fchdir(ri->exec_root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0))
                return berth_error_sys(err, errno, "enter the container's root");
        const struct oci_process *p = ri->process;
        if (p->terminal && ri->console_fd >= 0) {
                r = console_setup(ri->console_fd, p, false, err);
                if (r < 0)
                        return r;
                close(ri->console_fd);
        }
        r = process_set_rlimits(p, err);
        if (r == 0)
                r = process_set_sched(p, NULL, err);
        if (r == 0)
                r = process_chdir(p, err);
        if (r == 0)
                r = process_find_exec(ri, ret_path, err);
        if (r == 0 && ri->seccomp && !p->no_new_privileges)
                r = seccomp_load_child(ri, err);
        if (r == 0)
                r = caps_drop_bounding(p->capabilities, err);
        if (r < 0)
                return r;
        (void)prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
        r = process_set_user(p, err);
        if (r < 0)
                return r;
        (void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        r = caps_apply(p->capabilities, err);
        if (r < 0)
                return r;
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return berth_error_sys(err, errno, "set no_new_privs");
        if (ri->seccomp && p->no_new_privileges && berth_seccomp_needs_listener(ri->seccomp)) {
                r = seccomp_load_child(ri, err);
                if (r < 0)
                        return r;
        }
        process_set_misc(p, err);
        return process_mark_fds(ri->preserve_fds, err);
}

static int exec_child(void *arg)
{
        struct rt_init *ri = arg;
        struct berth_error *err = NULL;
        _cleanup_free_ char *path = NULL;
        close(ri->parent_sync_fd);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        signal(s, SIG_DFL);
        int r = exec_child_setup(ri, &path, &err);
        if (r == 0) {
                (void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
                if (sync_send(ri->sync_fd, SYNC_READY, NULL) < 0)
                        return 1;
                if (ri->seccomp && ri->process->no_new_privileges &&
                    !berth_seccomp_needs_listener(ri->seccomp)) {
                        int lfd;
                        r = berth_seccomp_load(ri->seccomp, &lfd);
                        if (r < 0)
                                r = berth_error_sys(&err, -r, "load seccomp filter");
                }
                if (r == 0) {
                        execve(path, ri->process->args, ri->env);
                        r = berth_error_sys(&err, errno, "exec '%s'", ri->process->args[0]);
                }
        }
        (void)sync_send(ri->sync_fd, SYNC_ERROR, berth_error_msg(err));
        return 1;
}

struct exec_res {
        struct oci_spec *spec;
        struct oci_process proc;
        struct oci_capabilities caps;
        char **env; /* array only; strings belong to spec/opts */
        uint32_t *gids;
        char **final_env; /* strv */
        struct berth_seccomp_prog *seccomp;
        struct berth_cgroup *cg;
        int ns_fds[_OCI_NS_MAX];
        int sync_fd, console_fd, console_peer_fd;
        int root_fd; /* the container's root, when it shares our mount namespace */
        pid_t pid;
};

static void exec_res_release(struct exec_res *x)
{
        if (x->pid > 0) {
                kill(x->pid, SIGKILL);
                while (waitpid(x->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        for (int i = 0; i < _OCI_NS_MAX; i++)
                if (x->ns_fds[i] >= 0)
                        close(x->ns_fds[i]);
        if (x->sync_fd >= 0)
                close(x->sync_fd);
        if (x->console_fd >= 0)
                close(x->console_fd);
        if (x->console_peer_fd >= 0)
                close(x->console_peer_fd);
        if (x->root_fd >= 0)
                close(x->root_fd);
        free(x->env);
        free(x->gids);
        strv_free(x->final_env);
        berth_seccomp_prog_free(x->seccomp);
        cgroup_free(x->cg);
        oci_spec_free(x->spec);
}

static int exec_spawn(struct exec_res *x, struct rt_init *ri, struct berth_error **err)
{
        _cleanup_close_ int own_pid = -EBADF, own_time = -EBADF;
        int r = 0;
        if (x->ns_fds[OCI_NS_PID] >= 0) {
                own_pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
                if (own_pid < 0 || setns(x->ns_fds[OCI_NS_PID], CLONE_NEWPID) < 0)
                        return berth_error_sys(err, errno, "join pid namespace");
        }
        if (x->ns_fds[OCI_NS_TIME] >= 0) {
                own_time = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
                if (own_time < 0 || setns(x->ns_fds[OCI_NS_TIME], CLONE_NEWTIME) < 0)
                        r = berth_error_sys(err, errno, "join time namespace");
        }
        if (r == 0)
                r = ns_spawn(0, x->cg ? cgroup_v2_fd(x->cg) : -1, exec_child, ri, &x->pid, err);
        if (own_pid >= 0 && setns(own_pid, CLONE_NEWPID) < 0 && r == 0)
                r = berth_error_sys(err, errno, "return to own pid namespace");
        if (own_time >= 0 && setns(own_time, CLONE_NEWTIME) < 0 && r == 0)
                r = berth_error_sys(err, errno, "return to own time namespace");
        return r;
}

int berth_container_exec(const struct berth_runtime *rt, const char *id,
                         const struct berth_exec_opts *o, int *ret_exit, struct berth_error **err)
{
        const char *root = rt && rt->root ? rt->root : BERTH_RUNTIME_DEFAULT_ROOT;
        enum berth_status status;
        pid_t pid;
        int r = berth_container_status(rt, id, &status, &pid, err);
        if (r < 0)
                return r;
        if (status == BERTH_STATUS_STOPPED)
                return berth_error_set(err, EINVAL, "cannot exec in a stopped container '%s'", id);
        if (status == BERTH_STATUS_PAUSED)
                return berth_error_set(err, EINVAL, "cannot exec in a paused container '%s'", id);
        struct exec_res x = {.sync_fd = -1, .console_fd = -1, .console_peer_fd = -1, .root_fd = -1};
        bool ran = false; /* the process's execve succeeded */
        for (int i = 0; i < _OCI_NS_MAX; i++)
                x.ns_fds[i] = -1;
        struct rt_state st = {0};
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *dir = state_dir(root, id);
        r = state_read(root, id, &st, err);
        if (r < 0)
                goto out;
        r = container_read_config(dir, NULL, NULL, &x.spec, err);
        if (r < 0)
                goto out;
        if (o->process) {
                x.proc = *o->process;
        } else {
                if (!o->args || !o->args[0]) {
                        r = berth_error_set(err, EINVAL, "exec: no command given");
                        goto out;
                }
                r = build_process(pid, x.spec->process, o, &x.proc, &x.caps, &x.env, &x.gids, err);
                if (r < 0)
                        goto out;
        }
        if (x.proc.terminal && !o->console_socket && !o->ret_master && o->detach) {
                r = berth_error_set(err, EINVAL,
                                    "exec: a terminal needs --console-socket with --detach");
                goto out;
        }
        r = open_container_ns(pid, x.ns_fds, err);
        if (r < 0)
                goto out;
        if (x.ns_fds[OCI_NS_MOUNT] < 0) {
                r = open_shared_mount_ns_root(pid, &x.root_fd, err);
                if (r < 0)
                        goto out;
        }
        if (x.spec->linux_ && x.spec->linux_->seccomp) {
                r = berth_seccomp_compile_cached(x.spec->linux_->seccomp,
                                                 rt ? rt->seccomp_cache : NULL, &x.seccomp, err);
                if (r < 0)
                        goto out;
        }
        if (st.cgroup) {
                r = cgroup_from_json(st.cgroup, &x.cg, err);
                if (r < 0)
                        goto out;
        }
        if (x.proc.terminal) {
                if (o->console_socket) {
                        r = console_connect(o->console_socket, &x.console_fd, err);
                        if (r < 0)
                                goto out;
                } else {
                        int sp[2];
                        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                                r = berth_error_sys(err, errno, "terminal socketpair");
                                goto out;
                        }
                        x.console_peer_fd = sp[0];
                        x.console_fd = sp[1];
                }
        }
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
                r = berth_error_sys(err, errno, "sync socketpair");
                goto out;
        }
        x.sync_fd = sp[0];
        (void)caps_all_mask();
        struct stat self;
        if (stat("/proc/self/exe", &self) < 0)
                memset(&self, 0, sizeof(self));
        x.final_env = process_env(&x.proc, 0);
        struct rt_init ri = {
            .id = id,
            .spec = x.spec,
            .process = &x.proc,
            .exec = true,
            .parent_sync_fd = sp[0],
            .sync_fd = sp[1],
            .fifo_fd = -1,
            .console_fd = x.console_fd,
            .devnull_fd = -1,
            .preserve_fds = o->preserve_fds,
            .seccomp = x.seccomp,
            .self_dev = self.st_dev,
            .self_ino = self.st_ino,
            .env = x.final_env,
            .exec_chroot = x.root_fd >= 0,
            .exec_root_fd = x.root_fd,
        };
        memcpy(ri.ns_fds, x.ns_fds, sizeof(ri.ns_fds));
        ri.ns_fds[OCI_NS_PID] = ri.ns_fds[OCI_NS_TIME] = -1;
        if (x.cg) {
                r = cgroup_join_open(x.cg, &ri.cg_join, err);
                if (r < 0) {
                        close(sp[1]);
                        goto out;
                }
        }
        r = exec_spawn(&x, &ri, err);
        close(sp[1]);
        cgroup_join_release(&ri.cg_join);
        if (r < 0)
                goto out;
        r = sync_send(x.sync_fd, SYNC_GO, NULL);
        if (r < 0) {
                r = berth_error_sys(err, -r, "exec: start process");
                goto out;
        }
        for (;;) {
                int lfd = -1;
                _cleanup_free_ char *msg = NULL;
                int ty = sync_recv_fd(x.sync_fd, &msg, &lfd);
                if (ty == SYNC_SECCOMP && lfd >= 0) {
                        r = seccomp_forward_listener(x.spec, id, x.pid, st.bundle, lfd, err);
                        if (r < 0)
                                goto out;
                        continue;
                }
                if (lfd >= 0)
                        close(lfd);
                if (ty == SYNC_READY)
                        break;
                if (ty == SYNC_ERROR)
                        r = berth_error_set(err, EIO, "%s", msg);
                else
                        r = berth_error_set(err, EIO, "exec: the process exited during setup");
                goto out;
        }
        /* EOF: execve succeeded (the sync fd was close-on-exec); else its error */
        int t = sync_recv(x.sync_fd, &text);
        if (t == SYNC_ERROR) {
                r = berth_error_set(err, EIO, "%s", text);
                goto out;
        }
        ran = true;
        int master = -1;
        if (x.console_peer_fd >= 0) {
                r = console_recv_master(x.console_peer_fd, &master, err);
                if (r < 0)
                        goto out;
        }
        if (o->pid_file) {
                r = container_write_pid_file(o->pid_file, x.pid, err);
                if (r < 0) {
                        if (master >= 0)
                                close(master);
                        goto out;
                }
        }
        if (o->detach) {
                if (o->ret_pid)
                        *o->ret_pid = x.pid;
                if (o->ret_master)
                        *o->ret_master = master;
                else if (master >= 0)
                        close(master);
                x.pid = 0; /* keeps running */
                if (ret_exit)
                        *ret_exit = 0;
                goto out;
        }
        int exit_status = 0;
        if (master >= 0) {
                r = console_proxy_wait(master, x.pid, &exit_status, err);
                close(master);
        } else {
                r = wait_forward_signals(x.pid, &exit_status, err);
        }
        x.pid = 0;
        if (ret_exit)
                *ret_exit = exit_status;
out:
        if (r < 0 && !ran) {
                /* a setup that failed because the container ended meanwhile says so */
                enum berth_status now;
                pid_t p2;
                struct berth_error *e2 = NULL;
                if (berth_container_status(rt, id, &now, &p2, &e2) == 0 &&
                    (now == BERTH_STATUS_STOPPED || proc_exiting(p2))) {
                        if (err) {
                                berth_error_free(*err);
                                *err = NULL;
                        }
                        r = berth_error_set(err, EINVAL, "cannot exec in a stopped container '%s'",
                                            id);
                }
                berth_error_free(e2);
        }
        exec_res_release(&x);
        state_release(&st);
        return r;
}
