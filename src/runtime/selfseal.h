/*
 * selfseal.h — make the running runtime binary unwritable through
 * /proc/<pid>/exe before any of our code runs inside a container
 * (the CVE-2019-5736 class).  See selfseal.c for how and why.
 */
#ifndef BERTH_RUNTIME_SELFSEAL_H
#define BERTH_RUNTIME_SELFSEAL_H

#include <stdbool.h>

#include "base/error.h"

/*
 * If /proc/self/exe can be opened for writing by anyone who gets hold of it,
 * re-execute the same binary, with the same argv and environment, from a
 * read-only view of it (on success this does not return).  Returns 0 when the
 * binary already is sealed, a negative errno with *err set when it cannot be.
 */
int runtime_seal_self(char **argv, struct berth_error **err);
/* Whether /proc/self/exe is on a read-only mount or a write-sealed memfd. */
bool runtime_self_is_sealed(void);

#endif
