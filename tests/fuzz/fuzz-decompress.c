/*
 * fuzz-decompress.c — libFuzzer target for the streaming decoder `load`
 * feeds archives through.  The first byte picks a piece size, so the peek
 * buffer, member boundaries and library buffers are split everywhere; the
 * sink checks the output never exceeds a bound (a bomb in a fuzz input would
 * otherwise just run long) and stops the decoder when it does, as a full disk
 * would.  Crashes, leaks and sanitizer reports are the findings.
 */
#include <stdint.h>
#include <string.h>

#include "image/decompress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUT (8u << 20)

static int sink(const void *buf, size_t len, void *userdata, struct berth_error **err)
{
        size_t *total = userdata;
        if (len == 0 || len > DECOMP_OUT_SIZE)
                __builtin_trap();
        *total += len;
        if (*total > MAX_OUT)
                return berth_error_set(err, EFBIG, "fuzz: output bound reached");
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        size_t piece = (size_t)data[0] * 7 + 1, total = 0;
        data++;
        size--;
        struct decompressor *d = decomp_new(sink, &total);
        struct berth_error *err = NULL;
        int r = 0;
        for (size_t off = 0; r == 0 && off < size; off += piece)
                r = decomp_write(d, data + off, size - off < piece ? size - off : piece, &err);
        if (r == 0)
                r = decomp_finish(d, &err);
        if (r < 0 && (!err || !err->msg[0]))
                __builtin_trap(); /* every failure says why */
        if (r == 0 && decomp_format(d) == DECOMP_PLAIN && total != size)
                __builtin_trap(); /* plain bytes pass through whole */
        berth_error_free(err);
        decomp_free(d);
        return 0;
}
