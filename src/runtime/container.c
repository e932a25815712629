/*
 * container.c — create, start and run: the parent side that validates the
 * bundle, makes the state dir, cgroup and namespaces, and the child side
 * (init_main) that becomes the container's process.
 *
 * How `create` goes: validate the id and config.json; make <root>/<id>
 * (mkdir, so an existing id fails); compile seccomp; open the namespaces to
 * join, the host's /dev/null and the exec fifo; create the cgroup; clone the
 * child into its new namespaces (ns.c).  The parent writes the id maps,
 * enters the cgroup, runs prestart/createRuntime hooks when the child asks
 * (SYNC_HOOKS), and waits for SYNC_READY: by then the rootfs, pivot_root,
 * caps, user, rlimits and seccomp are done and the child sits blocked in
 * read() on the exec fifo, which it opened O_RDWR before pivot_root.  The
 * parent then writes state.json and the pid file and returns.  `start`
 * writes one byte into the fifo and removes it; the child execve()s the
 * user's program, which closes its fifo end: start waits for that.  Every
 * failure in between unwinds everything: the child is killed and reaped, the
 * cgroup destroyed, the state dir removed.
 *
 * Never: leave anything behind on failure; run user code before the child is
 * in its cgroup; exec the runtime binary inside the container (see ns.c).
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/keyctl.h>

#include "base/fileio.h"
#include "runtime/container.h"
#include "runtime/runtime-internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

const char *berth_status_name(enum berth_status s)
{
        switch (s) {
        case BERTH_STATUS_CREATING:
                return "creating";
        case BERTH_STATUS_CREATED:
                return "created";
        case BERTH_STATUS_RUNNING:
                return "running";
        case BERTH_STATUS_PAUSED:
                return "paused";
        case BERTH_STATUS_STOPPED:
                return "stopped";
        }
        return "unknown";
}

int berth_container_id_check(const char *id, struct berth_error **err)
{
        if (!id || !*id)
                return berth_error_set(err, EINVAL, "container id must not be empty");
        if (strlen(id) > 1024)
                return berth_error_set(err, EINVAL, "container id '%.32s…': too long", id);
        if (strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
                return berth_error_set(err, EINVAL,
                                       "invalid container id '%s': must not contain '/' or be "
                                       "'.' or '..'",
                                       id);
        for (const char *c = id; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        return berth_error_set(err, EINVAL,
                                               "invalid container id: control character");
        return 0;
}

/* ---- the child: becomes the container's init ---- */

static void reset_signals(void)
{
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++) {
                if (s == SIGKILL || s == SIGSTOP)
                        continue;
                signal(s, SIG_DFL);
        }
}

static int apparmor_apply(const char *profile, struct berth_error **err)
{
        if (!profile || !*profile)
                return 0;
        _cleanup_free_ char *v = xasprintf("exec %s", profile);
        int r = write_string_file("/proc/self/attr/apparmor/exec", v);
        if (r == -ENOENT)
                r = write_string_file("/proc/self/attr/exec", v);
        if (r < 0)
                return berth_error_sys(err, -r, "apply apparmor profile '%s'", profile);
        return 0;
}

static int init_finalize(struct rt_init *ri, char **ret_path, struct berth_error **err)
{
        const struct oci_process *p = ri->process;
        int r = process_set_rlimits(p, err);
        if (r == 0)
                r = process_set_sched(p, ri->spec->linux_ ? ri->spec->linux_->personality : NULL,
                                      err);
        if (r < 0)
                return r;
        r = process_chdir(p, err);
        if (r < 0)
                return r;
        r = process_find_exec(ri, ret_path, err);
        if (r < 0)
                return r;
        if (ri->seccomp && !p->no_new_privileges) {
                r = seccomp_load_child(ri, err);
                if (r < 0)
                        return r;
        }
        r = caps_drop_bounding(p->capabilities, err);
        if (r < 0)
                return r;
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return berth_error_sys(err, errno, "keep capabilities");
        r = process_set_user(p, err);
        if (r < 0)
                return r;
        (void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        r = caps_apply(p->capabilities, err);
        if (r < 0)
                return r;
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return berth_error_sys(err, errno, "set no_new_privs");
        /* a listener must reach the parent before it goes: load now, not after start */
        if (ri->seccomp && p->no_new_privileges && berth_seccomp_needs_listener(ri->seccomp)) {
                r = seccomp_load_child(ri, err);
                if (r < 0)
                        return r;
        }
        r = apparmor_apply(p->apparmor_profile, err);
        if (r < 0)
                return r;
        process_set_misc(p, err);
        return process_mark_fds(ri->preserve_fds, err);
}

static int init_exec(struct rt_init *ri, const char *path, struct berth_error **err)
{
        const struct oci_process *p = ri->process;
        if (ri->seccomp && p->no_new_privileges && !berth_seccomp_needs_listener(ri->seccomp)) {
                int lfd;
                int r = berth_seccomp_load(ri->seccomp, &lfd);
                if (r < 0)
                        return berth_error_sys(err, -r, "load seccomp filter");
        }
        execve(path, p->args, ri->env);
        return berth_error_sys(err, errno, "exec '%s'", p->args[0]);
}

static int init_setup(struct rt_init *ri, char **ret_path, struct berth_error **err)
{
        const struct oci_spec *s = ri->spec;
        _cleanup_free_ char *go = NULL;
        int t = sync_recv(ri->sync_fd, &go);
        if (t != SYNC_GO)
                return berth_error_set(err, EIO, "container init: parent went away");
        pid_t host_pid = (pid_t)atoi(go);
        int r = cgroup_join_self(&ri->cg_join, err);
        if (r < 0)
                return r;
        if (ri->new_userns) {
                (void)setresgid(0, 0, 0);
                (void)setresuid(0, 0, 0);
        }
        r = ns_join_all(ri, err);
        if (r < 0)
                return r;
        if (ri->new_ns_flags && unshare((int)ri->new_ns_flags) < 0)
                return berth_error_sys(err, errno, "unshare namespaces");
        if (ri->new_netns) {
                r = ns_loopback_up(err);
                if (r < 0)
                        return r;
        }
        if (!ri->no_new_keyring)
                (void)syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, ri->id);
        r = process_set_sysctl(s->linux_, err);
        if (r < 0)
                return r;
        if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
                return berth_error_sys(err, errno, "set hostname '%s'", s->hostname);
        if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
                return berth_error_sys(err, errno, "set domainname '%s'", s->domainname);
        _cleanup_close_ int rootfd = -EBADF;
        r = rootfs_prepare(ri, &rootfd, err);
        if (r < 0)
                return r;
        if (ri->hooks_before_pivot) {
                r = sync_send(ri->sync_fd, SYNC_HOOKS, NULL);
                if (r < 0)
                        return berth_error_sys(err, -r, "sync with parent");
                r = sync_expect(ri->sync_fd, SYNC_GO, "prestart hooks", err);
                if (r < 0)
                        return r;
        }
        if (s->hooks[OCI_HOOK_CREATE_CONTAINER].n) {
                _cleanup_free_ char *st =
                    hooks_state_json(s, ri->id, "created", host_pid, ri->bundle);
                r = hooks_run(&s->hooks[OCI_HOOK_CREATE_CONTAINER], "createContainer", st, err);
                if (r < 0)
                        return r;
        }
        r = rootfs_pivot(ri, rootfd, err);
        if (r < 0)
                return r;
        r = rootfs_finish(ri, err);
        if (r < 0)
                return r;
        if (ri->process->terminal && ri->console_fd >= 0) {
                r = console_setup(ri->console_fd, ri->process, true, err);
                if (r < 0)
                        return r;
                close(ri->console_fd);
                ri->console_fd = -1;
        }
        return init_finalize(ri, ret_path, err);
}

static int init_main(void *arg)
{
        struct rt_init *ri = arg;
        struct berth_error *err = NULL;
        _cleanup_free_ char *path = NULL;
        close(ri->parent_sync_fd);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        /* no process of the container may open /proc/<us>/exe while our code runs here */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        reset_signals();
        umask(0);
        int r = init_setup(ri, &path, &err);
        if (r == 0) {
                (void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
                if (sync_send(ri->sync_fd, SYNC_READY, NULL) < 0)
                        return 1;
                if (ri->fifo_fd >= 0) {
                        char c;
                        ssize_t n;
                        do
                                n = read(ri->fifo_fd, &c, 1);
                        while (n < 0 && errno == EINTR);
                        if (n != 1)
                                return 1;
                        /* left open: it closes at execve, which tells start we ran */
                }
                const struct oci_spec *s = ri->spec;
                if (s && s->hooks[OCI_HOOK_START_CONTAINER].n) {
                        _cleanup_free_ char *st =
                            hooks_state_json(s, ri->id, "running", 0, ri->bundle);
                        r = hooks_run(&s->hooks[OCI_HOOK_START_CONTAINER], "startContainer", st,
                                      &err);
                }
                if (r == 0)
                        r = init_exec(ri, path, &err);
        }
        (void)sync_send(ri->sync_fd, SYNC_ERROR, berth_error_msg(err));
        return r == -ENOENT ? 127 : 1;
}

/* ---- the parent ---- */

static const char *rt_root(const struct berth_runtime *rt)
{
        return rt && rt->root ? rt->root : BERTH_RUNTIME_DEFAULT_ROOT;
}

int container_read_config(const char *bundle, char **ret_text, size_t *ret_len,
                          struct oci_spec **ret, struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file_at(AT_FDCWD, path, OCI_CONFIG_MAX_SIZE, &text, &len);
        if (r == -EFBIG)
                return berth_error_set(err, EFBIG, "config.json '%s': larger than %u bytes", path,
                                       OCI_CONFIG_MAX_SIZE);
        if (r < 0)
                return berth_error_sys(err, -r, "config.json '%s'", path);
        r = oci_spec_parse(text, len, ret, err);
        if (r < 0)
                return berth_error_prefix(err, "config.json");
        if (ret_text) {
                *ret_text = TAKE_PTR(text);
                *ret_len = len;
        }
        return 0;
}

static bool apparmor_enabled(void)
{
        _cleanup_free_ char *s = NULL;
        return read_file_at(AT_FDCWD, "/sys/module/apparmor/parameters/enabled", 64, &s, NULL) ==
                   0 &&
               s[0] == 'Y';
}

static bool selinux_enabled(void)
{
        return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

static int validate_spec(const struct oci_spec *s, bool *ret_mount_ns, struct berth_error **err)
{
        if (!s->process)
                return berth_error_set(err, EINVAL, "config.json: process is required");
        if (!s->process->args || !s->process->args[0])
                return berth_error_set(err, EINVAL, "config.json: process.args must not be empty");
        if (!s->root || !s->root->path || !*s->root->path)
                return berth_error_set(err, EINVAL, "config.json: root.path is required");
        bool mnt = false, uts = false;
        for (size_t i = 0; s->linux_ && i < s->linux_->n_namespaces; i++) {
                const struct oci_namespace *n = &s->linux_->namespaces[i];
                if (n->type == OCI_NS_MOUNT)
                        mnt = true;
                /* a joined one too: runc sets the hostname in it */
                if (n->type == OCI_NS_UTS)
                        uts = true;
        }
        /* Without a mount namespace the container inherits ours (as runc does): its
         * mounts land in it, under the rootfs, and it is entered by chroot.  What would
         * change mounts outside the rootfs is refused. */
        const struct oci_linux *l = s->linux_;
        const char *needs_mnt = NULL;
        if (s->root->readonly)
                needs_mnt = "root.readonly";
        else if (l && l->rootfs_propagation && *l->rootfs_propagation)
                needs_mnt = "linux.rootfsPropagation";
        else if (l && l->masked_paths && l->masked_paths[0])
                needs_mnt = "linux.maskedPaths";
        else if (l && l->readonly_paths && l->readonly_paths[0])
                needs_mnt = "linux.readonlyPaths";
        if (!mnt && needs_mnt)
                return berth_error_set(err, EINVAL, "config.json: %s needs a mount namespace",
                                       needs_mnt);
        if ((s->hostname && *s->hostname) && !uts)
                return berth_error_set(err, EINVAL, "config.json: hostname needs a uts namespace");
        if (s->process->apparmor_profile && *s->process->apparmor_profile && !apparmor_enabled())
                return berth_error_set(err, ENOTSUP,
                                       "config.json: apparmor profile '%s' requested, but "
                                       "AppArmor is not enabled on this host",
                                       s->process->apparmor_profile);
        if (s->process->selinux_label && *s->process->selinux_label && !selinux_enabled())
                return berth_error_set(err, ENOTSUP,
                                       "config.json: selinux label requested, but SELinux is not "
                                       "enabled on this host");
        if (s->linux_ && s->linux_->has_intel_rdt)
                return berth_error_set(err, ENOTSUP,
                                       "config.json: linux.intelRdt is not supported");
        *ret_mount_ns = mnt;
        return 0;
}

/* runc's default device rules: deny all, the config's rules, the standard
 * character devices, then every linux.devices entry. */
static struct oci_device_cgroup *device_rules(const struct oci_spec *s, size_t *ret_n)
{
        static const struct {
                char type;
                int64_t major, minor;
                const char *access;
        } defaults[] = {
            {'c', -1, -1, "m"}, {'b', -1, -1, "m"},    {'c', 1, 3, "rwm"}, {'c', 1, 8, "rwm"},
            {'c', 1, 7, "rwm"}, {'c', 5, 0, "rwm"},    {'c', 1, 5, "rwm"}, {'c', 1, 9, "rwm"},
            {'c', 5, 1, "rwm"}, {'c', 136, -1, "rwm"}, {'c', 5, 2, "rwm"}, {'c', 10, 200, "rwm"},
        };
        const struct oci_linux *l = s->linux_;
        const struct oci_resources *res = l ? l->resources : NULL;
        size_t n_cfg = res ? res->n_devices : 0, n_dev = l ? l->n_devices : 0;
        struct oci_device_cgroup *v = xcalloc(1 + n_cfg + ELEMENTSOF(defaults) + n_dev, sizeof(*v));
        size_t n = 0;
        v[n++] = (struct oci_device_cgroup){
            .allow = false, .type = 'a', .major = -1, .minor = -1, .access = (char *)"rwm"};
        for (size_t i = 0; i < n_cfg; i++)
                v[n++] = res->devices[i];
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                v[n++] = (struct oci_device_cgroup){.allow = true,
                                                    .type = defaults[i].type,
                                                    .major = defaults[i].major,
                                                    .minor = defaults[i].minor,
                                                    .access = (char *)defaults[i].access};
        for (size_t i = 0; i < n_dev; i++) {
                const struct oci_device *d = &l->devices[i];
                if (d->type != 'c' && d->type != 'b' && d->type != 'u')
                        continue;
                v[n++] = (struct oci_device_cgroup){.allow = true,
                                                    .type = d->type == 'b' ? 'b' : 'c',
                                                    .major = d->major,
                                                    .minor = d->minor,
                                                    .access = (char *)"rwm"};
        }
        *ret_n = n;
        return v;
}

/* Everything create holds while it works; released by creation_release(). */
struct creation {
        char *dir;
        char *bundle, *rootfs;
        char *config_text;
        size_t config_len;
        struct oci_spec *spec;
        struct berth_seccomp_prog *seccomp;
        struct berth_cgroup *cg;
        struct oci_device_cgroup *dev_rules;
        int ns_fds[_OCI_NS_MAX];
        int devnull_fd, fifo_fd, console_fd, console_peer_fd, sync_fd;
        int *idmap_fds;
        pid_t pid;
        bool committed;
        bool host_mounts; /* no mount namespace: the container mounts in ours */
};

static void creation_release(struct creation *c)
{
        if (!c->committed) {
                if (c->pid > 0) {
                        kill(c->pid, SIGKILL);
                        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                                ;
                }
                if (c->cg) {
                        struct berth_error *e = NULL;
                        cgroup_destroy(c->cg, &e);
                        berth_error_free(e);
                }
                if (c->host_mounts && c->rootfs)
                        rootfs_detach_host_mounts(c->rootfs);
                if (c->dir)
                        rm_rf(c->dir);
        }
        cgroup_free(c->cg);
        for (int i = 0; i < _OCI_NS_MAX; i++)
                if (c->ns_fds[i] >= 0)
                        close(c->ns_fds[i]);
        int *fds[] = {&c->devnull_fd, &c->fifo_fd, &c->console_fd, &c->console_peer_fd,
                      &c->sync_fd};
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (*fds[i] >= 0) {
                        close(*fds[i]);
                        *fds[i] = -1;
                }
        for (size_t i = 0; c->idmap_fds && c->spec && i < c->spec->n_mounts; i++)
                if (c->idmap_fds[i] >= 0)
                        close(c->idmap_fds[i]);
        free(c->idmap_fds);
        berth_seccomp_prog_free(c->seccomp);
        oci_spec_free(c->spec);
        free(c->dev_rules);
        free(c->dir);
        free(c->bundle);
        free(c->rootfs);
        free(c->config_text);
}

static void creation_init(struct creation *c)
{
        memset(c, 0, sizeof(*c));
        for (int i = 0; i < _OCI_NS_MAX; i++)
                c->ns_fds[i] = -1;
        c->devnull_fd = c->fifo_fd = c->console_fd = c->console_peer_fd = c->sync_fd = -1;
        c->idmap_fds = NULL;
}

int container_write_pid_file(const char *path, pid_t pid, struct berth_error **err)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
        _cleanup_free_ char *abs = NULL;
        if (path[0] != '/') {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)))
                        return berth_error_sys(err, errno, "getcwd");
                abs = xasprintf("%s/%s", cwd, path);
        }
        /* temp + rename (readers never see an empty file), no fsync, as runc */
        const char *target = abs ? abs : path;
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", target, (int)getpid());
        int r = write_file_at(AT_FDCWD, tmp, buf, (size_t)n, 0644);
        if (r == 0 && rename(tmp, target) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        if (r < 0)
                return berth_error_sys(err, -r, "write pid file '%s'", path);
        return 0;
}

/* Spawn with the parent temporarily in the pid/time namespaces the child must start in. */
static int spawn_init(struct creation *c, struct rt_init *ri, unsigned long clone_flags,
                      bool new_time, struct berth_error **err)
{
        const struct oci_linux *l = c->spec->linux_;
        _cleanup_close_ int own_pid = -EBADF, own_time = -EBADF;
        int r;
        if (c->ns_fds[OCI_NS_PID] >= 0) {
                own_pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
                if (own_pid < 0 || setns(c->ns_fds[OCI_NS_PID], CLONE_NEWPID) < 0)
                        return berth_error_sys(err, errno, "join pid namespace");
        }
        if (c->ns_fds[OCI_NS_TIME] >= 0 || new_time) {
                own_time = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
                if (own_time < 0) {
                        r = berth_error_sys(err, errno, "open own time namespace");
                        goto restore;
                }
                if (c->ns_fds[OCI_NS_TIME] >= 0) {
                        if (setns(c->ns_fds[OCI_NS_TIME], CLONE_NEWTIME) < 0) {
                                r = berth_error_sys(err, errno, "join time namespace");
                                goto restore;
                        }
                } else {
                        if (unshare(CLONE_NEWTIME) < 0) {
                                r = berth_error_sys(err, errno, "new time namespace");
                                goto restore;
                        }
                        _cleanup_free_ char *off =
                            xasprintf("monotonic %lld %u\nboottime %lld %u\n",
                                      (long long)l->monotonic.secs, l->monotonic.nanosecs,
                                      (long long)l->boottime.secs, l->boottime.nanosecs);
                        if ((l->monotonic.present || l->boottime.present) &&
                            (r = write_string_file("/proc/self/timens_offsets", off)) < 0) {
                                r = berth_error_sys(err, -r, "write time namespace offsets");
                                goto restore;
                        }
                }
        }
        r = ns_spawn(clone_flags, c->cg ? cgroup_v2_fd(c->cg) : -1, init_main, ri, &c->pid, err);
restore:
        if (own_pid >= 0 && setns(own_pid, CLONE_NEWPID) < 0 && r == 0)
                r = berth_error_sys(err, errno, "return to own pid namespace");
        if (own_time >= 0 && setns(own_time, CLONE_NEWTIME) < 0 && r == 0)
                r = berth_error_sys(err, errno, "return to own time namespace");
        return r;
}

static int parent_handshake(struct creation *c, struct rt_init *ri, const char *id,
                            struct berth_error **err)
{
        const struct oci_spec *s = c->spec;
        int r;
        if (ri->new_userns && s->linux_) {
                r = ns_write_id_maps(c->pid, s->linux_, err);
                if (r < 0)
                        return r;
        }
        if (s->process->has_oom_score_adj) {
                char path[64], v[32];
                snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)c->pid);
                snprintf(v, sizeof(v), "%d", s->process->oom_score_adj);
                r = write_string_file(path, v);
                if (r < 0)
                        return berth_error_sys(err, -r, "set oom_score_adj %d",
                                               s->process->oom_score_adj);
        }
        char pidtext[32];
        snprintf(pidtext, sizeof(pidtext), "%d", (int)c->pid);
        r = sync_send(c->sync_fd, SYNC_GO, pidtext);
        if (r < 0)
                return berth_error_sys(err, -r, "start container init");
        for (;;) {
                _cleanup_free_ char *text = NULL;
                int lfd = -1;
                int t = sync_recv_fd(c->sync_fd, &text, &lfd);
                if (t == SYNC_READY)
                        return 0;
                if (t == SYNC_SECCOMP && lfd >= 0) {
                        r = seccomp_forward_listener(s, id, c->pid, c->bundle, lfd, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (lfd >= 0)
                        close(lfd);
                if (t == SYNC_ERROR)
                        return berth_error_set(err, EIO, "%s", text);
                if (t == SYNC_HOOKS) {
                        _cleanup_free_ char *st =
                            hooks_state_json(s, id, "creating", c->pid, c->bundle);
                        r = hooks_run(&s->hooks[OCI_HOOK_PRESTART], "prestart", st, err);
                        if (r == 0)
                                r = hooks_run(&s->hooks[OCI_HOOK_CREATE_RUNTIME], "createRuntime",
                                              st, err);
                        if (r < 0)
                                return r;
                        r = sync_send(c->sync_fd, SYNC_GO, NULL);
                        if (r < 0)
                                return berth_error_sys(err, -r, "resume container init");
                        continue;
                }
                if (t < 0)
                        return berth_error_sys(err, -t, "wait for container init");
                return berth_error_set(err, EIO, "container init exited during setup");
        }
}

static int check_preserved_fds(unsigned n, struct berth_error **err)
{
        for (unsigned i = 0; i < n; i++)
                if (fcntl(3 + (int)i, F_GETFD) < 0)
                        return berth_error_set(err, EBADF, "preserve-fds: fd %u is not open",
                                               3 + i);
        return 0;
}

static unsigned listen_fds(void)
{
        const char *s = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
        uint64_t v, p;
        /* sd_listen_fds() semantics, as runc: only fds passed to us, not to a parent */
        if (!pid || parse_u64(pid, &p) < 0 || p != (uint64_t)getpid())
                return 0;
        if (!s || parse_u64(s, &v) < 0 || v > 1024)
                return 0;
        return (unsigned)v;
}

static int do_create(const struct berth_runtime *rt, const char *id,
                     const struct berth_create_opts *o, bool foreground, struct creation *c,
                     struct berth_error **err)
{
        int r = berth_container_id_check(id, err);
        if (r < 0)
                return r;
        const char *root = rt_root(rt);
        const char *bundle = o && o->bundle ? o->bundle : ".";
        c->bundle = realpath(bundle, NULL);
        if (!c->bundle)
                return berth_error_sys(err, errno, "bundle '%s'", bundle);
        r = container_read_config(c->bundle, &c->config_text, &c->config_len, &c->spec, err);
        if (r < 0)
                return r;
        const struct oci_spec *s = c->spec;
        bool mount_ns = true;
        r = validate_spec(s, &mount_ns, err);
        if (r < 0)
                return r;
        c->host_mounts = !mount_ns;
        _cleanup_free_ char *rp = s->root->path[0] == '/'
                                      ? xstrdup(s->root->path)
                                      : xasprintf("%s/%s", c->bundle, s->root->path);
        c->rootfs = realpath(rp, NULL);
        struct stat st;
        if (!c->rootfs || stat(c->rootfs, &st) < 0)
                return berth_error_sys(err, errno, "rootfs '%s'", rp);
        if (!S_ISDIR(st.st_mode))
                return berth_error_set(err, ENOTDIR, "rootfs '%s': not a directory", rp);
        unsigned nlisten = listen_fds();
        unsigned npreserve = (o ? o->preserve_fds : 0) + nlisten;
        r = check_preserved_fds(npreserve, err);
        if (r < 0)
                return r;
        if (s->process->terminal && !(o && (o->console_socket || o->ret_master)) && !foreground)
                return berth_error_set(err, EINVAL,
                                       "process.terminal is true: a --console-socket is required "
                                       "when the runtime does not stay in the foreground");
        r = ns_open_joins(s, c->ns_fds, err);
        if (r < 0)
                return r;
        (void)caps_all_mask(); /* reads cap_last_cap while the host's /proc is ours */

        r = mkdir_p(root, 0700);
        if (r < 0)
                return berth_error_sys(err, -r, "state root '%s'", root);
        _cleanup_free_ char *dir = state_dir(root, id);
        if (mkdir(dir, 0700) < 0) {
                if (errno == EEXIST)
                        return berth_error_set(err, EEXIST, "container '%s' already exists", id);
                return berth_error_sys(err, errno, "state dir '%s'", dir);
        }
        c->dir = TAKE_PTR(dir);
        if (c->host_mounts) {
                /* delete detaches the mounts such a container made in our namespace */
                _cleanup_free_ char *hm = xasprintf("%s/host-mounts", c->dir);
                r = write_file_at(AT_FDCWD, hm, c->rootfs, strlen(c->rootfs), 0600);
                if (r < 0)
                        return berth_error_sys(err, -r, "record rootfs of '%s'", id);
        }

        if (s->linux_ && s->linux_->seccomp) {
                r = berth_seccomp_compile_cached(s->linux_->seccomp, rt ? rt->seccomp_cache : NULL,
                                                 &c->seccomp, err);
                if (r < 0)
                        return r;
                if (berth_seccomp_needs_listener(c->seccomp) &&
                    !(s->linux_->seccomp->listener_path && *s->linux_->seccomp->listener_path))
                        return berth_error_set(err, EINVAL,
                                               "config.json: linux.seccomp: SCMP_ACT_NOTIFY needs "
                                               "a listenerPath");
        }
        r = rootfs_idmap_prepare(s, c->bundle, &c->idmap_fds, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", c->dir);
        if (mkfifo(fifo, 0600) < 0)
                return berth_error_sys(err, errno, "make exec fifo");
        c->fifo_fd = open(fifo, O_RDWR | O_CLOEXEC);
        if (c->fifo_fd < 0)
                return berth_error_sys(err, errno, "open exec fifo");
        if (s->process->terminal) {
                if (o && o->console_socket) {
                        r = console_connect(o->console_socket, &c->console_fd, err);
                        if (r < 0)
                                return r;
                } else {
                        int sp[2];
                        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                                return berth_error_sys(err, errno, "terminal socketpair");
                        c->console_peer_fd = sp[0];
                        c->console_fd = sp[1];
                }
        }
        struct oci_resources res = {0};
        if (s->linux_ && s->linux_->resources)
                res = *s->linux_->resources;
        c->dev_rules = device_rules(s, &res.n_devices);
        res.devices = c->dev_rules;
        r = cgroup_create(s->linux_ ? s->linux_->cgroups_path : NULL, id, &res,
                          rt && rt->systemd_cgroup, &c->cg, err);
        if (r < 0)
                return r;

        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return berth_error_sys(err, errno, "sync socketpair");
        c->sync_fd = sp[0];

        unsigned long new_flags = 0;
        for (size_t i = 0; s->linux_ && i < s->linux_->n_namespaces; i++)
                if (!s->linux_->namespaces[i].path)
                        new_flags |= ns_clone_flag(s->linux_->namespaces[i].type);
        bool new_time = new_flags & CLONE_NEWTIME;
        new_flags &= ~(unsigned long)CLONE_NEWTIME;
        struct stat self;
        if (stat("/proc/self/exe", &self) < 0)
                memset(&self, 0, sizeof(self));
        _cleanup_strv_free_ char **env = process_env(s->process, nlisten);
        struct rt_init ri = {
            .id = id,
            .spec = s,
            .process = s->process,
            .rootfs = c->rootfs,
            .bundle = c->bundle,
            .parent_sync_fd = sp[0],
            .sync_fd = sp[1],
            .fifo_fd = c->fifo_fd,
            .console_fd = c->console_fd,
            .devnull_fd = -1,
            .no_pivot = o && o->no_pivot,
            .inherit_mount_ns = c->host_mounts,
            .no_new_keyring = o && o->no_new_keyring,
            .preserve_fds = npreserve,
            .seccomp = c->seccomp,
            .hooks_before_pivot =
                s->hooks[OCI_HOOK_PRESTART].n || s->hooks[OCI_HOOK_CREATE_RUNTIME].n,
            .self_dev = self.st_dev,
            .self_ino = self.st_ino,
            .env = env,
        };
        memcpy(ri.ns_fds, c->ns_fds, sizeof(ri.ns_fds));
        ri.idmap_fds = c->idmap_fds;
        ri.ns_fds[OCI_NS_PID] = ri.ns_fds[OCI_NS_TIME] = -1; /* joined by the parent */
        unsigned long clone_flags = new_flags;
        if (c->ns_fds[OCI_NS_USER] >= 0 && (new_flags & CLONE_NEWPID))
                return berth_error_set(err, ENOTSUP,
                                       "config.json: a new pid namespace inside a joined user "
                                       "namespace is not supported; join its pid namespace too");
        if (c->cg) {
                r = cgroup_join_open(c->cg, &ri.cg_join, err);
                if (r < 0)
                        return berth_error_prefix(err, "create '%s'", id);
        }
        if (c->ns_fds[OCI_NS_USER] >= 0) {
                /* namespaces made after joining a user namespace must belong to it */
                ri.new_ns_flags = new_flags & ~(unsigned long)CLONE_NEWPID;
                clone_flags = new_flags & CLONE_NEWPID;
        } else if (c->cg && ri.cg_join.n > 0) {
                /* the cgroup namespace's root is where the child is when it unshares:
                 * after it has moved itself into its v1 hierarchies */
                ri.new_ns_flags = new_flags & CLONE_NEWCGROUP;
                clone_flags = new_flags & ~(unsigned long)CLONE_NEWCGROUP;
        }
        ri.new_userns = clone_flags & CLONE_NEWUSER;
        ri.new_netns = new_flags & CLONE_NEWNET;
        ri.in_userns = ri.new_userns || c->ns_fds[OCI_NS_USER] >= 0;
        r = spawn_init(c, &ri, clone_flags, new_time, err);
        close(sp[1]);
        cgroup_join_release(&ri.cg_join);
        if (r < 0)
                return r;
        r = parent_handshake(c, &ri, id, err);
        if (r < 0)
                return berth_error_prefix(err, "create '%s'", id);
        /* only the init may hold the fifo now: start waits for its end to close */
        close(c->fifo_fd);
        c->fifo_fd = -1;

        /* exec and the late hooks work from this copy, whatever happens to the bundle */
        bool late = s->hooks[OCI_HOOK_POSTSTART].n || s->hooks[OCI_HOOK_POSTSTOP].n;
        _cleanup_free_ char *cp = xasprintf("%s/config.json", c->dir);
        r = write_file_at(AT_FDCWD, cp, c->config_text, c->config_len, 0600);
        if (r < 0)
                return berth_error_sys(err, -r, "copy config.json to state dir");
        _cleanup_free_ char *created = state_now_rfc3339();
        _cleanup_json_ struct json *ann = NULL;
        if (s->n_annotations) {
                ann = json_new_object();
                for (size_t i = 0; i < s->n_annotations; i++)
                        json_set_str(ann, s->annotations[i].key, s->annotations[i].value);
        }
        _cleanup_json_ struct json *cgj = cgroup_to_json(c->cg);
        struct rt_state rs = {
            .id = (char *)id,
            .pid = c->pid,
            .pid_start = proc_start_time(c->pid),
            .bundle = c->bundle,
            .rootfs = c->rootfs,
            .created = created,
            .owner = (char *)"",
            .annotations = ann,
            .cgroup = cgj,
            .systemd = rt && rt->systemd_cgroup,
            .late_hooks = late,
        };
        r = state_write(c->dir, &rs, err);
        if (r < 0)
                return r;
        if (o && o->pid_file) {
                r = container_write_pid_file(o->pid_file, c->pid, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int berth_container_create(const struct berth_runtime *rt, const char *id,
                           const struct berth_create_opts *o, struct berth_error **err)
{
        struct creation c;
        creation_init(&c);
        int r = do_create(rt, id, o, false, &c, err);
        if (r == 0 && o && o->ret_master && c.console_peer_fd >= 0)
                r = console_recv_master(c.console_peer_fd, o->ret_master, err);
        if (r == 0 && o && o->ret_pid)
                *o->ret_pid = c.pid;
        if (r == 0 && o && o->ret_exec_status_fd)
                *o->ret_exec_status_fd = TAKE_FD(c.sync_fd);
        if (r == 0)
                c.committed = true;
        creation_release(&c); /* on failure: the child, its cgroup and state dir go */
        return r;
}

int berth_exec_status_wait(int fd, struct berth_error **err)
{
        _cleanup_free_ char *text = NULL;
        int t = sync_recv(fd, &text);
        close(fd);
        if (t == SYNC_ERROR)
                return berth_error_set(err, EIO, "%s", text ? text : "exec failed");
        return 0;
}

static int release_fifo(const char *dir, const char *id, struct berth_error **err)
{
        _cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", dir);
        _cleanup_close_ int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENXIO)
                return berth_error_set(err, ESRCH,
                                       "cannot start container '%s': its init has exited", id);
        if (fd < 0 && errno == ENOENT)
                return berth_error_set(
                    err, EINVAL, "cannot start container '%s': it is not in the created state", id);
        if (fd < 0)
                return berth_error_sys(err, errno, "open exec fifo of '%s'", id);
        /* A read end of our own, opened while the init holds its O_RDWR end, reports
         * POLLHUP once the init has no writer left: its end closes at execve (O_CLOEXEC)
         * or when it dies.  So start returns once the user's process runs, as runc's
         * does: a kill right after start reaches that process, not our init code. */
        _cleanup_close_ int rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (write(fd, "0", 1) != 1)
                return berth_error_sys(err, errno, "release container '%s'", id);
        close(TAKE_FD(fd));
        (void)unlink(fifo);
        struct pollfd pfd = {.fd = rfd, .events = 0};
        while (rfd >= 0 && poll(&pfd, 1, -1) < 0 && errno == EINTR)
                ;
        return 0;
}

int berth_container_start(const struct berth_runtime *rt, const char *id, struct berth_error **err)
{
        enum berth_status status;
        pid_t pid;
        int r = berth_container_status(rt, id, &status, &pid, err);
        if (r < 0)
                return r;
        if (status == BERTH_STATUS_STOPPED)
                return berth_error_set(err, EINVAL, "cannot start a container that has stopped");
        if (status != BERTH_STATUS_CREATED)
                return berth_error_set(err, EINVAL, "cannot start an already %s container",
                                       berth_status_name(status));
        _cleanup_free_ char *dir = state_dir(rt_root(rt), id);
        r = release_fifo(dir, id, err);
        if (r < 0)
                return r;
        struct rt_state st;
        if (state_read(rt_root(rt), id, &st, NULL) == 0) {
                if (st.late_hooks) {
                        _cleanup_(oci_spec_freep) struct oci_spec *spec = NULL;
                        struct berth_error *e = NULL;
                        _cleanup_free_ char *sdir = state_dir(rt_root(rt), id);
                        if (container_read_config(sdir, NULL, NULL, &spec, &e) == 0 &&
                            spec->hooks[OCI_HOOK_POSTSTART].n) {
                                _cleanup_free_ char *sj =
                                    hooks_state_json(spec, id, "running", pid, st.bundle);
                                /* runtime spec: warn, and start still succeeds */
                                hooks_run_warn(&spec->hooks[OCI_HOOK_POSTSTART], "poststart", id,
                                               sj);
                        }
                        berth_error_free(e);
                }
                state_release(&st);
        }
        return r;
}

int berth_container_run(const struct berth_runtime *rt, const char *id,
                        const struct berth_create_opts *o, bool detach, int *ret_exit,
                        struct berth_error **err)
{
        struct creation c;
        creation_init(&c);
        int r = do_create(rt, id, o, !detach, &c, err);
        if (r < 0) {
                creation_release(&c);
                return r;
        }
        c.committed = true;
        pid_t pid = c.pid;
        int master = -1;
        _cleanup_free_ char *text = NULL;
        if (c.console_peer_fd >= 0) {
                r = console_recv_master(c.console_peer_fd, &master, err);
                if (r < 0)
                        goto fail;
        }
        /* our own end of the exec fifo would keep start waiting for the init's execve */
        if (c.fifo_fd >= 0)
                close(TAKE_FD(c.fifo_fd));
        r = berth_container_start(rt, id, err);
        if (r < 0)
                goto fail;
        if (detach) {
                creation_release(&c);
                if (ret_exit)
                        *ret_exit = 0;
                return 0;
        }
        int status = 0;
        if (master >= 0)
                r = console_proxy_wait(master, pid, &status, err);
        else
                r = wait_forward_signals(pid, &status, err);
        if (master >= 0)
                close(master);
        /* an exec failure after start is reported by the child before it exits */
        struct berth_error *derr = NULL;
        if (r == 0 && sync_recv(c.sync_fd, &text) == SYNC_ERROR)
                r = berth_error_set(err, EIO, "%s", text);
        creation_release(&c);
        if (!(o && o->keep))
                (void)berth_container_delete(rt, id, true, &derr);
        berth_error_free(derr);
        if (ret_exit)
                *ret_exit = status;
        return r;
fail:
        if (master >= 0)
                close(master);
        creation_release(&c);
        struct berth_error *e2 = NULL;
        (void)berth_container_delete(rt, id, true, &e2);
        berth_error_free(e2);
        return r;
}
