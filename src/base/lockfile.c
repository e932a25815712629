/*
 * lockfile.c — exclusive OFD locks on pid-bearing files (contract in lockfile.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "lockfile.h"

/* The holder writes its pid right after locking: give it a moment. */
static pid_t read_holder(int fd)
{
        for (int tries = 0; tries < 20; tries++) {
                char buf[32] = "";
                ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                if (n > 0) {
                        buf[n] = '\0';
                        long pid = strtol(buf, NULL, 10);
                        if (pid > 0)
                                return (pid_t)pid;
                }
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        return 0;
}

int lockfile_acquire(const char *path, int *ret_fd, pid_t *ret_holder, struct berth_error **err)
{
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return berth_error_sys(err, errno, "open lock file '%s'", path);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
                if (errno != EAGAIN && errno != EACCES)
                        return berth_error_sys(err, errno, "lock '%s'", path);
                if (ret_holder)
                        *ret_holder = read_holder(fd);
                return -EBUSY;
        }
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
                return berth_error_sys(err, errno, "write lock file '%s'", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}
