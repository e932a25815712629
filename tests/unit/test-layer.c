/*
 * test-layer.c — layer apply: tarballs crafted here by a tiny tar writer
 * (ustar, PAX, GNU long names) and compressed with zlib/zstd must unpack with
 * their metadata (modes incl. setuid, owners, times, xattrs, links, devices),
 * turn OCI whiteouts into overlay whiteouts that really hide lower files under
 * overlayfs, and — whatever a hostile tar says — never create or change
 * anything outside the layer directory.  Each hostile case asserts its error
 * and checks the outside world is untouched.  Needs root (owners, devices,
 * trusted.* xattrs, overlay mounts), as CI runs it.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <zlib.h>
#include <zstd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "image/layer.h"
#include "image/store.h"

static char base[64];     /* per run; removed by the parent even when a test fails */
static char root[128];    /* data root */
static char outside[128]; /* a directory outside the data root that must stay untouched */
static mode_t victim_umask;

/* Unchecked fixture: runs in the parent, so the base directory goes away even
 * when a forked test dies on a failed assertion before its teardown. */
static void base_setup(void)
{
        strcpy(base, "/tmp/berth-test-layer-XXXXXX");
        if (!mkdtemp(base))
                abort();
}

static void base_teardown(void)
{
        rm_rf(base);
}

static void setup(void)
{
        ck_assert_msg(geteuid() == 0, "test-layer needs root (owners, devices, overlay)");
        snprintf(root, sizeof(root), "%s/root-XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(root));
        snprintf(outside, sizeof(outside), "%s/outside-XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(outside));
        char *victim = xasprintf("%s/victim", outside);
        victim_umask = umask(022);
        umask(victim_umask);
        ck_assert_int_eq(write_file_at(AT_FDCWD, victim, "keep", 4, 0644), 0);
        free(victim);
}

static void teardown(void)
{
        (void)umount2(root, MNT_DETACH); /* a full-disk test's tmpfs, if it failed early */
        rm_rf(root);
        rm_rf(outside);
}

/* ---- a tiny tar writer --------------------------------------------------- */

struct tw {
        struct berth_buf b;
};

static void octal(char *f, size_t n, uint64_t v)
{
        snprintf(f, n, "%0*llo", (int)n - 1, (unsigned long long)v);
}

static void tw_header(struct tw *t, const char *name, char type, unsigned mode, unsigned uid,
                      unsigned gid, uint64_t size, uint64_t mtime, const char *link, unsigned major,
                      unsigned minor)
{
        char h[512] = {0};
        ck_assert_int_le(strlen(name), 100);
        memcpy(h, name, strlen(name));
        octal(h + 100, 8, mode);
        octal(h + 108, 8, uid);
        octal(h + 116, 8, gid);
        octal(h + 124, 12, size);
        octal(h + 136, 12, mtime);
        h[156] = type;
        if (link) {
                ck_assert_int_le(strlen(link), 100);
                memcpy(h + 157, link, strlen(link));
        }
        memcpy(h + 257,
               "ustar\0"
               "00",
               8);
        octal(h + 329, 8, major);
        octal(h + 337, 8, minor);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)h[i];
        snprintf(h + 148, 8, "%06o", sum);
        buf_append(&t->b, h, 512);
}

static void tw_data(struct tw *t, const void *p, size_t n)
{
        buf_append(&t->b, p, n);
        static const char zero[512];
        if (n % 512)
                buf_append(&t->b, zero, 512 - n % 512);
}

static void tw_file(struct tw *t, const char *name, const char *content, unsigned mode)
{
        tw_header(t, name, '0', mode, 0, 0, strlen(content), 1000000000, NULL, 0, 0);
        tw_data(t, content, strlen(content));
}

static void tw_dir(struct tw *t, const char *name, unsigned mode)
{
        tw_header(t, name, '5', mode, 0, 0, 0, 1000000000, NULL, 0, 0);
}

static void tw_symlink(struct tw *t, const char *name, const char *target)
{
        tw_header(t, name, '2', 0777, 0, 0, 0, 1000000000, target, 0, 0);
}

static void tw_hardlink(struct tw *t, const char *name, const char *target)
{
        tw_header(t, name, '1', 0644, 0, 0, 0, 1000000000, target, 0, 0);
}

/* A PAX 'x' header with the given records ("key", "value" pairs, NULL-ended). */
static void tw_pax(struct tw *t, ...)
{
        struct berth_buf rec = BERTH_BUF_INIT;
        va_list ap;
        va_start(ap, t);
        const char *k;
        while ((k = va_arg(ap, const char *))) {
                const char *v = va_arg(ap, const char *);
                size_t body = strlen(k) + strlen(v) + 3; /* ' ' '=' '\n' */
                size_t len = body + 1;
                while (len != body + (size_t)snprintf(NULL, 0, "%zu", len))
                        len = body + (size_t)snprintf(NULL, 0, "%zu", len);
                buf_printf(&rec, "%zu %s=%s\n", len, k, v);
        }
        va_end(ap);
        tw_header(t, "PaxHeaders/x", 'x', 0644, 0, 0, rec.len, 0, NULL, 0, 0);
        tw_data(t, rec.data, rec.len);
        buf_release(&rec);
}

static void tw_gnu_long(struct tw *t, char type, const char *s)
{
        tw_header(t, "././@LongLink", type, 0644, 0, 0, strlen(s) + 1, 0, NULL, 0, 0);
        tw_data(t, s, strlen(s) + 1);
}

static void tw_end(struct tw *t)
{
        static const char zero[1024];
        buf_append(&t->b, zero, sizeof(zero));
}

/* ---- compression and digests ------------------------------------------- */

static void gzip_buf(const void *in, size_t n, struct berth_buf *out)
{
        z_stream z = {0};
        ck_assert_int_eq(deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)n;
        int ret;
        do {
                buf_grow(out, 65536);
                z.next_out = (Bytef *)out->data + out->len;
                z.avail_out = (uInt)(out->cap - out->len - 1);
                uInt before = z.avail_out;
                ret = deflate(&z, Z_FINISH);
                out->len += before - z.avail_out;
        } while (ret != Z_STREAM_END);
        deflateEnd(&z);
}

static void zstd_buf(const void *in, size_t n, struct berth_buf *out)
{
        size_t cap = ZSTD_compressBound(n);
        buf_grow(out, cap);
        size_t r = ZSTD_compress(out->data + out->len, cap, in, n, 3);
        ck_assert(!ZSTD_isError(r));
        out->len += r;
}

static void sha(const void *p, size_t n, char out[72])
{
        unsigned char md[32];
        unsigned int l;
        EVP_Digest(p, n, md, &l, EVP_sha256(), NULL);
        memcpy(out, "sha256:", 7);
        blob_sha256_hex(md, out + 7);
}

/* ---- driving layer_apply ------------------------------------------------- */

/* Applies buf in chunks; returns the result code, *msg the error (or NULL). */
static int apply_opts(const void *buf, size_t len, size_t chunk,
                      const struct layer_apply_opts *opts, struct layer_result *res, char **msg)
{
        struct berth_error *err = NULL;
        struct layer_apply *la = NULL;
        *msg = NULL;
        int r = layer_apply_begin(root, opts, &la, &err);
        if (r != 0)
                goto out;
        for (size_t off = 0; off < len; off += chunk) {
                size_t n = len - off < chunk ? len - off : chunk;
                r = layer_apply_write(la, (const char *)buf + off, n, &err);
                if (r < 0) {
                        layer_apply_abort(la);
                        goto out;
                }
        }
        r = layer_apply_finish(la, res, &err);
out:
        if (err)
                *msg = xstrdup(err->msg);
        berth_error_free(err);
        return r;
}

static int apply(const struct tw *t, struct layer_result *res, char **msg)
{
        struct layer_apply_opts o = {0};
        return apply_opts(t->b.data, t->b.len, 10000, &o, res, msg);
}

/* The apply must fail with a message containing want, and leave no layer
 * (final or temp) and nothing new outside. */
static void expect_refused(struct tw *t, const char *want)
{
        struct layer_result res;
        char *msg = NULL;
        int r = apply(t, &res, &msg);
        ck_assert_msg(r < 0, "hostile layer was accepted");
        ck_assert_msg(msg && strstr(msg, want), "got '%s', want '%s'", msg ? msg : "", want);
        free(msg);
        char *layers = xasprintf("%s/layers", root);
        DIR *d = opendir(layers);
        free(layers);
        ck_assert_ptr_nonnull(d);
        struct dirent *de;
        while ((de = readdir(d)))
                ck_assert_msg(de->d_name[0] == '.', "left behind: %s", de->d_name);
        closedir(d);
}

static void assert_outside_untouched(void)
{
        DIR *d = opendir(outside);
        ck_assert_ptr_nonnull(d);
        struct dirent *de;
        int n = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                ck_assert_str_eq(de->d_name, "victim");
                n++;
        }
        closedir(d);
        ck_assert_int_eq(n, 1);
        char *victim = xasprintf("%s/victim", outside);
        struct stat st;
        ck_assert_int_eq(lstat(victim, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(st.st_nlink, 1);
        ck_assert_int_eq(st.st_size, 4);
        ck_assert_uint_eq(st.st_mode & 07777, 0644 & ~victim_umask);
        ck_assert_uint_eq(st.st_uid, 0);
        char *c = NULL;
        ck_assert_int_eq(read_file_at(AT_FDCWD, victim, 100, &c, NULL), 0);
        ck_assert_str_eq(c, "keep");
        free(c);
        free(victim);
}

static char *lpath(const struct layer_result *res, const char *rel)
{
        return xasprintf("%s/layers/%s/%s", root, res->chain_id + 7, rel);
}

/* ---- positive cases ------------------------------------------------------ */

static void build_rich(struct tw *t)
{
        tw_dir(t, "./", 0755);
        tw_header(t, "bin/", '5', 0750, 0, 0, 0, 1111111111, NULL, 0, 0);
        tw_header(t, "bin/su", '0', 04755, 1000, 1001, 5, 1234567890, NULL, 0, 0);
        tw_data(t, "suid!", 5);
        tw_hardlink(t, "bin/su-link", "bin/su");
        tw_symlink(t, "bin/sh", "busybox");
        tw_header(t, "dev/", '5', 0755, 0, 0, 0, 1000000000, NULL, 0, 0);
        tw_header(t, "dev/null", '3', 0666, 0, 0, 0, 1000000000, NULL, 1, 3);
        tw_header(t, "dev/loop9", '4', 0660, 0, 6, 0, 1000000000, NULL, 7, 9);
        tw_header(t, "dev/fifo", '6', 0600, 0, 0, 0, 1000000000, NULL, 0, 0);
        tw_pax(t, "SCHILY.xattr.user.color", "blue", "mtime", "1500000000.25", NULL);
        tw_file(t, "etc/xattr-file", "x", 0640);
        tw_pax(t, "SCHILY.xattr.user.dir", "yes", NULL);
        tw_dir(t, "etc/xdir/", 01777);
        /* a path over 100 bytes through PAX, a long name and long link through GNU */
        char lp[220], ll[220];
        memset(lp, 'p', sizeof(lp));
        memcpy(lp, "long/", 5);
        lp[200] = '\0';
        tw_pax(t, "path", lp, "uid", "4242", "gid", "4343", NULL);
        tw_file(t, "ignored-short-name", "pax", 0644);
        memset(ll, 'g', sizeof(ll));
        memcpy(ll, "long/", 5);
        ll[150] = '\0';
        tw_gnu_long(t, 'L', ll);
        tw_file(t, "ignored-too", "gnu", 0644);
        tw_gnu_long(t, 'K', lp);
        tw_symlink(t, "long/sym", "short");
        tw_file(t, "bin/busybox", "#!/bin/true\n", 0755);
        tw_end(t);
}

static void check_rich(const struct layer_result *res)
{
        struct stat st;
        char *p = lpath(res, "bin/su");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 04755);
        ck_assert_uint_eq(st.st_uid, 1000);
        ck_assert_uint_eq(st.st_gid, 1001);
        ck_assert_int_eq(st.st_mtime, 1234567890);
        ck_assert_int_eq(st.st_nlink, 2);
        ino_t ino = st.st_ino;
        free(p);
        p = lpath(res, "bin/su-link");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert_uint_eq(st.st_ino, ino);
        free(p);
        p = lpath(res, "bin/sh");
        char target[64] = "";
        ck_assert_int_eq(readlink(p, target, sizeof(target) - 1), 7);
        ck_assert_str_eq(target, "busybox");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert_int_eq(st.st_mtime, 1000000000);
        free(p);
        p = lpath(res, "bin");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0750);
        ck_assert_int_eq(st.st_mtime, 1111111111); /* set after its children */
        free(p);
        p = lpath(res, "dev/null");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert(S_ISCHR(st.st_mode));
        ck_assert_uint_eq(major(st.st_rdev), 1);
        ck_assert_uint_eq(minor(st.st_rdev), 3);
        ck_assert_uint_eq(st.st_mode & 07777, 0666);
        free(p);
        p = lpath(res, "dev/loop9");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert(S_ISBLK(st.st_mode));
        ck_assert_uint_eq(major(st.st_rdev), 7);
        ck_assert_uint_eq(minor(st.st_rdev), 9);
        ck_assert_uint_eq(st.st_gid, 6);
        free(p);
        p = lpath(res, "dev/fifo");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert(S_ISFIFO(st.st_mode));
        free(p);
        p = lpath(res, "etc/xattr-file");
        char v[32] = "";
        ck_assert_int_eq(lgetxattr(p, "user.color", v, sizeof(v)), 4);
        ck_assert_str_eq(v, "blue");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert_int_eq(st.st_mtime, 1500000000);
        ck_assert_int_eq(st.st_mtim.tv_nsec, 250000000);
        ck_assert_uint_eq(st.st_mode & 07777, 0640);
        free(p);
        p = lpath(res, "etc/xdir");
        memset(v, 0, sizeof(v));
        ck_assert_int_eq(lgetxattr(p, "user.dir", v, sizeof(v)), 3);
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 01777);
        free(p);
        char lp[220];
        memset(lp, 'p', sizeof(lp));
        memcpy(lp, "long/", 5);
        lp[200] = '\0';
        p = lpath(res, lp);
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert_uint_eq(st.st_uid, 4242);
        ck_assert_uint_eq(st.st_gid, 4343);
        ck_assert_int_eq(st.st_size, 3);
        free(p);
        char ll[220];
        memset(ll, 'g', sizeof(ll));
        memcpy(ll, "long/", 5);
        ll[150] = '\0';
        p = lpath(res, ll);
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert_int_eq(st.st_size, 3);
        free(p);
        p = lpath(res, "long/sym");
        char t2[256] = "";
        ck_assert_int_eq(readlink(p, t2, sizeof(t2) - 1), 200);
        ck_assert_str_eq(t2, lp);
        free(p);
        p = lpath(res, "ignored-short-name");
        ck_assert_int_eq(lstat(p, &st), -1);
        free(p);
}

START_TEST(test_plain_metadata_kept)
{
        struct tw t = {BERTH_BUF_INIT};
        build_rich(&t);
        struct layer_result res;
        char *msg = NULL;
        /* odd chunk sizes: headers and data split at every possible place */
        struct layer_apply_opts o = {0};
        int r = apply_opts(t.b.data, t.b.len, 7, &o, &res, &msg);
        ck_assert_msg(r == 0, "%s", msg);
        char want[72];
        sha(t.b.data, t.b.len, want);
        ck_assert_str_eq(res.diff_id, want);
        ck_assert_str_eq(res.digest, want);
        ck_assert_str_eq(res.chain_id, want);
        ck_assert_int_eq(res.compression, LAYER_PLAIN);
        ck_assert_uint_eq(res.size, t.b.len);
        check_rich(&res);
        ck_assert(layer_exists(root, res.chain_id));
        buf_release(&t.b);
}
END_TEST

/* dockerd's image and layer SIZE: the bytes of regular files and the lengths of
 * symlink targets in the unpacked layer, a hard-linked file once; directories,
 * devices and whiteouts count nothing, and neither do tar headers or padding. */
START_TEST(test_unpacked_size_counts_as_docker)
{
        struct tw t = {BERTH_BUF_INIT};
        tw_dir(&t, "etc/", 0755);
        tw_file(&t, "etc/a", "12345", 0644);        /* 5 */
        tw_hardlink(&t, "etc/b", "etc/a");          /* the same inode: 0 */
        tw_symlink(&t, "etc/c", "a-longer-target"); /* 15 */
        tw_file(&t, "etc/.wh.gone", "", 0644);      /* a whiteout: 0 */
        tw_file(&t, "etc/empty", "", 0644);         /* 0 */
        tw_header(&t, "dev-null", '3', 0666, 0, 0, 0, 1000000000, NULL, 1, 3);
        tw_file(&t, "big", "0123456789abcdef", 0600); /* 16 */
        tw_end(&t);
        struct layer_result res;
        char *msg = NULL;
        int r = apply(&t, &res, &msg);
        ck_assert_msg(r == 0, "%s", msg);
        ck_assert_uint_eq(res.unpacked_size, 5 + 15 + 16);
        ck_assert_uint_eq(res.size, t.b.len);
        buf_release(&t.b);
}
END_TEST

START_TEST(test_gzip_and_zstd_digests_and_chain)
{
        struct tw t = {BERTH_BUF_INIT};
        build_rich(&t);
        char diff[72];
        sha(t.b.data, t.b.len, diff);
        const char *parent =
            "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        for (int z = 0; z < 2; z++) {
                struct berth_buf c = BERTH_BUF_INIT;
                if (z == 0)
                        gzip_buf(t.b.data, t.b.len, &c);
                else
                        zstd_buf(t.b.data, t.b.len, &c);
                char dg[72];
                sha(c.data, c.len, dg);
                struct layer_apply_opts o = {.parent_chain_id = z ? parent : NULL,
                                             .expected_digest = dg,
                                             .expected_diff_id = diff};
                struct layer_result res;
                char *msg = NULL;
                int r = apply_opts(c.data, c.len, z ? 1 : 333, &o, &res, &msg);
                ck_assert_msg(r == 0, "%s", msg);
                ck_assert_int_eq(res.compression, z ? LAYER_ZSTD : LAYER_GZIP);
                ck_assert_str_eq(res.digest, dg);
                ck_assert_str_eq(res.diff_id, diff);
                ck_assert_uint_eq(res.compressed_size, c.len);
                char chain[72];
                if (z) {
                        /* chain = sha256(parent + " " + diff_id) */
                        char *s = xasprintf("%s %s", parent, diff);
                        sha(s, strlen(s), chain);
                        free(s);
                } else {
                        strcpy(chain, diff);
                }
                ck_assert_str_eq(res.chain_id, chain);
                check_rich(&res);
                /* from an fd (a stored blob) into a second data root */
                char *blob = xasprintf("%s/blob", root), *root2 = xasprintf("%s/2", root);
                ck_assert_int_eq(write_file_at(AT_FDCWD, blob, c.data, c.len, 0600), 0);
                int fd = open(blob, O_RDONLY | O_CLOEXEC);
                struct layer_result res2;
                struct berth_error *e2 = NULL;
                ck_assert_msg(layer_apply_fd(root2, &o, fd, &res2, &e2) == 0, "%s",
                              berth_error_msg(e2));
                close(fd);
                ck_assert_str_eq(res2.chain_id, chain);
                ck_assert(layer_exists(root2, chain));
                free(blob);
                free(root2);
                /* without the compressed digest: same diff id and chain, no digest */
                char *root3 = xasprintf("%s/3", root);
                struct layer_apply_opts o3 = {.parent_chain_id = o.parent_chain_id,
                                              .no_digest = true};
                struct layer_apply *la3 = NULL;
                ck_assert_int_eq(layer_apply_begin(root3, &o3, &la3, &e2), 0);
                ck_assert_int_eq(layer_apply_write(la3, c.data, c.len, &e2), 0);
                ck_assert_int_eq(layer_apply_finish(la3, &res2, &e2), 0);
                ck_assert_str_eq(res2.digest, "");
                ck_assert_str_eq(res2.diff_id, diff);
                ck_assert_str_eq(res2.chain_id, chain);
                free(root3);
                /* the same layer again is recognised without unpacking */
                struct layer_apply *la = NULL;
                struct berth_error *err = NULL;
                ck_assert_int_eq(layer_apply_begin(root, &o, &la, &err), 1);
                ck_assert_ptr_null(la);
                buf_release(&c);
        }
        buf_release(&t.b);
}
END_TEST

START_TEST(test_multi_member_gzip)
{
        struct tw t = {BERTH_BUF_INIT};
        build_rich(&t);
        struct berth_buf c = BERTH_BUF_INIT;
        size_t half = 1536;
        gzip_buf(t.b.data, half, &c);
        gzip_buf(t.b.data + half, t.b.len - half, &c);
        struct layer_apply_opts o = {0};
        struct layer_result res;
        char *msg = NULL;
        for (size_t chunk = 1; chunk <= 4096; chunk *= 64) {
                rm_rf(root);
                mkdir(root, 0700);
                int r = apply_opts(c.data, c.len, chunk, &o, &res, &msg);
                ck_assert_msg(r == 0, "chunk %zu: %s", chunk, msg);
                check_rich(&res);
        }
        buf_release(&c);
        buf_release(&t.b);
}
END_TEST

START_TEST(test_digest_mismatch_leaves_no_layer)
{
        struct tw t = {BERTH_BUF_INIT};
        tw_file(&t, "a", "a", 0644);
        tw_end(&t);
        const char *wrong =
            "sha256:2222222222222222222222222222222222222222222222222222222222222222";
        struct layer_apply_opts o = {.expected_diff_id = wrong};
        struct layer_result res;
        char *msg = NULL;
        ck_assert_int_eq(apply_opts(t.b.data, t.b.len, 512, &o, &res, &msg), -EIO);
        char got[72];
        sha(t.b.data, t.b.len, got);
        char *want = xasprintf("layer %s: diff id mismatch (got %s)", wrong, got);
        ck_assert_str_eq(msg, want);
        free(want);
        free(msg);
        ck_assert(!layer_exists(root, wrong));
        ck_assert(!layer_exists(root, got));
        o = (struct layer_apply_opts){.expected_digest = wrong};
        ck_assert_int_eq(apply_opts(t.b.data, t.b.len, 512, &o, &res, &msg), -EIO);
        ck_assert_msg(strstr(msg, "digest mismatch"), "%s", msg);
        free(msg);
        ck_assert(!layer_exists(root, got));
        /* a plain tar without the (identical) compressed digest still gets its diff id */
        o = (struct layer_apply_opts){.no_digest = true, .expected_diff_id = got};
        ck_assert_msg(apply_opts(t.b.data, t.b.len, 100, &o, &res, &msg) == 0, "%s", msg);
        ck_assert_str_eq(res.diff_id, got);
        ck_assert_str_eq(res.digest, "");
        o = (struct layer_apply_opts){.no_digest = true, .expected_digest = got};
        ck_assert_int_eq(apply_opts(t.b.data, t.b.len, 100, &o, &res, &msg), -EINVAL);
        free(msg);
        buf_release(&t.b);
}
END_TEST

START_TEST(test_truncated_streams)
{
        struct tw t = {BERTH_BUF_INIT};
        tw_file(&t, "a", "0123456789", 0644);
        tw_end(&t);
        struct layer_result res;
        char *msg = NULL;
        struct layer_apply_opts o = {0};
        ck_assert_int_lt(apply_opts(t.b.data, 600, 600, &o, &res, &msg), 0);
        ck_assert_str_eq(msg, "layer: tar: unexpected end of tar data");
        free(msg);
        struct berth_buf c = BERTH_BUF_INIT;
        gzip_buf(t.b.data, t.b.len, &c);
        ck_assert_int_lt(apply_opts(c.data, c.len - 4, 4096, &o, &res, &msg), 0);
        ck_assert_str_eq(msg, "layer: gzip: unexpected end of compressed data");
        free(msg);
        buf_release(&c);
        zstd_buf(t.b.data, t.b.len, &c);
        ck_assert_int_lt(apply_opts(c.data, c.len - 3, 4096, &o, &res, &msg), 0);
        ck_assert_str_eq(msg, "layer: zstd: unexpected end of compressed data");
        free(msg);
        buf_release(&c);
        /* an empty stream is an empty layer */
        ck_assert_int_eq(apply_opts("", 0, 1, &o, &res, &msg), 0);
        buf_release(&t.b);
}
END_TEST

START_TEST(test_whiteouts_hide_lower_files_in_overlayfs)
{
        struct tw l1 = {BERTH_BUF_INIT}, l2 = {BERTH_BUF_INIT};
        tw_dir(&l1, "d/", 0755);
        tw_file(&l1, "d/a", "lower a", 0644);
        tw_file(&l1, "d/b", "lower b", 0644);
        tw_dir(&l1, "o/", 0755);
        tw_file(&l1, "o/x", "lower x", 0644);
        tw_end(&l1);
        tw_header(&l2, "d/.wh.a", '0', 0644, 0, 0, 0, 1000000000, NULL, 0, 0);
        tw_dir(&l2, "o/", 0755);
        tw_header(&l2, "o/.wh..wh..opq", '0', 0644, 0, 0, 0, 1000000000, NULL, 0, 0);
        tw_file(&l2, "o/y", "upper y", 0644);
        tw_end(&l2);
        struct layer_result r1, r2;
        char *msg = NULL;
        ck_assert_msg(apply(&l1, &r1, &msg) == 0, "%s", msg);
        struct layer_apply_opts o = {.parent_chain_id = r1.chain_id};
        ck_assert_msg(apply_opts(l2.b.data, l2.b.len, 512, &o, &r2, &msg) == 0, "%s", msg);

        struct stat st;
        char *p = lpath(&r2, "d/a");
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert(S_ISCHR(st.st_mode));
        ck_assert_uint_eq(st.st_rdev, makedev(0, 0));
        free(p);
        p = lpath(&r2, "d/.wh.a");
        ck_assert_int_eq(lstat(p, &st), -1);
        free(p);
        p = lpath(&r2, "o");
        char v[4] = "";
        ck_assert_int_eq(lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
        ck_assert_int_eq(v[0], 'y');
        free(p);

        /* Mount it for real (private mount namespace: the mount dies with this test
         * process even if an assertion fails; unmounted explicitly too). */
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        char *mnt = xasprintf("%s/mnt", root);
        ck_assert_int_eq(mkdir(mnt, 0755), 0);
        char *opts = xasprintf("lowerdir=%s/layers/%s:%s/layers/%s", root, r2.chain_id + 7, root,
                               r1.chain_id + 7);
        ck_assert_msg(mount("overlay", mnt, "overlay", MS_RDONLY, opts) == 0, "mount: %m");
        char *f = xasprintf("%s/d/a", mnt);
        ck_assert_int_eq(lstat(f, &st), -1);
        ck_assert_int_eq(errno, ENOENT);
        free(f);
        f = xasprintf("%s/d/b", mnt);
        ck_assert_int_eq(lstat(f, &st), 0);
        free(f);
        f = xasprintf("%s/o/x", mnt);
        ck_assert_int_eq(lstat(f, &st), -1);
        free(f);
        f = xasprintf("%s/o/y", mnt);
        ck_assert_int_eq(lstat(f, &st), 0);
        free(f);
        ck_assert_int_eq(umount2(mnt, 0), 0);
        free(mnt);
        free(opts);
        buf_release(&l1.b);
        buf_release(&l2.b);
}
END_TEST

START_TEST(test_later_entries_replace_earlier)
{
        struct tw t = {BERTH_BUF_INIT};
        tw_file(&t, "x", "first", 0644);
        tw_file(&t, "x", "second", 0600);
        tw_dir(&t, "d/", 0755);
        tw_file(&t, "d/f", "f", 0644);
        tw_symlink(&t, "d", "elsewhere"); /* a symlink replaces a whole directory */
        tw_end(&t);
        struct layer_result res;
        char *msg = NULL;
        ck_assert_msg(apply(&t, &res, &msg) == 0, "%s", msg);
        char *p = lpath(&res, "x"), *c = NULL;
        ck_assert_int_eq(read_file_at(AT_FDCWD, p, 100, &c, NULL), 0);
        ck_assert_str_eq(c, "second");
        free(c);
        free(p);
        p = lpath(&res, "d");
        struct stat st;
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert(S_ISLNK(st.st_mode));
        free(p);
        buf_release(&t.b);
}
END_TEST

START_TEST(test_crash_leftovers_cleaned)
{
        char *tmp = xasprintf("%s/layers/abc.tmp/sub", root);
        ck_assert_int_eq(mkdir_p(tmp, 0755), 0);
        char *keep = xasprintf("%s/layers/%s", root,
                               "3333333333333333333333333333333333333333333333333333333333333333");
        ck_assert_int_eq(mkdir_p(keep, 0755), 0);
        struct berth_error *err = NULL;
        char **all = NULL;
        ck_assert_int_eq(layer_list(root, &all, &err), 0);
        ck_assert_str_eq(all[0],
                         "sha256:3333333333333333333333333333333333333333333333333333333333333333");
        ck_assert_ptr_null(all[1]); /* abc.tmp is not a layer */
        strv_free(all);
        ck_assert_int_eq(layer_store_cleanup(root, &err), 0);
        struct stat st;
        ck_assert_int_eq(stat(tmp, &st), -1);
        ck_assert_int_eq(stat(keep, &st), 0);
        ck_assert(layer_exists(
            root, "sha256:3333333333333333333333333333333333333333333333333333333333333333"));
        ck_assert_int_eq(
            layer_delete(root,
                         "sha256:3333333333333333333333333333333333333333333333333333333333333333",
                         &err),
            0);
        ck_assert_int_eq(stat(keep, &st), -1);
        free(tmp);
        free(keep);
}
END_TEST

/* ---- hostile layers ------------------------------------------------------- */

START_TEST(test_hostile_dotdot)
{
        struct tw t = {BERTH_BUF_INIT};
        char *name = xasprintf("../../../../../../..%s/pwned", outside);
        tw_file(&t, name, "x", 0644);
        tw_end(&t);
        char *want = xasprintf("layer entry '%s': path escapes the layer directory", name);
        expect_refused(&t, want);
        assert_outside_untouched();
        free(want);
        free(name);
        buf_release(&t.b);

        struct tw t2 = {BERTH_BUF_INIT};
        tw_file(&t2, "a/../../pwned", "x", 0644);
        tw_end(&t2);
        expect_refused(&t2, "layer entry 'a/../../pwned': path escapes the layer directory");
        char *p = xasprintf("%s/pwned", root);
        struct stat st;
        ck_assert_int_eq(lstat(p, &st), -1);
        free(p);
        buf_release(&t2.b);
}
END_TEST

START_TEST(test_hostile_absolute_name_stays_inside)
{
        struct tw t = {BERTH_BUF_INIT};
        char *name = xasprintf("%s/pwned", outside);
        tw_file(&t, name, "x", 0644);
        tw_end(&t);
        struct layer_result res;
        char *msg = NULL;
        ck_assert_msg(apply(&t, &res, &msg) == 0, "%s", msg);
        assert_outside_untouched();
        /* the leading '/' names the layer root, as Docker extracts it */
        char *p = lpath(&res, name + 1);
        struct stat st;
        ck_assert_int_eq(lstat(p, &st), 0);
        free(p);
        free(name);
        buf_release(&t.b);
}
END_TEST

START_TEST(test_hostile_write_through_planted_symlink)
{
        /* a symlink to the outside directory, then a file "through" it */
        struct tw t = {BERTH_BUF_INIT};
        tw_symlink(&t, "evil", outside);
        tw_file(&t, "evil/pwned", "x", 0644);
        tw_end(&t);
        expect_refused(&t, "layer entry 'evil/pwned': ");
        assert_outside_untouched();
        buf_release(&t.b);

        /* relative climb inside the symlink text */
        struct tw t2 = {BERTH_BUF_INIT};
        char *rel = xasprintf("../../../../../../../../..%s", outside);
        tw_symlink(&t2, "evil", rel);
        tw_file(&t2, "evil/victim", "overwritten", 0644);
        tw_end(&t2);
        expect_refused(&t2, "layer entry 'evil/victim': ");
        assert_outside_untouched();
        free(rel);
        buf_release(&t2.b);

        /* a symlink to "/" resolves to the layer root: the write lands inside */
        struct tw t3 = {BERTH_BUF_INIT};
        tw_symlink(&t3, "rootlink", "/");
        char *through = xasprintf("rootlink%s/victim", outside);
        tw_dir(&t3, outside + 1, 0755);
        tw_file(&t3, through, "overwritten", 0644);
        tw_end(&t3);
        struct layer_result res;
        char *msg = NULL;
        ck_assert_msg(apply(&t3, &res, &msg) == 0, "%s", msg);
        assert_outside_untouched();
        char *inside = xasprintf("%s/victim", outside + 1);
        char *p = lpath(&res, inside), *c = NULL;
        ck_assert_int_eq(read_file_at(AT_FDCWD, p, 100, &c, NULL), 0);
        ck_assert_str_eq(c, "overwritten");
        free(c);
        free(p);
        free(inside);
        free(through);
        buf_release(&t3.b);
}
END_TEST

START_TEST(test_hostile_hardlink_outside)
{
        char *victim = xasprintf("%s/victim", outside);
        struct tw t = {BERTH_BUF_INIT};
        char *rel = xasprintf("../../../../../../../..%s", victim);
        tw_hardlink(&t, "hl", rel);
        tw_end(&t);
        char *want =
            xasprintf("layer entry 'hl': hardlink target '%s' escapes the layer directory", rel);
        expect_refused(&t, want);
        assert_outside_untouched();
        free(want);
        buf_release(&t.b);

        /* an absolute target names a file of this layer: there is none */
        struct tw t2 = {BERTH_BUF_INIT};
        tw_hardlink(&t2, "hl", victim);
        tw_end(&t2);
        expect_refused(&t2, "no such file or directory");
        assert_outside_untouched();
        buf_release(&t2.b);

        /* through a planted symlink */
        struct tw t3 = {BERTH_BUF_INIT};
        tw_symlink(&t3, "s", outside);
        tw_hardlink(&t3, "hl", "s/victim");
        tw_end(&t3);
        expect_refused(&t3, "layer entry 'hl': hardlink target 's/victim'");
        assert_outside_untouched();
        buf_release(&t3.b);

        /* a hardlink to a symlink that points outside links the symlink, not its target */
        struct tw t4 = {BERTH_BUF_INIT};
        tw_symlink(&t4, "s", victim);
        tw_hardlink(&t4, "hl", "s");
        tw_end(&t4);
        struct layer_result res;
        char *msg = NULL;
        ck_assert_msg(apply(&t4, &res, &msg) == 0, "%s", msg);
        char *p = lpath(&res, "hl");
        struct stat st;
        ck_assert_int_eq(lstat(p, &st), 0);
        ck_assert(S_ISLNK(st.st_mode));
        assert_outside_untouched();
        free(p);
        free(rel);
        free(victim);
        buf_release(&t4.b);
}
END_TEST

START_TEST(test_hostile_whiteout_outside)
{
        struct tw t = {BERTH_BUF_INIT};
        char *name = xasprintf("../../../../../../..%s/.wh.victim", outside);
        tw_file(&t, name, "", 0644);
        tw_end(&t);
        expect_refused(&t, "path escapes the layer directory");
        assert_outside_untouched();
        free(name);
        buf_release(&t.b);

        struct tw t2 = {BERTH_BUF_INIT};
        tw_file(&t2, "a/.wh..", "", 0644);
        tw_end(&t2);
        expect_refused(&t2, "layer entry 'a/.wh..': invalid whiteout");
        buf_release(&t2.b);

        struct tw t3 = {BERTH_BUF_INIT};
        tw_symlink(&t3, "s", outside);
        tw_file(&t3, "s/.wh.victim", "", 0644);
        tw_end(&t3);
        expect_refused(&t3, "layer entry 's/.wh.victim': ");
        assert_outside_untouched();
        buf_release(&t3.b);

        struct tw t4 = {BERTH_BUF_INIT};
        tw_symlink(&t4, "s", outside);
        tw_file(&t4, "s/.wh..wh..opq", "", 0644);
        tw_end(&t4);
        expect_refused(&t4, "layer entry 's/.wh..wh..opq': ");
        assert_outside_untouched();
        char v[4];
        ck_assert_int_eq(lgetxattr(outside, "trusted.overlay.opaque", v, sizeof(v)), -1);
        buf_release(&t4.b);
}
END_TEST

START_TEST(test_hostile_overlay_xattrs)
{
        struct tw t = {BERTH_BUF_INIT};
        tw_dir(&t, "d/", 0755);
        tw_pax(&t, "SCHILY.xattr.trusted.overlay.opaque", "y", NULL);
        tw_dir(&t, "d/", 0755);
        tw_end(&t);
        expect_refused(&t, "layer entry 'd/': xattr 'trusted.overlay.opaque' is reserved for "
                           "overlayfs");
        buf_release(&t.b);

        struct tw t2 = {BERTH_BUF_INIT};
        tw_pax(&t2, "SCHILY.xattr.trusted.overlay.redirect", "/etc", NULL);
        tw_file(&t2, "f", "x", 0644);
        tw_end(&t2);
        expect_refused(&t2, "xattr 'trusted.overlay.redirect' is reserved for overlayfs");
        buf_release(&t2.b);

        /* other privileged namespaces are dropped, user.* kept */
        struct tw t3 = {BERTH_BUF_INIT};
        tw_pax(&t3, "SCHILY.xattr.security.selinux", "system_u:object_r:shadow_t:s0",
               "SCHILY.xattr.trusted.evil", "1", "SCHILY.xattr.user.ok", "1", NULL);
        tw_file(&t3, "f", "x", 0644);
        tw_end(&t3);
        struct layer_result res;
        char *msg = NULL;
        ck_assert_msg(apply(&t3, &res, &msg) == 0, "%s", msg);
        char *p = lpath(&res, "f");
        char v[64];
        ck_assert_int_eq(lgetxattr(p, "trusted.evil", v, sizeof(v)), -1);
        ck_assert_int_eq(lgetxattr(p, "user.ok", v, sizeof(v)), 1);
        ssize_t n = lgetxattr(p, "security.selinux", v, sizeof(v));
        ck_assert(n < 0 || memcmp(v, "system_u:object_r:shadow_t", 26) != 0);
        free(p);
        buf_release(&t3.b);
}
END_TEST

START_TEST(test_hostile_gzip_bomb)
{
        /* 96 MiB of zeros in 1 MiB files compress to ~100 KiB; the limit is 8 MiB */
        struct tw t = {BERTH_BUF_INIT};
        char *zeros = xcalloc(1, 1 << 20);
        for (int i = 0; i < 96; i++) {
                char name[32];
                snprintf(name, sizeof(name), "z%02d", i);
                tw_header(&t, name, '0', 0644, 0, 0, 1 << 20, 0, NULL, 0, 0);
                tw_data(&t, zeros, 1 << 20);
        }
        tw_end(&t);
        struct berth_buf c = BERTH_BUF_INIT;
        gzip_buf(t.b.data, t.b.len, &c);
        buf_release(&t.b);
        ck_assert_uint_lt(c.len, 1 << 20);
        struct layer_apply_opts o = {.limits = {.max_bytes = 8 << 20}};
        struct layer_result res;
        char *msg = NULL;
        ck_assert_int_eq(apply_opts(c.data, c.len, 65536, &o, &res, &msg), -EFBIG);
        ck_assert_str_eq(msg, "layer: uncompressed size exceeds the limit of 8388608 bytes");
        free(msg);
        /* nothing partial left */
        char *layers = xasprintf("%s/layers", root);
        DIR *d = opendir(layers);
        struct dirent *de;
        while ((de = readdir(d)))
                ck_assert(de->d_name[0] == '.');
        closedir(d);
        free(layers);
        /* one member claiming more than the limit is refused from its header */
        struct tw t2 = {BERTH_BUF_INIT};
        tw_header(&t2, "huge", '0', 0644, 0, 0, 9 << 20, 0, NULL, 0, 0);
        ck_assert_int_eq(apply_opts(t2.b.data, t2.b.len, 512, &o, &res, &msg), -EFBIG);
        ck_assert_str_eq(msg, "tar: 'huge': size 9437184 exceeds the limit of 8388608 bytes");
        free(msg);
        buf_release(&t2.b);
        buf_release(&c);
        free(zeros);
}
END_TEST

START_TEST(test_hostile_entry_and_path_limits)
{
        struct tw t = {BERTH_BUF_INIT};
        for (int i = 0; i < 20; i++) {
                char name[16];
                snprintf(name, sizeof(name), "f%d", i);
                tw_file(&t, name, "", 0644);
        }
        tw_end(&t);
        struct layer_apply_opts o = {.limits = {.max_entries = 10}};
        struct layer_result res;
        char *msg = NULL;
        ck_assert_int_eq(apply_opts(t.b.data, t.b.len, 4096, &o, &res, &msg), -E2BIG);
        ck_assert_str_eq(msg, "tar: more than 10 entries");
        free(msg);
        buf_release(&t.b);

        struct tw t2 = {BERTH_BUF_INIT};
        char lp[400];
        memset(lp, 'a', sizeof(lp));
        lp[300] = '\0';
        tw_pax(&t2, "path", lp, NULL);
        tw_file(&t2, "x", "", 0644);
        tw_end(&t2);
        o = (struct layer_apply_opts){.limits = {.max_path = 255}};
        ck_assert_int_eq(apply_opts(t2.b.data, t2.b.len, 4096, &o, &res, &msg), -ENAMETOOLONG);
        ck_assert_str_eq(msg, "tar: name of 300 bytes exceeds the limit of 255");
        free(msg);
        buf_release(&t2.b);
}
END_TEST

START_TEST(test_hostile_bad_headers)
{
        struct layer_result res;
        char *msg = NULL;
        struct layer_apply_opts o = {0};
        /* checksum */
        struct tw t = {BERTH_BUF_INIT};
        tw_file(&t, "a", "a", 0644);
        tw_end(&t);
        t.b.data[0] = 'b';
        ck_assert_int_eq(apply_opts(t.b.data, t.b.len, 4096, &o, &res, &msg), -EINVAL);
        ck_assert_str_eq(msg, "tar: invalid header checksum");
        free(msg);
        buf_release(&t.b);
        /* a size field that is not octal */
        struct tw t2 = {BERTH_BUF_INIT};
        tw_header(&t2, "a", '0', 0644, 0, 0, 0, 0, NULL, 0, 0);
        memcpy(t2.b.data + 124, "0000000009x", 11);
        memset(t2.b.data + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)t2.b.data[i];
        snprintf(t2.b.data + 148, 8, "%06o", sum);
        tw_end(&t2);
        ck_assert_int_eq(apply_opts(t2.b.data, t2.b.len, 4096, &o, &res, &msg), -EINVAL);
        ck_assert_str_eq(msg, "tar: invalid numeric field in header");
        free(msg);
        /* a negative base-256 size */
        t2.b.data[124] = (char)0xff;
        memset(t2.b.data + 125, 0xff, 11);
        memset(t2.b.data + 148, ' ', 8);
        sum = 0;
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)t2.b.data[i];
        snprintf(t2.b.data + 148, 8, "%06o", sum);
        ck_assert_int_eq(apply_opts(t2.b.data, t2.b.len, 4096, &o, &res, &msg), -EINVAL);
        ck_assert_str_eq(msg, "tar: invalid numeric field in header");
        free(msg);
        buf_release(&t2.b);
        /* a PAX record whose length lies */
        struct tw t3 = {BERTH_BUF_INIT};
        const char *rec = "99 path=x\n";
        tw_header(&t3, "PaxHeaders/x", 'x', 0644, 0, 0, strlen(rec), 0, NULL, 0, 0);
        tw_data(&t3, rec, strlen(rec));
        tw_file(&t3, "a", "", 0644);
        tw_end(&t3);
        ck_assert_int_eq(apply_opts(t3.b.data, t3.b.len, 4096, &o, &res, &msg), -EINVAL);
        ck_assert_str_eq(msg, "tar: invalid pax header");
        free(msg);
        buf_release(&t3.b);
        /* sparse files are refused, not half-extracted */
        struct tw t4 = {BERTH_BUF_INIT};
        tw_header(&t4, "sparse", 'S', 0644, 0, 0, 0, 0, NULL, 0, 0);
        tw_end(&t4);
        ck_assert_int_eq(apply_opts(t4.b.data, t4.b.len, 4096, &o, &res, &msg), -ENOTSUP);
        ck_assert_str_eq(msg, "tar: unsupported entry type 'S'");
        free(msg);
        buf_release(&t4.b);
        /* the root must stay a directory */
        struct tw t5 = {BERTH_BUF_INIT};
        tw_symlink(&t5, "./", outside);
        tw_end(&t5);
        ck_assert_int_eq(apply_opts(t5.b.data, t5.b.len, 4096, &o, &res, &msg), -EINVAL);
        ck_assert_str_eq(msg, "layer entry './': the layer root must be a directory");
        free(msg);
        buf_release(&t5.b);
}
END_TEST

START_TEST(test_full_disk_is_clear_and_leaves_nothing)
{
        /* a private mount namespace (Check forks each test): the tmpfs dies with it */
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_int_eq(mount("tmpfs", root, "tmpfs", 0, "size=512k"), 0);
        struct tw t = {BERTH_BUF_INIT};
        tw_file(&t, "small", "fits", 0644);
        char *big = xmalloc(2 << 20);
        memset(big, 'x', 2 << 20);
        tw_header(&t, "big", '0', 0644, 0, 0, 2 << 20, 0, NULL, 0, 0);
        tw_data(&t, big, 2 << 20);
        tw_end(&t);
        free(big);
        struct berth_buf c = BERTH_BUF_INIT;
        gzip_buf(t.b.data, t.b.len, &c);
        struct layer_apply_opts o = {0};
        struct layer_result res;
        char *msg = NULL;
        ck_assert_int_eq(apply_opts(c.data, c.len, 65536, &o, &res, &msg), -ENOSPC);
        ck_assert_str_eq(msg, "layer entry 'big': write: no space left on device");
        free(msg);
        char *layers = xasprintf("%s/layers", root);
        DIR *d = opendir(layers);
        struct dirent *de;
        while ((de = readdir(d)))
                ck_assert_msg(de->d_name[0] == '.', "left behind: %s", de->d_name);
        closedir(d);
        free(layers);
        /* the space came back: a layer that fits goes in */
        struct tw t2 = {BERTH_BUF_INIT};
        tw_file(&t2, "small", "fits", 0644);
        tw_end(&t2);
        ck_assert_msg(apply(&t2, &res, &msg) == 0, "%s", msg);
        buf_release(&t2.b);
        buf_release(&t.b);
        buf_release(&c);
        ck_assert_int_eq(umount2(root, MNT_DETACH), 0);
}
END_TEST

struct racer {
        const struct tw *t;
        const char *diff;
        int result; /* 0 applied, 1 found present */
};

static void *race(void *arg)
{
        struct racer *r = arg;
        struct layer_apply_opts o = {.expected_diff_id = r->diff};
        struct layer_apply *la = NULL;
        struct berth_error *err = NULL;
        r->result = layer_apply_begin(root, &o, &la, &err);
        if (r->result == 0) {
                usleep(100 * 1000); /* let the others queue up behind this apply */
                if (layer_apply_write(la, r->t->b.data, r->t->b.len, &err) < 0) {
                        layer_apply_abort(la);
                        r->result = -1;
                } else if (layer_apply_finish(la, NULL, &err) < 0) {
                        r->result = -1;
                }
        }
        berth_error_free(err);
        return NULL;
}

START_TEST(test_concurrent_applies_unpack_once)
{
        struct tw t = {BERTH_BUF_INIT};
        build_rich(&t);
        char diff[72];
        sha(t.b.data, t.b.len, diff);
        struct racer rs[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
                rs[i] = (struct racer){.t = &t, .diff = diff};
                pthread_create(&th[i], NULL, race, &rs[i]);
        }
        int applied = 0, present = 0;
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                applied += rs[i].result == 0;
                present += rs[i].result == 1;
        }
        ck_assert_int_eq(applied, 1);
        ck_assert_int_eq(present, 3);
        ck_assert(layer_exists(root, diff));
        buf_release(&t.b);
}
END_TEST

START_TEST(test_hostile_entries_over_planted_symlinks)
{
        /* every kind of entry written over a symlink to the outside replaces the
         * symlink; nothing follows it */
        char *victim = xasprintf("%s/victim", outside);
        struct tw t = {BERTH_BUF_INIT};
        tw_symlink(&t, "f", victim);
        tw_file(&t, "f", "overwritten", 0777);
        tw_symlink(&t, "d", outside);
        tw_dir(&t, "d/", 0777);
        tw_symlink(&t, "n", victim);
        tw_header(&t, "n", '6', 0777, 0, 0, 0, 0, NULL, 0, 0);
        tw_symlink(&t, "h", victim);
        tw_hardlink(&t, "h", "f");
        tw_symlink(&t, "x", victim);
        tw_pax(&t, "SCHILY.xattr.user.evil", "1", NULL);
        tw_file(&t, "x", "", 0600);
        tw_end(&t);
        struct layer_result res;
        char *msg = NULL;
        ck_assert_msg(apply(&t, &res, &msg) == 0, "%s", msg);
        assert_outside_untouched();
        struct stat st;
        ck_assert_int_eq(stat(outside, &st), 0);
        ck_assert_uint_ne(st.st_mode & 0777, 0777);
        char v[8];
        ck_assert_int_eq(getxattr(victim, "user.evil", v, sizeof(v)), -1);
        const char *names[] = {"f", "d", "n", "h", "x"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char *p = lpath(&res, names[i]);
                ck_assert_int_eq(lstat(p, &st), 0);
                ck_assert_msg(!S_ISLNK(st.st_mode), "%s is still a symlink", names[i]);
                free(p);
        }
        free(victim);
        buf_release(&t.b);
}
END_TEST

START_TEST(test_every_truncation_fails_cleanly)
{
        /* cut a gzip and a zstd layer at many points: each is an error with a
         * message, and no layer or temp directory is left */
        struct tw t = {BERTH_BUF_INIT};
        build_rich(&t);
        for (int z = 0; z < 2; z++) {
                struct berth_buf c = BERTH_BUF_INIT;
                if (z == 0)
                        gzip_buf(t.b.data, t.b.len, &c);
                else
                        zstd_buf(t.b.data, t.b.len, &c);
                for (size_t cut = 1; cut < c.len; cut += 1 + c.len / 37) {
                        struct layer_apply_opts o = {0};
                        struct layer_result res;
                        char *msg = NULL;
                        int r = apply_opts(c.data, cut, 1 + cut % 97, &o, &res, &msg);
                        ck_assert_msg(r < 0, "cut at %zu of %zu accepted", cut, c.len);
                        ck_assert_msg(msg && *msg, "cut at %zu: no message", cut);
                        free(msg);
                        char **all = NULL;
                        struct berth_error *err = NULL;
                        ck_assert_int_eq(layer_list(root, &all, &err), 0);
                        ck_assert_ptr_null(all[0]);
                        strv_free(all);
                        char *layers = xasprintf("%s/layers", root);
                        DIR *d = opendir(layers);
                        struct dirent *de;
                        while (d && (de = readdir(d)))
                                ck_assert_msg(de->d_name[0] == '.', "left: %s", de->d_name);
                        if (d)
                                closedir(d);
                        free(layers);
                }
                buf_release(&c);
        }
        buf_release(&t.b);
}
END_TEST

START_TEST(test_metadata_kept_on_tmpfs)
{
        /* the same layer on tmpfs (user.* xattrs there since Linux 6.6) as on the
         * disk filesystem of /tmp */
        ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_int_eq(mount("tmpfs", root, "tmpfs", 0, "size=64m"), 0);
        struct tw t = {BERTH_BUF_INIT};
        build_rich(&t);
        struct layer_result res;
        char *msg = NULL;
        ck_assert_msg(apply(&t, &res, &msg) == 0, "%s", msg);
        check_rich(&res);
        buf_release(&t.b);
        ck_assert_int_eq(umount2(root, MNT_DETACH), 0);
}
END_TEST

START_TEST(test_modes_exact_whatever_the_process_umask)
{
        /* The unpacker creates inodes with their final mode under a umask of its
         * own thread; the process's umask neither leaks in nor is changed. */
        mode_t old = umask(0077);
        struct tw t = {BERTH_BUF_INIT};
        tw_dir(&t, "open/", 0777);
        tw_file(&t, "open/rw", "x", 0666);
        tw_file(&t, "open/exec", "x", 0775);
        tw_header(&t, "open/fifo", '6', 0666, 0, 0, 0, 1000000000, NULL, 0, 0);
        tw_file(&t, "implicit/dir/file", "y", 0644);
        tw_end(&t);
        struct layer_result res;
        char *msg = NULL;
        int r = apply(&t, &res, &msg);
        mode_t now = umask(old);
        ck_assert_msg(r == 0, "%s", msg);
        ck_assert_uint_eq(now, 0077);
        static const struct {
                const char *path;
                mode_t mode;
        } want[] = {
            {"open", 0777},
            {"open/rw", 0666},
            {"open/exec", 0775},
            {"open/fifo", 0666},
            {"implicit", 0755},
            {"implicit/dir", 0755},
            {"implicit/dir/file", 0644},
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                char *p = lpath(&res, want[i].path);
                struct stat st;
                ck_assert_int_eq(lstat(p, &st), 0);
                ck_assert_msg((st.st_mode & 07777) == want[i].mode, "%s: %o", want[i].path,
                              (unsigned)(st.st_mode & 07777));
                free(p);
        }
        buf_release(&t.b);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("layer");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 60);
        tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_plain_metadata_kept);
        tcase_add_test(tc, test_metadata_kept_on_tmpfs);
        tcase_add_test(tc, test_modes_exact_whatever_the_process_umask);
        tcase_add_test(tc, test_gzip_and_zstd_digests_and_chain);
        tcase_add_test(tc, test_unpacked_size_counts_as_docker);
        tcase_add_test(tc, test_multi_member_gzip);
        tcase_add_test(tc, test_digest_mismatch_leaves_no_layer);
        tcase_add_test(tc, test_truncated_streams);
        tcase_add_test(tc, test_every_truncation_fails_cleanly);
        tcase_add_test(tc, test_whiteouts_hide_lower_files_in_overlayfs);
        tcase_add_test(tc, test_later_entries_replace_earlier);
        tcase_add_test(tc, test_crash_leftovers_cleaned);
        tcase_add_test(tc, test_hostile_dotdot);
        tcase_add_test(tc, test_hostile_absolute_name_stays_inside);
        tcase_add_test(tc, test_hostile_write_through_planted_symlink);
        tcase_add_test(tc, test_hostile_hardlink_outside);
        tcase_add_test(tc, test_hostile_whiteout_outside);
        tcase_add_test(tc, test_hostile_entries_over_planted_symlinks);
        tcase_add_test(tc, test_hostile_overlay_xattrs);
        tcase_add_test(tc, test_hostile_gzip_bomb);
        tcase_add_test(tc, test_hostile_entry_and_path_limits);
        tcase_add_test(tc, test_hostile_bad_headers);
        tcase_add_test(tc, test_full_disk_is_clear_and_leaves_nothing);
        tcase_add_test(tc, test_concurrent_applies_unpack_once);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
