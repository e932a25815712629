/*
 * builder.c — POST /build: the context, the Dockerfile's stages and their steps, the cache
 * (contract in build.h; COPY, ADD and WORKDIR in build-copy.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/units.h"
#include "build-internal.h"
#include "build/dockerignore.h"
#include "commit.h"
#include "container-internal.h"
#include "containers.h"
#include "image/store.h"
#include "image/untar.h"
#include "images.h"
#include "layers.h"
#include "pull.h"

#define DOCKERFILE_MAX (16u << 20)

static const char *const builtin_args[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                           "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
                                           "ALL_PROXY",  "all_proxy",  NULL};

static bool is_builtin_arg(const char *name)
{
        for (size_t i = 0; builtin_args[i]; i++)
                if (strcmp(builtin_args[i], name) == 0)
                        return true;
        return false;
}

/* ---- output ---- */

/* The stage whose thread this is: its output is kept until its turn (NULL: the build's own
 * thread, whose output goes out at once). */
static __thread struct stage_out *cur_out;
static __thread struct build *cur_build;

/* One message to the client in stage order; -ECANCELED when the client is gone. */
static int route(struct build *b, const struct json *msg)
{
        pthread_mutex_lock(&b->lock);
        int r = 0;
        if (cur_build == b && cur_out && cur_out != &b->outs[b->live]) {
                struct stage_out *o = cur_out;
                o->msgs = xrealloc(o->msgs, (o->n + 1) * sizeof(*o->msgs));
                o->msgs[o->n++] = json_copy(msg);
        } else {
                r = b->o->emit(msg, b->o->userdata) < 0 ? -ECANCELED : 0;
                b->emitted = true;
        }
        pthread_mutex_unlock(&b->lock);
        return r;
}

static int emit_text(struct build *b, const char *text, size_t len)
{
        if (b->o->quiet) {
                pthread_mutex_lock(&b->lock);
                buf_append(&b->quiet, text, len);
                pthread_mutex_unlock(&b->lock);
                return 0;
        }
        struct json *m = json_new_object();
        json_object_set(m, "stream", json_new_stringn(text, len));
        int r = route(b, m);
        json_free(m);
        return r;
}

int build_say(struct build *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                berth_oom();
        int r = emit_text(b, s, (size_t)n);
        free(s);
        return r;
}

static int gone(struct berth_error **err)
{
        return berth_error_set(err, ECANCELED, "the client went away");
}

static int say_id(struct stage *st, struct berth_error **err)
{
        _cleanup_free_ char *id = units_truncate_id(st->image);
        return build_say(st->b, " ---> %s\n", id) < 0 ? gone(err) : 0;
}

/* ---- Go's %q, as the classic builder writes CMD and HEALTHCHECK into history ---- */

static void go_quote(struct berth_buf *out, const char *s)
{
        buf_putc(out, '"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '"':
                        buf_puts(out, "\\\"");
                        break;
                case '\\':
                        buf_puts(out, "\\\\");
                        break;
                case '\a':
                        buf_puts(out, "\\a");
                        break;
                case '\b':
                        buf_puts(out, "\\b");
                        break;
                case '\f':
                        buf_puts(out, "\\f");
                        break;
                case '\n':
                        buf_puts(out, "\\n");
                        break;
                case '\r':
                        buf_puts(out, "\\r");
                        break;
                case '\t':
                        buf_puts(out, "\\t");
                        break;
                case '\v':
                        buf_puts(out, "\\v");
                        break;
                default:
                        if (*p < 0x20 || *p == 0x7f) {
                                char x[8];
                                snprintf(x, sizeof(x), "\\x%02x", *p);
                                buf_puts(out, x);
                        } else {
                                buf_putc(out, (char)*p);
                        }
                }
        }
        buf_putc(out, '"');
}

/* %q of a []string: ["a" "b"] */
static void go_quote_list(struct berth_buf *out, const struct json *arr)
{
        buf_putc(out, '[');
        size_t i = 0;
        const struct json *it;
        json_array_foreach (arr, i, it) {
                if (i)
                        buf_putc(out, ' ');
                go_quote(out, json_str(it) ?: "");
        }
        buf_putc(out, ']');
}

/* %q of an int: a quoted rune, as strconv.QuoteRune */
static void go_quote_rune(struct berth_buf *out, int64_t v)
{
        static const char *const esc[] = {
            ['\a'] = "\\a", ['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n",
            ['\r'] = "\\r", ['\t'] = "\\t", ['\v'] = "\\v"};
        char x[32];
        if (v >= 0 && v < (int64_t)ELEMENTSOF(esc) && esc[v])
                snprintf(x, sizeof(x), "'%s'", esc[v]);
        else if (v == '\'' || v == '\\')
                snprintf(x, sizeof(x), "'\\%c'", (char)v);
        else if (v >= 0x20 && v < 0x7f)
                snprintf(x, sizeof(x), "'%c'", (char)v);
        else if (v >= 0 && v < 0x20)
                snprintf(x, sizeof(x), "'\\x%02x'", (unsigned)v);
        else
                snprintf(x, sizeof(x), "%%!q(int=%lld)", (long long)v);
        buf_puts(out, x);
}

/* ---- the environment of a step ---- */

static const char *env_lookup(const struct json *env, const char *name)
{
        size_t n = strlen(name), i = 0;
        const struct json *it;
        const char *found = NULL;
        json_array_foreach (env, i, it) {
                const char *s = json_str(it);
                if (s && strncmp(s, name, n) == 0 && s[n] == '=')
                        found = s + n + 1;
        }
        return found;
}

static void env_set(struct json *config, const char *key, const char *value)
{
        struct json *env = json_get(config, "Env");
        if (!json_is(env, JSON_ARRAY))
                env = json_object_set(config, "Env", json_new_array());
        _cleanup_free_ char *kv = xasprintf("%s=%s", key, value);
        size_t n = strlen(key), i = 0;
        struct json *it;
        json_array_foreach (env, i, it) {
                const char *s = json_str(it);
                if (s && strncmp(s, key, n) == 0 && (s[n] == '=' || s[n] == '\0')) {
                        free(it->str.s);
                        it->str.s = xstrdup(kv);
                        it->str.len = strlen(kv);
                        return;
                }
        }
        json_array_append(env, json_new_string(kv));
}

/* The value of a build arg allowed in this stage, or NULL. */
static const char *arg_value(struct stage *st, const char *name)
{
        const struct json *given = json_get(st->b->o->buildargs, name);
        const struct json *declared = json_get(st->args, name);
        if (declared) {
                if (json_is(given, JSON_STRING))
                        return json_str(given);
                return json_str(declared);
        }
        if (is_builtin_arg(name) && json_is(given, JSON_STRING))
                return json_str(given);
        return NULL;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "k=v" of the build args allowed here that Env does not override, sorted; builtin_too:
 * the proxy args nobody declared (in RUN's environment, never in its cache key). */
static char **allowed_args(struct stage *st, bool builtin_too)
{
        size_t n = 0, cap = json_len(st->args) + ELEMENTSOF(builtin_args) + 1;
        char **v = xcalloc(cap, sizeof(*v));
        const struct json *env = json_get(st->config, "Env");
        for (size_t i = 0; i < json_len(st->args); i++) {
                const char *k = st->args->obj.m[i].key;
                const char *val = arg_value(st, k);
                if (val && !env_lookup(env, k))
                        v[n++] = xasprintf("%s=%s", k, val);
        }
        if (builtin_too)
                for (size_t i = 0; builtin_args[i]; i++) {
                        const char *k = builtin_args[i];
                        if (json_get(st->args, k) || env_lookup(env, k))
                                continue;
                        const char *val = arg_value(st, k);
                        if (val)
                                v[n++] = xasprintf("%s=%s", k, val);
                }
        qsort(v, n, sizeof(*v), cmp_str);
        return v;
}

struct lookup_ctx {
        const struct json *env;
        char **args;
};

static const char *lookup(const char *name, void *userdata)
{
        struct lookup_ctx *l = userdata;
        const char *v = env_lookup(l->env, name);
        if (v)
                return v;
        size_t n = strlen(name);
        for (char **a = l->args; a && *a; a++)
                if (strncmp(*a, name, n) == 0 && (*a)[n] == '=')
                        return *a + n + 1;
        return NULL;
}

static int meta_lookup_args(struct build *b, char ***ret);

int build_expand(struct stage *st, const char *word, char **ret, struct berth_error **err)
{
        _cleanup_strv_free_ char **args = allowed_args(st, true);
        struct lookup_ctx l = {json_get(st->config, "Env"), args};
        return dockerfile_expand(word, lookup, &l, st->b->df->escape, 0, ret, err);
}

static int expand_words(struct stage *st, const char *word, char ***ret, struct berth_error **err)
{
        _cleanup_strv_free_ char **args = allowed_args(st, true);
        struct lookup_ctx l = {json_get(st->config, "Env"), args};
        return dockerfile_expand_words(word, lookup, &l, st->b->df->escape, 0, ret, err);
}

/* ---- step configs ---- */

static struct json *shell_of(const struct json *config)
{
        const struct json *sh = json_get(config, "Shell");
        if (json_is(sh, JSON_ARRAY) && json_len(sh))
                return json_copy(sh);
        struct json *a = json_new_array();
        json_array_append(a, json_new_string("/bin/sh"));
        json_array_append(a, json_new_string("-c"));
        return a;
}

struct json *build_comment_config(struct stage *st, const char *comment, bool two_words)
{
        struct json *cc = json_copy(st->config);
        struct json *cmd = shell_of(st->config);
        if (two_words) {
                json_array_append(cmd, json_new_string("#(nop) "));
                json_array_append(cmd, json_new_string(comment));
        } else {
                _cleanup_free_ char *c = xasprintf("#(nop) %s", comment);
                json_array_append(cmd, json_new_string(c));
        }
        json_object_set(cc, "Cmd", cmd);
        return cc;
}

/* ---- the cache ---- */

static char *cache_key(const struct json *cc, const char *extra)
{
        _cleanup_free_ char *dump = json_dump(cc, 0);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char d[32];
        unsigned dl = 0;
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(md, dump, strlen(dump)) != 1 || EVP_DigestUpdate(md, "\n", 1) != 1 ||
            (extra && EVP_DigestUpdate(md, extra, strlen(extra)) != 1) ||
            EVP_DigestFinal_ex(md, d, &dl) != 1)
                berth_oom();
        EVP_MD_CTX_free(md);
        char *hex = xmalloc(65);
        blob_sha256_hex(d, hex);
        return hex;
}

/* ---- --cache-from: steps of other images, as dockerd's image cache matches them ---- */

struct cache_source {
        char *id;
        struct json *cfg;
        struct berth_layer_rec *recs; /* strings owned by strs */
        char **strs;
        size_t n_recs;
};

static void sources_free(struct build *b)
{
        for (size_t i = 0; i < b->n_sources; i++) {
                struct cache_source *s = &b->sources[i];
                free(s->id);
                json_free(s->cfg);
                free(s->recs);
                strv_free(s->strs);
        }
        free(b->sources);
}

static void load_sources_locked(struct build *b)
{
        b->sources_loaded = true;
        sqlite3 *h = berth_db_handle(b->e->db);
        for (char *const *name = b->o->cache_from; name && *name; name++) {
                _cleanup_image_ struct berth_image *img = NULL;
                _cleanup_json_ struct json *cfg = NULL;
                if (berth_image_find(b->e, *name, &img, NULL) < 0 ||
                    berth_image_config(b->e, img, &cfg, NULL) < 0) {
                        log_warn("build: could not look up %s for cache resolution, skipping",
                                 *name);
                        continue;
                }
                b->sources = xrealloc(b->sources, (b->n_sources + 1) * sizeof(*b->sources));
                struct cache_source *s = &b->sources[b->n_sources++];
                *s = (struct cache_source){.id = xstrdup(img->id), .cfg = TAKE_PTR(cfg)};
                s->strs = xcalloc(1, sizeof(char *));
                sqlite3_stmt *q = NULL;
                if (sqlite3_prepare_v2(h,
                                       "SELECT chain_id, diff_id, blob_digest FROM image_layers"
                                       " WHERE image_id = ?1 ORDER BY position",
                                       -1, &q, NULL) != SQLITE_OK)
                        continue;
                sqlite3_bind_text(q, 1, s->id, -1, SQLITE_STATIC);
                size_t ns = 0;
                while (sqlite3_step(q) == SQLITE_ROW) {
                        s->recs = xrealloc(s->recs, (s->n_recs + 1) * sizeof(*s->recs));
                        s->strs = xrealloc(s->strs, (ns + 4) * sizeof(char *));
                        const char *c[3] = {NULL, NULL, NULL};
                        for (int k = 0; k < 3; k++) {
                                const unsigned char *t = sqlite3_column_text(q, k);
                                if (t)
                                        c[k] = s->strs[ns++] = xstrdup((const char *)t);
                        }
                        s->strs[ns] = NULL;
                        s->recs[s->n_recs++] = (struct berth_layer_rec){c[0], c[1], c[2], 0};
                }
                sqlite3_finalize(q);
        }
}

static bool same_history(const struct json *a, const struct json *b)
{
        static const char *const keys[] = {"created", "author", "created_by", "comment"};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *x = json_str(json_get(a, keys[i])), *y = json_str(json_get(b, keys[i]));
                if (strcmp(x ? x : "", y ? y : "") != 0)
                        return false;
        }
        const struct json *ea = json_get(a, "empty_layer"), *eb = json_get(b, "empty_layer");
        return (json_is(ea, JSON_BOOL) && ea->b) == (json_is(eb, JSON_BOOL) && eb->b);
}

/* dockerd's ImageCache.GetCache over the sources: a source whose history begins with the
 * parent's (and whose layers with its layers) and whose next entry this step's command made;
 * *ret_id that source when the step is its last, else an image restored from it up to this
 * step (its layer and history, this build's config). */
static void probe_sources(struct stage *st, const struct json *cc, char **ret_id)
{
        struct build *b = st->b;
        *ret_id = NULL;
        pthread_mutex_lock(&b->lock);
        if (!b->sources_loaded)
                load_sources_locked(b);
        pthread_mutex_unlock(&b->lock);
        if (!b->n_sources)
                return;
        _cleanup_json_ struct json *pcfg = NULL;
        if (*st->image) {
                _cleanup_image_ struct berth_image *img = NULL;
                if (berth_image_find(b->e, st->image, &img, NULL) < 0 ||
                    berth_image_config(b->e, img, &pcfg, NULL) < 0)
                        return;
        }
        const struct json *ph = json_get(pcfg, "history");
        const struct json *pd = json_get(json_get(pcfg, "rootfs"), "diff_ids");
        size_t k = json_len(ph), m = json_len(pd);
        _cleanup_free_ char *created_by = image_join_cmd(json_get(cc, "Cmd"));
        for (size_t i = 0; i < b->n_sources; i++) {
                const struct cache_source *s = &b->sources[i];
                const struct json *th = json_get(s->cfg, "history");
                const struct json *td = json_get(json_get(s->cfg, "rootfs"), "diff_ids");
                if (json_len(th) <= k || json_len(td) < m || s->n_recs != json_len(td))
                        continue;
                bool ok = true;
                for (size_t j = 0; ok && j < k; j++)
                        ok = same_history(th->arr.items[j], ph->arr.items[j]);
                for (size_t j = 0; ok && j < m; j++)
                        ok = strcmp(json_str(td->arr.items[j]) ?: "",
                                    json_str(pd->arr.items[j]) ?: "") == 0;
                const struct json *h = th->arr.items[k];
                if (!ok || strcmp(json_str(json_get(h, "created_by")) ?: "", created_by) != 0)
                        continue;
                if (json_len(th) == k + 1) {
                        *ret_id = xstrdup(s->id);
                        return;
                }
                const struct json *el = json_get(h, "empty_layer");
                bool empty = json_is(el, JSON_BOOL) && el->b;
                if (!empty && m >= s->n_recs)
                        continue;
                _cleanup_json_ struct json *hist = json_new_array();
                for (size_t j = 0; j <= k; j++)
                        json_array_append(hist, json_copy(th->arr.items[j]));
                struct build_commit bc = BUILD_STEP_COMMIT(st, cc);
                bc.restore = true;
                bc.reuse = empty ? NULL : &s->recs[m];
                bc.history_all = hist;
                bc.created = json_str(json_get(h, "created"));
                _cleanup_error_ struct berth_error *rerr = NULL;
                if (build_commit(b->e, &bc, ret_id, &rerr) < 0) {
                        log_info("build: cache from %s: %s", s->id, berth_error_msg(rerr));
                        continue;
                }
                return;
        }
}

int build_probe(struct stage *st, const struct json *cc, const char *extra, bool *ret_hit,
                struct berth_error **err)
{
        *ret_hit = false;
        struct build *b = st->b;
        if (b->o->nocache)
                return 0;
        _cleanup_free_ char *key = cache_key(cc, extra);
        sqlite3 *h = berth_db_handle(b->e->db);
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(h, "SELECT image_id FROM build_cache WHERE parent = ?1 AND key = ?2",
                               -1, &q, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "build cache: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(q, 1, st->image, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
        _cleanup_free_ char *id = NULL;
        if (sqlite3_step(q) == SQLITE_ROW)
                id = xstrdup((const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
        if (!id || !berth_layers_have_image(b->e->layers, id)) {
                /* the --cache-from images */
                free(id);
                probe_sources(st, cc, &id);
                if (!id)
                        return 0;
                int r = build_cached(st, cc, extra, id, err);
                if (r < 0)
                        return r;
                *ret_hit = true;
                return build_say(b, " ---> Using cache\n") < 0 ? gone(err) : 0;
        }
        if (sqlite3_prepare_v2(
                h,
                "UPDATE build_cache SET last_used = ?3, usage_count = usage_count + 1"
                " WHERE parent = ?1 AND key = ?2",
                -1, &q, NULL) == SQLITE_OK) {
                sqlite3_bind_text(q, 1, st->image, -1, SQLITE_STATIC);
                sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
                sqlite3_bind_int64(q, 3, (int64_t)time(NULL));
                (void)sqlite3_step(q);
                sqlite3_finalize(q);
        }
        free(st->image);
        st->image = TAKE_PTR(id);
        *ret_hit = true;
        return build_say(b, " ---> Using cache\n") < 0 ? gone(err) : 0;
}

int build_cached(struct stage *st, const struct json *cc, const char *extra, const char *id,
                 struct berth_error **err)
{
        _cleanup_free_ char *key = cache_key(cc, extra);
        sqlite3 *h = berth_db_handle(st->b->e->db);
        sqlite3_stmt *q = NULL;
        int r = 0;
        if (sqlite3_prepare_v2(h,
                               "INSERT OR REPLACE INTO build_cache (parent, key, image_id, created,"
                               " last_used, usage_count) VALUES (?1, ?2, ?3, ?4, ?4, 1)",
                               -1, &q, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "build cache: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(q, 1, st->image, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, (int64_t)time(NULL));
        if (sqlite3_step(q) != SQLITE_DONE)
                r = berth_error_set(err, EIO, "build cache: %s", sqlite3_errmsg(h));
        sqlite3_finalize(q);
        free(st->image);
        st->image = xstrdup(id);
        return r;
}

/* A metadata step: the config changed, no layer. */
static int commit_meta(struct stage *st, const char *comment, struct berth_error **err)
{
        _cleanup_json_ struct json *cc = build_comment_config(st, comment, true);
        bool hit;
        int r = build_probe(st, cc, NULL, &hit, err);
        if (r < 0 || hit)
                return r;
        struct build_commit bc = BUILD_STEP_COMMIT(st, cc);
        _cleanup_free_ char *id = NULL;
        r = build_commit(st->b->e, &bc, &id, err);
        if (r == 0)
                r = build_cached(st, cc, NULL, id, err);
        return r;
}

/* ---- containers ---- */

int build_create(struct stage *st, const struct json *rc, bool networked, char **ret_id,
                 struct berth_ctr **ret_c, struct berth_error **err)
{
        const struct berth_build_opts *o = st->b->o;
        _cleanup_json_ struct json *body = json_copy(rc);
        json_set_str(body, "Image", st->image);
        json_set_bool(body, "AttachStdout", true);
        json_set_bool(body, "AttachStderr", true);
        json_object_del(body, "Healthcheck");
        struct json *hc = json_object_set(body, "HostConfig", json_new_object());
        struct json *bm = json_get(body, "BuildMounts");
        if (bm) {
                json_object_set(hc, "Mounts", json_copy(bm));
                json_object_del(body, "BuildMounts");
        }
        _cleanup_free_ char *step_net = xstrdup(json_str(json_get(body, "BuildNetwork")) ?: "");
        json_object_del(body, "BuildNetwork");
        json_set_str(hc, "NetworkMode",
                     !networked                            ? "none"
                     : *step_net                           ? step_net
                     : o->network_mode && *o->network_mode ? o->network_mode
                                                           : "default");
        if (networked) {
                if (o->shm_size > 0)
                        json_set_int(hc, "ShmSize", o->shm_size);
                if (o->memory > 0)
                        json_set_int(hc, "Memory", o->memory);
                if (o->memswap != 0)
                        json_set_int(hc, "MemorySwap", o->memswap);
                if (o->cpu_shares > 0)
                        json_set_int(hc, "CpuShares", o->cpu_shares);
                if (o->cpu_period > 0)
                        json_set_int(hc, "CpuPeriod", o->cpu_period);
                if (o->cpu_quota > 0)
                        json_set_int(hc, "CpuQuota", o->cpu_quota);
                if (o->cpuset_cpus && *o->cpuset_cpus)
                        json_set_str(hc, "CpusetCpus", o->cpuset_cpus);
                if (o->cpuset_mems && *o->cpuset_mems)
                        json_set_str(hc, "CpusetMems", o->cpuset_mems);
                if (o->extra_hosts && o->extra_hosts[0]) {
                        struct json *eh = json_object_set(hc, "ExtraHosts", json_new_array());
                        for (char *const *h = o->extra_hosts; *h; h++)
                                json_array_append(eh, json_new_string(*h));
                }
                if (json_is(o->ulimits, JSON_ARRAY) && json_len(o->ulimits))
                        json_object_set(hc, "Ulimits", json_copy(o->ulimits));
        }
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *id = NULL;
        int r = berth_ctr_create(st->b->e, NULL, body, o->platform, &id, &warnings, err);
        if (r < 0)
                return r;
        r = berth_ctr_get(st->b->e, id, ret_c, err);
        if (r < 0)
                return r;
        *ret_id = TAKE_PTR(id);
        return 0;
}

void build_remove(struct stage *st, struct berth_ctr *c, bool say)
{
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_free_ char *short_id = units_truncate_id(berth_ctr_id(c));
        if (say)
                (void)build_say(st->b, "Removing intermediate container %s\n", short_id);
        if (berth_ctr_remove(st->b->e, c, true, true, &err) < 0)
                log_warn("build: remove intermediate container %s: %s", short_id,
                         berth_error_msg(err));
}

/* ---- RUN ---- */

struct run_out {
        struct build *b;
        int fd;
        struct berth_ctr *c;
        bool killed;
};

/* Read from the step's output, watching for the client leaving (a build cancelled with ^C):
 * then the step's container is killed, as dockerd kills it, and its output drained. */
static ssize_t relay_read(struct run_out *ro, void *buf, size_t len, bool *cancelled)
{
        for (;;) {
                struct pollfd p = {ro->fd, POLLIN, 0};
                int n = poll(&p, 1, 1000);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0) {
                        const struct berth_build_opts *o = ro->b->o;
                        if (!ro->killed && o->gone && o->gone(o->userdata)) {
                                ro->killed = true;
                                *cancelled = true;
                                (void)berth_ctr_kill(ro->b->e, ro->c, NULL, NULL);
                        }
                        continue;
                }
                ssize_t r = read(ro->fd, buf, len);
                if (r < 0 && errno == EINTR)
                        continue;
                return r;
        }
}

/* The attach stream (8-byte headers, no terminal) to the client, as it comes. */
static int relay(struct run_out *ro)
{
        unsigned char hdr[8];
        char *buf = xmalloc(65536);
        int r = 0;
        bool cancelled = false;
        for (;;) {
                size_t got = 0;
                while (got < sizeof(hdr)) {
                        ssize_t n = relay_read(ro, hdr + got, sizeof(hdr) - got, &cancelled);
                        if (n <= 0)
                                goto done;
                        got += (size_t)n;
                }
                size_t len = ((size_t)hdr[4] << 24) | ((size_t)hdr[5] << 16) |
                             ((size_t)hdr[6] << 8) | hdr[7];
                while (len > 0) {
                        ssize_t n = relay_read(ro, buf, len < 65536 ? len : 65536, &cancelled);
                        if (n <= 0)
                                goto done;
                        len -= (size_t)n;
                        if (r != 0)
                                continue; /* keep draining: the container must not block */
                        if (hdr[0] == 2) {
                                /* stderr in red, as the classic builder marks it */
                                char *red = xmalloc((size_t)n + 16);
                                memcpy(red, "\x1b[91m", 5);
                                memcpy(red + 5, buf, (size_t)n);
                                memcpy(red + 5 + n, "\x1b[0m", 4);
                                if (emit_text(ro->b, red, (size_t)n + 9) < 0)
                                        r = -ECANCELED;
                                free(red);
                        } else if (emit_text(ro->b, buf, (size_t)n) < 0) {
                                r = -ECANCELED;
                        }
                }
        }
done:
        free(buf);
        return cancelled ? -ECANCELED : r;
}

/* ---- RUN --mount ---- */

/* The run's mounts as HostConfig.Mounts, and what of them the cache key holds (a bind's
 * source contents; a cache or tmpfs mount holds nothing of the step's result). */
static int run_mounts(struct stage *st, const struct dockerfile_instruction *ins,
                      struct json **ret_mounts, char **ret_key, struct berth_error **err)
{
        struct build *b = st->b;
        struct json *mounts = json_new_array();
        struct berth_buf key = BERTH_BUF_INIT;
        buf_puts(&key, "");
        int r = 0;
        for (size_t i = 0; i < ins->flags.n_mounts && r == 0; i++) {
                const struct dockerfile_mount *m0 = &ins->flags.mounts[i];
                struct dockerfile_mount m = {.size = -1};
                if (m0->deferred) {
                        _cleanup_free_ char *spec = NULL;
                        r = build_expand(st, m0->spec, &spec, err);
                        if (r == 0)
                                r = dockerfile_mount_parse(spec, &m, err);
                        if (r < 0)
                                break;
                } else {
                        m = *m0;
                }
                const char *target = m.target;
                if (m.type == DF_MOUNT_SECRET || m.type == DF_MOUNT_SSH) {
                        r = berth_error_set(err, EINVAL,
                                            "RUN --mount=type=%s: the classic build API carries "
                                            "no secrets or SSH agents to mount",
                                            m.type == DF_MOUNT_SECRET ? "secret" : "ssh");
                } else if (!target || !*target) {
                        r = berth_error_set(err, EINVAL, "mount: target is required");
                } else if (m.type == DF_MOUNT_TMPFS) {
                        struct json *o = json_array_append(mounts, json_new_object());
                        json_set_str(o, "Type", "tmpfs");
                        json_set_str(o, "Target", target);
                        if (m.size > 0) {
                                struct json *to =
                                    json_object_set(o, "TmpfsOptions", json_new_object());
                                json_set_int(to, "SizeBytes", m.size);
                        }
                } else if (m.type == DF_MOUNT_CACHE) {
                        r = build_cache_mount(b, &m, mounts, err);
                } else if (m.from && *m.from) {
                        r = berth_error_set(err, EINVAL,
                                            "RUN --mount=type=bind,from=%s: berth binds from the "
                                            "build context only",
                                            m.from);
                } else {
                        r = build_bind_mount(b, &m, mounts, &key, err);
                }
                if (r == 0) {
                        buf_puts(&key, m0->spec ? m0->spec : "");
                        buf_putc(&key, '\n');
                }
                if (m0->deferred)
                        dockerfile_mount_release(&m);
        }
        if (r < 0) {
                json_free(mounts);
                buf_release(&key);
                return r;
        }
        *ret_mounts = mounts;
        *ret_key = buf_steal(&key);
        return 0;
}

static int dispatch_run(struct stage *st, const struct dockerfile_instruction *ins,
                        struct berth_error **err)
{
        struct build *b = st->b;
        _cleanup_json_ struct json *cmd = NULL;
        if (ins->json) {
                cmd = json_new_array();
                for (char **a = ins->args; *a; a++)
                        json_array_append(cmd, json_new_string(*a));
        } else {
                cmd = shell_of(st->config);
                _cleanup_free_ char *line = NULL;
                if (ins->n_heredocs && ins->heredocs[0].content) {
                        /* RUN <<EOF: the body is the script */
                        line = xstrdup(ins->heredocs[0].content);
                } else {
                        line = xstrdup(ins->args[0] ? ins->args[0] : "");
                }
                json_array_append(cmd, json_new_string(line));
        }
        _cleanup_strv_free_ char **args = allowed_args(st, false);
        _cleanup_strv_free_ char **env_args = allowed_args(st, true);
        size_t n_args = 0;
        while (args[n_args])
                n_args++;
        /* the cache's command: "|N k=v … cmd…" when build args are in play */
        struct json *save = json_new_array();
        if (n_args) {
                _cleanup_free_ char *count = xasprintf("|%zu", n_args);
                json_array_append(save, json_new_string(count));
                for (size_t i = 0; i < n_args; i++)
                        json_array_append(save, json_new_string(args[i]));
        }
        size_t i = 0;
        const struct json *it;
        json_array_foreach (cmd, i, it)
                json_array_append(save, json_copy(it));
        _cleanup_json_ struct json *cc = json_copy(st->config);
        json_object_set(cc, "Cmd", save);
        json_object_set(cc, "Entrypoint", json_new_null());
        if (ins->flags.security && strcmp(ins->flags.security, "insecure") == 0)
                return berth_error_set(err, EPERM,
                                       "RUN --security=insecure needs the security.insecure "
                                       "entitlement, which berth's builder does not grant");
        _cleanup_json_ struct json *mounts = NULL;
        _cleanup_free_ char *mount_key = NULL;
        int r = run_mounts(st, ins, &mounts, &mount_key, err);
        if (r < 0)
                return r;
        const char *extra = *mount_key ? mount_key : NULL;
        bool hit;
        r = build_probe(st, cc, extra, &hit, err);
        if (r < 0 || hit)
                return r;

        _cleanup_json_ struct json *rc = json_copy(st->config);
        json_object_set(rc, "Cmd", json_copy(cmd));
        json_object_set(rc, "Entrypoint", json_new_array());
        for (char **a = env_args; *a; a++) {
                char *eq = strchr(*a, '=');
                _cleanup_free_ char *k = xstrndup(*a, (size_t)(eq - *a));
                env_set(rc, k, eq + 1);
        }
        if (json_len(mounts))
                json_object_set(rc, "BuildMounts", json_copy(mounts));
        /* BuildKit's RUN --network=default|none|host for this step */
        const char *net = ins->flags.network;
        if (net && strcmp(net, "default") != 0)
                json_set_str(rc, "BuildNetwork", net);
        _cleanup_free_ char *cid = NULL;
        _cleanup_ctr_ struct berth_ctr *c = NULL;
        r = build_create(st, rc, true, &cid, &c, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *short_id = units_truncate_id(cid);
        if (build_say(b, " ---> Running in %s\n", short_id) < 0) {
                build_remove(st, c, false);
                return gone(err);
        }
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                r = berth_error_sys(err, errno, "build: a socket for the step's output");
                build_remove(st, c, false);
                return r;
        }
        struct berth_attach_opts ao = {.out = true, .err = true};
        r = berth_ctr_attach(b->e, c, sv[0], &ao, err);
        if (r < 0) {
                close(sv[0]);
                close(sv[1]);
                build_remove(st, c, false);
                return r;
        }
        r = berth_ctr_start(b->e, c, err);
        int code = 0;
        if (r == 0) {
                struct run_out ro = {b, sv[1], c, false};
                int rr = relay(&ro);
                _cleanup_free_ char *msg = NULL;
                r = berth_ctr_wait(b->e, c, BERTH_WAIT_NOT_RUNNING, NULL, NULL, &code, &msg, err);
                if (r == 0 && rr < 0)
                        r = gone(err);
        }
        close(sv[1]);
        if (r == 0 && code != 0) {
                _cleanup_free_ char *joined = image_join_cmd(cmd);
                if (cur_out)
                        cur_out->code = code;
                r = berth_error_set(err, EIO, "The command '%s' returned a non-zero code: %d",
                                    joined, code);
        }
        if (r < 0) {
                if (b->o->rm || b->o->forcerm)
                        build_remove(st, c, true);
                return r;
        }
        struct build_commit bc = BUILD_STEP_COMMIT(st, cc);
        bc.ctr = c;
        _cleanup_free_ char *id = NULL;
        r = build_commit(b->e, &bc, &id, err);
        if (b->o->rm || b->o->forcerm)
                build_remove(st, c, true);
        if (r == 0)
                r = build_cached(st, cc, extra, id, err);
        return r;
}

/* ---- the metadata instructions ---- */

static struct json *cmd_of(struct stage *st, const struct dockerfile_instruction *ins)
{
        struct json *cmd;
        if (ins->json) {
                cmd = json_new_array();
                for (char **a = ins->args; *a; a++)
                        json_array_append(cmd, json_new_string(*a));
        } else {
                cmd = shell_of(st->config);
                json_array_append(cmd, json_new_string(ins->args[0] ? ins->args[0] : ""));
        }
        return cmd;
}

static int parse_port(const char *spec, char **ret, struct berth_error **err)
{
        _cleanup_free_ char *s = xstrdup(spec);
        char *proto = strchr(s, '/');
        if (proto)
                *proto++ = '\0';
        if (proto && strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
            strcmp(proto, "sctp") != 0)
                return berth_error_set(err, EINVAL, "Invalid proto: %s", proto);
        /* ip:host:container forms keep the container part */
        char *port = strrchr(s, ':');
        port = port ? port + 1 : s;
        char *dash = strchr(port, '-');
        uint64_t lo, hi;
        if (dash)
                *dash = '\0';
        if (parse_u64(port, &lo) < 0 || lo > 65535 ||
            (dash && (parse_u64(dash + 1, &hi) < 0 || hi > 65535 || hi < lo)))
                return berth_error_set(err, EINVAL, "Invalid containerPort: %s", spec);
        if (!dash)
                hi = lo;
        struct berth_buf out = {0};
        for (uint64_t p = lo; p <= hi; p++) {
                char one[32];
                snprintf(one, sizeof(one), "%s%llu/%s", out.len ? "\n" : "", (unsigned long long)p,
                         proto ? proto : "tcp");
                buf_puts(&out, one);
        }
        *ret = buf_steal(&out);
        return 0;
}

static int dispatch_meta(struct stage *st, const struct dockerfile_instruction *ins,
                         struct berth_error **err)
{
        struct json *cfg = st->config;
        struct berth_buf msg = {0};
        int r = 0;
        switch (ins->kind) {
        case DF_ENV: {
                /* every value expanded with the environment before this ENV */
                size_t n = ins->n_kvs;
                char **keys = xcalloc(n + 1, sizeof(char *)),
                     **vals = xcalloc(n + 1, sizeof(char *));
                for (size_t i = 0; i < n && r == 0; i++) {
                        r = build_expand(st, ins->kvs[i].key, &keys[i], err);
                        if (r == 0)
                                r = build_expand(st, ins->kvs[i].value ?: "", &vals[i], err);
                }
                buf_puts(&msg, "ENV");
                for (size_t i = 0; i < n && r == 0; i++) {
                        env_set(cfg, keys[i], vals[i]);
                        buf_putc(&msg, ' ');
                        buf_puts(&msg, keys[i]);
                        buf_putc(&msg, '=');
                        buf_puts(&msg, vals[i]);
                }
                strv_free(keys);
                strv_free(vals);
                break;
        }
        case DF_LABEL: {
                struct json *labels = json_get(cfg, "Labels");
                if (!json_is(labels, JSON_OBJECT))
                        labels = json_object_set(cfg, "Labels", json_new_object());
                buf_puts(&msg, "LABEL");
                for (size_t i = 0; i < ins->n_kvs && r == 0; i++) {
                        _cleanup_free_ char *k = NULL, *v = NULL;
                        r = build_expand(st, ins->kvs[i].key, &k, err);
                        if (r == 0)
                                r = build_expand(st, ins->kvs[i].value ?: "", &v, err);
                        if (r < 0)
                                break;
                        json_set_str(labels, k, v);
                        buf_putc(&msg, ' ');
                        buf_puts(&msg, k);
                        buf_putc(&msg, '=');
                        buf_puts(&msg, v);
                }
                break;
        }
        case DF_MAINTAINER:
                free(st->author);
                st->author = xstrdup(ins->args[0] ? ins->args[0] : "");
                buf_puts(&msg, "MAINTAINER ");
                buf_puts(&msg, st->author);
                break;
        case DF_ARG:
                for (size_t i = 0; i < ins->n_kvs && r == 0; i++) {
                        const struct dockerfile_kv *kv = &ins->kvs[i];
                        _cleanup_free_ char *val = NULL;
                        if (kv->value)
                                r = build_expand(st, kv->value, &val, err);
                        if (r < 0)
                                break;
                        const struct json *meta = json_get(st->b->meta_args, kv->key);
                        if (!val && json_is(meta, JSON_STRING))
                                val = xstrdup(json_str(meta));
                        if (!json_is(meta, JSON_STRING) && (strncmp(kv->key, "TARGET", 6) == 0 ||
                                                            strncmp(kv->key, "BUILD", 5) == 0)) {
                                /* BuildKit's automatic TARGETPLATFORM, BUILDARCH, …: set as
                                 * build args are, over a default */
                                _cleanup_strv_free_ char **margs = NULL;
                                meta_lookup_args(st->b, &margs);
                                struct lookup_ctx ml = {NULL, margs};
                                const char *a = lookup(kv->key, &ml);
                                if (a) {
                                        free(val);
                                        val = xstrdup(a);
                                }
                        }
                        json_object_set(st->args, kv->key,
                                        val ? json_new_string(val) : json_new_null());
                        pthread_mutex_lock(&st->b->lock);
                        json_object_set(st->b->consumed, kv->key, json_new_bool(true));
                        pthread_mutex_unlock(&st->b->lock);
                        buf_puts(&msg, i ? " " : "ARG ");
                        buf_puts(&msg, kv->key);
                        if (kv->value) {
                                buf_putc(&msg, '=');
                                buf_puts(&msg, val);
                        }
                }
                break;
        case DF_CMD: {
                struct json *cmd = cmd_of(st, ins);
                buf_puts(&msg, "CMD ");
                go_quote_list(&msg, cmd);
                json_object_set(cfg, "Cmd", cmd);
                st->cmd_set = true;
                break;
        }
        case DF_ENTRYPOINT: {
                struct json *ep = cmd_of(st, ins);
                buf_puts(&msg, "ENTRYPOINT ");
                go_quote_list(&msg, ep);
                json_object_set(cfg, "Entrypoint", ep);
                if (!st->cmd_set)
                        json_object_set(cfg, "Cmd", json_new_null());
                break;
        }
        case DF_EXPOSE: {
                struct json *ports = json_get(cfg, "ExposedPorts");
                if (!json_is(ports, JSON_OBJECT))
                        ports = json_object_set(cfg, "ExposedPorts", json_new_object());
                buf_puts(&msg, "EXPOSE");
                for (char **a = ins->args; *a && r == 0; a++) {
                        _cleanup_strv_free_ char **words = NULL;
                        r = expand_words(st, *a, &words, err);
                        for (char **w = words; r == 0 && w && *w; w++) {
                                _cleanup_free_ char *list = NULL;
                                r = parse_port(*w, &list, err);
                                for (char *p = list, *nl; r == 0 && p && *p;
                                     p = nl ? nl + 1 : NULL) {
                                        nl = strchr(p, '\n');
                                        if (nl)
                                                *nl = '\0';
                                        json_object_set(ports, p, json_new_object());
                                }
                                buf_putc(&msg, ' ');
                                buf_puts(&msg, *w);
                        }
                }
                break;
        }
        case DF_VOLUME: {
                struct json *vols = json_get(cfg, "Volumes");
                if (!json_is(vols, JSON_OBJECT))
                        vols = json_object_set(cfg, "Volumes", json_new_object());
                buf_puts(&msg, "VOLUME [");
                size_t k = 0;
                for (char **a = ins->args; *a && r == 0; a++) {
                        _cleanup_free_ char *v = NULL;
                        r = build_expand(st, *a, &v, err);
                        if (r == 0 && !*v)
                                r = berth_error_set(err, EINVAL,
                                                    "VOLUME specified can not be an empty string");
                        if (r < 0)
                                break;
                        json_object_set(vols, v, json_new_object());
                        if (k++)
                                buf_putc(&msg, ' ');
                        buf_puts(&msg, v);
                }
                buf_putc(&msg, ']');
                break;
        }
        case DF_USER: {
                _cleanup_free_ char *u = NULL;
                r = build_expand(st, ins->args[0] ? ins->args[0] : "", &u, err);
                if (r < 0)
                        break;
                json_set_str(cfg, "User", u);
                buf_puts(&msg, "USER ");
                buf_puts(&msg, u);
                break;
        }
        case DF_STOPSIGNAL: {
                _cleanup_free_ char *s = NULL;
                r = build_expand(st, ins->args[0] ? ins->args[0] : "", &s, err);
                int sig;
                if (r == 0 && (r = ctr_parse_signal(s, &sig, err)) < 0) {
                        berth_error_free(*err);
                        *err = NULL;
                        r = berth_error_set(err, EINVAL, "Invalid signal: %s", s);
                }
                if (r < 0)
                        break;
                json_set_str(cfg, "StopSignal", s);
                buf_puts(&msg, "STOPSIGNAL ");
                buf_puts(&msg, s);
                break;
        }
        case DF_SHELL: {
                struct json *sh = json_new_array();
                buf_puts(&msg, "SHELL [");
                for (char **a = ins->args; *a; a++) {
                        json_array_append(sh, json_new_string(*a));
                        if (a != ins->args)
                                buf_putc(&msg, ' ');
                        buf_puts(&msg, *a);
                }
                buf_putc(&msg, ']');
                json_object_set(cfg, "Shell", sh);
                break;
        }
        case DF_HEALTHCHECK: {
                const struct json *prev = json_get(json_get(cfg, "Healthcheck"), "Test");
                if (json_is(prev, JSON_ARRAY) && json_len(prev)) {
                        struct berth_buf note = {0};
                        buf_puts(&note, "Note: overriding previous HEALTHCHECK: [");
                        size_t i = 0;
                        const struct json *it;
                        json_array_foreach (prev, i, it) {
                                if (i)
                                        buf_putc(&note, ' ');
                                buf_puts(&note, json_str(it) ?: "");
                        }
                        buf_puts(&note, "]\n");
                        _cleanup_free_ char *text = buf_steal(&note);
                        if (build_say(st->b, "%s", text) < 0)
                                r = gone(err);
                }
                struct json *hc = json_new_object();
                struct json *test = json_object_set(hc, "Test", json_new_array());
                for (char **a = ins->health_test; a && *a; a++)
                        json_array_append(test, json_new_string(*a));
                const struct dockerfile_flags *f = &ins->flags;
                if (f->interval)
                        json_set_int(hc, "Interval", f->interval);
                if (f->timeout)
                        json_set_int(hc, "Timeout", f->timeout);
                if (f->start_period)
                        json_set_int(hc, "StartPeriod", f->start_period);
                if (f->start_interval)
                        json_set_int(hc, "StartInterval", f->start_interval);
                if (f->retries)
                        json_set_int(hc, "Retries", f->retries);
                json_object_set(cfg, "Healthcheck", hc);
                buf_puts(&msg, "HEALTHCHECK &{");
                go_quote_list(&msg, test);
                buf_puts(&msg, " \"");
                units_go_duration(&msg, f->interval);
                buf_puts(&msg, "\" \"");
                units_go_duration(&msg, f->timeout);
                buf_puts(&msg, "\" \"");
                units_go_duration(&msg, f->start_period);
                buf_puts(&msg, "\" ");
                go_quote_rune(&msg, f->retries);
                buf_putc(&msg, '}');
                break;
        }
        case DF_ONBUILD: {
                struct json *ob = json_get(cfg, "OnBuild");
                if (!json_is(ob, JSON_ARRAY))
                        ob = json_object_set(cfg, "OnBuild", json_new_array());
                json_array_append(ob, json_new_string(ins->onbuild_expression));
                buf_puts(&msg, "ONBUILD ");
                buf_puts(&msg, ins->onbuild_expression);
                break;
        }
        default:
                r = berth_error_set(err, EINVAL, "%s: not a metadata instruction",
                                    dockerfile_kind_name(ins->kind));
        }
        _cleanup_free_ char *comment = buf_steal(&msg);
        if (r < 0)
                return r;
        return commit_meta(st, comment, err);
}

/* ---- one instruction ---- */

static int dispatch(struct stage *st, const struct dockerfile_instruction *ins,
                    struct berth_error **err)
{
        switch (ins->kind) {
        case DF_RUN:
                return dispatch_run(st, ins, err);
        case DF_COPY:
        case DF_ADD:
                return build_copy(st, ins, err);
        case DF_WORKDIR: {
                _cleanup_free_ char *w = NULL;
                int r = build_expand(st, ins->args[0] ? ins->args[0] : "", &w, err);
                if (r < 0)
                        return r;
                const char *cur = json_str(json_get(st->config, "WorkingDir"));
                _cleanup_free_ char *wd = NULL;
                if (w[0] == '/') {
                        wd = xstrdup(w);
                } else {
                        _cleanup_free_ char *joined = xasprintf("/%s/%s", cur ? cur : "", w);
                        wd = path_clean(joined);
                }
                json_set_str(st->config, "WorkingDir", wd);
                return build_workdir(st, err);
        }
        case DF_FROM:
                return berth_error_set(err, EINVAL, "FROM inside a stage");
        default:
                return dispatch_meta(st, ins, err);
        }
}

/* ---- FROM ---- */

static int pull_emit(const struct json *msg, void *userdata)
{
        struct build *b = userdata;
        if (b->o->quiet)
                return 0;
        return route(b, msg);
}

static int base_image(struct stage *st, const char *name, const char *platform,
                      struct berth_error **err)
{
        struct build *b = st->b;
        struct berth_engine *e = b->e;
        _cleanup_image_ struct berth_image *img = NULL;
        int r = -ENOENT;
        if (!b->o->pull)
                r = berth_image_find(e, name, &img, NULL);
        if (r == -ENOENT || b->o->pull) {
                bool started = false;
                _cleanup_error_ struct berth_error *perr = NULL;
                struct berth_pull_opts po = {
                    .reference = name,
                    .platform = platform,
                    .emit = pull_emit,
                    .userdata = b,
                };
                r = berth_image_pull(e, &po, &started, &perr);
                if (r < 0 && b->o->pull && berth_image_find(e, name, &img, NULL) == 0) {
                        log_info("build: pull %s: %s (the local image is used)", name,
                                 berth_error_msg(perr));
                        r = 0;
                } else if (r < 0) {
                        if (err) {
                                *err = TAKE_PTR(perr);
                                berth_error_prefix(err,
                                                   "pull access denied or repository does "
                                                   "not exist for %s",
                                                   name);
                        }
                        return r;
                }
                if (!img && (r = berth_image_find(e, name, &img, err)) < 0)
                        return r;
        } else if (r < 0) {
                return berth_image_find(e, name, &img, err);
        }
        _cleanup_json_ struct json *cfg = NULL;
        r = berth_image_config(e, img, &cfg, err);
        if (r < 0)
                return r;
        free(st->image);
        st->image = xstrdup(img->id);
        json_free(st->config);
        const struct json *c = json_get(cfg, "config");
        st->config = json_is(c, JSON_OBJECT) ? json_copy(c) : image_empty_config();
        const char *arch = json_str(json_get(cfg, "architecture"));
        free(st->arch);
        st->arch = xstrdup(arch ? arch : "amd64");
        return 0;
}

/* "os/arch[/variant]" split for BuildKit's automatic platform args. */
static void platform_args(char **v, size_t *k, const char *prefix, const char *platform)
{
        _cleanup_free_ char *p = xstrdup(platform);
        char *arch = strchr(p, '/');
        if (arch)
                *arch++ = '\0';
        char *variant = arch ? strchr(arch, '/') : NULL;
        if (variant)
                *variant++ = '\0';
        v[(*k)++] = xasprintf("%sPLATFORM=%s", prefix, platform);
        v[(*k)++] = xasprintf("%sOS=%s", prefix, p);
        v[(*k)++] = xasprintf("%sARCH=%s", prefix, arch ? arch : "");
        v[(*k)++] = xasprintf("%sVARIANT=%s", prefix, variant ? variant : "");
}

/* The words FROM is expanded with: the ARGs before the first FROM, and BuildKit's automatic
 * BUILDPLATFORM, TARGETPLATFORM (and their OS, ARCH, VARIANT) behind them. */
static int meta_lookup_args(struct build *b, char ***ret)
{
        size_t n = json_len(b->meta_args);
        char **v = xcalloc(n + 9, sizeof(*v));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                const char *key = b->meta_args->obj.m[i].key;
                const struct json *given = json_get(b->o->buildargs, key);
                const char *val = json_is(given, JSON_STRING)
                                      ? json_str(given)
                                      : json_str(b->meta_args->obj.m[i].value);
                if (val)
                        v[k++] = xasprintf("%s=%s", key, val);
        }
        /* looked up first to last: a meta ARG of the same name wins */
        platform_args(v, &k, "BUILD", "linux/amd64");
        platform_args(v, &k, "TARGET",
                      b->o->platform && *b->o->platform ? b->o->platform : "linux/amd64");
        *ret = v;
        return 0;
}

static int run_triggers(struct stage *st, struct berth_error **err)
{
        const struct json *ob = json_get(st->config, "OnBuild");
        size_t n = json_is(ob, JSON_ARRAY) ? json_len(ob) : 0;
        if (!n)
                return 0;
        _cleanup_json_ struct json *triggers = json_copy(ob);
        json_object_set(st->config, "OnBuild", json_new_null());
        if (build_say(st->b, "# Executing %zu build trigger%s\n", n, n == 1 ? "" : "s") < 0)
                return gone(err);
        size_t i = 0;
        const struct json *it;
        json_array_foreach (triggers, i, it) {
                _cleanup_free_ char *text = xasprintf("FROM scratch\n%s\n", json_str(it) ?: "");
                _cleanup_dockerfile_ struct dockerfile *df = NULL;
                int r = dockerfile_parse(text, strlen(text), &df, err);
                if (r < 0)
                        return r;
                if (df->n_stages != 1 || df->stages[0].n_instructions != 1)
                        return berth_error_set(err, EINVAL, "invalid ONBUILD trigger: %s",
                                               json_str(it));
                const struct dockerfile_instruction *t = df->stages[0].instructions[0];
                if (t->kind == DF_ONBUILD || t->kind == DF_MAINTAINER)
                        return berth_error_set(err, EINVAL,
                                               "%s isn't allowed as an ONBUILD trigger",
                                               dockerfile_kind_name(t->kind));
                r = dispatch(st, t, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int stage_from(struct stage *st, const struct dockerfile_stage *ds, struct berth_error **err)
{
        struct build *b = st->b;
        _cleanup_strv_free_ char **margs = NULL;
        meta_lookup_args(b, &margs);
        struct lookup_ctx l = {NULL, margs};
        _cleanup_free_ char *base = NULL;
        int r = dockerfile_expand(ds->base, lookup, &l, b->df->escape, 0, &base, err);
        if (r < 0)
                return r;
        if (!*base)
                return berth_error_set(err, EINVAL, "base name (%s) should not be blank", ds->base);
        st->image = xstrdup("");
        st->arch = xstrdup("amd64");
        st->args = json_new_object();
        /* an earlier stage by name (done: the scheduler waited for it) */
        for (size_t i = 0; i < st->index; i++) {
                const char *name = b->df->stages[i].name;
                if (name && strcasecmp(name, base) == 0) {
                        pthread_mutex_lock(&b->lock);
                        bool ready = b->done[i] && b->stage_ids[i];
                        pthread_mutex_unlock(&b->lock);
                        if (!ready)
                                return berth_error_set(err, ECANCELED, "stage %s failed", name);
                        if (!*b->stage_ids[i]) {
                                st->config = image_empty_config();
                                return 0;
                        }
                        _cleanup_image_ struct berth_image *img = NULL;
                        r = berth_image_find(b->e, b->stage_ids[i], &img, err);
                        _cleanup_json_ struct json *cfg = NULL;
                        if (r == 0)
                                r = berth_image_config(b->e, img, &cfg, err);
                        if (r < 0)
                                return r;
                        free(st->image);
                        st->image = xstrdup(b->stage_ids[i]);
                        const struct json *c = json_get(cfg, "config");
                        st->config = json_is(c, JSON_OBJECT) ? json_copy(c) : image_empty_config();
                        return run_triggers(st, err);
                }
        }
        if (strcasecmp(base, "scratch") == 0) {
                st->config = image_empty_config();
                /* dockerd gives a stage from scratch the default PATH */
                env_set(st->config, "PATH",
                        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
                return 0;
        }
        /* FROM --platform, expanded as the base is */
        _cleanup_free_ char *platform = NULL;
        if (ds->platform && *ds->platform) {
                r = dockerfile_expand(ds->platform, lookup, &l, b->df->escape, 0, &platform, err);
                if (r < 0)
                        return r;
        }
        r = base_image(st, base, platform && *platform ? platform : b->o->platform, err);
        if (r < 0)
                return r;
        return run_triggers(st, err);
}

/* ---- the context ---- */

static long long mono_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Half of MemAvailable, at least 64 MiB. */
static uint64_t context_memory_limit(void)
{
        _cleanup_free_ char *text = NULL;
        uint64_t kb = 0;
        if (read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 16, &text, NULL) == 0) {
                const char *p = strstr(text, "MemAvailable:");
                if (p)
                        kb = strtoull(p + 13, NULL, 10);
        }
        uint64_t limit = kb * 1024 / 2;
        return limit < (64ull << 20) ? 64ull << 20 : limit;
}

void berth_build_cleanup(struct berth_engine *e)
{
        /* what a killed berthd left: contexts still mounted, directories of builds */
        _cleanup_free_ char *tmp = xasprintf("%s/tmp", berth_layers_data_root(e->layers));
        DIR *d = opendir(tmp);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, "build-", 6) != 0)
                        continue;
                _cleanup_free_ char *ctx = xasprintf("%s/%s/context", tmp, de->d_name);
                (void)umount2(ctx, MNT_DETACH | UMOUNT_NOFOLLOW);
                _cleanup_free_ char *dir = xasprintf("%s/%s", tmp, de->d_name);
                int r = rm_rf(dir);
                if (r < 0)
                        log_warn("build: remove '%s': %s", dir, strerror(-r));
        }
        closedir(d);
}

static int receive_context(struct build *b, struct berth_error **err)
{
        _cleanup_free_ char *tmp = xasprintf("%s/tmp", berth_layers_data_root(b->e->layers));
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
                return berth_error_sys(err, errno, "mkdir '%s'", tmp);
        b->tmpdir = xasprintf("%s/build-XXXXXX", tmp);
        if (!mkdtemp(b->tmpdir)) {
                int r = berth_error_sys(err, errno, "mkdtemp '%s'", b->tmpdir);
                free(b->tmpdir);
                b->tmpdir = NULL;
                return r;
        }
        _cleanup_free_ char *ctx = xasprintf("%s/context", b->tmpdir);
        if (mkdir(ctx, 0700) < 0)
                return berth_error_sys(err, errno, "mkdir '%s'", ctx);
        /* The context lives in memory (a tmpfs of its own, up to half the memory available
         * now), reached through its fds only: it is unmounted (lazily) at once, so it goes
         * when the build closes them, and a killed berthd leaves no mount behind. */
        b->ctx_limit = context_memory_limit();
        char opts[64];
        snprintf(opts, sizeof(opts), "size=%llu,mode=0700", (unsigned long long)b->ctx_limit);
        if (mount("berth-build", ctx, "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0)
                b->ctx_mounted = true;
        else
                log_warn("build: a tmpfs for the context: %s (it goes to disk)", strerror(errno));
        b->ctx_dirfd = open(ctx, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        if (b->ctx_mounted && umount2(ctx, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                log_warn("build: unmount '%s': %s", ctx, strerror(errno));
        if (b->ctx_dirfd < 0)
                return berth_error_sys(err, e, "open '%s'", ctx);
        /* the context's files, unpacked from context.tar beside it when a step needs them */
        if (mkdirat(b->ctx_dirfd, "root", 0755) < 0)
                return berth_error_sys(err, errno, "mkdir '%s/root'", ctx);
        b->ctxfd = openat(b->ctx_dirfd, "root", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (b->ctxfd < 0)
                return berth_error_sys(err, errno, "open '%s/root'", ctx);
        const char *df = b->o->dockerfile && *b->o->dockerfile ? b->o->dockerfile : "Dockerfile";
        _cleanup_free_ char *df_abs = path_clean_abs(df);
        char *capture[] = {df_abs + 1, "dockerfile", ".dockerignore", NULL};
        long long t0 = mono_us();
        int r = build_context_receive(b, b->ctx_dirfd, capture, &b->ctx, err);
        if (r == 0)
                log_debug("build: context received and indexed in %lld ms",
                          (mono_us() - t0) / 1000);
        if (r < 0 && b->ctx_mounted && err && *err && (*err)->code == ENOSPC) {
                berth_error_free(*err);
                *err = NULL;
                return berth_error_set(err, ENOSPC,
                                       "the build context is larger than the %llu MiB of memory "
                                       "berthd keeps it in (half the memory available): leave "
                                       "files out with .dockerignore",
                                       (unsigned long long)(b->ctx_limit >> 20));
        }
        if (r < 0 && (!err || !*err || (*err)->code != ECANCELED)) {
                /* dockerd's words for a context it cannot unpack */
                berth_error_prefix(err, "Error processing tar file(exit status 1)");
                if (err && *err)
                        (*err)->code = EIO;
                return -EIO;
        }
        return r;
}

/* A file of the context: kept from the stream when it could be, else read from the unpacked
 * tree (a symlink to it, say); -ENOENT when absent. */
static int context_file(struct build *b, const char *name, size_t max, char **ret, size_t *ret_len,
                        struct berth_error **err)
{
        int r = build_context_captured(b, name, ret, ret_len);
        if (r != -EINVAL)
                return r;
        r = build_context_unpack(b, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *clean = path_clean_abs(name);
        int fd = open_in_root(b->ctxfd, clean, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
        if (fd < 0)
                return fd;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return -ENOENT;
        }
        r = read_full_fd(fd, max, ret, ret_len);
        close(fd);
        return r < 0 ? berth_error_sys(err, -r, "read %s", name) : 0;
}

static int read_dockerfile(struct build *b, char **ret, size_t *ret_len, struct berth_error **err)
{
        const char *name = b->o->dockerfile && *b->o->dockerfile ? b->o->dockerfile : "Dockerfile";
        _cleanup_free_ char *clean = path_clean_abs(name);
        int r = context_file(b, name, DOCKERFILE_MAX, ret, ret_len, err);
        if (r == -ENOENT && !(b->o->dockerfile && *b->o->dockerfile)) {
                r = context_file(b, "dockerfile", DOCKERFILE_MAX, ret, ret_len, err);
                if (r == 0) {
                        name = "dockerfile";
                        free(clean);
                        clean = xstrdup("/dockerfile");
                }
        }
        if (r == -ENOENT)
                return berth_error_set(err, ENOENT, "Cannot locate specified Dockerfile: %s", name);
        if (r < 0)
                return r;
        /* dockerd's removeDockerfile: the Dockerfile and .dockerignore leave the context when
         * .dockerignore excludes them */
        _cleanup_free_ char *ign = NULL;
        size_t ign_len = 0;
        if (context_file(b, ".dockerignore", 1u << 20, &ign, &ign_len, NULL) == 0) {
                _cleanup_dockerignore_ struct dockerignore *di = NULL;
                if (dockerignore_parse(ign, ign_len, &di, NULL) == 0) {
                        const char *rm[] = {".dockerignore", clean + 1};
                        for (size_t i = 0; i < ELEMENTSOF(rm); i++) {
                                if (!dockerignore_excluded(di, rm[i]))
                                        continue;
                                build_context_remove(b, rm[i]);
                                if (b->ctx_unpacked)
                                        build_context_unlink(b, rm[i]);
                        }
                }
        }
        return 0;
}

/* LABEL "k"='v' … appended to the file's last stage, as dockerd adds the labels option. */
static int labels_instruction(struct build *b, struct dockerfile **ret, struct berth_error **err)
{
        *ret = NULL;
        const struct json *labels = b->o->labels;
        size_t n = json_is(labels, JSON_OBJECT) ? json_len(labels) : 0;
        if (!n)
                return 0;
        char **keys = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                keys[i] = xstrdup(labels->obj.m[i].key);
        qsort(keys, n, sizeof(char *), cmp_str);
        struct berth_buf t = {0};
        buf_puts(&t, "FROM scratch\nLABEL");
        for (size_t i = 0; i < n; i++) {
                struct berth_buf q = {0};
                go_quote(&q, keys[i]);
                _cleanup_free_ char *qk = buf_steal(&q);
                _cleanup_free_ char *one =
                    xasprintf(" %s='%s'", qk, json_str(json_get(labels, keys[i])) ?: "");
                buf_puts(&t, one);
        }
        buf_putc(&t, '\n');
        strv_free(keys);
        _cleanup_free_ char *text = buf_steal(&t);
        return dockerfile_parse(text, strlen(text), ret, err);
}

/* ---- the build ---- */

static void build_release(struct build *b)
{
        if (b->ctxfd >= 0)
                close(b->ctxfd);
        if (b->ctx_dirfd >= 0)
                close(b->ctx_dirfd); /* the last fd of the context's tmpfs: it goes */
        build_context_free(b->ctx);
        sources_free(b);
        if (b->tmpdir) {
                int r = rm_rf(b->tmpdir);
                if (r < 0)
                        log_warn("build: remove '%s': %s", b->tmpdir, strerror(-r));
        }
        free(b->tmpdir);
        dockerfile_free(b->df);
        json_free(b->meta_args);
        json_free(b->consumed);
        for (size_t i = 0; i < b->n_stages; i++) {
                free(b->stage_ids[i]);
                if (b->outs) {
                        for (size_t k = 0; k < b->outs[i].n; k++)
                                json_free(b->outs[i].msgs[k]);
                        free(b->outs[i].msgs);
                        berth_error_free(b->outs[i].err);
                }
        }
        free(b->stage_ids);
        free(b->needed);
        free(b->done);
        free(b->outs);
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->cond);
        buf_release(&b->quiet);
}

static void stage_release(struct stage *st)
{
        json_free(st->config);
        free(st->image);
        json_free(st->args);
        free(st->author);
        free(st->arch);
}

static int print_step(struct build *b, unsigned *step, const char *original)
{
        return build_say(b, "Step %u/%u : %s\n", ++*step, b->total, original);
}

/* ---- stages: which the target needs, and their threads ---- */

/* The earlier stage a name or index means, or -1. */
static ssize_t stage_named(const struct dockerfile *df, size_t before, const char *name)
{
        for (size_t k = 0; k < before; k++) {
                char idx[32];
                snprintf(idx, sizeof(idx), "%zu", k);
                if ((df->stages[k].name && strcasecmp(df->stages[k].name, name) == 0) ||
                    strcmp(idx, name) == 0)
                        return (ssize_t)k;
        }
        return -1;
}

/* deps[s][k]: stage s needs stage k (FROM k, COPY --from=k; a --from with '$' in it, known
 * only when expanded, needs every earlier stage). */
static bool **stage_deps(struct build *b, size_t n)
{
        const struct dockerfile *df = b->df;
        bool **deps = xcalloc(n, sizeof(bool *));
        _cleanup_strv_free_ char **margs = NULL;
        meta_lookup_args(b, &margs);
        struct lookup_ctx l = {NULL, margs};
        for (size_t s = 0; s < n; s++) {
                deps[s] = xcalloc(n, sizeof(bool));
                _cleanup_free_ char *base = NULL;
                if (dockerfile_expand(df->stages[s].base, lookup, &l, df->escape, 0, &base, NULL) ==
                    0) {
                        /* FROM takes names only, not indexes */
                        for (size_t k = 0; k < s; k++)
                                if (df->stages[k].name && strcasecmp(df->stages[k].name, base) == 0)
                                        deps[s][k] = true;
                }
                for (size_t i = 0; i < df->stages[s].n_instructions; i++) {
                        const struct dockerfile_instruction *ins = df->stages[s].instructions[i];
                        const char *from = ins->flags.from;
                        if ((ins->kind != DF_COPY && ins->kind != DF_ADD) || !from || !*from)
                                continue;
                        if (strchr(from, '$')) {
                                for (size_t k = 0; k < s; k++)
                                        deps[s][k] = true;
                                continue;
                        }
                        ssize_t k = stage_named(df, s, from);
                        if (k >= 0)
                                deps[s][k] = true;
                }
        }
        return deps;
}

struct stage_job {
        struct build *b;
        size_t s;
        bool *deps;
        unsigned first_step;
        const struct dockerfile_instruction *labels;
        pthread_t thread;
        bool started;
};

/* The next stages' kept output goes out, in order, while the stage before has finished. */
static void advance_locked(struct build *b)
{
        while (b->live < b->n_stages && (!b->needed[b->live] || b->done[b->live])) {
                if (b->needed[b->live] && b->outs[b->live].r < 0)
                        return; /* a failure: what comes after it is not shown */
                b->live++;
                if (b->live >= b->n_stages || !b->needed[b->live])
                        continue;
                struct stage_out *o = &b->outs[b->live];
                for (size_t i = 0; i < o->n; i++) {
                        if (b->o->emit(o->msgs[i], b->o->userdata) < 0)
                                b->failed = true;
                        b->emitted = true;
                        json_free(o->msgs[i]);
                }
                o->n = 0;
        }
}

static int run_stage(struct stage_job *j, struct berth_error **err)
{
        struct build *b = j->b;
        const struct dockerfile_stage *ds = &b->df->stages[j->s];
        struct stage st = {.b = b, .index = j->s};
        unsigned step = j->first_step;
        int r = print_step(b, &step, ds->from->original) < 0 ? gone(err) : 0;
        if (r == 0)
                r = stage_from(&st, ds, err);
        if (r == 0)
                r = say_id(&st, err);
        size_t n = ds->n_instructions + (j->labels ? 1 : 0);
        for (size_t k = 0; r == 0 && k < n; k++) {
                const struct dockerfile_instruction *ins =
                    k < ds->n_instructions ? ds->instructions[k] : j->labels;
                pthread_mutex_lock(&b->lock);
                bool stop = b->failed;
                pthread_mutex_unlock(&b->lock);
                if (stop) {
                        r = berth_error_set(err, ECANCELED, "another stage failed");
                        break;
                }
                r = print_step(b, &step, ins->original) < 0 ? gone(err) : 0;
                /* dockerd's updateRunConfig: Image names the step's parent */
                json_set_str(st.config, "Image", st.image);
                long long t0 = mono_us();
                if (r == 0)
                        r = dispatch(&st, ins, err);
                log_debug("build: step %u (%s) in %lld ms", step, dockerfile_kind_name(ins->kind),
                          (mono_us() - t0) / 1000);
                if (r == 0)
                        r = say_id(&st, err);
        }
        if (r == 0 && *st.image) {
                struct json *m = json_new_object();
                json_object_set(m, "aux", json_new_object());
                json_set_str(json_get(m, "aux"), "ID", st.image);
                if (route(b, m) < 0)
                        r = gone(err);
                json_free(m);
        }
        pthread_mutex_lock(&b->lock);
        if (r == 0)
                b->stage_ids[j->s] = TAKE_PTR(st.image);
        pthread_mutex_unlock(&b->lock);
        stage_release(&st);
        return r;
}

static void *stage_thread(void *arg)
{
        struct stage_job *j = arg;
        struct build *b = j->b;
        struct stage_out *o = &b->outs[j->s];
        cur_build = b;
        cur_out = o;
        /* the stages it needs first */
        pthread_mutex_lock(&b->lock);
        for (;;) {
                bool ready = true, dep_failed = false;
                for (size_t k = 0; k < j->s; k++) {
                        if (!j->deps[k])
                                continue;
                        ready &= b->done[k];
                        dep_failed |= b->done[k] && b->outs[k].r < 0;
                }
                if (dep_failed || b->failed) {
                        o->r = berth_error_set(&o->err, ECANCELED, "another stage failed");
                        break;
                }
                if (ready)
                        break;
                pthread_cond_wait(&b->cond, &b->lock);
        }
        pthread_mutex_unlock(&b->lock);
        if (o->r == 0)
                o->r = run_stage(j, &o->err);
        pthread_mutex_lock(&b->lock);
        b->done[j->s] = true;
        if (o->r < 0)
                b->failed = true;
        advance_locked(b);
        pthread_cond_broadcast(&b->cond);
        pthread_mutex_unlock(&b->lock);
        cur_out = NULL;
        cur_build = NULL;
        return NULL;
}

static int run_stages(struct build *b, size_t last, const struct dockerfile_instruction *labels,
                      struct berth_error **err)
{
        struct dockerfile *df = b->df;
        unsigned step = 0;
        for (size_t i = 0; i < df->n_meta_args; i++) {
                const struct dockerfile_instruction *a = df->meta_args[i];
                for (size_t k = 0; k < a->n_kvs; k++) {
                        const struct dockerfile_kv *kv = &a->kvs[k];
                        _cleanup_free_ char *val = NULL;
                        if (kv->value) {
                                _cleanup_strv_free_ char **margs = NULL;
                                meta_lookup_args(b, &margs);
                                struct lookup_ctx l = {NULL, margs};
                                int r = dockerfile_expand(kv->value, lookup, &l, df->escape, 0,
                                                          &val, err);
                                if (r < 0)
                                        return r;
                        }
                        json_object_set(b->meta_args, kv->key,
                                        val ? json_new_string(val) : json_new_null());
                        json_object_set(b->consumed, kv->key, json_new_bool(true));
                }
        }
        size_t n = last + 1;
        for (size_t s = 0; s < n; s++)
                for (size_t k = 0; k < s; k++)
                        if (df->stages[s].name && df->stages[k].name &&
                            strcmp(df->stages[s].name, df->stages[k].name) == 0)
                                return berth_error_set(err, EINVAL, "duplicate name %s",
                                                       df->stages[s].name);
        /* the stages the target needs, as BuildKit: the others are not built */
        b->n_stages = n;
        b->stage_ids = xcalloc(n, sizeof(char *));
        b->needed = xcalloc(n, sizeof(bool));
        b->done = xcalloc(n, sizeof(bool));
        b->outs = xcalloc(n, sizeof(struct stage_out));
        bool **deps = stage_deps(b, n);
        b->needed[last] = true;
        for (size_t s = n; s-- > 0;)
                if (b->needed[s])
                        for (size_t k = 0; k < s; k++)
                                b->needed[k] |= deps[s][k];
        b->total = (unsigned)df->n_meta_args;
        for (size_t s = 0; s < n; s++)
                if (b->needed[s])
                        b->total += 1 + (unsigned)df->stages[s].n_instructions +
                                    (labels && s == last ? 1 : 0);
        for (size_t i = 0; i < df->n_meta_args; i++)
                if (print_step(b, &step, df->meta_args[i]->original) < 0) {
                        for (size_t k = 0; k < n; k++)
                                free(deps[k]);
                        free(deps);
                        return gone(err);
                }
        b->live = 0;
        while (b->live < n && !b->needed[b->live])
                b->live++;
        /* a thread per stage; each waits for the stages it needs */
        struct stage_job *jobs = xcalloc(n, sizeof(*jobs));
        unsigned first = step;
        for (size_t s = 0; s < n; s++) {
                if (!b->needed[s])
                        continue;
                jobs[s] = (struct stage_job){.b = b,
                                             .s = s,
                                             .deps = deps[s],
                                             .first_step = first,
                                             .labels = s == last ? labels : NULL};
                first += 1 + (unsigned)df->stages[s].n_instructions + (jobs[s].labels ? 1 : 0);
        }
        for (size_t s = 0; s < n; s++) {
                if (!b->needed[s])
                        continue;
                if (pthread_create(&jobs[s].thread, NULL, stage_thread, &jobs[s]) == 0) {
                        jobs[s].started = true;
                        continue;
                }
                /* no thread: this stage runs here, after those before it */
                for (size_t k = 0; k < s; k++)
                        if (jobs[k].started) {
                                pthread_join(jobs[k].thread, NULL);
                                jobs[k].started = false;
                        }
                stage_thread(&jobs[s]);
        }
        for (size_t s = 0; s < n; s++)
                if (jobs[s].started)
                        pthread_join(jobs[s].thread, NULL);
        free(jobs);
        for (size_t s = 0; s < n; s++)
                free(deps[s]);
        free(deps);
        /* the first stage in order that failed on its own (not stopped for another's) */
        int r = 0;
        for (size_t s = 0; s < n && r == 0; s++) {
                struct stage_out *o = &b->outs[s];
                if (!b->needed[s] || o->r == 0 || (o->err && o->err->code == ECANCELED))
                        continue;
                /* its kept output goes out before its error */
                for (size_t i = 0; i < o->n; i++) {
                        (void)b->o->emit(o->msgs[i], b->o->userdata);
                        b->emitted = true;
                }
                r = o->r;
                b->code = o->code;
                if (err) {
                        *err = o->err;
                        o->err = NULL;
                }
        }
        for (size_t s = 0; s < n && r == 0; s++)
                if (b->needed[s] && b->outs[s].r < 0) {
                        r = b->outs[s].r; /* only cancelled ones: the client went away */
                        if (err) {
                                *err = b->outs[s].err;
                                b->outs[s].err = NULL;
                        }
                }
        return r;
}

int berth_build(struct berth_engine *e, const struct berth_build_opts *o, char **ret_id,
                bool *ret_emitted, int *ret_code, struct berth_error **err)
{
        struct build b = {.e = e, .o = o, .ctxfd = -EBADF, .ctx_dirfd = -EBADF};
        pthread_mutex_init(&b.lock, NULL);
        pthread_cond_init(&b.cond, NULL);
        b.meta_args = json_new_object();
        b.consumed = json_new_object();
        *ret_emitted = false;
        *ret_code = 0;
        /* tags are checked before anything is read */
        for (char *const *t = o->tags; t && *t; t++) {
                _cleanup_free_ char *ref = NULL;
                int r = image_new_reference(*t, NULL, &ref, err);
                if (r < 0 || !ref) {
                        build_release(&b);
                        return r < 0 ? r : berth_error_set(err, EINVAL, "invalid tag %s", *t);
                }
        }
        int r = receive_context(&b, err);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (r == 0)
                r = read_dockerfile(&b, &text, &len, err);
        if (r == 0)
                r = dockerfile_parse(text, len, &b.df, err);
        _cleanup_dockerfile_ struct dockerfile *label_df = NULL;
        if (r == 0)
                r = labels_instruction(&b, &label_df, err);
        size_t last = 0;
        if (r == 0 && b.df->n_stages == 0)
                r = berth_error_set(err, EINVAL, "file with no instructions");
        if (r == 0) {
                last = b.df->n_stages - 1;
                if (o->target && *o->target) {
                        bool found = false;
                        for (size_t s = 0; s < b.df->n_stages && !found; s++)
                                if (b.df->stages[s].name &&
                                    strcasecmp(b.df->stages[s].name, o->target) == 0) {
                                        last = s;
                                        found = true;
                                }
                        if (!found)
                                r = berth_error_set(err, EINVAL,
                                                    "failed to reach build target %s in Dockerfile",
                                                    o->target);
                }
        }
        const struct dockerfile_instruction *labels =
            label_df && label_df->n_stages && label_df->stages[0].n_instructions
                ? label_df->stages[0].instructions[0]
                : NULL;
        for (size_t i = 0; r == 0 && i < b.df->n_directives; i++)
                if (strcmp(b.df->directives[i].name, "syntax") == 0 &&
                    build_say(&b,
                              "Note: the syntax directive (%s) is ignored: berth reads the "
                              "Dockerfile with its own frontend\n",
                              b.df->directives[i].value) < 0)
                        r = gone(err);
        if (r == 0) {
                b.total = (unsigned)b.df->n_meta_args;
                r = run_stages(&b, last, labels, err);
        }
        const char *final_id = r == 0 && b.n_stages ? b.stage_ids[b.n_stages - 1] : NULL;
        if (r == 0 && (!final_id || !*final_id))
                r = berth_error_set(err, EINVAL,
                                    "No image was generated. Is your Dockerfile empty?");
        if (r == 0) {
                /* build args nobody declared */
                struct berth_buf unused = {0};
                const struct json *ba = o->buildargs;
                size_t n = json_is(ba, JSON_OBJECT) ? json_len(ba) : 0;
                char **names = xcalloc(n + 1, sizeof(char *));
                size_t k = 0;
                for (size_t i = 0; i < n; i++)
                        if (!json_get(b.consumed, ba->obj.m[i].key) &&
                            !is_builtin_arg(ba->obj.m[i].key))
                                names[k++] = xstrdup(ba->obj.m[i].key);
                qsort(names, k, sizeof(char *), cmp_str);
                for (size_t i = 0; i < k; i++) {
                        if (i)
                                buf_putc(&unused, ' ');
                        buf_puts(&unused, names[i]);
                }
                strv_free(names);
                _cleanup_free_ char *list = buf_steal(&unused);
                if (k && build_say(&b, "[Warning] One or more build-args [%s] were not consumed\n",
                                   list) < 0)
                        r = gone(err);
        }
        if (r == 0) {
                _cleanup_free_ char *short_id = units_truncate_id(final_id);
                if (build_say(&b, "Successfully built %s\n", short_id) < 0)
                        r = gone(err);
        }
        for (char *const *t = o->tags; r == 0 && t && *t; t++) {
                _cleanup_free_ char *ref = NULL;
                r = image_new_reference(*t, NULL, &ref, err);
                if (r == 0)
                        r = berth_image_tag(e, final_id, ref, err);
                if (r == 0) {
                        _cleanup_free_ char *shown = berth_image_familiar(ref);
                        if (build_say(&b, "Successfully tagged %s\n", shown) < 0)
                                r = gone(err);
                }
        }
        if (r == 0 && o->quiet) {
                struct json *m = json_new_object();
                _cleanup_free_ char *line = xasprintf("%s\n", final_id);
                json_set_str(m, "stream", line);
                (void)o->emit(m, o->userdata);
                json_free(m);
                b.emitted = true;
        }
        if (r < 0 && o->quiet && b.quiet.len) {
                struct json *m = json_new_object();
                json_object_set(m, "stream", json_new_stringn(b.quiet.data, b.quiet.len));
                (void)o->emit(m, o->userdata);
                json_free(m);
                b.emitted = true;
        }
        if (r == 0)
                *ret_id = xstrdup(final_id);
        *ret_emitted = b.emitted;
        *ret_code = b.code;
        build_release(&b);
        return r;
}

/* ---- the cache as system df and builder prune see it ---- */

void berth_build_cache_entries_free(struct berth_build_cache_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].id);
                free(v[i].parent);
                free(v[i].description);
        }
        free(v);
}

int berth_build_cache_list(struct berth_engine *e, struct berth_build_cache_entry **ret,
                           size_t *ret_n, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *q = NULL;
        /* the cache's own images: no name, and another image stacked on them (a dangling
         * build result counts as an image, as dockerd's df lists it); each one's size is what
         * it adds to its parent */
        if (sqlite3_prepare_v2(h,
                               "SELECT c.image_id, c.parent, c.created, c.last_used,"
                               " c.usage_count, i.size - COALESCE(p.size, 0) FROM build_cache c"
                               " JOIN images i ON i.id = c.image_id LEFT JOIN images p"
                               " ON p.id = c.parent WHERE NOT EXISTS (SELECT 1 FROM tags t"
                               " WHERE t.image_id = c.image_id) AND NOT EXISTS (SELECT 1 FROM"
                               " repo_digests d WHERE d.image_id = c.image_id) AND EXISTS"
                               " (SELECT 1 FROM images k WHERE k.parent = c.image_id)"
                               " ORDER BY c.created",
                               -1, &q, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "build cache: %s", sqlite3_errmsg(h));
        struct berth_build_cache_entry *v = NULL;
        size_t n = 0;
        while (sqlite3_step(q) == SQLITE_ROW) {
                v = xrealloc(v, (n + 1) * sizeof(*v));
                struct berth_build_cache_entry *c = &v[n++];
                *c = (struct berth_build_cache_entry){0};
                c->id = xstrdup((const char *)sqlite3_column_text(q, 0));
                c->parent = xstrdup((const char *)sqlite3_column_text(q, 1));
                c->created = sqlite3_column_int64(q, 2);
                c->last_used = sqlite3_column_int64(q, 3);
                c->usage_count = sqlite3_column_int64(q, 4);
                c->size = sqlite3_column_int64(q, 5);
                if (c->size < 0)
                        c->size = 0;
                c->description = xstrdup("classic builder step");
                c->in_use = berth_ctr_image_user(e, c->id, NULL, NULL) > 0;
        }
        sqlite3_finalize(q);
        *ret = v;
        *ret_n = n;
        return 0;
}

int berth_build_cache_prune(struct berth_engine *e, bool all, int64_t unused_for_s,
                            char ***ret_deleted, uint64_t *ret_reclaimed, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *q = NULL;
        int64_t cutoff = unused_for_s > 0 ? (int64_t)time(NULL) - unused_for_s : INT64_MAX;
        /* the rows going, and which of their images have no name */
        if (sqlite3_prepare_v2(
                h,
                "SELECT c.image_id, EXISTS (SELECT 1 FROM tags t WHERE t.image_id ="
                " c.image_id) OR EXISTS (SELECT 1 FROM repo_digests d WHERE"
                " d.image_id = c.image_id) FROM build_cache c WHERE c.last_used <= ?1",
                -1, &q, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "build cache: %s", sqlite3_errmsg(h));
        sqlite3_bind_int64(q, 1, cutoff);
        char **ids = NULL;
        size_t n = 0;
        bool named_rows = false;
        while (sqlite3_step(q) == SQLITE_ROW) {
                if (sqlite3_column_int(q, 1)) {
                        named_rows = true;
                        continue;
                }
                ids = xrealloc(ids, (n + 2) * sizeof(char *));
                ids[n++] = xstrdup((const char *)sqlite3_column_text(q, 0));
                ids[n] = NULL;
        }
        sqlite3_finalize(q);
        (void)named_rows;
        int64_t before = 0, after = 0;
        (void)berth_db_query_int(e->db, "SELECT COALESCE(SUM(size), 0) FROM layers", &before, NULL);
        const char *sql = all ? "DELETE FROM build_cache WHERE last_used <= ?1"
                              : "DELETE FROM build_cache WHERE last_used <= ?1 AND NOT EXISTS"
                                " (SELECT 1 FROM tags t WHERE t.image_id = build_cache.image_id)";
        if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) != SQLITE_OK) {
                strv_free(ids);
                return berth_error_set(err, EIO, "build cache: %s", sqlite3_errmsg(h));
        }
        sqlite3_bind_int64(q, 1, cutoff);
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
                strv_free(ids);
                return berth_error_set(err, EIO, "build cache: %s", sqlite3_errmsg(h));
        }
        char **deleted = xcalloc(n + 1, sizeof(char *));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (berth_ctr_image_user(e, ids[i], NULL, NULL) > 0)
                        continue;
                _cleanup_json_ struct json *actions = NULL;
                _cleanup_error_ struct berth_error *rerr = NULL;
                if (berth_image_remove(e, ids[i], false, &actions, &rerr) == 0)
                        deleted[k++] = xstrdup(ids[i]);
                else if (rerr && rerr->code != ENOENT)
                        log_info("builder prune: keep %s: %s", ids[i], berth_error_msg(rerr));
        }
        strv_free(ids);
        /* RUN --mount=type=cache directories are cache too */
        uint64_t mount_bytes = 0;
        int n_mounts = build_cache_mounts_prune(e, &mount_bytes);
        for (int i = 0; i < n_mounts; i++) {
                deleted = xrealloc(deleted, (k + 2) * sizeof(char *));
                deleted[k++] = xasprintf("cache-mount-%d", i + 1);
                deleted[k] = NULL;
        }
        berth_layers_collect(e->layers);
        (void)berth_db_query_int(e->db, "SELECT COALESCE(SUM(size), 0) FROM layers", &after, NULL);
        *ret_deleted = deleted;
        *ret_reclaimed = (before > after ? (uint64_t)(before - after) : 0) + mount_bytes;
        return 0;
}
