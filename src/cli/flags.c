/*
 * flags.c — pflag-compatible parsing and usage text (contract in flags.h).
 *
 * One pass over argv: each word is a long flag, a group of shorthands, the
 * "--" terminator, or an argument.  A flag's value comes from "=value", from
 * the rest of a shorthand group, or from the next word (only for non-boolean
 * flags, as in pflag: "--debug false" is the flag plus an argument).
 */
#include <assert.h>
#include <string.h>
#include <sys/ioctl.h>

#include "base/buf.h"
#include "base/units.h"
#include "flags.h"

int cli_parse_bool(const char *s, bool *ret)
{
        return units_parse_go_bool(s, ret);
}

static int parse_int(const char *s, int64_t *ret)
{
        if (!*s)
                return -EINVAL;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 0);
        if (*end || errno)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "-D, --debug" or "--data-root", as pflag names a flag in errors. */
static char *flag_display(const struct cli_flag *f)
{
        if (f->shorthand)
                return xasprintf("-%c, --%s", f->shorthand, f->name);
        return xasprintf("--%s", f->name);
}

static void list_push(char ***list, const char *s)
{
        size_t n = 0;
        while (*list && (*list)[n])
                n++;
        *list = xrealloc(*list, (n + 2) * sizeof(char *));
        (*list)[n] = xstrdup(s);
        (*list)[n + 1] = NULL;
}

static int set_value(struct cli_flagset *fs, size_t idx, const char *value,
                     struct berth_error **err)
{
        const struct cli_flag *f = &fs->flags[idx];
        struct cli_flag_value *v = &fs->values[idx];
        v->set = true;
        if (f->validate && (f->type == CLI_FLAG_STRING || f->type == CLI_FLAG_LIST)) {
                _cleanup_free_ char *why = f->validate(value);
                if (why) {
                        _cleanup_free_ char *d = flag_display(f);
                        return berth_error_set(err, EINVAL,
                                               "invalid argument \"%s\" for \"%s\" flag: %s", value,
                                               d, why);
                }
        }
        switch (f->type) {
        case CLI_FLAG_BOOL:
                if (cli_parse_bool(value, &v->b) < 0) {
                        _cleanup_free_ char *d = flag_display(f);
                        return berth_error_set(err, EINVAL,
                                               "invalid argument \"%s\" for \"%s\" flag: "
                                               "strconv.ParseBool: parsing \"%s\": invalid syntax",
                                               value, d, value);
                }
                return 0;
        case CLI_FLAG_INT:
                if (parse_int(value, &v->i) < 0) {
                        _cleanup_free_ char *d = flag_display(f);
                        return berth_error_set(err, EINVAL,
                                               "invalid argument \"%s\" for \"%s\" flag: "
                                               "strconv.ParseInt: parsing \"%s\": invalid syntax",
                                               value, d, value);
                }
                return 0;
        case CLI_FLAG_STRING:
                free(v->s);
                v->s = xstrdup(value);
                return 0;
        case CLI_FLAG_LIST:
                list_push(&v->list, value);
                return 0;
        }
        return -EINVAL;
}

static void push_arg(struct cli_flagset *fs, const char *a)
{
        fs->args = xrealloc(fs->args, (fs->n_args + 2) * sizeof(char *));
        fs->args[fs->n_args++] = xstrdup(a);
        fs->args[fs->n_args] = NULL;
}

static ssize_t find_long(const struct cli_flagset *fs, const char *name, size_t len)
{
        for (size_t i = 0; i < fs->n_flags; i++)
                if (strlen(fs->flags[i].name) == len && strncmp(fs->flags[i].name, name, len) == 0)
                        return (ssize_t)i;
        return -1;
}

static ssize_t find_short(const struct cli_flagset *fs, char c)
{
        for (size_t i = 0; i < fs->n_flags; i++)
                if (fs->flags[i].shorthand == c)
                        return (ssize_t)i;
        return -1;
}

/* --name[=value]; *consumed_next when the value was the next word. */
static int parse_long(struct cli_flagset *fs, const char *word, const char *next,
                      bool *consumed_next, struct berth_error **err)
{
        const char *name = word + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        ssize_t idx = find_long(fs, name, len);
        if (idx < 0) {
                if (len == 4 && strncmp(name, "help", 4) == 0) {
                        fs->help = true;
                        return 0;
                }
                return berth_error_set(err, EINVAL, "unknown flag: --%.*s", (int)len, name);
        }
        const struct cli_flag *f = &fs->flags[idx];
        if (strcmp(f->name, "help") == 0) {
                /* a command whose -h is another flag lists --help among its own (run) */
                fs->help = true;
                return 0;
        }
        if (eq)
                return set_value(fs, (size_t)idx, eq + 1, err);
        if (f->type == CLI_FLAG_BOOL)
                return set_value(fs, (size_t)idx, "true", err);
        if (!next)
                return berth_error_set(err, EINVAL, "flag needs an argument: --%s", f->name);
        *consumed_next = true;
        return set_value(fs, (size_t)idx, next, err);
}

/* -abc: booleans, until a flag that takes the rest (or the next word) as value. */
static int parse_shorts(struct cli_flagset *fs, const char *word, const char *next,
                        bool *consumed_next, struct berth_error **err)
{
        for (const char *p = word + 1; *p; p++) {
                ssize_t idx = find_short(fs, *p);
                if (idx < 0) {
                        if (*p == 'h') {
                                fs->help = true;
                                continue;
                        }
                        return berth_error_set(err, EINVAL, "unknown shorthand flag: '%c' in %s",
                                               *p, word);
                }
                const struct cli_flag *f = &fs->flags[idx];
                if (p[1] == '=')
                        return set_value(fs, (size_t)idx, p + 2, err);
                if (f->type == CLI_FLAG_BOOL) {
                        int r = set_value(fs, (size_t)idx, "true", err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (p[1])
                        return set_value(fs, (size_t)idx, p + 1, err);
                if (!next)
                        return berth_error_set(err, EINVAL, "flag needs an argument: '%c' in -%c",
                                               *p, *p);
                *consumed_next = true;
                return set_value(fs, (size_t)idx, next, err);
        }
        return 0;
}

int cli_flags_parse(struct cli_flagset *fs, const struct cli_flag *flags, size_t n_flags, int argc,
                    char *const *argv, enum cli_parse_mode mode, struct berth_error **err)
{
        memset(fs, 0, sizeof(*fs));
        fs->flags = flags;
        fs->n_flags = n_flags;
        fs->values = xcalloc(n_flags ? n_flags : 1, sizeof(*fs->values));
        fs->args = xcalloc(1, sizeof(char *));
        for (size_t i = 0; i < n_flags; i++) {
                const struct cli_flag *f = &flags[i];
                if (!f->def)
                        continue;
                if (f->type == CLI_FLAG_STRING)
                        fs->values[i].s = xstrdup(f->def);
                else if (f->type == CLI_FLAG_INT)
                        (void)parse_int(f->def, &fs->values[i].i);
                else if (f->type == CLI_FLAG_BOOL)
                        (void)cli_parse_bool(f->def, &fs->values[i].b);
        }

        int i = 0;
        while (i < argc) {
                const char *w = argv[i];
                const char *next = i + 1 < argc ? argv[i + 1] : NULL;
                bool used_next = false;
                int r = 0;
                if (strcmp(w, "--") == 0) {
                        for (i++; i < argc; i++)
                                push_arg(fs, argv[i]);
                        break;
                }
                if (w[0] != '-' || w[1] == '\0') {
                        if (mode == CLI_PARSE_STOP_AT_ARG) {
                                for (; i < argc; i++)
                                        push_arg(fs, argv[i]);
                                break;
                        }
                        push_arg(fs, w);
                        i++;
                        continue;
                }
                if (w[1] == '-')
                        r = parse_long(fs, w, next, &used_next, err);
                else
                        r = parse_shorts(fs, w, next, &used_next, err);
                if (r < 0)
                        return r;
                i += used_next ? 2 : 1;
        }
        return 0;
}

void cli_flags_release(struct cli_flagset *fs)
{
        if (!fs)
                return;
        for (size_t i = 0; fs->values && i < fs->n_flags; i++) {
                free(fs->values[i].s);
                strv_free(fs->values[i].list);
        }
        free(fs->values);
        strv_free(fs->args);
        memset(fs, 0, sizeof(*fs));
}

static size_t index_of(const struct cli_flagset *fs, const char *name)
{
        ssize_t idx = find_long(fs, name, strlen(name));
        assert(idx >= 0);
        return (size_t)idx;
}

bool cli_flag_bool(const struct cli_flagset *fs, const char *name)
{
        return fs->values[index_of(fs, name)].b;
}

const char *cli_flag_string(const struct cli_flagset *fs, const char *name)
{
        return fs->values[index_of(fs, name)].s;
}

int64_t cli_flag_int(const struct cli_flagset *fs, const char *name)
{
        return fs->values[index_of(fs, name)].i;
}

char **cli_flag_list(const struct cli_flagset *fs, const char *name)
{
        return fs->values[index_of(fs, name)].list;
}

bool cli_flag_is_set(const struct cli_flagset *fs, const char *name)
{
        return fs->values[index_of(fs, name)].set;
}

static const char *value_name(const struct cli_flag *f)
{
        if (f->value_name)
                return f->value_name;
        switch (f->type) {
        case CLI_FLAG_BOOL:
                return "";
        case CLI_FLAG_STRING:
                return "string";
        case CLI_FLAG_INT:
                return "int";
        case CLI_FLAG_LIST:
                return "list";
        }
        return "";
}

/* pflag's wrapN: the first line of s within i columns (a little over, slop, rather than
 * leave a short word alone), *ret_rest where the rest starts. */
static size_t wrap_n(const char *s, size_t len, size_t i, size_t slop, size_t *ret_rest)
{
        *ret_rest = len;
        if (i + slop > len)
                return len;
        size_t w = 0, nl = 0;
        bool have_w = false, have_nl = false;
        for (size_t k = 0; k < i; k++) {
                if (s[k] == ' ' || s[k] == '\t' || s[k] == '\n') {
                        w = k;
                        have_w = true;
                }
                if (s[k] == '\n') {
                        nl = k;
                        have_nl = true;
                }
        }
        if (!have_w || w == 0)
                return len;
        if (have_nl && nl > 0 && nl < w) {
                *ret_rest = nl + 1;
                return nl;
        }
        *ret_rest = w + 1;
        return w;
}

/* s[0..n) with each newline followed by indent spaces. */
static void put_indented(struct berth_buf *b, const char *s, size_t n, size_t indent)
{
        for (size_t k = 0; k < n; k++) {
                buf_putc(b, s[k]);
                for (size_t sp = 0; s[k] == '\n' && sp < indent; sp++)
                        buf_putc(b, ' ');
        }
}

static void put_spaces(struct berth_buf *b, size_t n)
{
        while (n--)
                buf_putc(b, ' ');
}

/* pflag's wrap: s in the columns from i to w, further lines indented to i (or as a block
 * from column 16 on the next line when fewer than 24 columns are left). */
static void pflag_wrap(struct berth_buf *b, size_t i, long w, const char *s)
{
        size_t len = strlen(s);
        if (w == 0) {
                put_indented(b, s, len, i);
                return;
        }
        long wrap = w - (long)i;
        bool block = false;
        if (wrap < 24) {
                i = 16;
                wrap = w - (long)i;
                block = true;
        }
        if (wrap < 24) {
                put_indented(b, s, len, block ? 16 : i);
                return;
        }
        if (block) {
                buf_putc(b, '\n');
                put_spaces(b, i);
        }
        const size_t slop = 5;
        wrap -= (long)slop;
        size_t rest = 0;
        size_t take = wrap_n(s, len, (size_t)wrap, slop, &rest);
        put_indented(b, s, take, i);
        s += rest;
        len -= rest;
        while (len) {
                take = wrap_n(s, len, (size_t)wrap, slop, &rest);
                buf_putc(b, '\n');
                put_spaces(b, i);
                put_indented(b, s, take, i);
                s += rest;
                len -= rest;
        }
}

/* docker's wrappedFlagUsages: the width of the terminal on stdin, else 80, less one. */
static long usage_columns(void)
{
        struct winsize ws;
        long width = 80;
        if (ioctl(0, TIOCGWINSZ, &ws) == 0)
                width = ws.ws_col;
        return width - 1;
}

void cli_flags_usage(struct berth_buf *b, const struct cli_flag *flags, size_t n_flags)
{
        /* pflag: the description starts 3 columns after the longest "  -x, --name type". */
        size_t maxlen = 0;
        struct berth_buf *lefts = xcalloc(n_flags ? n_flags : 1, sizeof(*lefts));
        for (size_t i = 0; i < n_flags; i++) {
                const struct cli_flag *f = &flags[i];
                if (f->hidden)
                        continue;
                if (f->shorthand)
                        buf_printf(&lefts[i], "  -%c, --%s", f->shorthand, f->name);
                else
                        buf_printf(&lefts[i], "      --%s", f->name);
                const char *vn = value_name(f);
                if (*vn)
                        buf_printf(&lefts[i], " %s", vn);
                if (lefts[i].len > maxlen)
                        maxlen = lefts[i].len;
        }
        long cols = usage_columns();
        for (size_t i = 0; i < n_flags; i++) {
                const struct cli_flag *f = &flags[i];
                if (f->hidden)
                        continue;
                buf_puts(b, lefts[i].data);
                put_spaces(b, maxlen + 3 - lefts[i].len);
                struct berth_buf u = BERTH_BUF_INIT;
                buf_puts(&u, f->usage);
                if (f->def && *f->def &&
                    !(f->type == CLI_FLAG_BOOL && strcmp(f->def, "false") == 0)) {
                        if (f->type == CLI_FLAG_STRING)
                                buf_printf(&u, " (default \"%s\")", f->def);
                        else
                                buf_printf(&u, " (default %s)", f->def);
                }
                pflag_wrap(b, maxlen + 3, cols, u.data ? u.data : "");
                buf_release(&u);
                buf_putc(b, '\n');
                buf_release(&lefts[i]);
        }
        free(lefts);
}
