/*
 * dockerfile-internal.h — what the files of the Dockerfile module share and nobody else uses.
 */
#ifndef BERTH_BUILD_DOCKERFILE_INTERNAL_H
#define BERTH_BUILD_DOCKERFILE_INTERNAL_H

/* Go's %q of s (quotes, backslash escapes, \xNN for control bytes), for docker's messages that
 * quote a value; a new string. */
char *dockerfile_quote_go(const char *s);

#endif
