/*
 * image-changes.c — the Dockerfile-style changes of `commit -c` and `import -c`
 * applied to a Docker Config object (contract in commit.h).
 *
 * dockerd joins the changes with newlines, parses them as a Dockerfile and
 * dispatches each instruction on a copy of the config, as a build would.  The
 * subset it allows is small, so it is written out here instruction by
 * instruction: a logical line is one instruction (a trailing backslash joins
 * the next line, '#' lines are comments); words are split on blanks outside
 * quotes; values go through the builder's word expansion (quotes removed,
 * backslash escapes, $VAR and ${VAR} from the Env as it stands before the
 * instruction).  CMD, ENTRYPOINT, VOLUME and HEALTHCHECK CMD take a JSON array
 * (exec form) when the rest parses as one, else the shell form.
 *
 * Never: accept an instruction dockerd's commit refuses, or touch anything but
 * the config object given.
 */
#include <ctype.h>
#include <string.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/units.h"
#include "commit.h"

/* ---- words ---- */

/* The value of name in env ("K=V" strings), or "" (as the builder: unset is empty). */
static const char *env_lookup(const struct json *env, const char *name, size_t n)
{
        size_t i;
        const struct json *it;
        const char *found = "";
        json_array_foreach (env, i, it) {
                const char *s = json_str(it);
                if (s && strncmp(s, name, n) == 0 && s[n] == '=')
                        found = s + n + 1;
        }
        return found;
}

static bool name_char(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

/* A "$..." at *p: appends the expansion and advances *p. */
static void expand_var(struct berth_buf *b, const char **p, const struct json *env)
{
        const char *s = *p + 1;
        if (*s == '{') {
                const char *end = strchr(s, '}');
                if (!end) {
                        buf_puts(b, *p);
                        *p += strlen(*p);
                        return;
                }
                buf_puts(b, env_lookup(env, s + 1, (size_t)(end - s - 1)));
                *p = end + 1;
                return;
        }
        size_t n = 0;
        while (name_char(s[n]))
                n++;
        if (n == 0) {
                buf_putc(b, '$');
                *p = s;
                return;
        }
        buf_puts(b, env_lookup(env, s, n));
        *p = s + n;
}

/* The builder's ProcessWord: quotes removed, escapes and variables resolved. */
static char *expand_word(const char *w, size_t len, const struct json *env)
{
        _cleanup_free_ char *in = xstrndup(w, len);
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, "");
        for (const char *p = in; *p;) {
                if (*p == '\'') {
                        const char *end = strchr(p + 1, '\'');
                        size_t n = end ? (size_t)(end - p - 1) : strlen(p + 1);
                        buf_append(&b, p + 1, n);
                        p += n + 1 + (end ? 1 : 0);
                } else if (*p == '"') {
                        p++;
                        while (*p && *p != '"') {
                                if (*p == '\\' && p[1] && strchr("\"\\$", p[1])) {
                                        buf_putc(&b, p[1]);
                                        p += 2;
                                } else if (*p == '$') {
                                        expand_var(&b, &p, env);
                                } else {
                                        buf_putc(&b, *p++);
                                }
                        }
                        if (*p)
                                p++;
                } else if (*p == '\\' && p[1]) {
                        buf_putc(&b, p[1]);
                        p += 2;
                } else if (*p == '$') {
                        expand_var(&b, &p, env);
                } else {
                        buf_putc(&b, *p++);
                }
        }
        return buf_steal(&b);
}

/* Words of s split on blanks outside quotes, raw (quotes kept); NULL-terminated. */
static char **split_words(const char *s)
{
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        while (*s) {
                while (*s == ' ' || *s == '\t')
                        s++;
                if (!*s)
                        break;
                const char *start = s;
                char q = 0;
                while (*s && (q || (*s != ' ' && *s != '\t'))) {
                        if (q && *s == '\\' && q == '"' && s[1])
                                s++;
                        else if (!q && *s == '\\' && s[1])
                                s++;
                        else if (*s == q)
                                q = 0;
                        else if (!q && (*s == '"' || *s == '\''))
                                q = *s;
                        s++;
                }
                v = xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = xstrndup(start, (size_t)(s - start));
                v[n] = NULL;
        }
        return v;
}

static size_t strv_count(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

/* A JSON array of strings (the exec form), or NULL. */
static struct json *json_form(const char *rest)
{
        if (rest[0] != '[')
                return NULL;
        struct json *j = NULL;
        if (json_parse(rest, strlen(rest), &j, NULL) < 0)
                return NULL;
        size_t i;
        const struct json *it;
        bool ok = json_is(j, JSON_ARRAY);
        json_array_foreach (j, i, it)
                ok = ok && json_is(it, JSON_STRING);
        if (!ok) {
                json_free(j);
                return NULL;
        }
        return j;
}

static struct json *shell_form(const char *rest, bool with_rest)
{
        struct json *a = json_new_array();
        json_array_append(a, json_new_string("/bin/sh"));
        json_array_append(a, json_new_string("-c"));
        if (with_rest)
                json_array_append(a, json_new_string(rest));
        return a;
}

/* ---- instructions ---- */

struct state {
        struct json *cfg;
        bool cmd_set;
};

static struct json *object_member(struct json *cfg, const char *key)
{
        struct json *o = json_get(cfg, key);
        if (!json_is(o, JSON_OBJECT))
                o = json_object_set(cfg, key, json_new_object());
        return o;
}

static void env_set(struct json *cfg, const char *key, const char *value)
{
        struct json *env = json_get(cfg, "Env");
        if (!json_is(env, JSON_ARRAY))
                env = json_object_set(cfg, "Env", json_new_array());
        _cleanup_free_ char *kv = xasprintf("%s=%s", key, value);
        size_t n = strlen(key);
        for (size_t i = 0; i < env->arr.n; i++) {
                const char *s = json_str(env->arr.items[i]);
                if (s && strncmp(s, key, n) == 0 && s[n] == '=') {
                        json_free(env->arr.items[i]);
                        env->arr.items[i] = json_new_string(kv);
                        return;
                }
        }
        json_array_append(env, json_new_string(kv));
}

/* ENV and LABEL: "k v…" (legacy, one pair) or "k=v k2=v2" (quoted values allowed). */
static int name_values(struct state *st, const char *ins, const char *rest, bool label,
                       struct berth_error **err)
{
        _cleanup_strv_free_ char **w = split_words(rest);
        size_t n = strv_count(w);
        if (n == 0)
                return berth_error_set(err, EINVAL, "%s requires at least one argument", ins);
        /* expansions see the Env before this instruction */
        _cleanup_json_ struct json *env = json_copy(json_get(st->cfg, "Env"));
        if (!strchr(w[0], '=')) {
                if (n < 2)
                        return berth_error_set(err, EINVAL, "%s must have two arguments", ins);
                const char *v = rest;
                while (*v == ' ' || *v == '\t')
                        v++;
                v += strlen(w[0]);
                while (*v == ' ' || *v == '\t')
                        v++;
                _cleanup_free_ char *key = expand_word(w[0], strlen(w[0]), env);
                _cleanup_free_ char *val = expand_word(v, strlen(v), env);
                if (label)
                        json_set_str(object_member(st->cfg, "Labels"), key, val);
                else
                        env_set(st->cfg, key, val);
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                if (!strchr(w[i], '='))
                        return berth_error_set(err, EINVAL,
                                               "Syntax error - can't find = in \"%s\". Must be of "
                                               "the form: name=value",
                                               w[i]);
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(w[i], '=');
                _cleanup_free_ char *key = expand_word(w[i], (size_t)(eq - w[i]), env);
                _cleanup_free_ char *val = expand_word(eq + 1, strlen(eq + 1), env);
                if (label)
                        json_set_str(object_member(st->cfg, "Labels"), key, val);
                else
                        env_set(st->cfg, key, val);
        }
        return 0;
}

static int parse_port(const char *s, const char *end, unsigned *ret)
{
        if (s == end || end - s > 5)
                return -EINVAL;
        unsigned v = 0;
        for (const char *p = s; p < end; p++) {
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                v = v * 10 + (unsigned)(*p - '0');
        }
        if (v > 65535)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int expose(struct state *st, const char *rest, struct berth_error **err)
{
        _cleanup_strv_free_ char **w = split_words(rest);
        if (!w[0])
                return berth_error_set(err, EINVAL, "EXPOSE requires at least one argument");
        const struct json *env = json_get(st->cfg, "Env");
        struct json *ports = object_member(st->cfg, "ExposedPorts");
        for (size_t i = 0; w[i]; i++) {
                _cleanup_free_ char *p = expand_word(w[i], strlen(w[i]), env);
                char *slash = strchr(p, '/');
                _cleanup_free_ char *proto = xstrdup(slash && slash[1] ? slash + 1 : "tcp");
                for (char *c = proto; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                const char *end = slash ? slash : p + strlen(p);
                const char *dash = memchr(p, '-', (size_t)(end - p));
                unsigned lo = 0, hi = 0;
                if (parse_port(p, dash ? dash : end, &lo) < 0 ||
                    (dash && parse_port(dash + 1, end, &hi) < 0))
                        return berth_error_set(err, EINVAL, "Invalid containerPort: %.*s",
                                               (int)(end - p), p);
                if (!dash)
                        hi = lo;
                if (hi < lo)
                        return berth_error_set(err, EINVAL,
                                               "Invalid range specified for the Port: %s", p);
                if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
                    strcmp(proto, "sctp") != 0)
                        return berth_error_set(err, EINVAL, "Invalid proto: %s", proto);
                for (unsigned port = lo; port <= hi; port++) {
                        char key[32];
                        snprintf(key, sizeof(key), "%u/%s", port, proto);
                        json_object_set(ports, key, json_new_object());
                }
        }
        return 0;
}

static int volume(struct state *st, const char *rest, struct berth_error **err)
{
        _cleanup_json_ struct json *arr = json_form(rest);
        _cleanup_strv_free_ char **w = arr ? NULL : split_words(rest);
        size_t n = arr ? json_len(arr) : strv_count(w);
        if (n == 0)
                return berth_error_set(err, EINVAL, "VOLUME requires at least one argument");
        struct json *vols = object_member(st->cfg, "Volumes");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *v =
                    arr ? xstrdup(json_str(arr->arr.items[i]))
                        : expand_word(w[i], strlen(w[i]), json_get(st->cfg, "Env"));
                char *t = v + strlen(v);
                while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
                        *--t = '\0';
                if (!*v)
                        return berth_error_set(err, EINVAL,
                                               "VOLUME specified can not be an empty string");
                json_object_set(vols, v, json_new_object());
        }
        return 0;
}

static int one_arg(struct state *st, const char *ins, const char *rest, char **ret,
                   struct berth_error **err)
{
        _cleanup_strv_free_ char **w = split_words(rest);
        if (strv_count(w) != 1)
                return berth_error_set(err, EINVAL, "%s requires exactly one argument", ins);
        *ret = expand_word(w[0], strlen(w[0]), json_get(st->cfg, "Env"));
        return 0;
}

static int workdir(struct state *st, const char *rest, struct berth_error **err)
{
        _cleanup_free_ char *p = NULL;
        int r = one_arg(st, "WORKDIR", rest, &p, err);
        if (r < 0)
                return r;
        const char *cur = json_str(json_get(st->cfg, "WorkingDir"));
        _cleanup_free_ char *joined =
            p[0] == '/' ? xstrdup(p) : xasprintf("/%s/%s", cur && *cur ? cur : "", p);
        _cleanup_free_ char *clean = path_clean_abs(joined);
        json_set_str(st->cfg, "WorkingDir", clean);
        return 0;
}

static int onbuild(struct state *st, const char *rest, struct berth_error **err)
{
        size_t n = strcspn(rest, " \t");
        if (n == 0)
                return berth_error_set(err, EINVAL, "ONBUILD requires at least one argument");
        _cleanup_free_ char *word = xstrndup(rest, n);
        for (char *c = word; *c; c++)
                *c = (char)toupper((unsigned char)*c);
        if (strcmp(word, "ONBUILD") == 0)
                return berth_error_set(err, EINVAL,
                                       "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (strcmp(word, "FROM") == 0 || strcmp(word, "MAINTAINER") == 0)
                return berth_error_set(err, EINVAL, "%s isn't allowed as an ONBUILD trigger", word);
        struct json *ob = json_get(st->cfg, "OnBuild");
        if (!json_is(ob, JSON_ARRAY))
                ob = json_object_set(st->cfg, "OnBuild", json_new_array());
        json_array_append(ob, json_new_string(rest));
        return 0;
}

static int healthcheck(struct state *st, const char *rest, struct berth_error **err)
{
        static const char *const flags[] = {"interval", "timeout", "start-period", "retries"};
        static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "Retries"};
        int64_t vals[4] = {0};
        const char *p = rest;
        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (strncmp(p, "--", 2) != 0)
                        break;
                size_t n = strcspn(p, " \t");
                _cleanup_free_ char *f = xstrndup(p + 2, n - 2);
                p += n;
                char *eq = strchr(f, '=');
                size_t k = 0;
                if (eq)
                        *eq = '\0';
                while (k < ELEMENTSOF(flags) && strcmp(f, flags[k]) != 0)
                        k++;
                if (k == ELEMENTSOF(flags) || !eq)
                        return berth_error_set(err, EINVAL, "Unknown flag: %s", f);
                if (k == 3) {
                        char *end = NULL;
                        vals[k] = strtoll(eq + 1, &end, 10);
                        if (!*(eq + 1) || *end)
                                return berth_error_set(err, EINVAL,
                                                       "strconv.ParseInt: parsing \"%s\": invalid "
                                                       "syntax",
                                                       eq + 1);
                } else if (units_parse_go_duration(eq + 1, &vals[k]) < 0) {
                        return berth_error_set(err, EINVAL, "time: invalid duration \"%s\"",
                                               eq + 1);
                }
        }
        size_t n = strcspn(p, " \t");
        if (n == 0)
                return berth_error_set(err, EINVAL, "HEALTHCHECK requires an argument");
        _cleanup_free_ char *type = xstrndup(p, n);
        for (char *c = type; *c; c++)
                *c = (char)toupper((unsigned char)*c);
        const char *args = p + n;
        while (*args == ' ' || *args == '\t')
                args++;
        struct json *hc = json_new_object();
        struct json *test = json_object_set(hc, "Test", json_new_array());
        if (strcmp(type, "NONE") == 0) {
                if (*args)
                        return json_free(hc),
                               berth_error_set(err, EINVAL, "HEALTHCHECK NONE takes no arguments");
                json_array_append(test, json_new_string("NONE"));
        } else if (strcmp(type, "CMD") == 0) {
                _cleanup_json_ struct json *arr = json_form(args);
                json_array_append(test, json_new_string(arr ? "CMD" : "CMD-SHELL"));
                if (arr)
                        for (size_t i = 0; i < json_len(arr); i++)
                                json_array_append(test, json_copy(arr->arr.items[i]));
                else
                        json_array_append(test, json_new_string(args));
                for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                        if (vals[k])
                                json_set_int(hc, keys[k], vals[k]);
        } else {
                json_free(hc);
                return berth_error_set(err, EINVAL, "Unknown type \"%s\" in HEALTHCHECK (try CMD)",
                                       type);
        }
        json_object_set(st->cfg, "Healthcheck", hc);
        return 0;
}

static int dispatch(struct state *st, const char *ins, const char *rest, struct berth_error **err)
{
        if (strcmp(ins, "CMD") == 0 || strcmp(ins, "ENTRYPOINT") == 0) {
                bool entry = ins[0] == 'E';
                struct json *v = json_form(rest);
                if (!v && entry && !*rest)
                        v = json_new_null();
                else if (!v)
                        v = shell_form(rest, *rest != '\0');
                json_object_set(st->cfg, entry ? "Entrypoint" : "Cmd", v);
                if (!entry)
                        st->cmd_set = true;
                else if (!st->cmd_set)
                        json_object_set(st->cfg, "Cmd", json_new_null());
                return 0;
        }
        if (strcmp(ins, "ENV") == 0 || strcmp(ins, "LABEL") == 0)
                return name_values(st, ins, rest, ins[0] == 'L', err);
        if (strcmp(ins, "EXPOSE") == 0)
                return expose(st, rest, err);
        if (strcmp(ins, "VOLUME") == 0)
                return volume(st, rest, err);
        if (strcmp(ins, "WORKDIR") == 0)
                return workdir(st, rest, err);
        if (strcmp(ins, "ONBUILD") == 0)
                return onbuild(st, rest, err);
        if (strcmp(ins, "HEALTHCHECK") == 0)
                return healthcheck(st, rest, err);
        if (strcmp(ins, "USER") == 0) {
                _cleanup_free_ char *u = NULL;
                int r = one_arg(st, "USER", rest, &u, err);
                if (r == 0)
                        json_set_str(st->cfg, "User", u);
                return r;
        }
        abort(); /* validated before */
}

static bool valid_change(const char *ins)
{
        static const char *const ok[] = {"CMD",   "ENTRYPOINT", "HEALTHCHECK", "ENV",    "EXPOSE",
                                         "LABEL", "ONBUILD",    "USER",        "VOLUME", "WORKDIR"};
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (strcmp(ins, ok[i]) == 0)
                        return true;
        return false;
}

/* The Dockerfile's logical lines: continuations joined, comments and blank lines dropped. */
static char **logical_lines(char *const *changes)
{
        struct berth_buf all = BERTH_BUF_INIT;
        buf_puts(&all, "");
        for (size_t i = 0; changes && changes[i]; i++) {
                if (i)
                        buf_putc(&all, '\n');
                buf_puts(&all, changes[i]);
        }
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        struct berth_buf line = BERTH_BUF_INIT;
        char *save = NULL;
        for (char *l = strtok_r(all.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                size_t len = strlen(l);
                while (len && (l[len - 1] == '\r' || l[len - 1] == ' ' || l[len - 1] == '\t'))
                        len--;
                const char *t = l;
                while (*t == ' ' || *t == '\t')
                        t++;
                if (*t == '#' && !line.len)
                        continue;
                if (len && l[len - 1] == '\\') {
                        buf_append(&line, l, len - 1);
                        continue;
                }
                buf_append(&line, l, len);
                const char *s = line.data;
                while (*s == ' ' || *s == '\t')
                        s++;
                if (*s) {
                        v = xrealloc(v, (n + 2) * sizeof(char *));
                        v[n++] = xstrdup(s);
                        v[n] = NULL;
                }
                line.len = 0;
                line.data[0] = '\0';
        }
        if (line.len) {
                v = xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = buf_steal(&line);
                v[n] = NULL;
        }
        buf_release(&line);
        buf_release(&all);
        return v;
}

int berth_config_apply_changes(struct json *config, char *const *changes, struct berth_error **err)
{
        _cleanup_strv_free_ char **lines = logical_lines(changes);
        size_t n = strv_count(lines);
        char **ins = xcalloc(n + 1, sizeof(char *));
        int r = 0;
        /* dockerd checks every instruction before it applies any */
        for (size_t i = 0; i < n; i++) {
                size_t k = strcspn(lines[i], " \t");
                ins[i] = xstrndup(lines[i], k);
                for (char *c = ins[i]; *c; c++)
                        *c = (char)toupper((unsigned char)*c);
                if (r == 0 && !valid_change(ins[i])) {
                        for (char *c = ins[i]; *c; c++)
                                *c = (char)tolower((unsigned char)*c);
                        r = berth_error_set(err, EINVAL, "%s is not a valid change command",
                                            ins[i]);
                }
        }
        struct state st = {.cfg = config};
        for (size_t i = 0; r == 0 && i < n; i++) {
                const char *rest = lines[i] + strlen(ins[i]);
                while (*rest == ' ' || *rest == '\t')
                        rest++;
                r = dispatch(&st, ins[i], rest, err);
        }
        strv_free(ins);
        return r;
}
