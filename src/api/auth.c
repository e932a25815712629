/*
 * auth.c — POST /auth: check credentials with a registry, as `docker login`.
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

void api_register_auth(struct api_server *srv, struct berth_engine *engine)
{
        const struct api_route routes[] = {
            {"POST", "/auth", handle_auth, engine},
        };
        api_server_add_routes(srv, routes, ELEMENTSOF(routes));
}
