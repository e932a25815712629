"""Layer unpack keeps every piece of metadata a tar entry carries.

A tricky layer is written here with Python's tarfile (PAX): files of many
sizes with modes 0000..07777 (setuid, setgid, sticky) and owners root and not
root, a file with security.capability owned by a non-root user (chown would
drop it if applied in the wrong order), a setgid directory owned by another
group with root-owned children (a new inode inherits the group: the child must
still end up 0:0), user.* xattrs on files and directories, nanosecond mtimes
and atimes, symlinks and devices with owners, hardlinks across directories, a
directory listed after its children, files spread round-robin over more
directories than the unpacker caches, whiteouts and an opaque marker.  The
expected result is computed from the tar members themselves (the last member
at a name wins), not from another unpacker, and compared with lstat of every
path in the layer tests/helper/berth-layer-apply produced, on the disk
filesystem and on tmpfs, with and without a member that replaces an earlier
one (which switches the unpacker to its careful path).
"""
import hashlib
import io
import json
import os
import stat
import struct
import subprocess
import tarfile

import pytest

from conftest import build_path

HELPER = build_path("tests", "helper", "berth-layer-apply")

# vfs_cap_data revision 2, effective, permitted = CAP_NET_BIND_SERVICE
CAP_VALUE = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)


class Layer:
    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.members = []  # (TarInfo, data)

    def add(self, name, kind=tarfile.REGTYPE, mode=0o644, uid=0, gid=0, mtime=1600000000,
            data=b"", link="", dev=(0, 0), xattrs=None, atime=None):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.uname = ti.gname = ""
        ti.linkname = link
        ti.devmajor, ti.devminor = dev
        pax = {}
        if isinstance(mtime, str):
            pax["mtime"] = mtime
            ti.mtime = int(mtime.split(".")[0])
        else:
            ti.mtime = mtime
        if atime is not None:
            pax["atime"] = atime
        for k, v in (xattrs or {}).items():
            pax["SCHILY.xattr." + k] = v.decode("latin-1") if isinstance(v, bytes) else v
        ti.pax_headers = pax
        if kind == tarfile.REGTYPE:
            ti.size = len(data)
            self.tar.addfile(ti, io.BytesIO(data))
        else:
            self.tar.addfile(ti)
        self.members.append((ti, data))

    def close(self):
        self.tar.close()
        return self.buf.getvalue()


def ns(t):
    """PAX time string or int seconds → nanoseconds."""
    if isinstance(t, int):
        return t * 10**9
    sec, _, frac = t.partition(".")
    return int(sec) * 10**9 + int((frac + "000000000")[:9])


def build(replace):
    ly = Layer()
    ly.add("./", tarfile.DIRTYPE, mode=0o755, mtime=1500000000)
    ly.add("bin/", tarfile.DIRTYPE, mode=0o750, mtime=1500000001)
    sizes = [0, 1, 511, 512, 513, 4096, 100000, 200000, 600000]
    modes = [0o644, 0o755, 0o600, 0o000, 0o444, 0o777, 0o4755, 0o2755, 0o6755, 0o1644, 0o7777]
    owners = [(0, 0), (1000, 1000), (0, 1000), (1000, 0), (65534, 65534)]
    for i, size in enumerate(sizes):
        for j, mode in enumerate(modes):
            uid, gid = owners[(i + j) % len(owners)]
            data = hashlib.sha256(b"%d-%d" % (i, j)).digest() * (size // 32 + 1)
            ly.add("bin/f-%d-%o" % (size, mode), mode=mode, uid=uid, gid=gid,
                   mtime="%d.%09d" % (1400000000 + i * 100 + j, 123456789 * (j + 1) % 10**9),
                   data=data[:size])
    ly.add("bin/cap-tool", mode=0o750, uid=1000, gid=1000, data=b"\x7fELF" * 50,
           xattrs={"security.capability": CAP_VALUE, "user.note": "kept"})
    ly.add("bin/atime", data=b"a", mtime="1600000000.5", atime="1500000000.25")
    # setgid directory owned by another group, children owned by root
    ly.add("sg/", tarfile.DIRTYPE, mode=0o2775, uid=1000, gid=1000, mtime=1500000002)
    ly.add("sg/root-file", mode=0o644, data=b"root")
    ly.add("sg/user-file", mode=0o640, uid=1000, gid=1000, data=b"user")
    ly.add("sg/sub/", tarfile.DIRTYPE, mode=0o755, mtime=1500000003)
    ly.add("sg/sub/f", mode=0o600, data=b"deep")
    ly.add("sg/link", tarfile.SYMTYPE, link="root-file", mtime=1500000004)
    ly.add("sg/fifo", tarfile.FIFOTYPE, mode=0o644, mtime=1500000005)
    # directories of all kinds of modes, with xattrs
    ly.add("dirs/", tarfile.DIRTYPE, mode=0o755, mtime=1500000006)
    for k, mode in enumerate([0o700, 0o555, 0o1777, 0o000, 0o711, 0o3755]):
        ly.add("dirs/d%o/" % mode, tarfile.DIRTYPE, mode=mode, uid=k * 500, gid=k * 300,
               mtime="%d.%09d" % (1500000100 + k, 987654321 - k),
               xattrs={"user.dir": "d%d" % k} if k % 2 else None)
        ly.add("dirs/d%o/inner" % mode, mode=0o644, data=b"in %d" % k)
    # a directory whose entry comes after its children
    ly.add("late/early-file", data=b"early", mtime=1500000200)
    ly.add("late/", tarfile.DIRTYPE, mode=0o705, uid=7, gid=8, mtime=1500000201)
    # more directories than the unpacker caches, files round-robin across them
    ly.add("rr/", tarfile.DIRTYPE, mode=0o711, uid=2, gid=3, mtime=1500000299)
    for d in range(20):
        ly.add("rr/%02d/" % d, tarfile.DIRTYPE, mode=0o755, mtime=1500000300 + d)
    for n in range(60):
        ly.add("rr/%02d/f%d" % (n % 20, n), mode=0o644 if n % 3 else 0o600,
               uid=0 if n % 4 else 1000, data=b"x" * n, mtime=1500000400 + n)
    # symlinks, devices, hardlinks
    ly.add("links/", tarfile.DIRTYPE, mode=0o755, mtime=1500000500)
    ly.add("links/abs", tarfile.SYMTYPE, link="/etc/passwd", mtime=1500000501)
    ly.add("links/rel", tarfile.SYMTYPE, link="../bin/f-1-644", uid=1000, gid=1001,
           mtime="1500000502.75")
    ly.add("links/dangling", tarfile.SYMTYPE, link="nowhere/at/all", mtime=1500000503)
    ly.add("links/null", tarfile.CHRTYPE, mode=0o666, dev=(1, 3), mtime=1500000504)
    ly.add("links/tty", tarfile.CHRTYPE, mode=0o620, gid=5, dev=(4, 1), mtime=1500000505)
    ly.add("links/loop", tarfile.BLKTYPE, mode=0o660, gid=6, dev=(7, 9), mtime=1500000506)
    ly.add("links/fifo", tarfile.FIFOTYPE, mode=0o600, uid=1000, mtime=1500000507)
    ly.add("links/hard-same-dir", tarfile.LNKTYPE, link="links/../bin/f-513-4755")
    ly.add("bin/hard-here", tarfile.LNKTYPE, link="bin/f-0-644")
    ly.add("rr/07/hard-far", tarfile.LNKTYPE, link="sg/root-file")
    # implicit parents (no directory entries)
    ly.add("implicit/a/b/file", mode=0o640, uid=3, gid=4, data=b"imp", mtime=1500000600)
    # whiteouts and an opaque directory
    ly.add("wh/", tarfile.DIRTYPE, mode=0o755, mtime=1500000700)
    ly.add("wh/.wh.gone", mode=0o644, uid=0, gid=0)
    ly.add("wh/opaque/", tarfile.DIRTYPE, mode=0o755, mtime=1500000701)
    ly.add("wh/opaque/.wh..wh..opq", mode=0o644)
    if replace:
        ly.add("bin/f-1-644", mode=0o600, uid=1000, gid=1000, data=b"second", mtime=1500000800)
        ly.add("rr/03/", tarfile.DIRTYPE, mode=0o700, mtime=1500000801)
        ly.add("links/rel", mode=0o644, data=b"now a file", mtime=1500000802)
        ly.add("dirs/d711", tarfile.SYMTYPE, link="d700", mtime=1500000803)
        ly.add("rr/05/f5", tarfile.DIRTYPE, mode=0o751, mtime=1500000804)
    return ly, ly.close()


def expected(ly):
    want = {}
    for ti, data in ly.members:
        rel = os.path.normpath(ti.name)
        base = os.path.basename(rel)
        if rel == ".":
            rel = ""
        if base == ".wh..wh..opq":
            want[os.path.dirname(rel)]["opaque"] = True
            continue
        if base.startswith(".wh."):
            rel = os.path.join(os.path.dirname(rel), base[4:])
            want[rel] = {"kind": "whiteout", "uid": ti.uid, "gid": ti.gid}
            continue
        if rel in want and (ti.type != tarfile.DIRTYPE or want[rel]["kind"] != "dir"):
            # replaced: whatever lived below it is gone too
            for k in [k for k in want if k.startswith(rel + "/")]:
                del want[k]
        mt = ns(ti.pax_headers.get("mtime", ti.mtime))
        at = ns(ti.pax_headers["atime"]) if "atime" in ti.pax_headers else mt
        f = {"uid": ti.uid, "gid": ti.gid, "mtime": mt, "atime": at}
        if ti.type == tarfile.LNKTYPE:
            target = os.path.normpath(ti.linkname)
            want[rel] = dict(want[target], kind="hardlink", target=target)
            continue
        if ti.type == tarfile.REGTYPE:
            f.update(kind="file", mode=ti.mode, sha=hashlib.sha256(data).hexdigest())
        elif ti.type == tarfile.DIRTYPE:
            f.update(kind="dir", mode=ti.mode)
        elif ti.type == tarfile.SYMTYPE:
            f.update(kind="symlink", link=ti.linkname)
            del f["atime"]  # reading the link may update it
        elif ti.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
            f.update(kind="chr" if ti.type == tarfile.CHRTYPE else "blk", mode=ti.mode,
                     rdev=os.makedev(ti.devmajor, ti.devminor))
        elif ti.type == tarfile.FIFOTYPE:
            f.update(kind="fifo", mode=ti.mode)
        xa = {k[len("SCHILY.xattr."):]: v.encode("latin-1")
              for k, v in ti.pax_headers.items() if k.startswith("SCHILY.xattr.")}
        if xa:
            f["xattrs"] = xa
        want[rel] = f
    return want


def check(unpacked, want, implicit_mode=0o755):
    # every lstat before any read: reading a file may update its atime
    stats = {rel: os.lstat(os.path.join(unpacked, rel) if rel else unpacked) for rel in want}
    for rel, f in sorted(want.items()):
        p = os.path.join(unpacked, rel) if rel else unpacked
        st = stats[rel]
        where = rel or "(root)"
        kind = f["kind"]
        if kind == "hardlink":
            assert st.st_ino == stats[f["target"]].st_ino, where
            kind = "file"
        fmt = {"file": stat.S_ISREG, "dir": stat.S_ISDIR, "symlink": stat.S_ISLNK,
               "chr": stat.S_ISCHR, "blk": stat.S_ISBLK, "fifo": stat.S_ISFIFO,
               "whiteout": stat.S_ISCHR}[kind]
        assert fmt(st.st_mode), (where, oct(st.st_mode))
        assert (st.st_uid, st.st_gid) == (f["uid"], f["gid"]), where
        if kind == "whiteout":
            assert st.st_rdev == 0, where
            continue
        if "mode" in f:
            assert oct(stat.S_IMODE(st.st_mode)) == oct(f["mode"]), where
        assert st.st_mtime_ns == f["mtime"], where
        if "atime" in f:
            assert st.st_atime_ns == f["atime"], where
        if kind == "file":
            with open(p, "rb") as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == f["sha"], where
        if kind == "symlink":
            assert os.readlink(p) == f["link"], where
        if "rdev" in f:
            assert st.st_rdev == f["rdev"], where
        if kind in ("file", "dir"):
            got = {k: os.getxattr(p, k, follow_symlinks=False)
                   for k in os.listxattr(p, follow_symlinks=False)
                   if k.startswith("user.") or k == "security.capability"}
            assert got == f.get("xattrs", {}), where
        if kind == "dir":
            try:
                opaque = os.getxattr(p, "trusted.overlay.opaque")
            except OSError:
                opaque = None
            assert opaque == (b"y" if f.get("opaque") else None), where
    # nothing else: every path in the layer is one the tar named or an implicit parent
    implicit = {"implicit", "implicit/a", "implicit/a/b"}
    for dirpath, dirnames, filenames in os.walk(unpacked):
        for n in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, n), unpacked)
            assert rel in want or rel in implicit, rel
    for rel in implicit:
        st = os.lstat(os.path.join(unpacked, rel))
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == implicit_mode, rel
        assert (st.st_uid, st.st_gid) == (0, 0), rel


@pytest.mark.parametrize("fs", ["disk", "tmpfs"])
@pytest.mark.parametrize("replace", [False, True], ids=["append-only", "with-replacements"])
def test_tricky_layer_metadata_exact(workdir, fs, replace):
    ly, blob = build(replace)
    layer = os.path.join(workdir, "layer.tar")
    with open(layer, "wb") as f:
        f.write(blob)
    data_root = os.path.join(workdir, "data")
    os.makedirs(data_root)
    if fs == "tmpfs":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", data_root],
                       check=True)
    # odd chunk sizes split headers and small files across reads
    for chunk in ("1048576", "4093"):
        p = subprocess.run([HELPER, "--chunk", chunk, data_root, layer], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        res = json.loads(p.stdout)
        unpacked = os.path.join(data_root, "layers", res["chain_id"][len("sha256:"):])
        check(unpacked, expected(ly))
        subprocess.run(["rm", "-rf", os.path.join(data_root, "layers")], check=True)


def test_setgid_data_root_does_not_leak_its_group(workdir):
    """A data root in a setgid directory of another group: the layer's entries
    still get exactly the owners the tar says."""
    ly, blob = build(False)
    layer = os.path.join(workdir, "layer.tar")
    with open(layer, "wb") as f:
        f.write(blob)
    data_root = os.path.join(workdir, "data")
    os.makedirs(data_root)
    os.chown(data_root, 0, 4321)
    os.chmod(data_root, 0o2755)
    p = subprocess.run([HELPER, data_root, layer], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    unpacked = os.path.join(data_root, "layers", res["chain_id"][len("sha256:"):])
    check(unpacked, expected(ly))


def test_default_acl_on_data_root_does_not_change_modes(workdir):
    """A default ACL replaces the umask at creation; the modes must still be the tar's."""
    ly, blob = build(False)
    layer = os.path.join(workdir, "layer.tar")
    with open(layer, "wb") as f:
        f.write(blob)
    data_root = os.path.join(workdir, "data")
    os.makedirs(data_root)
    # user::rwx group::r-x other::--- as the default ACL (system.posix_acl_default, v2)
    acl = struct.pack("<I", 2)
    for tag, perm in ((0x01, 7), (0x04, 5), (0x20, 0)):
        acl += struct.pack("<HHI", tag, perm, 0xFFFFFFFF)
    try:
        os.setxattr(data_root, "system.posix_acl_default", acl)
    except OSError as e:
        pytest.skip(f"no POSIX ACLs on {workdir}: {e}")
    p = subprocess.run([HELPER, data_root, layer], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    unpacked = os.path.join(data_root, "layers", res["chain_id"][len("sha256:"):])
    # the implicit parents are made by mkdir, under the ACL's mask like GNU tar's
    check(unpacked, expected(ly), implicit_mode=0o750)
