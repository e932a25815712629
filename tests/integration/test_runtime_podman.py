"""berth-runtime under podman 4.3 (Debian's) via `--runtime`: run with exit
code, detached, exec, TTY for run and exec, kill, rm.  Podman runs with a
private --root/--runroot under a temp dir, cgroupfs, no network; this VM lacks
CAP_SYS_RESOURCE and caps nofile at 20000, hence the explicit ulimits."""
import os
import pty
import select
import shutil
import subprocess
import tarfile
import tempfile
import time

import pytest

from runtime_util import RUNTIME

PODMAN = shutil.which("podman")
pytestmark = pytest.mark.skipif(not PODMAN, reason="podman is not installed (scripts/deps.sh test)")
ULIMITS = ["--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]


@pytest.fixture(scope="module")
def podman(rootfs_template):
    d = tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp")
    base = [PODMAN, "--root", d + "/storage", "--runroot", d + "/run", "--cgroup-manager",
            "cgroupfs", "--events-backend", "file", "--runtime", os.path.abspath(RUNTIME)]

    def pm(*args, timeout=90):
        return subprocess.run(base + list(args), capture_output=True, text=True,
                              timeout=timeout)
    pm.base = base
    try:
        tar = os.path.join(d, "rootfs.tar")
        with tarfile.open(tar, "w") as t:
            for name in sorted(os.listdir(rootfs_template)):
                t.add(os.path.join(rootfs_template, name), arcname=name)
        p = pm("import", tar, "berthbox:test")
        assert p.returncode == 0, p.stderr
        yield pm
    finally:
        pm("rm", "-af", "-t", "0")
        pm("rmi", "-af")
        subprocess.run(["umount", "-R", "-l", d], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def drive_tty(argv, inputs):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    out = b""
    pending = list(inputs)
    deadline = time.time() + 60
    last = time.time()
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.3)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            last = time.time()
        elif pending and time.time() - last > 0.3:
            os.write(fd, pending.pop(0))
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(st)


def test_podman_run_exit_code(podman, unique_id):
    p = podman("run", "--rm", *ULIMITS, "berthbox:test", "sh", "-c", "echo hi-podman; exit 3")
    assert p.returncode == 3, p.stderr
    assert "hi-podman" in p.stdout


def test_podman_detached_exec_kill_rm(podman, unique_id):
    p = podman("run", "-d", "--name", unique_id, *ULIMITS, "berthbox:test", "sleep", "1000")
    assert p.returncode == 0, p.stderr
    p = podman("exec", unique_id, "sh", "-c", "echo in-exec; exit 4")
    assert p.returncode == 4 and "in-exec" in p.stdout, p.stderr
    out, code = drive_tty(podman.base + ["exec", "-it", unique_id, "sh"], [b"tty\n", b"exit 6\n"])
    assert b"/dev/pts/" in out and code == 6, out
    assert podman("kill", unique_id).returncode == 0
    assert podman("rm", "-f", unique_id).returncode == 0
    assert unique_id not in podman("ps", "-a").stdout


def test_podman_run_with_a_tty(podman, unique_id):
    out, code = drive_tty(podman.base + ["run", "--rm", "-it"] + ULIMITS + ["berthbox:test", "sh"],
                          [b"tty\n", b"exit 7\n"])
    assert b"/dev/pts/0" in out and code == 7, out
