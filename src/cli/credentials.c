/*
 * credentials.c — config.json credentials (contract in credentials.h).
 */
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/json.h"
#include "credentials.h"

char *cli_base64(const void *data, size_t len, bool url)
{
        static const char std[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        static const char safe[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *t = url ? safe : std;
        const unsigned char *in = data;
        char *out = xmalloc(len / 3 * 4 + 5);
        size_t o = 0, i = 0;
        for (; i + 2 < len; i += 3) {
                out[o++] = t[in[i] >> 2];
                out[o++] = t[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
                out[o++] = t[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
                out[o++] = t[in[i + 2] & 63];
        }
        if (i < len) {
                out[o++] = t[in[i] >> 2];
                if (i + 1 < len) {
                        out[o++] = t[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
                        out[o++] = t[(in[i + 1] & 15) << 2];
                } else {
                        out[o++] = t[(in[i] & 3) << 4];
                        out[o++] = '=';
                }
                out[o++] = '=';
        }
        out[o] = '\0';
        return out;
}

char *cli_credentials_key(const char *host)
{
        if (!host || !*host || strcmp(host, "docker.io") == 0 ||
            strcmp(host, "index.docker.io") == 0 || strcmp(host, "registry-1.docker.io") == 0)
                return xstrdup(CLI_DOCKER_HUB_KEY);
        const char *p = strstr(host, "://");
        p = p ? p + 3 : host;
        return xstrndup(p, strcspn(p, "/"));
}

char *cli_credentials_path(void)
{
        const char *dir = getenv("BERTH_CONFIG");
        if (dir && *dir)
                return xasprintf("%s/config.json", dir);
        const char *home = getenv("HOME");
        if (!home || !*home) {
                struct passwd *pw = getpwuid(getuid());
                home = pw ? pw->pw_dir : "/";
        }
        return xasprintf("%s/.berth/config.json", home);
}

static struct json *load(const char *path)
{
        struct json *j = NULL;
        if (access(path, F_OK) == 0 && json_parse_file(path, 16 << 20, &j, NULL) == 0 &&
            json_is(j, JSON_OBJECT))
                return j;
        json_free(j);
        return json_new_object();
}

static int save(const char *path, struct json *j, struct berth_error **err)
{
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                int r = mkdir_p(dir, 0700);
                if (r < 0)
                        return berth_error_sys(err, -r, "create '%s'", dir);
        }
        _cleanup_free_ char *text = json_dump(j, JSON_DUMP_PRETTY);
        size_t n = strlen(text);
        text = xrealloc(text, n + 2);
        text[n] = '\n';
        text[n + 1] = '\0';
        int r = write_file_atomic(path, text, n + 1, 0600);
        if (r < 0)
                return berth_error_sys(err, -r, "write '%s'", path);
        return 0;
}

int cli_credentials_store(const char *key, const char *username, const char *password,
                          const char *identity_token, struct berth_error **err)
{
        _cleanup_free_ char *path = cli_credentials_path();
        _cleanup_json_ struct json *j = load(path);
        struct json *auths = json_get(j, "auths");
        if (!json_is(auths, JSON_OBJECT))
                auths = json_object_set(j, "auths", json_new_object());
        struct json *entry = json_object_set(auths, key, json_new_object());
        /* With an identity token docker keeps the user name only, never the password. */
        _cleanup_free_ char *pair = xasprintf("%s:%s", username ? username : "",
                                              identity_token && *identity_token ? ""
                                              : password                        ? password
                                                                                : "");
        _cleanup_free_ char *b64 = cli_base64(pair, strlen(pair), false);
        explicit_bzero(pair, strlen(pair));
        json_set_str(entry, "auth", b64);
        if (identity_token && *identity_token)
                json_set_str(entry, "identitytoken", identity_token);
        return save(path, j, err);
}

int cli_credentials_erase(const char *key, struct berth_error **err)
{
        _cleanup_free_ char *path = cli_credentials_path();
        if (access(path, F_OK) < 0)
                return 0;
        _cleanup_json_ struct json *j = load(path);
        if (!json_object_del(json_get(j, "auths"), key))
                return 0;
        int r = save(path, j, err);
        return r < 0 ? r : 1;
}

char *cli_unbase64(const char *in, size_t *ret_len)
{
        size_t n = strlen(in);
        char *out = xmalloc(n / 4 * 3 + 4);
        size_t o = 0;
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n && in[i] != '='; i++) {
                const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                const char *p = strchr(t, in[i]);
                if (!p || !in[i]) {
                        free(out);
                        return NULL;
                }
                acc = (acc << 6) | (uint32_t)(p - t);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (char)((acc >> bits) & 0xff);
                }
        }
        out[o] = '\0';
        if (ret_len)
                *ret_len = o;
        return out;
}

/* One stored entry as docker's AuthConfig object (omitempty fields as Go leaves them). */
static struct json *auth_config(const char *key, const struct json *entry, char **pair)
{
        const char *auth = json_str(json_get(entry, "auth"));
        *pair = auth ? cli_unbase64(auth, NULL) : NULL;
        char *colon = *pair ? strchr(*pair, ':') : NULL;
        if (colon)
                *colon = '\0';
        struct json *a = json_new_object();
        json_set_str(a, "username", *pair ? *pair : "");
        json_set_str(a, "password", colon ? colon + 1 : "");
        const char *idt = json_str(json_get(entry, "identitytoken"));
        if (idt)
                json_set_str(a, "identitytoken", idt);
        json_set_str(a, "serveraddress", key);
        return a;
}

char *cli_credentials_registry_config(void)
{
        _cleanup_free_ char *path = cli_credentials_path();
        _cleanup_json_ struct json *j = access(path, F_OK) == 0 ? load(path) : json_new_object();
        _cleanup_json_ struct json *all = json_new_object();
        const struct json *auths = json_get(j, "auths");
        size_t n = json_is(auths, JSON_OBJECT) ? json_len(auths) : 0;
        /* Go marshals a map with its keys sorted */
        const char **keys = n ? xcalloc(n, sizeof(*keys)) : NULL;
        for (size_t i = 0; i < n; i++)
                keys[i] = auths->obj.m[i].key;
        for (size_t i = 1; i < n; i++)
                for (size_t k = i; k > 0 && strcmp(keys[k - 1], keys[k]) > 0; k--) {
                        const char *t = keys[k];
                        keys[k] = keys[k - 1];
                        keys[k - 1] = t;
                }
        for (size_t i = 0; i < n; i++) {
                const struct json *entry = json_get(auths, keys[i]);
                if (!json_is(entry, JSON_OBJECT))
                        continue;
                char *pair = NULL;
                json_object_set(all, keys[i], auth_config(keys[i], entry, &pair));
                if (pair) {
                        explicit_bzero(pair, strlen(pair));
                        free(pair);
                }
        }
        free(keys);
        _cleanup_free_ char *text = json_dump(all, 0);
        char *out = cli_base64(text, strlen(text), true);
        explicit_bzero(text, strlen(text));
        return out;
}

char *cli_credentials_registry_auth(const char *key)
{
        _cleanup_free_ char *path = cli_credentials_path();
        if (access(path, F_OK) < 0)
                return NULL;
        _cleanup_json_ struct json *j = load(path);
        const struct json *entry = json_get(json_get(j, "auths"), key);
        if (!json_is(entry, JSON_OBJECT))
                return NULL;
        _cleanup_free_ char *pair = NULL;
        struct json *a = auth_config(key, entry, &pair);
        _cleanup_free_ char *text = json_dump(a, 0);
        json_free(a);
        if (pair)
                explicit_bzero(pair, strlen(pair));
        char *out = cli_base64(text, strlen(text), true);
        explicit_bzero(text, strlen(text));
        return out;
}
