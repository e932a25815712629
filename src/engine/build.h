/*
 * build.h — `docker build` as dockerd's classic builder runs it (POST /build): a Dockerfile and
 * a context tar become an image, step by step, with a cache.
 *
 * The context tar (plain or compressed) is kept as it arrives, as its plain tar, in a private
 * directory below <data-root>/tmp that is removed after the build: a tmpfs of its own, up to
 * half the memory available at the start (a larger context is refused with a message naming
 * the limit).  It is indexed as it streams in (build-context.c: each member's cleaned name,
 * type, mode, link and sha256), and unpacked by the confined unpacker (image/untar.h) only when
 * a step needs its files: a re-build the cache holds whole never unpacks it.  The Dockerfile is
 * read from it and parsed by build/dockerfile.h; the Dockerfile and .dockerignore themselves leave
 * the context when .dockerignore excludes them, as dockerd removes them.
 *
 * Every instruction is one step and one image, as the classic builder commits them (its parent
 * is the previous step's image, recorded as the image's Parent): metadata instructions change
 * the config and add no layer; RUN runs a container (default capabilities and seccomp, the
 * build's network mode and resources) whose changes become the layer; COPY, ADD and WORKDIR
 * write into a container's root filesystem that is never started (a temporary directory for
 * FROM scratch) and commit its changes.  The history's created_by is the classic builder's
 * ("/bin/sh -c #(nop)  ENV a=b", "/bin/sh -c #(nop) COPY file:<sha256> in /app ",
 * "|1 V=x /bin/sh -c make").
 *
 * The cache (table build_cache) maps (parent image, sha256 of the step's container config with
 * its command and, for COPY and ADD, the hash of every source's name, type, mode, link target
 * and bytes) to the image that step made.  A hit reuses that image and runs nothing.  Rows go
 * with their image (rmi, prune) or with `builder prune`.  --cache-from adds dockerd's image
 * cache: an image whose history begins with the parent's and whose next entry this step's
 * command made gives the step back (that image at its last step, else an image restored from
 * its layer and history).
 *
 * Stages: only those the target needs are built (FROM and COPY --from name them), each on a
 * thread of its own once the stages it needs are done; the output reads stage after stage
 * (a later stage's is kept until the one before has finished).
 *
 * Differences from dockerd's classic builder, on purpose: a step that runs no process creates
 * no container (no " ---> Running in" line for it); a failed RUN's container is removed with
 * rm (the default), not only with forcerm.
 *
 * Never: read a path of the context or of a --from image outside it (every source is opened
 * with openat2 RESOLVE_IN_ROOT below its root), follow a symlink below a COPY's destination
 * directory, or leave the context directory or an intermediate container behind.
 */
#ifndef BERTH_ENGINE_BUILD_H
#define BERTH_ENGINE_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"
#include "engine.h"

/* The context tar: up to len bytes, 0 at its end, or a negative errno. */
typedef ssize_t (*berth_build_read_fn)(void *buf, size_t len, void *userdata,
                                       struct berth_error **err);
/* One message of the JSON stream ({"stream"}, {"aux"}, pull progress); negative: the client
 * is gone (the build stops). */
typedef int (*berth_build_emit_fn)(const struct json *msg, void *userdata);

struct berth_build_opts {
        berth_build_read_fn read;
        berth_build_emit_fn emit;
        /* whether the client went away (polled while a RUN step prints nothing); may be NULL */
        bool (*gone)(void *userdata);
        void *userdata;
        const char *dockerfile;       /* in the context; NULL: "Dockerfile" */
        char *const *tags;            /* NULL-terminated, may be NULL */
        const struct json *buildargs; /* {"NAME": "value" | null}, may be NULL */
        const struct json *labels;    /* {"k": "v"}, may be NULL */
        const char *target;           /* NULL: the last stage */
        bool nocache, pull, rm, forcerm, quiet;
        const char *network_mode; /* NULL: "default" */
        const char *platform;     /* NULL: the daemon's */
        char *const *extra_hosts; /* "host:ip", NULL-terminated, may be NULL */
        char *const *cache_from;  /* image names, NULL-terminated, may be NULL */
        int64_t shm_size, memory, memswap, cpu_shares, cpu_period, cpu_quota;
        const char *cpuset_cpus, *cpuset_mems;
        const struct json *ulimits; /* [{"Name","Soft","Hard"}], may be NULL */
};

/*
 * Build; *ret_id the final image ("sha256:…").  On failure *ret_emitted tells whether any
 * message was sent (then the error belongs in the stream as errorDetail, with *ret_code set
 * for a failed RUN's status, else 0), else it is the HTTP answer.  -EINVAL: a bad Dockerfile or
 * option, -ENOENT: a base image or source file not found.
 */
int berth_build(struct berth_engine *e, const struct berth_build_opts *o, char **ret_id,
                bool *ret_emitted, int *ret_code, struct berth_error **err);

/* At start: remove what builds of a killed berthd left below <data-root>/tmp. */
void berth_build_cleanup(struct berth_engine *e);

/* The build cache as `system df` and `builder prune` see it: one entry per cached step whose
 * image has no name of its own. */
struct berth_build_cache_entry {
        char *id, *parent, *description;
        int64_t size, created, last_used, usage_count;
        bool in_use;
};
int berth_build_cache_list(struct berth_engine *e, struct berth_build_cache_entry **ret,
                           size_t *ret_n, struct berth_error **err);
void berth_build_cache_entries_free(struct berth_build_cache_entry *v, size_t n);

/* POST /build/prune: forget every cached step (all: also those of named images, whose images
 * stay) and remove the cache's images no name, container or other image needs;
 * unused_for_s > 0: only steps not used for that long.  *ret_deleted: their ids. */
int berth_build_cache_prune(struct berth_engine *e, bool all, int64_t unused_for_s,
                            char ***ret_deleted, uint64_t *ret_reclaimed, struct berth_error **err);

#endif
