/*
 * container-mounts.c — a container's mount points: what HostConfig.Binds,
 * HostConfig.Mounts, HostConfig.VolumesFrom and Config.Volumes (the image's
 * VOLUMEs and `-v /path`) ask for, resolved once at create into the
 * container's MountPoints (kept in its record), the volumes they name made
 * then; prepared at start (bind sources made, volume driver options mounted,
 * a new volume filled from the image), turned into OCI mounts, and released
 * when the container stops.
 *
 * A mount point is JSON in docker's inspect shape (Type, Name, Source,
 * Destination, Driver, Mode, RW, Propagation) plus what berthd keeps for
 * itself: Anonymous (removed with the container by rm -v and --rm),
 * CopyData (the image's content is still to be copied in at the next start),
 * NonRecursive, CreateSource (a Binds source made when missing, as dockerd
 * does; a --mount bind source must exist), and TmpfsSize/TmpfsMode.
 *
 * Precedence as dockerd's: Binds and Mounts first (the same destination twice
 * is "Duplicate mount point"), then the mounts of --volumes-from containers,
 * then Config.Volumes, each only where nothing earlier covers the
 * destination (nor HostConfig.Tmpfs, which container-spec.c mounts).
 *
 * Never: accept a relative source or target, resolve a container path on the
 * host, or leave an anonymous volume behind a create that failed.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/log.h"
#include "container-internal.h"
#include "volumes.h"

static const char *const propagations[] = {"shared", "rshared", "slave",
                                           "rslave", "private", "rprivate"};

static bool is_propagation(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(propagations); i++)
                if (strcmp(s, propagations[i]) == 0)
                        return true;
        return false;
}

static struct json *find_dest(const struct json *mps, const char *dst)
{
        size_t i;
        const struct json *m;
        json_array_foreach (mps, i, m) {
                const char *d = jstr(m, "Destination");
                if (d && strcmp(d, dst) == 0)
                        return (struct json *)m;
        }
        return NULL;
}

static int add_point(struct json *mps, const char *dst, struct json *m, struct berth_error **err)
{
        if (find_dest(mps, dst)) {
                json_free(m);
                return berth_error_set(err, EINVAL, "Duplicate mount point: %s", dst);
        }
        json_array_append(mps, m);
        return 0;
}

static struct json *new_point(const char *type, const char *dst, bool rw)
{
        struct json *m = json_new_object();
        json_set_str(m, "Type", type);
        json_set_str(m, "Name", "");
        json_set_str(m, "Source", "");
        json_set_str(m, "Destination", dst);
        json_set_str(m, "Driver", "");
        json_set_str(m, "Mode", "");
        json_set_bool(m, "RW", rw);
        json_set_str(m, "Propagation", "");
        return m;
}

/* ---- HostConfig.Binds: "src:dst[:mode]" ---- */

static int bind_spec(const char *spec, const char *driver, struct json *mps,
                     struct berth_error **err)
{
        _cleanup_free_ char *copy = xstrdup(spec);
        char *parts[4] = {0};
        size_t n = 0;
        for (char *p = copy, *c; n < 4; p = c + 1) {
                c = strchr(p, ':');
                parts[n++] = p;
                if (!c)
                        break;
                *c = '\0';
        }
        if (n < 2 || n > 3 || !*parts[0] || !*parts[1])
                return berth_error_set(err, EINVAL, "invalid volume specification: '%s'", spec);
        const char *src = parts[0], *mode = n == 3 ? parts[2] : "";
        bool volume = src[0] != '/';
        if (parts[1][0] != '/')
                return berth_error_set(err, EINVAL,
                                       "invalid volume specification: '%s': invalid mount config "
                                       "for type \"%s\": invalid mount path: '%s' mount path "
                                       "must be absolute",
                                       spec, volume ? "volume" : "bind", parts[1]);
        _cleanup_free_ char *dst = path_clean_abs(parts[1]);
        if (strcmp(dst, "/") == 0)
                return berth_error_set(err, EINVAL,
                                       "invalid specification: destination can't "
                                       "be '/'");
        bool ro = false, nocopy = false;
        int rwro = 0, label = 0, consistency = 0;
        const char *prop = NULL;
        _cleanup_free_ char *mcopy = xstrdup(mode);
        char *save = NULL;
        for (char *t = strtok_r(mcopy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (strcmp(t, "ro") == 0 || strcmp(t, "rw") == 0) {
                        ro = t[1] == 'o';
                        rwro++;
                } else if (strcmp(t, "z") == 0 || strcmp(t, "Z") == 0) {
                        label++;
                } else if (is_propagation(t) && !prop) {
                        prop = t;
                } else if (strcmp(t, "nocopy") == 0 && volume && !nocopy) {
                        nocopy = true;
                } else if (strcmp(t, "consistent") == 0 || strcmp(t, "cached") == 0 ||
                           strcmp(t, "delegated") == 0) {
                        consistency++;
                } else {
                        return berth_error_set(err, EINVAL, "invalid mode: %s", mode);
                }
        }
        if (rwro > 1 || label > 1 || consistency > 1 || (prop && volume))
                return berth_error_set(err, EINVAL, "invalid mode: %s", mode);
        struct json *m = new_point(volume ? "volume" : "bind", dst, !ro);
        if (volume) {
                int r = berth_volume_check_name(src, err);
                if (r < 0) {
                        json_free(m);
                        return r;
                }
                json_set_str(m, "Name", src);
                json_set_str(m, "Driver", driver);
                json_set_str(m, "Mode", *mode ? mode : "z");
                json_set_bool(m, "CopyData", !nocopy);
        } else {
                _cleanup_free_ char *s = path_clean_abs(src);
                json_set_str(m, "Source", s);
                json_set_str(m, "Mode", mode);
                json_set_str(m, "Propagation", prop ? prop : "rprivate");
                json_set_bool(m, "CreateSource", true);
        }
        return add_point(mps, dst, m, err);
}

/* ---- HostConfig.Mounts ---- */

_printf_(3, 4) static int mount_error(const char *type, struct berth_error **err, const char *fmt,
                                      ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *w = NULL;
        if (vasprintf(&w, fmt, ap) < 0)
                w = NULL;
        va_end(ap);
        _cleanup_free_ char *what = w;
        return berth_error_set(err, EINVAL, "invalid mount config for type \"%s\": %s", type, what);
}

static int mount_spec(const struct json *m, const char *driver, struct json *mps,
                      struct berth_error **err)
{
        const char *type = jstr(m, "Type");
        if (!type || !*type)
                return berth_error_set(err, EINVAL,
                                       "invalid mount config: must use either "
                                       "propagation mode \"bind\", \"volume\" or "
                                       "\"tmpfs\"");
        bool bind = strcmp(type, "bind") == 0, volume = strcmp(type, "volume") == 0,
             tmpfs = strcmp(type, "tmpfs") == 0;
        if (!bind && !volume && !tmpfs)
                return berth_error_set(err, EINVAL, "mount type unknown");
        const char *src = jstr(m, "Source"), *target = jstr(m, "Target");
        if (!target || !*target)
                return mount_error(type, err, "field Target must not be empty");
        if (target[0] != '/')
                return mount_error(type, err,
                                   "invalid mount path: '%s' mount path must be absolute", target);
        _cleanup_free_ char *dst = path_clean_abs(target);
        bool rw = !jbool(m, "ReadOnly");
        struct json *p = new_point(type, dst, rw);
        if (bind) {
                if (!src || !*src) {
                        json_free(p);
                        return mount_error(type, err, "field Source must not be empty");
                }
                if (src[0] != '/') {
                        json_free(p);
                        return mount_error(
                            type, err, "invalid mount path: '%s' mount path must be absolute", src);
                }
                struct stat st;
                if (stat(src, &st) < 0) {
                        json_free(p);
                        return mount_error(type, err, "bind source path does not exist: %s", src);
                }
                const struct json *bo = jget(m, "BindOptions");
                const char *prop = jstr(bo, "Propagation");
                _cleanup_free_ char *s = path_clean_abs(src);
                json_set_str(p, "Source", s);
                json_set_str(p, "Propagation", prop && *prop ? prop : "rprivate");
                json_set_bool(p, "NonRecursive", jbool(bo, "NonRecursive"));
        } else if (volume) {
                if (src && *src) {
                        int r = berth_volume_check_name(src, err);
                        if (r < 0) {
                                json_free(p);
                                return r;
                        }
                        json_set_str(p, "Name", src);
                        json_set_str(p, "Mode", "z");
                } else {
                        json_set_bool(p, "Anonymous", true);
                }
                const struct json *vo = jget(m, "VolumeOptions");
                const char *sub = jstr(vo, "Subpath");
                if (sub && *sub) {
                        /* API 1.45's; berthd speaks 1.41, and a silent whole-volume mount
                         * would hand the container more than it asked for */
                        json_free(p);
                        return mount_error(type, err,
                                           "volume subpath needs API 1.45; this "
                                           "daemon speaks 1.41");
                }
                const struct json *dc = jget(vo, "DriverConfig");
                const char *dn = jstr(dc, "Name");
                json_set_str(p, "Driver", dn && *dn ? dn : driver);
                json_set_bool(p, "CopyData", !jbool(vo, "NoCopy"));
                if (json_is(jget(dc, "Options"), JSON_OBJECT) && json_len(jget(dc, "Options")))
                        json_object_set(p, "DriverOptions", json_copy(jget(dc, "Options")));
                if (json_is(jget(vo, "Labels"), JSON_OBJECT) && json_len(jget(vo, "Labels")))
                        json_object_set(p, "VolumeLabels", json_copy(jget(vo, "Labels")));
        } else {
                if (src && *src) {
                        json_free(p);
                        return mount_error(type, err, "field Source must not be specified");
                }
                const struct json *to = jget(m, "TmpfsOptions");
                if (jint(to, "SizeBytes") < 0) {
                        json_free(p);
                        return mount_error(type, err, "invalid tmpfs size");
                }
                json_set_int(p, "TmpfsSize", jint(to, "SizeBytes"));
                json_set_int(p, "TmpfsMode", jint(to, "Mode") & 07777);
        }
        return add_point(mps, dst, p, err);
}

/* ---- create ---- */

/* --volumes-from NAME[:ro|:rw]: the other container's mount points not covered yet. */
static int volumes_from(struct berth_engine *e, const char *spec, struct json *mps,
                        struct berth_error **err)
{
        _cleanup_free_ char *ref = xstrdup(spec);
        char *mode = strrchr(ref, ':');
        if (mode) {
                *mode++ = '\0';
                if (strcmp(mode, "ro") && strcmp(mode, "rw") && strcmp(mode, "z") &&
                    strcmp(mode, "Z"))
                        return berth_error_set(err, EINVAL, "invalid mode for volumes-from: %s",
                                               mode);
        }
        _cleanup_ctr_ struct berth_ctr *from = NULL;
        int r = berth_ctr_get(e, ref, &from, err);
        if (r < 0)
                return r;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        size_t i;
        const struct json *p;
        json_array_foreach (from->mounts, i, p) {
                const char *dst = jstr(p, "Destination");
                if (!dst || find_dest(mps, dst))
                        continue;
                struct json *copy = json_copy(p);
                json_object_del(copy, "Anonymous"); /* the volume stays its owner's */
                json_set_bool(copy, "CopyData", false);
                json_object_del(copy, "CreateSource");
                if (mode && (strcmp(mode, "ro") == 0 || strcmp(mode, "rw") == 0))
                        json_set_bool(copy, "RW", strcmp(mode, "rw") == 0);
                json_array_append(mps, copy);
        }
        pthread_mutex_unlock(&m->lock);
        return 0;
}

/* Make (or find) the volumes the mount points name; anonymous ones get their names here. */
static int make_volumes(struct berth_engine *e, struct json *mps, struct berth_error **err)
{
        size_t i;
        const struct json *cp;
        json_array_foreach (mps, i, cp) {
                struct json *p = (struct json *)cp;
                if (strcmp(jstr(p, "Type"), "volume") != 0 || jstr(p, "Source")[0])
                        continue;
                bool anon = jbool(p, "Anonymous");
                _cleanup_json_ struct json *labels = json_copy(jget(p, "VolumeLabels"));
                if (anon) {
                        if (!labels)
                                labels = json_new_object();
                        json_set_str(labels, BERTH_VOLUME_ANON_LABEL, "");
                }
                _cleanup_json_ struct json *v = NULL;
                int r = berth_volume_create(e, anon ? NULL : jstr(p, "Name"), jstr(p, "Driver"),
                                            jget(p, "DriverOptions"), labels, true, &v, NULL, err);
                if (r < 0)
                        return r;
                json_set_str(p, "Name", jstr(v, "Name"));
                json_set_str(p, "Source", jstr(v, "Mountpoint"));
                json_object_del(p, "DriverOptions");
                json_object_del(p, "VolumeLabels");
        }
        return 0;
}

void ctr_forget_anonymous(struct berth_engine *e, const struct json *mps)
{
        size_t i;
        const struct json *p;
        json_array_foreach (mps, i, p) {
                if (!jbool(p, "Anonymous") || !jstr(p, "Name") || !jstr(p, "Name")[0])
                        continue;
                _cleanup_error_ struct berth_error *err = NULL;
                if (berth_volume_remove(e, jstr(p, "Name"), true, true, &err) < 0)
                        log_warn("%s", berth_error_msg(err));
        }
}

int ctr_resolve_mounts(struct berth_engine *e, const struct json *cfg, const struct json *hc,
                       struct json **ret, struct berth_error **err)
{
        _cleanup_json_ struct json *mps = json_new_array();
        const char *vd = jstr(hc, "VolumeDriver");
        const char *driver = vd && *vd ? vd : "local";
        size_t i;
        const struct json *it;
        int r = 0;
        json_array_foreach (jget(hc, "Binds"), i, it) {
                if (!json_str(it))
                        return berth_error_set(err, EINVAL, "invalid volume specification");
                r = bind_spec(json_str(it), driver, mps, err);
                if (r < 0)
                        return r;
        }
        json_array_foreach (jget(hc, "Mounts"), i, it) {
                r = mount_spec(it, driver, mps, err);
                if (r < 0)
                        return r;
        }
        json_array_foreach (jget(hc, "VolumesFrom"), i, it) {
                if (json_str(it) && (r = volumes_from(e, json_str(it), mps, err)) < 0)
                        return r;
        }
        const char *dst;
        json_object_foreach (jget(cfg, "Volumes"), i, dst, it) {
                if (dst[0] != '/')
                        return berth_error_set(err, EINVAL,
                                               "invalid mount config for type \"volume\": invalid "
                                               "mount path: '%s' mount path must be absolute",
                                               dst);
                _cleanup_free_ char *d = path_clean_abs(dst);
                if (find_dest(mps, d) || jget(jget(hc, "Tmpfs"), d))
                        continue;
                struct json *p = new_point("volume", d, true);
                json_set_str(p, "Driver", driver);
                json_set_bool(p, "Anonymous", true);
                json_set_bool(p, "CopyData", true);
                json_array_append(mps, p);
        }
        r = make_volumes(e, mps, err);
        if (r < 0) {
                ctr_forget_anonymous(e, mps);
                return r;
        }
        *ret = TAKE_PTR(mps);
        return 0;
}

struct json *ctr_legacy_mounts(const struct json *hc)
{
        struct json *mps = json_new_array();
        size_t i;
        const struct json *it;
        json_array_foreach (jget(hc, "Mounts"), i, it) {
                const char *type = jstr(it, "Type");
                if (type && strcmp(type, "bind") == 0)
                        (void)mount_spec(it, "local", mps, NULL);
        }
        return mps;
}

/* ---- start and stop ---- */

/* The volumes of the first n mount points are let go (a start that failed). */
static void release_first(struct berth_engine *e, struct berth_ctr *c, size_t n)
{
        size_t i;
        const struct json *p;
        json_array_foreach (c->mounts, i, p)
                if (i < n && strcmp(jstr(p, "Type"), "volume") == 0)
                        berth_volume_deactivate(e, jstr(p, "Name"));
}

int ctr_prepare_mounts(struct berth_engine *e, struct berth_ctr *c, const char *rootfs,
                       struct berth_error **err)
{
        bool changed = false;
        _cleanup_close_ int rootfd = -1;
        size_t i;
        const struct json *cp;
        json_array_foreach (c->mounts, i, cp) {
                struct json *p = (struct json *)cp;
                const char *type = jstr(p, "Type");
                if (strcmp(type, "bind") == 0) {
                        const char *src = jstr(p, "Source");
                        struct stat st;
                        if (stat(src, &st) == 0)
                                continue;
                        int r = jbool(p, "CreateSource") ? mkdir_p(src, 0755) : -ENOENT;
                        if (r == 0)
                                continue;
                        release_first(e, c, i);
                        if (r == -ENOENT && !jbool(p, "CreateSource"))
                                return berth_error_set(err, EINVAL,
                                                       "invalid mount config for type \"bind\": "
                                                       "bind source path does not exist: %s",
                                                       src);
                        return berth_error_sys(err, -r,
                                               "error while creating mount source path '%s'", src);
                }
                if (strcmp(type, "volume") != 0)
                        continue;
                int r = berth_volume_activate(e, jstr(p, "Name"), err);
                if (r < 0) {
                        release_first(e, c, i);
                        return r;
                }
                if (!jbool(p, "CopyData"))
                        continue;
                if (rootfd < 0) {
                        rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (rootfd < 0) {
                                r = berth_error_sys(err, errno, "open '%s'", rootfs);
                                release_first(e, c, i + 1);
                                return r;
                        }
                }
                _cleanup_close_ int src =
                    open_in_root(rootfd, jstr(p, "Destination"), O_RDONLY | O_DIRECTORY, 0);
                if (src >= 0) {
                        r = berth_volume_fill(e, jstr(p, "Name"), src, err);
                        if (r < 0) {
                                release_first(e, c, i + 1);
                                return r;
                        }
                }
                /* once, on the first start (dockerd); under the table lock, as readers
                 * (inspect, --volumes-from) take it */
                pthread_mutex_lock(&ctr_mgr(e)->lock);
                json_set_bool(p, "CopyData", false);
                pthread_mutex_unlock(&ctr_mgr(e)->lock);
                changed = true;
        }
        if (changed) {
                _cleanup_error_ struct berth_error *e2 = NULL;
                if (ctr_save(e, c, &e2) < 0)
                        log_warn("%s", berth_error_msg(e2));
        }
        return 0;
}

void ctr_volume_events(struct berth_engine *e, struct berth_ctr *c, bool mount)
{
        size_t i;
        const struct json *p;
        json_array_foreach (c->mounts, i, p) {
                if (strcmp(jstr(p, "Type"), "volume") != 0)
                        continue;
                const char *rw = jbool(p, "RW") ? "true" : "false";
                const char *mount_attrs[] = {"container",   c->id,
                                             "destination", jstr(p, "Destination"),
                                             "driver",      jstr(p, "Driver"),
                                             "propagation", jstr(p, "Propagation"),
                                             "read/write",  rw,
                                             NULL};
                const char *unmount_attrs[] = {"container", c->id, "driver", jstr(p, "Driver"),
                                               NULL};
                berth_events_publish(e->events, "volume", mount ? "mount" : "unmount",
                                     jstr(p, "Name"), mount ? mount_attrs : unmount_attrs);
        }
}

void ctr_release_mounts(struct berth_engine *e, struct berth_ctr *c)
{
        size_t i;
        const struct json *p;
        json_array_foreach (c->mounts, i, p)
                if (strcmp(jstr(p, "Type"), "volume") == 0)
                        berth_volume_deactivate(e, jstr(p, "Name"));
}

void ctr_reacquire_mounts(struct berth_engine *e, struct berth_ctr *c)
{
        size_t i;
        const struct json *p;
        json_array_foreach (c->mounts, i, p) {
                if (strcmp(jstr(p, "Type"), "volume") != 0)
                        continue;
                _cleanup_error_ struct berth_error *err = NULL;
                if (berth_volume_activate(e, jstr(p, "Name"), &err) < 0)
                        log_warn("container %.12s: %s", c->id, berth_error_msg(err));
        }
}

static size_t depth(const char *path)
{
        size_t n = 0;
        for (; *path; path++)
                n += *path == '/';
        return n;
}

/* HostConfig.Tmpfs ("/path": "size=64m,…"): nosuid, nodev, noexec and mode 1777 unless
 * given, as dockerd mounts --tmpfs. */
static void tmpfs_mount(struct json *oci_mounts, const char *dst, const char *opts)
{
        _cleanup_free_ char *copy = xstrdup(opts ? opts : "");
        struct json *m = json_array_append(oci_mounts, json_new_object());
        json_set_str(m, "destination", dst);
        json_set_str(m, "type", "tmpfs");
        json_set_str(m, "source", "tmpfs");
        struct json *o = json_object_set(m, "options", json_new_array());
        bool has_mode = false;
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                has_mode |= strncmp(t, "mode=", 5) == 0;
                json_array_append(o, json_new_string(t));
        }
        json_array_append(o, json_new_string("nosuid"));
        json_array_append(o, json_new_string("nodev"));
        json_array_append(o, json_new_string("noexec"));
        if (!has_mode)
                json_array_append(o, json_new_string("mode=1777"));
}

static void point_mount(struct json *oci_mounts, const struct json *p)
{
        const char *type = jstr(p, "Type");
        struct json *o = json_array_append(oci_mounts, json_new_object());
        json_set_str(o, "destination", jstr(p, "Destination"));
        struct json *opts = json_object_set(o, "options", json_new_array());
        if (strcmp(type, "tmpfs") == 0) {
                json_set_str(o, "type", "tmpfs");
                json_set_str(o, "source", "tmpfs");
                json_array_append(opts, json_new_string("nosuid"));
                json_array_append(opts, json_new_string("nodev"));
                json_array_append(opts, json_new_string("noexec"));
                if (jint(p, "TmpfsSize") > 0) {
                        _cleanup_free_ char *s = xasprintf(
                            "size=%lldk", (long long)((jint(p, "TmpfsSize") + 1023) / 1024));
                        json_array_append(opts, json_new_string(s));
                }
                if (jint(p, "TmpfsMode")) {
                        _cleanup_free_ char *s =
                            xasprintf("mode=%llo", (long long)jint(p, "TmpfsMode"));
                        json_array_append(opts, json_new_string(s));
                }
        } else {
                const char *prop = jstr(p, "Propagation");
                json_set_str(o, "type", "bind");
                json_set_str(o, "source", jstr(p, "Source"));
                json_array_append(opts,
                                  json_new_string(jbool(p, "NonRecursive") ? "bind" : "rbind"));
                json_array_append(opts, json_new_string(prop && *prop ? prop : "rprivate"));
        }
        if (!jbool(p, "RW"))
                json_array_append(opts, json_new_string("ro"));
}

void ctr_user_mounts(const struct berth_ctr *c, struct json *oci_mounts)
{
        /* parents before what is mounted below them, --tmpfs mounts among the others, as
         * dockerd sorts them */
        const struct json *tmpfs = jget(c->host_config, "Tmpfs");
        size_t n = json_len(c->mounts) + json_len(tmpfs);
        for (size_t level = 0, done = 0; done < n && level < 4096; level++) {
                size_t i;
                const struct json *p;
                json_array_foreach (c->mounts, i, p) {
                        if (depth(jstr(p, "Destination")) != level)
                                continue;
                        done++;
                        point_mount(oci_mounts, p);
                }
                const char *dst;
                json_object_foreach (tmpfs, i, dst, p) {
                        if (depth(dst) != level)
                                continue;
                        done++;
                        tmpfs_mount(oci_mounts, dst, json_str(p));
                }
        }
}

/* The container's volumes and binds (not tmpfs: nothing of it outlives a run), mounted in
 * this thread's own mount namespace on their destinations in the root at rootfd, resolved
 * inside it by fd, parents first; read-only ones read-only.  A destination not in the root
 * yet (the container never started) or a volume whose driver options mount it elsewhere is
 * left out. */
int ctr_mount_points_at(struct berth_ctr *c, int rootfd, struct berth_error **err)
{
        for (size_t level = 1; level < 256; level++) {
                size_t i;
                const struct json *p;
                bool deeper = false;
                json_array_foreach (c->mounts, i, p) {
                        const char *type = jstr(p, "Type"), *dst = jstr(p, "Destination");
                        const char *src = jstr(p, "Source");
                        if (!type || !dst || !src || !*src || strcmp(type, "tmpfs") == 0)
                                continue;
                        size_t d = depth(dst);
                        deeper |= d > level;
                        if (d != level)
                                continue;
                        _cleanup_close_ int dfd =
                            open_in_root(rootfd, dst, O_PATH | O_DIRECTORY, 0);
                        _cleanup_close_ int sfd =
                            open(src, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (dfd < 0 || sfd < 0)
                                continue;
                        char target[64], from[64];
                        snprintf(target, sizeof(target), "/proc/self/fd/%d", dfd);
                        snprintf(from, sizeof(from), "/proc/self/fd/%d", sfd);
                        if (mount(from, target, NULL, MS_BIND | MS_REC, NULL) < 0)
                                return berth_error_sys(
                                    err, errno, "container %.12s: mount %s at %s", c->id, src, dst);
                        if (!jbool(p, "RW")) {
                                _cleanup_close_ int mfd =
                                    open_in_root(rootfd, dst, O_PATH | O_DIRECTORY, 0);
                                snprintf(target, sizeof(target), "/proc/self/fd/%d", mfd);
                                if (mfd < 0 || mount(NULL, target, NULL,
                                                     MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                                        return berth_error_sys(err, errno,
                                                               "container %.12s: make %s "
                                                               "read-only",
                                                               c->id, dst);
                        }
                }
                if (!deeper)
                        break;
        }
        return 0;
}

bool ctr_has_mount_points(const struct berth_ctr *c)
{
        size_t i;
        const struct json *p;
        json_array_foreach (c->mounts, i, p) {
                const char *type = jstr(p, "Type");
                if (type && strcmp(type, "tmpfs") != 0)
                        return true;
        }
        return false;
}

struct json *ctr_mounts_json(const struct berth_ctr *c)
{
        struct json *out = json_new_array();
        static const char *const shown[] = {"Type",   "Name", "Source", "Destination",
                                            "Driver", "Mode", "RW",     "Propagation"};
        size_t i;
        const struct json *p;
        json_array_foreach (c->mounts, i, p) {
                bool volume = strcmp(jstr(p, "Type"), "volume") == 0;
                struct json *o = json_array_append(out, json_new_object());
                for (size_t k = 0; k < ELEMENTSOF(shown); k++) {
                        if (!volume && (k == 1 || k == 4))
                                continue; /* Name and Driver: volumes only (omitempty) */
                        json_object_set(o, shown[k], json_copy(jget(p, shown[k])));
                }
        }
        return out;
}

char **berth_ctr_volume_users(struct berth_engine *e, const char *volume, bool running_only)
{
        struct ctr_manager *m = ctr_mgr(e);
        char **out = xcalloc(1, sizeof(char *));
        size_t n = 0;
        if (!m)
                return out;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) {
                struct berth_ctr *c = m->v[i];
                if (running_only && c->state != CTR_RUNNING && c->state != CTR_PAUSED &&
                    c->state != CTR_RESTARTING)
                        continue;
                size_t k;
                const struct json *p;
                json_array_foreach (c->mounts, k, p) {
                        const char *name = jstr(p, "Name");
                        if (strcmp(jstr(p, "Type"), "volume") == 0 && name &&
                            strcmp(name, volume) == 0) {
                                out = xrealloc(out, (n + 2) * sizeof(char *));
                                out[n++] = xstrdup(c->id);
                                out[n] = NULL;
                                break;
                        }
                }
        }
        pthread_mutex_unlock(&m->lock);
        return out;
}
