"""`pull --all-tags` and `push --all-tags` end to end, as docker 20.10/28 do them.

berthd pulls every tag a real registry (CNCF Distribution on loopback) lists,
also through a registry that pages its tag list with Link headers (a small
proxy in this file, since Distribution 2.8 answers in one page), and pushes
every local tag of a repository.  `berth` and the real docker CLIs (Debian's
20.10 and, when present, 28.2) are the clients; the errors are docker's.
Registry fixtures and image builders are test_registry.py's, berthd
test_daemon.py's.
"""
import http.server
import json
import os
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request

import docker
import pytest

from test_daemon import Daemon, berth, tmproot  # noqa: F401
from test_registry import (build_image, free_port, http_push, registries, regwork,  # noqa: F401
                           run_client)

TAGS = ["v1", "v2", "v3"]
DOCKER_20 = "/usr/bin/docker"
DOCKER_28 = "/usr/local/bin/docker"
DIGEST_ZERO = "sha256:" + "0" * 64


@pytest.fixture
def pulld(tmproot):
    d = Daemon(tmproot).start()
    yield d
    try:
        assert d.stop() == 0, d.logtext()
    finally:
        d.kill()


def push_tags(reg, repo, tags):
    """Push one distinct image per tag (each build has its own config and data layer)."""
    imgs = {}
    for t in tags:
        imgs[t] = build_image()
        http_push("http://" + reg.host, repo, t, imgs[t])
    return imgs


def registry_get(host, path, accept=None):
    req = urllib.request.Request("http://%s%s" % (host, path),
                                 headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req) as f:
        return f.read()


def registry_tags(host, repo):
    """The tags as the registry lists them (Distribution's order is not sorted)."""
    return json.loads(registry_get(host, "/v2/%s/tags/list" % repo))["tags"]


def local_tags(host, repo):
    r = berth("images", "--format", "{{.Repository}}:{{.Tag}}", host=host)
    assert r.returncode == 0, r.stderr
    return sorted(l for l in r.stdout.splitlines() if l.startswith(repo + ":"))


def run_docker(binary, sock, cfgdir, *args):
    env = dict(os.environ, DOCKER_CONFIG=cfgdir)
    env.pop("DOCKER_HOST", None)
    env["DOCKER_HOST"] = "unix://" + sock
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=120)


def docker_binaries():
    """Debian's docker.io client must be there; docker 28.2 is not packaged, so it is optional."""
    assert os.access(DOCKER_20, os.X_OK), "docker.io (the docker CLI) is not installed"
    out = [DOCKER_20]
    if os.access(DOCKER_28, os.X_OK):
        out.append(DOCKER_28)
    return out


class PagingRegistry:
    """A registry front that serves tags/list `per_page` tags at a time with Link headers
    (first a relative link, then absolute ones) and proxies everything else to upstream."""

    def __init__(self, upstream, per_page=2):
        self.upstream = upstream
        self.per_page = per_page
        self.tag_requests = []
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.handle(self, "GET")

            def do_HEAD(self):
                outer.handle(self, "HEAD")

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.srv.daemon_threads = True
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, h, method):
        u = urllib.parse.urlsplit(h.path)
        if u.path.endswith("/tags/list"):
            return self.tags_page(h, u)
        req = urllib.request.Request("http://%s%s" % (self.upstream, h.path), method=method,
                                     headers={k: v for k, v in h.headers.items()
                                              if k.lower() in ("accept", "range")})
        try:
            resp = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            resp = e
        body = resp.read() if method == "GET" else b""
        h.send_response(resp.status if hasattr(resp, "status") else resp.code)
        for k, v in resp.headers.items():
            if k.lower() in ("content-type", "docker-content-digest", "content-length",
                             "www-authenticate", "docker-distribution-api-version"):
                h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def tags_page(self, h, u):
        self.tag_requests.append(h.path)
        full = json.loads(registry_get(self.upstream, u.path))
        tags = sorted(full["tags"] or [])
        q = urllib.parse.parse_qs(u.query)
        last = q.get("last", [""])[0]
        rest = [t for t in tags if t > last]
        page, more = rest[:self.per_page], rest[self.per_page:]
        body = json.dumps({"name": full["name"], "tags": page}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        if more:
            nxt = "%s?n=%d&last=%s" % (u.path, self.per_page, page[-1])
            if last:  # later pages: an absolute URL on the same origin
                nxt = "http://%s%s" % (self.host, nxt)
            h.send_header("Link", '<%s>; rel="next"' % nxt)
        h.end_headers()
        h.wfile.write(body)

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def paging():
    made = []

    def make(*a, **kw):
        p = PagingRegistry(*a, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


# ---- pull -a ----

def test_pull_all_tags_cli(pulld, regwork, registries):
    reg = registries(regwork)
    imgs = push_tags(reg, "tests/multi", TAGS)
    host = "unix://" + pulld.sock
    repo = "%s/tests/multi" % reg.host
    order = registry_tags(reg.host, "tests/multi")
    assert sorted(order) == TAGS

    r = berth("pull", "--all-tags", repo, host=host)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "Using default tag" not in r.stdout
    assert [l for l in lines if l.endswith(": Pulling from tests/multi")] == \
        ["%s: Pulling from tests/multi" % t for t in order]
    assert [l for l in lines if l.startswith("Digest: ")] == \
        ["Digest: %s" % imgs[t].top_digest for t in order]
    assert lines[-2:] == ["Status: Downloaded newer image for %s" % repo, repo]
    assert local_tags(host, repo) == ["%s:%s" % (repo, t) for t in TAGS]
    for t in TAGS:
        i = json.loads(berth("image", "inspect", "%s:%s" % (repo, t), host=host).stdout)[0]
        assert i["RepoDigests"] == ["%s@%s" % (repo, imgs[t].top_digest)]

    # Again: nothing new, every tag still reports its digest.
    r = berth("pull", "-a", repo, host=host)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-2:] == ["Status: Image is up to date for %s" % repo, repo]
    assert sum(l.startswith("Digest: ") for l in lines) == 3
    assert not any("Pull complete" in l or "Pulling fs layer" in l for l in lines)

    # -q prints only the repository, as docker does.
    r = berth("pull", "-a", "-q", repo, host=host)
    assert (r.returncode, r.stdout, r.stderr) == (0, repo + "\n", "")

    # A new tag on the registry: the whole pull is "newer" again.
    imgs.update(push_tags(reg, "tests/multi", ["v4"]))
    r = berth("pull", "-a", repo, host=host)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2] == "Status: Downloaded newer image for %s" % repo
    assert local_tags(host, repo) == ["%s:%s" % (repo, t) for t in TAGS + ["v4"]]

    # A new tag naming an image already here: no layer lines for it (dockerd has the image),
    # yet the tag is new, so the repository is "newer".
    http_push("http://" + reg.host, "tests/multi", "v5", imgs["v1"])
    r = berth("pull", "-a", repo, host=host)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    at = lines.index("v5: Pulling from tests/multi")
    assert lines[at + 1] == "Digest: %s" % imgs["v1"].top_digest
    assert not any("Already exists" in l or "Pull complete" in l for l in lines)
    assert lines[-2] == "Status: Downloaded newer image for %s" % repo


def test_pull_all_tags_api(pulld, regwork, registries):
    reg = registries(regwork)
    imgs = push_tags(reg, "tests/api", TAGS)
    repo = "%s/tests/api" % reg.host
    order = registry_tags(reg.host, "tests/api")
    # No `tag`: every tag, in the registry's order, in one stream.
    status, _, body = pulld.request("POST", "/v1.41/images/create?fromImage=%s" % repo)
    assert status == 200
    msgs = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    assert [m.get("id") for m in msgs if m.get("status") == "Pulling from tests/api"] == order
    assert [m["status"] for m in msgs if m.get("status", "").startswith("Digest: ")] == \
        ["Digest: %s" % imgs[t].top_digest for t in order]
    assert msgs[-1] == {"status": "Status: Downloaded newer image for %s" % repo}
    assert not any("error" in m for m in msgs)
    # Old clients' `pull -a` sent "name:"; dockerd reads it as the bare name.
    status, _, body = pulld.request("POST", "/images/create?fromImage=%s:" % repo)
    assert status == 200
    msgs = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    assert [m.get("id") for m in msgs if m.get("status") == "Pulling from tests/api"] == order
    assert msgs[-1] == {"status": "Status: Image is up to date for %s" % repo}
    # A tag in fromImage (and no `tag`) is that tag only.
    status, _, body = pulld.request("POST", "/images/create?fromImage=%s:v2" % repo)
    msgs = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    assert [m.get("id") for m in msgs if m.get("status", "").startswith("Pulling from")] == ["v2"]
    assert msgs[-1] == {"status": "Status: Image is up to date for %s:v2" % repo}
    # By digest (not all tags): dockerd's id is the whole reference.
    dg = imgs["v3"].top_digest
    status, _, body = pulld.request("POST", "/images/create?fromImage=%s&tag=%s" % (repo, dg))
    msgs = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    assert msgs[0] == {"status": "Pulling from tests/api", "id": "%s@%s" % (repo, dg)}
    assert msgs[-1] == {"status": "Status: Image is up to date for %s@%s" % (repo, dg)}


def test_pull_all_tags_errors(pulld, regwork, registries):
    reg = registries(regwork)
    host = "unix://" + pulld.sock
    for args in (["-a", "%s/tests/x:v1" % reg.host],
                 ["--all-tags", "%s/tests/x@%s" % (reg.host, DIGEST_ZERO)],
                 ["-a", "-q", "busybox:latest"]):
        r = berth("pull", *args, host=host)
        assert (r.returncode, r.stdout, r.stderr) == \
            (1, "", "tag can't be used with --all-tags/-a\n"), args
    r = berth("pull", "-a", "%s/tests/nope" % reg.host, host=host)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("Error response from daemon: repository %s/tests/nope not found: "
                               % reg.host), r.stderr
    status, _, body = pulld.request("POST", "/images/create?fromImage=%s/tests/nope" % reg.host)
    assert status == 404 and "not found" in json.loads(body)["message"]
    # A bad name is refused before anything reaches the daemon.
    r = berth("pull", "-a", "Upper/Case", host=host)
    assert r.returncode == 1 and r.stdout == "" and r.stderr.strip()


def test_pull_all_tags_follows_link_pages(pulld, regwork, registries, paging):
    reg = registries(regwork)
    tags = ["a1", "a2", "b1", "b2", "c1"]
    imgs = push_tags(reg, "tests/paged", tags)
    front = paging(reg.host, per_page=2)
    host = "unix://" + pulld.sock
    repo = "%s/tests/paged" % front.host
    r = berth("pull", "-a", repo, host=host)
    assert r.returncode == 0, r.stderr + pulld.logtext()
    # Three pages: the first asked, then the relative and the absolute Link.
    assert len(front.tag_requests) == 3, front.tag_requests
    assert "last=a2" in front.tag_requests[1] and "last=b2" in front.tag_requests[2]
    lines = r.stdout.splitlines()
    assert [l.split(":")[0] for l in lines if l.endswith(": Pulling from tests/paged")] == tags
    assert local_tags(host, repo) == ["%s:%s" % (repo, t) for t in tags]
    assert [l for l in lines if l.startswith("Digest: ")] == \
        ["Digest: %s" % imgs[t].top_digest for t in tags]


def test_tags_list_tries_mirrors_first(regwork, registries):
    """The listing takes a pull's path for docker.io: each mirror, then the origin."""
    origin, mirror = registries(regwork), registries(regwork)
    push_tags(origin, "library/bb", ["o1", "o2"])
    push_tags(mirror, "library/bb", ["m1"])
    dead = "http://127.0.0.1:%d" % free_port()
    out = run_client("--mirror", "http://" + mirror.host, "--docker-io", "http://" + origin.host,
                     "tags", "docker.io/library/bb").stdout.decode().split()
    assert out == ["m1"]
    out = run_client("--mirror", dead, "--docker-io", "http://" + origin.host,
                     "tags", "docker.io/library/bb").stdout.decode().split()
    assert sorted(out) == ["o1", "o2"]
    # A mirror without the repository: the origin answers.
    empty = registries(regwork)
    out = run_client("--mirror", "http://" + empty.host, "--docker-io", "http://" + origin.host,
                     "tags", "docker.io/library/bb").stdout.decode().split()
    assert sorted(out) == ["o1", "o2"]


# ---- push --all-tags ----

def pull_and_retag(host, src_repo, dst_repo, tags):
    r = berth("pull", "-a", "-q", src_repo, host=host)
    assert r.returncode == 0, r.stderr
    for t in tags:
        r = berth("tag", "%s:%s" % (src_repo, t), "%s:%s" % (dst_repo, t), host=host)
        assert r.returncode == 0, r.stderr


def test_push_all_tags(pulld, regwork, registries):
    reg_a, reg_b = registries(regwork), registries(regwork)
    imgs = push_tags(reg_a, "tests/multi", TAGS)
    host = "unix://" + pulld.sock
    src, dst = "%s/tests/multi" % reg_a.host, "%s/copy/multi" % reg_b.host
    pull_and_retag(host, src, dst, TAGS)
    # Another repository on the same registry must not go along.
    assert berth("tag", "%s:v1" % src, "%s/other/repo:v1" % reg_b.host, host=host).returncode == 0

    r = berth("push", "--all-tags", dst, host=host)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "Using default tag" not in r.stdout
    assert lines[0] == "The push refers to repository [%s]" % dst
    assert sum(l.startswith("The push refers") for l in lines) == 1
    digest_lines = [l for l in lines if ": digest: " in l]
    assert digest_lines == ["%s: digest: %s size: %d" % (t, imgs[t].top_digest,
                                                         len(imgs[t].blobs[imgs[t].top_digest]))
                            for t in TAGS]
    listed = json.loads(registry_get(reg_b.host, "/v2/copy/multi/tags/list"))
    assert sorted(listed["tags"]) == TAGS
    for t in TAGS:
        top = imgs[t].top_digest
        assert registry_get(reg_b.host, "/v2/copy/multi/manifests/%s" % t,
                            imgs[t].top_media_type) == imgs[t].blobs[top]
    catalog = json.loads(registry_get(reg_b.host, "/v2/_catalog"))
    assert catalog["repositories"] == ["copy/multi"]

    # Again, quietly: only the repository is printed.
    r = berth("push", "-a", "-q", dst, host=host)
    assert (r.returncode, r.stdout, r.stderr) == (0, dst + "\n", "")


def test_push_all_tags_errors(pulld, regwork, registries):
    reg_a, reg_b = registries(regwork), registries(regwork)
    push_tags(reg_a, "tests/one", ["v1"])
    host = "unix://" + pulld.sock
    src, dst = "%s/tests/one" % reg_a.host, "%s/copy/one" % reg_b.host
    pull_and_retag(host, src, dst, ["v1"])
    for args in (["-a", dst + ":v1"], ["--all-tags", "%s@%s" % (dst, DIGEST_ZERO)]):
        r = berth("push", *args, host=host)
        assert (r.returncode, r.stdout, r.stderr) == \
            (1, "", "tag can't be used with --all-tags/-a\n"), args
    # As dockerd: the repository line, then the error in the stream (no "Error response").
    nothing = "%s/copy/nothing" % reg_b.host
    r = berth("push", "-a", nothing, host=host)
    assert r.returncode == 1
    assert r.stdout == "The push refers to repository [%s]\n" % nothing
    assert r.stderr == "An image does not exist locally with the tag: %s\n" % nothing
    r = berth("push", dst + ":nope", host=host)
    assert r.returncode == 1
    assert r.stdout == "The push refers to repository [%s]\n" % dst
    assert r.stderr == "tag does not exist: %s:nope\n" % dst
    # The API: no `tag` and a tag in the name pushes that tag only.
    status, _, body = pulld.request("POST", "/images/%s:v1/push" % dst,
                                    headers={"X-Registry-Auth": "e30="})
    msgs = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    assert status == 200 and [m["aux"]["Tag"] for m in msgs if "aux" in m] == ["v1"]


# ---- the real docker CLI against berthd ----

@pytest.mark.parametrize("binary", [DOCKER_20, DOCKER_28])
def test_docker_cli_all_tags(pulld, regwork, registries, tmproot, binary):
    if binary not in docker_binaries():
        pytest.skip("%s (docker 28, not a Debian package) is not installed" % binary)
    reg_a, reg_b = registries(regwork), registries(regwork)
    imgs = push_tags(reg_a, "tests/multi", TAGS)
    cfg = os.path.join(tmproot, "docker-config")
    os.makedirs(cfg, exist_ok=True)
    src, dst = "%s/tests/multi" % reg_a.host, "%s/copy/multi" % reg_b.host

    r = run_docker(binary, pulld.sock, cfg, "pull", "--all-tags", src)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for t in TAGS:
        assert "%s: Pulling from tests/multi" % t in lines
        assert "Digest: %s" % imgs[t].top_digest in lines
    assert lines[-2:] == ["Status: Downloaded newer image for %s" % src, src]
    r = run_docker(binary, pulld.sock, cfg, "images", "--format", "{{.Repository}}:{{.Tag}}",
                   src)
    assert sorted(r.stdout.split()) == ["%s:%s" % (src, t) for t in TAGS]

    # docker's own client-side check, and berth says the same.
    r = run_docker(binary, pulld.sock, cfg, "pull", "-a", src + ":v1")
    b = berth("pull", "-a", src + ":v1", host="unix://" + pulld.sock)
    assert (r.returncode, r.stderr) == (b.returncode, b.stderr) == \
        (1, "tag can't be used with --all-tags/-a\n")

    for t in TAGS:
        assert run_docker(binary, pulld.sock, cfg, "tag", "%s:%s" % (src, t),
                          "%s:%s" % (dst, t)).returncode == 0
    r = run_docker(binary, pulld.sock, cfg, "push", "--all-tags", dst)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "The push refers to repository [%s]" % dst
    assert [l for l in lines if ": digest: " in l] == \
        ["%s: digest: %s size: %d" % (t, imgs[t].top_digest,
                                      len(imgs[t].blobs[imgs[t].top_digest])) for t in TAGS]
    assert sorted(json.loads(registry_get(reg_b.host, "/v2/copy/multi/tags/list"))["tags"]) \
        == TAGS
    r = run_docker(binary, pulld.sock, cfg, "push", "-a", dst + ":v1")
    assert (r.returncode, r.stderr) == (1, "tag can't be used with --all-tags/-a\n")


def test_docker_py_all_tags(pulld, regwork, registries):
    """docker-py sends no tag for all_tags=True and for push() of a bare name."""
    reg_a, reg_b = registries(regwork), registries(regwork)
    imgs = push_tags(reg_a, "tests/py", TAGS)
    src, dst = "%s/tests/py" % reg_a.host, "%s/copy/py" % reg_b.host
    c = docker.DockerClient(base_url="unix://" + pulld.sock, version="1.41")
    try:
        got = c.images.pull(src, all_tags=True)
        assert sorted(t for i in got for t in i.tags) == ["%s:%s" % (src, t) for t in TAGS]
        for t in TAGS:
            assert c.images.get("%s:%s" % (src, t)).tag(dst, t)
        out = [json.loads(l) for l in c.api.push(dst, stream=True)]
        assert out[0] == {"status": "The push refers to repository [%s]" % dst}
        assert [m["aux"]["Tag"] for m in out if "aux" in m] == TAGS
        assert [m["aux"]["Digest"] for m in out if "aux" in m] == \
            [imgs[t].top_digest for t in TAGS]
    finally:
        c.close()
    assert sorted(registry_tags(reg_b.host, "copy/py")) == TAGS
