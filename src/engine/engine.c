/*
 * engine.c — opening the daemon's state and swapping its configuration
 * (contract in engine.h).
 *
 * The engine ID is a random UUID written once (atomically) to
 * <data-root>/engine-id, as dockerd 23+ does, so `info` shows the same ID
 * across restarts and two daemons with different data roots differ.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/log.h"
#include "engine.h"
#include "volumes.h"

static int load_engine_id(const char *data_root, char **ret, struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/engine-id", data_root);
        _cleanup_free_ char *s = NULL;
        int r = read_file_at(AT_FDCWD, path, 256, &s, NULL);
        if (r == 0) {
                s[strcspn(s, "\r\n")] = '\0';
                if (strlen(s) == 36) {
                        *ret = TAKE_PTR(s);
                        return 0;
                }
        } else if (r != -ENOENT) {
                return berth_error_sys(err, -r, "read '%s'", path);
        }

        uint8_t b[16];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                return berth_error_sys(err, errno, "generate engine id");
        b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
        b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        char *id = xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
                             b[11], b[12], b[13], b[14], b[15]);
        _cleanup_free_ char *line = xasprintf("%s\n", id);
        r = write_file_atomic(path, line, strlen(line), 0644);
        if (r < 0) {
                free(id);
                return berth_error_sys(err, -r, "write '%s'", path);
        }
        *ret = id;
        return 0;
}

int berth_engine_open(struct berth_config *config, const struct berth_config_flags *flags,
                      struct berth_engine **ret, struct berth_error **err)
{
        int r = mkdir_p(config->data_root, 0711);
        if (r < 0)
                return berth_error_sys(err, -r, "create data root '%s'", config->data_root);
        static const char *const subdirs[] = {"blobs", "layers", "containers", "volumes", "tmp"};
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *d = xasprintf("%s/%s", config->data_root, subdirs[i]);
                r = mkdir_p(d, 0700);
                if (r < 0)
                        return berth_error_sys(err, -r, "create '%s'", d);
        }

        struct berth_engine *e = xcalloc(1, sizeof(*e));
        pthread_mutex_init(&e->lock, NULL);
        e->flags = flags;
        e->config = berth_config_ref(config);
        e->events = berth_events_new();
        r = load_engine_id(config->data_root, &e->id, err);
        if (r == 0) {
                _cleanup_free_ char *dbpath = xasprintf("%s/berth.db", config->data_root);
                r = berth_db_open(dbpath, &e->db, err);
        }
        if (r == 0)
                r = blob_store_open(config->data_root, &e->store, err);
        if (r == 0)
                r = berth_volumes_open(e, err);
        if (r < 0) {
                berth_engine_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

void berth_engine_free(struct berth_engine *e)
{
        if (!e)
                return;
        berth_volumes_close(e);
        berth_db_close(e->db);
        blob_store_free(e->store);
        berth_events_free(e->events);
        berth_config_unref(e->config);
        pthread_mutex_destroy(&e->lock);
        free(e->id);
        free(e);
}

struct berth_config *berth_engine_config(struct berth_engine *e)
{
        pthread_mutex_lock(&e->lock);
        struct berth_config *c = berth_config_ref(e->config);
        pthread_mutex_unlock(&e->lock);
        return c;
}

int berth_engine_reload(struct berth_engine *e, char ***ret_changes, struct berth_error **err)
{
        _cleanup_config_ struct berth_config *old = berth_engine_config(e);
        struct berth_config *n = NULL;
        int r = berth_config_reload(old, e->flags, &n, ret_changes, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&e->lock);
        struct berth_config *prev = e->config;
        e->config = n;
        pthread_mutex_unlock(&e->lock);
        berth_config_unref(prev);
        return 0;
}

int berth_engine_count_images(struct berth_engine *e, int64_t *ret, struct berth_error **err)
{
        return berth_db_query_int(e->db, "SELECT count(*) FROM images", ret, err);
}

int berth_engine_count_containers(struct berth_engine *e, int64_t *ret, struct berth_error **err)
{
        return berth_db_query_int(e->db, "SELECT count(*) FROM containers", ret, err);
}
