/*
 * flags.h — docker-style (spf13/pflag) command-line flag parsing, shared by
 * the berth CLI and berthd.
 *
 * Accepted forms, as pflag accepts them: --name value, --name=value, -n value,
 * -nvalue, -n=value, grouped boolean shorthands (-it), --bool, --bool=false,
 * repeatable list flags (-H a -H b), "--" ends the flags, "-" is an argument.
 * Two modes: flags interspersed with arguments (most commands), or parsing
 * stops at the first argument (the global level, where the first argument is
 * the command, and commands like `run` whose arguments are another command
 * line).  -h/--help is understood everywhere and reported in fs->help.
 *
 * Error messages are pflag's, word for word ("unknown flag: --x", "flag needs
 * an argument: 'H' in -H", "invalid argument \"x\" for \"-D, --debug\" flag:
 * strconv.ParseBool: parsing \"x\": invalid syntax"), because users and
 * scripts know them; the caller adds the usage hint and the exit code.
 *
 * Never: print, exit, or keep pointers into argv beyond argv's lifetime.
 */
#ifndef BERTH_CLI_FLAGS_H
#define BERTH_CLI_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

enum cli_flag_type {
        CLI_FLAG_BOOL,
        CLI_FLAG_STRING,
        CLI_FLAG_INT,
        CLI_FLAG_LIST, /* repeatable string */
};

struct cli_flag {
        const char *name; /* long name without "--" */
        char shorthand;   /* 0 when none */
        enum cli_flag_type type;
        const char *usage;      /* help text */
        const char *def;        /* default as text: initial value, and "(default …)" in help */
        const char *value_name; /* help placeholder; NULL = by type ("string", "int", "list") */
        bool hidden;
        /* Optional check of a string/list value: NULL when fine, else the reason (malloc'd),
         * reported as pflag does: invalid argument "v" for "-f, --filter" flag: <reason>. */
        char *(*validate)(const char *value);
};

struct cli_flag_value {
        bool set; /* given on the command line */
        bool b;
        char *s;
        int64_t i;
        char **list; /* NULL-terminated, or NULL */
};

enum cli_parse_mode {
        CLI_PARSE_INTERSPERSED,
        CLI_PARSE_STOP_AT_ARG,
};

struct cli_flagset {
        const struct cli_flag *flags;
        size_t n_flags;
        struct cli_flag_value *values; /* one per flag */
        char **args;                   /* positional arguments, NULL-terminated */
        size_t n_args;
        bool help; /* -h / --help seen */
};

/*
 * Parse argv[0..argc) (argv[0] is NOT the program name: pass argv+1).  In
 * STOP_AT_ARG mode the first positional argument and everything after it are
 * left in fs->args.  Returns 0 or -EINVAL with pflag's message in *err.
 */
int cli_flags_parse(struct cli_flagset *fs, const struct cli_flag *flags, size_t n_flags, int argc,
                    char *const *argv, enum cli_parse_mode mode, struct berth_error **err);
void cli_flags_release(struct cli_flagset *fs);

/* Values by long name; the name must be in the set (asserted). */
bool cli_flag_bool(const struct cli_flagset *fs, const char *name);
const char *cli_flag_string(const struct cli_flagset *fs,
                            const char *name); /* NULL if unset, no def */
int64_t cli_flag_int(const struct cli_flagset *fs, const char *name);
char **cli_flag_list(const struct cli_flagset *fs, const char *name); /* NULL if none */
bool cli_flag_is_set(const struct cli_flagset *fs, const char *name);

/* The "Options:" block as pflag lays it out (no header line). */
struct berth_buf;
void cli_flags_usage(struct berth_buf *b, const struct cli_flag *flags, size_t n_flags);

/* Go's strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False. */
int cli_parse_bool(const char *s, bool *ret);

#endif
