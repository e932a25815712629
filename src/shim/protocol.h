/*
 * protocol.h — the whole contract between berthd and berth-shim, the
 * per-container monitor.  berthd (src/engine/container*.c) and berth-shim
 * (src/shim/) include this header and nothing else of each other.
 *
 * One shim per running container.  berthd writes the shim's orders into the
 * container's run directory and runs `berth-shim <run-dir>`:
 *
 *   <run-dir>/shim.json   written by berthd first (SHIM_CONFIG): what to run
 *                         and how (ids, bundle, runtime root, terminal, stdin,
 *                         log driver and options, initial console size)
 *   <run-dir>/shim.pid    "<pid> <start-time>\n" of the monitor (start time in
 *                         clock ticks since boot, field 22 of /proc/<pid>/stat,
 *                         so a reused pid is never mistaken for the shim)
 *   <run-dir>/init.pid    "<pid>\n" of the container's init
 *   <run-dir>/shim.sock   the control socket (SOCK_SEQPACKET, mode 0600)
 *   <run-dir>/exit        written once the container is gone (SHIM_EXIT):
 *                         {"ExitCode":N,"Signal":S,
 *                          "FinishedAt":"<RFC 3339 nano>","Error":"…"}
 *                         (monitors before 2026-12-07 also wrote "OOMKilled":b
 *                         and had deleted the runtime container already)
 *
 * Launch.  The process berthd runs daemonizes: it forks the monitor (new
 * session, child subreaper), which creates the container (stdio wired to
 * pipes or a pty it keeps, log file opened), binds shim.sock, writes shim.pid
 * and init.pid, and reports back.  The launcher then prints one line on its
 * stdout and exits: "ok <monitor-pid> <init-pid>\n" (status 0) or
 * "error <message>\n" (status 1; nothing is left behind).  So berthd waits
 * for a short-lived child and never becomes the monitor's parent: the
 * container keeps running whatever happens to berthd.  The container is
 * created, not started: berthd hands over the attach streams it holds, then
 * says "start" (attach-before-start, as `docker run` needs).
 *
 * Control messages.  Each request is one SEQPACKET message: a JSON object,
 * optionally followed by "\n" and raw payload bytes, optionally carrying one
 * file descriptor (SCM_RIGHTS).  Each gets exactly one JSON answer, {} or
 * {"Error":"…"} (plus fields named below).  Operations ("Op"):
 *
 *   "start"   run the container's process; answer {"Pid":N} or an Error that
 *             names why the process could not be started (the same words as
 *             the runtime's: "…: executable file not found in $PATH", …)
 *   "attach"  {"Stdin":b,"Stdout":b,"Stderr":b,"DetachKeys":"ctrl-p,ctrl-q"}
 *             with the client's socket as the fd (the HTTP exchange is over:
 *             raw stream from here) and, as payload, stdin bytes the client
 *             already sent.  Output goes to it as docker frames it: raw with
 *             a terminal, else 8-byte multiplexed headers
 *             [stream,0,0,0,len32be] (1 stdout, 2 stderr).  The shim closes
 *             it when the container ends, or on the detach keys.  Without a
 *             terminal and with StdinOnce, the client's EOF closes the
 *             container's stdin.
 *   "resize"  {"Height":h,"Width":w}: the container's terminal
 *   "exec"    {"ExecID":"…","Args":[…],"Env":[…],"Cwd":"…","User":"…",
 *              "Tty":b,"Privileged":b,"Stdin":b,"Stdout":b,"Stderr":b,
 *              "DetachKeys":"…","Height":h,"Width":w} with the client's
 *             socket as the fd (none for a detached exec).  Answer
 *             {"Pid":N} once the process runs (or an Error); later, on the
 *             same connection, {"ExitCode":N} when it ends.  berthd keeps
 *             that connection open for as long as it wants the exit code.
 *   "exec-resize" {"ExecID":"…","Height":h,"Width":w}
 *
 * Signals, pause, stats and top do not go through the shim: berthd uses the
 * runtime library on the runtime root directly (they need no fork).
 *
 * Exit.  When the container's init ends, the shim reads what is left of its
 * output (bounded in time), writes the log, writes <run-dir>/exit atomically,
 * closes every stream and exits 0.  berthd watches the monitor's pidfd: when
 * it is readable the exit file is final, and berthd deletes the runtime
 * container (cgroups, state) in-process, reading its OOM kill count first: no
 * helper is run for it (0.8 ms of every container's end here).  One that ends
 * while berthd is down keeps its emptied cgroups until berthd is back.  A monitor that dies without writing it
 * was killed: berthd then kills what is left of the container and records
 * the exit as SHIM_KILLED_EXIT_CODE with an Error saying so.
 *
 * Never: make the shim depend on berthd being alive; let the shim block on
 * one client (every client socket is non-blocking with a bounded buffer).
 */
#ifndef BERTH_SHIM_PROTOCOL_H
#define BERTH_SHIM_PROTOCOL_H

#include <errno.h>

#define SHIM_CONFIG  "shim.json"
#define SHIM_PIDFILE "shim.pid"
#define SHIM_INITPID "init.pid"
#define SHIM_SOCKET  "shim.sock"
#define SHIM_EXIT    "exit"
#define SHIM_BINARY  "berth-shim"
#define SHIM_HELPER  "berth-shim-helper" /* the runtime work, beside berth-shim */
#define SHIM_LOGFILE "shim.log"          /* the monitor's own warnings, in the run dir */

/*
 * The same work built against musl without libseccomp and zlib, where musl-gcc
 * is: a static glibc program spends most of a millisecond starting on a VM
 * (its CPUID probes of the caches trap), a musl one a tenth of that.  It
 * takes seccomp programs from the cache only; what it cannot do (a profile
 * not compiled yet, gzip) it answers {"Error": …, "Full": true} with nothing
 * done, and the monitor asks SHIM_HELPER.
 */
#define SHIM_HELPER_LITE       "berth-shim-helper-lite"
#define SHIM_HELPER_NEEDS_FULL ENOPKG /* = BERTH_SECCOMP_ENOCOMPILER */

/* Largest control message (JSON + payload). */
#define SHIM_MSG_MAX (256 * 1024)

/* Exit code recorded when the monitor vanished without an exit record. */
#define SHIM_KILLED_EXIT_CODE 137

/* shim.json keys (all strings unless noted):
 *   "ID"           container id (the runtime's id too)
 *   "Bundle"       directory holding config.json
 *   "RuntimeRoot"  the runtime library's state root
 *   "SeccompCache" (optional) directory of compiled seccomp filters, reused
 *                  by every create and exec (runtime/seccomp.h)
 *   "Tty" (bool), "OpenStdin" (bool), "StdinOnce" (bool)
 *   "Height", "Width" (numbers, optional): initial terminal size
 *   "LogDriver"    "json-file", "local" or "none"
 *   "LogPath"      file the log is written to
 *   "LogMaxSize" (number, bytes; 0 = unlimited), "LogMaxFile" (number >= 1),
 *   "LogCompress" (bool): gzip rotated files ("local")
 *   "LogAttrs"     (string, optional): a JSON object's text each json-file entry carries
 *                  as "attrs" (--log-opt labels, labels-regex, env, env-regex)
 */

#endif
