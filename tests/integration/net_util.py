"""What the networking tests share: a daemon in a network namespace of the test's
own, with an "outside" namespace routed from it (see test_networks.py)."""
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import build_path
from container_util import start_env, stop_env

BUSYBOX = "/bin/busybox"
HELPER = build_path("tests", "helper", "berth-testhelper")
H_ADDR = "10.250.0.1"
O_ADDR = "10.250.0.2"


def sh(*args, check=True, timeout=30, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


def in_ns(ns, *args, check=True, timeout=30):
    return sh("nsenter", "--net=/run/netns/" + ns, *args, check=check, timeout=timeout)


def port_open(ns, addr, port):
    """Whether addr:port accepts a TCP connection, asked from the namespace ns."""
    p = in_ns(ns, BUSYBOX, "timeout", "2", BUSYBOX, "nc", addr, str(port), check=False,
              timeout=10)
    return p.returncode == 0


class Net:
    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.h, self.o = "bt-h-" + tag, "bt-o-" + tag
        sh("ip", "netns", "add", self.h)
        sh("ip", "netns", "add", self.o)
        for ns in (self.h, self.o):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "vh", "netns", self.h, "type", "veth", "peer", "name", "vo",
           "netns", self.o)
        sh("ip", "-n", self.h, "addr", "add", H_ADDR + "/24", "dev", "vh")
        sh("ip", "-n", self.o, "addr", "add", O_ADDR + "/24", "dev", "vo")
        sh("ip", "-n", self.h, "link", "set", "vh", "up")
        sh("ip", "-n", self.o, "link", "set", "vo", "up")
        sh("ip", "-n", self.h, "route", "add", "default", "via", O_ADDR)
        self.servers = []

    def serve_outside(self, port, text):
        """An HTTP server in O on O_ADDR:port answering text, logging its clients."""
        root = tempfile.mkdtemp(prefix="bt-www-")
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write(text)
        log = os.path.join(root, "log")
        p = subprocess.Popen(["nsenter", "--net=/run/netns/" + self.o, BUSYBOX, "httpd", "-f",
                              "-vv", "-p", "%s:%d" % (O_ADDR, port), "-h", root],
                             stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        self.servers.append((p, root))
        deadline = time.time() + 5
        while time.time() < deadline:
            if port_open(self.o, O_ADDR, port):
                break
            time.sleep(0.05)
        return log

    def close(self):
        for p, root in self.servers:
            p.kill()
            p.wait()
            shutil.rmtree(root, ignore_errors=True)
        for ns in (self.h, self.o):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def wget(ns, url, timeout=5):
    # (busybox 1.35's wget -T crashes: the timeout applet bounds it instead)
    return in_ns(ns, BUSYBOX, "timeout", str(timeout), BUSYBOX, "wget", "-q", "-O", "-", url,
                 check=False, timeout=timeout + 5)


def make_net():
    if not shutil.which("nsenter") or not os.path.exists(BUSYBOX):
        pytest.fail("nsenter and busybox-static are needed: scripts/deps.sh installs them")
    return Net()


def net_env_fixture(config=None, name="env", prepare=None, extra_args=()):
    """A module-scoped fixture: berthd (with extra_args) with networking in H; env.net is
    the Net.  prepare(net), if given, runs before berthd starts."""
    @pytest.fixture(scope="module", name=name)
    def env():
        net = make_net()
        if prepare:
            prepare(net)
        root = tempfile.mkdtemp(prefix="berth-net-", dir="/tmp")
        os.chmod(root, 0o755)
        e = None
        try:
            e = start_env(root, config=config, extra_args=extra_args, network=True,
                          netns="/run/netns/" + net.h)
            e.net = net
            yield e
        finally:
            try:
                if e is not None:
                    stop_env(e)
            finally:
                net.close()
                shutil.rmtree(root, ignore_errors=True)
    return env



