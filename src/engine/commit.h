/*
 * commit.h — new images from a container's changes (`docker commit`) or from a
 * tar of a root filesystem (`docker import`), and the Dockerfile-style changes
 * (`-c`) both take.
 *
 * Both make one layer the same way: a plain tar stream goes into the content
 * store as a blob (so its digest is its diff_id), the layer is unpacked from
 * that blob by image/layer.h (the same confined unpacker as pull and load:
 * nothing of the tar can land outside the layer directory), and the image is
 * recorded with the config it gets here, through layers.h, exactly as a loaded
 * image is; so it runs, saves and pushes like any other (push.c makes its
 * manifest).
 *
 * commit: the container's overlay upper dir archived by image/tar-writer.h
 * with whiteouts and opaque directories written as OCI ".wh." entries, less
 * the empty placeholders berth makes for the mount points dockerd keeps in its
 * init layer.  The config is dockerd's: the container's Config with the
 * changes applied and then merged with the container's Config again
 * (daemon/commit.go's merge), "container", "container_config" (the container's
 * Config), history = the parent's + {created, author, created_by (the
 * container's Cmd joined by spaces), comment}, an empty diff adding no layer
 * but a history entry with empty_layer.  The container is paused meanwhile
 * when asked (and running).
 *
 * import: the tar (any compression image/decompress.h knows) from the caller
 * or from a URL (libcurl), one layer, a config with the changes applied to an
 * empty Config, history [{created, comment}], comment "Imported from <src>"
 * unless a message is given.
 *
 * Never: record an image before its layer is unpacked and verified, or read a
 * path of the upper dir other than by fd below it.
 */
#ifndef BERTH_ENGINE_COMMIT_H
#define BERTH_ENGINE_COMMIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"
#include "engine.h"

/*
 * Apply changes ("CMD ...", "ENV a=b", … one instruction each, as `-c` gives
 * them) to a Docker Config object, as dockerd's BuildFromConfig: CMD,
 * ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, USER, VOLUME, WORKDIR;
 * anything else is -EINVAL "<word> is not a valid change command", and bad
 * arguments get dockerd's messages ("ENV must have two arguments", …).
 */
int berth_config_apply_changes(struct json *config, char *const *changes, struct berth_error **err);

struct berth_commit_opts {
        const char *container; /* name or ID */
        const char *repo;      /* may be NULL: no tag */
        const char *tag;       /* may be NULL */
        const char *author;
        const char *comment;
        char *const *changes;      /* NULL-terminated, may be NULL */
        const struct json *config; /* the request's Config, or NULL: the container's */
        bool pause;
};

/* *ret_id: "sha256:…".  -ENOENT no such container, -EINVAL bad reference or change. */
int berth_container_commit(struct berth_engine *e, const struct berth_commit_opts *o, char **ret_id,
                           struct berth_error **err);

/* Input of an import from "-": up to len bytes, 0 at the end, or a negative errno. */
typedef ssize_t (*import_read_fn)(void *buf, size_t len, void *userdata, struct berth_error **err);
/* One message of the import's JSON stream; negative: the client is gone. */
typedef int (*import_emit_fn)(const struct json *msg, void *userdata);

struct berth_import_opts {
        const char *src; /* "-" (read) or a URL (a bare host gets http://) */
        import_read_fn read;
        import_emit_fn emit; /* "Downloading from …", "Importing" progress for a URL */
        void *userdata;
        const char *repo, *tag, *message, *platform; /* each may be NULL */
        char *const *changes;
};

/* Errors found before anything is read (reference, platform, changes) come
 * before the first message. */
int berth_image_import(struct berth_engine *e, const struct berth_import_opts *o, char **ret_id,
                       struct berth_error **err);

/* ---- inside the engine ---- */

/* Producer of a layer's plain tar: calls write for each piece. */
typedef int (*commit_tar_write_fn)(const void *buf, size_t len, void *userdata,
                                   struct berth_error **err);
typedef int (*commit_tar_fn)(commit_tar_write_fn write, void *wud, void *userdata,
                             struct berth_error **err);

struct image_new {
        const char *parent_id;  /* the image below (its layers and history), or NULL */
        struct json *config;    /* the new image config without rootfs/history (taken) */
        struct json *history;   /* the new history entry, without empty_layer (taken) */
        const char *repo, *tag; /* a tag for it, or NULL */
        bool skip_empty;        /* an empty tar adds no layer (commit) */
        /* image_new_record_stored: a layer already stored goes on the parent's (NULL: none)
         * and the image's whole history is history_all */
        const struct berth_layer_rec *reuse;
        const struct json *history_all;
};

/* Store the tar, unpack it as a layer on the parent's, and record the image. */
int image_new_record(struct berth_engine *e, const struct image_new *n, commit_tar_fn tar,
                     void *userdata, char **ret_id, struct berth_error **err);
/* Record an image of the parent's layers and n->reuse (a layer another image holds), with
 * n->history_all as its history: --cache-from's restored steps.  -EINVAL when the layer does not
 * stack on the parent's. */
struct berth_layer_rec;
int image_new_record_stored(struct berth_engine *e, const struct image_new *n, char **ret_id,
                            struct berth_error **err);
/* strings.Join(cmd, " "): a history entry's created_by. */
char *image_join_cmd(const struct json *cmd);
/* Now as RFC 3339 with nanoseconds in UTC, as Go marshals a time. */
char *image_new_time(void);
/* dockerd's empty container.Config with every member Go writes. */
struct json *image_empty_config(void);
/* dockerd's RepoTagReference: NULL (no tag) when repo is empty; else the full
 * normalised name with the tag (latest by default); -EINVAL when malformed. */
int image_new_reference(const char *repo, const char *tag, char **ret, struct berth_error **err);

/* One step of a build as dockerd's classic builder commits it (CommitBuildStep): config is the
 * image's Config exactly (no merge), container_config the step's (its Cmd the "#(nop)" comment or
 * the RUN command, which the history's created_by joins); the layer is ctr's upper dir, or none
 * (an empty_layer history entry) when ctr is NULL. */
struct berth_ctr;
struct build_commit {
        struct berth_ctr *ctr;    /* may be NULL */
        const char *parent_id;    /* NULL or "" for FROM scratch */
        const char *architecture; /* without a parent: the platform's, NULL amd64 */
        const char *author;       /* MAINTAINER's, or NULL */
        bool has_dir;             /* without ctr: the layer is the tree below dir_fd */
        int dir_fd;
        /* --cache-from: a step of another image restored (its stored layer or none, its
         * history up to the step, its time) */
        bool restore;
        const struct berth_layer_rec *reuse;
        const struct json *history_all;
        const char *created;
        const struct json *config, *container_config;
};
int build_commit(struct berth_engine *e, const struct build_commit *b, char **ret_id,
                 struct berth_error **err);

#endif
