/*
 * networks.c — network records, the bridges behind them and the /networks
 * calls (contract in networks.h).
 *
 * At start: the rows are read; `bridge` (unless daemon.json says
 * "bridge": "none"), `host` and `none` are made when missing.  The default
 * bridge's subnet is bip's when set, else the address the bridge already has
 * (a restart), else the first of the address pools that neither the host's
 * routes nor another network use; a user network keeps the subnets recorded
 * at its creation.  Each bridge is then made (or found), given its gateway
 * addresses and brought up, and its firewall rules are added to a table
 * replaced at start, so rules a killed daemon left are gone.
 *
 * A user network's create picks its subnet from the pools the same way when
 * IPAM.Config names none, and is refused when a given subnet overlaps another
 * network's.  Removal deletes the bridge and its rules; a network with running
 * containers is not removed (dockerd: "has active endpoints").
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "container-internal.h"
#include "net/dns.h"
#include "network-internal.h"

#define DEFAULT_MTU 1500

void net_random_id(char out[65])
{
        uint8_t b[32];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                abort();
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void bnet_free(struct bnet *n)
{
        if (!n)
                return;
        free(n->name);
        free(n->driver);
        free(n->bridge);
        json_free(n->doc);
        json_free(n->active);
        json_free(n->names);
        for (size_t i = 0; i < n->n_sub; i++)
                ipam_subnet_release(&n->sub[i]);
        free(n);
}

struct bnet *bnet_find_locked(struct berth_networks *ns, const char *ref)
{
        if (!ref || !*ref)
                return NULL;
        for (size_t i = 0; i < ns->n; i++)
                if (strcmp(ns->v[i]->id, ref) == 0)
                        return ns->v[i];
        for (size_t i = 0; i < ns->n; i++)
                if (strcmp(ns->v[i]->name, ref) == 0)
                        return ns->v[i];
        struct bnet *found = NULL;
        size_t len = strlen(ref);
        for (size_t i = 0; i < ns->n; i++)
                if (strncmp(ns->v[i]->id, ref, len) == 0) {
                        if (found)
                                return NULL; /* ambiguous */
                        found = ns->v[i];
                }
        return found;
}

struct bnet *bnet_for_mode_locked(struct berth_networks *ns, const char *mode)
{
        if (!mode || !*mode || strcmp(mode, "default") == 0)
                mode = "bridge";
        return bnet_find_locked(ns, mode);
}

/* ---- rows ---- */

static int row_put(struct berth_engine *e, const struct bnet *n, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h,
                               "INSERT OR REPLACE INTO networks (id, name, created, doc) "
                               "VALUES (?1, ?2, ?3, ?4)",
                               -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        _cleanup_free_ char *doc = json_dump(n->doc, 0);
        sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, n->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, n->created_ns);
        sqlite3_bind_text(st, 4, doc, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return berth_error_set(err, EIO, "database: record network %s: %s", n->name,
                                       sqlite3_errmsg(h));
        return 0;
}

static int row_delete(struct berth_engine *e, const char *id, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "DELETE FROM networks WHERE id = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return berth_error_set(err, EIO, "database: delete network %.12s: %s", id,
                                       sqlite3_errmsg(h));
        return 0;
}

/* ---- documents ---- */

static const char *opt(const struct json *doc, const char *key)
{
        return json_str(json_get(json_get(doc, "Options"), key));
}

static bool opt_bool(const struct json *doc, const char *key, bool def)
{
        const char *v = opt(doc, key);
        if (!v)
                return def;
        return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* Fill n's runtime fields (bridge name, flags, allocators) from n->doc. */
static int bnet_from_doc(struct bnet *n, struct berth_error **err)
{
        const struct json *d = n->doc;
        free(n->driver);
        n->driver = xstrdup(json_str(json_get(d, "Driver")) ?: "bridge");
        n->internal = json_is(json_get(d, "Internal"), JSON_BOOL) && json_get(d, "Internal")->b;
        n->ipv6 = json_is(json_get(d, "EnableIPv6"), JSON_BOOL) && json_get(d, "EnableIPv6")->b;
        if (strcmp(n->driver, "bridge") != 0)
                return 0;
        const char *br = opt(d, "com.docker.network.bridge.name");
        free(n->bridge);
        n->bridge = br && *br ? xstrdup(br) : xasprintf("br-%.12s", n->id);
        n->icc = opt_bool(d, "com.docker.network.bridge.enable_icc", true);
        n->masq = opt_bool(d, "com.docker.network.bridge.enable_ip_masquerade", true);
        n->is_default = opt_bool(d, "com.docker.network.bridge.default_bridge", false);
        const char *mtu = opt(d, "com.docker.network.driver.mtu");
        n->mtu = mtu ? (unsigned)strtoul(mtu, NULL, 10) : 0;
        size_t i;
        const struct json *c;
        json_array_foreach (json_get(json_get(d, "IPAM"), "Config"), i, c) {
                if (n->n_sub >= 2)
                        break;
                struct net_addr subnet, range, gw;
                const char *s = json_str(json_get(c, "Subnet"));
                const char *r = json_str(json_get(c, "IPRange"));
                const char *g = json_str(json_get(c, "Gateway"));
                if (!s || ipam_parse_cidr(s, &subnet, err) < 0)
                        return berth_error_set(err, EINVAL, "network %s: bad subnet '%s'",
                                               n->name, s ? s : "");
                if (r && *r && ipam_parse_cidr(r, &range, err) < 0)
                        return -EINVAL;
                if (g && *g && ipam_parse_addr(g, &gw, err) < 0)
                        return -EINVAL;
                struct ipam_subnet *sub = &n->sub[n->n_sub];
                int rr = ipam_subnet_init(sub, &subnet, r && *r ? &range : NULL,
                                          g && *g ? &gw : NULL, err);
                if (rr < 0)
                        return rr;
                n->n_sub++;
                const char *k;
                const struct json *aux;
                size_t j;
                json_object_foreach (json_get(c, "AuxiliaryAddresses"), j, k, aux) {
                        (void)k;
                        struct net_addr a;
                        if (json_str(aux) && ipam_parse_addr(json_str(aux), &a, NULL) == 0)
                                (void)ipam_subnet_reserve(sub, &a, NULL);
                }
        }
        return 0;
}

static struct json *new_doc(const char *name, const char *id, int64_t created, const char *driver)
{
        struct json *d = json_new_object();
        json_set_str(d, "Name", name);
        json_set_str(d, "Id", id);
        char t[64];
        ctr_format_time(created, t);
        json_set_str(d, "Created", t);
        json_set_str(d, "Scope", "local");
        json_set_str(d, "Driver", driver);
        json_set_bool(d, "EnableIPv6", false);
        struct json *ipam = json_object_set(d, "IPAM", json_new_object());
        json_set_str(ipam, "Driver", "default");
        json_object_set(ipam, "Options", json_new_null());
        json_object_set(ipam, "Config", json_new_array());
        json_set_bool(d, "Internal", false);
        json_set_bool(d, "Attachable", false);
        json_set_bool(d, "Ingress", false);
        json_set_str(json_object_set(d, "ConfigFrom", json_new_object()), "Network", "");
        json_set_bool(d, "ConfigOnly", false);
        json_object_set(d, "Options", json_new_object());
        json_object_set(d, "Labels", json_new_object());
        return d;
}

static struct bnet *bnet_new(const char *name, const char *id, int64_t created, struct json *doc)
{
        struct bnet *n = xcalloc(1, sizeof(*n));
        snprintf(n->id, sizeof(n->id), "%s", id);
        n->name = xstrdup(name);
        n->created_ns = created;
        n->doc = doc;
        n->active = json_new_object();
        n->names = json_new_object();
        return n;
}

static void table_add(struct berth_networks *ns, struct bnet *n)
{
        if (ns->n == ns->cap) {
                ns->cap = ns->cap ? 2 * ns->cap : 8;
                ns->v = xrealloc(ns->v, ns->cap * sizeof(*ns->v));
        }
        ns->v[ns->n++] = n;
}

static void table_remove(struct berth_networks *ns, struct bnet *n)
{
        for (size_t i = 0; i < ns->n; i++)
                if (ns->v[i] == n) {
                        ns->v[i] = ns->v[--ns->n];
                        return;
                }
}

/* ---- subnets ---- */

static struct ipam_pool *config_pools(const struct berth_config *cfg, size_t *ret_n)
{
        size_t n = 0;
        while (cfg->address_pools[n])
                n++;
        if (!n) {
                const struct ipam_pool *d = ipam_default_pools(ret_n);
                struct ipam_pool *p = xcalloc(*ret_n, sizeof(*p));
                memcpy(p, d, *ret_n * sizeof(*p));
                return p;
        }
        struct ipam_pool *p = xcalloc(n, sizeof(*p));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *base = xstrdup(cfg->address_pools[i]);
                char *sp = strchr(base, ' ');
                *sp = '\0';
                (void)ipam_parse_cidr(base, &p[i].base, NULL);
                p[i].base = ipam_network(&p[i].base);
                p[i].size = (uint8_t)strtoul(sp + 1, NULL, 10);
        }
        *ret_n = n;
        return p;
}

/* Subnets of every network but skip (to keep a new subnet off them). */
static struct net_addr *used_subnets(struct berth_networks *ns, const struct bnet *skip,
                                     size_t *ret_n)
{
        struct net_addr *v = xcalloc(2 * ns->n + 1, sizeof(*v));
        size_t k = 0;
        for (size_t i = 0; i < ns->n; i++) {
                if (ns->v[i] == skip)
                        continue;
                for (size_t j = 0; j < ns->v[i]->n_sub; j++)
                        v[k++] = ns->v[i]->sub[j].subnet;
        }
        *ret_n = k;
        return v;
}

static int pick_subnet(struct berth_networks *ns, const struct bnet *skip, struct net_addr *ret,
                       struct berth_error **err)
{
        size_t n_pools, n_used;
        _cleanup_free_ struct ipam_pool *pools = config_pools(ns->cfg, &n_pools);
        _cleanup_free_ struct net_addr *used = used_subnets(ns, skip, &n_used);
        return ipam_pool_pick_host(ns->nl, pools, n_pools, used, n_used, ret, err);
}

static void set_ipam_config(struct json *doc, const struct net_addr *subnet,
                            const struct net_addr *gw, const char *ip_range)
{
        struct json *cfgs = (struct json *)json_get(json_get(doc, "IPAM"), "Config");
        struct json *c = json_array_append(cfgs, json_new_object());
        char b[IPAM_ADDRSTRLEN];
        json_set_str(c, "Subnet", ipam_format_cidr(subnet, b));
        if (ip_range)
                json_set_str(c, "IPRange", ip_range);
        json_set_str(c, "Gateway", ipam_format_addr(gw, b));
}

/* ---- bridges ---- */

static void write_sysctl(const char *path, const char *value)
{
        int r = write_file_at(AT_FDCWD, path, value, strlen(value), 0644);
        if (r < 0)
                log_warn("set %s to %s: %s", path, value, strerror(-r));
}

/* Make (or find) n's bridge with its gateways, up, with its firewall rules. */
static int bridge_up(struct berth_networks *ns, struct bnet *n, struct berth_error **err)
{
        unsigned mtu = n->mtu ? n->mtu : (unsigned)ns->cfg->mtu;
        int r = net_link_bridge_add(ns->nl, n->bridge, mtu, err);
        if (r == -EEXIST) {
                berth_error_free(TAKE_PTR(*err));
                r = 0;
        }
        for (size_t i = 0; r == 0 && i < n->n_sub; i++) {
                struct net_addr gw = n->sub[i].gateway;
                r = net_link_addr_add(ns->nl, n->bridge, &gw, NET_ADDR_NODAD, err);
                if (r == -EEXIST) {
                        berth_error_free(TAKE_PTR(*err));
                        r = 0;
                }
        }
        if (r == 0)
                r = net_link_set_up(ns->nl, n->bridge, true, err);
        if (r < 0)
                return r;
        /* published ports reached through 127.0.0.1 are routed out of the bridge */
        _cleanup_free_ char *rl = xasprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", n->bridge);
        write_sysctl(rl, "1");
        return bnet_fw_rules(ns, n, err);
}

int bnet_fw_rules(struct berth_networks *ns, struct bnet *n, struct berth_error **err)
{
        if (!ns->fw || !n->bridge)
                return 0;
        struct net_addr subnets[2];
        for (size_t i = 0; i < n->n_sub; i++)
                subnets[i] = n->sub[i].subnet;
        struct net_fw_network fn = {
            .bridge = n->bridge,
            .subnets = subnets,
            .n_subnets = n->n_sub,
            .masquerade = n->masq && ns->cfg->ip_masq,
            .icc = n->icc,
            .internal = n->internal,
        };
        return net_fw_network_add(ns->fw, &fn, err);
}

/* The default bridge's subnet: bip, else the bridge's own address, else a free pool. */
static int default_subnet(struct berth_networks *ns, struct bnet *n, struct berth_error **err)
{
        const struct berth_config *cfg = ns->cfg;
        struct net_addr gw, subnet;
        if (cfg->bip) {
                if (ipam_parse_cidr(cfg->bip, &gw, err) < 0)
                        return -EINVAL;
        } else {
                _cleanup_free_ struct net_addr *have = NULL;
                size_t n_have = 0;
                int idx;
                struct berth_error *e2 = NULL;
                if (net_link_index(ns->nl, cfg->bridge, &idx, &e2) == 0)
                        (void)net_link_addr_list(ns->nl, cfg->bridge, &have, &n_have, &e2);
                berth_error_free(e2);
                size_t i = 0;
                while (i < n_have && have[i].family != AF_INET)
                        i++;
                if (i < n_have) {
                        gw = have[i];
                } else {
                        int r = pick_subnet(ns, n, &subnet, err);
                        if (r < 0)
                                return r;
                        gw = subnet;
                        gw.bytes[3] |= 1;
                        char b[IPAM_ADDRSTRLEN];
                        if (strcmp(ipam_format_cidr(&subnet, b), "172.17.0.0/16") != 0)
                                log_info("default bridge %s: 172.17.0.0/16 is in use on this "
                                         "host; using %s",
                                         cfg->bridge, b);
                }
        }
        subnet = ipam_network(&gw);
        struct json *doc = n->doc;
        json_object_set(json_object_set(doc, "IPAM", json_new_object()), "Driver",
                        json_new_string("default"));
        struct json *ipam = (struct json *)json_get(doc, "IPAM");
        json_object_set(ipam, "Options", json_new_null());
        json_object_set(ipam, "Config", json_new_array());
        gw.prefixlen = subnet.prefixlen;
        set_ipam_config(doc, &subnet, &gw, cfg->fixed_cidr);
        struct json *o = json_object_set(doc, "Options", json_new_object());
        json_set_str(o, "com.docker.network.bridge.default_bridge", "true");
        json_set_str(o, "com.docker.network.bridge.enable_icc", cfg->icc ? "true" : "false");
        json_set_str(o, "com.docker.network.bridge.enable_ip_masquerade",
                     cfg->ip_masq ? "true" : "false");
        json_set_str(o, "com.docker.network.bridge.host_binding_ipv4", "0.0.0.0");
        json_set_str(o, "com.docker.network.bridge.name", cfg->bridge);
        _cleanup_free_ char *mtu = xasprintf("%d", cfg->mtu ? cfg->mtu : DEFAULT_MTU);
        json_set_str(o, "com.docker.network.driver.mtu", mtu);
        return 0;
}

/* ---- open / close ---- */

static int load_rows(struct berth_engine *e, struct berth_networks *ns, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "SELECT id, name, created, doc FROM networks", -1, &st, NULL) !=
            SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(st, 0);
                const char *name = (const char *)sqlite3_column_text(st, 1);
                const char *doc = (const char *)sqlite3_column_text(st, 3);
                struct json *j = NULL;
                if (!id || !name || !doc || json_parse(doc, strlen(doc), &j, NULL) < 0) {
                        log_warn("network %s: unreadable record, skipped", name ? name : "?");
                        continue;
                }
                table_add(ns, bnet_new(name, id, sqlite3_column_int64(st, 2), j));
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        return 0;
}

static struct bnet *ensure_predefined(struct berth_engine *e, struct berth_networks *ns,
                                      const char *name, const char *driver)
{
        struct bnet *n = bnet_find_locked(ns, name);
        if (n)
                return n;
        char id[65];
        net_random_id(id);
        int64_t t = now_ns();
        n = bnet_new(name, id, t, new_doc(name, id, t, driver));
        table_add(ns, n);
        struct berth_error *er = NULL;
        if (strcmp(driver, "bridge") != 0 && row_put(e, n, &er) < 0) {
                log_warn("%s", berth_error_msg(er));
                berth_error_free(er);
        }
        return n;
}

static int setup_networks(struct berth_engine *e, struct berth_networks *ns,
                          struct berth_error **err)
{
        const struct berth_config *cfg = ns->cfg;
        ensure_predefined(e, ns, "host", "host");
        ensure_predefined(e, ns, "none", "null");
        struct bnet *def = bnet_find_locked(ns, "bridge");
        if (strcmp(cfg->bridge, "none") == 0) {
                if (def) {
                        (void)row_delete(e, def->id, NULL);
                        table_remove(ns, def);
                        bnet_free(def);
                }
        } else {
                def = ensure_predefined(e, ns, "bridge", "bridge");
                int r = default_subnet(ns, def, err);
                if (r < 0)
                        return r;
                if ((r = row_put(e, def, err)) < 0)
                        return r;
        }
        if (cfg->ip_forward)
                write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
        if (cfg->userland_proxy == 1 && cfg->iptables && def)
                log_info("published ports are forwarded by nftables for every source, the host's "
                         "loopback and containers' hairpin included (dockerd's userland-proxy: "
                         "false); berthd's userland proxy serves them only with iptables: false");
        if (!cfg->iptables && cfg->userland_proxy == 0)
                log_warn("iptables and userland-proxy are both false: published ports are "
                         "reserved on the host but nothing forwards them, as with dockerd");
        for (size_t i = 0; i < ns->n; i++) {
                struct bnet *n = ns->v[i];
                int r = bnet_from_doc(n, err);
                if (r == 0 && n->bridge)
                        r = bridge_up(ns, n, err);
                if (r < 0)
                        return berth_error_set(err, -r, "network %s: %s", n->name,
                                               berth_error_msg(*err));
        }
        return 0;
}

int berth_networks_open(struct berth_engine *e, struct berth_error **err)
{
        struct berth_networks *ns = xcalloc(1, sizeof(*ns));
        pthread_mutex_init(&ns->lock, NULL);
        ns->cfg = berth_engine_config(e);
        e->networks = ns;
        int r = net_link_open(-1, &ns->nl, err);
        if (r == 0 && ns->cfg->iptables) {
                /* "berth", or per default bridge ("berth-<bridge>"): a second daemon on the
                 * host (the demo's) never replaces another's table */
                _cleanup_free_ char *table = strcmp(ns->cfg->bridge, "berth0") == 0
                                                 ? xstrdup("berth")
                                                 : xasprintf("berth-%s", ns->cfg->bridge);
                r = net_fw_open(-1, table, &ns->fw, err);
        }
        /* without rules published ports are served by the userland proxy, whose thread
         * starts with the first of them (network-endpoints.c) */

        if (r == 0)
                r = load_rows(e, ns, err);
        if (r == 0) {
                pthread_mutex_lock(&ns->lock);
                r = setup_networks(e, ns, err);
                pthread_mutex_unlock(&ns->lock);
        }
        if (r < 0) {
                berth_networks_close(e, false);
                return r;
        }
        return 0;
}

void berth_networks_close(struct berth_engine *e, bool remove_rules)
{
        struct berth_networks *ns = e->networks;
        if (!ns)
                return;
        /* the DNS thread asks the records: stopped before they go */
        net_dns_free(ns->dns);
        e->networks = NULL;
        /* its thread first: it uses the holds' sockets */
        net_proxy_free(ns->proxy);
        while (ns->holds) {
                struct port_hold *p = ns->holds;
                ns->holds = p->next;
                if (p->fd >= 0)
                        close(p->fd);
                free(p);
        }
        if (ns->fw) {
                struct berth_error *er = NULL;
                if (net_fw_close(ns->fw, remove_rules, &er) < 0)
                        log_warn("%s", berth_error_msg(er));
                berth_error_free(er);
        }
        net_link_free(ns->nl);
        for (size_t i = 0; i < ns->n; i++)
                bnet_free(ns->v[i]);
        free(ns->v);
        berth_config_unref(ns->cfg);
        pthread_mutex_destroy(&ns->lock);
        free(ns);
}

/* ---- the API's calls ---- */

static struct json *doc_with_containers(const struct bnet *n, bool containers)
{
        struct json *d = json_copy(n->doc);
        /* key order as dockerd's: Containers before Options */
        struct json *o = json_copy(json_get(d, "Options"));
        struct json *l = json_copy(json_get(d, "Labels"));
        json_object_del(d, "Options");
        json_object_del(d, "Labels");
        json_object_set(d, "Containers", containers ? json_copy(n->active) : json_new_object());
        json_object_set(d, "Options", o);
        json_object_set(d, "Labels", l);
        return d;
}

/*
 * `host` and `none` hold no endpoints of ours, yet dockerd lists the running
 * containers in those modes under Containers, with no address: the same,
 * from the container table (its lock after the networks lock, as networks.h
 * orders them).
 */
static void add_mode_containers(struct berth_engine *e, const struct bnet *n, struct json *doc)
{
        const char *mode = strcmp(n->name, "host") == 0   ? "host"
                           : strcmp(n->name, "none") == 0 ? "none"
                                                           : NULL;
        struct json *ctrs = (struct json *)json_get(doc, "Containers");
        if (!mode || !ctrs)
                return;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) {
                const struct berth_ctr *c = m->v[i];
                const char *cm = json_str(json_get(c->host_config, "NetworkMode"));
                if ((c->state != CTR_RUNNING && c->state != CTR_PAUSED) || !cm ||
                    strcmp(cm, mode) != 0)
                        continue;
                struct json *ep = json_object_set(ctrs, c->id, json_new_object());
                json_set_str(ep, "Name", c->name[0] == '/' ? c->name + 1 : c->name);
                static const char *const empty[] = {"EndpointID", "MacAddress", "IPv4Address",
                                                    "IPv6Address"};
                for (size_t k = 0; k < ELEMENTSOF(empty); k++)
                        json_set_str(ep, empty[k], "");
        }
        pthread_mutex_unlock(&m->lock);
}

int berth_network_inspect(struct berth_engine *e, const char *ref, struct json **ret,
                          struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        pthread_mutex_lock(&ns->lock);
        struct bnet *n = bnet_find_locked(ns, ref);
        if (n) {
                *ret = doc_with_containers(n, true);
                add_mode_containers(e, n, *ret);
        }
        pthread_mutex_unlock(&ns->lock);
        if (!n)
                return berth_error_set(err, ENOENT, "network %s not found", ref);
        return 0;
}

struct json *berth_network_list(struct berth_engine *e)
{
        struct berth_networks *ns = e->networks;
        struct json *list = json_new_array();
        pthread_mutex_lock(&ns->lock);
        for (size_t i = 0; i < ns->n; i++)
                json_array_append(list, doc_with_containers(ns->v[i], false));
        pthread_mutex_unlock(&ns->lock);
        return list;
}

static bool valid_name(const char *s)
{
        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

/* IPAM.Config of a create request into doc, checked; subnets picked when absent.
 * A configuration-only network (config_only) records what it was given: it holds
 * no pool, so neither overlaps are checked nor a subnet picked, as dockerd. */
static int create_ipam(struct berth_networks *ns, const struct json *body, struct json *doc,
                       bool ipv6, bool config_only, struct berth_error **err)
{
        const struct json *ipam = json_get(body, "IPAM");
        const char *drv = json_str(json_get(ipam, "Driver"));
        if (drv && *drv && strcmp(drv, "default") != 0)
                return berth_error_set(err, ENOENT, "plugin \"%s\" not found", drv);
        struct json *dipam = (struct json *)json_get(doc, "IPAM");
        const struct json *o = json_get(ipam, "Options");
        json_object_set(dipam, "Options", json_is(o, JSON_OBJECT) ? json_copy(o) : json_new_null());
        struct json *out = (struct json *)json_get(dipam, "Config");
        size_t i;
        const struct json *c;
        bool have4 = false, have6 = false;
        json_array_foreach (json_get(ipam, "Config"), i, c) {
                const char *s = json_str(json_get(c, "Subnet"));
                const char *r = json_str(json_get(c, "IPRange"));
                const char *g = json_str(json_get(c, "Gateway"));
                struct net_addr subnet, range, gw;
                /* dockerd's words, and its 500 (EIO) for what its IPAM driver refuses */
                if (!s || ipam_parse_cidr(s, &subnet, NULL) < 0)
                        return berth_error_set(err, EIO, "Invalid subnet %s : invalid CIDR address: %s",
                                               s ? s : "", s ? s : "");
                if (r && *r && ipam_parse_cidr(r, &range, NULL) < 0)
                        return berth_error_set(err, EINVAL, "invalid CIDR address: %s", r);
                if (g && *g && ipam_parse_addr(g, &gw, NULL) < 0)
                        return berth_error_set(err, EINVAL, "invalid gateway address %s", g);
                struct net_addr net = ipam_network(&subnet);
                if (g && *g && !ipam_contains(&net, &gw))
                        return berth_error_set(err, EIO,
                                               "failed to allocate gateway (%s): Requested "
                                               "address is out of range",
                                               g);
                size_t ai;
                const char *ak;
                const struct json *av;
                json_object_foreach (json_get(c, "AuxiliaryAddresses"), ai, ak, av) {
                        struct net_addr a;
                        char b[IPAM_ADDRSTRLEN];
                        if (!json_str(av) || ipam_parse_addr(json_str(av), &a, NULL) < 0 ||
                            !ipam_contains(&net, &a))
                                return berth_error_set(err, EPERM,
                                                       "auxiliary address: (%s:%s) must belong "
                                                       "to the master pool: %s",
                                                       ak, json_str(av) ?: "",
                                                       ipam_format_cidr(&net, b));
                }
                for (size_t k = 0; k < ns->n && !config_only; k++)
                        for (size_t j = 0; j < ns->v[k]->n_sub; j++)
                                if (ipam_overlaps(&ns->v[k]->sub[j].subnet, &net))
                                        return berth_error_set(
                                            err, EPERM,
                                            "Pool overlaps with other one on this address space");
                struct ipam_subnet probe;
                if (ipam_subnet_init(&probe, &net, r && *r ? &range : NULL, g && *g ? &gw : NULL,
                                     err) < 0)
                        return -EINVAL;
                ipam_subnet_release(&probe);
                if (net.family == AF_INET)
                        have4 = true;
                else
                        have6 = true;
                /* dockerd's omitempty: docker-py sends "IPRange": null and the like */
                struct json *e2 = json_new_object();
                size_t ci;
                const char *ck;
                const struct json *cv;
                json_object_foreach (c, ci, ck, cv)
                        if (!json_is(cv, JSON_NULL) && !(json_is(cv, JSON_STRING) && !*json_str(cv)) &&
                            !(json_is(cv, JSON_OBJECT) && !json_len(cv)))
                                json_object_set(e2, ck, json_copy(cv));
                char b[IPAM_ADDRSTRLEN];
                json_set_str(e2, "Subnet", ipam_format_cidr(&net, b));
                json_array_append(out, e2);
        }
        if (config_only)
                return 0;
        if (have6 && !ipv6)
                return berth_error_set(err, EPERM,
                                       "non-overlapping IPv6 address pool(s) given but IPv6 is "
                                       "not enabled on the network (add --ipv6)");
        if (!have4) {
                struct net_addr subnet;
                int r = pick_subnet(ns, NULL, &subnet, err);
                if (r < 0)
                        return r;
                struct net_addr gw = subnet;
                gw.bytes[3] |= 1;
                struct json *first = json_new_object();
                char b[IPAM_ADDRSTRLEN];
                json_set_str(first, "Subnet", ipam_format_cidr(&subnet, b));
                json_set_str(first, "Gateway", ipam_format_addr(&gw, b));
                /* IPv4 first, as dockerd lists them */
                struct json *cfgs = json_new_array();
                json_array_append(cfgs, first);
                for (size_t k = 0; k < json_len(out); k++)
                        json_array_append(cfgs, json_copy(out->arr.items[k]));
                json_object_set(dipam, "Config", cfgs);
        }
        if (ipv6 && !have6)
                return berth_error_set(err, EINVAL,
                                       "could not find an available, non-overlapping IPv6 address "
                                       "pool among the defaults to assign to the network");
        return 0;
}

static bool body_bool(const struct json *body, const char *key)
{
        const struct json *b = json_get(body, key);
        return json_is(b, JSON_BOOL) && b->b;
}

/* What swarm would serve, refused as dockerd without swarm refuses it. */
static int check_scope(const struct json *body, const char *driver, struct berth_error **err)
{
        const char *scope = json_str(json_get(body, "Scope"));
        if (body_bool(body, "Ingress"))
                return berth_error_set(err, EPERM,
                                       "Ingress network can only be global scope network");
        if (scope && strcmp(scope, "swarm") == 0)
                return berth_error_set(err, EPERM,
                                       "cannot create a swarm scoped network when swarm is not "
                                       "active");
        if ((scope && *scope && strcmp(scope, "local") != 0) || strcmp(driver, "overlay") == 0)
                return berth_error_set(err, EIO,
                                       "This node is not a swarm manager. Use \"docker swarm "
                                       "init\" or \"docker swarm join\" to connect this node to "
                                       "swarm and try again.");
        return 0;
}

/*
 * --config-from: the request as if it had said what the configuration-only
 * network holds (IPAM, IPv6, options, labels), in *ret_eff; dockerd refuses a
 * request that also says any of those itself.
 */
static int apply_config_from(struct berth_networks *ns, const struct json *body,
                             const char *from, struct json **ret_eff, struct berth_error **err)
{
        if (body_bool(body, "ConfigOnly"))
                return berth_error_set(err, EPERM,
                                       "a configuration network cannot depend on another "
                                       "configuration network");
        pthread_mutex_lock(&ns->lock);
        struct bnet *c = bnet_find_locked(ns, from);
        _cleanup_json_ struct json *cfg =
            c && body_bool(c->doc, "ConfigOnly") ? json_copy(c->doc) : NULL;
        pthread_mutex_unlock(&ns->lock);
        if (!cfg)
                return berth_error_set(err, ENOENT, "configuration network \"%s\" does not exist",
                                       from);
        if (json_len(json_get(body, "Options")))
                return berth_error_set(err, EPERM,
                                       "network driver options are not supported if the network "
                                       "depends on a configuration network");
        const struct json *ipam = json_get(body, "IPAM");
        const char *ipam_drv = json_str(json_get(ipam, "Driver"));
        if (json_len(json_get(body, "Labels")) || body_bool(body, "EnableIPv6") ||
            json_len(json_get(ipam, "Options")) || json_len(json_get(ipam, "Config")) ||
            (ipam_drv && *ipam_drv && strcmp(ipam_drv, "default") != 0))
                return berth_error_set(err, EPERM,
                                       "user specified configurations are not supported if the "
                                       "network depends on a configuration network");
        struct json *eff = json_copy(body);
        static const char *const keys[] = {"IPAM", "EnableIPv6", "Options", "Labels"};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const struct json *v = json_get(cfg, keys[i]);
                json_object_set(eff, keys[i], v ? json_copy(v) : json_new_null());
        }
        json_set_str(json_object_set(eff, "ConfigFrom", json_new_object()), "Network",
                     json_str(json_get(cfg, "Name")) ?: from);
        *ret_eff = eff;
        return 0;
}

int berth_network_create(struct berth_engine *e, const struct json *req, struct json **ret,
                         struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        const struct json *body = req;
        const char *name = json_str(json_get(body, "Name"));
        const char *driver = json_str(json_get(body, "Driver"));
        if (!driver || !*driver)
                driver = "bridge";
        if (!name || !*name)
                return berth_error_set(err, EINVAL, "invalid name: network name is empty");
        if (strcmp(name, "bridge") == 0 || strcmp(name, "host") == 0 ||
            strcmp(name, "none") == 0)
                return berth_error_set(err, EPERM,
                                       "operation is not permitted on predefined %s network ",
                                       name);
        if (!valid_name(name))
                return berth_error_set(err, EINVAL,
                                       "invalid network name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                                       "are allowed",
                                       name);
        /* a configuration-only network is a record, whatever driver it names */
        bool config_only = body_bool(body, "ConfigOnly");
        if (config_only)
                driver = "null";
        else if (strcmp(driver, "host") == 0 || strcmp(driver, "null") == 0)
                return berth_error_set(err, EPERM, "only one instance of \"%s\" network is allowed",
                                       driver);
        int r = check_scope(body, driver, err);
        if (r < 0)
                return r;
        if (!config_only && strcmp(driver, "bridge") != 0)
                return berth_error_set(err, ENOENT,
                                       "plugin \"%s\" not found: berthd has the bridge driver only",
                                       driver);
        _cleanup_json_ struct json *eff = NULL;
        const char *from = json_str(json_get(json_get(body, "ConfigFrom"), "Network"));
        if (from && *from) {
                r = apply_config_from(ns, body, from, &eff, err);
                if (r < 0)
                        return r;
                body = eff;
        }
        bool ipv6 = body_bool(body, "EnableIPv6");
        char id[65];
        net_random_id(id);
        int64_t t = now_ns();
        _cleanup_json_ struct json *doc = new_doc(name, id, t, driver);
        json_set_bool(doc, "ConfigOnly", config_only);
        if (eff)
                json_object_set(doc, "ConfigFrom", json_copy(json_get(eff, "ConfigFrom")));
        json_set_bool(doc, "EnableIPv6", ipv6);
        static const char *const bools[] = {"Internal", "Attachable"};
        for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
                const struct json *b = json_get(body, bools[i]);
                json_set_bool(doc, bools[i], json_is(b, JSON_BOOL) && b->b);
        }
        const struct json *o = json_get(body, "Options");
        if (json_is(o, JSON_OBJECT))
                json_object_set(doc, "Options", json_copy(o));
        const struct json *l = json_get(body, "Labels");
        if (json_is(l, JSON_OBJECT))
                json_object_set(doc, "Labels", json_copy(l));
        const char *brname = opt(doc, "com.docker.network.bridge.name");
        if (brname && (!*brname || strlen(brname) > 15 || strchr(brname, '/')))
                return berth_error_set(err, EINVAL, "bridge name '%s': not a valid interface name",
                                       brname);
        const char *mtu = opt(doc, "com.docker.network.driver.mtu");
        if (mtu) {
                char *end;
                long v = strtol(mtu, &end, 10);
                if (*end || !*mtu || v < 68 || v > 65535)
                        return berth_error_set(err, EINVAL, "invalid MTU number: %s", mtu);
        }
        pthread_mutex_lock(&ns->lock);
        if (bnet_find_locked(ns, name) && strcmp(bnet_find_locked(ns, name)->name, name) == 0)
                r = berth_error_set(err, EEXIST, "network with name %s already exists", name);
        for (size_t i = 0; r == 0 && brname && i < ns->n; i++)
                if (ns->v[i]->bridge && strcmp(ns->v[i]->bridge, brname) == 0)
                        r = berth_error_set(err, EEXIST,
                                            "bridge name %s is used by network %s", brname,
                                            ns->v[i]->name);
        if (r == 0)
                r = create_ipam(ns, body, doc, ipv6, config_only, err);
        struct bnet *n = NULL;
        if (r == 0) {
                n = bnet_new(name, id, t, TAKE_PTR(doc));
                r = bnet_from_doc(n, err);
        }
        if (r == 0 && n->bridge)
                r = bridge_up(ns, n, err);
        if (r == 0)
                r = row_put(e, n, err);
        if (r < 0 && n) {
                if (ns->fw && n->bridge)
                        (void)net_fw_network_del(ns->fw, n->bridge, NULL);
                if (n->bridge)
                        (void)net_link_del(ns->nl, n->bridge, NULL);
                bnet_free(n);
                n = NULL;
        }
        if (n)
                table_add(ns, n);
        pthread_mutex_unlock(&ns->lock);
        if (r < 0)
                return r;
        struct json *out = json_new_object();
        json_set_str(out, "Id", id);
        json_set_str(out, "Warning", "");
        *ret = out;
        const char *attrs[] = {"name", name, "type", driver, NULL};
        berth_events_publish(e->events, "network", "create", id, attrs);
        return 0;
}

static int remove_locked(struct berth_engine *e, struct berth_networks *ns, struct bnet *n,
                         struct berth_error **err)
{
        if (strcmp(n->name, "bridge") == 0 || strcmp(n->name, "host") == 0 ||
            strcmp(n->name, "none") == 0)
                return berth_error_set(err, EPERM,
                                       "%s is a pre-defined network and cannot be removed",
                                       n->name);
        if (json_len(n->active))
                return berth_error_set(err, EPERM,
                                       "error while removing network: network %s id %s has "
                                       "active endpoints",
                                       n->name, n->id);
        for (size_t i = 0; i < ns->n; i++) {
                const char *from =
                    json_str(json_get(json_get(ns->v[i]->doc, "ConfigFrom"), "Network"));
                if (from && strcmp(from, n->name) == 0)
                        return berth_error_set(err, EPERM,
                                               "error while removing network: configuration "
                                               "network \"%s\" is in use",
                                               n->name);
        }
        int r = row_delete(e, n->id, err);
        if (r < 0)
                return r;
        struct berth_error *er = NULL;
        /* a configuration-only network has no bridge */
        if (n->bridge && ns->fw && net_fw_network_del(ns->fw, n->bridge, &er) < 0)
                log_warn("network %s: %s", n->name, berth_error_msg(er));
        berth_error_free(TAKE_PTR(er));
        if (n->bridge && net_link_del(ns->nl, n->bridge, &er) < 0 && er && er->code != ENODEV)
                log_warn("network %s: %s", n->name, berth_error_msg(er));
        berth_error_free(er);
        char id[65];
        memcpy(id, n->id, sizeof(id));
        _cleanup_free_ char *name = xstrdup(n->name);
        _cleanup_free_ char *driver = xstrdup(n->driver);
        table_remove(ns, n);
        bnet_free(n);
        const char *attrs[] = {"name", name, "type", driver, NULL};
        berth_events_publish(e->events, "network", "destroy", id, attrs);
        return 0;
}

int berth_network_remove(struct berth_engine *e, const char *ref, struct berth_error **err)
{
        struct berth_networks *ns = e->networks;
        pthread_mutex_lock(&ns->lock);
        struct bnet *n = bnet_find_locked(ns, ref);
        int r = n ? remove_locked(e, ns, n, err)
                  : berth_error_set(err, ENOENT, "network %s not found", ref);
        pthread_mutex_unlock(&ns->lock);
        return r;
}

/* Whether any container (any state) names n among its networks. */
static bool named_by_container(struct berth_engine *e, const struct bnet *n)
{
        struct ctr_manager *m = ctr_mgr(e);
        bool used = false;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n && !used; i++) {
                const struct berth_ctr *c = m->v[i];
                const char *mode = json_str(json_get(c->host_config, "NetworkMode"));
                if (mode && (strcmp(mode, n->name) == 0 || strcmp(mode, n->id) == 0))
                        used = true;
                size_t j;
                const char *k;
                const struct json *v;
                json_object_foreach (json_get(c->networking, "EndpointsConfig"), j, k, v)
                        if (v && (strcmp(k, n->name) == 0 || strcmp(k, n->id) == 0))
                                used = true;
        }
        pthread_mutex_unlock(&m->lock);
        return used;
}

int berth_network_prune(struct berth_engine *e, bool (*keep)(const struct json *doc, void *arg),
                        void *arg, struct json **ret_deleted, struct berth_error **err)
{
        (void)err;
        struct berth_networks *ns = e->networks;
        struct json *deleted = json_new_array();
        pthread_mutex_lock(&ns->lock);
        for (size_t i = 0; i < ns->n;) {
                struct bnet *n = ns->v[i];
                bool predefined = strcmp(n->name, "bridge") == 0 || strcmp(n->name, "host") == 0 ||
                                  strcmp(n->name, "none") == 0;
                if (predefined || json_len(n->active) || (keep && keep(n->doc, arg)) ||
                    named_by_container(e, n)) {
                        i++;
                        continue;
                }
                _cleanup_free_ char *name = xstrdup(n->name);
                struct berth_error *er = NULL;
                if (remove_locked(e, ns, n, &er) < 0) {
                        log_warn("prune network %s: %s", name, berth_error_msg(er));
                        berth_error_free(er);
                        i++;
                        continue;
                }
                json_array_append(deleted, json_new_string(name));
        }
        pthread_mutex_unlock(&ns->lock);
        if (json_len(deleted))
                berth_events_publish(e->events, "network", "prune", "", NULL);
        *ret_deleted = deleted;
        return 0;
}
