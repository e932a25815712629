/*
 * firewall.c — berth's forwarding, NAT and published ports as nftables rules,
 * through libnftables (see firewall.h for the contract).
 *
 * How it works: every call renders nft commands as text into one buffer and
 * hands it to nft_run_cmd_from_buffer(), which applies the buffer as a single
 * netlink batch (one transaction).  The nft_ctx is made once, in net_fw_open(),
 * from a short-lived thread that entered the target network namespace: its
 * netlink socket stays bound to that namespace, as in link.c.  Keeping one
 * context also keeps libnftables' cache, which it revalidates by the ruleset's
 * generation id instead of dumping the kernel's ruleset before every command.
 *
 * The ruleset (table inet <table>) is static apart from set and map elements,
 * so publishing a port is one element in one map:
 *
 *   ports4 / ports6    proto . port            -> ctr addr . ctr port (any host address)
 *   ports4h / ports6h  host addr . proto . port -> ctr addr . ctr port
 *   chain ports        dnat through those maps; jumped to from prerouting
 *                      (dstnat) and output (locally made traffic, 127.0.0.1
 *                      included) for packets to an address of the host
 *   bridges            every berth bridge (isolation, hairpin, loopback masq)
 *   nets4 / nets6      every berth subnet (hairpin masquerade)
 *   from_br / to_br    iifname / oifname -> jump from-<bridge> / to-<bridge>
 *   masq4 / masq6      subnet -> jump masq-<bridge> (masquerade out of other links)
 *
 * A network is its three chains plus elements in those sets and maps, so
 * adding or deleting one never touches the base chains.  Forwarding, per
 * bridge B:
 *   from-B (iif B):  to B itself: DNATed accept, then icc ? accept : drop;
 *                    DNATed to another bridge accept (a published port is
 *                    public); to another berth bridge drop (isolation);
 *                    elsewhere internal ? drop : accept
 *   to-B (oif B):    internal: drop; else established/related accept,
 *                    DNATed accept, anything else drop (as dockerd's DROP policy)
 * Two containers of one bridge talk through the bridge, not through the IP
 * forward hook, unless br_netfilter is on (bridge-nf-call-iptables=1, as
 * dockerd sets it): then from-B sees them with iif = oif = B and its icc rule
 * applies.  Without br_netfilter, icc=false needs a rule in the bridge
 * family: table bridge <table> drops IP frames forwarded between two
 * addresses of a no-icc subnet (the subnet goes into noicc4/noicc6 only for a
 * family br_netfilter does not cover, read once at open).  It must not apply
 * with br_netfilter on: a container reaching a neighbour's published port
 * through a host address is DNATed in the bridge's prerouting and then
 * bridged, and the bridge family has no conntrack here (ct needs
 * nf_conntrack_bridge) to tell it from direct traffic.  The bridge table is
 * made, replaced and deleted with the inet one.  (meta ibrname would be
 * tighter but needs CONFIG_NFT_BRIDGE_META, which not every kernel has.)
 *
 * Coexistence with iptables-nft: a packet must be accepted by every base
 * chain at a hook, so dockerd's FORWARD policy DROP (table ip filter, or ip6
 * filter) drops berth's forwarded traffic whatever berth accepts.  When such a
 * table has DOCKER-USER (docker's place for user rules), or a FORWARD chain
 * with policy drop, network_add inserts "iifname B accept" and "oifname B
 * accept" there, in a form iptables-nft lists (-i B -m comment --comment ...
 * -j ACCEPT), tagged with the comment "berth:<table>:<bridge>".  berth's own
 * table still drops what it must, since a drop anywhere wins.  Rules with that
 * tag are found by listing the chain (JSON) and deleted by handle; open()
 * deletes stale ones of the same table name, close(remove) all of them.
 *
 * Never: shell out to nft or iptables; touch a rule in table ip/ip6 filter
 * that does not carry our tag; print (output and errors are buffered).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "net/firewall.h"

struct fw_net {
        char bridge[IFNAMSIZ];
        struct net_addr *subnets;
        size_t n_subnets;
        bool masquerade, icc, internal;
        bool ipt; /* accept rules were added to iptables-nft's chains */
};

struct net_fw {
        struct nft_ctx *ctx;
        /* br_netfilter hands bridged IPv4 / IPv6 to the inet hooks (read at open) */
        bool brnf4, brnf6;
        char *table;
        struct fw_net *nets;
        size_t n_nets;
};

/* ---- commands and errors ------------------------------------------------ */

_printf_(2, 3) static void cmd(struct berth_buf *b, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        buf_puts(b, s);
        buf_putc(b, '\n');
}

/*
 * libnftables returns only -1; its error buffer holds the kernel's errno as
 * strerror() text ("Could not process rule: No such file or directory"), so
 * the code is recovered from there for the callers that branch on it.
 */
static int errno_of(const char *msg)
{
        static const int known[] = {ENOENT,     EEXIST,          EPERM,        EBUSY,  ENOSPC,
                                    EOPNOTSUPP, EPROTONOSUPPORT, EAFNOSUPPORT, ENOMEM, EINVAL};
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                if (strstr(msg, strerror(known[i])))
                        return known[i];
        return EIO;
}

/* The first line of libnftables' error buffer, without its "Error: " label. */
static char *first_error_line(const char *buf)
{
        if (!buf || !*buf)
                return xstrdup("failed without a message");
        const char *s = buf;
        /* skip lines that are only context (the command echoed, carets) */
        for (const char *l = buf; *l;) {
                const char *e = strstr(l, "Error: ");
                const char *nl = strchr(l, '\n');
                if (e && (!nl || e < nl)) {
                        s = e + strlen("Error: ");
                        break;
                }
                if (!nl)
                        break;
                l = nl + 1;
        }
        size_t n = strcspn(s, "\n");
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
                n--;
        return strndup(s, n) ?: (berth_oom(), NULL);
}

/* Run the batch in b; a failure reads "nftables: <what>: <libnftables' words>". */
_printf_(4, 5) static int fw_run(struct net_fw *fw, const struct berth_buf *b,
                                 struct berth_error **err, const char *fmt, ...)
{
        int r = nft_run_cmd_from_buffer(fw->ctx, b->data ? b->data : "");
        /* nothing may linger for the next call's error or listing */
        const char *ebuf = nft_ctx_get_error_buffer(fw->ctx);
        if (r == 0)
                return 0;
        _cleanup_free_ char *what = NULL, *why = first_error_line(ebuf);
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        return berth_error_set(err, errno_of(why), "nftables: %s: %s", what, why);
}

/*
 * Names go into nft's command language unquoted (chains) or quoted
 * (interfaces): allow only what neither can misread.
 */
static int check_name(const char *kind, const char *name, size_t max, struct berth_error **err)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > max)
                return berth_error_set(err, EINVAL, "nftables: %s '%s': must be 1 to %zu bytes",
                                       kind, name ? name : "", max);
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.'))
                        return berth_error_set(err, EINVAL,
                                               "nftables: %s '%s': only letters, digits, '-', "
                                               "'_' and '.' are allowed",
                                               kind, name);
        }
        return 0;
}

/* ---- the context -------------------------------------------------------- */

struct open_ctx {
        int netns_fd;
        struct nft_ctx *ctx;
        int error;
        bool brnf4, brnf6;
};

/* A 0/1 sysctl of the caller's namespace; missing (module not loaded) reads false. */
static bool sysctl_on(const char *path)
{
        char c = '0';
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        if (read(fd, &c, 1) != 1)
                c = '0';
        close(fd);
        return c == '1';
}

static void *open_thread(void *p)
{
        struct open_ctx *c = p;
        /* CLONE_NEWNET is per thread; this thread ends right after. */
        if (c->netns_fd >= 0 && setns(c->netns_fd, CLONE_NEWNET) < 0) {
                c->error = errno;
                return NULL;
        }
        /* /proc/sys/net shows the namespace of the thread that opens it */
        c->brnf4 = sysctl_on("/proc/sys/net/bridge/bridge-nf-call-iptables");
        c->brnf6 = sysctl_on("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
        c->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!c->ctx)
                c->error = errno ? errno : ENOMEM;
        return NULL;
}

static struct nft_ctx *ctx_in(int netns_fd, bool ret_brnf[2], struct berth_error **err)
{
        struct open_ctx c = {.netns_fd = netns_fd};
        if (netns_fd < 0) {
                open_thread(&c);
        } else {
                pthread_t t;
                int r = pthread_create(&t, NULL, open_thread, &c);
                if (r != 0) {
                        berth_error_sys(err, r, "nftables: namespace fd %d: thread", netns_fd);
                        return NULL;
                }
                pthread_join(t, NULL);
        }
        if (!c.ctx) {
                berth_error_sys(err, c.error, "nftables: %s",
                                netns_fd >= 0 ? "enter network namespace" : "new context");
                return NULL;
        }
        ret_brnf[0] = c.brnf4;
        ret_brnf[1] = c.brnf6;
        /* library code never prints: keep both streams in memory */
        nft_ctx_buffer_output(c.ctx);
        nft_ctx_buffer_error(c.ctx);
        return c.ctx;
}

static void fw_free(struct net_fw *fw)
{
        if (!fw)
                return;
        for (size_t i = 0; i < fw->n_nets; i++)
                free(fw->nets[i].subnets);
        free(fw->nets);
        if (fw->ctx)
                nft_ctx_free(fw->ctx);
        free(fw->table);
        free(fw);
}

/* ---- iptables-nft's chains ---------------------------------------------- */

/* Run one listing command with JSON output; *ret is its parsed "nftables" array. */
static int list_json(struct net_fw *fw, const char *what, struct json **ret,
                     struct berth_error **err)
{
        unsigned saved = nft_ctx_output_get_flags(fw->ctx);
        nft_ctx_output_set_flags(fw->ctx, saved | NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
        struct berth_buf b = BERTH_BUF_INIT;
        cmd(&b, "%s", what);
        int r = fw_run(fw, &b, err, "%s", what);
        buf_release(&b);
        nft_ctx_output_set_flags(fw->ctx, saved);
        const char *out = nft_ctx_get_output_buffer(fw->ctx);
        if (r < 0)
                return r;
        _cleanup_(json_freep) struct json *j = NULL;
        r = json_parse(out, strlen(out), &j, err);
        if (r < 0)
                return berth_error_prefix(err, "nftables: %s", what);
        *ret = j;
        j = NULL;
        return 0;
}

/* The object under key in each item of the "nftables" array, e.g. "chain". */
static const struct json *nft_item(const struct json *j, size_t i, const char *key)
{
        const struct json *arr = json_get(j, "nftables");
        if (!json_is(arr, JSON_ARRAY) || i >= arr->arr.n)
                return NULL;
        return json_get(arr->arr.items[i], key);
}

static size_t nft_items(const struct json *j)
{
        const struct json *arr = json_get(j, "nftables");
        return json_is(arr, JSON_ARRAY) ? arr->arr.n : 0;
}

static bool jstr_is(const struct json *obj, const char *key, const char *want)
{
        const char *s = json_str(json_get(obj, key));
        return s && strcmp(s, want) == 0;
}

/*
 * Where to put accept rules in table <family> filter: DOCKER-USER when it
 * exists, else FORWARD when its policy is drop; ret[0] = '\0': nowhere.
 */
static void ipt_target(const struct json *chains, const char *family, char ret[16])
{
        bool user = false, fwd_drop = false;
        for (size_t i = 0; i < nft_items(chains); i++) {
                const struct json *c = nft_item(chains, i, "chain");
                if (!c || !jstr_is(c, "family", family) || !jstr_is(c, "table", "filter"))
                        continue;
                if (jstr_is(c, "name", "DOCKER-USER"))
                        user = true;
                else if (jstr_is(c, "name", "FORWARD") && jstr_is(c, "hook", "forward") &&
                         jstr_is(c, "policy", "drop"))
                        fwd_drop = true;
        }
        snprintf(ret, 16, "%s", user ? "DOCKER-USER" : fwd_drop ? "FORWARD" : "");
}

static bool chain_exists(const struct json *chains, const char *family, const char *name)
{
        for (size_t i = 0; i < nft_items(chains); i++) {
                const struct json *c = nft_item(chains, i, "chain");
                if (c && jstr_is(c, "family", family) && jstr_is(c, "table", "filter") &&
                    jstr_is(c, "name", name))
                        return true;
        }
        return false;
}

/*
 * Append to b a delete for every rule of DOCKER-USER and FORWARD in table
 * ip/ip6 filter whose comment is tag (bridge != NULL) or starts with
 * "berth:<table>:" (bridge == NULL).
 */
static int ipt_delete_tagged(struct net_fw *fw, const struct json *chains, const char *bridge,
                             struct berth_buf *b, struct berth_error **err)
{
        static const char *const families[] = {"ip", "ip6"};
        static const char *const names[] = {"DOCKER-USER", "FORWARD"};
        _cleanup_free_ char *prefix = xasprintf("berth:%s:", fw->table);
        for (size_t f = 0; f < 2; f++)
                for (size_t n = 0; n < 2; n++) {
                        if (!chain_exists(chains, families[f], names[n]))
                                continue;
                        _cleanup_free_ char *what =
                            xasprintf("list chain %s filter %s", families[f], names[n]);
                        _cleanup_(json_freep) struct json *rules = NULL;
                        int r = list_json(fw, what, &rules, err);
                        if (r < 0)
                                return r;
                        for (size_t i = 0; i < nft_items(rules); i++) {
                                const struct json *rule = nft_item(rules, i, "rule");
                                const char *c = json_str(json_get(rule, "comment"));
                                const struct json *h = json_get(rule, "handle");
                                if (!c || strncmp(c, prefix, strlen(prefix)) != 0 ||
                                    !json_is(h, JSON_NUMBER))
                                        continue;
                                if (bridge && strcmp(c + strlen(prefix), bridge) != 0)
                                        continue;
                                cmd(b, "delete rule %s filter %s handle %" PRId64, families[f],
                                    names[n], h->num.i);
                        }
                }
        return 0;
}

static int list_chains(struct net_fw *fw, struct json **ret, struct berth_error **err)
{
        return list_json(fw, "list chains", ret, err);
}

/* ---- open and close ----------------------------------------------------- */

static void render_tables(struct berth_buf *b, const char *t)
{
        /* "add" first so that "delete" finds a table to delete either way */
        cmd(b, "add table inet %s", t);
        cmd(b, "delete table inet %s", t);
        cmd(b, "add table bridge %s", t);
        cmd(b, "delete table bridge %s", t);
        cmd(b,
            "table inet %s {\n"
            "  set bridges { type ifname; }\n"
            "  set nets4 { type ipv4_addr; flags interval; }\n"
            "  set nets6 { type ipv6_addr; flags interval; }\n"
            "  map from_br { type ifname : verdict; }\n"
            "  map to_br { type ifname : verdict; }\n"
            "  map masq4 { type ipv4_addr : verdict; flags interval; }\n"
            "  map masq6 { type ipv6_addr : verdict; flags interval; }\n"
            "  map ports4 { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
            "  map ports4h { type ipv4_addr . inet_proto . inet_service :"
            " ipv4_addr . inet_service; }\n"
            "  map ports6 { type inet_proto . inet_service : ipv6_addr . inet_service; }\n"
            "  map ports6h { type ipv6_addr . inet_proto . inet_service :"
            " ipv6_addr . inet_service; }\n"
            "  chain forward {\n"
            "    type filter hook forward priority filter; policy accept;\n"
            "    iifname vmap @from_br\n"
            "    oifname vmap @to_br\n"
            "  }\n"
            "  chain ports {\n"
            "    meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @ports4h\n"
            "    meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports4\n"
            "    meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports6h\n"
            "    meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @ports6\n"
            "  }\n"
            "  chain prerouting {\n"
            "    type nat hook prerouting priority dstnat; policy accept;\n"
            "    fib daddr type local jump ports\n"
            "  }\n"
            "  chain output {\n"
            "    type nat hook output priority -100; policy accept;\n"
            "    fib daddr type local jump ports\n"
            "  }\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            /* the host's loopback to a published port (route_localnet) */
            "    oifname @bridges ip saddr 127.0.0.0/8 masquerade\n"
            /* hairpin: a container to a published port through a host address */
            "    oifname @bridges ct status dnat ip saddr @nets4 masquerade\n"
            "    oifname @bridges ct status dnat ip6 saddr @nets6 masquerade\n"
            "    ip saddr vmap @masq4\n"
            "    ip6 saddr vmap @masq6\n"
            "  }\n"
            "}",
            t);
        cmd(b,
            "table bridge %s {\n"
            "  set noicc4 { type ipv4_addr; flags interval; }\n"
            "  set noicc6 { type ipv6_addr; flags interval; }\n"
            "  chain forward {\n"
            "    type filter hook forward priority filter; policy accept;\n"
            "    ip saddr @noicc4 ip daddr @noicc4 drop\n"
            "    ip6 saddr @noicc6 ip6 daddr @noicc6 drop\n"
            "  }\n"
            "}",
            t);
}

int net_fw_open(int netns_fd, const char *table, struct net_fw **ret, struct berth_error **err)
{
        /* an nft table name is up to 256 bytes; the comment tag must stay short */
        int r = check_name("table", table, 64, err);
        if (r < 0)
                return r;
        struct net_fw *fw = xcalloc(1, sizeof(*fw));
        fw->table = xstrdup(table);
        bool brnf[2] = {false, false};
        fw->ctx = ctx_in(netns_fd, brnf, err);
        fw->brnf4 = brnf[0];
        fw->brnf6 = brnf[1];
        if (!fw->ctx) {
                fw_free(fw);
                return -(*err ? (*err)->code : EIO);
        }
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        _cleanup_(json_freep) struct json *chains = NULL;
        r = list_chains(fw, &chains, err);
        if (r >= 0)
                r = ipt_delete_tagged(fw, chains, NULL, &b, err);
        if (r >= 0) {
                render_tables(&b, table);
                r = fw_run(fw, &b, err, "replace table inet %s", table);
        }
        if (r < 0) {
                fw_free(fw);
                return r;
        }
        *ret = fw;
        return 0;
}

int net_fw_close(struct net_fw *fw, bool remove, struct berth_error **err)
{
        if (!fw)
                return 0;
        int r = 0;
        if (remove) {
                _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
                _cleanup_(json_freep) struct json *chains = NULL;
                r = list_chains(fw, &chains, err);
                if (r >= 0)
                        r = ipt_delete_tagged(fw, chains, NULL, &b, err);
                if (r >= 0) {
                        cmd(&b, "delete table inet %s", fw->table);
                        cmd(&b, "delete table bridge %s", fw->table);
                        r = fw_run(fw, &b, err, "delete table inet %s", fw->table);
                }
        }
        fw_free(fw);
        return r;
}

/* ---- networks ----------------------------------------------------------- */

static struct fw_net *find_net(struct net_fw *fw, const char *bridge)
{
        for (size_t i = 0; i < fw->n_nets; i++)
                if (strcmp(fw->nets[i].bridge, bridge) == 0)
                        return &fw->nets[i];
        return NULL;
}

/* The subnet's network address and prefix, as nft reads it. */
static char *subnet_str(const struct net_addr *a, char *buf)
{
        struct net_addr n = ipam_network(a);
        return ipam_format_cidr(&n, buf);
}

/* Append adds or deletes (verb) of every element of net in the sets and maps. */
static void render_net_elements(struct berth_buf *b, const struct net_fw *fw,
                                const struct fw_net *n, const char *verb)
{
        const char *t = fw->table;
        const char *br = n->bridge;
        cmd(b, "%s element inet %s bridges { \"%s\" }", verb, t, br);
        cmd(b, "%s element inet %s from_br { \"%s\" : jump from-%s }", verb, t, br, br);
        cmd(b, "%s element inet %s to_br { \"%s\" : jump to-%s }", verb, t, br, br);
        for (size_t i = 0; i < n->n_subnets; i++) {
                char s[IPAM_ADDRSTRLEN];
                const char *v = n->subnets[i].family == AF_INET6 ? "6" : "4";
                subnet_str(&n->subnets[i], s);
                cmd(b, "%s element inet %s nets%s { %s }", verb, t, v, s);
                if (n->masquerade)
                        cmd(b, "%s element inet %s masq%s { %s : jump masq-%s }", verb, t, v, s,
                            br);
                bool brnf = n->subnets[i].family == AF_INET6 ? fw->brnf6 : fw->brnf4;
                if (!n->icc && !brnf)
                        cmd(b, "%s element bridge %s noicc%s { %s }", verb, t, v, s);
        }
}

static void render_net_chains(struct berth_buf *b, const char *t, const struct fw_net *n)
{
        const char *br = n->bridge;
        static const char *const prefixes[] = {"from", "to", "masq"};
        /* add + flush: a bridge added again gets its chains rewritten, not doubled */
        for (size_t i = 0; i < 3; i++) {
                cmd(b, "add chain inet %s %s-%s", t, prefixes[i], br);
                cmd(b, "flush chain inet %s %s-%s", t, prefixes[i], br);
        }
        /* from the bridge */
        if (!n->internal)
                cmd(b, "add rule inet %s from-%s oifname \"%s\" ct status dnat accept", t, br, br);
        cmd(b, "add rule inet %s from-%s oifname \"%s\" %s", t, br, br, n->icc ? "accept" : "drop");
        if (n->internal) {
                cmd(b, "add rule inet %s from-%s drop", t, br);
        } else {
                cmd(b, "add rule inet %s from-%s oifname @bridges ct status dnat accept", t, br);
                cmd(b, "add rule inet %s from-%s oifname @bridges drop", t, br);
                cmd(b, "add rule inet %s from-%s accept", t, br);
        }
        /* into the bridge from another interface */
        if (!n->internal) {
                cmd(b, "add rule inet %s to-%s ct state established,related accept", t, br);
                cmd(b, "add rule inet %s to-%s ct status dnat accept", t, br);
        }
        cmd(b, "add rule inet %s to-%s drop", t, br);
        if (n->masquerade)
                cmd(b, "add rule inet %s masq-%s oifname != \"%s\" masquerade", t, br, br);
}

static void render_ipt_add(struct berth_buf *b, const struct json *chains, const char *t,
                           const char *br, bool *ret_added)
{
        static const char *const families[] = {"ip", "ip6"};
        for (size_t f = 0; f < 2; f++) {
                char chain[16];
                ipt_target(chains, families[f], chain);
                if (!chain[0])
                        continue;
                /* iptables-nft lists these as -i/-o B -m comment --comment ... -j ACCEPT */
                cmd(b,
                    "insert rule %s filter %s oifname \"%s\" counter accept comment "
                    "\"berth:%s:%s\"",
                    families[f], chain, br, t, br);
                cmd(b,
                    "insert rule %s filter %s iifname \"%s\" counter accept comment "
                    "\"berth:%s:%s\"",
                    families[f], chain, br, t, br);
                *ret_added = true;
        }
}

static void fw_net_release(struct fw_net *n)
{
        free(n->subnets);
        n->subnets = NULL;
}

int net_fw_network_add(struct net_fw *fw, const struct net_fw_network *n, struct berth_error **err)
{
        int r = check_name("bridge", n->bridge, IFNAMSIZ - 1, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n->n_subnets; i++)
                if (n->subnets[i].family != AF_INET && n->subnets[i].family != AF_INET6)
                        return berth_error_set(err, EAFNOSUPPORT,
                                               "nftables: add network '%s': subnet %zu has no "
                                               "address family",
                                               n->bridge, i);
        struct fw_net nn = {.masquerade = n->masquerade, .icc = n->icc, .internal = n->internal};
        snprintf(nn.bridge, sizeof(nn.bridge), "%s", n->bridge);
        nn.n_subnets = n->n_subnets;
        if (n->n_subnets) {
                nn.subnets = xmalloc(n->n_subnets * sizeof(*nn.subnets));
                memcpy(nn.subnets, n->subnets, n->n_subnets * sizeof(*nn.subnets));
        }

        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        _cleanup_(json_freep) struct json *chains = NULL;
        struct fw_net *old = find_net(fw, n->bridge);
        if (old) {
                render_net_elements(&b, fw, old, "delete");
                if (old->ipt) {
                        r = list_chains(fw, &chains, err);
                        if (r >= 0)
                                r = ipt_delete_tagged(fw, chains, old->bridge, &b, err);
                        json_free(chains);
                        chains = NULL;
                        if (r < 0)
                                goto fail;
                }
        }
        render_net_chains(&b, fw->table, &nn);
        render_net_elements(&b, fw, &nn, "add");
        r = list_chains(fw, &chains, err);
        if (r < 0)
                goto fail;
        render_ipt_add(&b, chains, fw->table, nn.bridge, &nn.ipt);
        r = fw_run(fw, &b, err, "add network '%s'", n->bridge);
        if (r < 0)
                goto fail;
        if (old) {
                fw_net_release(old);
                *old = nn;
        } else {
                fw->nets = xrealloc(fw->nets, (fw->n_nets + 1) * sizeof(*fw->nets));
                fw->nets[fw->n_nets++] = nn;
        }
        return 0;
fail:
        fw_net_release(&nn);
        return r;
}

int net_fw_network_del(struct net_fw *fw, const char *bridge, struct berth_error **err)
{
        struct fw_net *n = find_net(fw, bridge);
        if (!n)
                return berth_error_set(err, ENOENT, "nftables: delete network '%s': not added",
                                       bridge);
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        render_net_elements(&b, fw, n, "delete");
        static const char *const prefixes[] = {"from", "to", "masq"};
        for (size_t i = 0; i < 3; i++) {
                cmd(&b, "flush chain inet %s %s-%s", fw->table, prefixes[i], bridge);
                cmd(&b, "delete chain inet %s %s-%s", fw->table, prefixes[i], bridge);
        }
        if (n->ipt) {
                _cleanup_(json_freep) struct json *chains = NULL;
                int r = list_chains(fw, &chains, err);
                if (r >= 0)
                        r = ipt_delete_tagged(fw, chains, bridge, &b, err);
                if (r < 0)
                        return r;
        }
        int r = fw_run(fw, &b, err, "delete network '%s'", bridge);
        if (r < 0)
                return r;
        fw_net_release(n);
        *n = fw->nets[--fw->n_nets];
        return 0;
}

/* ---- ports -------------------------------------------------------------- */

static const char *proto_name(int proto)
{
        switch (proto) {
        case IPPROTO_TCP:
                return "tcp";
        case IPPROTO_UDP:
                return "udp";
        case IPPROTO_SCTP:
                return "sctp";
        default:
                return NULL;
        }
}

/* "8080/tcp -> 172.17.0.2:80", "[::1]:8080/tcp -> [fd00::2]:80" for messages. */
static char *port_desc(const struct net_fw_port *p)
{
        char h[IPAM_ADDRSTRLEN] = "", c[IPAM_ADDRSTRLEN] = "?";
        const char *proto = proto_name(p->proto);
        char pn[16];
        if (!proto) {
                snprintf(pn, sizeof(pn), "proto-%d", p->proto);
                proto = pn;
        }
        if (p->host_ip.family == AF_INET || p->host_ip.family == AF_INET6)
                ipam_format_addr(&p->host_ip, h);
        if (p->ctr_ip.family == AF_INET || p->ctr_ip.family == AF_INET6)
                ipam_format_addr(&p->ctr_ip, c);
        bool h6 = p->host_ip.family == AF_INET6, c6 = p->ctr_ip.family == AF_INET6;
        return xasprintf("%s%s%s%s%u/%s -> %s%s%s:%u", h6 ? "[" : "", h, h6 ? "]" : "",
                         h[0] ? ":" : "", p->host_port, proto, c6 ? "[" : "", c, c6 ? "]" : "",
                         p->ctr_port);
}

static int port_cmd(struct net_fw *fw, const struct net_fw_port *p, bool add,
                    struct berth_error **err)
{
        _cleanup_free_ char *desc = port_desc(p);
        const char *verb = add ? "add" : "delete";
        const char *proto = proto_name(p->proto);
        if (!proto)
                return berth_error_set(err, EPROTONOSUPPORT,
                                       "nftables: %s port %s: only tcp, udp and sctp", verb, desc);
        int fam = p->ctr_ip.family;
        if (fam != AF_INET && fam != AF_INET6)
                return berth_error_set(err, EAFNOSUPPORT,
                                       "nftables: %s port %s: no container address", verb, desc);
        if (p->host_ip.family != 0 && p->host_ip.family != fam)
                return berth_error_set(err, EAFNOSUPPORT,
                                       "nftables: %s port %s: host and container addresses are "
                                       "of different families",
                                       verb, desc);
        if (p->host_port == 0 || p->ctr_port == 0)
                return berth_error_set(err, EINVAL, "nftables: %s port %s: port 0", verb, desc);
        const char *v = fam == AF_INET ? "4" : "6";
        char host[IPAM_ADDRSTRLEN], ctr[IPAM_ADDRSTRLEN];
        ipam_format_addr(&p->ctr_ip, ctr);
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        _cleanup_free_ char *key =
            p->host_ip.family ? xasprintf("%s . %s . %u", ipam_format_addr(&p->host_ip, host),
                                          proto, p->host_port)
                              : xasprintf("%s . %u", proto, p->host_port);
        if (add)
                cmd(&b, "add element inet %s ports%s%s { %s : %s . %u }", fw->table, v,
                    p->host_ip.family ? "h" : "", key, ctr, p->ctr_port);
        else
                cmd(&b, "delete element inet %s ports%s%s { %s }", fw->table, v,
                    p->host_ip.family ? "h" : "", key);
        return fw_run(fw, &b, err, "%s port %s", verb, desc);
}

int net_fw_port_add(struct net_fw *fw, const struct net_fw_port *p, struct berth_error **err)
{
        return port_cmd(fw, p, true, err);
}

int net_fw_port_del(struct net_fw *fw, const struct net_fw_port *p, struct berth_error **err)
{
        return port_cmd(fw, p, false, err);
}
