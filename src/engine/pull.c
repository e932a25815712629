/*
 * pull.c — the pull pipeline (contract in pull.h).
 *
 * One pull: parse the reference; open the repository on the registry client
 * (mirrors first for docker.io); resolve the tag or digest to one image
 * manifest (an index picks the platform) — an error up to here comes back
 * before any progress, so the API can still answer 404; then "Pulling from";
 * the config blob (kept in the content store); and, unless an image with that
 * config is already complete here ("Image is up to date"), the layers.
 *
 * Layers: those whose chain id is unpacked already say "Already exists"; the
 * others say "Pulling fs layer" (and "Waiting" beyond the concurrency) and
 * go to up to max-concurrent-downloads worker threads.  A worker streams the
 * blob from the registry into image/ingest.h's layer ingest, which feeds the
 * content store (compressed blob, for push and save) and the streaming layer
 * apply (decompress, hash, unpack into a temp directory) at once; the
 * registry client verifies the compressed digest, the store verifies it again
 * before the rename, and the layer apply refuses a diff_id other than the
 * config's.
 * The pulling thread reports "Extracting"/"Pull complete" in layer order as
 * workers finish, and watches for a vanished client: then it sets the cancel
 * flag, which stops every transfer and sink; workers abort their temp files.
 * Records are committed in one transaction after every layer is in place.
 *
 * Threads: the worker threads live for one pull only; nothing idles between
 * pulls.  Progress messages are serialised by the pull's mutex.
 *
 * Never: publish a record before its files are complete, or keep pulling for a
 * client that is gone.
 */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "image/ingest.h"
#include "image/layer.h"
#include "image/reference.h"
#include "layers.h"
#include "pull.h"

#define CONFIG_MAX           (16u << 20)
#define PROGRESS_INTERVAL_NS (100 * 1000 * 1000LL)
#define WAIT_SLICE_MS        200

struct pull;

struct pull_layer {
        struct pull *p;
        size_t idx;
        const struct oci_descriptor *desc;
        const char *diff_id;
        char chain_id[72];
        char short_id[16];
        bool exists; /* unpacked before this pull got to it */
        bool queued; /* handed to a worker */
        bool done;
        int r;
        struct berth_error *err;
        uint64_t size; /* unpacked bytes */
        /* download state (worker only) */
        struct layer_ingest *ing;
        uint64_t got;
        int64_t last_emit;
};

struct pull {
        struct berth_layers *imgs;
        const struct pull_opts *opts;
        struct registry_repo *repo;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct pull_layer *layers;
        size_t n;
        atomic_bool cancel;
        bool emitted; /* a message went out */
};

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Caller holds p->lock.  current < 0: empty progressDetail; id NULL: no detail at all. */
static void emit_locked(struct pull *p, const char *id, const char *status, int64_t current,
                        int64_t total, bool detail)
{
        if (atomic_load(&p->cancel) && p->emitted)
                return;
        struct json *m = json_new_object();
        json_set_str(m, "status", status);
        if (detail) {
                struct json *d = json_object_set(m, "progressDetail", json_new_object());
                if (current >= 0) {
                        json_set_int(d, "current", current);
                        json_set_int(d, "total", total);
                }
        }
        if (id)
                json_set_str(m, "id", id);
        p->emitted = true;
        if (p->opts->progress && p->opts->progress(m, p->opts->userdata) < 0)
                atomic_store(&p->cancel, true);
        json_free(m);
}

static void emit(struct pull *p, const char *id, const char *status, int64_t current, int64_t total,
                 bool detail)
{
        pthread_mutex_lock(&p->lock);
        emit_locked(p, id, status, current, total, detail);
        pthread_mutex_unlock(&p->lock);
}

/* Bytes of the regular files below dirfd (a layer unpacked by another pull). */
static uint64_t tree_size(int dirfd)
{
        _cleanup_closedir_ DIR *d = fdopendir(dirfd);
        if (!d) {
                close(dirfd);
                return 0;
        }
        uint64_t sum = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
                        sum += (uint64_t)st.st_size;
                else if (S_ISDIR(st.st_mode)) {
                        int fd = openat(dirfd, de->d_name,
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd >= 0)
                                sum += tree_size(fd);
                }
        }
        return sum;
}

static uint64_t existing_layer_size(struct berth_layers *imgs, const char *chain_id)
{
        uint64_t s = berth_layers_size(imgs, chain_id);
        if (s)
                return s;
        _cleanup_free_ char *path = layer_path(berth_layers_data_root(imgs), chain_id);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? 0 : tree_size(fd);
}

/* ---- one layer (worker thread) ---- */

static int layer_sink(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        struct pull_layer *l = userdata;
        struct pull *p = l->p;
        if (atomic_load(&p->cancel))
                return berth_error_set(err, ECANCELED, "pull cancelled");
        int r = layer_ingest_write(buf, n, l->ing, err);
        if (r < 0)
                return r;
        l->got += n;
        int64_t t = now_ns();
        if (t - l->last_emit >= PROGRESS_INTERVAL_NS) {
                l->last_emit = t;
                emit(p, l->short_id, "Downloading", (int64_t)l->got, l->desc->size, true);
        }
        return 0;
}

/*
 * One layer through image/ingest.h: bytes from the registry go to the store
 * (verified blob) and the streaming layer apply at once; what is already
 * there (the blob, the unpacked layer, or both) is reused.
 */
static int run_layer(struct pull_layer *l, struct berth_error **err)
{
        struct pull *p = l->p;
        struct layer_ingest_opts o = {
            .digest = l->desc->digest,
            .size = l->desc->size,
            .diff_id = l->diff_id,
            .parent_chain_id = l->idx ? p->layers[l->idx - 1].chain_id : NULL,
        };
        struct berth_engine *e = berth_layers_engine(p->imgs);
        int r = layer_ingest_begin(e->store, &o, &l->ing, err);
        if (r < 0)
                return r;
        if (r == 1) { /* present already, or unpacked from the stored blob */
                l->size = existing_layer_size(p->imgs, l->chain_id);
                emit(p, l->short_id, "Download complete", -1, 0, true);
                return 0;
        }
        l->last_emit = 0;
        r = registry_blob_fetch(p->repo, l->desc->digest, l->desc->size, layer_sink, l, err);
        if (r < 0) {
                layer_ingest_abort(TAKE_PTR(l->ing));
                return r;
        }
        emit(p, l->short_id, "Verifying Checksum", -1, 0, true);
        struct layer_result res = {0};
        r = layer_ingest_commit(TAKE_PTR(l->ing), &res, err);
        if (r < 0)
                return r;
        emit(p, l->short_id, "Download complete", -1, 0, true);
        l->size = res.size ? res.size : existing_layer_size(p->imgs, l->chain_id);
        return 0;
}

static void *worker(void *arg)
{
        struct pull *p = arg;
        for (;;) {
                pthread_mutex_lock(&p->lock);
                struct pull_layer *l = NULL;
                for (size_t i = 0; i < p->n && !l; i++)
                        if (!p->layers[i].exists && !p->layers[i].queued)
                                l = &p->layers[i];
                if (l)
                        l->queued = true;
                pthread_mutex_unlock(&p->lock);
                if (!l)
                        break;
                struct berth_error *e = NULL;
                int r = atomic_load(&p->cancel) ? berth_error_set(&e, ECANCELED, "pull cancelled")
                                                : run_layer(l, &e);
                if (r < 0) {
                        berth_error_prefix(&e, "layer %s", l->desc->digest);
                        atomic_store(&p->cancel, true);
                }
                pthread_mutex_lock(&p->lock);
                l->r = r;
                l->err = e;
                l->done = true;
                pthread_cond_broadcast(&p->cond);
                pthread_mutex_unlock(&p->lock);
        }
        return NULL;
}

/* ---- one image ---- */

struct config_sink {
        struct berth_buf buf;
        struct blob_ingest *ing;
};

static int config_sink(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        struct config_sink *cs = userdata;
        if (cs->buf.len + n > CONFIG_MAX)
                return berth_error_set(err, EFBIG, "image config larger than %u bytes", CONFIG_MAX);
        buf_append(&cs->buf, buf, n);
        return blob_ingest_write(cs->ing, buf, n, err);
}

/* The config blob, fetched once even when pulls of the same image race (the
 * store's ingest serialises them; the loser reads what the winner stored). */
static int fetch_config(struct pull *p, const struct oci_descriptor *d, char **ret, size_t *ret_len,
                        struct berth_error **err)
{
        struct blob_store *store = berth_layers_engine(p->imgs)->store;
        struct config_sink cs = {BERTH_BUF_INIT, NULL};
        int r = blob_store_ingest_begin(store, d->digest, d->size, &cs.ing, err);
        if (r == 1)
                return blob_store_read(store, d->digest, CONFIG_MAX, ret, ret_len, err);
        if (r == 0)
                r = registry_blob_fetch(p->repo, d->digest, d->size, config_sink, &cs, err);
        if (r == 0)
                r = blob_ingest_commit(TAKE_PTR(cs.ing), NULL, err);
        blob_ingest_abort(cs.ing);
        if (r < 0) {
                buf_release(&cs.buf);
                return berth_error_prefix(err, "image config %s", d->digest);
        }
        *ret_len = cs.buf.len;
        *ret = buf_steal(&cs.buf);
        return 0;
}

/* Waits for the workers, reporting completion in layer order. */
static int wait_layers(struct pull *p, struct berth_error **err)
{
        int result = 0;
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n; i++) {
                struct pull_layer *l = &p->layers[i];
                if (l->exists)
                        continue;
                while (!l->done) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&p->cond, &p->lock, &ts);
                        if (p->opts->client_gone && !atomic_load(&p->cancel)) {
                                pthread_mutex_unlock(&p->lock);
                                bool gone = p->opts->client_gone(p->opts->userdata);
                                pthread_mutex_lock(&p->lock);
                                if (gone) {
                                        log_info("pull: client went away, cancelling");
                                        atomic_store(&p->cancel, true);
                                }
                        }
                }
                if (l->r < 0) {
                        if (result == 0) {
                                result = l->r;
                                if (err && !*err) {
                                        *err = l->err;
                                        l->err = NULL;
                                }
                        }
                        continue;
                }
                if (result == 0) {
                        emit_locked(p, l->short_id, "Extracting", l->desc->size, l->desc->size,
                                    true);
                        emit_locked(p, l->short_id, "Pull complete", -1, 0, true);
                }
        }
        pthread_mutex_unlock(&p->lock);
        if (result == 0 && atomic_load(&p->cancel))
                result = berth_error_set(err, ECANCELED, "pull cancelled");
        return result;
}

static int pull_layers(struct pull *p, unsigned concurrency, struct berth_error **err)
{
        size_t pending = 0;
        for (size_t i = 0; i < p->n; i++) {
                struct pull_layer *l = &p->layers[i];
                if (l->exists)
                        emit(p, l->short_id, "Already exists", -1, 0, true);
                else
                        emit(p, l->short_id, "Pulling fs layer", -1, 0, true);
        }
        for (size_t i = 0; i < p->n; i++)
                if (!p->layers[i].exists && pending++ >= concurrency)
                        emit(p, p->layers[i].short_id, "Waiting", -1, 0, true);
        if (pending == 0)
                return 0;
        size_t nthreads = pending < concurrency ? pending : concurrency;
        pthread_t *threads = xcalloc(nthreads, sizeof(*threads));
        size_t started = 0;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 1024 * 1024);
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        for (; started < nthreads; started++)
                if (pthread_create(&threads[started], &attr, worker, p) != 0)
                        break;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        int r;
        if (started == 0) {
                r = berth_error_set(err, EAGAIN, "start download threads: out of resources");
                atomic_store(&p->cancel, true);
        } else {
                r = wait_layers(p, err);
        }
        for (size_t i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
        free(threads);
        return r;
}

static void short_id(const char *digest, char out[16])
{
        const char *hex = strchr(digest, ':');
        hex = hex ? hex + 1 : digest;
        snprintf(out, 16, "%.12s", hex);
}

static int pull_one(struct pull *p, const struct image_ref *ref, const char *reference,
                    const struct oci_platform *platform, unsigned concurrency, bool *ret_changed,
                    struct berth_error **err)
{
        struct registry_image img = {0};
        _cleanup_free_ char *name = image_ref_name(ref);
        bool by_digest = strchr(reference, ':') != NULL;
        int r = registry_resolve(p->repo, reference, platform, &img, err);
        if (r < 0) {
                if (r == -ENOENT)
                        berth_error_prefix(err, "manifest for %s%s%s not found", name,
                                           by_digest ? "@" : ":", reference);
                registry_image_release(&img);
                return r;
        }
        _cleanup_free_ char *from = xasprintf("Pulling from %s", ref->path);
        emit(p, reference, from, -1, 0, false);

        const struct oci_manifest *m = img.parsed;
        _cleanup_free_ char *cfg = NULL;
        size_t cfg_len = 0;
        _cleanup_oci_image_config_ struct oci_image_config *config = NULL;
        r = fetch_config(p, &m->config, &cfg, &cfg_len, err);
        if (r == 0)
                r = oci_image_config_parse(cfg, cfg_len, &config, err);
        size_t n_diff = 0;
        while (r == 0 && config->diff_ids && config->diff_ids[n_diff])
                n_diff++;
        if (r == 0 && n_diff != m->n_layers)
                r = berth_error_set(err, EBADMSG,
                                    "image config %s lists %zu diff_ids for %zu layers",
                                    m->config.digest, n_diff, m->n_layers);
        const char *id = m->config.digest;
        if (r == 0 && !berth_layers_have_image(p->imgs, id)) {
                p->n = m->n_layers;
                p->layers = xcalloc(p->n ? p->n : 1, sizeof(*p->layers));
                for (size_t i = 0; i < p->n; i++) {
                        struct pull_layer *l = &p->layers[i];
                        l->p = p;
                        l->idx = i;
                        l->desc = &m->layers[i];
                        l->diff_id = config->diff_ids[i];
                        layer_chain_id(i ? p->layers[i - 1].chain_id : NULL, l->diff_id,
                                       l->chain_id);
                        short_id(l->desc->digest, l->short_id);
                        l->exists = layer_exists(berth_layers_data_root(p->imgs), l->chain_id);
                        if (l->exists)
                                l->size = existing_layer_size(p->imgs, l->chain_id);
                }
                r = pull_layers(p, concurrency, err);
        }
        const char *top = img.index.body ? img.index.digest : img.manifest.digest;
        if (r == 0)
                r = blob_store_put(berth_layers_engine(p->imgs)->store, img.manifest.digest,
                                   img.manifest.body, img.manifest.len, NULL, err);
        if (r == 0) {
                struct berth_layer_rec *recs = xcalloc(p->n ? p->n : 1, sizeof(*recs));
                for (size_t i = 0; i < p->n; i++)
                        recs[i] =
                            (struct berth_layer_rec){p->layers[i].chain_id, p->layers[i].diff_id,
                                                     p->layers[i].desc->digest, p->layers[i].size};
                _cleanup_free_ char *labels = berth_layers_config_labels(cfg, cfg_len);
                _cleanup_free_ char *tag_name =
                    by_digest ? NULL : xasprintf("%s:%s", name, reference);
                _cleanup_free_ char *digest_name = xasprintf("%s@%s", name, top);
                bool changed = false;
                r = berth_layers_commit_pull(p->imgs, id, img.manifest.digest,
                                             berth_layers_parse_time(config->created), labels, recs,
                                             p->n, tag_name, digest_name, &changed, err);
                free(recs);
                if (r == 0 && changed)
                        *ret_changed = true;
        }
        if (r == 0) {
                _cleanup_free_ char *d = xasprintf("Digest: %s", top);
                emit(p, NULL, d, -1, 0, false);
        }
        for (size_t i = 0; i < p->n; i++)
                berth_error_free(p->layers[i].err);
        free(p->layers);
        p->layers = NULL;
        p->n = 0;
        registry_image_release(&img);
        return r;
}

static int pull_reference(struct berth_layers *imgs, const struct pull_opts *opts,
                          struct image_ref **ret, bool *ret_all, struct berth_error **err)
{
        const char *from = opts->from_image;
        const char *tag = opts->tag && *opts->tag ? opts->tag : NULL;
        (void)imgs;
        if (!from || !*from)
                return berth_error_set(err, EINVAL, "fromImage is required");
        _cleanup_free_ char *s = NULL;
        if (tag)
                s = xasprintf("%s%s%s", from, strchr(tag, ':') ? "@" : ":", tag);
        else
                s = xstrdup(from);
        int r = image_ref_parse_normalized(s, ret, err);
        if (r < 0)
                return -EINVAL;
        *ret_all = !(*ret)->tag && !(*ret)->digest;
        return 0;
}

int berth_image_pull(struct berth_layers *imgs, const struct pull_opts *opts,
                     struct berth_error **err)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        bool all_tags = false;
        int r = pull_reference(imgs, opts, &ref, &all_tags, err);
        if (r < 0)
                return r;
        _cleanup_config_ struct berth_config *c = berth_engine_config(berth_layers_engine(imgs));
        struct oci_platform plat = {0};
        if (opts->platform && *opts->platform) {
                r = oci_platform_parse(opts->platform, &plat, err);
                if (r < 0)
                        return -EINVAL;
        }
        struct registry_options ro = {
            .mirrors = c->registry_mirrors,
            .insecure = c->insecure_registries,
        };
        struct registry_client *client = NULL;
        struct pull p = {.imgs = imgs, .opts = opts};
        pthread_mutex_init(&p.lock, NULL);
        pthread_cond_init(&p.cond, NULL);
        berth_layers_pull_enter(imgs);
        r = registry_client_new(&ro, &client, err);
        if (r == 0)
                r = registry_repo_open(client, ref->domain, ref->path, opts->auth, REGISTRY_PULL,
                                       &p.repo, err);
        unsigned conc = c->max_concurrent_downloads > 0 ? (unsigned)c->max_concurrent_downloads : 3;
        bool changed = false;
        if (r == 0) {
                registry_repo_set_cancel(p.repo, &p.cancel);
                const struct oci_platform *want = opts->platform && *opts->platform ? &plat : NULL;
                if (all_tags) {
                        _cleanup_strv_free_ char **tags = NULL;
                        r = registry_tags_list(p.repo, &tags, err);
                        for (size_t i = 0; r == 0 && tags && tags[i]; i++)
                                r = pull_one(&p, ref, tags[i], want, conc, &changed, err);
                } else {
                        r = pull_one(&p, ref, ref->digest ? ref->digest : ref->tag, want, conc,
                                     &changed, err);
                }
        }
        if (r == 0) {
                _cleanup_free_ char *fam = image_ref_familiar(ref);
                _cleanup_free_ char *st =
                    xasprintf("Status: %s for %s",
                              changed ? "Downloaded newer image" : "Image is up to date", fam);
                emit(&p, NULL, st, -1, 0, false);
        }
        registry_repo_free(p.repo);
        registry_client_free(client);
        berth_layers_pull_leave(imgs);
        /* Decompression windows and transfer buffers came from the workers' arenas: hand
         * them back so an idle daemon stays small after a pull. */
        malloc_trim(0);
        pthread_mutex_destroy(&p.lock);
        pthread_cond_destroy(&p.cond);
        oci_platform_release(&plat);
        if (r < 0) {
                _cleanup_free_ char *fam = image_ref_familiar(ref);
                log_info("pull '%s': %s", fam, berth_error_msg(err ? *err : NULL));
        }
        return r;
}
