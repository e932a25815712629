/*
 * crashpoint.h — named places where berthd can be made to die, for the tests
 * that prove a crash anywhere in an operation leaves state whole.
 *
 * BERTH_CRASH_AT=<name> in berthd's environment makes crashpoint(<name>)
 * SIGKILL the process when it is reached: no cleanup handler, no
 * flush, exactly a `kill -9` at that line.  Without the variable a crash point
 * costs one load and compare of a pointer read once at start.  The names are
 * listed where they are placed (grep crashpoint), one per step whose
 * interruption leaves a different state on disk.
 *
 * Never: guard anything but a crash with it; a crash point changes no
 * behaviour except dying.
 */
#ifndef BERTH_BASE_CRASHPOINT_H
#define BERTH_BASE_CRASHPOINT_H

void crashpoint_slow(const char *name);
extern const char *crashpoint_armed; /* BERTH_CRASH_AT, or NULL */

static inline void crashpoint(const char *name)
{
        if (__builtin_expect(crashpoint_armed != 0, 0))
                crashpoint_slow(name);
}

/* Read BERTH_CRASH_AT; call once, single-threaded, at start. */
void crashpoint_init(void);

#endif
