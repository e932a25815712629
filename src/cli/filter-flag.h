/*
 * filter-flag.h — the `--filter name=value` flag of list and prune commands
 * (images, events, and later ps, volume ls, network ls), turned into Docker's
 * `filters` query parameter: {"name":{"value":true},…} as the docker CLI
 * sends it.
 *
 * Never: send a filter the user did not give, or drop one.
 */
#ifndef BERTH_CLI_FILTER_FLAG_H
#define BERTH_CLI_FILTER_FLAG_H

#include "base/buf.h"

/* The flag's validator (struct cli_flag.validate): docker's message unless
 * the value is name=value with a non-empty name. */
char *cli_filter_validate(const char *value);

/*
 * Append "filters=<escaped JSON>" to the query q (after a '&' when q is not
 * empty) for the --filter values in list (NULL or NULL-terminated) plus one
 * more name=value when extra_name is not NULL (`images REPOSITORY` is a
 * reference filter).  Appends nothing when there is no filter.
 */
void cli_filters_query(struct berth_buf *q, char *const *list, const char *extra_name,
                       const char *extra_value);

#endif
