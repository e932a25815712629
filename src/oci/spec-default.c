/*
 * spec-default.c — the config.json `berth-runtime spec` writes: the document
 * runc 1.1 writes for `runc spec` (and `runc spec --rootless`), key for key
 * and in the same order, so tools and tutorials written against runc's
 * default work unchanged.
 *
 * The one deliberate difference: ociVersion is the version of the spec we
 * implement (OCI_RUNTIME_SPEC_VERSION, "1.1.0") where runc 1.1.5 writes
 * "1.0.2-dev".
 *
 * The rootless variant follows runc's rootless conversion: no network
 * namespace and a user namespace instead, the caller's euid/egid mapped to
 * root, no gid= option on /dev/pts, /sys bind-mounted from the host rather
 * than a new sysfs, and no cgroup device rules.
 *
 * Never: add anything runc's default lacks; the runtime part applies
 * berth's own security defaults elsewhere.
 */
#include <unistd.h>

#include "oci/runtime-spec.h"

static struct json *strv_json(const char *const *v)
{
        struct json *a = json_new_array();
        for (; *v; v++)
                json_array_append(a, json_new_string(*v));
        return a;
}

static struct json *default_process(void)
{
        static const char *const env[] = {
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
            NULL};
        static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                                           NULL};
        static const char *const sets[] = {"bounding", "effective", "permitted", "ambient", NULL};
        static const char *const args[] = {"sh", NULL};

        struct json *p = json_new_object();
        json_set_bool(p, "terminal", true);
        struct json *user = json_object_set(p, "user", json_new_object());
        json_set_int(user, "uid", 0);
        json_set_int(user, "gid", 0);
        json_object_set(p, "args", strv_json(args));
        json_object_set(p, "env", strv_json(env));
        json_set_str(p, "cwd", "/");
        struct json *c = json_object_set(p, "capabilities", json_new_object());
        for (const char *const *s = sets; *s; s++)
                json_object_set(c, *s, strv_json(caps));
        struct json *rl = json_new_object();
        json_set_str(rl, "type", "RLIMIT_NOFILE");
        json_set_int(rl, "hard", 1024);
        json_set_int(rl, "soft", 1024);
        json_array_append(json_object_set(p, "rlimits", json_new_array()), rl);
        json_set_bool(p, "noNewPrivileges", true);
        return p;
}

static void add_mount(struct json *mounts, const char *dest, const char *type, const char *source,
                      const char *const *options)
{
        struct json *m = json_array_append(mounts, json_new_object());
        json_set_str(m, "destination", dest);
        json_set_str(m, "type", type);
        json_set_str(m, "source", source);
        if (options)
                json_object_set(m, "options", strv_json(options));
}

static struct json *default_mounts(bool rootless)
{
        static const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
        static const char *const pts[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                                          "mode=0620", "gid=5",  NULL};
        static const char *const shm[] = {"nosuid",    "noexec",      "nodev",
                                          "mode=1777", "size=65536k", NULL};
        static const char *const mqueue[] = {"nosuid", "noexec", "nodev", NULL};
        static const char *const sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
        static const char *const sys_bind[] = {"rbind", "nosuid", "noexec", "nodev", "ro", NULL};
        static const char *const cgroup[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};

        struct json *m = json_new_array();
        add_mount(m, "/proc", "proc", "proc", NULL);
        add_mount(m, "/dev", "tmpfs", "tmpfs", dev);
        if (rootless) {
                /* Without a mapping for gid 5 the kernel refuses gid=5: drop it. */
                static const char *const pts_rootless[] = {
                    "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", NULL};
                add_mount(m, "/dev/pts", "devpts", "devpts", pts_rootless);
        } else {
                add_mount(m, "/dev/pts", "devpts", "devpts", pts);
        }
        add_mount(m, "/dev/shm", "tmpfs", "shm", shm);
        add_mount(m, "/dev/mqueue", "mqueue", "mqueue", mqueue);
        if (rootless)
                add_mount(m, "/sys", "none", "/sys", sys_bind);
        else
                add_mount(m, "/sys", "sysfs", "sysfs", sys);
        add_mount(m, "/sys/fs/cgroup", "cgroup", "cgroup", cgroup);
        return m;
}

static struct json *id_mapping(uint32_t host_id)
{
        struct json *a = json_new_array();
        struct json *m = json_array_append(a, json_new_object());
        json_set_int(m, "containerID", 0);
        json_set_int(m, "hostID", host_id);
        json_set_int(m, "size", 1);
        return a;
}

static struct json *default_linux(bool rootless)
{
        static const char *const masked[] = {"/proc/acpi",
                                             "/proc/asound",
                                             "/proc/kcore",
                                             "/proc/keys",
                                             "/proc/latency_stats",
                                             "/proc/timer_list",
                                             "/proc/timer_stats",
                                             "/proc/sched_debug",
                                             "/sys/firmware",
                                             "/proc/scsi",
                                             NULL};
        static const char *const ro[] = {
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};
        static const char *const ns[] = {"pid", "network", "ipc", "uts", "mount", NULL};
        static const char *const ns_rootless[] = {"pid", "ipc", "uts", "mount", "user", NULL};

        struct json *l = json_new_object();
        if (rootless) {
                json_object_set(l, "uidMappings", id_mapping(geteuid()));
                json_object_set(l, "gidMappings", id_mapping(getegid()));
        } else {
                struct json *res = json_object_set(l, "resources", json_new_object());
                struct json *devs = json_object_set(res, "devices", json_new_array());
                struct json *d = json_array_append(devs, json_new_object());
                json_set_bool(d, "allow", false);
                json_set_str(d, "access", "rwm");
        }
        struct json *nss = json_object_set(l, "namespaces", json_new_array());
        for (const char *const *t = rootless ? ns_rootless : ns; *t; t++)
                json_set_str(json_array_append(nss, json_new_object()), "type", *t);
        json_object_set(l, "maskedPaths", strv_json(masked));
        json_object_set(l, "readonlyPaths", strv_json(ro));
        return l;
}

struct json *oci_spec_default(bool rootless)
{
        struct json *s = json_new_object();
        json_set_str(s, "ociVersion", OCI_RUNTIME_SPEC_VERSION);
        json_object_set(s, "process", default_process());
        struct json *root = json_object_set(s, "root", json_new_object());
        json_set_str(root, "path", "rootfs");
        json_set_bool(root, "readonly", true);
        json_set_str(s, "hostname", "runc");
        json_object_set(s, "mounts", default_mounts(rootless));
        json_object_set(s, "linux", default_linux(rootless));
        return s;
}
