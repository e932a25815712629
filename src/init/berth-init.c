/*
 * berth-init.c — the tiny init of `run --init` (docker's --init, bind-mounted
 * into the container at /sbin/docker-init, read-only).
 *
 * `docker-init -- cmd args…`: runs cmd as a child (in a process group of its
 * own, in the terminal's foreground), forwards every signal it receives to
 * the child (SIGKILL and SIGSTOP cannot be caught, so those
 * never arrive here), reaps every process that is re-parented to it (it is
 * pid 1 of the container's pid namespace: orphans end up here), and exits
 * with the child's status — its exit code, or 128 + the signal that killed it.
 *
 * Written for a container: static, no allocation, no file access, nothing
 * read from the environment; one sigtimedwait loop, so no code runs in signal
 * context.
 *
 * Never: exit before the child does; swallow a signal meant for the child.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage(void)
{
        static const char msg[] = "usage: docker-init -- program [args...]\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        return 1;
}

int main(int argc, char **argv)
{
        int first = 1;
        if (argc > 1 && strcmp(argv[1], "--") == 0)
                first = 2;
        if (first >= argc)
                return usage();

        sigset_t all, old;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, &old);
        pid_t child = fork();
        if (child < 0) {
                perror("docker-init: fork");
                return 1;
        }
        if (child == 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                /* a process group of its own, in the foreground of any terminal */
                setpgid(0, 0);
                if (isatty(0))
                        (void)tcsetpgrp(0, getpid());
                execvp(argv[first], argv + first);
                fprintf(stderr, "docker-init: exec %s: %s\n", argv[first], strerror(errno));
                _exit(errno == ENOENT ? 127 : 126);
        }
        setpgid(child, child);
        /* not pid 1 (--pid=host): orphans of the container still come to us */
        if (getpid() != 1)
                (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

        for (;;) {
                siginfo_t si;
                struct timespec tick = {1, 0};
                int sig = sigtimedwait(&all, &si, &tick);
                if (sig > 0 && sig != SIGCHLD)
                        (void)kill(child, sig); /* as tini does: to the child, not its group */
                for (;;) {
                        int status;
                        pid_t p = waitpid(-1, &status, WNOHANG);
                        if (p <= 0)
                                break;
                        if (p == child)
                                return WIFEXITED(status) ? WEXITSTATUS(status)
                                                         : 128 + WTERMSIG(status);
                }
        }
}
