"""Files in and out of containers: HEAD/GET/PUT /containers/{id}/archive, /export and
/changes through berthd's API, compared with what a private dockerd 20.10 answers to the
same requests; the hostile cases (symlinks planted in the container or swapped in during
the copy, CVE-2018-15664; "..", hard links, kernel filesystems), each with a control that
shows the same attack reaching the host when paths are resolved naively; and `berth cp`,
`export`, `diff` beside docker's CLI (28), against berthd and against dockerd.

Containers run with --network none.  Every victim of an attack is a directory this test
made on the host, never a system path: what the attacks try to reach is ours to check
and to remove.
"""
import base64
import contextlib
import gzip
import io
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest

from container_util import mounts_mentioning, start_env, stop_env


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("archive"))
    os.chmod(root, 0o755)
    e = start_env(root)
    yield e
    assert stop_env(e) == 0, e.d.logtext()[-3000:]


@pytest.fixture
def victim():
    """A host directory an attack aims at, with a secret that must never leave it."""
    d = tempfile.mkdtemp(prefix="berth-victim-", dir="/tmp")
    secret = "HOST-SECRET-" + uuid.uuid4().hex
    with open(os.path.join(d, "secret"), "w") as f:
        f.write(secret)
    yield d, secret
    shutil.rmtree(d, ignore_errors=True)


def uniq(prefix="ar"):
    return prefix + uuid.uuid4().hex[:8]


# ---- the API ---------------------------------------------------------------------------------


def api(e, method, path, body=None, headers=None):
    return e.d.request(method, "/v1.41" + path, body=body, headers=headers)


def q(path):
    return urllib.parse.quote(path, safe="")


def path_stat(headers):
    v = headers.get("x-docker-container-path-stat")
    return json.loads(base64.b64decode(v)) if v else None


def names(tar_bytes):
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
        return [m.name + ("/" if m.isdir() and m.name not in ("", "/") else "")
                for m in t.getmembers()]


def raw_names(tar_bytes):
    """The names as written in the headers (tarfile drops a directory's trailing '/')."""
    out, off = [], 0
    while off + 512 <= len(tar_bytes):
        h = tar_bytes[off:off + 512]
        if h == b"\0" * 512:
            break
        size = int(h[124:136].rstrip(b"\0 ") or b"0", 8)
        name = h[0:100].rstrip(b"\0").decode()
        prefix = h[345:500].rstrip(b"\0").decode()
        if h[156:157] not in (b"x", b"g"):
            out.append(prefix + "/" + name if prefix else name)
        off += 512 + (size + 511) // 512 * 512
    return out


def members(tar_bytes):
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
        return {m.name: m for m in t.getmembers()}


def member_data(tar_bytes, name):
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
        return t.extractfile(name).read()


def make_tar(entries, fmt=tarfile.PAX_FORMAT):
    """entries: (name, kind, data/linkname, mode, uid, gid)."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=fmt) as t:
        for ent in entries:
            name, kind = ent[0], ent[1]
            arg = ent[2] if len(ent) > 2 else ""
            ti = tarfile.TarInfo(name)
            ti.mode = ent[3] if len(ent) > 3 else (0o755 if kind == "d" else 0o644)
            ti.uid = ent[4] if len(ent) > 4 else 0
            ti.gid = ent[5] if len(ent) > 5 else 0
            ti.mtime = 1700000000
            if kind == "f":
                data = arg.encode() if isinstance(arg, str) else arg
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE,
                       "p": tarfile.FIFOTYPE}[kind]
            ti.linkname = arg
            t.addfile(ti)
    return bio.getvalue()


def put(e, ctr, path, tar, query=""):
    return api(e, "PUT", "/containers/%s/archive?path=%s%s" % (ctr, q(path), query), body=tar,
               headers={"Content-Type": "application/x-tar"})


def get(e, ctr, path):
    return api(e, "GET", "/containers/%s/archive?path=%s" % (ctr, q(path)))


def inspect(e, ctr):
    return e.inspect(ctr)


def running(e, name, *extra, cmd=("sleep", "1000")):
    e.ok("run", "-d", "--name", name, "--network", "none", *extra, "busybox", *cmd)
    return name


def created(e, name, *extra):
    e.ok("create", "--name", name, "--network", "none", *extra, "busybox")
    return name


def upper_dir(e, ctr):
    return os.path.join(e.d.data, "containers", inspect(e, ctr)["Id"], "upper")


def container_mounts(e, ctr):
    return mounts_mentioning(inspect(e, ctr)["Id"])


# ---- GET and HEAD: names and stat as dockerd gives them --------------------------------------

# What dockerd 20.10 answers (its stat header and tar names), for paths that exist alike in
# both daemons' busybox images.  name, Go FileMode type bits, linkTarget, first tar names.
DOCKERD_ANSWERS = [
    ("/", "/", 1 << 31, "", ["/", "/bin/"]),
    ("/etc", "etc", 1 << 31, "", ["etc/"]),
    ("/etc/", "etc", 1 << 31, "", ["etc/"]),
    ("/etc/.", ".", 1 << 31, "", ["./"]),
    (".", ".", 1 << 31, "", ["./", "./bin/"]),
    ("/tmp/..", "/", 1 << 31, "", ["/", "/bin/"]),
    ("../../etc/passwd", "passwd", 0, "", ["passwd"]),
    ("/etc/passwd", "passwd", 0, "", ["passwd"]),
    ("/bin/sh", "sh", 1 << 27, "/bin/busybox", ["sh"]),
]

TYPE_BITS = (1 << 31) | (1 << 27) | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21)


@pytest.mark.parametrize("state", ["created", "running"])
def test_get_archive_names_and_stat_as_dockerd(env, state):
    name = uniq()
    (created if state == "created" else running)(env, name)
    for path, sname, bits, link, first in DOCKERD_ANSWERS:
        status, headers, body = get(env, name, path)
        assert status == 200, (path, body)
        assert headers["content-type"] == "application/x-tar"
        st = path_stat(headers)
        assert list(st) == ["name", "size", "mode", "mtime", "linkTarget"]
        assert (st["name"], st["mode"] & TYPE_BITS, st["linkTarget"]) == (sname, bits, link), path
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z", st["mtime"]), st
        assert raw_names(body)[:len(first)] == first, path
        # HEAD: the same header, no body
        hs, hh, hb = api(env, "HEAD", "/containers/%s/archive?path=%s" % (name, q(path)))
        assert (hs, hb, path_stat(hh)) == (200, b"", st)
    _, h, body = get(env, name, "/etc/passwd")
    st = path_stat(h)
    assert st["mode"] == 0o644 and st["size"] == len(member_data(body, "passwd"))
    assert member_data(body, "passwd").startswith(b"root:x:0:0:")
    env.ok("rm", "-f", name)


def test_archive_errors_as_dockerd(env):
    name = created(env, uniq())
    cases = [
        ("", 400, "bad parameter: pathcannot be empty"),
        ("/nonexist", 404, "Could not find the file /nonexist in container %s" % name),
        ("/etc/nonexist/", 404, "Could not find the file /etc/nonexist/ in container %s" % name),
        ("/proc/self", 404, "Could not find the file /proc/self in container %s" % name),
        # dockerd names its own host path here; berth the container's
        ("/etc/passwd/", 400, "lstat /etc/passwd/: not a directory"),
        ("/bin/sh/", 400, "lstat /bin/sh/: not a directory"),
    ]
    for path, code, msg in cases:
        for method in ("GET", "PUT"):
            if method == "PUT" and code == 400 and path:
                continue
            status, _, body = (get(env, name, path) if method == "GET"
                               else put(env, name, path, make_tar([])))
            assert (status, json.loads(body)["message"]) == (code, msg), (method, path)
        hs, hh, hb = api(env, "HEAD", "/containers/%s/archive?path=%s" % (name, q(path)))
        assert (hs, hb, path_stat(hh)) == (code, b"", None)
    status, _, body = get(env, "nosuchctr", "/etc")
    assert (status, json.loads(body)) == (404, {"message": "No such container: nosuchctr"})
    status, _, body = get(env, "nosuchctr", "")  # the path is checked first, as dockerd
    assert status == 400
    assert container_mounts(env, name) == []
    env.ok("rm", name)


def test_stopped_container_is_mounted_only_for_the_call(env):
    name = uniq()
    env.ok("run", "--name", name, "--network", "none", "busybox", "sh", "-c",
           "cat /tmp/new 2>/dev/null; echo changed > /etc/motd")
    cid = inspect(env, name)["Id"]
    assert mounts_mentioning(cid) == []
    status, _, body = get(env, name, "/etc/motd")
    assert status == 200 and member_data(body, "motd") == b"changed\n"
    assert put(env, name, "/tmp", make_tar([("new", "f", "put-while-stopped\n")]))[0] == 200
    assert mounts_mentioning(cid) == []
    # the container starts afterwards on its overlay, with what was put in
    env.ok("start", name)
    env.ok("wait", name)
    assert env.ok("logs", name) == "put-while-stopped\n"
    assert mounts_mentioning(cid) == []
    env.ok("rm", name)


# ---- PUT -------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["created", "running"])
def test_put_archive_extracts_as_dockerd(env, state):
    name = uniq()
    (created if state == "created" else running)(env, name)
    tar = make_tar([("a", "f", "hi", 0o640, 1000, 1001), ("d", "d"), ("d/x", "f", "1"),
                    (".wh.zz", "f", "w"), ("/abs/f", "f", "abs"), ("lnk", "l", "/etc"),
                    ("hard", "h", "a")])
    status, _, body = put(env, name, "/tmp", tar)
    assert (status, body) == (200, b""), body
    _, _, got = get(env, name, "/tmp")
    m = members(got)
    assert (m["tmp/a"].uid, m["tmp/a"].gid, m["tmp/a"].mode) == (1000, 1001, 0o100640)
    assert member_data(got, "tmp/a") == b"hi"
    assert member_data(got, "tmp/.wh.zz") == b"w"  # a plain file, no whiteout
    assert member_data(got, "tmp/abs/f") == b"abs"
    assert m["tmp/lnk"].issym() and m["tmp/lnk"].linkname == "/etc"
    assert m["tmp/hard"].islnk() and m["tmp/hard"].linkname == "tmp/a"
    assert m["tmp/d"].isdir() and member_data(got, "tmp/d/x") == b"1"
    # a symlink to a directory is a destination, followed inside the container
    assert put(env, name, "/tmp/lnk", make_tar([("via-link", "f", "v")]))[0] == 200
    assert member_data(get(env, name, "/etc/via-link")[2], "via-link") == b"v"
    # a gzip'd archive is taken as dockerd takes it
    assert put(env, name, "/tmp", gzip.compress(make_tar([("gz", "f", "z")])))[0] == 200
    assert member_data(get(env, name, "/tmp/gz")[2], "gz") == b"z"
    env.ok("rm", "-f", name)


def test_put_archive_errors_as_dockerd(env, tmp_path):
    name = running(env, uniq())
    msg = lambda r: (r[0], json.loads(r[2])["message"])
    assert msg(put(env, name, "/etc/passwd", make_tar([("a", "f", "x")]))) == \
        (400, "extraction point is not a directory")
    assert msg(put(env, name, "/nonexist", make_tar([("a", "f", "x")]))) == \
        (404, "Could not find the file /nonexist in container %s" % name)
    assert msg(put(env, name, "/tmp", make_tar([("../a", "f", "x")]))) == \
        (500, 'Error processing tar file(exit status 1): "../a" is outside of "/tmp"')
    assert msg(put(env, name, "/tmp", make_tar([("up", "l", "../../etc")]))) == \
        (500, 'Error processing tar file(exit status 1): invalid symlink "/tmp/up" -> '
              '"../../etc"')
    assert put(env, name, "/tmp", make_tar([("d", "d"), ("f", "f", "x")]))[0] == 200
    assert msg(put(env, name, "/tmp", make_tar([("d", "f", "file")]),
                   "&noOverwriteDirNonDir=1")) == \
        (500, 'Error processing tar file(exit status 1): cannot overwrite directory "/tmp/d" '
              'with non-directory "/tmp"')
    assert msg(put(env, name, "/tmp", make_tar([("f", "d")]), "&noOverwriteDirNonDir=true")) == \
        (500, 'Error processing tar file(exit status 1): cannot overwrite non-directory '
              '"/tmp/f" with directory "/tmp"')
    # without the flag, replaced as dockerd replaces
    assert put(env, name, "/tmp", make_tar([("f", "d")]))[0] == 200
    assert members(get(env, name, "/tmp/f")[2])["f"].isdir()
    assert msg(put(env, name, "/tmp", b"not a tar at all" * 100))[0] == 500
    assert msg(put(env, "nosuchctr", "/tmp", make_tar([]))) == \
        (404, "No such container: nosuchctr")
    env.ok("rm", "-f", name)
    ro = created(env, uniq(), "--read-only")
    assert msg(put(env, ro, "/tmp", make_tar([("a", "f", "x")]))) == \
        (403, "container rootfs is marked read-only")
    env.ok("rm", ro)


def test_put_archive_copy_uid_gid(env):
    # the container's user, looked up in the container (dockerd asks the host's passwd)
    for user, want in (("tester", (1000, 1000)), ("nobody:audio", (65534, 29)),
                       ("4242", (4242, 0)), ("", (7, 8))):
        name = created(env, uniq(), *(["-u", user] if user else []))
        tar = make_tar([("own", "f", "x", 0o644, 7, 8)])
        assert put(env, name, "/tmp", tar, "&copyUIDGID=1")[0] == 200
        m = members(get(env, name, "/tmp/own")[2])["own"]
        assert (m.uid, m.gid) == want, user
        env.ok("rm", name)
    name = created(env, uniq(), "-u", "nosuchuser")
    r = put(env, name, "/tmp", make_tar([("own", "f", "x")]), "&copyUIDGID=1")
    assert (r[0], json.loads(r[2])["message"]) == \
        (400, "unable to find user nosuchuser: no matching entries in passwd file")
    env.ok("rm", name)


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])


def test_put_and_get_stream_a_large_archive(env):
    """256 MiB each way: berthd's peak memory grows by far less than that, so neither the
    request body nor the archive is ever held whole."""
    name = running(env, uniq())
    before = vm_hwm_kib(env.d.proc.pid)
    size = 256 << 20
    chunk = os.urandom(1 << 20)

    def body():
        hdr = tarfile.TarInfo("big")
        hdr.size = size
        hdr.mode = 0o644
        yield hdr.tobuf(format=tarfile.USTAR_FORMAT)
        for _ in range(size // len(chunk)):
            yield chunk
        yield b"\0" * 1024

    import http.client

    class C(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(env.d.sock)

    c = C("localhost", timeout=300)
    c.request("PUT", "/v1.41/containers/%s/archive?path=%%2Ftmp" % name, body=body(),
              headers={"Content-Type": "application/x-tar"}, encode_chunked=True)
    r = c.getresponse()
    assert r.status == 200, r.read()
    r.read()
    c.request("GET", "/v1.41/containers/%s/archive?path=%%2Ftmp%%2Fbig" % name)
    r = c.getresponse()
    assert r.status == 200
    got, head = 0, b""
    while True:
        d = r.read(1 << 20)
        if not d:
            break
        if len(head) < 512:
            head += d[:512]
        got += len(d)
    c.close()
    assert got == 512 + size + 1024 and head[:3] == b"big"
    grew = vm_hwm_kib(env.d.proc.pid) - before
    assert grew < 64 * 1024, "berthd's peak RSS grew by %d KiB" % grew
    env.ok("rm", "-f", name)


# ---- what a running container sees --------------------------------------------------------


def test_running_container_is_read_through_its_own_mounts(env):
    name = running(env, uniq(), "--hostname", "seen-inside")
    # /etc/hostname is a bind mount and /dev/shm a tmpfs: only the container's mount
    # namespace shows them; the overlay below has an empty placeholder and nothing
    env.ok("exec", name, "sh", "-c", "echo in-shm > /dev/shm/x")
    assert member_data(get(env, name, "/etc/hostname")[2], "hostname") == b"seen-inside\n"
    assert member_data(get(env, name, "/dev/shm/x")[2], "x") == b"in-shm\n"
    # and a file put there is seen by the container
    assert put(env, name, "/dev/shm", make_tar([("y", "f", "put")]))[0] == 200
    assert env.ok("exec", name, "cat", "/dev/shm/y") == "put"
    # control: the overlay alone (export) has neither
    _, _, exp = api(env, "GET", "/containers/%s/export" % name)
    m = members(exp)
    assert m["etc/hostname"].size == 0 and "dev/shm/x" not in m
    env.ok("rm", "-f", name)


def test_kernel_filesystems_are_never_read_or_written(env):
    name = running(env, uniq())
    pid = inspect(env, name)["State"]["Pid"]
    # control: in the container these are procfs, sysfs and cgroupfs, full of files
    assert os.listdir("/proc/%d/root/proc" % pid) and os.listdir("/proc/%d/root/sys" % pid)
    _, _, body = get(env, name, "/")
    n = raw_names(body)
    assert "/proc/" in n and "/sys/" in n and not [x for x in n if x.startswith(("/proc/",
                                                                                  "/sys/"))
                                                   and x not in ("/proc/", "/sys/")]
    status, h, body = get(env, name, "/proc/kmsg")  # reading it would block, and steal
    assert status == 200 and members(body)["kmsg"].size == 0
    # a cgroup hierarchy: /sys/fs/cgroup itself on cgroup v2, a controller's on v1
    cg = "/sys/fs/cgroup/pids" if os.path.isdir("/sys/fs/cgroup/pids") else "/sys/fs/cgroup"
    for dest in ("/proc", cg, "/proc/sys/kernel", "/sys/kernel"):
        status, _, body = put(env, name, dest, make_tar([("x", "f", "x")]))
        assert status == 500 and b"kernel filesystem" in body, (dest, body)
    status, _, body = put(env, name, "/", make_tar([(cg[1:] + "/berth-evil/x", "f", "x")]))
    assert status == 500, body
    assert "berth-evil" not in env.ok("exec", name, "ls", cg)
    env.ok("rm", "-f", name)


# ---- hostile containers: planted symlinks -------------------------------------------------
#
# The container plants a symlink to a host path (absolute, and relative with enough ".." to
# reach the host's root from the container's directory), and a decoy at the same path inside
# the container.  berthd must read and write the decoy.  The control does what a daemon
# resolving paths on the host would do (through /proc/<pid>/root or the upper dir) and
# reaches the host's victim.


def plant(v):
    rel = "../" * 20 + v.lstrip("/")
    return ("mkdir -p {v} && echo CONTAINER-DECOY > {v}/secret && ln -s {v} /tmp/abs && "
            "ln -s {rel} /tmp/rel && ln -s /etc /tmp/etc".format(v=v, rel=rel))


def naive_root(env, name, state):
    """Where a daemon resolving paths on the host would start: the overlay mounted on the
    host for a running container (dockerd's "merged" dir), the upper dir of a stopped one."""
    cid = inspect(env, name)["Id"]
    return os.path.join(env.d.data, "containers", cid,
                        "rootfs" if state == "running" else "upper")


@pytest.mark.parametrize("state", ["exited", "running"])
def test_planted_symlinks_never_lead_to_the_host(env, victim, state):
    v, secret = victim
    name = uniq()
    if state == "running":
        running(env, name, cmd=("sh", "-c", plant(v) + " && sleep 1000"))
        for _ in range(100):
            if env.docker("exec", name, "test", "-L", "/tmp/etc").returncode == 0:
                break
            time.sleep(0.1)
    else:
        env.ok("run", "--name", name, "--network", "none", "busybox", "sh", "-c", plant(v))
    root = naive_root(env, name, state)
    for link in ("abs", "rel"):
        # control: resolved on the host, the link reaches the victim, and a write lands there
        with open(os.path.join(root, "tmp", link, "secret")) as f:
            assert f.read() == secret
        with open(os.path.join(root, "tmp", link, "control-" + link), "w") as f:
            f.write("x")
        assert os.path.exists(os.path.join(v, "control-" + link))
        os.unlink(os.path.join(v, "control-" + link))
        # berthd: the decoy, inside the container
        status, _, body = get(env, name, "/tmp/%s/secret" % link)
        assert status == 200 and member_data(body, "secret") == b"CONTAINER-DECOY\n", body
        status, _, body = get(env, name, "/tmp/%s/" % link)
        assert member_data(body, link + "/secret") == b"CONTAINER-DECOY\n"
        status, headers, _ = api(env, "HEAD", "/containers/%s/archive?path=%s" % (name, q(
            "/tmp/" + link)))
        assert path_stat(headers)["linkTarget"] == v
        assert put(env, name, "/tmp/" + link, make_tar([("pwned-" + link, "f", "x")]))[0] == 200
        assert put(env, name, "/tmp", make_tar([(link + "/via-" + link, "f", "x")]))[0] == 200
        assert member_data(get(env, name, v + "/pwned-" + link)[2], "pwned-" + link) == b"x"
        assert member_data(get(env, name, v + "/via-" + link)[2], "via-" + link) == b"x"
    # a link to /etc reads the container's /etc, not the host's (control: the host's has
    # os-release, the busybox image has none)
    assert os.path.exists(os.path.join(root, "tmp/etc/os-release"))
    _, _, body = get(env, name, "/tmp/etc/")
    got = members(body)
    assert "etc/passwd" in got and "etc/os-release" not in got
    assert b"tester:x:1000" in member_data(body, "etc/passwd")
    assert sorted(os.listdir(v)) == ["secret"]
    with open(os.path.join(v, "secret")) as f:
        assert f.read() == secret
    env.ok("rm", "-f", name)


def test_query_path_cannot_climb_out(env):
    name = running(env, uniq(), "--hostname", "ctr-host")
    pid = inspect(env, name)["State"]["Pid"]
    path = "/../../../../../../../../etc/hostname"
    # control: joined to the container's root on the host, the path is the host's file
    naive = os.path.normpath("/proc/%d/root" % pid + path)
    assert naive == "/etc/hostname"
    status, _, body = get(env, name, path)
    assert status == 200 and member_data(body, "hostname") == b"ctr-host\n"
    env.ok("rm", "-f", name)


def naive_extract(tar, dest):
    """What a naive untar does: tarfile without a filter, names and links taken as they
    come."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        for m in t.getmembers():
            t.extract(m, dest, set_attrs=False, **({"filter": "fully_trusted"}
                                                   if hasattr(tarfile, "data_filter") else {}))


def test_hostile_archives_stay_inside(env, victim, tmp_path):
    v, secret = victim
    name = running(env, uniq(), cmd=("sh", "-c", "mkdir -p %s && sleep 1000" % v))
    deep = "sub/" * 4
    cases = [
        ("through a link", make_tar([("lnk", "l", v), ("lnk/pwned-link", "f", "x")]), 200),
        ("hard link", make_tar([("hl", "h", v + "/secret")]), 500),
        ("dot-dot", make_tar([("../" * 30 + v.lstrip("/") + "/pwned-dotdot", "f", "x")]), 500),
    ]
    for label, tar, code in cases:
        # control: a naive extraction below a scratch directory reaches the victim
        scratch = tmp_path / ("scratch-" + label.replace(" ", "-")) / deep
        scratch.mkdir(parents=True)
        before = set(os.listdir(v))
        naive_extract(tar, str(scratch))
        after = set(os.listdir(v))
        if label == "hard link":
            assert os.stat(os.path.join(v, "secret")).st_nlink == 2, label
            os.unlink(scratch / "hl")
        else:
            assert after - before, label
            for n in after - before:
                os.unlink(os.path.join(v, n))
        # berthd
        status, _, body = put(env, name, "/tmp", tar)
        assert status == code, (label, body)
        assert sorted(os.listdir(v)) == ["secret"], label
        assert os.stat(os.path.join(v, "secret")).st_nlink == 1
    # the link's target inside the container got the file
    assert member_data(get(env, name, v + "/pwned-link")[2], "pwned-link") == b"x"
    env.ok("rm", "-f", name)


def test_fifos_and_devices_are_never_opened(env):
    name = running(env, uniq(), "-u", "0")
    env.ok("exec", name, "sh", "-c", "mkfifo /tmp/fifo && mknod /tmp/null c 1 3")
    pid = inspect(env, name)["State"]["Pid"]
    fifo = "/proc/%d/root/tmp/fifo" % pid
    # control: a plain open of the FIFO blocks (until a writer comes: ours, below)
    opened = []
    t = threading.Thread(target=lambda: opened.append(open(fifo, "rb")), daemon=True)
    t.start()
    t.join(1)
    assert t.is_alive() and not opened
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    t.join(5)
    opened[0].close()
    start = time.monotonic()
    status, _, body = get(env, name, "/tmp")
    assert status == 200 and time.monotonic() - start < 10
    m = members(body)
    assert m["tmp/fifo"].isfifo() and m["tmp/null"].ischr()
    assert (m["tmp/null"].devmajor, m["tmp/null"].devminor) == (1, 3)
    # the container's /etc/passwd a FIFO: copyUIDGID's lookup does not hang on it
    ctr = created(env, uniq(), "-u", "tester")
    assert put(env, ctr, "/etc", make_tar([("passwd", "p")]))[0] == 200
    start = time.monotonic()
    r = put(env, ctr, "/tmp", make_tar([("a", "f", "x")]), "&copyUIDGID=1")
    assert time.monotonic() - start < 10
    assert (r[0], json.loads(r[2])["message"]) == \
        (400, "unable to find user tester: no matching entries in passwd file")
    env.ok("rm", "-f", name, ctr)


# ---- the race: a symlink swapped in during the copy (CVE-2018-15664) ------------------------


SWAP = ("mkdir -p {v} && echo CONTAINER-DECOY > {v}/secret && "
        "while :; do rm -rf /race/s; mkdir -p /race/s; echo REAL-DIR > /race/s/secret; "
        "rm -rf /race/s; ln -s {v} /race/s; done")


def swap_container(env, v):
    name = uniq("race")
    running(env, name, cmd=("sh", "-c", SWAP.format(v=v)))
    pid = inspect(env, name)["State"]["Pid"]
    return name, pid


def test_swap_race_reading(env, victim):
    v, secret = victim
    name, pid = swap_container(env, v)
    # control: resolving /race/s/secret on the host while the container swaps it reads the
    # host's secret now and then
    naive = "/proc/%d/root/race/s/secret" % pid
    seen = set()
    deadline = time.monotonic() + 20
    while secret not in seen and time.monotonic() < deadline:
        try:
            with open(naive) as f:
                seen.add(f.read())
        except OSError:
            pass
    assert secret in seen, "the control never saw the link: the race did not run"
    # berthd: the link is followed inside the container (the decoy), never to the host
    got = set()
    deadline = time.monotonic() + 20
    n = 0
    while ({"CONTAINER-DECOY\n", "REAL-DIR\n"} - got or n < 200) and time.monotonic() < deadline:
        for path in ("/race/s/secret", "/race/s/", "/race/s"):
            status, _, body = get(env, name, path)
            n += 1
            assert secret.encode() not in body
            if status != 200:
                continue
            for m in members(body).values():
                if m.isfile():
                    got.add(member_data(body, m.name).decode())
    assert {"CONTAINER-DECOY\n", "REAL-DIR\n"} <= got, got  # both states were met
    # the same through both CLIs: `cp CONTAINER:/race/s/secret -` (a tar on stdout)
    from cli_util import BERTH
    for tool in ("docker", BERTH):
        got = set()
        deadline = time.monotonic() + 30
        while "CONTAINER-DECOY\n" not in got and time.monotonic() < deadline:
            p = subprocess.run([tool, "cp", name + ":/race/s/secret", "-"], env=env.env(),
                               capture_output=True, timeout=60)
            assert secret.encode() not in p.stdout
            if p.returncode == 0:
                got.add(member_data(p.stdout, "secret").decode())
        assert "CONTAINER-DECOY\n" in got, (tool, got)
    env.ok("rm", "-f", name)


def test_swap_race_writing(env, victim):
    v, secret = victim
    name, pid = swap_container(env, v)
    # control: a write through /race/s resolved on the host lands in the victim
    deadline = time.monotonic() + 20
    landed = False
    while not landed and time.monotonic() < deadline:
        try:
            with open("/proc/%d/root/race/s/control" % pid, "w") as f:
                f.write("x")
        except OSError:
            pass
        landed = os.path.exists(os.path.join(v, "control"))
    assert landed, "the control never wrote through the link: the race did not run"
    os.unlink(os.path.join(v, "control"))
    # berthd: PUTs into /race/s land in the directory or in the decoy, never in the victim
    n, into_decoy = 0, False
    deadline = time.monotonic() + 20
    while (not into_decoy or n < 200) and time.monotonic() < deadline:
        status, _, body = put(env, name, "/race/s", make_tar([("pwned-%d" % n, "f", "x")]))
        n += 1
        assert sorted(os.listdir(v)) == ["secret"]
        if status == 200 and not into_decoy:
            into_decoy = get(env, name, "%s/pwned-%d" % (v, n - 1))[0] == 200
    assert into_decoy, "no PUT met the link: the race did not run"
    assert sorted(os.listdir(v)) == ["secret"]
    # the same through both CLIs: `cp FILE CONTAINER:/race/s`
    from cli_util import BERTH
    src = tempfile.mkdtemp(prefix="berth-cp-src-", dir="/tmp")
    try:
        for tool in ("docker", BERTH):
            name_in = "cli-" + os.path.basename(tool)
            with open(os.path.join(src, name_in), "w") as f:
                f.write("x")
            met = False
            deadline = time.monotonic() + 30
            while not met and time.monotonic() < deadline:
                subprocess.run([tool, "cp", os.path.join(src, name_in), name + ":/race/s"],
                               env=env.env(), capture_output=True, timeout=60)
                assert sorted(os.listdir(v)) == ["secret"]
                met = get(env, name, "%s/%s" % (v, name_in))[0] == 200
            assert met, tool
    finally:
        shutil.rmtree(src, ignore_errors=True)
    env.ok("rm", "-f", name)


# ---- export and changes ----------------------------------------------------------------------


@pytest.mark.parametrize("state", ["exited", "running"])
def test_export_is_the_containers_filesystem(env, state):
    name = uniq()
    script = "echo x > /tmp/new && rm /bin/ls && ln -s /etc /tmp/etc"
    if state == "running":
        running(env, name, cmd=("sh", "-c", script + " && echo shm > /dev/shm/x && sleep 1000"))
        for _ in range(100):
            if env.docker("exec", name, "test", "-e", "/dev/shm/x").returncode == 0:
                break
            time.sleep(0.1)
    else:
        env.ok("run", "--name", name, "--network", "none", "busybox", "sh", "-c", script)
    status, headers, body = api(env, "GET", "/containers/%s/export" % name)
    assert status == 200 and headers["content-type"] == "application/x-tar"
    n = raw_names(body)
    # docker's export: no entry for the root, directories with a trailing '/'
    assert n[0] == "bin/" and "etc/" in n and "bin/busybox" in n
    assert "bin/ls" not in n and member_data(body, "tmp/new") == b"x\n"
    m = members(body)
    assert m["tmp/etc"].issym() and m["tmp/etc"].linkname == "/etc"
    # the overlay only: not the mounts of a running container
    assert not [x for x in n if x.startswith(("proc/", "sys/", "dev/shm/"))
                and x not in ("proc/", "sys/", "dev/shm/")]
    assert container_mounts(env, name) == ([] if state == "exited" else container_mounts(env,
                                                                                        name))
    env.ok("rm", "-f", name)
    status, _, body = api(env, "GET", "/containers/%s/export" % name)
    assert (status, json.loads(body)) == (404, {"message": "No such container: %s" % name})


# What dockerd 20.10 reports for this script (its naive diff; touching /bin/cat, a link,
# changes /bin/busybox), on a busybox image without /usr and /var.
CHANGES_SCRIPT = ("echo x > /tmp/new; rm /bin/ls; mkdir /etc/d; rm -rf /root; mkdir /root; "
                  "touch /root/n; echo y >> /etc/passwd; ln -s x /tmp/l; mkfifo /tmp/f; "
                  "mkdir -p /a/b/c; rm -rf /a/b; mkdir -p /n/m/o; touch /n/m/o/p; chmod 700 /etc; "
                  "touch /bin/cat; rm -rf /usr; mkdir -p /usr/x; rm -rf /var; touch /var")
DOCKERD_CHANGES = [("C", "/bin"), ("D", "/bin/ls"), ("C", "/bin/busybox"), ("C", "/etc"),
                   ("A", "/etc/d"), ("C", "/etc/passwd"), ("C", "/root"), ("A", "/root/n"),
                   ("C", "/tmp"), ("A", "/tmp/new"), ("A", "/tmp/l"), ("A", "/tmp/f"),
                   ("A", "/a"), ("A", "/n"), ("A", "/n/m"), ("A", "/n/m/o"), ("A", "/n/m/o/p"),
                   # berth's image has /usr/bin and /var: a directory emptied and made
                   # again, and one made a file
                   ("C", "/usr"), ("A", "/usr/x"), ("D", "/usr/bin"), ("C", "/var")]


def test_changes_as_dockerd(env):
    name = uniq()
    status, _, body = api(env, "GET", "/containers/%s/changes" % created(env, name))
    assert (status, body) == (200, b"null\n")  # dockerd: null when nothing changed
    env.ok("rm", name)
    env.ok("run", "--name", name, "--network", "none", "busybox", "sh", "-c", CHANGES_SCRIPT)
    status, _, body = api(env, "GET", "/containers/%s/changes" % name)
    got = [("CAD"[c["Kind"]], c["Path"]) for c in json.loads(body)]
    assert sorted(got) == sorted(DOCKERD_CHANGES)
    # a directory's C comes before what changed in it
    assert got.index(("C", "/tmp")) < got.index(("A", "/tmp/new"))
    # the mount points made at start (/etc/hosts, …) are not changes, as in dockerd
    assert not [p for k, p in got if p in ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")]
    env.ok("rm", name)
    status, _, body = api(env, "GET", "/containers/nosuchctr/changes")
    assert (status, json.loads(body)) == (404, {"message": "No such container: nosuchctr"})


# ---- berth cp, export and diff beside docker's CLI -------------------------------------------
#
# Every case runs with docker's CLI (28) and with berth, against a private dockerd 20.10 and
# against berthd (cli_util.py's daemon fixtures), from the same local workspace
# and a container made the same way: what each prints, its exit status, and what the copy
# left in the container and on the local disk must be the same.


@pytest.fixture(scope="module", params=["dockerd", "berthd"])
def daemon(request):
    from cli_util import _berthd, _dockerd
    yield from (_dockerd() if request.param == "dockerd" else _berthd())


CTR_SETUP = ("mkdir -p /src/d/sub /dst/exist_dir && echo a > /src/d/a && echo b > /src/d/sub/b "
             "&& echo s > /src/f && ln -s d /src/dl && ln -s f /src/fl && ln -s /src/d /src/adl "
             "&& echo e > /dst/exist_file && ln -s /dst/exist_dir /dst/dirlink "
             "&& ln -s exist_file /dst/filelink && touch -d @1600000000 /src/f /src/d/a "
             "/src/d/sub/b /dst/exist_file && touch -h -d @1600000000 /src/dl /src/fl /src/adl "
             "/dst/dirlink /dst/filelink && chown 1234:5678 /src/f /src/d/a")


def make_workspace(w):
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(os.path.join(w, "dir", "sub"))
    os.makedirs(os.path.join(w, "exist_dir"))
    for rel, text, mode in (("file", "f\n", 0o640), ("dir/a", "a\n", 0o644),
                            ("dir/sub/b", "b\n", 0o600), ("exist_file", "e\n", 0o644)):
        p = os.path.join(w, rel)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        os.utime(p, (1600000000, 1600000000))
    os.chown(os.path.join(w, "file"), 1234, 5678)
    os.symlink("dir", os.path.join(w, "dirlink"))
    os.symlink("file", os.path.join(w, "filelink"))
    os.symlink("nowhere", os.path.join(w, "dangling"))
    with tarfile.open(os.path.join(w, "in.tar"), "w") as t:
        ti = tarfile.TarInfo("from-stdin")
        ti.size = 3
        ti.mtime = 1600000000
        t.addfile(ti, io.BytesIO(b"in\n"))
    for n in ("dirlink", "filelink", "dangling", "in.tar"):
        os.utime(os.path.join(w, n), (1600000000, 1600000000), follow_symlinks=False)


def snapshot_local(w):
    out = []
    for base, dirs, files in os.walk(w):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(base, n)
            st = os.lstat(p)
            data = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
            out.append((os.path.relpath(p, w), oct(st.st_mode), st.st_uid, st.st_gid,
                        int(st.st_mtime) if not stat.S_ISDIR(st.st_mode) else None, data,
                        os.readlink(p) if stat.S_ISLNK(st.st_mode) else None))
    return out


def snapshot_ctr(d, ctr, path="/dst"):
    p = subprocess.run(["docker", "cp", ctr + ":" + path, "-"], env=d.env, capture_output=True)
    assert p.returncode == 0, p.stderr
    out = []
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as t:
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else None
            out.append((m.name, m.type, m.mode & 0o7777, m.uid, m.gid,
                        m.mtime if not m.isdir() else None, data, m.linkname))
    return out


def clean_stderr(text):
    # docker's CLI logs its own tar writer's broken pipe when it gave up first; noise
    return "".join(l for l in text.splitlines(True) if not l.startswith('time="'))


def as_berth_text(text):
    """docker's words about itself as berth says them (cp's usage has a second line)."""
    from cli_util import as_berth
    text = re.sub(r"(?m)^  docker (.*), docker ", r"  berth \1, berth ", as_berth(text))
    return text.replace("\tdocker cp ", "\tberth cp ")


CP_TO = [
    ["{W}/file", "{C}:/dst/"],
    ["{W}/file", "{C}:/dst/newname"],
    ["{W}/file", "{C}:/dst/exist_file"],
    ["{W}/dir", "{C}:/dst/"],
    ["{W}/dir", "{C}:/dst/newdir"],
    ["{W}/dir/.", "{C}:/dst/exist_dir"],
    ["{W}/dir/", "{C}:/dst/exist_dir/"],
    ["{W}/dir", "{C}:/dst/exist_file"],
    ["{W}/file", "{C}:/dst/nodir/"],
    ["{W}/file", "{C}:/nonexist/x"],
    ["{W}/dirlink", "{C}:/dst/"],
    ["-L", "{W}/dirlink", "{C}:/dst/"],
    ["{W}/dirlink/", "{C}:/dst/renamed"],
    ["-L", "{W}/filelink", "{C}:/dst/"],
    ["{W}/dangling", "{C}:/dst/"],
    ["{W}/file", "{C}:/dst/dirlink"],
    ["{W}/file", "{C}:/dst/filelink"],
    ["{W}/nonexist", "{C}:/dst"],
    ["{W}/file", "nosuchctr:/dst"],
    ["-", "{C}:/dst/exist_file"],
    ["-", "{C}:/dst"],
    ["-a", "{W}/file", "{C}:/dst/"],
    ["-q", "{W}/dir", "{C}:dst"],
]

CP_FROM = [
    ["{C}:/src/f", "{W}/"],
    ["{C}:/src/f", "{W}/newname"],
    ["{C}:/src/f", "{W}/exist_file"],
    ["{C}:/src/d", "{W}/"],
    ["{C}:/src/d", "{W}/newdir"],
    ["{C}:/src/d/.", "{W}/exist_dir"],
    ["{C}:/src/d/", "{W}/exist_dir/"],
    ["{C}:/src/d", "{W}/exist_file"],
    ["{C}:/src/f", "{W}/nodir/"],
    ["{C}:/src/dl", "{W}/"],
    ["-L", "{C}:/src/dl", "{W}/"],
    ["-L", "{C}:/src/fl", "{W}/renamed"],
    ["-L", "{C}:/src/adl/", "{W}/"],
    ["{C}:/src/f", "{W}/filelink"],
    ["{C}:/src/d", "{W}/dirlink"],
    ["{C}:/nonexist", "{W}/"],
    ["{C}:/src/f", "/nonexist/x"],
    ["{C}:/src/f", "{W}/file/"],
    ["{C}:/src/f", "/dev/null"],
    ["{C}:src/f", "{W}/relative"],
    ["nosuchctr:/src", "{W}/"],
]

CP_USAGE = [[], ["a"], ["", "x"], ["x", ""], ["c1:/a", "c2:/b"], ["a", "b"], [":/a", "b"],
            ["--bogus", "a", "b"], ["a", "b", "c"]]


def run_cases(d, tool, cases, w, ctr, input_file=None):
    results = []
    for i, args in enumerate(cases):
        wi = "%s/%d" % (w, i)
        make_workspace(wi)
        argv = [a.replace("{W}", wi).replace("{C}", ctr) for a in args]
        stdin = None
        if "-" in argv and argv.index("-") < len(argv) - 1:
            with open(os.path.join(wi, "in.tar"), "rb") as f:
                stdin = f.read()
        p = subprocess.run([tool if tool == "docker" else BERTH_BIN(), "cp", *argv],
                           env=d.env, input=stdin, capture_output=True, timeout=60)
        err = clean_stderr(p.stderr.decode()).replace(wi, "{W}")
        results.append((args, p.returncode, p.stdout, err, snapshot_local(wi)))
    return results


def BERTH_BIN():
    from cli_util import BERTH
    return BERTH


def fresh_container(d, name, *extra):
    subprocess.run(["docker", "rm", "-f", name], env=d.env, capture_output=True)
    p = subprocess.run(["docker", "run", "-d", "--name", name, "--network", "none", *extra,
                        "busybox", "sleep", "1000"], env=d.env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["docker", "exec", "-u", "0", name, "sh", "-c", CTR_SETUP], env=d.env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("direction", ["to", "from"])
def test_cp_as_dockers(daemon, direction, tmp_path):
    cases = CP_TO if direction == "to" else CP_FROM
    w = str(tmp_path / "ws")
    got = {}
    for tool in ("docker", "berth"):
        name = "cp" + uuid.uuid4().hex[:6]
        results = []
        for i, args in enumerate(cases):
            # a container per case: what one case copies in must not meet the next
            fresh_container(daemon, name, *(["-u", "nobody"] if "-a" in args else []))
            r = run_cases(daemon, tool, [args], w + "/" + str(i), name)[0]
            ctr_side = snapshot_ctr(daemon, name, "/dst") if direction == "to" else None
            out = r[2].replace(name.encode(), b"{C}") if direction == "from" else r[2]
            results.append((r[0], r[1], out, r[3].replace(name, "{C}"), r[4], ctr_side))
        subprocess.run(["docker", "rm", "-f", name], env=daemon.env, capture_output=True)
        got[tool] = results
    for dk, bt in zip(got["docker"], got["berth"]):
        assert bt == dk, "berth cp %s" % " ".join(dk[0])


def test_cp_usage_errors_as_dockers(daemon):
    for args in CP_USAGE:
        dk = subprocess.run(["docker", "cp", *args], env=daemon.env, capture_output=True,
                            text=True)
        bt = subprocess.run([BERTH_BIN(), "cp", *args], env=daemon.env, capture_output=True,
                            text=True)
        assert (bt.returncode, bt.stdout, bt.stderr) == \
            (dk.returncode, dk.stdout, as_berth_text(dk.stderr)), args
    for args in (["cp", "--help"], ["container", "cp", "--help"], ["export", "--help"],
                 ["diff", "--help"]):
        dk = subprocess.run(["docker", *args], env=daemon.env, capture_output=True, text=True)
        bt = subprocess.run([BERTH_BIN(), *args], env=daemon.env, capture_output=True,
                            text=True)
        # flag usages wrapped at 79 columns as pflag's FlagUsagesWrapped (no terminal here)
        assert (bt.returncode, bt.stdout) == (dk.returncode, as_berth_text(dk.stdout)), args


def pty_run(argv, env):
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, st = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(st), out.decode()


def test_cp_on_a_terminal_says_what_it_copied(daemon, tmp_path):
    """On a terminal (and only there) docker 28 prints the archive's size on stderr, also
    before the error of a copy that failed."""
    name = "cpt" + uuid.uuid4().hex[:6]
    fresh_container(daemon, name)
    w = str(tmp_path / "w")
    try:
        for args in (["{W}/file", "{C}:/dst/"], ["{W}/dir", "{C}:/dst/"],
                     ["{W}/file", "{C}:/nonexist/x"], ["{C}:/src/d", "{W}/out"],
                     ["{C}:/src/d", "{W}/exist_file"], ["-", "{C}:/dst"], ["-q", "{W}/file",
                                                                           "{C}:/dst/q"]):
            seen = []
            for tool in ("docker", BERTH_BIN()):
                make_workspace(w)
                argv = [a.replace("{W}", w).replace("{C}", name) for a in args]
                if "-" in argv:
                    argv = ["sh", "-c", "exec \"$0\" cp \"$@\" < %s/in.tar" % w, tool, *argv]
                else:
                    argv = [tool, "cp", *argv]
                seen.append(pty_run(argv, daemon.env))
            assert seen[1] == seen[0], args
            assert ("Successfully copied" in seen[0][1]) == ("-q" not in args), seen[0]
    finally:
        subprocess.run(["docker", "rm", "-f", name], env=daemon.env, capture_output=True)


def test_export_and_diff_as_dockers(daemon, tmp_path):
    name = "ex" + uuid.uuid4().hex[:6]
    p = subprocess.run(["docker", "run", "--name", name, "--network", "none", "busybox", "sh",
                        "-c", "echo x > /tmp/new; rm /bin/ls; mkdir /etc/d; rm -rf /root; "
                        "mkdir /root; touch /root/n; echo y >> /etc/passwd"],
                       env=daemon.env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = str(tmp_path)
    try:
        results = {}
        for tool in ("docker", BERTH_BIN()):
            r = []
            for args in (["export", "-o", out + "/x.tar", name], ["export", name],
                         ["container", "export", "--output=" + out + "/y.tar", name],
                         ["export", "-o", "/nonexist/x", name], ["export", "-o", out, name],
                         ["export", "-o", "/dev/null", name], ["export", "nosuchctr"],
                         ["export", ""], ["export"], ["export", name, "x"]):
                p = subprocess.run([tool, *args], env=daemon.env, capture_output=True)
                files = {}
                for f in ("x.tar", "y.tar"):
                    if os.path.exists(os.path.join(out, f)):
                        st = os.stat(os.path.join(out, f))
                        with open(os.path.join(out, f), "rb") as fh:
                            files[f] = (oct(st.st_mode), fh.read())
                        os.unlink(os.path.join(out, f))
                stderr = p.stderr.decode()
                r.append((args, p.returncode, p.stdout, stderr if tool != "docker"
                          else as_berth_text(stderr), files, sorted(os.listdir(out))))
            for args in (["diff", name], ["container", "diff", name], ["diff", "nosuchctr"],
                         ["diff", ""], ["diff"]):
                p = subprocess.run([tool, *args], env=daemon.env, capture_output=True,
                                   text=True)
                # the order of dockerd's naive diff is that of Go's maps: compare sorted
                r.append((args, p.returncode, sorted(p.stdout.splitlines()),
                          p.stderr if tool != "docker" else as_berth_text(p.stderr)))
            results[tool] = r
        for dk, bt in zip(results["docker"], results[BERTH_BIN()]):
            assert bt == dk, dk[0]
        assert results["docker"][0][4]["x.tar"][0] == "0o100600"  # CopyToFile's temp file
        assert ["A", "/tmp/new"] in [l.split(" ") for l in results["docker"][10][2]]
        # export to a terminal: refused
        seen = [pty_run([t, "export", name], daemon.env) for t in ("docker", BERTH_BIN())]
        assert seen[1] == seen[0] and seen[0][0] == 1
    finally:
        subprocess.run(["docker", "rm", "-f", name], env=daemon.env, capture_output=True)


# ---- bind mounts (HostConfig.Mounts), as --use-api-socket needs them -----------------------


def test_bind_mounts_and_cp_through_them(env, tmp_path):
    src = tmp_path / "bsrc"
    src.mkdir()
    (src / "f").write_text("from-host\n")
    name = running(env, uniq(), "--mount", "type=bind,src=%s,dst=/mnt" % src, "--mount",
                   "type=bind,src=%s,dst=/ro,readonly" % src)
    assert env.ok("exec", name, "cat", "/mnt/f") == "from-host\n"
    assert "Read-only" in env.docker("exec", name, "touch", "/ro/x").stderr
    # a running container's bind mounts are part of what cp sees, both ways
    assert member_data(get(env, name, "/mnt/f")[2], "f") == b"from-host\n"
    assert put(env, name, "/mnt", make_tar([("put", "f", "into-host\n")]))[0] == 200
    assert (src / "put").read_text() == "into-host\n"
    status, _, body = put(env, name, "/ro", make_tar([("no", "f", "x")]))
    assert status == 500 and b"read-only file system" in body
    env.ok("rm", "-f", name)
    # dockerd's refusals at create
    for flags, msg in (
            (["type=bind,src=/nonexist-berth,dst=/x"],
             'invalid mount config for type "bind": bind source path does not exist: '
             '/nonexist-berth'),
            (["type=bind,src=/tmp,dst=x"],
             'invalid mount config for type "bind": invalid mount path: \'x\' mount path must '
             'be absolute'),
            (["type=bind,src=tmp,dst=/x"],
             'invalid mount config for type "bind": invalid mount path: \'tmp\' mount path '
             'must be absolute'),
            (["type=bind,src=/tmp,dst=/x", "type=bind,src=/etc,dst=/x"],
             "Duplicate mount point: /x")):
        args = [a for f in flags for a in ("--mount", f)]
        p = env.docker("create", *args, "busybox")
        assert (p.returncode, p.stderr) == (1, "Error response from daemon: %s\n" % msg)
