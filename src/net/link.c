/*
 * link.c — rtnetlink requests for links, addresses and routes (see link.h for
 * the contract).
 *
 * Every operation builds one request in the handle's buffer with libmnl's
 * attribute helpers and hands it to nl_talk(), which sends it and reads answers
 * until the kernel's ACK (plain requests, sent with NLM_F_ACK) or NLMSG_DONE
 * (dumps).  Answers of another sequence number are dropped: they are the tail
 * of an earlier dump whose callback gave up, and must not be taken for this
 * request's answer.  The socket asks for extended ACKs (NETLINK_EXT_ACK) and
 * capped ones (NETLINK_CAP_ACK: the kernel does not echo our request back), so
 * an error message carries the kernel's own explanation when it has one.
 *
 * Links are named by the caller; each operation resolves the name to an
 * ifindex with RTM_GETLINK in the socket's namespace, which also gives one
 * uniform "link 'x': no such device" when it is missing.
 *
 * Never: print, exit, or leave a thread in another namespace (the namespace
 * switch happens only in open_thread(), a thread that ends before
 * net_link_open() returns).
 */
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <libmnl/libmnl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>

#include "net/link.h"

/* Big enough for a whole dump skb of the kernel (it sizes them up to 32 KiB). */
#define NL_BUF_SIZE 32768

struct net_link {
        struct mnl_socket *sock;
        uint32_t portid;
        uint32_t seq;
        char *buf;
};

/* Called for each answer that is not an ACK, error or DONE; < 0 stops. */
typedef int (*nl_cb)(const struct nlmsghdr *nlh, void *data, struct berth_error **err);

struct open_ctx {
        int netns_fd;
        struct mnl_socket *sock;
        int error;
        const char *step;
};

static void *open_thread(void *p)
{
        struct open_ctx *c = p;
        /* CLONE_NEWNET is per thread; this thread ends right after. */
        if (c->netns_fd >= 0 && setns(c->netns_fd, CLONE_NEWNET) < 0) {
                c->error = errno;
                c->step = "enter network namespace";
                return NULL;
        }
        c->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!c->sock) {
                c->error = errno;
                c->step = "open rtnetlink socket";
        }
        return NULL;
}

int net_link_open(int netns_fd, struct net_link **ret, struct berth_error **err)
{
        struct open_ctx c = {.netns_fd = netns_fd};
        if (netns_fd < 0) {
                open_thread(&c);
        } else {
                pthread_t t;
                int r = pthread_create(&t, NULL, open_thread, &c);
                if (r != 0)
                        return berth_error_sys(err, r, "rtnetlink in namespace fd %d: thread",
                                               netns_fd);
                pthread_join(t, NULL);
        }
        if (!c.sock)
                return berth_error_sys(err, c.error, "rtnetlink: %s", c.step);

        struct net_link *nl = xcalloc(1, sizeof(*nl));
        nl->sock = c.sock;
        nl->buf = xmalloc(NL_BUF_SIZE);
        if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
                int e = errno;
                net_link_free(nl);
                return berth_error_sys(err, e, "rtnetlink: bind");
        }
        nl->portid = mnl_socket_get_portid(nl->sock);
        /* Both are best effort: kernels before 4.12 (ext ack) only lose detail. */
        int one = 1;
        (void)mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
        (void)mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
        *ret = nl;
        return 0;
}

void net_link_free(struct net_link *nl)
{
        if (!nl)
                return;
        if (nl->sock)
                mnl_socket_close(nl->sock);
        free(nl->buf);
        free(nl);
}

static struct nlmsghdr *req_start(struct net_link *nl, uint16_t type, uint16_t flags)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = ++nl->seq;
        return nlh;
}

/* Append a zeroed struct inside a nest (VETH_INFO_PEER starts with an ifinfomsg). */
static void *put_struct(struct nlmsghdr *nlh, size_t size)
{
        char *p = (char *)nlh + nlh->nlmsg_len;
        memset(p, 0, MNL_ALIGN(size));
        nlh->nlmsg_len += MNL_ALIGN(size);
        return p;
}

static int extack_attr(const struct nlattr *a, void *data)
{
        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
            mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                *(const char **)data = mnl_attr_get_str(a);
        return MNL_CB_OK;
}

/* The kernel's extended ACK message after a payload of `off` bytes, or NULL. */
static const char *extack_msg(const struct nlmsghdr *h, size_t off)
{
        const char *msg = NULL;
        if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
                return NULL;
        if (h->nlmsg_type == NLMSG_ERROR && !(h->nlmsg_flags & NLM_F_CAPPED)) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
                off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
        }
        if (mnl_nlmsg_get_payload_len(h) <= off)
                return NULL;
        (void)mnl_attr_parse(h, off, extack_attr, &msg);
        return msg;
}

_printf_(4, 5) static int kernel_error(struct berth_error **err, int code, const char *extack,
                                       const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        /* berth_error_sys words the errno as the rest of berth does */
        _cleanup_error_ struct berth_error *plain = NULL;
        berth_error_sys(&plain, code, "%s", what);
        if (extack && *extack)
                return berth_error_set(err, code, "%s (kernel: %s)", plain->msg, extack);
        return berth_error_set(err, code, "%s", plain->msg);
}

/*
 * Send req and read its answers, calling cb for each data message.  On a
 * failure the error reads "<what>: <reason>"; what is built from fmt.
 */
_printf_(6, 7) static int nl_talk(struct net_link *nl, struct nlmsghdr *req, nl_cb cb, void *data,
                                  struct berth_error **err, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                berth_oom();
        va_end(ap);

        uint32_t seq = req->nlmsg_seq;
        if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
                return kernel_error(err, errno, NULL, "%s: send", what);
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf, NL_BUF_SIZE);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return kernel_error(err, errno, NULL, "%s: receive", what);
                }
                int len = (int)n;
                for (const struct nlmsghdr *h = (const struct nlmsghdr *)nl->buf;
                     mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
                        if (h->nlmsg_seq != seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
                                if (mnl_nlmsg_get_payload_len(h) < sizeof(*e))
                                        return kernel_error(err, EBADMSG, NULL, "%s", what);
                                if (e->error == 0)
                                        return 0;
                                return kernel_error(err, -e->error, extack_msg(h, sizeof(*e)), "%s",
                                                    what);
                        }
                        if (h->nlmsg_type == NLMSG_DONE) {
                                int code = 0;
                                if (mnl_nlmsg_get_payload_len(h) >= sizeof(int))
                                        memcpy(&code, mnl_nlmsg_get_payload(h), sizeof(int));
                                if (code < 0)
                                        return kernel_error(err, -code, extack_msg(h, sizeof(int)),
                                                            "%s", what);
                                return 0;
                        }
                        if (h->nlmsg_type < NLMSG_MIN_TYPE || !cb)
                                continue;
                        int r = cb(h, data, err);
                        if (r < 0) {
                                berth_error_prefix(err, "%s", what);
                                return r;
                        }
                }
        }
}

static int check_name(const char *name, struct berth_error **err)
{
        size_t l = name ? strlen(name) : 0;
        if (l == 0)
                return berth_error_set(err, EINVAL, "empty interface name");
        if (l >= IFNAMSIZ)
                return berth_error_set(err, EINVAL, "interface name '%s': longer than %d bytes",
                                       name, IFNAMSIZ - 1);
        return 0;
}

static int getlink_cb(const struct nlmsghdr *nlh, void *data, struct berth_error **err)
{
        const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
        if (nlh->nlmsg_type == RTM_NEWLINK && mnl_nlmsg_get_payload_len(nlh) >= sizeof(*ifm))
                *(int *)data = ifm->ifi_index;
        return 0;
}

int net_link_index(struct net_link *nl, const char *name, int *ret_index, struct berth_error **err)
{
        int r = check_name(name, err);
        if (r < 0)
                return r;
        struct nlmsghdr *nlh = req_start(nl, RTM_GETLINK, NLM_F_ACK);
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        /* no statistics: the answer stays small */
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        int idx = 0;
        r = nl_talk(nl, nlh, getlink_cb, &idx, err, "link '%s'", name);
        if (r < 0)
                return r;
        if (idx <= 0)
                return berth_error_set(err, ENODEV, "link '%s': no such device", name);
        *ret_index = idx;
        return 0;
}

/* RTM_NEWLINK creating a link of kind: name, mtu, and LINKINFO left open. */
static struct nlmsghdr *newlink_start(struct net_link *nl, const char *name, unsigned mtu,
                                      const char *kind, struct nlattr **ret_linkinfo)
{
        struct nlmsghdr *nlh = req_start(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        if (mtu)
                mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
        *ret_linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
        return nlh;
}

int net_link_bridge_add(struct net_link *nl, const char *name, unsigned mtu,
                        struct berth_error **err)
{
        int r = check_name(name, err);
        if (r < 0)
                return r;
        struct nlattr *linkinfo;
        struct nlmsghdr *nlh = newlink_start(nl, name, mtu, "bridge", &linkinfo);
        mnl_attr_nest_end(nlh, linkinfo);
        return nl_talk(nl, nlh, NULL, NULL, err, "create bridge '%s'", name);
}

int net_link_veth_add(struct net_link *nl, const char *name, const char *peer, int peer_netns_fd,
                      unsigned mtu, struct berth_error **err)
{
        const struct net_veth_opts o = {.mtu = mtu};
        return net_link_veth_add_opts(nl, name, peer, peer_netns_fd, &o, err);
}

int net_link_veth_add_opts(struct net_link *nl, const char *name, const char *peer,
                           int peer_netns_fd, const struct net_veth_opts *o,
                           struct berth_error **err)
{
        int r = check_name(name, err);
        if (r >= 0)
                r = check_name(peer, err);
        int midx = 0;
        if (r >= 0 && o->master)
                r = net_link_index(nl, o->master, &midx, err);
        if (r < 0)
                return r;
        struct nlattr *linkinfo;
        struct nlmsghdr *nlh = newlink_start(nl, name, o->mtu, "veth", &linkinfo);
        struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
        if (o->up) {
                ifm->ifi_change = IFF_UP;
                ifm->ifi_flags = IFF_UP;
        }
        struct nlattr *info_data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        struct nlattr *peer_nest = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        struct ifinfomsg *pifm = put_struct(nlh, sizeof(*pifm));
        pifm->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
        if (o->mtu)
                mnl_attr_put_u32(nlh, IFLA_MTU, o->mtu);
        if (o->peer_mac)
                mnl_attr_put(nlh, IFLA_ADDRESS, 6, o->peer_mac);
        if (peer_netns_fd >= 0)
                mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
        mnl_attr_nest_end(nlh, peer_nest);
        mnl_attr_nest_end(nlh, info_data);
        mnl_attr_nest_end(nlh, linkinfo);
        if (midx)
                mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)midx);
        return nl_talk(nl, nlh, NULL, NULL, err, "create veth '%s' (peer '%s')", name, peer);
}

int net_link_del(struct net_link *nl, const char *name, struct berth_error **err)
{
        int idx, r = net_link_index(nl, name, &idx, err);
        if (r < 0)
                return r;
        struct nlmsghdr *nlh = req_start(nl, RTM_DELLINK, NLM_F_ACK);
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = idx;
        return nl_talk(nl, nlh, NULL, NULL, err, "delete link '%s'", name);
}

/*
 * RTM_NEWLINK changing the existing link name, named in the request itself
 * (ifi_index 0 and IFLA_IFNAME: the kernel looks it up, saving a GETLINK round
 * trip); the caller adds attributes.  A rename names the link by index.
 */
static int setlink_start(struct net_link *nl, const char *name, bool by_index,
                         struct nlmsghdr **ret_nlh, struct ifinfomsg **ret_ifm,
                         struct berth_error **err)
{
        int idx = 0, r = by_index ? net_link_index(nl, name, &idx, err) : check_name(name, err);
        if (r < 0)
                return r;
        struct nlmsghdr *nlh = req_start(nl, RTM_NEWLINK, NLM_F_ACK);
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = idx;
        if (!by_index)
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        *ret_nlh = nlh;
        if (ret_ifm)
                *ret_ifm = ifm;
        return 0;
}

int net_link_set_master(struct net_link *nl, const char *name, const char *master,
                        struct berth_error **err)
{
        int midx = 0, r;
        if (master) {
                r = net_link_index(nl, master, &midx, err);
                if (r < 0)
                        return r;
        }
        struct nlmsghdr *nlh;
        r = setlink_start(nl, name, false, &nlh, NULL, err);
        if (r < 0)
                return r;
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)midx);
        if (master)
                return nl_talk(nl, nlh, NULL, NULL, err, "attach '%s' to bridge '%s'", name,
                               master);
        return nl_talk(nl, nlh, NULL, NULL, err, "detach '%s' from its bridge", name);
}

int net_link_set_hairpin(struct net_link *nl, const char *name, bool on, struct berth_error **err)
{
        /* a bridge port's flag: its master's slave data (the bridge's slave_changelink),
         * in a NEWLINK naming the port, so no GETLINK for its index */
        struct nlmsghdr *nlh;
        int r = setlink_start(nl, name, false, &nlh, NULL, err);
        if (r < 0)
                return r;
        struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        struct nlattr *sd = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
        mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, on ? 1 : 0); /* hairpin */
        mnl_attr_nest_end(nlh, sd);
        mnl_attr_nest_end(nlh, li);
        return nl_talk(nl, nlh, NULL, NULL, err, "set hairpin mode of '%s' %s", name,
                       on ? "on" : "off");
}

int net_link_set_up(struct net_link *nl, const char *name, bool up, struct berth_error **err)
{
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifm;
        int r = setlink_start(nl, name, false, &nlh, &ifm, err);
        if (r < 0)
                return r;
        ifm->ifi_change = IFF_UP;
        ifm->ifi_flags = up ? IFF_UP : 0;
        return nl_talk(nl, nlh, NULL, NULL, err, "set '%s' %s", name, up ? "up" : "down");
}

int net_link_set_mtu(struct net_link *nl, const char *name, unsigned mtu, struct berth_error **err)
{
        struct nlmsghdr *nlh;
        int r = setlink_start(nl, name, false, &nlh, NULL, err);
        if (r < 0)
                return r;
        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
        return nl_talk(nl, nlh, NULL, NULL, err, "set mtu of '%s' to %u", name, mtu);
}

int net_link_set_mac(struct net_link *nl, const char *name, const uint8_t mac[6],
                     struct berth_error **err)
{
        struct nlmsghdr *nlh;
        int r = setlink_start(nl, name, false, &nlh, NULL, err);
        if (r < 0)
                return r;
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
        return nl_talk(nl, nlh, NULL, NULL, err,
                       "set mac address of '%s' to %02x:%02x:%02x:%02x:%02x:%02x", name, mac[0],
                       mac[1], mac[2], mac[3], mac[4], mac[5]);
}

int net_link_rename(struct net_link *nl, const char *name, const char *new_name,
                    struct berth_error **err)
{
        int r = check_name(new_name, err);
        if (r < 0)
                return r;
        struct nlmsghdr *nlh;
        r = setlink_start(nl, name, true, &nlh, NULL, err);
        if (r < 0)
                return r;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name);
        return nl_talk(nl, nlh, NULL, NULL, err, "rename '%s' to '%s'", name, new_name);
}

static size_t addr_len(int family)
{
        return family == AF_INET ? 4 : 16;
}

static int check_family(const struct net_addr *a, struct berth_error **err)
{
        if (a->family != AF_INET && a->family != AF_INET6)
                return berth_error_set(err, EAFNOSUPPORT, "address family %d: not IPv4 or IPv6",
                                       a->family);
        if (a->prefixlen > ipam_family_bits(a->family))
                return berth_error_set(err, EINVAL, "prefix length %u: too long",
                                       (unsigned)a->prefixlen);
        return 0;
}

static int addr_change(struct net_link *nl, uint16_t type, const char *name,
                       const struct net_addr *addr, enum net_addr_flags flags,
                       struct berth_error **err)
{
        int r = check_family(addr, err);
        if (r < 0)
                return r;
        int idx;
        r = net_link_index(nl, name, &idx, err);
        if (r < 0)
                return r;
        uint16_t nlflags = NLM_F_ACK | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
        struct nlmsghdr *nlh = req_start(nl, type, nlflags);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = (uint8_t)addr->family;
        ifa->ifa_prefixlen = addr->prefixlen;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (uint32_t)idx;
        if (addr->family == AF_INET6 && (flags & NET_ADDR_NODAD))
                ifa->ifa_flags |= IFA_F_NODAD;
        size_t len = addr_len(addr->family);
        mnl_attr_put(nlh, IFA_LOCAL, len, addr->bytes);
        mnl_attr_put(nlh, IFA_ADDRESS, len, addr->bytes);
        if (type == RTM_NEWADDR && addr->family == AF_INET && addr->prefixlen < 31) {
                struct net_addr bcast = ipam_last(addr);
                mnl_attr_put(nlh, IFA_BROADCAST, 4, bcast.bytes);
        }
        char buf[IPAM_ADDRSTRLEN];
        if (type == RTM_NEWADDR)
                return nl_talk(nl, nlh, NULL, NULL, err, "add address %s to '%s'",
                               ipam_format_cidr(addr, buf), name);
        return nl_talk(nl, nlh, NULL, NULL, err, "delete address %s from '%s'",
                       ipam_format_cidr(addr, buf), name);
}

int net_link_addr_add(struct net_link *nl, const char *name, const struct net_addr *addr,
                      enum net_addr_flags flags, struct berth_error **err)
{
        return addr_change(nl, RTM_NEWADDR, name, addr, flags, err);
}

int net_link_addr_del(struct net_link *nl, const char *name, const struct net_addr *addr,
                      struct berth_error **err)
{
        return addr_change(nl, RTM_DELADDR, name, addr, 0, err);
}

struct addr_vec {
        struct net_addr *v;
        size_t n, cap;
        int index; /* addresses: only this link (0: all) */
};

static void vec_push(struct addr_vec *v, const struct net_addr *a)
{
        if (v->n == v->cap) {
                v->cap = v->cap ? 2 * v->cap : 8;
                v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
        }
        v->v[v->n++] = *a;
}

/* Attributes by type; room for every RTA_* and IFA_* this kernel header knows. */
struct attr_tb {
        const struct nlattr *tb[(RTA_MAX > IFA_MAX ? RTA_MAX : IFA_MAX) + 1];
};

static int attr_collect(const struct nlattr *a, void *data)
{
        struct attr_tb *t = data;
        uint16_t type = mnl_attr_get_type(a);
        if (type < ELEMENTSOF(t->tb))
                t->tb[type] = a;
        return MNL_CB_OK;
}

/* Copy an address attribute of the family's length into *a; false if it has not. */
static bool attr_addr(const struct nlattr *attr, struct net_addr *a)
{
        size_t len = addr_len(a->family);
        if (!attr || mnl_attr_get_payload_len(attr) != len)
                return false;
        memcpy(a->bytes, mnl_attr_get_payload(attr), len);
        return true;
}

static int addr_list_cb(const struct nlmsghdr *nlh, void *data, struct berth_error **err)
{
        struct addr_vec *v = data;
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        if (nlh->nlmsg_type != RTM_NEWADDR || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
                return 0;
        if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
                return 0;
        if (v->index > 0 && (int)ifa->ifa_index != v->index)
                return 0;
        struct attr_tb t = {0};
        if (mnl_attr_parse(nlh, sizeof(*ifa), attr_collect, &t) < 0)
                return berth_error_sys(err, errno, "malformed address message");
        struct net_addr a = {.family = ifa->ifa_family, .prefixlen = ifa->ifa_prefixlen};
        /* IFA_LOCAL is the address itself; IFA_ADDRESS, the peer on point-to-point links */
        if (attr_addr(t.tb[IFA_LOCAL], &a) || attr_addr(t.tb[IFA_ADDRESS], &a))
                vec_push(v, &a);
        return 0;
}

int net_link_addr_list(struct net_link *nl, const char *name, struct net_addr **ret, size_t *ret_n,
                       struct berth_error **err)
{
        struct addr_vec v = {0};
        if (name) {
                int r = net_link_index(nl, name, &v.index, err);
                if (r < 0)
                        return r;
        }
        struct nlmsghdr *nlh = req_start(nl, RTM_GETADDR, NLM_F_DUMP);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_UNSPEC;
        int r = name ? nl_talk(nl, nlh, addr_list_cb, &v, err, "list addresses of '%s'", name)
                     : nl_talk(nl, nlh, addr_list_cb, &v, err, "list addresses");
        if (r < 0) {
                free(v.v);
                return r;
        }
        *ret = v.v;
        *ret_n = v.n;
        return 0;
}

int net_link_route_add_default(struct net_link *nl, const char *name,
                               const struct net_addr *gateway, struct berth_error **err)
{
        int r = check_family(gateway, err);
        if (r < 0)
                return r;
        int idx;
        r = net_link_index(nl, name, &idx, err);
        if (r < 0)
                return r;
        struct nlmsghdr *nlh = req_start(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = (uint8_t)gateway->family;
        rtm->rtm_dst_len = 0;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_BOOT;
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        mnl_attr_put(nlh, RTA_GATEWAY, addr_len(gateway->family), gateway->bytes);
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)idx);
        char buf[IPAM_ADDRSTRLEN];
        return nl_talk(nl, nlh, NULL, NULL, err, "add default route via %s dev '%s'",
                       ipam_format_addr(gateway, buf), name);
}

static int route_list_cb(const struct nlmsghdr *nlh, void *data, struct berth_error **err)
{
        struct addr_vec *v = data;
        const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
        if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
                return 0;
        if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
                return 0;
        struct attr_tb t = {0};
        if (mnl_attr_parse(nlh, sizeof(*rtm), attr_collect, &t) < 0)
                return berth_error_sys(err, errno, "malformed route message");
        uint32_t table = rtm->rtm_table;
        if (t.tb[RTA_TABLE] && mnl_attr_get_payload_len(t.tb[RTA_TABLE]) == 4)
                table = mnl_attr_get_u32(t.tb[RTA_TABLE]);
        if (table != RT_TABLE_MAIN)
                return 0;
        struct net_addr a = {.family = rtm->rtm_family, .prefixlen = rtm->rtm_dst_len};
        if (a.prefixlen > 0 && !attr_addr(t.tb[RTA_DST], &a))
                return 0;
        vec_push(v, &a);
        return 0;
}

int net_link_route_list(struct net_link *nl, int family, struct net_addr **ret, size_t *ret_n,
                        struct berth_error **err)
{
        struct addr_vec v = {0};
        struct nlmsghdr *nlh = req_start(nl, RTM_GETROUTE, NLM_F_DUMP);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = (uint8_t)family;
        int r = nl_talk(nl, nlh, route_list_cb, &v, err, "list routes");
        if (r < 0) {
                free(v.v);
                return r;
        }
        if (family != AF_UNSPEC) {
                size_t k = 0;
                for (size_t i = 0; i < v.n; i++)
                        if (v.v[i].family == family)
                                v.v[k++] = v.v[i];
                v.n = k;
        }
        *ret = v.v;
        *ret_n = v.n;
        return 0;
}
