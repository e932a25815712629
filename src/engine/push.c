/*
 * push.c — pushing a stored image back to a registry (contract in push.h).
 *
 * The manifest pulled with the image is kept in the content store with its
 * config and layer blobs, so a push re-sends those exact bytes: each blob is
 * checked on the registry first, uploaded from the store when missing (the
 * registry client reports upload progress, shown as "Pushing"), and the
 * manifest goes last, under the tag.  Blobs go one after another: a push is
 * bounded by the registry's ingest, and sequential uploads keep the daemon's
 * thread count flat.
 *
 * Never: send a blob the store does not hold verified, or the manifest before
 * its blobs.
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "image/reference.h"
#include "images.h"
#include "push.h"

#define PROGRESS_INTERVAL_NS (100 * 1000 * 1000LL)

struct push {
        const struct push_opts *opts;
        bool failed_emit;
        int64_t last_emit;
};

static int64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void short_id(const char *digest, char out[16])
{
        const char *hex = strchr(digest, ':');
        snprintf(out, 16, "%.12s", hex ? hex + 1 : digest);
}

static void emit(struct push *p, const char *digest, const char *status, int64_t current,
                 int64_t total)
{
        struct json *m = json_new_object();
        json_set_str(m, "status", status);
        if (digest) {
                struct json *d = json_object_set(m, "progressDetail", json_new_object());
                if (current >= 0) {
                        json_set_int(d, "current", current);
                        json_set_int(d, "total", total);
                }
                char id[16];
                short_id(digest, id);
                json_set_str(m, "id", id);
        }
        if (p->opts->progress && p->opts->progress(m, p->opts->userdata) < 0)
                p->failed_emit = true;
        json_free(m);
}

static void upload_progress(const char *digest, uint64_t done, uint64_t total, void *userdata)
{
        struct push *p = userdata;
        int64_t t = mono_ns();
        if (done < total && t - p->last_emit < PROGRESS_INTERVAL_NS)
                return;
        p->last_emit = t;
        emit(p, digest, "Pushing", (int64_t)done, (int64_t)total);
}

static int push_blob(struct push *p, struct registry_repo *repo, struct blob_store *store,
                     const struct oci_descriptor *d, bool show, struct berth_error **err)
{
        int r = registry_blob_exists(repo, d->digest, NULL, err);
        if (r < 0)
                return r;
        if (r == 1) {
                if (show)
                        emit(p, d->digest, "Layer already exists", -1, 0);
                return 0;
        }
        _cleanup_close_ int fd = -EBADF;
        if ((r = blob_store_open_blob(store, d->digest, &fd, err)) < 0)
                return r;
        p->last_emit = 0;
        r = registry_blob_upload(repo, d->digest, fd, d->size, err);
        if (r == 0 && show)
                emit(p, d->digest, "Pushed", -1, 0);
        return r;
}

/* The image the name stands for, its manifest bytes and the parsed manifest. */
static int load_image(struct berth_layers *l, const char *name, char **ret_body, size_t *ret_len,
                      struct oci_manifest **ret_m, struct berth_error **err)
{
        struct berth_engine *e = berth_layers_engine(l);
        _cleanup_image_ struct berth_image *img = NULL;
        int r = berth_image_find(e, name, &img, NULL);
        if (r < 0) {
                _cleanup_free_ char *fam = berth_image_familiar(name);
                return berth_error_set(err, ENOENT,
                                       "An image does not exist locally with the tag: %s", fam);
        }
        _cleanup_free_ char *md = NULL;
        if ((r = berth_layers_manifest(l, img->id, &md, err)) < 0)
                return r;
        if ((r = blob_store_read(e->store, md, OCI_MANIFEST_MAX_SIZE, ret_body, ret_len, err)) < 0)
                return r;
        if ((r = oci_manifest_parse(*ret_body, *ret_len, ret_m, err)) < 0)
                return berth_error_prefix(err, "manifest %s", md);
        for (size_t i = 0; i < (*ret_m)->n_layers; i++)
                if (!blob_store_exists(e->store, (*ret_m)->layers[i].digest))
                        return berth_error_set(err, ENOENT, "layer blob %s is not in the store",
                                               (*ret_m)->layers[i].digest);
        return 0;
}

int berth_image_push(struct berth_layers *l, const struct push_opts *opts, struct berth_error **err)
{
        const char *tag = opts->tag && *opts->tag ? opts->tag : NULL;
        _cleanup_free_ char *s =
            tag ? xasprintf("%s:%s", opts->name, tag) : xstrdup(opts->name ? opts->name : "");
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(s, &ref, err) < 0)
                return -EINVAL;
        if (ref->digest)
                return berth_error_set(err, EINVAL, "cannot push a digest reference");
        if (!ref->tag)
                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
        _cleanup_free_ char *full = image_ref_string(ref);
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        _cleanup_oci_manifest_ struct oci_manifest *m = NULL;
        int r = load_image(l, full, &body, &len, &m, err);
        if (r < 0)
                return r;

        struct berth_engine *e = berth_layers_engine(l);
        _cleanup_config_ struct berth_config *c = berth_engine_config(e);
        struct registry_options ro = {.mirrors = NULL, .insecure = c->insecure_registries};
        struct registry_client *client = NULL;
        struct registry_repo *repo = NULL;
        struct push p = {.opts = opts};
        berth_layers_pull_enter(l); /* the blobs must stay while they are sent */
        r = registry_client_new(&ro, &client, err);
        if (r == 0)
                r = registry_repo_open(client, ref->domain, ref->path, opts->auth,
                                       REGISTRY_PULL | REGISTRY_PUSH, &repo, err);
        if (r == 0)
                r = registry_ping(repo, err);
        if (r == 0) {
                registry_repo_set_upload_progress(repo, upload_progress, &p);
                _cleanup_free_ char *n = image_ref_name(ref);
                _cleanup_free_ char *head = xasprintf("The push refers to repository [%s]", n);
                emit(&p, NULL, head, -1, 0);
                for (size_t i = m->n_layers; i-- > 0;)
                        emit(&p, m->layers[i].digest, "Preparing", -1, 0);
                for (size_t i = m->n_layers; r == 0 && i-- > 0 && !p.failed_emit;)
                        r = push_blob(&p, repo, e->store, &m->layers[i], true, err);
                if (r == 0 && !p.failed_emit)
                        r = push_blob(&p, repo, e->store, &m->config, false, err);
                const char *mt = m->media_type ? m->media_type : OCI_MEDIA_TYPE_MANIFEST;
                _cleanup_free_ char *digest = NULL;
                if (r == 0 && !p.failed_emit)
                        r = registry_manifest_put(repo, ref->tag, mt, body, len, &digest, err);
                if (r == 0 && p.failed_emit)
                        r = berth_error_set(err, ECANCELED, "push cancelled");
                if (r == 0) {
                        _cleanup_free_ char *line =
                            xasprintf("%s: digest: %s size: %zu", ref->tag, digest, len);
                        emit(&p, NULL, line, -1, 0);
                        struct json *aux = json_new_object();
                        json_object_set(aux, "progressDetail", json_new_object());
                        struct json *a = json_object_set(aux, "aux", json_new_object());
                        json_set_str(a, "Tag", ref->tag);
                        json_set_str(a, "Digest", digest);
                        json_set_int(a, "Size", (int64_t)len);
                        if (opts->progress)
                                (void)opts->progress(aux, opts->userdata);
                        json_free(aux);
                }
        }
        registry_repo_free(repo);
        registry_client_free(client);
        berth_layers_pull_leave(l);
        if (r < 0)
                log_info("push '%s': %s", full, berth_error_msg(err ? *err : NULL));
        return r;
}

/* "https://index.docker.io/v1/", "http://127.0.0.1:5000/", "127.0.0.1:5000" → host[:port]. */
static char *server_host(const char *server)
{
        const char *s = server;
        const char *scheme = strstr(s, "://");
        if (scheme)
                s = scheme + 3;
        size_t n = strcspn(s, "/");
        char *host = xstrndup(s, n);
        if (strcmp(host, "index.docker.io") == 0 || strcmp(host, "registry-1.docker.io") == 0 ||
            n == 0) {
                free(host);
                host = xstrdup(IMAGE_REF_DEFAULT_DOMAIN);
        }
        return host;
}

int berth_registry_login(struct berth_engine *e, const char *server,
                         const struct registry_auth *auth, char **ret_identity_token,
                         struct berth_error **err)
{
        _cleanup_free_ char *host = server_host(server ? server : "");
        _cleanup_config_ struct berth_config *c = berth_engine_config(e);
        struct registry_options ro = {.insecure = c->insecure_registries};
        struct registry_client *client = NULL;
        struct registry_repo *repo = NULL;
        int r = registry_client_new(&ro, &client, err);
        if (r == 0)
                r = registry_repo_open(client, host, NULL, auth, REGISTRY_PULL, &repo, err);
        if (r == 0)
                r = registry_login(repo, ret_identity_token, err);
        registry_repo_free(repo);
        registry_client_free(client);
        if (r < 0)
                return berth_error_prefix(err, "login to %s", host);
        return 0;
}

static int config_buf_sink(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        struct berth_buf *b = userdata;
        if (b->len + n > (16u << 20))
                return berth_error_set(err, EFBIG, "image config larger than 16 MiB");
        buf_append(b, buf, n);
        return 0;
}

static struct json *platform_json(const char *arch, const char *os, const char *variant)
{
        struct json *p = json_new_object();
        json_set_str(p, "architecture", arch ? arch : "");
        json_set_str(p, "os", os ? os : "");
        if (variant && *variant)
                json_set_str(p, "variant", variant);
        return p;
}

/* An image manifest's platform comes from its config. */
static int manifest_platforms(struct registry_repo *repo, const struct registry_manifest *m,
                              struct json *platforms, struct berth_error **err)
{
        _cleanup_oci_manifest_ struct oci_manifest *man = NULL;
        int r = oci_manifest_parse(m->body, m->len, &man, err);
        if (r < 0)
                return r;
        struct berth_buf b = BERTH_BUF_INIT;
        r = registry_blob_fetch(repo, man->config.digest, man->config.size, config_buf_sink, &b,
                                err);
        _cleanup_oci_image_config_ struct oci_image_config *cfg = NULL;
        if (r == 0)
                r = oci_image_config_parse(b.data ? b.data : "", b.len, &cfg, err);
        buf_release(&b);
        if (r == 0)
                json_array_append(platforms,
                                  platform_json(cfg->architecture, cfg->os, cfg->variant));
        return r;
}

int berth_registry_distribution(struct berth_engine *e, const char *name,
                                const struct registry_auth *auth, struct json **ret,
                                struct berth_error **err)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(name, &ref, err) < 0)
                return -EINVAL;
        if (!ref->tag && !ref->digest)
                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
        _cleanup_config_ struct berth_config *c = berth_engine_config(e);
        struct registry_options ro = {.mirrors = c->registry_mirrors,
                                      .insecure = c->insecure_registries};
        struct registry_client *client = NULL;
        struct registry_repo *repo = NULL;
        struct registry_manifest m = {0};
        int r = registry_client_new(&ro, &client, err);
        if (r == 0)
                r = registry_repo_open(client, ref->domain, ref->path, auth, REGISTRY_PULL, &repo,
                                       err);
        if (r == 0)
                r = registry_manifest_get(repo, ref->digest ? ref->digest : ref->tag, &m, err);
        struct json *out = NULL;
        if (r == 0) {
                out = json_new_object();
                struct json *d = json_object_set(out, "Descriptor", json_new_object());
                json_set_str(d, "mediaType", m.media_type);
                json_set_str(d, "digest", m.digest);
                json_set_int(d, "size", (int64_t)m.len);
                struct json *platforms = json_object_set(out, "Platforms", json_new_array());
                if (m.kind == OCI_DOC_INDEX) {
                        _cleanup_oci_index_ struct oci_index *x = NULL;
                        r = oci_index_parse(m.body, m.len, &x, err);
                        for (size_t i = 0; r == 0 && i < x->n_manifests; i++) {
                                const struct oci_platform *p = x->manifests[i].platform;
                                if (p)
                                        json_array_append(
                                            platforms,
                                            platform_json(p->architecture, p->os, p->variant));
                        }
                } else {
                        r = manifest_platforms(repo, &m, platforms, err);
                }
        }
        registry_manifest_release(&m);
        registry_repo_free(repo);
        registry_client_free(client);
        if (r < 0) {
                json_free(out);
                if (r == -ENOENT) {
                        _cleanup_free_ char *fam = image_ref_familiar(ref);
                        berth_error_prefix(err, "manifest for %s not found", fam);
                }
                return r;
        }
        *ret = out;
        return 0;
}
