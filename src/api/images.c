/*
 * images.c — the image endpoints that need no registry: GET /images/json,
 * GET /images/{name}/json, GET /images/{name}/history, POST /images/{name}/tag, DELETE
 * /images/{name}, POST /images/prune.
 *
 * Bodies follow API 1.41 and what dockerd 20.10 sends (shared/reference):
 * names in docker's familiar form ("busybox:latest"), dangling images listed
 * as "<none>:<none>", inspect's Config with every field docker fills in.
 * Names in paths contain '/' and ':', so routes use a greedy "{name*}".
 *
 * Never: let an engine error reach the client without its Docker status
 * (ENOENT 404, EINVAL 400, EBUSY 409, everything else 500).
 */
#include <fnmatch.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <stdatomic.h>

#include "engine/build.h"
#include "engine/commit.h"
#include "engine/containers.h"
#include "engine/images.h"
#include "engine/pull.h"
#include "engine/push.h"
#include "engine/volumes.h"
#include "base/log.h"
#include "base/units.h"
#include "filters.h"
#include "handlers.h"
#include "image/reference.h"

static int status_of(int r)
{
        switch (-r) {
        case ENOENT:
                return 404;
        case EINVAL:
                return 400;
        case EBUSY:
        case EEXIST:
                return 409;
        default:
                return 500;
        }
}

static void reply_engine_error(struct api_request *req, int r, struct berth_error *err)
{
        api_reply_error(req, status_of(r), "%s", berth_error_msg(err));
}

static struct json *familiar_array(char *const *names)
{
        struct json *a = json_new_array();
        for (size_t i = 0; names && names[i]; i++) {
                char *f = berth_image_familiar(names[i]);
                json_array_append(a, json_new_string(f));
                free(f);
        }
        return a;
}

static bool truthy(const char *s)
{
        return strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
}

/* docker's reference filter: a glob on the familiar name, or on the whole familiar reference. */
static bool name_matches(const char *full, char *const *patterns)
{
        _cleanup_free_ char *fam = berth_image_familiar(full);
        _cleanup_free_ char *name = xstrdup(fam);
        name[strcspn(name, "@")] = '\0';
        char *colon = strrchr(name, ':');
        if (colon && !strchr(colon, '/'))
                *colon = '\0';
        for (size_t p = 0; patterns[p]; p++)
                if (fnmatch(patterns[p], fam, 0) == 0 || fnmatch(patterns[p], name, 0) == 0)
                        return true;
        return false;
}

/* With a reference filter dockerd lists only the names that match; none left hides the image. */
static bool filter_names(struct berth_image *img, char *const *patterns)
{
        if (!patterns[0])
                return true;
        char ***lists[] = {&img->repo_tags, &img->repo_digests};
        for (size_t l = 0; l < ELEMENTSOF(lists); l++) {
                char **v = *lists[l];
                size_t o = 0;
                for (size_t i = 0; v[i]; i++) {
                        if (name_matches(v[i], patterns))
                                v[o++] = v[i];
                        else
                                free(v[i]);
                }
                v[o] = NULL;
        }
        return img->repo_tags[0] || img->repo_digests[0];
}

static bool labels_match(const struct json *labels, char *const *wanted)
{
        for (size_t i = 0; wanted[i]; i++) {
                _cleanup_free_ char *k = xstrdup(wanted[i]);
                char *eq = strchr(k, '=');
                if (eq)
                        *eq++ = '\0';
                const char *have = json_str(json_get(labels, k));
                if (!have || (eq && strcmp(have, eq) != 0))
                        return false;
        }
        return true;
}

/* The image's creation time, or Go's zero time when its config does not say (as dockerd). */
static int64_t created_of(const struct berth_image *img, const struct json *cfg)
{
        return cfg && !json_get(cfg, "created") ? UNITS_GO_ZERO_TIME : img->created;
}

/* docker's ImageSummary; containers and shared -1 unless counted (system df). */
static struct json *summary(const struct berth_image *img, const struct json *cfg,
                            int64_t containers, int64_t shared)
{
        const struct json *lab = json_get(json_get(cfg, "config"), "Labels");
        bool is_dangling = !img->repo_tags[0];
        struct json *o = json_new_object();
        json_set_int(o, "Containers", containers);
        json_set_int(o, "Created", created_of(img, cfg));
        json_set_str(o, "Id", img->id);
        json_object_set(o, "Labels",
                        json_is(lab, JSON_OBJECT) && json_len(lab) ? json_copy(lab)
                                                                   : json_new_null());
        json_set_str(o, "ParentId", img->parent);
        struct json *rd = json_object_set(o, "RepoDigests", familiar_array(img->repo_digests));
        struct json *rt = json_object_set(o, "RepoTags", familiar_array(img->repo_tags));
        if (is_dangling) {
                if (!json_len(rd))
                        json_array_append(rd, json_new_string("<none>@<none>"));
                json_array_append(rt, json_new_string("<none>:<none>"));
        }
        json_set_int(o, "SharedSize", shared);
        json_set_int(o, "Size", img->size);
        json_set_int(o, "VirtualSize", img->size);
        return o;
}

static void handle_list(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        static const char *const allowed[] = {"dangling", "reference", "label",
                                              "before",   "since",     NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;
        _cleanup_strv_free_ char **dangling = api_filter_values(filters, "dangling");
        _cleanup_strv_free_ char **refs = api_filter_values(filters, "reference");
        _cleanup_strv_free_ char **labels = api_filter_values(filters, "label");
        _cleanup_strv_free_ char **before = api_filter_values(filters, "before");
        _cleanup_strv_free_ char **since = api_filter_values(filters, "since");
        for (size_t i = 0; dangling[i]; i++)
                if (!truthy(dangling[i]) && strcmp(dangling[i], "false") != 0 &&
                    strcmp(dangling[i], "0") != 0) {
                        api_reply_error(req, 400, "Invalid filter 'dangling=%s'", dangling[i]);
                        return;
                }

        _cleanup_error_ struct berth_error *err = NULL;
        int64_t before_t = INT64_MAX, since_t = INT64_MIN;
        for (int pass = 0; pass < 2; pass++) {
                char **v = pass == 0 ? before : since;
                for (size_t i = 0; v[i]; i++) {
                        _cleanup_image_ struct berth_image *ref = NULL;
                        int r = berth_image_find(e, v[i], &ref, &err);
                        if (r < 0) {
                                reply_engine_error(req, r, err);
                                return;
                        }
                        if (pass == 0 && ref->created < before_t)
                                before_t = ref->created;
                        if (pass == 1 && ref->created > since_t)
                                since_t = ref->created;
                }
        }

        struct berth_image **list = NULL;
        int r = berth_image_list(e, &list, &err);
        if (r < 0) {
                reply_engine_error(req, r, err);
                return;
        }
        /* dockerd: an image without names that another stacks on (a build step's) is an
         * intermediate image, listed with all only and never dangling */
        bool all = api_request_query_bool(req, "all", false);
        size_t n_list = 0;
        while (list[n_list])
                n_list++;
        struct json *out = json_new_array();
        for (size_t i = 0; list[i]; i++) {
                struct berth_image *img = list[i];
                bool has_children = false;
                for (size_t k = 0; k < n_list && !has_children; k++)
                        has_children = strcmp(list[k]->parent, img->id) == 0;
                bool unnamed = !img->repo_tags[0] && !img->repo_digests[0];
                if (unnamed && has_children && !all)
                        continue;
                bool is_dangling = !img->repo_tags[0] && !has_children;
                if (dangling[0] && truthy(dangling[0]) != is_dangling)
                        continue;
                if (!filter_names(img, refs))
                        continue;
                if (img->created >= before_t || img->created <= since_t)
                        continue;
                _cleanup_json_ struct json *cfg = NULL;
                _cleanup_error_ struct berth_error *cerr = NULL;
                (void)berth_image_config(e, img, &cfg, &cerr);
                const struct json *lab = json_get(json_get(cfg, "config"), "Labels");
                if (labels[0] && !labels_match(lab, labels))
                        continue;

                json_array_append(out, summary(img, cfg, -1, -1));
        }
        berth_image_list_free(list);
        api_reply_json(req, 200, out);
        json_free(out);
}

/* dockerd's intermediate image: no name, and another image stacks on it (a build step's). */
static bool intermediate(struct berth_image *const *list, const struct berth_image *img)
{
        if (img->repo_tags[0] || img->repo_digests[0])
                return false;
        for (size_t k = 0; list[k]; k++)
                if (strcmp(list[k]->parent, img->id) == 0)
                        return true;
        return false;
}

static char *rfc3339(int64_t t)
{
        time_t tt = (time_t)t;
        struct tm tm;
        char buf[64];
        gmtime_r(&tt, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        return xstrdup(buf);
}

/* GET /system/df, on a worker (it walks every volume's and container's files): images
 * (with their containers and shared bytes), containers with their sizes, volumes with their
 * usage; and the build cache (engine/build.h). */
static void df_worker(struct api_stream *s, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_error_ struct berth_error *err = NULL;
        int64_t layers_size = 0;
        _cleanup_json_ struct json *shared = NULL, *volumes = NULL;
        struct berth_image **list = NULL;
        int r = berth_images_usage(e, &layers_size, &shared, &err);
        if (r == 0)
                r = berth_volume_list(e, true, &volumes, &err);
        if (r == 0)
                r = berth_image_list(e, &list, &err);
        if (r < 0) {
                api_stream_reply_error(s, status_of(r), "%s", berth_error_msg(err));
                return;
        }
        _cleanup_json_ struct json *out = json_new_object();
        json_set_int(out, "LayersSize", layers_size);
        struct json *images = json_object_set(out, "Images", json_new_array());
        for (size_t i = 0; list[i]; i++) {
                if (intermediate(list, list[i]))
                        continue; /* counted in BuildCache */
                _cleanup_json_ struct json *cfg = NULL;
                _cleanup_error_ struct berth_error *cerr = NULL;
                (void)berth_image_config(e, list[i], &cfg, &cerr);
                int n = berth_ctr_image_user(e, list[i]->id, NULL, NULL);
                const struct json *sh = json_get(shared, list[i]->id);
                json_array_append(
                    images, summary(list[i], cfg, n, json_is(sh, JSON_NUMBER) ? sh->num.i : 0));
        }
        berth_image_list_free(list);
        json_object_set(out, "Containers", berth_ctr_list(e, true, true));
        json_object_set(out, "Volumes", TAKE_PTR(volumes));
        struct json *bc = json_object_set(out, "BuildCache", json_new_array());
        struct berth_build_cache_entry *cache = NULL;
        size_t n_cache = 0;
        if (berth_build_cache_list(e, &cache, &n_cache, &err) < 0)
                log_warn("system df: %s", berth_error_msg(err));
        for (size_t i = 0; i < n_cache; i++) {
                struct json *o = json_array_append(bc, json_new_object());
                json_set_str(o, "ID", cache[i].id + (strncmp(cache[i].id, "sha256:", 7) ? 0 : 7));
                json_set_str(o, "Parent",
                             cache[i].parent + (strncmp(cache[i].parent, "sha256:", 7) ? 0 : 7));
                json_set_str(o, "Type", "regular");
                json_set_str(o, "Description", cache[i].description);
                json_set_bool(o, "InUse", cache[i].in_use);
                json_set_bool(o, "Shared", false);
                json_set_int(o, "Size", cache[i].size);
                _cleanup_free_ char *created = rfc3339(cache[i].created);
                _cleanup_free_ char *used = rfc3339(cache[i].last_used);
                json_set_str(o, "CreatedAt", created);
                json_set_str(o, "LastUsedAt", used);
                json_set_int(o, "UsageCount", cache[i].usage_count);
        }
        berth_build_cache_entries_free(cache, n_cache);
        api_stream_reply_json(s, 200, out);
}

static void handle_df(struct api_request *req, void *userdata)
{
        api_defer(req, df_worker, userdata);
}

/* docker's container.Config with every field, overlaid with what the image sets. */
static struct json *full_config(const struct json *src)
{
        struct json *c = image_empty_config();
        size_t i;
        const char *k;
        struct json *v;
        json_object_foreach (src, i, k, v)
                json_object_set(c, k, json_copy(v));
        return c;
}

static void handle_inspect(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        const char *name = api_request_param(req, "name");
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_image_ struct berth_image *img = NULL;
        int r = berth_image_find(e, name, &img, &err);
        if (r < 0) {
                reply_engine_error(req, r, err);
                return;
        }
        _cleanup_json_ struct json *cfg = NULL;
        r = berth_image_config(e, img, &cfg, &err);
        if (r < 0) {
                api_reply_error(req, 500, "%s", berth_error_msg(err));
                return;
        }
        struct json *o = json_new_object();
        json_set_str(o, "Id", img->id);
        json_object_set(o, "RepoTags", familiar_array(img->repo_tags));
        json_object_set(o, "RepoDigests", familiar_array(img->repo_digests));
        json_set_str(o, "Parent", img->parent);
        json_set_str(o, "Comment", json_str(json_get(cfg, "comment")) ?: "");
        /* A config without "created" is Go's zero time, as dockerd shows it. */
        json_set_str(o, "Created", json_str(json_get(cfg, "created")) ?: "0001-01-01T00:00:00Z");
        json_set_str(o, "Container", json_str(json_get(cfg, "container")) ?: "");
        json_object_set(o, "ContainerConfig", full_config(json_get(cfg, "container_config")));
        json_set_str(o, "DockerVersion", json_str(json_get(cfg, "docker_version")) ?: "");
        json_set_str(o, "Author", json_str(json_get(cfg, "author")) ?: "");
        json_object_set(o, "Config", full_config(json_get(cfg, "config")));
        json_set_str(o, "Architecture", json_str(json_get(cfg, "architecture")) ?: "");
        if (json_str(json_get(cfg, "variant")))
                json_set_str(o, "Variant", json_str(json_get(cfg, "variant")));
        json_set_str(o, "Os", json_str(json_get(cfg, "os")) ?: "");
        if (json_str(json_get(cfg, "os.version")))
                json_set_str(o, "OsVersion", json_str(json_get(cfg, "os.version")));
        json_set_int(o, "Size", img->size);
        json_set_int(o, "VirtualSize", img->size);
        struct json *gd = json_object_set(o, "GraphDriver", json_new_object());
        json_object_set(gd, "Data", json_new_null());
        json_set_str(gd, "Name", "overlay2");
        struct json *rootfs = json_object_set(o, "RootFS", json_new_object());
        const struct json *cfg_rootfs = json_get(cfg, "rootfs");
        json_set_str(rootfs, "Type", json_str(json_get(cfg_rootfs, "type")) ?: "layers");
        const struct json *diff_ids = json_get(cfg_rootfs, "diff_ids");
        json_object_set(rootfs, "Layers",
                        json_is(diff_ids, JSON_ARRAY) ? json_copy(diff_ids) : json_new_array());
        struct json *meta = json_object_set(o, "Metadata", json_new_object());
        json_set_str(meta, "LastTagTime", "0001-01-01T00:00:00Z");
        api_reply_json(req, 200, o);
        json_free(o);
}

/* "2026-01-02T03:04:05.123Z" / "+01:00" -> unix seconds (0 when unparsable). */
static int64_t parse_rfc3339(const char *s)
{
        int64_t ns;
        if (units_parse_rfc3339(s, &ns) < 0)
                return 0;
        return ns / UNITS_NSEC_PER_SEC - (ns % UNITS_NSEC_PER_SEC < 0);
}

static void handle_history(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_image_ struct berth_image *img = NULL;
        int r = berth_image_find(e, api_request_param(req, "name"), &img, &err);
        if (r < 0) {
                reply_engine_error(req, r, err);
                return;
        }
        _cleanup_json_ struct json *cfg = NULL;
        _cleanup_free_ int64_t *sizes = NULL;
        size_t n_sizes = 0;
        if (berth_image_config(e, img, &cfg, &err) < 0 ||
            berth_image_layer_sizes(e, img, &sizes, &n_sizes, &err) < 0) {
                api_reply_error(req, 500, "%s", berth_error_msg(err));
                return;
        }
        /* Oldest first in the config; each entry that made a layer takes the next layer's size. */
        const struct json *hist = json_get(cfg, "history");
        size_t n = json_is(hist, JSON_ARRAY) ? json_len(hist) : 0, layer = 0;
        struct json **items = xcalloc(n + 1, sizeof(*items));
        for (size_t i = 0; i < n; i++) {
                const struct json *h = hist->arr.items[i];
                const struct json *empty = json_get(h, "empty_layer");
                int64_t size = 0;
                if (!(json_is(empty, JSON_BOOL) && empty->b)) {
                        size = layer < n_sizes ? sizes[layer] : 0;
                        layer++;
                }
                struct json *o = json_new_object();
                json_set_str(o, "Comment", json_str(json_get(h, "comment")) ?: "");
                const char *when = json_str(json_get(h, "created"));
                json_set_int(o, "Created", when ? parse_rfc3339(when) : UNITS_GO_ZERO_TIME);
                json_set_str(o, "CreatedBy", json_str(json_get(h, "created_by")) ?: "");
                json_set_str(o, "Id", "<missing>");
                json_set_int(o, "Size", size);
                json_object_set(o, "Tags", json_new_null());
                items[i] = o;
        }
        struct json *out = json_new_array();
        for (size_t i = n; i-- > 0;)
                json_array_append(out, items[i]);
        free(items);
        if (n) {
                /* The newest entry is the image itself. */
                struct json *top = out->arr.items[0];
                json_set_str(top, "Id", img->id);
                json_object_set(top, "Tags",
                                img->repo_tags[0] ? familiar_array(img->repo_tags)
                                                  : json_new_null());
        }
        api_reply_json(req, 200, out);
        json_free(out);
}

static void handle_tag(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        const char *name = api_request_param(req, "name");
        const char *repo = api_request_query(req, "repo");
        const char *tag = api_request_query(req, "tag");
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_image_ struct berth_image *img = NULL;
        int r = berth_image_find(e, name, &img, &err);
        if (r < 0) {
                reply_engine_error(req, r, err);
                return;
        }
        if (!repo || !*repo) {
                api_reply_error(req, 400, "repository name must have at least one component");
                return;
        }
        _cleanup_free_ char *target = tag && *tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        if (tag && *tag && !image_ref_tag_valid(tag)) {
                api_reply_error(req, 400, "invalid tag format");
                return;
        }
        r = berth_image_tag(e, img->id, target, &err);
        if (r < 0) {
                /* Reference errors are the client's; database errors are ours. */
                api_reply_error(req, r == -EIO ? 500 : 400, "%s", berth_error_msg(err));
                return;
        }
        api_reply(req, 201, NULL, "", 0);
}

static void handle_delete(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        const char *name = api_request_param(req, "name");
        bool force = api_request_query_bool(req, "force", false);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *actions = NULL;
        int r = berth_image_remove(e, name, force, &actions, &err);
        if (r < 0) {
                reply_engine_error(req, r, err);
                return;
        }
        api_reply_json(req, 200, actions);
}

struct prune_labels {
        char **labels, **not_labels;
};

/* dockerd's matchLabels: every label= matches, and not every label! does. */
static bool prune_label_match(const struct json *labels, void *arg)
{
        const struct prune_labels *f = arg;
        if (f->labels[0] && !api_labels_match(labels, f->labels))
                return false;
        return !(f->not_labels[0] && api_labels_match(labels, f->not_labels));
}

static void handle_prune(struct api_request *req, void *userdata)
{
        struct berth_engine *e = userdata;
        static const char *const allowed[] = {"dangling", "label", "label!", "until", NULL};
        _cleanup_json_ struct json *filters = NULL;
        if (api_filters_parse(req, allowed, &filters) < 0)
                return;
        _cleanup_strv_free_ char **dangling = api_filter_values(filters, "dangling");
        for (size_t i = 0; dangling[i]; i++)
                if (!truthy(dangling[i]) && strcmp(dangling[i], "false") != 0 &&
                    strcmp(dangling[i], "0") != 0) {
                        api_reply_error(req, 400, "Invalid filter 'dangling=[%s]'", dangling[i]);
                        return;
                }
        struct berth_image_prune_opts o = {.all = dangling[0] && !truthy(dangling[0])};
        if (api_filter_until(req, filters, &o.until_set, &o.until_ns) < 0)
                return;
        struct prune_labels f = {
            .labels = api_filter_values(filters, "label"),
            .not_labels = api_filter_values(filters, "label!"),
        };
        if (f.labels[0] || f.not_labels[0]) {
                o.match = prune_label_match;
                o.arg = &f;
        }
        _cleanup_error_ struct berth_error *err = NULL;
        struct json *deleted = NULL;
        uint64_t reclaimed = 0;
        int r = berth_image_prune(e, &o, &deleted, &reclaimed, &err);
        strv_free(f.labels);
        strv_free(f.not_labels);
        if (r < 0) {
                reply_engine_error(req, r, err);
                return;
        }
        struct json *out = json_new_object();
        json_object_set(out, "ImagesDeleted", json_len(deleted) ? deleted : json_new_null());
        if (!json_len(deleted))
                json_free(deleted);
        json_object_set(out, "SpaceReclaimed", json_new_uint(reclaimed));
        api_reply_json(req, 200, out);
        json_free(out);
}

/* ---- POST /images/create (pull) ---- */

/* Standard or URL-safe base64, padding optional (docker sends URL-safe). NULL when invalid. */
static char *base64_decode(const char *in, size_t *ret_len)
{
        size_t n = strlen(in);
        char *out = xmalloc(n / 4 * 3 + 4);
        size_t o = 0;
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n; i++) {
                char c = in[i];
                int v;
                if (c >= 'A' && c <= 'Z')
                        v = c - 'A';
                else if (c >= 'a' && c <= 'z')
                        v = c - 'a' + 26;
                else if (c >= '0' && c <= '9')
                        v = c - '0' + 52;
                else if (c == '+' || c == '-')
                        v = 62;
                else if (c == '/' || c == '_')
                        v = 63;
                else if (c == '=')
                        break;
                else {
                        free(out);
                        return NULL;
                }
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (char)((acc >> bits) & 0xff);
                }
        }
        out[o] = '\0';
        *ret_len = o;
        return out;
}

struct pull_job {
        struct api_stream *stream;
        struct berth_engine *engine;
        bool push; /* the same job shape serves push */
        char *push_tag;
        bool all_tags; /* pull: no `tag`, so a bare repository name means every tag */
        char *reference, *platform;
        char *username, *password, *identity_token, *registry_token;
        struct registry_auth auth;
        bool have_auth;
        atomic_bool cancel;
};

static void pull_job_free(struct pull_job *j)
{
        free(j->reference);
        free(j->push_tag);
        free(j->platform);
        free(j->username);
        free(j->password);
        free(j->identity_token);
        free(j->registry_token);
        free(j);
}

static int pull_emit(const struct json *msg, void *userdata)
{
        struct pull_job *j = userdata;
        api_stream_start(j->stream, 200, "application/json");
        return api_stream_write_json(j->stream, msg);
}

static int pull_status(int r)
{
        switch (-r) {
        case ENOENT:
                return 404;
        case EINVAL:
                return 400;
        case EACCES:
        case EPERM:
                return 401;
        default:
                return 500;
        }
}

static void *pull_worker(void *arg)
{
        struct pull_job *j = arg;
        struct berth_pull_opts o = {
            .reference = j->reference,
            .platform = j->platform,
            .all_tags = j->all_tags,
            .auth = j->have_auth ? &j->auth : NULL,
            .emit = pull_emit,
            .userdata = j,
            .cancel = &j->cancel,
        };
        bool started = false;
        _cleanup_error_ struct berth_error *err = NULL;
        int r;
        if (j->push) {
                struct berth_push_opts po = {
                    .name = j->reference,
                    .tag = j->push_tag,
                    .auth = o.auth,
                    .emit = pull_emit,
                    .userdata = j,
                    .cancel = &j->cancel,
                };
                r = berth_image_push(j->engine, &po, &started, &err);
        } else {
                r = berth_image_pull(j->engine, &o, &started, &err);
        }
        if (r < 0 && !started) {
                api_stream_reply_error(j->stream, pull_status(r), "%s", berth_error_msg(err));
        } else if (r < 0 && r != -ECANCELED) {
                /* In the stream, as dockerd: the CLI prints the message and exits 1. */
                struct json *m = json_new_object();
                struct json *d = json_object_set(m, "errorDetail", json_new_object());
                json_set_str(d, "message", berth_error_msg(err));
                json_set_str(m, "error", berth_error_msg(err));
                (void)api_stream_write_json(j->stream, m);
                json_free(m);
        }
        if (r < 0)
                log_info("%s %s: %s", j->push ? "push" : "pull", j->reference,
                         berth_error_msg(err));
        api_stream_end(j->stream);
        pull_job_free(j);
        return NULL;
}

/* X-Registry-Auth: base64 of {"username","password","identitytoken","registrytoken"}. */
static int parse_registry_auth(struct api_request *req, struct pull_job *j)
{
        const char *h = api_request_header(req, "X-Registry-Auth");
        if (!h || !*h)
                return 0;
        size_t len = 0;
        _cleanup_free_ char *raw = base64_decode(h, &len);
        _cleanup_json_ struct json *a = NULL;
        if (!raw || json_parse(raw, len, &a, NULL) < 0 || !json_is(a, JSON_OBJECT))
                return 0; /* dockerd ignores an unreadable header and pulls anonymously */
        const char *u = json_str(json_get(a, "username"));
        const char *pw = json_str(json_get(a, "password"));
        const char *it = json_str(json_get(a, "identitytoken"));
        const char *rt = json_str(json_get(a, "registrytoken"));
        j->username = u && *u ? xstrdup(u) : NULL;
        j->password = pw && *pw ? xstrdup(pw) : NULL;
        j->identity_token = it && *it ? xstrdup(it) : NULL;
        j->registry_token = rt && *rt ? xstrdup(rt) : NULL;
        j->auth = (struct registry_auth){.username = j->username,
                                         .password = j->password,
                                         .identity_token = j->identity_token,
                                         .registry_token = j->registry_token};
        j->have_auth = j->username || j->identity_token || j->registry_token;
        return 0;
}

static void handle_create(struct api_request *req, void *userdata)
{
        const char *from = api_request_query(req, "fromImage");
        const char *tag = api_request_query(req, "tag");
        const char *platform = api_request_query(req, "platform");
        const char *src = api_request_query(req, "fromSrc");
        if (src && *src) {
                api_image_import(req, userdata);
                return;
        }
        if (!from || !*from) {
                api_reply_error(req, 400, "fromImage is required");
                return;
        }
        struct pull_job *j = xcalloc(1, sizeof(*j));
        j->engine = userdata;
        if (tag && *tag) {
                j->reference = xasprintf("%s%c%s", from, strchr(tag, ':') ? '@' : ':', tag);
        } else {
                /* As dockerd: old clients' `pull -a` sends "name:", and no tag at all means
                 * every tag of a bare repository name. */
                size_t n = strlen(from);
                j->reference = xstrndup(from, n > 1 && from[n - 1] == ':' ? n - 1 : n);
                j->all_tags = true;
        }
        j->platform = platform && *platform ? xstrdup(platform) : NULL;
        parse_registry_auth(req, j);
        j->stream = api_stream_detach(req);
        if (api_worker_spawn(pull_worker, j) < 0) {
                api_stream_reply_error(j->stream, 500, "cannot start the pull: out of threads");
                api_stream_end(j->stream);
                pull_job_free(j);
        }
}

static void handle_push(struct api_request *req, void *userdata)
{
        const char *tag = api_request_query(req, "tag");
        struct pull_job *j = xcalloc(1, sizeof(*j));
        j->engine = userdata;
        j->push = true;
        j->reference = xstrdup(api_request_param(req, "name"));
        j->push_tag = tag && *tag ? xstrdup(tag) : NULL;
        parse_registry_auth(req, j);
        j->stream = api_stream_detach(req);
        if (api_worker_spawn(pull_worker, j) < 0) {
                api_stream_reply_error(j->stream, 500, "cannot start the push: out of threads");
                api_stream_end(j->stream);
                pull_job_free(j);
        }
}

void api_register_images(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"GET", "/images/json", handle_list, engine},
            /* the body is an import's tar (fromSrc=-), read as it arrives */
            {"POST", "/images/create", handle_create, engine, .stream_body = true},
            {"POST", "/images/{name*}/push", handle_push, engine},
            {"POST", "/images/prune", handle_prune, engine},
            {"GET", "/images/{name*}/json", handle_inspect, engine},
            {"GET", "/images/{name*}/history", handle_history, engine},
            {"POST", "/images/{name*}/tag", handle_tag, engine},
            {"DELETE", "/images/{name*}", handle_delete, engine},
            {"GET", "/system/df", handle_df, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
