/*
 * fuzz-tar.c — libFuzzer target for the streaming tar reader that every
 * pulled layer goes through.  The input is fed in two pieces (split where the
 * first byte says) so block boundaries land everywhere; the callbacks check
 * the reader's promises: a name is never empty or longer than the limit, a
 * member's data adds up to its size and never exceeds the size limit.
 */
#include <stdint.h>
#include <string.h>

#include "image/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
        uint64_t want, got;
        bool open;
};

static int on_entry(void *ud, const struct tar_entry *e, struct berth_error **err)
{
        struct state *s = ud;
        if (!e->path || !*e->path || strlen(e->path) > 1024 || strlen(e->linkname) > 1024 ||
            e->size > (1 << 20) || s->open)
                __builtin_trap();
        if (e->type != TAR_FILE && e->size != 0)
                __builtin_trap();
        s->want = e->size;
        s->got = 0;
        s->open = true;
        return 0;
}

static int on_data(void *ud, const void *buf, size_t len, struct berth_error **err)
{
        struct state *s = ud;
        s->got += len;
        if (!s->open || s->got > s->want)
                __builtin_trap();
        return 0;
}

static int on_end(void *ud, struct berth_error **err)
{
        struct state *s = ud;
        if (!s->open || s->got != s->want)
                __builtin_trap();
        s->open = false;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const struct tar_ops ops = {on_entry, on_data, on_end};
        struct tar_limits lim = {.max_path = 1024, .max_entries = 10000, .max_size = 1 << 20};
        struct state s = {0};
        struct tar_reader *r = tar_reader_new(&ops, &s, &lim);
        struct berth_error *err = NULL;
        size_t split = size ? (size_t)data[0] * 7 % (size + 1) : 0;
        int ret = tar_reader_feed(r, data, split, &err);
        if (ret == 0)
                ret = tar_reader_feed(r, data + split, size - split, &err);
        if (ret == 0)
                ret = tar_reader_finish(r, &err);
        if (ret == 0 && s.open)
                __builtin_trap();
        if (ret < 0 && (!err || !err->msg || !*err->msg))
                __builtin_trap();
        berth_error_free(err);
        tar_reader_free(r);
        return 0;
}
