/*
 * berth-fmt.c — test driver for the CLI output layer: renders JSON read from
 * stdin with src/cli's modules, so that integration tests can compare the
 * bytes with what the real docker CLI prints for the same daemon data.
 *
 *   berth-fmt template FORMAT              execute a Go template over the JSON value
 *   berth-fmt images [--format F] [--no-trunc] [--digests] [-q] [--now UNIXSECS]
 *                                          GET /images/json body -> `docker images` output
 *   berth-fmt ps [--format F] [--no-trunc] [-q] [-s] [--now UNIXSECS]
 *                                          GET /containers/json body -> `docker ps` output
 *   berth-fmt tabwriter MINWIDTH TABWIDTH PADDING PADCHAR FLAGS
 *                                          text laid out by the tabwriter (in 5-byte writes)
 *   berth-fmt progress [--tty] [--width N] [--chunk N]
 *                                          a pull/push/load stream -> docker's rendering
 *
 * Errors go to stderr as the berth CLI would print them; exit status 1.
 * Test code only: it reads at most 64 MiB and never writes files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "cli/formatter.h"
#include "cli/gotemplate.h"
#include "cli/progress.h"
#include "cli/tabwriter.h"

static char *read_all(size_t *len)
{
        struct berth_buf b = BERTH_BUF_INIT;
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
                buf_append(&b, chunk, n);
                if (b.len > (64u << 20))
                        break;
        }
        *len = b.len;
        return buf_steal(&b);
}

static int fail(struct berth_error *e)
{
        fprintf(stderr, "%s\n", berth_error_msg(e));
        berth_error_free(e);
        return 1;
}

static void put(const struct berth_buf *b)
{
        if (b->len)
                fwrite(b->data, 1, b->len, stdout);
        fflush(stdout);
}

static int cmd_template(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: berth-fmt template FORMAT < data.json\n");
                return 2;
        }
        size_t len;
        _cleanup_free_ char *in = read_all(&len);
        _cleanup_json_ struct json *data = NULL;
        struct berth_error *e = NULL;
        if (len && json_parse(in, len, &data, &e) < 0)
                return fail(e);
        _cleanup_gotemplate_ struct gotemplate *t = NULL;
        if (gotemplate_parse(argv[2], &t, &e) < 0)
                return fail(e);
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        int r = gotemplate_exec(t, data, 0, &out, &e);
        put(&out);
        return r < 0 ? fail(e) : 0;
}

static int cmd_images(int argc, char **argv)
{
        const char *format = "";
        bool no_trunc = false, digests = false, quiet = false;
        int64_t now = (int64_t)time(NULL);
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
                        format = argv[++i];
                else if (strcmp(argv[i], "--no-trunc") == 0)
                        no_trunc = true;
                else if (strcmp(argv[i], "--digests") == 0)
                        digests = true;
                else if (strcmp(argv[i], "-q") == 0)
                        quiet = true;
                else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
                        now = strtoll(argv[++i], NULL, 10);
                else {
                        fprintf(stderr, "berth-fmt images: unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        size_t len;
        _cleanup_free_ char *in = read_all(&len);
        _cleanup_json_ struct json *data = NULL;
        struct berth_error *e = NULL;
        if (json_parse(in, len, &data, &e) < 0)
                return fail(e);
        _cleanup_free_ char *fmt = formatter_image_format(format, quiet, digests);
        _cleanup_json_ struct json *rows = formatter_image_rows(data, fmt, digests, no_trunc, now);
        _cleanup_json_ struct json *header = formatter_image_header();
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        if (formatter_write(fmt, rows, NULL, header, FORMATTER_IMAGE_ROW_TYPE, &out, &e) < 0)
                return fail(e);
        put(&out);
        return 0;
}

static int cmd_ps(int argc, char **argv)
{
        const char *format = "";
        bool no_trunc = false, quiet = false, size = false;
        int64_t now = (int64_t)time(NULL);
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
                        format = argv[++i];
                else if (strcmp(argv[i], "--no-trunc") == 0)
                        no_trunc = true;
                else if (strcmp(argv[i], "-q") == 0)
                        quiet = true;
                else if (strcmp(argv[i], "-s") == 0)
                        size = true;
                else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
                        now = strtoll(argv[++i], NULL, 10);
                else {
                        fprintf(stderr, "berth-fmt ps: unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        struct berth_error *e = NULL;
        if (*format && quiet)
                fputs("WARNING: Ignoring custom format, because both --format and --quiet are "
                      "set.\n",
                      stderr);
        /* docker ps validates --format before it lists, and asks for sizes .Size needs */
        if (*format) {
                bool uses_size;
                if (formatter_container_check(format, &uses_size, &e) < 0)
                        return fail(e);
                if (!quiet && uses_size)
                        size = true;
        }
        size_t len;
        _cleanup_free_ char *in = read_all(&len);
        _cleanup_json_ struct json *data = NULL;
        if (json_parse(in, len, &data, &e) < 0)
                return fail(e);
        _cleanup_free_ char *fmt = formatter_container_format(format, quiet, size);
        _cleanup_json_ struct json *methods = NULL;
        _cleanup_json_ struct json *rows = formatter_container_rows(data, no_trunc, now, &methods);
        _cleanup_json_ struct json *header = formatter_container_header();
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        if (formatter_write(fmt, rows, methods, header, FORMATTER_CONTAINER_ROW_TYPE, &out, &e) < 0)
                return fail(e);
        put(&out);
        return 0;
}

static int cmd_tabwriter(int argc, char **argv)
{
        if (argc != 7) {
                fprintf(stderr,
                        "usage: berth-fmt tabwriter MINWIDTH TABWIDTH PADDING PADCHAR FLAGS\n");
                return 2;
        }
        size_t len;
        _cleanup_free_ char *in = read_all(&len);
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        _cleanup_tabwriter_ struct tabwriter *tw = tabwriter_new(
            &out, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), argv[5][0], (unsigned)atoi(argv[6]));
        /* in small pieces: cells and lines may arrive split anywhere */
        for (size_t i = 0; i < len; i += 5)
                tabwriter_write(tw, in + i, len - i < 5 ? len - i : 5);
        tabwriter_flush(tw);
        put(&out);
        return 0;
}

static int cmd_progress(int argc, char **argv)
{
        bool tty = false;
        int width = 0;
        size_t chunk = 4096;
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--tty") == 0)
                        tty = true;
                else if (strcmp(argv[i], "--width") == 0 && i + 1 < argc)
                        width = atoi(argv[++i]);
                else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
                        chunk = (size_t)atoi(argv[++i]);
                else {
                        fprintf(stderr, "berth-fmt progress: unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        if (width == 0 && tty)
                width = progress_terminal_width(STDOUT_FILENO);
        if (chunk == 0)
                chunk = 1;
        _cleanup_progress_ struct progress *p = progress_new(tty, width);
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        struct berth_error *e = NULL;
        char *buf = xmalloc(chunk);
        ssize_t n;
        int r = 0;
        /* feed in chunks as they arrive, as the CLI does while the daemon streams */
        while ((n = read(STDIN_FILENO, buf, chunk)) > 0) {
                r = progress_feed(p, buf, (size_t)n, &out, &e);
                put(&out);
                out.len = 0;
                if (r < 0)
                        break;
        }
        free(buf);
        if (r >= 0) {
                r = progress_finish(p, &out, &e);
                put(&out);
        }
        return r < 0 ? fail(e) : 0;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: berth-fmt template|images|ps|progress …\n");
                return 2;
        }
        if (strcmp(argv[1], "template") == 0)
                return cmd_template(argc, argv);
        if (strcmp(argv[1], "images") == 0)
                return cmd_images(argc, argv);
        if (strcmp(argv[1], "tabwriter") == 0)
                return cmd_tabwriter(argc, argv);
        if (strcmp(argv[1], "ps") == 0)
                return cmd_ps(argc, argv);
        if (strcmp(argv[1], "progress") == 0)
                return cmd_progress(argc, argv);
        fprintf(stderr, "berth-fmt: unknown mode %s\n", argv[1]);
        return 2;
}
