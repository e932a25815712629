"""Volumes and mounts on berthd, driven by the real docker CLI (28) and the API.

What a user relies on: named volumes keep data across containers and daemon
restarts; a new volume is filled from the image (owners and modes kept), and
never from the host through a symlink planted in the image; anonymous volumes
go with `rm -v` and `--rm`, named ones stay; a volume a container names is not
removed or pruned; binds, tmpfs mounts, --volumes-from and the local driver's
options mount what they say; inspect, ps --filter volume= and events show them
as dockerd does.  dockerd's own answers (20.10) were taken from a private
dockerd for the messages asserted here.
"""
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.parse

import pytest

from container_util import (busybox_layer, image_archive, load_image, mounts_mentioning,
                            start_env, stop_env)

HOST_SECRET_DIR = "/tmp/berth-volume-test-host-secret"


def _layer(entries):
    """A layer tar of (name, type, extra) entries: ("d", dir, (uid, gid, mode)),
    ("f", file, (uid, gid, mode, data)), ("l", symlink, target)."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "d":
                ti.type = tarfile.DIRTYPE
                ti.uid, ti.gid, ti.mode = extra
                t.addfile(ti)
            elif kind == "f":
                ti.uid, ti.gid, ti.mode, data = extra[:4]
                if len(extra) > 4:
                    ti.pax_headers = extra[4]
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                ti.type = tarfile.SYMTYPE
                ti.linkname = extra
                t.addfile(ti)
    return bio.getvalue()


@pytest.fixture(scope="module")
def env():
    top = tempfile.mkdtemp(prefix="berth-test-volumes-", dir="/tmp")
    os.chmod(top, 0o755)
    e = start_env(top)
    extra = _layer([
        ("data", "d", (1000, 1000, 0o750)),
        ("data/hello", "f", (1000, 1000, 0o640, b"from the image\n")),
        ("data/sub", "d", (0, 0, 0o755)),
        ("data/sub/deep", "f", (0, 0, 0o600, b"deep\n")),
        ("data/link", "l", "hello"),
        ("data/attr", "f", (0, 0, 0o644, b"x", {"SCHILY.xattr.user.berth": "kept"})),
        ("evil", "l", HOST_SECRET_DIR),
    ])
    archive = os.path.join(top, "vimg.tar")
    image_archive(archive, ["vimg:latest"], [busybox_layer(top), extra],
                  config={"Volumes": {"/data": {}}})
    load_image(e.d, archive)
    # the planted symlink as the image's own VOLUME, and one aimed out with dots
    # (a layer of its own: it shares only busybox's with the other images)
    archive = os.path.join(top, "vimg-evil.tar")
    image_archive(archive, ["vimg-evil:latest"],
                  [busybox_layer(top), _layer([("evil", "l", HOST_SECRET_DIR)])],
                  config={"Volumes": {"/evil": {}, "/../../../../tmp/dots": {}}})
    load_image(e.d, archive)
    try:
        yield e
    finally:
        try:
            stop_env(e)
        finally:
            shutil.rmtree(top, ignore_errors=True)


def api(e, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    status, _, out = e.d.request(method, path, body=data, headers=headers)
    return status, (json.loads(out) if out and out.strip().startswith((b"{", b"[")) else out)


def run(e, *args, **kw):
    return e.docker("run", *args, **kw)


def vol_names(e):
    return set(e.ok("volume", "ls", "-q").split())


# ---- the API ----

def test_create_inspect_list_remove_as_dockerd(env):
    st, v = api(env, "POST", "/v1.41/volumes/create",
                {"Name": "apivol", "Driver": "local", "DriverOpts": {}, "Labels": {"a": "b"}})
    assert st == 201, v
    assert sorted(v) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert v["Name"] == "apivol" and v["Driver"] == "local" and v["Scope"] == "local"
    assert v["Labels"] == {"a": "b"} and v["Options"] == {}
    assert v["Mountpoint"].endswith("/volumes/apivol/_data") and os.path.isdir(v["Mountpoint"])
    # a create of an existing name answers the volume as it is
    st, again = api(env, "POST", "/v1.41/volumes/create", {"Name": "apivol"})
    assert st == 201 and again == v
    # no labels or options given: null, as dockerd stores them
    st, bare = api(env, "POST", "/v1.41/volumes/create", {"Name": "barevol"})
    assert st == 201 and bare["Labels"] is None and bare["Options"] is None
    st, got = api(env, "GET", "/v1.41/volumes/apivol")
    assert st == 200 and got == v
    st, lst = api(env, "GET", "/v1.41/volumes")
    assert st == 200 and lst["Warnings"] is None
    assert {"apivol", "barevol"} <= {x["Name"] for x in lst["Volumes"]}
    f = urllib.parse.quote(json.dumps({"label": {"a=b": True}}))
    st, lst = api(env, "GET", "/v1.41/volumes?filters=" + f)
    assert [x["Name"] for x in lst["Volumes"]] == ["apivol"]
    f = urllib.parse.quote(json.dumps({"name": {"bare": True}}))
    st, lst = api(env, "GET", "/v1.41/volumes?filters=" + f)
    assert [x["Name"] for x in lst["Volumes"]] == ["barevol"]
    assert api(env, "DELETE", "/v1.41/volumes/apivol")[0] == 204
    assert api(env, "DELETE", "/v1.41/volumes/barevol")[0] == 204
    assert not os.path.exists(v["Mountpoint"])


def test_create_errors_in_dockerds_words(env):
    cases = [
        ({"Name": "a"}, 400, "create a: volume name is too short, names should be at least two "
                             "alphanumeric characters"),
        ({"Name": "a/b"}, 400, 'create a/b: "a/b" includes invalid characters for a local volume '
                               'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you '
                               'intended to pass a host directory, use absolute path'),
        ({"Name": "xx", "Driver": "foo"}, 404, 'create xx: error looking up volume plugin foo: '
                                               'plugin "foo" not found'),
        ({"Name": "xy", "DriverOpts": {"foo": "bar"}}, 400, 'create xy: invalid option: "foo"'),
    ]
    for body, status, msg in cases:
        st, out = api(env, "POST", "/v1.41/volumes/create", body)
        assert (st, out["message"]) == (status, msg)
    st, out = api(env, "GET", "/v1.41/volumes/nosuch")
    assert (st, out["message"]) == (404, "get nosuch: no such volume")
    st, out = api(env, "DELETE", "/v1.41/volumes/nosuch")
    assert (st, out["message"]) == (404, "get nosuch: no such volume")
    assert api(env, "DELETE", "/v1.41/volumes/nosuch?force=1")[0] == 204
    assert not {"a", "xx", "xy"} & vol_names(env)


# ---- named and anonymous volumes in containers ----

def test_named_volume_keeps_data_across_containers_and_restart(env):
    run(env, "--rm", "-v", "keep:/v", "busybox", "sh", "-c", "echo kept > /v/f")
    assert "keep" in vol_names(env)  # --rm leaves named volumes
    env.d.stop()
    env.d.start()
    out = run(env, "--rm", "-v", "keep:/v:ro", "busybox", "cat", "/v/f")
    assert out.returncode == 0 and out.stdout == "kept\n", out
    ro = run(env, "--rm", "-v", "keep:/v:ro", "busybox", "sh", "-c", "echo x > /v/g")
    assert ro.returncode != 0 and "Read-only file system" in ro.stderr
    env.ok("volume", "rm", "keep")


def test_new_volume_is_filled_from_the_image_with_owners_and_modes(env):
    out = env.ok("run", "--rm", "-v", "filled:/data", "vimg",
                 "sh", "-c", "stat -c '%n %u %g %a' /data /data/hello /data/sub/deep;"
                 " readlink /data/link; cat /data/hello")
    assert out.splitlines() == ["/data 1000 1000 750", "/data/hello 1000 1000 640",
                                "/data/sub/deep 0 0 600", "hello", "from the image"]
    mp = json.loads(env.ok("volume", "inspect", "filled"))[0]["Mountpoint"]
    assert os.getxattr(os.path.join(mp, "attr"), "user.berth") == b"kept"  # xattrs too
    # filled once: a volume that has content is not filled again
    env.ok("run", "--rm", "-v", "filled:/data", "vimg", "sh", "-c",
           "rm /data/hello; echo mine > /data/own")
    out = env.ok("run", "--rm", "-v", "filled:/data", "vimg", "ls", "/data")
    assert sorted(out.split()) == ["attr", "link", "own", "sub"]
    # volume-nocopy: nothing copied
    out = env.ok("run", "--rm", "--mount", "type=volume,src=empty,dst=/data,volume-nocopy",
                 "vimg", "ls", "-A", "/data")
    assert out == ""
    env.ok("volume", "rm", "filled", "empty")


def test_fill_never_reads_the_host_through_a_planted_symlink(env):
    os.makedirs(HOST_SECRET_DIR, exist_ok=True)
    with open(os.path.join(HOST_SECRET_DIR, "secret"), "w") as f:
        f.write("host only\n")
    try:
        # /evil in the image is a symlink to the host path; in the container it resolves
        # inside the container's root, where nothing is
        out = env.ok("run", "--rm", "-v", "planted:/evil", "vimg", "ls", "-A", "/evil")
        assert out == ""
        mp = json.loads(env.ok("volume", "inspect", "planted"))[0]["Mountpoint"]
        assert os.listdir(mp) == []
        env.ok("volume", "rm", "planted")
    finally:
        shutil.rmtree(HOST_SECRET_DIR, ignore_errors=True)


def test_an_image_volume_through_a_planted_symlink_or_dots_stays_inside(env):
    """The image's own VOLUME at /evil (a symlink to a host path) and at /../../../../tmp/dots:
    the anonymous volumes are filled from and mounted inside the container's root; the
    host's directories are neither read nor written."""
    os.makedirs(HOST_SECRET_DIR, exist_ok=True)
    with open(os.path.join(HOST_SECRET_DIR, "secret"), "w") as f:
        f.write("host only\n")
    before = vol_names(env)
    try:
        p = env.docker("run", "--rm", "vimg-evil", "sh", "-c",
                       "ls -A /evil; touch /evil/written /tmp/dots/written; echo ok")
        # (dockerd cleans the path: /tmp/dots, inside)
        assert (p.returncode, p.stdout) == (0, "ok\n"), (p.stdout, p.stderr)
        assert sorted(os.listdir(HOST_SECRET_DIR)) == ["secret"]
        assert not os.path.exists("/tmp/dots")
    finally:
        shutil.rmtree(HOST_SECRET_DIR, ignore_errors=True)
        for n in vol_names(env) - before:
            env.docker("volume", "rm", n)


def test_anonymous_volumes_go_with_rm_v_and_rm(env):
    before = vol_names(env)
    cid = env.ok("create", "-v", "/anon", "vimg", "true").strip()
    mounts = env.inspect(cid)["Mounts"]
    by_dst = {m["Destination"]: m for m in mounts}
    assert set(by_dst) == {"/anon", "/data"}  # -v /anon, and the image's VOLUME /data
    for m in mounts:
        assert m["Type"] == "volume" and m["Driver"] == "local" and m["RW"] is True
        assert m["Mode"] == "" and m["Propagation"] == "" and len(m["Name"]) == 64
        assert m["Source"].endswith("/volumes/%s/_data" % m["Name"])
        v = json.loads(env.ok("volume", "inspect", m["Name"]))[0]
        assert v["Labels"] == {"com.docker.volume.anonymous": ""}
    new = vol_names(env) - before
    assert new == {m["Name"] for m in mounts}
    env.ok("rm", "-v", cid)
    assert vol_names(env) == before
    # plain rm keeps them
    cid = env.ok("create", "-v", "/anon", "vimg", "true").strip()
    names = {m["Name"] for m in env.inspect(cid)["Mounts"]}
    env.ok("rm", cid)
    assert names <= vol_names(env)
    env.ok("volume", "rm", *names)
    # --rm: the anonymous ones go, the named one stays
    env.ok("run", "--rm", "-v", "/anon", "-v", "stays:/s", "vimg", "true")
    assert vol_names(env) == before | {"stays"}
    env.ok("volume", "rm", "stays")


def test_volume_in_use_is_not_removed_or_pruned(env):
    cid = env.ok("create", "-v", "used:/u", "busybox", "true").strip()
    env.ok("volume", "create", "unused")
    r = env.docker("volume", "rm", "used")
    assert r.returncode == 1
    assert r.stderr.strip() == ("Error response from daemon: remove used: volume is in use - [%s]"
                                % cid)
    st, out = api(env, "POST", "/v1.41/volumes/prune")
    assert st == 200 and "unused" in out["VolumesDeleted"] and "used" not in out["VolumesDeleted"]
    assert "used" in vol_names(env) and "unused" not in vol_names(env)
    assert env.ok("ps", "-a", "-q", "--no-trunc", "--filter", "volume=used").split() == [cid]
    assert env.ok("ps", "-a", "-q", "--no-trunc", "--filter", "volume=/u").split() == [cid]
    assert env.ok("ps", "-a", "-q", "--filter", "volume=other") == ""
    env.ok("rm", cid)
    env.ok("volume", "rm", "used")


def test_prune_counts_bytes_and_honours_labels(env):
    env.ok("volume", "create", "--label", "keep=yes", "labelled")
    env.ok("run", "--rm", "-v", "big:/b", "busybox", "sh", "-c",
           "dd if=/dev/zero of=/b/f bs=1024 count=64 2>/dev/null")
    f = urllib.parse.quote(json.dumps({"label!": {"keep=yes": True}}))
    st, out = api(env, "POST", "/v1.41/volumes/prune?filters=" + f)
    assert st == 200 and "big" in out["VolumesDeleted"]
    assert "labelled" not in out["VolumesDeleted"] and out["SpaceReclaimed"] >= 65536
    assert "labelled" in vol_names(env)
    env.ok("volume", "rm", "labelled")


# ---- binds, tmpfs, volumes-from, driver options ----

def test_bind_mounts_from_binds(env, tmp_path):
    host = tmp_path / "made" / "here"  # missing: -v makes it, as dockerd does
    cid = env.ok("create", "-v", "%s:/hb:ro" % host, "busybox", "sh", "-c",
                 "grep ' /hb ' /proc/mounts; touch /hb/x").strip()
    m = env.inspect(cid)["Mounts"]
    assert m == [{"Type": "bind", "Source": str(host), "Destination": "/hb", "Mode": "ro",
                  "RW": False, "Propagation": "rprivate"}]
    env.docker("start", "-a", cid)
    assert host.is_dir() and not (host / "x").exists()
    out = env.docker("logs", cid)
    assert " ro," in out.stdout and "Read-only file system" in out.stderr
    env.ok("rm", cid)
    (host / "f").write_text("from host\n")
    assert env.ok("run", "--rm", "-v", "%s:/hb" % host, "busybox", "cat", "/hb/f") == "from host\n"


def test_binds_errors_in_dockerds_words(env):
    r = env.docker("run", "--rm", "-v", "v1:/x:bogus", "busybox", "true")
    assert r.returncode == 125 and "invalid mode: bogus" in r.stderr
    r = env.docker("run", "--rm", "-v", "/tmp:/y", "-v", "other:/y", "busybox", "true")
    assert r.returncode == 125 and "Duplicate mount point: /y" in r.stderr
    assert "other" not in vol_names(env) and "v1" not in vol_names(env)


def test_tmpfs_mounts(env):
    out = env.ok("run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
                 "--tmpfs", "/t2:size=2m", "busybox", "sh", "-c",
                 "grep -E ' /t2? ' /proc/mounts; stat -c '%n %a' /t")
    lines = out.splitlines()
    t = [l for l in lines if l.startswith("tmpfs /t ")][0]
    assert "size=1024k" in t and "mode=1770" in t and "nosuid" in t and "noexec" in t
    assert any(l.startswith("tmpfs /t2 ") and "size=2048k" in l for l in lines)
    assert "/t 1770" in lines
    cid = env.ok("create", "--mount", "type=tmpfs,dst=/t", "busybox", "true").strip()
    assert env.inspect(cid)["Mounts"] == [{"Type": "tmpfs", "Source": "", "Destination": "/t",
                                           "Mode": "", "RW": True, "Propagation": ""}]
    env.ok("rm", cid)


def test_volumes_from(env):
    src = env.ok("create", "--name", "vfsrc", "-v", "shared:/s", "-v", "/anon2", "busybox",
                 "true").strip()
    env.ok("run", "--rm", "-v", "shared:/s", "busybox", "sh", "-c", "echo hi > /s/f")
    out = env.ok("run", "--rm", "--volumes-from", "vfsrc:ro", "busybox", "sh", "-c",
                 "cat /s/f; ls -d /anon2; touch /s/g 2>&1 || true")
    assert out.startswith("hi\n/anon2\n") and "Read-only file system" in out
    env.ok("rm", "-v", src)
    assert "shared" in vol_names(env)
    env.ok("volume", "rm", "shared")


def test_local_driver_options_mount_while_used(env):
    env.ok("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt",
           "o=size=1m,mode=0700", "tv")
    mp = json.loads(env.ok("volume", "inspect", "tv"))[0]["Mountpoint"]
    out = env.ok("run", "--rm", "-v", "tv:/tv", "busybox", "sh", "-c",
                 "grep ' /tv ' /proc/mounts")
    assert out.startswith("tmpfs /tv tmpfs") and "size=1024k" in out
    assert not mounts_mentioning(mp)  # unmounted when no running container uses it
    cid = env.ok("run", "-d", "-v", "tv:/tv", "busybox", "sleep", "60").strip()
    assert mounts_mentioning(mp)
    env.ok("rm", "-f", cid)
    assert not mounts_mentioning(mp)
    env.ok("volume", "rm", "tv")


def test_volume_events(env):
    since = str(int(time.time()) - 1)
    cid = env.ok("run", "-d", "-v", "evvol:/e", "busybox", "true").strip()
    env.ok("wait", cid)
    env.ok("rm", cid)
    env.ok("volume", "rm", "evvol")
    out = env.ok("events", "--since", since, "--until", str(int(time.time()) + 1),
                 "--filter", "type=volume", "--format", "{{json .}}")
    evs = [json.loads(l) for l in out.splitlines()]
    acts = [(ev["Action"], ev["Actor"]["ID"]) for ev in evs if ev["Actor"]["ID"] == "evvol"]
    assert acts == [("create", "evvol"), ("mount", "evvol"), ("unmount", "evvol"),
                    ("destroy", "evvol")]
    mount = [ev for ev in evs if ev["Action"] == "mount" and ev["Actor"]["ID"] == "evvol"]
    mount = mount[0]["Actor"]["Attributes"]
    assert mount == {"container": cid, "destination": "/e", "driver": "local",
                     "propagation": "", "read/write": "true"}


def test_docker_py_volumes(env):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=env.host, version="1.41")
    v = client.volumes.create("pyvol", labels={"k": "v"})
    assert v.attrs["Labels"] == {"k": "v"}
    assert [x.name for x in client.volumes.list(filters={"label": "k=v"})] == ["pyvol"]
    out = client.containers.run("busybox", "sh -c 'echo py > /p/f; cat /p/f'",
                                volumes={"pyvol": {"bind": "/p", "mode": "rw"}}, remove=True)
    assert out == b"py\n"
    v.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("pyvol")


def test_local_driver_bind_option(env, tmp_path):
    (tmp_path / "f").write_text("through the driver\n")
    env.ok("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt",
           "device=%s" % tmp_path, "bv")
    assert env.ok("run", "--rm", "-v", "bv:/b", "busybox", "cat", "/b/f") == "through the driver\n"
    env.ok("run", "--rm", "-v", "bv:/b", "busybox", "sh", "-c", "echo back > /b/g")
    assert (tmp_path / "g").read_text() == "back\n"
    env.ok("volume", "rm", "bv")
    assert (tmp_path / "f").exists()  # removing the volume never touches the device


def test_system_df_counts_volumes(env):
    env.ok("volume", "create", "dfvol")
    cid = env.ok("create", "-v", "dfvol:/d", "busybox", "true").strip()
    env.ok("run", "--rm", "-v", "dfvol:/d", "busybox", "sh", "-c",
           "dd if=/dev/zero of=/d/f bs=1024 count=32 2>/dev/null")
    st, df = api(env, "GET", "/v1.41/system/df")
    assert st == 200 and df["LayersSize"] > 0 and df["BuildCache"] == []
    v = [x for x in df["Volumes"] if x["Name"] == "dfvol"][0]
    assert v["UsageData"] == {"RefCount": 1, "Size": 32768}
    assert cid in [c["Id"] for c in df["Containers"]]
    bb = [i for i in df["Images"] if "busybox:latest" in i["RepoTags"]][0]
    assert bb["Containers"] == 1
    # vimg stacks busybox's layer: that much of each is shared
    vimg = [i for i in df["Images"] if "vimg:latest" in i["RepoTags"]][0]
    assert 0 < bb["SharedSize"] == vimg["SharedSize"] < vimg["Size"]
    out = env.ok("system", "df", "-v", "--format", "{{json .Volumes}}")
    vols = {x["Name"]: x for x in json.loads(out)}
    assert vols["dfvol"]["Links"] == "1" and vols["dfvol"]["Size"] == "32.77kB"
    env.ok("rm", cid)
    env.ok("volume", "rm", "dfvol")


def test_volume_subpath_is_refused_not_ignored(env):
    st, out = api(env, "POST", "/v1.41/containers/create",
                  {"Image": "busybox", "HostConfig": {"Mounts": [
                      {"Type": "volume", "Source": "sp", "Target": "/s",
                       "VolumeOptions": {"Subpath": "sub"}}]}})
    assert st == 400 and "subpath" in out["message"]
    assert "sp" not in vol_names(env)


def test_tmpfs_below_a_volume_is_mounted_after_it(env):
    out = env.ok("run", "--rm", "-v", "ordvol:/data", "--tmpfs", "/data/tmp", "busybox", "sh",
                 "-c", "grep -E ' /data(/tmp)? ' /proc/mounts | cut -d' ' -f2,3")
    assert out.splitlines()[-1] == "/data/tmp tmpfs"  # last: not hidden by the volume
    env.ok("volume", "rm", "ordvol")


def test_cp_into_and_out_of_a_stopped_container_goes_through_its_volumes(env, tmp_path):
    host = tmp_path / "hb"
    host.mkdir()
    (host / "from-host").write_text("bind content\n")
    cid = env.ok("create", "-v", "cpvol:/data", "-v", "cpro:/ro:ro", "-v", "%s:/hb" % host,
                 "busybox", "true").strip()
    env.ok("start", "-a", cid)  # the mount points exist in its root from here on
    src = tmp_path / "f"
    src.write_text("into the volume\n")
    env.ok("cp", str(src), cid + ":/data/f")
    # in the volume (another container sees it), not in the container's own layer
    assert env.ok("run", "--rm", "-v", "cpvol:/v", "busybox", "cat", "/v/f") == "into the volume\n"
    assert "/data/f" not in env.ok("diff", cid)
    out = subprocess.run([env_docker(), "cp", cid + ":/hb/from-host", "-"], env=env.env(),
                         capture_output=True)
    assert out.returncode == 0 and b"bind content\n" in out.stdout
    r = env.docker("cp", str(src), cid + ":/ro/f")
    assert r.returncode != 0 and "read-only file system" in r.stderr.lower()
    assert not mounts_mentioning(cid)  # nothing left mounted in berthd's namespace
    env.ok("start", "-a", cid)  # and the container starts again: its overlay is free
    env.ok("rm", "-v", cid)
    env.ok("volume", "rm", "cpvol", "cpro")


def env_docker():
    from container_util import DOCKER
    return DOCKER
