/*
 * seccomp-oci-json.h — test-only: a linux.seccomp JSON object turned into
 * struct oci_seccomp, for test-seccomp.c and fuzz-seccomp.c.
 *
 * Stands in for oci_spec_parse() (branch 'oci', written concurrently) so the
 * seccomp tests do not wait for it; once the OCI parser is merged the tests
 * should go through it instead and this file should go.  Strictness is only
 * what the tests need: wrong types and unknown names are refused.
 *
 * Never: include from library code.
 */
#ifndef BERTH_TESTS_SECCOMP_OCI_JSON_H
#define BERTH_TESTS_SECCOMP_OCI_JSON_H

#include <string.h>

#include "base/json.h"
#include "oci/runtime-spec.h"

static void test_oci_seccomp_free(struct oci_seccomp *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n_syscalls; i++) {
                strv_free(s->syscalls[i].names);
                free(s->syscalls[i].args);
        }
        free(s->syscalls);
        strv_free(s->architectures);
        strv_free(s->flags);
        free(s->listener_path);
        free(s->listener_metadata);
        free(s);
}

static int test_json_strv(const struct json *v, char ***ret)
{
        if (!v)
                return 0;
        if (!json_is(v, JSON_ARRAY))
                return -EINVAL;
        char **out = xcalloc(v->arr.n + 1, sizeof(char *));
        for (size_t i = 0; i < v->arr.n; i++) {
                if (!json_is(v->arr.items[i], JSON_STRING)) {
                        strv_free(out);
                        return -EINVAL;
                }
                out[i] = xstrdup(json_str(v->arr.items[i]));
        }
        *ret = out;
        return 0;
}

static int test_json_action(const struct json *v, enum oci_seccomp_action *ret)
{
        static const char *const names[] = {
            "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
            "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
        };
        const char *s = json_str(v);
        for (size_t i = 0; s && i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (enum oci_seccomp_action)i;
                        return 0;
                }
        return -EINVAL;
}

static int test_json_op(const struct json *v, enum oci_seccomp_op *ret)
{
        static const char *const names[] = {
            "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
            "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
        };
        const char *s = json_str(v);
        for (size_t i = 0; s && i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (enum oci_seccomp_op)i;
                        return 0;
                }
        return -EINVAL;
}

static bool test_json_u64(const struct json *v, uint64_t *ret)
{
        if (!json_is(v, JSON_NUMBER) || !(v->num.flags & JSON_NUM_UINT))
                return false;
        *ret = v->num.u;
        return true;
}

static int test_json_syscall(const struct json *j, struct oci_seccomp_syscall *sc)
{
        uint64_t u;

        if (!json_is(j, JSON_OBJECT))
                return -EINVAL;
        if (test_json_strv(json_get(j, "names"), &sc->names) < 0 || !sc->names || !sc->names[0])
                return -EINVAL;
        if (test_json_action(json_get(j, "action"), &sc->action) < 0)
                return -EINVAL;
        if (json_get(j, "errnoRet")) {
                if (!test_json_u64(json_get(j, "errnoRet"), &u) || u > UINT32_MAX)
                        return -EINVAL;
                sc->has_errno_ret = true;
                sc->errno_ret = (uint32_t)u;
        }
        struct json *args = json_get(j, "args");
        if (!args)
                return 0;
        if (!json_is(args, JSON_ARRAY))
                return -EINVAL;
        sc->args = xcalloc(args->arr.n + 1, sizeof(*sc->args));
        for (size_t i = 0; i < args->arr.n; i++) {
                struct json *a = args->arr.items[i];
                struct oci_seccomp_arg *o = &sc->args[sc->n_args++];
                if (!test_json_u64(json_get(a, "index"), &u) || u > 1000)
                        return -EINVAL;
                o->index = (unsigned)u;
                if (!test_json_u64(json_get(a, "value"), &o->value))
                        return -EINVAL;
                if (json_get(a, "valueTwo") &&
                    !test_json_u64(json_get(a, "valueTwo"), &o->value_two))
                        return -EINVAL;
                if (test_json_op(json_get(a, "op"), &o->op) < 0)
                        return -EINVAL;
        }
        return 0;
}

/* linux.seccomp object → struct; -EINVAL on anything malformed. */
static int test_oci_seccomp_from_json(const struct json *j, struct oci_seccomp **ret)
{
        uint64_t u;

        if (!json_is(j, JSON_OBJECT))
                return -EINVAL;
        struct oci_seccomp *s = xcalloc(1, sizeof(*s));
        if (test_json_action(json_get(j, "defaultAction"), &s->default_action) < 0)
                goto fail;
        if (json_get(j, "defaultErrnoRet")) {
                if (!test_json_u64(json_get(j, "defaultErrnoRet"), &u) || u > UINT32_MAX)
                        goto fail;
                s->has_default_errno_ret = true;
                s->default_errno_ret = (uint32_t)u;
        }
        if (test_json_strv(json_get(j, "architectures"), &s->architectures) < 0 ||
            test_json_strv(json_get(j, "flags"), &s->flags) < 0)
                goto fail;
        struct json *list = json_get(j, "syscalls");
        if (list) {
                if (!json_is(list, JSON_ARRAY))
                        goto fail;
                s->syscalls = xcalloc(list->arr.n + 1, sizeof(*s->syscalls));
                for (size_t i = 0; i < list->arr.n; i++)
                        if (test_json_syscall(list->arr.items[i], &s->syscalls[s->n_syscalls++]) <
                            0)
                                goto fail;
        }
        *ret = s;
        return 0;
fail:
        test_oci_seccomp_free(s);
        return -EINVAL;
}

#endif
