/*
 * images.c — image records, names and queries, deletion and garbage
 * collection, start-up recovery (contract in images.h; the pull is in
 * images-pull.c).
 *
 * Names are stored fully qualified ("docker.io/library/busybox:latest") and
 * shown in Docker's familiar form ("busybox:latest").  Looking a name up
 * follows dockerd's GetImage: a full "sha256:<hex>" ID, then a reference (a
 * tag, ":latest" when none, or a digest), then a unique ID prefix.
 *
 * Deletion follows dockerd's ImageDelete: a reference untags first (and takes
 * the repository's digest references with it when no tag of that repository
 * is left); the image itself goes only when nothing names it any more; an ID
 * with references in several repositories needs force.  Layers lose one
 * reference per image removed; those at zero are reported as "Deleted" and
 * collected from disk together with blobs no record names.
 *
 * Never: delete a file inside a transaction that may still roll back, or
 * collect while a pull runs (images.h).
 */
#include <fnmatch.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "image/layer.h"
#include "image/reference.h"
#include "images-internal.h"

#define CONFIG_MAX (16u << 20)

static sqlite3 *dbh(struct berth_images *imgs)
{
        return berth_db_handle(imgs->engine->db);
}

static void finalizep(sqlite3_stmt **st)
{
        if (*st)
                sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static int prep(struct berth_images *imgs, const char *sql, sqlite3_stmt **ret,
                struct berth_error **err)
{
        if (sqlite3_prepare_v2(dbh(imgs), sql, -1, ret, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(dbh(imgs)));
        return 0;
}

static int step_done(struct berth_images *imgs, sqlite3_stmt *st, struct berth_error **err)
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

int64_t images_parse_time(const char *s)
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

/* "docker.io/library/busybox:latest" → "busybox:latest". */
static char *familiar(const char *full)
{
        _cleanup_image_ref_ struct image_ref *r = NULL;
        if (image_ref_parse_normalized(full, &r, NULL) < 0)
                return xstrdup(full);
        return image_ref_familiar(r);
}

static struct json *jstr_take(char *s)
{
        struct json *j = json_new_string(s);
        free(s);
        return j;
}

/* ---- names of an image ---- */

static int image_names(struct berth_images *imgs, const char *table, const char *id, char ***ret,
                       struct berth_error **err)
{
        _cleanup_free_ char *sql =
            xasprintf("SELECT name FROM %s WHERE image_id = ?1 ORDER BY name", table);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prep(imgs, sql, &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
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

static struct json *familiar_array(char *const *names)
{
        struct json *a = json_new_array();
        for (size_t i = 0; names && names[i]; i++)
                json_array_append(a, jstr_take(familiar(names[i])));
        return a;
}

/* ---- lookup ---- */

static int query_one_str(struct berth_images *imgs, const char *sql, const char *arg, char **ret,
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

static bool all_hex(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* The stored name a reference stands for (tag, ":latest", or digest); NULL if not a reference. */
static char *ref_key(const char *name, bool *ret_is_digest)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(name, &ref, NULL) < 0)
                return NULL;
        _cleanup_free_ char *n = image_ref_name(ref);
        *ret_is_digest = ref->digest != NULL;
        if (ref->digest)
                return xasprintf("%s@%s", n, ref->digest);
        return xasprintf("%s:%s", n, ref->tag ? ref->tag : IMAGE_REF_DEFAULT_TAG);
}

int berth_images_resolve(struct berth_images *imgs, const char *name, char **ret_id,
                         struct berth_error **err)
{
        char *id = NULL;
        int r;
        if (strncmp(name, "sha256:", 7) == 0 && strlen(name) == 71) {
                r = query_one_str(imgs, "SELECT id FROM images WHERE id = ?1", name, &id, err);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_id = id;
                        return 0;
                }
        }
        bool is_digest = false;
        _cleanup_free_ char *key = ref_key(name, &is_digest);
        if (key) {
                r = query_one_str(imgs,
                                  is_digest ? "SELECT image_id FROM repo_digests WHERE name = ?1"
                                            : "SELECT image_id FROM tags WHERE name = ?1",
                                  key, &id, err);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_id = id;
                        return 0;
                }
        }
        const char *hex = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
        if (all_hex(hex) && strlen(hex) <= 64) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = prep(imgs, "SELECT id FROM images WHERE substr(id, 8, length(?1)) = ?1", &st,
                         err);
                if (r < 0)
                        return r;
                sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
                int n = 0;
                while (sqlite3_step(st) == SQLITE_ROW) {
                        if (n++ == 0)
                                id = col_str(st, 0);
                }
                if (n == 1) {
                        *ret_id = id;
                        return 0;
                }
                free(id);
        }
        return berth_error_set(err, ENOENT, "No such image: %s", name);
}

/* ---- pull support ---- */

bool images_have_complete(struct berth_images *imgs, const char *id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs, "SELECT chain_id FROM image_layers WHERE image_id = ?1", &st, NULL) < 0)
                return false;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
                n++;
                if (!layer_exists(imgs->data_root, (const char *)sqlite3_column_text(st, 0)))
                        return false;
        }
        return n > 0 && blob_store_exists(imgs->blobs, id);
}

uint64_t images_layer_size(struct berth_images *imgs, const char *chain_id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs, "SELECT size FROM layers WHERE chain_id = ?1", &st, NULL) < 0)
                return 0;
        sqlite3_bind_text(st, 1, chain_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                return (uint64_t)sqlite3_column_int64(st, 0);
        return 0;
}

static int exec_bind(struct berth_images *imgs, const char *sql, const char *a, const char *b,
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

static int insert_image(struct berth_images *imgs, const char *id, const char *manifest_digest,
                        int64_t created, const char *labels_json,
                        const struct images_layer_rec *layers, size_t n, struct berth_error **err)
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
                              "blob_digest) VALUES (?1, ?2, ?3, ?4, ?5)",
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

static int set_tag(struct berth_images *imgs, const char *name, const char *id, bool *ret_changed,
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

int images_commit_pull(struct berth_images *imgs, const char *id, const char *manifest_digest,
                       int64_t created, const char *labels_json,
                       const struct images_layer_rec *layers, size_t n, const char *tag_name,
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

static bool blob_referenced(struct berth_images *imgs, const char *digest)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs,
                 "SELECT 1 FROM images WHERE id = ?1 OR manifest_digest = ?1 "
                 "UNION ALL SELECT 1 FROM layers WHERE blob_digest = ?1 AND refs > 0 LIMIT 1",
                 &st, NULL) < 0)
                return true; /* when in doubt, keep */
        sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
        return sqlite3_step(st) != SQLITE_DONE;
}

static bool layer_referenced(struct berth_images *imgs, const char *chain_id)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if (prep(imgs, "SELECT 1 FROM image_layers WHERE chain_id = ?1 LIMIT 1", &st, NULL) < 0)
                return true;
        sqlite3_bind_text(st, 1, chain_id, -1, SQLITE_STATIC);
        return sqlite3_step(st) != SQLITE_DONE;
}

/* Caller holds gc_lock with no pull active. */
static void gc_locked(struct berth_images *imgs)
{
        _cleanup_error_ struct berth_error *err = NULL;
        (void)berth_db_exec(imgs->engine->db, "DELETE FROM layers WHERE refs <= 0", &err);
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

static void gc_request(struct berth_images *imgs)
{
        pthread_mutex_lock(&imgs->gc_lock);
        imgs->gc_pending = true;
        if (imgs->active_pulls == 0)
                gc_locked(imgs);
        pthread_mutex_unlock(&imgs->gc_lock);
}

void images_pull_enter(struct berth_images *imgs)
{
        pthread_mutex_lock(&imgs->gc_lock);
        imgs->active_pulls++;
        pthread_mutex_unlock(&imgs->gc_lock);
}

void images_pull_leave(struct berth_images *imgs)
{
        pthread_mutex_lock(&imgs->gc_lock);
        if (--imgs->active_pulls == 0 && imgs->gc_pending)
                gc_locked(imgs);
        pthread_mutex_unlock(&imgs->gc_lock);
}

/* ---- open and recovery ---- */

static int recount_layers(struct berth_images *imgs, struct berth_error **err)
{
        return berth_db_exec(imgs->engine->db,
                             "INSERT OR IGNORE INTO layers (chain_id, diff_id, size, refs) "
                             "  SELECT chain_id, diff_id, 0, 0 FROM image_layers;"
                             "UPDATE layers SET refs = (SELECT count(*) FROM image_layers "
                             "  WHERE image_layers.chain_id = layers.chain_id);",
                             err);
}

/* Records whose files are gone (a crash, a hand-cleaned directory) are dropped. */
static int drop_incomplete(struct berth_images *imgs, struct berth_error **err)
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
                if (images_have_complete(imgs, ids[i]))
                        continue;
                log_warn("images: dropping image %s: its files are incomplete", ids[i]);
                int r = exec_bind(imgs, "DELETE FROM images WHERE id = ?1", ids[i], NULL, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int berth_images_open(struct berth_engine *engine, struct berth_images **ret,
                      struct berth_error **err)
{
        _cleanup_config_ struct berth_config *c = berth_engine_config(engine);
        struct berth_images *imgs = xcalloc(1, sizeof(*imgs));
        imgs->engine = engine;
        imgs->data_root = xstrdup(c->data_root);
        pthread_mutex_init(&imgs->gc_lock, NULL);
        int r = blob_store_open(c->data_root, &imgs->blobs, err);
        if (r == 0)
                r = layer_store_cleanup(c->data_root, err);
        if (r == 0)
                r = drop_incomplete(imgs, err);
        if (r == 0)
                r = recount_layers(imgs, err);
        if (r < 0) {
                berth_images_free(imgs);
                return berth_error_prefix(err, "open image store");
        }
        pthread_mutex_lock(&imgs->gc_lock);
        gc_locked(imgs);
        pthread_mutex_unlock(&imgs->gc_lock);
        *ret = imgs;
        return 0;
}

void berth_images_free(struct berth_images *imgs)
{
        if (!imgs)
                return;
        blob_store_free(imgs->blobs);
        pthread_mutex_destroy(&imgs->gc_lock);
        free(imgs->data_root);
        free(imgs);
}

/* ---- filters ---- */

int berth_filters_parse(const char *s, struct json **ret, struct berth_error **err)
{
        *ret = json_new_object();
        if (!s || !*s)
                return 0;
        _cleanup_json_ struct json *j = NULL;
        if (json_parse(s, strlen(s), &j, NULL) < 0 || !json_is(j, JSON_OBJECT)) {
                json_free(*ret);
                *ret = NULL;
                return berth_error_set(err, EINVAL, "invalid filter '%s'", s);
        }
        size_t i, k;
        const char *key;
        struct json *v, *x;
        json_object_foreach (j, i, key, v) {
                struct json *list = json_object_set(*ret, key, json_new_array());
                if (json_is(v, JSON_OBJECT)) {
                        const char *vk;
                        json_object_foreach (v, k, vk, x)
                                json_array_append(list, json_new_string(vk));
                } else if (json_is(v, JSON_ARRAY)) {
                        json_array_foreach (v, k, x)
                                if (json_str(x))
                                        json_array_append(list, json_new_string(json_str(x)));
                } else {
                        json_free(*ret);
                        *ret = NULL;
                        return berth_error_set(err, EINVAL, "invalid filter '%s'", key);
                }
        }
        return 0;
}

static int check_filter_keys(const struct json *filters, const char *const *allowed,
                             struct berth_error **err)
{
        for (size_t i = 0; json_is(filters, JSON_OBJECT) && i < filters->obj.n; i++) {
                const char *key = filters->obj.m[i].key;
                bool ok = false;
                for (size_t a = 0; allowed[a]; a++)
                        ok |= strcmp(key, allowed[a]) == 0;
                if (!ok)
                        return berth_error_set(err, EINVAL, "invalid filter '%s'", key);
        }
        return 0;
}

/* Docker's label filter: "key" (present) or "key=value". */
static bool labels_match(const struct json *labels, const struct json *wanted)
{
        size_t i;
        struct json *w;
        json_array_foreach (wanted, i, w) {
                const char *s = json_str(w);
                const char *eq = strchr(s, '=');
                _cleanup_free_ char *key = eq ? xstrndup(s, (size_t)(eq - s)) : xstrdup(s);
                const char *have = json_str(json_get(labels, key));
                if (!json_get(labels, key))
                        return false;
                if (eq && (!have || strcmp(have, eq + 1) != 0))
                        return false;
        }
        return true;
}

static int filter_bool(const struct json *filters, const char *key, int def,
                       struct berth_error **err)
{
        const struct json *v = json_get(filters, key);
        if (!v || json_len(v) == 0)
                return def;
        const char *s = json_str(v->arr.items[0]);
        if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
                return 1;
        if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
                return 0;
        return berth_error_set(err, EINVAL, "invalid filter '%s=%s'", key, s);
}

static int filter_time(struct berth_images *imgs, const struct json *filters, const char *key,
                       int64_t *ret, struct berth_error **err)
{
        const struct json *v = json_get(filters, key);
        if (!v || json_len(v) == 0)
                return 0;
        _cleanup_free_ char *id = NULL;
        int r = berth_images_resolve(imgs, json_str(v->arr.items[0]), &id, err);
        if (r < 0)
                return r;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        if ((r = prep(imgs, "SELECT created FROM images WHERE id = ?1", &st, err)) < 0)
                return r;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                *ret = sqlite3_column_int64(st, 0);
        return 1;
}

/* Docker's reference filter: a glob on the familiar name, with or without the tag. */
static bool reference_match(const struct json *patterns, const char *full)
{
        _cleanup_free_ char *fam = familiar(full);
        _cleanup_free_ char *name = xstrdup(fam);
        char *at = strchr(name, '@');
        if (at)
                *at = '\0';
        char *colon = strrchr(name, ':');
        if (colon && !strchr(colon, '/'))
                *colon = '\0';
        size_t i;
        struct json *p;
        json_array_foreach (patterns, i, p) {
                const char *pat = json_str(p);
                if (fnmatch(pat, fam, FNM_PATHNAME) == 0 || fnmatch(pat, name, FNM_PATHNAME) == 0)
                        return true;
        }
        return false;
}

/* ---- list ---- */

struct image_row {
        char *id, *parent, *labels;
        int64_t size, created;
};

static void image_rows_free(struct image_row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(rows[i].id);
                free(rows[i].parent);
                free(rows[i].labels);
        }
        free(rows);
}

static int load_rows(struct berth_images *imgs, struct image_row **ret, size_t *ret_n,
                     struct berth_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = prep(imgs,
                     "SELECT id, parent, labels, size, created FROM images "
                     "ORDER BY created DESC, id",
                     &st, err);
        if (r < 0)
                return r;
        struct image_row *rows = NULL;
        size_t n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
                rows = xrealloc(rows, (n + 1) * sizeof(*rows));
                rows[n] =
                    (struct image_row){col_str(st, 0), col_str(st, 1), col_str(st, 2),
                                       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)};
                n++;
        }
        *ret = rows;
        *ret_n = n;
        return 0;
}

static struct json *labels_value(const char *labels)
{
        struct json *j = NULL;
        if (labels && json_parse(labels, strlen(labels), &j, NULL) == 0 &&
            json_is(j, JSON_OBJECT) && json_len(j) > 0)
                return j;
        json_free(j);
        return json_new_null();
}

int berth_images_list(struct berth_images *imgs, bool all, bool digests, const struct json *filters,
                      struct json **ret, struct berth_error **err)
{
        (void)all; /* no intermediate (parent) images exist: pulled images have none */
        (void)digests;
        static const char *const allowed[] = {"dangling", "label",     "before",
                                              "since",    "reference", NULL};
        int r = check_filter_keys(filters, allowed, err);
        if (r < 0)
                return r;
        int dangling = filter_bool(filters, "dangling", -1, err);
        if (dangling < -1)
                return dangling;
        int64_t before = 0, since = 0;
        int have_before = filter_time(imgs, filters, "before", &before, err);
        if (have_before < 0)
                return have_before;
        int have_since = filter_time(imgs, filters, "since", &since, err);
        if (have_since < 0)
                return have_since;
        const struct json *refs = json_get(filters, "reference");
        const struct json *labels = json_get(filters, "label");

        struct image_row *rows = NULL;
        size_t n = 0;
        if ((r = load_rows(imgs, &rows, &n, err)) < 0)
                return r;
        struct json *out = json_new_array();
        for (size_t i = 0; i < n; i++) {
                _cleanup_strv_free_ char **tags = NULL, **dgs = NULL;
                if ((r = image_names(imgs, "tags", rows[i].id, &tags, err)) < 0 ||
                    (r = image_names(imgs, "repo_digests", rows[i].id, &dgs, err)) < 0)
                        break;
                bool is_dangling = !tags[0];
                if (dangling == 1 && !is_dangling)
                        continue;
                if (dangling == 0 && is_dangling)
                        continue;
                if (have_before && rows[i].created >= before)
                        continue;
                if (have_since && rows[i].created <= since)
                        continue;
                _cleanup_json_ struct json *lab = labels_value(rows[i].labels);
                if (json_len(labels) && !labels_match(lab, labels))
                        continue;
                struct json *jtags = json_new_array();
                if (json_len(refs)) {
                        for (size_t t = 0; tags[t]; t++)
                                if (reference_match(refs, tags[t]))
                                        json_array_append(jtags, jstr_take(familiar(tags[t])));
                        if (json_len(jtags) == 0) {
                                json_free(jtags);
                                continue;
                        }
                } else {
                        json_free(jtags);
                        jtags = familiar_array(tags);
                }
                struct json *jd = familiar_array(dgs);
                if (!tags[0] && !dgs[0]) {
                        json_array_append(jtags, json_new_string("<none>:<none>"));
                        json_array_append(jd, json_new_string("<none>@<none>"));
                }
                struct json *o = json_array_append(out, json_new_object());
                json_set_int(o, "Containers", -1);
                json_set_int(o, "Created", rows[i].created);
                json_set_str(o, "Id", rows[i].id);
                json_object_set(o, "Labels", TAKE_PTR(lab));
                json_set_str(o, "ParentId", rows[i].parent ? rows[i].parent : "");
                json_object_set(o, "RepoDigests", jd);
                json_object_set(o, "RepoTags", jtags);
                json_set_int(o, "SharedSize", -1);
                json_set_int(o, "Size", rows[i].size);
                json_set_int(o, "VirtualSize", rows[i].size);
        }
        image_rows_free(rows, n);
        if (r < 0) {
                json_free(out);
                return r;
        }
        *ret = out;
        return 0;
}

/* ---- inspect ---- */

static int read_config(struct berth_images *imgs, const char *id, struct json **ret,
                       struct berth_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = blob_store_read(imgs->blobs, id, CONFIG_MAX, &buf, &len, err);
        if (r < 0)
                return r;
        r = json_parse(buf, len, ret, err);
        if (r < 0)
                return berth_error_prefix(err, "image config %s", id);
        return 0;
}

/* Docker's container.Config as inspect shows it: every field, then the image's values. */
static struct json *container_config(const struct json *cfg)
{
        static const char *const strs[] = {"Hostname", "Domainname", "User"};
        static const char *const bools[] = {"AttachStdin", "AttachStdout", "AttachStderr",
                                            "Tty",         "OpenStdin",    "StdinOnce"};
        struct json *o = json_new_object();
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                json_set_str(o, strs[i], "");
        for (size_t i = 0; i < ELEMENTSOF(bools); i++)
                json_set_bool(o, bools[i], false);
        json_object_set(o, "Env", json_new_null());
        json_object_set(o, "Cmd", json_new_null());
        json_set_str(o, "Image", "");
        json_object_set(o, "Volumes", json_new_null());
        json_set_str(o, "WorkingDir", "");
        json_object_set(o, "Entrypoint", json_new_null());
        json_object_set(o, "OnBuild", json_new_null());
        json_object_set(o, "Labels", json_new_null());
        size_t i;
        const char *key;
        struct json *v;
        json_object_foreach (cfg, i, key, v)
                json_object_set(o, key, json_copy(v));
        return o;
}

int berth_images_inspect(struct berth_images *imgs, const char *name, struct json **ret,
                         struct berth_error **err)
{
        _cleanup_free_ char *id = NULL;
        int r = berth_images_resolve(imgs, name, &id, err);
        if (r < 0)
                return r;
        _cleanup_json_ struct json *cfg = NULL;
        if ((r = read_config(imgs, id, &cfg, err)) < 0)
                return r;
        _cleanup_strv_free_ char **tags = NULL, **dgs = NULL;
        if ((r = image_names(imgs, "tags", id, &tags, err)) < 0 ||
            (r = image_names(imgs, "repo_digests", id, &dgs, err)) < 0)
                return r;
        int64_t size = 0, tag_time = 0;
        _cleanup_free_ char *parent = NULL;
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                if ((r = prep(imgs, "SELECT size, last_tag_time, parent FROM images WHERE id = ?1",
                              &st, err)) < 0)
                        return r;
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW) {
                        size = sqlite3_column_int64(st, 0);
                        tag_time = sqlite3_column_int64(st, 1);
                        parent = col_str(st, 2);
                }
        }
        struct json *o = json_new_object();
        json_set_str(o, "Id", id);
        json_object_set(o, "RepoTags", familiar_array(tags));
        json_object_set(o, "RepoDigests", familiar_array(dgs));
        json_set_str(o, "Parent", parent ? parent : "");
        json_set_str(o, "Comment", json_str(json_get(cfg, "comment")) ?: "");
        json_set_str(o, "Created", json_str(json_get(cfg, "created")) ?: "0001-01-01T00:00:00Z");
        json_set_str(o, "Container", json_str(json_get(cfg, "container")) ?: "");
        json_object_set(o, "ContainerConfig", container_config(json_get(cfg, "container_config")));
        json_set_str(o, "DockerVersion", json_str(json_get(cfg, "docker_version")) ?: "");
        json_set_str(o, "Author", json_str(json_get(cfg, "author")) ?: "");
        json_object_set(o, "Config", container_config(json_get(cfg, "config")));
        json_set_str(o, "Architecture", json_str(json_get(cfg, "architecture")) ?: "");
        if (json_str(json_get(cfg, "variant")))
                json_set_str(o, "Variant", json_str(json_get(cfg, "variant")));
        json_set_str(o, "Os", json_str(json_get(cfg, "os")) ?: "");
        if (json_str(json_get(cfg, "os.version")))
                json_set_str(o, "OsVersion", json_str(json_get(cfg, "os.version")));
        json_set_int(o, "Size", size);
        json_set_int(o, "VirtualSize", size);

        /* GraphDriver: the layer directories a container would stack. */
        struct json *gd = json_object_set(o, "GraphDriver", json_new_object());
        struct json *gdd = json_object_set(gd, "Data", json_new_object());
        struct json *layers = json_new_array();
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                if ((r = prep(imgs,
                              "SELECT diff_id, chain_id FROM image_layers WHERE image_id = ?1 "
                              "ORDER BY position",
                              &st, err)) < 0) {
                        json_free(layers);
                        json_free(o);
                        return r;
                }
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                struct berth_buf lower = BERTH_BUF_INIT;
                _cleanup_free_ char *top = NULL;
                while (sqlite3_step(st) == SQLITE_ROW) {
                        json_array_append(
                            layers, json_new_string((const char *)sqlite3_column_text(st, 0)));
                        char *p =
                            layer_path(imgs->data_root, (const char *)sqlite3_column_text(st, 1));
                        if (top) {
                                _cleanup_free_ char *prev = TAKE_PTR(lower.data);
                                lower.len = lower.cap = 0;
                                buf_printf(&lower, "%s%s%s", top, prev ? ":" : "",
                                           prev ? prev : "");
                                free(top);
                        }
                        top = p;
                }
                if (lower.len)
                        json_set_str(gdd, "LowerDir", lower.data);
                if (top)
                        json_set_str(gdd, "UpperDir", top);
                buf_release(&lower);
        }
        json_set_str(gd, "Name", "overlay2");
        struct json *rootfs = json_object_set(o, "RootFS", json_new_object());
        json_set_str(rootfs, "Type", "layers");
        json_object_set(rootfs, "Layers", layers);
        struct json *md = json_object_set(o, "Metadata", json_new_object());
        if (tag_time > 0) {
                time_t t = (time_t)tag_time;
                struct tm tm;
                gmtime_r(&t, &tm);
                char s[64];
                strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
                json_set_str(md, "LastTagTime", s);
        } else {
                json_set_str(md, "LastTagTime", "0001-01-01T00:00:00Z");
        }
        *ret = o;
        return 0;
}

/* ---- history ---- */

int berth_images_history(struct berth_images *imgs, const char *name, struct json **ret,
                         struct berth_error **err)
{
        _cleanup_free_ char *id = NULL;
        int r = berth_images_resolve(imgs, name, &id, err);
        if (r < 0)
                return r;
        _cleanup_json_ struct json *cfg = NULL;
        if ((r = read_config(imgs, id, &cfg, err)) < 0)
                return r;
        _cleanup_strv_free_ char **tags = NULL;
        if ((r = image_names(imgs, "tags", id, &tags, err)) < 0)
                return r;
        /* Sizes of the non-empty layers, bottom first. */
        int64_t *sizes = NULL;
        size_t n_sizes = 0;
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                if ((r = prep(imgs,
                              "SELECT coalesce(l.size, 0) FROM image_layers il LEFT JOIN layers "
                              "l ON l.chain_id = il.chain_id WHERE il.image_id = ?1 ORDER BY "
                              "il.position",
                              &st, err)) < 0)
                        return r;
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                while (sqlite3_step(st) == SQLITE_ROW) {
                        sizes = xrealloc(sizes, (n_sizes + 1) * sizeof(*sizes));
                        sizes[n_sizes++] = sqlite3_column_int64(st, 0);
                }
        }
        const struct json *hist = json_get(cfg, "history");
        struct json *entries = json_new_array(); /* oldest first; reversed below */
        size_t layer = 0, i;
        struct json *h;
        json_array_foreach (hist, i, h) {
                bool empty =
                    json_is(json_get(h, "empty_layer"), JSON_BOOL) && json_get(h, "empty_layer")->b;
                struct json *e = json_array_append(entries, json_new_object());
                json_set_int(e, "Created", images_parse_time(json_str(json_get(h, "created"))));
                json_set_str(e, "CreatedBy", json_str(json_get(h, "created_by")) ?: "");
                json_set_int(e, "Size", !empty && layer < n_sizes ? sizes[layer] : 0);
                json_set_str(e, "Comment", json_str(json_get(h, "comment")) ?: "");
                if (!empty)
                        layer++;
        }
        if (json_len(hist) == 0)
                for (size_t l = 0; l < n_sizes; l++) {
                        struct json *e = json_array_append(entries, json_new_object());
                        json_set_int(e, "Created",
                                     images_parse_time(json_str(json_get(cfg, "created"))));
                        json_set_str(e, "CreatedBy", "");
                        json_set_int(e, "Size", sizes[l]);
                        json_set_str(e, "Comment", "");
                }
        free(sizes);
        struct json *out = json_new_array();
        for (size_t k = entries->arr.n; k-- > 0;) {
                struct json *e = entries->arr.items[k];
                entries->arr.items[k] = NULL;
                struct json *o = json_array_append(out, json_new_object());
                bool top = k + 1 == entries->arr.n;
                json_set_str(o, "Comment", json_str(json_get(e, "Comment")));
                json_object_set(o, "Created", json_copy(json_get(e, "Created")));
                json_set_str(o, "CreatedBy", json_str(json_get(e, "CreatedBy")));
                json_set_str(o, "Id", top ? id : "<missing>");
                json_object_set(o, "Size", json_copy(json_get(e, "Size")));
                json_object_set(o, "Tags", top && tags[0] ? familiar_array(tags) : json_new_null());
                json_free(e);
        }
        entries->arr.n = 0;
        json_free(entries);
        *ret = out;
        return 0;
}

/* ---- tag ---- */

int berth_images_tag(struct berth_images *imgs, const char *name, const char *repo, const char *tag,
                     struct berth_error **err)
{
        _cleanup_free_ char *id = NULL;
        int r = berth_images_resolve(imgs, name, &id, err);
        if (r < 0)
                return r;
        if (!repo || !*repo)
                return berth_error_set(err, EINVAL,
                                       "repository name must have at least one "
                                       "component");
        _cleanup_free_ char *s = tag && *tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(s, &ref, err) < 0)
                return -EINVAL;
        if (ref->digest)
                return berth_error_set(err, EINVAL,
                                       "refusing to create a tag with a digest "
                                       "reference");
        _cleanup_free_ char *n = image_ref_name(ref);
        _cleanup_free_ char *full =
            xasprintf("%s:%s", n, ref->tag ? ref->tag : IMAGE_REF_DEFAULT_TAG);
        struct berth_db *db = imgs->engine->db;
        if ((r = berth_db_begin(db, err)) < 0)
                return r;
        r = set_tag(imgs, full, id, NULL, err);
        if (r == 0)
                r = berth_db_commit(db, err);
        if (r < 0)
                berth_db_rollback(db);
        return r;
}

/* ---- delete ---- */

static void record(struct json *out, const char *what, const char *value)
{
        struct json *o = json_array_append(out, json_new_object());
        json_set_str(o, what, value);
}

static int untag(struct berth_images *imgs, const char *full, bool digest, struct json *out,
                 struct berth_error **err)
{
        int r = exec_bind(imgs,
                          digest ? "DELETE FROM repo_digests WHERE name = ?1"
                                 : "DELETE FROM tags WHERE name = ?1",
                          full, NULL, err);
        if (r == 0) {
                _cleanup_free_ char *f = familiar(full);
                record(out, "Untagged", f);
        }
        return r;
}

/* Repository part of a stored name ("docker.io/library/busybox"). */
static char *repo_of(const char *full)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(full, &ref, NULL) < 0)
                return xstrdup(full);
        return image_ref_name(ref);
}

/* Removes the image record; layers at zero references are reported. Returns freed bytes. */
static int remove_image(struct berth_images *imgs, const char *id, struct json *out,
                        int64_t *ret_freed, struct berth_error **err)
{
        _cleanup_strv_free_ char **chains = xcalloc(1, sizeof(char *));
        size_t n = 0;
        {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                int r = prep(imgs,
                             "SELECT chain_id FROM image_layers WHERE image_id = ?1 ORDER BY "
                             "position DESC",
                             &st, err);
                if (r < 0)
                        return r;
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                while (sqlite3_step(st) == SQLITE_ROW)
                        strv_push(&chains, &n, col_str(st, 0));
        }
        int r = exec_bind(imgs, "DELETE FROM images WHERE id = ?1", id, NULL, err);
        if (r < 0)
                return r;
        record(out, "Deleted", id);
        for (size_t i = 0; i < n; i++) {
                r = exec_bind(imgs, "UPDATE layers SET refs = refs - 1 WHERE chain_id = ?1",
                              chains[i], NULL, err);
                if (r < 0)
                        return r;
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                if ((r = prep(imgs, "SELECT refs, size FROM layers WHERE chain_id = ?1", &st,
                              err)) < 0)
                        return r;
                sqlite3_bind_text(st, 1, chains[i], -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) <= 0) {
                        record(out, "Deleted", chains[i]);
                        *ret_freed += sqlite3_column_int64(st, 1);
                }
        }
        return 0;
}

static int delete_locked(struct berth_images *imgs, const char *name, bool force, struct json *out,
                         int64_t *ret_freed, struct berth_error **err)
{
        _cleanup_free_ char *id = NULL;
        int r = berth_images_resolve(imgs, name, &id, err);
        if (r < 0)
                return r;
        bool is_digest = false;
        _cleanup_free_ char *key = ref_key(name, &is_digest);
        bool by_ref = false;
        if (key) {
                _cleanup_free_ char *hit = NULL;
                r = query_one_str(imgs,
                                  is_digest ? "SELECT image_id FROM repo_digests WHERE name = ?1"
                                            : "SELECT image_id FROM tags WHERE name = ?1",
                                  key, &hit, err);
                if (r < 0)
                        return r;
                by_ref = hit && strcmp(hit, id) == 0;
        }
        _cleanup_strv_free_ char **tags = NULL, **dgs = NULL;
        if (by_ref) {
                if ((r = untag(imgs, key, is_digest, out, err)) < 0)
                        return r;
                if ((r = image_names(imgs, "tags", id, &tags, err)) < 0 ||
                    (r = image_names(imgs, "repo_digests", id, &dgs, err)) < 0)
                        return r;
                if (!is_digest) {
                        /* No tag of this repository left: its digest references go too. */
                        _cleanup_free_ char *repo = repo_of(key);
                        bool tag_left = false;
                        for (size_t i = 0; tags[i]; i++) {
                                _cleanup_free_ char *rr = repo_of(tags[i]);
                                tag_left |= strcmp(rr, repo) == 0;
                        }
                        for (size_t i = 0; !tag_left && dgs[i]; i++) {
                                _cleanup_free_ char *rr = repo_of(dgs[i]);
                                if (strcmp(rr, repo) == 0 &&
                                    (r = untag(imgs, dgs[i], true, out, err)) < 0)
                                        return r;
                        }
                        strv_free(dgs);
                        dgs = NULL;
                        if ((r = image_names(imgs, "repo_digests", id, &dgs, err)) < 0)
                                return r;
                }
                if (tags[0] || dgs[0])
                        return 0;
        } else {
                if ((r = image_names(imgs, "tags", id, &tags, err)) < 0 ||
                    (r = image_names(imgs, "repo_digests", id, &dgs, err)) < 0)
                        return r;
                /* An ID with references in more than one repository needs force. */
                _cleanup_free_ char *first = NULL;
                bool several = false;
                char **lists[2] = {tags, dgs};
                for (size_t l = 0; l < 2; l++)
                        for (size_t i = 0; lists[l][i]; i++) {
                                _cleanup_free_ char *rr = repo_of(lists[l][i]);
                                if (!first)
                                        first = TAKE_PTR(rr);
                                else if (strcmp(first, rr) != 0)
                                        several = true;
                        }
                size_t ntags = 0;
                while (tags[ntags])
                        ntags++;
                if (!force && (several || ntags > 1)) {
                        _cleanup_free_ char *short_id = xstrndup(id + 7, 12);
                        return berth_error_set(err, EEXIST,
                                               "conflict: unable to delete %s (must be forced) - "
                                               "image is referenced in multiple repositories",
                                               short_id);
                }
                for (size_t i = 0; tags[i]; i++)
                        if ((r = untag(imgs, tags[i], false, out, err)) < 0)
                                return r;
                for (size_t i = 0; dgs[i]; i++)
                        if ((r = untag(imgs, dgs[i], true, out, err)) < 0)
                                return r;
        }
        return remove_image(imgs, id, out, ret_freed, err);
}

int berth_images_delete(struct berth_images *imgs, const char *name, bool force, bool noprune,
                        struct json **ret, struct berth_error **err)
{
        (void)noprune; /* berth keeps no parent chain of intermediate images to prune */
        struct berth_db *db = imgs->engine->db;
        int r = berth_db_begin(db, err);
        if (r < 0)
                return r;
        struct json *out = json_new_array();
        int64_t freed = 0;
        r = delete_locked(imgs, name, force, out, &freed, err);
        if (r == 0)
                r = berth_db_commit(db, err);
        if (r < 0) {
                berth_db_rollback(db);
                json_free(out);
                return r;
        }
        gc_request(imgs);
        *ret = out;
        return 0;
}

/* ---- prune ---- */

int berth_images_prune(struct berth_images *imgs, const struct json *filters, struct json **ret,
                       struct berth_error **err)
{
        static const char *const allowed[] = {"dangling", "label", "label!", "until", NULL};
        int r = check_filter_keys(filters, allowed, err);
        if (r < 0)
                return r;
        int dangling = filter_bool(filters, "dangling", 1, err);
        if (dangling < 0)
                return dangling;
        int64_t until = 0;
        const struct json *u = json_get(filters, "until");
        if (json_len(u)) {
                const char *s = json_str(u->arr.items[0]);
                uint64_t secs;
                if (parse_u64(s, &secs) == 0)
                        until = (int64_t)secs;
                else if (!(until = images_parse_time(s)))
                        return berth_error_set(err, EINVAL, "invalid filter 'until=%s'", s);
        }
        const struct json *labels = json_get(filters, "label");
        const struct json *nlabels = json_get(filters, "label!");

        struct image_row *rows = NULL;
        size_t n = 0;
        if ((r = load_rows(imgs, &rows, &n, err)) < 0)
                return r;
        struct berth_db *db = imgs->engine->db;
        struct json *deleted = json_new_array();
        int64_t freed = 0;
        r = berth_db_begin(db, err);
        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_strv_free_ char **tags = NULL, **dgs = NULL;
                if ((r = image_names(imgs, "tags", rows[i].id, &tags, err)) < 0 ||
                    (r = image_names(imgs, "repo_digests", rows[i].id, &dgs, err)) < 0)
                        break;
                if (dangling && tags[0])
                        continue;
                if (until && rows[i].created >= until)
                        continue;
                _cleanup_json_ struct json *lab = labels_value(rows[i].labels);
                if (json_len(labels) && !labels_match(lab, labels))
                        continue;
                if (json_len(nlabels) && labels_match(lab, nlabels))
                        continue;
                for (size_t t = 0; r == 0 && tags[t]; t++)
                        r = untag(imgs, tags[t], false, deleted, err);
                for (size_t t = 0; r == 0 && dgs[t]; t++)
                        r = untag(imgs, dgs[t], true, deleted, err);
                if (r == 0)
                        r = remove_image(imgs, rows[i].id, deleted, &freed, err);
        }
        image_rows_free(rows, n);
        if (r == 0)
                r = berth_db_commit(db, err);
        if (r < 0) {
                berth_db_rollback(db);
                json_free(deleted);
                return r;
        }
        gc_request(imgs);
        struct json *o = json_new_object();
        if (json_len(deleted))
                json_object_set(o, "ImagesDeleted", deleted);
        else {
                json_free(deleted);
                json_object_set(o, "ImagesDeleted", json_new_null());
        }
        json_object_set(o, "SpaceReclaimed", json_new_int(freed));
        *ret = o;
        return 0;
}
