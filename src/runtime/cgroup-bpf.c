/*
 * cgroup-bpf.c — the devices "controller" of cgroup v2: device rules
 * compiled to a BPF_PROG_TYPE_CGROUP_DEVICE program, loaded and attached
 * with raw bpf(2) (no libbpf).
 *
 * The kernel runs the program on every open/mknod of a device node by a
 * task of the cgroup, with struct bpf_cgroup_dev_ctx { access_type = access
 * << 16 | type, major, minor }; returning 1 allows, 0 denies (EPERM).  OCI
 * semantics are "the last matching rule wins, no match denies" (a v1 cgroup
 * would fall back to its parent's list instead; configs start with a rule
 * for all devices — runc's and docker's do — and then the two agree), so the rules
 * are emitted last-to-first, each a block of checks that jumps past itself
 * on mismatch and returns the rule's verdict on match; the program ends in
 * "return 0".  A rule that matches everything ends the program there: the
 * verifier refuses unreachable instructions.
 *
 * Replacing rules (update): the new program is attached with
 * BPF_F_ALLOW_MULTI first, then the programs that were attached before are
 * detached, so there is never a moment with no filter.
 *
 * Never: attach anywhere but the container's own cgroup directory.
 */
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>

#include "runtime/cgroup-internal.h"

#define MAX_INSNS 4096

struct prog {
        struct bpf_insn insns[MAX_INSNS];
        size_t n;
};

static int sys_bpf(int cmd, union bpf_attr *attr)
{
        return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
        p->insns[p->n++] =
            (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

static int access_mask(const char *access, uint32_t *ret)
{
        uint32_t m = 0;
        for (const char *a = access && *access ? access : "rwm"; *a; a++) {
                switch (*a) {
                case 'r':
                        m |= BPF_DEVCG_ACC_READ;
                        break;
                case 'w':
                        m |= BPF_DEVCG_ACC_WRITE;
                        break;
                case 'm':
                        m |= BPF_DEVCG_ACC_MKNOD;
                        break;
                default:
                        return -EINVAL;
                }
        }
        *ret = m;
        return 0;
}

/* One rule; returns 1 when it matches everything (nothing after it can run). */
static int emit_rule(struct prog *p, const struct oci_device_cgroup *d, struct berth_error **err)
{
        const uint32_t all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
        uint32_t acc;
        if (access_mask(d->access, &acc) < 0)
                return berth_error_set(err, EINVAL,
                                       "devices: invalid access '%s' (want a subset of 'rwm')",
                                       d->access);
        int type = 0;
        switch (d->type ? d->type : 'a') {
        case 'a':
                break;
        case 'c':
                type = BPF_DEVCG_DEV_CHAR;
                break;
        case 'b':
                type = BPF_DEVCG_DEV_BLOCK;
                break;
        default:
                return berth_error_set(
                    err, EINVAL, "devices: invalid type '%c' (want 'a', 'c' or 'b')", d->type);
        }
        if (d->major > UINT32_MAX || d->minor > UINT32_MAX)
                return berth_error_set(err, EINVAL,
                                       "devices: device number %lld:%lld is out of range",
                                       (long long)d->major, (long long)d->minor);
        /* count the checks first: each jumps to the end of the block */
        size_t checks = (type ? 1 : 0) + (acc != all ? 3 : 0) + (d->major >= 0 ? 1 : 0) +
                        (d->minor >= 0 ? 1 : 0);
        size_t len = checks + 2, at = 0;
        if (p->n + len + 2 > MAX_INSNS)
                return berth_error_set(err, E2BIG, "devices: too many rules for one eBPF program");
#define SKIP ((int16_t)(len - at - 1))
        if (type) {
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, SKIP, type);
                at++;
        }
        if (acc != all) {
                /* the requested bits must all be in the rule's set */
                emit(p, BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
                at++;
                emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)(~acc & all));
                at++;
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_1, 0, SKIP, 0);
                at++;
        }
        if (d->major >= 0) {
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, SKIP,
                     (int32_t)(uint32_t)d->major);
                at++;
        }
        if (d->minor >= 0) {
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, SKIP,
                     (int32_t)(uint32_t)d->minor);
                at++;
        }
#undef SKIP
        emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, d->allow ? 1 : 0);
        emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        return checks == 0 ? 1 : 0;
}

static int build(struct prog *p, const struct oci_device_cgroup *rules, size_t n,
                 struct berth_error **err)
{
        p->n = 0;
        /* r2 = type, r3 = access, r4 = major, r5 = minor */
        emit(p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
        emit(p, BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
        emit(p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
        emit(p, BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
        emit(p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0);
        emit(p, BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0);
        for (size_t i = n; i-- > 0;) {
                int r = emit_rule(p, &rules[i], err);
                if (r < 0)
                        return r;
                if (r == 1)
                        return 0;
        }
        emit(p, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
        emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        return 0;
}

static int load(const struct prog *p, const char *dir, struct berth_error **err)
{
        static const char license[] = "Apache-2.0";
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        attr.insns = (uint64_t)(uintptr_t)p->insns;
        attr.insn_cnt = (uint32_t)p->n;
        attr.license = (uint64_t)(uintptr_t)license;
        int fd = sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd >= 0)
                return fd;
        int e = errno;
        /* again with the verifier's log, so the error says why */
        _cleanup_free_ char *log = xcalloc(1, 65536);
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = 65536;
        attr.log_level = 1;
        fd = sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd >= 0)
                return fd;
        size_t l = strlen(log);
        while (l > 0 && log[l - 1] == '\n')
                log[--l] = '\0';
        const char *last = strrchr(log, '\n');
        last = last ? last + 1 : log;
        return berth_error_sys(err, e, "devices of cgroup '%s': load eBPF device program%s%s", dir,
                               *last ? " (verifier: " : "", *last ? last : "");
}

static int query(int dir_fd, uint32_t **ret, uint32_t *ret_n)
{
        uint32_t cap = 64;
        for (;;) {
                uint32_t *ids = xcalloc(cap, sizeof(uint32_t));
                union bpf_attr attr;
                memset(&attr, 0, sizeof(attr));
                attr.query.target_fd = (uint32_t)dir_fd;
                attr.query.attach_type = BPF_CGROUP_DEVICE;
                attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
                attr.query.prog_cnt = cap;
                if (sys_bpf(BPF_PROG_QUERY, &attr) == 0) {
                        *ret = ids;
                        *ret_n = attr.query.prog_cnt;
                        return 0;
                }
                int e = errno;
                free(ids);
                if (e != ENOSPC || cap >= 65536)
                        return -e;
                cap *= 4;
        }
}

int cg_bpf_devices_apply(int dir_fd, const char *dir, const struct oci_device_cgroup *rules,
                         size_t n, struct berth_error **err)
{
        _cleanup_free_ struct prog *p = xmalloc(sizeof(*p));
        int r = build(p, rules, n, err);
        if (r < 0)
                return r;
        _cleanup_free_ uint32_t *old = NULL;
        uint32_t n_old = 0;
        r = query(dir_fd, &old, &n_old);
        if (r < 0)
                return berth_error_sys(err, r,
                                       "devices of cgroup '%s': query attached eBPF programs", dir);
        _cleanup_close_ int prog_fd = load(p, dir, err);
        if (prog_fd < 0)
                return prog_fd;
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.target_fd = (uint32_t)dir_fd;
        attr.attach_bpf_fd = (uint32_t)prog_fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
                return berth_error_sys(err, errno,
                                       "devices of cgroup '%s': attach eBPF device program", dir);
        for (uint32_t i = 0; i < n_old; i++) {
                memset(&attr, 0, sizeof(attr));
                attr.prog_id = old[i];
                _cleanup_close_ int ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
                if (ofd < 0) {
                        if (errno == ENOENT)
                                continue; /* detached meanwhile */
                        return berth_error_sys(
                            err, errno, "devices of cgroup '%s': open previous eBPF program %u",
                            dir, old[i]);
                }
                memset(&attr, 0, sizeof(attr));
                attr.target_fd = (uint32_t)dir_fd;
                attr.attach_bpf_fd = (uint32_t)ofd;
                attr.attach_type = BPF_CGROUP_DEVICE;
                if (sys_bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
                        return berth_error_sys(
                            err, errno, "devices of cgroup '%s': detach previous eBPF program %u",
                            dir, old[i]);
        }
        return 0;
}
