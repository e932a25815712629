/*
 * fuzz-build-context.c — libFuzzer target for the build context's index (the context tar of
 * `docker build` is hostile input): the stream is saved and indexed (build-context.c), then
 * sources are looked up, matched and hashed in the index as COPY takes them, and the context is
 * unpacked as a COPY the cache does not hold unpacks it.
 *
 * It must: never crash or hang on any stream (symlink loops, names with "..", duplicates,
 * links to nowhere); find every name the wildcard lists; hash the same source the same way
 * twice; and unpack only inside its scratch directory (fuzz-confine.h: everything else is
 * read-only, so an escape fails and traps here).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/build-internal.h"
#include "fuzz-confine.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        confine_init("fuzz-build-context", *argc, *argv);
        snprintf(scratch, sizeof(scratch), "%s/ctx", confine_dir);
        return 0;
}

struct input {
        const uint8_t *data;
        size_t size, off;
};

static ssize_t feed(void *buf, size_t len, void *userdata, struct berth_error **err)
{
        (void)err;
        struct input *in = userdata;
        /* in pieces of at most 700 bytes, as a socket delivers them */
        size_t n = in->size - in->off;
        if (n > len)
                n = len;
        if (n > 700)
                n = 700;
        memcpy(buf, in->data + in->off, n);
        in->off += n;
        return (ssize_t)n;
}

static void hash_twice(struct build *b, const char *src)
{
        unsigned char d1[32], d2[32];
        unsigned l = 0;
        for (int k = 0; k < 2; k++) {
                EVP_MD_CTX *md = EVP_MD_CTX_new();
                if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                        __builtin_trap();
                build_context_hash(b, src, md);
                EVP_DigestFinal_ex(md, k ? d2 : d1, &l);
                EVP_MD_CTX_free(md);
        }
        if (memcmp(d1, d2, sizeof(d1)) != 0)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct input in = {data, size, 0};
        struct berth_build_opts o = {.read = feed, .userdata = &in};
        struct build b = {.o = &o, .ctxfd = -1, .ctx_dirfd = -1};
        if (mkdir(scratch, 0700) < 0)
                confine_die("mkdir scratch");
        b.ctx_dirfd = open(scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (b.ctx_dirfd < 0 || mkdirat(b.ctx_dirfd, "root", 0755) < 0)
                confine_die("scratch layout");
        b.ctxfd = openat(b.ctx_dirfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        char *capture[] = {"Dockerfile", ".dockerignore", NULL};
        struct berth_error *err = NULL;
        if (build_context_receive(&b, b.ctx_dirfd, capture, &b.ctx, &err) < 0) {
                if (!err || !*err->msg)
                        __builtin_trap();
                berth_error_free(err);
                goto out;
        }
        char *text = NULL;
        size_t len = 0;
        if (build_context_captured(&b, "Dockerfile", &text, &len) == 0 && text[len] != '\0')
                __builtin_trap();
        free(text);
        static const char *const srcs[] = {"/", ".", "a", "a/b", "sl/x", "../x", "Dockerfile",
                                           "d/", "x/../../y"};
        for (size_t i = 0; i < sizeof(srcs) / sizeof(*srcs); i++) {
                bool dir = false;
                if (build_context_source(&b, srcs[i], &dir, &err) == 0)
                        hash_twice(&b, srcs[i]);
                berth_error_free(err);
                err = NULL;
        }
        static const char *const patterns[] = {"*", "*/*", "a*", "[a-z]*/?"};
        for (size_t i = 0; i < sizeof(patterns) / sizeof(*patterns); i++) {
                char **m = build_context_match(&b, patterns[i]);
                for (char **p = m; *p; p++) {
                        bool dir = false;
                        /* a name the index lists resolves (a symlink may dangle: then not) */
                        if (build_context_source(&b, *p, &dir, &err) == 0)
                                hash_twice(&b, *p);
                        berth_error_free(err);
                        err = NULL;
                }
                strv_free(m);
        }
        /* unpacked as a COPY unpacks it: only inside the scratch directory */
        if (build_context_unpack(&b, &err) < 0) {
                if (confine_escaped(err))
                        __builtin_trap();
                berth_error_free(err);
        }
out:
        build_context_free(b.ctx);
        if (b.ctxfd >= 0)
                close(b.ctxfd);
        close(b.ctx_dirfd);
        confine_rm_rf(scratch);
        return 0;
}
