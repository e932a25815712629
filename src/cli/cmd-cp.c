/*
 * cmd-cp.c — `berth cp` (also `container cp`): files between a container and
 * the local filesystem, as docker's CLI copies them.
 *
 * The rules are docker's (cli/command/container/cp.go and the archive
 * package's copy.go), ported step by step so the same arguments do the same
 * thing: which side is the container (splitCpArg), how local paths are made
 * absolute with a trailing "/" or "/." kept, how a source symlink is followed
 * (-L) or kept, how the destination's stat (HEAD …/archive and its
 * X-Docker-Container-Path-Stat header, or a local lstat) decides where the
 * archive goes and how its top entry is renamed (PrepareArchiveCopy), and
 * every message and exit status.  From a container: GET …/archive, streamed
 * into image/untar.h's extraction (docker's Untar with NoLchown and
 * NoOverwriteDirNonDir: owners stay the user's, nothing of the archive lands
 * outside the destination directory whatever it says), or to stdout with
 * "-".  To a container: image/tar-writer.h writes the local tree into a pipe
 * a thread of its own fills while the request streams it (PUT …/archive,
 * noOverwriteDirNonDir, copyUIDGID with -a), or stdin with "-".
 *
 * Output: when stdout is a terminal (and no -q), "Successfully copied <size>
 * to <dest>" on stderr, the size being the archive's bytes, as docker 28
 * prints it (also before the error of a copy that failed, as docker does).
 *
 * Never: follow a link in a container's archive on the local disk, or print
 * what docker would not.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/http.h"
#include "base/buf.h"
#include "base/fileio.h"
#include "base/units.h"
#include "cli.h"
#include "credentials.h"
#include "container-cmd.h"
#include "image/tar-writer.h"
#include "image/untar.h"

/* ---- Go's path/filepath, for local and container paths alike ---- */

static char *go_base(const char *p)
{
        if (!*p)
                return xstrdup(".");
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
                n--;
        if (!n)
                return xstrdup("/");
        const char *s = memrchr(p, '/', n);
        return s ? xstrndup(s + 1, n - (size_t)(s + 1 - p)) : xstrndup(p, n);
}

static char *go_dir(const char *p)
{
        const char *s = strrchr(p, '/');
        _cleanup_free_ char *d = s ? xstrndup(p, (size_t)(s - p) + 1) : xstrdup("");
        return path_clean(d);
}

static char *go_join(const char *a, const char *b)
{
        if (!*a)
                return path_clean(b);
        _cleanup_free_ char *j = xasprintf("%s/%s", a, b);
        return path_clean(j);
}

static bool has_trailing_sep(const char *p)
{
        size_t n = strlen(p);
        return n && p[n - 1] == '/';
}

static bool current_dir(const char *p)
{
        _cleanup_free_ char *b = go_base(p);
        return strcmp(b, ".") == 0;
}

static bool asserts_directory(const char *p)
{
        return has_trailing_sep(p) || current_dir(p);
}

/* archive.PreserveTrailingDotOrSeparator; takes cleaned. */
static char *preserve_trailing(char *cleaned, const char *original)
{
        if (!current_dir(cleaned) && current_dir(original)) {
                char *t = xasprintf("%s%s.", cleaned, has_trailing_sep(cleaned) ? "" : "/");
                free(cleaned);
                cleaned = t;
        }
        if (!has_trailing_sep(cleaned) && has_trailing_sep(original)) {
                char *t = xasprintf("%s/", cleaned);
                free(cleaned);
                cleaned = t;
        }
        return cleaned;
}

/* archive.SplitPathDirEntry */
static void split_dir_entry(const char *path, char **ret_dir, char **ret_base)
{
        char *clean = path_clean(path);
        if (current_dir(path)) {
                char *t = xasprintf("%s/.", clean);
                free(clean);
                clean = t;
        }
        *ret_dir = go_dir(clean);
        *ret_base = go_base(clean);
        free(clean);
}

/* filepath.Abs with the trailing "/" or "/." kept (docker's resolveLocalPath). */
static char *resolve_local_path(const char *p)
{
        char *abs;
        if (p[0] == '/') {
                abs = path_clean(p);
        } else {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)))
                        strcpy(cwd, "/");
                abs = go_join(cwd, p);
        }
        return preserve_trailing(abs, p);
}

/* strconv.Quote for the paths in messages. */
static char *go_quote(const char *s)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_putc(&b, '"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        buf_printf(&b, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        buf_printf(&b, "\\x%02x", *p);
                else
                        buf_putc(&b, (char)*p);
        }
        buf_putc(&b, '"');
        return buf_steal(&b);
}

/* An errno in Go's words ("no such file or directory"). */
static char *go_errno(int e)
{
        char *s = xstrdup(strerror(e));
        if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z'))
                s[0] = (char)(s[0] - 'A' + 'a');
        return s;
}

static char *os_error(const char *op, const char *path, int e)
{
        _cleanup_free_ char *w = go_errno(e);
        return xasprintf("%s %s: %s", op, path, w);
}

/* filepath.EvalSymlinks: every link on the way resolved; NULL and *ret_err on failure. */
static char *eval_symlinks(const char *path, char **ret_err)
{
        _cleanup_free_ char *todo = path_clean(path);
        struct berth_buf done = BERTH_BUF_INIT;
        bool rooted = todo[0] == '/';
        if (rooted)
                buf_putc(&done, '/');
        int links = 0;
        char *p = todo + (rooted ? 1 : 0);
        while (*p) {
                char *end = strchrnul(p, '/');
                _cleanup_free_ char *comp = xstrndup(p, (size_t)(end - p));
                p = *end ? end + 1 : end;
                if (strcmp(comp, ".") == 0)
                        continue;
                size_t mark = done.len;
                if (strcmp(comp, "..") == 0) {
                        _cleanup_free_ char *up =
                            done.len ? go_dir(done.data) : xstrdup(rooted ? "/" : "..");
                        buf_reset(&done);
                        buf_puts(&done, up);
                        continue;
                }
                if (done.len && done.data[done.len - 1] != '/')
                        buf_putc(&done, '/');
                buf_puts(&done, comp);
                struct stat st;
                if (lstat(done.data, &st) < 0) {
                        *ret_err = os_error("lstat", done.data, errno);
                        buf_release(&done);
                        return NULL;
                }
                if (!S_ISLNK(st.st_mode))
                        continue;
                if (++links > 255) {
                        *ret_err = xstrdup("EvalSymlinks: too many links");
                        buf_release(&done);
                        return NULL;
                }
                char link[PATH_MAX];
                ssize_t n = readlink(done.data, link, sizeof(link) - 1);
                if (n < 0) {
                        *ret_err = os_error("readlink", done.data, errno);
                        buf_release(&done);
                        return NULL;
                }
                link[n] = '\0';
                done.len = mark;
                done.data[mark] = '\0';
                char *rest = xasprintf("%s%s%s", link, *p ? "/" : "", p);
                if (link[0] == '/') {
                        buf_reset(&done);
                        buf_putc(&done, '/');
                } else if (!done.len) {
                        /* relative to the current directory */
                }
                free(todo);
                todo = rest;
                p = todo + (link[0] == '/' ? 1 : 0);
        }
        if (!done.len)
                buf_putc(&done, '.');
        char *out = path_clean(done.data);
        buf_release(&done);
        return out;
}

/* ---- what a path is: archive.CopyInfo ---- */

struct copy_info {
        char *path;
        bool exists, is_dir;
        char *rebase_name; /* NULL: none */
};

static void copy_info_release(struct copy_info *i)
{
        free(i->path);
        free(i->rebase_name);
}

/* Go's os.FileMode bits of the stat header */
#define GO_MODE_DIR     (1u << 31)
#define GO_MODE_SYMLINK (1u << 27)
#define GO_MODE_DEVICE  (1u << 26)

struct path_stat {
        char *name;
        int64_t size;
        uint32_t mode;
        char *link_target;
};

static void path_stat_release(struct path_stat *s)
{
        free(s->name);
        free(s->link_target);
}

static bool parse_stat_header(const char *b64, struct path_stat *ret)
{
        *ret = (struct path_stat){0};
        if (!b64)
                return false;
        size_t len = 0;
        _cleanup_free_ char *raw = cli_unbase64(b64, &len);
        if (!raw)
                return false;
        _cleanup_json_ struct json *j = NULL;
        if (json_parse(raw, len, &j, NULL) < 0)
                return false;
        const struct json *size = json_get(j, "size"), *mode = json_get(j, "mode");
        ret->name = xstrdup(json_str(json_get(j, "name")) ?: "");
        ret->link_target = xstrdup(json_str(json_get(j, "linkTarget")) ?: "");
        ret->size = json_is(size, JSON_NUMBER) ? size->num.i : 0;
        ret->mode = json_is(mode, JSON_NUMBER) ? (uint32_t)mode->num.i : 0;
        return true;
}

static char *archive_query(const char *path, const char *extra)
{
        struct berth_buf q = BERTH_BUF_INIT;
        if (extra)
                buf_puts(&q, extra);
        buf_puts(&q, "path=");
        http_escape_query(&q, path);
        return buf_steal(&q);
}

/* HEAD …/archive: 0 and the stat, or <0 (any failure: the callers ignore it, as docker). */
static int stat_path(struct cli_client *c, const char *ctr, const char *path, struct path_stat *ret)
{
        _cleanup_free_ char *p = container_path(ctr, "/archive");
        _cleanup_free_ char *q = archive_query(path, NULL);
        _cleanup_cli_stream_ struct cli_stream *s = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_open_stream(c, "HEAD", p, q, NULL, NULL, 0, &s, &err) < 0 ||
            cli_stream_status(s) / 100 != 2)
                return -EIO;
        return parse_stat_header(cli_stream_header(s, "X-Docker-Container-Path-Stat"), ret) ? 0
                                                                                            : -EIO;
}

/* docker's GetRebaseName: *resolved (a link's target) keeps path's trailing "/." or "/",
 * and the name the archive's top entry is renamed to when the base names differ (else NULL). */
static char *rebase_name(const char *path, char **resolved)
{
        if (current_dir(path) && !current_dir(*resolved)) {
                char *t = xasprintf("%s/.", *resolved);
                free(*resolved);
                *resolved = t;
        }
        if (has_trailing_sep(path) && !has_trailing_sep(*resolved)) {
                char *t = xasprintf("%s/", *resolved);
                free(*resolved);
                *resolved = t;
        }
        _cleanup_free_ char *b1 = go_base(path), *b2 = go_base(*resolved);
        return strcmp(b1, b2) != 0 ? xstrdup(b1) : NULL;
}

/* archive.ResolveHostSourcePath + CopyInfoSourcePath. */
static int copy_info_source(const char *path, bool follow, struct copy_info *ret, char **ret_err)
{
        *ret = (struct copy_info){0};
        char *resolved;
        if (follow) {
                resolved = eval_symlinks(path, ret_err);
                if (!resolved)
                        return -1;
                ret->rebase_name = rebase_name(path, &resolved);
        } else {
                const char *slash = strrchr(path, '/');
                _cleanup_free_ char *dir =
                    slash ? xstrndup(path, (size_t)(slash - path) + 1) : xstrdup("");
                const char *base = slash ? slash + 1 : path;
                _cleanup_free_ char *rdir = eval_symlinks(*dir ? dir : ".", ret_err);
                if (!rdir)
                        return -1;
                resolved = xasprintf("%s/%s", rdir, base);
                _cleanup_free_ char *b1 = go_base(path), *b2 = go_base(resolved);
                if (has_trailing_sep(path) && strcmp(b1, b2) != 0)
                        ret->rebase_name = xstrdup(b1);
        }
        struct stat st;
        if (lstat(resolved, &st) < 0) {
                *ret_err = os_error("lstat", resolved, errno);
                free(resolved);
                copy_info_release(ret);
                return -1;
        }
        ret->path = resolved;
        ret->exists = true;
        ret->is_dir = S_ISDIR(st.st_mode);
        return 0;
}

/* archive.CopyInfoDestinationPath (local). */
static int copy_info_destination(const char *path, struct copy_info *ret, char **ret_err)
{
        *ret = (struct copy_info){.path = xstrdup(path)};
        struct stat st;
        int r = lstat(ret->path, &st);
        for (int n = 0; r == 0 && S_ISLNK(st.st_mode); n++) {
                if (n > 10) {
                        *ret_err = xasprintf("too many symlinks in %s", path);
                        return -1;
                }
                char link[PATH_MAX];
                ssize_t k = readlink(ret->path, link, sizeof(link) - 1);
                if (k < 0) {
                        *ret_err = os_error("readlink", ret->path, errno);
                        return -1;
                }
                link[k] = '\0';
                char *target;
                if (link[0] == '/') {
                        target = xstrdup(link);
                } else {
                        _cleanup_free_ char *dir = NULL, *base = NULL;
                        split_dir_entry(ret->path, &dir, &base);
                        target = go_join(dir, link);
                }
                free(ret->path);
                ret->path = target;
                r = lstat(ret->path, &st);
        }
        if (r < 0) {
                if (errno != ENOENT) {
                        *ret_err = os_error("lstat", ret->path, errno);
                        return -1;
                }
                _cleanup_free_ char *dir = NULL, *base = NULL;
                split_dir_entry(ret->path, &dir, &base);
                struct stat ps;
                if (stat(dir, &ps) < 0) {
                        *ret_err = os_error("stat", dir, errno);
                        return -1;
                }
                if (!S_ISDIR(ps.st_mode)) {
                        *ret_err = xstrdup("not a directory");
                        return -1;
                }
                return 0;
        }
        ret->exists = true;
        ret->is_dir = S_ISDIR(st.st_mode);
        return 0;
}

/*
 * archive.PrepareArchiveCopy: the directory to extract into and, when the
 * archive's top entry must take the destination's name, the rename
 * (*ret_old -> *ret_new, as RebaseArchiveEntries does it).
 */
static int prepare_archive_copy(const struct copy_info *src, const struct copy_info *dst,
                                char **ret_dir, char **ret_old, char **ret_new, char **ret_err)
{
        _cleanup_free_ char *dst_dir = NULL, *dst_base = NULL, *src_dir = NULL, *src_base = NULL;
        split_dir_entry(dst->path, &dst_dir, &dst_base);
        split_dir_entry(src->path, &src_dir, &src_base);
        *ret_old = *ret_new = NULL;
        if (dst->exists && dst->is_dir) {
                *ret_dir = xstrdup(dst->path);
                return 0;
        }
        if (dst->exists && src->is_dir) {
                *ret_err = xstrdup("cannot copy directory");
                return -1;
        }
        if (!dst->exists && !src->is_dir && asserts_directory(dst->path)) {
                *ret_err = xstrdup("no such directory");
                return -1;
        }
        const char *old = src->rebase_name ? src->rebase_name : src_base;
        *ret_dir = TAKE_PTR(dst_dir);
        *ret_old = xstrdup(strcmp(old, "/") == 0 ? "" : old);
        *ret_new = TAKE_PTR(dst_base);
        return 0;
}

/* command.ValidateOutputPath */
static int validate_output_path(const char *path, char **ret_err)
{
        _cleanup_free_ char *clean = path_clean(path);
        _cleanup_free_ char *dir = go_dir(clean);
        struct stat st;
        if (*dir && strcmp(dir, ".") != 0 && stat(dir, &st) < 0 && errno == ENOENT) {
                _cleanup_free_ char *q = go_quote(dir);
                *ret_err = xasprintf("invalid output path: directory %s does not exist", q);
                return -1;
        }
        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return 0;
                *ret_err = os_error("stat", path, errno);
                return -1;
        }
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                _cleanup_free_ char *q = go_quote(path);
                *ret_err = xasprintf(
                    "invalid output path: %s must be a directory or a regular file: got a device",
                    q);
                return -1;
        }
        return 0;
}

/* ---- the summary ---- */

static void summary(struct cli_ctx *ctx, bool quiet, uint64_t size, const char *dest)
{
        if (quiet)
                return;
        struct berth_buf b = BERTH_BUF_INIT;
        units_human_size_prec(&b, (double)size, 3);
        fprintf(ctx->err, "Successfully copied %s to %s\n", b.data, dest);
        buf_release(&b);
}

static int fail(struct cli_ctx *ctx, const char *msg)
{
        fprintf(ctx->err, "%s\n", msg);
        return 1;
}

/* ---- from a container ---- */

struct cp_opts {
        bool follow, archive, quiet;
        const char *container;
};

static int write_out(struct cli_ctx *ctx, struct cli_stream *s, uint64_t *copied)
{
        char buf[64 * 1024];
        _cleanup_error_ struct berth_error *err = NULL;
        fflush(ctx->out);
        for (;;) {
                ssize_t n = cli_stream_read(s, buf, sizeof(buf), &err);
                if (n == -EAGAIN)
                        continue;
                if (n < 0)
                        return fail(ctx, berth_error_msg(err));
                if (n == 0)
                        return 0;
                *copied += (uint64_t)n;
                if (write_all(fileno(ctx->out), buf, (size_t)n) < 0)
                        return fail(ctx, "write /dev/stdout: broken pipe");
        }
}

static int extract_local(struct cli_stream *s, const char *dir, const char *old, const char *new,
                         uint64_t *copied, char **ret_err)
{
        _cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                *ret_err = os_error("open", dir, errno);
                return -1;
        }
        struct untar_opts o = {
            .dest_name = dir,
            .no_overwrite_dir_nondir = true,
            .keep_owner = true,
            .rebase_old = old,
            .rebase_new = new,
        };
        _cleanup_untar_ struct untar *u = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = untar_begin(fd, &o, &u, &err);
        char buf[64 * 1024];
        while (r == 0) {
                ssize_t n = cli_stream_read(s, buf, sizeof(buf), &err);
                if (n == -EAGAIN)
                        continue;
                if (n <= 0) {
                        r = (int)n;
                        break;
                }
                *copied += (uint64_t)n;
                r = untar_write(u, buf, (size_t)n, &err);
        }
        if (r == 0)
                r = untar_finish(u, &err);
        if (r < 0)
                *ret_err = xstrdup(err ? berth_error_msg(err) : "unexpected EOF");
        return r < 0 ? -1 : 0;
}

static int copy_from_container(struct cli_ctx *ctx, struct cli_client *c, const struct cp_opts *o,
                               const char *src_in, const char *dst_in)
{
        _cleanup_free_ char *dst =
            strcmp(dst_in, "-") == 0 ? xstrdup(dst_in) : resolve_local_path(dst_in);
        _cleanup_free_ char *msg = NULL;
        if (validate_output_path(dst, &msg) < 0)
                return fail(ctx, msg);
        _cleanup_free_ char *src = xstrdup(src_in), *rebase = NULL;
        if (o->follow) {
                struct path_stat st = {0};
                if (stat_path(c, o->container, src, &st) == 0 && (st.mode & GO_MODE_SYMLINK)) {
                        char *target = xstrdup(st.link_target);
                        if (target[0] != '/') {
                                _cleanup_free_ char *pd = NULL, *pb = NULL;
                                split_dir_entry(src, &pd, &pb);
                                char *t = go_join(pd, target);
                                free(target);
                                target = t;
                        }
                        rebase = rebase_name(src, &target);
                        free(src);
                        src = target;
                }
                path_stat_release(&st);
        }
        _cleanup_free_ char *p = container_path(o->container, "/archive");
        _cleanup_free_ char *q = archive_query(src, NULL);
        _cleanup_cli_stream_ struct cli_stream *s = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (cli_client_open_stream(c, "GET", p, q, NULL, NULL, 0, &s, &err) < 0)
                return fail(ctx, berth_error_msg(err));
        if (cli_stream_status(s) / 100 != 2) {
                struct berth_buf body = BERTH_BUF_INIT;
                (void)cli_stream_read_all(s, 1 << 20, &body, NULL);
                struct cli_response resp = {
                    .status = cli_stream_status(s), .body = body.data, .len = body.len};
                _cleanup_free_ char *m = container_daemon_error(&resp);
                buf_release(&body);
                return fail(ctx, m);
        }
        uint64_t copied = 0;
        if (strcmp(dst, "-") == 0)
                return write_out(ctx, s, &copied);
        struct path_stat st;
        if (!parse_stat_header(cli_stream_header(s, "X-Docker-Container-Path-Stat"), &st))
                st = (struct path_stat){0};
        struct copy_info src_info = {
            .path = xstrdup(src),
            .exists = true,
            .is_dir = (st.mode & GO_MODE_DIR) != 0,
            .rebase_name = rebase ? xstrdup(rebase) : NULL,
        };
        path_stat_release(&st);
        /* archive.CopyTo */
        struct copy_info dst_info = {0};
        _cleanup_free_ char *dir = NULL, *old = NULL, *new = NULL;
        int r = copy_info_destination(dst, &dst_info, &msg);
        if (r == 0)
                r = prepare_archive_copy(&src_info, &dst_info, &dir, &old, &new, &msg);
        if (r == 0 && rebase && !old) {
                /* only the -L rename: the top entry takes the link's name */
                _cleanup_free_ char *sd = NULL, *sb = NULL;
                split_dir_entry(src, &sd, &sb);
                old = xstrdup(strcmp(sb, "/") == 0 ? "" : sb);
                new = xstrdup(rebase);
        } else if (r == 0 && rebase && old) {
                /* both renames: the first occurrence of the archive's own name */
                _cleanup_free_ char *sd = NULL, *sb = NULL;
                split_dir_entry(src, &sd, &sb);
                free(old);
                old = xstrdup(strcmp(sb, "/") == 0 ? "" : sb);
        }
        if (r == 0)
                r = extract_local(s, dir, old, new, &copied, &msg);
        copy_info_release(&src_info);
        copy_info_release(&dst_info);
        summary(ctx, o->quiet, copied, dst);
        return r < 0 ? fail(ctx, msg) : 0;
}

/* ---- to a container ---- */

struct producer {
        int fd; /* the pipe's write end, owned */
        char *dir, *base, *as;
        char *error;
        uint64_t written; /* what the upload takes: docker's copied size */
};

static int pipe_write(const void *buf, size_t len, void *arg)
{
        struct producer *p = arg;
        int r = write_all(p->fd, buf, len);
        if (r == 0)
                p->written += len;
        return r;
}

/* The archive of the local source, into the pipe the upload reads. */
static void *produce(void *arg)
{
        struct producer *p = arg;
        /* the upload may end first (the daemon refused): EPIPE, not a signal */
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_close_ int dfd = open(p->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_tarw_ struct tarw *w = tarw_new(pipe_write, p);
        int r = dfd < 0 ? berth_error_sys(&err, errno, "open '%s'", p->dir)
                        : tarw_add(w, dfd, p->base, p->as, &err);
        if (r == 0)
                r = tarw_finish(w, &err);
        if (r < 0)
                p->error = xstrdup(berth_error_msg(err));
        close(p->fd);
        p->fd = -1;
        return NULL;
}

static int collect(const char *data, size_t len, void *userdata)
{
        buf_append(userdata, data, len);
        return 0;
}

static int upload(struct cli_client *c, const char *ctr, const char *dir, bool archive, int body_fd,
                  int *ret_status, struct berth_buf *resp, struct berth_error **err)
{
        _cleanup_free_ char *p = container_path(ctr, "/archive");
        /* url.Values.Encode: keys sorted */
        _cleanup_free_ char *q =
            archive_query(dir, archive ? "copyUIDGID=true&noOverwriteDirNonDir=true&"
                                       : "noOverwriteDirNonDir=true&");
        return cli_client_send_fd(c, "PUT", p, q, "application/x-tar", body_fd, ret_status, collect,
                                  resp, err);
}

static int copy_to_container(struct cli_ctx *ctx, struct cli_client *c, const struct cp_opts *o,
                             const char *src_in, const char *dst_path)
{
        _cleanup_free_ char *src =
            strcmp(src_in, "-") == 0 ? xstrdup(src_in) : resolve_local_path(src_in);
        struct copy_info dst = {.path = xstrdup(dst_path)};
        struct path_stat st = {0};
        int sr = stat_path(c, o->container, dst_path, &st);
        if (sr == 0 && (st.mode & GO_MODE_SYMLINK)) {
                char *target = xstrdup(st.link_target);
                if (target[0] != '/') {
                        _cleanup_free_ char *pd = NULL, *pb = NULL;
                        split_dir_entry(dst_path, &pd, &pb);
                        char *t = go_join(pd, target);
                        free(target);
                        target = t;
                }
                free(dst.path);
                dst.path = target;
                path_stat_release(&st);
                sr = stat_path(c, o->container, dst.path, &st);
        }
        int code = 0;
        _cleanup_free_ char *msg = NULL;
        if (sr == 0) {
                bool device = (st.mode & GO_MODE_DEVICE) != 0;
                dst.exists = true;
                dst.is_dir = (st.mode & GO_MODE_DIR) != 0;
                path_stat_release(&st);
                if (device) {
                        fprintf(ctx->err,
                                "destination \"%s:%s\" must be a directory or a regular file: got "
                                "a device\n",
                                o->container, dst_path);
                        copy_info_release(&dst);
                        return 1;
                }
        }
        if (strcmp(src, "-") == 0) {
                if (!dst.is_dir) {
                        fprintf(ctx->err, "destination \"%s:%s\" must be a directory\n",
                                o->container, dst_path);
                        copy_info_release(&dst);
                        return 1;
                }
                /* stdin as it is; docker counts nothing of it */
                _cleanup_error_ struct berth_error *err = NULL;
                int status = 0;
                struct berth_buf resp = BERTH_BUF_INIT;
                int r = upload(c, o->container, dst.path, o->archive, STDIN_FILENO, &status, &resp,
                               &err);
                if (r < 0) {
                        msg = xstrdup(berth_error_msg(err));
                } else if (status / 100 != 2) {
                        struct cli_response cr = {
                            .status = status, .body = resp.data, .len = resp.len};
                        msg = container_daemon_error(&cr);
                }
                buf_release(&resp);
                _cleanup_free_ char *shown = xasprintf("%s:%s", o->container, dst.path);
                summary(ctx, o->quiet, 0, shown);
                copy_info_release(&dst);
                return msg ? fail(ctx, msg) : 0;
        }
        struct copy_info srci;
        if (copy_info_source(src, o->follow, &srci, &msg) < 0) {
                copy_info_release(&dst);
                return fail(ctx, msg);
        }
        _cleanup_free_ char *dir = NULL, *old = NULL, *new = NULL;
        if (prepare_archive_copy(&srci, &dst, &dir, &old, &new, &msg) < 0) {
                copy_info_release(&srci);
                copy_info_release(&dst);
                return fail(ctx, msg);
        }
        /* TarResource: the source's entry of its directory, named by its rebase name,
         * or straight away by the destination's name when PrepareArchiveCopy renames */
        struct producer prod = {.fd = -1};
        split_dir_entry(srci.path, &prod.dir, &prod.base);
        prod.as = xstrdup(new ? new : srci.rebase_name ? srci.rebase_name : prod.base);
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
                code = fail(ctx, "cannot make a pipe");
        } else {
                prod.fd = fds[1];
                pthread_t t;
                if (pthread_create(&t, NULL, produce, &prod) != 0) {
                        close(fds[1]);
                        code = fail(ctx, "cannot start a thread");
                } else {
                        _cleanup_error_ struct berth_error *err = NULL;
                        int status = 0;
                        struct berth_buf resp = BERTH_BUF_INIT;
                        int r =
                            upload(c, o->container, dir, o->archive, fds[0], &status, &resp, &err);
                        /* a producer blocked on a full pipe sees EPIPE now */
                        close(fds[0]);
                        fds[0] = -1;
                        pthread_join(t, NULL);
                        if (r < 0) {
                                msg = xstrdup(berth_error_msg(err));
                        } else if (status / 100 != 2) {
                                struct cli_response cr = {
                                    .status = status, .body = resp.data, .len = resp.len};
                                msg = container_daemon_error(&cr);
                        } else if (prod.error) {
                                msg = xstrdup(prod.error);
                        }
                        buf_release(&resp);
                        _cleanup_free_ char *shown = xasprintf("%s:%s", o->container, dst.path);
                        summary(ctx, o->quiet, prod.written, shown);
                        if (msg)
                                code = fail(ctx, msg);
                }
                if (fds[0] >= 0)
                        close(fds[0]);
        }
        free(prod.dir);
        free(prod.base);
        free(prod.as);
        free(prod.error);
        copy_info_release(&srci);
        copy_info_release(&dst);
        return code;
}

/* ---- the command ---- */

/* docker's splitCpArg */
static bool split_cp_arg(const char *arg, char **ret_ctr, char **ret_path)
{
        *ret_ctr = NULL;
        *ret_path = xstrdup(arg);
        if (arg[0] == '/')
                return false;
        const char *colon = strchr(arg, ':');
        if (!colon || arg[0] == '.')
                return false;
        *ret_ctr = xstrndup(arg, (size_t)(colon - arg));
        free(*ret_path);
        *ret_path = xstrdup(colon + 1);
        return **ret_ctr != '\0'; /* ":x": no container, as docker's "" */
}

static int run_cp(struct cli_ctx *ctx, const struct cli_flagset *fs)
{
        const char *src = fs->args[0], *dst = fs->args[1];
        if (!*src)
                return fail(ctx, "source can not be empty");
        if (!*dst)
                return fail(ctx, "destination can not be empty");
        struct cp_opts o = {
            .follow = cli_flag_bool(fs, "follow-link"),
            .archive = cli_flag_bool(fs, "archive"),
            .quiet = cli_flag_is_set(fs, "quiet") ? cli_flag_bool(fs, "quiet")
                                                  : !isatty(fileno(ctx->out)),
        };
        _cleanup_free_ char *sctr = NULL, *spath = NULL, *dctr = NULL, *dpath = NULL;
        bool from = split_cp_arg(src, &sctr, &spath);
        bool to = split_cp_arg(dst, &dctr, &dpath);
        if (from && to)
                return fail(ctx, "copying between containers is not supported");
        if (!from && !to)
                return fail(ctx, "must specify at least one container source");
        struct cli_client *c = container_client(ctx);
        if (!c)
                return 1;
        if (from) {
                o.container = sctr;
                return copy_from_container(ctx, c, &o, spath, dpath);
        }
        o.container = dctr;
        return copy_to_container(ctx, c, &o, spath, dpath);
}

static const struct cli_flag cp_flags[] = {
    {"archive", 'a', CLI_FLAG_BOOL, "Archive mode (copy all uid/gid information)", NULL, NULL,
     false, NULL},
    {"follow-link", 'L', CLI_FLAG_BOOL, "Always follow symbol link in SRC_PATH", NULL, NULL, false,
     NULL},
    {"quiet", 'q', CLI_FLAG_BOOL,
     "Suppress progress output during copy. Progress output is automatically suppressed if no "
     "terminal is attached",
     NULL, NULL, false, NULL},
};

const struct cli_command cli_cmd_cp = {
    .name = "cp",
    .usage = "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- "
             "CONTAINER:DEST_PATH",
    .summary = "Copy files/folders between a container and the local filesystem",
    .description = "Copy files/folders between a container and the local filesystem\n\n"
                   "Use '-' as the source to read a tar archive from stdin\n"
                   "and extract it to a directory destination in a container.\n"
                   "Use '-' as the destination to stream a tar archive of a\n"
                   "container source to stdout.",
    .group = CLI_GROUP_OTHER,
    .flags = cp_flags,
    .n_flags = ELEMENTSOF(cp_flags),
    .mode = CLI_PARSE_INTERSPERSED,
    .min_args = 2,
    .max_args = 2,
    .aliases = "container cp, cp",
    .run = run_cp,
};
