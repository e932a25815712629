/*
 * buf.h — a growable byte buffer (always NUL-terminated) for building strings,
 * HTTP messages and JSON text without fixed-size arrays.
 */
#ifndef BERTH_BASE_BUF_H
#define BERTH_BASE_BUF_H

#include <stddef.h>

#include "macro.h"

struct berth_buf {
        char *data;
        size_t len, cap;
};

#define BERTH_BUF_INIT                                                                             \
        {                                                                                          \
                NULL, 0, 0                                                                         \
        }

void buf_grow(struct berth_buf *b, size_t extra);
void buf_append(struct berth_buf *b, const void *p, size_t n);
void buf_puts(struct berth_buf *b, const char *s);
void buf_putc(struct berth_buf *b, char c);
_printf_(2, 3) void buf_printf(struct berth_buf *b, const char *fmt, ...);
/* Empty it, keeping the memory. */
static inline void buf_reset(struct berth_buf *b)
{
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}
/* Hand the contents on (never NULL) and reset the buffer. */
char *buf_steal(struct berth_buf *b);
void buf_release(struct berth_buf *b);
static inline void buf_releasep(struct berth_buf *b)
{
        buf_release(b);
}
#define _cleanup_buf_ _cleanup_(buf_releasep)

#endif
