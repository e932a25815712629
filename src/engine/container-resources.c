/*
 * container-resources.c — HostConfig's resources and devices as the OCI
 * config's linux.resources and linux.devices, as moby's oci_linux.go makes
 * them: memory (with docker's "as much swap again" default, swappiness), cpu
 * shares, quota, cpusets and real-time period/runtime, pids, blkio weight, per-device weights and throttles
 * (--blkio-weight-device, --device-read-bps and the like: major:minor from
 * a stat of the path the user named), the device cgroup (deny all, then
 * --privileged's allow-all, --device nodes and --device-cgroup-rule lines),
 * and every host device for --privileged.  The runtime turns these into v1
 * files, v2 files or the v2 eBPF device program.
 *
 * Never: drop a resource the user asked for without a word (a request the
 * host cannot honour fails the start, as it does with dockerd).
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "container-internal.h"

static void set_resources(const struct json *hc, struct json *linux_)
{
        struct json *res = json_object_set(linux_, "resources", json_new_object());
        struct json *devs = json_object_set(res, "devices", json_new_array());
        struct json *deny = json_array_append(devs, json_new_object());
        json_set_bool(deny, "allow", false);
        json_set_str(deny, "access", "rwm");
        if (jbool(hc, "Privileged")) {
                struct json *all = json_array_append(devs, json_new_object());
                json_set_bool(all, "allow", true);
                json_set_str(all, "access", "rwm");
        }
        int64_t mem = jint(hc, "Memory"), swap = jint(hc, "MemorySwap");
        int64_t reservation = jint(hc, "MemoryReservation");
        const struct json *sw = jget(hc, "MemorySwappiness");
        bool swappiness = json_is(sw, JSON_NUMBER) && sw->num.i >= 0 && sw->num.i <= 100;
        if (mem > 0 || reservation > 0 || jbool(hc, "OomKillDisable") || swappiness) {
                struct json *m = json_object_set(res, "memory", json_new_object());
                if (mem > 0) {
                        json_set_int(m, "limit", mem);
                        /* docker: unset swap means as much swap again as memory */
                        if (swap == 0)
                                json_set_int(m, "swap", mem * 2);
                        else
                                json_set_int(m, "swap", swap);
                }
                if (reservation > 0)
                        json_set_int(m, "reservation", reservation);
                if (jbool(hc, "OomKillDisable"))
                        json_set_bool(m, "disableOOMKiller", true);
                if (swappiness)
                        json_set_int(m, "swappiness", sw->num.i);
        }
        int64_t nano = jint(hc, "NanoCpus"), shares = jint(hc, "CpuShares");
        int64_t period = jint(hc, "CpuPeriod"), quota = jint(hc, "CpuQuota");
        const char *cpus = jstr(hc, "CpusetCpus"), *mems = jstr(hc, "CpusetMems");
        int64_t rt_period = jint(hc, "CpuRealtimePeriod");
        int64_t rt_runtime = jint(hc, "CpuRealtimeRuntime");
        if (nano || shares || period || quota || (cpus && *cpus) || (mems && *mems) ||
            rt_period > 0 || rt_runtime > 0) {
                struct json *c = json_object_set(res, "cpu", json_new_object());
                if (shares)
                        json_set_int(c, "shares", shares);
                if (nano) {
                        json_set_int(c, "period", 100000);
                        json_set_int(c, "quota", nano * 100000 / 1000000000);
                } else {
                        if (period)
                                json_set_int(c, "period", period);
                        if (quota)
                                json_set_int(c, "quota", quota);
                }
                if (cpus && *cpus)
                        json_set_str(c, "cpus", cpus);
                if (mems && *mems)
                        json_set_str(c, "mems", mems);
                if (rt_period > 0)
                        json_set_int(c, "realtimePeriod", rt_period);
                if (rt_runtime > 0)
                        json_set_int(c, "realtimeRuntime", rt_runtime);
        }
        const struct json *pl = jget(hc, "PidsLimit");
        if (json_is(pl, JSON_NUMBER) && jint(hc, "PidsLimit") != 0) {
                struct json *p = json_object_set(res, "pids", json_new_object());
                json_set_int(p, "limit", jint(hc, "PidsLimit") < 0 ? -1 : jint(hc, "PidsLimit"));
        }
        int64_t weight = jint(hc, "BlkioWeight");
        if (weight > 0)
                json_set_int(json_object_set(res, "blockIO", json_new_object()), "weight", weight);
}

/* --device /dev/x[:/dev/y[:rwm]] → linux.devices and a cgroup rule. */
static int add_devices(const struct json *hc, struct json *linux_, struct berth_error **err)
{
        struct json *devices = json_object_set(linux_, "devices", json_new_array());
        struct json *rules = (struct json *)jget(jget(linux_, "resources"), "devices");
        size_t i;
        const struct json *it;
        json_array_foreach (jget(hc, "Devices"), i, it) {
                const char *host = jstr(it, "PathOnHost");
                const char *in = jstr(it, "PathInContainer");
                const char *perm = jstr(it, "CgroupPermissions");
                if (!host || !*host)
                        return berth_error_set(err, EINVAL, "device: PathOnHost is required");
                struct stat st;
                if (stat(host, &st) < 0)
                        return berth_error_sys(err, errno,
                                               "error gathering device information while adding "
                                               "custom device \"%s\"",
                                               host);
                if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                        return berth_error_set(err, EINVAL,
                                               "error gathering device information while adding "
                                               "custom device \"%s\": not a device node",
                                               host);
                struct json *d = json_array_append(devices, json_new_object());
                json_set_str(d, "path", in && *in ? in : host);
                json_set_str(d, "type", S_ISCHR(st.st_mode) ? "c" : "b");
                json_set_int(d, "major", major(st.st_rdev));
                json_set_int(d, "minor", minor(st.st_rdev));
                json_set_int(d, "fileMode", st.st_mode & 07777);
                json_set_int(d, "uid", 0);
                json_set_int(d, "gid", 0);
                struct json *rule = json_array_append(rules, json_new_object());
                json_set_bool(rule, "allow", true);
                json_set_str(rule, "type", S_ISCHR(st.st_mode) ? "c" : "b");
                json_set_int(rule, "major", major(st.st_rdev));
                json_set_int(rule, "minor", minor(st.st_rdev));
                json_set_str(rule, "access", perm && *perm ? perm : "rwm");
        }
        return 0;
}

/* --privileged: every device node of the host's /dev (not its subdirectories' pts/shm). */
static void add_host_devices(struct json *linux_)
{
        struct json *devices = (struct json *)jget(linux_, "devices");
        _cleanup_closedir_ DIR *d = opendir("/dev");
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || strcmp(de->d_name, "console") == 0 ||
                    strcmp(de->d_name, "ptmx") == 0 || strncmp(de->d_name, "tty", 3) == 0)
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
                        continue;
                _cleanup_free_ char *p = xasprintf("/dev/%s", de->d_name);
                struct json *dj = json_array_append(devices, json_new_object());
                json_set_str(dj, "path", p);
                json_set_str(dj, "type", S_ISCHR(st.st_mode) ? "c" : "b");
                json_set_int(dj, "major", major(st.st_rdev));
                json_set_int(dj, "minor", minor(st.st_rdev));
                json_set_int(dj, "fileMode", st.st_mode & 07777);
                json_set_int(dj, "uid", st.st_uid);
                json_set_int(dj, "gid", st.st_gid);
        }
}

/* A block device the user named, as major:minor (moby stats the path too). */
static int device_numbers(const char *what, const char *path, struct json *to,
                          struct berth_error **err)
{
        struct stat st;
        if (!path || !*path)
                return berth_error_set(err, EINVAL, "%s: a device path is required", what);
        if (stat(path, &st) < 0)
                return berth_error_sys(err, errno, "%s: stat %s", what, path);
        json_set_int(to, "major", major(st.st_rdev));
        json_set_int(to, "minor", minor(st.st_rdev));
        return 0;
}

/* --blkio-weight-device and the four --device-{read,write}-{bps,iops} lists. */
static int add_blkio_devices(const struct json *hc, struct json *linux_, struct berth_error **err)
{
        static const struct {
                const char *key, *oci, *what;
        } lists[] = {
            {"BlkioDeviceReadBps", "throttleReadBpsDevice", "device-read-bps"},
            {"BlkioDeviceWriteBps", "throttleWriteBpsDevice", "device-write-bps"},
            {"BlkioDeviceReadIOps", "throttleReadIOPSDevice", "device-read-iops"},
            {"BlkioDeviceWriteIOps", "throttleWriteIOPSDevice", "device-write-iops"},
        };
        struct json *res = (struct json *)jget(linux_, "resources");
        struct json *bio = (struct json *)jget(res, "blockIO");
        size_t i;
        const struct json *it;
        if (json_len(jget(hc, "BlkioWeightDevice"))) {
                if (!bio)
                        bio = json_object_set(res, "blockIO", json_new_object());
                struct json *wd = json_object_set(bio, "weightDevice", json_new_array());
                json_array_foreach (jget(hc, "BlkioWeightDevice"), i, it) {
                        struct json *d = json_array_append(wd, json_new_object());
                        int r = device_numbers("blkio-weight-device", jstr(it, "Path"), d, err);
                        if (r < 0)
                                return r;
                        json_set_int(d, "weight", jint(it, "Weight"));
                }
        }
        for (size_t k = 0; k < ELEMENTSOF(lists); k++) {
                if (!json_len(jget(hc, lists[k].key)))
                        continue;
                if (!bio)
                        bio = json_object_set(res, "blockIO", json_new_object());
                struct json *to = json_object_set(bio, lists[k].oci, json_new_array());
                json_array_foreach (jget(hc, lists[k].key), i, it) {
                        struct json *d = json_array_append(to, json_new_object());
                        int r = device_numbers(lists[k].what, jstr(it, "Path"), d, err);
                        if (r < 0)
                                return r;
                        json_set_int(d, "rate", jint(it, "Rate"));
                }
        }
        return 0;
}

/* "<a|b|c> <major|*>:<minor|*> <rwm>", moby's deviceCgroupRuleRegex; -1 for '*'. */
static bool parse_number_or_any(const char *s, size_t n, int64_t *ret)
{
        if (n == 1 && s[0] == '*') {
                *ret = -1;
                return true;
        }
        if (n == 0 || n > 10)
                return false;
        int64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return true;
}

static int parse_cgroup_rule(const char *rule, struct json *to, struct berth_error **err)
{
        const char *s = rule ? rule : "";
        int64_t maj = 0, min = 0;
        const char *colon = strchr(s, ':'), *space2 = colon ? strchr(colon, ' ') : NULL;
        size_t nacc = space2 ? strlen(space2 + 1) : 0;
        bool ok = strchr("acb", s[0]) && s[0] && s[1] == ' ' && colon && space2 &&
                  parse_number_or_any(s + 2, (size_t)(colon - s - 2), &maj) &&
                  parse_number_or_any(colon + 1, (size_t)(space2 - colon - 1), &min) && nacc >= 1 &&
                  nacc <= 3 && strspn(space2 + 1, "rwm") == nacc;
        if (!ok)
                return berth_error_set(err, EINVAL, "invalid device cgroup rule format: '%s'", s);
        struct json *r = json_array_append(to, json_new_object());
        json_set_bool(r, "allow", true);
        char type[2] = {s[0], '\0'};
        json_set_str(r, "type", type);
        json_set_int(r, "major", maj);
        json_set_int(r, "minor", min);
        json_set_str(r, "access", space2 + 1);
        return 0;
}

static int resources_and_devices(const struct json *hc, struct json *linux_,
                                 struct berth_error **err)
{
        set_resources(hc, linux_);
        int r = add_blkio_devices(hc, linux_, err);
        if (r < 0)
                return r;
        r = add_devices(hc, linux_, err);
        if (r < 0)
                return r;
        struct json *rules = (struct json *)jget(jget(linux_, "resources"), "devices");
        size_t i;
        const struct json *it;
        json_array_foreach (jget(hc, "DeviceCgroupRules"), i, it) {
                r = parse_cgroup_rule(json_str(it), rules, err);
                if (r < 0)
                        return r;
        }
        if (jbool(hc, "Privileged"))
                add_host_devices(linux_);
        return 0;
}

int ctr_spec_resources(const struct json *hc, struct json *linux_, struct berth_error **err)
{
        int r = resources_and_devices(hc, linux_, err);
        /* dockerd answers 500 to whatever fails while it makes the spec, a missing
         * device or a bad rule included (the API would say 404 or 400 for the errno) */
        if (r < 0 && err && *err)
                (*err)->code = EIO;
        return r < 0 ? -EIO : 0;
}
