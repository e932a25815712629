"""Layer apply against tarballs written by other tools.

The unit tests craft tars with their own writer; here GNU tar (gnu and posix
formats, with --xattrs) and Python's tarfile produce the layers, gzip/zstd
compress them, and tests/helper/berth-layer-apply unpacks them into a fresh
data root.  Every entry of the unpacked tree must match the source tree
(type, mode incl. setuid, owner, mtime, link target, content, hardlink
identity, user.* xattrs); digests must be those of the bytes; a layer killed
half-way leaves only a *.tmp that the next run removes.
"""
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import time

import pytest

from conftest import build_path

HELPER = build_path("tests", "helper", "berth-layer-apply")


def run_helper(data_root, path, *opts, check=True):
    p = subprocess.run([HELPER, *opts, data_root, path], capture_output=True, text=True,
                       timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)
    return p


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def make_source_tree(src, rootfs_template):
    shutil.copytree(rootfs_template, src, symlinks=True)
    os.makedirs(os.path.join(src, "data", "deep", "er"))
    with open(os.path.join(src, "data", "deep", "er", "file"), "wb") as f:
        f.write(os.urandom(300000))
    os.link(os.path.join(src, "data", "deep", "er", "file"), os.path.join(src, "data", "hard"))
    suid = os.path.join(src, "bin", "suid-tool")
    with open(suid, "w") as f:
        f.write("#!/bin/sh\n")
    os.chown(suid, 0, 1000)
    os.chmod(suid, 0o4755)
    os.chown(os.path.join(src, "data", "deep"), 1000, 1000)
    os.chmod(os.path.join(src, "data", "deep"), 0o2750)
    os.setxattr(os.path.join(src, "data", "hard"), "user.checksum", b"abc123")
    os.mkfifo(os.path.join(src, "data", "fifo"))
    os.mknod(os.path.join(src, "data", "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    long_dir = os.path.join(src, "data", "l" * 120)
    os.makedirs(long_dir)
    with open(os.path.join(long_dir, "n" * 120), "w") as f:
        f.write("long")
    os.symlink("../" + "t" * 150, os.path.join(src, "data", "longlink"))
    for dirpath, dirnames, filenames in os.walk(src):
        for n in dirnames + filenames:
            os.utime(os.path.join(dirpath, n), (1600000000, 1600000000), follow_symlinks=False)
    os.utime(src, (1600000000, 1600000000))


def snapshot_tree(top):
    """path → comparable facts about every entry below top."""
    facts = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            f = {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid}
            if not stat.S_ISDIR(st.st_mode):
                f["mtime"] = int(st.st_mtime)
            if stat.S_ISLNK(st.st_mode):
                f["link"] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                f["sha"] = sha256_file(p)
                f["xattr"] = {k: os.getxattr(p, k) for k in os.listxattr(p)
                              if k.startswith("user.")}
                f["group"] = inodes.setdefault(st.st_ino, rel)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                f["rdev"] = st.st_rdev
            facts[rel] = f
    for dirpath, dirnames, _ in os.walk(top):
        for n in dirnames:
            rel = os.path.relpath(os.path.join(dirpath, n), top)
            facts[rel]["mtime"] = int(os.lstat(os.path.join(dirpath, n)).st_mtime)
    return facts


@pytest.fixture
def source(workdir, rootfs_template):
    src = os.path.join(workdir, "src")
    make_source_tree(src, rootfs_template)
    return src


@pytest.mark.parametrize("fmt,compress", [("gnu", "gzip"), ("posix", "gzip"),
                                          ("posix", "zstd"), ("gnu", "none")])
def test_gnu_tar_layers_unpack_identically(workdir, source, fmt, compress):
    tar_path = os.path.join(workdir, "layer.tar")
    subprocess.run(["tar", "--format=" + fmt, "--xattrs", "--xattrs-include=user.*",
                    "--numeric-owner", "-C", source, "-cf", tar_path, "."], check=True)
    diff_id = sha256_file(tar_path)
    layer_path = tar_path
    if compress == "gzip":
        subprocess.run(["gzip", "-k", tar_path], check=True)
        layer_path = tar_path + ".gz"
    elif compress == "zstd":
        subprocess.run(["zstd", "-q", "-k", tar_path], check=True)
        layer_path = tar_path + ".zst"
    digest = sha256_file(layer_path)
    data_root = os.path.join(workdir, "data")
    res = run_helper(data_root, layer_path, "--diff-id", diff_id, "--digest", digest)
    assert res["compression"] == compress
    assert res["diff_id"] == diff_id
    assert res["digest"] == digest
    assert res["chain_id"] == diff_id
    unpacked = os.path.join(data_root, "layers", diff_id[len("sha256:"):])
    want, got = snapshot_tree(source), snapshot_tree(unpacked)
    assert sorted(got) == sorted(want)
    for rel in want:
        assert got[rel] == want[rel], rel
    assert os.listdir(os.path.join(data_root, "layers")) == [diff_id[len("sha256:"):]]
    # already there: recognised without unpacking again
    again = run_helper(data_root, layer_path, "--diff-id", diff_id)
    assert again == {"present": True}


def test_python_tarfile_hostile_layer_refused(workdir):
    outside = os.path.join(workdir, "outside")
    os.makedirs(outside)
    tar_path = os.path.join(workdir, "evil.tar")
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as t:
        link = tarfile.TarInfo("escape")
        link.type = tarfile.SYMTYPE
        link.linkname = outside
        t.addfile(link)
        f = tarfile.TarInfo("escape/pwned")
        f.size = 4
        import io
        t.addfile(f, io.BytesIO(b"evil"))
    data_root = os.path.join(workdir, "data")
    p = run_helper(data_root, tar_path, check=False)
    assert p.returncode == 1
    assert "layer entry 'escape/pwned'" in p.stderr
    assert os.listdir(outside) == []
    assert os.listdir(os.path.join(data_root, "layers")) == []


def test_wrong_diff_id_keeps_nothing(workdir, source):
    tar_path = os.path.join(workdir, "layer.tar")
    subprocess.run(["tar", "-C", source, "-czf", tar_path, "./data"], check=True)
    data_root = os.path.join(workdir, "data")
    wrong = "sha256:" + "0" * 64
    p = run_helper(data_root, tar_path, "--diff-id", wrong, check=False)
    assert p.returncode == 1
    assert f"layer {wrong}: diff id mismatch (got sha256:" in p.stderr
    assert os.listdir(os.path.join(data_root, "layers")) == []


def test_kill9_mid_layer_leaves_only_temp_then_recovers(workdir, source):
    tar_path = os.path.join(workdir, "layer.tar")
    subprocess.run(["tar", "-C", source, "-cf", tar_path, "."], check=True)
    diff_id = sha256_file(tar_path)
    data_root = os.path.join(workdir, "data")
    fifo = os.path.join(workdir, "pipe")
    os.mkfifo(fifo)
    proc = subprocess.Popen([HELPER, "--diff-id", diff_id, "--chunk", "4096", data_root, fifo],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with open(fifo, "wb") as w, open(tar_path, "rb") as r:
            w.write(r.read(os.path.getsize(tar_path) // 2))
            w.flush()
            layers = os.path.join(data_root, "layers")
            deadline = time.time() + 30
            while time.time() < deadline:
                if os.path.isdir(layers) and os.listdir(layers):
                    break
                time.sleep(0.05)
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    names = os.listdir(os.path.join(data_root, "layers"))
    assert names == [diff_id[len("sha256:"):] + ".tmp"], names  # nothing under its final name
    res = run_helper(data_root, tar_path, "--diff-id", diff_id)
    assert res["chain_id"] == diff_id
    assert os.listdir(os.path.join(data_root, "layers")) == [diff_id[len("sha256:"):]]
