"""Debian's docker-compose (1.29) drives berthd unmodified: a three-part app the
test writes (a web server with a published port and a health check, a worker
that reaches it by service name and writes into a named volume, a one-off
`run`), through up, ps, logs, exec, run, scale, stop, start, restart and down -v.

berthd runs in a network namespace of the test's own (net_util.py); the
published port is reached from the "outside" namespace.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from net_util import H_ADDR, net_env_fixture, wget

env = net_env_fixture()

COMPOSE = shutil.which("docker-compose")

APP = """\
version: "2.4"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello-$$ROLE > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment:
      ROLE: web
    ports:
      - "8090:80"
    healthcheck:
      test: ["CMD", "sh", "-c", "wget -q -O /dev/null http://127.0.0.1/"]
      interval: 1s
      retries: 20
  worker:
    image: busybox:latest
    depends_on:
      web:
        condition: service_healthy
    command: ["sh", "-c", "while true; do wget -q -O - http://web/ >> /data/got 2>&1; echo tick; sleep 1; done"]
    volumes:
      - data:/data
volumes:
  data:
"""


@pytest.fixture(scope="module")
def app(env):
    if not COMPOSE:
        pytest.fail("docker-compose is missing: scripts/deps.sh installs Debian's docker-compose")
    d = tempfile.mkdtemp(prefix="berth-compose-")
    with open(os.path.join(d, "docker-compose.yml"), "w") as f:
        f.write(APP)
    a = App(env, d)
    yield a
    a.compose("down", "-v", "--remove-orphans", check=False)
    shutil.rmtree(d, ignore_errors=True)


class App:
    def __init__(self, env, d):
        self.env, self.dir = env, d

    def compose(self, *args, check=True, timeout=120):
        e = self.env.env()
        e["COMPOSE_PROJECT_NAME"] = "bapp"
        p = subprocess.run([COMPOSE, *args], cwd=self.dir, env=e, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, (args, p.stdout, p.stderr,
                                       self.env.d.logtext()[-2000:])
        return p


def wait_for(fn, what, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def worker_got(env, name="bapp_worker_1"):
    return env.docker("exec", name, "cat", "/data/got").stdout


def test_up_ps_and_the_worker_reaches_web_by_name(app):
    app.compose("up", "-d")
    ps = app.compose("ps").stdout
    assert "bapp_web_1" in ps and "bapp_worker_1" in ps
    assert "0.0.0.0:8090->80/tcp" in ps
    env = app.env
    assert env.inspect("bapp_web_1")["State"]["Health"]["Status"] == "healthy"
    wait_for(lambda: "hello-web" in worker_got(env), "the worker to fetch http://web/")
    # the project network and the named volume exist with compose's labels
    nets = json.loads(env.ok("network", "inspect", "bapp_default"))[0]
    assert nets["Labels"]["com.docker.compose.project"] == "bapp"
    assert json.loads(env.ok("volume", "inspect", "bapp_data"))[0]["Name"] == "bapp_data"
    # the published port answers from the outside namespace
    assert wget(env.net.o, "http://%s:8090/" % H_ADDR).stdout.strip() == "hello-web"


def test_logs_exec_and_run(app):
    wait_for(lambda: "tick" in app.compose("logs", "--no-color", "worker").stdout,
             "worker logs")
    assert app.compose("exec", "-T", "web", "cat", "/www/index.html").stdout.strip() == \
        "hello-web"
    p = app.compose("run", "--rm", "-T", "worker", "sh", "-c", "wget -q -O - http://web/")
    assert p.stdout.strip().endswith("hello-web"), p.stdout
    # logs -f follows: lines written after it started reach it
    e = app.env.env()
    e["COMPOSE_PROJECT_NAME"] = "bapp"
    f = subprocess.Popen([COMPOSE, "logs", "-f", "--no-color", "--tail", "0", "worker"],
                         cwd=app.dir, env=e, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, text=True)
    try:
        time.sleep(3)
    finally:
        f.kill()
        out, _ = f.communicate(timeout=30)
    assert out.count("tick") >= 1, out


def test_scale_stop_start_restart(app):
    app.compose("up", "-d", "--scale", "worker=2")
    env = app.env
    wait_for(lambda: env.docker("inspect", "bapp_worker_2").returncode == 0, "worker 2")
    wait_for(lambda: "hello-web" in worker_got(env, "bapp_worker_2"), "worker 2 fetching")
    # the scale subcommand (deprecated in 1.29, still there) takes it back to one
    app.compose("scale", "worker=1")
    wait_for(lambda: env.docker("inspect", "bapp_worker_2").returncode != 0, "worker 2 gone")
    app.compose("stop")
    states = json.loads(env.ok("inspect", "bapp_web_1", "bapp_worker_1"))
    assert all(s["State"]["Status"] == "exited" for s in states)
    app.compose("start")
    wait_for(lambda: env.inspect("bapp_web_1")["State"]["Status"] == "running", "web running")
    app.compose("restart", "web")
    wait_for(lambda: wget(env.net.o, "http://%s:8090/" % H_ADDR).stdout.strip() == "hello-web",
             "web after restart")


def test_down_removes_everything(app):
    env = app.env
    app.compose("down", "-v")
    assert env.docker("network", "inspect", "bapp_default").returncode != 0
    assert env.docker("volume", "inspect", "bapp_data").returncode != 0
    assert env.ok("ps", "-aq", "--filter", "label=com.docker.compose.project=bapp").strip() == ""
