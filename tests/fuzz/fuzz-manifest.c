/*
 * fuzz-manifest.c — libFuzzer target for everything a registry sends that
 * berth parses: manifests, indexes, image configs (with kind detection and
 * platform selection) and WWW-Authenticate challenges.
 *
 * Whatever parses must emit to JSON that parses again to the same emission.
 * Bytes that are not UTF-8 are emitted as the escape \ufffd (as Go's
 * encoding/json writes them) and come back as U+FFFD itself, which emits as
 * those three bytes: the text is a fixpoint from the second emission on.
 */
#include <stdint.h>
#include <string.h>

#include "oci/image-spec.h"
#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        enum oci_doc_kind kind;
        struct oci_manifest *m = NULL;
        struct oci_index *x = NULL;
        struct oci_image_config *c = NULL;

        (void)oci_detect_kind(NULL, buf, size, &kind, NULL);
        if (oci_manifest_parse(buf, size, &m, NULL) == 0) {
                char *out = oci_manifest_emit(m);
                struct oci_manifest *m2 = NULL, *m3 = NULL;
                if (oci_manifest_parse(out, strlen(out), &m2, NULL) != 0)
                        __builtin_trap();
                char *out2 = oci_manifest_emit(m2);
                if (oci_manifest_parse(out2, strlen(out2), &m3, NULL) != 0)
                        __builtin_trap();
                char *out3 = oci_manifest_emit(m3);
                if (strcmp(out2, out3) != 0)
                        __builtin_trap();
                free(out);
                free(out2);
                free(out3);
                oci_manifest_free(m3);
                oci_manifest_free(m2);
                oci_manifest_free(m);
        }
        if (oci_index_parse(buf, size, &x, NULL) == 0) {
                struct oci_platform p = {.os = "linux", .architecture = "arm64"};
                (void)oci_index_select(x, &p, NULL);
                char *out = oci_index_emit(x);
                struct oci_index *x2 = NULL;
                if (oci_index_parse(out, strlen(out), &x2, NULL) != 0)
                        __builtin_trap();
                free(out);
                oci_index_free(x2);
                oci_index_free(x);
        }
        if (oci_image_config_parse(buf, size, &c, NULL) == 0) {
                char *out = oci_image_config_emit(c);
                struct oci_image_config *c2 = NULL;
                if (oci_image_config_parse(out, strlen(out), &c2, NULL) != 0)
                        __builtin_trap();
                free(out);
                oci_image_config_free(c2);
                oci_image_config_free(c);
        }
        char *s = xstrndup(buf, size);
        struct registry_challenge ch;
        if (registry_parse_challenge(s, &ch, NULL) == 0)
                registry_challenge_release(&ch);
        struct oci_platform pl;
        if (oci_platform_parse(s, &pl, NULL) == 0)
                oci_platform_release(&pl);
        free(s);
        return 0;
}
