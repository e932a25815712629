/*
 * units.h — sizes, durations and IDs the way docker prints and parses them
 * (github.com/docker/go-units and pkg/stringid, as vendored by docker 28).
 *
 *   units_human_size(1234567)            "1.235MB"   (HumanSize: 4 significant digits, SI)
 *   units_human_size_prec(1234567, 3)    "1.23MB"    (docker images' SIZE column)
 *   units_bytes_size(1048576)            "1MiB"      (BytesSize: binary)
 *   units_human_duration(90 s)           "About a minute"; units_ago() adds " ago"
 *   units_go_duration(90 s)              "1m30s"     (Go's time.Duration.String)
 *   units_ram_in_bytes("512m")           536870912   (--memory: binary multiples)
 *   units_from_human_size("1kb")         1000        (decimal multiples)
 *   units_truncate_id("sha256:abc…")     first 12 characters after the algorithm
 *   units_go_date_time(year 1, ' ')     "0001-01-01 00:00:00" (Go's year, not strftime's "1")
 *   progress_bar(…)                      "[=====>    ]  12.3MB/24.6MB 3s" (JSONProgress.String,
 *                                        the daemon's "progress" field and the CLI's redraw)
 *
 * Never: print with a locale-dependent format (the decimal point is always '.').
 */
#ifndef BERTH_BASE_UNITS_H
#define BERTH_BASE_UNITS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/error.h"

#define UNITS_NSEC_PER_SEC 1000000000LL
/* Go's zero time.Time in Unix seconds (0001-01-01T00:00:00Z): what dockerd reports as the
 * creation time of an image or history entry whose config does not say it. */
#define UNITS_GO_ZERO_TIME (-62135596800LL)

void units_human_size_prec(struct berth_buf *b, double size, int precision);
void units_human_size(struct berth_buf *b, double size);
void units_bytes_size(struct berth_buf *b, double size);
/* d in nanoseconds; negative durations print "Less than a second", as Go's. */
void units_human_duration(struct berth_buf *b, int64_t d);
/* "<human duration> ago" for a Unix time, seen from now (both in seconds). */
void units_ago(struct berth_buf *b, int64_t unix_time, int64_t now);
void units_go_duration(struct berth_buf *b, int64_t d);
/* Go's time.ParseDuration ("1h30m", "10s", "1.5h", "-2m"); -EINVAL when it is not one. */
int units_parse_go_duration(const char *s, int64_t *ret_ns);
/* Go's strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False; else -EINVAL. */
int units_parse_go_bool(const char *s, bool *ret);
/*
 * docker's filter timestamps (pkg/timetypes GetTimestamp then ParseTimestamps), as the
 * `until` filters of prune take them: a Go duration back from now_ns ("10m"; whole seconds,
 * as docker's), a date or RFC 3339 time ("2024-01-02", "2024-01-02T15:04", "…Z", "…+02:00";
 * local time without a zone), or Unix seconds with an optional fraction ("1700000000.5").
 * On a value that is none of them, -EINVAL and docker's message in *err.
 */
int units_parse_timestamp(const char *s, int64_t now_ns, int64_t *ret_ns, struct berth_error **err);
/*
 * Unix nanoseconds as Go writes a time.Time in UTC: RFC3339Nano ("…05.12Z", trailing zeros of
 * the fraction dropped, no fraction at all on a whole second), as encoding/json marshals it;
 * with fixed, docker's RFC3339NanoFixed (always nine digits), as `logs -t` prints.
 */
void units_rfc3339_nano(int64_t ns, bool fixed, char out[48]);
/*
 * An RFC 3339 time ("2006-01-02T15:04:05", a fraction of any length, then "Z", "+hh:mm" or
 * nothing, read as UTC) -> Unix nanoseconds; -EINVAL when s does not start like one.  Text
 * after the zone is ignored.
 */
int units_parse_rfc3339(const char *s, int64_t *ret_ns);
/* "2006-01-02<sep>15:04:05" of tm with the year as Go writes it, four digits at least (year 1
 * is "0001", where strftime's %Y gives "1"). */
void units_go_date_time(struct berth_buf *b, const struct tm *tm, char sep);

/* Errors as go-units words them: "invalid size: 'x'", "invalid suffix: 'zb'". */
int units_ram_in_bytes(const char *s, int64_t *ret, struct berth_error **err);
int units_from_human_size(const char *s, int64_t *ret, struct berth_error **err);

/* stringid.TruncateID: drop "algo:" and keep 12 characters; returns a new string. */
char *units_truncate_id(const char *id);

/*
 * docker's JSONProgress.String(): bar (when width > 110), sizes or counts of
 * `units`, and the time left (when width > 50 and start is set), for
 * current/total; start and now_ns in Unix seconds / nanoseconds.
 */
void progress_bar(struct berth_buf *b, int64_t current, int64_t total, int64_t start,
                  bool hide_counts, const char *units, int width, int64_t now_ns);

#endif
