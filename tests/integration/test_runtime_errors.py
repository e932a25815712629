"""Bad input to berth-runtime: a non-zero exit, one line on stderr naming the
problem, and nothing left behind (no state dir, cgroup, mount or process)."""
import json
import os

import pytest

from runtime_util import leftovers, make_bundle, rt  # noqa: F401


def expect_failure(rt, bundle, cid, *needles, args=None):
    p = rt(*(args or ["create", "--bundle", bundle, cid]))
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert leftovers(rt, cid, bundle) == []
    return lines[0]


def raw_config(bundle, text):
    with open(os.path.join(bundle, "config.json"), "w") as f:
        f.write(text)


@pytest.mark.parametrize("mangle,needle", [
    (lambda t: "{", "config.json"),
    (lambda t: t[: len(t) // 2], "config.json"),
    (lambda t: t.replace('"args":', '"args": "sh", "x":', 1), "args"),
    (lambda t: t.replace('"ociVersion"', '"ociVersionX"', 1), "ociVersion"),
])
def test_malformed_config(rt, workdir, rootfs_template, unique_id, mangle, needle):
    b = make_bundle(workdir, rootfs_template, ["true"])
    text = open(os.path.join(b, "config.json")).read()
    raw_config(b, mangle(text))
    expect_failure(rt, b, unique_id, needle)


def test_missing_config(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["true"])
    os.unlink(os.path.join(b, "config.json"))
    expect_failure(rt, b, unique_id, "config.json", "no such file or directory")


def test_missing_rootfs(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["root"]["path"] = "no-such-rootfs"
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    expect_failure(rt, b, unique_id, "rootfs", "no-such-rootfs", "no such file or directory")


def test_empty_args(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, [])
    expect_failure(rt, b, unique_id, "args")


def test_program_not_found(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["no-such-program"])
    expect_failure(rt, b, unique_id, "no-such-program", "not found")


def test_unknown_namespace_path(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = "/no/such/netns"
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    expect_failure(rt, b, unique_id, "network namespace", "/no/such/netns")


def test_namespace_path_of_the_wrong_kind(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = "/proc/self/ns/uts"
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    expect_failure(rt, b, unique_id, "not a network namespace")


def test_uid_without_mapping_in_the_user_namespace(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000}]
        c["process"]["user"] = {"uid": 5000, "gid": 0}
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    expect_failure(rt, b, unique_id, "uid 5000")


@pytest.mark.parametrize("cid,needle", [
    ("a/b", "invalid container id"),
    ("..", "invalid container id"),
    (".", "invalid container id"),
    ("", "must not be empty"),
])
def test_bad_ids(rt, workdir, rootfs_template, cid, needle):
    b = make_bundle(workdir, rootfs_template, ["true"])
    p = rt("create", "--bundle", b, cid)
    assert p.returncode != 0
    assert len(p.stderr.strip().splitlines()) == 1 and needle in p.stderr
    assert os.listdir(rt.root) == []


def test_existing_id(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "100"])
    rt("create", "--bundle", b, unique_id, check=True)
    pid = rt.state(unique_id)["pid"]
    p = rt("create", "--bundle", b, unique_id)
    assert p.returncode != 0
    assert "container '%s' already exists" % unique_id in p.stderr
    # the first one is untouched
    st = rt.state(unique_id)
    assert st["status"] == "created" and st["pid"] == pid


def test_hostname_without_uts_namespace(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"]
        c["hostname"] = "nope"
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    expect_failure(rt, b, unique_id, "uts namespace")


def test_apparmor_requested_without_apparmor(rt, workdir, rootfs_template, unique_id):
    if os.path.exists("/sys/module/apparmor/parameters/enabled") and \
            open("/sys/module/apparmor/parameters/enabled").read().startswith("Y"):
        pytest.skip("this host has AppArmor enabled")

    def edit(c):
        c["process"]["apparmorProfile"] = "docker-default"
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    expect_failure(rt, b, unique_id, "AppArmor is not enabled", "docker-default")


def test_systemd_cgroup_is_refused_clearly(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["cgroupsPath"] = "system.slice:berth:" + unique_id
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    line = expect_failure(rt, b, unique_id, "systemd",
                          args=["--systemd-cgroup", "create", "-b", b, unique_id])
    assert "cgroup" in line


def test_bad_mount(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["mounts"].append({"destination": "/x", "type": "bind",
                            "source": "/no/such/source", "options": ["bind"]})
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    expect_failure(rt, b, unique_id, "/no/such/source")


def test_unknown_command_and_flag(rt):
    p = rt("frobnicate")
    assert p.returncode != 0 and "unknown command 'frobnicate'" in p.stderr
    p = rt("create", "--no-such-flag", "x")
    assert p.returncode != 0 and "unknown flag '--no-such-flag'" in p.stderr


def test_exec_with_unknown_user(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "100"])
    rt("run", "-d", "-b", b, unique_id, check=True)
    p = rt("exec", "--user", "nosuchuser", unique_id, "true")
    # libcontainer's words for a name the container's /etc/passwd lacks
    assert p.returncode != 0 and ("unable to find user nosuchuser: no matching entries in "
                                  "passwd file") in p.stderr, p.stderr
    json.loads(rt("state", unique_id, check=True).stdout)
