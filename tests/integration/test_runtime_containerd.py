"""berth-runtime under containerd 1.6 (Debian's), through its runc v2 shim:
`ctr run --runc-binary berth-runtime` with exit codes, detached, exec, kill,
delete and a TTY.  A private containerd (own root, state and socket under a
temp dir, CRI disabled) serves an OCI image the test builds from the busybox
rootfs; nothing of the host's containerd is touched."""
import hashlib
import io
import json
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

CONTAINERD = shutil.which("containerd")
CTR = shutil.which("ctr")
IMAGE = "docker.io/library/berthbox:test"

pytestmark = pytest.mark.skipif(not CONTAINERD or not CTR,
                                reason="containerd is not installed (scripts/deps.sh test)")


def _blob(d, data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)


def build_image_tar(rootfs, dest):
    lay = tempfile.mkdtemp(prefix="berth-oci-", dir="/tmp")
    try:
        os.makedirs(os.path.join(lay, "blobs", "sha256"))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            for name in sorted(os.listdir(rootfs)):
                t.add(os.path.join(rootfs, name), arcname=name)
        layer, lsize = _blob(lay, buf.getvalue())
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
        cdig, csize = _blob(lay, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": cdig, "size": csize},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer, "size": lsize}]}).encode()
        mdig, msize = _blob(lay, manifest)
        with open(os.path.join(lay, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": mdig, "size": msize,
                "annotations": {"io.containerd.image.name": IMAGE,
                                "org.opencontainers.image.ref.name": "test"}}]}, f)
        with open(os.path.join(lay, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        with tarfile.open(dest, "w") as t:
            for name in ("oci-layout", "index.json", "blobs"):
                t.add(os.path.join(lay, name), arcname=name)
    finally:
        shutil.rmtree(lay, ignore_errors=True)


@pytest.fixture(scope="module")
def ctrd(rootfs_template):
    d = tempfile.mkdtemp(prefix="berth-ctrd-", dir="/tmp")
    os.chmod(d, 0o755)
    sock = os.path.join(d, "containerd.sock")
    cfg = os.path.join(d, "config.toml")
    with open(cfg, "w") as f:
        f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                '[grpc]\n  address = "%s"\n[ttrpc]\n  address = "%s.ttrpc"\n'
                '[debug]\n  address = ""\n[metrics]\n  address = ""\n'
                % (d, d, sock, sock))
    log = open(os.path.join(d, "containerd.log"), "w")
    proc = subprocess.Popen([CONTAINERD, "--config", cfg], stdout=log, stderr=log)
    ns = "berth-" + os.path.basename(d)[-8:].replace("_", "")
    try:
        for _ in range(200):
            if os.path.exists(sock) and subprocess.run([CTR, "-a", sock, "version"],
                                                       capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("containerd did not start: " +
                                 open(os.path.join(d, "containerd.log")).read()[-2000:])
        tar = os.path.join(d, "image.tar")
        build_image_tar(rootfs_template, tar)
        p = subprocess.run([CTR, "-a", sock, "-n", ns, "images", "import", tar],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr

        def ctr(*args, timeout=60, **kw):
            return subprocess.run([CTR, "-a", sock, "-n", ns] + list(args),
                                  capture_output=True, text=True, timeout=timeout, **kw)
        ctr.sock, ctr.ns = sock, ns
        yield ctr
    finally:
        out = subprocess.run([CTR, "-a", sock, "-n", ns, "tasks", "ls", "-q"],
                             capture_output=True, text=True).stdout.split()
        for cid in out:
            subprocess.run([CTR, "-a", sock, "-n", ns, "tasks", "kill", "-s", "KILL", cid],
                           capture_output=True)
            subprocess.run([CTR, "-a", sock, "-n", ns, "tasks", "delete", "-f", cid],
                           capture_output=True)
        for cid in subprocess.run([CTR, "-a", sock, "-n", ns, "containers", "ls", "-q"],
                                  capture_output=True, text=True).stdout.split():
            subprocess.run([CTR, "-a", sock, "-n", ns, "containers", "delete", cid],
                           capture_output=True)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["umount", "-R", "-l", d], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def run_args(cid, *cmd, extra=()):
    return ["run", "--rm", "--runc-binary", os.path.abspath(RUNTIME)] + list(extra) + \
        [IMAGE, cid] + list(cmd)


def test_ctr_run_exit_code_and_output(ctrd, unique_id):
    p = ctrd(*run_args(unique_id, "sh", "-c", "echo hi from berth; exit 3"))
    assert p.returncode == 3, p.stderr
    assert "hi from berth" in p.stdout


def test_ctr_detached_exec_kill_delete(ctrd, unique_id):
    p = ctrd("run", "-d", "--runc-binary", os.path.abspath(RUNTIME), IMAGE, unique_id,
             "sleep", "1000")
    assert p.returncode == 0, p.stderr
    p = ctrd("tasks", "exec", "--exec-id", "e1", unique_id, "sh", "-c", "echo in-exec; exit 4")
    assert p.returncode == 4 and "in-exec" in p.stdout, p.stderr
    tasks = ctrd("tasks", "ls").stdout
    assert unique_id in tasks and "RUNNING" in tasks
    # it really is berth-runtime's state (runc's shim keeps runtimes under /run/containerd/runc)
    with open("/run/containerd/runc/%s/%s/state.json" % (ctrd.ns, unique_id)) as f:
        assert "pid_start" in json.load(f)
    assert ctrd("tasks", "kill", "-s", "KILL", unique_id).returncode == 0
    for _ in range(100):
        if "STOPPED" in ctrd("tasks", "ls").stdout:
            break
        time.sleep(0.1)
    assert "STOPPED" in ctrd("tasks", "ls").stdout
    assert ctrd("tasks", "delete", unique_id).returncode == 0
    assert ctrd("containers", "delete", unique_id).returncode == 0


def test_ctr_run_with_a_tty(ctrd, unique_id):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(CTR, [CTR, "-a", ctrd.sock, "-n", ctrd.ns] +
                  run_args(unique_id, "sh", "-c", "tty; exit 5", extra=["-t"]))
    out = b""
    deadline = time.time() + 60
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    assert b"/dev/pts/0" in out, out
    assert os.waitstatus_to_exitcode(st) == 5
