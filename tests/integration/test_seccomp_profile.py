"""Docker seccomp profiles must resolve exactly as dockerd resolves them.

berthd turns Docker's default profile (and `--security-opt seccomp=FILE`)
into config.json's linux.seccomp with seccomp_profile_resolve().  The
reference is dockerd itself: an isolated dockerd runs a busybox container with
the same profile and capability changes, and the linux.seccomp it writes into
the container's config.json must equal what berth-seccomp-resolve prints
for that container's bounding set.

Isolated means it changes nothing of the host's: its own data and exec roots,
socket, pid file and config file (so the host's /etc/docker/daemon.json is
not read); no bridge, no iptables, --ip-forward=false (dockerd otherwise sets
net.ipv4.ip_forward=1 on the host, bridge or not); and a private mount
namespace in which /etc is an overlay with an upper dir of ours, so what
dockerd writes there (/etc/docker/key.json) lands in the temp dir.  The
fixture checks those host settings are unchanged when it is done.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(REPO, "build"))
RESOLVE = os.path.join(BUILD, "tests", "helper", "berth-seccomp-resolve")
TEMPLATE = os.path.join(REPO, "src", "runtime", "seccomp-default.json")


def _docker(env, *args, check=True, timeout=60):
    return subprocess.run(["docker", *args], env=env, check=check, capture_output=True,
                          text=True, timeout=timeout)


HOST_SETTINGS = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv4/conf/all/forwarding",
                 "/proc/sys/net/ipv6/conf/all/forwarding",
                 "/proc/sys/net/ipv4/conf/all/route_localnet")


def host_state():
    """What a careless dockerd changes on the host: forwarding sysctls, /etc/docker."""
    state = {}
    for p in HOST_SETTINGS:
        with open(p) as f:
            state[p] = f.read().strip()
    state["/etc/docker"] = sorted(os.path.join(d, n) for d, dirs, files in os.walk("/etc/docker")
                                  for n in dirs + files)
    return state


@pytest.fixture(scope="module")
def dockerd():
    for tool in ("dockerd", "docker"):
        assert shutil.which(tool), f"{tool} missing: scripts/deps.sh installs docker.io"
    before = host_state()
    top = tempfile.mkdtemp(prefix="berth-test-dockerd-", dir="/tmp")
    cgroup_parent = "berth-test-" + uuid.uuid4().hex[:12]  # not dockerd's shared "docker"
    sock = os.path.join(top, "docker.sock")
    env = dict(os.environ, DOCKER_HOST="unix://" + sock)
    config = os.path.join(top, "daemon.json")
    with open(config, "w") as f:
        f.write("{}\n")
    for d in ("etc-upper", "etc-work"):
        os.mkdir(os.path.join(top, d))
    overlay = "lowerdir=/etc,upperdir=%s/etc-upper,workdir=%s/etc-work" % (top, top)
    log = open(os.path.join(top, "dockerd.log"), "w")
    # unshare execs sh, which execs dockerd: proc.pid is dockerd's
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t overlay overlay -o "$0" /etc && exec "$@"', overlay,
         "dockerd", "--config-file", config, "--data-root", os.path.join(top, "data"),
         "--exec-root", os.path.join(top, "exec"), "--pidfile", os.path.join(top, "dockerd.pid"),
         "-H", "unix://" + sock, "--bridge", "none", "--iptables=false", "--ip6tables=false",
         "--ip-forward=false", "--ip-masq=false", "--userland-proxy=false",
         "--cgroup-parent", cgroup_parent],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while _docker(env, "version", check=False).returncode != 0:
            assert proc.poll() is None, "dockerd exited: " + open(log.name).read()[-2000:]
            assert time.monotonic() < deadline, "dockerd did not come up"
            time.sleep(0.3)
        rootfs = os.path.join(top, "rootfs")
        os.makedirs(os.path.join(rootfs, "bin"))
        shutil.copy2("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
        os.symlink("busybox", os.path.join(rootfs, "bin", "sleep"))
        tar = os.path.join(top, "rootfs.tar")
        subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
        image = "berth-seccomp-test:" + uuid.uuid4().hex[:8]
        _docker(env, "import", tar, image)
        yield env, top, image
    finally:
        ids = _docker(env, "ps", "-aq", check=False).stdout.split()
        if ids:
            _docker(env, "rm", "-f", *ids, check=False)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["umount", "-R", "-l", top], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
        for d in glob.glob("/sys/fs/cgroup/*/" + cgroup_parent) + \
                glob.glob("/sys/fs/cgroup/" + cgroup_parent):
            for sub, _, _ in sorted(os.walk(d), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
    assert host_state() == before, "dockerd changed the host's settings"


def _dockerd_seccomp(dockerd, profile, opts):
    """linux.seccomp and the bounding set dockerd writes for a container."""
    env, top, image = dockerd
    cid = _docker(env, "run", "-d", "--network", "none", *opts, "--security-opt",
                  "seccomp=" + profile, image, "sleep", "60").stdout.strip()
    try:
        found = glob.glob(os.path.join(top, "exec", "**", cid, "config.json"), recursive=True)
        assert found, "no config.json for container " + cid
        with open(found[0]) as f:
            spec = json.load(f)
    finally:
        _docker(env, "rm", "-f", cid)
    return spec["linux"].get("seccomp"), spec["process"]["capabilities"]["bounding"]


def _normalize(sec):
    out = {k: v for k, v in sec.items() if k != "syscalls" and v not in (None, [], "")}
    out["syscalls"] = []
    for s in sec.get("syscalls") or []:
        e = {"names": s["names"], "action": s["action"]}
        if s.get("errnoRet") is not None:
            e["errnoRet"] = s["errnoRet"]
        if s.get("args"):
            e["args"] = [{"index": a["index"], "value": a["value"],
                          "valueTwo": a.get("valueTwo", 0), "op": a["op"]} for a in s["args"]]
        out["syscalls"].append(e)
    return out


# Allow by default (runc must still start the container under it); every
# rule denies something the container never calls.
CUSTOM = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
        {"name": "acct", "action": "SCMP_ACT_ERRNO", "comment": "old single-name form"},
        {"names": ["kexec_load", "kexec_file_load"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO",
         "excludes": {"caps": ["CAP_SYS_PTRACE"]}},
        {"names": ["pivot_root"], "action": "SCMP_ACT_ERRNO",
         "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]}},
        {"names": ["chown"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "excludes": {"caps": ["CAP_CHOWN"]}},
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["syslog"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "99.0"}},
        {"names": ["vhangup"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "3.10"}},
        {"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["s390x"]}},
        {"names": ["swapon"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}},
        {"names": ["swapoff"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["amd64", "x86"]}},
    ],
}


@pytest.mark.parametrize("case,opts", [
    ("default", []),
    ("default", ["--cap-add", "SYS_ADMIN"]),
    ("default", ["--cap-add", "SYS_PTRACE", "--cap-add", "SYS_TIME", "--cap-drop", "CHOWN"]),
    ("custom", []),
    ("custom", ["--cap-add", "SYS_PTRACE", "--cap-add", "SYS_ADMIN", "--cap-drop", "CHOWN"]),
    ("custom", ["--cap-add", "NET_ADMIN"]),
])
def test_resolves_like_dockerd(dockerd, tmp_path, case, opts):
    if os.uname().machine != "x86_64":
        pytest.skip("the custom profile and expectations are written for x86_64")
    profile = TEMPLATE
    if case == "custom":
        profile = str(tmp_path / "custom.json")
        with open(profile, "w") as f:
            json.dump(CUSTOM, f)
    want, bounding = _dockerd_seccomp(dockerd, profile, opts)
    got = json.loads(subprocess.run([RESOLVE, profile, *bounding], check=True,
                                    capture_output=True, text=True).stdout)
    # dockerd 20.10 drops defaultErrnoRet; it only restates the default (EPERM)
    if "defaultErrnoRet" not in want:
        assert got.pop("defaultErrnoRet", 1) == 1
    assert _normalize(got) == _normalize(want)
    if case == "default":
        names = {n for s in got["syscalls"] for n in s["names"]}
        assert ("unshare" in names) == ("CAP_SYS_ADMIN" in bounding)


def test_resolve_error_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": '
                   '[{"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4"}}]}')
    r = subprocess.run([RESOLVE, str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr == ("berth-seccomp-resolve: seccomp profile: syscalls[0].includes.minKernel: "
                        "invalid kernel version '4', expected \"<kernel>.<major>\"\n")
