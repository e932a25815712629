/*
 * test-net-dns.c — the embedded DNS server (src/net/dns.c, dns-packet.c): the
 * packet logic case by case (A, AAAA, PTR, round robin, case, NXDOMAIN or
 * forward, FORMERR, NOTIMP, EDNS0, hostile names), then the whole server
 * against the real kernel: a resolver in a "container" namespace asks
 * 127.0.0.11:53 over UDP and TCP, forwarded queries reach a fake upstream, the
 * container may still bind port 53 itself, and nothing answers after removal.
 *
 * Where: a server case first moves its (forked) process into a network
 * namespace of its own, the "host", with lo up; the fake upstream listens on
 * 127.0.0.1:53 there and the server forwards from there.  The "container" is
 * another namespace the case makes.  Nothing is created in the namespace the
 * test was started in; everything goes with the case process.
 *
 * Never: send a packet outside the test's own namespaces.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include "check-tap.h"
#include "test-netns.h"
#include "net/dns.h"
#include "net/ipam.h"
#include "net/link.h"

/* --- the engine, as the callbacks see it --- */

static atomic_int lookups;

static struct net_addr addr(const char *s)
{
        struct net_addr a;
        ck_assert_int_eq(ipam_parse_addr(s, &a, NULL), 0);
        return a;
}

static int lookup(void *ud, const char *key, const char *name, int family, struct net_addr **ret,
                  size_t *ret_n)
{
        atomic_fetch_add(&lookups, 1);
        ck_assert_str_eq(key, "c1");
        static const struct {
                const char *name, *addr;
        } table[] = {
            {"web", "10.0.0.2"},   {"web", "fd00::2"},  {"web.mynet", "10.0.0.2"},
            {"svc", "10.0.0.5"},   {"svc", "10.0.0.6"}, {"svc", "10.0.0.7"},
            {"only4", "10.0.0.9"}, {"fail", NULL},
        };
        bool known = false;
        *ret = NULL;
        *ret_n = 0;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (strcmp(table[i].name, name) != 0)
                        continue;
                if (!table[i].addr)
                        return -EIO;
                known = true;
                struct net_addr a = addr(table[i].addr);
                if (a.family != family)
                        continue;
                *ret = xrealloc(*ret, (*ret_n + 1) * sizeof(**ret));
                (*ret)[(*ret_n)++] = a;
        }
        return known ? 0 : -ENOENT;
}

static int reverse(void *ud, const char *key, const struct net_addr *a, char **ret_name)
{
        char b[IPAM_ADDRSTRLEN];
        ipam_format_addr(a, b);
        if (strcmp(b, "10.0.0.2") == 0 || strcmp(b, "fd00::2") == 0) {
                *ret_name = xstrdup("web.mynet");
                return 0;
        }
        return -ENOENT;
}

static const struct net_dns_callbacks cbs = {.lookup = lookup, .reverse = reverse};

/* --- packets --- */

enum { T_A = 1, T_NS = 2, T_PTR = 12, T_MX = 15, T_AAAA = 28, T_OPT = 41 };

/* A query for name (dotted, may end in '.') of qtype; edns_size 0: no OPT. */
static size_t mkq(uint8_t *p, uint16_t id, const char *name, uint16_t qtype, uint16_t edns_size)
{
        memset(p, 0, 12);
        p[0] = (uint8_t)(id >> 8);
        p[1] = (uint8_t)id;
        p[2] = 0x01; /* RD */
        p[5] = 1;
        size_t n = 12;
        for (const char *s = name; *s;) {
                size_t l = strcspn(s, ".");
                p[n++] = (uint8_t)l;
                memcpy(p + n, s, l);
                n += l;
                s += l + (s[l] == '.');
        }
        p[n++] = 0;
        p[n++] = (uint8_t)(qtype >> 8);
        p[n++] = (uint8_t)qtype;
        p[n++] = 0;
        p[n++] = 1;
        if (edns_size) {
                p[11] = 1;
                uint8_t opt[11] = {0, 0, T_OPT, (uint8_t)(edns_size >> 8), (uint8_t)edns_size};
                memcpy(p + n, opt, sizeof(opt));
                n += sizeof(opt);
        }
        return n;
}

struct ans {
        uint16_t id, flags, qd, an, ns, ar;
        int rcode;
        char rr[64][64]; /* A/AAAA as text, PTR as dotted name */
        unsigned n;
        bool opt;
        uint32_t ttl;
};

static uint16_t g16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

/* Skip a name in an answer (our answers: pointers or plain labels). */
static size_t skip_name(const uint8_t *p, size_t len, size_t off, char *text)
{
        size_t t = 0;
        while (off < len) {
                if ((p[off] & 0xC0) == 0xC0)
                        return off + 2;
                uint8_t l = p[off];
                if (l == 0)
                        break;
                if (text) {
                        if (t)
                                text[t++] = '.';
                        memcpy(text + t, p + off + 1, l);
                        t += l;
                        text[t] = 0;
                }
                off += 1 + l;
        }
        return off + 1;
}

static struct ans parse(const uint8_t *p, size_t len)
{
        struct ans a = {0};
        ck_assert_uint_ge(len, 12);
        a.id = g16(p);
        a.flags = g16(p + 2);
        a.rcode = a.flags & 0xF;
        a.qd = g16(p + 4);
        a.an = g16(p + 6);
        a.ns = g16(p + 8);
        a.ar = g16(p + 10);
        size_t off = 12;
        for (unsigned i = 0; i < a.qd; i++)
                off = skip_name(p, len, off, NULL) + 4;
        ck_assert_uint_le(a.an, ELEMENTSOF(a.rr));
        for (unsigned i = 0; i < a.an + a.ar; i++) {
                off = skip_name(p, len, off, NULL);
                ck_assert_uint_le(off + 10, len);
                uint16_t type = g16(p + off), rdlen = g16(p + off + 8);
                a.ttl = (uint32_t)g16(p + off + 4) << 16 | g16(p + off + 6);
                off += 10;
                ck_assert_uint_le(off + rdlen, len);
                if (type == T_OPT)
                        a.opt = true;
                else if (type == T_A)
                        inet_ntop(AF_INET, p + off, a.rr[a.n++], 64);
                else if (type == T_AAAA)
                        inet_ntop(AF_INET6, p + off, a.rr[a.n++], 64);
                else if (type == T_PTR)
                        skip_name(p, len, off, a.rr[a.n++]);
                off += rdlen;
        }
        ck_assert_uint_eq(off, len);
        return a;
}

static uint8_t out[NET_DNS_MAX_MSG];

static enum net_dns_verdict ask(const uint8_t *q, size_t qlen, uint32_t rotate, bool tcp,
                                struct ans *ret)
{
        size_t n = 0;
        enum net_dns_verdict v =
            net_dns_handle(&cbs, "c1", rotate, tcp, q, qlen, out, sizeof(out), &n);
        if (v == NET_DNS_REPLY)
                *ret = parse(out, n);
        return v;
}

START_TEST(test_local_answers)
{
        uint8_t q[512];
        struct ans a;
        size_t n = mkq(q, 0x1234, "web", T_A, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_uint_eq(a.id, 0x1234);
        ck_assert_int_eq(a.rcode, 0);
        ck_assert(a.flags & 0x8000); /* QR */
        ck_assert(a.flags & 0x0100); /* RD echoed */
        ck_assert_uint_eq(a.qd, 1);
        ck_assert_uint_eq(a.n, 1);
        ck_assert_str_eq(a.rr[0], "10.0.0.2");
        ck_assert_uint_eq(a.ttl, 600);

        n = mkq(q, 7, "web", T_AAAA, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_uint_eq(a.n, 1);
        ck_assert_str_eq(a.rr[0], "fd00::2");

        /* case-insensitive, trailing dot, the question echoed as sent */
        n = mkq(q, 8, "WeB.MyNet.", T_A, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_str_eq(a.rr[0], "10.0.0.2");
        ck_assert(memmem(out, 40, "\3WeB\5MyNet", 10) != NULL);

        /* a known name without an address of that family: NOERROR, no answers */
        n = mkq(q, 9, "only4", T_AAAA, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 0);
        ck_assert_uint_eq(a.an, 0);
        /* another type of a known short name: no data either */
        n = mkq(q, 9, "web", T_MX, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 0);
        ck_assert_uint_eq(a.an, 0);

        /* PTR of both families */
        n = mkq(q, 10, "2.0.0.10.in-addr.arpa", T_PTR, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_uint_eq(a.n, 1);
        ck_assert_str_eq(a.rr[0], "web.mynet");
        n = mkq(q, 11, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.IP6.ARPA",
                T_PTR, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_str_eq(a.rr[0], "web.mynet");

        /* the lookup failing: SERVFAIL */
        n = mkq(q, 12, "fail", T_A, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 2);
}
END_TEST

START_TEST(test_round_robin)
{
        uint8_t q[512];
        struct ans a;
        size_t n = mkq(q, 1, "svc", T_A, 0);
        char first[3][64];
        for (uint32_t r = 0; r < 3; r++) {
                ck_assert_int_eq(ask(q, n, r, false, &a), NET_DNS_REPLY);
                ck_assert_uint_eq(a.n, 3);
                strcpy(first[r], a.rr[0]);
                /* the same three, in turn */
                ck_assert_str_eq(a.rr[1], r == 2 ? "10.0.0.5" : r == 1 ? "10.0.0.7" : "10.0.0.6");
        }
        ck_assert_str_eq(first[0], "10.0.0.5");
        ck_assert_str_eq(first[1], "10.0.0.6");
        ck_assert_str_eq(first[2], "10.0.0.7");
}
END_TEST

START_TEST(test_forward_or_nxdomain)
{
        uint8_t q[512];
        struct ans a;
        size_t n, lim = 0;
        /* an unknown single label: NXDOMAIN here, never leaked upstream */
        n = mkq(q, 1, "nosuch", T_A, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 3);
        n = mkq(q, 1, "nosuch", T_MX, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 3);
        /* an unknown dotted name, another type of one, a PTR we do not know: forward */
        int before = atomic_load(&lookups);
        n = mkq(q, 1, "example.com", T_A, 0);
        ck_assert_int_eq(net_dns_handle(&cbs, "c1", 0, false, q, n, out, sizeof(out), &lim),
                         NET_DNS_FORWARD);
        ck_assert_uint_eq(lim, 512);
        ck_assert_int_gt(atomic_load(&lookups), before);
        n = mkq(q, 1, "web.mynet", T_MX, 1400);
        ck_assert_int_eq(net_dns_handle(&cbs, "c1", 0, false, q, n, out, sizeof(out), &lim),
                         NET_DNS_FORWARD);
        ck_assert_uint_eq(lim, 1232); /* the client's EDNS size, capped at ours */
        n = mkq(q, 1, "9.9.9.10.in-addr.arpa", T_PTR, 0);
        ck_assert_int_eq(net_dns_handle(&cbs, "c1", 0, true, q, n, out, sizeof(out), &lim),
                         NET_DNS_FORWARD);
        ck_assert_uint_eq(lim, sizeof(out));
        /* not a full address, a name with odd bytes: forwarded, not asked about */
        n = mkq(q, 1, "0.10.in-addr.arpa", T_PTR, 0);
        ck_assert_int_eq(net_dns_handle(&cbs, "c1", 0, false, q, n, out, sizeof(out), &lim),
                         NET_DNS_FORWARD);
        before = atomic_load(&lookups);
        n = mkq(q, 1, "we b.x", T_A, 0);
        ck_assert_int_eq(net_dns_handle(&cbs, "c1", 0, false, q, n, out, sizeof(out), &lim),
                         NET_DNS_FORWARD);
        ck_assert_int_eq(atomic_load(&lookups), before);
}
END_TEST

START_TEST(test_malformed)
{
        uint8_t q[600] = {0};
        struct ans a;
        size_t n, lim;
        /* too short, or a response: dropped */
        ck_assert_int_eq(net_dns_handle(&cbs, "c1", 0, false, q, 11, out, sizeof(out), &lim),
                         NET_DNS_DROP);
        n = mkq(q, 1, "web", T_A, 0);
        q[2] |= 0x80;
        ck_assert_int_eq(net_dns_handle(&cbs, "c1", 0, false, q, n, out, sizeof(out), &lim),
                         NET_DNS_DROP);
        /* two questions, none: FORMERR, header only */
        n = mkq(q, 0x4242, "web", T_A, 0);
        q[5] = 2;
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        ck_assert_uint_eq(a.id, 0x4242);
        ck_assert_uint_eq(a.qd, 0);
        q[5] = 0;
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        /* a question cut short */
        n = mkq(q, 1, "web", T_A, 0);
        ck_assert_int_eq(ask(q, n - 3, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        /* a pointer to itself, a pointer forwards, a loop of two */
        static const uint8_t self[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
        ck_assert_int_eq(ask(self, sizeof(self), 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        static const uint8_t fwd[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 0, 1, 0, 1};
        ck_assert_int_eq(ask(fwd, sizeof(fwd), 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        static const uint8_t loop[] = {0, 1, 1, 0, 0,    1,  0, 0, 0, 0, 0, 1, 1, 'a', 0xC0, 19,
                                       0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0,   0,    0};
        ck_assert_int_eq(ask(loop, sizeof(loop), 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        /* a pointer into the header, backwards: legal, the root (byte 11 is 0): forwarded */
        static const uint8_t hdr[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 11, 0, 1, 0, 1};
        ck_assert_int_eq(
            net_dns_handle(&cbs, "c1", 0, false, hdr, sizeof(hdr), out, sizeof(out), &lim),
            NET_DNS_FORWARD);
        /* a label over 63 bytes (0x40 type), a name over 255 bytes */
        n = mkq(q, 1, "web", T_A, 0);
        q[12] = 0x40;
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        char longname[300] = "";
        for (int i = 0; i < 26; i++)
                strcat(longname, "abcdefghi.");
        n = mkq(q, 1, longname, T_A, 0);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        /* two OPT records */
        n = mkq(q, 1, "web", T_A, 1232);
        memcpy(q + n, q + n - 11, 11);
        q[11] = 2;
        ck_assert_int_eq(ask(q, n + 11, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 1);
        /* other opcodes: NOTIMP */
        n = mkq(q, 1, "web", T_A, 0);
        q[2] |= 2 << 3; /* STATUS */
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert_int_eq(a.rcode, 4);
        ck_assert_int_eq(a.flags >> 11 & 0xF, 2);
}
END_TEST

START_TEST(test_edns_and_truncation)
{
        uint8_t q[512];
        struct ans a;
        size_t n = mkq(q, 1, "web", T_A, 4096);
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert(a.opt);
        ck_assert_uint_eq(a.ar, 1);
        ck_assert_str_eq(a.rr[0], "10.0.0.2");
        /* EDNS version 1: BADVERS in the OPT's extended rcode */
        q[n - 5] = 1;
        ck_assert_int_eq(ask(q, n, 0, false, &a), NET_DNS_REPLY);
        ck_assert(a.opt);
        ck_assert_uint_eq(a.an, 0);
        ck_assert_int_eq(a.rcode, 0);
        ck_assert_uint_eq(a.ttl >> 24, 1); /* the OPT is the last record */

        /* an answer of 40 A records cut to 512 bytes at a record boundary, with TC */
        uint8_t big[1024];
        n = mkq(big, 5, "many.example", T_A, 0);
        big[2] |= 0x80;
        big[7] = 40;
        for (int i = 0; i < 40; i++) {
                uint8_t rr[16] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, (uint8_t)i};
                memcpy(big + n, rr, 16);
                n += 16;
        }
        size_t cut = net_dns_truncate(big, n, 512);
        ck_assert_uint_le(cut, 512);
        a = parse(big, cut);
        ck_assert(a.flags & 0x0200);
        ck_assert_uint_eq(a.n, (512 - 30) / 16); /* header 12, question 18 */
        ck_assert_str_eq(a.rr[0], "192.0.2.0");
        ck_assert_uint_eq(net_dns_truncate(big, cut, 512), cut);
}
END_TEST

/* --- the server in namespaces --- */

static void lo_up(int netns_fd)
{
        struct net_link *nl = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_msg(net_link_open(netns_fd, &nl, &e) == 0, "%s", berth_error_msg(e));
        ck_assert_msg(net_link_set_up(nl, "lo", true, &e) == 0, "%s", berth_error_msg(e));
        net_link_free(nl);
}

/* A new namespace with lo up, held by the returned fd alone. */
static int new_netns(void)
{
        int fd = test_netns_new();
        lo_up(fd);
        return fd;
}

static bool as_root(void)
{
        if (geteuid() == 0)
                return true;
        ck_skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to make network namespaces");
        return false;
}

/* The case process becomes the "host": a namespace of its own, lo up. */
static void private_host(void)
{
        ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare: %s", strerror(errno));
        lo_up(-1);
}

static int socket_in(int netns_fd, int type)
{
        int fd = test_socket_in(netns_fd, type);
        struct timeval tv = {.tv_sec = 3};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        inet_pton(AF_INET, ip, &sa.sin_addr);
        return sa;
}

/* Ask ip:53 from inside netns over UDP or TCP; < 0: -errno (no answer). */
static ssize_t query_in(int netns_fd, const char *ip, bool tcp, const uint8_t *q, size_t qlen,
                        uint8_t *ret, size_t cap)
{
        _cleanup_close_ int fd = socket_in(netns_fd, tcp ? SOCK_STREAM : SOCK_DGRAM);
        struct sockaddr_in sa = sin_of(ip, 53);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        if (!tcp) {
                if (send(fd, q, qlen, 0) < 0)
                        return -errno;
                ssize_t n = recv(fd, ret, cap, 0);
                return n < 0 ? -errno : n;
        }
        uint8_t m[600] = {(uint8_t)(qlen >> 8), (uint8_t)qlen};
        memcpy(m + 2, q, qlen);
        if (send(fd, m, qlen + 2, MSG_NOSIGNAL) != (ssize_t)(qlen + 2))
                return -errno;
        uint8_t l[2];
        if (recv(fd, l, 2, MSG_WAITALL) != 2)
                return -EIO;
        size_t want = (size_t)(l[0] << 8 | l[1]);
        ck_assert_uint_le(want, cap);
        ssize_t n = recv(fd, ret, want, MSG_WAITALL);
        return n == (ssize_t)want ? n : -EIO;
}

/*
 * The fake upstream on 127.0.0.1:53 of the host namespace: answers
 * "example.com" A with 192.0.2.1; "big.example.com" with TC over UDP and with
 * 60 A records over TCP; never answers "silent.example.com".
 */
struct fake {
        int udp, tcp;
        pthread_t th;
        atomic_int udp_queries, tcp_queries;
        atomic_bool stop;
};

static size_t fake_answer(const uint8_t *q, size_t qlen, bool tcp, uint8_t *a)
{
        memcpy(a, q, qlen);
        a[2] |= 0x80;
        a[3] = 0x80;
        a[11] = 0; /* no OPT back */
        size_t n = 12;
        while (a[n])
                n++;
        n += 5;
        if (memmem(q, qlen, "\6silent", 7))
                return 0;
        bool big = memmem(q, qlen, "\3big", 4) != NULL;
        if (big && !tcp) {
                a[2] |= 0x02;
                return n;
        }
        unsigned count = big ? 60 : 1;
        a[7] = (uint8_t)count;
        for (unsigned i = 0; i < count; i++) {
                uint8_t rr[16] = {0xC0, 12, 0, 1, 0,   1, 0, 0,
                                  0,    60, 0, 4, 192, 0, 2, (uint8_t)(i + 1)};
                memcpy(a + n, rr, 16);
                n += 16;
        }
        return n;
}

static void *fake_thread(void *p)
{
        struct fake *f = p;
        uint8_t q[600], a[2048];
        while (!atomic_load(&f->stop)) {
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t n =
                    recvfrom(f->udp, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
                if (n > 12) {
                        atomic_fetch_add(&f->udp_queries, 1);
                        size_t al = fake_answer(q, (size_t)n, false, a);
                        if (al)
                                sendto(f->udp, a, al, 0, (struct sockaddr *)&from, fl);
                }
                int c = accept4(f->tcp, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c >= 0) {
                        atomic_fetch_add(&f->tcp_queries, 1);
                        int fl2 = fcntl(c, F_GETFL);
                        fcntl(c, F_SETFL, fl2 & ~O_NONBLOCK);
                        uint8_t l[2];
                        if (recv(c, l, 2, MSG_WAITALL) == 2) {
                                size_t ql = (size_t)(l[0] << 8 | l[1]);
                                if (ql <= sizeof(q) && recv(c, q, ql, MSG_WAITALL) == (ssize_t)ql) {
                                        size_t al = fake_answer(q, ql, true, a + 2);
                                        a[0] = (uint8_t)(al >> 8);
                                        a[1] = (uint8_t)al;
                                        if (al)
                                                send(c, a, al + 2, MSG_NOSIGNAL);
                                }
                        }
                        close(c);
                }
                if (n < 0 && c < 0)
                        usleep(1000);
        }
        return NULL;
}

static void fake_start(struct fake *f)
{
        struct sockaddr_in sa = sin_of("127.0.0.1", 53);
        int one = 1;
        f->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        f->tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        setsockopt(f->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        ck_assert_int_eq(bind(f->udp, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(bind(f->tcp, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(f->tcp, 16), 0);
        ck_assert_int_eq(pthread_create(&f->th, NULL, fake_thread, f), 0);
}

static void fake_stop(struct fake *f)
{
        atomic_store(&f->stop, true);
        pthread_join(f->th, NULL);
        close(f->udp);
        close(f->tcp);
}

static struct net_dns *server(unsigned timeout_ms)
{
        struct net_dns_config cfg = {.cb = cbs, .upstream_timeout_ms = timeout_ms};
        struct net_dns *dns = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_msg(net_dns_new(&cfg, &dns, &e) == 0, "%s", berth_error_msg(e));
        return dns;
}

static void add(struct net_dns *dns, const char *key, int ns, const char *const *ups, size_t n)
{
        struct net_addr a[4];
        for (size_t i = 0; i < n; i++)
                a[i] = addr(ups[i]);
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_msg(net_dns_add(dns, key, ns, a, n, &e) == 0, "%s", berth_error_msg(e));
}

START_TEST(test_server_end_to_end)
{
        if (!as_root())
                return;
        private_host();
        struct fake f = {0};
        fake_start(&f);
        int ns = new_netns();
        _cleanup_net_dns_ struct net_dns *dns = server(500);
        static const char *const ups[] = {"127.0.0.1"};
        add(dns, "c1", ns, ups, 1);
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_int_eq(net_dns_add(dns, "c1", ns, NULL, 0, &e), -EEXIST);
        ck_assert_str_eq(berth_error_msg(e), "dns for 'c1': already served");

        uint8_t q[512], r[4096];
        struct ans a;
        for (int tcp = 0; tcp < 2; tcp++) {
                /* local: the callback's answer, in the container, at 127.0.0.11:53 */
                size_t n = mkq(q, 0x5151, "web", T_A, 0);
                ssize_t k = query_in(ns, NET_DNS_ADDR, tcp, q, n, r, sizeof(r));
                ck_assert_msg(k > 0, "%s query: %s", tcp ? "tcp" : "udp", strerror((int)-k));
                a = parse(r, (size_t)k);
                ck_assert_uint_eq(a.id, 0x5151);
                ck_assert_str_eq(a.rr[0], "10.0.0.2");
                /* forwarded to the host's loopback resolver, the client's ID back */
                n = mkq(q, 0x6161, "example.com", T_A, 0);
                k = query_in(ns, NET_DNS_ADDR, tcp, q, n, r, sizeof(r));
                ck_assert_msg(k > 0, "forwarded query: %s", strerror((int)-k));
                a = parse(r, (size_t)k);
                ck_assert_uint_eq(a.id, 0x6161);
                ck_assert_int_eq(a.rcode, 0);
                ck_assert_str_eq(a.rr[0], "192.0.2.1");
        }
        ck_assert_int_ge(atomic_load(&f.udp_queries), 1);
        ck_assert_int_ge(atomic_load(&f.tcp_queries), 1);

        /* truncated over UDP: asked again over TCP, cut to 512 for the UDP client */
        int tcp_before = atomic_load(&f.tcp_queries);
        size_t n = mkq(q, 0x7171, "big.example.com", T_A, 0);
        ssize_t k = query_in(ns, NET_DNS_ADDR, false, q, n, r, sizeof(r));
        ck_assert_int_gt(k, 0);
        ck_assert_int_le(k, 512);
        a = parse(r, (size_t)k);
        ck_assert(a.flags & 0x0200);
        ck_assert_uint_gt(a.n, 20);
        ck_assert_int_eq(atomic_load(&f.tcp_queries), tcp_before + 1);
        /* and whole over TCP */
        k = query_in(ns, NET_DNS_ADDR, true, q, n, r, sizeof(r));
        ck_assert_int_gt(k, 0);
        a = parse(r, (size_t)k);
        ck_assert_uint_eq(a.an, 60);

        /* an upstream that never answers: SERVFAIL after the timeout */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        n = mkq(q, 0x8181, "silent.example.com", T_A, 0);
        k = query_in(ns, NET_DNS_ADDR, false, q, n, r, sizeof(r));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ck_assert_int_gt(k, 0);
        a = parse(r, (size_t)k);
        ck_assert_uint_eq(a.id, 0x8181);
        ck_assert_int_eq(a.rcode, 2);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        ck_assert_msg(ms >= 450 && ms < 2500, "SERVFAIL after %.0f ms", ms);

        /* after removal nothing answers */
        ck_assert_int_eq(net_dns_remove(dns, "c1"), 0);
        ck_assert_int_eq(net_dns_remove(dns, "c1"), -ENOENT);
        n = mkq(q, 1, "web", T_A, 0);
        ck_assert_int_lt(query_in(ns, NET_DNS_ADDR, false, q, n, r, sizeof(r)), 0);
        ck_assert_int_lt(query_in(ns, NET_DNS_ADDR, true, q, n, r, sizeof(r)), 0);
        /* and it can come back (a restarted daemon replaces its own table) */
        add(dns, "c1", ns, ups, 1);
        ck_assert_int_gt(query_in(ns, NET_DNS_ADDR, false, q, n, r, sizeof(r)), 0);
        fake_stop(&f);
        close(ns);
}
END_TEST

START_TEST(test_container_binds_port_53)
{
        if (!as_root())
                return;
        private_host();
        int ns = new_netns();
        _cleanup_net_dns_ struct net_dns *dns = server(300);
        add(dns, "c1", ns, NULL, 0);
        /* the container's own DNS server on 0.0.0.0:53, both protocols */
        _cleanup_close_ int own = socket_in(ns, SOCK_DGRAM);
        _cleanup_close_ int own_tcp = socket_in(ns, SOCK_STREAM);
        struct sockaddr_in any = sin_of("0.0.0.0", 53);
        ck_assert_msg(bind(own, (struct sockaddr *)&any, sizeof(any)) == 0, "bind udp :53: %s",
                      strerror(errno));
        ck_assert_msg(bind(own_tcp, (struct sockaddr *)&any, sizeof(any)) == 0, "bind tcp :53: %s",
                      strerror(errno));
        ck_assert_int_eq(listen(own_tcp, 4), 0);
        /* 127.0.0.11 is still ours; 127.0.0.1 reaches the container's */
        uint8_t q[512], r[4096];
        size_t n = mkq(q, 2, "web", T_A, 0);
        ssize_t k = query_in(ns, NET_DNS_ADDR, false, q, n, r, sizeof(r));
        ck_assert_int_gt(k, 0);
        ck_assert_str_eq(parse(r, (size_t)k).rr[0], "10.0.0.2");
        _cleanup_close_ int cl = socket_in(ns, SOCK_DGRAM);
        struct sockaddr_in lo = sin_of("127.0.0.1", 53);
        ck_assert_int_eq(sendto(cl, q, n, 0, (struct sockaddr *)&lo, sizeof(lo)), (ssize_t)n);
        struct timeval tv = {.tv_sec = 3};
        setsockopt(own, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ck_assert_int_eq(recv(own, r, sizeof(r), 0), (ssize_t)n);
        /* no upstream: a forwarded name gets SERVFAIL at once */
        n = mkq(q, 3, "example.com", T_A, 0);
        k = query_in(ns, NET_DNS_ADDR, false, q, n, r, sizeof(r));
        ck_assert_int_gt(k, 0);
        ck_assert_int_eq(parse(r, (size_t)k).rcode, 2);
        close(ns);
}
END_TEST

START_TEST(test_add_remove_cost)
{
        if (!as_root())
                return;
        private_host();
        int ns = new_netns();
        _cleanup_net_dns_ struct net_dns *dns = server(300);
        enum { N = 50 };
        struct timespec t0, t1, t2;
        double add_us = 0, rm_us = 0;
        for (int i = 0; i < N; i++) {
                clock_gettime(CLOCK_MONOTONIC, &t0);
                add(dns, "c1", ns, NULL, 0);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                ck_assert_int_eq(net_dns_remove(dns, "c1"), 0);
                clock_gettime(CLOCK_MONOTONIC, &t2);
                add_us +=
                    (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
                rm_us +=
                    (double)(t2.tv_sec - t1.tv_sec) * 1e6 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e3;
        }
        fprintf(stderr, "net_dns_add: %.0f us, net_dns_remove: %.0f us (mean of %d)\n", add_us / N,
                rm_us / N, N);
        /* an error names the container and the step */
        _cleanup_error_ struct berth_error *e = NULL;
        ck_assert_int_eq(net_dns_add(dns, "c2", 12345, NULL, 0, &e), -EBADF);
        ck_assert_str_eq(berth_error_msg(e),
                         "dns for 'c2': enter network namespace: bad file descriptor");
        close(ns);
}
END_TEST

/* berthd with hundreds of containers holds more than FD_SETSIZE fds; libnftables,
 * which waits with select(), must still get a socket it can wait on (it aborted) */
START_TEST(test_add_with_fds_above_fd_setsize)
{
        if (!as_root())
                return;
        private_host();
        struct rlimit rl;
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_max < 1300) {
                ck_skip("needs RLIMIT_NOFILE's hard limit >= 1300 to hold 1100 fds");
                return;
        }
        rl.rlim_cur = rl.rlim_max;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        int filler = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(filler, 0);
        int last = filler;
        while (last < 1100) {
                last = fcntl(filler, F_DUPFD_CLOEXEC, 0);
                ck_assert_msg(last >= 0, "dup: %s", strerror(errno));
        }
        int ns = new_netns();
        _cleanup_net_dns_ struct net_dns *dns = server(300);
        add(dns, "c1", ns, NULL, 0);
        uint8_t q[512], r[4096];
        size_t n = mkq(q, 9, "web", T_A, 0);
        ssize_t k = query_in(ns, NET_DNS_ADDR, false, q, n, r, sizeof(r));
        ck_assert_msg(k > 0, "query: %s", strerror((int)-k));
        ck_assert_str_eq(parse(r, (size_t)k).rr[0], "10.0.0.2");
        /* the new entry's own sockets are in the process's table, queried above; adding
         * again after removal still works (the nftables step ran in a table of its own) */
        ck_assert_int_eq(net_dns_remove(dns, "c1"), 0);
        add(dns, "c1", ns, NULL, 0);
        close(ns);
}
END_TEST

static Suite *net_dns_suite(void)
{
        Suite *s = suite_create("net-dns");
#define CASE(t) ck_add_case(s, #t, t, NULL, NULL, 60)
        CASE(test_local_answers);
        CASE(test_round_robin);
        CASE(test_forward_or_nxdomain);
        CASE(test_malformed);
        CASE(test_edns_and_truncation);
        CASE(test_server_end_to_end);
        CASE(test_container_binds_port_53);
        CASE(test_add_remove_cost);
        CASE(test_add_with_fds_above_fd_setsize);
#undef CASE
        return s;
}

int main(void)
{
        return ck_run_tap(net_dns_suite());
}
