/*
 * images.c — image records in berth.db (contract in images.h).
 *
 * Reads are single SELECTs; every change (tag, remove, prune) is one
 * BEGIN IMMEDIATE transaction, so concurrent API requests see an image with
 * all its names or not at all.  Names are normalised with src/image's
 * reference grammar on the way in and made familiar on the way out.
 */
#include <ctype.h>
#include <string.h>

#include "base/log.h"
#include "image/reference.h"
#include "containers.h"
#include "images.h"
#include "layers.h"

#define CONFIG_MAX (16 * 1024 * 1024)

void berth_image_free(struct berth_image *img)
{
        if (!img)
                return;
        free(img->id);
        strv_free(img->repo_tags);
        strv_free(img->repo_digests);
        free(img->parent);
        free(img);
}

void berth_image_list_free(struct berth_image **list)
{
        for (size_t i = 0; list && list[i]; i++)
                berth_image_free(list[i]);
        free(list);
}

static void strv_add(char ***v, const char *s)
{
        size_t n = 0;
        while (*v && (*v)[n])
                n++;
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = xstrdup(s);
        (*v)[n + 1] = NULL;
}

static int sql_error(struct berth_engine *e, struct berth_error **err)
{
        return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(berth_db_handle(e->db)));
}

/* Names (tags or digests) of one image, sorted. */
static int load_names(struct berth_engine *e, const char *table, const char *id, char ***ret,
                      struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        _cleanup_free_ char *sql =
            xasprintf("SELECT name FROM %s WHERE image_id = ?1 ORDER BY name", table);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
                return sql_error(e, err);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        char **v = xcalloc(1, sizeof(char *));
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                strv_add(&v, (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                strv_free(v);
                return sql_error(e, err);
        }
        *ret = v;
        return 0;
}

static int load_image(struct berth_engine *e, sqlite3_stmt *st, struct berth_image **ret,
                      struct berth_error **err)
{
        struct berth_image *img = xcalloc(1, sizeof(*img));
        img->id = xstrdup((const char *)sqlite3_column_text(st, 0));
        const unsigned char *parent = sqlite3_column_text(st, 1);
        img->parent = xstrdup(parent ? (const char *)parent : "");
        img->created = sqlite3_column_int64(st, 2);
        img->size = sqlite3_column_int64(st, 3);
        img->added = sqlite3_column_int64(st, 4);
        int r = load_names(e, "tags", img->id, &img->repo_tags, err);
        if (r == 0)
                r = load_names(e, "repo_digests", img->id, &img->repo_digests, err);
        if (r < 0) {
                berth_image_free(img);
                return r;
        }
        *ret = img;
        return 0;
}

#define IMAGE_COLUMNS "id, parent, created, size, added"

int berth_image_list(struct berth_engine *e, struct berth_image ***ret, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "SELECT " IMAGE_COLUMNS " FROM images ORDER BY created DESC, id",
                               -1, &st, NULL) != SQLITE_OK)
                return sql_error(e, err);
        struct berth_image **list = xcalloc(1, sizeof(*list));
        size_t n = 0;
        int rc, r = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct berth_image *img = NULL;
                r = load_image(e, st, &img, err);
                if (r < 0)
                        break;
                list = xrealloc(list, (n + 2) * sizeof(*list));
                list[n++] = img;
                list[n] = NULL;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = sql_error(e, err);
        sqlite3_finalize(st);
        if (r < 0) {
                berth_image_list_free(list);
                return r;
        }
        *ret = list;
        return 0;
}

/* One image by a WHERE clause with one text parameter; 0 found, -ENOENT, -EEXIST ambiguous. */
static int find_where(struct berth_engine *e, const char *where, const char *param,
                      struct berth_image **ret, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        _cleanup_free_ char *sql =
            xasprintf("SELECT " IMAGE_COLUMNS " FROM images WHERE %s LIMIT 2", where);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
                return sql_error(e, err);
        sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        int r;
        if (rc == SQLITE_ROW) {
                r = load_image(e, st, ret, err);
                if (r == 0 && sqlite3_step(st) == SQLITE_ROW) {
                        berth_image_free(*ret);
                        *ret = NULL;
                        r = -EEXIST;
                }
        } else if (rc == SQLITE_DONE) {
                r = -ENOENT;
        } else {
                r = sql_error(e, err);
        }
        sqlite3_finalize(st);
        return r;
}

static bool is_hex(const char *s, size_t min, size_t max)
{
        size_t n = strlen(s);
        if (n < min || n > max)
                return false;
        for (const char *p = s; *p; p++)
                if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
                        return false;
        return true;
}

int berth_image_find(struct berth_engine *e, const char *name, struct berth_image **ret,
                     struct berth_error **err)
{
        const char *hex = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
        int r;
        if (is_hex(hex, 64, 64)) {
                _cleanup_free_ char *id = xasprintf("sha256:%s", hex);
                r = find_where(e, "id = ?1", id, ret, err);
                if (r != -ENOENT)
                        return r;
        }

        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_error_ struct berth_error *ref_err = NULL;
        if (image_ref_parse_normalized(name, &ref, &ref_err) == 0) {
                if (!ref->tag && !ref->digest)
                        ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
                _cleanup_free_ char *full = image_ref_string(ref);
                if (ref->digest) {
                        /* name@digest: the digest decides (a tag beside it is ignored). */
                        _cleanup_free_ char *n = image_ref_name(ref);
                        _cleanup_free_ char *dn = xasprintf("%s@%s", n, ref->digest);
                        r = find_where(e,
                                       "id IN (SELECT image_id FROM repo_digests WHERE name = ?1)",
                                       dn, ret, err);
                } else {
                        r = find_where(e, "id IN (SELECT image_id FROM tags WHERE name = ?1)", full,
                                       ret, err);
                }
                if (r != -ENOENT)
                        return r;
        }

        /* A unique prefix of an ID (docker accepts any length). */
        if (is_hex(hex, 1, 63)) {
                _cleanup_free_ char *like = xasprintf("sha256:%s%%", hex);
                r = find_where(e, "id LIKE ?1", like, ret, err);
                if (r == 0 || (r < 0 && r != -ENOENT && r != -EEXIST))
                        return r;
        }
        /* Neither an ID nor a valid reference: dockerd answers with the grammar's error. */
        if (!ref && !is_hex(hex, 1, 64))
                return berth_error_set(err, EINVAL, "%s", berth_error_msg(ref_err));
        /* dockerd names the reference as it understood it: "busybox:latest". */
        if (ref) {
                _cleanup_free_ char *fam = image_ref_familiar(ref);
                return berth_error_set(err, ENOENT, "No such image: %s", fam);
        }
        return berth_error_set(err, ENOENT, "No such image: %s", name);
}

int berth_image_config(struct berth_engine *e, const struct berth_image *img, struct json **ret,
                       struct berth_error **err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = blob_store_read(e->store, img->id, CONFIG_MAX, &data, &len, err);
        if (r < 0)
                return r;
        r = json_parse(data, len, ret, err);
        if (r < 0)
                return berth_error_prefix(err, "image config %s", img->id);
        return 0;
}

int berth_image_layer_sizes(struct berth_engine *e, const struct berth_image *img, int64_t **ret,
                            size_t *ret_n, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(
                h, "SELECT size FROM image_layers WHERE image_id = ?1 ORDER BY position", -1, &st,
                NULL) != SQLITE_OK)
                return sql_error(e, err);
        sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
        int64_t *v = NULL;
        size_t n = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                v = xrealloc(v, (n + 1) * sizeof(*v));
                v[n++] = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                free(v);
                return sql_error(e, err);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int berth_images_usage(struct berth_engine *e, int64_t *ret_layers_size, struct json **ret_shared,
                       struct berth_error **err)
{
        int r = berth_db_query_int(e->db, "SELECT COALESCE(SUM(size), 0) FROM layers",
                                   ret_layers_size, err);
        if (r < 0)
                return r;
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        /* a layer another image stacks too is shared (refs counts the images) */
        if (sqlite3_prepare_v2(h,
                               "SELECT il.image_id, SUM(l.size) FROM image_layers il "
                               "JOIN layers l ON l.chain_id = il.chain_id "
                               "WHERE l.refs > 1 GROUP BY il.image_id",
                               -1, &st, NULL) != SQLITE_OK)
                return sql_error(e, err);
        struct json *shared = json_new_object();
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(st, 0);
                if (id)
                        json_set_int(shared, id, sqlite3_column_int64(st, 1));
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                json_free(shared);
                return sql_error(e, err);
        }
        *ret_shared = shared;
        return 0;
}

char *berth_image_familiar(const char *full_name)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(full_name, &ref, NULL) < 0)
                return xstrdup(full_name);
        return image_ref_familiar(ref);
}

static int exec_bind(struct berth_engine *e, const char *sql, const char *a, const char *b,
                     struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
                return sql_error(e, err);
        sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
        if (b)
                sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return sql_error(e, err);
        return 0;
}

int berth_image_tag(struct berth_engine *e, const char *image_id, const char *target,
                    struct berth_error **err)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        int r = image_ref_parse_normalized(target, &ref, err);
        if (r < 0)
                return r;
        if (ref->digest)
                return berth_error_set(err, EINVAL,
                                       "refusing to create a tag with a digest reference");
        if (!ref->tag)
                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
        _cleanup_free_ char *full = image_ref_string(ref);
        r = berth_db_begin(e->db, err);
        if (r < 0)
                return r;
        r = exec_bind(e,
                      "INSERT INTO tags (name, image_id) VALUES (?1, ?2) "
                      "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                      full, image_id, err);
        if (r == 0)
                r = berth_db_commit(e->db, err);
        if (r < 0) {
                berth_db_rollback(e->db);
                return r;
        }
        _cleanup_free_ char *fam = image_ref_familiar(ref);
        const char *attrs[] = {"name", fam, NULL};
        berth_events_publish(e->events, "image", "tag", image_id, attrs);
        return 0;
}

static void action(struct json *actions, const char *kind, const char *value)
{
        struct json *o = json_array_append(actions, json_new_object());
        json_set_str(o, kind, value);
}

static void untag_action(struct json *actions, const char *full)
{
        _cleanup_free_ char *fam = berth_image_familiar(full);
        action(actions, "Untagged", fam);
}

/* Repository part of a full name ("docker.io/library/a:1" -> "docker.io/library/a"). */
static char *repo_of(const char *full)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(full, &ref, NULL) < 0)
                return xstrdup(full);
        return image_ref_name(ref);
}

/* Delete the record (names cascade; the config blob is left to collection); inside a
 * transaction. */
static int delete_image(struct berth_engine *e, const struct berth_image *img, struct json *actions,
                        struct berth_error **err)
{
        for (size_t i = 0; img->repo_digests[i]; i++)
                untag_action(actions, img->repo_digests[i]);
        int r = exec_bind(e, "DELETE FROM images WHERE id = ?1", img->id, NULL, err);
        if (r < 0)
                return r;
        action(actions, "Deleted", img->id);
        return 0;
}

static int remove_locked(struct berth_engine *e, const char *name, bool force, struct json *actions,
                         bool *ret_deleted_blob, struct berth_image **ret_img,
                         struct berth_error **err)
{
        _cleanup_image_ struct berth_image *img = NULL;
        int r = berth_image_find(e, name, &img, err);
        if (r < 0)
                return r;

        /* Was the name an ID (or prefix), or a reference? */
        const char *hex = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
        bool by_id = is_hex(hex, 1, 64) && strncmp(img->id + 7, hex, strlen(hex)) == 0;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (by_id && image_ref_parse_normalized(name, &ref, NULL) == 0) {
                /* A hex-looking name that is also a tag of this image is a reference. */
                if (!ref->tag && !ref->digest)
                        ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
                _cleanup_free_ char *full = image_ref_string(ref);
                for (size_t i = 0; img->repo_tags[i]; i++)
                        if (strcmp(img->repo_tags[i], full) == 0)
                                by_id = false;
        }

        if (!by_id) {
                _cleanup_image_ref_ struct image_ref *nref = NULL;
                r = image_ref_parse_normalized(name, &nref, err);
                if (r < 0)
                        return r;
                if (!nref->tag && !nref->digest)
                        nref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
                _cleanup_free_ char *full = NULL;
                const char *table = "tags";
                if (nref->digest) {
                        _cleanup_free_ char *n = image_ref_name(nref);
                        full = xasprintf("%s@%s", n, nref->digest);
                        table = "repo_digests";
                } else {
                        full = image_ref_string(nref);
                }
                _cleanup_free_ char *sql = xasprintf("DELETE FROM %s WHERE name = ?1", table);
                r = exec_bind(e, sql, full, NULL, err);
                if (r < 0)
                        return r;
                untag_action(actions, full);
                /* dockerd: once a repository has no tag left, its digest references go too. */
                _cleanup_free_ char *repo = image_ref_name(nref);
                bool repo_tagged = false;
                for (size_t i = 0; img->repo_tags[i]; i++) {
                        _cleanup_free_ char *tr = repo_of(img->repo_tags[i]);
                        if (strcmp(img->repo_tags[i], full) != 0 && strcmp(tr, repo) == 0)
                                repo_tagged = true;
                }
                char **digests = xcalloc(1, sizeof(char *));
                for (size_t i = 0; img->repo_digests[i]; i++) {
                        const char *d = img->repo_digests[i];
                        _cleanup_free_ char *dr = repo_of(d);
                        if (strcmp(d, full) == 0)
                                continue;
                        if (nref->digest || repo_tagged || strcmp(dr, repo) != 0) {
                                strv_add(&digests, d);
                                continue;
                        }
                        r = exec_bind(e, "DELETE FROM repo_digests WHERE name = ?1", d, NULL, err);
                        if (r < 0) {
                                strv_free(digests);
                                return r;
                        }
                        untag_action(actions, d);
                }
                strv_free(img->repo_digests);
                img->repo_digests = digests;
                /* Any name left, tag or digest: the image stays. */
                size_t left = digests[0] ? 1 : 0;
                for (size_t i = 0; img->repo_tags[i]; i++)
                        if (strcmp(img->repo_tags[i], full) != 0)
                                left++;
                if (left > 0) {
                        *ret_img = TAKE_PTR(img); /* for the event: untagged, not deleted */
                        return 0;
                }
                /* The last name of an image a container uses: refused, or with force
                 * only untagged (the container keeps its image, now dangling). */
                _cleanup_free_ char *user = NULL;
                if (berth_ctr_image_user(e, img->id, &user, NULL) > 0) {
                        if (!force) {
                                return berth_error_set(err, EBUSY,
                                                       "conflict: unable to remove repository "
                                                       "reference \"%s\" (must force) - "
                                                       "container %.12s is using its referenced "
                                                       "image %.12s",
                                                       name, user, img->id + 7);
                        }
                        *ret_img = TAKE_PTR(img);
                        return 0;
                }
        } else {
                /* By ID: refuse when several repositories share it, unless forced. */
                _cleanup_free_ char *first_repo = NULL;
                bool several = false;
                for (size_t i = 0; img->repo_tags[i]; i++) {
                        _cleanup_free_ char *repo = repo_of(img->repo_tags[i]);
                        if (!first_repo)
                                first_repo = TAKE_PTR(repo);
                        else if (strcmp(first_repo, repo) != 0)
                                several = true;
                }
                if (several && !force)
                        return berth_error_set(
                            err, EBUSY,
                            "conflict: unable to delete %.12s (must be forced) - "
                            "image is referenced in multiple repositories",
                            img->id + 7);
                _cleanup_free_ char *user = NULL;
                bool running = false;
                if (berth_ctr_image_user(e, img->id, &user, &running) > 0) {
                        if (running)
                                return berth_error_set(err, EBUSY,
                                                       "conflict: unable to delete %.12s (cannot "
                                                       "be forced) - image is being used by "
                                                       "running container %.12s",
                                                       img->id + 7, user);
                        if (!force)
                                return berth_error_set(err, EBUSY,
                                                       "conflict: unable to delete %.12s (must be "
                                                       "forced) - image is being used by stopped "
                                                       "container %.12s",
                                                       img->id + 7, user);
                        /* forced: the names go, the image stays while its container does */
                        for (size_t i = 0; img->repo_tags[i]; i++) {
                                r = exec_bind(e, "DELETE FROM tags WHERE name = ?1",
                                              img->repo_tags[i], NULL, err);
                                if (r < 0)
                                        return r;
                                untag_action(actions, img->repo_tags[i]);
                        }
                        *ret_img = TAKE_PTR(img);
                        return 0;
                }
                for (size_t i = 0; img->repo_tags[i]; i++)
                        untag_action(actions, img->repo_tags[i]);
        }
        r = delete_image(e, img, actions, err);
        if (r < 0)
                return r;
        *ret_deleted_blob = true;
        *ret_img = TAKE_PTR(img);
        return 0;
}

/* dockerd's rmi without noprune: the untagged parents that only the deleted image stood on
 * (a build's intermediate steps) go with it, up to the first that has a name, another child
 * or a container.  *ret_ids: those deleted, for their events. */
static int remove_parents_locked(struct berth_engine *e, const char *parent, struct json *actions,
                                 char ***ret_ids, struct berth_error **err)
{
        _cleanup_free_ char *p = xstrdup(parent ? parent : "");
        while (*p && strncmp(p, "sha256:", 7) == 0 && is_hex(p + 7, 64, 64)) {
                _cleanup_image_ struct berth_image *img = NULL;
                if (berth_image_find(e, p, &img, NULL) < 0)
                        break;
                if (img->repo_tags[0] || img->repo_digests[0])
                        break;
                _cleanup_free_ char *sql =
                    xasprintf("SELECT count(*) FROM images WHERE parent = '%s'", p);
                int64_t children = 0;
                int r = berth_db_query_int(e->db, sql, &children, err);
                if (r < 0)
                        return r;
                if (children > 0 || berth_ctr_image_user(e, p, NULL, NULL) > 0)
                        break;
                r = delete_image(e, img, actions, err);
                if (r < 0)
                        return r;
                strv_add(ret_ids, img->id);
                free(p);
                p = xstrdup(img->parent);
        }
        return 0;
}

int berth_image_remove(struct berth_engine *e, const char *name, bool force,
                       struct json **ret_actions, struct berth_error **err)
{
        struct json *actions = json_new_array();
        int r = berth_db_begin(e->db, err);
        bool deleted = false;
        _cleanup_image_ struct berth_image *img = NULL;
        if (r == 0)
                r = remove_locked(e, name, force, actions, &deleted, &img, err);
        _cleanup_strv_free_ char **parents = xcalloc(1, sizeof(char *));
        if (r == 0 && deleted && img)
                r = remove_parents_locked(e, img->parent, actions, &parents, err);
        if (r == 0)
                r = berth_db_commit(e->db, err);
        if (r < 0) {
                berth_db_rollback(e->db);
                json_free(actions);
                return r;
        }
        /* dockerd's events: "untag" per removed name, "delete" for the image, named by ID. */
        size_t k;
        struct json *a;
        json_array_foreach (actions, k, a) {
                if (!img)
                        break;
                const char *deleted_id = json_str(json_get(a, "Deleted"));
                if (deleted_id && strcmp(deleted_id, img->id) != 0)
                        continue; /* a parent's, below */
                const char *what = deleted_id ? "delete" : "untag";
                const char *attrs[] = {"name", img->id, NULL};
                berth_events_publish(e->events, "image", what, img->id, attrs);
        }
        for (char **p = parents; *p; p++) {
                const char *attrs[] = {"name", *p, NULL};
                berth_events_publish(e->events, "image", "delete", *p, attrs);
        }
        /* The config blob, and layers and blobs only this image used, go through collection
         * (now, or after the running pulls, loads and saves): deleted here at once, a save
         * streaming the image lost it mid-archive, and a pull or load recording the same
         * image just after this commit was left without its config. */
        if (deleted && e->layers)
                berth_layers_collect(e->layers);
        *ret_actions = actions;
        return 0;
}

/* Whether opts select img for pruning (its use by containers aside). */
static bool prune_selects(struct berth_engine *e, const struct berth_image *img,
                          const struct berth_image_prune_opts *opts)
{
        if (!opts->all && img->repo_tags[0])
                return false;
        if (opts->until_set && img->created * 1000000000LL > opts->until_ns)
                return false;
        if (!opts->match)
                return true;
        _cleanup_json_ struct json *cfg = NULL;
        _cleanup_error_ struct berth_error *cerr = NULL;
        (void)berth_image_config(e, img, &cfg, &cerr);
        return opts->match(json_get(json_get(cfg, "config"), "Labels"), opts->arg);
}

int berth_image_prune(struct berth_engine *e, const struct berth_image_prune_opts *opts,
                      struct json **ret_deleted, uint64_t *ret_reclaimed, struct berth_error **err)
{
        struct json *deleted = json_new_array();
        uint64_t reclaimed = 0;
        /* dockerd prunes heads only: an image another stacks on (a build's intermediate step)
         * goes once the image above it has gone, in a later pass */
        for (bool again = true; again;) {
                again = false;
                struct berth_image **list = NULL;
                int r = berth_image_list(e, &list, err);
                if (r < 0) {
                        json_free(deleted);
                        return r;
                }
                size_t n = 0;
                while (list[n])
                        n++;
                for (size_t i = 0; list[i]; i++) {
                        bool has_children = false;
                        for (size_t k = 0; k < n && !has_children; k++)
                                has_children = strcmp(list[k]->parent, list[i]->id) == 0;
                        if (has_children && !opts->all)
                                continue;
                        if (!prune_selects(e, list[i], opts))
                                continue;
                        /* dockerd's prune leaves an image any container uses, even a stopped one
                         * (its non-forced delete is refused); remove's force below then only makes
                         * the removal by ID take every name.  A container created between this
                         * check and the removal keeps its image: forced removal only untags an
                         * image a stopped container uses and refuses one a running container uses.
                         */
                        if (berth_ctr_image_user(e, list[i]->id, NULL, NULL) > 0)
                                continue;
                        _cleanup_error_ struct berth_error *e2 = NULL;
                        struct json *actions = NULL;
                        if (berth_image_remove(e, list[i]->id, true, &actions, &e2) < 0) {
                                log_warn("prune %s: %s", list[i]->id, berth_error_msg(e2));
                                continue;
                        }
                        size_t k;
                        struct json *a;
                        bool gone = false;
                        json_array_foreach (actions, k, a) {
                                gone |= json_get(a, "Deleted") != NULL;
                                json_array_append(deleted, json_copy(a));
                        }
                        json_free(actions);
                        if (gone) {
                                reclaimed += (uint64_t)(list[i]->size > 0 ? list[i]->size : 0);
                                again = !opts->all;
                        }
                }
                berth_image_list_free(list);
        }
        *ret_deleted = deleted;
        *ret_reclaimed = reclaimed;
        return 0;
}
