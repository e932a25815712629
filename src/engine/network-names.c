/*
 * network-names.c — the names a container is known by on its networks
 * (contract in networks.h): the embedded DNS server's answers (names, short
 * ids, aliases, PTR) for the networks the asker shares, /etc/hosts lines and
 * whether resolv.conf names 127.0.0.11, legacy --link, host-gateway, and a
 * rename followed everywhere.  Everything reads the networks' records under
 * their lock (network-internal.h); nothing here changes links or rules.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "container-internal.h"
#include "network-internal.h"

/* ---- the embedded DNS server's answers ---- */

static bool dns_network(const struct bnet *n)
{
        return n->bridge && !n->is_default; /* the default bridge has no name service */
}

int ctr_net_dns_lookup(void *ud, const char *key, const char *name, int family,
                       struct net_addr **ret, size_t *ret_n)
{
        struct berth_engine *e = ud;
        struct berth_networks *ns = e->networks;
        struct net_addr *v = NULL;
        size_t n_v = 0;
        bool known = false;
        pthread_mutex_lock(&ns->lock);
        for (size_t i = 0; i < ns->n; i++) {
                struct bnet *n = ns->v[i];
                if (!dns_network(n) || !json_get(n->active, key))
                        continue;
                size_t j;
                const char *id;
                const struct json *names;
                json_object_foreach (n->names, j, id, names) {
                        bool match = false;
                        for (size_t k = 0; k < json_len(names) && !match; k++)
                                match = strcasecmp(json_str(names->arr.items[k]) ?: "", name) == 0;
                        if (!match)
                                continue;
                        known = true;
                        const struct json *a = json_get(n->active, id);
                        const char *text = json_str(json_get(
                            a, family == AF_INET6 ? "IPv6Address" : "IPv4Address"));
                        struct net_addr addr;
                        if (!text || !*text || ipam_parse_cidr(text, &addr, NULL) < 0)
                                continue;
                        addr.prefixlen = (uint8_t)ipam_family_bits(addr.family);
                        v = xrealloc(v, (n_v + 1) * sizeof(*v));
                        v[n_v++] = addr;
                }
        }
        pthread_mutex_unlock(&ns->lock);
        if (!known) {
                free(v);
                return -ENOENT;
        }
        *ret = v;
        *ret_n = n_v;
        return 0;
}

int ctr_net_dns_reverse(void *ud, const char *key, const struct net_addr *addr, char **ret_name)
{
        struct berth_engine *e = ud;
        struct berth_networks *ns = e->networks;
        char *found = NULL;
        pthread_mutex_lock(&ns->lock);
        for (size_t i = 0; i < ns->n && !found; i++) {
                struct bnet *n = ns->v[i];
                if (!dns_network(n) || !json_get(n->active, key))
                        continue;
                size_t j;
                const char *id;
                const struct json *a;
                json_object_foreach (n->active, j, id, a) {
                        const char *keys[] = {"IPv4Address", "IPv6Address"};
                        for (size_t k = 0; k < 2 && !found; k++) {
                                struct net_addr have;
                                const char *text = json_str(json_get(a, keys[k]));
                                if (text && *text && ipam_parse_cidr(text, &have, NULL) == 0 &&
                                    ipam_addr_equal(&have, addr))
                                        found = xasprintf("%s.%s",
                                                          json_str(json_get(a, "Name")) ?: id,
                                                          n->name);
                        }
                        if (found)
                                break;
                }
        }
        pthread_mutex_unlock(&ns->lock);
        if (!found)
                return -ENOENT;
        *ret_name = found;
        return 0;
}

void ctr_net_hosts_lines(struct berth_engine *e, struct berth_ctr *c, const char *hostname,
                         struct berth_buf *b)
{
        (void)e;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        bool any = false;
        size_t i;
        const char *k;
        const struct json *ep;
        json_object_foreach (json_get(c->net, "Networks"), i, k, ep) {
                (void)k;
                const char *ip = json_str(json_get(ep, "IPAddress"));
                const char *ip6 = json_str(json_get(ep, "GlobalIPv6Address"));
                if (ip && *ip) {
                        buf_printf(b, "%s\t%s\n", ip, hostname);
                        any = true;
                }
                if (ip6 && *ip6) {
                        buf_printf(b, "%s\t%s\n", ip6, hostname);
                        any = true;
                }
        }
        pthread_mutex_unlock(&m->lock);
        if (!any)
                buf_printf(b, "127.0.1.1\t%s\n", hostname);
}

bool ctr_net_uses_dns(struct berth_engine *e, struct berth_ctr *c)
{
        struct ctr_manager *m = ctr_mgr(e);
        bool user = false;
        pthread_mutex_lock(&m->lock);
        size_t i;
        const char *k;
        const struct json *ep;
        json_object_foreach (json_get(c->net, "Networks"), i, k, ep)
                if (ep && strcmp(k, "bridge") != 0)
                        user = true;
        pthread_mutex_unlock(&m->lock);
        return user;
}

/* ---- legacy links ---- */

static void link_env(struct json *env, const char *alias, const char *me, const char *ip,
                     const struct berth_ctr *child)
{
        _cleanup_free_ char *up = xstrdup(alias);
        for (char *q = up; *q; q++)
                *q = *q == '-' ? '_' : (char)toupper((unsigned char)*q);
        _cleanup_free_ char *nm = xasprintf("%s_NAME=/%s/%s", up, me, alias);
        json_array_append(env, json_new_string(nm));
        /* ports in docker's order: by number, then protocol */
        const struct json *exposed = json_get(child->config, "ExposedPorts");
        size_t n = json_len(exposed), i;
        const char **keys = xcalloc(n + 1, sizeof(char *));
        const char *k;
        const struct json *v;
        size_t nk = 0;
        json_object_foreach (exposed, i, k, v)
                if (v)
                        keys[nk++] = k;
        for (size_t a = 0; a < nk; a++)
                for (size_t b = a + 1; b < nk; b++) {
                        unsigned pa = (unsigned)strtoul(keys[a], NULL, 10);
                        unsigned pb = (unsigned)strtoul(keys[b], NULL, 10);
                        if (pb < pa || (pb == pa && strcmp(keys[b], keys[a]) < 0)) {
                                const char *t = keys[a];
                                keys[a] = keys[b];
                                keys[b] = t;
                        }
                }
        for (size_t a = 0; a < nk; a++) {
                unsigned port = (unsigned)strtoul(keys[a], NULL, 10);
                const char *slash = strchr(keys[a], '/');
                _cleanup_free_ char *proto = xstrdup(slash ? slash + 1 : "tcp");
                _cleanup_free_ char *pup = xstrdup(proto);
                for (char *q = pup; *q; q++)
                        *q = (char)toupper((unsigned char)*q);
                if (a == 0) {
                        _cleanup_free_ char *e1 = xasprintf("%s_PORT=%s://%s:%u", up, proto, ip, port);
                        json_array_append(env, json_new_string(e1));
                }
                _cleanup_free_ char *pre = xasprintf("%s_PORT_%u_%s", up, port, pup);
                _cleanup_free_ char *e2 = xasprintf("%s=%s://%s:%u", pre, proto, ip, port);
                _cleanup_free_ char *e3 = xasprintf("%s_ADDR=%s", pre, ip);
                _cleanup_free_ char *e4 = xasprintf("%s_PORT=%u", pre, port);
                _cleanup_free_ char *e5 = xasprintf("%s_PROTO=%s", pre, proto);
                json_array_append(env, json_new_string(e2));
                json_array_append(env, json_new_string(e3));
                json_array_append(env, json_new_string(e4));
                json_array_append(env, json_new_string(e5));
        }
        free(keys);
        json_array_foreach (json_get(child->config, "Env"), i, v) {
                const char *s = json_str(v);
                const char *eq = s ? strchr(s, '=') : NULL;
                if (!eq || (eq - s == 4 && (strncmp(s, "HOME", 4) == 0 || strncmp(s, "PATH", 4) == 0)))
                        continue;
                _cleanup_free_ char *e6 = xasprintf("%s_ENV_%s", up, s);
                json_array_append(env, json_new_string(e6));
        }
}

int ctr_net_links(struct berth_engine *e, struct berth_ctr *c, struct berth_buf *hosts,
                  struct json *env, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        size_t i;
        const struct json *it;
        json_array_foreach (json_get(c->host_config, "Links"), i, it) {
                const char *spec = json_str(it);
                if (!spec || !*spec)
                        continue;
                /* "name:alias", "name", or dockerd's stored "/name:/me/alias" */
                _cleanup_free_ char *name = xstrdup(spec[0] == '/' ? spec + 1 : spec);
                char *colon = strchr(name, ':');
                const char *alias = name;
                if (colon) {
                        *colon = '\0';
                        alias = colon + 1;
                        const char *slash = strrchr(alias, '/');
                        if (slash)
                                alias = slash + 1;
                }
                _cleanup_ctr_ struct berth_ctr *child = NULL;
                if (berth_ctr_get(e, name, &child, NULL) < 0)
                        return berth_error_set(err, ENOENT, "could not get container for %s",
                                               name);
                pthread_mutex_lock(&m->lock);
                bool running = child->state == CTR_RUNNING || child->state == CTR_PAUSED;
                /* its address on a network both are on, the primary one first */
                char ip[IPAM_ADDRSTRLEN] = "";
                size_t j;
                const char *k;
                const struct json *ep;
                json_object_foreach (json_get(c->net, "Networks"), j, k, ep) {
                        (void)ep;
                        const char *a = json_str(json_get(json_get(json_get(child->net,
                                                                            "Networks"),
                                                                   k),
                                                          "IPAddress"));
                        if (!ip[0] && a && *a)
                                snprintf(ip, sizeof(ip), "%s", a);
                }
                char *cname = xstrdup(child->name + 1);
                char cid[13];
                snprintf(cid, sizeof(cid), "%.12s", child->id);
                pthread_mutex_unlock(&m->lock);
                int r = 0;
                if (!running)
                        r = berth_error_set(err, EINVAL,
                                            "Cannot link to a non running container: /%s AS /%s/%s",
                                            cname, c->name + 1, alias);
                else if (!ip[0])
                        r = berth_error_set(err, EINVAL,
                                            "Cannot link to /%s, as it does not belong to the "
                                            "network of /%s",
                                            cname, c->name + 1);
                if (r < 0) {
                        free(cname);
                        return r;
                }
                if (hosts) {
                        if (strcmp(alias, cname) == 0)
                                buf_printf(hosts, "%s\t%s %s\n", ip, alias, cid);
                        else
                                buf_printf(hosts, "%s\t%s %s %s\n", ip, alias, cid, cname);
                }
                if (env)
                        link_env(env, alias, c->name + 1, ip, child);
                free(cname);
        }
        return 0;
}

int ctr_net_host_gateway(struct berth_engine *e, char out[IPAM_ADDRSTRLEN])
{
        struct berth_networks *ns = e->networks;
        int r = -ENOENT;
        if (!ns)
                return r;
        pthread_mutex_lock(&ns->lock);
        struct bnet *n = bnet_find_locked(ns, "bridge");
        if (n && n->n_sub) {
                ipam_format_addr(&n->sub[0].gateway, out);
                r = 0;
        }
        pthread_mutex_unlock(&ns->lock);
        return r;
}

void ctr_net_renamed(struct berth_engine *e, struct berth_ctr *c, const char *old)
{
        struct berth_networks *ns = e->networks;
        struct ctr_manager *m = ctr_mgr(e);
        if (!ns)
                return;
        pthread_mutex_lock(&m->lock);
        _cleanup_free_ char *now = xstrdup(c->name + 1);
        pthread_mutex_unlock(&m->lock);
        pthread_mutex_lock(&ns->lock);
        for (size_t i = 0; i < ns->n; i++) {
                struct bnet *n = ns->v[i];
                struct json *a = (struct json *)json_get(n->active, c->id);
                if (a)
                        json_set_str(a, "Name", now);
                struct json *names = (struct json *)json_get(n->names, c->id);
                for (size_t k = 0; k < json_len(names); k++) {
                        const char *have = json_str(names->arr.items[k]);
                        if (have && strcmp(have, old) == 0) {
                                json_free(names->arr.items[k]);
                                names->arr.items[k] = json_new_string(now);
                        }
                }
        }
        pthread_mutex_unlock(&ns->lock);
}
