/*
 * alloc.c — allocation that aborts on exhaustion.  A container runtime or a
 * daemon has no sane path forward without memory, and checking every small
 * allocation hides the real error paths.
 */
#include <stdarg.h>
#include <string.h>

#include "macro.h"

void berth_oom(void)
{
        static const char msg[] = "berth: out of memory\n";
        ssize_t _unused_ w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                berth_oom();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                berth_oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                berth_oom();
        return p;
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                berth_oom();
        return p;
}

char **strv_copy(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        char **r = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                r[i] = xstrdup(v[i]);
        return r;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                berth_oom();
        return p;
}

char *xasprintf(const char *fmt, ...)
{
        char *p = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (r < 0)
                berth_oom();
        return p;
}
