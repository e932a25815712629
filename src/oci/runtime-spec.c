/*
 * runtime-spec.c — config.json (OCI runtime spec 1.1) to struct oci_spec:
 * the top level, process, root, mounts, hooks and annotations; the linux
 * section is in runtime-spec-linux.c.
 *
 * The text is parsed once by json_parse() (strict, depth-bounded, "line L
 * column C" on malformed input), then walked with the typed getters of
 * spec-getters.c, which name the JSON path of any value that is wrong.
 * Unknown keys are ignored and JSON null means "absent", as with Go's
 * encoding/json in runc, so configs written for runc load unchanged; but
 * where runc silently ignores a mistake (an unknown capability name) we refuse
 * it, because a container quietly running with less than asked is worse.
 *
 * Every struct is allocated zeroed and linked into its parent before it is
 * filled, so on any error the caller frees the whole partial tree with
 * oci_spec_free() / oci_process_free().
 *
 * Never: touch the filesystem beyond reading config.json, or interpret what
 * belongs to the kernel (mount options, sysctl and cgroup values).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "oci/spec-internal.h"

/* ---- process ---- */

static int parse_user(struct spec_ctx *c, const struct json *proc, struct oci_user *u)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "user");
        int r = val_object(c, json_get(proc, "user"), &o);
        if (r <= 0)
                goto out;
        if ((r = get_u32(c, o, "uid", OPTIONAL, &u->uid)) < 0 ||
            (r = get_u32(c, o, "gid", OPTIONAL, &u->gid)) < 0)
                goto out;
        if ((r = get_u32(c, o, "umask", OPTIONAL, &u->umask)) < 0)
                goto out;
        u->has_umask = r > 0;
        if (u->has_umask && u->umask > 0777) {
                r = ctx_fail_key(c, "umask", "%#o is not a file mode mask (0 to 0777)", u->umask);
                goto out;
        }
        const struct json *gids = NULL;
        size_t s2 = ctx_push_key(c, "additionalGids");
        r = val_array(c, json_get(o, "additionalGids"), &gids);
        if (r > 0) {
                u->additional_gids = xcalloc(gids->arr.n ? gids->arr.n : 1, sizeof(uint32_t));
                u->n_additional_gids = gids->arr.n;
                for (size_t i = 0; i < gids->arr.n && r >= 0; i++) {
                        size_t s3 = ctx_push_idx(c, i);
                        r = val_u32(c, gids->arr.items[i], &u->additional_gids[i]);
                        if (r == 0)
                                r = ctx_fail(c, "expected unsigned integer, got null");
                        ctx_pop(c, s3);
                }
        }
        ctx_pop(c, s2);
        if (r < 0)
                goto out;
        r = get_string(c, o, "username", OPTIONAL, &u->username);
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static const char *const cap_set_names[_OCI_CAP_SET_MAX] = {
    [OCI_CAP_BOUNDING] = "bounding",       [OCI_CAP_EFFECTIVE] = "effective",
    [OCI_CAP_INHERITABLE] = "inheritable", [OCI_CAP_PERMITTED] = "permitted",
    [OCI_CAP_AMBIENT] = "ambient",
};

static int parse_cap_set(struct spec_ctx *c, const struct json *o, enum oci_cap_set set,
                         struct oci_capabilities *caps)
{
        _cleanup_strv_free_ char **names = NULL;
        size_t saved = ctx_push_key(c, cap_set_names[set]);
        int r = val_strv(c, json_get(o, cap_set_names[set]), &names);
        if (r > 0) {
                caps->has[set] = true;
                for (size_t i = 0; names[i]; i++) {
                        int cap = oci_cap_from_name(names[i]);
                        if (cap < 0) {
                                ctx_push_idx(c, i);
                                r = ctx_fail(c, "unknown capability '%s'", names[i]);
                                break;
                        }
                        caps->set[set] |= UINT64_C(1) << cap;
                }
        }
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_capabilities(struct spec_ctx *c, const struct json *proc, struct oci_process *p)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "capabilities");
        int r = val_object(c, json_get(proc, "capabilities"), &o);
        if (r > 0) {
                p->capabilities = xcalloc(1, sizeof(*p->capabilities));
                for (int s = 0; s < _OCI_CAP_SET_MAX && r >= 0; s++)
                        r = parse_cap_set(c, o, (enum oci_cap_set)s, p->capabilities);
        }
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_rlimit(struct spec_ctx *c, const struct json *o, void *elem, size_t i,
                        void *userdata)
{
        struct oci_process *p = userdata;
        struct oci_rlimit *rl = elem;
        int r;
        if ((r = get_string(c, o, "type", REQUIRED, &rl->type)) < 0)
                return r;
        rl->resource = oci_rlimit_from_name(rl->type);
        if (rl->resource < 0)
                return ctx_fail_key(c, "type", "unknown rlimit '%s'", rl->type);
        for (size_t j = 0; j < i; j++)
                if (p->rlimits[j].resource == rl->resource)
                        return ctx_fail_key(c, "type", "duplicate rlimit '%s'", rl->type);
        if ((r = get_u64(c, o, "hard", REQUIRED, &rl->hard)) < 0 ||
            (r = get_u64(c, o, "soft", REQUIRED, &rl->soft)) < 0)
                return r;
        if (rl->soft > rl->hard)
                return ctx_fail(c, "soft limit %" PRIu64 " is greater than hard limit %" PRIu64,
                                rl->soft, rl->hard);
        return 0;
}

static int parse_rlimits(struct spec_ctx *c, const struct json *proc, struct oci_process *p)
{
        return get_object_array(c, proc, "rlimits", sizeof(*p->rlimits), (void **)&p->rlimits,
                                &p->n_rlimits, parse_rlimit, p);
}

static int parse_console_size(struct spec_ctx *c, const struct json *proc, struct oci_process *p)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "consoleSize");
        int r = val_object(c, json_get(proc, "consoleSize"), &o);
        if (r > 0) {
                p->has_console_size = true;
                r = get_u32(c, o, "height", REQUIRED, &p->console_height);
                if (r >= 0)
                        r = get_u32(c, o, "width", REQUIRED, &p->console_width);
        }
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_io_priority(struct spec_ctx *c, const struct json *proc, struct oci_process *p)
{
        static const char *const classes[] = {NULL, "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE",
                                              "IOPRIO_CLASS_IDLE"};
        const struct json *o = NULL;
        _cleanup_free_ char *cls = NULL;
        size_t saved = ctx_push_key(c, "ioPriority");
        int r = val_object(c, json_get(proc, "ioPriority"), &o);
        if (r <= 0)
                goto out;
        p->io_priority = xcalloc(1, sizeof(*p->io_priority));
        if ((r = get_string(c, o, "class", REQUIRED, &cls)) < 0)
                goto out;
        for (int i = 1; i < (int)ELEMENTSOF(classes); i++)
                if (strcmp(cls, classes[i]) == 0)
                        p->io_priority->class_ = i;
        if (p->io_priority->class_ == 0) {
                r = ctx_fail_key(c, "class", "unknown I/O priority class '%s'", cls);
                goto out;
        }
        int32_t prio = 0;
        if ((r = get_i32(c, o, "priority", OPTIONAL, &prio)) < 0)
                goto out;
        if (prio < 0 || prio > 7) {
                r = ctx_fail_key(c, "priority", "%d is out of range 0..7", prio);
                goto out;
        }
        p->io_priority->priority = prio;
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static bool in_list(const char *s, const char *const *list)
{
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

static int parse_scheduler(struct spec_ctx *c, const struct json *proc, struct oci_process *p)
{
        static const char *const policies[] = {"SCHED_OTHER",    "SCHED_FIFO", "SCHED_RR",
                                               "SCHED_BATCH",    "SCHED_ISO",  "SCHED_IDLE",
                                               "SCHED_DEADLINE", NULL};
        static const char *const flags[] = {
            "SCHED_FLAG_RESET_ON_FORK",  "SCHED_FLAG_RECLAIM",
            "SCHED_FLAG_DL_OVERRUN",     "SCHED_FLAG_KEEP_POLICY",
            "SCHED_FLAG_KEEP_PARAMS",    "SCHED_FLAG_UTIL_CLAMP_MIN",
            "SCHED_FLAG_UTIL_CLAMP_MAX", NULL};
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "scheduler");
        int r = val_object(c, json_get(proc, "scheduler"), &o);
        if (r <= 0)
                goto out;
        struct oci_scheduler *s = p->scheduler = xcalloc(1, sizeof(*s));
        if ((r = get_string(c, o, "policy", REQUIRED, &s->policy)) < 0)
                goto out;
        if (!in_list(s->policy, policies)) {
                r = ctx_fail_key(c, "policy", "unknown scheduling policy '%s'", s->policy);
                goto out;
        }
        if ((r = get_i32(c, o, "nice", OPTIONAL, &s->nice)) < 0 ||
            (r = get_i32(c, o, "priority", OPTIONAL, &s->priority)) < 0 ||
            (r = get_strv(c, o, "flags", &s->flags)) < 0 ||
            (r = get_u64(c, o, "runtime", OPTIONAL, &s->runtime)) < 0 ||
            (r = get_u64(c, o, "deadline", OPTIONAL, &s->deadline)) < 0 ||
            (r = get_u64(c, o, "period", OPTIONAL, &s->period)) < 0)
                goto out;
        if (s->nice < -20 || s->nice > 19) {
                r = ctx_fail_key(c, "nice", "%d is out of range -20..19", s->nice);
                goto out;
        }
        for (size_t i = 0; s->flags && s->flags[i]; i++)
                if (!in_list(s->flags[i], flags)) {
                        size_t s2 = ctx_push_key(c, "flags");
                        ctx_push_idx(c, i);
                        r = ctx_fail(c, "unknown scheduler flag '%s'", s->flags[i]);
                        ctx_pop(c, s2);
                        goto out;
                }
out:
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_cwd(struct spec_ctx *c, const struct json *o, struct oci_process *p)
{
        int r = get_string(c, o, "cwd", REQUIRED, &p->cwd);
        if (r < 0)
                return r;
        if (p->cwd[0] != '/')
                return ctx_fail_key(c, "cwd", "'%s' is not an absolute path", p->cwd);
        return 0;
}

/* runc refuses these when it builds the environment; we say which entry. */
static int check_env(struct spec_ctx *c, struct oci_process *p)
{
        for (size_t i = 0; p->env && p->env[i]; i++) {
                const char *eq = strchr(p->env[i], '=');
                const char *why = !eq               ? "is not NAME=VALUE"
                                  : eq == p->env[i] ? "has an empty name"
                                                    : NULL;
                if (why) {
                        size_t saved = ctx_push_key(c, "env");
                        ctx_push_idx(c, i);
                        int r = ctx_fail(c, "'%s' %s", p->env[i], why);
                        ctx_pop(c, saved);
                        return r;
                }
        }
        return 0;
}

/* A process must have something to run (runc: "args must not be empty"). */
static int check_args(struct spec_ctx *c, struct oci_process *p)
{
        if (!p->args)
                return ctx_fail_key(c, "args", "missing required field");
        if (!p->args[0])
                return ctx_fail_key(c, "args", "must not be empty");
        return 0;
}

/* The process object at the current path (pushed by the caller). */
static int parse_process_obj(struct spec_ctx *c, const struct json *o, struct oci_process *p)
{
        int r;
        if ((r = get_bool(c, o, "terminal", OPTIONAL, &p->terminal)) < 0 ||
            (r = parse_console_size(c, o, p)) < 0 || (r = parse_user(c, o, &p->user)) < 0 ||
            (r = get_strv(c, o, "args", &p->args)) < 0 ||
            (r = get_string(c, o, "commandLine", OPTIONAL, &p->command_line)) < 0 ||
            (r = check_args(c, p)) < 0 || (r = get_strv(c, o, "env", &p->env)) < 0 ||
            (r = check_env(c, p)) < 0 || (r = parse_cwd(c, o, p)) < 0 ||
            (r = parse_capabilities(c, o, p)) < 0 || (r = parse_rlimits(c, o, p)) < 0 ||
            (r = get_bool(c, o, "noNewPrivileges", OPTIONAL, &p->no_new_privileges)) < 0 ||
            (r = get_string(c, o, "apparmorProfile", OPTIONAL, &p->apparmor_profile)) < 0 ||
            (r = get_string(c, o, "selinuxLabel", OPTIONAL, &p->selinux_label)) < 0 ||
            (r = parse_io_priority(c, o, p)) < 0 || (r = parse_scheduler(c, o, p)) < 0)
                return r;
        int32_t adj = 0;
        if ((r = get_i32(c, o, "oomScoreAdj", OPTIONAL, &adj)) < 0)
                return r;
        if (r > 0 && (adj < -1000 || adj > 1000))
                return ctx_fail_key(c, "oomScoreAdj", "%d is out of range -1000..1000", adj);
        p->has_oom_score_adj = r > 0;
        p->oom_score_adj = adj;
        return 0;
}

void oci_process_free(struct oci_process *p)
{
        if (!p)
                return;
        free(p->user.additional_gids);
        free(p->user.username);
        strv_free(p->args);
        free(p->command_line);
        strv_free(p->env);
        free(p->cwd);
        free(p->capabilities);
        for (size_t i = 0; i < p->n_rlimits; i++)
                free(p->rlimits[i].type);
        free(p->rlimits);
        free(p->apparmor_profile);
        free(p->selinux_label);
        free(p->io_priority);
        if (p->scheduler) {
                free(p->scheduler->policy);
                strv_free(p->scheduler->flags);
                free(p->scheduler);
        }
        free(p);
}

static void process_freep(struct oci_process **p)
{
        oci_process_free(*p);
}

static int parse_top_object(struct spec_ctx *c, const char *buf, size_t len, struct json **ret)
{
        if (len > OCI_CONFIG_MAX_SIZE)
                return berth_error_set(c->err, EFBIG, "config is larger than %u bytes",
                                       OCI_CONFIG_MAX_SIZE);
        struct json *j = NULL;
        int r = json_parse(buf, len, &j, c->err);
        if (r < 0)
                return r;
        if (j->type != JSON_OBJECT) {
                r = berth_error_set(c->err, EINVAL, "expected a JSON object, got %s",
                                    json_type_name(j->type));
                json_free(j);
                return r;
        }
        *ret = j;
        return 0;
}

int oci_process_parse(const char *buf, size_t len, struct oci_process **ret,
                      struct berth_error **err)
{
        struct spec_ctx c = {.path = BERTH_BUF_INIT, .err = err};
        _cleanup_json_ struct json *j = NULL;
        _cleanup_(process_freep) struct oci_process *p = xcalloc(1, sizeof(*p));
        int r = parse_top_object(&c, buf, len, &j);
        if (r >= 0)
                r = parse_process_obj(&c, j, p);
        buf_release(&c.path);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- root, mounts, hooks ---- */

static int parse_root(struct spec_ctx *c, const struct json *top, struct oci_spec *s)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "root");
        int r = val_object(c, json_get(top, "root"), &o);
        if (r > 0) {
                s->root = xcalloc(1, sizeof(*s->root));
                r = get_string(c, o, "path", REQUIRED, &s->root->path);
                if (r > 0 && !s->root->path[0])
                        r = ctx_fail_key(c, "path", "must not be empty");
                if (r >= 0)
                        r = get_bool(c, o, "readonly", OPTIONAL, &s->root->readonly);
        }
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_mount(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                       void *userdata)
{
        struct oci_mount *m = elem;
        int r;
        if ((r = get_string(c, o, "destination", REQUIRED, &m->destination)) < 0)
                return r;
        if (!m->destination[0])
                return ctx_fail_key(c, "destination", "must not be empty");
        if ((r = get_string(c, o, "type", OPTIONAL, &m->type)) < 0 ||
            (r = get_string(c, o, "source", OPTIONAL, &m->source)) < 0 ||
            (r = get_strv(c, o, "options", &m->options)) < 0 ||
            (r = parse_id_mappings(c, o, "uidMappings", &m->uid_mappings, &m->n_uid_mappings)) <
                0 ||
            (r = parse_id_mappings(c, o, "gidMappings", &m->gid_mappings, &m->n_gid_mappings)) < 0)
                return r;
        return 0;
}

static int parse_mounts(struct spec_ctx *c, const struct json *top, struct oci_spec *s)
{
        return get_object_array(c, top, "mounts", sizeof(*s->mounts), (void **)&s->mounts,
                                &s->n_mounts, parse_mount, NULL);
}

static int parse_hook(struct spec_ctx *c, const struct json *o, void *elem, size_t idx,
                      void *userdata)
{
        struct oci_hook *h = elem;
        int r;
        if ((r = get_string(c, o, "path", REQUIRED, &h->path)) < 0)
                return r;
        if (h->path[0] != '/')
                return ctx_fail_key(c, "path", "'%s' is not an absolute path", h->path);
        if ((r = get_strv(c, o, "args", &h->args)) < 0 || (r = get_strv(c, o, "env", &h->env)) < 0)
                return r;
        int32_t t = 0;
        if ((r = get_i32(c, o, "timeout", OPTIONAL, &t)) < 0)
                return r;
        if (r > 0 && t <= 0)
                return ctx_fail_key(c, "timeout", "%d is not a positive number of seconds", t);
        h->has_timeout = r > 0;
        h->timeout = t;
        return 0;
}

static int parse_hooks(struct spec_ctx *c, const struct json *top, struct oci_spec *s)
{
        const struct json *o = NULL;
        size_t saved = ctx_push_key(c, "hooks");
        int r = val_object(c, json_get(top, "hooks"), &o);
        for (int k = 0; r > 0 && k < _OCI_HOOK_KIND_MAX; k++) {
                struct oci_hook_list *l = &s->hooks[k];
                int q = get_object_array(c, o, oci_hook_kind_name((enum oci_hook_kind)k),
                                         sizeof(*l->v), (void **)&l->v, &l->n, parse_hook, NULL);
                if (q < 0)
                        r = q;
        }
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

static int parse_spec(struct spec_ctx *c, const struct json *top, struct oci_spec *s)
{
        int r;
        if ((r = get_string(c, top, "ociVersion", REQUIRED, &s->oci_version)) < 0)
                return r;
        if (!s->oci_version[0])
                return ctx_fail_key(c, "ociVersion", "must not be empty");
        if ((r = parse_root(c, top, s)) < 0)
                return r;
        const struct json *po = NULL;
        size_t saved = ctx_push_key(c, "process");
        r = val_object(c, json_get(top, "process"), &po);
        if (r > 0) {
                s->process = xcalloc(1, sizeof(*s->process));
                r = parse_process_obj(c, po, s->process);
        }
        ctx_pop(c, saved);
        if (r < 0)
                return r;
        if ((r = get_string(c, top, "hostname", OPTIONAL, &s->hostname)) < 0 ||
            (r = get_string(c, top, "domainname", OPTIONAL, &s->domainname)) < 0 ||
            (r = parse_mounts(c, top, s)) < 0 || (r = parse_hooks(c, top, s)) < 0 ||
            (r = get_string_map(c, top, "annotations", &s->annotations, &s->n_annotations)) < 0)
                return r;
        saved = ctx_push_key(c, "linux");
        r = parse_linux(c, json_get(top, "linux"), &s->linux_);
        ctx_pop(c, saved);
        return r < 0 ? r : 0;
}

int oci_spec_parse(const char *buf, size_t len, struct oci_spec **ret, struct berth_error **err)
{
        struct spec_ctx c = {.path = BERTH_BUF_INIT, .err = err};
        _cleanup_json_ struct json *j = NULL;
        _cleanup_oci_spec_ struct oci_spec *s = xcalloc(1, sizeof(*s));
        int r = parse_top_object(&c, buf, len, &j);
        if (r >= 0)
                r = parse_spec(&c, j, s);
        buf_release(&c.path);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int oci_spec_load_bundle(const char *bundle, struct oci_spec **ret, struct berth_error **err)
{
        /* runc treats an empty --bundle as the current directory. */
        _cleanup_free_ char *path = xasprintf("%s/config.json", bundle && *bundle ? bundle : ".");
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return berth_error_sys(err, errno, "open '%s'", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_sys(err, errno, "stat '%s'", path);
        if (!S_ISREG(st.st_mode))
                return berth_error_set(err, EINVAL, "'%s' is not a regular file", path);
        if ((uint64_t)st.st_size > OCI_CONFIG_MAX_SIZE)
                return berth_error_set(err, EFBIG, "'%s' is larger than %u bytes", path,
                                       OCI_CONFIG_MAX_SIZE);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = read_full_fd(fd, OCI_CONFIG_MAX_SIZE, &buf, &len);
        if (r == -EFBIG)
                return berth_error_set(err, EFBIG, "'%s' is larger than %u bytes", path,
                                       OCI_CONFIG_MAX_SIZE);
        if (r < 0)
                return berth_error_sys(err, -r, "read '%s'", path);
        r = oci_spec_parse(buf, len, ret, err);
        if (r < 0)
                return berth_error_prefix(err, "'%s'", path);
        return 0;
}

void oci_spec_free(struct oci_spec *s)
{
        if (!s)
                return;
        free(s->oci_version);
        if (s->root) {
                free(s->root->path);
                free(s->root);
        }
        oci_process_free(s->process);
        free(s->hostname);
        free(s->domainname);
        for (size_t i = 0; i < s->n_mounts; i++) {
                struct oci_mount *m = &s->mounts[i];
                free(m->destination);
                free(m->type);
                free(m->source);
                strv_free(m->options);
                free(m->uid_mappings);
                free(m->gid_mappings);
        }
        free(s->mounts);
        for (int k = 0; k < _OCI_HOOK_KIND_MAX; k++) {
                for (size_t i = 0; i < s->hooks[k].n; i++) {
                        free(s->hooks[k].v[i].path);
                        strv_free(s->hooks[k].v[i].args);
                        strv_free(s->hooks[k].v[i].env);
                }
                free(s->hooks[k].v);
        }
        kv_free(s->annotations, s->n_annotations);
        oci_linux_free(s->linux_);
        free(s);
}
