/*
 * network-endpoints.c — containers on networks (contract in networks.h).
 *
 * c->net (under the container table's lock, saved with the state) holds what
 * a running container has:
 *   {"Networks": {"<name>": {NetworkID, EndpointID, Gateway, IPAddress,
 *                 IPPrefixLen, IPv6Gateway, GlobalIPv6Address,
 *                 GlobalIPv6PrefixLen, MacAddress, IfName, HostIf, Aliases}},
 *    "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}] or null}}
 * ctr_net_prepare() builds it (addresses from each network's allocator, host
 * ports reserved by binding a socket to them, so a port another program or
 * container holds is an error before anything runs), ctr_net_wire_begin() and
 * ctr_net_wire_end() make it real in the container's namespace,
 * ctr_net_release() gives everything back.  The first network is the primary
 * one: it gets eth0, the default route and the published ports, as dockerd's.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <semaphore.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "container-internal.h"
#include "net/dns.h"
#include "network-internal.h"

static const char *mode_of(const struct berth_ctr *c)
{
        const char *m = json_str(json_get(c->host_config, "NetworkMode"));
        return m && *m ? m : "default";
}

int ctr_net_check_create(struct berth_engine *e, struct json *hc, struct json *networking,
                         struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        const char *mode = json_str(json_get(hc, "NetworkMode"));
        if (!mode || !*mode)
                mode = "default";
        /* host and none are listed too (dockerd's NetworkSettings.Networks; disconnect) */
        if (!ns || strncmp(mode, "container:", 10) == 0)
                return 0;
        pthread_mutex_lock(&ns->lock);
        int r = 0;
        struct bnet *n = bnet_for_mode_locked(ns, mode);
        /* a network that does not exist is dockerd's error at start, not at create */
        if (n && (strcmp(n->driver, "host") == 0 || strcmp(n->driver, "null") == 0))
                json_set_str(hc, "NetworkMode", strcmp(n->driver, "host") == 0 ? "host" : "none");
        /* EndpointsConfig keyed by network name ("default" is "bridge"), with its id,
         * and listing the NetworkMode's network: the networks the container is on */
        const struct json *epcs = json_get(networking, "EndpointsConfig");
        struct json *norm = json_new_object();
        const char *first = n ? n->name : strcmp(mode, "default") == 0 ? "bridge" : mode;
        const struct json *fe = json_get(epcs, mode);
        if (!fe)
                fe = json_get(epcs, first);
        struct json *frec = json_is(fe, JSON_OBJECT) ? json_copy(fe) : json_new_object();
        if (n)
                json_set_str(frec, "NetworkID", n->id);
        if (n || strcmp(mode, "default") != 0)
                json_object_set(norm, first, frec);
        else
                json_free(frec);
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (epcs, i, k, v) {
                if (r < 0)
                        break;
                struct bnet *en = bnet_for_mode_locked(ns, k);
                if (!en) {
                        if (strcmp(k, "default") != 0 && !json_get(norm, k))
                                json_object_set(norm, k, json_copy(v));
                        continue;
                }
                if (json_get(norm, en->name))
                        continue;
                struct json *rec = json_is(v, JSON_OBJECT) ? json_copy(v) : json_new_object();
                json_set_str(rec, "NetworkID", en->id);
                json_object_set(norm, en->name, rec);
        }
        pthread_mutex_unlock(&ns->lock);
        if (r == 0 && json_is(networking, JSON_OBJECT))
                json_object_set(networking, "EndpointsConfig", norm);
        else
                json_free(norm);
        return r;
}

/* ---- building an endpoint ---- */

static void mac_for(const struct net_addr *ip, char out[18])
{
        /* dockerd before 26: 02:42 and the IPv4 address */
        snprintf(out, 18, "02:42:%02x:%02x:%02x:%02x", ip->bytes[0], ip->bytes[1], ip->bytes[2],
                 ip->bytes[3]);
}

static int parse_mac(const char *s, uint8_t out[6])
{
        unsigned v[6];
        char tail;
        if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &tail) != 6)
                return -EINVAL;
        for (int i = 0; i < 6; i++)
                out[i] = (uint8_t)v[i];
        return 0;
}

static void random_ifname(char out[16])
{
        char id[65];
        net_random_id(id);
        snprintf(out, 16, "veth%.7s", id);
}

/* Give back what ep (an endpoint of c->net) took from n. */
static void endpoint_release(struct bnet *n, const char *ctr_id, const struct json *ep)
{
        const char *ip = json_str(json_get(ep, "IPAddress"));
        const char *ip6 = json_str(json_get(ep, "GlobalIPv6Address"));
        struct net_addr a;
        for (size_t i = 0; i < n->n_sub; i++) {
                if (ip && *ip && ipam_parse_addr(ip, &a, NULL) == 0 &&
                    a.family == n->sub[i].subnet.family)
                        (void)ipam_addr_release(&n->sub[i], &a);
                if (ip6 && *ip6 && ipam_parse_addr(ip6, &a, NULL) == 0 &&
                    a.family == n->sub[i].subnet.family)
                        (void)ipam_addr_release(&n->sub[i], &a);
        }
        json_object_del(n->active, ctr_id);
        json_object_del(n->names, ctr_id);
}

/* An endpoint on n for c: addresses (the wanted ones when epc asks), MAC, names. */
static int endpoint_new(struct bnet *n, const struct berth_ctr *c, const struct json *epc,
                        unsigned index, bool primary, struct json **ret, struct berth_error **err)
{
        const struct json *ipam_cfg = json_get(epc, "IPAMConfig");
        const char *want4 = json_str(json_get(ipam_cfg, "IPv4Address"));
        const char *want6 = json_str(json_get(ipam_cfg, "IPv6Address"));
        struct json *ep = json_new_object();
        json_set_str(ep, "NetworkID", n->id);
        char id[65];
        net_random_id(id);
        json_set_str(ep, "EndpointID", id);
        char b[IPAM_ADDRSTRLEN];
        struct net_addr got4 = {0}, got6 = {0};
        int r = 0;
        for (size_t i = 0; r == 0 && i < n->n_sub; i++) {
                struct ipam_subnet *s = &n->sub[i];
                bool v4 = s->subnet.family == AF_INET;
                if ((v4 && got4.family) || (!v4 && got6.family))
                        continue;
                const char *want = v4 ? want4 : want6;
                struct net_addr w, got;
                if (want && *want && ipam_parse_addr(want, &w, err) < 0) {
                        r = -EINVAL;
                        break;
                }
                if (want && *want && !ipam_contains(&s->subnet, &w))
                        continue;
                r = ipam_addr_alloc(s, want && *want ? &w : NULL, &got, err);
                if (r == 0) {
                        if (v4)
                                got4 = got;
                        else
                                got6 = got;
                }
        }
        if (r == 0 && want4 && *want4 && !got4.family)
                r = berth_error_set(err, EINVAL,
                                    "no configured subnet or ip-range contain the IP address %s",
                                    want4);
        if (r == 0 && !got4.family && n->n_sub)
                r = berth_error_set(err, ENOSPC, "no available IPv4 addresses on network %s",
                                    n->name);
        if (r < 0) {
                endpoint_release(n, c->id, ep); /* ep has no address yet: nothing */
                for (size_t i = 0; i < n->n_sub; i++) {
                        if (got4.family == n->sub[i].subnet.family)
                                (void)ipam_addr_release(&n->sub[i], &got4);
                        if (got6.family && got6.family == n->sub[i].subnet.family)
                                (void)ipam_addr_release(&n->sub[i], &got6);
                }
                json_free(ep);
                return r;
        }
        struct net_addr gw4 = {0}, gw6 = {0};
        for (size_t i = 0; i < n->n_sub; i++) {
                if (n->sub[i].subnet.family == AF_INET && !gw4.family)
                        gw4 = n->sub[i].gateway;
                if (n->sub[i].subnet.family == AF_INET6 && !gw6.family)
                        gw6 = n->sub[i].gateway;
        }
        json_set_str(ep, "Gateway", gw4.family ? ipam_format_addr(&gw4, b) : "");
        json_set_str(ep, "IPAddress", got4.family ? ipam_format_addr(&got4, b) : "");
        json_set_int(ep, "IPPrefixLen", got4.family ? got4.prefixlen : 0);
        json_set_str(ep, "IPv6Gateway", gw6.family ? ipam_format_addr(&gw6, b) : "");
        json_set_str(ep, "GlobalIPv6Address", got6.family ? ipam_format_addr(&got6, b) : "");
        json_set_int(ep, "GlobalIPv6PrefixLen", got6.family ? got6.prefixlen : 0);
        const char *mac = json_str(json_get(epc, "MacAddress"));
        if ((!mac || !*mac) && primary)
                mac = json_str(json_get(c->config, "MacAddress"));
        char macbuf[18];
        if (!mac || !*mac) {
                mac_for(&got4, macbuf);
                mac = macbuf;
        }
        json_set_str(ep, "MacAddress", mac);
        char ifname[16], hostif[16];
        snprintf(ifname, sizeof(ifname), "eth%u", index);
        random_ifname(hostif);
        json_set_str(ep, "IfName", ifname);
        json_set_str(ep, "HostIf", hostif);
        const struct json *aliases = json_get(epc, "Aliases");
        json_object_set(ep, "Aliases", json_is(aliases, JSON_ARRAY) ? json_copy(aliases)
                                                                    : json_new_null());
        *ret = ep;
        return 0;
}

static void active_add(struct bnet *n, const struct berth_ctr *c, const struct json *ep)
{
        struct json *a = json_new_object();
        json_set_str(a, "Name", c->name + 1);
        json_set_str(a, "EndpointID", json_str(json_get(ep, "EndpointID")) ?: "");
        json_set_str(a, "MacAddress", json_str(json_get(ep, "MacAddress")) ?: "");
        char b[IPAM_ADDRSTRLEN + 8];
        const char *ip = json_str(json_get(ep, "IPAddress"));
        if (ip && *ip)
                snprintf(b, sizeof(b), "%s/%lld", ip, (long long)json_get(ep, "IPPrefixLen")->num.i);
        else
                b[0] = '\0';
        json_set_str(a, "IPv4Address", b);
        const char *ip6 = json_str(json_get(ep, "GlobalIPv6Address"));
        if (ip6 && *ip6)
                snprintf(b, sizeof(b), "%s/%lld", ip6,
                         (long long)json_get(ep, "GlobalIPv6PrefixLen")->num.i);
        else
                b[0] = '\0';
        json_set_str(a, "IPv6Address", b);
        json_object_set(n->active, c->id, a);
        /* what the embedded DNS answers for it here: its name, its short id and its
         * aliases (compose's service name among them), as dockerd's */
        struct json *names = json_new_array();
        json_array_append(names, json_new_string(c->name + 1));
        char shortid[13];
        snprintf(shortid, sizeof(shortid), "%.12s", c->id);
        json_array_append(names, json_new_string(shortid));
        size_t i;
        const struct json *al;
        json_array_foreach (json_get(ep, "Aliases"), i, al)
                if (json_str(al))
                        json_array_append(names, json_new_string(json_str(al)));
        json_object_set(n->names, c->id, names);
}

/* ---- published ports ---- */

static int proto_num(const char *p)
{
        if (!p || strcmp(p, "tcp") == 0)
                return IPPROTO_TCP;
        if (strcmp(p, "udp") == 0)
                return IPPROTO_UDP;
        if (strcmp(p, "sctp") == 0)
                return IPPROTO_SCTP;
        return -1;
}

/* Published ports are the userland proxy's: no firewall rules, and the proxy not turned off. */
static bool proxied(const struct berth_networks *ns)
{
        return !ns->fw && ns->cfg->userland_proxy != 0;
}

/* Bind a socket to ip:port (port 0: the kernel picks one) to hold it; *ret_port the port.
 * proxied: the userland proxy will listen on it. */
static int reserve_port(int proto, const struct net_addr *ip, uint16_t port, bool proxied,
                        uint16_t *ret_port, int *ret_fd)
{
        int fam = ip->family ? ip->family : AF_INET;
        int type = proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
        int fd = socket(fam, type | SOCK_CLOEXEC, proto == IPPROTO_SCTP ? IPPROTO_SCTP : 0);
        if (fd < 0)
                return -errno;
        /* connections the userland proxy accepted on it may linger in TIME_WAIT: they must
         * not keep the port from its next hold (a listening socket still does; a hold that
         * is not listened on must stay exclusive, so only a proxied one asks this) */
        int on = 1;
        if (proxied && type == SOCK_STREAM)
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        struct sockaddr_storage ss = {0};
        socklen_t len;
        if (fam == AF_INET) {
                struct sockaddr_in *s = (struct sockaddr_in *)&ss;
                s->sin_family = AF_INET;
                s->sin_port = htons(port);
                if (ip->family)
                        memcpy(&s->sin_addr, ip->bytes, 4);
                len = sizeof(*s);
        } else {
                struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
                s->sin6_family = AF_INET6;
                s->sin6_port = htons(port);
                memcpy(&s->sin6_addr, ip->bytes, 16);
                int one = 1;
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                len = sizeof(*s);
        }
        /* a proxied TCP hold listens at once, so that no other hold can take the port */
        if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
            (proxied && type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
                int r = -errno;
                close(fd);
                return r;
        }
        len = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &len);
        *ret_port = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
        *ret_fd = fd;
        return 0;
}

static void holds_drop(struct berth_networks *ns, const char *ctr_id)
{
        for (struct port_hold **pp = &ns->holds; *pp;) {
                struct port_hold *p = *pp;
                if (strcmp(p->ctr, ctr_id) != 0) {
                        pp = &p->next;
                        continue;
                }
                if (p->in_fw && ns->fw) {
                        p->fw.bridge = p->bridge;
                        struct berth_error *er = NULL;
                        if (net_fw_port_del(ns->fw, &p->fw, &er) < 0)
                                log_warn("container %.12s: %s", ctr_id, berth_error_msg(er));
                        berth_error_free(er);
                }
                if (p->proxy_id && ns->proxy)
                        net_proxy_del(ns->proxy, p->proxy_id);
                if (p->fd >= 0)
                        close(p->fd);
                *pp = p->next;
                free(p);
        }
}

/* "8000-8010" or "8080" or "" into lo..hi (0..0 for any). */
static int parse_port_range(const char *s, unsigned *lo, unsigned *hi)
{
        if (!s || !*s) {
                *lo = *hi = 0;
                return 0;
        }
        char *end;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (*end == '-')
                b = strtoul(end + 1, &end, 10);
        if (*end || a > 65535 || b > 65535 || b < a)
                return -EINVAL;
        *lo = (unsigned)a;
        *hi = (unsigned)b;
        return 0;
}

/* One binding of key ("80/tcp"): reserve, record in ports, hold for the firewall. */
static int publish_one(struct berth_networks *ns, const struct berth_ctr *c, struct bnet *n,
                       const struct net_addr *ctr_ip, const char *key, const struct json *bnd,
                       struct json *list, struct berth_error **err)
{
        _cleanup_free_ char *k = xstrdup(key);
        char *slash = strchr(k, '/');
        const char *proto_s = slash ? slash + 1 : "tcp";
        if (slash)
                *slash = '\0';
        int proto = proto_num(proto_s);
        unsigned cport = (unsigned)strtoul(k, NULL, 10);
        if (proto < 0 || !cport || cport > 65535)
                return berth_error_set(err, EINVAL, "invalid port specification: \"%s\"", key);
        const char *hip = json_str(json_get(bnd, "HostIp"));
        const char *hport = json_str(json_get(bnd, "HostPort"));
        struct net_addr host_ip = {0};
        if (hip && *hip && ipam_parse_addr(hip, &host_ip, NULL) < 0)
                return berth_error_set(err, EINVAL, "invalid host IP address: %s", hip);
        if (host_ip.family && host_ip.family != ctr_ip->family)
                return 0; /* an IPv6 host address for an IPv4-only container: nothing to map */
        unsigned lo, hi;
        if (parse_port_range(hport, &lo, &hi) < 0)
                return berth_error_set(err, EINVAL, "invalid host port: %s", hport);
        uint16_t got = 0;
        int fd = -1, r = -EADDRINUSE;
        for (unsigned p = lo; p <= hi; p++) {
                r = reserve_port(proto, &host_ip, (uint16_t)p, proxied(ns), &got, &fd);
                if (r != -EADDRINUSE)
                        break;
        }
        char ipb[IPAM_ADDRSTRLEN];
        const char *shown = host_ip.family ? ipam_format_addr(&host_ip, ipb) : "0.0.0.0";
        if (r < 0) {
                _cleanup_free_ char *ports = lo == hi ? xasprintf("%u", lo)
                                                      : xasprintf("%u-%u", lo, hi);
                if (r == -EADDRINUSE)
                        return berth_error_set(err, EADDRINUSE,
                                               "driver failed programming external connectivity "
                                               "on endpoint %s (%.64s): Bind for %s:%s failed: "
                                               "port is already allocated",
                                               c->name + 1, c->id, shown, ports);
                return berth_error_set(err, -r, "publish %s:%s/%s: %s", shown, ports, proto_s,
                                       strerror(-r));
        }
        struct port_hold *h = xcalloc(1, sizeof(*h));
        snprintf(h->ctr, sizeof(h->ctr), "%s", c->id);
        h->fd = fd;
        snprintf(h->bridge, sizeof(h->bridge), "%s", n->bridge);
        h->fw.proto = proto;
        h->fw.host_ip = host_ip;
        h->fw.host_port = got;
        h->fw.ctr_ip = *ctr_ip;
        h->fw.ctr_port = (uint16_t)cport;
        h->next = ns->holds;
        ns->holds = h;
        struct json *o = json_array_append(list, json_new_object());
        json_set_str(o, "HostIp", shown);
        char pb[8];
        snprintf(pb, sizeof(pb), "%u", got);
        json_set_str(o, "HostPort", pb);
        return 0;
}

/* Ports: PortBindings, and with PublishAllPorts every exposed port not bound. */
static int publish_ports(struct berth_networks *ns, const struct berth_ctr *c, struct bnet *n,
                         const struct json *ep, struct json *ports, struct berth_error **err)
{
        struct net_addr ctr_ip;
        const char *ip = json_str(json_get(ep, "IPAddress"));
        if (!ip || !*ip || ipam_parse_addr(ip, &ctr_ip, NULL) < 0)
                return 0;
        const struct json *bindings = json_get(c->host_config, "PortBindings");
        bool all = json_is(json_get(c->host_config, "PublishAllPorts"), JSON_BOOL) &&
                   json_get(c->host_config, "PublishAllPorts")->b;
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (json_get(c->config, "ExposedPorts"), i, k, v) {
                if (!json_get(bindings, k))
                        json_object_set(ports, k, json_new_null());
        }
        json_object_foreach (bindings, i, k, v) {
                struct json *list = json_object_set(ports, k, json_new_array());
                size_t j;
                const struct json *b;
                json_array_foreach (v, j, b) {
                        int r = publish_one(ns, c, n, &ctr_ip, k, b, list, err);
                        if (r < 0)
                                return r;
                }
                if (!json_len(list) && !json_is(v, JSON_ARRAY)) {
                        struct json *any = json_new_object();
                        int r = publish_one(ns, c, n, &ctr_ip, k, any, list, err);
                        json_free(any);
                        if (r < 0)
                                return r;
                }
        }
        if (all) {
                json_object_foreach (json_get(c->config, "ExposedPorts"), i, k, v) {
                        if (json_get(bindings, k))
                                continue;
                        struct json *list = json_object_set(ports, k, json_new_array());
                        struct json *any = json_new_object();
                        int r = publish_one(ns, c, n, &ctr_ip, k, any, list, err);
                        json_free(any);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- prepare / attach / release ---- */

/*
 * The networks c is on, primary first: name -> EndpointsConfig entry.  Since
 * create, EndpointsConfig lists them (the NetworkMode one included; connect
 * and disconnect change the list); a record without the key is on its
 * NetworkMode's network alone.
 */
static struct json *wanted_networks(struct berth_networks *ns, const struct berth_ctr *c,
                                    struct berth_error **err)
{
        const char *mode = mode_of(c);
        struct json *out = json_new_object();
        struct bnet *p = bnet_for_mode_locked(ns, mode);
        const struct json *epcs = json_get(c->networking, "EndpointsConfig");
        if (!json_is(epcs, JSON_OBJECT)) {
                if (!p && strcmp(mode, "default") == 0)
                        return out; /* no default bridge: loopback only */
                if (!p) {
                        json_free(out);
                        berth_error_set(err, ENOENT, "network %s not found", mode);
                        return NULL;
                }
                if (p->bridge)
                        json_object_set(out, p->name, json_new_null());
                return out;
        }
        size_t i;
        const char *k;
        const struct json *v;
        if (p && p->bridge && json_get(epcs, p->name))
                json_object_set(out, p->name, json_copy(json_get(epcs, p->name)));
        json_object_foreach (epcs, i, k, v) {
                struct bnet *n = bnet_for_mode_locked(ns, k);
                if (!n && strcmp(k, "bridge") == 0 && strcmp(mode, "default") == 0)
                        continue; /* no default bridge: loopback only */
                if (!n) {
                        json_free(out);
                        berth_error_set(err, ENOENT, "network %s not found", k);
                        return NULL;
                }
                if (json_get(out, n->name) || !n->bridge)
                        continue;
                json_object_set(out, n->name, json_copy(v));
        }
        return out;
}

static void release_locked(struct berth_networks *ns, const char *ctr_id, const struct json *net)
{
        holds_drop(ns, ctr_id);
        size_t i;
        const char *k;
        const struct json *ep;
        json_object_foreach (json_get(net, "Networks"), i, k, ep) {
                struct bnet *n = bnet_find_locked(ns, json_str(json_get(ep, "NetworkID")));
                if (!n)
                        log_warn("container %.12s: network %s is gone", ctr_id, k);
                else
                        endpoint_release(n, ctr_id, ep);
        }
}

int ctr_net_prepare(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        struct ctr_manager *m = ctr_mgr(e);
        const char *mode = mode_of(c);
        /* none: unless a network was connected since (disconnected from none first) */
        if (!ns || strcmp(mode, "host") == 0 || strncmp(mode, "container:", 10) == 0)
                return 0;
        pthread_mutex_lock(&ns->lock);
        _cleanup_json_ struct json *want = wanted_networks(ns, c, err);
        _cleanup_json_ struct json *net = json_new_object();
        struct json *eps = json_object_set(net, "Networks", json_new_object());
        struct json *ports = json_object_set(net, "Ports", json_new_object());
        int r = want ? 0 : -ENOENT;
        size_t i;
        const char *k;
        const struct json *epc;
        json_object_foreach (want, i, k, epc) {
                struct bnet *n = bnet_find_locked(ns, k);
                struct json *ep = NULL;
                r = endpoint_new(n, c, epc, (unsigned)i, i == 0, &ep, err);
                if (r < 0)
                        break;
                json_object_set(eps, n->name, ep);
                if (i == 0 && !n->internal)
                        r = publish_ports(ns, c, n, ep, ports, err);
                if (r < 0)
                        break;
        }
        if (r < 0)
                release_locked(ns, c->id, net);
        pthread_mutex_unlock(&ns->lock);
        if (r < 0)
                return r;
        pthread_mutex_lock(&m->lock);
        json_free(c->net);
        /* none, or no default bridge: nothing to hold, loopback only */
        c->net = json_len(eps) ? TAKE_PTR(net) : NULL;
        pthread_mutex_unlock(&m->lock);
        return 0;
}

/* Wire one endpoint into the namespace nsfd (nl_c: a handle inside it). */
static int wire_endpoint(struct berth_networks *ns, struct bnet *n, struct net_link *nl_c,
                         int nsfd, const struct json *ep, bool primary, struct berth_error **err)
{
        const char *hostif = json_str(json_get(ep, "HostIf"));
        const char *ifname = json_str(json_get(ep, "IfName"));
        uint8_t mac[6];
        const char *macs = json_str(json_get(ep, "MacAddress"));
        /* one request: the pair, the host end on the bridge and up, the peer's MAC */
        const struct net_veth_opts vo = {
            .mtu = n->mtu ? n->mtu : (unsigned)ns->cfg->mtu,
            .master = n->bridge,
            .up = true,
            .peer_mac = macs && parse_mac(macs, mac) == 0 ? mac : NULL,
        };
        int r = net_link_veth_add_opts(ns->nl, hostif, ifname, nsfd, &vo, err);
        /* a container reaching its own published port through a host address: the
         * DNATed packet goes back out of the port it came in on */
        if (r == 0)
                r = net_link_set_hairpin(ns->nl, hostif, true, err);
        struct net_addr a;
        const char *ip = json_str(json_get(ep, "IPAddress"));
        if (r == 0 && ip && *ip && ipam_parse_addr(ip, &a, NULL) == 0) {
                a.prefixlen = (uint8_t)json_get(ep, "IPPrefixLen")->num.i;
                r = net_link_addr_add(nl_c, ifname, &a, 0, err);
        }
        const char *ip6 = json_str(json_get(ep, "GlobalIPv6Address"));
        if (r == 0 && ip6 && *ip6 && ipam_parse_addr(ip6, &a, NULL) == 0) {
                a.prefixlen = (uint8_t)json_get(ep, "GlobalIPv6PrefixLen")->num.i;
                r = net_link_addr_add(nl_c, ifname, &a, NET_ADDR_NODAD, err);
        }
        if (r == 0)
                r = net_link_set_up(nl_c, ifname, true, err);
        if (r == 0 && primary && !n->internal) {
                const char *gw = json_str(json_get(ep, "Gateway"));
                if (gw && *gw && ipam_parse_addr(gw, &a, NULL) == 0)
                        r = net_link_route_add_default(nl_c, ifname, &a, err);
                const char *gw6 = json_str(json_get(ep, "IPv6Gateway"));
                if (r == 0 && gw6 && *gw6 && ip6 && *ip6 && ipam_parse_addr(gw6, &a, NULL) == 0)
                        r = net_link_route_add_default(nl_c, ifname, &a, err);
        }
        return r;
}

static int add_port_rules_locked(struct berth_networks *ns, const char *ctr_id,
                                 struct berth_error **err)
{
        for (struct port_hold *p = ns->holds; p; p = p->next) {
                if (strcmp(p->ctr, ctr_id) != 0)
                        continue;
                if (proxied(ns) && !p->proxy_id && p->fd >= 0) {
                        int r = ns->proxy ? 0 : net_proxy_new(&ns->proxy, err);
                        if (r == 0)
                                r = net_proxy_add(ns->proxy, p->fw.proto, p->fd, &p->fw.ctr_ip,
                                                  p->fw.ctr_port, &p->proxy_id, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (p->in_fw || !ns->fw)
                        continue;
                p->fw.bridge = p->bridge;
                int r = net_fw_port_add(ns->fw, &p->fw, err);
                if (r < 0)
                        return r;
                p->in_fw = true;
        }
        return 0;
}

/* The embedded DNS server for c when its resolv.conf names it (a user network). */
static int dns_add(struct berth_engine *e, struct berth_ctr *c, int nsfd,
                   struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        if (!ctr_net_uses_dns(e, c))
                return 0;
        /* the server's thread starts with the first container that needs it */
        pthread_mutex_lock(&ns->lock);
        int r = 0;
        if (!ns->dns) {
                struct net_dns_config dc = {
                    .cb = {.lookup = ctr_net_dns_lookup, .reverse = ctr_net_dns_reverse, .ud = e},
                };
                r = net_dns_new(&dc, &ns->dns, err);
        }
        pthread_mutex_unlock(&ns->lock);
        if (r < 0)
                return r;
        struct berth_buf ignored = BERTH_BUF_INIT;
        char **ups = NULL;
        ctr_resolv_conf(e, c, false, &ignored, &ups);
        buf_release(&ignored);
        size_t n = 0;
        while (ups && ups[n])
                n++;
        struct net_addr *addrs = xcalloc(n + 1, sizeof(*addrs));
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (ipam_parse_addr(ups[i], &addrs[k], NULL) == 0)
                        k++;
        strv_free(ups);
        r = net_dns_add(ns->dns, c->id, nsfd, addrs, k, err);
        free(addrs);
        return r;
}

static int open_netns(pid_t pid, int *ret_fd, struct berth_error **err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_sys(err, errno, "open '%s'", path);
        *ret_fd = fd;
        return 0;
}

/*
 * Wiring a starting container's network namespace: berthd makes the namespace
 * (a thread of its own unshares it, so the rest of berthd stays where it is)
 * and the runtime joins it by the path of our fd, as it joins another
 * container's.  The namespace exists before the spec is written; the veths,
 * addresses and routes go in while the shim and runtime make the container,
 * off the start's serial path.
 */
struct ctr_net_wiring {
        struct berth_engine *e;
        struct berth_ctr *c;
        struct json *net; /* a copy of c->net */
        pthread_t thread;
        sem_t made; /* posted when nsfd (or made_r) is known */
        int made_r; /* the namespace's making, before made is posted */
        int r;      /* the whole wiring's, once joined */
        bool joined, made_known;
        struct berth_error *err;
        int nsfd;
        char path[64];
};

static int wire_networks(struct ctr_net_wiring *w, struct net_link *nl_c)
{
        struct berth_networks *ns = w->e->networks;
        int r = net_link_set_up(nl_c, "lo", true, &w->err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&ns->lock);
        size_t i;
        const char *k;
        const struct json *ep;
        json_object_foreach (json_get(w->net, "Networks"), i, k, ep) {
                struct bnet *n = bnet_find_locked(ns, json_str(json_get(ep, "NetworkID")));
                if (!n) {
                        r = berth_error_set(&w->err, ENOENT, "network %s not found", k);
                        break;
                }
                r = wire_endpoint(ns, n, nl_c, w->nsfd, ep, i == 0, &w->err);
                if (r < 0) {
                        r = berth_error_set(&w->err, -r, "network %s: %s", k,
                                            berth_error_msg(w->err));
                        break;
                }
                active_add(n, w->c, ep);
        }
        if (r == 0)
                r = add_port_rules_locked(ns, w->c->id, &w->err);
        pthread_mutex_unlock(&ns->lock);
        return r;
}

static void *wiring_main(void *arg)
{
        struct ctr_net_wiring *w = arg;
        int r = 0;
        /* this thread's namespace only: the rest of berthd stays in the host's */
        if (unshare(CLONE_NEWNET) < 0)
                r = berth_error_sys(&w->err, errno, "create a network namespace");
        if (r == 0) {
                w->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
                if (w->nsfd < 0)
                        r = berth_error_sys(&w->err, errno, "open '/proc/thread-self/ns/net'");
        }
        w->made_r = r;
        sem_post(&w->made);
        if (r == 0) {
                struct net_link *nl_c = NULL;
                r = net_link_open(-1, &nl_c, &w->err);
                if (r == 0)
                        r = wire_networks(w, nl_c);
                net_link_free(nl_c);
        }
        w->r = r;
        return NULL;
}

int ctr_net_wire_begin(struct berth_engine *e, struct berth_ctr *c, struct ctr_net_wiring **ret,
                       struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        *ret = NULL;
        const char *mode = mode_of(c);
        if (!e->networks || strcmp(mode, "host") == 0 || strncmp(mode, "container:", 10) == 0)
                return 0;
        pthread_mutex_lock(&m->lock);
        struct json *net = c->net ? json_copy(c->net) : NULL;
        pthread_mutex_unlock(&m->lock);
        /* none: the runtime makes the namespace, with its loopback up */
        if (!net || json_len(json_get(net, "Networks")) == 0) {
                json_free(net);
                return 0;
        }
        struct ctr_net_wiring *w = xcalloc(1, sizeof(*w));
        w->e = e;
        w->c = c;
        w->net = net;
        w->nsfd = -1;
        sem_init(&w->made, 0, 0);
        int r = pthread_create(&w->thread, NULL, wiring_main, w);
        if (r != 0) {
                sem_destroy(&w->made);
                json_free(w->net);
                free(w);
                return berth_error_sys(err, r, "container %.12s: network thread", c->id);
        }
        *ret = w;
        return 0;
}

int ctr_net_wire_path(struct ctr_net_wiring *w, const char **ret, struct berth_error **err)
{
        if (!w->made_known) {
                while (sem_wait(&w->made) < 0 && errno == EINTR)
                        ;
                w->made_known = true;
        }
        if (w->made_r < 0)
                return berth_error_set(err, -w->made_r, "container %.12s: %s", w->c->id,
                                       berth_error_msg(w->err));
        if (!w->path[0])
                snprintf(w->path, sizeof(w->path), "/proc/%d/fd/%d", (int)getpid(), w->nsfd);
        *ret = w->path;
        return 0;
}

static int wire_join(struct ctr_net_wiring *w)
{
        if (!w->joined) {
                pthread_join(w->thread, NULL);
                w->joined = true;
        }
        return w->r;
}

int ctr_net_wire_wait(struct ctr_net_wiring *w, struct berth_error **err)
{
        int r = wire_join(w);
        return r < 0 ? berth_error_set(err, -r, "%s", berth_error_msg(w->err)) : 0;
}

int ctr_net_wire_end(struct berth_engine *e, struct berth_ctr *c, struct ctr_net_wiring *w,
                     bool wanted, struct berth_error **err)
{
        if (!w)
                return 0;
        int r = wanted ? ctr_net_wire_wait(w, err) : wire_join(w);
        if (r == 0 && wanted)
                r = dns_add(e, c, w->nsfd, err);
        berth_error_free(w->err);
        if (w->nsfd >= 0)
                close(w->nsfd);
        sem_destroy(&w->made);
        json_free(w->net);
        free(w);
        return wanted ? r : 0;
}

void ctr_net_release(struct berth_engine *e, struct berth_ctr *c)
{
        struct berth_networks *ns = e->networks;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        struct json *net = TAKE_PTR(c->net);
        pthread_mutex_unlock(&m->lock);
        if (!ns) {
                json_free(net);
                return;
        }
        pthread_mutex_lock(&ns->lock);
        struct net_dns *dns = ns->dns; /* once made, it stays until berthd stops */
        pthread_mutex_unlock(&ns->lock);
        if (dns)
                (void)net_dns_remove(dns, c->id); /* -ENOENT: it had none */
        pthread_mutex_lock(&ns->lock);
        release_locked(ns, c->id, net);
        pthread_mutex_unlock(&ns->lock);
        json_free(net);
}

void ctr_net_restore(struct berth_engine *e, struct berth_ctr *c)
{
        struct berth_networks *ns = e->networks;
        struct ctr_manager *m = ctr_mgr(e);
        if (!ns)
                return;
        pthread_mutex_lock(&m->lock);
        _cleanup_json_ struct json *net = c->net ? json_copy(c->net) : NULL;
        pthread_mutex_unlock(&m->lock);
        if (!net)
                return;
        pthread_mutex_lock(&ns->lock);
        size_t i;
        const char *k;
        const struct json *ep;
        struct net_addr ctr_ip = {0};
        struct bnet *primary = NULL;
        json_object_foreach (json_get(net, "Networks"), i, k, ep) {
                struct bnet *n = bnet_find_locked(ns, json_str(json_get(ep, "NetworkID")));
                if (!n)
                        continue;
                const char *addrs[] = {json_str(json_get(ep, "IPAddress")),
                                       json_str(json_get(ep, "GlobalIPv6Address"))};
                for (size_t a = 0; a < 2; a++) {
                        struct net_addr want, got;
                        if (!addrs[a] || !*addrs[a] || ipam_parse_addr(addrs[a], &want, NULL) < 0)
                                continue;
                        if (a == 0 && i == 0)
                                ctr_ip = want;
                        for (size_t s = 0; s < n->n_sub; s++)
                                if (ipam_contains(&n->sub[s].subnet, &want))
                                        (void)ipam_addr_alloc(&n->sub[s], &want, &got, NULL);
                }
                if (i == 0)
                        primary = n;
                active_add(n, c, ep);
        }
        /* published ports: hold them again and put their rules back */
        json_object_foreach (json_get(net, "Ports"), i, k, ep) {
                size_t j;
                const struct json *b;
                json_array_foreach (ep, j, b) {
                        if (!primary || !ctr_ip.family)
                                break;
                        _cleanup_free_ char *key = xstrdup(k);
                        char *slash = strchr(key, '/');
                        if (slash)
                                *slash = '\0';
                        struct port_hold *h = xcalloc(1, sizeof(*h));
                        snprintf(h->ctr, sizeof(h->ctr), "%s", c->id);
                        snprintf(h->bridge, sizeof(h->bridge), "%s", primary->bridge);
                        h->fw.proto = proto_num(slash ? slash + 1 : "tcp");
                        const char *hip = json_str(json_get(b, "HostIp"));
                        if (hip && strcmp(hip, "0.0.0.0") != 0)
                                (void)ipam_parse_addr(hip, &h->fw.host_ip, NULL);
                        h->fw.host_port =
                            (uint16_t)strtoul(json_str(json_get(b, "HostPort")) ?: "0", NULL, 10);
                        h->fw.ctr_ip = ctr_ip;
                        h->fw.ctr_port = (uint16_t)strtoul(key, NULL, 10);
                        uint16_t got;
                        h->fd = -1;
                        if (reserve_port(h->fw.proto, &h->fw.host_ip, h->fw.host_port,
                                         proxied(ns), &got, &h->fd) < 0)
                                log_warn("container %.12s: port %s:%u is taken by another "
                                         "program since berthd stopped",
                                         c->id, hip ? hip : "", h->fw.host_port);
                        h->next = ns->holds;
                        ns->holds = h;
                }
        }
        struct berth_error *er = NULL;
        if (add_port_rules_locked(ns, c->id, &er) < 0)
                log_warn("container %.12s: %s", c->id, berth_error_msg(er));
        berth_error_free(TAKE_PTR(er));
        pthread_mutex_unlock(&ns->lock);
        pthread_mutex_lock(&m->lock);
        pid_t pid = c->pid;
        pthread_mutex_unlock(&m->lock);
        _cleanup_close_ int nsfd = -EBADF;
        if (pid && open_netns(pid, &nsfd, &er) == 0 && dns_add(e, c, nsfd, &er) < 0)
                log_warn("container %.12s: %s", c->id, berth_error_msg(er));
        berth_error_free(er);
}

/* ---- inspect ---- */

static struct json *endpoint_settings(const struct json *epc, const struct json *ep)
{
        struct json *e = json_new_object();
        const struct json *ipam = json_get(epc, "IPAMConfig");
        json_object_set(e, "IPAMConfig", json_is(ipam, JSON_OBJECT) ? json_copy(ipam)
                                                                    : json_new_null());
        const struct json *links = json_get(epc, "Links");
        json_object_set(e, "Links", json_is(links, JSON_ARRAY) ? json_copy(links)
                                                               : json_new_null());
        const struct json *al = json_get(epc, "Aliases");
        json_object_set(e, "Aliases", json_is(al, JSON_ARRAY) ? json_copy(al) : json_new_null());
        const char *strs[] = {"NetworkID", "EndpointID", "Gateway", "IPAddress"};
        for (size_t i = 0; i < ELEMENTSOF(strs); i++) {
                const char *v = json_str(json_get(ep, strs[i]));
                if (!v && i == 0)
                        v = json_str(json_get(epc, "NetworkID"));
                json_set_str(e, strs[i], v ? v : "");
        }
        json_set_int(e, "IPPrefixLen", json_is(json_get(ep, "IPPrefixLen"), JSON_NUMBER)
                                           ? json_get(ep, "IPPrefixLen")->num.i
                                           : 0);
        json_set_str(e, "IPv6Gateway", json_str(json_get(ep, "IPv6Gateway")) ?: "");
        json_set_str(e, "GlobalIPv6Address", json_str(json_get(ep, "GlobalIPv6Address")) ?: "");
        json_set_int(e, "GlobalIPv6PrefixLen",
                     json_is(json_get(ep, "GlobalIPv6PrefixLen"), JSON_NUMBER)
                         ? json_get(ep, "GlobalIPv6PrefixLen")->num.i
                         : 0);
        json_set_str(e, "MacAddress", json_str(json_get(ep, "MacAddress")) ?: "");
        const struct json *dopts = json_get(epc, "DriverOpts");
        json_object_set(e, "DriverOpts", json_is(dopts, JSON_OBJECT) ? json_copy(dopts)
                                                                     : json_new_null());
        return e;
}

struct json *ctr_net_settings_json(struct berth_ctr *c, bool summary)
{
        const char *mode = mode_of(c);
        struct json *nets = json_new_object();
        const struct json *running = json_get(c->net, "Networks");
        const struct json *epcs = json_get(c->networking, "EndpointsConfig");
        if (strncmp(mode, "container:", 10) != 0) {
                const char *primary = strcmp(mode, "default") == 0 ? "bridge" : mode;
                size_t i;
                const char *k;
                const struct json *ep;
                /* running: the endpoints it has; else the networks it is configured on */
                if (running) {
                        json_object_foreach (running, i, k, ep) {
                                const struct json *epc = json_get(epcs, k);
                                if (!epc && i == 0)
                                        epc = json_get(epcs, mode);
                                json_object_set(nets, k, endpoint_settings(epc, ep));
                        }
                } else if (json_is(epcs, JSON_OBJECT)) {
                        json_object_foreach (epcs, i, k, ep)
                                json_object_set(nets, k, endpoint_settings(ep, NULL));
                } else {
                        json_object_set(nets, primary, endpoint_settings(NULL, NULL));
                }
        }
        if (summary)
                return nets;
        struct json *ns = json_new_object();
        const struct json *first = NULL;
        if (running && json_len(running) && strcmp(mode, "none") != 0)
                first = running->obj.m[0].value;
        json_set_str(ns, "Bridge", "");
        json_set_str(ns, "SandboxID", "");
        json_set_bool(ns, "HairpinMode", false);
        json_set_str(ns, "LinkLocalIPv6Address", "");
        json_set_int(ns, "LinkLocalIPv6PrefixLen", 0);
        const struct json *ports = json_get(c->net, "Ports");
        json_object_set(ns, "Ports", json_is(ports, JSON_OBJECT) ? json_copy(ports)
                                                                 : json_new_object());
        char key[64] = "";
        if (c->pid && (c->state == CTR_RUNNING || c->state == CTR_PAUSED))
                snprintf(key, sizeof(key), "/proc/%d/ns/net", (int)c->pid);
        json_set_str(ns, "SandboxKey", key);
        json_object_set(ns, "SecondaryIPAddresses", json_new_null());
        json_object_set(ns, "SecondaryIPv6Addresses", json_new_null());
        struct json *fe = endpoint_settings(NULL, first);
        static const char *const copy[] = {"EndpointID",        "Gateway",
                                           "GlobalIPv6Address", "GlobalIPv6PrefixLen",
                                           "IPAddress",         "IPPrefixLen",
                                           "IPv6Gateway",       "MacAddress"};
        for (size_t i = 0; i < ELEMENTSOF(copy); i++)
                json_object_set(ns, copy[i], json_copy(json_get(fe, copy[i])));
        json_free(fe);
        json_object_set(ns, "Networks", nets);
        return ns;
}

struct json *ctr_net_ports_summary(struct berth_ctr *c)
{
        struct json *out = json_new_array();
        const struct json *ports = json_get(c->net, "Ports");
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (ports, i, k, v) {
                unsigned priv = (unsigned)strtoul(k, NULL, 10);
                const char *slash = strchr(k, '/');
                const char *type = slash ? slash + 1 : "tcp";
                if (!json_len(v)) {
                        struct json *o = json_array_append(out, json_new_object());
                        json_set_int(o, "PrivatePort", priv);
                        json_set_str(o, "Type", type);
                        continue;
                }
                size_t j;
                const struct json *b;
                json_array_foreach (v, j, b) {
                        struct json *o = json_array_append(out, json_new_object());
                        json_set_str(o, "IP", json_str(json_get(b, "HostIp")) ?: "");
                        json_set_int(o, "PrivatePort", priv);
                        json_set_int(o, "PublicPort",
                                     strtol(json_str(json_get(b, "HostPort")) ?: "0", NULL, 10));
                        json_set_str(o, "Type", type);
                }
        }
        if (!ports) {
                json_object_foreach (json_get(c->config, "ExposedPorts"), i, k, v) {
                        struct json *o = json_array_append(out, json_new_object());
                        json_set_int(o, "PrivatePort", (int64_t)strtoul(k, NULL, 10));
                        const char *slash = strchr(k, '/');
                        json_set_str(o, "Type", slash ? slash + 1 : "tcp");
                }
        }
        return out;
}

/* ---- connect / disconnect ---- */

int ctr_net_connect_running(struct berth_engine *e, struct berth_ctr *c, struct bnet *n,
                            const struct json *epc, struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        pid_t pid = c->pid;
        unsigned index = (unsigned)json_len(json_get(c->net, "Networks"));
        bool have = c->net != NULL;
        pthread_mutex_unlock(&m->lock);
        if (!pid || !have)
                return 0;
        struct json *ep = NULL;
        int r = endpoint_new(n, c, epc, index, false, &ep, err);
        if (r < 0)
                return r;
        _cleanup_close_ int nsfd = -EBADF;
        _cleanup_net_link_ struct net_link *nl_c = NULL;
        r = open_netns(pid, &nsfd, err);
        if (r == 0)
                r = net_link_open(nsfd, &nl_c, err);
        if (r == 0)
                r = wire_endpoint(ns, n, nl_c, nsfd, ep, false, err);
        if (r < 0) {
                endpoint_release(n, c->id, ep);
                json_free(ep);
                return r;
        }
        active_add(n, c, ep);
        pthread_mutex_lock(&m->lock);
        json_object_set((struct json *)json_get(c->net, "Networks"), n->name, ep);
        pthread_mutex_unlock(&m->lock);
        return 0;
}

int ctr_net_disconnect_running(struct berth_engine *e, struct berth_ctr *c, struct bnet *n,
                               struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        pid_t pid = c->pid;
        const struct json *ep0 = json_get(json_get(c->net, "Networks"), n->name);
        _cleanup_json_ struct json *ep = ep0 ? json_copy(ep0) : NULL;
        pthread_mutex_unlock(&m->lock);
        if (!ep)
                return 0;
        int r = 0;
        if (pid) {
                _cleanup_close_ int nsfd = -EBADF;
                _cleanup_net_link_ struct net_link *nl_c = NULL;
                r = open_netns(pid, &nsfd, err);
                if (r == 0)
                        r = net_link_open(nsfd, &nl_c, err);
                if (r == 0)
                        r = net_link_del(nl_c, json_str(json_get(ep, "IfName")), err);
                if (r == -ENODEV) {
                        berth_error_free(TAKE_PTR(*err));
                        r = 0;
                }
        }
        if (r < 0)
                return r;
        (void)ns;
        endpoint_release(n, c->id, ep);
        pthread_mutex_lock(&m->lock);
        json_object_del((struct json *)json_get(c->net, "Networks"), n->name);
        pthread_mutex_unlock(&m->lock);
        return 0;
}

#define ERR_HOST_NETWORK "container cannot be disconnected from host network or connected to host network"
#define ERR_SHARED_NETWORK                                                                          \
        "container sharing network namespace with another container or host cannot be "            \
        "connected to any other network"
#define ERR_NO_NETWORK                                                                              \
        "container cannot be connected to multiple networks with one of the networks in private "  \
        "(none) mode"

/* Whether c is on n (EndpointsConfig lists it, or an old record's NetworkMode names it);
 * *conflict: dockerd's refusal of connecting c to n besides what it is on, or NULL. */
static bool ctr_on_network(struct berth_networks *ns, const struct berth_ctr *c,
                           const struct bnet *n, const char **conflict)
{
        const struct json *epcs = json_get(c->networking, "EndpointsConfig");
        bool on = json_get(json_get(c->net, "Networks"), n->name) != NULL;
        *conflict = NULL;
        if (!json_is(epcs, JSON_OBJECT)) {
                const struct bnet *o = bnet_for_mode_locked(ns, mode_of(c));
                return on || o == n;
        }
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (epcs, i, k, v) {
                const struct bnet *o = bnet_for_mode_locked(ns, k);
                (void)v;
                if (o == n)
                        return true;
                if (*conflict || !o)
                        continue;
                if (strcmp(o->driver, "host") == 0)
                        *conflict = ERR_SHARED_NETWORK;
                else if (strcmp(o->driver, "null") == 0 || strcmp(n->driver, "null") == 0)
                        *conflict = ERR_NO_NETWORK;
        }
        return on;
}

static bool ctr_is_running(struct ctr_manager *m, const struct berth_ctr *c)
{
        pthread_mutex_lock(&m->lock);
        bool running = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
        pthread_mutex_unlock(&m->lock);
        return running;
}

/*
 * A running container's first user network, connected: as dockerd, its
 * resolv.conf (a bind mount of the file, rewritten in place) now names the
 * embedded DNS server, which starts serving it.  Best effort: a failure is
 * logged, the connect stands.
 */
static void dns_after_connect(struct berth_engine *e, struct berth_ctr *c)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (!ctr_net_uses_dns(e, c))
                return;
        pthread_mutex_lock(&m->lock);
        pid_t pid = c->pid;
        pthread_mutex_unlock(&m->lock);
        _cleanup_free_ char *dir = ctr_data_dir(m, c);
        _cleanup_free_ char *path = xasprintf("%s/resolv.conf", dir);
        struct berth_buf b = BERTH_BUF_INIT;
        ctr_resolv_conf(e, c, false, &b, NULL);
        _cleanup_error_ struct berth_error *er = NULL;
        int w = write_file_at(AT_FDCWD, path, b.data ? b.data : "", b.len, 0644);
        buf_release(&b);
        _cleanup_close_ int nsfd = -EBADF;
        if (w < 0)
                log_warn("container %.12s: rewrite '%s': %s", c->id, path, strerror(-w));
        else if (pid && (open_netns(pid, &nsfd, &er) < 0 || dns_add(e, c, nsfd, &er) < 0))
                log_warn("container %.12s: %s", c->id, berth_error_msg(er));
}

/* The end of a connect or disconnect: unlock, and when it worked, save and tell. */
static int connect_done(struct berth_engine *e, struct berth_ctr *c, const struct bnet *n, int r,
                        const char *action)
{
        struct berth_networks *ns = e->networks;
        char id[65] = "";
        if (n)
                memcpy(id, n->id, sizeof(id));
        _cleanup_free_ char *name = n ? xstrdup(n->name) : NULL;
        pthread_mutex_unlock(&ns->lock);
        if (r == 0) {
                (void)ctr_save(e, c, NULL);
                ctr_save_state(e, c);
                const char *attrs[] = {"container", c->id, "name", name, "type", "bridge", NULL};
                berth_events_publish(e->events, "network", action, id, attrs);
        }
        pthread_mutex_unlock(&c->op_lock);
        return r;
}

int berth_network_connect(struct berth_engine *e, const char *net, const char *ctr,
                          const struct json *epc, struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        _cleanup_ctr_ struct berth_ctr *c = NULL;
        int r = berth_ctr_get(e, ctr, &c, err);
        if (r < 0)
                return r;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&c->op_lock);
        bool had_dns = ctr_net_uses_dns(e, c);
        pthread_mutex_lock(&ns->lock);
        struct bnet *n = bnet_find_locked(ns, net);
        const char *mode = mode_of(c);
        bool running = ctr_is_running(m, c), noop = false;
        /* dockerd's conflicts, 400 */
        if (!n)
                r = berth_error_set(err, ENOENT, "network %s not found", net);
        else if (strncmp(mode, "container:", 10) == 0)
                r = berth_error_set(err, EINVAL, ERR_SHARED_NETWORK);
        else if (strcmp(n->driver, "host") == 0)
                r = berth_error_set(err, EINVAL, ERR_HOST_NETWORK);
        if (r == 0) {
                const char *conflict;
                pthread_mutex_lock(&m->lock);
                bool already = ctr_on_network(ns, c, n, &conflict);
                pthread_mutex_unlock(&m->lock);
                /* a stopped container already on it: nothing to do, as dockerd */
                if (already && running)
                        r = berth_error_set(err, EPERM,
                                            "endpoint with name %s already exists in network %s",
                                            c->name + 1, n->name);
                else if (already)
                        noop = true;
                else if (conflict)
                        r = berth_error_set(err, EINVAL, "%s", conflict);
        }
        if (r == 0 && !noop && n->bridge)
                r = ctr_net_connect_running(e, c, n, epc, err);
        if (noop) {
                pthread_mutex_unlock(&ns->lock);
                pthread_mutex_unlock(&c->op_lock);
                return 0;
        }
        if (r == 0) {
                pthread_mutex_lock(&m->lock);
                if (!json_is(c->networking, JSON_OBJECT)) {
                        json_free(c->networking);
                        c->networking = json_new_object();
                }
                struct json *epcs = (struct json *)json_get(c->networking, "EndpointsConfig");
                if (!json_is(epcs, JSON_OBJECT))
                        epcs = json_object_set(c->networking, "EndpointsConfig", json_new_object());
                struct json *rec = json_is(epc, JSON_OBJECT) ? json_copy(epc) : json_new_object();
                json_set_str(rec, "NetworkID", n->id);
                json_object_set(epcs, n->name, rec);
                pthread_mutex_unlock(&m->lock);
        }
        r = connect_done(e, c, n, r, "connect");
        if (r == 0 && running && !had_dns)
                dns_after_connect(e, c);
        return r;
}

int berth_network_disconnect(struct berth_engine *e, const char *net, const char *ctr, bool force,
                             struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        _cleanup_ctr_ struct berth_ctr *c = NULL;
        int r = berth_ctr_get(e, ctr, &c, err);
        if (r < 0 && force) {
                /* dockerd then looks for an endpoint of that name on the network */
                berth_error_free(TAKE_PTR(*err));
                pthread_mutex_lock(&ns->lock);
                bool found = bnet_find_locked(ns, net) != NULL;
                pthread_mutex_unlock(&ns->lock);
                return found ? berth_error_set(err, ENOENT, "endpoint %s not found", ctr)
                             : berth_error_set(err, ENOENT, "network %s not found", net);
        }
        if (r < 0)
                return r;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&c->op_lock);
        pthread_mutex_lock(&ns->lock);
        struct bnet *n = bnet_find_locked(ns, net);
        bool running = ctr_is_running(m, c);
        /* a stopped container leaves any network it is on (host and none too);
         * a running one any but host, when that is its mode; dockerd's words and codes */
        if (!n && running)
                r = berth_error_set(err, ENOENT, "network %s not found", net);
        else if (running && strcmp(n->driver, "host") == 0 && strcmp(mode_of(c), "host") == 0)
                r = berth_error_set(err, EINVAL, ERR_HOST_NETWORK);
        if (r == 0) {
                const char *conflict;
                pthread_mutex_lock(&m->lock);
                bool on = n && ctr_on_network(ns, c, n, &conflict);
                pthread_mutex_unlock(&m->lock);
                if (!on && running)
                        r = berth_error_set(err, EIO, "container %s is not connected to network %s",
                                            c->id, n->name);
                else if (!on)
                        r = berth_error_set(err, EIO,
                                            "container %s is not connected to the network %s",
                                            c->id, net);
        }
        if (r == 0 && n->bridge)
                r = ctr_net_disconnect_running(e, c, n, err);
        if (r == 0) {
                pthread_mutex_lock(&m->lock);
                if (!json_is(c->networking, JSON_OBJECT)) {
                        json_free(c->networking);
                        c->networking = json_new_object();
                }
                struct json *epcs = (struct json *)json_get(c->networking, "EndpointsConfig");
                if (!json_is(epcs, JSON_OBJECT)) {
                        /* an old record: it was on its NetworkMode's network alone */
                        epcs = json_object_set(c->networking, "EndpointsConfig",
                                               json_new_object());
                } else {
                        json_object_del(epcs, n->name);
                }
                pthread_mutex_unlock(&m->lock);
        }
        return connect_done(e, c, n, r, "disconnect");
}
