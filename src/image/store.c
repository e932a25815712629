/*
 * store.c — the content store (see store.h for the contract).
 *
 * Layout: <root>/blobs/sha256/<hex> for verified blobs, <root>/tmp/ingest-<rand>
 * for blobs being written.  Both live on one filesystem so commit is a rename.
 * The in-flight table (digests being ingested) is a short list under one mutex
 * with a condition variable; begin() of a digest already in the table waits on
 * it, so a blob is fetched once however many pulls want it.
 *
 * Durability: fsync(temp) → renameat → fsync(blobs dir).  A crash before the
 * rename leaves only a temp file, which blob_store_open() deletes.
 *
 * Never: rename an unverified file into blobs/, or keep a temp file after an
 * error (a full disk must not stay full because of us).
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "image/store.h"

struct inflight {
        char *digest;
        struct inflight *next;
};

struct blob_store {
        char *root;
        int blobs_fd; /* <root>/blobs/sha256 */
        int tmp_fd;   /* <root>/tmp */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct inflight *inflight;
};

struct blob_ingest {
        struct blob_store *store;
        char *digest;  /* expected; NULL when unknown */
        bool reserved; /* digest is in the in-flight table */
        int64_t size;
        uint64_t written;
        int fd;
        char tmpname[40];
        EVP_MD_CTX *md;
        int failed; /* a write failed: commit refuses */
};

void blob_sha256_hex(const unsigned char md[32], char out[65])
{
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 32; i++) {
                out[2 * i] = hex[md[i] >> 4];
                out[2 * i + 1] = hex[md[i] & 15];
        }
        out[64] = '\0';
}

int blob_digest_check(const char *digest, struct berth_error **err)
{
        if (!digest || strncmp(digest, "sha256:", 7) != 0)
                return berth_error_set(err, EINVAL, "digest '%s': unsupported digest algorithm",
                                       digest ? digest : "");
        const char *h = digest + 7;
        size_t n = 0;
        for (; h[n]; n++)
                if (!((h[n] >= '0' && h[n] <= '9') || (h[n] >= 'a' && h[n] <= 'f')))
                        return berth_error_set(
                            err, EINVAL, "digest '%s': invalid checksum digest format", digest);
        if (n != 64)
                return berth_error_set(err, EINVAL, "digest '%s': invalid checksum digest length",
                                       digest);
        return 0;
}

static void cleanup_temps(int tmp_fd)
{
        int fd = dup(tmp_fd);
        if (fd < 0)
                return;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, "ingest-", 7) == 0)
                        (void)unlinkat(tmp_fd, de->d_name, 0);
        closedir(d);
}

int blob_store_open(const char *data_root, struct blob_store **ret, struct berth_error **err)
{
        _cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", data_root);
        _cleanup_free_ char *tmp = xasprintf("%s/tmp", data_root);
        int r = mkdir_p(blobs, 0700);
        if (r < 0)
                return berth_error_sys(err, r, "content store '%s': create blobs directory",
                                       data_root);
        r = mkdir_p(tmp, 0700);
        if (r < 0)
                return berth_error_sys(err, r, "content store '%s': create tmp directory",
                                       data_root);
        _cleanup_close_ int bfd = open(blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (bfd < 0)
                return berth_error_sys(err, errno, "content store '%s': open blobs directory",
                                       data_root);
        _cleanup_close_ int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0)
                return berth_error_sys(err, errno, "content store '%s': open tmp directory",
                                       data_root);
        cleanup_temps(tfd);
        struct blob_store *s = xcalloc(1, sizeof(*s));
        s->root = xstrdup(data_root);
        s->blobs_fd = TAKE_FD(bfd);
        s->tmp_fd = TAKE_FD(tfd);
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        *ret = s;
        return 0;
}

void blob_store_free(struct blob_store *s)
{
        if (!s)
                return;
        /* Callers finish or abort their ingests first; the table is empty here. */
        while (s->inflight) {
                struct inflight *n = s->inflight->next;
                free(s->inflight->digest);
                free(s->inflight);
                s->inflight = n;
        }
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        close(s->blobs_fd);
        close(s->tmp_fd);
        free(s->root);
        free(s);
}

const char *blob_store_root(struct blob_store *s)
{
        return s->root;
}

char *blob_store_path(struct blob_store *s, const char *digest)
{
        const char *hex = strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
        return xasprintf("%s/blobs/sha256/%s", s->root, hex);
}

bool blob_store_exists(struct blob_store *s, const char *digest)
{
        struct stat st;
        if (blob_digest_check(digest, NULL) < 0)
                return false;
        return fstatat(s->blobs_fd, digest + 7, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISREG(st.st_mode);
}

int blob_store_open_blob(struct blob_store *s, const char *digest, int *ret_fd,
                         struct berth_error **err)
{
        int r = blob_digest_check(digest, err);
        if (r < 0)
                return r;
        int fd = openat(s->blobs_fd, digest + 7, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return berth_error_set(err, ENOENT, "blob %s: not found", digest);
                return berth_error_sys(err, errno, "blob %s: open", digest);
        }
        *ret_fd = fd;
        return 0;
}

int blob_store_size(struct blob_store *s, const char *digest, uint64_t *ret,
                    struct berth_error **err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = blob_store_open_blob(s, digest, &fd, err);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_sys(err, errno, "blob %s: stat", digest);
        *ret = (uint64_t)st.st_size;
        return 0;
}

int blob_store_read(struct blob_store *s, const char *digest, size_t max, char **ret,
                    size_t *ret_len, struct berth_error **err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = blob_store_open_blob(s, digest, &fd, err);
        if (r < 0)
                return r;
        r = read_full_fd(fd, max, ret, ret_len);
        if (r == -EFBIG)
                return berth_error_set(err, EFBIG, "blob %s: larger than %zu bytes", digest, max);
        if (r < 0)
                return berth_error_sys(err, r, "blob %s: read", digest);
        return 0;
}

int blob_store_verify(struct blob_store *s, const char *digest, struct berth_error **err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = blob_store_open_blob(s, digest, &fd, err);
        if (r < 0)
                return r;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                berth_oom();
        char buf[64 * 1024];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = berth_error_sys(err, errno, "blob %s: read", digest);
                        EVP_MD_CTX_free(md);
                        return r;
                }
                EVP_DigestUpdate(md, buf, (size_t)n);
        }
        unsigned char out[32];
        unsigned int len = 0;
        EVP_DigestFinal_ex(md, out, &len);
        EVP_MD_CTX_free(md);
        char got[72] = "sha256:";
        blob_sha256_hex(out, got + 7);
        if (strcmp(got, digest) != 0)
                return berth_error_set(err, EBADMSG,
                                       "blob %s: content does not match its digest (got %s)",
                                       digest, got);
        return 0;
}

int blob_store_delete(struct blob_store *s, const char *digest, struct berth_error **err)
{
        int r = blob_digest_check(digest, err);
        if (r < 0)
                return r;
        if (unlinkat(s->blobs_fd, digest + 7, 0) < 0 && errno != ENOENT)
                return berth_error_sys(err, errno, "blob %s: delete", digest);
        return 0;
}

static bool inflight_has(struct blob_store *s, const char *digest)
{
        for (struct inflight *i = s->inflight; i; i = i->next)
                if (strcmp(i->digest, digest) == 0)
                        return true;
        return false;
}

static void inflight_release(struct blob_store *s, const char *digest)
{
        pthread_mutex_lock(&s->lock);
        for (struct inflight **p = &s->inflight; *p; p = &(*p)->next) {
                if (strcmp((*p)->digest, digest) == 0) {
                        struct inflight *dead = *p;
                        *p = dead->next;
                        free(dead->digest);
                        free(dead);
                        break;
                }
        }
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

int blob_store_ingest_begin(struct blob_store *s, const char *digest, int64_t size,
                            struct blob_ingest **ret, struct berth_error **err)
{
        *ret = NULL;
        if (digest) {
                int r = blob_digest_check(digest, err);
                if (r < 0)
                        return r;
                pthread_mutex_lock(&s->lock);
                for (;;) {
                        if (blob_store_exists(s, digest)) {
                                pthread_mutex_unlock(&s->lock);
                                return 1;
                        }
                        if (!inflight_has(s, digest))
                                break;
                        pthread_cond_wait(&s->cond, &s->lock);
                }
                struct inflight *i = xmalloc(sizeof(*i));
                i->digest = xstrdup(digest);
                i->next = s->inflight;
                s->inflight = i;
                pthread_mutex_unlock(&s->lock);
        }

        struct blob_ingest *in = xcalloc(1, sizeof(*in));
        in->store = s;
        in->digest = digest ? xstrdup(digest) : NULL;
        in->reserved = digest != NULL;
        in->size = size;
        in->fd = -EBADF;
        unsigned char rnd[12];
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
                blob_ingest_abort(in);
                return berth_error_sys(err, errno, "blob ingest: random name");
        }
        char *p = stpcpy(in->tmpname, "ingest-");
        for (size_t k = 0; k < sizeof(rnd); k++)
                p += sprintf(p, "%02x", rnd[k]);
        in->fd = openat(s->tmp_fd, in->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (in->fd < 0) {
                int e = errno;
                in->tmpname[0] = '\0';
                blob_ingest_abort(in);
                return berth_error_sys(err, e, "blob %s: create temp file",
                                       digest ? digest : "(new)");
        }
        in->md = EVP_MD_CTX_new();
        if (!in->md || EVP_DigestInit_ex(in->md, EVP_sha256(), NULL) != 1)
                berth_oom();
        *ret = in;
        return 0;
}

static const char *ingest_name(const struct blob_ingest *in)
{
        return in->digest ? in->digest : "(new)";
}

/* Drop the temp file now: on ENOSPC the space must come back at once. */
static void ingest_drop_temp(struct blob_ingest *in)
{
        if (in->tmpname[0]) {
                (void)unlinkat(in->store->tmp_fd, in->tmpname, 0);
                in->tmpname[0] = '\0';
        }
}

int blob_ingest_write(struct blob_ingest *in, const void *buf, size_t len, struct berth_error **err)
{
        if (in->failed)
                return berth_error_set(err, in->failed, "blob %s: ingest already failed",
                                       ingest_name(in));
        if (in->size >= 0 && in->written + len > (uint64_t)in->size) {
                in->failed = EFBIG;
                ingest_drop_temp(in);
                return berth_error_set(
                    err, EFBIG, "blob %s: size mismatch (more than the expected %" PRId64 " bytes)",
                    ingest_name(in), in->size);
        }
        int r = write_all(in->fd, buf, len);
        if (r < 0) {
                in->failed = -r;
                ingest_drop_temp(in);
                return berth_error_sys(err, r, "blob %s: write", ingest_name(in));
        }
        EVP_DigestUpdate(in->md, buf, len);
        in->written += len;
        return 0;
}

uint64_t blob_ingest_offset(const struct blob_ingest *in)
{
        return in->written;
}

void blob_ingest_abort(struct blob_ingest *in)
{
        if (!in)
                return;
        ingest_drop_temp(in);
        if (in->fd >= 0)
                close(in->fd);
        if (in->reserved)
                inflight_release(in->store, in->digest);
        EVP_MD_CTX_free(in->md);
        free(in->digest);
        free(in);
}

static int ingest_finish(struct blob_ingest *in, char **ret_digest, struct berth_error **err)
{
        struct blob_store *s = in->store;
        if (in->failed)
                return berth_error_set(err, in->failed, "blob %s: ingest failed", ingest_name(in));
        if (in->size >= 0 && in->written != (uint64_t)in->size)
                return berth_error_set(err, EIO,
                                       "blob %s: size mismatch (expected %" PRId64
                                       " bytes, got %" PRIu64 ")",
                                       ingest_name(in), in->size, in->written);
        unsigned char md[32];
        unsigned int mdlen = 0;
        EVP_DigestFinal_ex(in->md, md, &mdlen);
        char got[72] = "sha256:";
        blob_sha256_hex(md, got + 7);
        if (in->digest && strcmp(in->digest, got) != 0)
                return berth_error_set(err, EIO, "blob %s: digest mismatch (got %s)", in->digest,
                                       got);
        if (fsync(in->fd) < 0)
                return berth_error_sys(err, errno, "blob %s: fsync", got);
        if (close(in->fd) < 0) {
                in->fd = -EBADF;
                return berth_error_sys(err, errno, "blob %s: close", got);
        }
        in->fd = -EBADF;
        if (renameat(s->tmp_fd, in->tmpname, s->blobs_fd, got + 7) < 0)
                return berth_error_sys(err, errno, "blob %s: rename into the store", got);
        in->tmpname[0] = '\0';
        if (fsync(s->blobs_fd) < 0)
                return berth_error_sys(err, errno, "blob %s: fsync blobs directory", got);
        if (ret_digest)
                *ret_digest = xstrdup(got);
        return 0;
}

int blob_ingest_commit(struct blob_ingest *in, char **ret_digest, struct berth_error **err)
{
        int r = ingest_finish(in, ret_digest, err);
        blob_ingest_abort(in); /* temp is gone on success (renamed); frees and wakes waiters */
        return r;
}

int blob_store_put(struct blob_store *s, const char *digest, const void *buf, size_t len,
                   char **ret_digest, struct berth_error **err)
{
        struct blob_ingest *in = NULL;
        int r = blob_store_ingest_begin(s, digest, (int64_t)len, &in, err);
        if (r < 0)
                return r;
        if (r == 1) {
                if (ret_digest)
                        *ret_digest = xstrdup(digest);
                return 0;
        }
        r = blob_ingest_write(in, buf, len, err);
        if (r < 0) {
                blob_ingest_abort(in);
                return r;
        }
        return blob_ingest_commit(in, ret_digest, err);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int blob_store_list(struct blob_store *s, char ***ret, struct berth_error **err)
{
        int fd = openat(s->blobs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_sys(err, errno, "content store '%s': list", s->root);
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                close(fd);
                return berth_error_sys(err, e, "content store '%s': list", s->root);
        }
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                _cleanup_free_ char *dg = xasprintf("sha256:%s", de->d_name);
                if (blob_digest_check(dg, NULL) < 0)
                        continue;
                v = xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = TAKE_PTR(dg);
                v[n] = NULL;
        }
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = v;
        return 0;
}
