"""The CLI comparison harness: berth's CLI against docker's (28), both pointed at
the same daemon.

The `daemon` fixture is module-scoped and parametrised: each comparison runs
against a private dockerd 20.10 (the reference answer: berth's CLI must answer
as docker's does) and against berthd (both CLIs against ours).  The dockerd
has its own data and exec roots, socket, config file and cgroup parent, no
bridge, no iptables, and busybox imported from /bin/busybox; everything it
made is removed afterwards.  Test modules import the fixtures they use
(`from cli_util import daemon, name, same`).
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(REPO, "build"))
BERTH = os.path.join(BUILD, "src", "cmd", "berth")


class Daemon:
    def __init__(self, top, sock):
        self.top = top
        self.sock = sock
        self.env = dict(os.environ, DOCKER_HOST="unix://" + sock, BERTH_NO_AUTOSTART="1",
                        BERTH_CONFIG=os.path.join(top, "berth-config"),
                        DOCKER_CONFIG=os.path.join(top, "docker-config"))
        self.env.pop("BERTH_HOST", None)

    def run(self, tool, *args, input=None, timeout=60, env=None):
        exe = BERTH if tool == "berth" else "docker"
        return subprocess.run([exe, *args], env=env or self.env, input=input,
                              capture_output=True, text=True, timeout=timeout)


def _docker_up(env, proc, log):
    deadline = time.monotonic() + 60
    while subprocess.run(["docker", "version"], env=env, capture_output=True).returncode != 0:
        assert proc.poll() is None, "dockerd exited: " + open(log).read()[-2000:]
        assert time.monotonic() < deadline, "dockerd did not come up"
        time.sleep(0.3)


def _busybox_image(top, env):
    rootfs = os.path.join(top, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    for d in ("etc", "tmp", "root", "proc", "sys", "dev"):
        os.makedirs(os.path.join(rootfs, d))
    shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    applets = subprocess.run(["/bin/busybox", "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", os.path.join(rootfs, "bin", a))
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    tar = os.path.join(top, "rootfs.tar")
    subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
    subprocess.run(["docker", "import", "-c", 'CMD ["sh"]', "-c",
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    tar, "busybox:latest"], env=env, check=True, capture_output=True)


@pytest.fixture(scope="module", params=["dockerd", "berthd"])
def daemon(request):
    """Each comparison runs twice: against dockerd (berth's CLI must answer as docker's
    does against the reference daemon) and against berthd (both CLIs against ours)."""
    if request.param == "berthd":
        yield from _berthd()
        return
    yield from _dockerd()


def _berthd():
    from container_util import start_env, stop_env
    top = tempfile.mkdtemp(prefix="berth-test-cli-", dir="/tmp")
    os.chmod(top, 0o755)
    e = start_env(top)
    d = Daemon(top, e.sock)
    try:
        yield d
    finally:
        try:
            stop_env(e)
        finally:
            shutil.rmtree(top, ignore_errors=True)


def _dockerd(netns=None):
    """The reference dockerd, in the network namespace netns (a path) when given: the
    bridges its networks make then stay there."""
    for tool in ("dockerd", "docker"):
        assert shutil.which(tool), f"{tool} missing: scripts/deps.sh installs docker.io"
    assert os.path.exists(BERTH), "build berth first: " + BERTH
    top = tempfile.mkdtemp(prefix="berth-test-cli-", dir="/tmp")
    cgroup_parent = "berth-test-" + uuid.uuid4().hex[:12]
    sock = os.path.join(top, "docker.sock")
    with open(os.path.join(top, "daemon.json"), "w") as f:
        f.write("{}\n")
    log = os.path.join(top, "dockerd.log")
    logf = open(log, "w")
    enter = ["nsenter", "--net=" + netns] if netns else []
    proc = subprocess.Popen(
        enter + ["dockerd", "--data-root", os.path.join(top, "data"), "--exec-root",
         os.path.join(top, "exec"), "--pidfile", os.path.join(top, "dockerd.pid"),
         "-H", "unix://" + sock, "--config-file", os.path.join(top, "daemon.json"),
         "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
         "--ip-masq=false", "--userland-proxy=false", "--cgroup-parent", cgroup_parent],
        stdout=logf, stderr=subprocess.STDOUT)
    d = Daemon(top, sock)
    try:
        _docker_up(d.env, proc, log)
        _busybox_image(top, d.env)
        yield d
    finally:
        ids = subprocess.run(["docker", "ps", "-aq"], env=d.env, capture_output=True,
                             text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], env=d.env, capture_output=True)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logf.close()
        subprocess.run(["umount", "-R", "-l", top], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
        for cg in glob.glob("/sys/fs/cgroup/*/" + cgroup_parent) + \
                glob.glob("/sys/fs/cgroup/" + cgroup_parent):
            for sub, _, _ in sorted(os.walk(cg), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


@pytest.fixture
def name():
    """A unique container name prefix for one test."""
    return "bt" + uuid.uuid4().hex[:8]


def as_berth(text):
    """docker's own words about itself, as berth says them."""
    text = re.sub(r"(?m)^docker: ", "berth: ", text)
    text = text.replace("'docker ", "'berth ").replace("Usage:  docker ", "Usage:  berth ")
    return text


_LABEL_LIST = re.compile(r'[\w.-]+=[^,\s"]*(?:,[\w.-]+=[^,\s"]*)+')


def labels_sorted(result):
    """A normalize for same(): docker joins a map of labels ("a=b,k=v") in Go's random map
    order; compare the lists sorted."""
    rc, out, err = result
    return rc, _LABEL_LIST.sub(lambda m: ",".join(sorted(m.group(0).split(","))), out), err


def same(d, *args, input=None, retries=3, normalize=None):
    """Run docker and berth with the same arguments; both must answer alike."""
    for attempt in range(retries):
        dk = d.run("docker", *args, input=input)
        bt = d.run("berth", *args, input=input)
        want = (dk.returncode, dk.stdout, as_berth(dk.stderr))
        got = (bt.returncode, bt.stdout, bt.stderr)
        if normalize:
            want, got = normalize(want), normalize(got)
        if want == got:
            return bt
        time.sleep(0.5)  # a time column may have ticked between the two runs
    assert got == want, f"berth {' '.join(args)}"


def run_both(d, *args, **kw):
    return d.run("docker", *args, **kw), d.run("berth", *args, **kw)


@pytest.fixture(scope="module")
def loopback_registry(daemon):
    """A CNCF Distribution registry (Debian's docker-registry) on 127.0.0.1, storing below the
    daemon's directory; yields "127.0.0.1:<port>"."""
    binary = "/usr/bin/docker-registry"
    assert os.path.exists(binary), "docker-registry missing: scripts/deps.sh installs it"
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = tempfile.mkdtemp(prefix="reg-", dir=daemon.top)
    cfg = os.path.join(d, "config.yml")
    with open(cfg, "w") as f:
        f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {d}/data\n"
                f"http:\n  addr: \"127.0.0.1:{port}\"\n  secret: {uuid.uuid4().hex}\n")
    log = open(os.path.join(d, "registry.log"), "wb")
    proc = subprocess.Popen([binary, "serve", cfg], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the registry did not come up"
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
        log.close()
