/*
 * berth-cgroup-v2-check.c — runs berth's cgroup code on a pure cgroup v2
 * host, which this project's build machine (hybrid) cannot become.
 *
 * tests/integration/test_cgroup_v2_qemu.py boots a Debian kernel under qemu
 * with an initramfs of busybox plus this program (linked statically against
 * libberth's cgroup objects).  It mounts cgroup2 at /sys/fs/cgroup when that
 * is not done yet, then exercises create (every v2 resource: memory, cpu,
 * cpuset, pids, io, hugetlb, devices as eBPF, unified), clone3 with
 * CLONE_INTO_CGROUP, enter, update, freeze/thaw, pids, kill_all, destroy and
 * the error paths, and prints one "FAIL: …" line per failed check and
 * finally "CGROUPV2 OK" or "CGROUPV2 FAILED (n)".  Exit status 0 only on OK.
 *
 * With the argument "v1" it checks a pure cgroup v1 host instead: it mounts
 * every v1 controller (cpu,cpuacct and net_cls,net_prio shared, as distros
 * do) under a tmpfs at /sys/fs/cgroup and runs the v1 paths (memsw order,
 * cpuset, net_cls/net_prio, hugetlb, devices lists, freezer.state, kill
 * without cgroup.kill), ending in "CGROUPV1 OK".
 *
 * A test program: it prints and exits, unlike the library it checks.
 */
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/magic.h>

#include "base/fileio.h"
#include "runtime/cgroup-internal.h"

static int failures;

_printf_(2, 3) static void check(bool ok, const char *fmt, ...)
{
        if (ok)
                return;
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL: ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
        fflush(stdout);
        failures++;
}

static char *slurp(const char *dir, const char *file)
{
        char *v = NULL;
        if (cg_read_at(dir, file, &v, NULL) < 0)
                return xstrdup("<unreadable>");
        return v;
}

static void check_file(const struct cg_hier *h, const char *file, const char *want)
{
        _cleanup_free_ char *v = slurp(h->dir, file);
        check(strcmp(v, want) == 0, "%s/%s is '%s', want '%s'", h->dir, file, v, want);
}

static void check_error(int r, struct berth_error **err, const char *want_substr)
{
        check(r < 0, "expected an error containing '%s', got success", want_substr);
        if (r < 0)
                check(*err && strstr((*err)->msg, want_substr), "error '%s' lacks '%s'",
                      berth_error_msg(*err), want_substr);
        berth_error_free(*err);
        *err = NULL;
}

static void ok_or_report(int r, struct berth_error **err, const char *what)
{
        check(r >= 0, "%s: %s", what, berth_error_msg(*err));
        berth_error_free(*err);
        *err = NULL;
}

static pid_t sleeper(void)
{
        pid_t pid = fork();
        if (pid == 0) {
                for (;;)
                        pause();
        }
        return pid;
}

static bool pid_in(pid_t pid, const char *path)
{
        char f[64];
        snprintf(f, sizeof(f), "/proc/%d/cgroup", (int)pid);
        _cleanup_free_ char *text = NULL;
        if (read_file_at(AT_FDCWD, f, 4096, &text, NULL) < 0)
                return false;
        _cleanup_free_ char *want = xasprintf("0::%s\n", path);
        return strcmp(text, want) == 0;
}

static _noreturn_ void device_probe_child(void)
{
        int code = 0;
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                code |= 1; /* allowed c 1:3 rwm */
        fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 || errno != EPERM)
                code |= 2; /* read denied by the last rule */
        fd = open("/dev/zero", O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                code |= 4; /* write still allowed */
        fd = open("/dev/full", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 || errno != EPERM)
                code |= 8; /* denied by "deny all" */
        _exit(code);
}

static int wait_code(pid_t pid)
{
        int st = 0;
        waitpid(pid, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* A child placed straight into the cgroup by clone3 (v2) or entered after
 * fork (v1); its exit code reports device access. */
static int device_probe(struct berth_cgroup *cg)
{
        if (cgroup_v2_fd(cg) < 0) {
                pid_t pid = fork();
                if (pid == 0) {
                        if (cgroup_enter(cg, getpid(), NULL) < 0)
                                _exit(99);
                        device_probe_child();
                }
                return pid < 0 ? -errno : wait_code(pid);
        }
        struct clone_args args = {
            .flags = CLONE_INTO_CGROUP,
            .exit_signal = SIGCHLD,
            .cgroup = (uint64_t)cgroup_v2_fd(cg),
        };
        long pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0)
                return -errno;
        if (pid == 0)
                device_probe_child();
        return wait_code((pid_t)pid);
}

static uint32_t attached_device_programs(const char *dir)
{
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint32_t ids[16];
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.query.target_fd = (uint32_t)fd;
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
        attr.query.prog_cnt = 16;
        if (syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)) < 0)
                return UINT32_MAX;
        return attr.query.prog_cnt;
}

static struct oci_device_cgroup rules[] = {
    {.allow = false, .type = 'a', .major = -1, .minor = -1, .access = (char *)"rwm"},
    {.allow = true, .type = 'c', .major = 1, .minor = 3, .access = (char *)"rwm"},
    {.allow = true, .type = 'c', .major = 1, .minor = 5, .access = (char *)"rwm"},
    {.allow = false, .type = 'c', .major = 1, .minor = 5, .access = (char *)"r"},
};

static void check_resources(struct berth_cgroup *cg, const struct cg_hier *h, bool swap,
                            bool ramdisk)
{
        check_file(h, "memory.max", "67108864");
        check_file(h, "memory.low", "33554432");
        if (swap)
                check_file(h, "memory.swap.max", "33554432"); /* 96M - 64M */
        check_file(h, "cpu.weight", "39");                    /* shares 1024 */
        check_file(h, "cpu.max", "50000 100000");
        check_file(h, "cpu.max.burst", "1000");
        check_file(h, "cpuset.cpus", "0");
        check_file(h, "cpuset.mems", "0");
        check_file(h, "pids.max", "30"); /* unified overrides the 20 of pids.limit */
        check_file(h, "memory.high", "104857600");
        check_file(h, "hugetlb.2MB.max", "4194304");
        check_file(h, "io.weight", "default 4950"); /* blkio 500 */
        if (ramdisk) {
                _cleanup_free_ char *io = slurp(h->dir, "io.max");
                check(strstr(io, "1:0 rbps=1048576 wbps=max riops=max wiops=100") != NULL,
                      "io.max is '%s'", io);
        }
        check(attached_device_programs(h->dir) == 1, "%u device programs attached, want 1",
              attached_device_programs(h->dir));
        check(cgroup_v2_fd(cg) >= 0, "no v2 fd for clone3 on a pure v2 host");
}

/* A relative cgroupsPath lands below the caller's own cgroup; on v2 that cgroup
 * holds the caller, so it cannot delegate controllers, and the error says so. */
static void run_relative(void)
{
        struct berth_error *err = NULL;
        char pid[16];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        if (mkdir("/sys/fs/cgroup/berth-self", 0755) < 0 ||
            write_string_file("/sys/fs/cgroup/berth-self/cgroup.procs", pid) < 0) {
                check(false, "move into /berth-self: %s", strerror(errno));
                return;
        }
        struct berth_cgroup *cg = NULL;
        int r = cgroup_create("rel", "rel", NULL, false, &cg, &err);
        ok_or_report(r, &err, "create relative 'rel'");
        if (r == 0) {
                check(strcmp(cgroup_path(cg), "/berth-self/rel") == 0, "relative path is '%s'",
                      cgroup_path(cg));
                check(access("/sys/fs/cgroup/berth-self/rel", F_OK) == 0, "no berth-self/rel");
                ok_or_report(cgroup_destroy(cg, &err), &err, "destroy rel");
                cgroup_free(cg);
        }
        /* memory is a domain controller: refused below a cgroup with processes
         * (threaded ones such as pids are not) */
        struct oci_memory mem = {.has_limit = true, .limit = 64 << 20};
        struct oci_resources res = {.memory = &mem};
        cg = NULL;
        r = cgroup_create("rel2", "rel2", &res, false, &cg, &err);
        check_error(r, &err, "the memory controller is not enabled there");
        if (r == 0) {
                cgroup_destroy(cg, NULL);
                cgroup_free(cg);
        }
        check(access("/sys/fs/cgroup/berth-self/rel2", F_OK) < 0, "failed create left rel2");
        check(write_string_file("/sys/fs/cgroup/cgroup.procs", pid) == 0, "move back to the root");
        check(rmdir("/sys/fs/cgroup/berth-self") == 0, "rmdir berth-self: %s", strerror(errno));
}

static void run(void)
{
        struct berth_error *err = NULL;
        enum cgroup_mode mode;
        int r = cgroup_detect_mode(&mode, &err);
        ok_or_report(r, &err, "detect mode");
        check(r == 0 && mode == CGROUP_MODE_V2, "mode is %s, want v2", cgroup_mode_name(mode));

        struct stat st;
        bool ramdisk = stat("/dev/ram0", &st) == 0 && S_ISBLK(st.st_mode);
        bool swap = true; /* until the kernel says it has no swap accounting */
        struct oci_memory mem = {.has_limit = true,
                                 .limit = 64 << 20,
                                 .has_reservation = true,
                                 .reservation = 32 << 20,
                                 .has_swap = true,
                                 .swap = 96 << 20};
        struct oci_cpu cpu = {.has_shares = true,
                              .shares = 1024,
                              .has_quota = true,
                              .quota = 50000,
                              .has_period = true,
                              .period = 100000,
                              .has_burst = true,
                              .burst = 1000,
                              .cpus = (char *)"0",
                              .mems = (char *)"0"};
        struct oci_blkio_throttle rbps = {.major = 1, .minor = 0, .rate = 1048576};
        struct oci_blkio_throttle wiops = {.major = 1, .minor = 0, .rate = 100};
        struct oci_blkio blkio = {.has_weight = true, .weight = 500};
        if (ramdisk) {
                blkio.throttle[OCI_THROTTLE_READ_BPS] = &rbps;
                blkio.n_throttle[OCI_THROTTLE_READ_BPS] = 1;
                blkio.throttle[OCI_THROTTLE_WRITE_IOPS] = &wiops;
                blkio.n_throttle[OCI_THROTTLE_WRITE_IOPS] = 1;
        } else {
                printf("NOTE: no /dev/ram0 (brd), io.max not checked\n");
        }
        struct oci_hugepage_limit huge = {.page_size = (char *)"2MB", .limit = 4 << 20};
        struct oci_kv unified[] = {{(char *)"pids.max", (char *)"30"},
                                   {(char *)"memory.high", (char *)"104857600"}};
        struct oci_resources res = {
            .devices = rules,
            .n_devices = 4,
            .memory = &mem,
            .cpu = &cpu,
            .has_pids_limit = true,
            .pids_limit = 20,
            .blkio = &blkio,
            .hugepage_limits = &huge,
            .n_hugepage_limits = 1,
            .unified = unified,
            .n_unified = 2,
        };
        /* swap accounting may be off: then memory.swap.max is absent and a
         * swap limit must be refused by name */
        _cleanup_free_ char *root_ctrl = slurp("/sys/fs/cgroup", "cgroup.controllers");
        printf("controllers: %s\n", root_ctrl);
        struct berth_cgroup *cg = NULL;
        r = cgroup_create("/berth-v2/c1", "c1", &res, false, &cg, &err);
        if (r < 0 && err && strstr(err->msg, "memory.swap.max does not exist")) {
                swap = false;
                berth_error_free(err);
                err = NULL;
                mem.has_swap = false;
                r = cgroup_create("/berth-v2/c1", "c1", &res, false, &cg, &err);
        }
        ok_or_report(r, &err, "create /berth-v2/c1");
        if (r < 0)
                return;
        struct cg_hier *h = cg_v2(cg);
        check(cg->n == 1 && h && strcmp(h->dir, "/sys/fs/cgroup/berth-v2/c1") == 0,
              "cgroup dir is '%s'", h ? h->dir : "(none)");
        check(strcmp(cgroup_path(cg), "/berth-v2/c1") == 0, "path is '%s'", cgroup_path(cg));
        check_resources(cg, h, swap, ramdisk);

        /* devices, in a child cloned straight into the cgroup */
        int code = device_probe(cg);
        check(code == 0,
              "device probe in the cgroup: code %d (1 null denied, 2 zero read "
              "allowed, 4 zero write denied, 8 full allowed)",
              code);

        /* enter, pids, freeze */
        pid_t a = sleeper(), b = sleeper();
        ok_or_report(cgroup_enter(cg, a, &err), &err, "enter a");
        ok_or_report(cgroup_enter(cg, b, &err), &err, "enter b");
        check(pid_in(a, "/berth-v2/c1"), "pid %d not in /berth-v2/c1", (int)a);
        pid_t *pids = NULL;
        size_t n = 0;
        ok_or_report(cgroup_pids(cg, &pids, &n, &err), &err, "pids");
        check(n == 2, "%zu pids listed, want 2", n);
        free(pids);
        struct cgroup_stats cst = {0};
        ok_or_report(cgroup_stats(cg, &cst, &err), &err, "stats");
        check(cst.has_cpu && cst.has_memory && cst.has_pids && cst.has_blkio,
              "stats: cpu %d memory %d pids %d io %d", cst.has_cpu, cst.has_memory, cst.has_pids,
              cst.has_blkio);
        check(cst.pids_current == 2 && cst.pids_limit == 30, "stats: pids %llu/%llu",
              (unsigned long long)cst.pids_current, (unsigned long long)cst.pids_limit);
        check(cst.memory_limit == 64 << 20 && cst.memory_usage > 0, "stats: memory %llu/%llu",
              (unsigned long long)cst.memory_usage, (unsigned long long)cst.memory_limit);
        bool frozen = false;
        ok_or_report(cgroup_freeze(cg, true, &err), &err, "freeze");
        ok_or_report(cgroup_is_frozen(cg, &frozen, &err), &err, "is_frozen");
        check(frozen, "not frozen after freeze");
        _cleanup_free_ char *events = slurp(h->dir, "cgroup.events");
        check(strstr(events, "frozen 1") != NULL, "cgroup.events: %s", events);
        ok_or_report(cgroup_freeze(cg, false, &err), &err, "thaw");
        ok_or_report(cgroup_is_frozen(cg, &frozen, &err), &err, "is_frozen");
        check(!frozen, "still frozen after thaw");

        /* update: new limits, new device program replacing the old one */
        struct oci_memory mem2 = {.has_limit = true, .limit = 128 << 20};
        struct oci_resources upd = {.memory = &mem2, .devices = rules, .n_devices = 2};
        ok_or_report(cgroup_update(cg, &upd, &err), &err, "update");
        check_file(h, "memory.max", "134217728");
        check(attached_device_programs(h->dir) == 1, "after update: %u device programs",
              attached_device_programs(h->dir));

        /* errors name the problem */
        struct oci_cpu rt = {.has_realtime_runtime = true, .realtime_runtime = 1000};
        struct oci_resources bad = {.cpu = &rt};
        check_error(cgroup_update(cg, &bad, &err), &err,
                    "cpu realtimeRuntime/realtimePeriod: not supported on cgroup v2");
        struct oci_memory lowswap = {
            .has_limit = true, .limit = 64 << 20, .has_swap = true, .swap = 1 << 20};
        bad = (struct oci_resources){.memory = &lowswap};
        check_error(cgroup_update(cg, &bad, &err), &err,
                    "memory+swap limit 1048576 is below the memory limit 67108864");
        struct oci_kv nosuch = {(char *)"nosuch.max", (char *)"1"};
        bad = (struct oci_resources){.unified = &nosuch, .n_unified = 1};
        check_error(cgroup_update(cg, &bad, &err), &err, "unified: 'nosuch.max' does not exist");
        bad = (struct oci_resources){.has_pids_limit = true, .pids_limit = 5};
        struct oci_network_res net = {.has_class_id = true, .class_id = 1};
        bad.network = &net;
        check_error(cgroup_update(cg, &bad, &err), &err, "network classID: the net_cls");

        /* the limit holds: memory+swap = memory means no swap (swap.max 0), and a
         * task touching more is OOM-killed, which stats count */
        struct oci_memory small = {
            .has_limit = true, .limit = 32 << 20, .has_swap = swap, .swap = 32 << 20};
        struct oci_resources sres = {.memory = &small};
        struct berth_cgroup *oc = NULL;
        r = cgroup_create("/berth-v2/oom", "oom", &sres, false, &oc, &err);
        ok_or_report(r, &err, "create /berth-v2/oom");
        if (r == 0) {
                if (swap)
                        check_file(cg_v2(oc), "memory.swap.max", "0");
                pid_t hog = fork();
                if (hog == 0) {
                        if (cgroup_enter(oc, getpid(), NULL) < 0)
                                _exit(2);
                        size_t len = 128 << 20;
                        volatile char *mm = malloc(len);
                        for (size_t i = 0; mm && i < len; i += 4096)
                                mm[i] = 1;
                        _exit(0);
                }
                int hs = 0;
                waitpid(hog, &hs, 0);
                check(WIFSIGNALED(hs) && WTERMSIG(hs) == SIGKILL, "memory hog status %#x", hs);
                struct cgroup_stats os = {0};
                ok_or_report(cgroup_stats(oc, &os, &err), &err, "stats oom");
                check(os.memory_oom_kills >= 1, "oom_kill count %llu",
                      (unsigned long long)os.memory_oom_kills);
                ok_or_report(cgroup_destroy(oc, &err), &err, "destroy oom");
                cgroup_free(oc);
        }

        /* kill_all through cgroup.kill, then destroy */
        ok_or_report(cgroup_kill_all(cg, SIGKILL, &err), &err, "kill_all");
        int ws = 0;
        check(waitpid(a, &ws, 0) == a && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
              "pid a not killed");
        check(waitpid(b, &ws, 0) == b && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
              "pid b not killed");
        pid_t c = sleeper(); /* a leftover: destroy kills it */
        ok_or_report(cgroup_enter(cg, c, &err), &err, "enter c");
        ok_or_report(cgroup_destroy(cg, &err), &err, "destroy");
        check(waitpid(c, &ws, 0) == c && WIFSIGNALED(ws), "leftover pid not killed by destroy");
        check(access("/sys/fs/cgroup/berth-v2", F_OK) < 0, "/sys/fs/cgroup/berth-v2 left behind");
        cgroup_free(cg);
        run_relative();
}

/* ---- pure cgroup v1 (guest booted with berth.mode=v1) ---- */

static const char *const v1_mounts[] = {
    "cpu,cpuacct", "cpuset",  "memory",           "devices", "freezer",    "blkio",
    "pids",        "hugetlb", "net_cls,net_prio", "rdma",    "perf_event",
};

static int mount_v1(void)
{
        mkdir("/sys/fs/cgroup", 0755);
        if (mount("cgroup", "/sys/fs/cgroup", "tmpfs", 0, "mode=755") < 0) {
                printf("FAIL: mount tmpfs on /sys/fs/cgroup: %s\n", strerror(errno));
                return -1;
        }
        for (size_t i = 0; i < ELEMENTSOF(v1_mounts); i++) {
                _cleanup_free_ char *dir = xasprintf("/sys/fs/cgroup/%s", v1_mounts[i]);
                mkdir(dir, 0755);
                if (mount("cgroup", dir, "cgroup", 0, v1_mounts[i]) < 0) {
                        printf("FAIL: mount cgroup -o %s: %s\n", v1_mounts[i], strerror(errno));
                        return -1;
                }
        }
        return 0;
}

/* Every v1 line of /proc/<pid>/cgroup names path (the "0::" line is the unmounted v2 one). */
static bool pid_in_v1(pid_t pid, const char *path)
{
        char f[64];
        snprintf(f, sizeof(f), "/proc/%d/cgroup", (int)pid);
        _cleanup_free_ char *text = NULL;
        if (read_file_at(AT_FDCWD, f, 4096, &text, NULL) < 0)
                return false;
        size_t lines = 0;
        for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
                if (strncmp(l, "0::", 3) == 0)
                        continue;
                const char *colon = strrchr(l, ':');
                if (!colon || strcmp(colon + 1, path) != 0)
                        return false;
                lines++;
        }
        return lines >= ELEMENTSOF(v1_mounts);
}

static void check_v1_resources(struct berth_cgroup *cg, bool memsw, bool ramdisk)
{
        const struct cg_hier *m = cg_find(cg, "memory"), *c = cg_find(cg, "cpu"),
                             *cs = cg_find(cg, "cpuset"), *p = cg_find(cg, "pids"),
                             *b = cg_find(cg, "blkio"), *hu = cg_find(cg, "hugetlb"),
                             *nc = cg_find(cg, "net_cls"), *dv = cg_find(cg, "devices");
        check(m && c && cs && p && b && hu && nc && dv && c == cg_find(cg, "cpuacct") &&
                  nc == cg_find(cg, "net_prio"),
              "controllers not routed to their v1 hierarchies");
        if (failures)
                return;
        check_file(m, "memory.limit_in_bytes", "67108864");
        check_file(m, "memory.soft_limit_in_bytes", "33554432");
        check_file(m, "memory.swappiness", "5");
        check_file(m, "memory.kmem.tcp.limit_in_bytes", "16777216");
        if (memsw)
                check_file(m, "memory.memsw.limit_in_bytes", "100663296");
        check_file(c, "cpu.shares", "512");
        check_file(c, "cpu.cfs_quota_us", "20000");
        check_file(c, "cpu.cfs_period_us", "100000");
        check_file(cs, "cpuset.cpus", "0");
        check_file(cs, "cpuset.mems", "0");
        check_file(p, "pids.max", "20");
        if (ramdisk)
                check_file(b, "blkio.throttle.read_bps_device", "1:0 1048576");
        check_file(hu, "hugetlb.2MB.limit_in_bytes", "4194304");
        check_file(nc, "net_cls.classid", "65537");
        _cleanup_free_ char *prio = slurp(nc->dir, "net_prio.ifpriomap");
        check(strstr(prio, "lo 3") != NULL, "net_prio.ifpriomap: %s", prio);
        check_file(dv, "devices.list", "c 1:3 rwm\nc 1:5 wm");
}

static void run_v1(void)
{
        struct berth_error *err = NULL;
        enum cgroup_mode mode;
        int r = cgroup_detect_mode(&mode, &err);
        ok_or_report(r, &err, "detect mode");
        check(r == 0 && mode == CGROUP_MODE_V1, "mode is %s, want v1", cgroup_mode_name(mode));
        bool memsw = access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
        struct stat st;
        bool ramdisk = stat("/dev/ram0", &st) == 0 && S_ISBLK(st.st_mode);
        struct oci_memory mem = {.has_limit = true,
                                 .limit = 64 << 20,
                                 .has_reservation = true,
                                 .reservation = 32 << 20,
                                 .has_swap = memsw,
                                 .swap = 96 << 20,
                                 .has_swappiness = true,
                                 .swappiness = 5,
                                 .has_kernel_tcp = true,
                                 .kernel_tcp = 16 << 20};
        struct oci_cpu cpu = {.has_shares = true,
                              .shares = 512,
                              .has_quota = true,
                              .quota = 20000,
                              .has_period = true,
                              .period = 100000,
                              .cpus = (char *)"0",
                              .mems = (char *)"0"};
        struct oci_blkio_throttle rbps = {.major = 1, .minor = 0, .rate = 1048576};
        struct oci_blkio blkio = {0};
        if (ramdisk) {
                blkio.throttle[OCI_THROTTLE_READ_BPS] = &rbps;
                blkio.n_throttle[OCI_THROTTLE_READ_BPS] = 1;
        }
        struct oci_hugepage_limit huge = {.page_size = (char *)"2MB", .limit = 4 << 20};
        struct oci_net_priority prio = {.name = (char *)"lo", .priority = 3};
        struct oci_network_res net = {
            .has_class_id = true, .class_id = 0x10001, .priorities = &prio, .n_priorities = 1};
        struct oci_resources res = {
            .devices = rules,
            .n_devices = 4,
            .memory = &mem,
            .cpu = &cpu,
            .has_pids_limit = true,
            .pids_limit = 20,
            .blkio = &blkio,
            .hugepage_limits = &huge,
            .n_hugepage_limits = 1,
            .network = &net,
        };
        struct berth_cgroup *cg = NULL;
        r = cgroup_create("/berth-v1/c1", "c1", &res, false, &cg, &err);
        ok_or_report(r, &err, "create /berth-v1/c1");
        if (r < 0)
                return;
        check(cg->n == ELEMENTSOF(v1_mounts) && !cg_v2(cg) && cgroup_v2_fd(cg) < 0,
              "%zu hierarchies, v2 %p, v2 fd %d", cg->n, (void *)cg_v2(cg), cgroup_v2_fd(cg));
        check_v1_resources(cg, memsw, ramdisk);
        int code = device_probe(cg);
        check(code == 0, "v1 device probe: code %d", code);

        pid_t a = sleeper(), b = sleeper();
        ok_or_report(cgroup_enter(cg, a, &err), &err, "enter a");
        ok_or_report(cgroup_enter(cg, b, &err), &err, "enter b");
        check(pid_in_v1(a, "/berth-v1/c1"), "pid %d not in /berth-v1/c1 everywhere", (int)a);
        pid_t *pids = NULL;
        size_t n = 0;
        ok_or_report(cgroup_pids(cg, &pids, &n, &err), &err, "pids");
        check(n == 2, "%zu pids listed, want 2", n);
        free(pids);
        struct cgroup_stats cst = {0};
        ok_or_report(cgroup_stats(cg, &cst, &err), &err, "stats");
        check(cst.has_cpu && cst.has_memory && cst.pids_current == 2 &&
                  cst.memory_limit == 64 << 20,
              "stats: cpu %d memory %llu/%llu pids %llu", cst.has_cpu,
              (unsigned long long)cst.memory_usage, (unsigned long long)cst.memory_limit,
              (unsigned long long)cst.pids_current);
        bool frozen = false;
        ok_or_report(cgroup_freeze(cg, true, &err), &err, "freeze");
        check_file(cg_find(cg, "freezer"), "freezer.state", "FROZEN");
        ok_or_report(cgroup_is_frozen(cg, &frozen, &err), &err, "is_frozen");
        check(frozen, "not frozen after freeze");
        ok_or_report(cgroup_freeze(cg, false, &err), &err, "thaw");
        check_file(cg_find(cg, "freezer"), "freezer.state", "THAWED");

        struct oci_kv kv = {(char *)"memory.max", (char *)"1"};
        struct oci_resources bad = {.unified = &kv, .n_unified = 1};
        check_error(cgroup_update(cg, &bad, &err), &err,
                    "unified: cgroup v2 is not mounted on this host (cgroup v1 only)");

        /* no cgroup.kill on v1: freeze, signal every task, thaw */
        ok_or_report(cgroup_kill_all(cg, SIGKILL, &err), &err, "kill_all");
        int ws = 0;
        check(waitpid(a, &ws, 0) == a && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
              "pid a not killed");
        check(waitpid(b, &ws, 0) == b && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
              "pid b not killed");
        ok_or_report(cgroup_destroy(cg, &err), &err, "destroy");
        for (size_t i = 0; i < ELEMENTSOF(v1_mounts); i++) {
                _cleanup_free_ char *d = xasprintf("/sys/fs/cgroup/%s/berth-v1", v1_mounts[i]);
                check(access(d, F_OK) < 0, "%s left behind", d);
        }
        cgroup_free(cg);
}

int main(int argc, char **argv)
{
        setvbuf(stdout, NULL, _IOLBF, 0);
        bool v1 = argc > 1 && strcmp(argv[1], "v1") == 0;
        const char *name = v1 ? "CGROUPV1" : "CGROUPV2";
        struct statfs s;
        if (v1) {
                if (mount_v1() < 0)
                        return 1;
                run_v1();
        } else {
                if (statfs("/sys/fs/cgroup", &s) < 0 || s.f_type != CGROUP2_SUPER_MAGIC) {
                        mkdir("/sys/fs/cgroup", 0755);
                        if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) < 0) {
                                printf("FAIL: mount cgroup2 on /sys/fs/cgroup: %s\n",
                                       strerror(errno));
                                return 1;
                        }
                }
                run();
        }
        if (failures) {
                printf("%s FAILED (%d)\n", name, failures);
                return 1;
        }
        printf("%s OK\n", name);
        return 0;
}
