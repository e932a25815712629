/*
 * log.h — the daemon's logging hook: one line per event on stderr.
 *
 * Lines look like logrus' text format, which dockerd users grep for:
 *   time="2026-11-28T09:06:52.123Z" level=info msg="API listen on /run/berth/berth.sock"
 * The level threshold is process-wide and may change at any time (SIGHUP
 * reload); writes are one write(2) each, so lines from threads never interleave.
 *
 * Library code may log (that is what the hook is for) but never decides what
 * the user sees on failure: errors still travel up as struct berth_error.
 * Never: log secrets (registry credentials, auth headers).
 */
#ifndef BERTH_BASE_LOG_H
#define BERTH_BASE_LOG_H

#include <stdbool.h>

#include "macro.h"

enum berth_log_level {
        BERTH_LOG_ERROR = 0,
        BERTH_LOG_WARN,
        BERTH_LOG_INFO,
        BERTH_LOG_DEBUG,
};

/* Parse "debug", "info", "warn"/"warning", "error", "fatal"; -EINVAL otherwise. */
int berth_log_level_from_string(const char *s, enum berth_log_level *ret);
const char *berth_log_level_to_string(enum berth_log_level level);

void berth_log_set_level(enum berth_log_level level);
enum berth_log_level berth_log_get_level(void);
static inline bool berth_log_enabled(enum berth_log_level level)
{
        return level <= berth_log_get_level();
}

/* Where lines go (default 2 = stderr); for tests. */
void berth_log_set_fd(int fd);
/* A program with a log format of its own (berth-runtime's --log and
 * --log-format, as runc's) takes every enabled message here, unformatted,
 * instead of the fd.  NULL restores the fd. */
void berth_log_set_sink(void (*sink)(enum berth_log_level level, const char *msg));

_printf_(2, 3) void berth_log(enum berth_log_level level, const char *fmt, ...);

#define log_error(...) berth_log(BERTH_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  berth_log(BERTH_LOG_WARN, __VA_ARGS__)
#define log_info(...)  berth_log(BERTH_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
        do {                                                                                       \
                if (berth_log_enabled(BERTH_LOG_DEBUG))                                            \
                        berth_log(BERTH_LOG_DEBUG, __VA_ARGS__);                                   \
        } while (0)

#endif
