/*
 * test-cli-flags.c — the pflag-compatible flag parser of berth and berthd:
 * every accepted spelling, grouped shorthands, lists, "--", both parse modes,
 * help, and pflag's exact error messages for bad input; plus the usage block
 * layout and the dispatcher's docker-style errors and exit codes.
 */
#include <check.h>
#include <stdarg.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/flags.h"

static const struct cli_flag flags[] = {
    {"debug", 'D', CLI_FLAG_BOOL, "Enable debug mode", NULL, NULL, false},
    {"host", 'H', CLI_FLAG_LIST, "Daemon socket to connect to", NULL, NULL, false},
    {"log-level", 'l', CLI_FLAG_STRING, "Set the logging level", "info", NULL, false},
    {"interactive", 'i', CLI_FLAG_BOOL, "Keep STDIN open", NULL, NULL, false},
    {"tty", 't', CLI_FLAG_BOOL, "Allocate a pseudo-TTY", NULL, NULL, false},
    {"max", 0, CLI_FLAG_INT, "A number", "3", NULL, false},
    {"secret", 0, CLI_FLAG_STRING, "Hidden", NULL, NULL, true},
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static int parse(struct cli_flagset *fs, enum cli_parse_mode mode, char **msg, ...)
{
        char *argv[32];
        int argc = 0;
        va_list ap;
        va_start(ap, msg);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        struct berth_error *err = NULL;
        int r = cli_flags_parse(fs, flags, NFLAGS, argc, argv, mode, &err);
        if (msg)
                *msg = err ? xstrdup(err->msg) : NULL;
        berth_error_free(err);
        return r;
}

START_TEST(test_forms)
{
        struct cli_flagset fs;
        ck_assert_int_eq(parse(&fs, CLI_PARSE_INTERSPERSED, NULL, "-H", "unix:///a",
                               "--host=unix:///b", "-Hunix:///c", "-H=unix:///d", "--host",
                               "unix:///e", "arg1", "-D", "--log-level", "debug", "arg2",
                               "--max=0x10", NULL),
                         0);
        char **h = cli_flag_list(&fs, "host");
        ck_assert_str_eq(h[0], "unix:///a");
        ck_assert_str_eq(h[1], "unix:///b");
        ck_assert_str_eq(h[2], "unix:///c");
        ck_assert_str_eq(h[3], "unix:///d");
        ck_assert_str_eq(h[4], "unix:///e");
        ck_assert_ptr_null(h[5]);
        ck_assert(cli_flag_bool(&fs, "debug"));
        ck_assert_str_eq(cli_flag_string(&fs, "log-level"), "debug");
        ck_assert_int_eq(cli_flag_int(&fs, "max"), 16);
        ck_assert_uint_eq(fs.n_args, 2);
        ck_assert_str_eq(fs.args[0], "arg1");
        ck_assert_str_eq(fs.args[1], "arg2");
        cli_flags_release(&fs);
}
END_TEST

START_TEST(test_defaults_and_bools)
{
        struct cli_flagset fs;
        ck_assert_int_eq(parse(&fs, CLI_PARSE_INTERSPERSED, NULL, NULL), 0);
        ck_assert_str_eq(cli_flag_string(&fs, "log-level"), "info");
        ck_assert(!cli_flag_is_set(&fs, "log-level"));
        ck_assert_int_eq(cli_flag_int(&fs, "max"), 3);
        ck_assert_ptr_null(cli_flag_list(&fs, "host"));
        ck_assert_ptr_null(cli_flag_string(&fs, "secret"));
        cli_flags_release(&fs);

        /* A bool never takes the next word: "--debug false" is the flag and an argument. */
        ck_assert_int_eq(parse(&fs, CLI_PARSE_INTERSPERSED, NULL, "--debug", "false", NULL), 0);
        ck_assert(cli_flag_bool(&fs, "debug"));
        ck_assert_str_eq(fs.args[0], "false");
        cli_flags_release(&fs);

        ck_assert_int_eq(parse(&fs, CLI_PARSE_INTERSPERSED, NULL, "--debug=False", "-D=0", NULL),
                         0);
        ck_assert(!cli_flag_bool(&fs, "debug"));
        ck_assert(cli_flag_is_set(&fs, "debug"));
        cli_flags_release(&fs);

        /* Grouped shorthands, a value-taking one last. */
        ck_assert_int_eq(parse(&fs, CLI_PARSE_INTERSPERSED, NULL, "-itH", "unix:///x", NULL), 0);
        ck_assert(cli_flag_bool(&fs, "interactive"));
        ck_assert(cli_flag_bool(&fs, "tty"));
        ck_assert_str_eq(cli_flag_list(&fs, "host")[0], "unix:///x");
        cli_flags_release(&fs);
}
END_TEST

START_TEST(test_modes_and_terminator)
{
        struct cli_flagset fs;
        ck_assert_int_eq(
            parse(&fs, CLI_PARSE_STOP_AT_ARG, NULL, "-D", "run", "-it", "busybox", NULL), 0);
        ck_assert(cli_flag_bool(&fs, "debug"));
        ck_assert(!cli_flag_bool(&fs, "interactive"));
        ck_assert_uint_eq(fs.n_args, 3);
        ck_assert_str_eq(fs.args[1], "-it");
        cli_flags_release(&fs);

        ck_assert_int_eq(parse(&fs, CLI_PARSE_INTERSPERSED, NULL, "a", "--", "-D", "-", NULL), 0);
        ck_assert(!cli_flag_bool(&fs, "debug"));
        ck_assert_uint_eq(fs.n_args, 3);
        ck_assert_str_eq(fs.args[1], "-D");
        ck_assert_str_eq(fs.args[2], "-");
        cli_flags_release(&fs);

        ck_assert_int_eq(parse(&fs, CLI_PARSE_INTERSPERSED, NULL, "x", "--help", NULL), 0);
        ck_assert(fs.help);
        cli_flags_release(&fs);
        ck_assert_int_eq(parse(&fs, CLI_PARSE_INTERSPERSED, NULL, "-h", NULL), 0);
        ck_assert(fs.help);
        cli_flags_release(&fs);
}
END_TEST

static void expect_error(const char *want, ...)
{
        char *argv[8];
        int argc = 0;
        va_list ap;
        va_start(ap, want);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        struct cli_flagset fs;
        struct berth_error *err = NULL;
        int r = cli_flags_parse(&fs, flags, NFLAGS, argc, argv, CLI_PARSE_INTERSPERSED, &err);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_str_eq(berth_error_msg(err), want);
        berth_error_free(err);
        cli_flags_release(&fs);
}

START_TEST(test_errors)
{
        expect_error("unknown flag: --bogus", "--bogus", NULL);
        expect_error("unknown flag: --bogus", "--bogus=1", NULL);
        expect_error("unknown shorthand flag: 'x' in -x", "-x", NULL);
        expect_error("unknown shorthand flag: 'x' in -itx", "-itx", NULL);
        expect_error("flag needs an argument: --host", "--host", NULL);
        expect_error("flag needs an argument: 'H' in -H", "-H", NULL);
        expect_error("invalid argument \"maybe\" for \"-D, --debug\" flag: strconv.ParseBool: "
                     "parsing \"maybe\": invalid syntax",
                     "-D=maybe", NULL);
        expect_error("invalid argument \"x\" for \"--max\" flag: strconv.ParseInt: parsing "
                     "\"x\": invalid syntax",
                     "--max", "x", NULL);
}
END_TEST

START_TEST(test_usage_layout)
{
        struct berth_buf b = BERTH_BUF_INIT;
        cli_flags_usage(&b, flags, NFLAGS);
        const char *want = "  -D, --debug              Enable debug mode\n"
                           "  -H, --host list          Daemon socket to connect to\n"
                           "  -l, --log-level string   Set the logging level (default \"info\")\n"
                           "  -i, --interactive        Keep STDIN open\n"
                           "  -t, --tty                Allocate a pseudo-TTY\n"
                           "      --max int            A number (default 3)\n";
        ck_assert_str_eq(b.data, want);
        buf_release(&b);
}
END_TEST

/* Run cli_main with captured output. */
static int run_cli(char **out, char **err, ...)
{
        char *argv[16] = {"berth"};
        int argc = 1;
        va_list ap;
        va_start(ap, err);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        char *obuf = NULL, *ebuf = NULL;
        size_t olen = 0, elen = 0;
        FILE *o = open_memstream(&obuf, &olen), *e = open_memstream(&ebuf, &elen);
        int code = cli_main(argc, argv, o, e);
        fclose(o);
        fclose(e);
        *out = obuf;
        *err = ebuf;
        return code;
}

START_TEST(test_dispatch_errors)
{
        char *out, *err;
        ck_assert_int_eq(run_cli(&out, &err, "foo", NULL), 1);
        ck_assert_str_eq(err, "berth: unknown command: berth foo\n\nRun 'berth --help' for more "
                              "information\n");
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "--bogus", NULL), 125);
        ck_assert_str_eq(err,
                         "unknown flag: --bogus\n\nUsage:  berth [OPTIONS] COMMAND [ARG...]\n\n"
                         "Run 'berth --help' for more information\n");
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "version", "--bogus", NULL), 125);
        ck_assert_str_eq(err, "unknown flag: --bogus\n\nUsage:  berth version [OPTIONS]\n\n"
                              "Run 'berth version --help' for more information\n");
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "info", "extra", NULL), 1);
        ck_assert_str_eq(err, "berth: 'berth info' accepts no arguments\n\nUsage:  berth info "
                              "[OPTIONS]\n\nRun 'berth info --help' for more information\n");
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "tag", "a", NULL), 1);
        ck_assert_str_eq(err, "berth: 'berth tag' requires 2 arguments\n\nUsage:  berth tag "
                              "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nRun 'berth tag --help' for "
                              "more information\n");
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "image", "inspect", NULL), 1);
        ck_assert_str_eq(err,
                         "berth: 'berth image inspect' requires at least 1 argument\n\nUsage:  "
                         "berth image inspect [OPTIONS] IMAGE [IMAGE...]\n\nSee 'berth image "
                         "inspect --help' for more information\n");
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "system", "nope", NULL), 1);
        ck_assert_str_eq(err,
                         "berth: unknown command: berth system nope\n\nUsage:  berth system\n\n"
                         "Run 'berth system --help' for more information\n");
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "-H", "unix:///a", "-H", "unix:///b", "info", NULL),
                         125);
        ck_assert_ptr_nonnull(strstr(err, "Please specify only one -H"));
        free(out);
        free(err);
}
END_TEST

START_TEST(test_help_and_version)
{
        char *out, *err;
        ck_assert_int_eq(run_cli(&out, &err, "--help", NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "Usage:  berth [OPTIONS] COMMAND\n"));
        ck_assert_ptr_nonnull(strstr(out,
                                     "\nCommon Commands:\n  version     Show the Berth version "
                                     "information\n"));
        ck_assert_ptr_nonnull(strstr(out, "\nGlobal Options:\n"));
        ck_assert_ptr_nonnull(strstr(out, "  -H, --host list "));
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "info", "--help", NULL), 0);
        ck_assert_ptr_nonnull(
            strstr(out, "Usage:  berth info [OPTIONS]\n\nDisplay system-wide information\n\n"
                        "Aliases:\n  berth system info, berth info\n\nOptions:\n"
                        "  -f, --format string   Format output using a custom template:\n"));
        free(out);
        free(err);

        ck_assert_int_eq(run_cli(&out, &err, "-v", NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "Berth version 0.1.0, build "));
        free(out);
        free(err);
}
END_TEST

/* docker's `help`: a command path shows that command's page; anything else is "unknown
 * help topic" (naming the words not understood) with exit status 1. */
START_TEST(test_help_topics)
{
        char *out, *err, *out2, *err2;
        ck_assert_int_eq(run_cli(&out, &err, "help", "image", "ls", NULL), 0);
        ck_assert_int_eq(run_cli(&out2, &err2, "image", "ls", "--help", NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "Usage:  berth image ls "));
        ck_assert_str_eq(out, out2);
        ck_assert_str_eq(err, "");
        free(out), free(err), free(out2), free(err2);

        ck_assert_int_eq(run_cli(&out, &err, "help", "image", NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "Usage:  berth image COMMAND\n"));
        free(out), free(err);

        static const char *const bad[][4] = {
            {"foo", NULL, NULL, "unknown help topic: foo\n"},
            {"foo", "bar", NULL, "unknown help topic: foo bar\n"},
            {"image", "foo", NULL, "unknown help topic: foo\n"},
            {"image", "ls", "foo", "unknown help topic: foo\n"},
            {"ls", NULL, NULL, "unknown help topic: ls\n"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ck_assert_int_eq(run_cli(&out, &err, "help", bad[i][0], bad[i][1], bad[i][2], NULL),
                                 1);
                ck_assert_str_eq(out, "");
                ck_assert_str_eq(err, bad[i][3]);
                free(out), free(err);
        }

        ck_assert_int_eq(run_cli(&out, &err, "help", "help", NULL), 0);
        ck_assert_str_eq(out, "Usage:  berth help [command]\n\nHelp about the command\n");
        free(out), free(err);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("cli-flags");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_forms);
        tcase_add_test(tc, test_defaults_and_bools);
        tcase_add_test(tc, test_modes_and_terminator);
        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_usage_layout);
        tcase_add_test(tc, test_dispatch_errors);
        tcase_add_test(tc, test_help_and_version);
        tcase_add_test(tc, test_help_topics);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
