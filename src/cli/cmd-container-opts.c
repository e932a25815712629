/*
 * cmd-container-opts.c — run/create flags and the create request they make
 * (contract in container-opts.h).
 *
 * Two phases, as in docker: each flag value is checked while the command line
 * is parsed (struct cli_flag.validate, docker's ListOpts validators and
 * flag.Value setters), then container_config_parse builds the body in the
 * order of docker's Config/HostConfig structs, reporting the errors docker's
 * parse() reports.  Values a validator rewrites (-e KEY takes the client's
 * $KEY, -a STDOUT is "stdout", --add-host h=ip is "h:ip", --dns is canonical)
 * are rewritten here by the same function.
 */
#include <ctype.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "api/http.h"
#include "base/units.h"
#include "container-cmd.h"
#include "container-opts.h"

static void push(char ***v, const char *s)
{
        size_t n = 0;
        while (*v && (*v)[n])
                n++;
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = xstrdup(s);
        (*v)[n + 1] = NULL;
}

static size_t count(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

/* ---- validators: NULL when fine, else the reason (malloc'd) ---- */

static char *error_text(struct berth_error *e)
{
        char *s = xstrdup(berth_error_msg(e));
        berth_error_free(e);
        return s;
}

/* opts.ValidateEnv; *ret gets the value docker sends. */
static char *env_value(const char *v, char **ret)
{
        const char *eq = strchr(v, '=');
        size_t klen = eq ? (size_t)(eq - v) : strlen(v);
        if (klen == 0)
                return xasprintf("invalid environment variable: %s", v);
        if (ret) {
                const char *val = eq ? NULL : getenv(v);
                *ret = val ? xasprintf("%s=%s", v, val) : xstrdup(v);
        }
        return NULL;
}

static char *check_env(const char *v)
{
        return env_value(v, NULL);
}

static char *attach_value(const char *v, char **ret)
{
        static const char *const streams[] = {"stdin", "stdout", "stderr"};
        for (size_t i = 0; i < ELEMENTSOF(streams); i++) {
                if (strcasecmp(v, streams[i]) == 0) {
                        if (ret)
                                *ret = xstrdup(streams[i]);
                        return NULL;
                }
        }
        return xstrdup("valid streams are STDIN, STDOUT and STDERR");
}

static char *check_attach(const char *v)
{
        return attach_value(v, NULL);
}

static char *check_label(const char *v)
{
        const char *eq = strchr(v, '=');
        _cleanup_free_ char *key = eq ? xstrndup(v, (size_t)(eq - v)) : xstrdup(v);
        const char *k = key + strspn(key, " \t");
        if (!*k)
                return xasprintf("invalid label '%s': empty name", v);
        if (strpbrk(k, " \t"))
                return xasprintf("label '%s' contains whitespaces", k);
        return NULL;
}

char *container_check_label(const char *v)
{
        return check_label(v);
}

static char *ip_value(const char *v, char **ret)
{
        _cleanup_free_ char *trim = xstrdup(v + strspn(v, " \t\r\n"));
        size_t l = strlen(trim);
        while (l && isspace((unsigned char)trim[l - 1]))
                trim[--l] = '\0';
        char *canon = container_ip_canonical(trim);
        if (!canon)
                return xasprintf("IP address is not correctly formatted: %s", v);
        if (ret)
                *ret = canon;
        else
                free(canon);
        return NULL;
}

static char *check_ip(const char *v)
{
        return ip_value(v, NULL);
}

static char *check_dns_search(const char *v)
{
        _cleanup_free_ char *t = xstrdup(v);
        char *s = t;
        while (*s == ' ')
                s++;
        size_t l = strlen(s);
        while (l && s[l - 1] == ' ')
                s[--l] = '\0';
        if (strcmp(s, ".") == 0)
                return NULL;
        /* validateDomain: a letter somewhere, then ^(:?(\.)?[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*(\.)?)$
         */
        bool alpha = false;
        for (const char *p = s; *p; p++)
                alpha |= isalpha((unsigned char)*p) != 0;
        regex_t re;
        bool ok = false;
        if (alpha && regcomp(&re, "^(:?(\\.)?[a-zA-Z0-9-]+(\\.[a-zA-Z0-9-]+)*(\\.)?)$",
                             REG_EXTENDED | REG_NOSUB) == 0) {
                ok = regexec(&re, s, 0, NULL, 0) == 0 && l < 255;
                regfree(&re);
        }
        return ok ? NULL : xasprintf("%s is not a valid domain", s);
}

/* opts.ValidateExtraHost; *ret gets "host:ip". */
static char *extra_host_value(const char *v, char **ret)
{
        const char *sep = strchr(v, '=');
        if (!sep)
                sep = strchr(v, ':');
        if (!sep || sep == v || memchr(v, ':', (size_t)(sep - v)))
                return xasprintf("bad format for add-host: \"%s\"", v);
        _cleanup_free_ char *ip = xstrdup(sep + 1);
        if (strcmp(ip, "host-gateway") != 0) {
                size_t l = strlen(ip);
                if (l > 2 && ip[0] == '[' && ip[l - 1] == ']') {
                        memmove(ip, ip + 1, l - 2);
                        ip[l - 2] = '\0';
                }
                _cleanup_free_ char *why = ip_value(ip, NULL);
                if (why)
                        return xasprintf("invalid IP address in add-host: \"%s\"", ip);
        }
        if (ret)
                *ret = xasprintf("%.*s:%s", (int)(sep - v), v, ip);
        return NULL;
}

static char *check_extra_host(const char *v)
{
        return extra_host_value(v, NULL);
}

char *container_extra_host(const char *v, char **ret)
{
        return extra_host_value(v, ret);
}

static char *check_link(const char *v)
{
        if (!*v)
                return xstrdup("empty string specified for links");
        const char *c1 = strchr(v, ':');
        if (c1 && strchr(c1 + 1, ':'))
                return xasprintf("bad format for links: %s", v);
        return NULL;
}

char *container_check_link(const char *v)
{
        return check_link(v);
}

static char *check_sysctl(const char *v)
{
        static const char *const exact[] = {
            "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
            "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
        const char *eq = strchr(v, '=');
        if (!eq || eq == v)
                return xasprintf("sysctl '%s' is not allowed", v);
        _cleanup_free_ char *k = xstrndup(v, (size_t)(eq - v));
        for (size_t i = 0; i < ELEMENTSOF(exact); i++)
                if (strcmp(k, exact[i]) == 0)
                        return NULL;
        if (strncmp(k, "net.", 4) == 0 || strncmp(k, "fs.mqueue.", 10) == 0)
                return NULL;
        return xasprintf("sysctl '%s' is not allowed", v);
}

static char *check_bytes(const char *v)
{
        int64_t n;
        struct berth_error *e = NULL;
        return units_ram_in_bytes(v, &n, &e) < 0 ? error_text(e) : NULL;
}

static char *check_swap(const char *v)
{
        return strcmp(v, "-1") == 0 ? NULL : check_bytes(v);
}

static char *check_cpus(const char *v)
{
        int64_t n;
        struct berth_error *e = NULL;
        return container_parse_cpus(v, &n, &e) < 0 ? error_text(e) : NULL;
}

static char *check_duration(const char *v)
{
        int64_t n;
        struct berth_error *e = NULL;
        return container_parse_duration(v, &n, &e) < 0 ? error_text(e) : NULL;
}

/* pflag's uint16 / uint64: strconv.ParseUint(v, 0, bits) */
static char *check_uint_bits(const char *v, int bits)
{
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 0);
        if (!*v || *end || v[0] == '-' || v[0] == '+')
                return xasprintf("strconv.ParseUint: parsing \"%s\": invalid syntax", v);
        if (errno == ERANGE || (bits < 64 && n >> bits))
                return xasprintf("strconv.ParseUint: parsing \"%s\": value out of range", v);
        return NULL;
}

static char *check_uint16(const char *v)
{
        return check_uint_bits(v, 16);
}

static char *check_uint64(const char *v)
{
        return check_uint_bits(v, 64);
}

static char *check_mount(const char *v)
{
        struct json *m = NULL;
        struct berth_error *e = NULL;
        if (container_parse_mount(v, &m, &e) < 0)
                return error_text(e);
        json_free(m);
        return NULL;
}

static char *check_gpus(const char *v)
{
        struct json *g = NULL;
        struct berth_error *e = NULL;
        if (container_parse_gpus(v, &g, &e) < 0)
                return error_text(e);
        json_free(g);
        return NULL;
}

static char *check_ulimit(const char *v)
{
        char *name = NULL;
        int64_t soft, hard;
        struct berth_error *e = NULL;
        if (container_parse_ulimit(v, &name, &soft, &hard, &e) < 0)
                return error_text(e);
        free(name);
        return NULL;
}

static char *check_cgroup_rule(const char *v)
{
        regex_t re;
        bool ok = false;
        if (regcomp(&re, "^[acb] ([0-9]+|\\*):([0-9]+|\\*) [rwm]{1,3}$",
                    REG_EXTENDED | REG_NOSUB) == 0) {
                ok = regexec(&re, v, 0, NULL, 0) == 0;
                regfree(&re);
        }
        return ok ? NULL : xasprintf("invalid device cgroup format '%s'", v);
}

/* "/dev/x:<value>" for the blkio flags; *ret_path and *ret_rest point into a copy. */
static char *device_pair(const char *v, char **ret_path, const char **ret_rest)
{
        const char *colon = strchr(v, ':');
        if (!colon || colon == v)
                return xasprintf("bad format: %s", v);
        if (strncmp(v, "/dev/", 5) != 0)
                return xasprintf("bad format for device path: %s", v);
        *ret_path = xstrndup(v, (size_t)(colon - v));
        *ret_rest = colon + 1;
        return NULL;
}

static char *weight_device(const char *v, struct json **ret)
{
        _cleanup_free_ char *path = NULL;
        const char *w;
        char *why = device_pair(v, &path, &w);
        if (why)
                return why;
        _cleanup_free_ char *bad = check_uint_bits(w, 16);
        unsigned long n = bad ? 0 : strtoul(w, NULL, 10);
        if (bad || strchr(w, 'x') || (n > 0 && (n < 10 || n > 1000)))
                return xasprintf("invalid weight for device: %s", v);
        if (ret) {
                *ret = json_new_object();
                json_set_str(*ret, "Path", path);
                json_set_int(*ret, "Weight", (int64_t)n);
        }
        return NULL;
}

static char *check_weight_device(const char *v)
{
        return weight_device(v, NULL);
}

static char *throttle_device(const char *v, bool bps, struct json **ret)
{
        _cleanup_free_ char *path = NULL;
        const char *rate_s;
        char *why = device_pair(v, &path, &rate_s);
        if (why)
                return why;
        int64_t rate = 0;
        bool bad;
        if (bps) {
                bad = units_ram_in_bytes(rate_s, &rate, NULL) < 0 || rate < 0;
        } else {
                char *end = NULL;
                errno = 0;
                unsigned long long n = strtoull(rate_s, &end, 10);
                bad = !*rate_s || *end || errno || !isdigit((unsigned char)rate_s[0]);
                rate = (int64_t)n;
        }
        if (bad)
                return bps ? xasprintf("invalid rate for device: %s. The correct format is "
                                       "<device-path>:<number>[<unit>]. Number must be a "
                                       "positive integer. Unit is optional and can be kb, mb, or "
                                       "gb",
                                       v)
                           : xasprintf("invalid rate for device: %s. The correct format is "
                                       "<device-path>:<number>. Number must be a positive "
                                       "integer",
                                       v);
        if (ret) {
                *ret = json_new_object();
                json_set_str(*ret, "Path", path);
                json_object_set(*ret, "Rate", json_new_uint((uint64_t)rate));
        }
        return NULL;
}

static char *check_bps(const char *v)
{
        return throttle_device(v, true, NULL);
}

static char *check_iops(const char *v)
{
        return throttle_device(v, false, NULL);
}

static char *trim_dup(const char *s, size_t len)
{
        while (len && isspace((unsigned char)*s)) {
                s++;
                len--;
        }
        while (len && isspace((unsigned char)s[len - 1]))
                len--;
        return xstrndup(s, len);
}

/* ---- the flag tables ---- */

// clang-format off
#define FLAGS_HEAD \
    {"add-host", 0, CLI_FLAG_LIST, "Add a custom host-to-IP mapping (host:ip)", NULL, "list", false, check_extra_host}, \
    {"annotation", 0, CLI_FLAG_LIST, "Add an annotation to the container (passed through to the OCI runtime) (default map[])", NULL, "map", false, NULL}, \
    {"attach", 'a', CLI_FLAG_LIST, "Attach to STDIN, STDOUT or STDERR", NULL, "list", false, check_attach}, \
    {"blkio-weight", 0, CLI_FLAG_STRING, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)", NULL, "uint16", false, check_uint16}, \
    {"blkio-weight-device", 0, CLI_FLAG_LIST, "Block IO weight (relative device weight) (default [])", NULL, "list", false, check_weight_device}, \
    {"cap-add", 0, CLI_FLAG_LIST, "Add Linux capabilities", NULL, "list", false, NULL}, \
    {"cap-drop", 0, CLI_FLAG_LIST, "Drop Linux capabilities", NULL, "list", false, NULL}, \
    {"cgroup-parent", 0, CLI_FLAG_STRING, "Optional parent cgroup for the container", NULL, NULL, false, NULL}, \
    {"cgroupns", 0, CLI_FLAG_STRING, "Cgroup namespace to use (host|private)\n" \
     "'host':    Run the container in the Docker host's cgroup namespace\n" \
     "'private': Run the container in its own private cgroup namespace\n" \
     "'':        Use the cgroup namespace as configured by the\n" \
     "           default-cgroupns-mode option on the daemon (default)", NULL, NULL, false, NULL}, \
    {"cidfile", 0, CLI_FLAG_STRING, "Write the container ID to the file", NULL, NULL, false, NULL}, \
    {"cpu-count", 0, CLI_FLAG_INT, "CPU count (Windows only)", NULL, NULL, false, NULL}, \
    {"cpu-percent", 0, CLI_FLAG_INT, "CPU percent (Windows only)", NULL, NULL, false, NULL}, \
    {"cpu-period", 0, CLI_FLAG_INT, "Limit CPU CFS (Completely Fair Scheduler) period", NULL, NULL, false, NULL}, \
    {"cpu-quota", 0, CLI_FLAG_INT, "Limit CPU CFS (Completely Fair Scheduler) quota", NULL, NULL, false, NULL}, \
    {"cpu-rt-period", 0, CLI_FLAG_INT, "Limit CPU real-time period in microseconds", NULL, NULL, false, NULL}, \
    {"cpu-rt-runtime", 0, CLI_FLAG_INT, "Limit CPU real-time runtime in microseconds", NULL, NULL, false, NULL}, \
    {"cpu-shares", 'c', CLI_FLAG_INT, "CPU shares (relative weight)", NULL, NULL, false, NULL}, \
    {"cpus", 0, CLI_FLAG_STRING, "Number of CPUs", NULL, "decimal", false, check_cpus}, \
    {"cpuset-cpus", 0, CLI_FLAG_STRING, "CPUs in which to allow execution (0-3, 0,1)", NULL, NULL, false, NULL}, \
    {"cpuset-mems", 0, CLI_FLAG_STRING, "MEMs in which to allow execution (0-3, 0,1)", NULL, NULL, false, NULL}

#define FLAGS_RUN_D \
    {"detach", 'd', CLI_FLAG_BOOL, "Run container in background and print container ID", NULL, NULL, false, NULL}, \
    {"detach-keys", 0, CLI_FLAG_STRING, "Override the key sequence for detaching a container", NULL, NULL, false, NULL}

#define FLAGS_MID \
    {"device", 0, CLI_FLAG_LIST, "Add a host device to the container", NULL, "list", false, NULL}, \
    {"device-cgroup-rule", 0, CLI_FLAG_LIST, "Add a rule to the cgroup allowed devices list", NULL, "list", false, check_cgroup_rule}, \
    {"device-read-bps", 0, CLI_FLAG_LIST, "Limit read rate (bytes per second) from a device (default [])", NULL, "list", false, check_bps}, \
    {"device-read-iops", 0, CLI_FLAG_LIST, "Limit read rate (IO per second) from a device (default [])", NULL, "list", false, check_iops}, \
    {"device-write-bps", 0, CLI_FLAG_LIST, "Limit write rate (bytes per second) to a device (default [])", NULL, "list", false, check_bps}, \
    {"device-write-iops", 0, CLI_FLAG_LIST, "Limit write rate (IO per second) to a device (default [])", NULL, "list", false, check_iops}, \
    {"disable-content-trust", 0, CLI_FLAG_BOOL, "Skip image verification", "true", NULL, false, NULL}, \
    {"dns", 0, CLI_FLAG_LIST, "Set custom DNS servers", NULL, "list", false, check_ip}, \
    {"dns-opt", 0, CLI_FLAG_LIST, "Set DNS options", NULL, "list", true, NULL}, \
    {"dns-option", 0, CLI_FLAG_LIST, "Set DNS options", NULL, "list", false, NULL}, \
    {"dns-search", 0, CLI_FLAG_LIST, "Set custom DNS search domains", NULL, "list", false, check_dns_search}, \
    {"domainname", 0, CLI_FLAG_STRING, "Container NIS domain name", NULL, NULL, false, NULL}, \
    {"entrypoint", 0, CLI_FLAG_STRING, "Overwrite the default ENTRYPOINT of the image", NULL, NULL, false, NULL}, \
    {"env", 'e', CLI_FLAG_LIST, "Set environment variables", NULL, "list", false, check_env}, \
    {"env-file", 0, CLI_FLAG_LIST, "Read in a file of environment variables", NULL, "list", false, NULL}, \
    {"expose", 0, CLI_FLAG_LIST, "Expose a port or a range of ports", NULL, "list", false, NULL}, \
    {"gpus", 0, CLI_FLAG_LIST, "GPU devices to add to the container ('all' to pass all GPUs)", NULL, "gpu-request", false, check_gpus}, \
    {"group-add", 0, CLI_FLAG_LIST, "Add additional groups to join", NULL, "list", false, NULL}, \
    {"health-cmd", 0, CLI_FLAG_STRING, "Command to run to check health", NULL, NULL, false, NULL}, \
    {"health-interval", 0, CLI_FLAG_STRING, "Time between running the check (ms|s|m|h) (default 0s)", NULL, "duration", false, check_duration}, \
    {"health-retries", 0, CLI_FLAG_INT, "Consecutive failures needed to report unhealthy", NULL, NULL, false, NULL}, \
    {"health-start-interval", 0, CLI_FLAG_STRING, "Time between running the check during the start period (ms|s|m|h) (default 0s)", NULL, "duration", false, check_duration}, \
    {"health-start-period", 0, CLI_FLAG_STRING, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)", NULL, "duration", false, check_duration}, \
    {"health-timeout", 0, CLI_FLAG_STRING, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)", NULL, "duration", false, check_duration}, \
    {"help", 0, CLI_FLAG_BOOL, "Print usage", NULL, NULL, false, NULL}, \
    {"hostname", 'h', CLI_FLAG_STRING, "Container host name", NULL, NULL, false, NULL}, \
    {"init", 0, CLI_FLAG_BOOL, "Run an init inside the container that forwards signals and reaps processes", NULL, NULL, false, NULL}, \
    {"interactive", 'i', CLI_FLAG_BOOL, "Keep STDIN open even if not attached", NULL, NULL, false, NULL}, \
    {"io-maxbandwidth", 0, CLI_FLAG_STRING, "Maximum IO bandwidth limit for the system drive (Windows only)", NULL, "bytes", false, check_bytes}, \
    {"io-maxiops", 0, CLI_FLAG_STRING, "Maximum IOps limit for the system drive (Windows only)", NULL, "uint", false, check_uint64}, \
    {"ip", 0, CLI_FLAG_STRING, "IPv4 address (e.g., 172.30.100.104)", NULL, NULL, false, NULL}, \
    {"ip6", 0, CLI_FLAG_STRING, "IPv6 address (e.g., 2001:db8::33)", NULL, NULL, false, NULL}, \
    {"ipc", 0, CLI_FLAG_STRING, "IPC mode to use", NULL, NULL, false, NULL}, \
    {"isolation", 0, CLI_FLAG_STRING, "Container isolation technology", NULL, NULL, false, NULL}, \
    {"kernel-memory", 0, CLI_FLAG_STRING, "Kernel memory limit", NULL, "bytes", false, check_bytes}, \
    {"label", 'l', CLI_FLAG_LIST, "Set meta data on a container", NULL, "list", false, check_label}, \
    {"label-file", 0, CLI_FLAG_LIST, "Read in a line delimited file of labels", NULL, "list", false, NULL}, \
    {"link", 0, CLI_FLAG_LIST, "Add link to another container", NULL, "list", false, check_link}, \
    {"link-local-ip", 0, CLI_FLAG_LIST, "Container IPv4/IPv6 link-local addresses", NULL, "list", false, NULL}, \
    {"log-driver", 0, CLI_FLAG_STRING, "Logging driver for the container", NULL, NULL, false, NULL}, \
    {"log-opt", 0, CLI_FLAG_LIST, "Log driver options", NULL, "list", false, NULL}, \
    {"mac-address", 0, CLI_FLAG_STRING, "Container MAC address (e.g., 92:d0:c6:0a:29:33)", NULL, NULL, false, NULL}, \
    {"memory", 'm', CLI_FLAG_STRING, "Memory limit", NULL, "bytes", false, check_bytes}, \
    {"memory-reservation", 0, CLI_FLAG_STRING, "Memory soft limit", NULL, "bytes", false, check_bytes}, \
    {"memory-swap", 0, CLI_FLAG_STRING, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", NULL, "bytes", false, check_swap}, \
    {"memory-swappiness", 0, CLI_FLAG_INT, "Tune container memory swappiness (0 to 100)", "-1", NULL, false, NULL}, \
    {"mount", 0, CLI_FLAG_LIST, "Attach a filesystem mount to the container", NULL, "mount", false, check_mount}, \
    {"name", 0, CLI_FLAG_STRING, "Assign a name to the container", NULL, NULL, false, NULL}, \
    {"net", 0, CLI_FLAG_LIST, "Connect a container to a network", NULL, "network", true, container_check_network}, \
    {"net-alias", 0, CLI_FLAG_LIST, "Add network-scoped alias for the container", NULL, "list", true, NULL}, \
    {"network", 0, CLI_FLAG_LIST, "Connect a container to a network", NULL, "network", false, container_check_network}, \
    {"network-alias", 0, CLI_FLAG_LIST, "Add network-scoped alias for the container", NULL, "list", false, NULL}, \
    {"no-healthcheck", 0, CLI_FLAG_BOOL, "Disable any container-specified HEALTHCHECK", NULL, NULL, false, NULL}, \
    {"oom-kill-disable", 0, CLI_FLAG_BOOL, "Disable OOM Killer", NULL, NULL, false, NULL}, \
    {"oom-score-adj", 0, CLI_FLAG_INT, "Tune host's OOM preferences (-1000 to 1000)", NULL, NULL, false, NULL}, \
    {"pid", 0, CLI_FLAG_STRING, "PID namespace to use", NULL, NULL, false, NULL}, \
    {"pids-limit", 0, CLI_FLAG_INT, "Tune container pids limit (set -1 for unlimited)", NULL, NULL, false, NULL}, \
    {"platform", 0, CLI_FLAG_STRING, "Set platform if server is multi-platform capable", NULL, NULL, false, NULL}, \
    {"privileged", 0, CLI_FLAG_BOOL, "Give extended privileges to this container", NULL, NULL, false, NULL}, \
    {"publish", 'p', CLI_FLAG_LIST, "Publish a container's port(s) to the host", NULL, "list", false, NULL}, \
    {"publish-all", 'P', CLI_FLAG_BOOL, "Publish all exposed ports to random ports", NULL, NULL, false, NULL}

#define FLAGS_MID2 \
    {"quiet", 'q', CLI_FLAG_BOOL, "Suppress the pull output", NULL, NULL, false, NULL}, \
    {"read-only", 0, CLI_FLAG_BOOL, "Mount the container's root filesystem as read only", NULL, NULL, false, NULL}, \
    {"restart", 0, CLI_FLAG_STRING, "Restart policy to apply when a container exits", "no", NULL, false, NULL}, \
    {"rm", 0, CLI_FLAG_BOOL, "Automatically remove the container and its associated anonymous volumes when it exits", NULL, NULL, false, NULL}, \
    {"runtime", 0, CLI_FLAG_STRING, "Runtime to use for this container", NULL, NULL, false, NULL}, \
    {"security-opt", 0, CLI_FLAG_LIST, "Security Options", NULL, "list", false, NULL}, \
    {"shm-size", 0, CLI_FLAG_STRING, "Size of /dev/shm", NULL, "bytes", false, check_bytes}

#define FLAGS_RUN_S \
    {"sig-proxy", 0, CLI_FLAG_BOOL, "Proxy received signals to the process", "true", NULL, false, NULL}

#define FLAGS_TAIL \
    {"stop-signal", 0, CLI_FLAG_STRING, "Signal to stop the container", NULL, NULL, false, NULL}, \
    {"stop-timeout", 0, CLI_FLAG_INT, "Timeout (in seconds) to stop a container", NULL, NULL, false, NULL}, \
    {"storage-opt", 0, CLI_FLAG_LIST, "Storage driver options for the container", NULL, "list", false, NULL}, \
    {"sysctl", 0, CLI_FLAG_LIST, "Sysctl options (default map[])", NULL, "map", false, check_sysctl}, \
    {"tmpfs", 0, CLI_FLAG_LIST, "Mount a tmpfs directory", NULL, "list", false, NULL}, \
    {"tty", 't', CLI_FLAG_BOOL, "Allocate a pseudo-TTY", NULL, NULL, false, NULL}, \
    {"ulimit", 0, CLI_FLAG_LIST, "Ulimit options (default [])", NULL, "ulimit", false, check_ulimit}, \
    {"use-api-socket", 0, CLI_FLAG_BOOL, "Bind mount Docker API socket and required auth", NULL, NULL, false, NULL}, \
    {"user", 'u', CLI_FLAG_STRING, "Username or UID (format: <name|uid>[:<group|gid>])", NULL, NULL, false, NULL}, \
    {"userns", 0, CLI_FLAG_STRING, "User namespace to use", NULL, NULL, false, NULL}, \
    {"uts", 0, CLI_FLAG_STRING, "UTS namespace to use", NULL, NULL, false, NULL}, \
    {"volume", 'v', CLI_FLAG_LIST, "Bind mount a volume", NULL, "list", false, NULL}, \
    {"volume-driver", 0, CLI_FLAG_STRING, "Optional volume driver for the container", NULL, NULL, false, NULL}, \
    {"volumes-from", 0, CLI_FLAG_LIST, "Mount volumes from the specified container(s)", NULL, "list", false, NULL}, \
    {"workdir", 'w', CLI_FLAG_STRING, "Working directory inside the container", NULL, NULL, false, NULL}

const struct cli_flag container_run_flags[] = {
    FLAGS_HEAD, FLAGS_RUN_D, FLAGS_MID,
    {"pull", 0, CLI_FLAG_STRING, "Pull image before running (\"always\", \"missing\", \"never\")", "missing", NULL, false, NULL},
    FLAGS_MID2, FLAGS_RUN_S, FLAGS_TAIL,
};
const size_t container_run_n_flags = ELEMENTSOF(container_run_flags);

const struct cli_flag container_create_flags[] = {
    FLAGS_HEAD, FLAGS_MID,
    {"pull", 0, CLI_FLAG_STRING, "Pull image before creating (\"always\", \"|missing\", \"never\")", "missing", NULL, false, NULL},
    FLAGS_MID2, FLAGS_TAIL,
};
const size_t container_create_n_flags = ELEMENTSOF(container_create_flags);
// clang-format on

/* ---- parse: the create body ---- */

/* Both spellings of a flag docker registers twice (--net/--network, --dns-opt/--dns-option). */
static char **list2(const struct cli_flagset *fs, const char *a, const char *b, char ***owned)
{
        char **x = cli_flag_list(fs, a), **y = cli_flag_list(fs, b);
        if (!x || !y)
                return x ? x : y;
        /* pflag keeps the order they were given in; we only know each list's, so a's first. */
        for (size_t i = 0; x[i]; i++)
                push(owned, x[i]);
        for (size_t i = 0; y[i]; i++)
                push(owned, y[i]);
        return *owned;
}

static struct json *str_array(char *const *v, bool null_when_empty)
{
        if (!v && null_when_empty)
                return json_new_null();
        struct json *a = json_new_array();
        for (size_t i = 0; v && v[i]; i++)
                json_array_append(a, json_new_string(v[i]));
        return a;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_member(const void *a, const void *b)
{
        return strcmp(((const struct json_member *)a)->key, ((const struct json_member *)b)->key);
}

static struct json *sort_keys(struct json *o)
{
        if (json_is(o, JSON_OBJECT) && o->obj.n > 1)
                qsort(o->obj.m, o->obj.n, sizeof(*o->obj.m), cmp_member);
        return o;
}

/* opts.ConvertKVStringsToMap, sorted as encoding/json writes a map */
static struct json *kv_map(char *const *v)
{
        struct json *m = json_new_object();
        for (size_t i = 0; v && v[i]; i++) {
                const char *eq = strchr(v[i], '=');
                _cleanup_free_ char *k = eq ? xstrndup(v[i], (size_t)(eq - v[i])) : xstrdup(v[i]);
                json_set_str(m, k, eq ? eq + 1 : "");
        }
        return sort_keys(m);
}

/* normalizeCapabilities of docker's client: upper case, CAP_ prefix, unique, sorted. */
static struct json *capabilities(char *const *v)
{
        if (!v)
                return json_new_null();
        char **caps = NULL;
        for (size_t i = 0; v[i]; i++) {
                _cleanup_free_ char *c = xstrdup(v[i]);
                for (char *p = c; *p; p++)
                        *p = (char)toupper((unsigned char)*p);
                _cleanup_free_ char *full = strcmp(c, "ALL") == 0 || strncmp(c, "CAP_", 4) == 0
                                                ? xstrdup(c)
                                                : xasprintf("CAP_%s", c);
                bool dup = false;
                for (size_t k = 0; caps && caps[k]; k++)
                        dup |= strcmp(caps[k], full) == 0;
                if (!dup)
                        push(&caps, full);
        }
        if (caps)
                qsort(caps, count(caps), sizeof(char *), cmp_str);
        struct json *a = str_array(caps, true);
        strv_free(caps);
        return a;
}

struct parse_state {
        const struct cli_flagset *fs;
        struct json *exposed;  /* Config.ExposedPorts */
        struct json *bindings; /* HostConfig.PortBindings */
        char **binds;
        struct json *volumes;
        char **env, **labels;
        struct json *devices;
        struct json *health; /* NULL: none */
        char **security_opt;
        bool system_paths_unconfined;
        struct json *endpoints;
        char *network_mode;
        char *mac_for_config;
        char **owned; /* merged lists */
};

static void parse_state_release(struct parse_state *p)
{
        json_free(p->exposed);
        json_free(p->bindings);
        strv_free(p->binds);
        json_free(p->volumes);
        strv_free(p->env);
        strv_free(p->labels);
        json_free(p->devices);
        json_free(p->health);
        strv_free(p->security_opt);
        json_free(p->endpoints);
        free(p->network_mode);
        free(p->mac_for_config);
        strv_free(p->owned);
}

/* Go's path.Clean for --device container paths */
static char *clean_path(const char *p)
{
        bool rooted = p[0] == '/';
        char **parts = NULL;
        _cleanup_free_ char *copy = xstrdup(p);
        char *save = NULL;
        size_t n = 0;
        for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (strcmp(t, ".") == 0)
                        continue;
                if (strcmp(t, "..") == 0) {
                        if (n && strcmp(parts[n - 1], "..") != 0) {
                                free(parts[--n]);
                                parts[n] = NULL;
                                continue;
                        }
                        if (rooted)
                                continue;
                }
                push(&parts, t);
                n++;
        }
        struct berth_buf b = BERTH_BUF_INIT;
        if (rooted)
                buf_putc(&b, '/');
        for (size_t i = 0; i < n; i++) {
                if (i)
                        buf_putc(&b, '/');
                buf_puts(&b, parts[i]);
        }
        strv_free(parts);
        if (!b.len)
                buf_putc(&b, '.');
        return buf_steal(&b);
}

static bool device_mode(const char *m)
{
        if (!*m)
                return false;
        bool seen[3] = {false, false, false};
        for (const char *c = m; *c; c++) {
                const char *k = strchr("rwm", *c);
                if (!k || !*c || seen[k - "rwm"])
                        return false;
                seen[k - "rwm"] = true;
        }
        return true;
}

/* validateDevice + parseLinuxDevice */
static int parse_device(const char *val, struct json **ret, struct berth_error **err)
{
        size_t colons = 0;
        for (const char *c = val; *c; c++)
                colons += *c == ':';
        if (colons > 2 || val[0] == ':' || !val[0])
                return berth_error_set(err, EINVAL, "bad format for path: %s", val);
        _cleanup_strv_free_ char **part = NULL;
        _cleanup_free_ char *copy = xstrdup(val);
        char *p = copy;
        for (;;) {
                char *c = strchr(p, ':');
                if (c)
                        *c = '\0';
                push(&part, p);
                if (!c)
                        break;
                p = c + 1;
        }
        size_t n = count(part);
        const char *cpath;
        _cleanup_free_ char *validated = NULL;
        if (n == 1) {
                cpath = part[0];
                validated = clean_path(part[0]);
        } else if (n == 2) {
                if (device_mode(part[1])) {
                        cpath = part[0];
                        _cleanup_free_ char *c = clean_path(part[0]);
                        validated = xasprintf("%s:%s", c, part[1]);
                } else {
                        cpath = part[1];
                        _cleanup_free_ char *c = clean_path(part[1]);
                        validated = xasprintf("%s:%s", part[0], c);
                }
        } else {
                cpath = part[1];
                if (!device_mode(part[2]))
                        return berth_error_set(err, EINVAL, "bad mode specified: %s", part[2]);
                validated = xstrdup(val);
        }
        if (cpath[0] != '/')
                return berth_error_set(err, EINVAL, "%s is not an absolute path", cpath);
        /* parseLinuxDevice on the validated form */
        strv_free(part);
        part = NULL;
        p = validated;
        for (int k = 0; k < 4; k++) {
                char *c = k < 3 ? strchr(p, ':') : NULL;
                if (c)
                        *c = '\0';
                push(&part, p);
                if (!c)
                        break;
                p = c + 1;
        }
        n = count(part);
        const char *src = part[0], *dst = "", *perm = "rwm";
        if (n == 3)
                perm = part[2];
        if (n >= 2) {
                if (device_mode(part[1]))
                        perm = part[1];
                else
                        dst = part[1];
        }
        struct json *d = json_new_object();
        json_set_str(d, "PathOnHost", src);
        json_set_str(d, "PathInContainer", *dst ? dst : src);
        json_set_str(d, "CgroupPermissions", perm);
        *ret = d;
        return 0;
}

static int read_seccomp(const char *file, char **ret, struct berth_error **err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_file_at(AT_FDCWD, file, 16 << 20, &data, &len);
        if (r < 0)
                return berth_error_set(err, -r, "opening seccomp profile (%s) failed: open %s: %s",
                                       file, file,
                                       r == -ENOENT ? "no such file or directory" : strerror(-r));
        _cleanup_json_ struct json *j = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (json_parse(data, len, &j, &e) < 0)
                return berth_error_set(err, EINVAL,
                                       "compacting json for seccomp profile (%s) failed: %s", file,
                                       berth_error_msg(e));
        /* json.Compact: the file's own bytes, without white space */
        struct berth_buf compact = BERTH_BUF_INIT;
        json_compact_text(&compact, data, len);
        *ret = xasprintf("seccomp=%s", compact.data ? compact.data : "");
        buf_release(&compact);
        return 0;
}

static int parse_security(struct parse_state *p, struct berth_error **err)
{
        char **opts = cli_flag_list(p->fs, "security-opt");
        for (size_t i = 0; opts && opts[i]; i++) {
                const char *o = opts[i];
                const char *sep = strchr(o, '=');
                bool nnp_bare = strcmp(o, "no-new-privileges") == 0;
                _cleanup_free_ char *key = NULL;
                const char *val = NULL;
                if (!sep && !nnp_bare)
                        sep = strchr(o, ':');
                if (sep) {
                        key = xstrndup(o, (size_t)(sep - o));
                        val = sep + 1;
                } else {
                        key = xstrdup(o);
                }
                if ((!sep || !*val) && strcmp(key, "no-new-privileges") != 0)
                        return berth_error_set(err, EINVAL, "Invalid --security-opt: \"%s\"", o);
                if (strcmp(key, "seccomp") == 0 && strcmp(val, "builtin") != 0 &&
                    strcmp(val, "unconfined") != 0) {
                        _cleanup_free_ char *s = NULL;
                        int r = read_seccomp(val, &s, err);
                        if (r < 0)
                                return r;
                        push(&p->security_opt, s);
                        continue;
                }
                if (strcmp(o, "systempaths=unconfined") == 0) {
                        p->system_paths_unconfined = true;
                        continue;
                }
                push(&p->security_opt, o);
        }
        return 0;
}

static int parse_health(struct parse_state *p, struct berth_error **err)
{
        const struct cli_flagset *fs = p->fs;
        const char *cmd = cli_flag_string(fs, "health-cmd");
        int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;
        const char *s;
        if ((s = cli_flag_string(fs, "health-interval")))
                (void)container_parse_duration(s, &interval, NULL);
        if ((s = cli_flag_string(fs, "health-timeout")))
                (void)container_parse_duration(s, &timeout, NULL);
        if ((s = cli_flag_string(fs, "health-start-period")))
                (void)container_parse_duration(s, &start_period, NULL);
        if ((s = cli_flag_string(fs, "health-start-interval")))
                (void)container_parse_duration(s, &start_interval, NULL);
        int64_t retries = cli_flag_int(fs, "health-retries");
        bool have =
            (cmd && *cmd) || interval || timeout || start_period || retries || start_interval;
        if (cli_flag_bool(fs, "no-healthcheck")) {
                if (have)
                        return berth_error_set(err, EINVAL,
                                               "--no-healthcheck conflicts with --health-* "
                                               "options");
                p->health = json_new_object();
                struct json *t = json_object_set(p->health, "Test", json_new_array());
                json_array_append(t, json_new_string("NONE"));
                return 0;
        }
        if (!have)
                return 0;
        if (interval < 0)
                return berth_error_set(err, EINVAL, "--health-interval cannot be negative");
        if (timeout < 0)
                return berth_error_set(err, EINVAL, "--health-timeout cannot be negative");
        if (retries < 0)
                return berth_error_set(err, EINVAL, "--health-retries cannot be negative");
        if (start_period < 0)
                return berth_error_set(err, EINVAL, "--health-start-period cannot be negative");
        if (start_interval < 0)
                return berth_error_set(err, EINVAL, "--health-start-interval cannot be negative");
        /* container.HealthConfig: Test, Interval, Timeout, StartPeriod, StartInterval, Retries
         * (all omitempty) */
        p->health = json_new_object();
        if (cmd && *cmd) {
                struct json *t = json_object_set(p->health, "Test", json_new_array());
                json_array_append(t, json_new_string("CMD-SHELL"));
                json_array_append(t, json_new_string(cmd));
        }
        if (interval)
                json_set_int(p->health, "Interval", interval);
        if (timeout)
                json_set_int(p->health, "Timeout", timeout);
        if (start_period)
                json_set_int(p->health, "StartPeriod", start_period);
        if (start_interval)
                json_set_int(p->health, "StartInterval", start_interval);
        if (retries)
                json_set_int(p->health, "Retries", retries);
        return 0;
}

static int parse_ports_and_volumes(struct parse_state *p, struct berth_error **err)
{
        const struct cli_flagset *fs = p->fs;
        int r;
        p->exposed = json_new_object();
        p->bindings = json_new_object();
        char **publish = cli_flag_list(fs, "publish");
        for (size_t i = 0; publish && publish[i]; i++)
                if ((r = container_parse_publish(publish[i], p->exposed, p->bindings, err)) < 0)
                        return r;
        char **expose = cli_flag_list(fs, "expose");
        for (size_t i = 0; expose && expose[i]; i++)
                if ((r = container_parse_expose(expose[i], p->exposed, err)) < 0)
                        return r;
        p->volumes = json_new_object();
        char **vols = cli_flag_list(fs, "volume");
        for (size_t i = 0; vols && vols[i]; i++) {
                _cleanup_free_ char *bind = NULL;
                r = container_parse_volume(vols[i], &bind, err);
                if (r < 0)
                        return r;
                if (r == 1) {
                        bool dup = false;
                        for (size_t k = 0; p->binds && p->binds[k]; k++)
                                dup |= strcmp(p->binds[k], bind) == 0;
                        /* the spec is a map key in docker: a repeated -v counts once */
                        if (!dup)
                                push(&p->binds, bind);
                } else {
                        json_object_set(p->volumes, vols[i], json_new_object());
                }
        }
        sort_keys(p->volumes);
        p->devices = json_new_array();
        char **devs = cli_flag_list(fs, "device");
        for (size_t i = 0; devs && devs[i]; i++) {
                struct json *d = NULL;
                if ((r = parse_device(devs[i], &d, err)) < 0)
                        return r;
                json_array_append(p->devices, d);
        }
        return 0;
}

static int parse_env_labels(struct parse_state *p, struct berth_error **err)
{
        const struct cli_flagset *fs = p->fs;
        int r;
        char **files = cli_flag_list(fs, "env-file");
        for (size_t i = 0; files && files[i]; i++)
                if ((r = container_read_kv_file(files[i], true, &p->env, err)) < 0)
                        return r;
        /* -e values go through a map in docker (ParseProxyConfig): one per name, the last. */
        char **env = cli_flag_list(fs, "env");
        char **merged = NULL;
        for (size_t i = 0; env && env[i]; i++) {
                _cleanup_free_ char *v = NULL;
                (void)env_value(env[i], &v);
                size_t klen = strcspn(v, "=");
                bool replaced = false;
                for (size_t k = 0; merged && merged[k]; k++) {
                        if (strncmp(merged[k], v, klen) == 0 &&
                            (merged[k][klen] == '=' || merged[k][klen] == '\0')) {
                                free(merged[k]);
                                merged[k] = xstrdup(v);
                                replaced = true;
                        }
                }
                if (!replaced)
                        push(&merged, v);
        }
        for (size_t i = 0; merged && merged[i]; i++)
                push(&p->env, merged[i]);
        strv_free(merged);
        files = cli_flag_list(fs, "label-file");
        for (size_t i = 0; files && files[i]; i++)
                if ((r = container_read_kv_file(files[i], false, &p->labels, err)) < 0)
                        return r;
        char **labels = cli_flag_list(fs, "label");
        for (size_t i = 0; labels && labels[i]; i++)
                push(&p->labels, labels[i]);
        return 0;
}

static bool valid_mode(const char *m, const char *const *plain, bool allow_container)
{
        if (!m || !*m)
                return true;
        for (size_t i = 0; plain[i]; i++)
                if (strcmp(m, plain[i]) == 0)
                        return true;
        return allow_container && strncmp(m, "container:", 10) == 0 && m[10];
}

static int parse_modes(const struct cli_flagset *fs, struct berth_error **err)
{
        static const char *const host[] = {"host", NULL};
        static const char *const cgns[] = {"host", "private", NULL};
        if (!valid_mode(cli_flag_string(fs, "pid"), host, true))
                return berth_error_set(err, EINVAL, "--pid: invalid PID mode");
        if (!valid_mode(cli_flag_string(fs, "uts"), host, false))
                return berth_error_set(err, EINVAL, "--uts: invalid UTS mode");
        if (!valid_mode(cli_flag_string(fs, "userns"), host, false))
                return berth_error_set(err, EINVAL, "--userns: invalid USER mode");
        if (!valid_mode(cli_flag_string(fs, "cgroupns"), cgns, false))
                return berth_error_set(err, EINVAL, "--cgroupns: invalid CGROUP mode");
        return 0;
}

/* docker's opts.ParseRestartPolicy: "name[:max-retries]" into {Name, MaximumRetryCount}. */
static int parse_restart_policy(const char *policy, struct json **ret, struct berth_error **err)
{
        _cleanup_free_ char *pname = xstrdup(policy ? policy : "");
        int64_t retries = 0;
        char *colon = strchr(pname, ':');
        if (colon) {
                *colon = '\0';
                if (!*pname)
                        return berth_error_set(err, EINVAL,
                                               "invalid restart policy format: no policy provided "
                                               "before colon");
                if (colon[1]) {
                        char *end = NULL;
                        errno = 0;
                        retries = strtoll(colon + 1, &end, 10);
                        if (*end || errno)
                                return berth_error_set(err, EINVAL,
                                                       "invalid restart policy format: maximum "
                                                       "retry count must be an integer");
                }
        }
        struct json *rp = json_new_object();
        json_set_str(rp, "Name", pname);
        json_set_int(rp, "MaximumRetryCount", retries);
        *ret = rp;
        return 0;
}

static const char *jstr_or(const struct json *j, const char *k)
{
        const char *v = json_str(json_get(j, k));
        return v ? v : "";
}

static int64_t bytes_flag(const struct cli_flagset *fs, const char *name)
{
        const char *s = cli_flag_string(fs, name);
        int64_t v = 0;
        if (s && strcmp(s, "-1") == 0 && strcmp(name, "memory-swap") == 0)
                return -1;
        if (s)
                (void)units_ram_in_bytes(s, &v, NULL);
        return v;
}

static void add_config(struct json *b, struct parse_state *p, const struct container_config *c)
{
        const struct cli_flagset *fs = p->fs;
        const char *s;
        json_set_str(b, "Hostname", (s = cli_flag_string(fs, "hostname")) ? s : "");
        json_set_str(b, "Domainname", (s = cli_flag_string(fs, "domainname")) ? s : "");
        json_set_str(b, "User", (s = cli_flag_string(fs, "user")) ? s : "");
        json_set_bool(b, "AttachStdin", c->attach_stdin);
        json_set_bool(b, "AttachStdout", c->attach_stdout);
        json_set_bool(b, "AttachStderr", c->attach_stderr);
        if (json_len(p->exposed))
                json_object_set(b, "ExposedPorts", sort_keys(TAKE_PTR(p->exposed)));
        json_set_bool(b, "Tty", c->tty);
        json_set_bool(b, "OpenStdin", c->open_stdin);
        json_set_bool(b, "StdinOnce", c->open_stdin && c->attach_stdin);
        json_object_set(b, "Env", str_array(p->env, true));
        json_object_set(b, "Cmd", fs->n_args > 1 ? str_array(fs->args + 1, true) : json_new_null());
        if (p->health)
                json_object_set(b, "Healthcheck", TAKE_PTR(p->health));
        json_set_str(b, "Image", fs->args[0]);
        json_object_set(b, "Volumes", TAKE_PTR(p->volumes));
        json_set_str(b, "WorkingDir", (s = cli_flag_string(fs, "workdir")) ? s : "");
        const char *ep = cli_flag_string(fs, "entrypoint");
        if (ep && *ep) {
                struct json *a = json_object_set(b, "Entrypoint", json_new_array());
                json_array_append(a, json_new_string(ep));
        } else if (cli_flag_is_set(fs, "entrypoint")) {
                struct json *a = json_object_set(b, "Entrypoint", json_new_array());
                json_array_append(a, json_new_string(""));
        } else {
                json_object_set(b, "Entrypoint", json_new_null());
        }
        if (p->mac_for_config && *p->mac_for_config)
                json_set_str(b, "MacAddress", p->mac_for_config);
        json_object_set(b, "OnBuild", json_new_null());
        json_object_set(b, "Labels", kv_map(p->labels));
        if ((s = cli_flag_string(fs, "stop-signal")) && *s)
                json_set_str(b, "StopSignal", s);
        if (cli_flag_is_set(fs, "stop-timeout"))
                json_set_int(b, "StopTimeout", cli_flag_int(fs, "stop-timeout"));
}

static void add_resources(struct json *h, struct parse_state *p)
{
        const struct cli_flagset *fs = p->fs;
        const char *s;
        json_set_int(h, "CpuShares", cli_flag_int(fs, "cpu-shares"));
        json_set_int(h, "Memory", bytes_flag(fs, "memory"));
        int64_t nano = 0;
        if ((s = cli_flag_string(fs, "cpus")))
                (void)container_parse_cpus(s, &nano, NULL);
        json_set_int(h, "NanoCpus", nano);
        json_set_str(h, "CgroupParent", (s = cli_flag_string(fs, "cgroup-parent")) ? s : "");
        s = cli_flag_string(fs, "blkio-weight");
        json_set_int(h, "BlkioWeight", s ? (int64_t)strtoul(s, NULL, 0) : 0);
        static const struct {
                const char *key, *flag;
                int kind; /* 0 weight, 1 bps, 2 iops */
        } dev[] = {{"BlkioWeightDevice", "blkio-weight-device", 0},
                   {"BlkioDeviceReadBps", "device-read-bps", 1},
                   {"BlkioDeviceWriteBps", "device-write-bps", 1},
                   {"BlkioDeviceReadIOps", "device-read-iops", 2},
                   {"BlkioDeviceWriteIOps", "device-write-iops", 2}};
        for (size_t i = 0; i < ELEMENTSOF(dev); i++) {
                struct json *a = json_object_set(h, dev[i].key, json_new_array());
                char **v = cli_flag_list(fs, dev[i].flag);
                for (size_t k = 0; v && v[k]; k++) {
                        struct json *o = NULL;
                        /* The flag's checker rejected bad values at parse time. */
                        free(dev[i].kind == 0 ? weight_device(v[k], &o)
                                              : throttle_device(v[k], dev[i].kind == 1, &o));
                        if (o)
                                json_array_append(a, o);
                }
        }
        json_set_int(h, "CpuPeriod", cli_flag_int(fs, "cpu-period"));
        json_set_int(h, "CpuQuota", cli_flag_int(fs, "cpu-quota"));
        json_set_int(h, "CpuRealtimePeriod", cli_flag_int(fs, "cpu-rt-period"));
        json_set_int(h, "CpuRealtimeRuntime", cli_flag_int(fs, "cpu-rt-runtime"));
        json_set_str(h, "CpusetCpus", (s = cli_flag_string(fs, "cpuset-cpus")) ? s : "");
        json_set_str(h, "CpusetMems", (s = cli_flag_string(fs, "cpuset-mems")) ? s : "");
        json_object_set(h, "Devices", TAKE_PTR(p->devices));
        json_object_set(h, "DeviceCgroupRules",
                        str_array(cli_flag_list(fs, "device-cgroup-rule"), true));
        char **gpus = cli_flag_list(fs, "gpus");
        if (gpus) {
                struct json *a = json_object_set(h, "DeviceRequests", json_new_array());
                for (size_t i = 0; gpus[i]; i++) {
                        struct json *g = NULL;
                        if (container_parse_gpus(gpus[i], &g, NULL) == 0)
                                json_array_append(a, g);
                }
        } else {
                json_object_set(h, "DeviceRequests", json_new_null());
        }
        int64_t kmem = bytes_flag(fs, "kernel-memory");
        if (kmem)
                json_set_int(h, "KernelMemory", kmem);
        json_set_int(h, "MemoryReservation", bytes_flag(fs, "memory-reservation"));
        json_set_int(h, "MemorySwap", bytes_flag(fs, "memory-swap"));
        json_set_int(h, "MemorySwappiness", cli_flag_int(fs, "memory-swappiness"));
        json_set_bool(h, "OomKillDisable", cli_flag_bool(fs, "oom-kill-disable"));
        json_set_int(h, "PidsLimit", cli_flag_int(fs, "pids-limit"));
        /* UlimitOpt keeps one per name (the last) and lists them sorted by name. */
        struct json *ul = json_new_object();
        char **ulimits = cli_flag_list(fs, "ulimit");
        for (size_t i = 0; ulimits && ulimits[i]; i++) {
                _cleanup_free_ char *name = NULL;
                int64_t soft, hard;
                if (container_parse_ulimit(ulimits[i], &name, &soft, &hard, NULL) < 0)
                        continue;
                struct json *u = json_new_object();
                json_set_str(u, "Name", name);
                json_set_int(u, "Hard", hard);
                json_set_int(u, "Soft", soft);
                json_object_set(ul, name, u);
        }
        sort_keys(ul);
        struct json *ua = json_object_set(h, "Ulimits", json_new_array());
        for (size_t i = 0; i < ul->obj.n; i++)
                json_array_append(ua, json_copy(ul->obj.m[i].value));
        json_free(ul);
        json_set_int(h, "CpuCount", cli_flag_int(fs, "cpu-count"));
        json_set_int(h, "CpuPercent", cli_flag_int(fs, "cpu-percent"));
        s = cli_flag_string(fs, "io-maxiops");
        json_object_set(h, "IOMaximumIOps", json_new_uint(s ? strtoull(s, NULL, 0) : 0));
        json_object_set(h, "IOMaximumBandwidth",
                        json_new_uint((uint64_t)bytes_flag(fs, "io-maxbandwidth")));
}

static struct json *map_flag(const struct cli_flagset *fs, const char *name)
{
        char **v = cli_flag_list(fs, name);
        struct json *m = json_new_object();
        for (size_t i = 0; v && v[i]; i++) {
                const char *eq = strchr(v[i], '=');
                _cleanup_free_ char *k = eq ? xstrndup(v[i], (size_t)(eq - v[i])) : xstrdup(v[i]);
                json_set_str(m, k, eq ? eq + 1 : "");
        }
        return sort_keys(m);
}

static int add_host_config(struct json *h, struct parse_state *p, const struct container_config *c,
                           unsigned rows, unsigned cols, struct berth_error **err)
{
        const struct cli_flagset *fs = p->fs;
        const char *s;
        json_object_set(h, "Binds", str_array(p->binds, true));
        json_set_str(h, "ContainerIDFile", (s = cli_flag_string(fs, "cidfile")) ? s : "");
        struct json *log = json_object_set(h, "LogConfig", json_new_object());
        const char *driver = cli_flag_string(fs, "log-driver");
        json_set_str(log, "Type", driver ? driver : "");
        char **lopts = cli_flag_list(fs, "log-opt");
        if (driver && strcmp(driver, "none") == 0 && lopts)
                return berth_error_set(err, EINVAL, "invalid logging opts for driver none");
        json_object_set(log, "Config", kv_map(lopts));
        json_set_str(h, "NetworkMode", p->network_mode);
        json_object_set(h, "PortBindings", sort_keys(TAKE_PTR(p->bindings)));
        /* opts.ParseRestartPolicy */
        const char *policy = cli_flag_string(fs, "restart");
        struct json *rp = NULL;
        int r = parse_restart_policy(policy, &rp, err);
        if (r < 0)
                return r;
        json_object_set(h, "RestartPolicy", rp);
        const char *pname = jstr_or(rp, "Name");
        if (c->auto_remove && *pname && strcmp(pname, "no") != 0)
                return berth_error_set(err, EINVAL,
                                       "conflicting options: cannot specify both --restart and "
                                       "--rm");
        json_set_bool(h, "AutoRemove", c->auto_remove);
        json_set_str(h, "VolumeDriver", (s = cli_flag_string(fs, "volume-driver")) ? s : "");
        json_object_set(h, "VolumesFrom", str_array(cli_flag_list(fs, "volumes-from"), true));
        struct json *cs = json_object_set(h, "ConsoleSize", json_new_array());
        json_array_append(cs, json_new_int(rows));
        json_array_append(cs, json_new_int(cols));
        struct json *ann = map_flag(fs, "annotation");
        if (json_len(ann))
                json_object_set(h, "Annotations", ann);
        else
                json_free(ann);
        json_object_set(h, "CapAdd", capabilities(cli_flag_list(fs, "cap-add")));
        json_object_set(h, "CapDrop", capabilities(cli_flag_list(fs, "cap-drop")));
        json_set_str(h, "CgroupnsMode", (s = cli_flag_string(fs, "cgroupns")) ? s : "");
        struct json *dns = json_object_set(h, "Dns", json_new_array());
        char **dv = cli_flag_list(fs, "dns");
        for (size_t i = 0; dv && dv[i]; i++) {
                _cleanup_free_ char *canon = NULL;
                free(ip_value(dv[i], &canon)); /* checked at parse time */
                json_array_append(dns, json_new_string(canon ? canon : dv[i]));
        }
        json_object_set(h, "DnsOptions",
                        str_array(list2(fs, "dns-opt", "dns-option", &p->owned), false));
        struct json *search = json_object_set(h, "DnsSearch", json_new_array());
        char **sv = cli_flag_list(fs, "dns-search");
        for (size_t i = 0; sv && sv[i]; i++) {
                _cleanup_free_ char *t = trim_dup(sv[i], strlen(sv[i]));
                json_array_append(search, json_new_string(t));
        }
        char **hosts = cli_flag_list(fs, "add-host");
        if (hosts) {
                struct json *a = json_object_set(h, "ExtraHosts", json_new_array());
                for (size_t i = 0; hosts[i]; i++) {
                        _cleanup_free_ char *v = NULL;
                        free(extra_host_value(hosts[i], &v)); /* checked at parse time */
                        json_array_append(a, json_new_string(v ? v : hosts[i]));
                }
        } else {
                json_object_set(h, "ExtraHosts", json_new_null());
        }
        json_object_set(h, "GroupAdd", str_array(cli_flag_list(fs, "group-add"), true));
        json_set_str(h, "IpcMode", (s = cli_flag_string(fs, "ipc")) ? s : "");
        json_set_str(h, "Cgroup", "");
        json_object_set(h, "Links", str_array(cli_flag_list(fs, "link"), true));
        json_set_int(h, "OomScoreAdj", cli_flag_int(fs, "oom-score-adj"));
        json_set_str(h, "PidMode", (s = cli_flag_string(fs, "pid")) ? s : "");
        json_set_bool(h, "Privileged", cli_flag_bool(fs, "privileged"));
        json_set_bool(h, "PublishAllPorts", cli_flag_bool(fs, "publish-all"));
        json_set_bool(h, "ReadonlyRootfs", cli_flag_bool(fs, "read-only"));
        json_object_set(h, "SecurityOpt", str_array(p->security_opt, true));
        char **storage = cli_flag_list(fs, "storage-opt");
        for (size_t i = 0; storage && storage[i]; i++)
                if (!strchr(storage[i], '='))
                        return berth_error_set(err, EINVAL, "invalid storage option");
        if (storage)
                json_object_set(h, "StorageOpt", kv_map(storage));
        char **tmpfs = cli_flag_list(fs, "tmpfs");
        if (tmpfs) {
                struct json *t = json_object_set(h, "Tmpfs", json_new_object());
                for (size_t i = 0; tmpfs[i]; i++) {
                        const char *colon2 = strchr(tmpfs[i], ':');
                        _cleanup_free_ char *k =
                            colon2 ? xstrndup(tmpfs[i], (size_t)(colon2 - tmpfs[i]))
                                   : xstrdup(tmpfs[i]);
                        json_set_str(t, k, colon2 ? colon2 + 1 : "");
                }
                sort_keys(t);
        }
        json_set_str(h, "UTSMode", (s = cli_flag_string(fs, "uts")) ? s : "");
        json_set_str(h, "UsernsMode", (s = cli_flag_string(fs, "userns")) ? s : "");
        json_set_int(h, "ShmSize", bytes_flag(fs, "shm-size"));
        struct json *sysctls = map_flag(fs, "sysctl");
        if (json_len(sysctls))
                json_object_set(h, "Sysctls", sysctls);
        else
                json_free(sysctls);
        if ((s = cli_flag_string(fs, "runtime")) && *s)
                json_set_str(h, "Runtime", s);
        json_set_str(h, "Isolation", (s = cli_flag_string(fs, "isolation")) ? s : "");
        add_resources(h, p);
        char **mounts = cli_flag_list(fs, "mount");
        if (mounts) {
                struct json *a = json_object_set(h, "Mounts", json_new_array());
                for (size_t i = 0; mounts[i]; i++) {
                        struct json *m = NULL;
                        if (container_parse_mount(mounts[i], &m, NULL) == 0)
                                json_array_append(a, m);
                }
        }
        if (p->system_paths_unconfined) {
                json_object_set(h, "MaskedPaths", json_new_array());
                json_object_set(h, "ReadonlyPaths", json_new_array());
        } else {
                json_object_set(h, "MaskedPaths", json_new_null());
                json_object_set(h, "ReadonlyPaths", json_new_null());
        }
        if (cli_flag_is_set(fs, "init"))
                json_set_bool(h, "Init", cli_flag_bool(fs, "init"));
        return 0;
}

int container_config_parse(const struct cli_flagset *fs, unsigned console_rows,
                           unsigned console_cols, struct container_config *ret,
                           struct berth_error **err)
{
        memset(ret, 0, sizeof(*ret));
        struct parse_state p = {.fs = fs};
        struct container_config *c = ret;
        c->image = fs->args[0];
        char **attach = cli_flag_list(fs, "attach");
        for (size_t i = 0; attach && attach[i]; i++) {
                _cleanup_free_ char *v = NULL;
                free(attach_value(attach[i], &v)); /* checked at parse time */
                c->attach_stdin |= v && strcmp(v, "stdin") == 0;
                c->attach_stdout |= v && strcmp(v, "stdout") == 0;
                c->attach_stderr |= v && strcmp(v, "stderr") == 0;
        }
        c->attach_given = attach != NULL;
        c->use_api_socket = cli_flag_bool(fs, "use-api-socket");
        const char *mac = cli_flag_string(fs, "mac-address");
        int r = 0;
        if (mac && *mac && !container_valid_mac(mac))
                r = berth_error_set(err, EINVAL, "%s is not a valid mac address", mac);
        c->open_stdin = cli_flag_bool(fs, "interactive");
        c->tty = cli_flag_bool(fs, "tty");
        c->auto_remove = cli_flag_bool(fs, "rm");
        if (c->open_stdin)
                c->attach_stdin = true;
        if (!attach)
                c->attach_stdout = c->attach_stderr = true;
        int64_t swappiness = cli_flag_int(fs, "memory-swappiness");
        if (r == 0 && swappiness != -1 && (swappiness < 0 || swappiness > 100))
                r = berth_error_set(err, EINVAL,
                                    "invalid value: %lld. Valid memory swappiness range is 0-100",
                                    (long long)swappiness);
        if (r == 0)
                r = parse_ports_and_volumes(&p, err);
        if (r == 0)
                r = parse_env_labels(&p, err);
        if (r == 0)
                r = parse_modes(fs, err);
        if (r == 0)
                r = parse_security(&p, err);
        if (r == 0)
                r = parse_health(&p, err);
        if (r == 0)
                r = container_parse_networks(fs, &p.endpoints, &p.network_mode, &p.mac_for_config,
                                             err);
        struct json *body = json_new_object();
        if (r == 0) {
                add_config(body, &p, c);
                struct json *h = json_object_set(body, "HostConfig", json_new_object());
                r = add_host_config(h, &p, c, console_rows, console_cols, err);
        }
        if (r == 0) {
                struct json *nc = json_object_set(body, "NetworkingConfig", json_new_object());
                json_object_set(nc, "EndpointsConfig", sort_keys(TAKE_PTR(p.endpoints)));
                const char *cid = cli_flag_string(fs, "cidfile");
                c->cidfile = cid && *cid ? xstrdup(cid) : NULL;
                c->body = body;
        } else {
                json_free(body);
        }
        parse_state_release(&p);
        return r;
}

void container_config_release(struct container_config *c)
{
        json_free(c->body);
        free(c->cidfile);
        memset(c, 0, sizeof(*c));
}

/* docker's areFlagsSupported for the annotated run/create flags, in its (sorted) order. */
int container_flags_supported(const struct cli_flagset *fs, const char *api_version,
                              struct berth_error **err)
{
        static const struct {
                const char *flag, *version, *ostype;
        } req[] = {
            {"annotation", "1.43", NULL},
            {"cgroupns", "1.41", NULL},
            {"cpu-count", NULL, "windows"},
            {"cpu-percent", NULL, "windows"},
            {"cpu-rt-period", "1.25", NULL},
            {"cpu-rt-runtime", "1.25", NULL},
            {"cpus", "1.25", NULL},
            {"gpus", "1.40", NULL},
            {"health-start-interval", "1.44", NULL},
            {"health-start-period", "1.29", NULL},
            {"init", "1.25", NULL},
            {"io-maxbandwidth", NULL, "windows"},
            {"io-maxiops", NULL, "windows"},
            {"platform", "1.32", NULL},
            {"stop-timeout", "1.25", NULL},
        };
        struct berth_buf msg = BERTH_BUF_INIT;
        for (size_t i = 0; i < ELEMENTSOF(req); i++) {
                if (!cli_flag_is_set(fs, req[i].flag))
                        continue;
                if (!api_version) {
                        buf_release(&msg);
                        return 1; /* one is used: the caller asks the daemon */
                }
                if (msg.len)
                        buf_putc(&msg, '\n');
                if (req[i].version && api_version_compare(api_version, req[i].version) < 0)
                        buf_printf(&msg,
                                   "\"--%s\" requires API version %s, but the Docker daemon API "
                                   "version is %s",
                                   req[i].flag, req[i].version, api_version);
                else if (req[i].ostype)
                        buf_printf(&msg,
                                   "\"--%s\" is only supported on a Docker daemon running on %s, "
                                   "but the Docker daemon is running on linux",
                                   req[i].flag, req[i].ostype);
                else if (msg.len)
                        msg.data[--msg.len] = '\0';
        }
        int r = msg.len ? berth_error_set(err, EINVAL, "%s", msg.data) : 0;
        buf_release(&msg);
        return r;
}

/* The commands live here, where the tables' sizes are known. */
const struct cli_command cli_cmd_run = {
    .name = "run",
    .usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    .summary = "Create and run a new container from an image",
    .group = CLI_GROUP_COMMON,
    .flags = container_run_flags,
    .n_flags = ELEMENTSOF(container_run_flags),
    .mode = CLI_PARSE_STOP_AT_ARG,
    .min_args = 1,
    .max_args = -1,
    .aliases = "container run, run",
    .run = container_cmd_run,
};

const struct cli_command cli_cmd_create = {
    .name = "create",
    .usage = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    .summary = "Create a new container",
    .group = CLI_GROUP_OTHER,
    .flags = container_create_flags,
    .n_flags = ELEMENTSOF(container_create_flags),
    .mode = CLI_PARSE_STOP_AT_ARG,
    .min_args = 1,
    .max_args = -1,
    .aliases = "container create, create",
    .run = container_cmd_create,
};

/* ---- update ---- */

static const struct cli_flag update_flags[] = {
    {"blkio-weight", 0, CLI_FLAG_STRING,
     "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)", NULL, "uint16",
     false, check_uint16},
    {"cpu-period", 0, CLI_FLAG_INT, "Limit CPU CFS (Completely Fair Scheduler) period", NULL, NULL,
     false, NULL},
    {"cpu-quota", 0, CLI_FLAG_INT, "Limit CPU CFS (Completely Fair Scheduler) quota", NULL, NULL,
     false, NULL},
    {"cpu-rt-period", 0, CLI_FLAG_INT, "Limit the CPU real-time period in microseconds", NULL, NULL,
     false, NULL},
    {"cpu-rt-runtime", 0, CLI_FLAG_INT, "Limit the CPU real-time runtime in microseconds", NULL,
     NULL, false, NULL},
    {"cpu-shares", 'c', CLI_FLAG_INT, "CPU shares (relative weight)", NULL, NULL, false, NULL},
    {"cpus", 0, CLI_FLAG_STRING, "Number of CPUs", NULL, "decimal", false, check_cpus},
    {"cpuset-cpus", 0, CLI_FLAG_STRING, "CPUs in which to allow execution (0-3, 0,1)", NULL, NULL,
     false, NULL},
    {"cpuset-mems", 0, CLI_FLAG_STRING, "MEMs in which to allow execution (0-3, 0,1)", NULL, NULL,
     false, NULL},
    {"kernel-memory", 0, CLI_FLAG_STRING, "Kernel memory limit (deprecated)", NULL, "bytes", true,
     check_bytes},
    {"memory", 'm', CLI_FLAG_STRING, "Memory limit", NULL, "bytes", false, check_bytes},
    {"memory-reservation", 0, CLI_FLAG_STRING, "Memory soft limit", NULL, "bytes", false,
     check_bytes},
    {"memory-swap", 0, CLI_FLAG_STRING,
     "Swap limit equal to memory plus swap: -1 to enable unlimited swap", NULL, "bytes", false,
     check_swap},
    {"pids-limit", 0, CLI_FLAG_INT, "Tune container pids limit (set -1 for unlimited)", NULL, NULL,
     false, NULL},
    {"restart", 0, CLI_FLAG_STRING, "Restart policy to apply when a container exits", NULL, NULL,
     false, NULL},
};

/* docker's runUpdate: one UpdateConfig for every container named, one request each. */
static int run_update(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        bool any = false;
        for (size_t i = 0; i < ELEMENTSOF(update_flags); i++)
                any |= cli_flag_is_set(fs, update_flags[i].name);
        if (!any) {
                fprintf(ctx->err, "you must provide one or more flags when using this command\n");
                return 1;
        }
        _cleanup_json_ struct json *body = json_new_object();
        const char *s = cli_flag_string(fs, "blkio-weight");
        json_set_int(body, "BlkioWeight", s ? (int64_t)strtoul(s, NULL, 0) : 0);
        json_set_str(body, "CpusetCpus", (s = cli_flag_string(fs, "cpuset-cpus")) ? s : "");
        json_set_str(body, "CpusetMems", (s = cli_flag_string(fs, "cpuset-mems")) ? s : "");
        json_set_int(body, "CpuShares", cli_flag_int(fs, "cpu-shares"));
        json_set_int(body, "Memory", bytes_flag(fs, "memory"));
        json_set_int(body, "MemoryReservation", bytes_flag(fs, "memory-reservation"));
        json_set_int(body, "MemorySwap", bytes_flag(fs, "memory-swap"));
        json_set_int(body, "KernelMemory", bytes_flag(fs, "kernel-memory"));
        json_set_int(body, "CpuPeriod", cli_flag_int(fs, "cpu-period"));
        json_set_int(body, "CpuQuota", cli_flag_int(fs, "cpu-quota"));
        json_set_int(body, "CpuRealtimePeriod", cli_flag_int(fs, "cpu-rt-period"));
        json_set_int(body, "CpuRealtimeRuntime", cli_flag_int(fs, "cpu-rt-runtime"));
        int64_t nano = 0;
        if ((s = cli_flag_string(fs, "cpus")))
                (void)container_parse_cpus(s, &nano, NULL);
        json_set_int(body, "NanoCpus", nano);
        if (cli_flag_int(fs, "pids-limit") != 0)
                json_set_int(body, "PidsLimit", cli_flag_int(fs, "pids-limit"));
        struct json *rp = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (parse_restart_policy(cli_flag_string(fs, "restart"), &rp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        json_object_set(body, "RestartPolicy", rp);
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        struct berth_buf errs = BERTH_BUF_INIT, warns = BERTH_BUF_INIT;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *path = container_path(fs->args[i], "/update");
                struct cli_response resp;
                _cleanup_error_ struct berth_error *rerr = NULL;
                if (container_request(c, "POST", path, NULL, body, &resp, &rerr) < 0) {
                        buf_printf(&errs, "%s%s", errs.len ? "\n" : "", berth_error_msg(rerr));
                        continue;
                }
                if (resp.status / 100 != 2) {
                        _cleanup_free_ char *m = container_daemon_error(&resp);
                        buf_printf(&errs, "%s%s", errs.len ? "\n" : "", m);
                } else {
                        fprintf(ctx->out, "%s\n", fs->args[i]);
                        _cleanup_json_ struct json *j = NULL;
                        if (json_parse(resp.body, resp.len, &j, NULL) == 0) {
                                size_t k;
                                const struct json *w;
                                json_array_foreach (json_get(j, "Warnings"), k, w)
                                        if (json_str(w))
                                                buf_printf(&warns, "%s%s", warns.len ? "\n" : "",
                                                           json_str(w));
                        }
                }
                cli_response_release(&resp);
        }
        if (warns.len)
                fprintf(ctx->out, "%s\n", warns.data);
        int code = 0;
        if (errs.len) {
                fflush(ctx->out);
                fprintf(ctx->err, "%s\n", errs.data);
                code = 1;
        }
        buf_release(&errs);
        buf_release(&warns);
        return code;
}

const struct cli_command cli_cmd_update = {
    .name = "update",
    .usage = "[OPTIONS] CONTAINER [CONTAINER...]",
    .summary = "Update configuration of one or more containers",
    .group = CLI_GROUP_OTHER,
    .flags = update_flags,
    .n_flags = ELEMENTSOF(update_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .aliases = "container update, update",
    .run = run_update,
};
