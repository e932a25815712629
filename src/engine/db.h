/*
 * db.h — berthd's metadata database: SQLite in WAL mode at <data-root>/berth.db.
 *
 * Opening creates the file (0600) when missing, turns on WAL, foreign keys and
 * a busy timeout, then brings the schema up to date: the `schema_version`
 * table holds one row, the number of migrations applied; each migration in
 * db.c runs in its own transaction together with the version bump, so a crash
 * leaves the database at one version or the next, never between.  A database
 * newer than this binary (a downgrade) is refused rather than guessed at.
 *
 * The handle is opened in serialized mode, so single statements are safe from
 * any thread; but a transaction belongs to the connection, so the engine's
 * handle is for the loop thread, and a worker thread that needs transactions
 * opens its own with berth_db_open() (WAL lets them run side by side).
 * Multi-statement changes use berth_db_begin() / _commit() / _rollback()
 * (BEGIN IMMEDIATE, so writers queue instead of failing mid-transaction).
 *
 * Adding tables: append a migration to the list in db.c; never edit one that
 * has been committed (databases in the field already ran it).
 *
 * Never: build SQL by pasting values into strings (bind parameters), leave a
 * transaction open on an error path.
 */
#ifndef BERTH_ENGINE_DB_H
#define BERTH_ENGINE_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "base/error.h"

struct berth_db;

int berth_db_open(const char *path, struct berth_db **ret, struct berth_error **err);
void berth_db_close(struct berth_db *db);
static inline void berth_db_closep(struct berth_db **db)
{
        berth_db_close(*db);
}
#define _cleanup_db_ _cleanup_(berth_db_closep)

sqlite3 *berth_db_handle(struct berth_db *db);
/* Number of migrations applied (= the schema version). */
int berth_db_schema_version(struct berth_db *db);
/* Number of migrations this binary knows. */
int berth_db_latest_version(void);

/* Run SQL without results (may hold several statements). */
int berth_db_exec(struct berth_db *db, const char *sql, struct berth_error **err);
/* First column of the first row of a query as an integer (e.g. a count). */
int berth_db_query_int(struct berth_db *db, const char *sql, int64_t *ret,
                       struct berth_error **err);

int berth_db_begin(struct berth_db *db, struct berth_error **err);
int berth_db_commit(struct berth_db *db, struct berth_error **err);
void berth_db_rollback(struct berth_db *db);

#endif
