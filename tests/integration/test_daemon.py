"""berthd and berth as a user meets them: the daemon's start-up, configuration,
sockets, signals and HTTP behaviour; `berth version` / `berth info`; finding
(and auto-starting) the daemon; and the real docker CLI and docker-py talking
to berthd.

Every daemon runs with its own --data-root, --exec-root, -H and --config-file
in a temp dir, is stopped with SIGTERM, and must then exit 0 and remove its
socket and pid file.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time
import uuid

import docker
import pytest

from conftest import build_path

BERTHD = build_path("src", "cmd", "berthd")
DEFAULT_SOCK = "/run/berth/berth.sock"
BERTH = build_path("src", "cmd", "berth")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def answers(sock_path):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(sock_path)
        s.close()
        return True
    except OSError:
        return False


# berthd's networking acts on the namespace it runs in (a bridge, a firewall table,
# ip_forward).  Test daemons leave the host's alone: without network=True they get no
# default bridge and no firewall, as dockerd with --bridge=none --iptables=false, and a
# test of networking runs its daemon inside a network namespace it made (netns=).
NO_NETWORK = {"bridge": "none", "iptables": False, "ip-forward": False}


class Daemon:
    def __init__(self, root, config=None, extra_args=(), sock=None, network=False, netns=None):
        self.root = root
        if isinstance(config, dict) and not network:
            config = {**NO_NETWORK, **config}
        elif config is None and not network:
            config = dict(NO_NETWORK)
        self.data = os.path.join(root, "data")
        self.run = os.path.join(root, "run")
        self.sock = sock or os.path.join(self.run, "berth.sock")
        self.pidfile = os.path.join(self.run, "berthd.pid")
        self.config_file = os.path.join(root, "daemon.json")
        self.log_path = os.path.join(root, "berthd.log")
        with open(self.config_file, "w") as f:
            json.dump(config if config is not None else {}, f)
        self.args = [BERTHD, "--config-file", self.config_file, "--data-root", self.data,
                     "--exec-root", self.run, "-H", "unix://" + self.sock, *extra_args]
        if netns:
            self.args = ["nsenter", "--net=" + netns, *self.args]
        self.proc = None

    def start(self, wait=True, env=None):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log,
                                     env=None if env is None else {**os.environ, **env})
        if not wait:
            return self
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("berthd exited %d: %s" % (self.proc.returncode, self.logtext()))
            if answers(self.sock):
                return self
            time.sleep(0.05)
        raise AssertionError("berthd did not answer: " + self.logtext())

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        finally:
            self.log.close()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def request(self, method, path, body=None, headers=None):
        c = UnixHTTPConnection(self.sock)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def json(self, path):
        status, _, data = self.request("GET", path)
        assert status == 200, data
        return json.loads(data)


@pytest.fixture
def tmproot():
    d = tempfile.mkdtemp(prefix="berth-daemon-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon(tmproot):
    d = Daemon(tmproot).start()
    yield d
    try:
        rc = d.stop()
        assert rc == 0, d.logtext()
        assert not os.path.exists(d.sock), "socket left behind"
        assert not os.path.exists(d.pidfile), "pid file left behind"
    finally:
        d.kill()


def raw_exchange(sock_path, data, timeout=5):
    """Send raw bytes, read until the server closes or goes quiet."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out


def berth(*args, env=None, host=None, input=None):
    e = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST", "DOCKER_HOST")}
    if env:
        e.update(env)
    cmd = [BERTH] + (["-H", host] if host else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=60, input=input)


# ---- HTTP behaviour ----

def test_ping_get_and_head(daemon):
    for method in ("GET", "HEAD"):
        status, h, body = daemon.request(method, "/_ping")
        assert status == 200
        assert h["api-version"] == "1.41"
        assert h["builder-version"] == "1"
        assert h["docker-experimental"] == "false"
        assert h["ostype"] == "linux"
        assert h["server"].startswith("Berth/")
        assert h["cache-control"] == "no-cache, no-store, must-revalidate"
        assert h["pragma"] == "no-cache"
        assert h["content-type"] == "text/plain; charset=utf-8"
        if method == "GET":
            assert body == b"OK"
        else:
            assert h["content-length"] == "0" and body == b""
    status, h, _ = daemon.request("GET", "/v1.41/_ping")
    assert status == 200


def test_version_prefixed_and_unprefixed(daemon):
    for path in ("/v1.41/version", "/version", "/v1.24/version"):
        status, h, body = daemon.request("GET", path)
        assert status == 200
        assert h["content-type"] == "application/json"
        v = json.loads(body)
        assert v["ApiVersion"] == "1.41"
        assert v["MinAPIVersion"] == "1.24"
        assert v["Os"] == "linux"
        assert v["Arch"] == "amd64"
        assert v["Version"] and v["KernelVersion"] == os.uname().release
        eng = v["Components"][0]
        assert eng["Name"] == "Engine"
        assert eng["Details"]["ApiVersion"] == "1.41"


def test_version_out_of_range(daemon):
    status, h, body = daemon.request("GET", "/v1.99/version")
    assert status == 400
    assert h["content-type"] == "application/json"
    assert json.loads(body) == {
        "message": "client version 1.99 is too new. Maximum supported API version is 1.41"}
    status, _, body = daemon.request("GET", "/v1.12/version")
    assert status == 400
    assert json.loads(body)["message"] == (
        "client version 1.12 is too old. Minimum supported API version is 1.24, "
        "please upgrade your client to a newer version")


def test_unknown_path_is_404_json(daemon):
    for path in ("/nope", "/v1.41/containers/x/nope", "/v1.41"):
        status, h, body = daemon.request("GET", path)
        assert status == 404
        assert h["content-type"] == "application/json"
        assert json.loads(body) == {"message": "page not found"}
    # Wrong method on a known path.
    status, _, _ = daemon.request("DELETE", "/version")
    assert status == 404


def test_malformed_request_is_400_and_daemon_keeps_serving(daemon):
    for bad in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
                b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"):
        out = raw_exchange(daemon.sock, bad)
        assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out
        assert b"Connection: close" in out
        assert b'{"message":' in out
    out = raw_exchange(daemon.sock, b"GET / HTTP/2.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 505 "), out
    assert daemon.request("GET", "/_ping")[0] == 200


def test_oversized_header_is_431_and_daemon_keeps_serving(daemon):
    out = raw_exchange(daemon.sock,
                       b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), out[:200]
    assert daemon.request("GET", "/_ping")[0] == 200


def test_keep_alive_and_pipelining(daemon):
    c = UnixHTTPConnection(daemon.sock)
    c.connect()
    first = c.sock
    for _ in range(3):
        c.request("GET", "/v1.41/version")
        r = c.getresponse()
        assert r.status == 200
        json.loads(r.read())
        assert c.sock is first  # same connection reused
    c.close()
    # Two requests in one write: two answers, in order, on one connection.
    out = raw_exchange(daemon.sock, b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
                                    b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 ") == 2
    assert out.index(b"200 OK") < out.index(b"404 Not Found")


def test_chunked_request_body_is_consumed(daemon):
    # A chunked body on a keep-alive connection, then a second request on the same connection:
    # the second answer proves the body was read exactly.
    out = raw_exchange(daemon.sock,
                       b"POST /_ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n"
                       b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 ") == 2, out
    assert out.startswith(b"HTTP/1.1 404")
    assert out.rstrip().endswith(b"OK")
    out = raw_exchange(daemon.sock,
                       b"POST /_ping HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out


def test_socket_mode_and_files(daemon):
    st = os.lstat(daemon.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    with open(daemon.pidfile) as f:
        assert int(f.read()) == daemon.proc.pid
    db = os.path.join(daemon.data, "berth.db")
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT version FROM schema_version").fetchone()[0] >= 1
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"images", "tags", "containers"} <= tables
    finally:
        con.close()


IDLE_RSS_TARGET_KB = 8 * 1024  # issue 3: berthd idle RSS <= 8 MB


def sanitized():
    """A sanitizer build: its shadow memory is not berthd's footprint."""
    return "libasan" in subprocess.run(["ldd", BERTHD], capture_output=True, text=True).stdout


def rss_kb(pid):
    """(VmRSS, RssAnon) in kB."""
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    return (int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)),
            int(re.search(r"RssAnon:\s+(\d+) kB", status).group(1)))


def test_idle_rss_is_small(daemon):
    if sanitized():
        pytest.skip("sanitizer build: its shadow memory is not berthd's footprint")
    daemon.request("GET", "/info")
    rss, anon = rss_kb(daemon.proc.pid)
    # What berthd itself allocates stays small; most of the RSS is shared-library pages,
    # chiefly libcurl's dependency tree (gnutls, krb5, ldap, ...), mapped at start.
    assert anon <= 3 * 1024, "idle anonymous RSS %d kB" % anon
    assert rss <= IDLE_RSS_TARGET_KB, "idle RSS %d kB (target %d kB)" % (rss, IDLE_RSS_TARGET_KB)


# ---- configuration and start-up ----

def start_expecting_failure(tmproot, config, *extra):
    d = Daemon(tmproot, config=config, extra_args=extra)
    d.start(wait=False)
    rc = d.proc.wait(15)
    d.log.close()
    return d, rc, d.logtext()


def test_bad_config_unknown_key(tmproot):
    d, rc, log = start_expecting_failure(tmproot, {"debug": True, "foo": 1, "bar": []})
    assert rc != 0
    assert log.strip() == ("unable to configure berthd with file %s: the following directives "
                           "don't match any configuration option: foo, bar" % d.config_file)
    assert not os.path.exists(d.sock)


def test_bad_config_json_and_types(tmproot):
    d = Daemon(tmproot)
    with open(d.config_file, "w") as f:
        f.write('{"debug": tru')
    d.start(wait=False)
    rc = d.proc.wait(15)
    d.log.close()
    log = d.logtext().strip()
    assert rc != 0
    assert "\n" not in log
    assert log.startswith("unable to configure berthd with file %s: " % d.config_file)
    assert not os.path.exists(d.sock)

    for cfg, msg in (({"debug": "yes"}, '"debug" must be a boolean, not string'),
                     ({"registry-mirrors": ["ftp://x"]},
                      'invalid mirror: unsupported scheme "ftp" in "ftp://x"'),
                     ({"insecure-registries": ["http://x:5000"]},
                      "insecure registry http://x:5000 should not contain '://'"),
                     ({"log-level": "loud"}, "unable to parse logging level: loud"),
                     ({"cgroup-parent": "/a/../b"},
                      "cgroup-parent '/a/../b': '.' and '..' are not allowed"),
                     ({"cgroup-parent": "berth.slice"},
                      "cgroup-parent 'berth.slice': a systemd slice needs the systemd cgroup "
                      "driver, which berthd does not have; give a path such as /berth")):
        sub = os.path.join(tmproot, uuid.uuid4().hex[:8])
        os.mkdir(sub)
        d, rc, log = start_expecting_failure(sub, cfg)
        assert rc != 0
        assert log.strip() == "unable to configure berthd with file %s: %s" % (d.config_file, msg)


def test_flag_and_file_conflict(tmproot):
    d, rc, log = start_expecting_failure(tmproot, {"max-concurrent-downloads": 2},
                                         "--max-concurrent-downloads", "5")
    assert rc != 0
    assert log.strip() == ("unable to configure berthd with file %s: the following directives are "
                           "specified both as a flag and in the configuration file: "
                           "max-concurrent-downloads: (from flag: 5, from file: 2)" % d.config_file)


def test_networking_flag_and_file_conflict(tmproot):
    d, rc, log = start_expecting_failure(tmproot, {"icc": False, "dns": ["192.0.2.1"]},
                                         "--icc=false", "--dns", "192.0.2.2", "--dns",
                                         "192.0.2.3")
    assert rc != 0
    assert log.strip() == ("unable to configure berthd with file %s: the following directives are "
                           "specified both as a flag and in the configuration file: "
                           "icc: (from flag: false, from file: false), "
                           "dns: (from flag: 192.0.2.2, 192.0.2.3, from file: 192.0.2.1)"
                           % d.config_file)


def test_bad_address_pool_flag_is_refused(tmproot):
    d, rc, log = start_expecting_failure(tmproot, {}, "--default-address-pool",
                                         "base=10.250.0.0/16,sise=24")
    assert rc != 0
    assert log.strip() == ("invalid default-address-pool 'base=10.250.0.0/16,sise=24': "
                           "'sise=24' is not base=CIDR or size=N")


def test_missing_explicit_config_file(tmproot):
    r = subprocess.run([BERTHD, "--config-file", os.path.join(tmproot, "nope.json"),
                        "--data-root", os.path.join(tmproot, "d"), "--exec-root",
                        os.path.join(tmproot, "r"), "-H", "unix://" + os.path.join(tmproot, "s")],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode != 0
    assert r.stderr.startswith("unable to configure berthd with file %s/nope.json: " % tmproot)


def test_berthd_usage_errors():
    r = subprocess.run([BERTHD, "--bogus"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 125
    assert r.stderr == "unknown flag: --bogus\nSee 'berthd --help'.\n"
    r = subprocess.run([BERTHD, "extra"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 125
    r = subprocess.run([BERTHD, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "--data-root string" in r.stdout
    r = subprocess.run([BERTHD, "-v"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("Berth version ")


def test_config_file_values_reach_info(tmproot):
    d = Daemon(tmproot, config={"registry-mirrors": ["https://mirror.example.com"],
                                "insecure-registries": ["myreg.example:5000", "10.1.0.0/16"],
                                "labels": ["a=b"], "max-concurrent-downloads": 7}).start()
    try:
        info = d.json("/info")
        rc = info["RegistryConfig"]
        assert rc["Mirrors"] == ["https://mirror.example.com/"]
        assert rc["IndexConfigs"]["docker.io"]["Mirrors"] == ["https://mirror.example.com/"]
        assert rc["IndexConfigs"]["myreg.example:5000"]["Secure"] is False
        assert "10.1.0.0/16" in rc["InsecureRegistryCIDRs"]
        assert info["Labels"] == ["a=b"]
        assert info["DockerRootDir"] == d.data
    finally:
        assert d.stop() == 0


def test_sighup_reloads(tmproot):
    d = Daemon(tmproot, config={"debug": False}).start()
    try:
        assert d.json("/info")["Debug"] is False
        with open(d.config_file, "w") as f:
            json.dump({**NO_NETWORK, "debug": True, "registry-mirrors": ["http://127.0.0.1:5999"],
                       "insecure-registries": ["127.0.0.1:5999"],
                       "max-concurrent-downloads": 9, "pidfile": "/elsewhere.pid"}, f)
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and not d.json("/info")["Debug"]:
            time.sleep(0.05)
        info = d.json("/info")
        assert info["Debug"] is True
        assert info["RegistryConfig"]["Mirrors"] == ["http://127.0.0.1:5999/"]
        assert info["RegistryConfig"]["IndexConfigs"]["127.0.0.1:5999"]["Secure"] is False
        assert info["DockerRootDir"] == d.data  # not reloadable: unchanged
        log = d.logtext()
        assert "reloaded configuration: debug: false -> true" in log
        assert "reloaded configuration: max-concurrent-downloads: 3 -> 9" in log
        assert "pidfile: changed to /elsewhere.pid, restart berthd to apply" in log
        assert os.path.exists(d.pidfile)

        # A broken file on reload: logged, the running configuration stays.
        with open(d.config_file, "w") as f:
            f.write("{nope")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "keeping the running configuration" not in d.logtext():
            time.sleep(0.05)
        assert "keeping the running configuration" in d.logtext()
        assert d.json("/info")["Debug"] is True
    finally:
        assert d.stop() == 0


def test_two_daemons_side_by_side(tmproot):
    for sub in ("a", "b", "c", "d"):
        os.mkdir(os.path.join(tmproot, sub))
    a = Daemon(os.path.join(tmproot, "a"))
    b = Daemon(os.path.join(tmproot, "b"))
    a.start()
    b.start()
    try:
        ia, ib = a.json("/info"), b.json("/info")
        assert ia["ID"] != ib["ID"]
        assert ia["DockerRootDir"] != ib["DockerRootDir"]
        # A third on a's socket is refused and a keeps serving.
        c = Daemon(os.path.join(tmproot, "c"), sock=a.sock)
        c.start(wait=False)
        assert c.proc.wait(15) != 0
        c.log.close()
        assert "another daemon is already listening on '%s' (pid %d)" % (a.sock, a.proc.pid) \
            in c.logtext()
        assert a.request("GET", "/_ping")[0] == 200
        # One with a's pid file is refused too.
        d = Daemon(os.path.join(tmproot, "d"), extra_args=("--pidfile", a.pidfile))
        d.start(wait=False)
        assert d.proc.wait(15) != 0
        d.log.close()
        assert ("failed to start daemon: pid file '%s' is in use by another berthd (pid %d)"
                % (a.pidfile, a.proc.pid)) in d.logtext()
        assert os.path.exists(a.pidfile)
    finally:
        rcs = (a.stop(), b.stop())
        a.kill()
        b.kill()
    assert rcs == (0, 0)


def test_stale_socket_and_pidfile_are_replaced(tmproot):
    d = Daemon(tmproot)
    os.makedirs(d.run)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.sock)
    s.close()  # the file stays, nobody listens
    with open(d.pidfile, "w") as f:
        f.write("999999")
    d.start()
    try:
        assert d.request("GET", "/_ping")[0] == 200
        with open(d.pidfile) as f:
            assert int(f.read()) == d.proc.pid
    finally:
        assert d.stop() == 0
    assert not os.path.exists(d.sock) and not os.path.exists(d.pidfile)


# ---- berth CLI ----

def test_berth_version(daemon):
    r = berth("version", host="unix://" + daemon.sock)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("Client:\n Version:           ")
    assert " API version:       1.41\n" in out
    assert re.search(r"^ C compiler:        (gcc|clang) \S+", out, re.M)
    assert " OS/Arch:           linux/amd64\n" in out
    assert "\nServer: Berth Engine\n Engine:\n  Version:          " in out
    assert "  API version:      1.41 (minimum version 1.24)\n" in out
    assert "  OS/Arch:          linux/amd64\n" in out
    assert "  Experimental:     false\n" in out


def test_version_built_is_the_commit_time_labelled_so(daemon):
    """berth stamps the commit's time, not the build's (reproducible builds): `version`
    says so beside docker's "Built:", for the client and for a berthd server."""
    from conftest import REPO
    r = berth("version", host="unix://" + daemon.sock)
    assert r.returncode == 0, r.stderr
    commit = re.search(r"^ Git commit:\s+(\S+)$", r.stdout, re.M).group(1)
    if commit == "unknown":  # built outside a git checkout: no time to show, no label
        assert " Built:             \n" in r.stdout and "(commit time)" not in r.stdout
        return
    ct = subprocess.run(["git", "-C", REPO, "log", "-1", "--format=%ct", commit],
                        capture_output=True, text=True, check=True).stdout.strip()
    when = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(int(ct)))
    assert " Built:             %s (commit time)\n" % when in r.stdout, r.stdout
    assert "  Built:            %s (commit time)\n" % when in r.stdout, r.stdout


def test_version_format_with_a_missing_field_fails_as_docker(daemon):
    """docker version's template sees Go structs: a field they lack is an error (exit
    1, what was written and a newline on stdout); a field they have that the JSON
    leaves out reads as its zero value; a template that does not parse exits 64."""
    host = "unix://" + daemon.sock
    cases = [
        ("{{.Nope}}", "\n", 'template: version:1:2: executing "version" at <.Nope>: '
         "can't evaluate field Nope in type system.versionInfo\n"),
        ("{{.Client.Version}} {{.Client.Nope}}", "0.1.0 \n",
         'template: version:1:29: executing "version" at <.Client.Nope>: '
         "can't evaluate field Nope in type system.clientVersion\n"),
        ("{{.Server.Nope}}", "\n", 'template: version:1:9: executing "version" at '
         "<.Server.Nope>: can't evaluate field Nope in type *types.Version\n"),
        ("{{.Server.Platform.Nope}}", "\n", 'template: version:1:9: executing "version" at '
         "<.Server.Platform.Nope>: can't evaluate field Nope in type struct { Name string }\n"),
    ]
    for fmt, out, err in cases:
        r = berth("version", "--format", fmt, host=host)
        assert (r.returncode, r.stdout, r.stderr) == (1, out, err), fmt
    r = berth("version", "--format", "{{.Server.Experimental}}|{{.Client.GoVersion}}|"
              "{{(index .Server.Components 0).Name}}", host=host)
    assert (r.returncode, r.stdout) == (0, "false||Engine\n"), r.stderr
    r = berth("version", "--format", "{{.Nope", host=host)
    assert (r.returncode, r.stdout, r.stderr) == \
        (64, "", "template parsing error: template: version:1: unclosed action\n")


def cgroup_version_from_mountinfo():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/sys/fs/cgroup":
                return "2" if fields[fields.index("-") + 1] == "cgroup2" else "1"
    return "1"


def test_info_says_which_limits_this_host_has(daemon):
    """The limit booleans of /info as moby's sysinfo finds them (qemu tests cover
    pure v1 and v2): a v1 hierarchy's root has no pids.max, the mount is enough."""
    info = daemon.json("/info")
    # the one runtime, under the name a container's HostConfig.Runtime gives it
    assert info["DefaultRuntime"] == "runc" and list(info["Runtimes"]) == ["runc"], info
    if cgroup_version_from_mountinfo() == "1":
        assert info["PidsLimit"] is os.path.exists("/sys/fs/cgroup/pids/cgroup.procs")
        assert info["MemoryLimit"] is os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        assert info["SwapLimit"] is os.path.exists(
            "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    else:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            ctrls = f.read().split()
        assert info["PidsLimit"] is ("pids" in ctrls)
        assert info["MemoryLimit"] is ("memory" in ctrls)
        assert info["OomKillDisable"] is False


def test_berth_info(daemon):
    con = sqlite3.connect(os.path.join(daemon.data, "berth.db"))
    con.execute("INSERT INTO images (id, added) VALUES ('sha256:" + "a" * 64 + "', 0)")
    con.commit()
    con.close()
    r = berth("info", host="unix://" + daemon.sock)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("Client:\n Version:    ")
    assert "\nServer:\n Containers: 0\n  Running: 0\n  Paused: 0\n  Stopped: 0\n Images: 1\n" in out
    assert " Storage Driver: overlay2\n" in out
    assert " Cgroup Driver: cgroupfs\n" in out
    assert " Cgroup Version: %s\n" % cgroup_version_from_mountinfo() in out
    assert " Kernel Version: %s\n" % os.uname().release in out
    assert " Architecture: %s\n" % os.uname().machine in out
    assert " CPUs: %d\n" % os.cpu_count() in out
    assert re.search(r"^ Total Memory: [\d.]+GiB$", out, re.M)
    assert " Name: %s\n" % socket.gethostname() in out
    assert re.search(r"^ ID: [0-9a-f-]{36}$", out, re.M)
    assert " Docker Root Dir: %s\n" % daemon.data in out
    assert " Debug Mode: false\n" in out
    assert " Insecure Registries:\n  ::1/128\n  127.0.0.0/8\n" in out
    with open("/etc/os-release") as f:
        pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M).group(1)
    assert " Operating System: %s\n" % pretty in out
    r2 = berth("system", "info", host="unix://" + daemon.sock)
    assert r2.returncode == 0 and " Images: 1\n" in r2.stdout


def test_berth_help_and_errors():
    r = berth("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage:  berth [OPTIONS] COMMAND\n")
    assert "  version     Show the Berth version information\n" in r.stdout
    r = berth("version", "--help")
    assert r.returncode == 0 and r.stdout.startswith("Usage:  berth version [OPTIONS]\n")
    r = berth("frobnicate")
    assert r.returncode == 1
    assert r.stderr == ("berth: unknown command: berth frobnicate\n\n"
                        "Run 'berth --help' for more information\n")
    r = berth("version", "--bogus")
    assert r.returncode == 125
    assert r.stderr.startswith("unknown flag: --bogus\n\nUsage:  berth version [OPTIONS]\n")
    r = berth("-v")
    assert r.returncode == 0 and r.stdout.startswith("Berth version ")
    r = berth("version", host="tcp://127.0.0.1:2375")
    assert r.returncode != 0
    assert "unsupported host 'tcp://127.0.0.1:2375'" in r.stderr


def test_host_selection_order(tmproot):
    os.mkdir(os.path.join(tmproot, "a"))
    os.mkdir(os.path.join(tmproot, "b"))
    a = Daemon(os.path.join(tmproot, "a")).start()
    b = Daemon(os.path.join(tmproot, "b")).start()
    try:
        da = " Docker Root Dir: %s\n" % a.data
        db = " Docker Root Dir: %s\n" % b.data
        assert da in berth("info", env={"DOCKER_HOST": "unix://" + a.sock}).stdout
        assert db in berth("info", env={"BERTH_HOST": "unix://" + b.sock,
                                        "DOCKER_HOST": "unix://" + a.sock}).stdout
        assert da in berth("info", host="unix://" + a.sock,
                           env={"BERTH_HOST": "unix://" + b.sock}).stdout
    finally:
        rcs = (a.stop(), b.stop())
        a.kill()
        b.kill()
    assert rcs == (0, 0)


def test_no_autostart_for_a_non_default_host(tmproot):
    sock = os.path.join(tmproot, "nobody.sock")
    for env in ({"BERTH_HOST": "unix://" + sock}, {"DOCKER_HOST": "unix://" + sock}):
        r = berth("version", env=env)
        assert r.returncode == 1
        assert r.stderr.strip() == ("Cannot connect to the Berth daemon at unix://%s. "
                                    "Is the berth daemon running?" % sock)
        assert "starting berthd" not in r.stderr
        assert not os.path.exists(sock)
    r = berth("version", host="unix://" + sock)
    assert r.returncode == 1 and "starting berthd" not in r.stderr


def test_stdout_comes_before_the_error_in_one_pipe(daemon):
    """stdout is flushed before an error goes to stderr, so `pull x 2>&1 | cat` keeps
    docker's order."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    dead = "127.0.0.1:%d" % s.getsockname()[1]  # bound, never listening: refused at once
    try:
        e = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST", "DOCKER_HOST")}
        r = subprocess.run([BERTH, "-H", "unix://" + daemon.sock, "pull", dead + "/nosuch"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60, env=e)
    finally:
        s.close()
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and lines[0] == "Using default tag: latest", r.stdout
    assert lines[1].startswith("Error response from daemon: "), r.stdout


def test_a_socket_that_refuses_the_user_says_permission_denied(tmproot):
    """A socket the user may not open is docker's "permission denied while trying to
    connect to the … daemon socket", not "Is the daemon running?"."""
    os.chmod(tmproot, 0o755)
    path = os.path.join(tmproot, "root-only.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(path)
        s.listen(1)
        os.chmod(path, 0o600)
        home = os.path.join(tmproot, "home")
        os.mkdir(home, 0o777)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            BERTH, "-H", "unix://" + path, "version"], capture_output=True,
                           text=True, timeout=30,
                           env={"PATH": os.environ["PATH"], "HOME": home})
    finally:
        s.close()
    assert r.returncode == 1
    assert r.stderr == ('permission denied while trying to connect to the Berth daemon socket at '
                        'unix://%s: Head "http://%s/_ping": dial unix %s: connect: permission '
                        'denied\n' % (path, path.replace("/", "%2F"), path)), r.stderr


def test_no_berthd_to_start_says_so(tmproot):
    """Auto-start needs berthd next to berth or on PATH: without one, berth says so,
    and never claims to be starting it."""
    if answers(DEFAULT_SOCK):
        pytest.skip("a berthd already serves %s, so auto-start is not tried" % DEFAULT_SOCK)
    lone = os.path.join(tmproot, "berth")
    shutil.copy2(BERTH, lone)
    made_run = not os.path.exists("/run/berth")
    try:
        e = {k: v for k, v in os.environ.items()
             if k not in ("BERTH_HOST", "DOCKER_HOST", "BERTH_NO_AUTOSTART")}
        e["PATH"] = os.path.join(tmproot, "empty")
        r = subprocess.run([lone, "version"], capture_output=True, text=True, timeout=60, env=e)
        assert r.returncode == 1
        assert r.stderr == (
            "Cannot connect to the Berth daemon at unix://%s. Is the berth daemon running? "
            "berthd was found neither next to %s nor on PATH, so it cannot be started\n"
            % (DEFAULT_SOCK, lone)), r.stderr
        assert not made_run or not os.path.exists("/run/berth")
    finally:
        if made_run:
            shutil.rmtree("/run/berth", ignore_errors=True)


def test_autostart_on_the_default_socket(tmproot):
    """With no -H, BERTH_HOST or DOCKER_HOST, berth starts berthd on the default socket.
    Run in a private mount namespace whose /var/lib, /run (and /etc/berth, if the host
    has one) are empty dirs of ours: the host's own berthd, store and configuration are
    neither seen nor touched, and the daemon's files land in tmproot.  And in a network
    namespace of its own: the default configuration makes the default bridge."""
    binds = []
    for host_dir in ("/var/lib", "/run", "/etc/berth"):
        if not os.path.isdir(host_dir):
            continue
        mine = os.path.join(tmproot, host_dir.strip("/").replace("/", "-"))
        os.mkdir(mine)
        binds.append((mine, host_dir))
    run_dir = os.path.join(tmproot, "run")
    pidfile = os.path.join(run_dir, "berth", "berthd.pid")
    script = "".join('mount --bind "%s" "%s" && ' % b for b in binds) + \
        '"$1" version; echo "rc=$?"; echo ---; "$1" info; echo "rc=$?"'
    env = {k: v for k, v in os.environ.items() if k not in ("BERTH_HOST", "DOCKER_HOST")}
    try:
        p = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c",
                            script,
                            "sh", BERTH], capture_output=True, text=True, env=env, timeout=60)
    finally:
        # the daemon lives on in the namespace: end it by the pid it wrote
        pid, exited = None, True
        if os.path.exists(pidfile):
            with open(pidfile) as f:
                pid = int(f.read())
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + 20
            while time.time() < deadline and os.path.exists("/proc/%d" % pid):
                time.sleep(0.05)
            exited = not os.path.exists("/proc/%d" % pid)
            if not exited:
                os.kill(pid, signal.SIGKILL)
        sock_left = os.path.exists(os.path.join(run_dir, "berth", "berth.sock"))
    version, info = p.stdout.split("---\n")
    assert version.endswith("rc=0\n") and info.endswith("rc=0\n"), p.stdout + p.stderr
    # one start, said once on stderr; the second command finds it running
    assert p.stderr.count("starting berthd in the background") == 1, p.stderr
    assert "\nServer: Berth Engine\n" in version
    assert " Docker Root Dir: /var/lib/berth\n" in info
    assert os.path.exists(os.path.join(tmproot, "var-lib", "berth", "berth.db"))
    assert pid is not None, "the auto-started berthd wrote no pid file"
    assert exited, "berthd %d did not exit on SIGTERM" % pid
    assert not sock_left, "berthd left its socket behind"


# ---- real peers ----

def docker_cli(sock, *args, tmpdir):
    env = dict(os.environ, DOCKER_CONFIG=tmpdir)
    env.pop("DOCKER_HOST", None)
    return subprocess.run(["docker", "-H", "unix://" + sock, *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_docker_cli_version_and_info(daemon, tmproot):
    cfg = os.path.join(tmproot, "docker-config")
    os.mkdir(cfg)
    r = docker_cli(daemon.sock, "version", tmpdir=cfg)
    assert r.returncode == 0, r.stderr
    assert "Server: Berth Engine" in r.stdout
    assert "API version:      1.41 (minimum version 1.24)" in r.stdout
    r = docker_cli(daemon.sock, "info", tmpdir=cfg)
    assert r.returncode == 0, r.stderr
    assert " Storage Driver: overlay2\n" in r.stdout
    assert " Docker Root Dir: %s\n" % daemon.data in r.stdout


def test_docker_py(daemon):
    c = docker.DockerClient(base_url="unix://" + daemon.sock)
    try:
        assert c.ping() is True
        v = c.version()
        assert v["ApiVersion"] == "1.41"
        assert v["Components"][0]["Name"] == "Engine"
        assert c.info()["Driver"] == "overlay2"
    finally:
        c.close()


# ---- image records (no registry needed: the test stores an image as a pull would) ----

def add_image(d, tags=(), digests=(), created=1767323045, size=1982370, labels=None, arch="amd64"):
    """Store an image config blob and its records the way the puller does."""
    import hashlib
    cfg = {"architecture": arch, "os": "linux", "created": "2026-01-02T03:04:05Z",
           "author": "berth tests",
           "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": labels},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + uuid.uuid4().hex * 2]}}
    data = json.dumps(cfg).encode()
    hexd = hashlib.sha256(data).hexdigest()
    blob = os.path.join(d.data, "blobs", "sha256", hexd)
    with open(blob, "wb") as f:
        f.write(data)
    con = sqlite3.connect(os.path.join(d.data, "berth.db"))
    try:
        con.execute("INSERT INTO images (id, created, size, added) VALUES (?, ?, ?, 0)",
                    ("sha256:" + hexd, created, size))
        for t in tags:
            con.execute("INSERT INTO tags (name, image_id) VALUES (?, ?)", (t, "sha256:" + hexd))
        for dg in digests:
            con.execute("INSERT INTO repo_digests (name, image_id) VALUES (?, ?)",
                        (dg, "sha256:" + hexd))
        con.commit()
    finally:
        con.close()
    return "sha256:" + hexd, blob


def test_save_output_path_errors_name_the_users_path(daemon, tmproot):
    """save -o checks the path as docker does before anything is written, and its errors
    name the path the user gave, never a temp file."""
    host = "unix://" + daemon.sock
    add_image(daemon, tags=["docker.io/library/busybox:latest"])
    missing = os.path.join(tmproot, "nodir", "sub")
    afile = os.path.join(tmproot, "afile")
    open(afile, "w").close()
    cases = [
        (os.path.join(missing, "x.tar"),
         "invalid output path: stat %s: no such file or directory" % missing),
        (os.path.join(afile, "x.tar"), "invalid output path: stat %s: not a directory" % afile),
        (tmproot, "cannot write to a directory"),
    ]
    for out, msg in cases:
        r = berth("save", "-o", out, "busybox", host=host)
        assert (r.returncode, r.stdout, r.stderr) == (1, "", "failed to save image: %s\n" % msg)
    # a directory the user may not write to
    ro = os.path.join(tmproot, "ro")
    os.mkdir(ro, 0o555)
    os.chmod(tmproot, 0o755)
    out = os.path.join(ro, "x.tar")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BERTH,
                        "-H", host, "save", "-o", out, "busybox"], capture_output=True,
                       text=True, timeout=30, env={"PATH": os.environ["PATH"], "HOME": ro})
    assert (r.returncode, r.stderr) == \
        (1, "failed to save image: open %s: permission denied\n" % out)
    assert os.listdir(ro) == []


def test_image_inspect_format_with_a_missing_key_fails_as_docker(daemon):
    """docker image inspect -f reads the image as a map with missingkey=error: a key it
    lacks is an error (exit 1, the other images' results printed), while the fields
    docker's struct has but the JSON may leave out (Variant, OsVersion) read empty; a
    template that does not parse exits 64 before any request."""
    host = "unix://" + daemon.sock
    busy, _ = add_image(daemon, tags=["docker.io/library/busybox:latest"])
    r = berth("image", "inspect", "-f", "{{.Nope}}", "busybox", host=host)
    assert (r.returncode, r.stdout, r.stderr) == (1, "\n", (
        'template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry '
        'for key "Nope"\n'))
    r = berth("image", "inspect", "-f", "{{.Config.Nope}}", "busybox", "busybox", host=host)
    err = ('template parsing error: template: :1:9: executing "" at <.Config.Nope>: map has no '
           'entry for key "Nope"\n')
    assert (r.returncode, r.stdout, r.stderr) == (1, "\n", err + err)
    r = berth("image", "inspect", "-f", "{{.Id}}|{{.Variant}}|{{.OsVersion}}|", "busybox",
              "nothere", host=host)
    assert (r.returncode, r.stdout, r.stderr) == \
        (1, busy + "|||\n", "Error: No such image: nothere\n")
    r = berth("image", "inspect", "-f", "{{.Id", "busybox", host=host)
    assert (r.returncode, r.stdout, r.stderr) == \
        (64, "", "template parsing error: template: :1: unclosed action\n")


def test_image_list_and_inspect(daemon):
    busy, _ = add_image(daemon, tags=["docker.io/library/busybox:latest"],
                        digests=["docker.io/library/busybox@sha256:" + "ab" * 32],
                        labels={"team": "a"})
    dangling, _ = add_image(daemon, created=1767000000, size=10)
    imgs = daemon.json("/images/json")
    assert [i["Id"] for i in imgs] == [busy, dangling]  # newest first
    b = imgs[0]
    assert b["RepoTags"] == ["busybox:latest"]
    assert b["RepoDigests"] == ["busybox@sha256:" + "ab" * 32]
    assert b["Containers"] == -1 and b["SharedSize"] == -1
    assert b["Size"] == 1982370 and b["VirtualSize"] == 1982370 and b["Created"] == 1767323045
    assert b["Labels"] == {"team": "a"}
    assert imgs[1]["RepoTags"] == ["<none>:<none>"]
    assert imgs[1]["RepoDigests"] == ["<none>@<none>"]

    q = "/images/json?filters=" + urlquote('{"dangling":{"true":true}}')
    assert [i["Id"] for i in daemon.json(q)] == [dangling]
    q = "/images/json?filters=" + urlquote('{"dangling":["false"]}')
    assert [i["Id"] for i in daemon.json(q)] == [busy]
    q = "/images/json?filters=" + urlquote('{"reference":{"busy*":true}}')
    assert [i["Id"] for i in daemon.json(q)] == [busy]
    q = "/images/json?filters=" + urlquote('{"label":["team=a"]}')
    assert [i["Id"] for i in daemon.json(q)] == [busy]
    status, _, body = daemon.request("GET", "/images/json?filters=" + urlquote('{"bogus":["x"]}'))
    assert status == 400 and json.loads(body)["message"] == "invalid filter 'bogus'"

    for name in ("busybox", "busybox:latest", "docker.io/library/busybox", busy, busy[7:19],
                 "busybox@sha256:" + "ab" * 32):
        i = daemon.json("/v1.41/images/%s/json" % name)
        assert i["Id"] == busy, name
    i = daemon.json("/images/busybox/json")
    assert i["RepoTags"] == ["busybox:latest"]
    assert i["Architecture"] == "amd64" and i["Os"] == "linux"
    assert i["Author"] == "berth tests"
    assert i["Config"]["Cmd"] == ["/bin/sh"] and i["Config"]["Env"] == ["PATH=/bin"]
    assert i["Config"]["Hostname"] == "" and i["Config"]["Entrypoint"] is None
    assert i["RootFS"]["Type"] == "layers" and len(i["RootFS"]["Layers"]) == 1
    assert i["GraphDriver"]["Name"] == "overlay2"
    status, _, body = daemon.request("GET", "/images/nothere/json")
    assert status == 404
    assert json.loads(body) == {"message": "No such image: nothere:latest"}
    status, _, body = daemon.request("GET", "/images/BusyBox/json")
    assert status == 400
    assert json.loads(body) == {
        "message": "invalid reference format: repository name must be lowercase"}


def urlquote(s):
    import urllib.parse
    return urllib.parse.quote(s, safe="")


def test_image_tag_and_remove(daemon):
    img, blob = add_image(daemon, tags=["docker.io/library/busybox:latest"])
    status, _, _ = daemon.request("POST", "/images/busybox/tag?repo=127.0.0.1:5000/x/y&tag=v1")
    assert status == 201
    status, _, body = daemon.request("POST", "/images/busybox/tag?repo=Bad/Name")
    assert status == 400, body
    status, _, body = daemon.request("POST", "/images/nothere/tag?repo=a")
    assert status == 404
    assert daemon.json("/images/json")[0]["RepoTags"] == ["127.0.0.1:5000/x/y:v1",
                                                           "busybox:latest"]
    # By ID while two repositories name it: refused without force.
    status, _, body = daemon.request("DELETE", "/images/" + img[7:19])
    assert status == 409
    assert json.loads(body)["message"] == (
        "conflict: unable to delete %s (must be forced) - image is referenced in multiple "
        "repositories" % img[7:19])
    # By name: untag only.
    status, _, body = daemon.request("DELETE", "/images/127.0.0.1:5000/x/y:v1")
    assert status == 200
    assert json.loads(body) == [{"Untagged": "127.0.0.1:5000/x/y:v1"}]
    assert os.path.exists(blob)
    # The last name: untag and delete, config blob gone.
    status, _, body = daemon.request("DELETE", "/images/busybox")
    assert json.loads(body) == [{"Untagged": "busybox:latest"}, {"Deleted": img}]
    assert not os.path.exists(blob)
    assert daemon.json("/images/json") == []
    status, _, body = daemon.request("DELETE", "/images/busybox")
    assert status == 404 and json.loads(body)["message"] == "No such image: busybox:latest"


def test_image_prune(daemon):
    keep, _ = add_image(daemon, tags=["docker.io/library/keep:1"])
    gone, blob = add_image(daemon, size=1000)
    status, _, body = daemon.request("POST", "/images/prune")
    assert status == 200
    assert json.loads(body) == {"ImagesDeleted": [{"Deleted": gone}], "SpaceReclaimed": 1000}
    assert not os.path.exists(blob)
    assert [i["Id"] for i in daemon.json("/images/json")] == [keep]
    status, _, body = daemon.request("POST", "/images/prune")
    assert json.loads(body) == {"ImagesDeleted": None, "SpaceReclaimed": 0}


def test_docker_cli_image_commands(daemon, tmproot):
    cfg = os.path.join(tmproot, "docker-config")
    os.mkdir(cfg)
    img, _ = add_image(daemon, tags=["docker.io/library/busybox:latest"])
    r = docker_cli(daemon.sock, "images", tmpdir=cfg)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^busybox\s+latest\s+%s\s+.*1\.98MB$" % img[7:19], r.stdout, re.M), r.stdout
    r = docker_cli(daemon.sock, "tag", "busybox", "localhost:5000/a/b:c", tmpdir=cfg)
    assert r.returncode == 0, r.stderr
    r = docker_cli(daemon.sock, "image", "inspect", "--format", "{{.Id}} {{.RepoTags}}",
                   "localhost:5000/a/b:c", tmpdir=cfg)
    assert r.stdout.strip() == "%s [busybox:latest localhost:5000/a/b:c]" % img
    r = docker_cli(daemon.sock, "rmi", "localhost:5000/a/b:c", "busybox", tmpdir=cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("Untagged: localhost:5000/a/b:c\nUntagged: busybox:latest\n"
                        "Deleted: %s\n" % img)
    r = docker_cli(daemon.sock, "rmi", "busybox", tmpdir=cfg)
    assert r.returncode == 1
    assert r.stderr.strip() == "Error response from daemon: No such image: busybox:latest"
    c = docker.DockerClient(base_url="unix://" + daemon.sock)
    try:
        assert c.images.list() == []
    finally:
        c.close()


def test_berth_image_commands(daemon):
    host = "unix://" + daemon.sock
    img, blob = add_image(daemon, tags=["docker.io/library/busybox:latest"])
    dangling, dblob = add_image(daemon, size=2000)
    r = berth("tag", "busybox", "127.0.0.1:5000/x:v1", host=host)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    r = berth("image", "inspect", "127.0.0.1:5000/x:v1", host=host)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('[\n    {\n        "Id": "%s",\n' % img)
    parsed = json.loads(r.stdout)
    assert parsed[0]["RepoTags"] == ["127.0.0.1:5000/x:v1", "busybox:latest"]
    r = berth("image", "inspect", "busybox", "nothere", host=host)
    assert r.returncode == 1
    assert len(json.loads(r.stdout)) == 1
    assert r.stderr == "Error: No such image: nothere\n"
    r = berth("rmi", img[7:19], host=host)
    assert r.returncode == 1
    assert "(must be forced) - image is referenced in multiple repositories" in r.stderr
    r = berth("rmi", "nothere", "127.0.0.1:5000/x:v1", host=host)
    assert r.returncode == 1
    assert r.stderr == "Error response from daemon: No such image: nothere:latest\n"
    assert r.stdout == "Untagged: 127.0.0.1:5000/x:v1\n"
    r = berth("image", "rm", "-f", img, host=host)
    assert r.returncode == 0
    assert r.stdout == "Untagged: busybox:latest\nDeleted: %s\n" % img
    r = berth("image", "prune", host=host, input="n\n")
    assert r.returncode == 0 and "Are you sure you want to continue? [y/N]" in r.stdout
    assert os.path.exists(dblob)
    r = berth("image", "prune", "-f", host=host)
    assert r.returncode == 0
    assert r.stdout == "Deleted Images:\ndeleted: %s\n\nTotal reclaimed space: 2kB\n" % dangling
    assert not os.path.exists(dblob) and not os.path.exists(blob)


# ---- the CLI's client against a scripted daemon: negotiation, keep-alive, chunked bodies ----

class FakeDaemon:
    """A unix-socket HTTP server that answers like an older dockerd (API 1.30) and records
    what the client asked, on which connection."""

    def __init__(self, path, api_version="1.30"):
        import threading
        self.path = path
        self.api_version = api_version
        self.requests = []  # (connection number, request line)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        self.conns = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.conns += 1
            n = self.conns
            buf = b""
            with c:
                while True:
                    while b"\r\n\r\n" not in buf:
                        d = c.recv(65536)
                        if not d:
                            break
                        buf += d
                    if b"\r\n\r\n" not in buf:
                        break
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    line = head.split(b"\r\n")[0].decode()
                    self.requests.append((n, line))
                    method, target, _ = line.split(" ")
                    hdr = ("Api-Version: %s\r\nServer: Docker/old (linux)\r\n" % self.api_version)
                    if target == "/_ping":
                        body = b"" if method == "HEAD" else b"OK"
                        c.sendall(("HTTP/1.1 200 OK\r\n%sContent-Length: 2\r\n\r\n" % hdr)
                                  .encode() + body)
                    elif target == "/v%s/version" % self.api_version:
                        body = json.dumps({
                            "Platform": {"Name": "Old Engine"},
                            "Components": [{"Name": "Engine", "Version": "19.03",
                                            "Details": {"ApiVersion": "1.40",
                                                        "MinAPIVersion": "1.12",
                                                        "GoVersion": "go1.13", "GitCommit": "abc",
                                                        "BuildTime": "2020-01-02T03:04:05Z",
                                                        "Os": "linux", "Arch": "amd64",
                                                        "Experimental": "false"}}]}).encode()
                        # Chunked, in pieces that split the JSON anywhere.
                        out = b"HTTP/1.1 200 OK\r\n" + hdr.encode() + \
                            b"Transfer-Encoding: chunked\r\n\r\n"
                        for i in range(0, len(body), 7):
                            part = body[i:i + 7]
                            out += b"%x\r\n%s\r\n" % (len(part), part)
                        out += b"0\r\n\r\n"
                        c.sendall(out)
                    else:
                        body = b'{"message":"page not found"}'
                        c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s"
                                  % (len(body), body))

    def close(self):
        self.srv.close()


def test_client_negotiates_down_and_decodes_chunks(tmproot):
    sock = os.path.join(tmproot, "old.sock")
    fake = FakeDaemon(sock)
    try:
        r = berth("version", host="unix://" + sock)
        assert r.returncode == 0, r.stderr
        assert " API version:       1.30 (downgraded from 1.41)\n" in r.stdout
        assert "\nServer: Old Engine\n Engine:\n  Version:          19.03\n" in r.stdout
        assert "  API version:      1.40 (minimum version 1.12)\n" in r.stdout
        assert "  Go version:       go1.13\n" in r.stdout
        assert "  Built:            Thu Jan  2 03:04:05 2020\n" in r.stdout
        lines = [l for _, l in fake.requests]
        assert lines == ["HEAD /_ping HTTP/1.1", "GET /v1.30/version HTTP/1.1"]
        # Both on one kept-alive connection.
        assert len({n for n, _ in fake.requests}) == 1
        r = berth("info", host="unix://" + sock)
        assert r.returncode == 1
        assert r.stderr.strip() == "Error response from daemon: page not found"
    finally:
        fake.close()


def test_berth_images_and_formats(daemon):
    host = "unix://" + daemon.sock
    img, _ = add_image(daemon, tags=["docker.io/library/busybox:latest",
                                     "127.0.0.1:5000/x/y:v1"], created=int(time.time()) - 7200)
    dangling, _ = add_image(daemon, created=int(time.time()) - 3 * 86400, size=5000)
    r = berth("images", host=host)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r"^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$", lines[0])
    assert re.match(r"^127\.0\.0\.1:5000/x/y\s+v1\s+%s\s+2 hours ago\s+1\.98MB$" % img[7:19],
                    lines[1]), lines
    assert re.match(r"^busybox\s+latest\s+%s\s+2 hours ago\s+1\.98MB$" % img[7:19], lines[2])
    assert re.match(r"^<none>\s+<none>\s+%s\s+3 days ago\s+5kB$" % dangling[7:19], lines[3])
    # The docker CLI draws the same table from the same daemon.
    cfg = tempfile.mkdtemp(prefix="berth-dockercfg-")
    try:
        d = docker_cli(daemon.sock, "images", tmpdir=cfg)
        # The docker CLI groups an image's tags in a Go map, so the order of two
        # repositories of one image varies from run to run; the rows must not.
        dl, bl = d.stdout.splitlines(), r.stdout.splitlines()
        assert dl[0] == bl[0] and sorted(dl[1:]) == sorted(bl[1:]) and dl[-1] == bl[-1]
    finally:
        shutil.rmtree(cfg)
    r = berth("images", "-q", host=host)
    assert r.stdout == "%s\n%s\n%s\n" % (img[7:19], img[7:19], dangling[7:19])
    r = berth("image", "ls", "busybox", "--format", "{{.Repository}}:{{.Tag}}", host=host)
    assert r.stdout == "busybox:latest\n"
    r = berth("images", "--filter", "dangling=true", "--format", "{{.ID}}", host=host)
    assert r.stdout == dangling[7:19] + "\n"
    r = berth("images", "--filter", "bogus", host=host)
    assert r.returncode == 125
    assert r.stderr.startswith('invalid argument "bogus" for "-f, --filter" flag: bad format of '
                               'filter (expected name=value)\n')
    r = berth("images", "--filter", "foo=bar", host=host)
    assert r.returncode == 1
    assert r.stderr == "Error response from daemon: invalid filter 'foo'\n"
    r = berth("images", "--format", "{{.Nope", host=host)
    assert r.returncode == 1
    assert r.stderr == "template parsing error: template: :1: unclosed action\n"

    r = berth("version", "--format", "{{.Server.Version}}|{{.Client.ApiVersion}}", host=host)
    assert r.returncode == 0 and r.stdout == "%s|1.41\n" % daemon.json("/version")["Version"]
    r = berth("info", "-f", "{{.Images}} {{.Driver}} {{.ClientInfo.Debug}}", host=host)
    assert r.returncode == 0 and r.stdout == "2 overlay2 false\n"
    r = berth("info", "--format", "json", host=host)
    assert json.loads(r.stdout)["ID"] == daemon.json("/info")["ID"]


def test_history_matches_docker(daemon, tmproot):
    now = time.time()

    def ts(t):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".123456789Z"

    import hashlib
    cfg = {"architecture": "amd64", "os": "linux", "created": ts(now - 3600),
           "config": {"Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
           "history": [
               {"created": ts(now - 7200),
                "created_by": "/bin/sh -c #(nop) ADD file:6ab5d3e3a2e4b1b0ebc55bd2e1a7f3d9 in / "},
               {"created": ts(now - 5000), "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                "empty_layer": True},
               {"created": ts(now - 3600), "created_by": "/bin/sh -c\techo hello > /x",
                "comment": "hi"}]}
    data = json.dumps(cfg).encode()
    hexd = hashlib.sha256(data).hexdigest()
    with open(os.path.join(daemon.data, "blobs", "sha256", hexd), "wb") as f:
        f.write(data)
    con = sqlite3.connect(os.path.join(daemon.data, "berth.db"))
    con.execute("INSERT INTO images (id, created, size, added) VALUES (?, ?, ?, 0)",
                ("sha256:" + hexd, int(now - 3600), 1982400))
    con.execute("INSERT INTO tags VALUES (?, ?)", ("docker.io/library/busybox:latest",
                                                    "sha256:" + hexd))
    for pos, size in ((0, 1982370), (1, 30)):
        con.execute("INSERT INTO image_layers (image_id, position, chain_id, diff_id, size) "
                    "VALUES (?, ?, ?, ?, ?)", ("sha256:" + hexd, pos, "c%d" % pos,
                                               cfg["rootfs"]["diff_ids"][pos], size))
    con.commit()
    con.close()

    h = daemon.json("/images/busybox/history")
    assert [e["Id"] for e in h] == ["sha256:" + hexd, "<missing>", "<missing>"]
    assert [e["Size"] for e in h] == [30, 0, 1982370]
    assert h[0]["Tags"] == ["busybox:latest"] and h[1]["Tags"] is None
    assert h[0]["Comment"] == "hi" and h[2]["Created"] == int(now - 7200)

    cfgdir = os.path.join(tmproot, "docker-config")
    os.mkdir(cfgdir)
    host = "unix://" + daemon.sock
    for args in ((), ("--no-trunc",), ("-H=false",), ("-q",),
                 ("--format", "{{.ID}}|{{.Size}}|{{.CreatedBy}}")):
        d = docker_cli(daemon.sock, "history", *args, "busybox", tmpdir=cfgdir)
        b = berth("history", *args, "busybox", host=host)
        assert d.returncode == 0 and b.returncode == 0, (d.stderr, b.stderr)
        assert b.stdout == d.stdout, args
    b = berth("history", "busybox", host=host)
    assert "   /bin/sh -c #(nop) ADD file:6ab5d3e3a2e4b1b0e…   1.98MB" in b.stdout
    b = berth("history", "nothere", host=host)
    assert b.returncode == 1
    assert b.stderr == "Error response from daemon: No such image: nothere:latest\n"


def test_events_stream_like_docker(daemon, tmproot):
    host = "unix://" + daemon.sock
    cfgdir = os.path.join(tmproot, "docker-config")
    os.mkdir(cfgdir)
    start = time.time()
    # A live subscriber on the raw API: headers arrive before any event.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(daemon.sock)
    s.sendall(b"GET /v1.41/events?filters=%7B%22type%22%3A%5B%22image%22%5D%7D HTTP/1.1\r\n"
              b"Host: x\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Transfer-Encoding: chunked" in head

    img, _ = add_image(daemon)
    assert berth("tag", img, "busybox:1", host=host).returncode == 0
    assert berth("rmi", "busybox:1", host=host).returncode == 0
    data = head.split(b"\r\n\r\n", 1)[1]
    while data.count(b"\n{") + data.startswith(b"{") < 3 and data.count(b'"Action"') < 3:
        data += s.recv(65536)
    s.close()
    assert b'"Action":"tag"' in data and b'"Action":"delete"' in data

    until = "%.9f" % (time.time() + 0.5)
    since = "%.9f" % start
    d = docker_cli(daemon.sock, "events", "--since", since, "--until", until, tmpdir=cfgdir)
    b = berth("events", "--since", since, "--until", until, host=host)
    assert d.returncode == 0 and b.returncode == 0, (d.stderr, b.stderr)
    assert b.stdout == d.stdout
    lines = b.stdout.splitlines()
    assert [l.split(" ")[1:3] for l in lines] == [["image", "tag"], ["image", "untag"],
                                                  ["image", "delete"]]
    assert lines[0].endswith(" image tag %s (name=busybox:1)" % img)
    b = berth("events", "--since", since, "--until", until, "--filter", "event=delete",
              "--format", "{{.Action}} {{.Actor.ID}}", host=host)
    assert b.stdout == "delete %s\n" % img
    b = berth("events", "--filter", "bogus=1", "--until", until, host=host)
    assert b.returncode == 1
    assert b.stderr == "Error response from daemon: invalid filter 'bogus'\n"


def test_sigterm_ends_open_event_streams(tmproot):
    d = Daemon(tmproot).start()
    try:
        sub = subprocess.Popen([BERTH, "-H", "unix://" + d.sock, "events"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        t0 = time.time()
        assert d.stop() == 0
        assert time.time() - t0 < 5, "shutdown waited for the idle event stream"
        assert sub.wait(10) == 0  # the stream ended cleanly
        assert not os.path.exists(d.sock)
    finally:
        d.kill()


def test_many_concurrent_keep_alive_clients(daemon):
    """50 clients × 20 requests on kept-alive connections while 300 idle connections sit
    open: every answer complete and correct, and the daemon still small afterwards
    (within the idle target, and its own allocations grown by at most 2 MB: about
    0.75 MB on this build, what malloc keeps of 350 connections' buffers)."""
    import threading
    daemon.request("GET", "/info")
    rss_before, anon_before = rss_kb(daemon.proc.pid)
    idle = []
    for _ in range(300):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(daemon.sock)
        idle.append(s)
    results, lock = [], threading.Lock()

    def worker():
        c = UnixHTTPConnection(daemon.sock)
        try:
            for _ in range(20):
                c.request("GET", "/v1.41/version")
                r = c.getresponse()
                body = json.loads(r.read())
                with lock:
                    results.append((r.status, body["ApiVersion"]))
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in idle:
        s.close()
    assert len(results) == 1000
    assert set(results) == {(200, "1.41")}
    assert daemon.request("GET", "/_ping")[0] == 200
    if not sanitized():
        rss, anon = rss_kb(daemon.proc.pid)
        # what the clients made comes back: growth, not the footprint (a benchmark's
        # number), is what this test holds berthd to
        assert rss - rss_before <= 2 * 1024, "RSS %d -> %d kB" % (rss_before, rss)
        assert anon - anon_before <= 2 * 1024, "anonymous RSS %d -> %d kB" % (anon_before, anon)
