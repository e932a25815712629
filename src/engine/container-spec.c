/*
 * container-spec.c — from Docker's create request to the OCI config.json a
 * container starts with.
 *
 * At create (ctr_normalize_create) the request is checked the way dockerd
 * checks it — same words, so the docker CLI and docker-py report what users
 * know — and completed: the image's config is merged in (Env, Cmd,
 * Entrypoint, WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal,
 * Healthcheck, as dockerd's mergeAndVerifyConfig does) and HostConfig gets
 * the defaults dockerd reports in inspect.
 *
 * At start (ctr_oci_spec) the stored config becomes the OCI document moby
 * writes: docker's 14 capabilities, its default seccomp profile resolved for
 * the capabilities in force, masked and read-only /proc and /sys paths, the
 * standard mounts (/proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys,
 * /sys/fs/cgroup), the container's own /etc/hostname, /etc/hosts and
 * /etc/resolv.conf, namespaces per the *Mode settings, resources per
 * HostConfig (container-resources.c), and the user resolved inside the
 * container's root.
 *
 * The image is not trusted: its User is looked up in its own /etc/passwd and
 * /etc/group opened with open_in_root() (a symlink to the host's files
 * resolves inside the rootfs), with bounded sizes; its WorkingDir must be
 * absolute; its Env and Cmd are bounded by the request limit; nothing in it
 * names a host path.
 *
 * Never: read a file of the container's root by a path string; let an
 * image's config widen what HostConfig grants (capabilities, devices,
 * mounts).
 */
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "container-internal.h"
#include "images.h"
#include "oci/runtime-spec.h"
#include "runtime/seccomp-profile.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define PASSWD_MAX   (4u << 20)
#define MIN_MEMORY   (6 * 1024 * 1024)
#define DEFAULT_SHM  (64 * 1024 * 1024)

/* docker's default capability set (moby oci/caps/defaults.go) */
static const char *const default_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

/* ---- small JSON helpers ---- */

static bool jstr_empty(const struct json *j, const char *k)
{
        const char *s = jstr(j, k);
        return !s || !*s;
}

/* A value is "set" when present and not null (Go's nil slice/map). */
static bool jset(const struct json *j, const char *k)
{
        const struct json *v = jget(j, k);
        return v && v->type != JSON_NULL;
}

/* ---- signals ---- */

int ctr_parse_signal(const char *s, int *ret, struct berth_error **err)
{
        if (!s || !*s)
                return berth_error_set(err, EINVAL, "Invalid signal: %s", s ? s : "");
        char *end = NULL;
        long n = strtol(s, &end, 10);
        if (end && *end == '\0' && end != s) {
                if (n <= 0 || n >= NSIG)
                        return berth_error_set(err, EINVAL, "Invalid signal: %s", s);
                *ret = (int)n;
                return 0;
        }
        const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
        for (int i = 1; i < NSIG; i++) {
                const char *abbr = sigabbrev_np(i);
                if (abbr && strcasecmp(abbr, name) == 0) {
                        *ret = i;
                        return 0;
                }
        }
        if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
                bool min = strncasecmp(name, "RTMIN", 5) == 0;
                int off = 0;
                if (name[5] == '+' || name[5] == '-')
                        off = atoi(name + 5);
                int sig = (min ? SIGRTMIN : SIGRTMAX) + off;
                if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
                        *ret = sig;
                        return 0;
                }
        }
        return berth_error_set(err, EINVAL, "Invalid signal: %s", s);
}

/* ---- create: check and complete the request ---- */

static int type_error(const char *field, const char *want, struct berth_error **err)
{
        return berth_error_set(err, EINVAL, "json: cannot unmarshal into field %s: want %s", field,
                               want);
}

/* Docker's strslice: a string or an array of strings, stored as an array. */
static int norm_strslice(struct json *obj, const char *key, const char *field,
                         struct berth_error **err)
{
        struct json *v = (struct json *)jget(obj, key);
        if (!v || v->type == JSON_NULL)
                return 0;
        if (v->type == JSON_STRING) {
                struct json *a = json_new_array();
                json_array_append(a, json_new_string(v->str.s));
                json_object_set(obj, key, a);
                return 0;
        }
        if (v->type != JSON_ARRAY)
                return type_error(field, "a string or an array of strings", err);
        size_t i;
        const struct json *it;
        json_array_foreach (v, i, it)
                if (!json_is(it, JSON_STRING))
                        return type_error(field, "an array of strings", err);
        return 0;
}

static int check_types(const struct json *cfg, const struct json *hc, struct berth_error **err)
{
        static const struct {
                const char *key;
                enum json_type t;
        } cfg_types[] = {
            {"Hostname", JSON_STRING},    {"Domainname", JSON_STRING},
            {"User", JSON_STRING},        {"AttachStdin", JSON_BOOL},
            {"AttachStdout", JSON_BOOL},  {"AttachStderr", JSON_BOOL},
            {"Tty", JSON_BOOL},           {"OpenStdin", JSON_BOOL},
            {"StdinOnce", JSON_BOOL},     {"Env", JSON_ARRAY},
            {"Image", JSON_STRING},       {"WorkingDir", JSON_STRING},
            {"Labels", JSON_OBJECT},      {"StopSignal", JSON_STRING},
            {"StopTimeout", JSON_NUMBER}, {"ExposedPorts", JSON_OBJECT},
            {"Volumes", JSON_OBJECT},
        };
        for (size_t i = 0; i < ELEMENTSOF(cfg_types); i++) {
                const struct json *v = jget(cfg, cfg_types[i].key);
                if (v && v->type != JSON_NULL && v->type != cfg_types[i].t)
                        return berth_error_set(err, EINVAL,
                                               "json: cannot unmarshal %s into Go struct field "
                                               "ContainerConfigWrapper.%s of type %s",
                                               json_type_name(v->type), cfg_types[i].key,
                                               json_type_name(cfg_types[i].t));
        }
        static const struct {
                const char *key;
                enum json_type t;
        } hc_types[] = {
            {"Binds", JSON_ARRAY},
            {"NetworkMode", JSON_STRING},
            {"RestartPolicy", JSON_OBJECT},
            {"AutoRemove", JSON_BOOL},
            {"CapAdd", JSON_ARRAY},
            {"CapDrop", JSON_ARRAY},
            {"Privileged", JSON_BOOL},
            {"ReadonlyRootfs", JSON_BOOL},
            {"SecurityOpt", JSON_ARRAY},
            {"Memory", JSON_NUMBER},
            {"MemorySwap", JSON_NUMBER},
            {"NanoCpus", JSON_NUMBER},
            {"CpuShares", JSON_NUMBER},
            {"CpuPeriod", JSON_NUMBER},
            {"CpuQuota", JSON_NUMBER},
            {"PidsLimit", JSON_NUMBER},
            {"Ulimits", JSON_ARRAY},
            {"ShmSize", JSON_NUMBER},
            {"Sysctls", JSON_OBJECT},
            {"Devices", JSON_ARRAY},
            {"Tmpfs", JSON_OBJECT},
            {"LogConfig", JSON_OBJECT},
            {"Init", JSON_BOOL},
            {"ConsoleSize", JSON_ARRAY},
            {"CgroupParent", JSON_STRING},
            {"PidMode", JSON_STRING},
            {"IpcMode", JSON_STRING},
            {"UTSMode", JSON_STRING},
            {"OomScoreAdj", JSON_NUMBER},
        };
        for (size_t i = 0; i < ELEMENTSOF(hc_types); i++) {
                const struct json *v = jget(hc, hc_types[i].key);
                if (v && v->type != JSON_NULL && v->type != hc_types[i].t)
                        return berth_error_set(err, EINVAL,
                                               "json: cannot unmarshal %s into Go struct field "
                                               "HostConfig.%s of type %s",
                                               json_type_name(v->type), hc_types[i].key,
                                               json_type_name(hc_types[i].t));
        }
        return 0;
}

static long host_cpus(void)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? n : 1;
}

int ctr_check_host_config(const struct json *hc, struct berth_error **err)
{
        int64_t mem = jint(hc, "Memory"), swap = jint(hc, "MemorySwap");
        if (mem < 0)
                return berth_error_set(err, EINVAL, "invalid memory limit: %lld", (long long)mem);
        if (mem > 0 && mem < MIN_MEMORY)
                return berth_error_set(err, EINVAL, "Minimum memory limit allowed is 6MB");
        if (mem > 0 && swap > 0 && swap < mem)
                return berth_error_set(err, EINVAL,
                                       "Minimum memoryswap limit should be larger than memory "
                                       "limit, see usage");
        if (mem == 0 && swap > 0)
                return berth_error_set(err, EINVAL,
                                       "You should always set the Memory limit when using "
                                       "Memoryswap limit, see usage");
        const struct json *sw = jget(hc, "MemorySwappiness");
        if (json_is(sw, JSON_NUMBER) && sw->num.i != -1 && (sw->num.i < 0 || sw->num.i > 100))
                return berth_error_set(err, EINVAL,
                                       "Invalid value: %lld, valid memory swappiness range is "
                                       "0-100",
                                       (long long)sw->num.i);
        int64_t rt_period = jint(hc, "CpuRealtimePeriod");
        int64_t rt_runtime = jint(hc, "CpuRealtimeRuntime");
        /* (these two are dockerd's 500s: codes outside the 4xx mapping) */
        if (rt_period && rt_runtime && rt_runtime > rt_period)
                return berth_error_set(err, EDOM,
                                       "cpu real-time runtime cannot be higher than cpu real-time "
                                       "period");
        /* no size quota on berth's overlay upper dirs (dockerd's overlay2 has one on xfs
         * with pquota only, and answers this elsewhere) */
        const struct json *storage = jget(hc, "StorageOpt");
        if (json_is(storage, JSON_OBJECT) && json_len(storage) > 0)
                return berth_error_set(err, EMEDIUMTYPE,
                                       "--storage-opt is supported only for overlay over xfs with "
                                       "'pquota' mount option");
        int64_t nano = jint(hc, "NanoCpus");
        if (nano < 0)
                return berth_error_set(err, EINVAL, "invalid NanoCpus: %lld", (long long)nano);
        if (nano > 0 && (jint(hc, "CpuPeriod") || jint(hc, "CpuQuota")))
                return berth_error_set(err, EINVAL,
                                       jint(hc, "CpuPeriod")
                                           ? "Conflicting options: Nano CPUs and CPU Period "
                                             "cannot both be set"
                                           : "Conflicting options: Nano CPUs and CPU Quota "
                                             "cannot both be set");
        long ncpu = host_cpus();
        if (nano > 0 && (nano < 10000000 || nano > ncpu * 1000000000LL))
                return berth_error_set(err, EINVAL,
                                       "Range of CPUs is from 0.01 to %ld.00, as there are only "
                                       "%ld CPUs available",
                                       ncpu, ncpu);
        if (jint(hc, "CpuShares") < 0)
                return berth_error_set(err, EINVAL, "invalid CPU shares: %lld",
                                       (long long)jint(hc, "CpuShares"));
        int64_t period = jint(hc, "CpuPeriod"), quota = jint(hc, "CpuQuota");
        if (period && (period < 1000 || period > 1000000))
                return berth_error_set(err, EINVAL,
                                       "CPU cfs period can not be less than 1ms (i.e. 1000) or "
                                       "larger than 1s (i.e. 1000000)");
        if (quota > 0 && quota < 1000)
                return berth_error_set(err, EINVAL,
                                       "CPU cfs quota can not be less than 1ms (i.e. 1000)");
        if (jint(hc, "ShmSize") < 0)
                return berth_error_set(err, EINVAL, "SHM size can not be less than 0");
        int64_t oom = jint(hc, "OomScoreAdj");
        if (oom < -1000 || oom > 1000)
                return berth_error_set(err, EINVAL,
                                       "Invalid value %lld, range for oom score adj is "
                                       "[-1000, 1000]",
                                       (long long)oom);
        const struct json *rp = jget(hc, "RestartPolicy");
        const char *policy = jstr(rp, "Name");
        int64_t retries = jint(rp, "MaximumRetryCount");
        if (policy && *policy && strcmp(policy, "no") != 0 && strcmp(policy, "always") != 0 &&
            strcmp(policy, "unless-stopped") != 0 && strcmp(policy, "on-failure") != 0)
                return berth_error_set(err, EINVAL, "invalid restart policy '%s'", policy);
        if (retries < 0)
                return berth_error_set(err, EINVAL, "maximum retry count cannot be negative");
        if (retries > 0 && (!policy || strcmp(policy, "on-failure") != 0))
                return berth_error_set(err, EINVAL,
                                       "maximum retry count cannot be used with restart policy "
                                       "'%s'",
                                       policy ? policy : "");
        if (jbool(hc, "AutoRemove") && policy && *policy && strcmp(policy, "no") != 0)
                return berth_error_set(err, EINVAL,
                                       "can't create 'AutoRemove' container with restart policy");
        /* berth runs its containers with one runtime, under docker's default name */
        const char *runtime = jstr(hc, "Runtime");
        if (runtime && *runtime && strcmp(runtime, "runc") != 0)
                return berth_error_set(err, EINVAL, "Unknown runtime specified %s", runtime);
        const struct json *lc = jget(hc, "LogConfig");
        const char *driver = jstr(lc, "Type");
        if (driver && *driver && strcmp(driver, "json-file") != 0 && strcmp(driver, "local") != 0 &&
            strcmp(driver, "none") != 0)
                return berth_error_set(err, EINVAL,
                                       "logging driver '%s' is not supported here (json-file, "
                                       "local or none)",
                                       driver);
        size_t i;
        const char *k;
        const struct json *v;
        /* dockerd's check at create: each driver's own keys and the two every driver
         * takes (its values are read at start); none takes anything */
        bool local = driver && strcmp(driver, "local") == 0;
        json_object_foreach (jget(lc, "Config"), i, k, v) {
                (void)v;
                if (driver && strcmp(driver, "none") == 0)
                        break;
                if (strcmp(k, "mode") == 0 || strcmp(k, "max-buffer-size") == 0 ||
                    strcmp(k, "max-size") == 0 || strcmp(k, "max-file") == 0 ||
                    strcmp(k, "compress") == 0)
                        continue;
                if (local)
                        return berth_error_set(err, EINVAL,
                                               "unknown log opt '%s' for log driver local", k);
                if (strcmp(k, "labels") != 0 && strcmp(k, "labels-regex") != 0 &&
                    strcmp(k, "env") != 0 && strcmp(k, "env-regex") != 0 && strcmp(k, "tag") != 0)
                        return berth_error_set(err, EINVAL,
                                               "unknown log opt '%s' for json-file log driver", k);
        }
        const struct json *so = jget(hc, "SecurityOpt");
        const struct json *it;
        json_array_foreach (so, i, it) {
                const char *opt = json_str(it);
                if (!opt)
                        return type_error("HostConfig.SecurityOpt", "an array of strings", err);
                if (strncmp(opt, "seccomp=", 8) == 0 || strncmp(opt, "seccomp:", 8) == 0 ||
                    strncmp(opt, "no-new-privileges", 17) == 0 ||
                    strcmp(opt, "label=disable") == 0 || strncmp(opt, "label=", 6) == 0 ||
                    strncmp(opt, "label:", 6) == 0)
                        continue;
                if (strncmp(opt, "apparmor=", 9) == 0 || strncmp(opt, "apparmor:", 9) == 0) {
                        /* this host has no AppArmor: only "no profile" can be honoured */
                        if (strcmp(opt + 9, "unconfined") == 0)
                                continue;
                        if (access("/sys/kernel/security/apparmor", F_OK) != 0)
                                return berth_error_set(err, EINVAL,
                                                       "security option '%s': AppArmor is not "
                                                       "enabled on this host, so profile '%s' "
                                                       "cannot be applied",
                                                       opt, opt + 9);
                        return berth_error_set(err, EINVAL,
                                               "security option '%s': berth does not load "
                                               "AppArmor profiles; use apparmor=unconfined",
                                               opt);
                }
                return berth_error_set(err, EINVAL, "Invalid --security-opt: %s", opt);
        }
        return 0;
}

/* Image config fields go under the container's where the request leaves them
 * out (dockerd's merge).  ic is the image config's "config" object. */
static void merge_image_config(struct json *cfg, const struct json *ic, bool entrypoint_given)
{
        /* Env: the image's, then the request's (a key given again replaces it) */
        struct json *env = json_new_array();
        const struct json *req_env = jget(cfg, "Env");
        size_t i, j;
        const struct json *ie, *it;
        json_array_foreach (jget(ic, "Env"), i, ie) {
                const char *s = json_str(ie);
                if (!s)
                        continue;
                const char *eq = strchr(s, '=');
                size_t klen = eq ? (size_t)(eq - s) : strlen(s);
                bool overridden = false;
                json_array_foreach (req_env, j, it) {
                        const char *r = json_str(it);
                        if (r && strncmp(r, s, klen) == 0 && (r[klen] == '=' || r[klen] == '\0'))
                                overridden = true;
                }
                if (!overridden)
                        json_array_append(env, json_new_string(s));
        }
        json_array_foreach (req_env, j, it)
                json_array_append(env, json_copy(it));
        json_object_set(cfg, "Env", env);

        if (!entrypoint_given) {
                if (json_len(jget(cfg, "Cmd")) == 0)
                        json_object_set(cfg, "Cmd",
                                        json_is(jget(ic, "Cmd"), JSON_ARRAY)
                                            ? json_copy(jget(ic, "Cmd"))
                                            : json_new_null());
                json_object_set(cfg, "Entrypoint",
                                json_is(jget(ic, "Entrypoint"), JSON_ARRAY)
                                    ? json_copy(jget(ic, "Entrypoint"))
                                    : json_new_null());
        }
        static const char *const strs[] = {"WorkingDir", "User", "StopSignal"};
        for (size_t k = 0; k < ELEMENTSOF(strs); k++)
                if (jstr_empty(cfg, strs[k]) && jstr(ic, strs[k]))
                        json_set_str(cfg, strs[k], jstr(ic, strs[k]));
        if (!jset(cfg, "Healthcheck") && json_is(jget(ic, "Healthcheck"), JSON_OBJECT))
                json_object_set(cfg, "Healthcheck", json_copy(jget(ic, "Healthcheck")));
        if (!jset(cfg, "OnBuild") && json_is(jget(ic, "OnBuild"), JSON_ARRAY))
                json_object_set(cfg, "OnBuild", json_copy(jget(ic, "OnBuild")));
        /* labels: the image's, overridden by the request's; ports and volumes: union */
        const char *maps[] = {"Labels", "ExposedPorts", "Volumes"};
        for (size_t k = 0; k < ELEMENTSOF(maps); k++) {
                struct json *o = json_new_object();
                const char *key;
                const struct json *v;
                json_object_foreach (jget(ic, maps[k]), i, key, v)
                        json_object_set(o, key, json_copy(v));
                json_object_foreach (jget(cfg, maps[k]), i, key, v)
                        json_object_set(o, key, json_copy(v));
                if (json_len(o) || k == 0)
                        json_object_set(cfg, maps[k], o);
                else {
                        json_free(o);
                        json_object_set(cfg, maps[k], json_new_null());
                }
        }
}

static void default_host_config(struct json *hc)
{
        static const char *const zero_ints[] = {
            "CpuShares",    "Memory",          "NanoCpus",           "BlkioWeight",
            "CpuPeriod",    "CpuQuota",        "CpuRealtimePeriod",  "CpuRealtimeRuntime",
            "KernelMemory", "KernelMemoryTCP", "MemoryReservation",  "CpuCount",
            "CpuPercent",   "IOMaximumIOps",   "IOMaximumBandwidth", "ShmSize",
            "OomScoreAdj",  "MemorySwap"};
        for (size_t i = 0; i < ELEMENTSOF(zero_ints); i++)
                if (!jset(hc, zero_ints[i]))
                        json_set_int(hc, zero_ints[i], 0);
        if (!jset(hc, "ShmSize") || jint(hc, "ShmSize") == 0)
                json_set_int(hc, "ShmSize", DEFAULT_SHM);
        /* dockerd's adaptContainerSettings: a memory limit without a swap limit gets as much
         * swap again, recorded (inspect shows it, and update compares against it) */
        if (jint(hc, "Memory") > 0 && jint(hc, "MemorySwap") == 0)
                json_set_int(hc, "MemorySwap", jint(hc, "Memory") * 2);
        if (!jset(hc, "NetworkMode") || jstr_empty(hc, "NetworkMode"))
                json_set_str(hc, "NetworkMode", "default");
        struct json *rp = (struct json *)jget(hc, "RestartPolicy");
        if (!json_is(rp, JSON_OBJECT))
                rp = json_object_set(hc, "RestartPolicy", json_new_object());
        if (!jset(rp, "Name"))
                json_set_str(rp, "Name", "no");
        else if (jstr_empty(rp, "Name"))
                json_set_str(rp, "Name", "no");
        if (!jset(rp, "MaximumRetryCount"))
                json_set_int(rp, "MaximumRetryCount", 0);
        struct json *lc = (struct json *)jget(hc, "LogConfig");
        if (!json_is(lc, JSON_OBJECT))
                lc = json_object_set(hc, "LogConfig", json_new_object());
        if (jstr_empty(lc, "Type"))
                json_set_str(lc, "Type", "json-file");
        if (!json_is(jget(lc, "Config"), JSON_OBJECT))
                json_object_set(lc, "Config", json_new_object());
        static const char *const bools[] = {"AutoRemove", "Privileged", "PublishAllPorts",
                                            "ReadonlyRootfs"};
        for (size_t i = 0; i < ELEMENTSOF(bools); i++)
                if (!jset(hc, bools[i]))
                        json_set_bool(hc, bools[i], false);
        static const char *const strs[] = {
            "ContainerIDFile", "VolumeDriver", "IpcMode",     "Cgroup",    "PidMode",
            "UTSMode",         "UsernsMode",   "Runtime",     "Isolation", "CgroupParent",
            "CpusetCpus",      "CpusetMems",   "CgroupnsMode"};
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                if (!jset(hc, strs[i]))
                        json_set_str(hc, strs[i], "");
        if (jstr_empty(hc, "IpcMode"))
                json_set_str(hc, "IpcMode", "private");
        if (jstr_empty(hc, "Runtime"))
                json_set_str(hc, "Runtime", "runc");
        if (jstr_empty(hc, "CgroupnsMode"))
                json_set_str(hc, "CgroupnsMode",
                             access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "private"
                                                                                    : "host");
        if (!jset(hc, "ConsoleSize")) {
                struct json *a = json_object_set(hc, "ConsoleSize", json_new_array());
                json_array_append(a, json_new_int(0));
                json_array_append(a, json_new_int(0));
        }
        if (!jset(hc, "MaskedPaths") && !jbool(hc, "Privileged")) {
                static const char *const masked[] = {"/proc/asound",
                                                     "/proc/acpi",
                                                     "/proc/kcore",
                                                     "/proc/keys",
                                                     "/proc/latency_stats",
                                                     "/proc/timer_list",
                                                     "/proc/timer_stats",
                                                     "/proc/sched_debug",
                                                     "/proc/scsi",
                                                     "/sys/firmware",
                                                     NULL};
                struct json *a = json_object_set(hc, "MaskedPaths", json_new_array());
                for (const char *const *p = masked; *p; p++)
                        json_array_append(a, json_new_string(*p));
        }
        if (!jset(hc, "ReadonlyPaths") && !jbool(hc, "Privileged")) {
                static const char *const ro[] = {
                    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};
                struct json *a = json_object_set(hc, "ReadonlyPaths", json_new_array());
                for (const char *const *p = ro; *p; p++)
                        json_array_append(a, json_new_string(*p));
        }
}

int ctr_normalize_create(struct berth_engine *e, const struct json *body, struct json **ret_config,
                         struct json **ret_host_config, struct json **ret_networking,
                         char **ret_image_id, char ***ret_warnings, struct berth_error **err)
{
        if (!json_is(body, JSON_OBJECT))
                return berth_error_set(err, EINVAL,
                                       "config cannot be empty in order to create a container");
        _cleanup_json_ struct json *cfg = json_copy(body);
        _cleanup_json_ struct json *hc = json_copy(jget(body, "HostConfig"));
        _cleanup_json_ struct json *net = json_copy(jget(body, "NetworkingConfig"));
        json_object_del(cfg, "HostConfig");
        json_object_del(cfg, "NetworkingConfig");
        if (!json_is(hc, JSON_OBJECT)) {
                json_free(hc);
                hc = json_new_object();
        }
        int r = check_types(cfg, hc, err);
        if (r == 0)
                r = norm_strslice(cfg, "Cmd", "ContainerConfigWrapper.Cmd", err);
        if (r == 0)
                r = norm_strslice(cfg, "Entrypoint", "ContainerConfigWrapper.Entrypoint", err);
        if (r < 0)
                return r;
        size_t i;
        const struct json *it;
        json_array_foreach (jget(cfg, "Env"), i, it)
                if (!json_is(it, JSON_STRING))
                        return type_error("ContainerConfigWrapper.Env", "an array of strings", err);
        const char *k;
        json_object_foreach (jget(cfg, "Labels"), i, k, it) {
                (void)k;
                if (!json_is(it, JSON_STRING))
                        return type_error("ContainerConfigWrapper.Labels", "an object of strings",
                                          err);
        }
        if (jstr_empty(cfg, "Image"))
                return berth_error_set(err, EINVAL, "config: Image is required");

        _cleanup_image_ struct berth_image *img = NULL;
        r = berth_image_find(e, jstr(cfg, "Image"), &img, err);
        if (r < 0)
                return r;
        _cleanup_json_ struct json *image_config = NULL;
        r = berth_image_config(e, img, &image_config, err);
        if (r < 0)
                return berth_error_prefix(err, "image %s", jstr(cfg, "Image"));
        bool entrypoint_given = jset(cfg, "Entrypoint");
        merge_image_config(cfg, jget(image_config, "config"), entrypoint_given);
        if (json_len(jget(cfg, "Cmd")) == 0 && json_len(jget(cfg, "Entrypoint")) == 0)
                return berth_error_set(err, EINVAL, "No command specified");
        const char *wd = jstr(cfg, "WorkingDir");
        if (wd && *wd && wd[0] != '/')
                return berth_error_set(err, EINVAL,
                                       "the working directory '%s' is invalid, it needs to be "
                                       "an absolute path",
                                       wd);
        const char *ss = jstr(cfg, "StopSignal");
        int sig;
        if (ss && *ss && ctr_parse_signal(ss, &sig, err) < 0)
                return r = -EINVAL;
        static const char *const bools[] = {"AttachStdin", "AttachStdout", "AttachStderr",
                                            "Tty",         "OpenStdin",    "StdinOnce"};
        for (size_t b = 0; b < ELEMENTSOF(bools); b++)
                if (!jset(cfg, bools[b]))
                        json_set_bool(cfg, bools[b], false);
        static const char *const strs[] = {"Hostname", "Domainname", "User", "WorkingDir"};
        for (size_t s = 0; s < ELEMENTSOF(strs); s++)
                if (!jset(cfg, strs[s]))
                        json_set_str(cfg, strs[s], "");
        if (!json_is(net, JSON_OBJECT)) {
                json_free(net);
                net = json_new_object();
        }
        r = ctr_check_host_config(hc, err);
        if (r == 0)
                r = ctr_net_check_create(e, hc, net, err);
        if (r == 0)
                r = ctr_health_check_config(jget(cfg, "Healthcheck"), err);
        if (r < 0)
                return r;
        default_host_config(hc);
        /* docker: Image in the stored config is the name as given */
        char **warnings = xcalloc(5, sizeof(char *));
        size_t nw = 0;
        int64_t mem = jint(hc, "Memory");
        if (mem > 0 && access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) != 0 &&
            access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
                warnings[nw++] = xstrdup("Your kernel does not support memory limit "
                                         "capabilities or the cgroup is not mounted. Limitation "
                                         "discarded.");
        /* what only cgroup v1 has, discarded with dockerd's words elsewhere (v2) */
        const struct json *sw = jget(hc, "MemorySwappiness");
        if (json_is(sw, JSON_NUMBER) && sw->num.i != -1 &&
            access("/sys/fs/cgroup/memory/memory.swappiness", F_OK) != 0) {
                warnings[nw++] = xstrdup("Your kernel does not support memory swappiness "
                                         "capabilities or the cgroup is not mounted. Memory "
                                         "swappiness discarded.");
                json_object_set(hc, "MemorySwappiness", json_new_null());
        }
        bool rt = access("/sys/fs/cgroup/cpu/cpu.rt_period_us", F_OK) == 0;
        if (jint(hc, "CpuRealtimePeriod") > 0 && !rt) {
                warnings[nw++] = xstrdup("Your kernel does not support cgroup cpu real-time "
                                         "period. Period discarded.");
                json_set_int(hc, "CpuRealtimePeriod", 0);
        }
        if (jint(hc, "CpuRealtimeRuntime") > 0 && !rt) {
                warnings[nw++] = xstrdup("Your kernel does not support cgroup cpu real-time "
                                         "runtime. Runtime discarded.");
                json_set_int(hc, "CpuRealtimeRuntime", 0);
        }
        *ret_warnings = warnings;
        *ret_image_id = xstrdup(img->id);
        *ret_config = TAKE_PTR(cfg);
        *ret_host_config = TAKE_PTR(hc);
        *ret_networking = TAKE_PTR(net);
        return 0;
}

/* ---- start: users inside the container's root ---- */

struct ids {
        uint32_t uid, gid;
        uint32_t *groups;
        size_t n_groups;
        char *home;
};

static char *read_in_root(int rootfd, const char *path)
{
        _cleanup_close_ int fd = open_in_root(rootfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
        if (fd < 0)
                return NULL;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return NULL;
        char *text = NULL;
        if (read_full_fd(fd, PASSWD_MAX, &text, NULL) < 0)
                return NULL;
        return text;
}

static bool parse_id(const char *s, uint32_t *ret)
{
        uint64_t v;
        if (parse_u64(s, &v) < 0 || v > UINT32_MAX - 1)
                return false;
        *ret = (uint32_t)v;
        return true;
}

/* field n (0-based) of a colon-separated line, into out (bounded) */
static bool field(const char *line, int n, char *out, size_t size)
{
        const char *p = line;
        for (int i = 0; i < n; i++) {
                p = strchr(p, ':');
                if (!p)
                        return false;
                p++;
        }
        size_t len = strcspn(p, ":\n");
        if (len >= size)
                return false;
        memcpy(out, p, len);
        out[len] = '\0';
        return true;
}

static int resolve_user(int rootfd, const char *spec, const struct json *group_add, struct ids *ids,
                        struct berth_error **err)
{
        *ids = (struct ids){0};
        _cleanup_free_ char *user = xstrdup(spec && *spec ? spec : "0");
        char *group = strchr(user, ':');
        if (group)
                *group++ = '\0';
        _cleanup_free_ char *passwd = read_in_root(rootfd, "/etc/passwd");
        _cleanup_free_ char *grp = read_in_root(rootfd, "/etc/group");
        char name[256] = "";
        bool by_number = parse_id(user, &ids->uid);
        bool found = false;
        for (char *line = passwd; line && *line;) {
                char *nl = strchr(line, '\n');
                char f0[256], f2[32], f3[32], f5[1024];
                if (field(line, 0, f0, sizeof(f0)) && field(line, 2, f2, sizeof(f2)) &&
                    field(line, 3, f3, sizeof(f3))) {
                        uint32_t uid, gid;
                        bool match = by_number ? (parse_id(f2, &uid) && uid == ids->uid)
                                               : strcmp(f0, user) == 0;
                        if (match && parse_id(f2, &uid) && parse_id(f3, &gid)) {
                                ids->uid = uid;
                                ids->gid = gid;
                                snprintf(name, sizeof(name), "%s", f0);
                                if (field(line, 5, f5, sizeof(f5)))
                                        ids->home = xstrdup(f5);
                                found = true;
                                break;
                        }
                }
                line = nl ? nl + 1 : NULL;
        }
        if (!found && !by_number)
                return berth_error_set(err, EINVAL,
                                       "unable to find user %s: no matching entries in passwd "
                                       "file",
                                       user);
        if (!found)
                ids->gid = 0;
        if (group) {
                uint32_t gid;
                if (parse_id(group, &gid)) {
                        ids->gid = gid;
                } else {
                        bool g_found = false;
                        for (char *line = grp; line && *line;) {
                                char *nl = strchr(line, '\n');
                                char f0[256], f2[32];
                                if (field(line, 0, f0, sizeof(f0)) && strcmp(f0, group) == 0 &&
                                    field(line, 2, f2, sizeof(f2)) && parse_id(f2, &gid)) {
                                        ids->gid = gid;
                                        g_found = true;
                                        break;
                                }
                                line = nl ? nl + 1 : NULL;
                        }
                        if (!g_found)
                                return berth_error_set(err, EINVAL,
                                                       "unable to find group %s: no matching "
                                                       "entries in group file",
                                                       group);
                }
        }
        /* supplementary groups as dockerd lists them: the primary group first, then those
         * where the named user is listed, plus GroupAdd */
        ids->groups = xcalloc(64, sizeof(uint32_t));
        ids->groups[ids->n_groups++] = ids->gid;
        for (char *line = grp; line && *line && name[0];) {
                char *nl = strchr(line, '\n');
                char f2[32], f3[4096];
                if (field(line, 2, f2, sizeof(f2)) && field(line, 3, f3, sizeof(f3))) {
                        char *save = NULL;
                        for (char *m = strtok_r(f3, ",", &save); m; m = strtok_r(NULL, ",", &save))
                                if (strcmp(m, name) == 0) {
                                        uint32_t gid;
                                        if (parse_id(f2, &gid) && ids->n_groups < 63 &&
                                            gid != ids->gid)
                                                ids->groups[ids->n_groups++] = gid;
                                }
                }
                line = nl ? nl + 1 : NULL;
        }
        size_t i;
        const struct json *it;
        json_array_foreach (group_add, i, it) {
                const char *g = json_str(it);
                uint32_t gid;
                if (!g)
                        continue;
                if (!parse_id(g, &gid)) {
                        bool g_found = false;
                        for (char *line = grp; line && *line;) {
                                char *nl = strchr(line, '\n');
                                char f0[256], f2[32];
                                if (field(line, 0, f0, sizeof(f0)) && strcmp(f0, g) == 0 &&
                                    field(line, 2, f2, sizeof(f2)) && parse_id(f2, &gid)) {
                                        g_found = true;
                                        break;
                                }
                                line = nl ? nl + 1 : NULL;
                        }
                        if (!g_found)
                                return berth_error_set(err, EINVAL,
                                                       "Unable to find group %s: no matching "
                                                       "entries in group file",
                                                       g);
                }
                if (ids->n_groups < 63)
                        ids->groups[ids->n_groups++] = gid;
        }
        return 0;
}

/* An exec's user as dockerd resolves it (the same rules as the container's own user), for the
 * runtime: "uid:gid" and the supplementary groups. */
int ctr_exec_user(int rootfd, const char *spec, char **ret_user, char ***ret_gids,
                  struct berth_error **err)
{
        struct ids ids;
        int r = resolve_user(rootfd, spec, NULL, &ids, err);
        if (r < 0) {
                free(ids.groups);
                free(ids.home);
                return r;
        }
        *ret_user = xasprintf("%u:%u", ids.uid, ids.gid);
        char **g = xcalloc(ids.n_groups + 1, sizeof(char *));
        for (size_t i = 0; i < ids.n_groups; i++)
                g[i] = xasprintf("%u", ids.groups[i]);
        *ret_gids = g;
        free(ids.groups);
        free(ids.home);
        return 0;
}

/* ---- start: the OCI document ---- */

static struct json *strv_json(const char *const *v)
{
        struct json *a = json_new_array();
        for (; v && *v; v++)
                json_array_append(a, json_new_string(*v));
        return a;
}

static void add_mount(struct json *mounts, const char *dest, const char *type, const char *source,
                      const char *const *options)
{
        struct json *m = json_array_append(mounts, json_new_object());
        json_set_str(m, "destination", dest);
        json_set_str(m, "type", type);
        json_set_str(m, "source", source);
        json_object_set(m, "options", strv_json(options));
}

static bool cap_in(const struct json *list, const char *cap)
{
        size_t i;
        const struct json *it;
        json_array_foreach (list, i, it) {
                const char *s = json_str(it);
                if (!s)
                        continue;
                const char *n = strncasecmp(s, "CAP_", 4) == 0 ? s + 4 : s;
                if (strcasecmp(n, "ALL") == 0 || strcasecmp(n, cap + 4) == 0)
                        return true;
        }
        return false;
}

static int capabilities(const struct json *hc, struct json **ret, uint64_t *ret_mask,
                        struct berth_error **err)
{
        const struct json *add = jget(hc, "CapAdd"), *drop = jget(hc, "CapDrop");
        size_t i;
        const struct json *it;
        const struct json *lists[] = {add, drop};
        for (size_t l = 0; l < 2; l++)
                json_array_foreach (lists[l], i, it) {
                        const char *s = json_str(it);
                        if (!s)
                                return type_error("HostConfig.CapAdd", "strings", err);
                        const char *n = strncasecmp(s, "CAP_", 4) == 0 ? s : NULL;
                        _cleanup_free_ char *full = n ? xstrdup(s) : xasprintf("CAP_%s", s);
                        for (char *c = full; *c; c++)
                                *c = (char)toupper((unsigned char)*c);
                        if (strcmp(full, "CAP_ALL") != 0 && oci_cap_from_name(full) < 0)
                                return berth_error_set(err, EINVAL, "unknown capability: \"%s\"",
                                                       full);
                }
        struct json *caps = json_new_array();
        uint64_t mask = 0;
        bool privileged = jbool(hc, "Privileged");
        for (int c = 0; c <= oci_cap_last(); c++) {
                const char *name = oci_cap_name(c);
                if (!name)
                        continue;
                bool dflt = false;
                for (const char *const *d = default_caps; *d; d++)
                        dflt |= strcmp(*d, name) == 0;
                /* privileged: every capability this daemon itself may hand on (a host
                 * whose own bounding set lacks some gives the rest) */
                bool on = privileged ? prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1
                                     : (dflt || cap_in(add, name)) && !cap_in(drop, name);
                /* "--cap-drop ALL --cap-add X": adds win over a dropped ALL */
                if (!privileged && cap_in(add, name) && !dflt)
                        on = true;
                if (!privileged && cap_in(drop, name) && cap_in(add, name)) {
                        bool drop_all = false;
                        size_t k;
                        json_array_foreach (drop, k, it)
                                drop_all |=
                                    json_str(it) && (strcasecmp(json_str(it), "ALL") == 0 ||
                                                     strcasecmp(json_str(it), "CAP_ALL") == 0);
                        on = drop_all;
                }
                if (on) {
                        json_array_append(caps, json_new_string(name));
                        mask |= 1ull << c;
                }
        }
        *ret = caps;
        *ret_mask = mask;
        return 0;
}

static struct json *seccomp_cache_get(struct ctr_manager *m, uint64_t mask,
                                      struct berth_error **err);

static int security_opts(struct ctr_manager *m, const struct json *hc, uint64_t caps_mask,
                         struct json *process, struct json *linux_, struct berth_error **err)
{
        bool privileged = jbool(hc, "Privileged");
        bool unconfined = privileged;
        const char *custom = NULL;
        size_t i;
        const struct json *it;
        json_array_foreach (jget(hc, "SecurityOpt"), i, it) {
                const char *o = json_str(it);
                if (!o)
                        continue;
                if (strncmp(o, "seccomp=", 8) == 0 || strncmp(o, "seccomp:", 8) == 0) {
                        if (strcmp(o + 8, "unconfined") == 0)
                                unconfined = true;
                        else
                                custom = o + 8;
                } else if (strcmp(o, "no-new-privileges") == 0 ||
                           strcmp(o, "no-new-privileges:true") == 0 ||
                           strcmp(o, "no-new-privileges=true") == 0) {
                        json_set_bool(process, "noNewPrivileges", true);
                }
        }
        if (unconfined && !custom)
                return 0;
        struct json *sec = NULL;
        if (custom) {
                _cleanup_json_ struct json *profile = NULL;
                int r = json_parse(custom, strlen(custom), &profile, err);
                if (r < 0)
                        return berth_error_prefix(err, "decoding seccomp profile failed");
                r = seccomp_profile_resolve(profile, caps_mask, NULL, &sec, err);
                if (r < 0)
                        return r;
        } else {
                sec = seccomp_cache_get(m, caps_mask, err);
                if (!sec)
                        return -EINVAL;
        }
        if (sec)
                json_object_set(linux_, "seccomp", sec);
        return 0;
}

/* The default profile resolved once per capability set (most containers share one). */
struct seccomp_cached {
        uint64_t mask;
        char *text;
};
static struct seccomp_cached seccomp_cache[8];
static pthread_mutex_t seccomp_lock = PTHREAD_MUTEX_INITIALIZER;

static struct json *seccomp_cache_get(struct ctr_manager *m, uint64_t mask,
                                      struct berth_error **err)
{
        (void)m;
        pthread_mutex_lock(&seccomp_lock);
        for (size_t i = 0; i < ELEMENTSOF(seccomp_cache); i++)
                if (seccomp_cache[i].text && seccomp_cache[i].mask == mask) {
                        struct json *j = NULL;
                        (void)json_parse(seccomp_cache[i].text, strlen(seccomp_cache[i].text), &j,
                                         NULL);
                        pthread_mutex_unlock(&seccomp_lock);
                        return j;
                }
        pthread_mutex_unlock(&seccomp_lock);
        _cleanup_json_ struct json *profile = NULL;
        struct json *sec = NULL;
        if (seccomp_profile_default(&profile, err) < 0 ||
            seccomp_profile_resolve(profile, mask, NULL, &sec, err) < 0)
                return NULL;
        pthread_mutex_lock(&seccomp_lock);
        size_t slot = 0;
        for (size_t i = 0; i < ELEMENTSOF(seccomp_cache); i++)
                if (!seccomp_cache[i].text) {
                        slot = i;
                        break;
                }
        free(seccomp_cache[slot].text);
        seccomp_cache[slot].mask = mask;
        seccomp_cache[slot].text = json_dump(sec, 0);
        pthread_mutex_unlock(&seccomp_lock);
        return sec;
}

static void set_rlimits(const struct json *hc, struct json *process)
{
        static const struct {
                const char *docker, *oci;
        } names[] = {
            {"core", "RLIMIT_CORE"},         {"cpu", "RLIMIT_CPU"},
            {"data", "RLIMIT_DATA"},         {"fsize", "RLIMIT_FSIZE"},
            {"locks", "RLIMIT_LOCKS"},       {"memlock", "RLIMIT_MEMLOCK"},
            {"msgqueue", "RLIMIT_MSGQUEUE"}, {"nice", "RLIMIT_NICE"},
            {"nofile", "RLIMIT_NOFILE"},     {"nproc", "RLIMIT_NPROC"},
            {"rss", "RLIMIT_RSS"},           {"rtprio", "RLIMIT_RTPRIO"},
            {"rttime", "RLIMIT_RTTIME"},     {"sigpending", "RLIMIT_SIGPENDING"},
            {"stack", "RLIMIT_STACK"},       {"as", "RLIMIT_AS"},
        };
        const struct json *ul = jget(hc, "Ulimits");
        if (json_len(ul) == 0)
                return;
        struct json *rl = json_object_set(process, "rlimits", json_new_array());
        size_t i;
        const struct json *it;
        json_array_foreach (ul, i, it) {
                const char *n = jstr(it, "Name");
                for (size_t k = 0; n && k < ELEMENTSOF(names); k++)
                        if (strcmp(n, names[k].docker) == 0) {
                                struct json *r = json_array_append(rl, json_new_object());
                                json_set_str(r, "type", names[k].oci);
                                int64_t hard = jint(it, "Hard"), soft = jint(it, "Soft");
                                json_object_set(r, "hard",
                                                hard < 0 ? json_new_uint(UINT64_MAX)
                                                         : json_new_int(hard));
                                json_object_set(r, "soft",
                                                soft < 0 ? json_new_uint(UINT64_MAX)
                                                         : json_new_int(soft));
                        }
        }
}

static const char *hostname_of(const struct berth_ctr *c)
{
        const char *h = jstr(c->config, "Hostname");
        return h && *h ? h : NULL;
}

static int namespaces(struct berth_engine *e, struct berth_ctr *c, struct json *linux_,
                      struct berth_error **err)
{
        const struct json *hc = c->host_config;
        struct json *ns = json_object_set(linux_, "namespaces", json_new_array());
        const char *pid = jstr(hc, "PidMode"), *ipc = jstr(hc, "IpcMode");
        const char *uts = jstr(hc, "UTSMode"), *net = jstr(hc, "NetworkMode");
        const char *cgns = jstr(hc, "CgroupnsMode");
        json_set_str(json_array_append(ns, json_new_object()), "type", "mount");
        if (!pid || strcmp(pid, "host") != 0)
                json_set_str(json_array_append(ns, json_new_object()), "type", "pid");
        if (!ipc || strcmp(ipc, "host") != 0)
                json_set_str(json_array_append(ns, json_new_object()), "type", "ipc");
        if (!uts || strcmp(uts, "host") != 0)
                json_set_str(json_array_append(ns, json_new_object()), "type", "uts");
        if (cgns && strcmp(cgns, "private") == 0)
                json_set_str(json_array_append(ns, json_new_object()), "type", "cgroup");
        if (net && strncmp(net, "container:", 10) == 0) {
                _cleanup_ctr_ struct berth_ctr *other = NULL;
                int r = berth_ctr_get(e, net + 10, &other, err);
                if (r < 0)
                        return r;
                struct ctr_manager *m = ctr_mgr(e);
                pthread_mutex_lock(&m->lock);
                pid_t opid =
                    other->state == CTR_RUNNING || other->state == CTR_PAUSED ? other->pid : 0;
                pthread_mutex_unlock(&m->lock);
                if (!opid)
                        return berth_error_set(err, EBUSY,
                                               "cannot join network of a non running container: "
                                               "%s",
                                               net + 10);
                struct json *n = json_array_append(ns, json_new_object());
                json_set_str(n, "type", "network");
                _cleanup_free_ char *path = xasprintf("/proc/%d/ns/net", (int)opid);
                json_set_str(n, "path", path);
        } else if (!net || strcmp(net, "host") != 0) {
                /* none, and until the bridge arrives default/bridge too: loopback only */
                json_set_str(json_array_append(ns, json_new_object()), "type", "network");
        }
        return 0;
}

static void default_mounts(const struct json *hc, const char *data_dir, bool net_host,
                           struct json *mounts)
{
        bool privileged = jbool(hc, "Privileged");
        static const char *const proc[] = {"nosuid", "noexec", "nodev", NULL};
        static const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
        static const char *const pts[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                                          "mode=0620", "gid=5",  NULL};
        static const char *const sys_ro[] = {"nosuid", "noexec", "nodev", "ro", NULL};
        static const char *const sys_rw[] = {"nosuid", "noexec", "nodev", NULL};
        static const char *const cg_ro[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
        static const char *const cg_rw[] = {"nosuid", "noexec", "nodev", "relatime", NULL};
        static const char *const mq[] = {"nosuid", "noexec", "nodev", NULL};
        static const char *const bind[] = {"rbind", "rprivate", NULL};
        add_mount(mounts, "/proc", "proc", "proc", proc);
        add_mount(mounts, "/dev", "tmpfs", "tmpfs", dev);
        add_mount(mounts, "/dev/pts", "devpts", "devpts", pts);
        /* sysfs: a new one needs a network namespace of our own; else bind the host's */
        if (net_host && !privileged) {
                static const char *const sys_bind[] = {"rbind", "nosuid", "noexec",
                                                       "nodev", "ro",     NULL};
                add_mount(mounts, "/sys", "bind", "/sys", sys_bind);
        } else {
                add_mount(mounts, "/sys", "sysfs", "sysfs", privileged ? sys_rw : sys_ro);
        }
        add_mount(mounts, "/sys/fs/cgroup", "cgroup", "cgroup", privileged ? cg_rw : cg_ro);
        add_mount(mounts, "/dev/mqueue", "mqueue", "mqueue", mq);
        int64_t shm = jint(hc, "ShmSize");
        _cleanup_free_ char *shm_size =
            xasprintf("size=%lld", (long long)(shm ? shm : DEFAULT_SHM));
        const char *shm_opts[] = {"nosuid", "noexec", "nodev", "mode=1777", shm_size, NULL};
        add_mount(mounts, "/dev/shm", "tmpfs", "shm", shm_opts);
        const char *files[] = {"resolv.conf", "hostname", "hosts"};
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *src = xasprintf("%s/%s", data_dir, files[i]);
                _cleanup_free_ char *dst = xasprintf("/etc/%s", files[i]);
                add_mount(mounts, dst, "bind", src, bind);
        }
        /* HostConfig.Tmpfs goes with the user's mounts, sorted by depth (container-mounts.c) */
}

static bool is_loopback_server(const char *a)
{
        return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

static void push_word(char ***v, size_t *n, const char *w, size_t len)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = xstrndup(w, len);
        (*v)[*n] = NULL;
}

/* The words after key on the host's resolv.conf lines starting with key. */
static char **host_resolv_words(const char *text, const char *key)
{
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0, klen = strlen(key);
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                if (len > klen && strncmp(line, key, klen) == 0 &&
                    (line[klen] == ' ' || line[klen] == '\t')) {
                        const char *p = line + klen, *end = line + len;
                        while (p < end) {
                                while (p < end && (*p == ' ' || *p == '\t'))
                                        p++;
                                const char *w = p;
                                while (p < end && *p != ' ' && *p != '\t' && *p != '#')
                                        p++;
                                if (p > w)
                                        push_word(&v, &n, w, (size_t)(p - w));
                                if (p < end && *p == '#')
                                        break;
                        }
                }
                line = nl ? nl + 1 : NULL;
        }
        return v;
}

static char **strv_of_json(const struct json *a)
{
        char **v = xcalloc(json_len(a) + 1, sizeof(char *));
        size_t i, n = 0;
        const struct json *it;
        json_array_foreach (a, i, it)
                if (json_str(it))
                        v[n++] = xstrdup(json_str(it));
        return v;
}

/*
 * resolv.conf as dockerd writes it: nameservers from --dns, else daemon.json's
 * dns, else the host's (without loopback ones, unreachable from a namespace of
 * the container's own; none left: dockerd's default 8.8.8.8 and 8.8.4.4);
 * search and options likewise.  On a user network the embedded DNS server
 * answers at 127.0.0.11 (options ndots:0) and forwards to those servers, the
 * host's loopback ones included, since it asks from the host's namespace:
 * *ret_upstreams (optional) gets that list.
 */
void ctr_resolv_conf(struct berth_engine *e, struct berth_ctr *c, bool net_host,
                     struct berth_buf *out, char ***ret_upstreams)
{
        _cleanup_free_ char *host = NULL;
        (void)read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &host, NULL);
        struct berth_config *cfg = berth_engine_config(e);
        const struct json *hc = c->host_config;
        char **servers = json_len(jget(hc, "Dns")) ? strv_of_json(jget(hc, "Dns"))
                         : cfg->dns && cfg->dns[0] ? strv_copy(cfg->dns)
                                                   : host_resolv_words(host, "nameserver");
        char **search = json_len(jget(hc, "DnsSearch")) ? strv_of_json(jget(hc, "DnsSearch"))
                        : cfg->dns_search && cfg->dns_search[0] ? strv_copy(cfg->dns_search)
                                                                : host_resolv_words(host, "search");
        if (!search[0]) {
                strv_free(search);
                search = host_resolv_words(host, "domain");
        }
        char **opts = json_len(jget(hc, "DnsOptions"))    ? strv_of_json(jget(hc, "DnsOptions"))
                      : cfg->dns_opts && cfg->dns_opts[0] ? strv_copy(cfg->dns_opts)
                                                          : host_resolv_words(host, "options");
        berth_config_unref(cfg);
        bool embedded = !net_host && ctr_net_uses_dns(e, c);
        if (search[0]) {
                buf_puts(out, "search");
                for (size_t i = 0; search[i]; i++)
                        buf_printf(out, " %s", search[i]);
                buf_putc(out, '\n');
        }
        if (embedded) {
                buf_puts(out, "nameserver 127.0.0.11\n");
        } else {
                size_t kept = 0;
                for (size_t i = 0; servers[i]; i++)
                        if (net_host || !is_loopback_server(servers[i])) {
                                buf_printf(out, "nameserver %s\n", servers[i]);
                                kept++;
                        }
                if (!kept && !net_host)
                        buf_puts(out, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        }
        if (opts[0] || embedded) {
                buf_puts(out, "options");
                for (size_t i = 0; opts[i]; i++)
                        buf_printf(out, " %s", opts[i]);
                if (embedded)
                        buf_puts(out, " ndots:0");
                buf_putc(out, '\n');
        }
        strv_free(search);
        strv_free(opts);
        if (ret_upstreams)
                *ret_upstreams = servers;
        else
                strv_free(servers);
}

/* /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, in data_dir. */
static int write_etc_files(struct berth_engine *e, struct berth_ctr *c, const char *data_dir,
                           const char *hostname, bool net_host, struct berth_error **err)
{
        _cleanup_free_ char *hn = xasprintf("%s/hostname", data_dir);
        _cleanup_free_ char *text = xasprintf("%s\n", hostname);
        int r = write_file_at(AT_FDCWD, hn, text, strlen(text), 0644);
        if (r < 0)
                return berth_error_sys(err, -r, "write '%s'", hn);
        _cleanup_free_ char *hosts = xasprintf("%s/hosts", data_dir);
        struct berth_buf b = BERTH_BUF_INIT;
        if (net_host) {
                _cleanup_free_ char *host_hosts = NULL;
                if (read_file_at(AT_FDCWD, "/etc/hosts", 1 << 20, &host_hosts, NULL) == 0)
                        buf_puts(&b, host_hosts);
        } else {
                buf_puts(&b, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                             "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
                             "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
                ctr_net_hosts_lines(e, c, hostname, &b);
        }
        size_t i;
        const struct json *it;
        json_array_foreach (jget(c->host_config, "ExtraHosts"), i, it) {
                const char *h = json_str(it);
                const char *colon = h ? strchr(h, ':') : NULL;
                if (!colon)
                        continue;
                const char *ip = colon + 1;
                char gw[64];
                if (strcmp(ip, "host-gateway") == 0) {
                        if (ctr_net_host_gateway(e, gw) < 0) {
                                buf_release(&b);
                                return berth_error_set(err, EINVAL,
                                                       "unable to derive the IP value for "
                                                       "host-gateway: berthd has no default "
                                                       "bridge");
                        }
                        ip = gw;
                }
                buf_printf(&b, "%s\t%.*s\n", ip, (int)(colon - h), h);
        }
        if (!net_host) {
                r = ctr_net_links(e, c, &b, NULL, err);
                if (r < 0) {
                        buf_release(&b);
                        return r;
                }
        }
        r = write_file_at(AT_FDCWD, hosts, b.data ? b.data : "", b.len, 0644);
        buf_release(&b);
        if (r < 0)
                return berth_error_sys(err, -r, "write '%s'", hosts);
        /* resolv.conf: see ctr_resolv_conf */
        _cleanup_free_ char *resolv = xasprintf("%s/resolv.conf", data_dir);
        struct berth_buf rb = BERTH_BUF_INIT;
        ctr_resolv_conf(e, c, net_host, &rb, NULL);
        r = write_file_at(AT_FDCWD, resolv, rb.data ? rb.data : "", rb.len, 0644);
        buf_release(&rb);
        if (r < 0)
                return berth_error_sys(err, -r, "write '%s'", resolv);
        return 0;
}

char *ctr_cgroups_path(struct ctr_manager *m, const struct berth_ctr *c)
{
        const char *parent = jstr(c->host_config, "CgroupParent");
        char *p = xasprintf("%s/%s", parent && *parent ? parent : m->cgroup_parent, c->id);
        if (p[0] != '/') {
                char *abs = xasprintf("/%s", p);
                free(p);
                p = abs;
        }
        return p;
}

int ctr_oci_spec(struct berth_engine *e, struct berth_ctr *c, const char *rootfs_dir,
                 const char *data_dir, struct json **ret, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        const struct json *cfg = c->config, *hc = c->host_config;
        const char *net = jstr(hc, "NetworkMode");
        bool net_host = net && strcmp(net, "host") == 0;
        bool uts_host = jstr(hc, "UTSMode") && strcmp(jstr(hc, "UTSMode"), "host") == 0;
        _cleanup_json_ struct json *s = json_new_object();
        json_set_str(s, "ociVersion", OCI_RUNTIME_SPEC_VERSION);

        /* the process */
        struct json *p = json_object_set(s, "process", json_new_object());
        json_set_bool(p, "terminal", jbool(cfg, "Tty"));
        const struct json *cs = jget(hc, "ConsoleSize");
        if (json_len(cs) == 2 && jint(hc, "ConsoleSize") == 0) {
                int64_t h = json_is(cs->arr.items[0], JSON_NUMBER) ? cs->arr.items[0]->num.i : 0;
                int64_t w = json_is(cs->arr.items[1], JSON_NUMBER) ? cs->arr.items[1]->num.i : 0;
                if (h > 0 && w > 0) {
                        struct json *sz = json_object_set(p, "consoleSize", json_new_object());
                        json_set_int(sz, "height", h);
                        json_set_int(sz, "width", w);
                }
        }
        _cleanup_close_ int rootfd = open(rootfs_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return berth_error_sys(err, errno, "open rootfs '%s'", rootfs_dir);
        struct ids ids;
        int r = resolve_user(rootfd, jstr(cfg, "User"), jget(hc, "GroupAdd"), &ids, err);
        if (r < 0) {
                free(ids.groups);
                free(ids.home);
                return r;
        }
        struct json *user = json_object_set(p, "user", json_new_object());
        json_set_int(user, "uid", ids.uid);
        json_set_int(user, "gid", ids.gid);
        if (ids.n_groups) {
                struct json *ag = json_object_set(user, "additionalGids", json_new_array());
                for (size_t i = 0; i < ids.n_groups; i++)
                        json_array_append(ag, json_new_int(ids.groups[i]));
        }
        free(ids.groups);

        /* args: --init first, then Entrypoint + Cmd */
        struct json *args = json_object_set(p, "args", json_new_array());
        bool init = jbool(hc, "Init");
        if (init) {
                json_array_append(args, json_new_string("/sbin/docker-init"));
                json_array_append(args, json_new_string("--"));
        }
        size_t i;
        const struct json *it;
        json_array_foreach (jget(cfg, "Entrypoint"), i, it)
                json_array_append(args, json_copy(it));
        json_array_foreach (jget(cfg, "Cmd"), i, it)
                json_array_append(args, json_copy(it));

        /* env: PATH (if the image has none), HOSTNAME, TERM with a terminal, then Config.Env */
        const char *hostname = hostname_of(c);
        char short_id[13];
        snprintf(short_id, sizeof(short_id), "%.12s", c->id);
        if (!hostname)
                hostname = short_id;
        struct json *env = json_object_set(p, "env", json_new_array());
        bool has_path = false, has_home = false;
        json_array_foreach (jget(cfg, "Env"), i, it) {
                const char *v = json_str(it);
                has_path |= v && strncmp(v, "PATH=", 5) == 0;
                has_home |= v && strncmp(v, "HOME=", 5) == 0;
        }
        if (!has_path)
                json_array_append(env, json_new_string("PATH=" DEFAULT_PATH));
        _cleanup_free_ char *hn_env =
            xasprintf("HOSTNAME=%s", net_host || uts_host ? "" : hostname);
        if (!net_host && !uts_host)
                json_array_append(env, json_new_string(hn_env));
        if (jbool(cfg, "Tty"))
                json_array_append(env, json_new_string("TERM=xterm"));
        r = ctr_net_links(e, c, NULL, env, err); /* dockerd: links' variables, then Env */
        if (r < 0)
                return r;
        json_array_foreach (jget(cfg, "Env"), i, it)
                if (json_str(it) && strchr(json_str(it), '='))
                        json_array_append(env, json_copy(it));
        if (!has_home) {
                _cleanup_free_ char *home =
                    xasprintf("HOME=%s", ids.home && *ids.home ? ids.home : "/");
                json_array_append(env, json_new_string(home));
        }
        free(ids.home);
        const char *wd = jstr(cfg, "WorkingDir");
        json_set_str(p, "cwd", wd && *wd ? wd : "/");

        _cleanup_json_ struct json *caps = NULL;
        uint64_t mask = 0;
        r = capabilities(hc, &caps, &mask, err);
        if (r < 0)
                return r;
        struct json *cj = json_object_set(p, "capabilities", json_new_object());
        json_object_set(cj, "bounding", json_copy(caps));
        json_object_set(cj, "effective", json_copy(caps));
        json_object_set(cj, "permitted", json_copy(caps));
        set_rlimits(hc, p);
        if (jint(hc, "OomScoreAdj"))
                json_set_int(p, "oomScoreAdj", jint(hc, "OomScoreAdj"));

        /* root, hostname, mounts */
        struct json *root = json_object_set(s, "root", json_new_object());
        json_set_str(root, "path", rootfs_dir);
        json_set_bool(root, "readonly", jbool(hc, "ReadonlyRootfs"));
        if (!uts_host) {
                char host_name[256] = "";
                if (net_host)
                        (void)gethostname(host_name, sizeof(host_name) - 1);
                json_set_str(s, "hostname", net_host ? host_name : hostname);
                const char *dn = jstr(cfg, "Domainname");
                if (dn && *dn)
                        json_set_str(s, "domainname", dn);
        }
        struct json *mounts = json_object_set(s, "mounts", json_new_array());
        default_mounts(hc, data_dir, net_host, mounts);
        ctr_user_mounts(c, mounts);
        if (init) {
                static const char *const ro_bind[] = {"bind", "ro", NULL};
                _cleanup_free_ char *init_path = xasprintf("%s/berth-init", m->shim_dir);
                add_mount(mounts, "/sbin/docker-init", "bind", init_path, ro_bind);
        }
        {
                char host_name[256] = "";
                (void)gethostname(host_name, sizeof(host_name) - 1);
                r = write_etc_files(e, c, data_dir, net_host ? host_name : hostname, net_host, err);
                if (r < 0)
                        return r;
        }

        /* linux */
        struct json *linux_ = json_object_set(s, "linux", json_new_object());
        r = ctr_spec_resources(hc, linux_, err);
        if (r < 0)
                return r;
        r = namespaces(e, c, linux_, err);
        if (r < 0)
                return r;
        char *cgpath = ctr_cgroups_path(m, c);
        json_set_str(linux_, "cgroupsPath", cgpath);
        pthread_mutex_lock(&m->lock);
        free(c->cgroups_path);
        c->cgroups_path = cgpath;
        pthread_mutex_unlock(&m->lock);
        if (json_len(jget(hc, "Sysctls"))) {
                struct json *sys = json_object_set(linux_, "sysctl", json_new_object());
                const char *k;
                json_object_foreach (jget(hc, "Sysctls"), i, k, it)
                        if (json_str(it))
                                json_set_str(sys, k, json_str(it));
        }
        if (!jbool(hc, "Privileged")) {
                json_object_set(linux_, "maskedPaths", json_copy(jget(hc, "MaskedPaths")));
                json_object_set(linux_, "readonlyPaths", json_copy(jget(hc, "ReadonlyPaths")));
        }
        r = security_opts(m, hc, mask, p, linux_, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
