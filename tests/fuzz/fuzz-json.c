/*
 * fuzz-json.c — libFuzzer target for the JSON parser every untrusted input
 * goes through: parse, serialise, re-parse.  What the emitter writes must
 * parse again, and from then on serialisation must be stable (the first
 * round may normalise, e.g. -0.0 becomes 0).
 */
#include <stdint.h>
#include <string.h>

#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct json *j = NULL;
        struct berth_error *err = NULL;
        if (json_parse((const char *)data, size, &j, &err) < 0) {
                berth_error_free(err);
                return 0;
        }
        char *out = json_dump(j, 0);
        struct json *j2 = NULL;
        if (json_parse(out, strlen(out), &j2, &err) < 0)
                __builtin_trap();
        char *out2 = json_dump(j2, 0);
        struct json *j3 = NULL;
        if (json_parse(out2, strlen(out2), &j3, &err) < 0)
                __builtin_trap();
        char *out3 = json_dump(j3, 0);
        if (strcmp(out2, out3) != 0)
                __builtin_trap();
        free(out);
        free(out2);
        free(out3);
        json_free(j);
        json_free(j2);
        json_free(j3);
        return 0;
}
