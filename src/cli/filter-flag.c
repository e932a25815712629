/*
 * filter-flag.c — --filter values to Docker's filters query (contract in
 * filter-flag.h).  Values of one name collect in one object, in the order
 * given, as the docker CLI's filters.Args does.
 */
#include <string.h>

#include "api/http.h"
#include "base/json.h"
#include "filter-flag.h"

char *cli_filter_validate(const char *value)
{
        const char *eq = strchr(value, '=');
        if (!eq || eq == value)
                return xstrdup("bad format of filter (expected name=value)");
        return NULL;
}

static void add(struct json *f, const char *name, const char *value)
{
        struct json *set = json_get(f, name);
        if (!set)
                set = json_object_set(f, name, json_new_object());
        json_object_set(set, value, json_new_bool(true));
}

void cli_filters_query(struct berth_buf *q, char *const *list, const char *extra_name,
                       const char *extra_value)
{
        struct json *f = json_new_object();
        for (size_t i = 0; list && list[i]; i++) {
                _cleanup_free_ char *name = xstrdup(list[i]);
                char *eq = strchr(name, '=');
                if (!eq)
                        continue; /* the validator refused it already */
                *eq++ = '\0';
                add(f, name, eq);
        }
        if (extra_name)
                add(f, extra_name, extra_value);
        if (json_len(f)) {
                _cleanup_free_ char *text = json_dump(f, 0);
                buf_printf(q, "%sfilters=", q->len ? "&" : "");
                http_escape_query(q, text);
        }
        json_free(f);
}
