/*
 * cgroup.c — a container's control group: host layout, directories, joining,
 * freezing, listing, killing, removal, and persistence (see cgroup.h).
 *
 * How it works: /proc/self/mountinfo lists every cgroup (v1) and cgroup2
 * mount; each distinct hierarchy (by superblock device) becomes one
 * `struct cg_hier`, and the container gets one directory in each of them —
 * v1 controllers, named v1 hierarchies such as name=systemd, and the cgroup2
 * mount (pure v2, or the "unified" mount of a hybrid host).  Resources are
 * routed per controller to whichever hierarchy carries it (cgroup-res.c, then
 * cgroup-v1.c, cgroup-v2.c, cgroup-bpf.c), so hybrid needs no special case
 * beyond that; usage counters are in cgroup-stats.c.
 *
 * Freezing uses the v1 freezer where one is mounted, else cgroup.freeze;
 * SIGKILL to everything uses cgroup.kill where the cgroup2 tree has it, then
 * freeze + signal each task + thaw for whatever is left (or for other
 * signals).  Destroy tries one rmdir per hierarchy and only on refusal kills
 * leftovers and removes sub-cgroups the container made, deepest first.
 *
 * An absolute cgroupsPath is taken as is under every hierarchy's mount; a
 * relative one under this process's own cgroup in that hierarchy (as runc
 * does); NULL or "" means "/berth/<id>".  ".." components are refused.
 *
 * Never: remove a directory this library did not create (struct cg_hier
 * records how many trailing components it made); print; exit.
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "runtime/cgroup-internal.h"

#define CG_BUSY_RETRY_MS     2000 /* rmdir of a cgroup whose last tasks are still exiting */
#define CG_FREEZE_TIMEOUT_MS 5000

static const char *const v1_controller_names[] = {
    "cpuset",     "cpu",      "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls",
    "perf_event", "net_prio", "hugetlb", "pids",  "rdma",   "misc",    "debug",
};

/* ---- small helpers ---- */

static void sleep_ms(unsigned ms)
{
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

static void strv_push(char ***v, char *s)
{
        size_t n = strv_len(*v);
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

static bool strv_contains(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* Split on any of `seps`, dropping empty fields. */
static char **strv_split(const char *s, const char *seps)
{
        char **v = xcalloc(1, sizeof(char *));
        while (*s) {
                size_t skip = strspn(s, seps);
                s += skip;
                size_t n = strcspn(s, seps);
                if (n == 0)
                        break;
                strv_push(&v, xstrndup(s, n));
                s += n;
        }
        return v;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s)
{
        char *out = xmalloc(strlen(s) + 1), *o = out;
        while (*s) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                    s[3] >= '0' && s[3] <= '7') {
                        *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
                        s += 4;
                } else {
                        *o++ = *s++;
                }
        }
        *o = '\0';
        return out;
}

/* "/a//b/./c/" -> "/a/b/c"; -EINVAL on a ".." component.  Keeps a leading '/' if any. */
static int clean_path(const char *in, char **ret)
{
        _cleanup_strv_free_ char **parts = strv_split(in, "/");
        struct berth_buf b = BERTH_BUF_INIT;
        if (in[0] == '/')
                buf_putc(&b, '/');
        bool first = true;
        for (size_t i = 0; parts[i]; i++) {
                if (strcmp(parts[i], ".") == 0)
                        continue;
                if (strcmp(parts[i], "..") == 0) {
                        buf_release(&b);
                        return -EINVAL;
                }
                if (!first)
                        buf_putc(&b, '/');
                buf_puts(&b, parts[i]);
                first = false;
        }
        *ret = buf_steal(&b);
        return 0;
}

static char *path_join(const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        if (*b == '\0')
                return la ? xstrndup(a, la) : xstrdup("/");
        return xasprintf("%.*s/%s", (int)la, a, b);
}

/* ---- knob I/O shared by every cgroup*.c ---- */

bool cg_has_file(const struct cg_hier *h, const char *file)
{
        _cleanup_free_ char *p = path_join(h->dir, file);
        return access(p, F_OK) == 0;
}

int cg_write(const struct cg_hier *h, const char *file, const char *value, struct berth_error **err)
{
        _cleanup_free_ char *p = path_join(h->dir, file);
        int r = write_string_file(p, value);
        const char *dot = strchr(file, '.');
        if (r == -ENOENT && h->v2 && dot && strncmp(file, "cgroup.", 7) != 0)
                /* on v2 a missing knob means its controller was not delegated here */
                return berth_error_set(err, ENOENT,
                                       "set %s to %s in '%s': the %.*s controller is not enabled "
                                       "there (see cgroup.subtree_control of its parent)",
                                       file, value, h->dir, (int)(dot - file), file);
        if (r < 0)
                return berth_error_sys(err, r, "set %s to %s in '%s'", file, value, h->dir);
        return 0;
}

int cg_writef(const struct cg_hier *h, const char *file, struct berth_error **err, const char *fmt,
              ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *v = NULL;
        if (vasprintf(&v, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        return cg_write(h, file, v, err);
}

int cg_read_at(const char *dir, const char *file, char **ret, struct berth_error **err)
{
        _cleanup_free_ char *p = path_join(dir, file);
        char *s = NULL;
        size_t len = 0;
        int r = read_file_at(AT_FDCWD, p, 1u << 20, &s, &len);
        if (r < 0)
                return berth_error_sys(err, r, "read %s in '%s'", file, dir);
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
                s[--len] = '\0';
        *ret = s;
        return 0;
}

int cg_read(const struct cg_hier *h, const char *file, char **ret, struct berth_error **err)
{
        return cg_read_at(h->dir, file, ret, err);
}

struct cg_hier *cg_find(const struct berth_cgroup *cg, const char *controller)
{
        for (size_t i = 0; i < cg->n; i++)
                if (!cg->h[i].v2 && strv_contains(cg->h[i].controllers, controller))
                        return &cg->h[i];
        for (size_t i = 0; i < cg->n; i++)
                if (cg->h[i].v2 && strv_contains(cg->h[i].controllers, controller))
                        return &cg->h[i];
        return NULL;
}

struct cg_hier *cg_v2(const struct berth_cgroup *cg)
{
        for (size_t i = 0; i < cg->n; i++)
                if (cg->h[i].v2)
                        return &cg->h[i];
        return NULL;
}

/* ---- host layout ---- */

struct cg_mount {
        char *mount, *root, *dev;
        bool v2;
        char **controllers;
};

static void cg_mount_release(struct cg_mount *m)
{
        free(m->mount);
        free(m->root);
        free(m->dev);
        strv_free(m->controllers);
}

static void cg_mounts_free(struct cg_mount *m, size_t n)
{
        for (size_t i = 0; i < n; i++)
                cg_mount_release(&m[i]);
        free(m);
}

static char **v1_controllers_of(const char *superopts)
{
        _cleanup_strv_free_ char **opts = strv_split(superopts, ",");
        char **v = xcalloc(1, sizeof(char *));
        for (size_t i = 0; opts[i]; i++) {
                bool known = strncmp(opts[i], "name=", 5) == 0;
                for (size_t k = 0; !known && k < ELEMENTSOF(v1_controller_names); k++)
                        known = strcmp(opts[i], v1_controller_names[k]) == 0;
                if (known)
                        strv_push(&v, xstrdup(opts[i]));
        }
        return v;
}

/* Parse one mountinfo line; returns true for a cgroup or cgroup2 mount. */
static bool parse_mountinfo_line(char *line, struct cg_mount *ret)
{
        _cleanup_strv_free_ char **f = strv_split(line, " ");
        size_t n = strv_len(f), sep = 0;
        for (size_t i = 6; i < n; i++)
                if (strcmp(f[i], "-") == 0) {
                        sep = i;
                        break;
                }
        if (sep == 0 || n < sep + 4)
                return false;
        const char *fstype = f[sep + 1];
        bool v2 = strcmp(fstype, "cgroup2") == 0;
        if (!v2 && strcmp(fstype, "cgroup") != 0)
                return false;
        *ret = (struct cg_mount){
            .mount = unescape_octal(f[4]),
            .root = unescape_octal(f[3]),
            .dev = xstrdup(f[2]),
            .v2 = v2,
            .controllers = v2 ? NULL : v1_controllers_of(f[sep + 3]),
        };
        return true;
}

/* Every distinct cgroup hierarchy mounted in this mount namespace. */
static int read_mounts(struct cg_mount **ret, size_t *ret_n, struct berth_error **err)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", 64u << 20, &text, NULL);
        if (r < 0)
                return berth_error_sys(err, r, "read '/proc/self/mountinfo'");
        struct cg_mount *m = NULL;
        size_t n = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                struct cg_mount c;
                if (!parse_mountinfo_line(line, &c))
                        continue;
                size_t k;
                for (k = 0; k < n; k++)
                        if (strcmp(m[k].dev, c.dev) == 0)
                                break;
                if (k < n) {
                        /* the same hierarchy mounted twice: prefer the /sys/fs/cgroup one */
                        bool better = strncmp(c.mount, "/sys/fs/cgroup", 14) == 0 &&
                                      strncmp(m[k].mount, "/sys/fs/cgroup", 14) != 0;
                        struct cg_mount drop = better ? m[k] : c;
                        if (better)
                                m[k] = c;
                        cg_mount_release(&drop);
                        continue;
                }
                m = xrealloc(m, (n + 1) * sizeof(*m));
                m[n++] = c;
        }
        if (n == 0) {
                free(m);
                return berth_error_set(err, ENOENT, "no cgroup filesystem is mounted on this host");
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

static enum cgroup_mode mode_of(const struct cg_mount *m, size_t n)
{
        bool v1 = false, v2 = false;
        for (size_t i = 0; i < n; i++) {
                if (m[i].v2)
                        v2 = true;
                else
                        v1 = true;
        }
        return v1 && v2 ? CGROUP_MODE_HYBRID : v2 ? CGROUP_MODE_V2 : CGROUP_MODE_V1;
}

int cgroup_detect_mode(enum cgroup_mode *ret, struct berth_error **err)
{
        struct cg_mount *m = NULL;
        size_t n = 0;
        int r = read_mounts(&m, &n, err);
        if (r < 0)
                return r;
        *ret = mode_of(m, n);
        cg_mounts_free(m, n);
        return 0;
}

const char *cgroup_mode_name(enum cgroup_mode m)
{
        switch (m) {
        case CGROUP_MODE_V1:
                return "v1";
        case CGROUP_MODE_V2:
                return "v2";
        case CGROUP_MODE_HYBRID:
                return "hybrid";
        }
        return "unknown";
}

/* This process's cgroup in the hierarchy of mount m (from /proc/self/cgroup). */
static int own_cgroup(const struct cg_mount *m, char **ret, struct berth_error **err)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(AT_FDCWD, "/proc/self/cgroup", 1u << 20, &text, NULL);
        if (r < 0)
                return berth_error_sys(err, r, "read '/proc/self/cgroup'");
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                const char *ctrls = c1 + 1;
                bool match;
                if (m->v2) {
                        match = strncmp(line, "0:", 2) == 0 && *ctrls == '\0';
                } else {
                        _cleanup_strv_free_ char **v = strv_split(ctrls, ",");
                        match = *ctrls != '\0' && strv_len(v) == strv_len(m->controllers);
                        for (size_t i = 0; match && v[i]; i++)
                                match = strv_contains(m->controllers, v[i]);
                }
                if (match) {
                        *ret = xstrdup(c2 + 1);
                        return 0;
                }
        }
        return berth_error_set(err, ENOENT,
                               "no entry for the hierarchy mounted at '%s' in '/proc/self/cgroup'",
                               m->mount);
}

/* ---- create ---- */

static void hier_release(struct cg_hier *h)
{
        free(h->mount);
        strv_free(h->controllers);
        free(h->path);
        free(h->dir);
}

void cgroup_free(struct berth_cgroup *cg)
{
        if (!cg)
                return;
        for (size_t i = 0; i < cg->n; i++)
                hier_release(&cg->h[i]);
        free(cg->h);
        if (cg->v2_fd >= 0)
                close(cg->v2_fd);
        free(cg);
}

static int hier_init(struct cg_hier *h, const struct cg_mount *m, const char *cpath,
                     bool hybrid, struct berth_error **err)
{
        h->mount = xstrdup(m->mount);
        h->v2 = m->v2;
        if (m->v2) {
                _cleanup_free_ char *list = NULL;
                /* an unreadable list just means: no controllers to route here.  On a
                 * hybrid host the cgroup2 root is the host's to configure: only what it
                 * already delegates (its subtree_control) is ours to use */
                if (cg_read_at(m->mount, hybrid ? "cgroup.subtree_control" : "cgroup.controllers",
                               &list, NULL) == 0)
                        h->controllers = strv_split(list, " \n");
                else
                        h->controllers = xcalloc(1, sizeof(char *));
        } else {
                size_t k = strv_len(m->controllers);
                h->controllers = xcalloc(k + 1, sizeof(char *));
                for (size_t i = 0; i < k; i++)
                        h->controllers[i] = xstrdup(m->controllers[i]);
        }
        if (cpath[0] == '/') {
                h->path = xstrdup(cpath);
                h->dir = path_join(m->mount, cpath);
                return 0;
        }
        _cleanup_free_ char *own = NULL;
        int r = own_cgroup(m, &own, err);
        if (r < 0)
                return r;
        /* a mount of a sub-tree (mountinfo root != "/") shows own's path below that root */
        const char *rel = own;
        size_t lr = strlen(m->root);
        if (strcmp(m->root, "/") != 0 && strncmp(own, m->root, lr) == 0 &&
            (own[lr] == '/' || own[lr] == '\0'))
                rel = own + lr;
        h->path = path_join(own, cpath);
        _cleanup_free_ char *base = path_join(m->mount, rel);
        h->dir = path_join(base, cpath);
        return 0;
}

/* mkdir every missing component of h->dir below the mount; count what we made. */
static int hier_mkdirs(struct cg_hier *h, struct berth_error **err)
{
        size_t lm = strlen(h->mount);
        _cleanup_free_ char *p = xstrdup(h->dir);
        for (char *s = p + lm; s && *s;) {
                char *slash = strchr(s + 1, '/');
                if (slash)
                        *slash = '\0';
                if (mkdir(p, 0755) == 0) {
                        h->created++;
                } else if (errno != EEXIST) {
                        return berth_error_sys(err, errno, "create cgroup '%s'", p);
                } else if (h->created > 0) {
                        /* someone raced us to a level below one we made: not ours */
                        h->created = 0;
                }
                if (slash)
                        *slash = '/';
                s = slash;
        }
        return 0;
}

static int parse_systemd_path(const char *cpath, struct berth_error **err)
{
        /* the driver needs systemd as PID 1 reachable over D-Bus; sd_booted()'s test */
        if (access("/run/systemd/system", F_OK) < 0)
                return berth_error_set(
                    err, ENOTSUP, "systemd cgroup driver: systemd is not running on this host");
        return berth_error_set(err, ENOTSUP,
                               "systemd cgroup driver: cgroupsPath '%s': transient units over "
                               "D-Bus are not supported by berth; use the cgroupfs driver",
                               cpath ? cpath : "");
}

int cgroup_create(const char *cgroups_path, const char *container_id,
                  const struct oci_resources *res, bool systemd, struct berth_cgroup **ret,
                  struct berth_error **err)
{
        if (systemd)
                return parse_systemd_path(cgroups_path, err);
        _cleanup_free_ char *cpath = NULL;
        const char *want = cgroups_path;
        _cleanup_free_ char *dflt = NULL;
        if (!want || !*want) {
                if (!container_id || !*container_id)
                        return berth_error_set(err, EINVAL,
                                               "cgroupsPath is empty and there is no container id");
                want = dflt = xasprintf("/berth/%s", container_id);
        }
        if (clean_path(want, &cpath) < 0)
                return berth_error_set(err, EINVAL, "cgroupsPath '%s': '..' is not allowed", want);
        if (strcmp(cpath, "/") == 0 || *cpath == '\0')
                return berth_error_set(err, EINVAL,
                                       "cgroupsPath '%s': names no cgroup below the root", want);

        struct cg_mount *m = NULL;
        size_t n = 0;
        int r = read_mounts(&m, &n, err);
        if (r < 0)
                return r;
        _cleanup_cgroup_ struct berth_cgroup *cg = xcalloc(1, sizeof(*cg));
        cg->v2_fd = -EBADF;
        cg->mode = mode_of(m, n);
        cg->h = xcalloc(n, sizeof(*cg->h));
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = hier_init(&cg->h[i], &m[i], cpath, cg->mode == CGROUP_MODE_HYBRID, err);
                cg->n = i + 1;
        }
        cg_mounts_free(m, n);
        if (r < 0)
                return r;

        for (size_t i = 0; i < cg->n && r >= 0; i++) {
                struct cg_hier *h = &cg->h[i];
                r = hier_mkdirs(h, err);
                if (r >= 0 && !h->v2 && strv_contains(h->controllers, "cpuset"))
                        r = cg_v1_cpuset_init(h, err);
                if (r >= 0 && h->v2)
                        r = cg_v2_enable_controllers(h, cg->mode == CGROUP_MODE_HYBRID, err);
        }
        if (r >= 0 && res)
                r = cg_apply(cg, res, err);
        if (r >= 0 && cg_v2(cg)) { /* pure v2 or hybrid: clone3 enters it */
                struct cg_hier *h = cg_v2(cg);
                cg->v2_fd = open(h->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (cg->v2_fd < 0)
                        r = berth_error_sys(err, errno, "open cgroup '%s'", h->dir);
        }
        if (r < 0) {
                cgroup_destroy(cg, NULL);
                return r;
        }
        *ret = TAKE_PTR(cg);
        return 0;
}

int cgroup_v2_fd(const struct berth_cgroup *cg)
{
        return cg->v2_fd >= 0 ? cg->v2_fd : -1;
}

enum cgroup_mode cgroup_get_mode(const struct berth_cgroup *cg)
{
        return cg->mode;
}

size_t cgroup_n_hierarchies(const struct berth_cgroup *cg)
{
        return cg->n;
}

int cgroup_hierarchy(const struct berth_cgroup *cg, size_t i, const char **ret_mount,
                     const char **ret_dir, bool *ret_v2)
{
        if (i >= cg->n)
                return -ERANGE;
        if (ret_mount)
                *ret_mount = cg->h[i].mount;
        if (ret_dir)
                *ret_dir = cg->h[i].dir;
        if (ret_v2)
                *ret_v2 = cg->h[i].v2;
        return 0;
}

const char *cgroup_path(const struct berth_cgroup *cg)
{
        struct cg_hier *h = cg_v2(cg);
        if (!h && cg->n > 0)
                h = &cg->h[0];
        return h ? h->path : "";
}

int cgroup_enter(const struct berth_cgroup *cg, pid_t pid, struct berth_error **err)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        for (size_t i = 0; i < cg->n; i++) {
                _cleanup_free_ char *p = path_join(cg->h[i].dir, "cgroup.procs");
                int r = write_string_file(p, buf);
                if (r < 0)
                        return berth_error_sys(err, r, "add pid %d to '%s'", (int)pid, p);
        }
        return 0;
}

int cgroup_join_open(const struct berth_cgroup *cg, struct cgroup_join *ret,
                     struct berth_error **err)
{
        struct cgroup_join j = {.fds = xcalloc(cg->n + 1, sizeof(int)),
                                .paths = xcalloc(cg->n + 1, sizeof(char *))};
        for (size_t i = 0; i < cg->n; i++) {
                const struct cg_hier *h = &cg->h[i];
                if (h->v2 && cg->v2_fd >= 0)
                        continue; /* clone3(CLONE_INTO_CGROUP) */
                /* v2 without a directory fd (it went away): cgroup.procs, which takes the
                 * threadgroup lock, but says so when the cgroup is gone */
                char *p = path_join(h->dir, h->v2 ? "cgroup.procs" : "tasks");
                int fd = open(p, O_WRONLY | O_CLOEXEC);
                if (fd < 0) {
                        int e = errno;
                        free(p);
                        cgroup_join_release(&j);
                        return berth_error_sys(err, e, "open cgroup '%s'", h->dir);
                }
                j.fds[j.n] = fd;
                j.paths[j.n++] = p;
        }
        *ret = j;
        return 0;
}

int cgroup_join_self(struct cgroup_join *j, struct berth_error **err)
{
        int r = 0;
        for (size_t i = 0; i < j->n; i++) {
                if (r == 0 && write(j->fds[i], "0", 1) != 1)
                        r = berth_error_sys(err, errno, "join cgroup '%s'", j->paths[i]);
                close(j->fds[i]);
                j->fds[i] = -1;
        }
        return r;
}

void cgroup_join_release(struct cgroup_join *j)
{
        for (size_t i = 0; i < j->n; i++) {
                if (j->fds[i] >= 0)
                        close(j->fds[i]);
                free(j->paths[i]);
        }
        free(j->fds);
        free(j->paths);
        memset(j, 0, sizeof(*j));
}

int cgroup_update(struct berth_cgroup *cg, const struct oci_resources *res,
                  struct berth_error **err)
{
        if (!res)
                return 0;
        return cg_apply(cg, res, err);
}

/* ---- freeze ---- */

static int wait_file_value(const struct cg_hier *h, const char *file, const char *want,
                           const char *rewrite_file, const char *rewrite, struct berth_error **err)
{
        uint64_t start = now_ms();
        unsigned delay = 1;
        for (unsigned iter = 0;; iter++) {
                _cleanup_free_ char *v = NULL;
                int r = cg_read(h, file, &v, err);
                if (r < 0)
                        return r;
                /* cgroup.events is "key value" lines; freezer.state one word */
                bool ok = strcmp(v, want) == 0;
                if (!ok) {
                        const char *hit = strstr(v, want);
                        size_t lw = strlen(want);
                        ok = hit && (hit == v || hit[-1] == '\n') &&
                             (hit[lw] == '\n' || hit[lw] == '\0');
                }
                if (ok)
                        return 0;
                if (now_ms() - start > CG_FREEZE_TIMEOUT_MS)
                        return berth_error_set(err, ETIMEDOUT,
                                               "cgroup '%s': %s did not become '%s' within %d ms",
                                               h->dir, file, want, CG_FREEZE_TIMEOUT_MS);
                /* a v1 freezer can stay FREEZING when a task raced the freeze: ask again */
                if (rewrite_file && iter % 10 == 9) {
                        r = cg_write(h, rewrite_file, rewrite, err);
                        if (r < 0)
                                return r;
                }
                sleep_ms(delay);
                if (delay < 10)
                        delay++;
        }
}

int cgroup_freeze(struct berth_cgroup *cg, bool freeze, struct berth_error **err)
{
        struct cg_hier *h = cg_find(cg, "freezer");
        if (h && !h->v2) {
                const char *state = freeze ? "FROZEN" : "THAWED";
                int r = cg_write(h, "freezer.state", state, err);
                if (r < 0)
                        return r;
                r = wait_file_value(h, "freezer.state", state, "freezer.state", state, err);
                if (r < 0 && freeze)
                        (void)cg_write(h, "freezer.state", "THAWED", NULL);
                return r;
        }
        h = cg_v2(cg);
        if (!h || !cg_has_file(h, "cgroup.freeze"))
                return berth_error_set(err, ENOTSUP,
                                       "freeze cgroup '%s': no freezer on this host (no v1 freezer "
                                       "hierarchy, no cgroup.freeze)",
                                       cgroup_path(cg));
        int r = cg_write(h, "cgroup.freeze", freeze ? "1" : "0", err);
        if (r < 0)
                return r;
        r = wait_file_value(h, "cgroup.events", freeze ? "frozen 1" : "frozen 0", NULL, NULL, err);
        if (r < 0 && freeze)
                (void)cg_write(h, "cgroup.freeze", "0", NULL);
        return r;
}

int cgroup_is_frozen(const struct berth_cgroup *cg, bool *ret, struct berth_error **err)
{
        struct cg_hier *h = cg_find(cg, "freezer");
        _cleanup_free_ char *v = NULL;
        if (h && !h->v2) {
                int r = cg_read(h, "freezer.state", &v, err);
                if (r < 0)
                        return r;
                *ret = strcmp(v, "FROZEN") == 0;
                return 0;
        }
        h = cg_v2(cg);
        if (!h || !cg_has_file(h, "cgroup.freeze")) {
                *ret = false;
                return 0;
        }
        int r = cg_read(h, "cgroup.freeze", &v, err);
        if (r < 0)
                return r;
        *ret = strcmp(v, "1") == 0;
        return 0;
}

/* ---- pids, kill ---- */

static int pid_cmp(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

static int collect_pids(const char *dir, unsigned depth, pid_t **v, size_t *n,
                        struct berth_error **err)
{
        _cleanup_free_ char *procs = NULL;
        int r = cg_read_at(dir, "cgroup.procs", &procs, NULL);
        if (r == -ENOENT)
                return 0; /* removed meanwhile (or by destroy's fast path): empty */
        if (r < 0)
                return berth_error_sys(err, r, "read cgroup.procs in '%s'", dir);
        char *save = NULL;
        for (char *t = strtok_r(procs, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                int64_t pid;
                if (parse_i64(t, &pid) < 0 || pid <= 0)
                        continue;
                *v = xrealloc(*v, (*n + 1) * sizeof(pid_t));
                (*v)[(*n)++] = (pid_t)pid;
        }
        if (depth > 64)
                return 0;
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : berth_error_sys(err, errno, "list cgroup '%s'", dir);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *sub = path_join(dir, de->d_name);
                r = collect_pids(sub, depth + 1, v, n, err);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        return 0;
}

int cgroup_pids(const struct berth_cgroup *cg, pid_t **ret, size_t *ret_n, struct berth_error **err)
{
        pid_t *v = NULL;
        size_t n = 0;
        for (size_t i = 0; i < cg->n; i++) {
                int r = collect_pids(cg->h[i].dir, 0, &v, &n, err);
                if (r < 0) {
                        free(v);
                        return r;
                }
        }
        if (n > 1)
                qsort(v, n, sizeof(pid_t), pid_cmp);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
                if (u == 0 || v[u - 1] != v[i])
                        v[u++] = v[i];
        *ret = v;
        *ret_n = u;
        return 0;
}

int cgroup_kill_all(const struct berth_cgroup *cg, int sig, struct berth_error **err)
{
        struct cg_hier *h2 = cg_v2(cg);
        if (sig == SIGKILL && h2 && cg_has_file(h2, "cgroup.kill")) {
                int r = cg_write(h2, "cgroup.kill", "1", err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = cgroup_pids(cg, &pids, &n, err);
        if (r < 0 || n == 0)
                return r;
        /* freeze so nothing forks past the signal; without a freezer, signal anyway.
         * A paused container stays paused, except for SIGKILL, which needs
         * the tasks running to take effect on v1. */
        struct berth_cgroup *mut = (struct berth_cgroup *)cg;
        bool was_frozen = false;
        (void)cgroup_is_frozen(cg, &was_frozen, NULL);
        bool frozen = was_frozen || cgroup_freeze(mut, true, NULL) == 0;
        if (frozen) {
                free(pids);
                pids = NULL;
                r = cgroup_pids(cg, &pids, &n, err);
        }
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (kill(pids[i], sig) < 0 && errno != ESRCH) {
                        r = berth_error_sys(err, errno, "send signal %d to pid %d of cgroup '%s'",
                                            sig, (int)pids[i], cgroup_path(cg));
                }
        if (frozen && (!was_frozen || sig == SIGKILL)) {
                int t = cgroup_freeze(mut, false, r < 0 ? NULL : err);
                if (r >= 0)
                        r = t;
        }
        return r;
}

/* ---- destroy ---- */

static int rmdir_retry(const char *dir)
{
        uint64_t start = now_ms();
        for (;;) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY || now_ms() - start > CG_BUSY_RETRY_MS)
                        return -errno;
                sleep_ms(10);
        }
}

/* Sub-cgroups the container made inside its own cgroup, deepest first. */
static int rmdir_children(const char *dir, unsigned depth)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *sub = path_join(dir, de->d_name);
                int k = depth < 64 ? rmdir_children(sub, depth + 1) : 0;
                if (k == 0)
                        k = rmdir_retry(sub);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

/* fast: one rmdir, -EBUSY (no error set) when tasks or sub-cgroups are left */
static int hier_remove(struct cg_hier *h, bool fast, struct berth_error **err)
{
        if (h->created == 0)
                return 0;
        int r;
        if (fast) {
                r = rmdir(h->dir) < 0 && errno != ENOENT ? -errno : 0;
                if (r == -EBUSY || r == -ENOTEMPTY)
                        return -EBUSY;
        } else {
                r = rmdir_children(h->dir, 0);
                if (r == 0)
                        r = rmdir_retry(h->dir);
        }
        if (r < 0)
                return berth_error_sys(err, r, "remove cgroup '%s'", h->dir);
        /* ancestors we made: stop quietly at the first one still in use (shared parent) */
        _cleanup_free_ char *p = xstrdup(h->dir);
        for (unsigned i = 1; i < h->created; i++) {
                char *slash = strrchr(p, '/');
                if (!slash || (size_t)(slash - p) <= strlen(h->mount))
                        break;
                *slash = '\0';
                if (rmdir(p) < 0 && errno != ENOENT)
                        break;
        }
        h->created = 0;
        return 0;
}

int cgroup_destroy(struct berth_cgroup *cg, struct berth_error **err)
{
        bool any = false;
        for (size_t i = 0; i < cg->n; i++)
                any |= cg->h[i].created > 0;
        if (!any)
                return 0;
        /* the usual case, an empty cgroup, costs one rmdir per hierarchy; the
         * first one refused means leftovers: kill them, then remove sub-cgroups */
        bool fast = true;
        int ret = 0;
        for (size_t i = 0; i < cg->n; i++) {
                int r = hier_remove(&cg->h[i], fast, ret < 0 ? NULL : err);
                if (r == -EBUSY && fast) {
                        fast = false;
                        _cleanup_free_ pid_t *pids = NULL;
                        size_t n = 0;
                        if (cgroup_pids(cg, &pids, &n, NULL) == 0 && n > 0) {
                                r = cgroup_kill_all(cg, SIGKILL, err);
                                if (r < 0)
                                        return berth_error_prefix(err, "destroy cgroup '%s'",
                                                                  cgroup_path(cg));
                        }
                        r = hier_remove(&cg->h[i], false, ret < 0 ? NULL : err);
                }
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (cg->v2_fd >= 0) {
                close(cg->v2_fd);
                cg->v2_fd = -EBADF;
        }
        return ret;
}

void cgroup_release_empty(struct berth_cgroup *cg)
{
        if (!cg)
                return;
        for (size_t i = 0; i < cg->n; i++) {
                /* its own directory whoever made it; the ancestors only where cg made them */
                if (cg->h[i].created == 0)
                        cg->h[i].created = 1;
                (void)hier_remove(&cg->h[i], true, NULL);
        }
        cgroup_free(cg);
}

int cgroup_remove_path(const char *cgroups_path, struct berth_error **err)
{
        _cleanup_cgroup_ struct berth_cgroup *cg = NULL;
        int r = cgroup_create(cgroups_path, NULL, NULL, false, &cg, err);
        if (r < 0)
                return r;
        /* the leaf is the container's own, whoever made it */
        for (size_t i = 0; i < cg->n; i++)
                if (cg->h[i].created == 0)
                        cg->h[i].created = 1;
        (void)cgroup_kill_all(cg, SIGKILL, NULL);
        return cgroup_destroy(cg, err);
}

/* ---- persistence ---- */

struct json *cgroup_to_json(const struct berth_cgroup *cg)
{
        struct json *j = json_new_object();
        json_set_str(j, "mode", cgroup_mode_name(cg->mode));
        json_set_bool(j, "systemd", cg->systemd);
        struct json *arr = json_object_set(j, "hierarchies", json_new_array());
        for (size_t i = 0; i < cg->n; i++) {
                const struct cg_hier *h = &cg->h[i];
                struct json *o = json_array_append(arr, json_new_object());
                json_set_str(o, "mount", h->mount);
                json_set_bool(o, "v2", h->v2);
                struct json *c = json_object_set(o, "controllers", json_new_array());
                for (size_t k = 0; h->controllers && h->controllers[k]; k++)
                        json_array_append(c, json_new_string(h->controllers[k]));
                json_set_str(o, "path", h->path);
                json_set_str(o, "dir", h->dir);
                json_set_int(o, "created", h->created);
        }
        return j;
}

static int hier_from_json(const struct json *o, struct cg_hier *h, struct berth_error **err)
{
        const char *mount = json_str(json_get(o, "mount")), *path = json_str(json_get(o, "path")),
                   *dir = json_str(json_get(o, "dir"));
        const struct json *v2 = json_get(o, "v2"), *created = json_get(o, "created"),
                          *arr = json_get(o, "controllers");
        if (!mount || !path || !dir || !json_is(v2, JSON_BOOL) || !json_is(arr, JSON_ARRAY) ||
            !json_is(created, JSON_NUMBER) || !(created->num.flags & JSON_NUM_UINT) ||
            created->num.u > 4096)
                return berth_error_set(err, EINVAL, "cgroup state: malformed hierarchy entry");
        size_t lm = strlen(mount);
        if (mount[0] != '/' || strncmp(dir, mount, lm) != 0 || dir[lm] != '/' || strstr(dir, "/.."))
                return berth_error_set(
                    err, EINVAL, "cgroup state: directory '%s' is not below '%s'", dir, mount);
        /* destroy removes directories below it: it must be a cgroup mount (or gone) */
        struct statfs sfs;
        if (statfs(mount, &sfs) == 0 && sfs.f_type != CGROUP_SUPER_MAGIC &&
            sfs.f_type != CGROUP2_SUPER_MAGIC)
                return berth_error_set(err, EINVAL, "cgroup state: '%s' is not a cgroup filesystem",
                                       mount);
        h->mount = xstrdup(mount);
        h->path = xstrdup(path);
        h->dir = xstrdup(dir);
        h->v2 = v2->b;
        h->created = (unsigned)created->num.u;
        h->controllers = xcalloc(1, sizeof(char *));
        size_t i;
        const struct json *c;
        /* (json_array_foreach's parameter must be spelled `arr`: it names the member too) */
        json_array_foreach (arr, i, c) {
                if (json_str(c))
                        strv_push(&h->controllers, xstrdup(json_str(c)));
        }
        return 0;
}

int cgroup_from_json(const struct json *j, struct berth_cgroup **ret, struct berth_error **err)
{
        const char *mode = json_str(json_get(j, "mode"));
        const struct json *arr = json_get(j, "hierarchies");
        if (!mode || !json_is(arr, JSON_ARRAY))
                return berth_error_set(err, EINVAL,
                                       "cgroup state: missing 'mode' or 'hierarchies'");
        _cleanup_cgroup_ struct berth_cgroup *cg = xcalloc(1, sizeof(*cg));
        cg->v2_fd = -EBADF;
        if (strcmp(mode, "v1") == 0)
                cg->mode = CGROUP_MODE_V1;
        else if (strcmp(mode, "v2") == 0)
                cg->mode = CGROUP_MODE_V2;
        else if (strcmp(mode, "hybrid") == 0)
                cg->mode = CGROUP_MODE_HYBRID;
        else
                return berth_error_set(err, EINVAL, "cgroup state: unknown mode '%s'", mode);
        cg->systemd = json_is(json_get(j, "systemd"), JSON_BOOL) && json_get(j, "systemd")->b;
        cg->h = xcalloc(json_len(arr) + 1, sizeof(*cg->h));
        size_t i;
        const struct json *o;
        json_array_foreach (arr, i, o) {
                int r = hier_from_json(o, &cg->h[cg->n], err);
                cg->n++;
                if (r < 0)
                        return r;
        }
        struct cg_hier *h = cg_v2(cg);
        if (h)
                cg->v2_fd = open(h->dir, O_PATH | O_DIRECTORY | O_CLOEXEC); /* gone: -1 */
        if (cg->v2_fd < 0)
                cg->v2_fd = -EBADF;
        *ret = TAKE_PTR(cg);
        return 0;
}
