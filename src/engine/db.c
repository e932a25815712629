/*
 * db.c — opening berth.db, one connection per thread, migrating its schema
 * (contract in db.h).
 *
 * The first migration lays out what the image and container work needs:
 * images (by config digest), their tags and repo digests, the layers each
 * image stacks (chain ids in order), and containers.  Blobs and unpacked
 * layers live on disk (DESIGN.md); the database only names them.
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/log.h"
#include "db.h"

/* Idle connections kept for the next thread; more are closed when handed back. */
#define DB_IDLE_MAX 4

struct db_conn {
        struct berth_db *db;
        sqlite3 *h;
};

struct berth_db {
        char *path;
        int found_version;
        pthread_key_t key; /* this thread's struct db_conn */
        pthread_mutex_t lock;
        struct db_conn *idle[DB_IDLE_MAX]; /* under lock */
        size_t n_idle;
        unsigned in_use; /* connections held by threads, under lock */
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
    "  parent TEXT,"                     /* chain id below, NULL for the first */
    "  size INTEGER NOT NULL DEFAULT 0," /* unpacked bytes */
    "  blob_digest TEXT,"                /* compressed blob it came from, if kept */
    "  refs INTEGER NOT NULL DEFAULT 0"  /* images stacking it */
    ");"
    "ALTER TABLE images ADD COLUMN labels TEXT;" /* JSON object from the config, or NULL */
    "ALTER TABLE images ADD COLUMN last_tag_time INTEGER NOT NULL DEFAULT 0;",
    /* 4: volumes (volumes.c); options and labels as JSON objects, NULL for null */
    "CREATE TABLE volumes ("
    "  name TEXT PRIMARY KEY,"
    "  driver TEXT NOT NULL,"
    "  created INTEGER NOT NULL," /* seconds */
    "  options TEXT,"
    "  labels TEXT"
    ");",
    /* 5: networks (networks.c): the inspect document as JSON */
    "CREATE TABLE networks ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL," /* ns */
    "  doc TEXT NOT NULL"
    ");",
    /* 6: the build cache (builder.c): the image a build step made, by its parent and key */
    "CREATE TABLE build_cache ("
    "  parent TEXT NOT NULL," /* the image below, "" for FROM scratch */
    "  key TEXT NOT NULL,"    /* sha256 of the step's config, command and sources */
    "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    "  created INTEGER NOT NULL," /* unix seconds */
    "  last_used INTEGER NOT NULL,"
    "  usage_count INTEGER NOT NULL DEFAULT 1,"
    "  PRIMARY KEY (parent, key)"
    ");"
    "CREATE INDEX build_cache_image ON build_cache(image_id);",
};

int berth_db_latest_version(void)
{
        return (int)ELEMENTSOF(migrations);
}

const char *berth_db_path(const struct berth_db *db)
{
        return db->path;
}

int berth_db_found_version(const struct berth_db *db)
{
        return db->found_version;
}

/* A new connection with berthd's per-connection settings (WAL itself is a
 * property of the file, set once by berth_db_open). */
static int conn_open(const char *path, sqlite3 **ret, struct berth_error **err)
{
        sqlite3 *h = NULL;
        int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                int r = berth_error_set(err, EIO, "open database '%s': %s", path,
                                        h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
                sqlite3_close_v2(h);
                return r;
        }
        sqlite3_busy_timeout(h, 10000);
        /* A small page cache keeps an idle daemon small. */
        char *msg = NULL;
        if (sqlite3_exec(h,
                         "PRAGMA synchronous=NORMAL;"
                         "PRAGMA foreign_keys=ON;"
                         "PRAGMA cache_size=-512;",
                         NULL, NULL, &msg) != SQLITE_OK) {
                int r = berth_error_set(err, EIO, "open database '%s': %s", path,
                                        msg ? msg : sqlite3_errmsg(h));
                sqlite3_free(msg);
                sqlite3_close_v2(h);
                return r;
        }
        *ret = h;
        return 0;
}

static void conn_close(struct db_conn *c)
{
        /* SQLite's own close keeps berthd's locks: its unix VFS defers closing a
         * descriptor while another connection of this process holds a lock on
         * the same file. */
        sqlite3_close_v2(c->h);
        free(c);
}

/* pthread key destructor: the thread is gone, its connection goes back to the pool. */
static void conn_release(void *p)
{
        struct db_conn *c = p;
        struct berth_db *db = c->db;
        if (!sqlite3_get_autocommit(c->h)) {
                log_warn("database: a thread ended inside a transaction; rolled back");
                (void)sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
        }
        pthread_mutex_lock(&db->lock);
        db->in_use--;
        if (db->n_idle < DB_IDLE_MAX) {
                db->idle[db->n_idle++] = c;
                c = NULL;
        }
        pthread_mutex_unlock(&db->lock);
        if (c)
                conn_close(c);
}

static struct db_conn *conn_get(struct berth_db *db, struct berth_error **err)
{
        struct db_conn *c = pthread_getspecific(db->key);
        if (c)
                return c;
        pthread_mutex_lock(&db->lock);
        if (db->n_idle > 0)
                c = db->idle[--db->n_idle];
        db->in_use++;
        pthread_mutex_unlock(&db->lock);
        if (!c) {
                sqlite3 *h = NULL;
                if (conn_open(db->path, &h, err) < 0) {
                        pthread_mutex_lock(&db->lock);
                        db->in_use--;
                        pthread_mutex_unlock(&db->lock);
                        return NULL;
                }
                c = xcalloc(1, sizeof(*c));
                c->db = db;
                c->h = h;
        }
        pthread_setspecific(db->key, c);
        return c;
}

sqlite3 *berth_db_handle(struct berth_db *db)
{
        _cleanup_error_ struct berth_error *err = NULL;
        struct db_conn *c = conn_get(db, &err);
        if (!c) {
                /* Only fd exhaustion or no memory gets here: nothing can go on. */
                log_error("%s", berth_error_msg(err));
                abort();
        }
        return c->h;
}

char *berth_db_state(struct berth_db *db)
{
        sqlite3 *h = berth_db_handle(db);
        struct berth_buf b = BERTH_BUF_INIT;
        buf_printf(&b, "SQLite code %d, %s", sqlite3_extended_errcode(h),
                   sqlite3_get_autocommit(h) ? "no transaction" : "in a transaction");
        unsigned n = 0;
        for (sqlite3_stmt *st = sqlite3_next_stmt(h, NULL); st; st = sqlite3_next_stmt(h, st))
                if (sqlite3_stmt_busy(st))
                        buf_printf(&b, "%s%s", n++ ? "; " : ", running: ", sqlite3_sql(st));
        if (n == 0)
                buf_puts(&b, ", no statement running");
        return buf_steal(&b);
}

int berth_db_exec(struct berth_db *db, const char *sql, struct berth_error **err)
{
        struct db_conn *c = conn_get(db, err);
        if (!c)
                return -EIO;
        char *msg = NULL;
        if (sqlite3_exec(c->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = berth_error_set(err, EIO, "database: %s", msg ? msg : sqlite3_errmsg(c->h));
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

int berth_db_query_int(struct berth_db *db, const char *sql, int64_t *ret, struct berth_error **err)
{
        struct db_conn *c = conn_get(db, err);
        if (!c)
                return -EIO;
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(c->h, sql, -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(c->h));
        int rc = sqlite3_step(st);
        int r = 0;
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(st, 0);
        else if (rc == SQLITE_DONE)
                *ret = 0;
        else
                r = berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(c->h));
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
        struct db_conn *c = conn_get(db, NULL);
        if (c && !sqlite3_get_autocommit(c->h))
                (void)sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
}

int berth_db_schema_version(struct berth_db *db)
{
        int64_t v = 0;
        if (berth_db_query_int(db, "SELECT version FROM schema_version", &v, NULL) < 0)
                return 0;
        return (int)v;
}

static int migrate(struct berth_db *db, struct berth_error **err)
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
        for (bool first = true;; first = false) {
                r = berth_db_begin(db, err);
                if (r < 0)
                        return r;
                int have = berth_db_schema_version(db);
                if (first)
                        db->found_version = have;
                if (have > want) {
                        berth_db_rollback(db);
                        return berth_error_set(err, EPROTO,
                                               "database '%s' has schema version %d, newer than "
                                               "this berthd knows (%d)",
                                               db->path, have, want);
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
                        return berth_error_prefix(err, "migrate '%s' to schema version %d",
                                                  db->path, have + 1);
                }
        }
}

/* PRAGMA quick_check: structure and indexes, in O(size).  A damaged file is
 * refused with what recovers it; writing to it would spread the damage. */
static int check_integrity(struct berth_db *db, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(db);
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(h, "PRAGMA quick_check(1)", -1, &st, NULL);
        _cleanup_free_ char *verdict = NULL;
        if (rc == SQLITE_OK) {
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
                        verdict = xstrdup((const char *)sqlite3_column_text(st, 0));
        }
        if (!verdict)
                verdict = xstrdup(sqlite3_errmsg(h));
        sqlite3_finalize(st);
        /* One line: quick_check heads its report with "*** in database main ***\n". */
        const char *hdr = "*** in database main ***";
        if (strncmp(verdict, hdr, strlen(hdr)) == 0)
                memmove(verdict, verdict + strlen(hdr), strlen(verdict + strlen(hdr)) + 1);
        for (char *c = verdict; *c; c++)
                if (*c == '\n' || *c == '\r')
                        *c = ' ';
        char *v = verdict + strspn(verdict, " ");
        if (strcmp(v, "ok") == 0)
                return 0;
        /* sqlite3 3.40's .recover fails on ordinary damage; .dump stops at the first
         * bad page with a ROLLBACK that the sed turns into a COMMIT of what it read. */
        return berth_error_set(err, EUCLEAN,
                               "database '%s' is damaged (%s): berthd will not use it; keep a "
                               "copy, then restore it from a backup or save what is readable "
                               "with: sqlite3 '%s' .dump | sed 's/^ROLLBACK; -- due to "
                               "errors$/COMMIT;/' | sqlite3 '%s.salvaged' && mv '%s.salvaged' '%s'",
                               db->path, v, db->path, db->path, db->path, db->path);
}

int berth_db_open(const char *path, struct berth_db **ret, struct berth_error **err)
{
        /* Create the file 0600 ourselves (SQLite would use the umask; its -wal and
         * -shm files take the database file's mode).  This is the one open() of the
         * file outside SQLite, and it runs before this database has a connection in
         * this process, so its close() cannot drop a lock (db.h, the lock rule). */
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return berth_error_sys(err, errno, "open database '%s'", path);
        close(fd);

        struct berth_db *db = xcalloc(1, sizeof(*db));
        db->path = xstrdup(path);
        pthread_mutex_init(&db->lock, NULL);
        int r = -pthread_key_create(&db->key, conn_release);
        if (r < 0) {
                pthread_mutex_destroy(&db->lock);
                free(db->path);
                free(db);
                return berth_error_sys(err, -r, "open database '%s'", path);
        }
        struct db_conn *c = conn_get(db, err);
        r = c ? 0 : -EIO;
        if (r == 0)
                r = berth_db_exec(db, "PRAGMA journal_mode=WAL", err);
        if (r == 0)
                r = check_integrity(db, err);
        if (r == 0)
                r = migrate(db, err);
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
        struct db_conn *own = pthread_getspecific(db->key);
        if (own) {
                pthread_setspecific(db->key, NULL);
                if (!sqlite3_get_autocommit(own->h))
                        (void)sqlite3_exec(own->h, "ROLLBACK", NULL, NULL, NULL);
                conn_close(own);
                pthread_mutex_lock(&db->lock);
                db->in_use--;
                pthread_mutex_unlock(&db->lock);
        }
        pthread_mutex_lock(&db->lock);
        while (db->n_idle > 0)
                conn_close(db->idle[--db->n_idle]);
        unsigned busy = db->in_use;
        pthread_mutex_unlock(&db->lock);
        if (busy > 0) {
                /* A thread still holds a connection and will hand it back at its exit:
                 * the pool must outlive it (only at process exit does this happen). */
                log_debug("database: %u connections still held at close", busy);
                return;
        }
        pthread_key_delete(db->key);
        pthread_mutex_destroy(&db->lock);
        free(db->path);
        free(db);
}
