"""Health checks on berthd, driven by the real docker CLI (28): the image's
HEALTHCHECK and --health-*, State.Health in inspect, (healthy)/(unhealthy) in
ps, the health filter, health_status events, and dockerd's rules for retries,
timeouts, the start period, stop and live restore.  The expected texts were
taken from a private dockerd 20.10 running the same containers.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from container_util import busybox_layer, image_archive, load_image, start_env, stop_env


@pytest.fixture(scope="module")
def env():
    top = tempfile.mkdtemp(prefix="berth-test-health-", dir="/tmp")
    os.chmod(top, 0o755)
    e = start_env(top)
    archive = os.path.join(top, "himg.tar")
    image_archive(archive, ["himg:latest"], [busybox_layer(top)],
                  config={"Healthcheck": {"Test": ["CMD-SHELL", "echo from-image"],
                                          "Interval": 300000000, "Retries": 2}})
    load_image(e.d, archive)
    try:
        yield e
    finally:
        try:
            stop_env(e)
        finally:
            shutil.rmtree(top, ignore_errors=True)


def health(e, cid):
    return e.inspect(cid)["State"].get("Health")


def wait_health(e, cid, status, timeout=15):
    deadline = time.time() + timeout
    h = None
    while time.time() < deadline:
        h = health(e, cid)
        if h and h["Status"] == status:
            return h
        time.sleep(0.1)
    raise AssertionError("%s: health never %s: %s" % (cid, status, h))


def test_healthy_container(env):
    since = str(int(time.time()) - 1)
    cid = env.ok("run", "-d", "--health-cmd", "echo hi", "--health-interval", "500ms",
                 "busybox", "sleep", "60").strip()
    h = health(env, cid)
    assert h == {"Status": "starting", "FailingStreak": 0, "Log": []}
    assert "(health: starting)" in env.ok("ps", "--filter", "id=" + cid, "--format",
                                          "{{.Status}}")
    h = wait_health(env, cid, "healthy")
    assert h["FailingStreak"] == 0 and h["Log"][0]["ExitCode"] == 0
    assert h["Log"][0]["Output"] == "hi\n"
    assert h["Log"][0]["Start"] <= h["Log"][0]["End"]
    assert env.ok("ps", "--filter", "id=" + cid, "--format", "{{.Status}}").strip().endswith(
        "(healthy)")
    assert env.ok("ps", "-q", "--no-trunc", "--filter", "health=healthy").split() == [cid]
    assert cid not in env.ok("ps", "-q", "--no-trunc", "--filter", "health=none")
    # the log keeps the last five
    deadline = time.time() + 10
    while len(health(env, cid)["Log"]) < 5 and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.2)
    assert len(health(env, cid)["Log"]) == 5
    env.ok("stop", "-t", "1", cid)
    assert health(env, cid)["Status"] == "unhealthy"  # as dockerd, at stop
    out = env.ok("events", "--since", since, "--until", str(int(time.time()) + 1),
                 "--filter", "container=" + cid, "--filter", "event=health_status",
                 "--format", "{{.Action}}")
    assert out.splitlines() == ["health_status: healthy"]
    env.ok("start", cid)
    assert health(env, cid)["Status"] == "starting" and health(env, cid)["FailingStreak"] == 0
    env.ok("rm", "-f", cid)


def test_failing_check_becomes_unhealthy_after_retries(env):
    cid = env.ok("run", "-d", "--health-cmd", "echo bad >&2; exit 3", "--health-interval",
                 "300ms", "--health-retries", "2", "busybox", "sleep", "60").strip()
    h = wait_health(env, cid, "unhealthy")
    assert h["FailingStreak"] == 2
    assert [(x["ExitCode"], x["Output"]) for x in h["Log"]] == [(3, "bad\n"), (3, "bad\n")]
    assert env.ok("ps", "-q", "--no-trunc", "--filter", "health=unhealthy").split() == [cid]
    env.ok("rm", "-f", cid)


def test_timeout_kills_the_probe(env):
    cid = env.ok("run", "-d", "--health-cmd", "sleep 30", "--health-interval", "300ms",
                 "--health-timeout", "500ms", "--health-retries", "1", "busybox",
                 "sleep", "60").strip()
    h = wait_health(env, cid, "unhealthy")
    assert h["Log"][0]["ExitCode"] == -1
    assert h["Log"][0]["Output"] == "Health check exceeded timeout (500ms)"
    # the probe that ran out of time was killed, not left running in the container
    time.sleep(0.3)
    procs = env.ok("top", cid, "-o", "pid,args")
    assert procs.count("sleep 30") <= 1  # at most the probe just started
    env.ok("rm", "-f", cid)


def test_start_period_failures_do_not_count(env):
    cid = env.ok("run", "-d", "--health-cmd", "exit 1", "--health-interval", "300ms",
                 "--health-retries", "1", "--health-start-period", "2s", "busybox",
                 "sleep", "60").strip()
    time.sleep(1.2)
    h = health(env, cid)
    assert h["Status"] == "starting" and h["FailingStreak"] == 0 and len(h["Log"]) >= 2
    h = wait_health(env, cid, "unhealthy")
    assert h["FailingStreak"] == 1
    env.ok("rm", "-f", cid)


def test_image_healthcheck_and_no_healthcheck(env):
    cid = env.ok("run", "-d", "himg", "sleep", "60").strip()
    assert env.inspect(cid)["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "echo from-image"]
    h = wait_health(env, cid, "healthy")
    assert h["Log"][0]["Output"] == "from-image\n"
    env.ok("rm", "-f", cid)
    cid = env.ok("run", "-d", "--no-healthcheck", "himg", "sleep", "60").strip()
    time.sleep(0.8)
    assert health(env, cid) is None
    assert env.ok("ps", "-q", "--no-trunc", "--filter", "health=none").split() == [cid]
    env.ok("rm", "-f", cid)


def test_bad_healthcheck_config_in_dockerds_words(env):
    r = env.docker("run", "--rm", "--health-interval", "100us", "busybox", "true")
    assert r.returncode == 125
    assert "Interval in Healthcheck cannot be less than 1ms" in r.stderr
    st, _, body = env.d.request("POST", "/v1.41/containers/create", body=json.dumps(
        {"Image": "busybox", "Healthcheck": {"Test": ["CMD", "true"], "Retries": -1}}).encode(),
        headers={"Content-Type": "application/json"})
    assert st == 400 and b"Retries in Healthcheck cannot be negative" in body


def test_health_checks_resume_after_daemon_kill(env):
    cid = env.ok("run", "-d", "--health-cmd", "echo up", "--health-interval", "300ms",
                 "busybox", "sleep", "60").strip()
    wait_health(env, cid, "healthy")
    env.d.kill()
    env.d.start()
    h = wait_health(env, cid, "healthy")
    assert h["Log"][-1]["Output"] == "up\n"
    env.ok("rm", "-f", cid)
