/*
 * firewall.h — berth's packet filtering and NAT in nftables (libnftables):
 * forwarding and masquerade for each bridge network, isolation between
 * networks, and published ports (DNAT from any host address, from the host's
 * loopback, and hairpin from a container back to its own published port).
 *
 * All of berth's rules live in one table of its own (family inet), named by the
 * caller ("berth" in berthd; tests use their own names in their own network
 * namespaces), plus a table of the same name in family bridge whose one rule
 * enforces icc=false between containers of one bridge (frames switched by the
 * bridge never reach the inet forward hook unless br_netfilter is on).  net_fw_open() replaces that
 * table whole in one transaction, so rules a killed daemon left behind are gone before the engine
 * re-adds what its live containers need.  Nothing outside that table is changed, except where
 * another firewall would drop berth's forwarded traffic (iptables-nft's FORWARD chain with policy
 * DROP, as a running dockerd sets it): there the accept rules for berth's bridges are added to that
 * chain (DOCKER-USER when it exists) and removed again by net_fw_network_del() /
 * net_fw_close(remove).
 *
 * Every call is one transaction: it applies whole or not at all, and a failure
 * reads "nftables: add port 8080/tcp -> 172.17.0.2:80: <libnftables' words>".
 *
 * A handle is used by one thread at a time.
 *
 * Never: flush or delete a table or chain berth did not create; leave a rule
 * for a network or port after its _del call returned 0.
 */
#ifndef BERTH_NET_FIREWALL_H
#define BERTH_NET_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "net/ipam.h"

struct net_fw;

/*
 * Replace (or create) the tables `inet <table>` and `bridge <table>` with
 * berth's empty base chains, sets and maps, in the network namespace netns_fd
 * (< 0: the caller's; the fd is only used during the call, as in
 * net_link_open()).  table: letters, digits, '-', '_', '.'; at most 64 bytes.
 * The handle keeps a netlink socket that libnftables waits on with select(),
 * which aborts the process for an fd >= FD_SETSIZE (1024): open it while the
 * process holds few fds (berthd: at start, before any container is restored).
 */
int net_fw_open(int netns_fd, const char *table, struct net_fw **ret, struct berth_error **err);
/* Free the handle; remove: delete the table and anything added elsewhere. */
int net_fw_close(struct net_fw *fw, bool remove, struct berth_error **err);

struct net_fw_network {
        const char *bridge;             /* the bridge's name, e.g. "berth0" */
        const struct net_addr *subnets; /* IPv4 and/or IPv6 subnets of the network */
        size_t n_subnets;
        bool masquerade; /* SNAT traffic leaving for other interfaces */
        bool icc;        /* containers of this network may talk to each other */
        bool internal;   /* no traffic in or out of the bridge except among it */
};

/*
 * Rules for one bridge network: forward out (unless internal) and replies back
 * in, masquerade, icc, and isolation from every other berth network (packets
 * from one berth bridge to another are dropped).  Adding a bridge that is
 * already there replaces its rules.
 */
int net_fw_network_add(struct net_fw *fw, const struct net_fw_network *n, struct berth_error **err);
int net_fw_network_del(struct net_fw *fw, const char *bridge, struct berth_error **err);

struct net_fw_port {
        int proto;               /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
        struct net_addr host_ip; /* family 0: every host address (of host_ip's family: both) */
        uint16_t host_port;
        struct net_addr ctr_ip; /* the container's address (family decides IPv4 or IPv6) */
        uint16_t ctr_port;
        const char *bridge; /* the bridge the container's address is on */
};

/*
 * DNAT host_ip:host_port to ctr_ip:ctr_port: from other hosts and namespaces,
 * from the host itself (its own addresses and 127.0.0.1, which needs
 * route_localnet on the bridge: the caller sets it), and hairpin (a container
 * of the bridge reaching its own or a neighbour's published port through a
 * host address).  A container reaching its own port that way needs hairpin
 * mode on its bridge port where br_netfilter is on (the DNATed frame is
 * bridged back out of the port it came in on): the caller sets it, as it sets
 * route_localnet.  The values are map elements, so an add or del is one
 * element in one small transaction; net_fw_port_del() takes the same values
 * (-ENOENT when the port was not added).  IPv6 loopback (::1) cannot be
 * DNATed to a container; bridge is not needed by the rules (hairpin and
 * loopback masquerade cover every berth bridge) and is kept for messages and
 * future per-bridge state.
 */
int net_fw_port_add(struct net_fw *fw, const struct net_fw_port *p, struct berth_error **err);
int net_fw_port_del(struct net_fw *fw, const struct net_fw_port *p, struct berth_error **err);

#endif
