/*
 * berth.c — the CLI's main: everything is in src/cli (cli_main).
 */
#include <signal.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
        /* A daemon that goes away mid-request is an error we report, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        int code = cli_main(argc, argv, stdout, stderr);
        fflush(stdout);
        return code;
}
