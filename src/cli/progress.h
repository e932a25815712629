/*
 * progress.h — docker's jsonmessage renderer for the JSON progress streams
 * of pull, push, load and build (DisplayJSONMessagesStream).
 *
 * Input: concatenated JSON objects {"status","id","progress",
 * "progressDetail":{"current","total","start","hidecounts","units"},
 * "stream","from","time","timeNano","errorDetail":{"code","message"},
 * "error","aux"}, fed in whatever pieces they arrive in.
 *
 * Output, exactly as docker's CLI writes it:
 *  - on a terminal, each layer id with progress owns a line that is redrawn
 *    in place: a new id prints "\n"; then ESC[<n>A up to its line, ESC[2K
 *    and "\r" to clear it, "<id>: <status> <bar>\r", ESC[<n>B back down.
 *    The bar is "[====>     ] " (50 wide, shown when the terminal is wider
 *    than 110 columns), then "%8s/%s" sizes, then the ETA when the terminal
 *    is wider than 50 and the message has a start time.
 *  - otherwise, messages that would show a bar are skipped and the rest
 *    print as "<id>: <status>\n".
 *  - "errorDetail" (or, without it, "error") ends the stream: the feed
 *    returns an error whose message is the daemon's message, which the CLI
 *    prints on stderr before exiting 1.
 *  - "aux" objects are handed to the aux callback and print nothing.
 *
 * How `berth pull` uses it: p = progress_new(isatty(1), progress_terminal_width(1));
 * for each chunk of the response body progress_feed(p, chunk, n, &out, &err) and
 * write out to stdout; at the end progress_finish(); on error print err->msg on
 * stderr and exit 1.  docker pull itself then prints the reference pulled.
 *
 * Never: print a partial JSON object, or buffer without bound (one message
 * is limited to PROGRESS_MAX_MESSAGE bytes).
 */
#ifndef BERTH_CLI_PROGRESS_H
#define BERTH_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"

#define PROGRESS_MAX_MESSAGE (16u << 20)

struct progress;

typedef void (*progress_aux_fn)(const struct json *aux, void *userdata);

/* width: terminal columns (progress_terminal_width()); ignored off a terminal,
 * where docker renders as if 200 columns wide. */
struct progress *progress_new(bool is_terminal, int width);
void progress_free(struct progress *p);
static inline void progress_freep(struct progress **p)
{
        progress_free(*p);
}
#define _cleanup_progress_ _cleanup_(progress_freep)

void progress_set_width(struct progress *p, int width);
void progress_set_aux(struct progress *p, progress_aux_fn fn, void *userdata);
/* Clock for the ETA, in Unix nanoseconds (tests pin it); default: CLOCK_REALTIME. */
void progress_set_clock(struct progress *p, int64_t (*now_ns)(void));

/* Render every complete message in data; output is appended to out. */
int progress_feed(struct progress *p, const char *data, size_t len, struct berth_buf *out,
                  struct berth_error **err);
/* End of stream: a trailing incomplete message is the error "unexpected EOF". */
int progress_finish(struct progress *p, struct berth_buf *out, struct berth_error **err);

/* After a feed failed on an error message: its errorDetail.code (0 when it had none;
 * docker's build exits with it, 1 for 0). */
int progress_error_code(const struct progress *p);
/* Columns of the terminal on fd, or 200 when it is not one (docker's default). */
int progress_terminal_width(int fd);

#endif
