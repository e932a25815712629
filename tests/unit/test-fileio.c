/*
 * test-fileio.c — rm_rf and is_mount_point (base/fileio.h): a tree goes
 * whole, symlinks in it are removed and never followed, and a mount inside it
 * (a bind of the same filesystem, which st_dev cannot tell apart) is left with
 * everything it shows, the call answering -EBUSY.  Needs root (mounts).
 */
#include <check.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"

static char base[64];

static char *at(const char *rel)
{
        return xasprintf("%s/%s", base, rel);
}

static void setup(void)
{
        strcpy(base, "/tmp/berth-test-fileio-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(base));
}

static void teardown(void)
{
        char *t = at("tree/mnt");
        (void)umount2(t, MNT_DETACH);
        free(t);
        rm_rf(base);
}

static void put(const char *rel, const char *text)
{
        char *p = at(rel);
        ck_assert_int_eq(write_file_at(AT_FDCWD, p, text, strlen(text), 0644), 0);
        free(p);
}

static void dir(const char *rel)
{
        char *p = at(rel);
        ck_assert_int_eq(mkdir_p(p, 0755), 0);
        free(p);
}

static bool exists(const char *rel)
{
        char *p = at(rel);
        bool r = access(p, F_OK) == 0;
        free(p);
        return r;
}

START_TEST(test_rm_rf_whole_tree_links_not_followed)
{
        dir("tree/a/b/c");
        dir("victim");
        put("victim/keep", "keep");
        put("tree/a/f", "x");
        put("tree/a/b/c/g", "y");
        char *v = at("victim"), *l = at("tree/a/link"), *fl = at("tree/a/b/flink");
        ck_assert_int_eq(symlink(v, l), 0);
        char *vk = at("victim/keep");
        ck_assert_int_eq(symlink(vk, fl), 0);
        char *tree = at("tree");
        ck_assert_int_eq(rm_rf(tree), 0);
        ck_assert(!exists("tree"));
        ck_assert(exists("victim/keep"));
        ck_assert_int_eq(rm_rf(tree), 0); /* already gone */
        free(v), free(l), free(fl), free(vk), free(tree);
}
END_TEST

START_TEST(test_rm_rf_leaves_a_bind_of_the_same_filesystem)
{
        ck_assert_msg(geteuid() == 0, "test-fileio needs root (mounts)");
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        dir("tree/mnt");
        dir("device");
        put("device/precious", "data");
        put("tree/other", "z");
        char *dev = at("device"), *mnt = at("tree/mnt"), *tree = at("tree");
        ck_assert(!is_mount_point(mnt));
        ck_assert_int_eq(mount(dev, mnt, NULL, MS_BIND, NULL), 0);
        ck_assert(is_mount_point(mnt));
        /* the control: st_dev cannot tell this mount from its parent */
        struct stat a, b;
        ck_assert_int_eq(stat(tree, &a), 0);
        ck_assert_int_eq(stat(mnt, &b), 0);
        ck_assert_int_eq(a.st_dev, b.st_dev);
        ck_assert_int_eq(rm_rf(tree), -EBUSY);
        ck_assert(exists("device/precious"));
        ck_assert(exists("tree/mnt/precious"));
        ck_assert(!exists("tree/other"));
        ck_assert_int_eq(rm_rf(mnt), -EBUSY); /* the mount itself is refused too */
        ck_assert_int_eq(umount2(mnt, 0), 0);
        ck_assert_int_eq(rm_rf(tree), 0);
        ck_assert(exists("device/precious"));
        free(dev), free(mnt), free(tree);
}
END_TEST

START_TEST(test_rm_rf_and_du_of_a_very_deep_tree)
{
        /* deeper than PATH_MAX allows to name, as a container can make it: built by fd */
        dir("deep");
        char *top = at("deep");
        int fd = open(top, O_RDONLY | O_DIRECTORY);
        ck_assert_int_ge(fd, 0);
        for (int i = 0; i < 3000; i++) {
                ck_assert_int_eq(mkdirat(fd, "d", 0755), 0);
                if (i % 500 == 0) {
                        int f = openat(fd, "f", O_WRONLY | O_CREAT, 0644);
                        ck_assert_int_eq(write(f, "12345678", 8), 8);
                        close(f);
                }
                int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
                ck_assert_int_ge(next, 0);
                close(fd);
                fd = next;
        }
        close(fd);
        ck_assert_int_eq(du_bytes(top), 6 * 8);
        ck_assert_int_eq(rm_rf(top), 0);
        ck_assert(!exists("deep"));
        free(top);
}
END_TEST

START_TEST(test_path_clean_as_go)
{
        /* Go's path.Clean, cases from its own tests */
        static const char *const cases[][2] = {
            {"", "."},           {"abc", "abc"},         {"abc/def", "abc/def"},
            {"a/b/c", "a/b/c"},  {".", "."},             {"..", ".."},
            {"../..", "../.."},  {"../../abc", "../../abc"}, {"/abc", "/abc"},
            {"/", "/"},          {"abc/", "abc"},        {"abc/def/", "abc/def"},
            {"/abc/", "/abc"},   {"abc//def//ghi", "abc/def/ghi"}, {"//abc", "/abc"},
            {"///abc", "/abc"},  {"abc/./def", "abc/def"}, {"/./abc/def", "/abc/def"},
            {"abc/.", "abc"},    {"abc/def/ghi/../jkl", "abc/def/jkl"},
            {"abc/def/../ghi/../jkl", "abc/jkl"}, {"abc/def/..", "abc"},
            {"abc/def/../..", "."}, {"/abc/def/../..", "/"}, {"abc/def/../../..", ".."},
            {"/abc/def/../../..", "/"}, {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
            {"abc/./../def", "def"}, {"abc//./../def", "def"}, {"abc/../../././../def", "../../def"},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *got = path_clean(cases[i][0]);
                ck_assert_msg(strcmp(got, cases[i][1]) == 0, "Clean(%s) = %s, want %s",
                              cases[i][0], got, cases[i][1]);
                free(got);
        }
}
END_TEST

int main(void)
{
        Suite *s = suite_create("fileio");
        TCase *tc = tcase_create("fileio");
        /* check's 4 s default is no bound for 3,000 directories made and removed on a busy
         * machine's disk (it ran out once in CI next to a compile); meson's 120 s stays */
        tcase_set_timeout(tc, 100);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_rm_rf_whole_tree_links_not_followed);
        tcase_add_test(tc, test_rm_rf_leaves_a_bind_of_the_same_filesystem);
        tcase_add_test(tc, test_rm_rf_and_du_of_a_very_deep_tree);
        tcase_add_test(tc, test_path_clean_as_go);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
