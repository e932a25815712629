/*
 * error.h — how berth reports failure.
 *
 * A fallible function returns 0 (or a non-negative result) on success and a
 * negative errno on failure, and fills `struct berth_error **err` once with a
 * one-line, lowercase message that names the thing and the reason.  Callers add
 * context on the way up with berth_error_prefix(), so the user finally reads
 * "create 'web': mount '/proc': operation not permitted".
 *
 * Library code never prints or exits; only the mains show an error.
 */
#ifndef BERTH_BASE_ERROR_H
#define BERTH_BASE_ERROR_H

#include "macro.h"
#include <stdbool.h>

struct berth_error {
        int code;  /* positive errno */
        char *msg; /* one line, no trailing newline or full stop */
};

/* Set *err (if err is non-NULL and *err is still NULL); return -abs(code). */
_printf_(3, 4) int berth_error_set(struct berth_error **err, int code, const char *fmt, ...);
/* Same, with ": strerror(code)" appended. */
_printf_(3, 4) int berth_error_sys(struct berth_error **err, int code, const char *fmt, ...);
/* Prefix an existing error with context: "<ctx>: <old msg>". Returns -err->code, or -EIO. */
_printf_(2, 3) int berth_error_prefix(struct berth_error **err, const char *fmt, ...);

void berth_error_free(struct berth_error *e);
/* Also takes the NULL of a caller that wants no error (err == NULL). */
static inline void berth_error_freep(struct berth_error **e)
{
        if (!e)
                return;
        berth_error_free(*e);
        *e = NULL;
}
#define _cleanup_error_ _cleanup_(berth_error_freep)

/* Message of an error, or "unknown error" for NULL. */
const char *berth_error_msg(const struct berth_error *e);

#endif
