/*
 * attach.h — the CLI side of a container's standard streams, as docker's CLI
 * drives them for run, start -a, attach and exec (its hijackedIOStreamer).
 *
 * A hijacked connection (client.h: cli_client_hijack) carries stdin one way and
 * stdout/stderr the other: raw bytes with a TTY, docker's 8-byte frames
 * ([stream, 0, 0, 0, size32 big-endian] + payload) without one.  The session
 * below copies stdin to the connection and the connection to stdout/stderr in
 * one poll loop (the connection is non-blocking and stdin is read only when
 * what was read before has been sent, so a container that does not read its
 * stdin never stops its output), and meanwhile serves the other things docker's
 * CLI does in goroutines: the wait response (exit status), and signals (proxied
 * to the container, SIGWINCH → resize).
 *
 * docker's rules, kept here:
 *  - stdin EOF half-closes the connection (shutdown SHUT_WR) and nothing else;
 *  - with a TTY, stdin goes raw (unless $NORAW is set) and the detach keys
 *    (default ctrl-p,ctrl-q; grammar of moby/term ToBytes: "ctrl-<c>", single
 *    characters and "DEL", comma separated) end the session without sending
 *    them; a partial match is held back and sent when the next byte does not
 *    continue it;
 *  - the stream ends when the output ends (or, with no output attached, when
 *    stdin does); the terminal is restored then and on every other way out;
 *  - non-TTY output is demultiplexed as docker's stdcopy.StdCopy: a frame is
 *    written whole once complete (stream 0 and 1 to stdout, 2 to stderr), a
 *    frame of stream 3 is the daemon's error ("error from daemon in stream:
 *    …"), any other stream byte is "Unrecognized input header: N", and a frame
 *    cut short by EOF is dropped;
 *  - three SIGINT/SIGTERM end it whatever else happens ("got 3 SIGTERM/SIGINTs,
 *    forcefully exiting").
 *
 * Never: leave the terminal raw on a way out, write a detach key to the
 * container, or block on a write to the daemon.
 */
#ifndef BERTH_CLI_ATTACH_H
#define BERTH_CLI_ATTACH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "client.h"

/* ---- detach keys ---- */

#define ATTACH_MAX_KEYS 64

struct attach_keys {
        uint8_t keys[ATTACH_MAX_KEYS];
        size_t n;
};

/* docker's default: ctrl-p,ctrl-q. */
void attach_keys_default(struct attach_keys *k);
/* moby/term ToBytes; the error reads "Unknown character: 'x'". */
int attach_keys_parse(const char *spec, struct attach_keys *ret, struct berth_error **err);

/* The detach-key filter of stdin (moby/term's escapeProxy). */
struct attach_escape {
        struct attach_keys k;
        size_t pos; /* keys matched so far */
};
/* Append to out what may go to the container; *ret_detached when the keys are complete
 * (out then holds the bytes typed before them). */
void attach_escape_filter(struct attach_escape *e, const char *in, size_t len,
                          struct berth_buf *out, bool *ret_detached);

/* ---- docker's stdcopy demultiplexer ---- */

struct stdcopy {
        struct berth_buf frame; /* header + payload of the frame being received */
};
/* Called with each complete frame's payload: stream 1 (stdout, also for 0) or 2. */
typedef int (*stdcopy_write_fn)(int stream, const char *data, size_t len, void *userdata);
int stdcopy_feed(struct stdcopy *s, const char *data, size_t len, stdcopy_write_fn fn,
                 void *userdata, struct berth_error **err);
void stdcopy_release(struct stdcopy *s);

/* ---- terminal ---- */

/* Raw mode on fd as moby/term MakeRaw; the first saved state is restored by
 * attach_term_restore (idempotent, also safe from an atexit handler). */
int attach_term_raw(int fd);
void attach_term_restore(void);
/* The window size of fd (rows, columns); false when fd is no terminal. */
bool attach_term_size(int fd, unsigned *ret_rows, unsigned *ret_cols);

/* ---- signals ---- */

/* docker's name for a signal ("INT", "RTMIN+3"), NULL for one it does not forward. */
const char *attach_signal_name(int sig);
/*
 * Block and return a signalfd for the signals docker's CLI catches: with proxy, every
 * one it forwards (all but KILL, STOP, CHLD, PIPE, URG); without, INT and TERM (and
 * WINCH when winch).  *ret_old gets the previous mask for attach_signals_close.
 */
int attach_signals_open(bool proxy, bool winch, sigset_t *ret_old);
void attach_signals_close(int fd, const sigset_t *old);

/* ---- the session ---- */

struct attach_session {
        /* The hijacked connection and what came with the 101. */
        int conn;
        struct berth_buf early;
        bool tty;
        int in_fd;                      /* stdin, or -1 when not attached */
        int out_fd;                     /* stdout, or -1 when not attached */
        int err_fd;                     /* stderr (stdout with a TTY), or -1 when not attached */
        struct attach_keys detach_keys; /* used with a TTY and stdin */
        /* The wait response (status in wait_status when it ends), or NULL. */
        struct cli_stream *wait;
        /* run: the exit status ends the streams when no output is attached */
        bool stop_when_exited;
        int sigfd; /* attach_signals_open(), or -1 */
        /* Called for each signal read from sigfd (not for the 3rd INT/TERM). */
        void (*on_signal)(int sig, void *userdata);
        void *userdata;

        /* Results. */
        bool detached;
        bool wait_done;
        int wait_status;  /* the container's status, 125 when wait failed */
        char *wait_error; /* wait's {"Error":{"Message"}} or failure, NULL when none */
        bool forced_exit; /* three INT/TERM: the caller exits 1 */
        bool interrupted; /* SIGINT while raw: the caller prints "\n" and exits 1 */
};

void attach_session_init(struct attach_session *s);
void attach_session_release(struct attach_session *s);
/*
 * Run until the streams end (or the detach keys, or a stream error) and, when
 * s->wait is set, its response has come.  Returns 0, or <0 with the message docker
 * prints for a stream error ("error from daemon in stream: …").
 */
int attach_session_run(struct attach_session *s, struct berth_error **err);

/* Parse a wait response body ({"Error":…,"StatusCode":N}) into status / error. */
void attach_wait_parse(const char *body, size_t len, int *ret_status, char **ret_error);

#endif
