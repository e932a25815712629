"""Shared fixtures for berth's integration tests.

Everything here runs as root against the real binaries in $BERTH_BUILD
(default: <repo>/build).  Rootfs trees are made from Debian's busybox-static
plus our static test helper (tests/helper), never downloaded.  Every fixture
cleans up what it made, even when the test fails.
"""
import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(REPO, "build"))
BUSYBOX = "/bin/busybox"


def build_path(*parts):
    return os.path.join(BUILD, *parts)


def make_busybox_rootfs(dest):
    """A minimal rootfs: busybox-static with its applet links, the test helper, /etc basics."""
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "usr/bin", "var"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(dest, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        link = os.path.join(dest, "bin", a)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    helper = build_path("tests", "helper", "berth-testhelper")
    if os.path.exists(helper):
        shutil.copy2(helper, os.path.join(dest, "bin", "testhelper"))
    with open(os.path.join(dest, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
                "tester:x:1000:1000:tester:/tmp:/bin/sh\n")
    with open(os.path.join(dest, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\ntester:x:1000:\naudio:x:29:tester\n")
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    return dest


@pytest.fixture(scope="session")
def rootfs_template(tmp_path_factory):
    return make_busybox_rootfs(str(tmp_path_factory.mktemp("rootfs-template") / "rootfs"))


@pytest.fixture
def unique_id():
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def workdir():
    """A world-traversable temp dir (user-namespace tests need 0755 parents)."""
    d = tempfile.mkdtemp(prefix="berth-test-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    unmount_below(d)
    shutil.rmtree(d, ignore_errors=True)


def mounts_below(path):
    """Mount points at or below path in this mount namespace, deepest first."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp == path or mp.startswith(path + "/"):
                found.append(mp)
    return sorted(set(found), key=lambda m: m.count("/"), reverse=True)


def unmount_below(path):
    """Detach every mount at or below path (a test's leftovers), even when path itself is no mount."""
    for mp in mounts_below(path):
        subprocess.run(["umount", "-l", mp], capture_output=True)


def default_cgroup_parents():
    """/berth in every hierarchy: /sys/fs/cgroup/<controller>/berth on v1 and hybrid
    hosts, /sys/fs/cgroup/berth on a pure cgroup v2 host."""
    import glob
    return set(d for d in glob.glob("/sys/fs/cgroup/*/berth") + ["/sys/fs/cgroup/berth"]
               if os.path.isdir(d))


@pytest.fixture(scope="session", autouse=True)
def default_cgroup_parent_removed():
    """The runtime's default parent cgroup (/berth in every hierarchy) is removed
    only by the container that made it; with containers overlapping in time, an
    empty /berth can outlive them all.  The suite removes it when it made it."""
    existed = default_cgroup_parents()
    yield
    for d in default_cgroup_parents() - existed:
        try:
            os.rmdir(d)
        except OSError:
            pass
