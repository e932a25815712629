/*
 * seccomp-profile.h — Docker seccomp profiles (the moby template format)
 * resolved into an OCI linux.seccomp object, as dockerd does.
 *
 * A Docker profile is an OCI linux.seccomp object plus: "archMap" (the native
 * architecture's entry expands into "architectures"), syscall entries with
 * "name" (old form of "names"), "comment", and "includes"/"excludes" filters
 * on the container's bounding capabilities, the host architecture and the
 * host kernel version ("minKernel": "4.8").  Resolving keeps the entries
 * whose filters match and drops the Docker-only keys; what remains is handed
 * to the OCI parser and then to berth_seccomp_compile().
 *
 * The default profile (moby/profiles seccomp/default.json) is built into the
 * library from src/runtime/seccomp-default.json at build time (see
 * embed-json.py), so berthd needs no data file at run time.
 *
 * Never: validate action or operator names here (the OCI parser does, with
 * its own paths), or touch the kernel.
 */
#ifndef BERTH_RUNTIME_SECCOMP_PROFILE_H
#define BERTH_RUNTIME_SECCOMP_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/json.h"

/* The embedded default profile text (JSON, not NUL-terminated). */
extern const char seccomp_default_json[];
extern const size_t seccomp_default_json_len;

/* Parse the embedded default profile. */
int seccomp_profile_default(struct json **ret, struct berth_error **err);

/*
 * Resolve a Docker profile for a container whose bounding set is caps_mask
 * (bit n = capability n, CAP_CHOWN = 0) on architecture arch: a Go GOARCH
 * ("amd64", "arm64", "386") or a uname machine ("x86_64", "aarch64"); NULL
 * means this host.  minKernel is compared with this host's kernel.
 * *ret_oci_linux_seccomp receives a new linux.seccomp object, or NULL when
 * the profile has neither defaultAction nor syscalls (dockerd then runs the
 * container without seccomp).  Errors name the profile path:
 * "seccomp profile: syscalls[3].includes.minKernel: invalid kernel version '4'".
 */
int seccomp_profile_resolve(const struct json *profile, uint64_t caps_mask, const char *arch,
                            struct json **ret_oci_linux_seccomp, struct berth_error **err);
/* The same with the kernel release given ("5.10.0-23-amd64"); NULL = this host. */
int seccomp_profile_resolve_for_kernel(const struct json *profile, uint64_t caps_mask,
                                       const char *arch, const char *kernel_release,
                                       struct json **ret_oci_linux_seccomp,
                                       struct berth_error **err);

#endif
