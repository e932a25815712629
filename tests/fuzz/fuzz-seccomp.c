/*
 * fuzz-seccomp.c — libFuzzer target for the seccomp translation: JSON bytes
 * are read as a Docker profile (resolved for a capability set picked from
 * the input) and as an OCI linux.seccomp object, and whatever is well formed
 * is compiled to BPF and freed.  Compilation must never crash, leak or abort
 * on any profile, however odd its names, numbers or sizes.
 *
 * Never: load a filter (the fuzzer would sandbox itself), or write into the
 * committed corpus (run it with a scratch directory first).
 */
#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "runtime/seccomp-profile.h"
#include "runtime/seccomp.h"
/* Until the OCI parser (branch 'oci') is merged: a test-only JSON → struct. */
#include "../unit/seccomp-oci-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void compile_and_free(const struct json *sec)
{
        struct oci_seccomp *s = NULL;
        struct berth_seccomp_prog *p = NULL;
        struct berth_error *err = NULL;

        if (test_oci_seccomp_from_json(sec, &s) < 0)
                return;
        if (berth_seccomp_compile(s, &p, &err) == 0) {
                if (berth_seccomp_prog_len(p) == 0)
                        __builtin_trap();
                berth_seccomp_prog_free(p);
        } else if (!err || !err->msg || strchr(err->msg, '\n')) {
                __builtin_trap(); /* a failure always says why, on one line */
        }
        berth_error_free(err);
        test_oci_seccomp_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct json *j = NULL, *sec = NULL;
        struct berth_error *err = NULL;

        if (json_parse((const char *)data, size, &j, &err) < 0) {
                berth_error_free(err);
                return 0;
        }
        /* a capability set from the input: none, Docker-like, or everything */
        uint64_t caps = size % 3 == 0 ? 0 : size % 3 == 1 ? 0x00000000a80425fbull : ~0ull;
        if (seccomp_profile_resolve_for_kernel(j, caps, "amd64", "6.1", &sec, &err) == 0) {
                if (sec)
                        compile_and_free(sec);
        } else if (!err || strchr(err->msg, '\n')) {
                __builtin_trap();
        }
        berth_error_free(err);
        json_free(sec);
        compile_and_free(j);
        json_free(j);
        return 0;
}
