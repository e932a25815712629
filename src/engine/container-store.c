/*
 * container-store.c — container records: the in-memory table, berth.db rows,
 * lookup by id, prefix and name, generated names, and container events
 * (contract in containers.h).
 *
 * A row holds the container's identity (id, name, image, creation time), its
 * configuration as one JSON document ({"Config","HostConfig",
 * "NetworkingConfig","ImageRef","Platform","CreatedNs"}) and its state as
 * another (ctr_state_json).  Creation is one INSERT, a state change one
 * UPDATE, removal one DELETE: each a single statement, so a crash leaves a
 * container whole or absent.  The table in memory mirrors the rows and is
 * what lookups and lists read.
 *
 * Never: change a row outside the table lock's order (take the lock, change
 * memory, then write the row), or hand out a container without a reference.
 */
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/log.h"
#include "base/units.h"
#include "container-internal.h"

int64_t ctr_now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ctr_format_time(int64_t ns, char out[64])
{
        if (ns <= 0) {
                strcpy(out, "0001-01-01T00:00:00Z");
                return;
        }
        units_rfc3339_nano(ns, false, out);
}

const char *ctr_state_name(enum ctr_state s)
{
        switch (s) {
        case CTR_CREATED:
                return "created";
        case CTR_RUNNING:
                return "running";
        case CTR_PAUSED:
                return "paused";
        case CTR_RESTARTING:
                return "restarting";
        case CTR_REMOVING:
                return "removing";
        case CTR_EXITED:
                return "exited";
        case CTR_DEAD:
                return "dead";
        }
        return "unknown";
}

static enum ctr_state state_from_name(const char *s)
{
        static const enum ctr_state all[] = {CTR_CREATED,  CTR_RUNNING, CTR_PAUSED, CTR_RESTARTING,
                                             CTR_REMOVING, CTR_EXITED,  CTR_DEAD};
        for (size_t i = 0; s && i < ELEMENTSOF(all); i++)
                if (strcmp(s, ctr_state_name(all[i])) == 0)
                        return all[i];
        return CTR_EXITED;
}

struct ctr_manager *ctr_mgr(struct berth_engine *e)
{
        return e->containers;
}

char *ctr_run_dir(struct ctr_manager *m, const struct berth_ctr *c)
{
        return xasprintf("%s/%s", m->run_root, c->id);
}

char *ctr_data_dir(struct ctr_manager *m, const struct berth_ctr *c)
{
        return xasprintf("%s/containers/%s", m->data_root, c->id);
}

const char *berth_ctr_id(const struct berth_ctr *c)
{
        return c->id;
}

const char *berth_ctr_name(const struct berth_ctr *c)
{
        return c->name;
}

bool berth_ctr_tty(struct berth_ctr *c)
{
        const struct json *t = json_get(c->config, "Tty");
        return json_is(t, JSON_BOOL) && t->b;
}

/* ---- references ---- */

void ctr_ref(struct berth_ctr *c)
{
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
}

static void ctr_free(struct berth_ctr *c)
{
        for (struct pending_attach *p = c->pending; p;) {
                struct pending_attach *next = p->next;
                if (p->fd >= 0)
                        close(p->fd);
                free(p->detach_keys);
                free(p->payload);
                free(p);
                p = next;
        }
        if (c->pidfd >= 0)
                close(c->pidfd);
        json_free(c->config);
        json_free(c->host_config);
        json_free(c->networking);
        json_free(c->mounts);
        json_free(c->net);
        json_free(c->health);
        pthread_mutex_destroy(&c->op_lock);
        free(c->name);
        free(c->image_id);
        free(c->image_ref);
        free(c->platform);
        free(c->cgroups_path);
        free(c->error);
        free(c);
}

void berth_ctr_unref(struct berth_ctr *c)
{
        if (!c)
                return;
        if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
                ctr_free(c);
}

/* ---- lookup ---- */

struct berth_ctr *ctr_find_locked(struct ctr_manager *m, const char *ref, int *ret_err)
{
        *ret_err = -ENOENT;
        if (!ref || !*ref)
                return NULL;
        const char *name = ref[0] == '/' ? ref + 1 : ref;
        /* a full id, then a name, then a unique prefix (dockerd's order) */
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i]->id, ref) == 0)
                        return m->v[i];
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i]->name + 1, name) == 0)
                        return m->v[i];
        size_t len = strlen(ref);
        struct berth_ctr *found = NULL;
        for (size_t i = 0; i < m->n; i++)
                if (strncmp(m->v[i]->id, ref, len) == 0) {
                        if (found) {
                                *ret_err = -EBUSY;
                                return NULL;
                        }
                        found = m->v[i];
                }
        return found;
}

int berth_ctr_get(struct berth_engine *e, const char *ref, struct berth_ctr **ret,
                  struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        int code = 0;
        struct berth_ctr *c = ctr_find_locked(m, ref, &code);
        if (c)
                __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
        pthread_mutex_unlock(&m->lock);
        if (!c) {
                if (code == -EBUSY)
                        return berth_error_set(err, EINVAL,
                                               "multiple IDs found with provided prefix: %s", ref);
                return berth_error_set(err, ENOENT, "No such container: %s", ref);
        }
        *ret = c;
        return 0;
}

bool ctr_name_valid(const char *name)
{
        if (!name || !*name)
                return false;
        const char *p = name[0] == '/' ? name + 1 : name;
        if (!*p)
                return false;
        if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z') ||
              (p[0] >= '0' && p[0] <= '9')))
                return false;
        if (!p[1])
                return false; /* docker's pattern wants at least two characters */
        for (const char *c = p + 1; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
                        return false;
        return true;
}

/* ---- names ---- */

/* Ours, in docker's adjective_surname shape: qualities, and people who built
 * the systems containers stand on (after 10 taken tries a digit is added). */
static const char *const adjectives[] = {
    "agile",   "amber",   "brave",   "brisk",  "calm",    "careful", "clever",   "cosmic",
    "crisp",   "curious", "daring",  "deft",   "eager",   "earnest", "fearless", "fond",
    "gentle",  "glad",    "golden",  "happy",  "hardy",   "honest",  "humble",   "jolly",
    "keen",    "kind",    "lively",  "loyal",  "lucid",   "merry",   "mighty",   "modest",
    "nimble",  "noble",   "patient", "placid", "plucky",  "polite",  "proud",    "quiet",
    "radiant", "rapid",   "ready",   "serene", "sharp",   "silent",  "sleek",    "smart",
    "snappy",  "solid",   "spry",    "steady", "stoic",   "sunny",   "swift",    "tender",
    "thrifty", "tidy",    "trusty",  "upbeat", "vibrant", "vivid",   "warm",     "witty",
    "zealous", "zen",
};
static const char *const surnames[] = {
    "allen",      "babbage",    "backus",    "baran",    "bell",     "berners",   "bosack",
    "cerf",       "codd",       "conway",    "corbato",  "dijkstra", "engelbart", "estrin",
    "feigenbaum", "floyd",      "goldberg",  "gray",     "hamming",  "hamilton",  "hoare",
    "hopper",     "huffman",    "kahn",      "karp",     "kay",      "kernighan", "knuth",
    "lamport",    "lampson",    "liskov",    "lovelace", "mccarthy", "mcilroy",   "metcalfe",
    "minsky",     "moore",      "naur",      "neumann",  "newell",   "nygaard",   "perlman",
    "pike",       "postel",     "rabin",     "raymond",  "ritchie",  "rivest",    "shamir",
    "shannon",    "sutherland", "tanenbaum", "thompson", "torvalds", "turing",    "wheeler",
    "wilkes",     "wirth",      "wozniak",   "yao",
};

char *ctr_generate_name(struct berth_engine *e)
{
        struct ctr_manager *m = ctr_mgr(e);
        for (int attempt = 0;; attempt++) {
                uint32_t r[2];
                if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
                        r[0] = (uint32_t)rand();
                        r[1] = (uint32_t)rand();
                }
                char *n = attempt < 10
                              ? xasprintf("/%s_%s", adjectives[r[0] % ELEMENTSOF(adjectives)],
                                          surnames[r[1] % ELEMENTSOF(surnames)])
                              : xasprintf("/%s_%s%u", adjectives[r[0] % ELEMENTSOF(adjectives)],
                                          surnames[r[1] % ELEMENTSOF(surnames)], r[1] % 10);
                bool taken = false;
                for (size_t i = 0; i < m->n; i++)
                        taken |= strcmp(m->v[i]->name, n) == 0;
                if (!taken)
                        return n;
                free(n);
        }
}

/* ---- state as JSON (the row's state column) ---- */

struct json *ctr_state_json(const struct berth_ctr *c)
{
        struct json *j = json_new_object();
        json_set_str(j, "Status", ctr_state_name(c->state));
        json_set_int(j, "Pid", c->pid);
        json_set_int(j, "ShimPid", c->shim_pid);
        json_object_set(j, "ShimStart", json_new_uint(c->shim_start));
        json_set_int(j, "ExitCode", c->exit_code);
        json_set_str(j, "Error", c->error ? c->error : "");
        json_set_bool(j, "OOMKilled", c->oom_killed);
        json_set_int(j, "StartedNs", c->started_ns);
        json_set_int(j, "FinishedNs", c->finished_ns);
        json_set_int(j, "RestartCount", c->restart_count);
        json_set_bool(j, "ManualStop", c->manual_stop);
        json_set_bool(j, "HasStarted", c->has_started);
        if (c->cgroups_path)
                json_set_str(j, "CgroupsPath", c->cgroups_path);
        if (c->health)
                json_object_set(j, "Health", json_copy(c->health));
        if (c->net)
                json_object_set(j, "Net", json_copy(c->net));
        return j;
}

void ctr_state_from_json(struct berth_ctr *c, const struct json *j)
{
        c->state = state_from_name(json_str(json_get(j, "Status")));
        c->pid = (pid_t)jint(j, "Pid");
        c->shim_pid = (pid_t)jint(j, "ShimPid");
        const struct json *ss = json_get(j, "ShimStart");
        c->shim_start = json_is(ss, JSON_NUMBER) && (ss->num.flags & JSON_NUM_UINT) ? ss->num.u : 0;
        c->exit_code = (int)jint(j, "ExitCode");
        const char *er = json_str(json_get(j, "Error"));
        free(c->error);
        c->error = er && *er ? xstrdup(er) : NULL;
        c->oom_killed = jbool(j, "OOMKilled");
        c->started_ns = jint(j, "StartedNs");
        c->finished_ns = jint(j, "FinishedNs");
        c->restart_count = (int)jint(j, "RestartCount");
        c->manual_stop = jbool(j, "ManualStop");
        c->has_started = jbool(j, "HasStarted");
        const char *cg = json_str(json_get(j, "CgroupsPath"));
        free(c->cgroups_path);
        c->cgroups_path = cg && *cg ? xstrdup(cg) : NULL;
        const struct json *h = json_get(j, "Health");
        json_free(c->health);
        c->health = json_is(h, JSON_OBJECT) ? json_copy(h) : NULL;
        const struct json *net = json_get(j, "Net");
        json_free(c->net);
        c->net = json_is(net, JSON_OBJECT) ? json_copy(net) : NULL;
}

/* ---- rows ---- */

static struct json *config_doc(const struct berth_ctr *c)
{
        struct json *j = json_new_object();
        json_object_set(j, "Config", json_copy(c->config));
        json_object_set(j, "HostConfig", json_copy(c->host_config));
        json_object_set(j, "NetworkingConfig",
                        c->networking ? json_copy(c->networking) : json_new_object());
        json_object_set(j, "MountPoints", c->mounts ? json_copy(c->mounts) : json_new_array());
        json_set_str(j, "ImageRef", c->image_ref);
        json_set_str(j, "Platform", c->platform);
        json_set_int(j, "CreatedNs", c->created_ns);
        return j;
}

static int bind_step(sqlite3 *h, sqlite3_stmt *st, struct berth_error **err)
{
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return berth_error_set(err, rc == SQLITE_CONSTRAINT ? EEXIST : EIO, "database: %s",
                                       sqlite3_errmsg(h));
        return 0;
}

/* The caller holds the table lock (create inserts and adds to the table in one step). */
int ctr_insert(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h,
                               "INSERT INTO containers (id, name, image_id, created, config, "
                               "state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                               -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        _cleanup_json_ struct json *cfg = config_doc(c);
        _cleanup_json_ struct json *state = ctr_state_json(c);
        _cleanup_free_ char *cfg_text = json_dump(cfg, 0);
        _cleanup_free_ char *state_text = json_dump(state, 0);
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->image_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, c->created_ns / 1000000000);
        sqlite3_bind_text(st, 5, cfg_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, state_text, -1, SQLITE_STATIC);
        return bind_step(h, st, err);
}

int ctr_save(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h,
                               "UPDATE containers SET name = ?2, config = ?3, state = ?4 "
                               "WHERE id = ?1",
                               -1, &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        /* the documents are taken under the table lock (health results, updates and
         * renames change them under it) and written without it */
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        _cleanup_json_ struct json *cfg = config_doc(c);
        _cleanup_json_ struct json *state = ctr_state_json(c);
        _cleanup_free_ char *name = xstrdup(c->name);
        pthread_mutex_unlock(&m->lock);
        _cleanup_free_ char *cfg_text = json_dump(cfg, 0);
        _cleanup_free_ char *state_text = json_dump(state, 0);
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, cfg_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, state_text, -1, SQLITE_STATIC);
        return bind_step(h, st, err);
}

int ctr_save_state(struct berth_engine *e, struct berth_ctr *c)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "UPDATE containers SET state = ?2 WHERE id = ?1", -1, &st,
                               NULL) != SQLITE_OK)
                return -EIO;
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        _cleanup_json_ struct json *state = ctr_state_json(c);
        pthread_mutex_unlock(&m->lock);
        _cleanup_free_ char *text = json_dump(state, 0);
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        _cleanup_error_ struct berth_error *err = NULL;
        int r = bind_step(h, st, &err);
        if (r < 0)
                log_error("container %.12s: save state: %s", c->id, berth_error_msg(err));
        return r;
}

int ctr_delete_record(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err)
{
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "DELETE FROM containers WHERE id = ?1", -1, &st, NULL) !=
            SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        return bind_step(h, st, err);
}

/* ---- events ---- */

void ctr_event(struct berth_engine *e, struct berth_ctr *c, const char *action,
               const char *const *extra)
{
        /* dockerd's container attributes: image, name, the labels, then the action's own */
        const char *attrs[128];
        size_t n = 0;
        attrs[n++] = "image";
        attrs[n++] = c->image_ref ? c->image_ref : c->image_id;
        attrs[n++] = "name";
        attrs[n++] = c->name + 1;
        const struct json *labels = json_get(c->config, "Labels");
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (labels, i, k, v) {
                if (n + 4 >= ELEMENTSOF(attrs) - 8 || !json_str(v))
                        break;
                attrs[n++] = k;
                attrs[n++] = json_str(v);
        }
        for (; extra && *extra && n + 2 < ELEMENTSOF(attrs); extra += 2) {
                attrs[n++] = extra[0];
                attrs[n++] = extra[1];
        }
        attrs[n] = NULL;
        berth_events_publish(e->events, "container", action, c->id, attrs);
}
