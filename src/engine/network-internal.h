/*
 * network-internal.h — what networks.c (records, bridges, the API's calls) and
 * network-endpoints.c (containers on networks) share.  Everything here is
 * under struct berth_networks' lock unless it says otherwise.
 */
#ifndef BERTH_ENGINE_NETWORK_INTERNAL_H
#define BERTH_ENGINE_NETWORK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "base/json.h"
#include "config.h"
#include "net/firewall.h"
#include "net/ipam.h"
#include "net/link.h"
#include "net/proxy.h"
#include "networks.h"

struct net_dns;

struct bnet {
        char id[65];
        char *name;
        char *driver;      /* "bridge", "host" or "null" */
        int64_t created_ns;
        struct json *doc;  /* the inspect document without Containers (the row's) */
        char *bridge;      /* the Linux bridge (bridge driver), else NULL */
        struct ipam_subnet sub[2]; /* IPv4 first, then IPv6 when enabled */
        size_t n_sub;
        bool internal, icc, masq, ipv6, is_default;
        unsigned mtu;
        struct json *active; /* container id -> {Name, EndpointID, MacAddress, IPv4Address, IPv6Address} */
        struct json *names;  /* container id -> the names it answers to here (DNS) */
};

/* A published host port held for a running container. */
struct port_hold {
        struct port_hold *next;
        char ctr[65];
        int fd;                 /* the bound socket that reserves it, or -1 */
        struct net_fw_port fw;  /* fw.bridge points at bridge[] */
        char bridge[16];
        bool in_fw;
        uint64_t proxy_id; /* served by the userland proxy (0: not) */
};

struct berth_networks {
        pthread_mutex_t lock;
        struct bnet **v;
        size_t n, cap;
        struct net_link *nl;     /* the host's namespace */
        struct net_fw *fw;       /* NULL with iptables: false */
        struct net_proxy *proxy; /* serves published ports without fw; made at the first */
        struct net_dns *dns;     /* the embedded DNS server, or NULL */
        struct port_hold *holds;
        struct berth_config *cfg;
};

struct bnet *bnet_find_locked(struct berth_networks *ns, const char *ref);
/* The network a NetworkMode names ("default" -> bridge), or NULL. */
struct bnet *bnet_for_mode_locked(struct berth_networks *ns, const char *mode);
/* 64 random hex digits. */
void net_random_id(char out[65]);
/* A container's address on n as "a.b.c.d/len" text helpers. */
int bnet_fw_rules(struct berth_networks *ns, struct bnet *n, struct berth_error **err);

/* network-endpoints.c: the embedded DNS server's answers (callbacks of net/dns.h). */
int ctr_net_dns_lookup(void *ud, const char *key, const char *name, int family,
                       struct net_addr **ret, size_t *ret_n);
int ctr_net_dns_reverse(void *ud, const char *key, const struct net_addr *addr, char **ret_name);

/* network-endpoints.c: wire or unwire one network of a running container. */
int ctr_net_connect_running(struct berth_engine *e, struct berth_ctr *c, struct bnet *n,
                            const struct json *epc, struct berth_error **err);
int ctr_net_disconnect_running(struct berth_engine *e, struct berth_ctr *c, struct bnet *n,
                               struct berth_error **err);

#endif
