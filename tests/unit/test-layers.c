/*
 * test-layers.c — layer records and collection (src/engine/layers.c): a
 * pulled image is recorded with its tag and digest in one go, a second
 * record of the same image changes nothing, removing the image frees its
 * layer directory and blobs, collection waits for running pulls, start-up
 * recovery finishes what a crash left (reserved rows, partial layers), keeps
 * damaged records, removes corrupt config blobs and refuses layer directories
 * no record names.
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

START_TEST(recovery_keeps_damaged_records_and_collects_leftovers)
{
        bool changed;
        char *id = record_image(&changed);
        /* A pull that died after reserving and unpacking, before recording. */
        char *leftover_id = xasprintf("sha256:%064d", 3);
        struct berth_layer_rec rec = {leftover_id, leftover_id, NULL, 0};
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_layers_reserve(engine->layers, &rec, 1, &err), 0);
        char *leftover = layer_path(config->data_root, leftover_id);
        ck_assert_int_eq(mkdir_p(leftover, 0755), 0);
        close_engine();
        /* The image's layer vanished; a partial layer appeared. */
        char *dir = layer_path(config->data_root, DIFF_ID);
        ck_assert_int_eq(rm_rf(dir), 0);
        char *partial = xasprintf("%s/layers/%064d.tmp", config->data_root, 4);
        ck_assert_int_eq(mkdir_p(partial, 0755), 0);
        open_engine();
        /* The damaged image keeps its record (the log names it), its config stays. */
        struct berth_image *img = NULL;
        ck_assert_int_eq(berth_image_find(engine, "t:1", &img, &err), 0);
        berth_image_free(img);
        ck_assert(!berth_layers_have_image(engine->layers, id));
        ck_assert(blob_store_exists(engine->store, id));
        struct stat st;
        ck_assert_int_ne(stat(leftover, &st), 0);
        ck_assert_int_ne(stat(partial, &st), 0);
        free(leftover_id);
        free(leftover);
        free(partial);
        free(dir);
        free(id);
}
END_TEST

START_TEST(recovery_refuses_layers_without_records)
{
        bool changed;
        free(record_image(&changed));
        close_engine();
        /* A layer directory no row names: not something a crash leaves. */
        char *stray = xasprintf("%s/layers/%064d", config->data_root, 5);
        ck_assert_int_eq(mkdir_p(stray, 0755), 0);
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_engine_open(config, &flags, &engine, &err), 0);
        ck_assert_int_eq(berth_layers_open(engine, &engine->layers, &err), -EUCLEAN);
        ck_assert_ptr_nonnull(strstr(berth_error_msg(err), "1 layer directory has no record"));
        ck_assert_ptr_nonnull(strstr(berth_error_msg(err), stray));
        berth_error_free(err);
        engine->layers = NULL;
        struct stat st;
        ck_assert_int_eq(stat(stray, &st), 0); /* nothing deleted */
        ck_assert(layer_dir_exists());
        ck_assert_int_eq(rm_rf(stray), 0);
        close_engine();
        open_engine();
        free(stray);
}
END_TEST

START_TEST(recovery_removes_a_corrupt_config_blob)
{
        bool changed;
        char *id = record_image(&changed);
        close_engine();
        char *path = xasprintf("%s/blobs/sha256/%s", config->data_root, id + 7);
        ck_assert_int_eq(write_file_at(AT_FDCWD, path, "{}", 2, 0644), 0);
        open_engine();
        /* Removed so the next pull fetches it again; the record stays. */
        ck_assert(!blob_store_exists(engine->store, id));
        ck_assert(!berth_layers_have_image(engine->layers, id));
        struct berth_image *img = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(berth_image_find(engine, "t:1", &img, &err), 0);
        berth_image_free(img);
        free(path);
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
        tcase_add_test(tc, recovery_keeps_damaged_records_and_collects_leftovers);
        tcase_add_test(tc, recovery_refuses_layers_without_records);
        tcase_add_test(tc, recovery_removes_a_corrupt_config_blob);
        tcase_add_test(tc, parse_time);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
