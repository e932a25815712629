/*
 * layers.c — unpacked layers and pulled images as records, their reference
 * counts, garbage collection and start-up recovery (contract in layers.h).
 *
 * images.c owns names and image records (list, find, tag, remove, prune) and
 * pull.c records what it pulls; this file adds recording a loaded image with
 * its layers in one transaction, the `layers` table (chain id, diff_id, size,
 * blob, refs), and collecting files nothing references any more.  Reference counts
 * are recounted from image_layers before every collection, so a record
 * removed by images.c (ON DELETE CASCADE) frees its layers at the next one.
 *
 * Collection never runs while a pull is active (a pull may hold a verified
 * blob or unpacked layer it has not recorded yet); it is then deferred to the
 * end of the last pull.  At start-up, temp files and partial layers are
 * removed (the stores do that), records whose files are missing are dropped,
 * and a collection removes complete files no record names (a crash between
 * unpacking and the commit).
 *
 * Never: delete a file a record names, or collect during a pull.
 */
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "image/layer.h"
#include "image/reference.h"
#include "images.h"
#include "layers.h"

struct berth_layers {
        struct berth_engine *engine;
        struct blob_store *blobs; /* the engine's */
        char *data_root;
        pthread_mutex_t gc_lock; /* guards active_pulls and gc_pending; held while collecting */
        unsigned active_pulls;
        bool gc_pending;
};

static sqlite3 *dbh(struct berth_layers *imgs)
{
        return berth_db_handle(imgs->engine->db);
}

static void finalizep(sqlite3_stmt **st)
{
        if (*st)
                sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static int prep(struct berth_layers *imgs, const char *sql, sqlite3_stmt **ret,
                struct berth_error **err)
{
        if (sqlite3_prepare_v2(dbh(imgs), sql, -1, ret, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(dbh(imgs)));
        return 0;
}

static int step_done(struct berth_layers *imgs, sqlite3_stmt *st, struct berth_error **err)
{
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(dbh(imgs)));
        return 0;
}

static char *col_str(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? xstrdup((const char *)t) : NULL;
}

static void strv_push(char ***v, size_t *n, char *s)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = s;
        (*v)[*n] = NULL;
}

int64_t berth_layers_parse_time(const char *s)
{
        if (!s)
                return 0;
        struct tm tm = {0};
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return 0;
        int64_t t = (int64_t)timegm(&tm);
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9'; p++)
                        ;
        if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
                int off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
                          ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
                t -= *p == '+' ? off : -off;
        }
        return t;
}

static int query_one_str(struct berth_layers *imgs, const char *sql, const char *arg, char **ret,
                         struct berth_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prep(imgs, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = col_str(st, 0);
                return 1;
        }
        if (rc != SQLITE_DONE)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(dbh(imgs)));
        *ret = NULL;
        return 0;
}

/* ---- pull support ---- */

bool berth_layers_have_image(struct berth_layers *imgs, const char *id)
{
        _cleanup_free_ char *have = NULL;
        if (query_one_str(imgs, "SELECT id FROM images WHERE id = ?1", id, &have, NULL) <= 0)
                return false;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs, "SELECT chain_id FROM image_layers WHERE image_id = ?1", &st, NULL) < 0)
                return false;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                if (!layer_exists(imgs->data_root, (const char *)sqlite3_column_text(st, 0)))
                        return false;
        }
        return blob_store_exists(imgs->blobs, id); /* zero layers is a legal image */
}

uint64_t berth_layers_size(struct berth_layers *imgs, const char *chain_id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs, "SELECT size FROM layers WHERE chain_id = ?1", &st, NULL) < 0)
                return 0;
        sqlite3_bind_text(st, 1, chain_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                return (uint64_t)sqlite3_column_int64(st, 0);
        return 0;
}

static int exec_bind(struct berth_layers *imgs, const char *sql, const char *a, const char *b,
                     struct berth_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prep(imgs, sql, &st, err);
        if (r < 0)
                return r;
        if (a)
                sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
        if (b)
                sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
        return step_done(imgs, st, err);
}

static int insert_image(struct berth_layers *imgs, const char *id, const char *manifest_digest,
                        int64_t created, const char *labels_json,
                        const struct berth_layer_rec *layers, size_t n, struct berth_error **err)
{
        int64_t size = 0;
        for (size_t i = 0; i < n; i++)
                size += (int64_t)layers[i].size;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prep(imgs,
                     "INSERT INTO images (id, manifest_digest, size, created, added, labels) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                     &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, manifest_digest, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, size);
        sqlite3_bind_int64(st, 4, created);
        sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
        sqlite3_bind_text(st, 6, labels_json, -1, SQLITE_STATIC);
        if ((r = step_done(imgs, st, err)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_stmt_ sqlite3_stmt *il = NULL, *ly = NULL, *up = NULL;
                if ((r = prep(imgs,
                              "INSERT INTO image_layers (image_id, position, chain_id, diff_id, "
                              "blob_digest, size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                              &il, err)) < 0 ||
                    (r = prep(imgs,
                              "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, "
                              "blob_digest, refs) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                              &ly, err)) < 0 ||
                    (r = prep(imgs,
                              "UPDATE layers SET refs = refs + 1, size = ?2, blob_digest = "
                              "coalesce(blob_digest, ?3) WHERE chain_id = ?1",
                              &up, err)) < 0)
                        return r;
                sqlite3_bind_text(il, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(il, 2, (int64_t)i);
                sqlite3_bind_text(il, 3, layers[i].chain_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(il, 4, layers[i].diff_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(il, 5, layers[i].blob_digest, -1, SQLITE_STATIC);
                sqlite3_bind_int64(il, 6, (int64_t)layers[i].size);
                sqlite3_bind_text(ly, 1, layers[i].chain_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(ly, 2, layers[i].diff_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(ly, 3, i ? layers[i - 1].chain_id : NULL, -1, SQLITE_STATIC);
                sqlite3_bind_int64(ly, 4, (int64_t)layers[i].size);
                sqlite3_bind_text(ly, 5, layers[i].blob_digest, -1, SQLITE_STATIC);
                sqlite3_bind_text(up, 1, layers[i].chain_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(up, 2, (int64_t)layers[i].size);
                sqlite3_bind_text(up, 3, layers[i].blob_digest, -1, SQLITE_STATIC);
                if ((r = step_done(imgs, il, err)) < 0 || (r = step_done(imgs, ly, err)) < 0 ||
                    (r = step_done(imgs, up, err)) < 0)
                        return r;
        }
        return 0;
}

static int set_tag(struct berth_layers *imgs, const char *name, const char *id, bool *ret_changed,
                   struct berth_error **err)
{
        _cleanup_free_ char *old = NULL;
        int r = query_one_str(imgs, "SELECT image_id FROM tags WHERE name = ?1", name, &old, err);
        if (r < 0)
                return r;
        if (old && strcmp(old, id) == 0)
                return 0;
        r = exec_bind(imgs, "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?1, ?2)", name,
                      id, err);
        if (r == 0) {
                _cleanup_free_ char *now = xasprintf("%lld", (long long)time(NULL));
                r = exec_bind(imgs, "UPDATE images SET last_tag_time = ?2 WHERE id = ?1", id, now,
                              err);
        }
        if (ret_changed)
                *ret_changed = true;
        return r;
}

int berth_layers_commit_pull(struct berth_layers *imgs, const char *id, const char *manifest_digest,
                             int64_t created, const char *labels_json,
                             const struct berth_layer_rec *layers, size_t n, const char *tag_name,
                             const char *digest_name, bool *ret_changed, struct berth_error **err)
{
        struct berth_db *db = imgs->engine->db;
        bool changed = false;
        int r = berth_db_begin(db, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *have = NULL;
        r = query_one_str(imgs, "SELECT id FROM images WHERE id = ?1", id, &have, err);
        if (r == 0) {
                r = insert_image(imgs, id, manifest_digest, created, labels_json, layers, n, err);
                changed = true;
        } else if (r > 0) {
                r = exec_bind(imgs,
                              "UPDATE images SET manifest_digest = coalesce(manifest_digest, ?2) "
                              "WHERE id = ?1",
                              id, manifest_digest, err);
        }
        if (r >= 0 && tag_name)
                r = set_tag(imgs, tag_name, id, &changed, err);
        if (r >= 0 && digest_name)
                r = exec_bind(
                    imgs, "INSERT OR REPLACE INTO repo_digests (name, image_id) VALUES (?1, ?2)",
                    digest_name, id, err);
        if (r >= 0)
                r = berth_db_commit(db, err);
        if (r < 0) {
                berth_db_rollback(db);
                return berth_error_prefix(err, "record image %s", id);
        }
        *ret_changed = changed;
        return 0;
}

/* ---- garbage collection ---- */

static bool blob_referenced(struct berth_layers *imgs, const char *digest)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs,
                 "SELECT 1 FROM images WHERE id = ?1 OR manifest_digest = ?1 "
                 "UNION ALL SELECT 1 FROM image_layers WHERE blob_digest = ?1 "
                 /* an index pulled with the image is named by its repo digests */
                 "UNION ALL SELECT 1 FROM repo_digests WHERE substr(name, -length(?1)) = ?1 "
                 "LIMIT 1",
                 &st, NULL) < 0)
                return true; /* when in doubt, keep */
        sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
        return sqlite3_step(st) != SQLITE_DONE;
}

static bool layer_referenced(struct berth_layers *imgs, const char *chain_id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs, "SELECT 1 FROM image_layers WHERE chain_id = ?1 LIMIT 1", &st, NULL) < 0)
                return true;
        sqlite3_bind_text(st, 1, chain_id, -1, SQLITE_STATIC);
        return sqlite3_step(st) != SQLITE_DONE;
}

static int recount_layers(struct berth_layers *imgs, struct berth_error **err)
{
        return berth_db_exec(imgs->engine->db,
                             "INSERT OR IGNORE INTO layers (chain_id, diff_id, size, blob_digest, "
                             "  refs) SELECT chain_id, diff_id, size, blob_digest, 0 "
                             "  FROM image_layers;"
                             "UPDATE layers SET refs = (SELECT count(*) FROM image_layers "
                             "  WHERE image_layers.chain_id = layers.chain_id);",
                             err);
}

/* Caller holds gc_lock with no pull active. */
static void gc_locked(struct berth_layers *imgs)
{
        _cleanup_error_ struct berth_error *err = NULL;
        if (recount_layers(imgs, &err) < 0)
                log_warn("images: %s", berth_error_msg(err));
        (void)berth_db_exec(imgs->engine->db, "DELETE FROM layers WHERE refs <= 0", NULL);
        _cleanup_strv_free_ char **layers = NULL;
        if (layer_list(imgs->data_root, &layers, &err) == 0)
                for (size_t i = 0; layers[i]; i++)
                        if (!layer_referenced(imgs, layers[i])) {
                                log_debug("images: removing unreferenced layer %s", layers[i]);
                                if (layer_delete(imgs->data_root, layers[i], &err) < 0)
                                        log_warn("images: %s", berth_error_msg(err));
                        }
        _cleanup_strv_free_ char **blobs = NULL;
        if (blob_store_list(imgs->blobs, &blobs, &err) == 0)
                for (size_t i = 0; blobs[i]; i++)
                        if (!blob_referenced(imgs, blobs[i])) {
                                log_debug("images: removing unreferenced blob %s", blobs[i]);
                                if (blob_store_delete(imgs->blobs, blobs[i], &err) < 0)
                                        log_warn("images: %s", berth_error_msg(err));
                        }
        imgs->gc_pending = false;
}

void berth_layers_collect(struct berth_layers *imgs)
{
        pthread_mutex_lock(&imgs->gc_lock);
        imgs->gc_pending = true;
        if (imgs->active_pulls == 0)
                gc_locked(imgs);
        pthread_mutex_unlock(&imgs->gc_lock);
}

void berth_layers_pull_enter(struct berth_layers *imgs)
{
        pthread_mutex_lock(&imgs->gc_lock);
        imgs->active_pulls++;
        pthread_mutex_unlock(&imgs->gc_lock);
}

void berth_layers_pull_leave(struct berth_layers *imgs)
{
        pthread_mutex_lock(&imgs->gc_lock);
        if (--imgs->active_pulls == 0 && imgs->gc_pending)
                gc_locked(imgs);
        pthread_mutex_unlock(&imgs->gc_lock);
}

/* ---- open and recovery ---- */

/* Records whose files are gone (a crash, a hand-cleaned directory) are dropped. */
static int drop_incomplete(struct berth_layers *imgs, struct berth_error **err)
{
        _cleanup_strv_free_ char **ids = xcalloc(1, sizeof(char *));
        size_t n = 0;
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                int r = prep(imgs, "SELECT id FROM images", &st, err);
                if (r < 0)
                        return r;
                while (sqlite3_step(st) == SQLITE_ROW)
                        strv_push(&ids, &n, col_str(st, 0));
        }
        for (size_t i = 0; i < n; i++) {
                if (berth_layers_have_image(imgs, ids[i]))
                        continue;
                log_warn("images: dropping image %s: its files are incomplete", ids[i]);
                int r = exec_bind(imgs, "DELETE FROM images WHERE id = ?1", ids[i], NULL, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int berth_layers_open(struct berth_engine *engine, struct berth_layers **ret,
                      struct berth_error **err)
{
        _cleanup_config_ struct berth_config *c = berth_engine_config(engine);
        struct berth_layers *imgs = xcalloc(1, sizeof(*imgs));
        imgs->engine = engine;
        imgs->blobs = engine->store;
        imgs->data_root = xstrdup(c->data_root);
        pthread_mutex_init(&imgs->gc_lock, NULL);
        int r = layer_store_cleanup(c->data_root, err);
        if (r == 0)
                r = drop_incomplete(imgs, err);
        if (r < 0) {
                berth_layers_free(imgs);
                return berth_error_prefix(err, "open layer store");
        }
        pthread_mutex_lock(&imgs->gc_lock);
        gc_locked(imgs);
        pthread_mutex_unlock(&imgs->gc_lock);
        *ret = imgs;
        return 0;
}

void berth_layers_free(struct berth_layers *imgs)
{
        if (!imgs)
                return;
        pthread_mutex_destroy(&imgs->gc_lock);
        free(imgs->data_root);
        free(imgs);
}

const char *berth_layers_data_root(struct berth_layers *l)
{
        return l->data_root;
}

struct berth_engine *berth_layers_engine(struct berth_layers *l)
{
        return l->engine;
}

int berth_layers_manifest(struct berth_layers *l, const char *id, char **ret,
                          struct berth_error **err)
{
        char *d = NULL;
        int r = query_one_str(l, "SELECT manifest_digest FROM images WHERE id = ?1", id, &d, err);
        if (r < 0)
                return r;
        if (!d)
                return berth_error_set(err, EINVAL, "image %.19s has no manifest to push", id);
        *ret = d;
        return 0;
}

int berth_layers_blobs(struct berth_layers *l, const char *id, char ***ret,
                       struct berth_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prep(l,
                     "SELECT blob_digest, position FROM image_layers WHERE image_id = ?1 "
                     "ORDER BY position",
                     &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
                const unsigned char *b = sqlite3_column_text(st, 0);
                if (!b || !blob_store_exists(l->blobs, (const char *)b)) {
                        strv_free(v);
                        return berth_error_set(err, ENOENT,
                                               "image %.19s: layer %d has no stored blob", id,
                                               sqlite3_column_int(st, 1));
                }
                strv_push(&v, &n, xstrdup((const char *)b));
        }
        *ret = v;
        return 0;
}

char *berth_layers_config_labels(const char *buf, size_t len)
{
        _cleanup_json_ struct json *j = NULL;
        if (!buf || json_parse(buf, len, &j, NULL) < 0)
                return NULL;
        const struct json *lab = json_get(json_get(j, "config"), "Labels");
        if (!json_is(lab, JSON_OBJECT) || json_len(lab) == 0)
                return NULL;
        return json_dump(lab, 0);
}
