/*
 * archive.c — docker-archive save and load (contract in archive.h).
 *
 * Save streams a ustar archive: every member is written from the content
 * store (layer blobs and configs are read from their files in 1 MiB pieces),
 * so memory stays flat whatever the image size; names are fixed by berth
 * ("<hex>/layer.tar", "<hex>.json", "manifest.json"), never taken from input.
 *
 * Load takes the whole archive from memory (the API buffers request bodies),
 * collects its regular members with image/tar.h's reader, then for each
 * manifest.json entry stores the config, stores and unpacks every layer
 * (image/layer.h checks the diff_id), and records the image with its tags in
 * one transaction (layers.h), then any further tags.
 *
 * Never: write a member name from the archive to disk, or record an image
 * whose layer failed its diff_id.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/log.h"
#include "image/layer.h"
#include "image/reference.h"
#include "image/tar.h"
#include "oci/image-spec.h"
#include "archive.h"
#include "images.h"

#define CONFIG_MAX (16u << 20)

/* ---- save ---- */

struct tar_out {
        archive_write_fn write;
        void *ud;
        int error;
};

static int out_write(struct tar_out *o, const void *buf, size_t len)
{
        if (o->error)
                return o->error;
        int r = o->write(buf, len, o->ud);
        if (r < 0)
                o->error = r;
        return r;
}

static int out_header(struct tar_out *o, const char *name, char type, uint64_t size)
{
        unsigned char h[512];
        memset(h, 0, sizeof(h));
        snprintf((char *)h, 100, "%s", name);
        snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
        snprintf((char *)h + 108, 8, "%07o", 0);
        snprintf((char *)h + 116, 8, "%07o", 0);
        snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
        snprintf((char *)h + 136, 12, "%011o", 0);
        memset(h + 148, ' ', 8);
        h[156] = (unsigned char)type;
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        unsigned sum = 0;
        for (size_t i = 0; i < sizeof(h); i++)
                sum += h[i];
        snprintf((char *)h + 148, 8, "%06o", sum);
        h[155] = ' ';
        return out_write(o, h, sizeof(h));
}

static int out_pad(struct tar_out *o, uint64_t size)
{
        static const char zeros[512];
        size_t pad = (size_t)((512 - size % 512) % 512);
        return pad ? out_write(o, zeros, pad) : 0;
}

static int out_file_fd(struct tar_out *o, const char *name, int fd, struct berth_error **err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_sys(err, errno, "stat '%s'", name);
        int r = out_header(o, name, '0', (uint64_t)st.st_size);
        char *buf = xmalloc(1 << 20);
        uint64_t left = (uint64_t)st.st_size;
        while (r == 0 && left > 0) {
                ssize_t n = read(fd, buf, left < (1 << 20) ? left : (1 << 20));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = berth_error_sys(err, n < 0 ? errno : EIO, "read '%s'", name);
                        break;
                }
                r = out_write(o, buf, (size_t)n);
                left -= (uint64_t)n;
        }
        free(buf);
        if (r == 0)
                r = out_pad(o, (uint64_t)st.st_size);
        return r;
}

static int out_buffer(struct tar_out *o, const char *name, const char *buf, size_t len)
{
        int r = out_header(o, name, '0', len);
        if (r == 0)
                r = out_write(o, buf, len);
        if (r == 0)
                r = out_pad(o, len);
        return r;
}

static bool names_an_id(const char *name, const char *id)
{
        const char *hex = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
        size_t n = strlen(hex);
        return n > 0 && n <= 64 && strncmp(id + 7, hex, n) == 0 &&
               strspn(hex, "0123456789abcdef") == n;
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

int berth_image_save(struct berth_layers *l, char *const *names, archive_write_fn write,
                     void *userdata, struct berth_error **err)
{
        struct berth_engine *e = berth_layers_engine(l);
        size_t n = 0;
        while (names && names[n])
                n++;
        if (n == 0)
                return berth_error_set(err, EINVAL, "no images to save");
        struct berth_image **imgs = xcalloc(n, sizeof(*imgs));
        char ***blobs = xcalloc(n, sizeof(*blobs));
        int r = 0;
        for (size_t i = 0; r == 0 && i < n; i++) {
                r = berth_image_find(e, names[i], &imgs[i], err);
                if (r == 0)
                        r = berth_layers_blobs(l, imgs[i]->id, &blobs[i], err);
        }
        berth_layers_pull_enter(l); /* the blobs must stay while they are sent */
        struct tar_out o = {write, userdata, 0};
        struct json *manifest = json_new_array();
        char **written = NULL;
        size_t n_written = 0;
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct json *m = json_array_append(manifest, json_new_object());
                _cleanup_free_ char *cfgname = xasprintf("%s.json", imgs[i]->id + 7);
                json_set_str(m, "Config", cfgname);
                if (names_an_id(names[i], imgs[i]->id)) {
                        json_object_set(m, "RepoTags", json_new_null());
                } else {
                        _cleanup_image_ref_ struct image_ref *ref = NULL;
                        struct json *tags = json_object_set(m, "RepoTags", json_new_array());
                        if (image_ref_parse_normalized(names[i], &ref, NULL) == 0) {
                                if (!ref->tag && !ref->digest)
                                        ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
                                char *fam = image_ref_familiar(ref);
                                json_array_append(tags, json_new_string(fam));
                                free(fam);
                        }
                }
                struct json *layers = json_object_set(m, "Layers", json_new_array());
                for (size_t k = 0; r == 0 && blobs[i][k]; k++) {
                        _cleanup_free_ char *member = xasprintf("%s/layer.tar", blobs[i][k] + 7);
                        json_array_append(layers, json_new_string(member));
                        if (strv_has(written, n_written, member))
                                continue;
                        _cleanup_free_ char *dir = xasprintf("%s/", blobs[i][k] + 7);
                        _cleanup_close_ int fd = -EBADF;
                        r = out_header(&o, dir, '5', 0);
                        if (r == 0)
                                r = blob_store_open_blob(e->store, blobs[i][k], &fd, err);
                        if (r == 0)
                                r = out_file_fd(&o, member, fd, err);
                        written = xrealloc(written, (n_written + 1) * sizeof(char *));
                        written[n_written++] = xstrdup(member);
                }
                if (r == 0 && !strv_has(written, n_written, cfgname)) {
                        _cleanup_close_ int fd = -EBADF;
                        r = blob_store_open_blob(e->store, imgs[i]->id, &fd, err);
                        if (r == 0)
                                r = out_file_fd(&o, cfgname, fd, err);
                        written = xrealloc(written, (n_written + 1) * sizeof(char *));
                        written[n_written++] = xstrdup(cfgname);
                }
        }
        if (r == 0) {
                _cleanup_free_ char *text = json_dump(manifest, JSON_DUMP_NO_ESCAPE_HTML);
                r = out_buffer(&o, "manifest.json", text, strlen(text));
        }
        if (r == 0) {
                static const char end[1024];
                r = out_write(&o, end, sizeof(end));
        }
        if (r < 0 && o.error && err && !*err)
                berth_error_set(err, -o.error, "save: the client went away");
        berth_layers_pull_leave(l);
        json_free(manifest);
        for (size_t i = 0; i < n_written; i++)
                free(written[i]);
        free(written);
        for (size_t i = 0; i < n; i++) {
                berth_image_free(imgs[i]);
                strv_free(blobs[i]);
        }
        free(imgs);
        free(blobs);
        return r;
}

/* ---- load ---- */

struct member {
        char *name;
        struct berth_buf data;
};

struct members {
        struct member *m;
        size_t n;
        bool in_file;
};

static int m_entry(void *ud, const struct tar_entry *e, struct berth_error **err)
{
        struct members *ms = ud;
        ms->in_file = e->type == TAR_FILE;
        if (!ms->in_file)
                return 0;
        ms->m = xrealloc(ms->m, (ms->n + 1) * sizeof(*ms->m));
        const char *p = e->path;
        while (p[0] == '.' && p[1] == '/')
                p += 2;
        ms->m[ms->n] = (struct member){xstrdup(p), BERTH_BUF_INIT};
        ms->n++;
        return 0;
}

static int m_data(void *ud, const void *buf, size_t len, struct berth_error **err)
{
        struct members *ms = ud;
        if (ms->in_file)
                buf_append(&ms->m[ms->n - 1].data, buf, len);
        return 0;
}

static int m_end(void *ud, struct berth_error **err)
{
        ((struct members *)ud)->in_file = false;
        return 0;
}

static struct member *find_member(struct members *ms, const char *name)
{
        for (size_t i = 0; name && i < ms->n; i++)
                if (strcmp(ms->m[i].name, name) == 0)
                        return &ms->m[i];
        return NULL;
}

static int load_layer(struct berth_layers *l, const char *parent, const char *diff_id,
                      const struct member *m, struct berth_layer_rec *rec, char **ret_blob,
                      struct berth_error **err)
{
        struct berth_engine *e = berth_layers_engine(l);
        int r = blob_store_put(e->store, NULL, m->data.data ? m->data.data : "", m->data.len,
                               ret_blob, err);
        if (r < 0)
                return r;
        struct layer_apply_opts o = {.parent_chain_id = parent, .expected_diff_id = diff_id};
        struct layer_apply *la = NULL;
        r = layer_apply_begin(berth_layers_data_root(l), &o, &la, err);
        if (r < 0)
                return r;
        if (r == 1) {
                rec->size = berth_layers_size(l, rec->chain_id);
                return 0;
        }
        r = layer_apply_write(la, m->data.data ? m->data.data : "", m->data.len, err);
        if (r < 0) {
                layer_apply_abort(la);
                return r;
        }
        struct layer_result res;
        r = layer_apply_finish(la, &res, err);
        if (r == 0)
                rec->size = res.size;
        return r;
}

static int load_one(struct berth_layers *l, struct members *ms, const struct json *item,
                    char ***lines, size_t *n_lines, struct berth_error **err)
{
        struct member *cm = find_member(ms, json_str(json_get(item, "Config")));
        if (!cm)
                return berth_error_set(err, EINVAL, "archive: config '%s' not found",
                                       json_str(json_get(item, "Config")) ?: "");
        _cleanup_oci_image_config_ struct oci_image_config *cfg = NULL;
        int r = oci_image_config_parse(cm->data.data ? cm->data.data : "", cm->data.len, &cfg, err);
        if (r < 0)
                return berth_error_prefix(err, "archive: config");
        const struct json *layers = json_get(item, "Layers");
        size_t n = json_len(layers), n_diff = 0;
        while (cfg->diff_ids && cfg->diff_ids[n_diff])
                n_diff++;
        if (!json_is(layers, JSON_ARRAY) || n != n_diff)
                return berth_error_set(
                    err, EINVAL, "archive: %zu layers for %zu diff_ids in the config", n, n_diff);
        struct berth_engine *e = berth_layers_engine(l);
        _cleanup_free_ char *id = NULL;
        r = blob_store_put(e->store, NULL, cm->data.data, cm->data.len, &id, err);
        struct berth_layer_rec *recs = xcalloc(n ? n : 1, sizeof(*recs));
        char(*chains)[72] = xcalloc(n ? n : 1, sizeof(*chains));
        char **blobs = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; r == 0 && i < n; i++) {
                struct member *lm = find_member(ms, json_str(layers->arr.items[i]));
                if (!lm) {
                        r = berth_error_set(err, EINVAL, "archive: layer '%s' not found",
                                            json_str(layers->arr.items[i]) ?: "");
                        break;
                }
                layer_chain_id(i ? chains[i - 1] : NULL, cfg->diff_ids[i], chains[i]);
                recs[i].chain_id = chains[i];
                recs[i].diff_id = cfg->diff_ids[i];
                r = load_layer(l, i ? chains[i - 1] : NULL, cfg->diff_ids[i], lm, &recs[i],
                               &blobs[i], err);
                recs[i].blob_digest = blobs[i];
        }
        const struct json *tags = json_get(item, "RepoTags");
        _cleanup_free_ char *first = NULL;
        if (r == 0 && json_len(tags)) {
                _cleanup_image_ref_ struct image_ref *ref = NULL;
                r = image_ref_parse_normalized(json_str(tags->arr.items[0]) ?: "", &ref, err);
                if (r == 0) {
                        if (!ref->tag)
                                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
                        first = image_ref_string(ref);
                }
        }
        if (r == 0) {
                _cleanup_free_ char *labels =
                    berth_layers_config_labels(cm->data.data, cm->data.len);
                bool changed = false;
                r = berth_layers_commit_pull(l, id, NULL, berth_layers_parse_time(cfg->created),
                                             labels, recs, n, first, NULL, &changed, err);
        }
        for (size_t i = 1; r == 0 && i < json_len(tags); i++)
                r = berth_image_tag(e, id, json_str(tags->arr.items[i]) ?: "", err);
        for (size_t i = 0; r == 0 && i < json_len(tags); i++) {
                *lines = xrealloc(*lines, (*n_lines + 2) * sizeof(char *));
                (*lines)[(*n_lines)++] =
                    xasprintf("Loaded image: %s", json_str(tags->arr.items[i]));
                (*lines)[*n_lines] = NULL;
        }
        if (r == 0 && json_len(tags) == 0) {
                *lines = xrealloc(*lines, (*n_lines + 2) * sizeof(char *));
                (*lines)[(*n_lines)++] = xasprintf("Loaded image ID: %s", id);
                (*lines)[*n_lines] = NULL;
        }
        strv_free(blobs);
        free(chains);
        free(recs);
        return r;
}

int berth_image_load(struct berth_layers *l, const void *tar, size_t len, char ***ret_loaded,
                     struct berth_error **err)
{
        struct members ms = {0};
        static const struct tar_ops ops = {m_entry, m_data, m_end};
        struct tar_limits lim = {.max_path = 4096, .max_entries = 100000, .max_size = len};
        struct tar_reader *tr = tar_reader_new(&ops, &ms, &lim);
        int r = tar_reader_feed(tr, tar, len, err);
        if (r == 0)
                r = tar_reader_finish(tr, err);
        tar_reader_free(tr);
        _cleanup_json_ struct json *manifest = NULL;
        if (r == 0) {
                struct member *mm = find_member(&ms, "manifest.json");
                if (!mm)
                        r = berth_error_set(err, EINVAL,
                                            "archive: no manifest.json (not a docker-archive)");
                else
                        r = json_parse(mm->data.data ? mm->data.data : "", mm->data.len, &manifest,
                                       err);
                if (r == 0 && !json_is(manifest, JSON_ARRAY))
                        r = berth_error_set(err, EINVAL, "archive: manifest.json is not a list");
        }
        char **lines = xcalloc(1, sizeof(char *));
        size_t n_lines = 0;
        berth_layers_pull_enter(l);
        for (size_t i = 0; r == 0 && i < json_len(manifest); i++)
                r = load_one(l, &ms, manifest->arr.items[i], &lines, &n_lines, err);
        berth_layers_pull_leave(l);
        for (size_t i = 0; i < ms.n; i++) {
                free(ms.m[i].name);
                buf_release(&ms.m[i].data);
        }
        free(ms.m);
        if (r < 0) {
                strv_free(lines);
                return berth_error_prefix(err, "load");
        }
        *ret_loaded = lines;
        return 0;
}
