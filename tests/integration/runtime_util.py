"""Shared pieces of the berth-runtime integration tests (test_runtime_*.py).

A `Runtime` runs build/src/cmd/berth-runtime with its own --root (a temp dir,
so parallel runs never share state) and, at teardown, force-deletes whatever
containers are left.  `make_bundle` copies the busybox rootfs template and
writes the config.json that `berth-runtime spec` produces, adjusted by the test.
`leftovers` lists what a failed create must not leave behind.
"""
import glob
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import build_path

RUNTIME = build_path("src", "cmd", "berth-runtime")


class Runtime:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="berth-rt-root-", dir="/tmp")

    def __call__(self, *args, check=False, timeout=60, input=None, pass_fds=(), env=None):
        cmd = [RUNTIME, "--root", self.root] + [str(a) for a in args]
        # files, not pipes: a created or detached container keeps its stdio open
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(cmd, stdout=out, stderr=err, timeout=timeout,
                               input=input.encode() if input else None,
                               pass_fds=pass_fds, env=env)
            out.seek(0)
            err.seek(0)
            p.stdout = out.read().decode()
            p.stderr = err.read().decode()
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr))
        return p

    def state(self, cid):
        return json.loads(self("state", cid, check=True).stdout)

    def cleanup(self):
        p = self("list", "-q")
        for cid in p.stdout.split():
            self("delete", "--force", cid)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def rt(workdir):
    """(Depends on workdir so it is torn down first: its containers are deleted while
    their bundles are still there, before workdir's teardown unmounts and removes them.)"""
    r = Runtime()
    yield r
    r.cleanup()


def default_config(bundle):
    subprocess.run([RUNTIME, "spec", "--bundle", bundle], check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    os.unlink(os.path.join(bundle, "config.json"))
    cfg["process"]["terminal"] = False
    return cfg


def write_config(bundle, cfg):
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f)


def make_bundle(workdir, template, args=None, edit=None):
    """A bundle in workdir: rootfs copied from the template, config from `spec`."""
    bundle = os.path.join(workdir, "bundle")
    shutil.copytree(template, os.path.join(bundle, "rootfs"), symlinks=True)
    cfg = default_config(bundle)
    if args is not None:
        cfg["process"]["args"] = args
    if edit:
        edit(cfg)
    write_config(bundle, cfg)
    return bundle


def helper_json(stdout):
    """The JSON line the test helper printed."""
    for line in stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError("no JSON from testhelper in %r" % stdout)


def cgroup_dirs(cid):
    return [d for d in glob.glob("/sys/fs/cgroup/*/berth/" + cid) +
            glob.glob("/sys/fs/cgroup/berth/" + cid) if os.path.isdir(d)]


def leftovers(rt, cid, bundle):
    """Everything a failed or deleted container must not leave behind."""
    found = []
    if os.path.exists(os.path.join(rt.root, cid)):
        found.append("state dir")
    found += ["cgroup " + d for d in cgroup_dirs(cid)]
    with open("/proc/self/mountinfo") as f:
        if bundle in f.read():
            found.append("mount under the bundle")
    for p in glob.glob("/proc/[0-9]*/root"):
        try:
            if os.readlink(p).startswith(bundle):
                found.append("process " + p)
        except OSError:
            pass
    return found


def caps_mask(names):
    nums = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5,
            "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13,
            "CAP_SYS_CHROOT": 18, "CAP_SYS_ADMIN": 21, "CAP_SYS_PTRACE": 19}
    m = 0
    for n in names:
        m |= 1 << nums[n]
    return m
