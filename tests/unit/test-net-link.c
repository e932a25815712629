/*
 * test-net-link.c — src/net/link.c against the real kernel: a bridge, a veth
 * pair with its peer created inside another namespace, addresses of both
 * families, a default route, renames, MTU and MAC, read back through the same
 * API and, independently, through `ip -j` (iproute2, run with nsenter), then a
 * UDP datagram across the pair, then deletion.
 *
 * Where: every case makes its own network namespaces (a thread unshares
 * CLONE_NEWNET and keeps /proc/thread-self/ns/net open), one playing the host
 * (the bridge and the host end of the veth) and one the container.  Nothing is
 * created in the namespace the test was started in, so a failing case leaves
 * nothing behind: its namespaces, and every link and address in them, go with
 * the forked case process.  The links are deleted explicitly as well, since
 * deletion is under test.  Link names carry random hex (bt-/vt-/vp-) anyway.
 *
 * Never: touch the starting namespace beyond reading it (lo's index), or send
 * traffic anywhere but between the test's own namespaces.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "base/buf.h"
#include "base/json.h"
#include "check-tap.h"
#include "test-netns.h"
#include "net/ipam.h"
#include "net/link.h"

/*
 * Run a call that must fail with code and msg, followed by nothing or by the
 * kernel's extended ack (" (kernel: ...)"), whose words vary between kernels.
 */
#define FAILS(call, code, msg)                                                                     \
        do {                                                                                       \
                _cleanup_error_ struct berth_error *e_ = NULL;                                     \
                struct berth_error **err = &e_;                                                    \
                ck_assert_int_eq((call), -(code));                                                 \
                const char *m_ = berth_error_msg(e_), *w_ = (msg);                                 \
                size_t l_ = strlen(w_);                                                            \
                ck_assert_msg(strncmp(m_, w_, l_) == 0 &&                                          \
                                  (m_[l_] == '\0' || strncmp(m_ + l_, " (kernel: ", 10) == 0),     \
                              "got \"%s\", want \"%s\"", m_, w_);                                  \
        } while (0)

static bool has_addr(const struct net_addr *v, size_t n, const char *want)
{
        for (size_t i = 0; i < n; i++) {
                char b[IPAM_ADDRSTRLEN];
                if (strcmp(ipam_format_cidr(&v[i], b), want) == 0)
                        return true;
        }
        return false;
}

/* `ip -j <args>` run inside the namespace netns_fd, parsed. */
static struct json *ip_json(int netns_fd, const char *args)
{
        _cleanup_free_ char *cmd =
            xasprintf("nsenter --net=/proc/%d/fd/%d ip -j %s", getpid(), netns_fd, args);
        FILE *p = popen(cmd, "re");
        ck_assert_msg(p != NULL, "%s: %s", cmd, strerror(errno));
        struct berth_buf b = BERTH_BUF_INIT;
        char chunk[4096];
        for (size_t k; (k = fread(chunk, 1, sizeof(chunk), p)) > 0;)
                buf_append(&b, chunk, k);
        int status = pclose(p);
        ck_assert_msg(status == 0, "%s: exit status %d", cmd, status);
        struct json *j = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_msg(json_parse(b.data, b.len, &j, &e) == 0, "%s: %s", cmd, berth_error_msg(e));
        buf_release(&b);
        ck_assert(json_is(j, JSON_ARRAY) && json_len(j) == 1);
        return j;
}

static const struct json *json_at(const struct json *arr, size_t i)
{
        return json_is(arr, JSON_ARRAY) && i < arr->arr.n ? arr->arr.items[i] : NULL;
}

static int64_t json_int(const struct json *j)
{
        return json_is(j, JSON_NUMBER) && (j->num.flags & JSON_NUM_INT) ? j->num.i : -1;
}

static const char *jstr(const struct json *obj, const char *key)
{
        const char *s = json_str(json_get(obj, key));
        ck_assert_msg(s != NULL, "ip -j: no string \"%s\"", key);
        return s;
}

/* link's address local/prefixlen, with broadcast bcast (NULL: none) */
static bool ip_has_addr(const struct json *link, const char *local, int64_t prefixlen,
                        const char *bcast)
{
        const struct json *infos = json_get(link, "addr_info");
        for (size_t i = 0; infos && i < json_len(infos); i++) {
                const struct json *ai = json_at(infos, i);
                const char *l = json_str(json_get(ai, "local"));
                const char *b = json_str(json_get(ai, "broadcast"));
                if (l && strcmp(l, local) == 0 && json_int(json_get(ai, "prefixlen")) == prefixlen)
                        return bcast ? b && strcmp(b, bcast) == 0 : !b;
        }
        return false;
}

static char names[3][IFNAMSIZ];

static void random_names(void)
{
        uint16_t r;
        ck_assert_int_eq(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
        snprintf(names[0], IFNAMSIZ, "bt-%04x", r);
        snprintf(names[1], IFNAMSIZ, "vt-%04x", r);
        snprintf(names[2], IFNAMSIZ, "vp-%04x", r);
}

START_TEST(test_bridge_veth_addresses_route)
{
        random_names();
        const char *br = names[0], *host = names[1], *peer = names[2];
        int ns_host = test_netns_new(), ns_ctr = test_netns_new();
        _cleanup_net_link_ struct net_link *h = test_link_in(ns_host);
        _cleanup_net_link_ struct net_link *c = test_link_in(ns_ctr);

        OK(net_link_bridge_add(h, br, 1400, err));
        _cleanup_free_ char *dup = xasprintf("create bridge '%s': file exists", br);
        FAILS(net_link_bridge_add(h, br, 1400, err), EEXIST, dup);
        OK(net_link_veth_add(h, host, peer, ns_ctr, 1400, err));
        int idx;
        OK(net_link_index(c, peer, &idx, err));
        /* the peer was made inside the container's namespace, never in the host's */
        _cleanup_free_ char *gone = xasprintf("link '%s': no such device", peer);
        FAILS(net_link_index(h, peer, &idx, err), ENODEV, gone);

        OK(net_link_set_master(h, host, br, err));
        OK(net_link_set_up(h, host, true, err));
        OK(net_link_set_up(h, br, true, err));
        struct net_addr gw4 = test_cidr("10.88.0.1/24"), gw6 = test_cidr("fd00:88::1/64");
        OK(net_link_addr_add(h, br, &gw4, 0, err));
        OK(net_link_addr_add(h, br, &gw6, NET_ADDR_NODAD, err));

        /* inside: rename (while down), MAC, MTU, up, addresses, default routes */
        OK(net_link_rename(c, peer, "eth0", err));
        const uint8_t mac[6] = {0x02, 0x42, 0x0a, 0x58, 0x00, 0x02};
        OK(net_link_set_mac(c, "eth0", mac, err));
        OK(net_link_set_mtu(c, "eth0", 1300, err));
        OK(net_link_set_up(c, "eth0", true, err));
        OK(net_link_set_up(c, "lo", true, err));
        struct net_addr a4 = test_cidr("10.88.0.2/24"), a6 = test_cidr("fd00:88::2/64");
        OK(net_link_addr_add(c, "eth0", &a4, 0, err));
        OK(net_link_addr_add(c, "eth0", &a6, NET_ADDR_NODAD, err));
        FAILS(net_link_addr_add(c, "eth0", &a4, 0, err), EEXIST,
              "add address 10.88.0.2/24 to 'eth0': file exists");
        OK(net_link_route_add_default(c, "eth0", &gw4, err));
        OK(net_link_route_add_default(c, "eth0", &gw6, err));
        FAILS(net_link_rename(c, "eth0", "lo", err), EEXIST, "rename 'eth0' to 'lo': file exists");

        /* read back through the API */
        _cleanup_free_ struct net_addr *addrs = NULL, *routes = NULL;
        size_t n = 0, nr = 0;
        OK(net_link_addr_list(c, "eth0", &addrs, &n, err));
        ck_assert_msg(has_addr(addrs, n, "10.88.0.2/24"), "10.88.0.2/24 not listed");
        ck_assert_msg(has_addr(addrs, n, "fd00:88::2/64"), "fd00:88::2/64 not listed");
        ck_assert(!has_addr(addrs, n, "127.0.0.1/8")); /* only eth0's */
        OK(net_link_route_list(c, AF_INET, &routes, &nr, err));
        ck_assert(has_addr(routes, nr, "0.0.0.0/0"));
        ck_assert(has_addr(routes, nr, "10.88.0.0/24"));
        ck_assert(!has_addr(routes, nr, "::/0")); /* family filter */

        /* and independently, with iproute2 */
        _cleanup_(json_freep) struct json *ij = ip_json(ns_ctr, "addr show dev eth0");
        const struct json *l = json_at(ij, 0);
        ck_assert_str_eq(jstr(l, "address"), "02:42:0a:58:00:02");
        ck_assert_int_eq(json_int(json_get(l, "mtu")), 1300);
        ck_assert(ip_has_addr(l, "10.88.0.2", 24, "10.88.0.255"));
        ck_assert(ip_has_addr(l, "fd00:88::2", 64, NULL));
        _cleanup_free_ char *bargs = xasprintf("addr show dev %s", br);
        _cleanup_(json_freep) struct json *bj = ip_json(ns_host, bargs);
        ck_assert(ip_has_addr(json_at(bj, 0), "10.88.0.1", 24, "10.88.0.255"));
        ck_assert(ip_has_addr(json_at(bj, 0), "fd00:88::1", 64, NULL));
        _cleanup_free_ char *args = xasprintf("-d link show dev %s", host);
        _cleanup_(json_freep) struct json *hj = ip_json(ns_host, args);
        ck_assert_str_eq(jstr(json_at(hj, 0), "master"), br);
        ck_assert_int_eq(json_int(json_get(json_at(hj, 0), "mtu")), 1400);
        /* hairpin on the bridge port, and off again, as iproute2 reads it */
        for (int on = 1; on >= 0; on--) {
                OK(net_link_set_hairpin(h, host, on, err));
                _cleanup_(json_freep) struct json *pj = ip_json(ns_host, args);
                const struct json *sd = json_get(
                    json_get(json_get(json_at(pj, 0), "linkinfo"), "info_slave_data"),
                    "hairpin");
                ck_assert_msg(json_is(sd, JSON_BOOL) && sd->b == (bool)on, "hairpin not %s",
                              on ? "on" : "off");
        }
        FAILS(net_link_set_hairpin(h, "bt-nope", true, err), ENODEV,
              "set hairpin mode of 'bt-nope' on: no such device");
        _cleanup_(json_freep) struct json *rj = ip_json(ns_ctr, "route show default");
        ck_assert_str_eq(jstr(json_at(rj, 0), "gateway"), "10.88.0.1");
        ck_assert_str_eq(jstr(json_at(rj, 0), "dev"), "eth0");

        /* a datagram from the container to the bridge's address crosses the pair */
        _cleanup_close_ int rx = test_socket_in(ns_host, SOCK_DGRAM);
        _cleanup_close_ int tx = test_socket_in(ns_ctr, SOCK_DGRAM);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(4789)};
        memcpy(&sa.sin_addr, gw4.bytes, 4);
        ck_assert_int_eq(bind(rx, (struct sockaddr *)&sa, sizeof(sa)), 0);
        struct timeval tv = {.tv_sec = 5};
        ck_assert_int_eq(setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        ck_assert_int_eq(sendto(tx, "berth", 5, 0, (struct sockaddr *)&sa, sizeof(sa)), 5);
        char got[8] = {0};
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ck_assert_int_eq(recvfrom(rx, got, sizeof(got), 0, (struct sockaddr *)&from, &fl), 5);
        ck_assert_str_eq(got, "berth");
        ck_assert_str_eq(inet_ntoa(from.sin_addr), "10.88.0.2");

        /* deletion: the addresses, then the links; a veth's peer goes with it */
        OK(net_link_addr_del(c, "eth0", &a4, err));
        free(addrs);
        addrs = NULL;
        OK(net_link_addr_list(c, "eth0", &addrs, &n, err));
        ck_assert(!has_addr(addrs, n, "10.88.0.2/24"));
        OK(net_link_set_master(h, host, NULL, err));
        OK(net_link_del(h, host, err));
        FAILS(net_link_index(c, "eth0", &idx, err), ENODEV, "link 'eth0': no such device");
        OK(net_link_del(h, br, err));
        _cleanup_free_ char *brgone = xasprintf("link '%s': no such device", br);
        FAILS(net_link_index(h, br, &idx, err), ENODEV, brgone);
        close(ns_host);
        close(ns_ctr);
}
END_TEST

START_TEST(test_errors_name_the_link)
{
        int ns = test_netns_new();
        _cleanup_net_link_ struct net_link *h = test_link_in(ns);
        FAILS(net_link_bridge_add(h, "bt-this-is-too-long", 0, err), EINVAL,
              "interface name 'bt-this-is-too-long': longer than 15 bytes");
        FAILS(net_link_set_up(h, "bt-nope", true, err), ENODEV, "set 'bt-nope' up: no such device");
        struct net_addr a = test_cidr("10.1.0.1/24");
        FAILS(net_link_addr_add(h, "bt-nope", &a, 0, err), ENODEV,
              "link 'bt-nope': no such device");
        /* a gateway no route reaches: the kernel's errno, with its extended ack if any */
        OK(net_link_set_up(h, "lo", true, err));
        struct net_addr far = test_cidr("192.0.2.1/32");
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_int_lt(net_link_route_add_default(h, "lo", &far, &e), 0);
        const char *want = "add default route via 192.0.2.1 dev 'lo': network is unreachable";
        ck_assert_msg(strncmp(berth_error_msg(e), want, strlen(want)) == 0, "got: %s",
                      berth_error_msg(e));
        ck_assert_msg(strstr(berth_error_msg(e), "(kernel: ") != NULL, "no extended ack in: %s",
                      berth_error_msg(e));
        /* a bridge MTU below the minimum, refused by the kernel */
        berth_error_freep(&e);
        ck_assert_int_eq(net_link_bridge_add(h, "bt-mtu", 10, &e), -EINVAL);
        ck_assert_msg(strncmp(berth_error_msg(e), "create bridge 'bt-mtu': invalid argument", 40) ==
                          0,
                      "got: %s", berth_error_msg(e));
        close(ns);
}
END_TEST

START_TEST(test_own_namespace_and_pool_choice)
{
        /* the caller's own namespace, read only */
        _cleanup_net_link_ struct net_link *self = test_link_in(-1);
        int idx = 0;
        OK(net_link_index(self, "lo", &idx, err));
        ck_assert_int_gt(idx, 0);

        /* a "host" with docker0's subnet on a bridge of its own */
        random_names();
        int ns = test_netns_new();
        _cleanup_net_link_ struct net_link *h = test_link_in(ns);
        OK(net_link_bridge_add(h, names[0], 0, err));
        OK(net_link_set_up(h, names[0], true, err));
        struct net_addr d0 = test_cidr("172.17.0.1/16");
        OK(net_link_addr_add(h, names[0], &d0, 0, err));
        size_t np;
        const struct ipam_pool *pools = ipam_default_pools(&np);
        struct net_addr got;
        OK(ipam_pool_pick_host(h, pools, np, NULL, 0, &got, err));
        char b[IPAM_ADDRSTRLEN];
        ck_assert_str_eq(ipam_format_cidr(&got, b), "172.18.0.0/16");
        /* a default route via 172.17.x does not count; another network's subnet does */
        OK(net_link_route_add_default(
            h, names[0],
            &(struct net_addr){.family = AF_INET, .prefixlen = 32, .bytes = {172, 17, 0, 9}}, err));
        struct net_addr other = test_cidr("172.18.0.0/16");
        OK(ipam_pool_pick_host(h, pools, np, &other, 1, &got, err));
        ck_assert_str_eq(ipam_format_cidr(&got, b), "172.19.0.0/16");
        OK(net_link_del(h, names[0], err));
        close(ns);
}
END_TEST

static Suite *net_link_suite(void)
{
        Suite *s = suite_create("net-link");
#define CASE(t) ck_add_case(s, #t, t, NULL, NULL, 60)
        CASE(test_bridge_veth_addresses_route);
        CASE(test_errors_name_the_link);
        CASE(test_own_namespace_and_pool_choice);
#undef CASE
        return s;
}

int main(void)
{
        if (geteuid() != 0) {
                printf("1..0 # SKIP test-net-link needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to "
                       "make network namespaces\n");
                return 0;
        }
        return ck_run_tap(net_link_suite());
}
