/*
 * dns.h — the embedded DNS server containers on user-defined networks ask at
 * 127.0.0.11, as dockerd's: container names, aliases and services answered
 * from the engine's records, everything else forwarded to the host's
 * resolvers.
 *
 * How it works: one struct net_dns is one thread running an epoll loop in the
 * namespace that called net_dns_new() (berthd's own).  net_dns_add() gives it
 * one container: a UDP and a TCP socket bound to 127.0.0.11 on ports the
 * kernel chooses, created inside the container's network namespace (from a
 * short-lived thread that setns(CLONE_NEWNET)s and exits; a socket stays in the
 * namespace it was made in), and, in that namespace, an nftables table
 * `ip berth-dns` whose nat chains send 127.0.0.11:53 (udp, tcp) to those
 * ports and give the replies source port 53 — what dockerd does with iptables
 * DNAT/SNAT rules.  So port 53 itself stays free: a DNS server of the
 * container's own may bind 0.0.0.0:53.  Adding the same namespace again (a
 * daemon restart with live containers) replaces that table whole.
 *
 * A query is answered by net_dns_handle(), a pure function of the packet and
 * the engine's callbacks: A and AAAA of names the engine knows, PTR of their
 * addresses (TTL 600, as dockerd; several addresses rotate per query for round
 * robin); unknown single-label names get NXDOMAIN; anything else is forwarded
 * over UDP (TCP for a TCP client, and again over TCP when a UDP answer comes
 * back truncated) to the container's upstreams, one after another, from the
 * server's own namespace (so resolvers on the host's loopback work).  No
 * answer within the timeout: SERVFAIL.
 *
 * Threads: net_dns_add() and net_dns_remove() may be called from any thread.
 * The callbacks run on the server's thread, with no lock of ours held: they
 * may call net_dns_remove() but must not block for long (every container
 * waits on them).  After net_dns_remove() returns, no query that arrives is
 * answered: its sockets are out of the loop, closed as soon as the thread
 * drops them.
 *
 * Never: answer a packet that is itself a response (reflection loops); read
 * past a packet's end or follow a compression pointer that does not go
 * backwards; bind port 53 in a container's namespace; touch a table in that
 * namespace other than our own.
 */
#ifndef BERTH_NET_DNS_H
#define BERTH_NET_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "net/ipam.h"

/* dockerd's resolver address in every container on a user-defined network. */
#define NET_DNS_ADDR "127.0.0.11"
/* The TTL of local answers, as dockerd's. */
#define NET_DNS_TTL 600
/* The largest DNS message (TCP's 16-bit length). */
#define NET_DNS_MAX_MSG 65535

struct net_dns_callbacks {
        /*
         * Addresses of family (AF_INET or AF_INET6) of name as the container
         * `key` sees it.  name is lowercase, without a trailing dot.  0: known,
         * *ret (malloc'd, freed by us) holds *ret_n addresses, possibly none;
         * -ENOENT: not a name the engine knows; other < 0: SERVFAIL.
         */
        int (*lookup)(void *ud, const char *key, const char *name, int family,
                      struct net_addr **ret, size_t *ret_n);
        /*
         * The name of addr as the container `key` sees it (malloc'd, no
         * trailing dot), e.g. "web.mynet".  -ENOENT: unknown (forwarded).
         * NULL: every PTR query is forwarded.
         */
        int (*reverse)(void *ud, const char *key, const struct net_addr *addr, char **ret_name);
        void *ud;
};

/* --- the packet logic, pure --- */

enum net_dns_verdict {
        NET_DNS_DROP = 0, /* not answered at all (too short, or a response) */
        NET_DNS_REPLY,    /* out holds the answer */
        NET_DNS_FORWARD,  /* send the query as it is to an upstream */
};

/*
 * Decide what to do with the query q (qlen bytes) from container key, received
 * over TCP or UDP.  NET_DNS_REPLY: out (out_cap bytes, at least 512) holds
 * *ret_len bytes to send back.  NET_DNS_FORWARD: *ret_len is the largest answer
 * the client takes (512, or its EDNS0 size, capped by out_cap; out_cap for TCP).
 * rotate picks which address comes first in a round-robin answer.
 */
enum net_dns_verdict net_dns_handle(const struct net_dns_callbacks *cb, const char *key,
                                    uint32_t rotate, bool tcp, const uint8_t *q, size_t qlen,
                                    uint8_t *out, size_t out_cap, size_t *ret_len);
/*
 * An answer to q with no records and rcode (2 SERVFAIL, …), echoing q's
 * question when it has one; 0 when q is not a query worth answering.
 */
size_t net_dns_error_reply(const uint8_t *q, size_t qlen, int rcode, uint8_t *out, size_t out_cap);
/*
 * Cut the answer msg to at most limit bytes at a record boundary of its
 * answer section, with TC set; returns the new length (len when it fits).
 */
size_t net_dns_truncate(uint8_t *msg, size_t len, size_t limit);
/* Whether the answer a has the question of the query q (names compared case-insensitively). */
bool net_dns_same_question(const uint8_t *q, size_t qlen, const uint8_t *a, size_t alen);

/* --- the server --- */

struct net_dns;

struct net_dns_config {
        struct net_dns_callbacks cb;
        /* How long one upstream gets to answer before the next is tried; 0: 2000. */
        unsigned upstream_timeout_ms;
};

/* Start the server's thread (in the caller's network namespace). */
int net_dns_new(const struct net_dns_config *cfg, struct net_dns **ret, struct berth_error **err);
/* Stop the thread, close every socket.  The rules stay in their namespaces. */
void net_dns_free(struct net_dns *dns);
static inline void net_dns_freep(struct net_dns **dns)
{
        int saved = errno;
        net_dns_free(*dns);
        errno = saved;
}
#define _cleanup_net_dns_ _cleanup_(net_dns_freep)

/*
 * Serve 127.0.0.11:53 in the network namespace netns_fd (lo up) for container
 * key; upstreams (port 53, address only; prefixlen ignored) are tried in order.
 * -EEXIST when key is served already.  netns_fd is only used during the call.
 */
int net_dns_add(struct net_dns *dns, const char *key, int netns_fd,
                const struct net_addr *upstreams, size_t n_upstreams, struct berth_error **err);
/* Stop serving key (its rules go with its namespace); -ENOENT if not served. */
int net_dns_remove(struct net_dns *dns, const char *key);

#endif
