"""ctrbench — what the container benchmarks share (bench/run, bench/lifecycle, bench/density,
bench/run-it): a busybox image made here, the engines started privately with it loaded,
one way to time a client command, and cleanup of every container they made.

How: the image is Debian's busybox-static with its applet links (as the integration tests
make it, tests/integration/container_util.py), written as a docker-archive that berth,
docker and podman all `load`; no network is needed.  Engines are bench/engines.py's
private daemons (berthd; dockerd 20.10 with its own containerd, runc) and an isolated
podman whose containers.conf names crun.  On hybrid cgroup hosts crun refuses to run
while the cgroup2 mount has controllers enabled, so every engine's mount namespace has
/sys/fs/cgroup/unified unmounted (the host keeps it) and all of them do the same cgroup
v1 work.  Each engine gets a holder: a process parked in a private mount namespace with
that engine's mounts (podman's /var/lib overlay and /var/tmp bind; nothing for the
others); every client command is timed by the static launcher bench/rss-launch.c, whose
child joins the holder's namespace and execs the client, so no wrapper process lands in
any engine's wall time or peak RSS and nothing is subtracted.

Podman runs as root here without CAP_SYS_RESOURCE in the bounding set: its default
rlimits for containers (nofile 1048576, nproc 4194304) cannot be set, so its
containers.conf gives default_ulimits at the limits it can set (nofile = our hard limit,
nproc 32768), where docker's and berth's containers inherit their daemon's.

Never: kill by name, touch the host's docker, podman or berth state, leave a container,
shim, mount or cgroup behind (Engine.remove_all, then a sweep by pid and cgroup path; the
parent cgroups an engine made, docker/ and libpod_parent/, go when it stops, if they did
not exist before).
"""
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import engines  # noqa: E402
import netns  # noqa: E402

BUSYBOX = "/bin/busybox"
IMAGE = "busybox:latest"


def hybrid_host():
    with open("/proc/self/mountinfo") as f:
        return any(" /sys/fs/cgroup/unified " in line for line in f)


HIDE = ("/sys/fs/cgroup/unified",) if hybrid_host() else ()


# ---- the image ----

def _sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def _tar_add(t, name, typ=tarfile.DIRTYPE, data=b"", mode=0o755, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.linkname = typ, mode, 1700000000, link
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)


def busybox_layer():
    """One layer tar: busybox-static, a link per applet, /etc/passwd and group."""
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "var"):
            _tar_add(t, d, mode=0o1777 if d == "tmp" else 0o755)
        with open(BUSYBOX, "rb") as f:
            _tar_add(t, "bin/busybox", tarfile.REGTYPE, f.read())
        for a in sorted(set(applets) - {"busybox"}):
            _tar_add(t, "bin/" + a, tarfile.SYMTYPE, link="busybox", mode=0o777)
        _tar_add(t, "etc/passwd", tarfile.REGTYPE, b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        _tar_add(t, "etc/group", tarfile.REGTYPE, b"root:x:0:\n", 0o644)
    return bio.getvalue()


def files_layer(files):
    """One layer tar of (absolute path, bytes, mode), with the directories above them."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        made = set()
        for path, data, mode in files:
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in made:
                    made.add(d)
                    _tar_add(t, d)
            _tar_add(t, "/".join(parts), tarfile.REGTYPE, data, mode)
    return bio.getvalue()


def image_archive(path, tag, layers, cmd, created_by):
    """A docker-archive at path of one image tagged tag, made of the given layer tars."""
    cfg = json.dumps({
        "created": "2026-01-02T03:04:05Z", "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [_sha256(layer) for layer in layers]},
        "history": [{"created_by": created_by} for _ in layers]}).encode()
    names = [hashlib.sha256(layer).hexdigest() + "/layer.tar" for layer in layers]
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        members = list(zip(names, layers)) + [(cname, cfg), ("manifest.json", json.dumps(
            [{"Config": cname, "RepoTags": [tag], "Layers": names}]).encode())]
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data))
    return path


def busybox_archive(path):
    """A docker-archive of the busybox image tagged busybox:latest (Cmd sh)."""
    return image_archive(path, IMAGE, [busybox_layer()], ["sh"], "busybox-static")


# ---- namespaces and the launcher ----

class Holder:
    """A `sleep infinity` parked in a private mount namespace with an engine's mounts (and,
    with net, in the engine's private network namespace: the launcher joins both)."""

    def __init__(self, binds=(), overlays=(), umounts=HIDE, net=None):
        script = engines._mount_script(binds, overlays, umounts) + \
            "echo ready; exec sleep infinity"
        self.proc = subprocess.Popen(engines._in_netns(net) + [
            "unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if self.proc.stdout.readline() != b"ready\n":
            self.proc.wait()
            raise engines.EngineError("could not set up a private mount namespace")
        self.ns = "/proc/%d/ns/mnt" % self.proc.pid
        self.net = net

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class Launcher:
    """bench/rss-launch built static: wall time and peak RSS of one client command."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "rss-launch")
        subprocess.run(["cc", "-O2", "-static", "-o", self.path,
                        os.path.join(HERE, "rss-launch.c")], check=True)

    def run(self, argv, env, ns, stdin=subprocess.DEVNULL, timeout=600, net=None):
        """(seconds, peak RSS KiB, returncode, stdout, stderr without the launcher's line);
        the child joins mount namespace ns, and network namespace net if given."""
        p = subprocess.run([self.path, *(("--netns", net) if net else ()), "--mntns", ns,
                            *argv], stdin=stdin,
                           capture_output=True, env=env, timeout=timeout)
        err = p.stderr.decode(errors="replace").rstrip("\n").split("\n")
        if not err or not err[-1].startswith("rss-launch: "):
            raise engines.EngineError("%s: launcher failed (%d): %s" % (
                argv[0], p.returncode, "\n".join(err)[-500:]))
        ns_, kib = err[-1].split()[1:3]
        return int(ns_) / 1e9, int(kib), p.returncode, p.stdout, "\n".join(err[:-1])


# ---- engines ----

class Podman(engines.Podman):
    """engines.Podman with crun and rlimits it can set (see the module comment).  With
    network "bridge" its default network is the one podman 4.3 makes itself ("podman",
    cni-podman0, 10.88.0.0/16) through the CNI plugins of Debian's containernetworking-
    plugins (the backend podman picks without netavark, which is not installed here),
    its config dir one of ours (the host's /etc/cni/net.d is not read), and its commands
    run in the network namespace at netns."""
    name = "podman"

    def __init__(self, parent, graveyard=None, network="none", net=None):
        super().__init__(parent, graveyard)
        hard_nofile = int(subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True,
                                         text=True).stdout)
        with open(os.path.join(self.dir, "containers.conf"), "a") as f:
            f.write('runtime = "crun"\n[containers]\ndefault_ulimits = ["nofile=%d:%d", '
                    '"nproc=32768:32768"]\n' % (hard_nofile, hard_nofile))
            if network == "bridge":
                os.makedirs(os.path.join(self.dir, "cni"))
                f.write('[network]\nnetwork_backend = "cni"\nnetwork_config_dir = "%s"\n'
                        % os.path.join(self.dir, "cni"))
        self.network, self.netns = network, net
        self.proc = None

    def cli(self, *args):
        return _ns_argv(self.binds, self.overlays, self.argv(*args), self.netns)


def _ns_argv(binds, overlays, argv, net=None):
    script = engines._mount_script(binds, overlays, HIDE) + 'exec "$@"'
    return engines._in_netns(net) + ["unshare", "--mount", "--propagation", "private", "sh",
                                     "-c", script, "sh", *argv]


# the parent cgroups each engine makes in every hierarchy (cgroupfs managers)
PARENT_CGROUPS = {"berth": ("berth",), "docker@berthd": (), "docker": ("docker",),
                  "podman": ("libpod_parent/conmon", "libpod_parent")}


def _hierarchies():
    base = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(base, "cgroup.controllers")):
        return [base]
    return [os.path.join(base, d) for d in sorted(os.listdir(base))
            if os.path.isdir(os.path.join(base, d)) and not os.path.islink(os.path.join(base, d))]


def parent_cgroups(kind):
    """The parent cgroup dirs an engine of this kind would make, that exist now."""
    return {os.path.join(h, p) for h in _hierarchies() for p in PARENT_CGROUPS[kind]
            if os.path.isdir(os.path.join(h, p))}


def remove_new_parents(kind, before):
    """rmdir the engine's parent cgroups that did not exist before it started (only empty
    ones go: rmdir refuses a cgroup with children or processes)."""
    for h in _hierarchies():
        for p in PARENT_CGROUPS[kind]:  # deepest first
            d = os.path.join(h, p)
            if d not in before and os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError:
                    pass


class Engine:
    """One contender: an engine (berthd, dockerd, podman) and the client that drives it.

    kind: "berth" (berth CLI → berthd), "docker" (docker CLI → dockerd),
          "podman" (podman, crun), "docker@berthd" (docker CLI → berthd; shares a berthd).
    network: "none" (daemons without bridge, firewall or forwarding, in the host's network
          namespace) or "bridge" (each engine with its default bridge, in a private network
          namespace of its own made here and deleted by stop(); the holder is there too, so
          clients run where their engine is)."""

    def __init__(self, kind, build, parent, graveyard=None, berthd=None,
                 insecure="127.0.0.1:1", network="none"):
        self.kind = kind
        self.own = None
        self.netns_ctx = None
        net = None
        if network == "bridge" and berthd is None:
            self.netns_ctx = netns.private_netns("bench-" + kind.split("@")[0])
            net = self.netns_ctx.__enter__()
        try:
            if kind in ("berth", "docker@berthd") and berthd is not None:
                self.e = berthd
            elif kind in ("berth", "docker@berthd"):
                self.e = self.own = engines.Berthd(insecure, build, parent, graveyard)
            elif kind == "docker":
                self.e = self.own = engines.Dockerd(insecure, parent, graveyard)
            elif kind == "podman":
                self.e = self.own = Podman(parent, graveyard, network, net)
            else:
                raise engines.EngineError("unknown engine '%s'" % kind)
        except BaseException:
            self._drop_netns()
            raise
        if self.own is not None:
            self.own.network, self.own.netns = network, net
        self.netns = self.e.netns
        self.e.umounts = HIDE
        self.holder = None
        self.parents_before = parent_cgroups(kind)
        self.env = dict(self.e.env)
        self.name = kind

    def start(self):
        if self.own is not None and self.kind != "podman":
            self.own.start()
        if self.kind == "podman":
            self.e.prepare()
        self.holder = Holder(self.e.binds, self.e.overlays, net=self.netns)
        return self

    def daemons(self):
        """(name, pid) of the engine's long-running processes: berthd; dockerd and
        containerd; none for podman."""
        if self.kind == "berth":
            return [("berthd", self.e.proc.pid)]
        if self.kind == "docker":
            return [("dockerd", self.e.proc.pid)] + self.e.helpers()
        return []

    @property
    def sock(self):
        return getattr(self.e, "sock", None)

    def client(self, *args):
        """The client's argv, to be run inside self.holder's namespace."""
        if self.kind == "berth":
            return self.e.cli(*args)
        if self.kind in ("docker", "docker@berthd"):
            return [engines.DOCKER_BIN, "-H", self.e.host, *args]
        return self.e.argv(*args)

    def run(self, *args, check=True, timeout=600):
        """A client command inside the holder's namespace(s), untimed."""
        net = ["--net=" + self.netns] if self.netns else []
        p = subprocess.run(["nsenter", "--mount=" + self.holder.ns, *net, *self.client(*args)],
                           capture_output=True, env=self.env, stdin=subprocess.DEVNULL,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise engines.EngineError("%s %s: %s" % (self.kind, " ".join(args[:3]),
                                      p.stderr.decode(errors="replace").strip()[-800:]))
        return p

    def load(self, archive):
        self.run("load", "-i", archive)

    def ids(self, all_=True):
        return self.run("ps", "-aq" if all_ else "-q", "--no-trunc").stdout.decode().split()

    def remove_all(self, timeout=1800):
        """rm -f every container the engine has; (seconds, count) of that one command."""
        ids = self.ids()
        if not ids:
            return 0.0, 0
        t0 = time.monotonic()
        # podman's rm -f stops with the stop timeout first; docker's sends SIGKILL at once
        force = ("rm", "-f", "-t", "0") if self.kind == "podman" else ("rm", "-f")
        for i in range(0, len(ids), 500):
            self.run(*force, *ids[i:i + 500], timeout=timeout)
        return time.monotonic() - t0, len(ids)

    def stored_ids(self):
        """The ids of the containers in the engine's store (data/containers/<id>, berthd's
        and dockerd's layout), for when the daemon cannot answer (it died)."""
        try:
            return os.listdir(os.path.join(self.own.dir, "data", "containers"))
        except OSError:
            return []

    def stop(self):
        ids, left = [], True
        try:
            if self.holder is not None and self.own is not None:
                try:
                    ids = self.ids()
                    self.remove_all()
                    left = bool(self.ids())
                except (engines.EngineError, subprocess.TimeoutExpired) as err:
                    print("%s: removing containers failed: %s" % (self.kind, err),
                          file=sys.stderr)
        finally:
            if self.own is not None:
                if left:
                    # a dead daemon lists nothing: its containers are still running
                    ids = sorted(set(ids) | set(self.stored_ids()))
                    sweep(self.own.dir)
                    killed = sweep_cgroups(ids)
                    if killed:
                        print("%s: killed what was left in %d cgroups of its containers" % (
                            self.kind, len(killed)), file=sys.stderr)
                self.own.stop()
                remove_new_parents(self.kind, self.parents_before)
            if self.holder is not None:
                self.holder.stop()
                self.holder = None
            self._drop_netns()

    def _drop_netns(self):
        """Delete the private network namespace we made (after every process in it ended:
        a straggler, which should not exist, is named and killed so the namespace and the
        bridge, veths and rules in it really go)."""
        if self.netns_ctx is None:
            return
        path = self.netns
        left = netns.pids_in(path) if path else []
        for pid in left:
            print("%s: pid %d still in %s; killed" % (self.kind, pid, path), file=sys.stderr)
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        ctx, self.netns_ctx = self.netns_ctx, None
        ctx.__exit__(None, None, None)


def sweep(text):
    """Last resort after a failure: SIGKILL every process whose command line names text
    (our temp dir: shims, conmon, containerd and its shims), then their containers'
    processes go with their pid namespaces.  Normally finds nothing."""
    pids = engines._pids_naming(text)
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    return pids


def sweep_cgroups(ids):
    """Last resort: SIGKILL the processes in the cgroups named by our containers' ids (a
    container's init outlives a killed monitor) and remove those cgroups."""
    dirs = cgroups_named(ids)
    for d in dirs:
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), 9)
                    except ProcessLookupError:
                        pass
        except OSError:
            pass
    time.sleep(0.5)
    for d in sorted(dirs, key=len, reverse=True):
        for base, subdirs, _ in os.walk(d, topdown=False):
            try:
                os.rmdir(base)
            except OSError:
                pass
    return dirs


def cgroups_named(ids, roots=("/sys/fs/cgroup",)):
    """Cgroup directories whose last component contains one of ids (for the leak check)."""
    found = []
    if not ids:
        return found
    for root in roots:
        for base, dirs, _ in os.walk(root):
            name = os.path.basename(base)
            if any(i in name for i in ids):
                found.append(base)
                dirs[:] = []
            if base.count("/") > 6:
                dirs[:] = []
    return found


def open_engines(kinds, build, parent, graveyard=None, insecure="127.0.0.1:1", network="none"):
    """Engines for kinds, started; docker@berthd shares berth's berthd when both are asked
    for.  Returns them in the order asked; the caller stops them (stop_all).  insecure: a
    plain-HTTP registry the daemons may pull from; network: as Engine's."""
    out, shared = [], None
    try:
        for k in kinds:
            if k in ("berth", "docker@berthd") and shared is not None:
                e = Engine(k, build, parent, graveyard, berthd=shared)
            else:
                e = Engine(k, build, parent, graveyard, insecure=insecure, network=network)
                if k in ("berth", "docker@berthd"):
                    shared = e.e
            out.append(e)
            e.start()
    except BaseException:
        stop_all(out)
        raise
    return out


def stop_all(es):
    # engines that share a berthd: the owner stops last so the others' holders go first
    for e in sorted(es, key=lambda e: e.own is not None):
        e.stop()


# ---- figures ----

def pct(v, p):
    s = sorted(v)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def stats(v):
    return {"n": len(v), "median": statistics.median(v), "p90": pct(v, 90), "min": min(v),
            "max": max(v)}


def machine_state():
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    with open("/proc/meminfo") as f:
        mem = {l.split(":")[0]: int(l.split()[1]) for l in f}
    return "load %s, MemAvailable %.1f GiB of %.1f GiB, %d CPUs" % (
        load, mem["MemAvailable"] / 2**20, mem["MemTotal"] / 2**20, os.cpu_count())


def smaps_rollup(pid):
    """{Rss, Pss, Pss_Anon, Pss_File, ...} in KiB of one process, or None if it is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            out = {}
            for line in f:
                p = line.split()
                if len(p) == 3 and p[2] == "kB":
                    out[p[0].rstrip(":")] = int(p[1])
            return out
    except OSError:
        return None


def pids_by_exe(names, under=None):
    """Pids whose comm is one of names (and, with under, whose command line contains it)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                if f.read().strip() not in names:
                    continue
            if under:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if under.encode() not in f.read():
                        continue
            out.append(int(d))
        except OSError:
            pass
    return out


def tmpdir(parent):
    d = tempfile.mkdtemp(prefix="bb-ctr-", dir=parent)
    os.chmod(d, 0o755)
    return d


def rmtree(d):
    shutil.rmtree(d, ignore_errors=True)
