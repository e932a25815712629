/*
 * test-tabwriter.c — tables must line up exactly as docker's tabwriter lays
 * them out: column width = widest cell + padding (at least minwidth), the
 * trailing cell unpadded, a tab-less line closing the block, wide runes two
 * columns.
 */
#include <check.h>
#include <string.h>

#include "cli/tabwriter.h"

static char *layout(const char *in, int minwidth, int tabwidth, int padding, char padchar,
                    unsigned flags, size_t chunk)
{
        struct berth_buf out = BERTH_BUF_INIT;
        struct tabwriter *tw = tabwriter_new(&out, minwidth, tabwidth, padding, padchar, flags);
        size_t len = strlen(in);
        /* written in pieces: cells may arrive split anywhere */
        for (size_t i = 0; i < len; i += chunk)
                tabwriter_write(tw, in + i, len - i < chunk ? len - i : chunk);
        tabwriter_flush(tw);
        tabwriter_free(tw);
        buf_append(&out, "", 0);
        return buf_steal(&out);
}

static char *docker(const char *in)
{
        return layout(in, 10, 1, 3, ' ', 0, 7);
}

START_TEST(test_docker_table)
{
        char *got = docker("REPOSITORY\tTAG\tSIZE\nbusybox\tlatest\t1.2MB\n"
                           "alpine-long-name\t3.10\t5MB\n");
        ck_assert_str_eq(got, "REPOSITORY         TAG       SIZE\n"
                              "busybox            latest    1.2MB\n"
                              "alpine-long-name   3.10      5MB\n");
        free(got);
}
END_TEST

START_TEST(test_minwidth_and_trailing)
{
        /* the last cell of each line is never padded, even when empty */
        char *got = docker("a\tb\t\nccc\td\t\n");
        ck_assert_str_eq(got, "a         b         \nccc       d         \n");
        free(got);
        got = layout("a\tb\nlonger\tc\n", 0, 8, 1, '.', 0, 100);
        ck_assert_str_eq(got, "a......b\nlonger.c\n");
        free(got);
}
END_TEST

START_TEST(test_blocks_end_at_tabless_line)
{
        /* the tab-less line flushes: the second block is laid out on its own */
        char *got = layout("aaaaaaa\tx\nplain line\nb\ty\n", 0, 1, 1, ' ', 0, 3);
        ck_assert_str_eq(got, "aaaaaaa x\nplain line\nb y\n");
        free(got);
        /* a shorter line ends the inner column's block: the next block is sized alone */
        got = layout("a\tb\tc\naa\tbbbb\nx\ty\tz\n", 0, 1, 1, ' ', 0, 1);
        ck_assert_str_eq(got, "a  b c\naa bbbb\nx  y z\n");
        free(got);
}
END_TEST

START_TEST(test_unicode_width)
{
        ck_assert_uint_eq(tabwriter_text_width("abc", 3), 3);
        ck_assert_uint_eq(tabwriter_text_width("\xe6\x97\xa5\xe6\x9c\xac", 6), 4); /* 日本 */
        ck_assert_uint_eq(tabwriter_text_width("e\xcc\x81", 3), 1);                /* e + U+0301 */
        ck_assert_uint_eq(tabwriter_text_width("\xc3\xa9", 2), 1);                 /* é */
        char *got = layout("\xe6\x97\xa5\xe6\x9c\xac\tx\nab\ty\n", 0, 1, 1, ' ', 0, 1);
        ck_assert_str_eq(got, "\xe6\x97\xa5\xe6\x9c\xac x\nab   y\n");
        free(got);
}
END_TEST

START_TEST(test_align_right_and_debug)
{
        char *got = layout("1\t22\t\n333\t4\t\n", 0, 1, 1, ' ', TABWRITER_ALIGN_RIGHT, 2);
        ck_assert_str_eq(got, "   1 22\n 333  4\n");
        free(got);
        got = layout("a\tb\nc\td\n", 0, 1, 1, ' ', TABWRITER_DEBUG, 2);
        ck_assert_str_eq(got, "a |b\nc |d\n");
        free(got);
}
END_TEST

START_TEST(test_unterminated_and_many_cells)
{
        char *got = docker("x\ty");
        ck_assert_str_eq(got, "x         y");
        free(got);
        /* absurdly many cells: laid out without exhausting the stack */
        struct berth_buf in = BERTH_BUF_INIT;
        for (int i = 0; i < 20000; i++)
                buf_puts(&in, "a\t");
        buf_puts(&in, "\n");
        got = layout(in.data, 0, 1, 0, ' ', 0, 4096);
        ck_assert_uint_ge(strlen(got), 20000);
        free(got);
        buf_release(&in);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("tabwriter");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_docker_table);
        tcase_add_test(tc, test_minwidth_and_trailing);
        tcase_add_test(tc, test_blocks_end_at_tabless_line);
        tcase_add_test(tc, test_unicode_width);
        tcase_add_test(tc, test_align_right_and_debug);
        tcase_add_test(tc, test_unterminated_and_many_cells);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
