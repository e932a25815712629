/*
 * fuzz-http.c — libFuzzer target for the HTTP/1.1 request parser and the
 * chunked decoder, the first code every byte from a client reaches.
 *
 * The input is parsed as berthd's loop does it: the head (fed in two pieces,
 * so the "need more" path runs too), then the rest as a chunked body decoded
 * in place in small steps.  Invariants: a complete head consumes no more than
 * it was given; the same head parsed whole or in pieces gives the same result;
 * the decoder never produces more than it consumes; the query helpers accept
 * whatever the target holds.
 */
#include <stdint.h>
#include <string.h>

#include "api/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        struct http_limits lim = {.max_head = 4096};
        struct http_request req;
        size_t used = 0;
        struct berth_error *err = NULL;

        /* In pieces: a prefix first must either be "need more" or the same answer. */
        size_t half = size / 2;
        int r1 = http_parse_request(buf, half, &lim, &req, &used, &err);
        if (r1 > 0)
                http_request_release(&req);
        berth_error_free(err);
        err = NULL;

        int r = http_parse_request(buf, size, &lim, &req, &used, &err);
        berth_error_free(err);
        err = NULL;
        if (r1 < 0 && r >= 0 && r1 != -EMSGSIZE)
                __builtin_trap(); /* an error in a prefix cannot heal with more bytes */
        if (r <= 0)
                return 0;
        if (used > size)
                __builtin_trap();

        if (req.query) {
                char *v = http_query_get(req.query, "fromImage");
                free(v);
        }
        char *p = http_unescape(req.path, strlen(req.path), false);
        free(p);
        (void)http_request_header(&req, "Content-Length");

        if (req.body_kind == HTTP_BODY_CHUNKED) {
                size_t len = size - used;
                char *work = malloc(len ? len : 1);
                if (!work)
                        __builtin_trap();
                memcpy(work, buf + used, len);
                struct http_chunked c = {0};
                size_t off = 0;
                while (off < len && !http_chunked_done(&c)) {
                        size_t step = len - off < 7 ? len - off : 7;
                        size_t in = 0, out = 0;
                        int cr =
                            http_chunked_decode(&c, work + off, step, work + off, &in, &out, &err);
                        berth_error_free(err);
                        err = NULL;
                        if (out > in || in > step)
                                __builtin_trap();
                        if (cr < 0)
                                break;
                        off += in;
                        if (in == 0)
                                break;
                }
                free(work);
        }
        http_request_release(&req);
        return 0;
}
