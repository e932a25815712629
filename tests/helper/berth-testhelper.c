/*
 * berth-testhelper — a static program the integration tests put into a
 * container's rootfs to observe the container from inside.
 *
 * `testhelper` (no arguments) prints one JSON object: uid/gid/groups,
 * the five capability sets (hex, from /proc/self/status), no_new_privs,
 * umask, cwd, hostname, rlimits, open fds with their targets, cgroup lines
 * and mount points.  `testhelper open-write PATH` tries to open PATH for
 * writing and prints {"ok": bool, "errno": N}; `open-read PATH` likewise.  `testhelper sleep`
 * pauses forever (for exec/ps/pause tests).  `testhelper udp-echo PORT` answers every IPv4
 * datagram to PORT with "echo:" and its text; `testhelper udp-send ADDR PORT TEXT` sends TEXT
 * and prints the answer (exit 1 after 3 s without one): busybox's nc has no UDP.
 *
 * Built -static with libc only, so it runs in a busybox rootfs.  Never
 * depends on anything of berth.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static void jstr(const char *s)
{
        putchar('"');
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

static void status_field(const char *key, const char *name)
{
        FILE *f = fopen("/proc/self/status", "re");
        char line[512];
        size_t kl = strlen(name);
        printf("\"%s\":", key);
        while (f && fgets(line, sizeof(line), f)) {
                if (!strncmp(line, name, kl) && line[kl] == ':') {
                        char *v = line + kl + 1;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        v[strcspn(v, "\n")] = '\0';
                        jstr(v);
                        fclose(f);
                        return;
                }
        }
        if (f)
                fclose(f);
        printf("null");
}

static void lines_of(const char *path)
{
        FILE *f = fopen(path, "re");
        char line[4096];
        bool first = true;
        putchar('[');
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                if (!first)
                        putchar(',');
                first = false;
                jstr(line);
        }
        if (f)
                fclose(f);
        putchar(']');
}

static void fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int self = d ? dirfd(d) : -1;
        struct dirent *de;
        bool first = true;
        putchar('{');
        while (d && (de = readdir(d))) {
                if (de->d_name[0] == '.' || atoi(de->d_name) == self)
                        continue;
                char p[300], t[PATH_MAX];
                snprintf(p, sizeof(p), "/proc/self/fd/%s", de->d_name);
                ssize_t n = readlink(p, t, sizeof(t) - 1);
                t[n < 0 ? 0 : n] = '\0';
                if (!first)
                        putchar(',');
                first = false;
                jstr(de->d_name);
                putchar(':');
                jstr(t);
        }
        if (d)
                closedir(d);
        putchar('}');
}

static void rlimits(void)
{
        static const struct {
                const char *name;
                int res;
        } rl[] = {{"RLIMIT_NOFILE", RLIMIT_NOFILE},
                  {"RLIMIT_NPROC", RLIMIT_NPROC},
                  {"RLIMIT_CORE", RLIMIT_CORE},
                  {"RLIMIT_STACK", RLIMIT_STACK},
                  {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}};
        putchar('{');
        for (size_t i = 0; i < sizeof(rl) / sizeof(rl[0]); i++) {
                struct rlimit r;
                getrlimit(rl[i].res, &r);
                printf("%s\"%s\":[%llu,%llu]", i ? "," : "", rl[i].name,
                       (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max);
        }
        putchar('}');
}

static int udp_echo(const char *port)
{
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
                perror("udp-echo");
                return 1;
        }
        for (;;) {
                char buf[1024], out[1100];
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                int k = snprintf(out, sizeof(out), "echo:%s", buf);
                (void)sendto(fd, out, (size_t)k, 0, (struct sockaddr *)&from, fl);
        }
}

static int udp_send(const char *addr, const char *port, const char *text)
{
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
        struct timeval tv = {.tv_sec = 3};
        if (fd < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            sendto(fd, text, strlen(text), 0, (struct sockaddr *)&a, sizeof(a)) < 0) {
                perror("udp-send");
                return 1;
        }
        char buf[1200];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
                perror("udp-send: no answer");
                return 1;
        }
        buf[n] = '\0';
        printf("%s\n", buf);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc > 2 && !strcmp(argv[1], "udp-echo"))
                return udp_echo(argv[2]);
        if (argc > 4 && !strcmp(argv[1], "udp-send"))
                return udp_send(argv[2], argv[3], argv[4]);
        if (argc > 2 && !strcmp(argv[1], "open-write")) {
                int fd = open(argv[2], O_WRONLY | O_CLOEXEC);
                printf("{\"ok\":%s,\"errno\":%d}\n", fd >= 0 ? "true" : "false",
                       fd >= 0 ? 0 : errno);
                return 0;
        }
        if (argc > 2 && !strcmp(argv[1], "open-read")) {
                int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
                printf("{\"ok\":%s,\"errno\":%d}\n", fd >= 0 ? "true" : "false",
                       fd >= 0 ? 0 : errno);
                return 0;
        }
        if (argc > 1 && !strcmp(argv[1], "sleep")) {
                for (;;)
                        pause();
        }
        printf("{\"uid\":%d,\"gid\":%d,\"euid\":%d,", (int)getuid(), (int)getgid(), (int)geteuid());
        gid_t groups[256];
        int ng = getgroups(256, groups);
        printf("\"groups\":[");
        for (int i = 0; i < ng; i++)
                printf("%s%d", i ? "," : "", (int)groups[i]);
        printf("],");
        status_field("CapInh", "CapInh");
        putchar(',');
        status_field("CapPrm", "CapPrm");
        putchar(',');
        status_field("CapEff", "CapEff");
        putchar(',');
        status_field("CapBnd", "CapBnd");
        putchar(',');
        status_field("CapAmb", "CapAmb");
        putchar(',');
        status_field("NoNewPrivs", "NoNewPrivs");
        putchar(',');
        status_field("Seccomp", "Seccomp");
        mode_t m = umask(0);
        umask(m);
        printf(",\"umask\":%u,", (unsigned)m);
        char cwd[PATH_MAX];
        printf("\"cwd\":");
        jstr(getcwd(cwd, sizeof(cwd)) ? cwd : "");
        char host[256] = "";
        gethostname(host, sizeof(host));
        printf(",\"hostname\":");
        jstr(host);
        printf(",\"pid\":%d,\"rlimits\":", (int)getpid());
        rlimits();
        printf(",\"fds\":");
        fds();
        printf(",\"cgroup\":");
        lines_of("/proc/self/cgroup");
        printf(",\"mountinfo\":");
        lines_of("/proc/self/mountinfo");
        printf(",\"oom_score_adj\":");
        FILE *f = fopen("/proc/self/oom_score_adj", "re");
        int oom = 0;
        if (f) {
                if (fscanf(f, "%d", &oom) != 1)
                        oom = 0;
                fclose(f);
        }
        printf("%d}\n", oom);
        return 0;
}
