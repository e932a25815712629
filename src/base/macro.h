/*
 * macro.h — the small vocabulary every berth file uses.
 *
 * Cleanup attributes (_cleanup_free_, _cleanup_close_, …) free a resource when
 * its variable leaves scope; TAKE_PTR / TAKE_FD hand ownership on and leave the
 * variable empty so the cleanup does nothing.  Cleanup helpers preserve errno,
 * so an error path can free and still report what failed.
 *
 * Never: hide control flow in a macro, or evaluate an argument twice where it
 * could have a side effect (the helpers below use statement expressions).
 */
#ifndef BERTH_BASE_MACRO_H
#define BERTH_BASE_MACRO_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_     __attribute__((unused))
#define _noreturn_   __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_       __attribute__((pure))
#define _likely_(x)   __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _tp_ = (p);                                                          \
                (p) = NULL;                                                                        \
                _tp_;                                                                              \
        })

#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _tf_ = (fd);                                                                   \
                (fd) = -EBADF;                                                                     \
                _tf_;                                                                              \
        })

static inline void freep(void *p)
{
        int saved = errno;
        free(*(void **)p);
        errno = saved;
}

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f)
{
        if (*f) {
                int saved = errno;
                fclose(*f);
                errno = saved;
        }
}

static inline void closedirp(DIR **d)
{
        if (*d) {
                int saved = errno;
                closedir(*d);
                errno = saved;
        }
}

/* A NULL-terminated array of strings, each owned. */
static inline void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static inline void strv_freep(char ***v)
{
        int saved = errno;
        strv_free(*v);
        errno = saved;
}

#define _cleanup_free_    _cleanup_(freep)
#define _cleanup_close_   _cleanup_(closep)
#define _cleanup_fclose_  _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Out of memory aborts: there is no sane recovery in a runtime or daemon. */
_noreturn_ void berth_oom(void);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A copy of the NULL-terminated v (NULL: an empty one). */
char **strv_copy(char *const *v);
_printf_(1, 2) char *xasprintf(const char *fmt, ...);

#endif
