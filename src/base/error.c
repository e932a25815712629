/*
 * error.c — construction of berth_error values (see error.h for the contract).
 *
 * berth_error_sys() appends the errno's text as Go prints it ("permission
 * denied", not libc's "Permission denied"): docker's CLI decides exit codes
 * 126 and 127 by matching those words in the daemon's messages.
 */
#include <stdarg.h>
#include <string.h>

#include "error.h"

#ifdef __GLIBC__
#define errno_text strerror
#else
/*
 * musl words some errnos otherwise than glibc, whose texts Go's (and so
 * docker's) messages are: those a runtime can meet, in glibc's words, for the
 * musl-built berth-shim-helper-lite.
 */
static const char *const glibc_text[] = {
    [EIO] = "Input/output error",
    [ECHILD] = "No child processes",
    [ENOMEM] = "Cannot allocate memory",
    [EBUSY] = "Device or resource busy",
    [EXDEV] = "Invalid cross-device link",
    [EMFILE] = "Too many open files",
    [ENOTTY] = "Inappropriate ioctl for device",
    [ESPIPE] = "Illegal seek",
    [EDOM] = "Numerical argument out of domain",
    [ERANGE] = "Numerical result out of range",
    [EDEADLK] = "Resource deadlock avoided",
    [ENAMETOOLONG] = "File name too long",
    [ELOOP] = "Too many levels of symbolic links",
    [ETIME] = "Timer expired",
    [ENOPKG] = "Package not installed",
    [EREMOTE] = "Object is remote",
    [EOVERFLOW] = "Value too large for defined data type",
    [ELIBACC] = "Can not access a needed shared library",
    [ELIBBAD] = "Accessing a corrupted shared library",
    [ELIBEXEC] = "Cannot exec a shared library directly",
    [EILSEQ] = "Invalid or incomplete multibyte or wide character",
    [ENOTSOCK] = "Socket operation on non-socket",
    [EMSGSIZE] = "Message too long",
    [EOPNOTSUPP] = "Operation not supported",
    [EADDRINUSE] = "Address already in use",
    [EADDRNOTAVAIL] = "Cannot assign requested address",
    [ENETUNREACH] = "Network is unreachable",
    [ENETRESET] = "Network dropped connection on reset",
    [ECONNABORTED] = "Software caused connection abort",
    [EISCONN] = "Transport endpoint is already connected",
    [ENOTCONN] = "Transport endpoint is not connected",
    [ESHUTDOWN] = "Cannot send after transport endpoint shutdown",
    [ETIMEDOUT] = "Connection timed out",
    [EHOSTUNREACH] = "No route to host",
    [EINPROGRESS] = "Operation now in progress",
    [EUCLEAN] = "Structure needs cleaning",
    [EDQUOT] = "Disk quota exceeded",
    [EOWNERDEAD] = "Owner died",
};

static const char *errno_text(int code)
{
        if (code > 0 && (size_t)code < ELEMENTSOF(glibc_text) && glibc_text[code])
                return glibc_text[code];
        return strerror(code);
}
#endif

__attribute__((format(printf, 4, 0))) static int set_va(struct berth_error **err, int code,
                                                        bool sys, const char *fmt, va_list ap)
{
        if (code < 0)
                code = -code;
        if (code == 0)
                code = EIO;
        if (!err || *err)
                return -code;
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                berth_oom();
        if (sys) {
                /* Go's wording, which docker's clients match on ("permission
                 * denied", "no such file or directory"): libc's, lowercased */
                char *full = xasprintf("%s: %s", msg, errno_text(code));
                char *reason = full + strlen(msg) + 2;
                if (reason[0] >= 'A' && reason[0] <= 'Z' && !(reason[1] >= 'A' && reason[1] <= 'Z'))
                        reason[0] = (char)(reason[0] - 'A' + 'a');
                free(msg);
                msg = full;
        }
        struct berth_error *e = xmalloc(sizeof(*e));
        e->code = code;
        e->msg = msg;
        *err = e;
        return -code;
}

int berth_error_set(struct berth_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = set_va(err, code, false, fmt, ap);
        va_end(ap);
        return r;
}

int berth_error_sys(struct berth_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = set_va(err, code, true, fmt, ap);
        va_end(ap);
        return r;
}

int berth_error_prefix(struct berth_error **err, const char *fmt, ...)
{
        if (!err || !*err)
                return -EIO;
        char *ctx = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&ctx, fmt, ap) < 0)
                berth_oom();
        va_end(ap);
        char *full = xasprintf("%s: %s", ctx, (*err)->msg);
        free(ctx);
        free((*err)->msg);
        (*err)->msg = full;
        return -(*err)->code;
}

void berth_error_free(struct berth_error *e)
{
        if (!e)
                return;
        free(e->msg);
        free(e);
}

const char *berth_error_msg(const struct berth_error *e)
{
        return e && e->msg ? e->msg : "unknown error";
}
