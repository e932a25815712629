/*
 * test-decompress.c — the streaming decoder must give back exactly the bytes
 * that gzip, zstd, bzip2 and xz compressed (also as concatenated members,
 * whatever the piece sizes pushed), pass other bytes through untouched, and
 * report corrupt or truncated input as an error naming the format, never as
 * short output.  The compressed inputs are made here with each library's own
 * encoder.
 */
#include <bzlib.h>
#include <check.h>
#include <lzma.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/buf.h"
#include "image/decompress.h"

static int collect(const void *buf, size_t len, void *userdata, struct berth_error **err)
{
        buf_append(userdata, buf, len);
        return 0;
}

/* Deterministic input with long repeats and noise, a few hundred KiB. */
static void make_input(struct berth_buf *b, size_t n)
{
        uint32_t x = 12345;
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                char c = (i / 4096) % 3 ? (char)('a' + (i % 26)) : (char)(x >> 24);
                buf_putc(b, c);
        }
}

static void gzip_compress(const struct berth_buf *in, struct berth_buf *out)
{
        z_stream z = {0};
        ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        size_t cap = deflateBound(&z, in->len);
        buf_grow(out, cap);
        z.next_in = (Bytef *)in->data;
        z.avail_in = (uInt)in->len;
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)cap;
        ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        out->len += cap - z.avail_out;
        deflateEnd(&z);
}

static void zstd_compress(const struct berth_buf *in, struct berth_buf *out)
{
        /* With a checksum, as the zstd tool writes frames by default (without
         * one, corrupt literals can decode silently: the archive's digests
         * catch that). */
        size_t cap = ZSTD_compressBound(in->len);
        buf_grow(out, cap);
        ZSTD_CCtx *c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        size_t n = ZSTD_compress2(c, out->data + out->len, cap, in->data, in->len);
        ZSTD_freeCCtx(c);
        ck_assert(!ZSTD_isError(n));
        out->len += n;
}

static void bzip2_compress(const struct berth_buf *in, struct berth_buf *out)
{
        unsigned cap = (unsigned)(in->len + in->len / 100 + 600);
        buf_grow(out, cap);
        ck_assert_int_eq(BZ2_bzBuffToBuffCompress(out->data + out->len, &cap, in->data,
                                                  (unsigned)in->len, 9, 0, 0),
                         BZ_OK);
        out->len += cap;
}

static void xz_compress(const struct berth_buf *in, struct berth_buf *out)
{
        size_t cap = lzma_stream_buffer_bound(in->len), pos = 0;
        buf_grow(out, cap);
        ck_assert_int_eq(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL,
                                                 (const uint8_t *)in->data, in->len,
                                                 (uint8_t *)out->data + out->len, &pos, cap),
                         LZMA_OK);
        out->len += pos;
}

typedef void (*compress_fn)(const struct berth_buf *in, struct berth_buf *out);

static const struct {
        enum decomp_format format;
        compress_fn compress;
} formats[] = {
    {DECOMP_GZIP, gzip_compress},
    {DECOMP_ZSTD, zstd_compress},
    {DECOMP_BZIP2, bzip2_compress},
    {DECOMP_XZ, xz_compress},
};

/* Decode `in` pushed in pieces of `piece` bytes; 0 or the error's code. */
static int decode(const struct berth_buf *in, size_t piece, struct berth_buf *out,
                  enum decomp_format *ret_format, struct berth_error **err)
{
        struct decompressor *d = decomp_new(collect, out);
        int r = 0;
        for (size_t off = 0; r == 0 && off < in->len; off += piece)
                r = decomp_write(d, in->data + off, in->len - off < piece ? in->len - off : piece,
                                 err);
        if (r == 0)
                r = decomp_finish(d, err);
        if (ret_format)
                *ret_format = decomp_format(d);
        decomp_free(d);
        return r;
}

START_TEST(test_round_trip_and_concatenation)
{
        static const size_t pieces[] = {1, 7, 4096, 1 << 20};
        _cleanup_buf_ struct berth_buf a = BERTH_BUF_INIT, b = BERTH_BUF_INIT;
        make_input(&a, 300000);
        buf_puts(&b, "second member\n");
        _cleanup_buf_ struct berth_buf both = BERTH_BUF_INIT;
        buf_append(&both, a.data, a.len);
        buf_append(&both, b.data, b.len);

        _cleanup_buf_ struct berth_buf z = BERTH_BUF_INIT;
        formats[_i].compress(&a, &z);
        formats[_i].compress(&b, &z); /* a second member/stream/frame */
        for (size_t k = 0; k < ELEMENTSOF(pieces); k++) {
                if (pieces[k] == 1 && formats[_i].format == DECOMP_BZIP2)
                        continue; /* byte by byte through bzip2 is slow, and proves nothing new */
                _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
                struct berth_error *err = NULL;
                enum decomp_format f;
                ck_assert_int_eq(decode(&z, pieces[k], &out, &f, &err), 0);
                ck_assert_int_eq(f, formats[_i].format);
                ck_assert_uint_eq(out.len, both.len);
                ck_assert(memcmp(out.data, both.data, both.len) == 0);
        }
}
END_TEST

START_TEST(test_truncated_and_corrupt)
{
        _cleanup_buf_ struct berth_buf a = BERTH_BUF_INIT, z = BERTH_BUF_INIT;
        make_input(&a, 200000);
        formats[_i].compress(&a, &z);
        const char *name = decomp_format_name(formats[_i].format);

        /* Cut anywhere after the magic: an error naming the format, never success. */
        static const size_t cuts[] = {10, 100, 2};
        for (size_t k = 0; k < ELEMENTSOF(cuts); k++) {
                struct berth_buf cut = {.data = z.data, .len = z.len - z.len / cuts[k]};
                _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
                struct berth_error *err = NULL;
                ck_assert_int_lt(decode(&cut, 4096, &out, NULL, &err), 0);
                ck_assert_msg(strncmp(err->msg, name, strlen(name)) == 0, "%s", err->msg);
                berth_error_free(err);
        }

        /* Flip bytes in the middle of the data. */
        _cleanup_buf_ struct berth_buf bad = BERTH_BUF_INIT;
        buf_append(&bad, z.data, z.len);
        for (size_t i = z.len / 3; i < z.len / 3 + 64; i++)
                bad.data[i] ^= 0x5a;
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        struct berth_error *err = NULL;
        ck_assert_int_lt(decode(&bad, 65536, &out, NULL, &err), 0);
        ck_assert_msg(strncmp(err->msg, name, strlen(name)) == 0, "%s", err->msg);
        berth_error_free(err);
}
END_TEST

START_TEST(test_plain_passes_through)
{
        static const char *inputs[] = {"",
                                       "a",
                                       "BZ",
                                       "ustar-ish text that is no magic",
                                       "\x1f",
                                       "\xfd"
                                       "7zX"};
        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                struct berth_buf in = {.data = (char *)inputs[i], .len = strlen(inputs[i])};
                _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
                struct berth_error *err = NULL;
                enum decomp_format f;
                ck_assert_int_eq(decode(&in, 3, &out, &f, &err), 0);
                ck_assert_int_eq(f, DECOMP_PLAIN);
                ck_assert_uint_eq(out.len, in.len);
                ck_assert(in.len == 0 || memcmp(out.data, in.data, in.len) == 0);
        }
}
END_TEST

static int refuse(const void *buf, size_t len, void *userdata, struct berth_error **err)
{
        return berth_error_set(err, ENOSPC, "sink: full");
}

START_TEST(test_sink_error_stops)
{
        _cleanup_buf_ struct berth_buf a = BERTH_BUF_INIT, z = BERTH_BUF_INIT;
        make_input(&a, 100000);
        formats[_i].compress(&a, &z);
        struct decompressor *d = decomp_new(refuse, NULL);
        struct berth_error *err = NULL;
        ck_assert_int_eq(decomp_write(d, z.data, z.len, &err), -ENOSPC);
        ck_assert_str_eq(err->msg, "sink: full");
        berth_error_free(err);
        decomp_free(d);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("decompress");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_round_trip_and_concatenation, 0, (int)ELEMENTSOF(formats));
        tcase_add_loop_test(tc, test_truncated_and_corrupt, 0, (int)ELEMENTSOF(formats));
        tcase_add_test(tc, test_plain_passes_through);
        tcase_add_loop_test(tc, test_sink_error_stops, 0, (int)ELEMENTSOF(formats));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
