/*
 * test-untar.c — the tar writer (image/tar-writer.h) and docker's Untar
 * (image/untar.h): names as docker's archive package writes them, a tree that
 * makes the round trip with its metadata, and the confinement both promise —
 * a symlink planted in the tree (as a container would plant it) is archived
 * as a symlink and never followed by the writer, and never lets an extraction
 * write outside the root; each hostile case checks that the outside victim is
 * untouched, and its control shows that a plain path walk would have reached
 * it.  Needs root (owners, devices).
 */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "image/tar-writer.h"
#include "image/tar.h"
#include "image/untar.h"

static char base[64];
static char src[128], dst[128], outside[128];

static void base_setup(void)
{
        strcpy(base, "/tmp/berth-test-untar-XXXXXX");
        if (!mkdtemp(base))
                abort();
}

static void base_teardown(void)
{
        rm_rf(base);
}

static void setup(void)
{
        ck_assert_msg(geteuid() == 0, "test-untar needs root (owners, devices)");
        snprintf(src, sizeof(src), "%s/src-XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(src));
        snprintf(dst, sizeof(dst), "%s/dst-XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(dst));
        snprintf(outside, sizeof(outside), "%s/outside-XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(outside));
        char *victim = xasprintf("%s/victim", outside);
        ck_assert_int_eq(write_file_at(AT_FDCWD, victim, "keep", 4, 0644), 0);
        free(victim);
}

static void teardown(void)
{
        rm_rf(src);
        rm_rf(dst);
        rm_rf(outside);
}

static char *at(const char *dir, const char *name)
{
        return xasprintf("%s/%s", dir, name);
}

static void put_file(const char *dir, const char *name, const char *text, mode_t mode)
{
        char *p = at(dir, name);
        ck_assert_int_eq(write_file_at(AT_FDCWD, p, text, strlen(text), mode), 0);
        ck_assert_int_eq(chmod(p, mode), 0);
        free(p);
}

static char *read_text(const char *dir, const char *name)
{
        char *p = at(dir, name), *t = NULL;
        size_t n;
        int r = read_file_at(AT_FDCWD, p, 1 << 20, &t, &n);
        free(p);
        return r < 0 ? NULL : t;
}

static bool victim_intact(void)
{
        char *t = read_text(outside, "victim");
        bool ok = t && strcmp(t, "keep") == 0;
        free(t);
        char *p = at(outside, "new");
        ok = ok && access(p, F_OK) < 0;
        free(p);
        return ok;
}

/* ---- archives in memory ---- */

static int to_buf(const void *p, size_t n, void *ud)
{
        buf_append(ud, p, n);
        return 0;
}

static void archive(int dirfd, const char *name, const char *as, struct berth_buf *out)
{
        struct berth_error *err = NULL;
        struct tarw *w = tarw_new(to_buf, out);
        int r = tarw_add(w, dirfd, name, as, &err);
        ck_assert_msg(r == 0, "tarw_add: %s", err ? berth_error_msg(err) : "?");
        ck_assert_int_eq(tarw_finish(w, &err), 0);
        tarw_free(w);
}

struct listing {
        struct berth_buf text; /* "name type mode uid:gid size link\n" per entry */
};

static int list_entry(void *ud, const struct tar_entry *e, struct berth_error **err)
{
        struct listing *l = ud;
        buf_printf(&l->text, "%s %d %o %llu:%llu %llu %s\n", e->path, (int)e->type, e->mode,
                   (unsigned long long)e->uid, (unsigned long long)e->gid,
                   (unsigned long long)e->size, e->linkname);
        return 0;
}

static int list_data(void *ud, const void *buf, size_t len, struct berth_error **err)
{
        return 0;
}

static int list_end(void *ud, struct berth_error **err)
{
        return 0;
}

static char *list(const struct berth_buf *tar)
{
        static const struct tar_ops ops = {list_entry, list_data, list_end};
        struct listing l = {BERTH_BUF_INIT};
        struct tar_limits lim = {4096, 1000000, UINT64_MAX};
        struct tar_reader *r = tar_reader_new(&ops, &l, &lim);
        struct berth_error *err = NULL;
        ck_assert_int_eq(tar_reader_feed(r, tar->data, tar->len, &err), 0);
        ck_assert_int_eq(tar_reader_finish(r, &err), 0);
        tar_reader_free(r);
        return l.text.data ? buf_steal(&l.text) : xstrdup("");
}

/* Raw header field of the first entry (the writer's own choices: type bits in mode). */
static void first_mode_field(const struct berth_buf *tar, char out[9])
{
        memcpy(out, tar->data + 100, 8);
        out[8] = '\0';
}

static int extract(int rootfd, const struct untar_opts *o, const struct berth_buf *tar,
                   struct berth_error **err)
{
        struct untar *u = NULL;
        int r = untar_begin(rootfd, o, &u, err);
        /* in pieces of 700 bytes, as a socket delivers them */
        for (size_t off = 0; r == 0 && off < tar->len; off += 700)
                r = untar_write(u, tar->data + off, tar->len - off < 700 ? tar->len - off : 700,
                                err);
        if (r == 0)
                r = untar_finish(u, err);
        untar_free(u);
        return r;
}

/* ---- a small hand-made tar for the extraction cases ---- */

static void th(struct berth_buf *b, const char *name, char type, unsigned mode, const char *link,
               const char *data)
{
        char h[512] = {0};
        size_t len = data ? strlen(data) : 0;
        memcpy(h, name, strlen(name));
        snprintf(h + 100, 8, "%07o", mode);
        snprintf(h + 108, 8, "%07o", 1000);
        snprintf(h + 116, 8, "%07o", 1001);
        snprintf(h + 124, 12, "%011o", (unsigned)(len & 07777777));
        snprintf(h + 136, 12, "%011o", 1700000000);
        h[156] = type;
        if (link)
                memcpy(h + 157, link, strlen(link));
        memcpy(h + 257,
               "ustar\0"
               "00",
               8);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++)
                sum += (unsigned char)h[i];
        snprintf(h + 148, 8, "%06o", sum);
        buf_append(b, h, 512);
        if (len) {
                static const char zero[512];
                buf_append(b, data, len);
                if (len % 512)
                        buf_append(b, zero, 512 - len % 512);
        }
}

static void tend(struct berth_buf *b)
{
        static const char zero[1024];
        buf_append(b, zero, sizeof(zero));
}

static int open_dir(const char *p)
{
        int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        return fd;
}

/* ---- the writer ---- */

START_TEST(test_writer_names_as_docker)
{
        char *d = at(src, "etc");
        ck_assert_int_eq(mkdir(d, 0755), 0);
        put_file(d, "passwd", "root:x:0:0\n", 0644);
        put_file(d, "group", "root:x:0:\n", 0600);
        char *sub = at(d, "b");
        ck_assert_int_eq(mkdir(sub, 0700), 0);
        char *l = at(d, "mtab");
        ck_assert_int_eq(symlink("/proc/mounts", l), 0);
        int fd = open_dir(src);
        struct berth_buf t = BERTH_BUF_INIT;
        archive(fd, "etc", "etc", &t);
        char *got = list(&t);
        ck_assert_str_eq(got, "etc/ 5 755 0:0 0 \n"
                              "etc/b/ 5 700 0:0 0 \n"
                              "etc/group 0 600 0:0 10 \n"
                              "etc/mtab 2 777 0:0 0 /proc/mounts\n"
                              "etc/passwd 0 644 0:0 11 \n");
        char mf[9];
        first_mode_field(&t, mf);
        ck_assert_str_eq(mf, "0040755"); /* docker's type bits in the mode field */
        free(got);
        buf_reset(&t);
        /* "/" as docker names the container's root; "." for a path ending in "/." */
        int efd = open_dir(d);
        archive(efd, NULL, "/", &t);
        got = list(&t);
        ck_assert_str_eq(got, "/ 5 755 0:0 0 \n/b/ 5 700 0:0 0 \n/group 0 600 0:0 10 \n"
                              "/mtab 2 777 0:0 0 /proc/mounts\n/passwd 0 644 0:0 11 \n");
        free(got);
        buf_reset(&t);
        archive(efd, ".", ".", &t);
        got = list(&t);
        ck_assert_str_eq(got, "./ 5 755 0:0 0 \n./b/ 5 700 0:0 0 \n./group 0 600 0:0 10 \n"
                              "./mtab 2 777 0:0 0 /proc/mounts\n./passwd 0 644 0:0 11 \n");
        free(got);
        buf_reset(&t);
        /* export: no top entry */
        archive(efd, NULL, "", &t);
        got = list(&t);
        ck_assert_str_eq(got, "b/ 5 700 0:0 0 \ngroup 0 600 0:0 10 \n"
                              "mtab 2 777 0:0 0 /proc/mounts\npasswd 0 644 0:0 11 \n");
        free(got);
        buf_reset(&t);
        /* a file, renamed */
        archive(efd, "passwd", "pw", &t);
        got = list(&t);
        ck_assert_str_eq(got, "pw 0 644 0:0 11 \n");
        ck_assert_int_eq(t.len, 512 + 512 + 1024);
        free(got);
        buf_release(&t);
        close(fd);
        close(efd);
        free(d);
        free(sub);
        free(l);
}
END_TEST

START_TEST(test_writer_long_names_links_devices)
{
        int fd = open_dir(src);
        /* a name longer than ustar's 255 needs PAX; one of 150 fits prefix/name */
        char longname[301];
        memset(longname, 'n', 300);
        longname[300] = '\0';
        longname[80] = '/';
        char *d1 = xstrndup(longname, 80);
        ck_assert_int_eq(mkdirat(fd, d1, 0755), 0);
        char *lp = at(src, longname);
        ck_assert_int_eq(write_file_at(AT_FDCWD, lp, "x", 1, 0644), 0);
        char *a = at(src, "hl-a"), *b = at(src, "hl-b");
        ck_assert_int_eq(write_file_at(AT_FDCWD, a, "same", 4, 0644), 0);
        ck_assert_int_eq(link(a, b), 0);
        char *nul = at(src, "null"), *fifo = at(src, "fifo");
        ck_assert_int_eq(mknod(nul, S_IFCHR | 0666, makedev(1, 3)), 0);
        ck_assert_int_eq(chmod(nul, 0666), 0);
        ck_assert_int_eq(mkfifo(fifo, 0640), 0);
        struct berth_buf t = BERTH_BUF_INIT;
        archive(fd, NULL, "", &t);
        char *got = list(&t);
        char *want = xasprintf("fifo 6 640 0:0 0 \nhl-a 0 644 0:0 4 \nhl-b 1 644 0:0 0 hl-a\n"
                               "%s/ 5 755 0:0 0 \n%s 0 644 0:0 1 \nnull 3 666 0:0 0 \n",
                               d1, longname);
        ck_assert_str_eq(got, want);
        /* and it comes back the same through untar, hard link included */
        int dfd = open_dir(dst);
        struct berth_error *err = NULL;
        struct untar_opts o = {.dest_name = "/"};
        ck_assert_int_eq(extract(dfd, &o, &t, &err), 0);
        struct stat sa, sb;
        char *da = at(dst, "hl-a"), *db = at(dst, "hl-b");
        ck_assert_int_eq(stat(da, &sa), 0);
        ck_assert_int_eq(stat(db, &sb), 0);
        ck_assert_uint_eq(sa.st_ino, sb.st_ino);
        char *dn = at(dst, "null");
        ck_assert_int_eq(lstat(dn, &sa), 0);
        ck_assert(S_ISCHR(sa.st_mode) && sa.st_rdev == makedev(1, 3));
        char *dl = at(dst, longname);
        ck_assert_int_eq(access(dl, F_OK), 0);
        buf_release(&t);
        free(got);
        free(want);
        free(d1);
        free(lp);
        free(a);
        free(b);
        free(nul);
        free(fifo);
        free(da);
        free(db);
        free(dn);
        free(dl);
        close(fd);
        close(dfd);
}
END_TEST

START_TEST(test_writer_roundtrip_metadata)
{
        put_file(src, "suid", "#!/bin/sh\n", 04755);
        char *p = at(src, "suid");
        ck_assert_int_eq(chown(p, 1234, 5678), 0);
        ck_assert_int_eq(chmod(p, 04755), 0);
        static const char capv[] = {1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        bool caps = setxattr(p, "security.capability", capv, sizeof(capv), 0) == 0;
        struct timespec ts[2] = {{1600000000, 0}, {1600000000, 0}};
        ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
        int fd = open_dir(src);
        struct berth_buf t = BERTH_BUF_INIT;
        archive(fd, "suid", "suid", &t);
        int dfd = open_dir(dst);
        struct berth_error *err = NULL;
        struct untar_opts o = {.dest_name = "/x"};
        ck_assert_int_eq(extract(dfd, &o, &t, &err), 0);
        char *q = at(dst, "suid");
        struct stat st;
        ck_assert_int_eq(stat(q, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 04755);
        ck_assert_uint_eq(st.st_uid, 1234);
        ck_assert_uint_eq(st.st_gid, 5678);
        ck_assert_int_eq(st.st_mtim.tv_sec, 1600000000);
        if (caps) {
                char got[64];
                ck_assert_int_eq(getxattr(q, "security.capability", got, sizeof(got)),
                                 sizeof(capv));
        }
        /* keep_owner (a user's copy to the local disk): owners stay ours, modes as asked */
        rm_rf(dst);
        ck_assert_int_eq(mkdir(dst, 0755), 0);
        close(dfd);
        dfd = open_dir(dst);
        o.keep_owner = true;
        ck_assert_int_eq(extract(dfd, &o, &t, &err), 0);
        ck_assert_int_eq(lstat(q, &st), 0);
        ck_assert_uint_eq(st.st_uid, 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0755);
        /* chown (CopyUIDGID with a user): every entry owned by it */
        rm_rf(dst);
        ck_assert_int_eq(mkdir(dst, 0755), 0);
        close(dfd);
        dfd = open_dir(dst);
        o = (struct untar_opts){.dest_name = "/x", .chown = true, .uid = 42, .gid = 43};
        ck_assert_int_eq(extract(dfd, &o, &t, &err), 0);
        ck_assert_int_eq(lstat(q, &st), 0);
        ck_assert_uint_eq(st.st_uid, 42);
        ck_assert_uint_eq(st.st_gid, 43);
        buf_release(&t);
        free(p);
        free(q);
        close(fd);
        close(dfd);
}
END_TEST

/* A symlink in the tree, at the top or below it, is archived as a link: the
 * writer never reads what it points at (control: the link does point at the
 * victim, which a plain open through it reads). */
START_TEST(test_writer_never_follows_planted_links)
{
        char *victim = at(outside, "victim");
        char *l = at(src, "link");
        ck_assert_int_eq(symlink(victim, l), 0);
        char *dl = at(src, "dirlink");
        ck_assert_int_eq(symlink(outside, dl), 0);
        /* control */
        char *t = read_text(src, "link");
        ck_assert_str_eq(t, "keep");
        free(t);
        char *tt = read_text(src, "dirlink/victim");
        ck_assert_str_eq(tt, "keep");
        free(tt);
        int fd = open_dir(src);
        struct berth_buf out = BERTH_BUF_INIT;
        archive(fd, NULL, "", &out);
        char *got = list(&out);
        char *want = xasprintf("dirlink 2 777 0:0 0 %s\nlink 2 777 0:0 0 %s\n", outside, victim);
        ck_assert_str_eq(got, want);
        ck_assert_ptr_null(memmem(out.data, out.len, "keep", 4));
        free(got);
        free(want);
        buf_reset(&out);
        archive(fd, "dirlink", "dirlink", &out);
        got = list(&out);
        ck_assert_ptr_null(memmem(out.data, out.len, "keep", 4));
        ck_assert_ptr_nonnull(strstr(got, "dirlink 2 777"));
        free(got);
        buf_release(&out);
        free(victim);
        free(l);
        free(dl);
        close(fd);
}
END_TEST

/* ---- untar ---- */

START_TEST(test_untar_docker_rules)
{
        int fd = open_dir(dst);
        struct berth_error *err = NULL;
        struct berth_buf t = BERTH_BUF_INIT;
        /* "." is the destination, left alone; ".wh." names are plain files; a
         * leading "/" is dropped; missing parents are made */
        th(&t, "./", '5', 0700, NULL, NULL);
        th(&t, "./.wh.gone", '0', 0644, NULL, "w");
        th(&t, "/abs/f", '0', 0600, NULL, "abs");
        tend(&t);
        char *tmp_dir = at(dst, "tmp");
        ck_assert_int_eq(mkdir(tmp_dir, 0755), 0);
        free(tmp_dir);
        struct untar_opts o = {.prefix = "tmp", .dest_name = "/tmp"};
        ck_assert_int_eq(extract(fd, &o, &t, &err), 0);
        struct stat st;
        char *tmp = at(dst, "tmp");
        ck_assert_int_eq(stat(tmp, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0755);
        char *w = read_text(dst, "tmp/.wh.gone");
        ck_assert_str_eq(w, "w");
        char *a = read_text(dst, "tmp/abs/f");
        ck_assert_str_eq(a, "abs");
        char *f = at(dst, "tmp/abs/f");
        ck_assert_int_eq(stat(f, &st), 0);
        ck_assert_uint_eq(st.st_uid, 1000);
        ck_assert_uint_eq(st.st_gid, 1001);
        free(w);
        free(a);
        free(f);
        /* ".." climbing above the destination: docker's words */
        buf_reset(&t);
        th(&t, "../escape", '0', 0644, NULL, "x");
        tend(&t);
        ck_assert_int_lt(extract(fd, &o, &t, &err), 0);
        ck_assert_str_eq(berth_error_msg(err), "\"../escape\" is outside of \"/tmp\"");
        berth_error_free(err);
        err = NULL;
        char *esc = at(dst, "escape");
        ck_assert_int_lt(access(esc, F_OK), 0);
        free(esc);
        /* a relative symlink climbing above the destination */
        buf_reset(&t);
        th(&t, "up", '2', 0777, "../../etc", NULL);
        tend(&t);
        ck_assert_int_lt(extract(fd, &o, &t, &err), 0);
        ck_assert_str_eq(berth_error_msg(err), "invalid symlink \"/tmp/up\" -> \"../../etc\"");
        berth_error_free(err);
        err = NULL;
        /* noOverwriteDirNonDir both ways */
        char *d_dir = at(dst, "tmp/d");
        ck_assert_int_eq(mkdir(d_dir, 0755), 0);
        free(d_dir);
        put_file(dst, "tmp/f", "f", 0644);
        o.no_overwrite_dir_nondir = true;
        buf_reset(&t);
        th(&t, "d", '0', 0644, NULL, "file");
        tend(&t);
        ck_assert_int_lt(extract(fd, &o, &t, &err), 0);
        ck_assert_str_eq(berth_error_msg(err),
                         "cannot overwrite directory \"/tmp/d\" with non-directory \"/tmp\"");
        berth_error_free(err);
        err = NULL;
        buf_reset(&t);
        th(&t, "f", '5', 0755, NULL, NULL);
        tend(&t);
        ck_assert_int_lt(extract(fd, &o, &t, &err), 0);
        ck_assert_str_eq(berth_error_msg(err),
                         "cannot overwrite non-directory \"/tmp/f\" with directory \"/tmp\"");
        berth_error_free(err);
        err = NULL;
        /* without it, replaced as docker replaces */
        o.no_overwrite_dir_nondir = false;
        ck_assert_int_eq(extract(fd, &o, &t, &err), 0);
        char *ff = at(dst, "tmp/f");
        ck_assert_int_eq(stat(ff, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        free(ff);
        /* rebase: the first occurrence of the old base in every name */
        buf_reset(&t);
        th(&t, "src/", '5', 0755, NULL, NULL);
        th(&t, "src/x", '0', 0644, NULL, "x");
        th(&t, "src/y", '1', 0644, "src/x", NULL);
        tend(&t);
        o.rebase_old = "src";
        o.rebase_new = "renamed";
        ck_assert_int_eq(extract(fd, &o, &t, &err), 0);
        char *rx = read_text(dst, "tmp/renamed/y");
        ck_assert_str_eq(rx, "x");
        free(rx);
        buf_release(&t);
        free(tmp);
        close(fd);
}
END_TEST

/* Extracting into a tree where symlinks were planted (as a container plants
 * them): every entry stays below the root.  Control: the planted links do lead
 * to the victim's directory by a plain path walk. */
START_TEST(test_untar_planted_symlinks_stay_inside)
{
        char *l1 = at(dst, "abs"), *l2 = at(dst, "rel"), *l3 = at(dst, "dest");
        ck_assert_int_eq(symlink(outside, l1), 0);
        char *rel = xasprintf("../../../../../../../../..%s", outside);
        ck_assert_int_eq(symlink(rel, l2), 0);
        ck_assert_int_eq(symlink(outside, l3), 0); /* the destination itself */
        /* control: a plain walk through each link reaches the victim */
        char *c1 = read_text(dst, "abs/victim"), *c2 = read_text(dst, "rel/victim"),
             *c3 = read_text(dst, "dest/victim");
        ck_assert_str_eq(c1, "keep");
        ck_assert_str_eq(c2, "keep");
        ck_assert_str_eq(c3, "keep");
        free(c1);
        free(c2);
        free(c3);
        /* inside the root, the links lead to this copy of the outside path */
        char *mirror = xasprintf("%s%s", dst, outside);
        ck_assert_int_eq(mkdir_p(mirror, 0755), 0);
        int fd = open_dir(dst);
        struct berth_error *err = NULL;
        struct berth_buf t = BERTH_BUF_INIT;
        th(&t, "abs/victim", '0', 0644, NULL, "pwned");
        th(&t, "rel/new", '0', 0644, NULL, "pwned");
        th(&t, "link", '1', 0644, "abs/victim", NULL);
        tend(&t);
        struct untar_opts o = {.dest_name = "/"};
        int r = extract(fd, &o, &t, &err);
        ck_assert_msg(r == 0, "%s", err ? berth_error_msg(err) : "");
        ck_assert(victim_intact());
        /* the same through a destination that is itself a planted link */
        struct untar_opts o2 = {.prefix = "dest", .dest_name = "/dest"};
        buf_reset(&t);
        th(&t, "victim", '0', 0644, NULL, "pwned");
        th(&t, "new", '0', 0644, NULL, "pwned");
        tend(&t);
        r = extract(fd, &o2, &t, &err);
        ck_assert_msg(r == 0, "%s", err ? berth_error_msg(err) : "");
        ck_assert(victim_intact());
        /* where they went: the copy of the outside path inside the root */
        char *in = read_text(mirror, "victim"), *in2 = read_text(mirror, "new");
        ck_assert_str_eq(in, "pwned");
        ck_assert_str_eq(in2, "pwned");
        free(in);
        free(in2);
        free(mirror);
        buf_release(&t);
        free(l1);
        free(l2);
        free(l3);
        free(rel);
        close(fd);
}
END_TEST

/* A stream that ends right after the last member's data (no padding, no end blocks), as
 * docker's CLI sends a build context with `-f -`: refused unless unpadded_end (a build
 * context's untar, clamp); a cut inside the data is refused either way. */
START_TEST(test_unpadded_end)
{
        static const struct tar_ops ops = {list_entry, list_data, list_end};
        struct berth_buf b = BERTH_BUF_INIT;
        th(&b, "a", '0', 0644, NULL, "0123456789");
        size_t whole = 512 + 10; /* header and data, no padding */
        for (int lenient = 0; lenient < 2; lenient++) {
                for (int cut = 0; cut < 2; cut++) {
                        struct listing l = {BERTH_BUF_INIT};
                        struct tar_limits lim = {4096, 1000000, UINT64_MAX, lenient};
                        struct tar_reader *r = tar_reader_new(&ops, &l, &lim);
                        struct berth_error *err = NULL;
                        ck_assert_int_eq(tar_reader_feed(r, b.data, whole - cut * 3, &err), 0);
                        int rc = tar_reader_finish(r, &err);
                        if (lenient && !cut)
                                ck_assert_int_eq(rc, 0);
                        else
                                ck_assert_str_eq(berth_error_msg(err),
                                                 "tar: unexpected end of tar data");
                        berth_error_free(err);
                        tar_reader_free(r);
                        buf_release(&l.text);
                }
        }
        /* the untar of a build context (clamp) takes it whole */
        int fd = open_dir(dst);
        struct berth_buf cut = BERTH_BUF_INIT;
        buf_append(&cut, b.data, whole);
        struct berth_error *err = NULL;
        struct untar_opts o = {.clamp = true, .keep_owner = true, .dest_name = "ctx"};
        ck_assert_int_eq(extract(fd, &o, &cut, &err), 0);
        char *text = NULL;
        ck_assert_int_eq(read_file_at(fd, "a", 100, &text, NULL), 0);
        ck_assert_str_eq(text, "0123456789");
        free(text);
        o.clamp = false;
        ck_assert_int_lt(extract(fd, &o, &cut, &err), 0);
        berth_error_free(err);
        buf_release(&cut);
        buf_release(&b);
        close(fd);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("untar");
        TCase *tc = tcase_create("untar");
        tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_writer_names_as_docker);
        tcase_add_test(tc, test_writer_long_names_links_devices);
        tcase_add_test(tc, test_writer_roundtrip_metadata);
        tcase_add_test(tc, test_writer_never_follows_planted_links);
        tcase_add_test(tc, test_untar_docker_rules);
        tcase_add_test(tc, test_untar_planted_symlinks_stay_inside);
        tcase_add_test(tc, test_unpadded_end);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
