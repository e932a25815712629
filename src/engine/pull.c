/*
 * pull.c — the engine's pull (contract in pull.h).
 *
 * Order of work: parse the reference; open the repository on its registry
 * (mirrors and insecure registries from the running configuration); resolve
 * the manifest for the platform (this is where a missing image fails, before
 * any message); fetch the config into the store; then, unless the image is
 * already complete here, a pool of max-concurrent-downloads threads takes the
 * layers one by one: each runs layer_ingest (verify + unpack while
 * downloading) with a sink that counts bytes for "Downloading" messages.
 * When all are in, "Extracting"/"Pull complete" are reported in layer order
 * (docker's order), the records are written in one transaction, and the
 * digest and status lines end the stream.
 *
 * A repository pull (all tags) lists the tags once and runs the same steps
 * per tag, one after another, on the same repo and stream.
 *
 * Messages from several threads go through one mutex, so emit sees one call
 * at a time and a failed emit (client gone) sets the cancel flag, which the
 * registry client checks between reads.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/units.h"
#include "image/ingest.h"
#include "image/layer.h"
#include "image/reference.h"
#include "images.h"
#include "oci/image-spec.h"
#include "layers.h"
#include "pull.h"

#define CONFIG_MAX        (16u << 20)
#define PROGRESS_EVERY_NS (100 * 1000 * 1000)

struct pull;

struct layer_job {
        struct pull *p;
        size_t index;
        const struct oci_descriptor *desc;
        const char *diff_id;
        char chain_id[72];
        char parent_chain[72];
        char short_id[13];
        bool present; /* already unpacked here, and its blob stored */
        int64_t size; /* unpacked bytes */
        int64_t received;
        int64_t last_emit_ns;
        int r;
        struct berth_error *err;
        struct layer_ingest *ingest;
};

struct pull {
        struct berth_engine *e;
        const struct berth_pull_opts *o;
        pthread_mutex_t emit_lock;
        bool started;
        bool emit_failed;
        atomic_bool own_cancel;
        struct registry_repo *repo;
        struct layer_job *jobs;
        size_t n_jobs;
        size_t next_job; /* under emit_lock */
};

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct json *berth_progress_json(const char *status, const char *id, int64_t current, int64_t total)
{
        struct json *m = json_new_object();
        json_set_str(m, "status", status);
        struct json *d = json_object_set(m, "progressDetail", json_new_object());
        json_set_int(d, "current", current);
        json_set_int(d, "total", total);
        /* As dockerd formats the text: no terminal, so 200 columns, no time left. */
        struct berth_buf bar = BERTH_BUF_INIT;
        progress_bar(&bar, current, total, 0, false, "", 200, 0);
        if (bar.len) /* dockerd omits an empty one */
                json_set_str(m, "progress", bar.data);
        buf_release(&bar);
        json_set_str(m, "id", id);
        return m;
}

/* One message; the emit lock serialises threads.  Returns <0 once the client is gone. */
static int emit_msg(struct pull *p, struct json *msg)
{
        pthread_mutex_lock(&p->emit_lock);
        int r = 0;
        if (p->emit_failed) {
                r = -ECANCELED;
        } else {
                p->started = true;
                if (p->o->emit(msg, p->o->userdata) < 0) {
                        p->emit_failed = true;
                        atomic_store(&p->own_cancel, true);
                        if (p->o->cancel)
                                atomic_store(p->o->cancel, true);
                        r = -ECANCELED;
                }
        }
        pthread_mutex_unlock(&p->emit_lock);
        json_free(msg);
        return r;
}

static struct json *status_msg(const char *status, const char *id)
{
        struct json *m = json_new_object();
        json_set_str(m, "status", status);
        if (id)
                json_set_str(m, "id", id);
        return m;
}

/* {"status":…,"progressDetail":{},"id":…} as dockerd sends layer states. */
static int emit_layer(struct pull *p, const struct layer_job *j, const char *status)
{
        struct json *m = json_new_object();
        json_set_str(m, "status", status);
        json_object_set(m, "progressDetail", json_new_object());
        json_set_str(m, "id", j->short_id);
        return emit_msg(p, m);
}

static int emit_progress(struct pull *p, const struct layer_job *j, const char *status,
                         int64_t current, int64_t total)
{
        return emit_msg(p, berth_progress_json(status, j->short_id, current, total));
}

/* The sink in front of layer_ingest_write: counts bytes and reports progress. */
static int counting_sink(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        struct layer_job *j = userdata;
        int r = layer_ingest_write(buf, n, j->ingest, err);
        if (r < 0)
                return r;
        j->received += (int64_t)n;
        int64_t t = now_ns();
        if (t - j->last_emit_ns >= PROGRESS_EVERY_NS || j->received == j->desc->size) {
                j->last_emit_ns = t;
                if (emit_progress(j->p, j, "Downloading", j->received, j->desc->size) < 0)
                        return berth_error_set(err, ECANCELED,
                                               "pull cancelled: the client went away");
        }
        return 0;
}

static void run_job(struct layer_job *j)
{
        struct pull *p = j->p;
        struct layer_ingest_opts o = {
            .digest = j->desc->digest,
            .size = j->desc->size,
            .diff_id = j->diff_id,
            .parent_chain_id = j->index ? j->parent_chain : NULL,
        };
        j->r = layer_ingest_begin(p->e->store, &o, &j->ingest, &j->err);
        if (j->r < 0)
                return;
        if (j->r == 1) {
                /* Present after all (another pull finished it meanwhile, or only the blob was
                 * missing its unpacked form and begin() unpacked it). */
                j->ingest = NULL;
                j->present = true;
                j->r = 0;
                (void)emit_layer(p, j, "Download complete");
                return;
        }
        j->r =
            registry_blob_fetch(p->repo, j->desc->digest, j->desc->size, counting_sink, j, &j->err);
        if (j->r < 0) {
                layer_ingest_abort(j->ingest);
                j->ingest = NULL;
                return;
        }
        (void)emit_layer(p, j, "Verifying Checksum");
        (void)emit_layer(p, j, "Download complete");
        struct layer_result res;
        memset(&res, 0, sizeof(res));
        j->r = layer_ingest_commit(j->ingest, &res, &j->err);
        j->ingest = NULL;
        if (j->r == 0 && res.unpacked_size)
                j->size = (int64_t)res.unpacked_size;
}

static void *pool_thread(void *arg)
{
        struct pull *p = arg;
        for (;;) {
                pthread_mutex_lock(&p->emit_lock);
                size_t i = p->next_job++;
                bool stop = p->emit_failed;
                pthread_mutex_unlock(&p->emit_lock);
                if (i >= p->n_jobs || stop)
                        return NULL;
                struct layer_job *j = &p->jobs[i];
                if (j->present)
                        continue;
                run_job(j);
                if (j->r < 0) {
                        /* One failed layer stops the others: they would be thrown away. */
                        pthread_mutex_lock(&p->emit_lock);
                        p->next_job = p->n_jobs;
                        pthread_mutex_unlock(&p->emit_lock);
                        atomic_store(&p->own_cancel, true);
                        return NULL;
                }
        }
}

static int blob_sink(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        return blob_ingest_write(userdata, buf, n, err);
}

static int fetch_config(struct pull *p, const struct oci_descriptor *d, char **ret, size_t *ret_len,
                        struct berth_error **err)
{
        struct blob_ingest *in = NULL;
        int r = blob_store_ingest_begin(p->e->store, d->digest, d->size, &in, err);
        if (r < 0)
                return r;
        if (r == 0) {
                r = registry_blob_fetch(p->repo, d->digest, d->size, blob_sink, in, err);
                if (r < 0) {
                        blob_ingest_abort(in);
                        return r;
                }
                r = blob_ingest_commit(in, NULL, err);
                if (r < 0)
                        return r;
        }
        return blob_store_read(p->e->store, d->digest, CONFIG_MAX, ret, ret_len, err);
}

/* The layers as layers.c records them (sizes filled in once unpacked). */
static struct berth_layer_rec *layer_recs(struct pull *p)
{
        struct berth_layer_rec *recs = xcalloc(p->n_jobs ? p->n_jobs : 1, sizeof(*recs));
        for (size_t i = 0; i < p->n_jobs; i++) {
                struct layer_job *j = &p->jobs[i];
                if (!j->size)
                        j->size = (int64_t)berth_layers_size(p->e->layers, j->chain_id);
                recs[i] = (struct berth_layer_rec){j->chain_id, j->diff_id, j->desc->digest,
                                                   (uint64_t)j->size};
        }
        return recs;
}

/* The first column of a one-key query ("" when no row). */
static char *db_lookup(struct pull *p, const char *sql, const char *key)
{
        sqlite3 *h = berth_db_handle(p->e->db);
        sqlite3_stmt *st = NULL;
        char *val = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
                        val = xstrdup((const char *)sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
        }
        return val ? val : xstrdup("");
}

static int open_repo(struct pull *p, const struct image_ref *ref, struct registry_client **ret_c,
                     struct berth_error **err)
{
        _cleanup_config_ struct berth_config *c = berth_engine_config(p->e);
        struct registry_options ro = {
            .mirrors = c->registry_mirrors,
            .insecure = c->insecure_registries,
        };
        int r = registry_client_new(&ro, ret_c, err);
        if (r < 0)
                return r;
        r = registry_repo_open(*ret_c, ref->domain, ref->path, p->o->auth, REGISTRY_PULL, &p->repo,
                               err);
        if (r < 0)
                return r;
        registry_repo_set_cancel(p->repo, p->o->cancel ? p->o->cancel : &p->own_cancel);
        return 0;
}

/*
 * One image: resolve ref (a tag or a digest), report "Pulling from", fetch
 * config and layers, record it, report "Digest:".  Returns 1 when the tag
 * now names another image than before (docker's "newer image"), 0 when it was
 * up to date, or a negative errno; -ECANCELED once the client is gone.
 */
static int pull_one(struct pull *p, const struct image_ref *ref,
                    const struct oci_platform *platform, struct berth_error **err)
{
        struct berth_engine *e = p->e;
        struct registry_image img;
        memset(&img, 0, sizeof(img));
        struct oci_image_config *cfg = NULL;
        _cleanup_free_ char *cfg_body = NULL;
        size_t cfg_len = 0;
        _cleanup_free_ char *familiar = image_ref_familiar(ref), *tag_name = NULL,
                            *digest_name = NULL, *before = NULL, *repo_name = image_ref_name(ref);
        _cleanup_config_ struct berth_config *conf = NULL;
        bool image_known = false, up_to_date = false;

        const char *what = ref->digest ? ref->digest : ref->tag;
        struct registry_manifest top;
        int r = registry_manifest_get(p->repo, what, &top, err);
        if (r < 0) {
                if (r == -ENOENT)
                        r = berth_error_prefix(err, "manifest for %s not found", familiar);
                goto out;
        }

        /* From here on the client sees a stream: "Pulling from library/busybox", id the tag, or
         * for a digest the whole reference ("docker.io/library/busybox@sha256:…") as dockerd. */
        {
                _cleanup_free_ char *st = xasprintf("Pulling from %s", ref->path);
                _cleanup_free_ char *id = ref->digest ? image_ref_string(ref) : xstrdup(what);
                r = emit_msg(p, status_msg(st, id));
                if (r < 0) {
                        registry_manifest_release(&top);
                        goto cancelled;
                }
        }
        /* Then the platform, in the stream as dockerd reports a list without it. */
        r = registry_resolve_top(p->repo, what, &top, platform, &img, err);
        if (r == -ENOEXEC) {
                _cleanup_free_ char *want =
                    platform ? oci_platform_format(platform) : xstrdup("linux/amd64");
                log_info("pull %s: %s", familiar, berth_error_msg(err ? *err : NULL));
                berth_error_freep(err);
                r = berth_error_set(
                    err, ENOENT, "no matching manifest for %s in the manifest list entries", want);
        }
        if (r < 0)
                goto out;
        const struct oci_manifest *m = img.parsed;
        r = fetch_config(p, &m->config, &cfg_body, &cfg_len, err);
        if (r == 0)
                r = oci_image_config_parse(cfg_body, cfg_len, &cfg, err);
        if (r < 0)
                goto out;
        size_t n_diff = 0;
        while (cfg->diff_ids && cfg->diff_ids[n_diff])
                n_diff++;
        if (n_diff != m->n_layers) {
                r = berth_error_set(err, EINVAL, "image %s: %zu layers but %zu diff ids", familiar,
                                    m->n_layers, n_diff);
                goto out;
        }

        if (ref->tag && !ref->digest)
                tag_name = image_ref_string(ref);
        /* What the tag names: the index when there is one (docker's "Digest:" and RepoDigests). */
        const char *top_digest = img.index.body ? img.index.digest : img.manifest.digest;
        digest_name = xasprintf("%s@%s", repo_name, top_digest);
        /* What the reference names here now: the same image is "up to date" (dockerd asks its
         * reference store, by tag or by digest alike). */
        before = tag_name ? db_lookup(p, "SELECT image_id FROM tags WHERE name = ?1", tag_name)
                          : db_lookup(p, "SELECT image_id FROM repo_digests WHERE name = ?1",
                                      digest_name);
        const char *image_id = img.parsed->config.digest;
        up_to_date = strcmp(before, image_id) == 0;
        {
                _cleanup_free_ char *had =
                    db_lookup(p, "SELECT id FROM images WHERE id = ?1", image_id);
                image_known = *had != '\0';
        }

        /* The layers: what is unpacked here already exists; the rest goes to the pool. */
        p->n_jobs = m->n_layers;
        p->next_job = 0;
        p->jobs = xcalloc(p->n_jobs ? p->n_jobs : 1, sizeof(*p->jobs));
        conf = berth_engine_config(e);
        for (size_t i = 0; i < p->n_jobs; i++) {
                struct layer_job *j = &p->jobs[i];
                j->p = p;
                j->index = i;
                j->desc = &m->layers[i];
                j->diff_id = cfg->diff_ids[i];
                if (i)
                        memcpy(j->parent_chain, p->jobs[i - 1].chain_id, sizeof(j->parent_chain));
                layer_chain_id(i ? j->parent_chain : NULL, j->diff_id, j->chain_id);
                const char *hex = strchr(j->desc->digest, ':');
                snprintf(j->short_id, sizeof(j->short_id), "%.12s",
                         hex ? hex + 1 : j->desc->digest);
                /* The blob too: save and push send it.  A layer unpacked from another
                 * blob (a load of uncompressed layers) gets this one fetched; the ingest
                 * then stores it without unpacking again. */
                j->present = layer_exists(conf->data_root, j->chain_id) &&
                             blob_store_exists(e->store, j->desc->digest);
                /* An image stored whole shows no layers at all, as dockerd. */
                image_known = image_known && j->present;
        }
        for (size_t i = 0; i < p->n_jobs && !image_known; i++)
                if ((r = emit_layer(p, &p->jobs[i],
                                    p->jobs[i].present ? "Already exists" : "Pulling fs layer")) <
                    0)
                        goto cancelled;

        /* Rows for the layers before their directories exist (layers.h). */
        if (!image_known) {
                _cleanup_free_ struct berth_layer_rec *recs = layer_recs(p);
                r = berth_layers_reserve(e->layers, recs, p->n_jobs, err);
                if (r < 0)
                        goto out;
        }
        size_t workers =
            conf->max_concurrent_downloads > 0 ? (size_t)conf->max_concurrent_downloads : 1;
        if (workers > p->n_jobs)
                workers = p->n_jobs;
        pthread_t *th = xcalloc(workers ? workers : 1, sizeof(*th));
        size_t started_threads = 0;
        for (size_t i = 0; i < workers; i++) {
                pthread_attr_t attr;
                pthread_attr_init(&attr);
                pthread_attr_setstacksize(&attr, 512 * 1024);
                if (pthread_create(&th[started_threads], &attr, pool_thread, p) == 0)
                        started_threads++;
                pthread_attr_destroy(&attr);
        }
        if (workers && !started_threads)
                pool_thread(p); /* no thread to spare: do it here */
        for (size_t i = 0; i < started_threads; i++)
                pthread_join(th[i], NULL);
        free(th);
        for (size_t i = 0; i < p->n_jobs; i++) {
                struct layer_job *j = &p->jobs[i];
                if (j->r < 0 && r == 0) {
                        r = j->r;
                        if (err && !*err)
                                *err = TAKE_PTR(j->err);
                }
        }
        if (p->emit_failed)
                goto cancelled;
        if (r < 0)
                goto out;

        /* docker reports extraction layer by layer, bottom first. */
        for (size_t i = 0; i < p->n_jobs && !image_known; i++) {
                struct layer_job *j = &p->jobs[i];
                if (j->present)
                        continue;
                if ((r = emit_progress(p, j, "Extracting", j->desc->size, j->desc->size)) < 0 ||
                    (r = emit_layer(p, j, "Pull complete")) < 0)
                        goto cancelled;
        }

        /* The manifest (and index) go to the store too: push sends them back byte for byte. */
        r = blob_store_put(e->store, img.manifest.digest, img.manifest.body, img.manifest.len, NULL,
                           err);
        if (r >= 0 && img.index.body)
                r = blob_store_put(e->store, img.index.digest, img.index.body, img.index.len, NULL,
                                   err);
        if (r < 0)
                goto out;
        {
                _cleanup_free_ struct berth_layer_rec *recs = layer_recs(p);
                _cleanup_free_ char *labels = berth_layers_config_labels(cfg_body, cfg_len);
                bool changed = false;
                r = berth_layers_commit_pull(e->layers, img.parsed->config.digest,
                                             img.manifest.digest,
                                             berth_layers_parse_time(cfg->created), labels, recs,
                                             p->n_jobs, tag_name, digest_name, &changed, err);
        }
        if (r < 0)
                goto out;
        {
                _cleanup_free_ char *dg = xasprintf("Digest: %s", top_digest);
                if ((r = emit_msg(p, status_msg(dg, NULL))) < 0)
                        goto cancelled;
        }
        r = up_to_date ? 0 : 1;
        goto out;

cancelled:
        r = berth_error_set(err, ECANCELED, "pull %s: cancelled, the client went away", familiar);
out:
        for (size_t i = 0; i < p->n_jobs; i++) {
                layer_ingest_abort(p->jobs[i].ingest);
                berth_error_free(p->jobs[i].err);
        }
        free(p->jobs);
        p->jobs = NULL;
        p->n_jobs = 0;
        oci_image_config_free(cfg);
        registry_image_release(&img);
        return r;
}

/* dockerd's pull of a whole repository: every tag the registry lists, in its order. */
static int pull_all_tags(struct pull *p, const struct image_ref *name,
                         const struct oci_platform *platform, bool *ret_new,
                         struct berth_error **err)
{
        _cleanup_strv_free_ char **tags = NULL;
        int r = registry_tags_list(p->repo, &tags, err);
        if (r < 0) {
                if (r == -ENOENT) {
                        _cleanup_free_ char *familiar = image_ref_familiar(name);
                        r = berth_error_prefix(err, "repository %s not found", familiar);
                }
                return r;
        }
        for (size_t i = 0; tags[i]; i++) {
                if (!image_ref_tag_valid(tags[i]))
                        return berth_error_set(err, EINVAL,
                                               "tag '%s' from the registry: invalid "
                                               "tag format",
                                               tags[i]);
                _cleanup_image_ref_ struct image_ref *t = image_ref_dup(name);
                t->tag = xstrdup(tags[i]);
                r = pull_one(p, t, platform, err);
                if (r < 0)
                        return r;
                if (r == 1)
                        *ret_new = true;
        }
        return 0;
}

int berth_image_pull(struct berth_engine *e, const struct berth_pull_opts *o, bool *ret_started,
                     struct berth_error **err)
{
        struct pull p = {.e = e, .o = o};
        pthread_mutex_init(&p.emit_lock, NULL);
        struct registry_client *client = NULL;
        struct oci_platform platform;
        memset(&platform, 0, sizeof(platform));
        bool have_platform = false, newer = false;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_free_ char *familiar = NULL;

        /* Collection of unreferenced files waits while this pull holds unrecorded ones. */
        if (e->layers)
                berth_layers_pull_enter(e->layers);
        int r = image_ref_parse_normalized(o->reference, &ref, err);
        bool all = r == 0 && o->all_tags && !ref->tag && !ref->digest;
        if (r == 0 && !all) {
                image_ref_free(TAKE_PTR(ref));
                r = image_ref_parse_pull(o->reference, &ref, err);
        }
        if (r < 0)
                goto out;
        if (o->platform && *o->platform) {
                r = oci_platform_parse(o->platform, &platform, err);
                if (r < 0)
                        goto out;
                have_platform = true;
        }
        /* "busybox" for a repository, "busybox:latest" for one tag: the status line names it. */
        familiar = image_ref_familiar(ref);
        r = open_repo(&p, ref, &client, err);
        if (r < 0)
                goto out;
        if (all) {
                r = pull_all_tags(&p, ref, have_platform ? &platform : NULL, &newer, err);
        } else {
                r = pull_one(&p, ref, have_platform ? &platform : NULL, err);
                newer = r == 1;
        }
        if (r < 0)
                goto out;
        {
                const char *attrs[] = {"name", familiar, NULL};
                berth_events_publish(e->events, "image", "pull", familiar, attrs);
        }
        {
                _cleanup_free_ char *st =
                    xasprintf("Status: %s for %s",
                              newer ? "Downloaded newer image" : "Image is up to date", familiar);
                if ((r = emit_msg(&p, status_msg(st, NULL))) < 0) {
                        r = berth_error_set(err, ECANCELED,
                                            "pull %s: cancelled, the client went away", familiar);
                        goto out;
                }
        }
        r = 0;
out:
        if (have_platform)
                oci_platform_release(&platform);
        registry_repo_free(p.repo);
        registry_client_free(client);
        pthread_mutex_destroy(&p.emit_lock);
        if (e->layers) {
                /* What a failed or cancelled pull fetched and did not record goes now
                 * (or when the last concurrent pull ends). */
                if (r < 0)
                        berth_layers_collect(e->layers);
                berth_layers_pull_leave(e->layers);
        }
        if (ret_started)
                *ret_started = p.started;
        return r;
}
