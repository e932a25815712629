/*
 * volumes.c — the local volume driver and the volume records (contract in
 * volumes.h).
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "containers.h"
#include "volumes.h"

#define TRASH_PREFIX ".trash-"

/* Volumes with driver options in use by running containers: mounted while n > 0. */
struct active {
        struct active *next;
        char *name;
        unsigned n;
};

struct berth_volumes {
        pthread_mutex_t lock;
        char *root;            /* <data-root>/volumes */
        struct active *active; /* under lock */
};

void berth_volumes_lock(struct berth_engine *e)
{
        pthread_mutex_lock(&e->volumes->lock);
}

void berth_volumes_unlock(struct berth_engine *e)
{
        pthread_mutex_unlock(&e->volumes->lock);
}

char *berth_volume_data_path(struct berth_engine *e, const char *name)
{
        return xasprintf("%s/%s/_data", e->volumes->root, name);
}

int berth_volume_check_name(const char *name, struct berth_error **err)
{
        if (strlen(name) < 2)
                return berth_error_set(err, EINVAL,
                                       "create %s: volume name is too short, names should be at "
                                       "least two alphanumeric characters",
                                       name);
        bool ok = (name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
                  (name[0] >= '0' && name[0] <= '9');
        for (const char *p = name + 1; ok && *p; p++)
                ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-';
        if (!ok)
                return berth_error_set(err, EINVAL,
                                       "create %s: \"%s\" includes invalid characters for a local "
                                       "volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are "
                                       "allowed. If you intended to pass a host directory, use "
                                       "absolute path",
                                       name, name);
        return 0;
}

/* ---- rows ---- */

struct vol_row {
        char *name, *driver;
        int64_t created;               /* seconds */
        struct json *options, *labels; /* NULL: null */
};

static void vol_row_release(struct vol_row *v)
{
        free(v->name);
        free(v->driver);
        json_free(v->options);
        json_free(v->labels);
        memset(v, 0, sizeof(*v));
}

static struct json *json_column(sqlite3_stmt *st, int col)
{
        const char *t = (const char *)sqlite3_column_text(st, col);
        struct json *j = NULL;
        if (t && json_parse(t, strlen(t), &j, NULL) == 0 && json_is(j, JSON_OBJECT))
                return j;
        json_free(j);
        return NULL;
}

static void row_from(sqlite3_stmt *st, struct vol_row *v)
{
        v->name = xstrdup((const char *)sqlite3_column_text(st, 0));
        const char *d = (const char *)sqlite3_column_text(st, 1);
        v->driver = xstrdup(d ? d : "local");
        v->created = sqlite3_column_int64(st, 2);
        v->options = json_column(st, 3);
        v->labels = json_column(st, 4);
}

#define ROW_COLUMNS "name, driver, created, options, labels"

/* 1 found, 0 not, < 0 error. */
static int row_get(struct berth_engine *e, const char *name, struct vol_row *ret,
                   struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "SELECT " ROW_COLUMNS " FROM volumes WHERE name = ?1", -1, &st,
                               NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int r = 0;
        if (rc == SQLITE_ROW) {
                row_from(st, ret);
                r = 1;
        } else if (rc != SQLITE_DONE) {
                r = berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        }
        sqlite3_finalize(st);
        return r;
}

static int row_insert(struct berth_engine *e, const struct vol_row *v, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h,
                               "INSERT INTO volumes (" ROW_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5)",
                               -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        _cleanup_free_ char *opts = v->options ? json_dump(v->options, 0) : NULL;
        _cleanup_free_ char *labels = v->labels ? json_dump(v->labels, 0) : NULL;
        sqlite3_bind_text(st, 1, v->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v->driver, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, v->created);
        sqlite3_bind_text(st, 4, opts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, labels, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return berth_error_set(err, EIO, "database: record volume %s: %s", v->name,
                                       sqlite3_errmsg(h));
        return 0;
}

static int row_delete(struct berth_engine *e, const char *name, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "DELETE FROM volumes WHERE name = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return berth_error_set(err, EIO, "database: remove volume %s: %s", name,
                                       sqlite3_errmsg(h));
        return 0;
}

/* ---- JSON ---- */

/* Go's time.RFC3339 in local time, as dockerd prints CreatedAt. */
static void rfc3339_local(int64_t secs, char out[40])
{
        time_t t = (time_t)secs;
        struct tm tm;
        localtime_r(&t, &tm);
        size_t k = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
        long off = tm.tm_gmtoff;
        if (off == 0)
                snprintf(out + k, 40 - k, "Z");
        else
                snprintf(out + k, 40 - k, "%c%02ld:%02ld", off < 0 ? '-' : '+',
                         (off < 0 ? -off : off) / 3600, ((off < 0 ? -off : off) % 3600) / 60);
}

static struct json *vol_json(struct berth_engine *e, const struct vol_row *v)
{
        struct json *j = json_new_object();
        char when[40];
        rfc3339_local(v->created, when);
        json_set_str(j, "CreatedAt", when);
        json_set_str(j, "Driver", v->driver);
        json_object_set(j, "Labels", v->labels ? json_copy(v->labels) : json_new_null());
        _cleanup_free_ char *mp = berth_volume_data_path(e, v->name);
        json_set_str(j, "Mountpoint", mp);
        json_set_str(j, "Name", v->name);
        json_object_set(j, "Options", v->options ? json_copy(v->options) : json_new_null());
        json_set_str(j, "Scope", "local");
        return j;
}

/* ---- create ---- */

/* size - 1 hex digits (size odd, at most 65). */
static void random_name(char *out, size_t size)
{
        uint8_t b[32];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                abort(); /* getrandom without GRND_NONBLOCK does not fail once seeded */
        for (size_t i = 0; i < sizeof(b) && 2 * i + 2 < size; i++)
                snprintf(out + 2 * i, 3, "%02x", b[i]);
        out[size - 1] = '\0';
}

/* The local driver's options: type, device, o (dockerd's set without quota support). */
static int check_options(const char *name, const struct json *opts, struct berth_error **err)
{
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (opts, i, k, v) {
                if (strcmp(k, "size") == 0)
                        return berth_error_set(err, EINVAL,
                                               "create %s: quota size requested but no quota "
                                               "support",
                                               name);
                if (strcmp(k, "type") && strcmp(k, "device") && strcmp(k, "o"))
                        return berth_error_set(err, EINVAL, "create %s: invalid option: \"%s\"",
                                               name, k);
                if (!json_str(v))
                        return berth_error_set(
                            err, EINVAL, "create %s: option \"%s\" must be a string", name, k);
        }
        return 0;
}

static int create_locked(struct berth_engine *e, const char *name, const char *driver,
                         const struct json *opts, const struct json *labels, struct json **ret,
                         bool *ret_created, struct berth_error **err)
{
        char generated[65];
        if (!name || !*name) {
                random_name(generated, sizeof(generated));
                name = generated;
        }
        if (!driver || !*driver)
                driver = "local";
        struct vol_row v = {0};
        int r = row_get(e, name, &v, err);
        if (r < 0)
                return r;
        if (r == 1) {
                if (strcmp(v.driver, driver) != 0) {
                        r = berth_error_set(err, EBUSY,
                                            "create %s: volume name already exists with a "
                                            "different driver: %s",
                                            name, v.driver);
                        vol_row_release(&v);
                        return r;
                }
                if (ret)
                        *ret = vol_json(e, &v);
                if (ret_created)
                        *ret_created = false;
                vol_row_release(&v);
                return 0;
        }
        if (strcmp(driver, "local") != 0)
                return berth_error_set(err, ENOENT,
                                       "create %s: error looking up volume plugin %s: plugin "
                                       "\"%s\" not found",
                                       name, driver, driver);
        r = berth_volume_check_name(name, err);
        if (r == 0 && json_is(opts, JSON_OBJECT))
                r = check_options(name, opts, err);
        if (r < 0)
                return r;
        /* the directory first: a crash before the row leaves a directory that the next
         * start adopts as an empty volume (dockerd's local driver reads its directory) */
        _cleanup_free_ char *data = berth_volume_data_path(e, name);
        r = mkdir_p(data, 0755);
        if (r < 0)
                return berth_error_sys(err, -r, "create %s: create '%s'", name, data);
        v.name = xstrdup(name);
        v.driver = xstrdup(driver);
        v.created = time(NULL);
        v.options = json_is(opts, JSON_OBJECT) ? json_copy(opts) : NULL;
        v.labels = json_is(labels, JSON_OBJECT) ? json_copy(labels) : NULL;
        r = row_insert(e, &v, err);
        if (r == 0) {
                const char *attrs[] = {"driver", driver, NULL};
                berth_events_publish(e->events, "volume", "create", name, attrs);
                if (ret)
                        *ret = vol_json(e, &v);
                if (ret_created)
                        *ret_created = true;
        }
        vol_row_release(&v);
        return r;
}

int berth_volume_create(struct berth_engine *e, const char *name, const char *driver,
                        const struct json *opts, const struct json *labels, bool locked,
                        struct json **ret, bool *ret_created, struct berth_error **err)
{
        if (!locked)
                berth_volumes_lock(e);
        int r = create_locked(e, name, driver, opts, labels, ret, ret_created, err);
        if (!locked)
                berth_volumes_unlock(e);
        return r;
}

/* ---- inspect, list ---- */

int berth_volume_inspect(struct berth_engine *e, const char *name, struct json **ret,
                         struct berth_error **err)
{
        struct vol_row v = {0};
        int r = row_get(e, name, &v, err);
        if (r < 0)
                return r;
        if (r == 0)
                return berth_error_set(err, ENOENT, "get %s: no such volume", name);
        *ret = vol_json(e, &v);
        vol_row_release(&v);
        return 0;
}

static int each_row(struct berth_engine *e, int (*fn)(struct vol_row *v, void *arg), void *arg,
                    struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "SELECT " ROW_COLUMNS " FROM volumes ORDER BY name", -1, &st,
                               NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        int rc, r = 0;
        while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct vol_row v = {0};
                row_from(st, &v);
                r = fn(&v, arg);
                vol_row_release(&v);
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_finalize(st);
        return r;
}

struct list_ctx {
        struct berth_engine *e;
        struct json *out;
        bool usage;
};

static int list_one(struct vol_row *v, void *arg)
{
        struct list_ctx *l = arg;
        struct json *j = json_array_append(l->out, vol_json(l->e, v));
        if (l->usage) {
                struct json *u = json_object_set(j, "UsageData", json_new_object());
                _cleanup_free_ char *data = berth_volume_data_path(l->e, v->name);
                _cleanup_strv_free_ char **users = berth_ctr_volume_users(l->e, v->name, false);
                int64_t n = 0;
                while (users[n])
                        n++;
                json_set_int(u, "RefCount", n);
                json_set_int(u, "Size", du_bytes(data));
        }
        return 0;
}

int berth_volume_list(struct berth_engine *e, bool usage, struct json **ret,
                      struct berth_error **err)
{
        struct list_ctx l = {.e = e, .out = json_new_array(), .usage = usage};
        int r = each_row(e, list_one, &l, err);
        if (r < 0) {
                json_free(l.out);
                return r;
        }
        *ret = l.out;
        return 0;
}

/* ---- remove, prune ---- */

/* The directory leaves its place in one rename (to a trash name of its own), then the row
 * goes; *ret_trash is what the caller deletes once it has let go of the volumes lock.  A
 * crash between the two leaves a row without a directory, which the next start removes:
 * the removal completes, and nothing comes back. */
static int remove_files(struct berth_engine *e, const char *name, char **ret_trash,
                        struct berth_error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/%s", e->volumes->root, name);
        _cleanup_free_ char *data = xasprintf("%s/_data", dir);
        /* driver options left mounted by a crash (stacked, even): none may stay, or the
         * deletion below would reach what they mount */
        for (int i = 0; i < 64 && umount2(data, MNT_DETACH) == 0; i++)
                ;
        char rnd[17];
        random_name(rnd, sizeof(rnd));
        char *trash = xasprintf("%s/" TRASH_PREFIX "%s-%s", e->volumes->root, name, rnd);
        if (rename(dir, trash) < 0 && errno != ENOENT) {
                int r = berth_error_sys(err, errno, "remove %s: move '%s' aside", name, dir);
                free(trash);
                return r;
        }
        int r = row_delete(e, name, err);
        if (r < 0) {
                if (rename(trash, dir) < 0)
                        log_warn("volume %s: put '%s' back: %m", name, dir);
                free(trash);
                return r;
        }
        *ret_trash = trash;
        const char *attrs[] = {"driver", "local", NULL};
        berth_events_publish(e->events, "volume", "destroy", name, attrs);
        return 0;
}

static void delete_trash(const char *trash)
{
        int r = trash ? rm_rf(trash) : 0;
        if (r < 0)
                log_warn("delete '%s': %s (removed at the next start)", trash, strerror(-r));
}

static int in_use_error(const char *name, char **users, struct berth_error **err)
{
        struct berth_buf b = BERTH_BUF_INIT;
        for (size_t i = 0; users[i]; i++)
                buf_printf(&b, "%s%s", i ? " " : "", users[i]);
        _cleanup_free_ char *list = buf_steal(&b);
        return berth_error_set(err, EBUSY, "remove %s: volume is in use - [%s]", name, list);
}

int berth_volume_remove(struct berth_engine *e, const char *name, bool force, bool locked,
                        struct berth_error **err)
{
        if (!locked)
                berth_volumes_lock(e);
        struct vol_row v = {0};
        int r = row_get(e, name, &v, err);
        if (r == 0 && !force)
                r = berth_error_set(err, ENOENT, "get %s: no such volume", name);
        _cleanup_free_ char *trash = NULL;
        if (r == 1) {
                _cleanup_strv_free_ char **users = berth_ctr_volume_users(e, name, false);
                r = users[0] ? in_use_error(name, users, err) : remove_files(e, name, &trash, err);
        }
        vol_row_release(&v);
        if (!locked)
                berth_volumes_unlock(e);
        delete_trash(trash);
        return r < 0 ? r : 0;
}

struct prune_ctx {
        struct berth_engine *e;
        bool (*keep)(const struct json *labels, void *arg);
        void *arg;
        char **names; /* NULL-terminated */
        size_t n;
};

static int prune_pick(struct vol_row *v, void *arg)
{
        struct prune_ctx *p = arg;
        if (p->keep && p->keep(v->labels, p->arg))
                return 0;
        _cleanup_strv_free_ char **users = berth_ctr_volume_users(p->e, v->name, false);
        if (!users[0]) {
                p->names = xrealloc(p->names, (p->n + 2) * sizeof(char *));
                p->names[p->n++] = xstrdup(v->name);
                p->names[p->n] = NULL;
        }
        return 0;
}

int berth_volume_prune(struct berth_engine *e, bool (*keep)(const struct json *labels, void *arg),
                       void *arg, struct json **ret_deleted, uint64_t *ret_reclaimed,
                       struct berth_error **err)
{
        struct prune_ctx p = {.e = e, .keep = keep, .arg = arg};
        berth_volumes_lock(e);
        int r = each_row(e, prune_pick, &p, err);
        struct json *deleted = json_new_array();
        char **trashes = xcalloc(p.n + 1, sizeof(char *));
        size_t n_trash = 0;
        for (size_t i = 0; r == 0 && i < p.n; i++) {
                _cleanup_error_ struct berth_error *one = NULL;
                char *trash = NULL;
                if (remove_files(e, p.names[i], &trash, &one) < 0) {
                        log_warn("prune: %s", berth_error_msg(one));
                        continue;
                }
                trashes[n_trash++] = trash;
                json_array_append(deleted, json_new_string(p.names[i]));
        }
        berth_volumes_unlock(e);
        /* counted and deleted once they are ours alone, without the lock */
        uint64_t reclaimed = 0;
        for (size_t i = 0; i < n_trash; i++) {
                int64_t size = du_bytes(trashes[i]);
                reclaimed += size > 0 ? (uint64_t)size : 0;
                delete_trash(trashes[i]);
        }
        strv_free(trashes);
        strv_free(p.names);
        if (r < 0) {
                json_free(deleted);
                return r;
        }
        _cleanup_free_ char *rec = xasprintf("%llu", (unsigned long long)reclaimed);
        const char *attrs[] = {"reclaimed", rec, NULL};
        berth_events_publish(e->events, "volume", "prune", "", attrs);
        *ret_deleted = deleted;
        *ret_reclaimed = reclaimed;
        return 0;
}

/* ---- driver options: mounted while a container uses the volume ---- */

/* "o" as mount(8) reads it: the flags it names, the rest as data. */
static unsigned long mount_flags(const char *o, char **ret_data)
{
        static const struct {
                const char *name;
                unsigned long set, clear;
        } known[] = {
            {"ro", MS_RDONLY, 0},           {"rw", 0, MS_RDONLY},
            {"nosuid", MS_NOSUID, 0},       {"suid", 0, MS_NOSUID},
            {"nodev", MS_NODEV, 0},         {"dev", 0, MS_NODEV},
            {"noexec", MS_NOEXEC, 0},       {"exec", 0, MS_NOEXEC},
            {"sync", MS_SYNCHRONOUS, 0},    {"async", 0, MS_SYNCHRONOUS},
            {"dirsync", MS_DIRSYNC, 0},     {"noatime", MS_NOATIME, 0},
            {"atime", 0, MS_NOATIME},       {"nodiratime", MS_NODIRATIME, 0},
            {"diratime", 0, MS_NODIRATIME}, {"relatime", MS_RELATIME, 0},
            {"norelatime", 0, MS_RELATIME}, {"strictatime", MS_STRICTATIME, 0},
            {"lazytime", MS_LAZYTIME, 0},   {"bind", MS_BIND, 0},
            {"rbind", MS_BIND | MS_REC, 0}, {"defaults", 0, 0},
        };
        unsigned long flags = 0;
        struct berth_buf data = BERTH_BUF_INIT;
        _cleanup_free_ char *copy = xstrdup(o ? o : "");
        char *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(known); i++)
                        if (strcmp(tok, known[i].name) == 0)
                                break;
                if (i < ELEMENTSOF(known)) {
                        flags = (flags | known[i].set) & ~known[i].clear;
                        continue;
                }
                buf_printf(&data, "%s%s", data.len ? "," : "", tok);
        }
        *ret_data = buf_steal(&data);
        return flags;
}

static struct active **active_find(struct berth_volumes *vs, const char *name)
{
        struct active **a = &vs->active;
        while (*a && strcmp((*a)->name, name) != 0)
                a = &(*a)->next;
        return a;
}

int berth_volume_activate(struct berth_engine *e, const char *name, struct berth_error **err)
{
        berth_volumes_lock(e);
        struct vol_row v = {0};
        int r = row_get(e, name, &v, err);
        if (r == 0)
                r = berth_error_set(err, ENOENT, "get %s: no such volume", name);
        const char *type = r == 1 ? json_str(json_get(v.options, "type")) : NULL;
        const char *device = r == 1 ? json_str(json_get(v.options, "device")) : NULL;
        if (r == 1 && (type || device)) {
                _cleanup_free_ char *dir = xasprintf("%s/%s", e->volumes->root, name);
                _cleanup_free_ char *data = xasprintf("%s/_data", dir);
                if (!is_mount_point(data)) {
                        _cleanup_free_ char *mdata = NULL;
                        unsigned long flags =
                            mount_flags(json_str(json_get(v.options, "o")), &mdata);
                        if (mount(device ? device : "none", data,
                                  type && strcmp(type, "none") ? type : NULL, flags,
                                  *mdata ? mdata : NULL) < 0)
                                r = berth_error_sys(err, errno,
                                                    "error while mounting volume '%s': "
                                                    "failed to mount local volume: mount %s:%s",
                                                    dir, device ? device : "none", data);
                }
                if (r == 1) {
                        struct active **a = active_find(e->volumes, name);
                        if (!*a) {
                                *a = xcalloc(1, sizeof(**a));
                                (*a)->name = xstrdup(name);
                        }
                        (*a)->n++;
                }
        }
        vol_row_release(&v);
        berth_volumes_unlock(e);
        return r < 0 ? r : 0;
}

void berth_volume_deactivate(struct berth_engine *e, const char *name)
{
        berth_volumes_lock(e);
        struct active **a = active_find(e->volumes, name);
        if (*a && --(*a)->n == 0) {
                struct active *gone = *a;
                *a = gone->next;
                _cleanup_free_ char *dir = xasprintf("%s/%s", e->volumes->root, name);
                _cleanup_free_ char *data = xasprintf("%s/_data", dir);
                if (is_mount_point(data) && umount2(data, MNT_DETACH) < 0)
                        log_warn("volume %s: unmount '%s': %m", name, data);
                free(gone->name);
                free(gone);
        }
        berth_volumes_unlock(e);
}

/* ---- copy-up ---- */

/* Extended attributes (security.capability of a binary, ACLs, user.*) from one fd to the
 * other; what the target filesystem refuses is left out. */
static void copy_xattrs(int from, int to)
{
        char names[4096];
        ssize_t n = flistxattr(from, names, sizeof(names));
        for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
                char value[4096];
                ssize_t k = fgetxattr(from, names + off, value, sizeof(value));
                if (k >= 0)
                        (void)fsetxattr(to, names + off, value, (size_t)k, 0);
        }
}

/* Owner, mode and times as st says, on the fd of what this copy made itself. */
static void meta_fd(int fd, const struct stat *st)
{
        (void)fchown(fd, st->st_uid, st->st_gid);
        (void)fchmod(fd, st->st_mode & 07777);
        struct timespec ts[2] = {st->st_atim, st->st_mtim};
        (void)futimens(fd, ts);
}

static int copy_file(int src, int dst, const char *name, const struct stat *st)
{
        _cleanup_close_ int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return -errno;
        _cleanup_close_ int out =
            openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return -errno;
        for (off_t left = st->st_size; left > 0;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
                if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
                        char buf[65536];
                        n = read(in, buf, sizeof(buf));
                        if (n > 0 && write_all(out, buf, (size_t)n) < 0)
                                return -errno;
                }
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break; /* the file shrank */
                left -= n;
        }
        meta_fd(out, st);
        copy_xattrs(in, out); /* after the owner: a chown drops security.capability */
        return 0;
}

/* A link or a device node just made: never followed (the volume may be shared with a
 * running container that swaps names under us). */
static void meta_nofollow(int dst, const char *name, const struct stat *st)
{
        (void)fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
        if (!S_ISLNK(st->st_mode))
                (void)fchmodat(dst, name, st->st_mode & 07777, AT_SYMLINK_NOFOLLOW);
        struct timespec ts[2] = {st->st_atim, st->st_mtim};
        (void)utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW);
}

static int copy_tree(int src, int dst, unsigned depth)
{
        if (depth > 1024)
                return -ELOOP;
        int dup_src = fcntl(src, F_DUPFD_CLOEXEC, 3);
        if (dup_src < 0)
                return -errno;
        DIR *d = fdopendir(dup_src);
        if (!d) {
                close(dup_src);
                return -errno;
        }
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
                const char *n = de->d_name;
                if (!strcmp(n, ".") || !strcmp(n, ".."))
                        continue;
                struct stat st;
                if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                if (S_ISDIR(st.st_mode)) {
                        if (mkdirat(dst, n, 0700) < 0) {
                                r = -errno;
                                break;
                        }
                        _cleanup_close_ int s2 =
                            openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_close_ int d2 =
                            openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (s2 < 0 || d2 < 0)
                                r = -errno;
                        else
                                r = copy_tree(s2, d2, depth + 1);
                        if (r == 0) {
                                meta_fd(d2, &st); /* after its entries: their times stay */
                                copy_xattrs(s2, d2);
                        }
                } else if (S_ISREG(st.st_mode)) {
                        r = copy_file(src, dst, n, &st);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX + 1];
                        ssize_t k = readlinkat(src, n, target, sizeof(target));
                        if (k < 0 || k > PATH_MAX)
                                r = k < 0 ? -errno : -ENAMETOOLONG;
                        else {
                                target[k] = '\0';
                                if (symlinkat(target, dst, n) < 0)
                                        r = -errno;
                                else
                                        meta_nofollow(dst, n, &st);
                        }
                } else if (mknodat(dst, n, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0) {
                        r = -errno;
                } else {
                        meta_nofollow(dst, n, &st);
                }
        }
        closedir(d);
        return r;
}

static int fill_locked(struct berth_engine *e, const char *name, int srcdir,
                       struct berth_error **err)
{
        _cleanup_free_ char *data = berth_volume_data_path(e, name);
        _cleanup_close_ int dst = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0)
                return berth_error_sys(err, errno, "volume %s: open '%s'", name, data);
        _cleanup_closedir_ DIR *probe = NULL;
        int pfd = fcntl(dst, F_DUPFD_CLOEXEC, 3);
        if (pfd < 0 || !(probe = fdopendir(pfd))) {
                if (pfd >= 0)
                        close(pfd);
                return berth_error_sys(err, errno, "volume %s: read '%s'", name, data);
        }
        struct dirent *de;
        while ((de = readdir(probe)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        return 0; /* not empty: nothing is copied (dockerd) */
        struct stat st;
        if (fstat(srcdir, &st) < 0)
                return berth_error_sys(err, errno, "volume %s: copy image content", name);
        int r = copy_tree(srcdir, dst, 0);
        if (r < 0)
                return berth_error_sys(err, -r, "volume %s: copy image content into '%s'", name,
                                       data);
        (void)fchown(dst, st.st_uid, st.st_gid);
        (void)fchmod(dst, st.st_mode & 07777);
        return 0;
}

/* Under the volumes lock: two starts sharing a new volume fill it once. */
int berth_volume_fill(struct berth_engine *e, const char *name, int srcdir,
                      struct berth_error **err)
{
        berth_volumes_lock(e);
        int r = fill_locked(e, name, srcdir, err);
        berth_volumes_unlock(e);
        return r;
}

/* ---- open ---- */

/* A directory with a _data and no row (a crash between the two steps of create, or a
 * volume directory brought from elsewhere) becomes a volume; a trash is deleted. */
static void adopt_dirs(struct berth_engine *e)
{
        _cleanup_closedir_ DIR *d = opendir(e->volumes->root);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' && strncmp(de->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)))
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", e->volumes->root, de->d_name);
                if (strncmp(de->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)) == 0) {
                        (void)rm_rf(path);
                        continue;
                }
                struct stat st;
                _cleanup_free_ char *data = xasprintf("%s/_data", path);
                if (berth_volume_check_name(de->d_name, NULL) < 0 || lstat(data, &st) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                struct vol_row v = {0};
                if (row_get(e, de->d_name, &v, NULL) != 0) {
                        vol_row_release(&v);
                        continue;
                }
                v.name = xstrdup(de->d_name);
                v.driver = xstrdup("local");
                v.created = st.st_mtime;
                _cleanup_error_ struct berth_error *err = NULL;
                if (row_insert(e, &v, &err) < 0)
                        log_warn("%s", berth_error_msg(err));
                else
                        log_info("volume %s: found its directory without a record; kept as a "
                                 "volume",
                                 v.name);
                vol_row_release(&v);
        }
}

/* A row whose directory is gone was being removed when berthd stopped: the removal ends
 * (rows collected first, deleted after the SELECT). */
struct gone_rows {
        struct berth_engine *e;
        char **names;
        size_t n;
};

static int collect_gone(struct vol_row *v, void *arg)
{
        struct gone_rows *g = arg;
        _cleanup_free_ char *dir = xasprintf("%s/%s", g->e->volumes->root, v->name);
        struct stat st;
        if (lstat(dir, &st) == 0 || errno != ENOENT)
                return 0;
        g->names = xrealloc(g->names, (g->n + 2) * sizeof(char *));
        g->names[g->n++] = xstrdup(v->name);
        g->names[g->n] = NULL;
        return 0;
}

static int finish_removals(struct berth_engine *e, struct berth_error **err)
{
        struct gone_rows g = {.e = e};
        int r = each_row(e, collect_gone, &g, err);
        for (size_t i = 0; r == 0 && i < g.n; i++) {
                _cleanup_error_ struct berth_error *one = NULL;
                if (row_delete(e, g.names[i], &one) < 0)
                        log_warn("%s", berth_error_msg(one));
                else
                        log_info("volume %s: its removal was interrupted; completed", g.names[i]);
        }
        strv_free(g.names);
        return r;
}

int berth_volumes_open(struct berth_engine *e, struct berth_error **err)
{
        struct berth_volumes *vs = xcalloc(1, sizeof(*vs));
        pthread_mutex_init(&vs->lock, NULL);
        vs->root = xasprintf("%s/volumes", e->config->data_root);
        int r = mkdir_p(vs->root, 0700);
        if (r < 0) {
                r = berth_error_sys(err, -r, "create '%s'", vs->root);
                free(vs->root);
                free(vs);
                return r;
        }
        e->volumes = vs;
        adopt_dirs(e);
        return finish_removals(e, err);
}

void berth_volumes_close(struct berth_engine *e)
{
        struct berth_volumes *vs = e->volumes;
        if (!vs)
                return;
        e->volumes = NULL;
        for (struct active *a = vs->active; a;) {
                struct active *next = a->next;
                free(a->name);
                free(a);
                a = next;
        }
        pthread_mutex_destroy(&vs->lock);
        free(vs->root);
        free(vs);
}
