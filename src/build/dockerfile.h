/*
 * dockerfile.h — a Dockerfile as docker reads it: parsed into stages of typed instructions, and
 * the shell-word expansion ("$VAR", "${VAR:-x}") the builder applies to them later.
 *
 * Parsing happens in two passes, as in BuildKit's Dockerfile frontend (which docker's classic
 * builder also uses since 23.0):
 *   1. lines: a BOM, parser directives (`# syntax=`, `# escape=`, `# check=`) while nothing else
 *      has been seen, comments, line continuations with the escape character (comment lines and
 *      empty lines inside a continuation are skipped), heredoc bodies after RUN, COPY and ADD
 *      (also behind ONBUILD), then splitting into the command word, the `--flags` and the rest;
 *   2. instructions: each command's arguments by docker's rules for it (JSON exec form when the
 *      rest is a JSON array of strings, shell form otherwise; key=value pairs for ENV and LABEL
 *      with quotes kept for the expansion to remove; whitespace lists for FROM, COPY, EXPOSE …),
 *      its flags checked against the ones docker allows (`unknown flag: --x`), and grouped into
 *      stages at each FROM.
 *
 * Nothing is expanded here: a value can depend on build args the parser does not know.  The
 * builder calls dockerfile_expand() on the instructions docker expands (the Dockerfile
 * reference's "Environment replacement" list and what BuildKit adds to it):
 *     ADD COPY (sources, destination, --chown, --chmod, --from, --checksum), ENV (keys, values),
 *     ARG (default values), EXPOSE (with word splitting: dockerfile_expand_words), FROM (base
 *     name and --platform, with the ARGs before the first FROM only), LABEL (keys, values),
 *     STOPSIGNAL, USER, VOLUME, WORKDIR, RUN --mount values (dockerfile_mount_parse again on the
 *     expanded spec), and an ONBUILD trigger when it runs as one of these in a child image.
 * Never expanded: RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER, ONBUILD's own text.
 *
 * Errors read as BuildKit words them (docker 23+ prints the same through its classic builder):
 *     dockerfile parse error on line 3: unknown instruction: FOO
 * that is the logical line where the instruction starts, 1-based.  The message after the colon
 * is docker's text for each case ("unknown flag: --foo", "FROM requires either one or three
 * arguments", "unterminated heredoc", …).
 *
 * This module is pure: no I/O, no globals, no allocation it does not free on error, so the
 * fuzzer can drive it with any bytes.  Never: expand, touch the context, or guess at an
 * instruction docker would refuse.
 */
#ifndef BERTH_BUILD_DOCKERFILE_H
#define BERTH_BUILD_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

enum dockerfile_kind {
        DF_ADD,
        DF_ARG,
        DF_CMD,
        DF_COPY,
        DF_ENTRYPOINT,
        DF_ENV,
        DF_EXPOSE,
        DF_FROM,
        DF_HEALTHCHECK,
        DF_LABEL,
        DF_MAINTAINER,
        DF_ONBUILD,
        DF_RUN,
        DF_SHELL,
        DF_STOPSIGNAL,
        DF_USER,
        DF_VOLUME,
        DF_WORKDIR,
};
#define DF_KIND_COUNT (DF_WORKDIR + 1)

/* "RUN", "COPY", …; NULL for a value out of range. */
const char *dockerfile_kind_name(enum dockerfile_kind kind);

/* One `<<EOF` of a line with its body. */
struct dockerfile_heredoc {
        char *name;    /* the delimiter without its quotes: "EOF" */
        char *content; /* the body, each line with its "\n"; with chomp, leading tabs removed */
        bool expand;   /* false when any part of the delimiter was quoted (`<<"EOF"`) */
        bool chomp;    /* `<<-EOF` */
        unsigned fd;   /* `3<<EOF`: 3; 0 when none was written */
};

/* ENV, LABEL and ARG pairs; key and value unexpanded, quotes and escapes still in them. */
struct dockerfile_kv {
        char *key;
        char *value; /* NULL for an ARG without a default */
        bool legacy; /* ENV's `ENV key value` form (no '=') */
};

enum dockerfile_mount_type {
        DF_MOUNT_BIND,
        DF_MOUNT_CACHE,
        DF_MOUNT_TMPFS,
        DF_MOUNT_SECRET,
        DF_MOUNT_SSH,
};

enum dockerfile_mount_sharing {
        DF_SHARING_UNSET, /* a cache mount's default is shared */
        DF_SHARING_SHARED,
        DF_SHARING_PRIVATE,
        DF_SHARING_LOCKED,
};

/* One `RUN --mount=`, BuildKit's keys and defaults. */
struct dockerfile_mount {
        char *spec; /* the flag's value as written */
        /* A spec with '$' in it is checked at build time, after expansion, as BuildKit does:
         * then only spec is set here, and the builder calls dockerfile_mount_parse(). */
        bool deferred;
        enum dockerfile_mount_type type;
        char *from, *source, *target, *id, *env; /* NULL when absent */
        bool readonly; /* bind and secret/ssh default to read-only, cache and tmpfs not */
        bool required; /* secret and ssh */
        enum dockerfile_mount_sharing sharing;
        int64_t size; /* tmpfs size=, bytes; -1 when absent */
        bool has_mode, has_uid, has_gid;
        uint32_t mode, uid, gid;
};

/* Parse a `--mount=` value into *ret (released first); docker's messages on errors. */
int dockerfile_mount_parse(const char *spec, struct dockerfile_mount *ret,
                           struct berth_error **err);
void dockerfile_mount_release(struct dockerfile_mount *m);

/* The flags of one instruction; only those its kind accepts can be set. */
struct dockerfile_flags {
        char *platform;                  /* FROM */
        char *from;                      /* COPY */
        char *chown;                     /* COPY, ADD */
        char *chmod;                     /* COPY, ADD */
        char *checksum;                  /* ADD */
        bool link;                       /* COPY, ADD */
        bool parents;                    /* COPY */
        bool keep_git_dir;               /* ADD */
        bool unpack, unpack_set;         /* ADD --unpack (BuildKit 1.17 labs, accepted) */
        char **exclude;                  /* COPY, ADD: NULL-terminated, NULL when none */
        struct dockerfile_mount *mounts; /* RUN */
        size_t n_mounts;
        char *network;  /* RUN: "default", "none" or "host"; NULL when not given */
        char *security; /* RUN: "sandbox" or "insecure"; NULL when not given */
        /* HEALTHCHECK, nanoseconds, 0 when not given */
        int64_t interval, timeout, start_period, start_interval;
        int retries;
};

struct dockerfile_instruction {
        enum dockerfile_kind kind;
        unsigned line, end_line; /* first and last physical line, 1-based */
        char *command;           /* the command word as written: "run" */
        char *original; /* the logical line, continuations joined, as docker's Node.Original */
        /* The arguments, NULL-terminated, unexpanded:
         *   RUN, CMD, ENTRYPOINT, SHELL: exec form: the JSON strings; shell form: one string.
         *   HEALTHCHECK: {"NONE"} or {"CMD", cmd…} (cmd as for CMD).
         *   FROM: {image} or {image, "AS", name}.   COPY, ADD: sources…, destination.
         *   EXPOSE: the ports, sorted as docker sorts them.   VOLUME: the paths.
         *   USER, WORKDIR, STOPSIGNAL, MAINTAINER: the one string.
         *   ENV, LABEL, ARG: the words; see kvs.   ONBUILD: {the trigger's text}. */
        char **args;
        bool json;                 /* exec (JSON) form */
        struct dockerfile_kv *kvs; /* ENV, LABEL, ARG */
        size_t n_kvs;
        struct dockerfile_flags flags;
        struct dockerfile_heredoc *heredocs; /* RUN, COPY, ADD */
        size_t n_heredocs;
        /* HEALTHCHECK: docker's Healthcheck.Test: {"NONE"}, {"CMD", args…} or {"CMD-SHELL", cmd} */
        char **health_test;
        /* ONBUILD: the trigger as docker stores it in the image (text after ONBUILD, with any
         * heredoc bodies appended) and that trigger parsed, or NULL when docker would only find
         * out at trigger time that it is bad (an unknown instruction, say). */
        char *onbuild_expression;
        struct dockerfile_instruction *onbuild;
};

struct dockerfile_stage {
        char *base;     /* FROM's image, unexpanded ("scratch", "${BASE}") */
        char *name;     /* lower-cased `AS` name, or NULL */
        char *platform; /* --platform, unexpanded, or NULL */
        unsigned line;
        struct dockerfile_instruction *from;          /* the FROM itself */
        struct dockerfile_instruction **instructions; /* after FROM; FROM not included */
        size_t n_instructions;
};

struct dockerfile_directive {
        char *name; /* lower-cased: "syntax", "escape" or "check" */
        char *value;
        unsigned line;
};

struct dockerfile {
        char escape; /* '\\' or '`' */
        struct dockerfile_directive *directives;
        size_t n_directives;
        struct dockerfile_instruction **meta_args; /* ARGs before the first FROM */
        size_t n_meta_args;
        struct dockerfile_stage *stages;
        size_t n_stages;
};

/*
 * Parse len bytes of a Dockerfile (need not be NUL-terminated).  A NUL byte inside an
 * instruction is refused ("invalid NUL byte in instruction"; docker would read it as a character,
 * our strings cannot hold it); a heredoc body ends at one.  On success *ret is the whole file; on
 * error a negative errno (-EINVAL for what docker would refuse) and one line in *err as above.
 */
int dockerfile_parse(const char *buf, size_t len, struct dockerfile **ret,
                     struct berth_error **err);
void dockerfile_free(struct dockerfile *df);
static inline void dockerfile_freep(struct dockerfile **df)
{
        dockerfile_free(*df);
}
#define _cleanup_dockerfile_ _cleanup_(dockerfile_freep)

void dockerfile_instruction_free(struct dockerfile_instruction *ins);

/*
 * Expansion, BuildKit's shell lexer (frontend/dockerfile/shell): $NAME, ${NAME}, ${NAME:-word},
 * ${NAME-word}, ${NAME:+word}, ${NAME+word}, ${NAME:?msg}, ${NAME?msg}, ${NAME#pat},
 * ${NAME##pat}, ${NAME%pat}, ${NAME%%pat}, ${NAME/pat/repl}, ${NAME//pat/repl}; $1 and the
 * special $@ $* $# $? $- $$ $! $0 are looked up like names; single quotes literal, double quotes
 * expanding, the escape character escaping the next character (inside double quotes only ", $
 * and itself).  Quotes and escapes are removed from the result.
 *
 * lookup returns the value of a name or NULL when it is unset.
 */
typedef const char *(*dockerfile_lookup_fn)(const char *name, void *userdata);

enum dockerfile_expand_flags {
        DF_EXPAND_RAW_QUOTES = 1 << 0,  /* keep the quote characters */
        DF_EXPAND_RAW_ESCAPES = 1 << 1, /* keep the escape characters */
        DF_EXPAND_SKIP_UNSET = 1 << 2,  /* leave $NAME of an unset name as written */
};

/* ProcessWord: one string.  Errors as BuildKit's: `failed to process "${a": syntax error:
 * missing '}'`. */
int dockerfile_expand(const char *word, dockerfile_lookup_fn lookup, void *userdata, char escape,
                      unsigned flags, char **ret, struct berth_error **err);
/* ProcessWords: the result split into words at unquoted white space, where white space that
 * came out of a variable's value splits too (as for EXPOSE $PORTS); NULL-terminated. */
int dockerfile_expand_words(const char *word, dockerfile_lookup_fn lookup, void *userdata,
                            char escape, unsigned flags, char ***ret, struct berth_error **err);

#endif
