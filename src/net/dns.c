/*
 * dns.c — the embedded DNS server's sockets, thread and rules (see dns.h for
 * the contract; the packet logic is dns-packet.c).
 *
 * One thread, one epoll set.  Its objects:
 *   - entries (one per container): the UDP socket and TCP listener in the
 *     container's namespace.  They live in a list under dns->lock, because
 *     other threads add and remove them; each holds a reference count, one for
 *     the list and one while the server thread works with it, and its sockets
 *     are closed when the last reference goes.  So net_dns_remove() never waits
 *     for the server thread (which may be inside a callback of the engine that
 *     holds the engine's lock), and the thread never uses a closed fd number
 *     that may have been reused.  In the epoll set an entry's sockets are
 *     named by the entry's id (id << 2 | kind), never by pointer.
 *   - conns (TCP clients) and ups (one forwarded query on its way to an
 *     upstream): owned by the server thread alone, named in the epoll set by
 *     pointer.  They name their entry by id; after a removal (the wake fd) the
 *     thread drops those whose entry is gone.  A finished one is marked dead and
 *     freed after the current batch of events, so no event of the same batch
 *     reaches freed memory.
 * Timeouts (an upstream's, an idle TCP client's) are deadlines scanned before
 * each epoll_wait: there are few objects, and no timer fd to keep in step.
 *
 * Forwarding: the client's query goes out with a new random ID from a new
 * socket (a random source port) connected to the upstream, in the server's
 * namespace; an answer counts only with that ID and the same question.  A
 * truncated UDP answer is asked again over TCP and then cut to what the UDP
 * client takes, at a record boundary (clients without a TCP fallback, such
 * as older musl, still get as many records as fit).
 *
 * Never: block the thread on a socket (everything is non-blocking); hold
 * dns->lock while calling a callback or doing I/O.
 */
#include <arpa/inet.h>
#include <linux/close_range.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "net/dns.h"

#define NFT_TABLE "berth-dns"
#define IDLE_MS   10000
#define MAX_CONNS 512
#define UDP_BATCH 32
enum { EV_UDP = 1, EV_TCP = 2 };
enum obj_kind { K_CONN = 1, K_UP };

struct entry {
        struct entry *next;
        uint64_t id;
        char *key;
        int udp_fd, tcp_fd;
        struct sockaddr_storage *ups;
        size_t n_ups;
        unsigned refs; /* under dns->lock */
        atomic_bool removed;
};

struct conn {
        enum obj_kind kind;
        struct conn *prev, *next;
        bool dead, eof;
        uint64_t entry_id;
        char *key;
        int fd;
        uint8_t *in;
        size_t in_len;
        uint8_t *out;
        size_t out_len, out_off;
        bool want_out;
        uint64_t deadline;
        unsigned pending;
};

struct up {
        enum obj_kind kind;
        struct up *prev, *next;
        bool dead;
        uint64_t entry_id;
        struct sockaddr_storage *ups;
        size_t n_ups, which;
        uint8_t *q;
        size_t qlen;
        uint16_t client_qid;
        struct sockaddr_storage client; /* a UDP client's address */
        struct conn *conn;              /* a TCP client (NULL once it is gone) */
        bool tcp_client;
        size_t limit;
        bool tcp, sent;
        int fd;
        uint64_t deadline;
        uint8_t *r;
        size_t r_len;
};

struct net_dns {
        struct net_dns_config cfg;
        pthread_t thread;
        int epfd, wakefd;
        atomic_bool stop;
        pthread_mutex_t lock;
        struct entry *entries; /* under lock */
        uint64_t next_id;      /* under lock */
        /* the server thread's own */
        struct conn *conns;
        struct up *upl;
        unsigned n_conns;
        uint32_t rotate;
        uint8_t *buf, *out;
};

/* libnftables keeps process-wide state (its parser's, gmp's); one context at a time. */
static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void entry_free(struct entry *e)
{
        if (!e)
                return;
        if (e->udp_fd >= 0)
                close(e->udp_fd);
        if (e->tcp_fd >= 0)
                close(e->tcp_fd);
        free(e->ups);
        free(e->key);
        free(e);
}

/* The entry id with a reference the caller drops with entry_put(), or NULL. */
static struct entry *entry_get(struct net_dns *dns, uint64_t id)
{
        pthread_mutex_lock(&dns->lock);
        struct entry *e = dns->entries;
        while (e && e->id != id)
                e = e->next;
        if (e)
                e->refs++;
        pthread_mutex_unlock(&dns->lock);
        return e;
}

static void entry_put(struct net_dns *dns, struct entry *e)
{
        pthread_mutex_lock(&dns->lock);
        bool last = --e->refs == 0;
        pthread_mutex_unlock(&dns->lock);
        if (last)
                entry_free(e);
}

static bool entry_alive(struct net_dns *dns, uint64_t id)
{
        struct entry *e = entry_get(dns, id);
        if (e)
                entry_put(dns, e);
        return e != NULL;
}

static void wake(struct net_dns *dns)
{
        uint64_t one = 1;
        (void)!write(dns->wakefd, &one, sizeof(one));
}

/* --- TCP clients --- */

static void conn_events(struct net_dns *dns, struct conn *c)
{
        struct epoll_event ev = {.events = (c->eof ? 0 : EPOLLIN) | (c->want_out ? EPOLLOUT : 0),
                                 .data.ptr = c};
        (void)epoll_ctl(dns->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_maybe_done(struct conn *c)
{
        if (c->eof && c->pending == 0 && c->out_off == c->out_len)
                c->dead = true;
}

static void conn_flush(struct net_dns *dns, struct conn *c)
{
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (n <= 0) {
                        c->dead = true;
                        return;
                }
                c->out_off += (size_t)n;
        }
        if (c->out_off == c->out_len)
                c->out_off = c->out_len = 0;
        bool want = c->out_len > 0;
        if (want != c->want_out) {
                c->want_out = want;
                conn_events(dns, c);
        }
        conn_maybe_done(c);
}

static void conn_send(struct net_dns *dns, struct conn *c, const uint8_t *msg, size_t len)
{
        if (c->dead)
                return;
        c->out = xrealloc(c->out, c->out_len + 2 + len);
        c->out[c->out_len] = (uint8_t)(len >> 8);
        c->out[c->out_len + 1] = (uint8_t)len;
        memcpy(c->out + c->out_len + 2, msg, len);
        c->out_len += 2 + len;
        c->deadline = now_ms() + IDLE_MS;
        conn_flush(dns, c);
}

/* --- upstreams --- */

static void up_deliver(struct net_dns *dns, struct up *u, uint8_t *msg, size_t len)
{
        msg[0] = (uint8_t)(u->client_qid >> 8);
        msg[1] = (uint8_t)u->client_qid;
        if (u->tcp_client) {
                if (u->conn) {
                        u->conn->pending--;
                        conn_send(dns, u->conn, msg, len);
                        conn_maybe_done(u->conn);
                        u->conn = NULL;
                }
        } else {
                len = net_dns_truncate(msg, len, u->limit);
                struct entry *e = entry_get(dns, u->entry_id);
                if (e) {
                        socklen_t sl = u->client.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                       : sizeof(struct sockaddr_in);
                        (void)sendto(e->udp_fd, msg, len, MSG_DONTWAIT,
                                     (struct sockaddr *)&u->client, sl);
                        entry_put(dns, e);
                }
        }
        u->dead = true;
}

static void up_close_fd(struct net_dns *dns, struct up *u)
{
        if (u->fd >= 0) {
                epoll_ctl(dns->epfd, EPOLL_CTL_DEL, u->fd, NULL);
                close(u->fd);
                u->fd = -1;
        }
        free(u->r);
        u->r = NULL;
        u->r_len = 0;
        u->sent = false;
}

static void up_fail(struct net_dns *dns, struct up *u)
{
        size_t n = net_dns_error_reply(u->q, u->qlen, 2, dns->out, NET_DNS_MAX_MSG);
        if (n > 0) {
                /* net_dns_error_reply() echoed our ID; up_deliver() puts the client's back */
                up_deliver(dns, u, dns->out, n);
        } else {
                if (u->conn) {
                        u->conn->pending--;
                        conn_maybe_done(u->conn);
                }
                u->conn = NULL;
                u->dead = true;
        }
}

static void up_next(struct net_dns *dns, struct up *u);

/* Ask the upstream u->which over u->tcp; on failure move on to the next. */
static void up_try(struct net_dns *dns, struct up *u)
{
        up_close_fd(dns, u);
        const struct sockaddr_storage *a = &u->ups[u->which];
        socklen_t sl =
            a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        u->fd = socket(a->ss_family,
                       (u->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (u->fd < 0) {
                up_next(dns, u);
                return;
        }
        uint16_t id;
        if (getrandom(&id, sizeof(id), 0) != sizeof(id))
                id = (uint16_t)now_ms();
        u->q[0] = (uint8_t)(id >> 8);
        u->q[1] = (uint8_t)id;
        u->deadline =
            now_ms() + (dns->cfg.upstream_timeout_ms ? dns->cfg.upstream_timeout_ms : 2000);
        if (connect(u->fd, (const struct sockaddr *)a, sl) < 0 && errno != EINPROGRESS) {
                up_next(dns, u);
                return;
        }
        struct epoll_event ev = {.events = EPOLLIN | (u->tcp ? EPOLLOUT : 0), .data.ptr = u};
        if (epoll_ctl(dns->epfd, EPOLL_CTL_ADD, u->fd, &ev) < 0) {
                up_next(dns, u);
                return;
        }
        if (!u->tcp) {
                if (send(u->fd, u->q, u->qlen, MSG_DONTWAIT) < 0) {
                        up_next(dns, u);
                        return;
                }
                u->sent = true;
        }
}

static void up_next(struct net_dns *dns, struct up *u)
{
        up_close_fd(dns, u);
        if (++u->which >= u->n_ups) {
                up_fail(dns, u);
                return;
        }
        u->tcp = u->tcp_client;
        up_try(dns, u);
}

static void up_start(struct net_dns *dns, const struct entry *e, struct conn *c,
                     const struct sockaddr_storage *client, const uint8_t *q, size_t qlen,
                     size_t limit)
{
        struct up *u = xcalloc(1, sizeof(*u));
        u->kind = K_UP;
        u->fd = -1;
        u->entry_id = e->id;
        u->q = xmalloc(qlen);
        memcpy(u->q, q, qlen);
        u->qlen = qlen;
        u->client_qid = (uint16_t)(q[0] << 8 | q[1]);
        u->limit = limit;
        u->conn = c;
        u->tcp_client = u->tcp = c != NULL;
        if (client)
                u->client = *client;
        if (c)
                c->pending++;
        u->next = dns->upl;
        if (dns->upl)
                dns->upl->prev = u;
        dns->upl = u;
        if (e->n_ups == 0) {
                up_fail(dns, u);
                return;
        }
        u->ups = xmalloc(e->n_ups * sizeof(*u->ups));
        memcpy(u->ups, e->ups, e->n_ups * sizeof(*u->ups));
        u->n_ups = e->n_ups;
        up_try(dns, u);
}

/* An answer in buf: ours, or noise to ignore (false). */
static bool up_answer_ok(const struct up *u, const uint8_t *a, size_t len)
{
        return len >= 12 && a[0] == u->q[0] && a[1] == u->q[1] && (a[2] & 0x80) &&
               net_dns_same_question(u->q, u->qlen, a, len);
}

static void up_event(struct net_dns *dns, struct up *u, uint32_t events)
{
        if (!u->tcp) {
                for (;;) {
                        ssize_t n = recv(u->fd, dns->buf, NET_DNS_MAX_MSG, MSG_DONTWAIT);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                                return;
                        if (n < 0) { /* ICMP unreachable: nobody there */
                                up_next(dns, u);
                                return;
                        }
                        if (!up_answer_ok(u, dns->buf, (size_t)n))
                                continue;
                        if (dns->buf[2] & 0x02) { /* TC: again over TCP */
                                u->tcp = true;
                                up_try(dns, u);
                                return;
                        }
                        up_deliver(dns, u, dns->buf, (size_t)n);
                        return;
                }
        }
        if (!u->sent && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                uint8_t *m = xmalloc(u->qlen + 2);
                m[0] = (uint8_t)(u->qlen >> 8);
                m[1] = (uint8_t)u->qlen;
                memcpy(m + 2, u->q, u->qlen);
                /* a fresh connection's buffer takes one small query whole */
                ssize_t n = send(u->fd, m, u->qlen + 2, MSG_NOSIGNAL | MSG_DONTWAIT);
                free(m);
                if (n != (ssize_t)(u->qlen + 2)) {
                        up_next(dns, u);
                        return;
                }
                u->sent = true;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = u};
                (void)epoll_ctl(dns->epfd, EPOLL_CTL_MOD, u->fd, &ev);
                return;
        }
        if (!u->r)
                u->r = xmalloc(NET_DNS_MAX_MSG + 2);
        for (;;) {
                size_t want = u->r_len < 2 ? 2 : 2 + (size_t)(u->r[0] << 8 | u->r[1]);
                if (u->r_len >= 2 && u->r_len == want) {
                        if (!up_answer_ok(u, u->r + 2, want - 2)) {
                                up_next(dns, u);
                                return;
                        }
                        /* up_deliver() may reuse nothing of u->r after this */
                        memcpy(dns->out, u->r + 2, want - 2);
                        up_deliver(dns, u, dns->out, want - 2);
                        up_close_fd(dns, u);
                        return;
                }
                ssize_t n = recv(u->fd, u->r + u->r_len, want - u->r_len, MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n <= 0) {
                        up_next(dns, u);
                        return;
                }
                u->r_len += (size_t)n;
        }
}

/* --- queries from containers --- */

static void handle_udp(struct net_dns *dns, struct entry *e)
{
        for (int i = 0; i < UDP_BATCH && !atomic_load(&e->removed); i++) {
                struct sockaddr_storage from;
                socklen_t fl = sizeof(from);
                ssize_t n = recvfrom(e->udp_fd, dns->buf, NET_DNS_MAX_MSG, MSG_DONTWAIT,
                                     (struct sockaddr *)&from, &fl);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return;
                size_t len = 0;
                switch (net_dns_handle(&dns->cfg.cb, e->key, dns->rotate++, false, dns->buf,
                                       (size_t)n, dns->out, NET_DNS_MAX_MSG, &len)) {
                case NET_DNS_REPLY:
                        (void)sendto(e->udp_fd, dns->out, len, MSG_DONTWAIT,
                                     (struct sockaddr *)&from, fl);
                        break;
                case NET_DNS_FORWARD:
                        up_start(dns, e, NULL, &from, dns->buf, (size_t)n, len);
                        break;
                case NET_DNS_DROP:
                        break;
                }
        }
}

static void handle_accept(struct net_dns *dns, struct entry *e)
{
        for (;;) {
                int fd = accept4(e->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return;
                if (dns->n_conns >= MAX_CONNS) {
                        close(fd);
                        continue;
                }
                struct conn *c = xcalloc(1, sizeof(*c));
                c->kind = K_CONN;
                c->fd = fd;
                c->entry_id = e->id;
                c->key = xstrdup(e->key);
                c->in = xmalloc(NET_DNS_MAX_MSG + 2);
                c->deadline = now_ms() + IDLE_MS;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                if (epoll_ctl(dns->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                        c->dead = true;
                c->next = dns->conns;
                if (dns->conns)
                        dns->conns->prev = c;
                dns->conns = c;
                dns->n_conns++;
        }
}

static void conn_query(struct net_dns *dns, struct conn *c, const uint8_t *q, size_t qlen)
{
        size_t len = 0;
        switch (net_dns_handle(&dns->cfg.cb, c->key, dns->rotate++, true, q, qlen, dns->out,
                               NET_DNS_MAX_MSG, &len)) {
        case NET_DNS_REPLY:
                conn_send(dns, c, dns->out, len);
                break;
        case NET_DNS_FORWARD: {
                struct entry *e = entry_get(dns, c->entry_id);
                if (!e) {
                        c->dead = true;
                        break;
                }
                up_start(dns, e, c, NULL, q, qlen, len);
                entry_put(dns, e);
                break;
        }
        case NET_DNS_DROP:
                c->dead = true; /* a TCP client that sends responses is not talking DNS */
                break;
        }
}

static void conn_event(struct net_dns *dns, struct conn *c, uint32_t events)
{
        /* gone both ways: nothing more to read or write (and HUP would fire on and on) */
        if (events & (EPOLLHUP | EPOLLERR)) {
                c->dead = true;
                return;
        }
        if (events & EPOLLOUT)
                conn_flush(dns, c);
        if (c->dead || c->eof || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return;
        ssize_t n = recv(c->fd, c->in + c->in_len, NET_DNS_MAX_MSG + 2 - c->in_len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                return;
        if (n < 0) {
                c->dead = true;
                return;
        }
        if (n == 0) {
                c->eof = true;
                conn_events(dns, c);
                conn_maybe_done(c);
                return;
        }
        c->in_len += (size_t)n;
        c->deadline = now_ms() + IDLE_MS;
        size_t off = 0;
        while (!c->dead && c->in_len - off >= 2) {
                size_t l = (size_t)(c->in[off] << 8 | c->in[off + 1]);
                if (c->in_len - off < 2 + l)
                        break;
                conn_query(dns, c, c->in + off + 2, l);
                off += 2 + l;
        }
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
}

/* --- the loop --- */

static void reap(struct net_dns *dns)
{
        for (struct conn *c = dns->conns, *next; c; c = next) {
                next = c->next;
                if (!c->dead)
                        continue;
                for (struct up *u = dns->upl; u; u = u->next)
                        if (u->conn == c)
                                u->conn = NULL;
                *(c->prev ? &c->prev->next : &dns->conns) = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                close(c->fd); /* leaves the epoll set with it */
                free(c->in);
                free(c->out);
                free(c->key);
                free(c);
                dns->n_conns--;
        }
        for (struct up *u = dns->upl, *next; u; u = next) {
                next = u->next;
                if (!u->dead)
                        continue;
                *(u->prev ? &u->prev->next : &dns->upl) = u->next;
                if (u->next)
                        u->next->prev = u->prev;
                up_close_fd(dns, u);
                free(u->q);
                free(u->ups);
                free(u);
        }
}

/* After a removal: drop what belongs to containers that are gone. */
static void sweep(struct net_dns *dns)
{
        for (struct conn *c = dns->conns; c; c = c->next)
                if (!entry_alive(dns, c->entry_id))
                        c->dead = true;
        for (struct up *u = dns->upl; u; u = u->next)
                if (!entry_alive(dns, u->entry_id)) {
                        if (u->conn)
                                u->conn->pending--;
                        u->conn = NULL;
                        u->dead = true;
                }
}

static int next_timeout(struct net_dns *dns, uint64_t now)
{
        uint64_t first = UINT64_MAX;
        for (struct conn *c = dns->conns; c; c = c->next)
                if (c->pending == 0 && c->deadline < first)
                        first = c->deadline;
        for (struct up *u = dns->upl; u; u = u->next)
                if (!u->dead && u->deadline < first)
                        first = u->deadline;
        if (first == UINT64_MAX)
                return -1;
        return first <= now ? 0 : (int)(first - now < 60000 ? first - now : 60000);
}

static void expire(struct net_dns *dns, uint64_t now)
{
        for (struct conn *c = dns->conns; c; c = c->next)
                if (!c->dead && c->pending == 0 && c->deadline <= now)
                        c->dead = true;
        for (struct up *u = dns->upl; u; u = u->next)
                if (!u->dead && u->deadline <= now)
                        up_next(dns, u);
}

static void *server_thread(void *p)
{
        struct net_dns *dns = p;
        struct epoll_event evs[64];
        while (!atomic_load(&dns->stop)) {
                int n = epoll_wait(dns->epfd, evs, ELEMENTSOF(evs), next_timeout(dns, now_ms()));
                for (int i = 0; i < n; i++) {
                        uint64_t d = evs[i].data.u64;
                        if (d == 0) {
                                uint64_t v;
                                (void)!read(dns->wakefd, &v, sizeof(v));
                                sweep(dns);
                        } else if (d & 3) {
                                struct entry *e = entry_get(dns, d >> 2);
                                if (!e)
                                        continue;
                                if ((d & 3) == EV_UDP)
                                        handle_udp(dns, e);
                                else
                                        handle_accept(dns, e);
                                entry_put(dns, e);
                        } else if (*(enum obj_kind *)evs[i].data.ptr == K_CONN) {
                                struct conn *c = evs[i].data.ptr;
                                if (!c->dead)
                                        conn_event(dns, c, evs[i].events);
                        } else {
                                struct up *u = evs[i].data.ptr;
                                if (!u->dead && u->fd >= 0)
                                        up_event(dns, u, evs[i].events);
                        }
                }
                expire(dns, now_ms());
                reap(dns);
        }
        return NULL;
}

int net_dns_new(const struct net_dns_config *cfg, struct net_dns **ret, struct berth_error **err)
{
        if (!cfg->cb.lookup)
                return berth_error_set(err, EINVAL, "dns server: no lookup callback");
        struct net_dns *dns = xcalloc(1, sizeof(*dns));
        dns->cfg = *cfg;
        dns->next_id = 1;
        dns->wakefd = -1;
        pthread_mutex_init(&dns->lock, NULL);
        dns->buf = xmalloc(NET_DNS_MAX_MSG + 2);
        dns->out = xmalloc(NET_DNS_MAX_MSG + 2);
        dns->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (dns->epfd < 0) {
                int e = errno;
                net_dns_free(dns);
                return berth_error_sys(err, e, "dns server: epoll");
        }
        dns->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
        if (dns->wakefd < 0 || epoll_ctl(dns->epfd, EPOLL_CTL_ADD, dns->wakefd, &ev) < 0) {
                int e = errno;
                net_dns_free(dns);
                return berth_error_sys(err, e, "dns server: eventfd");
        }
        int r = pthread_create(&dns->thread, NULL, server_thread, dns);
        if (r != 0) {
                dns->thread = 0;
                net_dns_free(dns);
                return berth_error_sys(err, r, "dns server: thread");
        }
        *ret = dns;
        return 0;
}

void net_dns_free(struct net_dns *dns)
{
        if (!dns)
                return;
        if (dns->thread) {
                atomic_store(&dns->stop, true);
                wake(dns);
                pthread_join(dns->thread, NULL);
        }
        for (struct conn *c = dns->conns; c; c = c->next)
                c->dead = true;
        for (struct up *u = dns->upl; u; u = u->next) {
                u->conn = NULL;
                u->dead = true;
        }
        reap(dns);
        for (struct entry *e = dns->entries, *next; e; e = next) {
                next = e->next;
                entry_free(e);
        }
        if (dns->epfd >= 0)
                close(dns->epfd);
        if (dns->wakefd >= 0)
                close(dns->wakefd);
        pthread_mutex_destroy(&dns->lock);
        free(dns->buf);
        free(dns->out);
        free(dns);
}

/* --- containers --- */

/*
 * One net_dns_add()'s work in the container's namespace, shared by the caller
 * and a detached thread: the thread publishes its result (done) and goes on
 * to end, which is where the kernel's slow release of the nftables socket
 * lands (install_rules()); whichever of the two drops the last ref frees it.
 */
struct ns_ctx {
        int netns_fd;
        int udp_fd, tcp_fd;
        int error;
        const char *step;
        char *nft_msg;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool done;
        atomic_int refs;
};

static void ns_ctx_unref(struct ns_ctx *c)
{
        if (atomic_fetch_sub(&c->refs, 1) != 1)
                return;
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
}

static int bind_local(int type, uint16_t *ret_port)
{
        _cleanup_close_ int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_in sa = {.sin_family = AF_INET};
        inet_pton(AF_INET, NET_DNS_ADDR, &sa.sin_addr);
        socklen_t sl = sizeof(sa);
        if (bind(fd, (struct sockaddr *)&sa, sl) < 0)
                return -errno;
        if (type == SOCK_STREAM && listen(fd, 64) < 0)
                return -errno;
        if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
                return -errno;
        *ret_port = ntohs(sa.sin_port);
        return TAKE_FD(fd);
}

/*
 * A second reference to every fd open in this thread's private fd table past
 * 0-2, which are libnftables' (its netlink socket), so that nft_ctx_free()'s
 * close is not the socket's last.  The kernel's release of an nf_tables
 * socket waits until the transactions just committed are freed, an RCU grace
 * period (10-40 ms on this project's machines, more than the rest of a
 * container's start); the last references go when the thread ends, after
 * net_dns_add() has its answer.
 */
static void hold_fds(void)
{
        for (int fd = 3; fd < 64; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        (void)fcntl(fd, F_DUPFD_CLOEXEC, 64);
}

/*
 * The table, replaced whole: queries to 127.0.0.11:53 go to our ports (nat
 * output, as they are made in this namespace), and what leaves our ports
 * leaves from port 53 (conntrack rewrites the answers of a DNAT'd flow by
 * itself; the postrouting rules are dockerd's, for anything else).
 */
static int install_rules(uint16_t udp_port, uint16_t tcp_port, char **ret_msg)
{
        _cleanup_free_ char *cmd =
            xasprintf("add table ip " NFT_TABLE "\n"
                      "delete table ip " NFT_TABLE "\n"
                      "table ip " NFT_TABLE " {\n"
                      " chain output {\n"
                      "  type nat hook output priority -100; policy accept;\n"
                      "  ip daddr " NET_DNS_ADDR " udp dport 53 dnat to " NET_DNS_ADDR ":%u\n"
                      "  ip daddr " NET_DNS_ADDR " tcp dport 53 dnat to " NET_DNS_ADDR ":%u\n"
                      " }\n"
                      " chain postrouting {\n"
                      "  type nat hook postrouting priority 100; policy accept;\n"
                      "  ip saddr " NET_DNS_ADDR " udp sport %u snat to " NET_DNS_ADDR ":53\n"
                      "  ip saddr " NET_DNS_ADDR " tcp sport %u snat to " NET_DNS_ADDR ":53\n"
                      " }\n"
                      "}\n",
                      udp_port, tcp_port, udp_port, tcp_port);
        pthread_mutex_lock(&nft_lock);
        struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
        int r = -ENOMEM;
        if (nft) {
                nft_ctx_buffer_output(nft);
                nft_ctx_buffer_error(nft);
                r = nft_run_cmd_from_buffer(nft, cmd) == 0 ? 0 : -EIO;
                if (r < 0) {
                        const char *m = nft_ctx_get_error_buffer(nft);
                        size_t l = m ? strcspn(m, "\n") : 0;
                        *ret_msg = l ? xstrndup(m, l) : xstrdup("libnftables failed");
                }
                hold_fds();
                nft_ctx_free(nft);
        }
        pthread_mutex_unlock(&nft_lock);
        return r;
}

static void ns_work(struct ns_ctx *c)
{
        uint16_t up = 0, tp = 0;
        /* CLONE_NEWNET is per thread; this thread ends right after. */
        if (setns(c->netns_fd, CLONE_NEWNET) < 0) {
                c->error = errno;
                c->step = "enter network namespace";
                return;
        }
        c->udp_fd = bind_local(SOCK_DGRAM, &up);
        if (c->udp_fd < 0) {
                c->error = -c->udp_fd;
                c->step = "bind udp " NET_DNS_ADDR;
                return;
        }
        c->tcp_fd = bind_local(SOCK_STREAM, &tp);
        if (c->tcp_fd < 0) {
                c->error = -c->tcp_fd;
                c->step = "bind tcp " NET_DNS_ADDR;
                return;
        }
        /*
         * libnftables waits on its netlink socket with select(), which aborts
         * the process (glibc's fortify) for an fd >= FD_SETSIZE (1024), and a
         * berthd with a few hundred containers holds that many (two sockets
         * each here, their monitors' fds).  So this thread, which ends right
         * after, takes an fd table of its own holding only 0-2: the socket
         * libnftables opens is fd 3.  The two sockets above stay in the
         * shared table.
         */
        if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_UNSHARE) < 0) {
                c->error = errno;
                c->step = "private fd table for nftables";
                return;
        }
        int r = install_rules(up, tp, &c->nft_msg);
        if (r < 0) {
                c->error = -r;
                c->step = "nftables";
        }
}

static void *ns_thread(void *p)
{
        struct ns_ctx *c = p;
        ns_work(c);
        pthread_mutex_lock(&c->lock);
        c->done = true;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        ns_ctx_unref(c);
        return NULL; /* and the thread's private fd table goes, with the socket */
}

static bool key_served(struct net_dns *dns, const char *key)
{
        for (struct entry *e = dns->entries; e; e = e->next)
                if (strcmp(e->key, key) == 0)
                        return true;
        return false;
}

static void to_sockaddr(const struct net_addr *a, struct sockaddr_storage *ss)
{
        memset(ss, 0, sizeof(*ss));
        if (a->family == AF_INET6) {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(53);
                memcpy(&s6->sin6_addr, a->bytes, 16);
        } else {
                struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
                s4->sin_family = AF_INET;
                s4->sin_port = htons(53);
                memcpy(&s4->sin_addr, a->bytes, 4);
        }
}

int net_dns_add(struct net_dns *dns, const char *key, int netns_fd,
                const struct net_addr *upstreams, size_t n_upstreams, struct berth_error **err)
{
        pthread_mutex_lock(&dns->lock);
        bool dup = key_served(dns, key);
        pthread_mutex_unlock(&dns->lock);
        if (dup)
                return berth_error_set(err, EEXIST, "dns for '%s': already served", key);

        struct ns_ctx *c = xcalloc(1, sizeof(*c));
        c->netns_fd = netns_fd;
        c->udp_fd = c->tcp_fd = -EBADF;
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->cond, NULL);
        atomic_init(&c->refs, 2);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t t;
        int r = pthread_create(&t, &attr, ns_thread, c);
        pthread_attr_destroy(&attr);
        if (r != 0) {
                ns_ctx_unref(c);
                ns_ctx_unref(c);
                return berth_error_sys(err, r, "dns for '%s': thread", key);
        }
        pthread_mutex_lock(&c->lock);
        while (!c->done)
                pthread_cond_wait(&c->cond, &c->lock);
        pthread_mutex_unlock(&c->lock);
        _cleanup_close_ int udp_fd = c->udp_fd, tcp_fd = c->tcp_fd;
        _cleanup_free_ char *nft_msg = c->nft_msg;
        int error = c->error;
        const char *step = c->step;
        ns_ctx_unref(c);
        if (error) {
                if (nft_msg)
                        return berth_error_set(err, error, "dns for '%s': nftables: %s", key,
                                               nft_msg);
                return berth_error_sys(err, error, "dns for '%s': %s", key, step);
        }

        struct entry *e = xcalloc(1, sizeof(*e));
        e->key = xstrdup(key);
        e->refs = 1;
        e->ups = xcalloc(n_upstreams ? n_upstreams : 1, sizeof(*e->ups));
        for (size_t i = 0; i < n_upstreams; i++)
                to_sockaddr(&upstreams[i], &e->ups[i]);
        e->n_ups = n_upstreams;
        e->udp_fd = TAKE_FD(udp_fd);
        e->tcp_fd = TAKE_FD(tcp_fd);

        pthread_mutex_lock(&dns->lock);
        if (key_served(dns, key)) { /* a racing add of the same key won */
                pthread_mutex_unlock(&dns->lock);
                entry_free(e);
                return berth_error_set(err, EEXIST, "dns for '%s': already served", key);
        }
        e->id = dns->next_id++;
        struct epoll_event eu = {.events = EPOLLIN, .data.u64 = e->id << 2 | EV_UDP};
        struct epoll_event et = {.events = EPOLLIN, .data.u64 = e->id << 2 | EV_TCP};
        if (epoll_ctl(dns->epfd, EPOLL_CTL_ADD, e->udp_fd, &eu) < 0 ||
            epoll_ctl(dns->epfd, EPOLL_CTL_ADD, e->tcp_fd, &et) < 0) {
                int er = errno;
                pthread_mutex_unlock(&dns->lock);
                entry_free(e); /* closing the fds takes them out of the epoll set */
                return berth_error_sys(err, er, "dns for '%s': epoll", key);
        }
        e->next = dns->entries;
        dns->entries = e;
        pthread_mutex_unlock(&dns->lock);
        return 0;
}

int net_dns_remove(struct net_dns *dns, const char *key)
{
        pthread_mutex_lock(&dns->lock);
        struct entry **pp = &dns->entries;
        while (*pp && strcmp((*pp)->key, key) != 0)
                pp = &(*pp)->next;
        struct entry *e = *pp;
        if (!e) {
                pthread_mutex_unlock(&dns->lock);
                return -ENOENT;
        }
        *pp = e->next;
        atomic_store(&e->removed, true);
        /* out of the loop now; closed when the server thread lets go of it too */
        epoll_ctl(dns->epfd, EPOLL_CTL_DEL, e->udp_fd, NULL);
        epoll_ctl(dns->epfd, EPOLL_CTL_DEL, e->tcp_fd, NULL);
        bool last = --e->refs == 0;
        pthread_mutex_unlock(&dns->lock);
        if (last)
                entry_free(e);
        wake(dns);
        return 0;
}
