"""The CLI's output layer against the real docker CLI.

A tiny fake daemon on a unix socket serves canned /images/json bodies and
pull progress streams; the real `docker` client renders them (Debian's
docker.io, /usr/bin/docker, always; a newer client in /usr/local/bin too when
the machine has one: each test runs once per client version), and tests/helper/berth-fmt renders the same JSON with berth's modules
(src/cli: gotemplate, formatter, tabwriter, units, progress).  Every test
asserts that stdout, stderr and the exit status are byte-identical, on a pipe
and on a pseudo-terminal.  Nothing here is a golden string: the expected
bytes are whatever docker prints.
"""
import fcntl
import http.server
import json
import os
import pty
import re
import select
import shutil
import socketserver
import struct
import subprocess
import tempfile
import termios
import threading
import time
import uuid

import pytest

from conftest import build_path

BERTH_FMT = build_path("tests", "helper", "berth-fmt")


def _docker_clis():
    """(path, (major, minor)) of each distinct docker client version installed."""
    found = []
    for path in ("/usr/bin/docker", "/usr/local/bin/docker"):
        if not os.access(path, os.X_OK):
            continue
        out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
        m = re.match(r"Docker version (\d+)\.(\d+)", out)
        if m and all(v != (int(m[1]), int(m[2])) for _, v in found):
            found.append((path, (int(m[1]), int(m[2]))))
    return found


DOCKER_CLIS = _docker_clis()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Api-Version", "1.41")
        self.send_header("Ostype", "linux")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            return self._send(200, b"OK", "text/plain; charset=utf-8")
        if path.endswith("/images/json"):
            return self._send(200, self.server.images)
        if path.endswith("/containers/json"):
            return self._send(200, self.server.containers)
        return self._send(404, b'{"message":"page not found"}')

    def do_POST(self):
        path = self.path.split("?")[0]
        if not path.endswith("/images/create"):
            return self._send(404, b'{"message":"page not found"}')
        self.send_response(200)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        # one chunk per message, as dockerd streams them
        for line in self.server.stream.split(b"\n"):
            if not line:
                continue
            line += b"\r\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("fake-daemon", 0)


@pytest.fixture(params=DOCKER_CLIS or [("/usr/bin/docker", (0, 0))],
                ids=lambda c: "docker-%d.%d" % c[1])
def daemon(request):
    """A fake Docker daemon and the docker client to point at it; set .images / .stream."""
    d = tempfile.mkdtemp(prefix="berth-fmt-")
    sock = os.path.join(d, "docker-%s.sock" % uuid.uuid4().hex[:8])
    srv = _Server(sock, _Handler)
    srv.images = b"[]"
    srv.containers = b"[]"
    srv.stream = b""
    srv.sock = sock
    srv.docker, srv.version = request.param
    srv.config_dir = os.path.join(d, "docker-config")  # no user config (imagesFormat)
    os.mkdir(srv.config_dir)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        shutil.rmtree(d, ignore_errors=True)


def _env(srv):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = srv.config_dir
    env["TZ"] = "UTC"
    return env


def run_pipe(srv, argv, stdin=None):
    p = subprocess.run(argv, input=stdin, capture_output=True, env=_env(srv), timeout=60)
    return p.stdout, p.stderr, p.returncode


def run_pty(srv, argv, cols, stdin_file=None):
    """Run argv on a pseudo-terminal of the given width; returns (output, exit status)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
            if stdin_file:
                f = os.open(stdin_file, os.O_RDONLY)
                os.dup2(f, 0)
            os.execve(argv[0], argv, _env(srv))
        finally:
            os._exit(127)
    out = b""
    deadline = time.time() + 60
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        out += b
    os.close(fd)
    _, st = os.waitpid(pid, 0)
    return out, os.waitstatus_to_exitcode(st)


def docker(srv, *args):
    return [srv.docker, "-H", "unix://" + srv.sock] + list(args)


def needs(srv, version, what):
    """Behaviour that older docker clients lack: berth follows the newer one."""
    if srv.version < version:
        pytest.skip("docker %d.%d predates %s" % (srv.version + (what,)))


@pytest.fixture(scope="module", autouse=True)
def prerequisites():
    assert os.access("/usr/bin/docker", os.X_OK), "the docker CLI (Debian docker.io) is required"
    assert os.access(BERTH_FMT, os.X_OK), "build first: %s is missing" % BERTH_FMT


# ------------------------------------------------------------------ images


def image_list():
    """Created times sit well inside their CreatedSince bucket, so a second's drift is harmless."""
    now = int(time.time())
    return [
        {"Containers": -1, "Created": now - 3 * 86400 - 100,
         "Id": "sha256:1dd75f815fbad5a1663e9f09f346b875ab8adc9425f5402dcc042fab41fb6920",
         "Labels": None, "ParentId": "",
         "RepoDigests": ["127.0.0.1:5000/research/pulltest@sha256:b80d2214d021e720cff9c45febcfe9ec46a26641bf73a5dac7c0fde4488688a6"],
         "RepoTags": ["127.0.0.1:5000/research/pulltest:v1"],
         "SharedSize": -1, "Size": 1982392, "VirtualSize": 1982392},
        {"Containers": 2, "Created": now - 40 * 86400,
         "Id": "sha256:f707ce1d1db18f4705e857c1358285f6a771c2efb2271df40834fc9150722dcb",
         "Labels": {"a": "b"}, "ParentId": "",
         "RepoDigests": ["alpine@sha256:2a902bad5b51ff44b235b18efb06338514e30fac7d1d701df60d33f0b499ca13"],
         "RepoTags": ["alpine:3.10", "alpine:latest"],
         "SharedSize": 1000, "Size": 1985917, "VirtualSize": 1985917},
        {"Containers": -1, "Created": now - 7200 - 30,
         "Id": "sha256:efad5d413ba3500f47ee77230cc40f5c8557331d5a276b0e18188e6fca1bf36b",
         "Labels": None, "ParentId": "",
         "RepoDigests": ["python@sha256:4d5f466b33986db71f230185713824eef74d7604782d18472f436b3ecadb130b"],
         "RepoTags": ["python:latest"], "SharedSize": -1, "Size": 252818488,
         "VirtualSize": 252818488},
        {"Containers": -1, "Created": now - 400 * 86400,
         "Id": "sha256:aaaa6cfdfbec3dfd18bbce95d2606695940806334e7c2077ccb3d13326a3009f",
         "Labels": None, "ParentId": "", "RepoDigests": [], "RepoTags": [],
         "SharedSize": -1, "Size": 999, "VirtualSize": 999},
        {"Containers": -1, "Created": now - 90,
         "Id": "sha256:bbbb6cfdfbec3dfd18bbce95d2606695940806334e7c2077ccb3d13326a3009f",
         "Labels": None, "ParentId": "",
         "RepoDigests": ["busybox@sha256:31f3d05b4ad702f30017c4d8cc9deddf477582df602b6cb631ce9d9e61ed20e1"],
         "RepoTags": [], "SharedSize": -1, "Size": 1200000000, "VirtualSize": 1200000000},
        {"Containers": 0, "Created": now - 50 * 60 - 20,
         "Id": "sha256:cccc6cfdfbec3dfd18bbce95d2606695940806334e7c2077ccb3d13326a3009f",
         "Labels": None, "ParentId": "", "RepoDigests": [],
         "RepoTags": ["registry.example.com:5000/team/app-with-a-long-name:2024.11.28-rc1"],
         "SharedSize": 0, "Size": 999999, "VirtualSize": 999999},
    ] + [
        # sizes at go-units' boundaries: the SIZE column and {{.VirtualSize}} must round alike
        {"Containers": -1, "Created": now - 20 * 86400,
         "Id": "sha256:%064x" % (0xd000 + i), "Labels": None, "ParentId": "", "RepoDigests": [],
         "RepoTags": ["sizes:s%d" % i], "SharedSize": -1, "Size": size, "VirtualSize": size}
        for i, size in enumerate([0, 999, 1000, 1001, 999499, 999500, 1234567, 12345678901,
                                  999999999999, 1000000000000000, 123456789012345678])
    ]


def assert_same_images(srv, args):
    srv.images = json.dumps(image_list()).encode()
    want = run_pipe(srv, docker(srv, "images") + args)
    got = run_pipe(srv, [BERTH_FMT, "images"] + args, stdin=srv.images)
    assert got == want, "berth-fmt images %r differs from docker images" % (args,)
    return want


IMAGE_FLAGS = [
    [], ["--no-trunc"], ["--digests"], ["-q"], ["--digests", "--no-trunc"],
    ["--format", "table"], ["--format", "json"], ["--format", "raw"],
    ["--format", "raw", "--digests"], ["-q", "--format", "raw"],
    ["--digests", "--format", "table {{.ID}}\\t{{.Repository}}"],
]


@pytest.mark.parametrize("args", IMAGE_FLAGS, ids=lambda a: " ".join(a) or "default")
def test_images_table_matches_docker(daemon, args):
    if args == ["--format", "json"]:
        needs(daemon, (23, 0), "--format json")
    out, err, status = assert_same_images(daemon, args)
    assert status == 0 and out  # the comparison must have had something to compare


def test_images_empty_list_matches_docker(daemon):
    daemon.images = b"[]"
    want = run_pipe(daemon, docker(daemon, "images"))
    got = run_pipe(daemon, [BERTH_FMT, "images"], stdin=b"[]")
    assert got == want
    assert want[0].startswith(b"REPOSITORY")


TEMPLATES = [
    "{{.Repository}}:{{.Tag}}",
    "{{.ID}} {{.Digest}} {{.CreatedSince}} {{.CreatedAt}} {{.Size}} {{.Containers}}",
    "{{.VirtualSize}}|{{.SharedSize}}|{{.UniqueSize}}",
    '{{if eq .Tag "latest"}}L{{else if eq .Tag "<none>"}}N{{else}}{{.Tag}}{{end}}',
    '{{range $i, $p := split .Repository "/"}}{{$i}}={{$p}};{{end}}',
    '{{range split .Repository "/"}}{{.}}|{{else}}none{{end}}',
    '{{printf "%-20s|%5.5s|%q|%x|%v|%d" .Repository .Tag .Size .Containers .ID 42}}',
    '{{printf "%s %d" 1 "x"}} {{printf "%d"}} {{printf "%s" 1 2}} {{printf "%6.2f|%e|%g" 3.14159 1e6 1e21}}',
    "{{json .}}",
    "{{json .Repository}} {{json 1.5}} {{json 1e21}} {{json true}}",
    '{{join (split .Repository "/") "-"}}',
    "{{title .Repository}} {{upper .Tag}} {{lower .Size}}",
    "[{{pad .Tag 2 3}}]|{{truncate .ID 4}}|{{truncate .Tag 100}}",
    '{{len .ID}} {{len (split .Repository "/")}} {{index (split .Repository "/") 0}} {{index .ID 0}}',
    "{{$r := .Repository}}{{with .Tag}}{{$r}}@{{.}}{{end}}",
    '{{$x := "a"}}{{$x = "b"}}{{$x}}{{with $y := .Tag}}{{$y}}{{end}}',
    "  {{- .Tag -}}  {{/* a comment */}}  x",
    '{{if and (ne .Containers "N/A") (gt (len .Tag) 3)}}yes{{end}}{{or .Digest "nodigest"}}|{{and .Tag 0}}',
    '{{.ID | printf "%s!" | upper}}',
    '{{lt .Tag "m"}} {{le 1 2}} {{ge 2.5 1.5}} {{eq .Tag "a" "latest" "3.10"}} {{not .Tag}}',
    '{{print 1 2 "x" 3 "y" "z" nil}} {{println .Tag 7}}',
    '{{"\\t\\u00e9\\x41"}}x{{`raw\\t`}}{{\'a\'}}{{0x1F}} {{1_000}} {{-.5}}',
    '{{range $i, $e := split "a,b,c,d" ","}}{{if eq $i 1}}{{continue}}{{end}}{{if eq $i 3}}{{break}}{{end}}{{$e}}{{end}}',
    "{{slice .ID 0 3}} {{slice .ID 5}}",
    """{{html .Tag}} {{html "<a href='x'>&\"</a>" 1}} {{js "<a='b'>\\ \"q\""}} {{urlquery "a b/c?d=é&x"}}""",
    "table {{.Repository}}\\t{{.Tag}}",
    "table {{lower .Repository}}\\t{{pad .Tag 1 1}}\\t{{truncate .ID 5}}\\t{{json .Size}}\\t{{upper .CreatedSince}}",
    "table {{.ID}}\\t{{.Nonexistent}}",
    "table",
    "{{.Tag}}\\n{{.ID}}\\t!",
    # errors: docker's exact words, on stderr, exit 1, nothing on stdout
    "{{.ID}",
    "{{.ID }",
    "{{.Nope}}",
    "{{if}}{{end}}",
    "{{end}}",
    "{{if .Tag}}",
    "{{foo .ID}}",
    "{{$x}}",
    '{{"x" | .ID}}',
    "{{index .ID 99}}",
    "{{lower 3}}",
    "{{.ID.Foo}}",
    "{{eq .Tag 1}}",
    "{{lt .Tag 1.5}}",
    "{{printf}}",
    "{{range .ID}}{{end}}",
    "{{nil}}",
    "{{len 3}}",
    '{{"unterminated}}',
    "{{/* open",
    "{{break}}",
    "{{3x}}",
    "{{.Tag | 3}}",
]


@pytest.mark.parametrize("fmt", TEMPLATES)
def test_format_templates_match_docker(daemon, fmt):
    assert_same_images(daemon, ["--format", fmt])


def test_else_with_matches_docker(daemon):
    needs(daemon, (28, 0), "{{else with}} (Go 1.23 templates)")
    assert_same_images(daemon, ["--format",
                                "{{with .Digest}}d={{.}}{{else with .Tag}}t={{.}}{{else}}none{{end}}"])


# --------------------------------------------------------------------- ps


def container_list(labels=None, command2="sh -c 'echo hello from a long command line'"):
    now = int(time.time())
    return [
        {"Id": "8dfafdbc3a40b7e5c1e9d2b9ab6c1c7a7d5a7e3f2b1c0d9e8f7a6b5c4d3e2f1a",
         "Names": ["/web"], "Image": "nginx:latest",
         "ImageID": "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
         "Command": "/docker-entrypoint.sh nginx -g 'daemon off;'", "Created": now - 3 * 3600 - 20,
         "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                   {"PrivatePort": 443, "Type": "tcp"}, {"PrivatePort": 444, "Type": "tcp"},
                   {"PrivatePort": 446, "Type": "tcp"},
                   {"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 53, "Type": "udp"},
                   {"IP": "0.0.0.0", "PrivatePort": 54, "PublicPort": 54, "Type": "udp"},
                   {"IP": "127.0.0.1", "PrivatePort": 9000, "PublicPort": 19000, "Type": "tcp"}],
         "Labels": labels or {"com.example.b": "2"}, "State": "running", "Status": "Up 3 hours",
         "HostConfig": {"NetworkMode": "default"},
         "NetworkSettings": {"Networks": {"bridge": {}}},
         "Mounts": [{"Type": "volume", "Name": "0123456789abcdef0123456789abcdef",
                     "Source": "/var/lib/docker/volumes/x/_data", "Destination": "/data",
                     "Driver": "local", "Mode": "", "RW": True, "Propagation": ""}],
         "SizeRw": 12345, "SizeRootFs": 187654321},
        {"Id": "aaaafdbc3a40b7e5c1e9d2b9ab6c1c7a7d5a7e3f2b1c0d9e8f7a6b5c4d3e2f1a",
         "Names": ["/db", "/web/db-link"],
         "Image": "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
         "ImageID": "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
         "Command": command2,
         "Created": now - 10 * 86400, "Ports": [], "Labels": {}, "State": "exited",
         "Status": "Exited (0) 2 days ago", "HostConfig": {"NetworkMode": "none"},
         "NetworkSettings": {"Networks": {"none": {}}},
         "Mounts": [{"Type": "bind", "Source": "/srv/some/very/long/path/here", "Destination": "/x",
                     "Mode": "", "RW": True, "Propagation": "rprivate"}]},
        {"Id": "bbbbfdbc3a40", "Names": ["/x"],
         "Image": "docker.io/library/busybox:1.36@sha256:31f3d05b4ad702f30017c4d8cc9deddf477582df602b6cb631ce9d9e61ed20e1",
         "ImageID": "sha256:ffff", "Command": "", "Created": now - 50 * 60 - 20, "Ports": None,
         "Labels": None, "State": "created", "Status": "Created", "NetworkSettings": None,
         "Mounts": []},
        {"Id": "cccc", "Names": ["/y"], "Image": "", "ImageID": "", "Command": "true",
         "Created": now - 90, "Ports": [], "Labels": None, "State": "exited",
         "Status": "Exited (1) About a minute ago", "Mounts": []},
    ]


def assert_same_ps(srv, args, containers=None):
    srv.containers = json.dumps(containers or container_list()).encode()
    want = run_pipe(srv, docker(srv, "ps") + args)
    got = run_pipe(srv, [BERTH_FMT, "ps"] + args, stdin=srv.containers)
    assert got == want, "berth-fmt ps %r differs from docker ps" % (args,)
    return want


PS_ARGS = [
    [], ["--no-trunc"], ["-q"], ["-s"], ["--format", "raw"], ["--format", "raw", "-s"],
    ["--format", "{{.Size}}"], ["--format", "table {{.Names}}\t{{.Ports}}\t{{.Image}}"],
    ["--format", '{{.Label "com.example.b"}}|{{.Labels}}|{{.Mounts}}|{{.LocalVolumes}}|{{.Networks}}|{{.State}}|{{.Status}}'],
    ["--format", "{{.Command}} {{.CreatedAt}} {{.RunningFor}}"],
    ["--no-trunc", "--format", "{{.Names}} {{.Image}} {{.Command}} {{.Mounts}}"],
    ["--format", '{{.Label "nope"}}|{{"com.example.b" | .Label}}'],
    # errors: docker checks the format before listing
    ["--format", "{{.Nope}}"], ["--format", "{{.ID}"], ["--format", "{{.Label}}"],
    ["--format", '{{.Label 1}}'], ["--format", "{{if}}"],
]


@pytest.mark.parametrize("args", PS_ARGS, ids=lambda a: " ".join(a) or "default")
def test_ps_matches_docker(daemon, args):
    assert_same_ps(daemon, args)


def test_ps_quiet_with_format_matches_docker(daemon):
    needs(daemon, (28, 0), "the warning for --quiet with --format")
    out, err, _ = assert_same_ps(daemon, ["-q", "--format", "{{.Names}}"])
    assert err.startswith(b"WARNING: Ignoring custom format")


def test_ps_wide_characters_match_docker(daemon):
    """Columns count display width (East Asian wide = 2), as docker 28's tabwriter does."""
    needs(daemon, (28, 0), "display-width columns (older clients count runes)")
    cjk = "sh -c 'echo \u65e5\u672c\u8a9e\u65e5\u672c\u8a9e\u65e5\u672c\u8a9e'"
    assert_same_ps(daemon, [], container_list(command2=cjk))
    assert_same_ps(daemon, ["--no-trunc"], container_list(command2=cjk))


def test_ps_json_and_sorted_labels_match_docker(daemon):
    needs(daemon, (28, 0), "the Platform field and sorted labels")
    labels = {"z": "1", "a": "2", "m": "3"}
    assert_same_ps(daemon, ["--format", "{{json .}}"], container_list(labels))
    assert_same_ps(daemon, ["--format", "{{.Labels}}"], container_list(labels))
    assert_same_ps(daemon, ["--format", "json"], container_list(labels))


# ------------------------------------------------------------------- pull


def pull_stream(error=None):
    msgs = [{"status": "Pulling from library/busybox", "id": "latest"},
            {"status": "Already exists", "progressDetail": {}, "id": "2221163a69f9"}]
    layers = [("a1b2c3d4e5f6", 2152262), ("0f1e2d3c4b5a", 45600000), ("77aa88bb99cc", 1234)]
    for lid, _ in layers:
        msgs.append({"status": "Pulling fs layer", "progressDetail": {}, "id": lid})
    msgs.append({"status": "Waiting", "progressDetail": {}, "id": "77aa88bb99cc"})
    for step in range(6):
        for lid, total in layers:
            cur = min(total, step * total // 5 + 32768)
            msgs.append({"status": "Downloading",
                         "progressDetail": {"current": cur, "total": total},
                         "progress": "[=>   ] ignored by the CLI", "id": lid})
        if error and step == 2:
            msgs.append({"errorDetail": {"message": error}, "error": error})
            msgs.append({"status": "never shown"})
            return "\n".join(json.dumps(m) for m in msgs).encode() + b"\n"
    for lid, _ in layers:
        msgs.append({"status": "Verifying Checksum", "progressDetail": {}, "id": lid})
        msgs.append({"status": "Download complete", "progressDetail": {}, "id": lid})
    for lid, total in layers:
        for cur in (total // 3, total):
            msgs.append({"status": "Extracting",
                         "progressDetail": {"current": cur, "total": total},
                         "progress": "[==>  ] ignored", "id": lid})
        msgs.append({"status": "Pull complete", "progressDetail": {}, "id": lid})
    msgs += [
        {"status": "Extracting", "progressDetail": {"current": 5000000000, "total": 1000}, "id": "aaaaaaaaaaaa"},
        {"status": "Extracting", "progressDetail": {"current": 77, "units": "items"}, "id": "bbbbbbbbbbbb"},
        {"status": "Extracting", "progressDetail": {"current": 7, "total": 9, "units": "items"}, "id": "cccccccccccc"},
        {"status": "Extracting", "progressDetail": {"current": 3, "total": 9, "hidecounts": True}, "id": "dddddddddddd"},
        # an ETA: 1 MB took 10 s, 0.1 MB to go is 1 s (stable however late each client runs)
        {"status": "Downloading", "progressDetail": {"current": 1000000, "total": 1100000,
                                                     "start": int(time.time()) - 10}, "id": "ffffffffffff"},
        {"stream": "a stream line\n"},
        {"status": "Legacy", "progress": "legacy progress text", "id": "eeeeeeeeeeee"},
        {"aux": {"Tag": "latest", "Digest": "sha256:31f3", "Size": 527}},
        {"status": "Digest: sha256:31f3d05b4ad702f30017c4d8cc9deddf477582df602b6cb631ce9d9e61ed20e1"},
        {"status": "Status: Downloaded newer image for busybox:latest"},
    ]
    return "\n".join(json.dumps(m) for m in msgs).encode() + b"\n"


REF_LINE = b"docker.io/library/busybox:latest"


def strip_reference(out, newline):
    """docker pull prints the pulled reference itself after the stream: not the renderer's."""
    tail = REF_LINE + newline
    assert out.endswith(tail), "docker pull did not end with its reference line: %r" % out[-80:]
    return out[: -len(tail)]


def test_pull_plain_matches_docker(daemon, tmp_path):
    daemon.stream = pull_stream()
    out, err, status = run_pipe(daemon, docker(daemon, "pull", "busybox:latest"))
    assert status == 0, err
    want = (strip_reference(out, b"\n"), err, status)
    got = run_pipe(daemon, [BERTH_FMT, "progress"], stdin=daemon.stream)
    assert got == want
    assert b"Downloading" not in want[0]  # no bars without a terminal
    assert b"Status: Downloaded newer image for busybox:latest\n" in want[0]


@pytest.mark.parametrize("cols", [120, 80, 45])
def test_pull_terminal_matches_docker(daemon, tmp_path, cols):
    daemon.stream = pull_stream()
    stream_file = tmp_path / "stream.json"
    stream_file.write_bytes(daemon.stream)
    out, status = run_pty(daemon, docker(daemon, "pull", "busybox:latest"), cols)
    assert status == 0, out
    want = strip_reference(out, b"\r\n")
    got, gstatus = run_pty(daemon, [BERTH_FMT, "progress", "--tty", "--chunk", "7"], cols,
                           stdin_file=str(stream_file))
    assert gstatus == 0
    assert got == want
    assert b"\x1b[2K" in want and b"Downloading" in want
    assert (b"[=" in want) == (cols > 110)  # the bar needs a wide terminal
    assert (b"/1.1MB 1s" in want) == (cols > 50)  # and the ETA a terminal wider than 50


def test_pull_error_matches_docker(daemon, tmp_path):
    msg = "manifest for busybox:latest not found: manifest unknown: manifest unknown"
    daemon.stream = pull_stream(error=msg)
    want = run_pipe(daemon, docker(daemon, "pull", "busybox:latest"))
    got = run_pipe(daemon, [BERTH_FMT, "progress"], stdin=daemon.stream)
    assert got == want
    assert want[1] == msg.encode() + b"\n" and want[2] == 1
    stream_file = tmp_path / "stream.json"
    stream_file.write_bytes(daemon.stream)
    want_tty = run_pty(daemon, docker(daemon, "pull", "busybox:latest"), 120)
    got_tty = run_pty(daemon, [BERTH_FMT, "progress", "--tty"], 120, stdin_file=str(stream_file))
    assert got_tty == want_tty


# ------------------------------------------------- Go's text/template itself

GO = "/usr/bin/go"
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def go_oracle(tmp_path_factory):
    """tests/integration/gotemplate_oracle.go built with Debian's Go: text/template as Go runs it."""
    assert os.access(GO, os.X_OK), "Go (Debian golang-go) is required as the reference"
    d = tmp_path_factory.mktemp("go-oracle")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(d), "GOCACHE": str(d / "cache"),
           "GOPATH": str(d / "gopath"), "GOPROXY": "off", "GO111MODULE": "off",
           "CGO_ENABLED": "0"}
    exe = str(d / "gotemplate-oracle")
    p = subprocess.run([GO, "build", "-o", exe, os.path.join(HERE, "gotemplate_oracle.go")],
                       env=env, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    return exe


# Keys in sorted order: Go's json encodes maps sorted, berth keeps document order (which is
# docker's struct order for daemon data), and the two agree on sorted input.
ORACLE_DATA = json.dumps({
    "Big": 123456789.0, "Config": {"Env": ["A=1", "B=2"], "Labels": {},
                                   "Nested": {"k": [1, {"x": None}], "s": "deep"}},
    "E": 1e6, "Empty": "", "F": 1.5, "ID": "sha256:abcdef0123456789",
    "Labels": {"a": "1", "b": "2", "com.example.x": "y"}, "Mixed": {"y": [1, "x"], "z": 1},
    "N": 1000000, "Names": ["web", "db", "cache"], "Neg": -3, "Nil": None, "Small": 0.00001,
    "T": True, "Uni": "h\u00e9llo w\u00f6rld \u65e5\u672c",
}).encode()

ORACLE_TEMPLATES = [
    "{{.}}",
    "{{.ID}} {{.Missing}} {{.Config.Missing}} {{.Missing.Deeper}} {{.Nil}}",
    "{{.Names}} {{.Labels}} {{.Mixed}} {{.Config}}",
    "{{.N}} {{.F}} {{.E}} {{.Big}} {{.Small}} {{.Neg}} {{.T}}",
    "{{range $k, $v := .Mixed}}{{$k}}={{$v}};{{end}}|{{range .Labels}}{{.}},{{end}}",
    "{{range $i, $n := .Names}}{{if $i}}, {{end}}{{$i}}:{{$n}}{{else}}none{{end}}",
    "{{range .Config.Nested.k}}[{{.}}]{{end}} {{index .Config.Nested.k 1}} {{index .Labels \"a\"}}|{{index .Labels \"zz\"}}|{{index .Mixed \"zz\"}}",
    "{{range .Names}}{{if eq . \"db\"}}{{continue}}{{end}}{{if eq . \"cache\"}}{{break}}{{end}}{{.}}{{end}}",
    "{{with .Config.Nested}}{{.s}} {{$.ID}}{{end}}{{with .Empty}}x{{else}}empty{{end}}",
    "{{if .Empty}}a{{else if .Nil}}b{{else if .N}}c{{end}} {{if not .T}}x{{else}}y{{end}}",
    "{{$x := .N}}{{$y := \"s\"}}{{range .Names}}{{$y = .}}{{end}}{{$x}} {{$y}}",
    "{{len .Names}} {{len .ID}} {{len .Labels}} {{len .Uni}} {{len .Config.Labels}}",
    "{{eq .N 1000000}} {{eq .ID \"x\" \"sha256:abcdef0123456789\"}} {{ne .F 1.5}} {{lt .Neg 0}} {{le \"a\" \"b\"}} {{gt .Big .F}} {{ge .N .N}}",
    "{{and .T .N .ID}} {{and .T .Empty .ID}} {{or .Empty .Nil .F}} {{or .Empty .Missing}} {{not .Nil}}",
    "{{printf \"%s|%10s|%-10s|%q|%x|%X\" .ID .Uni .Names .Uni .ID .Neg}}",
    "{{printf \"%d|%5d|%-5d|%05d|%+d|%x|%o|%b|%c|%U\" .N .Neg .Neg .Neg .N .N .N 5 65 9731}}",
    "{{printf \"%v|%.2f|%8.3f|%e|%E|%g|%G|%.3g\" .F .F .Big .Big .Small .Big .Small .Big}}",
    "{{printf \"%t|%v|%v|%v|%s|%d\" .T .Nil .Labels .Config.Nested .Names .Names}}",
    "{{printf \"%d %s\" .ID .N}} {{printf \"%s\"}} {{printf \"%s\" 1 2}} {{printf \"%z\" 3}} {{printf \"100%%\"}}",
    "{{print .N .F \"s\" .Names .Nil .Missing}}|{{println .ID .T}}",
    "{{json .Labels}} {{json .Names}} {{json .Mixed}} {{json .F}} {{json .Big}} {{json .Small}} {{json .Nil}} {{json \"<&>\"}}",
    "{{json .}}",
    "{{join .Names \", \"}} {{join .Labels \"+\"}} {{join .Nil \",\"}} {{join (split .ID \":\") \"/\"}}",
    "{{split .ID \"\"}} {{split \"a,,b\" \",\"}} {{split .Uni \" \"}}",
    "{{lower .Uni}} {{upper .ID}} {{title \"hello wide_world-x y.z\"}}",
    "[{{pad .Empty 1 1}}][{{pad .ID 0 2}}] {{truncate .ID 6}} {{truncate .ID 100}}",
    "{{.Names | len}} {{.ID | printf \"%s!\" | printf \"<%s>\"}} {{(index .Names 0) | upper}}",
    "{{slice .ID 0 6}} {{slice .Names 1}} {{slice .Names 1 2}} {{index .ID 0}}",
    "{{\"a\\tb\\u00e9\\x41\\101\"}} {{`raw\\n`}} {{'x'}} {{'\\n'}} {{0x1F}} {{0o17}} {{0b101}} {{1_000}} {{1e3}} {{.5}} {{-7}}",
    "a  {{- .ID -}}  b {{/* comment */}} c {{- /* c2 */ -}} d",
    "{{html .Uni}} {{html \"<a href='x'>&\\\"\" 3}} {{js \"<a='b'>\\\\\"}} {{urlquery \"a b/c?d=\u00e9\"}}",
    "{{.Labels.a}} {{.Labels.zz}} {{.Config.Nested.k}}",
    "{{(.Config).Env}} {{(index .Config.Nested.k 1).x}} {{$.Names}} {{$c := .Config}}{{$c.Nested.s}}",
    "{{range .Names}}{{range $.Names}}{{.}}{{end}};{{end}}",
    "{{range $v := .Labels}}{{$v}}{{end}} {{range $i, $v := .Config.Labels}}x{{else}}none{{end}}",
    "{{$i := 0}}{{range $i, $n := .Names}}{{end}}{{$i}} {{range $i = .Names}}{{end}}{{$i}}",
    "line1\n  {{- /* c */}}\n{{.ID -}}\n\n  end",
    "{{if and .T (or .Empty .N) (not .Nil)}}yes{{end}} {{if (eq (len .Names) 3)}}three{{end}}",
    "{{printf \"%6.2f|%-8.3s|%08.3f|% d|%+.1e|%x\" .F .Uni .F .N .Big \"\u00e9\"}}",
    "{{printf \"%v %v\" .Config.Nested.k .Mixed}} {{printf \"%s\" .Mixed}} {{printf \"%d\" .Mixed}}",
    "{{printf \"%q %q %q\" .Names 65 .Uni}} {{printf \"%x\" .Names}} {{printf \"%5t|%-7v|\" .T .N}}",
    "{{print}}|{{println}}|{{print \"a\" \"b\"}}|{{print 1 \"a\" 2}}|{{print .Nil .Nil}}",
    "{{with $x := .Config}}{{$x.Env}}{{end}} {{with .Missing}}m{{end}} {{with .Names}}{{index . 2}}{{end}}",
    "{{len (slice .Names 0 2)}} {{slice .Uni 1 3}} {{index (split .ID \":\") 1}}",
    "{{eq .Nil .Missing}} {{eq .Labels.a \"1\"}} {{ne .Uni \"\"}} {{lt 1.5 2.5}} {{gt 3 2}} {{le .N 1000000}}",
    "{{or 0 \"\" .Names}} {{and 1 \"x\" .Nil}} {{not 0}} {{not .Names}} {{not \"\"}}",
    "{{- .ID -}}\n{{- \"x\" -}}\n",
    # errors
    "{{.ID}", "{{.ID }", "x\n{{.ID", "{{if .T}}", "{{end}}", "{{else}}", "{{if}}{{end}}",
    "{{foo}}", "{{$x}}", "{{.ID | \"x\"}}", "{{\"unterminated}}", "{{/* open", "{{3x}}",
    "{{.ID.Foo}}", "{{.Nil.X}}", "{{.Labels.a.x}}", "ok\n  {{index .Names 5}}", "{{lower .Missing}}",
    "{{lower .N}}", "{{lower 3}}", "{{eq 1 1.0}}", "{{eq .N .F}}", "{{lt .Names 1}}",
    "{{\"x\" | .ID}}", "{{.ID \"x\"}}", "{{range .ID}}{{end}}", "{{range .F}}{{end}}", "{{nil}}",
    "{{printf}}", "{{join .ID \",\"}}", "{{len .N}}", "{{index .N 1}}", "{{index .Names \"a\"}}",
    "{{slice .Names 2 1}}", "{{truncate .ID .F}}", "{{pad .ID 1}}", "{{(1).X}}", "{{1 2}}",
    "{{$x := 1}}{{$x.Y}}", "{{range $i, $v, $w := .Names}}{{end}}", "{{with $x := 1}}{{end}}{{$x}}",
    "{{.Names.X}}", "{{index .Config.Nested.k 1 \"x\" \"y\"}}",
    "{{range}}{{end}}", "{{with}}{{end}}", "{{if .T}}{{else}}{{else}}{{end}}", "{{.ID | }}",
    "{{(.ID}}", "{{.ID)}}", "{{$x := }}", "{{$x = 1}}", "{{.A.}}", "{{..}}", "{{.ID|lower|}}",
    "{{index}}", "{{eq}}", "{{eq .N}}", "{{not 1 2}}", "{{lt 1}}", "{{html}}", "{{len}}",
    "{{printf 3}}", "{{split .ID}}", "{{1.5.X}}", "{{\"s\".X}}", "{{nil.X}}", "{{.ID \"a\" \"b\"}}",
    "{{@}}", "{{.ID\u00e9}}", "text {{- -}} more", "{{-3}} {{- 3}} {{3 -}}",
    "{{\"x\"}\"}}", "{{'ab'}}", "{{''}}", "{{0x}}", "{{1e}}", "{{99999999999999999999}}",
]


@pytest.mark.parametrize("tmpl", ORACLE_TEMPLATES)
def test_template_matches_go(go_oracle, tmpl):
    want = subprocess.run([go_oracle, tmpl], input=ORACLE_DATA, capture_output=True, timeout=60)
    got = subprocess.run([BERTH_FMT, "template", tmpl], input=ORACLE_DATA, capture_output=True,
                         timeout=60)
    assert (got.stdout, got.stderr, got.returncode) == (want.stdout, want.stderr, want.returncode)


def _random_templates(seed, count):
    """Templates built at random (seeded, so a failure reproduces) from the pieces users combine."""
    import random
    rnd = random.Random(seed)
    operands = [".ID", ".N", ".F", ".E", ".Big", ".Small", ".Neg", ".T", ".Nil", ".Missing", ".Names",
                ".Labels", ".Mixed", ".Config", ".Config.Env", ".Config.Nested.k", ".Labels.a",
                ".Empty", ".Uni", ".", "$", "$.Names", "1", "2.5", '"s"', "true", "nil", "-1", "0"]
    unary = ["len", "not", "json", "lower", "upper", "title", "html", "js", "urlquery", "print",
             "println"]
    binary = ["eq", "ne", "lt", "le", "gt", "ge", "and", "or", "index", "slice", "join", "split",
              "truncate", "printf", "print"]
    verbs = ['"%v"', '"%s"', '"%d"', '"%x"', '"%5.2f"', '"%-4v|"', '"%t"', '"%e"', '"%g"', '"%+d"',
             '"%c"', '"%U"', '"%o"', '"%b"', '"%X"', '"%10.4v"']
    # ranging over numbers differs between Go versions (1.22 iterates): collections only
    collections = [".Names", ".Labels", ".Mixed", ".Config", ".Config.Env", ".Config.Nested.k",
                   ".Empty", ".Nil", ".Missing", '(split .ID ":")', ".Config.Labels"]

    def arg(depth):
        if rnd.random() < 0.75 or depth > 1:
            return rnd.choice(operands)
        return "(" + expr(depth + 1) + ")"

    def expr(depth=0):
        r = rnd.random()
        if r < 0.3:
            return arg(depth)
        if r < 0.55:
            return rnd.choice(unary) + " " + arg(depth)
        if r < 0.9:
            f = rnd.choice(binary)
            if f == "printf":
                return "printf %s %s%s" % (rnd.choice(verbs), arg(depth),
                                           " " + arg(depth) if rnd.random() < 0.3 else "")
            return "%s %s %s" % (f, arg(depth), arg(depth))
        return arg(depth) + " | " + rnd.choice(unary)

    out = []
    for _ in range(count):
        parts = []
        for _ in range(rnd.randint(1, 3)):
            r = rnd.random()
            if r < 0.5:
                parts.append("{{" + expr() + "}}")
            elif r < 0.65:
                parts.append("{{if " + expr() + "}}y{{else}}n{{end}}")
            elif r < 0.8:
                parts.append("{{range $i, $v := %s}}{{$i}}:{{%s}};{{else}}e{{end}}"
                             % (rnd.choice(collections), rnd.choice(["$v", "."] + operands[:6])))
            elif r < 0.9:
                parts.append("{{with " + expr() + "}}<{{.}}>{{end}}")
            else:
                parts.append("{{$x := " + expr() + "}}{{$x}}")
            parts.append(rnd.choice([" ", "|", "\n"]))
        out.append("".join(parts))
    return out


def test_random_templates_match_go(go_oracle):
    mismatches = []
    for tmpl in _random_templates(seed=20261128, count=300):
        want = subprocess.run([go_oracle, tmpl], input=ORACLE_DATA, capture_output=True, timeout=60)
        got = subprocess.run([BERTH_FMT, "template", tmpl], input=ORACLE_DATA,
                             capture_output=True, timeout=60)
        if (got.stdout, got.stderr, got.returncode) != (want.stdout, want.stderr, want.returncode):
            mismatches.append((tmpl, want.stdout[-120:], want.stderr, got.stdout[-120:], got.stderr))
    assert not mismatches, "%d of 300 differ from Go, first: %r" % (len(mismatches), mismatches[0])


def test_random_token_soup_matches_go(go_oracle):
    """The lexer and parser on ill-formed input: the same output or the same error as Go's."""
    import random
    rnd = random.Random(1128)
    tokens = ["{{", "}}", "{{- ", " -}}", " ", "\n", ".A", ".B", ".C.d", "$", "$x", ":=", "=", "|",
              "(", ")", "if", "else", "end", "range", "with", "break", "continue", '"s"', "`r`",
              "'c'", "1", "-2", "3.5", "0x1", "true", "nil", "printf", "len", "index", "eq", ",",
              "$i", "/*", "*/", "x", "}", "{", ".", "..", "@", "\t", "lower", "-", "else if",
              "end}}", "{{end}}", "{{else}}"]
    data = json.dumps({"A": "x", "B": [1, 2], "C": {"d": "e"}, "N": 3}).encode()
    mismatches = []
    for _ in range(500):
        tmpl = "".join(rnd.choice(tokens) for _ in range(rnd.randint(1, 12)))
        want = subprocess.run([go_oracle, tmpl], input=data, capture_output=True, timeout=60)
        got = subprocess.run([BERTH_FMT, "template", tmpl], input=data, capture_output=True,
                             timeout=60)
        if (got.stdout, got.stderr, got.returncode) != (want.stdout, want.stderr, want.returncode):
            mismatches.append((tmpl, want.stderr, got.stderr))
    assert not mismatches, "%d of 500 differ from Go, first: %r" % (len(mismatches), mismatches[0])


def test_random_tables_match_go_tabwriter(go_oracle):
    """The tabwriter against Go's text/tabwriter: random cells, tabs, newlines, form feeds,
    several settings (docker's 10,1,3,' ' among them) and every flag we implement."""
    import random
    rnd = random.Random(2811)
    pieces = ["", "a", "bb", "ccc", "dddddddd", "a b", "x" * 13, "\t", "\t\t", "\n", "\n", "\f", "\v"]
    settings = [("10", "1", "3", " ", "0"), ("0", "8", "1", ".", "0"), ("5", "4", "2", "\t", "0"),
                ("0", "1", "1", " ", "4"), ("0", "1", "1", " ", "8"), ("0", "4", "1", " ", "16"),
                ("3", "1", "2", "-", "32"), ("0", "8", "0", "\t", "16")]
    mismatches = []
    for _ in range(400):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 30))).encode()
        s = rnd.choice(settings)
        want = subprocess.run([go_oracle, "-tabwriter", *s], input=text, capture_output=True,
                              timeout=60)
        got = subprocess.run([BERTH_FMT, "tabwriter", *s], input=text, capture_output=True,
                             timeout=60)
        if got.stdout != want.stdout or got.returncode != 0:
            mismatches.append((s, text, want.stdout, got.stdout))
    assert not mismatches, "%d of 400 differ from Go, first: %r" % (len(mismatches), mismatches[0])
