/*
 * shim-io.c — berth-shim's streams: a process's output to the log and to its
 * clients, clients' input to the process (see shim.h for the loop).
 *
 * A client is one attach or exec stream berthd handed over (the client's own
 * socket, past the HTTP upgrade).  Output reaches it as docker frames it:
 * raw with a terminal, else an 8-byte header [stream,0,0,0,len32be] before
 * each chunk.  Its input goes to the process's stdin through the detach-key
 * filter: the keys (ctrl-p,ctrl-q unless told otherwise) end the stream and
 * leave the process running; a prefix of them that turns out not to be the
 * keys is passed on as typed.  Without a terminal the client's EOF closes the
 * process's stdin when the container was made with StdinOnce; with one it
 * ends the client's session only.
 *
 * Flow control: every client socket is non-blocking and has an output buffer.
 * When any buffer holds more than CLIENT_HIGH_WATER bytes, the monitor stops
 * reading process output until it drains: a slow client slows the container's
 * output (as docker's attach does) but never blocks the monitor.  A client
 * that has gone (EPIPE, HUP) is dropped at once.
 *
 * Never: block on a client or a process; write a client's input to a process
 * it did not attach to; lose output that was read (it goes to the log first).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>

#include "shim.h"

#define CLIENT_HIGH_WATER (1u << 20)
#define STDIN_HIGH_WATER  (256u * 1024)
#define READ_CHUNK        (32 * 1024)

struct shim_client {
        struct shim_client *next;
        int fd;
        struct shim_proc *proc;
        bool in, out, err;
        bool framed;
        bool in_done; /* stdin side finished (EOF, detach, or not wanted) */
        unsigned char keys[16];
        size_t n_keys, matched;
        struct berth_buf obuf;
        size_t ooff; /* bytes of obuf already sent */
        bool dead;
};

struct watch {
        int tag;
        void *obj;
};

/* One watch record per (fd): obj and tag by fd number. */
static struct watch *watches;
static size_t n_watches;

static struct watch *watch_slot(int fd)
{
        if ((size_t)fd >= n_watches) {
                size_t n = (size_t)fd + 64;
                watches = xrealloc(watches, n * sizeof(*watches));
                memset(watches + n_watches, 0, (n - n_watches) * sizeof(*watches));
                n_watches = n;
        }
        return &watches[fd];
}

void shim_watch(struct shim *s, int fd, int tag, void *obj, uint32_t events)
{
        struct watch *w = watch_slot(fd);
        bool known = w->tag != 0;
        w->tag = tag;
        w->obj = obj;
        struct epoll_event ev = {.events = events, .data.fd = fd};
        if (epoll_ctl(s->epfd, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0 && known)
                (void)epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void shim_unwatch(struct shim *s, int fd)
{
        if (fd < 0)
                return;
        (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
        struct watch *w = watch_slot(fd);
        w->tag = 0;
        w->obj = NULL;
}

/* For the loop in shim.c: what an fd was registered as. */
int shim_watch_lookup(int fd, void **ret_obj);
int shim_watch_lookup(int fd, void **ret_obj)
{
        if (fd < 0 || (size_t)fd >= n_watches)
                return 0;
        *ret_obj = watches[fd].obj;
        return watches[fd].tag;
}

static void set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- detach keys ---- */

int shim_parse_detach_keys(const char *spec, unsigned char *out, size_t max, size_t *ret_n)
{
        size_t n = 0;
        if (!spec || !*spec) {
                *ret_n = 0;
                return 0;
        }
        _cleanup_free_ char *copy = xstrdup(spec);
        char *save = NULL;
        for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
                if (n >= max)
                        return -EINVAL;
                if (strlen(k) == 1) {
                        out[n++] = (unsigned char)k[0];
                        continue;
                }
                if (strncmp(k, "ctrl-", 5) != 0 || strlen(k) != 6)
                        return -EINVAL;
                char c = k[5];
                if (c >= 'a' && c <= 'z')
                        out[n++] = (unsigned char)(c - 'a' + 1);
                else if (c == '@')
                        out[n++] = 0;
                else if (c >= '[' && c <= '_')
                        out[n++] = (unsigned char)(c - '[' + 27);
                else
                        return -EINVAL;
        }
        *ret_n = n;
        return 0;
}

/* ---- output to clients ---- */

static size_t client_pending(const struct shim_client *c)
{
        return c->obuf.len - c->ooff;
}

static void client_kill(struct shim *s, struct shim_client *c)
{
        if (c->dead)
                return;
        shim_unwatch(s, c->fd);
        close(c->fd);
        c->fd = -1;
        c->dead = true;
}

static void client_update_events(struct shim *s, struct shim_client *c)
{
        if (c->dead)
                return;
        /* After the client's EOF only output is left to do (a half-closed client
         * still reads); a vanished one shows as an error on the next send. */
        uint32_t ev = 0;
        if (!c->in_done)
                ev |= EPOLLIN | EPOLLRDHUP;
        if (client_pending(c))
                ev |= EPOLLOUT;
        /* stdin held back while the process has not taken what it got */
        if (!c->in_done && c->proc && c->proc->in.len > STDIN_HIGH_WATER)
                ev &= ~(uint32_t)EPOLLIN;
        shim_watch(s, c->fd, TAG_CLIENT, c, ev);
}

static void client_flush(struct shim *s, struct shim_client *c)
{
        while (!c->dead && client_pending(c)) {
                ssize_t n = send(c->fd, c->obuf.data + c->ooff, client_pending(c),
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                        c->ooff += (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                client_kill(s, c);
                return;
        }
        if (!c->dead && c->ooff == c->obuf.len) {
                buf_reset(&c->obuf);
                c->ooff = 0;
        }
        client_update_events(s, c);
}

static void client_send(struct shim *s, struct shim_client *c, int stream, const char *data,
                        size_t len)
{
        if (c->dead)
                return;
        if (c->framed) {
                unsigned char h[8] = {(unsigned char)stream,
                                      0,
                                      0,
                                      0,
                                      (unsigned char)(len >> 24),
                                      (unsigned char)(len >> 16),
                                      (unsigned char)(len >> 8),
                                      (unsigned char)len};
                buf_append(&c->obuf, h, sizeof(h));
        }
        buf_append(&c->obuf, data, len);
        client_flush(s, c);
}

/* Pause or resume reading process output according to the clients' buffers. */
static void update_output_hold(struct shim *s)
{
        bool hold = false;
        for (struct shim_client *c = s->clients; c; c = c->next)
                if (!c->dead && client_pending(c) > CLIENT_HIGH_WATER)
                        hold = true;
        if (hold == s->output_held)
                return;
        s->output_held = hold;
        uint32_t ev = hold ? 0 : EPOLLIN;
        for (struct shim_proc *p = s->procs; p; p = p->next) {
                if (p->master >= 0)
                        shim_watch(s, p->master, TAG_OUT, p,
                                   ev | (p->in.len ? (uint32_t)EPOLLOUT : 0));
                if (p->out_r >= 0)
                        shim_watch(s, p->out_r, TAG_OUT, p, ev);
                if (p->err_r >= 0)
                        shim_watch(s, p->err_r, TAG_ERR, p, ev);
        }
}

static void deliver(struct shim *s, struct shim_proc *p, int stream, const char *data, size_t len)
{
        if (p->is_init)
                shim_log_write(s->log, stream, data, len);
        for (struct shim_client *c = s->clients; c; c = c->next) {
                if (c->dead || c->proc != p)
                        continue;
                if ((stream == STREAM_STDOUT && c->out) || (stream == STREAM_STDERR && c->err))
                        client_send(s, c, stream, data, len);
        }
        update_output_hold(s);
}

/* ---- stdin ---- */

static void proc_close_stdin(struct shim *s, struct shim_proc *p)
{
        if (p->in.len) {
                p->in_close_pending = true;
                return;
        }
        if (p->in_w >= 0) {
                shim_unwatch(s, p->in_w);
                close(p->in_w);
                p->in_w = -1;
        } else if (p->master >= 0) {
                /* a terminal has no half-close: EOF is the line discipline's VEOF */
                struct termios t;
                char eof = 4;
                if (tcgetattr(p->master, &t) == 0)
                        eof = (char)t.c_cc[VEOF];
                (void)write(p->master, &eof, 1);
        }
}

static void stdin_flush(struct shim *s, struct shim_proc *p)
{
        int fd = p->tty ? p->master : p->in_w;
        if (fd < 0) {
                buf_reset(&p->in);
                return;
        }
        size_t off = 0;
        while (off < p->in.len) {
                ssize_t n = write(fd, p->in.data + off, p->in.len - off);
                if (n > 0) {
                        off += (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                /* the process closed its stdin: what it did not take is dropped */
                off = p->in.len;
                if (!p->tty) {
                        shim_unwatch(s, p->in_w);
                        close(p->in_w);
                        p->in_w = -1;
                }
                break;
        }
        memmove(p->in.data, p->in.data + off, p->in.len - off);
        p->in.len -= off;
        if (p->in.data)
                p->in.data[p->in.len] = '\0';
        if (!p->tty && p->in_w >= 0)
                shim_watch(s, p->in_w, TAG_IN, p, p->in.len ? (uint32_t)EPOLLOUT : 0);
        else if (p->tty && p->master >= 0)
                shim_watch(s, p->master, TAG_OUT, p,
                           (s->output_held ? 0 : (uint32_t)EPOLLIN) |
                               (p->in.len ? (uint32_t)EPOLLOUT : 0));
        if (!p->in.len && p->in_close_pending) {
                p->in_close_pending = false;
                proc_close_stdin(s, p);
        }
        for (struct shim_client *c = s->clients; c; c = c->next)
                if (c->proc == p)
                        client_update_events(s, c);
}

/* Client input through the detach-key filter; returns false on detach. */
static bool client_input(struct shim *s, struct shim_client *c, const unsigned char *d, size_t n)
{
        struct shim_proc *p = c->proc;
        for (size_t i = 0; i < n; i++) {
                if (c->n_keys && d[i] == c->keys[c->matched]) {
                        if (++c->matched == c->n_keys)
                                return false;
                        continue;
                }
                if (c->matched) {
                        /* not the keys after all: what was held back goes through */
                        buf_append(&p->in, c->keys, c->matched);
                        c->matched = 0;
                        if (c->n_keys && d[i] == c->keys[0]) {
                                c->matched = 1;
                                continue;
                        }
                }
                buf_append(&p->in, &d[i], 1);
        }
        stdin_flush(s, p);
        return true;
}

static void client_read(struct shim *s, struct shim_client *c)
{
        unsigned char buf[READ_CHUNK];
        for (;;) {
                ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n <= 0) {
                        /* EOF (or reset): the client has nothing more to say */
                        c->in_done = true;
                        if (n < 0) {
                                client_kill(s, c);
                                return;
                        }
                        if (c->in && c->proc && !c->proc->tty && c->proc->stdin_once)
                                proc_close_stdin(s, c->proc);
                        if (c->in && c->proc && c->proc->tty)
                                client_kill(s, c); /* a terminal session ends with its input */
                        else
                                client_update_events(s, c);
                        return;
                }
                if (!c->in || c->in_done || !c->proc || c->proc->exited)
                        continue; /* not attached to stdin: read and drop */
                if (!client_input(s, c, buf, (size_t)n)) {
                        client_kill(s, c); /* detached: the process goes on */
                        return;
                }
                if (c->proc->in.len > STDIN_HIGH_WATER) {
                        client_update_events(s, c);
                        return;
                }
        }
}

int shim_client_add(struct shim *s, struct shim_proc *p, int fd, bool in, bool out, bool err,
                    const char *detach_keys, const char *payload, size_t payload_len,
                    struct berth_error **err_out)
{
        struct shim_client *c = xcalloc(1, sizeof(*c));
        if (shim_parse_detach_keys(detach_keys, c->keys, sizeof(c->keys), &c->n_keys) < 0) {
                free(c);
                return berth_error_set(err_out, EINVAL, "invalid detach keys '%s'", detach_keys);
        }
        set_nonblock(fd);
        c->fd = fd;
        c->proc = p;
        c->in = in && (p->tty ? p->master >= 0 : p->in_w >= 0);
        c->out = out;
        c->err = err;
        c->framed = !p->tty;
        c->in_done = false; /* read even without stdin, to notice the client leaving */
        c->obuf = (struct berth_buf)BERTH_BUF_INIT;
        c->next = s->clients;
        s->clients = c;
        client_update_events(s, c);
        if (payload_len && c->in &&
            !client_input(s, c, (const unsigned char *)payload, payload_len)) {
                client_kill(s, c);
                return 0;
        }
        return 0;
}

/* ---- process output ---- */

static void close_output(struct shim *s, struct shim_proc *p, int *fdp)
{
        shim_unwatch(s, *fdp);
        close(*fdp);
        *fdp = -1;
}

static void proc_read(struct shim *s, struct shim_proc *p, int tag)
{
        int *fdp = tag == TAG_ERR ? &p->err_r : (p->tty ? &p->master : &p->out_r);
        int stream = tag == TAG_ERR ? STREAM_STDERR : STREAM_STDOUT;
        char buf[READ_CHUNK];
        for (int rounds = 0; rounds < 8 && *fdp >= 0 && !s->output_held; rounds++) {
                ssize_t n = read(*fdp, buf, sizeof(buf));
                if (n > 0) {
                        deliver(s, p, stream, buf, (size_t)n);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                /* EOF, or EIO from a master whose terminal nobody holds any more */
                close_output(s, p, fdp);
                return;
        }
}

void shim_proc_add(struct shim *s, struct shim_proc *p)
{
        p->in = (struct berth_buf)BERTH_BUF_INIT;
        if (p->master >= 0) {
                set_nonblock(p->master);
                shim_watch(s, p->master, TAG_OUT, p, EPOLLIN);
        }
        if (p->out_r >= 0) {
                set_nonblock(p->out_r);
                shim_watch(s, p->out_r, TAG_OUT, p, EPOLLIN);
        }
        if (p->err_r >= 0) {
                set_nonblock(p->err_r);
                shim_watch(s, p->err_r, TAG_ERR, p, EPOLLIN);
        }
        if (p->in_w >= 0) {
                set_nonblock(p->in_w);
                shim_watch(s, p->in_w, TAG_IN, p, 0);
        }
        /* the init first, execs after it */
        if (!s->procs || p->is_init) {
                p->next = s->procs;
                s->procs = p;
        } else {
                p->next = s->procs->next;
                s->procs->next = p;
        }
}

void shim_proc_resize(struct shim_proc *p, unsigned height, unsigned width)
{
        if (p->master < 0 || !height || !width)
                return;
        struct winsize ws = {.ws_row = (unsigned short)height, .ws_col = (unsigned short)width};
        (void)ioctl(p->master, TIOCSWINSZ, &ws);
}

struct shim_proc *shim_find_exec(struct shim *s, const char *exec_id)
{
        for (struct shim_proc *p = s->procs; p; p = p->next)
                if (p->exec_id && strcmp(p->exec_id, exec_id) == 0)
                        return p;
        return NULL;
}

static bool proc_outputs_open(const struct shim_proc *p)
{
        return p->master >= 0 || p->out_r >= 0 || p->err_r >= 0;
}

/* A finished exec: tell berthd its code, let its clients go, forget it. */
static void exec_finish(struct shim *s, struct shim_proc *p)
{
        if (p->reported || !p->exited || proc_outputs_open(p))
                return;
        p->reported = true;
        int code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
        if (p->ctl_fd >= 0) {
                char msg[64];
                int n = snprintf(msg, sizeof(msg), "{\"ExitCode\":%d}", code);
                (void)send(p->ctl_fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        for (struct shim_client *c = s->clients; c; c = c->next)
                if (c->proc == p) {
                        c->proc = NULL;
                        c->in_done = true;
                        /* flushed and closed by the sweep below once drained */
                }
        if (p->in_w >= 0) {
                shim_unwatch(s, p->in_w);
                close(p->in_w);
                p->in_w = -1;
        }
}

void shim_proc_exited(struct shim *s, pid_t pid, int status)
{
        for (struct shim_proc *p = s->procs; p; p = p->next) {
                if (p->pid != pid || p->exited)
                        continue;
                p->exited = true;
                p->status = status;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                p->exited_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                if (!p->is_init)
                        exec_finish(s, p);
                return;
        }
}

bool shim_init_done(const struct shim *s)
{
        const struct shim_proc *p = s->procs;
        return p && p->is_init && p->exited && !proc_outputs_open(p);
}

/* Clients whose process is gone and whose buffer drained are closed. */
void shim_clients_sweep(struct shim *s)
{
        for (struct shim_client **pc = &s->clients; *pc;) {
                struct shim_client *c = *pc;
                if (!c->dead && !c->proc && !client_pending(c))
                        client_kill(s, c);
                if (c->dead) {
                        *pc = c->next;
                        buf_release(&c->obuf);
                        free(c);
                        continue;
                }
                pc = &c->next;
        }
}

void shim_clients_finish(struct shim *s)
{
        for (struct shim_client *c = s->clients; c; c = c->next)
                c->proc = NULL;
        /* up to 2 s for the last bytes to reach slow clients */
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                bool pending = false;
                for (struct shim_client *c = s->clients; c; c = c->next) {
                        if (c->dead)
                                continue;
                        client_flush(s, c);
                        pending |= !c->dead && client_pending(c) > 0;
                }
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (!pending || now.tv_sec - start.tv_sec >= 2)
                        break;
                struct epoll_event ev[16];
                (void)epoll_wait(s->epfd, ev, 16, 50);
        }
        for (struct shim_client *c = s->clients; c; c = c->next)
                client_kill(s, c);
        shim_clients_sweep(s);
}

bool shim_io_event(struct shim *s, int tag, void *obj, uint32_t events)
{
        switch (tag) {
        case TAG_OUT: {
                struct shim_proc *p = obj;
                if (p->tty && (events & EPOLLOUT))
                        stdin_flush(s, p);
                if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                        proc_read(s, p, TAG_OUT);
                if (!p->is_init)
                        exec_finish(s, p);
                break;
        }
        case TAG_ERR: {
                struct shim_proc *p = obj;
                proc_read(s, p, TAG_ERR);
                if (!p->is_init)
                        exec_finish(s, p);
                break;
        }
        case TAG_IN:
                stdin_flush(s, obj);
                break;
        case TAG_CLIENT: {
                struct shim_client *c = obj;
                if (events & EPOLLOUT)
                        client_flush(s, c);
                if (!c->dead && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                        client_read(s, c);
                if (!c->dead && (events & (EPOLLHUP | EPOLLERR)))
                        client_kill(s, c);
                update_output_hold(s);
                break;
        }
        default:
                break;
        }
        shim_clients_sweep(s);
        return true;
}
