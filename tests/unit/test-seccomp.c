/*
 * test-seccomp.c — linux.seccomp must behave in a container as runc makes it
 * behave: blocked syscalls fail with the configured errno, argument filters
 * select exactly what they say, KILL/TRAP deliver SIGSYS, NOTIFY hands out a
 * working listener, and bad profiles fail with a message naming the field.
 *
 * Each behaviour test compiles a profile built by hand, forks, loads the
 * filter in the child (after no_new_privs) and lets the child report what
 * the syscall did through its exit status.  Needs root only for nothing:
 * no_new_privs is enough to load a filter.
 */
#include <check.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/seccomp.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS (asm/siginfo.h clashes with signal.h) */
#endif

/* ---- building profiles by hand ---- */

static struct oci_seccomp *prof_new(enum oci_seccomp_action def)
{
        struct oci_seccomp *s = xcalloc(1, sizeof(*s));
        s->default_action = def;
        return s;
}

static char **strv_of(const char *const *in)
{
        size_t n = 0;
        while (in[n])
                n++;
        char **v = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                v[i] = xstrdup(in[i]);
        return v;
}

#define STRV(...) strv_of((const char *const[]){__VA_ARGS__, NULL})

static struct oci_seccomp_syscall *prof_rule(struct oci_seccomp *s, char **names,
                                             enum oci_seccomp_action a)
{
        s->syscalls = xrealloc(s->syscalls, (s->n_syscalls + 1) * sizeof(*s->syscalls));
        struct oci_seccomp_syscall *sc = &s->syscalls[s->n_syscalls++];
        memset(sc, 0, sizeof(*sc));
        sc->names = names;
        sc->action = a;
        return sc;
}

static struct oci_seccomp_syscall *prof_rule_errno(struct oci_seccomp *s, char **names, uint32_t e)
{
        struct oci_seccomp_syscall *sc = prof_rule(s, names, OCI_SCMP_ACT_ERRNO);
        sc->has_errno_ret = true;
        sc->errno_ret = e;
        return sc;
}

static void rule_arg(struct oci_seccomp_syscall *sc, unsigned idx, enum oci_seccomp_op op,
                     uint64_t v, uint64_t v2)
{
        sc->args = xrealloc(sc->args, (sc->n_args + 1) * sizeof(*sc->args));
        sc->args[sc->n_args++] =
            (struct oci_seccomp_arg){.index = idx, .value = v, .value_two = v2, .op = op};
}

static void prof_free(struct oci_seccomp *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n_syscalls; i++) {
                strv_free(s->syscalls[i].names);
                free(s->syscalls[i].args);
        }
        free(s->syscalls);
        strv_free(s->architectures);
        strv_free(s->flags);
        free(s);
}

static struct berth_seccomp_prog *compile_ok(const struct oci_seccomp *s)
{
        struct berth_error *err = NULL;
        struct berth_seccomp_prog *p = NULL;
        int r = berth_seccomp_compile(s, &p, &err);
        ck_assert_msg(r == 0, "compile: %s", berth_error_msg(err));
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_gt(berth_seccomp_prog_len(p), 0);
        return p;
}

/* Compile must fail; the message must contain want. */
static void compile_fails(const struct oci_seccomp *s, const char *want)
{
        struct berth_error *err = NULL;
        struct berth_seccomp_prog *p = NULL;
        int r = berth_seccomp_compile(s, &p, &err);
        ck_assert_msg(r < 0, "compile should fail with '%s'", want);
        ck_assert_ptr_null(p);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err->msg, want) != NULL, "got '%s', want '%s'", err->msg, want);
        ck_assert_ptr_null(strchr(err->msg, '\n'));
        berth_error_free(err);
}

/* ---- running code under a filter ---- */

/* After the filter is loaded: exit_group directly.  The sanitizers' _exit()
 * runs a leak check, and their instrumentation before any noreturn call uses
 * sigaltstack: a strict filter denies both.  Hence not marked noreturn. */
static void child_exit(int code)
{
        syscall(SYS_exit_group, code);
}

/* Fork; the child loads p and exits with fn(arg); returns the wait status. */
static int run_under(const struct berth_seccomp_prog *p, int (*fn)(void *), void *arg)
{
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int lfd;
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        child_exit(120);
                if (berth_seccomp_load(p, &lfd) < 0)
                        child_exit(121);
                child_exit(fn(arg));
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return status;
}

static void assert_exit(int status, int code)
{
        ck_assert_msg(WIFEXITED(status), "child killed by signal %d",
                      WIFSIGNALED(status) ? WTERMSIG(status) : -1);
        ck_assert_int_eq(WEXITSTATUS(status), code);
}

/* Exit status: 0 when the syscall succeeded, else its errno (capped to 119). */
static int errno_code(long r)
{
        if (r >= 0)
                return 0;
        return errno > 119 ? 119 : errno;
}

static int do_getcwd(void *arg)
{
        char buf[256];
        return errno_code(syscall(SYS_getcwd, buf, sizeof(buf)));
}

static int do_getppid(void *arg)
{
        return errno_code(syscall(SYS_getppid));
}

struct two {
        long a, b;
};

static int do_getpriority(void *arg)
{
        struct two *t = arg;
        return errno_code(syscall(SYS_getpriority, t->a, t->b));
}

static int do_personality(void *arg)
{
        return errno_code(syscall(SYS_personality, *(unsigned long *)arg));
}

/* ---- tests ---- */

START_TEST(test_errno_default_eperm_and_custom)
{
        struct {
                bool has;
                uint32_t e;
                int want;
        } cases[] = {{false, 0, EPERM}, {true, ENOSYS, ENOSYS}, {true, 77, 77}};
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
                struct oci_seccomp_syscall *sc = prof_rule(s, STRV("getcwd"), OCI_SCMP_ACT_ERRNO);
                sc->has_errno_ret = cases[i].has;
                sc->errno_ret = cases[i].e;
                struct berth_seccomp_prog *p = compile_ok(s);
                ck_assert(!berth_seccomp_needs_listener(p));
                assert_exit(run_under(p, do_getcwd, NULL), cases[i].want);
                /* other syscalls pass */
                assert_exit(run_under(p, do_getppid, NULL), 0);
                berth_seccomp_prog_free(p);
                prof_free(s);
        }
}
END_TEST

START_TEST(test_default_errno_ret)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ERRNO);
        s->has_default_errno_ret = true;
        s->default_errno_ret = ENOSYS;
        prof_rule(s, STRV("exit_group", "exit", "getcwd"), OCI_SCMP_ACT_ALLOW);
        struct berth_seccomp_prog *p = compile_ok(s);
        assert_exit(run_under(p, do_getppid, NULL), ENOSYS);
        assert_exit(run_under(p, do_getcwd, NULL), 0);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_personality_arg_filter)
{
        /* Docker's idiom: only the query personality(0xffffffff) and a few
         * values are allowed; everything else is denied. */
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        struct oci_seccomp_syscall *sc = prof_rule_errno(s, STRV("personality"), EPERM);
        rule_arg(sc, 0, OCI_SCMP_CMP_NE, 0xffffffffu, 0);
        struct berth_seccomp_prog *p = compile_ok(s);
        unsigned long query = 0xffffffffu, linux32 = 0x0008;
        assert_exit(run_under(p, do_personality, &query), 0);
        assert_exit(run_under(p, do_personality, &linux32), EPERM);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_args_and_or)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        /* two different args in one entry: AND */
        struct oci_seccomp_syscall *sc = prof_rule_errno(s, STRV("getpriority"), 100);
        rule_arg(sc, 0, OCI_SCMP_CMP_EQ, PRIO_PGRP, 0);
        rule_arg(sc, 1, OCI_SCMP_CMP_EQ, 4000000, 0);
        /* the same arg twice in one entry: each its own rule (OR), as runc */
        sc = prof_rule_errno(s, STRV("getpriority"), 101);
        rule_arg(sc, 1, OCI_SCMP_CMP_EQ, 4000001, 0);
        rule_arg(sc, 1, OCI_SCMP_CMP_EQ, 4000002, 0);
        /* separate entries, same syscall and arg index: OR */
        sc = prof_rule_errno(s, STRV("getpriority"), 102);
        rule_arg(sc, 1, OCI_SCMP_CMP_EQ, 4000003, 0);
        sc = prof_rule_errno(s, STRV("getpriority"), 102);
        rule_arg(sc, 1, OCI_SCMP_CMP_EQ, 4000004, 0);
        struct berth_seccomp_prog *p = compile_ok(s);

        struct {
                struct two t;
                int want;
        } cases[] = {
            {{PRIO_PGRP, 4000000}, 100},    {{PRIO_PROCESS, 4000000}, ESRCH},
            {{PRIO_PGRP, 3999999}, ESRCH},  {{PRIO_PROCESS, 4000001}, 101},
            {{PRIO_PGRP, 4000002}, 101},    {{PRIO_PROCESS, 4000003}, 102},
            {{PRIO_PROCESS, 4000004}, 102}, {{PRIO_PROCESS, 0}, 0},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_exit(run_under(p, do_getpriority, &cases[i].t), cases[i].want);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_every_operator)
{
        /* getpriority(PRIO_PROCESS, who): a non-existent 'who' gives ESRCH when
         * the filter lets it through, 103 when the rule matches. */
        struct {
                enum oci_seccomp_op op;
                uint64_t v, v2;
                long who;
                bool match;
        } cases[] = {
            {OCI_SCMP_CMP_NE, 4000000, 0, 4000000, false},
            {OCI_SCMP_CMP_NE, 4000000, 0, 4000001, true},
            {OCI_SCMP_CMP_LT, 4000000, 0, 3999999, true},
            {OCI_SCMP_CMP_LT, 4000000, 0, 4000000, false},
            {OCI_SCMP_CMP_LE, 4000000, 0, 4000000, true},
            {OCI_SCMP_CMP_LE, 4000000, 0, 4000001, false},
            {OCI_SCMP_CMP_EQ, 4000000, 0, 4000000, true},
            {OCI_SCMP_CMP_EQ, 4000000, 0, 4000001, false},
            {OCI_SCMP_CMP_GE, 4000000, 0, 4000000, true},
            {OCI_SCMP_CMP_GE, 4000000, 0, 3999999, false},
            {OCI_SCMP_CMP_GT, 4000000, 0, 4000001, true},
            {OCI_SCMP_CMP_GT, 4000000, 0, 4000000, false},
            /* value = mask, valueTwo = what the masked arg must equal */
            {OCI_SCMP_CMP_MASKED_EQ, 0xff0000, 0x3d0000, 0x3d0900, true}, /* 4000000 */
            {OCI_SCMP_CMP_MASKED_EQ, 0xff0000, 0x3d0000, 0x3e0900, false},
            {OCI_SCMP_CMP_MASKED_EQ, 0xff00, 0x0900, 0x3d0900, true},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
                struct oci_seccomp_syscall *sc = prof_rule_errno(s, STRV("getpriority"), 103);
                rule_arg(sc, 1, cases[i].op, cases[i].v, cases[i].v2);
                struct berth_seccomp_prog *p = compile_ok(s);
                struct two t = {PRIO_PROCESS, cases[i].who};
                int st = run_under(p, do_getpriority, &t);
                ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == (cases[i].match ? 103 : ESRCH),
                              "case %zu: status %#x", i, st);
                berth_seccomp_prog_free(p);
                prof_free(s);
        }
}
END_TEST

static void check_signal(enum oci_seccomp_action a)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getppid"), a);
        struct berth_seccomp_prog *p = compile_ok(s);
        int st = run_under(p, do_getppid, NULL);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x", st);
        berth_seccomp_prog_free(p);
        prof_free(s);
}

START_TEST(test_kill_actions)
{
        check_signal(OCI_SCMP_ACT_KILL_PROCESS);
        check_signal(OCI_SCMP_ACT_KILL_THREAD);
        check_signal(OCI_SCMP_ACT_KILL);
}
END_TEST

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
        child_exit(si->si_code == SYS_SECCOMP && si->si_syscall == SYS_getppid ? 42 : 43);
}

static int do_trap(void *arg)
{
        struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
        sigaction(SIGSYS, &sa, NULL);
        syscall(SYS_getppid);
        return 44;
}

START_TEST(test_trap)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getppid"), OCI_SCMP_ACT_TRAP);
        struct berth_seccomp_prog *p = compile_ok(s);
        assert_exit(run_under(p, do_trap, NULL), 42);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_log_and_allow_pass)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ERRNO);
        prof_rule(s, STRV("exit_group", "exit"), OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getppid"), OCI_SCMP_ACT_LOG);
        prof_rule(s, STRV("getcwd"), OCI_SCMP_ACT_ALLOW);
        struct berth_seccomp_prog *p = compile_ok(s);
        assert_exit(run_under(p, do_getppid, NULL), 0);
        assert_exit(run_under(p, do_getcwd, NULL), 0);
        unsigned long q = 0xffffffffu;
        assert_exit(run_under(p, do_personality, &q), EPERM);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_trace_without_tracer)
{
        /* With no tracer attached the kernel fails a TRACE syscall with ENOSYS;
         * errnoRet is the message for a tracer, not an errno. */
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        struct oci_seccomp_syscall *sc = prof_rule(s, STRV("getppid"), OCI_SCMP_ACT_TRACE);
        sc->has_errno_ret = true;
        sc->errno_ret = 5;
        struct berth_seccomp_prog *p = compile_ok(s);
        assert_exit(run_under(p, do_getppid, NULL), ENOSYS);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_notify_round_trip)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getppid"), OCI_SCMP_ACT_NOTIFY);
        struct berth_seccomp_prog *p = compile_ok(s);
        ck_assert(berth_seccomp_needs_listener(p));
        ck_assert(berth_seccomp_prog_flags(p) & SECCOMP_FILTER_FLAG_NEW_LISTENER);

        int sp[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int lfd = -1;
                close(sp[0]);
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || berth_seccomp_load(p, &lfd) < 0)
                        child_exit(120);
                if (lfd < 0)
                        child_exit(121);
                char c = 'x';
                union {
                        struct cmsghdr h;
                        char buf[CMSG_SPACE(sizeof(int))];
                } u = {0};
                struct iovec iov = {.iov_base = &c, .iov_len = 1};
                struct msghdr mh = {.msg_iov = &iov,
                                    .msg_iovlen = 1,
                                    .msg_control = u.buf,
                                    .msg_controllen = sizeof(u.buf)};
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
                if (sendmsg(sp[1], &mh, 0) != 1)
                        child_exit(122);
                close(lfd);
                long r = syscall(SYS_getppid);
                child_exit(r == 4242 ? 0 : 123);
        }
        close(sp[1]);
        char c;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } u = {0};
        struct iovec iov = {.iov_base = &c, .iov_len = 1};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf)};
        ck_assert_int_eq(recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC), 1);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        ck_assert_ptr_nonnull(cm);
        int lfd;
        memcpy(&lfd, CMSG_DATA(cm), sizeof(int));
        close(sp[0]);

        struct seccomp_notif req;
        memset(&req, 0, sizeof(req));
        ck_assert_int_eq(ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &req), 0);
        ck_assert_int_eq(req.data.nr, SYS_getppid);
        ck_assert_int_eq(req.pid, pid);
        struct seccomp_notif_resp resp = {.id = req.id, .val = 4242, .error = 0, .flags = 0};
        ck_assert_int_eq(ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);
        close(lfd);

        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        assert_exit(st, 0);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_no_listener_without_notify)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getppid"), OCI_SCMP_ACT_ERRNO);
        struct berth_seccomp_prog *p = compile_ok(s);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int lfd = 1234;
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || berth_seccomp_load(p, &lfd) < 0)
                        child_exit(120);
                child_exit(lfd == -1 ? 0 : 121);
        }
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        assert_exit(st, 0);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_unknown_syscall_skipped)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("no_such_syscall_berth", "getppid", ""), OCI_SCMP_ACT_ERRNO);
        prof_rule(s, STRV("another_unknown_one"), OCI_SCMP_ACT_KILL_PROCESS);
        struct berth_seccomp_prog *p = compile_ok(s);
        assert_exit(run_under(p, do_getppid, NULL), EPERM);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_rule_equal_to_default_skipped)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getppid"), OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getcwd"), OCI_SCMP_ACT_ERRNO);
        struct berth_seccomp_prog *p = compile_ok(s);
        assert_exit(run_under(p, do_getppid, NULL), 0);
        assert_exit(run_under(p, do_getcwd, NULL), EPERM);
        berth_seccomp_prog_free(p);
        prof_free(s);

        /* ERRNO(EPERM) default, ERRNO(ENOSYS) rule: not equal, kept */
        s = prof_new(OCI_SCMP_ACT_ERRNO);
        prof_rule(s, STRV("exit_group", "exit"), OCI_SCMP_ACT_ALLOW);
        prof_rule_errno(s, STRV("getppid"), ENOSYS);
        prof_rule_errno(s, STRV("getcwd"), EPERM); /* equal: skipped */
        p = compile_ok(s);
        assert_exit(run_under(p, do_getppid, NULL), ENOSYS);
        assert_exit(run_under(p, do_getcwd, NULL), EPERM);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

START_TEST(test_architectures)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getcwd"), OCI_SCMP_ACT_ERRNO);
        struct berth_seccomp_prog *native = compile_ok(s);
#if defined(__x86_64__)
        s->architectures = STRV("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
        struct berth_seccomp_prog *multi = compile_ok(s);
        ck_assert_uint_gt(berth_seccomp_prog_len(multi), berth_seccomp_prog_len(native));
        assert_exit(run_under(multi, do_getcwd, NULL), EPERM);
        berth_seccomp_prog_free(multi);
        strv_free(s->architectures);
        s->architectures = STRV("SCMP_ARCH_X86", "SCMP_ARCH_PPC64");
        compile_fails(s, "linux.seccomp.architectures[1]: architecture 'SCMP_ARCH_PPC64' cannot "
                         "share a filter with the native one");
        strv_free(s->architectures);
#endif
        s->architectures = STRV("SCMP_ARCH_X86", "SCMP_ARCH_VAX");
        compile_fails(s, "linux.seccomp.architectures[1]: unknown architecture 'SCMP_ARCH_VAX'");
        strv_free(s->architectures);
        s->architectures = STRV("x86_64");
        compile_fails(s, "linux.seccomp.architectures[0]: unknown architecture 'x86_64'");
        berth_seccomp_prog_free(native);
        prof_free(s);
}
END_TEST

START_TEST(test_flags)
{
        struct berth_error *err = NULL;
        unsigned f = 0;
        char **flags = STRV("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                            "SECCOMP_FILTER_FLAG_TSYNC");
        ck_assert_int_eq(berth_seccomp_resolve_flags(flags, false, &f, &err), 0);
        ck_assert_uint_eq(f, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                                 SECCOMP_FILTER_FLAG_TSYNC);
        ck_assert_int_eq(berth_seccomp_resolve_flags(flags, true, &f, &err), 0);
        ck_assert_uint_eq(f, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                                 SECCOMP_FILTER_FLAG_NEW_LISTENER);
        strv_free(flags);

        /* every flag the kernel takes works at load time, with a listener too */
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        s->flags = STRV("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                        "SECCOMP_FILTER_FLAG_TSYNC");
        prof_rule(s, STRV("getcwd"), OCI_SCMP_ACT_ERRNO);
        struct berth_seccomp_prog *p = compile_ok(s);
        assert_exit(run_under(p, do_getcwd, NULL), EPERM);
        berth_seccomp_prog_free(p);
        prof_rule(s, STRV("getppid"), OCI_SCMP_ACT_NOTIFY);
        p = compile_ok(s);
        assert_exit(run_under(p, do_getcwd, NULL), EPERM);
        berth_seccomp_prog_free(p);

        strv_free(s->flags);
        s->flags = STRV("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS");
        compile_fails(s, "linux.seccomp.flags[1]: unknown flag 'SECCOMP_FILTER_FLAG_BOGUS'");
        strv_free(s->flags);
        s->flags = STRV("SECCOMP_FILTER_FLAG_NEW_LISTENER");
        compile_fails(s, "linux.seccomp.flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_NEW_LISTENER'");
        prof_free(s);
}
END_TEST

START_TEST(test_bad_profiles)
{
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule(s, STRV("getcwd"), OCI_SCMP_ACT_ERRNO);
        prof_rule(s, STRV("getppid"), (enum oci_seccomp_action)99);
        compile_fails(s, "linux.seccomp.syscalls[1]: unknown action 99");
        s->syscalls[1].action = OCI_SCMP_ACT_ERRNO;

        struct oci_seccomp_syscall *sc = prof_rule(s, STRV("getpid"), OCI_SCMP_ACT_ERRNO);
        rule_arg(sc, 0, OCI_SCMP_CMP_EQ, 1, 0);
        rule_arg(sc, 1, (enum oci_seccomp_op)42, 1, 0);
        compile_fails(s, "linux.seccomp.syscalls[2].args[1]: unknown operator 42");
        sc->args[1].op = OCI_SCMP_CMP_EQ;
        sc->args[1].index = 6;
        compile_fails(s, "linux.seccomp.syscalls[2].args[1]: index 6 out of range (0..5)");
        sc->args[1].index = 1;
        sc->has_errno_ret = true;
        sc->errno_ret = 70000;
        compile_fails(s, "linux.seccomp.syscalls[2]: errnoRet 70000 out of range");
        sc->has_errno_ret = false;

        s->default_action = OCI_SCMP_ACT_NOTIFY;
        compile_fails(s, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default");
        s->default_action = (enum oci_seccomp_action) - 3;
        compile_fails(s, "linux.seccomp.defaultAction: unknown action -3");
        s->default_action = OCI_SCMP_ACT_ALLOW;
        struct berth_seccomp_prog *p = compile_ok(s);
        berth_seccomp_prog_free(p);
        prof_free(s);
}
END_TEST

static Suite *seccomp_suite(void)
{
        Suite *s = suite_create("seccomp");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_errno_default_eperm_and_custom);
        tcase_add_test(tc, test_default_errno_ret);
        tcase_add_test(tc, test_personality_arg_filter);
        tcase_add_test(tc, test_args_and_or);
        tcase_add_test(tc, test_every_operator);
        tcase_add_test(tc, test_kill_actions);
        tcase_add_test(tc, test_trap);
        tcase_add_test(tc, test_log_and_allow_pass);
        tcase_add_test(tc, test_trace_without_tracer);
        tcase_add_test(tc, test_notify_round_trip);
        tcase_add_test(tc, test_no_listener_without_notify);
        tcase_add_test(tc, test_unknown_syscall_skipped);
        tcase_add_test(tc, test_rule_equal_to_default_skipped);
        tcase_add_test(tc, test_architectures);
        tcase_add_test(tc, test_flags);
        tcase_add_test(tc, test_bad_profiles);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(seccomp_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
