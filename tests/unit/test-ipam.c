/*
 * test-ipam.c — CIDR parsing, the subnet allocator (gateway, network and
 * broadcast never handed out, --ip-range, aux addresses, serial reuse,
 * exhaustion) and docker's default pool choice around taken prefixes.
 */
#include <check.h>
#include <string.h>

#include "net/ipam.h"

static struct net_addr cidr(const char *s)
{
        struct net_addr a;
        struct berth_error *e = NULL;
        ck_assert_msg(ipam_parse_cidr(s, &a, &e) == 0, "%s: %s", s, berth_error_msg(e));
        return a;
}

static struct net_addr ip(const char *s)
{
        struct net_addr a;
        struct berth_error *e = NULL;
        ck_assert_msg(ipam_parse_addr(s, &a, &e) == 0, "%s: %s", s, berth_error_msg(e));
        return a;
}

#define CIDR_EQ(a, want)                                                                           \
        do {                                                                                       \
                char b_[IPAM_ADDRSTRLEN];                                                          \
                struct net_addr v_ = (a);                                                          \
                ck_assert_str_eq(ipam_format_cidr(&v_, b_), (want));                               \
        } while (0)

/* Parsing s fails with exactly msg. */
#define BAD_CIDR(s, msg)                                                                           \
        do {                                                                                       \
                struct net_addr a_;                                                                \
                _cleanup_error_ struct berth_error *e_ = NULL;                                     \
                ck_assert_int_eq(ipam_parse_cidr((s), &a_, &e_), -EINVAL);                         \
                ck_assert_str_eq(berth_error_msg(e_), (msg));                                      \
        } while (0)

START_TEST(test_parse)
{
        CIDR_EQ(cidr("172.17.0.1/16"), "172.17.0.1/16");
        CIDR_EQ(cidr("0.0.0.0/0"), "0.0.0.0/0");
        CIDR_EQ(cidr("fd00:1::5/64"), "fd00:1::5/64");
        CIDR_EQ(cidr("::/0"), "::/0");
        struct net_addr a = ip("10.1.2.3");
        ck_assert_int_eq(a.family, AF_INET);
        CIDR_EQ(a, "10.1.2.3/32");
        a = ip("2001:db8::1");
        ck_assert_int_eq(a.family, AF_INET6);
        CIDR_EQ(a, "2001:db8::1/128");

        BAD_CIDR("10.0.0.0/33", "invalid CIDR address: 10.0.0.0/33");
        BAD_CIDR("10.0.0.0", "invalid CIDR address: 10.0.0.0");
        BAD_CIDR("10.0.0.0/", "invalid CIDR address: 10.0.0.0/");
        BAD_CIDR("10.0.0.0/+8", "invalid CIDR address: 10.0.0.0/+8");
        BAD_CIDR("10.0.0.0/8 ", "invalid CIDR address: 10.0.0.0/8 ");
        BAD_CIDR("300.0.0.0/8", "invalid CIDR address: 300.0.0.0/8");
        BAD_CIDR("fd00::/129", "invalid CIDR address: fd00::/129");
        BAD_CIDR("/8", "invalid CIDR address: /8");

        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_int_eq(ipam_parse_addr("10.0.0.1/8", &a, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e), "invalid IP address: 10.0.0.1/8");
}
END_TEST

START_TEST(test_prefix_math)
{
        struct net_addr a = cidr("172.17.3.4/16");
        CIDR_EQ(ipam_network(&a), "172.17.0.0/16");
        CIDR_EQ(ipam_last(&a), "172.17.255.255/16");
        struct net_addr v6 = cidr("fd00:1:2:3:4::9/64");
        CIDR_EQ(ipam_network(&v6), "fd00:1:2:3::/64");
        struct net_addr all = cidr("::/0");
        CIDR_EQ(ipam_last(&all), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/0");

        struct net_addr b = ip("172.17.200.1"), c = ip("172.18.0.1");
        ck_assert(ipam_contains(&a, &b));
        ck_assert(!ipam_contains(&a, &c));
        struct net_addr twelve = cidr("172.16.0.0/12"), other = cidr("172.32.0.0/16");
        ck_assert(ipam_overlaps(&a, &twelve));
        ck_assert(ipam_overlaps(&twelve, &a));
        ck_assert(!ipam_overlaps(&twelve, &other));
        ck_assert(!ipam_overlaps(&a, &v6)); /* families never overlap */
        ck_assert(ipam_addr_equal(
            &b, &(struct net_addr){.family = AF_INET, .prefixlen = 8, .bytes = {172, 17, 200, 1}}));
}
END_TEST

static void alloc_eq(struct ipam_subnet *s, const char *want)
{
        struct net_addr a;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_msg(ipam_addr_alloc(s, NULL, &a, &e) == 0, "%s", berth_error_msg(e));
        CIDR_EQ(a, want);
}

START_TEST(test_alloc_default_bridge)
{
        struct ipam_subnet s;
        struct net_addr sub = cidr("172.17.0.0/16"), a;
        ck_assert_int_eq(ipam_subnet_init(&s, &sub, NULL, NULL, NULL), 0);
        CIDR_EQ(s.gateway, "172.17.0.1/16");
        alloc_eq(&s, "172.17.0.2/16");
        alloc_eq(&s, "172.17.0.3/16");
        /* serial: a released address is not the next one handed out */
        struct net_addr two = ip("172.17.0.2");
        ck_assert_int_eq(ipam_addr_release(&s, &two), 0);
        ck_assert_int_eq(ipam_addr_release(&s, &two), -ENOENT);
        alloc_eq(&s, "172.17.0.4/16");

        /* --ip: anywhere in the subnet, once */
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_int_eq(ipam_addr_alloc(&s, &two, &a, &e), 0);
        CIDR_EQ(a, "172.17.0.2/16");
        ck_assert_int_eq(ipam_addr_alloc(&s, &two, &a, &e), -EADDRINUSE);
        ck_assert_str_eq(berth_error_msg(e), "address 172.17.0.2: already in use");
        berth_error_freep(&e);
        struct net_addr gw = ip("172.17.0.1"), bcast = ip("172.17.255.255"), net = ip("172.17.0.0"),
                        out = ip("172.18.0.5");
        ck_assert_int_eq(ipam_addr_alloc(&s, &gw, &a, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e), "address 172.17.0.1: reserved in 172.17.0.0/16");
        berth_error_freep(&e);
        ck_assert_int_eq(ipam_addr_alloc(&s, &bcast, &a, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e),
                         "address 172.17.255.255: not a host address of 172.17.0.0/16");
        berth_error_freep(&e);
        ck_assert_int_eq(ipam_addr_alloc(&s, &net, &a, &e), -EINVAL);
        berth_error_freep(&e);
        ck_assert_int_eq(ipam_addr_alloc(&s, &out, &a, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e), "address 172.18.0.5: not in subnet 172.17.0.0/16");
        /* the dynamic walk steps over the static one */
        struct net_addr five = ip("172.17.0.5");
        ck_assert_int_eq(ipam_addr_alloc(&s, &five, &a, NULL), 0);
        alloc_eq(&s, "172.17.0.6/16");
        ipam_subnet_release(&s);
}
END_TEST

START_TEST(test_alloc_exhaust_and_wrap)
{
        struct ipam_subnet s;
        struct net_addr sub = cidr("10.9.0.0/29");
        ck_assert_int_eq(ipam_subnet_init(&s, &sub, NULL, NULL, NULL), 0);
        const char *want[] = {"10.9.0.2/29", "10.9.0.3/29", "10.9.0.4/29", "10.9.0.5/29",
                              "10.9.0.6/29"};
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                alloc_eq(&s, want[i]);
        struct net_addr a;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_int_eq(ipam_addr_alloc(&s, NULL, &a, &e), -ENOSPC);
        ck_assert_str_eq(berth_error_msg(e), "no available addresses on this pool (10.9.0.0/29)");
        struct net_addr four = ip("10.9.0.4"), three = ip("10.9.0.3");
        ck_assert_int_eq(ipam_addr_release(&s, &four), 0);
        ck_assert_int_eq(ipam_addr_release(&s, &three), 0);
        /* wraps past the gateway (.1) and the taken .2 */
        alloc_eq(&s, "10.9.0.3/29");
        alloc_eq(&s, "10.9.0.4/29");
        ipam_subnet_release(&s);

        /* a /31 has no network or broadcast address (RFC 3021): the gateway and one more */
        struct net_addr p2p = cidr("10.9.1.0/31");
        ck_assert_int_eq(ipam_subnet_init(&s, &p2p, NULL, NULL, NULL), 0);
        CIDR_EQ(s.gateway, "10.9.1.0/31");
        alloc_eq(&s, "10.9.1.1/31");
        ck_assert_int_eq(ipam_addr_alloc(&s, NULL, &a, NULL), -ENOSPC);
        ipam_subnet_release(&s);
}
END_TEST

START_TEST(test_alloc_range_gateway_aux)
{
        struct ipam_subnet s;
        struct net_addr sub = cidr("10.7.0.0/24"), range = cidr("10.7.0.128/25"),
                        gw = ip("10.7.0.254"), aux = ip("10.7.0.129"), a;
        ck_assert_int_eq(ipam_subnet_init(&s, &sub, &range, &gw, NULL), 0);
        CIDR_EQ(s.gateway, "10.7.0.254/24");
        ck_assert_int_eq(ipam_subnet_reserve(&s, &aux, NULL), 0);
        alloc_eq(&s, "10.7.0.128/24");
        alloc_eq(&s, "10.7.0.130/24"); /* .129 is an aux address */
        /* a static address outside the range is fine */
        struct net_addr low = ip("10.7.0.10");
        ck_assert_int_eq(ipam_addr_alloc(&s, &low, &a, NULL), 0);
        /* the range ends before the broadcast and skips the gateway: .131-.253 is 123 more */
        for (int i = 0; i < 123; i++)
                ck_assert_int_eq(ipam_addr_alloc(&s, NULL, &a, NULL), 0);
        CIDR_EQ(a, "10.7.0.253/24");
        ck_assert_int_eq(ipam_addr_alloc(&s, NULL, &a, NULL), -ENOSPC);
        ipam_subnet_release(&s);

        _cleanup_error_ struct berth_error *e = NULL;
        struct net_addr far = cidr("10.8.0.0/25"), wide = cidr("10.0.0.0/8"),
                        gw_out = ip("10.8.0.1");
        ck_assert_int_eq(ipam_subnet_init(&s, &sub, &far, NULL, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e), "ip range 10.8.0.0/25: not in subnet 10.7.0.0/24");
        berth_error_freep(&e);
        ck_assert_int_eq(ipam_subnet_init(&s, &sub, &wide, NULL, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e), "ip range 10.0.0.0/8: not in subnet 10.7.0.0/24");
        berth_error_freep(&e);
        ck_assert_int_eq(ipam_subnet_init(&s, &sub, NULL, &gw_out, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e), "gateway 10.8.0.1: not in subnet 10.7.0.0/24");
        berth_error_freep(&e);
        ck_assert_int_eq(ipam_subnet_init(&s, &sub, NULL, NULL, NULL), 0);
        ck_assert_int_eq(ipam_subnet_reserve(&s, &gw_out, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e),
                         "auxiliary address 10.8.0.1: not in subnet 10.7.0.0/24");
        ipam_subnet_release(&s);
}
END_TEST

START_TEST(test_alloc_v6)
{
        struct ipam_subnet s;
        struct net_addr sub = cidr("fd00:1::/64"), a;
        ck_assert_int_eq(ipam_subnet_init(&s, &sub, NULL, NULL, NULL), 0);
        CIDR_EQ(s.gateway, "fd00:1::1/64");
        alloc_eq(&s, "fd00:1::2/64");
        alloc_eq(&s, "fd00:1::3/64");
        /* the last address is a host address in IPv6 (no broadcast) */
        struct net_addr last = ip("fd00:1::ffff:ffff:ffff:ffff");
        ck_assert_int_eq(ipam_addr_alloc(&s, &last, &a, NULL), 0);
        struct net_addr v4 = ip("10.0.0.1");
        ck_assert_int_eq(ipam_addr_release(&s, &v4), -ENOENT);
        ipam_subnet_release(&s);

        struct net_addr tiny = cidr("fd00:2::/126");
        ck_assert_int_eq(ipam_subnet_init(&s, &tiny, NULL, NULL, NULL), 0);
        alloc_eq(&s, "fd00:2::2/126");
        alloc_eq(&s, "fd00:2::3/126");
        ck_assert_int_eq(ipam_addr_alloc(&s, NULL, &a, NULL), -ENOSPC);
        ipam_subnet_release(&s);
}
END_TEST

static void pick_eq(const struct net_addr *avoid, size_t n, const char *want)
{
        size_t np;
        const struct ipam_pool *pools = ipam_default_pools(&np);
        struct net_addr got;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_msg(ipam_pool_pick(pools, np, avoid, n, &got, &e) == 0, "%s", berth_error_msg(e));
        CIDR_EQ(got, want);
}

START_TEST(test_default_pools)
{
        size_t np;
        const struct ipam_pool *pools = ipam_default_pools(&np);
        ck_assert_uint_eq(np, 16);
        CIDR_EQ(pools[0].base, "172.17.0.0/16");
        CIDR_EQ(pools[14].base, "172.31.0.0/16");
        CIDR_EQ(pools[15].base, "192.168.0.0/16");
        ck_assert_uint_eq(pools[15].size, 20);

        pick_eq(NULL, 0, "172.17.0.0/16");
        /* docker0's address, a default route and an IPv6 route change nothing else */
        struct net_addr a1[] = {cidr("172.17.0.1/16"), cidr("0.0.0.0/0"), cidr("fd00::/8")};
        pick_eq(a1, ELEMENTSOF(a1), "172.18.0.0/16");
        /* a narrow route inside a pool takes the whole /16 */
        struct net_addr a2[] = {cidr("172.17.0.0/16"), cidr("172.18.3.0/24")};
        pick_eq(a2, ELEMENTSOF(a2), "172.19.0.0/16");
        /* one wide route over every 172 pool: on to 192.168.0.0/20 steps */
        struct net_addr a3[] = {cidr("172.16.0.0/12"), cidr("192.168.1.0/24"),
                                cidr("192.168.16.7/32")};
        pick_eq(a3, ELEMENTSOF(a3), "192.168.32.0/20");

        struct net_addr full[] = {cidr("172.16.0.0/12"), cidr("192.168.0.0/16")};
        struct net_addr got;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_int_eq(ipam_pool_pick(pools, np, full, ELEMENTSOF(full), &got, &e), -ENOSPC);
        ck_assert_str_eq(berth_error_msg(e), "could not find an available, non-overlapping IPv4 "
                                             "address pool among the defaults to assign to the "
                                             "network");
        berth_error_freep(&e);

        /* a configured IPv6 pool: /64s out of a /56 */
        struct ipam_pool v6 = {.base = cidr("fd00:ab::/56"), .size = 64};
        struct net_addr a4[] = {cidr("fd00:ab::1/64"), cidr("fd00:ab:0:1::/64")};
        ck_assert_int_eq(ipam_pool_pick(&v6, 1, a4, ELEMENTSOF(a4), &got, NULL), 0);
        CIDR_EQ(got, "fd00:ab:0:2::/64");
        struct ipam_pool bad = {.base = cidr("10.0.0.0/16"), .size = 8};
        ck_assert_int_eq(ipam_pool_pick(&bad, 1, NULL, 0, &got, &e), -EINVAL);
        ck_assert_str_eq(berth_error_msg(e), "address pool 10.0.0.0/16: size 8 out of range");
}
END_TEST

static Suite *ipam_suite(void)
{
        Suite *s = suite_create("ipam");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_prefix_math);
        tcase_add_test(tc, test_alloc_default_bridge);
        tcase_add_test(tc, test_alloc_exhaust_and_wrap);
        tcase_add_test(tc, test_alloc_range_gateway_aux);
        tcase_add_test(tc, test_alloc_v6);
        tcase_add_test(tc, test_default_pools);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(ipam_suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}
