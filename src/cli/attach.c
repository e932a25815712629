/*
 * attach.c — hijacked container streams: detach keys, stdcopy frames, raw
 * terminal, signals and the poll loop that joins them (contract in attach.h).
 *
 * The loop watches at most five fds: the connection (output; and writable when
 * stdin bytes wait to be sent), stdin, the wait response and the signalfd.
 * Input is read only when nothing is pending for the connection, so one pending
 * buffer bounds what we hold; output goes to stdout/stderr with blocking writes
 * (a slow terminal slows the container down, as with docker).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "attach.h"
#include "base/fileio.h"
#include "base/json.h"

/* ---- detach keys ---- */

void attach_keys_default(struct attach_keys *k)
{
        k->keys[0] = 16; /* ctrl-p */
        k->keys[1] = 17; /* ctrl-q */
        k->n = 2;
}

/* moby/term's table: "ctrl-@" is 0, "ctrl-a" 1, … "ctrl-_" 31 (lower case only). */
static int ctrl_code(const char *key)
{
        static const char after[] = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
        if (strncmp(key, "ctrl-", 5) != 0 || !key[5] || key[6])
                return -1;
        const char *p = strchr(after, key[5]);
        return p ? (int)(p - after) : -1;
}

int attach_keys_parse(const char *spec, struct attach_keys *ret, struct berth_error **err)
{
        ret->n = 0;
        const char *p = spec;
        for (;;) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                _cleanup_free_ char *key = xstrndup(p, len);
                int code;
                if (len == 1)
                        code = (unsigned char)key[0];
                else if (strcmp(key, "DEL") == 0)
                        code = 127;
                else if ((code = ctrl_code(key)) < 0)
                        return berth_error_set(err, EINVAL, "Unknown character: '%s'", key);
                if (ret->n == ATTACH_MAX_KEYS)
                        return berth_error_set(err, EINVAL, "too many detach keys: '%s'", spec);
                ret->keys[ret->n++] = (uint8_t)code;
                if (!comma)
                        return 0;
                p = comma + 1;
        }
}

void attach_escape_filter(struct attach_escape *e, const char *in, size_t len,
                          struct berth_buf *out, bool *ret_detached)
{
        *ret_detached = false;
        for (size_t i = 0; i < len; i++) {
                uint8_t c = (uint8_t)in[i];
                if (e->k.n && c == e->k.keys[e->pos]) {
                        if (++e->pos == e->k.n) {
                                e->pos = 0;
                                *ret_detached = true;
                                return;
                        }
                        continue;
                }
                /* Not the sequence after all: what was held back goes out, and this
                 * byte is not tried as a new start (moby/term does the same). */
                if (e->pos)
                        buf_append(out, e->k.keys, e->pos);
                e->pos = 0;
                buf_putc(out, (char)c);
        }
}

/* ---- stdcopy ---- */

enum { STDCOPY_HEADER = 8 };

int stdcopy_feed(struct stdcopy *s, const char *data, size_t len, stdcopy_write_fn fn,
                 void *userdata, struct berth_error **err)
{
        while (len) {
                struct berth_buf *f = &s->frame;
                size_t want;
                if (f->len < STDCOPY_HEADER) {
                        want = STDCOPY_HEADER - f->len;
                } else {
                        const uint8_t *h = (const uint8_t *)f->data;
                        uint32_t size = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
                                        (uint32_t)h[6] << 8 | h[7];
                        want = STDCOPY_HEADER + (size_t)size - f->len;
                }
                size_t take = len < want ? len : want;
                buf_append(f, data, take);
                data += take;
                len -= take;
                if (f->len < STDCOPY_HEADER)
                        continue;
                uint8_t stream = (uint8_t)f->data[0];
                if (stream > 3)
                        return berth_error_set(err, EPROTO, "Unrecognized input header: %u",
                                               stream);
                const uint8_t *h = (const uint8_t *)f->data;
                size_t size = (size_t)((uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
                                       (uint32_t)h[6] << 8 | h[7]);
                if (f->len < STDCOPY_HEADER + size)
                        continue;
                if (stream == 3)
                        return berth_error_set(err, EPROTO, "error from daemon in stream: %.*s",
                                               (int)size, f->data + STDCOPY_HEADER);
                int r =
                    size ? fn(stream == 2 ? 2 : 1, f->data + STDCOPY_HEADER, size, userdata) : 0;
                f->len = 0;
                if (r < 0)
                        return berth_error_sys(err, -r, "write %s",
                                               stream == 2 ? "/dev/stderr" : "/dev/stdout");
        }
        return 0;
}

void stdcopy_release(struct stdcopy *s)
{
        buf_release(&s->frame);
}

/* ---- terminal ---- */

static struct {
        bool saved;
        int fd;
        struct termios state;
} term_saved;

int attach_term_raw(int fd)
{
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
                return -errno;
        if (!term_saved.saved) {
                term_saved.fd = fd;
                term_saved.state = t;
                term_saved.saved = true;
        }
        t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        t.c_oflag &= ~(tcflag_t)OPOST;
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
        t.c_cflag |= CS8;
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(fd, TCSANOW, &t) < 0)
                return -errno;
        return 0;
}

void attach_term_restore(void)
{
        if (!term_saved.saved)
                return;
        (void)tcsetattr(term_saved.fd, TCSANOW, &term_saved.state);
        term_saved.saved = false;
}

bool attach_term_size(int fd, unsigned *ret_rows, unsigned *ret_cols)
{
        struct winsize ws;
        if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
                return false;
        *ret_rows = ws.ws_row;
        *ret_cols = ws.ws_col;
        return true;
}

/* ---- signals ---- */

const char *attach_signal_name(int sig)
{
        static const char *const names[] = {
            [SIGHUP] = "HUP",   [SIGINT] = "INT",       [SIGQUIT] = "QUIT",
            [SIGILL] = "ILL",   [SIGTRAP] = "TRAP",     [SIGABRT] = "ABRT",
            [SIGBUS] = "BUS",   [SIGFPE] = "FPE",       [SIGUSR1] = "USR1",
            [SIGSEGV] = "SEGV", [SIGUSR2] = "USR2",     [SIGALRM] = "ALRM",
            [SIGTERM] = "TERM", [SIGSTKFLT] = "STKFLT", [SIGCONT] = "CONT",
            [SIGTSTP] = "TSTP", [SIGTTIN] = "TTIN",     [SIGTTOU] = "TTOU",
            [SIGXCPU] = "XCPU", [SIGXFSZ] = "XFSZ",     [SIGVTALRM] = "VTALRM",
            [SIGPROF] = "PROF", [SIGWINCH] = "WINCH",   [SIGIO] = "IO",
            [SIGPWR] = "PWR",   [SIGSYS] = "SYS",
        };
        /* moby/sys/signal numbers the real-time signals from 34 to 64 whatever libc says. */
        static const char *const rt[] = {
            "RTMIN",    "RTMIN+1",  "RTMIN+2",  "RTMIN+3",  "RTMIN+4",  "RTMIN+5",  "RTMIN+6",
            "RTMIN+7",  "RTMIN+8",  "RTMIN+9",  "RTMIN+10", "RTMIN+11", "RTMIN+12", "RTMIN+13",
            "RTMIN+14", "RTMIN+15", "RTMAX-14", "RTMAX-13", "RTMAX-12", "RTMAX-11", "RTMAX-10",
            "RTMAX-9",  "RTMAX-8",  "RTMAX-7",  "RTMAX-6",  "RTMAX-5",  "RTMAX-4",  "RTMAX-3",
            "RTMAX-2",  "RTMAX-1",  "RTMAX",
        };
        if (sig > 0 && (size_t)sig < ELEMENTSOF(names))
                return names[sig];
        if (sig >= 34 && sig <= 64)
                return rt[sig - 34];
        return NULL;
}

int attach_signals_open(bool proxy, bool winch, sigset_t *ret_old)
{
        sigset_t set;
        sigemptyset(&set);
        if (proxy) {
                for (int sig = 1; sig <= 64; sig++)
                        if (attach_signal_name(sig))
                                sigaddset(&set, sig);
        } else {
                sigaddset(&set, SIGINT);
                sigaddset(&set, SIGTERM);
                if (winch)
                        sigaddset(&set, SIGWINCH);
        }
        if (sigprocmask(SIG_BLOCK, &set, ret_old) < 0)
                return -errno;
        int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (fd < 0) {
                int r = -errno;
                sigprocmask(SIG_SETMASK, ret_old, NULL);
                return r;
        }
        return fd;
}

void attach_signals_close(int fd, const sigset_t *old)
{
        if (fd < 0)
                return;
        close(fd);
        /* Signals that came after the last read are dropped, not delivered late. */
        sigset_t pending;
        if (sigpending(&pending) == 0) {
                struct timespec zero = {0, 0};
                while (sigtimedwait(&pending, NULL, &zero) > 0)
                        ;
        }
        sigprocmask(SIG_SETMASK, old, NULL);
}

/* ---- wait body ---- */

void attach_wait_parse(const char *body, size_t len, int *ret_status, char **ret_error)
{
        *ret_status = 125;
        *ret_error = NULL;
        _cleanup_json_ struct json *j = NULL;
        if (json_parse(body, len, &j, NULL) < 0) {
                *ret_error = xstrdup("unexpected response from the daemon");
                return;
        }
        const struct json *e = json_get(j, "Error");
        const char *msg = json_str(json_get(e, "Message"));
        if (json_is(e, JSON_OBJECT)) {
                *ret_error = xstrdup(msg ? msg : "");
                return;
        }
        const struct json *code = json_get(j, "StatusCode");
        if (json_is(code, JSON_NUMBER))
                *ret_status = (int)code->num.i;
}

/* ---- the session ---- */

void attach_session_init(struct attach_session *s)
{
        memset(s, 0, sizeof(*s));
        s->conn = -EBADF;
        s->in_fd = s->out_fd = s->err_fd = -1;
        s->sigfd = -1;
        attach_keys_default(&s->detach_keys);
}

void attach_session_release(struct attach_session *s)
{
        attach_term_restore();
        if (s->conn >= 0)
                close(s->conn);
        s->conn = -EBADF;
        buf_release(&s->early);
        free(s->wait_error);
        s->wait_error = NULL;
}

struct loop {
        struct attach_session *s;
        struct stdcopy demux;
        struct attach_escape esc;
        struct berth_buf pending; /* stdin bytes not yet sent */
        size_t pending_off;
        bool in_open;   /* stdin still read */
        bool out_open;  /* the connection still delivers */
        bool wr_closed; /* half-closed */
        bool streams_done;
        struct berth_buf wait_body;
        int term_signals;
};

static int out_write(int stream, const char *data, size_t len, void *userdata)
{
        struct attach_session *s = userdata;
        int fd = stream == 2 ? s->err_fd : s->out_fd;
        if (fd < 0)
                return 0;
        return write_all(fd, data, len);
}

static int deliver(struct loop *l, const char *data, size_t len, struct berth_error **err)
{
        struct attach_session *s = l->s;
        if (!len)
                return 0;
        if (s->tty) {
                int r = s->out_fd >= 0 ? write_all(s->out_fd, data, len) : 0;
                return r < 0 ? berth_error_sys(err, -r, "write /dev/stdout") : 0;
        }
        return stdcopy_feed(&l->demux, data, len, out_write, s, err);
}

static void half_close(struct loop *l)
{
        if (l->wr_closed)
                return;
        (void)shutdown(l->s->conn, SHUT_WR);
        l->wr_closed = true;
}

static void input_ended(struct loop *l)
{
        l->in_open = false;
        if (l->s->tty)
                attach_term_restore();
        half_close(l);
}

/* The stream is over: with output attached when the output ends, else when stdin does. */
static bool streams_over(const struct loop *l)
{
        const struct attach_session *s = l->s;
        if (s->out_fd >= 0 || s->err_fd >= 0)
                return !l->out_open;
        return !l->in_open && l->pending.len == l->pending_off;
}

static int read_input(struct loop *l)
{
        struct attach_session *s = l->s;
        char piece[16384];
        ssize_t n = read(s->in_fd, piece, sizeof(piece));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (n <= 0) {
                input_ended(l);
                return 0;
        }
        if (s->tty) {
                bool detached = false;
                attach_escape_filter(&l->esc, piece, (size_t)n, &l->pending, &detached);
                if (detached)
                        s->detached = true;
        } else {
                buf_append(&l->pending, piece, (size_t)n);
        }
        return 0;
}

static int flush_pending(struct loop *l)
{
        while (l->pending_off < l->pending.len) {
                ssize_t n = write(l->s->conn, l->pending.data + l->pending_off,
                                  l->pending.len - l->pending_off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n < 0) {
                        /* The daemon is gone for our input: drop it, keep the output. */
                        l->pending.len = l->pending_off = 0;
                        l->in_open = false;
                        return 0;
                }
                l->pending_off += (size_t)n;
        }
        l->pending.len = l->pending_off = 0;
        return 0;
}

static int read_output(struct loop *l, struct berth_error **err)
{
        char piece[32768];
        ssize_t n = read(l->s->conn, piece, sizeof(piece));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (n <= 0) {
                l->out_open = false;
                if (l->s->tty)
                        attach_term_restore();
                return 0;
        }
        return deliver(l, piece, (size_t)n, err);
}

static void read_wait(struct loop *l)
{
        struct attach_session *s = l->s;
        struct berth_error *e = NULL;
        for (;;) {
                char piece[4096];
                ssize_t n = cli_stream_read(s->wait, piece, sizeof(piece), &e);
                if (n == -EAGAIN)
                        return;
                if (n > 0) {
                        buf_append(&l->wait_body, piece, (size_t)n);
                        if (!cli_stream_ready(s->wait))
                                return;
                        continue;
                }
                s->wait_done = true;
                if (n < 0) {
                        s->wait_status = 125;
                        s->wait_error =
                            xasprintf("error waiting for container: %s", berth_error_msg(e));
                        berth_error_free(e);
                } else {
                        attach_wait_parse(l->wait_body.data ? l->wait_body.data : "",
                                          l->wait_body.len, &s->wait_status, &s->wait_error);
                }
                return;
        }
}

static void read_signals(struct loop *l)
{
        struct attach_session *s = l->s;
        struct signalfd_siginfo si;
        while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                int sig = (int)si.ssi_signo;
                if ((sig == SIGINT || sig == SIGTERM) && ++l->term_signals >= 3) {
                        s->forced_exit = true;
                        return;
                }
                if (s->on_signal)
                        s->on_signal(sig, s->userdata);
                /* moby/term: an interrupt while the terminal is raw restores it and quits */
                if (sig == SIGINT && term_saved.saved) {
                        s->interrupted = true;
                        return;
                }
        }
}

static bool finished(const struct loop *l)
{
        const struct attach_session *s = l->s;
        if (s->detached || s->forced_exit || s->interrupted)
                return true;
        if (!l->streams_done)
                return false;
        return !s->wait || s->wait_done;
}

int attach_session_run(struct attach_session *s, struct berth_error **err)
{
        struct loop l = {.s = s, .in_open = s->in_fd >= 0, .out_open = true};
        l.esc.k = s->detach_keys;
        int r = 0;
        int fl = -1;
        if (s->conn < 0) {
                /* no streams (any more): only the wait response and the signals */
                l.in_open = l.out_open = false;
                l.wr_closed = l.streams_done = true;
        } else {
                fl = fcntl(s->conn, F_GETFL);
                if (fl >= 0)
                        (void)fcntl(s->conn, F_SETFL, fl | O_NONBLOCK);
                if (s->tty && s->in_fd >= 0 && isatty(s->in_fd) && !getenv("NORAW"))
                        (void)attach_term_raw(s->in_fd);
                if (s->in_fd < 0)
                        half_close(&l); /* docker closes its write side at once */
                r = deliver(&l, s->early.data, s->early.len, err);
                s->early.len = 0;
        }

        while (r == 0 && !finished(&l)) {
                if (s->wait && !s->wait_done && cli_stream_ready(s->wait)) {
                        read_wait(&l);
                        continue;
                }
                struct pollfd p[4];
                int n = 0, i_conn = -1, i_in = -1, i_wait = -1, i_sig = -1;
                bool want_out = l.pending_off < l.pending.len;
                if (!l.streams_done && (l.out_open || want_out)) {
                        p[n] = (struct pollfd){s->conn, (l.out_open ? POLLIN : 0) |
                                                            (want_out ? POLLOUT : 0)};
                        i_conn = n++;
                }
                if (!l.streams_done && l.in_open && !want_out) {
                        p[n] = (struct pollfd){s->in_fd, POLLIN, 0};
                        i_in = n++;
                }
                if (s->wait && !s->wait_done) {
                        p[n] = (struct pollfd){cli_stream_fd(s->wait), POLLIN, 0};
                        i_wait = n++;
                }
                if (s->sigfd >= 0) {
                        p[n] = (struct pollfd){s->sigfd, POLLIN, 0};
                        i_sig = n++;
                }
                if (n == 0)
                        break;
                if (poll(p, (nfds_t)n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = berth_error_sys(err, errno, "poll");
                        break;
                }
                if (i_sig >= 0 && p[i_sig].revents)
                        read_signals(&l);
                if (i_wait >= 0 && p[i_wait].revents)
                        read_wait(&l);
                if (i_conn >= 0 && (p[i_conn].revents & POLLOUT))
                        r = flush_pending(&l);
                if (r == 0 && i_conn >= 0 && (p[i_conn].revents & (POLLIN | POLLHUP | POLLERR)))
                        r = read_output(&l, err);
                if (r == 0 && i_in >= 0 && p[i_in].revents)
                        r = read_input(&l);
                if (r == 0 && l.pending_off < l.pending.len)
                        r = flush_pending(&l);
                if (r == 0 && !l.in_open && l.pending_off == l.pending.len)
                        half_close(&l);
                if (!l.streams_done && streams_over(&l))
                        l.streams_done = true;
                /* run: with no output attached, the exit ends the streams */
                if (s->stop_when_exited && s->wait_done && s->out_fd < 0 && s->err_fd < 0)
                        l.streams_done = true;
        }
        if (s->detached && l.pending_off < l.pending.len) {
                /* What was typed before the detach keys still goes (docker's copy writes it). */
                if (fl >= 0)
                        (void)fcntl(s->conn, F_SETFL, fl);
                (void)write_all(s->conn, l.pending.data + l.pending_off,
                                l.pending.len - l.pending_off);
        }
        attach_term_restore();
        stdcopy_release(&l.demux);
        buf_release(&l.pending);
        buf_release(&l.wait_body);
        return r;
}
