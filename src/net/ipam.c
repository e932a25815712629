/*
 * ipam.c — CIDR parsing, the per-subnet address allocator and default pool
 * selection (see ipam.h for the contract).
 *
 * An address becomes a 128-bit integer (big-endian bytes, IPv4 in the low 32
 * bits); a prefix is that integer and a host mask.  The allocator's reserved and
 * used sets are sorted arrays searched by bisection.  A dynamic allocation walks
 * from the cursor, skipping taken addresses: among any n_taken+1 distinct
 * candidates one is free, so the walk is bounded by what is stored, never by the
 * size of the subnet (a /64 does not loop 2^64 times when it is "full" of
 * nothing).  Pool selection jumps over an overlapping route or address whole,
 * so it too is bounded by the number of prefixes to avoid.
 *
 * Never: shift a 128-bit value by 128 (undefined): host_mask() special-cases a
 * prefix of 0; hand out an address for which taken() is true.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "net/ipam.h"
#include "net/link.h"

typedef unsigned __int128 u128;

unsigned ipam_family_bits(int family)
{
        return family == AF_INET ? 32 : 128;
}

static size_t family_len(int family)
{
        return family == AF_INET ? 4 : 16;
}

static u128 to_int(const struct net_addr *a)
{
        u128 v = 0;
        for (size_t i = 0; i < family_len(a->family); i++)
                v = (v << 8) | a->bytes[i];
        return v;
}

static struct net_addr from_int(int family, u128 v, uint8_t prefixlen)
{
        struct net_addr a = {.family = family, .prefixlen = prefixlen};
        for (size_t i = family_len(family); i-- > 0; v >>= 8)
                a.bytes[i] = (uint8_t)(v & 0xff);
        return a;
}

/* The host bits of a prefix of length len in family. */
static u128 host_mask(int family, unsigned len)
{
        unsigned host = ipam_family_bits(family) - len;
        if (host >= 128)
                return ~(u128)0;
        return ((u128)1 << host) - 1;
}

struct net_addr ipam_network(const struct net_addr *a)
{
        return from_int(a->family, to_int(a) & ~host_mask(a->family, a->prefixlen), a->prefixlen);
}

struct net_addr ipam_last(const struct net_addr *a)
{
        return from_int(a->family, to_int(a) | host_mask(a->family, a->prefixlen), a->prefixlen);
}

bool ipam_contains(const struct net_addr *a, const struct net_addr *b)
{
        if (a->family != b->family)
                return false;
        u128 m = ~host_mask(a->family, a->prefixlen);
        return (to_int(a) & m) == (to_int(b) & m);
}

bool ipam_overlaps(const struct net_addr *a, const struct net_addr *b)
{
        if (a->family != b->family)
                return false;
        return a->prefixlen <= b->prefixlen ? ipam_contains(a, b) : ipam_contains(b, a);
}

bool ipam_addr_equal(const struct net_addr *a, const struct net_addr *b)
{
        return a->family == b->family && memcmp(a->bytes, b->bytes, family_len(a->family)) == 0;
}

/* Parse an address of either family from the n bytes at s. */
static bool parse_addr(const char *s, size_t n, struct net_addr *ret)
{
        char buf[INET6_ADDRSTRLEN];
        if (n == 0 || n >= sizeof(buf))
                return false;
        memcpy(buf, s, n);
        buf[n] = '\0';
        int family = memchr(buf, ':', n) ? AF_INET6 : AF_INET;
        struct net_addr a = {.family = family, .prefixlen = (uint8_t)ipam_family_bits(family)};
        if (inet_pton(family, buf, a.bytes) != 1)
                return false;
        *ret = a;
        return true;
}

int ipam_parse_cidr(const char *s, struct net_addr *ret, struct berth_error **err)
{
        const char *slash = strchr(s, '/');
        struct net_addr a;
        if (!slash || !parse_addr(s, (size_t)(slash - s), &a))
                return berth_error_set(err, EINVAL, "invalid CIDR address: %s", s);
        const char *p = slash + 1;
        unsigned len = 0;
        /* digits only: no sign, no spaces, no hex, at most three of them */
        size_t nd = strspn(p, "0123456789");
        if (nd == 0 || nd > 3 || p[nd] != '\0')
                return berth_error_set(err, EINVAL, "invalid CIDR address: %s", s);
        for (size_t i = 0; i < nd; i++)
                len = len * 10 + (unsigned)(p[i] - '0');
        if (len > ipam_family_bits(a.family))
                return berth_error_set(err, EINVAL, "invalid CIDR address: %s", s);
        a.prefixlen = (uint8_t)len;
        *ret = a;
        return 0;
}

int ipam_parse_addr(const char *s, struct net_addr *ret, struct berth_error **err)
{
        if (!parse_addr(s, strlen(s), ret))
                return berth_error_set(err, EINVAL, "invalid IP address: %s", s);
        return 0;
}

char *ipam_format_addr(const struct net_addr *a, char *buf)
{
        if (!inet_ntop(a->family, a->bytes, buf, IPAM_ADDRSTRLEN))
                snprintf(buf, IPAM_ADDRSTRLEN, "<family %d>", a->family);
        return buf;
}

char *ipam_format_cidr(const struct net_addr *a, char *buf)
{
        ipam_format_addr(a, buf);
        size_t l = strlen(buf);
        snprintf(buf + l, IPAM_ADDRSTRLEN - l, "/%u", (unsigned)a->prefixlen);
        return buf;
}

/* Index of the first element >= v in the sorted set. */
static size_t set_lower(const u128 *set, size_t n, u128 v)
{
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (set[mid] < v)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static bool set_has(const u128 *set, size_t n, u128 v)
{
        size_t i = set_lower(set, n, v);
        return i < n && set[i] == v;
}

static void set_add(u128 **set, size_t *n, size_t *cap, u128 v)
{
        size_t i = set_lower(*set, *n, v);
        if (i < *n && (*set)[i] == v)
                return;
        if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 16;
                *set = xrealloc(*set, *cap * sizeof(**set));
        }
        memmove(*set + i + 1, *set + i, (*n - i) * sizeof(**set));
        (*set)[i] = v;
        (*n)++;
}

static bool set_del(u128 *set, size_t *n, u128 v)
{
        size_t i = set_lower(set, *n, v);
        if (i >= *n || set[i] != v)
                return false;
        memmove(set + i, set + i + 1, (*n - i - 1) * sizeof(*set));
        (*n)--;
        return true;
}

/* First and last address of the subnet that may be given to anyone. */
static void host_bounds(const struct net_addr *subnet, u128 *ret_first, u128 *ret_last)
{
        u128 net = to_int(subnet), hm = host_mask(subnet->family, subnet->prefixlen);
        unsigned host_bits = ipam_family_bits(subnet->family) - subnet->prefixlen;
        *ret_first = net;
        *ret_last = net | hm;
        if (host_bits >= 2) {
                /* IPv4: network and broadcast; IPv6: the subnet-router anycast address */
                *ret_first = net + 1;
                if (subnet->family == AF_INET)
                        *ret_last = (net | hm) - 1;
        }
}

static int check_prefix(const struct net_addr *a, const char *what, struct berth_error **err)
{
        if ((a->family != AF_INET && a->family != AF_INET6) ||
            a->prefixlen > ipam_family_bits(a->family))
                return berth_error_set(err, EINVAL, "invalid %s", what);
        return 0;
}

int ipam_subnet_init(struct ipam_subnet *s, const struct net_addr *subnet,
                     const struct net_addr *ip_range, const struct net_addr *gateway,
                     struct berth_error **err)
{
        char b1[IPAM_ADDRSTRLEN], b2[IPAM_ADDRSTRLEN];
        *s = (struct ipam_subnet){0};
        int r = check_prefix(subnet, "subnet", err);
        if (r < 0)
                return r;
        s->subnet = ipam_network(subnet);
        u128 first, last;
        host_bounds(&s->subnet, &first, &last);
        s->range_lo = first;
        s->range_hi = last;
        if (ip_range) {
                r = check_prefix(ip_range, "ip range", err);
                if (r < 0)
                        return r;
                if (ip_range->prefixlen < s->subnet.prefixlen ||
                    !ipam_contains(&s->subnet, ip_range))
                        return berth_error_set(err, EINVAL, "ip range %s: not in subnet %s",
                                               ipam_format_cidr(ip_range, b1),
                                               ipam_format_cidr(&s->subnet, b2));
                struct net_addr rn = ipam_network(ip_range);
                u128 lo = to_int(&rn), hi = lo | host_mask(rn.family, rn.prefixlen);
                s->range_lo = lo > first ? lo : first;
                s->range_hi = hi < last ? hi : last;
                if (s->range_lo > s->range_hi)
                        return berth_error_set(err, EINVAL, "ip range %s: no usable address",
                                               ipam_format_cidr(ip_range, b1));
        }
        if (gateway) {
                if (!ipam_contains(&s->subnet, gateway))
                        return berth_error_set(err, EINVAL, "gateway %s: not in subnet %s",
                                               ipam_format_addr(gateway, b1),
                                               ipam_format_cidr(&s->subnet, b2));
                s->gateway = *gateway;
                s->gateway.prefixlen = s->subnet.prefixlen;
        } else {
                s->gateway = from_int(s->subnet.family, first, s->subnet.prefixlen);
        }
        set_add(&s->reserved, &s->n_reserved, &s->cap_reserved, to_int(&s->gateway));
        s->cursor = s->range_hi; /* the first dynamic address is range_lo */
        return 0;
}

void ipam_subnet_release(struct ipam_subnet *s)
{
        free(s->reserved);
        free(s->used);
        *s = (struct ipam_subnet){0};
}

static bool taken(const struct ipam_subnet *s, u128 v)
{
        return set_has(s->used, s->n_used, v) || set_has(s->reserved, s->n_reserved, v);
}

int ipam_subnet_reserve(struct ipam_subnet *s, const struct net_addr *addr,
                        struct berth_error **err)
{
        char b1[IPAM_ADDRSTRLEN], b2[IPAM_ADDRSTRLEN];
        if (!ipam_contains(&s->subnet, addr))
                return berth_error_set(err, EINVAL, "auxiliary address %s: not in subnet %s",
                                       ipam_format_addr(addr, b1),
                                       ipam_format_cidr(&s->subnet, b2));
        u128 v = to_int(addr);
        if (set_has(s->used, s->n_used, v))
                return berth_error_set(err, EADDRINUSE, "auxiliary address %s: already in use",
                                       ipam_format_addr(addr, b1));
        set_add(&s->reserved, &s->n_reserved, &s->cap_reserved, v);
        return 0;
}

static int alloc_static(struct ipam_subnet *s, const struct net_addr *want, struct net_addr *ret,
                        struct berth_error **err)
{
        char b1[IPAM_ADDRSTRLEN], b2[IPAM_ADDRSTRLEN];
        if (!ipam_contains(&s->subnet, want))
                return berth_error_set(err, EINVAL, "address %s: not in subnet %s",
                                       ipam_format_addr(want, b1),
                                       ipam_format_cidr(&s->subnet, b2));
        u128 first, last, v = to_int(want);
        host_bounds(&s->subnet, &first, &last);
        if (v < first || v > last)
                return berth_error_set(err, EINVAL, "address %s: not a host address of %s",
                                       ipam_format_addr(want, b1),
                                       ipam_format_cidr(&s->subnet, b2));
        if (set_has(s->reserved, s->n_reserved, v))
                return berth_error_set(err, EINVAL, "address %s: reserved in %s",
                                       ipam_format_addr(want, b1),
                                       ipam_format_cidr(&s->subnet, b2));
        if (set_has(s->used, s->n_used, v))
                return berth_error_set(err, EADDRINUSE, "address %s: already in use",
                                       ipam_format_addr(want, b1));
        set_add(&s->used, &s->n_used, &s->cap_used, v);
        *ret = from_int(s->subnet.family, v, s->subnet.prefixlen);
        return 0;
}

int ipam_addr_alloc(struct ipam_subnet *s, const struct net_addr *want, struct net_addr *ret,
                    struct berth_error **err)
{
        if (want)
                return alloc_static(s, want, ret, err);
        u128 size = s->range_hi - s->range_lo;        /* one less than the count: no overflow */
        u128 steps = (u128)s->n_used + s->n_reserved; /* also one less than needed */
        if (steps > size)
                steps = size;
        u128 c = s->cursor;
        for (u128 i = 0; i <= steps; i++) {
                c = (c >= s->range_hi || c < s->range_lo) ? s->range_lo : c + 1;
                if (!taken(s, c)) {
                        set_add(&s->used, &s->n_used, &s->cap_used, c);
                        s->cursor = c;
                        *ret = from_int(s->subnet.family, c, s->subnet.prefixlen);
                        return 0;
                }
        }
        char b[IPAM_ADDRSTRLEN];
        return berth_error_set(err, ENOSPC, "no available addresses on this pool (%s)",
                               ipam_format_cidr(&s->subnet, b));
}

int ipam_addr_release(struct ipam_subnet *s, const struct net_addr *addr)
{
        if (addr->family != s->subnet.family)
                return -ENOENT;
        return set_del(s->used, &s->n_used, to_int(addr)) ? 0 : -ENOENT;
}

#define POOL16(b)                                                                                  \
        {                                                                                          \
                .base = {.family = AF_INET, .prefixlen = 16, .bytes = {172, b}}, .size = 16        \
        }

static const struct ipam_pool default_pools[] = {
    POOL16(17), POOL16(18),
    POOL16(19), POOL16(20),
    POOL16(21), POOL16(22),
    POOL16(23), POOL16(24),
    POOL16(25), POOL16(26),
    POOL16(27), POOL16(28),
    POOL16(29), POOL16(30),
    POOL16(31), {.base = {.family = AF_INET, .prefixlen = 16, .bytes = {192, 168}}, .size = 20},
};

const struct ipam_pool *ipam_default_pools(size_t *ret_n)
{
        *ret_n = ELEMENTSOF(default_pools);
        return default_pools;
}

/* The first entry of avoid that overlaps c, or NULL. */
static const struct net_addr *overlapping(const struct net_addr *c, const struct net_addr *avoid,
                                          size_t n_avoid)
{
        for (size_t i = 0; i < n_avoid; i++)
                if (avoid[i].prefixlen > 0 && ipam_overlaps(c, &avoid[i]))
                        return &avoid[i];
        return NULL;
}

int ipam_pool_pick(const struct ipam_pool *pools, size_t n_pools, const struct net_addr *avoid,
                   size_t n_avoid, struct net_addr *ret, struct berth_error **err)
{
        char b[IPAM_ADDRSTRLEN];
        int family = n_pools ? pools[0].base.family : AF_INET;
        for (size_t p = 0; p < n_pools; p++) {
                const struct ipam_pool *pool = &pools[p];
                int r = check_prefix(&pool->base, "address pool", err);
                if (r < 0)
                        return r;
                if (pool->size < pool->base.prefixlen ||
                    pool->size > ipam_family_bits(pool->base.family))
                        return berth_error_set(err, EINVAL, "address pool %s: size %u out of range",
                                               ipam_format_cidr(&pool->base, b),
                                               (unsigned)pool->size);
                struct net_addr base = ipam_network(&pool->base);
                u128 end = to_int(&base) | host_mask(base.family, base.prefixlen);
                u128 c = to_int(&base);
                for (;;) {
                        struct net_addr cand = from_int(base.family, c, pool->size);
                        const struct net_addr *x = overlapping(&cand, avoid, n_avoid);
                        if (!x) {
                                *ret = cand;
                                return 0;
                        }
                        /* past x when it covers the candidate, else past the candidate */
                        u128 last = x->prefixlen <= pool->size
                                        ? to_int(x) | host_mask(x->family, x->prefixlen)
                                        : c | host_mask(base.family, pool->size);
                        if (last >= end)
                                break;
                        c = last + 1;
                }
        }
        return berth_error_set(err, ENOSPC,
                               "could not find an available, non-overlapping IPv%d address pool "
                               "among the defaults to assign to the network",
                               family == AF_INET6 ? 6 : 4);
}

int ipam_pool_pick_host(struct net_link *nl, const struct ipam_pool *pools, size_t n_pools,
                        const struct net_addr *extra, size_t n_extra, struct net_addr *ret,
                        struct berth_error **err)
{
        _cleanup_free_ struct net_addr *routes = NULL, *addrs = NULL, *all = NULL;
        size_t n_routes = 0, n_addrs = 0;
        int r = net_link_route_list(nl, AF_UNSPEC, &routes, &n_routes, err);
        if (r >= 0)
                r = net_link_addr_list(nl, NULL, &addrs, &n_addrs, err);
        if (r < 0)
                return berth_error_prefix(err, "choose a subnet");
        size_t n = n_routes + n_addrs + n_extra;
        all = xcalloc(n ? n : 1, sizeof(*all));
        if (n_routes)
                memcpy(all, routes, n_routes * sizeof(*all));
        if (n_addrs)
                memcpy(all + n_routes, addrs, n_addrs * sizeof(*all));
        if (n_extra)
                memcpy(all + n_routes + n_addrs, extra, n_extra * sizeof(*all));
        return ipam_pool_pick(pools, n_pools, all, n, ret, err);
}
