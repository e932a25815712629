/*
 * fuzz-dockerfile.c — libFuzzer target for the Dockerfile parser and docker's word expansion
 * (a Dockerfile comes from whoever sends a build context).  Whatever parses must be
 * self-consistent: stages named in lower case, line ranges in order, every string present;
 * whatever fails must say why.  The input is also expanded as one word, both ways.
 */
#include <stdint.h>
#include <string.h>

#include "build/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(const char *name, void *userdata)
{
        (void)userdata;
        if (strcmp(name, "A") == 0)
                return "x y";
        if (strcmp(name, "E") == 0)
                return "";
        return NULL;
}

static void check_instruction(const struct dockerfile_instruction *ins)
{
        if (!ins || !dockerfile_kind_name(ins->kind) || !ins->args || !ins->command ||
            !ins->original || ins->end_line < ins->line)
                __builtin_trap();
        for (size_t i = 0; i < ins->n_kvs; i++)
                if (!ins->kvs[i].key)
                        __builtin_trap();
        for (size_t i = 0; i < ins->n_heredocs; i++)
                if (!ins->heredocs[i].name || !ins->heredocs[i].content)
                        __builtin_trap();
        if (ins->kind == DF_ONBUILD && !ins->onbuild_expression)
                __builtin_trap();
        if (ins->onbuild)
                check_instruction(ins->onbuild);
        for (char **a = ins->args; *a; a++) {
                char *out = NULL;
                struct berth_error *err = NULL;
                if (dockerfile_expand(*a, lookup, NULL, '\\', 0, &out, &err) == 0)
                        free(out);
                else if (!err || !*err->msg)
                        __builtin_trap();
                berth_error_free(err);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct dockerfile *df = NULL;
        struct berth_error *err = NULL;
        if (dockerfile_parse((const char *)data, size, &df, &err) == 0) {
                if (df->n_stages == 0 || (df->escape != '\\' && df->escape != '`'))
                        __builtin_trap();
                for (size_t i = 0; i < df->n_meta_args; i++)
                        if (df->meta_args[i]->kind != DF_ARG)
                                __builtin_trap();
                for (size_t s = 0; s < df->n_stages; s++) {
                        const struct dockerfile_stage *st = &df->stages[s];
                        if (!st->base || st->from->kind != DF_FROM)
                                __builtin_trap();
                        for (const char *p = st->name; p && *p; p++)
                                if (*p >= 'A' && *p <= 'Z')
                                        __builtin_trap();
                        check_instruction(st->from);
                        for (size_t k = 0; k < st->n_instructions; k++)
                                check_instruction(st->instructions[k]);
                }
                dockerfile_free(df);
        } else if (!err || !*err->msg || df) {
                __builtin_trap();
        }
        berth_error_free(err);

        char *word = xstrndup((const char *)data, size);
        char *out = NULL;
        char **words = NULL;
        err = NULL;
        if (dockerfile_expand(word, lookup, NULL, '\\', DF_EXPAND_SKIP_UNSET, &out, &err) == 0)
                free(out);
        berth_error_free(err);
        err = NULL;
        if (dockerfile_expand_words(word, lookup, NULL, '`', DF_EXPAND_RAW_QUOTES, &words, &err) ==
            0)
                strv_free(words);
        berth_error_free(err);
        free(word);
        return 0;
}
