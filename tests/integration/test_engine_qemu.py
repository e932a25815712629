"""The whole engine on a pure cgroup v2 host (and on a pure v1 one), for real.

test_cgroup_v2_qemu.py boots Debian's kernel under qemu to run the cgroup
library alone; this boots the same kernel with berthd, berth, berth-shim,
berth-shim-helper (and -lite where built) and berth-init (the dynamic ones with their shared
libraries and loader, found by ldd), overlay.ko, brd.ko (a block device for
the device and io checks) and a busybox docker-archive made here, and runs
qemu_engine_checks.sh: berthd starts, `berth load -i` loads the image, and
real containers run.  Each check prints "CHECK <name> OK" or
"FAIL: <name>: <detail>" on the serial console; the guest then powers off.

The initramfs is rootfs, where pivot_root(2) fails, so /init copies the
guest into a tmpfs and switch_roots into it; the second stage mounts proc,
sys, dev, cgroup2 at /sys/fs/cgroup (pure v2: every controller, enabled in
the root's subtree_control as an init system does; below that, delegating
is the engine's job) or, with berth.mode=v1 on the kernel command line, the
v1 hierarchies as distros mount them without systemd (tmpfs, cpu,cpuacct
and net_cls,net_prio co-mounted with their symlinks, one mount per other
controller), and tmpfs on /run, /tmp and /var/lib/berth.  berthd runs in a
cgroup of its own (/berthd.service on v2), is killed with SIGKILL once and
started again (live restore).

Installs nothing: scripts/deps.sh test provides qemu-system-x86, cpio,
busybox-static and the unpacked kernel; a missing one fails the test.
Everything made here is in a temp dir removed afterwards; the guest is
killed at the host-side bound and its console tail printed on failure.
"""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import build_path, BUSYBOX
from container_util import busybox_layer, image_archive
from test_cgroup_v2_qemu import QEMU, find_kernel, kernel_config

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKS = os.path.join(HERE, "qemu_engine_checks.sh")
GUEST_TIMEOUT = 120  # seconds for one guest, boot to power-off (~35 s here under TCG)

BINARIES = [("src", "cmd", "berthd"), ("src", "cmd", "berth"), ("src", "shim", "berth-shim"),
            ("src", "shim", "berth-shim-helper"), ("src", "shim", "berth-init")]

# Stage 1, on rootfs: pivot_root(2) refuses rootfs, and the runtime pivots
# into every container's root, so run from a tmpfs instead.
STAGE1 = """#!/bin/busybox sh
/bin/busybox mkdir -p /newroot
/bin/busybox mount -t tmpfs -o mode=0755 tmpfs /newroot
cd / && /bin/busybox cp -a bin etc lib lib64 usr guest /newroot/
exec /bin/busybox switch_root /newroot /guest/stage2
"""

STAGE2 = """#!/bin/busybox sh
export PATH=/usr/bin:/bin
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /run /tmp /var/lib/berth /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0700 tmpfs /var/lib/berth
ip link set lo up
hostname guest
insmod /guest/overlay.ko || echo "FAIL: setup: insmod overlay"
insmod /guest/brd.ko rd_nr=1 rd_size=4096 || echo "FAIL: setup: insmod brd"
mode=v2
case "$(cat /proc/cmdline)" in *berth.mode=v1*) mode=v1 ;; esac
if [ $mode = v2 ]; then
    mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || echo "FAIL: setup: mount cgroup2"
    # every controller delegated from the root, as an init system does (OpenRC
    # all of them, systemd cpu, io, memory, pids); below it is the engine's job
    for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
        echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "FAIL: setup: enable $c"
    done
else
    insmod /guest/cls_cgroup.ko || echo "FAIL: setup: insmod cls_cgroup"
    mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
    for h in cpuset cpu,cpuacct blkio memory devices freezer net_cls,net_prio perf_event \\
             hugetlb pids rdma misc; do
        mkdir /sys/fs/cgroup/$h
        mount -t cgroup -o $h cgroup /sys/fs/cgroup/$h || echo "FAIL: setup: mount v1 $h"
    done
    for l in cpu cpuacct; do ln -s cpu,cpuacct /sys/fs/cgroup/$l; done
    for l in net_cls net_prio; do ln -s net_cls,net_prio /sys/fs/cgroup/$l; done
fi
echo "GUEST MODE $mode"
sh /guest/checks.sh $mode
echo "GUEST DONE"
sync
reboot -f
"""

CHECK_NAMES = [
    "daemon", "load", "info", "info-features", "run-true", "run-exit-7", "cgroupns-default",
    "cgroup-parent", "cgroup-parent-removed", "init", "limits-inside", "limits-host",
    "controllers-inside", "limits-removed", "pids-enforced", "cgroupfs-readonly",
    "devices-denied", "devices-rule", "devices-standard", "devices-device", "stats",
    "exec-cgroup", "top", "pause-inspect", "pause-cgroup", "exec-paused", "unpause-inspect",
    "unpause-cgroup", "stop", "rm", "rm-cgroup", "oom-exit", "oom-killed", "kill-paused",
    "kill-rm", "nested", "daemon-restart", "restore-status", "restore-exec", "restore-stop",
    "restore-stopped", "restore-rm-cgroup", "no-leaks",
]


def shared_libraries(binary):
    """The loader and every library ldd resolves for a dynamic binary; [] for a static one."""
    p = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if "not a dynamic executable" in p.stdout + p.stderr or "statically linked" in p.stdout:
        return []
    assert p.returncode == 0, "ldd %s: %s" % (binary, p.stderr)
    libs = []
    for line in p.stdout.splitlines():
        line = line.strip()
        assert "not found" not in line, "ldd %s: %s" % (binary, line)
        m = re.match(r"(?:\S+ => )?(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def copy_file(src, root, dest=None):
    """src (symlinks followed) at the same path, or dest, inside root."""
    target = os.path.join(root, (dest or src).lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy(os.path.realpath(src), target)
    return target


def make_initramfs(root, out, modules, tmp):
    for d in ("bin", "dev", "etc/berth", "guest", "lib", "lib64", "usr/bin", "proc", "sys"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    lite = ("src", "shim", "berth-shim-helper-lite")  # where musl-gcc built it
    for parts in BINARIES + ([lite] if os.path.exists(build_path(*lite)) else []):
        b = build_path(*parts)
        assert os.path.exists(b), "build it first: ninja -C %s (no %s)" % (build_path(), b)
        copy_file(b, root, "/usr/bin/" + parts[-1])
        for lib in shared_libraries(b):
            copy_file(lib, root)
    for name, path in modules.items():
        copy_file(path, root, "/guest/" + name)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")
    with open(os.path.join(root, "etc", "berth", "daemon.json"), "w") as f:
        # the guest's kernel has no bridge or nftables modules loaded: no default bridge
        f.write('{"bridge": "none", "iptables": false, "ip-forward": false}\n')
    image_archive(os.path.join(root, "guest", "busybox.tar"), ["busybox:latest"],
                  [busybox_layer(tmp)])
    shutil.copy(CHECKS, os.path.join(root, "guest", "checks.sh"))
    for name, text in (("init", STAGE1), ("guest/stage2", STAGE2)):
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(root, name), 0o755)
    # the kernel opens /dev/console before init runs: it must exist in the archive
    os.mknod(os.path.join(root, "dev", "console"), stat.S_IFCHR | 0o600, os.makedev(5, 1))
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files,
                       stdout=f, check=True)


def kernel_modules(vmlinuz):
    version = os.path.basename(vmlinuz)[len("vmlinuz-"):]
    kdir = os.path.join(os.path.dirname(os.path.dirname(vmlinuz)), "lib", "modules", version,
                        "kernel")
    mods = {"overlay.ko": os.path.join(kdir, "fs", "overlayfs", "overlay.ko"),
            "brd.ko": os.path.join(kdir, "drivers", "block", "brd.ko"),
            "cls_cgroup.ko": os.path.join(kdir, "net", "sched", "cls_cgroup.ko")}
    for name, path in mods.items():
        assert os.path.exists(path), "no %s in the unpacked kernel: rerun scripts/deps.sh test" % path
    return mods


def run_guest(vmlinuz, initrd, mode):
    cmd = [QEMU, "-nographic", "-no-reboot", "-m", "1024", "-smp", "2", "-cpu", "max",
           "-kernel", vmlinuz, "-initrd", initrd,
           "-append", "console=ttyS0 panic=-1 quiet berth.mode=" + mode]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=GUEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        text = out.decode(errors="replace").replace("\r", "")
        pytest.fail("the %s guest did not finish within %d s; console tail:\n%s"
                    % (mode, GUEST_TIMEOUT, text[-6000:]))
    finally:
        if proc.poll() is None:  # interrupted: no qemu outlives the test
            proc.kill()
            proc.wait()
    return out.decode(errors="replace").replace("\r", ""), time.monotonic() - t0


@pytest.mark.parametrize("mode", ["v2", "v1"])
def test_engine_in_qemu(mode):
    for tool, pkg in ((QEMU, "qemu-system-x86"), (shutil.which("cpio"), "cpio"),
                      (os.path.exists(BUSYBOX) or None, "busybox-static")):
        if not tool:
            pytest.fail("missing %s: run scripts/deps.sh test" % pkg)
    vmlinuz, _, config = find_kernel()
    conf = kernel_config(config)
    for opt in ("CONFIG_OVERLAY_FS", "CONFIG_BLK_DEV_RAM", "CONFIG_NET_CLS_CGROUP"):
        assert conf.get(opt) == "m", "%s is %s in %s" % (opt, conf.get(opt), config)
    for opt in ("CONFIG_CGROUP_BPF", "CONFIG_MEMCG", "CONFIG_CGROUP_FREEZER",
                "CONFIG_BLK_DEV_THROTTLING", "CONFIG_CGROUP_DEVICE", "CONFIG_CGROUP_NET_PRIO"):
        assert conf.get(opt) == "y", "%s is %s in %s" % (opt, conf.get(opt), config)
    tmp = tempfile.mkdtemp(prefix="berth-engine-qemu-")
    try:
        initrd = os.path.join(tmp, "initrd.cpio")
        make_initramfs(os.path.join(tmp, "root"), initrd, kernel_modules(vmlinuz), tmp)
        out, took = run_guest(vmlinuz, initrd, mode)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # the whole console on stdout: pytest shows it with -s, or on failure
    print(out)
    print("%s guest: %.0f s" % (mode, took))
    tail = "\nconsole tail:\n" + out[-6000:]
    lines = out.splitlines()
    fails = [l for l in lines if l.startswith("FAIL:")]
    assert not fails, "in the %s guest:\n%s%s" % (mode, "\n".join(fails), tail)
    assert "GUEST MODE " + mode in out, "the guest never reached its checks" + tail
    assert "ENGINE CHECKS DONE fails=0" in out, "no verdict from the guest" + tail
    names = CHECK_NAMES + (["cgroupns-host"] if mode == "v2" else ["cgroupns-private"])
    passed = set(l.split()[1] for l in lines if l.startswith("CHECK ") and l.endswith(" OK"))
    missing = [n for n in names if n not in passed]
    assert not missing, "checks that never reported: %s%s" % (", ".join(missing), tail)
