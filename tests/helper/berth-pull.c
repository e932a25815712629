/*
 * berth-pull — test driver wiring src/registry to src/image the way a pull
 * does: resolve the reference, fetch the config into the content store, then
 * every layer at once (one thread each) through layer_ingest into a verified
 * blob and an unpacked layer, and optionally mount the image as a container's
 * overlay.  Prints one JSON line: config digest and chain ids, bottom first.
 * For tests/integration/test_image_pull.py; not installed, and not the
 * engine's pull (that one records images in SQLite and reports progress).
 *
 *   berth-pull DATA_ROOT REFERENCE [--mount ID]
 *   berth-pull DATA_ROOT --umount ID
 *
 * Exit 0 on success, 1 with one line on stderr otherwise.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "image/ingest.h"
#include "image/reference.h"
#include "image/snapshot.h"
#include "oci/image-spec.h"
#include "registry/registry.h"

struct job {
        struct registry_repo *repo;
        struct blob_store *store;
        const struct oci_descriptor *desc;
        const char *diff_id, *parent;
        int r;
        struct berth_error *err;
};

static int blob_sink(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        return blob_ingest_write(userdata, buf, n, err);
}

static void *pull_layer(void *arg)
{
        struct job *j = arg;
        struct layer_ingest_opts o = {
            .digest = j->desc->digest,
            .size = j->desc->size,
            .diff_id = j->diff_id,
            .parent_chain_id = j->parent,
        };
        struct layer_ingest *in = NULL;
        j->r = layer_ingest_begin(j->store, &o, &in, &j->err);
        if (j->r != 0)
                return NULL; /* present already, or an error */
        j->r = registry_blob_fetch(j->repo, j->desc->digest, j->desc->size, layer_ingest_write, in,
                                   &j->err);
        if (j->r < 0) {
                layer_ingest_abort(in);
                return NULL;
        }
        j->r = layer_ingest_commit(in, NULL, &j->err);
        return NULL;
}

static int fetch_config(struct registry_repo *repo, struct blob_store *store,
                        const struct oci_descriptor *d, struct oci_image_config **ret,
                        struct berth_error **err)
{
        struct blob_ingest *in = NULL;
        int r = blob_store_ingest_begin(store, d->digest, d->size, &in, err);
        if (r < 0)
                return r;
        if (r == 0) {
                r = registry_blob_fetch(repo, d->digest, d->size, blob_sink, in, err);
                if (r < 0) {
                        blob_ingest_abort(in);
                        return r;
                }
                if ((r = blob_ingest_commit(in, NULL, err)) < 0)
                        return r;
        }
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        if ((r = blob_store_read(store, d->digest, 4 << 20, &body, &len, err)) < 0)
                return r;
        return oci_image_config_parse(body, len, ret, err);
}

static int pull(const char *root, const char *reference, const char *mount_id,
                struct berth_error **err)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        int r = image_ref_parse_pull(reference, &ref, err);
        if (r < 0)
                return r;
        struct registry_options ro = {0};
        struct registry_client *client = NULL;
        struct registry_repo *repo = NULL;
        struct blob_store *store = NULL;
        struct registry_image img = {0};
        struct oci_image_config *cfg = NULL;
        char(*chains)[72] = NULL;
        size_t n = 0;
        if ((r = registry_client_new(&ro, &client, err)) < 0 ||
            (r = registry_repo_open(client, image_ref_api_host(ref), ref->path, NULL, REGISTRY_PULL,
                                    &repo, err)) < 0 ||
            (r = registry_resolve(repo, ref->digest ? ref->digest : ref->tag, NULL, &img, err)) <
                0 ||
            (r = blob_store_open(root, &store, err)) < 0 ||
            (r = layer_store_cleanup(root, err)) < 0 ||
            (r = fetch_config(repo, store, &img.parsed->config, &cfg, err)) < 0)
                goto out;
        n = img.parsed->n_layers;
        size_t nd = 0;
        while (cfg->diff_ids[nd])
                nd++;
        if (nd != n) {
                r = berth_error_set(err, EINVAL, "image: %zu layers but %zu diff ids", n, nd);
                goto out;
        }
        chains = xcalloc(n ? n : 1, sizeof(*chains));
        struct job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
        pthread_t *th = xcalloc(n ? n : 1, sizeof(*th));
        for (size_t i = 0; i < n; i++) {
                layer_chain_id(i ? chains[i - 1] : NULL, cfg->diff_ids[i], chains[i]);
                jobs[i] = (struct job){.repo = repo,
                                       .store = store,
                                       .desc = &img.parsed->layers[i],
                                       .diff_id = cfg->diff_ids[i],
                                       .parent = i ? chains[i - 1] : NULL};
                pthread_create(&th[i], NULL, pull_layer, &jobs[i]);
        }
        for (size_t i = 0; i < n; i++)
                pthread_join(th[i], NULL);
        for (size_t i = 0; i < n; i++) {
                if (jobs[i].r < 0 && r >= 0) {
                        r = jobs[i].r;
                        if (err && !*err)
                                *err = TAKE_PTR(jobs[i].err);
                }
                berth_error_free(jobs[i].err);
        }
        free(jobs);
        free(th);
        if (r < 0)
                goto out;
        if (mount_id) {
                const char **ids = xcalloc(n + 1, sizeof(char *));
                for (size_t i = 0; i < n; i++)
                        ids[i] = chains[i];
                r = snapshot_mount(root, mount_id, ids, n, NULL, err);
                free(ids);
                if (r < 0)
                        goto out;
        }
        struct berth_buf b = BERTH_BUF_INIT;
        buf_printf(&b, "{\"config\":\"%s\",\"chain_ids\":[", img.parsed->config.digest);
        for (size_t i = 0; i < n; i++)
                buf_printf(&b, "%s\"%s\"", i ? "," : "", chains[i]);
        buf_puts(&b, "]}");
        printf("%s\n", b.data);
        buf_release(&b);
        r = 0;
out:
        free(chains);
        oci_image_config_free(cfg);
        registry_image_release(&img);
        blob_store_free(store);
        registry_repo_free(repo);
        registry_client_free(client);
        return r;
}

int main(int argc, char **argv)
{
        struct berth_error *err = NULL;
        int r;
        if (argc == 4 && strcmp(argv[2], "--umount") == 0)
                r = snapshot_remove(argv[1], argv[3], &err);
        else if (argc == 3)
                r = pull(argv[1], argv[2], NULL, &err);
        else if (argc == 5 && strcmp(argv[3], "--mount") == 0)
                r = pull(argv[1], argv[2], argv[4], &err);
        else {
                fprintf(stderr, "usage: berth-pull DATA_ROOT REFERENCE [--mount ID] | "
                                "DATA_ROOT --umount ID\n");
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "berth-pull: %s\n", berth_error_msg(err));
                berth_error_free(err);
                return 1;
        }
        return 0;
}
