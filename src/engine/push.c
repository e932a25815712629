/*
 * push.c — the engine's push (contract in push.h).
 *
 * As dockerd: the repository is named first ("The push refers to …"), then
 * the local references decide what goes: one tag, or every tag of the
 * repository in byte order when none was given (`push --all-tags`); a
 * missing image or tag is an error in the stream after that first line.
 *
 * Per tag, layers go one after another, top first as docker reports them; each is
 * pushed from the compressed blob kept in the content store (exists check,
 * then upload), with the registry client's upload hook turned into
 * "Pushing" messages.  Then the config blob, then the stored manifest under
 * the tag.
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "image/reference.h"
#include "images.h"
#include "push.h"

struct push {
        const struct berth_push_opts *o;
        bool started;
        bool failed;
        const char *short_id; /* of the layer being uploaded */
        int64_t last_ns;
};

static int64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int emit(struct push *p, struct json *m)
{
        int r = 0;
        if (p->failed) {
                r = -ECANCELED;
        } else {
                p->started = true;
                if (p->o->emit(m, p->o->userdata) < 0) {
                        p->failed = true;
                        if (p->o->cancel)
                                atomic_store(p->o->cancel, true);
                        r = -ECANCELED;
                }
        }
        json_free(m);
        return r;
}

static int emit_layer(struct push *p, const char *id, const char *status)
{
        struct json *m = json_new_object();
        json_set_str(m, "status", status);
        json_object_set(m, "progressDetail", json_new_object());
        json_set_str(m, "id", id);
        return emit(p, m);
}

static void upload_progress(const char *digest, uint64_t done, uint64_t total, void *userdata)
{
        struct push *p = userdata;
        int64_t t = mono_ns();
        if (!p->short_id || (t - p->last_ns < 100 * 1000 * 1000 && done < total))
                return;
        p->last_ns = t;
        (void)emit(p, berth_progress_json("Pushing", p->short_id, (int64_t)done, (int64_t)total));
}

struct layer_row {
        char *diff_id, *blob;
};

static int load_layers(struct berth_engine *e, const char *image_id, struct layer_row **ret,
                       size_t *ret_n, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h,
                               "SELECT diff_id, blob_digest FROM image_layers WHERE image_id = ?1 "
                               "ORDER BY position",
                               -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
        struct layer_row *v = NULL;
        size_t n = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
                const unsigned char *blob = sqlite3_column_text(st, 1);
                v = xrealloc(v, (n + 1) * sizeof(*v));
                v[n].diff_id = xstrdup((const char *)sqlite3_column_text(st, 0));
                v[n].blob = blob ? xstrdup((const char *)blob) : NULL;
                n++;
        }
        sqlite3_finalize(st);
        *ret = v;
        *ret_n = n;
        return 0;
}

static int push_blob(struct push *p, struct registry_repo *repo, struct berth_engine *e,
                     const char *digest, struct berth_error **err)
{
        _cleanup_close_ int fd = -EBADF;
        uint64_t size = 0;
        int r = blob_store_open_blob(e->store, digest, &fd, err);
        if (r == 0)
                r = blob_store_size(e->store, digest, &size, err);
        if (r < 0)
                return r;
        return registry_blob_push(repo, digest, fd, (int64_t)size, NULL, err);
}

static int emit_status(struct push *p, const char *status)
{
        struct json *m = json_new_object();
        json_set_str(m, "status", status);
        return emit(p, m);
}

/* A layer blob's media type, from its first bytes (docker schema 2 names). */
static const char *layer_media_type(struct berth_engine *e, const char *digest)
{
        _cleanup_close_ int fd = -EBADF;
        unsigned char magic[4] = {0};
        if (blob_store_open_blob(e->store, digest, &fd, NULL) == 0)
                (void)pread(fd, magic, sizeof(magic), 0);
        if (magic[0] == 0x1f && magic[1] == 0x8b)
                return "application/vnd.docker.image.rootfs.diff.tar.gzip";
        if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
                return "application/vnd.docker.image.rootfs.diff.tar.zstd";
        return "application/vnd.docker.image.rootfs.diff.tar";
}

/*
 * An image that came without a registry manifest (loaded from an archive): one
 * is made, as dockerd makes one, from the config and the layer blobs kept in
 * the store, and stored with the image, so the next push sends the same bytes.
 */
static int make_manifest(struct berth_engine *e, const char *image_id, const char *full, char **ret,
                         size_t *ret_len, struct berth_error **err)
{
        uint64_t cfg_size = 0;
        int r = blob_store_size(e->store, image_id, &cfg_size, err);
        if (r < 0)
                return r;
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h,
                               "SELECT blob_digest, diff_id FROM image_layers WHERE image_id = ?1 "
                               "ORDER BY position",
                               -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
        _cleanup_json_ struct json *m = json_new_object();
        json_set_int(m, "schemaVersion", 2);
        json_set_str(m, "mediaType", "application/vnd.docker.distribution.manifest.v2+json");
        struct json *c = json_object_set(m, "config", json_new_object());
        json_set_str(c, "mediaType", "application/vnd.docker.container.image.v1+json");
        json_set_int(c, "size", (int64_t)cfg_size);
        json_set_str(c, "digest", image_id);
        struct json *layers = json_object_set(m, "layers", json_new_array());
        while (r == 0 && sqlite3_step(st) == SQLITE_ROW) {
                const char *blob = (const char *)sqlite3_column_text(st, 0);
                uint64_t size = 0;
                if (!blob || blob_store_size(e->store, blob, &size, NULL) < 0) {
                        r = berth_error_set(err, EINVAL,
                                            "image %s: layer %s has no stored blob to push", full,
                                            (const char *)sqlite3_column_text(st, 1));
                        break;
                }
                struct json *l = json_array_append(layers, json_new_object());
                json_set_str(l, "mediaType", layer_media_type(e, blob));
                json_set_int(l, "size", (int64_t)size);
                json_set_str(l, "digest", blob);
        }
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        char *text = json_dump(m, JSON_DUMP_PRETTY);
        size_t len = strlen(text);
        char *digest = NULL;
        r = blob_store_put(e->store, NULL, text, len, &digest, err);
        if (r == 0 && sqlite3_prepare_v2(h,
                                         "UPDATE images SET manifest_digest = ?2 WHERE id = ?1 "
                                         "AND manifest_digest IS NULL",
                                         -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, digest, -1, SQLITE_STATIC);
                (void)sqlite3_step(st);
                sqlite3_finalize(st);
        }
        free(digest);
        if (r < 0) {
                free(text);
                return r;
        }
        *ret = text;
        *ret_len = len;
        return 0;
}

/* The manifest the image was pulled with (or one made for it), from the content store. */
static int stored_manifest(struct berth_engine *e, const char *image_id, const char *full,
                           char **ret, size_t *ret_len, struct berth_error **err)
{
        _cleanup_free_ char *digest = NULL;
        sqlite3_stmt *st = NULL;
        sqlite3 *h = berth_db_handle(e->db);
        if (sqlite3_prepare_v2(h, "SELECT manifest_digest FROM images WHERE id = ?1", -1, &st,
                               NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
                        digest = xstrdup((const char *)sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
        }
        if (digest && blob_store_read(e->store, digest, 4 << 20, ret, ret_len, NULL) == 0)
                return 0;
        return make_manifest(e, image_id, full, ret, ret_len, err);
}

/* One tag: layers top first, the config, the manifest under the tag, then docker's digest line. */
static int push_tag(struct push *p, struct berth_engine *e, struct registry_repo *repo,
                    const struct image_ref *ref, struct berth_error **err)
{
        _cleanup_image_ struct berth_image *img = NULL;
        _cleanup_free_ char *full = image_ref_string(ref), *manifest = NULL, *put_digest = NULL;
        _cleanup_json_ struct json *mj = NULL;
        struct layer_row *layers = NULL;
        size_t n_layers = 0, manifest_len = 0;
        char(*ids)[13] = NULL;

        int r = berth_image_find(e, full, &img, err);
        if (r == 0)
                r = stored_manifest(e, img->id, full, &manifest, &manifest_len, err);
        if (r == 0)
                r = load_layers(e, img->id, &layers, &n_layers, err);
        if (r < 0)
                goto out;
        ids = xcalloc(n_layers ? n_layers : 1, sizeof(*ids));
        for (size_t i = 0; i < n_layers; i++) {
                const char *hex = strchr(layers[i].diff_id, ':');
                snprintf(ids[i], sizeof(ids[i]), "%.12s", hex ? hex + 1 : layers[i].diff_id);
        }
        for (size_t i = n_layers; i-- > 0 && r == 0;)
                r = emit_layer(p, ids[i], "Preparing");
        for (size_t i = n_layers; i-- > 0 && r == 0;) {
                if (!layers[i].blob) {
                        r = berth_error_set(err, EINVAL, "layer %s has no stored blob to push",
                                            layers[i].diff_id);
                        break;
                }
                p->short_id = ids[i];
                p->last_ns = 0;
                r = push_blob(p, repo, e, layers[i].blob, err);
                p->short_id = NULL;
                if (r < 0)
                        break;
                r = emit_layer(p, ids[i],
                               r == 1   ? "Layer already exists"
                               : r == 2 ? "Mounted from elsewhere"
                                        : "Pushed");
        }
        if (r < 0)
                goto out;
        r = push_blob(p, repo, e, img->id, err);
        if (r < 0)
                goto out;

        /* The manifest's own media type (Docker schema 2 and OCI both carry it). */
        (void)json_parse(manifest, manifest_len, &mj, NULL);
        const char *mt = json_str(json_get(mj, "mediaType"));
        r = registry_manifest_put(repo, ref->tag,
                                  mt ? mt : "application/vnd.oci.image.manifest.v1+json", manifest,
                                  manifest_len, &put_digest, err);
        if (r < 0)
                goto out;
        {
                _cleanup_free_ char *st =
                    xasprintf("%s: digest: %s size: %zu", ref->tag, put_digest, manifest_len);
                if ((r = emit_status(p, st)) < 0)
                        goto out;
                struct json *m = json_new_object();
                json_object_set(m, "progressDetail", json_new_object());
                struct json *aux = json_object_set(m, "aux", json_new_object());
                json_set_str(aux, "Tag", ref->tag);
                json_set_str(aux, "Digest", put_digest);
                json_set_int(aux, "Size", (int64_t)manifest_len);
                if ((r = emit(p, m)) < 0)
                        goto out;
        }
        r = 0;
out:
        for (size_t i = 0; i < n_layers; i++) {
                free(layers[i].diff_id);
                free(layers[i].blob);
        }
        free(layers);
        free(ids);
        return r;
}

/*
 * What the local store knows of repository name ("127.0.0.1:5000/x/y"): its
 * tags in byte order (dockerd's ReferencesByName order) and how many digest
 * references it has.
 */
static int local_references(struct berth_engine *e, const char *name, char ***ret_tags,
                            size_t *ret_digests, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        size_t n = 0, len = strlen(name);
        char **tags = xcalloc(1, sizeof(char *));
        *ret_digests = 0;
        for (int pass = 0; pass < 2; pass++) {
                sqlite3_stmt *st = NULL;
                _cleanup_free_ char *prefix = xasprintf("%s%c", name, pass ? '@' : ':');
                const char *sql = pass ? "SELECT name FROM repo_digests WHERE substr(name, 1, ?2) "
                                         "= ?1 ORDER BY name"
                                       : "SELECT name FROM tags WHERE substr(name, 1, ?2) = ?1 "
                                         "ORDER BY name";
                if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
                        strv_free(tags);
                        return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
                }
                sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, (int64_t)len + 1);
                while (sqlite3_step(st) == SQLITE_ROW) {
                        const char *rest = (const char *)sqlite3_column_text(st, 0) + len + 1;
                        if (pass) {
                                (*ret_digests)++;
                        } else if (!strpbrk(rest, "/:@")) {
                                tags = xrealloc(tags, (n + 2) * sizeof(char *));
                                tags[n++] = xstrdup(rest);
                                tags[n] = NULL;
                        }
                }
                sqlite3_finalize(st);
        }
        *ret_tags = tags;
        return 0;
}

int berth_image_push(struct berth_engine *e, const struct berth_push_opts *o, bool *ret_started,
                     struct berth_error **err)
{
        struct push p = {.o = o};
        struct registry_client *client = NULL;
        struct registry_repo *repo = NULL;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_free_ char *repo_name = NULL, *familiar_name = NULL, *familiar = NULL;
        _cleanup_strv_free_ char **tags = NULL;
        _cleanup_config_ struct berth_config *c = NULL;
        size_t n_digests = 0;

        int r = image_ref_parse_normalized(o->name, &ref, err);
        if (r < 0)
                goto out;
        if (o->tag && *o->tag) {
                if (!image_ref_tag_valid(o->tag)) {
                        r = berth_error_set(err, EINVAL, "invalid tag format");
                        goto out;
                }
                free(ref->tag);
                ref->tag = xstrdup(o->tag);
        }
        repo_name = image_ref_name(ref);
        familiar_name = image_ref_familiar_name(ref);
        familiar = image_ref_familiar(ref);

        c = berth_engine_config(e);
        struct registry_options ro = {.insecure = c->insecure_registries};
        r = registry_client_new(&ro, &client, err);
        if (r == 0)
                r = registry_repo_open(client, ref->domain, ref->path, o->auth,
                                       REGISTRY_PULL | REGISTRY_PUSH, &repo, err);
        if (r < 0)
                goto out;
        if (o->cancel)
                registry_repo_set_cancel(repo, o->cancel);
        registry_repo_set_upload_progress(repo, upload_progress, &p);

        /* dockerd names the repository first, then finds out what it has to push. */
        {
                _cleanup_free_ char *st =
                    xasprintf("The push refers to repository [%s]", repo_name);
                if ((r = emit_status(&p, st)) < 0)
                        goto out;
        }
        r = local_references(e, repo_name, &tags, &n_digests, err);
        if (r < 0)
                goto out;
        if (!tags[0] && !n_digests) {
                r = berth_error_set(err, ENOENT, "An image does not exist locally with the tag: %s",
                                    familiar_name);
                goto out;
        }
        if (ref->tag) {
                bool known = false;
                for (size_t i = 0; tags[i] && !known; i++)
                        known = strcmp(tags[i], ref->tag) == 0;
                if (!known) {
                        r = berth_error_set(err, ENOENT, "tag does not exist: %s", familiar);
                        goto out;
                }
                r = push_tag(&p, e, repo, ref, err);
        } else if (ref->digest) {
                r = berth_error_set(err, EINVAL, "cannot push a digest reference");
        } else if (!tags[0]) {
                r = berth_error_set(err, ENOENT, "no tags to push for %s", familiar_name);
        } else {
                /* `push --all-tags`: every local tag of the repository, one after another. */
                for (size_t i = 0; tags[i] && r == 0; i++) {
                        _cleanup_image_ref_ struct image_ref *t = image_ref_dup(ref);
                        t->tag = xstrdup(tags[i]);
                        r = push_tag(&p, e, repo, t, err);
                }
        }
        if (r < 0)
                goto out;
        {
                const char *attrs[] = {"name", familiar, NULL};
                berth_events_publish(e->events, "image", "push", familiar, attrs);
        }
        r = 0;
out:
        if (r < 0 && p.failed) {
                if (err)
                        berth_error_freep(err);
                r = berth_error_set(err, ECANCELED, "push cancelled: the client went away");
        }
        registry_repo_free(repo);
        registry_client_free(client);
        if (ret_started)
                *ret_started = p.started;
        return r;
}
