/*
 * reference.c — Docker's reference grammar, hand-written (no regex engine):
 * each part of the grammar is a small matcher over a span of the string, and
 * parse() splits the string the way the anchored regular expression of
 * distribution/reference would: digest after the first '@', tag after the last
 * ':' that follows the last '/', and the first path component taken as the
 * domain when it is a valid domain and the rest a valid path (the optional
 * domain group of the regex is greedy).
 *
 * Never: print, or return a reference the grammar rejects.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "base/buf.h"
#include "image/reference.h"

#define ERR_FORMAT "invalid reference format"

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
        return is_alnum(c) || c == '_';
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_valid(const char *s, size_t n)
{
        size_t i = 0;
        if (n == 0 || !is_lower_alnum(s[0]))
                return false;
        while (i < n) {
                while (i < n && is_lower_alnum(s[i]))
                        i++;
                if (i == n)
                        return true;
                size_t sep = i;
                if (s[i] == '.') {
                        i++;
                } else if (s[i] == '_') {
                        i++;
                        if (i < n && s[i] == '_')
                                i++;
                } else if (s[i] == '-') {
                        while (i < n && s[i] == '-')
                                i++;
                } else {
                        return false;
                }
                if (i == n || !is_lower_alnum(s[i]) || i == sep)
                        return false;
        }
        return true;
}

/* path: path-component ('/' path-component)* */
static bool path_valid(const char *s, size_t n)
{
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
                if (i == n || s[i] == '/') {
                        if (!path_component_valid(s + start, i - start))
                                return false;
                        start = i + 1;
                }
        }
        return true;
}

/* domain-component: [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component_valid(const char *s, size_t n)
{
        if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 1; i + 1 < n; i++)
                if (!is_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

/* domain: (domain-name | '[' ipv6 ']') (':' [0-9]+)? */
static bool domain_valid(const char *s, size_t n)
{
        size_t hostlen = n;
        if (n > 0 && s[0] == '[') {
                const char *close = memchr(s, ']', n);
                if (!close || close == s + 1)
                        return false;
                for (const char *p = s + 1; p < close; p++)
                        if (!isxdigit((unsigned char)*p) && *p != ':')
                                return false;
                hostlen = (size_t)(close - s) + 1;
        } else {
                const char *colon = memchr(s, ':', n);
                if (colon)
                        hostlen = (size_t)(colon - s);
                size_t start = 0;
                for (size_t i = 0; i <= hostlen; i++) {
                        if (i == hostlen || s[i] == '.') {
                                if (!domain_component_valid(s + start, i - start))
                                        return false;
                                start = i + 1;
                        }
                }
        }
        if (hostlen == n)
                return true;
        if (s[hostlen] != ':' || hostlen + 1 == n)
                return false;
        for (size_t i = hostlen + 1; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

bool image_ref_tag_valid(const char *tag)
{
        size_t n = strlen(tag);
        if (n == 0 || n > IMAGE_REF_TAG_MAX || !is_word(tag[0]))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_word(tag[i]) && tag[i] != '.' && tag[i] != '-')
                        return false;
        return true;
}

/* The grammar of the regex: algorithm-component ([+._-] algorithm-component)* ':' [0-9a-fA-F]{32,}
 */
static bool digest_grammar_valid(const char *s)
{
        const char *colon = strchr(s, ':');
        if (!colon)
                return false;
        const char *p = s;
        for (;;) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                        return false;
                while (p < colon && is_alnum(*p))
                        p++;
                if (p == colon)
                        break;
                if (!strchr("+._-", *p))
                        return false;
                p++;
        }
        size_t hex = 0;
        for (p = colon + 1; *p; p++, hex++)
                if (!isxdigit((unsigned char)*p))
                        return false;
        return hex >= 32;
}

int image_ref_digest_validate(const char *digest, struct berth_error **err)
{
        static const struct {
                const char *alg;
                size_t len;
        } algs[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};
        const char *colon = strchr(digest, ':');
        if (!colon || colon == digest || !colon[1])
                return berth_error_set(err, EINVAL, "invalid checksum digest format");
        size_t alen = (size_t)(colon - digest);
        for (size_t i = 0; i < ELEMENTSOF(algs); i++) {
                if (strlen(algs[i].alg) != alen || strncmp(digest, algs[i].alg, alen) != 0)
                        continue;
                const char *hex = colon + 1;
                if (strlen(hex) != algs[i].len)
                        return berth_error_set(err, EINVAL, "invalid checksum digest length");
                for (const char *p = hex; *p; p++)
                        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                                return berth_error_set(err, EINVAL,
                                                       "invalid checksum digest format");
                return 0;
        }
        if (!digest_grammar_valid(digest))
                return berth_error_set(err, EINVAL, "invalid checksum digest format");
        return berth_error_set(err, EINVAL, "unsupported digest algorithm");
}

void image_ref_free(struct image_ref *r)
{
        if (!r)
                return;
        free(r->domain);
        free(r->path);
        free(r->tag);
        free(r->digest);
        free(r);
}

struct image_ref *image_ref_dup(const struct image_ref *r)
{
        struct image_ref *d = xcalloc(1, sizeof(*d));
        d->domain = r->domain ? xstrdup(r->domain) : NULL;
        d->path = xstrdup(r->path);
        d->tag = r->tag ? xstrdup(r->tag) : NULL;
        d->digest = r->digest ? xstrdup(r->digest) : NULL;
        return d;
}

/* Matches the grammar without producing a result: used for the uppercase probe. */
static bool name_split(const char *name, size_t n, size_t *ret_domain_len)
{
        const char *slash = memchr(name, '/', n);
        if (slash) {
                size_t dl = (size_t)(slash - name);
                if (domain_valid(name, dl) && path_valid(slash + 1, n - dl - 1)) {
                        *ret_domain_len = dl;
                        return true;
                }
        }
        if (path_valid(name, n)) {
                *ret_domain_len = 0;
                return true;
        }
        return false;
}

static bool grammar_match(const char *s, size_t *ret_name_len, const char **ret_tag,
                          const char **ret_digest, size_t *ret_domain_len)
{
        const char *at = strchr(s, '@');
        size_t namelen = at ? (size_t)(at - s) : strlen(s);
        const char *digest = at ? at + 1 : NULL;
        if (digest && !digest_grammar_valid(digest))
                return false;
        const char *tag = NULL;
        const char *colon = memrchr(s, ':', namelen);
        const char *slash = memrchr(s, '/', namelen);
        if (colon && (!slash || colon > slash)) {
                tag = colon + 1;
                size_t taglen = namelen - (size_t)(tag - s);
                _cleanup_free_ char *t = xstrndup(tag, taglen);
                if (!image_ref_tag_valid(t))
                        return false;
                namelen = (size_t)(colon - s);
        }
        if (!name_split(s, namelen, ret_domain_len))
                return false;
        *ret_name_len = namelen;
        *ret_tag = tag;
        *ret_digest = digest;
        return true;
}

int image_ref_parse(const char *s, struct image_ref **ret, struct berth_error **err)
{
        size_t namelen, domlen;
        const char *tag, *digest;
        *ret = NULL;
        if (!*s)
                return berth_error_set(err, EINVAL,
                                       "repository name must have at least one component");
        if (!grammar_match(s, &namelen, &tag, &digest, &domlen)) {
                _cleanup_free_ char *lower = xstrdup(s);
                for (char *p = lower; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                if (grammar_match(lower, &namelen, &tag, &digest, &domlen))
                        return berth_error_set(err, EINVAL,
                                               ERR_FORMAT ": repository name must be lowercase");
                return berth_error_set(err, EINVAL, ERR_FORMAT);
        }
        if (namelen > IMAGE_REF_NAME_MAX)
                return berth_error_set(err, EINVAL,
                                       "repository name must not be more than 255 characters");
        if (digest) {
                int r = image_ref_digest_validate(digest, err);
                if (r < 0)
                        return r;
        }
        struct image_ref *ref = xcalloc(1, sizeof(*ref));
        if (domlen > 0) {
                ref->domain = xstrndup(s, domlen);
                ref->path = xstrndup(s + domlen + 1, namelen - domlen - 1);
        } else {
                ref->path = xstrndup(s, namelen);
        }
        if (tag)
                ref->tag = xstrndup(tag, (size_t)((digest ? digest - 1 : s + strlen(s)) - tag));
        if (digest)
                ref->digest = xstrdup(digest);
        *ret = ref;
        return 0;
}

static bool is_hex64_id(const char *s)
{
        if (strlen(s) != 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

int image_ref_parse_normalized(const char *s, struct image_ref **ret, struct berth_error **err)
{
        *ret = NULL;
        if (is_hex64_id(s))
                return berth_error_set(err, EINVAL,
                                       "invalid repository name (%s), cannot specify 64-byte "
                                       "hexadecimal strings",
                                       s);
        /* splitDockerDomain: the first component is a domain only when it looks
         * like one (has '.' or ':', is "localhost", or has uppercase letters). */
        const char *slash = strchr(s, '/');
        _cleanup_free_ char *domain = NULL;
        const char *remainder = s;
        if (slash) {
                size_t n = (size_t)(slash - s);
                bool upper = false;
                for (size_t i = 0; i < n; i++)
                        upper |= (s[i] >= 'A' && s[i] <= 'Z');
                if (memchr(s, '.', n) || memchr(s, ':', n) ||
                    (n == 9 && strncmp(s, "localhost", 9) == 0) || upper) {
                        domain = xstrndup(s, n);
                        remainder = slash + 1;
                }
        }
        if (!domain || strcmp(domain, "index.docker.io") == 0) {
                free(domain);
                domain = xstrdup(IMAGE_REF_DEFAULT_DOMAIN);
        }
        _cleanup_free_ char *rem = NULL;
        if (strcmp(domain, IMAGE_REF_DEFAULT_DOMAIN) == 0 && !strchr(remainder, '/'))
                rem = xasprintf("library/%s", remainder);
        else
                rem = xstrdup(remainder);
        size_t remote_len = strcspn(rem, ":");
        for (size_t i = 0; i < remote_len; i++)
                if (rem[i] >= 'A' && rem[i] <= 'Z')
                        return berth_error_set(err, EINVAL,
                                               ERR_FORMAT ": repository name must be lowercase");
        _cleanup_free_ char *full = xasprintf("%s/%s", domain, rem);
        struct image_ref *ref = NULL;
        int r = image_ref_parse(full, &ref, err);
        if (r < 0)
                return r;
        if (!ref->domain) {
                /* "docker.io/" + a remainder the grammar would not split: cannot happen
                 * for a valid domain, but never return a domain-less normalised ref. */
                image_ref_free(ref);
                return berth_error_set(err, EINVAL, ERR_FORMAT);
        }
        *ret = ref;
        return 0;
}

int image_ref_parse_pull(const char *s, struct image_ref **ret, struct berth_error **err)
{
        int r = image_ref_parse_normalized(s, ret, err);
        if (r < 0)
                return r;
        if (!(*ret)->tag && !(*ret)->digest)
                (*ret)->tag = xstrdup(IMAGE_REF_DEFAULT_TAG);
        if ((*ret)->tag && (*ret)->digest) {
                free((*ret)->tag);
                (*ret)->tag = NULL;
        }
        return 0;
}

char *image_ref_name(const struct image_ref *r)
{
        if (!r->domain)
                return xstrdup(r->path);
        return xasprintf("%s/%s", r->domain, r->path);
}

static char *with_suffixes(char *name, const struct image_ref *r)
{
        struct berth_buf b = BERTH_BUF_INIT;
        buf_puts(&b, name);
        free(name);
        if (r->tag) {
                buf_putc(&b, ':');
                buf_puts(&b, r->tag);
        }
        if (r->digest) {
                buf_putc(&b, '@');
                buf_puts(&b, r->digest);
        }
        return buf_steal(&b);
}

char *image_ref_string(const struct image_ref *r)
{
        return with_suffixes(image_ref_name(r), r);
}

char *image_ref_familiar_name(const struct image_ref *r)
{
        if (!r->domain || strcmp(r->domain, IMAGE_REF_DEFAULT_DOMAIN) != 0)
                return image_ref_name(r);
        if (strncmp(r->path, "library/", 8) == 0 && !strchr(r->path + 8, '/'))
                return xstrdup(r->path + 8);
        return xstrdup(r->path);
}

char *image_ref_familiar(const struct image_ref *r)
{
        return with_suffixes(image_ref_familiar_name(r), r);
}

const char *image_ref_api_host(const struct image_ref *r)
{
        if (!r->domain || strcmp(r->domain, IMAGE_REF_DEFAULT_DOMAIN) == 0)
                return "registry-1.docker.io";
        return r->domain;
}
