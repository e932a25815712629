/*
 * layer.c — streaming layer apply (see layer.h for the contract).
 *
 * Pipeline per pushed chunk, on two threads: the caller's thread hashes the
 * compressed bytes, decompresses them (image/decompress.h: gzip with isa-l
 * igzip or zlib, zstd, bzip2, xz, or none) into one of four 512 KiB pool
 * buffers and checks the uncompressed-bytes limit; an extraction thread per
 * layer takes the filled buffers in order, hashes them (diff_id) and feeds
 * tar.c, whose callbacks create the entries.  So inflating and writing files
 * overlap on two cores.  File contents go from the pool buffer straight to
 * write(2) (a small file split between two buffers is collected first).  The
 * extraction thread's error is reported by the next write() or by finish();
 * abort() stops the thread before anything is freed.
 *
 * The entries themselves are written by layer-unpack.c (path confinement,
 * metadata, whiteouts); this file owns the stream, the digests, the
 * directory's life (<chain-id>.tmp → syncfs → rename) and the in-flight table
 * that makes concurrent applies of one layer unpack it once.  No fsync per
 * file: one syncfs() on the layer at the end, then the rename.
 *
 * Never: resolve an archive path with a plain open(), or rename a layer into
 * place before every check passed.
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
#include "image/decompress.h"
#include "image/layer-unpack.h"
#include "image/layer.h"
#include "image/store.h"
#include "image/tar.h"

#define OUTBUF_SIZE         (512 * 1024)
#define NBUF                4
#define DEFAULT_MAX_BYTES   (64ULL << 30)
#define DEFAULT_MAX_ENTRIES 4000000ULL
#define DEFAULT_MAX_PATH    4096

struct layer_apply {
        char *data_root;
        int layers_fd;
        char tmpname[96];
        int root_fd;
        char *reserved; /* chain id held in the in-flight table */
        char *parent, *expected_digest, *expected_diff_id;
        struct layer_limits lim;
        EVP_MD_CTX *md_comp, *md_diff;
        uint64_t comp_size, size;
        enum layer_compression comp;
        bool no_digest;
        struct decompressor *dc; /* decodes into the pool buffer la->out */
        bool sink_failed;        /* the last error is the unpacking's, not the decoder's */
        unsigned char *out;      /* the buffer the decompressor fills now (one of pool[]) */
        int out_idx;
        struct tar_reader *tar;
        /* the pipeline: the caller's thread decompresses into pool buffers, the
         * extraction thread hashes them (diff_id) and unpacks them */
        pthread_t thread;
        bool thread_running;
        pthread_mutex_t mu;
        pthread_cond_t cv_full, cv_free;
        unsigned char *pool[NBUF];
        int full_idx[NBUF];
        size_t full_len[NBUF];
        size_t full_head, full_count;
        int free_idx[NBUF];
        size_t n_free;
        bool eof, cancel, failed;
        int thread_ret;
        struct berth_error *thread_err;
        struct layer_unpack u; /* used by the extraction thread only */
};

/* In-flight chain ids of this process: one apply per layer at a time. */
static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cond = PTHREAD_COND_INITIALIZER;
static char **inflight;
static size_t n_inflight;

static bool inflight_has(const char *id)
{
        for (size_t i = 0; i < n_inflight; i++)
                if (strcmp(inflight[i], id) == 0)
                        return true;
        return false;
}

static void inflight_release(const char *id)
{
        pthread_mutex_lock(&inflight_lock);
        for (size_t i = 0; i < n_inflight; i++) {
                if (strcmp(inflight[i], id) == 0) {
                        free(inflight[i]);
                        inflight[i] = inflight[--n_inflight];
                        break;
                }
        }
        if (n_inflight == 0) {
                free(inflight);
                inflight = NULL;
        }
        pthread_cond_broadcast(&inflight_cond);
        pthread_mutex_unlock(&inflight_lock);
}

const char *layer_compression_name(enum layer_compression c)
{
        switch (c) {
        case LAYER_GZIP:
                return "gzip";
        case LAYER_ZSTD:
                return "zstd";
        case LAYER_BZIP2:
                return "bzip2";
        case LAYER_XZ:
                return "xz";
        case LAYER_PLAIN:
                break;
        }
        return "none";
}

static void digest_final(EVP_MD_CTX *md, char out[72])
{
        unsigned char d[32];
        unsigned int n = 0;
        EVP_DigestFinal_ex(md, d, &n);
        memcpy(out, "sha256:", 7);
        blob_sha256_hex(d, out + 7);
}

void layer_chain_id(const char *parent, const char *diff_id, char out[72])
{
        if (!parent) {
                snprintf(out, 72, "%s", diff_id);
                return;
        }
        _cleanup_free_ char *s = xasprintf("%s %s", parent, diff_id);
        unsigned char d[32];
        unsigned int n = 0;
        EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
        memcpy(out, "sha256:", 7);
        blob_sha256_hex(d, out + 7);
}

char *layer_path(const char *data_root, const char *chain_id)
{
        const char *hex = strncmp(chain_id, "sha256:", 7) == 0 ? chain_id + 7 : chain_id;
        return xasprintf("%s/layers/%s", data_root, hex);
}

bool layer_exists(const char *data_root, const char *chain_id)
{
        if (blob_digest_check(chain_id, NULL) < 0)
                return false;
        _cleanup_free_ char *p = layer_path(data_root, chain_id);
        struct stat st;
        return lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int layer_delete(const char *data_root, const char *chain_id, struct berth_error **err)
{
        int r = blob_digest_check(chain_id, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *p = layer_path(data_root, chain_id);
        /* Rename first so a crash mid-removal leaves a *.tmp that start-up cleans. */
        _cleanup_free_ char *doomed = xasprintf("%s.deleting.tmp", p);
        if (rename(p, doomed) < 0) {
                if (errno == ENOENT)
                        return 0;
                return berth_error_sys(err, errno, "layer %s: remove", chain_id);
        }
        r = rm_rf(doomed);
        if (r < 0)
                return berth_error_sys(err, r, "layer %s: remove", chain_id);
        return 0;
}

int layer_store_cleanup(const char *data_root, struct berth_error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/layers", data_root);
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return berth_error_sys(err, errno, "layer store '%s': open", dir);
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0) {
                        _cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
                        int r = rm_rf(p);
                        if (r < 0)
                                return berth_error_sys(err, r, "layer store: remove '%s'", p);
                }
        }
        return 0;
}

/* ---- the stream ---------------------------------------------------------- */

/* Extraction thread: hash each buffer into the diff_id and unpack it.  After a
 * failure it keeps recycling buffers (so the producer never blocks) until told
 * to stop; the error waits in thread_err for the producer to report. */
static void *extract_thread(void *arg)
{
        struct layer_apply *la = arg;
        bool failed = false;
        layer_unpack_thread_init(&la->u); /* umask 0 for this thread only */
        for (;;) {
                pthread_mutex_lock(&la->mu);
                while (la->full_count == 0 && !la->eof)
                        pthread_cond_wait(&la->cv_full, &la->mu);
                if (la->cancel || la->full_count == 0) {
                        pthread_mutex_unlock(&la->mu);
                        return NULL;
                }
                int idx = la->full_idx[la->full_head];
                size_t len = la->full_len[la->full_head];
                la->full_head = (la->full_head + 1) % NBUF;
                la->full_count--;
                bool hash = la->comp != LAYER_PLAIN || la->no_digest;
                pthread_mutex_unlock(&la->mu);
                if (!failed) {
                        if (hash)
                                EVP_DigestUpdate(la->md_diff, la->pool[idx], len);
                        struct berth_error *e = NULL;
                        int r = tar_reader_feed(la->tar, la->pool[idx], len, &e);
                        if (r < 0) {
                                failed = true;
                                pthread_mutex_lock(&la->mu);
                                la->thread_ret = r;
                                la->thread_err = e;
                                la->failed = true;
                                pthread_mutex_unlock(&la->mu);
                        }
                }
                pthread_mutex_lock(&la->mu);
                la->free_idx[la->n_free++] = idx;
                pthread_cond_signal(&la->cv_free);
                pthread_mutex_unlock(&la->mu);
        }
}

/* Hands the extraction thread's error to the caller (once; later calls get
 * the code with a short message). */
static int take_thread_error(struct layer_apply *la, struct berth_error **err)
{
        int r = la->thread_ret;
        struct berth_error *e = TAKE_PTR(la->thread_err);
        if (err && !*err && e) {
                *err = e;
                return r;
        }
        berth_error_free(e);
        return berth_error_set(err, -r, "layer: extraction failed");
}

/* Queue la->out (n bytes) and take a free buffer for the decompressor. */
static int submit(struct layer_apply *la, size_t n, struct berth_error **err)
{
        pthread_mutex_lock(&la->mu);
        if (la->failed) {
                pthread_mutex_unlock(&la->mu);
                return take_thread_error(la, err);
        }
        size_t tail = (la->full_head + la->full_count) % NBUF;
        la->full_idx[tail] = la->out_idx;
        la->full_len[tail] = n;
        la->full_count++;
        pthread_cond_signal(&la->cv_full);
        while (la->n_free == 0)
                pthread_cond_wait(&la->cv_free, &la->mu);
        la->out_idx = la->free_idx[--la->n_free];
        la->out = la->pool[la->out_idx];
        pthread_mutex_unlock(&la->mu);
        return 0;
}

/* Stops the extraction thread: after the last buffer (finish) or at once (abort). */
static void stop_thread(struct layer_apply *la, bool cancel)
{
        if (!la->thread_running)
                return;
        pthread_mutex_lock(&la->mu);
        la->eof = true;
        la->cancel = cancel;
        pthread_cond_signal(&la->cv_full);
        pthread_mutex_unlock(&la->mu);
        pthread_join(la->thread, NULL);
        la->thread_running = false;
}

static int feed_tar(struct layer_apply *la, const unsigned char *p, size_t n,
                    struct berth_error **err)
{
        if (n == 0)
                return 0;
        la->size += n;
        if (la->size > la->lim.max_bytes)
                return berth_error_set(
                    err, EFBIG, "layer: uncompressed size exceeds the limit of %" PRIu64 " bytes",
                    la->lim.max_bytes);
        if (p == la->out)
                return submit(la, n, err);
        /* plain tar: the caller's bytes are copied into the pool */
        while (n > 0) {
                size_t k = n < OUTBUF_SIZE ? n : OUTBUF_SIZE;
                memcpy(la->out, p, k);
                int r = submit(la, k, err);
                if (r < 0)
                        return r;
                p += k;
                n -= k;
        }
        return 0;
}

static enum layer_compression compression_of(enum decomp_format f)
{
        switch (f) {
        case DECOMP_GZIP:
                return LAYER_GZIP;
        case DECOMP_ZSTD:
                return LAYER_ZSTD;
        case DECOMP_BZIP2:
                return LAYER_BZIP2;
        case DECOMP_XZ:
                return LAYER_XZ;
        case DECOMP_PLAIN:
                break;
        }
        return LAYER_PLAIN;
}

/* The decoder's sink: a filled pool buffer goes to the extraction thread and
 * the decoder gets the next free one; plain input is copied into the pool. */
static int decoded(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        struct layer_apply *la = userdata;
        la->comp = compression_of(decomp_format(la->dc)); /* before the first submit */
        bool filled = buf == la->out;
        int r = feed_tar(la, buf, n, err);
        if (r < 0) {
                la->sink_failed = true;
                return r;
        }
        if (filled)
                decomp_set_buffer(la->dc, la->out, OUTBUF_SIZE);
        return 0;
}

int layer_apply_write(struct layer_apply *la, const void *buf, size_t len, struct berth_error **err)
{
        const unsigned char *p = buf;
        if (!la->no_digest)
                EVP_DigestUpdate(la->md_comp, p, len);
        la->comp_size += len;
        int r = decomp_write(la->dc, p, len, err);
        if (r < 0 && !la->sink_failed)
                berth_error_prefix(err, "layer");
        return r;
}

int layer_apply_begin(const char *data_root, const struct layer_apply_opts *opts,
                      struct layer_apply **ret, struct berth_error **err)
{
        *ret = NULL;
        int r;
        if (opts->parent_chain_id && (r = blob_digest_check(opts->parent_chain_id, err)) < 0)
                return berth_error_prefix(err, "layer parent");
        if (opts->expected_digest && (r = blob_digest_check(opts->expected_digest, err)) < 0)
                return r;
        if (opts->expected_digest && opts->no_digest)
                return berth_error_set(err, EINVAL, "layer: an expected digest needs the digest");
        char chain[72] = "";
        if (opts->expected_diff_id) {
                if ((r = blob_digest_check(opts->expected_diff_id, err)) < 0)
                        return r;
                layer_chain_id(opts->parent_chain_id, opts->expected_diff_id, chain);
                pthread_mutex_lock(&inflight_lock);
                for (;;) {
                        if (layer_exists(data_root, chain)) {
                                pthread_mutex_unlock(&inflight_lock);
                                return 1;
                        }
                        if (!inflight_has(chain))
                                break;
                        pthread_cond_wait(&inflight_cond, &inflight_lock);
                }
                inflight = xrealloc(inflight, (n_inflight + 1) * sizeof(*inflight));
                inflight[n_inflight++] = xstrdup(chain);
                pthread_mutex_unlock(&inflight_lock);
        }

        struct layer_apply *la = xcalloc(1, sizeof(*la));
        la->root_fd = la->layers_fd = -EBADF;
        layer_unpack_init(&la->u, -EBADF, 0);
        pthread_mutex_init(&la->mu, NULL);
        pthread_cond_init(&la->cv_full, NULL);
        pthread_cond_init(&la->cv_free, NULL);
        la->reserved = *chain ? xstrdup(chain) : NULL;
        la->data_root = xstrdup(data_root);
        la->parent = opts->parent_chain_id ? xstrdup(opts->parent_chain_id) : NULL;
        la->expected_digest = opts->expected_digest ? xstrdup(opts->expected_digest) : NULL;
        la->expected_diff_id = opts->expected_diff_id ? xstrdup(opts->expected_diff_id) : NULL;
        la->lim = opts->limits;
        la->no_digest = opts->no_digest;
        if (!la->lim.max_bytes)
                la->lim.max_bytes = DEFAULT_MAX_BYTES;
        if (!la->lim.max_entries)
                la->lim.max_entries = DEFAULT_MAX_ENTRIES;
        if (!la->lim.max_path)
                la->lim.max_path = DEFAULT_MAX_PATH;

        _cleanup_free_ char *layers = xasprintf("%s/layers", data_root);
        r = mkdir_p(layers, 0700);
        if (r < 0) {
                layer_apply_abort(la);
                return berth_error_sys(err, r, "layer store '%s': create", layers);
        }
        la->layers_fd = open(layers, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (la->layers_fd < 0) {
                layer_apply_abort(la);
                return berth_error_sys(err, errno, "layer store '%s': open", layers);
        }
        if (*chain) {
                snprintf(la->tmpname, sizeof(la->tmpname), "%s.tmp", chain + 7);
        } else {
                unsigned char rnd[12];
                if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
                        layer_apply_abort(la);
                        return berth_error_sys(err, errno, "layer: random name");
                }
                char *p = stpcpy(la->tmpname, "ingest-");
                for (size_t i = 0; i < sizeof(rnd); i++)
                        p += sprintf(p, "%02x", rnd[i]);
                strcpy(p, ".tmp");
        }
        /* A leftover of a crash with the same name: start afresh. */
        (void)layer_unpack_rm_rf_at(la->layers_fd, la->tmpname);
        if (mkdirat(la->layers_fd, la->tmpname, 0755) < 0) {
                int e = errno;
                la->tmpname[0] = '\0';
                layer_apply_abort(la);
                return berth_error_sys(err, e, "layer: create temp directory");
        }
        la->root_fd =
            openat(la->layers_fd, la->tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (la->root_fd < 0 || fchmod(la->root_fd, 0755) < 0) {
                int e = errno;
                layer_apply_abort(la);
                return berth_error_sys(err, e, "layer: open temp directory");
        }
        la->md_comp = EVP_MD_CTX_new();
        la->md_diff = EVP_MD_CTX_new();
        if (!la->md_comp || !la->md_diff ||
            EVP_DigestInit_ex(la->md_comp, EVP_sha256(), NULL) != 1 ||
            EVP_DigestInit_ex(la->md_diff, EVP_sha256(), NULL) != 1)
                berth_oom();
        struct tar_limits tl = {
            .max_path = la->lim.max_path,
            .max_entries = la->lim.max_entries,
            .max_size = la->lim.max_bytes,
        };
        layer_unpack_init(&la->u, la->root_fd, la->lim.max_path);
        la->tar = tar_reader_new(&layer_unpack_ops, &la->u, &tl);
        for (int i = 0; i < NBUF; i++)
                la->pool[i] = xmalloc(OUTBUF_SIZE);
        for (int i = 1; i < NBUF; i++)
                la->free_idx[la->n_free++] = i;
        la->out_idx = 0;
        la->out = la->pool[0];
        la->dc = decomp_new(decoded, la);
        decomp_set_buffer(la->dc, la->out, OUTBUF_SIZE);
        r = pthread_create(&la->thread, NULL, extract_thread, la);
        if (r != 0) {
                layer_apply_abort(la);
                return berth_error_sys(err, r, "layer: start extraction thread");
        }
        la->thread_running = true;
        *ret = la;
        return 0;
}

void layer_apply_abort(struct layer_apply *la)
{
        if (!la)
                return;
        stop_thread(la, true);
        berth_error_free(la->thread_err);
        layer_unpack_release(&la->u);
        if (la->root_fd >= 0)
                close(la->root_fd);
        if (la->tmpname[0] && la->layers_fd >= 0)
                (void)layer_unpack_rm_rf_at(la->layers_fd, la->tmpname);
        if (la->layers_fd >= 0)
                close(la->layers_fd);
        if (la->reserved)
                inflight_release(la->reserved);
        decomp_free(la->dc);
        tar_reader_free(la->tar);
        EVP_MD_CTX_free(la->md_comp);
        EVP_MD_CTX_free(la->md_diff);
        for (int i = 0; i < NBUF; i++)
                free(la->pool[i]);
        pthread_mutex_destroy(&la->mu);
        pthread_cond_destroy(&la->cv_full);
        pthread_cond_destroy(&la->cv_free);
        free(la->reserved);
        free(la->parent);
        free(la->expected_digest);
        free(la->expected_diff_id);
        free(la->data_root);
        free(la);
}

static int end_of_stream(struct layer_apply *la, struct berth_error **err)
{
        int r = decomp_finish(la->dc, err);
        if (r < 0)
                return la->sink_failed ? r : berth_error_prefix(err, "layer");
        stop_thread(la, false);
        if (la->failed)
                return take_thread_error(la, err);
        if ((r = tar_reader_finish(la->tar, err)) < 0)
                return berth_error_prefix(err, "layer");
        if ((r = layer_unpack_finish(&la->u, err)) < 0)
                return r;
        return 0;
}

int layer_apply_finish(struct layer_apply *la, struct layer_result *res, struct berth_error **err)
{
        struct layer_result out = {0};
        int r = end_of_stream(la, err);
        if (r < 0)
                goto done;
        if (!la->no_digest)
                digest_final(la->md_comp, out.digest);
        if (la->comp == LAYER_PLAIN && !la->no_digest)
                memcpy(out.diff_id, out.digest, sizeof(out.diff_id));
        else
                digest_final(la->md_diff, out.diff_id);
        out.compressed_size = la->comp_size;
        out.size = la->size;
        out.unpacked_size = la->u.unpacked_size;
        out.entries = tar_reader_entries(la->tar);
        out.compression = la->comp;
        if (la->expected_digest && strcmp(la->expected_digest, out.digest) != 0) {
                r = berth_error_set(err, EIO, "layer %s: digest mismatch (got %s)",
                                    la->expected_digest, out.digest);
                goto done;
        }
        if (la->expected_diff_id && strcmp(la->expected_diff_id, out.diff_id) != 0) {
                r = berth_error_set(err, EIO, "layer %s: diff id mismatch (got %s)",
                                    la->expected_diff_id, out.diff_id);
                goto done;
        }
        layer_chain_id(la->parent, out.diff_id, out.chain_id);
        if (syncfs(la->root_fd) < 0) {
                r = berth_error_sys(err, errno, "layer %s: sync", out.chain_id);
                goto done;
        }
        if (renameat(la->layers_fd, la->tmpname, la->layers_fd, out.chain_id + 7) < 0) {
                if (errno != EEXIST && errno != ENOTEMPTY) {
                        r = berth_error_sys(err, errno, "layer %s: rename into place",
                                            out.chain_id);
                        goto done;
                }
                /* applied meanwhile by another pull: ours is dropped in abort */
        } else {
                la->tmpname[0] = '\0';
        }
        if (fsync(la->layers_fd) < 0) {
                r = berth_error_sys(err, errno, "layer %s: sync layers directory", out.chain_id);
                goto done;
        }
        if (res)
                *res = out;
done:
        layer_apply_abort(la);
        return r;
}

int layer_apply_fd_progress(const char *data_root, const struct layer_apply_opts *opts, int fd,
                            layer_progress_fn progress, void *userdata, struct layer_result *res,
                            struct berth_error **err)
{
        struct layer_apply *la = NULL;
        int r = layer_apply_begin(data_root, opts, &la, err);
        if (r != 0)
                return r;
        struct stat st;
        uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        uint64_t done = 0;
        _cleanup_free_ unsigned char *buf = xmalloc(1 << 20);
        for (;;) {
                ssize_t n = read(fd, buf, 1 << 20);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = berth_error_sys(err, errno, "layer: read");
                        break;
                }
                if (n == 0) {
                        if (progress && (r = progress(done, total, true, userdata, err)) < 0)
                                break;
                        return layer_apply_finish(la, res, err);
                }
                if ((r = layer_apply_write(la, buf, (size_t)n, err)) < 0)
                        break;
                done += (uint64_t)n;
                if (progress && (r = progress(done, total, false, userdata, err)) < 0)
                        break;
        }
        layer_apply_abort(la);
        return r;
}

int layer_apply_fd(const char *data_root, const struct layer_apply_opts *opts, int fd,
                   struct layer_result *res, struct berth_error **err)
{
        return layer_apply_fd_progress(data_root, opts, fd, NULL, NULL, res, err);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int layer_list(const char *data_root, char ***ret, struct berth_error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/layers", data_root);
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = v;
                        return 0;
                }
                free(v);
                return berth_error_sys(err, errno, "layer store '%s': list", dir);
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                _cleanup_free_ char *id = xasprintf("sha256:%s", de->d_name);
                if (blob_digest_check(id, NULL) < 0) /* *.tmp and strays */
                        continue;
                v = xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = TAKE_PTR(id);
                v[n] = NULL;
        }
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = v;
        return 0;
}
