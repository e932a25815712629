/*
 * state.c — the container's record on disk: <root>/<id>/state.json.
 *
 * One directory per container under the runtime root (default
 * /run/berth-runtime, mode 0700).  The directory is made with a plain
 * mkdir(2), so two `create`s of one id cannot both win.  state.json is
 * written atomically (temp + rename) once the init is alive and waiting;
 * it records the init's pid with its start time (so a recycled pid is never
 * mistaken for our init), the bundle, the creation time, the annotations and
 * the cgroup (cgroup_to_json) so later `kill`, `pause`, `delete` processes
 * find the same directories.  Status is never stored: it is derived each
 * time from the live process, the exec fifo and the cgroup freezer.
 *
 * Never: follow a symlink out of the root (ids are validated by
 * berth_container_id_check before they become paths).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/fileio.h"
#include "runtime/container.h"
#include "runtime/runtime-internal.h"

char *state_dir(const char *root, const char *id)
{
        return xasprintf("%s/%s", root, id);
}

char *state_now_rfc3339(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char buf[64];
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

int state_write(const char *dir, const struct rt_state *st, struct berth_error **err)
{
        _cleanup_json_ struct json *j = json_new_object();
        json_set_str(j, "id", st->id);
        json_set_int(j, "pid", st->pid);
        json_object_set(j, "pid_start", json_new_uint(st->pid_start));
        json_set_str(j, "bundle", st->bundle);
        json_set_str(j, "rootfs", st->rootfs);
        json_set_str(j, "created", st->created);
        json_set_str(j, "owner", st->owner ? st->owner : "");
        json_set_bool(j, "systemd", st->systemd);
        json_set_bool(j, "late_hooks", st->late_hooks);
        if (st->annotations)
                json_object_set(j, "annotations", json_copy(st->annotations));
        if (st->cgroup)
                json_object_set(j, "cgroup", json_copy(st->cgroup));
        _cleanup_free_ char *text = json_dump(j, 0);
        /* temp + rename, without fsync: the state lives as long as the boot (on
         * tmpfs /run it costs nothing; elsewhere fsync costs milliseconds a start) */
        _cleanup_free_ char *path = xasprintf("%s/state.json", dir);
        _cleanup_free_ char *tmp = xasprintf("%s/.state.json.tmp", dir);
        int r = write_file_at(AT_FDCWD, tmp, text, strlen(text), 0600);
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return berth_error_sys(err, -r, "write '%s'", path);
        }
        return 0;
}

static char *dup_str(const struct json *j, const char *key)
{
        const char *s = json_str(json_get(j, key));
        return s ? xstrdup(s) : NULL;
}

int state_read(const char *root, const char *id, struct rt_state *ret, struct berth_error **err)
{
        int r = berth_container_id_check(id, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = xasprintf("%s/%s/state.json", root, id);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        r = read_file_at(AT_FDCWD, path, 1 << 20, &text, &len);
        if (r == -ENOENT || r == -ENOTDIR)
                return berth_error_set(err, ENOENT, "container '%s' does not exist", id);
        if (r < 0)
                return berth_error_sys(err, -r, "read '%s'", path);
        _cleanup_json_ struct json *j = NULL;
        r = json_parse(text, len, &j, err);
        if (r < 0)
                return berth_error_prefix(err, "container '%s': state.json", id);
        memset(ret, 0, sizeof(*ret));
        ret->id = dup_str(j, "id");
        struct json *pid = json_get(j, "pid");
        ret->pid = json_is(pid, JSON_NUMBER) ? (pid_t)pid->num.i : 0;
        struct json *ps = json_get(j, "pid_start");
        ret->pid_start = json_is(ps, JSON_NUMBER) ? ps->num.u : 0;
        ret->bundle = dup_str(j, "bundle");
        ret->rootfs = dup_str(j, "rootfs");
        ret->created = dup_str(j, "created");
        ret->owner = dup_str(j, "owner");
        struct json *sd = json_get(j, "systemd");
        ret->systemd = json_is(sd, JSON_BOOL) && sd->b;
        struct json *lh = json_get(j, "late_hooks");
        ret->late_hooks = json_is(lh, JSON_BOOL) && lh->b;
        struct json *a = json_get(j, "annotations");
        ret->annotations = a ? json_copy(a) : NULL;
        struct json *cg = json_get(j, "cgroup");
        ret->cgroup = cg ? json_copy(cg) : NULL;
        if (!ret->id || !ret->bundle) {
                state_release(ret);
                return berth_error_set(err, EINVAL, "container '%s': state.json is incomplete", id);
        }
        return 0;
}

void state_release(struct rt_state *st)
{
        free(st->id);
        free(st->bundle);
        free(st->rootfs);
        free(st->created);
        free(st->owner);
        json_free(st->annotations);
        json_free(st->cgroup);
        memset(st, 0, sizeof(*st));
}
