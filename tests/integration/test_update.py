"""`update` on berthd (POST /containers/{id}/update), driven by berth's CLI and the
real docker CLI (28): new limits reach the running container's cgroup (memory,
swap, pids, CPU quota, shares) and the record, a stopped container keeps them
for its next start, the restart policy changes, and dockerd's refusals come
with dockerd's words (taken from a private dockerd 20.10).
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from container_util import cgroup_dirs, start_env, stop_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERTH = os.path.join(os.environ.get("BERTH_BUILD", os.path.join(REPO, "build")), "src", "cmd",
                     "berth")


@pytest.fixture(scope="module")
def env():
    top = tempfile.mkdtemp(prefix="berth-test-update-", dir="/tmp")
    os.chmod(top, 0o755)
    e = start_env(top)
    try:
        yield e
    finally:
        try:
            stop_env(e)
        finally:
            shutil.rmtree(top, ignore_errors=True)


def berth(e, *args):
    return subprocess.run([BERTH, *args], capture_output=True, text=True, timeout=60,
                          env=dict(e.env(), BERTH_NO_AUTOSTART="1"))


def cg_value(cid, *names):
    """The first of the files found in the container's cgroup directories."""
    for d in cgroup_dirs(cid):
        for n in names:
            p = os.path.join(d, n)
            if os.path.exists(p):
                with open(p) as f:
                    return f.read().strip()
    raise AssertionError("none of %s for %s" % (names, cid))


def test_update_a_running_container(env):
    cid = env.ok("run", "-d", "busybox", "sleep", "60").strip()
    r = berth(env, "update", "-m", "64m", "--memory-swap", "128m", "--pids-limit", "20",
              "--cpus", "0.5", "--cpu-shares", "512", "--restart", "on-failure:3", cid[:12])
    assert (r.returncode, r.stdout, r.stderr) == (0, cid[:12] + "\n", "")
    assert cg_value(cid, "memory.max", "memory.limit_in_bytes") == str(64 << 20)
    swap = cg_value(cid, "memory.swap.max", "memory.memsw.limit_in_bytes")
    # v1 counts memory plus swap, v2 swap alone
    assert swap in (str(128 << 20), str(64 << 20))
    assert cg_value(cid, "pids.max") == "20"
    quota = cg_value(cid, "cpu.max", "cpu.cfs_quota_us")
    assert quota in ("50000 100000", "50000")
    hc = env.inspect(cid)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["PidsLimit"], hc["NanoCpus"], hc["CpuShares"]) \
        == (64 << 20, 128 << 20, 20, 500000000, 512)
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    # a fork bomb now stops at the new pids limit
    out = env.docker("exec", cid, "sh", "-c",
                     "for i in $(seq 40); do sleep 1 & done 2>&1; wait 2>/dev/null; true")
    assert "can't fork" in out.stdout + out.stderr or "Resource" in out.stdout + out.stderr
    env.ok("rm", "-f", cid)


def test_update_a_stopped_container_applies_at_start(env):
    cid = env.ok("create", "busybox", "sleep", "60").strip()
    env.ok("update", "--pids-limit", "33", cid)  # the docker CLI
    assert env.inspect(cid)["HostConfig"]["PidsLimit"] == 33
    env.ok("start", cid)
    assert cg_value(cid, "pids.max") == "33"
    env.ok("rm", "-f", cid)


def test_update_refusals_as_dockerd(env):
    cid = env.ok("run", "-d", "busybox", "sleep", "60").strip()
    r = env.docker("update", "-m", "64m", cid)
    assert r.returncode == 1
    assert r.stderr.strip() == ("Error response from daemon: Cannot update container %s: Memory "
                                "limit should be smaller than already set memoryswap limit, "
                                "update the memoryswap at the same time" % cid)
    r = env.docker("update", "-m", "1k", "--memory-swap", "-1", cid)
    assert r.returncode == 1 and "Minimum memory limit allowed is 6MB" in r.stderr
    env.ok("update", "--cpus", "0.5", cid)
    r = env.docker("update", "--cpu-quota", "20000", cid)
    assert r.returncode == 1 and ("CPU Quota cannot be updated as NanoCPUs has already been set"
                                  in r.stderr)
    assert env.inspect(cid)["HostConfig"]["CpuQuota"] == 0
    r = berth(env, "update", cid)
    assert (r.returncode, r.stderr) == (1, "you must provide one or more flags when using this "
                                           "command\n")
    r = berth(env, "update", "--pids-limit", "5", "nosuch", cid)
    assert r.returncode == 1 and r.stdout == cid + "\n"
    assert r.stderr == "Error response from daemon: No such container: nosuch\n"
    env.ok("rm", "-f", cid)
    cid = env.ok("run", "-d", "--rm", "busybox", "sleep", "60").strip()
    r = env.docker("update", "--restart", "always", cid)
    assert r.returncode == 1 and ("Restart policy cannot be updated because AutoRemove is "
                                  "enabled for the container" in r.stderr)
    env.ok("rm", "-f", cid)


def test_memory_swap_recorded_and_limits_lifted(env):
    cid = env.ok("run", "-d", "-m", "64m", "--pids-limit", "20", "busybox", "sleep",
                 "60").strip()
    hc = env.inspect(cid)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"]) == (64 << 20, 128 << 20)  # as dockerd records it
    env.ok("update", "-m", "32m", cid)  # below the recorded swap: accepted, as dockerd
    assert cg_value(cid, "memory.max", "memory.limit_in_bytes") == str(32 << 20)
    env.ok("update", "--pids-limit", "-1", cid)
    assert cg_value(cid, "pids.max") == "max"
    env.ok("rm", "-f", cid)
