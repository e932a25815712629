/*
 * test-ingest.c — a pulled layer lands as a verified blob and an unpacked
 * layer in one pass; what is already there is not fetched again (or is
 * unpacked from the stored blob); a wrong digest publishes neither, a wrong
 * diff_id keeps the (verified) blob but no layer.
 */
#include <check.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "image/ingest.h"

static char base[64];
static char root[128];

static void base_setup(void)
{
        strcpy(base, "/tmp/berth-test-ingest-XXXXXX");
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
        rm_rf(root);
}

/* A one-file ustar archive, gzip-compressed. */
static void make_layer(struct berth_buf *tar, struct berth_buf *gz)
{
        char h[512] = {0};
        strcpy(h, "hello.txt");
        strcpy(h + 100, "0000644");
        strcpy(h + 108, "0000000");
        strcpy(h + 116, "0000000");
        strcpy(h + 124, "00000000005");
        strcpy(h + 136, "14000000000");
        h[156] = '0';
        memcpy(h + 257,
               "ustar\0"
               "00",
               8);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)h[i];
        snprintf(h + 148, 8, "%06o", sum);
        buf_append(tar, h, 512);
        char data[512] = "world";
        buf_append(tar, data, 512);
        char zero[1024] = {0};
        buf_append(tar, zero, sizeof(zero));
        z_stream z = {0};
        ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
        buf_grow(gz, deflateBound(&z, tar->len) + 64);
        z.next_in = (Bytef *)tar->data;
        z.avail_in = (uInt)tar->len;
        z.next_out = (Bytef *)gz->data;
        z.avail_out = (uInt)(gz->cap - 1);
        ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        gz->len = z.total_out;
        deflateEnd(&z);
}

static void sha(const void *p, size_t n, char out[72])
{
        unsigned char md[32];
        unsigned int l;
        EVP_Digest(p, n, md, &l, EVP_sha256(), NULL);
        strcpy(out, "sha256:");
        blob_sha256_hex(md, out + 7);
}

/* As registry_blob_fetch() drives a sink: chunks, and the sink's own error. */
static int feed_err(struct layer_ingest *in, const struct berth_buf *b, struct berth_error **err)
{
        for (size_t off = 0; off < b->len; off += 100) {
                size_t n = b->len - off < 100 ? b->len - off : 100;
                int r = layer_ingest_write(b->data + off, n, in, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int feed(struct layer_ingest *in, const struct berth_buf *b)
{
        struct berth_error *err = NULL;
        int r = feed_err(in, b, &err);
        berth_error_free(err);
        return r;
}

START_TEST(test_one_pass_and_reuse)
{
        struct berth_buf tar = BERTH_BUF_INIT, gz = BERTH_BUF_INIT;
        make_layer(&tar, &gz);
        char digest[72], diff[72];
        sha(gz.data, gz.len, digest);
        sha(tar.data, tar.len, diff);
        struct blob_store *s = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(blob_store_open(root, &s, &err), 0);
        struct layer_ingest_opts o = {.digest = digest, .size = (int64_t)gz.len, .diff_id = diff};

        struct layer_ingest *in = NULL;
        ck_assert_int_eq(layer_ingest_begin(s, &o, &in, &err), 0);
        ck_assert_int_eq(feed(in, &gz), 0);
        struct layer_result res;
        ck_assert_msg(layer_ingest_commit(in, &res, &err) == 0, "%s", berth_error_msg(err));
        ck_assert_str_eq(res.digest, digest);
        ck_assert_str_eq(res.diff_id, diff);
        ck_assert_str_eq(res.chain_id, diff);
        ck_assert(blob_store_exists(s, digest));
        ck_assert(layer_exists(root, diff));
        char *p = layer_path(root, diff), *f = xasprintf("%s/hello.txt", p), *c = NULL;
        ck_assert_int_eq(read_file_at(AT_FDCWD, f, 100, &c, NULL), 0);
        ck_assert_str_eq(c, "world");
        free(c);

        /* everything present: nothing to fetch */
        ck_assert_int_eq(layer_ingest_begin(s, &o, &in, &err), 1);
        ck_assert_ptr_null(in);

        /* the layer gone, the blob kept: unpacked from the store, no fetch */
        ck_assert_int_eq(layer_delete(root, diff, &err), 0);
        ck_assert_int_eq(layer_ingest_begin(s, &o, &in, &err), 1);
        ck_assert(layer_exists(root, diff));
        ck_assert_int_eq(read_file_at(AT_FDCWD, f, 100, &c, NULL), 0);
        ck_assert_str_eq(c, "world");
        free(c);

        /* the blob gone, the layer kept: fetched into the store only */
        ck_assert_int_eq(blob_store_delete(s, digest, &err), 0);
        ck_assert_int_eq(layer_ingest_begin(s, &o, &in, &err), 0);
        ck_assert_int_eq(feed(in, &gz), 0);
        ck_assert_int_eq(layer_ingest_commit(in, &res, &err), 0);
        ck_assert(blob_store_exists(s, digest));
        ck_assert_str_eq(res.diff_id, ""); /* nothing unpacked this time */

        free(f);
        free(p);
        blob_store_free(s);
        buf_release(&tar);
        buf_release(&gz);
}
END_TEST

START_TEST(test_wrong_digest_publishes_nothing)
{
        struct berth_buf tar = BERTH_BUF_INIT, gz = BERTH_BUF_INIT;
        make_layer(&tar, &gz);
        char diff[72];
        sha(tar.data, tar.len, diff);
        const char *wrong =
            "sha256:4444444444444444444444444444444444444444444444444444444444444444";
        struct blob_store *s = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(blob_store_open(root, &s, &err), 0);
        struct layer_ingest_opts o = {.digest = wrong, .size = -1, .diff_id = diff};
        struct layer_ingest *in = NULL;
        ck_assert_int_eq(layer_ingest_begin(s, &o, &in, &err), 0);
        ck_assert_int_eq(feed(in, &gz), 0);
        ck_assert_int_eq(layer_ingest_commit(in, NULL, &err), -EIO);
        ck_assert_msg(strstr(err->msg, "digest mismatch"), "%s", err->msg);
        berth_error_free(err);
        err = NULL;
        ck_assert(!blob_store_exists(s, wrong));
        ck_assert(!layer_exists(root, diff)); /* bytes that lied never become a layer */
        char **all = NULL;
        ck_assert_int_eq(layer_list(root, &all, &err), 0);
        ck_assert_ptr_null(all[0]);
        strv_free(all);

        /* a wrong diff id: the blob is fine and kept, the layer is refused */
        char digest[72];
        sha(gz.data, gz.len, digest);
        const char *wrong_diff =
            "sha256:5555555555555555555555555555555555555555555555555555555555555555";
        o = (struct layer_ingest_opts){.digest = digest, .size = -1, .diff_id = wrong_diff};
        ck_assert_int_eq(layer_ingest_begin(s, &o, &in, &err), 0);
        ck_assert_int_eq(feed(in, &gz), 0);
        ck_assert_int_eq(layer_ingest_commit(in, NULL, &err), -EIO);
        ck_assert_msg(strstr(err->msg, "diff id mismatch"), "%s", err->msg);
        berth_error_free(err);
        err = NULL;
        ck_assert(blob_store_exists(s, digest));
        ck_assert(!layer_exists(root, wrong_diff));
        ck_assert(!layer_exists(root, diff));

        /* a write error is kept for the caller */
        o = (struct layer_ingest_opts){.digest = digest, .size = 10, .diff_id = diff};
        ck_assert_int_eq(blob_store_delete(s, digest, &err), 0);
        ck_assert_int_eq(layer_ingest_begin(s, &o, &in, &err), 0);
        ck_assert_int_eq(feed_err(in, &gz, &err), -EFBIG);
        ck_assert_msg(strstr(err->msg, "size mismatch"), "%s", err->msg);
        berth_error_free(err);
        err = NULL;
        ck_assert_int_eq(layer_ingest_commit(in, NULL, &err), -EFBIG);
        char *want = xasprintf("layer %s: a write failed", digest);
        ck_assert_str_eq(err->msg, want);
        free(want);
        ck_assert(!blob_store_exists(s, digest));
        berth_error_free(err);
        blob_store_free(s);
        buf_release(&tar);
        buf_release(&gz);
}
END_TEST

struct racer {
        struct blob_store *s;
        const struct layer_ingest_opts *o;
        const struct berth_buf *gz;
        int result; /* 0 fetched it, 1 found it, <0 failed */
};

static void *race(void *arg)
{
        struct racer *r = arg;
        struct layer_ingest *in = NULL;
        struct berth_error *err = NULL;
        r->result = layer_ingest_begin(r->s, r->o, &in, &err);
        if (r->result == 0) {
                usleep(100 * 1000); /* the others arrive while this one "downloads" */
                if (feed(in, r->gz) < 0) {
                        r->result = -1;
                        layer_ingest_abort(in);
                } else if (layer_ingest_commit(in, NULL, &err) < 0)
                        r->result = -2;
        }
        berth_error_free(err);
        return NULL;
}

START_TEST(test_concurrent_pulls_fetch_once)
{
        struct berth_buf tar = BERTH_BUF_INIT, gz = BERTH_BUF_INIT;
        make_layer(&tar, &gz);
        char digest[72], diff[72];
        sha(gz.data, gz.len, digest);
        sha(tar.data, tar.len, diff);
        struct blob_store *s = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(blob_store_open(root, &s, &err), 0);
        struct layer_ingest_opts o = {.digest = digest, .size = (int64_t)gz.len, .diff_id = diff};
        struct racer rs[5];
        pthread_t th[5];
        for (int i = 0; i < 5; i++) {
                rs[i] = (struct racer){.s = s, .o = &o, .gz = &gz};
                pthread_create(&th[i], NULL, race, &rs[i]);
        }
        int fetched = 0, found = 0;
        for (int i = 0; i < 5; i++) {
                pthread_join(th[i], NULL);
                fetched += rs[i].result == 0;
                found += rs[i].result == 1;
        }
        ck_assert_int_eq(fetched, 1);
        ck_assert_int_eq(found, 4);
        ck_assert(blob_store_exists(s, digest));
        ck_assert(layer_exists(root, diff));
        blob_store_free(s);
        buf_release(&tar);
        buf_release(&gz);
}
END_TEST

int main(void)
{
        Suite *su = suite_create("ingest");
        TCase *tc = tcase_create("core");
        tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_one_pass_and_reuse);
        tcase_add_test(tc, test_wrong_digest_publishes_nothing);
        tcase_add_test(tc, test_concurrent_pulls_fetch_once);
        suite_add_tcase(su, tc);
        SRunner *sr = srunner_create(su);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
