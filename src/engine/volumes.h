/*
 * volumes.h — named and anonymous volumes with docker's `local` driver:
 * records in berth.db, data at <data-root>/volumes/<name>/_data
 * (DESIGN.md), the API's create/list/inspect/remove/prune, and what a
 * container's start and stop need of them (mounting a volume made with
 * driver options, filling a new one from the image).
 *
 * A volume is one row (name, driver, options, labels, creation time) and
 * one directory.  Creation makes the directory first and then the row (a
 * crash between: the next start adopts the empty directory as a volume, as
 * dockerd's local driver reads its directory); removal first renames the
 * directory aside to a trash name of its own and then deletes the row (a
 * crash between: the next start deletes the row, the removal completes) and
 * deletes the trash without the lock.  Nothing removed ever comes back.
 *
 * "In use" is asked of the containers (berth_ctr_volume_users): a volume
 * that any container names, in any state, is not removed or pruned, as
 * dockerd keeps it.  Volume changes hold the volumes lock; a container
 * create that makes volumes holds it across its record's insertion, so a
 * volume is never removed between being made for a container and the
 * container naming it.  Lock order: volumes lock, then the container table.
 *
 * Options of the local driver (type, device, o) are mounted on _data when a
 * container using the volume starts and unmounted when the last running one
 * stops, as dockerd's local driver does.
 *
 * Errors by errno as the container calls: -ENOENT 404, -EINVAL 400, -EBUSY
 * 409; messages in dockerd's words ("get x: no such volume").
 *
 * Never: follow a symlink out of the volumes directory, remove a volume a
 * container names, or bring back a volume whose removal began.
 */
#ifndef BERTH_ENGINE_VOLUMES_H
#define BERTH_ENGINE_VOLUMES_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/json.h"
#include "engine.h"

/* The label dockerd 23+ puts on anonymous volumes (prune without `all` removes only these). */
#define BERTH_VOLUME_ANON_LABEL "com.docker.volume.anonymous"

struct berth_volumes;

/* Sets e->volumes; sweeps directories left without a row by a crash. */
int berth_volumes_open(struct berth_engine *e, struct berth_error **err);
void berth_volumes_close(struct berth_engine *e);

/* The volumes lock, for a caller that makes volumes and records their user in one step. */
void berth_volumes_lock(struct berth_engine *e);
void berth_volumes_unlock(struct berth_engine *e);

/*
 * POST /volumes/create.  name NULL or "": a generated (anonymous) name.  An
 * existing volume of that name is returned as it is (dockerd's answer),
 * unless its driver differs.  driver NULL or "": local.  opts, labels: JSON
 * objects or NULL.  *ret_created (optional): whether it was made now.
 * *ret: its inspect JSON.  Locks unless locked (the caller holds the lock).
 */
int berth_volume_create(struct berth_engine *e, const char *name, const char *driver,
                        const struct json *opts, const struct json *labels, bool locked,
                        struct json **ret, bool *ret_created, struct berth_error **err);

/* GET /volumes/{name}; -ENOENT "get <name>: no such volume". */
int berth_volume_inspect(struct berth_engine *e, const char *name, struct json **ret,
                         struct berth_error **err);

/* GET /volumes: every volume's inspect JSON, by name; with usage (system df): UsageData. */
int berth_volume_list(struct berth_engine *e, bool usage, struct json **ret,
                      struct berth_error **err);

/* DELETE /volumes/{name}: -EBUSY "remove <name>: volume is in use - [ids]"; force: a missing
 * volume is not an error (dockerd).  Locks unless locked. */
int berth_volume_remove(struct berth_engine *e, const char *name, bool force, bool locked,
                        struct berth_error **err);

/* POST /volumes/prune: every volume no container names that keep(labels, arg) accepts;
 * *ret_deleted the names, *ret_reclaimed their bytes. */
int berth_volume_prune(struct berth_engine *e, bool (*keep)(const struct json *labels, void *arg),
                       void *arg, struct json **ret_deleted, uint64_t *ret_reclaimed,
                       struct berth_error **err);

/* <data-root>/volumes/<name>/_data. */
char *berth_volume_data_path(struct berth_engine *e, const char *name);

/* A container starts using the volume (or is found running at daemon start): its driver
 * options are mounted when no running container had them.  Each activate is matched by one
 * deactivate when that container stops; the last unmounts. */
int berth_volume_activate(struct berth_engine *e, const char *name, struct berth_error **err);
void berth_volume_deactivate(struct berth_engine *e, const char *name);

/* Docker's copy-up: when the volume's _data is empty, the directory srcdir (an O_DIRECTORY fd
 * in the container's root) is copied in, with owners, modes and times, and _data takes
 * srcdir's owner and mode.  Every step by fd, never following a link. */
int berth_volume_fill(struct berth_engine *e, const char *name, int srcdir,
                      struct berth_error **err);

/* docker's name rule for local volumes; -EINVAL with dockerd's words ("create <name>: …"). */
int berth_volume_check_name(const char *name, struct berth_error **err);

#endif
