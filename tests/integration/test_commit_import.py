"""docker commit and docker import: berth's CLI against a private dockerd 20.10
(the reference) and against berthd, with the same expectations for both.

A committed image must carry exactly the container's changes (added, changed
and deleted files, a directory removed and made again), the -c/-m/-a settings
as dockerd writes them, and a layer tar that dockerd itself loads (OCI .wh.
whiteouts).  Imports come from a file, stdin and a loopback URL.  A hostile
import tar must not write outside its layer.
"""
import http.server
import io
import json
import os
import shutil
import tarfile
import tempfile
import threading

import pytest

from cli_util import _dockerd, daemon, loopback_registry, name  # noqa: F401  (fixtures)

SCRIPT = ("mkdir -p /w/keep /w/gone /w/opq && echo k > /w/keep/k && echo g > /w/gone/g && "
          "echo o > /w/opq/o && echo old > /w/changed")


def ok(d, *args, input=None):
    p = d.run("berth", *args, input=input, timeout=120)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p.stdout


def base_image(d, tag):
    """An image with /w, made by a commit on the daemon's busybox."""
    ok(d, "run", "--name", tag + "-base", "busybox", "sh", "-c", SCRIPT)
    ok(d, "commit", tag + "-base", tag + ":base")
    return tag + ":base"


def test_commit_carries_exactly_the_changes(daemon, name):
    d = daemon
    base = base_image(d, name)
    ok(d, "run", "--name", name, base, "sh", "-c",
       "echo new > /w/new && echo changed > /w/changed && rm -r /w/gone && "
       "rm -r /w/opq && mkdir /w/opq && echo fresh > /w/opq/f")
    cid = ok(d, "inspect", "-f", "{{.Id}}", name).strip()
    img = ok(d, "commit", "-m", "my msg", "-a", "me <me@x>", "-c", "ENV FOO=bar",
             "-c", 'CMD ["cat", "/w/new"]', name, name + ":c1").strip()
    assert img.startswith("sha256:") and len(img) == 71
    # the default command and the environment come from -c
    assert ok(d, "run", "--rm", name + ":c1") == "new\n"
    listing = ok(d, "run", "--rm", name + ":c1", "sh", "-c",
                 "cd /w && find . | sort && cat changed opq/f && echo $FOO")
    assert listing == (".\n./changed\n./keep\n./keep/k\n./new\n./opq\n./opq/f\n"
                       "changed\nfresh\nbar\n")
    info = json.loads(ok(d, "image", "inspect", name + ":c1"))[0]
    assert info["Comment"] == "my msg"
    assert info["Author"] == "me <me@x>"
    assert info["Container"] == cid
    assert info["Parent"] == json.loads(ok(d, "image", "inspect", base))[0]["Id"]
    assert info["Config"]["Cmd"] == ["cat", "/w/new"]
    assert "FOO=bar" in info["Config"]["Env"]
    assert info["Config"]["Image"] == base
    assert info["ContainerConfig"]["Cmd"][:2] == ["sh", "-c"]
    assert len(info["RootFS"]["Layers"]) == 3
    hist = ok(d, "history", "--no-trunc", "--format",
              "{{.CreatedBy}}|{{.Comment}}", name + ":c1").splitlines()
    assert hist[0].startswith("sh -c echo new > /w/new") and hist[0].endswith("|my msg")
    assert hist[1].startswith("sh -c " + SCRIPT[:20])


def test_commit_of_an_unchanged_container_adds_no_layer(daemon, name):
    d = daemon
    ok(d, "create", "--name", name, "busybox", "true")
    ok(d, "commit", "-m", "nothing", name, name + ":same")
    layers = json.loads(ok(d, "image", "inspect", "-f", "{{json .RootFS.Layers}}", "busybox"))
    info = json.loads(ok(d, "image", "inspect", name + ":same"))[0]
    assert info["RootFS"]["Layers"] == layers
    assert ok(d, "history", "--format", "{{.Comment}}|{{.Size}}", name + ":same").splitlines()[0] \
        == "nothing|0B"


CONFIG_CHANGES = [
    "ENV A=1 B=\"two words\" C=$A", "ENV D $A and more", "WORKDIR rel", "WORKDIR sub/../x",
    "EXPOSE 80 90/udp 7000-7001", "LABEL a=b \"c d\"=e", "ONBUILD RUN echo $A", "USER $A:x",
    "VOLUME /v1 /v2", "VOLUME [\"/v3\"]", "HEALTHCHECK --interval=5s CMD true",
    "ENTRYPOINT e f",
]


def test_commit_change_instructions(daemon, name):
    d = daemon
    ok(d, "create", "--name", name, "-e", "Z=9", "busybox", "true")
    args = []
    for c in CONFIG_CHANGES:
        args += ["-c", c]
    ok(d, "commit", *args, name, name + ":cfg")
    cfg = json.loads(ok(d, "image", "inspect", "-f", "{{json .Config}}", name + ":cfg"))
    assert cfg["Env"][-4:] == ["A=1", "B=two words", "C=", "D=1 and more"]
    assert "Z=9" in cfg["Env"]
    assert cfg["WorkingDir"] == "/rel/x"
    assert sorted(cfg["ExposedPorts"]) == ["7000/tcp", "7001/tcp", "80/tcp", "90/udp"]
    assert cfg["Labels"] == {"a": "b", "c d": "e"}
    assert cfg["OnBuild"] == ["RUN echo $A"]
    assert cfg["User"] == "1:x"
    assert sorted(cfg["Volumes"]) == ["/v1", "/v2", "/v3"]
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5000000000}
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "e f"]
    assert cfg["Cmd"] is None  # ENTRYPOINT without CMD clears it, as a build does


@pytest.mark.parametrize("change,message", [
    ("RUN echo hi", "run is not a valid change command"),
    ("STOPSIGNAL SIGKILL", "stopsignal is not a valid change command"),
    ("FROM x", "from is not a valid change command"),
    ("ENV", "ENV requires at least one argument"),
    ("ENV A", "ENV must have two arguments"),
    ("EXPOSE abc", "Invalid containerPort: abc"),
    ("LABEL a", "LABEL must have two arguments"),
    ("USER", "USER requires exactly one argument"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
])
def test_commit_change_errors(daemon, name, change, message):
    d = daemon
    ok(d, "create", "--name", name, "busybox", "true")
    p = d.run("berth", "commit", "-c", change, name)
    assert (p.returncode, p.stdout, p.stderr) == \
        (1, "", "Error response from daemon: %s\n" % message)
    p = d.run("berth", "commit", name + "-none")
    assert p.returncode == 1
    assert p.stderr == "Error response from daemon: No such container: %s-none\n" % name


def test_commit_pauses_a_running_container(daemon, name):
    d = daemon
    ok(d, "run", "-d", "--name", name, "busybox", "sh", "-c",
       "echo up > /up; exec sleep 1000")
    for _ in range(100):
        if d.run("berth", "exec", name, "cat", "/up").stdout == "up\n":
            break
    ok(d, "commit", name, name + ":live")
    assert ok(d, "inspect", "-f", "{{.State.Status}}", name) == "running\n"
    ok(d, "commit", "--pause=false", name, name + ":live2")
    assert ok(d, "run", "--rm", name + ":live2", "cat", "/up") == "up\n"
    ok(d, "rm", "-f", name)


# ---- the layer as an archive ----

def layer_members(saved, diff_index):
    with tarfile.open(fileobj=io.BytesIO(saved)) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        layer = manifest[0]["Layers"][diff_index]
        inner = t.extractfile(layer).read()
    with tarfile.open(fileobj=io.BytesIO(inner)) as lt:
        return {m.name: m for m in lt.getmembers()}


def test_saved_commit_has_oci_whiteouts_and_loads_into_dockerd(daemon, name):
    d = daemon
    base = base_image(d, name)
    ok(d, "run", "--name", name, base, "sh", "-c",
       "rm -r /w/gone /w/changed && rm -r /w/opq && mkdir /w/opq && echo f > /w/opq/f")
    ok(d, "commit", name, name + ":wh")
    saved = subprocess_bytes(d, "save", name + ":wh")
    m = layer_members(saved, -1)
    assert m["w/.wh.gone"].isfile() and m["w/.wh.gone"].size == 0
    assert m["w/.wh.gone"].mode == 0o600
    assert m["w/.wh.changed"].isfile()
    assert m["w/opq/.wh..wh..opq"].isfile() and m["w/opq/.wh..wh..opq"].mtime == 0
    assert m["w/opq/f"].isfile()
    assert "w/keep/k" not in m and "w/gone" not in m
    assert not any(n.startswith(("etc/host", "proc", "sys", "dev")) for n in m), sorted(m)
    # the archive loads into dockerd and the image there shows the same files
    gen = _dockerd()
    dk = next(gen)
    try:
        import subprocess
        p = subprocess.run(["docker", "load"], input=saved, env=dk.env, capture_output=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        out = dk.run("docker", "run", "--rm", name + ":wh", "find", "/w")
        assert out.returncode == 0, out.stderr
        assert sorted(out.stdout.split()) == ["/w", "/w/keep", "/w/keep/k", "/w/opq", "/w/opq/f"]
    finally:
        gen.close()


def subprocess_bytes(d, *args):
    import subprocess
    from cli_util import BERTH
    p = subprocess.run([BERTH, *args], env=d.env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


# ---- import ----

def rootfs_tar(path, extra=()):
    with tarfile.open(path, "w") as t:
        def add(name, data, mode=0o644):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            t.addfile(info, io.BytesIO(data))
        with open("/bin/busybox", "rb") as f:
            add("bin/busybox", f.read(), 0o755)
        for applet in ("sh", "cat", "ls"):
            info = tarfile.TarInfo("bin/" + applet)
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            t.addfile(info)
        add("hello", b"hello from the tar\n")
        for name, data in extra:
            add(name, data)


@pytest.fixture
def tmp():
    top = tempfile.mkdtemp(prefix="berth-test-import-", dir="/tmp")
    os.chmod(top, 0o755)
    yield top
    shutil.rmtree(top, ignore_errors=True)


def test_import_from_a_file_and_stdin(daemon, name, tmp):
    d = daemon
    tar = os.path.join(tmp, "root.tar")
    rootfs_tar(tar)
    out = ok(d, "import", "-c", "ENV PATH=/bin", "-c", 'CMD ["cat", "/hello"]', tar,
             name + ":file")
    assert out.startswith("sha256:") and len(out.strip()) == 71
    assert ok(d, "run", "--rm", name + ":file") == "hello from the tar\n"
    info = json.loads(ok(d, "image", "inspect", name + ":file"))[0]
    assert info["Comment"] == "Imported from -"
    assert info["Config"]["Env"] == ["PATH=/bin"]
    assert info["Config"]["Hostname"] == "" and info["Config"]["Image"] == ""
    assert len(info["RootFS"]["Layers"]) == 1
    assert ok(d, "history", "--format", "{{.CreatedBy}}|{{.Comment}}", name + ":file") \
        == "|Imported from -\n"
    # stdin, gzip-compressed, with a message
    import gzip
    import subprocess
    from cli_util import BERTH
    with open(tar, "rb") as f:
        gz = gzip.compress(f.read())
    p = subprocess.run([BERTH, "import", "-m", "from stdin", "-c", "CMD cat /hello", "-",
                        name + ":stdin"], input=gz, env=d.env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert ok(d, "run", "--rm", name + ":stdin") == "hello from the tar\n"
    assert ok(d, "image", "inspect", "-f", "{{.Comment}} {{json .Config.Cmd}}",
              name + ":stdin") == 'from stdin ["/bin/sh","-c","cat /hello"]\n'
    p = d.run("berth", "import", "-c", "RUN x", tar)
    assert (p.returncode, p.stderr) == (1, "Error response from daemon: run is not a valid "
                                           "change command\n")
    p = d.run("berth", "import", os.path.join(tmp, "missing.tar"))
    assert (p.returncode, p.stderr) == \
        (1, "open %s: no such file or directory\n" % os.path.join(tmp, "missing.tar"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def test_import_from_a_loopback_url(daemon, name, tmp):
    d = daemon
    rootfs_tar(os.path.join(tmp, "root.tar"))
    handler = lambda *a, **kw: _Quiet(*a, directory=tmp, **kw)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = "http://127.0.0.1:%d/root.tar" % srv.server_address[1]
        out = ok(d, "import", "-c", "CMD [\"cat\", \"/hello\"]", url, name + ":url")
        assert out.splitlines()[0] == "Downloading from " + url
        assert out.splitlines()[-1].startswith("sha256:")
        assert ok(d, "run", "--rm", name + ":url") == "hello from the tar\n"
        assert ok(d, "image", "inspect", "-f", "{{.Comment}}", name + ":url") == \
            "Imported from %s\n" % url
        p = d.run("berth", "import", url[:-8] + "/none.tar")
        assert p.returncode == 1 and "404" in p.stderr + p.stdout
    finally:
        srv.shutdown()
        srv.server_close()


# ---- a hostile import ----

def hostile_tar(path, kind, outside):
    with tarfile.open(path, "w") as t:
        data = b"escaped\n"
        if kind == "symlink":
            link = tarfile.TarInfo("link")
            link.type = tarfile.SYMTYPE
            link.linkname = outside
            t.addfile(link)
            name = "link/escaped"
        elif kind == "dotdot":
            name = "../" * 12 + outside.lstrip("/") + "/escaped"
        else:
            name = outside + "/escaped"
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["symlink", "dotdot", "absolute"])
def test_hostile_import_stays_in_its_layer(daemon, name, tmp, kind):
    d = daemon
    outside = os.path.join(tmp, "outside")
    os.mkdir(outside)
    tar = os.path.join(tmp, "evil.tar")
    hostile_tar(tar, kind, outside)
    # control: an unconfined extraction of the same tar does write outside
    sandbox = os.path.join(tmp, "sandbox")
    os.mkdir(sandbox)
    with tarfile.open(tar) as t:
        for m in t.getmembers():
            t.extract(m, sandbox, set_attrs=False, **({"filter": "fully_trusted"}
                                                        if hasattr(tarfile, "data_filter")
                                                        else {}))
    assert os.path.exists(os.path.join(outside, "escaped")), "the attack did not run"
    os.unlink(os.path.join(outside, "escaped"))
    p = d.run("berth", "import", tar, name + ":evil")
    assert not os.path.exists(os.path.join(outside, "escaped"))
    dockerd = d.sock.endswith("docker.sock")
    if kind == "absolute":
        # a leading "/" is dropped: the file lands inside the image
        assert p.returncode == 0, p.stderr
        ok(d, "create", "--name", name, name + ":evil", "x")
        with tarfile.open(fileobj=io.BytesIO(subprocess_bytes(d, "export", name))) as t:
            assert t.extractfile(outside.lstrip("/") + "/escaped").read() == b"escaped\n"
    elif kind == "symlink":
        # the link resolves inside the layer, where its target does not exist
        assert p.returncode == 1
        assert p.stderr.endswith("no such file or directory\n"), p.stderr
    elif dockerd:
        # dockerd clamps the ".." at the root (the file lands inside the image)
        assert p.returncode == 0, p.stderr
    else:
        # berth's unpacker refuses the layer (layer.h)
        assert p.returncode == 1
        assert p.stderr.endswith("path escapes the layer directory\n"), p.stderr


def test_committed_image_pushes_and_pulls_back(daemon, name, loopback_registry):
    """The result pushes and pulls like any image: its layers (with whiteouts) reach a
    registry and come back into a store that no longer has them."""
    d = daemon
    base = base_image(d, name + "p")
    ok(d, "run", "--name", name + "-pc", base, "sh", "-c", "echo pushed > /w/new && rm -r /w/gone")
    ref = f"{loopback_registry}/{name}-committed:1"
    ok(d, "commit", name + "-pc", ref)
    ok(d, "push", ref)
    ok(d, "rm", name + "-pc", name + "p-base")
    ok(d, "rmi", ref, base)
    ok(d, "pull", ref)
    out = ok(d, "run", "--rm", ref, "sh", "-c", "cat /w/new /w/keep/k; ls /w")
    assert out.splitlines() == ["pushed", "k", "changed", "keep", "new", "opq"]
    ok(d, "rmi", ref)


def test_commit_of_an_unchanged_container_leaves_no_blob_behind(tmp_path):
    """A commit stores its diff before it knows the diff is empty; an unchanged container's
    empty tar then adds no layer and must go at once, not wait for a collection something
    else asks for (the store torture caught it left after a quiet build)."""
    from container_util import start_env, stop_env
    from store_check import wait_settled
    root = str(tmp_path)
    os.chmod(root, 0o755)
    e = start_env(root)
    try:
        e.ok("create", "--name", "same", "busybox", "true")
        e.ok("commit", "same", "same:1")
        assert wait_settled(e.d.data, timeout=3) == []
    finally:
        stop_env(e)
