/*
 * caps.c — process.capabilities: the five capability sets.
 *
 * How: the bounding set is reduced with PR_CAPBSET_DROP while we still hold
 * CAP_SETPCAP (before the uid switch); after setresuid (with PR_SET_KEEPCAPS)
 * effective, permitted and inheritable are set with one capset(2), and the
 * ambient set is cleared and then raised cap by cap.  A set absent from
 * config.json is empty; inheritable and ambient are therefore empty unless
 * the config asks for them.  With no capabilities object at all the
 * process keeps what it has, as runc does.
 *
 * Never: leave ambient capabilities from the caller in place; allocate (this
 * runs in the child right before execve).
 */
#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "base/fileio.h"
#include "runtime/runtime-internal.h"

static int last_cap = -1;

static int cap_last(void)
{
        if (last_cap < 0) {
                _cleanup_free_ char *s = NULL;
                uint64_t v = 0;
                if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &s, NULL) == 0) {
                        s[strcspn(s, "\n")] = '\0';
                        if (parse_u64(s, &v) == 0 && v < 64)
                                last_cap = (int)v;
                }
                if (last_cap < 0)
                        last_cap = CAP_LAST_CAP;
        }
        return last_cap;
}

uint64_t caps_all_mask(void)
{
        int l = cap_last();
        return l >= 63 ? ~0ULL : (1ULL << (l + 1)) - 1;
}

int caps_drop_bounding(const struct oci_capabilities *c, struct berth_error **err)
{
        if (!c)
                return 0;
        uint64_t keep = c->has[OCI_CAP_BOUNDING] ? c->set[OCI_CAP_BOUNDING] : 0;
        int l = cap_last();
        for (int i = 0; i <= l; i++) {
                if (keep & (1ULL << i))
                        continue;
                if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0)
                        return berth_error_sys(err, errno, "drop capability %d from bounding set",
                                               i);
        }
        return 0;
}

int caps_apply(const struct oci_capabilities *c, struct berth_error **err)
{
        if (!c) {
                (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
                return 0;
        }
        uint64_t mask = caps_all_mask();
        uint64_t eff = (c->has[OCI_CAP_EFFECTIVE] ? c->set[OCI_CAP_EFFECTIVE] : 0) & mask;
        uint64_t perm = (c->has[OCI_CAP_PERMITTED] ? c->set[OCI_CAP_PERMITTED] : 0) & mask;
        uint64_t inh = (c->has[OCI_CAP_INHERITABLE] ? c->set[OCI_CAP_INHERITABLE] : 0) & mask;
        uint64_t amb = (c->has[OCI_CAP_AMBIENT] ? c->set[OCI_CAP_AMBIENT] : 0) & mask;
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof(d));
        for (int i = 0; i < 2; i++) {
                d[i].effective = (uint32_t)(eff >> (32 * i));
                d[i].permitted = (uint32_t)(perm >> (32 * i));
                d[i].inheritable = (uint32_t)(inh >> (32 * i));
        }
        if (syscall(SYS_capset, &h, d) < 0)
                return berth_error_sys(err, errno, "set capabilities");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return berth_error_sys(err, errno, "clear ambient capabilities");
        for (int i = 0; i < 64; i++) {
                if (!(amb & (1ULL << i)))
                        continue;
                /* the kernel refuses an ambient cap not in permitted and inheritable: ignore it as
                 * runc does */
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0 && errno != EPERM)
                        return berth_error_sys(err, errno, "raise ambient capability %d", i);
        }
        return 0;
}
