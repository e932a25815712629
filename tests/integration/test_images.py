"""Images end to end: berthd pulls from a real registry (CNCF Distribution on
127.0.0.1, plain HTTP by the loopback rule) into its store, and berth, the
real docker CLI and docker-py list, inspect, tag and remove them.

Images are built here from busybox-static: several layers (gzip, zstd,
plain tar) with a symlink, an OCI whiteout, an opaque directory and a
hardlink, pushed with plain HTTP requests.  A proxy in front of the registry
can dribble one blob slowly and counts blob fetches, for the kill -9,
client-gone and concurrent-pull tests.

Reused, not copied: the registry fixture, image blob helpers and push from
test_registry.py; the daemon runner from test_daemon.py.  Every daemon,
registry and proxy started here is stopped, every temp dir removed.
"""
import base64
import http.server
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

import docker
import pytest

from conftest import build_path
from test_daemon import Daemon
from test_registry import (DOCKER_CONFIG, DOCKER_MANIFEST, LAYER_TYPES, OCI_INDEX, Image,
                           build_image, compress, free_port, http_push, registries, regwork,
                           sha256)

BERTH = build_path("src", "cmd", "berth")

_ = (registries, regwork)  # pytest fixtures imported from test_registry


# ---- test images ---------------------------------------------------------------

def tar_layer(entries):
    """entries: (name, kind, payload) with kind dir|file|sym|hard."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = 0o755 if kind in ("dir", "sym") else 0o644
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = payload
                t.addfile(ti)
            elif kind == "hard":
                ti.type = tarfile.LNKTYPE
                ti.linkname = payload
                t.addfile(ti)
            else:
                if name == "bin/busybox":
                    ti.mode = 0o755
                ti.size = len(payload)
                t.addfile(ti, io.BytesIO(payload))
    return bio.getvalue()


def base_layer():
    with open("/bin/busybox", "rb") as f:
        bb = f.read()
    return tar_layer([("bin", "dir", None), ("bin/busybox", "file", bb),
                      ("bin/sh", "sym", "busybox"), ("etc", "dir", None),
                      ("etc/a.txt", "file", b"a\n"), ("etc/d", "dir", None),
                      ("etc/d/old", "file", b"old\n")])


def change_layer(tag):
    return tar_layer([("etc", "dir", None), ("etc/.wh.a.txt", "file", b""),
                      ("etc/d", "dir", None), ("etc/d/.wh..wh..opq", "file", b""),
                      ("etc/d/new", "file", tag.encode()), ("srv", "dir", None),
                      ("srv/h1", "file", b"x" * 1000), ("srv/h2", "hard", "srv/h1")])


def data_layer(size):
    return tar_layer([("data", "dir", None), ("data/blob", "file", os.urandom(size))])


class Built:
    """An image pushed as repo:tag, with what the client should see."""

    def __init__(self, img, raws, config_digest, manifest_digest, layer_digests, label):
        self.img = img
        self.diff_ids = [sha256(r) for r in raws]
        self.config_digest = config_digest
        self.manifest_digest = manifest_digest
        self.layer_digests = layer_digests
        self.label = label

    def chain_ids(self):
        out, prev = [], None
        for d in self.diff_ids:
            prev = d if prev is None else sha256(("%s %s" % (prev, d)).encode())
            out.append(prev)
        return out


def build(layers, docker_types=False):
    """layers: list of (raw tar, compression)."""
    img = Image()
    descs, digests = [], []
    for raw, how in layers:
        blob = compress(raw, how)
        d = img.add(blob)
        mt = LAYER_TYPES[how]
        if docker_types:
            mt = "application/vnd.docker.image.rootfs.diff.tar" + {"gzip": ".gzip", "zstd": ".zstd",
                                                                   "none": ""}[how]
        descs.append({"mediaType": mt, "digest": d, "size": len(blob)})
        digests.append(d)
    label = uuid.uuid4().hex
    cfg = {"created": "2026-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
           "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/",
                      "Labels": {"test": label}},
           "rootfs": {"type": "layers", "diff_ids": [sha256(r) for r, _ in layers]},
           "history": [{"created": "2026-01-02T03:04:0%dZ" % i, "created_by": "step %d" % i}
                       for i in range(len(layers))]}
    cb = json.dumps(cfg).encode()
    cd = img.add(cb)
    man = {"schemaVersion": 2,
           "mediaType": DOCKER_MANIFEST if docker_types else
           "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": DOCKER_CONFIG if docker_types else
                      "application/vnd.oci.image.config.v1+json",
                      "digest": cd, "size": len(cb)},
           "layers": descs}
    mb = json.dumps(man).encode()
    md = img.add(mb)
    img.top_digest, img.top_media_type = md, man["mediaType"]
    return Built(img, [r for r, _ in layers], cd, md, digests, label)


# ---- a proxy that can slow one blob down and counts blob fetches ---------------

class Proxy:
    def __init__(self, upstream):
        self.upstream = upstream
        self.slow_digest = None
        self.chunk_delay = 0.05
        self.blob_gets = {}
        self.lock = threading.Lock()
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                proxy.handle(self)

            do_HEAD = do_GET

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), H)
        self.httpd.daemon_threads = True
        self.host = "127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(self, h):
        req = urllib.request.Request("http://%s%s" % (self.upstream, h.path), method=h.command,
                                     headers={k: v for k, v in h.headers.items()
                                              if k.lower() in ("accept", "range")})
        try:
            r = urllib.request.urlopen(req, timeout=30)
            status, headers, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        digest = h.path.rsplit("/", 1)[-1]
        if "/blobs/" in h.path and h.command == "GET" and status == 200:
            with self.lock:
                self.blob_gets[digest] = self.blob_gets.get(digest, 0) + 1
        h.send_response(status)
        for k in ("Content-Type", "Docker-Content-Digest", "Docker-Distribution-Api-Version"):
            if headers.get(k):
                h.send_header(k, headers[k])
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command == "HEAD":
            return
        try:
            if digest == self.slow_digest:
                for i in range(0, len(body), 32768):
                    h.wfile.write(body[i:i + 32768])
                    h.wfile.flush()
                    time.sleep(self.chunk_delay)
            else:
                h.wfile.write(body)
        except OSError:
            pass

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- fixtures --------------------------------------------------------------------

@pytest.fixture
def env(regwork, registries):
    """A registry, a proxy in front of it, and a berthd."""
    reg = registries(regwork)
    proxy = Proxy(reg.host)
    root = tempfile.mkdtemp(prefix="berth-images-", dir="/tmp")
    d = Daemon(root, config={"max-concurrent-downloads": 3}).start()

    class Env:
        pass

    e = Env()
    e.reg, e.proxy, e.daemon, e.root = reg, proxy, d, root
    e.data = d.data
    e.repo = "test/img-" + uuid.uuid4().hex[:8]
    e.registries, e.regwork = registries, regwork
    try:
        yield e
    finally:
        try:
            d.stop()
        finally:
            d.kill()
        proxy.stop()
        shutil.rmtree(root, ignore_errors=True)


def push(e, built, tag):
    http_push("http://" + e.reg.host, e.repo, tag, built.img)


def berth(e, *args, check=True, timeout=120, input=None):
    p = subprocess.run([BERTH, "-H", "unix://" + e.daemon.sock, *args], capture_output=True,
                       text=True, timeout=timeout, input=input,
                       env={**{k: v for k, v in os.environ.items()
                               if k not in ("BERTH_HOST", "DOCKER_HOST")},
                            "DOCKER_CONFIG": e.root, "BERTH_CONFIG": e.root})
    if check and p.returncode != 0:
        raise AssertionError("berth %s: rc=%d\n%s%s" % (" ".join(args), p.returncode, p.stdout,
                                                          p.stderr))
    return p


def docker_cli(e, *args, check=True):
    p = subprocess.run(["docker", "-H", "unix://" + e.daemon.sock, *args], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "DOCKER_CONFIG": e.root})
    if check and p.returncode != 0:
        raise AssertionError("docker %s: rc=%d\n%s%s" % (" ".join(args), p.returncode, p.stdout,
                                                           p.stderr))
    return p


def leftovers(data):
    """Temp files and partial layers in the store."""
    out = []
    for sub in ("tmp", "layers", os.path.join("blobs", "sha256")):
        d = os.path.join(data, sub)
        for n in (os.listdir(d) if os.path.isdir(d) else []):
            if sub == "tmp" or n.endswith(".tmp") or n.startswith("ingest"):
                out.append(os.path.join(sub, n))
    return out


def store_files(data):
    layers = sorted(os.listdir(os.path.join(data, "layers")))
    blobs = sorted(os.listdir(os.path.join(data, "blobs", "sha256")))
    return layers, blobs


def hexof(d):
    return d.split(":", 1)[1]


# ---- tests -----------------------------------------------------------------------

def test_pull_lists_inspects_and_unpacks(env):
    img = build([(base_layer(), "gzip"), (change_layer("one"), "zstd"),
                 (data_layer(200 * 1024), "none")])
    push(env, img, "v1")
    ref = "%s/%s:v1" % (env.reg.host, env.repo)

    p = berth(env, "pull", ref)
    lines = p.stdout.splitlines()
    assert lines[0] == "v1: Pulling from %s" % env.repo
    for d in img.layer_digests:
        short = hexof(d)[:12]
        assert "%s: Pulling fs layer" % short in lines
        assert "%s: Download complete" % short in lines
        assert "%s: Pull complete" % short in lines
    assert "Digest: %s" % img.manifest_digest in lines
    assert lines[-2] == "Status: Downloaded newer image for %s" % ref
    assert lines[-1] == ref

    # images: docker's table and --format
    out = berth(env, "images").stdout.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    row = out[1].split()
    assert row[:3] == ["%s/%s" % (env.reg.host, env.repo), "v1", hexof(img.config_digest)[:12]]
    fmt = berth(env, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert fmt == "%s %s\n" % (ref, hexof(img.config_digest)[:12])
    assert berth(env, "image", "ls", "-q", "--no-trunc").stdout == img.config_digest + "\n"
    digests = berth(env, "images", "--digests", "--format", "{{.Digest}}").stdout
    assert digests == img.manifest_digest + "\n"

    # inspect: Id, names, RootFS = diff_ids, Config from the image config
    j = json.loads(berth(env, "image", "inspect", ref).stdout)[0]
    assert j["Id"] == img.config_digest
    assert j["RepoTags"] == [ref]
    assert j["RepoDigests"] == ["%s/%s@%s" % (env.reg.host, env.repo, img.manifest_digest)]
    assert j["RootFS"] == {"Type": "layers", "Layers": img.diff_ids}
    assert j["Config"]["Cmd"] == ["/bin/sh"] and j["Config"]["Env"] == ["PATH=/bin"]
    assert j["Config"]["Labels"] == {"test": img.label}
    assert j["Created"] == "2026-01-02T03:04:05Z" and j["Os"] == "linux"

    # history: newest first, sizes per layer
    h = berth(env, "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", ref).stdout
    assert h.splitlines() == ["%s|step 2" % img.config_digest, "<missing>|step 1",
                              "<missing>|step 0"]
    sizes = berth(env, "history", "--format", "{{.Size}}", ref).stdout.split()
    assert len(sizes) == 3 and "0B" not in sizes, sizes  # every layer recorded with its size

    # the layers on disk: symlink, whiteout, opaque dir, hardlink
    chains = img.chain_ids()
    l0, l1 = (os.path.join(env.data, "layers", hexof(c)) for c in chains[:2])
    assert os.readlink(os.path.join(l0, "bin", "sh")) == "busybox"
    wh = os.lstat(os.path.join(l1, "etc", "a.txt"))
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(os.path.join(l1, "etc", "d"), "trusted.overlay.opaque") == b"y"
    assert not os.path.lexists(os.path.join(l1, "etc", "d", ".wh..wh..opq"))
    assert os.stat(os.path.join(l1, "srv", "h1")).st_ino == \
        os.stat(os.path.join(l1, "srv", "h2")).st_ino
    assert leftovers(env.data) == []


def docker_layer_size(raw):
    """dockerd's size of an unpacked layer: regular files' bytes and symlinks' target
    lengths, a hard-linked file once, whiteouts nothing (its walk of the layer dir)."""
    total = 0
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        for m in t.getmembers():
            if os.path.basename(m.name).startswith(".wh."):
                continue
            if m.isreg():
                total += m.size
            elif m.issym():
                total += len(m.linkname)
    return total


def test_sizes_are_dockerds(env):
    """Size and VirtualSize (list, inspect) and each history entry's size count
    the unpacked files as dockerd does, not the tar's length; the same through
    pull and through load."""
    raws = [base_layer(), change_layer("sizes"), data_layer(50 * 1024)]
    img = build([(raws[0], "gzip"), (raws[1], "zstd"), (raws[2], "none")])
    push(env, img, "v1")
    ref = "%s/%s:v1" % (env.reg.host, env.repo)
    per_layer = [docker_layer_size(r) for r in raws]
    with open("/bin/busybox", "rb") as f:
        assert per_layer[0] == len(f.read()) + len("busybox") + 2 + 4
    assert per_layer[1] == len("sizes") + 1000 and per_layer[2] == 50 * 1024
    total = sum(per_layer)
    for how in ("pull", "load"):
        if how == "load":
            out = os.path.join(env.root, "sizes.tar")
            berth(env, "save", "-o", out, ref)
            berth(env, "rmi", ref)
            berth(env, "load", "-i", out)
        else:
            berth(env, "pull", "-q", ref)
        j = json.loads(berth(env, "image", "inspect", ref).stdout)[0]
        assert (j["Size"], j["VirtualSize"]) == (total, total), how
        listed = [i for i in env.daemon.json("/v1.41/images/json") if i["Id"] == img.config_digest]
        assert (listed[0]["Size"], listed[0]["VirtualSize"]) == (total, total), how
        hist = berth(env, "history", "--human=false", "--format", "{{.Size}}", ref).stdout.split()
        assert hist == [str(s) for s in reversed(per_layer)], how


def test_second_pull_is_up_to_date_and_shared_layers_already_exist(env):
    base = base_layer()
    a = build([(base, "gzip"), (change_layer("a"), "gzip")])
    b = build([(base, "gzip"), (change_layer("b"), "zstd")])
    push(env, a, "a")
    push(env, b, "b")
    ra, rb = ("%s/%s:%s" % (env.reg.host, env.repo, t) for t in ("a", "b"))
    berth(env, "pull", ra)
    again = berth(env, "pull", ra).stdout.splitlines()
    assert again == ["a: Pulling from %s" % env.repo, "Digest: %s" % a.manifest_digest,
                     "Status: Image is up to date for %s" % ra, ra]
    second = berth(env, "pull", rb).stdout.splitlines()
    assert "%s: Already exists" % hexof(b.layer_digests[0])[:12] in second
    assert "%s: Pull complete" % hexof(b.layer_digests[1])[:12] in second
    assert second[-2] == "Status: Downloaded newer image for %s" % rb


def test_tag_rmi_free_what_nothing_else_uses(env):
    base = base_layer()
    a = build([(base, "gzip"), (change_layer("a"), "gzip")])
    b = build([(base, "gzip"), (change_layer("b"), "gzip")])
    push(env, a, "a")
    push(env, b, "b")
    ra, rb = ("%s/%s:%s" % (env.reg.host, env.repo, t) for t in ("a", "b"))
    berth(env, "pull", ra)
    berth(env, "pull", rb)
    shared = hexof(a.chain_ids()[0])

    berth(env, "tag", ra, "mine:1")
    assert berth(env, "image", "inspect", "-f", "{{.Id}}", "mine:1").stdout.strip() == \
        a.config_digest
    assert berth(env, "rmi", "mine:1").stdout == "Untagged: mine:1\n"
    assert os.path.isdir(os.path.join(env.data, "layers", hexof(a.chain_ids()[1])))

    out = berth(env, "rmi", ra).stdout.splitlines()
    assert out[0] == "Untagged: %s" % ra
    assert "Deleted: %s" % a.config_digest in out
    layers, blobs = store_files(env.data)
    assert shared in layers, "a layer image b still uses was removed"
    assert hexof(a.chain_ids()[1]) not in layers
    assert hexof(a.layer_digests[1]) not in blobs and hexof(a.config_digest) not in blobs
    assert hexof(a.layer_digests[0]) in blobs

    berth(env, "rmi", rb)
    assert store_files(env.data) == ([], [])
    assert berth(env, "images", "-q").stdout == ""


def test_rmi_of_a_repositorys_last_tag_untags_its_digest(env):
    """dockerd: removing the last tag of a repository also removes that
    repository's digest references (and says so), so no "<none>" row is left;
    a tag in another repository keeps the image."""
    img = build([(base_layer(), "gzip"), (change_layer("dg"), "gzip")])
    push(env, img, "v1")
    repo = "%s/%s" % (env.reg.host, env.repo)
    ref, by_digest = repo + ":v1", "%s@%s" % (repo, img.manifest_digest)
    berth(env, "pull", "-q", ref)
    berth(env, "tag", ref, "mine:1")
    berth(env, "tag", ref, repo + ":v2")
    # another tag of the same repository is left: the digest stays
    assert berth(env, "rmi", repo + ":v2").stdout == "Untagged: %s:v2\n" % repo
    assert json.loads(berth(env, "image", "inspect", "mine:1").stdout)[0]["RepoDigests"] == \
        [by_digest]
    assert berth(env, "rmi", ref).stdout == "Untagged: %s\nUntagged: %s\n" % (ref, by_digest)
    j = json.loads(berth(env, "image", "inspect", "mine:1").stdout)[0]
    assert (j["RepoTags"], j["RepoDigests"]) == (["mine:1"], [])
    assert berth(env, "images", "--digests", "--format",
                 "{{.Repository}} {{.Tag}} {{.Digest}}").stdout == "mine 1 <none>\n"
    assert berth(env, "rmi", "mine:1").stdout == \
        "Untagged: mine:1\nDeleted: %s\n" % img.config_digest
    assert store_files(env.data) == ([], [])

    # the last tag of the only repository: tag, digest, then the image
    berth(env, "pull", "-q", ref)
    assert berth(env, "rmi", ref).stdout == "Untagged: %s\nUntagged: %s\nDeleted: %s\n" % (
        ref, by_digest, img.config_digest)
    assert berth(env, "images", "-q").stdout == ""


def test_rmi_force_of_a_missing_image_exits_0(env):
    """docker rmi -f: a missing image is reported but is no failure; the other names
    are removed, and the errors come after what was removed."""
    img = build([(base_layer(), "gzip")])
    push(env, img, "v1")
    ref = "%s/%s:v1" % (env.reg.host, env.repo)
    berth(env, "pull", "-q", ref)
    berth(env, "tag", ref, "other:1")
    p = berth(env, "rmi", "-f", "nosuch", "other:1", check=False)
    assert (p.returncode, p.stdout, p.stderr) == \
        (0, "Untagged: other:1\n", "Error response from daemon: No such image: nosuch:latest\n")
    p = berth(env, "rmi", "nosuch", check=False)
    assert (p.returncode, p.stderr) == \
        (1, "Error response from daemon: No such image: nosuch:latest\n")


def test_errors_are_dockers(env):
    ref = "%s/%s:nope" % (env.reg.host, env.repo)
    p = berth(env, "pull", ref, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("Error response from daemon: manifest for %s not found" % ref)
    p = berth(env, "rmi", "no-such-image-%s" % uuid.uuid4().hex[:6], check=False)
    assert p.returncode == 1 and "No such image" in p.stderr
    p = berth(env, "history", "nothere:1", check=False)
    assert p.returncode == 1
    assert p.stderr == "Error response from daemon: No such image: nothere:1\n"
    status, _, body = env.daemon.request("POST", "/v1.41/images/create?fromImage=UPPER&tag=x")
    assert status == 400 and "must be lowercase" in json.loads(body)["message"]
    assert leftovers(env.data) == []


def test_digest_references_print_with_at(env):
    """A reference with a digest reads name@sha256:… in every message and log line,
    never name:sha256:…."""
    img = build([(base_layer(), "gzip")])
    push(env, img, "v1")
    missing = "sha256:" + "0" * 63 + "1"
    ref = "%s/%s@%s" % (env.reg.host, env.repo, missing)
    p = berth(env, "pull", ref, check=False)
    assert p.returncode == 1
    assert p.stderr == ("Error response from daemon: manifest for %s not found: %s: get manifest: "
                        "manifest unknown (MANIFEST_UNKNOWN, status 404)\n" % (ref, ref)), p.stderr
    p = berth(env, "pull", "%s/%s@%s" % (env.reg.host, env.repo, img.manifest_digest))
    assert p.returncode == 0
    env.daemon.stop()
    assert ":sha256:" not in env.daemon.logtext()
    assert ref in env.daemon.logtext()


def registry_manifest_digest(host, repo, tag):
    req = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (host, repo, tag), method="HEAD",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                                          + DOCKER_MANIFEST})
    with urllib.request.urlopen(req) as r:
        return r.headers["Docker-Content-Digest"]


def test_push_back_byte_identical(env):
    img = build([(base_layer(), "gzip"), (change_layer("push"), "zstd")])
    push(env, img, "v1")
    ref = "%s/%s:v1" % (env.reg.host, env.repo)
    berth(env, "pull", "-q", ref)
    copy_repo = env.repo + "-copy"
    copy = "%s/%s:v2" % (env.reg.host, copy_repo)
    berth(env, "tag", ref, copy)
    out = berth(env, "push", copy).stdout.splitlines()
    assert out[0] == "The push refers to repository [%s/%s]" % (env.reg.host, copy_repo)
    assert sum(1 for line in out if line.endswith(": Pushed")) == len(img.layer_digests)
    assert out[-1].startswith("v2: digest: %s size: " % img.manifest_digest)
    assert registry_manifest_digest(env.reg.host, copy_repo, "v2") == img.manifest_digest
    again = berth(env, "image", "push", copy).stdout.splitlines()
    assert sum(1 for line in again if line.endswith(": Layer already exists")) == \
        len(img.layer_digests)
    p = berth(env, "push", "%s/%s:none" % (env.reg.host, copy_repo), check=False)
    assert p.returncode == 1
    assert p.stderr == "tag does not exist: %s/%s:none\n" % (env.reg.host, copy_repo)


def test_login_then_pull_and_push_with_basic_auth(env):
    htp = os.path.join(env.regwork, "htpasswd-" + uuid.uuid4().hex[:6])
    subprocess.run(["htpasswd", "-B", "-b", "-c", htp, "alice", "s3cret"], check=True,
                   capture_output=True)
    reg = env.registries(env.regwork, htpasswd=htp)
    img = build([(base_layer(), "gzip"), (change_layer("auth"), "gzip")])
    basic = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    http_push("http://" + reg.host, "sec/img", "v1", img.img, headers={"Authorization": basic})
    ref = reg.host + "/sec/img:v1"

    p = berth(env, "pull", ref, check=False)
    assert p.returncode == 1 and "unauthorized" in p.stderr, p.stderr
    p = berth(env, "login", "-u", "alice", "--password-stdin", reg.host, input="wrong\n",
              check=False)
    assert p.returncode == 1 and p.stderr.startswith("Error response from daemon: ")
    cfg_path = os.path.join(env.root, "config.json")
    assert not os.path.exists(cfg_path)

    p = berth(env, "login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n")
    assert p.stdout == "Login Succeeded\n"
    with open(cfg_path) as f:
        cfg = json.load(f)
    assert cfg["auths"][reg.host]["auth"] == base64.b64encode(b"alice:s3cret").decode()
    assert stat.S_IMODE(os.stat(cfg_path).st_mode) == 0o600

    out = berth(env, "pull", ref).stdout.splitlines()
    assert out[-2] == "Status: Downloaded newer image for %s" % ref
    berth(env, "tag", ref, reg.host + "/sec/copy:v1")
    assert berth(env, "push", reg.host + "/sec/copy:v1").stdout.splitlines()[-1].startswith(
        "v1: digest: %s" % img.manifest_digest)

    # the docker CLI logs in through berthd too, into the same file format
    d = subprocess.run(["docker", "-H", "unix://" + env.daemon.sock, "login", "-u", "alice",
                        "--password-stdin", reg.host], input="s3cret\n", capture_output=True,
                       text=True, env={**os.environ, "DOCKER_CONFIG": env.root}, timeout=60)
    assert d.returncode == 0 and "Login Succeeded" in d.stdout, d.stderr

    assert berth(env, "logout", reg.host).stdout == \
        "Removing login credentials for %s\n" % reg.host
    with open(cfg_path) as f:
        assert reg.host not in json.load(f).get("auths", {})
    assert berth(env, "logout", reg.host).stdout == "Not logged in to %s\n" % reg.host


def test_platform_and_distribution(env):
    multi = build_image(two_platforms=True)
    http_push("http://" + env.reg.host, env.repo, "multi", multi)
    ref = "%s/%s:multi" % (env.reg.host, env.repo)
    status, _, body = env.daemon.request("GET", "/v1.41/distribution/%s/json" % ref)
    assert status == 200, body
    dist = json.loads(body)
    assert dist["Descriptor"]["digest"] == multi.top_digest
    assert dist["Descriptor"]["mediaType"] == OCI_INDEX
    assert {(p["architecture"], p.get("variant")) for p in dist["Platforms"]} == \
        {("amd64", None), ("arm64", "v8")}
    status, _, body = env.daemon.request("GET", "/v1.41/distribution/%s/json" % (ref + "x"))
    assert status == 404 and "manifest unknown" in json.loads(body)["message"]

    out = berth(env, "pull", "--platform", "linux/arm64", ref).stdout.splitlines()
    assert "Digest: %s" % multi.top_digest in out
    arch = berth(env, "image", "inspect", "-f", "{{.Architecture}}", ref).stdout.strip()
    assert arch == "arm64"

    client = docker.DockerClient(base_url="unix://" + env.daemon.sock)
    try:
        rd = client.images.get_registry_data(ref)
        assert rd.id == multi.top_digest
        assert rd.has_platform("linux/amd64") and not rd.has_platform("linux/s390x")
    finally:
        client.close()


def stream_messages(body):
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_platform_errors_are_dockers(env):
    """--platform as dockerd 20.10 (API 1.41) takes it: a value it cannot parse is a
    400 in its words; a platform an index does not list fails in the stream after
    "Pulling from" ("no matching manifest for …"), also the default linux/amd64; a
    single-platform image is pulled whatever the platform says."""
    multi = build_image(two_platforms=True)
    http_push("http://" + env.reg.host, env.repo, "multi", multi)
    ref = "%s/%s:multi" % (env.reg.host, env.repo)

    p = berth(env, "pull", "--platform", "foo/bar/baz/qux", ref, check=False)
    assert (p.returncode, p.stdout) == (1, "")
    assert p.stderr == ('Error response from daemon: "foo/bar/baz/qux": cannot parse platform '
                        'specifier: invalid argument\n')
    status, _, body = env.daemon.request(
        "POST", "/v1.41/images/create?fromImage=%s/%s&tag=multi&platform=foo" %
        (env.reg.host, env.repo))
    assert status == 400
    assert json.loads(body)["message"] == \
        '"foo": unknown operating system or architecture: invalid argument'
    d = docker_cli(env, "pull", "--platform", "linux/Foo!", ref, check=False)
    assert d.returncode == 1  # (the docker CLI lowercases --platform before it sends it)
    assert d.stderr == ('Error response from daemon: "foo!" is an invalid component of '
                        '"linux/foo!": platform specifier component must match '
                        '"^[A-Za-z0-9_-]+$": invalid argument\n')

    p = berth(env, "pull", "--platform", "linux/s390x", ref, check=False)
    assert p.returncode == 1
    assert p.stdout == "multi: Pulling from %s\n" % env.repo
    assert p.stderr == "no matching manifest for linux/s390x in the manifest list entries\n"
    status, _, body = env.daemon.request(
        "POST", "/v1.41/images/create?fromImage=%s/%s&tag=multi&platform=LINUX/ARMHF" %
        (env.reg.host, env.repo))
    assert status == 200
    msg = "no matching manifest for linux/arm in the manifest list entries"
    assert stream_messages(body) == [{"status": "Pulling from " + env.repo, "id": "multi"},
                                     {"errorDetail": {"message": msg}, "error": msg}]
    assert berth(env, "images", "-q").stdout == ""

    # an index without linux/amd64, pulled with no --platform
    idx = json.loads(multi.blobs[multi.top_digest])
    idx["manifests"] = [m for m in idx["manifests"] if m["platform"]["architecture"] == "arm64"]
    ib = json.dumps(idx).encode()
    multi.top_digest = multi.add(ib)
    http_push("http://" + env.reg.host, env.repo, "armonly", multi)
    p = berth(env, "pull", "%s/%s:armonly" % (env.reg.host, env.repo), check=False)
    assert (p.returncode, p.stderr) == \
        (1, "no matching manifest for linux/amd64 in the manifest list entries\n")
    assert berth(env, "pull", "-q", "--platform", "linux/aarch64",
                 "%s/%s:armonly" % (env.reg.host, env.repo)).returncode == 0

    # one platform, no index: dockerd 20.10 pulls it, whatever --platform asks
    single = build([(base_layer(), "gzip")])
    push(env, single, "single")
    p = berth(env, "pull", "-q", "--platform", "linux/s390x",
              "%s/%s:single" % (env.reg.host, env.repo))
    assert p.stdout == "%s/%s:single\n" % (env.reg.host, env.repo)


def test_save_and_load_round_trip(env):
    img = build([(base_layer(), "gzip"), (change_layer("save"), "zstd"),
                 (data_layer(32 * 1024), "none")])
    push(env, img, "v1")
    ref = "%s/%s:v1" % (env.reg.host, env.repo)
    berth(env, "pull", "-q", ref)
    out = os.path.join(env.root, "saved.tar")
    berth(env, "save", "-o", out, ref)
    with tarfile.open(out) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        assert manifest == [{"Config": hexof(img.config_digest) + ".json", "RepoTags": [ref],
                             "Layers": ["%s/layer.tar" % hexof(d) for d in img.layer_digests]}]
        cfg = t.extractfile(manifest[0]["Config"]).read()
        assert sha256(cfg) == img.config_digest

    berth(env, "rmi", ref)
    assert store_files(env.data) == ([], [])
    assert berth(env, "load", "-i", out).stdout == "Loaded image: %s\n" % ref
    j = json.loads(berth(env, "image", "inspect", ref).stdout)[0]
    assert j["Id"] == img.config_digest and j["RootFS"]["Layers"] == img.diff_ids
    l1 = os.path.join(env.data, "layers", hexof(img.chain_ids()[1]))
    assert stat.S_ISCHR(os.lstat(os.path.join(l1, "etc", "a.txt")).st_mode)

    # the docker CLI saves and loads through berthd; stdin works for load too
    dout = os.path.join(env.root, "docker.tar")
    docker_cli(env, "save", "-o", dout, ref)
    with open(dout, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()
    docker_cli(env, "rmi", ref)
    with open(dout, "rb") as f:
        p = subprocess.run(["docker", "-H", "unix://" + env.daemon.sock, "load"], stdin=f,
                           capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "Loaded image: %s\n" % ref, p.stderr

    p = berth(env, "save", "-o", os.path.join(env.root, "x.tar"), "nothere:1", check=False)
    assert p.returncode == 1
    assert p.stderr == "Error response from daemon: No such image: nothere:1\n"
    assert not os.path.exists(os.path.join(env.root, "x.tar"))
    bad = os.path.join(env.root, "bad.tar")
    with tarfile.open(bad, "w") as t:
        ti = tarfile.TarInfo("hello.txt")
        ti.size = 2
        t.addfile(ti, io.BytesIO(b"hi"))
    p = berth(env, "load", "-i", bad, check=False)
    assert p.returncode == 1 and "no manifest.json" in p.stderr, p.stderr


def wait_for(pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_kill9_mid_pull_leaves_nothing_and_pull_works_again(env):
    img = build([(base_layer(), "gzip"), (data_layer(3 * 1024 * 1024), "none")])
    push(env, img, "v1")
    env.proxy.slow_digest = img.layer_digests[1]
    ref = "%s/%s:v1" % (env.proxy.host, env.repo)
    cli = subprocess.Popen([BERTH, "-H", "unix://" + env.daemon.sock, "pull", ref],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: leftovers(env.data)), "the pull never started"
        env.daemon.kill()  # SIGKILL in the middle of the slow layer
    finally:
        cli.wait(30)
    assert leftovers(env.data), "expected partial files before the restart"
    env.daemon.start()
    assert leftovers(env.data) == []
    assert berth(env, "images", "-q").stdout == ""
    assert store_files(env.data) == ([], [])
    env.proxy.slow_digest = None
    out = berth(env, "pull", ref).stdout.splitlines()
    assert out[-2] == "Status: Downloaded newer image for %s" % ref
    assert berth(env, "images", "-q", "--no-trunc").stdout == img.config_digest + "\n"


def test_client_gone_cancels_the_pull(env):
    img = build([(base_layer(), "gzip"), (data_layer(4 * 1024 * 1024), "none")])
    push(env, img, "v1")
    env.proxy.slow_digest = img.layer_digests[1]
    ref = "%s/%s:v1" % (env.proxy.host, env.repo)
    cli = subprocess.Popen([BERTH, "-H", "unix://" + env.daemon.sock, "pull", ref],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: leftovers(env.data))
    cli.kill()
    cli.wait()
    # ~6 s of slow transfer were left: a pull that stops cleans up well before that
    assert wait_for(lambda: leftovers(env.data) == [], timeout=4), leftovers(env.data)
    assert berth(env, "images", "-q").stdout == ""


def test_concurrent_pulls_fetch_each_blob_once(env):
    img = build([(base_layer(), "gzip"), (change_layer("c"), "zstd"),
                 (data_layer(1024 * 1024), "none")])
    push(env, img, "v1")
    env.proxy.slow_digest = img.layer_digests[2]
    env.proxy.chunk_delay = 0.02
    ref = "%s/%s:v1" % (env.proxy.host, env.repo)
    procs = [subprocess.Popen([BERTH, "-H", "unix://" + env.daemon.sock, "pull", ref],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    for d in img.layer_digests + [img.config_digest]:
        assert env.proxy.blob_gets.get(d) == 1, (d, env.proxy.blob_gets)
    assert berth(env, "images", "-q").stdout.count("\n") == 1


def test_docker_cli_against_berthd(env):
    img = build([(base_layer(), "gzip"), (change_layer("d"), "gzip")], docker_types=True)
    push(env, img, "v1")
    ref = "%s/%s:v1" % (env.reg.host, env.repo)
    out = docker_cli(env, "pull", ref).stdout.splitlines()
    assert out[0] == "v1: Pulling from %s" % env.repo
    assert "Digest: %s" % img.manifest_digest in out
    assert out[-2:] == ["Status: Downloaded newer image for %s" % ref, ref]
    assert docker_cli(env, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout == ref + "\n"
    docker_cli(env, "tag", ref, "dtag:2")
    assert docker_cli(env, "image", "inspect", "-f", "{{.Id}} {{.RootFS.Layers}}",
                      "dtag:2").stdout.strip() == \
        "%s [%s]" % (img.config_digest, " ".join(img.diff_ids))
    hist = docker_cli(env, "history", "--format", "{{.CreatedBy}}", "dtag:2").stdout
    assert hist.splitlines() == ["step 1", "step 0"]
    pushed = "%s/%s-d:v3" % (env.reg.host, env.repo)
    docker_cli(env, "tag", ref, pushed)
    out = docker_cli(env, "push", pushed).stdout.splitlines()
    assert out[-1].startswith("v3: digest: %s size: " % img.manifest_digest)
    assert registry_manifest_digest(env.reg.host, env.repo + "-d", "v3") == img.manifest_digest
    docker_cli(env, "rmi", pushed)
    assert docker_cli(env, "rmi", "dtag:2").stdout == "Untagged: dtag:2\n"
    rm = docker_cli(env, "rmi", ref).stdout.splitlines()
    assert "Deleted: %s" % img.config_digest in rm
    assert docker_cli(env, "images", "-q").stdout == ""
    assert store_files(env.data) == ([], [])


def test_docker_py_against_berthd(env):
    img = build([(base_layer(), "gzip"), (change_layer("p"), "zstd")])
    push(env, img, "v1")
    repo = "%s/%s" % (env.reg.host, env.repo)
    client = docker.DockerClient(base_url="unix://" + env.daemon.sock)
    try:
        pulled = client.images.pull(repo, tag="v1")
        assert pulled.id == img.config_digest
        assert pulled.tags == [repo + ":v1"]
        assert [i.id for i in client.images.list()] == [img.config_digest]
        got = client.images.get(repo + ":v1")
        assert got.attrs["RootFS"]["Layers"] == img.diff_ids
        assert got.labels == {"test": img.label}
        client.images.remove(repo + ":v1")
        assert client.images.list() == []
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(repo + ":v1")
    finally:
        client.close()
