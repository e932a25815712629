"""A pull through the registry client into the image store, end to end.

CNCF Distribution (Debian's docker-registry) runs on loopback with an image
pushed by the test (busybox layers as gzip, zstd and plain tar, plus a layer
with OCI whiteouts); tests/helper/berth-pull resolves the reference with
berth's normalisation, fetches the config into the content store and every
layer in parallel through layer_ingest (verified blob + unpacked layer in
one pass), then mounts the image as a container overlay.  The registry
fixtures and image builders are those of test_registry.py.
"""
import hashlib
import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import build_path
from test_registry import (Image, OCI_CONFIG, OCI_MANIFEST, LAYER_TYPES, build_image, compress,
                           http_push, make_tar, registries, regwork, sha256)  # noqa: F401

PULL = build_path("tests", "helper", "berth-pull")


def berth_pull(*args, check=True):
    p = subprocess.run([PULL, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout) if p.stdout.strip() else None
    return p


def file_sha(path):
    with open(path, "rb") as f:
        return "sha256:" + hashlib.sha256(f.read()).hexdigest()


def whiteout_image():
    """Two layers: the lower has etc/a, etc/b and opq/x; the upper whites out
    etc/a and makes opq opaque."""
    img = Image()
    lower = make_tar([("etc", None, 0o755, None), ("etc/a", b"a", 0o644, None),
                      ("etc/b", b"b", 0o644, None), ("opq", None, 0o755, None),
                      ("opq/x", b"x", 0o644, None)])
    upper = make_tar([("etc", None, 0o755, None), ("etc/.wh.a", b"", 0o644, None),
                      ("opq", None, 0o755, None), ("opq/.wh..wh..opq", b"", 0o644, None),
                      ("opq/y", b"y", 0o644, None)])
    descs, diff_ids = [], []
    for raw in (lower, upper):
        blob = compress(raw, "gzip")
        descs.append({"mediaType": LAYER_TYPES["gzip"], "digest": img.add(blob),
                      "size": len(blob)})
        diff_ids.append(sha256(raw))
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": OCI_CONFIG, "digest": img.add(cfg),
                                 "size": len(cfg)},
                      "layers": descs}).encode()
    img.top_digest, img.top_media_type = img.add(man), OCI_MANIFEST
    return img


def test_pull_verifies_unpacks_and_mounts(workdir, regwork, registries):
    reg = registries(regwork)
    img = build_image()
    http_push("http://" + reg.host, "test/img", "v1", img)
    root = os.path.join(workdir, "data")
    out = berth_pull(root, reg.host + "/test/img:v1", "--mount", "c1")
    try:
        assert len(out["chain_ids"]) == 3
        # every blob of the image is in the store, named by its digest
        for d in img.blobs:
            if d == img.top_digest:
                continue  # the manifest is the engine's to keep
            path = os.path.join(root, "blobs", "sha256", d.split(":")[1])
            assert file_sha(path) == d
        assert os.listdir(os.path.join(root, "tmp")) == []
        layers = sorted(os.listdir(os.path.join(root, "layers")))
        assert layers == sorted(c.split(":")[1] for c in out["chain_ids"])
        rootfs = os.path.join(root, "containers", "c1", "rootfs")
        with open("/bin/busybox", "rb") as f, open(os.path.join(rootfs, "bin/busybox"), "rb") as g:
            assert f.read() == g.read()
        assert os.readlink(os.path.join(rootfs, "bin/sh")) == "busybox"
        with open(os.path.join(rootfs, "etc/hello.txt")) as f:
            assert f.read() == "hello from a zstd layer\n"
        assert os.stat(os.path.join(rootfs, "srv/data")).st_mode & 0o777 == 0o600
        # the container writes to its own upper dir, never to a layer
        with open(os.path.join(rootfs, "etc/hello.txt"), "w") as f:
            f.write("changed")
        upper = os.path.join(root, "containers", "c1", "upper", "etc", "hello.txt")
        assert open(upper).read() == "changed"
        lower = os.path.join(root, "layers", out["chain_ids"][1].split(":")[1], "etc/hello.txt")
        assert open(lower).read() == "hello from a zstd layer\n"
    finally:
        berth_pull(root, "--umount", "c1")
    assert not os.path.exists(os.path.join(root, "containers", "c1", "rootfs"))

    # a second pull finds everything and unpacks nothing again
    before = {c: os.stat(os.path.join(root, "layers", c.split(":")[1])).st_ino
              for c in out["chain_ids"]}
    again = berth_pull(root, reg.host + "/test/img:v1")
    assert again == out
    for c, ino in before.items():
        assert os.stat(os.path.join(root, "layers", c.split(":")[1])).st_ino == ino

    # layers deleted but blobs kept: unpacked again from the store, with the
    # registry unable to serve a single layer blob
    man = json.loads(img.blobs[img.top_digest])
    for layer in man["layers"]:
        req = urllib.request.Request("http://%s/v2/test/img/blobs/%s" % (reg.host,
                                                                          layer["digest"]),
                                     method="DELETE")
        urllib.request.urlopen(req).close()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen("http://%s/v2/test/img/blobs/%s" % (reg.host, layer["digest"]))
        assert e.value.code == 404
    for c in out["chain_ids"]:
        subprocess.run(["rm", "-rf", os.path.join(root, "layers", c.split(":")[1])], check=True)
    assert berth_pull(root, reg.host + "/test/img:v1") == out
    for c in out["chain_ids"]:
        assert os.path.isdir(os.path.join(root, "layers", c.split(":")[1]))


def test_pull_whiteouts_hide_lower_files(workdir, regwork, registries):
    reg = registries(regwork)
    img = whiteout_image()
    http_push("http://" + reg.host, "test/wh", "latest", img)
    root = os.path.join(workdir, "data")
    out = berth_pull(root, reg.host + "/test/wh", "--mount", "c2")
    try:
        rootfs = os.path.join(root, "containers", "c2", "rootfs")
        assert sorted(os.listdir(os.path.join(rootfs, "etc"))) == ["b"]
        assert sorted(os.listdir(os.path.join(rootfs, "opq"))) == ["y"]
        upper_layer = os.path.join(root, "layers", out["chain_ids"][1].split(":")[1])
        st = os.lstat(os.path.join(upper_layer, "etc", "a"))
        assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0
        assert os.getxattr(os.path.join(upper_layer, "opq"), "trusted.overlay.opaque") == b"y"
    finally:
        berth_pull(root, "--umount", "c2")


def test_pull_refuses_a_layer_whose_diff_id_lies(workdir, regwork, registries):
    reg = registries(regwork)
    img = whiteout_image()
    # rewrite the config with a wrong diff id for the upper layer
    man = json.loads(img.blobs[img.top_digest])
    cfg = json.loads(img.blobs[man["config"]["digest"]])
    cfg["rootfs"]["diff_ids"][1] = "sha256:" + "0" * 64
    del img.blobs[man["config"]["digest"]]
    del img.blobs[img.top_digest]
    cb = json.dumps(cfg).encode()
    man["config"] = {"mediaType": OCI_CONFIG, "digest": img.add(cb), "size": len(cb)}
    mb = json.dumps(man).encode()
    img.top_digest = img.add(mb)
    http_push("http://" + reg.host, "test/lie", "latest", img)
    root = os.path.join(workdir, "data")
    p = berth_pull(root, reg.host + "/test/lie", check=False)
    assert p.returncode == 1
    assert "layer sha256:" + "0" * 64 + ": diff id mismatch (got sha256:" in p.stderr
    # the honest lower layer may stay; the lying one is nowhere, and no temp is left
    names = os.listdir(os.path.join(root, "layers"))
    assert not any(n.endswith(".tmp") for n in names)
    assert len(names) <= 1
