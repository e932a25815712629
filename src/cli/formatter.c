/*
 * formatter.c — docker's formatter.Context.Write and the image context
 * (cli/command/formatter/{formatter,image}.go) over JSON rows.
 *
 * How: every row is rendered into one buffer (a newline after each); only
 * when all rows succeeded is anything written: for a table, the header row
 * (the template executed over the header map with header functions; its
 * errors are ignored, as docker ignores them) and the rows go through a
 * tabwriter(10, 1, 3, ' ', 0).
 *
 * Image references are reduced to docker's familiar form ("busybox", not
 * "docker.io/library/busybox"); unparsable references ("<none>:<none>") are
 * skipped, as ParseNormalizedNamed fails on them.
 *
 * Never: write partial output when a row fails.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "cli/formatter.h"
#include "cli/gotemplate.h"
#include "cli/tabwriter.h"
#include "cli/units.h"

bool formatter_is_table(const char *format)
{
        return strncmp(format, "table", 5) == 0;
}

char *formatter_template_string(const char *format)
{
        if (strcmp(format, "table") == 0)
                return xstrdup("");
        if (strcmp(format, "json") == 0)
                return xstrdup("{{json .}}");
        const char *s = format;
        if (formatter_is_table(s))
                s += 5;
        size_t len = strlen(s);
        while (len && *s == ' ')
                s++, len--;
        while (len && s[len - 1] == ' ')
                len--;
        struct berth_buf b = BERTH_BUF_INIT;
        buf_grow(&b, len);
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '\\' && i + 1 < len && (s[i + 1] == 't' || s[i + 1] == 'n')) {
                        buf_putc(&b, s[i + 1] == 't' ? '\t' : '\n');
                        i++;
                } else {
                        buf_putc(&b, s[i]);
                }
        }
        return buf_steal(&b);
}

int formatter_write(const char *format, const struct json *rows, const struct json *header,
                    const char *row_type, struct berth_buf *out, struct berth_error **err)
{
        _cleanup_free_ char *text = formatter_template_string(format);
        _cleanup_gotemplate_ struct gotemplate *t = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (gotemplate_parse(text, &t, &e) < 0)
                return berth_error_set(err, EINVAL, "template parsing error: %s", e->msg);
        _cleanup_buf_ struct berth_buf body = BERTH_BUF_INIT;
        buf_append(&body, "", 0);
        for (size_t i = 0; json_is(rows, JSON_ARRAY) && i < rows->arr.n; i++) {
                const struct json *row = rows->arr.items[i];
                if (gotemplate_exec_typed(t, row, row_type, 0, &body, &e) < 0)
                        return berth_error_set(err, EINVAL, "template parsing error: %s", e->msg);
                buf_putc(&body, '\n');
        }
        if (!formatter_is_table(format)) {
                buf_append(out, body.data, body.len);
                return 0;
        }
        _cleanup_tabwriter_ struct tabwriter *tw = tabwriter_new(out, 10, 1, 3, ' ', 0);
        _cleanup_buf_ struct berth_buf head = BERTH_BUF_INIT;
        buf_append(&head, "", 0);
        if (gotemplate_exec(t, header, GOTEMPLATE_HEADER, &head, &e) < 0)
                berth_error_freep(&e); /* docker ignores header errors; keeps what was written */
        tabwriter_write(tw, head.data, head.len);
        tabwriter_write(tw, "\n", 1);
        tabwriter_write(tw, body.data, body.len);
        tabwriter_flush(tw);
        return 0;
}

/* ------------------------------------------------------------ images */

#define IMAGE_TABLE                                                                                \
        "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{if .CreatedSince "                         \
        "}}{{.CreatedSince}}{{else}}N/"                                                            \
        "A{{end}}\\t{{.Size}}"
#define IMAGE_TABLE_DIGEST                                                                         \
        "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{if .CreatedSince "           \
        "}}{{.CreatedSince}}{{else}}N/A{{end}}\\t{{.Size}}"

char *formatter_image_format(const char *source, bool quiet, bool digests)
{
        if (!source || !*source || strcmp(source, "table") == 0) {
                if (quiet)
                        return xstrdup("{{.ID}}");
                return xstrdup(digests ? IMAGE_TABLE_DIGEST : IMAGE_TABLE);
        }
        if (strcmp(source, "raw") == 0) {
                if (quiet)
                        return xstrdup("image_id: {{.ID}}");
                if (digests)
                        return xstrdup("repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: "
                                       "{{.Digest}}\nimage_id: {{.ID}}\ncreated_at: "
                                       "{{.CreatedAt}}\nvirtual_size: {{.Size}}\n");
                return xstrdup("repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: "
                               "{{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n");
        }
        if (formatter_is_table(source) && digests && !strstr(source, "{{.Digest}}"))
                return xasprintf("%s\t{{.Digest}}", source);
        return xstrdup(source);
}

struct json *formatter_image_header(void)
{
        static const char *const h[][2] = {
            {"ID", "IMAGE ID"},
            {"Repository", "REPOSITORY"},
            {"Tag", "TAG"},
            {"Digest", "DIGEST"},
            {"CreatedSince", "CREATED"},
            {"CreatedAt", "CREATED AT"},
            {"Size", "SIZE"},
            {"Containers", "CONTAINERS"},
            {"VirtualSize", "SIZE"},
            {"SharedSize", "SHARED SIZE"},
            {"UniqueSize", "UNIQUE SIZE"},
        };
        struct json *o = json_new_object();
        for (size_t i = 0; i < ELEMENTSOF(h); i++)
                json_set_str(o, h[i][0], h[i][1]);
        return o;
}

/*
 * ParseNormalizedNamed + FamiliarName, enough for the daemon's RepoTags and
 * RepoDigests: returns the familiar repository and the tag or digest
 * (whichever want_digest asks for), or false when the reference is invalid
 * or lacks that part.
 */
static bool familiar_ref(const char *ref, bool want_digest, char **ret_repo, char **ret_part)
{
        for (const char *p = ref; *p; p++) {
                char c = *p;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      strchr("._-/:@+", c)))
                        return false;
        }
        _cleanup_free_ char *name = xstrdup(ref);
        char *digest = strchr(name, '@');
        if (digest)
                *digest++ = '\0';
        char *slash = strrchr(name, '/');
        char *tag = strrchr(slash ? slash : name, ':');
        if (tag)
                *tag++ = '\0';
        if (!*name || (tag && !*tag) || (digest && !strchr(digest, ':')))
                return false;
        const char *path = name;
        const char *first = strchr(name, '/');
        bool has_domain = false;
        if (first) {
                size_t n = (size_t)(first - name);
                has_domain = memchr(name, '.', n) || memchr(name, ':', n) ||
                             (n == 9 && strncmp(name, "localhost", 9) == 0);
        }
        if (has_domain)
                path = first + 1;
        for (const char *p = path; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        return false;
        const char *familiar = name;
        if (has_domain && ((size_t)(first - name) == 9 && strncmp(name, "docker.io", 9) == 0))
                familiar = path;
        else if (has_domain && (size_t)(first - name) == 15 &&
                 strncmp(name, "index.docker.io", 15) == 0)
                familiar = path;
        /* the path may not have upper case; the domain may */
        if (familiar != name || !has_domain) {
                if (strncmp(familiar, "library/", 8) == 0 && !strchr(familiar + 8, '/'))
                        familiar += 8;
        }
        const char *part = want_digest ? digest : tag;
        if (!part)
                return false;
        *ret_repo = xstrdup(familiar);
        *ret_part = xstrdup(part);
        return true;
}

struct repo_list {
        char *repo;
        char **items;
        size_t n;
        bool deleted;
};

static struct repo_list *repo_add(struct repo_list **v, size_t *n, const char *repo)
{
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*v)[i].repo, repo) == 0)
                        return &(*v)[i];
        *v = xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[*n] = (struct repo_list){.repo = xstrdup(repo)};
        return &(*v)[(*n)++];
}

static void repo_lists_free(struct repo_list *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].repo);
                for (size_t k = 0; k < v[i].n; k++)
                        free(v[i].items[k]);
                free(v[i].items);
        }
        free(v);
}

static int64_t get_int(const struct json *o, const char *key, int64_t dflt)
{
        const struct json *v = json_get(o, key);
        if (!json_is(v, JSON_NUMBER))
                return dflt;
        return (v->num.flags & JSON_NUM_INT) ? v->num.i : (int64_t)v->num.d;
}

static void set_buf(struct json *row, const char *key, struct berth_buf *b)
{
        json_set_str(row, key, b->data ? b->data : "");
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

static void add_image_row(struct json *rows, const struct json *img, bool no_trunc, int64_t now,
                          const char *repo, const char *tag, const char *digest)
{
        struct json *row = json_new_object();
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        int64_t containers = get_int(img, "Containers", -1);
        int64_t size = get_int(img, "Size", 0);
        int64_t shared = get_int(img, "SharedSize", -1);
        int64_t created = get_int(img, "Created", 0);
        /* keys in sorted order: {{json .}} is docker's map of the row's methods */
        if (containers == -1)
                buf_puts(&b, "N/A");
        else
                buf_printf(&b, "%lld", (long long)containers);
        set_buf(row, "Containers", &b);
        time_t tt = (time_t)created;
        struct tm tm;
        char when[96];
        localtime_r(&tt, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
        json_set_str(row, "CreatedAt", when);
        units_ago(&b, created, now);
        set_buf(row, "CreatedSince", &b);
        json_set_str(row, "Digest", digest);
        const char *id = json_str(json_get(img, "Id"));
        if (!id)
                id = "";
        _cleanup_free_ char *short_id = units_truncate_id(id);
        json_set_str(row, "ID", no_trunc ? id : short_id);
        json_set_str(row, "Repository", repo);
        if (shared == -1)
                buf_puts(&b, "N/A");
        else
                units_human_size(&b, (double)shared);
        set_buf(row, "SharedSize", &b);
        units_human_size_prec(&b, (double)size, 3);
        set_buf(row, "Size", &b);
        json_set_str(row, "Tag", tag);
        if (size == -1 || shared == -1)
                buf_puts(&b, "N/A");
        else
                units_human_size(&b, (double)(size - shared));
        set_buf(row, "UniqueSize", &b);
        units_human_size(&b, (double)size);
        set_buf(row, "VirtualSize", &b);
        json_array_append(rows, row);
}

static bool str_list_is(const struct json *a, const char *only)
{
        return json_len(a) == 1 && json_str(a->arr.items[0]) &&
               strcmp(json_str(a->arr.items[0]), only) == 0;
}

struct json *formatter_image_rows(const struct json *summaries, const char *format, bool digests,
                                  bool no_trunc, int64_t now)
{
        struct json *rows = json_new_array();
        bool need_digest = digests || strstr(format, "{{.Digest}}");
        for (size_t i = 0; json_is(summaries, JSON_ARRAY) && i < summaries->arr.n; i++) {
                const struct json *img = summaries->arr.items[i];
                const struct json *tags = json_get(img, "RepoTags");
                const struct json *dgsts = json_get(img, "RepoDigests");
                if ((json_len(tags) == 0 && json_len(dgsts) == 0) ||
                    (str_list_is(tags, "<none>:<none>") && str_list_is(dgsts, "<none>@<none>"))) {
                        add_image_row(rows, img, no_trunc, now, "<none>", "<none>", "<none>");
                        continue;
                }
                struct repo_list *rt = NULL, *rd = NULL;
                size_t nrt = 0, nrd = 0;
                for (size_t k = 0; json_is(tags, JSON_ARRAY) && k < tags->arr.n; k++) {
                        const struct json *ref = tags->arr.items[k];
                        char *repo, *part;
                        if (!json_str(ref) || !familiar_ref(json_str(ref), false, &repo, &part))
                                continue;
                        struct repo_list *l = repo_add(&rt, &nrt, repo);
                        l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
                        l->items[l->n++] = part;
                        free(repo);
                }
                for (size_t k = 0; json_is(dgsts, JSON_ARRAY) && k < dgsts->arr.n; k++) {
                        const struct json *ref = dgsts->arr.items[k];
                        char *repo, *part;
                        if (!json_str(ref) || !familiar_ref(json_str(ref), true, &repo, &part))
                                continue;
                        struct repo_list *l = repo_add(&rd, &nrd, repo);
                        l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
                        l->items[l->n++] = part;
                        free(repo);
                }
                for (size_t r = 0; r < nrt; r++) {
                        struct repo_list *d = NULL;
                        for (size_t x = 0; x < nrd; x++)
                                if (!rd[x].deleted && strcmp(rd[x].repo, rt[r].repo) == 0)
                                        d = &rd[x];
                        if (d)
                                d->deleted = true;
                        size_t nd = need_digest && d ? d->n : 0;
                        for (size_t t = 0; t < rt[r].n; t++) {
                                if (nd == 0) {
                                        add_image_row(rows, img, no_trunc, now, rt[r].repo,
                                                      rt[r].items[t], "<none>");
                                        continue;
                                }
                                for (size_t x = 0; x < nd; x++)
                                        add_image_row(rows, img, no_trunc, now, rt[r].repo,
                                                      rt[r].items[t], d->items[x]);
                        }
                }
                for (size_t x = 0; x < nrd; x++) {
                        if (rd[x].deleted)
                                continue;
                        if (digests) {
                                for (size_t y = 0; y < rd[x].n; y++)
                                        add_image_row(rows, img, no_trunc, now, rd[x].repo,
                                                      "<none>", rd[x].items[y]);
                        } else {
                                add_image_row(rows, img, no_trunc, now, rd[x].repo, "<none>", "");
                        }
                }
                repo_lists_free(rt, nrt);
                repo_lists_free(rd, nrd);
        }
        return rows;
}
