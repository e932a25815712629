/*
 * test-registry.c — the registry client's pure parts: WWW-Authenticate
 * challenges, origin comparison (what decides whether credentials follow a
 * redirect), Location resolution, the insecure and loopback host rules, and
 * digests.  The network behaviour is tested against real registries in
 * tests/integration/test_registry.py.
 */
#include <check.h>
#include <string.h>

#include "registry/registry.h"

START_TEST(test_challenge_bearer)
{
        struct registry_challenge c;
        struct berth_error *err = NULL;
        int r = registry_parse_challenge(
            "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
            "scope=\"repository:samalba/my-app:pull,push\", error=\"insufficient_scope\"",
            &c, &err);
        ck_assert_msg(r == 0, "%s", berth_error_msg(err));
        ck_assert_str_eq(c.scheme, "bearer");
        ck_assert_str_eq(c.realm, "https://auth.docker.io/token");
        ck_assert_str_eq(c.service, "registry.docker.io");
        ck_assert_str_eq(c.scope, "repository:samalba/my-app:pull,push");
        ck_assert_str_eq(c.error, "insufficient_scope");
        registry_challenge_release(&c);

        r = registry_parse_challenge("BASIC realm=\"a \\\"quoted\\\" realm\"", &c, NULL);
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(c.scheme, "basic");
        ck_assert_str_eq(c.realm, "a \"quoted\" realm");
        registry_challenge_release(&c);

        r = registry_parse_challenge("Bearer realm=http://127.0.0.1:1/t,service=s", &c, NULL);
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(c.realm, "http://127.0.0.1:1/t");
        ck_assert_str_eq(c.service, "s");
        registry_challenge_release(&c);
}
END_TEST

static char *challenge_error(const char *h)
{
        struct registry_challenge c;
        struct berth_error *err = NULL;
        int r = registry_parse_challenge(h, &c, &err);
        ck_assert_int_lt(r, 0);
        ck_assert_ptr_nonnull(err);
        char *m = xstrdup(err->msg);
        berth_error_free(err);
        return m;
}

START_TEST(test_challenge_errors)
{
        char *m = challenge_error("Bearer service=\"x\"");
        ck_assert_str_eq(m, "bearer challenge without a realm");
        free(m);
        m = challenge_error("Bearer realm=\"open");
        ck_assert_ptr_nonnull(strstr(m, "unterminated quote"));
        free(m);
        m = challenge_error("Bearer realm");
        ck_assert_ptr_nonnull(strstr(m, "parameter without value"));
        free(m);
        m = challenge_error(NULL);
        ck_assert_str_eq(m, "401 without a WWW-Authenticate challenge");
        free(m);
}
END_TEST

START_TEST(test_same_origin)
{
        ck_assert(registry_same_origin("https://r.example/v2/", "https://r.example:443/x"));
        ck_assert(registry_same_origin("http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/b?x=1"));
        ck_assert(!registry_same_origin("http://127.0.0.1:5000/", "http://127.0.0.1:5001/"));
        ck_assert(!registry_same_origin("http://127.0.0.1:5000/", "http://127.0.0.2:5000/"));
        ck_assert(!registry_same_origin("https://r.example/", "http://r.example/"));
        ck_assert(!registry_same_origin("https://r.example/", "https://r.example.evil/"));
        ck_assert(!registry_same_origin("https://r.example/", "not a url"));
}
END_TEST

START_TEST(test_resolve_url)
{
        char *u = registry_resolve_url("http://h:1/v2/a/blobs/uploads/",
                                       "/v2/a/blobs/uploads/u1?_state=x");
        ck_assert_str_eq(u, "http://h:1/v2/a/blobs/uploads/u1?_state=x");
        free(u);
        u = registry_resolve_url("https://h/v2/a/blobs/x", "https://s3.example/bucket/x?sig=1");
        ck_assert_str_eq(u, "https://s3.example/bucket/x?sig=1");
        free(u);
        u = registry_resolve_url("https://h/v2/a/blobs/x", "//cdn.example/y");
        ck_assert_str_eq(u, "https://cdn.example/y");
        free(u);
        ck_assert_ptr_null(registry_resolve_url("https://h/v2/", "file:///etc/passwd"));
}
END_TEST

START_TEST(test_hosts)
{
        char *insecure[] = {"myreg:5000", "10.1.0.0/16", NULL};
        ck_assert(registry_host_insecure(insecure, "myreg:5000"));
        ck_assert(!registry_host_insecure(insecure, "myreg:5001"));
        ck_assert(registry_host_insecure(insecure, "10.1.200.3:443"));
        ck_assert(!registry_host_insecure(insecure, "10.2.0.1"));
        ck_assert(!registry_host_insecure(NULL, "myreg:5000"));
        ck_assert(registry_host_loopback("127.0.0.1:5000"));
        ck_assert(registry_host_loopback("127.3.4.5"));
        ck_assert(registry_host_loopback("localhost:80"));
        ck_assert(registry_host_loopback("[::1]:5000"));
        ck_assert(!registry_host_loopback("128.0.0.1"));
        ck_assert(!registry_host_loopback("registry-1.docker.io"));
}
END_TEST

START_TEST(test_digest)
{
        char *d = registry_digest_sha256("", 0);
        ck_assert_str_eq(d,
                         "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        free(d);
}
END_TEST

START_TEST(test_repo_open_validates)
{
        struct registry_client *c = NULL;
        struct registry_repo *r = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(registry_client_new(NULL, &c, &err), 0);
        ck_assert_int_eq(registry_repo_open(c, "reg/x", "a", NULL, REGISTRY_PULL, &r, &err),
                         -EINVAL);
        ck_assert_str_eq(err->msg, "registry host 'reg/x': invalid");
        berth_error_freep(&err);
        ck_assert_int_eq(registry_repo_open(c, "reg", "a b", NULL, REGISTRY_PULL, &r, &err),
                         -EINVAL);
        ck_assert_str_eq(err->msg, "repository 'a b': invalid name");
        berth_error_freep(&err);
        ck_assert_int_eq(
            registry_repo_open(c, "127.0.0.1:5000", "library/x", NULL, REGISTRY_PULL, &r, &err), 0);
        registry_repo_free(r);
        registry_client_free(c);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("registry");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_challenge_bearer);
        tcase_add_test(tc, test_challenge_errors);
        tcase_add_test(tc, test_same_origin);
        tcase_add_test(tc, test_resolve_url);
        tcase_add_test(tc, test_hosts);
        tcase_add_test(tc, test_digest);
        tcase_add_test(tc, test_repo_open_validates);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
