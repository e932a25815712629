/*
 * config.h — berthd's configuration: /etc/berth/daemon.json with dockerd's key
 * names, merged with dockerd-style command-line flags.
 *
 * A struct berth_config is immutable once built and reference-counted.  The
 * daemon keeps the current one in the engine (engine.h); a SIGHUP reload builds a new one
 * and swaps it, so a worker thread holding a reference never sees a half
 * update.  Rules, as dockerd has them:
 *   - an unknown key in the file is an error naming every unknown key;
 *   - a key given both as a flag and in the file is an error;
 *   - values are type-checked and validated (mirror URLs, registry names,
 *     log level, counts), each error one line naming the key.
 * Reload re-reads the file; only the reloadable keys (debug, log-level,
 * registry-mirrors, insecure-registries, max-concurrent-downloads,
 * max-concurrent-uploads, labels) may change, the others keep their values.
 *
 * Never: print, exit, or half-apply a bad file.
 */
#ifndef BERTH_ENGINE_CONFIG_H
#define BERTH_ENGINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define BERTH_DEFAULT_CONFIG_FILE   "/etc/berth/daemon.json"
#define BERTH_DEFAULT_DATA_ROOT     "/var/lib/berth"
#define BERTH_DEFAULT_EXEC_ROOT     "/run/berth"
#define BERTH_DEFAULT_SOCKET        "/run/berth/berth.sock"
#define BERTH_DEFAULT_HOST          "unix://" BERTH_DEFAULT_SOCKET
#define BERTH_DEFAULT_CGROUP_PARENT "/berth"

/* What the command line said; NULL / empty / -1 = not given. */
struct berth_config_flags {
        const char *config_file; /* NULL: the default, which may be missing */
        const char *data_root;
        const char *exec_root;
        const char *pidfile;
        const char *log_level;
        const char *cgroup_parent;
        char **hosts;                 /* NULL-terminated, or NULL */
        char **registry_mirrors;      /* NULL-terminated, or NULL */
        char **insecure_registries;   /* NULL-terminated, or NULL */
        int max_concurrent_downloads; /* -1: not given */
        int debug;                    /* -1: not given, else 0/1 */
        /* networking, dockerd's flags for the keys of the same names */
        const char *bridge, *bip, *fixed_cidr;
        char **dns, **dns_search, **dns_opts; /* NULL-terminated, or NULL */
        char **address_pools; /* --default-address-pool "base=CIDR,size=N" as given, or NULL */
        int mtu;              /* -1: not given */
        int ip_masq, ip_forward, iptables, icc, userland_proxy; /* -1: not given, else 0/1 */
};

struct berth_config {
        unsigned refs;     /* atomic; berth_config_ref/unref */
        char *config_file; /* the file read, or NULL when none */
        char *data_root;
        char *exec_root;
        char *pidfile;
        char *cgroup_parent;        /* containers' cgroups go below it unless they name their own */
        char **hosts;               /* socket paths (unix:// stripped), at least one */
        char **registry_mirrors;    /* normalised "https://host/" */
        char **insecure_registries; /* hostnames[:port] and CIDRs as given */
        char **labels;              /* "key=value" */
        int max_concurrent_downloads;
        int max_concurrent_uploads;
        bool debug;
        char *log_level; /* "info" unless set; "debug" when debug is on */
        /* networking, as dockerd's keys (engine/networks.c) */
        char *bridge;     /* the default bridge's name ("berth0"); "none": no default bridge */
        char *bip;        /* "172.17.0.1/16": the default bridge's address, or NULL */
        char *fixed_cidr; /* containers' addresses on the default bridge come from it, or NULL */
        char **address_pools; /* "base/size" pairs as "10.10.0.0/16 24"; empty: docker's */
        int mtu;              /* 0: the kernel's default (1500) */
        bool ip_masq, ip_forward, iptables, icc;
        int userland_proxy; /* -1 unset; dockerd's docker-proxy: berth forwards in the kernel */
        char **dns, **dns_search, **dns_opts; /* containers' resolv.conf defaults */
};

void berth_config_flags_init(struct berth_config_flags *f);

/* Build the configuration from flags and the file. */
int berth_config_load(const struct berth_config_flags *flags, struct berth_config **ret,
                      struct berth_error **err);

/*
 * Re-read the file for a reload: *ret is old with the reloadable keys taken
 * from flags + file.  *ret_changes lists what changed ("debug: false -> true";
 * NULL-terminated, possibly empty).  A bad file leaves old untouched.
 */
int berth_config_reload(const struct berth_config *old, const struct berth_config_flags *flags,
                        struct berth_config **ret, char ***ret_changes, struct berth_error **err);

struct berth_config *berth_config_ref(struct berth_config *c);
void berth_config_unref(struct berth_config *c); /* frees at the last reference; NULL ok */
static inline void berth_config_unrefp(struct berth_config **c)
{
        berth_config_unref(*c);
}
#define _cleanup_config_ _cleanup_(berth_config_unrefp)

/* Parse a -H/--host value: "unix:///path" or "/path" -> "/path"; others are errors. */
int berth_config_parse_host(const char *host, char **ret_path, struct berth_error **err);

/* The insecure-registry rule: host[:port] listed, in a listed CIDR, or loopback. */
bool berth_config_registry_insecure(const struct berth_config *c, const char *host_port);

#endif
