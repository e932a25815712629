"""`berth volume` against a real daemon, compared with docker's CLI (28).

Each test runs the same command line through `docker` and `berth` against one
daemon and requires what a user sees to agree: stdout, stderr (with "berth" for
"docker") and the exit code.  The `daemon` fixture (cli_util.py) runs every
comparison against a private dockerd 20.10 (the reference) and against berthd.

Both daemons speak API 1.41, so docker 28 hides its cluster-volume flags,
`prune --all` and `volume update` there and refuses them by API version; the
comparisons below hold berth to that.  Volumes made by one test carry its
unique name, so the module's other volumes never change what a test compares.
"""
import json
import re

import pytest

from cli_util import as_berth, daemon, labels_sorted, name, same  # noqa: F401 (fixtures)


def help_text(t):
    """Help goes to stdout, where docker names itself: "Usage:  docker volume ls", aliases."""
    out = t[1].replace("docker volume", "berth volume").replace("'docker ", "'berth ")
    return (t[0], out, t[2])


@pytest.mark.parametrize("args", [
    ["volume"], ["volume", "--help"], ["help", "volume"], ["volume", "create", "--help"],
    ["volume", "ls", "--help"], ["volume", "inspect", "--help"], ["volume", "rm", "--help"],
    ["volume", "prune", "--help"], ["volume", "remove", "--help"], ["help", "volume", "prune"],
], ids=" ".join)
def test_help_is_dockers(daemon, args):
    r = same(daemon, *args, normalize=help_text)
    # the bare management command prints its help on stderr, as docker's does
    assert r.returncode == 0 and "Usage:  berth volume" in (r.stderr if args == ["volume"]
                                                           else r.stdout)


def test_help_hides_what_api_1_41_lacks(daemon):
    r = daemon.run("berth", "volume", "create", "--help")
    assert "--scope" not in r.stdout and "--driver string" in r.stdout
    assert "update" not in daemon.run("berth", "volume", "--help").stdout
    assert "--all" not in daemon.run("berth", "volume", "prune", "--help").stdout


USAGE_ERRORS = [
    ["volume", "nope"],
    ["volume", "create", "a", "b"],
    ["volume", "create", "--name", "foo", "bar"],
    ["volume", "create", "--label", "=x", "vv"],
    ["volume", "create", "--label", "a b=c", "vv"],
    ["volume", "create", "--bogus"],
    ["volume", "ls", "x"],
    ["volume", "ls", "-f", "bogus"],
    ["volume", "inspect"],
    ["volume", "rm"],
    ["volume", "remove"],
    ["volume", "prune", "x"],
    ["volume", "prune", "--filter", "bogus"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=" ".join)
def test_usage_errors_are_dockers(daemon, args):
    def own_name(t):  # "docker: unknown command: docker volume nope"
        return (t[0], t[1], t[2].replace("unknown command: docker ", "unknown command: berth "))

    r = same(daemon, *args, normalize=own_name)
    assert r.returncode != 0 and r.stderr


def test_cluster_flags_are_refused_by_api_version(daemon):
    for args in (["volume", "create", "--scope", "multi", "--type", "mount", "xx"],
                 ["volume", "create", "--availability", "pause", "--group", "g", "xx"],
                 ["volume", "create", "--limit-bytes", "10", "--secret", "a=b", "xx"],
                 ["volume", "create", "--sharing", "all", "--topology-required", "a=b", "xx"],
                 ["volume", "ls", "--cluster"], ["volume", "prune", "-a"],
                 ["volume", "prune", "--all", "-f"]):
        r = same(daemon, *args)
        assert r.returncode == 1
        assert r.stderr.endswith("requires API version 1.42, but the Docker daemon API "
                                 "version is 1.41\n"), args
    # docker names itself in this one; berth does too
    dk = daemon.run("docker", "volume", "update", "x")
    bt = daemon.run("berth", "volume", "update", "x")
    assert (bt.returncode, bt.stdout, bt.stderr) == \
        (dk.returncode, dk.stdout, dk.stderr.replace("docker volume", "berth volume"))
    assert "xx" not in daemon.run("docker", "volume", "ls", "-q").stdout.split()


def test_create_sends_what_docker_sends(daemon, name):
    flags = ["--label", f"group={name}", "--label", "bare", "-o", "type=tmpfs", "-o",
             "device=tmpfs", "--opt", "o=size=1m", "-d", "local"]
    dk = daemon.run("docker", "volume", "create", *flags, name + "-d")
    bt = daemon.run("berth", "volume", "create", *flags, name + "-b")
    assert (bt.returncode, bt.stdout, bt.stderr) == (0, name + "-b\n", "")
    assert (dk.returncode, dk.stdout) == (0, name + "-d\n")
    got = json.loads(daemon.run("docker", "volume", "inspect", name + "-b").stdout)[0]
    want = json.loads(daemon.run("docker", "volume", "inspect", name + "-d").stdout)[0]
    for v in (got, want):
        v.pop("CreatedAt")
        v["Mountpoint"] = v["Mountpoint"].replace(v["Name"], "NAME")
        v["Name"] = "NAME"
    assert got == want
    assert got["Labels"] == {"group": name, "bare": ""}
    assert got["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    # --name (hidden in help, as in docker) and the daemon's own name for an anonymous one
    r = daemon.run("berth", "volume", "create", "--name", name + "-n")
    assert (r.returncode, r.stdout, r.stderr) == (0, name + "-n\n", "")
    r = daemon.run("berth", "volume", "create", "--label", f"group={name}")
    assert r.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", r.stdout), r
    # the daemon's refusals, as docker prints them
    same(daemon, "volume", "create", "-d", "nosuchdriver", name + "-x")
    same(daemon, "volume", "create", name + "/bad")
    anon = r.stdout.strip()
    daemon.run("docker", "volume", "rm", name + "-d", name + "-b", name + "-n", anon)


@pytest.fixture
def volumes(daemon, name):
    """Three volumes of this test: two labelled, one named so that it sorts naturally."""
    made = [name + "-v2", name + "-v10", name + "-plain"]
    for v in made:
        label = ["--label", f"group={name}", "--label", "k=" + v] if "plain" not in v else []
        r = daemon.run("docker", "volume", "create", *label, v)
        assert r.returncode == 0, r.stderr
    yield made
    daemon.run("docker", "volume", "rm", "-f", *made)


def test_ls_is_dockers(daemon, name, volumes):
    mine = ["-f", "name=" + name]
    r = same(daemon, "volume", "ls", *mine)
    assert r.stdout.splitlines() == ["DRIVER    VOLUME NAME", f"local     {name}-plain",
                                     f"local     {name}-v2", f"local     {name}-v10"]
    same(daemon, "volume", "list", *mine)
    r = same(daemon, "volume", "ls", "-q", *mine)
    assert r.stdout == f"{name}-plain\n{name}-v2\n{name}-v10\n"
    for fmt in ("json", "table", "raw", "{{.Name}} {{.Labels}} {{.Label \"k\"}} {{.Driver}}",
                "table {{.Name}}\t{{.Mountpoint}}\t{{.Scope}}\t{{.Size}}\t{{.Links}}",
                "table {{.Name}}\t{{.Label \"k\"}}\t{{.Group}}\t{{.Availability}}\t{{.Status}}",
                "{{json .}}", "{{.Nope}}", "{{.Name"):
        # two labels: docker prints them in Go's random map order
        same(daemon, "volume", "ls", "--format", fmt, *mine, normalize=labels_sorted)
        same(daemon, "volume", "ls", "-q", "--format", fmt, *mine, normalize=labels_sorted)
    same(daemon, "volume", "ls", "-f", f"label=group={name}")
    same(daemon, "volume", "ls", "-f", f"label=k={name}-v2", "-q")
    same(daemon, "volume", "ls", "-f", "driver=local", "-f", "label=group=" + name)
    same(daemon, "volume", "ls", "-f", "dangling=true", *mine)
    same(daemon, "volume", "ls", "-f", "dangling=false", *mine)
    same(daemon, "volume", "ls", "-f", "dangling=maybe")
    same(daemon, "volume", "ls", "-f", "bogus=1")


def test_ls_uses_the_config_files_volumes_format(daemon, name, volumes, tmp_path):
    (tmp_path / "config.json").write_text('{"volumesFormat": "table {{.Name}}\\t{{.Scope}}"}')
    env = dict(daemon.env, DOCKER_CONFIG=str(tmp_path), BERTH_CONFIG=str(tmp_path))
    outs = []
    for args in (["-f", "name=" + name], ["-q", "-f", "name=" + name]):
        dk = daemon.run("docker", "volume", "ls", *args, env=env)
        bt = daemon.run("berth", "volume", "ls", *args, env=env)
        assert (bt.returncode, bt.stdout, bt.stderr) == (dk.returncode, dk.stdout, dk.stderr)
        outs.append(bt.stdout)
    assert outs[0].splitlines()[0].split() == ["VOLUME", "NAME", "SCOPE"]
    assert outs[1] == f"{name}-plain\n{name}-v2\n{name}-v10\n"  # -q ignores it


def test_inspect_is_dockers(daemon, name, volumes):
    v2, v10, plain = volumes
    r = same(daemon, "volume", "inspect", v2, plain)
    assert json.loads(r.stdout)[0]["Labels"] == {"group": name, "k": v2}
    same(daemon, "volume", "inspect", "--format", "json", v10, plain)
    same(daemon, "volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{.Mountpoint}}",
         v2, v10)
    same(daemon, "volume", "inspect", "-f", "{{index .Labels \"k\"}}|{{.Labels}}", v2, plain)
    same(daemon, "volume", "inspect", "-f", "{{.Options}} {{.Status}} {{.CreatedAt | len}}",
         plain)
    r = same(daemon, "volume", "inspect", name + "-missing")
    assert (r.returncode, r.stdout) == (1, "[]\n")
    same(daemon, "volume", "inspect", v2, name + "-missing", plain)
    same(daemon, "volume", "inspect", "-f", "{{.Name}}", name + "-missing", v2)
    same(daemon, "volume", "inspect", "-f", "{{.Nope}}", v2)
    same(daemon, "volume", "inspect", "-f", "{{.Name", v2)
    same(daemon, "inspect", "--type", "volume", v2)


def test_rm_is_dockers(daemon, name):
    for tool in ("docker", "berth"):
        for v in ("a", "b"):
            assert daemon.run("docker", "volume", "create", f"{name}-{tool}-{v}").returncode == 0
    dk = daemon.run("docker", "volume", "rm", f"{name}-docker-a", name + "-missing",
                    f"{name}-docker-b")
    bt = daemon.run("berth", "volume", "rm", f"{name}-berth-a", name + "-missing",
                    f"{name}-berth-b")
    assert (bt.returncode, bt.stdout, bt.stderr) == \
        (dk.returncode, dk.stdout.replace("-docker-", "-berth-"), dk.stderr)
    assert bt.returncode == 1 and bt.stdout == f"{name}-berth-a\n{name}-berth-b\n"
    assert daemon.run("docker", "volume", "ls", "-q", "-f", "name=" + name).stdout == ""
    same(daemon, "volume", "rm", name + "-missing", name + "-missing2")
    same(daemon, "volume", "rm", "-f", name + "-missing")
    for tool in ("docker", "berth"):
        daemon.run("docker", "volume", "create", f"{name}-{tool}")
    dk = daemon.run("docker", "volume", "remove", f"{name}-docker")
    bt = daemon.run("berth", "volume", "remove", f"{name}-berth")
    assert (bt.returncode, bt.stdout) == (0, f"{name}-berth\n") == \
        (dk.returncode, dk.stdout.replace("-docker", "-berth"))


def test_rm_of_a_volume_in_use_is_dockers(daemon, name):
    vol = name + "-used"
    ctr = daemon.run("docker", "create", "--name", name, "--network", "none", "-v",
                     vol + ":/data", "busybox", "true")
    assert ctr.returncode == 0, ctr.stderr
    try:
        for force in ([], ["-f"]):
            r = same(daemon, "volume", "rm", *force, vol)
            assert r.returncode == 1
            assert r.stderr.startswith(f"Error response from daemon: remove {vol}: volume is in "
                                       "use - [")
    finally:
        daemon.run("docker", "rm", "-f", name)
        daemon.run("docker", "volume", "rm", "-f", vol)


def test_prune_is_dockers(daemon, name):
    only = ["--filter", f"label=group={name}"]

    def make():
        r = daemon.run("docker", "volume", "create", "--label", f"group={name}", name + "-p")
        assert r.returncode == 0, r.stderr

    make()
    # declined (no, "yes" is not y, end of input): nothing removed, exit 0
    for answer in ("n\n", "yes\n", ""):
        r = same(daemon, "volume", "prune", *only, input=answer)
        assert r.stdout == ("WARNING! This will remove all local volumes not used by at least "
                            "one container.\nAre you sure you want to continue? [y/N] ")
    for args, answer in (([], " Y \n"), (["-f"], None), (["--force"], None)):
        outs = []
        for tool in ("docker", "berth"):
            make()
            r = daemon.run(tool, "volume", "prune", *args, *only, input=answer)
            outs.append((r.returncode, r.stdout, as_berth(r.stderr) if tool == "docker"
                         else r.stderr))
        assert outs[1] == outs[0], args
        assert outs[1][1].endswith(f"Deleted Volumes:\n{name}-p\n\nTotal reclaimed space: 0B\n")
    # nothing to prune
    r = same(daemon, "volume", "prune", "-f", *only)
    assert r.stdout == "Total reclaimed space: 0B\n"
    same(daemon, "volume", "prune", "-f", "--filter", "bogus=1")
    same(daemon, "volume", "prune", "-f", "--filter", "all=true")
