/*
 * seccomp.h — linux.seccomp of config.json turned into a loaded BPF filter.
 *
 * Compilation (libseccomp) happens in the runtime's parent process, before
 * the container's init exists, so that every mistake in the profile
 * ("linux.seccomp.syscalls[3]: unknown syscall 'opne'" is NOT an error:
 * like runc, unknown syscall names are skipped; an unknown architecture,
 * action, operator or flag is) is reported as one clear line and nothing is
 * left behind.  The result is a plain BPF program; loading it in the child
 * is one seccomp(2) call, safe after clone and as late as just before execve.
 *
 * Never: allocate or call into libseccomp in the child.
 */
#ifndef BERTH_RUNTIME_SECCOMP_H
#define BERTH_RUNTIME_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <errno.h>

#include "base/error.h"
#include "oci/runtime-spec.h"

struct berth_seccomp_prog;

int berth_seccomp_compile(const struct oci_seccomp *s, struct berth_seccomp_prog **ret,
                          struct berth_error **err);
/*
 * The same, reusing a program compiled earlier for an identical profile from
 * cache_dir (made 0700 if missing; NULL: no cache) and storing new ones
 * there.  A hit needs the whole profile, libseccomp version and kernel to
 * match byte for byte; a directory or file not owned by us or writable by
 * others is ignored.  The cache never makes a compile fail.
 *
 * Built with BERTH_SECCOMP_CACHE_ONLY (no libseccomp: berth-shim-helper-lite),
 * a program not in the cache fails with BERTH_SECCOMP_ENOCOMPILER, and a
 * build with libseccomp compiles it.
 */
#define BERTH_SECCOMP_ENOCOMPILER ENOPKG
int berth_seccomp_compile_cached(const struct oci_seccomp *s, const char *cache_dir,
                                 struct berth_seccomp_prog **ret, struct berth_error **err);
/*
 * Load into the calling thread (after no_new_privs or with CAP_SYS_ADMIN).
 * With a listener (SCMP_ACT_NOTIFY present), *ret_listener_fd receives the
 * notify fd; otherwise it is set to -1.  Returns 0 or -errno; does not allocate.
 */
int berth_seccomp_load(const struct berth_seccomp_prog *p, int *ret_listener_fd);
bool berth_seccomp_needs_listener(const struct berth_seccomp_prog *p);
/*
 * linux.seccomp.listenerPath: hand the listener fd to the agent listening on
 * that unix socket, as the runtime spec's containerProcessState says: one
 * message whose data is {"ociVersion", "fds": ["seccompFd"], "pid",
 * "metadata", "state"} (state: the container's OCI state object, copied) and
 * whose SCM_RIGHTS carries the fd.  Runs in the runtime's parent.
 */
int berth_seccomp_send_listener(const char *listener_path, int listener_fd, pid_t pid,
                                const char *metadata, const struct json *state,
                                struct berth_error **err);
void berth_seccomp_prog_free(struct berth_seccomp_prog *p);
static inline void berth_seccomp_prog_freep(struct berth_seccomp_prog **p)
{
        berth_seccomp_prog_free(*p);
}
#define _cleanup_seccomp_prog_ _cleanup_(berth_seccomp_prog_freep)

/*
 * linux.seccomp.flags ("SECCOMP_FILTER_FLAG_LOG", …) as the seccomp(2) flag
 * bits berth_seccomp_load() will pass.  A name this code does not know, or
 * one the running kernel does not support, is an error naming it.  With a
 * listener, NEW_LISTENER is added and TSYNC dropped (the container's init is
 * single-threaded, and the kernel refuses TSYNC with NEW_LISTENER);
 * WAIT_KILLABLE_RECV is dropped without a listener (it means nothing there
 * and the kernel refuses it).  flags == NULL (the key absent, not an empty
 * list) means SPEC_ALLOW when the kernel supports it, as runc does.
 */
int berth_seccomp_resolve_flags(char *const *flags, bool needs_listener, unsigned *ret_flags,
                                struct berth_error **err);
/* The seccomp(2) flags berth_seccomp_load() passes. */
unsigned berth_seccomp_prog_flags(const struct berth_seccomp_prog *p);
/* Number of BPF instructions in the compiled program, and the instructions
 * (struct sock_filter, 8 bytes each). */
size_t berth_seccomp_prog_len(const struct berth_seccomp_prog *p);
const void *berth_seccomp_prog_insns(const struct berth_seccomp_prog *p);

#endif
