/*
 * version.h — what this build is: berth's version, the git commit and commit
 * time it was built from (stamped by meson's vcs_tag at build time, "unknown"
 * outside a git checkout), and the C compiler that built it.
 *
 * The commit time stands in for docker's "Built" so builds are reproducible;
 * `berth version` labels it "(commit time)".
 */
#ifndef BERTH_BASE_VERSION_H
#define BERTH_BASE_VERSION_H

#include <stdint.h>

extern const char berth_version[];
extern const char berth_git_commit[];  /* short hash, or "unknown" */
extern const int64_t berth_build_time; /* unix seconds of the commit, 0 when unknown */
extern const char berth_compiler[];    /* "gcc 12.2.0" */

#endif
