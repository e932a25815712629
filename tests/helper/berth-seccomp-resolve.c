/*
 * berth-seccomp-resolve — test helper: resolve a Docker seccomp profile for
 * a bounding capability set on this host and print the OCI linux.seccomp
 * object, so integration tests can hold seccomp_profile_resolve() against
 * what dockerd writes into config.json.
 *
 * Usage: berth-seccomp-resolve PROFILE.json|- [CAP_NAME…]   ("-": the
 * built-in default profile).  Prints "null" when the profile disables
 * seccomp.  Never used by berth itself.
 */
#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "oci/runtime-spec.h"
#include "runtime/seccomp-profile.h"

int main(int argc, char **argv)
{
        struct berth_error *err = NULL;
        struct json *profile = NULL, *out = NULL;
        uint64_t caps = 0;
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: berth-seccomp-resolve PROFILE.json|- [CAP_NAME...]\n");
                return 2;
        }
        for (int i = 2; i < argc; i++) {
                int c = oci_cap_from_name(argv[i]);
                if (c < 0 || c > 63) {
                        fprintf(stderr, "berth-seccomp-resolve: unknown capability '%s'\n",
                                argv[i]);
                        return 2;
                }
                caps |= UINT64_C(1) << c;
        }
        if (strcmp(argv[1], "-") == 0)
                r = seccomp_profile_default(&profile, &err);
        else
                r = json_parse_file(argv[1], 16u << 20, &profile, &err);
        if (r >= 0)
                r = seccomp_profile_resolve(profile, caps, NULL, &out, &err);
        if (r < 0) {
                fprintf(stderr, "berth-seccomp-resolve: %s\n", berth_error_msg(err));
                berth_error_free(err);
                json_free(profile);
                return 1;
        }
        char *s = out ? json_dump(out, JSON_DUMP_PRETTY) : xstrdup("null");
        puts(s);
        free(s);
        json_free(out);
        json_free(profile);
        return 0;
}
