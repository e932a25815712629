/*
 * check-tap.h — run a Check suite and report every case in TAP, so that
 * meson (protocol : 'tap' in tests/unit/meson.build) counts a case that could
 * not run on this host as skipped, never as passed.
 *
 * How: Check 0.15 has no skip status and forks each case.  A case that cannot
 * run calls ck_skip(why) and returns; a case that runs but must leave out a
 * part calls ck_skip_part(why) and goes on.  Both append "<case>\t<kind>\t<why>"
 * to a temp file the forked case processes inherit (O_APPEND: whole lines).
 * ck_run_tap() runs the suite silently, then prints one TAP line per result:
 * "ok N - case", "ok N - case # SKIP why", or "not ok N - case" with Check's
 * message; a part left out is a "# case: not run: why" line before its "ok".
 * The case is named by its TCase (tr_tcname() is the only name Check gives a
 * result), so every case sits in a TCase of its own: ck_add_case().
 *
 * Never: print anything else on stdout while the suite runs (it is the TAP
 * stream); use ck_skip() for a prerequisite the test machine can install —
 * that is a failure (shared/CONVENTIONS.md).
 */
#ifndef BERTH_TESTS_CHECK_TAP_H
#define BERTH_TESTS_CHECK_TAP_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ck_tap_skip_fd = -1;

static inline void ck_tap_note(const char *kind, const char *why)
{
        if (ck_tap_skip_fd >= 0)
                dprintf(ck_tap_skip_fd, "%s\t%s\t%s\n", tcase_name(), kind, why);
        fprintf(stderr, "%s %s: %s\n", kind, tcase_name(), why);
}

/* The whole case cannot run here: say why, then return from the test. */
static inline void ck_skip(const char *why)
{
        ck_tap_note("SKIP", why);
}

/* Part of the case cannot run here: say which and why, and go on. */
static inline void ck_skip_part(const char *why)
{
        ck_tap_note("PART", why);
}

/* A TCase of its own for test t, named name, with the suite's fixture and timeout. */
static inline void ck_add_case(Suite *s, const char *name, const TTest *t, SFun setup,
                               SFun teardown, double timeout)
{
        TCase *tc = tcase_create(name);
        if (setup || teardown)
                tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, timeout);
        tcase_add_test(tc, t);
        suite_add_tcase(s, tc);
}

/* Run the suite, print TAP; 0 when nothing failed. */
static inline int ck_run_tap(Suite *s)
{
        FILE *notes = tmpfile();
        if (!notes) {
                perror("check-tap: tmpfile");
                return 1;
        }
        ck_tap_skip_fd = fileno(notes);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_SILENT);
        int n = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
        TestResult **res = srunner_results(sr);
        fflush(notes);
        rewind(notes);
        size_t cap = 0, len = 0;
        char *all = NULL, buf[4096];
        for (size_t k; (k = fread(buf, 1, sizeof(buf), notes)) > 0; len += k) {
                if (len + k + 1 > cap)
                        all = realloc(all, cap = 2 * (len + k + 1));
                memcpy(all + len, buf, k);
        }
        if (all)
                all[len] = '\0';
        printf("1..%d\n", n);
        for (int i = 0; i < n; i++) {
                const char *name = tr_tcname(res[i]);
                const char *skip = NULL;
                size_t lname = strlen(name), lskip = 0;
                for (char *line = all; line && *line;) {
                        char *end = strchr(line, '\n');
                        size_t l = end ? (size_t)(end - line) : strlen(line);
                        if (l > lname + 6 && !strncmp(line, name, lname) && line[lname] == '\t') {
                                const char *kind = line + lname + 1, *why = kind + 5;
                                if (!strncmp(kind, "SKIP\t", 5)) {
                                        skip = why;
                                        lskip = l - lname - 6;
                                } else if (!strncmp(kind, "PART\t", 5)) {
                                        printf("# %s: not run: %.*s\n", name, (int)(l - lname - 6),
                                               why);
                                }
                        }
                        line = end ? end + 1 : line + l;
                }
                if (tr_rtype(res[i]) != CK_PASS)
                        printf("not ok %d - %s: %s:%d: %s\n", i + 1, name, tr_lfile(res[i]),
                               tr_lno(res[i]), tr_msg(res[i]));
                else if (skip)
                        printf("ok %d - %s # SKIP %.*s\n", i + 1, name, (int)lskip, skip);
                else
                        printf("ok %d - %s\n", i + 1, name);
        }
        free(res);
        free(all);
        srunner_free(sr);
        fclose(notes);
        return failed == 0 ? 0 : 1;
}

#endif
