/*
 * decompress.h — push-style streaming decompression, the format found from the
 * first bytes: gzip (isa-l's igzip when built with it, else zlib), zstd, bzip2,
 * xz, or plain bytes passed through.  Used for `load` archives, which docker
 * accepts compressed with any of these.
 *
 * Bytes are pushed in with decomp_write() in pieces of any size; output goes to
 * the sink in pieces of at most the output buffer's size (DECOMP_OUT_SIZE, or
 * the caller's: decomp_set_buffer) as it is produced.
 * Concatenated members/streams/frames are decoded one after another, as gzip,
 * bzip2, xz and zstd tools do.  decomp_finish() says whether the input ended
 * at the end of a complete stream; a truncated stream is an error
 * ("<format>: unexpected end of compressed data").
 *
 * Never: produce output from bytes the decoder rejected, or read past what
 * was pushed.
 */
#ifndef BERTH_IMAGE_DECOMPRESS_H
#define BERTH_IMAGE_DECOMPRESS_H

#include <stddef.h>

#include "base/error.h"

#define DECOMP_OUT_SIZE (256 * 1024)

enum decomp_format {
        DECOMP_PLAIN,
        DECOMP_GZIP,
        DECOMP_ZSTD,
        DECOMP_BZIP2,
        DECOMP_XZ,
};

/* "gzip", "zstd", "bzip2", "xz", "plain". */
const char *decomp_format_name(enum decomp_format f);

/* Receives decompressed bytes; a negative errno (with *err) stops decoding. */
typedef int (*decomp_sink_fn)(const void *buf, size_t len, void *userdata,
                              struct berth_error **err);

struct decompressor;

/* The format is detected from the first 6 bytes pushed (fewer when the input
 * is shorter: then it is plain). */
struct decompressor *decomp_new(decomp_sink_fn sink, void *userdata);
int decomp_write(struct decompressor *d, const void *buf, size_t len, struct berth_error **err);
/* End of input: flushes what is held and checks the stream is complete. */
int decomp_finish(struct decompressor *d, struct berth_error **err);
/*
 * Decode into buf (cap bytes) from now on instead of the decompressor's own
 * buffer.  The sink may call this for the next buffer while it holds the one
 * it was given (a zero-copy pipeline queues the filled buffer and supplies a
 * free one).  Plain input is passed to the sink as pushed, never copied.
 */
void decomp_set_buffer(struct decompressor *d, unsigned char *buf, size_t cap);
/* The detected format (DECOMP_PLAIN until detection). */
enum decomp_format decomp_format(const struct decompressor *d);
void decomp_free(struct decompressor *d);
static inline void decomp_freep(struct decompressor **d)
{
        decomp_free(*d);
}
#define _cleanup_decomp_ _cleanup_(decomp_freep)

#endif
