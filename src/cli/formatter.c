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
#include "base/units.h"

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

int formatter_write(const char *format, const struct json *rows, const struct json *methods,
                    const struct json *header, const char *row_type, struct berth_buf *out,
                    struct berth_error **err)
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
                const struct json *m = json_is(methods, JSON_ARRAY) && i < methods->arr.n
                                           ? methods->arr.items[i]
                                           : NULL;
                if (gotemplate_exec_typed(t, row, row_type, m, 0, &body, &e) < 0)
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
 * ParseNormalizedNamed + FamiliarName, enough for the daemon's references:
 * the familiar repository ("busybox", "localhost:5000/x") and the tag and
 * digest when present (NULL otherwise); false when the reference is invalid.
 */
static bool parse_ref(const char *ref, char **ret_repo, char **ret_tag, char **ret_digest)
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
        size_t dlen = first ? (size_t)(first - name) : 0;
        bool has_domain = first && (memchr(name, '.', dlen) || memchr(name, ':', dlen) ||
                                    (dlen == 9 && strncmp(name, "localhost", 9) == 0));
        if (has_domain)
                path = first + 1;
        /* the path may not have upper case; the domain may */
        for (const char *p = path; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        return false;
        const char *familiar = name;
        if (has_domain && ((dlen == 9 && strncmp(name, "docker.io", 9) == 0) ||
                           (dlen == 15 && strncmp(name, "index.docker.io", 15) == 0)))
                familiar = path;
        if (familiar != name || !has_domain) {
                if (strncmp(familiar, "library/", 8) == 0 && !strchr(familiar + 8, '/'))
                        familiar += 8;
        }
        *ret_repo = xstrdup(familiar);
        *ret_tag = tag ? xstrdup(tag) : NULL;
        *ret_digest = digest ? xstrdup(digest) : NULL;
        return true;
}

/* The familiar repository and the tag (or digest, want_digest) of ref, when it has one. */
static bool familiar_ref(const char *ref, bool want_digest, char **ret_repo, char **ret_part)
{
        char *repo, *tag, *digest;
        if (!parse_ref(ref, &repo, &tag, &digest))
                return false;
        char *part = want_digest ? digest : tag;
        free(want_digest ? tag : digest);
        if (!part) {
                free(repo);
                return false;
        }
        *ret_repo = repo;
        *ret_part = part;
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

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_buf(struct json *row, const char *key, struct berth_buf *b)
{
        json_set_str(row, key, b->data ? b->data : "");
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

/* Go's time.Time.String() of a Unix time in local time: "2006-01-02 15:04:05 -0700 MST". */
static void go_time_string(struct berth_buf *b, int64_t unix_time)
{
        time_t tt = (time_t)unix_time;
        struct tm tm;
        char zone[64];
        localtime_r(&tt, &tm);
        units_go_date_time(b, &tm, ' ');
        strftime(zone, sizeof(zone), " %z %Z", &tm);
        buf_puts(b, zone);
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
        go_time_string(&b, created);
        set_buf(row, "CreatedAt", &b);
        /* docker leaves CreatedSince empty for the zero time (its table then says N/A) */
        if (created != UNITS_GO_ZERO_TIME)
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

/* ---------------------------------------------------------- containers */

#define CONTAINER_TABLE                                                                            \
        "table "                                                                                   \
        "{{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t"      \
        "{{.Names}}"

char *formatter_container_format(const char *source, bool quiet, bool size)
{
        if (!source || !*source || strcmp(source, "table") == 0) {
                if (quiet)
                        return xstrdup("{{.ID}}");
                return xstrdup(size ? CONTAINER_TABLE "\\t{{.Size}}" : CONTAINER_TABLE);
        }
        if (strcmp(source, "raw") == 0) {
                if (quiet)
                        return xstrdup("container_id: {{.ID}}");
                return xasprintf("container_id: {{.ID}}\nimage: {{.Image}}\ncommand: "
                                 "{{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State "
                                 "1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: "
                                 "{{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n%s",
                                 size ? "size: {{.Size}}\\n" : "");
        }
        if (quiet)
                return xstrdup("{{.ID}}");
        return xstrdup(source);
}

struct json *formatter_container_header(void)
{
        static const char *const h[][2] = {
            {"ID", "CONTAINER ID"},
            {"Names", "NAMES"},
            {"Image", "IMAGE"},
            {"Command", "COMMAND"},
            {"CreatedAt", "CREATED AT"},
            {"RunningFor", "CREATED"},
            {"Ports", "PORTS"},
            {"State", "STATE"},
            {"Status", "STATUS"},
            {"Size", "SIZE"},
            {"Labels", "LABELS"},
            {"Mounts", "MOUNTS"},
            {"LocalVolumes", "LOCAL VOLUMES"},
            {"Networks", "NETWORKS"},
            {"Platform", "PLATFORM"},
        };
        struct json *o = json_new_object();
        for (size_t i = 0; i < ELEMENTSOF(h); i++)
                json_set_str(o, h[i][0], h[i][1]);
        return o;
}

/* Decode one UTF-8 rune; invalid bytes are U+FFFD of length 1. */
static size_t next_rune(const char *s, size_t len, uint32_t *r)
{
        unsigned char c = (unsigned char)s[0];
        size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (n == 0 || n > len) {
                *r = 0xfffd;
                return 1;
        }
        uint32_t v = n == 1 ? c : c & (0x3f >> (n - 1));
        for (size_t i = 1; i < n; i++) {
                if (((unsigned char)s[i] & 0xc0) != 0x80) {
                        *r = 0xfffd;
                        return 1;
                }
                v = (v << 6) | ((unsigned char)s[i] & 0x3f);
        }
        *r = v;
        return n;
}

/* docker's formatter.Ellipsis: fit s in max display columns, ending with "…". */
static char *ellipsis(const char *s, int max)
{
        size_t len = strlen(s);
        if (max <= 0)
                return xstrdup("");
        size_t runes = 0;
        for (size_t i = 0; i < len;) {
                uint32_t r;
                i += next_rune(s + i, len - i, &r);
                runes++;
        }
        if (max == 1) {
                uint32_t r;
                return xstrndup(s, len ? next_rune(s, len, &r) : 0);
        }
        if (runes == len) {
                if (len <= (size_t)max)
                        return xstrdup(s);
                return xasprintf("%.*s\xe2\x80\xa6", max - 1, s);
        }
        size_t total = 0;
        for (size_t i = 0; i < len;) {
                uint32_t r;
                i += next_rune(s + i, len - i, &r);
                total += tabwriter_rune_is_wide(r) ? 2 : 1;
        }
        if (total <= (size_t)max)
                return xstrdup(s);
        size_t width = 0, i = 0;
        while (i < len) {
                uint32_t r;
                size_t n = next_rune(s + i, len - i, &r);
                size_t w = tabwriter_rune_is_wide(r) ? 2 : 1;
                if (width + w > (size_t)max - 1)
                        break;
                width += w;
                i += n;
        }
        return xasprintf("%.*s\xe2\x80\xa6", (int)i, s);
}

struct port {
        const char *ip, *type;
        int64_t priv, pub;
};

static int cmp_port(const void *a, const void *b)
{
        const struct port *x = a, *y = b;
        if (x->priv != y->priv)
                return x->priv < y->priv ? -1 : 1;
        int r = strcmp(x->ip, y->ip);
        if (r)
                return r;
        if (x->pub != y->pub)
                return x->pub < y->pub ? -1 : 1;
        return strcmp(x->type, y->type);
}

static void host_port(struct berth_buf *b, const char *ip, const char *port)
{
        if (strchr(ip, ':'))
                buf_printf(b, "[%s]:%s", ip, port);
        else
                buf_printf(b, "%s:%s", ip, port);
}

/* formGroup: "80/tcp", "80-81/tcp", "0.0.0.0:80-81->80-81/tcp" */
static void form_group(struct berth_buf *b, const char *key, int64_t first, int64_t last)
{
        const char *slash = strrchr(key, '/');
        _cleanup_free_ char *ip = slash ? xstrndup(key, (size_t)(slash - key)) : NULL;
        const char *type = slash ? slash + 1 : key;
        _cleanup_free_ char *group =
            first == last ? xasprintf("%lld", (long long)first)
                          : xasprintf("%lld-%lld", (long long)first, (long long)last);
        if (ip && *ip) {
                host_port(b, ip, group);
                buf_printf(b, "->%s", group);
        } else {
                buf_puts(b, group);
        }
        buf_printf(b, "/%s", type);
}

struct port_group {
        char *key;
        int64_t first, last;
};

char *formatter_ports(const struct json *ports)
{
        size_t n = json_is(ports, JSON_ARRAY) ? ports->arr.n : 0;
        struct port *p = xcalloc(n + 1, sizeof(*p));
        for (size_t i = 0; i < n; i++) {
                const struct json *o = ports->arr.items[i];
                const char *ip = json_str(json_get(o, "IP")), *type = json_str(json_get(o, "Type"));
                p[i] = (struct port){ip ? ip : "", type ? type : "", get_int(o, "PrivatePort", 0),
                                     get_int(o, "PublicPort", 0)};
        }
        qsort(p, n, sizeof(*p), cmp_port);
        struct port_group *groups = xcalloc(n + 1, sizeof(*groups));
        size_t ngroups = 0;
        _cleanup_buf_ struct berth_buf result = BERTH_BUF_INIT, hosts = BERTH_BUF_INIT;
        buf_append(&result, "", 0);
        for (size_t i = 0; i < n; i++) {
                char *key;
                if (*p[i].ip) {
                        if (p[i].pub != p[i].priv) {
                                _cleanup_free_ char *port = xasprintf("%lld", (long long)p[i].pub);
                                if (hosts.len)
                                        buf_puts(&hosts, ", ");
                                host_port(&hosts, p[i].ip, port);
                                buf_printf(&hosts, "->%lld/%s", (long long)p[i].priv, p[i].type);
                                continue;
                        }
                        key = xasprintf("%s/%s", p[i].ip, p[i].type);
                } else {
                        key = xstrdup(p[i].type);
                }
                struct port_group *g = NULL;
                for (size_t k = 0; k < ngroups; k++)
                        if (strcmp(groups[k].key, key) == 0)
                                g = &groups[k];
                if (!g) {
                        groups[ngroups++] = (struct port_group){key, p[i].priv, p[i].priv};
                        continue;
                }
                free(key);
                if (p[i].priv == g->last + 1) {
                        g->last = p[i].priv;
                        continue;
                }
                if (result.len)
                        buf_puts(&result, ", ");
                form_group(&result, g->key, g->first, g->last);
                g->first = g->last = p[i].priv;
        }
        for (size_t k = 0; k < ngroups; k++) {
                if (result.len)
                        buf_puts(&result, ", ");
                form_group(&result, groups[k].key, groups[k].first, groups[k].last);
                free(groups[k].key);
        }
        if (hosts.len) {
                if (result.len)
                        buf_puts(&result, ", ");
                buf_append(&result, hosts.data, hosts.len);
        }
        free(groups);
        free(p);
        return buf_steal(&result);
}

static char *container_image(const struct json *c, bool trunc)
{
        const char *image = json_str(json_get(c, "Image"));
        if (!image || !*image)
                return xstrdup("<no image>");
        if (!trunc)
                return xstrdup(image);
        const char *image_id = json_str(json_get(c, "ImageID"));
        _cleanup_free_ char *t1 = units_truncate_id(image_id ? image_id : "");
        _cleanup_free_ char *t2 = units_truncate_id(image);
        if (strcmp(t1, t2) == 0)
                return TAKE_PTR(t1);
        char *repo, *tag, *digest;
        if (!parse_ref(image, &repo, &tag, &digest))
                return xstrdup(image);
        char *res = tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        free(repo);
        free(tag);
        free(digest);
        return res;
}

static void add_container_row(struct json *rows, struct json *methods, const struct json *c,
                              bool trunc, int64_t now)
{
        struct json *row = json_new_object();
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        /* Command */
        const char *cmd = json_str(json_get(c, "Command"));
        _cleanup_free_ char *cut = trunc ? ellipsis(cmd ? cmd : "", 20) : xstrdup(cmd ? cmd : "");
        gotemplate_quote(&b, cut, strlen(cut));
        set_buf(row, "Command", &b);
        int64_t created = get_int(c, "Created", 0);
        go_time_string(&b, created);
        set_buf(row, "CreatedAt", &b);
        const char *id = json_str(json_get(c, "Id"));
        _cleanup_free_ char *short_id = units_truncate_id(id ? id : "");
        json_set_str(row, "ID", trunc ? short_id : (id ? id : ""));
        _cleanup_free_ char *image = container_image(c, trunc);
        json_set_str(row, "Image", image);
        /* Labels: sorted k=v */
        const struct json *labels = json_get(c, "Labels");
        if (json_is(labels, JSON_OBJECT)) {
                char **kv = xcalloc(labels->obj.n + 1, sizeof(*kv));
                for (size_t i = 0; i < labels->obj.n; i++) {
                        const char *v = json_str(labels->obj.m[i].value);
                        kv[i] = xasprintf("%s=%s", labels->obj.m[i].key, v ? v : "");
                }
                qsort(kv, labels->obj.n, sizeof(*kv), cmp_str);
                for (size_t i = 0; i < labels->obj.n; i++) {
                        if (i)
                                buf_putc(&b, ',');
                        buf_puts(&b, kv[i]);
                }
                strv_free(kv);
        }
        set_buf(row, "Labels", &b);
        const struct json *mounts = json_get(c, "Mounts");
        size_t local = 0;
        for (size_t i = 0; json_is(mounts, JSON_ARRAY) && i < mounts->arr.n; i++) {
                const struct json *m = mounts->arr.items[i];
                const char *name = json_str(json_get(m, "Name"));
                if (!name || !*name)
                        name = json_str(json_get(m, "Source"));
                _cleanup_free_ char *nm =
                    trunc ? ellipsis(name ? name : "", 15) : xstrdup(name ? name : "");
                if (i)
                        buf_putc(&b, ',');
                buf_puts(&b, nm);
                const char *driver = json_str(json_get(m, "Driver"));
                if (driver && strcmp(driver, "local") == 0)
                        local++;
        }
        _cleanup_free_ char *lv = xasprintf("%zu", local);
        json_set_str(row, "LocalVolumes", lv);
        set_buf(row, "Mounts", &b);
        /* Names: without the leading "/"; truncated to the first non-link name */
        const struct json *names = json_get(c, "Names");
        size_t nn = json_is(names, JSON_ARRAY) ? names->arr.n : 0;
        const char *only = NULL;
        for (size_t i = 0; trunc && i < nn; i++) {
                const char *nm = json_str(names->arr.items[i]);
                if (nm && *nm && !strchr(nm + 1, '/')) {
                        only = nm + 1;
                        break;
                }
        }
        if (only) {
                buf_puts(&b, only);
        } else {
                for (size_t i = 0; i < nn; i++) {
                        const char *nm = json_str(names->arr.items[i]);
                        if (i)
                                buf_putc(&b, ',');
                        buf_puts(&b, nm && *nm ? nm + 1 : "");
                }
        }
        set_buf(row, "Names", &b);
        const struct json *nets = json_get(json_get(c, "NetworkSettings"), "Networks");
        for (size_t i = 0; json_is(nets, JSON_OBJECT) && i < nets->obj.n; i++) {
                if (i)
                        buf_putc(&b, ',');
                buf_puts(&b, nets->obj.m[i].key);
        }
        set_buf(row, "Networks", &b);
        json_object_set(row, "Platform", json_new_null());
        _cleanup_free_ char *ports = formatter_ports(json_get(c, "Ports"));
        json_set_str(row, "Ports", ports);
        units_ago(&b, created, now);
        set_buf(row, "RunningFor", &b);
        int64_t rw = get_int(c, "SizeRw", 0), rootfs = get_int(c, "SizeRootFs", 0);
        units_human_size_prec(&b, (double)rw, 3);
        if (rootfs > 0) {
                buf_puts(&b, " (virtual ");
                units_human_size_prec(&b, (double)rootfs, 3);
                buf_putc(&b, ')');
        }
        set_buf(row, "Size", &b);
        const char *state = json_str(json_get(c, "State")),
                   *status = json_str(json_get(c, "Status"));
        json_set_str(row, "State", state ? state : "");
        json_set_str(row, "Status", status ? status : "");
        json_array_append(rows, row);
        struct json *m = json_new_object();
        json_object_set(m, "Label",
                        json_is(labels, JSON_OBJECT) ? json_copy(labels) : json_new_object());
        json_array_append(methods, m);
}

struct json *formatter_container_rows(const struct json *summaries, bool no_trunc, int64_t now,
                                      struct json **ret_methods)
{
        struct json *rows = json_new_array(), *methods = json_new_array();
        for (size_t i = 0; json_is(summaries, JSON_ARRAY) && i < summaries->arr.n; i++)
                add_container_row(rows, methods, summaries->arr.items[i], !no_trunc, now);
        *ret_methods = methods;
        return rows;
}

int formatter_container_check(const char *format, bool *ret_uses_size, struct berth_error **err)
{
        _cleanup_gotemplate_ struct gotemplate *t = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (gotemplate_parse(format, &t, &e) < 0)
                return berth_error_set(err, EINVAL, "failed to parse template: %s", e->msg);
        _cleanup_json_ struct json *empty = json_new_array();
        json_array_append(empty, json_new_object());
        _cleanup_json_ struct json *methods = NULL;
        _cleanup_json_ struct json *rows = formatter_container_rows(empty, false, 0, &methods);
        _cleanup_buf_ struct berth_buf sink = BERTH_BUF_INIT;
        if (gotemplate_exec_typed(t, rows->arr.items[0], FORMATTER_CONTAINER_ROW_TYPE,
                                  methods->arr.items[0], 0, &sink, &e) < 0)
                return berth_error_set(err, EINVAL, "failed to execute template: %s", e->msg);
        if (ret_uses_size)
                *ret_uses_size = strstr(format, ".Size") != NULL;
        return 0;
}
