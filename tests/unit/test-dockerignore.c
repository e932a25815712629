/*
 * test-dockerignore.c — .dockerignore patterns read and matched as docker
 * reads them: the cases of moby/patternmatcher's tests and ignorefile's,
 * docs.docker.com's examples, and the corners of cleaning, exceptions,
 * "**", escapes, Unicode and the walker's skip rule.  Expectations were
 * cross-checked against docker's algorithm run on Go's own regexp and
 * filepath (a differential oracle, see the branch's report).
 */
#include <check.h>
#include <string.h>

#include "build/dockerignore.h"

static struct dockerignore *parse_ok(const char *text)
{
        struct dockerignore *di = NULL;
        struct berth_error *err = NULL;
        int r = dockerignore_parse(text, strlen(text), &di, &err);
        ck_assert_msg(r == 0, "'%s': %s", text, berth_error_msg(err));
        berth_error_free(err);
        return di;
}

/* file: the .dockerignore; path; want: 1 excluded, 0 sent. */
struct match_case {
        const char *file, *path;
        int want;
};

static const struct match_case match_cases[] = {
    /* moby/patternmatcher TestMatches (one pattern, MatchesOrParentMatches) */
    {"**", "file", 1}, {"**", "dir/file", 1}, {"**/", "file", 1}, {"**/**", "dir/file", 1},
    {"dir/**", "dir/file", 1}, {"dir/**", "dir/dir2/file", 1}, {"**/dir", "dir", 1},
    {"**/dir", "dir/file", 1}, {"**/dir2/*", "dir/dir2/file", 1},
    {"**/dir2/**", "dir/dir2/dir3/file", 1}, {"**file", "file", 1}, {"**file", "dir/file", 1},
    {"**/file", "dir/file", 1}, {"**file", "dir/dir/file", 1}, {"**/file*", "dir/dir/file", 1},
    {"**/file*", "dir/dir/file.txt", 1}, {"**/file*txt", "dir/dir/file.txt", 1},
    {"**/file*.txt", "dir/dir/file.txt", 1}, {"**/file*.txt*", "dir/dir/file.txt", 1},
    {"**/**/*.txt", "dir/dir/file.txt", 1}, {"**/**/*.txt2", "dir/dir/file.txt", 0},
    {"**/*.txt", "file.txt", 1}, {"**/**/*.txt", "file.txt", 1}, {"a**/*.txt", "a/file.txt", 1},
    {"a**/*.txt", "a/dir/file.txt", 1}, {"a**/*.txt", "a/dir/dir/file.txt", 1},
    {"a/*.txt", "a/dir/file.txt", 0}, {"a/*.txt", "a/file.txt", 1}, {"a/*.txt**", "a/file.txt", 1},
    {"a[b-d]e", "ae", 0}, {"a[b-d]e", "ace", 1}, {"a[b-d]e", "aae", 0}, {"a[^b-d]e", "aze", 1},
    {".*", ".foo", 1}, {".*", "foo", 0}, {"abc.def", "abcdef", 0}, {"abc.def", "abc.def", 1},
    {"abc.def", "abcZdef", 0}, {"abc?def", "abcZdef", 1}, {"abc?def", "abcdef", 0},
    {"**/foo/bar", "foo/bar", 1}, {"**/foo/bar", "dir/foo/bar", 1},
    {"**/foo/bar", "dir/dir2/foo/bar", 1}, {"abc/**", "abc", 0}, {"abc/**", "abc/def", 1},
    {"abc/**", "abc/def/ghi", 1}, {"**/.foo", ".foo", 1}, {"**/.foo", "bar.foo", 0},
    {"a(b)c/def", "a(b)c/def", 1}, {"a(b)c/def", "a(b)c/xyz", 0},
    {"a.|)$(}+{bc", "a.|)$(}+{bc", 1}, {"a\\\\", "a\\", 1}, {"a\\*b", "a*b", 1},
    {"a\\*b", "ab", 0}, {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", 1},
    /* filepath.Match's own cases, through docker */
    {"*", "abc", 1}, {"*c", "abc", 1}, {"a*", "ab/c", 1}, {"a*/b", "abc/b", 1}, {"a*/b", "a/c/b", 0},
    {"a*b*c*d*e*/f", "axbxcxdxe/f", 1}, {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", 0},
    {"a*b?c*x", "abxbbxdbxebxczzx", 1}, {"a*b?c*x", "abxbbxdbxebxczzy", 0}, {"ab[^c]", "abc", 0},
    {"a?b", "a☺b", 1}, {"a[^a]b", "a☺b", 1}, {"a???b", "a☺b", 0}, {"[a-ζ]*", "α", 1},
    {"*[a-ζ]", "A", 0}, {"a?b", "a/b", 0}, {"a*b", "a/b", 0}, {"[\\]a]", "]", 1}, {"[\\-]", "-", 1},
    {"[x\\-]", "-", 1}, {"[x\\-]", "z", 0}, {"*x", "xxx", 1},
    /* '!' inside a class is a character, not a negation (Go's syntax is '^') */
    {"[!a]", "b", 0}, {"[!a]", "!", 1},
    /* docs.docker.com's example */
    {"# comment\n*/temp*\n*/*/temp*\ntemp?", "somedir/temporary.txt", 1},
    {"# comment\n*/temp*\n*/*/temp*\ntemp?", "somedir/temp", 1},
    {"# comment\n*/temp*\n*/*/temp*\ntemp?", "somedir/subdir/temporary.txt", 1},
    {"# comment\n*/temp*\n*/*/temp*\ntemp?", "tempa", 1},
    {"# comment\n*/temp*\n*/*/temp*\ntemp?", "tempab", 0},
    {"# comment\n*/temp*\n*/*/temp*\ntemp?", "temporary.txt", 0},
    {"**/*.go", "a/b/c.go", 1}, {"**/*.go", "c.go", 1},
    {"*.md\n!README.md", "README.md", 0}, {"*.md\n!README.md", "CHANGES.md", 1},
    {"*.md\n!README*.md\nREADME-secret.md", "README-secret.md", 1},
    {"*.md\n!README*.md\nREADME-secret.md", "README-public.md", 0},
    {"*.md\nREADME-secret.md\n!README*.md", "README-secret.md", 0},
    /* the file: comments only at the first byte, whitespace, CRLF, BOM, cleaning */
    {" # not a comment", "# not a comment", 1}, {"#foo", "#foo", 0}, {"\\#foo", "#foo", 1},
    {"foo  \t", "foo", 1}, {"\xc2\xa0" "foo" "\xe3\x80\x80", "foo", 1}, {"foo\r\nbar\r\n", "bar", 1},
    {"\xef\xbb\xbf" "foo", "foo", 1}, {"a\n\xef\xbb\xbf" "foo", "foo", 0},
    {"/foo", "foo", 1}, {"foo/", "foo/bar", 1}, {"./foo/../bar//baz/.", "bar/baz", 1},
    {"../foo", "foo", 0}, {"/../foo", "foo", 1}, {"foo /", "foo", 1}, {".", "a", 0}, {"/", "a", 0},
    {"! /inverted\ninverted", "inverted", 1}, {"inverted\n! /inverted/", "inverted", 0},
    /* parents: a pattern matching a directory excludes all below it */
    {"docs", "docs/a/b/c", 1}, {"docs\n!docs/README.md", "docs/README.md", 0},
    {"docs\n!docs/README.md", "docs/other.md", 1}, {"docs/\n!docs/README.md", "docs/README.md", 0},
    {"docs/*\n!docs/README.md", "docs/README.md", 0}, {"*/b", "a/b/c/d", 1}, {"b", "a/b", 0},
    /* last match wins; exceptions to exceptions */
    {"*.go\n!fileutils.go", "fileutils.go", 0}, {"!fileutils.go\n*.go", "fileutils.go", 1},
    {"a\n!a/b\na/b/c", "a/b/c", 1}, {"a\n!a/b\na/b/c", "a/b/d", 0},
    {"a\n!a/b\na/b/c\n!a/b/c/keep", "a/b/c/keep", 0}, {"a\n!a/b\na/b/c\n!a/b/c/keep", "a/b/c/x", 1},
    {"**\n!util/docker/web", "util/docker/web/foo", 0},
    {"**\n!util/docker/web\nutil/docker/web/foo", "util/docker/web/foo", 1},
    {"**\n!dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", 0},
    /* docker's "**" shortcuts: a leading "**" is a suffix test, "a**b" needs a '/' */
    {"**.go", "a/b.go", 1}, {"**foo", "barfoo", 1}, {"a**b", "ab", 1}, {"a**b", "ax/b", 1},
    {"a**b", "axb", 0}, {"**/foo", "afoo", 0}, {"foo**", "foobar/x", 1},
    /* '*' and '?' stop at '/', "**" does not; Go's '.' does not take a newline, [^/] does */
    {"a/**/b", "a/x\ny/b", 0}, {"a/*/b", "a/x\ny/b", 1}, {"a/**/b", "a/b", 1},
    /* a stray '^' is a regexp anchor once the pattern is a regexp; literal otherwise */
    {"a^b", "a^b", 1}, {"a^b*", "a^bc", 0}, {"^a*", "abc", 1},
    /* dot files, spaces, Unicode, escapes */
    {".*", ".git/config", 1}, {".git", ".git/HEAD", 1}, {".git", ".gitignore", 0},
    {"my file.txt", "my file.txt", 1}, {"my\\ file*", "my file.txt", 1},
    {"dir with space/*", "dir with space/x", 1}, {"données/*.csv", "données/été.csv", 1},
    {"?té.csv", "été.csv", 1}, {"[é-ü]*", "ö", 1}, {"日本/*", "日本/語", 1},
    {"\\[x]", "[x]", 1}, {"\\[x]", "x", 0}, {"[[]x", "[x", 1}, {"a\\?", "a?", 1}, {"a\\?", "ab", 0},
};

START_TEST(test_match_table)
{
        const struct match_case *c = &match_cases[_i];
        struct dockerignore *di = parse_ok(c->file);
        bool got = dockerignore_excluded(di, c->path);
        ck_assert_msg(got == (c->want == 1), "patterns '%s', path '%s': got %s", c->file, c->path,
                      got ? "excluded" : "sent");
        dockerignore_free(di);
}
END_TEST

struct error_case {
        const char *file, *err;
};

static const struct error_case error_cases[] = {
    {"!", "line 1: illegal exclusion pattern: \"!\""},
    {"a\n\n! ", "line 3: illegal exclusion pattern: \"!\""},
    {"!/", "line 1: illegal exclusion pattern: \"!\""},
    {"[", "line 1: syntax error in pattern '['"},
    {"ok\n# c\n[a-", "line 3: syntax error in pattern '[a-'"},
    {"[]a]", "line 1: syntax error in pattern '[]a]'"},
    {"[-]", "line 1: syntax error in pattern '[-]'"},
    {"[x-]", "line 1: syntax error in pattern '[x-]'"},
    {"[-x]", "line 1: syntax error in pattern '[-x]'"},
    {"[a-b-c]", "line 1: syntax error in pattern '[a-b-c]'"},
    {"[^", "line 1: syntax error in pattern '[^'"},
    {"[^bc", "line 1: syntax error in pattern '[^bc'"},
    {"a[", "line 1: syntax error in pattern 'a['"},
    {"foo\\", "line 1: syntax error in pattern 'foo\\'"},
    {"x/*\\", "line 1: syntax error in pattern 'x/*\\'"},
    {"!a/[", "line 1: syntax error in pattern 'a/['"},
    /* docker's regexp refuses these (when a path reaches them) */
    {"[z-a]", "line 1: syntax error in pattern '[z-a]'"},
    {"a\\é", "line 1: syntax error in pattern 'a\\é'"},
    {"a\\c", "line 1: syntax error in pattern 'a\\c'"},
    {"a\\1", "line 1: syntax error in pattern 'a\\1'"},
    {"[\\b]", "line 1: syntax error in pattern '[\\b]'"},
};

START_TEST(test_error_table)
{
        const struct error_case *c = &error_cases[_i];
        struct dockerignore *di = NULL;
        struct berth_error *err = NULL;
        int r = dockerignore_parse(c->file, strlen(c->file), &di, &err);
        ck_assert_msg(r == -EINVAL, "'%s' should fail", c->file);
        ck_assert_ptr_null(di);
        ck_assert_msg(strcmp(err->msg, c->err) == 0, "'%s': got '%s', want '%s'", c->file, err->msg,
                      c->err);
        berth_error_free(err);
}
END_TEST

START_TEST(test_cleaned_list)
{
        /* ignorefile_test.go's file, minus its two "!" lines (New refuses them) */
        const char *text = "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n"
                           "! /inverted/abs/path\n  \t\n/./x/../y//";
        const char *want[] = {"test1", "test2", "a/file/here", "lastfile", "inverted/abs/path", "y"};
        struct dockerignore *di = parse_ok(text);
        ck_assert_uint_eq(dockerignore_count(di), ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                bool exc;
                ck_assert_str_eq(dockerignore_pattern(di, i, &exc), want[i]);
                ck_assert(exc == (i == 4));
        }
        dockerignore_free(di);

        di = parse_ok("");
        ck_assert_uint_eq(dockerignore_count(di), 0);
        ck_assert(!dockerignore_excluded(di, "anything"));
        dockerignore_free(di);
}
END_TEST

START_TEST(test_long_line)
{
        size_t n = 65536;
        char *text = xmalloc(n + 8);
        memset(text, 'a', n);
        memcpy(text + n, "\n", 1);
        struct dockerignore *di = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(dockerignore_parse(text, n + 1, &di, &err), -EINVAL);
        ck_assert_str_eq(err->msg, "line 1: longer than 65535 bytes");
        berth_error_free(err);
        err = NULL;
        /* 65535 bytes is still one line docker reads */
        ck_assert_int_eq(dockerignore_parse(text + 1, n, &di, &err), 0);
        ck_assert_uint_eq(dockerignore_count(di), 1);
        dockerignore_free(di);
        free(text);
}
END_TEST

/* dir; want: 1 the walker may skip it, 0 it must walk (or it is not excluded) */
struct skip_case {
        const char *file, *dir;
        int want;
};

static const struct skip_case skip_cases[] = {
    {"node_modules", "node_modules", 1},
    {"node_modules", "src", 0},
    {"docs\n!docs/README.md", "docs", 0},
    {"docs\n!docs/README.md", "docsx", 0},
    {"docs\n!docs/README.md\nother", "other", 1},
    {"a\n!a/b/c", "a", 0},
    {"a\n!a/b/c", "a/b", 0},
    {"a\n!a/b/c", "a/x", 1},
    {"a\n!a", "a", 0},
    /* docker's prefix test only: a wildcard exception below does not stop the skip */
    {"a\n!*/keep", "a", 1},
    {"a\n!a/*/keep", "a", 0},
    {"a\n!ab/c", "a", 1},
    {"**\n!src", "src", 0},
    {"**\n!src", "lib", 1},
};

START_TEST(test_skip_table)
{
        const struct skip_case *c = &skip_cases[_i];
        struct dockerignore *di = parse_ok(c->file);
        bool got = dockerignore_can_skip_dir(di, c->dir);
        ck_assert_msg(got == (c->want == 1), "patterns '%s', dir '%s': got %d", c->file, c->dir,
                      got);
        dockerignore_free(di);
}
END_TEST

START_TEST(test_keep_build_files)
{
        /* excluded by name, by glob and by a parent: kept, and only those */
        struct dockerignore *di = parse_ok("Dockerfile\n.dockerignore\nsecret");
        dockerignore_keep_build_files(di, "Dockerfile", false);
        ck_assert(!dockerignore_excluded(di, "Dockerfile"));
        ck_assert(!dockerignore_excluded(di, ".dockerignore"));
        ck_assert(dockerignore_excluded(di, "secret"));
        ck_assert_uint_eq(dockerignore_count(di), 5);
        dockerignore_free(di);

        di = parse_ok("*");
        dockerignore_keep_build_files(di, "./build/../Dockerfile.dev", false);
        ck_assert(!dockerignore_excluded(di, "Dockerfile.dev"));
        ck_assert(!dockerignore_excluded(di, ".dockerignore"));
        ck_assert(dockerignore_excluded(di, "Dockerfile"));
        dockerignore_free(di);

        di = parse_ok("ci");
        dockerignore_keep_build_files(di, "ci/docker/Dockerfile", false);
        ck_assert(!dockerignore_excluded(di, "ci/docker/Dockerfile"));
        ck_assert(dockerignore_excluded(di, "ci/docker/other"));
        /* the walker must enter ci and ci/docker to find it */
        ck_assert(!dockerignore_can_skip_dir(di, "ci"));
        ck_assert(!dockerignore_can_skip_dir(di, "ci/docker"));
        ck_assert(dockerignore_can_skip_dir(di, "ci/other"));
        dockerignore_free(di);

        /* not excluded: nothing added; from stdin: the Dockerfile is not in the context */
        di = parse_ok("*.md");
        dockerignore_keep_build_files(di, "Dockerfile", false);
        ck_assert_uint_eq(dockerignore_count(di), 1);
        dockerignore_free(di);
        di = parse_ok("Dockerfile");
        dockerignore_keep_build_files(di, "Dockerfile", true);
        ck_assert(dockerignore_excluded(di, "Dockerfile"));
        dockerignore_free(di);

        /* the name is literal, not a pattern (docker would read "Dockerfile[" as one) */
        di = parse_ok("*");
        dockerignore_keep_build_files(di, "Docker[file", false);
        ck_assert(!dockerignore_excluded(di, "Docker[file"));
        dockerignore_keep_build_files(di, "../outside", false);
        ck_assert(dockerignore_excluded(di, "x"));
        dockerignore_free(di);
}
END_TEST

START_TEST(test_pathological)
{
        /* many "**" and '*' over a long path that almost matches: linear, not exponential */
        char pat[4096] = "", path[8192] = "";
        for (int i = 0; i < 200; i++)
                strcat(pat, "**/a*");
        strcat(pat, "/b");
        for (int i = 0; i < 2000; i++)
                strcat(path, "a/");
        strcat(path, "c");
        struct dockerignore *di = parse_ok(pat);
        ck_assert(!dockerignore_excluded(di, path));
        path[strlen(path) - 1] = 'b';
        ck_assert(dockerignore_excluded(di, path));
        dockerignore_free(di);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("dockerignore");
        TCase *tc = tcase_create("core");
        tcase_add_loop_test(tc, test_match_table, 0, ELEMENTSOF(match_cases));
        tcase_add_loop_test(tc, test_error_table, 0, ELEMENTSOF(error_cases));
        tcase_add_test(tc, test_cleaned_list);
        tcase_add_test(tc, test_long_line);
        tcase_add_loop_test(tc, test_skip_table, 0, ELEMENTSOF(skip_cases));
        tcase_add_test(tc, test_keep_build_files);
        tcase_add_test(tc, test_pathological);
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
