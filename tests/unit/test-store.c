/*
 * test-store.c — the content store keeps only verified blobs under their
 * digest: streaming ingests are hashed and checked, a mismatch leaves nothing
 * behind, concurrent ingests of one digest write once, a killed ingest leaves
 * only a temp file that the next open removes, and a full disk is a clear error
 * that leaves the store intact.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/fileio.h"
#include "image/store.h"

static char base[64]; /* per run; removed by the parent even when a test fails */
static char root[128];

/* Unchecked fixture: runs in the parent, so the base directory goes away even
 * when a forked test dies on a failed assertion before its teardown. */
static void base_setup(void)
{
        strcpy(base, "/tmp/berth-test-store-XXXXXX");
        if (!mkdtemp(base))
                abort();
}

static void base_teardown(void)
{
        rm_rf(base);
}

static void setup(void)
{
        snprintf(root, sizeof(root), "%s/root-XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
        (void)umount2(root, MNT_DETACH); /* a full-disk test's tmpfs, if it failed early */
        rm_rf(root);
}

static char *digest_of(const void *buf, size_t len)
{
        unsigned char md[32];
        unsigned int n;
        EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
        char hex[65];
        blob_sha256_hex(md, hex);
        return xasprintf("sha256:%s", hex);
}

static struct blob_store *open_store(void)
{
        struct blob_store *s = NULL;
        struct berth_error *err = NULL;
        ck_assert_msg(blob_store_open(root, &s, &err) == 0, "%s", berth_error_msg(err));
        return s;
}

static int count_dir(const char *sub)
{
        char *p = xasprintf("%s/%s", root, sub);
        DIR *d = opendir(p);
        free(p);
        ck_assert_ptr_nonnull(d);
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

START_TEST(test_streaming_ingest_and_access)
{
        struct blob_store *s = open_store();
        struct berth_error *err = NULL;
        size_t len = 3 * 1024 * 1024 + 17;
        char *data = xmalloc(len);
        for (size_t i = 0; i < len; i++)
                data[i] = (char)(i * 7 + i / 4096);
        char *dg = digest_of(data, len);
        ck_assert(!blob_store_exists(s, dg));

        struct blob_ingest *in = NULL;
        ck_assert_int_eq(blob_store_ingest_begin(s, dg, (int64_t)len, &in, &err), 0);
        for (size_t off = 0; off < len; off += 65536) {
                size_t n = len - off < 65536 ? len - off : 65536;
                ck_assert_int_eq(blob_ingest_write(in, data + off, n, &err), 0);
                /* nothing visible under the final name while bytes arrive */
                ck_assert(!blob_store_exists(s, dg));
        }
        ck_assert_int_eq(count_dir("tmp"), 1);
        char *got = NULL;
        ck_assert_msg(blob_ingest_commit(in, &got, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_str_eq(got, dg);
        ck_assert(blob_store_exists(s, dg));
        ck_assert_int_eq(count_dir("tmp"), 0);

        uint64_t size = 0;
        ck_assert_int_eq(blob_store_size(s, dg, &size, &err), 0);
        ck_assert_uint_eq(size, len);
        char *back = NULL;
        size_t blen = 0;
        ck_assert_int_eq(blob_store_read(s, dg, len, &back, &blen, &err), 0);
        ck_assert_uint_eq(blen, len);
        ck_assert(memcmp(back, data, len) == 0);
        char *path = blob_store_path(s, dg);
        char *want_path = xasprintf("%s/blobs/sha256/%s", root, dg + 7);
        ck_assert_str_eq(path, want_path);
        free(want_path);
        free(path);

        /* a second ingest of a present blob is skipped */
        ck_assert_int_eq(blob_store_ingest_begin(s, dg, (int64_t)len, &in, &err), 1);
        ck_assert_ptr_null(in);

        char *other = NULL;
        ck_assert_int_eq(blob_store_put(s, NULL, "x", 1, &other, &err), 0);
        char **all = NULL;
        ck_assert_int_eq(blob_store_list(s, &all, &err), 0);
        ck_assert_ptr_nonnull(all[0]);
        ck_assert_ptr_nonnull(all[1]);
        ck_assert_ptr_null(all[2]);
        ck_assert(strcmp(all[0], all[1]) < 0);
        ck_assert((strcmp(all[0], dg) == 0 && strcmp(all[1], other) == 0) ||
                  (strcmp(all[1], dg) == 0 && strcmp(all[0], other) == 0));
        strv_free(all);
        free(other);

        ck_assert_int_eq(blob_store_delete(s, dg, &err), 0);
        ck_assert(!blob_store_exists(s, dg));
        ck_assert_int_eq(blob_store_delete(s, dg, &err), 0);
        int fd = -1;
        ck_assert_int_eq(blob_store_open_blob(s, dg, &fd, &err), -ENOENT);
        char *want = xasprintf("blob %s: not found", dg);
        ck_assert_str_eq(err->msg, want);
        free(want);
        berth_error_free(err);
        free(back);
        free(got);
        free(dg);
        free(data);
        blob_store_free(s);
}
END_TEST

START_TEST(test_digest_mismatch_leaves_nothing)
{
        struct blob_store *s = open_store();
        struct berth_error *err = NULL;
        const char *claimed =
            "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        char *actual = digest_of("hello", 5);
        struct blob_ingest *in = NULL;
        ck_assert_int_eq(blob_store_ingest_begin(s, claimed, 5, &in, &err), 0);
        ck_assert_int_eq(blob_ingest_write(in, "hello", 5, &err), 0);
        ck_assert_int_eq(blob_ingest_commit(in, NULL, &err), -EIO);
        char *want = xasprintf("blob %s: digest mismatch (got %s)", claimed, actual);
        ck_assert_str_eq(err->msg, want);
        free(want);
        berth_error_free(err);
        err = NULL;
        ck_assert(!blob_store_exists(s, claimed));
        ck_assert(!blob_store_exists(s, actual));
        ck_assert_int_eq(count_dir("tmp"), 0);
        ck_assert_int_eq(count_dir("blobs/sha256"), 0);

        /* size: too many bytes fails at once, too few at commit */
        ck_assert_int_eq(blob_store_ingest_begin(s, actual, 4, &in, &err), 0);
        ck_assert_int_eq(blob_ingest_write(in, "hello", 5, &err), -EFBIG);
        ck_assert_msg(strstr(err->msg, "size mismatch") != NULL, "%s", err->msg);
        berth_error_free(err);
        err = NULL;
        blob_ingest_abort(in);
        ck_assert_int_eq(blob_store_ingest_begin(s, actual, 6, &in, &err), 0);
        ck_assert_int_eq(blob_ingest_write(in, "hello", 5, &err), 0);
        ck_assert_int_eq(blob_ingest_commit(in, NULL, &err), -EIO);
        want = xasprintf("blob %s: size mismatch (expected 6 bytes, got 5)", actual);
        ck_assert_str_eq(err->msg, want);
        free(want);
        berth_error_free(err);
        err = NULL;
        ck_assert_int_eq(count_dir("tmp"), 0);
        ck_assert_int_eq(count_dir("blobs/sha256"), 0);

        /* unknown digest: the content names the blob */
        char *got = NULL;
        ck_assert_int_eq(blob_store_put(s, NULL, "hello", 5, &got, &err), 0);
        ck_assert_str_eq(got, actual);
        ck_assert(blob_store_exists(s, actual));

        /* bad digests are refused before anything is written */
        ck_assert_int_eq(blob_store_ingest_begin(s, "md5:abc", -1, &in, &err), -EINVAL);
        ck_assert_str_eq(err->msg, "digest 'md5:abc': unsupported digest algorithm");
        berth_error_free(err);
        err = NULL;
        ck_assert_int_eq(blob_store_ingest_begin(s, "sha256:../../etc/passwd", -1, &in, &err),
                         -EINVAL);
        berth_error_free(err);
        free(got);
        free(actual);
        blob_store_free(s);
}
END_TEST

struct racer {
        struct blob_store *s;
        const char *digest;
        int result; /* 0 wrote it, 1 found it present */
        bool abort_first;
};

static void *race(void *arg)
{
        struct racer *r = arg;
        struct berth_error *err = NULL;
        struct blob_ingest *in = NULL;
        r->result = blob_store_ingest_begin(r->s, r->digest, 11, &in, &err);
        if (r->result == 0) {
                usleep(100 * 1000); /* let the others pile up on the in-flight table */
                blob_ingest_write(in, "hello world", 11, &err);
                if (r->abort_first) {
                        blob_ingest_abort(in);
                        r->result = 2;
                } else if (blob_ingest_commit(in, NULL, &err) < 0) {
                        r->result = -1;
                }
        }
        berth_error_free(err);
        return NULL;
}

START_TEST(test_concurrent_ingest_writes_once)
{
        struct blob_store *s = open_store();
        char *dg = digest_of("hello world", 11);
        struct racer rs[6];
        pthread_t th[6];
        for (int i = 0; i < 6; i++) {
                rs[i] = (struct racer){.s = s, .digest = dg};
                pthread_create(&th[i], NULL, race, &rs[i]);
        }
        int writers = 0, present = 0;
        for (int i = 0; i < 6; i++) {
                pthread_join(th[i], NULL);
                writers += rs[i].result == 0;
                present += rs[i].result == 1;
        }
        ck_assert_int_eq(writers, 1);
        ck_assert_int_eq(present, 5);
        ck_assert(blob_store_exists(s, dg));
        ck_assert_int_eq(count_dir("tmp"), 0);

        /* when the writer gives up, a waiter takes over */
        struct berth_error *err = NULL;
        ck_assert_int_eq(blob_store_delete(s, dg, &err), 0);
        rs[0] = (struct racer){.s = s, .digest = dg, .abort_first = true};
        pthread_create(&th[0], NULL, race, &rs[0]);
        usleep(20 * 1000);
        rs[1] = (struct racer){.s = s, .digest = dg};
        pthread_create(&th[1], NULL, race, &rs[1]);
        pthread_join(th[0], NULL);
        pthread_join(th[1], NULL);
        ck_assert_int_eq(rs[0].result, 2);
        ck_assert_int_eq(rs[1].result, 0);
        ck_assert(blob_store_exists(s, dg));
        free(dg);
        blob_store_free(s);
}
END_TEST

START_TEST(test_kill9_leaves_no_partial_blob)
{
        char *dg = digest_of("0123456789", 10);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct blob_store *s = NULL;
                struct blob_ingest *in = NULL;
                if (blob_store_open(root, &s, NULL) < 0 ||
                    blob_store_ingest_begin(s, dg, 10, &in, NULL) < 0 ||
                    blob_ingest_write(in, "01234", 5, NULL) < 0)
                        _exit(1);
                raise(SIGKILL);
                _exit(2);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        ck_assert_int_eq(count_dir("tmp"), 1);
        ck_assert_int_eq(count_dir("blobs/sha256"), 0);

        struct blob_store *s = open_store();
        ck_assert_int_eq(count_dir("tmp"), 0);
        ck_assert(!blob_store_exists(s, dg));
        struct berth_error *err = NULL;
        ck_assert_int_eq(blob_store_put(s, dg, "0123456789", 10, NULL, &err), 0);
        ck_assert(blob_store_exists(s, dg));
        free(dg);
        blob_store_free(s);
}
END_TEST

START_TEST(test_full_disk_is_clear_and_store_intact)
{
        ck_assert_msg(geteuid() == 0, "needs root to mount a small tmpfs");
        /* Check runs each test in its own process: the mount lives in a private
         * mount namespace and vanishes with it. */
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_int_eq(mount("tmpfs", root, "tmpfs", 0, "size=256k"), 0);

        struct blob_store *s = open_store();
        struct berth_error *err = NULL;
        char *small = NULL;
        ck_assert_int_eq(blob_store_put(s, NULL, "kept", 4, &small, &err), 0);

        size_t len = 1024 * 1024;
        char *data = xcalloc(1, len);
        char *dg = digest_of(data, len);
        struct blob_ingest *in = NULL;
        ck_assert_int_eq(blob_store_ingest_begin(s, dg, (int64_t)len, &in, &err), 0);
        int r = 0;
        for (size_t off = 0; off < len && r == 0; off += 32768)
                r = blob_ingest_write(in, data + off, 32768, &err);
        ck_assert_int_eq(r, -ENOSPC);
        char *want = xasprintf("blob %s: write: no space left on device", dg);
        ck_assert_str_eq(err->msg, want);
        free(want);
        berth_error_free(err);
        err = NULL;
        /* the temp file is gone at once, before the caller aborts */
        ck_assert_int_eq(count_dir("tmp"), 0);
        ck_assert_int_eq(blob_ingest_commit(in, NULL, &err), -ENOSPC);
        berth_error_free(err);
        err = NULL;
        ck_assert(!blob_store_exists(s, dg));
        char *back = NULL;
        ck_assert_int_eq(blob_store_read(s, small, 100, &back, NULL, &err), 0);
        ck_assert_str_eq(back, "kept");
        /* the space came back: a blob that fits still goes in */
        ck_assert_int_eq(blob_store_put(s, NULL, data, 65536, NULL, &err), 0);
        blob_store_free(s);
        free(back);
        free(dg);
        free(data);
        free(small);
        ck_assert_int_eq(umount2(root, MNT_DETACH), 0);
}
END_TEST

int main(void)
{
        Suite *su = suite_create("store");
        TCase *tc = tcase_create("core");
        tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_streaming_ingest_and_access);
        tcase_add_test(tc, test_digest_mismatch_leaves_nothing);
        tcase_add_test(tc, test_concurrent_ingest_writes_once);
        tcase_add_test(tc, test_kill9_leaves_no_partial_blob);
        tcase_add_test(tc, test_full_disk_is_clear_and_store_intact);
        suite_add_tcase(su, tc);
        SRunner *sr = srunner_create(su);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
