/*
 * decompress.c — streaming gzip/zstd/bzip2/xz decoding (contract in
 * decompress.h).
 *
 * The first bytes pushed are held in a 6-byte peek buffer until the format
 * is known (the longest magic, xz's, is 6 bytes), then replayed through the
 * decoder.  Each decoder loop gives the library the whole input piece and
 * drains it into one DECOMP_OUT_SIZE buffer, handing every filled part to the
 * sink, until the input is consumed and the decoder stops filling the buffer.
 * A member/stream end with input left starts the next one (concatenation).
 * xz's decoder gets a 256 MiB memory limit, so a crafted header cannot make
 * it allocate gigabytes; zstd's default window limit (128 MiB) does the same.
 *
 * Never: hand the sink bytes of a stream the library reported as corrupt, or
 * loop without progress.
 */
#include <bzlib.h>
#include <lzma.h>
#include <string.h>
#include <zstd.h>
#ifdef HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

#include "base/macro.h"
#include "decompress.h"

#define XZ_MEMLIMIT (256ull << 20)

struct decompressor {
        decomp_sink_fn sink;
        void *userdata;
        enum decomp_format format;
        bool detected;
        unsigned char peek[6];
        size_t peek_len;
        unsigned char *out; /* the buffer being filled: own, or the caller's */
        size_t out_cap;
        unsigned char *own;
        bool ended; /* the last member/stream/frame is complete */
#ifdef HAVE_ISAL
        struct inflate_state *isal;
#else
        z_stream z;
        bool z_init;
#endif
        ZSTD_DStream *zstd;
        bz_stream bz;
        bool bz_init;
        lzma_stream xz;
        bool xz_init;
};

const char *decomp_format_name(enum decomp_format f)
{
        switch (f) {
        case DECOMP_GZIP:
                return "gzip";
        case DECOMP_ZSTD:
                return "zstd";
        case DECOMP_BZIP2:
                return "bzip2";
        case DECOMP_XZ:
                return "xz";
        case DECOMP_PLAIN:
                break;
        }
        return "plain";
}

struct decompressor *decomp_new(decomp_sink_fn sink, void *userdata)
{
        struct decompressor *d = xcalloc(1, sizeof(*d));
        d->sink = sink;
        d->userdata = userdata;
        return d;
}

void decomp_set_buffer(struct decompressor *d, unsigned char *buf, size_t cap)
{
        d->out = buf;
        d->out_cap = cap;
}

enum decomp_format decomp_format(const struct decompressor *d)
{
        return d->format;
}

static int emit(struct decompressor *d, size_t n, struct berth_error **err)
{
        return n ? d->sink(d->out, n, d->userdata, err) : 0;
}

/* ---- gzip ---- */

#ifdef HAVE_ISAL
static int gzip_run(struct decompressor *d, const unsigned char *in, size_t n,
                    struct berth_error **err)
{
        struct inflate_state *st = d->isal;
        while (n > 0) {
                if (d->ended) {
                        /* Another member follows.  isa-l may hold its first bytes in
                         * its bit buffer: take them back before the reset. */
                        unsigned char carry[8];
                        size_t nc = (size_t)st->read_in_length / 8;
                        for (size_t i = 0; i < nc; i++)
                                carry[i] = (unsigned char)(st->read_in >> (8 * i));
                        isal_inflate_reset(st);
                        st->crc_flag = ISAL_GZIP;
                        d->ended = false;
                        int r = nc ? gzip_run(d, carry, nc, err) : 0;
                        if (r < 0)
                                return r;
                }
                st->next_in = (uint8_t *)in;
                st->avail_in = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
                size_t given = st->avail_in;
                for (;;) {
                        uint32_t before = st->avail_in;
                        st->next_out = d->out;
                        st->avail_out = d->out_cap;
                        int ret = isal_inflate(st);
                        if (ret < 0 || (ret > ISAL_OUT_OVERFLOW && ret != ISAL_END_INPUT))
                                return berth_error_set(err, EINVAL,
                                                       "gzip: invalid compressed data (isa-l "
                                                       "error %d)",
                                                       ret);
                        int r = emit(d, d->out_cap - st->avail_out, err);
                        if (r < 0)
                                return r;
                        if (st->block_state == ISAL_BLOCK_FINISH) {
                                d->ended = true;
                                break;
                        }
                        if (st->avail_out > 0 && st->avail_in == 0)
                                break;
                        if (st->avail_out > 0 && st->avail_in == before)
                                return berth_error_set(err, EINVAL,
                                                       "gzip: the decoder made no progress");
                }
                size_t used = given - st->avail_in;
                in += used;
                n -= used;
        }
        return 0;
}

static void gzip_setup(struct decompressor *d)
{
        d->isal = xcalloc(1, sizeof(*d->isal));
        isal_inflate_init(d->isal);
        d->isal->crc_flag = ISAL_GZIP;
}

static void gzip_free(struct decompressor *d)
{
        free(d->isal);
}
#else
static int gzip_run(struct decompressor *d, const unsigned char *in, size_t n,
                    struct berth_error **err)
{
        z_stream *z = &d->z;
        while (n > 0) {
                if (d->ended) {
                        inflateReset(z);
                        d->ended = false;
                }
                z->next_in = (Bytef *)in;
                z->avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
                size_t given = z->avail_in;
                for (;;) {
                        z->next_out = d->out;
                        z->avail_out = d->out_cap;
                        int ret = inflate(z, Z_NO_FLUSH);
                        if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
                                return berth_error_set(err, EINVAL,
                                                       "gzip: invalid compressed data (%s)",
                                                       z->msg ? z->msg : "zlib error");
                        int r = emit(d, d->out_cap - z->avail_out, err);
                        if (r < 0)
                                return r;
                        if (ret == Z_STREAM_END) {
                                d->ended = true;
                                break;
                        }
                        if (z->avail_out > 0)
                                break;
                }
                size_t used = given - z->avail_in;
                in += used;
                n -= used;
        }
        return 0;
}

static void gzip_setup(struct decompressor *d)
{
        if (inflateInit2(&d->z, 15 + 16) != Z_OK)
                berth_oom();
        d->z_init = true;
}

static void gzip_free(struct decompressor *d)
{
        if (d->z_init)
                inflateEnd(&d->z);
}
#endif

/* ---- zstd ---- */

static int zstd_run(struct decompressor *d, const unsigned char *p, size_t n,
                    struct berth_error **err)
{
        ZSTD_inBuffer in = {p, n, 0};
        for (;;) {
                ZSTD_outBuffer out = {d->out, d->out_cap, 0};
                size_t pos = in.pos;
                size_t ret = ZSTD_decompressStream(d->zstd, &out, &in);
                if (ZSTD_isError(ret))
                        return berth_error_set(err, EINVAL, "zstd: %s", ZSTD_getErrorName(ret));
                /* 0: a frame just ended; a call that moved nothing says nothing. */
                if (in.pos > pos || out.pos > 0)
                        d->ended = ret == 0;
                int r = emit(d, out.pos, err);
                if (r < 0)
                        return r;
                if (in.pos == in.size && out.pos < out.size)
                        return 0;
        }
}

/* ---- bzip2 ---- */

static int bzip2_run(struct decompressor *d, const unsigned char *in, size_t n,
                     struct berth_error **err)
{
        bz_stream *s = &d->bz;
        while (n > 0) {
                if (d->ended) {
                        BZ2_bzDecompressEnd(s);
                        memset(s, 0, sizeof(*s));
                        if (BZ2_bzDecompressInit(s, 0, 0) != BZ_OK)
                                berth_oom();
                        d->ended = false;
                }
                s->next_in = (char *)in;
                s->avail_in = n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
                size_t given = s->avail_in;
                for (;;) {
                        s->next_out = (char *)d->out;
                        s->avail_out = d->out_cap;
                        int ret = BZ2_bzDecompress(s);
                        if (ret != BZ_OK && ret != BZ_STREAM_END)
                                return berth_error_set(err, EINVAL,
                                                       "bzip2: invalid compressed data (error "
                                                       "%d)",
                                                       ret);
                        int r = emit(d, d->out_cap - s->avail_out, err);
                        if (r < 0)
                                return r;
                        if (ret == BZ_STREAM_END) {
                                d->ended = true;
                                break;
                        }
                        if (s->avail_out > 0)
                                break;
                }
                size_t used = given - s->avail_in;
                in += used;
                n -= used;
        }
        return 0;
}

/* ---- xz ---- */

static int xz_code(struct decompressor *d, lzma_action action, struct berth_error **err)
{
        lzma_stream *s = &d->xz;
        for (;;) {
                s->next_out = d->out;
                s->avail_out = d->out_cap;
                lzma_ret ret = lzma_code(s, action);
                int r = emit(d, d->out_cap - s->avail_out, err);
                if (r < 0)
                        return r;
                switch (ret) {
                case LZMA_OK:
                        break;
                case LZMA_STREAM_END:
                        d->ended = true;
                        return 0;
                case LZMA_BUF_ERROR:
                        if (action == LZMA_FINISH)
                                return berth_error_set(err, EPIPE,
                                                       "xz: unexpected end of compressed data");
                        return 0;
                case LZMA_MEMLIMIT_ERROR:
                        return berth_error_set(err, EINVAL,
                                               "xz: the stream needs more than %llu MiB of "
                                               "memory to decode",
                                               XZ_MEMLIMIT >> 20);
                default:
                        return berth_error_set(err, EINVAL,
                                               "xz: invalid compressed data (error %d)", (int)ret);
                }
                if (s->avail_out > 0 && (action == LZMA_FINISH ? false : s->avail_in == 0))
                        return 0;
        }
}

static int xz_run(struct decompressor *d, const unsigned char *in, size_t n,
                  struct berth_error **err)
{
        d->xz.next_in = in;
        d->xz.avail_in = n;
        return xz_code(d, LZMA_RUN, err);
}

/* ---- dispatch ---- */

static int run(struct decompressor *d, const unsigned char *p, size_t n, struct berth_error **err)
{
        if (n == 0)
                return 0;
        switch (d->format) {
        case DECOMP_GZIP:
                return gzip_run(d, p, n, err);
        case DECOMP_ZSTD:
                return zstd_run(d, p, n, err);
        case DECOMP_BZIP2:
                return bzip2_run(d, p, n, err);
        case DECOMP_XZ:
                return xz_run(d, p, n, err);
        case DECOMP_PLAIN:
                break;
        }
        return d->sink(p, n, d->userdata, err);
}

static int detect(struct decompressor *d, struct berth_error **err)
{
        static const unsigned char gz[] = {0x1f, 0x8b}, zs[] = {0x28, 0xb5, 0x2f, 0xfd},
                                   bz[] = {'B', 'Z', 'h'}, xz[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
        d->detected = true;
        const unsigned char *p = d->peek;
        size_t n = d->peek_len;
        if (n >= sizeof(gz) && memcmp(p, gz, sizeof(gz)) == 0) {
                d->format = DECOMP_GZIP;
                gzip_setup(d);
        } else if (n >= sizeof(zs) && memcmp(p, zs, sizeof(zs)) == 0) {
                d->format = DECOMP_ZSTD;
                d->zstd = ZSTD_createDStream();
                if (!d->zstd)
                        berth_oom();
                ZSTD_initDStream(d->zstd);
        } else if (n >= sizeof(bz) && memcmp(p, bz, sizeof(bz)) == 0) {
                d->format = DECOMP_BZIP2;
                if (BZ2_bzDecompressInit(&d->bz, 0, 0) != BZ_OK)
                        berth_oom();
                d->bz_init = true;
        } else if (n >= sizeof(xz) && memcmp(p, xz, sizeof(xz)) == 0) {
                d->format = DECOMP_XZ;
                d->xz = (lzma_stream)LZMA_STREAM_INIT;
                if (lzma_stream_decoder(&d->xz, XZ_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK)
                        berth_oom();
                d->xz_init = true;
        } else {
                d->format = DECOMP_PLAIN;
        }
        if (d->format != DECOMP_PLAIN && !d->out) {
                d->own = d->out = xmalloc(DECOMP_OUT_SIZE);
                d->out_cap = DECOMP_OUT_SIZE;
        }
        return run(d, d->peek, d->peek_len, err);
}

int decomp_write(struct decompressor *d, const void *buf, size_t len, struct berth_error **err)
{
        const unsigned char *p = buf;
        if (!d->detected) {
                size_t k = sizeof(d->peek) - d->peek_len;
                if (k > len)
                        k = len;
                memcpy(d->peek + d->peek_len, p, k);
                d->peek_len += k;
                p += k;
                len -= k;
                if (d->peek_len < sizeof(d->peek))
                        return 0;
                int r = detect(d, err);
                if (r < 0)
                        return r;
        }
        return run(d, p, len, err);
}

int decomp_finish(struct decompressor *d, struct berth_error **err)
{
        int r;
        if (!d->detected && (r = detect(d, err)) < 0)
                return r;
        switch (d->format) {
        case DECOMP_PLAIN:
                return 0;
        case DECOMP_ZSTD:
                /* Drain what the decoder still holds. */
                if ((r = zstd_run(d, NULL, 0, err)) < 0)
                        return r;
                break;
        case DECOMP_XZ:
                d->xz.next_in = NULL;
                d->xz.avail_in = 0;
                if ((r = xz_code(d, LZMA_FINISH, err)) < 0)
                        return r;
                break;
        case DECOMP_GZIP:
        case DECOMP_BZIP2:
                break;
        }
        if (!d->ended)
                return berth_error_set(err, EPIPE, "%s: unexpected end of compressed data",
                                       decomp_format_name(d->format));
        return 0;
}

void decomp_free(struct decompressor *d)
{
        if (!d)
                return;
        if (d->format == DECOMP_GZIP)
                gzip_free(d);
        ZSTD_freeDStream(d->zstd);
        if (d->bz_init)
                BZ2_bzDecompressEnd(&d->bz);
        if (d->xz_init)
                lzma_end(&d->xz);
        free(d->own);
        free(d);
}
