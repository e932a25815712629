/*
 * log.c — stderr logging in logrus' text layout (see log.h).
 *
 * Each line is formatted into a buffer and written with one write(2), so
 * concurrent threads produce whole lines.  The message is quoted as logrus
 * does: backslash and double quote escaped, control characters as \n, \t or
 * \xNN, so one event is always one line.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "fileio.h"
#include "log.h"

static _Atomic int log_level = BERTH_LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static void (*_Atomic log_sink)(enum berth_log_level, const char *);

static const char *const level_names[] = {
    [BERTH_LOG_ERROR] = "error",
    [BERTH_LOG_WARN] = "warning",
    [BERTH_LOG_INFO] = "info",
    [BERTH_LOG_DEBUG] = "debug",
};

int berth_log_level_from_string(const char *s, enum berth_log_level *ret)
{
        if (!s)
                return -EINVAL;
        if (strcasecmp(s, "debug") == 0 || strcasecmp(s, "trace") == 0)
                *ret = BERTH_LOG_DEBUG;
        else if (strcasecmp(s, "info") == 0)
                *ret = BERTH_LOG_INFO;
        else if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
                *ret = BERTH_LOG_WARN;
        else if (strcasecmp(s, "error") == 0 || strcasecmp(s, "fatal") == 0 ||
                 strcasecmp(s, "panic") == 0)
                *ret = BERTH_LOG_ERROR;
        else
                return -EINVAL;
        return 0;
}

const char *berth_log_level_to_string(enum berth_log_level level)
{
        if ((unsigned)level >= ELEMENTSOF(level_names))
                return "info";
        return level_names[level];
}

void berth_log_set_level(enum berth_log_level level)
{
        atomic_store(&log_level, (int)level);
}

enum berth_log_level berth_log_get_level(void)
{
        return (enum berth_log_level)atomic_load(&log_level);
}

void berth_log_set_fd(int fd)
{
        atomic_store(&log_fd, fd);
}

void berth_log_set_sink(void (*sink)(enum berth_log_level level, const char *msg))
{
        atomic_store(&log_sink, sink);
}

void berth_log(enum berth_log_level level, const char *fmt, ...)
{
        if (!berth_log_enabled(level))
                return;
        int saved = errno;

        char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                berth_oom();
        void (*sink)(enum berth_log_level, const char *) = atomic_load(&log_sink);
        if (sink) {
                sink(level, msg);
                free(msg);
                errno = saved;
                return;
        }

        struct timespec ts;
        struct tm tm;
        char stamp[40];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

        struct berth_buf b = BERTH_BUF_INIT;
        buf_printf(&b, "time=\"%s.%09ldZ\" level=%s msg=\"", stamp, ts.tv_nsec,
                   berth_log_level_to_string(level));
        for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
                if (*p == '"' || *p == '\\') {
                        buf_putc(&b, '\\');
                        buf_putc(&b, (char)*p);
                } else if (*p == '\n') {
                        buf_puts(&b, "\\n");
                } else if (*p == '\t') {
                        buf_puts(&b, "\\t");
                } else if (*p < 0x20 || *p == 0x7f) {
                        buf_printf(&b, "\\x%02x", *p);
                } else {
                        buf_putc(&b, (char)*p);
                }
        }
        buf_puts(&b, "\"\n");
        (void)write_all(atomic_load(&log_fd), b.data, b.len);
        buf_release(&b);
        free(msg);
        errno = saved;
}
