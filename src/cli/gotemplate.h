/*
 * gotemplate.h — the part of Go's text/template that docker users write in
 * `--format`, evaluated over a JSON document instead of Go values.
 *
 * What it accepts: text and {{actions}} with the trim markers "{{- " and
 * " -}}", comments ({{ slash-star … star-slash }}); field chains (.ID,
 * .Config.Labels.k), variables ($, $x, $x.Field, `$x := …`, `$x = …`),
 * parenthesised pipelines and chains ((…).Field), pipelines with "|";
 * if / else if / else / end, range (one or two variables, else, break,
 * continue; over arrays, objects and, as Go >= 1.22, integers), with /
 * else with; literals: interpreted and raw strings, char constants, numbers
 * (decimal, hex, octal, binary, floats), true, false, nil.  Functions: Go's
 * and, or, not, len, index, slice, eq, ne, lt, le, gt, ge, print, printf,
 * println, html, js, urlquery (not call), plus docker's json, join, split,
 * lower, upper, title, pad, truncate.  Not supported: define, template,
 * block (one anonymous template only).
 *
 * Data model, as Go would see JSON decoded into interface{} values: an
 * object is a map[string]interface{} (field access by key, a missing key
 * prints "<no value>", range and %v in sorted key order), or a
 * map[string]string when all its values are strings (docker's labels:
 * `index .Labels "missing"` is ""); an array is a []interface{}; null is a
 * nil interface; integral numbers are int64 and print as integers, others
 * float64 printed as Go prints them (1e+06); numbers the template makes
 * (literals, len) are Go ints.  Printing follows fmt's %v: map[a:1 b:[x y]].
 * One deliberate difference: json writes an object's keys in document
 * order (Go sorts map keys), which is docker's struct order for daemon data.
 * tests/integration/test_cli_format.py checks all this against Go's own
 * text/template and against the docker CLI.
 *
 * Errors use Go's words so that a user reading docker's documentation
 * recognises them: parse errors "template: :1: unexpected \"}\" in operand",
 * execution errors "template: :1:2: executing \"\" at <.A.B>: …".  Docker's
 * CLI prefixes both with "template parsing error: "; formatter.h does that.
 *
 * Never: recurse without a bound (nesting of actions, parentheses and
 * range/with bodies is limited), or loop on untrusted input without
 * consuming it.
 */
#ifndef BERTH_CLI_GOTEMPLATE_H
#define BERTH_CLI_GOTEMPLATE_H

#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"

struct gotemplate;

enum gotemplate_flags {
        /*
         * Docker's HeaderFunctions: json, split, join, title, lower, upper and
         * truncate return their first argument unchanged, so that executing a
         * table format over the header map yields the column names; and
         * {{.Label "com.x.foo-bar"}} on a header map is "foo bar", as docker's
         * SubHeaderContext.Label.
         */
        GOTEMPLATE_HEADER = 1 << 0,
        /* Go's Option("missingkey=error"): a key missing from a map is the error "map has
         * no entry for key \"X\"" instead of "<no value>" (docker inspect's --format). */
        GOTEMPLATE_MISSINGKEY_ERROR = 1 << 1,
};

/*
 * An object of the data that Go would see as a struct (type set) or as a map with
 * known keys (type NULL).  zero holds the values of keys the object may leave out
 * (a struct's omitempty fields): {{.Experimental}} reads false where the JSON has
 * no key.  Any other key missing from a struct is "can't evaluate field X in type T".
 */
struct gotemplate_object {
        const struct json *object;
        const char *type;
        const struct json *zero;
};

/* Parse a template; the error reads "template: :LINE: reason". */
int gotemplate_parse(const char *text, struct gotemplate **ret, struct berth_error **err);
/* The same, named as Go's template.New(name): "template: version:1: …" in every error. */
int gotemplate_parse_named(const char *name, const char *text, struct gotemplate **ret,
                           struct berth_error **err);
void gotemplate_free(struct gotemplate *t);
static inline void gotemplate_freep(struct gotemplate **t)
{
        gotemplate_free(*t);
}
#define _cleanup_gotemplate_ _cleanup_(gotemplate_freep)

/*
 * Execute over data (may be NULL: "no value"), appending to out.  On error
 * out keeps what was written before the failing action, as Go's does.
 */
int gotemplate_exec(const struct gotemplate *t, const struct json *data, unsigned flags,
                    struct berth_buf *out, struct berth_error **err);

/*
 * The same, with the data standing for a Go struct of type root_type (e.g.
 * "*formatter.imageContext"): a field missing from the root object is the
 * error "can't evaluate field X in type <root_type>", as docker reports for
 * its row types, instead of "<no value>".  methods (may be NULL) holds the
 * struct's one-argument methods: {"Label": {"k": "v"}} makes {{.Label "k"}}
 * "v" (and "" for a missing key), as docker's ContainerContext.Label.
 */
int gotemplate_exec_typed(const struct gotemplate *t, const struct json *data,
                          const char *root_type, const struct json *methods, unsigned flags,
                          struct berth_buf *out, struct berth_error **err);

/* gotemplate_exec with objects the data holds described as above. */
int gotemplate_exec_objects(const struct gotemplate *t, const struct json *data,
                            const struct gotemplate_object *objects, size_t n_objects,
                            unsigned flags, struct berth_buf *out, struct berth_error **err);

/* Go's strconv.Quote of s[0..len), appended to out. */
void gotemplate_quote(struct berth_buf *out, const char *s, size_t len);

/* Go's fmt %v of a JSON value (map[a:1], [x y], <nil>); appended to out. */
void gotemplate_print_value(struct berth_buf *out, const struct json *v);

#endif
