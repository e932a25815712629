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

#include "base/error.h"
#include "oci/runtime-spec.h"

struct berth_seccomp_prog;

int berth_seccomp_compile(const struct oci_seccomp *s, struct berth_seccomp_prog **ret,
                          struct berth_error **err);
/*
 * Load into the calling thread (after no_new_privs or with CAP_SYS_ADMIN).
 * With a listener (SCMP_ACT_NOTIFY present), *ret_listener_fd receives the
 * notify fd; otherwise it is set to -1.  Returns 0 or -errno; does not allocate.
 */
int berth_seccomp_load(const struct berth_seccomp_prog *p, int *ret_listener_fd);
bool berth_seccomp_needs_listener(const struct berth_seccomp_prog *p);
void berth_seccomp_prog_free(struct berth_seccomp_prog *p);

#endif
