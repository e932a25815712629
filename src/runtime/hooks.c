/*
 * hooks.c — OCI hooks: prestart, createRuntime, createContainer,
 * startContainer, poststart, poststop.
 *
 * How: each hook is forked and execve()d with its own args and env (not
 * ours), the container's state JSON written on its stdin; a hook with a
 * timeout is killed when it overruns.  Which process runs which kind — and
 * so in which namespaces — is decided by the caller: the runtime parent for
 * prestart, createRuntime, poststart and poststop, the container's init for
 * createContainer (before pivot_root) and startContainer (after it).
 *
 * Failure follows the runtime spec per kind: a failing prestart,
 * createRuntime, createContainer or startContainer hook fails the operation
 * (hooks_run stops at it); a failing poststart or poststop hook is a warning,
 * and the remaining hooks and the lifecycle go on as if it had succeeded
 * (hooks_run_warn).  runc 1.1 instead fails create on a poststart hook and
 * stops at the first failing poststop hook; crun follows the spec, as we do.
 *
 * Never: run a hook through a shell; let a hook inherit the sync socket or
 * any other fd of ours beyond stdio (everything else is close-on-exec).
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "base/fileio.h"
#include "base/log.h"
#include "runtime/runtime-internal.h"

char *hooks_state_json(const struct oci_spec *spec, const char *id, const char *status, pid_t pid,
                       const char *bundle)
{
        _cleanup_json_ struct json *j = json_new_object();
        json_set_str(j, "ociVersion", OCI_RUNTIME_SPEC_VERSION);
        json_set_str(j, "id", id);
        json_set_str(j, "status", status);
        if (pid > 0)
                json_set_int(j, "pid", pid);
        json_set_str(j, "bundle", bundle);
        if (spec && spec->n_annotations) {
                struct json *a = json_object_set(j, "annotations", json_new_object());
                for (size_t i = 0; i < spec->n_annotations; i++)
                        json_set_str(a, spec->annotations[i].key, spec->annotations[i].value);
        }
        return json_dump(j, 0);
}

static int run_one(const struct oci_hook *h, const char *kind, const char *state,
                   struct berth_error **err)
{
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return berth_error_sys(err, errno, "%s hook '%s': pipe", kind, h->path);
        pid_t pid = fork();
        if (pid < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return berth_error_sys(err, errno, "%s hook '%s': fork", kind, h->path);
        }
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (dup2(pfd[0], STDIN_FILENO) < 0)
                        _exit(127);
                char *const noenv[] = {NULL};
                char *argv0[] = {h->path, NULL};
                execve(h->path, h->args && h->args[0] ? h->args : argv0, h->env ? h->env : noenv);
                _exit(127);
        }
        close(pfd[0]);
        /* a hook that does not read its stdin must not block us: ignore EPIPE */
        struct sigaction ign = {.sa_handler = SIG_IGN}, old;
        sigaction(SIGPIPE, &ign, &old);
        (void)write_all(pfd[1], state, strlen(state));
        sigaction(SIGPIPE, &old, NULL);
        close(pfd[1]);

        int status = 0;
        int r = 0;
        if (h->has_timeout && h->timeout > 0) {
                int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                int n = pidfd >= 0 ? poll(&p, 1, h->timeout * 1000) : 1;
                if (pidfd >= 0)
                        close(pidfd);
                if (n == 0) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        return berth_error_set(err, ETIMEDOUT, "%s hook '%s': timed out after %d s",
                                               kind, h->path, h->timeout);
                }
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return berth_error_sys(err, errno, "%s hook '%s': wait", kind, h->path);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                r = berth_error_set(err, EIO, "%s hook '%s': exited with status %d", kind, h->path,
                                    WEXITSTATUS(status));
        else
                r = berth_error_set(err, EIO, "%s hook '%s': killed by signal %d", kind, h->path,
                                    WTERMSIG(status));
        return r;
}

int hooks_run(const struct oci_hook_list *l, const char *kind, const char *state_json,
              struct berth_error **err)
{
        for (size_t i = 0; i < l->n; i++) {
                int r = run_one(&l->v[i], kind, state_json, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

void hooks_run_warn(const struct oci_hook_list *l, const char *kind, const char *id,
                    const char *state_json)
{
        for (size_t i = 0; i < l->n; i++) {
                struct berth_error *e = NULL;
                if (run_one(&l->v[i], kind, state_json, &e) < 0)
                        log_warn("container '%s': %s (a failing %s hook is only a warning)", id,
                                 berth_error_msg(e), kind);
                berth_error_free(e);
        }
}
