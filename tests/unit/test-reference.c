/*
 * test-reference.c — image references must parse, normalise and print back
 * exactly as Docker's distribution/reference does, and fail with Docker's
 * messages; the tables mirror the cases of its reference_test.go and
 * normalize_test.go.
 */
#include <check.h>
#include <string.h>

#include "image/reference.h"

#define F64  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define F128 F64 F64

/* err NULL: must parse to domain/path/tag/digest (NULL = absent). */
struct parse_case {
        const char *in;
        const char *domain, *path, *tag, *digest;
        const char *err;
};

static const struct parse_case parse_cases[] = {
    {"test_com", NULL, "test_com", NULL, NULL, NULL},
    {"test.com:tag", NULL, "test.com", "tag", NULL, NULL},
    {"test.com:5000", NULL, "test.com", "5000", NULL, NULL},
    {"test.com/repo:tag", "test.com", "repo", "tag", NULL, NULL},
    {"test:5000/repo", "test:5000", "repo", NULL, NULL, NULL},
    {"test:5000/repo:tag", "test:5000", "repo", "tag", NULL, NULL},
    {"test:5000/repo@sha256:" F64, "test:5000", "repo", NULL, "sha256:" F64, NULL},
    {"test:5000/repo:tag@sha256:" F64, "test:5000", "repo", "tag", "sha256:" F64, NULL},
    {"", NULL, NULL, NULL, NULL, "repository name must have at least one component"},
    {":justtag", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"@sha256:" F64, NULL, NULL, NULL, NULL, "invalid reference format"},
    {"repo@sha256:fffffffffffffffffffffffffffffffffff", NULL, NULL, NULL, NULL,
     "invalid checksum digest length"},
    {"validname@invaliddigest:" F64, NULL, NULL, NULL, NULL, "unsupported digest algorithm"},
    {"repo@sha256:" F64 "f", NULL, NULL, NULL, NULL, "invalid checksum digest length"},
    {"repo@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", NULL, NULL,
     NULL, NULL, "invalid checksum digest format"},
    {"repo@sha256:abc", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"Uppercase:tag", NULL, NULL, NULL, NULL,
     "invalid reference format: repository name must be lowercase"},
    {"test:5000/Uppercase/lowercase:tag", NULL, NULL, NULL, NULL,
     "invalid reference format: repository name must be lowercase"},
    {"lowercase:Uppercase", NULL, "lowercase", "Uppercase", NULL, NULL},
    {"aa/asdf$$^/aa", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", NULL, NULL, NULL},
    {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
     "some-long-tag", NULL, NULL},
    {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
     "test.example.com", NULL, NULL},
    {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", NULL, NULL},
    {"xn--7o8h.com/myimage:xn--7o8h.com@sha512:" F128, "xn--7o8h.com", "myimage", "xn--7o8h.com",
     "sha512:" F128, NULL},
    {"foo_bar.com:8080", NULL, "foo_bar.com", "8080", NULL, NULL},
    {"foo/foo_bar.com:8080", "foo", "foo_bar.com", "8080", NULL, NULL},
    {"192.168.1.1", NULL, "192.168.1.1", NULL, NULL, NULL},
    {"192.168.1.1:tag", NULL, "192.168.1.1", "tag", NULL, NULL},
    {"192.168.1.1:5000", NULL, "192.168.1.1", "5000", NULL, NULL},
    {"192.168.1.1/repo", "192.168.1.1", "repo", NULL, NULL, NULL},
    {"192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", NULL, NULL, NULL},
    {"192.168.1.1:5000/repo@sha256:" F64, "192.168.1.1:5000", "repo", NULL, "sha256:" F64, NULL},
    {"[2001:db8::1]", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"[2001:db8::1]:5000", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"[2001:db8::1]:tag", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"[2001:db8::1]/repo", "[2001:db8::1]", "repo", NULL, NULL, NULL},
    {"[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", NULL, NULL},
    {"[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", NULL, NULL, NULL},
    {"[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", NULL, NULL},
    {"[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", NULL, NULL, NULL},
    {"[::1]:5000/repo", "[::1]:5000", "repo", NULL, NULL, NULL},
    {"[fe80::1%eth0]:5000/repo", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"[fe80::1%@invalidzone]:5000/repo", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"a:b:c", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"repo:-tag", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"repo:.tag", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"repo:_tag.v1-x", NULL, "repo", "_tag.v1-x", NULL, NULL},
    {"foo--bar__baz.qux", NULL, "foo--bar__baz.qux", NULL, NULL, NULL},
    {"foo___bar", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"foo..bar", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"foo-", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"foo/", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"/foo", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"-foo.com/bar", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"foo-.com/bar", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"localhost:/bar", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"localhost:50a/bar", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"repo@sha256:" F64 ":tag", NULL, NULL, NULL, NULL, "invalid reference format"},
    {"repo@sha256:" F64 "@sha256:" F64, NULL, NULL, NULL, NULL, "invalid reference format"},
};

START_TEST(test_parse_table)
{
        const struct parse_case *c = &parse_cases[_i];
        struct image_ref *r = NULL;
        struct berth_error *err = NULL;
        int ret = image_ref_parse(c->in, &r, &err);
        if (c->err) {
                ck_assert_msg(ret == -EINVAL, "'%s' should fail", c->in);
                ck_assert_ptr_null(r);
                ck_assert_msg(strcmp(err->msg, c->err) == 0, "'%s': got '%s', want '%s'", c->in,
                              err->msg, c->err);
                berth_error_free(err);
                return;
        }
        ck_assert_msg(ret == 0, "'%s': %s", c->in, berth_error_msg(err));
        if (c->domain)
                ck_assert_str_eq(r->domain, c->domain);
        else
                ck_assert_ptr_null(r->domain);
        ck_assert_str_eq(r->path, c->path);
        if (c->tag)
                ck_assert_str_eq(r->tag, c->tag);
        else
                ck_assert_ptr_null(r->tag);
        if (c->digest)
                ck_assert_str_eq(r->digest, c->digest);
        else
                ck_assert_ptr_null(r->digest);
        char *back = image_ref_string(r);
        ck_assert_str_eq(back, c->in);
        free(back);
        image_ref_free(r);
}
END_TEST

START_TEST(test_name_length)
{
        char in[600] = "";
        for (int i = 0; i < 128; i++)
                strcat(in, "a/");
        strcat(in, "a:tag");
        struct image_ref *r = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(image_ref_parse(in, &r, &err), -EINVAL);
        ck_assert_str_eq(err->msg, "repository name must not be more than 255 characters");
        berth_error_free(err);
        err = NULL;
        /* 127 × "a/" + "a" = 255 characters: exactly at the limit */
        in[0] = '\0';
        for (int i = 0; i < 127; i++)
                strcat(in, "a/");
        strcat(in, "a:tag-puts-this-over-max");
        ck_assert_int_eq(image_ref_parse(in, &r, &err), 0);
        ck_assert_str_eq(r->domain, "a");
        ck_assert_str_eq(r->tag, "tag-puts-this-over-max");
        image_ref_free(r);
}
END_TEST

START_TEST(test_tag_length)
{
        char tag[200];
        memset(tag, 'x', 128);
        tag[128] = '\0';
        ck_assert(image_ref_tag_valid(tag));
        char *in = xasprintf("repo:%s", tag);
        struct image_ref *r = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(image_ref_parse_normalized(in, &r, &err), 0);
        image_ref_free(r);
        free(in);
        tag[128] = 'x';
        tag[129] = '\0';
        ck_assert(!image_ref_tag_valid(tag));
        in = xasprintf("repo:%s", tag);
        ck_assert_int_eq(image_ref_parse_normalized(in, &r, &err), -EINVAL);
        ck_assert_str_eq(err->msg, "invalid reference format");
        berth_error_free(err);
        free(in);
}
END_TEST

/* ParseNormalizedNamed + FamiliarString + String. full NULL = must fail with err. */
struct norm_case {
        const char *in;
        const char *full;     /* image_ref_string */
        const char *familiar; /* image_ref_familiar */
        const char *err;
};

#define HEX64 "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"

static const struct norm_case norm_cases[] = {
    {"python", "docker.io/library/python", "python", NULL},
    {"python:3.12", "docker.io/library/python:3.12", "python:3.12", NULL},
    {"docker/docker", "docker.io/docker/docker", "docker/docker", NULL},
    {"library/debian", "docker.io/library/debian", "debian", NULL},
    {"debian", "docker.io/library/debian", "debian", NULL},
    {"docker.io/docker/docker", "docker.io/docker/docker", "docker/docker", NULL},
    {"docker.io/library/debian", "docker.io/library/debian", "debian", NULL},
    {"docker.io/debian", "docker.io/library/debian", "debian", NULL},
    {"index.docker.io/docker/docker", "docker.io/docker/docker", "docker/docker", NULL},
    {"index.docker.io/library/debian", "docker.io/library/debian", "debian", NULL},
    {"index.docker.io/debian", "docker.io/library/debian", "debian", NULL},
    {"127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker",
     NULL},
    {"127.0.0.1:5000/library/debian", "127.0.0.1:5000/library/debian",
     "127.0.0.1:5000/library/debian", NULL},
    {"127.0.0.1:5000/debian", "127.0.0.1:5000/debian", "127.0.0.1:5000/debian", NULL},
    {"thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
     "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
     "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", NULL},
    {"docker.io/" HEX64, "docker.io/library/" HEX64, HEX64, NULL},
    {"user/app", "docker.io/user/app", "user/app", NULL},
    {"localhost/x", "localhost/x", "localhost/x", NULL},
    {"localhost:5000/x/y:tag", "localhost:5000/x/y:tag", "localhost:5000/x/y:tag", NULL},
    {"host.example:5000/x/y:tag", "host.example:5000/x/y:tag", "host.example:5000/x/y:tag", NULL},
    {"x@sha256:" F64, "docker.io/library/x@sha256:" F64, "x@sha256:" F64, NULL},
    {"x:1.0@sha256:" F64, "docker.io/library/x:1.0@sha256:" F64, "x:1.0@sha256:" F64, NULL},
    {"other/library", "docker.io/other/library", "other/library", NULL},
    {"127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase",
     NULL},
    {"localhost/private/moonbase", "localhost/private/moonbase", "localhost/private/moonbase",
     NULL},
    {"example.com/private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase",
     NULL},
    {"ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base", "ubuntu-12.04-base", NULL},
    {"foo/bar/baz", "docker.io/foo/bar/baz", "foo/bar/baz", NULL},
    {"docker.io/library/foo/bar", "docker.io/library/foo/bar", "library/foo/bar", NULL},
    {"python:UPPER", "docker.io/library/python:UPPER", "python:UPPER", NULL},
    {"foo:5000", "docker.io/library/foo:5000", "foo:5000", NULL},
    {"https://github.com/docker/docker", NULL, NULL, "invalid reference format"},
    {"docker/Docker", NULL, NULL, "invalid reference format: repository name must be lowercase"},
    {"Python", NULL, NULL, "invalid reference format: repository name must be lowercase"},
    {"docker.io/docker/Docker", NULL, NULL,
     "invalid reference format: repository name must be lowercase"},
    {"-docker", NULL, NULL, "invalid reference format"},
    {"-docker/docker", NULL, NULL, "invalid reference format"},
    {"-docker.io/docker/docker", NULL, NULL, "invalid reference format"},
    {"docker///docker", NULL, NULL, "invalid reference format"},
    {"docker.io/docker///docker", NULL, NULL, "invalid reference format"},
    {"", NULL, NULL, "invalid reference format"},
    {HEX64, NULL, NULL,
     "invalid repository name (" HEX64 "), cannot specify 64-byte hexadecimal strings"},
    {"x@sha256:" F64 "0", NULL, NULL, "invalid checksum digest length"},
    {"x@md5:" F64, NULL, NULL, "unsupported digest algorithm"},
};

START_TEST(test_normalized_table)
{
        const struct norm_case *c = &norm_cases[_i];
        struct image_ref *r = NULL;
        struct berth_error *err = NULL;
        int ret = image_ref_parse_normalized(c->in, &r, &err);
        if (c->err) {
                ck_assert_msg(ret == -EINVAL, "'%s' should fail", c->in);
                ck_assert_msg(strcmp(err->msg, c->err) == 0, "'%s': got '%s', want '%s'", c->in,
                              err->msg, c->err);
                berth_error_free(err);
                return;
        }
        ck_assert_msg(ret == 0, "'%s': %s", c->in, berth_error_msg(err));
        char *full = image_ref_string(r), *fam = image_ref_familiar(r);
        ck_assert_str_eq(full, c->full);
        ck_assert_str_eq(fam, c->familiar);
        /* the familiar form normalises back to the same reference (except a bare
         * 64-hex name, which docker refuses as ambiguous with an image id) */
        if (strcmp(fam, HEX64) != 0) {
                struct image_ref *again = NULL;
                ck_assert_int_eq(image_ref_parse_normalized(fam, &again, &err), 0);
                char *full2 = image_ref_string(again);
                ck_assert_str_eq(full2, c->full);
                free(full2);
                image_ref_free(again);
        }
        free(full);
        free(fam);
        image_ref_free(r);
}
END_TEST

START_TEST(test_pull_defaults_and_api_host)
{
        struct image_ref *r = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(image_ref_parse_pull("python", &r, &err), 0);
        char *s = image_ref_string(r), *f = image_ref_familiar(r), *n = image_ref_familiar_name(r);
        ck_assert_str_eq(s, "docker.io/library/python:latest");
        ck_assert_str_eq(f, "python:latest");
        ck_assert_str_eq(n, "python");
        ck_assert_str_eq(r->path, "library/python");
        ck_assert_str_eq(image_ref_api_host(r), "registry-1.docker.io");
        free(s);
        free(f);
        free(n);
        image_ref_free(r);

        /* a digest alone gets no default tag */
        ck_assert_int_eq(image_ref_parse_pull("x@sha256:" F64, &r, &err), 0);
        ck_assert_ptr_null(r->tag);
        image_ref_free(r);
        /* tag and digest: the digest wins (ParseDockerRef) */
        ck_assert_int_eq(image_ref_parse_pull("x:1.0@sha256:" F64, &r, &err), 0);
        ck_assert_ptr_null(r->tag);
        ck_assert_str_eq(r->digest, "sha256:" F64);
        s = image_ref_familiar(r);
        ck_assert_str_eq(s, "x@sha256:" F64);
        free(s);
        image_ref_free(r);

        ck_assert_int_eq(image_ref_parse_pull("localhost:5000/a/b", &r, &err), 0);
        ck_assert_str_eq(image_ref_api_host(r), "localhost:5000");
        ck_assert_str_eq(r->tag, "latest");
        struct image_ref *d = image_ref_dup(r);
        image_ref_free(r);
        s = image_ref_string(d);
        ck_assert_str_eq(s, "localhost:5000/a/b:latest");
        free(s);
        image_ref_free(d);
}
END_TEST

START_TEST(test_digest_validate)
{
        struct berth_error *err = NULL;
        ck_assert_int_eq(image_ref_digest_validate("sha256:" F64, &err), 0);
        ck_assert_int_eq(image_ref_digest_validate("sha512:" F128, &err), 0);
        ck_assert_int_eq(image_ref_digest_validate("sha256:" F64 "00", &err), -EINVAL);
        ck_assert_str_eq(err->msg, "invalid checksum digest length");
        berth_error_free(err);
        err = NULL;
        ck_assert_int_eq(image_ref_digest_validate("sha256", &err), -EINVAL);
        ck_assert_str_eq(err->msg, "invalid checksum digest format");
        berth_error_free(err);
        err = NULL;
        ck_assert_int_eq(
            image_ref_digest_validate(
                "sha256:gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg", &err),
            -EINVAL);
        ck_assert_str_eq(err->msg, "invalid checksum digest format");
        berth_error_free(err);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("reference");
        TCase *tc = tcase_create("core");
        tcase_add_loop_test(tc, test_parse_table, 0, (int)ELEMENTSOF(parse_cases));
        tcase_add_loop_test(tc, test_normalized_table, 0, (int)ELEMENTSOF(norm_cases));
        tcase_add_test(tc, test_name_length);
        tcase_add_test(tc, test_tag_length);
        tcase_add_test(tc, test_pull_defaults_and_api_host);
        tcase_add_test(tc, test_digest_validate);
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
