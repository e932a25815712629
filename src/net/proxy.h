/*
 * proxy.h — berthd's userland proxy for published ports, for when it makes no
 * firewall rules (daemon.json "iptables": false, "userland-proxy" left on), as
 * dockerd's docker-proxy serves them then.
 *
 * One thread moves the bytes of every published port: TCP connections
 * accepted on the port's socket are joined to a new connection to the
 * container's address (the container sees the bridge's address as the peer),
 * each direction closed on its own (half-close) as the other side ends it;
 * UDP datagrams are sent on from one socket per client address, and the
 * answers sent back from the published port, a client forgotten after 90 s
 * without traffic (docker-proxy's timeout).  SCTP is not proxied.  At most
 * 4,096 TCP connections at once (32 KiB a direction each); more are refused.
 *
 * Thread safety: net_proxy_add/del from any thread.  Never: block the proxy
 * thread (every socket is non-blocking), or let a container's slowness stall
 * another's traffic (each connection has its own buffers).
 */
#pragma once

#include <stdint.h>

#include "base/error.h"
#include "net/ipam.h"

struct net_proxy;

int net_proxy_new(struct net_proxy **ret, struct berth_error **err);
/* Stops the thread, closes every port and connection; NULL is fine. */
void net_proxy_free(struct net_proxy *p);

/*
 * Serve the bound socket fd (a duplicate is kept; a TCP one is put to listen)
 * of protocol proto (IPPROTO_TCP or IPPROTO_UDP) by forwarding to to:to_port.
 * *ret_id names it for net_proxy_del.  -EPROTONOSUPPORT for another protocol.
 */
int net_proxy_add(struct net_proxy *p, int proto, int fd, const struct net_addr *to,
                  uint16_t to_port, uint64_t *ret_id, struct berth_error **err);
/* Stop serving it: its socket and every connection through it are closed. */
void net_proxy_del(struct net_proxy *p, uint64_t id);
