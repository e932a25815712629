/*
 * containers.h — containers as the engine keeps them: records in berth.db,
 * a table in memory, and their lives through berth-shim (src/shim/protocol.h).
 *
 * A container is created as a record only (docker's create); start mounts its
 * root filesystem (the image's layers under an upper dir of its own,
 * image/snapshot.h), writes the OCI bundle (container-spec.c), and runs a
 * berth-shim that creates the runtime container, takes over the attach
 * streams berthd holds, and starts the process.  From then on the shim owns
 * the container's process and stdio: berthd may be killed and restarted and
 * the container runs on (live restore: at start berthd finds every shim again
 * by its pid file and watches it through a pidfd).  A shim ends when its
 * container does; its exit record is then read, the root filesystem
 * unmounted, waiters woken, and the restart policy or --rm applied.
 *
 * Threads: API workers call in; one monitor thread watches the shims' pidfds
 * and timers (restart back-off, exec exit codes).  The table and every
 * container's state are under one lock (never held across I/O that can
 * block for long); each container also has an operation lock serialising
 * start/stop/kill/remove on it, as dockerd does.
 *
 * Errors map to Docker's status codes by errno: -ENOENT 404, -EEXIST and
 * -EBUSY 409, -EINVAL 400, -EALREADY 304 (already started / stopped),
 * anything else 500.
 *
 * Never: let berthd be the parent of a container process; leave a mount, a
 * run dir or a half-made record behind a failed operation; block the monitor
 * thread on a client.
 */
#ifndef BERTH_ENGINE_CONTAINERS_H
#define BERTH_ENGINE_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"
#include "engine.h"

struct berth_ctr;

/* Load every record, find the shims of running containers again, mark the
 * ones whose shim is gone as exited, apply restart policies, and start the
 * monitor thread.  Sets e->containers. */
int berth_containers_open(struct berth_engine *e, struct berth_error **err);
/* Stops the monitor thread (containers keep running). */
void berth_containers_close(struct berth_engine *e);

/* By full id, unique id prefix, or name (with or without '/'); a reference the
 * caller drops with berth_ctr_unref().  -ENOENT "No such container: <ref>". */
int berth_ctr_get(struct berth_engine *e, const char *ref, struct berth_ctr **ret,
                  struct berth_error **err);
void berth_ctr_unref(struct berth_ctr *c);
static inline void berth_ctr_unrefp(struct berth_ctr **c)
{
        berth_ctr_unref(*c);
}
#define _cleanup_ctr_ _cleanup_(berth_ctr_unrefp)
const char *berth_ctr_id(const struct berth_ctr *c);
const char *berth_ctr_name(const struct berth_ctr *c); /* "/name" */
bool berth_ctr_tty(struct berth_ctr *c);

/*
 * POST /containers/create: body is Docker's Config with HostConfig and
 * NetworkingConfig inside.  name may be NULL (a generated one).
 * *ret_warnings: NULL-terminated, maybe empty.
 */
int berth_ctr_create(struct berth_engine *e, const char *name, const struct json *body,
                     const char *platform, char **ret_id, char ***ret_warnings,
                     struct berth_error **err);

/* -EALREADY when running. */
int berth_ctr_start(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err);
/* timeout < 0: the container's StopTimeout (10 s default); signal NULL: its
 * StopSignal (SIGTERM).  -EALREADY when not running. */
int berth_ctr_stop(struct berth_engine *e, struct berth_ctr *c, int timeout, const char *signal,
                   struct berth_error **err);
int berth_ctr_restart(struct berth_engine *e, struct berth_ctr *c, int timeout,
                      struct berth_error **err);
/* signal NULL: SIGKILL, which returns once the container has exited (as dockerd).
 * -EBUSY (409) when not running, -EINVAL for a bad signal. */
int berth_ctr_kill(struct berth_engine *e, struct berth_ctr *c, const char *signal,
                   struct berth_error **err);
int berth_ctr_pause(struct berth_engine *e, struct berth_ctr *c, bool pause,
                    struct berth_error **err);
/* POST /containers/{id}/update: docker's UpdateConfig (resources, RestartPolicy); applied to
 * the cgroup when running, then recorded.  -EBUSY (409) for dockerd's conflicts. */
int berth_ctr_update(struct berth_engine *e, struct berth_ctr *c, const struct json *body,
                     struct berth_error **err);
int berth_ctr_rename(struct berth_engine *e, struct berth_ctr *c, const char *name,
                     struct berth_error **err);
/* -EBUSY unless force when running; force kills first. */
int berth_ctr_remove(struct berth_engine *e, struct berth_ctr *c, bool force, bool volumes,
                     struct berth_error **err);

enum berth_wait_condition {
        BERTH_WAIT_NOT_RUNNING,
        BERTH_WAIT_NEXT_EXIT,
        BERTH_WAIT_REMOVED,
};
/* Blocks until the condition holds; gone(arg) is asked every second (the
 * client left: -ECANCELED).  *ret_error: the exit's error text or NULL. */
int berth_ctr_wait(struct berth_engine *e, struct berth_ctr *c, enum berth_wait_condition cond,
                   bool (*gone)(void *arg), void *arg, int *ret_code, char **ret_error,
                   struct berth_error **err);

/* A hijacked client stream (fd taken, past the HTTP upgrade).  Before start it
 * waits in the container and is handed to the shim at start; on a running
 * container it goes to the shim now.  payload: stdin bytes already read. */
struct berth_attach_opts {
        bool in, out, err;
        bool logs;               /* replay the log first (attach?logs=1) */
        const char *detach_keys; /* NULL: the daemon's default (ctrl-p,ctrl-q) */
        const char *payload;
        size_t payload_len;
};
int berth_ctr_attach(struct berth_engine *e, struct berth_ctr *c, int fd,
                     const struct berth_attach_opts *o, struct berth_error **err);
int berth_ctr_resize(struct berth_engine *e, struct berth_ctr *c, unsigned height, unsigned width,
                     struct berth_error **err);

/* GET /containers/{id}/json (size: SizeRw and SizeRootFs). */
struct json *berth_ctr_inspect(struct berth_engine *e, struct berth_ctr *c, bool size);
/* docker's health filter value: "starting", "healthy", "unhealthy", or "none" without a
 * health check (the status stays after a stop, as dockerd's). */
char *berth_ctr_health(struct berth_engine *e, struct berth_ctr *c);

/* GET /containers/json: each container's summary, newest first; the caller
 * filters.  all: stopped ones too. */
struct json *berth_ctr_list(struct berth_engine *e, bool all, bool size);
/* Ids of every container (for prune and filters), newest first. */
char **berth_ctr_ids(struct berth_engine *e);
/* How many containers use this image (DELETE /images answers 409); *ret_id (optional)
 * one of them, a running one when there is, *ret_running whether any runs. */
int berth_ctr_image_user(struct berth_engine *e, const char *image_id, char **ret_id,
                         bool *ret_running);
/* Ids of the containers whose mounts name this volume (running_only: those running, paused
 * or restarting), NULL-terminated, never NULL. */
char **berth_ctr_volume_users(struct berth_engine *e, const char *volume, bool running_only);

/* Counts for /info. */
void berth_ctr_counts(struct berth_engine *e, int *ret_total, int *ret_running, int *ret_paused,
                      int *ret_stopped);

/* ---- logs (container-logs.c) ---- */

struct berth_logs_opts {
        bool out, err, follow, timestamps, details;
        int64_t since_ns, until_ns; /* 0: unbounded */
        int64_t tail;               /* < 0: all */
};
/* Calls write for each entry, framed as docker does (8-byte headers unless the
 * container has a terminal); follows until the container stops when asked. */
typedef int (*berth_logs_write_fn)(void *arg, const void *data, size_t len);
/* -ENOTSUP with docker's words when the container's log driver keeps nothing to read. */
int berth_ctr_logs_check(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err);
int berth_ctr_logs(struct berth_engine *e, struct berth_ctr *c, const struct berth_logs_opts *o,
                   berth_logs_write_fn write, bool (*gone)(void *arg), void *arg,
                   struct berth_error **err);

/* ---- exec (container-exec.c) ---- */

/* POST /containers/{id}/exec: an exec record (not yet running). */
int berth_exec_create(struct berth_engine *e, struct berth_ctr *c, const struct json *body,
                      char **ret_id, struct berth_error **err);
/* POST /exec/{id}/start: fd the hijacked stream or -1 (Detach). */
int berth_exec_start(struct berth_engine *e, const char *exec_id, int fd, bool detach, bool tty,
                     const char *payload, size_t payload_len, struct berth_error **err);
int berth_exec_resize(struct berth_engine *e, const char *exec_id, unsigned height, unsigned width,
                      struct berth_error **err);
/* GET /exec/{id}/json; NULL and -ENOENT when unknown. */
int berth_exec_inspect(struct berth_engine *e, const char *exec_id, struct json **ret,
                       struct berth_error **err);

/* ---- stats and top (container-stats.c) ---- */

/* One docker stats document (API 1.41 shape), preread: the previous one's
 * cpu figures, or NULL. */
int berth_ctr_stats(struct berth_engine *e, struct berth_ctr *c, const struct json *previous,
                    struct json **ret, struct berth_error **err);
/* `docker top`: ps_args as docker takes them; Titles and Processes. */
int berth_ctr_top(struct berth_engine *e, struct berth_ctr *c, const char *ps_args,
                  struct json **ret, struct berth_error **err);

/* ---- files in and out (container-archive.c, container-changes.c) ---- */

/* docker's ContainerPathStat (the X-Docker-Container-Path-Stat header). */
struct berth_path_stat {
        char *name;        /* filepath.Base of the cleaned path */
        int64_t size;      /* lstat's */
        uint32_t mode;     /* Go's os.FileMode bits */
        int64_t mtime_ns;  /* since the epoch */
        char *link_target; /* a symlink: what it resolves to in the container; else "" */
};
void berth_path_stat_release(struct berth_path_stat *st);

/*
 * Every path is the request's, resolved inside the container's root by fd
 * (openat2 RESOLVE_IN_ROOT) with the container's operation lock held: of a
 * running container in its own mount namespace (/proc/<pid>/root), of a
 * stopped one in its overlay, mounted for the call.  ref is the container as
 * the client named it (for messages).  -ENOENT "Could not find the file <path>
 * in container <ref>"; -EINVAL for an empty path ("bad parameter: pathcannot be
 * empty", dockerd's words) or a file given with a trailing '/'.
 */
int berth_ctr_stat_path(struct berth_engine *e, struct berth_ctr *c, const char *ref,
                        const char *path, struct berth_path_stat *ret, struct berth_error **err);

/* ready: once the path is found (its stat; NULL for export), before the first
 * byte; a negative return stops.  write: the tar, in pieces. */
typedef int (*berth_archive_ready_fn)(const struct berth_path_stat *st, void *arg);
typedef int (*berth_archive_write_fn)(const void *buf, size_t len, void *arg);
typedef ssize_t (*berth_archive_read_fn)(void *buf, size_t len, void *arg,
                                         struct berth_error **err);

/* GET /containers/{id}/archive: a tar of path (docker's names: the top entry
 * is the path's base, "/" for the root). */
int berth_ctr_archive_path(struct berth_engine *e, struct berth_ctr *c, const char *ref,
                           const char *path, berth_archive_ready_fn ready,
                           berth_archive_write_fn write, void *arg, struct berth_error **err);

struct berth_extract_opts {
        bool no_overwrite_dir_nondir;
        bool copy_uid_gid; /* entries owned by the container's user, when it has one */
};
/* PUT /containers/{id}/archive: the tar read from read() (0 at its end)
 * extracted into the directory path.  -ENOTDIR "extraction point is not a
 * directory", -EROFS for a read-only root filesystem; a refused entry is
 * "Error processing tar file(exit status 1): …" as dockerd words it. */
int berth_ctr_extract_to_dir(struct berth_engine *e, struct berth_ctr *c, const char *ref,
                             const char *path, const struct berth_extract_opts *o,
                             berth_archive_read_fn read, void *arg, struct berth_error **err);

/* GET /containers/{id}/export: the container's filesystem (its overlay, without
 * the mounts of a running container) as a tar. */
int berth_ctr_export(struct berth_engine *e, struct berth_ctr *c, berth_archive_ready_fn ready,
                     berth_archive_write_fn write, void *arg, struct berth_error **err);

/* GET /containers/{id}/changes: [{"Path", "Kind"}] (0 changed, 1 added, 2
 * deleted) from the overlay's upper dir, sorted by path. */
int berth_ctr_changes(struct berth_engine *e, struct berth_ctr *c, struct json **ret,
                      struct berth_error **err);

/* ---- for the builder (container-archive.c) ---- */

/* fn with the root of c, a container that is not running, open (its overlay mounted for the
 * call, the operation lock held): what fn writes below rootfd goes to c's upper dir. */
typedef int (*build_root_fn)(int rootfd, void *arg, struct berth_error **err);
int build_ctr_with_root(struct berth_engine *e, struct berth_ctr *c, build_root_fn fn, void *arg,
                        struct berth_error **err);
/* "user[:group]" (names or numbers) looked up in the /etc/passwd and /etc/group below rootfd,
 * as --chown and COPY's owner take it; a number not listed stands for itself. */
int build_ctr_owner(int rootfd, const char *spec, uid_t *ret_uid, gid_t *ret_gid,
                    struct berth_error **err);

#endif
