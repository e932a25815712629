/*
 * rss-launch.c — run a command and print its wall time (ns) and peak RSS (KiB)
 * to stderr's last line as "rss-launch: <ns> <kib>".  bench/runtime builds it
 * static: a forked child inherits its parent's peak RSS into ru_maxrss across
 * exec, so the launcher itself must be tiny for the figure to be the runtime's.
 *
 * `rss-launch --mntns FILE CMD...`: the child joins the mount namespace FILE
 * (e.g. /proc/PID/ns/mnt of a holder process) before it execs CMD, so every
 * runtime measured can run in the same namespace with no wrapper process of
 * its own (a wrapper's time and peak RSS would land in the figures).
 * `--netns FILE` (before or after --mntns) joins that network namespace too,
 * for engines whose commands must run where their bridge is (bench/netns.py).
 * Both files are opened before the clock starts; the setns calls are timed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        int first = 1, nsfd = -1, netfd = -1;
        while (argc > first + 2 && (strcmp(argv[first], "--mntns") == 0 ||
                                    strcmp(argv[first], "--netns") == 0)) {
                int mnt = strcmp(argv[first], "--mntns") == 0;
                int fd = open(argv[first + 1], O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        perror(mnt ? "rss-launch: open mount namespace"
                                   : "rss-launch: open network namespace");
                        return 2;
                }
                *(mnt ? &nsfd : &netfd) = fd;
                first += 2;
        }
        if (argc <= first)
                return 2;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t pid = fork();
        if (pid == 0) {
                if (netfd >= 0 && setns(netfd, CLONE_NEWNET) < 0) {
                        perror("rss-launch: setns net");
                        _exit(126);
                }
                if (nsfd >= 0 && setns(nsfd, CLONE_NEWNS) < 0) {
                        perror("rss-launch: setns");
                        _exit(126);
                }
                execvp(argv[first], argv + first);
                _exit(127);
        }
        int status;
        struct rusage ru;
        if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
                return 2;
        clock_gettime(CLOCK_MONOTONIC, &b);
        long long ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
        fprintf(stderr, "rss-launch: %lld %ld\n", ns, ru.ru_maxrss);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
