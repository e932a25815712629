/*
 * berth-regclient.c — a small command-line driver of src/registry for the
 * integration tests (tests/integration/test_registry.py); not installed.
 *
 *   berth-regclient [options] manifest REF          summary JSON of the resolved image
 *   berth-regclient [options] raw-manifest REF      the manifest bytes as served
 *   berth-regclient [options] head-manifest REF     "digest mediatype size" from HEAD
 *   berth-regclient [options] blob REF DIGEST [SIZE]  the verified blob on stdout
 *   berth-regclient [options] pull-blobs REF DIR    manifest(s) and blobs into DIR/blobs/sha256
 *   berth-regclient [options] push DIR REF          push back what pull-blobs stored
 *   berth-regclient [options] tags REF | catalog HOST | ping HOST | login HOST
 *
 * REF is host/repository[:tag][@digest] with the host always explicit
 * (normalisation of short names belongs to src/image).  Options: --user,
 * --password, --identity-token, --insecure HOST, --certs-dir DIR, --mirror URL, --docker-io URL,
 * --platform P, --all-platforms, --attempts N, --backoff-ms N, --chunk N,
 * --mount-from REPO, --cancel-after BYTES, --low-speed-time S, --sink-fail-after BYTES.
 *
 * Errors go to stderr as one line and exit status 1.
 */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/json.h"
#include "registry/registry.h"

struct ref {
        char *host, *repo, *tag, *digest;
};

static char **mirrors, **insecure, **certs_dirs;
static size_t n_mirrors, n_insecure, n_certs;
static const char *opt_user, *opt_password, *opt_identity_token, *opt_docker_io, *opt_platform,
    *opt_mount_from;
static unsigned opt_attempts;
static long opt_backoff_ms, opt_low_speed;
static size_t opt_chunk;
static bool opt_all;
static long long opt_cancel_after = -1, opt_sink_fail_after = -1;
static atomic_bool cancel_flag;

static void push_str(char ***v, size_t *n, const char *s)
{
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = xstrdup(s);
        (*v)[*n] = NULL;
}

static int die(struct berth_error *e)
{
        fprintf(stderr, "berth-regclient: %s\n", berth_error_msg(e));
        berth_error_free(e);
        return 1;
}

static int parse_ref(const char *s, struct ref *r, struct berth_error **err)
{
        memset(r, 0, sizeof(*r));
        const char *slash = strchr(s, '/');
        if (!slash)
                return berth_error_set(err, EINVAL, "reference '%s': want host/repository[:tag]",
                                       s);
        r->host = xstrndup(s, (size_t)(slash - s));
        char *rest = xstrdup(slash + 1);
        char *at = strchr(rest, '@');
        if (at) {
                r->digest = xstrdup(at + 1);
                *at = '\0';
        }
        char *colon = strrchr(rest, ':');
        if (colon && !strchr(colon, '/')) {
                r->tag = xstrdup(colon + 1);
                *colon = '\0';
        }
        if (!r->tag && !r->digest)
                r->tag = xstrdup("latest");
        r->repo = rest;
        return 0;
}

static void ref_release(struct ref *r)
{
        free(r->host);
        free(r->repo);
        free(r->tag);
        free(r->digest);
}

static const char *ref_target(const struct ref *r)
{
        return r->digest ? r->digest : r->tag;
}

static int open_repo(struct registry_client **c, const char *host, const char *repo,
                     unsigned access, struct registry_repo **ret, struct berth_error **err)
{
        struct registry_options o = {
            .mirrors = mirrors,
            .insecure = insecure,
            .certs_dirs = certs_dirs,
            .docker_io_endpoint = opt_docker_io,
            .max_attempts = opt_attempts,
            .backoff_initial_ms = opt_backoff_ms,
            .backoff_max_ms = opt_backoff_ms ? opt_backoff_ms * 8 : 0,
            .low_speed_time_s = opt_low_speed,
            .connect_timeout_ms = 5000,
            .upload_chunk_size = opt_chunk,
        };
        int r = registry_client_new(&o, c, err);
        if (r < 0)
                return r;
        struct registry_auth a = {
            .username = opt_user, .password = opt_password, .identity_token = opt_identity_token};
        r = registry_repo_open(*c, host, repo, &a, access, ret, err);
        if (r < 0)
                return r;
        registry_repo_set_cancel(*ret, &cancel_flag);
        return 0;
}

static int get_platform(struct oci_platform *p, bool *have, struct berth_error **err)
{
        *have = opt_platform != NULL;
        if (!opt_platform)
                return 0;
        return oci_platform_parse(opt_platform, p, err);
}

static int cmd_manifest(const char *refs, bool raw, bool head, struct berth_error **err)
{
        struct ref ref;
        struct registry_client *c = NULL;
        struct registry_repo *repo = NULL;
        struct oci_platform plat = {0};
        _cleanup_json_ struct json *o = NULL;
        bool have_plat;
        int r = parse_ref(refs, &ref, err);
        if (r < 0)
                return r;
        if ((r = open_repo(&c, ref.host, ref.repo, REGISTRY_PULL, &repo, err)) < 0 ||
            (r = get_platform(&plat, &have_plat, err)) < 0)
                goto out;
        if (head) {
                _cleanup_free_ char *dg = NULL, *mt = NULL;
                int64_t size = -1;
                if ((r = registry_manifest_head(repo, ref_target(&ref), &dg, &mt, &size, err)) < 0)
                        goto out;
                printf("%s %s %lld\n", dg, mt ? mt : "-", (long long)size);
                goto out;
        }
        if (raw) {
                struct registry_manifest m;
                if ((r = registry_manifest_get(repo, ref_target(&ref), &m, err)) < 0)
                        goto out;
                fwrite(m.body, 1, m.len, stdout);
                fprintf(stderr, "%s %s\n", m.media_type, m.digest);
                registry_manifest_release(&m);
                goto out;
        }
        struct registry_image img;
        if ((r = registry_resolve(repo, ref_target(&ref), have_plat ? &plat : NULL, &img, err)) < 0)
                goto out;
        o = json_new_object();
        json_set_str(o, "digest", img.manifest.digest);
        json_set_str(o, "mediaType", img.manifest.media_type);
        json_set_str(o, "indexDigest", img.index.body ? img.index.digest : NULL);
        json_set_str(o, "indexMediaType", img.index.body ? img.index.media_type : NULL);
        json_set_str(o, "config", img.parsed->config.digest);
        struct json *layers = json_object_set(o, "layers", json_new_array());
        for (size_t i = 0; i < img.parsed->n_layers; i++)
                json_array_append(layers, oci_descriptor_to_json(&img.parsed->layers[i]));
        char *s = json_dump(o, JSON_DUMP_PRETTY);
        printf("%s\n", s);
        free(s);
        registry_image_release(&img);
out:
        oci_platform_release(&plat);
        registry_repo_free(repo);
        registry_client_free(c);
        ref_release(&ref);
        return r;
}

struct fd_sink {
        int fd;
        unsigned long long total;
        long long fail_after; /* --sink-fail-after: a sink that refuses (tests) */
};

static int fd_sink_write(const void *buf, size_t n, void *ud, struct berth_error **err)
{
        struct fd_sink *s = ud;
        int r = write_all(s->fd, buf, n);
        if (r < 0)
                return berth_error_sys(err, r, "write to fd %d", s->fd);
        if (s->fail_after >= 0 && s->total + n > (unsigned long long)s->fail_after)
                return berth_error_set(err, ENOSPC, "sink full after %lld bytes", s->fail_after);
        s->total += n;
        if (opt_cancel_after >= 0 && s->total >= (unsigned long long)opt_cancel_after)
                atomic_store(&cancel_flag, true);
        return 0;
}

static int cmd_blob(const char *refs, const char *digest, const char *size_s,
                    struct berth_error **err)
{
        struct ref ref;
        struct registry_client *c = NULL;
        struct registry_repo *repo = NULL;
        int64_t size = -1;
        int r = parse_ref(refs, &ref, err);
        if (r < 0)
                return r;
        if (size_s && parse_i64(size_s, &size) < 0) {
                r = berth_error_set(err, EINVAL, "size '%s': not a number", size_s);
                goto out;
        }
        if ((r = open_repo(&c, ref.host, ref.repo, REGISTRY_PULL, &repo, err)) < 0)
                goto out;
        struct fd_sink s = {.fd = STDOUT_FILENO, .fail_after = opt_sink_fail_after};
        r = registry_blob_fetch(repo, digest, size, fd_sink_write, &s, err);
out:
        registry_repo_free(repo);
        registry_client_free(c);
        ref_release(&ref);
        return r;
}

/* ---- pull-blobs --------------------------------------------------------- */

static char *blob_path(const char *dir, const char *digest)
{
        const char *colon = strchr(digest, ':');
        return xasprintf("%s/blobs/%.*s/%s", dir, (int)(colon - digest), digest, colon + 1);
}

static int store_bytes(const char *dir, const char *digest, const char *buf, size_t len)
{
        _cleanup_free_ char *p = blob_path(dir, digest);
        return write_file_atomic(p, buf, len, 0644);
}

struct fetch_job {
        struct registry_repo *repo;
        const char *dir;
        const struct oci_descriptor *d;
        struct berth_error *err;
        int r;
};

static void *fetch_blob_thread(void *ud)
{
        struct fetch_job *j = ud;
        _cleanup_free_ char *path = blob_path(j->dir, j->d->digest);
        _cleanup_free_ char *tmp = xasprintf("%s.partial", path);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                j->r = berth_error_sys(&j->err, errno, "open '%s'", tmp);
                return NULL;
        }
        struct fd_sink s = {.fd = fd, .fail_after = -1};
        j->r = registry_blob_fetch(j->repo, j->d->digest, j->d->size, fd_sink_write, &s, &j->err);
        if (j->r < 0) {
                unlink(tmp);
                return NULL;
        }
        if (rename(tmp, path) < 0)
                j->r = berth_error_sys(&j->err, errno, "rename '%s'", tmp);
        return NULL;
}

/* Fetch config and layers of one manifest, in parallel threads. */
static int pull_manifest_blobs(struct registry_repo *repo, const char *dir,
                               const struct oci_manifest *m, struct berth_error **err)
{
        size_t n = m->n_layers + 1;
        struct fetch_job *jobs = xcalloc(n, sizeof(*jobs));
        pthread_t *th = xcalloc(n, sizeof(*th));
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                jobs[i] = (struct fetch_job){
                    .repo = repo, .dir = dir, .d = i == 0 ? &m->config : &m->layers[i - 1]};
                pthread_create(&th[i], NULL, fetch_blob_thread, &jobs[i]);
        }
        for (size_t i = 0; i < n; i++) {
                pthread_join(th[i], NULL);
                if (jobs[i].r < 0 && r == 0) {
                        r = jobs[i].r;
                        if (err && !*err)
                                *err = TAKE_PTR(jobs[i].err);
                }
                berth_error_free(jobs[i].err);
        }
        free(jobs);
        free(th);
        return r;
}

static int cmd_pull_blobs(const char *refs, const char *dir, struct berth_error **err)
{
        struct ref ref;
        struct registry_client *c = NULL;
        struct registry_repo *repo = NULL;
        struct oci_platform plat = {0};
        struct registry_manifest top = {0};
        _cleanup_free_ char *bdir = xasprintf("%s/blobs/sha256", dir);
        _cleanup_json_ struct json *o = NULL;
        _cleanup_free_ char *s = NULL, *p = NULL;
        bool have_plat;
        int r = parse_ref(refs, &ref, err);
        if (r < 0)
                return r;
        if ((r = mkdir_p(bdir, 0755)) < 0) {
                r = berth_error_sys(err, r, "mkdir '%s'", bdir);
                goto out;
        }
        if ((r = open_repo(&c, ref.host, ref.repo, REGISTRY_PULL, &repo, err)) < 0 ||
            (r = get_platform(&plat, &have_plat, err)) < 0)
                goto out;
        if ((r = registry_manifest_get(repo, ref_target(&ref), &top, err)) < 0)
                goto out;
        if ((r = store_bytes(dir, top.digest, top.body, top.len)) < 0) {
                r = berth_error_sys(err, r, "store manifest");
                goto out;
        }
        if (top.kind == OCI_DOC_INDEX && opt_all) {
                _cleanup_oci_index_ struct oci_index *x = NULL;
                if ((r = oci_index_parse(top.body, top.len, &x, err)) < 0)
                        goto out;
                for (size_t i = 0; i < x->n_manifests; i++) {
                        struct registry_manifest m;
                        _cleanup_oci_manifest_ struct oci_manifest *pm = NULL;
                        if ((r = registry_manifest_get(repo, x->manifests[i].digest, &m, err)) < 0)
                                goto out;
                        r = store_bytes(dir, m.digest, m.body, m.len);
                        if (r == 0)
                                r = oci_manifest_parse(m.body, m.len, &pm, err);
                        registry_manifest_release(&m);
                        if (r < 0 || (r = pull_manifest_blobs(repo, dir, pm, err)) < 0)
                                goto out;
                }
        } else {
                struct registry_image img;
                if ((r = registry_resolve(repo, top.digest, have_plat ? &plat : NULL, &img, err)) <
                    0)
                        goto out;
                r = store_bytes(dir, img.manifest.digest, img.manifest.body, img.manifest.len);
                if (r == 0)
                        r = pull_manifest_blobs(repo, dir, img.parsed, err);
                registry_image_release(&img);
                if (r < 0)
                        goto out;
        }
        o = json_new_object();
        json_set_str(o, "digest", top.digest);
        json_set_str(o, "mediaType", top.media_type);
        s = json_dump(o, 0);
        p = xasprintf("%s/top.json", dir);
        if ((r = write_file_atomic(p, s, strlen(s), 0644)) < 0) {
                r = berth_error_sys(err, r, "write '%s'", p);
                goto out;
        }
        printf("%s\n", top.digest);
out:
        registry_manifest_release(&top);
        oci_platform_release(&plat);
        registry_repo_free(repo);
        registry_client_free(c);
        ref_release(&ref);
        return r;
}

/* ---- push --------------------------------------------------------------- */

struct progress_seen {
        char digest[80];
        uint64_t done, total;
        unsigned calls;
};
static struct progress_seen last_progress;

static void on_progress(const char *digest, uint64_t done, uint64_t total, void *ud)
{
        struct progress_seen *p = ud;
        if (strcmp(p->digest, digest) != 0) {
                snprintf(p->digest, sizeof(p->digest), "%s", digest);
                p->calls = 0;
        }
        p->done = done;
        p->total = total;
        p->calls++;
}

static int push_blob(struct registry_repo *repo, const char *dir, const struct oci_descriptor *d,
                     struct berth_error **err)
{
        _cleanup_free_ char *path = blob_path(dir, d->digest);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_sys(err, errno, "open '%s'", path);
        memset(&last_progress, 0, sizeof(last_progress));
        registry_repo_set_upload_progress(repo, on_progress, &last_progress);
        int r = registry_blob_push(repo, d->digest, fd, d->size, opt_mount_from, err);
        if (r == 0 && strcmp(last_progress.digest, d->digest) == 0)
                fprintf(stderr, "progress %s: %llu/%llu in %u steps\n", d->digest,
                        (unsigned long long)last_progress.done,
                        (unsigned long long)last_progress.total, last_progress.calls);
        if (r >= 0)
                fprintf(stderr, "%s: %s\n", d->digest,
                        r == 0   ? "pushed"
                        : r == 1 ? "exists"
                                 : "mounted");
        return r < 0 ? r : 0;
}

static int read_blob(const char *dir, const char *digest, char **ret, size_t *ret_len,
                     struct berth_error **err)
{
        _cleanup_free_ char *path = blob_path(dir, digest);
        int r = read_file_at(AT_FDCWD, path, OCI_MANIFEST_MAX_SIZE, ret, ret_len);
        return r < 0 ? berth_error_sys(err, r, "read '%s'", path) : 0;
}

static int push_image_manifest(struct registry_repo *repo, const char *dir, const char *digest,
                               const char *media_type, const char *target, struct berth_error **err)
{
        _cleanup_free_ char *body = NULL, *got = NULL;
        _cleanup_oci_manifest_ struct oci_manifest *m = NULL;
        size_t len;
        int r;
        if ((r = read_blob(dir, digest, &body, &len, err)) < 0 ||
            (r = oci_manifest_parse(body, len, &m, err)) < 0)
                return r;
        if ((r = push_blob(repo, dir, &m->config, err)) < 0)
                return r;
        for (size_t i = 0; i < m->n_layers; i++)
                if ((r = push_blob(repo, dir, &m->layers[i], err)) < 0)
                        return r;
        const char *mt = m->media_type ? m->media_type : media_type;
        if ((r = registry_manifest_put(repo, target, mt, body, len, &got, err)) < 0)
                return r;
        fprintf(stderr, "manifest %s: pushed\n", got);
        return 0;
}

static int cmd_push(const char *dir, const char *refs, struct berth_error **err)
{
        struct ref ref;
        struct registry_client *c = NULL;
        struct registry_repo *repo = NULL;
        _cleanup_json_ struct json *top = NULL;
        _cleanup_free_ char *toppath = xasprintf("%s/top.json", dir);
        int r = parse_ref(refs, &ref, err);
        if (r < 0)
                return r;
        if ((r = json_parse_file(toppath, 1 << 20, &top, err)) < 0 ||
            (r = open_repo(&c, ref.host, ref.repo, REGISTRY_PULL | REGISTRY_PUSH, &repo, err)) < 0)
                goto out;
        const char *digest = json_str(json_get(top, "digest"));
        const char *mt = json_str(json_get(top, "mediaType"));
        if (!digest || !mt) {
                r = berth_error_set(err, EINVAL, "'%s': missing digest or mediaType", toppath);
                goto out;
        }
        if (oci_media_type_kind(mt) == OCI_DOC_INDEX) {
                _cleanup_free_ char *body = NULL, *got = NULL;
                _cleanup_oci_index_ struct oci_index *x = NULL;
                size_t len;
                if ((r = read_blob(dir, digest, &body, &len, err)) < 0 ||
                    (r = oci_index_parse(body, len, &x, err)) < 0)
                        goto out;
                for (size_t i = 0; i < x->n_manifests; i++) {
                        const struct oci_descriptor *d = &x->manifests[i];
                        if ((r = push_image_manifest(repo, dir, d->digest, d->media_type, d->digest,
                                                     err)) < 0)
                                goto out;
                }
                if ((r = registry_manifest_put(repo, ref_target(&ref), mt, body, len, &got, err)) <
                    0)
                        goto out;
                printf("%s\n", got);
        } else {
                if ((r = push_image_manifest(repo, dir, digest, mt, ref_target(&ref), err)) < 0)
                        goto out;
                printf("%s\n", digest);
        }
out:
        registry_repo_free(repo);
        registry_client_free(c);
        ref_release(&ref);
        return r;
}

static int cmd_list(const char *what, const char *arg, struct berth_error **err)
{
        struct ref ref = {0};
        struct registry_client *c = NULL;
        struct registry_repo *repo = NULL;
        char **items = NULL;
        int r;
        if (strcmp(what, "tags") == 0) {
                if ((r = parse_ref(arg, &ref, err)) < 0)
                        return r;
                if ((r = open_repo(&c, ref.host, ref.repo, REGISTRY_PULL, &repo, err)) == 0)
                        r = registry_tags_list(repo, &items, err);
        } else if (strcmp(what, "catalog") == 0) {
                if ((r = open_repo(&c, arg, NULL, REGISTRY_PULL, &repo, err)) == 0)
                        r = registry_catalog(repo, &items, err);
        } else if (strcmp(what, "login") == 0) {
                _cleanup_free_ char *idt = NULL;
                if ((r = open_repo(&c, arg, NULL, REGISTRY_PULL, &repo, err)) == 0)
                        r = registry_login(repo, &idt, err);
                if (r == 0)
                        printf("Login Succeeded\n%s%s", idt ? idt : "", idt ? "\n" : "");
        } else {
                if ((r = open_repo(&c, arg, NULL, REGISTRY_PULL, &repo, err)) == 0)
                        r = registry_ping(repo, err);
                if (r == 0)
                        printf("ok\n");
        }
        for (size_t i = 0; items && items[i]; i++)
                printf("%s\n", items[i]);
        strv_free(items);
        registry_repo_free(repo);
        registry_client_free(c);
        ref_release(&ref);
        return r;
}

int main(int argc, char **argv)
{
        enum {
                O_USER = 256,
                O_PASSWORD,
                O_IDTOKEN,
                O_INSECURE,
                O_CERTS,
                O_MIRROR,
                O_DOCKER_IO,
                O_PLATFORM,
                O_ALL,
                O_ATTEMPTS,
                O_BACKOFF,
                O_CHUNK,
                O_MOUNT,
                O_CANCEL,
                O_LOWSPEED,
                O_SINKFAIL
        };
        static const struct option opts[] = {
            {"user", required_argument, NULL, O_USER},
            {"password", required_argument, NULL, O_PASSWORD},
            {"identity-token", required_argument, NULL, O_IDTOKEN},
            {"insecure", required_argument, NULL, O_INSECURE},
            {"certs-dir", required_argument, NULL, O_CERTS},
            {"mirror", required_argument, NULL, O_MIRROR},
            {"docker-io", required_argument, NULL, O_DOCKER_IO},
            {"platform", required_argument, NULL, O_PLATFORM},
            {"all-platforms", no_argument, NULL, O_ALL},
            {"attempts", required_argument, NULL, O_ATTEMPTS},
            {"backoff-ms", required_argument, NULL, O_BACKOFF},
            {"chunk", required_argument, NULL, O_CHUNK},
            {"mount-from", required_argument, NULL, O_MOUNT},
            {"cancel-after", required_argument, NULL, O_CANCEL},
            {"low-speed-time", required_argument, NULL, O_LOWSPEED},
            {"sink-fail-after", required_argument, NULL, O_SINKFAIL},
            {},
        };
        int ch;
        while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                switch (ch) {
                case O_USER:
                        opt_user = optarg;
                        break;
                case O_PASSWORD:
                        opt_password = optarg;
                        break;
                case O_IDTOKEN:
                        opt_identity_token = optarg;
                        break;
                case O_INSECURE:
                        push_str(&insecure, &n_insecure, optarg);
                        break;
                case O_CERTS:
                        push_str(&certs_dirs, &n_certs, optarg);
                        break;
                case O_MIRROR:
                        push_str(&mirrors, &n_mirrors, optarg);
                        break;
                case O_DOCKER_IO:
                        opt_docker_io = optarg;
                        break;
                case O_PLATFORM:
                        opt_platform = optarg;
                        break;
                case O_ALL:
                        opt_all = true;
                        break;
                case O_ATTEMPTS:
                        opt_attempts = (unsigned)atoi(optarg);
                        break;
                case O_BACKOFF:
                        opt_backoff_ms = atol(optarg);
                        break;
                case O_CHUNK:
                        opt_chunk = (size_t)atoll(optarg);
                        break;
                case O_MOUNT:
                        opt_mount_from = optarg;
                        break;
                case O_CANCEL:
                        opt_cancel_after = atoll(optarg);
                        break;
                case O_SINKFAIL:
                        opt_sink_fail_after = atoll(optarg);
                        break;
                case O_LOWSPEED:
                        opt_low_speed = atol(optarg);
                        break;
                default:
                        return 2;
                }
        }
        if (!certs_dirs)
                push_str(&certs_dirs, &n_certs, "/nonexistent-berth-certs.d");
        struct berth_error *err = NULL;
        int n = argc - optind;
        char **a = argv + optind;
        int r;
        if (n == 2 && strcmp(a[0], "manifest") == 0)
                r = cmd_manifest(a[1], false, false, &err);
        else if (n == 2 && strcmp(a[0], "raw-manifest") == 0)
                r = cmd_manifest(a[1], true, false, &err);
        else if (n == 2 && strcmp(a[0], "head-manifest") == 0)
                r = cmd_manifest(a[1], false, true, &err);
        else if ((n == 3 || n == 4) && strcmp(a[0], "blob") == 0)
                r = cmd_blob(a[1], a[2], n == 4 ? a[3] : NULL, &err);
        else if (n == 3 && strcmp(a[0], "pull-blobs") == 0)
                r = cmd_pull_blobs(a[1], a[2], &err);
        else if (n == 3 && strcmp(a[0], "push") == 0)
                r = cmd_push(a[1], a[2], &err);
        else if (n == 2 && (strcmp(a[0], "tags") == 0 || strcmp(a[0], "catalog") == 0 ||
                            strcmp(a[0], "ping") == 0 || strcmp(a[0], "login") == 0))
                r = cmd_list(a[0], a[1], &err);
        else {
                fprintf(stderr,
                        "usage: berth-regclient [options] manifest|raw-manifest|head-manifest|blob|"
                        "pull-blobs|push|tags|catalog|ping ARGS\n");
                return 2;
        }
        strv_free(mirrors);
        strv_free(insecure);
        strv_free(certs_dirs);
        if (r < 0)
                return die(err);
        berth_error_free(err);
        return 0;
}
