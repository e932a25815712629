"""berth-runtime under other engines: containerd 1.6 (ctr) and podman 4.3.

Both engines drive the runtime through runc's command line: containerd's runc
shim v2 (`ctr run --runc-binary`, which sets the shim's BinaryName option) and
podman's conmon (`podman --runtime`).  Each test runs a busybox container made
by the test itself (a docker-archive tar built here from busybox-static, loaded
with `ctr images import` and `podman load`) and checks what a user of that
engine relies on: exit codes, detached containers, exec, a TTY with input and
window size, kill, delete.

Isolation: containerd is a private daemon (own root, state, sockets, config,
namespace) started for the session; podman gets its own root, runroot,
tmpdir, containers.conf (file locks, not /dev/shm), network config dir and
cgroup parent.  The runtime keeps its state in the session's temp dir
(`--runc-root`, `--runtime-flag root=`), so `<runtime> --root R state ID`
proves which runtime made the container.  Teardown removes every container,
process, mount and cgroup the engines made, and the tests assert that delete
alone already leaves none behind.

The runtime under test is berth-runtime ($BERTH_BUILD/src/cmd/berth-runtime).
BERTH_ENGINE_RUNTIMES=berth-runtime,runc also runs the same tests against
Debian's runc, which is how these tests themselves were checked.
"""
import fcntl
import hashlib
import io
import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import tarfile
import tempfile
import termios
import time
import uuid

import pytest

from conftest import BUSYBOX, build_path

TIMEOUT = 60
CG_ROOT = "/sys/fs/cgroup"


def wait_for_size(size):
    """Shell that prints the pty size once it is `size`: engines resize a container's pty
    from the client's terminal just after starting the process, so it may still be 0 0."""
    return (f'i=0; while [ "$(stty size 2>/dev/null)" != "{size}" ] && [ $i -lt 50 ]; '
            "do sleep 0.1; i=$((i+1)); done; stty size")


# ---------------------------------------------------------------- helpers


def require(package, *binaries):
    """Fail if a Debian package that CI can install is missing; skip only if apt cannot."""
    missing = [b for b in binaries if not shutil.which(b)]
    if not missing:
        return
    pol = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True)
    if "Candidate:" not in pol.stdout or "Candidate: (none)" in pol.stdout:
        pytest.skip(f"package {package} cannot be installed here (no apt candidate); "
                    f"missing {', '.join(missing)}")
    pytest.fail(f"{', '.join(missing)} missing: install package {package} (scripts/deps.sh test)")


def runtime_paths():
    names = os.environ.get("BERTH_ENGINE_RUNTIMES", "berth-runtime").split(",")
    out = []
    for n in (x.strip() for x in names if x.strip()):
        if n == "berth-runtime":
            out.append((n, build_path("src", "cmd", "berth-runtime")))
        else:
            out.append((os.path.basename(n), shutil.which(n) or n))
    return out


@pytest.fixture(scope="module", params=runtime_paths(), ids=lambda p: p[0])
def runtime(request):
    name, path = request.param
    if not os.access(path, os.X_OK):
        pytest.fail(f"runtime {name} not found at {path} (build it: ninja -C build)")
    return path


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", TIMEOUT)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(argv, **kw)


def ok(argv, **kw):
    p = run(argv, **kw)
    assert p.returncode == 0, f"{' '.join(argv)} failed ({p.returncode}): {p.stderr.strip()}"
    return p


def wait_for(pred, what, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def cgroup_mounts():
    """Mount points of every cgroup hierarchy (v1 controllers and the v2 mount)."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            if post.split()[0] in ("cgroup", "cgroup2"):
                out.append(pre.split()[4])
    return out


def cgroup_dirs(rel, needle=""):
    """Directories below <hierarchy>/<rel> (or rel itself) whose name contains needle."""
    found = []
    for m in cgroup_mounts():
        base = os.path.join(m, rel.lstrip("/"))
        if not os.path.isdir(base):
            continue
        if not needle:
            found.append(base)
            continue
        for dirpath, dirnames, _ in os.walk(base):
            found += [os.path.join(dirpath, d) for d in dirnames if needle in d]
    return found


def remove_cgroup_tree(rel):
    for base in cgroup_dirs(rel):
        for dirpath, _, _ in sorted(os.walk(base, topdown=False), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(path.rstrip("/") + "/")]


def pids_mentioning(text):
    """Processes whose command line contains text (engine shims and monitors we started)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(p))
        except OSError:
            pass
    return pids


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def default_root(runtime):
    """Where a runtime keeps its state when no --root is given."""
    name = os.path.basename(runtime)
    return {"berth-runtime": "/run/berth-runtime", "crun": "/run/crun"}.get(name, "/run/runc")


def runtime_state(runtime, root, cid):
    p = run([runtime, "--root", root, "state", cid])
    return json.loads(p.stdout) if p.returncode == 0 else None


def pty_session(argv, send=None, expect=None, rows=33, cols=101, timeout=TIMEOUT, env=None):
    """Run argv on a new pty (its controlling terminal) of rows x cols; type send once
    expect has been printed.  Returns (exit code, everything printed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def become_session_leader():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                         preexec_fn=become_session_leader)
    os.close(slave)
    out = b""
    sent = send is None
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            if not sent and expect.encode() in out:
                os.write(master, send.encode())
                sent = True
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every slave end is closed
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        rc = p.wait(timeout=max(1, end - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, out.decode(errors="replace").replace("\r", "")


# ---------------------------------------------------------------- the image


def _tar_add(t, name, data=None, mode=0o644, kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname, ti.mtime = kind, mode, link, 0
    if data is not None:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)


def busybox_layer():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "etc", "proc", "sys", "dev", "root", "var"):
            _tar_add(t, d, mode=0o755, kind=tarfile.DIRTYPE)
        _tar_add(t, "tmp", mode=0o1777, kind=tarfile.DIRTYPE)
        with open(BUSYBOX, "rb") as f:
            _tar_add(t, "bin/busybox", f.read(), 0o755)
        applets = ok([BUSYBOX, "--list"]).stdout.split()
        for a in applets:
            if a != "busybox":
                _tar_add(t, "bin/" + a, kind=tarfile.SYMTYPE, link="busybox")
        _tar_add(t, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        _tar_add(t, "etc/group", b"root:x:0:\n")
    return buf.getvalue()


def write_docker_archive(path, ref):
    """A docker-archive (`docker save` layout) holding one image: busybox-static."""
    layer = busybox_layer()
    lhex = hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + lhex]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "berth test: busybox-static"}],
    }).encode()
    chex = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": chex + ".json", "RepoTags": [ref],
                            "Layers": [lhex + "/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as t:
        _tar_add(t, chex + ".json", config)
        _tar_add(t, lhex + "/layer.tar", layer)
        _tar_add(t, "manifest.json", manifest)


@pytest.fixture(scope="session")
def image_archive(tmp_path_factory):
    ref = "localhost/berth-busybox:" + uuid.uuid4().hex[:8]
    path = str(tmp_path_factory.mktemp("engine-image") / "busybox.tar")
    write_docker_archive(path, ref)
    return path, ref


def session_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


def kill_and_reap(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- containerd


class Containerd:
    def __init__(self, base, ns):
        self.base, self.ns = base, ns
        self.sock = os.path.join(base, "c.sock")
        self.fifo = os.path.join(base, "fifo")
        self.rtroot = os.path.join(base, "runtime-root")

    def ctr(self, *args, **kw):
        return run(["ctr", "--address", self.sock, "--namespace", self.ns, *args], **kw)

    def ctr_ok(self, *args, **kw):
        p = self.ctr(*args, **kw)
        assert p.returncode == 0, f"ctr {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}"
        return p

    def run_args(self, runtime):
        return ["run", "--runc-binary", runtime, "--runc-root", self.rtroot,
                "--fifo-dir", self.fifo, "--snapshotter", "overlayfs"]

    def task(self, cid):
        """(pid, status) of a task from `ctr task ls`, None if there is none."""
        for line in self.ctr_ok("task", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f and f[0] == cid:
                return int(f[1]), f[2]
        return None

    def containers(self):
        return [ln.split()[0] for ln in self.ctr_ok("containers", "ls", "-q").stdout.split("\n")
                if ln.strip()]


@pytest.fixture(scope="session")
def containerd(image_archive):
    require("containerd", "containerd", "ctr", "containerd-shim-runc-v2")
    base = session_dir("berth-ctrd-")
    ns = "berth-test-" + uuid.uuid4().hex[:8]
    had_run_dir = os.path.exists("/run/containerd")
    c = Containerd(base, ns)
    cfg = os.path.join(base, "config.toml")
    disabled = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
                "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
                "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt",
                "io.containerd.tracing.processor.v1.otlp"]
    with open(cfg, "w") as f:
        f.write(f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
                f"disabled_plugins = {json.dumps(disabled)}\n"
                f'[grpc]\n  address = "{c.sock}"\n[ttrpc]\n  address = "{c.sock}.ttrpc"\n'
                '[debug]\n  address = ""\n[metrics]\n  address = ""\n')
    log = open(os.path.join(base, "containerd.log"), "w")
    daemon = subprocess.Popen(["containerd", "--config", cfg], stdout=log, stderr=log,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: daemon.poll() is not None or c.ctr("version").returncode == 0,
                 "containerd to serve")
        assert daemon.poll() is None, "containerd exited: " + open(log.name).read()[-2000:]
        c.ctr_ok("images", "import", image_archive[0])
        c.image = image_archive[1]
        yield c
    finally:
        try:
            if daemon.poll() is None:
                for line in c.ctr("task", "ls").stdout.splitlines()[1:]:
                    tid = line.split()[0]
                    c.ctr("task", "kill", "-s", "SIGKILL", tid)
                    c.ctr("task", "delete", "--force", tid)
                for cid in c.containers():
                    c.ctr("containers", "delete", cid)
                daemon.terminate()
                daemon.wait(timeout=20)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
            log.close()
            kill_and_reap(pids_mentioning(c.sock))  # shims of a daemon that died
            for m in reversed(mounts_under(base)):
                subprocess.run(["umount", "-l", m], capture_output=True)
            remove_cgroup_tree("/" + ns)
            if not had_run_dir:  # the shims' socket dir is fixed at /run/containerd/s in 1.6
                for d in ("/run/containerd/s", "/run/containerd/fifo", "/run/containerd"):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def ctr_id(containerd):
    cid = "t-" + uuid.uuid4().hex[:12]
    yield cid
    if containerd.task(cid):
        containerd.ctr("task", "kill", "-s", "SIGKILL", cid)
        containerd.ctr("task", "delete", "--force", cid)
    containerd.ctr("containers", "delete", cid)


def ctr_wait_stopped(c, cid):
    return wait_for(lambda: (c.task(cid) or (0, ""))[1] == "STOPPED", f"task {cid} to stop")


def ctr_delete_status(c, cid):
    """Delete a stopped task; returns its exit status as containerd reports it."""
    p = c.ctr_ok("task", "delete", cid)
    if "exit code" in p.stderr:
        return int(p.stderr.split("exit code")[1].split()[0].strip('"\\'))
    return 0


def assert_nothing_left(runtime, rtroot, cid, pid, cgroup_rel, mount_base):
    assert runtime_state(runtime, rtroot, cid) is None, f"runtime still knows {cid}"
    assert not os.path.exists(os.path.join(rtroot, cid)), f"runtime state dir of {cid} left"
    assert not pid_alive(pid), f"container init {pid} still running"
    assert cgroup_dirs(cgroup_rel, cid) == [], "container cgroups left behind"
    assert [m for m in mounts_under(mount_base) if cid in m] == [], "container mounts left"


class TestContainerd:
    def test_run_exit_code_and_output(self, containerd, runtime, ctr_id):
        p = containerd.ctr(*containerd.run_args(runtime), "--rm", containerd.image, ctr_id,
                           "sh", "-c", "echo out pid $$; echo err >&2; exit 7")
        assert p.returncode == 7, p.stderr
        assert "out pid 1\n" in p.stdout
        assert "err" in p.stdout + p.stderr
        assert ctr_id not in containerd.containers()
        assert cgroup_dirs("/" + containerd.ns, ctr_id) == []

    def test_run_missing_command_fails(self, containerd, runtime, ctr_id):
        p = containerd.ctr(*containerd.run_args(runtime), "--rm", containerd.image, ctr_id,
                           "/bin/no-such-command")
        assert p.returncode != 0
        assert "no-such-command" in p.stderr, p.stderr

    def test_detached_exec_kill_delete(self, containerd, runtime, ctr_id):
        c = containerd
        log = os.path.join(c.base, ctr_id + ".log")
        script = ('trap "echo got TERM; exit 3" TERM; echo started; '
                  "while :; do sleep 0.1; done")
        c.ctr_ok(*c.run_args(runtime), "-d", "--log-uri", "file://" + log, c.image, ctr_id,
                 "sh", "-c", script)
        pid, status = c.task(ctr_id)
        assert status == "RUNNING"
        wait_for(lambda: os.path.exists(log) and "started" in open(log).read(), "init output")
        rtroot = os.path.join(c.rtroot, c.ns)
        st = runtime_state(runtime, rtroot, ctr_id)
        assert st and st["status"] == "running" and st["pid"] == pid, st
        # exec joins the running container: same pid namespace, its own exit status
        p = c.ctr("task", "exec", "--fifo-dir", c.fifo, "--exec-id", "e1", ctr_id,
                  "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 5")
        assert p.returncode == 5, p.stderr
        assert "sh -c trap" in p.stdout
        # kill delivers the signal to init, whose handler decides the exit status
        c.ctr_ok("task", "kill", "-s", "SIGTERM", ctr_id)
        ctr_wait_stopped(c, ctr_id)
        assert "got TERM" in open(log).read()
        assert ctr_delete_status(c, ctr_id) == 3
        c.ctr_ok("containers", "delete", ctr_id)
        assert ctr_id not in c.containers()
        assert_nothing_left(runtime, rtroot, ctr_id, pid, "/" + c.ns, c.base)

    def test_sigkill_and_force_delete(self, containerd, runtime, ctr_id):
        c = containerd
        c.ctr_ok(*c.run_args(runtime), "-d", c.image, ctr_id, "sleep", "1000")
        pid, _ = c.task(ctr_id)
        c.ctr_ok("task", "kill", "-s", "SIGKILL", ctr_id)
        ctr_wait_stopped(c, ctr_id)
        assert ctr_delete_status(c, ctr_id) == 137
        c.ctr_ok("containers", "delete", ctr_id)
        rtroot = os.path.join(c.rtroot, c.ns)
        assert_nothing_left(runtime, rtroot, ctr_id, pid, "/" + c.ns, c.base)
        # a running task removed with --force
        cid2 = ctr_id + "f"
        try:
            c.ctr_ok(*c.run_args(runtime), "-d", c.image, cid2, "sleep", "1000")
            pid2, _ = c.task(cid2)
            c.ctr_ok("task", "delete", "--force", cid2)
            c.ctr_ok("containers", "delete", cid2)
            assert c.task(cid2) is None
            assert_nothing_left(runtime, rtroot, cid2, pid2, "/" + c.ns, c.base)
        finally:
            if c.task(cid2):
                c.ctr("task", "delete", "--force", cid2)
            c.ctr("containers", "delete", cid2)

    def test_tty_run_and_exec(self, containerd, runtime, ctr_id):
        c = containerd
        base = ["ctr", "--address", c.sock, "--namespace", c.ns]
        rc, out = pty_session(base + c.run_args(runtime) + [
            "-t", "--rm", c.image, ctr_id, "sh", "-c",
            "echo ready; read x; echo got $x; tty; " + wait_for_size("33 101") + "; exit 4"],
            send="hello\n", expect="ready")
        assert rc == 4, out
        assert "got hello" in out and "/dev/pts/0" in out and "33 101" in out, out
        cid2 = ctr_id + "t"
        try:
            c.ctr_ok(*c.run_args(runtime), "-d", c.image, cid2, "sleep", "1000")
            rc, out = pty_session(base + ["task", "exec", "-t", "--fifo-dir", c.fifo,
                                          "--exec-id", "tty1", cid2, "sh", "-c",
                                          "tty; " + wait_for_size("40 120") + "; exit 9"],
                                  rows=40, cols=120)
            assert rc == 9, out
            assert "/dev/pts/" in out and "40 120" in out, out
        finally:
            c.ctr("task", "kill", "-s", "SIGKILL", cid2)
            ctr_wait_stopped(c, cid2)
            c.ctr("task", "delete", "--force", cid2)
            c.ctr("containers", "delete", cid2)


# ---------------------------------------------------------------- podman


class Podman:
    def __init__(self, base):
        self.base = base
        self.cgparent = "/berth-test-" + uuid.uuid4().hex[:8]
        self.conf = os.path.join(base, "containers.conf")
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)

    def prefix(self, runtime=None):
        b = self.base
        argv = ["podman", "--root", b + "/root", "--runroot", b + "/runroot",
                "--tmpdir", b + "/tmp", "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--network-config-dir", b + "/net", "--volumepath", b + "/volumes"]
        if runtime:
            # No --runtime-flag root=: podman 4.3 does not pass runtime flags to `delete`,
            # so the runtime keeps its state in its default root.
            argv += ["--runtime", runtime]
        return argv

    @staticmethod
    def rtroot(runtime):
        return default_root(runtime)

    def run_opts(self):
        return ["--network", "none", "--cgroup-parent", self.cgparent,
                "--log-driver", "k8s-file",
                "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]

    def pm(self, runtime, *args, **kw):
        return run(self.prefix(runtime) + list(args), env=self.env, **kw)

    def pm_ok(self, runtime, *args, **kw):
        p = self.pm(runtime, *args, **kw)
        assert p.returncode == 0, f"podman {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}"
        return p


BLOB_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb"


@pytest.fixture(scope="session")
def podman(image_archive):
    require("podman", "podman", "conmon")
    base = session_dir("berth-podman-")
    pm = Podman(base)
    with open(pm.conf, "w") as f:
        # file locks live in --tmpdir; the default shm locks would leave /dev/shm/libpod_lock
        f.write('[engine]\nlock_type = "file"\n')
    # `podman load` records blobs in a fixed system cache; remove it if we made it
    made = [p for p in ("/var/lib/containers", "/var/lib/containers/cache", BLOB_CACHE)
            if not os.path.exists(p)]
    made += [d for d in {default_root(r) for _, r in runtime_paths()} if not os.path.exists(d)]
    try:
        pm.pm_ok(None, "load", "-q", "-i", image_archive[0])
        pm.image = image_archive[1]
        yield pm
    finally:
        runtimes = [r for _, r in runtime_paths() if os.access(r, os.X_OK)]
        for r in runtimes:
            pm.pm(r, "rm", "--all", "--force", "--time", "0")
        kill_and_reap(pids_mentioning(base))  # conmon of anything rm could not stop
        for m in reversed(mounts_under(base)):
            subprocess.run(["umount", "-l", m], capture_output=True)
        remove_cgroup_tree(pm.cgparent)
        for p in reversed(made):
            try:
                os.unlink(p) if p == BLOB_CACHE else os.rmdir(p)
            except OSError:
                pass
        shutil.rmtree(base, ignore_errors=True)


def pm_container_id(podman, runtime, name):
    return podman.pm_ok(runtime, "inspect", "--format", "{{.Id}}", name).stdout.strip()


def pm_pid(podman, runtime, name):
    return int(podman.pm_ok(runtime, "inspect", "--format", "{{.State.Pid}}", name).stdout)


@pytest.fixture
def pm_name(podman, runtime):
    name = "t-" + uuid.uuid4().hex[:12]
    yield name
    podman.pm(runtime, "rm", "--force", "--time", "0", name)


class TestPodman:
    def test_run_exit_code_and_output(self, podman, runtime, pm_name):
        p = podman.pm(runtime, "run", "--rm", "--name", pm_name, *podman.run_opts(), podman.image,
                      "sh", "-c", "echo out pid $$; echo err >&2; ulimit -n; exit 7")
        assert p.returncode == 7, p.stderr
        assert "out pid 1\n20000\n" in p.stdout
        assert "err" in p.stderr
        assert podman.pm(runtime, "container", "exists", pm_name).returncode == 1
        assert cgroup_dirs(podman.cgparent, "libpod-") == []

    def test_run_missing_command_fails(self, podman, runtime, pm_name):
        p = podman.pm(runtime, "run", "--rm", "--name", pm_name, *podman.run_opts(), podman.image,
                      "/bin/no-such-command")
        assert p.returncode in (126, 127), p.stderr
        assert "no-such-command" in p.stderr, p.stderr

    def test_detached_exec_kill_delete(self, podman, runtime, pm_name):
        script = ('trap "echo got TERM; exit 3" TERM; echo started; '
                  "while :; do sleep 0.1; done")
        podman.pm_ok(runtime, "run", "-d", "--name", pm_name, *podman.run_opts(), podman.image,
                     "sh", "-c", script)
        cid = pm_container_id(podman, runtime, pm_name)
        pid = pm_pid(podman, runtime, pm_name)
        st = runtime_state(runtime, podman.rtroot(runtime), cid)
        assert st and st["status"] == "running" and st["pid"] == pid, st
        wait_for(lambda: "started" in podman.pm_ok(runtime, "logs", pm_name).stdout,
                 "init output")
        p = podman.pm(runtime, "exec", pm_name, "sh", "-c",
                      "cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 5")
        assert p.returncode == 5, p.stderr
        assert "sh -c trap" in p.stdout
        p = podman.pm(runtime, "exec", "--user", "65534:65534", "--workdir", "/tmp",
                      "--env", "FOO=bar", pm_name, "sh", "-c", 'echo $(id -u) $(pwd) $FOO')
        assert p.returncode == 0 and p.stdout == "65534 /tmp bar\n", (p.stdout, p.stderr)
        podman.pm_ok(runtime, "kill", "--signal", "TERM", pm_name)
        assert podman.pm_ok(runtime, "wait", pm_name).stdout.strip() == "3"
        assert "got TERM" in podman.pm_ok(runtime, "logs", pm_name).stdout
        state = podman.pm_ok(runtime, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                             pm_name).stdout.split()
        assert state == ["exited", "3"]
        podman.pm_ok(runtime, "rm", pm_name)
        assert podman.pm(runtime, "container", "exists", pm_name).returncode == 1
        assert_nothing_left(runtime, podman.rtroot(runtime), cid, pid, podman.cgparent,
                            podman.base)

    def test_sigkill_stop_and_force_delete(self, podman, runtime, pm_name):
        podman.pm_ok(runtime, "run", "-d", "--name", pm_name, *podman.run_opts(), podman.image,
                     "sleep", "1000")
        cid = pm_container_id(podman, runtime, pm_name)
        pid = pm_pid(podman, runtime, pm_name)
        podman.pm_ok(runtime, "kill", "--signal", "KILL", pm_name)
        assert podman.pm_ok(runtime, "wait", pm_name).stdout.strip() == "137"
        # a stopped container starts again through the runtime
        podman.pm_ok(runtime, "start", pm_name)
        pid2 = pm_pid(podman, runtime, pm_name)
        assert pid2 != pid and pid_alive(pid2)
        # sleep as pid 1 ignores SIGTERM; stop escalates to SIGKILL after the timeout
        podman.pm_ok(runtime, "stop", "--time", "1", pm_name)
        assert podman.pm_ok(runtime, "inspect", "--format", "{{.State.Status}}",
                            pm_name).stdout.strip() == "exited"
        podman.pm_ok(runtime, "start", pm_name)
        pid3 = pm_pid(podman, runtime, pm_name)
        podman.pm_ok(runtime, "rm", "--force", "--time", "0", pm_name)
        assert podman.pm(runtime, "container", "exists", pm_name).returncode == 1
        assert_nothing_left(runtime, podman.rtroot(runtime), cid, pid3, podman.cgparent,
                            podman.base)

    def test_tty_run_and_exec(self, podman, runtime, pm_name):
        rc, out = pty_session(podman.prefix(runtime) + [
            "run", "-it", "--rm", "--name", pm_name, *podman.run_opts(), podman.image, "sh", "-c",
            "echo ready; read x; echo got $x; tty; " + wait_for_size("33 101") + "; exit 4"],
            send="hello\n", expect="ready", env=podman.env)
        assert rc == 4, out
        assert "got hello" in out and "/dev/pts/0" in out and "33 101" in out, out
        name2 = pm_name + "t"
        try:
            podman.pm_ok(runtime, "run", "-d", "--name", name2, *podman.run_opts(),
                         podman.image, "sleep", "1000")
            rc, out = pty_session(podman.prefix(runtime) + [
                "exec", "-it", name2, "sh", "-c", "tty; " + wait_for_size("40 120") + "; exit 9"],
                rows=40, cols=120, env=podman.env)
            assert rc == 9, out
            assert "/dev/pts/" in out and "40 120" in out, out
        finally:
            podman.pm(runtime, "rm", "--force", "--time", "0", name2)
