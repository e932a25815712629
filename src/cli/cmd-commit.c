/*
 * cmd-commit.c — `berth commit` (also `container commit`): a new image from a
 * container's changes, through POST /commit, with docker 28's flags, output
 * (the new image ID) and messages.
 *
 * As docker's client: the reference is checked here ("invalid reference
 * format", a digest refused) and sent as repo (familiar name) and tag
 * (latest by default); -c/--change repeat as "changes"; only --pause=false is
 * sent (pause=0), the daemon pauses by default.
 *
 * Never: print anything but the ID on success.
 */
#include <string.h>

#include "api/http.h"
#include "base/buf.h"
#include "cli.h"
#include "container-cmd.h"
#include "image/reference.h"

static void query_add(struct berth_buf *q, const char *key, const char *value)
{
        container_query_sep(q);
        buf_printf(q, "%s=", key);
        http_escape_query(q, value ? value : "");
}

static int run_commit(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *name = fs->args[0];
        const char *refname = fs->n_args > 1 ? fs->args[1] : "";
        _cleanup_free_ char *repo = NULL, *tag = NULL;
        if (*refname) {
                _cleanup_image_ref_ struct image_ref *ref = NULL;
                _cleanup_error_ struct berth_error *err = NULL;
                if (image_ref_parse_normalized(refname, &ref, &err) < 0) {
                        fprintf(ctx->err, "%s\n", berth_error_msg(err));
                        return 1;
                }
                if (ref->digest) {
                        fprintf(ctx->err, "refusing to create a tag with a digest reference\n");
                        return 1;
                }
                tag = xstrdup(ref->tag ? ref->tag : IMAGE_REF_DEFAULT_TAG);
                repo = image_ref_familiar_name(ref);
        }
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        struct berth_buf q = BERTH_BUF_INIT;
        query_add(&q, "author", cli_flag_string(fs, "author"));
        char **changes = cli_flag_list(fs, "change");
        for (size_t i = 0; changes && changes[i]; i++)
                query_add(&q, "changes", changes[i]);
        query_add(&q, "comment", cli_flag_string(fs, "message"));
        query_add(&q, "container", name);
        if (!cli_flag_bool(fs, "pause"))
                query_add(&q, "pause", "0");
        query_add(&q, "repo", repo);
        query_add(&q, "tag", tag);
        struct cli_response resp;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = container_request(c, "POST", "/commit", q.data, NULL, &resp, &err);
        buf_release(&q);
        if (r < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        if (resp.status / 100 != 2) {
                int code = cli_daemon_error(ctx, &resp);
                cli_response_release(&resp);
                return code;
        }
        _cleanup_json_ struct json *j = NULL;
        (void)json_parse(resp.body, resp.len, &j, NULL);
        fprintf(ctx->out, "%s\n", json_str(json_get(j, "Id")) ?: "");
        cli_response_release(&resp);
        return 0;
}

static const struct cli_flag commit_flags[] = {
    {"author", 'a', CLI_FLAG_STRING, "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")",
     NULL, NULL, false, NULL},
    {"change", 'c', CLI_FLAG_LIST, "Apply Dockerfile instruction to the created image", NULL,
     "list", false, NULL},
    {"message", 'm', CLI_FLAG_STRING, "Commit message", NULL, NULL, false, NULL},
    {"pause", 'p', CLI_FLAG_BOOL, "Pause container during commit", "true", NULL, false, NULL},
};

const struct cli_command cli_cmd_commit = {
    .name = "commit",
    .usage = "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    .summary = "Create a new image from a container's changes",
    .group = CLI_GROUP_OTHER,
    .flags = commit_flags,
    .n_flags = ELEMENTSOF(commit_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 1,
    .max_args = 2,
    .aliases = "container commit, commit",
    .run = run_commit,
};
