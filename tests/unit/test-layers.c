/*
 * test-layers.c — layer records and collection (src/engine/layers.c): a
 * pulled image is recorded with its tag and digest in one go, a second
 * record of the same image changes nothing, removing the image frees its
 * layer directory and blobs, collection waits for running pulls, start-up
 * recovery drops records whose files are gone and removes files no record
 * names.
 */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "engine/images.h"
#include "engine/layers.h"
#include "image/layer.h"

static char root[64];
static struct berth_config_flags flags;
static struct berth_config *config;
static struct berth_engine *engine;

static const char *const config_json =
    "{\"created\":\"2026-01-02T03:04:05Z\",\"architecture\":\"amd64\",\"os\":\"linux\","
    "\"config\":{\"Cmd\":[\"/bin/sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
    "\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"]},"
    "\"history\":[{\"created\":\"2026-01-02T03:04:05Z\",\"created_by\":\"add\"},"
    "{\"created_by\":\"env\",\"empty_layer\":true}]}";
#define DIFF_ID    "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define LAYER_BLOB "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void open_engine(void)
{
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_engine_open(config, &flags, &engine, &err), 0);
        ck_assert_int_eq(berth_layers_open(engine, &engine->layers, &err), 0);
}

static void close_engine(void)
{
        if (!engine)
                return;
        berth_layers_free(engine->layers);
        berth_engine_free(engine);
        engine = NULL;
}

static void setup(void)
{
        strcpy(root, "/tmp/berth-test-layers-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(root));
        char *cfgfile = xasprintf("%s/daemon.json", root);
        ck_assert_int_eq(write_file_at(AT_FDCWD, cfgfile, "{}", 2, 0644), 0);
        berth_config_flags_init(&flags);
        flags.config_file = cfgfile;
        flags.data_root = xasprintf("%s/data", root);
        flags.exec_root = xasprintf("%s/run", root);
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_config_load(&flags, &config, &err), 0);
        open_engine();
}

static void teardown(void)
{
        close_engine();
        berth_config_unref(config);
        free((char *)flags.config_file);
        free((char *)flags.data_root);
        free((char *)flags.exec_root);
        rm_rf(root);
}

/* A pulled image by hand: config blob, one unpacked layer, the records. */
static char *record_image(bool *ret_changed)
{
        struct berth_error *err = NULL;
        char *id = NULL;
        ck_assert_int_eq(
            blob_store_put(engine->store, NULL, config_json, strlen(config_json), &id, &err), 0);
        char *dir = layer_path(config->data_root, DIFF_ID);
        ck_assert_int_eq(mkdir_p(dir, 0755), 0);
        char *file = xasprintf("%s/f", dir);
        ck_assert_int_eq(write_file_at(AT_FDCWD, file, "data", 4, 0644), 0);
        struct berth_layer_rec rec = {DIFF_ID, DIFF_ID, LAYER_BLOB, 4096};
        ck_assert_int_eq(berth_layers_commit_pull(engine->layers, id, NULL, 1767323045, NULL, &rec,
                                                  1, "docker.io/library/t:1",
                                                  "docker.io/library/t@" LAYER_BLOB, ret_changed,
                                                  &err),
                         0);
        free(file);
        free(dir);
        return id;
}

static bool layer_dir_exists(void)
{
        return layer_exists(config->data_root, DIFF_ID);
}

START_TEST(commit_then_rmi_frees_files)
{
        struct berth_error *e0 = NULL;
        char *cfg_only = NULL;
        ck_assert_int_eq(
            blob_store_put(engine->store, NULL, config_json, strlen(config_json), &cfg_only, &e0),
            0);
        ck_assert(!berth_layers_have_image(engine->layers, cfg_only)); /* a blob is no record */
        free(cfg_only);
        bool changed = false;
        char *id = record_image(&changed);
        ck_assert(changed);
        ck_assert(berth_layers_have_image(engine->layers, id));
        ck_assert_uint_eq(berth_layers_size(engine->layers, DIFF_ID), 4096);
        free(record_image(&changed));
        ck_assert(!changed); /* same image, same tag: "Image is up to date" */

        struct berth_image *img = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_image_find(engine, "t:1", &img, &err), 0);
        ck_assert_str_eq(img->id, id);
        berth_image_free(img);

        struct json *actions = NULL;
        ck_assert_int_eq(berth_image_remove(engine, "t:1", false, &actions, &err), 0);
        json_free(actions);
        ck_assert(!layer_dir_exists());
        ck_assert(!blob_store_exists(engine->store, id));
        free(id);
}
END_TEST

START_TEST(collection_waits_for_pulls)
{
        bool changed;
        char *id = record_image(&changed);
        berth_layers_pull_enter(engine->layers);
        struct json *actions = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_image_remove(engine, id, false, &actions, &err), 0);
        json_free(actions);
        ck_assert(layer_dir_exists()); /* a running pull may still need it */
        berth_layers_pull_leave(engine->layers);
        ck_assert(!layer_dir_exists());
        free(id);
}
END_TEST

START_TEST(recovery_drops_incomplete_and_collects_strays)
{
        bool changed;
        char *id = record_image(&changed);
        close_engine();
        /* The layer vanished; a stray complete layer and a partial one appeared. */
        char *dir = layer_path(config->data_root, DIFF_ID);
        ck_assert_int_eq(rm_rf(dir), 0);
        char *stray = xasprintf("%s/layers/%064d", config->data_root, 3);
        char *partial = xasprintf("%s/layers/%064d.tmp", config->data_root, 4);
        ck_assert_int_eq(mkdir_p(stray, 0755), 0);
        ck_assert_int_eq(mkdir_p(partial, 0755), 0);
        open_engine();
        struct berth_image *img = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_image_find(engine, "t:1", &img, &err), -ENOENT);
        berth_error_free(err);
        struct stat st;
        ck_assert_int_ne(stat(stray, &st), 0);
        ck_assert_int_ne(stat(partial, &st), 0);
        ck_assert(!blob_store_exists(engine->store, id));
        free(stray);
        free(partial);
        free(dir);
        free(id);
}
END_TEST

START_TEST(parse_time)
{
        ck_assert_int_eq(berth_layers_parse_time("2026-01-02T03:04:05Z"), 1767323045);
        ck_assert_int_eq(berth_layers_parse_time("2026-01-02T03:04:05.123456789Z"), 1767323045);
        ck_assert_int_eq(berth_layers_parse_time("2026-01-02T05:04:05+02:00"), 1767323045);
        ck_assert_int_eq(berth_layers_parse_time("yesterday"), 0);
        ck_assert_int_eq(berth_layers_parse_time(NULL), 0);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("layers");
        TCase *tc = tcase_create("layers");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, commit_then_rmi_frees_files);
        tcase_add_test(tc, collection_waits_for_pulls);
        tcase_add_test(tc, recovery_drops_incomplete_and_collects_strays);
        tcase_add_test(tc, parse_time);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
