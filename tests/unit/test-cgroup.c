/*
 * test-cgroup.c — a container's cgroup on the real host (run as root): the
 * directories land where cgroupsPath says in every hierarchy, each resource
 * reaches its file with the value runc would write, a process enters every
 * hierarchy, freeze/thaw/pids/kill work, destroy leaves nothing (and nothing
 * it did not create is removed), and bad values fail with a message naming
 * the file and value.
 *
 * Everything is created under /berth-test-<pid> of the runner; the unchecked
 * teardown (run in the runner, even when a test failed) kills whatever is
 * left in there and removes it from every hierarchy.  A case whose
 * controller this host lacks is reported as skipped, with the reason, in the
 * TAP stream meson reads (check-tap.h); a part left out is said so there too.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/fileio.h"
#include "check-tap.h"
#include "runtime/cgroup-internal.h"

static char prefix[64]; /* "/berth-test-<pid>" */

/* ---- helpers ---- */

static char *tpath(const char *suffix)
{
        return xasprintf("%s/%s", prefix, suffix);
}

static struct berth_cgroup *create_ok(const char *path, const struct oci_resources *res)
{
        struct berth_error *err = NULL;
        struct berth_cgroup *cg = NULL;
        int r = cgroup_create(path, "x", res, false, &cg, &err);
        ck_assert_msg(r == 0, "create '%s': %s", path, berth_error_msg(err));
        berth_error_free(err);
        return cg;
}

static char *create_fail(const char *path, const struct oci_resources *res)
{
        struct berth_error *err = NULL;
        struct berth_cgroup *cg = NULL;
        int r = cgroup_create(path, "x", res, false, &cg, &err);
        ck_assert_msg(r < 0, "create '%s' should fail", path);
        ck_assert_ptr_null(cg);
        ck_assert_ptr_nonnull(err);
        char *m = xstrdup(err->msg);
        berth_error_free(err);
        return m;
}

static void destroy_ok(struct berth_cgroup *cg)
{
        struct berth_error *err = NULL;
        int r = cgroup_destroy(cg, &err);
        ck_assert_msg(r == 0, "destroy: %s", berth_error_msg(err));
        berth_error_free(err);
        cgroup_free(cg);
}

static char *readf(const struct cg_hier *h, const char *file)
{
        char *v = NULL;
        struct berth_error *err = NULL;
        int r = cg_read(h, file, &v, &err);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        return v;
}

#define ck_file_eq(h, file, want)                                                                  \
        do {                                                                                       \
                char *_v = readf((h), (file));                                                     \
                ck_assert_msg(strcmp(_v, (want)) == 0, "%s/%s: got '%s', want '%s'", (h)->dir,     \
                              (file), _v, (want));                                                 \
                free(_v);                                                                          \
        } while (0)

static bool dir_exists(const char *p)
{
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static pid_t spawn_sleeper(void)
{
        int ready[2];
        ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Check's handler would forward SIGTERM to the whole group, the test too */
                signal(SIGTERM, SIG_DFL);
                if (write(ready[1], "x", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        /* only signal it once its own handler is gone */
        char c;
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
        close(ready[0]);
        close(ready[1]);
        return pid;
}

static void reap(pid_t pid)
{
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
}

/* ---- fixtures: the runner sweeps /berth-test-<pid> in every hierarchy ---- */

static void sweep(const char *dir)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && de->d_name[0] != '.') {
                        _cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
                        sweep(sub);
                }
        _cleanup_free_ char *procs = NULL;
        _cleanup_free_ char *pf = xasprintf("%s/cgroup.procs", dir);
        if (read_file_at(AT_FDCWD, pf, 1 << 20, &procs, NULL) == 0)
                for (char *s = strtok(procs, "\n"); s; s = strtok(NULL, "\n")) {
                        int64_t pid = 0;
                        if (parse_i64(s, &pid) == 0 && pid > 0 && pid != getpid())
                                kill((pid_t)pid, SIGKILL);
                }
        _cleanup_free_ char *fz = xasprintf("%s/freezer.state", dir);
        (void)write_string_file(fz, "THAWED");
        for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
                usleep(10000);
}

static void setup(void)
{
        snprintf(prefix, sizeof(prefix), "/berth-test-%d", (int)getpid());
}

/* Every directory named berth-test-<runner pid>* a few levels below dir
 * (relative cgroupsPaths land below this process's own cgroup). */
static void sweep_named(const char *dir, unsigned depth)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
                if (strncmp(de->d_name, prefix + 1, strlen(prefix + 1)) == 0)
                        sweep(sub);
                else if (depth < 4)
                        sweep_named(sub, depth + 1);
        }
}

static void teardown(void)
{
        sweep_named("/sys/fs/cgroup", 0);
}

/* ---- layout and paths ---- */

START_TEST(test_detect_mode)
{
        struct statfs s;
        ck_assert_int_eq(statfs("/sys/fs/cgroup", &s), 0);
        enum cgroup_mode want = CGROUP_MODE_V1;
        if (s.f_type == CGROUP2_SUPER_MAGIC)
                want = CGROUP_MODE_V2;
        else if (statfs("/sys/fs/cgroup/unified", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
                want = CGROUP_MODE_HYBRID;
        enum cgroup_mode got;
        ck_assert_int_eq(cgroup_detect_mode(&got, NULL), 0);
        ck_assert_str_eq(cgroup_mode_name(got), cgroup_mode_name(want));
}
END_TEST

START_TEST(test_absolute_path_every_hierarchy)
{
        _cleanup_free_ char *p = tpath("abs/c1");
        struct berth_cgroup *cg = create_ok(p, NULL);
        ck_assert_str_eq(cgroup_path(cg), p);
        ck_assert_uint_gt(cg->n, 0);
        _cleanup_strv_free_ char **dirs = xcalloc(cg->n + 1, sizeof(char *));
        for (size_t i = 0; i < cg->n; i++) {
                _cleanup_free_ char *want = xasprintf("%s%s", cg->h[i].mount, p);
                ck_assert_str_eq(cg->h[i].dir, want);
                ck_assert_msg(dir_exists(want), "%s missing", want);
                dirs[i] = xasprintf("%s%s", cg->h[i].mount, prefix);
        }
        enum cgroup_mode mode;
        ck_assert_int_eq(cgroup_detect_mode(&mode, NULL), 0);
        ck_assert_int_eq(cg->mode, mode);
        /* clone3 enters the v2 tree wherever there is one, hybrid too */
        ck_assert_int_eq(cgroup_v2_fd(cg) >= 0, mode != CGROUP_MODE_V1);
        destroy_ok(cg);
        /* the prefix and abs/ were made by create: all gone */
        for (size_t i = 0; dirs[i]; i++)
                ck_assert_msg(!dir_exists(dirs[i]), "%s left behind", dirs[i]);
}
END_TEST

START_TEST(test_destroy_keeps_what_it_did_not_create)
{
        _cleanup_free_ char *parent = tpath("shared");
        _cleanup_free_ char *child = tpath("shared/c");
        struct berth_cgroup *a = create_ok(parent, NULL);
        struct berth_cgroup *b = create_ok(child, NULL);
        for (size_t i = 0; i < b->n; i++)
                ck_assert_uint_eq(b->h[i].created, 1);
        _cleanup_free_ char *pdir = xstrdup(a->h[0].dir), *cdir = xstrdup(b->h[0].dir);
        destroy_ok(b);
        ck_assert(!dir_exists(cdir));
        ck_assert(dir_exists(pdir));
        destroy_ok(a);
        ck_assert(!dir_exists(pdir));
}
END_TEST

START_TEST(test_relative_path_under_own_cgroup)
{
        _cleanup_free_ char *rel = xasprintf("%s-rel", prefix + 1);
        struct berth_cgroup *cg = create_ok(rel, NULL);
        _cleanup_free_ char *self = NULL;
        ck_assert_int_eq(read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 20, &self, NULL), 0);
        for (size_t i = 0; i < cg->n; i++) {
                const struct cg_hier *h = &cg->h[i];
                /* find this hierarchy's line: "N:<controllers>:<path>" */
                const char *key = h->v2 ? NULL : h->controllers[0];
                bool found = false;
                _cleanup_free_ char *copy = xstrdup(self);
                for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
                        char *c1 = strchr(l, ':'), *c2 = strchr(c1 + 1, ':');
                        *c2 = '\0';
                        bool match = h->v2 ? c1[1] == '\0' : false;
                        if (!h->v2) {
                                _cleanup_free_ char *ctrls = xasprintf(",%s,", c1 + 1);
                                _cleanup_free_ char *k = xasprintf(",%s,", key);
                                match = strstr(ctrls, k) != NULL;
                        }
                        if (!match)
                                continue;
                        _cleanup_free_ char *want = strcmp(c2 + 1, "/") == 0
                                                        ? xasprintf("/%s", rel)
                                                        : xasprintf("%s/%s", c2 + 1, rel);
                        ck_assert_str_eq(h->path, want);
                        found = true;
                }
                ck_assert_msg(found, "no /proc/self/cgroup line for %s", h->mount);
                ck_assert(dir_exists(h->dir));
        }
        destroy_ok(cg);
}
END_TEST

START_TEST(test_default_path_and_bad_paths)
{
        _cleanup_free_ char *id = xasprintf("%s-default", prefix + 1);
        struct berth_error *err = NULL;
        struct berth_cgroup *cg = NULL;
        ck_assert_int_eq(cgroup_create(NULL, id, NULL, false, &cg, &err), 0);
        _cleanup_free_ char *want = xasprintf("/berth/%s", id);
        ck_assert_str_eq(cgroup_path(cg), want);
        destroy_ok(cg);

        _cleanup_free_ char *m = create_fail("/a/../../etc", NULL);
        ck_assert_str_eq(m, "cgroupsPath '/a/../../etc': '..' is not allowed");
        free(m);
        m = create_fail("/", NULL);
        ck_assert_str_eq(m, "cgroupsPath '/': names no cgroup below the root");

        int r = cgroup_create("system.slice:berth:x", "x", NULL, true, &cg, &err);
        ck_assert_int_lt(r, 0);
        if (access("/run/systemd/system", F_OK) < 0)
                ck_assert_str_eq(err->msg,
                                 "systemd cgroup driver: systemd is not running on this host");
        berth_error_free(err);
}
END_TEST

/* ---- resources ---- */

START_TEST(test_memory_v1)
{
        enum cgroup_mode mode;
        ck_assert_int_eq(cgroup_detect_mode(&mode, NULL), 0);
        _cleanup_free_ char *p = tpath("mem");
        struct oci_memory mem = {
            .has_limit = true,
            .limit = 64 << 20,
            .has_reservation = true,
            .reservation = 32 << 20,
            .has_swap = true,
            .swap = 128 << 20,
            .has_swappiness = true,
            .swappiness = 10,
            .has_disable_oom_killer = true,
            .disable_oom_killer = true,
            .has_kernel = true,
            .kernel = 256 << 20,
            .has_kernel_tcp = true,
            .kernel_tcp = 16 << 20,
            .has_use_hierarchy = true,
            .use_hierarchy = true,
        };
        struct oci_resources res = {.memory = &mem};
        struct berth_cgroup *cg = create_ok(p, &res);
        struct cg_hier *h = cg_find(cg, "memory");
        if (!h || h->v2) {
                ck_skip("memory_v1: no v1 memory hierarchy on this host");
                destroy_ok(cg);
                return;
        }
        ck_file_eq(h, "memory.limit_in_bytes", "67108864");
        ck_file_eq(h, "memory.soft_limit_in_bytes", "33554432");
        ck_file_eq(h, "memory.swappiness", "10");
        ck_file_eq(h, "memory.kmem.tcp.limit_in_bytes", "16777216");
        ck_file_eq(h, "memory.use_hierarchy", "1");
        /* (memory.kmem.limit_in_bytes is written too, but Linux >= 6.x ignores it) */
        bool memsw = cg_has_file(h, "memory.memsw.limit_in_bytes");
        if (memsw)
                ck_file_eq(h, "memory.memsw.limit_in_bytes", "134217728");
        else
                ck_skip_part("memory_v1 swap: no swap accounting (memory.memsw.*) on this host");
        char *oom = readf(h, "memory.oom_control");
        ck_assert_msg(strstr(oom, "oom_kill_disable 1"), "oom_control: %s", oom);
        free(oom);

        /* grow both past the old memsw (memsw first), then shrink (limit first) */
        struct berth_error *err = NULL;
        mem = (struct oci_memory){
            .has_limit = true, .limit = 256 << 20, .has_swap = true, .swap = memsw ? 512 << 20 : 0};
        ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
        ck_file_eq(h, "memory.limit_in_bytes", "268435456");
        mem.limit = 16 << 20;
        mem.swap = memsw ? 32 << 20 : 0;
        ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
        ck_file_eq(h, "memory.limit_in_bytes", "16777216");
        if (memsw) {
                ck_file_eq(h, "memory.memsw.limit_in_bytes", "33554432");
                /* -1: unlimited memory, and memory+swap with it */
                mem = (struct oci_memory){.has_limit = true, .limit = -1};
                ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
                ck_file_eq(h, "memory.memsw.limit_in_bytes", "9223372036854771712");
                /* kernel refuses memsw below the limit: the error names file, value, dir */
                mem = (struct oci_memory){
                    .has_limit = true, .limit = 64 << 20, .has_swap = true, .swap = 1 << 20};
                ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
                _cleanup_free_ char *want = xasprintf(
                    "set memory.memsw.limit_in_bytes to 1048576 in '%s': invalid argument", h->dir);
                ck_assert_str_eq(err->msg, want);
                berth_error_free(err);
                err = NULL;
        }
        /* recent kernels refuse to turn hierarchy off: the kernel's refusal, by name */
        mem = (struct oci_memory){.has_use_hierarchy = true, .use_hierarchy = false};
        if (cgroup_update(cg, &res, &err) < 0) {
                _cleanup_free_ char *want =
                    xasprintf("set memory.use_hierarchy to 0 in '%s': invalid argument", h->dir);
                ck_assert_str_eq(err->msg, want);
                berth_error_free(err);
                err = NULL;
        }
        mem = (struct oci_memory){.has_swappiness = true, .swappiness = 200};
        ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
        ck_assert_str_eq(err->msg, "memory swappiness: invalid value 200 (valid range is 0-100)");
        berth_error_free(err);
        destroy_ok(cg);
}
END_TEST

START_TEST(test_failed_create_leaves_nothing)
{
        _cleanup_free_ char *p = tpath("fail/leaf");
        struct oci_memory mem = {.has_swappiness = true, .swappiness = 101};
        struct oci_resources res = {.memory = &mem};
        _cleanup_free_ char *m = create_fail(p, &res);
        ck_assert_str_eq(m, "memory swappiness: invalid value 101 (valid range is 0-100)");
        enum cgroup_mode mode;
        ck_assert_int_eq(cgroup_detect_mode(&mode, NULL), 0);
        _cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
        struct dirent *de;
        while ((de = readdir(d))) {
                _cleanup_free_ char *x = xasprintf("/sys/fs/cgroup/%s%s", de->d_name, prefix);
                ck_assert_msg(!dir_exists(x), "%s left behind", x);
        }
}
END_TEST

START_TEST(test_cpu_and_cpuset)
{
        _cleanup_free_ char *p = tpath("cpu");
        struct oci_cpu cpu = {
            .has_shares = true,
            .shares = 512,
            .has_quota = true,
            .quota = 50000,
            .has_period = true,
            .period = 100000,
            .has_burst = true,
            .burst = 1000,
            .has_idle = true,
            .idle = 0,
            .cpus = (char *)"0",
            .mems = (char *)"0",
        };
        struct oci_resources res = {.cpu = &cpu};
        struct berth_cgroup *cg = create_ok(p, &res);
        struct cg_hier *h = cg_find(cg, "cpu");
        ck_assert_ptr_nonnull(h);
        if (h->v2) {
                ck_file_eq(h, "cpu.weight", "20"); /* 1 + (512-2)*9999/262142 */
                ck_file_eq(h, "cpu.max", "50000 100000");
                ck_file_eq(h, "cpu.max.burst", "1000");
        } else {
                ck_file_eq(h, "cpu.shares", "512");
                ck_file_eq(h, "cpu.cfs_quota_us", "50000");
                ck_file_eq(h, "cpu.cfs_period_us", "100000");
                if (cg_has_file(h, "cpu.cfs_burst_us"))
                        ck_file_eq(h, "cpu.cfs_burst_us", "1000");
        }
        ck_file_eq(h, "cpu.idle", "0");
        struct cg_hier *cs = cg_find(cg, "cpuset");
        ck_assert_ptr_nonnull(cs);
        ck_file_eq(cs, "cpuset.cpus", "0");
        ck_file_eq(cs, "cpuset.mems", "0");

        /* quota -1 lifts the limit; shares the kernel clamps are an error on v1 */
        struct berth_error *err = NULL;
        cpu = (struct oci_cpu){.has_quota = true, .quota = -1};
        ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
        ck_file_eq(h, h->v2 ? "cpu.max" : "cpu.cfs_quota_us", h->v2 ? "max 100000" : "-1");
        if (!h->v2) {
                cpu = (struct oci_cpu){.has_shares = true, .shares = 1};
                ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
                ck_assert_msg(strstr(err->msg, "cpu shares: 1 is out of range, the kernel set 2"),
                              "%s", err->msg);
                berth_error_free(err);
        }
        destroy_ok(cg);
        ck_assert_uint_eq(cg_shares_to_weight(2), 1);
        ck_assert_uint_eq(cg_shares_to_weight(1024), 39);
        ck_assert_uint_eq(cg_shares_to_weight(262144), 10000);
        ck_assert_uint_eq(cg_blkio_to_io_weight(10), 1);
        ck_assert_uint_eq(cg_blkio_to_io_weight(1000), 10000);
}
END_TEST

START_TEST(test_cpuset_initialised_from_parent)
{
        _cleanup_free_ char *p = tpath("cs/a/b");
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct cg_hier *cs = cg_find(cg, "cpuset");
        if (!cs || cs->v2) {
                ck_skip("cpuset_initialised_from_parent: no v1 cpuset hierarchy");
                destroy_ok(cg);
                return;
        }
        _cleanup_free_ char *root_cpus = NULL;
        ck_assert_int_eq(cg_read_at(cs->mount, "cpuset.effective_cpus", &root_cpus, NULL), 0);
        ck_file_eq(cs, "cpuset.cpus", root_cpus);
        /* a task can join, which an empty cpuset refuses */
        pid_t pid = spawn_sleeper();
        struct berth_error *err = NULL;
        int r = cgroup_enter(cg, pid, &err);
        reap(pid);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        destroy_ok(cg);
}
END_TEST

START_TEST(test_cpu_realtime)
{
        struct berth_error *err = NULL;
        enum cgroup_mode mode;
        ck_assert_int_eq(cgroup_detect_mode(&mode, NULL), 0);
        struct oci_cpu cpu = {.has_realtime_period = true,
                              .realtime_period = 1000000,
                              .has_realtime_runtime = true,
                              .realtime_runtime = 10000};
        struct oci_resources res = {.cpu = &cpu};
        /* directly below the root, which holds the host's realtime budget */
        struct berth_cgroup *cg = create_ok(prefix, NULL);
        struct cg_hier *h = cg_find(cg, "cpu");
        if (h->v2) {
                ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
                ck_assert_str_eq(err->msg,
                                 "cpu realtimeRuntime/realtimePeriod: not supported on cgroup v2");
                berth_error_free(err);
        } else if (!cg_has_file(h, "cpu.rt_runtime_us")) {
                ck_skip("cpu_realtime: kernel without CONFIG_RT_GROUP_SCHED");
        } else {
                ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
                ck_file_eq(h, "cpu.rt_period_us", "1000000");
                ck_file_eq(h, "cpu.rt_runtime_us", "10000");
        }
        destroy_ok(cg);
}
END_TEST

START_TEST(test_pids)
{
        _cleanup_free_ char *p = tpath("pids");
        struct oci_resources res = {.has_pids_limit = true, .pids_limit = 10};
        struct berth_cgroup *cg = create_ok(p, &res);
        struct cg_hier *h = cg_find(cg, "pids");
        ck_assert_ptr_nonnull(h);
        ck_file_eq(h, "pids.max", "10");
        res.pids_limit = -1;
        ck_assert_int_eq(cgroup_update(cg, &res, NULL), 0);
        ck_file_eq(h, "pids.max", "max");
        destroy_ok(cg);
}
END_TEST

static int blockdev(int64_t *maj, int64_t *min)
{
        static const char *const devs[] = {"/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/loop0"};
        for (size_t i = 0; i < ELEMENTSOF(devs); i++) {
                struct stat st;
                if (stat(devs[i], &st) == 0 && S_ISBLK(st.st_mode)) {
                        *maj = major(st.st_rdev);
                        *min = minor(st.st_rdev);
                        return 0;
                }
        }
        return -ENOENT;
}

START_TEST(test_blkio)
{
        int64_t maj, min;
        if (blockdev(&maj, &min) < 0) {
                ck_skip("blkio: no block device to throttle");
                return;
        }
        _cleanup_free_ char *p = tpath("blkio");
        struct oci_blkio_throttle rbps = {.major = maj, .minor = min, .rate = 1048576};
        struct oci_blkio_throttle wiops = {.major = maj, .minor = min, .rate = 100};
        struct oci_blkio b = {.has_weight = true, .weight = 500};
        b.throttle[OCI_THROTTLE_READ_BPS] = &rbps;
        b.n_throttle[OCI_THROTTLE_READ_BPS] = 1;
        b.throttle[OCI_THROTTLE_WRITE_IOPS] = &wiops;
        b.n_throttle[OCI_THROTTLE_WRITE_IOPS] = 1;
        struct oci_resources res = {.blkio = &b};
        struct cg_hier *h;
        struct berth_cgroup *cg = create_ok(p, NULL);
        h = cg_find(cg, "blkio");
        if (!h)
                h = cg_find(cg, "io");
        if (!h) {
                ck_skip("blkio: no blkio/io controller");
                destroy_ok(cg);
                return;
        }
        bool weight_file =
            h->v2 ? (cg_has_file(h, "io.bfq.weight") || cg_has_file(h, "io.weight"))
                  : (cg_has_file(h, "blkio.weight") || cg_has_file(h, "blkio.bfq.weight"));
        struct berth_error *err = NULL;
        if (!weight_file) {
                ck_skip_part("blkio weight: no CFQ/BFQ weight file on this kernel");
                b.has_weight = false;
        }
        ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
        _cleanup_free_ char *rline = xasprintf("%lld:%lld 1048576", (long long)maj, (long long)min);
        _cleanup_free_ char *wline = xasprintf("%lld:%lld 100", (long long)maj, (long long)min);
        if (!h->v2) {
                if (weight_file)
                        ck_file_eq(
                            h, cg_has_file(h, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight",
                            "500");
                ck_file_eq(h, "blkio.throttle.read_bps_device", rline);
                ck_file_eq(h, "blkio.throttle.write_iops_device", wline);
                /* no CFQ: leaf weights are refused by name */
                if (!cg_has_file(h, "blkio.leaf_weight")) {
                        b = (struct oci_blkio){.has_leaf_weight = true, .leaf_weight = 300};
                        ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
                        _cleanup_free_ char *want = xasprintf(
                            "blkio leafWeight: blkio.leaf_weight does not exist in '%s'", h->dir);
                        ck_assert_str_eq(err->msg, want);
                        berth_error_free(err);
                }
        } else {
                char *v = readf(h, "io.max");
                ck_assert_msg(strstr(v, "rbps=1048576") && strstr(v, "wiops=100"), "io.max: %s", v);
                free(v);
        }
        destroy_ok(cg);
}
END_TEST

START_TEST(test_hugetlb)
{
        _cleanup_free_ char *p = tpath("huge");
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct cg_hier *h = cg_find(cg, "hugetlb");
        if (!h || access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) < 0) {
                ck_skip("hugetlb: no hugetlb controller or no 2MB pages on this host");
                destroy_ok(cg);
                return;
        }
        struct oci_hugepage_limit l = {.page_size = (char *)"2MB", .limit = 8 << 20};
        struct oci_resources res = {.hugepage_limits = &l, .n_hugepage_limits = 1};
        struct berth_error *err = NULL;
        ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
        ck_file_eq(h, h->v2 ? "hugetlb.2MB.max" : "hugetlb.2MB.limit_in_bytes", "8388608");
        l.page_size = (char *)"3MB";
        ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
        ck_assert_msg(
            strstr(err->msg, "hugepageLimits: page size '3MB' is not supported on this host"), "%s",
            err->msg);
        berth_error_free(err);
        err = NULL;
        /* on v2 a knob that is missing because its controller was not delegated says so */
        if (h->v2) {
                _cleanup_free_ char *parent = xstrdup(h->dir);
                *strrchr(parent, '/') = '\0';
                struct cg_hier ph = {.dir = parent};
                ck_assert_int_eq(cg_write(&ph, "cgroup.subtree_control", "-hugetlb", NULL), 0);
                l.page_size = (char *)"2MB";
                ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
                _cleanup_free_ char *want = xasprintf(
                    "set hugetlb.2MB.max to 8388608 in '%s': the hugetlb controller is not "
                    "enabled there (see cgroup.subtree_control of its parent)",
                    h->dir);
                ck_assert_str_eq(err->msg, want);
                berth_error_free(err);
                err = NULL;
        }
        l.page_size = (char *)"2XB";
        ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
        ck_assert_str_eq(err->msg, "hugepageLimits: invalid page size '2XB' (want e.g. '2MB')");
        berth_error_free(err);
        destroy_ok(cg);
}
END_TEST

START_TEST(test_network_and_rdma)
{
        _cleanup_free_ char *p = tpath("net");
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct oci_net_priority prio = {.name = (char *)"lo", .priority = 5};
        struct oci_network_res net = {
            .has_class_id = true, .class_id = 0x100001, .priorities = &prio, .n_priorities = 1};
        struct oci_resources res = {.network = &net};
        struct berth_error *err = NULL;
        struct cg_hier *cls = cg_find(cg, "net_cls"), *pr = cg_find(cg, "net_prio");
        if (cls && !cls->v2 && pr && !pr->v2) {
                ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
                ck_file_eq(cls, "net_cls.classid", "1048577");
                char *m = readf(pr, "net_prio.ifpriomap");
                ck_assert_msg(strstr(m, "lo 5"), "ifpriomap: %s", m);
                free(m);
        } else if (!cls || cls->v2) {
                ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
                ck_assert_str_eq(err->msg,
                                 "network classID: the net_cls cgroup v1 controller is not "
                                 "mounted on this host (cgroup v2 has no equivalent)");
                berth_error_free(err);
                err = NULL;
        }
        struct oci_rdma rd = {
            .device = (char *)"mlx5_0", .has_hca_handles = true, .hca_handles = 3};
        res = (struct oci_resources){.rdma = &rd, .n_rdma = 1};
        if (!cg_find(cg, "rdma")) {
                ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
                ck_assert_str_eq(err->msg,
                                 "rdma: the rdma cgroup controller is not available on this host");
                berth_error_free(err);
        } else {
                ck_skip("rdma: no RDMA device to limit on this host");
        }
        destroy_ok(cg);
}
END_TEST

START_TEST(test_unified)
{
        _cleanup_free_ char *p = tpath("unified");
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct cg_hier *h = cg_v2(cg);
        struct oci_kv kv = {.key = (char *)"cgroup.max.depth", .value = (char *)"3"};
        struct oci_resources res = {.unified = &kv, .n_unified = 1};
        struct berth_error *err = NULL;
        if (!h) {
                ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
                ck_assert_str_eq(err->msg,
                                 "unified: cgroup v2 is not mounted on this host (cgroup v1 only)");
                berth_error_free(err);
                destroy_ok(cg);
                return;
        }
        ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
        ck_file_eq(h, "cgroup.max.depth", "3");
        kv.key = (char *)"../cgroup.procs";
        ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
        ck_assert_str_eq(err->msg, "unified: invalid cgroup file name '../cgroup.procs'");
        berth_error_free(err);
        err = NULL;
        kv.key = (char *)"nosuch.knob";
        ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
        ck_assert_msg(strstr(err->msg, "unified: 'nosuch.knob' does not exist in"), "%s", err->msg);
        berth_error_free(err);
        destroy_ok(cg);
}
END_TEST

/* ---- devices ---- */

/* In a child inside cg: 0 when both opens behave as expected. */
static int probe_devices(struct berth_cgroup *cg, bool null_ok, bool zero_ok)
{
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (cgroup_enter(cg, getpid(), NULL) < 0)
                        _exit(10);
                int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
                int ea = errno;
                int b = open("/dev/zero", O_RDONLY | O_CLOEXEC);
                int eb = errno;
                if ((a >= 0) != null_ok || (!null_ok && ea != EPERM))
                        _exit(11);
                if ((b >= 0) != zero_ok || (!zero_ok && eb != EPERM))
                        _exit(12);
                _exit(0);
        }
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFEXITED(st));
        return WEXITSTATUS(st);
}

static struct oci_device_cgroup dev_rules[] = {
    {.allow = false, .type = 'a', .major = -1, .minor = -1, .access = (char *)"rwm"},
    {.allow = true, .type = 'c', .major = 1, .minor = 3, .access = (char *)"rwm"},
    {.allow = true, .type = 'c', .major = 1, .minor = 5, .access = (char *)"rwm"},
    {.allow = false, .type = 'c', .major = 1, .minor = 5, .access = (char *)"r"},
};

START_TEST(test_devices_v1)
{
        _cleanup_free_ char *p = tpath("devv1");
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct cg_hier *h = cg_find(cg, "devices");
        if (!h || h->v2) {
                ck_skip("devices_v1: no v1 devices hierarchy");
                destroy_ok(cg);
                return;
        }
        struct oci_resources res = {.devices = dev_rules, .n_devices = 4};
        struct berth_error *err = NULL;
        ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
        /* null allowed; zero read denied by the last rule */
        ck_file_eq(h, "devices.list", "c 1:3 rwm\nc 1:5 wm");
        ck_assert_int_eq(probe_devices(cg, true, false), 0);
        /* a bad rule is refused before anything is written, with its index */
        struct oci_device_cgroup bad[] = {
            {.allow = true, .type = 'c', .major = 1, .minor = 3, .access = (char *)"rw"},
            {.allow = true, .type = 'u', .major = 1, .minor = 3, .access = (char *)"rw"},
        };
        res = (struct oci_resources){.devices = bad, .n_devices = 2};
        ck_assert_int_lt(cgroup_update(cg, &res, &err), 0);
        ck_assert_str_eq(err->msg, "devices[1]: invalid type 'u' (want 'a', 'c' or 'b')");
        berth_error_free(err);
        ck_file_eq(h, "devices.list", "c 1:3 rwm\nc 1:5 wm");
        destroy_ok(cg);
}
END_TEST

START_TEST(test_devices_ebpf)
{
        /* the cgroup2 hierarchy runs device programs whatever controllers it has */
        _cleanup_free_ char *p = tpath("devbpf");
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct cg_hier *h = cg_v2(cg);
        if (!h) {
                ck_skip("devices_ebpf: no cgroup2 hierarchy on this host");
                destroy_ok(cg);
                return;
        }
        struct berth_error *err = NULL;
        ck_assert_msg(cg_v2_devices(h, dev_rules, 4, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_int_eq(probe_devices(cg, true, false), 0);
        /* replacing the rules leaves exactly one program attached */
        ck_assert_msg(cg_v2_devices(h, dev_rules, 3, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_int_eq(probe_devices(cg, true, true), 0);
        ck_assert_msg(cg_v2_devices(h, dev_rules, 1, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_int_eq(probe_devices(cg, false, false), 0);
        struct oci_device_cgroup bad = {
            .allow = true, .type = 'c', .major = 1, .minor = 3, .access = (char *)"rwx"};
        ck_assert_int_lt(cg_v2_devices(h, &bad, 1, &err), 0);
        ck_assert_str_eq(err->msg, "devices: invalid access 'rwx' (want a subset of 'rwm')");
        berth_error_free(err);
        destroy_ok(cg);
}
END_TEST

/* ---- processes ---- */

static bool in_cgroup(pid_t pid, const struct berth_cgroup *cg)
{
        _cleanup_free_ char *f = xasprintf("/proc/%d/cgroup", (int)pid), *text = NULL;
        ck_assert_int_eq(read_file_at(AT_FDCWD, f, 1 << 20, &text, NULL), 0);
        for (size_t i = 0; i < cg->n; i++) {
                _cleanup_free_ char *want = xasprintf(":%s\n", cg->h[i].path);
                if (!strstr(text, want))
                        return false;
        }
        return true;
}

START_TEST(test_enter_pids_freeze_kill)
{
        _cleanup_free_ char *p = tpath("procs");
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct berth_error *err = NULL;
        pid_t a = spawn_sleeper(), b = spawn_sleeper();
        ck_assert_msg(cgroup_enter(cg, a, &err) == 0, "%s", berth_error_msg(err));
        ck_assert(in_cgroup(a, cg));
        /* b in a sub-cgroup of one hierarchy: still listed (recursive) */
        ck_assert_msg(cgroup_enter(cg, b, &err) == 0, "%s", berth_error_msg(err));
        _cleanup_free_ char *sub = xasprintf("%s/sub", cg->h[0].dir);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        _cleanup_free_ char *subprocs = xasprintf("%s/cgroup.procs", sub);
        char pb[16];
        snprintf(pb, sizeof(pb), "%d", (int)b);
        ck_assert_int_eq(write_string_file(subprocs, pb), 0);

        pid_t *pids = NULL;
        size_t n = 0;
        ck_assert_msg(cgroup_pids(cg, &pids, &n, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_uint_eq(n, 2);
        ck_assert_int_eq(pids[0], a < b ? a : b);
        ck_assert_int_eq(pids[1], a < b ? b : a);
        free(pids);

        bool frozen = false;
        ck_assert_msg(cgroup_freeze(cg, true, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_int_eq(cgroup_is_frozen(cg, &frozen, NULL), 0);
        ck_assert(frozen);
        ck_assert_msg(cgroup_freeze(cg, false, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_int_eq(cgroup_is_frozen(cg, &frozen, NULL), 0);
        ck_assert(!frozen);

        /* a signal to a paused container leaves it paused (SIGKILL aside) */
        ck_assert_msg(cgroup_freeze(cg, true, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_msg(cgroup_kill_all(cg, SIGTERM, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_int_eq(cgroup_is_frozen(cg, &frozen, NULL), 0);
        ck_assert(frozen);
        ck_assert_msg(cgroup_freeze(cg, false, &err) == 0, "%s", berth_error_msg(err));
        int st;
        ck_assert_int_eq(waitpid(a, &st, 0), a);
        ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
        ck_assert_int_eq(waitpid(b, &st, 0), b);
        ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
        ck_assert_int_eq(cgroup_pids(cg, &pids, &n, NULL), 0);
        ck_assert_uint_eq(n, 0);
        free(pids);
        /* the sub-cgroup the "container" made goes with it */
        destroy_ok(cg);
        ck_assert(!dir_exists(sub));
}
END_TEST

/* A new process enters its cgroups as the runtime starts one: clone3 into the v2 tree
 * (where there is one), then "0" into each v1 hierarchy's tasks by the child itself. */
START_TEST(test_join_self)
{
        _cleanup_free_ char *p = tpath("join");
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct berth_error *err = NULL;
        struct cgroup_join j;
        ck_assert_msg(cgroup_join_open(cg, &j, &err) == 0, "%s", berth_error_msg(err));
        size_t v1 = 0;
        for (size_t i = 0; i < cg->n; i++)
                v1 += !cg->h[i].v2;
        ck_assert_uint_eq(j.n, v1);
        int go[2], done[2];
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(done, O_CLOEXEC), 0);
        struct clone_args ca = {.exit_signal = SIGCHLD};
        if (cgroup_v2_fd(cg) >= 0) {
                ca.flags = CLONE_INTO_CGROUP;
                ca.cgroup = (uint64_t)cgroup_v2_fd(cg);
        }
        long pid = syscall(SYS_clone3, &ca, sizeof(ca));
        ck_assert_msg(pid >= 0, "clone3: %s", strerror(errno));
        if (pid == 0) {
                char c;
                struct berth_error *e = NULL;
                close(go[1]);
                close(done[0]);
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                if (cgroup_join_self(&j, &e) < 0) {
                        fprintf(stderr, "child: %s\n", berth_error_msg(e));
                        _exit(1);
                }
                (void)!write(done[1], "x", 1);
                (void)!read(go[0], &c, 1); /* until the parent closes go */
                _exit(0);
        }
        cgroup_join_release(&j);
        ck_assert_int_eq(j.n, 0);
        close(done[1]); /* a child that fails: end of file */
        ck_assert_int_eq(write(go[1], "x", 1), 1);
        char c;
        ck_assert_msg(read(done[0], &c, 1) == 1, "the child failed to join");
        ck_assert_msg(in_cgroup((pid_t)pid, cg), "the child is not in every hierarchy");
        close(go[1]);
        int st;
        ck_assert_int_eq(waitpid((pid_t)pid, &st, 0), pid);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(go[0]);
        close(done[0]);
        destroy_ok(cg);
}
END_TEST

START_TEST(test_destroy_kills_leftovers_and_json)
{
        _cleanup_free_ char *p = tpath("json");
        struct oci_resources res = {.has_pids_limit = true, .pids_limit = 50};
        struct berth_cgroup *cg = create_ok(p, &res);
        pid_t a = spawn_sleeper();
        ck_assert_int_eq(cgroup_enter(cg, a, NULL), 0);

        /* a later process (kill, delete) finds the same cgroup from the state file */
        struct json *j = cgroup_to_json(cg);
        char *text = json_dump(j, 0);
        json_free(j);
        struct json *back = NULL;
        ck_assert_int_eq(json_parse(text, strlen(text), &back, NULL), 0);
        free(text);
        struct berth_cgroup *cg2 = NULL;
        struct berth_error *err = NULL;
        ck_assert_msg(cgroup_from_json(back, &cg2, &err) == 0, "%s", berth_error_msg(err));
        json_free(back);
        ck_assert_str_eq(cgroup_path(cg2), cgroup_path(cg));
        ck_assert_uint_eq(cg2->n, cg->n);
        _cleanup_strv_free_ char **dirs = xcalloc(cg->n + 1, sizeof(char *));
        for (size_t i = 0; i < cg->n; i++) {
                ck_assert_str_eq(cg2->h[i].dir, cg->h[i].dir);
                ck_assert_uint_eq(cg2->h[i].created, cg->h[i].created);
                dirs[i] = xstrdup(cg->h[i].dir);
        }
        cgroup_free(cg);

        destroy_ok(cg2); /* kills a first */
        int st;
        ck_assert_int_eq(waitpid(a, &st, 0), a);
        ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        for (size_t i = 0; dirs[i]; i++)
                ck_assert_msg(!dir_exists(dirs[i]), "%s left behind", dirs[i]);

        struct json *bad = NULL;
        ck_assert_int_eq(json_parse("{\"mode\":\"v3\",\"hierarchies\":[]}", 30, &bad, NULL), 0);
        ck_assert_int_lt(cgroup_from_json(bad, &cg2, &err), 0);
        ck_assert_str_eq(err->msg, "cgroup state: unknown mode 'v3'");
        berth_error_free(err);
        err = NULL;
        json_free(bad);
        /* a tampered state file cannot point destroy at other directories */
        const char *evil = "{\"mode\":\"v1\",\"hierarchies\":[{\"mount\":\"/tmp\",\"v2\":false,"
                           "\"controllers\":[],\"path\":\"/x\",\"dir\":\"/tmp/x\",\"created\":1}]}";
        ck_assert_int_eq(json_parse(evil, strlen(evil), &bad, NULL), 0);
        ck_assert_int_lt(cgroup_from_json(bad, &cg2, &err), 0);
        ck_assert_str_eq(err->msg, "cgroup state: '/tmp' is not a cgroup filesystem");
        berth_error_free(err);
        json_free(bad);
}
END_TEST

START_TEST(test_stats)
{
        _cleanup_free_ char *p = tpath("stats");
        struct oci_memory mem = {.has_limit = true, .limit = 256 << 20};
        struct oci_resources res = {.memory = &mem, .has_pids_limit = true, .pids_limit = 40};
        struct berth_cgroup *cg = create_ok(p, &res);
        int go[2], done[2];
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(done, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char c;
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                /* use some CPU and memory inside the cgroup */
                size_t n = 8 << 20;
                volatile char *m = malloc(n);
                for (size_t i = 0; i < n; i += 4096)
                        m[i] = 1;
                /* 20 ms of CPU, not of wall clock: on a loaded machine the latter may
                 * hold much less CPU than the 10 ms asserted below */
                struct timespec t0, t1;
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
                do
                        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
                while ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) <
                       20000000L);
                if (write(done[1], "x", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        ck_assert_int_eq(cgroup_enter(cg, pid, NULL), 0);
        char c = 'x';
        ck_assert_int_eq(write(go[1], &c, 1), 1);
        ck_assert_int_eq(read(done[0], &c, 1), 1);
        struct cgroup_stats st;
        struct berth_error *err = NULL;
        int r = cgroup_stats(cg, &st, &err);
        reap(pid);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        ck_assert(st.has_cpu && st.has_memory && st.has_pids);
        ck_assert_msg(st.cpu_usage_ns >= 10000000, "cpu usage %llu ns",
                      (unsigned long long)st.cpu_usage_ns);
        ck_assert_msg(st.memory_usage >= 8 << 20, "memory usage %llu",
                      (unsigned long long)st.memory_usage);
        ck_assert_uint_eq(st.memory_limit, 256 << 20);
        ck_assert_uint_eq(st.pids_current, 1);
        ck_assert_uint_eq(st.pids_limit, 40);
        close(go[0]);
        close(go[1]);
        close(done[0]);
        close(done[1]);
        destroy_ok(cg);
}
END_TEST

START_TEST(test_memory_limit_enforced)
{
        /* a task that touches more than the limit is OOM-killed, and stats count it */
        _cleanup_free_ char *p = tpath("oom");
        struct oci_memory mem = {.has_limit = true, .limit = 16 << 20};
        struct oci_resources res = {.memory = &mem};
        struct berth_cgroup *cg = create_ok(p, NULL);
        struct cg_hier *h = cg_find(cg, "memory");
        /* no swap to escape into: memory+swap = memory (v1), swap.max 0 (v2) */
        mem.has_swap = cg_has_file(h, h->v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes");
        mem.swap = 16 << 20;
        struct berth_error *err = NULL;
        ck_assert_msg(cgroup_update(cg, &res, &err) == 0, "%s", berth_error_msg(err));
        if (h->v2 && mem.has_swap)
                ck_file_eq(h, "memory.swap.max", "0");
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (cgroup_enter(cg, getpid(), NULL) < 0)
                        _exit(2);
                size_t n = 64 << 20;
                volatile char *m = malloc(n);
                for (size_t i = 0; m && i < n; i += 4096)
                        m[i] = 1;
                _exit(0);
        }
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child status %#x", st);
        struct cgroup_stats cs;
        ck_assert_int_eq(cgroup_stats(cg, &cs, NULL), 0);
        ck_assert_uint_ge(cs.memory_oom_kills, 1);
        destroy_ok(cg);
}
END_TEST

static Suite *cgroup_suite(void)
{
        Suite *s = suite_create("cgroup");
#define CASE(t) ck_add_case(s, #t, t, setup, teardown, 60)
        CASE(test_detect_mode);
        CASE(test_absolute_path_every_hierarchy);
        CASE(test_destroy_keeps_what_it_did_not_create);
        CASE(test_relative_path_under_own_cgroup);
        CASE(test_default_path_and_bad_paths);
        CASE(test_memory_v1);
        CASE(test_failed_create_leaves_nothing);
        CASE(test_cpu_and_cpuset);
        CASE(test_cpuset_initialised_from_parent);
        CASE(test_cpu_realtime);
        CASE(test_pids);
        CASE(test_blkio);
        CASE(test_hugetlb);
        CASE(test_network_and_rdma);
        CASE(test_unified);
        CASE(test_devices_v1);
        CASE(test_devices_ebpf);
        CASE(test_enter_pids_freeze_kill);
        CASE(test_join_self);
        CASE(test_destroy_kills_leftovers_and_json);
        CASE(test_stats);
        CASE(test_memory_limit_enforced);
#undef CASE
        return s;
}

int main(void)
{
        if (geteuid() != 0) {
                printf("1..0 # SKIP test-cgroup needs root to create cgroups\n");
                return 0;
        }
        return ck_run_tap(cgroup_suite());
}
