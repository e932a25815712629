/*
 * fuzz-load.c — libFuzzer target for `load`'s archive reader
 * (engine/archive.c through berth_image_load), as POST /images/load feeds it:
 * the input is the request body — a docker-archive or OCI layout tar, plain or
 * compressed — read in two pieces by a real engine (database, content store,
 * layer apply) whose data root is a scratch tmpfs in which any write outside
 * it is trapped (fuzz-confine.h).
 *
 * What hostile archives aim at: manifest.json and index.json naming members
 * through symlinks and hardlinks (in circles, out of the archive, through
 * ../), member names that look like blobs or climb out, digests that lie.
 * After each input: every failure has a message and none is EROFS/EXDEV (a
 * write outside the scratch dir); tmp/ holds no leftover ingest; every name in
 * blobs/sha256/ and layers/ is a 64-hex digest (no archive path ever becomes a
 * file name) and nothing appears beside the engine's own files; outside/
 * is untouched.  After a load that recorded an image the engine is thrown
 * away and opened afresh, so state never piles up.
 *
 * Seeds (corpus-load/, made by make-seeds.py): the archives of
 * tests/integration/test_image_load.py, hostile ones included.
 * Needs root.  Never: load into a data root outside the scratch tmpfs.
 */
#include <dirent.h>
#include <stdint.h>

#include "engine/archive.h"
#include "engine/layers.h"
#include "fuzz-confine.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SENTINEL "sentinel: load must never write here\n"

static struct berth_config_flags flags;
static struct berth_config *config;
static struct berth_engine *engine;
static char data_root[PATH_MAX], outside[PATH_MAX];

static void engine_open(void)
{
        struct berth_error *err = NULL;
        if (berth_engine_open(config, &flags, &engine, &err) < 0 ||
            berth_layers_open(engine, &engine->layers, &err) < 0) {
                fprintf(stderr, "fuzz-load: open engine: %s\n", berth_error_msg(err));
                _exit(1);
        }
}

static void engine_close(void)
{
        berth_layers_free(engine->layers);
        berth_engine_free(engine);
        engine = NULL;
        confine_rm_rf(data_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        confine_init("fuzz-load", *argc, *argv);
        snprintf(data_root, sizeof(data_root), "%s/data", confine_dir);
        snprintf(outside, sizeof(outside), "%s/outside", confine_dir);
        char path[PATH_MAX];
        int fd = -1;
        snprintf(path, sizeof(path), "%s/sentinel", outside);
        if (mkdir(outside, 0755) < 0 ||
            (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
            write(fd, SENTINEL, strlen(SENTINEL)) != (ssize_t)strlen(SENTINEL))
                confine_die("scratch layout");
        close(fd);
        snprintf(path, sizeof(path), "%s/daemon.json", confine_dir);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
            write(fd, "{}", 2) != 2)
                confine_die("daemon.json");
        close(fd);
        berth_config_flags_init(&flags);
        flags.config_file = strdup(path);
        flags.data_root = data_root;
        snprintf(path, sizeof(path), "%s/run", confine_dir);
        flags.exec_root = strdup(path);
        struct berth_error *err = NULL;
        if (berth_config_load(&flags, &config, &err) < 0) {
                fprintf(stderr, "fuzz-load: config: %s\n", berth_error_msg(err));
                exit(1);
        }
        engine_open();
        return 0;
}

struct input {
        const uint8_t *data;
        size_t size, off, split;
};

static ssize_t read_input(void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct input *in = userdata;
        size_t end = in->off < in->split ? in->split : in->size; /* two pieces */
        size_t n = end - in->off < len ? end - in->off : len;
        memcpy(buf, in->data + in->off, n);
        in->off += n;
        return (ssize_t)n;
}

/* The load's JSON stream: every message must be an object. */
static int emit_msg(const struct json *msg, void *userdata)
{
        if (!json_is(msg, JSON_OBJECT))
                __builtin_trap();
        return 0;
}

static bool is_hex64(const char *s)
{
        if (strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* Every entry of dir passes ok(name); NULL ok: dir must be empty or absent. */
static bool entries_ok(const char *dir, bool (*ok)(const char *))
{
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT;
        struct dirent *de;
        bool good = true;
        while (good && (de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                good = ok && ok(de->d_name);
                if (!good)
                        fprintf(stderr, "fuzz-load: unexpected '%s' in %s\n", de->d_name, dir);
        }
        closedir(d);
        return good;
}

static bool engine_file(const char *name)
{
        static const char *const known[] = {
            "berth.db", "berth.db-wal", "berth.db-shm", "berth.db-journal", "engine-id", "blobs",
            "layers",   "tmp",          "containers",   "volumes",          NULL};
        for (size_t i = 0; known[i]; i++)
                if (!strcmp(name, known[i]))
                        return true;
        return false;
}

static bool scratch_file(const char *name)
{
        return !strcmp(name, "data") || !strcmp(name, "outside") || !strcmp(name, "run") ||
               !strcmp(name, "daemon.json");
}

static bool sentinel_file(const char *name)
{
        return !strcmp(name, "sentinel");
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
        struct input in = {data, size, 0, size ? (size_t)data[0] * 31 % (size + 1) : 0};
        struct berth_load_opts o = {
            .read = read_input, .emit = emit_msg, .userdata = &in, .quiet = size && (data[0] & 1)};
        struct berth_error *err = NULL;
        int r = berth_image_load(engine->layers, &o, &err);
        if (r < 0 && (!err || !err->msg || !*err->msg))
                __builtin_trap(); /* every failure says why */
        if (r < 0 && confine_escaped(err)) {
                fprintf(stderr, "fuzz-load: a write outside the data root: %s\n", err->msg);
                __builtin_trap();
        }
        char blobs[PATH_MAX], layers[PATH_MAX], tmp[PATH_MAX];
        snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", data_root);
        snprintf(layers, sizeof(layers), "%s/layers", data_root);
        snprintf(tmp, sizeof(tmp), "%s/tmp", data_root);
        if (!entries_ok(confine_dir, scratch_file) || !entries_ok(data_root, engine_file) ||
            !entries_ok(blobs, is_hex64) || !entries_ok(layers, is_hex64) ||
            !entries_ok(tmp, NULL) || !entries_ok(outside, sentinel_file) || !sentinel_intact())
                __builtin_trap();
        berth_error_free(err);
        if (r == 0) { /* images recorded: start the next input from an empty store */
                engine_close();
                engine_open();
        }
        return 0;
}
