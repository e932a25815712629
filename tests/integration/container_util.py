"""Shared pieces for the container tests: a busybox image made here (Debian's
busybox-static with every applet linked, as a docker-archive loaded into
berthd), a berthd of the test's own, and the real docker CLI and docker-py
pointed at it.  Everything started here is stopped and removed afterwards,
leftover mounts included.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time

from conftest import make_busybox_rootfs, unmount_below
from test_daemon import Daemon

DOCKER = shutil.which("docker") or "/usr/bin/docker"
DOCKER_20 = "/usr/bin/docker"  # Debian's docker.io client, 20.10


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def tar_of_dir(root):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                arc = os.path.relpath(full, root)
                ti = t.gettarinfo(full, arcname=arc)
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                ti.mtime = 1700000000
                if ti.isreg():
                    with open(full, "rb") as f:
                        t.addfile(ti, f)
                else:
                    t.addfile(ti)
    return bio.getvalue()


def image_archive(path, tags, layers, config=None):
    """A docker-archive (docker 20.10's layout) of the given layer tars."""
    cfg = {"created": "2026-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
           "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                      "Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": [sha256(l) for l in layers]},
           "history": [{"created_by": "layer %d" % i} for i in range(len(layers))]}
    if config:
        cfg["config"].update(config)
    cfg_bytes = json.dumps(cfg).encode()
    names = []
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        for i, raw in enumerate(layers):
            d = hashlib.sha256(raw).hexdigest()
            add(d + "/layer.tar", raw)
            names.append(d + "/layer.tar")
        add(sha256(cfg_bytes)[7:] + ".json", cfg_bytes)
        add("manifest.json", json.dumps([{"Config": sha256(cfg_bytes)[7:] + ".json",
                                          "RepoTags": tags, "Layers": names}]).encode())
    return sha256(cfg_bytes)


def busybox_layer(workdir):
    root = os.path.join(workdir, "busybox-rootfs")
    if not os.path.isdir(root):
        make_busybox_rootfs(root)
    return tar_of_dir(root)


def load_image(d, archive):
    with open(archive, "rb") as f:
        status, _, body = d.request("POST", "/images/load?quiet=1", body=f.read(),
                                    headers={"Content-Type": "application/x-tar"})
    assert status == 200 and b"error" not in body, body
    return body


class Env:
    """A berthd with a busybox image, and how to reach it."""

    def __init__(self, root, config=None, extra_args=(), network=False, netns=None):
        self.root = root
        self.d = Daemon(root, config=config, extra_args=extra_args, network=network, netns=netns)
        self.docker_config = os.path.join(root, "docker-config")
        os.makedirs(self.docker_config, exist_ok=True)

    @property
    def sock(self):
        return self.d.sock

    @property
    def host(self):
        return "unix://" + self.d.sock

    def env(self):
        e = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST",)}
        e["DOCKER_HOST"] = self.host
        e["DOCKER_CONFIG"] = self.docker_config
        return e

    def docker(self, *args, input=None, timeout=60, check=False, cli=None):
        p = subprocess.run([cli or DOCKER, *args], capture_output=True, text=True,
                           env=self.env(), input=input, timeout=timeout)
        if check:
            assert p.returncode == 0, (args, p.stdout, p.stderr, self.d.logtext()[-3000:])
        return p

    def ok(self, *args, **kw):
        return self.docker(*args, check=True, **kw).stdout

    def inspect(self, name):
        return json.loads(self.ok("inspect", name))[0]

    def wait_state(self, name, status, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.inspect(name)["State"]["Status"]
            if st == status:
                return
            time.sleep(0.05)
        raise AssertionError("%s did not become %s: %s" % (name, status, st))


def start_env(root, config=None, extra_args=(), image_tags=("busybox:latest",), network=False,
              netns=None):
    e = Env(root, config=config, extra_args=extra_args, network=network, netns=netns)
    e.d.start()
    archive = os.path.join(root, "busybox.tar")
    image_archive(archive, list(image_tags), [busybox_layer(root)])
    load_image(e.d, archive)
    return e


def stop_env(e):
    """Containers first (a test may have left some), then the daemon and its mounts."""
    try:
        ids = e.docker("ps", "-aq").stdout.split()
        if ids:
            e.docker("rm", "-f", *ids, timeout=120)
    finally:
        rc = e.d.stop()
        e.d.kill()
        # shims of containers left running end with their containers
        subprocess.run(["pkill", "-9", "-f", "berth-shim " + e.root], capture_output=True)
        unmount_below(e.root)
    return rc


def cgroup_dirs(cid):
    found = []
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        if os.path.basename(base) == cid:
            found.append(base)
        if base.count("/") > 6:
            dirs[:] = []
    return found


def mounts_mentioning(text):
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if text in l]


def shim_helpers_of(run_root):
    """berth-shim-helper processes whose parent (a shim, or berthd) names run_root."""
    found = []
    for pid in subprocess.run(["pgrep", "-x", "berth-shim-help"], capture_output=True,
                              text=True).stdout.split():
        try:
            ppid = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[1]
            parent = open("/proc/%s/cmdline" % ppid, "rb").read().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        if run_root in parent:
            found.append((pid, parent.replace("\0", " ")))
    return found
