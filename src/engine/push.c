/*
 * push.c — the engine's push (contract in push.h).
 *
 * Layers go one after another, top first as docker reports them; each is
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
        struct json *m = json_new_object();
        json_set_str(m, "status", "Pushing");
        struct json *d = json_object_set(m, "progressDetail", json_new_object());
        json_set_int(d, "current", (int64_t)done);
        json_set_int(d, "total", (int64_t)total);
        _cleanup_free_ char *bar = berth_pull_progress_bar((int64_t)done, (int64_t)total);
        json_set_str(m, "progress", bar);
        json_set_str(m, "id", p->short_id);
        (void)emit(p, m);
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

int berth_image_push(struct berth_engine *e, const struct berth_push_opts *o, bool *ret_started,
                     struct berth_error **err)
{
        struct push p = {.o = o};
        struct registry_client *client = NULL;
        struct registry_repo *repo = NULL;
        struct layer_row *layers = NULL;
        size_t n_layers = 0;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_image_ struct berth_image *img = NULL;
        _cleanup_free_ char *full = NULL, *repo_name = NULL, *manifest_digest = NULL,
                            *manifest = NULL, *put_digest = NULL, *familiar_repo = NULL;
        _cleanup_config_ struct berth_config *c = NULL;
        _cleanup_json_ struct json *mj = NULL;
        size_t manifest_len = 0;
        const char *tag = o->tag && *o->tag ? o->tag : IMAGE_REF_DEFAULT_TAG;

        int r = image_ref_parse_normalized(o->name, &ref, err);
        if (r < 0)
                goto out;
        if (!ref->tag)
                ref->tag = xstrdup(tag);
        full = image_ref_string(ref);
        repo_name = image_ref_name(ref);
        {
                _cleanup_image_ref_ struct image_ref *bare = image_ref_dup(ref);
                free(bare->tag);
                bare->tag = NULL;
                familiar_repo = image_ref_familiar(bare);
        }
        if (berth_image_find(e, full, &img, NULL) < 0) {
                r = berth_error_set(err, ENOENT, "An image does not exist locally with the tag: %s",
                                    familiar_repo);
                goto out;
        }
        {
                sqlite3_stmt *st = NULL;
                sqlite3 *h = berth_db_handle(e->db);
                if (sqlite3_prepare_v2(h, "SELECT manifest_digest FROM images WHERE id = ?1", -1,
                                       &st, NULL) == SQLITE_OK) {
                        sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
                        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
                                manifest_digest = xstrdup((const char *)sqlite3_column_text(st, 0));
                        sqlite3_finalize(st);
                }
        }
        if (!manifest_digest || blob_store_read(e->store, manifest_digest, 4 << 20, &manifest,
                                                &manifest_len, NULL) < 0) {
                r = berth_error_set(err, EINVAL,
                                    "image %s has no registry manifest to push (it was not pulled)",
                                    full);
                goto out;
        }
        r = load_layers(e, img->id, &layers, &n_layers, err);
        if (r < 0)
                goto out;

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

        {
                _cleanup_free_ char *st =
                    xasprintf("The push refers to repository [%s]", familiar_repo);
                struct json *m = json_new_object();
                json_set_str(m, "status", st);
                if ((r = emit(&p, m)) < 0)
                        goto out;
        }
        char(*ids)[13] = xcalloc(n_layers ? n_layers : 1, sizeof(*ids));
        for (size_t i = 0; i < n_layers; i++) {
                const char *hex = strchr(layers[i].diff_id, ':');
                snprintf(ids[i], sizeof(ids[i]), "%.12s", hex ? hex + 1 : layers[i].diff_id);
        }
        for (size_t i = n_layers; i-- > 0 && r == 0;)
                r = emit_layer(&p, ids[i], "Preparing");
        for (size_t i = n_layers; i-- > 0 && r == 0;) {
                if (!layers[i].blob) {
                        r = berth_error_set(err, EINVAL, "layer %s has no stored blob to push",
                                            layers[i].diff_id);
                        break;
                }
                p.short_id = ids[i];
                p.last_ns = 0;
                r = push_blob(&p, repo, e, layers[i].blob, err);
                p.short_id = NULL;
                if (r < 0)
                        break;
                r = emit_layer(&p, ids[i],
                               r == 1   ? "Layer already exists"
                               : r == 2 ? "Mounted from elsewhere"
                                        : "Pushed");
        }
        free(ids);
        if (r < 0)
                goto out;
        r = push_blob(&p, repo, e, img->id, err);
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
                struct json *m = json_new_object();
                json_set_str(m, "status", st);
                if ((r = emit(&p, m)) < 0)
                        goto out;
                m = json_new_object();
                json_object_set(m, "progressDetail", json_new_object());
                struct json *aux = json_object_set(m, "aux", json_new_object());
                json_set_str(aux, "Tag", ref->tag);
                json_set_str(aux, "Digest", put_digest);
                json_set_int(aux, "Size", (int64_t)manifest_len);
                if ((r = emit(&p, m)) < 0)
                        goto out;
        }
        r = 0;
out:
        if (r < 0 && p.failed)
                r = berth_error_set(err, ECANCELED, "push cancelled: the client went away");
        for (size_t i = 0; i < n_layers; i++) {
                free(layers[i].diff_id);
                free(layers[i].blob);
        }
        free(layers);
        registry_repo_free(repo);
        registry_client_free(client);
        if (ret_started)
                *ret_started = p.started;
        return r;
}
