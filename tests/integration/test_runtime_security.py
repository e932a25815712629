"""Security regressions of berth-runtime: fd leaks, the runtime binary seen
from inside (CVE-2019-5736 class), cwd escapes (CVE-2024-21626), mount
targets through symlinks (CVE-2021-30465), masks with a fake /dev/null
(CVE-2025-31133), a rootfs whose /proc or /dev is a symlink, and empty
inheritable/ambient capabilities."""
import json
import os
import shutil
import subprocess

import pytest

from runtime_util import RUNTIME, helper_json, leftovers, make_bundle, rt  # noqa: F401


def fd_wrapper(rt, extra_fds_cmd, *args, env=None):
    """Run berth-runtime from bash with extra fds opened by `extra_fds_cmd`."""
    script = extra_fds_cmd + '; exec "$@"'
    cmd = ["bash", "-c", script, "bash", RUNTIME, "--root", rt.root] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def test_only_stdio_reaches_the_container(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["/bin/testhelper"])
    f = os.path.join(workdir, "secret")
    open(f, "w").close()
    p = fd_wrapper(rt, 'exec 3<"%s" 4<"%s" 7<"%s"' % (f, f, f), "run", "-b", b, unique_id)
    assert p.returncode == 0, p.stderr
    assert sorted(helper_json(p.stdout)["fds"]) == ["0", "1", "2"]


def test_preserve_fds_and_listen_fds(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sh", "-c", "/bin/testhelper; echo LISTEN=$LISTEN_FDS"])
    f = os.path.join(workdir, "passed")
    open(f, "w").close()
    p = fd_wrapper(rt, 'exec 3<"%s" 4<"%s" 5<"%s"' % (f, f, f), "run", "--preserve-fds", "1",
                   "-b", b, unique_id)
    assert p.returncode == 0, p.stderr
    fds = helper_json(p.stdout)["fds"]
    assert sorted(fds) == ["0", "1", "2", "3"] and fds["3"].endswith("/passed")

    env = dict(os.environ, LISTEN_FDS="2")
    p = fd_wrapper(rt, 'exec 3<"%s" 4<"%s" 5<"%s"' % (f, f, f), "run", "-b", b, unique_id + "l",
                   env=env)
    assert p.returncode == 0, p.stderr
    assert sorted(helper_json(p.stdout)["fds"]) == ["0", "1", "2", "3", "4"]
    assert "LISTEN=2" in p.stdout

    p = rt("run", "--preserve-fds", "3", "-b", b, unique_id + "m")
    assert p.returncode != 0 and "fd" in p.stderr and "not open" in p.stderr


def test_proc_self_exe_is_refused(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["/proc/self/exe", "--version"])
    p = rt("run", "-b", b, unique_id)
    assert p.returncode != 0
    assert "magic link" in p.stderr and "berth-runtime version" not in p.stdout
    assert leftovers(rt, unique_id, b) == []


def test_symlink_to_proc_self_exe_is_refused(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["/bin/evil"])
    os.symlink("/proc/self/exe", os.path.join(b, "rootfs", "bin", "evil"))
    p = rt("run", "-b", b, unique_id)
    assert p.returncode != 0 and "magic link" in p.stderr
    assert leftovers(rt, unique_id, b) == []


def test_the_runtime_binary_bind_mounted_in_is_refused(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["mounts"].append({"destination": "/bin/rt", "type": "bind",
                            "source": os.path.realpath(RUNTIME), "options": ["bind", "ro"]})
    b = make_bundle(workdir, rootfs_template, ["/bin/rt", "--version"], edit)
    p = rt("run", "-b", b, unique_id)
    assert p.returncode != 0 and "runtime binary" in p.stderr
    assert leftovers(rt, unique_id, b) == []


def test_runtime_code_in_the_container_is_not_reachable(rt, workdir, rootfs_template, unique_id):
    """After create, the init is our code waiting on the exec fifo: another
    process of the container must not open its /proc/<pid>/exe (our binary)."""
    b = make_bundle(workdir, rootfs_template, ["/bin/testhelper", "sleep"])
    rt("create", "-b", b, unique_id, check=True)
    for mode in ("open-read", "open-write"):
        p = rt("exec", unique_id, "/bin/testhelper", mode, "/proc/1/exe")
        assert p.returncode == 0, p.stderr
        res = json.loads(p.stdout)
        assert res["ok"] is False and res["errno"] in (1, 13), res
    with open(os.path.realpath(RUNTIME), "rb") as f:
        assert f.read(4) == b"\x7fELF"


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8])
def test_cwd_through_proc_self_fd_is_refused(rt, workdir, rootfs_template, unique_id, n):
    def edit(c):
        c["process"]["cwd"] = "/proc/self/fd/%d" % n
    b = make_bundle(workdir, rootfs_template, ["pwd"], edit)
    p = rt("run", "-b", b, unique_id)
    assert p.returncode != 0, p.stdout
    assert "cwd '/proc/self/fd/%d'" % n in p.stderr
    assert leftovers(rt, unique_id, b) == []


def test_exec_cwd_through_proc_self_fd_is_refused(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "100"])
    rt("run", "-d", "-b", b, unique_id, check=True)
    for n in (3, 4, 5, 6):
        p = rt("exec", "--cwd", "/proc/self/fd/%d" % n, unique_id, "pwd")
        assert p.returncode != 0 and "outside the container" in p.stderr, p.stdout + p.stderr


def test_mount_target_symlinks_stay_inside_the_rootfs(rt, workdir, rootfs_template, unique_id):
    victim = os.path.join(workdir, "victim")
    os.makedirs(victim)
    open(os.path.join(victim, "precious"), "w").close()

    def edit(c):
        c["mounts"] += [
            {"destination": "/escape-abs", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/escape-rel/sub", "type": "tmpfs", "source": "tmpfs"},
        ]
    b = make_bundle(workdir, rootfs_template,
                    ["sh", "-c", "cat /proc/self/mountinfo"], edit)
    rootfs = os.path.join(b, "rootfs")
    os.symlink(victim, os.path.join(rootfs, "escape-abs"))
    os.symlink("../../../../../../../../.." + victim, os.path.join(rootfs, "escape-rel"))
    p = rt("run", "-b", b, unique_id)
    assert p.returncode == 0, p.stderr
    points = [l.split()[4] for l in p.stdout.splitlines()]
    # both resolved inside the container's root: the victim path as seen from inside
    assert victim in points and victim + "/sub" in points
    assert os.path.isdir(os.path.join(rootfs, victim.lstrip("/")))
    assert os.listdir(victim) == ["precious"]
    assert leftovers(rt, unique_id, b) == []


def test_masks_use_the_real_dev_null(rt, workdir, rootfs_template, unique_id):
    """A rootfs whose /dev/null points at a /proc knob must not redirect a mask."""
    def edit(c):
        c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/dev", "/dev/pts",
                                                                          "/dev/shm",
                                                                          "/dev/mqueue")]
        c["linux"]["maskedPaths"].append("/proc/cmdline")
    b = make_bundle(workdir, rootfs_template,
                    ["sh", "-c", "stat -L -c '%t:%T' /proc/cmdline; wc -c < /proc/cmdline"], edit)
    os.symlink("/proc/sys/kernel/core_pattern", os.path.join(b, "rootfs", "dev", "null"))
    before = open("/proc/sys/kernel/core_pattern").read()
    p = rt("run", "-b", b, unique_id)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1:3", "0"]
    assert open("/proc/sys/kernel/core_pattern").read() == before


@pytest.mark.parametrize("name", ["proc", "dev"])
def test_rootfs_with_symlinked_proc_or_dev_is_refused(rt, workdir, rootfs_template, unique_id,
                                                      name):
    b = make_bundle(workdir, rootfs_template, ["true"])
    target = os.path.join(b, "rootfs", name)
    shutil.rmtree(target)
    os.symlink("/tmp", target)
    p = rt("run", "-b", b, unique_id)
    assert p.returncode != 0
    assert "/%s is a symlink" % name in p.stderr
    assert leftovers(rt, unique_id, b) == []


def test_exec_gets_empty_inheritable_and_ambient(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "100"])
    rt("run", "-d", "-b", b, unique_id, check=True)
    p = rt("exec", "--cap", "CAP_SYS_PTRACE", unique_id, "/bin/testhelper")
    assert p.returncode == 0, p.stderr
    h = helper_json(p.stdout)
    assert int(h["CapInh"], 16) == 0 and int(h["CapAmb"], 16) == 0
    assert int(h["CapEff"], 16) & (1 << 19)
    assert sorted(h["fds"]) == ["0", "1", "2"]
