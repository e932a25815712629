/*
 * filters.h — Docker's `filters` query parameter, shared by every list and
 * prune endpoint (images, events, and later containers, volumes, networks).
 *
 * The value is JSON: {"key":{"value":true}} as the docker CLI sends it, or
 * {"key":["value"]} as docker-py and older clients do; both read the same.
 * Keys are checked against the endpoint's list, as dockerd does, so a typo
 * is "invalid filter 'x'" rather than a filter silently ignored.
 *
 * Never: accept a key the endpoint does not know, or answer twice.
 */
#ifndef BERTH_API_FILTERS_H
#define BERTH_API_FILTERS_H

#include "base/json.h"
#include "server.h"

/*
 * Parse ?filters= into *ret (NULL when absent or empty).  allowed: the keys
 * the endpoint understands, NULL-terminated.  On a malformed value or an
 * unknown key the client has been answered with Docker's 400 and -EINVAL is
 * returned.
 */
int api_filters_parse(struct api_request *req, const char *const *allowed, struct json **ret);

/* Every value given for key, in order (NULL-terminated, never NULL; strv_free). */
char **api_filter_values(const struct json *filters, const char *key);

/* docker's label filter value against an object of labels: "key" present, "key=value" equal. */
bool api_label_matches(const struct json *labels, const char *wanted);
/* Every one of wanted (NULL-terminated) matches. */
bool api_labels_match(const struct json *labels, char *const *wanted);

/*
 * A prune's label filters, read on its worker from the request's filters
 * (checked on the loop by api_filters_parse): api_prune_labels_keep() is true
 * for labels a prune keeps (not every label= matches, or some label!= does).
 */
struct api_prune_labels {
        char **labels, **not_labels;
};
void api_prune_labels_init(struct api_prune_labels *f, struct api_request *req);
void api_prune_labels_release(struct api_prune_labels *f);
bool api_prune_labels_keep(const struct api_prune_labels *f, const struct json *labels);

/*
 * The prune endpoints' `until` filter, read as dockerd's getUntilFromPruneFilters: at most one
 * value, a timestamp or a duration back from now (units_parse_timestamp).  0 with *ret_set
 * false when absent; otherwise *ret_ns.  On a bad value the client has been answered with
 * dockerd's words (a 500, as dockerd's untyped error) and -EINVAL is returned.
 */
int api_filter_until(struct api_request *req, const struct json *filters, bool *ret_set,
                     int64_t *ret_ns);

#endif
