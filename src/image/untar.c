/*
 * untar.c — docker's Untar on the layer unpacker's plain mode (see untar.h).
 *
 * The pipeline is push-style and single-threaded: untar_write() feeds the
 * decompressor (format found from the first bytes), whose output feeds the
 * tar reader, whose callbacks go through entry_hook (rebasing names, fixing
 * owners) into layer_unpack_ops.  No thread of its own: the caller's thread
 * does the writes, so its umask is left alone and every mode is set with
 * fchmod; owners are always set (subdirectories of a container's tree may be
 * setgid or carry default ACLs the unpacker cannot know about up front).
 *
 * Never: hand the unpacker a name that was not first cleaned by it.
 */
#include <string.h>

#include "base/fileio.h"
#include "image/decompress.h"
#include "image/layer-unpack.h"
#include "image/tar.h"
#include "image/untar.h"

#define UNTAR_MAX_PATH 4096

struct untar {
        struct layer_unpack lu;
        struct tar_reader *tar;
        struct decompressor *dc;
        char *prefix, *dest_name;
        char *rebase_old, *rebase_new;
        bool chown;
        uid_t uid;
        gid_t gid;
};

static char *rebase(const struct untar *u, const char *name)
{
        if (!u->rebase_old)
                return NULL;
        if (!*u->rebase_old)
                return xasprintf("%s%s", u->rebase_new, name);
        const char *hit = strstr(name, u->rebase_old);
        if (!hit)
                return NULL;
        return xasprintf("%.*s%s%s", (int)(hit - name), name, u->rebase_new,
                         hit + strlen(u->rebase_old));
}

static int entry_hook(void *ud, const struct tar_entry *e, struct berth_error **err)
{
        struct untar *u = ud;
        struct tar_entry copy = *e;
        _cleanup_free_ char *path = rebase(u, e->path);
        _cleanup_free_ char *link = e->type == TAR_HARDLINK ? rebase(u, e->linkname) : NULL;
        if (path)
                copy.path = path;
        if (link)
                copy.linkname = link;
        if (u->chown) {
                copy.uid = u->uid;
                copy.gid = u->gid;
        }
        return layer_unpack_ops.entry(&u->lu, &copy, err);
}

static int data_hook(void *ud, const void *buf, size_t len, struct berth_error **err)
{
        struct untar *u = ud;
        return layer_unpack_ops.data(&u->lu, buf, len, err);
}

static int end_hook(void *ud, struct berth_error **err)
{
        struct untar *u = ud;
        return layer_unpack_ops.entry_end(&u->lu, err);
}

static const struct tar_ops hooks = {
    .entry = entry_hook,
    .data = data_hook,
    .entry_end = end_hook,
};

static int decoded(const void *buf, size_t len, void *userdata, struct berth_error **err)
{
        struct untar *u = userdata;
        return tar_reader_feed(u->tar, buf, len, err);
}

int untar_begin(int root_fd, const struct untar_opts *o, struct untar **ret,
                struct berth_error **err)
{
        if (root_fd < 0)
                return berth_error_set(err, EBADF, "untar: no destination");
        struct untar *u = xcalloc(1, sizeof(*u));
        u->prefix = xstrdup(o->prefix ? o->prefix : "");
        u->dest_name = xstrdup(o->dest_name ? o->dest_name : "/");
        if (o->rebase_old) {
                u->rebase_old = xstrdup(o->rebase_old);
                u->rebase_new = xstrdup(o->rebase_new ? o->rebase_new : "");
        }
        u->chown = o->chown;
        u->uid = o->uid;
        u->gid = o->gid;
        layer_unpack_init(&u->lu, root_fd, UNTAR_MAX_PATH);
        u->lu.owner_known = false; /* chown every entry */
        u->lu.plain = true;
        u->lu.prefix = u->prefix;
        u->lu.dest_name = u->dest_name;
        u->lu.clamp_dotdot = o->clamp || strcmp(u->dest_name, "/") == 0;
        u->lu.no_overwrite_dir_nondir = o->no_overwrite_dir_nondir;
        u->lu.keep_owner = o->keep_owner;
        u->lu.root_kfs = fd_on_kernel_fs(root_fd);
        struct tar_limits tl = {
            .max_path = UNTAR_MAX_PATH,
            .max_entries = UINT64_MAX,
            .max_size = UINT64_MAX,
            .unpadded_end = o->clamp, /* a build context, which docker's CLI may send so */
        };
        u->tar = tar_reader_new(&hooks, u, &tl);
        u->dc = decomp_new(decoded, u);
        *ret = u;
        return 0;
}

int untar_write(struct untar *u, const void *buf, size_t len, struct berth_error **err)
{
        return decomp_write(u->dc, buf, len, err);
}

int untar_finish(struct untar *u, struct berth_error **err)
{
        int r = decomp_finish(u->dc, err);
        if (r == 0)
                r = tar_reader_finish(u->tar, err);
        if (r == 0)
                r = layer_unpack_finish(&u->lu, err);
        return r;
}

unsigned long long untar_entries(const struct untar *u)
{
        return tar_reader_entries(u->tar);
}

void untar_free(struct untar *u)
{
        if (!u)
                return;
        layer_unpack_release(&u->lu);
        tar_reader_free(u->tar);
        decomp_free(u->dc);
        free(u->prefix);
        free(u->dest_name);
        free(u->rebase_old);
        free(u->rebase_new);
        free(u);
}

int untar_fd(int root_fd, const struct untar_opts *o, int fd, const char *what,
             struct berth_error **err)
{
        _cleanup_untar_ struct untar *u = NULL;
        int r = untar_begin(root_fd, o, &u, err);
        char *buf = xmalloc(256 * 1024);
        while (r == 0) {
                ssize_t n = read(fd, buf, 256 * 1024);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = berth_error_sys(err, errno, "read %s", what);
                        break;
                }
                if (n == 0)
                        break;
                r = untar_write(u, buf, (size_t)n, err);
        }
        free(buf);
        if (r == 0)
                r = untar_finish(u, err);
        return r;
}
