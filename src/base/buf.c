/*
 * buf.c — growable byte buffer; see buf.h.  Growth is geometric so appends are
 * amortised O(1); the data is kept NUL-terminated for callers that want a string.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

void buf_grow(struct berth_buf *b, size_t extra)
{
        if (b->len + extra + 1 <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + extra + 1) {
                if (cap > SIZE_MAX / 2)
                        berth_oom();
                cap *= 2;
        }
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
}

void buf_append(struct berth_buf *b, const void *p, size_t n)
{
        buf_grow(b, n);
        if (n)
                memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void buf_puts(struct berth_buf *b, const char *s)
{
        buf_append(b, s, strlen(s));
}

void buf_putc(struct berth_buf *b, char c)
{
        buf_grow(b, 1);
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
}

void buf_printf(struct berth_buf *b, const char *fmt, ...)
{
        buf_grow(b, 128);
        for (;;) {
                size_t room = b->cap - b->len;
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(b->data + b->len, room, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        b->data[b->len] = '\0';
                        return;
                }
                if ((size_t)n < room) {
                        b->len += (size_t)n;
                        return;
                }
                buf_grow(b, (size_t)n);
        }
}

char *buf_steal(struct berth_buf *b)
{
        if (!b->data)
                buf_grow(b, 0), b->data[0] = '\0';
        char *p = b->data;
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}

void buf_release(struct berth_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}
