/*
 * test-net-firewall.c — src/net/firewall.c against the real kernel: the table's
 * life (open, reopen replacing stale rules, close removing it), then real
 * traffic through a small network of namespaces, then coexistence with an
 * iptables-nft FORWARD policy DROP as dockerd leaves it.
 *
 * Where: every case makes its own network namespaces (a thread unshares
 * CLONE_NEWNET and keeps the fd), nothing is created in the namespace the test
 * started in, and the forked case process takes its namespaces with it when it
 * ends, pass or fail.  The traffic topology:
 *
 *   outside (10.99.0.2) ── vo0/eth0 ── host (10.99.0.1; bf0 10.77.0.1/24; bf1 10.78.0.1/24)
 *   c1 (10.77.0.2), c2 (10.77.0.3) on bf0;  c3 (10.78.0.2) on bf1
 *
 * Sockets are made inside a namespace by a short thread (a socket stays in the
 * namespace it was made in), then used from the case's own thread.  nft(8)
 * and iptables-nft are run only to read what the library did, with nsenter
 * into the case's namespace, never in the starting one.
 *
 * Never: touch the starting namespace beyond reading its table list, or send
 * traffic anywhere but between the test's own namespaces.  Timing lines are
 * printed for the record (stderr), never asserted.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "check-tap.h"
#include "test-netns.h"
#include "net/firewall.h"
#include "net/ipam.h"
#include "net/link.h"

/* A blocked attempt waits this long: drops give no answer. */
#define WAIT_MS 600

/* A non-blocking IPv4 socket of type living in the namespace netns_fd. */
static int socket_in(int netns_fd, int type)
{
        return test_socket_in(netns_fd, type | SOCK_NONBLOCK);
}

struct sysctl_thread {
        int netns_fd;
        const char *path, *value;
        int error;
};

static void *sysctl_thread(void *p)
{
        struct sysctl_thread *t = p;
        if (setns(t->netns_fd, CLONE_NEWNET) < 0) {
                t->error = errno;
                return NULL;
        }
        /* /proc/sys/net is the namespace of whoever opens it */
        int fd = open(t->path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, t->value, strlen(t->value)) < 0)
                t->error = errno;
        if (fd >= 0)
                close(fd);
        return NULL;
}

static void sysctl_in(int netns_fd, const char *path, const char *value)
{
        struct sysctl_thread t = {.netns_fd = netns_fd, .path = path, .value = value};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, sysctl_thread, &t), 0);
        pthread_join(th, NULL);
        ck_assert_msg(t.error == 0, "%s = %s: %s", path, value, strerror(t.error));
}

static struct net_addr addr(const char *s)
{
        struct net_addr a;
        ck_assert_int_eq(ipam_parse_addr(s, &a, NULL), 0);
        return a;
}

/* A call that must fail with -code and a message starting with msg. */
#define FAILS(call, code, msg)                                                                     \
        do {                                                                                       \
                _cleanup_error_ struct berth_error *e_ = NULL;                                     \
                struct berth_error **err = &e_;                                                    \
                int r_ = (call);                                                                   \
                const char *m_ = berth_error_msg(e_), *w_ = (msg);                                 \
                ck_assert_msg(r_ == -(code) && strncmp(m_, w_, strlen(w_)) == 0,                   \
                              "got %d \"%s\", want %d \"%s...\"", r_, m_, -(code), w_);            \
                ck_assert_msg(strchr(m_, '\n') == NULL, "more than one line: %s", m_);             \
        } while (0)

/* stdout+stderr of a shell command run inside netns_fd (nsenter); *status its exit status. */
static char *run_in(int netns_fd, const char *args, int *status)
{
        _cleanup_free_ char *c =
            xasprintf("nsenter --net=/proc/%d/fd/%d %s 2>&1", getpid(), netns_fd, args);
        FILE *p = popen(c, "re");
        ck_assert_msg(p != NULL, "%s: %s", c, strerror(errno));
        struct berth_buf b = BERTH_BUF_INIT;
        char chunk[4096];
        for (size_t k; (k = fread(chunk, 1, sizeof(chunk), p)) > 0;)
                buf_append(&b, chunk, k);
        buf_putc(&b, '\0');
        *status = pclose(p);
        return buf_steal(&b);
}

/* Output of a command that must succeed. */
static char *must_run_in(int netns_fd, const char *args)
{
        int st;
        char *out = run_in(netns_fd, args, &st);
        ck_assert_msg(st == 0, "%s: exit status %d: %s", args, st, out);
        return out;
}

static char table[32];

static void random_table(void)
{
        uint16_t r;
        ck_assert_int_eq(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
        snprintf(table, sizeof(table), "berth-test-%04x", r);
}

static struct net_fw *fw_open(int ns)
{
        struct net_fw *fw = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_msg(net_fw_open(ns, table, &fw, &e) == 0, "open: %s", berth_error_msg(e));
        return fw;
}

static double now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* The starting namespace has no table of ours (read only). */
static void assert_start_ns_clean(void)
{
        FILE *p = popen("nft list tables 2>&1", "re");
        ck_assert(p != NULL);
        char line[256];
        while (fgets(line, sizeof(line), p))
                ck_assert_msg(strstr(line, table) == NULL, "leaked into the starting namespace: %s",
                              line);
        pclose(p);
}

START_TEST(test_table_open_reopen_close)
{
        random_table();
        int ns = test_netns_new();
        struct net_fw *fw = fw_open(ns);
        _cleanup_free_ char *list = xasprintf("nft list table inet %s", table);
        _cleanup_free_ char *out = must_run_in(ns, list);
        ck_assert_msg(strstr(out, "hook prerouting priority dstnat") &&
                          strstr(out, "hook postrouting priority srcnat") &&
                          strstr(out, "hook output priority -100") &&
                          strstr(out, "hook forward priority filter"),
                      "base chains missing: %s", out);

        /* state a killed daemon left: a stray rule, a network, a tagged iptables rule */
        struct net_addr sub = test_cidr("10.77.0.0/24");
        struct net_fw_network n = {
            .bridge = "bf0", .subnets = &sub, .n_subnets = 1, .masquerade = true, .icc = true};
        OK(net_fw_network_add(fw, &n, err));
        struct net_fw_port p = {.proto = IPPROTO_TCP,
                                .host_port = 8080,
                                .ctr_ip = addr("10.77.0.2"),
                                .ctr_port = 80,
                                .bridge = "bf0"};
        OK(net_fw_port_add(fw, &p, err));
        _cleanup_free_ char *stray =
            xasprintf("nft add rule inet %s forward counter comment stray", table);
        free(must_run_in(ns, stray));
        free(must_run_in(ns, "iptables-nft -P FORWARD DROP"));
        /* tagged as berth tags them (iptables-nft's own -m comment is an xt match) */
        _cleanup_free_ char *tagged = xasprintf("nft insert rule ip filter FORWARD iifname bf9 "
                                                "counter accept comment '\"berth:%s:bf9\"'",
                                                table);
        free(must_run_in(ns, tagged));
        free(must_run_in(ns, "iptables-nft -A FORWARD -i other -j ACCEPT"));
        OK(net_fw_close(fw, false, err)); /* no remove: everything stays */
        free(out);
        out = must_run_in(ns, list);
        ck_assert_msg(strstr(out, "stray") && strstr(out, "bf0"), "close(false) removed: %s", out);

        /* reopen replaces the table whole and drops our stale iptables rule only */
        fw = fw_open(ns);
        free(out);
        out = must_run_in(ns, list);
        ck_assert_msg(!strstr(out, "stray") && !strstr(out, "bf0") && !strstr(out, "8080"),
                      "stale rules survived the reopen: %s", out);
        free(out);
        out = must_run_in(ns, "iptables-nft -S FORWARD");
        ck_assert_msg(!strstr(out, "bf9") && strstr(out, "-A FORWARD -i other -j ACCEPT") &&
                          strstr(out, "-P FORWARD DROP"),
                      "iptables after reopen: %s", out);

        /* errors: one line naming the port or the network, with libnftables' words */
        FAILS(net_fw_port_del(fw, &p, err), ENOENT,
              "nftables: delete port 8080/tcp -> 10.77.0.2:80: ");
        struct net_fw_port p6 = p;
        p6.host_ip = addr("::1");
        FAILS(net_fw_port_add(fw, &p6, err), EAFNOSUPPORT,
              "nftables: add port [::1]:8080/tcp -> 10.77.0.2:80: host and container");
        struct net_fw_port icmp = p;
        icmp.proto = IPPROTO_ICMP;
        FAILS(net_fw_port_add(fw, &icmp, err), EPROTONOSUPPORT,
              "nftables: add port 8080/proto-1 -> 10.77.0.2:80: only tcp, udp and sctp");
        struct net_fw_network bad = n;
        bad.bridge = "bf0\" accept";
        FAILS(net_fw_network_add(fw, &bad, err), EINVAL, "nftables: bridge 'bf0\" accept': only");
        FAILS(net_fw_network_del(fw, "bf7", err), ENOENT, "nftables: delete network 'bf7'");
        OK(net_fw_port_add(fw, &p, err));
        /* the same key again with another container: the kernel's words */
        struct net_fw_port p2 = p;
        p2.ctr_ip = addr("10.77.0.3");
        FAILS(net_fw_port_add(fw, &p2, err), EEXIST,
              "nftables: add port 8080/tcp -> 10.77.0.3:80: Could not process rule: File exists");

        /* close(remove): both tables gone */
        OK(net_fw_close(fw, true, err));
        free(out);
        out = must_run_in(ns, "nft list tables");
        ck_assert_msg(!strstr(out, table), "table left after close(remove): %s", out);
        assert_start_ns_clean();
        close(ns);
}
END_TEST

/* ---- traffic ------------------------------------------------------------- */

struct topo {
        int host, out, c1, c2, c3;
};

static void veth_ctr(struct net_link *h, int ns, const char *host_end, const char *bridge,
                     const char *ip, const char *gw)
{
        _cleanup_net_link_ struct net_link *c = test_link_in(ns);
        OK(net_link_veth_add(h, host_end, "eth0", ns, 0, err));
        OK(net_link_set_master(h, host_end, bridge, err));
        OK(net_link_set_up(h, host_end, true, err));
        struct net_addr a = test_cidr(ip), g = addr(gw);
        OK(net_link_addr_add(c, "eth0", &a, 0, err));
        OK(net_link_set_up(c, "eth0", true, err));
        OK(net_link_set_up(c, "lo", true, err));
        OK(net_link_route_add_default(c, "eth0", &g, err));
}

static void topo_up(struct topo *t)
{
        t->host = test_netns_new();
        t->out = test_netns_new();
        t->c1 = test_netns_new();
        t->c2 = test_netns_new();
        t->c3 = test_netns_new();
        _cleanup_net_link_ struct net_link *h = test_link_in(t->host);
        OK(net_link_set_up(h, "lo", true, err));
        static const char *const brs[][2] = {{"bf0", "10.77.0.1/24"}, {"bf1", "10.78.0.1/24"}};
        for (size_t i = 0; i < 2; i++) {
                OK(net_link_bridge_add(h, brs[i][0], 0, err));
                struct net_addr a = test_cidr(brs[i][1]);
                OK(net_link_addr_add(h, brs[i][0], &a, 0, err));
                OK(net_link_set_up(h, brs[i][0], true, err));
        }
        veth_ctr(h, t->c1, "vc1", "bf0", "10.77.0.2/24", "10.77.0.1");
        veth_ctr(h, t->c2, "vc2", "bf0", "10.77.0.3/24", "10.77.0.1");
        veth_ctr(h, t->c3, "vc3", "bf1", "10.78.0.2/24", "10.78.0.1");
        /* outside: one hop away, no route to the bridges' subnets */
        _cleanup_net_link_ struct net_link *o = test_link_in(t->out);
        OK(net_link_veth_add(h, "vo0", "eth0", t->out, 0, err));
        struct net_addr ha = test_cidr("10.99.0.1/24"), oa = test_cidr("10.99.0.2/24");
        OK(net_link_addr_add(h, "vo0", &ha, 0, err));
        OK(net_link_set_up(h, "vo0", true, err));
        OK(net_link_addr_add(o, "eth0", &oa, 0, err));
        OK(net_link_set_up(o, "eth0", true, err));
        OK(net_link_set_up(o, "lo", true, err));
        /* a route back through the host, so that only the firewall decides */
        struct net_addr hg = addr("10.99.0.1");
        OK(net_link_route_add_default(o, "eth0", &hg, err));
        sysctl_in(t->host, "/proc/sys/net/ipv4/ip_forward", "1");
        /* the caller's part for 127.0.0.1 to a published port (firewall.h) */
        sysctl_in(t->host, "/proc/sys/net/ipv4/conf/bf0/route_localnet", "1");
        /*
         * and for a container reaching its own published port: with br_netfilter
         * the DNATed frame is bridged back out of the port it came in on
         */
        free(must_run_in(t->host, "ip link set vc1 type bridge_slave hairpin on"));
}

static void topo_down(struct topo *t)
{
        close(t->host);
        close(t->out);
        close(t->c1);
        close(t->c2);
        close(t->c3);
}

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        ck_assert_int_eq(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
        return sa;
}

static int listener(int ns, int type, uint16_t port)
{
        int fd = socket_in(ns, type);
        int one = 1;
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        if (type == SOCK_STREAM)
                ck_assert_int_eq(listen(fd, 16), 0);
        return fd;
}

static bool wait_fd(int fd, short ev)
{
        struct pollfd p = {.fd = fd, .events = ev};
        return poll(&p, 1, WAIT_MS) == 1;
}

enum reach { REACHED, REFUSED, TIMEOUT, ELSEWHERE };
static const char *const reach_names[] = {"reached", "refused", "timed out", "went elsewhere"};

/*
 * TCP from namespace ns to ip:port.  REACHED when the listener lfd accepted
 * it (the address it saw in peer), REFUSED on a reset, TIMEOUT when nothing
 * answered, ELSEWHERE when it connected but not to lfd.
 */
static enum reach tcp_try(int ns, const char *ip, uint16_t port, int lfd,
                          char peer[INET_ADDRSTRLEN])
{
        _cleanup_close_ int c = socket_in(ns, SOCK_STREAM);
        struct sockaddr_in sa = sin_of(ip, port);
        if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
                return errno == ECONNREFUSED ? REFUSED : TIMEOUT;
        if (!wait_fd(c, POLLOUT))
                return TIMEOUT;
        int e = 0;
        socklen_t el = sizeof(e);
        ck_assert_int_eq(getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el), 0);
        if (e)
                return e == ECONNREFUSED ? REFUSED : TIMEOUT;
        if (!wait_fd(lfd, POLLIN))
                return ELSEWHERE;
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        _cleanup_close_ int a = accept4(lfd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
        ck_assert_int_ge(a, 0);
        inet_ntop(AF_INET, &from.sin_addr, peer, INET_ADDRSTRLEN);
        return REACHED;
}

/* A UDP datagram from ns to ip:port, to the bound socket ufd, and its answer back. */
static enum reach udp_try(int ns, const char *ip, uint16_t port, int ufd,
                          char peer[INET_ADDRSTRLEN])
{
        _cleanup_close_ int c = socket_in(ns, SOCK_DGRAM);
        struct sockaddr_in sa = sin_of(ip, port);
        ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(send(c, "ping", 4, 0), 4);
        if (!wait_fd(ufd, POLLIN)) {
                char x[8];
                return wait_fd(c, POLLIN) && recv(c, x, sizeof(x), 0) < 0 && errno == ECONNREFUSED
                           ? REFUSED
                           : TIMEOUT;
        }
        char got[8] = {0};
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ck_assert_int_eq(recvfrom(ufd, got, sizeof(got), 0, (struct sockaddr *)&from, &fl), 4);
        inet_ntop(AF_INET, &from.sin_addr, peer, INET_ADDRSTRLEN);
        ck_assert_int_eq(sendto(ufd, "pong", 4, 0, (struct sockaddr *)&from, fl), 4);
        if (!wait_fd(c, POLLIN))
                return ELSEWHERE; /* the answer did not find its way back */
        ck_assert_int_eq(recv(c, got, sizeof(got), 0), 4);
        ck_assert(memcmp(got, "pong", 4) == 0);
        return REACHED;
}

#define REACH(want, call, want_peer)                                                               \
        do {                                                                                       \
                char peer_[INET_ADDRSTRLEN] = "";                                                  \
                enum reach got_ = (call);                                                          \
                ck_assert_msg(got_ == (want), "%s: %s, want %s", #call, reach_names[got_],         \
                              reach_names[want]);                                                  \
                const char *wp_ = (want_peer);                                                     \
                if (wp_)                                                                           \
                        ck_assert_msg(strcmp(peer_, wp_) == 0, "%s: peer %s, want %s", #call,      \
                                      peer_, wp_);                                                 \
        } while (0)
#define PEER peer_

static struct net_fw_network net_of(const char *bridge, struct net_addr *sub, bool icc,
                                    bool internal)
{
        return (struct net_fw_network){.bridge = bridge,
                                       .subnets = sub,
                                       .n_subnets = 1,
                                       .masquerade = true,
                                       .icc = icc,
                                       .internal = internal};
}

static void check_traffic(struct topo *t, struct net_fw *fw)
{
        _cleanup_close_ int t1 = listener(t->c1, SOCK_STREAM, 80);
        _cleanup_close_ int t2 = listener(t->c2, SOCK_STREAM, 80);
        _cleanup_close_ int u1 = listener(t->c1, SOCK_DGRAM, 53);
        _cleanup_close_ int to = listener(t->out, SOCK_STREAM, 7000);
        _cleanup_close_ int t3 = listener(t->c3, SOCK_STREAM, 80);

        struct net_fw_port tcp = {.proto = IPPROTO_TCP,
                                  .host_port = 8080,
                                  .ctr_ip = addr("10.77.0.2"),
                                  .ctr_port = 80,
                                  .bridge = "bf0"};
        struct net_fw_port udp = {.proto = IPPROTO_UDP,
                                  .host_port = 5353,
                                  .ctr_ip = addr("10.77.0.2"),
                                  .ctr_port = 53,
                                  .bridge = "bf0"};
        struct net_fw_port one = {.proto = IPPROTO_TCP,
                                  .host_ip = addr("10.99.0.1"),
                                  .host_port = 9090,
                                  .ctr_ip = addr("10.77.0.3"),
                                  .ctr_port = 80,
                                  .bridge = "bf0"};
        OK(net_fw_port_add(fw, &tcp, err));
        OK(net_fw_port_add(fw, &udp, err));
        OK(net_fw_port_add(fw, &one, err));

        /* masquerade: the outside sees the host's address */
        REACH(REACHED, tcp_try(t->c1, "10.99.0.2", 7000, to, PEER), "10.99.0.1");
        REACH(REACHED, tcp_try(t->c3, "10.99.0.2", 7000, to, PEER), "10.99.0.1");
        /* published ports from outside (no SNAT: the container sees the client) */
        REACH(REACHED, tcp_try(t->out, "10.99.0.1", 8080, t1, PEER), "10.99.0.2");
        REACH(REACHED, udp_try(t->out, "10.99.0.1", 5353, u1, PEER), "10.99.0.2");
        REACH(REACHED, tcp_try(t->out, "10.99.0.1", 9090, t2, PEER), "10.99.0.2");
        /* from the host: loopback (masqueraded to the bridge's address) and its own address */
        REACH(REACHED, tcp_try(t->host, "127.0.0.1", 8080, t1, PEER), "10.77.0.1");
        REACH(REACHED, udp_try(t->host, "127.0.0.1", 5353, u1, PEER), "10.77.0.1");
        REACH(REACHED, tcp_try(t->host, "10.99.0.1", 8080, t1, PEER), "10.99.0.1");
        /* a port bound to one host address is not on the others */
        REACH(REFUSED, tcp_try(t->host, "10.77.0.1", 9090, t2, PEER), NULL);
        /* hairpin: to its own published port and to a neighbour's, via a host address */
        REACH(REACHED, tcp_try(t->c1, "10.99.0.1", 8080, t1, PEER), "10.77.0.1");
        REACH(REACHED, tcp_try(t->c2, "10.99.0.1", 8080, t1, PEER), "10.77.0.1");
        REACH(REACHED, udp_try(t->c2, "10.77.0.1", 5353, u1, PEER), "10.77.0.1");
        REACH(REACHED, tcp_try(t->c1, "10.99.0.1", 9090, t2, PEER), "10.77.0.1");
        /* icc (on): container to container directly */
        REACH(REACHED, tcp_try(t->c1, "10.77.0.3", 80, t2, PEER), "10.77.0.2");
        /* the outside cannot open connections to a container without a published port */
        REACH(TIMEOUT, tcp_try(t->out, "10.77.0.2", 80, t1, PEER), NULL);
        /* isolation between the two bridges, both ways */
        REACH(TIMEOUT, tcp_try(t->c1, "10.78.0.2", 80, t3, PEER), NULL);
        REACH(TIMEOUT, tcp_try(t->c3, "10.77.0.2", 80, t1, PEER), NULL);

        /* port_del really removes reachability */
        OK(net_fw_port_del(fw, &tcp, err));
        OK(net_fw_port_del(fw, &udp, err));
        REACH(REFUSED, tcp_try(t->out, "10.99.0.1", 8080, t1, PEER), NULL);
        REACH(REFUSED, tcp_try(t->host, "127.0.0.1", 8080, t1, PEER), NULL);
        REACH(REFUSED, udp_try(t->out, "10.99.0.1", 5353, u1, PEER), NULL);
        REACH(REACHED, tcp_try(t->out, "10.99.0.1", 9090, t2, PEER), "10.99.0.2");

        /* icc off (bf0 added again): direct traffic dropped, published ports still work */
        struct net_addr s0 = test_cidr("10.77.0.0/24"), s1 = test_cidr("10.78.0.0/24");
        struct net_fw_network n0 = net_of("bf0", &s0, false, false);
        OK(net_fw_network_add(fw, &n0, err));
        REACH(TIMEOUT, tcp_try(t->c1, "10.77.0.3", 80, t2, PEER), NULL);
        REACH(REACHED, tcp_try(t->c1, "10.99.0.1", 9090, t2, PEER), "10.77.0.1");
        REACH(REACHED, tcp_try(t->out, "10.99.0.1", 9090, t2, PEER), "10.99.0.2");
        REACH(REACHED, tcp_try(t->c1, "10.99.0.2", 7000, to, PEER), "10.99.0.1");

        /* internal bf1: nothing in or out of the bridge */
        struct net_fw_network n1 = net_of("bf1", &s1, true, true);
        OK(net_fw_network_add(fw, &n1, err));
        REACH(TIMEOUT, tcp_try(t->c3, "10.99.0.2", 7000, to, PEER), NULL);
        REACH(TIMEOUT, tcp_try(t->c1, "10.78.0.2", 80, t3, PEER), NULL);
        REACH(REACHED, tcp_try(t->c1, "10.99.0.2", 7000, to, PEER), "10.99.0.1");
        OK(net_fw_port_del(fw, &one, err));
}

/*
 * br_netfilter on (bridged IPv4 through the inet hooks, as dockerd leaves a
 * host) or off (bridged frames only through the bridge family): icc=false and
 * hairpin take different paths in each.
 */
static void traffic(bool br_netfilter)
{
        random_table();
        struct topo t;
        topo_up(&t);
        sysctl_in(t.host, "/proc/sys/net/bridge/bridge-nf-call-iptables", br_netfilter ? "1" : "0");
        sysctl_in(t.host, "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
                  br_netfilter ? "1" : "0");
        struct net_fw *fw = fw_open(t.host);
        struct net_addr s0 = test_cidr("10.77.0.0/24"), s1 = test_cidr("10.78.0.0/24");
        struct net_fw_network n0 = net_of("bf0", &s0, true, false);
        struct net_fw_network n1 = net_of("bf1", &s1, true, false);
        OK(net_fw_network_add(fw, &n0, err));
        OK(net_fw_network_add(fw, &n1, err));
        check_traffic(&t, fw);

        /* network_del leaves no trace of the network */
        OK(net_fw_network_del(fw, "bf0", err));
        OK(net_fw_network_del(fw, "bf1", err));
        _cleanup_free_ char *list = xasprintf("nft list ruleset");
        _cleanup_free_ char *out = must_run_in(t.host, list);
        ck_assert_msg(!strstr(out, "bf0") && !strstr(out, "bf1") && !strstr(out, "10.77.") &&
                          !strstr(out, "10.78."),
                      "left after network_del: %s", out);
        OK(net_fw_close(fw, true, err));
        assert_start_ns_clean();
        topo_down(&t);
}

START_TEST(test_traffic)
{
        traffic(true);
}
END_TEST

START_TEST(test_traffic_without_br_netfilter)
{
        traffic(false);
}
END_TEST

/* ---- iptables-nft's FORWARD policy DROP ---------------------------------- */

static void coexist(bool docker_user)
{
        random_table();
        struct topo t;
        topo_up(&t);
        free(must_run_in(t.host, "iptables-nft -P FORWARD DROP"));
        if (docker_user) {
                free(must_run_in(t.host, "iptables-nft -N DOCKER-USER"));
                free(must_run_in(t.host, "iptables-nft -A FORWARD -j DOCKER-USER"));
                free(must_run_in(t.host, "iptables-nft -A DOCKER-USER -j RETURN"));
        }
        _cleanup_close_ int t1 = listener(t.c1, SOCK_STREAM, 80);
        _cleanup_close_ int t2 = listener(t.c2, SOCK_STREAM, 80);
        _cleanup_close_ int to = listener(t.out, SOCK_STREAM, 7000);

        /* control: without berth's accepts, the DROP policy stops forwarding */
        struct net_fw *fw = fw_open(t.host);
        REACH(TIMEOUT, tcp_try(t.c1, "10.99.0.2", 7000, to, PEER), NULL);

        struct net_addr s0 = test_cidr("10.77.0.0/24");
        struct net_fw_network n0 = net_of("bf0", &s0, true, false);
        OK(net_fw_network_add(fw, &n0, err));
        struct net_fw_port tcp = {.proto = IPPROTO_TCP,
                                  .host_port = 8080,
                                  .ctr_ip = addr("10.77.0.2"),
                                  .ctr_port = 80,
                                  .bridge = "bf0"};
        OK(net_fw_port_add(fw, &tcp, err));
        REACH(REACHED, tcp_try(t.c1, "10.99.0.2", 7000, to, PEER), "10.99.0.1");
        REACH(REACHED, tcp_try(t.out, "10.99.0.1", 8080, t1, PEER), "10.99.0.2");
        /* bridged container-to-container traffic passes FORWARD too (br_netfilter) */
        REACH(REACHED, tcp_try(t.c1, "10.77.0.3", 80, t2, PEER), "10.77.0.2");

        /* iptables-nft still reads the chain, with our rules in its own words */
        const char *chain = docker_user ? "DOCKER-USER" : "FORWARD";
        int st;
        _cleanup_free_ char *s = run_in(t.host, "iptables-nft -S", &st);
        ck_assert_msg(st == 0 && !strstr(s, "arning") && !strstr(s, "ncompatible") &&
                          !strstr(s, "unsupported"),
                      "iptables-nft -S: %d: %s", st, s);
        _cleanup_free_ char *in =
            xasprintf("-A %s -i bf0 -m comment --comment \"berth:%s:bf0\" -j ACCEPT", chain, table);
        _cleanup_free_ char *outr =
            xasprintf("-A %s -o bf0 -m comment --comment \"berth:%s:bf0\" -j ACCEPT", chain, table);
        ck_assert_msg(strstr(s, in) && strstr(s, outr), "want \"%s\" and \"%s\" in: %s", in, outr,
                      s);
        if (docker_user)
                ck_assert_msg(strstr(s, "-A FORWARD -j DOCKER-USER") &&
                                  strstr(s, "-A DOCKER-USER -j RETURN"),
                              "docker's rules changed: %s", s);
        ck_assert_msg(strstr(s, "-P FORWARD DROP"), "policy changed: %s", s);

        /* network_del takes the accepts away again (and traffic stops) */
        OK(net_fw_network_del(fw, "bf0", err));
        free(s);
        s = must_run_in(t.host, "iptables-nft -S");
        ck_assert_msg(!strstr(s, "berth:"), "left after network_del: %s", s);
        REACH(TIMEOUT, tcp_try(t.c1, "10.99.0.2", 7000, to, PEER), NULL);

        /* and close(remove) takes them with the table */
        OK(net_fw_network_add(fw, &n0, err));
        OK(net_fw_close(fw, true, err));
        free(s);
        s = must_run_in(t.host, "iptables-nft -S");
        ck_assert_msg(!strstr(s, "berth:") && strstr(s, "-P FORWARD DROP"),
                      "after close(remove): %s", s);
        assert_start_ns_clean();
        topo_down(&t);
}

START_TEST(test_forward_drop_policy)
{
        coexist(false);
}
END_TEST

START_TEST(test_docker_user_chain)
{
        coexist(true);
}
END_TEST

/* ---- cost (printed, not asserted) ------------------------------------------ */

START_TEST(test_cost)
{
        random_table();
        int ns = test_netns_new();
        double t0 = now_us();
        struct net_fw *fw = fw_open(ns);
        double t_open = now_us() - t0;
        enum { N = 200, NETS = 20 };
        struct net_fw_port p = {
            .proto = IPPROTO_TCP, .ctr_ip = addr("10.77.0.2"), .ctr_port = 80, .bridge = "bf0"};
        t0 = now_us();
        for (int i = 0; i < N; i++) {
                p.host_port = (uint16_t)(10000 + i);
                OK(net_fw_port_add(fw, &p, err));
        }
        double t_add = (now_us() - t0) / N;
        t0 = now_us();
        for (int i = 0; i < N; i++) {
                p.host_port = (uint16_t)(10000 + i);
                OK(net_fw_port_del(fw, &p, err));
        }
        double t_del = (now_us() - t0) / N;
        double t_nadd = 0, t_ndel = 0;
        for (int i = 0; i < NETS; i++) {
                char br[16], sub[32];
                snprintf(br, sizeof(br), "bf%d", i);
                snprintf(sub, sizeof(sub), "10.%d.0.0/16", 100 + i);
                struct net_addr s = test_cidr(sub);
                struct net_fw_network n = net_of(br, &s, i % 2, false);
                t0 = now_us();
                OK(net_fw_network_add(fw, &n, err));
                t_nadd += now_us() - t0;
        }
        for (int i = 0; i < NETS; i++) {
                char br[16];
                snprintf(br, sizeof(br), "bf%d", i);
                t0 = now_us();
                OK(net_fw_network_del(fw, br, err));
                t_ndel += now_us() - t0;
        }
        fprintf(stderr,
                "# cost: open %.0f us, port add %.0f us, port del %.0f us, network add %.0f us, "
                "network del %.0f us\n",
                t_open, t_add, t_del, t_nadd / NETS, t_ndel / NETS);
        OK(net_fw_close(fw, true, err));
        close(ns);
}
END_TEST

static Suite *net_firewall_suite(void)
{
        Suite *s = suite_create("net-firewall");
#define CASE(t) ck_add_case(s, #t, t, NULL, NULL, 90)
        CASE(test_table_open_reopen_close);
        CASE(test_traffic);
        CASE(test_traffic_without_br_netfilter);
        CASE(test_forward_drop_policy);
        CASE(test_docker_user_chain);
        CASE(test_cost);
#undef CASE
        return s;
}

int main(void)
{
        if (geteuid() != 0) {
                printf("1..0 # SKIP test-net-firewall needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) "
                       "to make network namespaces\n");
                return 0;
        }
        return ck_run_tap(net_firewall_suite());
}
