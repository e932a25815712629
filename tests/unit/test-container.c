/*
 * test-container.c — the parts of the runtime that need no namespaces:
 * container id validation, signal names, the state directory round trip
 * (a dead pid reads as "stopped"), list, and the features document.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "runtime/container.h"
#include "runtime/runtime-internal.h"

static void id_rejected(const char *id, const char *needle)
{
        struct berth_error *e = NULL;
        ck_assert_int_lt(berth_container_id_check(id, &e), 0);
        ck_assert_msg(strstr(berth_error_msg(e), needle), "'%s': %s", id, berth_error_msg(e));
        berth_error_free(e);
}

START_TEST(test_ids)
{
        ck_assert_int_eq(berth_container_id_check("web-1_a.b", NULL), 0);
        id_rejected("", "must not be empty");
        id_rejected("a/b", "invalid container id 'a/b'");
        id_rejected("..", "invalid container id");
        id_rejected(".", "invalid container id");
        id_rejected("a\nb", "control character");
        char *long_id = malloc(2000);
        memset(long_id, 'x', 1999);
        long_id[1999] = '\0';
        id_rejected(long_id, "too long");
        free(long_id);
}
END_TEST

START_TEST(test_signals)
{
        int sig = 0;
        ck_assert_int_eq(berth_signal_parse("KILL", &sig, NULL), 0);
        ck_assert_int_eq(sig, SIGKILL);
        ck_assert_int_eq(berth_signal_parse("SIGTERM", &sig, NULL), 0);
        ck_assert_int_eq(sig, SIGTERM);
        ck_assert_int_eq(berth_signal_parse("usr1", &sig, NULL), 0);
        ck_assert_int_eq(sig, SIGUSR1);
        ck_assert_int_eq(berth_signal_parse("9", &sig, NULL), 0);
        ck_assert_int_eq(sig, 9);
        ck_assert_int_eq(berth_signal_parse("RTMIN+2", &sig, NULL), 0);
        ck_assert_int_eq(sig, SIGRTMIN + 2);
        struct berth_error *e = NULL;
        ck_assert_int_lt(berth_signal_parse("NOPE", &sig, &e), 0);
        ck_assert_str_eq(berth_error_msg(e), "invalid signal 'NOPE'");
        berth_error_free(e);
        e = NULL;
        ck_assert_int_lt(berth_signal_parse("0", &sig, &e), 0);
        berth_error_free(e);
}
END_TEST

START_TEST(test_state_roundtrip_and_stopped)
{
        char root[] = "/tmp/berth-unit-state-XXXXXX";
        ck_assert_ptr_nonnull(mkdtemp(root));
        char *dir = state_dir(root, "c1");
        ck_assert_int_eq(mkdir_p(dir, 0700), 0);
        struct json *ann = json_new_object();
        json_set_str(ann, "k", "v");
        struct rt_state st = {.id = (char *)"c1",
                              .pid = 0x7ffffff0,
                              .pid_start = 1,
                              .bundle = (char *)"/b",
                              .rootfs = (char *)"/b/rootfs",
                              .created = (char *)"2026-01-01T00:00:00.000000000Z",
                              .owner = (char *)"",
                              .annotations = ann};
        ck_assert_int_eq(state_write(dir, &st, NULL), 0);
        json_free(ann);

        struct rt_state back;
        ck_assert_int_eq(state_read(root, "c1", &back, NULL), 0);
        ck_assert_str_eq(back.bundle, "/b");
        ck_assert_int_eq(back.pid, 0x7ffffff0);
        ck_assert_str_eq(json_str(json_get(back.annotations, "k")), "v");
        state_release(&back);

        struct berth_runtime rt = {.root = root};
        char *text = NULL;
        ck_assert_int_eq(berth_container_state_json(&rt, "c1", &text, NULL), 0);
        struct json *j = NULL;
        ck_assert_int_eq(json_parse(text, strlen(text), &j, NULL), 0);
        ck_assert_str_eq(json_str(json_get(j, "status")), "stopped");
        ck_assert_int_eq(json_get(j, "pid")->num.i, 0);
        json_free(j);
        free(text);

        struct berth_container_info *v = NULL;
        size_t n = 0;
        ck_assert_int_eq(berth_container_list(&rt, &v, &n, NULL), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(v[0].id, "c1");
        berth_container_info_free(v, n);

        struct berth_error *e = NULL;
        ck_assert_int_lt(berth_container_kill(&rt, "c1", SIGTERM, false, &e), 0);
        ck_assert_str_eq(berth_error_msg(e), "container 'c1' is not running");
        berth_error_free(e);
        e = NULL;
        ck_assert_int_lt(berth_container_state_json(&rt, "nope", &text, &e), 0);
        ck_assert_str_eq(berth_error_msg(e), "container 'nope' does not exist");
        berth_error_free(e);

        ck_assert_int_eq(berth_container_delete(&rt, "c1", false, NULL), 0);
        ck_assert_int_ne(access(dir, F_OK), 0);
        free(dir);
        rm_rf(root);
}
END_TEST

START_TEST(test_features)
{
        char *s = berth_runtime_features_json();
        struct json *j = NULL;
        ck_assert_int_eq(json_parse(s, strlen(s), &j, NULL), 0);
        ck_assert_str_eq(json_str(json_get(j, "ociVersionMax")), OCI_RUNTIME_SPEC_VERSION);
        ck_assert_uint_eq(json_len(json_get(j, "hooks")), 6);
        ck_assert(json_is(json_get(json_get(j, "linux"), "namespaces"), JSON_ARRAY));
        json_free(j);
        free(s);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("container");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_ids);
        tcase_add_test(tc, test_signals);
        tcase_add_test(tc, test_state_roundtrip_and_stopped);
        tcase_add_test(tc, test_features);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
