"""`load` of real-size archives and of OCI image layouts.

The request body of POST /images/load is streamed from the socket into the
content store (a stream_body route), and `berth load` streams the file or its
stdin to the daemon, so an archive larger than any buffer loads with flat
memory.  Archives are built here: docker-archive as docker 20.10 writes it
(with the legacy "<id>/json" and "<id>/VERSION" files), as docker 25+ writes it
(blobs/sha256 with layer.tar symlinks), and OCI layouts as skopeo/buildah and
docker 25+ write them (gzip and zstd layers, a nested index with two platforms,
containerd's name annotation).  Hostile and broken archives must fail with a
one-line error and leave the store as it was.

Every daemon and temp dir made here is removed.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time

import docker
import pytest

from conftest import build_path
from test_daemon import Daemon

BERTH = build_path("src", "cmd", "berth")


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def hexof(d):
    return d.split(":", 1)[1]


def layer_tar(files):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = 0o644
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def zstd(raw):
    return subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True,
                          check=True).stdout


def config_for(raws, label):
    return json.dumps({
        "created": "2026-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"test": label}},
        "rootfs": {"type": "layers", "diff_ids": [sha256(r) for r in raws]},
        "history": [{"created_by": "step %d" % i} for i in range(len(raws))]}).encode()


class TarWriter:
    def __init__(self, path):
        self.t = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)

    def file(self, name, data):
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = 0o644
        self.t.addfile(ti, io.BytesIO(data))

    def file_from(self, name, path):
        ti = self.t.gettarinfo(path, arcname=name)
        with open(path, "rb") as f:
            self.t.addfile(ti, f)

    def dir(self, name):
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        self.t.addfile(ti)

    def symlink(self, name, target):
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.SYMTYPE
        ti.linkname = target
        self.t.addfile(ti)

    def close(self):
        self.t.close()


def docker20_archive(path, raws, tags, label, compress=None):
    """As docker 20.10 saves: <id>/{VERSION,json,layer.tar}, <config>.json, manifest.json.
    compress: a command that compresses each layer.tar (docker load takes that too)."""
    cfg = config_for(raws, label)
    w = TarWriter(path)
    names = []
    for i, raw in enumerate(raws):
        d = hashlib.sha256(b"v1-%d-%s" % (i, label.encode())).hexdigest()
        w.dir(d + "/")
        w.file(d + "/VERSION", b"1.0")
        w.file(d + "/json", b'{"id":"%s"}' % d.encode())
        if compress:
            raw = subprocess.run(compress, input=raw, capture_output=True, check=True).stdout
        w.file(d + "/layer.tar", raw)
        names.append(d + "/layer.tar")
    w.file(hexof(sha256(cfg)) + ".json", cfg)
    w.file("manifest.json", json.dumps([{"Config": hexof(sha256(cfg)) + ".json",
                                         "RepoTags": tags, "Layers": names}]).encode())
    w.file("repositories", b"{}")
    w.close()
    return sha256(cfg)


def oci_layout(path, images, manifest_json=False, legacy_links=False):
    """images: list of (blobs list of (raw, compression), name annotations dict,
    platforms) -- platforms: None for a plain manifest in index.json, else a list
    of (arch, layers) making a nested index whose amd64 entry is the image."""
    w = TarWriter(path)
    w.file("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    written = set()
    ids = []

    def blob(data):
        d = sha256(data)
        if d not in written:
            w.file("blobs/sha256/" + hexof(d), data)
            written.add(d)
        return d

    def manifest_for(layers, label, arch="amd64"):
        raws = [r for r, _ in layers]
        cfg = json.loads(config_for(raws, label))
        cfg["architecture"] = arch
        cb = json.dumps(cfg).encode()
        descs = []
        for raw, how in layers:
            data = {"gzip": lambda r: gzip.compress(r, mtime=0), "zstd": zstd,
                    "none": lambda r: r}[how](raw)
            mt = "application/vnd.oci.image.layer.v1.tar" + {"gzip": "+gzip", "zstd": "+zstd",
                                                             "none": ""}[how]
            descs.append({"mediaType": mt, "digest": blob(data), "size": len(data)})
        m = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "digest": blob(cb), "size": len(cb)},
                        "layers": descs}).encode()
        return m, sha256(cb), descs

    entries, docker_manifest = [], []
    for n, (layers, annotations, platforms) in enumerate(images):
        label = "img%d" % n
        if platforms is None:
            m, cid, descs = manifest_for(layers, label)
            ids.append(cid)
            entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": blob(m), "size": len(m), "annotations": annotations})
            docker_manifest.append((cid, descs, annotations))
        else:
            subs = []
            for arch, alayers in platforms:
                m, cid, _ = manifest_for(alayers, label + arch, arch)
                if arch == "amd64":
                    ids.append(cid)
                subs.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                             "digest": blob(m), "size": len(m),
                             "platform": {"os": "linux", "architecture": arch}})
            x = json.dumps({"schemaVersion": 2,
                            "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": subs}).encode()
            entries.append({"mediaType": "application/vnd.oci.image.index.v1+json",
                            "digest": blob(x), "size": len(x), "annotations": annotations})
    w.file("index.json", json.dumps({"schemaVersion": 2, "manifests": entries}).encode())
    if manifest_json:
        # docker 25+: manifest.json beside the layout, naming blobs by path, with
        # the old "<hex>/layer.tar" names kept as symlinks into blobs/.
        items = []
        for cid, descs, annotations in docker_manifest:
            layers = []
            for d in descs:
                if legacy_links:
                    w.dir(hexof(d["digest"]) + "/")
                    w.symlink(hexof(d["digest"]) + "/layer.tar",
                              "../blobs/sha256/" + hexof(d["digest"]))
                    layers.append(hexof(d["digest"]) + "/layer.tar")
                else:
                    layers.append("blobs/sha256/" + hexof(d["digest"]))
            items.append({"Config": "blobs/sha256/" + hexof(cid),
                          "RepoTags": [annotations["io.containerd.image.name"]],
                          "Layers": layers})
        w.file("manifest.json", json.dumps(items).encode())
    w.close()
    return ids


@pytest.fixture
def env():
    root = tempfile.mkdtemp(prefix="berth-load-", dir="/tmp")
    d = Daemon(root).start()

    class Env:
        pass

    e = Env()
    e.root, e.daemon, e.data = root, d, d.data
    try:
        yield e
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


def berth(e, *args, check=True, stdin=None, timeout=300):
    p = subprocess.run([BERTH, "-H", "unix://" + e.daemon.sock, *args], capture_output=True,
                       stdin=stdin, timeout=timeout,
                       env={**{k: v for k, v in os.environ.items()
                               if k not in ("BERTH_HOST", "DOCKER_HOST")},
                            "DOCKER_CONFIG": e.root, "BERTH_CONFIG": e.root})
    p.stdout, p.stderr = p.stdout.decode(), p.stderr.decode()
    if check and p.returncode != 0:
        raise AssertionError("berth %s: rc=%d\n%s%s" % (" ".join(args), p.returncode, p.stdout,
                                                          p.stderr))
    return p


def inspect(e, ref):
    return json.loads(berth(e, "image", "inspect", ref).stdout)[0]


def store(e):
    """(layers, blobs, temp files) in the daemon's store."""
    def ls(*p):
        d = os.path.join(e.data, *p)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []
    return ls("layers"), ls("blobs", "sha256"), ls("tmp")


def daemon_hwm_kb(e):
    with open("/proc/%d/status" % e.daemon.proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def big_layer(mib):
    # Incompressible, so the archive is as big as its data.
    return layer_tar([("data/big", os.urandom(mib << 20)), ("data/small", b"s\n")])


def test_load_streams_an_archive_bigger_than_any_buffer(env):
    """96 MiB of layer through `berth load -i`, then through a pipe (chunked
    upload), then through the docker CLI: the daemon's peak RSS grows by far
    less than the archive, and the layers are unpacked and verified."""
    raws = [layer_tar([("etc/hello", b"hello\n")]), big_layer(96)]
    arch = os.path.join(env.root, "big.tar")
    cid = docker20_archive(arch, raws, ["big/load:v1"], "big")
    del raws
    assert os.path.getsize(arch) > 96 << 20
    before = daemon_hwm_kb(env)
    p = berth(env, "load", "-i", arch)
    assert p.stdout == "Loaded image: big/load:v1\n"
    grown_mib = (daemon_hwm_kb(env) - before) / 1024
    assert grown_mib < 32, "berthd's peak RSS grew by %.1f MiB for a 96 MiB archive" % grown_mib
    j = inspect(env, "big/load:v1")
    assert j["Id"] == cid and j["Config"]["Labels"] == {"test": "big"}
    layers, blobs, tmp = store(env)
    assert len(layers) == 2 and tmp == []
    # the legacy per-layer json/VERSION files and `repositories` were not kept
    assert len(blobs) == 3, blobs
    sizes = [os.path.getsize(os.path.join(env.data, "layers", n, "data", "big"))
             for n in layers if os.path.exists(os.path.join(env.data, "layers", n, "data"))]
    assert sizes == [96 << 20]

    berth(env, "rmi", "big/load:v1")
    assert store(env) == ([], [], [])
    with open(arch, "rb") as f:  # stdin is a file here: sent with its length
        assert berth(env, "load", stdin=f).stdout == "Loaded image: big/load:v1\n"
    berth(env, "rmi", "big/load:v1")
    # a pipe: chunked transfer encoding
    cat = subprocess.Popen(["cat", arch], stdout=subprocess.PIPE)
    try:
        p = berth(env, "load", stdin=cat.stdout)
    finally:
        cat.stdout.close()
        cat.wait()
    assert p.stdout == "Loaded image: big/load:v1\n"
    berth(env, "rmi", "big/load:v1")
    with open(arch, "rb") as f:
        d = subprocess.run(["docker", "-H", "unix://" + env.daemon.sock, "load"], stdin=f,
                           capture_output=True, text=True, timeout=300,
                           env={**os.environ, "DOCKER_CONFIG": env.root})
    assert d.returncode == 0 and d.stdout == "Loaded image: big/load:v1\n", d.stderr
    assert inspect(env, "big/load:v1")["Id"] == cid


def test_load_oci_layout_with_nested_index_and_names(env):
    base = layer_tar([("etc/os-release", b"ID=test\n")])
    app = layer_tar([("app/run", b"#!/bin/sh\n")])
    arch = os.path.join(env.root, "oci.tar")
    ids = oci_layout(arch, [
        ([(base, "gzip"), (app, "zstd")],
         {"io.containerd.image.name": "docker.io/library/ocitest:1.0",
          "org.opencontainers.image.ref.name": "1.0"}, None),
        ([(base, "none")], {"org.opencontainers.image.ref.name": "latest"}, None),
        (None, {"org.opencontainers.image.ref.name": "registry.example:5000/multi:2"},
         [("arm64", [(app, "gzip")]), ("amd64", [(base, "gzip"), (app, "gzip")])]),
    ])
    p = berth(env, "load", "-i", arch)
    # a bare tag names no repository: that image is loaded by ID
    assert p.stdout.splitlines() == ["Loaded image: ocitest:1.0",
                                     "Loaded image ID: %s" % ids[1],
                                     "Loaded image: registry.example:5000/multi:2"]
    j = inspect(env, "ocitest:1.0")
    assert j["Id"] == ids[0]
    assert j["RootFS"]["Layers"] == [sha256(base), sha256(app)]
    assert inspect(env, ids[1])["RootFS"]["Layers"] == [sha256(base)]
    m = inspect(env, "registry.example:5000/multi:2")
    assert m["Id"] == ids[2] and m["Architecture"] == "amd64"
    layers, blobs, tmp = store(env)
    # two chains (base; base+app), each unpacked once and shared by the images
    assert len(layers) == 2 and tmp == []
    # the arm64 manifest and its config and layer, the indexes: collected
    berth(env, "rmi", "ocitest:1.0", ids[1], "registry.example:5000/multi:2")
    assert store(env) == ([], [], [])


@pytest.mark.parametrize("legacy_links", [False, True])
def test_load_docker25_archive(env, legacy_links):
    """docker 25+ writes manifest.json beside an OCI layout; manifest.json wins."""
    base = layer_tar([("etc/hello", b"hi\n")])
    arch = os.path.join(env.root, "d25.tar")
    ids = oci_layout(arch, [([(base, "none")], {"io.containerd.image.name": "d25:x"}, None)],
                     manifest_json=True, legacy_links=legacy_links)
    assert berth(env, "load", "-i", arch).stdout == "Loaded image: d25:x\n"
    assert inspect(env, "d25:x")["Id"] == ids[0]


def test_docker_py_loads_and_the_connection_is_reused(env):
    arch = os.path.join(env.root, "py.tar")
    cid = docker20_archive(arch, [layer_tar([("a", b"a")])], ["py/load:1"], "py")
    client = docker.DockerClient(base_url="unix://" + env.daemon.sock)
    try:
        with open(arch, "rb") as f:
            imgs = client.images.load(f.read())
        assert [i.id for i in imgs] == [cid]
        assert client.images.get("py/load:1").id == cid
    finally:
        client.close()


def fails_cleanly(env, arch, message):
    p = berth(env, "load", "-i", arch, check=False)
    assert p.returncode == 1, p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], p.stderr
    assert store(env) == ([], [], []), "the failed load left files behind"
    return lines[0]


def test_broken_and_hostile_archives(env):
    base = layer_tar([("etc/x", b"x")])
    # a blob whose content is not its name
    arch = os.path.join(env.root, "lie.tar")
    oci_layout(arch, [([(base, "none")], {"io.containerd.image.name": "lie:1"}, None)])
    with tarfile.open(arch) as t:
        members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
    w = TarWriter(arch)
    for m, data in members:
        if m.name == "blobs/sha256/" + hexof(sha256(base)):
            data = data[:-1] + bytes([data[-1] ^ 1])
        w.file(m.name, data)
    w.close()
    fails_cleanly(env, arch, "digest mismatch")

    # a layer that does not match the config's diff_id
    good = os.path.join(env.root, "good.tar")
    docker20_archive(good, [base], ["diff:1"], "diff")
    with tarfile.open(good) as t:
        members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
    w = TarWriter(os.path.join(env.root, "diff.tar"))
    for m, data in members:
        if m.isdir():
            w.dir(m.name)
            continue
        if m.name.endswith("/layer.tar"):
            data = layer_tar([("etc/x", b"y")])
        w.file(m.name, data)
    w.close()
    fails_cleanly(env, os.path.join(env.root, "diff.tar"), "diff")

    # truncated in the middle of a member
    with open(good, "rb") as f:
        data = f.read()
    with open(os.path.join(env.root, "cut.tar"), "wb") as f:
        f.write(data[:1536 + 700])
    fails_cleanly(env, os.path.join(env.root, "cut.tar"), "unexpected end of tar data")

    # a manifest that names a member the archive does not have
    w = TarWriter(os.path.join(env.root, "missing.tar"))
    cfg = config_for([base], "m")
    w.file(hexof(sha256(cfg)) + ".json", cfg)
    w.file("manifest.json", json.dumps([{"Config": hexof(sha256(cfg)) + ".json",
                                         "RepoTags": ["m:1"],
                                         "Layers": ["../../etc/passwd"]}]).encode())
    w.close()
    fails_cleanly(env, os.path.join(env.root, "missing.tar"), "layer '../../etc/passwd' not found")

    # layer names that are links going round in a circle, or out of the archive
    w = TarWriter(os.path.join(env.root, "loop.tar"))
    w.file(hexof(sha256(cfg)) + ".json", cfg)
    w.symlink("x/layer.tar", "../y/layer.tar")
    w.symlink("y/layer.tar", "../x/layer.tar")
    w.symlink("z/layer.tar", "../../../../etc/passwd")
    for layer in ("x/layer.tar", "z/layer.tar"):
        w.file("manifest.json", json.dumps([{"Config": hexof(sha256(cfg)) + ".json",
                                             "RepoTags": ["m:1"], "Layers": [layer]}]).encode())
    w.close()
    # the later manifest.json wins, as when a tar is extracted
    fails_cleanly(env, os.path.join(env.root, "loop.tar"), "layer 'z/layer.tar' not found")
    w = TarWriter(os.path.join(env.root, "loop2.tar"))
    w.file(hexof(sha256(cfg)) + ".json", cfg)
    w.symlink("x/layer.tar", "../y/layer.tar")
    w.symlink("y/layer.tar", "../x/layer.tar")
    w.file("manifest.json", json.dumps([{"Config": hexof(sha256(cfg)) + ".json",
                                         "RepoTags": ["m:1"], "Layers": ["x/layer.tar"]}]).encode())
    w.close()
    fails_cleanly(env, os.path.join(env.root, "loop2.tar"), "layer 'x/layer.tar' not found")

    # index.json without oci-layout, and neither format
    w = TarWriter(os.path.join(env.root, "nolayout.tar"))
    w.file("index.json", b'{"schemaVersion":2,"manifests":[]}')
    w.close()
    fails_cleanly(env, os.path.join(env.root, "nolayout.tar"), "oci-layout")
    w = TarWriter(os.path.join(env.root, "none.tar"))
    w.file("hello.txt", b"hi")
    w.close()
    fails_cleanly(env, os.path.join(env.root, "none.tar"), "neither a docker-archive nor an OCI")

    # not a tar at all
    with open(os.path.join(env.root, "junk.tar"), "wb") as f:
        f.write(os.urandom(4096))
    p = berth(env, "load", "-i", os.path.join(env.root, "junk.tar"), check=False)
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert store(env) == ([], [], [])


def test_config_without_created_is_go_zero_time(env, monkeypatch):
    """A config (or history entry) without "created" is Go's zero time, as dockerd
    reports it: 0001-01-01T00:00:00Z in inspect, -62135596800 in lists and
    history, "N/A" in the CLIs' tables (history also says N/A for epoch 0)."""
    raw = layer_tar([("hello", b"hello")])
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [sha256(raw)]},
                      "history": [{"created_by": "no time"},
                                  {"created": "1970-01-01T00:00:00Z", "created_by": "epoch",
                                   "empty_layer": True}]}).encode()
    arch = os.path.join(env.root, "nocreated.tar")
    w = TarWriter(arch)
    w.file("l/layer.tar", raw)
    w.file(hexof(sha256(cfg)) + ".json", cfg)
    w.file("manifest.json", json.dumps([{"Config": hexof(sha256(cfg)) + ".json",
                                         "RepoTags": ["nocreated:1"],
                                         "Layers": ["l/layer.tar"]}]).encode())
    w.close()
    berth(env, "load", "-i", arch)
    zero = -62135596800
    assert inspect(env, "nocreated:1")["Created"] == "0001-01-01T00:00:00Z"
    listed = env.daemon.json("/v1.41/images/json")
    assert [i["Created"] for i in listed] == [zero]
    hist = env.daemon.json("/v1.41/images/nocreated:1/history")
    assert [(h["CreatedBy"], h["Created"]) for h in hist] == [("epoch", 0), ("no time", zero)]

    monkeypatch.setenv("TZ", "UTC")  # CreatedAt is in local time, as docker prints it
    table = berth(env, "images").stdout.splitlines()
    assert table[1].split() == ["nocreated", "1", hexof(sha256(cfg))[:12], "N/A", "5B"]
    assert berth(env, "images", "--format", "{{.CreatedSince}}|{{.CreatedAt}}").stdout == \
        "|0001-01-01 00:00:00 +0000 UTC\n"
    h = berth(env, "history", "--format", "{{.CreatedSince}}|{{.CreatedAt}}|{{.CreatedBy}}",
              "nocreated:1").stdout
    assert h == ("N/A|1970-01-01T00:00:00Z|epoch\n"
                 "N/A|0001-01-01T00:00:00Z|no time\n"), h
    # the docker CLI renders berthd's answers the same way
    d = subprocess.run(["docker", "-H", "unix://" + env.daemon.sock, "images", "--format",
                        "table {{.Repository}}\t{{if .CreatedSince}}x{{else}}N/A{{end}}"],
                       capture_output=True, text=True, timeout=60)
    assert d.stdout.splitlines()[1].split() == ["nocreated", "N/A"], d.stderr


def dechunk(body):
    out = b""
    while body:
        size, rest = body.split(b"\r\n", 1)
        n = int(size, 16)
        out += rest[:n]
        body = rest[n + 2:]
        if n == 0:
            break
    return out


def test_broken_archive_is_an_error_in_the_stream_as_dockerd(env):
    """dockerd answers a load it cannot read with 200 and the error as the
    stream's last message, quiet or not: docker-py raises ImageLoadError, and
    the CLIs print the bare message (no "Error response from daemon") and
    exit 1."""
    bad = os.path.join(env.root, "bad.tar")
    w = TarWriter(bad)
    w.file("hello.txt", b"hi")
    w.close()
    want = ("load: archive: no manifest.json or index.json (neither a docker-archive nor an "
            "OCI layout)")
    with open(bad, "rb") as f:
        data = f.read()
    for quiet in ("0", "1"):
        head = (b"POST /v1.41/images/load?quiet=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Content-Type: application/x-tar\r\nContent-Length: %d\r\n\r\n"
                % (quiet.encode(), len(data)))
        out = raw_request(env.daemon.sock, head, [data])
        assert out.startswith(b"HTTP/1.1 200 "), out
        head_part, body = out.split(b"\r\n\r\n", 1)
        assert b"Content-Type: application/json" in head_part
        assert json.loads(dechunk(body)) == {"errorDetail": {"message": want}, "error": want}

    p = berth(env, "load", "-i", bad, check=False)
    assert (p.returncode, p.stdout, p.stderr) == (1, "", want + "\n")
    d = subprocess.run(["docker", "-H", "unix://" + env.daemon.sock, "load", "-i", bad],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "DOCKER_CONFIG": env.root})
    assert (d.returncode, d.stdout, d.stderr) == (1, "", want + "\n")
    client = docker.DockerClient(base_url="unix://" + env.daemon.sock)
    try:
        with pytest.raises(docker.errors.ImageLoadError) as e:
            client.images.load(data)
        assert str(e.value) == want
    finally:
        client.close()
    assert store(env) == ([], [], [])


def raw_request(sock_path, head, body_parts, read=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall(head)
    for part in body_parts:
        s.sendall(part)
    out = b""
    if read:
        s.settimeout(30)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    s.close()
    return out


def test_client_gone_mid_upload_leaves_nothing_and_the_daemon_serves_on(env):
    raws = [big_layer(8)]
    arch = os.path.join(env.root, "gone.tar")
    docker20_archive(arch, raws, ["gone:1"], "gone")
    with open(arch, "rb") as f:
        data = f.read()
    head = (b"POST /v1.41/images/load?quiet=1 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-tar\r\nContent-Length: %d\r\n\r\n" % len(data))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(env.daemon.sock)
    try:
        s.sendall(head + data[:len(data) // 2])
        # The client goes only once the daemon has spooled part of the layer (else an
        # empty store afterwards would prove nothing): a temp file of over 1 MiB.
        tmp = os.path.join(env.data, "tmp")
        deadline = time.time() + 20
        spooled = 0
        while time.time() < deadline and spooled <= 1 << 20:
            for n in store(env)[2]:
                try:
                    spooled = max(spooled, os.path.getsize(os.path.join(tmp, n)))
                except OSError:  # renamed or removed meanwhile
                    pass
            time.sleep(0.02)
        assert spooled > 1 << 20, "the daemon wrote nothing of the upload: %s" % (store(env),)
    finally:
        s.close()
    deadline = time.time() + 20
    while time.time() < deadline and store(env) != ([], [], []):
        time.sleep(0.1)
    assert store(env) == ([], [], [])
    # broken chunked framing: an error at once, not a hang; as dockerd's, in a 200 stream
    out = raw_request(env.daemon.sock,
                      b"POST /images/load HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n", [b"zz\r\nnot hex\r\n"])
    assert out.startswith(b"HTTP/1.1 200 "), out
    err = json.loads(dechunk(out.split(b"\r\n\r\n", 1)[1]))
    assert "invalid chunked transfer encoding" in err["errorDetail"]["message"], err
    assert store(env) == ([], [], [])
    # a whole archive in a chunked body split at odd places loads
    chunks = [data[i:i + 7777] for i in range(0, len(data), 7777)]
    body = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks] + [b"0\r\n\r\n"]
    out = raw_request(env.daemon.sock,
                      b"POST /images/load?quiet=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n", body)
    assert b"HTTP/1.1 200" in out and b"Loaded image: gone:1" in out, out[:300]
    assert berth(env, "images", "-q", "gone:1").stdout.strip()


def test_load_progress_unless_quiet(env):
    """quiet=0 (docker sends it when its stdout is a terminal): dockerd's
    "Loading layer" progress per layer unpacked, ending at the layer's size."""
    raws = [layer_tar([("a", b"a" * 3000)]), big_layer(4)]
    arch = os.path.join(env.root, "progress.tar")
    docker20_archive(arch, raws, ["progress:1"], "progress")
    with open(arch, "rb") as f:
        data = f.read()
    head = (b"POST /v1.41/images/load?quiet=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/x-tar\r\nContent-Length: %d\r\n\r\n" % len(data))
    out = raw_request(env.daemon.sock, head, [data])
    assert out.startswith(b"HTTP/1.1 200 ")
    body = out.split(b"\r\n\r\n", 1)[1]
    msgs = []
    while body:  # de-chunk
        size, rest = body.split(b"\r\n", 1)
        n = int(size, 16)
        msgs.append(rest[:n])
        body = rest[n + 2:]
        if n == 0:
            break
    lines = [json.loads(x) for x in b"".join(msgs).splitlines()]
    for raw in raws:
        short = hexof(sha256(raw))[:12]
        mine = [m for m in lines if m.get("id") == short]
        assert mine and all(m["status"] == "Loading layer" for m in mine)
        last = mine[-1]["progressDetail"]
        assert last == {"current": len(raw), "total": len(raw)}
        assert mine[-1]["progress"].startswith("[" + "=" * 50 + ">]")
    assert lines[-1] == {"stream": "Loaded image: progress:1\n"}
    # quiet: the same load says only what it loaded
    berth(env, "rmi", "progress:1")
    out = raw_request(env.daemon.sock, head.replace(b"quiet=0", b"quiet=1"), [data])
    assert b"Loading layer" not in out and b"Loaded image: progress:1" in out


@pytest.mark.parametrize("tool", ["gzip", "bzip2", "xz", "zstd"])
def test_load_compressed_archive(env, tool):
    """docker load takes the archive compressed; so does berth, through a pipe too."""
    arch = os.path.join(env.root, "c.tar")
    cid = docker20_archive(arch, [layer_tar([("etc/c", b"c" * 5000)]), big_layer(1)],
                           ["comp/%s:1" % tool], tool)
    subprocess.run([tool, "-q", "-f", arch] if tool != "zstd" else
                   ["zstd", "-q", "-f", "--rm", arch], check=True)
    ext = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst"}[tool]
    comp = arch + ext
    assert berth(env, "load", "-i", comp).stdout == "Loaded image: comp/%s:1\n" % tool
    assert inspect(env, "comp/%s:1" % tool)["Id"] == cid
    berth(env, "rmi", "comp/%s:1" % tool)
    with open(comp, "rb") as f:
        data = f.read()
    with open(comp, "wb") as f:
        f.write(data[:len(data) * 2 // 3])
    line = fails_cleanly(env, comp, "archive: ")
    assert tool in line and ("unexpected end" in line or "invalid" in line), line


def test_load_moves_a_name_as_dockerd_says(env):
    one = os.path.join(env.root, "one.tar")
    two = os.path.join(env.root, "two.tar")
    first = docker20_archive(one, [layer_tar([("a", b"1")])], ["moved:1"], "one")
    second = docker20_archive(two, [layer_tar([("a", b"2")])], ["moved:1"], "two")
    assert berth(env, "load", "-i", one).stdout == "Loaded image: moved:1\n"
    # the same archive again: nothing moves
    assert berth(env, "load", "-i", one).stdout == "Loaded image: moved:1\n"
    assert berth(env, "load", "-i", two).stdout == (
        "The image moved:1 already exists, renaming the old one with ID %s to empty string\n"
        "Loaded image: moved:1\n" % first)
    assert inspect(env, "moved:1")["Id"] == second
    # the old image stays, untagged (dangling), as with dockerd
    assert inspect(env, first)["RepoTags"] == []


def test_full_disk_is_a_clear_error_and_the_store_stays_usable():
    """A data root on a 24 MiB tmpfs and a 40 MiB archive: one line naming the
    lack of space, no temp files left, and a small load works right after."""
    root = tempfile.mkdtemp(prefix="berth-load-full-", dir="/tmp")
    data = os.path.join(root, "data")
    os.makedirs(data)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", data], check=True)
    d = None
    try:
        d = Daemon(root).start()

        class Env:
            pass

        e = Env()
        e.root, e.daemon, e.data = root, d, d.data
        big = os.path.join(root, "big.tar")
        docker20_archive(big, [big_layer(40)], ["full:1"], "full")
        p = berth(e, "load", "-i", big, check=False)
        assert p.returncode == 1
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "no space left on device" in lines[0], p.stderr
        assert store(e)[2] == [] and store(e)[0] == []
        small = os.path.join(root, "small.tar")
        cid = docker20_archive(small, [layer_tar([("ok", b"ok")])], ["small:1"], "small")
        assert berth(e, "load", "-i", small).stdout == "Loaded image: small:1\n"
        assert inspect(e, "small:1")["Id"] == cid
    finally:
        if d:
            d.stop()
        subprocess.run(["umount", "-l", data], check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("tool", ["gzip", "bzip2", "xz", "zstd"])
def test_load_compressed_layers(env, tool):
    """layer.tar members compressed with any of docker's formats unpack to the
    config's diff_ids (layer apply shares the load's decompressor)."""
    raws = [layer_tar([("etc/l1", b"1" * 4000)]), layer_tar([("etc/l2", b"2" * 4000)])]
    arch = os.path.join(env.root, "cl.tar")
    cid = docker20_archive(arch, raws, ["clayer/%s:1" % tool], tool, compress=[tool, "-c"])
    assert berth(env, "load", "-i", arch).stdout == "Loaded image: clayer/%s:1\n" % tool
    j = inspect(env, "clayer/%s:1" % tool)
    assert j["Id"] == cid and j["RootFS"]["Layers"] == [sha256(r) for r in raws]
    layers = store(env)[0]
    assert any(os.path.exists(os.path.join(env.data, "layers", n, "etc", "l2")) for n in layers)
