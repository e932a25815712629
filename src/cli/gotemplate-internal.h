/*
 * gotemplate-internal.h — what gotemplate-parse.c (lexer, parser: the node
 * tree), gotemplate.c (executor) and gotemplate-fmt.c (Go's fmt and
 * encoding/json printing rules) share.  Nothing outside
 * src/cli/gotemplate*.c includes this.
 */
#ifndef BERTH_CLI_GOTEMPLATE_INTERNAL_H
#define BERTH_CLI_GOTEMPLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/json.h"

#define MAX_DEPTH 100 /* nesting of actions and parentheses */

enum node_type {
        N_LIST,
        N_TEXT,
        N_ACTION,
        N_IF,
        N_RANGE,
        N_WITH,
        N_BREAK,
        N_CONTINUE,
        N_ELSE,
        N_END,
        N_PIPE,
        N_CMD,
        N_FIELD,
        N_VAR,
        N_DOT,
        N_NIL,
        N_BOOL,
        N_NUMBER,
        N_STRING,
        N_IDENT,
        N_CHAIN,
};

struct node {
        enum node_type type;
        size_t pos;
        char *text; /* N_TEXT: the text; N_STRING/N_NUMBER: source form; N_IDENT: name */
        size_t text_len;
        char *sval; /* N_STRING: the value */
        size_t sval_len;
        char **idents; /* N_FIELD: names without dots; N_VAR: "$x", then fields; N_CHAIN: fields */
        size_t nidents;
        struct node **kids; /* N_LIST: items; N_PIPE: commands; N_CMD: arguments */
        size_t nkids;
        struct node *pipe, *list, *else_list; /* N_ACTION (pipe), N_IF, N_RANGE, N_WITH */
        struct node *sub;                     /* N_CHAIN: the term */
        char **decls;                         /* N_PIPE */
        size_t ndecls;
        bool is_assign;
        bool bval;                /* N_BOOL */
        bool is_int, ideal_float; /* N_NUMBER: usable as integer; prints as float */
        bool is_uint_only;        /* N_NUMBER: only fits uint64 (overflows int) */
        int64_t ival;
        double fval;
};

struct gotemplate {
        char *text;
        char *name; /* in errors: "template: NAME:1:2: executing \"NAME\" …" */
        struct node *root;
};

/* Go's Node.String(), used in error contexts ("at <.A.B>"). */
void gt_node_string(struct berth_buf *b, const struct node *n);
/* 1-based line of byte offset pos in text. */
int gt_line_of(const char *text, size_t pos);
/* Is name one of the template functions (exec decides what they do)? */
bool gt_function_exists(const char *name, size_t len);

/* Marks an integer the template made (literal, len, index): Go's int, not the data's int64. */
#define GT_NUM_GO_INT (1u << 7)

/* Go's type name of a JSON value as berth models it ("<nil>" for NULL). */
const char *gt_type_name(const struct json *v);
bool gt_is_int(const struct json *v);
/* An object of strings only: Go's map[string]string in berth's model (docker's labels). */
bool gt_object_all_strings(const struct json *o);
/* fmt.Sprint / Sprintln semantics over n values (NULL = nil interface). */
void gt_sprint(struct berth_buf *b, const struct json *const *v, size_t n);
void gt_sprintln(struct berth_buf *b, const struct json *const *v, size_t n);
/* fmt.Sprintf with the verbs docker users write (%s %v %d %q %x %f %g %e %t %c %%). */
void gt_sprintf(struct berth_buf *b, const char *fmt, size_t fmtlen, const struct json *const *v,
                size_t n);
/* encoding/json, keys in document order; NULL -> null; escape_html: <, >, & as \u003c… */
void gt_json_encode(struct berth_buf *b, const struct json *v, bool escape_html);
/* strconv.Quote of s, or of its first maxrunes runes when maxrunes >= 0 (%.Nq). */
void gt_quote(struct berth_buf *b, const char *s, size_t len, long maxrunes);
/* strconv.FormatFloat(d, verb, prec, 64) for verb e, f, g (prec -1 = shortest). */
void gt_format_float(struct berth_buf *b, double d, char verb, int prec);

#endif
