/*
 * dns-packet.c — the DNS packet logic of the embedded server (see dns.h): read
 * a query, answer it from the engine's callbacks or say "forward", cut an
 * answer to a client's size.  No sockets, no clock, no state: what reaches
 * net_dns_handle() is whatever a container sent, so it is fuzzed
 * (tests/fuzz/fuzz-dns.c).
 *
 * Reading: every access is checked against the packet's length first.  A
 * name is read label by label; a compression pointer must point strictly
 * before the last place a pointer led to (so a chain of them always ends),
 * and a name longer than 255 bytes on the wire is malformed (RFC 1035 3.1).
 * The question's name is kept twice: as it was sent (its case, re-encoded
 * without compression, echoed in the answer) and as lowercase text for the
 * callbacks, which only see names made of letters, digits, '-' and '_'.
 *
 * Answering: one question only (else FORMERR, as most servers); opcodes other
 * than QUERY get NOTIMP; a packet with QR set is never answered.  An EDNS0 OPT
 * record in the query is answered with one of ours (RFC 6891): the client's
 * buffer size raises the UDP limit from 512, version > 0 gets BADVERS.  Our
 * answers name the question by a pointer to offset 12.
 *
 * Never: read outside [q, q + qlen) or write outside [out, out + out_cap).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "net/dns.h"

#define HDR         12
#define T_A         1
#define T_PTR       12
#define T_AAAA      28
#define T_OPT       41
#define C_IN        1
#define RC_FORMERR  1
#define RC_SERVFAIL 2
#define RC_NXDOMAIN 3
#define RC_NOTIMP   4
#define F_QR        0x8000
#define F_TC        0x0200
#define F_RD        0x0100
#define F_RA        0x0080
/* The UDP size we announce and accept at most (RFC 9715's advice: no fragments). */
#define OUR_EDNS_SIZE 1232
#define OPT_RR_LEN    11

static uint16_t get16(const uint8_t *p)
{
        return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
        put16(p, (uint16_t)(v >> 16));
        put16(p + 2, (uint16_t)v);
}

/* A name as read: wire form without compression (original case) and text. */
struct dname {
        uint8_t wire[256];
        size_t wire_len;
        char text[256]; /* lowercase, labels joined by '.', "" for the root */
        unsigned labels;
        bool plain; /* every byte a letter, digit, '-' or '_' */
};

static bool plain_char(uint8_t c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
}

/*
 * Read the name at *off; *off moves past it (past the first pointer, if any).
 * n may be NULL to skip.  -1: malformed.
 */
static int read_name(const uint8_t *p, size_t len, size_t *off, struct dname *n)
{
        size_t pos = *off, limit = *off, wire = 0, text = 0;
        bool jumped = false;
        if (n) {
                n->plain = true;
                n->labels = 0;
        }
        for (;;) {
                if (pos >= len)
                        return -1;
                uint8_t l = p[pos];
                if ((l & 0xC0) == 0xC0) {
                        if (pos + 1 >= len)
                                return -1;
                        size_t target = (size_t)(l & 0x3F) << 8 | p[pos + 1];
                        if (target >= limit)
                                return -1;
                        if (!jumped)
                                *off = pos + 2;
                        jumped = true;
                        limit = target;
                        pos = target;
                        continue;
                }
                if (l & 0xC0) /* 0x40, 0x80: extended label types, obsolete */
                        return -1;
                if (wire + 1 + l > 255)
                        return -1;
                if (pos + 1 + l > len)
                        return -1;
                if (n) {
                        memcpy(n->wire + wire, p + pos, 1 + (size_t)l);
                        if (l > 0) {
                                if (n->labels > 0)
                                        n->text[text++] = '.';
                                for (size_t i = 0; i < l; i++) {
                                        uint8_t c = p[pos + 1 + i];
                                        n->plain &= plain_char(c);
                                        n->text[text++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                                }
                                n->labels++;
                        }
                }
                wire += 1 + (size_t)l;
                pos += 1 + (size_t)l;
                if (l == 0)
                        break;
        }
        if (!jumped)
                *off = pos;
        if (n) {
                n->wire_len = wire;
                n->text[text] = '\0';
        }
        return 0;
}

struct query {
        uint16_t id, flags, qtype, qclass;
        struct dname name;
        size_t question_end; /* offset after the question */
        bool edns;
        uint8_t edns_version;
        uint16_t edns_size;
};

/* Skip one resource record at *off; report an OPT.  -1: malformed. */
static int skip_rr(const uint8_t *p, size_t len, size_t *off, struct query *qr, bool *opt)
{
        size_t start = *off;
        if (read_name(p, len, off, NULL) < 0 || *off + 10 > len)
                return -1;
        uint16_t type = get16(p + *off), rdlen = get16(p + *off + 8);
        if (type == T_OPT) {
                /* RFC 6891 6.1.1: one OPT, owner the root */
                if (*opt || *off != start + 1)
                        return -1;
                *opt = true;
                qr->edns = true;
                qr->edns_size = get16(p + *off + 2);
                qr->edns_version = p[*off + 5];
        }
        *off += 10;
        if (*off + rdlen > len)
                return -1;
        *off += rdlen;
        return 0;
}

enum parse_result { PARSE_OK, PARSE_DROP, PARSE_FORMERR, PARSE_NOTIMP };

static enum parse_result parse_query(const uint8_t *p, size_t len, struct query *qr)
{
        memset(qr, 0, sizeof(*qr));
        if (len < HDR)
                return PARSE_DROP;
        qr->id = get16(p);
        qr->flags = get16(p + 2);
        if (qr->flags & F_QR)
                return PARSE_DROP;
        if ((qr->flags >> 11 & 0xF) != 0)
                return PARSE_NOTIMP;
        if (get16(p + 4) != 1)
                return PARSE_FORMERR;
        size_t off = HDR;
        if (read_name(p, len, &off, &qr->name) < 0 || off + 4 > len)
                return PARSE_FORMERR;
        qr->qtype = get16(p + off);
        qr->qclass = get16(p + off + 2);
        off += 4;
        qr->question_end = off;
        unsigned rest = (unsigned)get16(p + 6) + get16(p + 8) + get16(p + 10);
        bool opt = false;
        for (unsigned i = 0; i < rest; i++)
                if (skip_rr(p, len, &off, qr, &opt) < 0)
                        return PARSE_FORMERR;
        return PARSE_OK;
}

/* An answer under construction. */
struct reply {
        uint8_t *out;
        size_t cap, len;
        size_t limit; /* what the client takes */
        bool opt;
        uint16_t ancount;
        bool truncated;
};

static void reply_start(struct reply *r, const struct query *qr, int rcode)
{
        uint16_t flags = F_QR | (qr->flags & (0xF << 11)) | (qr->flags & F_RD) | F_RA;
        put16(r->out, qr->id);
        put16(r->out + 2, flags | (uint16_t)(rcode & 0xF));
        memset(r->out + 4, 0, 8);
        r->len = HDR;
        if (qr->name.wire_len > 0 || qr->qtype) {
                put16(r->out + 4, 1);
                memcpy(r->out + HDR, qr->name.wire, qr->name.wire_len);
                r->len += qr->name.wire_len;
                put16(r->out + r->len, qr->qtype);
                put16(r->out + r->len + 2, qr->qclass);
                r->len += 4;
        }
}

/* Room left for records, keeping space for our OPT. */
static bool reply_fits(const struct reply *r, size_t more)
{
        return r->len + more + (r->opt ? OPT_RR_LEN : 0) <= r->limit;
}

static void reply_rr(struct reply *r, uint16_t type, const void *rdata, size_t rdlen)
{
        if (r->truncated || !reply_fits(r, 12 + rdlen)) {
                r->truncated = true;
                return;
        }
        uint8_t *p = r->out + r->len;
        put16(p, 0xC000 | HDR); /* the question's name */
        put16(p + 2, type);
        put16(p + 4, C_IN);
        put32(p + 6, NET_DNS_TTL);
        put16(p + 10, (uint16_t)rdlen);
        memcpy(p + 12, rdata, rdlen);
        r->len += 12 + rdlen;
        r->ancount++;
}

static size_t reply_finish(struct reply *r, int ext_rcode)
{
        put16(r->out + 6, r->ancount);
        if (r->truncated)
                r->out[2] |= F_TC >> 8;
        if (r->opt) {
                uint8_t *p = r->out + r->len;
                p[0] = 0;
                put16(p + 1, T_OPT);
                put16(p + 3, OUR_EDNS_SIZE);
                put32(p + 5, (uint32_t)ext_rcode << 24);
                put16(p + 9, 0);
                r->len += OPT_RR_LEN;
                put16(r->out + 10, 1);
        }
        return r->len;
}

static size_t client_limit(const struct query *qr, bool tcp, size_t cap)
{
        if (tcp)
                return cap < NET_DNS_MAX_MSG ? cap : NET_DNS_MAX_MSG;
        size_t l = 512;
        if (qr->edns && qr->edns_size > l)
                l = qr->edns_size < OUR_EDNS_SIZE ? qr->edns_size : OUR_EDNS_SIZE;
        return l < cap ? l : cap;
}

/* A query with an answer of rcode and no records. */
static size_t reply_rcode(const struct query *qr, bool tcp, int rcode, uint8_t *out, size_t cap)
{
        struct reply r = {.out = out, .cap = cap, .opt = qr->edns};
        r.limit = client_limit(qr, tcp, cap);
        reply_start(&r, qr, rcode);
        return reply_finish(&r, 0);
}

/* "4.3.2.1.in-addr.arpa" / 32 nibbles ".ip6.arpa" → addr; false otherwise. */
static bool parse_ptr_name(const char *t, struct net_addr *a)
{
        memset(a, 0, sizeof(*a));
        size_t l = strlen(t);
        static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";
        if (l > sizeof(v4) - 1 && strcmp(t + l - (sizeof(v4) - 1), v4) == 0) {
                unsigned octet = 0, digits = 0, n = 0;
                for (const char *c = t;; c++) {
                        if (*c == '.') {
                                if (digits == 0 || n == 4)
                                        return false;
                                a->bytes[3 - n++] = (uint8_t)octet;
                                if (c == t + l - (sizeof(v4) - 1))
                                        break;
                                octet = digits = 0;
                        } else if (*c >= '0' && *c <= '9' && digits < 3) {
                                octet = octet * 10 + (unsigned)(*c - '0');
                                digits++;
                                if (octet > 255)
                                        return false;
                        } else {
                                return false;
                        }
                }
                if (n != 4)
                        return false;
                a->family = AF_INET;
                a->prefixlen = 32;
                return true;
        }
        if (l == 63 + sizeof(v6) - 1 && strcmp(t + 63, v6) == 0) {
                for (unsigned i = 0; i < 32; i++) {
                        char c = t[2 * i];
                        if (i < 31 && t[2 * i + 1] != '.')
                                return false;
                        unsigned v;
                        if (c >= '0' && c <= '9')
                                v = (unsigned)(c - '0');
                        else if (c >= 'a' && c <= 'f')
                                v = (unsigned)(c - 'a' + 10);
                        else
                                return false;
                        /* the first label is the lowest nibble */
                        unsigned nib = 31 - i;
                        a->bytes[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
                }
                a->family = AF_INET6;
                a->prefixlen = 128;
                return true;
        }
        return false;
}

/* "web.mynet" → wire form; false when it is not a valid name. */
static bool encode_name(const char *s, uint8_t *wire, size_t *ret_len)
{
        size_t len = 0;
        while (*s) {
                const char *dot = strchr(s, '.');
                size_t l = dot ? (size_t)(dot - s) : strlen(s);
                if (l == 0 || l > 63 || len + 1 + l + 1 > 255)
                        return false;
                wire[len++] = (uint8_t)l;
                memcpy(wire + len, s, l);
                len += l;
                s += l + (dot ? 1 : 0);
                if (dot && !*s)
                        break;
        }
        wire[len++] = 0;
        *ret_len = len;
        return true;
}

/* A or AAAA: 0 answered into r, -ENOENT unknown, other < 0 failure. */
static int answer_addr(const struct net_dns_callbacks *cb, const char *key, uint32_t rotate,
                       const struct query *qr, struct reply *r)
{
        int family = qr->qtype == T_A ? AF_INET : AF_INET6;
        struct net_addr *v = NULL;
        size_t n = 0;
        int rc = cb->lookup(cb->ud, key, qr->name.text, family, &v, &n);
        if (rc < 0) {
                free(v);
                return rc;
        }
        size_t w = family == AF_INET ? 4 : 16, first = n ? rotate % n : 0;
        for (size_t i = 0; i < n; i++) {
                const struct net_addr *a = &v[(first + i) % n];
                if (a->family == family)
                        reply_rr(r, qr->qtype, a->bytes, w);
        }
        free(v);
        return 0;
}

static int answer_ptr(const struct net_dns_callbacks *cb, const char *key, const struct query *qr,
                      struct reply *r)
{
        struct net_addr a;
        if (!cb->reverse || !parse_ptr_name(qr->name.text, &a))
                return -ENOENT;
        char *name = NULL;
        int rc = cb->reverse(cb->ud, key, &a, &name);
        if (rc < 0) {
                free(name);
                return rc;
        }
        uint8_t wire[256];
        size_t wl;
        bool ok = name && encode_name(name, wire, &wl);
        free(name);
        if (!ok)
                return -EINVAL;
        reply_rr(r, T_PTR, wire, wl);
        return 0;
}

/* Whether a single-label name is one the engine knows, in either family. */
static bool known_name(const struct net_dns_callbacks *cb, const char *key, const char *name)
{
        static const int families[] = {AF_INET, AF_INET6};
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                struct net_addr *v = NULL;
                size_t n = 0;
                int rc = cb->lookup(cb->ud, key, name, families[i], &v, &n);
                free(v);
                if (rc == 0)
                        return true;
        }
        return false;
}

enum net_dns_verdict net_dns_handle(const struct net_dns_callbacks *cb, const char *key,
                                    uint32_t rotate, bool tcp, const uint8_t *q, size_t qlen,
                                    uint8_t *out, size_t out_cap, size_t *ret_len)
{
        struct query qr;
        *ret_len = 0;
        if (out_cap < 512)
                return NET_DNS_DROP;
        switch (parse_query(q, qlen, &qr)) {
        case PARSE_DROP:
                return NET_DNS_DROP;
        case PARSE_FORMERR:
        case PARSE_NOTIMP:
                *ret_len = net_dns_error_reply(
                    q, qlen, qr.flags >> 11 & 0xF ? RC_NOTIMP : RC_FORMERR, out, out_cap);
                return *ret_len ? NET_DNS_REPLY : NET_DNS_DROP;
        case PARSE_OK:
                break;
        }
        if (qr.edns && qr.edns_version > 0) {
                /* BADVERS (16): 1 in the OPT's extended rcode, 0 in the header */
                struct reply r = {.out = out, .cap = out_cap, .opt = true};
                r.limit = client_limit(&qr, tcp, out_cap);
                reply_start(&r, &qr, 0);
                *ret_len = reply_finish(&r, 1);
                return NET_DNS_REPLY;
        }
        bool single = qr.name.labels == 1;
        bool ours = qr.qclass == C_IN && qr.name.plain && qr.name.labels > 0;
        struct reply r = {.out = out, .cap = out_cap, .opt = qr.edns};
        r.limit = client_limit(&qr, tcp, out_cap);
        int rc = -ENOENT;
        if (ours && (qr.qtype == T_A || qr.qtype == T_AAAA)) {
                reply_start(&r, &qr, 0);
                rc = answer_addr(cb, key, rotate, &qr, &r);
        } else if (ours && qr.qtype == T_PTR) {
                reply_start(&r, &qr, 0);
                rc = answer_ptr(cb, key, &qr, &r);
        } else if (ours && single) {
                /* another type of a short name: no data if we know it */
                rc = known_name(cb, key, qr.name.text) ? 0 : -ENOENT;
                reply_start(&r, &qr, 0);
        }
        if (rc == 0) {
                *ret_len = reply_finish(&r, 0);
                return NET_DNS_REPLY;
        }
        if (rc != -ENOENT) {
                *ret_len = reply_rcode(&qr, tcp, RC_SERVFAIL, out, out_cap);
                return NET_DNS_REPLY;
        }
        if (ours && single) {
                *ret_len = reply_rcode(&qr, tcp, RC_NXDOMAIN, out, out_cap);
                return NET_DNS_REPLY;
        }
        *ret_len = client_limit(&qr, tcp, out_cap);
        return NET_DNS_FORWARD;
}

size_t net_dns_error_reply(const uint8_t *q, size_t qlen, int rcode, uint8_t *out, size_t out_cap)
{
        struct query qr;
        if (out_cap < 512)
                return 0;
        enum parse_result pr = parse_query(q, qlen, &qr);
        if (pr == PARSE_DROP)
                return 0;
        if (pr != PARSE_OK) {
                /* header only: the question may be what is wrong */
                struct query bare = {.id = qr.id, .flags = qr.flags};
                return reply_rcode(&bare, false, rcode, out, out_cap);
        }
        return reply_rcode(&qr, false, rcode, out, out_cap);
}

size_t net_dns_truncate(uint8_t *msg, size_t len, size_t limit)
{
        if (len <= limit)
                return len;
        if (len < HDR || limit < HDR)
                return len < limit ? len : limit;
        size_t off = HDR, keep;
        unsigned qd = get16(msg + 4), an = get16(msg + 6), kept = 0;
        for (unsigned i = 0; i < qd; i++) {
                if (read_name(msg, len, &off, NULL) < 0 || off + 4 > len)
                        goto bare;
                off += 4;
        }
        if (off > limit)
                goto bare;
        keep = off;
        for (unsigned i = 0; i < an; i++) {
                if (read_name(msg, len, &off, NULL) < 0 || off + 10 > len)
                        break;
                off += 10 + (size_t)get16(msg + off + 8);
                if (off > len || off > limit)
                        break;
                keep = off;
                kept++;
        }
        put16(msg + 6, (uint16_t)kept);
        put16(msg + 8, 0);
        put16(msg + 10, 0);
        msg[2] |= F_TC >> 8;
        return keep;
bare:
        put16(msg + 4, 0);
        memset(msg + 6, 0, 6);
        msg[2] |= F_TC >> 8;
        return HDR;
}

bool net_dns_same_question(const uint8_t *q, size_t qlen, const uint8_t *a, size_t alen)
{
        struct query want;
        if (parse_query(q, qlen, &want) != PARSE_OK || alen < HDR || get16(a + 4) != 1)
                return false;
        size_t off = HDR;
        struct dname got;
        if (read_name(a, alen, &off, &got) < 0 || off + 4 > alen)
                return false;
        /* text is lowercase; a resolver may answer in another case (0x20 encoding) */
        return strcmp(got.text, want.name.text) == 0 && got.labels == want.name.labels &&
               get16(a + off) == want.qtype && get16(a + off + 2) == want.qclass;
}
