"""berth build / image build / builder prune against docker 28's CLI with the classic
builder (DOCKER_BUILDKIT=0).

Both CLIs drive the same daemon: a private dockerd 20.10 (cli_util's), and berthd
once its builder lands (that variant is skipped until then).  berth's stdout, stderr
and exit code must be docker's, once image and container IDs are masked (each run
builds its own layers) and docker's "legacy builder is deprecated" notice is dropped
(berth has no other builder to point at).  The context line "Sending build context
to Docker daemon  <size>" is compared too: its size is the tar's, so it checks that
the same entries were sent; where berth's tar differs on purpose (-f -: docker's
rewritten tar loses its end blocks; --compress: another gzip), the size is masked.
"""
import json
import os
import re
import shutil
import subprocess
import tarfile

import pytest

import cli_util


@pytest.fixture(scope="module", params=[
    "dockerd",
    "berthd",
])
def daemon(request):
    if request.param == "berthd":
        yield from cli_util._berthd()
        return
    yield from cli_util._dockerd()


@pytest.fixture
def ctx(daemon, tmp_path):
    """A fresh context directory for one test."""
    d = tmp_path / "ctx"
    d.mkdir()
    return d


def _env(d):
    return dict(d.env, DOCKER_BUILDKIT="0")


_DEPRECATED = re.compile(r"DEPRECATED: The legacy builder is deprecated.*?\n\n", re.S)
_IDS = re.compile(r"\b(sha256:)?[0-9a-f]{12}([0-9a-f]{52})?\b")
_SIZE = re.compile(r"(Sending build context to Docker daemon )\s*\S+")


def _norm(text, mask_size=False):
    text = _DEPRECATED.sub("", text)
    text = _IDS.sub(lambda m: "<id64>" if m.group(2) else "<id>", text)
    if mask_size:
        text = _SIZE.sub(r"\1<size>", text)
    return text


def run(d, tool, *args, input=None, cwd=None):
    exe = cli_util.BERTH if tool == "berth" else "docker"
    return subprocess.run([exe, *args], env=_env(d), input=input, capture_output=True,
                          timeout=180, cwd=cwd)


def same(d, *args, input=None, cwd=None, mask_size=False):
    """docker then berth with the same arguments; the answers must match."""
    dk = run(d, "docker", *args, input=input, cwd=cwd)
    bt = run(d, "berth", *args, input=input, cwd=cwd)
    want = (dk.returncode, _norm(dk.stdout.decode(), mask_size),
            cli_util.as_berth(_norm(dk.stderr.decode(), mask_size)))
    got = (bt.returncode, _norm(bt.stdout.decode(), mask_size),
           _norm(bt.stderr.decode(), mask_size))
    assert got == want, f"berth {' '.join(args)}"
    return dk, bt


def write(root, files):
    for rel, text in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)


def inspect(d, ref, fmt):
    r = subprocess.run(["docker", "image", "inspect", "--format", fmt, ref], env=_env(d),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_build_directory_output_and_tags(daemon, ctx):
    write(ctx, {"Dockerfile": 'FROM busybox\nRUN echo hi > /hi\nCOPY f.txt /f.txt\n'
                              'CMD ["cat","/hi"]\n', "f.txt": "data\n"})
    dk, bt = same(daemon, "build", "--no-cache", "-t", "bt-a:1", "-t", "bt-b", str(ctx))
    out = bt.stdout.decode()
    assert out.startswith("Sending build context to Docker daemon  3.072kB\r\r\n"), out
    assert "Step 4/4 : CMD" in out and "Successfully tagged bt-b:latest\n" in out
    built = re.search(r"Successfully built ([0-9a-f]{12})", out).group(1)
    assert inspect(daemon, "bt-a:1", "{{.Id}}")[7:19] == built
    assert inspect(daemon, "bt-b", "{{.Id}}")[7:19] == built


def test_build_image_build_alias_and_relative_path(daemon, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nLABEL a=b\n"})
    same(daemon, "image", "build", "--no-cache", ".", cwd=str(ctx))


def test_failed_run_exit_code_and_message(daemon, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo about-to-fail && exit 3\n"})
    dk, bt = same(daemon, "build", "--no-cache", str(ctx))
    assert bt.returncode == 3
    assert bt.stderr.decode().endswith(
        "The command '/bin/sh -c echo about-to-fail && exit 3' returned a non-zero code: 3\n")
    assert "about-to-fail\n" in bt.stdout.decode()


def test_failed_build_quiet_prints_everything_on_stderr(daemon, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN exit 1\n"})
    dk, bt = same(daemon, "build", "-q", "--no-cache", str(ctx))
    assert bt.returncode == 1 and bt.stdout == b""
    assert b"Sending build context" in bt.stderr


def test_daemon_error_unknown_instruction(daemon, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nFROBNICATE x\n"})
    dk, bt = same(daemon, "build", str(ctx))
    assert bt.returncode != 0 and b"frobnicate" in bt.stderr.lower()


def test_quiet_and_iidfile(daemon, ctx, tmp_path):
    write(ctx, {"Dockerfile": "FROM busybox\nLABEL q=1\n"})
    files = {}
    for tool in ("docker", "berth"):
        iid = tmp_path / f"iid-{tool}"
        iid.write_text("stale")
        r = run(daemon, tool, "build", "-q", "--iidfile", str(iid), str(ctx))
        assert r.returncode == 0, r.stderr
        assert re.fullmatch(rb"sha256:[0-9a-f]{64}\n", r.stdout), r.stdout
        files[tool] = (r.stdout.decode(), iid.read_text())
    # -q: the file holds what was printed, newline and all (docker's quirk)
    assert files["berth"][1] == files["berth"][0]
    assert files["docker"][1] == files["docker"][0]
    # without -q the aux ID, no newline
    for tool in ("docker", "berth"):
        iid = tmp_path / f"iid2-{tool}"
        r = run(daemon, tool, "build", "--iidfile", str(iid), str(ctx))
        assert r.returncode == 0
        files[tool + "2"] = iid.read_text()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", files["berth2"])
    assert files["berth2"] == files["docker2"]  # same context, cached: the same image


TREE_DOCKERFILE = ("FROM busybox\nCOPY . /ctx\n"
                   "RUN cd /ctx && find . | sort && stat -c '%n %a %F %h' $(find . | sort)\n")


def make_tree(ctx):
    write(ctx, {"Dockerfile": TREE_DOCKERFILE, "keep.txt": "k\n", "skip.log": "s\n",
                "docs/a.md": "a\n", "docs/README.md": "r\n", "build/out/x.o": "x\n",
                "sub/dir/deep.txt": "d\n", "sub/dir/deep.log": "d\n"})
    os.chmod(ctx / "keep.txt", 0o751)
    os.symlink("keep.txt", ctx / "link")
    os.symlink("/nonexistent", ctx / "dangling")
    os.link(ctx / "keep.txt", ctx / "hard")
    os.chown(ctx / "skip.log", 1234, 5678)


def test_dockerignore_and_tree_as_docker_sends_it(daemon, ctx):
    make_tree(ctx)
    write(ctx, {".dockerignore": "*.log\n**/*.log\ndocs\n!docs/README.md\nbuild\n"
                                 "Dockerfile\n.dockerignore\n"})
    dk, bt = same(daemon, "build", "--no-cache", str(ctx))
    out = bt.stdout.decode()
    assert "./keep.txt 751 regular file 2" in out and "./link 777 symbolic link" in out
    assert "./docs/README.md" in out and "./docs/a.md" not in out
    assert ".log" not in out.split("RUN cd /ctx")[1] and "./build" not in out


def _request_head(d, tmp_path, tool, *args):
    """The POST /build request line and headers tool sent, seen through logproxy."""
    cap = tmp_path / f"cap-{tool}.sock"
    log = tmp_path / f"cap-{tool}.log"
    proxy = subprocess.Popen(["python3", "/work/shared/reference/tools/logproxy.py", str(cap),
                              d.sock, str(log)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if cap.exists():
                break
            subprocess.run(["sleep", "0.1"])
        exe = cli_util.BERTH if tool == "berth" else "docker"
        env = dict(_env(d), DOCKER_HOST="unix://" + str(cap), FROMENV="from-env")
        r = subprocess.run([exe, *args], env=env, capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
    finally:
        proxy.terminate()
        proxy.wait()
    text = log.read_text(errors="replace")
    post = re.search(r"^POST /v1\.41/build\?.*$", text, re.M).group(0)
    headers = sorted(h for h in re.findall(r"^([A-Za-z-]+): ", text[text.index(post):]
                                           .split("\n\n")[0], re.M)
                     if h not in ("User-Agent",))
    return post, headers


def test_request_query_and_headers_as_docker(daemon, ctx, tmp_path):
    write(ctx, {"Dockerfile": "FROM busybox AS one\nARG X\nLABEL k=v\n"})
    args = ["build", "-q", "-t", "a:b", "-t", "c", "--build-arg", "X=1", "--build-arg",
            "FROMENV", "--build-arg", "UNSETV", "--label", "l1=v", "--label", "l2", "--target",
            "one", "--no-cache", "--pull=false", "--network", "none", "--add-host",
            "h1:1.2.3.4", "--add-host", "h2=5.6.7.8", "--rm=false", "--force-rm", "--platform",
            "Linux/amd64", "--cache-from", "busybox", "--shm-size", "64m", "-m", "100m",
            "--cpu-shares", "5", "--cpuset-cpus", "0", "--cpu-period", "100000",
            "--cpu-quota", "50000", "--ulimit", "nofile=100:200", "--isolation", "default",
            "--compress", str(ctx)]
    want = _request_head(daemon, tmp_path, "docker", *args)
    got = _request_head(daemon, tmp_path, "berth", *args)
    assert got == want
    assert "Transfer-Encoding" in got[1] and "X-Registry-Config" in got[1]


def test_stdin_tar_context(daemon, ctx, tmp_path):
    write(ctx, {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f\n", "f": "from-tar\n"})
    tarpath = tmp_path / "ctx.tar"
    with tarfile.open(tarpath, "w", format=tarfile.USTAR_FORMAT) as t:
        t.add(ctx / "Dockerfile", "Dockerfile")
        t.add(ctx / "f", "f")
    data = tarpath.read_bytes()
    dk, bt = same(daemon, "build", "--no-cache", "-", input=data)
    assert b"from-tar" in bt.stdout
    gz = subprocess.run(["gzip", "-c", str(tarpath)], capture_output=True).stdout
    dk, bt = same(daemon, "build", "--no-cache", "-", input=gz)
    assert b"from-tar" in bt.stdout


def test_stdin_dockerfile_without_context(daemon):
    dk, bt = same(daemon, "build", "--no-cache", "-", input=b"FROM busybox\nRUN echo lone\n")
    assert b"lone" in bt.stdout
    same(daemon, "build", "-f", "-", "-", input=b"FROM busybox\n")


def test_dockerfile_from_stdin_with_directory(daemon, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo wrong-file\n", "f": "x\n"})
    df = b"FROM busybox\nCOPY . /c\nRUN ls -a /c\n"
    dk, bt = same(daemon, "build", "--no-cache", "-f", "-", str(ctx), input=df, mask_size=True)
    out = bt.stdout.decode()
    assert "wrong-file" not in out and "Dockerfile\nf\n" in out and ".dockerfile." not in out


def test_dockerfile_elsewhere(daemon, ctx, tmp_path):
    write(ctx, {"sub/Build.df": "FROM busybox\nRUN echo in-sub\n", "f": "x\n"})
    # docker 28 reads -f relative to the working directory, not to the context
    dk, bt = same(daemon, "build", "--no-cache", "-f", "sub/Build.df", ".", cwd=str(ctx))
    assert b"in-sub" in bt.stdout
    dk, bt = same(daemon, "build", "-f", "sub/Build.df", str(ctx), cwd=str(tmp_path))
    assert bt.returncode == 1 and b"unable to evaluate symlinks in Dockerfile path" in bt.stderr
    write(tmp_path, {"outside.df": "FROM busybox\nRUN echo outside\n"})
    dk, bt = same(daemon, "build", "--no-cache", "-f", str(tmp_path / "outside.df"), str(ctx),
                  mask_size=True)
    assert b"outside" in bt.stdout


def test_build_args_labels_target(daemon, ctx, monkeypatch):
    write(ctx, {"Dockerfile": "FROM busybox AS one\nARG X\nARG FROMENV\nARG UNSET=dflt\n"
                              "RUN echo x=$X e=$FROMENV u=$UNSET\n"
                              "FROM one AS two\nRUN echo second-stage\n"})
    daemon.env["FROMENV"] = "env-value"
    try:
        dk, bt = same(daemon, "build", "--no-cache", "--build-arg", "X=1", "--build-arg",
                      "FROMENV", "--build-arg", "UNSET", "--label", "l1=v1", "--label", "l2",
                      "--target", "one", "-t", "bt-args", str(ctx))
    finally:
        del daemon.env["FROMENV"]
    out = bt.stdout.decode()
    assert "x=1 e=env-value u=dflt\n" in out and "second-stage" not in out
    assert json.loads(inspect(daemon, "bt-args", "{{json .Config.Labels}}")) == \
        {"l1": "v1", "l2": ""}


def test_resource_and_network_flags(daemon, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN grep myhost /etc/hosts && "
                              "df -k /dev/shm | tail -1 | awk '{print $2}' && ulimit -n\n"})
    dk, bt = same(daemon, "build", "--no-cache", "--add-host", "myhost:10.1.2.3", "--shm-size",
                  "64m", "-m", "100m", "--cpu-shares", "512", "--cpu-period", "100000",
                  "--cpu-quota", "50000", "--ulimit", "nofile=100:200", "--network", "none",
                  "--rm=false", "--force-rm", "--isolation", "default", "--platform",
                  "linux/amd64", "--cache-from", "busybox", "--pull=false", str(ctx))
    out = bt.stdout.decode()
    assert "10.1.2.3\tmyhost" in out and "\n65536\n100\n" in out


def test_compress(daemon, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f\n", "f": "zipped\n" * 1000})
    dk, bt = same(daemon, "build", "--no-cache", "--compress", str(ctx), mask_size=True)
    assert b"zipped" in bt.stdout


@pytest.mark.parametrize("args", [
    ["build", "-t", "Foo", "."],
    ["build", "-t", "a:b:c", "."],
    ["build", "nothere"],
    ["build"],
    ["build", "a", "b"],
    ["build", "--add-host", "bad", "."],
    ["build", "-m", "lots", "."],
    ["build", "--ulimit", "nofile", "."],
    ["build", "-f", "missing.df", "."],
    ["build", "--bogus", "."],
])
def test_usage_errors(daemon, ctx, args):
    write(ctx, {"Dockerfile": "FROM busybox\n"})
    same(daemon, *args, cwd=str(ctx))


def test_context_is_a_file(daemon, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\n"})
    same(daemon, "build", "Dockerfile", cwd=str(ctx))


def test_builder_prune(daemon):
    # the earlier tests' cache goes first: each comparison below then starts from the same state
    run(daemon, "docker", "builder", "prune", "-a", "-f")
    same(daemon, "builder", "prune", "-f")
    same(daemon, "builder", "prune", "-a", "-f", "--filter", "until=1h", "--keep-storage", "1mb")
    dk, bt = same(daemon, "builder", "prune", input=b"n\n")
    assert bt.stdout == (b"WARNING! This will remove all dangling build cache. Are you sure you "
                         b"want to continue? [y/N] ")
    same(daemon, "builder", "prune", "-a", input=b"n\n")
    same(daemon, "builder", "prune", input=b"y\n")
    same(daemon, "builder", "prune", "--filter", "foo", "-f")
    same(daemon, "builder", "prune", "--keep-storage", "abc", "-f")
    same(daemon, "builder", "prune", "x")


class _CaptureDaemon:
    """Just enough of the API on a unix socket to keep what berth sends to /build."""

    def __init__(self, path):
        import socket
        import threading
        self.body = None
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                f = conn.makefile("rb")
                while True:
                    line = f.readline()
                    if not line:
                        break
                    head = [line]
                    while line not in (b"\r\n", b""):
                        line = f.readline()
                        head.append(line)
                    if head[0].startswith(b"POST") and b"/build" in head[0]:
                        body = b""
                        while True:
                            n = int(f.readline().strip(), 16)
                            body += f.read(n)
                            f.readline()
                            if n == 0:
                                break
                        self.body = body
                        msg = b'{"stream":"ok\\n"}\r\n{"aux":{"ID":"sha256:' + b"a" * 64 + b'"}}\r\n'
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: %d\r\n\r\n" % len(msg) + msg)
                    else:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n"
                                     b"Content-Length: 0\r\n\r\n")

    def close(self):
        self.sock.close()


def test_context_tar_entries(tmp_path):
    """What berth puts in the tar (no daemon needed): relative names, owners 0:0, modes,
    symlinks as symlinks, hard links as links, the .dockerignore applied."""
    import io
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    make_tree(ctx)
    write(ctx, {".dockerignore": "*.log\ndocs\n!docs/README.md\nbuild\n"})
    srv = _CaptureDaemon(str(tmp_path / "fake.sock"))
    try:
        env = dict(os.environ, DOCKER_HOST="unix://" + str(tmp_path / "fake.sock"),
                   BERTH_NO_AUTOSTART="1")
        r = subprocess.run([cli_util.BERTH, "build", str(ctx)], env=env, capture_output=True,
                           timeout=60)
    finally:
        srv.close()
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(b"ok\n")
    t = tarfile.open(fileobj=io.BytesIO(srv.body))
    members = {m.name: m for m in t.getmembers()}
    assert sorted(members) == [".dockerignore", "Dockerfile", "dangling", "docs/README.md",
                               "hard", "keep.txt", "link", "sub", "sub/dir",
                               "sub/dir/deep.log", "sub/dir/deep.txt"]
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "" for m in members.values())
    # docker 28's CLI writes bare permission bits (0644, not 0100644)
    assert all(m.mode <= 0o7777 for m in members.values())
    # walked in byte order as Go's filepath.Walk: "hard" comes first and owns the data
    assert members["hard"].mode == 0o751 and members["hard"].isfile()
    assert members["keep.txt"].islnk() and members["keep.txt"].linkname == "hard"
    assert members["link"].issym() and members["link"].linkname == "keep.txt"
    assert members["dangling"].issym() and members["dangling"].linkname == "/nonexistent"
    assert members["sub"].isdir()
