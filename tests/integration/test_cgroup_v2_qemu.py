"""berth's cgroup code on a pure cgroup v2 host, for real (and on a pure v1 one).

The build machine is hybrid and cannot switch, so this boots Debian's own
kernel under qemu (software emulation) with a tiny initramfs: busybox-static,
the statically linked tests/helper/berth-cgroup-v2-check, and brd.ko for a
block device to throttle.  The guest mounts cgroup2 at /sys/fs/cgroup and
runs the check, which prints "CGROUPV2 OK" or one "FAIL: ..." line per
failed check on the serial console.  The v1 case boots the same guest with
berth.mode=v1: the check mounts every v1 controller instead ("CGROUPV1 OK").

Installs nothing: scripts/deps.sh test provides qemu-system-x86, cpio,
busybox-static, and unpacks linux-image-amd64's kernel package (dpkg -x,
never installed) into /var/cache/berth/test-kernel.  Everything made here is
in a temp dir removed afterwards; the guest is killed at the 60 s bound.
"""
import glob
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import build_path, BUSYBOX

KERNEL_DIR = os.environ.get("BERTH_TEST_KERNEL_DIR", "/var/cache/berth/test-kernel")
QEMU = shutil.which("qemu-system-x86_64")
BOOT_TIMEOUT = 60

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec >/dev/console 2>&1
insmod /brd.ko rd_nr=1 rd_size=4096 || echo "NOTE: insmod brd failed"
mode=v2
case "$(cat /proc/cmdline)" in *berth.mode=v1*) mode=v1 ;; esac
/berth-cgroup-v2-check $mode
echo "CHECK EXIT $?"
reboot -f
"""


def find_kernel():
    kernels = sorted(glob.glob(os.path.join(KERNEL_DIR, "boot", "vmlinuz-*")))
    if not kernels:
        pytest.fail("no kernel in %s/boot: run scripts/deps.sh test (it unpacks "
                    "linux-image-amd64 there)" % KERNEL_DIR)
    vmlinuz = kernels[-1]
    version = os.path.basename(vmlinuz)[len("vmlinuz-"):]
    brd = os.path.join(KERNEL_DIR, "lib", "modules", version, "kernel", "drivers", "block",
                       "brd.ko")
    config = os.path.join(KERNEL_DIR, "boot", "config-" + version)
    return vmlinuz, brd, config


def kernel_config(path):
    conf = {}
    with open(path) as f:
        for line in f:
            if line.startswith("CONFIG_") and "=" in line:
                k, v = line.strip().split("=", 1)
                conf[k] = v
    return conf


def make_initramfs(root, out, helper, brd):
    for d in ("bin", "dev", "proc", "sys", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    shutil.copy2(helper, os.path.join(root, "berth-cgroup-v2-check"))
    if os.path.exists(brd):
        shutil.copy2(brd, os.path.join(root, "brd.ko"))
    # the kernel opens /dev/console before init runs: it must exist in the archive
    os.mknod(os.path.join(root, "dev", "console"), stat.S_IFCHR | 0o600, os.makedev(5, 1))
    init = os.path.join(root, "init")
    with open(init, "w") as f:
        f.write(INIT)
    os.chmod(init, 0o755)
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files,
                       stdout=f, check=True)


@pytest.mark.parametrize("mode", ["v2", "v1"])
def test_cgroups_in_qemu(mode):
    for tool, pkg in ((QEMU, "qemu-system-x86"), (shutil.which("cpio"), "cpio"),
                      (os.path.exists(BUSYBOX) or None, "busybox-static")):
        if not tool:
            pytest.fail("missing %s: run scripts/deps.sh test" % pkg)
    helper = build_path("tests", "helper", "berth-cgroup-v2-check")
    assert os.path.exists(helper), "build the helper first: ninja -C %s" % build_path()
    vmlinuz, brd, config = find_kernel()
    # Debian builds these in, so the guest needs no modules for cgroup2 and eBPF
    conf = kernel_config(config)
    for opt in ("CONFIG_CGROUPS", "CONFIG_CGROUP_BPF", "CONFIG_BPF_SYSCALL", "CONFIG_MEMCG",
                "CONFIG_CGROUP_PIDS", "CONFIG_CPUSETS", "CONFIG_BLK_CGROUP", "CONFIG_CGROUP_HUGETLB",
                "CONFIG_DEVTMPFS", "CONFIG_BLK_DEV_INITRD", "CONFIG_SERIAL_8250_CONSOLE"):
        assert conf.get(opt) == "y", "%s is %s in %s" % (opt, conf.get(opt), config)

    tmp = tempfile.mkdtemp(prefix="berth-cgv2-")
    try:
        initrd = os.path.join(tmp, "initrd.cpio")
        make_initramfs(os.path.join(tmp, "root"), initrd, helper, brd)
        cmd = [QEMU, "-nographic", "-no-reboot", "-m", "512", "-kernel", vmlinuz, "-initrd", initrd,
               "-append", "console=ttyS0 panic=-1 quiet berth.mode=" + mode]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=BOOT_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            pytest.fail("guest did not finish within %d s; console:\n%s" % (BOOT_TIMEOUT, out[-4000:]))
        out = proc.stdout.decode(errors="replace").replace("\r", "")
        fails = [l for l in out.splitlines() if l.startswith("FAIL:")]
        assert not fails, "in the %s guest:\n" % mode + "\n".join(fails)
        verdict = "CGROUPV1 OK" if mode == "v1" else "CGROUPV2 OK"
        assert verdict in out, "no verdict from the guest; console:\n" + out[-4000:]
        assert "CHECK EXIT 0" in out
        assert "NOTE: no /dev/ram0" not in out, "brd did not load: io.max went unchecked"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
