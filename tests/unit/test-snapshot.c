/*
 * test-snapshot.c — a container's rootfs is an overlay of its image's layers:
 * lower files visible, whiteouts hiding, writes landing in the container's
 * upper dir and never in a layer, more layers than a page of mount options
 * can name, and clear errors for missing layers and bad ids.  Each test runs
 * in its own process and mount namespace (Check forks), so mounts die with it.
 */
#include <check.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/fileio.h"
#include "image/layer.h"
#include "image/snapshot.h"

static char base[64]; /* per run; removed by the parent even when a test fails */
static char root[128];

/* Unchecked fixture: runs in the parent, so the base directory goes away even
 * when a forked test dies on a failed assertion before its teardown. */
static void base_setup(void)
{
        strcpy(base, "/tmp/berth-test-snapshot-XXXXXX");
        if (!mkdtemp(base))
                abort();
}

static void base_teardown(void)
{
        rm_rf(base);
}

static void setup(void)
{
        ck_assert_msg(geteuid() == 0, "test-snapshot needs root (overlay mounts)");
        snprintf(root, sizeof(root), "%s/root-XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(root));
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
}

static void teardown(void)
{
        /* after a failed assertion a mount may remain: detach before removing */
        static const char *const ids[] = {"c1", "big"};
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                char *p = snapshot_path(root, ids[i], "rootfs");
                (void)umount2(p, MNT_DETACH);
                free(p);
        }
        rm_rf(root);
}

/* A fake unpacked layer with id sha256:<c repeated> (the store's naming). */
static char *make_layer(char c)
{
        char *id = xmalloc(72);
        strcpy(id, "sha256:");
        memset(id + 7, c, 64);
        id[71] = '\0';
        char *p = layer_path(root, id);
        ck_assert_int_eq(mkdir_p(p, 0755), 0);
        free(p);
        return id;
}

static void layer_file(const char *id, const char *rel, const char *content)
{
        char *p = layer_path(root, id);
        char *f = xasprintf("%s/%s", p, rel);
        char *slash = strrchr(f, '/');
        *slash = '\0';
        ck_assert_int_eq(mkdir_p(f, 0755), 0);
        *slash = '/';
        ck_assert_int_eq(write_file_at(AT_FDCWD, f, content, strlen(content), 0644), 0);
        free(f);
        free(p);
}

static char *read_in(const char *dir, const char *rel)
{
        char *f = xasprintf("%s/%s", dir, rel), *c = NULL;
        int r = read_file_at(AT_FDCWD, f, 1000, &c, NULL);
        free(f);
        return r < 0 ? NULL : c;
}

START_TEST(test_overlay_of_layers)
{
        char *l1 = make_layer('a'), *l2 = make_layer('b');
        layer_file(l1, "etc/os-release", "lower");
        layer_file(l1, "etc/gone", "lower");
        layer_file(l1, "bin/sh", "lower sh");
        layer_file(l2, "bin/sh", "upper sh");
        char *p = layer_path(root, l2), *wh = xasprintf("%s/etc/gone", p);
        char *etc = xasprintf("%s/etc", p);
        ck_assert_int_eq(mkdir_p(etc, 0755), 0);
        free(etc);
        ck_assert_int_eq(mknod(wh, S_IFCHR, makedev(0, 0)), 0);
        free(wh);
        free(p);

        const char *ids[] = {l1, l2};
        char *lower = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(snapshot_lowerdir(root, ids, 2, &lower, &err), 0);
        char *want = xasprintf("%s/layers/%s:%s/layers/%s", root, l2 + 7, root, l1 + 7);
        ck_assert_str_eq(lower, want);
        free(want);
        free(lower);

        ck_assert_msg(snapshot_mount(root, "c1", ids, 2, NULL, &err) == 0, "%s",
                      berth_error_msg(err));
        char *rootfs = snapshot_path(root, "c1", "rootfs");
        char *c = read_in(rootfs, "etc/os-release");
        ck_assert_str_eq(c, "lower");
        free(c);
        c = read_in(rootfs, "bin/sh");
        ck_assert_str_eq(c, "upper sh");
        free(c);
        ck_assert_ptr_null(read_in(rootfs, "etc/gone"));

        /* writes go to the container's upper dir; the layers stay as they were */
        char *f = xasprintf("%s/etc/os-release", rootfs);
        ck_assert_int_eq(write_file_at(AT_FDCWD, f, "changed", 7, 0644), 0);
        free(f);
        char *upper = snapshot_path(root, "c1", "upper");
        c = read_in(upper, "etc/os-release");
        ck_assert_str_eq(c, "changed");
        free(c);
        char *l1p = layer_path(root, l1);
        c = read_in(l1p, "etc/os-release");
        ck_assert_str_eq(c, "lower");
        free(c);
        free(l1p);

        ck_assert_int_eq(snapshot_remove(root, "c1", &err), 0);
        struct stat st;
        ck_assert_int_eq(stat(upper, &st), -1);
        ck_assert_int_eq(stat(rootfs, &st), -1);
        free(upper);
        free(rootfs);
        free(l1);
        free(l2);
}
END_TEST

START_TEST(test_more_layers_than_a_page)
{
        enum { N = 60 };
        char *ids[N];
        for (int i = 0; i < N; i++) {
                char *id = xmalloc(72);
                snprintf(id, 72, "sha256:%064x", i + 1);
                char *p = layer_path(root, id);
                ck_assert_int_eq(mkdir_p(p, 0755), 0);
                free(p);
                char *rel = xasprintf("f%d", i);
                layer_file(id, rel, rel);
                free(rel);
                ids[i] = id;
        }
        char *lower = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(snapshot_lowerdir(root, (const char *const *)ids, N, &lower, &err), 0);
        ck_assert_uint_gt(strlen(lower), 4096);
        free(lower);
        ck_assert_msg(snapshot_mount(root, "big", (const char *const *)ids, N, NULL, &err) == 0,
                      "%s", berth_error_msg(err));
        char *rootfs = snapshot_path(root, "big", "rootfs");
        char *c = read_in(rootfs, "f0");
        ck_assert_str_eq(c, "f0");
        free(c);
        c = read_in(rootfs, "f59");
        ck_assert_str_eq(c, "f59");
        free(c);
        ck_assert_int_eq(snapshot_remove(root, "big", &err), 0);
        free(rootfs);
        for (int i = 0; i < N; i++)
                free(ids[i]);
}
END_TEST

START_TEST(test_errors)
{
        struct berth_error *err = NULL;
        const char *missing[] = {
            "sha256:9999999999999999999999999999999999999999999999999999999999999999"};
        ck_assert_int_eq(snapshot_mount(root, "c2", missing, 1, NULL, &err), -ENOENT);
        ck_assert_str_eq(err->msg,
                         "snapshot: layer "
                         "sha256:9999999999999999999999999999999999999999999999999999999999999999: "
                         "not found");
        berth_error_free(err);
        err = NULL;
        char *l = make_layer('c');
        const char *ids[] = {l};
        ck_assert_int_eq(snapshot_mount(root, "../escape", ids, 1, NULL, &err), -EINVAL);
        ck_assert_str_eq(err->msg, "container id '../escape': invalid");
        berth_error_free(err);
        err = NULL;
        ck_assert_int_eq(snapshot_mount(root, "c3", ids, 0, NULL, &err), -EINVAL);
        berth_error_free(err);
        err = NULL;
        /* unmounting what is not mounted is fine */
        ck_assert_int_eq(snapshot_unmount(root, "c4", NULL, &err), 0);
        free(l);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("snapshot");
        TCase *tc = tcase_create("core");
        tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_overlay_of_layers);
        tcase_add_test(tc, test_more_layers_than_a_page);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
