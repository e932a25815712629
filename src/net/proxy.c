/*
 * proxy.c — the userland proxy for published ports (contract in proxy.h).
 *
 * One epoll thread, level-triggered, every socket non-blocking.  The state
 * (ports, connections, flows) is guarded by one mutex: the thread holds it
 * while it handles a batch of events, never while it waits; add and del take
 * it from other threads.  Something closed while the thread may still hold an
 * event for it is marked dead (taken out of epoll, its fds closed at once)
 * and freed by the thread after its batch, so an event never reaches freed
 * memory.
 *
 * TCP: a connection is two ends, each an epoll entry pointing at its end of
 * the pair.  Each direction has a buffer; after every event both directions
 * are pumped (read while there is room, write while there is data) and each
 * end's interest is recomputed from what its directions wait for.  A
 * direction whose source said EOF and whose buffer is empty shuts the other
 * end's writing side; when both are shut, or on an error, the pair goes.  An
 * end shut both ways (EPOLLHUP, which level-triggered epoll would report for
 * ever) leaves epoll, and what was still on its way to it is dropped.
 * A connection to the container is made non-blocking; until it completes the
 * client's end is not read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "net/proxy.h"

#define BUF_SIZE      (32 * 1024) /* per direction, as docker-proxy's io.Copy */
#define MAX_PAIRS     4096        /* 256 MiB of buffers at most; beyond, clients are refused */
#define UDP_IDLE_SEC  90
#define UDP_SWEEP_SEC 30

enum kind { K_WAKE, K_TIMER, K_TCP_PORT, K_UDP_PORT, K_TCP_END, K_UDP_FLOW };

struct obj {
        enum kind kind;
        bool dead;
        struct obj *next_dead;
};

struct port;

struct dir {
        char *buf;
        size_t off, len;
        bool eof;  /* its source ended (or failed) */
        bool shut; /* its destination's writing side is shut */
};

struct end {
        struct obj o; /* K_TCP_END */
        struct pair *pair;
        int side; /* 0: the client's, 1: the container's */
};

struct pair {
        struct pair *next;
        struct port *port;
        int fd[2];
        struct end end[2];
        struct dir dir[2]; /* dir[0]: client -> container, dir[1]: container -> client */
        bool hup[2];       /* that end is shut both ways: out of epoll, which reports it always */
        bool connecting;
        bool dead;
};

struct flow {
        struct obj o; /* K_UDP_FLOW */
        struct flow *next;
        struct port *port;
        int fd; /* connected to the container */
        struct sockaddr_storage peer;
        socklen_t peer_len;
        int64_t last;
};

struct port {
        struct obj o; /* K_TCP_PORT or K_UDP_PORT */
        struct port *next;
        uint64_t id;
        int fd;
        struct sockaddr_storage to;
        socklen_t to_len;
        struct pair *pairs;
        struct flow *flows;
};

struct net_proxy {
        pthread_mutex_t lock;
        pthread_t thread;
        bool running, stopping;
        int ep;
        struct obj wake_o, timer_o;
        int wake_fd, timer_fd;
        int spare_fd; /* given up to turn a client away when berthd is out of fds */
        struct port *ports;
        uint64_t next_id;
        unsigned n_pairs;
        struct obj *dead;
        /* pairs are freed with their ends: a dead pair is listed here */
        struct pair *dead_pairs;
        char udp_buf[65536];
};

static int64_t now_sec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

static void bury(struct net_proxy *p, struct obj *o)
{
        o->dead = true;
        o->next_dead = p->dead;
        p->dead = o;
}

static int ep_set(struct net_proxy *p, int op, int fd, uint32_t events, void *ptr)
{
        struct epoll_event ev = {.events = events, .data.ptr = ptr};
        return epoll_ctl(p->ep, op, fd, &ev) < 0 ? -errno : 0;
}

/* ---- TCP ---- */

static void pair_close(struct net_proxy *p, struct pair *c)
{
        if (c->dead)
                return;
        c->dead = true;
        for (int i = 0; i < 2; i++) {
                c->end[i].o.dead = true;
                if (c->fd[i] >= 0) {
                        (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd[i], NULL);
                        close(c->fd[i]);
                        c->fd[i] = -1;
                }
        }
        for (struct pair **pp = &c->port->pairs; *pp; pp = &(*pp)->next)
                if (*pp == c) {
                        *pp = c->next;
                        break;
                }
        c->next = p->dead_pairs;
        p->dead_pairs = c;
        p->n_pairs--;
}

static void pair_free(struct pair *c)
{
        free(c->dir[0].buf);
        free(c->dir[1].buf);
        free(c);
}

/* Move what can move in direction d (from fd[d] to fd[1 - d]); false on a failure. */
static bool pump(struct pair *c, int d)
{
        struct dir *x = &c->dir[d];
        int src = c->fd[d], dst = c->fd[1 - d];
        for (;;) {
                if (x->len > 0) {
                        ssize_t n = send(dst, x->buf + x->off, x->len, MSG_NOSIGNAL);
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                return errno == EAGAIN;
                        }
                        x->off += (size_t)n;
                        x->len -= (size_t)n;
                        if (x->len > 0)
                                continue;
                        x->off = 0;
                }
                if (x->eof)
                        break;
                ssize_t n = recv(src, x->buf, BUF_SIZE, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return true;
                        x->eof = true; /* a reset: the other side is told by a shutdown */
                        break;
                }
                if (n == 0) {
                        x->eof = true;
                        break;
                }
                x->len = (size_t)n;
        }
        if (x->eof && x->len == 0 && !x->shut) {
                (void)shutdown(dst, SHUT_WR);
                x->shut = true;
        }
        return true;
}

static void pair_update(struct net_proxy *p, struct pair *c)
{
        if (c->dir[0].shut && c->dir[1].shut) {
                pair_close(p, c);
                return;
        }
        for (int i = 0; i < 2; i++) {
                if (c->hup[i])
                        continue;
                uint32_t ev = 0;
                if (c->connecting) {
                        ev = i == 1 ? EPOLLOUT : 0;
                } else {
                        /* as a source: room to read; as a destination: data to write */
                        if (!c->dir[i].eof && c->dir[i].len == 0)
                                ev |= EPOLLIN;
                        if (c->dir[1 - i].len > 0)
                                ev |= EPOLLOUT;
                }
                if (ep_set(p, EPOLL_CTL_MOD, c->fd[i], ev, &c->end[i]) < 0) {
                        pair_close(p, c);
                        return;
                }
        }
}

static void on_end(struct net_proxy *p, struct end *e, uint32_t events)
{
        struct pair *c = e->pair;
        if (c->connecting && e->side == 0) {
                /* the client, before the container answered: only a hang-up matters */
                if (events & (EPOLLHUP | EPOLLERR))
                        pair_close(p, c);
                return;
        }
        if (c->connecting) {
                int soerr = 0;
                socklen_t l = sizeof(soerr);
                if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 || soerr) {
                        pair_close(p, c); /* the container does not answer: the client goes */
                        return;
                }
                c->connecting = false;
        }
        if (events & EPOLLERR) { /* a reset: both go */
                pair_close(p, c);
                return;
        }
        if ((events & EPOLLHUP) && !c->hup[e->side]) {
                /* nothing more can go to this end: what was on its way there is dropped; what
                 * came from it still goes on to the other end, then that one is shut */
                c->hup[e->side] = true;
                struct dir *to = &c->dir[1 - e->side];
                to->eof = to->shut = true;
                to->len = to->off = 0;
                (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd[e->side], NULL);
        }
        if (!pump(c, 0) || !pump(c, 1)) {
                pair_close(p, c);
                return;
        }
        pair_update(p, c);
}

static void on_tcp_port(struct net_proxy *p, struct port *pt)
{
        for (;;) {
                int cfd = accept4(pt->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if ((errno == EMFILE || errno == ENFILE) && p->spare_fd >= 0) {
                                /* out of fds: the client is turned away, or the listener
                                 * would stay readable and this loop spin */
                                log_warn("proxy: accept: %s: a connection is refused",
                                         strerror(errno));
                                close(p->spare_fd);
                                int x = accept4(pt->fd, NULL, NULL, SOCK_CLOEXEC);
                                if (x >= 0)
                                        close(x);
                                p->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                                if (x >= 0)
                                        continue;
                        } else if (errno != EAGAIN) {
                                log_warn("proxy: accept: %s", strerror(errno));
                        }
                        return;
                }
                if (p->n_pairs >= MAX_PAIRS) {
                        close(cfd);
                        continue;
                }
                int tfd = socket(pt->to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (tfd < 0) {
                        close(cfd);
                        continue;
                }
                int r = connect(tfd, (struct sockaddr *)&pt->to, pt->to_len);
                if (r < 0 && errno != EINPROGRESS) {
                        close(tfd);
                        close(cfd);
                        continue;
                }
                struct pair *c = xcalloc(1, sizeof(*c));
                c->port = pt;
                c->fd[0] = cfd;
                c->fd[1] = tfd;
                c->connecting = r < 0;
                for (int i = 0; i < 2; i++) {
                        c->end[i].o.kind = K_TCP_END;
                        c->end[i].pair = c;
                        c->end[i].side = i;
                        c->dir[i].buf = xmalloc(BUF_SIZE);
                }
                c->next = pt->pairs;
                pt->pairs = c;
                p->n_pairs++;
                if (ep_set(p, EPOLL_CTL_ADD, cfd, 0, &c->end[0]) < 0 ||
                    ep_set(p, EPOLL_CTL_ADD, tfd, 0, &c->end[1]) < 0) {
                        pair_close(p, c);
                        continue;
                }
                pair_update(p, c);
        }
}

/* ---- UDP ---- */

static void flow_close(struct net_proxy *p, struct flow *f)
{
        if (f->o.dead)
                return;
        (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, f->fd, NULL);
        close(f->fd);
        f->fd = -1;
        for (struct flow **pp = &f->port->flows; *pp; pp = &(*pp)->next)
                if (*pp == f) {
                        *pp = f->next;
                        break;
                }
        bury(p, &f->o);
}

static bool same_peer(const struct sockaddr_storage *a, socklen_t al,
                      const struct sockaddr_storage *b, socklen_t bl)
{
        return al == bl && memcmp(a, b, al) == 0;
}

static void on_udp_port(struct net_proxy *p, struct port *pt)
{
        for (;;) {
                struct sockaddr_storage from;
                socklen_t fl = sizeof(from);
                ssize_t n = recvfrom(pt->fd, p->udp_buf, sizeof(p->udp_buf), 0,
                                     (struct sockaddr *)&from, &fl);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                struct flow *f = pt->flows;
                while (f && !same_peer(&f->peer, f->peer_len, &from, fl))
                        f = f->next;
                if (!f) {
                        int fd =
                            socket(pt->to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                        if (fd < 0)
                                continue;
                        if (connect(fd, (struct sockaddr *)&pt->to, pt->to_len) < 0) {
                                close(fd);
                                continue;
                        }
                        f = xcalloc(1, sizeof(*f));
                        f->o.kind = K_UDP_FLOW;
                        f->port = pt;
                        f->fd = fd;
                        f->peer = from;
                        f->peer_len = fl;
                        f->next = pt->flows;
                        pt->flows = f;
                        if (ep_set(p, EPOLL_CTL_ADD, fd, EPOLLIN, &f->o) < 0) {
                                flow_close(p, f);
                                continue;
                        }
                }
                f->last = now_sec();
                (void)send(f->fd, p->udp_buf, (size_t)n, 0); /* a lost datagram is UDP's */
        }
}

static void on_flow(struct net_proxy *p, struct flow *f)
{
        for (;;) {
                ssize_t n = recv(f->fd, p->udp_buf, sizeof(p->udp_buf), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                flow_close(p, f); /* e.g. ECONNREFUSED: nothing listens */
                        return;
                }
                f->last = now_sec();
                (void)sendto(f->port->fd, p->udp_buf, (size_t)n, 0, (struct sockaddr *)&f->peer,
                             f->peer_len);
        }
}

static void sweep_flows(struct net_proxy *p)
{
        uint64_t ticks;
        (void)read(p->timer_fd, &ticks, sizeof(ticks));
        int64_t now = now_sec();
        for (struct port *pt = p->ports; pt; pt = pt->next)
                for (struct flow *f = pt->flows, *next; f; f = next) {
                        next = f->next;
                        if (now - f->last >= UDP_IDLE_SEC)
                                flow_close(p, f);
                }
}

/* ---- the thread ---- */

static void free_dead(struct net_proxy *p)
{
        while (p->dead) {
                struct obj *o = p->dead;
                p->dead = o->next_dead;
                free(o); /* struct flow and struct port start with their obj */
        }
        while (p->dead_pairs) {
                struct pair *c = p->dead_pairs;
                p->dead_pairs = c->next;
                pair_free(c);
        }
}

static void *proxy_thread(void *arg)
{
        struct net_proxy *p = arg;
        struct epoll_event evs[64];
        for (;;) {
                int n = epoll_wait(p->ep, evs, (int)ELEMENTSOF(evs), -1);
                if (n < 0 && errno != EINTR) {
                        log_warn("proxy: epoll_wait: %s", strerror(errno));
                        n = 0;
                }
                pthread_mutex_lock(&p->lock);
                if (p->stopping) {
                        pthread_mutex_unlock(&p->lock);
                        break;
                }
                for (int i = 0; i < n; i++) {
                        struct obj *o = evs[i].data.ptr;
                        if (o->dead)
                                continue;
                        switch (o->kind) {
                        case K_WAKE: {
                                uint64_t v;
                                (void)read(p->wake_fd, &v, sizeof(v));
                                break;
                        }
                        case K_TIMER:
                                sweep_flows(p);
                                break;
                        case K_TCP_PORT:
                                on_tcp_port(p, (struct port *)o);
                                break;
                        case K_UDP_PORT:
                                on_udp_port(p, (struct port *)o);
                                break;
                        case K_TCP_END: {
                                struct end *e = (struct end *)o;
                                if (!e->pair->dead)
                                        on_end(p, e, evs[i].events);
                                break;
                        }
                        case K_UDP_FLOW:
                                on_flow(p, (struct flow *)o);
                                break;
                        }
                }
                free_dead(p);
                pthread_mutex_unlock(&p->lock);
        }
        return NULL;
}

int net_proxy_new(struct net_proxy **ret, struct berth_error **err)
{
        struct net_proxy *p = xcalloc(1, sizeof(*p));
        pthread_mutex_init(&p->lock, NULL);
        p->wake_o.kind = K_WAKE;
        p->timer_o.kind = K_TIMER;
        p->next_id = 1;
        p->ep = epoll_create1(EPOLL_CLOEXEC);
        p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        p->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int r = p->ep < 0 || p->wake_fd < 0 || p->timer_fd < 0 || p->spare_fd < 0 ? -errno : 0;
        struct itimerspec its = {.it_interval = {UDP_SWEEP_SEC, 0}, .it_value = {UDP_SWEEP_SEC, 0}};
        if (r == 0 && timerfd_settime(p->timer_fd, 0, &its, NULL) < 0)
                r = -errno;
        if (r == 0)
                r = ep_set(p, EPOLL_CTL_ADD, p->wake_fd, EPOLLIN, &p->wake_o);
        if (r == 0)
                r = ep_set(p, EPOLL_CTL_ADD, p->timer_fd, EPOLLIN, &p->timer_o);
        if (r == 0) {
                r = -pthread_create(&p->thread, NULL, proxy_thread, p);
                p->running = r == 0;
        }
        if (r < 0) {
                net_proxy_free(p);
                return berth_error_sys(err, -r, "userland proxy");
        }
        *ret = p;
        return 0;
}

static void port_close(struct net_proxy *p, struct port *pt)
{
        while (pt->pairs)
                pair_close(p, pt->pairs);
        while (pt->flows)
                flow_close(p, pt->flows);
        (void)epoll_ctl(p->ep, EPOLL_CTL_DEL, pt->fd, NULL);
        close(pt->fd);
        pt->fd = -1;
        bury(p, &pt->o);
}

void net_proxy_free(struct net_proxy *p)
{
        if (!p)
                return;
        if (p->running) {
                pthread_mutex_lock(&p->lock);
                p->stopping = true;
                uint64_t one = 1;
                (void)write(p->wake_fd, &one, sizeof(one));
                pthread_mutex_unlock(&p->lock);
                pthread_join(p->thread, NULL);
        }
        while (p->ports) {
                struct port *pt = p->ports;
                p->ports = pt->next;
                port_close(p, pt);
        }
        free_dead(p);
        if (p->ep >= 0)
                close(p->ep);
        if (p->wake_fd >= 0)
                close(p->wake_fd);
        if (p->timer_fd >= 0)
                close(p->timer_fd);
        if (p->spare_fd >= 0)
                close(p->spare_fd);
        pthread_mutex_destroy(&p->lock);
        free(p);
}

int net_proxy_add(struct net_proxy *p, int proto, int fd, const struct net_addr *to,
                  uint16_t to_port, uint64_t *ret_id, struct berth_error **err)
{
        if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
                return berth_error_set(err, EPROTONOSUPPORT,
                                       "the userland proxy serves TCP and UDP ports only");
        struct port *pt = xcalloc(1, sizeof(*pt));
        pt->o.kind = proto == IPPROTO_TCP ? K_TCP_PORT : K_UDP_PORT;
        if (to->family == AF_INET) {
                struct sockaddr_in *s = (struct sockaddr_in *)&pt->to;
                s->sin_family = AF_INET;
                s->sin_port = htons(to_port);
                memcpy(&s->sin_addr, to->bytes, 4);
                pt->to_len = sizeof(*s);
        } else {
                struct sockaddr_in6 *s = (struct sockaddr_in6 *)&pt->to;
                s->sin6_family = AF_INET6;
                s->sin6_port = htons(to_port);
                memcpy(&s->sin6_addr, to->bytes, 16);
                pt->to_len = sizeof(*s);
        }
        pt->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        int r = pt->fd < 0 ? -errno : 0;
        if (r == 0) {
                int fl = fcntl(pt->fd, F_GETFL);
                if (fl < 0 || fcntl(pt->fd, F_SETFL, fl | O_NONBLOCK) < 0)
                        r = -errno;
        }
        if (r == 0 && proto == IPPROTO_TCP && listen(pt->fd, SOMAXCONN) < 0)
                r = -errno;
        if (r < 0) {
                if (pt->fd >= 0)
                        close(pt->fd);
                free(pt);
                return berth_error_sys(err, -r, "userland proxy");
        }
        pthread_mutex_lock(&p->lock);
        r = ep_set(p, EPOLL_CTL_ADD, pt->fd, EPOLLIN, &pt->o);
        if (r == 0) {
                pt->id = p->next_id++;
                pt->next = p->ports;
                p->ports = pt;
                *ret_id = pt->id;
        }
        pthread_mutex_unlock(&p->lock);
        if (r < 0) {
                close(pt->fd);
                free(pt);
                return berth_error_sys(err, -r, "userland proxy");
        }
        return 0;
}

void net_proxy_del(struct net_proxy *p, uint64_t id)
{
        pthread_mutex_lock(&p->lock);
        for (struct port **pp = &p->ports; *pp; pp = &(*pp)->next) {
                struct port *pt = *pp;
                if (pt->id != id)
                        continue;
                *pp = pt->next;
                port_close(p, pt);
                /* the thread frees it after the batch it may be in */
                uint64_t one = 1;
                (void)write(p->wake_fd, &one, sizeof(one));
                break;
        }
        pthread_mutex_unlock(&p->lock);
}
