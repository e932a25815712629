/*
 * tabwriter.c — Go's elastic tabstops (text/tabwriter, docker's fork) in C.
 *
 * How: bytes are collected into cells; each line is a list of cells.  When
 * a line without tabs ends, or on flush, format() lays out the buffered
 * lines: a column's block is the run of consecutive lines that have a cell
 * in that column, its width the widest cell plus padding (at least
 * minwidth); blocks nest, which is why format() recurses once per column.
 * The recursion depth is the number of cells in a line; cells past
 * MAX_CELLS on one line are kept as text of the last cell, so hostile input
 * cannot exhaust the stack.
 *
 * Never: pad the trailing cell of a line, or count bytes as widths.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cli/tabwriter.h"

#define MAX_CELLS 4096

struct cell {
        size_t size;  /* bytes */
        size_t width; /* display cells */
        int htab;     /* terminated by '\t' */
};

struct line {
        struct cell *cells;
        size_t n, cap;
};

struct tabwriter {
        struct berth_buf *out;
        int minwidth, tabwidth, padding;
        char padchar;
        unsigned flags;
        struct berth_buf text;
        size_t pos;       /* text up to which the current cell's width is counted */
        struct cell cell; /* the incomplete cell */
        char end_char;    /* inside an escape: its terminator */
        struct line *lines;
        size_t nlines, lines_cap;
        size_t *widths;
        size_t nwidths, widths_cap;
};

/* Zero-width ranges (combining marks, format characters) and wide ranges (East Asian). */
static const uint32_t zero_ranges[][2] = {
    {0x0300, 0x036f}, {0x0483, 0x0489},   {0x0591, 0x05bd}, {0x05bf, 0x05bf}, {0x05c1, 0x05c2},
    {0x05c4, 0x05c5}, {0x05c7, 0x05c7},   {0x0610, 0x061a}, {0x064b, 0x065f}, {0x0670, 0x0670},
    {0x06d6, 0x06dc}, {0x06df, 0x06e4},   {0x0900, 0x0902}, {0x093a, 0x093a}, {0x093c, 0x093c},
    {0x0941, 0x0948}, {0x094d, 0x094d},   {0x0e31, 0x0e31}, {0x0e34, 0x0e3a}, {0x0e47, 0x0e4e},
    {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff},   {0x200b, 0x200f}, {0x2028, 0x202e}, {0x2060, 0x2064},
    {0x20d0, 0x20ff}, {0x302a, 0x302d},   {0x3099, 0x309a}, {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f},
    {0xfeff, 0xfeff}, {0xe0100, 0xe01ef},
};

static const uint32_t wide_ranges[][2] = {
    {0x1100, 0x115f},   {0x231a, 0x231b},   {0x2329, 0x232a},   {0x23e9, 0x23ec},
    {0x23f0, 0x23f0},   {0x23f3, 0x23f3},   {0x25fd, 0x25fe},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267f, 0x267f},   {0x2693, 0x2693},   {0x26a1, 0x26a1},
    {0x26aa, 0x26ab},   {0x26bd, 0x26be},   {0x26c4, 0x26c5},   {0x26ce, 0x26ce},
    {0x26d4, 0x26d4},   {0x26ea, 0x26ea},   {0x26f2, 0x26f3},   {0x26f5, 0x26f5},
    {0x26fa, 0x26fa},   {0x26fd, 0x26fd},   {0x2705, 0x2705},   {0x270a, 0x270b},
    {0x2728, 0x2728},   {0x274c, 0x274c},   {0x274e, 0x274e},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27b0, 0x27b0},   {0x27bf, 0x27bf},
    {0x2b1b, 0x2b1c},   {0x2b50, 0x2b50},   {0x2b55, 0x2b55},   {0x2e80, 0x303e},
    {0x3041, 0x33ff},   {0x3400, 0x4dbf},   {0x4e00, 0x9fff},   {0xa000, 0xa4cf},
    {0xa960, 0xa97f},   {0xac00, 0xd7a3},   {0xf900, 0xfaff},   {0xfe10, 0xfe19},
    {0xfe30, 0xfe6f},   {0xff00, 0xff60},   {0xffe0, 0xffe6},   {0x16fe0, 0x16fe4},
    {0x17000, 0x18cff}, {0x1b000, 0x1b2ff}, {0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf},
    {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f251}, {0x1f300, 0x1f64f},
    {0x1f680, 0x1f6ff}, {0x1f7e0, 0x1f7eb}, {0x1f90c, 0x1f9ff}, {0x1fa70, 0x1faff},
    {0x20000, 0x2fffd}, {0x30000, 0x3fffd},
};

static bool in_ranges(uint32_t r, const uint32_t (*t)[2], size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (r >= t[i][0] && r <= t[i][1])
                        return true;
        return false;
}

bool tabwriter_rune_is_wide(uint32_t r)
{
        return in_ranges(r, wide_ranges, ELEMENTSOF(wide_ranges));
}

static size_t rune_width(uint32_t r)
{
        if (r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0xad)
                return 0;
        if (r < 0x300)
                return 1;
        if (in_ranges(r, zero_ranges, ELEMENTSOF(zero_ranges)))
                return 0;
        if (in_ranges(r, wide_ranges, ELEMENTSOF(wide_ranges)))
                return 2;
        return 1;
}

size_t tabwriter_text_width(const char *s, size_t n)
{
        size_t w = 0;
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char)s[i];
                uint32_t r;
                size_t len = 1;
                if (c < 0x80) {
                        r = c;
                } else if (c >= 0xc2 && c < 0xf5) {
                        len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
                        r = c & (0x3f >> (len - 1));
                        size_t k = 1;
                        for (; k < len && i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80;
                             k++)
                                r = (r << 6) | ((unsigned char)s[i + k] & 0x3f);
                        if (k != len) {
                                r = 0xfffd; /* invalid: one replacement character per byte */
                                len = 1;
                        }
                } else {
                        r = 0xfffd;
                }
                w += rune_width(r);
                i += len;
        }
        return w;
}

static void add_line(struct tabwriter *tw)
{
        if (tw->nlines == tw->lines_cap) {
                tw->lines_cap = tw->lines_cap ? tw->lines_cap * 2 : 16;
                tw->lines = xrealloc(tw->lines, tw->lines_cap * sizeof(*tw->lines));
                memset(tw->lines + tw->nlines, 0,
                       (tw->lines_cap - tw->nlines) * sizeof(*tw->lines));
        }
        tw->lines[tw->nlines++].n = 0;
}

static void reset(struct tabwriter *tw)
{
        tw->text.len = 0;
        tw->pos = 0;
        tw->cell = (struct cell){0};
        tw->end_char = 0;
        tw->nlines = 0;
        tw->nwidths = 0;
        add_line(tw);
}

struct tabwriter *tabwriter_new(struct berth_buf *out, int minwidth, int tabwidth, int padding,
                                char padchar, unsigned flags)
{
        struct tabwriter *tw = xcalloc(1, sizeof(*tw));
        tw->out = out;
        tw->minwidth = minwidth < 0 ? 0 : minwidth;
        tw->tabwidth = tabwidth < 0 ? 0 : tabwidth;
        tw->padding = padding < 0 ? 0 : padding;
        tw->padchar = padchar;
        if (padchar == '\t')
                flags &= ~(unsigned)TABWRITER_ALIGN_RIGHT;
        tw->flags = flags;
        buf_append(&tw->text, "", 0);
        reset(tw);
        return tw;
}

void tabwriter_free(struct tabwriter *tw)
{
        if (!tw)
                return;
        for (size_t i = 0; i < tw->lines_cap; i++)
                free(tw->lines[i].cells);
        free(tw->lines);
        free(tw->widths);
        buf_release(&tw->text);
        free(tw);
}

static void write_n(struct tabwriter *tw, char c, size_t n)
{
        for (size_t i = 0; i < n; i++)
                buf_putc(tw->out, c);
}

static void write_padding(struct tabwriter *tw, size_t textw, size_t cellw, bool use_tabs)
{
        if (tw->padchar == '\t' || use_tabs) {
                if (tw->tabwidth == 0)
                        return;
                size_t tabw = (size_t)tw->tabwidth;
                cellw = (cellw + tabw - 1) / tabw * tabw;
                size_t n = cellw > textw ? cellw - textw : 0;
                write_n(tw, '\t', (n + tabw - 1) / tabw);
                return;
        }
        write_n(tw, tw->padchar, cellw > textw ? cellw - textw : 0);
}

static size_t write_lines(struct tabwriter *tw, size_t pos, size_t line0, size_t line1)
{
        for (size_t i = line0; i < line1; i++) {
                struct line *line = &tw->lines[i];
                bool use_tabs = tw->flags & TABWRITER_TAB_INDENT;
                for (size_t j = 0; j < line->n; j++) {
                        struct cell *c = &line->cells[j];
                        if (j > 0 && (tw->flags & TABWRITER_DEBUG))
                                buf_putc(tw->out, '|');
                        if (c->size == 0) {
                                if (j < tw->nwidths)
                                        write_padding(tw, c->width, tw->widths[j], use_tabs);
                                continue;
                        }
                        use_tabs = false;
                        if (!(tw->flags & TABWRITER_ALIGN_RIGHT)) {
                                buf_append(tw->out, tw->text.data + pos, c->size);
                                pos += c->size;
                                if (j < tw->nwidths)
                                        write_padding(tw, c->width, tw->widths[j], false);
                        } else {
                                if (j < tw->nwidths)
                                        write_padding(tw, c->width, tw->widths[j], false);
                                buf_append(tw->out, tw->text.data + pos, c->size);
                                pos += c->size;
                        }
                }
                if (i + 1 == tw->nlines) {
                        /* the last buffered line: its incomplete cell, unterminated */
                        buf_append(tw->out, tw->text.data + pos, tw->cell.size);
                        pos += tw->cell.size;
                } else {
                        buf_putc(tw->out, '\n');
                }
        }
        return pos;
}

static size_t format(struct tabwriter *tw, size_t pos, size_t line0, size_t line1)
{
        size_t column = tw->nwidths;
        for (size_t this = line0; this < line1; this ++) {
                struct line *line = &tw->lines[this];
                if (column + 1 >= line->n)
                        continue;
                /* a cell in this column starts a block of lines */
                pos = write_lines(tw, pos, line0, this);
                line0 = this;
                size_t width = (size_t)tw->minwidth;
                bool discardable = true;
                for (; this < line1; this ++) {
                        line = &tw->lines[this];
                        if (column + 1 >= line->n)
                                break;
                        struct cell *c = &line->cells[column];
                        size_t w = c->width + (size_t)tw->padding;
                        if (w > width)
                                width = w;
                        if (c->width > 0 || c->htab)
                                discardable = false;
                }
                if (discardable && (tw->flags & TABWRITER_DISCARD_EMPTY_COLUMNS))
                        width = 0;
                if (tw->nwidths == tw->widths_cap) {
                        tw->widths_cap = tw->widths_cap ? tw->widths_cap * 2 : 16;
                        tw->widths = xrealloc(tw->widths, tw->widths_cap * sizeof(*tw->widths));
                }
                tw->widths[tw->nwidths++] = width;
                pos = format(tw, pos, line0, this);
                tw->nwidths--;
                /* as Go's: the line that ended the block has no cell in this column */
                line0 = this;
        }
        return write_lines(tw, pos, line0, line1);
}

static void append_text(struct tabwriter *tw, const char *p, size_t n)
{
        buf_append(&tw->text, p, n);
        tw->cell.size += n;
}

static void update_width(struct tabwriter *tw)
{
        tw->cell.width += tabwriter_text_width(tw->text.data + tw->pos, tw->text.len - tw->pos);
        tw->pos = tw->text.len;
}

static size_t terminate_cell(struct tabwriter *tw, bool htab)
{
        tw->cell.htab = htab;
        struct line *line = &tw->lines[tw->nlines - 1];
        if (line->n == line->cap) {
                line->cap = line->cap ? line->cap * 2 : 8;
                line->cells = xrealloc(line->cells, line->cap * sizeof(*line->cells));
        }
        line->cells[line->n++] = tw->cell;
        tw->cell = (struct cell){0};
        return line->n;
}

static void end_escape(struct tabwriter *tw)
{
        update_width(tw);
        if (tw->cell.width >= 2)
                tw->cell.width -= 2; /* the two escape bytes have no width */
        tw->pos = tw->text.len;
        tw->end_char = 0;
}

static void flush_internal(struct tabwriter *tw)
{
        if (tw->cell.size > 0) {
                if (tw->end_char)
                        end_escape(tw);
                terminate_cell(tw, false);
        }
        format(tw, 0, 0, tw->nlines);
        reset(tw);
}

void tabwriter_flush(struct tabwriter *tw)
{
        flush_internal(tw);
}

void tabwriter_write(struct tabwriter *tw, const char *buf, size_t len)
{
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
                char ch = buf[i];
                if (tw->end_char == 0) {
                        switch (ch) {
                        case '\t':
                        case '\v':
                        case '\n':
                        case '\f': {
                                append_text(tw, buf + n, i - n);
                                update_width(tw);
                                n = i + 1;
                                if ((ch == '\t' || ch == '\v') &&
                                    tw->lines[tw->nlines - 1].n + 1 >= MAX_CELLS) {
                                        /* too many cells on one line: keep the tab as text */
                                        append_text(tw, &ch, 1);
                                        tw->pos = tw->text.len;
                                        break;
                                }
                                size_t ncells = terminate_cell(tw, ch == '\t');
                                if (ch == '\n' || ch == '\f') {
                                        add_line(tw);
                                        if (ch == '\f' || ncells == 1) {
                                                flush_internal(tw);
                                                if (ch == '\f' && (tw->flags & TABWRITER_DEBUG))
                                                        buf_puts(tw->out, "---\n");
                                        }
                                }
                                break;
                        }
                        case TABWRITER_ESCAPE:
                                append_text(tw, buf + n, i - n);
                                update_width(tw);
                                n = i;
                                tw->end_char = TABWRITER_ESCAPE;
                                break;
                        default:
                                break;
                        }
                } else if (ch == tw->end_char) {
                        append_text(tw, buf + n, i + 1 - n);
                        n = i + 1;
                        end_escape(tw);
                }
        }
        append_text(tw, buf + n, len - n);
}

void tabwriter_puts(struct tabwriter *tw, const char *s)
{
        tabwriter_write(tw, s, strlen(s));
}
