/*
 * dockerignore.h — the .dockerignore file of a build context: which paths the
 * client leaves out of the context it sends, read exactly as docker reads it.
 *
 * Docker's rules live in three places, and this module follows each:
 *  - moby/patternmatcher/ignorefile.ReadAll reads the file: lines split at
 *    '\n' (a '\r' before it dropped), a UTF-8 BOM dropped from the first line,
 *    a line whose first byte is '#' is a comment (" # x" is a pattern), then
 *    surrounding Unicode whitespace trimmed, blank lines dropped, '!' marks an
 *    exception (whitespace after it trimmed too), the rest goes through Go's
 *    filepath.Clean ("./a/../b/" is "b") and loses one leading '/' (so
 *    "/foo" is "foo": every pattern is relative to the context's root).
 *  - patternmatcher.New trims and cleans once more, refuses a lone "!" with
 *    docker's words (illegal exclusion pattern: "!") and a pattern Go's
 *    filepath.Match calls malformed ("syntax error in pattern"), and turns
 *    each pattern into a matcher: '*' any run of characters but '/', '?' one
 *    character but '/', "[a-z]" / "[^a-z]" a class ('!' does not negate: Go's
 *    syntax is '^'), '\' escapes the next character, "**" any number of
 *    directories (alone, first, last or between two slashes).
 *  - MatchesOrParentMatches decides a path: patterns in file order, the last
 *    one that applies wins, and a pattern applies when it matches the path or
 *    any of its parent directories ("docs" excludes docs/a/b; "!docs/README.md"
 *    after it brings that one file back).
 *
 * The Dockerfile and .dockerignore: docker's CLI always sends both, even when
 * the patterns exclude them, because the daemon must read the Dockerfile; see
 * dockerignore_keep_build_files().  The daemon then reads .dockerignore from
 * the context itself and, once it has read the Dockerfile, removes either
 * file from the context when the file's own patterns exclude it
 * (dockerignore_excluded() on a fresh parse), so COPY . never copies them.
 *
 * Where berth parts from docker, on purpose, each is said in dockerignore.c's
 * header (mostly corners where docker's translation to a Go regular expression
 * gives a pattern a meaning filepath.Match does not, and patterns docker only
 * refuses when a file first reaches them, refused here at parse time).
 *
 * Matching runs in time linear in the path for each pattern (a set of states
 * stepped once per character, never backtracking), so no pattern, however
 * many "**" it holds, can stall a build.
 *
 * Never: read the file system (this is pure: text in, answers out), or
 * take time beyond linear in a path for any pattern.
 */
#ifndef BERTH_BUILD_DOCKERIGNORE_H
#define BERTH_BUILD_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct dockerignore;

/*
 * Parse the text of a .dockerignore (len bytes, any bytes; an empty text is
 * an empty list).  On a bad line, -EINVAL and a message that names the line
 * and the pattern: "line 3: syntax error in pattern '[a-'", "line 2: illegal
 * exclusion pattern: \"!\"", "line 9: longer than 65535 bytes" (Go's line
 * reader refuses those too).  The caller adds the file's name.
 */
int dockerignore_parse(const char *text, size_t len, struct dockerignore **ret,
                       struct berth_error **err);
void dockerignore_free(struct dockerignore *di);
static inline void dockerignore_freep(struct dockerignore **di)
{
        dockerignore_free(*di);
}
#define _cleanup_dockerignore_ _cleanup_(dockerignore_freep)

/* The patterns as docker keeps them: cleaned, without the '!' of an exception
 * (*ret_exception says; may be NULL).  i < dockerignore_count(). */
size_t dockerignore_count(const struct dockerignore *di);
const char *dockerignore_pattern(const struct dockerignore *di, size_t i, bool *ret_exception);

/*
 * Whether relpath is left out of the context: docker's MatchesOrParentMatches.
 * relpath is relative to the context's root, '/'-separated and clean (no "."
 * or ".." element, no doubled or trailing '/'), as a walker builds it; "" and
 * "." are never excluded.  Files and directories are judged alike (docker's
 * patterns cannot tell them apart: "dir/" is cleaned to "dir").
 */
bool dockerignore_excluded(const struct dockerignore *di, const char *relpath);

/*
 * Whether a walker may skip the directory reldir and everything below it:
 * reldir is excluded and no exception could bring back anything under it.
 * docker's rule, kept as docker has it: when there are exceptions, a
 * directory is walked only if some exception's text starts with "reldir/" or
 * is reldir itself; an exception that matches below reldir through a
 * wildcard before that point ("!*\/keep" under an excluded "dir") does not
 * stop the skip, and docker sends nothing of it either.  A directory that is
 * excluded but not skipped is not sent itself; what its walk finds is judged
 * path by path.
 */
bool dockerignore_can_skip_dir(const struct dockerignore *di, const char *reldir);

/*
 * The client's half of "the Dockerfile and .dockerignore are always sent"
 * (docker/cli's TrimBuildFilesFromExcludes): when .dockerignore is excluded,
 * add the exception "!.dockerignore"; when dockerfile (its path relative to
 * the context, as -f names it inside the context) is excluded and was not
 * read from stdin, add the exception for it.  Call once after parsing, before
 * walking.  A dockerfile outside the context ("../x", absolute) adds nothing:
 * the client sends such a file under a name of its own.
 */
void dockerignore_keep_build_files(struct dockerignore *di, const char *dockerfile,
                                   bool dockerfile_from_stdin);

#endif
