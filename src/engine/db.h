/*
 * db.h — berthd's metadata database: SQLite in WAL mode at <data-root>/berth.db.
 *
 * Opening creates the file (0600) when missing, turns on WAL, checks the file
 * (PRAGMA quick_check: a damaged database is refused with the command that
 * recovers it, never used and made worse), then brings the schema up to date:
 * the `schema_version` table holds one row, the number of migrations applied;
 * each migration in db.c runs in its own transaction together with the version
 * bump, so a crash leaves the database at one version or the next, never
 * between.  A database newer than this binary (a downgrade) is refused rather
 * than guessed at.
 *
 * Connections.  A struct berth_db is the database, not a connection: every
 * thread that touches it gets its own SQLite connection, opened on first use
 * and handed back to a small idle pool when the thread exits (a worker thread
 * per request reuses the connection of one that finished).  berth_db_handle()
 * and every function below act on the calling thread's connection, so a
 * transaction (berth_db_begin() / _commit() / _rollback(), BEGIN IMMEDIATE so
 * writers queue instead of failing mid-way) belongs to one thread and nothing
 * another thread runs can land inside it.  A connection handed back with a
 * transaction still open is rolled back first.
 *
 * The lock rule.  SQLite coordinates processes with POSIX record locks
 * (fcntl F_SETLK), and POSIX locks belong to the process and the inode:
 * closing ANY descriptor of berth.db, berth.db-wal or berth.db-shm in berthd
 * drops every lock berthd holds on it.  Another SQLite client (a user's
 * `sqlite3 berth.db`, a second daemon) then believes it is alone, checkpoints
 * the WAL and deletes -wal/-shm under berthd's feet, and the database is
 * damaged for good.  So:
 *   - no code opens berth.db or its -wal/-shm files except SQLite itself, in
 *     this file, while any connection lives (the one open() below runs once,
 *     before the first connection, to create the file with mode 0600);
 *   - connections are long-lived (the pool above), never one per operation;
 *   - files that carry locks of our own (berthd's pid and root lock files,
 *     src/cmd/berthd.c) use open file description locks (F_OFD_SETLK), which
 *     an unrelated close() cannot drop.
 * tests/integration/test_store_integrity.py checks the rule from outside
 * (/proc/locks after every kind of operation) and with outside readers and
 * writers.
 *
 * Adding tables: append a migration to the list in db.c; never edit one that
 * has been committed (databases in the field already ran it).
 *
 * Never: build SQL by pasting values into strings (bind parameters), leave a
 * transaction open on an error path, open the database files outside SQLite.
 */
#ifndef BERTH_ENGINE_DB_H
#define BERTH_ENGINE_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "base/error.h"

struct berth_db;

int berth_db_open(const char *path, struct berth_db **ret, struct berth_error **err);
/* Closes the caller's connection and the idle ones; must be called when no
 * other thread uses the database any more. */
void berth_db_close(struct berth_db *db);
static inline void berth_db_closep(struct berth_db **db)
{
        berth_db_close(*db);
}
#define _cleanup_db_ _cleanup_(berth_db_closep)

/* The calling thread's connection (opened on first use; aborts only when the
 * process cannot open a file or allocate at all). */
sqlite3 *berth_db_handle(struct berth_db *db);
/* What this thread's connection is in, for a message after a failure: SQLite's extended
 * code of its last error, whether a transaction is open, and the statements still running
 * on it (malloc'd, one line). */
char *berth_db_state(struct berth_db *db);
const char *berth_db_path(const struct berth_db *db);
/* Number of migrations applied (= the schema version). */
int berth_db_schema_version(struct berth_db *db);
/* Number of migrations this binary knows. */
int berth_db_latest_version(void);
/* The schema version the file had when berth_db_open() found it (0: new). */
int berth_db_found_version(const struct berth_db *db);

/* Run SQL without results (may hold several statements). */
int berth_db_exec(struct berth_db *db, const char *sql, struct berth_error **err);
/* First column of the first row of a query as an integer (e.g. a count). */
int berth_db_query_int(struct berth_db *db, const char *sql, int64_t *ret,
                       struct berth_error **err);

int berth_db_begin(struct berth_db *db, struct berth_error **err);
int berth_db_commit(struct berth_db *db, struct berth_error **err);
void berth_db_rollback(struct berth_db *db);

#endif
