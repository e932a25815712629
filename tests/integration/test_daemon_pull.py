"""`POST /images/create` end to end: berthd pulls from a real registry (CNCF
Distribution on loopback, image built and pushed by the test), and the real
docker CLI, docker-py and `berth pull` see docker's progress stream, the
records, the layers and the events.  Registry fixtures and image builders are
those of test_registry.py; the berthd fixture is test_daemon.py's.
"""
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

import docker
import pytest

from test_daemon import Daemon, berth, docker_cli, tmproot  # noqa: F401
from test_registry import build_image, http_push, registries, regwork  # noqa: F401


@pytest.fixture
def pulld(tmproot):
    d = Daemon(tmproot).start()
    yield d
    try:
        assert d.stop() == 0, d.logtext()
        assert not os.path.exists(d.sock)
    finally:
        d.kill()


def pushed(regwork, registries, repo="tests/busybox", tag="v1", **kw):
    reg = registries(regwork)
    img = build_image(**kw)
    http_push("http://" + reg.host, repo, tag, img)
    return reg, img


def progress_lines(body):
    return [json.loads(l) for l in body.decode().splitlines() if l.strip()]


def test_pull_api_stream_and_records(pulld, regwork, registries):
    reg, img = pushed(regwork, registries)
    ref = "%s/tests/busybox" % reg.host
    status, h, body = pulld.request("POST", "/v1.41/images/create?fromImage=%s&tag=v1" % ref,
                                    headers={"X-Registry-Auth": "e30="})
    assert status == 200 and h["content-type"] == "application/json"
    assert h["transfer-encoding"] == "chunked"
    msgs = progress_lines(body)
    assert msgs[0] == {"status": "Pulling from tests/busybox", "id": "v1"}
    ids = {m["id"] for m in msgs if m.get("status") == "Pulling fs layer"}
    assert len(ids) == 3 and all(re.fullmatch(r"[0-9a-f]{12}", i) for i in ids)
    for i in ids:
        seq = [m["status"] for m in msgs if m.get("id") == i]
        assert seq[0] == "Pulling fs layer" and seq[-1] == "Pull complete", seq
        assert "Downloading" in seq and "Download complete" in seq and "Extracting" in seq
    dl = [m for m in msgs if m.get("status") == "Downloading"]
    assert all(m["progress"].startswith("[") and "/" in m["progress"] for m in dl)
    assert msgs[-2] == {"status": "Digest: %s" % img.top_digest}
    assert msgs[-1] == {"status": "Status: Downloaded newer image for %s:v1" % ref}

    i = pulld.json("/images/%s:v1/json" % ref)
    cfg_digest = json.loads(img.blobs[img.top_digest])["config"]["digest"]
    assert i["Id"] == cfg_digest
    assert i["RepoTags"] == ["%s:v1" % ref]
    assert i["RepoDigests"] == ["%s@%s" % (ref, img.top_digest)]
    assert i["Config"]["Cmd"] == ["/bin/sh"] and len(i["RootFS"]["Layers"]) == 3
    assert i["Size"] > 900000  # busybox unpacked
    con = sqlite3.connect(os.path.join(pulld.data, "berth.db"))
    rows = con.execute("SELECT chain_id, size FROM image_layers WHERE image_id = ? "
                       "ORDER BY position", (cfg_digest,)).fetchall()
    con.close()
    assert len(rows) == 3
    for chain, size in rows:
        assert os.path.isdir(os.path.join(pulld.data, "layers", chain.split(":")[1]))
        assert size > 0
    assert os.path.exists(os.path.join(pulld.data, "layers", rows[0][0].split(":")[1],
                                       "bin", "busybox"))

    # Again: up to date, no layer lines.
    status, _, body = pulld.request("POST", "/images/create?fromImage=%s&tag=v1" % ref)
    msgs = progress_lines(body)
    assert [m["status"] for m in msgs] == ["Pulling from tests/busybox",
                                           "Digest: %s" % img.top_digest,
                                           "Status: Image is up to date for %s:v1" % ref]


def test_pull_errors_before_and_in_the_stream(pulld, regwork, registries):
    reg, _ = pushed(regwork, registries)
    status, h, body = pulld.request(
        "POST", "/images/create?fromImage=%s/tests/busybox&tag=nope" % reg.host)
    assert status == 404 and h["content-type"] == "application/json"
    msg = json.loads(body)["message"]
    assert msg.startswith("manifest for %s/tests/busybox:nope not found" % reg.host), msg
    status, _, body = pulld.request("POST", "/images/create?fromImage=Bad/Name")
    assert status == 400
    status, _, body = pulld.request("POST", "/images/create")
    assert status == 400 and json.loads(body) == {"message": "fromImage is required"}
    # Nothing listens there: a clear 500, no stream.
    status, _, body = pulld.request("POST", "/images/create?fromImage=127.0.0.1:9/x/y&tag=1")
    assert status == 500 and json.loads(body)["message"]
    assert pulld.json("/images/json") == []


def test_docker_cli_pull_and_images(pulld, regwork, registries, tmproot):
    reg, img = pushed(regwork, registries, docker=True)
    cfg = os.path.join(tmproot, "docker-config")
    os.mkdir(cfg)
    ref = "%s/tests/busybox:v1" % reg.host
    r = docker_cli(pulld.sock, "pull", ref, tmpdir=cfg)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "v1: Pulling from tests/busybox"
    assert sum(l.endswith(": Pull complete") for l in lines) == 3
    assert "Digest: %s" % img.top_digest in lines
    assert "Status: Downloaded newer image for %s" % ref in lines
    assert lines[-1] == ref
    r = docker_cli(pulld.sock, "images", "--format", "{{.Repository}}:{{.Tag}}", tmpdir=cfg)
    assert r.stdout.strip() == ref
    r = docker_cli(pulld.sock, "pull", "%s/tests/busybox:nope" % reg.host, tmpdir=cfg)
    assert r.returncode == 1
    assert "manifest for %s/tests/busybox:nope not found" % reg.host in r.stderr
    r = docker_cli(pulld.sock, "events", "--since", "0", "--until", "%.9f" % (time.time() + 1),
                   "--filter", "event=pull", tmpdir=cfg)
    assert " image pull %s (name=%s)" % (ref, ref) in r.stdout


def test_docker_py_pull(pulld, regwork, registries):
    reg, img = pushed(regwork, registries, two_platforms=True)
    c = docker.DockerClient(base_url="unix://" + pulld.sock)
    try:
        image = c.images.pull("%s/tests/busybox" % reg.host, tag="v1")
        assert image.tags == ["%s/tests/busybox:v1" % reg.host]
        assert image.attrs["Architecture"] == "amd64"
    finally:
        c.close()


def test_berth_pull(pulld, regwork, registries):
    reg, img = pushed(regwork, registries, two_platforms=True)
    host = "unix://" + pulld.sock
    ref = "%s/tests/busybox" % reg.host
    r = berth("pull", ref, host=host)  # only v1 was pushed
    assert r.returncode == 1
    assert r.stdout == "Using default tag: latest\n"
    assert r.stderr.startswith("Error response from daemon: manifest for %s:latest not found"
                               % ref), r.stderr
    r = berth("pull", ref + ":v1", host=host)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "v1: Pulling from tests/busybox"
    assert sum(l.endswith(": Pull complete") for l in lines) == 3
    assert lines[-3:] == ["Digest: %s" % img.top_digest,
                          "Status: Downloaded newer image for %s:v1" % ref, ref + ":v1"]
    r = berth("pull", "-q", "--platform", "linux/arm64", ref + ":v1", host=host)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ref + ":v1\n"
    i = json.loads(berth("image", "inspect", ref + ":v1", host=host).stdout)[0]
    assert i["Architecture"] == "arm64"


def test_pull_docker_io_through_a_mirror_and_by_digest(tmproot, regwork, registries):
    reg, img = pushed(regwork, registries, repo="library/busybox", tag="v1")
    d = Daemon(tmproot, config={"registry-mirrors": ["http://%s" % reg.host]}).start()
    try:
        host = "unix://" + d.sock
        r = berth("pull", "busybox:v1", host=host)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[-1] == "docker.io/library/busybox:v1"
        assert "Status: Downloaded newer image for busybox:v1" in r.stdout
        i = json.loads(berth("image", "inspect", "busybox:v1", host=host).stdout)[0]
        assert i["RepoDigests"] == ["busybox@%s" % img.top_digest]
        # By digest: the same image, found by its repo digest, nothing downloaded again.
        r = berth("pull", "busybox@" + img.top_digest, host=host)
        assert r.returncode == 0, r.stderr
        assert "Pull complete" not in r.stdout
        assert r.stdout.splitlines()[-1] == "docker.io/library/busybox@" + img.top_digest
        assert json.loads(berth("image", "inspect", "busybox@" + img.top_digest,
                                host=host).stdout)[0]["Id"] == i["Id"]
    finally:
        assert d.stop() == 0
        d.kill()


def test_mirror_error_shows_when_docker_io_cannot_be_reached(tmproot):
    """A docker.io pull through a mirror that answers "manifest unknown" while
    registry-1.docker.io cannot be reached: the user reads the mirror's answer (a
    404, "manifest … not found"), then the origin's failure.  berthd runs in a
    network namespace of its own with only loopback, and the mirror in the same
    one, so the origin's name cannot resolve and nothing leaves the machine."""
    cfg = os.path.join(tmproot, "registry.yml")
    with open(cfg, "w") as f:
        f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                "storage:\n  filesystem:\n    rootdirectory: %s/regdata\n"
                "http:\n  addr: \"127.0.0.1:5000\"\n  secret: s\n" % tmproot)
    d = Daemon(tmproot, config={"registry-mirrors": ["http://127.0.0.1:5000"]})
    d.args = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + d.args
    reg = None
    try:
        d.start()
        netns = ["nsenter", "--target", str(d.proc.pid), "--net"]
        reg = subprocess.Popen(netns + ["/usr/bin/docker-registry", "serve", cfg],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        probe = "import socket; socket.create_connection(('127.0.0.1', 5000), 1)"
        deadline = time.time() + 15
        while subprocess.run(netns + [sys.executable, "-c", probe], capture_output=True).returncode:
            assert time.time() < deadline and reg.poll() is None, "the mirror did not start"
            time.sleep(0.1)
        r = berth("pull", "nosuch", host="unix://" + d.sock)
        assert r.returncode == 1
        assert r.stderr == (
            "Error response from daemon: manifest for nosuch:latest not found: "
            "docker.io/library/nosuch:latest: mirror 127.0.0.1:5000: get manifest: manifest "
            "unknown (MANIFEST_UNKNOWN, status 404); registry 'registry-1.docker.io': Could not "
            "resolve host: registry-1.docker.io\n"), r.stderr
    finally:
        if reg:
            reg.kill()
            reg.wait()
        d.stop()
        d.kill()


def test_login_pull_logout_with_basic_auth(pulld, regwork, registries, tmproot):
    import base64
    htp = os.path.join(regwork, "htpasswd")
    subprocess.run(["htpasswd", "-B", "-b", "-c", htp, "alice", "s3cret"], check=True,
                   capture_output=True)
    reg = registries(regwork, htpasswd=htp)
    img = build_image()
    basic = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    http_push("http://" + reg.host, "private/bb", "v1", img, headers={"Authorization": basic})
    host = "unix://" + pulld.sock
    conf = os.path.join(tmproot, "berth-config")
    env = {"BERTH_CONFIG": conf}
    ref = "%s/private/bb:v1" % reg.host

    r = berth("pull", ref, host=host, env=env)
    assert r.returncode == 1 and "unauthorized" in r.stderr, r.stderr

    r = berth("login", "-u", "alice", "--password-stdin", reg.host, host=host, env=env,
              input="wrong\n")
    assert r.returncode == 1
    assert r.stderr.startswith("Error response from daemon: ") and \
        "incorrect username or password" in r.stderr
    assert not os.path.exists(os.path.join(conf, "config.json"))

    r = berth("login", "-u", "alice", "--password-stdin", reg.host, host=host, env=env,
              input="s3cret\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Login Succeeded\n"
    path = os.path.join(conf, "config.json")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with open(path) as f:
        saved = json.load(f)
    assert saved["auths"][reg.host]["auth"] == base64.b64encode(b"alice:s3cret").decode()

    r = berth("pull", "-q", ref, host=host, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ref + "\n"

    r = berth("logout", reg.host, host=host, env=env)
    assert r.stdout == "Removing login credentials for %s\n" % reg.host
    r = berth("logout", reg.host, host=host, env=env)
    assert r.stdout == "Not logged in to %s\n" % reg.host
    with open(path) as f:
        assert reg.host not in json.load(f)["auths"]


def test_distribution_inspect(pulld, regwork, registries):
    reg, img = pushed(regwork, registries, two_platforms=True)
    ref = "%s/tests/busybox:v1" % reg.host
    d = pulld.json("/v1.41/distribution/%s/json" % ref)
    assert d["Descriptor"]["digest"] == img.top_digest
    assert d["Descriptor"]["mediaType"] == img.top_media_type
    assert d["Descriptor"]["size"] == len(img.blobs[img.top_digest])
    assert sorted((p["os"], p["architecture"]) for p in d["Platforms"]) == \
        [("linux", "amd64"), ("linux", "arm64")]
    reg2, img2 = pushed(regwork, registries, repo="tests/single")
    d = pulld.json("/distribution/%s/tests/single:v1/json" % reg2.host)
    assert d["Descriptor"]["digest"] == img2.top_digest
    assert d["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
    status, _, body = pulld.request("GET", "/distribution/%s/tests/busybox:nope/json" % reg.host)
    assert status == 404 and json.loads(body)["message"]


def test_push_back_byte_identical(pulld, regwork, registries, tmproot):
    import urllib.request
    reg_a, img = pushed(regwork, registries, docker=True)
    reg_b = registries(regwork)
    host = "unix://" + pulld.sock
    src = "%s/tests/busybox:v1" % reg_a.host
    dst = "%s/copy/busybox:v2" % reg_b.host
    assert berth("pull", "-q", src, host=host).returncode == 0
    assert berth("tag", src, dst, host=host).returncode == 0

    r = berth("push", dst, host=host)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "The push refers to repository [%s/copy/busybox]" % reg_b.host
    assert sum(l.endswith(": Pushed") for l in lines) == 3
    man = img.blobs[img.top_digest]
    assert lines[-1] == "v2: digest: %s size: %d" % (img.top_digest, len(man))
    req = urllib.request.Request("http://%s/v2/copy/busybox/manifests/v2" % reg_b.host,
                                 headers={"Accept": img.top_media_type})
    with urllib.request.urlopen(req) as f:
        assert f.read() == man  # byte for byte what was pulled

    # Again: every layer is there already.
    r = berth("push", dst, host=host)
    assert sum(l.endswith(": Layer already exists") for l in r.stdout.splitlines()) == 3

    cfg = os.path.join(tmproot, "docker-config")
    os.mkdir(cfg)
    r = docker_cli(pulld.sock, "push", dst, tmpdir=cfg)
    assert r.returncode == 0, r.stderr
    assert "v2: digest: %s size: %d" % (img.top_digest, len(man)) in r.stdout

    r = berth("push", "%s/copy/busybox:nope" % reg_b.host, host=host)
    assert r.returncode == 1
    # dockerd names the repository, then reports the missing tag in the stream.
    assert r.stdout == "The push refers to repository [%s/copy/busybox]\n" % reg_b.host
    assert r.stderr == "tag does not exist: %s/copy/busybox:nope\n" % reg_b.host
