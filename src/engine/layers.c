/*
 * layers.c — unpacked layers and pulled images as records, their reference
 * counts, garbage collection and start-up recovery (contract in layers.h).
 *
 * images.c owns names and image records (list, find, tag, remove, prune);
 * this file records a pulled or loaded image with its layers in one
 * transaction, keeps the `layers` table (chain id, diff_id, size, blob, refs),
 * and collects files nothing references any more.  Reference counts are
 * recounted from image_layers before every collection, so a record removed by
 * images.c (ON DELETE CASCADE) frees its layers at the next one.
 *
 * Every layer directory has a `layers` row, made before the directory gets
 * its final name (berth_layers_reserve, refs 0): so a crash between unpacking
 * and recording leaves a row that collection finishes, and a directory with
 * no row at all is something no crash of ours can make (a replaced or lost
 * berth.db): start-up refuses to run over it rather than delete it.
 *
 * Collection never runs while a pull is active (a pull may hold a verified
 * blob or unpacked layer it has not recorded yet); it is then deferred to the
 * end of the last pull.  At start-up: temp files and partial layers are
 * removed (the stores do that); the database and the files are checked
 * against each other (store_check below); then a collection.
 *
 * Never: delete a file a record names, delete a layer directory no row names,
 * drop a record because its files are missing, or collect during a pull.
 */
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/units.h"
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
        int64_t ns;
        if (units_parse_rfc3339(s, &ns) < 0)
                return 0;
        return ns / UNITS_NSEC_PER_SEC - (ns % UNITS_NSEC_PER_SEC < 0);
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

/* Every chain id in the layers table, sorted (only those with refs 0 when
 * unreferenced). */
static int layer_rows(struct berth_layers *imgs, bool unreferenced, char ***ret,
                      struct berth_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prep(imgs,
                     unreferenced ? "SELECT chain_id FROM layers WHERE refs <= 0 ORDER BY chain_id"
                                  : "SELECT chain_id FROM layers ORDER BY chain_id",
                     &st, err);
        if (r < 0)
                return r;
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                strv_push(&v, &n, col_str(st, 0));
        if (rc != SQLITE_DONE) {
                strv_free(v);
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(dbh(imgs)));
        }
        *ret = v;
        return 0;
}

static bool strv_sorted_has(char **v, const char *s)
{
        size_t lo = 0, hi = 0;
        while (v[hi])
                hi++;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(v[mid], s);
                if (c == 0)
                        return true;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

/* Caller holds gc_lock with no pull active.  Layers: a row no image uses any
 * more loses its directory, then the row (in that order: a crash in between
 * leaves the row, which the next collection finishes).  Blobs: removed when
 * nothing names them. */
static void gc_locked(struct berth_layers *imgs)
{
        _cleanup_error_ struct berth_error *err = NULL;
        if (recount_layers(imgs, &err) < 0) {
                /* (what the connection was in says why a busy timeout did not wait) */
                _cleanup_free_ char *state = berth_db_state(imgs->engine->db);
                log_warn("images: %s (nothing collected; %s)", berth_error_msg(err), state);
                return;
        }
        _cleanup_strv_free_ char **doomed = NULL;
        if (layer_rows(imgs, true, &doomed, &err) == 0) {
                for (size_t i = 0; doomed[i]; i++) {
                        log_debug("images: removing unreferenced layer %s", doomed[i]);
                        if (layer_delete(imgs->data_root, doomed[i], &err) < 0) {
                                log_warn("images: %s", berth_error_msg(err));
                                berth_error_free(TAKE_PTR(err));
                                continue;
                        }
                        (void)exec_bind(imgs,
                                        "DELETE FROM layers WHERE chain_id = ?1 AND refs <= 0",
                                        doomed[i], NULL, NULL);
                }
        } else {
                log_warn("images: %s", berth_error_msg(err));
                berth_error_free(TAKE_PTR(err));
        }
        _cleanup_strv_free_ char **blobs = NULL;
        if (blob_store_list(imgs->blobs, &blobs, &err) == 0) {
                for (size_t i = 0; blobs[i]; i++) {
                        if (blob_referenced(imgs, blobs[i]))
                                continue;
                        log_debug("images: removing unreferenced blob %s", blobs[i]);
                        if (blob_store_delete(imgs->blobs, blobs[i], &err) < 0) {
                                log_warn("images: %s", berth_error_msg(err));
                                berth_error_free(TAKE_PTR(err));
                        }
                }
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

/* What an image's names are, for a message ("busybox:latest, busybox@sha256:…"
 * or its short ID when it has none). */
static char *image_shown(struct berth_layers *imgs, const char *id)
{
        _cleanup_free_ char *name = NULL;
        if (query_one_str(imgs,
                          "SELECT name FROM tags WHERE image_id = ?1 UNION ALL "
                          "SELECT name FROM repo_digests WHERE image_id = ?1 LIMIT 1",
                          id, &name, NULL) > 0 &&
            name) {
                _cleanup_image_ref_ struct image_ref *ref = NULL;
                if (image_ref_parse_normalized(name, &ref, NULL) == 0)
                        return image_ref_familiar(ref);
                return TAKE_PTR(name);
        }
        return xasprintf("%.19s", id);
}

/* A small blob an image needs (config, manifest): present and matching its
 * digest.  A blob whose bytes do not match is removed, so the next pull
 * fetches it again instead of finding it "already present". */
static int check_small_blob(struct berth_layers *imgs, const char *digest, char **ret_problem)
{
        _cleanup_error_ struct berth_error *err = NULL;
        int r = blob_store_verify(imgs->blobs, digest, &err);
        if (r == 0)
                return 0;
        if (r == -EBADMSG) {
                _cleanup_error_ struct berth_error *derr = NULL;
                (void)blob_store_delete(imgs->blobs, digest, &derr);
                *ret_problem = xasprintf("%s (removed)", berth_error_msg(err));
        } else {
                *ret_problem = xstrdup(berth_error_msg(err));
        }
        return r;
}

/* The first thing wrong with an image's files, or NULL. */
static char *image_problem(struct berth_layers *imgs, const char *id, const char *manifest)
{
        char *problem = NULL;
        if (check_small_blob(imgs, id, &problem) < 0)
                return problem;
        if (manifest && check_small_blob(imgs, manifest, &problem) < 0)
                return problem;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs, "SELECT chain_id FROM image_layers WHERE image_id = ?1 ORDER BY position",
                 &st, NULL) < 0)
                return NULL;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *chain = (const char *)sqlite3_column_text(st, 0);
                if (!layer_exists(imgs->data_root, chain)) {
                        _cleanup_free_ char *p = layer_path(imgs->data_root, chain);
                        return xasprintf("layer directory '%s' is missing", p);
                }
        }
        return NULL;
}

/*
 * The database and the files, against each other, at start-up.  An image
 * whose files are missing or damaged keeps its record (and every file it
 * still has): each gets one error line naming it, what is wrong and the
 * command that mends it; the next pull of it fetches what is missing.  A
 * layer directory no row names is not something a crash of ours leaves
 * (berth_layers_reserve) but a sign that berth.db was replaced or lost:
 * berthd refuses to start rather than collect a whole store.
 */
static int store_check(struct berth_layers *imgs, struct berth_error **err)
{
        int r = recount_layers(imgs, err);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **rows = NULL, **dirs = NULL;
        if ((r = layer_rows(imgs, false, &rows, err)) < 0 ||
            (r = layer_list(imgs->data_root, &dirs, err)) < 0)
                return r;
        size_t strays = 0;
        const char *first = NULL;
        for (size_t i = 0; dirs[i]; i++)
                if (!strv_sorted_has(rows, dirs[i])) {
                        strays++;
                        first = first ? first : dirs[i];
                }
        if (strays) {
                _cleanup_free_ char *p = layer_path(imgs->data_root, first);
                _cleanup_free_ char *db = xasprintf("%s/berth.db", imgs->data_root);
                return berth_error_set(err, EUCLEAN,
                                       "store '%s' is damaged: %zu layer director%s no record "
                                       "in %s (the first: %s); was berth.db replaced or lost? "
                                       "berthd deletes nothing it cannot account for: restore "
                                       "berth.db, or remove the unrecorded directories under "
                                       "%s/layers to go on without them",
                                       imgs->data_root, strays, strays == 1 ? "y has" : "ies have",
                                       db, p, imgs->data_root);
        }

        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if ((r = prep(imgs, "SELECT id, manifest_digest FROM images ORDER BY id", &st, err)) < 0)
                return r;
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(st, 0);
                const char *manifest = (const char *)sqlite3_column_text(st, 1);
                _cleanup_free_ char *problem = image_problem(imgs, id, manifest);
                if (!problem)
                        continue;
                _cleanup_free_ char *shown = image_shown(imgs, id);
                bool named = strncmp(shown, id, 19) != 0;
                log_error("image %s (%.19s) is damaged: %s; %s%s%s'berth rmi -f %.19s' removes it",
                          shown, id, problem, named ? "'berth pull " : "", named ? shown : "",
                          named ? "' restores it, " : "", id);
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
                r = store_check(imgs, err);
        if (r < 0) {
                berth_layers_free(imgs);
                return r;
        }
        pthread_mutex_lock(&imgs->gc_lock);
        gc_locked(imgs);
        pthread_mutex_unlock(&imgs->gc_lock);
        *ret = imgs;
        return 0;
}

int berth_layers_reserve(struct berth_layers *imgs, const struct berth_layer_rec *layers, size_t n,
                         struct berth_error **err)
{
        struct berth_db *db = imgs->engine->db;
        int r = berth_db_begin(db, err);
        if (r < 0)
                return r;
        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = prep(imgs,
                         "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, "
                         "blob_digest, refs) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                         &st, err);
                if (r < 0)
                        break;
                sqlite3_bind_text(st, 1, layers[i].chain_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, layers[i].diff_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, i ? layers[i - 1].chain_id : NULL, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, (int64_t)layers[i].size);
                sqlite3_bind_text(st, 5, layers[i].blob_digest, -1, SQLITE_STATIC);
                r = step_done(imgs, st, err);
        }
        if (r == 0)
                r = berth_db_commit(db, err);
        if (r < 0) {
                berth_db_rollback(db);
                return berth_error_prefix(err, "reserve layers");
        }
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
