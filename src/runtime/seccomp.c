/*
 * seccomp.c — linux.seccomp of config.json compiled into a BPF program in
 * the parent, loaded with one seccomp(2) call in the container's child.
 *
 * How: berth_seccomp_compile() builds a libseccomp filter context (default
 * action, extra architectures, one rule per syscall name and argument set),
 * exports it with seccomp_export_bpf() into a memfd (libseccomp 2.5 cannot
 * export to memory) and reads the instructions back into a struct sock_fprog
 * the program owns.  The flags are resolved and probed against the running
 * kernel at the same time, so every mistake surfaces in the parent as one
 * line with its JSON path ("linux.seccomp.syscalls[3].args[0]: unknown
 * operator 9").
 *
 * Translation follows runc: unknown syscall names are skipped (they may exist
 * only on newer kernels or other architectures); a rule whose action equals
 * the default action is skipped (libseccomp refuses it); ERRNO and TRACE
 * default to EPERM; the conditions of one entry are ANDed in one rule unless
 * the same argument index appears twice, in which case each condition
 * becomes a rule of its own (libseccomp cannot AND two tests of one
 * argument, and runc does the same).
 *
 * Never: allocate or call libseccomp in berth_seccomp_load() — it runs in
 * the cloned child, possibly after the rootfs no longer holds our libraries.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/seccomp.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

/* A compiled program is at most BPF_MAXINSNS instructions for the kernel. */
#define SECCOMP_MAX_INSNS 4096u

struct berth_seccomp_prog {
        struct sock_fprog fprog; /* filter owned */
        unsigned flags;          /* for seccomp(SECCOMP_SET_MODE_FILTER, flags, …) */
        bool needs_listener;
};

static void scmp_ctx_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx) {
                int saved = errno;
                seccomp_release(*ctx);
                errno = saved;
        }
}

static const char *action_name(enum oci_seccomp_action a)
{
        static const char *const names[] = {
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
        if ((unsigned)a < ELEMENTSOF(names))
                return names[a];
        return NULL;
}

/* The libseccomp action for an OCI action and its optional errnoRet. */
static int action_value(const char *path, enum oci_seccomp_action a, bool has_errno,
                        uint32_t errno_ret, uint32_t *ret, struct berth_error **err)
{
        uint32_t e = has_errno ? errno_ret : EPERM;

        if ((a == OCI_SCMP_ACT_ERRNO || a == OCI_SCMP_ACT_TRACE) && e > 0xffff)
                return berth_error_set(err, EINVAL, "%s: errnoRet %u out of range (0..65535)", path,
                                       e);
        switch (a) {
        case OCI_SCMP_ACT_KILL:
        case OCI_SCMP_ACT_KILL_THREAD:
                *ret = SCMP_ACT_KILL_THREAD;
                return 0;
        case OCI_SCMP_ACT_KILL_PROCESS:
                *ret = SCMP_ACT_KILL_PROCESS;
                return 0;
        case OCI_SCMP_ACT_TRAP:
                *ret = SCMP_ACT_TRAP;
                return 0;
        case OCI_SCMP_ACT_ERRNO:
                *ret = SCMP_ACT_ERRNO(e);
                return 0;
        case OCI_SCMP_ACT_TRACE:
                *ret = SCMP_ACT_TRACE(e);
                return 0;
        case OCI_SCMP_ACT_ALLOW:
                *ret = SCMP_ACT_ALLOW;
                return 0;
        case OCI_SCMP_ACT_LOG:
                *ret = SCMP_ACT_LOG;
                return 0;
        case OCI_SCMP_ACT_NOTIFY:
                *ret = SCMP_ACT_NOTIFY;
                return 0;
        }
        return berth_error_set(err, EINVAL, "%s: unknown action %d", path, (int)a);
}

static int op_value(enum oci_seccomp_op op, enum scmp_compare *ret)
{
        switch (op) {
        case OCI_SCMP_CMP_NE:
                *ret = SCMP_CMP_NE;
                return 0;
        case OCI_SCMP_CMP_LT:
                *ret = SCMP_CMP_LT;
                return 0;
        case OCI_SCMP_CMP_LE:
                *ret = SCMP_CMP_LE;
                return 0;
        case OCI_SCMP_CMP_EQ:
                *ret = SCMP_CMP_EQ;
                return 0;
        case OCI_SCMP_CMP_GE:
                *ret = SCMP_CMP_GE;
                return 0;
        case OCI_SCMP_CMP_GT:
                *ret = SCMP_CMP_GT;
                return 0;
        case OCI_SCMP_CMP_MASKED_EQ:
                *ret = SCMP_CMP_MASKED_EQ;
                return 0;
        }
        return -EINVAL;
}

/* ---- flags ---- */

static const struct {
        const char *name;
        unsigned bit;
} flag_table[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

/*
 * Whether the kernel knows a flag: with a NULL program it fails with EFAULT
 * after accepting the flags, EINVAL before (libseccomp probes the same way).
 * WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
 */
static bool kernel_knows_flag(unsigned bit)
{
        if (bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
                bit |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, bit, NULL);
        return r < 0 && errno == EFAULT;
}

int berth_seccomp_resolve_flags(char *const *flags, bool needs_listener, unsigned *ret_flags,
                                struct berth_error **err)
{
        unsigned out = 0;

        for (size_t i = 0; flags && flags[i]; i++) {
                unsigned bit = 0;
                for (size_t k = 0; k < ELEMENTSOF(flag_table); k++)
                        if (strcmp(flags[i], flag_table[k].name) == 0)
                                bit = flag_table[k].bit;
                if (bit == 0)
                        return berth_error_set(err, EINVAL,
                                               "linux.seccomp.flags[%zu]: unknown flag '%s'", i,
                                               flags[i]);
                if (!kernel_knows_flag(bit))
                        return berth_error_set(
                            err, EOPNOTSUPP,
                            "linux.seccomp.flags[%zu]: flag '%s' not supported by the kernel", i,
                            flags[i]);
                out |= bit;
        }
        if (needs_listener) {
                /* The init is single-threaded: TSYNC changes nothing there, and
                 * the kernel refuses it with NEW_LISTENER (without TSYNC_ESRCH). */
                out &= ~(unsigned)SECCOMP_FILTER_FLAG_TSYNC;
                out |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        } else {
                out &= ~(unsigned)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        }
        *ret_flags = out;
        return 0;
}

/* ---- compilation ---- */

static int add_architectures(scmp_filter_ctx ctx, char *const *arches, struct berth_error **err)
{
        for (size_t i = 0; arches && arches[i]; i++) {
                const char *a = arches[i];
                const char *prefix = "SCMP_ARCH_";
                uint32_t token = 0;

                if (strncmp(a, prefix, strlen(prefix)) == 0 && a[strlen(prefix)] != '\0') {
                        _cleanup_free_ char *lower = xstrdup(a + strlen(prefix));
                        for (char *p = lower; *p; p++)
                                if (*p >= 'A' && *p <= 'Z')
                                        *p = (char)(*p - 'A' + 'a');
                        token = seccomp_arch_resolve_name(lower);
                }
                if (token == 0)
                        return berth_error_set(
                            err, EINVAL,
                            "linux.seccomp.architectures[%zu]: unknown architecture '%s'", i, a);
                int r = seccomp_arch_add(ctx, token);
                if (r == -EEXIST) /* the native one, or a duplicate */
                        continue;
                if (r == -EDOM)
                        return berth_error_set(
                            err, EINVAL,
                            "linux.seccomp.architectures[%zu]: architecture '%s' "
                            "cannot share a filter with the native one",
                            i, a);
                if (r < 0)
                        return berth_error_sys(err, -r,
                                               "linux.seccomp.architectures[%zu]: add '%s'", i, a);
        }
        return 0;
}

static int build_conditions(const char *path, const struct oci_seccomp_syscall *sc,
                            struct scmp_arg_cmp *cmps, bool *ret_split, struct berth_error **err)
{
        unsigned seen = 0;

        *ret_split = false;
        for (size_t k = 0; k < sc->n_args; k++) {
                const struct oci_seccomp_arg *a = &sc->args[k];
                enum scmp_compare op;

                if (a->index > 5)
                        return berth_error_set(err, EINVAL,
                                               "%s.args[%zu]: index %u out of range (0..5)", path,
                                               k, a->index);
                if (op_value(a->op, &op) < 0)
                        return berth_error_set(err, EINVAL, "%s.args[%zu]: unknown operator %d",
                                               path, k, (int)a->op);
                if (seen & (1u << a->index))
                        *ret_split = true;
                seen |= 1u << a->index;
                cmps[k] = (struct scmp_arg_cmp){
                    .arg = a->index,
                    .op = op,
                    .datum_a = a->value,
                    .datum_b = op == SCMP_CMP_MASKED_EQ ? a->value_two : 0,
                };
        }
        return 0;
}

static int add_rule(scmp_filter_ctx ctx, const char *path, const char *name, uint32_t action,
                    int nr, unsigned n, const struct scmp_arg_cmp *cmps, struct berth_error **err)
{
        int r = seccomp_rule_add_array(ctx, action, nr, n, cmps);
        if (r == -EEXIST)
                return berth_error_set(
                    err, EEXIST, "%s: rule for '%s' conflicts with an earlier one", path, name);
        if (r < 0)
                return berth_error_sys(err, -r, "%s: add rule for '%s'", path, name);
        return 0;
}

static int add_syscall(scmp_filter_ctx ctx, size_t idx, const struct oci_seccomp_syscall *sc,
                       uint32_t default_action, struct berth_error **err)
{
        char path[64];
        struct scmp_arg_cmp cmps[64];
        uint32_t action;
        bool split;
        int r;

        snprintf(path, sizeof(path), "linux.seccomp.syscalls[%zu]", idx);
        if (!action_name(sc->action))
                return berth_error_set(err, EINVAL, "%s: unknown action %d", path, (int)sc->action);
        r = action_value(path, sc->action, sc->has_errno_ret, sc->errno_ret, &action, err);
        if (r < 0)
                return r;
        if (!sc->names || !sc->names[0])
                return berth_error_set(err, EINVAL, "%s: names is empty", path);
        if (sc->n_args > ELEMENTSOF(cmps))
                return berth_error_set(err, E2BIG, "%s: too many args (%zu, at most %zu)", path,
                                       sc->n_args, ELEMENTSOF(cmps));
        r = build_conditions(path, sc, cmps, &split, err);
        if (r < 0)
                return r;
        if (action == default_action)
                return 0; /* libseccomp refuses it; it changes nothing anyway */

        for (size_t i = 0; sc->names[i]; i++) {
                int nr = seccomp_syscall_resolve_name(sc->names[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* unknown here; may exist on newer kernels */
                if (!split) {
                        r = add_rule(ctx, path, sc->names[i], action, nr, (unsigned)sc->n_args,
                                     cmps, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                for (size_t k = 0; k < sc->n_args; k++) {
                        r = add_rule(ctx, path, sc->names[i], action, nr, 1, &cmps[k], err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* seccomp_export_bpf() into a memfd, read back as the program's instructions. */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *ret, struct berth_error **err)
{
        _cleanup_close_ int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
        struct stat st;
        int r;

        if (fd < 0)
                return berth_error_sys(err, errno, "seccomp: create memfd for the filter");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return berth_error_sys(err, -r, "seccomp: export filter");
        if (fstat(fd, &st) < 0)
                return berth_error_sys(err, errno, "seccomp: stat exported filter");
        size_t size = (size_t)st.st_size;
        if (size == 0 || size % sizeof(struct sock_filter) != 0)
                return berth_error_set(err, EIO, "seccomp: exported filter has bad size %zu", size);
        if (size / sizeof(struct sock_filter) > SECCOMP_MAX_INSNS)
                return berth_error_set(err, E2BIG,
                                       "seccomp: filter too large (%zu instructions, at most %u)",
                                       size / sizeof(struct sock_filter), SECCOMP_MAX_INSNS);
        _cleanup_free_ struct sock_filter *insns = xmalloc(size);
        size_t done = 0;
        while (done < size) {
                ssize_t n = pread(fd, (char *)insns + done, size - done, (off_t)done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_sys(err, errno, "seccomp: read exported filter");
                if (n == 0)
                        return berth_error_set(err, EIO, "seccomp: exported filter truncated");
                done += (size_t)n;
        }
        ret->len = (unsigned short)(size / sizeof(struct sock_filter));
        ret->filter = TAKE_PTR(insns);
        return 0;
}

int berth_seccomp_compile(const struct oci_seccomp *s, struct berth_seccomp_prog **ret,
                          struct berth_error **err)
{
        _cleanup_(scmp_ctx_releasep) scmp_filter_ctx ctx = NULL;
        uint32_t def;
        bool listener = false;
        int r;

        if (!action_name(s->default_action))
                return berth_error_set(err, EINVAL,
                                       "linux.seccomp.defaultAction: unknown action %d",
                                       (int)s->default_action);
        if (s->default_action == OCI_SCMP_ACT_NOTIFY)
                return berth_error_set(err, EINVAL,
                                       "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the "
                                       "default action");
        r = action_value("linux.seccomp.defaultErrnoRet", s->default_action,
                         s->has_default_errno_ret, s->default_errno_ret, &def, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_syscalls; i++)
                if (s->syscalls[i].action == OCI_SCMP_ACT_NOTIFY)
                        listener = true;

        unsigned flags;
        r = berth_seccomp_resolve_flags(s->flags, listener, &flags, err);
        if (r < 0)
                return r;

        ctx = seccomp_init(def);
        if (!ctx)
                return berth_error_set(
                    err, EINVAL,
                    "linux.seccomp.defaultAction: %s not supported by libseccomp "
                    "or the kernel",
                    action_name(s->default_action));
        /* A binary tree of syscall numbers: ~9 comparisons instead of ~400
         * for Docker's profile.  Older libseccomp lacks it; linear is fine. */
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

        r = add_architectures(ctx, s->architectures, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_syscalls; i++) {
                r = add_syscall(ctx, i, &s->syscalls[i], def, err);
                if (r < 0)
                        return r;
        }

        struct berth_seccomp_prog *p = xcalloc(1, sizeof(*p));
        r = export_bpf(ctx, &p->fprog, err);
        if (r < 0) {
                free(p);
                return r;
        }
        p->flags = flags;
        p->needs_listener = listener;
        *ret = p;
        return 0;
}

int berth_seccomp_load(const struct berth_seccomp_prog *p, int *ret_listener_fd)
{
        /* The kernel does not write through the program pointer. */
        long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &p->fprog);
        if (r < 0)
                return -errno;
        if (ret_listener_fd)
                *ret_listener_fd = p->needs_listener ? (int)r : -1;
        return 0;
}

bool berth_seccomp_needs_listener(const struct berth_seccomp_prog *p)
{
        return p->needs_listener;
}

unsigned berth_seccomp_prog_flags(const struct berth_seccomp_prog *p)
{
        return p->flags;
}

size_t berth_seccomp_prog_len(const struct berth_seccomp_prog *p)
{
        return p->fprog.len;
}

void berth_seccomp_prog_free(struct berth_seccomp_prog *p)
{
        if (!p)
                return;
        free(p->fprog.filter);
        free(p);
}
