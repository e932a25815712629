/*
 * container-mounts.c — the bind mounts a container asks for in
 * HostConfig.Mounts (`--mount type=bind,…`, and docker 28's --use-api-socket,
 * which binds the daemon's socket at /var/run/docker.sock): checked at create
 * as dockerd checks them, turned into OCI mounts at start.
 *
 * A bind's source is the host path the user named (docker's API gives that to
 * whoever may call it); its target is a path in the container, which the
 * runtime resolves inside the rootfs by fd like every mount target.  Options
 * as dockerd writes them: "rbind" (or "bind" with BindOptions.NonRecursive),
 * the propagation (BindOptions.Propagation, "rprivate" by default), "ro" for
 * ReadOnly.  Other mount types (volume, tmpfs, npipe) and HostConfig.Binds
 * belong to the volumes work and are left as they were.
 *
 * Never: accept a relative source or target, or create a missing source (an
 * API 1.41 --mount bind fails on one, as dockerd's does).
 */
#include <string.h>
#include <sys/stat.h>

#include "container-internal.h"

static bool is_bind(const struct json *m)
{
        const char *type = json_str(json_get(m, "Type"));
        return type && strcmp(type, "bind") == 0;
}

int ctr_check_user_mounts(const struct json *host_config, struct berth_error **err)
{
        const struct json *mounts = json_get(host_config, "Mounts");
        size_t i;
        const struct json *m;
        json_array_foreach (mounts, i, m) {
                if (!is_bind(m))
                        continue;
                const char *src = json_str(json_get(m, "Source"));
                const char *dst = json_str(json_get(m, "Target"));
                if (!dst || !*dst)
                        return berth_error_set(err, EINVAL,
                                               "invalid mount config for type \"bind\": field "
                                               "Target must not be empty");
                if (dst[0] != '/')
                        return berth_error_set(err, EINVAL,
                                               "invalid mount config for type \"bind\": invalid "
                                               "mount path: '%s' mount path must be absolute",
                                               dst);
                if (!src || !*src)
                        return berth_error_set(err, EINVAL,
                                               "invalid mount config for type \"bind\": field "
                                               "Source must not be empty");
                if (src[0] != '/')
                        return berth_error_set(err, EINVAL,
                                               "invalid mount config for type \"bind\": invalid "
                                               "mount path: '%s' mount path must be absolute",
                                               src);
                struct stat st;
                if (stat(src, &st) < 0)
                        return berth_error_set(err, EINVAL,
                                               "invalid mount config for type \"bind\": bind "
                                               "source path does not exist: %s",
                                               src);
                size_t k;
                const struct json *o;
                json_array_foreach (mounts, k, o) {
                        const char *t = json_str(json_get(o, "Target"));
                        if (k < i && t && strcmp(t, dst) == 0)
                                return berth_error_set(err, EINVAL, "Duplicate mount point: %s",
                                                       dst);
                }
        }
        return 0;
}

void ctr_user_mounts(const struct json *host_config, struct json *oci_mounts)
{
        size_t i;
        const struct json *m;
        json_array_foreach (json_get(host_config, "Mounts"), i, m) {
                if (!is_bind(m))
                        continue;
                const struct json *bo = json_get(m, "BindOptions");
                const struct json *nonrec = json_get(bo, "NonRecursive");
                const struct json *ro = json_get(m, "ReadOnly");
                const char *prop = json_str(json_get(bo, "Propagation"));
                struct json *o = json_array_append(oci_mounts, json_new_object());
                json_set_str(o, "destination", json_str(json_get(m, "Target")));
                json_set_str(o, "type", "bind");
                json_set_str(o, "source", json_str(json_get(m, "Source")));
                struct json *opts = json_object_set(o, "options", json_new_array());
                bool rec = !(json_is(nonrec, JSON_BOOL) && nonrec->b);
                json_array_append(opts, json_new_string(rec ? "rbind" : "bind"));
                json_array_append(opts, json_new_string(prop && *prop ? prop : "rprivate"));
                if (json_is(ro, JSON_BOOL) && ro->b)
                        json_array_append(opts, json_new_string("ro"));
        }
}
