/*
 * archive.c — docker-archive save and load (contract in archive.h).
 *
 * Save streams a ustar archive: every member is written from the content
 * store (layer blobs and configs are read from their files in 1 MiB pieces),
 * so memory stays flat whatever the image size; names are fixed by berth
 * ("<hex>/layer.tar", "<hex>.json", "manifest.json"), never taken from input.
 *
 * Load reads the archive as a stream (through image/decompress.h when it is
 * compressed) with image/tar.h's reader: the metadata files (manifest.json,
 * index.json, oci-layout, repositories; 16 MiB each at most) stay in memory,
 * every other regular member is ingested into the content store as it
 * arrives, and links are remembered as links.  Then each
 * image of manifest.json (or of index.json) is recorded: config from the
 * store, every layer unpacked from its stored blob (image/layer.h checks the
 * diff_id), the image and its first name in one transaction (layers.h), then
 * any further names.
 *
 * Never: write a member name from the archive to disk, or record an image
 * whose layer failed its diff_id.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "image/decompress.h"
#include "image/layer.h"
#include "image/reference.h"
#include "image/tar.h"
#include "oci/image-spec.h"
#include "archive.h"
#include "images.h"
#include "pull.h"

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
        /* The blobs must stay from the moment they are found until they are sent: a
         * collection between the two (an rmi of the image) would cut the archive short. */
        berth_layers_pull_enter(l);
        for (size_t i = 0; r == 0 && i < n; i++) {
                r = berth_image_find(e, names[i], &imgs[i], err);
                if (r == 0)
                        r = berth_layers_blobs(l, imgs[i]->id, &blobs[i], err);
        }
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

#define META_MAX     (16u << 20) /* manifest.json, index.json, oci-layout, repositories */
#define MAX_MEMBERS  100000
#define MAX_LINK_HOP 16

/* A member of the archive: small metadata in memory, everything else spooled
 * into the content store under its digest; links point at other members. */
struct member {
        char *name;            /* cleaned: no "./", "//", ".." */
        char *digest;          /* spooled blob */
        struct berth_buf data; /* metadata kept in memory */
        bool in_memory;
        char *link; /* symlink or hardlink target, cleaned, or NULL */
};

struct loader {
        const struct berth_load_opts *o;
        struct berth_layers *l;
        struct blob_store *store;
        struct member *m;
        size_t n, cap;
        struct member *cur;     /* the regular member being read, or NULL (skipped) */
        struct blob_ingest *in; /* its ingest, when spooled and not already present */
};

/* The decompressor's sink: the archive's tar stream. */
struct tar_feed {
        struct tar_reader *tr;
        bool failed; /* the error is the tar reader's (or a member's), not the decoder's */
};

static int feed_tar(const void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct tar_feed *f = userdata;
        int r = tar_reader_feed(f->tr, buf, len, err);
        f->failed = r < 0;
        return r;
}

/* Lexically clean an archive path; NULL when it climbs above the root or is empty. */
static char *clean_name(const char *dir, const char *name)
{
        struct berth_buf out = BERTH_BUF_INIT;
        _cleanup_free_ char *full =
            name[0] == '/' || !dir || !*dir ? xstrdup(name) : xasprintf("%s/%s", dir, name);
        char *save = NULL;
        for (char *seg = strtok_r(full, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
                if (strcmp(seg, ".") == 0)
                        continue;
                if (strcmp(seg, "..") == 0) {
                        if (out.len == 0) {
                                buf_release(&out);
                                return NULL;
                        }
                        char *slash = memrchr(out.data, '/', out.len);
                        out.len = slash ? (size_t)(slash - out.data) : 0;
                        out.data[out.len] = '\0';
                        continue;
                }
                if (out.len)
                        buf_putc(&out, '/');
                buf_puts(&out, seg);
        }
        if (out.len == 0) {
                buf_release(&out);
                return NULL;
        }
        return buf_steal(&out);
}

static bool is_metadata(const char *name)
{
        return strcmp(name, "manifest.json") == 0 || strcmp(name, "index.json") == 0 ||
               strcmp(name, "oci-layout") == 0 || strcmp(name, "repositories") == 0;
}

/* Legacy per-layer files of the v1 format ("<id>/json", "<id>/VERSION"): no
 * manifest refers to them, so they are not spooled. */
static bool is_legacy_v1(const char *name)
{
        const char *slash = strrchr(name, '/');
        return slash && (strcmp(slash, "/json") == 0 || strcmp(slash, "/VERSION") == 0);
}

/* "blobs/sha256/<hex>" names its digest (an OCI layout, docker 25+ archives). */
static char *digest_of_name(const char *name)
{
        if (strncmp(name, "blobs/sha256/", 13) != 0)
                return NULL;
        _cleanup_free_ char *d = xasprintf("sha256:%s", name + 13);
        return blob_digest_check(d, NULL) == 0 ? TAKE_PTR(d) : NULL;
}

static struct member *add_member(struct loader *ld, char *name)
{
        if (ld->n == ld->cap) {
                ld->cap = ld->cap ? 2 * ld->cap : 64;
                ld->m = xrealloc(ld->m, ld->cap * sizeof(*ld->m));
        }
        struct member *m = &ld->m[ld->n++];
        *m = (struct member){.name = name, .data = BERTH_BUF_INIT};
        return m;
}

static int ld_entry(void *ud, const struct tar_entry *e, struct berth_error **err)
{
        struct loader *ld = ud;
        ld->cur = NULL;
        if (e->type != TAR_FILE && e->type != TAR_SYMLINK && e->type != TAR_HARDLINK)
                return 0;
        char *name = clean_name(NULL, e->path);
        if (!name || (e->type == TAR_FILE && is_legacy_v1(name))) {
                free(name);
                return 0;
        }
        if (ld->n >= MAX_MEMBERS) {
                free(name);
                return berth_error_set(err, E2BIG, "archive: more than %d members", MAX_MEMBERS);
        }
        if (e->type != TAR_FILE) {
                /* A symlink is relative to its own directory; a hardlink names a member. */
                _cleanup_free_ char *dir = xstrdup(name);
                char *slash = strrchr(dir, '/');
                if (slash)
                        *slash = '\0';
                else
                        dir[0] = '\0';
                char *target = clean_name(e->type == TAR_SYMLINK ? dir : NULL, e->linkname);
                if (!target) {
                        free(name);
                        return 0;
                }
                add_member(ld, name)->link = target;
                return 0;
        }
        struct member *m = add_member(ld, name);
        if (is_metadata(name)) {
                if (e->size > META_MAX)
                        return berth_error_set(err, EFBIG, "archive: %s is larger than %u MiB",
                                               name, META_MAX >> 20);
                m->in_memory = true;
                ld->cur = m;
                return 0;
        }
        _cleanup_free_ char *want = digest_of_name(name);
        int r = blob_store_ingest_begin(ld->store, want, (int64_t)e->size, &ld->in, err);
        if (r < 0)
                return berth_error_prefix(err, "archive: %s", name);
        if (r == 1) /* already in the store (and verified when it got there) */
                m->digest = TAKE_PTR(want);
        else
                ld->cur = m;
        return 0;
}

static int ld_data(void *ud, const void *buf, size_t len, struct berth_error **err)
{
        struct loader *ld = ud;
        if (!ld->cur)
                return 0;
        if (ld->cur->in_memory) {
                buf_append(&ld->cur->data, buf, len);
                return 0;
        }
        int r = blob_ingest_write(ld->in, buf, len, err);
        return r < 0 ? berth_error_prefix(err, "archive: %s", ld->cur->name) : 0;
}

static int ld_end(void *ud, struct berth_error **err)
{
        struct loader *ld = ud;
        struct member *m = ld->cur;
        ld->cur = NULL;
        if (!m || m->in_memory)
                return 0;
        int r = blob_ingest_commit(TAKE_PTR(ld->in), &m->digest, err);
        return r < 0 ? berth_error_prefix(err, "archive: %s", m->name) : 0;
}

/* The member a name refers to, following links. */
static struct member *find_member(struct loader *ld, const char *name)
{
        _cleanup_free_ char *want = name ? clean_name(NULL, name) : NULL;
        for (int hop = 0; want && hop < MAX_LINK_HOP; hop++) {
                struct member *found = NULL;
                for (size_t i = ld->n; i-- > 0;) /* a later member replaces an earlier one */
                        if (strcmp(ld->m[i].name, want) == 0) {
                                found = &ld->m[i];
                                break;
                        }
                if (!found || !found->link)
                        return found;
                free(want);
                want = xstrdup(found->link);
        }
        return NULL;
}

/* One message of the load's stream; takes m. */
static int emit(struct loader *ld, struct json *m, struct berth_error **err)
{
        int r = ld->o->emit(m, ld->o->userdata);
        json_free(m);
        return r < 0 ? berth_error_set(err, ECANCELED, "the client went away") : 0;
}

/* {"stream": "<line>\n"}; takes line. */
static int emit_line(struct loader *ld, char *line, struct berth_error **err)
{
        _cleanup_free_ char *text = xasprintf("%s\n", line);
        free(line);
        struct json *m = json_new_object();
        json_set_str(m, "stream", text);
        return emit(ld, m, err);
}

static long long mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Progress of one layer being unpacked, as dockerd's "Loading layer" (at most
 * every 100 ms, and once at the end). */
struct loading {
        struct loader *ld;
        char id[13]; /* the diff_id's first 12 hex digits */
        long long last_ms;
};

static int loading_progress(uint64_t done, uint64_t total, bool last, void *userdata,
                            struct berth_error **err)
{
        struct loading *lp = userdata;
        long long now = mono_ms();
        if (!last && now - lp->last_ms < 100)
                return 0;
        lp->last_ms = now;
        return emit(lp->ld,
                    berth_progress_json("Loading layer", lp->id, (int64_t)done, (int64_t)total),
                    err);
}

/* Unpack one stored layer blob; 1 when the layer was already there. */
static int apply_blob(struct loader *ld, const struct layer_apply_opts *lo, const char *blob,
                      struct layer_result *res, struct berth_error **err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = blob_store_open_blob(ld->store, blob, &fd, err);
        if (r < 0)
                return r;
        struct loading lp = {.ld = ld};
        snprintf(lp.id, sizeof(lp.id), "%s", lo->expected_diff_id + 7);
        return layer_apply_fd_progress(berth_layers_data_root(ld->l), lo, fd,
                                       ld->o->quiet ? NULL : loading_progress, &lp, res, err);
}

/*
 * Record one image: its config (stored blob `config_digest`), its layers
 * (stored blobs, bottom first) unpacked and checked against the diff_ids, and
 * its names (full references; may be empty).
 */
static int load_image(struct loader *ld, const char *config_digest, char *const *layer_blobs,
                      size_t n, char *const *names, size_t n_names, struct berth_error **err)
{
        struct berth_layers *l = ld->l;
        struct berth_engine *e = berth_layers_engine(l);
        _cleanup_free_ char *cbuf = NULL;
        size_t clen = 0;
        int r = blob_store_read(ld->store, config_digest, CONFIG_MAX, &cbuf, &clen, err);
        if (r < 0)
                return berth_error_prefix(err, "archive: config");
        _cleanup_oci_image_config_ struct oci_image_config *cfg = NULL;
        if (oci_image_config_parse(cbuf, clen, &cfg, err) < 0)
                return berth_error_prefix(err, "archive: config %s", config_digest);
        size_t n_diff = 0;
        while (cfg->diff_ids && cfg->diff_ids[n_diff])
                n_diff++;
        if (n != n_diff)
                return berth_error_set(err, EINVAL,
                                       "archive: image %s has %zu layers for %zu diff_ids in "
                                       "its config",
                                       config_digest, n, n_diff);
        struct berth_layer_rec *recs = xcalloc(n ? n : 1, sizeof(*recs));
        char(*chains)[72] = xcalloc(n ? n : 1, sizeof(*chains));
        for (size_t i = 0; i < n; i++) {
                layer_chain_id(i ? chains[i - 1] : NULL, cfg->diff_ids[i], chains[i]);
                recs[i] = (struct berth_layer_rec){chains[i], cfg->diff_ids[i], layer_blobs[i], 0};
        }
        /* Rows for the layers before their directories exist (layers.h). */
        r = berth_layers_reserve(l, recs, n, err);
        for (size_t i = 0; r == 0 && i < n; i++) {
                const char *parent = i ? chains[i - 1] : NULL;
                struct layer_apply_opts o = {.parent_chain_id = parent,
                                             .expected_diff_id = cfg->diff_ids[i]};
                struct layer_result res = {0};
                r = apply_blob(ld, &o, layer_blobs[i], &res, err);
                if (r == 1) {
                        recs[i].size = berth_layers_size(l, chains[i]);
                        r = 0;
                } else if (r == 0) {
                        recs[i].size = res.unpacked_size;
                } else {
                        berth_error_prefix(err, "archive: layer %zu of %s", i + 1, config_digest);
                }
        }
        /* What each name named before, for dockerd's note when a name moves. */
        char **prev = xcalloc(n_names + 1, sizeof(char *));
        for (size_t i = 0; r == 0 && i < n_names; i++) {
                struct berth_image *old = NULL;
                if (berth_image_find(e, names[i], &old, NULL) == 0) {
                        prev[i] = xstrdup(old->id);
                        berth_image_free(old);
                }
        }
        if (r == 0) {
                _cleanup_free_ char *labels = berth_layers_config_labels(cbuf, clen);
                bool changed = false;
                r = berth_layers_commit_pull(l, config_digest, NULL,
                                             berth_layers_parse_time(cfg->created), labels, recs, n,
                                             n_names ? names[0] : NULL, NULL, &changed, err);
        }
        for (size_t i = 1; r == 0 && i < n_names; i++)
                r = berth_image_tag(e, config_digest, names[i], err);
        for (size_t i = 0; r == 0 && i < n_names; i++) {
                _cleanup_image_ref_ struct image_ref *ref = NULL;
                char *shown = image_ref_parse_normalized(names[i], &ref, NULL) == 0
                                  ? image_ref_familiar(ref)
                                  : xstrdup(names[i]);
                if (prev[i] && strcmp(prev[i], config_digest) != 0)
                        r = emit_line(ld,
                                      xasprintf("The image %s already exists, renaming the old "
                                                "one with ID %s to empty string",
                                                shown, prev[i]),
                                      err);
                if (r == 0)
                        r = emit_line(ld, xasprintf("Loaded image: %s", shown), err);
                free(shown);
        }
        strv_free(prev);
        if (r == 0 && n_names == 0)
                r = emit_line(ld, xasprintf("Loaded image ID: %s", config_digest), err);
        free(chains);
        free(recs);
        return r;
}

/* A name as an archive gives it, normalised to a full reference with a tag;
 * NULL (and an error) when it is not a reference. */
static char *normalize_name(const char *name, struct berth_error **err)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        if (image_ref_parse_normalized(name, &ref, err) < 0)
                return NULL;
        if (ref->digest && !ref->tag) {
                berth_error_set(err, EINVAL, "'%s': a loaded image is named by a tag", name);
                return NULL;
        }
        if (!ref->tag)
                ref->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
        free(ref->digest);
        ref->digest = NULL;
        return image_ref_string(ref);
}

/* docker-archive: manifest.json [{"Config", "RepoTags", "Layers"}]. */
static int load_docker_archive(struct loader *ld, const struct member *mm, struct berth_error **err)
{
        _cleanup_json_ struct json *manifest = NULL;
        int r = json_parse(mm->data.data ? mm->data.data : "", mm->data.len, &manifest, err);
        if (r < 0)
                return berth_error_prefix(err, "archive: manifest.json");
        if (!json_is(manifest, JSON_ARRAY))
                return berth_error_set(err, EINVAL, "archive: manifest.json is not a list");
        for (size_t i = 0; r == 0 && i < json_len(manifest); i++) {
                const struct json *item = manifest->arr.items[i];
                const char *cname = json_str(json_get(item, "Config"));
                struct member *cm = find_member(ld, cname);
                if (!cm || cm->in_memory)
                        return berth_error_set(err, EINVAL, "archive: config '%s' not found",
                                               cname ?: "");
                const struct json *layers = json_get(item, "Layers");
                if (!json_is(layers, JSON_ARRAY))
                        return berth_error_set(
                            err, EINVAL, "archive: manifest.json entry %zu has no Layers", i + 1);
                size_t n = json_len(layers);
                char **blobs = xcalloc(n + 1, sizeof(char *));
                for (size_t k = 0; r == 0 && k < n; k++) {
                        const char *lname = json_str(layers->arr.items[k]);
                        struct member *lm = find_member(ld, lname);
                        if (!lm || lm->in_memory)
                                r = berth_error_set(err, EINVAL, "archive: layer '%s' not found",
                                                    lname ?: "");
                        else
                                blobs[k] = xstrdup(lm->digest);
                }
                const struct json *tags = json_get(item, "RepoTags");
                size_t n_names = 0;
                char **names = xcalloc(json_len(tags) + 1, sizeof(char *));
                for (size_t k = 0; r == 0 && k < json_len(tags); k++) {
                        const char *t = json_str(tags->arr.items[k]);
                        names[n_names] = t ? normalize_name(t, err) : NULL;
                        if (!names[n_names])
                                r = t ? berth_error_prefix(err, "archive: RepoTags")
                                      : berth_error_set(err, EINVAL,
                                                        "archive: RepoTags holds a non-string");
                        else
                                n_names++;
                }
                if (r == 0)
                        r = load_image(ld, cm->digest, blobs, n, names, n_names, err);
                strv_free(names);
                strv_free(blobs);
        }
        return r;
}

/* The image manifest an OCI index entry leads to, choosing by platform through
 * nested indexes; *ret_manifest is a stored blob. */
static int oci_pick_manifest(struct loader *ld, const struct oci_descriptor *d, int depth,
                             struct oci_manifest **ret, struct berth_error **err)
{
        if (depth > 4)
                return berth_error_set(err, ELOOP, "archive: indexes nested too deep");
        if (!blob_store_exists(ld->store, d->digest))
                return berth_error_set(err, ENOENT, "archive: blob %s not found", d->digest);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = blob_store_read(ld->store, d->digest, CONFIG_MAX, &buf, &len, err);
        if (r < 0)
                return r;
        enum oci_doc_kind kind;
        r = oci_detect_kind(d->media_type, buf, len, &kind, err);
        if (r < 0)
                return berth_error_prefix(err, "archive: %s", d->digest);
        if (kind == OCI_DOC_MANIFEST) {
                r = oci_manifest_parse(buf, len, ret, err);
                return r < 0 ? berth_error_prefix(err, "archive: manifest %s", d->digest) : 0;
        }
        _cleanup_oci_index_ struct oci_index *x = NULL;
        r = oci_index_parse(buf, len, &x, err);
        if (r < 0)
                return berth_error_prefix(err, "archive: index %s", d->digest);
        struct oci_platform want = {.os = "linux", .architecture = "amd64"};
        int i = oci_index_select(x, &want, err);
        if (i < 0)
                return berth_error_prefix(err, "archive: index %s", d->digest);
        return oci_pick_manifest(ld, &x->manifests[i], depth + 1, ret, err);
}

/* The reference an OCI index entry names: containerd's full-name annotation,
 * else org.opencontainers.image.ref.name when it is a whole reference (a bare
 * tag names no repository).  NULL when unnamed. */
static char *oci_entry_name(const struct oci_descriptor *d)
{
        const char *full = json_str(json_get(d->annotations, "io.containerd.image.name"));
        const char *ref = json_str(json_get(d->annotations, "org.opencontainers.image.ref.name"));
        if (full)
                return normalize_name(full, NULL);
        if (ref && (strchr(ref, ':') || strchr(ref, '/')))
                return normalize_name(ref, NULL);
        return NULL;
}

/* OCI image layout: oci-layout and index.json, blobs under blobs/sha256/. */
static int load_oci_layout(struct loader *ld, const struct member *im, struct berth_error **err)
{
        struct member *lm = find_member(ld, "oci-layout");
        _cleanup_json_ struct json *layout = NULL;
        if (!lm || !lm->in_memory ||
            json_parse(lm->data.data ? lm->data.data : "", lm->data.len, &layout, NULL) < 0 ||
            !json_str(json_get(layout, "imageLayoutVersion")))
                return berth_error_set(err, EINVAL,
                                       "archive: index.json without a valid oci-layout file");
        _cleanup_oci_index_ struct oci_index *x = NULL;
        int r = oci_index_parse(im->data.data ? im->data.data : "", im->data.len, &x, err);
        if (r < 0)
                return berth_error_prefix(err, "archive: index.json");
        if (x->n_manifests == 0)
                return berth_error_set(err, EINVAL, "archive: index.json lists no images");
        for (size_t i = 0; r == 0 && i < x->n_manifests; i++) {
                _cleanup_oci_manifest_ struct oci_manifest *m = NULL;
                r = oci_pick_manifest(ld, &x->manifests[i], 0, &m, err);
                if (r < 0)
                        break;
                char **blobs = xcalloc(m->n_layers + 1, sizeof(char *));
                for (size_t k = 0; r == 0 && k < m->n_layers; k++) {
                        blobs[k] = xstrdup(m->layers[k].digest);
                        if (!blob_store_exists(ld->store, blobs[k]))
                                r = berth_error_set(err, ENOENT, "archive: layer %s not found",
                                                    blobs[k]);
                }
                if (r == 0 && !blob_store_exists(ld->store, m->config.digest))
                        r = berth_error_set(err, ENOENT, "archive: config %s not found",
                                            m->config.digest);
                char *names[2] = {oci_entry_name(&x->manifests[i]), NULL};
                if (r == 0)
                        r = load_image(ld, m->config.digest, blobs, m->n_layers, names,
                                       names[0] ? 1 : 0, err);
                free(names[0]);
                strv_free(blobs);
        }
        return r;
}

int berth_image_load(struct berth_layers *l, const struct berth_load_opts *o,
                     struct berth_error **err)
{
        struct loader ld = {.o = o, .l = l, .store = berth_layers_engine(l)->store};
        static const struct tar_ops ops = {ld_entry, ld_data, ld_end};
        struct tar_limits lim = {
            .max_path = 4096, .max_entries = 4 * MAX_MEMBERS, .max_size = UINT64_MAX};
        /* Spooled blobs are unrecorded until the end: no collection meanwhile. */
        berth_layers_pull_enter(l);
        struct tar_reader *tr = tar_reader_new(&ops, &ld, &lim);
        /* docker load takes the archive gzip-, bzip2-, xz- or zstd-compressed too. */
        struct tar_feed feed = {tr, false};
        struct decompressor *dc = decomp_new(feed_tar, &feed);
        char *buf = xmalloc(1 << 20);
        int r;
        for (;;) {
                ssize_t n = o->read(buf, 1 << 20, o->userdata, err);
                if (n < 0) {
                        r = (int)n;
                        break;
                }
                if (n == 0) {
                        r = decomp_finish(dc, err);
                        if (r < 0 && !feed.failed)
                                berth_error_prefix(err, "archive");
                        else
                                r = tar_reader_finish(tr, err);
                        break;
                }
                if ((r = decomp_write(dc, buf, (size_t)n, err)) < 0) {
                        if (!feed.failed)
                                berth_error_prefix(err, "archive");
                        break;
                }
        }
        free(buf);
        decomp_free(dc);
        tar_reader_free(tr);
        blob_ingest_abort(ld.in);
        if (r == 0) {
                struct member *mm = find_member(&ld, "manifest.json");
                struct member *im = find_member(&ld, "index.json");
                if (mm && mm->in_memory)
                        r = load_docker_archive(&ld, mm, err);
                else if (im && im->in_memory)
                        r = load_oci_layout(&ld, im, err);
                else
                        r = berth_error_set(err, EINVAL,
                                            "archive: no manifest.json or index.json (neither a "
                                            "docker-archive nor an OCI layout)");
        }
        for (size_t i = 0; i < ld.n; i++) {
                free(ld.m[i].name);
                free(ld.m[i].digest);
                free(ld.m[i].link);
                buf_release(&ld.m[i].data);
        }
        free(ld.m);
        berth_layers_pull_leave(l);
        /* Whatever the archive held beyond the images is collected now. */
        berth_layers_collect(l);
        return r < 0 ? berth_error_prefix(err, "load") : 0;
}
