/*
 * credentials.h — registry credentials in docker's config.json format:
 *   {"auths": {"<server>": {"auth": base64("user:password"), "identitytoken": "…"}}}
 * kept in $BERTH_CONFIG/config.json (default ~/.berth/config.json), written
 * atomically with mode 0600.  The server key is docker's: the registry's
 * host[:port], and "https://index.docker.io/v1/" for Docker Hub.
 *
 * Never: print a secret, write the file world-readable, lose other keys of the
 * file (they are kept as they are).
 */
#ifndef BERTH_CLI_CREDENTIALS_H
#define BERTH_CLI_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define CLI_DOCKER_HUB_KEY "https://index.docker.io/v1/"

/* The config.json key for a registry host ("docker.io" -> the Hub key). */
char *cli_credentials_key(const char *host);
char *cli_credentials_path(void);

int cli_credentials_store(const char *key, const char *username, const char *password,
                          const char *identity_token, struct berth_error **err);
/* 1 removed, 0 there was nothing for key. */
int cli_credentials_erase(const char *key, struct berth_error **err);

/* The X-Registry-Auth value (base64url of docker's AuthConfig) for key, or NULL
 * when there are no credentials for it. */
char *cli_credentials_registry_auth(const char *key);

/* The X-Registry-Config value docker's build sends: base64url of a JSON map of every
 * stored registry's AuthConfig ("e30=", {}, when there is none). */
char *cli_credentials_registry_config(void);

/* Standard base64 (for the "auth" field) and URL-safe base64 (for X-Registry-Auth). */
char *cli_base64(const void *data, size_t len, bool url);
/* Standard base64 decoded (NUL-terminated, its length in *ret_len); NULL when
 * malformed. */
char *cli_unbase64(const char *in, size_t *ret_len);

#endif
