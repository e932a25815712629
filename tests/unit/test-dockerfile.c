/*
 * test-dockerfile.c — the Dockerfile parser and docker's word expansion: every instruction in
 * both forms, directives, continuations, escapes, heredocs, flags, stages, and the messages
 * docker gives on bad input (BuildKit's wording, "dockerfile parse error on line N: …").
 */
#include <check.h>
#include <string.h>

#include "build/dockerfile.h"

static struct dockerfile *parse_ok(const char *text)
{
        struct dockerfile *df = NULL;
        struct berth_error *err = NULL;
        int r = dockerfile_parse(text, strlen(text), &df, &err);
        ck_assert_msg(r == 0, "parse failed: %s\n---\n%s", berth_error_msg(err), text);
        return df;
}

static void parse_fails(const char *text, const char *want)
{
        struct dockerfile *df = NULL;
        struct berth_error *err = NULL;
        int r = dockerfile_parse(text, strlen(text), &df, &err);
        ck_assert_msg(r == -EINVAL, "parse of %s did not fail", text);
        ck_assert_ptr_null(df);
        ck_assert_str_eq(berth_error_msg(err), want);
        berth_error_free(err);
}

/* The first instruction after FROM of the first stage. */
static const struct dockerfile_instruction *first(const struct dockerfile *df)
{
        ck_assert_uint_ge(df->n_stages, 1);
        ck_assert_uint_ge(df->stages[0].n_instructions, 1);
        return df->stages[0].instructions[0];
}

static void args_eq(char **args, const char *const *want)
{
        size_t i = 0;
        for (; want[i]; i++) {
                ck_assert_msg(args[i] != NULL, "missing arg %zu (%s)", i, want[i]);
                ck_assert_str_eq(args[i], want[i]);
        }
        ck_assert_msg(args[i] == NULL, "extra arg %s", args[i]);
}

#define ARGS(v, ...) args_eq((v), (const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_from_and_stages)
{
        struct dockerfile *df = parse_ok("ARG BASE=busybox\n"
                                         "ARG TAG\n"
                                         "FROM ${BASE}:${TAG} AS Build\n"
                                         "RUN make\n"
                                         "from --platform=linux/arm64 scratch\n"
                                         "COPY --from=build /out /\n");
        ck_assert_uint_eq(df->n_meta_args, 2);
        ck_assert_str_eq(df->meta_args[0]->kvs[0].key, "BASE");
        ck_assert_str_eq(df->meta_args[0]->kvs[0].value, "busybox");
        ck_assert_ptr_null(df->meta_args[1]->kvs[0].value);
        ck_assert_uint_eq(df->n_stages, 2);
        ck_assert_str_eq(df->stages[0].base, "${BASE}:${TAG}");
        ck_assert_str_eq(df->stages[0].name, "build");
        ck_assert_ptr_null(df->stages[0].platform);
        ck_assert_uint_eq(df->stages[0].line, 3);
        ck_assert_uint_eq(df->stages[0].n_instructions, 1);
        ck_assert_str_eq(df->stages[1].base, "scratch");
        ck_assert_ptr_null(df->stages[1].name);
        ck_assert_str_eq(df->stages[1].platform, "linux/arm64");
        ck_assert_str_eq(df->stages[1].from->command, "from");
        const struct dockerfile_instruction *c = df->stages[1].instructions[0];
        ck_assert_int_eq(c->kind, DF_COPY);
        ck_assert_str_eq(c->flags.from, "build");
        ck_assert_uint_eq(c->line, 6);
        dockerfile_free(df);

        parse_fails("FROM a AS 1x\n", "dockerfile parse error on line 1: invalid name for build "
                                      "stage: \"1x\", name can't start with a number or contain "
                                      "symbols");
        parse_fails("FROM a b\n", "dockerfile parse error on line 1: FROM requires either one or "
                                  "three arguments");
        parse_fails("FROM\n", "dockerfile parse error on line 1: FROM requires either one or "
                              "three arguments");
        parse_fails("FROM --plat=x a\n", "dockerfile parse error on line 1: unknown flag: --plat");
        parse_fails("RUN x\n", "dockerfile parse error on line 1: no build stage in current "
                               "context");
        parse_fails("ARG x\n", "dockerfile contains no stages to build");
        parse_fails("", "file with no instructions");
        parse_fails("# just a comment\n\n", "file with no instructions");
}
END_TEST

START_TEST(test_exec_and_shell_forms)
{
        struct dockerfile *df = parse_ok("FROM a\n"
                                         "RUN echo hi && ls\n"
                                         "RUN [\"/bin/sh\", \"-c\", \"echo \\\"x\\\"\"]\n"
                                         "CMD [\"a\"] trailing\n"
                                         "ENTRYPOINT [ ]\n"
                                         "CMD [\"unterminated\"\n"
                                         "SHELL [\"powershell\", \"-command\"]\n"
                                         "RUN\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        ck_assert(!ins[0]->json);
        ARGS(ins[0]->args, "echo hi && ls");
        ck_assert(ins[1]->json);
        ARGS(ins[1]->args, "/bin/sh", "-c", "echo \"x\"");
        ck_assert(!ins[2]->json); /* not valid JSON as a whole: shell form */
        ARGS(ins[2]->args, "[\"a\"] trailing");
        ck_assert(ins[3]->json);
        ck_assert_ptr_null(ins[3]->args[0]);
        ck_assert(!ins[4]->json);
        ck_assert(ins[5]->json);
        ARGS(ins[5]->args, "powershell", "-command");
        ck_assert_ptr_null(ins[6]->args[0]);
        dockerfile_free(df);

        parse_fails("FROM a\nCMD [1, \"x\"]\n",
                    "dockerfile parse error on line 2: when using JSON array syntax, arrays must "
                    "be comprised of strings only");
        parse_fails("FROM a\nSHELL /bin/bash -c\n",
                    "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON "
                    "form");
        parse_fails("FROM a\nSHELL []\n",
                    "dockerfile parse error on line 2: SHELL requires at least one argument");
        parse_fails("FROM a\nCMD --x echo\n",
                    "dockerfile parse error on line 2: unknown flag: --x");
}
END_TEST

START_TEST(test_env_label_arg)
{
        struct dockerfile *df = parse_ok("FROM a\n"
                                         "ENV A=1 B=\"two words\" C=three\\ words\n"
                                         "ENV OLD legacy value  here\n"
                                         "LABEL \"com.example\"=\"x y\" v='1'\n"
                                         "ARG X=1 Y\n"
                                         "ENV E=\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        ck_assert_uint_eq(ins[0]->n_kvs, 3);
        ck_assert_str_eq(ins[0]->kvs[1].key, "B");
        ck_assert_str_eq(ins[0]->kvs[1].value, "\"two words\"");
        ck_assert_str_eq(ins[0]->kvs[2].value, "three\\ words");
        ck_assert(!ins[0]->kvs[0].legacy);
        ck_assert_uint_eq(ins[1]->n_kvs, 1);
        ck_assert_str_eq(ins[1]->kvs[0].key, "OLD");
        ck_assert_str_eq(ins[1]->kvs[0].value, "legacy value  here");
        ck_assert(ins[1]->kvs[0].legacy);
        ck_assert_str_eq(ins[2]->kvs[0].key, "\"com.example\"");
        ck_assert_str_eq(ins[2]->kvs[0].value, "\"x y\"");
        ck_assert_str_eq(ins[2]->kvs[1].value, "'1'");
        ck_assert_uint_eq(ins[3]->n_kvs, 2);
        ck_assert_str_eq(ins[3]->kvs[0].value, "1");
        ck_assert_ptr_null(ins[3]->kvs[1].value);
        ck_assert_str_eq(ins[4]->kvs[0].value, "");
        dockerfile_free(df);

        parse_fails("FROM a\nENV A=1 B\n",
                    "dockerfile parse error on line 2: Syntax error - can't find = in \"B\". Must "
                    "be of the form: name=value");
        parse_fails("FROM a\nENV ONLY\n",
                    "dockerfile parse error on line 2: ENV must have two arguments");
        parse_fails("FROM a\nLABEL x\n",
                    "dockerfile parse error on line 2: LABEL must have two arguments");
        parse_fails("FROM a\nENV\n",
                    "dockerfile parse error on line 2: ENV requires at least one argument");
        parse_fails("FROM a\nENV =x\n", "dockerfile parse error on line 2: ENV names can not be "
                                        "blank");
        parse_fails("FROM a\nARG =x\n", "dockerfile parse error on line 2: ARG names can not be "
                                        "blank");
        parse_fails("FROM a\nARG\n",
                    "dockerfile parse error on line 2: ARG requires at least one argument");
}
END_TEST

START_TEST(test_simple_instructions)
{
        struct dockerfile *df = parse_ok("FROM a\n"
                                         "EXPOSE 8080/tcp 443 80\n"
                                         "USER app:app\n"
                                         "WORKDIR /srv/my app\n"
                                         "STOPSIGNAL SIGTERM\n"
                                         "MAINTAINER Jane <jane@example.com>\n"
                                         "VOLUME /data /logs\n"
                                         "VOLUME [\"/a b\"]\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        ck_assert_int_eq(ins[0]->kind, DF_EXPOSE);
        ARGS(ins[0]->args, "443", "80", "8080/tcp"); /* sorted, as docker does */
        ARGS(ins[1]->args, "app:app");
        ARGS(ins[2]->args, "/srv/my app");
        ARGS(ins[3]->args, "SIGTERM");
        ck_assert_int_eq(ins[4]->kind, DF_MAINTAINER);
        ARGS(ins[4]->args, "Jane <jane@example.com>");
        ARGS(ins[5]->args, "/data", "/logs");
        ck_assert(ins[6]->json);
        ARGS(ins[6]->args, "/a b");
        ck_assert_str_eq(dockerfile_kind_name(ins[6]->kind), "VOLUME");
        dockerfile_free(df);

        parse_fails("FROM a\nFOO bar\n", "dockerfile parse error on line 2: unknown instruction: "
                                         "FOO (did you mean FROM?)");
        parse_fails("FROM a\nfrobnicate x\n", "dockerfile parse error on line 2: unknown "
                                              "instruction: frobnicate");
        parse_fails("FROM a\ncoppy a b\n", "dockerfile parse error on line 2: unknown "
                                           "instruction: coppy (did you mean copy?)");
        parse_fails("FROM a\nCOPPY a b\n", "dockerfile parse error on line 2: unknown "
                                           "instruction: COPPY (did you mean COPY?)");
        parse_fails("FROM a\nUSER\n", "dockerfile parse error on line 2: USER requires exactly one "
                                      "argument");
        parse_fails("FROM a\nEXPOSE\n", "dockerfile parse error on line 2: EXPOSE requires at "
                                        "least one argument");
        parse_fails("FROM a\nVOLUME [\"\"]\n", "dockerfile parse error on line 2: VOLUME specified "
                                               "can not be an empty string");
        parse_fails("FROM a\nWORKDIR --x=1 /a\n", "dockerfile parse error on line 2: unknown flag: "
                                                  "--x");
}
END_TEST

START_TEST(test_copy_add_flags)
{
        struct dockerfile *df = parse_ok(
            "FROM a\n"
            "COPY --chown=1:2 --chmod=0755 --link --parents --exclude=*.md --exclude=x "
            "src/ \"b c\" /dst/\n"
            "ADD --checksum=sha256:abc --keep-git-dir=true --link=false https://x/y.tgz /\n"
            "COPY [\"a b\", \"/c\"]\n"
            "COPY -- --weird /x\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        const struct dockerfile_flags *f = &ins[0]->flags;
        ck_assert_str_eq(f->chown, "1:2");
        ck_assert_str_eq(f->chmod, "0755");
        ck_assert(f->link && f->parents);
        ARGS(f->exclude, "*.md", "x");
        /* COPY's list is split at white space only: quotes stay */
        ARGS(ins[0]->args, "src/", "\"b", "c\"", "/dst/");
        f = &ins[1]->flags;
        ck_assert_str_eq(f->checksum, "sha256:abc");
        ck_assert(f->keep_git_dir && !f->link);
        ck_assert(ins[2]->json);
        ARGS(ins[2]->args, "a b", "/c");
        ARGS(ins[3]->args, "--weird", "/x");
        dockerfile_free(df);

        parse_fails("FROM a\nCOPY --foo=1 a b\n",
                    "dockerfile parse error on line 2: unknown flag: --foo (did you mean from?)");
        parse_fails("FROM a\nCOPY --verbose a b\n",
                    "dockerfile parse error on line 2: unknown flag: --verbose");
        parse_fails("FROM a\nCOPY --chmodd=1 a b\n",
                    "dockerfile parse error on line 2: unknown flag: --chmodd (did you mean "
                    "chmod?)");
        parse_fails("FROM a\nADD --from=x a b\n",
                    "dockerfile parse error on line 2: unknown flag: --from");
        parse_fails("FROM a\nCOPY --chown a b\n",
                    "dockerfile parse error on line 2: missing a value on flag: --chown");
        parse_fails("FROM a\nCOPY --link=maybe a b\n",
                    "dockerfile parse error on line 2: expecting boolean value for flag --link, "
                    "not: maybe");
        parse_fails("FROM a\nCOPY --from=a --from=b a b\n",
                    "dockerfile parse error on line 2: duplicate flag specified: --from");
        parse_fails("FROM a\nCOPY onlyone\n",
                    "dockerfile parse error on line 2: COPY requires at least two arguments, but "
                    "only one was provided. Destination could not be determined");
        parse_fails("FROM a\nADD\n",
                    "dockerfile parse error on line 2: ADD requires at least two arguments, but "
                    "only one was provided. Destination could not be determined");
}
END_TEST

START_TEST(test_run_flags_and_mounts)
{
        struct dockerfile *df = parse_ok(
            "FROM a\n"
            "RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1 "
            "--network=none --security=insecure pip install x\n"
            "RUN --mount=type=bind,source=.,target=/src,rw --mount=target=/t make\n"
            "RUN --mount=type=tmpfs,target=/tmp,size=64m --mount=type=secret,id=tok,required "
            "x\n"
            "RUN --mount=type=ssh --mount=target=$DIR,type=bind y\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        const struct dockerfile_flags *f = &ins[0]->flags;
        ck_assert_uint_eq(f->n_mounts, 1);
        const struct dockerfile_mount *m = &f->mounts[0];
        ck_assert_int_eq(m->type, DF_MOUNT_CACHE);
        ck_assert_str_eq(m->target, "/root/.cache");
        ck_assert_str_eq(m->id, "pip");
        ck_assert_int_eq(m->sharing, DF_SHARING_LOCKED);
        ck_assert(m->has_mode && m->mode == 0700 && m->has_uid && m->uid == 1 && !m->has_gid);
        ck_assert(!m->readonly);
        ck_assert_str_eq(f->network, "none");
        ck_assert_str_eq(f->security, "insecure");
        ARGS(ins[0]->args, "pip install x");
        f = &ins[1]->flags;
        ck_assert_uint_eq(f->n_mounts, 2);
        ck_assert_int_eq(f->mounts[0].type, DF_MOUNT_BIND);
        ck_assert_str_eq(f->mounts[0].source, ".");
        ck_assert(!f->mounts[0].readonly);
        ck_assert(f->mounts[1].readonly); /* a bind mount is read-only by default */
        ck_assert_ptr_null(f->network);
        f = &ins[2]->flags;
        ck_assert_int_eq(f->mounts[0].type, DF_MOUNT_TMPFS);
        ck_assert_int_eq(f->mounts[0].size, 64 * 1024 * 1024);
        ck_assert_int_eq(f->mounts[1].type, DF_MOUNT_SECRET);
        ck_assert(f->mounts[1].required && f->mounts[1].readonly);
        f = &ins[3]->flags;
        ck_assert_int_eq(f->mounts[0].type, DF_MOUNT_SSH);
        ck_assert(f->mounts[1].deferred);
        ck_assert_str_eq(f->mounts[1].spec, "target=$DIR,type=bind");
        dockerfile_free(df);

        parse_fails("FROM a\nRUN --mount=type=nfs x\n",
                    "dockerfile parse error on line 2: unsupported mount type \"nfs\"");
        parse_fails("FROM a\nRUN --mount=type=bind,mode=0700 x\n",
                    "dockerfile parse error on line 2: mode not allowed for \"bind\" type mounts");
        parse_fails("FROM a\nRUN --mount=type=cache,sharing=maybe x\n",
                    "dockerfile parse error on line 2: unsupported sharing value \"maybe\"");
        parse_fails("FROM a\nRUN --mount=type=bind,sharing=shared x\n",
                    "dockerfile parse error on line 2: invalid cache sharing set for bind mount");
        parse_fails("FROM a\nRUN --mount=type=secret x\n",
                    "dockerfile parse error on line 2: invalid secret mount. one of source, "
                    "target required");
        parse_fails("FROM a\nRUN --mount=type=bind,size=1 x\n",
                    "dockerfile parse error on line 2: unexpected key 'size' for mount type "
                    "'bind'");
        parse_fails("FROM a\nRUN --mount=type=bind,colour=red x\n",
                    "dockerfile parse error on line 2: unexpected key 'colour' in 'colour=red'");
        parse_fails("FROM a\nRUN --mount=type=bind,oops x\n",
                    "dockerfile parse error on line 2: invalid field 'oops' must be a key=value "
                    "pair");
        parse_fails("FROM a\nRUN --mount=type=cache,uid=x x\n",
                    "dockerfile parse error on line 2: invalid value x for uid");
        parse_fails("FROM a\nRUN --mount=from=$STAGE/x x\n",
                    "dockerfile parse error on line 2: 'from' doesn't support variable "
                    "expansion, define alias stage instead");
        parse_fails("FROM a\nRUN --network=bridge x\n",
                    "dockerfile parse error on line 2: invalid network mode \"bridge\"");
        parse_fails("FROM a\nRUN --security=open x\n",
                    "dockerfile parse error on line 2: security \"open\" is not valid");
        parse_fails("FROM a\nRUN --mount x\n",
                    "dockerfile parse error on line 2: missing a value on flag: --mount");
}
END_TEST

START_TEST(test_healthcheck)
{
        struct dockerfile *df =
            parse_ok("FROM a\n"
                     "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s "
                     "--start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1\n"
                     "HEALTHCHECK CMD [\"/bin/check\", \"-q\"]\n"
                     "HEALTHCHECK NONE\n"
                     "healthcheck --retries=0 cmd true\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        const struct dockerfile_flags *f = &ins[0]->flags;
        ck_assert_int_eq(f->interval, 30000000000LL);
        ck_assert_int_eq(f->timeout, 90000000000LL);
        ck_assert_int_eq(f->start_period, 5000000000LL);
        ck_assert_int_eq(f->start_interval, 500000000LL);
        ck_assert_int_eq(f->retries, 3);
        ARGS(ins[0]->health_test, "CMD-SHELL", "curl -f http://localhost/ || exit 1");
        ARGS(ins[1]->health_test, "CMD", "/bin/check", "-q");
        ARGS(ins[2]->health_test, "NONE");
        ARGS(ins[3]->health_test, "CMD-SHELL", "true");
        dockerfile_free(df);

        parse_fails("FROM a\nHEALTHCHECK NONE x\n",
                    "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments");
        parse_fails("FROM a\nHEALTHCHECK CMD\n",
                    "dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD");
        parse_fails("FROM a\nHEALTHCHECK RUN x\n",
                    "dockerfile parse error on line 2: Unknown type \"RUN\" in HEALTHCHECK (try "
                    "CMD)");
        parse_fails("FROM a\nHEALTHCHECK --interval=abc CMD x\n",
                    "dockerfile parse error on line 2: time: invalid duration \"abc\"");
        parse_fails("FROM a\nHEALTHCHECK --interval=1us CMD x\n",
                    "dockerfile parse error on line 2: Interval \"interval\" cannot be less than "
                    "1ms");
        parse_fails("FROM a\nHEALTHCHECK --retries=-1 CMD x\n",
                    "dockerfile parse error on line 2: --retries cannot be negative (-1)");
        parse_fails("FROM a\nHEALTHCHECK --retries=x CMD x\n",
                    "dockerfile parse error on line 2: strconv.ParseInt: parsing \"x\": invalid "
                    "syntax");
        parse_fails("FROM a\nHEALTHCHECK\n",
                    "dockerfile parse error on line 2: HEALTHCHECK requires at least one argument");
}
END_TEST

START_TEST(test_onbuild)
{
        struct dockerfile *df = parse_ok("FROM a\n"
                                         "ONBUILD RUN echo hi\n"
                                         "onbuild COPY --chown=1 . /app\n"
                                         "ONBUILD FOO bar\n"
                                         "ONBUILD RUN <<EOF\n"
                                         "echo x\n"
                                         "EOF\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        ck_assert_int_eq(ins[0]->kind, DF_ONBUILD);
        ck_assert_str_eq(ins[0]->onbuild_expression, "RUN echo hi");
        ck_assert_int_eq(ins[0]->onbuild->kind, DF_RUN);
        ARGS(ins[0]->onbuild->args, "echo hi");
        ck_assert_str_eq(ins[1]->onbuild->flags.chown, "1");
        ck_assert_str_eq(ins[1]->onbuild_expression, "COPY --chown=1 . /app");
        /* docker only finds out when a child image runs the trigger */
        ck_assert_ptr_null(ins[2]->onbuild);
        ck_assert_str_eq(ins[2]->onbuild_expression, "FOO bar");
        ck_assert_str_eq(ins[3]->onbuild_expression, "RUN <<EOF\necho x\nEOF");
        ck_assert_uint_eq(ins[3]->onbuild->n_heredocs, 1);
        ck_assert_uint_eq(ins[3]->end_line, 7);
        dockerfile_free(df);

        parse_fails("FROM a\nONBUILD ONBUILD RUN x\n",
                    "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` "
                    "isn't allowed");
        parse_fails("FROM a\nONBUILD FROM b\n",
                    "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger");
        parse_fails("FROM a\nONBUILD maintainer me\n",
                    "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD "
                    "trigger");
        parse_fails("FROM a\nONBUILD\n",
                    "dockerfile parse error on line 2: ONBUILD requires at least one argument");
}
END_TEST

START_TEST(test_continuations_and_comments)
{
        struct dockerfile *df = parse_ok("  FROM a\n"
                                         "# a comment\n"
                                         "RUN apt-get update && \\\n"
                                         "    # a comment inside\n"
                                         "\n"
                                         "    apt-get install -y \\  \n"
                                         "      curl\n"
                                         "\trun echo done\\\\\n"
                                         "RUN echo \\\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        ck_assert_uint_eq(df->stages[0].n_instructions, 3);
        ARGS(ins[0]->args, "apt-get update &&     apt-get install -y       curl");
        ck_assert_uint_eq(ins[0]->line, 3);
        ck_assert_uint_eq(ins[0]->end_line, 7);
        ck_assert_str_eq(ins[0]->command, "RUN");
        /* an escaped escape does not continue */
        ARGS(ins[1]->args, "echo done\\\\");
        ck_assert_uint_eq(ins[1]->line, 8);
        /* a continuation at the end of the file ends the instruction */
        ARGS(ins[2]->args, "echo");
        dockerfile_free(df);

        /* CRLF line endings */
        df = parse_ok("FROM a\r\nRUN a \\\r\n b\r\n");
        ARGS(first(df)->args, "a  b");
        dockerfile_free(df);

        parse_fails("FROM a\n\\\n  \n", "dockerfile parse error on line 2: unknown instruction: ");
}
END_TEST

START_TEST(test_directives)
{
        struct dockerfile *df = parse_ok("\xef\xbb\xbf# syntax=docker/dockerfile:1\n"
                                         "#  ESCAPE = `\n"
                                         "# check=skip=all\n"
                                         "FROM a\n"
                                         "RUN dir c:\\ `\n"
                                         "  && echo x\n"
                                         "COPY a\\b c\n");
        ck_assert_uint_eq(df->n_directives, 3);
        ck_assert_str_eq(df->directives[0].name, "syntax");
        ck_assert_str_eq(df->directives[0].value, "docker/dockerfile:1");
        ck_assert_str_eq(df->directives[1].name, "escape");
        ck_assert_uint_eq(df->directives[1].line, 2);
        ck_assert_int_eq(df->escape, '`');
        ARGS(first(df)->args, "dir c:\\   && echo x");
        ck_assert_uint_eq(first(df)->line, 5);
        dockerfile_free(df);

        /* after a comment, a blank line or an instruction they are comments */
        df = parse_ok("# hello\n# escape=`\nFROM a\nRUN a \\\n b\n");
        ck_assert_uint_eq(df->n_directives, 0);
        ck_assert_int_eq(df->escape, '\\');
        ARGS(first(df)->args, "a  b");
        dockerfile_free(df);
        df = parse_ok("\n# escape=`\nFROM a\n");
        ck_assert_uint_eq(df->n_directives, 0);
        dockerfile_free(df);
        /* an unknown directive ends them too */
        df = parse_ok("# foo=bar\n# escape=`\nFROM a\n");
        ck_assert_uint_eq(df->n_directives, 0);
        dockerfile_free(df);

        parse_fails("# escape=x\nFROM a\n", "dockerfile parse error on line 1: invalid escape "
                                            "token 'x' does not match ` or \\");
        parse_fails("# escape=`\n# escape=\\\nFROM a\n",
                    "dockerfile parse error on line 2: only one escape parser directive can be "
                    "used");
}
END_TEST

START_TEST(test_heredocs)
{
        struct dockerfile *df = parse_ok("FROM a\n"
                                         "RUN <<EOF\n"
                                         "echo $HOME\n"
                                         "EOF\n"
                                         "RUN <<-\"END\" cat > /x && 3<<'B' cat\n"
                                         "\t\tindented\n"
                                         "\tEND\n"
                                         "body b\n"
                                         "B\n"
                                         "COPY <<EOF <<EOT /dst/\n"
                                         "one\n"
                                         "EOF\n"
                                         "two\n"
                                         "EOT\n"
                                         "RUN [\"echo\", \"<<EOF\"]\n"
                                         "RUN echo a<<b\n");
        struct dockerfile_instruction **ins = df->stages[0].instructions;
        ck_assert_uint_eq(ins[0]->n_heredocs, 1);
        ck_assert_str_eq(ins[0]->heredocs[0].name, "EOF");
        ck_assert_str_eq(ins[0]->heredocs[0].content, "echo $HOME\n");
        ck_assert(ins[0]->heredocs[0].expand && !ins[0]->heredocs[0].chomp);
        ARGS(ins[0]->args, "<<EOF");
        ck_assert_uint_eq(ins[1]->n_heredocs, 2);
        ck_assert_str_eq(ins[1]->heredocs[0].name, "END");
        ck_assert_str_eq(ins[1]->heredocs[0].content, "indented\n");
        ck_assert(ins[1]->heredocs[0].chomp && !ins[1]->heredocs[0].expand);
        ck_assert_str_eq(ins[1]->heredocs[1].name, "B");
        ck_assert_uint_eq(ins[1]->heredocs[1].fd, 3);
        ck_assert_str_eq(ins[1]->heredocs[1].content, "body b\n");
        ck_assert_uint_eq(ins[1]->line, 5);
        ck_assert_uint_eq(ins[1]->end_line, 9);
        ck_assert_int_eq(ins[2]->kind, DF_COPY);
        ARGS(ins[2]->args, "<<EOF", "<<EOT", "/dst/");
        ck_assert_str_eq(ins[2]->heredocs[1].content, "two\n");
        ck_assert_uint_eq(ins[3]->n_heredocs, 0); /* exec form has no heredocs */
        ck_assert_uint_eq(ins[4]->n_heredocs, 0); /* "a<<b" is not a heredoc word */
        ck_assert_uint_eq(ins[4]->line, 16);
        dockerfile_free(df);

        parse_fails("FROM a\nRUN <<EOF\necho\n", "dockerfile parse error on line 2: unterminated "
                                                 "heredoc");
        parse_fails("FROM a\nCOPY a <<EOF\nx\nEOF\n",
                    "dockerfile parse error on line 2: COPY cannot accept a heredoc as a "
                    "destination");
        /* a broken structure later in the file is reported before a bad instruction */
        parse_fails("FROM a\nFOO\nRUN <<EOF\n", "dockerfile parse error on line 3: unterminated "
                                                "heredoc");
}
END_TEST

/* ---- expansion ---- */

static const char *env_lookup(const char *name, void *userdata)
{
        static const char *const env[][2] = {
            {"HOME", "/root"}, {"EMPTY", ""},        {"SP", "a b  c"}, {"PATH", "/usr/bin:/bin"},
            {"1", "one"},      {"FILE", "x.tar.gz"}, {"$", "pid"},
        };
        (void)userdata;
        for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
                if (strcmp(env[i][0], name) == 0)
                        return env[i][1];
        return NULL;
}

struct expand_case {
        const char *in;
        const char *out; /* NULL: an error, err then */
        const char *err;
};

static const struct expand_case expand_cases[] = {
    {"$HOME", "/root", NULL},
    {"${HOME}/x", "/root/x", NULL},
    {"$HOMEx", "", NULL},
    {"$UNSET", "", NULL},
    {"a$", "a$", NULL},
    {"$1$$", "onepid", NULL},
    {"${UNSET:-dflt}", "dflt", NULL},
    {"${EMPTY:-dflt}", "dflt", NULL},
    {"${EMPTY-dflt}", "", NULL},
    {"${UNSET-dflt}", "dflt", NULL},
    {"${HOME:-dflt}", "/root", NULL},
    {"${HOME:+alt}", "alt", NULL},
    {"${EMPTY:+alt}", "", NULL},
    {"${EMPTY+alt}", "alt", NULL},
    {"${UNSET+alt}", "", NULL},
    {"${UNSET:-$HOME/x}", "/root/x", NULL},
    {"${HOME:?}", "/root", NULL},
    {"${UNSET:?must be set}", NULL,
     "failed to process \"${UNSET:?must be set}\": UNSET: must "
     "be set"},
    {"${EMPTY:?}", NULL, "failed to process \"${EMPTY:?}\": EMPTY: is not allowed to be empty"},
    {"${UNSET?}", NULL, "failed to process \"${UNSET?}\": UNSET: is not allowed to be unset"},
    {"${FILE#*.}", "tar.gz", NULL},
    {"${FILE##*.}", "gz", NULL},
    {"${FILE%.*}", "x.tar", NULL},
    {"${FILE%%.*}", "x", NULL},
    {"${PATH/bin/sbin}", "/usr/sbin:/bin", NULL},
    {"${PATH//bin/sbin}", "/usr/sbin:/sbin", NULL},
    {"${PATH/\\/usr/}", "/bin:/bin", NULL},
    {"'$HOME'", "$HOME", NULL},
    {"\"$HOME\"", "/root", NULL},
    {"\\$HOME", "$HOME", NULL},
    {"\"a\\\"b\\$c\\d\"", "a\"b$c\\d", NULL},
    {"a\\ b", "a b", NULL},
    {"'it'\"'\"'s'", "it's", NULL},
    {"trailing\\", "trailing", NULL},
    {"${", NULL, "failed to process \"${\": syntax error: missing '}'"},
    {"${HOME", NULL, "failed to process \"${HOME\": syntax error: missing '}'"},
    {"${}", NULL, "failed to process \"${}\": syntax error: bad substitution"},
    {"${:-x}", NULL, "failed to process \"${:-x}\": syntax error: bad substitution"},
    {"${HOME:#x}", NULL,
     "failed to process \"${HOME:#x}\": unsupported modifier (:#) in substitution"},
    {"${HOME^x}", NULL,
     "failed to process \"${HOME^x}\": unsupported modifier (^) in substitution"},
    {"'open", NULL,
     "failed to process \"'open\": unexpected end of statement while looking "
     "for matching single-quote"},
    {"\"open", NULL,
     "failed to process \"\\\"open\": unexpected end of statement while "
     "looking for matching double-quote"},
};

START_TEST(test_expand_table)
{
        for (size_t i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]); i++) {
                const struct expand_case *c = &expand_cases[i];
                char *out = NULL;
                struct berth_error *err = NULL;
                int r = dockerfile_expand(c->in, env_lookup, NULL, '\\', 0, &out, &err);
                if (c->out) {
                        ck_assert_msg(r == 0, "%s: %s", c->in, berth_error_msg(err));
                        ck_assert_msg(strcmp(out, c->out) == 0, "%s: got '%s' want '%s'", c->in,
                                      out, c->out);
                        free(out);
                } else {
                        ck_assert_msg(r == -EINVAL, "%s did not fail", c->in);
                        ck_assert_str_eq(berth_error_msg(err), c->err);
                        berth_error_free(err);
                }
        }
}
END_TEST

START_TEST(test_expand_words_and_modes)
{
        char **w = NULL;
        ck_assert_int_eq(
            dockerfile_expand_words("80 $SP \"x y\" ''", env_lookup, NULL, '\\', 0, &w, NULL), 0);
        ARGS(w, "80", "a", "b", "c", "x y");
        strv_free(w);
        ck_assert_int_eq(
            dockerfile_expand_words("pre$SP\"q\"", env_lookup, NULL, '\\', 0, &w, NULL), 0);
        ARGS(w, "prea", "b", "cq");
        strv_free(w);
        ck_assert_int_eq(dockerfile_expand_words("  ", env_lookup, NULL, '\\', 0, &w, NULL), 0);
        ck_assert_ptr_null(w[0]);
        strv_free(w);

        char *s = NULL;
        /* the escape directive's backtick */
        ck_assert_int_eq(dockerfile_expand("c:\\dir `$HOME", env_lookup, NULL, '`', 0, &s, NULL),
                         0);
        ck_assert_str_eq(s, "c:\\dir $HOME");
        free(s);
        ck_assert_int_eq(
            dockerfile_expand("'$A' \"b\" \\c $UNSET ${UNSET:-x}", env_lookup, NULL, '\\',
                              DF_EXPAND_RAW_QUOTES | DF_EXPAND_RAW_ESCAPES | DF_EXPAND_SKIP_UNSET,
                              &s, NULL),
            0);
        ck_assert_str_eq(s, "'$A' \"b\" \\c $UNSET ${UNSET:-x}");
        free(s);
        ck_assert_int_eq(dockerfile_expand("$HOME", NULL, NULL, '\\', 0, &s, NULL), 0);
        ck_assert_str_eq(s, "");
        free(s);
}
END_TEST

START_TEST(test_nul_and_garbage)
{
        static const char text[] = "FROM a\nRUN a\0b\n";
        struct dockerfile *df = NULL;
        struct berth_error *err = NULL;
        ck_assert_int_eq(dockerfile_parse(text, sizeof(text) - 1, &df, &err), -EINVAL);
        ck_assert_str_eq(berth_error_msg(err),
                         "dockerfile parse error on line 2: invalid NUL byte in instruction");
        berth_error_free(err);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("dockerfile");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_from_and_stages);
        tcase_add_test(tc, test_exec_and_shell_forms);
        tcase_add_test(tc, test_env_label_arg);
        tcase_add_test(tc, test_simple_instructions);
        tcase_add_test(tc, test_copy_add_flags);
        tcase_add_test(tc, test_run_flags_and_mounts);
        tcase_add_test(tc, test_healthcheck);
        tcase_add_test(tc, test_onbuild);
        tcase_add_test(tc, test_continuations_and_comments);
        tcase_add_test(tc, test_directives);
        tcase_add_test(tc, test_heredocs);
        tcase_add_test(tc, test_expand_table);
        tcase_add_test(tc, test_expand_words_and_modes);
        tcase_add_test(tc, test_nul_and_garbage);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
