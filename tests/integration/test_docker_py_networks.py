"""docker-py's network API (python3-docker 5.0.3) against berthd.

berthd runs with its networking on, in a network namespace of the module's
own (net_util's H), so the bridges made here never reach the host's.  What a
program using the SDK relies on: create with IPAM, get, list with filters,
connect with aliases and a fixed address, the container's NetworkSettings
after it, disconnect, remove and prune, and the SDK's exceptions for the
daemon's refusals.
"""
import docker
import pytest

from net_util import net_env_fixture

env = net_env_fixture()


@pytest.fixture(scope="module")
def client(env):
    c = docker.DockerClient(base_url=env.host, version="auto", timeout=60)
    yield c
    c.close()


def ipam(subnet, gateway):
    pool = docker.types.IPAMPool(subnet=subnet, gateway=gateway)
    return docker.types.IPAMConfig(pool_configs=[pool])


def test_create_get_list_remove(client):
    net = client.networks.create("pyn1", driver="bridge", ipam=ipam("10.214.1.0/24",
                                                                     "10.214.1.1"),
                                 labels={"suite": "py"}, internal=True)
    try:
        got = client.networks.get("pyn1")
        assert got.id == net.id and got.name == "pyn1"
        assert got.attrs["IPAM"]["Config"] == [{"Subnet": "10.214.1.0/24",
                                                 "Gateway": "10.214.1.1"}]
        assert got.attrs["Labels"] == {"suite": "py"} and got.attrs["Internal"] is True
        assert client.networks.get(net.id[:12]).id == net.id
        assert [n.name for n in client.networks.list(filters={"label": "suite=py"})] == ["pyn1"]
        assert [n.name for n in client.networks.list(names=["pyn1"])] == ["pyn1"]
        assert [n.id for n in client.networks.list(ids=[net.id])] == [net.id]
        names = {n.name for n in client.networks.list(filters={"type": "builtin"})}
        assert names == {"bridge", "host", "none"}
        assert "pyn1" in {n.name for n in client.networks.list(filters={"dangling": True})}
        # the daemon's refusals, as the SDK raises them
        with pytest.raises(docker.errors.APIError) as e:
            client.networks.create("pyn1")
        assert e.value.status_code == 409 and "already exists" in str(e.value)
        with pytest.raises(docker.errors.APIError) as e:
            client.networks.create("pyn1b", ipam=ipam("10.214.1.0/25", None))
        assert e.value.status_code == 403 and "Pool overlaps" in str(e.value)
        with pytest.raises(docker.errors.APIError) as e:
            client.networks.create("host")
        assert e.value.status_code == 403
        with pytest.raises(docker.errors.APIError) as e:
            client.networks.get("host").remove()
        assert e.value.status_code == 403 and "pre-defined network" in str(e.value)
    finally:
        net.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get("pyn1")


def test_connect_with_aliases_and_address(client):
    net = client.networks.create("pyn2", ipam=ipam("10.214.2.0/24", "10.214.2.1"))
    ctr = client.containers.run("busybox", ["sleep", "600"], name="pyc2", detach=True)
    try:
        net.connect(ctr, aliases=["web", "www"], ipv4_address="10.214.2.50")
        ctr.reload()
        ep = ctr.attrs["NetworkSettings"]["Networks"]["pyn2"]
        assert ep["IPAddress"] == "10.214.2.50" and ep["IPPrefixLen"] == 24
        assert ep["Gateway"] == "10.214.2.1" and ep["NetworkID"] == net.id
        assert ep["IPAMConfig"] == {"IPv4Address": "10.214.2.50"}
        assert {"web", "www"} <= set(ep["Aliases"]) and ep["EndpointID"]
        assert set(ctr.attrs["NetworkSettings"]["Networks"]) == {"bridge", "pyn2"}
        # inside, the address is on an interface; the network lists the container
        code, out = ctr.exec_run(["ip", "-4", "-o", "addr"])
        assert code == 0 and b"10.214.2.50/24" in out
        net.reload()
        assert net.attrs["Containers"][ctr.id]["IPv4Address"] == "10.214.2.50/24"
        assert [c.id for c in net.containers] == [ctr.id]
        # the alias resolves from another container on the network
        peer = client.containers.run("busybox", ["nslookup", "web"], network="pyn2",
                                     remove=True)
        assert b"10.214.2.50" in peer
        with pytest.raises(docker.errors.APIError) as e:
            net.connect(ctr)
        assert e.value.status_code == 403 and "already exists in network" in str(e.value)
        # a network in use is neither removed nor pruned
        with pytest.raises(docker.errors.APIError) as e:
            net.remove()
        assert e.value.status_code == 403 and "active endpoints" in str(e.value)
        assert "pyn2" not in (client.networks.prune().get("NetworksDeleted") or [])
        net.disconnect(ctr)
        ctr.reload()
        assert set(ctr.attrs["NetworkSettings"]["Networks"]) == {"bridge"}
        code, out = ctr.exec_run(["ip", "-4", "-o", "addr"])
        assert b"10.214.2.50" not in out
        with pytest.raises(docker.errors.APIError) as e:
            net.disconnect(ctr)
        assert e.value.status_code == 500 and "is not connected to network" in str(e.value)
        with pytest.raises(docker.errors.NotFound):
            net.connect("nosuchctr")
    finally:
        ctr.remove(force=True)
        net.remove()


def test_connect_a_stopped_container_then_start(client):
    net = client.networks.create("pyn3", ipam=ipam("10.214.3.0/24", "10.214.3.1"))
    ctr = client.containers.create("busybox", ["sleep", "600"], name="pyc3")
    try:
        net.connect(ctr, ipv4_address="10.214.3.9", aliases=["db"])
        ctr.reload()
        ep = ctr.attrs["NetworkSettings"]["Networks"]["pyn3"]
        assert ep["IPAMConfig"] == {"IPv4Address": "10.214.3.9"} and ep["Aliases"] == ["db"]
        ctr.start()
        ctr.reload()
        ep = ctr.attrs["NetworkSettings"]["Networks"]["pyn3"]
        assert ep["IPAddress"] == "10.214.3.9" and "db" in ep["Aliases"]
    finally:
        ctr.remove(force=True)
        net.remove()


def test_prune_with_label_filter(client):
    keep = client.networks.create("pyn4-keep", labels={"pr": "no"})
    gone = client.networks.create("pyn4-gone", labels={"pr": "yes"})
    try:
        res = client.networks.prune(filters={"label": "pr=yes"})
        assert res == {"NetworksDeleted": ["pyn4-gone"]}
        assert client.networks.prune(filters={"label": "pr=yes"}) == {"NetworksDeleted": None}
        assert [n.name for n in client.networks.list(names=["pyn4-keep"])] == ["pyn4-keep"]
    finally:
        keep.remove()
        for n in client.networks.list(names=["pyn4-gone"]):
            n.remove()
    assert gone.id not in [n.id for n in client.networks.list()]
