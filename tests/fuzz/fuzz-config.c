/*
 * fuzz-config.c — libFuzzer target for the config.json parser: any bytes
 * given to oci_spec_parse() and oci_process_parse() must give either a spec
 * that frees cleanly or one error with a message, never a crash, a leak or
 * an out-of-bounds read.  Corpus: tests/fuzz/corpus-config/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "oci/runtime-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct berth_error *err = NULL;
        struct oci_spec *spec = NULL;
        int r = oci_spec_parse((const char *)data, size, &spec, &err);
        if (r < 0) {
                if (!err || !err->msg || !*err->msg || spec)
                        __builtin_trap();
                berth_error_free(err);
        } else {
                if (err || !spec || !spec->oci_version)
                        __builtin_trap();
                oci_spec_free(spec);
        }

        err = NULL;
        struct oci_process *p = NULL;
        r = oci_process_parse((const char *)data, size, &p, &err);
        if (r < 0) {
                if (!err || p)
                        __builtin_trap();
                berth_error_free(err);
        } else {
                if (!p || !p->cwd || !p->args || !p->args[0])
                        __builtin_trap();
                oci_process_free(p);
        }
        return 0;
}
