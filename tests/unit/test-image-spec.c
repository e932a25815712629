/*
 * test-image-spec.c — manifests, indexes, image configs and platforms must
 * parse as registries serve them, refuse what a client must not act on with
 * a message naming the field, survive emit → parse, and select the platform
 * docker would.
 */
#include <check.h>
#include <string.h>

#include "oci/image-spec.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char *oci_manifest_json =
    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\","
    "\"config\":{\"mediaType\":\"" OCI_MEDIA_TYPE_CONFIG "\",\"digest\":\"" D1 "\",\"size\":7},"
    "\"layers\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER_GZIP "\",\"digest\":\"" D2
    "\",\"size\":1234,\"annotations\":{\"a\":\"b\"}},"
    "{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER_ZSTD "\",\"digest\":\"" D3 "\",\"size\":0,"
    "\"urls\":[\"https://example.com/x\"]}],"
    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"},\"unknown\":[1]}";

/* Takes the error by address: it is read only after the call that set it has run. */
static char *expect_error(int r, struct berth_error **errp)
{
        struct berth_error *err = *errp;
        *errp = NULL;
        ck_assert_int_lt(r, 0);
        ck_assert_ptr_nonnull(err);
        char *m = xstrdup(err->msg);
        berth_error_free(err);
        return m;
}

#define ck_assert_msg_has(m, needle)                                                               \
        do {                                                                                       \
                char *m_ = (m);                                                                    \
                ck_assert_msg(strstr(m_, (needle)) != NULL, "'%s' lacks '%s'", m_, (needle));      \
                free(m_);                                                                          \
        } while (0)

START_TEST(test_manifest_parse_emit)
{
        struct berth_error *err = NULL;
        struct oci_manifest *m = NULL, *m2 = NULL;
        int r = oci_manifest_parse(oci_manifest_json, strlen(oci_manifest_json), &m, &err);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        ck_assert_int_eq(m->schema_version, 2);
        ck_assert_str_eq(m->config.digest, D1);
        ck_assert_int_eq(m->config.size, 7);
        ck_assert_uint_eq(m->n_layers, 2);
        ck_assert_str_eq(m->layers[0].media_type, OCI_MEDIA_TYPE_LAYER_GZIP);
        ck_assert_str_eq(json_str(json_get(m->layers[0].annotations, "a")), "b");
        ck_assert_str_eq(m->layers[1].urls[0], "https://example.com/x");
        char *out = oci_manifest_emit(m);
        r = oci_manifest_parse(out, strlen(out), &m2, &err);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        char *out2 = oci_manifest_emit(m2);
        ck_assert_str_eq(out, out2);
        ck_assert_ptr_nonnull(strstr(out, "\"urls\":[\"https://example.com/x\"]"));
        free(out);
        free(out2);
        oci_manifest_free(m);
        oci_manifest_free(m2);
}
END_TEST

static char *manifest_error(const char *json)
{
        struct berth_error *err = NULL;
        struct oci_manifest *m = NULL;
        int r = oci_manifest_parse(json, strlen(json), &m, &err);
        ck_assert_ptr_null(m);
        return expect_error(r, &err);
}

START_TEST(test_manifest_errors)
{
        ck_assert_msg_has(manifest_error("{\"schemaVersion\":1}"), "unsupported schemaVersion 1");
        ck_assert_msg_has(manifest_error("[]"), "not a JSON object");
        ck_assert_msg_has(manifest_error("{\"schemaVersion\":2,\"layers\":[]}"),
                          "missing 'config'");
        ck_assert_msg_has(
            manifest_error("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":"
                           "\"sha256:zz\",\"size\":1},\"layers\":[]}"),
            "invalid hex");
        ck_assert_msg_has(
            manifest_error("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
                           "\",\"size\":1},\"layers\":[{\"mediaType\":\"y\",\"digest\":\"" D2
                           "\",\"size\":-5}]}"),
            "layers[0]: descriptor " D2 ": negative size -5");
        ck_assert_msg_has(
            manifest_error("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
                           "\",\"size\":1},\"layers\":{}}"),
            "'layers' must be an array");
        ck_assert_msg_has(manifest_error("{\"schemaVersion\":2,\"mediaType\":7,\"config\":{}}"),
                          "'mediaType' must be a string");
        ck_assert_msg_has(
            manifest_error("{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST
                           "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
                           "\",\"size\":1},\"layers\":[{\"mediaType\":\"text/plain\","
                           "\"digest\":\"" D2 "\",\"size\":1}]}"),
            "unknown layer media type 'text/plain'");
        ck_assert_msg_has(manifest_error("{\"schemaVersion\":2,"), "manifest: line 1");
}
END_TEST

START_TEST(test_digest_validate)
{
        ck_assert(oci_digest_is_valid(D1));
        ck_assert(!oci_digest_is_valid(
            "sha256:ABCDEF1111111111111111111111111111111111111111111111111111111111"));
        ck_assert(!oci_digest_is_valid("sha256:111"));
        ck_assert(!oci_digest_is_valid(
            "1111111111111111111111111111111111111111111111111111111111111111"));
        struct berth_error *err = NULL;
        ck_assert_msg_has(expect_error(oci_digest_validate("md5:abc", &err), &err),
                          "unsupported algorithm");
        err = NULL;
        ck_assert_msg_has(expect_error(oci_digest_validate("sha256:1234", &err), &err),
                          "wrong length 4, want 64");
}
END_TEST

static const char *index_json =
    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":10,"
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":10,"
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":10,"
    "\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}]}";

static int select_for(const struct oci_index *x, const char *platform)
{
        struct oci_platform p;
        struct berth_error *err = NULL;
        ck_assert_int_eq(oci_platform_parse(platform, &p, &err), 0);
        int i = oci_index_select(x, &p, &err);
        oci_platform_release(&p);
        berth_error_free(err);
        return i;
}

START_TEST(test_index_select)
{
        struct berth_error *err = NULL;
        struct oci_index *x = NULL;
        int r = oci_index_parse(index_json, strlen(index_json), &x, &err);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        ck_assert_uint_eq(x->n_manifests, 4);
        ck_assert_int_eq(select_for(x, "linux/amd64"), 0);
        ck_assert_int_eq(select_for(x, "linux/x86_64"), 0);
        ck_assert_int_eq(select_for(x, "linux/arm64"), 1); /* no variant means v8 */
        ck_assert_int_eq(select_for(x, "linux/aarch64/v8"), 1);
        ck_assert_int_eq(select_for(x, "linux/arm/v7"), 2); /* v7 hosts run v6 images */
        ck_assert_int_eq(select_for(x, "linux/arm/v5"), -ENOENT);
        ck_assert_int_eq(select_for(x, "windows/amd64"), -ENOENT);

        struct oci_platform p;
        ck_assert_int_eq(oci_platform_parse("linux/s390x", &p, NULL), 0);
        r = oci_index_select(x, &p, &err);
        oci_platform_release(&p);
        ck_assert_msg_has(expect_error(r, &err),
                          "no manifest for platform linux/s390x in the index (it has linux/amd64, "
                          "linux/arm64/v8, linux/arm/v6, unknown/unknown)");

        char *out = oci_index_emit(x);
        struct oci_index *x2 = NULL;
        err = NULL;
        ck_assert_int_eq(oci_index_parse(out, strlen(out), &x2, &err), 0);
        ck_assert_str_eq(x2->manifests[1].platform->variant, "v8");
        free(out);
        oci_index_free(x2);
        oci_index_free(x);
}
END_TEST

START_TEST(test_platform_match_features_and_windows_build)
{
        char *host_features[] = {"sse4", NULL}, *needs_avx[] = {"avx", NULL};
        struct oci_platform want = {
            .os = "linux", .architecture = "amd64", .os_features = host_features};
        struct oci_platform have = {.os = "linux", .architecture = "amd64"};
        ck_assert_int_gt(oci_platform_match(&want, &have), 0);
        have.os_features = needs_avx;
        ck_assert_int_eq(oci_platform_match(&want, &have), 0);
        have.os_features = host_features;
        ck_assert_int_gt(oci_platform_match(&want, &have), 0);

        struct oci_platform win = {
            .os = "windows", .architecture = "amd64", .os_version = "10.0.17763.1"};
        struct oci_platform img = {
            .os = "windows", .architecture = "amd64", .os_version = "10.0.17763.5830"};
        ck_assert_int_gt(oci_platform_match(&win, &img), 0);
        img.os_version = "10.0.20348.2";
        ck_assert_int_eq(oci_platform_match(&win, &img), 0);
        img.os_version = "10.0.177630.1";
        ck_assert_int_eq(oci_platform_match(&win, &img), 0);
        img.os_version = "10.0.17763";
        ck_assert_int_gt(oci_platform_match(&win, &img), 0);
}
END_TEST

/* What dockerd 20.10 answered for each --platform (the name in its "no matching manifest
 * for …" message, or its 400 message), recorded against a reference daemon. */
START_TEST(test_platform_parse)
{
        static const struct {
                const char *in, *want;
        } ok[] = {
            {"Linux/X86_64", "linux/amd64"},
            {"linux/amd64/v1", "linux/amd64"},
            {"linux/amd64/V2", "linux/amd64/v2"},
            {"linux/x86_64/v3", "linux/amd64/v3"},
            {"linux/i386/v2", "linux/386"},
            {"linux/386/x", "linux/386/x"},
            {"linux/i686", "linux/i686"},
            {"linux/arm", "linux/arm"},
            {"linux/armhf", "linux/arm"},
            {"linux/armel", "linux/arm/v6"},
            {"linux/arm/7", "linux/arm/v7"},
            {"linux/arm/8", "linux/arm/v8"},
            {"linux/arm/x", "linux/arm/x"},
            {"linux/armhf/v6", "linux/arm/v7"},
            {"linux/armel/v7", "linux/arm/v6"},
            {"linux/arm64", "linux/arm64"},
            {"linux/arm64/v8", "linux/arm64/v8"},
            {"linux/aarch64/8", "linux/arm64/v8"},
            {"linux/arm64/v9", "linux/arm64/v9"},
            {"foo/bar", "foo/bar"},
            {"arm64", "linux/arm64"},
            {"aarch64", "linux/arm64"},
            {"armhf", "linux/arm"},
            {"x86_64", "linux/amd64"},
            {"linux", "linux/amd64"},
            {"Windows", "windows/amd64"},
            {"MacOS", "darwin/amd64"},
            {"macos/arm64", "darwin/arm64"},
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                struct oci_platform p;
                struct berth_error *err = NULL;
                ck_assert_msg(oci_platform_parse(ok[i].in, &p, &err) == 0, "%s: %s", ok[i].in,
                              berth_error_msg(err));
                char *s = oci_platform_format(&p);
                ck_assert_msg(strcmp(s, ok[i].want) == 0, "%s: %s, want %s", ok[i].in, s,
                              ok[i].want);
                free(s);
                oci_platform_release(&p);
        }
        static const struct {
                const char *in, *msg;
        } bad[] = {
            {"foo/bar/baz/qux", "\"foo/bar/baz/qux\": cannot parse platform specifier: invalid "
                                "argument"},
            {"linux/Foo!", "\"Foo!\" is an invalid component of \"linux/Foo!\": platform "
                           "specifier component must match \"^[A-Za-z0-9_-]+$\": invalid "
                           "argument"},
            {"linux/", "\"\" is an invalid component of \"linux/\": platform specifier component "
                       "must match \"^[A-Za-z0-9_-]+$\": invalid argument"},
            {"linux/arm64/v8.0", "\"v8.0\" is an invalid component of \"linux/arm64/v8.0\": "
                                 "platform specifier component must match "
                                 "\"^[A-Za-z0-9_-]+$\": invalid argument"},
            {"foo", "\"foo\": unknown operating system or architecture: invalid argument"},
            {"i686", "\"i686\": unknown operating system or architecture: invalid argument"},
            {"linux/*", "\"linux/*\": wildcards not yet supported: invalid argument"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct oci_platform p;
                struct berth_error *err = NULL;
                ck_assert_int_eq(oci_platform_parse(bad[i].in, &p, &err), -EINVAL);
                ck_assert_str_eq(berth_error_msg(err), bad[i].msg);
                berth_error_free(err);
        }
}
END_TEST

static const char *config_json =
    "{\"created\":\"2026-01-01T00:00:00Z\",\"author\":\"me\",\"architecture\":\"arm64\","
    "\"variant\":\"v8\",\"os\":\"linux\",\"config\":{\"User\":\"1000:1000\","
    "\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}},\"Env\":[\"PATH=/bin\",\"A=b\"],"
    "\"Entrypoint\":[],\"Cmd\":null,\"Volumes\":{\"/data\":{}},\"WorkingDir\":\"/srv\","
    "\"Labels\":{\"k\":\"v\",\"x\":\"y\"},\"StopSignal\":\"SIGINT\","
    "\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"],\"Interval\":1000000000,\"Retries\":3},"
    "\"ArgsEscaped\":true,\"OnBuild\":[\"RUN x\"],\"Shell\":[\"/bin/sh\",\"-c\"]},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},"
    "\"history\":[{\"created_by\":\"a\"},{\"created_by\":\"b\",\"empty_layer\":true}],"
    "\"container_config\":{\"ignored\":1}}";

START_TEST(test_image_config)
{
        struct berth_error *err = NULL;
        struct oci_image_config *c = NULL, *c2 = NULL;
        int r = oci_image_config_parse(config_json, strlen(config_json), &c, &err);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        ck_assert_str_eq(c->architecture, "arm64");
        ck_assert(c->has_config);
        ck_assert_str_eq(c->config.user, "1000:1000");
        ck_assert_str_eq(c->config.exposed_ports[0], "80/tcp");
        ck_assert_str_eq(c->config.exposed_ports[1], "53/udp");
        ck_assert_ptr_nonnull(c->config.entrypoint); /* present and empty */
        ck_assert_ptr_null(c->config.entrypoint[0]);
        ck_assert_ptr_null(c->config.cmd); /* null means absent */
        ck_assert_str_eq(c->config.labels[2], "x");
        ck_assert_str_eq(c->config.labels[3], "y");
        ck_assert_int_eq(c->config.healthcheck->interval, 1000000000);
        ck_assert_int_eq(c->config.healthcheck->retries, 3);
        ck_assert(c->config.args_escaped);
        ck_assert_str_eq(c->diff_ids[1], D2);
        ck_assert_uint_eq(c->n_history, 2);
        ck_assert(c->history[1].empty_layer);
        char *out = oci_image_config_emit(c);
        r = oci_image_config_parse(out, strlen(out), &c2, &err);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        char *out2 = oci_image_config_emit(c2);
        ck_assert_str_eq(out, out2);
        ck_assert_ptr_nonnull(strstr(out, "\"Entrypoint\":[]"));
        ck_assert_ptr_null(strstr(out, "\"Cmd\""));
        free(out);
        free(out2);
        oci_image_config_free(c);
        oci_image_config_free(c2);

        const char *bad = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                          "\"layers\",\"diff_ids\":[\"sha256:nothex\"]}}";
        r = oci_image_config_parse(bad, strlen(bad), &c, &err);
        ck_assert_msg_has(expect_error(r, &err), "image config: diff_ids[0]");
        err = NULL;
        const char *noroot = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
        r = oci_image_config_parse(noroot, strlen(noroot), &c, &err);
        ck_assert_msg_has(expect_error(r, &err), "missing 'rootfs'");
        err = NULL;
        const char *badenv = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":"
                             "[1]},\"rootfs\":{\"type\":\"layers\"}}";
        r = oci_image_config_parse(badenv, strlen(badenv), &c, &err);
        ck_assert_msg_has(expect_error(r, &err), "'Env'[0] must be a string");
}
END_TEST

START_TEST(test_detect_kind)
{
        enum oci_doc_kind k;
        struct berth_error *err = NULL;
        ck_assert_int_eq(oci_detect_kind(OCI_MEDIA_TYPE_MANIFEST "; charset=utf-8",
                                         oci_manifest_json, strlen(oci_manifest_json), &k, NULL),
                         0);
        ck_assert_int_eq(k, OCI_DOC_MANIFEST);
        ck_assert_int_eq(
            oci_detect_kind("application/json", index_json, strlen(index_json), &k, NULL), 0);
        ck_assert_int_eq(k, OCI_DOC_INDEX);
        const char *bare = "{\"schemaVersion\":2,\"manifests\":[]}";
        ck_assert_int_eq(oci_detect_kind(NULL, bare, strlen(bare), &k, NULL), 0);
        ck_assert_int_eq(k, OCI_DOC_INDEX);
        const char *s1 = "{\"schemaVersion\":1,\"fsLayers\":[]}";
        ck_assert_msg_has(
            expect_error(oci_detect_kind(DOCKER_MEDIA_TYPE_SCHEMA1_SIG, s1, strlen(s1), &k, &err),
                         &err),
            "schema 1 manifests are not supported");
        err = NULL;
        ck_assert_msg_has(expect_error(oci_detect_kind(OCI_MEDIA_TYPE_INDEX, oci_manifest_json,
                                                       strlen(oci_manifest_json), &k, &err),
                                       &err),
                          "served as");
}
END_TEST

START_TEST(test_layer_media_types)
{
        enum oci_compression c;
        bool foreign;
        ck_assert_int_eq(oci_layer_media_type(DOCKER_MEDIA_TYPE_LAYER_GZIP, &c, &foreign), 0);
        ck_assert(c == OCI_COMPRESSION_GZIP && !foreign);
        ck_assert_int_eq(oci_layer_media_type(OCI_MEDIA_TYPE_LAYER_ZSTD, &c, &foreign), 0);
        ck_assert(c == OCI_COMPRESSION_ZSTD && !foreign);
        ck_assert_int_eq(oci_layer_media_type(OCI_MEDIA_TYPE_LAYER, &c, &foreign), 0);
        ck_assert(c == OCI_COMPRESSION_NONE && !foreign);
        ck_assert_int_eq(oci_layer_media_type(DOCKER_MEDIA_TYPE_FOREIGN, &c, &foreign), 0);
        ck_assert(c == OCI_COMPRESSION_GZIP && foreign);
        ck_assert_int_eq(oci_layer_media_type(OCI_MEDIA_TYPE_LAYER_ND_ZSTD, &c, &foreign), 0);
        ck_assert(c == OCI_COMPRESSION_ZSTD && foreign);
        ck_assert_int_eq(oci_layer_media_type(OCI_MEDIA_TYPE_CONFIG, &c, &foreign), -EINVAL);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("image-spec");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_manifest_parse_emit);
        tcase_add_test(tc, test_manifest_errors);
        tcase_add_test(tc, test_digest_validate);
        tcase_add_test(tc, test_index_select);
        tcase_add_test(tc, test_platform_parse);
        tcase_add_test(tc, test_platform_match_features_and_windows_build);
        tcase_add_test(tc, test_image_config);
        tcase_add_test(tc, test_detect_kind);
        tcase_add_test(tc, test_layer_media_types);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
