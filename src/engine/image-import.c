/*
 * image-import.c — `docker import`, and the one-layer image recording that
 * commit shares with it (contract in commit.h).
 *
 * image_new_record: the plain tar is written into the content store as it is
 * produced (its digest is the diff_id), then a layer row is reserved and the
 * layer unpacked from the stored blob by image/layer.h, which checks the
 * diff_id and keeps every member inside the layer directory; then the config
 * (the caller's, with rootfs.diff_ids and history made from the parent's) is
 * stored and the image recorded in one transaction by layers.h, its parent
 * set and its tag pointed at it.  Garbage collection is held off throughout,
 * as during a pull: the blob is unreferenced until the image is recorded.
 *
 * Import reads "-" from the caller, or a URL with libcurl (through the
 * registry part's lazy loader), decompressing whatever compression the bytes
 * show (image/decompress.h) before they reach the store.
 *
 * Never: record the image before its layer is verified, or write a path from
 * the archive anywhere but through the confined unpacker.
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/units.h"
#include "base/version.h"
#include "commit.h"
#include "db.h"
#include "image/decompress.h"
#include "image/layer.h"
#include "image/reference.h"
#include "images.h"
#include "layers.h"
#include "oci/image-spec.h"
#include "pull.h"

#define EMPTY_TAR_DIGEST "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
#define CONFIG_MAX       (16u << 20)

int image_new_reference(const char *repo, const char *tag, char **ret, struct berth_error **err)
{
        *ret = NULL;
        if (!repo || !*repo)
                return 0;
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        int r = image_ref_parse_normalized(repo, &ref, err);
        if (r < 0)
                return r;
        if (ref->digest)
                return berth_error_set(err, EINVAL, "cannot import digest reference");
        if (tag && *tag) {
                if (!image_ref_tag_valid(tag))
                        return berth_error_set(err, EINVAL, "invalid tag format");
                free(ref->tag);
                ref->tag = xstrdup(tag);
        }
        if (!ref->tag)
                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
        *ret = image_ref_string(ref);
        return 0;
}

struct parent_layers {
        struct berth_layer_rec *recs;
        char **strs; /* what recs point into */
        size_t n, n_strs;
};

static void parent_layers_release(struct parent_layers *p)
{
        for (size_t i = 0; i < p->n_strs; i++)
                free(p->strs[i]);
        free(p->strs);
        free(p->recs);
}

static const char *keep(struct parent_layers *p, const unsigned char *s)
{
        if (!s)
                return NULL;
        p->strs = xrealloc(p->strs, (p->n_strs + 1) * sizeof(char *));
        return p->strs[p->n_strs++] = xstrdup((const char *)s);
}

/* The parent's layer records, bottom first, with one free slot after them. */
static int parent_layers_load(struct berth_engine *e, const char *id, struct parent_layers *p,
                              struct berth_error **err)
{
        *p = (struct parent_layers){.recs = xcalloc(1, sizeof(*p->recs))};
        if (!id)
                return 0;
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h,
                               "SELECT chain_id, diff_id, blob_digest FROM image_layers "
                               "WHERE image_id = ?1 ORDER BY position",
                               -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                p->recs = xrealloc(p->recs, (p->n + 2) * sizeof(*p->recs));
                struct berth_layer_rec *rec = &p->recs[p->n++];
                rec->chain_id = keep(p, sqlite3_column_text(st, 0));
                rec->diff_id = keep(p, sqlite3_column_text(st, 1));
                rec->blob_digest = keep(p, sqlite3_column_text(st, 2));
                rec->size = berth_layers_size(e->layers, rec->chain_id);
        }
        sqlite3_finalize(st);
        return 0;
}

/* ---- the layer blob ---- */

struct spool {
        struct blob_ingest *in;
};

static int spool_write(const void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct spool *s = userdata;
        return blob_ingest_write(s->in, buf, len, err);
}

static int store_tar(struct berth_engine *e, commit_tar_fn tar, void *userdata, char **ret_digest,
                     struct berth_error **err)
{
        struct spool s = {NULL};
        int r = blob_store_ingest_begin(e->store, NULL, -1, &s.in, err);
        if (r < 0)
                return r;
        r = tar(spool_write, &s, userdata, err);
        if (r < 0) {
                blob_ingest_abort(s.in);
                return r;
        }
        return blob_ingest_commit(s.in, ret_digest, err);
}

/* Keys in byte order, as dockerd's image configs (a map when marshalled). */
static struct json *sorted_object(const struct json *o)
{
        size_t n = json_len(o);
        const char **keys = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                keys[i] = o->obj.m[i].key;
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && strcmp(keys[k - 1], keys[k]) > 0; k--) {
                        const char *t = keys[k];
                        keys[k] = keys[k - 1];
                        keys[k - 1] = t;
                }
        struct json *out = json_new_object();
        for (size_t i = 0; i < n; i++)
                json_object_set(out, keys[i], json_copy(json_get(o, keys[i])));
        free(keys);
        return out;
}

static int set_parent(struct berth_engine *e, const char *id, const char *parent)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "UPDATE images SET parent = ?2 WHERE id = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return -EIO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, parent, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : -EIO;
}

static int record(struct berth_engine *e, const struct image_new *n, const char *diff_id,
                  char **ret_id, struct berth_error **err)
{
        struct berth_layers *l = e->layers;
        _cleanup_(parent_layers_release) struct parent_layers pl = {0};
        _cleanup_json_ struct json *pcfg = NULL;
        int r = parent_layers_load(e, n->parent_id, &pl, err);
        if (r == 0 && n->parent_id) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                r = blob_store_read(e->store, n->parent_id, CONFIG_MAX, &buf, &len, err);
                if (r == 0)
                        r = json_parse(buf, len, &pcfg, err);
        }
        if (r < 0)
                return berth_error_prefix(err, "image %s", n->parent_id);
        bool empty = n->skip_empty && strcmp(diff_id, EMPTY_TAR_DIGEST) == 0;
        char chain[72];
        size_t nl = pl.n;
        if (n->reuse) {
                layer_chain_id(nl ? pl.recs[nl - 1].chain_id : NULL, n->reuse->diff_id, chain);
                if (strcmp(chain, n->reuse->chain_id) != 0)
                        return berth_error_set(err, EINVAL, "layer %s does not stack on %s",
                                               n->reuse->chain_id, n->parent_id);
                pl.recs[nl] = *n->reuse;
                pl.recs[nl].size = berth_layers_size(l, n->reuse->chain_id);
                r = berth_layers_reserve(l, &pl.recs[nl], 1, err);
                if (r < 0)
                        return r;
                nl++;
        } else if (n->history_all) {
                /* no layer of its own */
        } else if (!empty) {
                layer_chain_id(nl ? pl.recs[nl - 1].chain_id : NULL, diff_id, chain);
                pl.recs[nl] = (struct berth_layer_rec){chain, diff_id, diff_id, 0};
                r = berth_layers_reserve(l, &pl.recs[nl], 1, err);
                _cleanup_close_ int fd = -EBADF;
                if (r == 0)
                        r = blob_store_open_blob(e->store, diff_id, &fd, err);
                struct layer_apply_opts lo = {
                    .parent_chain_id = nl ? pl.recs[nl - 1].chain_id : NULL,
                    .expected_diff_id = diff_id,
                };
                struct layer_result res = {0};
                if (r == 0)
                        r = layer_apply_fd(berth_layers_data_root(l), &lo, fd, &res, err);
                if (r == 1)
                        pl.recs[nl].size = berth_layers_size(l, chain);
                else if (r == 0)
                        pl.recs[nl].size = res.unpacked_size;
                if (r < 0)
                        return berth_error_prefix(err, "layer %s", diff_id);
                nl++;
        }
        struct json *cfg = n->config;
        struct json *rootfs = json_object_set(cfg, "rootfs", json_new_object());
        json_set_str(rootfs, "type", "layers");
        struct json *ids = json_object_set(rootfs, "diff_ids", json_new_array());
        for (size_t i = 0; i < nl; i++)
                json_array_append(ids, json_new_string(pl.recs[i].diff_id));
        if (n->history_all) {
                json_object_set(cfg, "history", json_copy(n->history_all));
        } else {
                struct json *hist = json_copy(json_get(pcfg, "history"));
                if (!json_is(hist, JSON_ARRAY)) {
                        json_free(hist);
                        hist = json_new_array();
                }
                json_object_set(cfg, "history", hist);
                struct json *h = json_array_append(hist, json_copy(n->history));
                if (empty)
                        json_set_bool(h, "empty_layer", true);
        }
        _cleanup_json_ struct json *sorted = sorted_object(cfg);
        _cleanup_free_ char *text = json_dump(sorted, 0);
        _cleanup_free_ char *id = NULL;
        r = blob_store_put(e->store, NULL, text, strlen(text), &id, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *labels = berth_layers_config_labels(text, strlen(text));
        _cleanup_free_ char *tag = NULL;
        r = image_new_reference(n->repo, n->tag, &tag, err);
        bool changed = false;
        if (r == 0)
                r = berth_layers_commit_pull(
                    l, id, NULL, berth_layers_parse_time(json_str(json_get(cfg, "created"))),
                    labels, pl.recs, nl, tag, NULL, &changed, err);
        if (r == 0 && n->parent_id && set_parent(e, id, n->parent_id) < 0)
                log_warn("image %s: cannot record its parent %s", id, n->parent_id);
        if (r == 0)
                *ret_id = TAKE_PTR(id);
        return r;
}

int image_new_record(struct berth_engine *e, const struct image_new *n, commit_tar_fn tar,
                     void *userdata, char **ret_id, struct berth_error **err)
{
        /* Nothing is collected while the blob and layer are not yet an image's. */
        berth_layers_pull_enter(e->layers);
        _cleanup_free_ char *diff_id = NULL;
        int r = store_tar(e, tar, userdata, &diff_id, err);
        if (r == 0)
                r = record(e, n, diff_id, ret_id, err);
        berth_layers_pull_leave(e->layers);
        /* the stored blob is no image's when the record failed, or when it was the empty
         * tar an image without changes leaves out: collected now, not at whatever
         * collection comes next */
        if (r < 0 || (n->skip_empty && diff_id && strcmp(diff_id, EMPTY_TAR_DIGEST) == 0))
                berth_layers_collect(e->layers);
        return r;
}

int image_new_record_stored(struct berth_engine *e, const struct image_new *n, char **ret_id,
                            struct berth_error **err)
{
        berth_layers_pull_enter(e->layers);
        int r = record(e, n, n->reuse ? n->reuse->diff_id : EMPTY_TAR_DIGEST, ret_id, err);
        berth_layers_pull_leave(e->layers);
        if (r < 0)
                berth_layers_collect(e->layers);
        return r;
}

/* RFC 3339 with nanoseconds, UTC, as Go's time.Time marshals. */
char *image_new_time(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char now[48];
        units_rfc3339_nano((int64_t)ts.tv_sec * UNITS_NSEC_PER_SEC + ts.tv_nsec, false, now);
        return xstrdup(now);
}

/* ---- import ---- */

/* dockerd's empty container.Config, every member as Go writes it. */
struct json *image_empty_config(void)
{
        struct json *c = json_new_object();
        static const char *const strs[] = {"Hostname", "Domainname", "User"};
        static const char *const bools[] = {"AttachStdin", "AttachStdout", "AttachStderr",
                                            "Tty",         "OpenStdin",    "StdinOnce"};
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                json_set_str(c, strs[i], "");
        for (size_t i = 0; i < ELEMENTSOF(bools); i++)
                json_set_bool(c, bools[i], false);
        json_object_set(c, "Env", json_new_null());
        json_object_set(c, "Cmd", json_new_null());
        json_set_str(c, "Image", "");
        json_object_set(c, "Volumes", json_new_null());
        json_set_str(c, "WorkingDir", "");
        json_object_set(c, "Entrypoint", json_new_null());
        json_object_set(c, "OnBuild", json_new_null());
        json_object_set(c, "Labels", json_new_null());
        return c;
}

struct import {
        const struct berth_import_opts *o;
        char *url;
        struct decompressor *dc;
        struct berth_error *dc_err; /* the sink's error inside curl's callback */
        commit_tar_write_fn write;
        void *wud;
        uint64_t done;
        int64_t total;
        long long last_ms;
        bool gone;
};

static int to_store(const void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct import *im = userdata;
        return im->write(buf, len, im->wud, err);
}

static long long mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int emit(struct import *im, struct json *m)
{
        int r = im->o->emit ? im->o->emit(m, im->o->userdata) : 0;
        json_free(m);
        if (r < 0)
                im->gone = true;
        return r;
}

static size_t curl_body(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct import *im = userdata;
        size_t len = size * nmemb;
        if (decomp_write(im->dc, p, len, &im->dc_err) < 0)
                return 0;
        im->done += len;
        long long now = mono_ms();
        if (now - im->last_ms >= 100) {
                im->last_ms = now;
                struct json *m = berth_progress_json("Importing", NULL, (int64_t)im->done,
                                                     im->total > 0 ? im->total : 0);
                json_object_del(m, "id");
                if (emit(im, m) < 0)
                        return 0;
        }
        return len;
}

static size_t curl_header(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct import *im = userdata;
        size_t len = size * nmemb;
        if (len > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
                im->total = strtoll(p + 15, NULL, 10);
        return len;
}

static int fetch_url(struct import *im, struct berth_error **err)
{
        CURL *c = curl_easy_init();
        if (!c)
                return berth_error_set(err, ENOSYS, "import from %s: libcurl is not available",
                                       im->url);
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, im->url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, im);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, curl_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, im);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (im->dc_err) {
                if (err)
                        *err = TAKE_PTR(im->dc_err);
                return -EINVAL;
        }
        if (im->gone)
                return berth_error_set(err, ECANCELED, "import: the client went away");
        if (rc != CURLE_OK)
                return berth_error_set(err, EIO, "Get \"%s\": %s", im->url,
                                       *errbuf ? errbuf : curl_easy_strerror(rc));
        if (status >= 400)
                return berth_error_set(err, EIO, "failed to GET %s with status %ld", im->url,
                                       status);
        return 0;
}

static int import_tar(commit_tar_write_fn write, void *wud, void *userdata,
                      struct berth_error **err)
{
        struct import *im = userdata;
        im->write = write;
        im->wud = wud;
        im->dc = decomp_new(to_store, im);
        int r = 0;
        if (im->url) {
                r = fetch_url(im, err);
        } else {
                char *buf = xmalloc(1 << 20);
                for (;;) {
                        ssize_t n = im->o->read(buf, 1 << 20, im->o->userdata, err);
                        if (n <= 0) {
                                r = (int)n;
                                break;
                        }
                        if ((r = decomp_write(im->dc, buf, (size_t)n, err)) < 0)
                                break;
                }
                free(buf);
        }
        if (r == 0)
                r = decomp_finish(im->dc, err);
        decomp_free(im->dc);
        im->dc = NULL;
        return r;
}

static int import_platform(const char *s, struct json *cfg, struct berth_error **err)
{
        struct oci_platform p = {0};
        if (s && *s) {
                int r = oci_platform_parse(s, &p, err);
                if (r < 0)
                        return r;
                oci_platform_normalize(&p);
        }
        json_set_str(cfg, "architecture", p.architecture ? p.architecture : "amd64");
        if (p.variant)
                json_set_str(cfg, "variant", p.variant);
        json_set_str(cfg, "os", p.os ? p.os : "linux");
        oci_platform_release(&p);
        return 0;
}

int berth_image_import(struct berth_engine *e, const struct berth_import_opts *o, char **ret_id,
                       struct berth_error **err)
{
        struct import im = {.o = o};
        _cleanup_json_ struct json *cfg = json_new_object();
        _cleanup_json_ struct json *hist = json_new_object();
        _cleanup_free_ char *tag = NULL, *now = image_new_time();
        const char *src = o->src && *o->src ? o->src : "-";
        _cleanup_free_ char *msg =
            o->message && *o->message ? xstrdup(o->message) : xasprintf("Imported from %s", src);
        struct json *config = json_object_set(cfg, "config", image_empty_config());
        int r = image_new_reference(o->repo, o->tag, &tag, err);
        if (r == 0)
                r = berth_config_apply_changes(config, o->changes, err);
        if (r == 0)
                r = import_platform(o->platform, cfg, err);
        if (r < 0)
                return r;
        json_set_str(cfg, "comment", msg);
        json_object_set(cfg, "container_config", image_empty_config());
        json_set_str(cfg, "created", now);
        json_set_str(cfg, "docker_version", berth_version);
        json_set_str(hist, "created", now);
        json_set_str(hist, "comment", msg);
        if (strcmp(src, "-") != 0) {
                im.url = strstr(src, "://") ? xstrdup(src) : xasprintf("http://%s", src);
                _cleanup_free_ char *st = xasprintf("Downloading from %s", im.url);
                struct json *m = json_new_object();
                json_set_str(m, "status", st);
                if (emit(&im, m) < 0) {
                        free(im.url);
                        return berth_error_set(err, ECANCELED, "import: the client went away");
                }
        }
        struct image_new n = {
            .config = cfg,
            .history = hist,
            .repo = o->repo,
            .tag = o->tag,
        };
        r = image_new_record(e, &n, import_tar, &im, ret_id, err);
        berth_error_free(im.dc_err);
        free(im.url);
        if (r == 0) {
                const char *attrs[] = {"name", *ret_id, NULL};
                berth_events_publish(e->events, "image", "import", *ret_id, attrs);
        }
        return r;
}
