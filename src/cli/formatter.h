/*
 * formatter.h — docker's formatter.Context: how a `--format` string turns a
 * list of rows into output, and the rows of `docker images`.
 *
 * A format is "table" (the command's default columns), "json" ({{json .}}
 * per row), "table <template>" (a header row, then one row per item, columns
 * aligned by tabwriter(10, 1, 3, ' ')), or a bare template (one line per
 * row).  Literal "\t" and "\n" in the format become tab and newline, and the
 * format is trimmed of spaces, as docker does.  The header row is the same
 * template executed over a map field → column name with docker's header
 * functions (json, lower, … return the column name unchanged).
 *
 * Rows are JSON objects whose values are the strings docker computes (ID,
 * CreatedSince, Size…); the template sees them as struct fields: a field
 * that is not in the row is an error naming the row type, as in docker.
 *
 * Errors read "template parsing error: template: :1: …" (docker's words, for
 * parse and execution errors alike); on error nothing is written to out.
 *
 * How a command uses it (tests/helper/berth-fmt.c does exactly this):
 *   berth images: fmt = formatter_image_format(opt_format, quiet, digests);
 *                 rows = formatter_image_rows(body, fmt, digests, no_trunc, time(NULL));
 *                 formatter_write(fmt, rows, NULL, formatter_image_header(),
 *                                 FORMATTER_IMAGE_ROW_TYPE, &out, &err);
 *   berth ps:     with --format: warn on stderr if -q too ("WARNING: Ignoring custom
 *                 format, because both --format and --quiet are set."), then
 *                 formatter_container_check(opt_format, &uses_size, &err) before
 *                 listing (ask size=1 when it says so); then formatter_container_format,
 *                 formatter_container_rows (it returns the methods array too),
 *                 formatter_write(…, FORMATTER_CONTAINER_ROW_TYPE, …).
 *   berth inspect -f: gotemplate_parse + gotemplate_exec over the daemon's JSON
 *                 (errors prefixed "template parsing error: ", as docker 28).
 */
#ifndef BERTH_CLI_FORMATTER_H
#define BERTH_CLI_FORMATTER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"

/* The template text docker executes for a format (templateString()). */
char *formatter_template_string(const char *format);
bool formatter_is_table(const char *format);

/*
 * Render rows (a JSON array of objects) with format into out.  methods is
 * NULL or an array parallel to rows of each row's one-argument methods
 * ({"Label": {…}}, see gotemplate_exec_typed).  header maps field names to
 * column names (only used for table formats).  row_type is the Go type
 * docker names in "can't evaluate field X in type T" errors (e.g.
 * "*formatter.imageContext"); NULL lets missing fields print "<no value>"
 * as for a map.
 */
int formatter_write(const char *format, const struct json *rows, const struct json *methods,
                    const struct json *header, const char *row_type, struct berth_buf *out,
                    struct berth_error **err);

/* ---- docker images */

/* NewImageFormat: the effective format for --format source (may be "" = "table"). */
char *formatter_image_format(const char *source, bool quiet, bool digests);

/*
 * image.Summary objects from GET /images/json to docker's image rows:
 * one row per repository:tag (and digest when shown), "<none>" for
 * dangling images, ID truncated unless no_trunc, CreatedSince relative to
 * now (Unix seconds), sizes as HumanSizeWithPrecision(size, 3).
 * format is the effective format (whether it mentions {{.Digest}} matters).
 */
struct json *formatter_image_rows(const struct json *summaries, const char *format, bool digests,
                                  bool no_trunc, int64_t now);
/* The header map of docker's image context (ID → "IMAGE ID", …). */
struct json *formatter_image_header(void);

#define FORMATTER_IMAGE_ROW_TYPE "*formatter.imageContext"

/* ---- docker ps */

/* NewContainerFormat: the effective format (size adds the SIZE column to tables). */
char *formatter_container_format(const char *source, bool quiet, bool size);
/*
 * What `docker ps --format` checks before listing: the raw format must
 * parse ("failed to parse template: …") and execute over an empty row
 * ("failed to execute template: …").  *ret_uses_size: the format shows
 * .Size, so the list must be asked for sizes.
 */
int formatter_container_check(const char *format, bool *ret_uses_size, struct berth_error **err);
/*
 * container.Summary objects from GET /containers/json to docker's rows
 * (ID, Names, Image, Command, CreatedAt, RunningFor, Ports, State, Status,
 * Size, Labels, Mounts, LocalVolumes, Networks, Platform); *ret_methods gets
 * the parallel array of {"Label": labels} for formatter_write.
 */
struct json *formatter_container_rows(const struct json *summaries, bool no_trunc, int64_t now,
                                      struct json **ret_methods);
struct json *formatter_container_header(void);
/* docker's DisplayablePorts of a container.Summary "Ports" array: "0.0.0.0:80->80/tcp, …" */
char *formatter_ports(const struct json *ports);

#define FORMATTER_CONTAINER_ROW_TYPE "*formatter.ContainerContext"

#endif
