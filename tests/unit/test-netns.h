/*
 * test-netns.h — what the src/net unit tests share: a network namespace of
 * their own (made by a thread that unshares CLONE_NEWNET and keeps
 * /proc/thread-self/ns/net open, so the test's own threads never change
 * namespace), and an IPv4 socket living inside one.
 *
 * Also: a net_link handle in a namespace, a CIDR parsed, and OK(call) — a call
 * that must succeed, failing the case with its error message.
 *
 * Include after check-tap.h (the helpers assert with ck_assert*).
 */
#ifndef BERTH_TEST_NETNS_H
#define BERTH_TEST_NETNS_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "net/ipam.h"
#include "net/link.h"

struct test_ns_thread {
        int fd, error;
};

static inline void *test_unshare_thread(void *p)
{
        struct test_ns_thread *t = p;
        if (unshare(CLONE_NEWNET) < 0) {
                t->error = errno;
                return NULL;
        }
        t->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (t->fd < 0)
                t->error = errno;
        return NULL;
}

/* A new network namespace (lo down), held by the returned fd alone. */
static inline int test_netns_new(void)
{
        struct test_ns_thread t = {.fd = -1};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, test_unshare_thread, &t), 0);
        pthread_join(th, NULL);
        ck_assert_msg(t.fd >= 0, "new network namespace: %s", strerror(t.error));
        return t.fd;
}

struct test_sock_thread {
        int netns_fd, type, fd;
};

static inline void *test_socket_thread(void *p)
{
        struct test_sock_thread *t = p;
        if (setns(t->netns_fd, CLONE_NEWNET) == 0)
                t->fd = socket(AF_INET, t->type | SOCK_CLOEXEC, 0);
        return NULL;
}

/* An IPv4 socket of type (SOCK_NONBLOCK may be or'ed in) living in the namespace netns_fd. */
static inline int test_socket_in(int netns_fd, int type)
{
        struct test_sock_thread t = {.netns_fd = netns_fd, .type = type, .fd = -1};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, test_socket_thread, &t), 0);
        pthread_join(th, NULL);
        ck_assert_int_ge(t.fd, 0);
        return t.fd;
}

/* An rtnetlink handle inside the namespace netns_fd (< 0: the caller's). */
static inline struct net_link *test_link_in(int netns_fd)
{
        struct net_link *nl = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_msg(net_link_open(netns_fd, &nl, &e) == 0, "%s", berth_error_msg(e));
        return nl;
}

static inline struct net_addr test_cidr(const char *s)
{
        struct net_addr a;
        ck_assert_int_eq(ipam_parse_cidr(s, &a, NULL), 0);
        return a;
}

/* Run a call that must succeed (it sees `err`), failing the case with its message. */
#define OK(call)                                                                                   \
        do {                                                                                       \
                _cleanup_error_ struct berth_error *e_ = NULL;                                     \
                struct berth_error **err = &e_;                                                    \
                int r_ = (call);                                                                   \
                ck_assert_msg(r_ == 0, "%s: %s", #call, berth_error_msg(e_));                      \
        } while (0)

#endif
