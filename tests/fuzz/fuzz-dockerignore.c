/*
 * fuzz-dockerignore.c — libFuzzer target for .dockerignore parsing and
 * matching (the file comes with a build context: hostile).  The input is a
 * .dockerignore, then a NUL, then paths separated by '\n'; whatever parses
 * must answer every path quickly (matching is linear: a slow unit is a bug)
 * and consistently: a directory the walker may skip is excluded, the
 * Dockerfile and .dockerignore are sent once kept, and a parse failure
 * always says why.  (Below a skipped directory an exception through a
 * wildcard may match a path docker never reaches: that is docker's rule.)
 */
#include <stdint.h>
#include <string.h>

#include "build/dockerignore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        const char *nul = memchr(data, '\0', size);
        size_t tlen = nul ? (size_t)(nul - text) : size;
        struct dockerignore *di = NULL;
        struct berth_error *err = NULL;
        if (dockerignore_parse(text, tlen, &di, &err) < 0) {
                if (!err || !*err->msg)
                        __builtin_trap();
                berth_error_free(err);
                return 0;
        }
        char *paths = nul ? xstrndup(nul + 1, size - tlen - 1) : xstrdup("a/b/c");
        for (char *save = NULL, *p = strtok_r(paths, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
                bool ex = dockerignore_excluded(di, p);
                if (dockerignore_can_skip_dir(di, p) && !ex)
                        __builtin_trap();
        }
        dockerignore_keep_build_files(di, "Dockerfile", false);
        if (dockerignore_excluded(di, "Dockerfile") || dockerignore_excluded(di, ".dockerignore"))
                __builtin_trap();
        free(paths);
        dockerignore_free(di);
        return 0;
}
