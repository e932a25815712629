/*
 * container-stats.c — `docker stats` and `docker top` (contract in
 * containers.h).
 *
 * Stats: one document in dockerd's API 1.41 shape from the container's
 * cgroup counters (runtime library, either cgroup version): cpu_stats with
 * the host's system_cpu_usage (all CPUs' busy and idle time from /proc/stat,
 * in ns) and online_cpus, so the docker CLI's formula — container CPU delta
 * over system CPU delta times the CPUs — gives the same percentage as with
 * dockerd; memory_stats with the cache figure the CLI subtracts under the
 * name its cgroup version uses (total_inactive_file on v1, inactive_file on
 * v2); blkio and pids.  precpu_stats is the previous document's cpu_stats.
 *
 * Top: `ps` with the user's arguments (default -ef) on the host, keeping the
 * header and the rows whose PID is one of the container's (its cgroup's).
 *
 * Never: run ps with arguments through a shell.
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "container-internal.h"
#include "runtime/container.h"

static uint64_t system_cpu_ns(void)
{
        _cleanup_free_ char *stat = NULL;
        if (read_file_at(AT_FDCWD, "/proc/stat", 1 << 20, &stat, NULL) < 0)
                return 0;
        if (strncmp(stat, "cpu ", 4) != 0)
                return 0;
        uint64_t total = 0;
        char *p = stat + 4;
        for (int i = 0; i < 8; i++) {
                char *end;
                unsigned long long v = strtoull(p, &end, 10);
                if (end == p)
                        break;
                total += v;
                p = end;
        }
        long hz = sysconf(_SC_CLK_TCK);
        return total * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
}

static struct json *cpu_json(const struct berth_container_stats *s, uint64_t system, long ncpu)
{
        struct json *c = json_new_object();
        struct json *u = json_object_set(c, "cpu_usage", json_new_object());
        json_object_set(u, "total_usage", json_new_uint(s->cpu_usage_ns));
        json_object_set(u, "usage_in_kernelmode", json_new_uint(s->cpu_system_ns));
        json_object_set(u, "usage_in_usermode", json_new_uint(s->cpu_user_ns));
        json_object_set(c, "system_cpu_usage", json_new_uint(system));
        json_set_int(c, "online_cpus", ncpu);
        struct json *t = json_object_set(c, "throttling_data", json_new_object());
        json_set_int(t, "periods", 0);
        json_set_int(t, "throttled_periods", 0);
        json_set_int(t, "throttled_time", 0);
        return c;
}

int berth_ctr_stats(struct berth_engine *e, struct berth_ctr *c, const struct json *previous,
                    struct json **ret, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        bool running = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
        pthread_mutex_unlock(&m->lock);
        struct berth_container_stats s = {0};
        if (running) {
                struct berth_runtime rt = {.root = m->runtime_root};
                struct berth_error *er = NULL;
                if (berth_container_stats(&rt, c->id, &s, &er) < 0)
                        running = false; /* it ended meanwhile: zeros, as dockerd gives */
                berth_error_free(er);
        }
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        if (ncpu < 1)
                ncpu = 1;
        struct json *j = json_new_object();
        char t[64];
        ctr_format_time(running ? ctr_now_ns() : 0, t);
        json_set_str(j, "read", t);
        const char *pre = json_str(json_get(previous, "read"));
        json_set_str(j, "preread", pre ? pre : "0001-01-01T00:00:00Z");
        struct json *pids = json_object_set(j, "pids_stats", json_new_object());
        if (running && s.has_pids) {
                json_object_set(pids, "current", json_new_uint(s.pids_current));
                if (s.pids_limit != UINT64_MAX)
                        json_object_set(pids, "limit", json_new_uint(s.pids_limit));
        }
        struct json *blk = json_object_set(j, "blkio_stats", json_new_object());
        if (running && s.has_blkio) {
                struct json *a =
                    json_object_set(blk, "io_service_bytes_recursive", json_new_array());
                const char *ops[] = {"read", "write"};
                uint64_t vals[] = {s.blkio_read_bytes, s.blkio_write_bytes};
                for (size_t i = 0; i < 2; i++) {
                        struct json *x = json_array_append(a, json_new_object());
                        json_set_int(x, "major", 0);
                        json_set_int(x, "minor", 0);
                        json_set_str(x, "op", ops[i]);
                        json_object_set(x, "value", json_new_uint(vals[i]));
                }
        } else {
                json_object_set(blk, "io_service_bytes_recursive", json_new_null());
        }
        static const char *const blk_null[] = {
            "io_serviced_recursive",  "io_queue_recursive",  "io_service_time_recursive",
            "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive",
            "sectors_recursive"};
        for (size_t i = 0; i < ELEMENTSOF(blk_null); i++)
                json_object_set(blk, blk_null[i], json_new_null());
        json_set_int(j, "num_procs", 0);
        json_object_set(j, "storage_stats", json_new_object());
        uint64_t system = running ? system_cpu_ns() : 0;
        json_object_set(j, "cpu_stats", running ? cpu_json(&s, system, ncpu) : json_new_object());
        const struct json *prev_cpu = json_get(previous, "cpu_stats");
        json_object_set(j, "precpu_stats", prev_cpu ? json_copy(prev_cpu) : json_new_object());
        struct json *mem = json_object_set(j, "memory_stats", json_new_object());
        if (running && s.has_memory) {
                json_object_set(mem, "usage", json_new_uint(s.memory_usage));
                struct json *st = json_object_set(mem, "stats", json_new_object());
                json_object_set(st, s.v2 ? "inactive_file" : "total_inactive_file",
                                json_new_uint(s.memory_inactive_file));
                /* no limit of its own: the host's memory is the limit, as dockerd reports */
                uint64_t limit = s.memory_limit;
                if (limit == UINT64_MAX || limit == 0) {
                        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
                        limit = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
                }
                json_object_set(mem, "limit", json_new_uint(limit));
        }
        pthread_mutex_lock(&m->lock);
        json_set_str(j, "name", c->name);
        json_set_str(j, "id", c->id);
        pthread_mutex_unlock(&m->lock);
        *ret = j;
        (void)err;
        return 0;
}

/* ---- top ---- */

static int run_ps(const char *ps_args, char **ret, struct berth_error **err)
{
        /* docker splits the arguments on white space (no shell, no quotes) */
        _cleanup_free_ char *copy = xstrdup(ps_args && *ps_args ? ps_args : "-ef");
        char *argv[64];
        size_t n = 0;
        argv[n++] = (char *)"ps";
        char *save = NULL;
        for (char *a = strtok_r(copy, " \t", &save); a && n < ELEMENTSOF(argv) - 1;
             a = strtok_r(NULL, " \t", &save))
                argv[n++] = a;
        argv[n] = NULL;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return berth_error_sys(err, errno, "pipe");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_adddup2(&fa, p[1], 2);
        char *envp[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        (char *)"LC_ALL=C", NULL};
        pid_t pid;
        int r = posix_spawnp(&pid, "ps", &fa, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        if (r != 0) {
                close(p[0]);
                return berth_error_sys(err, r, "Error running ps");
        }
        char *out = NULL;
        size_t len = 0;
        r = read_full_fd(p[0], 16 << 20, &out, &len);
        close(p[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r < 0) {
                free(out);
                return berth_error_sys(err, -r, "Error running ps");
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (out)
                        out[strcspn(out, "\n")] = '\0';
                r = berth_error_set(err, EINVAL, "Error running ps: exit status %d: %s",
                                    WEXITSTATUS(status), out ? out : "");
                free(out);
                return r;
        }
        *ret = out;
        return 0;
}

/* Split a ps line into at most n fields; the last takes the rest (the command). */
static size_t split_fields(char *line, char **f, size_t n)
{
        size_t k = 0;
        char *p = line;
        while (*p && k < n) {
                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                if (k == n - 1) {
                        f[k++] = p;
                        break;
                }
                f[k++] = p;
                while (*p && *p != ' ')
                        p++;
                if (*p)
                        *p++ = '\0';
        }
        return k;
}

int berth_ctr_top(struct berth_engine *e, struct berth_ctr *c, const char *ps_args,
                  struct json **ret, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        bool running = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
        pthread_mutex_unlock(&m->lock);
        if (!running)
                return berth_error_set(err, EBUSY, "Container %s is not running", c->id);
        struct berth_runtime rt = {.root = m->runtime_root};
        pid_t *pids = NULL;
        size_t n_pids = 0;
        int r = berth_container_pids(&rt, c->id, &pids, &n_pids, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *out = NULL;
        r = run_ps(ps_args, &out, err);
        if (r < 0) {
                free(pids);
                return r;
        }
        char *save = NULL;
        char *header = strtok_r(out, "\n", &save);
        if (!header) {
                free(pids);
                return berth_error_set(err, EINVAL, "Error running ps: no output");
        }
        _cleanup_free_ char *hcopy = xstrdup(header);
        char *titles[64];
        size_t nt = 0;
        char *hs = NULL;
        for (char *t = strtok_r(hcopy, " ", &hs); t && nt < ELEMENTSOF(titles);
             t = strtok_r(NULL, " ", &hs))
                titles[nt++] = t;
        ssize_t pid_col = -1;
        for (size_t i = 0; i < nt; i++)
                if (strcmp(titles[i], "PID") == 0)
                        pid_col = (ssize_t)i;
        if (pid_col < 0) {
                free(pids);
                return berth_error_set(err, EINVAL, "Couldn't find PID field in ps output");
        }
        struct json *j = json_new_object();
        struct json *tj = json_object_set(j, "Titles", json_new_array());
        for (size_t i = 0; i < nt; i++)
                json_array_append(tj, json_new_string(titles[i]));
        struct json *procs = json_object_set(j, "Processes", json_new_array());
        for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *f[64];
                _cleanup_free_ char *copy = xstrdup(l);
                size_t k = split_fields(copy, f, nt);
                if ((size_t)pid_col >= k)
                        continue;
                long pid = strtol(f[pid_col], NULL, 10);
                bool mine = false;
                for (size_t i = 0; i < n_pids; i++)
                        mine |= pids[i] == pid;
                if (!mine)
                        continue;
                struct json *row = json_array_append(procs, json_new_array());
                for (size_t i = 0; i < k; i++)
                        json_array_append(row, json_new_string(f[i]));
        }
        free(pids);
        ctr_event(e, c, "top", NULL);
        *ret = j;
        return 0;
}
