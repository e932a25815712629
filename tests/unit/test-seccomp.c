/*
 * test-seccomp.c — linux.seccomp must behave in a container as runc makes it
 * behave: blocked syscalls fail with the configured errno, argument filters
 * select exactly what they say, KILL/TRAP deliver SIGSYS, NOTIFY hands out a
 * working listener, and bad profiles fail with a message naming the field.
 *
 * Each behaviour test compiles a profile built by hand, forks, loads the
 * filter in the child (after no_new_privs) and lets the child report what
 * the syscall did through its exit status.  Docker's profile is resolved
 * from the embedded template and goes through oci_spec_parse() like a real
 * config.json; a child under it execs busybox.  Run as root (the suite is):
 * the CAP_SYS_ADMIN case expects unshare to succeed.  The cache tests work
 * in a temp dir made and removed by an unchecked fixture.
 */
#include <check.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "runtime/seccomp-profile.h"
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

static int do_syscall_nr(void *arg)
{
        return errno_code(syscall(*(long *)arg, CLONE_NEWNS, 0, 0, 0));
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

#if defined(__x86_64__)
/* An i386 syscall from a 64-bit process: seccomp sees AUDIT_ARCH_I386. */
static long int80(long nr, long a, long b, long c)
{
        long ret;
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
        return ret;
}

static int do_i386_getcwd(void *arg)
{
        static char buf[256];
        long r = int80(183 /* i386 getcwd */, (long)(uintptr_t)buf, sizeof(buf), 0);
        return r >= 0 ? 0 : (int)(-r > 119 ? 119 : -r);
}

static int do_i386_getpid(void *arg)
{
        long r = int80(20 /* i386 getpid */, 0, 0, 0);
        return r == getpid() ? 0 : 1;
}

static int do_i386_nr(void *arg)
{
        long r = int80(*(long *)arg, 0, 0, 0);
        return r >= 0 ? 0 : (int)(-r > 119 ? 119 : -r);
}

static int do_i386_unshare(void *arg)
{
        long r = int80(310 /* i386 unshare */, CLONE_NEWNS, 0, 0);
        return r >= 0 ? 0 : (int)(-r > 119 ? 119 : -r);
}
#endif

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

START_TEST(test_enosys_for_newer_syscalls)
{
        /* a deny-by-default profile: numbers above its highest name get ENOSYS */
        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ERRNO);
        prof_rule(s, STRV("exit_group", "exit", "getcwd"), OCI_SCMP_ACT_ALLOW);
        struct berth_seccomp_prog *p = compile_ok(s);
        long above = 1000;
        assert_exit(run_under(p, do_syscall_nr, &above), ENOSYS);
        assert_exit(run_under(p, do_getppid, NULL), EPERM); /* below: the default */
        berth_seccomp_prog_free(p);

        s->default_action = OCI_SCMP_ACT_KILL_PROCESS;
        p = compile_ok(s);
        assert_exit(run_under(p, do_syscall_nr, &above), ENOSYS);
        int st = run_under(p, do_getppid, NULL);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x", st);
        berth_seccomp_prog_free(p);

        /* a default that lets syscalls through gets no stub */
        s->default_action = OCI_SCMP_ACT_LOG;
        struct berth_seccomp_prog *log = compile_ok(s);
        s->default_action = OCI_SCMP_ACT_TRAP;
        p = compile_ok(s);
        ck_assert_uint_gt(berth_seccomp_prog_len(p), berth_seccomp_prog_len(log));
        berth_seccomp_prog_free(log);
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
        struct utsname un;
        ck_assert_int_eq(uname(&un), 0);
        if (atoi(un.release) >= 6) /* the kernel must take it with the listener */
                s->flags = STRV("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
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
        /* the i386 ABI is filtered too; without it, any i386 syscall kills */
        assert_exit(run_under(multi, do_i386_getcwd, NULL), EPERM);
        assert_exit(run_under(multi, do_i386_getpid, NULL), 0);
        int st = run_under(native, do_i386_getpid, NULL);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "status %#x", st);
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
        /* WAIT_KILLABLE_RECV (Linux 6.0) only with a listener */
        struct utsname u;
        unsigned kmaj = 0;
        ck_assert_int_eq(uname(&u), 0);
        sscanf(u.release, "%u", &kmaj);
        if (kmaj >= 6) {
                flags = STRV("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
                ck_assert_int_eq(berth_seccomp_resolve_flags(flags, true, &f, &err), 0);
                ck_assert_uint_eq(f, SECCOMP_FILTER_FLAG_NEW_LISTENER |
                                         SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
                ck_assert_int_eq(berth_seccomp_resolve_flags(flags, false, &f, &err), 0);
                ck_assert_uint_eq(f, 0);
                strv_free(flags);
        }
        /* absent: SPEC_ALLOW as runc; empty: nothing */
        ck_assert_int_eq(berth_seccomp_resolve_flags(NULL, false, &f, &err), 0);
        ck_assert_uint_eq(f, SECCOMP_FILTER_FLAG_SPEC_ALLOW);
        flags = xcalloc(1, sizeof(char *));
        ck_assert_int_eq(berth_seccomp_resolve_flags(flags, true, &f, &err), 0);
        ck_assert_uint_eq(f, SECCOMP_FILTER_FLAG_NEW_LISTENER);
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
        compile_fails(s, "linux.seccomp.syscalls[2].errnoRet: 70000 out of range (0..65535)");
        sc->action = OCI_SCMP_ACT_KILL_PROCESS;
        sc->errno_ret = EPERM;
        compile_fails(s,
                      "linux.seccomp.syscalls[2].errnoRet: SCMP_ACT_KILL_PROCESS takes no errno");
        sc->action = OCI_SCMP_ACT_ERRNO;
        s->has_default_errno_ret = true;
        s->default_errno_ret = EPERM;
        compile_fails(s, "linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW takes no errno");
        s->has_default_errno_ret = false;
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

/* ---- Docker profiles ---- */

/* dockerd's default capability set */
static const uint64_t docker_caps =
    (1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FSETID) | (1ull << CAP_FOWNER) |
    (1ull << CAP_MKNOD) | (1ull << CAP_NET_RAW) | (1ull << CAP_SETGID) | (1ull << CAP_SETUID) |
    (1ull << CAP_SETFCAP) | (1ull << CAP_SETPCAP) | (1ull << CAP_NET_BIND_SERVICE) |
    (1ull << CAP_SYS_CHROOT) | (1ull << CAP_KILL) | (1ull << CAP_AUDIT_WRITE);

static struct json *resolve_default(uint64_t caps, const char *arch, const char *kernel)
{
        struct berth_error *err = NULL;
        struct json *prof = NULL, *out = NULL;
        ck_assert_msg(seccomp_profile_default(&prof, &err) == 0, "%s", berth_error_msg(err));
        int r = seccomp_profile_resolve_for_kernel(prof, caps, arch, kernel, &out, &err);
        ck_assert_msg(r == 0, "resolve: %s", berth_error_msg(err));
        ck_assert_ptr_nonnull(out);
        json_free(prof);
        return out;
}

/* The resolved entries' names joined with the action, e.g. "clone3:SCMP_ACT_ERRNO". */
static bool has_rule(const struct json *sec, const char *name, const char *action, size_t nargs)
{
        struct json *list = json_get(sec, "syscalls");
        for (size_t i = 0; i < json_len(list); i++) {
                struct json *e = list->arr.items[i];
                if (strcmp(json_str(json_get(e, "action")), action) != 0 ||
                    json_len(json_get(e, "args")) != nargs)
                        continue;
                struct json *names = json_get(e, "names");
                for (size_t k = 0; k < json_len(names); k++)
                        if (strcmp(json_str(names->arr.items[k]), name) == 0)
                                return true;
        }
        return false;
}

static char *arches_of(const struct json *sec)
{
        struct json *a = json_get(sec, "architectures");
        char *out = xstrdup("");
        for (size_t i = 0; i < json_len(a); i++) {
                char *n = xasprintf("%s%s%s", out, i ? "," : "", json_str(a->arr.items[i]));
                free(out);
                out = n;
        }
        return out;
}

START_TEST(test_profile_default_resolution)
{
        struct json *sec = resolve_default(docker_caps, "amd64", "6.1.0-13-amd64");
        char *a = arches_of(sec);
        ck_assert_str_eq(a, "SCMP_ARCH_X86_64,SCMP_ARCH_X86,SCMP_ARCH_X32");
        free(a);
        ck_assert_str_eq(json_str(json_get(sec, "defaultAction")), "SCMP_ACT_ERRNO");
        ck_assert_int_eq(json_get(sec, "defaultErrnoRet")->num.i, 1);
        ck_assert_ptr_null(json_get(sec, "archMap"));
        /* no Docker-only keys survive */
        struct json *list = json_get(sec, "syscalls");
        for (size_t i = 0; i < json_len(list); i++) {
                struct json *e = list->arr.items[i];
                ck_assert_ptr_null(json_get(e, "includes"));
                ck_assert_ptr_null(json_get(e, "excludes"));
                ck_assert_ptr_null(json_get(e, "comment"));
                ck_assert_ptr_null(json_get(e, "name"));
        }
        ck_assert(has_rule(sec, "read", "SCMP_ACT_ALLOW", 0));
        ck_assert(has_rule(sec, "arch_prctl", "SCMP_ACT_ALLOW", 0)); /* amd64 only */
        ck_assert(!has_rule(sec, "s390_runtime_instr", "SCMP_ACT_ALLOW", 0));
        ck_assert(has_rule(sec, "clone", "SCMP_ACT_ALLOW", 1)); /* no CAP_SYS_ADMIN */
        ck_assert(!has_rule(sec, "clone", "SCMP_ACT_ALLOW", 0));
        ck_assert(has_rule(sec, "clone3", "SCMP_ACT_ERRNO", 0));
        ck_assert(!has_rule(sec, "unshare", "SCMP_ACT_ALLOW", 0));
        ck_assert(has_rule(sec, "chroot", "SCMP_ACT_ALLOW", 0)); /* CAP_SYS_CHROOT */
        ck_assert(!has_rule(sec, "reboot", "SCMP_ACT_ALLOW", 0));
        ck_assert(has_rule(sec, "ptrace", "SCMP_ACT_ALLOW", 0)); /* minKernel 4.8 <= 6.1 */
        json_free(sec);

        /* CAP_SYS_ADMIN: clone/unshare unrestricted, clone3 no longer ENOSYS */
        sec = resolve_default(docker_caps | (1ull << CAP_SYS_ADMIN), "x86_64", "6.1");
        ck_assert(has_rule(sec, "unshare", "SCMP_ACT_ALLOW", 0));
        ck_assert(has_rule(sec, "clone", "SCMP_ACT_ALLOW", 0));
        ck_assert(!has_rule(sec, "clone", "SCMP_ACT_ALLOW", 1));
        ck_assert(!has_rule(sec, "clone3", "SCMP_ACT_ERRNO", 0));
        json_free(sec);

        /* another architecture, an old kernel */
        sec = resolve_default(docker_caps, "arm64", "4.4.0");
        a = arches_of(sec);
        ck_assert_str_eq(a, "SCMP_ARCH_AARCH64,SCMP_ARCH_ARM");
        free(a);
        ck_assert(!has_rule(sec, "arch_prctl", "SCMP_ACT_ALLOW", 0));
        ck_assert(has_rule(sec, "cacheflush", "SCMP_ACT_ALLOW", 0));
        ck_assert(!has_rule(sec, "ptrace", "SCMP_ACT_ALLOW", 0)); /* minKernel 4.8 > 4.4 */
        json_free(sec);

        /* s390x: clone's flags are its second argument */
        sec = resolve_default(docker_caps, "s390x", "6.1");
        list = json_get(sec, "syscalls");
        bool found = false;
        for (size_t i = 0; i < json_len(list); i++) {
                struct json *e = list->arr.items[i];
                if (strcmp(json_str(json_get(e, "names")->arr.items[0]), "clone") == 0) {
                        struct json *arg = json_get(e, "args")->arr.items[0];
                        ck_assert_int_eq(json_get(arg, "index")->num.i, 1);
                        ck_assert_str_eq(json_str(json_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
                        found = true;
                }
        }
        ck_assert(found);
        json_free(sec);
}
END_TEST

static void resolve_fails(const char *profile, const char *want)
{
        struct berth_error *err = NULL;
        struct json *prof = NULL, *out = NULL;
        ck_assert_int_eq(json_parse(profile, strlen(profile), &prof, &err), 0);
        int r = seccomp_profile_resolve_for_kernel(prof, docker_caps, "amd64", "6.1", &out, &err);
        ck_assert_msg(r < 0, "'%s' should fail", profile);
        ck_assert_ptr_null(out);
        ck_assert_msg(strstr(berth_error_msg(err), want) != NULL, "got '%s', want '%s'",
                      berth_error_msg(err), want);
        berth_error_free(err);
        json_free(prof);
}

START_TEST(test_profile_user_files)
{
        struct berth_error *err = NULL;
        struct json *prof = NULL, *out = NULL;
        /* old "name" form, architectures, flags, listener keys, args kept */
        const char *in =
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86\"],"
            "\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],\"listenerPath\":\"/run/a.sock\","
            "\"syscalls\":[{\"name\":\"getcwd\",\"action\":\"SCMP_ACT_ERRNO\","
            "\"errnoRet\":38,\"comment\":\"x\"},{\"names\":[\"personality\"],"
            "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":"
            "18446744073709551615,\"valueTwo\":0,\"op\":\"SCMP_CMP_NE\"}],"
            "\"excludes\":{\"minKernel\":\"7.0\"}}]}";
        ck_assert_int_eq(json_parse(in, strlen(in), &prof, &err), 0);
        ck_assert_int_eq(seccomp_profile_resolve_for_kernel(prof, 0, "amd64", "6.1", &out, &err),
                         0);
        char *dump = json_dump(out, 0);
        ck_assert_str_eq(
            dump,
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86\"],"
            "\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],\"listenerPath\":\"/run/a.sock\","
            "\"syscalls\":[{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38},"
            "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,"
            "\"value\":18446744073709551615,\"valueTwo\":0,\"op\":\"SCMP_CMP_NE\"}]}]}");
        free(dump);
        json_free(out);
        /* excluded on a new enough kernel */
        ck_assert_int_eq(seccomp_profile_resolve_for_kernel(prof, 0, "amd64", "7.2", &out, &err),
                         0);
        ck_assert_uint_eq(json_len(json_get(out, "syscalls")), 1);
        json_free(out);
        json_free(prof);

        /* nothing to do: dockerd runs without seccomp */
        ck_assert_int_eq(json_parse("{}", 2, &prof, &err), 0);
        out = (struct json *)1;
        ck_assert_int_eq(seccomp_profile_resolve(prof, 0, NULL, &out, &err), 0);
        ck_assert_ptr_null(out);
        json_free(prof);

        resolve_fails("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"name\":\"a\","
                      "\"names\":[\"b\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
                      "seccomp profile: syscalls[0]: both 'name' and 'names' are given");
        resolve_fails("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86\"],"
                      "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\"}]}",
                      "seccomp profile: both 'architectures' and 'archMap' are given");
        resolve_fails(
            "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\"],"
            "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"b\"],\"action\":"
            "\"SCMP_ACT_ALLOW\",\"includes\":{\"minKernel\":\"4\"}}]}",
            "seccomp profile: syscalls[1].includes.minKernel: invalid kernel version '4'");
        resolve_fails("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\",1],"
                      "\"action\":\"SCMP_ACT_ALLOW\"}]}",
                      "seccomp profile: syscalls[0].names[1]: expected a string, got number");
        resolve_fails(
            "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\"],"
            "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":-1,\"value\":1,"
            "\"op\":\"SCMP_CMP_EQ\"}]}]}",
            "seccomp profile: syscalls[0].args[0].index: expected a non-negative integer");
        resolve_fails("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"a\"]}]}",
                      "seccomp profile: syscalls[0].action: expected a string");
        resolve_fails("[]", "seccomp profile: expected an object, got array");

        ck_assert_int_eq(json_parse("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}", 34, &prof, &err), 0);
        ck_assert_int_lt(seccomp_profile_resolve(prof, 0, "vax", &out, &err), 0);
        ck_assert_str_eq(berth_error_msg(err), "seccomp profile: unknown architecture 'vax'");
        berth_error_free(err);
        json_free(prof);
}
END_TEST

/* A config.json holding just this linux.seccomp, through the OCI parser. */
static int parse_spec_with(const struct json *sec, struct oci_spec **ret, struct berth_error **err)
{
        struct json *doc = json_new_object();
        json_set_str(doc, "ociVersion", "1.1.0");
        struct json *lin = json_object_set(doc, "linux", json_new_object());
        json_object_set(lin, "seccomp", json_copy(sec));
        char *text = json_dump(doc, 0);
        int r = oci_spec_parse(text, strlen(text), ret, err);
        free(text);
        json_free(doc);
        return r;
}

static struct berth_seccomp_prog *compile_docker_default(uint64_t caps)
{
        struct berth_error *err = NULL;
        struct json *prof = NULL, *sec = NULL;
        struct oci_spec *spec = NULL;
        ck_assert_int_eq(seccomp_profile_default(&prof, &err), 0);
        ck_assert_msg(seccomp_profile_resolve(prof, caps, NULL, &sec, &err) == 0, "%s",
                      berth_error_msg(err));
        ck_assert_msg(parse_spec_with(sec, &spec, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_ptr_nonnull(spec->linux_);
        struct berth_seccomp_prog *p = compile_ok(spec->linux_->seccomp);
        oci_spec_free(spec);
        json_free(sec);
        json_free(prof);
        return p;
}

START_TEST(test_config_json_errors_name_path)
{
        /* unknown names in config.json: the OCI parser reports them with their path */
        const char *bad[][2] = {
            {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],"
             "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"b\"],\"action\":\"SCMP_ACT_NOPE\"}]}",
             "linux.seccomp.syscalls[1].action"},
            {"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],"
             "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":"
             "\"SCMP_CMP_XX\"}]}]}",
             "linux.seccomp.syscalls[0].args[0].op"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct berth_error *err = NULL;
                struct json *sec = NULL;
                struct oci_spec *spec = NULL;
                ck_assert_int_eq(json_parse(bad[i][0], strlen(bad[i][0]), &sec, &err), 0);
                ck_assert_int_lt(parse_spec_with(sec, &spec, &err), 0);
                ck_assert_msg(strstr(berth_error_msg(err), bad[i][1]) != NULL, "got '%s'",
                              berth_error_msg(err));
                berth_error_free(err);
                json_free(sec);
        }
        /* names the parser keeps as strings are the compiler's to refuse */
        const char *arch = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":["
                           "\"SCMP_ARCH_X86\",\"SCMP_ARCH_Z80\"],\"flags\":[]}";
        struct berth_error *err = NULL;
        struct json *sec = NULL;
        struct oci_spec *spec = NULL;
        struct berth_seccomp_prog *p = NULL;
        ck_assert_int_eq(json_parse(arch, strlen(arch), &sec, &err), 0);
        ck_assert_msg(parse_spec_with(sec, &spec, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_int_lt(berth_seccomp_compile(spec->linux_->seccomp, &p, &err), 0);
        ck_assert_str_eq(berth_error_msg(err),
                         "linux.seccomp.architectures[1]: unknown architecture 'SCMP_ARCH_Z80'");
        berth_error_free(err);
        oci_spec_free(spec);
        json_free(sec);
}
END_TEST

static int do_exec_true(void *arg)
{
        char *const argv[] = {"busybox", "true", NULL};
        char *const envp[] = {"PATH=/bin", NULL};
        execve("/bin/busybox", argv, envp);
        return 100 + (errno > 19 ? 19 : errno);
}

static int do_exec_sh(void *arg)
{
        /* a shell that forks, pipes and waits, as container entrypoints do */
        char *const argv[] = {"busybox", "sh", "-c",
                              "echo hi | busybox cat >/dev/null && "
                              "busybox ls / >/dev/null && exit 7",
                              NULL};
        char *const envp[] = {"PATH=/bin", NULL};
        execve("/bin/busybox", argv, envp);
        return 100;
}

static int do_unshare(void *arg)
{
        return errno_code(syscall(SYS_unshare, CLONE_NEWNS));
}

static int do_keyctl(void *arg)
{
        return errno_code(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
}

static int do_clone3(void *arg)
{
        return errno_code(syscall(SYS_clone3, NULL, 0));
}

static int do_listmount(void *arg)
{
        return errno_code(syscall(458 /* listmount, Linux 6.8 */, NULL, NULL, 0, 0));
}

static int do_clone_newns(void *arg)
{
        return errno_code(syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0));
}

START_TEST(test_docker_default_in_container)
{
        if (access("/bin/busybox", X_OK) < 0)
                ck_abort_msg("/bin/busybox missing: install busybox-static (scripts/deps.sh)");
        struct berth_seccomp_prog *p = compile_docker_default(docker_caps);
        ck_assert_uint_lt(berth_seccomp_prog_len(p), 4096);
        assert_exit(run_under(p, do_exec_true, NULL), 0);
        assert_exit(run_under(p, do_exec_sh, NULL), 7);
        assert_exit(run_under(p, do_unshare, NULL), EPERM);
        assert_exit(run_under(p, do_keyctl, NULL), EPERM);
        assert_exit(run_under(p, do_clone3, NULL), ENOSYS); /* so libc falls back to clone */
        assert_exit(run_under(p, do_clone_newns, NULL), EPERM);
        /* allowed by the profile, newer than Debian 12's libseccomp knows */
        int st = run_under(p, do_listmount, NULL);
        ck_assert_msg(WIFEXITED(st) && (WEXITSTATUS(st) == EFAULT || WEXITSTATUS(st) == ENOSYS),
                      "listmount: status %#x", st);
        /* newer than anything the profile names: ENOSYS, so libc falls back */
        long nr = 1000;
        assert_exit(run_under(p, do_syscall_nr, &nr), ENOSYS);
#if defined(__x86_64__)
        assert_exit(run_under(p, do_i386_getpid, NULL), 0);
        assert_exit(run_under(p, do_i386_unshare, NULL), EPERM);
        long i386_new = 1000;
        assert_exit(run_under(p, do_i386_nr, &i386_new), ENOSYS);
        long i386_break = 17; /* an old i386 syscall the profile leaves out */
        assert_exit(run_under(p, do_i386_nr, &i386_break), EPERM);
        /* x32 numbers travel as x86_64 with bit 30: filtered as x32 */
        long x32_unshare = 0x40000000 | 272, x32_new = 0x40000000 | 1000;
        assert_exit(run_under(p, do_syscall_nr, &x32_unshare), EPERM);
        assert_exit(run_under(p, do_syscall_nr, &x32_new), ENOSYS);
#endif
        berth_seccomp_prog_free(p);

        /* with CAP_SYS_ADMIN in the bounding set, unshare is the kernel's call */
        p = compile_docker_default(docker_caps | (1ull << CAP_SYS_ADMIN));
        assert_exit(run_under(p, do_unshare, NULL), 0);
        assert_exit(run_under(p, do_keyctl, NULL), EPERM);
        berth_seccomp_prog_free(p);
}
END_TEST

/* ---- the compiled-program cache ---- */

/* Number of *.bpf files in dir; *ret_path gets the last one's path. */
static int bpf_files(const char *dir, char **ret_path)
{
        DIR *d = opendir(dir);
        int n = 0;
        if (!d)
                return 0;
        for (struct dirent *e; (e = readdir(d));) {
                size_t l = strlen(e->d_name);
                if (l > 4 && strcmp(e->d_name + l - 4, ".bpf") == 0) {
                        n++;
                        if (ret_path) {
                                free(*ret_path);
                                *ret_path = xasprintf("%s/%s", dir, e->d_name);
                        }
                }
        }
        closedir(d);
        return n;
}

static ino_t inode_of(const char *path)
{
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        return st.st_ino;
}

static struct berth_seccomp_prog *compile_cached_ok(const struct oci_seccomp *s, const char *dir)
{
        struct berth_error *err = NULL;
        struct berth_seccomp_prog *p = NULL;
        int r = berth_seccomp_compile_cached(s, dir, &p, &err);
        ck_assert_msg(r == 0, "compile: %s", berth_error_msg(err));
        return p;
}

static void assert_same_prog(const struct berth_seccomp_prog *a, const struct berth_seccomp_prog *b)
{
        ck_assert_uint_eq(berth_seccomp_prog_len(a), berth_seccomp_prog_len(b));
        ck_assert_int_eq(memcmp(berth_seccomp_prog_insns(a), berth_seccomp_prog_insns(b),
                                berth_seccomp_prog_len(a) * 8),
                         0);
        ck_assert_uint_eq(berth_seccomp_prog_flags(a), berth_seccomp_prog_flags(b));
}

/* Made and removed by the parent (an unchecked fixture), so a failing test
 * cannot leave it behind. */
static char cache_top[] = "/tmp/berth-test-seccomp-XXXXXX";

static void cache_setup(void)
{
        ck_assert_ptr_nonnull(mkdtemp(cache_top));
}

static void cache_teardown(void)
{
        rm_rf(cache_top);
}

START_TEST(test_cache)
{
        const char *top = cache_top;
        char *dir = xasprintf("%s/cache", top), *file = NULL;
        struct stat st;

        struct oci_seccomp *s = prof_new(OCI_SCMP_ACT_ALLOW);
        prof_rule_errno(s, STRV("getcwd"), ENOSYS);
        struct berth_seccomp_prog *ref = compile_ok(s);
        struct berth_seccomp_prog *p = compile_cached_ok(s, dir);
        assert_same_prog(ref, p);
        berth_seccomp_prog_free(p);
        ck_assert_int_eq(stat(dir, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0700);
        ck_assert_int_eq(bpf_files(dir, &file), 1);
        ino_t ino = inode_of(file);

        /* a hit: same program, the file is not rewritten */
        p = compile_cached_ok(s, dir);
        assert_same_prog(ref, p);
        ck_assert(inode_of(file) == ino);
        assert_exit(run_under(p, do_getcwd, NULL), ENOSYS);
        berth_seccomp_prog_free(p);

        /* a different errnoRet is a different program */
        s->syscalls[0].errno_ret = EACCES;
        p = compile_cached_ok(s, dir);
        assert_exit(run_under(p, do_getcwd, NULL), EACCES);
        berth_seccomp_prog_free(p);
        ck_assert_int_eq(bpf_files(dir, NULL), 2);
        s->syscalls[0].errno_ret = ENOSYS;

        /* a torn or tampered file is recompiled, not used */
        int fd = open(file, O_WRONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        off_t end = lseek(fd, 0, SEEK_END);
        ck_assert_int_eq(pwrite(fd, "\xff", 1, end - 3), 1);
        close(fd);
        p = compile_cached_ok(s, dir);
        assert_same_prog(ref, p);
        berth_seccomp_prog_free(p);
        ck_assert(inode_of(file) != ino);
        ino = inode_of(file);

        /* a file others may write is not trusted */
        ck_assert_int_eq(chmod(file, 0666), 0);
        p = compile_cached_ok(s, dir);
        assert_same_prog(ref, p);
        berth_seccomp_prog_free(p);
        ck_assert(inode_of(file) != ino);

        /* nor a directory others may write: no cache at all */
        char *d2 = xasprintf("%s/open", top);
        ck_assert_int_eq(mkdir(d2, 0777), 0);
        ck_assert_int_eq(chmod(d2, 0777), 0);
        p = compile_cached_ok(s, d2);
        assert_same_prog(ref, p);
        berth_seccomp_prog_free(p);
        ck_assert_int_eq(bpf_files(d2, NULL), 0);

        /* an impossible directory only costs the cache */
        p = compile_cached_ok(s, "/proc/berth-no-such/dir");
        assert_same_prog(ref, p);
        berth_seccomp_prog_free(p);

        berth_seccomp_prog_free(ref);
        prof_free(s);
        free(d2);
        free(dir);
        free(file);
}
END_TEST

START_TEST(test_send_listener)
{
        char *path = xasprintf("%s/agent.sock", cache_top);
        int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        ck_assert_int_ge(srv, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        ck_assert_int_eq(bind(srv, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(srv, 1), 0);

        int pipefd[2];
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        struct berth_error *err = NULL;
        struct json *state = NULL;
        const char *st = "{\"ociVersion\":\"1.1.0\",\"id\":\"c1\",\"status\":\"creating\","
                         "\"pid\":4242,\"bundle\":\"/b\"}";
        ck_assert_int_eq(json_parse(st, strlen(st), &state, &err), 0);
        int r = berth_seccomp_send_listener(path, pipefd[0], 4242, "MKNOD=/dev/null", state, &err);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));

        int c = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
        ck_assert_int_ge(c, 0);
        char buf[4096];
        union {
                struct cmsghdr h;
                char b[CMSG_SPACE(sizeof(int))];
        } u = {0};
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
        ssize_t n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
        ck_assert_int_gt(n, 0);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        ck_assert_ptr_nonnull(cm);
        ck_assert_int_eq(cm->cmsg_type, SCM_RIGHTS);
        int got;
        memcpy(&got, CMSG_DATA(cm), sizeof(int));
        struct stat a, b;
        ck_assert_int_eq(fstat(got, &a), 0);
        ck_assert_int_eq(fstat(pipefd[0], &b), 0);
        ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);

        struct json *msg = NULL;
        ck_assert_int_eq(json_parse(buf, (size_t)n, &msg, &err), 0);
        ck_assert_str_eq(json_str(json_get(msg, "ociVersion")), "1.1.0");
        ck_assert_str_eq(json_str(json_get(msg, "fds")->arr.items[0]), "seccompFd");
        ck_assert_int_eq(json_get(msg, "pid")->num.i, 4242);
        ck_assert_str_eq(json_str(json_get(msg, "metadata")), "MKNOD=/dev/null");
        ck_assert_str_eq(json_str(json_get(json_get(msg, "state"), "id")), "c1");
        json_free(msg);
        close(got);
        close(c);

        char *nope = xasprintf("%s/nope.sock", cache_top);
        ck_assert_int_lt(berth_seccomp_send_listener(nope, pipefd[0], 1, NULL, NULL, &err), 0);
        char *want = xasprintf("seccomp listener '%s': connect: no such file or directory", nope);
        ck_assert_str_eq(berth_error_msg(err), want);
        berth_error_free(err);
        free(want);
        free(nope);
        json_free(state);
        close(pipefd[0]);
        close(pipefd[1]);
        close(srv);
        free(path);
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
        tcase_add_test(tc, test_enosys_for_newer_syscalls);
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
        tcase_add_test(tc, test_profile_default_resolution);
        tcase_add_test(tc, test_profile_user_files);
        tcase_add_test(tc, test_docker_default_in_container);
        tcase_add_test(tc, test_config_json_errors_name_path);
        suite_add_tcase(s, tc);
        tc = tcase_create("cache");
        tcase_set_timeout(tc, 60);
        tcase_add_unchecked_fixture(tc, cache_setup, cache_teardown);
        tcase_add_test(tc, test_cache);
        tcase_add_test(tc, test_send_listener);
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
