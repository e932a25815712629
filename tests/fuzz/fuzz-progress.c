/*
 * fuzz-progress.c — libFuzzer target for the pull/push progress renderer:
 * the input is a daemon stream, fed in pieces whose sizes come from the
 * first byte, on a terminal of a width from the second byte and without
 * one.  Nothing may crash or leak, whatever the daemon sends.
 */
#include <stdint.h>
#include <string.h>

#include "cli/progress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fixed_now(void)
{
        return 1700000000LL * 1000000000LL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        size_t chunk = (size_t)data[0] % 64 + 1;
        int width = data[1];
        data += 2;
        size -= 2;
        for (int tty = 0; tty < 2; tty++) {
                struct progress *p = progress_new(tty, width);
                progress_set_clock(p, fixed_now);
                struct berth_buf out = BERTH_BUF_INIT;
                struct berth_error *err = NULL;
                int r = 0;
                for (size_t i = 0; i < size && r >= 0; i += chunk)
                        r = progress_feed(p, (const char *)data + i,
                                          size - i < chunk ? size - i : chunk, &out, &err);
                if (r >= 0)
                        r = progress_finish(p, &out, &err);
                berth_error_free(err);
                buf_release(&out);
                progress_free(p);
        }
        return 0;
}
