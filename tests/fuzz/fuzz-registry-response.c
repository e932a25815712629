/*
 * fuzz-registry-response.c — libFuzzer target for what a registry (or a
 * mirror, or a token realm) sends back to berth's registry client
 * (registry/transport.c, auth.c, registry.c over libcurl): status lines and
 * header fields (WWW-Authenticate, Location, Content-Range, Link,
 * Docker-Content-Digest, Retry-After, Content-Length), bodies (manifests,
 * indexes, tokens, tag lists, errors, blobs).
 *
 * How: a server thread listens on 127.0.0.1 and answers each connection with
 * the next response of the input (a TLS hello, the client's first probe of an
 * insecure registry, is hung up on instead) — responses are separated by "@@NEXT@@",
 * "@HOST@" in them becomes the server's host:port (so redirects and token
 * realms come back here), and when they run out every request gets a 404.
 * The real client, configured with the server as an insecure registry, then
 * resolves a tag (ping, token, manifest, index, platform manifest), lists the
 * tags (following Link pages) and fetches a blob, with or without
 * credentials as the first byte says.  One try after the first and 1 ms
 * back-off, so a 5xx or 429 costs no time.
 *
 * Invariants: every failure has a message; what the client calls a success is
 * what it promises — a resolved manifest's digest is the SHA-256 of its bytes
 * and, through an index, the digest the index names for linux/amd64; a
 * fetched blob hashes to the digest asked for.
 *
 * Seeds (corpus-registry-response/, made by make-seeds.py): the answers of
 * tests/integration/test_registry.py's fake registries, hostile ones included.
 * The fuzzer runs in a network namespace of its own with only loopback up, so
 * whatever host a mutated Location, realm or Link names, nothing leaves the
 * machine (and an unreachable host fails at once).  Needs root for that.
 * Never: connect anywhere but loopback (certs.d is a missing dir).
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/macro.h"
#include "oci/image-spec.h"
#include "registry/registry.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP       "@@NEXT@@"
#define HOST_MARK "@HOST@"
#define BLOB      "fuzz"

static char host[32];
static char blob_digest[72];
static struct registry_client *client;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *input;
static size_t input_len, input_off;

static void sha256_digest(const void *buf, size_t len, char out[72])
{
        unsigned char md[32];
        unsigned int n = 0;
        EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL);
        strcpy(out, "sha256:");
        for (int i = 0; i < 32; i++)
                snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* The next response of the input, "@HOST@" replaced; NULL when none is left. */
static char *next_response(size_t *ret_len)
{
        pthread_mutex_lock(&mu);
        if (!input || input_off > input_len) {
                pthread_mutex_unlock(&mu);
                return NULL;
        }
        const uint8_t *start = input + input_off;
        size_t left = input_len - input_off;
        const uint8_t *sep = memmem(start, left, SEP, strlen(SEP));
        size_t len = sep ? (size_t)(sep - start) : left;
        input_off = sep ? input_off + len + strlen(SEP) : input_len + 1;
        size_t hl = strlen(host), cap = len * (hl > 6 ? hl : 6) / 6 + len + 1;
        char *out = malloc(cap), *o = out;
        for (size_t i = 0; i < len;) {
                if (len - i >= strlen(HOST_MARK) && !memcmp(start + i, HOST_MARK, 6)) {
                        memcpy(o, host, hl);
                        o += hl;
                        i += strlen(HOST_MARK);
                } else {
                        *o++ = (char)start[i++];
                }
        }
        pthread_mutex_unlock(&mu);
        *ret_len = (size_t)(o - out);
        return out;
}

static void serve_one(int fd)
{
        struct timeval tv = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char req[16384];
        size_t got = 0;
        while (got < sizeof(req) - 1) { /* the request head; a body is left unread */
                ssize_t n = read(fd, req + got, sizeof(req) - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
                req[got] = '\0';
                /* a TLS ClientHello (the client probes TLS first): answer it at once */
                if (strstr(req, "\r\n\r\n") || (unsigned char)req[0] == 0x16)
                        break;
        }
        if (got > 0 && (unsigned char)req[0] == 0x16) { /* TLS: no, plain HTTP here */
                close(fd);
                return;
        }
        size_t len = 0;
        char *resp = next_response(&len);
        static const char none[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        const char *p = resp ? resp : none;
        size_t left = resp ? len : strlen(none);
        while (left > 0) {
                ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
                if (n <= 0)
                        break;
                p += n;
                left -= (size_t)n;
        }
        free(resp);
        shutdown(fd, SHUT_WR);
        /* what the client sent and we did not read, taken without waiting: closing
         * on unread bytes would reset the connection before the client reads */
        while (recv(fd, req, sizeof(req), MSG_DONTWAIT) > 0)
                ;
        close(fd);
}

static void *server(void *arg)
{
        int lfd = (int)(intptr_t)arg;
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0)
                        serve_one(fd);
        }
        return NULL;
}

/* A network namespace with only lo, up. */
static void loopback_only(void)
{
        if (unshare(CLONE_NEWNET) < 0) {
                perror("fuzz-registry-response: unshare(CLONE_NEWNET) (needs root)");
                exit(1);
        }
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {0};
        strcpy(ifr.ifr_name, "lo");
        if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
                perror("fuzz-registry-response: lo");
                exit(1);
        }
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
                perror("fuzz-registry-response: lo up");
                exit(1);
        }
        close(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        loopback_only();
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof(a);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
            getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
                perror("fuzz-registry-response: listen");
                exit(1);
        }
        snprintf(host, sizeof(host), "127.0.0.1:%u", ntohs(a.sin_port));
        pthread_t t;
        if (pthread_create(&t, NULL, server, (void *)(intptr_t)lfd) != 0)
                exit(1);
        sha256_digest(BLOB, strlen(BLOB), blob_digest);
        static char *insecure[2], *certs[] = {"/nonexistent/berth-fuzz-certs.d", NULL};
        insecure[0] = host;
        struct registry_options o = {.insecure = insecure,
                                     .certs_dirs = certs,
                                     .connect_timeout_ms = 2000,
                                     .low_speed_time_s = 2,
                                     .max_attempts = 2,
                                     .backoff_initial_ms = 1,
                                     .backoff_max_ms = 1};
        struct berth_error *err = NULL;
        if (registry_client_new(&o, &client, &err) < 0) {
                fprintf(stderr, "fuzz-registry-response: %s\n", berth_error_msg(err));
                exit(1);
        }
        return 0;
}

struct sink {
        EVP_MD_CTX *md;
};

static int sink_fn(const void *buf, size_t n, void *userdata, struct berth_error **err)
{
        struct sink *s = userdata;
        EVP_DigestUpdate(s->md, buf, n);
        return 0;
}

/* Through an index, the manifest is the one the index names for linux/amd64. */
static void check_index_choice(const struct registry_image *img)
{
        struct oci_index *x = NULL;
        struct oci_platform want = {.os = "linux", .architecture = "amd64"};
        if (oci_index_parse(img->index.body, img->index.len, &x, NULL) < 0)
                __builtin_trap(); /* resolved through an index it cannot parse */
        int i = oci_index_select(x, &want, NULL);
        if (i < 0 || strcmp(x->manifests[i].digest, img->manifest.digest) != 0)
                __builtin_trap();
        oci_index_free(x);
}

static void check_err(int r, struct berth_error **err)
{
        if (r < 0 && (!*err || !(*err)->msg || !*(*err)->msg))
                __builtin_trap();
        berth_error_free(*err);
        *err = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        pthread_mutex_lock(&mu);
        input = data;
        input_len = size;
        input_off = 1; /* the first byte chooses; responses follow */
        pthread_mutex_unlock(&mu);
        bool creds = size && (data[0] & 1);
        struct registry_auth auth = {.username = "fuzz", .password = "secret"};
        struct registry_repo *r = NULL;
        struct berth_error *err = NULL;
        int rc = registry_repo_open(client, host, "fuzz/repo", creds ? &auth : NULL, REGISTRY_PULL,
                                    &r, &err);
        check_err(rc, &err);
        if (rc == 0) {
                struct registry_image img = {0};
                rc = registry_resolve(r, "latest", NULL, &img, &err);
                check_err(rc, &err);
                if (rc == 0) {
                        char d[72];
                        sha256_digest(img.manifest.body, img.manifest.len, d);
                        if (strcmp(d, img.manifest.digest) != 0)
                                __builtin_trap(); /* a digest that is not of the bytes */
                        if (img.index.body)
                                check_index_choice(&img);
                        registry_image_release(&img);
                }
                char **tags = NULL;
                rc = registry_tags_list(r, &tags, &err);
                check_err(rc, &err);
                if (rc == 0 && !tags)
                        __builtin_trap();
                strv_free(tags);
                struct sink s = {EVP_MD_CTX_new()};
                EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
                rc = registry_blob_fetch(r, blob_digest, -1, sink_fn, &s, &err);
                check_err(rc, &err);
                unsigned char md[32];
                unsigned int n = 0;
                EVP_DigestFinal_ex(s.md, md, &n);
                EVP_MD_CTX_free(s.md);
                if (rc == 0) {
                        /* registry.h: each byte reaches the sink exactly once, in order,
                         * across resumed connections: a success is the blob asked for */
                        char got[72] = "sha256:";
                        for (int i = 0; i < 32; i++)
                                snprintf(got + 7 + 2 * i, 3, "%02x", md[i]);
                        if (strcmp(got, blob_digest) != 0)
                                __builtin_trap();
                }
                registry_repo_free(r);
        }
        pthread_mutex_lock(&mu);
        input = NULL;
        pthread_mutex_unlock(&mu);
        return 0;
}
