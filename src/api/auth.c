/*
 * auth.c — the endpoints that ask a registry something without pulling:
 * POST /auth (check credentials, as `docker login`) and
 * GET /distribution/{name}/json (what a reference resolves to, with its platforms).
 *
 * The body is docker's AuthConfig ({"username","password","serveraddress",
 * "identitytoken"}).  The server address may be a URL ("https://index.docker.io/v1/"
 * means docker.io); the check runs on a worker thread (it talks to the
 * registry) through registry_login(), which asks the registry itself, never a
 * mirror.  The answer is dockerd's: 200 {"Status":"Login Succeeded",
 * "IdentityToken":…} or 401 with the registry's reason.
 *
 * Never: log a password or token.
 */
#include <string.h>

#include "base/log.h"
#include "handlers.h"
#include "image/reference.h"
#include "oci/image-spec.h"
#include "registry/registry.h"

struct auth_job {
        struct api_stream *stream;
        struct berth_engine *engine;
        char *host, *username, *password, *identity_token;
};

static void auth_job_free(struct auth_job *j)
{
        free(j->host);
        free(j->username);
        if (j->password)
                explicit_bzero(j->password, strlen(j->password));
        free(j->password);
        free(j->identity_token);
        free(j);
}

/* "https://index.docker.io/v1/" -> "docker.io"; "http://h:5000/" -> "h:5000"; "" -> docker.io. */
static char *registry_host(const char *server)
{
        if (!server || !*server)
                return xstrdup("docker.io");
        const char *p = strstr(server, "://");
        p = p ? p + 3 : server;
        size_t n = strcspn(p, "/");
        char *h = xstrndup(p, n);
        if (strcmp(h, "index.docker.io") == 0 || strcmp(h, "registry-1.docker.io") == 0 ||
            strcmp(h, "registry.hub.docker.com") == 0) {
                free(h);
                h = xstrdup("docker.io");
        }
        return h;
}

static int dist_sink(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        return blob_ingest_write(userdata, buf, n, err);
}

static void *auth_worker(void *arg)
{
        struct auth_job *j = arg;
        _cleanup_config_ struct berth_config *c = berth_engine_config(j->engine);
        struct registry_options ro = {.insecure = c->insecure_registries};
        struct registry_auth a = {
            .username = j->username, .password = j->password, .identity_token = j->identity_token};
        struct registry_client *client = NULL;
        struct registry_repo *repo = NULL;
        _cleanup_free_ char *token = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = registry_client_new(&ro, &client, &err);
        if (r == 0)
                r = registry_repo_open(client, j->host, NULL, &a, REGISTRY_PULL, &repo, &err);
        if (r == 0)
                r = registry_login(repo, &token, &err);
        if (r == 0) {
                struct json *o = json_new_object();
                json_set_str(o, "IdentityToken", token ? token : "");
                json_set_str(o, "Status", "Login Succeeded");
                api_stream_reply_json(j->stream, 200, o);
                json_free(o);
                log_info("login to %s as %s succeeded", j->host, j->username ? j->username : "");
        } else {
                api_stream_reply_error(j->stream, r == -EACCES || r == -EPERM ? 401 : 500, "%s",
                                       berth_error_msg(err));
        }
        registry_repo_free(repo);
        registry_client_free(client);
        api_stream_end(j->stream);
        auth_job_free(j);
        return NULL;
}

static void handle_auth(struct api_request *req, void *userdata)
{
        _cleanup_json_ struct json *body = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        if (api_request_json(req, &body, &err) < 0 || !json_is(body, JSON_OBJECT)) {
                api_reply_error(req, 400, "invalid auth configuration: %s",
                                err ? berth_error_msg(err) : "not a JSON object");
                return;
        }
        const char *user = json_str(json_get(body, "username"));
        const char *pass = json_str(json_get(body, "password"));
        const char *idt = json_str(json_get(body, "identitytoken"));
        if ((!user || !*user) && (!idt || !*idt)) {
                api_reply_error(req, 400, "username is required");
                return;
        }
        struct auth_job *j = xcalloc(1, sizeof(*j));
        j->engine = userdata;
        j->host = registry_host(json_str(json_get(body, "serveraddress")));
        j->username = user ? xstrdup(user) : NULL;
        j->password = pass ? xstrdup(pass) : NULL;
        j->identity_token = idt && *idt ? xstrdup(idt) : NULL;
        j->stream = api_stream_detach(req);
        if (api_worker_spawn(auth_worker, j) < 0) {
                api_stream_reply_error(j->stream, 500, "cannot start the login: out of threads");
                api_stream_end(j->stream);
                auth_job_free(j);
        }
}

/* ---- GET /distribution/{name}/json ---- */

struct dist_job {
        struct api_stream *stream;
        struct berth_engine *engine;
        char *name;
};

static struct json *platform_json(const char *arch, const char *os, const char *os_version,
                                  const char *variant)
{
        struct json *o = json_new_object();
        json_set_str(o, "architecture", arch ? arch : "");
        json_set_str(o, "os", os ? os : "");
        if (os_version)
                json_set_str(o, "os.version", os_version);
        if (variant)
                json_set_str(o, "variant", variant);
        return o;
}

/* The platform of a single-image manifest is in its config (fetched into the store). */
static void config_platform(struct registry_repo *repo, struct berth_engine *e,
                            const struct oci_manifest *man, struct json *plats)
{
        struct blob_ingest *in = NULL;
        _cleanup_error_ struct berth_error *err = NULL;
        int r = blob_store_ingest_begin(e->store, man->config.digest, man->config.size, &in, &err);
        if (r == 0) {
                r = registry_blob_fetch(repo, man->config.digest, man->config.size, dist_sink, in,
                                        &err);
                if (r < 0)
                        blob_ingest_abort(in);
                else
                        r = blob_ingest_commit(in, NULL, &err);
        }
        _cleanup_free_ char *body = NULL;
        size_t len = 0;
        struct oci_image_config *cfg = NULL;
        if (r >= 0 &&
            blob_store_read(e->store, man->config.digest, 4 << 20, &body, &len, NULL) == 0 &&
            oci_image_config_parse(body, len, &cfg, NULL) == 0)
                json_array_append(plats, platform_json(cfg->architecture, cfg->os, cfg->os_version,
                                                       cfg->variant));
        oci_image_config_free(cfg);
}

static int inspect_distribution(struct dist_job *j, struct json **ret, struct berth_error **err)
{
        _cleanup_image_ref_ struct image_ref *ref = NULL;
        int r = image_ref_parse_pull(j->name, &ref, err);
        if (r < 0)
                return r;
        _cleanup_config_ struct berth_config *c = berth_engine_config(j->engine);
        struct registry_options ro = {.mirrors = c->registry_mirrors,
                                      .insecure = c->insecure_registries};
        struct registry_client *client = NULL;
        struct registry_repo *repo = NULL;
        struct registry_manifest m;
        memset(&m, 0, sizeof(m));
        struct oci_index *idx = NULL;
        struct oci_manifest *man = NULL;
        r = registry_client_new(&ro, &client, err);
        if (r == 0)
                r = registry_repo_open(client, ref->domain, ref->path, NULL, REGISTRY_PULL, &repo,
                                       err);
        if (r == 0)
                r = registry_manifest_get(repo, ref->digest ? ref->digest : ref->tag, &m, err);
        if (r < 0)
                goto out;
        struct json *o = json_new_object();
        struct json *d = json_object_set(o, "Descriptor", json_new_object());
        json_set_str(d, "mediaType", m.media_type);
        json_set_str(d, "digest", m.digest);
        json_set_int(d, "size", (int64_t)m.len);
        struct json *plats = json_object_set(o, "Platforms", json_new_array());
        if (m.kind == OCI_DOC_INDEX) {
                r = oci_index_parse(m.body, m.len, &idx, err);
                for (size_t i = 0; r == 0 && i < idx->n_manifests; i++) {
                        const struct oci_platform *p = idx->manifests[i].platform;
                        if (p)
                                json_array_append(plats, platform_json(p->architecture, p->os,
                                                                       p->os_version, p->variant));
                }
        } else {
                r = oci_manifest_parse(m.body, m.len, &man, err);
                if (r == 0)
                        config_platform(repo, j->engine, man, plats);
        }
        if (r < 0) {
                json_free(o);
                goto out;
        }
        *ret = o;
out:
        oci_manifest_free(man);
        oci_index_free(idx);
        registry_manifest_release(&m);
        registry_repo_free(repo);
        registry_client_free(client);
        return r;
}

static void *dist_worker(void *arg)
{
        struct dist_job *j = arg;
        _cleanup_error_ struct berth_error *err = NULL;
        struct json *o = NULL;
        int r = inspect_distribution(j, &o, &err);
        if (r == 0) {
                api_stream_reply_json(j->stream, 200, o);
                json_free(o);
        } else {
                int status = r == -ENOENT ? 404 : r == -EINVAL ? 400 : r == -EACCES ? 401 : 500;
                api_stream_reply_error(j->stream, status, "%s", berth_error_msg(err));
        }
        api_stream_end(j->stream);
        free(j->name);
        free(j);
        return NULL;
}

static void handle_distribution(struct api_request *req, void *userdata)
{
        struct dist_job *j = xcalloc(1, sizeof(*j));
        j->engine = userdata;
        j->name = xstrdup(api_request_param(req, "name"));
        j->stream = api_stream_detach(req);
        if (api_worker_spawn(dist_worker, j) < 0) {
                api_stream_reply_error(j->stream, 500, "cannot start: out of threads");
                api_stream_end(j->stream);
                free(j->name);
                free(j);
        }
}

void api_register_auth(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/auth", handle_auth, engine},
            {"GET", "/distribution/{name*}/json", handle_distribution, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
