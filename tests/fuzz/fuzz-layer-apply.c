/*
 * fuzz-layer-apply.c — libFuzzer target for layer apply (image/layer.h), the
 * code that writes a registry's or an archive's tar to disk: the input is a
 * whole layer (plain tar, or gzip/zstd/bzip2/xz, as a pull or load hands it
 * over, fed in two pieces), applied into a temp dir that traps any write
 * outside it (fuzz-confine.h: everything else is read-only, so an escape is
 * an EROFS or EXDEV error, and a crash here).
 *
 * Beside the data root the scratch dir holds "outside/sentinel", the target
 * of the seeds' planted symlinks and ../ names.  After each input the scratch
 * dir must hold exactly what layer apply may leave: data/layers/<hex> of a
 * finished layer and nothing else (no *.tmp after a failure, nothing beside
 * "layers"), and outside/ exactly as it was; every failure has a message.
 * Then the layers are removed for the next input.
 *
 * Seeds (corpus-layer-apply/, made by make-seeds.py): the hostile layers of
 * tests/unit/test-layer.c and tests/integration/test_layer_apply.py.
 * Needs root.  Never: apply a layer outside the scratch tmpfs.
 */
#include <dirent.h>
#include <stdint.h>

#include "fuzz-confine.h"
#include "image/layer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL "sentinel: layer apply must never write here\n"

static char data_root[PATH_MAX], layers_dir[PATH_MAX], outside[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        confine_init("fuzz-layer-apply", *argc, *argv);
        snprintf(data_root, sizeof(data_root), "%s/data", confine_dir);
        snprintf(layers_dir, sizeof(layers_dir), "%s/data/layers", confine_dir);
        snprintf(outside, sizeof(outside), "%s/outside", confine_dir);
        char sentinel[PATH_MAX];
        snprintf(sentinel, sizeof(sentinel), "%s/sentinel", outside);
        int fd = -1;
        if (mkdir(data_root, 0700) < 0 || mkdir(outside, 0755) < 0 ||
            (fd = open(sentinel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
            write(fd, SENTINEL, strlen(SENTINEL)) != (ssize_t)strlen(SENTINEL))
                confine_die("scratch layout");
        close(fd);
        return 0;
}

/* The names in dir, sorted, joined by '/'; NULL when it cannot be read. */
static char *names_in(const char *dir)
{
        struct dirent **list = NULL;
        int n = scandir(dir, &list, NULL, alphasort);
        if (n < 0)
                return NULL;
        size_t len = 1;
        for (int i = 0; i < n; i++)
                len += strlen(list[i]->d_name) + 1;
        char *out = calloc(1, len);
        for (int i = 0; i < n; i++) {
                if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
                        if (*out)
                                strcat(out, "/");
                        strcat(out, list[i]->d_name);
                }
                free(list[i]);
        }
        free(list);
        return out;
}

static bool names_are(const char *dir, const char *want)
{
        char *got = names_in(dir);
        bool ok = got && strcmp(got, want) == 0;
        if (!ok)
                fprintf(stderr, "fuzz-layer-apply: %s holds '%s', want '%s'\n", dir,
                        got ? got : "(unreadable)", want);
        free(got);
        return ok;
}

static bool sentinel_intact(void)
{
        char p[PATH_MAX], buf[128];
        snprintf(p, sizeof(p), "%s/sentinel", outside);
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
        if (fd >= 0)
                close(fd);
        return len == (ssize_t)strlen(SENTINEL) && memcmp(buf, SENTINEL, (size_t)len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct layer_apply_opts o = {
            .limits = {.max_bytes = 8 << 20, .max_entries = 4096, .max_path = 1024}};
        struct berth_error *err = NULL;
        struct layer_apply *la = NULL;
        struct layer_result res;
        int r = layer_apply_begin(data_root, &o, &la, &err);
        size_t split = size ? (size_t)data[0] * 13 % (size + 1) : 0;
        if (r == 0)
                r = layer_apply_write(la, data, split, &err);
        if (r == 0)
                r = layer_apply_write(la, data + split, size - split, &err);
        if (r == 0)
                r = layer_apply_finish(la, &res, &err);
        else
                layer_apply_abort(la);
        if (r < 0 && (!err || !err->msg || !*err->msg))
                __builtin_trap(); /* every failure says why */
        if (r < 0 && confine_escaped(err)) {
                fprintf(stderr, "fuzz-layer-apply: a write outside the layer: %s\n", err->msg);
                __builtin_trap();
        }
        char want[80] = "";
        if (r == 0)
                snprintf(want, sizeof(want), "%s", res.chain_id + 7);
        if (!names_are(confine_dir, "data/outside") || !names_are(data_root, "layers") ||
            !names_are(outside, "sentinel") || !sentinel_intact() || !names_are(layers_dir, want))
                __builtin_trap();
        berth_error_free(err);
        if (r == 0) { /* empty the layer store for the next input */
                confine_rm_rf(layers_dir);
                if (mkdir(layers_dir, 0700) < 0)
                        confine_die("mkdir layers");
        }
        return 0;
}
