"""`berth network` against a real daemon, compared with docker's CLI (28).

Each test runs the same command line through `docker` and `berth` against one
daemon and requires what a user sees to agree: stdout, stderr (with "berth" for
"docker") and the exit code.  Where a command changes state (create, rm,
connect, prune), each CLI gets its own object made alike, and the results are
compared with the names, ids and times that must differ put aside.

The `daemon` fixture runs each comparison twice: against cli_util's private
dockerd 20.10 (API 1.41, the reference answer) and against berthd with its
networking on, inside a network namespace of the module's own (net_util's H),
so its bridges and firewall table never reach the host's.  Every network a
test makes carries the test's unique name and lives in 10.213.0.0/16; the
fixture removes whatever the module left (containers, then networks) before
the daemon stops, and any bridge of dockerd's networks that outlived it, and
nothing else; berthd's go with its namespace.
"""
import json
import re

import pytest

import cli_util
from cli_util import as_berth, name, run_both, same  # noqa: F401 (fixtures)


def _berthd_in_netns():
    import os
    import shutil
    import tempfile
    from container_util import start_env, stop_env
    from net_util import make_net
    net = make_net()
    top = tempfile.mkdtemp(prefix="berth-test-cli-", dir="/tmp")
    os.chmod(top, 0o755)
    e = None
    try:
        e = start_env(top, network=True, netns="/run/netns/" + net.h)
        yield cli_util.Daemon(top, e.sock)
    finally:
        try:
            if e is not None:
                stop_env(e)
        finally:
            net.close()
            shutil.rmtree(top, ignore_errors=True)


def _dockerd_in_netns():
    """The reference dockerd in a namespace of its own: its networks' bridges never reach the
    host's."""
    from net_util import make_net
    net = make_net()
    try:
        yield from cli_util._dockerd(netns="/run/netns/" + net.h)
    finally:
        net.close()


@pytest.fixture(scope="module", params=["dockerd", "berthd"])
def daemon(request):
    gen = _dockerd_in_netns() if request.param == "dockerd" else _berthd_in_netns()
    d = next(gen)
    nets = []
    try:
        yield d
    finally:
        try:
            ids = d.run("docker", "ps", "-aq").stdout.split()
            if ids:
                d.run("docker", "rm", "-f", *ids)
            nets = d.run("docker", "network", "ls", "-q", "--no-trunc",
                         "-f", "type=custom").stdout.split()
            if nets:
                d.run("docker", "network", "rm", *nets)
        finally:
            gen.close()


def help_text(t):
    """Help goes to stdout, where docker names itself: "Usage:  docker network ls", aliases."""
    return (t[0], t[1].replace("docker network", "berth network"), t[2])


def own_name(t):  # "docker: unknown command: docker network nope"
    return (t[0], t[1], t[2].replace("unknown command: docker ", "unknown command: berth "))


@pytest.mark.parametrize("args", [
    ["network"], ["network", "--help"], ["help", "network"], ["network", "create", "--help"],
    ["network", "ls", "--help"], ["network", "list", "--help"], ["network", "inspect", "--help"],
    ["network", "rm", "--help"], ["network", "remove", "--help"], ["network", "connect", "--help"],
    ["network", "disconnect", "--help"], ["network", "prune", "--help"],
], ids=" ".join)
def test_help_is_dockers(daemon, args):
    r = same(daemon, *args, normalize=help_text)
    assert r.returncode == 0 and "Usage:  berth network" in (r.stderr if args == ["network"]
                                                            else r.stdout)


USAGE_ERRORS = [
    ["network", "nope"],
    ["network", "create"],
    ["network", "create", "a", "b"],
    ["network", "create", "--bogus", "x"],
    ["network", "create", "--label", "=x", "x"],
    ["network", "create", "--ipv6=maybe", "x"],
    ["network", "ls", "x"],
    ["network", "ls", "-f", "bogus"],
    ["network", "inspect"],
    ["network", "rm"],
    ["network", "remove"],
    ["network", "connect", "a"],
    ["network", "connect", "--link", "a:b:c", "n", "c"],
    ["network", "connect", "--link", "", "n", "c"],
    ["network", "connect", "--gw-priority", "x", "n", "c"],
    ["network", "disconnect", "a", "b", "c"],
    ["network", "prune", "x"],
    ["network", "prune", "--filter", "bogus"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=" ".join)
def test_usage_errors_are_dockers(daemon, args):
    r = same(daemon, *args, normalize=own_name)
    assert r.returncode != 0 and r.stderr


# docker's createIPAMConfig refusals, before anything reaches the daemon, and the
# daemon's own refusals of what the CLI lets through
CREATE_ERRORS = [
    ["--gateway", "10.213.0.1"],
    ["--subnet", "10.213.0.0/24", "--ip-range", "10.213.0.0/25", "--ip-range", "10.213.0.128/25"],
    ["--subnet", "10.213.0.0/24", "--gateway", "10.213.1.1"],
    ["--subnet", "10.213.0.0/24", "--gateway", "nonsense"],
    ["--subnet", "10.213.0.0/24", "--gateway", "10.213.0.1", "--gateway", "10.213.0.2"],
    ["--subnet", "10.213.0.0/24", "--ip-range", "10.213/16"],
    ["--subnet", "10.213.0.0/24", "--ip-range", "10.214.0.0/25"],
    ["--subnet", "10.213.0.0/24", "--aux-address", "a=10.214.0.9"],
    ["--subnet", "10.213.0.0/16", "--subnet", "10.213.4.0/24"],
    ["--subnet", "10.213.0.0/33,10.213.4.0/24"],
    ["--subnet", "10.213.4.0/24", "--subnet", "10.213.0.0/33"],
    ["--subnet", "10.213.0.0/33"],
    ["--subnet", "fd00:213::/64", "--gateway", "10.213.0.1"],
    ["-d", "nosuchdriver"],
    ["--ipam-driver", "nosuchipam"],
    ["--config-from", "nosuchnetwork"],
    ["--ingress"],
    ["--scope", "swarm"],
]


@pytest.mark.parametrize("flags", CREATE_ERRORS, ids=" ".join)
def test_create_refusals_are_dockers(daemon, name, flags):
    r = same(daemon, "network", "create", *flags, name, retries=1)
    assert r.returncode == 1 and r.stderr and not r.stdout
    assert name not in daemon.run("docker", "network", "ls").stdout


def inspected(d, net):
    r = d.run("docker", "network", "inspect", net)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def comparable(n, subnet_digit):
    """A network's inspect with what two creations must differ in put aside."""
    n = json.loads(json.dumps(n).replace(f"10.213.{subnet_digit}.", "10.213.X.")
                   .replace(f"fd00:213:{subnet_digit}:", "fd00:213:X:"))
    for k in ("Id", "Created", "Name"):
        n.pop(k)
    # docker's CLI gathers its --subnet entries in a Go map, so the order it sends them in
    # varies from run to run; the set of IPAM configs is what must agree
    cfgs = (n.get("IPAM") or {}).get("Config")
    if cfgs:
        cfgs.sort(key=lambda c: json.dumps(c, sort_keys=True))
    return n


@pytest.mark.parametrize("flags", [
    ["--subnet", "10.213.{n}.0/24"],
    ["--subnet", "10.213.{n}.0/24", "--gateway", "10.213.{n}.1", "--ip-range",
     "10.213.{n}.128/25", "--aux-address", "host1=10.213.{n}.5", "--aux-address",
     "host2=10.213.{n}.6"],
    ["--label", "a=b", "--label", "bare", "-o", "com.docker.network.bridge.enable_icc=false",
     "--opt", "com.docker.network.driver.mtu=1400", "--ipam-opt", "x=y", "--internal",
     "--attachable", "--scope", "local", "-d", "bridge", "--ipam-driver", "default",
     "--subnet", "10.213.{n}.0/24"],
    ["--ipv6", "--subnet", "10.213.{n}.0/24,fd00:213:{n}::/64"],
    ["--ipv4=false", "--ipv6=false", "--subnet", "10.213.{n}.0/24"],
], ids=" ".join)
def test_create_sends_what_docker_sends(daemon, name, flags):
    dk_flags = [f.replace("{n}", "10") for f in flags]
    bt_flags = [f.replace("{n}", "11") for f in flags]
    dk = daemon.run("docker", "network", "create", *dk_flags, name + "-d")
    bt = daemon.run("berth", "network", "create", *bt_flags, name + "-b")
    try:
        assert dk.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", dk.stdout), dk
        assert (bt.returncode, bt.stderr) == (0, "") and re.fullmatch(r"[0-9a-f]{64}\n",
                                                                      bt.stdout), bt
        got = inspected(daemon, name + "-b")
        assert got["Id"] == bt.stdout.strip()
        assert comparable(got, 11) == comparable(inspected(daemon, name + "-d"), 10)
        # the name is taken now: the daemon's refusal, as docker prints it
        same(daemon, "network", "create", name + "-b", retries=1)
    finally:
        daemon.run("docker", "network", "rm", name + "-d", name + "-b")


def test_config_only_and_config_from(daemon, name):
    made = []
    try:
        for who, n in (("docker", "12"), ("berth", "13")):
            cfg, net = f"{name}-{who}-cfg", f"{name}-{who}"
            r = daemon.run(who, "network", "create", "--config-only", "--subnet",
                           f"10.213.{n}.0/24", "--label", "k=v", cfg)
            assert r.returncode == 0, r.stderr
            made.append(cfg)
            r = daemon.run(who, "network", "create", "--config-from", cfg, net)
            assert r.returncode == 0, r.stderr
            made.insert(0, net)
        for suffix in ("-cfg", ""):
            got = comparable(inspected(daemon, f"{name}-berth{suffix}"), 13)
            want = comparable(inspected(daemon, f"{name}-docker{suffix}"), 12)
            got["ConfigFrom"]["Network"] = got["ConfigFrom"]["Network"].replace("berth", "X")
            want["ConfigFrom"]["Network"] = want["ConfigFrom"]["Network"].replace("docker", "X")
            assert got == want
        assert inspected(daemon, name + "-berth")["ConfigFrom"] == {"Network": name + "-berth-cfg"}
    finally:
        daemon.run("docker", "network", "rm", *made)


@pytest.fixture
def networks(daemon, name):
    """Three networks of this test, named to sort naturally, one labelled, one internal."""
    made = [(name + "-n2", ["--label", f"group={name}", "--subnet", "10.213.20.0/24"]),
            (name + "-n10", ["--internal", "--subnet", "10.213.21.0/24"]),
            (name + "-plain", ["--subnet", "10.213.22.0/24"])]
    for n, flags in made:
        r = daemon.run("docker", "network", "create", *flags, n)
        assert r.returncode == 0, r.stderr
    yield [n for n, _ in made]
    daemon.run("docker", "network", "rm", *[n for n, _ in made])


def test_ls_is_dockers(daemon, name, networks):
    mine = ["-f", "name=" + name]
    r = same(daemon, "network", "ls", *mine)
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"NETWORK ID +NAME +DRIVER +SCOPE", lines[0])
    assert [ln.split()[1] for ln in lines[1:]] == [name + "-n2", name + "-n10", name + "-plain"]
    same(daemon, "network", "list", *mine)
    r = same(daemon, "network", "ls", "-q", *mine)
    assert all(re.fullmatch(r"[0-9a-f]{12}", x) for x in r.stdout.split())
    r = same(daemon, "network", "ls", "-q", "--no-trunc", *mine)
    assert all(re.fullmatch(r"[0-9a-f]{64}", x) for x in r.stdout.split())
    same(daemon, "network", "ls", "--no-trunc", *mine)
    for fmt in ("json", "table", "raw", "{{.Name}} {{.Labels}} {{.Label \"group\"}} {{.Driver}}",
                "table {{.Name}}\t{{.IPv4}}\t{{.IPv6}}\t{{.Internal}}\t{{.Labels}}",
                "table {{.ID}}\t{{.CreatedAt}}", "{{json .}}", "{{.Foo}}", "{{",
                "table {{.Label \"com.example.some-label\"}}"):
        r = same(daemon, "network", "ls", "--format", fmt, *mine)
        if fmt == "json":
            assert len(r.stdout.splitlines()) == 3 and "CreatedAt" in r.stdout
    same(daemon, "network", "ls", "-q", "--format", "raw", *mine)
    same(daemon, "network", "ls", "-q", "--format", "{{.Name}}", *mine)
    # the table when nothing matches: the header alone
    r = same(daemon, "network", "ls", "-f", "name=" + name + "-nothing")
    assert len(r.stdout.splitlines()) == 1


@pytest.mark.parametrize("filt", [
    ["driver=bridge"], ["driver=null"], ["label=group"], ["label!=group"], ["type=custom"],
    ["type=builtin"], ["type=bogus"], ["scope=local"], ["scope=swarm"], ["dangling=true"],
    ["dangling=false"], ["dangling=maybe"], ["bogus=1"], ["name=-n1"], ["id=0"],
    ["driver=bridge", "label=group"],
], ids=" ".join)
def test_ls_filters_are_dockers(daemon, name, networks, filt):
    args = [x for f in filt for x in ("-f", f)]
    if not any(f.startswith(("bogus", "type=bogus", "dangling=maybe")) for f in filt):
        args += ["-f", "name=" + name]  # only this test's networks
    same(daemon, "network", "ls", *args)


def test_ls_format_from_config_file(daemon, name, networks):
    import os
    env = dict(daemon.env)
    for var in ("BERTH_CONFIG", "DOCKER_CONFIG"):
        os.makedirs(env[var], exist_ok=True)
        with open(os.path.join(env[var], "config.json"), "w") as f:
            json.dump({"networksFormat": "{{.Name}}: {{.Driver}}"}, f)
    try:
        for args in (["-f", "name=" + name], ["-q", "-f", "name=" + name]):
            dk = daemon.run("docker", "network", "ls", *args, env=env)
            bt = daemon.run("berth", "network", "ls", *args, env=env)
            assert (bt.returncode, bt.stdout, bt.stderr) == (dk.returncode, dk.stdout, dk.stderr)
        assert dk.stdout.startswith(("" if "-q" in args else name))
    finally:
        for var in ("BERTH_CONFIG", "DOCKER_CONFIG"):
            os.unlink(os.path.join(env[var], "config.json"))


@pytest.mark.parametrize("fmt", [
    None, "json", "{{.Name}}", "{{.ID}}", "{{.Id}} {{.Driver}} {{.Scope}}", "{{json .}}",
    "{{json .IPAM}}", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
    "{{.Labels}} {{.Internal}} {{.EnableIPv4}} {{.EnableIPv6}}", "{{index .Labels \"group\"}}",
    "{{.Foo}}", "{{", "{{json .Containers}}",
], ids=str)
def test_inspect_is_dockers(daemon, name, networks, fmt):
    f = ["-f", fmt] if fmt is not None else []
    for targets in ([networks[0]], networks, [networks[0], "nosuchnet", networks[1]], ["host"],
                    ["nosuchnet"]):
        same(daemon, "network", "inspect", *f, *targets)
    # the generic inspect renders networks as network inspect does
    same(daemon, "inspect", *f, networks[0])
    same(daemon, "inspect", "--type", "network", *f, networks[1])


def test_inspect_odd_names(daemon, networks):
    same(daemon, "network", "inspect", " ")
    same(daemon, "network", "inspect", "-v", networks[0])
    same(daemon, "network", "inspect", "--verbose", "-f", "{{.Name}}", networks[0], " ")
    same(daemon, "network", "inspect", f" {networks[1]} ")


def test_rm_is_dockers(daemon, name):
    for i, who in enumerate(("docker", "berth")):
        for k, n in enumerate(("a", "b")):
            r = daemon.run("docker", "network", "create", "--subnet",
                           f"10.213.{50 + 2 * i + k}.0/24", f"{name}-{who}-{n}")
            assert r.returncode == 0, r.stderr
    try:
        dk = daemon.run("docker", "network", "rm", name + "-docker-a", "nosuchnet",
                        " ", name + "-docker-b")
        bt = daemon.run("berth", "network", "rm", name + "-berth-a", "nosuchnet",
                        " ", name + "-berth-b")
        assert (bt.returncode, bt.stdout.replace("berth", "docker"), bt.stderr) == \
            (dk.returncode, dk.stdout, dk.stderr)
        assert dk.returncode == 1 and dk.stderr.endswith("exit status 1\n")
        assert name not in daemon.run("docker", "network", "ls").stdout
        # -f: a missing network is no error
        r = same(daemon, "network", "rm", "-f", "nosuchnet", retries=1)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
        same(daemon, "network", "remove", "nosuchnet", retries=1)
        # the builtin ones are refused by the daemon
        same(daemon, "network", "rm", "host", "none", retries=1)
    finally:
        daemon.run("docker", "network", "rm", "-f", *[f"{name}-{w}-{n}" for w in
                                                      ("docker", "berth") for n in "ab"])


def test_rm_in_use_is_refused_as_docker_refuses_it(daemon, name):
    net = name + "-busy"
    assert daemon.run("docker", "network", "create", "--subnet", "10.213.30.0/24",
                      net).returncode == 0
    try:
        r = daemon.run("docker", "run", "-d", "--name", name + "-c", "--network", net,
                       "busybox", "sleep", "600")
        assert r.returncode == 0, r.stderr
        r = same(daemon, "network", "rm", net, retries=1)
        assert r.returncode == 1 and "has active endpoints" in r.stderr
        r = same(daemon, "network", "prune", "-f", "--filter", "label!=nothing", retries=1)
        assert net not in r.stdout
        assert daemon.run("docker", "network", "inspect", net).returncode == 0
    finally:
        daemon.run("docker", "rm", "-f", name + "-c")
        daemon.run("docker", "network", "rm", net)


def endpoint(d, ctr, net):
    r = d.run("docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", ctr)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout).get(net)


def test_connect_and_disconnect_are_dockers(daemon, name):
    net = name + "-net"
    ctrs = {"docker": name + "-dk", "berth": name + "-bt"}
    assert daemon.run("docker", "network", "create", "--subnet", "10.213.40.0/24",
                      net).returncode == 0
    try:
        for c in ctrs.values():
            r = daemon.run("docker", "create", "--name", c, "--network", "none", "busybox",
                           "sleep", "600")
            assert r.returncode == 0, r.stderr
            # none is private: a container on it joins no other network
            r = daemon.run("docker", "network", "disconnect", "none", c)
            assert r.returncode == 0, r.stderr
        flags = {"docker": ["--ip", "10.213.40.50"], "berth": ["--ip", "10.213.40.51"]}
        for who, c in ctrs.items():
            r = daemon.run(who, "network", "connect", "--alias", "a1,a2", "--alias", "a3",
                           "--driver-opt", "k=v", "--driver-opt", " s = t ", "--link",
                           f"{ctrs['docker']}:peer", "--link-local-ip", "169.254.7.7",
                           *flags[who], net, c)
            assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), (who, r)
        got, want = endpoint(daemon, ctrs["berth"], net), endpoint(daemon, ctrs["docker"], net)
        for ep, c in ((got, ctrs["berth"]), (want, ctrs["docker"])):
            cid = daemon.run("docker", "inspect", "-f", "{{.Id}}", c).stdout.strip()
            ep["Aliases"] = [a for a in ep["Aliases"] if a != cid[:12]]
            ep["IPAMConfig"]["IPv4Address"] = "X"
        assert got == want and got["DriverOpts"] == {"k": "v", "s": "t"}
        assert got["Aliases"] == ["a1", "a2", "a3"]
        # connecting again, and to what is not there (a stopped container takes a network
        # that does not exist yet, as dockerd records it: not compared here)
        for args in ([net, ctrs["docker"]], ["nosuchnet", "nosuchctr"],
                     [net, "nosuchctr"], [" ", ctrs["docker"]], [net, " "],
                     ["--driver-opt", "novalue", net, ctrs["docker"]],
                     ["--driver-opt", "=v", net, ctrs["docker"]],
                     ["host", ctrs["docker"]]):
            same(daemon, "network", "connect", *args, retries=1)
        for args in (["nosuchnet", "nosuchctr"], [net, "nosuchctr"], [" ", "x"],
                     ["-f", net, "nosuchctr"]):
            same(daemon, "network", "disconnect", *args, retries=1)
        for who, c in ctrs.items():
            r = daemon.run(who, "network", "disconnect", net, c)
            assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), (who, r)
            assert endpoint(daemon, c, net) is None
        # not connected any more: the daemon's refusal for each
        dk, bt = run_both(daemon, "network", "disconnect", net, ctrs["docker"])
        assert (bt.returncode, bt.stdout, bt.stderr) == (dk.returncode, dk.stdout, dk.stderr)
        assert dk.returncode == 1 and "is not connected" in dk.stderr
    finally:
        daemon.run("docker", "rm", "-f", *ctrs.values())
        daemon.run("docker", "network", "rm", net)


def test_prune_is_dockers(daemon, name):
    # the question, answered no (or not at all): nothing goes, exit 0
    for answer in ("n\n", "", "yes\n"):
        same(daemon, "network", "prune", input=answer, retries=1)
    same(daemon, "network", "prune", "-f", "--filter", "until=bogus", retries=1)
    same(daemon, "network", "prune", "-f", "--filter", f"label=group={name}-none", retries=1)
    made = []
    try:
        for i, who in enumerate(("docker", "berth")):
            for k, (n, label) in enumerate((("a", who), ("b", who), ("keep", "other"))):
                net = f"{name}-{who}-{n}"
                r = daemon.run("docker", "network", "create", "--label",
                               f"group={name}-{label}", "--subnet",
                               f"10.213.{60 + 3 * i + k}.0/24", net)
                assert r.returncode == 0, r.stderr
                made.append(net)
        results = {}
        for who, args, answer in (("docker", ["-f"], None), ("berth", [], "y\n")):
            r = daemon.run(who, "network", "prune", *args, "--filter",
                           f"label=group={name}-{who}", input=answer)
            results[who] = (r.returncode, r.stdout.replace(who, "WHO"), r.stderr)
        # docker was given -f, berth answered yes: the question is the difference
        question = ("WARNING! This will remove all custom networks not used by at least one "
                    "container.\nAre you sure you want to continue? [y/N] ")
        got = results["berth"]
        assert got[1].startswith(question)
        # the daemon's order: dockerd walks its networks by id, which is random
        def in_order(r):
            return (r[0], sorted(r[1].splitlines()), r[2])
        assert in_order((got[0], got[1][len(question):], got[2])) == in_order(results["docker"])
        lines = results["docker"][1].splitlines()
        assert lines[0] == "Deleted Networks:" and lines[-1] == "" and \
            sorted(lines[1:-1]) == [f"{name}-WHO-a", f"{name}-WHO-b"]
        left = daemon.run("docker", "network", "ls", "-f", "name=" + name,
                          "--format", "{{.Name}}").stdout.split()
        assert sorted(left) == [f"{name}-berth-keep", f"{name}-docker-keep"]
    finally:
        daemon.run("docker", "network", "rm", "-f", *made)


def test_system_prune_names_networks_as_docker_does(daemon, name):
    results = {}
    try:
        for i, who in enumerate(("docker", "berth")):
            net = f"{name}-{who}"
            assert daemon.run("docker", "network", "create", "--label", f"sp={net}",
                              "--subnet", f"10.213.{70 + i}.0/24", net).returncode == 0
            r = daemon.run(who, "system", "prune", "-f", "--filter", f"label=sp={net}")
            results[who] = (r.returncode, r.stdout.replace(who, "WHO"), r.stderr)
        assert results["berth"] == results["docker"]
        assert results["docker"][1] == (f"Deleted Networks:\n{name}-WHO\n\n"
                                        "Total reclaimed space: 0B\n")
    finally:
        daemon.run("docker", "network", "rm", "-f", f"{name}-docker", f"{name}-berth")
