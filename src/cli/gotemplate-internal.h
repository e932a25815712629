/*
 * gotemplate-internal.h — what gotemplate.c (parse, execute) and
 * gotemplate-fmt.c (Go's fmt and encoding/json printing rules) share.
 * Nothing outside src/cli/gotemplate*.c includes this.
 */
#ifndef BERTH_CLI_GOTEMPLATE_INTERNAL_H
#define BERTH_CLI_GOTEMPLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/json.h"

/* Go's type name of a JSON value as encoding/json decodes it ("<nil>" for NULL). */
const char *gt_type_name(const struct json *v);
bool gt_is_int(const struct json *v);
/* fmt.Sprint / Sprintln semantics over n values (NULL = nil interface). */
void gt_sprint(struct berth_buf *b, const struct json *const *v, size_t n);
void gt_sprintln(struct berth_buf *b, const struct json *const *v, size_t n);
/* fmt.Sprintf with the verbs docker users write (%s %v %d %q %x %f %g %e %t %c %%). */
void gt_sprintf(struct berth_buf *b, const char *fmt, size_t fmtlen, const struct json *const *v,
                size_t n);
/* encoding/json, keys in document order; NULL -> null; escape_html: <, >, & as \u003c… */
void gt_json_encode(struct berth_buf *b, const struct json *v, bool escape_html);
/* strconv.Quote of s, or of its first maxrunes runes when maxrunes >= 0 (%.Nq). */
void gt_quote(struct berth_buf *b, const char *s, size_t len, long maxrunes);
/* strconv.FormatFloat(d, verb, prec, 64) for verb e, f, g (prec -1 = shortest). */
void gt_format_float(struct berth_buf *b, double d, char verb, int prec);

#endif
