/*
 * sysinfo.c — host facts for info and version (see sysinfo.h).
 *
 * The cgroup version comes from /proc/self/mountinfo (the mount at
 * /sys/fs/cgroup: "cgroup2" means a unified host; tmpfs with v1 hierarchies
 * under it, as on this project's hybrid hosts, means 1).  Feature booleans are
 * probed from the control files the limits would use, as moby's sysinfo does:
 * on v2 the root's cgroup.controllers, and for swap the daemon's own cgroup;
 * on v1 the hierarchy roots (which have no pids.max: there the mount counts).
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include "base/fileio.h"
#include "sysinfo.h"

int berth_sysinfo_cgroup_version(const char *mountinfo)
{
        /* Fields: id parent maj:min root mountpoint options [optional...] - fstype source super */
        const char *line = mountinfo;
        while (line && *line) {
                const char *end = strchrnul(line, '\n');
                char buf[1024];
                size_t n = (size_t)(end - line);
                if (n < sizeof(buf)) {
                        memcpy(buf, line, n);
                        buf[n] = '\0';
                        char *save = NULL, *f[5] = {0};
                        char *tok = strtok_r(buf, " ", &save);
                        for (int i = 0; tok && i < 5; i++, tok = strtok_r(NULL, " ", &save))
                                f[i] = tok;
                        if (f[4] && strcmp(f[4], "/sys/fs/cgroup") == 0) {
                                while (tok && strcmp(tok, "-") != 0)
                                        tok = strtok_r(NULL, " ", &save);
                                if (tok) {
                                        tok = strtok_r(NULL, " ", &save);
                                        if (tok && strcmp(tok, "cgroup2") == 0)
                                                return 2;
                                }
                        }
                }
                line = *end ? end + 1 : NULL;
        }
        return 1;
}

char *berth_sysinfo_os_release_value(const char *text, const char *key)
{
        size_t kl = strlen(key);
        const char *line = text;
        while (line && *line) {
                const char *end = strchrnul(line, '\n');
                if ((size_t)(end - line) > kl && strncmp(line, key, kl) == 0 && line[kl] == '=') {
                        const char *v = line + kl + 1;
                        size_t vl = (size_t)(end - v);
                        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
                                v++;
                                vl -= 2;
                        }
                        return xstrndup(v, vl);
                }
                line = *end ? end + 1 : NULL;
        }
        return NULL;
}

const char *berth_sysinfo_go_arch(const char *machine)
{
        static const struct {
                const char *uname, *go;
        } map[] = {
            {"x86_64", "amd64"}, {"aarch64", "arm64"},   {"i686", "386"},    {"i386", "386"},
            {"armv7l", "arm"},   {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(machine, map[i].uname) == 0)
                        return map[i].go;
        return machine;
}

char *berth_sysinfo_backing_fs(const char *path)
{
        static const struct {
                unsigned long magic;
                const char *name;
        } fs[] = {
            {0xEF53, "extfs"},        {0x58465342, "xfs"},       {0x9123683E, "btrfs"},
            {0x01021994, "tmpfs"},    {0x794c7630, "overlayfs"}, {0x2fc12fc1, "zfs"},
            {0x65735546, "fuse"},     {0x6969, "nfs"},           {0xF2F52010, "f2fs"},
            {0x52654973, "reiserfs"},
        };
        struct statfs st;
        if (statfs(path, &st) < 0)
                return xstrdup("");
        for (size_t i = 0; i < ELEMENTSOF(fs); i++)
                if ((unsigned long)st.f_type == fs[i].magic)
                        return xstrdup(fs[i].name);
        return xasprintf("<unknown> (0x%lx)", (unsigned long)st.f_type);
}

bool berth_sysinfo_supports_d_type(const char *path)
{
        _cleanup_closedir_ DIR *d = opendir(path);
        if (!d)
                return false;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_UNKNOWN)
                        return false;
        return true;
}

static bool exists(const char *p)
{
        return access(p, F_OK) == 0;
}

static bool file_is_one(const char *p)
{
        _cleanup_free_ char *s = NULL;
        if (read_file_at(AT_FDCWD, p, 64, &s, NULL) < 0)
                return false;
        return s[0] == '1';
}

/* Swap accounting on v2, probed as moby does: memory.swap.max in the daemon's
 * own cgroup (the root has none).  Not init.scope's: without systemd there
 * is none, though swap limits work. */
static bool v2_swap_limit(void)
{
        _cleanup_free_ char *self = NULL;
        if (read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16, &self, NULL) < 0)
                return false;
        for (char *l = self; l && *l;) {
                char *nl = strchr(l, '\n');
                if (nl)
                        *nl = '\0';
                if (strncmp(l, "0::/", 4) == 0) {
                        _cleanup_free_ char *p =
                            xasprintf("/sys/fs/cgroup%s/memory.swap.max", l[4] ? l + 3 : "");
                        return exists(p);
                }
                l = nl ? nl + 1 : NULL;
        }
        return false;
}

static void probe_cgroup_features(struct berth_sysinfo *s)
{
        if (s->cgroup_version == 2) {
                _cleanup_free_ char *ctl = NULL;
                (void)read_file_at(AT_FDCWD, "/sys/fs/cgroup/cgroup.controllers", 4096, &ctl, NULL);
                const char *c = ctl ? ctl : "";
                s->memory_limit = strstr(c, "memory") != NULL;
                s->swap_limit = s->memory_limit && v2_swap_limit();
                s->cpu_cfs = strstr(c, "cpu") != NULL;
                s->cpu_shares = s->cpu_cfs;
                s->cpuset = strstr(c, "cpuset") != NULL;
                s->pids_limit = strstr(c, "pids") != NULL;
                s->oom_kill_disable = false;
        } else {
                s->memory_limit = exists("/sys/fs/cgroup/memory/memory.limit_in_bytes");
                s->swap_limit = exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
                s->cpu_cfs = exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
                s->cpu_shares = exists("/sys/fs/cgroup/cpu/cpu.shares");
                s->cpuset = exists("/sys/fs/cgroup/cpuset/cpuset.cpus");
                /* a root cgroup has no pids.max: the hierarchy being there is enough */
                s->pids_limit = exists("/sys/fs/cgroup/pids/cgroup.procs");
                s->oom_kill_disable = exists("/sys/fs/cgroup/memory/memory.oom_control");
        }
}

void berth_sysinfo_get(struct berth_sysinfo *s)
{
        memset(s, 0, sizeof(*s));
        struct utsname u;
        if (uname(&u) == 0) {
                s->kernel_version = xstrdup(u.release);
                s->architecture = xstrdup(u.machine);
                s->hostname = xstrdup(u.nodename);
        } else {
                s->kernel_version = xstrdup("");
                s->architecture = xstrdup("");
                s->hostname = xstrdup("");
        }
        s->go_arch = xstrdup(berth_sysinfo_go_arch(s->architecture));

        _cleanup_free_ char *osr = NULL;
        if (read_file_at(AT_FDCWD, "/etc/os-release", 65536, &osr, NULL) < 0)
                (void)read_file_at(AT_FDCWD, "/usr/lib/os-release", 65536, &osr, NULL);
        s->operating_system = osr ? berth_sysinfo_os_release_value(osr, "PRETTY_NAME") : NULL;
        if (!s->operating_system)
                s->operating_system = xstrdup("Linux");
        s->os_version = osr ? berth_sysinfo_os_release_value(osr, "VERSION_ID") : NULL;
        if (!s->os_version)
                s->os_version = xstrdup("");

        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->ncpu = n > 0 ? (int)n : 1;
        struct sysinfo si;
        if (sysinfo(&si) == 0)
                s->mem_total = (uint64_t)si.totalram * si.mem_unit;

        _cleanup_free_ char *mi = NULL;
        (void)read_file_at(AT_FDCWD, "/proc/self/mountinfo", 4 * 1024 * 1024, &mi, NULL);
        s->cgroup_version = berth_sysinfo_cgroup_version(mi ? mi : "");
        probe_cgroup_features(s);

        s->ipv4_forwarding = file_is_one("/proc/sys/net/ipv4/ip_forward");
        s->bridge_nf_iptables = file_is_one("/proc/sys/net/bridge/bridge-nf-call-iptables");
        s->bridge_nf_ip6tables = file_is_one("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
}

void berth_sysinfo_release(struct berth_sysinfo *s)
{
        free(s->kernel_version);
        free(s->operating_system);
        free(s->os_version);
        free(s->architecture);
        free(s->go_arch);
        free(s->hostname);
        memset(s, 0, sizeof(*s));
}
