/*
 * crashpoint.c — BERTH_CRASH_AT (contract in crashpoint.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"

const char *crashpoint_armed;

void crashpoint_init(void)
{
        const char *v = getenv("BERTH_CRASH_AT");
        crashpoint_armed = v && *v ? v : NULL;
}

void crashpoint_slow(const char *name)
{
        if (strcmp(name, crashpoint_armed) != 0)
                return;
        static const char msg[] = "berthd: BERTH_CRASH_AT reached, killing myself\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        raise(SIGKILL);
}
