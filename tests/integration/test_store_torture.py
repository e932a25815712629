"""The store's torture test (issue 7 §2; DESIGN: "every new kind of record
joins the store's torture test").

Several clients at once run random sequences of pull, load, tag, rmi, prune
and save against one berthd -- through the berth CLI and through raw HTTP on
its socket -- while the test kills berthd with SIGKILL at a random moment,
restarts it and checks the store (store_check.check_store):

  - just after the kill, before any recovery (on a copy of berth.db and its
    WAL): the database is sound, every blob and layer directory under its
    final name is whole, every recorded image has all its files;
  - after the restart (recovery and collection done, nothing running): the
    same, and nothing unreferenced, no temp file, no partial layer, and every
    layer directory holds exactly what its tar holds;
  - no process of the killed daemon survives, nothing is mounted under the
    test's roots, the restarted daemon did not refuse to start, and the log
    has no "is damaged" line (a SIGKILL must never damage the store), no
    error line and no failed collection;
  - what a client was told succeeded survives: for every name whose last
    operation succeeded and overlapped no other operation on it, the name
    exists (pull, tag, load) or is gone (rmi, prune -a) after the restart.

Kills are aimed: each round picks one of "anytime" (a uniform delay), "op"
(once a pull or load is running, then a short delay), "unpack" (as soon as a
layer is being unpacked: layers/*.tmp exists) and "txn" (as soon as berthd
holds SQLite's WAL write lock: a write transaction is open).  The daemon is
frozen with SIGSTOP first, so where the kill lands is read from the frozen
process -- the write lock in /proc/locks, temp files in the store, the
requests outstanding -- and then SIGKILL ends it; that is what the per-round
lines and the summary report.  Some rounds also kill the restarted daemon
during start-up recovery, and some end with a quiet check: after the restart
clients run a while and stop, one operation that fails mid-way (the lying
pull, a cancelled pull or a truncated load) runs alone, and once berthd has
settled (no restart, so start-up collection cannot hide anything) the store
must be sound and hold nothing unreferenced -- the check that failed and
cancelled pulls leave nothing behind.

Builds (POST /build and `berth build`, from a pulled base, COPY and WORKDIR steps, some
from the cache) and `builder prune` join the mix: the build cache's rows and the step images
are records like the others, and a build killed mid-way must leave its context's tmpfs
unmounted (it is reached through fds only) and its directory to the next start's clean-up.

The mix includes a pull whose last layer's blob lies about its digest (a
byte changed in the registry's storage), pulls whose client is killed
mid-way, loads of truncated archives, digest pulls (repo digests without
tags), and images that share layers (so reference counts matter) and one
whose layer is shared with another image under a different compressed blob.

Images come from a local registry (docker-registry on 127.0.0.1, started by
the fixtures) and from archives built here (docker-archive and OCI layout),
plus whatever `save` writes during the run.  One layer is larger (about a
thousand files and a few MiB) so unpacking takes measurable time.

Bounded by count and time: BERTH_TORTURE_ROUNDS (default 50) rounds, or
until BERTH_TORTURE_SECONDS (default 60, or 12 s a round when ROUNDS is set)
have passed, whichever comes first.  BERTH_TORTURE_SEED replays a run's
choices (the seed is printed at the start and in every failure): the corpus,
each round's aim, delays and client seeds; what each client gets done before
the kill depends on timing and does not replay exactly.  Everything it starts
is stopped and removed, even on failure.
"""
import hashlib
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
from collections import Counter

import pytest

from conftest import build_path
from store_check import (check_store, children_of, mounts_below, processes_using, tree_listing,
                         wait_settled)
from test_daemon import Daemon
from test_image_load import TarWriter
from test_registry import (LAYER_TYPES, OCI_CONFIG, OCI_MANIFEST, Image,  # noqa: F401
                           compress, http_push, registries, regwork)

BERTH = build_path("src", "cmd", "berth")

DEFAULT_ROUNDS = 50
ROUNDS = int(os.environ.get("BERTH_TORTURE_ROUNDS") or DEFAULT_ROUNDS)
SECONDS = float(os.environ.get("BERTH_TORTURE_SECONDS") or
                (12 * ROUNDS if os.environ.get("BERTH_TORTURE_ROUNDS") else 60))
SEED = int(os.environ.get("BERTH_TORTURE_SEED") or random.SystemRandom().randrange(1 << 32))
CLIENTS = 3


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def hexof(d):
    return d.split(":", 1)[1]


# ---- the corpus: layers, images, registry, archives ---------------------------

def tar_of(entries):
    """entries: (name, bytes | None for a directory | ('link', target))."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            elif isinstance(data, tuple):
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, data[1], 0o777
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644
                t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def expected_listing(raw, scratch):
    """What a layer directory must hold: the tar unpacked by Python's tarfile."""
    d = tempfile.mkdtemp(dir=scratch)
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        t.extractall(d, filter="fully_trusted") if hasattr(tarfile, "data_filter") \
            else t.extractall(d)
    listing = tree_listing(d)
    shutil.rmtree(d)
    return listing


class Corpus:
    def __init__(self, rng, workdir, reg):
        self.rng = rng
        self.dir = workdir
        self.reg = reg
        self.expected = {}  # diff_id -> listing
        with open("/bin/busybox", "rb") as f:
            bb = f.read()
        r = rng.randbytes
        base = tar_of([("bin", None), ("bin/busybox", bb), ("bin/sh", ("link", "busybox")),
                       ("bin/ls", ("link", "busybox"))])
        mid = tar_of([("etc", None), ("etc/hello.txt", b"hello\n"), ("etc/motd", r(3000))])
        big = [("data", None)]
        for d in range(24):
            big.append(("data/d%02d" % d, None))
            for i in range(45):
                big.append(("data/d%02d/f%03d" % (d, i), r(rng.randrange(512, 5000))))
        big.append(("data/blob.bin", r(6 << 20)))
        big = tar_of(big)
        x = {n: tar_of([("srv", None), ("srv/" + n, r(rng.randrange(2000, 40000)))])
             for n in ("x1", "x2", "x3", "x4", "x5")}
        lie = tar_of([("srv", None), ("srv/lie", r(1 << 20))])
        for raw in [base, mid, big, lie, *x.values()]:
            self.expected[sha256(raw)] = expected_listing(raw, workdir)
        self.big_bytes = len(big)

        # Compressed once, so an image's blobs are the same bytes in the registry and in
        # the archives (a layer shared by images is one blob).
        self.blob = {}
        for name, raw, how in [("base", base, "gzip"), ("mid", mid, "zstd"), ("big", big, "gzip"),
                               ("lie", lie, "none"), ("x1", x["x1"], "none"),
                               ("x2", x["x2"], "gzip"), ("x3", x["x3"], "zstd"),
                               ("x4", x["x4"], "gzip")]:
            self.blob[name] = (raw, how, compress(raw, how))

        host = reg.host
        self.images = {}  # key -> Image
        self.refs = {}    # registry reference -> key
        specs = [("a", ["base", "mid", "x1"], "t/a:1"), ("b", ["base", "mid", "x2"], "t/b:1"),
                 ("big1", ["base", "big"], "t/big:1"), ("big2", ["base", "big", "x3"], "t/big:2"),
                 ("liar", ["base", "mid", "lie"], "t/liar:1"),
                 ("oci", ["base", "mid", "x4"], None)]
        for key, layers, ref in specs:
            img = self.image(key, layers)
            self.images[key] = img
            if ref:
                repo, tag = ref.split(":")
                http_push("http://" + host, repo, tag, img)
                self.refs["%s/%s" % (host, ref)] = key
        self.good_refs = [r for r, k in self.refs.items() if k != "liar"]
        self.liar_ref = "%s/t/liar:1" % host
        self.digest_refs = ["%s/t/a@%s" % (host, self.images["a"].top_digest),
                            "%s/t/big@%s" % (host, self.images["big2"].top_digest)]
        # The liar: its last layer's blob in the registry's storage gets one byte changed
        # (plain tar: the byte is padding, so only the digest check can catch it).
        lie_digest = sha256(self.blob["lie"][2])
        p = os.path.join(reg.dir, "data", "docker", "registry", "v2", "blobs", "sha256",
                         hexof(lie_digest)[:2], hexof(lie_digest), "data")
        with open(p, "r+b") as f:
            f.seek(-1, 2)
            f.write(b"\xff")

        # Archives for load.
        self.archives = []  # (path, [full names])
        self.archive_lock = threading.Lock()
        self.docker_archive("arch-a.tar", [("a", ["local/arch:a"])])
        self.docker_archive("arch-big.tar", [("big1", ["local/arch:big1"]),
                                             ("big2", ["local/arch:big2", "local/arch:latest"])])
        self.oci_archive("arch-oci.tar", "oci", "local/oci:1")
        self.raw_archive("arch-raw.tar", base, x["x5"], "local/raw:1")

    def image(self, key, layer_names):
        img = Image()
        descs, diff_ids = [], []
        for n in layer_names:
            raw, how, blob = self.blob[n]
            descs.append({"mediaType": LAYER_TYPES[how], "digest": img.add(blob),
                          "size": len(blob)})
            diff_ids.append(sha256(raw))
        cfg = json.dumps({"created": "2026-01-01T00:00:00Z", "architecture": "amd64",
                          "os": "linux", "config": {"Cmd": ["/bin/sh"], "Labels": {"k": key}},
                          "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        cd = img.add(cfg)
        man = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(cfg)},
                          "layers": descs}).encode()
        img.top_digest, img.top_media_type = img.add(man), OCI_MANIFEST
        img.config_digest, img.layer_digests = cd, [d["digest"] for d in descs]
        return img

    def add_archive(self, path, names):
        with self.archive_lock:
            self.archives.append((path, names))

    KEEP_SAVED = 10

    def forget_old_saves(self):
        """Between rounds (no client running): only the newest saved archives stay."""
        with self.archive_lock:
            saved = [a for a in self.archives if os.path.basename(a[0]).startswith("saved-")]
            for path, _ in saved[:-self.KEEP_SAVED]:
                os.unlink(path)
            self.archives = [a for a in self.archives
                             if a not in saved[:-self.KEEP_SAVED]]

    def docker_archive(self, fname, items):
        """docker-archive as `docker save` writes it, each layer.tar the stored blob."""
        path = os.path.join(self.dir, fname)
        w = TarWriter(path)
        manifest, written = [], set()
        for key, tags in items:
            img = self.images[key]
            layers = []
            for d in img.layer_digests:
                if d not in written:
                    w.dir(hexof(d) + "/")
                    w.file(hexof(d) + "/layer.tar", img.blobs[d])
                    written.add(d)
                layers.append(hexof(d) + "/layer.tar")
            w.file(hexof(img.config_digest) + ".json", img.blobs[img.config_digest])
            manifest.append({"Config": hexof(img.config_digest) + ".json", "RepoTags": tags,
                             "Layers": layers})
        w.file("manifest.json", json.dumps(manifest).encode())
        w.close()
        self.add_archive(path, [full_name(t) for _, tags in items for t in tags])

    def oci_archive(self, fname, key, name):
        path = os.path.join(self.dir, fname)
        img = self.images[key]
        w = TarWriter(path)
        w.file("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for d, data in img.blobs.items():
            w.file("blobs/sha256/" + hexof(d), data)
        man = img.blobs[img.top_digest]
        w.file("index.json", json.dumps({"schemaVersion": 2, "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": img.top_digest, "size": len(man),
            "annotations": {"io.containerd.image.name": name}}]}).encode())
        w.close()
        self.add_archive(path, [full_name(name)])

    def raw_archive(self, fname, base, x5, name):
        """Uncompressed layers, as docker 20.10 saves them: the base layer is the same
        diff_id as the registry's gzip base, under another blob digest."""
        path = os.path.join(self.dir, fname)
        cfg = json.dumps({"created": "2026-01-01T00:00:00Z", "architecture": "amd64",
                          "os": "linux", "config": {"Labels": {"k": "raw"}},
                          "rootfs": {"type": "layers",
                                     "diff_ids": [sha256(base), sha256(x5)]}}).encode()
        w = TarWriter(path)
        names = []
        for raw in (base, x5):
            w.dir(hexof(sha256(raw)) + "/")
            w.file(hexof(sha256(raw)) + "/layer.tar", raw)
            names.append(hexof(sha256(raw)) + "/layer.tar")
        w.file(hexof(sha256(cfg)) + ".json", cfg)
        w.file("manifest.json", json.dumps([{"Config": hexof(sha256(cfg)) + ".json",
                                             "RepoTags": [name], "Layers": names}]).encode())
        w.close()
        self.add_archive(path, [full_name(name)])


def full_name(ref):
    """A reference as berth.db stores a tag: docker.io/ for a bare name, :latest added."""
    name, tag = ref, "latest"
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + name
    return "%s:%s" % (name, tag)


# ---- clients --------------------------------------------------------------------

class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def stream_ok(body):
    """A JSON progress stream that ended without an error line."""
    for line in body.splitlines():
        if line.strip() and b'"error' in line:
            return False
    return True


class Op:
    __slots__ = ("kind", "via", "names", "start", "end", "ok", "detail")

    def __init__(self, kind, via, names):
        self.kind, self.via, self.names = kind, via, names
        self.start, self.end, self.ok, self.detail = time.monotonic(), None, None, ""


ALL = "*"  # may touch any name (prune -a: every one; rmi by ID: its image's; prune: see plan)


class Torture:
    LOCAL_TAGS = ["local/t:%d" % i for i in range(5)]

    def __init__(self, root, daemon, corpus):
        self.root = root
        self.d = daemon
        self.c = corpus
        self.lock = threading.Lock()
        self.ops = []        # every Op, for the durability check
        self.inflight = set()
        self.procs = set()   # client processes running now
        self.counts = Counter()
        self.oks = Counter()     # of which succeeded
        self.problems = []   # things a client saw that must never happen
        self.env = {**{k: v for k, v in os.environ.items()
                       if k not in ("BERTH_HOST", "DOCKER_HOST")},
                    "BERTH_NO_AUTOSTART": "1", "DOCKER_CONFIG": root, "BERTH_CONFIG": root}
        self.saves = 0
        self.life_offset = 0  # where the running daemon's part of the log starts

    # -- names the clients pick from

    def any_name(self, rng):
        pool = list(self.c.refs) + self.LOCAL_TAGS + ["local/arch:a", "local/arch:big1",
                                                      "local/arch:big2", "local/oci:1",
                                                      "local/raw:1"]
        return rng.choice(pool)

    # -- running one operation

    def cli(self, op, args, kill_after=None):
        p = subprocess.Popen([BERTH, "-H", "unix://" + self.d.sock, *args], env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with self.lock:
            self.procs.add(p)
        try:
            if kill_after is not None:
                try:
                    out, err = p.communicate(timeout=kill_after)
                except subprocess.TimeoutExpired:
                    p.kill()
                    out, err = p.communicate()
                    op.detail = "client killed"
                    return False
            else:
                out, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            op.detail = "timed out"
            return False
        finally:
            with self.lock:
                self.procs.discard(p)
        op.detail = (err or b"").decode(errors="replace").strip()[-300:]
        return p.returncode == 0

    def http(self, op, method, path, body=None, headers=None, out_path=None, cancel_after=None):
        c = UnixHTTP(self.d.sock, timeout=120)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            if cancel_after is not None:
                time.sleep(cancel_after)
                r.read(100)
                op.detail = "client went away"
                return False
            if out_path:
                with open(out_path, "wb") as f:
                    shutil.copyfileobj(r, f)
                return r.status == 200
            data = r.read()
            op.detail = data[-300:].decode(errors="replace")
            return 200 <= r.status < 300 and stream_ok(data)  # tag answers 201
        except (OSError, http.client.HTTPException) as e:
            op.detail = "%s: %s" % (type(e).__name__, e)
            return False
        finally:
            c.close()

    def run_op(self, rng, client, kind=None):
        kinds = ["pull", "pull", "pull", "pull", "pull-digest", "pull-liar", "pull-cancel",
                 "load", "load", "load", "load-truncated", "tag", "tag", "tag", "rmi", "rmi",
                 "rmi", "prune", "save", "save", "volume-create", "volume-create", "volume-rm",
                 "volume-prune", "build", "build", "builder-prune"]
        kind = kind or rng.choice(kinds)
        if kind == "prune" and rng.random() < 0.2:
            kind = "prune-all"
        if kind == "rmi" and rng.random() < 0.2:
            kind = "rmi-id"
        via = "http" if rng.random() < 0.35 else "cli"
        names, fn = self.plan(rng, kind, via, client)
        op = Op(kind, via, names)
        with self.lock:
            self.ops.append(op)
            self.inflight.add(op)
        try:
            op.ok = fn(op)
        finally:
            op.end = time.monotonic()
            with self.lock:
                self.inflight.discard(op)
                self.counts[kind] += 1
                self.oks[kind] += bool(op.ok)
        if kind == "pull-liar" and op.ok:
            self.problems.append("a pull of %s succeeded though its layer lies" % self.c.liar_ref)

    def plan(self, rng, kind, via, client):
        """(names the operation touches, function running it)."""
        q = urllib.parse.quote
        if kind in ("pull", "pull-digest", "pull-liar", "pull-cancel"):
            if kind == "pull-digest":
                ref = rng.choice(self.c.digest_refs)
            elif kind == "pull-liar":
                ref = self.c.liar_ref
            else:
                ref = rng.choice(self.c.good_refs)
            names = [] if "@" in ref else [full_name(ref)]
            cancel = rng.uniform(0.02, 0.5) if kind == "pull-cancel" else None
            if via == "cli":
                return names, lambda op: self.cli(op, ["pull", "-q", ref], kill_after=cancel)
            if "@" in ref:
                repo, tag = ref.split("@")
                path = "/images/create?fromImage=%s&tag=%s" % (q(repo), q(tag))
            else:
                repo, tag = ref.rsplit(":", 1)
                path = "/images/create?fromImage=%s&tag=%s" % (q(repo), q(tag))
            return names, lambda op: self.http(op, "POST", path, cancel_after=cancel)
        if kind in ("load", "load-truncated"):
            with self.c.archive_lock:
                path, names = rng.choice(self.c.archives)
            if kind == "load-truncated":
                cut = os.path.join(self.root, "cut-%d.tar" % client)
                size = os.path.getsize(path)
                with open(path, "rb") as f, open(cut, "wb") as g:
                    g.write(f.read(rng.randrange(512, max(513, size - 1024))))
                path = cut
            if via == "cli":
                return names, lambda op: self.cli(op, ["load", "-q", "-i", path])

            def load_http(op, path=path):
                with open(path, "rb") as f:
                    return self.http(op, "POST", "/images/load?quiet=1", body=f,
                                     headers={"Content-Type": "application/x-tar",
                                              "Content-Length": str(os.path.getsize(path))})
            return names, load_http
        if kind == "tag":
            src, dst = self.any_name(rng), rng.choice(self.LOCAL_TAGS)
            if via == "cli":
                return [full_name(dst)], lambda op: self.cli(op, ["tag", src, dst])
            repo, tag = dst.split(":")
            path = "/images/%s/tag?repo=%s&tag=%s" % (q(src, safe="/:@"), q(repo), q(tag))
            return [full_name(dst)], lambda op: self.http(op, "POST", path)
        if kind == "rmi-id":
            # By ID, forced: every name of the image goes (whichever names it has now).
            image_id = rng.choice(list(self.c.images.values())).config_digest
            if via == "cli":
                return [ALL], lambda op: self.cli(op, ["rmi", "-f", image_id])
            path = "/images/%s?force=1" % image_id
            return [ALL], lambda op: self.http(op, "DELETE", path)
        if kind == "rmi":
            name = self.any_name(rng)
            force = rng.random() < 0.5
            if via == "cli":
                args = ["rmi"] + (["-f"] if force else []) + [name]
                return [full_name(name)], lambda op: self.cli(op, args)
            path = "/images/%s%s" % (q(name, safe="/:@"), "?force=1" if force else "")
            return [full_name(name)], lambda op: self.http(op, "DELETE", path)
        if kind in ("prune", "prune-all"):
            # A plain prune touches names too: an image it listed as dangling can get a
            # name before its turn comes, and goes with it (so does dockerd's).
            every = kind == "prune-all"
            if via == "cli":
                return [ALL], \
                    lambda op: self.cli(op, ["image", "prune", "-f"] + (["-a"] if every else []))
            f = q(json.dumps({"dangling": ["false"]})) if every else ""
            path = "/images/prune" + ("?filters=" + f if every else "")
            return [ALL], lambda op: self.http(op, "POST", path)
        if kind.startswith("volume-"):
            # volumes share the records and the data root: their rows and directories are
            # checked with the rest (store_check.check_volumes)
            vol = "tvol-%d" % rng.randrange(4)
            if kind == "volume-create":
                if via == "cli":
                    return [], lambda op: self.cli(op, ["volume", "create", "--label", "t=1", vol])
                body = json.dumps({"Name": vol, "Labels": {"t": "1"}}).encode()
                return [], lambda op: self.http(op, "POST", "/volumes/create", body=body,
                                                headers={"Content-Type": "application/json"})
            if kind == "volume-rm":
                if via == "cli":
                    return [], lambda op: self.cli(op, ["volume", "rm", "-f", vol])
                return [], lambda op: self.http(op, "DELETE", "/volumes/%s?force=1" % vol)
            if via == "cli":
                return [], lambda op: self.cli(op, ["volume", "prune", "-f"])
            return [], lambda op: self.http(op, "POST", "/volumes/prune")
        if kind == "build":
            # a build from a pulled base (FROM pulls it when missing): the build cache's rows
            # and the step images it makes join the store; a third of the contents repeat, so
            # some builds come from the cache
            base = rng.choice(self.c.good_refs)
            dst = rng.choice(self.LOCAL_TAGS)
            df = "FROM %s\nENV K=%d\nCOPY f /f\nWORKDIR /w\nCOPY d/ /w/d/\n" % (
                base, rng.randrange(2))
            files = {"Dockerfile": df, "f": "v%d\n" % rng.randrange(3),
                     "d/a": "a" * rng.randrange(1, 4000), "d/b": "b"}
            ctx = os.path.join(self.root, "ctx-%d" % client)
            shutil.rmtree(ctx, ignore_errors=True)
            for name, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(ctx, name)), exist_ok=True)
                with open(os.path.join(ctx, name), "w") as f:
                    f.write(text)
            # FROM pulls the base when it is missing: the base's name is touched too
            names = [full_name(dst), full_name(base)]
            if via == "cli":
                return names, lambda op: self.cli(op, ["build", "-q", "-t", dst, ctx])
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as t:
                for name in sorted(files):
                    t.add(os.path.join(ctx, name), arcname=name)
            body = buf.getvalue()
            path = "/build?q=1&t=" + q(dst)
            return names, lambda op: self.http(
                op, "POST", path, body=body, headers={"Content-Type": "application/x-tar"})
        if kind == "builder-prune":
            # names stay (only unnamed step images go)
            if via == "cli":
                return [], lambda op: self.cli(op, ["builder", "prune", "-a", "-f"])
            return [], lambda op: self.http(op, "POST", "/build/prune?all=1")
        if kind == "save":
            picks = rng.sample(self.c.good_refs + ["local/arch:a", "local/oci:1"],
                               rng.choice([1, 1, 2]))
            with self.lock:
                self.saves += 1
                out = os.path.join(self.root, "saved-%d.tar" % self.saves)

            def save(op):
                if via == "cli":
                    ok = self.cli(op, ["save", "-o", out, *picks])
                else:
                    path = "/images/get?" + "&".join("names=" + q(p) for p in picks)
                    ok = self.http(op, "GET", path, out_path=out)
                if ok:
                    self.saved_archive(op, out, picks)
                elif os.path.exists(out):
                    os.unlink(out)
                return ok
            return [], save
        raise AssertionError(kind)

    def saved_archive(self, op, path, picks):
        """A save that succeeded wrote an archive naming what was asked for."""
        try:
            with tarfile.open(path) as t:
                manifest = json.load(t.extractfile("manifest.json"))
        except (tarfile.TarError, KeyError, ValueError, OSError) as e:
            self.problems.append("save %s reported success but wrote no archive: %s" % (picks, e))
            return
        names = [full_name(n) for item in manifest for n in item.get("RepoTags") or []]
        if sorted(names) != sorted(full_name(p) for p in picks):
            self.problems.append("save %s wrote names %s" % (picks, names))
        self.c.add_archive(path, names)

    # -- a burst of clients

    def burst(self, rng_seed):
        """Clients run operations until stop is set; returns (stop event, threads)."""
        stop = threading.Event()
        threads = []
        for i in range(CLIENTS):
            crng = random.Random("%d-%d" % (rng_seed, i))

            def loop(crng=crng, i=i):
                while not stop.is_set():
                    self.run_op(crng, i)
            t = threading.Thread(target=loop, daemon=True)
            t.start()
            threads.append(t)
        return stop, threads

    def end_burst(self, stop, threads, timeout=120):
        stop.set()
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        stuck = [t for t in threads if t.is_alive()]
        if stuck:
            with self.lock:
                for p in self.procs:
                    p.kill()
            raise AssertionError("seed %d: %d clients still running after %ds: %s"
                                 % (SEED, len(stuck), timeout,
                                    [(o.kind, o.via, o.names) for o in self.inflight]))

    # -- killing

    def shm_write_locked(self, pid):
        """berthd holds SQLite's WAL write lock (byte 120 of berth.db-shm): a write
        transaction is open.  Also reports the checkpoint lock (byte 121)."""
        try:
            st = os.stat(os.path.join(self.d.data, "berth.db-shm"))
        except FileNotFoundError:
            return False, False
        dev = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
        write = ckpt = False
        with open("/proc/locks") as f:
            for line in f:
                p = line.split()
                if "->" in p:  # a waiter's line
                    continue
                if len(p) >= 8 and p[4] == str(pid) and p[5] == dev and p[3] == "WRITE":
                    write |= p[6] == "120"
                    ckpt |= p[6] == "121"
        return write, ckpt

    def unpacking(self):
        try:
            return [n for n in os.listdir(os.path.join(self.d.data, "layers"))
                    if n.endswith(".tmp") and not n.endswith(".deleting.tmp")]
        except FileNotFoundError:
            return []

    def wait_for(self, cond, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(0.0005)
        return False

    def aim(self, rng, strategy):
        pid = self.d.proc.pid
        if strategy == "anytime":
            time.sleep(rng.uniform(0.05, 1.5))
        elif strategy == "op":
            def busy():
                with self.lock:
                    return any(o.kind.startswith(("pull", "load")) for o in self.inflight)
            self.wait_for(busy, 4)
            time.sleep(rng.uniform(0, 0.3))
        elif strategy == "unpack":
            time.sleep(rng.uniform(0, 0.2))
            self.wait_for(lambda: bool(self.unpacking()), 4)
            time.sleep(rng.uniform(0, 0.01))
        elif strategy == "txn":
            time.sleep(rng.uniform(0, 0.3))
            self.wait_for(lambda: self.shm_write_locked(pid)[0], 4)

    def freeze_and_kill(self):
        """SIGSTOP, read where the daemon is, SIGKILL.  Returns (landed set, children)."""
        pid = self.d.proc.pid
        os.kill(pid, signal.SIGSTOP)
        landed = set()
        write, ckpt = self.shm_write_locked(pid)
        if write:
            landed.add("txn")
        if ckpt:
            landed.add("checkpoint")
        if self.unpacking():
            landed.add("unpack")
        try:
            if os.listdir(os.path.join(self.d.data, "tmp")):
                landed.add("blob-ingest")
            if any(n.endswith(".deleting.tmp")
                   for n in os.listdir(os.path.join(self.d.data, "layers"))):
                landed.add("gc-delete")
        except FileNotFoundError:
            pass
        with self.lock:
            for o in self.inflight:
                landed.add("mid-" + o.kind.split("-")[0])
        if not landed:
            landed.add("idle")
        children = children_of(pid)
        os.kill(pid, signal.SIGKILL)
        self.d.proc.wait()
        self.d.log.close()
        return landed, children


# ---- checks -------------------------------------------------------------------------

def durability_problems(ops, names_now):
    """An operation a client was told succeeded, last on its name and overlapping no
    other operation on it, must show after the restart."""
    by_name = {}
    for o in ops:
        for n in o.names:
            by_name.setdefault(n, []).append(o)
    every = [o for o in ops if ALL in o.names]
    problems, checked = [], 0
    for name, own in by_name.items():
        if name == ALL:
            continue
        mine = own + every
        last = max(mine, key=lambda o: o.start)
        if not last.ok or any(o is not last and o.end > last.start for o in mine):
            continue
        if ALL in last.names and last.kind != "prune-all":
            continue  # rmi by ID, a plain prune: which names they took is not known here
        checked += 1
        want = last.kind in ("pull", "pull-cancel", "tag", "load", "load-truncated", "build")
        if want != (name in names_now):
            problems.append("%s %s (%s) succeeded before the kill, yet %s is %s after the "
                            "restart" % (last.kind, name, last.via, name,
                                         "missing" if want else "still there"))
    return problems, checked


def tags_now(data_root):
    import sqlite3
    c = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_root, "berth.db"), uri=True)
    try:
        return {r[0] for r in c.execute("SELECT name FROM tags")}
    finally:
        c.close()


def log_since(d, offset):
    with open(d.log_path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


BAD_LOG = ("is damaged",            # a SIGKILL must never damage the store
           "failed to start",       # nor stop berthd from starting again
           "level=error",
           'level=warning msg="images:',  # collection failed
           "inside a transaction")  # a thread left a transaction open


def bad_log_lines(text):
    return [l for l in text.splitlines() if any(b in l for b in BAD_LOG)]


# ---- the test ------------------------------------------------------------------------

@pytest.fixture
def troot():
    d = tempfile.mkdtemp(prefix="berth-torture-", dir="/tmp")
    yield d
    for mp in mounts_below(d):
        subprocess.run(["umount", "-l", mp], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


class Tally:
    def __init__(self):
        self.rounds = self.kills = self.startup_kills = self.quiet = self.durable = 0
        self.landed, self.aimed = Counter(), Counter()


def one_round(rnd, rng, tort, d, corpus, troot, tally):
    """Clients, a kill, the checks, a restart, the checks again, maybe a quiet check."""
    where = "seed %d round %d" % (SEED, rnd)
    before = Counter(tort.counts)
    strategy = rng.choice(["anytime", "op", "op", "unpack", "unpack", "txn", "txn"])
    tally.aimed[strategy] += 1
    ops_from = len(tort.ops)
    life = tort.life_offset
    stop, threads = tort.burst(rng.randrange(1 << 32))
    try:
        tort.aim(rng, strategy)
    finally:
        landed, children = tort.freeze_and_kill()
        stop.set()
    tally.kills += 1
    tally.landed.update(landed)
    where += ", killed in %s" % ",".join(sorted(landed))
    tort.end_burst(stop, threads)
    assert not tort.problems, "%s: %s" % (where, tort.problems)

    # Right after the kill, before any recovery: what must hold at every instant.
    problems = check_store(d.data, settled=False, db_copy=True, expected_layers=corpus.expected)
    assert not problems, "%s: right after the kill:\n%s" % (where, "\n".join(problems))
    alive = [c for c in children if os.path.exists("/proc/%d" % c)]
    assert not alive, "%s: children of the killed berthd survive: %s" % (where, alive)
    left = processes_using(troot)
    assert not left, "%s: processes left under %s: %s" % (where, troot, left)
    assert not mounts_below(troot), "%s: mounts left: %s" % (where, mounts_below(troot))

    # Sometimes a kill during start-up recovery too.
    if rng.random() < 0.2:
        d.start(wait=False)
        time.sleep(rng.uniform(0, 0.03))
        d.proc.kill()
        d.proc.wait()
        d.log.close()
        tally.kills += 1
        tally.startup_kills += 1
        tally.landed["startup"] += 1

    tort.life_offset = os.path.getsize(d.log_path)
    d.start()
    bad = bad_log_lines(log_since(d, life))
    assert not bad, "%s: berthd's log:\n%s" % (where, "\n".join(bad))
    problems = check_store(d.data, expected_layers=corpus.expected)
    assert not problems, "%s: after the restart:\n%s" % (where, "\n".join(problems))
    lost, n = durability_problems(tort.ops[ops_from:], tags_now(d.data))
    tally.durable += n
    assert not lost, "%s:\n%s" % (where, "\n".join(lost))
    corpus.forget_old_saves()

    quiet = rng.random() < 0.3
    if quiet:
        stop, threads = tort.burst(rng.randrange(1 << 32))
        time.sleep(rng.uniform(0.3, 1.2))
        tort.end_burst(stop, threads)
        # Last, alone, an operation that fails mid-way: what it fetched must be collected
        # by the running daemon (no restart whose collection could hide a leak).
        failing = rng.choice(["pull-liar", "pull-cancel", "load-truncated"])
        tort.run_op(rng, 0, kind=failing)
        assert not tort.problems, "%s: %s" % (where, tort.problems)
        problems = wait_settled(d.data, expected_layers=corpus.expected)
        assert not problems, "%s: after a quiet stop and a failed %s (no restart):\n%s" % (
            where, failing, "\n".join(problems))
        bad = bad_log_lines(log_since(d, tort.life_offset))
        assert not bad, "%s: berthd's log:\n%s" % (where, "\n".join(bad))
        tally.quiet += 1
    ops = tort.counts - before
    tally.rounds += 1
    print("round %3d: aimed %-7s killed in %-42s ops %s%s" % (
        rnd, strategy, ",".join(sorted(landed)), " ".join("%s=%d" % kv for kv in sorted(ops.items())),
        " +quiet check" if quiet else ""))


def test_store_survives_sigkill_at_random_moments(troot, regwork, registries,  # noqa: F811
                                                   capsys):
    t0 = time.monotonic()
    rng = random.Random(SEED)
    head = "torture: seed %d (replay: BERTH_TORTURE_SEED=%d), %d rounds, %.0f s at most, " \
        "%d clients" % (SEED, SEED, ROUNDS, SECONDS, CLIENTS)
    print(head)
    reg = registries(regwork)
    work = os.path.join(troot, "corpus")
    os.mkdir(work)
    corpus = Corpus(rng, work, reg)
    d = Daemon(troot)
    tort = Torture(troot, d, corpus)
    tally = Tally()
    d.start()
    print("torture: corpus ready in %.1f s (big layer %.1f MiB)"
          % (time.monotonic() - t0, corpus.big_bytes / 1048576))
    try:
        for rnd in range(ROUNDS):
            if time.monotonic() - t0 > SECONDS:
                print("torture: time limit (%.0f s) reached after %d rounds" % (SECONDS, rnd))
                break
            one_round(rnd, rng, tort, d, corpus, troot, tally)
        rc = d.stop()
        bad = bad_log_lines(log_since(d, tort.life_offset))
        assert rc == 0 and not bad, "seed %d: berthd's last stop: rc %s\n%s" % (
            SEED, rc, "\n".join(bad))
        problems = check_store(d.data, expected_layers=corpus.expected)
        assert not problems, "seed %d: after the last stop:\n%s" % (SEED, "\n".join(problems))
    finally:
        with tort.lock:
            for p in tort.procs:
                p.kill()
        d.kill()
    summary = [
        head,
        "torture: %d rounds, %d kills (%d during start-up recovery) in %.1f s" % (
            tally.rounds, tally.kills, tally.startup_kills, time.monotonic() - t0),
        "torture: kills aimed %s" % " ".join("%s=%d" % kv for kv in sorted(tally.aimed.items())),
        "torture: kills landed %s" % " ".join("%s=%d" % kv for kv in sorted(tally.landed.items())),
        "torture: operations %s (total %d)" % (
            " ".join("%s=%d" % kv for kv in sorted(tort.counts.items())),
            sum(tort.counts.values())),
        "torture: of which succeeded %s" % " ".join(
            "%s=%d" % kv for kv in sorted(tort.oks.items())),
        "torture: %d quiet checks; %d names checked for durability" % (tally.quiet,
                                                                       tally.durable)]
    with capsys.disabled():
        print("\n" + "\n".join(summary))
    assert tally.rounds >= min(ROUNDS, 3), "only %d rounds ran" % tally.rounds
    # the mix did what it is for: builds (from pulled bases) got through, not only failed
    assert tort.oks["build"] or tort.counts["build"] < 5, summary
    # The kills must have hit work, not only an idle daemon.
    if tally.rounds >= 10:
        assert tally.landed["mid-pull"] + tally.landed["mid-load"] > 0, tally.landed
    if tally.rounds >= 30:
        assert tally.landed["txn"] > 0 and tally.landed["unpack"] > 0, tally.landed
