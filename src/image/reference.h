/*
 * reference.h — image references as Docker reads and writes them.
 *
 * A user types "python", "user/app:1.0", "localhost:5000/x/y@sha256:…"; the
 * engine and the registry client need the full form: registry domain
 * ("docker.io"), repository path ("library/python"), tag and/or digest.
 * image_ref_parse_normalized() does what Docker's ParseNormalizedNamed does
 * (docker.io and library/ filled in, index.docker.io folded to docker.io);
 * image_ref_familiar() gives the short form back for display ("python:latest")
 * and image_ref_api_host() the host the distribution API is served from
 * ("registry-1.docker.io" for docker.io).
 *
 * Grammar (distribution/reference): a domain of DNS labels, IPv4 or [IPv6]
 * with an optional :port; path components of [a-z0-9]+ joined by ".", "_",
 * "__" or runs of "-"; a tag of [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a digest
 * "algorithm:hex" (sha256 needs exactly 64 lowercase hex digits, sha384 96,
 * sha512 128).  Errors use Docker's words so the CLI prints what docker prints.
 *
 * Never: accept a reference the grammar rejects, or guess at a fix.
 */
#ifndef BERTH_IMAGE_REFERENCE_H
#define BERTH_IMAGE_REFERENCE_H

#include <stdbool.h>

#include "base/error.h"

#define IMAGE_REF_DEFAULT_DOMAIN "docker.io"
#define IMAGE_REF_DEFAULT_TAG    "latest"
#define IMAGE_REF_NAME_MAX       255
#define IMAGE_REF_TAG_MAX        128

struct image_ref {
        char *domain; /* "docker.io", "localhost:5000", "[::1]:5000"; never NULL after
                         parse_normalized */
        char *path;   /* "library/python" */
        char *tag;    /* NULL when none given */
        char *digest; /* "sha256:<hex>" or NULL */
};

/* Docker's reference.Parse: the string as written, no defaults.  domain is
 * NULL when the name has no domain part. */
int image_ref_parse(const char *s, struct image_ref **ret, struct berth_error **err);
/* Docker's ParseNormalizedNamed: fills in docker.io and library/, refuses
 * uppercase repositories and bare 64-hex ids; no default tag. */
int image_ref_parse_normalized(const char *s, struct image_ref **ret, struct berth_error **err);
/* Docker's ParseDockerRef — what `pull` means: parse_normalized, then
 * ":latest" when neither tag nor digest was given, and the tag dropped when a
 * digest is there too (the digest alone names the content). */
int image_ref_parse_pull(const char *s, struct image_ref **ret, struct berth_error **err);

/* "docker.io/library/python" */
char *image_ref_name(const struct image_ref *r);
/* "docker.io/library/python:latest@sha256:…" (only the parts present) */
char *image_ref_string(const struct image_ref *r);
/* "python" — docker.io/ and library/ dropped as docker displays them */
char *image_ref_familiar_name(const struct image_ref *r);
/* "python:latest@sha256:…" */
char *image_ref_familiar(const struct image_ref *r);
/* The host:port of the distribution API: docker.io → registry-1.docker.io. */
const char *image_ref_api_host(const struct image_ref *r);

/* Validators usable on their own (tags from `docker tag`, digests from manifests).
 * digest_validate fills err with docker's messages; tag_valid is the tag grammar. */
bool image_ref_tag_valid(const char *tag);
int image_ref_digest_validate(const char *digest, struct berth_error **err);

struct image_ref *image_ref_dup(const struct image_ref *r);
void image_ref_free(struct image_ref *r);
static inline void image_ref_freep(struct image_ref **r)
{
        image_ref_free(*r);
}
#define _cleanup_image_ref_ _cleanup_(image_ref_freep)

#endif
