/*
 * fuzz-reference.c — libFuzzer target for image reference parsing (names come
 * from users, API clients and manifests).  Whatever parses must print back to
 * a string that parses to the same reference, in full and familiar form.
 */
#include <stdint.h>
#include <string.h>

#include "image/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const char *s, const char *want)
{
        struct image_ref *r = NULL;
        struct berth_error *err = NULL;
        if (image_ref_parse_normalized(s, &r, &err) < 0)
                __builtin_trap();
        char *again = image_ref_string(r);
        if (strcmp(again, want) != 0)
                __builtin_trap();
        free(again);
        image_ref_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = xstrndup((const char *)data, size);
        struct image_ref *r = NULL;
        struct berth_error *err = NULL;
        if (image_ref_parse_normalized(s, &r, &err) == 0) {
                char *full = image_ref_string(r), *fam = image_ref_familiar(r);
                same(full, full);
                /* Docker's familiar form is not always re-parseable, and neither is ours:
                 * a 64-hex name is refused (ambiguous with an image id), and a docker.io
                 * path whose first component looks like a domain ("a.b/c") reads back
                 * as that domain.  Check the round trip everywhere else. */
                const char *slash = strchr(fam, '/');
                size_t first = slash ? (size_t)(slash - fam) : 0;
                bool domainish = slash && (memchr(fam, '.', first) || memchr(fam, ':', first) ||
                                           (first == 9 && strncmp(fam, "localhost", 9) == 0));
                for (size_t i = 0; slash && i < first; i++)
                        domainish |= fam[i] >= 'A' && fam[i] <= 'Z';
                bool hexid = strlen(fam) == 64 && !strchr(fam, ':') && !strchr(fam, '/');
                if (!domainish && !hexid)
                        same(fam, full);
                free(full);
                free(fam);
                image_ref_free(r);
        } else if (!err || !*err->msg) {
                __builtin_trap();
        }
        berth_error_free(err);
        free(s);
        return 0;
}
