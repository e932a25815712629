/*
 * berth-layer-apply — test and benchmark driver for layer_apply: reads a layer
 * (gzip, zstd or plain tar) from a file or stdin in chunks, unpacks it into
 * <data-root>/layers/<chain-id>, and prints the result as one JSON line.
 *
 * Usage: berth-layer-apply [--parent CHAIN] [--diff-id D] [--digest D]
 *                          [--max-bytes N] [--chunk N] DATA_ROOT [FILE]
 * Exit 0 on success (or when the layer is already there), 1 with the error on
 * stderr otherwise.  A helper for tests: never part of what berth installs.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/fileio.h"
#include "image/layer.h"

int main(int argc, char **argv)
{
        struct layer_apply_opts o = {0};
        size_t chunk = 1 << 20;
        int i = 1;
        for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
                uint64_t v = 0;
                if (strcmp(argv[i], "--parent") == 0)
                        o.parent_chain_id = argv[i + 1];
                else if (strcmp(argv[i], "--diff-id") == 0)
                        o.expected_diff_id = argv[i + 1];
                else if (strcmp(argv[i], "--digest") == 0)
                        o.expected_digest = argv[i + 1];
                else if (strcmp(argv[i], "--max-bytes") == 0 && parse_u64(argv[i + 1], &v) == 0)
                        o.limits.max_bytes = v;
                else if (strcmp(argv[i], "--chunk") == 0 && parse_u64(argv[i + 1], &v) == 0 && v)
                        chunk = v;
                else {
                        fprintf(stderr, "berth-layer-apply: bad option '%s'\n", argv[i]);
                        return 2;
                }
        }
        if (i >= argc) {
                fprintf(stderr, "usage: berth-layer-apply [options] DATA_ROOT [FILE]\n");
                return 2;
        }
        const char *root = argv[i];
        int fd = 0;
        if (i + 1 < argc && (fd = open(argv[i + 1], O_RDONLY | O_CLOEXEC)) < 0) {
                perror(argv[i + 1]);
                return 1;
        }
        struct berth_error *err = NULL;
        struct layer_apply *la = NULL;
        int r = layer_store_cleanup(root, &err);
        if (r == 0)
                r = layer_apply_begin(root, &o, &la, &err);
        if (r == 1) {
                printf("{\"present\":true}\n");
                return 0;
        }
        char *buf = xmalloc(chunk);
        while (r == 0) {
                ssize_t n = read(fd, buf, chunk);
                if (n < 0) {
                        r = berth_error_sys(&err, errno, "read");
                        break;
                }
                if (n == 0)
                        break;
                r = layer_apply_write(la, buf, (size_t)n, &err);
        }
        struct layer_result res;
        if (r < 0)
                layer_apply_abort(la);
        else
                r = layer_apply_finish(la, &res, &err);
        free(buf);
        if (r < 0) {
                fprintf(stderr, "berth-layer-apply: %s\n", berth_error_msg(err));
                berth_error_free(err);
                return 1;
        }
        printf("{\"digest\":\"%s\",\"diff_id\":\"%s\",\"chain_id\":\"%s\",\"compression\":\"%s\","
               "\"compressed_size\":%" PRIu64 ",\"size\":%" PRIu64 ",\"entries\":%" PRIu64 "}\n",
               res.digest, res.diff_id, res.chain_id, layer_compression_name(res.compression),
               res.compressed_size, res.size, res.entries);
        return 0;
}
