/*
 * tabwriter.h — Go's text/tabwriter as docker's CLI vendors it
 * (cli/command/formatter/tabwriter), so that `berth images` / `berth ps`
 * tables are byte-identical to docker's.
 *
 * Text is a sequence of cells terminated by '\t' (or '\v'); a '\n' ends a
 * line; a line without any tab ends a block of aligned columns and flushes
 * it (as Go's does).  A column is as wide as its widest cell plus padding,
 * at least minwidth; the last cell of a line is not padded.  Width counts
 * terminal cells (go-runewidth: East Asian wide runes are 2, combining marks
 * and control characters 0).  Docker's tables use
 * tabwriter_new(out, 10, 1, 3, ' ', 0).
 *
 * Never: split a multi-byte UTF-8 sequence, or pad a line's trailing cell.
 */
#ifndef BERTH_CLI_TABWRITER_H
#define BERTH_CLI_TABWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum tabwriter_flags {
        TABWRITER_ALIGN_RIGHT = 1 << 2,
        TABWRITER_DISCARD_EMPTY_COLUMNS = 1 << 3,
        TABWRITER_TAB_INDENT = 1 << 4,
        TABWRITER_DEBUG = 1 << 5,
};

/* Escape character: text between two 0xff bytes is one cell fragment of its own width. */
#define TABWRITER_ESCAPE '\xff'

struct tabwriter;

/* Output is appended to out, which the caller owns and drains when it likes. */
struct tabwriter *tabwriter_new(struct berth_buf *out, int minwidth, int tabwidth, int padding,
                                char padchar, unsigned flags);
void tabwriter_write(struct tabwriter *tw, const char *p, size_t n);
void tabwriter_puts(struct tabwriter *tw, const char *s);
/* Format and emit everything buffered (Go's Flush). */
void tabwriter_flush(struct tabwriter *tw);
void tabwriter_free(struct tabwriter *tw);
static inline void tabwriter_freep(struct tabwriter **tw)
{
        tabwriter_free(*tw);
}
#define _cleanup_tabwriter_ _cleanup_(tabwriter_freep)

/* East Asian wide or fullwidth (two terminal columns). */
bool tabwriter_rune_is_wide(uint32_t r);

/* Display width of s (go-runewidth StringWidth, without grapheme clustering). */
size_t tabwriter_text_width(const char *s, size_t n);

#endif
