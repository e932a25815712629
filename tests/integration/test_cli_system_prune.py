"""berth system df / system prune / image prune --filter against docker 28's CLI.

Each test runs against a private dockerd 20.10 and against berthd (the
`daemon` fixture): berth's output must be docker's, byte for byte, and the
prunes must leave what a container uses.  The last tests speak the API to
berthd only: the image prune filters and the /networks and /build prune
answers.
"""
import json
import time
import subprocess
import urllib.parse

import pytest

from cli_util import daemon, name, run_both, same  # noqa: F401 (fixtures)


def _api(d, method, path):
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "--unix-socket", d.sock,
                          "-X", method, "http://x/v1.41" + path],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    body, code = out.rsplit("\n", 1)
    return int(code), json.loads(body) if body else None


def _filters(**kw):
    return "filters=" + urllib.parse.quote(json.dumps({k.replace("_not", "!"): v
                                                        for k, v in kw.items()}))


def _tag(d, ref):
    subprocess.run(["docker", "tag", "busybox:latest", ref], env=d.env, check=True)


def _ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_df_summary_and_formats_are_dockers(daemon, name):
    _ok(daemon.run("docker", "run", "--name", name + "a", "busybox", "sh", "-c", "echo hi >/f"))
    for args in (["system", "df"], ["system", "df", "--format", "json"],
                 ["system", "df", "--format", "table {{.Type}}\t{{.Reclaimable}}"],
                 ["system", "df", "--format", "{{.Nope}}"],
                 ["system", "df", "x"]):
        same(daemon, *args)
    out = _ok(daemon.run("berth", "system", "df"))
    assert out.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert "Containers      1         0         3B        3B (100%)" in out
    _ok(daemon.run("docker", "rm", name + "a"))


def test_df_verbose_is_dockers(daemon, name):
    _ok(daemon.run("docker", "create", "--name", name + "c", "busybox", "true"))
    same(daemon, "system", "df", "-v")
    same(daemon, "system", "df", "-v", "--format",
         "{{range .Containers}}{{.Names}} {{.Size}};{{end}}{{len .Images}}")
    dk, bt = run_both(daemon, "system", "df", "-v", "--format", "json")
    assert bt.returncode == dk.returncode == 0
    want, got = json.loads(dk.stdout), json.loads(bt.stdout)
    assert list(got) == ["Images", "Containers", "Volumes", "BuildCache"]
    assert got["Containers"] == want["Containers"] or \
        [c["Names"] for c in got["Containers"]] == [c["Names"] for c in want["Containers"]]
    assert not bt.stdout.endswith("\n")
    _ok(daemon.run("docker", "rm", name + "c"))


def test_prune_prompt_and_refusals_are_dockers(daemon):
    for args in (["system", "prune"], ["system", "prune", "-a", "--volumes"],
                 ["system", "prune", "-a", "--filter", "until=1h", "--filter", "label=b",
                  "--filter", "label!=x=y", "--filter", "label=10", "--filter", "label=9"]):
        same(daemon, *args, input="n\n")
    same(daemon, "system", "prune", "--volumes", "--filter", "until=1h")
    same(daemon, "system", "prune", "-f", "--filter", "until=abc")
    same(daemon, "system", "prune", "-f", "--filter", "bogus")
    same(daemon, "image", "prune", "-f", "--filter", "until=abc")
    same(daemon, "container", "prune", "-f", "--filter", "until=abc")
    same(daemon, "system", "prune", "x")
    for cmd in (["system", "prune"], ["system", "df"], ["image", "prune"]):
        dk, bt = run_both(daemon, *cmd, "--help")
        want = dk.stdout.replace("docker", "berth").splitlines()
        assert bt.stdout.splitlines()[:4] == want[:4]
        flags = [ln.split()[:2] for ln in want if ln.startswith("  -")]
        assert [ln.split()[:2] for ln in bt.stdout.splitlines() if ln.startswith("  -")] == flags


def test_system_prune_a_volumes_keeps_what_is_running(daemon, name):
    outs = {}
    for tool in ("docker", "berth"):
        n = name + tool[0]
        _ok(daemon.run("docker", "run", "-d", "--name", n + "run", "busybox", "sleep", "600"))
        _ok(daemon.run("docker", "run", "--name", n + "stop", "busybox", "true"))
        _ok(daemon.run("docker", "volume", "create", n + "vol"))
        outs[tool] = _ok(daemon.run(tool, "system", "prune", "-a", "--volumes", input="y\n"))
        ps = _ok(daemon.run("docker", "ps", "-a", "--format", "{{.Names}}")).split()
        assert n + "run" in ps and n + "stop" not in ps
        assert _ok(daemon.run("docker", "images", "-q"))  # the running container's image
        assert n + "vol" not in _ok(daemon.run("docker", "volume", "ls", "-q")).split()
        _ok(daemon.run("docker", "rm", "-f", n + "run"))
    for tool, out in outs.items():
        n = name + tool[0]
        assert out.startswith("WARNING! This will remove:\n  - all stopped containers\n")
        assert "Deleted Containers:\n" in out and "Deleted Volumes:\n" + n + "vol\n" in out
        assert out.splitlines()[-1].startswith("Total reclaimed space: ")
    strip = [[ln for ln in outs[t].splitlines() if len(ln) != 64 and "vol" not in ln]
             for t in outs]
    assert strip[0] == strip[1]


def test_image_prune_filters_are_dockers(daemon, name):
    _tag(daemon, name + "-x:1")
    same(daemon, "image", "prune", "-a", "-f", "--filter", "until=2000-01-01T00:00:00Z")
    same(daemon, "image", "prune", "-a", "-f", "--filter", "label=nosuch")
    images = _ok(daemon.run("docker", "images", "--format", "{{.Repository}}")).split()
    assert name + "-x" in images
    time.sleep(3)  # until=1s: the image (imported by the fixture) must be older than that
    r = _ok(daemon.run("berth", "image", "prune", "-a", "-f", "--filter", "until=1s",
                       "--filter", "label!=nosuch"))
    assert f"untagged: {name}-x:1\n" in r
    assert name + "-x" not in _ok(daemon.run("docker", "images", "--format", "{{.Repository}}"))


# ---- the API of berthd

@pytest.fixture(scope="module")
def berthd():
    from cli_util import _berthd
    yield from _berthd()


def _repos(d):
    return sorted(_ok(d.run("berth", "images", "--format", "{{.Repository}}:{{.Tag}}")).split())


def test_api_image_prune_filters(berthd):
    d = berthd
    _ok(d.run("berth", "create", "--name", "user", "busybox", "true"))
    before = _repos(d)
    for f in (dict(dangling=["false"]), dict(dangling=["false"], label=["nosuch"]),
              dict(dangling=["false"], until=["2000-01-01"])):
        code, body = _api(d, "POST", "/images/prune?" + _filters(**f))
        assert (code, body["ImagesDeleted"]) == (200, None), f  # used, or filtered out
    assert _repos(d) == before
    for f, msg in ((dict(until=["abc"]), 'failed to parse value as time or duration: "abc"'),
                   (dict(until=["1h", "2h"]), "more than one until filter specified"),
                   (dict(until=["2020-13-01"]), 'parsing time "2020-13-01": month out of range'),
                   (dict(dangling=["x"]), "Invalid filter 'dangling=[x]'"),
                   (dict(foo=["x"]), "invalid filter 'foo'")):
        code, body = _api(d, "POST", "/images/prune?" + _filters(**f))
        assert code in (400, 500) and body["message"] == msg
    code, body = _api(d, "POST", "/containers/prune?" + _filters(until=["abc"]))
    assert code == 500 and "abc" in body["message"]
    assert "user" in _ok(d.run("berth", "ps", "-a", "--format", "{{.Names}}"))
    _ok(d.run("berth", "rm", "user"))
    code, body = _api(d, "POST", "/images/prune?" + _filters(dangling=["false"], label=["x"]))
    assert (code, body["ImagesDeleted"]) == (200, None)
    code, body = _api(d, "POST", "/images/prune?" + _filters(dangling=["false"], until=["1s"],
                                                             label_not=["nosuch"]))
    assert code == 200 and any("Deleted" in x for x in body["ImagesDeleted"])
    assert _repos(d) == []


def test_api_network_and_build_prune(berthd):
    d = berthd
    assert _api(d, "POST", "/networks/prune") == (200, {"NetworksDeleted": None})
    assert _api(d, "POST", "/networks/prune?" + _filters(label=["a"], until=["1h"])) == \
        (200, {"NetworksDeleted": None})
    code, body = _api(d, "POST", "/networks/prune?" + _filters(until=["zz"]))
    assert (code, body["message"]) == (500, 'failed to parse value as time or duration: "zz"')
    code, body = _api(d, "POST", "/networks/prune?" + _filters(dangling=["1"]))
    assert code == 400
    assert _api(d, "POST", "/build/prune?all=1&keep-storage=5&" +
                _filters(until=["24h"], label=["a"], type=["regular"])) == \
        (200, {"CachesDeleted": None, "SpaceReclaimed": 0})
    pre = "failed to prune build cache: "
    for q, want in ((_filters(until=["v"]),
                     (500, pre + "\"until\" filter expects a duration (e.g., '24h'): "
                      "time: invalid duration \"v\"")),
                    (_filters(until=["1h"], **{"unused-for": ["1h"]}),
                     (400, pre + 'conflicting filters: "until" and "unused-for"')),
                    (_filters(id=["a", "b"]), (400, pre + "filters expect only one value")),
                    (_filters(mutable=["a"]), (400, pre + "invalid filter 'mutable'")),
                    ("keep-storage=x", (500, "keep-storage is in bytes and expects an integer, "
                                        "got x: strconv.Atoi: parsing \"x\": invalid syntax"))):
        code, body = _api(d, "POST", "/build/prune?" + q)
        assert (code, body["message"]) == want
