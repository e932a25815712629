/*
 * ingest.c — a pulled layer into store and layer directory in one pass (see
 * ingest.h).  The compressed bytes are hashed once, by the store; layer apply
 * runs with no_digest and checks only the diff_id.
 *
 * Never: finish the layer before the blob's digest was checked.
 */
#include <string.h>

#include "image/ingest.h"

struct layer_ingest {
        struct blob_ingest *blob; /* NULL when the blob was already stored */
        struct layer_apply *la;   /* NULL when the layer was already unpacked */
        char *digest;
        int failed; /* errno of the write that failed */
};

static int apply_from_store(struct blob_store *s, const struct layer_ingest_opts *o,
                            struct berth_error **err)
{
        _cleanup_close_ int fd = -EBADF;
        int r = blob_store_open_blob(s, o->digest, &fd, err);
        if (r < 0)
                return r;
        struct layer_apply_opts lo = {
            .parent_chain_id = o->parent_chain_id,
            .expected_diff_id = o->diff_id,
            .no_digest = true, /* the store verified it on the way in */
            .limits = o->limits,
        };
        r = layer_apply_fd(blob_store_root(s), &lo, fd, NULL, err);
        return r < 0 ? r : 1;
}

int layer_ingest_begin(struct blob_store *s, const struct layer_ingest_opts *o,
                       struct layer_ingest **ret, struct berth_error **err)
{
        *ret = NULL;
        if (!o->digest || !o->diff_id)
                return berth_error_set(err, EINVAL, "layer ingest: digest and diff id required");
        struct layer_ingest *in = xcalloc(1, sizeof(*in));
        in->digest = xstrdup(o->digest);
        struct layer_apply_opts lo = {
            .parent_chain_id = o->parent_chain_id,
            .expected_diff_id = o->diff_id,
            .no_digest = true,
            .limits = o->limits,
        };
        /* Layer first: a concurrent pull of the same layer waits here, then finds it. */
        int lr = layer_apply_begin(blob_store_root(s), &lo, &in->la, err);
        if (lr < 0) {
                layer_ingest_abort(in);
                return lr;
        }
        int br = blob_store_ingest_begin(s, o->digest, o->size, &in->blob, err);
        if (br < 0) {
                layer_ingest_abort(in);
                return br;
        }
        if (br == 1 && lr == 1) {
                layer_ingest_abort(in);
                return 1;
        }
        if (br == 1) {
                /* the blob is here (another image, or `load`): unpack from it */
                layer_apply_abort(TAKE_PTR(in->la));
                layer_ingest_abort(in);
                return apply_from_store(s, o, err);
        }
        *ret = in;
        return 0;
}

int layer_ingest_write(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        struct layer_ingest *in = userdata;
        if (in->failed)
                return berth_error_set(err, in->failed, "layer %s: an earlier write failed",
                                       in->digest);
        int r = blob_ingest_write(in->blob, buf, n, err);
        if (r == 0 && in->la)
                r = layer_apply_write(in->la, buf, n, err);
        if (r < 0)
                in->failed = -r;
        return r;
}

int layer_ingest_commit(struct layer_ingest *in, struct layer_result *res, struct berth_error **err)
{
        int r;
        if (res)
                memset(res, 0, sizeof(*res));
        if (in->failed) {
                r = berth_error_set(err, in->failed, "layer %s: a write failed", in->digest);
                layer_ingest_abort(in);
                return r;
        }
        r = blob_ingest_commit(TAKE_PTR(in->blob), NULL, err);
        if (r < 0) {
                layer_ingest_abort(in);
                return r;
        }
        if (in->la) {
                r = layer_apply_finish(TAKE_PTR(in->la), res, err);
                if (r == 0 && res)
                        snprintf(res->digest, sizeof(res->digest), "%s", in->digest);
        }
        layer_ingest_abort(in);
        return r;
}

void layer_ingest_abort(struct layer_ingest *in)
{
        if (!in)
                return;
        blob_ingest_abort(in->blob);
        layer_apply_abort(in->la);
        free(in->digest);
        free(in);
}
