/*
 * system.c — GET/HEAD /_ping, GET /version, GET /info.
 *
 * Field names and types follow the API 1.41 specification and what dockerd
 * 20.10 sends (shared/reference): the real docker CLI and docker-py decode
 * these bodies.  Values are honest: features berth does not have yet (swarm,
 * plugins, runtimes, logging drivers) are reported empty rather than copied
 * from dockerd, and GoVersion is empty (Details.CCompiler names the compiler).
 *
 * Never: block; every value here is a few small reads of /proc and /sys.
 */
#include <dirent.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/units.h"
#include "base/version.h"
#include "engine/sysinfo.h"
#include "engine/containers.h"
#include "handlers.h"

static void handle_ping(struct api_request *req, void *userdata)
{
        /* dockerd: no caching, Builder-Version names the builder clients may use. */
        api_response_header(req, "Builder-Version", "1");
        api_response_header(req, "Cache-Control", "no-cache, no-store, must-revalidate");
        api_response_header(req, "Pragma", "no-cache");
        if (strcmp(api_request_method(req), "HEAD") == 0)
                api_reply(req, 200, "text/plain; charset=utf-8", "", 0);
        else
                api_reply(req, 200, "text/plain; charset=utf-8", "OK", 2);
}

static char *build_time_string(void)
{
        if (berth_build_time <= 0)
                return xstrdup("");
        time_t t = (time_t)berth_build_time;
        struct tm tm;
        gmtime_r(&t, &tm);
        char s[64];
        strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S.000000000+00:00", &tm);
        return xstrdup(s);
}

struct json *api_system_version_json(struct berth_engine *engine)
{
        struct berth_sysinfo si;
        berth_sysinfo_get(&si);
        _cleanup_free_ char *built = build_time_string();

        struct json *v = json_new_object();
        struct json *platform = json_object_set(v, "Platform", json_new_object());
        json_set_str(platform, "Name", "Berth Engine");
        struct json *comps = json_object_set(v, "Components", json_new_array());
        struct json *eng = json_array_append(comps, json_new_object());
        json_set_str(eng, "Name", "Engine");
        json_set_str(eng, "Version", berth_version);
        struct json *d = json_object_set(eng, "Details", json_new_object());
        json_set_str(d, "ApiVersion", API_MAX_VERSION);
        json_set_str(d, "Arch", si.go_arch);
        json_set_str(d, "BuildTime", built);
        json_set_str(d, "CCompiler", berth_compiler);
        json_set_str(d, "Experimental", "false");
        json_set_str(d, "GitCommit", berth_git_commit);
        json_set_str(d, "GoVersion", "");
        json_set_str(d, "KernelVersion", si.kernel_version);
        json_set_str(d, "MinAPIVersion", API_MIN_VERSION);
        json_set_str(d, "Os", "linux");

        json_set_str(v, "Version", berth_version);
        json_set_str(v, "ApiVersion", API_MAX_VERSION);
        json_set_str(v, "MinAPIVersion", API_MIN_VERSION);
        json_set_str(v, "GitCommit", berth_git_commit);
        json_set_str(v, "GoVersion", "");
        json_set_str(v, "Os", "linux");
        json_set_str(v, "Arch", si.go_arch);
        json_set_str(v, "KernelVersion", si.kernel_version);
        json_set_str(v, "BuildTime", built);
        berth_sysinfo_release(&si);
        return v;
}

static void handle_version(struct api_request *req, void *userdata)
{
        struct json *v = api_system_version_json(userdata);
        api_reply_json(req, 200, v);
        json_free(v);
}

static int count_dir(const char *path)
{
        _cleanup_closedir_ DIR *d = opendir(path);
        if (!d)
                return 0;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        return n;
}

static struct json *str_array(char *const *v)
{
        struct json *a = json_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_array_append(a, json_new_string(v[i]));
        return a;
}

/* A proxy URL with any user:password replaced, as dockerd masks it. */
static char *masked_proxy(const char *upper, const char *lower)
{
        const char *v = getenv(upper);
        if (!v || !*v)
                v = getenv(lower);
        if (!v)
                return xstrdup("");
        const char *scheme = strstr(v, "://");
        const char *host = scheme ? scheme + 3 : v;
        const char *at = strchr(host, '@');
        const char *slash = strchr(host, '/');
        if (!at || (slash && slash < at))
                return xstrdup(v);
        return xasprintf("%.*sxxxxx:xxxxx%s", (int)(host - v), v, at);
}

static bool is_cidr(const char *s)
{
        return strchr(s, '/') != NULL;
}

static struct json *registry_config(const struct berth_config *c)
{
        struct json *rc = json_new_object();
        json_object_set(rc, "AllowNondistributableArtifactsCIDRs", json_new_array());
        json_object_set(rc, "AllowNondistributableArtifactsHostnames", json_new_array());
        struct json *cidrs = json_object_set(rc, "InsecureRegistryCIDRs", json_new_array());
        for (size_t i = 0; c->insecure_registries[i]; i++)
                if (is_cidr(c->insecure_registries[i]))
                        json_array_append(cidrs, json_new_string(c->insecure_registries[i]));
        json_array_append(cidrs, json_new_string("::1/128"));
        json_array_append(cidrs, json_new_string("127.0.0.0/8"));

        struct json *idx = json_object_set(rc, "IndexConfigs", json_new_object());
        for (size_t i = 0; c->insecure_registries[i]; i++) {
                const char *name = c->insecure_registries[i];
                if (is_cidr(name))
                        continue;
                struct json *e = json_object_set(idx, name, json_new_object());
                json_set_str(e, "Name", name);
                json_object_set(e, "Mirrors", json_new_array());
                json_set_bool(e, "Secure", false);
                json_set_bool(e, "Official", false);
        }
        struct json *hub = json_object_set(idx, "docker.io", json_new_object());
        json_set_str(hub, "Name", "docker.io");
        json_object_set(hub, "Mirrors", str_array(c->registry_mirrors));
        json_set_bool(hub, "Secure", true);
        json_set_bool(hub, "Official", true);
        json_object_set(rc, "Mirrors", str_array(c->registry_mirrors));
        return rc;
}

struct json *api_system_info_json(struct berth_engine *engine)
{
        _cleanup_config_ struct berth_config *c = berth_engine_config(engine);
        struct berth_sysinfo si;
        berth_sysinfo_get(&si);
        int64_t images = 0;
        _cleanup_error_ struct berth_error *err = NULL;
        if (berth_engine_count_images(engine, &images, &err) < 0)
                log_warn("info: %s", berth_error_msg(err));
        int total = 0, running = 0, paused = 0, stopped = 0;
        berth_ctr_counts(engine, &total, &running, &paused, &stopped);

        struct json *j = json_new_object();
        json_set_str(j, "ID", engine->id);
        json_set_int(j, "Containers", total);
        json_set_int(j, "ContainersRunning", running);
        json_set_int(j, "ContainersPaused", paused);
        json_set_int(j, "ContainersStopped", stopped);
        json_set_int(j, "Images", images);
        json_set_str(j, "Driver", "overlay2");
        struct json *ds = json_object_set(j, "DriverStatus", json_new_array());
        _cleanup_free_ char *backing = berth_sysinfo_backing_fs(c->data_root);
        struct json *row = json_array_append(ds, json_new_array());
        json_array_append(row, json_new_string("Backing Filesystem"));
        json_array_append(row, json_new_string(backing));
        row = json_array_append(ds, json_new_array());
        json_array_append(row, json_new_string("Supports d_type"));
        json_array_append(
            row, json_new_string(berth_sysinfo_supports_d_type(c->data_root) ? "true" : "false"));
        struct json *plugins = json_object_set(j, "Plugins", json_new_object());
        /* the drivers berthd has built in, as dockerd lists its own */
        static const char *const vol[] = {"local", NULL};
        static const char *const net[] = {"bridge", "host", "null", NULL};
        static const char *const logd[] = {"json-file", "local", "none", NULL};
        const char *const *lists[] = {vol, net, logd};
        const char *keys[] = {"Volume", "Network", "Log"};
        for (size_t i = 0; i < 3; i++) {
                struct json *a = json_object_set(plugins, keys[i], json_new_array());
                for (const char *const *p = lists[i]; *p; p++)
                        json_array_append(a, json_new_string(*p));
                if (i == 1)
                        json_object_set(plugins, "Authorization", json_new_null());
        }
        json_set_bool(j, "MemoryLimit", si.memory_limit);
        json_set_bool(j, "SwapLimit", si.swap_limit);
        json_set_bool(j, "KernelMemory", false);
        json_set_bool(j, "KernelMemoryTCP", false);
        json_set_bool(j, "CpuCfsPeriod", si.cpu_cfs);
        json_set_bool(j, "CpuCfsQuota", si.cpu_cfs);
        json_set_bool(j, "CPUShares", si.cpu_shares);
        json_set_bool(j, "CPUSet", si.cpuset);
        json_set_bool(j, "PidsLimit", si.pids_limit);
        json_set_bool(j, "IPv4Forwarding", si.ipv4_forwarding);
        json_set_bool(j, "BridgeNfIptables", si.bridge_nf_iptables);
        json_set_bool(j, "BridgeNfIp6tables", si.bridge_nf_ip6tables);
        json_set_bool(j, "Debug", c->debug);
        json_set_int(j, "NFd", count_dir("/proc/self/fd") - 1); /* minus the dir's own fd */
        json_set_bool(j, "OomKillDisable", si.oom_kill_disable);
        /* No goroutines here: the nearest thing is the daemon's thread count. */
        json_set_int(j, "NGoroutines", count_dir("/proc/self/task"));
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char now[48];
        units_rfc3339_nano((int64_t)ts.tv_sec * UNITS_NSEC_PER_SEC + ts.tv_nsec, false, now);
        json_set_str(j, "SystemTime", now);
        json_set_str(j, "LoggingDriver", "");
        json_set_str(j, "CgroupDriver", "cgroupfs");
        json_set_str(j, "CgroupVersion", si.cgroup_version == 2 ? "2" : "1");
        json_set_int(j, "NEventsListener", 0);
        json_set_str(j, "KernelVersion", si.kernel_version);
        json_set_str(j, "OperatingSystem", si.operating_system);
        json_set_str(j, "OSVersion", si.os_version);
        json_set_str(j, "OSType", "linux");
        json_set_str(j, "Architecture", si.architecture);
        json_set_str(j, "IndexServerAddress", "https://index.docker.io/v1/");
        json_object_set(j, "RegistryConfig", registry_config(c));
        json_set_int(j, "NCPU", si.ncpu);
        json_object_set(j, "MemTotal", json_new_uint(si.mem_total));
        json_object_set(j, "GenericResources", json_new_null());
        json_set_str(j, "DockerRootDir", c->data_root);
        _cleanup_free_ char *hp = masked_proxy("HTTP_PROXY", "http_proxy");
        _cleanup_free_ char *hsp = masked_proxy("HTTPS_PROXY", "https_proxy");
        _cleanup_free_ char *np = masked_proxy("NO_PROXY", "no_proxy");
        json_set_str(j, "HttpProxy", hp);
        json_set_str(j, "HttpsProxy", hsp);
        json_set_str(j, "NoProxy", np);
        json_set_str(j, "Name", si.hostname);
        json_object_set(j, "Labels", str_array(c->labels));
        json_set_bool(j, "ExperimentalBuild", false);
        json_set_str(j, "ServerVersion", berth_version);
        /* one runtime, berth's own, under the name containers record (HostConfig.Runtime) */
        struct json *rts = json_object_set(j, "Runtimes", json_new_object());
        json_set_str(json_object_set(rts, "runc", json_new_object()), "path", "berth-runtime");
        json_set_str(j, "DefaultRuntime", "runc");
        struct json *swarm = json_object_set(j, "Swarm", json_new_object());
        json_set_str(swarm, "NodeID", "");
        json_set_str(swarm, "NodeAddr", "");
        json_set_str(swarm, "LocalNodeState", "inactive");
        json_set_bool(swarm, "ControlAvailable", false);
        json_set_str(swarm, "Error", "");
        json_object_set(swarm, "RemoteManagers", json_new_null());
        json_set_bool(j, "LiveRestoreEnabled", false);
        json_set_str(j, "Isolation", "");
        json_set_str(j, "InitBinary", "");
        static const char *const commits[] = {"ContainerdCommit", "RuncCommit", "InitCommit"};
        for (size_t i = 0; i < ELEMENTSOF(commits); i++) {
                struct json *cm = json_object_set(j, commits[i], json_new_object());
                json_set_str(cm, "ID", "");
                json_set_str(cm, "Expected", "");
        }
        json_object_set(j, "SecurityOptions", json_new_array());
        json_object_set(j, "Warnings", json_new_null());
        berth_sysinfo_release(&si);
        return j;
}

static void handle_info(struct api_request *req, void *userdata)
{
        struct json *j = api_system_info_json(userdata);
        api_reply_json(req, 200, j);
        json_free(j);
}

void api_register_system(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"GET", "/_ping", handle_ping, engine},
            {"HEAD", "/_ping", handle_ping, engine},
            {"GET", "/version", handle_version, engine},
            {"GET", "/info", handle_info, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
