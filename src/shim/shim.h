/*
 * shim.h — berth-shim's own parts (not an interface for anyone else: berthd
 * sees only protocol.h).
 *
 * The monitor is one thread around one epoll set.  What it watches:
 *   - a signalfd (SIGCHLD: reap the init and exec processes),
 *   - the control socket and its connections (requests from berthd),
 *   - each process's output (pty master, or stdout/stderr pipes), written to
 *     the log (the init's only) and to the clients attached to that process,
 *   - each process's stdin (pty master or pipe), fed from its clients,
 *   - the clients (attach and exec streams handed over by berthd).
 * Everything is non-blocking; a client that reads too slowly holds back the
 * process's output (as docker's attach does), never the monitor.
 */
#ifndef BERTH_SHIM_SHIM_H
#define BERTH_SHIM_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/error.h"

/* ---- the json-file log (shim-log.c) ---- */

struct shim_log;
/* driver "json-file" or "local" (rotated files gzip'd when compress); "none": NULL log.
 * attrs: a JSON object's text every entry carries as "attrs" (--log-opt labels/env), or
 * NULL. */
int shim_log_open(const char *path, uint64_t max_size, unsigned max_file, bool compress,
                  const char *attrs, struct shim_log **ret, struct berth_error **err);
/* One stream's bytes; complete lines become entries, a partial line waits
 * (up to 16 KiB, then it is written as docker does, without its newline). */
void shim_log_write(struct shim_log *l, int stream, const char *data, size_t len);
/* What is left of partial lines goes out.  No fsync: as docker's json-file
 * logger, the log is as durable as the page cache (a --rm container's log is
 * deleted a moment later anyway). */
void shim_log_flush(struct shim_log *l);
void shim_log_close(struct shim_log *l);

/* ---- processes and clients (shim-io.c) ---- */

enum { STREAM_STDIN = 0, STREAM_STDOUT = 1, STREAM_STDERR = 2 };

struct shim_client;

struct shim_proc {
        struct shim_proc *next;
        pid_t pid;
        bool is_init;
        bool tty;
        bool stdin_once;
        int master;            /* tty: pty master (stdin and output), else -1 */
        int in_w;              /* no tty: write end of the stdin pipe, or -1 */
        int out_r, err_r;      /* no tty: read ends of stdout and stderr */
        struct berth_buf in;   /* stdin bytes not yet taken by the process */
        bool in_close_pending; /* close stdin once `in` is written */
        bool exited;
        int status;        /* waitpid status */
        int64_t exited_ns; /* CLOCK_REALTIME */
        char *exec_id;     /* exec: its id; NULL for the init */
        int ctl_fd;        /* exec: berthd's connection, told the exit code */
        bool reported;
};

struct shim {
        const char *run_dir;
        char *id, *bundle, *runtime_root;
        char *seccomp_cache; /* NULL: none */
        bool tty, open_stdin, stdin_once;
        unsigned height, width;
        struct shim_log *log;
        int epfd, sigfd, listen_fd, timer_fd;
        struct shim_proc *procs; /* the init first */
        struct shim_client *clients;
        bool finishing;
        bool output_held; /* a client's buffer is full: process output paused */
};

/* Register an fd (tagged) in the epoll set; events EPOLLIN/EPOLLOUT. */
void shim_watch(struct shim *s, int fd, int tag, void *obj, uint32_t events);
void shim_unwatch(struct shim *s, int fd);

/* A process whose stdio is ready (fds set); starts watching its output. */
void shim_proc_add(struct shim *s, struct shim_proc *p);
/* A client stream for a process; payload: stdin bytes it already sent. */
int shim_client_add(struct shim *s, struct shim_proc *p, int fd, bool in, bool out, bool err,
                    const char *detach_keys, const char *payload, size_t payload_len,
                    struct berth_error **err_out);
/* Resize a process's terminal. */
void shim_proc_resize(struct shim_proc *p, unsigned height, unsigned width);
/* Dispatch one epoll event (tags below); returns false when the monitor may exit. */
bool shim_io_event(struct shim *s, int tag, void *obj, uint32_t events);
/* The exit of pid (from waitpid). */
void shim_proc_exited(struct shim *s, pid_t pid, int status);
/* Every output of the init drained (or given up on) and the init gone. */
bool shim_init_done(const struct shim *s);
/* Close the clients whose process ended and whose output went out. */
void shim_clients_sweep(struct shim *s);
/* Last words to every client (bounded in time), then close them. */
void shim_clients_finish(struct shim *s);
struct shim_proc *shim_find_exec(struct shim *s, const char *exec_id);

enum shim_tag {
        TAG_SIGNAL = 1,
        TAG_LISTEN,
        TAG_CONN,
        TAG_OUT,    /* obj: proc; stdout (or master) */
        TAG_ERR,    /* obj: proc; stderr pipe */
        TAG_IN,     /* obj: proc; stdin pipe writable */
        TAG_CLIENT, /* obj: client */
        TAG_TIMER,
};

/* Control requests (shim.c). */
void shim_conn_request(struct shim *s, int fd);

/* "ctrl-p,ctrl-q" → bytes; -EINVAL on docker's grammar errors. */
int shim_parse_detach_keys(const char *spec, unsigned char *out, size_t max, size_t *ret_n);

/* Compress a rotated log file into to (a helper process; the monitor goes on):
 * a pidfd of the helper (readable once it ended), or -1. */
int shim_compress_async(const char *from, const char *to);

/* Monitor's own log line (run dir's shim.log), never stdout. */
_printf_(1, 2) void shim_warn(const char *fmt, ...);

#endif
