/*
 * cmd-network.c — `berth network` create, ls (list), inspect, rm (remove),
 * connect, disconnect and prune, as docker CLI 28 runs them against a daemon
 * of API 1.41.
 *
 * Each is one or two Engine API calls (POST /networks/create, GET /networks,
 * GET /networks/{id}, DELETE /networks/{id}, POST /networks/{id}/connect and
 * /disconnect, POST /networks/prune), with docker's client-side checks first:
 *   - create consolidates --subnet, --ip-range, --gateway and --aux-address
 *     as docker's createIPAMConfig does (its errors word for word, in its
 *     order: a lone bad subnet is left to the daemon, as docker leaves it) and
 *     sends docker's network.CreateRequest, CheckDuplicate included below API
 *     1.44.  docker keeps the subnets in a Go map, so its IPAM.Config order is
 *     random with several subnets; here it is the order given;
 *   - ls sorts by name (sortorder.NaturalLess) and renders docker's
 *     networkContext rows through formatter.h (table, json, templates,
 *     {{.Label "k"}}, the config file's "networksFormat"); CreatedAt is Go's
 *     time.Time.String() of the daemon's RFC 3339 time;
 *   - inspect prints the daemon's bytes (indented, or compacted for json); a
 *     template runs first over docker's network.Inspect struct (field order,
 *     the EnableIPv4 a 1.41 daemon leaves out, .ID) and, when that fails, over
 *     the raw JSON with missingkey=error, as docker's TemplateInspector does.
 *     The struct's Created stays its RFC 3339 text, so {{.Created}} prints
 *     that where docker prints Go's time.String() (and {{json .}} agrees);
 *   - rm asks before removing an ingress network, prints each error as it
 *     happens and ends with docker's "exit status 1";
 *   - prune asks unless -f, and prints "Deleted Networks:" and the ids.
 * The generic `berth inspect` uses network_inspect_template() for networks.
 *
 * Never: send a filter, label or option the user did not give, or remove a
 * network the user did not name (or confirm, for prune and ingress).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/http.h"
#include "base/units.h"
#include "container-cmd.h"
#include "container-opts.h"
#include "filter-flag.h"
#include "formatter.h"
#include "gotemplate.h"
#include "prune.h"

/* One request whose 2xx reply is parsed into *ret (may be NULL); a daemon error is printed
 * as docker prints it.  Returns 0, or the exit code. */
static int net_call(struct cli_ctx *ctx, struct cli_client *c, const char *method, const char *path,
                    const char *query, const struct json *body, struct json **ret)
{
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_request(c, method, path, query, body, &resp, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status / 100 != 2) {
                _cleanup_free_ char *m = container_daemon_error(&resp);
                fprintf(ctx->err, "%s\n", m);
                cli_response_release(&resp);
                return 1;
        }
        int r = 0;
        if (ret && json_parse(resp.body, resp.len, ret, &err) < 0) {
                fprintf(ctx->err, "berth: bad %s reply from the daemon: %s\n", path,
                        berth_error_msg(err));
                r = 1;
        }
        cli_response_release(&resp);
        return r;
}

/* docker's client trims names (strings.TrimSpace); an empty one is its emptyIDError. */
static char *trim_id(const char *kind, const char *s, char **ret_msg)
{
        while (*s && isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
                n--;
        if (!n) {
                *ret_msg = xasprintf("invalid %s name or ID: value is empty", kind);
                return NULL;
        }
        return xstrndup(s, n);
}

/* "/networks/<name><suffix>" for a trimmed name, or NULL after printing docker's error. */
static char *network_path(struct cli_ctx *ctx, const char *name, const char *suffix)
{
        _cleanup_free_ char *msg = NULL;
        _cleanup_free_ char *id = trim_id("network", name, &msg);
        if (!id) {
                fprintf(ctx->err, "%s\n", msg);
                return NULL;
        }
        return container_api_path("/networks/", id, suffix);
}

/* ---- Go's net.ParseCIDR / ParseIP / IPNet.Contains, as far as docker's checks use them */

struct ipnet {
        unsigned char addr[16];
        int len; /* 4 or 16 */
        int bits;
};

static bool parse_ip(const char *s, unsigned char *addr, int *len)
{
        if (strchr(s, ':')) {
                if (inet_pton(AF_INET6, s, addr) != 1)
                        return false;
                static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};
                if (memcmp(addr, v4mapped, 12) == 0) {
                        memmove(addr, addr + 12, 4);
                        *len = 4;
                } else {
                        *len = 16;
                }
                return true;
        }
        *len = 4;
        return inet_pton(AF_INET, s, addr) == 1;
}

/* 0, or -EINVAL (Go's message is "invalid CIDR address: <s>") */
static int parse_cidr(const char *s, struct ipnet *ret)
{
        const char *slash = strchr(s, '/');
        if (!slash || slash == s || !slash[1] || strlen(slash + 1) > 8)
                return -EINVAL;
        _cleanup_free_ char *a = xstrndup(s, (size_t)(slash - s));
        if (!parse_ip(a, ret->addr, &ret->len))
                return -EINVAL;
        /* an IPv4-mapped IPv6 prefix counts as IPv6 bits */
        int max = strchr(a, ':') ? 128 : 32;
        int bits = 0;
        for (const char *p = slash + 1; *p; p++) {
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                bits = bits * 10 + (*p - '0');
        }
        if (bits > max)
                return -EINVAL;
        if (max == 128 && ret->len == 4)
                bits = bits >= 96 ? bits - 96 : 0;
        ret->bits = bits;
        return 0;
}

static bool ipnet_contains(const struct ipnet *n, const unsigned char *addr, int len)
{
        if (len != n->len)
                return false;
        for (int i = 0; i < n->bits; i++) {
                unsigned char m = (unsigned char)(0x80 >> (i % 8));
                if ((addr[i / 8] & m) != (n->addr[i / 8] & m))
                        return false;
        }
        return true;
}

/* docker's subnetMatches(subnet, data): 1, 0, or <0 with the message in *ret_msg. */
static int subnet_matches(const char *subnet, const char *data, char **ret_msg)
{
        struct ipnet n;
        if (parse_cidr(subnet, &n) < 0) {
                *ret_msg = xasprintf("invalid subnet: invalid CIDR address: %s", subnet);
                return -EINVAL;
        }
        unsigned char addr[16];
        int len = 0;
        if (strchr(data, '/')) {
                struct ipnet d;
                if (parse_cidr(data, &d) < 0) {
                        *ret_msg = xasprintf("invalid CIDR address: %s", data);
                        return -EINVAL;
                }
                memcpy(addr, d.addr, sizeof(addr));
                len = d.len;
        } else if (!parse_ip(data, addr, &len)) {
                return 0; /* net.ParseIP's nil is in no network */
        }
        return ipnet_contains(&n, addr, len);
}

/* ---- create ---- */

/* pflag's StringSlice: every value is a CSV record; all of them in one array. */
static struct json *string_slice(const struct cli_flagset *fs, const char *name)
{
        struct json *a = json_new_array();
        char **list = cli_flag_list(fs, name);
        for (size_t i = 0; list && list[i]; i++) {
                char **fields = NULL;
                if (container_csv_fields(list[i], &fields, NULL) < 0)
                        continue; /* the validator refused it already */
                for (size_t k = 0; fields[k]; k++)
                        json_array_append(a, json_new_string(fields[k]));
                strv_free(fields);
        }
        return a;
}

static char *check_csv(const char *v)
{
        char **fields = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_csv_fields(v, &fields, &err) < 0)
                return xstrdup(berth_error_msg(err));
        strv_free(fields);
        return NULL;
}

/* docker's MapOpts: "k=v" (or "k" for "k":""), the last value of a key wins. */
static struct json *map_opts(const struct cli_flagset *fs, const char *name)
{
        struct json *m = json_new_object();
        char **list = cli_flag_list(fs, name);
        for (size_t i = 0; list && list[i]; i++) {
                _cleanup_free_ char *k = xstrdup(list[i]);
                char *eq = strchr(k, '=');
                if (eq)
                        *eq++ = '\0';
                json_object_del(m, k);
                json_object_set(m, k, json_new_string(eq ? eq : ""));
        }
        return m;
}

static const char *item(const struct json *a, size_t i)
{
        return json_str(a->arr.items[i]) ?: "";
}

/* docker's createIPAMConfig: the IPAM.Config array, or NULL with docker's message. */
static struct json *ipam_config(const struct cli_flagset *fs, char **ret_msg)
{
        _cleanup_json_ struct json *subnets = string_slice(fs, "subnet");
        _cleanup_json_ struct json *ranges = string_slice(fs, "ip-range");
        _cleanup_json_ struct json *gateways = string_slice(fs, "gateway");
        _cleanup_json_ struct json *aux = map_opts(fs, "aux-address");
        size_t ns = json_len(subnets);
        if (ns < json_len(ranges) || ns < json_len(gateways)) {
                *ret_msg = xstrdup("every ip-range or gateway must have a corresponding subnet");
                return NULL;
        }
        _cleanup_json_ struct json *cfg = json_new_array();
        for (size_t i = 0; i < ns; i++) {
                const char *s = item(subnets, i);
                for (size_t k = 0; k < json_len(cfg); k++) {
                        const char *o = json_str(json_get(cfg->arr.items[k], "Subnet"));
                        int a = subnet_matches(s, o, ret_msg);
                        if (a < 0)
                                return NULL;
                        int b = subnet_matches(o, s, ret_msg);
                        if (b < 0)
                                return NULL;
                        if (a || b) {
                                *ret_msg = xstrdup("multiple overlapping subnet configuration is "
                                                   "not supported");
                                return NULL;
                        }
                }
                struct json *one = json_array_append(cfg, json_new_object());
                json_set_str(one, "Subnet", s);
        }
        static const struct {
                const char *key, *what;
        } parts[] = {{"IPRange", "range"}, {"Gateway", "gateway"}};
        const struct json *lists[] = {ranges, gateways};
        for (size_t p = 0; p < ELEMENTSOF(parts); p++) {
                for (size_t r = 0; r < json_len(lists[p]); r++) {
                        const char *v = item(lists[p], r);
                        bool match = false;
                        for (size_t i = 0; i < ns; i++) {
                                struct ipnet scratch;
                                if (p == 0 && parse_cidr(v, &scratch) < 0) {
                                        *ret_msg = xasprintf("invalid CIDR address: %s", v);
                                        return NULL;
                                }
                                int m = subnet_matches(item(subnets, i), v, ret_msg);
                                if (m < 0)
                                        return NULL;
                                if (!m)
                                        continue;
                                struct json *one = cfg->arr.items[i];
                                const char *had = json_str(json_get(one, parts[p].key));
                                if (had) {
                                        *ret_msg =
                                            p == 0 ? xasprintf("cannot configure multiple ranges "
                                                               "(%s, %s) on the same subnet (%s)",
                                                               v, had, item(subnets, i))
                                                   : xasprintf("cannot configure multiple "
                                                               "gateways (%s, %s) for the same "
                                                               "subnet (%s)",
                                                               v, had, item(subnets, i));
                                        return NULL;
                                }
                                json_set_str(one, parts[p].key, v);
                                match = true;
                        }
                        if (!match) {
                                *ret_msg =
                                    xasprintf("no matching subnet for %s %s", parts[p].what, v);
                                return NULL;
                        }
                }
        }
        size_t i;
        const char *key;
        struct json *val;
        json_object_foreach (aux, i, key, val) {
                const char *aa = json_str(val);
                bool match = false;
                for (size_t k = 0; k < ns; k++) {
                        int m = subnet_matches(item(subnets, k), aa, ret_msg);
                        if (m < 0)
                                return NULL;
                        if (!m)
                                continue;
                        struct json *one = cfg->arr.items[k];
                        struct json *am = json_get(one, "AuxiliaryAddresses");
                        if (!am)
                                am = json_object_set(one, "AuxiliaryAddresses", json_new_object());
                        json_object_set(am, key, json_new_string(aa));
                        match = true;
                }
                if (!match) {
                        *ret_msg = xasprintf("no matching subnet for aux-address %s", aa);
                        return NULL;
                }
        }
        return TAKE_PTR(cfg);
}

static int run_create(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        _cleanup_free_ char *msg = NULL;
        _cleanup_json_ struct json *cfg = ipam_config(fs, &msg);
        if (!cfg) {
                fprintf(ctx->err, "%s\n", msg);
                return 1;
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        /* network.CreateRequest: CreateOptions in field order, then Name, CheckDuplicate */
        _cleanup_json_ struct json *body = json_new_object();
        json_set_str(body, "Driver", cli_flag_string(fs, "driver") ?: "");
        json_set_str(body, "Scope", cli_flag_string(fs, "scope") ?: "");
        if (cli_flag_is_set(fs, "ipv4"))
                json_set_bool(body, "EnableIPv4", cli_flag_bool(fs, "ipv4"));
        if (cli_flag_is_set(fs, "ipv6"))
                json_set_bool(body, "EnableIPv6", cli_flag_bool(fs, "ipv6"));
        struct json *ipam = json_object_set(body, "IPAM", json_new_object());
        json_set_str(ipam, "Driver", cli_flag_string(fs, "ipam-driver") ?: "");
        json_object_set(ipam, "Options", map_opts(fs, "ipam-opt"));
        json_object_set(ipam, "Config", TAKE_PTR(cfg));
        json_set_bool(body, "Internal", cli_flag_bool(fs, "internal"));
        json_set_bool(body, "Attachable", cli_flag_bool(fs, "attachable"));
        json_set_bool(body, "Ingress", cli_flag_bool(fs, "ingress"));
        json_set_bool(body, "ConfigOnly", cli_flag_bool(fs, "config-only"));
        const char *from = cli_flag_string(fs, "config-from");
        if (from && *from)
                json_set_str(json_object_set(body, "ConfigFrom", json_new_object()), "Network",
                             from);
        else
                json_object_set(body, "ConfigFrom", json_new_null());
        json_object_set(body, "Options", map_opts(fs, "opt"));
        struct json *labels = json_object_set(body, "Labels", json_new_object());
        char **ll = cli_flag_list(fs, "label");
        for (size_t i = 0; ll && ll[i]; i++) {
                _cleanup_free_ char *k = xstrdup(ll[i]);
                char *eq = strchr(k, '=');
                if (eq)
                        *eq++ = '\0';
                json_object_del(labels, k);
                json_object_set(labels, k, json_new_string(eq ? eq : ""));
        }
        json_set_str(body, "Name", fs->args[0]);
        if (api_version_compare(c->api_version, "1.44") < 0)
                json_set_bool(body, "CheckDuplicate", true);
        _cleanup_json_ struct json *resp = NULL;
        int code = net_call(ctx, c, "POST", "/networks/create", NULL, body, &resp);
        if (code)
                return code;
        fprintf(ctx->out, "%s\n", json_str(json_get(resp, "Id")) ?: "");
        return 0;
}

/* ---- ls ---- */

/*
 * Go's time.Time.String() of a time as encoding/json decodes it from RFC 3339: "Z" is UTC,
 * an offset that is the local zone's at that time takes its name, any other is a zone
 * without one ("+0200 +0200").  Text that is not RFC 3339 is returned as it is.
 */
static void network_go_time(struct berth_buf *b, const char *text)
{
        struct tm tm = {0};
        const char *p = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
        if (!p) {
                buf_puts(b, text ? text : "");
                return;
        }
        const char *frac = "";
        size_t nfrac = 0;
        if (*p == '.') {
                frac = ++p;
                while (isdigit((unsigned char)*p))
                        p++;
                nfrac = (size_t)(p - frac);
                while (nfrac && frac[nfrac - 1] == '0')
                        nfrac--;
        }
        units_go_date_time(b, &tm, ' ');
        if (nfrac)
                buf_printf(b, ".%.*s", (int)nfrac, frac);
        if (*p == 'Z' || !*p) {
                buf_puts(b, " +0000 UTC");
                return;
        }
        int sign = *p == '-' ? -1 : 1;
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) {
                buf_puts(b, " +0000 UTC");
                return;
        }
        long off = sign * (hh * 3600L + mm * 60L);
        /* the instant, to ask the local zone its offset then */
        struct tm utc = tm;
        time_t t = timegm(&utc) - off;
        struct tm local;
        char zone[64] = "";
        localtime_r(&t, &local);
        buf_printf(b, " %c%02d%02d ", sign < 0 ? '-' : '+', hh, mm);
        if (local.tm_gmtoff == off && strftime(zone, sizeof(zone), "%Z", &local) && *zone)
                buf_puts(b, zone);
        else
                buf_printf(b, "%c%02d%02d", sign < 0 ? '-' : '+', hh, mm);
}

static const char *net_name(const struct json *n)
{
        return json_str(json_get(n, "Name")) ?: "";
}

static int cmp_networks(const void *pa, const void *pb)
{
        const char *a = net_name(*(struct json *const *)pa);
        const char *b = net_name(*(struct json *const *)pb);
        return container_natural_cmp(&a, &b);
}

static const char *go_bool(const struct json *j)
{
        return json_is(j, JSON_BOOL) && j->b ? "true" : "false";
}

/* docker's networkContext: its methods' values, keys sorted (what {{json .}} prints). */
static struct json *network_row(const struct json *n, bool trunc, struct json *methods)
{
        struct json *row = json_new_object();
        _cleanup_buf_ struct berth_buf b = BERTH_BUF_INIT;
        buf_append(&b, "", 0);
        network_go_time(&b, json_str(json_get(n, "Created")) ?: "0001-01-01T00:00:00Z");
        json_set_str(row, "CreatedAt", b.data);
        json_set_str(row, "Driver", json_str(json_get(n, "Driver")) ?: "");
        const char *id = json_str(json_get(n, "Id")) ?: "";
        _cleanup_free_ char *short_id = units_truncate_id(id);
        json_set_str(row, "ID", trunc ? short_id : id);
        json_set_str(row, "IPv4", go_bool(json_get(n, "EnableIPv4")));
        json_set_str(row, "IPv6", go_bool(json_get(n, "EnableIPv6")));
        json_set_str(row, "Internal", go_bool(json_get(n, "Internal")));
        /* Labels: "k=v" joined by commas (docker ranges over a Go map: any order) */
        b.len = 0;
        b.data[0] = '\0';
        const struct json *labels = json_get(n, "Labels");
        size_t i;
        const char *k;
        struct json *val;
        json_object_foreach (labels, i, k, val)
                buf_printf(&b, "%s%s=%s", i ? "," : "", k, json_str(val) ?: "");
        json_set_str(row, "Labels", b.data);
        json_set_str(row, "Name", net_name(n));
        json_set_str(row, "Scope", json_str(json_get(n, "Scope")) ?: "");
        struct json *m = json_array_append(methods, json_new_object());
        json_object_set(m, "Label",
                        json_is(labels, JSON_OBJECT) ? json_copy(labels) : json_new_object());
        return row;
}

static struct json *network_header(void)
{
        static const char *const cols[][2] = {
            {"CreatedAt", "CREATED AT"},
            {"Driver", "DRIVER"},
            {"ID", "NETWORK ID"},
            {"IPv4", "IPV4"},
            {"IPv6", "IPV6"},
            {"Internal", "INTERNAL"},
            {"Labels", "LABELS"},
            {"Name", "NAME"},
            {"Scope", "SCOPE"},
        };
        struct json *h = json_new_object();
        for (size_t i = 0; i < ELEMENTSOF(cols); i++)
                json_set_str(h, cols[i][0], cols[i][1]);
        return h;
}

/* docker's network NewFormat */
static char *network_format(const char *source, bool quiet)
{
        if (strcmp(source, "table") == 0)
                return xstrdup(quiet ? "{{.ID}}"
                                     : "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}");
        if (strcmp(source, "raw") == 0)
                return xstrdup(quiet ? "network_id: {{.ID}}"
                                     : "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: "
                                       "{{.Driver}}\\nscope: {{.Scope}}\\n");
        return xstrdup(source);
}

static int run_ls(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        bool quiet = cli_flag_bool(fs, "quiet");
        _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
        buf_append(&q, "", 0);
        cli_filters_query(&q, cli_flag_list(fs, "filter"), NULL, NULL);
        _cleanup_json_ struct json *list = NULL;
        int code = net_call(ctx, c, "GET", "/networks", q.len ? q.data : NULL, NULL, &list);
        if (code)
                return code;
        const char *given = cli_flag_string(fs, "format");
        _cleanup_free_ char *cfg = NULL;
        const char *source = given && *given ? given : NULL;
        if (!source && !quiet)
                source = cfg = container_config_key("networksFormat");
        if (source && !*source)
                source = NULL;
        _cleanup_free_ char *format = network_format(source ? source : "table", quiet);
        if (json_is(list, JSON_ARRAY) && list->arr.n > 1)
                qsort(list->arr.items, list->arr.n, sizeof(*list->arr.items), cmp_networks);
        bool trunc = !cli_flag_bool(fs, "no-trunc");
        _cleanup_json_ struct json *rows = json_new_array();
        _cleanup_json_ struct json *methods = json_new_array();
        size_t i;
        struct json *n;
        json_array_foreach (list, i, n)
                json_array_append(rows, network_row(n, trunc, methods));
        _cleanup_json_ struct json *header = network_header();
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        _cleanup_error_ struct berth_error *err = NULL;
        if (formatter_write(format, rows, methods, header, "*network.networkContext", &out, &err) <
            0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (out.len)
                fwrite(out.data, 1, out.len, ctx->out);
        return 0;
}

/* ---- inspect ---- */

struct typed {
        struct json *zero[64];
        struct gotemplate_object obj[64];
        size_t n;
};

static void typed_add(struct typed *t, const struct json *o, const char *type, struct json *zero)
{
        if (t->n == ELEMENTSOF(t->obj) || !json_is(o, JSON_OBJECT)) {
                json_free(zero);
                return;
        }
        t->zero[t->n] = zero;
        t->obj[t->n++] = (struct gotemplate_object){o, type, zero};
}

static void typed_release(struct typed *t)
{
        for (size_t i = 0; i < t->n; i++)
                json_free(t->zero[i]);
        t->n = 0;
}

/* A copy of key's value in raw, or the zero value given as JSON text. */
static struct json *field(const struct json *raw, const char *key, const char *zero)
{
        const struct json *v = json_get(raw, key);
        if (v)
                return json_copy(v);
        struct json *z = NULL;
        (void)json_parse(zero, strlen(zero), &z, NULL);
        return z;
}

/*
 * The daemon's network as docker's network.Inspect encodes it again: its fields in order,
 * those a 1.41 daemon leaves out as zero values, Peers and Services only when set.  The
 * structs inside are described in *t (docker's Go field names that differ from the JSON
 * key, ID and AuxAddress, read through the zero values).
 */
static struct json *inspect_struct(const struct json *raw, struct typed *t)
{
        static const struct {
                const char *key, *zero;
                bool omitempty;
        } fields[] = {
            {"Name", "\"\"", false},
            {"Id", "\"\"", false},
            {"Created", "\"0001-01-01T00:00:00Z\"", false},
            {"Scope", "\"\"", false},
            {"Driver", "\"\"", false},
            {"EnableIPv4", "false", false},
            {"EnableIPv6", "false", false},
            {"IPAM", "{\"Driver\":\"\",\"Options\":null,\"Config\":null}", false},
            {"Internal", "false", false},
            {"Attachable", "false", false},
            {"Ingress", "false", false},
            {"ConfigFrom", "{\"Network\":\"\"}", false},
            {"ConfigOnly", "false", false},
            {"Containers", "null", false},
            {"Options", "null", false},
            {"Labels", "null", false},
            {"Peers", "null", true},
            {"Services", "null", true},
        };
        struct json *s = json_new_object();
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const struct json *v = json_get(raw, fields[i].key);
                if (fields[i].omitempty && json_len(v) == 0)
                        continue;
                json_object_set(s, fields[i].key, field(raw, fields[i].key, fields[i].zero));
        }
        struct json *z = json_new_object();
        json_set_str(z, "ID", json_str(json_get(s, "Id")));
        typed_add(t, s, "network.Inspect", z);
        const struct json *ipam = json_get(s, "IPAM");
        typed_add(t, ipam, "network.IPAM", NULL);
        size_t i;
        struct json *v;
        const char *k;
        json_array_foreach (json_get(ipam, "Config"), i, v) {
                static const char zc[] = "{\"Subnet\":\"\",\"IPRange\":\"\",\"Gateway\":\"\"}";
                struct json *zero = NULL;
                (void)json_parse(zc, sizeof(zc) - 1, &zero, NULL);
                const struct json *aux = json_get(v, "AuxiliaryAddresses");
                json_object_set(zero, "AuxAddress", aux ? json_copy(aux) : json_new_null());
                typed_add(t, v, "network.IPAMConfig", zero);
        }
        typed_add(t, json_get(s, "ConfigFrom"), "network.ConfigReference", NULL);
        json_object_foreach (json_get(s, "Containers"), i, k, v) {
                (void)k;
                typed_add(t, v, "network.EndpointResource", NULL);
        }
        json_array_foreach (json_get(s, "Peers"), i, v)
                typed_add(t, v, "network.PeerInfo", NULL);
        return s;
}

int network_inspect_template(const struct gotemplate *tmpl, const struct json *raw,
                             struct berth_buf *out, struct berth_error **err)
{
        struct typed t = {.n = 0};
        _cleanup_json_ struct json *s = inspect_struct(raw, &t);
        _cleanup_buf_ struct berth_buf one = BERTH_BUF_INIT;
        int r = gotemplate_exec_objects(tmpl, s, t.obj, t.n, 0, &one, NULL);
        typed_release(&t);
        if (r < 0) {
                /* docker's tryRawInspectFallback */
                one.len = 0;
                r = gotemplate_exec(tmpl, raw, GOTEMPLATE_MISSINGKEY_ERROR, &one, err);
                if (r < 0)
                        return r;
        }
        if (one.len)
                buf_append(out, one.data, one.len);
        buf_putc(out, '\n');
        return 0;
}

static int run_inspect(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *format = cli_flag_string(fs, "format");
        bool as_json = format && strcmp(format, "json") == 0;
        _cleanup_gotemplate_ struct gotemplate *t = NULL;
        if (format && *format && !as_json) {
                _cleanup_free_ char *text = formatter_template_string(format);
                _cleanup_error_ struct berth_error *err = NULL;
                if (gotemplate_parse(text, &t, &err) < 0) {
                        fprintf(ctx->err, "template parsing error: %s\n", berth_error_msg(err));
                        return 64;
                }
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        const char *query = cli_flag_bool(fs, "verbose") ? "verbose=true" : NULL;
        _cleanup_buf_ struct berth_buf raw = BERTH_BUF_INIT;
        _cleanup_buf_ struct berth_buf text = BERTH_BUF_INIT;
        _cleanup_buf_ struct berth_buf errors = BERTH_BUF_INIT;
        size_t found = 0;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *msg = NULL;
                _cleanup_free_ char *id = trim_id("network", fs->args[i], &msg);
                if (!id) {
                        buf_printf(&errors, "%s\n", msg);
                        continue;
                }
                _cleanup_free_ char *path = container_api_path("/networks/", id, "");
                struct cli_response resp;
                _cleanup_error_ struct berth_error *err = NULL;
                if (container_request(c, "GET", path, query, NULL, &resp, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
                _cleanup_json_ struct json *v = NULL;
                if (resp.status != 200) {
                        _cleanup_free_ char *m = container_daemon_error(&resp);
                        buf_printf(&errors, "%s\n", m);
                } else if (json_parse(resp.body, resp.len, &v, &err) < 0) {
                        buf_printf(&errors, "%s\n", berth_error_msg(err));
                } else if (t) {
                        if (network_inspect_template(t, v, &text, &err) < 0)
                                buf_printf(&errors, "template parsing error: %s\n",
                                           berth_error_msg(err));
                } else {
                        buf_putc(&raw, found++ ? ',' : '[');
                        buf_append(&raw, resp.body, resp.len);
                }
                cli_response_release(&resp);
        }
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        if (t) {
                buf_append(&out, text.len ? text.data : "\n", text.len ? text.len : 1);
        } else if (!found) {
                buf_puts(&out, "[]\n");
        } else {
                buf_putc(&raw, ']');
                if (as_json)
                        json_compact_text(&out, raw.data, raw.len);
                else
                        container_json_indent(&out, raw.data, raw.len);
                buf_putc(&out, '\n');
        }
        fwrite(out.data, 1, out.len, ctx->out);
        fflush(ctx->out);
        if (!errors.len)
                return 0;
        fputs(errors.data, ctx->err);
        return 1;
}

/* ---- rm ---- */

static bool is_ingress(struct cli_client *c, const char *path)
{
        struct cli_response resp;
        if (container_request(c, "GET", path, NULL, NULL, &resp, NULL) < 0)
                return false;
        _cleanup_json_ struct json *n = NULL;
        bool ingress = resp.status == 200 && json_parse(resp.body, resp.len, &n, NULL) == 0 &&
                       json_is(json_get(n, "Ingress"), JSON_BOOL) && json_get(n, "Ingress")->b;
        cli_response_release(&resp);
        return ingress;
}

static int run_rm(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        bool force = cli_flag_bool(fs, "force");
        int status = 0;
        for (size_t i = 0; i < fs->n_args; i++) {
                _cleanup_free_ char *msg = NULL;
                _cleanup_free_ char *id = trim_id("network", fs->args[i], &msg);
                if (!id) {
                        fprintf(ctx->err, "%s\n", msg);
                        status = 1;
                        continue;
                }
                _cleanup_free_ char *path = container_api_path("/networks/", id, "");
                if (is_ingress(c, path) &&
                    !cli_prune_confirm(ctx, "WARNING! Before removing the routing-mesh network, "
                                            "make sure all the nodes in your swarm run the same "
                                            "docker engine version. Otherwise, removal may not be "
                                            "effective and functionality of newly create ingress "
                                            "networks will be impaired."))
                        continue;
                struct cli_response resp;
                _cleanup_error_ struct berth_error *err = NULL;
                if (container_request(c, "DELETE", path, NULL, NULL, &resp, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        status = 1;
                        continue;
                }
                if (resp.status / 100 == 2) {
                        fprintf(ctx->out, "%s\n", fs->args[i]);
                        fflush(ctx->out);
                } else if (!(force && resp.status == 404)) {
                        _cleanup_free_ char *m = container_daemon_error(&resp);
                        fprintf(ctx->err, "%s\n", m);
                        status = 1;
                }
                cli_response_release(&resp);
        }
        if (status)
                fprintf(ctx->err, "exit status %d\n", status);
        return status;
}

/* ---- connect, disconnect ---- */

/* The container's name as the body carries it, or NULL after printing docker's error. */
static char *container_id(struct cli_ctx *ctx, const char *name)
{
        _cleanup_free_ char *msg = NULL;
        char *id = trim_id("container", name, &msg);
        if (!id)
                fprintf(ctx->err, "%s\n", msg);
        return id;
}

static int run_connect(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        /* docker's convertDriverOpt, before anything is asked of the daemon */
        _cleanup_json_ struct json *opts = json_new_object();
        _cleanup_json_ struct json *dopts = string_slice(fs, "driver-opt");
        size_t i;
        struct json *v;
        json_array_foreach (dopts, i, v) {
                const char *o = json_str(v);
                const char *eq = strchr(o, '=');
                _cleanup_free_ char *k = eq ? xstrndup(o, (size_t)(eq - o)) : NULL;
                char *ks = k;
                while (ks && *ks && isspace((unsigned char)*ks))
                        ks++;
                size_t kl = ks ? strlen(ks) : 0;
                while (kl && isspace((unsigned char)ks[kl - 1]))
                        ks[--kl] = '\0';
                if (!eq || !kl) {
                        fprintf(ctx->err, "invalid key/value pair format in driver options\n");
                        return 1;
                }
                const char *val = eq + 1;
                while (*val && isspace((unsigned char)*val))
                        val++;
                size_t vl = strlen(val);
                while (vl && isspace((unsigned char)val[vl - 1]))
                        vl--;
                json_object_del(opts, ks);
                json_object_set(opts, ks, json_new_stringn(val, vl));
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_free_ char *path = network_path(ctx, fs->args[0], "/connect");
        if (!path)
                return 1;
        _cleanup_free_ char *ctr = container_id(ctx, fs->args[1]);
        if (!ctr)
                return 1;
        /* network.ConnectOptions{Container, EndpointConfig: EndpointSettings in field order} */
        _cleanup_json_ struct json *body = json_new_object();
        json_set_str(body, "Container", ctr);
        struct json *ep = json_object_set(body, "EndpointConfig", json_new_object());
        struct json *ipam = json_object_set(ep, "IPAMConfig", json_new_object());
        const char *ip = cli_flag_string(fs, "ip");
        const char *ip6 = cli_flag_string(fs, "ip6");
        if (ip && *ip)
                json_set_str(ipam, "IPv4Address", ip);
        if (ip6 && *ip6)
                json_set_str(ipam, "IPv6Address", ip6);
        struct json *lli = string_slice(fs, "link-local-ip");
        if (json_len(lli))
                json_object_set(ipam, "LinkLocalIPs", lli);
        else
                json_free(lli);
        char **links = cli_flag_list(fs, "link");
        struct json *lj = json_object_set(ep, "Links", links ? json_new_array() : json_new_null());
        for (size_t k = 0; links && links[k]; k++)
                json_array_append(lj, json_new_string(links[k]));
        json_object_set(ep, "Aliases", string_slice(fs, "alias"));
        json_set_str(ep, "MacAddress", "");
        json_object_set(ep, "DriverOpts", TAKE_PTR(opts));
        json_set_int(ep, "GwPriority", cli_flag_int(fs, "gw-priority"));
        static const char *const empty[] = {"NetworkID", "EndpointID", "Gateway", "IPAddress"};
        for (size_t k = 0; k < ELEMENTSOF(empty); k++)
                json_set_str(ep, empty[k], "");
        json_set_int(ep, "IPPrefixLen", 0);
        json_set_str(ep, "IPv6Gateway", "");
        json_set_str(ep, "GlobalIPv6Address", "");
        json_set_int(ep, "GlobalIPv6PrefixLen", 0);
        json_object_set(ep, "DNSNames", json_new_null());
        return net_call(ctx, c, "POST", path, NULL, body, NULL);
}

static int run_disconnect(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_free_ char *path = network_path(ctx, fs->args[0], "/disconnect");
        if (!path)
                return 1;
        _cleanup_free_ char *ctr = container_id(ctx, fs->args[1]);
        if (!ctr)
                return 1;
        _cleanup_json_ struct json *body = json_new_object();
        json_set_str(body, "Container", ctr);
        json_set_bool(body, "Force", cli_flag_bool(fs, "force"));
        return net_call(ctx, c, "POST", path, NULL, body, NULL);
}

/* ---- prune ---- */

static int run_prune(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        /* a "no" is docker's cancelledErr: nothing more printed, exit 0 */
        if (!cli_flag_bool(fs, "force") &&
            !cli_prune_confirm(ctx, "WARNING! This will remove all custom networks not used by at "
                                    "least one container."))
                return 0;
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        uint64_t space = 0;
        int code = cli_prune_call(ctx, c, CLI_PRUNE_NETWORKS, cli_flag_list(fs, "filter"), false,
                                  &out, &space);
        if (code)
                return code;
        if (out.len)
                fprintf(ctx->out, "%s\n", out.data);
        return 0;
}

/* ---- the tables ---- */

static const struct cli_flag create_flags[] = {
    {"attachable", 0, CLI_FLAG_BOOL, "Enable manual container attachment", NULL, NULL, false, NULL},
    {"aux-address", 0, CLI_FLAG_LIST,
     "Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])", NULL, "map", false,
     NULL},
    {"config-from", 0, CLI_FLAG_STRING, "The network from which to copy the configuration", NULL,
     NULL, false, NULL},
    {"config-only", 0, CLI_FLAG_BOOL, "Create a configuration only network", NULL, NULL, false,
     NULL},
    {"driver", 'd', CLI_FLAG_STRING, "Driver to manage the Network", "bridge", NULL, false, NULL},
    {"gateway", 0, CLI_FLAG_LIST, "IPv4 or IPv6 Gateway for the master subnet", NULL, "strings",
     false, check_csv},
    {"ingress", 0, CLI_FLAG_BOOL, "Create swarm routing-mesh network", NULL, NULL, false, NULL},
    {"internal", 0, CLI_FLAG_BOOL, "Restrict external access to the network", NULL, NULL, false,
     NULL},
    {"ip-range", 0, CLI_FLAG_LIST, "Allocate container ip from a sub-range", NULL, "strings", false,
     check_csv},
    {"ipam-driver", 0, CLI_FLAG_STRING, "IP Address Management Driver", "default", NULL, false,
     NULL},
    {"ipam-opt", 0, CLI_FLAG_LIST, "Set IPAM driver specific options (default map[])", NULL, "map",
     false, NULL},
    {"ipv4", 0, CLI_FLAG_BOOL, "Enable or disable IPv4 address assignment", "true", NULL, false,
     NULL},
    {"ipv6", 0, CLI_FLAG_BOOL, "Enable or disable IPv6 address assignment", NULL, NULL, false,
     NULL},
    {"label", 0, CLI_FLAG_LIST, "Set metadata on a network", NULL, "list", false,
     container_check_label},
    {"opt", 'o', CLI_FLAG_LIST, "Set driver specific options (default map[])", NULL, "map", false,
     NULL},
    {"scope", 0, CLI_FLAG_STRING, "Control the network's scope", NULL, NULL, false, NULL},
    {"subnet", 0, CLI_FLAG_LIST, "Subnet in CIDR format that represents a network segment", NULL,
     "strings", false, check_csv},
};

static const struct cli_flag ls_flags[] = {
    {"filter", 'f', CLI_FLAG_LIST, "Provide filter values (e.g. \"driver=bridge\")", NULL, "filter",
     false, cli_filter_validate},
    {"format", 0, CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'table':            Print output in table format with column headers (default)\n"
     "'table TEMPLATE':   Print output in table format using the given Go template\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template.\n"
     "Refer to https://docs.docker.com/go/formatting/ for more information about formatting "
     "output with templates",
     NULL, NULL, false, NULL},
    {"no-trunc", 0, CLI_FLAG_BOOL, "Do not truncate the output", NULL, NULL, false, NULL},
    {"quiet", 'q', CLI_FLAG_BOOL, "Only display network IDs", NULL, NULL, false, NULL},
};

static const struct cli_flag inspect_flags[] = {
    {"format", 'f', CLI_FLAG_STRING,
     "Format output using a custom template:\n"
     "'json':             Print in JSON format\n"
     "'TEMPLATE':         Print output using the given Go template.\n"
     "Refer to https://docs.docker.com/go/formatting/ for more information about formatting "
     "output with templates",
     NULL, NULL, false, NULL},
    {"verbose", 'v', CLI_FLAG_BOOL, "Verbose output for diagnostics", NULL, NULL, false, NULL},
};

static const struct cli_flag rm_flags[] = {
    {"force", 'f', CLI_FLAG_BOOL, "Do not error if the network does not exist", NULL, NULL, false,
     NULL},
};

static const struct cli_flag connect_flags[] = {
    {"alias", 0, CLI_FLAG_LIST, "Add network-scoped alias for the container", NULL, "strings",
     false, check_csv},
    {"driver-opt", 0, CLI_FLAG_LIST, "driver options for the network", NULL, "strings", false,
     check_csv},
    {"gw-priority", 0, CLI_FLAG_INT,
     "Highest gw-priority provides the default gateway. Accepts positive and negative values.",
     NULL, NULL, false, NULL},
    {"ip", 0, CLI_FLAG_STRING, "IPv4 address (e.g., \"172.30.100.104\")", NULL, NULL, false, NULL},
    {"ip6", 0, CLI_FLAG_STRING, "IPv6 address (e.g., \"2001:db8::33\")", NULL, NULL, false, NULL},
    {"link", 0, CLI_FLAG_LIST, "Add link to another container", NULL, "list", false,
     container_check_link},
    {"link-local-ip", 0, CLI_FLAG_LIST, "Add a link-local address for the container", NULL,
     "strings", false, check_csv},
};

static const struct cli_flag disconnect_flags[] = {
    {"force", 'f', CLI_FLAG_BOOL, "Force the container to disconnect from a network", NULL, NULL,
     false, NULL},
};

static const struct cli_flag prune_flags[] = {
    {"filter", 0, CLI_FLAG_LIST, "Provide filter values (e.g. \"until=<timestamp>\")", NULL,
     "filter", false, cli_filter_validate},
    {"force", 'f', CLI_FLAG_BOOL, "Do not prompt for confirmation", NULL, NULL, false, NULL},
};

static const struct cli_command network_connect = {
    .name = "connect",
    .usage = "[OPTIONS] NETWORK CONTAINER",
    .summary = "Connect a container to a network",
    .flags = connect_flags,
    .n_flags = ELEMENTSOF(connect_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 2,
    .max_args = 2,
    .run = run_connect,
};

static const struct cli_command network_create = {
    .name = "create",
    .usage = "[OPTIONS] NETWORK",
    .summary = "Create a network",
    .flags = create_flags,
    .n_flags = ELEMENTSOF(create_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 1,
    .run = run_create,
};

static const struct cli_command network_disconnect = {
    .name = "disconnect",
    .usage = "[OPTIONS] NETWORK CONTAINER",
    .summary = "Disconnect a container from a network",
    .flags = disconnect_flags,
    .n_flags = ELEMENTSOF(disconnect_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 2,
    .max_args = 2,
    .run = run_disconnect,
};

static const struct cli_command network_inspect = {
    .name = "inspect",
    .usage = "[OPTIONS] NETWORK [NETWORK...]",
    .summary = "Display detailed information on one or more networks",
    .flags = inspect_flags,
    .n_flags = ELEMENTSOF(inspect_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = -1,
    .run = run_inspect,
};

#define NETWORK_LS(name_, hidden_)                                                                 \
        {                                                                                          \
                .name = name_, .usage = "[OPTIONS]", .summary = "List networks",                   \
                .flags = ls_flags, .n_flags = ELEMENTSOF(ls_flags),                                \
                .mode = CLI_PARSE_INTERSPERSED, .min_args = 0, .max_args = 0,                      \
                .aliases = "network ls, network list", .run = run_ls, .hidden = hidden_,           \
        }

static const struct cli_command network_ls = NETWORK_LS("ls", false);
static const struct cli_command network_list = NETWORK_LS("list", true);

static const struct cli_command network_prune = {
    .name = "prune",
    .usage = "[OPTIONS]",
    .summary = "Remove all unused networks",
    .flags = prune_flags,
    .n_flags = ELEMENTSOF(prune_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 0,
    .max_args = 0,
    .run = run_prune,
};

#define NETWORK_RM(name_, hidden_)                                                                 \
        {                                                                                          \
                .name = name_, .usage = "NETWORK [NETWORK...]",                                    \
                .summary = "Remove one or more networks", .flags = rm_flags,                       \
                .n_flags = ELEMENTSOF(rm_flags), .mode = CLI_PARSE_INTERSPERSED, .min_args = 1,    \
                .max_args = -1, .aliases = "network rm, network remove", .run = run_rm,            \
                .hidden = hidden_,                                                                 \
        }

static const struct cli_command network_rm = NETWORK_RM("rm", false);
static const struct cli_command network_remove = NETWORK_RM("remove", true);

static const struct cli_command *const network_subcommands[] = {
    // clang-format off
    &network_connect,
    &network_create,
    &network_disconnect,
    &network_inspect,
    &network_ls,
    &network_list,
    &network_prune,
    &network_rm,
    &network_remove,
    NULL,
    // clang-format on
};

const struct cli_command cli_cmd_network = {
    .name = "network",
    .usage = NULL, /* docker's Use is "network": its unknown-command usage line */
    .summary = "Manage networks",
    .group = CLI_GROUP_MANAGEMENT,
    .subcommands = network_subcommands,
};
