/*
 * link.h — network links, addresses and routes over rtnetlink (libmnl): the
 * bridge, the veth pairs and the addresses that put a container on a network.
 *
 * How it works: a struct net_link is one NETLINK_ROUTE socket bound to one
 * network namespace.  Every operation is one request and its answer on that
 * socket, in the caller's thread; requests ask for an ACK and for the kernel's
 * extended ACK, so a failure reads
 *   "add address 10.0.0.2/24 to 'eth0': file exists"
 *   "create veth 'vb1a2b3c' (peer 'eth0'): invalid argument (kernel: <its own words>)"
 * naming the interface, the errno of the kernel's NLMSG_ERROR and, when the
 * kernel gives one, its extended ACK message.  Links are named by the caller and
 * looked up in the socket's namespace on each call (RTM_GETLINK by name).
 *
 * Namespaces: net_link_open(netns_fd) creates the socket inside the namespace
 * netns_fd refers to, from a short-lived thread that calls setns(CLONE_NEWNET)
 * and exits; a netlink socket stays bound to the namespace it was created in,
 * so the caller's threads never change namespace, even for a moment, and
 * nothing has to be switched back (a failure to switch back cannot leave a
 * daemon thread stranded in a container's namespace).  netns_fd < 0 means the
 * caller's own namespace.  The fd is only used during the call.
 *
 * A handle is used by one thread at a time.  Names are at most IFNAMSIZ-1
 * (15) bytes; longer ones are refused before the kernel sees them.
 *
 * Never: shell out to ip(8); act on a link the caller did not name (no
 * wildcard deletes); keep a thread in another namespace after a call returns.
 */
#ifndef BERTH_NET_LINK_H
#define BERTH_NET_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "net/ipam.h"

struct net_link;

/* An rtnetlink socket in the namespace netns_fd (< 0: the caller's). */
int net_link_open(int netns_fd, struct net_link **ret, struct berth_error **err);
void net_link_free(struct net_link *nl);
static inline void net_link_freep(struct net_link **nl)
{
        int saved = errno;
        net_link_free(*nl);
        errno = saved;
}
#define _cleanup_net_link_ _cleanup_(net_link_freep)

/* ifindex of name; -ENODEV when there is no such link. */
int net_link_index(struct net_link *nl, const char *name, int *ret_index, struct berth_error **err);

/* A bridge, down; mtu 0 keeps the kernel's default.  -EEXIST if name exists. */
int net_link_bridge_add(struct net_link *nl, const char *name, unsigned mtu,
                        struct berth_error **err);
/*
 * A veth pair: name in nl's namespace, peer created directly inside the
 * namespace peer_netns_fd (< 0: nl's own).  mtu 0: the kernel's default.
 */
int net_link_veth_add(struct net_link *nl, const char *name, const char *peer, int peer_netns_fd,
                      unsigned mtu, struct berth_error **err);
/*
 * The same in one request, with what a container's endpoint needs at once:
 * the host end enslaved to master (NULL: none) and up, the peer with its MAC
 * (NULL: the kernel's random one).  The peer cannot be brought up in the same
 * request (the kernel configures it before the pair is joined: ENOTCONN).
 */
struct net_veth_opts {
        unsigned mtu;            /* 0: the kernel's default */
        const char *master;      /* bridge for the host end, or NULL */
        bool up;                 /* host end up */
        const uint8_t *peer_mac; /* 6 bytes, or NULL */
};
int net_link_veth_add_opts(struct net_link *nl, const char *name, const char *peer,
                           int peer_netns_fd, const struct net_veth_opts *o,
                           struct berth_error **err);
/* Delete a link (for a veth, its peer goes with it). */
int net_link_del(struct net_link *nl, const char *name, struct berth_error **err);

/* Enslave name to the bridge master (NULL: release it from its master). */
int net_link_set_master(struct net_link *nl, const char *name, const char *master,
                        struct berth_error **err);
int net_link_set_up(struct net_link *nl, const char *name, bool up, struct berth_error **err);
/* Hairpin mode of a bridge port: frames may leave by the port they came in on. */
int net_link_set_hairpin(struct net_link *nl, const char *name, bool on, struct berth_error **err);
int net_link_set_mtu(struct net_link *nl, const char *name, unsigned mtu, struct berth_error **err);
int net_link_set_mac(struct net_link *nl, const char *name, const uint8_t mac[6],
                     struct berth_error **err);
/* Rename a link (do it while down: older kernels refuse an up one with EBUSY). */
int net_link_rename(struct net_link *nl, const char *name, const char *new_name,
                    struct berth_error **err);

enum net_addr_flags {
        /* IPv6: skip duplicate address detection (the address is usable at once). */
        NET_ADDR_NODAD = 1 << 0,
};
/* Add addr (address and prefix) to name; IPv4 gets its broadcast address. */
int net_link_addr_add(struct net_link *nl, const char *name, const struct net_addr *addr,
                      enum net_addr_flags flags, struct berth_error **err);
int net_link_addr_del(struct net_link *nl, const char *name, const struct net_addr *addr,
                      struct berth_error **err);
/*
 * The addresses of name (NULL: of every link), both families, in the kernel's
 * order; *ret is malloc'd (NULL when there are none).
 */
int net_link_addr_list(struct net_link *nl, const char *name, struct net_addr **ret, size_t *ret_n,
                       struct berth_error **err);

/* A default route via gateway (same family) out of name, in the main table. */
int net_link_route_add_default(struct net_link *nl, const char *name,
                               const struct net_addr *gateway, struct berth_error **err);
/*
 * Destinations of the main table's routes of family (AF_INET, AF_INET6 or
 * AF_UNSPEC for both), default routes as prefix length 0; *ret malloc'd.
 */
int net_link_route_list(struct net_link *nl, int family, struct net_addr **ret, size_t *ret_n,
                        struct berth_error **err);

#endif
