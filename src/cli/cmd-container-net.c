/*
 * cmd-container-net.c — the network flags of run/create as docker's CLI reads
 * them (contract in container-opts.h): --network in its short and long
 * ("name=x,alias=y,ip=…") syntax, and docker's parseNetworkOpts, which turns
 * them and --network-alias, --link, --ip, --ip6, --mac-address and
 * --link-local-ip into HostConfig.NetworkMode and NetworkingConfig's
 * endpoints (the implicit "default" one included, as docker 28 sends it).
 *
 * Never: send an endpoint for a lone network without settings (docker leaves it
 * to the daemon).
 */
#include <ctype.h>
#include <regex.h>
#include <string.h>

#include "base/buf.h"
#include "container-opts.h"

static void push(char ***v, const char *s)
{
        size_t n = 0;
        while (*v && (*v)[n])
                n++;
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = xstrdup(s);
        (*v)[n + 1] = NULL;
}

static size_t count(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

static char *error_text(struct berth_error *e)
{
        char *s = xstrdup(berth_error_msg(e));
        berth_error_free(e);
        return s;
}

/* Both spellings of a flag docker registers twice (--net/--network, --net-alias/…). */
static char **list2(const struct cli_flagset *fs, const char *a, const char *b, char ***owned)
{
        char **x = cli_flag_list(fs, a), **y = cli_flag_list(fs, b);
        if (!x || !y)
                return x ? x : y;
        for (size_t i = 0; x[i]; i++)
                push(owned, x[i]);
        for (size_t i = 0; y[i]; i++)
                push(owned, y[i]);
        return *owned;
}

static struct json *str_array(char *const *v)
{
        if (!v)
                return json_new_null();
        struct json *a = json_new_array();
        for (size_t i = 0; v[i]; i++)
                json_array_append(a, json_new_string(v[i]));
        return a;
}

static int cmp_member(const void *a, const void *b)
{
        return strcmp(((const struct json_member *)a)->key, ((const struct json_member *)b)->key);
}

static struct json *sort_keys(struct json *o)
{
        if (json_is(o, JSON_OBJECT) && o->obj.n > 1)
                qsort(o->obj.m, o->obj.n, sizeof(*o->obj.m), cmp_member);
        return o;
}

bool container_valid_mac(const char *s)
{
        /* net.ParseMAC: 6, 8 or 20 octets, "xx:xx", "xx-xx" or "xxxx.xxxx" groups */
        size_t len = strlen(s);
        if (len < 14)
                return false;
        if (s[2] == ':' || s[2] == '-') {
                if ((len + 1) % 3)
                        return false;
                size_t n = (len + 1) / 3;
                if (n != 6 && n != 8 && n != 20)
                        return false;
                for (size_t i = 0; i < n; i++) {
                        const char *o = s + 3 * i;
                        if (!isxdigit((unsigned char)o[0]) || !isxdigit((unsigned char)o[1]))
                                return false;
                        if (i + 1 < n && o[2] != s[2])
                                return false;
                }
                return true;
        }
        if (s[4] == '.') {
                if ((len + 1) % 5)
                        return false;
                size_t n = 2 * (len + 1) / 5;
                if (n != 6 && n != 8 && n != 20)
                        return false;
                for (size_t i = 0; i < (len + 1) / 5; i++) {
                        const char *g = s + 5 * i;
                        for (int k = 0; k < 4; k++)
                                if (!isxdigit((unsigned char)g[k]))
                                        return false;
                        if ((i + 1) * 5 - 1 < len && g[4] != '.')
                                return false;
                }
                return true;
        }
        return false;
}

/* ---- --network (opts.NetworkOpt) ---- */

struct net_attach {
        char *target;
        char **aliases, **links, **link_local;
        char *ipv4, *ipv6, *mac;
        struct json *driver_opts;
        int64_t gw_priority;
};

static void net_attach_release(struct net_attach *n)
{
        free(n->target);
        strv_free(n->aliases);
        strv_free(n->links);
        strv_free(n->link_local);
        free(n->ipv4);
        free(n->ipv6);
        free(n->mac);
        json_free(n->driver_opts);
        memset(n, 0, sizeof(*n));
}

static char *trim_dup(const char *s, size_t len)
{
        while (len && isspace((unsigned char)*s)) {
                s++;
                len--;
        }
        while (len && isspace((unsigned char)s[len - 1]))
                len--;
        return xstrndup(s, len);
}

/* The long syntax is recognised as docker does: \w+=\w+ anywhere in the value. */
static bool network_long_syntax(const char *v)
{
        regex_t re;
        bool m = false;
        if (regcomp(&re, "[A-Za-z0-9_]+=[A-Za-z0-9_]+", REG_EXTENDED | REG_NOSUB) == 0) {
                m = regexec(&re, v, 0, NULL, 0) == 0;
                regfree(&re);
        }
        return m;
}

static char *network_value(const char *v, struct net_attach *ret)
{
        struct net_attach n = {0};
        if (!network_long_syntax(v)) {
                n.target = xstrdup(v);
                if (ret)
                        *ret = n;
                else
                        net_attach_release(&n);
                return NULL;
        }
        _cleanup_strv_free_ char **fields = NULL;
        struct berth_error *e = NULL;
        if (container_csv_fields(v, &fields, &e) < 0)
                return error_text(e);
        char *why = NULL;
        for (size_t i = 0; fields[i] && !why; i++) {
                _cleanup_free_ char *f = xstrdup(fields[i]);
                for (char *p = f; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                char *eq = strchr(f, '=');
                if (!eq || eq == f) {
                        why = xasprintf("invalid field %s", fields[i]);
                        break;
                }
                _cleanup_free_ char *key = trim_dup(f, (size_t)(eq - f));
                _cleanup_free_ char *val = trim_dup(eq + 1, strlen(eq + 1));
                if (strcmp(key, "name") == 0) {
                        free(n.target);
                        n.target = xstrdup(val);
                } else if (strcmp(key, "alias") == 0) {
                        push(&n.aliases, val);
                } else if (strcmp(key, "ip") == 0) {
                        free(n.ipv4);
                        n.ipv4 = xstrdup(val);
                } else if (strcmp(key, "ip6") == 0) {
                        free(n.ipv6);
                        n.ipv6 = xstrdup(val);
                } else if (strcmp(key, "mac-address") == 0) {
                        free(n.mac);
                        n.mac = xstrdup(val);
                } else if (strcmp(key, "link-local-ip") == 0) {
                        push(&n.link_local, val);
                } else if (strcmp(key, "driver-opt") == 0) {
                        char *deq = strchr(val, '=');
                        if (!deq || deq == val) {
                                why = xstrdup("invalid key value pair format in driver options");
                                break;
                        }
                        _cleanup_free_ char *dk = trim_dup(val, (size_t)(deq - val));
                        _cleanup_free_ char *dv = trim_dup(deq + 1, strlen(deq + 1));
                        if (!n.driver_opts)
                                n.driver_opts = json_new_object();
                        json_set_str(n.driver_opts, dk, dv);
                } else if (strcmp(key, "gw-priority") == 0) {
                        char *end = NULL;
                        errno = 0;
                        long long p = strtoll(val, &end, 10);
                        if (!*val || *end)
                                why = xasprintf("invalid gw-priority (%s): invalid syntax", val);
                        else if (errno)
                                why =
                                    xasprintf("invalid gw-priority (%s): value out of range", val);
                        n.gw_priority = p;
                } else {
                        why = xasprintf("invalid field key %s", key);
                }
        }
        if (!why && (!n.target || !*n.target))
                why = xstrdup("network name/id is not specified");
        if (why || !ret)
                net_attach_release(&n);
        else
                *ret = n;
        return why;
}

char *container_check_network(const char *v)
{
        return network_value(v, NULL);
}

static struct json *endpoint_settings(const struct net_attach *n)
{
        struct json *e = json_new_object();
        if (n->ipv4 || n->ipv6 || n->link_local) {
                struct json *ipam = json_object_set(e, "IPAMConfig", json_new_object());
                if (n->ipv4 && *n->ipv4)
                        json_set_str(ipam, "IPv4Address", n->ipv4);
                if (n->ipv6 && *n->ipv6)
                        json_set_str(ipam, "IPv6Address", n->ipv6);
                if (n->link_local)
                        json_object_set(ipam, "LinkLocalIPs", str_array(n->link_local));
        } else {
                json_object_set(e, "IPAMConfig", json_new_null());
        }
        json_object_set(e, "Links", str_array(n->links));
        json_object_set(e, "Aliases", str_array(n->aliases));
        json_set_str(e, "MacAddress", n->mac ? n->mac : "");
        json_object_set(e, "DriverOpts",
                        n->driver_opts ? sort_keys(json_copy(n->driver_opts)) : json_new_null());
        json_set_int(e, "GwPriority", n->gw_priority);
        static const char *const strs[] = {"NetworkID", "EndpointID", "Gateway", "IPAddress"};
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                json_set_str(e, strs[i], "");
        json_set_int(e, "IPPrefixLen", 0);
        json_set_str(e, "IPv6Gateway", "");
        json_set_str(e, "GlobalIPv6Address", "");
        json_set_int(e, "GlobalIPv6PrefixLen", 0);
        json_object_set(e, "DNSNames", json_new_null());
        return e;
}

/* container.NetworkMode(n).IsUserDefined() */
static bool user_defined(const char *mode)
{
        return strcmp(mode, "default") != 0 && strcmp(mode, "bridge") != 0 &&
               strcmp(mode, "host") != 0 && strcmp(mode, "none") != 0 &&
               strncmp(mode, "container:", 10) != 0;
}

static bool endpoint_empty(const struct net_attach *n)
{
        return !n->aliases && !n->links && !n->ipv4 && !n->ipv6 && !n->link_local &&
               (!n->mac || !*n->mac) && !n->driver_opts && !n->gw_priority;
}

/* applyContainerOptions */
static int apply_container_options(const struct cli_flagset *fs, struct net_attach *n,
                                   char ***owned, struct berth_error **err)
{
        char **aliases = list2(fs, "net-alias", "network-alias", owned);
        char **links = cli_flag_list(fs, "link");
        const char *ip = cli_flag_string(fs, "ip"), *ip6 = cli_flag_string(fs, "ip6");
        const char *mac = cli_flag_string(fs, "mac-address");
        char **lli = cli_flag_list(fs, "link-local-ip");
        if (n->aliases && aliases)
                return berth_error_set(err, EINVAL,
                                       "conflicting options: cannot specify both "
                                       "--network-alias and per-network alias");
        if (n->links && links)
                return berth_error_set(err, EINVAL,
                                       "conflicting options: cannot specify both --link and "
                                       "per-network links");
        if (n->ipv4 && *n->ipv4 && ip && *ip)
                return berth_error_set(err, EINVAL,
                                       "conflicting options: cannot specify both --ip and "
                                       "per-network IPv4 address");
        if (n->ipv6 && *n->ipv6 && ip6 && *ip6)
                return berth_error_set(err, EINVAL,
                                       "conflicting options: cannot specify both --ip6 and "
                                       "per-network IPv6 address");
        if (n->mac && *n->mac && mac && *mac)
                return berth_error_set(err, EINVAL,
                                       "conflicting options: cannot specify both --mac-address "
                                       "and per-network MAC address");
        if (n->link_local && lli)
                return berth_error_set(err, EINVAL,
                                       "conflicting options: cannot specify both --link-local-ip "
                                       "and per-network link-local IP addresses");
        for (size_t i = 0; aliases && aliases[i]; i++)
                push(&n->aliases, aliases[i]);
        if (user_defined(n->target))
                for (size_t i = 0; links && links[i]; i++)
                        push(&n->links, links[i]);
        if (ip && *ip) {
                free(n->ipv4);
                n->ipv4 = xstrdup(ip);
        }
        if (ip6 && *ip6) {
                free(n->ipv6);
                n->ipv6 = xstrdup(ip6);
        }
        if (mac && *mac) {
                free(n->mac);
                n->mac = xstrdup(mac);
        }
        for (size_t i = 0; lli && lli[i]; i++)
                push(&n->link_local, lli[i]);
        return 0;
}

/* parseNetworkAttachmentOpt's checks */
static int check_attachment(const struct net_attach *n, struct berth_error **err)
{
        _cleanup_free_ char *t = trim_dup(n->target, strlen(n->target));
        if (!*t)
                return berth_error_set(err, EINVAL, "no name set for network");
        if (!user_defined(n->target)) {
                if (n->aliases)
                        return berth_error_set(err, EINVAL,
                                               "network-scoped aliases are only supported for "
                                               "user-defined networks");
                if (n->links)
                        return berth_error_set(err, EINVAL,
                                               "links are only supported for user-defined "
                                               "networks");
        }
        if (n->mac && *n->mac && !container_valid_mac(n->mac))
                return berth_error_set(err, EINVAL, "%s is not a valid mac address", n->mac);
        return 0;
}

int container_parse_networks(const struct cli_flagset *fs, struct json **ret_endpoints,
                             char **ret_mode, char **ret_mac, struct berth_error **err)
{
        _cleanup_strv_free_ char **owned = NULL;
        char **nets = list2(fs, "net", "network", &owned);
        struct json *endpoints = json_new_object();
        *ret_endpoints = endpoints;
        *ret_mode = NULL;
        *ret_mac = NULL;
        size_t n = count(nets);
        bool has_user = false, has_other = false;
        int r = 0;
        if (n == 0) {
                struct net_attach d = {.target = xstrdup("default")};
                r = apply_container_options(fs, &d, &owned, err);
                if (r == 0)
                        r = check_attachment(&d, err);
                if (r == 0) {
                        json_object_set(endpoints, "default", endpoint_settings(&d));
                        *ret_mac = xstrdup(d.mac ? d.mac : "");
                }
                net_attach_release(&d);
                *ret_mode = xstrdup("default");
                return r;
        }
        for (size_t i = 0; i < n && r == 0; i++) {
                struct net_attach a = {0};
                _cleanup_free_ char *why = network_value(nets[i], &a);
                if (why) {
                        net_attach_release(&a);
                        return berth_error_set(err, EINVAL, "%s", why);
                }
                if (i == 0)
                        *ret_mode = xstrdup(a.target);
                if (user_defined(a.target))
                        has_user = true;
                else
                        has_other = true;
                if (i == 0)
                        r = apply_container_options(fs, &a, &owned, err);
                if (r == 0)
                        r = check_attachment(&a, err);
                if (r == 0 && json_get(endpoints, a.target))
                        r = berth_error_set(err, EINVAL,
                                            "network \"%s\" is specified multiple times", a.target);
                if (r == 0 && i == 0 && (a.mac && *a.mac)) {
                        free(*ret_mac);
                        *ret_mac = xstrdup(a.mac);
                }
                if (r == 0 && !(i == 0 && n == 1 && endpoint_empty(&a)))
                        json_object_set(endpoints, a.target, endpoint_settings(&a));
                net_attach_release(&a);
        }
        if (r == 0 && has_user && has_other)
                r = berth_error_set(err, EINVAL,
                                    "conflicting options: cannot attach both user-defined and "
                                    "non-user-defined network-modes");
        return r;
}
