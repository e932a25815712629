/*
 * sysinfo.h — facts about the host for `info` and `version`: kernel, OS,
 * architecture, CPUs, memory, hostname, cgroup version, the backing
 * filesystem of the data root, and kernel features behind docker's booleans.
 *
 * Everything is read from /proc, /sys, /etc/os-release and uname(2) when
 * asked; nothing is cached, so a reply never shows stale values.  The parsers
 * take text, so tests can feed them files from other hosts.
 *
 * Never: fail a request because one fact is unknown (it reads as "" or 0).
 */
#ifndef BERTH_ENGINE_SYSINFO_H
#define BERTH_ENGINE_SYSINFO_H

#include <stdbool.h>
#include <stdint.h>

struct berth_sysinfo {
        char *kernel_version;   /* uname -r */
        char *operating_system; /* PRETTY_NAME of os-release */
        char *os_version;       /* VERSION_ID */
        char *architecture;     /* uname -m: x86_64 */
        char *go_arch;          /* docker's name: amd64 */
        char *hostname;
        int ncpu;
        uint64_t mem_total;
        int cgroup_version; /* 1 or 2 */
        bool memory_limit, swap_limit, cpu_cfs, cpu_shares, cpuset, pids_limit, oom_kill_disable;
        bool ipv4_forwarding, bridge_nf_iptables, bridge_nf_ip6tables;
};

void berth_sysinfo_get(struct berth_sysinfo *ret);
void berth_sysinfo_release(struct berth_sysinfo *s);

/* 2 when /sys/fs/cgroup is a cgroup2 mount in this mountinfo text, else 1. */
int berth_sysinfo_cgroup_version(const char *mountinfo);
/* A key's value in os-release text (quotes removed), or NULL. */
char *berth_sysinfo_os_release_value(const char *text, const char *key);
/* uname machine -> GOARCH ("x86_64" -> "amd64", "aarch64" -> "arm64"). */
const char *berth_sysinfo_go_arch(const char *machine);
/* Name of the filesystem at path ("extfs", "xfs", "tmpfs", …) as docker names it. */
char *berth_sysinfo_backing_fs(const char *path);
/* Whether readdir on path reports file types (overlayfs needs d_type). */
bool berth_sysinfo_supports_d_type(const char *path);

#endif
