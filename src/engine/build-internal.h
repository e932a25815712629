/*
 * build-internal.h — what builder.c and build-copy.c share (contract in build.h).
 */
#ifndef BERTH_ENGINE_BUILD_INTERNAL_H
#define BERTH_ENGINE_BUILD_INTERNAL_H

#include <pthread.h>

#include "base/buf.h"
#include "build.h"
#include "build/dockerfile.h"

struct berth_ctr;

struct build {
        struct berth_engine *e;
        const struct berth_build_opts *o;
        char *tmpdir;     /* <data-root>/tmp/build-XXXXXX */
        int ctxfd;        /* the unpacked context, O_PATH */
        bool ctx_mounted; /* the context directory is a tmpfs of its own */
        int ctx_dirfd;    /* the context's tmpfs (unmounted: fds only): context.tar, root/ */
        struct ctx_index *ctx;
        bool ctx_unpacked; /* root/ holds the context's files */
        uint64_t ctx_limit;
        struct dockerfile *df;
        struct json *meta_args; /* ARGs before the first FROM: name -> value or null */
        struct json *consumed;  /* build args some stage declared: name -> true */
        /* stages: built in parallel where independent (a thread each), the output of each
         * sent in stage order: the first unfinished stage's as it comes, the later ones' kept
         * until their turn.  Under lock: stage_ids, done, failed, consumed, the outputs. */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        size_t n_stages;              /* built: up to the target */
        char **stage_ids;             /* the image each built stage ended with ("" scratch) */
        bool *needed, *done;          /* per stage */
        struct stage_out *outs;       /* per stage */
        size_t live;                  /* the stage whose output goes out as it comes */
        bool failed;                  /* a stage failed: the others stop at their next step */
        struct cache_source *sources; /* --cache-from's images, loaded at the first probe */
        size_t n_sources;
        bool sources_loaded;
        unsigned step, total;
        bool emitted;
        int code;               /* a failed RUN's status */
        struct berth_buf quiet; /* the output -q keeps for an error */
};

/* A stage's output kept for its turn, and how it ended. */
struct stage_out {
        struct json **msgs;
        size_t n;
        unsigned step;           /* the last step number printed */
        int r;                   /* 0, or the stage's error */
        struct berth_error *err; /* with r < 0 */
        int code;                /* a failed RUN's status */
};

struct stage {
        struct build *b;
        size_t index;
        struct json *config; /* the running config (Docker's Config) */
        char *image;         /* "" for scratch */
        struct json *args;   /* ARGs declared in this stage: name -> value or null */
        bool cmd_set;
        char *author;
        char *arch;
};

/* "Step"-less output lines: {"stream": text}, or kept with -q.  -ECANCELED: the client left. */
_printf_(2, 3) int build_say(struct build *b, const char *fmt, ...);

/* The words an instruction is expanded with: the config's Env and the build args allowed here. */
int build_expand(struct stage *st, const char *word, char **ret, struct berth_error **err);

/* The step's container config: the running config with Cmd = shell + "#(nop) " + comment
 * (the form of COPY, ADD and WORKDIR: one word). */
struct json *build_comment_config(struct stage *st, const char *comment, bool two_words);

/* The cache: look up (st->image, container config + extra); on a hit moves st->image and
 * prints " ---> Using cache". */
int build_probe(struct stage *st, const struct json *cc, const char *extra, bool *ret_hit,
                struct berth_error **err);
/* Record a step's result in the cache and move st->image to it. */
int build_cached(struct stage *st, const struct json *cc, const char *extra, const char *id,
                 struct berth_error **err);

/* The commit of a step on st: its parent, platform, author and config, with container config
 * cc (the caller adds the layer's source). */
#define BUILD_STEP_COMMIT(st, cc)                                                                  \
        ((struct build_commit){.parent_id = (st)->image,                                           \
                               .architecture = (st)->arch,                                         \
                               .author = (st)->author,                                             \
                               .config = (st)->config,                                             \
                               .container_config = (cc)})

/* A container of st->image with run config rc (not started); *ret_id and a reference. */
int build_create(struct stage *st, const struct json *rc, bool networked, char **ret_id,
                 struct berth_ctr **ret_c, struct berth_error **err);
/* Remove a build container (force, with its anonymous volumes); prints the classic line. */
void build_remove(struct stage *st, struct berth_ctr *c, bool say);

/* The context (build-context.c): received into dir/context.tar and indexed, the names in
 * capture kept in memory; unpacked into root/ (b->ctxfd) on demand. */
struct ctx_index;
struct evp_md_ctx_st;
int build_context_receive(struct build *b, int dirfd, char *const *capture, struct ctx_index **ret,
                          struct berth_error **err);
/* Remove a name of the unpacked context (resolved in it; never through a symlink out). */
void build_context_unlink(struct build *b, const char *path);
void build_context_free(struct ctx_index *x);
int build_context_unpack(struct build *b, struct berth_error **err);
/* A captured file's bytes (NUL-terminated); -ENOENT not in the context, -EINVAL not kept
 * (a symlink, say: read it from the unpacked tree). */
int build_context_captured(struct build *b, const char *path, char **ret, size_t *ret_len);
/* Take a name out of the context (.dockerignore's rule for the Dockerfile and itself). */
void build_context_remove(struct build *b, const char *path);
/* A COPY source: whether it exists and is a directory, with docker's message when not. */
int build_context_source(struct build *b, const char *src, bool *ret_dir, struct berth_error **err);
/* The context's names matching a wildcard ("/a/b"), in walk order. */
char **build_context_match(struct build *b, const char *pattern);
/* A source's names, types, modes, links and contents into the digest. */
void build_context_hash(struct build *b, const char *src, struct evp_md_ctx_st *md);

/* COPY and ADD (build-copy.c). */
int build_copy(struct stage *st, const struct dockerfile_instruction *ins,
               struct berth_error **err);
/* RUN --mount=type=cache: the cache's directory (<data-root>/build-mounts/<sha256 of id>,
 * made with the mount's mode and owner the first time) appended to mounts. */
int build_cache_mount(struct build *b, const struct dockerfile_mount *m, struct json *mounts,
                      struct berth_error **err);
/* RUN --mount=type=bind (from the context): the source appended to mounts (read-only, or a
 * copy of it for rw, whose writes are dropped with the build), its contents' hash to key. */
int build_bind_mount(struct build *b, const struct dockerfile_mount *m, struct json *mounts,
                     struct berth_buf *key, struct berth_error **err);
/* Remove every cache mount's directory (builder prune); how many. */
int build_cache_mounts_prune(struct berth_engine *e, uint64_t *ret_bytes);

/* WORKDIR's directory (build-copy.c), after st->config's WorkingDir is set. */
int build_workdir(struct stage *st, struct berth_error **err);

#endif
