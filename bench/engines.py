"""engines — private, throwaway image engines for the pull benchmarks (bench/pull, bench/idle-rss).

How: each engine gets its own temp dir holding every path it would write
(data root, exec root, socket, pid file, config, its CLI's config), and runs in a
private mount namespace (`unshare --mount --propagation private`, which execs, so
the pid we hold is the daemon itself).  Inside that namespace a temp dir covers
the host-global places a daemon writes despite its flags (dockerd 20.10:
/etc/docker/key.json, so /etc is an overlay whose upper dir is ours; podman:
/var/lib/containers/cache, bind-mounted over), and any mount the engine makes
disappears with the namespace.  So the host's own docker, podman or berth state
is neither read nor touched, and several can run at once.  Sysctls are not
covered by a mount namespace: dockerd runs with --ip-forward=false, or it sets
net.ipv4.ip_forward=1 on the host even with no bridge.

  Dockerd   dockerd from Debian's docker.io with its own containerd (started by
            dockerd, paths under our exec root), overlay2, no bridge, no iptables,
            no IP forwarding, its own daemon.json
  Berthd    berthd with --data-root/--exec-root/-H/--config-file of its own, and
            a daemon.json saying no bridge, no firewall, no forwarding
  Podman    no daemon: --root/--runroot/--tmpdir of its own, and its own
            containers.conf, storage.conf and registries.conf (CONTAINERS_CONF and
            friends: the host's are not read); image_copy_tmp_dir and TMPDIR point
            into its dir on the scratch fs, and that dir is also bind-mounted over
            /var/tmp in its namespace (its temporary blobs go to /var/tmp on the root
            fs whatever --root says, and `podman load` unpacks an archive there
            whatever the config says; no bind when its dir is on /var/tmp's filesystem
            already, as with --dir /var/tmp); /var/lib is an overlay with an upper dir of
            ours (c/image writes /var/lib/containers/cache whatever --root says).  prepare() creates its store untimed, as daemons create theirs at
            start.

With network = "bridge" (bench/run --network bridge) a daemon keeps its default
bridge, firewall and forwarding instead, and runs in the private network namespace
named by its netns attribute (bench/netns.py; nsenter --net, which execs), so none of
that reaches the host's namespace; podman's commands run there too.

timed_run() times every engine's client command the same way: in one private
mount namespace and sh, with the engine's mounts made first, the clock read by
`date` just before and after the command, so no engine's time includes unshare,
sh or mount, and none is subtracted.

Stores live on a scratch filesystem (scratch_fs(): a fresh ext4 with a journal in
a sparse file on a loop device with direct I/O, unmounted and deleted at the end)
unless the caller names a directory.  The root filesystem of this machine kind is
ext4 without a journal, mounted with `discard`: removing a 15,000-file store there
takes minutes (a synchronous discard per freed extent), and creating inodes crawls
past every inode freed in the last 1-5 minutes (ext4's recently_deleted()), so one
engine's deleted store would slow the next engine's pull.  On the root filesystem
the caller passes a `graveyard` list and removes the stores at the end instead.

stop() ends exactly the processes this module started (by pid: the daemon, and
for dockerd the containerd whose command line names our exec root), waits for
them, then removes the temp dir.  Never: kill by name, touch /var/lib/docker,
/var/lib/containers or /run/berth of the host, listen on anything but a unix
socket in our temp dir.
"""
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKER_BIN = "/usr/bin/docker"
DOCKERD_BIN = "/usr/sbin/dockerd"
PODMAN_BIN = "/usr/bin/podman"


class EngineError(Exception):
    pass


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=2):
        super().__init__("localhost", timeout=timeout)
        self.sock_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.sock_path)
        self.sock = s


def api_get(sock, path, timeout=5):
    c = _UnixHTTP(sock, timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids_naming(text):
    """Pids whose command line contains text (a unique temp path of ours)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if text.encode() in f.read():
                    out.append(int(d))
        except OSError:
            pass
    return out


def _end(pid, grace=20):
    if not _alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + grace
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)


def _private_ns(binds, argv, overlays=(), umounts=(), netns=None):
    """argv run in a private mount namespace with (source, target) bind mounts and
    (target, upper, work) overlays (the target itself the lower dir) made first, and
    the mounts in umounts taken away (only in that namespace); with netns (a path such
    as /run/netns/NAME), in that network namespace too (nsenter execs: same pid)."""
    script = _mount_script(binds, overlays, umounts) + 'exec "$@"'
    return _in_netns(netns) + ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               script, "sh", *argv]


def _in_netns(netns):
    """argv prefix entering the network namespace at netns, and nothing else (none: [])."""
    return ["nsenter", "--net=" + netns] if netns else []


def _mount_script(binds=(), overlays=(), umounts=()):
    """sh commands making (target, upper, work) overlays whose lower dir is the target
    itself, then (source, target) bind mounts, after unmounting umounts.  Overlays first: a
    bind over /var/tmp would hide their upper dirs when the stores live under /var/tmp."""
    return "".join('umount "%s" || exit 125; ' % u for u in umounts) + "".join(
        'mount -t overlay overlay -o "lowerdir=%s,upperdir=%s,workdir=%s" "%s" || exit 125; '
        % (t, u, w, t) for t, u, w in overlays) + "".join(
        'mount --bind "%s" "%s" || exit 125; ' % b for b in binds)


def timed_run(argv, env=None, binds=(), overlays=()):
    """(seconds, CompletedProcess with stderr) of argv, the same way for every engine: in a
    private mount namespace and sh that first make the engine's mounts, timed from inside
    around argv alone.  `sync` first, so earlier write-back does not land in the timing."""
    subprocess.run(["sync"], check=True)
    fd, tfile = tempfile.mkstemp(prefix="bb-time-")
    os.close(fd)
    script = (_mount_script(binds, overlays) + 't0=$(date +%s%N); "$@"; rc=$?; '
              't1=$(date +%s%N); echo "$t0 $t1" > "$0"; exit $rc')
    try:
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                            tfile, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env)
        with open(tfile) as f:
            t = f.read().split()
    finally:
        os.unlink(tfile)
    return ((int(t[1]) - int(t[0])) / 1e9 if len(t) == 2 else None), p


def _umount_under(path):
    """Unmount anything left mounted under path in our own namespace (normally nothing)."""
    with open("/proc/self/mountinfo") as f:
        mps = [line.split()[4] for line in f]
    for mp in sorted((m for m in mps if m == path or m.startswith(path + "/")), reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)


@contextlib.contextmanager
def scratch_fs(size_gb=40, parent="/var/tmp"):
    """Mount point of a fresh ext4 (journal, no discard) on a loop device; all gone after."""
    need = 2 << 30
    st = os.statvfs(parent)
    if st.f_bavail * st.f_frsize < need:
        raise EngineError("%s has less than 2 GB free for a scratch filesystem" % parent)
    image = tempfile.mktemp(prefix="berth-bench-fs-", suffix=".img", dir=parent)
    mnt = tempfile.mkdtemp(prefix="bb-fs-", dir="/tmp")  # short: podman's runroot is <= 50
    dev = None
    mounted = False
    try:
        with open(image, "wb") as f:
            f.truncate(size_gb << 30)
        p = subprocess.run(["mkfs.ext4", "-q", "-F", "-E",
                            "nodiscard,lazy_itable_init=1,lazy_journal_init=1", image],
                           capture_output=True)
        if p.returncode != 0:
            raise EngineError("mkfs.ext4 %s: %s" % (image, p.stderr.decode().strip()))
        p = subprocess.run(["losetup", "--find", "--show", "--direct-io=on", image],
                           capture_output=True)
        if p.returncode != 0:
            raise EngineError("losetup %s: %s" % (image, p.stderr.decode().strip()))
        dev = p.stdout.decode().strip()
        p = subprocess.run(["mount", "-t", "ext4", dev, mnt], capture_output=True)
        if p.returncode != 0:
            raise EngineError("mount %s: %s" % (dev, p.stderr.decode().strip()))
        mounted = True
        os.chmod(mnt, 0o755)
        yield mnt
    finally:
        if mounted:
            _umount_under(mnt)
            if subprocess.run(["umount", mnt], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mnt], capture_output=True)
        if dev:
            # A namespace still dying (a daemon's private mount namespace) holds the
            # filesystem a moment longer: the device is detached when it lets go.
            subprocess.run(["losetup", "-d", dev], capture_output=True)
            backing = "/sys/block/%s/loop/backing_file" % os.path.basename(dev)
            deadline = time.time() + 15
            while os.path.exists(backing) and time.time() < deadline:
                time.sleep(0.1)
        try:
            os.unlink(image)
        except FileNotFoundError:
            pass
        try:
            os.rmdir(mnt)
        except OSError:
            pass


def _remove(d, graveyard):
    if graveyard is None:
        shutil.rmtree(d, ignore_errors=True)
    else:
        graveyard.append(d)


def bury(graveyard):
    """Remove the stores left in a graveyard list."""
    while graveyard:
        shutil.rmtree(graveyard.pop(), ignore_errors=True)


class _Daemon:
    name = "?"

    def __init__(self, parent="/tmp", graveyard=None):
        self.graveyard = graveyard
        self.dir = tempfile.mkdtemp(prefix="bb-%s-" % self.name, dir=parent)
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "api.sock")
        self.host = "unix://" + self.sock
        self.proc = None
        self.log_path = os.path.join(self.dir, "daemon.log")

    # mounts hidden in the daemon's namespace (the container benchmarks hide the cgroup2
    # mount of hybrid hosts, as crun needs, so that every engine does the same v1 work)
    umounts = ()

    # "none": the daemon runs without its default bridge, firewall or forwarding, in the
    # host's network namespace; "bridge": with all three as it defaults to, in the network
    # namespace at self.netns (bench/netns.py), which must then be set
    network = "none"
    netns = None

    def _spawn(self, argv, binds=(), overlays=()):
        if self.network == "bridge" and not self.netns:
            raise EngineError("%s: a bridge network needs a private network namespace"
                              % self.name)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(_private_ns(binds, argv, overlays, self.umounts,
                                                     self.netns),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)

    def log_tail(self, n=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise EngineError("%s exited (%d) at start:\n%s" % (
                    self.name, self.proc.returncode, self.log_tail()))
            try:
                if api_get(self.sock, "/_ping")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise EngineError("%s did not answer on %s within %d s:\n%s" % (
            self.name, self.sock, timeout, self.log_tail()))

    overlays = ()
    binds = ()

    def helpers(self):
        return []

    def argv(self, *args):
        """The client's command line, run as is (timed_run adds nothing but the clock)."""
        return self.cli(*args)

    def pull_argv(self, ref):
        return self.argv("pull", ref)

    def prepare(self):
        """Nothing: a daemon made its store when it started (untimed)."""

    def rss_kib(self):
        """{process name: VmRSS KiB} of the daemon and its helper processes."""
        out = {self.name: vm_rss_kib(self.proc.pid)}
        for name, pid in self.helpers():
            out[name] = vm_rss_kib(pid)
        return out

    def stop(self):
        helpers = [pid for _, pid in self.helpers()] if self.proc else []
        if self.proc is not None:
            _end(self.proc.pid)
            self.proc.wait()
        for pid in helpers + _pids_naming(self.dir):
            _end(pid, grace=5)
        _umount_under(self.dir)
        _remove(self.dir, self.graveyard)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


class Dockerd(_Daemon):
    name = "dockerd"

    def __init__(self, insecure, parent="/tmp", graveyard=None):
        super().__init__(parent, graveyard)
        self.insecure = insecure
        self.env = {**os.environ, "DOCKER_CONFIG": os.path.join(self.dir, "cli")}

    def start(self):
        d = self.dir
        for sub in ("data", "exec", "cli", "etc-upper", "etc-work"):
            os.makedirs(os.path.join(d, sub))
        cfg = os.path.join(d, "daemon.json")
        with open(cfg, "w") as f:
            json.dump({}, f)
        # none: no docker0, no iptables rules, no forwarding; bridge: dockerd's defaults
        # (docker0, iptables on, ip6tables off as 20.10 defaults, forwarding on)
        net = [] if self.network == "bridge" else [
            "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-forward=false"]
        self._spawn([DOCKERD_BIN, "--config-file", cfg, "--data-root", os.path.join(d, "data"),
                     "--exec-root", os.path.join(d, "exec"), "-H", self.host,
                     "--pidfile", os.path.join(d, "dockerd.pid"), "--insecure-registry",
                     self.insecure, *net, "--storage-driver", "overlay2"],
                    overlays=[("/etc", os.path.join(d, "etc-upper"), os.path.join(d, "etc-work"))])
        self.wait_ready()

    def helpers(self):
        """containerd started by this dockerd (its command line names our exec root)."""
        exec_root = os.path.join(self.dir, "exec")
        return [("containerd", pid) for pid in _pids_naming(exec_root)
                if self.proc and pid != self.proc.pid]

    def cli(self, *args):
        return [DOCKER_BIN, "-H", self.host, *args]

    def image_diff_ids(self, ref):
        p = subprocess.run(self.cli("image", "inspect", ref), capture_output=True, env=self.env)
        if p.returncode != 0:
            raise EngineError("docker image inspect %s: %s" % (ref, p.stderr.decode().strip()))
        return json.loads(p.stdout)[0]["RootFS"]["Layers"]


class Berthd(_Daemon):
    name = "berthd"

    def __init__(self, insecure, build, parent="/tmp", graveyard=None):
        super().__init__(parent, graveyard)
        self.insecure = insecure
        self.berthd = os.path.join(build, "src", "cmd", "berthd")
        self.berth = os.path.join(build, "src", "cmd", "berth")
        self.env = {**os.environ, "DOCKER_CONFIG": os.path.join(self.dir, "cli")}
        for k in ("BERTH_HOST", "DOCKER_HOST"):
            self.env.pop(k, None)
        for b in (self.berthd, self.berth):
            if not os.access(b, os.X_OK):
                raise EngineError("%s is missing: build berth first (meson setup build && "
                                  "ninja -C build)" % b)

    def start(self):
        d = self.dir
        for sub in ("data", "exec", "cli"):
            os.makedirs(os.path.join(d, sub))
        cfg = os.path.join(d, "daemon.json")
        with open(cfg, "w") as f:
            # none, as the docker anchor runs: no default bridge, no firewall, no forwarding;
            # bridge: berthd's defaults (berth0, nftables, forwarding)
            json.dump({} if self.network == "bridge" else
                      {"bridge": "none", "iptables": False, "ip-forward": False}, f)
        self._spawn([self.berthd, "--config-file", cfg, "--data-root", os.path.join(d, "data"),
                     "--exec-root", os.path.join(d, "exec"), "-H", self.host,
                     "--pidfile", os.path.join(d, "berthd.pid"),
                     "--insecure-registry", self.insecure])
        self.wait_ready()

    def cli(self, *args):
        return [self.berth, "-H", self.host, *args]

    def image_diff_ids(self, ref):
        p = subprocess.run(self.cli("image", "inspect", ref), capture_output=True, env=self.env)
        if p.returncode != 0:
            raise EngineError("berth image inspect %s: %s" % (ref, p.stderr.decode().strip()))
        return json.loads(p.stdout)[0]["RootFS"]["Layers"]


class Podman:
    """podman has no daemon: a store of its own per instance, the pull is the whole engine."""
    name = "podman"

    def __init__(self, parent="/tmp", graveyard=None):
        self.graveyard = graveyard
        self.dir = d = tempfile.mkdtemp(prefix="bb-podman-", dir=parent)
        for sub in ("root", "run", "tmp", "imgtmp", "varlib-upper", "varlib-work"):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, "containers.conf"), "w") as f:
            f.write('[engine]\nimage_copy_tmp_dir = "%s"\nevents_logger = "file"\n'
                    'cgroup_manager = "cgroupfs"\n' % os.path.join(d, "imgtmp"))
        with open(os.path.join(d, "storage.conf"), "w") as f:
            f.write('[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n'
                    % (os.path.join(d, "root"), os.path.join(d, "run")))
        with open(os.path.join(d, "registries.conf"), "w") as f:
            f.write("unqualified-search-registries = []\n")
        self.env = {**os.environ, "CONTAINERS_CONF": os.path.join(d, "containers.conf"),
                    "CONTAINERS_STORAGE_CONF": os.path.join(d, "storage.conf"),
                    "CONTAINERS_REGISTRIES_CONF": os.path.join(d, "registries.conf"),
                    "TMPDIR": os.path.join(d, "imgtmp")}
        # c/image keeps its blob-info cache in /var/lib/containers/cache whatever --root says
        self.overlays = [("/var/lib", os.path.join(d, "varlib-upper"),
                          os.path.join(d, "varlib-work"))]
        # ... and /var/tmp goes to our dir's filesystem, unless it is that filesystem
        # already (a bind over /var/tmp would then hide our own dir when it lives there)
        self.binds = [] if os.stat(d).st_dev == os.stat("/var/tmp").st_dev else \
            [(os.path.join(d, "imgtmp"), "/var/tmp")]

    def argv(self, *args):
        """podman's own command line (run it inside self.overlays' namespace)."""
        d = self.dir
        return [PODMAN_BIN, "--root", os.path.join(d, "root"), "--runroot",
                os.path.join(d, "run"), "--tmpdir", os.path.join(d, "tmp"),
                "--storage-driver", "overlay", "--events-backend", "file",
                "--cgroup-manager", "cgroupfs", *args]

    # podman's commands are the engine: with a bridge network they run in the network
    # namespace at netns (set by the caller), where podman makes its bridge and rules
    netns = None

    def cli(self, *args):
        return _private_ns(self.binds, self.argv(*args), self.overlays, netns=self.netns)

    def prepare(self):
        """Create the store (libpod database, storage layout, overlay probe), untimed."""
        p = subprocess.run(self.cli("images"), capture_output=True, env=self.env)
        if p.returncode != 0:
            raise EngineError("podman images: %s" % p.stderr.decode(errors="replace").strip())

    def pull_argv(self, ref):
        return self.argv("pull", "--tls-verify=false", ref)

    def image_diff_ids(self, ref):
        p = subprocess.run(self.cli("image", "inspect", ref), capture_output=True, env=self.env)
        if p.returncode != 0:
            raise EngineError("podman image inspect %s: %s" % (ref, p.stderr.decode().strip()))
        return json.loads(p.stdout)[0]["RootFS"]["Layers"]

    def stop(self):
        for pid in _pids_naming(self.dir):
            _end(pid, grace=5)
        _umount_under(self.dir)
        _remove(self.dir, self.graveyard)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
