/*
 * engine.h — the daemon's state: configuration, database, identity.
 *
 * berth_engine_open() prepares the data root (<data-root> 0711 with
 * berth.db, blobs/, layers/, containers/, volumes/ as DESIGN.md lays out; a
 * stable engine ID in <data-root>/engine-id) and opens the database.  The API
 * handlers and, later, workers read state through this object only.
 *
 * Configuration is swapped whole on reload: berth_engine_config() returns a
 * reference the caller drops with berth_config_unref(), so a long pull keeps
 * the settings it started with.
 *
 * Never: hold the engine lock while doing I/O other than swapping a pointer.
 */
#ifndef BERTH_ENGINE_ENGINE_H
#define BERTH_ENGINE_ENGINE_H

#include <pthread.h>

#include "config.h"
#include "db.h"
#include "events.h"
#include "image/store.h"

struct ctr_manager;
struct berth_volumes;

struct berth_engine {
        pthread_mutex_t lock;
        struct berth_config *config;            /* under lock */
        const struct berth_config_flags *flags; /* the command line, for reloads */
        struct berth_db *db;
        struct blob_store *store; /* content store at <data-root>/blobs */
        struct berth_layers *layers; /* layer records and collection (layers.h), set by berthd */
        struct ctr_manager *containers; /* containers.h, set by berth_containers_open */
        struct berth_volumes *volumes;  /* volumes.h, set by berth_volumes_open */
        struct berth_networks *networks; /* networks.h, set by berth_networks_open */
        struct berth_events *events;
        char *id; /* engine ID (UUID) */
};

/* Takes a reference on config; flags must outlive the engine. */
int berth_engine_open(struct berth_config *config, const struct berth_config_flags *flags,
                      struct berth_engine **ret, struct berth_error **err);
void berth_engine_free(struct berth_engine *e);

/* The current configuration (a new reference). */
struct berth_config *berth_engine_config(struct berth_engine *e);

/* Re-read daemon.json and apply reloadable keys; *ret_changes as berth_config_reload. */
int berth_engine_reload(struct berth_engine *e, char ***ret_changes, struct berth_error **err);

/* Counts for info. */
int berth_engine_count_images(struct berth_engine *e, int64_t *ret, struct berth_error **err);
int berth_engine_count_containers(struct berth_engine *e, int64_t *ret, struct berth_error **err);

#endif
