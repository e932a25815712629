"""Adversarial audit of berth-runtime (issue 2, "Security, each with a
regression test"): one test per attack, each asserting the attack fails.

The runtime under test is a COPY of build/src/cmd/berth-runtime in a temp
dir, so an attack that succeeds overwrites the copy, never the build.  The
attacker is tests/helper/berth-attack, a static program scanning
/proc/<pid>/exe, mem and map_files from inside; where the container manages
to run the runtime binary, a script `#!/proc/self/exe --log=/tmp/ff` makes it
block on a fifo (the error log) while the attacker takes /proc/<pid>/exe.

The attacks of the audit's findings 1, 2 and 5 (the runtime binary written
through /proc/<pid>/exe) succeeded until runtime/selfseal.c: now the
attacker may still get hold of the exe, but its write fails with EROFS.
Each of those tests runs twice: against the real runtime, where
assert_attack() requires the attacker's verdict to be exactly "grabbed, not
written, EROFS", and as a control against tests/helper/berth-runtime-unsealed
(the same runtime without selfseal.c), where the same attack must write its
marker into that copy.  A refusal that the control cannot turn into a
success would prove nothing.  Every test cleans up its containers, mounts and
temp dirs even when it fails.
"""
import ctypes
import errno
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import build_path
from runtime_util import RUNTIME, default_config, helper_json, leftovers, write_config

ATTACK = build_path("tests", "helper", "berth-attack")
UNSEALED = build_path("tests", "helper", "berth-runtime-unsealed")
MARKER = b"BERTH-PWNED"

needs_attack = pytest.mark.skipif(not os.path.exists(ATTACK) or not os.path.exists(UNSEALED),
                                  reason="berth-attack and berth-runtime-unsealed are built only "
                                  "without sanitizers (they link statically)")


class CopiedRuntime:
    """berth-runtime (or, sealed=False, berth-runtime-unsealed) copied into a temp
    dir as "rt", with its own --root."""

    def __init__(self, sealed=True):
        self.sealed = sealed
        self.dir = tempfile.mkdtemp(prefix="berth-sec-rt-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.bin = os.path.join(self.dir, "rt")
        shutil.copy2(RUNTIME if sealed else UNSEALED, self.bin)
        with open(self.bin, "rb") as f:
            self.orig = f.read()
        self.root = os.path.join(self.dir, "state")
        os.mkdir(self.root)

    def __call__(self, *args, timeout=30, pass_fds=(), env=None, cwd=None):
        cmd = [self.bin, "--root", self.root] + [str(a) for a in args]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                               timeout=timeout, pass_fds=pass_fds, env=env, cwd=cwd)
            out.seek(0)
            err.seek(0)
            p.stdout = out.read().decode(errors="replace")
            p.stderr = err.read().decode(errors="replace")
        return p

    def ok(self, *args, **kw):
        p = self(*args, **kw)
        assert p.returncode == 0, "%s: %s" % (" ".join(map(str, args)), p.stderr)
        return p

    def intact(self):
        with open(self.bin, "rb") as f:
            return f.read() == self.orig

    def cleanup_containers(self):
        if self.intact():
            p = self("list", "-q")
            ids = p.stdout.split()
        else:  # the copy was destroyed by an attack: clean up with the build's binary
            ids = os.listdir(self.root)
        for cid in ids:
            subprocess.run([RUNTIME, "--root", self.root, "delete", "--force", cid],
                           capture_output=True, timeout=30)

    def cleanup(self):
        self.cleanup_containers()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def crt(workdir):
    """(After workdir, so its containers are gone before workdir is removed.)"""
    r = CopiedRuntime()
    yield r
    r.cleanup()


@pytest.fixture(params=[True, False], ids=["defended", "control-unsealed"])
def attacked_rt(request, workdir):
    """The runtime an attack on the binary runs against: the real one, then as the
    control the same runtime without its self-seal."""
    r = CopiedRuntime(sealed=request.param)
    yield r
    r.cleanup()


def bundle(workdir, template, args, edit=None, name="bundle"):
    b = os.path.join(workdir, name)
    shutil.copytree(template, os.path.join(b, "rootfs"), symlinks=True)
    cfg = default_config(b)
    cfg["process"]["args"] = args
    cfg["root"]["readonly"] = False
    if edit:
        edit(cfg)
    write_config(b, cfg)
    return b


def edit_config(b, fn):
    with open(os.path.join(b, "config.json")) as f:
        cfg = json.load(f)
    fn(cfg)
    write_config(b, cfg)


def arm_rootfs(b):
    """The attacker's rootfs: berth-attack, and /evil, a script whose interpreter
    is /proc/self/exe with an argument that makes the runtime block (its error
    log is a fifo nobody reads) if it ever runs in here."""
    r = os.path.join(b, "rootfs")
    shutil.copy2(ATTACK, os.path.join(r, "bin", "berth-attack"))
    with open(os.path.join(r, "evil"), "w") as f:
        f.write("#!/proc/self/exe --log=/tmp/ff\n")
    os.chmod(os.path.join(r, "evil"), 0o755)
    os.mkfifo(os.path.join(r, "tmp", "ff"))


# inside: grab (and kill) the runtime process that /evil becomes, then write
GRAB = "/bin/berth-attack grab rt 6 /tmp/ff > /tmp/res 2>&1"


def wait_file(path, timeout=8):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                data = f.read()
            if data.endswith("\n"):
                return data
        time.sleep(0.05)
    return open(path).read() if os.path.exists(path) else ""


def add_caps(cfg, *caps):
    for k in ("bounding", "permitted", "effective"):
        cfg["process"]["capabilities"][k] = sorted(set(cfg["process"]["capabilities"][k]) |
                                                   set(caps))


# ---------------------------------------------------------------- 1. CVE-2019-5736 class

def verdict(out):
    """berth-attack's one JSON line; an attacker that said nothing did not attack."""
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert len(lines) == 1, "no verdict from the attacker: %r" % out
    return json.loads(lines[0])


def assert_attack(crt, out):
    """Defended: the attacker got hold of the runtime's exe and its write failed with
    EROFS (runtime/selfseal.c: a read-only view of it), the copy intact.  Control
    (berth-runtime-unsealed): the same attack wrote its marker into the copy."""
    v = verdict(out)
    if crt.sealed:
        assert (v["grabbed"], v["wrote"], v["errno"]) == (True, False, errno.EROFS), v
        assert crt.intact(), "host runtime binary overwritten from inside: %s" % v
    else:
        assert (v["grabbed"], v["wrote"], v["errno"]) == (True, True, 0), \
            "the control attack failed, so the defended run proves nothing: %s" % v
        with open(crt.bin, "rb") as f:
            assert f.read(len(MARKER)) == MARKER


def attack_result(crt, b, timeout=8):
    """Wait for berth-attack's verdict in the rootfs."""
    return wait_file(os.path.join(b, "rootfs", "tmp", "res"), timeout)


@needs_attack
def test_shebang_proc_self_exe_as_init_cannot_write_the_runtime(attacked_rt, workdir,
                                                                rootfs_template, unique_id):
    """The host's pid namespace (docker run --pid=host): in a pid namespace of its
    own, the attacker dies with the init it must let exit before writing."""
    crt = attacked_rt

    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
    b = bundle(workdir, rootfs_template, ["/evil"], edit)
    arm_rootfs(b)
    crt.ok("create", "-b", b, unique_id)
    crt.ok("exec", "-d", unique_id, "sh", "-c", GRAB)
    time.sleep(0.2)
    crt("start", unique_id)
    assert_attack(crt, attack_result(crt, b))


@needs_attack
def test_shebang_proc_self_exe_in_exec_cannot_write_the_runtime(attacked_rt, workdir,
                                                                rootfs_template, unique_id):
    crt = attacked_rt
    b = bundle(workdir, rootfs_template, ["sleep", "30"])
    arm_rootfs(b)
    crt.ok("run", "-d", "-b", b, unique_id)
    crt.ok("exec", "-d", unique_id, "sh", "-c", GRAB)
    time.sleep(0.2)
    crt("exec", "-d", unique_id, "/evil")
    assert_attack(crt, attack_result(crt, b))


@needs_attack
@pytest.mark.parametrize("ro_mount", [True, False], ids=["defended", "control-writable"])
def test_runtime_on_a_read_only_mount_cannot_be_written(workdir, rootfs_template, unique_id,
                                                        ro_mount):
    """The fix proposed for findings 1, 2 and 5, at no cost per start: the runtime
    binary bind-mounted read-only onto itself.  Tested on its own, with the unsealed
    runtime: the attack above grabs the binary but its write fails with EROFS; without
    the mount (the control) the same attack writes."""
    crt = CopiedRuntime(sealed=False)
    mounted = False
    try:
        if ro_mount:
            subprocess.run(["mount", "--bind", crt.bin, crt.bin], check=True)
            mounted = True
            subprocess.run(["mount", "-o", "remount,bind,ro", crt.bin], check=True)
        b = bundle(workdir, rootfs_template, ["sleep", "30"])
        arm_rootfs(b)
        crt.ok("run", "-d", "-b", b, unique_id)
        crt.ok("exec", "-d", unique_id, "sh", "-c", GRAB)
        time.sleep(0.2)
        crt("exec", "-d", unique_id, "/evil")
        v = verdict(attack_result(crt, b))
    finally:
        crt.cleanup_containers()
        if mounted:
            subprocess.run(["umount", "-l", crt.bin], capture_output=True)
        intact = crt.intact()
        crt.cleanup()
    if ro_mount:
        assert (v["grabbed"], v["wrote"], v["errno"]) == (True, False, errno.EROFS), v
        assert intact
    else:
        assert (v["grabbed"], v["wrote"]) == (True, True), v
        assert not intact


@needs_attack
def test_exec_program_swap_race(attacked_rt, workdir, rootfs_template, unique_id):
    swap = ("cp /bin/true /tmp/real; "
            "/bin/berth-attack grab rt 12 /tmp/ff > /tmp/res 2>&1 & "
            "while :; do ln -s /proc/self/exe /tmp/l; mv -f /tmp/l /tmp/x; "
            "ln /tmp/real /tmp/r; mv -f /tmp/r /tmp/x; done")
    crt = attacked_rt
    b = bundle(workdir, rootfs_template, ["sh", "-c", swap])
    arm_rootfs(b)
    crt.ok("run", "-d", "-b", b, unique_id)
    end = time.time() + 10  # the race is usually won within a second or two
    while time.time() < end and crt.intact():
        try:
            crt("exec", "-d", unique_id, "/tmp/x", "--log=/tmp/ff")
        except OSError:  # the copy was overwritten while we ran it
            break
        if os.path.exists(os.path.join(b, "rootfs", "tmp", "res")) and \
                os.path.getsize(os.path.join(b, "rootfs", "tmp", "res")):
            break
    assert_attack(crt, attack_result(crt, b, 4))


def exec_race(crt, cid, rootfs, mode, extra_exec=(), prog="/no-such-program"):
    """Start berth-attack MODE inside, then exec PROG into the container repeatedly.
    By default PROG does not exist: the runtime's child joins the container, looks for
    it there and fails, so every process the attacker meets is the runtime itself,
    never a program it just became (procfiles cannot tell those apart).  grab can (it
    checks what it holds), and runs with "true" to cover the last stretch before
    execve, after capabilities are dropped, where being non-dumpable is the only
    thing keeping the attacker out."""
    res = "/tmp/res-" + mode
    crt.ok("exec", "-d", *extra_exec, cid, "sh", "-c",
           "/bin/berth-attack %s rt 4 > %s 2>&1" % (mode, res))
    time.sleep(0.2)
    end = time.time() + 3.5
    while time.time() < end and crt.intact():
        try:
            crt("exec", cid, prog)
        except OSError:  # the control's copy was overwritten under us
            break
    v = verdict(wait_file(os.path.join(rootfs, res.lstrip("/"))))
    return v


@needs_attack
@pytest.mark.parametrize("ptrace,sealed", [(False, True), (True, True), (True, False)],
                         ids=["defended", "ptrace-defended", "ptrace-control-unsealed"])
def test_exec_race_cannot_open_the_runtime_exe(workdir, rootfs_template, unique_id, ptrace,
                                               sealed):
    """The exec'ing runtime process is non-dumpable while in the container's
    namespaces: /proc/<pid>/exe of it cannot be opened, even with O_PATH (EACCES).
    A container given CAP_SYS_PTRACE gets past that (the control of the first
    case), but the binary it reaches is read-only (EROFS) -- unless the runtime is
    the unsealed one (the control of the second), where the write lands."""
    crt = CopiedRuntime(sealed=sealed)
    try:
        b = bundle(workdir, rootfs_template, ["sleep", "60"],
                   (lambda c: add_caps(c, "CAP_SYS_PTRACE")) if ptrace else None)
        arm_rootfs(b)
        crt.ok("run", "-d", "-b", b, unique_id)
        extra = ("--cap", "CAP_SYS_PTRACE") if ptrace else ()
        res = exec_race(crt, unique_id, os.path.join(b, "rootfs"), "grab", extra, "true")
        crt.cleanup_containers()
        if not ptrace:
            # it met the exec'ing runtime and was refused, not merely too slow to see it
            assert (res["grabbed"], res["errno"]) == (False, errno.EACCES) and res["tries"] > 0, \
                res
            assert crt.intact()
        else:
            assert_attack(crt, json.dumps(res))
    finally:
        crt.cleanup()  # (containers first, then the copy and its state dir)


@needs_attack
@pytest.mark.parametrize("ptrace", [False, True], ids=["defended", "control-ptrace"])
def test_exec_race_cannot_open_mem_or_map_files(crt, workdir, rootfs_template, unique_id,
                                                ptrace):
    """/proc/<pid>/mem and map_files of the exec'ing (non-dumpable) runtime are refused;
    the control, a container with CAP_SYS_PTRACE, opens its mem read-write."""
    b = bundle(workdir, rootfs_template, ["sleep", "60"],
               (lambda c: add_caps(c, "CAP_SYS_PTRACE")) if ptrace else None)
    arm_rootfs(b)
    crt.ok("run", "-d", "-b", b, unique_id)
    extra = ("--cap", "CAP_SYS_PTRACE") if ptrace else ()
    res = exec_race(crt, unique_id, os.path.join(b, "rootfs"), "procfiles", extra)
    if ptrace:
        assert (res["grabbed"], res["wrote"]) == (True, True), res
    else:
        assert res["grabbed"] is False and res["tries"] > 0, res
        assert res["errno"] in (errno.EACCES, errno.EPERM), res
    assert crt.intact()


@needs_attack
def test_created_init_exe_with_cap_sys_ptrace(attacked_rt, workdir, rootfs_template, unique_id):
    crt = attacked_rt
    b = bundle(workdir, rootfs_template, ["sleep", "30"],
               lambda c: add_caps(c, "CAP_SYS_PTRACE"))
    arm_rootfs(b)
    crt.ok("create", "-b", b, unique_id)
    crt.ok("exec", "-d", "--cap", "CAP_SYS_PTRACE", unique_id, "sh", "-c",
           "/bin/berth-attack grab rt 6 > /tmp/res 2>&1")
    time.sleep(0.5)
    crt.ok("start", unique_id)
    assert_attack(crt, wait_file(os.path.join(b, "rootfs", "tmp", "res")))


# ---------------------------------------------------------------- 2. fd leaks

def run_with_fds(crt, *args, env=None, listen_pid=None):
    """Run the runtime with fds 3..10 open (inheritable) on the host's / and a
    host file, from bash so they have exactly those numbers; listen_pid="self"
    sets LISTEN_PID to the runtime's own pid."""
    script = "exec 3</ 4</ 5</etc/hostname 6</ 7</ 8</ 9</ 10</; "
    if listen_pid == "self":
        script += "export LISTEN_PID=$$; "
    script += 'exec "$@"'
    cmd = ["bash", "-c", script, "bash", crt.bin, "--root", crt.root] + [str(a) for a in args]
    # files, not pipes: a created container keeps its stdio open
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=30,
                           env=env)
        out.seek(0)
        err.seek(0)
        p.stdout = out.read().decode(errors="replace")
        p.stderr = err.read().decode(errors="replace")
    return p


def test_no_fd_leaks_run_create_start_exec(crt, workdir, rootfs_template, unique_id):
    b = bundle(workdir, rootfs_template, ["/bin/testhelper"])
    p = run_with_fds(crt, "run", "-b", b, unique_id)
    assert p.returncode == 0, p.stderr
    assert sorted(helper_json(p.stdout)["fds"]) == ["0", "1", "2"]

    b2 = bundle(workdir, rootfs_template, ["sh", "-c", "ls /proc/self/fd > /tmp/fds"],
                name="b2")
    p = run_with_fds(crt, "create", "-b", b2, unique_id + "c")
    assert p.returncode == 0, p.stderr
    run_with_fds(crt, "start", unique_id + "c")
    out = wait_file(os.path.join(b2, "rootfs", "tmp", "fds"))
    assert sorted(out.split()) == ["0", "1", "2", "3"]  # 3: ls's own directory fd

    b3 = bundle(workdir, rootfs_template, ["sleep", "30"], name="b3")
    crt.ok("run", "-d", "-b", b3, unique_id + "e")
    p = run_with_fds(crt, "exec", unique_id + "e", "/bin/testhelper")
    assert p.returncode == 0, p.stderr
    assert sorted(helper_json(p.stdout)["fds"]) == ["0", "1", "2"]


def test_listen_fds_with_our_pid_are_passed(crt, workdir, rootfs_template, unique_id):
    """The positive control of the next test: LISTEN_PID = the runtime's pid."""
    b = bundle(workdir, rootfs_template, ["/bin/testhelper"])
    env = dict(os.environ, LISTEN_FDS="2")
    p = run_with_fds(crt, "run", "-b", b, unique_id, env=env, listen_pid="self")
    assert p.returncode == 0, p.stderr
    assert sorted(helper_json(p.stdout)["fds"]) == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("pid", ["1", None])
def test_listen_fds_for_another_pid_passes_nothing(crt, workdir, rootfs_template, unique_id,
                                                   pid):
    """LISTEN_FDS only counts when LISTEN_PID is ours (sd_listen_fds, runc): an
    environment inherited from a socket-activated parent must not hand the
    parent's fds (here: the host's /) to the container."""
    b = bundle(workdir, rootfs_template, ["/bin/testhelper"])
    env = dict(os.environ, LISTEN_FDS="3")
    env.pop("LISTEN_PID", None)
    if pid:
        env["LISTEN_PID"] = pid
    p = run_with_fds(crt, "run", "-b", b, unique_id, env=env)
    assert p.returncode == 0, p.stderr
    assert sorted(helper_json(p.stdout)["fds"]) == ["0", "1", "2"]


@pytest.mark.parametrize("cwd", ["/proc/self/fd/%d" % n for n in (3, 4, 5, 6, 7, 8, 9, 10)] +
                         ["/proc/thread-self/fd/3", "/proc/1/cwd", "/proc/self/root/..",
                          "/../../../proc/self/fd/5", "/proc/self/cwd/../../.."])
def test_cwd_escape_refused_or_contained(crt, workdir, rootfs_template, unique_id, cwd):
    b = bundle(workdir, rootfs_template, ["sh", "-c", "ls -a; pwd"],
               lambda c: c["process"].__setitem__("cwd", cwd))
    marker = os.path.join(workdir, "HOST-ONLY-" + unique_id)
    open(marker, "w").close()
    p = run_with_fds(crt, "run", "-b", b, unique_id)
    assert os.path.basename(marker) not in p.stdout
    if p.returncode == 0:  # contained: a directory of the container, never the host's /
        names = p.stdout.split()
        assert "work" not in names and "boot" not in names and "bundle" not in names, names
    else:
        assert "cwd" in p.stderr, p.stderr


@pytest.mark.parametrize("rel", [False, True])
def test_cwd_through_a_rootfs_symlink_stays_inside(crt, workdir, rootfs_template, unique_id, rel):
    marker = "HOST-ONLY-" + unique_id
    open(os.path.join(workdir, marker), "w").close()
    b = bundle(workdir, rootfs_template, ["ls", "-a"],
               lambda c: c["process"].__setitem__("cwd", "/cwdlink/sub"))
    os.symlink(("../../../../../../.." + workdir) if rel else workdir,
               os.path.join(b, "rootfs", "cwdlink"))
    p = crt("run", "-b", b, unique_id)
    # ls ran, in a directory made inside the root (the link resolved there), not the host's
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [".", ".."], p.stdout
    assert os.path.isdir(os.path.join(b, "rootfs", workdir.lstrip("/"), "sub"))
    assert not os.path.exists(os.path.join(workdir, "sub"))


def test_exec_cwd_through_fds_refused(crt, workdir, rootfs_template, unique_id):
    b = bundle(workdir, rootfs_template, ["sleep", "30"])
    crt.ok("run", "-d", "-b", b, unique_id)
    marker = "HOST-ONLY-" + unique_id
    open(os.path.join(workdir, marker), "w").close()
    for n in range(3, 11):
        p = run_with_fds(crt, "exec", "--cwd", "/proc/self/fd/%d" % n, unique_id, "ls", "-a")
        assert p.returncode != 0, p.stdout
        assert marker not in p.stdout and "cwd" in p.stderr


# ---------------------------------------------------------------- 3. mount target swaps

def host_mount_points():
    with open("/proc/self/mountinfo") as f:
        return [l.split()[4] for l in f]


# The container's own mount points of type tmpfs (a mount that went outside the
# rootfs before pivot_root is invisible from the host's mount namespace and
# from the container: it shows as a missing mount here).
TMPFS_POINTS = "awk '$9 == \"tmpfs\" {print \"MP\", $5}' /proc/self/mountinfo"


def tmpfs_points(stdout):
    return {l.split()[1] for l in stdout.splitlines() if l.startswith("MP ")}


def test_mount_target_symlink_to_host_dir(crt, workdir, rootfs_template, unique_id):
    host = os.path.join(workdir, "host-dir")
    os.makedirs(host)

    def edit(c):
        c["mounts"].append({"destination": "/etc/target/sub", "type": "tmpfs",
                            "source": "tmpfs"})
        c["mounts"].append({"destination": "/etc/reltarget/sub", "type": "tmpfs",
                            "source": "tmpfs"})
    b = bundle(workdir, rootfs_template, ["sh", "-c", TMPFS_POINTS], edit)
    os.symlink(host, os.path.join(b, "rootfs", "etc", "target"))
    os.symlink("../../../../../../.." + host, os.path.join(b, "rootfs", "etc", "reltarget"))
    p = crt.ok("run", "-b", b, unique_id)
    # both resolved inside the container's root: at the host path as seen from inside
    assert host + "/sub" in tmpfs_points(p.stdout), p.stdout
    assert os.listdir(host) == []
    assert os.path.isdir(os.path.join(b, "rootfs", host.lstrip("/"), "sub"))


def test_mount_target_swap_race(crt, workdir, rootfs_template, unique_id):
    """A host-side loop flips /etc/target between a directory and a symlink to a
    host dir while containers are created: every tmpfs lands inside the root."""
    host = os.path.join(workdir, "host-dir")
    os.makedirs(host)
    b = bundle(workdir, rootfs_template, ["sh", "-c", TMPFS_POINTS], lambda c: c["mounts"].append(
        {"destination": "/etc/target/sub", "type": "tmpfs", "source": "tmpfs"}))
    target = os.path.join(b, "rootfs", "etc", "target")
    alt = target + ".alt"
    os.makedirs(os.path.join(target, "sub"))
    os.symlink(host, alt)
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    stop = threading.Event()

    def swapper():  # target flips between a directory and a symlink to the host
        while not stop.is_set():
            libc.renameat2(AT_FDCWD, target.encode(), AT_FDCWD, alt.encode(), RENAME_EXCHANGE)

    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    seen = set()
    try:
        end = time.time() + 5
        n = 0
        while time.time() < end and n < 25:
            p = crt("run", "-b", b, "%s-%d" % (unique_id, n), timeout=20)
            n += 1
            if p.returncode == 0:
                # (mounted by fd: the directory may have been renamed since)
                pts = tmpfs_points(p.stdout) & {"/etc/target/sub", "/etc/target.alt/sub",
                                                host + "/sub"}
                assert len(pts) == 1, (n, p.stdout)
                seen |= pts
            assert os.listdir(host) == [], n
    finally:
        stop.set()
        t.join(5)
    assert seen, "no container ran"


# ---------------------------------------------------------------- 4. masked paths

def no_dev_mounts(c):
    c["mounts"] = [m for m in c["mounts"] if not m["destination"].startswith("/dev")]


# (/proc/kcore does not exist on every kernel: /proc/keys and /proc/timer_list do)
MASK_PROBE = ("wc -c < /proc/keys; wc -c < /proc/timer_list; wc -c < /proc/cmdline; "
              "stat -L -c %t:%T /proc/keys; "
              "(echo h > /proc/sysrq-trigger) 2>/dev/null && echo SYSRQ-WRITTEN; "
              "echo WRITTEN-THROUGH-MASK > /proc/keys; echo done")


@pytest.mark.parametrize("kind", ["symlink", "regular", "bind"])
def test_masks_with_a_fake_dev_null(crt, workdir, rootfs_template, unique_id, kind):
    host_file = os.path.join(workdir, "host-secret")
    with open(host_file, "w") as f:
        f.write("SECRET-" + unique_id + "\n")

    def edit(c):
        no_dev_mounts(c)
        c["linux"]["maskedPaths"].append("/proc/cmdline")
        if kind == "bind":
            c["mounts"].append({"destination": "/dev/null", "type": "bind", "source": host_file,
                                "options": ["bind", "rw"]})
    b = bundle(workdir, rootfs_template, ["sh", "-c", MASK_PROBE], edit)
    null = os.path.join(b, "rootfs", "dev", "null")
    if kind == "symlink":
        os.symlink(host_file, null)
    elif kind == "regular":
        with open(null, "w") as f:
            f.write("NOT-NULL\n")
    else:
        open(null, "w").close()
    p = crt("run", "-b", b, unique_id)
    if p.returncode != 0:  # refusing is fine; it must say why
        assert "null" in p.stderr, p.stderr
        return
    out = p.stdout.split()
    # masked files are the real /dev/null (char 1:3): empty, and writes go nowhere
    assert out == ["0", "0", "0", "1:3", "done"], p.stdout + p.stderr
    assert "SECRET-" + unique_id not in p.stdout and "NOT-NULL" not in p.stdout
    assert open(host_file).read() == "SECRET-" + unique_id + "\n"


def test_default_devices_through_symlinks_stay_inside(crt, workdir, rootfs_template, unique_id):
    """No /dev mount: the runtime makes the default devices in the rootfs's own
    /dev, whose entries are symlinks to host files: those must stay intact."""
    hosts = {}
    b = bundle(workdir, rootfs_template, ["sh", "-c", "echo x > /dev/full; echo y > /dev/zero; "
                                          "stat -c %t:%T /dev/null /dev/zero /dev/full"],
               no_dev_mounts)
    for dev in ("null", "zero", "full", "random", "urandom", "tty"):
        hosts[dev] = os.path.join(workdir, "host-" + dev)
        with open(hosts[dev], "w") as f:
            f.write("HOST-" + dev)
        os.symlink(hosts[dev], os.path.join(b, "rootfs", "dev", dev))
    p = crt("run", "-b", b, unique_id)
    # it ran (a failure for any reason would leave the host files intact too)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1:3", "1:5", "1:7"], p.stdout + p.stderr
    for dev, h in hosts.items():
        assert os.path.isfile(h) and not os.path.islink(h)
        assert open(h).read() == "HOST-" + dev
    assert not any(m.startswith(workdir) for m in host_mount_points())


# ---------------------------------------------------------------- 5. symlinked /proc /dev /sys

@pytest.mark.parametrize("name,rel", [("proc", False), ("proc", True), ("dev", False),
                                      ("dev", True), ("sys", False), ("sys", True)])
def test_rootfs_special_dir_symlink_to_host(crt, workdir, rootfs_template, unique_id, name, rel):
    host = os.path.join(workdir, "host-" + name)
    os.makedirs(host)
    b = bundle(workdir, rootfs_template, ["true"])
    t = os.path.join(b, "rootfs", name)
    shutil.rmtree(t)
    os.symlink(("../../../../../../.." + host) if rel else host, t)
    p = crt("run", "-b", b, unique_id)
    if name in ("proc", "dev"):  # refused, saying why
        assert p.returncode != 0 and "rootfs: /%s is a symlink: refused" % name in p.stderr, \
            p.stderr
    else:  # /sys: ran, its sysfs mounted inside
        assert p.returncode == 0, p.stderr
    assert not any(m.startswith(host) for m in host_mount_points())
    assert os.listdir(host) == []
    assert leftovers(crt, unique_id, b) == []


# ---------------------------------------------------------------- 6. capabilities

CAP_NUMS = {"CAP_AUDIT_WRITE": 29, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10}


def test_default_caps(crt, workdir, rootfs_template, unique_id):
    b = bundle(workdir, rootfs_template, ["/bin/testhelper"])
    with open(os.path.join(b, "config.json")) as f:
        cfg = json.load(f)
    want = 0
    for c in cfg["process"]["capabilities"]["bounding"]:
        want |= 1 << CAP_NUMS[c]
    p = crt.ok("run", "-b", b, unique_id)
    h = helper_json(p.stdout)
    assert int(h["CapInh"], 16) == 0 and int(h["CapAmb"], 16) == 0
    assert int(h["CapBnd"], 16) == want and int(h["CapEff"], 16) == want


def test_non_root_user_has_no_effective_caps(crt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        add_caps(c, "CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE")
    b = bundle(workdir, rootfs_template, ["/bin/testhelper"], edit)
    h = helper_json(crt.ok("run", "-b", b, unique_id).stdout)
    assert h["uid"] == 1000
    assert int(h["CapEff"], 16) == 0 and int(h["CapPrm"], 16) == 0 and int(h["CapAmb"], 16) == 0


@pytest.mark.parametrize("nnp", [True, False])
def test_setuid_binary_and_no_new_privs(crt, workdir, rootfs_template, unique_id, nnp):
    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["noNewPrivileges"] = nnp
    b = bundle(workdir, rootfs_template, ["/bin/suid-helper"], edit)
    s = os.path.join(b, "rootfs", "bin", "suid-helper")
    shutil.copy2(os.path.join(b, "rootfs", "bin", "testhelper"), s)
    os.chown(s, 0, 0)
    os.chmod(s, 0o4755)
    h = helper_json(crt.ok("run", "-b", b, unique_id).stdout)
    # the weakened config (nnp off) shows the probe works: the setuid bit gives euid 0
    assert h["euid"] == (1000 if nnp else 0)


# ---------------------------------------------------------------- 7. /proc and /sys

def weaken_proc_sys(c):
    c["linux"]["readonlyPaths"] = []
    for m in c["mounts"]:
        if m["destination"] == "/sys":
            m["options"] = [o for o in m["options"] if o != "ro"]


@pytest.mark.parametrize("weakened", [False, True])
def test_proc_and_sys_protections(crt, workdir, rootfs_template, unique_id, weakened):
    """weakened: /proc/sys and /sys made writable, to show the probe sees writes."""
    # every write puts back the value already there: harmless if a defence breaks
    # (this kernel has no sysrq: the sysrq-trigger probe only counts where it exists)
    probe = ("v=$(cat /proc/sys/kernel/max_lock_depth) || echo NO-PROCSYS; "
             "(echo $v > /proc/sys/kernel/max_lock_depth) 2>/dev/null && echo W-PROCSYS; "
             "[ -e /proc/sysrq-trigger ] && (echo h > /proc/sysrq-trigger) 2>/dev/null && "
             "echo W-SYSRQ; "
             "u=$(cat /sys/kernel/rcu_expedited) || echo NO-SYS; "
             "(echo $u > /sys/kernel/rcu_expedited) 2>/dev/null && echo W-SYS; "
             "mkdir /sys/fs/cgroup/pids/berth-x-%s 2>/dev/null && echo W-CG1; "
             "mkdir /sys/fs/cgroup/x-%s 2>/dev/null && echo W-CG; "
             "echo done" % (unique_id, unique_id))
    b = bundle(workdir, rootfs_template, ["sh", "-c", probe],
               weaken_proc_sys if weakened else None)
    p = crt.ok("run", "-b", b, unique_id)
    if weakened:
        assert "W-PROCSYS" in p.stdout.split() and "W-SYS" in p.stdout.split(), p.stdout
        return
    assert p.stdout.split() == ["done"], p.stdout
    assert not os.path.exists("/sys/fs/cgroup/pids/berth-x-" + unique_id)


# ---------------------------------------------------------------- 8. hostile config values

def test_mount_destination_dotdot_stays_inside(crt, workdir, rootfs_template, unique_id):
    host = os.path.join(workdir, "dotdot-host")
    os.makedirs(host)
    rel = "/../../../../../../.." + host
    b = bundle(workdir, rootfs_template, ["sh", "-c", TMPFS_POINTS], lambda c: c["mounts"].append(
        {"destination": rel, "type": "tmpfs", "source": "tmpfs"}))
    p = crt("run", "-b", b, unique_id)
    if p.returncode == 0:  # contained: the mount is seen inside, at the cleaned path
        assert host in tmpfs_points(p.stdout), p.stdout
    else:
        assert "destination" in p.stderr or "mount" in p.stderr, p.stderr
    assert os.listdir(host) == []


@pytest.mark.parametrize("key", ["kernel/../../../tmp/x", "net/../../../proc/sys/kernel/sysrq",
                                 "../kernel.sysrq", "/proc/sys/kernel/sysrq"])
def test_sysctl_name_traversal_refused(crt, workdir, rootfs_template, unique_id, key):
    b = bundle(workdir, rootfs_template, ["true"],
               lambda c: c["linux"].__setitem__("sysctl", {key: "0"}))
    p = crt("run", "-b", b, unique_id)
    assert p.returncode != 0 and "sysctl" in p.stderr, p.stderr
    assert leftovers(crt, unique_id, b) == []


def test_non_namespaced_sysctl_refused(crt, workdir, rootfs_template, unique_id):
    path = "/proc/sys/kernel/printk_ratelimit_burst"
    before = open(path).read()
    b = bundle(workdir, rootfs_template, ["true"], lambda c: c["linux"].__setitem__(
        "sysctl", {"kernel.printk_ratelimit_burst": str(int(before) + 7)}))
    try:
        p = crt("run", "-b", b, unique_id)
        assert open(path).read() == before, "host sysctl changed by a container"
        assert p.returncode != 0 and "sysctl" in p.stderr
    finally:
        with open(path, "w") as f:
            f.write(before)


def test_namespaced_sysctl_is_set_inside_only(crt, workdir, rootfs_template, unique_id):
    """The positive control: a net.* sysctl with a new network namespace is set
    in the container's namespace, and the host's value stays."""
    path = "/proc/sys/net/ipv4/ip_default_ttl"
    before = open(path).read()
    want = "33" if before.strip() != "33" else "34"
    b = bundle(workdir, rootfs_template, ["cat", path], lambda c: c["linux"].__setitem__(
        "sysctl", {"net.ipv4.ip_default_ttl": want}))
    p = crt.ok("run", "-b", b, unique_id)
    assert p.stdout.strip() == want and open(path).read() == before


@pytest.mark.parametrize("cgpath", ["../../../escape-%s", "/../../escape-%s",
                                    "berth/../../escape-%s"])
def test_cgroups_path_dotdot_refused(crt, workdir, rootfs_template, unique_id, cgpath):
    cg = cgpath % unique_id
    b = bundle(workdir, rootfs_template, ["true"],
               lambda c: c["linux"].__setitem__("cgroupsPath", cg))
    p = crt("run", "-b", b, unique_id)
    assert p.returncode != 0 and "cgroupsPath" in p.stderr, p.stderr
    for d in ("/sys/fs", "/sys", "/", "/sys/fs/cgroup", "/sys/fs/cgroup/pids"):
        assert not os.path.exists(os.path.join(d, "escape-" + unique_id))


@pytest.mark.parametrize("cid", ["..", ".", "a/b", "../x", "x" * 1024, "a\nb", "", "-h"])
def test_hostile_ids_refused(crt, workdir, rootfs_template, cid):
    b = bundle(workdir, rootfs_template, ["true"])
    before = set(os.listdir(crt.dir))
    p = crt("run", "-b", b, cid)
    assert p.returncode != 0
    assert set(os.listdir(crt.dir)) == before and os.listdir(crt.root) == []
    assert not os.path.exists(os.path.join(crt.dir, "x"))


def test_hook_path_symlink_runs_on_host_only_as_given(crt, workdir, rootfs_template, unique_id):
    """Hooks run on the host by design; a hook path inside the bundle that is a
    symlink must not be resolved inside the container's root (path is host-side)."""
    out = os.path.join(workdir, "hook-ran")
    script = os.path.join(workdir, "hook.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho ok > %s\n" % out)
    os.chmod(script, 0o755)
    link = os.path.join(workdir, "hook-link")
    os.symlink(script, link)
    b = bundle(workdir, rootfs_template, ["true"], lambda c: c.setdefault("hooks", {})
               .setdefault("poststop", []).append({"path": link}))
    crt.ok("run", "-b", b, unique_id)
    assert open(out).read() == "ok\n"


@pytest.mark.parametrize("sock", ["regular", "missing", "dir"])
def test_console_socket_tricks_refused(crt, workdir, rootfs_template, unique_id, sock):
    path = os.path.join(workdir, "console-" + sock)
    if sock == "regular":
        open(path, "w").close()
    elif sock == "dir":
        os.mkdir(path)
    b = bundle(workdir, rootfs_template, ["true"],
               lambda c: c["process"].__setitem__("terminal", True))
    p = crt("create", "--console-socket", path, "-b", b, unique_id)
    assert p.returncode != 0 and "console" in p.stderr, p.stderr
    assert leftovers(crt, unique_id, b) == []
