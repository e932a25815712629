/*
 * fuzz-gotemplate.c — libFuzzer target for `--format` templates: the input
 * is template text, a NUL byte, then JSON data.  The template is parsed and
 * executed over the data plainly, in docker's header mode and as a typed row,
 * and the output goes through docker's tabwriter.  Any crash, leak, sanitizer
 * report or hang is a bug: hostile templates must end with an error.
 */
#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "cli/formatter.h"
#include "cli/gotemplate.h"
#include "cli/tabwriter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *in = (const char *)data;
        const char *nul = memchr(in, '\0', size);
        size_t tlen = nul ? (size_t)(nul - in) : size;
        if (tlen > 4096)
                return 0;
        char *text = xstrndup(in, tlen);
        struct json *j = NULL;
        struct berth_error *err = NULL;
        if (nul && json_parse(nul + 1, size - tlen - 1, &j, &err) < 0) {
                berth_error_free(err);
                err = NULL;
        }
        struct gotemplate *t = NULL;
        if (gotemplate_parse(text, &t, &err) == 0) {
                static const unsigned flags[] = {0, GOTEMPLATE_HEADER};
                for (size_t i = 0; i < 3; i++) {
                        struct berth_buf out = BERTH_BUF_INIT;
                        if (gotemplate_exec_typed(t, j, i == 2 ? "*formatter.imageContext" : NULL,
                                                  j, flags[i % 2], &out, &err) < 0) {
                                berth_error_free(err);
                                err = NULL;
                        }
                        struct berth_buf table = BERTH_BUF_INIT;
                        struct tabwriter *tw = tabwriter_new(&table, 10, 1, 3, ' ', 0);
                        tabwriter_write(tw, out.data ? out.data : "", out.len);
                        tabwriter_flush(tw);
                        tabwriter_free(tw);
                        buf_release(&table);
                        buf_release(&out);
                }
                gotemplate_free(t);
        } else {
                berth_error_free(err);
        }
        free(text);
        json_free(j);
        return 0;
}
