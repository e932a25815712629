/*
 * filters.c — parsing Docker's `filters` query parameter (contract in
 * filters.h).  The map form keeps only values set to true, as dockerd's
 * filters.FromJSON does; the list form keeps strings and skips the rest.
 */
#include <string.h>

#include "base/units.h"
#include "filters.h"

char **api_filter_values(const struct json *filters, const char *key)
{
        const struct json *v = json_get(filters, key);
        char **out = xcalloc(json_len(v) + 1, sizeof(char *));
        size_t n = 0, i;
        if (json_is(v, JSON_ARRAY)) {
                struct json *item;
                json_array_foreach (v, i, item)
                        if (json_str(item))
                                out[n++] = xstrdup(json_str(item));
        } else if (json_is(v, JSON_OBJECT)) {
                const char *k;
                struct json *item;
                json_object_foreach (v, i, k, item)
                        if (json_is(item, JSON_BOOL) && item->b)
                                out[n++] = xstrdup(k);
        }
        return out;
}

int api_filters_parse(struct api_request *req, const char *const *allowed, struct json **ret)
{
        *ret = NULL;
        const char *f = api_request_query(req, "filters");
        if (!f || !*f)
                return 0;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_json_ struct json *j = NULL;
        if (json_parse(f, strlen(f), &j, &err) < 0 || !json_is(j, JSON_OBJECT)) {
                api_reply_error(req, 400, "invalid filter: %s",
                                err ? berth_error_msg(err) : "not a JSON object");
                return -EINVAL;
        }
        size_t i;
        const char *k;
        struct json *v;
        json_object_foreach (j, i, k, v) {
                bool ok = false;
                for (size_t a = 0; v && allowed[a]; a++)
                        ok |= strcmp(allowed[a], k) == 0;
                if (!ok) {
                        api_reply_error(req, 400, "invalid filter '%s'", k);
                        return -EINVAL;
                }
        }
        *ret = TAKE_PTR(j);
        return 0;
}

bool api_label_matches(const struct json *labels, const char *wanted)
{
        _cleanup_free_ char *k = xstrdup(wanted);
        char *eq = strchr(k, '=');
        if (eq)
                *eq++ = '\0';
        const char *have = json_str(json_get(labels, k));
        return have && (!eq || strcmp(have, eq) == 0);
}

bool api_labels_match(const struct json *labels, char *const *wanted)
{
        for (size_t i = 0; wanted[i]; i++)
                if (!api_label_matches(labels, wanted[i]))
                        return false;
        return true;
}

void api_prune_labels_init(struct api_prune_labels *f, struct api_request *req)
{
        _cleanup_json_ struct json *filters = NULL;
        const char *q = api_request_query(req, "filters");
        if (q && *q)
                (void)json_parse(q, strlen(q), &filters, NULL);
        f->labels = api_filter_values(filters, "label");
        f->not_labels = api_filter_values(filters, "label!");
}

void api_prune_labels_release(struct api_prune_labels *f)
{
        strv_free(f->labels);
        strv_free(f->not_labels);
}

bool api_prune_labels_keep(const struct api_prune_labels *f, const struct json *labels)
{
        if (f->labels[0] && !api_labels_match(labels, f->labels))
                return true;
        for (size_t i = 0; f->not_labels[i]; i++)
                if (api_label_matches(labels, f->not_labels[i]))
                        return true;
        return false;
}

int api_filter_until(struct api_request *req, const struct json *filters, bool *ret_set,
                     int64_t *ret_ns)
{
        *ret_set = false;
        *ret_ns = 0;
        _cleanup_strv_free_ char **until = api_filter_values(filters, "until");
        if (!until[0])
                return 0;
        if (until[1]) {
                api_reply_error(req, 500, "more than one until filter specified");
                return -EINVAL;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        _cleanup_error_ struct berth_error *err = NULL;
        int64_t now_ns = (int64_t)now.tv_sec * UNITS_NSEC_PER_SEC + now.tv_nsec;
        if (units_parse_timestamp(until[0], now_ns, ret_ns, &err) < 0) {
                api_reply_error(req, 500, "%s", berth_error_msg(err));
                return -EINVAL;
        }
        *ret_set = true;
        return 0;
}
