/*
 * ipam.h — addresses and subnets for berth's networks: parsing CIDRs, handing out
 * container addresses inside a subnet, and choosing a subnet for a new network
 * from docker's default address pools.
 *
 * Everything here is a pure function of its arguments except
 * ipam_pool_pick_host(), which asks the kernel (through net/link.h) which
 * prefixes the host already routes and then calls the pure ipam_pool_pick().
 * Addresses are kept as 128-bit integers inside (an IPv4 address in the low 32
 * bits) so that stepping, masking and comparing are plain arithmetic.
 *
 * An allocator (struct ipam_subnet) models one docker IPAM config entry:
 *   - Subnet: 172.17.0.0/16; its network address, its broadcast address (IPv4,
 *     prefixes up to /30) and its gateway are never handed out;
 *   - IPRange (--ip-range): dynamic allocation stays inside it, while a static
 *     address (--ip) may be anywhere in the subnet, as dockerd allows;
 *   - AuxiliaryAddresses (--aux-address): reserved, never handed out.
 * Dynamic allocation is serial, as dockerd's: it continues after the last
 * address handed out and wraps, so a released address is not reused at once (a
 * stale ARP entry or connection for a dead container does not hit a new one).
 * The allocator keeps its sets in sorted arrays, so an IPv6 /64 costs no more
 * memory than an IPv4 /24: only what is taken is stored.
 *
 * The allocator is not thread-safe and not persistent: the engine owns the
 * records (SQLite) and rebuilds an allocator from them at start by claiming
 * every recorded address with ipam_addr_alloc(..., want, ...).
 *
 * Never: hand out an address outside the subnet or one that is reserved; pick a
 * pool that overlaps a route or address the host already has (that would
 * black-hole the host's own traffic to it).
 */
#ifndef BERTH_NET_IPAM_H
#define BERTH_NET_IPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/error.h"

/* An address with a prefix length; family AF_INET (4 bytes used) or AF_INET6. */
struct net_addr {
        int family;
        uint8_t prefixlen;
        uint8_t bytes[16];
};

/* "255.255.255.255/32", "ffff:...:ffff/128" and a NUL fit. */
#define IPAM_ADDRSTRLEN 64

/* "10.1.2.3/24" or "fd00::1/64"; keeps host bits (an interface address). */
int ipam_parse_cidr(const char *s, struct net_addr *ret, struct berth_error **err);
/* "10.1.2.3" or "fd00::1"; prefixlen is the full width (32 or 128). */
int ipam_parse_addr(const char *s, struct net_addr *ret, struct berth_error **err);
/* "10.1.2.3/24" into buf (IPAM_ADDRSTRLEN bytes); returns buf. */
char *ipam_format_cidr(const struct net_addr *a, char *buf);
/* "10.1.2.3" (no prefix) into buf; returns buf. */
char *ipam_format_addr(const struct net_addr *a, char *buf);

/* Width of the family in bits: 32 or 128. */
unsigned ipam_family_bits(int family);
/* The network of a: host bits cleared, same prefix. */
struct net_addr ipam_network(const struct net_addr *a);
/* IPv4 broadcast of a's prefix (all host bits set); for IPv6, all host bits set too. */
struct net_addr ipam_last(const struct net_addr *a);
/* True when the address of b lies inside a's prefix (same family). */
bool ipam_contains(const struct net_addr *a, const struct net_addr *b);
/* True when the prefixes a and b share any address (same family). */
bool ipam_overlaps(const struct net_addr *a, const struct net_addr *b);
/* Same family, same address bytes (prefix lengths ignored). */
bool ipam_addr_equal(const struct net_addr *a, const struct net_addr *b);

/* One subnet's allocator (see the header comment). */
struct ipam_subnet {
        struct net_addr subnet;  /* network address, subnet prefix */
        struct net_addr gateway; /* prefixlen = subnet's */
        unsigned __int128 range_lo, range_hi, cursor;
        unsigned __int128 *reserved, *used; /* sorted, no duplicates */
        size_t n_reserved, n_used, cap_reserved, cap_used;
};

/*
 * subnet: the subnet (host bits are cleared); ip_range: NULL or a prefix inside it;
 * gateway: NULL for the first host address, else an address inside it (its prefix
 * length is ignored).  Errors name the value and say what is wrong with it.
 */
int ipam_subnet_init(struct ipam_subnet *s, const struct net_addr *subnet,
                     const struct net_addr *ip_range, const struct net_addr *gateway,
                     struct berth_error **err);
void ipam_subnet_release(struct ipam_subnet *s);
/* Reserve an auxiliary address (never handed out); -EINVAL outside the subnet. */
int ipam_subnet_reserve(struct ipam_subnet *s, const struct net_addr *addr,
                        struct berth_error **err);
/*
 * Hand out an address with the subnet's prefix length in *ret.  want == NULL:
 * the next free one in the range (-ENOSPC when none is left); else exactly want
 * (-EINVAL outside the subnet or on a reserved address, -EADDRINUSE if taken).
 */
int ipam_addr_alloc(struct ipam_subnet *s, const struct net_addr *want, struct net_addr *ret,
                    struct berth_error **err);
/* Give an address back; -ENOENT when it was not handed out. */
int ipam_addr_release(struct ipam_subnet *s, const struct net_addr *addr);

/* A default-address-pools entry: split base into subnets of prefix size. */
struct ipam_pool {
        struct net_addr base;
        uint8_t size;
};

/*
 * dockerd's default-address-pools: 172.17.0.0/16 … 172.31.0.0/16 as /16s, then
 * 192.168.0.0/16 as /20s.  Returns a static table of *ret_n entries.
 */
const struct ipam_pool *ipam_default_pools(size_t *ret_n);

/*
 * The first subnet carved from pools (in order) that overlaps none of avoid
 * (routes and addresses of the host, subnets of other networks).  Entries of
 * avoid with prefix length 0 (default routes) and of another family are
 * ignored.  -ENOSPC with docker's message when every subnet is taken.
 */
int ipam_pool_pick(const struct ipam_pool *pools, size_t n_pools, const struct net_addr *avoid,
                   size_t n_avoid, struct net_addr *ret, struct berth_error **err);

struct net_link;
/*
 * ipam_pool_pick() with avoid = the host's routes (main table) and interface
 * addresses as nl sees them, plus extra (berth's other networks).
 */
int ipam_pool_pick_host(struct net_link *nl, const struct ipam_pool *pools, size_t n_pools,
                        const struct net_addr *extra, size_t n_extra, struct net_addr *ret,
                        struct berth_error **err);

#endif
