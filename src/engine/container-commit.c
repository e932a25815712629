/*
 * container-commit.c — POST /commit (`docker commit`): a container's changes
 * as a new image on top of its own (contract in commit.h).
 *
 * The layer is the container's overlay upper dir as image/tar-writer.h walks
 * it (by fd, never following a symlink), with whiteouts and opaque
 * directories turned into OCI ".wh." entries as dockerd's overlay2 writes
 * them, less the empty mount-point placeholders berth makes at start where
 * dockerd has its init layer (container-changes.c leaves them out of `docker
 * diff` for the same reason).  The config follows daemon/commit.go: the
 * request's Config or else the container's, the changes applied, then merged
 * with the container's Config; container_config is the container's Config
 * and the history entry's created_by its Cmd joined by spaces.
 *
 * Pausing (asked by default) freezes a running container for the walk, so the
 * layer is a consistent picture; it is unpaused after, whatever happened.
 *
 * Never: take the container's operation lock around a pause (pause takes it),
 * or archive anything the upper dir does not hold.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/version.h"
#include "commit.h"
#include "container-internal.h"
#include "image/snapshot.h"
#include "image/tar-writer.h"
#include "images.h"

/* ---- the config ---- */

/* A Docker Config in Go's member order, empty optional members left out as Go does. */
static struct json *config_canonical(const struct json *c)
{
        static const struct {
                const char *key;
                char kind; /* s string, b bool, v value (null when absent), o omitempty */
        } members[] = {
            {"Hostname", 's'},        {"Domainname", 's'},   {"User", 's'},
            {"AttachStdin", 'b'},     {"AttachStdout", 'b'}, {"AttachStderr", 'b'},
            {"ExposedPorts", 'o'},    {"Tty", 'b'},          {"OpenStdin", 'b'},
            {"StdinOnce", 'b'},       {"Env", 'v'},          {"Cmd", 'v'},
            {"Healthcheck", 'o'},     {"ArgsEscaped", 'o'},  {"Image", 's'},
            {"Volumes", 'v'},         {"WorkingDir", 's'},   {"Entrypoint", 'v'},
            {"NetworkDisabled", 'o'}, {"MacAddress", 'o'},   {"OnBuild", 'v'},
            {"Labels", 'v'},          {"StopSignal", 'o'},   {"StopTimeout", 'o'},
            {"Shell", 'o'},
        };
        struct json *out = json_new_object();
        for (size_t i = 0; i < ELEMENTSOF(members); i++) {
                const struct json *v = json_get(c, members[i].key);
                switch (members[i].kind) {
                case 's':
                        json_set_str(out, members[i].key, json_str(v) ?: "");
                        break;
                case 'b':
                        json_set_bool(out, members[i].key, json_is(v, JSON_BOOL) && v->b);
                        break;
                case 'v':
                        json_object_set(out, members[i].key, v ? json_copy(v) : json_new_null());
                        break;
                default:
                        if (!v || json_is(v, JSON_NULL) || (json_is(v, JSON_BOOL) && !v->b) ||
                            ((json_is(v, JSON_STRING) || json_is(v, JSON_OBJECT) ||
                              json_is(v, JSON_ARRAY)) &&
                             json_len(v) == 0))
                                break;
                        json_object_set(out, members[i].key, json_copy(v));
                }
        }
        return out;
}

static bool empty_value(const struct json *v)
{
        return !v || json_is(v, JSON_NULL) || json_len(v) == 0;
}

static void fill_string(struct json *u, const struct json *img, const char *key)
{
        const char *s = json_str(json_get(u, key));
        if (!s || !*s)
                json_object_set(u, key, json_copy(json_get(img, key)));
}

static void merge_objects(struct json *u, const struct json *img, const char *key, bool override)
{
        const struct json *from = json_get(img, key);
        if (empty_value(json_get(u, key))) {
                json_object_set(u, key, from ? json_copy(from) : json_new_null());
                return;
        }
        struct json *to = json_get(u, key);
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (from, i, k, v)
                if (override || !json_get(to, k))
                        json_object_set(to, k, json_copy(v));
}

static bool env_has_key(const struct json *env, const char *kv)
{
        size_t n = strcspn(kv, "=");
        size_t i;
        const struct json *it;
        json_array_foreach (env, i, it) {
                const char *s = json_str(it);
                if (s && strcspn(s, "=") == n && strncmp(s, kv, n) == 0)
                        return true;
        }
        return false;
}

/* daemon/commit.go's merge(userConf, imageConf). */
static void config_merge(struct json *u, const struct json *img)
{
        fill_string(u, img, "User");
        merge_objects(u, img, "ExposedPorts", false);
        if (empty_value(json_get(u, "Env"))) {
                json_object_set(u, "Env", json_copy(json_get(img, "Env")) ?: json_new_null());
        } else {
                struct json *env = json_get(u, "Env");
                size_t i;
                const struct json *it;
                json_array_foreach (json_get(img, "Env"), i, it)
                        if (json_str(it) && !env_has_key(env, json_str(it)))
                                json_array_append(env, json_copy(it));
        }
        if (!json_is(json_get(u, "Labels"), JSON_OBJECT))
                json_object_set(u, "Labels", json_new_object());
        merge_objects(u, img, "Labels", false);
        if (empty_value(json_get(u, "Entrypoint"))) {
                if (empty_value(json_get(u, "Cmd"))) {
                        json_object_set(u, "Cmd",
                                        json_copy(json_get(img, "Cmd")) ?: json_new_null());
                        json_object_set(u, "ArgsEscaped",
                                        json_copy(json_get(img, "ArgsEscaped")) ?: json_new_null());
                }
                const struct json *ue = json_get(u, "Entrypoint");
                if (!ue || json_is(ue, JSON_NULL))
                        json_object_set(u, "Entrypoint",
                                        json_copy(json_get(img, "Entrypoint")) ?: json_new_null());
        }
        const struct json *ih = json_get(img, "Healthcheck");
        struct json *uh = json_get(u, "Healthcheck");
        if (json_is(ih, JSON_OBJECT)) {
                if (!json_is(uh, JSON_OBJECT)) {
                        json_object_set(u, "Healthcheck", json_copy(ih));
                } else {
                        static const char *const keys[] = {"Test", "Interval", "Timeout",
                                                           "StartPeriod", "Retries"};
                        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                                if (empty_value(json_get(uh, keys[i])) ||
                                    (json_is(json_get(uh, keys[i]), JSON_NUMBER) &&
                                     jint(uh, keys[i]) == 0))
                                        if (json_get(ih, keys[i]))
                                                json_object_set(uh, keys[i],
                                                                json_copy(json_get(ih, keys[i])));
                }
        }
        fill_string(u, img, "WorkingDir");
        merge_objects(u, img, "Volumes", true);
        fill_string(u, img, "StopSignal");
}

/* strings.Join(Cmd, " ") */
char *image_join_cmd(const struct json *cmd)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "");
        size_t i;
        const struct json *it;
        json_array_foreach (cmd, i, it) {
                if (i)
                        buf_putc(&b, ' ');
                buf_puts(&b, json_str(it) ?: "");
        }
        return buf_steal(&b);
}

/* ---- the layer ---- */

/* Whether every entry of directory fd passes ok (an empty one: true). */
static bool dir_all(int fd, bool (*ok)(int dfd, const char *name))
{
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return false;
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return false;
        }
        bool all = true;
        struct dirent *de;
        while (all && (de = readdir(d)))
                all = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                      ok(dirfd(d), de->d_name);
        closedir(d);
        return all;
}

static bool never(int dfd, const char *name)
{
        (void)dfd;
        (void)name;
        return false;
}

/* A placeholder berth makes in /etc for a mount point where dockerd has its init layer. */
static bool etc_placeholder(int dfd, const char *name)
{
        struct stat st;
        return (strcmp(name, "hostname") == 0 || strcmp(name, "hosts") == 0 ||
                strcmp(name, "resolv.conf") == 0) &&
               fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
               st.st_size == 0;
}

static bool skip_placeholder(const char *name, int fd, const struct stat *st, void *userdata)
{
        (void)userdata;
        static const char *const files[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf",
                                            ".dockerenv"};
        static const char *const dirs[] = {"dev", "proc", "sys"};
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (strcmp(name, files[i]) == 0)
                        return S_ISREG(st->st_mode) && st->st_size == 0;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (strcmp(name, dirs[i]) == 0)
                        return S_ISDIR(st->st_mode) && dir_all(fd, never);
        /* /etc copied up only for those placeholders (dockerd has them in its init layer) */
        if (strcmp(name, "etc") == 0 && S_ISDIR(st->st_mode))
                return dir_all(fd, etc_placeholder);
        return false;
}

struct upper_tar {
        int upper; /* O_PATH, or -1 when the container never started */
        commit_tar_write_fn write;
        void *wud;
        struct berth_error *werr;
};

static int upper_sink(const void *buf, size_t len, void *userdata)
{
        struct upper_tar *u = userdata;
        return u->write(buf, len, u->wud, u->werr ? NULL : &u->werr);
}

static int upper_tar(commit_tar_write_fn write, void *wud, void *userdata, struct berth_error **err)
{
        struct upper_tar *u = userdata;
        u->write = write;
        u->wud = wud;
        _cleanup_tarw_ struct tarw *w = tarw_new(upper_sink, u);
        tarw_set_overlay_whiteouts(w, true);
        tarw_set_skip(w, skip_placeholder, NULL);
        int r = u->upper >= 0 ? tarw_add_fd(w, u->upper, "", err) : 0;
        if (r == 0)
                r = tarw_finish(w, err);
        if (r < 0 && u->werr && err) {
                berth_error_free(*err);
                *err = TAKE_PTR(u->werr);
        }
        berth_error_free(u->werr);
        u->werr = NULL;
        return r;
}

/* ---- commit ---- */

/* The image config dockerd writes for a commit or a build step: the parent's platform, the
 * two configs, the container's id (or ""), the time and berth's version. */
static struct json *image_config(const struct json *parent, const char *arch_default,
                                 const char *author, const char *comment, const struct json *config,
                                 const char *container_id, const struct json *container_config,
                                 const char *now)
{
        struct json *cfg = json_new_object();
        const char *arch = json_str(json_get(parent, "architecture"));
        json_set_str(cfg, "architecture", arch ? arch : arch_default ? arch_default : "amd64");
        if (author && *author)
                json_set_str(cfg, "author", author);
        if (comment && *comment)
                json_set_str(cfg, "comment", comment);
        json_object_set(cfg, "config", config_canonical(config));
        json_set_str(cfg, "container", container_id);
        json_object_set(cfg, "container_config", config_canonical(container_config));
        json_set_str(cfg, "created", now);
        json_set_str(cfg, "docker_version", berth_version);
        const char *os = json_str(json_get(parent, "os"));
        json_set_str(cfg, "os", os ? os : "linux");
        static const char *const keep[] = {"variant", "os.version", "os.features"};
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                if (json_get(parent, keep[i]))
                        json_object_set(cfg, keep[i], json_copy(json_get(parent, keep[i])));
        return cfg;
}

static int read_parent(struct berth_engine *e, const char *id, struct json **ret,
                       struct berth_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = blob_store_read(e->store, id, 16u << 20, &buf, &len, err);
        if (r == 0)
                r = json_parse(buf, len, ret, err);
        return r < 0 ? berth_error_prefix(err, "image %s", id) : 0;
}

static int commit_locked(struct berth_engine *e, struct berth_ctr *c,
                         const struct berth_commit_opts *o, char **ret_id, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_json_ struct json *parent = NULL;
        int r = read_parent(e, c->image_id, &parent, err);
        if (r < 0)
                return r;
        const struct json *base =
            json_is(o->config, JSON_OBJECT) && json_len(o->config) ? o->config : c->config;
        _cleanup_json_ struct json *config = json_copy(base);
        r = berth_config_apply_changes(config, o->changes, err);
        if (r < 0)
                return r;
        config_merge(config, c->config);
        _cleanup_free_ char *now = image_new_time();
        struct json *cfg =
            image_config(parent, NULL, o->author, o->comment, config, c->id, c->config, now);
        _cleanup_json_ struct json *hist = json_new_object();
        json_set_str(hist, "created", now);
        if (o->author && *o->author)
                json_set_str(hist, "author", o->author);
        _cleanup_free_ char *created_by = image_join_cmd(json_get(c->config, "Cmd"));
        if (*created_by)
                json_set_str(hist, "created_by", created_by);
        if (o->comment && *o->comment)
                json_set_str(hist, "comment", o->comment);
        _cleanup_free_ char *upper_path = snapshot_path(m->data_root, c->id, "upper");
        _cleanup_close_ int upper = open(upper_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (upper < 0 && errno != ENOENT) {
                json_free(cfg);
                return berth_error_sys(err, errno, "open '%s'", upper_path);
        }
        struct upper_tar ut = {.upper = upper};
        struct image_new n = {
            .parent_id = c->image_id,
            .config = cfg,
            .history = hist,
            .repo = o->repo,
            .tag = o->tag,
            .skip_empty = true,
        };
        r = image_new_record(e, &n, upper_tar, &ut, ret_id, err);
        json_free(cfg);
        return r;
}

int berth_container_commit(struct berth_engine *e, const struct berth_commit_opts *o, char **ret_id,
                           struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_ctr_ struct berth_ctr *c = NULL;
        _cleanup_free_ char *ref = NULL;
        int r = image_new_reference(o->repo, o->tag, &ref, err);
        if (r < 0)
                return r;
        r = berth_ctr_get(e, o->container, &c, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&m->lock);
        enum ctr_state st = c->state;
        bool gone = c->removed;
        pthread_mutex_unlock(&m->lock);
        if (gone || st == CTR_REMOVING)
                return berth_error_set(
                    err, EBUSY, "You cannot commit container %s which is being removed", c->id);
        if (st == CTR_DEAD)
                return berth_error_set(err, EBUSY, "You cannot commit container %s which is Dead",
                                       c->id);
        bool paused = false;
        if (o->pause && st == CTR_RUNNING)
                paused = berth_ctr_pause(e, c, true, NULL) == 0;
        pthread_mutex_lock(&c->op_lock);
        r = commit_locked(e, c, o, ret_id, err);
        pthread_mutex_unlock(&c->op_lock);
        if (paused)
                (void)berth_ctr_pause(e, c, false, NULL);
        if (r < 0)
                return r;
        _cleanup_free_ char *shown = ref ? berth_image_familiar(ref) : xstrdup("");
        const char *extra[] = {
            "comment", o->comment ? o->comment : "", "imageID", *ret_id, "imageRef", shown, NULL};
        ctr_event(e, c, "commit", extra);
        return 0;
}

/* ---- the builder's steps ---- */

/* An empty tar: its two zero end blocks (docker's empty layer, which adds none). */
static int empty_tar(commit_tar_write_fn write, void *wud, void *userdata, struct berth_error **err)
{
        static const char zeros[1024];
        (void)userdata;
        return write(zeros, sizeof(zeros), wud, err);
}

int build_commit(struct berth_engine *e, const struct build_commit *b, char **ret_id,
                 struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_json_ struct json *parent = NULL;
        if (b->parent_id && *b->parent_id) {
                int r = read_parent(e, b->parent_id, &parent, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *now = b->created ? xstrdup(b->created) : image_new_time();
        struct json *cfg = image_config(parent, b->architecture, b->author, NULL, b->config,
                                        b->ctr ? b->ctr->id : "", b->container_config, now);
        _cleanup_json_ struct json *hist = json_new_object();
        json_set_str(hist, "created", now);
        if (b->author && *b->author)
                json_set_str(hist, "author", b->author);
        _cleanup_free_ char *created_by = image_join_cmd(json_get(b->container_config, "Cmd"));
        if (*created_by)
                json_set_str(hist, "created_by", created_by);
        struct image_new n = {
            .parent_id = b->parent_id && *b->parent_id ? b->parent_id : NULL,
            .config = cfg,
            .history = hist,
            .skip_empty = true,
        };
        int r;
        if (b->restore) {
                n.reuse = b->reuse;
                n.history_all = b->history_all;
                r = image_new_record_stored(e, &n, ret_id, err);
        } else if (b->ctr) {
                _cleanup_free_ char *upper_path = snapshot_path(m->data_root, b->ctr->id, "upper");
                _cleanup_close_ int upper =
                    open(upper_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (upper < 0 && errno != ENOENT) {
                        json_free(cfg);
                        return berth_error_sys(err, errno, "open '%s'", upper_path);
                }
                struct upper_tar ut = {.upper = upper};
                pthread_mutex_lock(&b->ctr->op_lock);
                r = image_new_record(e, &n, upper_tar, &ut, ret_id, err);
                pthread_mutex_unlock(&b->ctr->op_lock);
        } else if (b->has_dir) {
                struct upper_tar ut = {.upper = b->dir_fd};
                r = image_new_record(e, &n, upper_tar, &ut, ret_id, err);
        } else {
                r = image_new_record(e, &n, empty_tar, NULL, ret_id, err);
        }
        json_free(cfg);
        return r;
}
