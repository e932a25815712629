/*
 * spec-names.c — the names the OCI runtime spec uses for its enumerations:
 * namespace types, hook kinds, capabilities, rlimits, seccomp actions.
 *
 * Tables indexed by the C value, looked up linearly by name: they are short
 * and read once per config.json.  Capabilities go up to CAP_CHECKPOINT_RESTORE
 * (40, Linux 5.9); the numbers are the kernel's ABI and never change, so the
 * table does not depend on the headers of the build machine.
 *
 * Never: accept a name case-insensitively or by prefix (runc does neither).
 */
#include <string.h>
#include <sys/resource.h>

#include "oci/runtime-spec.h"

static const char *const ns_names[_OCI_NS_MAX] = {
    [OCI_NS_PID] = "pid",       [OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",
    [OCI_NS_IPC] = "ipc",       [OCI_NS_UTS] = "uts",         [OCI_NS_USER] = "user",
    [OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
};

const char *oci_ns_type_name(enum oci_ns_type t)
{
        if ((unsigned)t >= _OCI_NS_MAX)
                return NULL;
        return ns_names[t];
}

int oci_ns_type_from_name(const char *name)
{
        if (!name)
                return -1;
        for (int i = 0; i < _OCI_NS_MAX; i++)
                if (strcmp(ns_names[i], name) == 0)
                        return i;
        return -1;
}

static const char *const hook_names[_OCI_HOOK_KIND_MAX] = {
    [OCI_HOOK_PRESTART] = "prestart",
    [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
    [OCI_HOOK_CREATE_CONTAINER] = "createContainer",
    [OCI_HOOK_START_CONTAINER] = "startContainer",
    [OCI_HOOK_POSTSTART] = "poststart",
    [OCI_HOOK_POSTSTOP] = "poststop",
};

const char *oci_hook_kind_name(enum oci_hook_kind k)
{
        if ((unsigned)k >= _OCI_HOOK_KIND_MAX)
                return NULL;
        return hook_names[k];
}

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

_Static_assert(ELEMENTSOF(cap_names) == 41, "capability table ends at CAP_CHECKPOINT_RESTORE");

int oci_cap_from_name(const char *name)
{
        if (!name)
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(cap_names); i++)
                if (strcmp(cap_names[i], name) == 0)
                        return (int)i;
        return -1;
}

const char *oci_cap_name(int cap)
{
        if (cap < 0 || (size_t)cap >= ELEMENTSOF(cap_names))
                return NULL;
        return cap_names[cap];
}

int oci_cap_last(void)
{
        return (int)ELEMENTSOF(cap_names) - 1;
}

static const struct {
        const char *name;
        int resource;
} rlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

int oci_rlimit_from_name(const char *name)
{
        if (!name)
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(rlimits); i++)
                if (strcmp(rlimits[i].name, name) == 0)
                        return rlimits[i].resource;
        return -1;
}

static const char *const seccomp_actions[] = {
    [OCI_SCMP_ACT_KILL] = "SCMP_ACT_KILL",
    [OCI_SCMP_ACT_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
    [OCI_SCMP_ACT_KILL_THREAD] = "SCMP_ACT_KILL_THREAD",
    [OCI_SCMP_ACT_TRAP] = "SCMP_ACT_TRAP",
    [OCI_SCMP_ACT_ERRNO] = "SCMP_ACT_ERRNO",
    [OCI_SCMP_ACT_TRACE] = "SCMP_ACT_TRACE",
    [OCI_SCMP_ACT_ALLOW] = "SCMP_ACT_ALLOW",
    [OCI_SCMP_ACT_LOG] = "SCMP_ACT_LOG",
    [OCI_SCMP_ACT_NOTIFY] = "SCMP_ACT_NOTIFY",
};

const char *oci_seccomp_action_name(enum oci_seccomp_action a)
{
        if ((unsigned)a >= ELEMENTSOF(seccomp_actions))
                return NULL;
        return seccomp_actions[a];
}

int oci_seccomp_action_from_name(const char *name)
{
        if (!name)
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(seccomp_actions); i++)
                if (strcmp(seccomp_actions[i], name) == 0)
                        return (int)i;
        return -1;
}

static const char *const seccomp_ops[] = {
    [OCI_SCMP_CMP_NE] = "SCMP_CMP_NE",
    [OCI_SCMP_CMP_LT] = "SCMP_CMP_LT",
    [OCI_SCMP_CMP_LE] = "SCMP_CMP_LE",
    [OCI_SCMP_CMP_EQ] = "SCMP_CMP_EQ",
    [OCI_SCMP_CMP_GE] = "SCMP_CMP_GE",
    [OCI_SCMP_CMP_GT] = "SCMP_CMP_GT",
    [OCI_SCMP_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

const char *oci_seccomp_op_name(enum oci_seccomp_op op)
{
        if ((unsigned)op >= ELEMENTSOF(seccomp_ops))
                return NULL;
        return seccomp_ops[op];
}

int oci_seccomp_op_from_name(const char *name)
{
        if (!name)
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(seccomp_ops); i++)
                if (strcmp(seccomp_ops[i], name) == 0)
                        return (int)i;
        return -1;
}
