/*
 * test-formatter.c — `--format` handling as docker's formatter.Context does
 * it ("table" prefix, \t and \n escapes, header row from the header map),
 * and docker's image rows (familiar names, dangling images, digests).
 */
#include <check.h>
#include <string.h>

#include "cli/formatter.h"

static struct json *parse(const char *s)
{
        struct json *j = NULL;
        struct berth_error *err = NULL;
        ck_assert_msg(json_parse(s, strlen(s), &j, &err) == 0, "bad test json");
        return j;
}

START_TEST(test_template_string)
{
        char *s = formatter_template_string("table {{.ID}}\\t{{.Size}}  ");
        ck_assert_str_eq(s, "{{.ID}}\t{{.Size}}");
        free(s);
        s = formatter_template_string("json");
        ck_assert_str_eq(s, "{{json .}}");
        free(s);
        s = formatter_template_string("  {{.ID}}\\n");
        ck_assert_str_eq(s, "{{.ID}}\n");
        free(s);
        ck_assert(formatter_is_table("table {{.ID}}"));
        ck_assert(!formatter_is_table("{{.ID}} table"));
}
END_TEST

static char *write_fmt(const char *format, const char *rows_json, const char *header_json,
                       const char *row_type)
{
        struct json *rows = parse(rows_json), *header = parse(header_json);
        struct berth_buf out = BERTH_BUF_INIT;
        struct berth_error *err = NULL;
        char *res;
        if (formatter_write(format, rows, NULL, header, row_type, &out, &err) < 0) {
                ck_assert_uint_eq(out.len, 0); /* nothing written on error */
                res = xasprintf("ERR: %s", err->msg);
        } else {
                buf_append(&out, "", 0);
                res = xstrdup(out.data);
        }
        berth_error_free(err);
        buf_release(&out);
        json_free(rows);
        json_free(header);
        return res;
}

START_TEST(test_write)
{
        const char *rows =
            "[{\"ID\":\"abc\",\"Names\":\"web\"},{\"ID\":\"defghijklmnop\",\"Names\":\"db\"}]";
        const char *hdr = "{\"ID\":\"CONTAINER ID\",\"Names\":\"NAMES\"}";
        char *s = write_fmt("table {{.ID}}\\t{{.Names}}", rows, hdr, "*c");
        ck_assert_str_eq(s, "CONTAINER ID    NAMES\nabc             web\ndefghijklmnop   db\n");
        free(s);
        s = write_fmt("{{.Names}}={{.ID}}", rows, hdr, "*c");
        ck_assert_str_eq(s, "web=abc\ndb=defghijklmnop\n");
        free(s);
        s = write_fmt("table {{.ID}}", "[]", hdr, "*c");
        ck_assert_str_eq(s, "CONTAINER ID\n");
        free(s);
        s = write_fmt("{{.Nope}}", rows, hdr, "*formatter.containerContext");
        ck_assert_str_eq(s, "ERR: template parsing error: template: :1:2: executing \"\" at "
                            "<.Nope>: can't evaluate field Nope in type "
                            "*formatter.containerContext");
        free(s);
        s = write_fmt("{{.ID", rows, hdr, "*c");
        ck_assert_str_eq(s, "ERR: template parsing error: template: :1: unclosed action");
        free(s);
}
END_TEST

static const char *IMAGES =
    "[{\"Containers\":-1,\"Created\":1000,\"Id\":\"sha256:1dd75f815fbad5a1663e9f09f346b875ab8adc"
    "9425f5402dcc042fab41fb6920\",\"RepoDigests\":[\"docker.io/library/alpine@sha256:2a90\"],"
    "\"RepoTags\":[\"docker.io/library/alpine:3.10\",\"alpine:latest\"],\"SharedSize\":-1,"
    "\"Size\":1985917},"
    "{\"Containers\":3,\"Created\":1000,\"Id\":\"sha256:ffff\",\"RepoDigests\":[],\"RepoTags\":"
    "[],\"SharedSize\":1000,\"Size\":5000},"
    "{\"Containers\":-1,\"Created\":1000,\"Id\":\"sha256:eeee\",\"RepoDigests\":"
    "[\"localhost:5000/x/y@sha256:77\"],\"RepoTags\":[\"<none>:<none>\"],\"SharedSize\":-1,"
    "\"Size\":1}]";

START_TEST(test_image_rows)
{
        struct json *summ = parse(IMAGES);
        char *fmt = formatter_image_format("", false, false);
        struct json *rows = formatter_image_rows(summ, fmt, false, false, 1000 + 3 * 86400);
        ck_assert_uint_eq(json_len(rows), 4);
        const struct json *r0 = rows->arr.items[0];
        ck_assert_str_eq(json_str(json_get(r0, "Repository")), "alpine");
        ck_assert_str_eq(json_str(json_get(r0, "Tag")), "3.10");
        ck_assert_str_eq(json_str(json_get(r0, "ID")), "1dd75f815fba");
        ck_assert_str_eq(json_str(json_get(r0, "Digest")), "<none>");
        ck_assert_str_eq(json_str(json_get(r0, "CreatedSince")), "3 days ago");
        ck_assert_str_eq(json_str(json_get(r0, "Size")), "1.99MB");
        ck_assert_str_eq(json_str(json_get(r0, "VirtualSize")), "1.986MB");
        ck_assert_str_eq(json_str(json_get(r0, "Containers")), "N/A");
        ck_assert_str_eq(json_str(json_get(rows->arr.items[1], "Tag")), "latest");
        const struct json *r2 = rows->arr.items[2];
        ck_assert_str_eq(json_str(json_get(r2, "Repository")), "<none>");
        ck_assert_str_eq(json_str(json_get(r2, "Containers")), "3");
        ck_assert_str_eq(json_str(json_get(r2, "UniqueSize")), "4kB");
        /* a digest-only image: its repository with tag <none> and an empty digest */
        const struct json *r3 = rows->arr.items[3];
        ck_assert_str_eq(json_str(json_get(r3, "Repository")), "localhost:5000/x/y");
        ck_assert_str_eq(json_str(json_get(r3, "Tag")), "<none>");
        ck_assert_str_eq(json_str(json_get(r3, "Digest")), "");
        json_free(rows);
        free(fmt);

        fmt = formatter_image_format("", false, true);
        ck_assert(strstr(fmt, "{{.Digest}}") != NULL);
        rows = formatter_image_rows(summ, fmt, true, true, 1000);
        ck_assert_str_eq(json_str(json_get(rows->arr.items[0], "Digest")), "sha256:2a90");
        ck_assert_str_eq(json_str(json_get(rows->arr.items[0], "ID")),
                         "sha256:1dd75f815fbad5a1663e9f09f346b875ab8adc9425f5402dcc042fab41fb6920");
        ck_assert_str_eq(json_str(json_get(rows->arr.items[3], "Digest")), "sha256:77");
        json_free(rows);
        free(fmt);

        fmt = formatter_image_format("table {{.ID}}", false, true);
        ck_assert_str_eq(fmt, "table {{.ID}}\t{{.Digest}}");
        free(fmt);
        fmt = formatter_image_format("table", true, false);
        ck_assert_str_eq(fmt, "{{.ID}}");
        free(fmt);
        json_free(summ);
}
END_TEST

START_TEST(test_images_table)
{
        struct json *summ = parse(IMAGES);
        char *fmt = formatter_image_format("", false, false);
        struct json *rows = formatter_image_rows(summ, fmt, false, false, 1000 + 90);
        struct json *hdr = formatter_image_header();
        struct berth_buf out = BERTH_BUF_INIT;
        struct berth_error *err = NULL;
        ck_assert_int_eq(
            formatter_write(fmt, rows, NULL, hdr, FORMATTER_IMAGE_ROW_TYPE, &out, &err), 0);
        ck_assert_str_eq(
            out.data, "REPOSITORY           TAG       IMAGE ID       CREATED              SIZE\n"
                      "alpine               3.10      1dd75f815fba   About a minute ago   1.99MB\n"
                      "alpine               latest    1dd75f815fba   About a minute ago   1.99MB\n"
                      "<none>               <none>    ffff           About a minute ago   5kB\n"
                      "localhost:5000/x/y   <none>    eeee           About a minute ago   1B\n");
        buf_release(&out);
        json_free(hdr);
        json_free(rows);
        json_free(summ);
        free(fmt);
}
END_TEST

static char *ports_of(const char *json)
{
        struct json *p = parse(json);
        char *s = formatter_ports(p);
        json_free(p);
        return s;
}

START_TEST(test_ports)
{
        char *s = ports_of("[{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":8080,\"Type\":"
                           "\"tcp\"},{\"PrivatePort\":443,\"Type\":\"tcp\"},{\"PrivatePort\":444,"
                           "\"Type\":\"tcp\"},{\"PrivatePort\":446,\"Type\":\"tcp\"},{\"IP\":"
                           "\"0.0.0.0\",\"PrivatePort\":53,\"PublicPort\":53,\"Type\":\"udp\"},"
                           "{\"IP\":\"0.0.0.0\",\"PrivatePort\":54,\"PublicPort\":54,\"Type\":"
                           "\"udp\"},{\"IP\":\"::\",\"PrivatePort\":22,\"PublicPort\":2222,"
                           "\"Type\":\"tcp\"}]");
        ck_assert_str_eq(s, "443-444/tcp, 0.0.0.0:53-54->53-54/udp, 446/tcp, [::]:2222->22/tcp, "
                            "0.0.0.0:8080->80/tcp");
        free(s);
        s = ports_of("null");
        ck_assert_str_eq(s, "");
        free(s);
}
END_TEST

static const char *CONTAINERS =
    "[{\"Id\":\"8dfafdbc3a40b7e5c1e9d2b9ab6c1c7a7d5a7e3f2b1c0d9e8f7a6b5c4d3e2f1a\",\"Names\":"
    "[\"/db\",\"/web/db-link\"],\"Image\":\"docker.io/library/nginx:1.25@sha256:abcd\","
    "\"ImageID\":\"sha256:1234\",\"Command\":\"/docker-entrypoint.sh nginx -g 'daemon off;'\","
    "\"Created\":1000,\"Labels\":{\"z\":\"1\",\"a\":\"2\"},\"State\":\"running\","
    "\"Status\":\"Up 3 hours\",\"Mounts\":[{\"Name\":\"0123456789abcdef0123\",\"Driver\":"
    "\"local\"},{\"Source\":\"/srv/x\"}],\"NetworkSettings\":{\"Networks\":{\"bridge\":{}}},"
    "\"SizeRw\":12345,\"SizeRootFs\":187654321},"
    "{\"Id\":\"cccc\",\"Names\":[\"/y\"],\"Image\":\"\",\"Command\":\"true\","
    "\"Created\":1000}]";

START_TEST(test_container_rows)
{
        struct json *summ = parse(CONTAINERS), *methods = NULL;
        struct json *rows = formatter_container_rows(summ, false, 1000 + 3 * 3600, &methods);
        const struct json *r = rows->arr.items[0];
        ck_assert_str_eq(json_str(json_get(r, "ID")), "8dfafdbc3a40");
        ck_assert_str_eq(json_str(json_get(r, "Names")), "db");
        ck_assert_str_eq(json_str(json_get(r, "Image")), "nginx:1.25");
        ck_assert_str_eq(json_str(json_get(r, "Command")), "\"/docker-entrypoint.\xe2\x80\xa6\"");
        ck_assert_str_eq(json_str(json_get(r, "Labels")), "a=2,z=1");
        ck_assert_str_eq(json_str(json_get(r, "Mounts")), "0123456789abcd\xe2\x80\xa6,/srv/x");
        ck_assert_str_eq(json_str(json_get(r, "LocalVolumes")), "1");
        ck_assert_str_eq(json_str(json_get(r, "Networks")), "bridge");
        ck_assert_str_eq(json_str(json_get(r, "RunningFor")), "3 hours ago");
        ck_assert_str_eq(json_str(json_get(r, "Size")), "12.3kB (virtual 188MB)");
        ck_assert_str_eq(json_str(json_get(rows->arr.items[1], "Image")), "<no image>");
        ck_assert_str_eq(json_str(json_get(rows->arr.items[1], "Size")), "0B");

        struct json *hdr = formatter_container_header();
        struct berth_buf out = BERTH_BUF_INIT;
        struct berth_error *err = NULL;
        ck_assert_int_eq(formatter_write("{{.Label \"a\"}}|{{.Label \"nope\"}}|{{\"z\" | .Label}}",
                                         rows, methods, hdr, FORMATTER_CONTAINER_ROW_TYPE, &out,
                                         &err),
                         0);
        ck_assert_str_eq(out.data, "2||1\n||\n");
        buf_release(&out);
        ck_assert_int_lt(formatter_write("{{.Label}}", rows, methods, hdr,
                                         FORMATTER_CONTAINER_ROW_TYPE, &out, &err),
                         0);
        ck_assert_str_eq(err->msg, "template parsing error: template: :1:2: executing \"\" at "
                                   "<.Label>: wrong number of args for Label: want 1 got 0");
        berth_error_free(err);
        json_free(hdr);
        json_free(methods);
        json_free(rows);

        rows = formatter_container_rows(summ, true, 1000, &methods);
        ck_assert_str_eq(json_str(json_get(rows->arr.items[0], "Names")), "db,web/db-link");
        ck_assert_str_eq(json_str(json_get(rows->arr.items[0], "Image")),
                         "docker.io/library/nginx:1.25@sha256:abcd");
        json_free(methods);
        json_free(rows);
        json_free(summ);
}
END_TEST

START_TEST(test_container_check)
{
        bool size = false;
        struct berth_error *err = NULL;
        ck_assert_int_eq(formatter_container_check("table {{.ID}}\t{{.Size}}", &size, &err), 0);
        ck_assert(size);
        ck_assert_int_lt(formatter_container_check("{{.Nope}}", &size, &err), 0);
        ck_assert_str_eq(err->msg, "failed to execute template: template: :1:2: executing \"\" at "
                                   "<.Nope>: can't evaluate field Nope in type "
                                   "*formatter.ContainerContext");
        berth_error_free(err);
        err = NULL;
        ck_assert_int_lt(formatter_container_check("{{.ID", &size, &err), 0);
        ck_assert_str_eq(err->msg, "failed to parse template: template: :1: unclosed action");
        berth_error_free(err);
        char *f = formatter_container_format("", false, true);
        ck_assert(strstr(f, "\\t{{.Size}}") != NULL);
        free(f);
        f = formatter_container_format("{{.Names}}", true, false);
        ck_assert_str_eq(f, "{{.ID}}");
        free(f);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("formatter");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_template_string);
        tcase_add_test(tc, test_write);
        tcase_add_test(tc, test_image_rows);
        tcase_add_test(tc, test_images_table);
        tcase_add_test(tc, test_ports);
        tcase_add_test(tc, test_container_rows);
        tcase_add_test(tc, test_container_check);
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
