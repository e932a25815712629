/*
 * test-gotemplate.c — `--format` templates must print what docker (Go's
 * text/template with docker's functions) prints for the same data, and fail
 * with Go's messages.  Expected strings were checked against Go's
 * text/template (go 1.19) and docker 28.2.2.
 */
#include <check.h>
#include <string.h>

#include "cli/gotemplate.h"

static struct json *data_of(const char *json)
{
        struct json *j = NULL;
        struct berth_error *err = NULL;
        if (!json)
                return NULL;
        ck_assert_msg(json_parse(json, strlen(json), &j, &err) == 0, "bad test data %s", json);
        return j;
}

/* Run tmpl over json; returns output, or "ERR: <message>" (malloc'd). */
static char *run_flags(const char *tmpl, const char *json, unsigned flags, const char *root_type)
{
        struct json *data = data_of(json);
        struct gotemplate *t = NULL;
        struct berth_error *err = NULL;
        struct berth_buf out = BERTH_BUF_INIT;
        char *res;
        if (gotemplate_parse(tmpl, &t, &err) < 0) {
                res = xasprintf("ERR: %s", err->msg);
        } else if (gotemplate_exec_typed(t, data, root_type, NULL, flags, &out, &err) < 0) {
                res = xasprintf("ERR: %s", err->msg);
        } else {
                res = xstrdup(out.data ? out.data : "");
        }
        berth_error_free(err);
        buf_release(&out);
        gotemplate_free(t);
        json_free(data);
        return res;
}

static char *run(const char *tmpl, const char *json)
{
        return run_flags(tmpl, json, 0, NULL);
}

#define CHECK(tmpl, json, want)                                                                    \
        do {                                                                                       \
                char *got_ = run((tmpl), (json));                                                  \
                ck_assert_msg(strcmp(got_, (want)) == 0, "template %s\n  got: [%s]\n want: [%s]",  \
                              (tmpl), got_, (want));                                               \
                free(got_);                                                                        \
        } while (0)

static const char *D = "{\"ID\":\"abc\",\"Names\":[\"web\",\"db\"],\"N\":1000000,\"F\":1.5,"
                       "\"E\":1e6,\"T\":true,\"Nil\":null,\"Labels\":{\"b\":\"2\",\"a\":\"1\"},"
                       "\"Config\":{\"Env\":[\"A=1\"],\"Labels\":{}},\"Empty\":\"\","
                       "\"Mixed\":{\"z\":1,\"y\":[1,\"x\"]}}";

START_TEST(test_fields_and_printing)
{
        CHECK("id={{.ID}}", D, "id=abc");
        CHECK("{{.Missing}}|{{.Config.Missing}}|{{.Missing.Deeper}}", D,
              "<no value>|<no value>|<no value>");
        CHECK("{{.Names}} {{.Labels}} {{.Mixed}}", D, "[web db] map[a:1 b:2] map[y:[1 x] z:1]");
        CHECK("{{.N}} {{.F}} {{.E}} {{.T}} {{.Nil}}", D, "1000000 1.5 1e+06 true <no value>");
        CHECK("{{.Config.Env}}", D, "[A=1]");
        CHECK("{{.}}", "[1,null,{\"k\":null}]", "[1 <nil> map[k:<nil>]]");
        CHECK("{{print .Missing}} {{print 1 2 \"a\" 3 \"b\" \"c\"}}", D, "<nil> 1 2a3bc");
        CHECK("{{println .Names .N}}", D, "[web db] 1000000\n");
        CHECK("{{3.25}} {{0x1F}} {{1e3}} {{-7}} {{'a'}}", NULL, "3.25 31 1000 -7 97");
        CHECK("{{\"tab\\there\\u00e9\"}}|{{`raw\\n`}}", NULL, "tab\there\xc3\xa9|raw\\n");
}
END_TEST

START_TEST(test_trim_and_comments)
{
        CHECK("a  {{- .ID -}}  \n b", D, "aabcb");
        CHECK("a {{/* comment */}} b", D, "a  b");
        CHECK("a {{- /* comment */ -}} b", D, "ab");
        CHECK("{{ .ID }}", D, "abc");
        CHECK("{{.ID -}}\n\n!", D, "abc!");
}
END_TEST

START_TEST(test_control)
{
        CHECK("{{if .T}}yes{{else}}no{{end}}", D, "yes");
        CHECK("{{if .Empty}}a{{else if .Missing}}b{{else if .N}}c{{else}}d{{end}}", D, "c");
        CHECK("{{with .Config}}{{.Env}}{{end}}{{with .Empty}}x{{else}}none{{end}}", D, "[A=1]none");
        CHECK("{{with .Empty}}x{{else with .ID}}{{.}}{{end}}", D, "abc");
        CHECK("{{range $i, $v := .Names}}{{$i}}={{$v}};{{end}}", D, "0=web;1=db;");
        CHECK("{{range .Labels}}{{.}}{{end}}|{{range $k, $v := .Labels}}{{$k}}{{$v}}{{end}}", D,
              "12|a1b2");
        CHECK("{{range .Nil}}x{{else}}empty{{end}}{{range .Config.Labels}}x{{else}}e2{{end}}", D,
              "emptye2");
        CHECK("{{range .Names}}{{if eq . \"db\"}}{{break}}{{end}}{{.}}{{end}}", D, "web");
        CHECK("{{range .Names}}{{if eq . \"web\"}}{{continue}}{{end}}{{.}}{{end}}", D, "db");
        CHECK("{{range 3}}{{.}}{{end}}", NULL, "012");
        CHECK("{{$x := .ID}}{{range .Names}}{{$x}}{{end}}", D, "abcabc");
        CHECK("{{$x := 1}}{{range .Names}}{{$x = .}}{{end}}{{$x}}", D, "db");
        CHECK("{{range .Names}}{{$.ID}}{{end}}", D, "abcabc");
}
END_TEST

START_TEST(test_functions)
{
        CHECK("{{.ID | printf \"%s!\"}} {{printf \"%5.2f|%-4d|%x|%q|%v\" 3.14159 7 \"hi\" \"a\" "
              ".Names}}",
              D, "abc!  3.14|7   |6869|\"a\"|[web db]");
        CHECK("{{printf \"%d %s\" \"x\" 3}} {{printf \"%d\"}} {{printf \"%d\" 1 2}}", NULL,
              "%!d(string=x) %!s(int=3) %!d(MISSING) 1%!(EXTRA int=2)");
        CHECK("{{index .Labels \"a\"}}|{{index .Labels \"zz\"}}|{{index .Names 1}}", D, "1||db");
        CHECK("{{index .Mixed \"nope\"}}", D, "<no value>");
        CHECK("{{len .Names}} {{len .ID}} {{len .Labels}}", D, "2 3 2");
        CHECK("{{eq .ID \"x\" \"abc\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 "
              "2}}",
              D, "true true true true true false");
        CHECK("{{eq .Missing \"x\"}} {{not .Missing}} {{and .Missing 1}} {{or .Empty .ID}}", D,
              "false true <no value> abc");
        CHECK("{{and 1 2}} {{or 0 \"\"}}", NULL, "2 ");
        CHECK("{{slice .ID 1}} {{slice .Names 0 1}}", D, "bc [web]");
        CHECK("{{json .Labels}} {{json .Names}} {{json .Missing}} {{json \"<a&b>\"}} {{json 1.5}}",
              D, "{\"b\":\"2\",\"a\":\"1\"} [\"web\",\"db\"] null \"<a&b>\" 1.5");
        CHECK("{{join .Names \", \"}}|{{join .Labels \"-\"}}|{{join .Nil \",\"}}", D,
              "web, db|1-2|");
        CHECK("{{split \"a,b,,c\" \",\"}} {{len (split \"x\" \",\")}}", NULL, "[a b  c] 1");
        CHECK("{{lower \"AbC\"}} {{upper \"AbC\"}} {{title \"hello wide-world\"}}", NULL,
              "abc ABC Hello Wide-World");
        CHECK("{{upper \"\xc3\xa9t\xc3\xa9 \xd0\xbc\xd0\xb8\xd1\x80\"}}|{{lower "
              "\"\xc3\x89T\xc3\x89\"}}|"
              "{{title \"\xc3\xa9lan vital\"}}",
              NULL,
              "\xc3\x89T\xc3\x89 \xd0\x9c\xd0\x98\xd0\xa0|\xc3\xa9t\xc3\xa9|\xc3\x89lan Vital");
        CHECK("[{{pad .ID 2 1}}][{{pad .Empty 2 1}}] {{truncate .ID 2}} {{truncate .ID 10}}", D,
              "[  abc ][] ab abc");
        CHECK("{{(index .Names 0) | upper}} {{(.Config).Env}}", D, "WEB [A=1]");
        CHECK("{{html \"<a href='x'>&\\\"\" 1}}|{{js \"<a='b'>\\\\\"}}|{{urlquery \"a "
              "b/c?d=\xc3\xa9\"}}",
              NULL,
              "&lt;a "
              "href=&#39;x&#39;&gt;&amp;&#34;1|\\u003Ca\\u003D\\'b\\'\\u003E\\\\|a+b%2Fc%3Fd%3D%C3%"
              "A9");
}
END_TEST

START_TEST(test_parse_errors)
{
        CHECK("{{.ID}", D, "ERR: template: :1: bad character U+007D '}'");
        CHECK("{{.ID }", D, "ERR: template: :1: unexpected \"}\" in operand");
        CHECK("x\n{{.ID", D, "ERR: template: :2: unclosed action");
        CHECK("{{if .T}}", D, "ERR: template: :1: unexpected EOF");
        CHECK("{{end}}", D, "ERR: template: :1: unexpected {{end}}");
        CHECK("{{if}}{{end}}", D, "ERR: template: :1: missing value for if");
        CHECK("{{foo .ID}}", D, "ERR: template: :1: function \"foo\" not defined");
        CHECK("{{$x}}", D, "ERR: template: :1: undefined variable \"$x\"");
        CHECK("{{.ID | \"x\"}}", D,
              "ERR: template: :1: non executable command in pipeline stage 2");
        CHECK("{{\"unterminated}}", D, "ERR: template: :1: unterminated quoted string");
        CHECK("{{/* open", D, "ERR: template: :1: unclosed comment");
        CHECK("{{break}}", D, "ERR: template: :1: {{break}} outside {{range}}");
        CHECK("{{3x}}", D, "ERR: template: :1: bad number syntax: \"3x\"");
        CHECK("{{template \"x\"}}", D,
              "ERR: template: :1: {{template}} is not supported in --format templates");
}
END_TEST

START_TEST(test_exec_errors)
{
        CHECK("{{.ID.Foo}}", D,
              "ERR: template: :1:5: executing \"\" at <.ID.Foo>: can't evaluate field Foo in type "
              "interface {}");
        CHECK("{{.Nil.X}}", D,
              "ERR: template: :1:6: executing \"\" at <.Nil.X>: nil pointer evaluating interface "
              "{}.X");
        CHECK("ok\n  {{index .Names 5}}", D,
              "ERR: template: :2:4: executing \"\" at <index .Names 5>: error calling index: index "
              "out of range: 5");
        CHECK("{{lower .Missing}}", D,
              "ERR: template: :1:8: executing \"\" at <.Missing>: invalid value; expected string");
        CHECK("{{lower 3}}", D,
              "ERR: template: :1:8: executing \"\" at <3>: expected string; found 3");
        CHECK("{{eq 1 1.0}}", D,
              "ERR: template: :1:2: executing \"\" at <eq 1 1.0>: error calling eq: incompatible "
              "types for comparison");
        CHECK(
            "{{lt .Names 1}}", D,
            "ERR: template: :1:2: executing \"\" at <lt .Names 1>: error calling lt: invalid type "
            "for comparison");
        CHECK("{{\"x\" | .ID}}", D,
              "ERR: template: :1:8: executing \"\" at <.ID>: ID is not a method but has arguments");
        CHECK("{{range .ID}}{{end}}", D,
              "ERR: template: :1:8: executing \"\" at <.ID>: range can't iterate over abc");
        CHECK("{{nil}}", D, "ERR: template: :1:2: executing \"\" at <nil>: nil is not a command");
        CHECK("{{printf}}", D,
              "ERR: template: :1:2: executing \"\" at <printf>: wrong number of args for printf: "
              "want at least 1 got 0");
        CHECK(
            "{{join .ID \",\"}}", D,
            "ERR: template: :1:2: executing \"\" at <join .ID \",\">: error calling join: expected "
            "slice, got string");
}
END_TEST

START_TEST(test_output_kept_before_error)
{
        char *got = run("before {{.ID.X}} after", D);
        ck_assert(strncmp(got, "ERR: template: :1:12:", 21) == 0);
        free(got);
        /* the executor leaves what it wrote before the failing action in the buffer */
        struct json *data = data_of(D);
        struct gotemplate *t = NULL;
        struct berth_error *err = NULL;
        struct berth_buf out = BERTH_BUF_INIT;
        ck_assert_int_eq(gotemplate_parse("before {{.ID.X}} after", &t, &err), 0);
        ck_assert_int_lt(gotemplate_exec(t, data, 0, &out, &err), 0);
        ck_assert_str_eq(out.data, "before ");
        berth_error_free(err);
        buf_release(&out);
        gotemplate_free(t);
        json_free(data);
}
END_TEST

START_TEST(test_header_mode_and_typed_root)
{
        const char *hdr = "{\"ID\":\"IMAGE ID\",\"Tag\":\"TAG\",\"Size\":\"SIZE\"}";
        char *got = run_flags("{{.ID}}\t{{lower .Tag}}\t{{json .Size}}\t{{truncate .ID 2}}|"
                              "{{pad .Tag 1 1}}",
                              hdr, GOTEMPLATE_HEADER, NULL);
        ck_assert_str_eq(got, "IMAGE ID\tTAG\tSIZE\tIMAGE ID| TAG ");
        free(got);
        got = run_flags("{{.Foo}}", "{\"ID\":\"x\"}", 0, "*formatter.imageContext");
        ck_assert_str_eq(got, "ERR: template: :1:2: executing \"\" at <.Foo>: can't evaluate field "
                              "Foo in type *formatter.imageContext");
        free(got);
        got = run_flags("{{.ID.Foo}}", "{\"ID\":\"x\"}", 0, "*formatter.imageContext");
        ck_assert_str_eq(got, "ERR: template: :1:5: executing \"\" at <.ID.Foo>: can't evaluate "
                              "field Foo in type string");
        free(got);
        got = run_flags("{{json .}}", "{\"Digest\":\"<none>\"}", 0, "*formatter.imageContext");
        ck_assert_str_eq(got, "{\"Digest\":\"\\u003cnone\\u003e\"}");
        free(got);
}
END_TEST

START_TEST(test_budget)
{
        char *got = run("{{range 100000000}}{{end}}", NULL);
        ck_assert_msg(strstr(got, "exceeded") != NULL, "got %s", got);
        free(got);
        got = run("{{range 100000}}{{printf \"%9000d\" 1}}{{end}}", NULL);
        ck_assert_msg(strstr(got, "output exceeds") != NULL, "got %.80s", got);
        free(got);
        /* deep nesting is refused, not a stack overflow */
        struct berth_buf deep = BERTH_BUF_INIT;
        buf_puts(&deep, "{{");
        for (int i = 0; i < 500; i++)
                buf_puts(&deep, "(");
        buf_puts(&deep, "1");
        for (int i = 0; i < 500; i++)
                buf_puts(&deep, ")");
        buf_puts(&deep, "}}");
        for (int i = 0; i < 500; i++)
                buf_puts(&deep, "{{if 1}}");
        got = run(deep.data, NULL);
        ck_assert_str_eq(got, "ERR: template: :1: template nesting too deep");
        free(got);
        buf_release(&deep);
}
END_TEST

/* Go's missingkey=error (docker inspect), described structs and their omitempty zeros
 * (docker version), and a template's name in its errors. */
START_TEST(test_missing_keys_structs_and_names)
{
        char *r = run_flags("{{.ID}}{{.Nope}}", D, GOTEMPLATE_MISSINGKEY_ERROR, NULL);
        ck_assert_str_eq(r, "ERR: template: :1:9: executing \"\" at <.Nope>: map has no entry "
                            "for key \"Nope\"");
        free(r);
        r = run_flags("{{.Config.Nope}}", D, GOTEMPLATE_MISSINGKEY_ERROR, NULL);
        ck_assert_str_eq(r, "ERR: template: :1:9: executing \"\" at <.Config.Nope>: map has no "
                            "entry for key \"Nope\"");
        free(r);
        r = run_flags("{{index .Labels \"nope\"}}|{{.Empty}}", D, GOTEMPLATE_MISSINGKEY_ERROR,
                      NULL);
        ck_assert_str_eq(r, "|"); /* index is no field access: Go gives the zero value */
        free(r);

        struct json *data = data_of("{\"Client\":{\"Version\":\"1\"},\"Server\":null}");
        struct json *zero = data_of("{\"GoVersion\":\"\"}");
        const struct gotemplate_object o[] = {
            {data, "system.versionInfo", NULL},
            {json_get(data, "Client"), "system.clientVersion", zero},
        };
        static const struct {
                const char *tmpl, *want;
        } cases[] = {
            {"{{.Client.Version}}|{{.Client.GoVersion}}|", "1||"},
            {"{{.Nope}}", "ERR: template: version:1:2: executing \"version\" at <.Nope>: can't "
                          "evaluate field Nope in type system.versionInfo"},
            {"{{$c := .Client}}{{$c.Nope}}",
             "ERR: template: version:1:21: executing \"version\" at <$c.Nope>: can't evaluate "
             "field Nope in type system.clientVersion"},
            {"{{.Nope", "ERR: template: version:1: unclosed action"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct gotemplate *t = NULL;
                struct berth_error *err = NULL;
                struct berth_buf out = BERTH_BUF_INIT;
                char *got;
                if (gotemplate_parse_named("version", cases[i].tmpl, &t, &err) < 0 ||
                    gotemplate_exec_objects(t, data, o, 2, 0, &out, &err) < 0)
                        got = xasprintf("ERR: %s", err->msg);
                else
                        got = xstrdup(out.data ? out.data : "");
                ck_assert_msg(strcmp(got, cases[i].want) == 0, "%s: got [%s]", cases[i].tmpl, got);
                free(got);
                berth_error_free(err);
                buf_release(&out);
                gotemplate_free(t);
        }
        json_free(zero);
        json_free(data);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("gotemplate");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_fields_and_printing);
        tcase_add_test(tc, test_trim_and_comments);
        tcase_add_test(tc, test_control);
        tcase_add_test(tc, test_functions);
        tcase_add_test(tc, test_parse_errors);
        tcase_add_test(tc, test_exec_errors);
        tcase_add_test(tc, test_output_kept_before_error);
        tcase_add_test(tc, test_header_mode_and_typed_root);
        tcase_add_test(tc, test_budget);
        tcase_add_test(tc, test_missing_keys_structs_and_names);
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
