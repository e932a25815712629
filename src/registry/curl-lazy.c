/*
 * curl-lazy.c — libcurl loaded on first use instead of at start-up.
 *
 * Why: libcurl as Debian builds it drags in some thirty libraries (GnuTLS,
 * Kerberos, LDAP, SASL, libssh2, RTMP, p11-kit, …).  Mapping and relocating
 * them at start costs berthd about 3.5 MB of resident memory while it idles,
 * which is half the daemon's budget, although most daemons never pull.  So
 * the registry client's curl_* calls land here; the first one dlopen()s
 * libcurl.so.4 (once, under pthread_once) and every call forwards to the real
 * function.  With the linker's --as-needed, nothing in the program refers to
 * libcurl any more and it is not loaded until a pull or push needs it.
 *
 * The variadic setters forward the one argument by the type libcurl's option
 * numbering gives it (long, pointer, function pointer, curl_off_t).
 *
 * Never: change what a curl call does, or abort when libcurl cannot be
 * loaded (init functions return NULL / CURLE_FAILED_INIT, and the registry
 * client reports that as an error).
 */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>

#include "base/log.h"

#define CURL_SONAME "libcurl.so.4"

static struct {
        CURLcode (*global_init)(long);
        CURL *(*easy_init)(void);
        void (*easy_cleanup)(CURL *);
        CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
        CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
        CURLcode (*easy_perform)(CURL *);
        const char *(*easy_strerror)(CURLcode);
        char *(*easy_escape)(CURL *, const char *, int);
        void (*free_)(void *);
        CURLSH *(*share_init)(void);
        CURLSHcode (*share_setopt)(CURLSH *, CURLSHoption, ...);
        CURLSHcode (*share_cleanup)(CURLSH *);
        struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
        void (*slist_free_all)(struct curl_slist *);
        CURLU *(*url)(void);
        void (*url_cleanup)(CURLU *);
        CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
        CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
} fn;
static bool loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define SYM(field, name)                                                                           \
        do {                                                                                       \
                *(void **)&fn.field = dlsym(h, name);                                              \
                if (!fn.field)                                                                     \
                        ok = false;                                                                \
        } while (0)

static void load(void)
{
        void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                log_error("registry: cannot load %s: %s", CURL_SONAME, dlerror());
                return;
        }
        bool ok = true;
        SYM(global_init, "curl_global_init");
        SYM(easy_init, "curl_easy_init");
        SYM(easy_cleanup, "curl_easy_cleanup");
        SYM(easy_setopt, "curl_easy_setopt");
        SYM(easy_getinfo, "curl_easy_getinfo");
        SYM(easy_perform, "curl_easy_perform");
        SYM(easy_strerror, "curl_easy_strerror");
        SYM(easy_escape, "curl_easy_escape");
        SYM(free_, "curl_free");
        SYM(share_init, "curl_share_init");
        SYM(share_setopt, "curl_share_setopt");
        SYM(share_cleanup, "curl_share_cleanup");
        SYM(slist_append, "curl_slist_append");
        SYM(slist_free_all, "curl_slist_free_all");
        SYM(url, "curl_url");
        SYM(url_cleanup, "curl_url_cleanup");
        SYM(url_get, "curl_url_get");
        SYM(url_set, "curl_url_set");
        if (!ok) {
                log_error("registry: %s lacks a function berth needs", CURL_SONAME);
                return;
        }
        loaded = true;
}

static bool ready(void)
{
        pthread_once(&once, load);
        return loaded;
}

CURLcode curl_global_init(long flags)
{
        return ready() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
        return ready() ? fn.easy_init() : NULL;
}

/* Functions below are only reached with a handle or value from the ones above. */
void curl_easy_cleanup(CURL *c)
{
        if (c && ready())
                fn.easy_cleanup(c);
}

CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
        if (!ready())
                return CURLE_FAILED_INIT;
        va_list ap;
        va_start(ap, opt);
        CURLcode r;
        if (opt < CURLOPTTYPE_OBJECTPOINT)
                r = fn.easy_setopt(c, opt, va_arg(ap, long));
        else if (opt < CURLOPTTYPE_OFF_T)
                r = fn.easy_setopt(c, opt, va_arg(ap, void *)); /* data and function pointers */
        else if (opt < CURLOPTTYPE_BLOB)
                r = fn.easy_setopt(c, opt, va_arg(ap, curl_off_t));
        else
                r = fn.easy_setopt(c, opt, va_arg(ap, void *));
        va_end(ap);
        return r;
}

CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
        if (!ready())
                return CURLE_FAILED_INIT;
        va_list ap;
        va_start(ap, info);
        CURLcode r = fn.easy_getinfo(c, info, va_arg(ap, void *));
        va_end(ap);
        return r;
}

CURLcode curl_easy_perform(CURL *c)
{
        return ready() ? fn.easy_perform(c) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
        return ready() ? fn.easy_strerror(code) : "libcurl could not be loaded";
}

char *curl_easy_escape(CURL *c, const char *s, int len)
{
        return ready() ? fn.easy_escape(c, s, len) : NULL;
}

void curl_free(void *p)
{
        if (p && ready())
                fn.free_(p);
}

CURLSH *curl_share_init(void)
{
        return ready() ? fn.share_init() : NULL;
}

CURLSHcode curl_share_setopt(CURLSH *sh, CURLSHoption opt, ...)
{
        if (!ready())
                return CURLSHE_NOT_BUILT_IN;
        va_list ap;
        va_start(ap, opt);
        CURLSHcode r;
        if (opt == CURLSHOPT_SHARE || opt == CURLSHOPT_UNSHARE)
                r = fn.share_setopt(sh, opt, va_arg(ap, int));
        else
                r = fn.share_setopt(sh, opt, va_arg(ap, void *));
        va_end(ap);
        return r;
}

CURLSHcode curl_share_cleanup(CURLSH *sh)
{
        return sh && ready() ? fn.share_cleanup(sh) : CURLSHE_OK;
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
        return ready() ? fn.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
        if (l && ready())
                fn.slist_free_all(l);
}

CURLU *curl_url(void)
{
        return ready() ? fn.url() : NULL;
}

void curl_url_cleanup(CURLU *u)
{
        if (u && ready())
                fn.url_cleanup(u);
}

CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
        return ready() ? fn.url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
        return ready() ? fn.url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}
