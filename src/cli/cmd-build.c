/*
 * cmd-build.c — `berth build` (also `image build`) and `berth builder prune`,
 * as docker 28's CLI runs them with the classic builder (DOCKER_BUILDKIT=0):
 * POST /build with the build context as a tar body, then the daemon's JSON
 * stream rendered by progress.h.
 *
 * The context is docker's (cli/command/image/build.go and build/context.go):
 *  - a directory: walked by image/tar-writer.h with every entry owned by 0:0,
 *    no entry for the top, and build/dockerignore.h deciding what is left out
 *    (an excluded directory no exception reaches is not walked at all; one an
 *    exception may reach into is walked but not sent itself).  The Dockerfile
 *    and .dockerignore are always sent.  A Dockerfile from stdin (-f -) or from
 *    outside the directory is added as ".dockerfile.<20 hex>", and that name
 *    (and ".dockerignore") appended to the .dockerignore sent, so the daemon
 *    keeps both out of COPY . as docker's AddDockerfileToBuildContext does.
 *  - "-": stdin.  When its first 512 bytes are a tar header or a compressed
 *    stream's magic it is passed through as it is; otherwise it is the
 *    Dockerfile of an empty context, sent as the tar entry "Dockerfile".
 * The tar is written by a thread of its own into a pipe that the request sends
 * chunked as it fills (gzip'd on the way with --compress), so no context is
 * ever held in memory; only a Dockerfile read from stdin is.
 *
 * Output: "Sending build context to Docker daemon  <size>\r\r\n" (the last
 * update of docker's progress reader, off a terminal) once the body is sent,
 * then each message of the stream; the stream's error ends the build, printed
 * on stderr, the exit code its errorDetail.code (1 when it has none).  With -q
 * everything is held back and only the daemon's "sha256:…" line printed, or on
 * failure all of it goes to stderr before the error, as docker does.
 *
 * Never: read a whole context into memory, follow a symlink in the context,
 * or send an entry the .dockerignore excludes (but the two build files).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "api/http.h"
#include "base/buf.h"
#include "base/fileio.h"
#include "base/json.h"
#include "base/units.h"
#include "build/dockerignore.h"
#include "cli.h"
#include "container-opts.h"
#include "credentials.h"
#include "filter-flag.h"
#include "image/reference.h"
#include "image/tar-writer.h"
#include "progress.h"
#include "prune.h"

#define DEFAULT_DOCKERFILE "Dockerfile"
#define TAR_BLOCK          512

/* ---- flag checks (pflag's "invalid argument" messages come from these) ---- */

/* ParseNormalizedNamed's remote name, as its "must be lowercase" error shows it. */
static char *remote_name(const char *v)
{
        size_t slash = strcspn(v, "/");
        const char *rest = v;
        if (v[slash]) {
                _cleanup_free_ char *first = xstrndup(v, slash);
                bool lower = true;
                for (const char *c = first; *c; c++)
                        lower = lower && !isupper((unsigned char)*c);
                if (strpbrk(first, ".:") || strcmp(first, "localhost") == 0 || !lower)
                        rest = v + slash + 1;
        }
        size_t n = strcspn(rest, ":@");
        if (rest == v && !v[slash])
                return xasprintf("library/%.*s", (int)n, rest);
        return xstrndup(rest, n);
}

static char *check_tag(const char *v)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (image_ref_parse_normalized(v, &ref, &err) == 0)
                return NULL;
        if (strstr(berth_error_msg(err), "must be lowercase")) {
                _cleanup_free_ char *remote = remote_name(v);
                return xasprintf("invalid reference format: repository name (%s) must be "
                                 "lowercase",
                                 remote);
        }
        return xstrdup(berth_error_msg(err));
}

static char *check_bytes(const char *v)
{
        int64_t n;
        _cleanup_error_ struct berth_error *err = NULL;
        if (units_ram_in_bytes(v, &n, &err) < 0)
                return xstrdup(berth_error_msg(err));
        return NULL;
}

static char *check_swap(const char *v)
{
        return strcmp(v, "-1") == 0 ? NULL : check_bytes(v);
}

static char *check_add_host(const char *v)
{
        return container_extra_host(v, NULL);
}

static char *check_build_arg(const char *v)
{
        if (*v == '=')
                return xasprintf("invalid environment variable: %s", v);
        return NULL;
}

static char *check_ulimit(const char *v)
{
        _cleanup_free_ char *name = NULL;
        int64_t soft, hard;
        _cleanup_error_ struct berth_error *err = NULL;
        if (container_parse_ulimit(v, &name, &soft, &hard, &err) < 0)
                return xstrdup(berth_error_msg(err));
        return NULL;
}

/* ---- the query ---- */

static void query_add(struct berth_buf *q, const char *key, const char *value)
{
        if (q->len)
                buf_putc(q, '&');
        buf_printf(q, "%s=", key);
        http_escape_query(q, value);
}

static void query_add_int(struct berth_buf *q, const char *key, int64_t v)
{
        char s[32];
        snprintf(s, sizeof(s), "%lld", (long long)v);
        query_add(q, key, s);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * KEY=VAL values as the JSON object Go marshals from a map: keys sorted, the last
 * value of a key wins.  build_args: a bare KEY takes its value from the environment,
 * or null when unset (opts.ValidateEnv, ConvertKVStringsToMapWithNil); labels: a
 * bare KEY is "".
 */
static char *kv_json(char **list, bool build_args)
{
        size_t n = 0;
        while (list && list[n])
                n++;
        if (!n)
                return NULL;
        /* stable: sort indexes by key, later entries after earlier ones */
        char **keys = xcalloc(n, sizeof(*keys));
        for (size_t i = 0; i < n; i++)
                keys[i] = xstrndup(list[i], strcspn(list[i], "="));
        char **sorted = xcalloc(n, sizeof(*sorted));
        memcpy(sorted, keys, n * sizeof(*keys));
        qsort(sorted, n, sizeof(*sorted), cmp_str);
        struct json *o = json_new_object();
        for (size_t k = 0; k < n; k++) {
                if (k && strcmp(sorted[k], sorted[k - 1]) == 0)
                        continue;
                const char *val = NULL;
                bool have = false;
                for (size_t i = 0; i < n; i++) {
                        if (strcmp(keys[i], sorted[k]) != 0)
                                continue;
                        const char *eq = strchr(list[i], '=');
                        if (eq) {
                                val = eq + 1, have = true;
                        } else if (build_args) {
                                val = getenv(keys[i]);
                                have = val != NULL;
                        } else {
                                val = "", have = true;
                        }
                }
                if (have)
                        json_set_str(o, sorted[k], val);
                else
                        json_object_set(o, sorted[k], json_new_null());
        }
        char *text = json_dump(o, 0);
        json_free(o);
        for (size_t i = 0; i < n; i++)
                free(keys[i]);
        free(keys);
        free(sorted);
        return text;
}

static char *list_json(char **list)
{
        if (!list || !list[0])
                return NULL;
        struct json *a = json_new_array();
        for (size_t i = 0; list[i]; i++)
                json_array_append(a, json_new_string(list[i]));
        char *text = json_dump(a, 0);
        json_free(a);
        return text;
}

/* [{"Name":…,"Hard":…,"Soft":…}], one per name (the last given wins). */
static char *ulimits_json(char **list)
{
        if (!list || !list[0])
                return NULL;
        struct json *a = json_new_array();
        for (size_t i = 0; list[i]; i++) {
                _cleanup_free_ char *name = NULL;
                int64_t soft, hard;
                if (container_parse_ulimit(list[i], &name, &soft, &hard, NULL) < 0)
                        continue; /* checked when parsed */
                bool later = false;
                for (size_t k = i + 1; list[k] && !later; k++)
                        later = strncmp(list[k], name, strlen(name)) == 0 &&
                                list[k][strlen(name)] == '=';
                if (later)
                        continue;
                struct json *u = json_new_object();
                json_set_str(u, "Name", name);
                json_set_int(u, "Hard", hard);
                json_set_int(u, "Soft", soft);
                json_array_append(a, u);
        }
        char *text = json_dump(a, 0);
        json_free(a);
        return text;
}

static int64_t bytes_flag(const struct cli_flagset *fs, const char *name)
{
        const char *v = cli_flag_string(fs, name);
        int64_t n = 0;
        if (v && *v && strcmp(v, "-1") == 0)
                return -1;
        if (v && *v)
                (void)units_ram_in_bytes(v, &n, NULL);
        return n;
}

/* docker's imageBuildOptionsToQuery: url.Values.Encode, so the keys in byte order. */
static void build_query(struct berth_buf *q, const struct cli_flagset *fs, const char *dockerfile)
{
        _cleanup_free_ char *args = kv_json(cli_flag_list(fs, "build-arg"), true);
        if (args)
                query_add(q, "buildargs", args);
        _cleanup_free_ char *cache = list_json(cli_flag_list(fs, "cache-from"));
        if (cache)
                query_add(q, "cachefrom", cache);
        const char *s = cli_flag_string(fs, "cgroup-parent");
        if (s && *s)
                query_add(q, "cgroupparent", s);
        if (cli_flag_int(fs, "cpu-period"))
                query_add_int(q, "cpuperiod", cli_flag_int(fs, "cpu-period"));
        if (cli_flag_int(fs, "cpu-quota"))
                query_add_int(q, "cpuquota", cli_flag_int(fs, "cpu-quota"));
        if ((s = cli_flag_string(fs, "cpuset-cpus")) && *s)
                query_add(q, "cpusetcpus", s);
        if ((s = cli_flag_string(fs, "cpuset-mems")) && *s)
                query_add(q, "cpusetmems", s);
        if (cli_flag_int(fs, "cpu-shares"))
                query_add_int(q, "cpushares", cli_flag_int(fs, "cpu-shares"));
        if (dockerfile && *dockerfile)
                query_add(q, "dockerfile", dockerfile);
        char **hosts = cli_flag_list(fs, "add-host");
        for (size_t i = 0; hosts && hosts[i]; i++) {
                _cleanup_free_ char *v = NULL;
                free(container_extra_host(hosts[i], &v));
                if (v)
                        query_add(q, "extrahosts", v);
        }
        if (cli_flag_bool(fs, "force-rm"))
                query_add(q, "forcerm", "1");
        s = cli_flag_string(fs, "isolation");
        if (s && *s && strcasecmp(s, "default") != 0)
                query_add(q, "isolation", s);
        _cleanup_free_ char *labels = kv_json(cli_flag_list(fs, "label"), false);
        if (labels)
                query_add(q, "labels", labels);
        if (bytes_flag(fs, "memory"))
                query_add_int(q, "memory", bytes_flag(fs, "memory"));
        if (bytes_flag(fs, "memory-swap"))
                query_add_int(q, "memswap", bytes_flag(fs, "memory-swap"));
        s = cli_flag_string(fs, "network");
        if (s && *s && strcmp(s, "default") != 0)
                query_add(q, "networkmode", s);
        if (cli_flag_bool(fs, "no-cache"))
                query_add(q, "nocache", "1");
        s = cli_flag_string(fs, "platform");
        if (!s && getenv("DOCKER_DEFAULT_PLATFORM"))
                s = getenv("DOCKER_DEFAULT_PLATFORM");
        if (s && *s) {
                _cleanup_free_ char *lower = xstrdup(s);
                for (char *c = lower; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                query_add(q, "platform", lower);
        }
        if (cli_flag_bool(fs, "pull"))
                query_add(q, "pull", "1");
        if (cli_flag_bool(fs, "quiet"))
                query_add(q, "q", "1");
        if (!cli_flag_bool(fs, "rm"))
                query_add(q, "rm", "0");
        char **sec = cli_flag_list(fs, "security-opt");
        for (size_t i = 0; sec && sec[i]; i++)
                query_add(q, "securityopt", sec[i]);
        if (bytes_flag(fs, "shm-size"))
                query_add_int(q, "shmsize", bytes_flag(fs, "shm-size"));
        if (cli_flag_bool(fs, "squash"))
                query_add(q, "squash", "1");
        char **tags = cli_flag_list(fs, "tag");
        for (size_t i = 0; tags && tags[i]; i++)
                query_add(q, "t", tags[i]);
        if ((s = cli_flag_string(fs, "target")) && *s)
                query_add(q, "target", s);
        _cleanup_free_ char *ulimits = ulimits_json(cli_flag_list(fs, "ulimit"));
        if (ulimits)
                query_add(q, "ulimits", ulimits);
        query_add(q, "version", "1");
}

/* ---- the context ---- */

enum context_kind {
        CONTEXT_DIR,       /* a directory walked into a tar */
        CONTEXT_TAR,       /* stdin, an archive, passed through */
        CONTEXT_DOCKERFILE /* stdin was a Dockerfile: a tar of that one file */
};

struct context {
        enum context_kind kind;
        int dirfd;               /* CONTEXT_DIR: the directory (O_PATH) */
        struct dockerignore *di; /* its patterns, or NULL */
        char *rel_dockerfile;    /* the query's dockerfile=, or NULL */
        char *extra_name;        /* ".dockerfile.<hex>" to append, or NULL */
        char *extra_data;        /* that Dockerfile (or stdin's) */
        size_t extra_len;
        char *ignore_data; /* .dockerignore as read (NULL when none) */
        size_t ignore_len;
        mode_t ignore_mode;
        int64_t ignore_mtime;
        char peek[TAR_BLOCK]; /* CONTEXT_TAR: the bytes read to decide */
        size_t peek_len;
};

static void context_release(struct context *cx)
{
        if (cx->dirfd >= 0)
                close(cx->dirfd);
        dockerignore_free(cx->di);
        free(cx->rel_dockerfile);
        free(cx->extra_name);
        free(cx->extra_data);
        free(cx->ignore_data);
}

/* DetectCompression and tar.Reader.Next on the first block: docker's IsArchive. */
static bool is_archive(const unsigned char *b, size_t n)
{
        static const struct {
                const char *magic;
                size_t len;
        } magics[] = {{"BZh", 3},
                      {"\x1f\x8b\x08", 3},
                      {"\xfd\x37\x7a\x58\x5a\x00", 6},
                      {"\x28\xb5\x2f\xfd", 4}};
        for (size_t i = 0; i < ELEMENTSOF(magics); i++)
                if (n >= magics[i].len && memcmp(b, magics[i].magic, magics[i].len) == 0)
                        return true;
        if (n < TAR_BLOCK)
                return false;
        bool zero = true;
        for (size_t i = 0; i < TAR_BLOCK && zero; i++)
                zero = b[i] == 0;
        if (zero)
                return false;
        /* the checksum, as octal digits between spaces or NULs */
        char field[9];
        memcpy(field, b + 148, 8);
        field[8] = '\0';
        char *s = field + strspn(field, " ");
        size_t k = strspn(s, "01234567");
        if (!k || (s[k] && s[k] != ' ' && s[k] != '\0'))
                return false;
        unsigned long want = strtoul(s, NULL, 8);
        unsigned long usum = 0;
        long ssum = 0;
        for (size_t i = 0; i < TAR_BLOCK; i++) {
                unsigned char c = i >= 148 && i < 156 ? ' ' : b[i];
                usum += c;
                ssum += (signed char)c;
        }
        return want == usum || (long)want == ssum;
}

static char *random_dockerfile_name(void)
{
        unsigned char r[10];
        if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
                for (size_t i = 0; i < sizeof(r); i++)
                        r[i] = (unsigned char)rand();
        }
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, ".dockerfile.");
        for (size_t i = 0; i < sizeof(r); i++)
                buf_printf(&b, "%02x", r[i]);
        return buf_steal(&b);
}

/* Go's filepath.Rel for two clean absolute paths, by their elements. */
static char *rel_path(const char *base, const char *target)
{
        const char *b = base + 1, *t = target + 1;
        /* skip the elements both share */
        for (;;) {
                size_t bl = strcspn(b, "/"), tl = strcspn(t, "/");
                if (!bl || bl != tl || strncmp(b, t, bl) != 0)
                        break;
                b += bl + (b[bl] == '/');
                t += tl + (t[tl] == '/');
        }
        struct berth_buf r = BERTH_BUF_INIT;
        while (*b) {
                buf_puts(&r, r.len ? "/.." : "..");
                b += strcspn(b, "/");
                b += *b == '/';
        }
        if (*t)
                buf_printf(&r, "%s%s", r.len ? "/" : "", t);
        if (!r.len)
                buf_puts(&r, ".");
        return buf_steal(&r);
}

static char *read_small_file(int dirfd, const char *name, size_t *ret_len, struct stat *ret_st,
                             int *ret_errno)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        char *data = NULL;
        *ret_errno = 0;
        if (fd < 0 || fstat(fd, ret_st) < 0) {
                *ret_errno = errno;
                return NULL;
        }
        int r = read_full_fd(fd, 64u << 20, &data, ret_len);
        if (r < 0) {
                *ret_errno = -r;
                return NULL;
        }
        return data;
}

/* Go's wording of an errno ("no such file or directory"). */
static const char *go_errno(int e)
{
        static __thread char s[128];
        snprintf(s, sizeof(s), "%s", strerror(e));
        s[0] = (char)tolower((unsigned char)s[0]);
        return s;
}

/* filepath.Abs: the working directory joined and the result cleaned. */
static char *absolute_path(const char *file)
{
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
                snprintf(cwd, sizeof(cwd), "/");
        _cleanup_free_ char *joined = xasprintf("%s/%s", cwd, file);
        return path_clean(joined);
}

/* What Go's EvalSymlinks names when it fails: the first element of path that is not there. */
static char *first_missing(const char *path)
{
        struct berth_buf b = BERTH_BUF_INIT;
        const char *p = path;
        struct stat st;
        while (*p) {
                size_t n = strcspn(p + 1, "/") + 1;
                buf_append(&b, p, n);
                p += n;
                if (lstat(b.data, &st) < 0)
                        break;
        }
        return buf_steal(&b);
}

/* build.GetContextFromLocalDir and what runBuild does with its answer; 0 or 1 with the
 * message printed. */
static int prepare_dir(struct cli_ctx *ctx, const char *path, const char *file, bool file_stdin,
                       struct context *cx)
{
        _cleanup_free_ char *abs = realpath(path, NULL);
        if (!abs) {
                fprintf(ctx->err,
                        "unable to prepare context: unable to evaluate symlinks in context "
                        "path: lstat %s: %s\n",
                        path, go_errno(errno));
                return 1;
        }
        struct stat st;
        if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
                fprintf(ctx->err, "unable to prepare context: context must be a directory: %s\n",
                        abs);
                return 1;
        }
        cx->kind = CONTEXT_DIR;
        if (file_stdin) {
                cx->rel_dockerfile = xstrdup("-");
        } else {
                _cleanup_free_ char *want = NULL;
                if (!file || !*file) {
                        want = xasprintf("%s/%s", abs, DEFAULT_DOCKERFILE);
                        _cleanup_free_ char *alt = xasprintf("%s/dockerfile", abs);
                        if (lstat(want, &st) < 0 && errno == ENOENT && lstat(alt, &st) == 0)
                                free(want), want = TAKE_PTR(alt);
                } else {
                        /* docker 28: -f is relative to the working directory */
                        want = file[0] == '/' ? xstrdup(file) : absolute_path(file);
                }
                _cleanup_free_ char *real = realpath(want, NULL);
                if (!real) {
                        int e = errno;
                        _cleanup_free_ char *missing = first_missing(want);
                        fprintf(ctx->err,
                                "unable to prepare context: unable to evaluate symlinks in "
                                "Dockerfile path: lstat %s: %s\n",
                                missing, go_errno(e));
                        return 1;
                }
                cx->rel_dockerfile = rel_path(abs, real);
                if (strncmp(cx->rel_dockerfile, "../", 3) == 0) {
                        /* outside the context: sent under a name of its own */
                        int e;
                        cx->extra_data = read_small_file(AT_FDCWD, real, &cx->extra_len, &st, &e);
                        if (!cx->extra_data) {
                                fprintf(ctx->err, "unable to open Dockerfile: open %s: %s\n", real,
                                        go_errno(e));
                                return 1;
                        }
                }
        }
        cx->dirfd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cx->dirfd < 0) {
                fprintf(ctx->err, "unable to prepare context: open %s: %s\n", abs, go_errno(errno));
                return 1;
        }
        int e;
        cx->ignore_data = read_small_file(cx->dirfd, ".dockerignore", &cx->ignore_len, &st, &e);
        if (cx->ignore_data) {
                cx->ignore_mode = st.st_mode & 07777;
                cx->ignore_mtime = (int64_t)st.st_mtim.tv_sec;
                _cleanup_error_ struct berth_error *err = NULL;
                if (dockerignore_parse(cx->ignore_data, cx->ignore_len, &cx->di, &err) < 0) {
                        fprintf(ctx->err, "error reading .dockerignore: %s\n",
                                berth_error_msg(err));
                        return 1;
                }
                dockerignore_keep_build_files(cx->di, cx->rel_dockerfile, file_stdin);
        } else if (e != ENOENT) {
                fprintf(ctx->err, "error reading .dockerignore: open %s/.dockerignore: %s\n", abs,
                        go_errno(e));
                return 1;
        }
        return 0;
}

/* build.GetContextFromReader on stdin; 0 or 1 with the message printed. */
static int prepare_stdin(struct cli_ctx *ctx, const char *file, struct context *cx)
{
        while (cx->peek_len < TAR_BLOCK) {
                ssize_t n = read(STDIN_FILENO, cx->peek + cx->peek_len, TAR_BLOCK - cx->peek_len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(ctx->err,
                                "unable to prepare context: failed to peek context header from "
                                "STDIN: read /dev/stdin: %s\n",
                                go_errno(errno));
                        return 1;
                }
                if (n == 0)
                        break;
                cx->peek_len += (size_t)n;
        }
        if (is_archive((const unsigned char *)cx->peek, cx->peek_len)) {
                cx->kind = CONTEXT_TAR;
                cx->rel_dockerfile = file ? xstrdup(file) : NULL;
                return 0;
        }
        /* a Dockerfile, with no context */
        struct berth_buf b = BERTH_BUF_INIT;
        buf_append(&b, cx->peek, cx->peek_len);
        char chunk[65536];
        ssize_t n;
        while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(ctx->err, "unable to prepare context: read /dev/stdin: %s\n",
                                go_errno(errno));
                        buf_release(&b);
                        return 1;
                }
                buf_append(&b, chunk, (size_t)n);
        }
        cx->kind = CONTEXT_DOCKERFILE;
        cx->extra_len = b.len;
        cx->extra_data = buf_steal(&b);
        cx->rel_dockerfile = xstrdup(DEFAULT_DOCKERFILE);
        return 0;
}

/* ---- the body: a thread writes the tar into the pipe the request sends ---- */

struct producer {
        int fd; /* the pipe's write end, owned */
        struct context *cx;
        bool compress;
        z_stream z;
        uint64_t sent; /* bytes into the pipe: what docker's progress reader counts */
        char *error;
};

static int pipe_out(struct producer *p, const void *buf, size_t len)
{
        int r = write_all(p->fd, buf, len);
        if (r == 0)
                p->sent += len;
        return r;
}

static int deflate_out(struct producer *p, const void *buf, size_t len, int flush)
{
        unsigned char out[65536];
        p->z.next_in = (unsigned char *)(uintptr_t)buf;
        p->z.avail_in = (uInt)len;
        do {
                p->z.next_out = out;
                p->z.avail_out = sizeof(out);
                int zr = deflate(&p->z, flush);
                if (zr == Z_STREAM_ERROR)
                        return -EIO;
                size_t have = sizeof(out) - p->z.avail_out;
                if (have) {
                        int r = pipe_out(p, out, have);
                        if (r < 0)
                                return r;
                }
        } while (p->z.avail_out == 0 || (flush == Z_FINISH && p->z.avail_in));
        return 0;
}

static int sink(const void *buf, size_t len, void *arg)
{
        struct producer *p = arg;
        return p->compress ? deflate_out(p, buf, len, Z_NO_FLUSH) : pipe_out(p, buf, len);
}

static enum tarw_verdict context_filter(const char *name, int fd, const struct stat *st,
                                        void *userdata)
{
        (void)fd;
        struct context *cx = userdata;
        /* replaced at the end with the extra Dockerfile's name added */
        if (cx->extra_name && strcmp(name, ".dockerignore") == 0)
                return TARW_SKIP;
        if (!cx->di || !dockerignore_excluded(cx->di, name))
                return TARW_KEEP;
        if (!S_ISDIR(st->st_mode) || dockerignore_can_skip_dir(cx->di, name))
                return TARW_SKIP;
        return TARW_HIDE;
}

static int produce_tar(struct producer *p, struct berth_error **err)
{
        struct context *cx = p->cx;
        if (cx->kind == CONTEXT_TAR) {
                int r = sink(cx->peek, cx->peek_len, p);
                char chunk[65536];
                ssize_t n;
                while (r == 0 && (n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return berth_error_sys(err, errno, "read /dev/stdin");
                        r = sink(chunk, (size_t)n, p);
                }
                return r < 0 ? berth_error_sys(err, -r, "send build context") : 0;
        }
        _cleanup_tarw_ struct tarw *w = tarw_new(sink, p);
        tarw_set_perm_only(w, true);
        tarw_set_direct(w, true);
        int64_t now = (int64_t)time(NULL);
        if (cx->kind == CONTEXT_DOCKERFILE) {
                /* docker tars a temporary directory holding the file: mode 0666 less the
                 * umask, owned by the user */
                mode_t mask = umask(0);
                umask(mask);
                tarw_set_owner(w, getuid(), getgid());
                int r = tarw_add_data(w, DEFAULT_DOCKERFILE, cx->extra_data, cx->extra_len,
                                      0666 & ~mask, now, err);
                return r < 0 ? r : tarw_finish(w, err);
        }
        tarw_set_owner(w, 0, 0);
        tarw_set_filter(w, context_filter, cx);
        int r = tarw_add(w, cx->dirfd, NULL, "", err);
        if (r == 0 && cx->extra_name) {
                r = tarw_add_data(w, cx->extra_name, cx->extra_data, cx->extra_len, 0600, now, err);
                struct berth_buf ig = BERTH_BUF_INIT;
                if (cx->ignore_data)
                        buf_append(&ig, cx->ignore_data, cx->ignore_len);
                else
                        buf_puts(&ig, ".dockerignore");
                buf_printf(&ig, "\n%s\n", cx->extra_name);
                if (r == 0)
                        r = tarw_add_data(w, ".dockerignore", ig.data, ig.len,
                                          cx->ignore_data ? cx->ignore_mode : 0600,
                                          cx->ignore_data ? cx->ignore_mtime : now, err);
                buf_release(&ig);
        }
        return r < 0 ? r : tarw_finish(w, err);
}

static void *produce(void *arg)
{
        struct producer *p = arg;
        /* the request may end first (the daemon refused): EPIPE, not a signal */
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
        _cleanup_error_ struct berth_error *err = NULL;
        int r = produce_tar(p, &err);
        if (r == 0 && p->compress && deflate_out(p, NULL, 0, Z_FINISH) < 0)
                r = berth_error_set(&err, EIO, "compress build context");
        if (r < 0)
                p->error = xstrdup(berth_error_msg(err));
        close(p->fd);
        p->fd = -EBADF;
        return NULL;
}

/* ---- the answer ---- */

struct build_run {
        struct cli_ctx *ctx;
        struct progress *p;
        bool quiet;
        int status;
        struct producer *prod;
        pthread_t thread;
        bool joined;
        struct berth_buf prog;  /* -q: the context line, held back */
        struct berth_buf build; /* -q: the stream, held back */
        struct berth_buf error_body;
        struct berth_error *err;
        char *image_id;
};

static void join_producer(struct build_run *b)
{
        if (b->joined)
                return;
        pthread_join(b->thread, NULL);
        b->joined = true;
}

/* The progress reader's last update once the whole body went: "Sending build context to
 * Docker daemon  2.048kB\r\r\n" (HumanSize in 8 columns). */
static void announce(struct build_run *b)
{
        _cleanup_buf_ struct berth_buf size = BERTH_BUF_INIT;
        units_human_size(&size, (double)b->prod->sent);
        struct berth_buf *to = b->quiet ? &b->prog : NULL;
        _cleanup_free_ char *line =
            xasprintf("Sending build context to Docker daemon %8s\r\r\n", size.data);
        if (to) {
                buf_puts(to, line);
        } else {
                fputs(line, b->ctx->out);
                fflush(b->ctx->out);
        }
}

static void on_aux(const struct json *aux, void *userdata)
{
        struct build_run *b = userdata;
        const char *id = json_str(json_get(aux, "ID"));
        if (id) {
                free(b->image_id);
                b->image_id = xstrdup(id);
        }
}

static int build_data(const char *data, size_t len, void *userdata)
{
        struct build_run *b = userdata;
        if (!b->joined) {
                join_producer(b);
                announce(b);
        }
        if (b->status != 200) {
                if (b->error_body.len + len <= 1 << 20)
                        buf_append(&b->error_body, data, len);
                return 0;
        }
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        int r = progress_feed(b->p, data, len, &out, &b->err);
        if (out.len) {
                if (b->quiet) {
                        buf_append(&b->build, out.data, out.len);
                } else {
                        fwrite(out.data, 1, out.len, b->ctx->out);
                        fflush(b->ctx->out);
                }
        }
        return r < 0 ? r : 0;
}

/* The stream ended in an error message: docker's StatusError, its code 1 when 0. */
static int stream_failed(struct build_run *b)
{
        fflush(b->ctx->out);
        if (b->quiet)
                fprintf(b->ctx->err, "%.*s%.*s", (int)b->prog.len, b->prog.data ?: "",
                        (int)b->build.len, b->build.data ?: "");
        fprintf(b->ctx->err, "%s\n", berth_error_msg(b->err));
        int code = progress_error_code(b->p);
        return code > 0 && code < 256 ? code : 1;
}

static int send_build(struct cli_ctx *ctx, const struct cli_flagset *fs, struct context *cx,
                      struct build_run *b)
{
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_connect(c, NULL, &err) < 0) {
                fprintf(ctx->err, "%s\n", berth_error_msg(err));
                return 1;
        }
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
                fprintf(ctx->err, "pipe: %s\n", go_errno(errno));
                return 1;
        }
        struct producer prod = {.fd = fds[1], .cx = cx, .compress = cli_flag_bool(fs, "compress")};
        if (prod.compress && deflateInit2(&prod.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                                          Z_DEFAULT_STRATEGY) != Z_OK) {
                close(fds[0]), close(fds[1]);
                fprintf(ctx->err, "compress build context: zlib failed\n");
                return 1;
        }
        b->prod = &prod;
        if (pthread_create(&b->thread, NULL, produce, &prod) != 0) {
                close(fds[0]), close(fds[1]);
                fprintf(ctx->err, "start build context writer: %s\n", go_errno(errno));
                return 1;
        }
        _cleanup_buf_ struct berth_buf q = BERTH_BUF_INIT;
        build_query(&q, fs, cx->rel_dockerfile);
        _cleanup_free_ char *config = cli_credentials_registry_config();
        c->registry_config = config;
        int r = cli_client_send_fd(c, "POST", "/build", q.data, "application/x-tar", fds[0],
                                   &b->status, build_data, b, &err);
        c->registry_config = NULL;
        close(fds[0]); /* a writer still at work gets EPIPE */
        bool announced = b->joined;
        join_producer(b);
        if (prod.compress)
                deflateEnd(&prod.z);
        int code = 0;
        if (r < 0 && b->err) {
                code = stream_failed(b);
        } else if (r < 0) {
                /* the writer's own failure (an unreadable file) explains a cut request */
                fprintf(ctx->err, "%s\n", prod.error ? prod.error : berth_error_msg(err));
                code = 1;
        } else {
                if (!announced)
                        announce(b);
                if (b->status != 200) {
                        if (b->quiet)
                                fprintf(ctx->err, "%.*s", (int)b->prog.len, b->prog.data ?: "");
                        struct cli_response resp = {.status = b->status,
                                                    .body = b->error_body.data ? b->error_body.data
                                                                               : "",
                                                    .len = b->error_body.len};
                        code = cli_daemon_error(ctx, &resp);
                } else {
                        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
                        if (progress_finish(b->p, &out, &b->err) < 0)
                                code = stream_failed(b);
                        else if (out.len)
                                buf_append(b->quiet ? &b->build : &b->prog, out.data, out.len);
                        if (!code && !b->quiet && b->prog.len)
                                fwrite(b->prog.data, 1, b->prog.len, ctx->out);
                }
        }
        free(prod.error);
        b->prod = NULL;
        return code;
}

static int run_build(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *path = fs->args[0];
        const char *file = cli_flag_string(fs, "file");
        bool file_stdin = file && strcmp(file, "-") == 0;
        bool quiet = cli_flag_bool(fs, "quiet");
        const char *iidfile = cli_flag_string(fs, "iidfile");
        if (file_stdin && strcmp(path, "-") == 0) {
                fprintf(ctx->err, "invalid argument: can't use stdin for both build context and "
                                  "dockerfile\n");
                return 1;
        }
        if (iidfile && *iidfile && unlink(iidfile) < 0 && errno != ENOENT) {
                fprintf(ctx->err, "Removing image ID file: remove %s: %s\n", iidfile,
                        go_errno(errno));
                return 1;
        }
        struct context cx = {.dirfd = -EBADF};
        struct stat st;
        int code;
        if (strcmp(path, "-") == 0) {
                code = prepare_stdin(ctx, file, &cx);
        } else if (stat(path, &st) == 0) {
                code = prepare_dir(ctx, path, file, file_stdin, &cx);
        } else if (strstr(path, "://") || strncmp(path, "git@", 4) == 0 ||
                   strncmp(path, "github.com/", 11) == 0) {
                fprintf(ctx->err,
                        "unable to prepare context: remote context \"%s\": berth builds from a "
                        "local directory or stdin only\n",
                        path);
                code = 1;
        } else {
                fprintf(ctx->err, "unable to prepare context: path \"%s\" not found\n", path);
                code = 1;
        }
        if (code == 0 && cx.kind == CONTEXT_DIR && (file_stdin || cx.extra_data)) {
                if (file_stdin) {
                        _cleanup_free_ char *data = NULL;
                        size_t n = 0;
                        if (read_full_fd(STDIN_FILENO, 64u << 20, &data, &n) < 0) {
                                fprintf(ctx->err, "read /dev/stdin: %s\n", go_errno(errno));
                                code = 1;
                        }
                        cx.extra_data = TAKE_PTR(data);
                        cx.extra_len = n;
                }
                cx.extra_name = random_dockerfile_name();
                free(cx.rel_dockerfile);
                cx.rel_dockerfile = xstrdup(cx.extra_name);
        }
        if (code) {
                context_release(&cx);
                return code;
        }
        bool tty = isatty(fileno(ctx->out));
        struct build_run b = {
            .ctx = ctx,
            .p = progress_new(tty, tty ? progress_terminal_width(fileno(ctx->out)) : 0),
            .quiet = quiet,
        };
        progress_set_aux(b.p, on_aux, &b);
        code = send_build(ctx, fs, &cx, &b);
        if (code == 0 && quiet) {
                /* the daemon's own "sha256:…\n" line is docker's image ID here */
                fwrite(b.build.data ?: "", 1, b.build.len, ctx->out);
                free(b.image_id);
                b.image_id = xstrndup(b.build.data ?: "", b.build.len);
        }
        if (code == 0 && iidfile && *iidfile) {
                if (!b.image_id || !*b.image_id) {
                        fprintf(ctx->err, "Server did not provide an image ID. Cannot write %s\n",
                                iidfile);
                        code = 1;
                } else {
                        int r = write_file_atomic(iidfile, b.image_id, strlen(b.image_id), 0666);
                        if (r < 0) {
                                fprintf(ctx->err, "open %s: %s\n", iidfile, go_errno(-r));
                                code = 1;
                        }
                }
        }
        progress_free(b.p);
        berth_error_free(b.err);
        buf_release(&b.prog);
        buf_release(&b.build);
        buf_release(&b.error_body);
        free(b.image_id);
        context_release(&cx);
        return code;
}

// clang-format off
static const struct cli_flag build_flags[] = {
    {"add-host", 0, CLI_FLAG_LIST, "Add a custom host-to-IP mapping (\"host:ip\")", NULL, "list", false, check_add_host},
    {"build-arg", 0, CLI_FLAG_LIST, "Set build-time variables", NULL, "list", false, check_build_arg},
    {"cache-from", 0, CLI_FLAG_LIST, "Images to consider as cache sources", NULL, "strings", false, NULL},
    {"cgroup-parent", 0, CLI_FLAG_STRING, "Set the parent cgroup for the \"RUN\" instructions during build", NULL, "string", false, NULL},
    {"compress", 0, CLI_FLAG_BOOL, "Compress the build context using gzip", NULL, NULL, false, NULL},
    {"cpu-period", 0, CLI_FLAG_INT, "Limit the CPU CFS (Completely Fair Scheduler) period", NULL, "int", false, NULL},
    {"cpu-quota", 0, CLI_FLAG_INT, "Limit the CPU CFS (Completely Fair Scheduler) quota", NULL, "int", false, NULL},
    {"cpu-shares", 'c', CLI_FLAG_INT, "CPU shares (relative weight)", NULL, "int", false, NULL},
    {"cpuset-cpus", 0, CLI_FLAG_STRING, "CPUs in which to allow execution (0-3, 0,1)", NULL, "string", false, NULL},
    {"cpuset-mems", 0, CLI_FLAG_STRING, "MEMs in which to allow execution (0-3, 0,1)", NULL, "string", false, NULL},
    {"disable-content-trust", 0, CLI_FLAG_BOOL, "Skip image verification", "true", NULL, false, NULL},
    {"file", 'f', CLI_FLAG_STRING, "Name of the Dockerfile (Default is \"PATH/Dockerfile\")", NULL, "string", false, NULL},
    {"force-rm", 0, CLI_FLAG_BOOL, "Always remove intermediate containers", NULL, NULL, false, NULL},
    {"iidfile", 0, CLI_FLAG_STRING, "Write the image ID to the file", NULL, "string", false, NULL},
    {"isolation", 0, CLI_FLAG_STRING, "Container isolation technology", NULL, "string", false, NULL},
    {"label", 0, CLI_FLAG_LIST, "Set metadata for an image", NULL, "list", false, NULL},
    {"memory", 'm', CLI_FLAG_STRING, "Memory limit", NULL, "bytes", false, check_bytes},
    {"memory-swap", 0, CLI_FLAG_STRING, "Swap limit equal to memory plus swap: -1 to enable unlimited swap", NULL, "bytes", false, check_swap},
    {"network", 0, CLI_FLAG_STRING, "Set the networking mode for the RUN instructions during build", "default", "string", false, NULL},
    {"no-cache", 0, CLI_FLAG_BOOL, "Do not use cache when building the image", NULL, NULL, false, NULL},
    {"platform", 0, CLI_FLAG_STRING, "Set platform if server is multi-platform capable", NULL, "string", false, NULL},
    {"pull", 0, CLI_FLAG_BOOL, "Always attempt to pull a newer version of the image", NULL, NULL, false, NULL},
    {"quiet", 'q', CLI_FLAG_BOOL, "Suppress the build output and print image ID on success", NULL, NULL, false, NULL},
    {"rm", 0, CLI_FLAG_BOOL, "Remove intermediate containers after a successful build", "true", NULL, false, NULL},
    {"security-opt", 0, CLI_FLAG_LIST, "Security options", NULL, "strings", false, NULL},
    {"shm-size", 0, CLI_FLAG_STRING, "Size of \"/dev/shm\"", NULL, "bytes", false, check_bytes},
    {"squash", 0, CLI_FLAG_BOOL, "Squash newly built layers into a single new layer", NULL, NULL, true, NULL},
    {"tag", 't', CLI_FLAG_LIST, "Name and optionally a tag in the \"name:tag\" format", NULL, "list", false, check_tag},
    {"target", 0, CLI_FLAG_STRING, "Set the target build stage to build.", NULL, "string", false, NULL},
    {"ulimit", 0, CLI_FLAG_LIST, "Ulimit options", NULL, "ulimit", false, check_ulimit},
};
// clang-format on

const struct cli_command cli_cmd_build = {
    .name = "build",
    .usage = "[OPTIONS] PATH | URL | -",
    .summary = "Build an image from a Dockerfile",
    .group = CLI_GROUP_COMMON,
    .flags = build_flags,
    .n_flags = ELEMENTSOF(build_flags),
    .min_args = 1,
    .max_args = 1,
    .aliases = "image build, build, builder build",
    .run = run_build,
};

const struct cli_command cli_cmd_image_build = {
    .name = "build",
    .usage = "[OPTIONS] PATH | URL | -",
    .summary = "Build an image from a Dockerfile",
    .flags = build_flags,
    .n_flags = ELEMENTSOF(build_flags),
    .min_args = 1,
    .max_args = 1,
    .aliases = "image build, build, builder build",
    .run = run_build,
};

/* ---- builder prune ---- */

static int run_builder_prune(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        bool all = cli_flag_bool(fs, "all");
        if (!cli_flag_bool(fs, "force")) {
                fprintf(ctx->out,
                        "WARNING! This will remove all %sbuild cache. Are you sure you want to "
                        "continue? [y/N] ",
                        all ? "" : "dangling ");
                fflush(ctx->out);
                char line[256] = "";
                if (!fgets(line, sizeof(line), stdin))
                        return 0;
                char *a = line + strspn(line, " \t\r\n");
                size_t n = strlen(a);
                while (n && strchr(" \t\r\n", a[n - 1]))
                        n--;
                if (!(n == 1 && (a[0] == 'y' || a[0] == 'Y')))
                        return 0;
        }
        struct cli_client *c = cli_ctx_client(ctx);
        if (!c)
                return 1;
        _cleanup_buf_ struct berth_buf out = BERTH_BUF_INIT;
        uint64_t space = 0;
        int64_t keep = bytes_flag(fs, "keep-storage");
        if (cli_prune_build_cache(ctx, c, cli_flag_list(fs, "filter"), all, keep, &out, &space))
                return 1;
        if (out.len)
                fprintf(ctx->out, "%s\n", out.data);
        cli_prune_total(ctx, space);
        return 0;
}

// clang-format off
static const struct cli_flag builder_prune_flags[] = {
    {"all", 'a', CLI_FLAG_BOOL, "Remove all unused build cache, not just dangling ones", NULL, NULL, false, NULL},
    {"filter", 0, CLI_FLAG_LIST, "Provide filter values (e.g. \"until=24h\")", NULL, "filter", false, cli_filter_validate},
    {"force", 'f', CLI_FLAG_BOOL, "Do not prompt for confirmation", NULL, NULL, false, NULL},
    {"keep-storage", 0, CLI_FLAG_STRING, "Amount of disk space to keep for cache", NULL, "bytes", false, check_bytes},
};
// clang-format on

static const struct cli_command cli_cmd_builder_prune = {
    .name = "prune",
    .summary = "Remove build cache",
    .flags = builder_prune_flags,
    .n_flags = ELEMENTSOF(builder_prune_flags),
    .min_args = 0,
    .max_args = 0,
    .run = run_builder_prune,
};

static const struct cli_command *const builder_subcommands[] = {
    &cli_cmd_image_build,
    &cli_cmd_builder_prune,
    NULL,
};

const struct cli_command cli_cmd_builder = {
    .name = "builder",
    .summary = "Manage builds",
    .group = CLI_GROUP_MANAGEMENT,
    .subcommands = builder_subcommands,
};
