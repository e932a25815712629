"""linux.seccomp through berth-runtime, seen from inside a busybox container:
Docker's default profile (resolved for the container's bounding set, as
berthd will) blocks unshare but runs ordinary programs; errnoRet reaches the
program; KILL_PROCESS kills with SIGSYS; a profile naming an unknown
architecture fails create with one line naming the field, leaving nothing."""
import json
import subprocess

from conftest import build_path
from runtime_util import leftovers, make_bundle, rt  # noqa: F401

RESOLVE = build_path("tests", "helper", "berth-seccomp-resolve")


def docker_default(cfg):
    bounding = cfg["process"]["capabilities"]["bounding"]
    out = subprocess.run([RESOLVE, "-", *bounding], check=True, capture_output=True,
                         text=True).stdout
    cfg["linux"]["seccomp"] = json.loads(out)


def test_docker_default_profile(rt, workdir, rootfs_template, unique_id):
    script = ("busybox true && echo ran-true; "
              "unshare -m true 2>&1; echo unshare=$?; "
              "echo hi | cat; ls / >/dev/null && echo ls-ok")
    b = make_bundle(workdir, rootfs_template, ["/bin/sh", "-c", script], docker_default)
    p = rt("run", "-b", b, unique_id)
    assert p.returncode == 0, p.stderr
    assert "ran-true" in p.stdout and "hi" in p.stdout and "ls-ok" in p.stdout
    assert "Operation not permitted" in p.stdout
    assert "unshare=1" in p.stdout


def test_errno_ret_and_args(rt, workdir, rootfs_template, unique_id):
    def edit(cfg):
        cfg["root"]["readonly"] = False
        cfg["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                # kill(pid, 0) only: probing a process is refused, signalling is not
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
            ],
        }
    script = ("mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f && echo touch-ok; "
              "kill -0 1 2>&1; echo probe=$?; kill -CONT $$ && echo cont-ok")
    b = make_bundle(workdir, rootfs_template, ["/bin/sh", "-c", script], edit)
    p = rt("run", "-b", b, unique_id)
    assert p.returncode == 0, p.stderr
    assert "Function not implemented" in p.stdout and "mkdir=1" in p.stdout
    assert "touch-ok" in p.stdout
    assert "Permission denied" in p.stdout and "probe=1" in p.stdout
    assert "cont-ok" in p.stdout


def test_kill_process(rt, workdir, rootfs_template, unique_id):
    def edit(cfg):
        cfg["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}],
        }
    b = make_bundle(workdir, rootfs_template, ["/bin/uname"], edit)
    p = rt("run", "-b", b, unique_id)
    assert p.returncode == 128 + 31, (p.returncode, p.stderr)  # SIGSYS


def test_unknown_architecture_fails_cleanly(rt, workdir, rootfs_template, unique_id):
    def edit(cfg):
        cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                   "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_Z80"]}
    b = make_bundle(workdir, rootfs_template, ["/bin/true"], edit)
    p = rt("create", "-b", b, unique_id)
    assert p.returncode != 0
    assert "linux.seccomp.architectures[1]: unknown architecture 'SCMP_ARCH_Z80'" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert leftovers(rt, unique_id, b) == []
