/*
 * test-db.c — berth.db's connections (src/engine/db.c): every thread gets its
 * own connection, so transactions of two threads never mix; a thread that
 * ends inside a transaction has it rolled back; and the lock rule (db.h):
 * after connections come and go on many threads, this process still holds
 * its SQLite lock on the file, as /proc/locks shows — the lock an outside
 * `sqlite3` relies on to leave the WAL alone.  Also: a damaged file is refused
 * with the command that recovers it.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "engine/db.h"

static char root[64];
static char *path;

static void setup(void)
{
        strcpy(root, "/tmp/berth-test-db-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(root));
        path = xasprintf("%s/berth.db", root);
}

static void teardown(void)
{
        rm_rf(root);
        free(path);
}

/* Does this process hold a lock on the file's inode (/proc/locks)? */
static bool holds_lock(const char *file)
{
        struct stat st;
        ck_assert_int_eq(stat(file, &st), 0);
        FILE *f = fopen("/proc/locks", "re");
        ck_assert_ptr_nonnull(f);
        char line[256];
        bool found = false;
        while (fgets(line, sizeof(line), f)) {
                int pid = 0;
                unsigned maj = 0, min = 0;
                unsigned long ino = 0;
                /* "1: POSIX  ADVISORY  READ 1234 fe:00:5678 1073741826 1073742335" */
                if (sscanf(line, "%*d: POSIX %*s %*s %d %x:%x:%lu", &pid, &maj, &min, &ino) == 4 &&
                    pid == getpid() && ino == st.st_ino)
                        found = true;
        }
        fclose(f);
        return found;
}

struct worker {
        struct berth_db *db;
        int n;
        bool end_in_transaction;
};

static void *work(void *arg)
{
        struct worker *w = arg;
        for (int i = 0; i < 20; i++) {
                ck_assert_int_eq(berth_db_begin(w->db, NULL), 0);
                char *sql = xasprintf("INSERT INTO t (v) VALUES (%d)", w->n * 100 + i);
                ck_assert_int_eq(berth_db_exec(w->db, sql, NULL), 0);
                free(sql);
                ck_assert_int_eq(berth_db_commit(w->db, NULL), 0);
        }
        if (w->end_in_transaction) {
                ck_assert_int_eq(berth_db_begin(w->db, NULL), 0);
                ck_assert_int_eq(berth_db_exec(w->db, "INSERT INTO t (v) VALUES (-1)", NULL), 0);
        }
        return NULL;
}

struct count_arg {
        struct berth_db *db;
        int64_t n;
};

static void *count_rows(void *arg)
{
        struct count_arg *a = arg;
        ck_assert_int_eq(berth_db_query_int(a->db, "SELECT count(*) FROM t", &a->n, NULL), 0);
        return NULL;
}

START_TEST(threads_have_their_own_transactions_and_the_lock_stays)
{
        struct berth_db *db = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_db_open(path, &db, &err), 0);
        ck_assert(holds_lock(path));
        ck_assert_int_eq(berth_db_exec(db, "CREATE TABLE t (v INTEGER)", NULL), 0);
        /* This thread's open transaction is invisible to another thread. */
        ck_assert_int_eq(berth_db_begin(db, NULL), 0);
        ck_assert_int_eq(berth_db_exec(db, "INSERT INTO t (v) VALUES (-2)", NULL), 0);
        pthread_t reader;
        struct count_arg ca = {db, -1};
        ck_assert_int_eq(pthread_create(&reader, NULL, count_rows, &ca), 0);
        pthread_join(reader, NULL);
        ck_assert_int_eq(ca.n, 0);
        berth_db_rollback(db);
        pthread_t th[8];
        struct worker w[8];
        for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 8; i++) {
                        w[i] = (struct worker){db, round * 8 + i, i == 0};
                        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
                }
                for (int i = 0; i < 8; i++)
                        pthread_join(th[i], NULL);
        }
        int64_t n = 0;
        ck_assert_int_eq(berth_db_query_int(db, "SELECT count(*) FROM t", &n, NULL), 0);
        ck_assert_int_eq(n, 3 * 8 * 20); /* no -1 or -2 rows: rolled back */
        /* Connections came and went on 24 threads: the lock is still ours. */
        ck_assert(holds_lock(path));
        berth_db_close(db);
        ck_assert(!holds_lock(path));
}
END_TEST

START_TEST(file_is_private)
{
        struct berth_db *db = NULL;
        struct berth_error *err = NULL;
        mode_t old = umask(0);
        ck_assert_int_eq(berth_db_open(path, &db, &err), 0);
        umask(old);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 0777, 0600);
        ck_assert_int_eq(berth_db_schema_version(db), berth_db_latest_version());
        ck_assert_int_eq(berth_db_found_version(db), 0);
        berth_db_close(db);
        ck_assert_int_eq(berth_db_open(path, &db, &err), 0);
        ck_assert_int_eq(berth_db_found_version(db), berth_db_latest_version());
        berth_db_close(db);
}
END_TEST

START_TEST(damaged_file_is_refused)
{
        struct berth_db *db = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_db_open(path, &db, &err), 0);
        ck_assert_int_eq(berth_db_exec(db,
                                       "PRAGMA journal_mode=DELETE;"
                                       "CREATE TABLE big (v TEXT);"
                                       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 "
                                       "FROM c WHERE x < 2000) INSERT INTO big SELECT "
                                       "hex(randomblob(100)) FROM c;",
                                       NULL),
                         0);
        berth_db_close(db);
        /* Scribble over a page in the middle of the file. */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        char junk[4096];
        memset(junk, 0x5a, sizeof(junk));
        ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), 8 * 4096), (ssize_t)sizeof(junk));
        close(fd);
        ck_assert_int_lt(berth_db_open(path, &db, &err), 0);
        ck_assert_ptr_nonnull(strstr(berth_error_msg(err), "is damaged"));
        ck_assert_ptr_nonnull(strstr(berth_error_msg(err), ".dump"));
        ck_assert_ptr_nonnull(strstr(berth_error_msg(err), path));
        berth_error_free(err);
}
END_TEST

/* The state a failure's message carries: a statement left running, a transaction. */
START_TEST(state_names_what_the_connection_is_in)
{
        struct berth_db *db = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_db_open(path, &db, &err), 0);
        char *s = berth_db_state(db);
        ck_assert_msg(strstr(s, "no transaction, no statement running"), "%s", s);
        free(s);
        sqlite3 *h = berth_db_handle(db);
        sqlite3_stmt *st = NULL;
        ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT name FROM sqlite_master", -1, &st, NULL),
                         SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_int_eq(berth_db_begin(db, &err), 0);
        s = berth_db_state(db);
        ck_assert_msg(strstr(s, "in a transaction, running: SELECT name FROM sqlite_master"),
                      "%s", s);
        free(s);
        sqlite3_finalize(st);
        berth_db_rollback(db);
        berth_db_close(db);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("db");
        TCase *tc = tcase_create("db");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, threads_have_their_own_transactions_and_the_lock_stays);
        tcase_add_test(tc, file_is_private);
        tcase_add_test(tc, damaged_file_is_refused);
        tcase_add_test(tc, state_names_what_the_connection_is_in);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
