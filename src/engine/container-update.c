/*
 * container-update.c — POST /containers/{id}/update (`docker update`):
 * resources and the restart policy of a container, running or not
 * (contract in containers.h).
 *
 * dockerd's rules: a field given non-zero replaces the container's (PidsLimit
 * when present at all); Nano CPUs and a CPU period or quota already set
 * exclude each other; a memory limit above the swap limit already set needs
 * the swap limit in the same update; a restart policy other than "no" is
 * refused for a container with AutoRemove.  The merged HostConfig is checked
 * as a create's is.  On a running (or paused) container the new limits go to
 * its cgroup through the runtime first; only then is the record changed, so a
 * refused update (the kernel will not shrink memory below what is in use)
 * leaves the container as it was.
 */
#include <string.h>

#include "container-internal.h"
#include "runtime/container.h"

static int conflict(struct berth_ctr *c, const char *what, struct berth_error **err)
{
        return berth_error_set(err, EBUSY, "Cannot update container %s: %s", c->id, what);
}

/* The resource fields docker's update takes, each applied when non-zero. */
static const char *const int_fields[] = {
    "BlkioWeight",       "CpuShares",          "NanoCpus",
    "CpuPeriod",         "CpuQuota",           "Memory",
    "MemorySwap",        "MemoryReservation",  "KernelMemory",
    "CpuRealtimePeriod", "CpuRealtimeRuntime",
};

static int merge(struct berth_ctr *c, const struct json *cur, const struct json *body,
                 struct json *hc, struct berth_error **err)
{
        int64_t nano = jint(body, "NanoCpus"), period = jint(body, "CpuPeriod"),
                quota = jint(body, "CpuQuota");
        if (nano > 0 && jint(cur, "CpuPeriod") > 0)
                return conflict(c,
                                "Conflicting options: Nano CPUs cannot be updated as CPU "
                                "Period has already been set",
                                err);
        if (nano > 0 && jint(cur, "CpuQuota") > 0)
                return conflict(c,
                                "Conflicting options: Nano CPUs cannot be updated as CPU "
                                "Quota has already been set",
                                err);
        if (period > 0 && jint(cur, "NanoCpus") > 0)
                return conflict(c,
                                "Conflicting options: CPU Period cannot be updated as "
                                "NanoCPUs has already been set",
                                err);
        if (quota > 0 && jint(cur, "NanoCpus") > 0)
                return conflict(c,
                                "Conflicting options: CPU Quota cannot be updated as "
                                "NanoCPUs has already been set",
                                err);
        int64_t mem = jint(body, "Memory");
        if (mem != 0 && mem > jint(cur, "MemorySwap") && jint(body, "MemorySwap") == 0)
                return conflict(c,
                                "Memory limit should be smaller than already set memoryswap "
                                "limit, update the memoryswap at the same time",
                                err);
        for (size_t i = 0; i < ELEMENTSOF(int_fields); i++)
                if (jint(body, int_fields[i]) != 0)
                        json_set_int(hc, int_fields[i], jint(body, int_fields[i]));
        static const char *const str_fields[] = {"CpusetCpus", "CpusetMems"};
        for (size_t i = 0; i < ELEMENTSOF(str_fields); i++) {
                const char *v = jstr(body, str_fields[i]);
                if (v && *v)
                        json_set_str(hc, str_fields[i], v);
        }
        const struct json *pl = jget(body, "PidsLimit");
        if (json_is(pl, JSON_NUMBER))
                json_set_int(hc, "PidsLimit", jint(body, "PidsLimit"));
        const struct json *rp = jget(body, "RestartPolicy");
        const char *name = jstr(rp, "Name");
        if (name && *name) {
                if (jbool(cur, "AutoRemove") && strcmp(name, "no") != 0)
                        return conflict(c,
                                        "Restart policy cannot be updated because AutoRemove "
                                        "is enabled for the container",
                                        err);
                json_object_set(hc, "RestartPolicy", json_copy(rp));
        }
        return 0;
}

/* The cgroup limits of the merged HostConfig (devices are not an update's: left alone). */
static int apply(struct ctr_manager *m, struct berth_ctr *c, const struct json *hc,
                 struct berth_error **err)
{
        _cleanup_json_ struct json *linux_ = json_new_object();
        int r = ctr_spec_resources(hc, linux_, err);
        if (r < 0)
                return r;
        struct json *res = jget(linux_, "resources");
        if (!res)
                res = json_object_set(linux_, "resources", json_new_object());
        json_object_del(res, "devices");
        /* no pids limit (0 or -1, docker's "unlimited") is written as one: "max", so an
         * update that lifts a limit lifts it in the cgroup too */
        if (jint(hc, "PidsLimit") <= 0) {
                struct json *pids = json_object_set(res, "pids", json_new_object());
                json_set_int(pids, "limit", -1);
        }
        struct oci_resources * or = NULL;
        r = oci_resources_from_json(res, & or, err);
        if (r < 0)
                return r;
        struct berth_runtime rt = {.root = m->runtime_root};
        r = berth_container_update(&rt, c->id, or, err);
        oci_resources_free(or);
        if (r < 0)
                return berth_error_prefix(err, "Cannot update container %s", c->id);
        return 0;
}

int berth_ctr_update(struct berth_engine *e, struct berth_ctr *c, const struct json *body,
                     struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (!json_is(body, JSON_OBJECT))
                return berth_error_set(err, EINVAL, "update: the body must be a JSON object");
        pthread_mutex_lock(&c->op_lock);
        pthread_mutex_lock(&m->lock);
        _cleanup_json_ struct json *hc = json_copy(c->host_config);
        enum ctr_state st = c->state;
        bool gone = c->removed;
        pthread_mutex_unlock(&m->lock);
        int r = gone ? berth_error_set(err, ENOENT, "No such container: %s", c->id) : 0;
        if (r == 0)
                r = merge(c, hc, body, hc, err); /* the copy taken under the lock */
        if (r == 0)
                r = ctr_check_host_config(hc, err);
        if (r == 0 && (st == CTR_RUNNING || st == CTR_PAUSED))
                r = apply(m, c, hc, err);
        if (r == 0) {
                /* in place, only what an update changes, under both locks: every reader of
                 * HostConfig holds one of them */
                static const char *const more[] = {"CpusetCpus", "CpusetMems", "PidsLimit",
                                                   "RestartPolicy"};
                pthread_mutex_lock(&m->lock);
                for (size_t i = 0; i < ELEMENTSOF(int_fields) + ELEMENTSOF(more); i++) {
                        const char *k = i < ELEMENTSOF(int_fields)
                                            ? int_fields[i]
                                            : more[i - ELEMENTSOF(int_fields)];
                        const struct json *v = jget(hc, k);
                        if (v)
                                json_object_set(c->host_config, k, json_copy(v));
                }
                pthread_mutex_unlock(&m->lock);
                r = ctr_save(e, c, err);
        }
        pthread_mutex_unlock(&c->op_lock);
        if (r == 0)
                ctr_event(e, c, "update", NULL);
        return r;
}
