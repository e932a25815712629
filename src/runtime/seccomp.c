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
 * argument, and runc does the same); syscalls numbered above every name in
 * the profile fail with ENOSYS rather than the default action (runc's stub,
 * prepended to libseccomp's program), so libc falls back as it would on an
 * older kernel.  Beyond runc: the few syscalls newer than Debian 12's
 * libseccomp knows are honoured by number on the native architecture, and
 * compiled programs can be cached (berth_seccomp_compile_cached()), since
 * libseccomp needs ~20 ms for Docker's profile.
 *
 * Never: allocate or call libseccomp in berth_seccomp_load() — it runs in
 * the cloned child, possibly after the rootfs no longer holds our libraries.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
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

#ifndef BERTH_SECCOMP_CACHE_ONLY
static void scmp_ctx_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx) {
                int saved = errno;
                seccomp_release(*ctx);
                errno = saved;
        }
}
#endif

/* The libseccomp action for an OCI action and its optional errnoRet. */
static int action_value(const char *path, const char *field, enum oci_seccomp_action a,
                        bool has_errno, uint32_t errno_ret, uint32_t *ret, struct berth_error **err)
{
        uint32_t e = has_errno ? errno_ret : EPERM;
        bool takes_errno = a == OCI_SCMP_ACT_ERRNO || a == OCI_SCMP_ACT_TRACE;

        /* the runtime spec: an errno for an action without one is an error */
        if (has_errno && !takes_errno && oci_seccomp_action_name(a))
                return berth_error_set(err, EINVAL,
                                       "%s.%s: %s takes no errno (only SCMP_ACT_ERRNO and "
                                       "SCMP_ACT_TRACE do)",
                                       path, field, oci_seccomp_action_name(a));
        if (takes_errno && e > 0xffff)
                return berth_error_set(err, EINVAL, "%s.%s: %u out of range (0..65535)", path,
                                       field, e);
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

#ifndef BERTH_SECCOMP_CACHE_ONLY
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
#endif

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

        /* No "flags" at all (not even []): SPEC_ALLOW where the kernel has it,
         * as runc does — the SSB mitigation costs every syscall. */
        if (!flags && kernel_knows_flag(SECCOMP_FILTER_FLAG_SPEC_ALLOW))
                out |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
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

/*
 * Syscalls newer than some libseccomp releases (Debian 12's 2.5.4 stops at
 * futex_requeue, 456).  Since Linux 5.1 every architecture but alpha, mips
 * and x32 gives a new syscall the same number, so on those these names are
 * honoured on the native architecture even when libseccomp does not know
 * them; elsewhere they are skipped like any unknown name.
 */
static const struct {
        const char *name;
        int nr;
} newer_syscalls[] = {
    {"statmount", 457},         {"listmount", 458},        {"lsm_get_self_attr", 459},
    {"lsm_set_self_attr", 460}, {"lsm_list_modules", 461}, {"mseal", 462},
    {"setxattrat", 463},        {"getxattrat", 464},       {"listxattrat", 465},
    {"removexattrat", 466},     {"open_tree_attr", 467},   {"file_getattr", 468},
    {"file_setattr", 469},
};

/* ---- compilation (libseccomp) ---- */

#ifndef BERTH_SECCOMP_CACHE_ONLY
/*
 * The filter for the other architectures lives in a context of its own,
 * merged into the native one at the end: libseccomp can then take rules by
 * number for syscalls it does not know (see newer_syscalls) on the native
 * architecture alone.  Returns NULL when there are no other architectures.
 */
#define MAX_ARCHES 32

struct arch_set {
        uint32_t tokens[MAX_ARCHES]; /* the native one first */
        size_t n;
};

static int other_arches_ctx(char *const *arches, uint32_t def, scmp_filter_ctx *ret,
                            struct arch_set *set, struct berth_error **err)
{
        _cleanup_(scmp_ctx_releasep) scmp_filter_ctx other = NULL;
        uint32_t native = seccomp_arch_native();

        *ret = NULL;
        set->tokens[0] = native;
        set->n = 1;
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
                if (token == native)
                        continue;
                /* one filter, one byte order: libseccomp refuses to mix them */
                if ((token ^ native) & __AUDIT_ARCH_LE)
                        return berth_error_set(
                            err, EINVAL,
                            "linux.seccomp.architectures[%zu]: architecture '%s' "
                            "cannot share a filter with the native one",
                            i, a);
                if (!other) {
                        other = seccomp_init(def);
                        if (!other)
                                return berth_error_set(err, EINVAL, "seccomp: init filter");
                        (void)seccomp_attr_set(other, SCMP_FLTATR_CTL_OPTIMIZE, 2);
                        int r = seccomp_arch_remove(other, SCMP_ARCH_NATIVE);
                        if (r < 0)
                                return berth_error_sys(err, -r, "seccomp: set up architectures");
                }
                int r = seccomp_arch_add(other, token);
                if (r == -EEXIST)
                        continue;
                if (r < 0)
                        return berth_error_sys(err, -r,
                                               "linux.seccomp.architectures[%zu]: add '%s'", i, a);
                if (set->n < MAX_ARCHES) /* there are fewer than that */
                        set->tokens[set->n++] = token;
        }
        *ret = TAKE_PTR(other);
        return 0;
}

static int newer_syscall_nr(const char *name)
{
        uint32_t native = seccomp_arch_native();

        switch (native) {
        case SCMP_ARCH_X86_64:
        case SCMP_ARCH_X86:
        case SCMP_ARCH_AARCH64:
        case SCMP_ARCH_ARM:
        case SCMP_ARCH_RISCV64:
        case SCMP_ARCH_S390X:
        case SCMP_ARCH_S390:
        case SCMP_ARCH_PPC64LE:
        case SCMP_ARCH_PPC64:
        case SCMP_ARCH_PPC:
                break;
        default:
                return -1;
        }
        for (size_t i = 0; i < ELEMENTSOF(newer_syscalls); i++) {
                if (strcmp(newer_syscalls[i].name, name) != 0)
                        continue;
                /* a libseccomp that names this number otherwise knows better */
                _cleanup_free_ char *known =
                    seccomp_syscall_resolve_num_arch(native, newer_syscalls[i].nr);
                return known ? -1 : newer_syscalls[i].nr;
        }
        return -1;
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

static int add_rule(scmp_filter_ctx ctx, scmp_filter_ctx other, const char *path, const char *name,
                    uint32_t action, int nr, bool native_only, unsigned n,
                    const struct scmp_arg_cmp *cmps, struct berth_error **err)
{
        int r = seccomp_rule_add_array(ctx, action, nr, n, cmps);
        if (r == -EEXIST)
                return berth_error_set(
                    err, EEXIST, "%s: rule for '%s' conflicts with an earlier one", path, name);
        if (r < 0)
                return berth_error_sys(err, -r, "%s: add rule for '%s'", path, name);
        if (!other || native_only)
                return 0;
        /* -EFAULT: the syscall does not exist on those architectures */
        r = seccomp_rule_add_array(other, action, nr, n, cmps);
        if (r == -EEXIST)
                return berth_error_set(
                    err, EEXIST, "%s: rule for '%s' conflicts with an earlier one", path, name);
        if (r < 0 && r != -EFAULT)
                return berth_error_sys(err, -r, "%s: add rule for '%s'", path, name);
        return 0;
}

static int add_syscall(scmp_filter_ctx ctx, scmp_filter_ctx other, size_t idx,
                       const struct oci_seccomp_syscall *sc, uint32_t default_action,
                       struct berth_error **err)
{
        char path[64];
        struct scmp_arg_cmp cmps[64];
        uint32_t action;
        bool split;
        int r;

        snprintf(path, sizeof(path), "linux.seccomp.syscalls[%zu]", idx);
        if (!oci_seccomp_action_name(sc->action))
                return berth_error_set(err, EINVAL, "%s: unknown action %d", path, (int)sc->action);
        r = action_value(path, "errnoRet", sc->action, sc->has_errno_ret, sc->errno_ret, &action,
                         err);
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
                const char *name = sc->names[i];
                bool native_only = false;
                int nr = seccomp_syscall_resolve_name(name);
                if (nr == __NR_SCMP_ERROR) {
                        nr = newer_syscall_nr(name);
                        if (nr < 0)
                                continue; /* unknown here; may exist on newer kernels */
                        native_only = true;
                }
                if (!split) {
                        r = add_rule(ctx, other, path, name, action, nr, native_only,
                                     (unsigned)sc->n_args, cmps, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                for (size_t k = 0; k < sc->n_args; k++) {
                        r = add_rule(ctx, other, path, name, action, nr, native_only, 1, &cmps[k],
                                     err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/*
 * runc's ENOSYS stub.  A syscall numbered above every syscall the profile
 * names (per architecture) is newer than the profile: it fails with ENOSYS,
 * what a kernel without it would say and what libc answers with a fallback,
 * instead of the default action (EPERM for Docker's profile), which libc
 * takes as a real failure.  Not when the default action lets syscalls run
 * (ALLOW, LOG) or hands them to a tracer (TRACE).  x32 syscalls arrive as
 * AUDIT_ARCH_X86_64 with bit 30 set in the number.  The stub runs before
 * libseccomp's program and falls through to it for everything else.
 */
#define X32_SYSCALL_BIT 0x40000000u
#define STUB_MAX        (3 + MAX_ARCHES * 5)

static int64_t profile_max_nr(const struct oci_seccomp *s, uint32_t token, uint32_t native)
{
        int64_t max = -1;

        for (size_t i = 0; i < s->n_syscalls; i++)
                for (size_t k = 0; s->syscalls[i].names && s->syscalls[i].names[k]; k++) {
                        const char *name = s->syscalls[i].names[k];
                        int nr = seccomp_syscall_resolve_name_arch(token, name);
                        if (nr == __NR_SCMP_ERROR && token == native)
                                nr = newer_syscall_nr(name);
                        if (nr > max) /* pseudo-syscalls are negative */
                                max = nr;
                }
        return max;
}

static size_t build_enosys_stub(const struct oci_seccomp *s, const struct arch_set *set,
                                struct sock_filter *out)
{
        uint32_t native = seccomp_arch_native();
        struct {
                uint32_t token;
                uint32_t max;
                size_t start;
        } a[MAX_ARCHES];
        size_t n = 0, pos;
        int64_t x32 = -1;

        switch (s->default_action) {
        case OCI_SCMP_ACT_ALLOW:
        case OCI_SCMP_ACT_LOG:
        case OCI_SCMP_ACT_TRACE:
                return 0;
        default:
                break;
        }
        if (s->default_action == OCI_SCMP_ACT_ERRNO && s->has_default_errno_ret &&
            s->default_errno_ret == ENOSYS)
                return 0; /* already the answer */
        for (size_t i = 0; i < set->n; i++)
                if (set->tokens[i] == SCMP_ARCH_X32)
                        x32 = profile_max_nr(s, SCMP_ARCH_X32, native);
        for (size_t i = 0; i < set->n; i++) {
                if (set->tokens[i] == SCMP_ARCH_X32)
                        continue;
                int64_t m = profile_max_nr(s, set->tokens[i], native);
                if (m >= 0)
                        a[n++] = (typeof(a[0])){.token = set->tokens[i], .max = (uint32_t)m};
        }
        if (n == 0)
                return 0;

        /* layout: ld arch; jeq per arch; ja main; one block per arch; enosys; main */
        pos = n + 2;
        for (size_t i = 0; i < n; i++) {
                a[i].start = pos;
                pos += a[i].token == SCMP_ARCH_X86_64 ? (x32 >= 0 ? 4 : 3) : 2;
        }
        const size_t enosys = pos, main_ = pos + 1;
#define OFF(from, to) ((uint8_t)((to) - (from)-1))
        pos = 0;
        out[pos++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                                  offsetof(struct seccomp_data, arch));
        for (size_t i = 0; i < n; i++, pos++)
                out[pos] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, a[i].token,
                                                        OFF(pos, a[i].start), 0);
        out[pos] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, (uint32_t)(main_ - pos - 1));
        pos++;
        for (size_t i = 0; i < n; i++) {
                out[pos++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                                          offsetof(struct seccomp_data, nr));
                if (a[i].token == SCMP_ARCH_X86_64) {
                        /* x32: to its own test, or to libseccomp when not in the filter */
                        size_t x32_at = x32 >= 0 ? pos + 2 : main_;
                        out[pos] = (struct sock_filter)BPF_JUMP(
                            BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, OFF(pos, x32_at), 0);
                        pos++;
                }
                out[pos] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, a[i].max,
                                                        OFF(pos, enosys), OFF(pos, main_));
                pos++;
                if (a[i].token == SCMP_ARCH_X86_64 && x32 >= 0) {
                        out[pos] =
                            (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)x32,
                                                         OFF(pos, enosys), OFF(pos, main_));
                        pos++;
                }
        }
#undef OFF
        out[pos++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
        return pos;
}

/* seccomp_export_bpf() into a memfd, read back as the program's instructions. */
static int export_bpf(scmp_filter_ctx ctx, const struct sock_filter *prologue, size_t n_prologue,
                      struct sock_fprog *ret, struct berth_error **err)
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
        size_t total = size / sizeof(struct sock_filter) + n_prologue;
        if (total > SECCOMP_MAX_INSNS)
                return berth_error_set(err, E2BIG,
                                       "seccomp: filter too large (%zu instructions, at most %u)",
                                       total, SECCOMP_MAX_INSNS);
        _cleanup_free_ struct sock_filter *insns = xmalloc(total * sizeof(struct sock_filter));
        memcpy(insns, prologue, n_prologue * sizeof(struct sock_filter));
        char *dst = (char *)(insns + n_prologue);
        size_t done = 0;
        while (done < size) {
                ssize_t n = pread(fd, dst + done, size - done, (off_t)done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_sys(err, errno, "seccomp: read exported filter");
                if (n == 0)
                        return berth_error_set(err, EIO, "seccomp: exported filter truncated");
                done += (size_t)n;
        }
        ret->len = (unsigned short)total;
        ret->filter = TAKE_PTR(insns);
        return 0;
}

#endif /* BERTH_SECCOMP_CACHE_ONLY */

/* The default action, the flags and whether a listener is needed: cheap
 * checks done on every compile, cached or not. */
static int prepare(const struct oci_seccomp *s, uint32_t *ret_def, unsigned *ret_flags,
                   bool *ret_listener, struct berth_error **err)
{
        bool listener = false;
        int r;

        if (!oci_seccomp_action_name(s->default_action))
                return berth_error_set(err, EINVAL,
                                       "linux.seccomp.defaultAction: unknown action %d",
                                       (int)s->default_action);
        if (s->default_action == OCI_SCMP_ACT_NOTIFY)
                return berth_error_set(err, EINVAL,
                                       "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the "
                                       "default action");
        r = action_value("linux.seccomp", "defaultErrnoRet", s->default_action,
                         s->has_default_errno_ret, s->default_errno_ret, ret_def, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_syscalls; i++)
                if (s->syscalls[i].action == OCI_SCMP_ACT_NOTIFY)
                        listener = true;
        r = berth_seccomp_resolve_flags(s->flags, listener, ret_flags, err);
        if (r < 0)
                return r;
        *ret_listener = listener;
        return 0;
}

#ifndef BERTH_SECCOMP_CACHE_ONLY
/* libseccomp: the filter contexts, every rule, exported as BPF. */
static int build_bpf(const struct oci_seccomp *s, uint32_t def, struct sock_fprog *ret,
                     struct berth_error **err)
{
        _cleanup_(scmp_ctx_releasep) scmp_filter_ctx ctx = seccomp_init(def);
        _cleanup_(scmp_ctx_releasep) scmp_filter_ctx other = NULL;
        int r;

        if (!ctx)
                return berth_error_set(
                    err, EINVAL,
                    "linux.seccomp.defaultAction: %s not supported by libseccomp "
                    "or the kernel",
                    oci_seccomp_action_name(s->default_action));
        /* A binary tree of syscall numbers: ~9 comparisons instead of ~400
         * for Docker's profile.  Older libseccomp lacks it; linear is fine. */
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

        struct arch_set set;
        r = other_arches_ctx(s->architectures, def, &other, &set, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_syscalls; i++) {
                r = add_syscall(ctx, other, i, &s->syscalls[i], def, err);
                if (r < 0)
                        return r;
        }
        if (other) {
                r = seccomp_merge(ctx, other);
                if (r < 0)
                        return berth_error_sys(err, -r, "seccomp: merge architectures");
                other = NULL; /* merged: now part of ctx */
        }
        struct sock_filter stub[STUB_MAX];
        size_t n_stub = build_enosys_stub(s, &set, stub);
        return export_bpf(ctx, stub, n_stub, ret, err);
}
#else
/* A build without libseccomp (berth-shim-helper-lite) has only the cache. */
static int build_bpf(const struct oci_seccomp *s, uint32_t def, struct sock_fprog *ret,
                     struct berth_error **err)
{
        return berth_error_set(err, BERTH_SECCOMP_ENOCOMPILER,
                               "seccomp: the profile's program is not in the cache, and this "
                               "build cannot compile one");
}
#endif

int berth_seccomp_compile(const struct oci_seccomp *s, struct berth_seccomp_prog **ret,
                          struct berth_error **err)
{
        return berth_seccomp_compile_cached(s, NULL, ret, err);
}

/* ---- cache of compiled programs ----
 *
 * libseccomp needs ~20 ms for Docker's profile on three architectures;
 * containers started with the same profile reuse the program.  A cache
 * file holds the full description of what was compiled (the key) and the
 * instructions; a hit needs the key to match byte for byte, so a hash
 * collision or a stale, torn or foreign file only costs a recompile.  The
 * directory and files must be ours and not writable by anyone else, or the
 * cache is not used at all. */

#define CACHE_MAGIC   "berth-seccomp-cache 1\n"
#define CACHE_MAX_KEY (16u << 20)

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
        const unsigned char *c = p;
        for (size_t i = 0; i < n; i++) {
                h ^= c[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}
#define FNV_INIT UINT64_C(0xcbf29ce484222325)

static void key_str(struct berth_buf *b, const char *s)
{
        buf_printf(b, "%zu:", strlen(s));
        buf_puts(b, s);
        buf_putc(b, ' ');
}

/* Everything the BPF depends on, unambiguously (strings length-prefixed). */
static void cache_key(const struct oci_seccomp *s, struct berth_buf *b)
{
#ifndef BERTH_SECCOMP_CACHE_ONLY
        const struct scmp_version *v = seccomp_version();
#else
        /* libseccomp is linked statically where it is linked: its header's version
         * is the full build's */
        const struct scmp_version vv = {SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO}, *v = &vv;
#endif
        struct utsname u;

        if (uname(&u) < 0)
                memset(&u, 0, sizeof(u));
        buf_puts(b, CACHE_MAGIC);
        /* what this code adds to libseccomp's output: version it when it changes */
        buf_printf(b, "berth %s stub 1 newer", BERTH_VERSION);
        for (size_t i = 0; i < ELEMENTSOF(newer_syscalls); i++)
                buf_printf(b, " %s=%d", newer_syscalls[i].name, newer_syscalls[i].nr);
        buf_printf(b, "\nlibseccomp %u.%u.%u kernel ", v->major, v->minor, v->micro);
        key_str(b, u.release);
        key_str(b, u.machine);
        buf_printf(b, "\ndefault %d %d %u\narches", (int)s->default_action,
                   (int)s->has_default_errno_ret, s->default_errno_ret);
        for (size_t i = 0; s->architectures && s->architectures[i]; i++)
                key_str(b, s->architectures[i]);
        for (size_t i = 0; i < s->n_syscalls; i++) {
                const struct oci_seccomp_syscall *sc = &s->syscalls[i];
                buf_printf(b, "\nsyscall %d %d %u names ", (int)sc->action, (int)sc->has_errno_ret,
                           sc->errno_ret);
                for (size_t k = 0; sc->names && sc->names[k]; k++)
                        key_str(b, sc->names[k]);
                buf_printf(b, "args %zu", sc->n_args);
                for (size_t k = 0; k < sc->n_args; k++)
                        buf_printf(b, " %u %" PRIu64 " %" PRIu64 " %d", sc->args[k].index,
                                   sc->args[k].value, sc->args[k].value_two, (int)sc->args[k].op);
        }
        buf_putc(b, '\n');
}

/* The cache directory, or -1 when it cannot be trusted or made. */
static int cache_dir_open(const char *dir)
{
        struct stat st;

        (void)mkdir(dir, 0700);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -1;
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Layout: key, u32 instruction count, u64 FNV-1a of the instructions, instructions. */
static bool cache_lookup(int dfd, const char *name, const struct berth_buf *key,
                         struct sock_fprog *ret)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t len;
        uint32_t n;
        uint64_t sum;

        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 022))
                return false;
        if (read_full_fd(fd, key->len + 12 + SECCOMP_MAX_INSNS * sizeof(struct sock_filter), &data,
                         &len) < 0)
                return false;
        if (len < key->len + 12 || memcmp(data, key->data, key->len) != 0)
                return false;
        memcpy(&n, data + key->len, 4);
        memcpy(&sum, data + key->len + 4, 8);
        if (n == 0 || n > SECCOMP_MAX_INSNS ||
            len != key->len + 12 + n * sizeof(struct sock_filter))
                return false;
        const char *insns = data + key->len + 12;
        if (fnv1a(insns, n * sizeof(struct sock_filter), FNV_INIT) != sum)
                return false;
        ret->filter = xmalloc(n * sizeof(struct sock_filter));
        memcpy(ret->filter, insns, n * sizeof(struct sock_filter));
        ret->len = (unsigned short)n;
        return true;
}

/* Best effort: a failure to store only means the next start compiles again. */
static void cache_store(int dfd, const char *name, const struct berth_buf *key,
                        const struct sock_fprog *prog)
{
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        uint32_t n = prog->len;
        uint64_t sum = fnv1a(prog->filter, n * sizeof(struct sock_filter), FNV_INIT);
        char tmp[64];

        buf_append(&b, key->data, key->len);
        buf_append(&b, &n, 4);
        buf_append(&b, &sum, 8);
        buf_append(&b, prog->filter, n * sizeof(struct sock_filter));
        snprintf(tmp, sizeof(tmp), "%s.tmp-%d", name, (int)getpid());
        _cleanup_close_ int fd =
            openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        if (write_all(fd, b.data, b.len) < 0 || renameat(dfd, tmp, dfd, name) < 0)
                (void)unlinkat(dfd, tmp, 0);
}

int berth_seccomp_compile_cached(const struct oci_seccomp *s, const char *cache_dir,
                                 struct berth_seccomp_prog **ret, struct berth_error **err)
{
        _cleanup_buf_ struct berth_buf key = BERTH_BUF_INIT;
        _cleanup_close_ int dfd = -EBADF;
        struct sock_fprog fprog = {0};
        char name[32];
        uint32_t def = 0;
        unsigned flags = 0;
        bool listener = false, hit = false;
        int r;

        r = prepare(s, &def, &flags, &listener, err);
        if (r < 0)
                return r;
        if (cache_dir) {
                cache_key(s, &key);
                dfd = key.len <= CACHE_MAX_KEY ? cache_dir_open(cache_dir) : -1;
                snprintf(name, sizeof(name), "%016" PRIx64 ".bpf",
                         fnv1a(key.data, key.len, FNV_INIT));
                hit = dfd >= 0 && cache_lookup(dfd, name, &key, &fprog);
        }
        if (!hit) {
                r = build_bpf(s, def, &fprog, err);
                if (r < 0)
                        return r;
                if (dfd >= 0)
                        cache_store(dfd, name, &key, &fprog);
        }
        struct berth_seccomp_prog *p = xcalloc(1, sizeof(*p));
        p->fprog = fprog;
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
        if (!p->needs_listener) {
                /* With TSYNC, a positive result is a thread that could not be
                 * synchronised: nothing was loaded. */
                if (r != 0)
                        return -ESRCH;
                if (ret_listener_fd)
                        *ret_listener_fd = -1;
                return 0;
        }
        if (ret_listener_fd)
                *ret_listener_fd = (int)r;
        else
                close((int)r);
        return 0;
}

int berth_seccomp_send_listener(const char *listener_path, int listener_fd, pid_t pid,
                                const char *metadata, const struct json *state,
                                struct berth_error **err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        if (strlen(listener_path) >= sizeof(sa.sun_path))
                return berth_error_set(err, ENAMETOOLONG,
                                       "seccomp listener '%s': path too long for a unix socket",
                                       listener_path);
        strcpy(sa.sun_path, listener_path);

        _cleanup_json_ struct json *msg = json_new_object();
        json_set_str(msg, "ociVersion", OCI_RUNTIME_SPEC_VERSION);
        json_array_append(json_object_set(msg, "fds", json_new_array()),
                          json_new_string("seccompFd"));
        json_set_int(msg, "pid", pid);
        json_set_str(msg, "metadata", metadata ? metadata : "");
        json_object_set(msg, "state", state ? json_copy(state) : json_new_object());
        _cleanup_free_ char *text = json_dump(msg, 0);

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_sys(err, errno, "seccomp listener '%s': socket", listener_path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return berth_error_sys(err, errno, "seccomp listener '%s': connect", listener_path);
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u;
        memset(&u, 0, sizeof(u));
        struct iovec iov = {.iov_base = text, .iov_len = strlen(text)};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &listener_fd, sizeof(int));
        ssize_t n;
        do
                n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return berth_error_sys(err, errno, "seccomp listener '%s': send", listener_path);
        if ((size_t)n != iov.iov_len)
                return berth_error_set(err, EIO, "seccomp listener '%s': short send",
                                       listener_path);
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

const void *berth_seccomp_prog_insns(const struct berth_seccomp_prog *p)
{
        return p->fprog.filter;
}

void berth_seccomp_prog_free(struct berth_seccomp_prog *p)
{
        if (!p)
                return;
        free(p->fprog.filter);
        free(p);
}
