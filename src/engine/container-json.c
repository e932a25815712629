/*
 * container-json.c — a container as Docker's API shows it: the inspect
 * document (GET /containers/{id}/json) and the list summary
 * (GET /containers/json), key for key in dockerd 20.10's order so that
 * templates, docker-py and compose read what they expect.
 *
 * Never: show a field the engine does not know as if it did (unknown values
 * are docker's zero values, as dockerd shows them).
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/units.h"
#include "base/fileio.h"
#include "container-internal.h"
#include "image/snapshot.h"

/* Path and Args: the process's argv split as docker shows it. */
static void path_args(const struct berth_ctr *c, char **ret_path, struct json **ret_args)
{
        /* the user's command, not --init's wrapper, as dockerd shows it */
        struct json *all = json_new_array();
        size_t i;
        const struct json *it;
        json_array_foreach (json_get(c->config, "Entrypoint"), i, it)
                json_array_append(all, json_copy(it));
        json_array_foreach (json_get(c->config, "Cmd"), i, it)
                json_array_append(all, json_copy(it));
        struct json *args = json_new_array();
        *ret_path = xstrdup(json_len(all) ? json_str(all->arr.items[0]) : "");
        for (i = 1; i < json_len(all); i++)
                json_array_append(args, json_copy(all->arr.items[i]));
        json_free(all);
        *ret_args = args;
}

static char *command_line(const struct berth_ctr *c)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ struct json *args = NULL;
        path_args(c, &path, &args);
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, path);
        size_t i;
        const struct json *it;
        json_array_foreach (args, i, it) {
                const char *a = json_str(it);
                if (!a)
                        continue;
                buf_printf(&b, strchr(a, ' ') ? " '%s'" : " %s", a);
        }
        return buf_steal(&b);
}

static struct json *state_json(const struct berth_ctr *c)
{
        struct json *s = json_new_object();
        char t[64];
        json_set_str(s, "Status", ctr_state_name(c->state));
        json_set_bool(s, "Running",
                      c->state == CTR_RUNNING || c->state == CTR_PAUSED ||
                          c->state == CTR_RESTARTING);
        json_set_bool(s, "Paused", c->state == CTR_PAUSED);
        json_set_bool(s, "Restarting", c->state == CTR_RESTARTING);
        json_set_bool(s, "OOMKilled", c->oom_killed);
        json_set_bool(s, "Dead", c->state == CTR_DEAD);
        json_set_int(s, "Pid", c->state == CTR_RUNNING || c->state == CTR_PAUSED ? c->pid : 0);
        json_set_int(s, "ExitCode", c->exit_code);
        json_set_str(s, "Error", c->error ? c->error : "");
        ctr_format_time(c->started_ns, t);
        json_set_str(s, "StartedAt", t);
        ctr_format_time(c->finished_ns, t);
        json_set_str(s, "FinishedAt", t);
        if (c->health)
                json_object_set(s, "Health", json_copy(c->health));
        return s;
}

/* "Up 5 seconds", "Exited (0) 3 minutes ago", … (dockerd's State.String()). */
static char *status_text(const struct berth_ctr *c)
{
        int64_t now = ctr_now_ns();
        struct berth_buf b = BERTH_BUF_INIT;
        switch (c->state) {
        case CTR_RUNNING:
        case CTR_PAUSED:
                buf_puts(&b, "Up ");
                units_human_duration(&b, now - c->started_ns);
                if (c->state == CTR_PAUSED) {
                        buf_puts(&b, " (Paused)");
                } else if (ctr_health_status_locked(c)) {
                        const char *h = ctr_health_status_locked(c);
                        buf_printf(&b, " (%s%s)", strcmp(h, "starting") == 0 ? "health: " : "", h);
                }
                break;
        case CTR_RESTARTING:
                buf_printf(&b, "Restarting (%d) ", c->exit_code);
                units_human_duration(&b, now - c->finished_ns);
                buf_puts(&b, " ago");
                break;
        case CTR_REMOVING:
                buf_puts(&b, "Removal In Progress");
                break;
        case CTR_DEAD:
                buf_puts(&b, "Dead");
                break;
        case CTR_CREATED:
                buf_puts(&b, "Created");
                break;
        case CTR_EXITED:
                if (!c->finished_ns) {
                        buf_puts(&b, "Created");
                        break;
                }
                buf_printf(&b, "Exited (%d) ", c->exit_code);
                units_human_duration(&b, now - c->finished_ns);
                buf_puts(&b, " ago");
                break;
        }
        return buf_steal(&b);
}

static int64_t image_size(struct berth_engine *e, const char *image_id)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        int64_t size = 0;
        if (sqlite3_prepare_v2(h, "SELECT size FROM images WHERE id = ?1", -1, &st, NULL) ==
            SQLITE_OK) {
                sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        size = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        return size;
}

struct json *berth_ctr_inspect(struct berth_engine *e, struct berth_ctr *c, bool size)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_free_ char *data_dir = ctr_data_dir(m, c);
        struct json *j = json_new_object();
        char t[64];
        pthread_mutex_lock(&m->lock);
        json_set_str(j, "Id", c->id);
        ctr_format_time(c->created_ns, t);
        json_set_str(j, "Created", t);
        char *path = NULL;
        struct json *args = NULL;
        path_args(c, &path, &args);
        json_set_str(j, "Path", path);
        free(path);
        json_object_set(j, "Args", args);
        json_object_set(j, "State", state_json(c));
        json_set_str(j, "Image", c->image_id);
        _cleanup_free_ char *resolv = xasprintf("%s/resolv.conf", data_dir);
        _cleanup_free_ char *hostname = xasprintf("%s/hostname", data_dir);
        _cleanup_free_ char *hosts = xasprintf("%s/hosts", data_dir);
        _cleanup_free_ char *logp = xasprintf("%s/%s-json.log", data_dir, c->id);
        const char *driver = json_str(json_get(json_get(c->host_config, "LogConfig"), "Type"));
        json_set_str(j, "ResolvConfPath", resolv);
        json_set_str(j, "HostnamePath", hostname);
        json_set_str(j, "HostsPath", hosts);
        json_set_str(j, "LogPath", driver && strcmp(driver, "none") == 0 ? "" : logp);
        json_set_str(j, "Name", c->name);
        json_set_int(j, "RestartCount", c->restart_count);
        json_set_str(j, "Driver", "overlay2");
        json_set_str(j, "Platform", "linux");
        json_set_str(j, "MountLabel", "");
        json_set_str(j, "ProcessLabel", "");
        json_set_str(j, "AppArmorProfile", "");
        json_object_set(j, "ExecIDs", json_new_null());
        json_object_set(j, "HostConfig", json_copy(c->host_config));
        struct json *gd = json_object_set(j, "GraphDriver", json_new_object());
        struct json *gdd = json_object_set(gd, "Data", json_new_object());
        _cleanup_free_ char *upper = snapshot_path(m->data_root, c->id, "upper");
        _cleanup_free_ char *work = snapshot_path(m->data_root, c->id, "work");
        _cleanup_free_ char *merged = snapshot_path(m->data_root, c->id, "rootfs");
        json_set_str(gdd, "MergedDir", merged);
        json_set_str(gdd, "UpperDir", upper);
        json_set_str(gdd, "WorkDir", work);
        json_set_str(gd, "Name", "overlay2");
        struct json *config = json_copy(c->config);
        json_object_set(j, "Mounts", ctr_mounts_json(c));
        json_object_set(j, "Config", config);
        json_object_set(j, "NetworkSettings", ctr_net_settings_json(c, false));
        char *image_id = xstrdup(c->image_id);
        pthread_mutex_unlock(&m->lock);
        if (size) {
                int64_t rw = du_bytes(upper); /* what the container wrote */
                json_set_int(j, "SizeRw", rw);
                json_set_int(j, "SizeRootFs", rw + image_size(e, image_id));
        }
        free(image_id);
        /* json key order: Mounts/Config/NetworkSettings after the sizes, as dockerd */
        if (size) {
                struct json *mounts = json_copy(json_get(j, "Mounts"));
                struct json *cfgc = json_copy(json_get(j, "Config"));
                struct json *nets = json_copy(json_get(j, "NetworkSettings"));
                json_object_del(j, "Mounts");
                json_object_del(j, "Config");
                json_object_del(j, "NetworkSettings");
                json_object_set(j, "Mounts", mounts);
                json_object_set(j, "Config", cfgc);
                json_object_set(j, "NetworkSettings", nets);
        }
        return j;
}

static struct json *summary(struct berth_ctr *c)
{
        struct json *j = json_new_object();
        json_set_str(j, "Id", c->id);
        struct json *names = json_object_set(j, "Names", json_new_array());
        json_array_append(names, json_new_string(c->name));
        json_set_str(j, "Image", c->image_ref ? c->image_ref : c->image_id);
        json_set_str(j, "ImageID", c->image_id);
        _cleanup_free_ char *cmd = command_line(c);
        json_set_str(j, "Command", cmd);
        json_set_int(j, "Created", c->created_ns / 1000000000);
        json_object_set(j, "Ports", ctr_net_ports_summary(c));
        const struct json *labels = json_get(c->config, "Labels");
        json_object_set(j, "Labels",
                        json_is(labels, JSON_OBJECT) ? json_copy(labels) : json_new_object());
        json_set_str(j, "State", ctr_state_name(c->state));
        _cleanup_free_ char *status = status_text(c);
        json_set_str(j, "Status", status);
        struct json *hc = json_object_set(j, "HostConfig", json_new_object());
        const char *nm = json_str(json_get(c->host_config, "NetworkMode"));
        json_set_str(hc, "NetworkMode", nm ? nm : "default");
        struct json *ns = json_object_set(j, "NetworkSettings", json_new_object());
        json_object_set(ns, "Networks", ctr_net_settings_json(c, true));
        json_object_set(j, "Mounts", ctr_mounts_json(c));
        return j;
}

static int by_created_desc(const void *a, const void *b)
{
        const struct berth_ctr *x = *(struct berth_ctr *const *)a;
        const struct berth_ctr *y = *(struct berth_ctr *const *)b;
        if (x->created_ns != y->created_ns)
                return x->created_ns > y->created_ns ? -1 : 1;
        return strcmp(x->id, y->id);
}

struct json *berth_ctr_list(struct berth_engine *e, bool all, bool size)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        size_t n = m->n;
        struct berth_ctr **v = xcalloc(n ? n : 1, sizeof(*v));
        for (size_t i = 0; i < n; i++) {
                v[i] = m->v[i];
                ctr_ref(v[i]);
        }
        pthread_mutex_unlock(&m->lock);
        qsort(v, n, sizeof(*v), by_created_desc);
        struct json *list = json_new_array();
        for (size_t i = 0; i < n; i++) {
                pthread_mutex_lock(&m->lock);
                bool show = all || v[i]->state == CTR_RUNNING || v[i]->state == CTR_PAUSED ||
                            v[i]->state == CTR_RESTARTING;
                struct json *s = show ? summary(v[i]) : NULL;
                pthread_mutex_unlock(&m->lock);
                if (s && size) {
                        _cleanup_free_ char *upper = snapshot_path(m->data_root, v[i]->id, "upper");
                        int64_t rw = du_bytes(upper); /* what the container wrote */
                        json_set_int(s, "SizeRw", rw);
                        json_set_int(s, "SizeRootFs", rw + image_size(e, v[i]->image_id));
                }
                if (s)
                        json_array_append(list, s);
                berth_ctr_unref(v[i]);
        }
        free(v);
        return list;
}

char *berth_ctr_health(struct berth_engine *e, struct berth_ctr *c)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        const char *h = ctr_health_status_locked(c);
        char *out = xstrdup(h ? h : "none");
        pthread_mutex_unlock(&m->lock);
        return out;
}
