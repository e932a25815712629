#!/usr/bin/python3
"""python-image — a `python` image as Docker Hub's would look to a user, made offline.

How: three root filesystems are built once into a cache directory (default
/var/cache/berth/python-rootfs, reused when present), each one the previous one plus
packages from the Debian mirror apt already uses:

  base    debootstrap --variant=minbase bookworm (apt lists, .debs, resolv.conf removed)
  python  + python3 python3-pip python3-venv
  libs    + python3-numpy python3-requests python3-yaml python3-dev

Each stage becomes one layer: the first is the whole tree, the others are the
difference to the stage below (new and changed entries with their parent
directories, `.wh.<name>` whiteouts for what was deleted).  Tars are made
deterministically (sorted names, numeric owners only, mtimes and xattrs from the
tree) and their compressed forms are cached beside each stage, so a rerun against the
same cache pushes byte-identical layers with the same digests.  The image is an OCI
index with one linux/amd64 manifest (as Docker Hub serves official images), config
Cmd ["python3"] and Env PATH, LANG=C.UTF-8, PYTHON_VERSION, pushed over plain HTTP
with the integration tests' push helper (tests/integration/test_registry.py).

Packages are installed by chroot inside a private mount namespace (proc and the
host's resolv.conf mounted there only), so nothing stays mounted on the host, even
when interrupted.  It never writes outside the cache dir, and never pushes anywhere
but the registry given.

usage: scripts/python-image.sh --registry HOST:PORT [--zstd] [--repo library/python]
                               [--tag latest] [--cache DIR] [--mirror URL] [--rebuild]
       scripts/python-image.sh --build-only          (fill the cache, print the layers)
"""
import argparse
import fcntl
import glob
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from test_registry import (Image, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST,  # noqa: E402
                           compress, http_push, sha256)

SUITE = "bookworm"
# Bumped whenever the way layers are made changes, so stale cached blobs are not reused.
LAYER_FORMAT = 1
# (name, packages or None for debootstrap, history comment, paths removed afterwards:
# like the official image's Dockerfile, the interpreter's own test suite goes, which
# makes whiteouts in that layer)
STAGES = [
    ("base", None, "debootstrap --variant=minbase %s" % SUITE, []),
    ("python", ["python3", "python3-pip", "python3-venv"], None, []),
    ("libs", ["python3-numpy", "python3-requests", "python3-yaml", "python3-dev"], None,
     ["usr/lib/python3.*/test", "usr/lib/python3.*/lib2to3/tests"]),
]
MEDIA = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
         "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(msg):
    print("python-image: " + msg, file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def apt_mirror():
    """The first Debian archive URI apt is configured with (deb822 or one-line format)."""
    cands = []
    d = "/etc/apt/sources.list.d"
    files = ["/etc/apt/sources.list"] + sorted(
        os.path.join(d, n) for n in (os.listdir(d) if os.path.isdir(d) else []))
    for path in files:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        cands += re.findall(r"^URIs:\s*(\S+)", text, re.M)
        cands += re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M)
    for uri in cands:
        if "security" not in uri:
            return uri
    return "http://deb.debian.org/debian"


# ---- root filesystems --------------------------------------------------------

def run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if p.returncode != 0:
        tail = p.stdout.decode(errors="replace").strip().splitlines()[-15:]
        die("%s failed (exit %d):\n  %s" % (" ".join(argv[:4]), p.returncode, "\n  ".join(tail)))
    return p


def scrub(root):
    """What a published image leaves out: package lists, downloaded .debs, host files."""
    for sub in ("var/lib/apt/lists", "var/cache/apt/archives"):
        top = os.path.join(root, sub)
        for n in os.listdir(top):
            p = os.path.join(top, n)
            if os.path.isdir(p) and not os.path.islink(p):
                if n != "partial":
                    shutil.rmtree(p)
            elif n != "lock":
                os.unlink(p)
    for n in ("etc/resolv.conf", "etc/hostname"):
        with open(os.path.join(root, n), "w"):
            pass  # empty: the engine bind-mounts its own at run time


def apt_install(root, packages):
    """apt-get install in a chroot, in a private mount namespace that dies with it."""
    inner = ("set -e; mount --bind /etc/resolv.conf \"$1/etc/resolv.conf\"; "
             "mount -t proc proc \"$1/proc\"; "
             "printf '#!/bin/sh\\nexit 101\\n' > \"$1/usr/sbin/policy-rc.d\"; "
             "chmod 755 \"$1/usr/sbin/policy-rc.d\"; "
             "shift; chroot \"$R\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "
             "DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 sh -c "
             "'apt-get update -q && apt-get install -y -q --no-install-recommends \"$@\" "
             "&& apt-get clean' sh \"$@\"; rm -f \"$R/usr/sbin/policy-rc.d\"")
    run(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner, "sh", root,
         *packages], env={**os.environ, "R": root})


def build_stage(cache, idx, mirror):
    name, packages, _, removed = STAGES[idx]
    final = os.path.join(cache, name)
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.time()
    if packages is None:
        log("debootstrap --variant=minbase %s from %s (about a minute)" % (SUITE, mirror))
        os.makedirs(tmp)
        run(["debootstrap", "--variant=minbase", SUITE, os.path.join(tmp, "rootfs"), mirror])
    else:
        log("%s: apt-get install %s" % (name, " ".join(packages)))
        os.makedirs(tmp)
        run(["cp", "-a", "--reflink=auto", os.path.join(cache, STAGES[idx - 1][0], "rootfs"),
             os.path.join(tmp, "rootfs")])
        apt_install(os.path.join(tmp, "rootfs"), packages)
    for pattern in removed:
        for p in glob.glob(os.path.join(tmp, "rootfs", pattern)):
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
    scrub(os.path.join(tmp, "rootfs"))
    with open(os.path.join(tmp, "stage.json"), "w") as f:
        json.dump({"name": name, "recipe": [packages, removed], "built": int(time.time()),
                   "mirror": mirror}, f)
    os.rename(tmp, final)
    log("%s built in %.0f s" % (name, time.time() - t0))


def ensure_rootfs(cache, mirror, rebuild):
    if rebuild:
        for name, *_ in STAGES:
            shutil.rmtree(os.path.join(cache, name), ignore_errors=True)
    stale = False
    for i, (name, packages, _, removed) in enumerate(STAGES):
        meta = os.path.join(cache, name, "stage.json")
        ok = os.path.exists(meta) and not stale
        if ok:
            with open(meta) as f:
                ok = json.load(f).get("recipe") == [packages, removed]
        if not ok:
            shutil.rmtree(os.path.join(cache, name), ignore_errors=True)
            build_stage(cache, i, mirror)
            stale = True  # every stage above a rebuilt one is rebuilt too


# ---- layers ------------------------------------------------------------------

def xattrs(path):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in sorted(names):
        out[n] = os.getxattr(path, n, follow_symlinks=False)
    return out


def same_entry(a, b, pa, pb):
    """Whether an entry is unchanged between two stages (rsync's quick check plus metadata)."""
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return False
    if (a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid):
        return False
    if stat.S_ISLNK(a.st_mode):
        return os.readlink(pa) == os.readlink(pb)
    if stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode):
        return a.st_rdev == b.st_rdev
    if stat.S_ISREG(a.st_mode) and (a.st_size, a.st_mtime_ns) != (b.st_size, b.st_mtime_ns):
        return False
    if stat.S_ISDIR(a.st_mode) and a.st_mtime_ns != b.st_mtime_ns:
        return False
    return xattrs(pa) == xattrs(pb)


def changes(new, old):
    """Sorted relative paths to put in the layer, and the whiteout names (`d/.wh.x`)."""
    include, whiteouts = set(), []

    def walk(rel):
        dn, do = os.path.join(new, rel), os.path.join(old, rel) if old else None
        names_new = sorted(os.listdir(dn))
        names_old = set(os.listdir(do)) if do and os.path.isdir(do) and \
            not os.path.islink(do) else set()
        for n in sorted(names_old - set(names_new)):
            whiteouts.append(os.path.join(rel, ".wh." + n) if rel else ".wh." + n)
        for n in names_new:
            r = os.path.join(rel, n) if rel else n
            pn = os.path.join(new, r)
            sn = os.lstat(pn)
            po = os.path.join(old, r) if old else None
            so = None
            if n in names_old:
                so = os.lstat(po)
            if so is None or not same_entry(sn, so, pn, po):
                include.add(r)
            if stat.S_ISDIR(sn.st_mode):
                walk(r)

    walk("")
    # Parent directories of whatever is in the layer are in it too, as docker's diff does.
    for r in list(include) + whiteouts:
        d = os.path.dirname(r)
        while d:
            include.add(d)
            d = os.path.dirname(d)
    return sorted(include), sorted(whiteouts)


def tarinfo(root, rel, st, links):
    path = os.path.join(root, rel)
    ti = tarfile.TarInfo(rel)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = st.st_mtime_ns // 1_000_000_000
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and (st.st_dev, st.st_ino) in links:
        ti.type, ti.linkname = tarfile.LNKTYPE, links[(st.st_dev, st.st_ino)]
    elif stat.S_ISREG(st.st_mode):
        ti.type, ti.size = tarfile.REGTYPE, st.st_size
        if st.st_nlink > 1:
            links[(st.st_dev, st.st_ino)] = rel
    elif stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(st.st_mode):
        ti.type = tarfile.FIFOTYPE
    else:
        return None  # sockets have no place in a layer
    for k, v in xattrs(path).items():
        ti.pax_headers["SCHILY.xattr." + k] = v.decode("utf-8", "surrogateescape")
    return ti


def layer_tar(new, old):
    """The uncompressed layer of stage `new` over stage `old` (None: the whole tree)."""
    include, whiteouts = changes(new, old)
    bio = io.BytesIO()
    links = {}
    entries = [(r, False) for r in include] + [(w, True) for w in whiteouts]
    entries.sort(key=lambda e: e[0])
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for rel, is_wh in entries:
            if is_wh:
                ti = tarfile.TarInfo(rel)
                ti.mode, ti.mtime, ti.uname, ti.gname = 0o644, 0, "", ""
                t.addfile(ti)
                continue
            st = os.lstat(os.path.join(new, rel))
            ti = tarinfo(new, rel, st, links)
            if ti is None:
                continue
            if ti.type == tarfile.REGTYPE:
                with open(os.path.join(new, rel), "rb") as f:
                    t.addfile(ti, f)
            else:
                t.addfile(ti)
    return bio.getvalue(), len(include), len(whiteouts)


def cached_layer(cache, idx, how):
    """(compressed blob, diff_id, entries, whiteouts) for one stage, from the cache when there."""
    name = STAGES[idx][0]
    d = os.path.join(cache, name)
    ext = {"gzip": "gz", "zstd": "zst"}[how]
    blob_path = os.path.join(d, "layer-v%d.tar.%s" % (LAYER_FORMAT, ext))
    meta_path = os.path.join(d, "layer-v%d.json" % LAYER_FORMAT)
    meta = None
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    if meta and os.path.exists(blob_path):
        with open(blob_path, "rb") as f:
            return f.read(), meta["diff_id"], meta["entries"], meta["whiteouts"]
    t0 = time.time()
    old = os.path.join(cache, STAGES[idx - 1][0], "rootfs") if idx else None
    raw, n, nwh = layer_tar(os.path.join(d, "rootfs"), old)
    diff_id = sha256(raw)
    if meta and meta["diff_id"] != diff_id:
        die("layer %s is not reproducible: %s then %s" % (name, meta["diff_id"], diff_id))
    blob = compress(raw, how)
    with open(blob_path + ".tmp", "wb") as f:
        f.write(blob)
    os.rename(blob_path + ".tmp", blob_path)
    meta = {"diff_id": diff_id, "entries": n, "whiteouts": nwh, "size": len(raw)}
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f)
    os.rename(meta_path + ".tmp", meta_path)
    log("layer %s (%s): %d entries, %d whiteouts, %.1f MB tar -> %.1f MB in %.0f s" % (
        name, how, n, nwh, len(raw) / 1e6, len(blob) / 1e6, time.time() - t0))
    return blob, diff_id, n, nwh


# ---- image -------------------------------------------------------------------

def python_version(root):
    """The upstream version dpkg installed for the python3.X interpreter package."""
    with open(os.path.join(root, "var", "lib", "dpkg", "status")) as f:
        blocks = f.read().split("\n\n")
    for b in blocks:
        if re.search(r"^Package: python3\.\d+-minimal$", b, re.M):
            v = re.search(r"^Version: (\S+)", b, re.M).group(1)
            return v.split("-")[0]
    die("no python3.X-minimal package in %s" % root)


def build_image(cache, how):
    img = Image()
    descs, diff_ids, history = [], [], []
    top = os.path.join(cache, STAGES[-1][0])
    with open(os.path.join(top, "stage.json")) as f:
        built = json.load(f)["built"]
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(built))
    for i, (name, packages, comment, removed) in enumerate(STAGES):
        blob, diff_id, _, _ = cached_layer(cache, i, how)
        descs.append({"mediaType": MEDIA[how], "digest": img.add(blob), "size": len(blob)})
        diff_ids.append(diff_id)
        history.append({"created": created, "created_by": comment or (
            "RUN apt-get install -y --no-install-recommends %s && apt-get clean && "
            "rm -rf /var/lib/apt/lists/*%s" % (" ".join(packages), "".join(
                " " + "/" + r for r in removed)))})
    history.append({"created": created, "created_by": 'CMD ["python3"]', "empty_layer": True})
    cfg = {"created": created, "architecture": "amd64", "os": "linux",
           "config": {"Env": [PATH_ENV, "LANG=C.UTF-8",
                              "PYTHON_VERSION=" + python_version(os.path.join(top, "rootfs"))],
                      "Cmd": ["python3"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids},
           "history": history}
    cb = json.dumps(cfg, sort_keys=True).encode()
    man = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": img.add(cb), "size": len(cb)},
           "layers": descs}
    mb = json.dumps(man).encode()
    md = img.add(mb)
    img.manifests["amd64"] = md
    idx = {"schemaVersion": 2, "mediaType": OCI_INDEX,
           "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": len(mb),
                          "platform": {"architecture": "amd64", "os": "linux"}}]}
    ib = json.dumps(idx).encode()
    img.top_digest, img.top_media_type = img.add(ib), OCI_INDEX
    return img, descs


def main():
    ap = argparse.ArgumentParser(
        prog="python-image.sh",
        description="Build a python image from Debian packages and push it to a registry.")
    ap.add_argument("--registry", help="HOST:PORT of a plain-HTTP registry on loopback")
    ap.add_argument("--zstd", action="store_true", help="zstd layers instead of gzip")
    ap.add_argument("--repo", default="library/python")
    ap.add_argument("--tag", default="latest")
    ap.add_argument("--cache", default="/var/cache/berth/python-rootfs")
    ap.add_argument("--mirror", default=None, help="Debian mirror (default: apt's)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached root filesystems")
    ap.add_argument("--build-only", action="store_true", help="fill the cache, push nothing")
    a = ap.parse_args()
    if not a.registry and not a.build_only:
        ap.error("--registry HOST:PORT is required (or --build-only)")
    if os.geteuid() != 0:
        die("debootstrap and chroot need root: run as root")
    for tool in ("debootstrap", "unshare", "chroot") + (("zstd",) if a.zstd else ()):
        if not shutil.which(tool):
            die("%s is not installed: run scripts/deps.sh bench" % tool)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(a.cache, exist_ok=True)
    lock = open(os.path.join(a.cache, ".lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time per cache
    ensure_rootfs(a.cache, a.mirror or apt_mirror(), a.rebuild)
    how = "zstd" if a.zstd else "gzip"
    img, descs = build_image(a.cache, how)
    total = sum(d["size"] for d in descs)
    sizes = " + ".join("%.1f" % (d["size"] / 1e6) for d in descs)
    if a.build_only:
        print("%s layers: %s = %.1f MB, index %s" % (how, sizes, total / 1e6, img.top_digest))
        return
    ref = "%s/%s:%s" % (a.registry, a.repo, a.tag)
    t0 = time.time()
    try:
        http_push("http://" + a.registry, a.repo, a.tag, img)
    except OSError as e:
        die("push to %s: %s" % (ref, e))
    log("pushed %s (%s layers %s = %.1f MB) in %.1f s" % (ref, how, sizes, total / 1e6,
                                                         time.time() - t0))
    print("%s %s" % (ref, img.top_digest))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
