/*
 * process.c — the container process's own attributes, set by the child just
 * before execve: user and groups, rlimits, oom_score_adj, sysctl, cwd,
 * environment, the executable and the fds that cross into the container.
 *
 * How: the cwd is opened with open_in_root() on the container's "/" and
 * entered with fchdir(), so a cwd such as /proc/self/fd/7 (a leaked host
 * directory, CVE-2024-21626) is refused (RESOLVE_NO_MAGICLINKS) instead of
 * followed; a missing cwd is created inside the root as runc does.  The
 * executable is looked up the same way along the container's $PATH, and a
 * magic link (/proc/self/exe) or the runtime binary itself is refused, so
 * the container can never run — and so hold open — our binary.  Every fd
 * above 2 (plus LISTEN_FDS and --preserve-fds) is marked close-on-exec with
 * close_range(), after everything else has been opened (one by one from
 * /proc/self/fd where close_range is missing or denied by the seccomp filter).
 *
 * Never: chdir or exec by a path string that was not resolved inside the
 * root; let an fd of the runtime reach the container.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/close_range.h>
#include <string.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "base/fileio.h"
#include "runtime/runtime-internal.h"

int process_set_user(const struct oci_process *p, struct berth_error **err)
{
        const struct oci_user *u = &p->user;
        if (setgroups(u->n_additional_gids, (const gid_t *)u->additional_gids) < 0 &&
            !(errno == EPERM && u->n_additional_gids == 0))
                return berth_error_sys(err, errno, "set additional groups");
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return berth_error_sys(err, errno, "set gid %u", u->gid);
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return berth_error_sys(err, errno, "set uid %u", u->uid);
        return 0;
}

int process_set_rlimits(const struct oci_process *p, struct berth_error **err)
{
        for (size_t i = 0; i < p->n_rlimits; i++) {
                const struct oci_rlimit *l = &p->rlimits[i];
                struct rlimit rl = {.rlim_cur = l->soft, .rlim_max = l->hard};
                if (setrlimit(l->resource, &rl) < 0)
                        return berth_error_sys(err, errno, "set rlimit %s", l->type);
        }
        return 0;
}

int process_set_oom(const struct oci_process *p, struct berth_error **err)
{
        if (!p->has_oom_score_adj)
                return 0;
        char v[32];
        snprintf(v, sizeof(v), "%d", p->oom_score_adj);
        int r = write_string_file("/proc/self/oom_score_adj", v);
        if (r < 0)
                return berth_error_sys(err, -r, "set oom_score_adj %d", p->oom_score_adj);
        return 0;
}

static bool has_ns(const struct oci_linux *l, enum oci_ns_type t)
{
        for (size_t i = 0; i < l->n_namespaces; i++)
                if (l->namespaces[i].type == t)
                        return true;
        return false;
}

/* The namespace a sysctl belongs to, as runc's validator lists them; -1 for
 * a host-wide one (kernel.core_pattern…), which a container may never set. */
static int sysctl_ns(const char *key)
{
        static const char *const ipc[] = {"kernel.msgmax", "kernel.msgmnb",         "kernel.msgmni",
                                          "kernel.sem",    "kernel.shmall",         "kernel.shmmax",
                                          "kernel.shmmni", "kernel.shm_rmid_forced"};
        _cleanup_free_ char *k = xstrdup(key);
        for (char *c = k; *c; c++)
                if (*c == '/')
                        *c = '.';
        for (size_t i = 0; i < sizeof(ipc) / sizeof(ipc[0]); i++)
                if (!strcmp(k, ipc[i]))
                        return OCI_NS_IPC;
        if (!strncmp(k, "fs.mqueue.", 10))
                return OCI_NS_IPC;
        if (!strncmp(k, "net.", 4))
                return OCI_NS_NETWORK;
        if (!strcmp(k, "kernel.hostname") || !strcmp(k, "kernel.domainname"))
                return OCI_NS_UTS;
        return -1;
}

int process_set_sysctl(const struct oci_linux *l, struct berth_error **err)
{
        for (size_t i = 0; l && i < l->n_sysctl; i++) {
                const char *key = l->sysctl[i].key;
                if (strstr(key, "..") || key[0] == '/' || key[0] == '.')
                        return berth_error_set(err, EINVAL, "sysctl '%s': invalid name", key);
                int ns = sysctl_ns(key);
                if (ns < 0 || !has_ns(l, (enum oci_ns_type)ns))
                        return berth_error_set(
                            err, EPERM, "sysctl '%s': not in a namespace of the container", key);
                _cleanup_free_ char *path = xasprintf("/proc/sys/%s", key);
                for (char *c = path + 10; *c; c++)
                        if (*c == '.')
                                *c = '/';
                const char *v = l->sysctl[i].value;
                int r = write_file_at(AT_FDCWD, path, v, strlen(v), 0);
                if (r < 0)
                        return berth_error_sys(err, -r, "sysctl '%s'", key);
        }
        return 0;
}

int process_chdir(const struct oci_process *p, struct berth_error **err)
{
        const char *cwd = p->cwd && *p->cwd ? p->cwd : "/";
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return berth_error_sys(err, errno, "open /");
        int fd = open_in_root(root, cwd, O_PATH | O_DIRECTORY, 0);
        if (fd == -ENOENT) {
                fd = root_mkdir_p(root, cwd, 0755, err);
                if (fd < 0)
                        return berth_error_prefix(err, "cwd '%s'", cwd);
        }
        if (fd == -ELOOP || fd == -EXDEV)
                return berth_error_set(err, EPERM,
                                       "cwd '%s': resolves outside the container's root", cwd);
        if (fd < 0)
                return berth_error_sys(err, -fd, "cwd '%s'", cwd);
        int r = 0;
        if (fchdir(fd) < 0)
                r = berth_error_sys(err, errno, "chdir to cwd '%s'", cwd);
        close(fd);
        return r;
}

static const char *env_get(char *const *env, const char *key)
{
        size_t kl = strlen(key);
        for (size_t i = 0; env && env[i]; i++)
                if (!strncmp(env[i], key, kl) && env[i][kl] == '=')
                        return env[i] + kl + 1;
        return NULL;
}

/* Resolve a candidate inside "/" and check it is a runnable file that is not
 * the runtime binary.  0: ok; -ENOENT: try the next; other: refuse. */
static int check_candidate(const struct rt_init *ri, int root, const char *path,
                           struct berth_error **err)
{
        int fd = open_in_root(root, path, O_PATH, 0);
        if (fd == -ELOOP) {
                /* a symlink loop, or a magic link such as /proc/self/exe?  (We are
                 * inside the container's root already: this open only tells which.) */
                int f2 = open(path, O_PATH | O_CLOEXEC);
                if (f2 < 0)
                        return berth_error_sys(err, ELOOP, "exec '%s'", path);
                close(f2);
                return berth_error_set(err, EPERM,
                                       "exec '%s': path goes through a magic link: refused", path);
        }
        if (fd < 0)
                return fd;
        struct stat st;
        int r = fstat(fd, &st) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
                return r;
        if (st.st_dev == ri->self_dev && st.st_ino == ri->self_ino)
                return berth_error_set(err, EPERM,
                                       "exec '%s': refusing to run the runtime binary inside the "
                                       "container",
                                       path);
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                return -EACCES;
        return 0;
}

int process_find_exec(const struct rt_init *ri, char **ret, struct berth_error **err)
{
        const char *a0 = ri->process->args ? ri->process->args[0] : NULL;
        if (!a0 || !*a0)
                return berth_error_set(err, EINVAL, "process.args must not be empty");
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return berth_error_sys(err, errno, "open /");
        if (strchr(a0, '/')) {
                _cleanup_free_ char *full = NULL;
                if (a0[0] != '/') {
                        char cwd[PATH_MAX];
                        if (!getcwd(cwd, sizeof(cwd)))
                                return berth_error_sys(err, errno, "getcwd");
                        full = xasprintf("%s/%s", cwd, a0);
                }
                int r = check_candidate(ri, root, full ? full : a0, err);
                if (r < 0 && !*err)
                        return berth_error_sys(err, -r, "exec '%s'", a0);
                if (r < 0)
                        return r;
                *ret = xstrdup(a0);
                return 0;
        }
        const char *path = env_get(ri->env, "PATH");
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        _cleanup_free_ char *dirs = xstrdup(path);
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *cand = xasprintf("%s/%s", *d ? d : ".", a0);
                int r = check_candidate(ri, root, cand, err);
                if (r == 0) {
                        *ret = TAKE_PTR(cand);
                        return 0;
                }
                if (*err)
                        return r;
        }
        return berth_error_set(err, ENOENT, "exec '%s': executable file not found in $PATH", a0);
}

static int mark_fds_one_by_one(int from, struct berth_error **err)
{
        _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
        if (!d)
                return berth_error_sys(err, errno, "mark fds close-on-exec: open /proc/self/fd");
        struct dirent *e;
        while ((e = readdir(d))) {
                char *end;
                long fd = strtol(e->d_name, &end, 10);
                if (*end || end == e->d_name || fd < from || fd == dirfd(d))
                        continue;
                int fl = fcntl((int)fd, F_GETFD);
                if (fl >= 0 && !(fl & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) < 0)
                        return berth_error_sys(err, errno, "mark fd %ld close-on-exec", fd);
        }
        return 0;
}

int process_mark_fds(unsigned keep_from3, struct berth_error **err)
{
        for (unsigned i = 0; i < keep_from3; i++) {
                int fd = 3 + (int)i;
                int fl = fcntl(fd, F_GETFD);
                if (fl >= 0 && fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
                        return berth_error_sys(err, errno, "keep fd %d", fd);
        }
        if (syscall(SYS_close_range, 3 + keep_from3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return 0;
        if (errno != ENOSYS && errno != EINVAL && errno != EPERM)
                return berth_error_sys(err, errno, "mark fds close-on-exec");
        /* Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC, and a seccomp profile written before
         * close_range existed (loaded already when no_new_privileges is off) denies it. */
        return mark_fds_one_by_one(3 + (int)keep_from3, err);
}

char **process_env(const struct oci_process *p, unsigned listen_fds)
{
        size_t n = 0;
        while (p->env && p->env[n])
                n++;
        char **v = xcalloc(n + 2, sizeof(char *));
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                v[k++] = xstrdup(p->env[i]);
        if (listen_fds)
                v[k++] = xasprintf("LISTEN_FDS=%u", listen_fds);
        v[k] = NULL;
        return v;
}

int process_set_misc(const struct oci_process *p, struct berth_error **err)
{
        if (p->user.has_umask)
                umask((mode_t)p->user.umask & 0777);
        else
                umask(022);
        return 0;
}

/* ioPriority, scheduler (policy, nice, priority) and linux.personality. */
int process_set_sched(const struct oci_process *p, const struct json *pers_json,
                      struct berth_error **err)
{
        if (p->io_priority) {
                int v = (p->io_priority->class_ << 13) | (p->io_priority->priority & 0x1fff);
                if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, v) < 0)
                        return berth_error_sys(err, errno, "set io priority");
        }
        const struct oci_scheduler *s = p->scheduler;
        if (s) {
                static const struct {
                        const char *name;
                        int policy;
                } pol[] = {{"SCHED_OTHER", SCHED_OTHER},
                           {"SCHED_FIFO", SCHED_FIFO},
                           {"SCHED_RR", SCHED_RR},
                           {"SCHED_BATCH", SCHED_BATCH},
                           {"SCHED_IDLE", SCHED_IDLE}};
                int policy = -1;
                for (size_t i = 0; s->policy && i < ELEMENTSOF(pol); i++)
                        if (!strcmp(s->policy, pol[i].name))
                                policy = pol[i].policy;
                if (policy < 0)
                        return berth_error_set(err, ENOTSUP,
                                               "scheduler policy '%s' is not supported",
                                               s->policy ? s->policy : "");
                struct sched_param sp = {.sched_priority = s->priority};
                if (sched_setscheduler(0, policy, &sp) < 0)
                        return berth_error_sys(err, errno, "set scheduler %s", s->policy);
                if (s->nice && setpriority(PRIO_PROCESS, 0, s->nice) < 0)
                        return berth_error_sys(err, errno, "set nice %d", s->nice);
        }
        const char *domain = json_str(json_get(pers_json, "domain"));
        if (domain) {
                unsigned long pers;
                if (!strcmp(domain, "LINUX"))
                        pers = PER_LINUX;
                else if (!strcmp(domain, "LINUX32"))
                        pers = PER_LINUX32;
                else
                        return berth_error_set(err, ENOTSUP,
                                               "personality domain '%s' is not supported", domain);
                if (personality(pers) < 0)
                        return berth_error_sys(err, errno, "set personality %s", domain);
        }
        return 0;
}

uint64_t proc_start_time(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_free_ char *s = NULL;
        if (read_file_at(AT_FDCWD, path, 4096, &s, NULL) < 0)
                return 0;
        char *p = strrchr(s, ')');
        if (!p)
                return 0;
        /* fields after ")": state(3) ... starttime(22) */
        char state = p[2];
        if (state == 'Z' || state == 'X')
                return 0;
        int field = 2;
        for (char *c = p + 1; *c; c++) {
                if (*c == ' ') {
                        field++;
                        if (field == 22)
                                return strtoull(c + 1, NULL, 10);
                }
        }
        return 0;
}

bool proc_exiting(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_free_ char *s = NULL;
        if (read_file_at(AT_FDCWD, path, 4096, &s, NULL) < 0)
                return true;
        char *p = strrchr(s, ')');
        if (!p || !p[1] || !p[2])
                return true;
        if (p[2] == 'Z' || p[2] == 'X')
                return true;
        /* fields after ")": state(3) ppid(4) pgrp(5) session(6) tty(7) tpgid(8) flags(9) */
        int field = 2;
        for (char *c = p + 1; *c; c++)
                if (*c == ' ' && ++field == 9)
                        return (strtoul(c + 1, NULL, 10) & 0x4 /* PF_EXITING */) != 0;
        return false;
}

bool proc_alive(pid_t pid, uint64_t start_time)
{
        if (pid <= 0)
                return false;
        uint64_t st = proc_start_time(pid);
        return st != 0 && (start_time == 0 || st == start_time);
}
