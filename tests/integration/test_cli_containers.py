"""berth's container commands against a real daemon, compared with docker's CLI.

Every test runs `berth` and, where the answer must agree, the real docker CLI
(28) against the same daemon and compares what the user sees: stdout, stderr
(with "berth" for "docker") and the exit code.  The create request berth sends
is compared with docker's byte for byte through a capturing proxy.  TTY
sessions run on a pty (typing, resizing, detach keys, Ctrl-C).

The `daemon` fixture (cli_util.py) runs each comparison against a private
dockerd 20.10 (the reference answer) and against berthd.
"""
import errno
import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import threading
import time
import uuid

import pytest

from cli_util import loopback_registry, BERTH, as_berth, daemon, name, run_both, same  # noqa: F401 (fixtures)

# ---- the create request ---------------------------------------------------------------------


class CapturingProxy:
    """A unix socket between a client and the daemon that records what the client sends."""

    def __init__(self, path, target):
        self.path, self.target, self.sent, self.errors = path, target, [], []
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(64)
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            t = socket.socket(socket.AF_UNIX)
            try:
                t.connect(self.target)
            except OSError as e:
                # said, and the client let go at once (it would wait for an answer); one CI
                # run saw the daemon's socket missing here once, never again since
                self.errors.append("%s: %s (exists: %s, its dir: %s)" % (
                    self.target, e, os.path.exists(self.target),
                    sorted(os.listdir(os.path.dirname(self.target)))
                    if os.path.isdir(os.path.dirname(self.target)) else "gone"))
                c.close()
                t.close()
                continue
            buf = bytearray()
            self.sent.append(buf)
            threading.Thread(target=self._pump, args=(c, t, buf), daemon=True).start()
            threading.Thread(target=self._pump, args=(t, c, None), daemon=True).start()

    @staticmethod
    def _pump(src, dst, record):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if record is not None:
                record.extend(data)
            try:
                dst.sendall(data)
            except OSError:
                return

    def create_request(self):
        for raw in self.sent:
            raw = bytes(raw)
            i = raw.find(b"/containers/create")
            if i < 0:
                continue
            start = raw.rfind(b"POST ", 0, i)
            head_end = raw.index(b"\r\n\r\n", start)
            head = raw[start:head_end].decode()
            length = int(re.search(r"(?i)content-length: *(\d+)", head).group(1))
            return head.split("\r\n")[0], raw[head_end + 4:head_end + 4 + length]
        return None, None

    def close(self):
        self.srv.close()


CREATE_FLAGS = [
    [],
    ["--network", "none"],
    ["-it", "--rm", "-e", "A=1", "-e", "B=2", "-l", "x=y", "-w", "/tmp", "-u", "nobody",
     "--entrypoint", "sh", "-h", "myhost", "--name", "NAME"],
    ["--restart", "on-failure:3", "--init", "--read-only", "--cap-add", "net_admin",
     "--cap-drop", "ALL", "--privileged", "--security-opt", "no-new-privileges",
     "--security-opt", "systempaths=unconfined"],
    ["--device", "/dev/null", "--device", "/dev/zero:/dev/z:r", "-m", "64m", "--memory-swap",
     "-1", "--cpus", "1.5", "--cpu-shares", "512", "--pids-limit", "100", "--ulimit",
     "nofile=1024:2048", "--shm-size", "128m", "--sysctl", "net.ipv4.ip_forward=1",
     "--stop-signal", "SIGUSR1", "--stop-timeout", "5"],
    ["--log-driver", "json-file", "--log-opt", "max-size=1m", "--network", "host", "--tmpfs",
     "/run:rw,size=1m", "-v", "/data", "-v", "/tmp:/hosttmp:ro", "--mount",
     "type=tmpfs,target=/t,tmpfs-size=1m", "--mount", "type=bind,src=/tmp,dst=/b,readonly"],
    ["-p", "8080:80", "-p", "127.0.0.1:9000-9001:90-91/udp", "-P", "--expose", "7000-7002",
     "--dns", "8.8.8.8", "--dns-search", "example.com", "--dns-option", "ndots:2",
     "--add-host", "foo:1.2.3.4", "--add-host", "bar=::1", "--ip", "10.0.0.5"],
    ["--health-cmd", "true", "--health-interval", "1m30s", "--health-retries", "3",
     "--health-timeout", "500ms", "--group-add", "audio", "--pid", "host", "--ipc", "host",
     "--uts", "host", "--cgroupns", "private", "--oom-score-adj", "100", "--oom-kill-disable",
     "--memory-swappiness", "10", "--cpuset-cpus", "0", "--blkio-weight", "300",
     "--device-read-bps", "/dev/sda:1mb", "--device-write-iops", "/dev/sda:100"],
    ["--no-healthcheck", "-a", "stdout", "-a", "STDERR", "--gpus", "all", "--platform",
     "linux/x86_64", "--pull", "never", "--domainname", "d.local", "--runtime", "runc",
     "--cidfile", "CIDFILE"],
    ["--use-api-socket", "-e", "X=1"],
    # refused by the daemon (no such network), but sent as docker sends it
    ["--network", "name=netx,alias=a1,ip=10.1.2.3,driver-opt=k=v,gw-priority=2"],
    ["--network", "name=netx,alias=a1", "--network-alias", "a2"],  # refused by the CLI
    ["--network", "netx", "--network-alias", "a", "--link", "other:o", "--ip6", "2001:db8::9",
     "--link-local-ip", "169.254.1.1"],
    ["--net", "none", "--dns-opt", "a:1", "--label-file", "/dev/null", "--env-file",
     "/dev/null", "--volumes-from", "v1", "--storage-opt", "size=1G"],
]


@pytest.mark.parametrize("flags", CREATE_FLAGS, ids=lambda f: " ".join(f)[:40] or "none")
def test_create_request_is_dockers(daemon, flags, name, tmp_path):
    """The create request (query and body) is what docker's CLI sends, byte for byte."""
    proxy = CapturingProxy(str(tmp_path / "proxy.sock"), daemon.sock)
    env = dict(daemon.env, DOCKER_HOST="unix://" + proxy.path)
    sent = {}
    try:
        for tool in ("docker", "berth"):
            proxy.sent.clear()
            args = [a.replace("NAME", name + tool).replace("CIDFILE", str(tmp_path / tool))
                    for a in flags]
            r = daemon.run(tool, "create", *args, "busybox", env=env)
            log = os.path.join(daemon.top, "berthd.log")
            assert not proxy.errors, (proxy.errors, open(log).read()[-3000:]
                                      if os.path.exists(log) else "")
            line, body = proxy.create_request()
            err = r.stderr.replace(name + tool, "NAME")
            if line is not None:  # None: refused before anything was sent
                line = line.replace(name + tool, "NAME")
                body = body.replace((name + tool).encode(), b"NAME") \
                    .replace(str(tmp_path / tool).encode(), b"CIDFILE")
            sent[tool] = (r.returncode, as_berth(err) if tool == "docker" else err, line, body)
            if r.returncode == 0:
                daemon.run("docker", "rm", "-f", r.stdout.strip())
    finally:
        proxy.close()
    # docker 28 sends -e values in a random order (it passes them through a Go map): the
    # order of Env is compared as a set, every other byte as it is
    for tool in sent:
        rc, err, line, body = sent[tool]
        if body:
            body = re.sub(rb'"Env":\[([^\]]*)\]',
                          lambda m: b'"Env":[' + b",".join(sorted(m.group(1).split(b","))) + b"]",
                          body)
        sent[tool] = (rc, err, line, body)
    assert sent["berth"] == sent["docker"]


def test_use_api_socket_hands_over_socket_and_credentials(daemon, tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text('{"auths":{"127.0.0.1:5000":{"auth":"dTpw"}}}')
    env = dict(daemon.env, DOCKER_CONFIG=str(cfg), BERTH_CONFIG=str(cfg))
    script = ("ls -l /var/run/docker.sock | cut -c1; cat /run/secrets/docker/config.json; "
              "echo; echo $DOCKER_CONFIG")
    dk, bt = (daemon.run(t, "run", "--rm", "--network", "none", "--use-api-socket", "busybox",
                         "sh", "-c", script, env=env) for t in ("docker", "berth"))
    assert (bt.returncode, bt.stdout, bt.stderr) == (dk.returncode, dk.stdout, dk.stderr)
    assert bt.stdout.startswith("s\n{\n\t\"auths\": {\n\t\t\"127.0.0.1:5000\": {")
    assert bt.stdout.endswith("\n/run/secrets/docker\n")


def test_flag_and_parse_errors_are_dockers(daemon):
    for args in (["run", "--foo", "busybox"], ["run"], ["run", "-a", "foo", "busybox"],
                 ["run", "-m", "1x", "busybox"], ["run", "--cpus", "x", "busybox"],
                 ["run", "--rm", "--restart", "always", "busybox"],
                 ["run", "-p", "70000:80", "busybox"], ["run", "--pull", "sometimes", "busybox"],
                 ["create", "--env-file", "/nonexistent", "busybox"],
                 ["run", "-d", "-a", "stdout", "busybox"],
                 ["create", "--annotation", "a=b", "busybox"],
                 ["create", "--cpu-count", "2", "busybox"],
                 ["create", "--platform", "bogus", "busybox"],
                 ["run", "-it", "busybox"],  # stdin is not a terminal here
                 ["ps", "x"], ["rm"], ["stop", "--time", "1", "-t", "2", "x"],
                 ["start", "--checkpoint", "c", "x"],
                 # docker 28 cannot send a MAC address to an API 1.41 daemon, and says so
                 ["create", "--network", "none", "--mac-address", "92:d0:c6:0a:29:33",
                  "busybox"]):
        same(daemon, *args, input="")


# ---- run ------------------------------------------------------------------------------------


def test_run_streams_and_exit_status(daemon):
    r = same(daemon, "run", "--rm", "--network", "none", "busybox", "echo", "hi")
    assert r.stdout == "hi\n" and r.returncode == 0
    r = same(daemon, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
             "echo out; echo err >&2; exit 7")
    assert (r.stdout, r.stderr, r.returncode) == ("out\n", "err\n", 7)
    # stdin copied, then closed at EOF so that cat ends
    r = same(daemon, "run", "-i", "--rm", "--network", "none", "busybox", "cat",
             input="piped-input\nsecond line\n")
    assert r.stdout == "piped-input\nsecond line\n"
    big = "".join(f"line {i} " + "x" * 100 + "\n" for i in range(20000))  # 2 MB both ways
    r = daemon.run("berth", "run", "-i", "--rm", "--network", "none", "busybox", "cat",
                   input=big)
    assert r.returncode == 0 and r.stdout == big


def test_run_start_errors_exit_125_126_127(daemon):
    r = same(daemon, "run", "--rm", "--network", "none", "busybox", "nonexistent-cmd")
    assert r.returncode == 127
    assert r.stderr.startswith("berth: Error response from daemon: ")
    assert r.stderr.endswith("\n\nRun 'berth run --help' for more information\n")
    r = same(daemon, "run", "--rm", "--network", "none", "busybox", "/etc")
    assert r.returncode == 126
    r = same(daemon, "run", "--pull", "never", "--network", "none", "nosuchimage:1")
    assert r.returncode == 125
    assert "No such image: nosuchimage:1" in r.stderr


def test_run_detached_start_error_and_no_daemon(daemon):
    # -d prints the ID while start is on its way, then start's error
    dk, bt = run_both(daemon, "run", "-d", "--rm", "--network", "none", "busybox", "nonexistent")
    assert bt.returncode == dk.returncode == 127
    assert re.fullmatch(r"[0-9a-f]{64}\n", bt.stdout)
    assert bt.stderr == as_berth(dk.stderr)
    env = dict(daemon.env, DOCKER_HOST="unix://" + daemon.top + "/nothing.sock")
    r = daemon.run("berth", "run", "busybox", env=env)
    assert r.returncode == 125 and r.stderr == (
        f"berth: Cannot connect to the Berth daemon at unix://{daemon.top}/nothing.sock. Is the "
        "berth daemon running?\n\nRun 'berth run --help' for more information\n")
    r = daemon.run("berth", "ps", env=env)
    assert r.returncode == 1 and r.stderr.startswith("Cannot connect to the Berth daemon")


def test_run_missing_image_tries_to_pull(daemon):
    """docker's create -> 404 -> "Unable to find image" -> pull -> error (no registry here)."""
    r = same(daemon, "run", "--network", "none", "nosuchimage:2")
    assert r.stderr.startswith("Unable to find image 'nosuchimage:2' locally\n")
    assert r.returncode == 125
    r = same(daemon, "run", "-q", "--network", "none", "nosuchimage:3")
    assert "Unable to find image" not in r.stderr


def test_run_detached_and_rm(daemon, name):
    r = daemon.run("berth", "run", "-d", "--name", name, "--network", "none", "busybox",
                   "sleep", "30")
    assert r.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}\n", r.stdout), r
    state = daemon.run("docker", "inspect", "-f", "{{.State.Running}}", name).stdout
    assert state == "true\n"
    daemon.run("docker", "rm", "-f", name)
    r = daemon.run("berth", "run", "--rm", "--name", name, "--network", "none", "busybox",
                   "true")
    assert r.returncode == 0
    ps = daemon.run("docker", "ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert name not in ps


def test_network_none_has_its_loopback_up(daemon):
    """A container of its own network namespace gets "lo" up (runc and dockerd do)."""
    r = daemon.run("berth", "run", "--rm", "--network", "none", "busybox", "sh", "-c",
                   "cat /sys/class/net/lo/flags; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo ok")
    assert (r.returncode, r.stdout) == (0, "0x9\nok\n"), r


def test_oom_killed_is_recorded(daemon, name):
    """A container the kernel's OOM killer ends is recorded as docker records it:
    OOMKilled true and status 137 (the monitor reads its cgroup's OOM count)."""
    r = daemon.run("berth", "run", "--name", name, "--network", "none", "-m", "8m",
                   "--memory-swap", "8m", "busybox", "sh", "-c",
                   "head -c 100000000 /dev/zero | tail -n 1 >/dev/null")
    assert r.returncode == 137, r
    r = daemon.run("docker", "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", name)
    assert r.stdout == "true 137\n", r
    daemon.run("docker", "rm", name)
    r = daemon.run("berth", "run", "--name", name, "--network", "none", "-m", "64m", "busybox",
                   "sh", "-c", "exit 137")
    assert r.returncode == 137, r
    r = daemon.run("docker", "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", name)
    assert r.stdout == "false 137\n", r
    daemon.run("docker", "rm", name)


def test_start_long_after_create_and_rm_right_after(daemon, name):
    """A create whose start comes seconds later (berth's create helper waits 5 s for it,
    then leaves starting to a new one) starts as one started at once; a created
    container removed at once goes with everything it made."""
    r = daemon.run("berth", "create", "--name", name, "--network", "none", "busybox", "sh",
                   "-c", "echo late; exit 3")
    assert r.returncode == 0, r
    r = daemon.run("berth", "create", "--name", name + "b", "--network", "none", "busybox",
                   "true")
    assert r.returncode == 0, r
    r = daemon.run("berth", "rm", "-f", name + "b", timeout=20)
    assert (r.returncode, r.stdout) == (0, name + "b\n"), r
    time.sleep(6)
    r = daemon.run("berth", "start", "-a", name, timeout=20)
    assert (r.returncode, r.stdout, r.stderr) == (3, "late\n", ""), r
    r = daemon.run("docker", "inspect", "-f", "{{.State.ExitCode}} {{.State.Status}}", name)
    assert r.stdout == "3 exited\n", r
    daemon.run("docker", "rm", name)
    # no helper of this daemon's shims is left waiting (none at all under dockerd)
    from container_util import shim_helpers_of
    assert not shim_helpers_of(daemon.top)


def test_create_start_attach(daemon, name, tmp_path):
    cid_file = tmp_path / "cid"
    r = daemon.run("berth", "create", "--name", name, "--cidfile", str(cid_file), "--network",
                   "none", "busybox", "sh", "-c", "echo started; exit 5")
    assert r.returncode == 0
    assert cid_file.read_text() == r.stdout.strip()
    for tool, code in (("docker", 1), ("berth", 1)):
        r = daemon.run(tool, "create", "--cidfile", str(cid_file), "busybox")
        assert r.returncode == code and r.stderr == (
            "container ID file found, make sure the other container isn't running or delete "
            f"{cid_file}\n")
    r = same(daemon, "run", "--cidfile", str(cid_file), "busybox")
    assert r.returncode == 125
    r = daemon.run("berth", "start", "-a", name)
    assert (r.stdout, r.returncode) == ("started\n", 5)
    # again, once it has run: the attach waits for the start (dockerd accepts it)
    for tool in ("docker", "berth"):
        r = daemon.run(tool, "start", "-a", name)
        assert (r.stdout, r.stderr, r.returncode) == ("started\n", "", 5), tool
    dk, bt = run_both(daemon, "start", name, "nonexistent")
    assert (bt.returncode, bt.stdout, bt.stderr) == (dk.returncode, dk.stdout, dk.stderr)
    assert bt.stderr.endswith("Error: failed to start containers: nonexistent\n")
    same(daemon, "attach", name)  # stopped: "You cannot attach to a stopped container…"


# ---- TTY sessions on a pty ------------------------------------------------------------------


def pty_session(d, tool, args, steps, rows=40, cols=120, timeout=30):
    """Run tool args on a pty; steps: bytes to type, ("resize", r, c), ("sleep", s),
    ("signal", sig).  Returns (output, exit code)."""
    exe = BERTH if tool == "berth" else "docker"
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(exe, [exe, *args], d.env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = bytearray()

    def drain(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                out.extend(data)

    drain(1.5)
    for step in steps:
        if isinstance(step, bytes):
            os.write(fd, step)
        elif step[0] == "resize":
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", step[1], step[2], 0, 0))
            os.kill(pid, signal.SIGWINCH)
        elif step[0] == "signal":
            os.kill(pid, step[1])
        elif step[0] == "sleep":
            drain(step[1])
            continue
        drain(0.8)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"{tool} {args} did not end: {bytes(out)!r}")
        drain(0.2)
    drain(0.2)
    os.close(fd)
    return bytes(out), os.waitstatus_to_exitcode(status)


def without_redraws(session):
    """ash redraws its prompt ("\\r/ # \\e[J") on each SIGWINCH; how many of those a session
    shows depends on when the shell started relative to the first resize, for docker too."""
    out, code = session
    return out.replace(b"\r/ # \x1b[J", b""), code


def test_run_tty_session_is_dockers(daemon):
    steps = [b"echo hello\n", ("resize", 50, 150), b"stty size\n", b"exit 3\n"]
    args = ["run", "-it", "--rm", "--network", "none", "busybox", "sh"]
    want = pty_session(daemon, "docker", args, steps)
    got = pty_session(daemon, "berth", args, steps)
    assert without_redraws(got) == without_redraws(want)
    assert b"50 150" in got[0] and got[1] == 3


def test_ctrl_c_reaches_the_tty_container(daemon):
    args = ["run", "-it", "--rm", "--network", "none", "busybox", "sh", "-c",
            "trap 'echo caught; exit 42' INT; echo ready; while :; do sleep 0.1; done"]
    out, code = pty_session(daemon, "berth", args, [("sleep", 1), b"\x03"])
    assert code == 42 and b"caught" in out, out


def test_detach_keys(daemon, name):
    since = str(time.time() - 1)
    args = ["run", "-it", "--name", name, "--network", "none", "busybox", "sh"]
    out, code = pty_session(daemon, "berth", args, [b"echo before\n", b"\x10\x11"])
    assert code == 0 and b"before" in out
    assert daemon.run("docker", "inspect", "-f", "{{.State.Running}}", name).stdout == "true\n"
    # attach and detach again: docker's attach says "read escape sequence" and fails
    want = pty_session(daemon, "docker", ["attach", name], [b"echo x\n", b"\x10\x11"])
    got = pty_session(daemon, "berth", ["attach", name], [b"echo x\n", b"\x10\x11"])
    assert without_redraws(got) == without_redraws(want)
    assert got[1] == 1 and b"read escape sequence" in got[0]
    # custom keys; a key that only starts the sequence is typed through
    out, code = pty_session(daemon, "berth", ["attach", "--detach-keys", "ctrl-a,d", name],
                            [b"\x01e", b"cho y\n", b"\x01d"])
    assert code == 1 and b"y\r\n" in out and b"read escape sequence" in out
    # an exec left with the keys goes on too
    for tool in ("docker", "berth"):
        out, code = pty_session(daemon, tool, ["exec", "-it", name, "sh"],
                                [b"echo z\n", b"\x10\x11"])
        assert code == 1 and b"read escape sequence" in out, (tool, out)
    # the events are dockerd 20.10's: an exec's name its command ("sh", then a space for
    # the missing arguments), and nothing for a client that left with the keys (no
    # "detach" or "exec_detach" from dockerd here either)
    out = daemon.run("docker", "events", "--since", since, "--until", str(time.time() + 1),
                     "--filter", "container=" + name, "--format",
                     "{{.Action}}|{{.Actor.Attributes.execID}}").stdout.splitlines()
    execs = [l.split("|") for l in out if l.startswith("exec_")]
    assert [a for a, _ in execs] == ["exec_create: sh ", "exec_start: sh "] * 2, out
    assert all(len(x) == 64 for _, x in execs), out
    assert not [l for l in out if "detach" in l], out
    daemon.run("docker", "rm", "-f", name)


def test_exec_privileged_start_ai_and_attach_no_stdin(daemon, name):
    d = daemon.run
    try:
        assert d("docker", "run", "-d", "--name", name, "--network", "none", "busybox",
                 "sleep", "300").returncode == 0
        caps = "grep -E '^Cap(Eff|Bnd)' /proc/self/status"
        plain = same(daemon, "exec", name, "sh", "-c", caps).stdout
        assert "CapEff:\t00000000a80425fb" in plain, plain  # docker's 14 capabilities
        # --privileged: every capability the host holds.  dockerd asks for every one it
        # knows, which fails where the host's bounding set lacks one (this VM's lacks
        # CAP_SYS_RESOURCE): then its words; berthd gives what the host has
        host = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapBnd:")][0]
        is_berthd = "berth" in d("docker", "version", "--format", "{{.Server.Version}}"
                                 " {{range .Server.Components}}{{.Name}}{{end}}").stdout.lower()
        priv = same(daemon, "exec", "--privileged", name, "sh", "-c", caps)
        if priv.returncode != 0 and not is_berthd:
            assert "unable to apply caps: operation not permitted" in priv.stdout + priv.stderr, priv
        else:
            assert "CapEff:\t" + host in priv.stdout, priv
        # start -ai: stdin reaches a container made with -i, its output comes back
        made = name + "-i"
        assert d("docker", "create", "-i", "--name", made, "--network", "none", "busybox",
                 "sh", "-c", "read x; echo got:$x").returncode == 0
        r = d("berth", "start", "-ai", made, input="hello\n")
        assert (r.returncode, r.stdout) == (0, "got:hello\n"), r
        r = d("docker", "start", "-ai", made, input="again\n")
        assert (r.returncode, r.stdout) == (0, "got:again\n"), r
        # attach --no-stdin to a -it container: typing goes nowhere, output still comes
        tty = name + "-t"
        assert d("docker", "run", "-dit", "--name", tty, "--network", "none", "busybox",
                 "sh", "-c", "while :; do read x && echo typed:$x; done & "
                 "while :; do echo tick; sleep 0.3; done").returncode == 0
        for tool in ("docker", "berth"):
            out, code = pty_session(daemon, tool, ["attach", "--no-stdin", tty],
                                    [b"secret\n", ("sleep", 1), ("signal", signal.SIGKILL)])
            assert b"tick" in out and b"typed:secret" not in out, (tool, out)
        logs = d("docker", "logs", tty).stdout
        assert "typed:" not in logs, logs
    finally:
        d("docker", "rm", "-f", name, name + "-i", name + "-t")


def test_signals_are_proxied_without_tty(daemon, name):
    script = "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done"
    p = subprocess.Popen([BERTH, "run", "--name", name, "--network", "none", "busybox", "sh",
                          "-c", script], env=daemon.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        assert p.returncode == 3 and out == "got-term\n", (out, err)
    finally:
        if p.poll() is None:
            p.kill()
        daemon.run("docker", "rm", "-f", name)
    # --sig-proxy=false: the container is left alone; three signals end berth (exit 1)
    p = subprocess.Popen([BERTH, "run", "--sig-proxy=false", "--name", name, "--network",
                          "none", "busybox", "sh", "-c", script], env=daemon.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert p.poll() is None
        assert daemon.run("docker", "inspect", "-f", "{{.State.Running}}",
                          name).stdout == "true\n"
        # one at a time: signals sent back to back may merge into one pending signal
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        assert p.returncode == 1 and err == "\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n"
    finally:
        if p.poll() is None:
            p.kill()
        daemon.run("docker", "rm", "-f", name)


# ---- the other commands ---------------------------------------------------------------------


@pytest.fixture
def running(daemon, name):
    """A running container that writes to stdout and stderr, and a stopped one."""
    daemon.run("docker", "run", "-d", "--name", name, "--network", "none", "-l", "team=qa",
               "busybox", "sh", "-c",
               "i=0; while true; do echo line $i; echo errline $i >&2; i=$((i+1)); sleep 1; done")
    daemon.run("docker", "run", "--name", name + "-done", "--network", "none", "busybox", "sh",
               "-c", "echo bye; exit 3")
    time.sleep(2.5)
    yield name
    daemon.run("docker", "rm", "-f", name, name + "-done")


def test_ps_is_dockers(daemon, running):
    for args in (["ps"], ["ps", "-a"], ["ps", "-q"], ["ps", "-aq", "--no-trunc"],
                 ["ps", "-a", "-n", "1"], ["ps", "-l"], ["ps", "-s"],
                 ["ps", "-a", "--filter", "status=exited"],
                 ["ps", "-a", "--filter", "name=" + running],
                 ["ps", "--format", "{{.Names}}\t{{.Status}}\t{{.Command}}", "-a"],
                 ["ps", "--format", "table {{.ID}}\t{{.Label \"team\"}}\t{{.State}}"],
                 ["ps", "--format", "json", "-a"], ["ps", "--format", "{{.Nope}}"],
                 ["ps", "-q", "--format", "{{.Names}}"],
                 ["container", "ls", "-a"], ["container", "list"], ["container", "ps"]):
        same(daemon, *args)


def create_all(daemon, names):
    """`busybox true` containers of these names, made (not started) in this order."""
    for n in names:
        r = daemon.run("docker", "create", "--name", n, "--network", "none", "busybox", "true")
        assert r.returncode == 0, r.stderr


def test_ps_before_and_since_go_by_creation_order(daemon, name):
    """Three containers made within the same second: before/since still tell them apart (the
    list's order, newest first), and other filters do not move where they cut."""
    made = [name + s for s in ("-a", "-b", "-c")]
    try:
        create_all(daemon, made)
        fmt = ["--format", "{{.Names}}"]
        for args in (["--filter", "before=" + made[1]], ["--filter", "since=" + made[1]],
                     ["--filter", "since=" + made[0], "--filter", "name=" + name],
                     ["--filter", "before=" + made[2], "--filter", "name=" + made[2]],
                     ["--filter", "before=" + made[2], "-n", "1"],
                     ["--filter", "since=nonexistent"]):
            r = same(daemon, "ps", "-a", *args, *fmt)
            got = [l for l in r.stdout.splitlines() if l.startswith(name)]
            if args[1] == "before=" + made[1]:
                assert got == [made[0]], r.stdout
            if args[1] == "since=" + made[1]:
                assert got == [made[2]], r.stdout
    finally:
        daemon.run("docker", "rm", "-f", *made)


def test_ps_name_filter_is_a_regular_expression(daemon, name):
    made = [name + s for s in ("-a", "-b", "-c1")]
    try:
        create_all(daemon, made)
        want = {"^/%s$" % made[0]: [made[0]], "^%s$" % made[1]: [made[1]],
                "%s-[ab]$" % name: [made[1], made[0]], "%s.*1" % name: [made[2]],
                "-c[0-9]+$": [made[2]], name + "-(": [], made[2]: [made[2]],
                name + "-*": made[::-1]}
        for rx, names in want.items():
            r = same(daemon, "ps", "-a", "--filter", "name=" + rx, "--format", "{{.Names}}")
            assert [l for l in r.stdout.splitlines() if l.startswith(name)] == names, rx
    finally:
        daemon.run("docker", "rm", "-f", *made)


def test_events_of_stop_restart_kill_top_and_prune(daemon, name):
    """dockerd's container events for each signal stop, restart, kill and rm -f send, for
    top, and the prune after its destroys (the list is what dockerd 20.10 emits)."""
    trap, plain = name + "-t", name + "-p"
    since = str(time.time() - 1)
    d = daemon.run
    try:
        assert d("docker", "run", "-d", "--name", trap, "--network", "none", "busybox", "sh",
                 "-c", "trap 'exit 0' TERM; sleep 300 & wait").returncode == 0
        time.sleep(0.5)  # the trap is set
        for args in (["stop", trap], ["start", trap], ["restart", "-t", "5", trap],
                     ["run", "-d", "--name", plain, "--network", "none", "busybox", "sleep",
                      "300"],
                     ["stop", "-t", "1", plain], ["top", plain], ["start", plain],
                     ["top", plain], ["kill", plain], ["start", plain], ["rm", "-f", plain],
                     ["stop", "-t", "1", trap], ["container", "prune", "-f"]):
            if args[:2] == ["restart", "-t"]:
                time.sleep(0.5)  # the trap is set again
            d("docker", *args)
        until = str(time.time() + 1)
        out = d("docker", "events", "--since", since, "--until", until, "--filter",
                "type=container", "--format",
                "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.signal}}").stdout
        lines = [l.split() for l in out.splitlines()]
        mine = [" ".join([l[0]] + (["t"] if l[1] == trap else ["p"]) +
                         [x for x in l[2:3] if x.isdigit()])
                for l in lines if len(l) > 1 and l[1] in (trap, plain)]
        assert mine == [
            "create t", "start t",
            "kill t 15", "die t", "stop t",          # stop
            "start t",
            "kill t 15", "die t", "stop t", "start t", "restart t",  # restart
            "create p", "start p",
            "kill p 15", "kill p 9", "die p", "stop p",  # stop -t 1 of a pid 1 sleep
            "start p", "top p",
            "kill p 9", "die p",                     # kill
            "start p",
            "kill p 9", "die p", "destroy p",        # rm -f
            "kill t 15", "die t", "stop t",
            "destroy t"], out                         # prune
        prunes = [l for l in lines if l and l[0] == "prune"]
        assert len(prunes) == 1, out
    finally:
        d("docker", "rm", "-f", trap, plain)


def test_bad_log_opts_are_dockers_errors(daemon, name):
    """An unknown log option fails the create, a bad value the start, in dockerd's words."""
    d = daemon.run
    for opts, at, msg in (
            (["foo=bar"], "create", "unknown log opt 'foo' for json-file log driver"),
            (["--log-driver", "local", "labels=a"], "create",
             "unknown log opt 'labels' for log driver local"),
            (["max-size=abc"], "start",
             "failed to initialize logging driver: invalid size: 'abc'"),
            (["max-size=-1"], "start", "failed to initialize logging driver: invalid size: '-1'"),
            (["max-file=0"], "start",
             "failed to initialize logging driver: max-file cannot be less than 1"),
            (["max-file=x"], "start", 'failed to initialize logging driver: strconv.Atoi: '
                                      'parsing "x": invalid syntax'),
            (["compress=maybe"], "start", 'failed to initialize logging driver: '
                                          'strconv.ParseBool: parsing "maybe": invalid syntax'),
            (["max-size=1k", "max-file=2", "compress=true", "labels=a", "tag=x"], None, None)):
        args = []
        for o in opts:
            args += ["--log-opt", o] if "=" in o else [o]
        try:
            r = d("docker", "create", "--name", name, "--network", "none", *args, "busybox",
                  "echo", "hi")
            if at == "create":
                assert r.returncode != 0 and msg in r.stderr, (opts, r.stderr)
                continue
            assert r.returncode == 0, (opts, r.stderr)
            r = d("docker", "start", "-a", name)
            if at == "start":
                assert r.returncode != 0 and msg in r.stderr, (opts, r.stderr)
            else:
                assert (r.returncode, r.stdout) == (0, "hi\n"), (opts, r.stderr)
        finally:
            d("docker", "rm", "-f", name)


def test_create_checks_the_image_platform(daemon):
    """POST /containers/create?platform=: the local image must match it, else dockerd's 404
    (on which the CLI pulls that platform: not done here, nothing to pull from)."""
    def create(platform):
        r = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "--unix-socket", daemon.sock,
                            "-X", "POST", "-H", "Content-Type: application/json", "-d",
                            '{"Image": "busybox", "Cmd": ["true"]}',
                            "http://x/v1.41/containers/create?platform=" + platform],
                           capture_output=True, text=True, timeout=30)
        body, code = r.stdout.rsplit("\n", 1)
        return int(code), json.loads(body)
    made = []
    try:
        for platform, code, msg in (
                ("linux/arm64", 404, "image with reference busybox was found but does not "
                                     "match the specified platform: wanted linux/arm64, "
                                     "actual: linux/amd64"),
                ("windows%2Famd64", 404, "image with reference busybox was found but does not "
                                         "match the specified platform: wanted windows/amd64, "
                                         "actual: linux/amd64"),
                ("linux/amd64", 201, None), ("linux", 201, None)):
            got, body = create(platform)
            assert got == code, (platform, body)
            if msg:
                assert body["message"] == msg
            else:
                made.append(body["Id"])
    finally:
        if made:
            daemon.run("docker", "rm", "-f", *made)


def test_log_opts_labels_and_env_show_in_logs_details(daemon, name):
    """--log-opt labels/env/env-regex put those values on every json-file entry; logs
    --details prints them (query-escaped) before the line."""
    d = daemon.run
    one, many = name + "-1", name + "-n"
    try:
        r = d("docker", "run", "--name", one, "--network", "none", "-l", "team=a b/c",
              "-l", "other=x", "--log-opt", "labels=team", "busybox", "echo", "hi")
        assert r.returncode == 0, r.stderr
        r = same(daemon, "logs", "--details", one)
        assert r.stdout == "team=a+b%2Fc hi\n", r.stdout
        r = d("docker", "run", "--name", many, "--network", "none", "-l", "team=t", "-e",
              "FOO=1", "-e", "BAR=2", "-e", "BAZ=3", "--log-opt", "labels=team,nope",
              "--log-opt", "env=FOO", "--log-opt", "env-regex=^BA[R]", "busybox", "echo",
              "hi")
        assert r.returncode == 0, r.stderr
        out = d("docker", "logs", "--details", many).stdout
        attrs, line = out.rstrip("\n").split(" ", 1)
        assert line == "hi" and sorted(attrs.split(",")) == ["BAR=2", "FOO=1", "team=t"], out
        assert d("docker", "logs", many).stdout == "hi\n"
    finally:
        d("docker", "rm", "-f", one, many)


def test_ps_ancestor_takes_descendants_and_network_takes_ids(daemon, name):
    """ancestor=busybox also lists a container of an image committed from a busybox
    container (its child); network= takes a network's name or a prefix of its id."""
    d = daemon.run
    base, child, img = name + "-base", name + "-child", name + "-img"
    try:
        assert d("docker", "run", "-d", "--name", base, "--network", "none", "busybox",
                 "sleep", "60").returncode == 0
        r = d("docker", "commit", base, img)
        assert r.returncode == 0, r.stderr
        # running: dockerd fills in an endpoint's NetworkID at the start
        assert d("docker", "run", "-d", "--name", child, "--network", "none", img,
                 "sleep", "60").returncode == 0
        r = same(daemon, "ps", "-a", "--filter", "ancestor=busybox", "--format", "{{.Names}}")
        got = sorted(l for l in r.stdout.split() if l.startswith(name))
        assert got == [base, child], r.stdout
        r = same(daemon, "ps", "-a", "--filter", "ancestor=" + img, "--format", "{{.Names}}")
        assert [l for l in r.stdout.split() if l.startswith(name)] == [child], r.stdout
        nid = d("docker", "network", "inspect", "-f", "{{.Id}}", "none").stdout.strip()
        for ref in ("none", nid[:10], nid):
            r = same(daemon, "ps", "-a", "--filter", "network=" + ref, "--format",
                     "{{.Names}}")
            assert sorted(l for l in r.stdout.split() if l.startswith(name)) == \
                [base, child], (ref, r.stdout)
    finally:
        d("docker", "rm", "-f", base, child)
        d("docker", "rmi", img)


def test_swappiness_realtime_and_storage_opt_checks_are_dockers(daemon):
    """dockerd's checks of these HostConfig fields, through the API (the CLI checks the
    swappiness range itself: both CLIs alike)."""
    same(daemon, "create", "--memory-swappiness", "101", "busybox", "true")
    for hc, want, msg in (({"MemorySwappiness": 101}, 400,
                           "Invalid value: 101, valid memory swappiness range is 0-100"),
                          ({"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 2000}, 500,
                           "cpu real-time runtime cannot be higher than cpu real-time period"),
                          ({"StorageOpt": {"size": "1G"}}, 500,
                           "--storage-opt is supported only for overlay over xfs with 'pquota' "
                           "mount option")):
        body = json.dumps({"Image": "busybox", "Cmd": ["true"], "HostConfig": hc})
        r = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "--unix-socket", daemon.sock,
                            "-X", "POST", "-H", "Content-Type: application/json", "-d", body,
                            "http://x/v1.41/containers/create"],
                           capture_output=True, text=True, timeout=30)
        text, code = r.stdout.rsplit("\n", 1)
        assert (int(code), json.loads(text)["message"]) == (want, msg), (hc, r.stdout)


def test_an_unknown_runtime_is_refused(daemon, name):
    r = daemon.run("docker", "create", "--runtime", "nvidia", "busybox", "true")
    assert r.returncode != 0 and "Unknown runtime specified nvidia" in r.stderr, r.stderr
    r = daemon.run("docker", "create", "--name", name, "--runtime", "runc", "--network", "none",
                   "busybox", "true")
    try:
        assert r.returncode == 0, r.stderr
    finally:
        daemon.run("docker", "rm", "-f", name)


def test_logs_is_dockers(daemon, running):
    for args in (["logs", running + "-done"], ["logs", "--tail", "2", running],
                 ["logs", "-n", "1", "--timestamps", running], ["logs", "--since", "1h", running],
                 ["logs", "--until", "1s", running], ["logs", "--since", "soon", running],
                 ["logs", "--details", running + "-done"], ["logs", "nonexistent"]):
        # a running container keeps writing: compare up to the shorter output
        dk, bt = run_both(daemon, *args)
        assert bt.returncode == dk.returncode
        if "--tail" in args or "-n" in args or running + "-done" in args or dk.returncode:
            assert (bt.stdout, bt.stderr) == (dk.stdout, as_berth(dk.stderr))
        else:
            n = min(len(bt.stdout.splitlines()), len(dk.stdout.splitlines()))
            assert bt.stdout.splitlines()[:n] == dk.stdout.splitlines()[:n]
    # follow ends when the container does
    r = daemon.run("berth", "logs", "-f", running + "-done", timeout=20)
    assert r.stdout == "bye\n"


def test_tty_logs_are_raw(daemon, name):
    daemon.run("docker", "run", "-t", "--name", name, "--network", "none", "busybox", "sh",
               "-c", "echo out; echo err >&2")
    try:
        r = same(daemon, "logs", name)
        assert r.stdout.splitlines() == ["out", "err"] and r.stderr == ""
    finally:
        daemon.run("docker", "rm", "-f", name)


def test_inspect_is_dockers(daemon, running):
    for args in (["inspect", running], ["inspect", "busybox"],
                 ["inspect", running, "busybox", "nonexistent"], ["inspect", "nonexistent"],
                 ["inspect", "-f", "{{.State.Status}} {{.Name}} {{.Config.Labels}}", running],
                 ["inspect", "-f", "{{json .Config.Cmd}}", running, running + "-done"],
                 ["inspect", "--type", "image", running], ["inspect", "--type", "foo", "x"],
                 ["inspect", "--type", "container", "busybox"], ["inspect", "-s", running],
                 ["inspect", "--format", "json", running],
                 ["container", "inspect", running], ["container", "inspect", "busybox"],
                 ["container", "inspect", "-s", "-f", "{{.SizeRootFs}}", running],
                 # docker's client joins paths with path.Join: "/name" and ".." work
                 ["inspect", "-f", "{{.Name}}", "/" + running],
                 ["inspect", "-f", "{{.Id}}", "../images/busybox"]):
        same(daemon, *args)


def test_exec_is_dockers(daemon, running):
    same(daemon, "exec", running, "sh", "-c", "echo x; echo y >&2; exit 4")
    same(daemon, "exec", "-e", "A=1", "-w", "/tmp", "-u", "nobody", running, "sh", "-c",
         "echo $A $(pwd) $(id -u)")
    same(daemon, "exec", running, "nonexistent-cmd")
    same(daemon, "exec", "nonexistent", "true")
    same(daemon, "exec", "-d", running, "sleep", "1")
    same(daemon, "exec", "-it", running, "true", input="")
    r = daemon.run("berth", "exec", "-i", running, "cat", input="to exec\n")
    assert (r.stdout, r.returncode) == ("to exec\n", 0)
    steps = [b"echo in-exec\n", ("resize", 50, 150), b"stty size\n", b"exit 5\n"]
    want = pty_session(daemon, "docker", ["exec", "-it", running, "sh"], steps)
    got = pty_session(daemon, "berth", ["exec", "-it", running, "sh"], steps)
    assert without_redraws(got) == without_redraws(want)
    assert got[1] == 5 and b"50 150" in got[0]


def test_stop_kill_rm_wait_restart_are_dockers(daemon, name):
    def start(*names):
        for n in names:
            daemon.run("docker", "run", "-d", "--name", n, "--network", "none", "busybox",
                       "sleep", "300")

    for tool in ("docker", "berth"):
        a, b = f"{name}-{tool}-a", f"{name}-{tool}-b"
        start(a, b)
        r = daemon.run(tool, "stop", "-t", "1", a, "nonexistent", b)
        assert r.stdout == f"{a}\n{b}\n", r
        assert r.stderr == "Error response from daemon: No such container: nonexistent\n"
        assert r.returncode == 1
        r = daemon.run(tool, "wait", a, "nonexistent", b)
        assert (r.stdout, r.returncode) == ("137\n137\n", 1), r
        r = daemon.run(tool, "restart", "-t", "1", a)
        assert (r.stdout, r.returncode) == (a + "\n", 0)
        r = daemon.run(tool, "kill", "-s", "USR2", a, "nonexistent")
        assert (r.stdout, r.returncode) == (a + "\n", 1)
        r = daemon.run(tool, "rm", a, b)
        assert r.stdout == b + "\n" and r.returncode == 1
        assert "You cannot remove a running container" in r.stderr
        r = daemon.run(tool, "rm", "-f", a, "nonexistent")
        assert (r.stdout, r.returncode) == (a + "\n", 0)
        assert r.stderr == "Error response from daemon: No such container: nonexistent\n"
    for args in (["rm", ""], ["stop", "nonexistent"], ["kill", "nonexistent"],
                 ["wait", "nonexistent"], ["restart", "nonexistent"], ["rm", "-f", "nonexistent"],
                 ["pause", "nonexistent"], ["unpause", "nonexistent"], ["container", "rm", "x"],
                 ["container", "remove", "x"]):
        same(daemon, *args)


def test_stop_with_the_deprecated_time_flag(daemon, name):
    daemon.run("docker", "run", "-d", "--name", name, "--network", "none", "busybox", "sleep",
               "300")
    r = daemon.run("berth", "stop", "--time", "1", name)
    # pflag's deprecation notice goes to stdout, before the name
    assert (r.stdout, r.stderr, r.returncode) == (
        "Flag --time has been deprecated, use --timeout instead\n" + name + "\n", "", 0)
    daemon.run("docker", "rm", "-f", name)


def test_top_port_rename_pause_prune(daemon, running, name):
    same(daemon, "top", running)
    same(daemon, "top", running, "-o", "pid,comm")
    same(daemon, "top", "nonexistent")
    same(daemon, "port", running)
    same(daemon, "port", running, "80/tcp")
    same(daemon, "port", running, "http")
    same(daemon, "rename", "nonexistent", "x")
    same(daemon, "rename", running, " ")
    r = daemon.run("berth", "rename", running + "-done", name + "-renamed")
    assert r.returncode == 0 and r.stdout == ""
    daemon.run("docker", "rename", name + "-renamed", running + "-done")
    r = daemon.run("berth", "pause", running)
    assert (r.stdout, r.returncode) == (running + "\n", 0)
    assert daemon.run("docker", "inspect", "-f", "{{.State.Status}}",
                      running).stdout == "paused\n"
    same(daemon, "pause", running)  # already paused: the daemon's 409, identically
    r = daemon.run("berth", "unpause", running)
    assert (r.stdout, r.returncode) == (running + "\n", 0)
    r = same(daemon, "container", "prune", input="n\n")
    assert r.stdout.startswith("WARNING! This will remove all stopped containers.")
    daemon.run("docker", "run", "--name", name + "-gone", "--network", "none", "busybox", "true")
    r = daemon.run("berth", "container", "prune", "-f", "--filter", "until=1h")
    assert r.returncode == 0 and r.stdout.endswith("Total reclaimed space: 0B\n")
    r = daemon.run("berth", "container", "prune", "-f")
    assert "Deleted Containers:\n" in r.stdout and r.returncode == 0
    names = daemon.run("docker", "ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert name + "-gone" not in names and running in names


def test_stats(daemon, name):
    daemon.run("docker", "run", "-d", "--name", name, "--network", "none", "busybox", "sleep",
               "300")
    try:
        time.sleep(1)
        fmt = "{{.Name}} {{.MemUsage}} {{.NetIO}} {{.BlockIO}} {{.PIDs}} {{len .CPUPerc}}"
        same(daemon, "stats", "--no-stream", "--format", fmt, name)
        same(daemon, "stats", "--no-stream", name, "nonexistent")
        r = daemon.run("berth", "stats", "--no-stream", name)
        head, row = r.stdout.splitlines()
        assert head.split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/",
                                "LIMIT", "MEM", "%", "NET", "I/O", "BLOCK", "I/O", "PIDS"]
        assert re.match(r"[0-9a-f]{12}   " + name + r" +\d+\.\d\d% +\S+ / \S+ +\d+\.\d\d% +"
                        r"0B / 0B +\S+ / \S+ +1$", row), row
        # live: the table redrawn in place every 500 ms
        p = subprocess.Popen([BERTH, "stats", name], env=daemon.env, stdout=subprocess.PIPE)
        time.sleep(2.2)
        p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=10)[0].decode()
        frames = out.split("\033[H")
        assert len(frames) >= 6, out  # each redraw writes the table twice, as docker's does
        assert out.count("\033[J") >= 3 and " \033[K\n" in out
    finally:
        daemon.run("docker", "rm", "-f", name)


# ---- pulling on the way (a loopback registry) ------------------------------------------------


@pytest.fixture(scope="module")
def registry_image(daemon, loopback_registry):
    """busybox pushed to a CNCF Distribution registry on 127.0.0.1; yields its reference."""
    ref = f"{loopback_registry}/bb:1"
    for args in (["tag", "busybox", ref], ["push", ref]):
        r = daemon.run("docker", *args)
        assert r.returncode == 0, r.stderr
    yield ref


def test_run_pulls_a_missing_image_as_docker(daemon, registry_image):
    outputs = {}
    for tool in ("docker", "berth"):
        daemon.run("docker", "rmi", registry_image)
        r = daemon.run(tool, "run", "--rm", "--network", "none", registry_image, "echo", "hi")
        outputs[tool] = (r.returncode, r.stdout, as_berth(r.stderr) if tool == "docker"
                         else r.stderr)
    assert outputs["berth"] == outputs["docker"]
    code, out, err = outputs["berth"]
    assert code == 0 and out == "hi\n"
    assert err.startswith(f"Unable to find image '{registry_image}' locally\n1: Pulling from bb\n")
    assert err.endswith(f"Status: Downloaded newer image for {registry_image}\n")
    # --pull always pulls a present image first; -q says nothing about it
    r = same(daemon, "run", "--rm", "--pull", "always", "--network", "none", registry_image,
             "true")
    assert r.stderr.endswith(f"Status: Image is up to date for {registry_image}\n")
    for tool in ("docker", "berth"):
        r = daemon.run(tool, "create", "-q", "--pull", "always", "--network", "none",
                       registry_image)
        assert r.returncode == 0 and r.stderr == "" and len(r.stdout) == 65
        daemon.run("docker", "rm", "-f", r.stdout.strip())
