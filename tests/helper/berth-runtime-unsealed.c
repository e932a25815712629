/*
 * berth-runtime-unsealed — berth-runtime with its CVE-2019-5736 defence
 * (runtime/selfseal.c) taken out, for the security audit's control runs only.
 *
 * tests/integration/test_security_audit.py requires every attack on the
 * runtime binary to be refused with EROFS; a refusal proves nothing unless
 * the same attack, run the same way, succeeds when the defence is off.  This
 * executable is src/cmd/berth-runtime.c linked with the runtime_seal_self()
 * below ahead of libberth, so the library's selfseal.o is never pulled in and
 * the binary runs from its own, writable file.  Everything else is the real
 * runtime.  (A second definition would be a link error, not a silent mix.)
 *
 * Never install it, never run it outside a throwaway copy in a temp dir: a
 * container can overwrite it.
 */
#include "runtime/selfseal.h"

int runtime_seal_self(char **argv, struct berth_error **err)
{
        (void)argv;
        (void)err;
        return 0;
}
