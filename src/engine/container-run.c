/*
 * container-run.c — a container's life: create, start through berth-shim,
 * stop, kill, pause, wait, remove; the monitor thread that sees shims end;
 * restart policies; and reconciliation at daemon start (contract in
 * containers.h, the shim's side in shim/protocol.h).
 *
 * Start: mount the root filesystem (image/snapshot.h) at
 * <data-root>/containers/<id>/rootfs, write config.json there, write
 * shim.json into <exec-root>/containers/<id>/, run berth-shim (posix_spawn;
 * it daemonizes and prints one line), open a pidfd on the monitor it
 * reports, hand over the attach streams waiting in the container, then ask
 * it to start the process.  Every failure on the way takes down what was
 * made, in reverse order.
 *
 * The monitor thread waits on the shims' pidfds, the exec connections
 * (container-exec.c) and a wake-up eventfd, with a timeout that is the next
 * scheduled restart.  A pidfd that turns readable means the shim has ended;
 * its exit record (or its absence: killed) becomes the container's state,
 * the root filesystem is unmounted, waiters are woken, and then --rm removes
 * the container or the restart policy schedules a start with docker's
 * back-off (100 ms doubling to 1 min, back to 100 ms after 10 s of running).
 *
 * At daemon start every record is looked at again: a running one whose shim
 * is alive (pid and start time from shim.pid) is watched again (live
 * restore); one whose shim is gone takes its exit record, or "killed" when
 * there is none (a wiped exec root after a reboot too); one caught in the
 * middle of a start has its leftovers removed.  Then restart policies apply
 * as dockerd applies them at its start.
 *
 * Never: hold the table lock across a spawn, a mount or a shim call; signal a
 * process through a pid that may have been reused (the runtime uses pidfds).
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "base/buf.h"
#include "base/crashpoint.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/units.h"
#include "container-internal.h"
#include "volumes.h"
#include "image/reference.h"
#include "image/snapshot.h"
#include "images.h"
#include "oci/image-spec.h"
#include "runtime/container.h"
#include "shim/protocol.h"

extern char **environ;

#define BACKOFF_MIN_MS   100
#define BACKOFF_MAX_MS   60000
#define STOP_DEFAULT_SEC 10
#define KILL_WAIT_MS     10000 /* for an exit after SIGKILL, as dockerd waits */

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

static struct berth_runtime runtime_of(struct ctr_manager *m)
{
        return (struct berth_runtime){.root = m->runtime_root, .seccomp_cache = m->seccomp_cache};
}

/* ---- the monitor's registrations ---- */

enum watch_kind { WATCH_SHIM = 1, WATCH_WAKE };

struct mon_watch {
        enum watch_kind kind;
        void *obj;
};

static struct mon_watch wake_watch = {WATCH_WAKE, NULL};

void ctr_monitor_wake(struct ctr_manager *m)
{
        uint64_t one = 1;
        (void)write(m->wake_fd, &one, sizeof(one));
}

/* Exec connections are named by their record's sequence number, not a pointer:
 * a record may go (container removed) while an event for it is in flight. */
#define EXEC_TAG_BIT (1ull << 63)

void ctr_monitor_watch(struct ctr_manager *m, int fd, uint64_t exec_seq)
{
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EXEC_TAG_BIT | exec_seq};
        if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                log_warn("containers: watch exec connection: %s", strerror(errno));
}

static void watch_shim(struct ctr_manager *m, struct berth_ctr *c)
{
        struct mon_watch *w = xcalloc(1, sizeof(*w));
        w->kind = WATCH_SHIM;
        w->obj = c;
        ctr_ref(c);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
        if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, c->pidfd, &ev) < 0)
                log_error("container %.12s: watch shim: %s", c->id, strerror(errno));
}

/* ---- the shim's files and socket ---- */

static int read_shim_pid(const char *run_dir, pid_t *ret_pid, uint64_t *ret_start)
{
        _cleanup_free_ char *path = xasprintf("%s/" SHIM_PIDFILE, run_dir);
        _cleanup_free_ char *text = NULL;
        if (read_file_at(AT_FDCWD, path, 128, &text, NULL) < 0)
                return -ENOENT;
        unsigned long long start = 0;
        int pid = 0;
        if (sscanf(text, "%d %llu", &pid, &start) != 2 || pid <= 0)
                return -EINVAL;
        *ret_pid = pid;
        *ret_start = start;
        return 0;
}

static uint64_t proc_starttime(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_free_ char *stat = NULL;
        if (read_file_at(AT_FDCWD, path, 4096, &stat, NULL) < 0)
                return 0;
        const char *p = strrchr(stat, ')');
        if (!p)
                return 0;
        p += 2;
        for (int field = 3; field < 22 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        return p ? strtoull(p, NULL, 10) : 0;
}

static int connect_shim(struct ctr_manager *m, struct berth_ctr *c, struct berth_error **err)
{
        _cleanup_free_ char *dir = ctr_run_dir(m, c);
        /* through an fd of the run dir: its path may be longer than sun_path holds */
        _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return berth_error_sys(err, errno, "container %.12s: its run dir", c->id);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/" SHIM_SOCKET, dirfd);
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_sys(err, errno, "shim socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = berth_error_sys(err, errno, "container %.12s: connect to its shim", c->id);
                close(fd);
                return r;
        }
        struct timeval tv = {.tv_sec = 30};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

int ctr_shim_connect(struct ctr_manager *m, struct berth_ctr *c, struct berth_error **err)
{
        return connect_shim(m, c, err);
}

/*
 * A shim that cannot be reached or does not answer is usually ending with its
 * container (a stop, an exit racing the request): then the answer is docker's
 * "not running", not a transport error.  Waits up to 2 s for the monitor's
 * pidfd to tell.
 */
static int shim_unreachable(struct ctr_manager *m, struct berth_ctr *c, int r,
                            struct berth_error **err)
{
        pthread_mutex_lock(&m->lock);
        int pfd = c->pidfd >= 0 ? fcntl(c->pidfd, F_DUPFD_CLOEXEC, 0) : -1;
        bool running = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
        pthread_mutex_unlock(&m->lock);
        bool ended = !running;
        if (pfd >= 0) {
                struct pollfd p = {.fd = pfd, .events = POLLIN};
                ended = ended || poll(&p, 1, 2000) > 0;
                close(pfd);
        }
        if (!ended)
                return r;
        if (err) {
                berth_error_free(*err);
                *err = NULL;
        }
        return berth_error_set(err, EBUSY, "Container %s is not running", c->id);
}

static int shim_call_once(struct ctr_manager *m, struct berth_ctr *c, const struct json *req,
                          int fd, const void *payload, size_t payload_len, struct json **ret_reply,
                          int *ret_conn, bool *ret_transport, struct berth_error **err);

int ctr_shim_call(struct ctr_manager *m, struct berth_ctr *c, const struct json *req, int fd,
                  const void *payload, size_t payload_len, struct json **ret_reply, int *ret_conn,
                  struct berth_error **err)
{
        bool transport = false;
        int r = shim_call_once(m, c, req, fd, payload, payload_len, ret_reply, ret_conn, &transport,
                               err);
        if (r < 0 && transport)
                r = shim_unreachable(m, c, r, err);
        return r;
}

static int shim_call_once(struct ctr_manager *m, struct berth_ctr *c, const struct json *req,
                          int fd, const void *payload, size_t payload_len, struct json **ret_reply,
                          int *ret_conn, bool *ret_transport, struct berth_error **err)
{
        *ret_transport = true;
        int conn = connect_shim(m, c, err);
        if (conn < 0)
                return conn;
        _cleanup_free_ char *text = json_dump(req, 0);
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, text);
        if (payload_len) {
                buf_putc(&b, '\n');
                buf_append(&b, payload, payload_len);
        }
        if (b.len > SHIM_MSG_MAX) {
                buf_release(&b);
                close(conn);
                return berth_error_set(err, E2BIG, "shim request too large");
        }
        char cbuf[CMSG_SPACE(sizeof(int))];
        memset(cbuf, 0, sizeof(cbuf));
        struct iovec iov = {.iov_base = b.data, .iov_len = b.len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0) {
                mh.msg_control = cbuf;
                mh.msg_controllen = sizeof(cbuf);
                struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        }
        ssize_t n;
        do
                n = sendmsg(conn, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        buf_release(&b);
        if (n < 0) {
                int r = berth_error_sys(err, errno, "container %.12s: talk to its shim", c->id);
                close(conn);
                return r;
        }
        char reply[8192];
        do
                n = recv(conn, reply, sizeof(reply) - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
                int r =
                    berth_error_set(err, EIO, "container %.12s: its shim did not answer", c->id);
                close(conn);
                return r;
        }
        reply[n] = '\0';
        *ret_transport = false;
        _cleanup_json_ struct json *j = NULL;
        if (json_parse(reply, (size_t)n, &j, NULL) < 0) {
                close(conn);
                return berth_error_set(err, EIO, "container %.12s: garbled answer from its shim",
                                       c->id);
        }
        const char *e = json_str(json_get(j, "Error"));
        if (e && *e) {
                close(conn);
                return berth_error_set(err, EIO, "%s", e);
        }
        if (ret_conn)
                *ret_conn = conn;
        else
                close(conn);
        if (ret_reply)
                *ret_reply = TAKE_PTR(j);
        return 0;
}

/* ---- create ---- */

static void random_id(char out[65])
{
        unsigned char b[32];
        if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
                for (size_t i = 0; i < sizeof(b); i++)
                        b[i] = (unsigned char)rand();
        for (size_t i = 0; i < sizeof(b); i++)
                snprintf(out + 2 * i, 3, "%02x", b[i]);
        /* docker's ids never look like a number (they would read as a short id) */
        if (strspn(out, "0123456789") == 64)
                out[0] = 'a';
}

static void table_add(struct ctr_manager *m, struct berth_ctr *c)
{
        if (m->n == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 64;
                m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
        }
        m->v[m->n++] = c;
        ctr_ref(c);
}

static void table_remove(struct ctr_manager *m, struct berth_ctr *c)
{
        for (size_t i = 0; i < m->n; i++)
                if (m->v[i] == c) {
                        m->v[i] = m->v[--m->n];
                        c->removed = true;
                        berth_ctr_unref(c);
                        return;
                }
}

static struct berth_ctr *ctr_alloc(void)
{
        struct berth_ctr *c = xcalloc(1, sizeof(*c));
        c->refs = 1;
        c->pidfd = -1;
        pthread_mutex_init(&c->op_lock, NULL);
        return c;
}

/* dockerd's check of create's platform against the image it found: no match is a 404
 * (the CLI then pulls that platform), in its words. */
static int check_platform(struct berth_engine *e, const char *ref, const char *image_id,
                          const char *platform, struct berth_error **err)
{
        struct oci_platform want = {0}, have = {0};
        int r = oci_platform_parse(platform, &want, err);
        if (r < 0)
                return r;
        _cleanup_image_ struct berth_image *img = NULL;
        _cleanup_json_ struct json *cfg = NULL;
        r = berth_image_find(e, image_id, &img, err);
        if (r == 0)
                r = berth_image_config(e, img, &cfg, err);
        if (r == 0) {
                have.os = xstrdup(json_str(json_get(cfg, "os")) ?: "linux");
                have.architecture = xstrdup(json_str(json_get(cfg, "architecture")) ?: "amd64");
                const char *variant = json_str(json_get(cfg, "variant"));
                have.variant = variant && *variant ? xstrdup(variant) : NULL;
                oci_platform_normalize(&have);
                if (oci_platform_match(&want, &have) == 0) {
                        _cleanup_free_ char *w = oci_platform_format(&want);
                        _cleanup_free_ char *h = oci_platform_format(&have);
                        r = berth_error_set(err, ENOENT,
                                            "image with reference %s was found but does not match "
                                            "the specified platform: wanted %s, actual: %s",
                                            ref, w, h);
                }
        }
        oci_platform_release(&want);
        oci_platform_release(&have);
        return r;
}

int berth_ctr_create(struct berth_engine *e, const char *name, const struct json *body,
                     const char *platform, char **ret_id, char ***ret_warnings,
                     struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (name && *name && !ctr_name_valid(name))
                return berth_error_set(
                    err, EINVAL,
                    "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                    "are allowed",
                    name);
        _cleanup_json_ struct json *cfg = NULL, *hc = NULL, *net = NULL;
        char **warnings = NULL;
        _cleanup_free_ char *image_id = NULL;
        int r = ctr_normalize_create(e, body, &cfg, &hc, &net, &image_id, &warnings, err);
        if (r == 0 && platform && *platform)
                r = check_platform(e, json_str(json_get(cfg, "Image")), image_id, platform, err);
        if (r < 0) {
                strv_free(warnings);
                return r;
        }
        struct berth_ctr *c = ctr_alloc();
        random_id(c->id);
        c->image_id = TAKE_PTR(image_id);
        c->image_ref = xstrdup(json_str(json_get(cfg, "Image")));
        c->created_ns = ctr_now_ns();
        c->config = TAKE_PTR(cfg);
        c->host_config = TAKE_PTR(hc);
        c->networking = TAKE_PTR(net);
        c->platform = platform && *platform ? xstrdup(platform) : NULL;
        c->state = CTR_CREATED;
        /* the volumes it names are made, and recorded as its, under the volumes lock: no
         * volume remove or prune sees one between the two */
        berth_volumes_lock(e);
        r = ctr_resolve_mounts(e, c->config, c->host_config, &c->mounts, err);
        if (r < 0) {
                berth_volumes_unlock(e);
                strv_free(warnings);
                berth_ctr_unref(c);
                return r;
        }
        pthread_mutex_lock(&m->lock);
        if (name && *name) {
                const char *want = name[0] == '/' ? name + 1 : name;
                for (size_t i = 0; i < m->n; i++)
                        if (strcmp(m->v[i]->name + 1, want) == 0) {
                                r = berth_error_set(err, EEXIST,
                                                    "Conflict. The container name \"/%s\" is "
                                                    "already in use by container \"%s\". You have "
                                                    "to remove (or rename) that container to be "
                                                    "able to reuse that name.",
                                                    want, m->v[i]->id);
                                break;
                        }
                c->name = xasprintf("/%s", want);
        } else {
                c->name = ctr_generate_name(e);
        }
        if (r == 0)
                r = ctr_insert(e, c, err);
        if (r == 0)
                table_add(m, c);
        pthread_mutex_unlock(&m->lock);
        if (r < 0)
                ctr_forget_anonymous(e, c->mounts);
        berth_volumes_unlock(e);
        if (r < 0) {
                strv_free(warnings);
                berth_ctr_unref(c);
                return r;
        }
        crashpoint("create-recorded");
        ctr_event(e, c, "create", NULL);
        *ret_id = xstrdup(c->id);
        *ret_warnings = warnings;
        berth_ctr_unref(c);
        return 0;
}

/* ---- start ---- */

static int mount_rootfs(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_strv_free_ char **chains = NULL;
        size_t n = 0;
        int r = ctr_image_chain_ids(e, c->image_id, &chains, &n, err);
        if (r < 0)
                return r;
        if (n == 0) {
                /* an image without layers (FROM scratch with only metadata): an empty lower */
                _cleanup_free_ char *empty =
                    xasprintf("%s/containers/%s/empty", m->data_root, c->id);
                r = mkdir_p(empty, 0755);
                if (r < 0)
                        return berth_error_sys(err, -r, "create '%s'", empty);
        }
        /* the last run's overlay, if still held, and a mount left by a crash go */
        ctr_rootfs_release(m, c->id);
        (void)snapshot_unmount(m->data_root, c->id, NULL, NULL);
        r = snapshot_mount(m->data_root, c->id, (const char *const *)chains, n, NULL, err);
        if (r < 0)
                return berth_error_prefix(err, "container %.12s: mount root filesystem", c->id);
        return 0;
}

static void unmount_rootfs(struct ctr_manager *m, struct berth_ctr *c)
{
        _cleanup_error_ struct berth_error *err = NULL;
        if (snapshot_unmount(m->data_root, c->id, NULL, &err) < 0)
                log_warn("%s", berth_error_msg(err));
}


/*
 * The json-file and local drivers' options, read as dockerd reads them when it
 * starts the container's logger (a bad value fails the start, not the create,
 * in dockerd's words): max-size in decimal units (units.FromHumanSize), at
 * least 1; max-file at least 1; compress Go's bool.  local keeps 5 compressed
 * files of 20 MiB unless told otherwise, as dockerd's local driver does.
 */
static int log_opts(const char *driver, const struct json *opts, int64_t *ret_size,
                    int64_t *ret_files, bool *ret_compress, struct berth_error **err)
{
        bool local = strcmp(driver, "local") == 0;
        int64_t size = local ? 20 * 1024 * 1024 : 0, files = local ? 5 : 1;
        bool compress = local;
        const char *v = json_str(json_get(opts, "max-size"));
        _cleanup_error_ struct berth_error *e = NULL;
        if (v) {
                if (units_from_human_size(v, &size, &e) < 0)
                        return berth_error_set(err, EINVAL,
                                               "failed to initialize logging driver: %s",
                                               berth_error_msg(e));
                if (size <= 0)
                        return berth_error_set(err, EINVAL,
                                               "failed to initialize logging driver: max-size "
                                               "must be a positive number");
        }
        if ((v = json_str(json_get(opts, "max-file")))) {
                char *end = NULL;
                errno = 0;
                long long n = strtoll(v, &end, 10);
                if (!*v || *end || errno)
                        return berth_error_set(err, EINVAL,
                                               "failed to initialize logging driver: "
                                               "strconv.Atoi: parsing \"%s\": %s",
                                               v, errno == ERANGE ? "value out of range"
                                                                  : "invalid syntax");
                if (n < 1)
                        return berth_error_set(err, EINVAL,
                                               "failed to initialize logging driver: max-file "
                                               "cannot be less than 1");
                files = n;
        }
        if ((v = json_str(json_get(opts, "compress"))) && units_parse_go_bool(v, &compress) < 0)
                return berth_error_set(err, EINVAL,
                                       "failed to initialize logging driver: "
                                       "strconv.ParseBool: parsing \"%s\": invalid syntax",
                                       v);
        *ret_size = size;
        *ret_files = files;
        *ret_compress = compress;
        return 0;
}

static int strcmp_p(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether name is listed in list ("a,b,c"). */
static bool in_list(const char *list, const char *name)
{
        size_t n = strlen(name);
        for (const char *p = list; *p;) {
                const char *comma = strchrnul(p, ',');
                if ((size_t)(comma - p) == n && strncmp(p, name, n) == 0)
                        return true;
                p = *comma ? comma + 1 : comma;
        }
        return false;
}

/* Whether re (an extended regular expression, unanchored as Go's MatchString) matches s;
 * -EINVAL with dockerd's words when it does not compile. */
static int log_re_match(const char *re, const char *s, struct berth_error **err)
{
        regex_t rx;
        int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
                char why[256];
                regerror(rc, &rx, why, sizeof(why));
                return berth_error_set(err, EINVAL,
                                       "failed to initialize logging driver: error parsing "
                                       "regexp: %s: `%s`",
                                       why, re);
        }
        int m = regexec(&rx, s, 0, NULL, 0) == 0;
        regfree(&rx);
        return m;
}

/*
 * The json-file driver's extra attributes (dockerd's Info.ExtraAttributes): the container's
 * labels named by --log-opt labels or matching labels-regex, its environment variables named
 * by env or matching env-regex; as JSON object text with sorted keys (Go's map encoding), or
 * NULL when there are none.
 */
static int log_attrs(const struct berth_ctr *c, const struct json *opts, char **ret,
                     struct berth_error **err)
{
        const char *labels = json_str(json_get(opts, "labels"));
        const char *labels_re = json_str(json_get(opts, "labels-regex"));
        const char *env = json_str(json_get(opts, "env"));
        const char *env_re = json_str(json_get(opts, "env-regex"));
        *ret = NULL;
        if (!(labels && *labels) && !(labels_re && *labels_re) && !(env && *env) &&
            !(env_re && *env_re))
                return 0;
        _cleanup_json_ struct json *extra = json_new_object();
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (json_get(c->config, "Labels"), i, k, v) {
                if (!json_str(v))
                        continue;
                int m = labels && in_list(labels, k);
                if (!m && labels_re && *labels_re && (m = log_re_match(labels_re, k, err)) < 0)
                        return m;
                if (m)
                        json_set_str(extra, k, json_str(v));
        }
        json_array_foreach (json_get(c->config, "Env"), i, v) {
                const char *kv = json_str(v);
                const char *eq = kv ? strchr(kv, '=') : NULL;
                if (!eq)
                        continue;
                _cleanup_free_ char *name = xstrndup(kv, (size_t)(eq - kv));
                int m = env && in_list(env, name);
                if (!m && env_re && *env_re && (m = log_re_match(env_re, name, err)) < 0)
                        return m;
                if (m)
                        json_set_str(extra, name, eq + 1);
        }
        size_t n = json_len(extra);
        if (n == 0)
                return 0;
        const char **keys = xcalloc(n, sizeof(*keys));
        size_t nk = 0;
        json_object_foreach (extra, i, k, v)
                keys[nk++] = k;
        qsort(keys, nk, sizeof(*keys), strcmp_p);
        _cleanup_json_ struct json *sorted = json_new_object();
        for (size_t j = 0; j < nk; j++)
                json_set_str(sorted, keys[j], json_str(json_get(extra, keys[j])));
        free(keys);
        *ret = json_dump(sorted, 0);
        return 0;
}

static int write_shim_config(struct ctr_manager *m, struct berth_ctr *c, const char *run_dir,
                             const char *bundle, struct berth_error **err)
{
        _cleanup_json_ struct json *j = json_new_object();
        json_set_str(j, "ID", c->id);
        json_set_str(j, "Bundle", bundle);
        json_set_str(j, "RuntimeRoot", m->runtime_root);
        json_set_str(j, "SeccompCache", m->seccomp_cache);
        json_set_bool(j, "Tty", berth_ctr_tty(c));
        const struct json *open = json_get(c->config, "OpenStdin");
        const struct json *once = json_get(c->config, "StdinOnce");
        json_set_bool(j, "OpenStdin", json_is(open, JSON_BOOL) && open->b);
        json_set_bool(j, "StdinOnce", json_is(once, JSON_BOOL) && once->b);
        const struct json *cs = json_get(c->host_config, "ConsoleSize");
        if (json_len(cs) == 2 && json_is(cs->arr.items[0], JSON_NUMBER) &&
            json_is(cs->arr.items[1], JSON_NUMBER)) {
                json_set_int(j, "Height", cs->arr.items[0]->num.i);
                json_set_int(j, "Width", cs->arr.items[1]->num.i);
        }
        const struct json *lc = json_get(c->host_config, "LogConfig");
        const char *driver = json_str(json_get(lc, "Type"));
        if (!driver || !*driver)
                driver = "json-file";
        json_set_str(j, "LogDriver", driver);
        _cleanup_free_ char *log_path =
            xasprintf("%s/containers/%s/%s-json.log", m->data_root, c->id, c->id);
        json_set_str(j, "LogPath", log_path);
        int64_t max_size = 0, max_file = 1;
        bool compress = false;
        int r = log_opts(driver, json_get(lc, "Config"), &max_size, &max_file, &compress, err);
        if (r < 0)
                return r;
        json_set_int(j, "LogMaxSize", max_size);
        json_set_int(j, "LogMaxFile", max_file);
        json_set_bool(j, "LogCompress", compress);
        _cleanup_free_ char *attrs = NULL;
        if (strcmp(driver, "json-file") == 0 &&
            (r = log_attrs(c, json_get(lc, "Config"), &attrs, err)) < 0)
                return r;
        if (attrs)
                json_set_str(j, "LogAttrs", attrs);
        _cleanup_free_ char *text = json_dump(j, 0);
        _cleanup_free_ char *path = xasprintf("%s/" SHIM_CONFIG, run_dir);
        r = write_file_at(AT_FDCWD, path, text, strlen(text), 0600);
        if (r < 0)
                return berth_error_sys(err, -r, "write '%s'", path);
        return 0;
}

/* Run berth-shim and read its one line: "ok <monitor> <init>" or "error <why>". */
static int spawn_shim(struct ctr_manager *m, struct berth_ctr *c, const char *run_dir,
                      pid_t *ret_shim, pid_t *ret_init, struct berth_error **err)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return berth_error_sys(err, errno, "pipe");
        _cleanup_free_ char *shim = xasprintf("%s/" SHIM_BINARY, m->shim_dir);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        char *argv[] = {(char *)shim, (char *)run_dir, NULL};
        char *envp[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        NULL};
        pid_t pid;
        int r = posix_spawn(&pid, shim, &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(p[1]);
        if (r != 0) {
                close(p[0]);
                return berth_error_sys(err, r, "run '%s'", shim);
        }
        char buf[4200];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len) &&
               (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                len += (size_t)n;
        }
        close(p[0]);
        buf[len] = '\0';
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        buf[strcspn(buf, "\n")] = '\0';
        int shim_pid = 0, init_pid = 0;
        if (strncmp(buf, "ok ", 3) == 0 && sscanf(buf + 3, "%d %d", &shim_pid, &init_pid) == 2) {
                *ret_shim = shim_pid;
                *ret_init = init_pid;
                return 0;
        }
        if (strncmp(buf, "error ", 6) == 0)
                return berth_error_set(err, EIO, "%s", buf + 6);
        return berth_error_set(err, EIO, "berth-shim exited with status %d and no word",
                               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* A start that failed: what the shim made goes (it ends itself once its init is gone). */
static void abort_shim(struct ctr_manager *m, struct berth_ctr *c, pid_t shim_pid)
{
        struct berth_runtime rt = runtime_of(m);
        struct berth_error *e = NULL;
        (void)berth_container_delete(&rt, c->id, true, &e);
        berth_error_free(e);
        int pfd = shim_pid > 0 ? pidfd_open_(shim_pid) : -1;
        if (pfd >= 0) {
                struct pollfd p = {.fd = pfd, .events = POLLIN};
                if (poll(&p, 1, 5000) == 0) {
                        (void)syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
                        (void)poll(&p, 1, 2000);
                }
                close(pfd);
        }
}

/* Docker's words for a process that could not run, and its exit code. */
static int start_failure_code(const char *msg)
{
        if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory"))
                return 127;
        if (strstr(msg, "permission denied") || strstr(msg, "is a directory") ||
            strstr(msg, "exec format error"))
                return 126;
        return 128;
}

static void pending_close_all(struct berth_ctr *c)
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
        c->pending = NULL;
}

static int hand_over_attaches(struct ctr_manager *m, struct berth_ctr *c, struct berth_error **err)
{
        pthread_mutex_lock(&m->lock);
        struct pending_attach *list = c->pending;
        c->pending = NULL;
        pthread_mutex_unlock(&m->lock);
        int r = 0;
        for (struct pending_attach *p = list; p;) {
                struct pending_attach *next = p->next;
                if (r == 0) {
                        _cleanup_json_ struct json *req = json_new_object();
                        json_set_str(req, "Op", "attach");
                        json_set_bool(req, "Stdin", p->in);
                        json_set_bool(req, "Stdout", p->out);
                        json_set_bool(req, "Stderr", p->err);
                        json_set_str(req, "DetachKeys", p->detach_keys);
                        r = ctr_shim_call(m, c, req, p->fd, p->payload, p->payload_len, NULL, NULL,
                                          err);
                }
                close(p->fd);
                free(p->detach_keys);
                free(p->payload);
                free(p);
                p = next;
        }
        return r;
}

/* c's process runs under the shim whose pidfd is given: recorded and watched. */
static void mark_running_locked(struct ctr_manager *m, struct berth_ctr *c, enum ctr_state state,
                                pid_t pid, pid_t shim, uint64_t shim_start, int pidfd)
{
        c->state = state;
        c->pid = pid;
        c->shim_pid = shim;
        c->shim_start = shim_start;
        c->pidfd = pidfd;
        c->started_ns = ctr_now_ns();
        c->finished_ns = 0;
        c->exit_code = 0;
        free(c->error);
        c->error = NULL;
        c->oom_killed = false;
        c->has_started = true;
        c->manual_stop = false;
        c->restart_at_ns = 0;
        watch_shim(m, c);
        pthread_cond_broadcast(&m->changed);
}

/* The spec's network namespace is the one at path (ctr_net_wire_begin's). */
static void spec_join_netns(struct json *spec, const char *path)
{
        size_t i;
        struct json *n;
        json_array_foreach (json_get(json_get(spec, "linux"), "namespaces"), i, n)
                if (strcmp(json_str(json_get(n, "type")) ?: "", "network") == 0)
                        json_set_str(n, "path", path);
}

static bool spec_has_net_sysctl(const struct json *spec)
{
        size_t i;
        const char *k;
        const struct json *v;
        json_object_foreach (json_get(json_get(spec, "linux"), "sysctl"), i, k, v)
                if (strncmp(k, "net.", 4) == 0 && v)
                        return true;
        return false;
}

static int do_start(struct berth_engine *e, struct berth_ctr *c, bool restart,
                    struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_free_ char *data_dir = ctr_data_dir(m, c);
        _cleanup_free_ char *run_dir = ctr_run_dir(m, c);
        _cleanup_free_ char *rootfs = snapshot_path(m->data_root, c->id, "rootfs");
        int r = mount_rootfs(e, c, err);
        if (r < 0)
                return r;
        crashpoint("start-mounted");
        r = ctr_prepare_mounts(e, c, rootfs, err);
        if (r == 0) {
                r = ctr_net_prepare(e, c, err);
                if (r < 0)
                        ctr_release_mounts(e, c);
        }
        /* the namespace is made meanwhile, and wired while the runtime makes the
         * container */
        struct ctr_net_wiring *wiring = NULL;
        if (r == 0) {
                r = ctr_net_wire_begin(e, c, &wiring, err);
                if (r < 0) {
                        ctr_release_mounts(e, c);
                        ctr_net_release(e, c);
                }
        }
        /* what the container will hold (addresses, ports) is on record before it can
         * run: a daemon killed between here and "running" finds it again if the
         * process ran (adopted), and lets it go if not */
        if (r == 0) {
                pthread_mutex_lock(&m->lock);
                bool has_net = c->net != NULL;
                pthread_mutex_unlock(&m->lock);
                if (has_net)
                        ctr_save_state(e, c);
        }
        if (r < 0) {
                unmount_rootfs(m, c);
                return r;
        }
        _cleanup_json_ struct json *spec = NULL;
        r = ctr_oci_spec(e, c, rootfs, data_dir, &spec, err);
        const char *netns = NULL;
        if (r == 0 && wiring)
                r = ctr_net_wire_path(wiring, &netns, err);
        if (r == 0 && wiring) {
                spec_join_netns(spec, netns);
                /* the runtime writes net.* sysctls as it makes the container, and one may
                 * name an interface of ours (net.ipv4.conf.eth0.…): those wait for it */
                if (spec_has_net_sysctl(spec))
                        r = ctr_net_wire_wait(wiring, err);
        }
        if (r == 0) {
                _cleanup_free_ char *text = json_dump(spec, JSON_DUMP_PRETTY);
                _cleanup_free_ char *path = xasprintf("%s/config.json", data_dir);
                int w = write_file_at(AT_FDCWD, path, text, strlen(text), 0600);
                if (w < 0)
                        r = berth_error_sys(err, -w, "write '%s'", path);
        }
        if (r == 0) {
                (void)rm_rf(run_dir);
                int w = mkdir_p(run_dir, 0700);
                if (w < 0)
                        r = berth_error_sys(err, -w, "create '%s'", run_dir);
        }
        if (r == 0)
                r = write_shim_config(m, c, run_dir, data_dir, err);
        pid_t shim_pid = 0, init_pid = 0;
        bool spawned = r == 0;
        if (r == 0)
                r = spawn_shim(m, c, run_dir, &shim_pid, &init_pid, err);
        int pidfd = -1;
        if (r == 0) {
                pidfd = pidfd_open_(shim_pid);
                if (pidfd < 0)
                        r = berth_error_sys(err, errno, "container %.12s: watch its shim", c->id);
        }
        if (wiring) {
                /* joined whatever happened: the thread uses c */
                int w = ctr_net_wire_end(e, c, wiring, r == 0, err);
                if (r == 0)
                        r = w;
                wiring = NULL;
        }
        if (r == 0) {
                crashpoint("start-shim-created");
                r = hand_over_attaches(m, c, err);
        }
        if (r == 0) {
                _cleanup_json_ struct json *req = json_new_object();
                json_set_str(req, "Op", "start");
                r = ctr_shim_call(m, c, req, -1, NULL, 0, NULL, NULL, err);
        }
        if (r == 0)
                crashpoint("start-started");
        if (r < 0) {
                /* a shim that failed without its word may still have had the container
                 * made (its init waiting to start): the runtime's delete takes that too */
                if (spawned)
                        abort_shim(m, c, shim_pid);
                if (pidfd >= 0)
                        close(pidfd);
                unmount_rootfs(m, c);
                ctr_release_mounts(e, c);
                ctr_net_release(e, c);
                (void)rm_rf(run_dir);
                pthread_mutex_lock(&m->lock);
                pending_close_all(c);
                free(c->error);
                c->error = xstrdup(err && *err ? berth_error_msg(*err) : "start failed");
                c->exit_code = start_failure_code(c->error);
                if (c->has_started || restart)
                        c->state = CTR_EXITED;
                pthread_cond_broadcast(&m->changed);
                pthread_mutex_unlock(&m->lock);
                ctr_save_state(e, c);
                return r;
        }
        pthread_mutex_lock(&m->lock);
        mark_running_locked(m, c, CTR_RUNNING, init_pid, shim_pid, proc_starttime(shim_pid), pidfd);
        if (restart)
                c->restart_count++;
        pthread_mutex_unlock(&m->lock);
        ctr_save_state(e, c);
        ctr_health_started(e, c);
        ctr_volume_events(e, c, true);
        ctr_event(e, c, "start", NULL);
        return 0;
}

static void *remove_worker(void *arg);
struct remove_job {
        struct berth_engine *e;
        struct berth_ctr *c;
};
static void spawn_detached(void *(*fn)(void *), void *arg);

int berth_ctr_start(struct berth_engine *e, struct berth_ctr *c, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&c->op_lock);
        pthread_mutex_lock(&m->lock);
        enum ctr_state st = c->state;
        bool gone = c->removed;
        pthread_mutex_unlock(&m->lock);
        int r;
        if (gone)
                r = berth_error_set(err, ENOENT, "No such container: %s", c->id);
        else if (st == CTR_RUNNING)
                r = -EALREADY;
        else if (st == CTR_PAUSED)
                r = berth_error_set(err, EBUSY,
                                    "cannot start a paused container, try unpause instead");
        else if (st == CTR_REMOVING || st == CTR_DEAD)
                r = berth_error_set(err, EBUSY,
                                    "container is marked for removal and cannot be "
                                    "started");
        else
                r = do_start(e, c, false, err);
        pthread_mutex_unlock(&c->op_lock);
        pthread_mutex_lock(&m->lock);
        const struct json *ar = json_get(c->host_config, "AutoRemove");
        bool auto_remove = json_is(ar, JSON_BOOL) && ar->b;
        pthread_mutex_unlock(&m->lock);
        if (r < 0 && r != -EALREADY && !gone && auto_remove) {
                /* as dockerd: --rm removes a container whose start failed, so a
                 * `docker run --rm` waiting for "removed" ends */
                struct remove_job *j = xcalloc(1, sizeof(*j));
                j->e = e;
                j->c = c;
                ctr_ref(c);
                spawn_detached(remove_worker, j);
        }
        return r;
}

/* ---- exits ---- */

static void read_exit_record(struct ctr_manager *m, struct berth_ctr *c, bool *ret_found)
{
        _cleanup_free_ char *dir = ctr_run_dir(m, c);
        _cleanup_free_ char *path = xasprintf("%s/" SHIM_EXIT, dir);
        _cleanup_json_ struct json *j = NULL;
        *ret_found = json_parse_file(path, 64 * 1024, &j, NULL) == 0;
        pthread_mutex_lock(&m->lock);
        if (*ret_found) {
                const struct json *ec = json_get(j, "ExitCode");
                c->exit_code = json_is(ec, JSON_NUMBER) ? (int)ec->num.i : 0;
                const struct json *oom = json_get(j, "OOMKilled");
                c->oom_killed = json_is(oom, JSON_BOOL) && oom->b;
                int64_t ns;
                if (units_parse_rfc3339(json_str(json_get(j, "FinishedAt")), &ns) < 0)
                        ns = ctr_now_ns();
                c->finished_ns = ns;
                const char *er = json_str(json_get(j, "Error"));
                free(c->error);
                c->error = er && *er ? xstrdup(er) : NULL;
        } else {
                c->exit_code = SHIM_KILLED_EXIT_CODE;
                c->finished_ns = ctr_now_ns();
                free(c->error);
                c->error = xstrdup("berth-shim, the container's monitor, was killed; the "
                                   "container was stopped");
        }
        pthread_mutex_unlock(&m->lock);
}

static void schedule_restart_locked(struct ctr_manager *m, struct berth_ctr *c);
static void rootfs_hold_add(struct ctr_manager *m, const char *id, int fd);

/* The shim of c has ended (or was found gone at daemon start). */
static void handle_exit(struct berth_engine *e, struct berth_ctr *c, bool at_start)
{
        struct ctr_manager *m = ctr_mgr(e);
        bool found = false;
        read_exit_record(m, c, &found);
        /* the runtime container goes here, not in the monitor (protocol.h), its OOM
         * kills counted first; a monitor that died left its container running
         * unwatched: that ends it too */
        struct berth_runtime rt = runtime_of(m);
        struct berth_error *er = NULL;
        uint64_t oom_kills = 0;
        int dr = berth_container_delete_oom(&rt, c->id, true, &oom_kills, &er);
        if (oom_kills > 0) {
                pthread_mutex_lock(&m->lock);
                c->oom_killed = true;
                pthread_mutex_unlock(&m->lock);
        }
        if (dr < 0 && !found) {
                /* with its runtime state gone too (a reboot), its cgroup is found by path */
                berth_error_free(TAKE_PTR(er));
                pthread_mutex_lock(&m->lock);
                _cleanup_free_ char *cg =
                    c->cgroups_path ? xstrdup(c->cgroups_path) : ctr_cgroups_path(m, c);
                pthread_mutex_unlock(&m->lock);
                if (berth_cgroup_remove(cg, &er) < 0)
                        log_warn("container %.12s: remove cgroup %s: %s", c->id, cg,
                                 berth_error_msg(er));
        } else if (dr < 0 && er && er->code != ENOENT) { /* ENOENT: an older monitor's */
                log_warn("container %.12s: delete: %s", c->id, berth_error_msg(er));
        }
        berth_error_free(er);
        /* out of the mount tree now; its end, and the sync that comes with it, in a
         * batch later (the trash thread) */
        int rootfs_hold = -1;
        _cleanup_error_ struct berth_error *derr = NULL;
        if (snapshot_detach(m->data_root, c->id, &rootfs_hold, &derr) < 0)
                log_warn("%s", berth_error_msg(derr));
        if (rootfs_hold >= 0)
                rootfs_hold_add(m, c->id, rootfs_hold);
        ctr_release_mounts(e, c);
        ctr_net_release(e, c);
        _cleanup_free_ char *run_dir = ctr_run_dir(m, c);
        (void)rm_rf(run_dir);
        ctr_exec_container_gone(e, c);
        pthread_mutex_lock(&m->lock);
        if (c->pidfd >= 0) {
                close(c->pidfd);
                c->pidfd = -1;
        }
        c->state = CTR_EXITED;
        c->pid = 0;
        c->shim_pid = 0;
        c->exits++;
        ctr_health_stopped_locked(c);
        bool auto_remove =
            json_get(c->host_config, "AutoRemove") && json_get(c->host_config, "AutoRemove")->b;
        int64_t ran_ms = (c->finished_ns - c->started_ns) / 1000000;
        if (ran_ms >= 10000)
                c->backoff_ms = 0;
        if (!auto_remove)
                schedule_restart_locked(m, c);
        /* "die" before any waiter wakes, as dockerd's comes before its stop's "stop" */
        if (c->oom_killed)
                ctr_event(e, c, "oom", NULL);
        char code_s[16];
        snprintf(code_s, sizeof(code_s), "%d", c->exit_code);
        const char *attrs[] = {"exitCode", code_s, NULL};
        ctr_event(e, c, "die", attrs);
        pthread_cond_broadcast(&m->changed);
        pthread_mutex_unlock(&m->lock);
        ctr_save_state(e, c);
        ctr_volume_events(e, c, false);
        if (auto_remove && !at_start) {
                struct remove_job *j = xcalloc(1, sizeof(*j));
                j->e = e;
                j->c = c;
                ctr_ref(c);
                spawn_detached(remove_worker, j);
        } else if (auto_remove) {
                struct berth_error *rerr = NULL;
                if (berth_ctr_remove(e, c, true, true, &rerr) < 0)
                        log_warn("container %.12s: auto-remove: %s", c->id, berth_error_msg(rerr));
                berth_error_free(rerr);
        }
}

static void *remove_worker(void *arg)
{
        struct remove_job *j = arg;
        struct berth_error *er = NULL;
        if (berth_ctr_remove(j->e, j->c, true, true, &er) < 0 && er && er->code != ENOENT)
                log_warn("container %.12s: auto-remove: %s", j->c->id, berth_error_msg(er));
        berth_error_free(er);
        berth_ctr_unref(j->c);
        free(j);
        return NULL;
}

/* ---- restart policies ---- */

static bool policy_wants_restart(const struct berth_ctr *c)
{
        const struct json *rp = json_get(c->host_config, "RestartPolicy");
        const char *name = json_str(json_get(rp, "Name"));
        if (!name || !*name || strcmp(name, "no") == 0 || c->removed)
                return false;
        if (strcmp(name, "always") == 0 || strcmp(name, "unless-stopped") == 0)
                return !c->manual_stop;
        if (strcmp(name, "on-failure") == 0) {
                const struct json *max = json_get(rp, "MaximumRetryCount");
                int64_t limit = json_is(max, JSON_NUMBER) ? max->num.i : 0;
                return !c->manual_stop && c->exit_code != 0 &&
                       (limit == 0 || c->restart_count < limit);
        }
        return false;
}

static void schedule_restart_locked(struct ctr_manager *m, struct berth_ctr *c)
{
        if (!policy_wants_restart(c))
                return;
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (c->backoff_ms > BACKOFF_MAX_MS)
                c->backoff_ms = BACKOFF_MAX_MS;
        c->restart_at_ns = (mono_ms() + c->backoff_ms) * 1000000;
        c->state = CTR_RESTARTING;
        ctr_monitor_wake(m);
}

struct restart_job {
        struct berth_engine *e;
        struct berth_ctr *c;
};

static void *restart_worker(void *arg)
{
        struct restart_job *j = arg;
        struct ctr_manager *m = ctr_mgr(j->e);
        struct berth_ctr *c = j->c;
        pthread_mutex_lock(&c->op_lock);
        pthread_mutex_lock(&m->lock);
        bool go = c->state == CTR_RESTARTING && !c->removed && !c->manual_stop;
        bool counted = !c->boot_start;
        c->boot_start = false;
        pthread_mutex_unlock(&m->lock);
        if (go) {
                struct berth_error *er = NULL;
                if (do_start(j->e, c, counted, &er) < 0) {
                        log_warn("container %.12s: restart: %s", c->id, berth_error_msg(er));
                        pthread_mutex_lock(&m->lock);
                        c->state = CTR_EXITED;
                        c->restart_count++;
                        schedule_restart_locked(m, c);
                        pthread_cond_broadcast(&m->changed);
                        pthread_mutex_unlock(&m->lock);
                        ctr_save_state(j->e, c);
                }
                berth_error_free(er);
        }
        pthread_mutex_unlock(&c->op_lock);
        berth_ctr_unref(c);
        free(j);
        return NULL;
}

static void spawn_detached(void *(*fn)(void *), void *arg)
{
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 1024 * 1024);
        if (pthread_create(&t, &a, fn, arg) != 0)
                fn(arg);
        pthread_attr_destroy(&a);
}

/* Due restarts go to worker threads; returns the ms until the next one (-1: none). */
static int run_due_restarts(struct berth_engine *e)
{
        struct ctr_manager *m = ctr_mgr(e);
        int64_t now = mono_ms() * 1000000, next = -1;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) {
                struct berth_ctr *c = m->v[i];
                if (c->state != CTR_RESTARTING || !c->restart_at_ns)
                        continue;
                if (c->restart_at_ns <= now) {
                        c->restart_at_ns = 0;
                        struct restart_job *j = xcalloc(1, sizeof(*j));
                        j->e = e;
                        j->c = c;
                        ctr_ref(c);
                        spawn_detached(restart_worker, j);
                } else if (next < 0 || c->restart_at_ns < next) {
                        next = c->restart_at_ns;
                }
        }
        pthread_mutex_unlock(&m->lock);
        if (next < 0)
                return -1;
        int64_t ms = (next - now) / 1000000 + 1;
        return ms > 60000 ? 60000 : (int)ms;
}

/* ---- the monitor thread ---- */

static void *monitor_main(void *arg)
{
        struct berth_engine *e = arg;
        struct ctr_manager *m = ctr_mgr(e);
        struct epoll_event ev[32];
        for (;;) {
                int timeout = run_due_restarts(e);
                int n = epoll_wait(m->epfd, ev, 32, timeout);
                pthread_mutex_lock(&m->lock);
                bool stop = m->stopping;
                pthread_mutex_unlock(&m->lock);
                if (stop)
                        return NULL;
                for (int i = 0; i < n; i++) {
                        if (ev[i].data.u64 & EXEC_TAG_BIT) {
                                ctr_exec_conn_event(e, ev[i].data.u64 & ~EXEC_TAG_BIT);
                                continue;
                        }
                        struct mon_watch *w = ev[i].data.ptr;
                        if (w->kind == WATCH_WAKE) {
                                uint64_t x;
                                (void)read(m->wake_fd, &x, sizeof(x));
                        } else if (w->kind == WATCH_SHIM) {
                                struct berth_ctr *c = w->obj;
                                (void)epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
                                free(w);
                                handle_exit(e, c, false);
                                berth_ctr_unref(c);
                        }
                }
        }
}

/* ---- stop, kill, pause ---- */

static int signal_container(struct ctr_manager *m, struct berth_ctr *c, int sig, bool all,
                            struct berth_error **err)
{
        struct berth_runtime rt = runtime_of(m);
        return berth_container_kill(&rt, c->id, sig, all, err);
}

/* Wait (lock held) until c has exited once more than `exits`, up to ms (< 0: for ever). */
static bool wait_exit_locked(struct ctr_manager *m, struct berth_ctr *c, uint64_t exits, int64_t ms)
{
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += ms / 1000;
        deadline.tv_nsec += (ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        while (c->exits == exits && (c->state == CTR_RUNNING || c->state == CTR_PAUSED)) {
                if (ms < 0) {
                        pthread_cond_wait(&m->changed, &m->lock);
                } else if (pthread_cond_timedwait(&m->changed, &m->lock, &deadline) != 0) {
                        return false;
                }
        }
        return true;
}

/* dockerd's "kill" event, for each signal it sends (kill, and stop's and rm -f's too): sent
 * just before the signal, so that it comes before the "die" the signal may cause */
static void kill_event(struct berth_engine *e, struct berth_ctr *c, int sig)
{
        char sig_s[16];
        snprintf(sig_s, sizeof(sig_s), "%d", sig);
        const char *attrs[] = {"signal", sig_s, NULL};
        ctr_event(e, c, "kill", attrs);
}

static int do_stop(struct berth_engine *e, struct berth_ctr *c, int timeout, const char *signal,
                   bool manual, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        if (c->state == CTR_RESTARTING) {
                /* a scheduled restart is called off */
                c->state = CTR_EXITED;
                c->restart_at_ns = 0;
                c->manual_stop = manual || c->manual_stop;
                pthread_cond_broadcast(&m->changed);
                pthread_mutex_unlock(&m->lock);
                ctr_save_state(e, c);
                return 0;
        }
        if (c->state != CTR_RUNNING && c->state != CTR_PAUSED) {
                pthread_mutex_unlock(&m->lock);
                return -EALREADY;
        }
        if (manual)
                c->manual_stop = true;
        bool paused = c->state == CTR_PAUSED;
        uint64_t exits = c->exits;
        pthread_mutex_unlock(&m->lock);
        ctr_save_state(e, c);
        int sig = SIGTERM;
        const char *ss = signal && *signal ? signal : json_str(json_get(c->config, "StopSignal"));
        if (ss && *ss && ctr_parse_signal(ss, &sig, err) < 0)
                return -EINVAL;
        if (timeout < 0) {
                const struct json *st = json_get(c->config, "StopTimeout");
                timeout = json_is(st, JSON_NUMBER) ? (int)st->num.i : STOP_DEFAULT_SEC;
        }
        struct berth_error *er = NULL;
        if (timeout != 0) {
                kill_event(e, c, sig);
                if (signal_container(m, c, sig, false, &er) < 0)
                        log_debug("container %.12s: stop signal: %s", c->id, berth_error_msg(er));
        }
        berth_error_free(TAKE_PTR(er));
        crashpoint("stop-signalled");
        if (paused) {
                struct berth_runtime rt = runtime_of(m);
                (void)berth_container_pause(&rt, c->id, false, &er);
                berth_error_free(TAKE_PTR(er));
        }
        pthread_mutex_lock(&m->lock);
        bool done = timeout != 0 && wait_exit_locked(m, c, exits, (int64_t)timeout * 1000);
        pthread_mutex_unlock(&m->lock);
        if (!done) {
                if (timeout != 0)
                        log_info("container %.12s failed to exit within %d seconds of signal %d "
                                 "- using the force",
                                 c->id, timeout, sig);
                kill_event(e, c, SIGKILL);
                (void)signal_container(m, c, SIGKILL, true, &er);
                berth_error_free(TAKE_PTR(er));
                pthread_mutex_lock(&m->lock);
                done = wait_exit_locked(m, c, exits, 30000);
                pthread_mutex_unlock(&m->lock);
                if (!done)
                        return berth_error_set(err, ETIMEDOUT,
                                               "container %.12s did not stop after SIGKILL", c->id);
        }
        return 0;
}

int berth_ctr_stop(struct berth_engine *e, struct berth_ctr *c, int timeout, const char *signal,
                   struct berth_error **err)
{
        pthread_mutex_lock(&c->op_lock);
        int r = do_stop(e, c, timeout, signal, true, err);
        pthread_mutex_unlock(&c->op_lock);
        if (r == 0)
                ctr_event(e, c, "stop", NULL);
        return r;
}

int berth_ctr_restart(struct berth_engine *e, struct berth_ctr *c, int timeout,
                      struct berth_error **err)
{
        pthread_mutex_lock(&c->op_lock);
        int r = do_stop(e, c, timeout, NULL, false, err);
        if (r == 0)
                ctr_event(e, c, "stop", NULL); /* it ran: stopped first, as dockerd says */
        if (r == -EALREADY)
                r = 0;
        if (r == 0) {
                struct ctr_manager *m = ctr_mgr(e);
                pthread_mutex_lock(&m->lock);
                c->manual_stop = false;
                c->restart_at_ns = 0;
                if (c->state == CTR_RESTARTING)
                        c->state = CTR_EXITED;
                pthread_mutex_unlock(&m->lock);
                r = do_start(e, c, false, err);
        }
        pthread_mutex_unlock(&c->op_lock);
        if (r == 0)
                ctr_event(e, c, "restart", NULL);
        return r;
}

int berth_ctr_kill(struct berth_engine *e, struct berth_ctr *c, const char *signal,
                   struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        int sig = SIGKILL;
        if (signal && *signal && ctr_parse_signal(signal, &sig, err) < 0)
                return -EINVAL;
        pthread_mutex_lock(&m->lock);
        bool running = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
        bool paused = c->state == CTR_PAUSED;
        uint64_t exits = c->exits;
        pthread_mutex_unlock(&m->lock);
        if (!running)
                return berth_error_set(err, EBUSY, "Container %s is not running", c->id);
        kill_event(e, c, sig);
        int r = signal_container(m, c, sig, false, err);
        if (r < 0)
                return r;
        /* a frozen task takes a signal only once thawed (v1 freezer): dockerd resumes a
         * paused container after sending it SIGKILL or its stop signal */
        int stop_sig = SIGTERM;
        const char *ss = json_str(json_get(c->config, "StopSignal"));
        if (ss && *ss)
                (void)ctr_parse_signal(ss, &stop_sig, NULL);
        struct berth_error *er = NULL;
        if (paused && (sig == SIGKILL || sig == stop_sig)) {
                struct berth_runtime rt = runtime_of(m);
                (void)berth_container_pause(&rt, c->id, false, &er);
                berth_error_free(TAKE_PTR(er));
        }
        if (sig != SIGKILL)
                return 0;
        /* as dockerd's: SIGKILL returns once the container is gone, so `kill` then
         * `rm` or `inspect` find it exited; the rest of its cgroup follows it */
        pthread_mutex_lock(&m->lock);
        bool done = wait_exit_locked(m, c, exits, KILL_WAIT_MS);
        pthread_mutex_unlock(&m->lock);
        if (!done) {
                (void)signal_container(m, c, SIGKILL, true, &er);
                berth_error_free(TAKE_PTR(er));
                pthread_mutex_lock(&m->lock);
                done = wait_exit_locked(m, c, exits, KILL_WAIT_MS);
                pthread_mutex_unlock(&m->lock);
        }
        if (!done)
                return berth_error_set(err, ETIMEDOUT,
                                       "tried to kill container, but did not receive an exit "
                                       "event");
        return 0;
}

int berth_ctr_pause(struct berth_engine *e, struct berth_ctr *c, bool pause,
                    struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&c->op_lock);
        pthread_mutex_lock(&m->lock);
        enum ctr_state st = c->state;
        pthread_mutex_unlock(&m->lock);
        int r = 0;
        if (st != CTR_RUNNING && st != CTR_PAUSED)
                r = berth_error_set(err, EBUSY, "Container %s is not running", c->id);
        else if (pause && st == CTR_PAUSED)
                r = berth_error_set(err, EBUSY, "Container %s is already paused", c->id);
        else if (!pause && st == CTR_RUNNING)
                r = berth_error_set(err, EBUSY, "Container %s is not paused", c->id);
        if (r == 0) {
                struct berth_runtime rt = runtime_of(m);
                r = berth_container_pause(&rt, c->id, pause, err);
        }
        if (r == 0) {
                pthread_mutex_lock(&m->lock);
                if (c->state == CTR_RUNNING || c->state == CTR_PAUSED)
                        c->state = pause ? CTR_PAUSED : CTR_RUNNING;
                pthread_cond_broadcast(&m->changed);
                pthread_mutex_unlock(&m->lock);
                ctr_save_state(e, c);
        }
        pthread_mutex_unlock(&c->op_lock);
        if (r == 0)
                ctr_event(e, c, pause ? "pause" : "unpause", NULL);
        return r;
}

int berth_ctr_rename(struct berth_engine *e, struct berth_ctr *c, const char *name,
                     struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (!name || !*name)
                return berth_error_set(err, EINVAL, "Neither old nor new names may be empty");
        if (!ctr_name_valid(name))
                return berth_error_set(
                    err, EINVAL,
                    "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                    "are allowed",
                    name);
        const char *want = name[0] == '/' ? name + 1 : name;
        pthread_mutex_lock(&m->lock);
        if (strcmp(c->name + 1, want) == 0) {
                pthread_mutex_unlock(&m->lock);
                return berth_error_set(err, EINVAL,
                                       "Renaming a container with the same name as its current "
                                       "name");
        }
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i]->name + 1, want) == 0) {
                        int r = berth_error_set(err, EEXIST,
                                                "Conflict. The container name \"/%s\" is already "
                                                "in use by container \"%s\". You have to remove "
                                                "(or rename) that container to be able to reuse "
                                                "that name.",
                                                want, m->v[i]->id);
                        pthread_mutex_unlock(&m->lock);
                        return r;
                }
        char *old = c->name;
        c->name = xasprintf("/%s", want);
        pthread_mutex_unlock(&m->lock);
        int r = ctr_save(e, c, err);
        if (r < 0) {
                pthread_mutex_lock(&m->lock);
                free(c->name);
                c->name = old;
                pthread_mutex_unlock(&m->lock);
                return r;
        }
        ctr_net_renamed(e, c, old + 1);
        const char *attrs[] = {"oldName", old, NULL};
        ctr_event(e, c, "rename", attrs);
        free(old);
        return 0;
}

static int trash_data_dir(struct ctr_manager *m, struct berth_ctr *c, const char *data_dir,
                          struct berth_error **err);

/* rm -v, --rm: the container's anonymous volumes go with it, unless another container (one
 * that took them with --volumes-from) still names them, as dockerd keeps them then. */
static void remove_anonymous_volumes(struct berth_engine *e, struct berth_ctr *c)
{
        size_t i;
        const struct json *p;
        json_array_foreach (c->mounts, i, p) {
                if (!jbool(p, "Anonymous"))
                        continue;
                _cleanup_error_ struct berth_error *err = NULL;
                int r = berth_volume_remove(e, jstr(p, "Name"), true, false, &err);
                if (r < 0 && r != -EBUSY)
                        log_warn("container %.12s: %s", c->id, berth_error_msg(err));
        }
}

int berth_ctr_remove(struct berth_engine *e, struct berth_ctr *c, bool force, bool volumes,
                     struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&c->op_lock);
        pthread_mutex_lock(&m->lock);
        enum ctr_state st = c->state;
        bool gone = c->removed;
        pthread_mutex_unlock(&m->lock);
        int r = 0;
        if (gone) {
                pthread_mutex_unlock(&c->op_lock);
                return berth_error_set(err, ENOENT, "No such container: %s", c->id);
        }
        if ((st == CTR_RUNNING || st == CTR_PAUSED) && !force) {
                pthread_mutex_unlock(&c->op_lock);
                return berth_error_set(err, EBUSY,
                                       "You cannot remove a %s container %s. Stop the container "
                                       "before attempting removal or force remove",
                                       st == CTR_PAUSED ? "paused" : "running", c->id);
        }
        if (st == CTR_RUNNING || st == CTR_PAUSED || st == CTR_RESTARTING) {
                r = do_stop(e, c, 0, "SIGKILL", true, err);
                if (r == -EALREADY)
                        r = 0;
        }
        if (r == 0) {
                pthread_mutex_lock(&m->lock);
                c->state = CTR_REMOVING;
                pthread_mutex_unlock(&m->lock);
                /* recorded first: a crash from here on leaves a dead container (removable
                 * again), never one that looks whole over half-removed files */
                ctr_save_state(e, c);
                crashpoint("rm-removing");
                _cleanup_free_ char *data_dir = ctr_data_dir(m, c);
                _cleanup_free_ char *run_dir = ctr_run_dir(m, c);
                r = snapshot_unmount(m->data_root, c->id, NULL, err);
                if (r == 0)
                        r = trash_data_dir(m, c, data_dir, err);
                (void)rm_rf(run_dir);
                if (r == 0) {
                        crashpoint("rm-files-gone");
                        r = ctr_delete_record(e, c, err);
                }
                pthread_mutex_lock(&m->lock);
                if (r == 0) {
                        pending_close_all(c);
                        table_remove(m, c);
                } else {
                        c->state = CTR_DEAD;
                }
                pthread_cond_broadcast(&m->changed);
                pthread_mutex_unlock(&m->lock);
                if (r < 0)
                        ctr_save_state(e, c);
        }
        pthread_mutex_unlock(&c->op_lock);
        if (r == 0) {
                ctr_exec_forget(e, c);
                ctr_event(e, c, "destroy", NULL);
                if (volumes)
                        remove_anonymous_volumes(e, c);
        }
        return r;
}

/* ---- the trash: removed containers' files, deleted in the background ---- */

#define TRASH_PREFIX ".trash-"

/* The data dir (unmounted) leaves its place in one rename; its files go later. */
static int trash_data_dir(struct ctr_manager *m, struct berth_ctr *c, const char *data_dir,
                          struct berth_error **err)
{
        _cleanup_free_ char *trash =
            xasprintf("%s/containers/" TRASH_PREFIX "%s", m->data_root, c->id);
        (void)rm_rf(trash); /* a trash of the same id left by a crash */
        if (rename(data_dir, trash) < 0 && errno != ENOENT)
                return berth_error_sys(err, errno, "remove '%s'", data_dir);
        pthread_mutex_lock(&m->lock);
        m->trash_pending = true;
        pthread_cond_signal(&m->trash_cond);
        pthread_mutex_unlock(&m->lock);
        return 0;
}

/* ---- held overlays: exited containers' root filesystems, let go in batches ---- */

#define ROOTFS_HOLD_MS 200

static void rootfs_hold_add(struct ctr_manager *m, const char *id, int fd)
{
        pthread_mutex_lock(&m->lock);
        if (!m->trash_running || m->stopping) {
                pthread_mutex_unlock(&m->lock);
                close(fd);
                return;
        }
        if (m->n_holds == m->cap_holds) {
                m->cap_holds = m->cap_holds ? m->cap_holds * 2 : 16;
                m->holds = xrealloc(m->holds, m->cap_holds * sizeof(*m->holds));
        }
        struct rootfs_hold *h = &m->holds[m->n_holds++];
        snprintf(h->id, sizeof(h->id), "%s", id);
        h->fd = fd;
        pthread_cond_signal(&m->trash_cond);
        pthread_mutex_unlock(&m->lock);
}

/* Every held overlay goes now (lock not held). */
static void rootfs_release_all(struct ctr_manager *m)
{
        pthread_mutex_lock(&m->lock);
        struct rootfs_hold *v = TAKE_PTR(m->holds);
        size_t n = m->n_holds;
        m->n_holds = m->cap_holds = 0;
        m->holds_closing++;
        pthread_mutex_unlock(&m->lock);
        for (size_t i = 0; i < n; i++)
                close(v[i].fd); /* the first syncs the upper filesystem, the rest find it clean */
        free(v);
        pthread_mutex_lock(&m->lock);
        m->holds_closing--;
        pthread_cond_broadcast(&m->changed);
        pthread_mutex_unlock(&m->lock);
}

void ctr_rootfs_release(struct ctr_manager *m, const char *id)
{
        int fd = -1;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_holds; i++)
                if (strcmp(m->holds[i].id, id) == 0) {
                        fd = m->holds[i].fd;
                        m->holds[i] = m->holds[--m->n_holds];
                        break;
                }
        /* one the trash thread is letting go may be id's */
        while (m->holds_closing)
                pthread_cond_wait(&m->changed, &m->lock);
        pthread_mutex_unlock(&m->lock);
        if (fd >= 0)
                close(fd);
}

static void *trash_main(void *arg)
{
        struct ctr_manager *m = arg;
        _cleanup_free_ char *dir = xasprintf("%s/containers", m->data_root);
        int64_t due = 0; /* when the held overlays go (CLOCK_MONOTONIC ms), 0: none held */
        pthread_mutex_lock(&m->lock);
        for (;;) {
                while (!m->trash_pending && !m->stopping) {
                        if (!m->n_holds) {
                                due = 0;
                                pthread_cond_wait(&m->trash_cond, &m->lock);
                                continue;
                        }
                        int64_t now = mono_ms();
                        if (!due)
                                due = now + ROOTFS_HOLD_MS;
                        if (now >= due)
                                break;
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        int64_t ns = ts.tv_nsec + (due - now) * 1000000;
                        ts.tv_sec += ns / 1000000000;
                        ts.tv_nsec = ns % 1000000000;
                        pthread_cond_timedwait(&m->trash_cond, &m->lock, &ts);
                }
                if (m->stopping)
                        break;
                if (m->n_holds && due && mono_ms() >= due) {
                        due = 0;
                        pthread_mutex_unlock(&m->lock);
                        rootfs_release_all(m);
                        pthread_mutex_lock(&m->lock);
                }
                if (!m->trash_pending)
                        continue;
                m->trash_pending = false;
                pthread_mutex_unlock(&m->lock);
                DIR *d = opendir(dir);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (strncmp(de->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)) != 0)
                                continue;
                        _cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
                        int r = rm_rf(p);
                        if (r < 0)
                                log_warn("remove '%s': %s", p, strerror(-r));
                        pthread_mutex_lock(&m->lock);
                        bool stop = m->stopping;
                        pthread_mutex_unlock(&m->lock);
                        if (stop)
                                break; /* the rest at the next start */
                }
                if (d)
                        closedir(d);
                pthread_mutex_lock(&m->lock);
        }
        pthread_mutex_unlock(&m->lock);
        return NULL;
}

/* ---- wait ---- */

int berth_ctr_wait(struct berth_engine *e, struct berth_ctr *c, enum berth_wait_condition cond,
                   bool (*gone)(void *arg), void *arg, int *ret_code, char **ret_error,
                   struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        uint64_t exits = c->exits;
        int r = 0;
        for (;;) {
                bool running =
                    c->state == CTR_RUNNING || c->state == CTR_PAUSED || c->state == CTR_RESTARTING;
                bool done = false;
                switch (cond) {
                case BERTH_WAIT_NOT_RUNNING:
                        done = !running || c->exits != exits;
                        break;
                case BERTH_WAIT_NEXT_EXIT:
                        done = c->exits != exits;
                        break;
                case BERTH_WAIT_REMOVED:
                        done = c->removed;
                        break;
                }
                if (done)
                        break;
                struct timespec deadline;
                clock_gettime(CLOCK_REALTIME, &deadline);
                deadline.tv_sec += 1;
                (void)pthread_cond_timedwait(&m->changed, &m->lock, &deadline);
                if (gone && gone(arg)) {
                        r = -ECANCELED;
                        break;
                }
        }
        if (ret_code)
                *ret_code = c->exit_code;
        if (ret_error)
                *ret_error = c->error ? xstrdup(c->error) : NULL;
        pthread_mutex_unlock(&m->lock);
        (void)err;
        return r;
}

/* ---- attach and resize ---- */

int berth_ctr_attach(struct berth_engine *e, struct berth_ctr *c, int fd,
                     const struct berth_attach_opts *o, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        const char *keys = o->detach_keys ? o->detach_keys : "ctrl-p,ctrl-q";
        pthread_mutex_lock(&m->lock);
        enum ctr_state st = c->state;
        if (st == CTR_CREATED || st == CTR_RESTARTING || st == CTR_EXITED) {
                /* handed to the shim at the next start */
                struct pending_attach *p = xcalloc(1, sizeof(*p));
                p->fd = fd;
                p->in = o->in;
                p->out = o->out;
                p->err = o->err;
                p->detach_keys = xstrdup(keys);
                if (o->payload_len) {
                        p->payload = xmalloc(o->payload_len);
                        memcpy(p->payload, o->payload, o->payload_len);
                        p->payload_len = o->payload_len;
                }
                p->next = c->pending;
                c->pending = p;
                pthread_mutex_unlock(&m->lock);
                ctr_event(e, c, "attach", NULL);
                return 0;
        }
        pthread_mutex_unlock(&m->lock);
        if (st != CTR_RUNNING && st != CTR_PAUSED) {
                close(fd);
                return berth_error_set(err, EBUSY,
                                       "You cannot attach to a stopped container, start it first");
        }
        _cleanup_json_ struct json *req = json_new_object();
        json_set_str(req, "Op", "attach");
        json_set_bool(req, "Stdin", o->in);
        json_set_bool(req, "Stdout", o->out);
        json_set_bool(req, "Stderr", o->err);
        json_set_str(req, "DetachKeys", keys);
        int r = ctr_shim_call(m, c, req, fd, o->payload, o->payload_len, NULL, NULL, err);
        close(fd);
        if (r == 0)
                ctr_event(e, c, "attach", NULL);
        return r;
}

int berth_ctr_resize(struct berth_engine *e, struct berth_ctr *c, unsigned height, unsigned width,
                     struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        bool running = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
        pthread_mutex_unlock(&m->lock);
        if (!running)
                return berth_error_set(err, EBUSY, "Container %s is not running", c->id);
        _cleanup_json_ struct json *req = json_new_object();
        json_set_str(req, "Op", "resize");
        json_set_int(req, "Height", height);
        json_set_int(req, "Width", width);
        int r = ctr_shim_call(m, c, req, -1, NULL, 0, NULL, NULL, err);
        if (r == 0) {
                char h[16], w[16];
                snprintf(h, sizeof(h), "%u", height);
                snprintf(w, sizeof(w), "%u", width);
                const char *attrs[] = {"height", h, "width", w, NULL};
                ctr_event(e, c, "resize", attrs);
        }
        return r;
}

/* ---- counting ---- */

int berth_ctr_image_user(struct berth_engine *e, const char *image_id, char **ret_id,
                         bool *ret_running)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (!m)
                return 0;
        int n = 0;
        bool running = false;
        const char *pick = NULL;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++) {
                struct berth_ctr *c = m->v[i];
                if (strcmp(c->image_id, image_id) != 0)
                        continue;
                n++;
                bool r =
                    c->state == CTR_RUNNING || c->state == CTR_PAUSED || c->state == CTR_RESTARTING;
                if (!pick || (r && !running))
                        pick = c->id;
                running |= r;
        }
        if (ret_id)
                *ret_id = pick ? xstrdup(pick) : NULL;
        pthread_mutex_unlock(&m->lock);
        if (ret_running)
                *ret_running = running;
        return n;
}

void berth_ctr_counts(struct berth_engine *e, int *ret_total, int *ret_running, int *ret_paused,
                      int *ret_stopped)
{
        struct ctr_manager *m = ctr_mgr(e);
        int total = 0, running = 0, paused = 0;
        if (m) {
                pthread_mutex_lock(&m->lock);
                total = (int)m->n;
                for (size_t i = 0; i < m->n; i++) {
                        running +=
                            m->v[i]->state == CTR_RUNNING || m->v[i]->state == CTR_RESTARTING;
                        paused += m->v[i]->state == CTR_PAUSED;
                }
                pthread_mutex_unlock(&m->lock);
        }
        *ret_total = total;
        *ret_running = running;
        *ret_paused = paused;
        *ret_stopped = total - running - paused;
}

char **berth_ctr_ids(struct berth_engine *e)
{
        struct ctr_manager *m = ctr_mgr(e);
        pthread_mutex_lock(&m->lock);
        char **v = xcalloc(m->n + 1, sizeof(char *));
        for (size_t i = 0; i < m->n; i++)
                v[i] = xstrdup(m->v[i]->id);
        pthread_mutex_unlock(&m->lock);
        return v;
}

/* ---- open: load, reconcile, restart ---- */

/* A start that got as far as running the process before berthd died: the
 * container runs, so it is recorded as running and watched (its start time is
 * when we learn of it). */
static bool adopt_started(struct berth_engine *e, struct berth_ctr *c, pid_t shim,
                          uint64_t shim_start)
{
        struct ctr_manager *m = ctr_mgr(e);
        struct berth_runtime rt = runtime_of(m);
        enum berth_status status;
        pid_t pid = 0;
        struct berth_error *er = NULL;
        int r = berth_container_status(&rt, c->id, &status, &pid, &er);
        berth_error_free(er);
        if (r < 0 || (status != BERTH_STATUS_RUNNING && status != BERTH_STATUS_PAUSED))
                return false;
        int pidfd = pidfd_open_(shim);
        if (pidfd < 0)
                return false;
        pthread_mutex_lock(&m->lock);
        mark_running_locked(m, c, status == BERTH_STATUS_PAUSED ? CTR_PAUSED : CTR_RUNNING, pid,
                            shim, shim_start, pidfd);
        pthread_mutex_unlock(&m->lock);
        ctr_save_state(e, c);
        ctr_reacquire_mounts(e, c);
        ctr_net_restore(e, c);
        ctr_health_started(e, c);
        log_info("container %.12s: its start had run the process when berthd stopped; running, "
                 "watching it",
                 c->id);
        return true;
}

static void reconcile(struct berth_engine *e, struct berth_ctr *c)
{
        struct ctr_manager *m = ctr_mgr(e);
        _cleanup_free_ char *run_dir = ctr_run_dir(m, c);
        pid_t shim = 0;
        uint64_t start = 0;
        bool alive = read_shim_pid(run_dir, &shim, &start) == 0 && proc_starttime(shim) == start &&
                     start != 0;
        bool was_running = c->state == CTR_RUNNING || c->state == CTR_PAUSED;
        if (was_running && alive) {
                c->pidfd = pidfd_open_(shim);
                if (c->pidfd >= 0) {
                        c->shim_pid = shim;
                        c->shim_start = start;
                        /* the record says what the user asked for: a container frozen
                         * without a pause on record was caught inside an operation that
                         * freezes for a moment (a kill of every process on v1, a pause
                         * that was never acknowledged) and is thawed; a pause on record
                         * whose freeze never happened is what the runtime says */
                        struct berth_runtime rt = runtime_of(m);
                        enum berth_status status;
                        pid_t pid;
                        struct berth_error *er = NULL;
                        if (berth_container_status(&rt, c->id, &status, &pid, &er) == 0) {
                                if (status == BERTH_STATUS_PAUSED && c->state == CTR_RUNNING) {
                                        if (berth_container_pause(&rt, c->id, false, &er) == 0) {
                                                status = BERTH_STATUS_RUNNING;
                                                log_info("container %.12s: frozen by an operation "
                                                         "berthd did not finish; thawed",
                                                         c->id);
                                        } else {
                                                log_warn("container %.12s: frozen by an operation "
                                                         "berthd did not finish; thaw: %s",
                                                         c->id, berth_error_msg(er));
                                        }
                                }
                                c->state = status == BERTH_STATUS_PAUSED ? CTR_PAUSED : CTR_RUNNING;
                                c->pid = pid;
                        }
                        berth_error_free(er);
                        ctr_reacquire_mounts(e, c);
                        ctr_net_restore(e, c);
                        ctr_health_started(e, c); /* dockerd restarts its probes: starting */
                        watch_shim(m, c);
                        log_info("container %.12s: still running (shim %d), watching it again",
                                 c->id, (int)shim);
                        return;
                }
        }
        if (was_running) {
                log_info("container %.12s: ended while berthd was away", c->id);
                ctr_reacquire_mounts(e, c); /* held as if watched, so the exit lets go */
                handle_exit(e, c, true);
                return;
        }
        if (alive && adopt_started(e, c, shim, start))
                return;
        /* caught in the middle of a start: its shim (alive, or gone before it wrote
         * shim.pid) may hold a container nobody started; the runtime's delete kills it */
        if (alive)
                log_info("container %.12s: removing what an interrupted start left", c->id);
        abort_shim(m, c, alive ? shim : 0);
        /* an endpoint chosen for a start that never ran: given up, on record too */
        pthread_mutex_lock(&m->lock);
        bool had_net = c->net != NULL;
        pthread_mutex_unlock(&m->lock);
        ctr_net_release(e, c);
        if (c->state == CTR_RESTARTING || c->state == CTR_REMOVING) {
                c->state = c->state == CTR_REMOVING ? CTR_DEAD : CTR_EXITED;
                ctr_save_state(e, c);
        } else if (had_net) {
                ctr_save_state(e, c);
        }
        unmount_rootfs(m, c);
        (void)rm_rf(run_dir);
}

/* dockerd's rules at its start (its restart manager asked with the manual stop): always
 * comes back even after a stop by hand, unless-stopped only when not stopped by hand,
 * on-failure after a non-zero exit (a stop's 137 or 143 too) while retries are left; a
 * container never started stays as it is. */
static void restart_at_daemon_start(struct ctr_manager *m, struct berth_ctr *c)
{
        if (c->state != CTR_EXITED || !c->has_started || c->removed)
                return;
        const struct json *rp = json_get(c->host_config, "RestartPolicy");
        const char *name = json_str(json_get(rp, "Name"));
        bool go = false;
        if (!name || !*name || strcmp(name, "no") == 0) {
                go = false;
        } else if (strcmp(name, "always") == 0) {
                go = true;
        } else if (strcmp(name, "unless-stopped") == 0) {
                go = !c->manual_stop;
        } else if (strcmp(name, "on-failure") == 0) {
                const struct json *max = json_get(rp, "MaximumRetryCount");
                int64_t limit = json_is(max, JSON_NUMBER) ? max->num.i : 0;
                go = c->exit_code != 0 && (limit == 0 || c->restart_count < limit);
        }
        if (!go)
                return;
        c->manual_stop = false;
        c->boot_start = true;
        c->state = CTR_RESTARTING;
        c->restart_at_ns = mono_ms() * 1000000;
        (void)m;
}

static bool has_row(sqlite3 *h, const char *id)
{
        sqlite3_stmt *st = NULL;
        bool found = true; /* a database that cannot answer keeps everything */
        if (sqlite3_prepare_v2(h, "SELECT 1 FROM containers WHERE id = ?1", -1, &st, NULL) ==
            SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                int rc = sqlite3_step(st);
                found = rc == SQLITE_ROW || rc != SQLITE_DONE;
        }
        sqlite3_finalize(st);
        return found;
}

/*
 * What belongs to no record: execution state a crash (or a hand) left behind.
 * A run dir's shim is ended, the runtime's container deleted (its init and
 * cgroup), an overlay unmounted.  A data dir is the container's files: it is
 * only named, never removed, since a record can be missing for reasons that
 * are not ours to guess.
 */
static void sweep_orphans(struct berth_engine *e)
{
        struct ctr_manager *m = ctr_mgr(e);
        sqlite3 *h = berth_db_handle(e->db);
        _cleanup_free_ char *data_dirs = xasprintf("%s/containers", m->data_root);
        const char *roots[] = {m->run_root, m->runtime_root, data_dirs};
        for (size_t k = 0; k < ELEMENTSOF(roots); k++) {
                DIR *d = opendir(roots[k]);
                if (!d)
                        continue;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (strlen(de->d_name) != 64 ||
                            strspn(de->d_name, "0123456789abcdef") != 64 || has_row(h, de->d_name))
                                continue;
                        struct berth_ctr fake = {.pidfd = -1};
                        memcpy(fake.id, de->d_name, 65);
                        _cleanup_free_ char *path = xasprintf("%s/%s", roots[k], de->d_name);
                        if (k == 0) {
                                pid_t shim = 0;
                                uint64_t start = 0;
                                bool alive = read_shim_pid(path, &shim, &start) == 0 &&
                                             start != 0 && proc_starttime(shim) == start;
                                log_info("%s: belongs to no container; ending its monitor and "
                                         "removing it",
                                         path);
                                abort_shim(m, &fake, alive ? shim : 0);
                                (void)rm_rf(path);
                        } else if (k == 1) {
                                log_info("%s: belongs to no container; deleting it", path);
                                abort_shim(m, &fake, 0);
                                (void)rm_rf(path);
                        } else {
                                unmount_rootfs(m, &fake);
                                log_warn("%s: belongs to no container (no record in berth.db); "
                                         "left alone, remove it with: rm -rf '%s'",
                                         path, path);
                        }
                }
                closedir(d);
        }
}

static int load_rows(struct berth_engine *e, struct berth_error **err)
{
        struct ctr_manager *m = ctr_mgr(e);
        sqlite3 *h = berth_db_handle(e->db);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, "SELECT id, name, image_id, config, state FROM containers", -1,
                               &st, NULL) != SQLITE_OK)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(st, 0);
                const char *cfg_text = (const char *)sqlite3_column_text(st, 3);
                const char *state_text = (const char *)sqlite3_column_text(st, 4);
                _cleanup_json_ struct json *cfg = NULL, *state = NULL;
                if (!id || strlen(id) != 64 || !cfg_text ||
                    json_parse(cfg_text, strlen(cfg_text), &cfg, NULL) < 0) {
                        log_error("container %.12s: its record in berth.db cannot be read; left "
                                  "alone (remove it with: sqlite3 berth.db \"DELETE FROM "
                                  "containers WHERE id = '%s'\")",
                                  id ? id : "?", id ? id : "?");
                        continue;
                }
                struct berth_ctr *c = ctr_alloc();
                snprintf(c->id, sizeof(c->id), "%s", id);
                c->name = xstrdup((const char *)sqlite3_column_text(st, 1));
                c->image_id = xstrdup((const char *)sqlite3_column_text(st, 2));
                c->config = json_copy(json_get(cfg, "Config"));
                c->host_config = json_copy(json_get(cfg, "HostConfig"));
                c->networking = json_copy(json_get(cfg, "NetworkingConfig"));
                const struct json *mps = json_get(cfg, "MountPoints");
                c->mounts =
                    json_is(mps, JSON_ARRAY) ? json_copy(mps) : ctr_legacy_mounts(c->host_config);
                const char *ref = json_str(json_get(cfg, "ImageRef"));
                c->image_ref = xstrdup(ref ? ref : c->image_id);
                const char *plat = json_str(json_get(cfg, "Platform"));
                c->platform = plat ? xstrdup(plat) : NULL;
                const struct json *cns = json_get(cfg, "CreatedNs");
                c->created_ns = json_is(cns, JSON_NUMBER) ? cns->num.i : 0;
                if (state_text && json_parse(state_text, strlen(state_text), &state, NULL) == 0)
                        ctr_state_from_json(c, state);
                else
                        c->state = CTR_CREATED;
                pthread_mutex_lock(&m->lock);
                table_add(m, c);
                pthread_mutex_unlock(&m->lock);
                berth_ctr_unref(c);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return berth_error_set(err, EIO, "database: %s", sqlite3_errmsg(h));
        return 0;
}

static char *own_dir(void)
{
        char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n <= 0)
                return xstrdup("/usr/local/bin");
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash)
                *slash = '\0';
        return xstrdup(buf);
}

/* berth-shim next to berthd (the build tree keeps it in ../shim/), else on PATH. */
static char *find_shim_dir(void)
{
        char *dir = own_dir();
        const char *tries[] = {"", "/../shim"};
        for (size_t i = 0; i < ELEMENTSOF(tries); i++) {
                _cleanup_free_ char *d = xasprintf("%s%s", dir, tries[i]);
                _cleanup_free_ char *p = xasprintf("%s/" SHIM_BINARY, d);
                if (access(p, X_OK) == 0) {
                        free(dir);
                        char *real = realpath(d, NULL);
                        return real ? real : xstrdup(d);
                }
        }
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = xasprintf("%s/" SHIM_BINARY, d);
                if (access(p, X_OK) == 0) {
                        free(dir);
                        return xstrdup(d);
                }
        }
        return dir;
}

int berth_containers_open(struct berth_engine *e, struct berth_error **err)
{
        _cleanup_config_ struct berth_config *conf = berth_engine_config(e);
        struct ctr_manager *m = xcalloc(1, sizeof(*m));
        pthread_mutex_init(&m->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_cond_init(&m->changed, &ca);
        pthread_cond_init(&m->trash_cond, NULL);
        ctr_health_init(m);
        pthread_condattr_destroy(&ca);
        m->runtime_root = xasprintf("%s/runtime", conf->exec_root);
        m->seccomp_cache = xasprintf("%s/seccomp-cache", conf->exec_root);
        m->run_root = xasprintf("%s/containers", conf->exec_root);
        m->data_root = xstrdup(conf->data_root);
        m->cgroup_parent = xstrdup(conf->cgroup_parent);
        {
                /* the parent every container's cgroup goes below exists while berthd runs
                 * (as dockerd keeps /docker): a start and an exit then make and remove only
                 * the container's own directory in each hierarchy */
                _cleanup_free_ char *parent = m->cgroup_parent[0] == '/'
                                                  ? xstrdup(m->cgroup_parent)
                                                  : xasprintf("/%s", m->cgroup_parent);
                _cleanup_error_ struct berth_error *cerr = NULL;
                if (berth_cgroup_hold(parent, &m->cgroup_held, &cerr) < 0)
                        log_debug("cgroup parent '%s': %s (containers make it themselves)", parent,
                                  berth_error_msg(cerr));
        }
        m->shim_dir = find_shim_dir();
        m->epfd = epoll_create1(EPOLL_CLOEXEC);
        m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        e->containers = m;
        if (m->epfd < 0 || m->wake_fd < 0)
                return berth_error_sys(err, errno, "containers: event loop");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &wake_watch};
        (void)epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->wake_fd, &ev);
        int r = mkdir_p(m->run_root, 0700);
        if (r == 0)
                r = mkdir_p(m->runtime_root, 0700);
        if (r < 0)
                return berth_error_sys(err, -r, "create '%s'", m->run_root);
        r = load_rows(e, err);
        if (r < 0)
                return r;
        sweep_orphans(e);
        pthread_mutex_lock(&m->lock);
        size_t n = m->n;
        struct berth_ctr **all = xcalloc(n ? n : 1, sizeof(*all));
        for (size_t i = 0; i < n; i++) {
                all[i] = m->v[i];
                ctr_ref(all[i]);
        }
        pthread_mutex_unlock(&m->lock);
        for (size_t i = 0; i < n; i++)
                reconcile(e, all[i]);
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < n; i++)
                restart_at_daemon_start(m, all[i]);
        pthread_mutex_unlock(&m->lock);
        for (size_t i = 0; i < n; i++)
                berth_ctr_unref(all[i]);
        free(all);
        sigset_t all_sigs, old;
        sigfillset(&all_sigs);
        pthread_sigmask(SIG_BLOCK, &all_sigs, &old);
        r = pthread_create(&m->monitor, NULL, monitor_main, e);
        if (r == 0) {
                m->monitor_running = true;
                /* a crash's trash, if any, goes now */
                m->trash_pending = true;
                r = pthread_create(&m->trash, NULL, trash_main, m);
                m->trash_running = r == 0;
        }
        if (r == 0)
                r = ctr_health_open(e, err);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r > 0)
                return berth_error_sys(err, r, "containers: start the monitor thread");
        return r;
}

void berth_containers_close(struct berth_engine *e)
{
        struct ctr_manager *m = ctr_mgr(e);
        if (!m)
                return;
        ctr_health_close(e);
        if (m->monitor_running || m->trash_running) {
                pthread_mutex_lock(&m->lock);
                m->stopping = true;
                pthread_cond_broadcast(&m->trash_cond);
                pthread_mutex_unlock(&m->lock);
        }
        if (m->monitor_running) {
                ctr_monitor_wake(m);
                pthread_join(m->monitor, NULL);
        }
        if (m->trash_running)
                pthread_join(m->trash, NULL);
        rootfs_release_all(m);
        /* containers keep running; their records and shims stay as they are */
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n; i++)
                berth_ctr_unref(m->v[i]);
        free(m->v);
        m->v = NULL;
        m->n = 0;
        pthread_mutex_unlock(&m->lock);
        if (m->epfd >= 0)
                close(m->epfd);
        if (m->wake_fd >= 0)
                close(m->wake_fd);
        free(m->runtime_root);
        free(m->seccomp_cache);
        free(m->run_root);
        free(m->data_root);
        berth_cgroup_release(m->cgroup_held);
        free(m->cgroup_parent);
        free(m->shim_dir);
        pthread_mutex_destroy(&m->lock);
        pthread_cond_destroy(&m->changed);
        pthread_cond_destroy(&m->trash_cond);
        free(m);
        e->containers = NULL;
}
