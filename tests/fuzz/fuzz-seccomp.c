/*
 * fuzz-seccomp.c — libFuzzer target for the seccomp translation: JSON bytes
 * are read as a Docker profile (resolved for a capability set picked from
 * the input) and as an OCI linux.seccomp object; each is wrapped into a
 * config.json, parsed by oci_spec_parse(), and whatever is valid is
 * compiled to BPF and freed.  Compilation must never crash, leak or abort
 * on any profile, however odd its names, numbers or sizes.
 *
 * Never: load a filter (the fuzzer would sandbox itself), or write into the
 * committed corpus (run it with a scratch directory first).
 */
#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "runtime/seccomp-profile.h"
#include "oci/runtime-spec.h"
#include "runtime/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * libseccomp 2.5.4 (Debian 12) itself leaks a few nodes when an i386 filter
 * gets argument rules on socketcall and a syscall it multiplexes (connect,
 * shutdown, …): every allocation in the report is inside libseccomp, and it
 * happens with a bare libseccomp program too.  Leaks in our code still fail.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
        return "leak:libseccomp.so\n";
}

static void compile_and_free(const struct json *sec)
{
        struct oci_spec *spec = NULL;
        struct berth_seccomp_prog *p = NULL;
        struct berth_error *err = NULL;

        struct json *doc = json_new_object();
        json_set_str(doc, "ociVersion", "1.1.0");
        struct json *lin = json_object_set(doc, "linux", json_new_object());
        json_object_set(lin, "seccomp", json_copy(sec));
        char *text = json_dump(doc, 0);
        json_free(doc);
        int r = oci_spec_parse(text, strlen(text), &spec, &err);
        free(text);
        if (r < 0 || !spec->linux_ || !spec->linux_->seccomp)
                goto out;
        if (berth_seccomp_compile(spec->linux_->seccomp, &p, &err) == 0) {
                if (berth_seccomp_prog_len(p) == 0)
                        __builtin_trap();
                berth_seccomp_prog_free(p);
        } else if (!err || !err->msg || strchr(err->msg, '\n')) {
                __builtin_trap(); /* a failure always says why, on one line */
        }
out:
        berth_error_free(err);
        oci_spec_free(spec);
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
