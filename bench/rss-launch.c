/*
 * rss-launch.c — run a command and print its wall time (ns) and peak RSS (KiB)
 * to stderr's last line as "rss-launch: <ns> <kib>".  bench/runtime builds it
 * static: a forked child inherits its parent's peak RSS into ru_maxrss across
 * exec, so the launcher itself must be tiny for the figure to be the runtime's.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        if (argc < 2)
                return 2;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid_t pid = fork();
        if (pid == 0) {
                execvp(argv[1], argv + 1);
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
