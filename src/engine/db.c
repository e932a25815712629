/*
 * db.c — opening berth.db and migrating its schema (contract in db.h).
 *
 * The first migration lays out what the image and container work needs:
 * images (by config digest), their tags and repo digests, the layers each
 * image stacks (chain ids in order), and containers.  Blobs and unpacked
 * layers live on disk (DESIGN.md); the database only names them.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"

struct berth_db {
        sqlite3 *h;
};

static const char *const migrations[] = {
    /* 1: images, tags, digests, layers, containers */
    "CREATE TABLE images ("
    "  id TEXT PRIMARY KEY,"                /* sha256:<config digest> */
    "  manifest_digest TEXT,"               /* what the registry served, if pulled */
    "  size INTEGER NOT NULL DEFAULT 0,"    /* unpacked bytes */
    "  created INTEGER NOT NULL DEFAULT 0," /* unix seconds, from the config */
    "  parent TEXT,"
    "  added INTEGER NOT NULL" /* unix seconds, when stored */
    ");"
    "CREATE TABLE tags ("
    "  name TEXT PRIMARY KEY," /* docker.io/library/busybox:latest */
    "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE"
    ");"
    "CREATE INDEX tags_image ON tags(image_id);"
    "CREATE TABLE repo_digests ("
    "  name TEXT PRIMARY KEY," /* docker.io/library/busybox@sha256:… */
    "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE"
    ");"
    "CREATE INDEX repo_digests_image ON repo_digests(image_id);"
    "CREATE TABLE image_layers ("
    "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL,"
    "  chain_id TEXT NOT NULL,"
    "  diff_id TEXT NOT NULL,"
    "  blob_digest TEXT,"
    "  PRIMARY KEY (image_id, position)"
    ");"
    "CREATE INDEX image_layers_chain ON image_layers(chain_id);"
    "CREATE TABLE containers ("
    "  id TEXT PRIMARY KEY," /* 64 hex */
    "  name TEXT NOT NULL UNIQUE,"
    "  image_id TEXT NOT NULL REFERENCES images(id),"
    "  created INTEGER NOT NULL,"
    "  config TEXT NOT NULL," /* the create request as JSON */
    "  state TEXT NOT NULL DEFAULT 'created'"
    ");",
    /* 2: the unpacked size of each layer (history shows it) */
    "ALTER TABLE image_layers ADD COLUMN size INTEGER NOT NULL DEFAULT 0;",
    /* 3: unpacked layers with reference counts; image labels and tag times (layers.c) */
    "CREATE TABLE layers ("
    "  chain_id TEXT PRIMARY KEY,"
    "  diff_id TEXT NOT NULL,"
    "  parent TEXT,"                      /* chain id below, NULL for the first */
    "  size INTEGER NOT NULL DEFAULT 0,"  /* unpacked bytes */
    "  blob_digest TEXT,"                 /* compressed blob it came from, if kept */
    "  refs INTEGER NOT NULL DEFAULT 0"   /* images stacking it */
    ");"
    "ALTER TABLE images ADD COLUMN labels TEXT;" /* JSON object from the config, or NULL */
    "ALTER TABLE images ADD COLUMN last_tag_time INTEGER NOT NULL DEFAULT 0;",
};

int berth_db_latest_version(void)
{
        return (int)ELEMENTSOF(migrations);
}

sqlite3 *berth_db_handle(struct berth_db *db)
{
        return db->h;
}

int berth_db_exec(struct berth_db *db, const char *sql, struct berth_error **err)
{
        char *msg = NULL;
        if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r =
                    berth_error_set(err, EIO, "database: %s", msg ? msg : sqlite3_errmsg(db->h));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

int berth_db_query_int(struct berth_db *db, const char *sql, int64_t *ret, struct berth_error **err)
{
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(db->h));
        int rc = sqlite3_step(st);
        int r = 0;
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(st, 0);
        else if (rc == SQLITE_DONE)
                *ret = 0;
        else
                r = berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(db->h));
        sqlite3_finalize(st);
        return r;
}

int berth_db_begin(struct berth_db *db, struct berth_error **err)
{
        return berth_db_exec(db, "BEGIN IMMEDIATE", err);
}

int berth_db_commit(struct berth_db *db, struct berth_error **err)
{
        return berth_db_exec(db, "COMMIT", err);
}

void berth_db_rollback(struct berth_db *db)
{
        (void)sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int berth_db_schema_version(struct berth_db *db)
{
        int64_t v = 0;
        if (berth_db_query_int(db, "SELECT version FROM schema_version", &v, NULL) < 0)
                return 0;
        return (int)v;
}

static int migrate(struct berth_db *db, const char *path, struct berth_error **err)
{
        int r =
            berth_db_exec(db,
                          "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
                          "INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS "
                          "(SELECT 1 FROM schema_version);",
                          err);
        if (r < 0)
                return r;
        int want = berth_db_latest_version();
        /* The version is read inside each transaction: two processes opening the same
         * database at once migrate it once. */
        for (;;) {
                r = berth_db_begin(db, err);
                if (r < 0)
                        return r;
                int have = berth_db_schema_version(db);
                if (have > want) {
                        berth_db_rollback(db);
                        return berth_error_set(err, EPROTO,
                                               "database '%s' has schema version %d, newer than "
                                               "this berthd knows (%d)",
                                               path, have, want);
                }
                if (have == want)
                        return berth_db_commit(db, err);
                r = berth_db_exec(db, migrations[have], err);
                if (r == 0) {
                        _cleanup_free_ char *bump =
                            xasprintf("UPDATE schema_version SET version = %d", have + 1);
                        r = berth_db_exec(db, bump, err);
                }
                if (r == 0)
                        r = berth_db_commit(db, err);
                if (r < 0) {
                        berth_db_rollback(db);
                        return berth_error_prefix(err, "migrate '%s' to schema version %d", path,
                                                  have + 1);
                }
        }
}

int berth_db_open(const char *path, struct berth_db **ret, struct berth_error **err)
{
        /* Create the file 0600 ourselves: SQLite would use the umask. */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return berth_error_sys(err, errno, "open database '%s'", path);
        close(fd);

        struct berth_db *db = xcalloc(1, sizeof(*db));
        int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
        if (rc != SQLITE_OK) {
                int r = berth_error_set(err, EIO, "open database '%s': %s", path,
                                        db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
                berth_db_close(db);
                return r;
        }
        sqlite3_busy_timeout(db->h, 10000);
        /* A small page cache keeps an idle daemon small; WAL keeps readers off writers. */
        int r = berth_db_exec(db,
                              "PRAGMA journal_mode=WAL;"
                              "PRAGMA synchronous=NORMAL;"
                              "PRAGMA foreign_keys=ON;"
                              "PRAGMA cache_size=-512;",
                              err);
        if (r == 0)
                r = migrate(db, path, err);
        if (r < 0) {
                berth_db_close(db);
                return r;
        }
        *ret = db;
        return 0;
}

void berth_db_close(struct berth_db *db)
{
        if (!db)
                return;
        if (db->h)
                sqlite3_close_v2(db->h);
        free(db);
}
