"""berthd killed (SIGKILL) in the middle of create, start, stop and rm.

Each round starts an operation through the docker CLI, kills berthd after a
delay that walks through the operation, and starts berthd again.  Then:
no container is half-made (every one listed inspects, and its state is true:
a running one runs, a created one has no process, a dead one can be
removed); the interrupted operation can be repeated and succeeds; and once
every container is removed nothing is left: no overlay mount, no cgroup below
the daemon's own cgroup-parent (unique to this test, so nothing of another
engine is looked at), no shim, no run, runtime or data directory.

BERTH_CRASH_ROUNDS (default 6) sets how many delays each operation gets.
"""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from container_util import DOCKER, mounts_mentioning, shim_helpers_of, start_env, stop_env

ROUNDS = int(os.environ.get("BERTH_CRASH_ROUNDS", "6"))
# the delays walk through each operation; the last ones let it finish
DELAYS = [0.0, 0.01, 0.025, 0.05, 0.09, 0.15, 0.25, 0.4][:max(ROUNDS, 1)]
HIERARCHIES = "/sys/fs/cgroup"


def _cgroup_parent_dirs(parent):
    found = []
    for h in sorted(os.listdir(HIERARCHIES)):
        d = os.path.join(HIERARCHIES, h, parent.lstrip("/"))
        if os.path.isdir(d):
            found.append(d)
    d = os.path.join(HIERARCHIES, parent.lstrip("/"))  # pure v2
    if os.path.isfile(os.path.join(HIERARCHIES, "cgroup.controllers")) and os.path.isdir(d):
        found.append(d)
    return found


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("crash"))
    os.chmod(root, 0o755)
    parent = "/berth-crash-test-%d" % os.getpid()
    e = start_env(root, config={"cgroup-parent": parent})
    e.cgroup_parent = parent
    yield e
    rc = stop_env(e)
    left = _remove_cgroup_parent(parent)
    assert rc == 0, e.d.logtext()[-3000:]
    assert not left, "processes were left in the containers' cgroups: %s" % left


def _remove_cgroup_parent(parent):
    """Whatever a failed test left below the test's own cgroup parent is killed and the
    cgroups removed, so a failure never leaks running containers; returns the pids found."""
    found = set()
    dirs = _cgroup_parent_dirs(parent)
    for _ in range(50):
        pids = set()
        for d in dirs:
            for sub, _, _ in os.walk(d):
                try:
                    pids |= {int(p) for p in open(os.path.join(sub, "cgroup.procs")).read().split()}
                except OSError:
                    pass
        if not pids:
            break
        found |= pids
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    for d in dirs:
        for sub, _, _ in sorted(os.walk(d), key=lambda w: -len(w[0])):
            try:
                os.rmdir(sub)
            except OSError:
                pass
    return sorted(found)


def crash_restart(env):
    env.d.proc.send_signal(signal.SIGKILL)
    env.d.proc.wait()
    env.d.log.close()
    env.d.start()


def interrupted(env, args, delay):
    """Run the docker CLI with args, SIGKILL berthd after delay, start it again."""
    p = subprocess.Popen([DOCKER, *args], env=env.env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    crash_restart(env)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return p.returncode, out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def check_consistent(env):
    """Every listed container inspects and is what its state says; returns id -> state."""
    states = {}
    for cid in env.ok("ps", "-aq", "--no-trunc").split():
        info = env.inspect(cid)
        st = info["State"]
        assert st["Status"] in ("created", "running", "exited", "dead"), st
        run_dir = os.path.join(env.d.run, "containers", cid)
        if st["Status"] == "running":
            assert st["Pid"] > 0, st
            p = env.docker("exec", cid, "echo", "alive") if pid_alive(st["Pid"]) else None
            if p is None or p.returncode != 0:
                # only a container that is ending (a stop's signal reached it) may be
                # gone or refuse, and then it is seen to exit
                said = "" if p is None else p.stdout + p.stderr
                assert p is None or "is not running" in said or \
                    "cannot exec in a stopped container" in said, said
                env.wait_state(cid, "exited", timeout=10)
                st = env.inspect(cid)["State"]
            else:
                assert p.stdout.strip() == "alive"
        if st["Status"] != "running":
            assert st["Pid"] == 0, st
            # nothing of a start that did not finish keeps running
            assert not os.path.exists(run_dir), (cid, os.listdir(run_dir))
            assert not os.path.isdir(os.path.join(env.d.run, "runtime", cid)), cid
            assert not mounts_mentioning(cid), cid
        states[cid] = st["Status"]
    return states


def check_nothing_left(env):
    assert env.ok("ps", "-aq") == ""
    # removed containers' files go in the background (.trash-<id>): a moment is allowed
    deadline = time.time() + 10
    while True:
        leftovers = {d: os.listdir(d) for d in (os.path.join(env.d.run, "containers"),
                                                os.path.join(env.d.run, "runtime"),
                                                os.path.join(env.d.data, "containers"))
                     if os.path.isdir(d) and os.listdir(d)}
        if not leftovers or time.time() > deadline:
            break
        time.sleep(0.05)
    assert not leftovers, leftovers
    assert not mounts_mentioning(os.path.join(env.d.data, "containers"))
    for d in _cgroup_parent_dirs(env.cgroup_parent):
        subs = [s for s in os.listdir(d) if os.path.isdir(os.path.join(d, s))]
        assert not subs, (d, subs)
    shims = subprocess.run(["pgrep", "-f", "berth-shim " + env.d.run],
                           capture_output=True, text=True).stdout.split()
    assert not shims, shims
    # nor a shim helper of this daemon (a create helper waits up to 5 s for its start,
    # and goes as soon as its monitor or init does)
    deadline = time.time() + 10
    while True:
        helpers = shim_helpers_of(env.d.run)
        if not helpers or time.time() > deadline:
            break
        time.sleep(0.1)
    assert not helpers, helpers
    assert "belongs to no container" not in env.d.logtext(), \
        "a crash left state no record owned: " + env.d.logtext()[-2000:]


def remove_all(env):
    ids = env.ok("ps", "-aq").split()
    if ids:
        env.ok("rm", "-f", *ids)


SCRIPT = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]


@pytest.mark.parametrize("delay", DELAYS)
def test_killed_during_run(env, delay):
    name = "crash-run"
    interrupted(env, ["run", "-d", "--name", name, "busybox", *SCRIPT], delay)
    states = check_consistent(env)
    # again: the name is free or the container is whole; either way it runs
    if states:
        env.ok("start", name)
    else:
        env.ok("run", "-d", "--name", name, "busybox", *SCRIPT)
    assert env.inspect(name)["State"]["Status"] == "running"
    remove_all(env)
    check_nothing_left(env)


@pytest.mark.parametrize("delay", DELAYS)
def test_killed_during_start(env, delay):
    cid = env.ok("create", "busybox", *SCRIPT).strip()
    interrupted(env, ["start", cid], delay)
    states = check_consistent(env)
    assert list(states) == [cid]
    env.ok("start", cid)
    assert env.inspect(cid)["State"]["Status"] == "running"
    remove_all(env)
    check_nothing_left(env)


@pytest.mark.parametrize("delay", DELAYS)
def test_killed_during_stop(env, delay):
    # ignores TERM for a while: the stop is still waiting when berthd dies
    cid = env.ok("run", "-d", "busybox", "sh", "-c",
                 "trap 'sleep 0.2; exit 3' TERM; while true; do sleep 0.1; done").strip()
    interrupted(env, ["stop", "-t", "5", cid], delay)
    states = check_consistent(env)
    assert list(states) == [cid]
    env.ok("stop", "-t", "5", cid)
    st = env.inspect(cid)["State"]
    assert st["Status"] == "exited" and st["ExitCode"] in (3, 137), st
    remove_all(env)
    check_nothing_left(env)


@pytest.mark.parametrize("delay", DELAYS)
@pytest.mark.parametrize("running", [True, False], ids=["running", "exited"])
def test_killed_during_rm(env, delay, running):
    if running:
        cid = env.ok("run", "-d", "busybox", *SCRIPT).strip()
    else:
        cid = env.ok("run", "-d", "busybox", "true").strip()
        env.ok("wait", cid)
    interrupted(env, ["rm", "-f", cid], delay)
    states = check_consistent(env)
    assert set(states) <= {cid}
    if states:
        env.ok("rm", "-f", cid)
    check_nothing_left(env)


def restart_armed(env, point):
    env.d.stop()
    env.d.start(env={"BERTH_CRASH_AT": point})


def run_to_crash(env, point, args):
    """The CLI's request reaches the crash point: berthd dies there; started again."""
    p = env.docker(*args)
    assert p.returncode != 0, (args, p.stdout)
    env.d.proc.wait(timeout=30)
    assert "BERTH_CRASH_AT reached" in env.d.logtext(), env.d.logtext()[-2000:]
    env.d.log.close()
    env.d.start()


# (crash point, what the container must be after the restart)
POINTS = [
    ("create-recorded", "created"),   # the record is all a create makes
    ("start-mounted", "created"),     # the overlay is taken down again
    ("start-shim-created", "created"),  # the shim and the created container are ended
    ("start-started", "running"),     # the process ran: adopted, not killed
    ("stop-signalled", "exited"),     # the signal did its work while berthd was away
    ("rm-removing", "dead"),          # half-removed is never shown whole: dead, removable
    ("rm-files-gone", "dead"),
]


@pytest.mark.parametrize("point,after", POINTS, ids=[p for p, _ in POINTS])
def test_crash_at_each_step(env, point, after):
    op = point.split("-")[0]
    script = ["sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.1; done"]
    cid = None
    if op in ("start", "stop", "rm"):
        cid = env.ok("create", "--name", "cp", "busybox", *script).strip()
    if op in ("stop", "rm"):
        env.ok("start", cid)
    restart_armed(env, point)
    if op == "create":
        run_to_crash(env, point, ["create", "--name", "cp", "busybox", *script])
    elif op == "start":
        run_to_crash(env, point, ["start", cid])
    elif op == "stop":
        run_to_crash(env, point, ["stop", cid])
    else:
        run_to_crash(env, point, ["rm", "-f", cid])
    if after == "exited":
        env.wait_state("cp", "exited")
    states = check_consistent(env)
    assert list(states.values()) == [after], (states, env.d.logtext()[-2000:])
    cid = list(states)[0]
    st = env.inspect(cid)["State"]
    if after == "running":
        assert env.ok("exec", cid, "echo", "ok").strip() == "ok"
        # below the daemon's cgroup-parent
        assert [d for d in _cgroup_parent_dirs(env.cgroup_parent)
                if os.path.isdir(os.path.join(d, cid))], _cgroup_parent_dirs(env.cgroup_parent)
        assert env.ok("logs", cid) == ""
    if after == "exited":
        assert st["ExitCode"] == 3, st
    # the interrupted operation again, then the container's whole life once more
    if op in ("create", "start"):
        env.ok("start", cid)
        assert env.inspect(cid)["State"]["Status"] == "running"
        env.ok("stop", cid)
    elif op == "stop":
        env.ok("stop", cid)
    env.ok("rm", "-f", cid)
    check_nothing_left(env)


def _freeze(env, cid, freeze):
    v1 = os.path.join(HIERARCHIES, "freezer", env.cgroup_parent.lstrip("/"), cid,
                      "freezer.state")
    if os.path.exists(v1):
        with open(v1, "w") as f:
            f.write("FROZEN" if freeze else "THAWED")
        return
    with open(os.path.join(HIERARCHIES, env.cgroup_parent.lstrip("/"), cid,
                           "cgroup.freeze"), "w") as f:
        f.write("1" if freeze else "0")


def test_a_freeze_no_pause_record_knows_of_is_undone(env):
    """berthd freezes a container for a moment in a kill of all its processes (v1 without
    cgroup.kill) and in a pause: died in between, the container stays frozen while its record
    says running.  At start the record wins: it is thawed (a frozen cgroup is made by hand
    here, as berthd would have left it)."""
    cid = env.ok("run", "-d", "busybox", *SCRIPT).strip()
    paused = env.ok("run", "-d", "busybox", *SCRIPT).strip()
    env.ok("pause", paused)
    env.d.proc.send_signal(signal.SIGKILL)
    env.d.proc.wait()
    env.d.log.close()
    _freeze(env, cid, True)
    env.d.start()
    assert env.inspect(cid)["State"]["Status"] == "running"
    assert env.ok("exec", cid, "echo", "thawed").strip() == "thawed"
    assert "frozen by an operation berthd did not finish; thawed" in env.d.logtext()
    # a pause on record stays a pause
    assert env.inspect(paused)["State"]["Status"] == "paused"
    env.ok("unpause", paused)
    env.ok("rm", "-f", cid, paused)
    check_nothing_left(env)


def test_state_no_record_owns_is_cleaned_and_data_left_alone(env):
    """A record removed by hand (sqlite3) while its container runs: the next start
    ends the container's monitor and process, its cgroup and mount, and names the data
    directory instead of deleting it."""
    cid = env.ok("run", "-d", "busybox", *SCRIPT).strip()
    pid = env.inspect(cid)["State"]["Pid"]
    env.d.stop()
    db = os.path.join(env.d.data, "berth.db")
    subprocess.run(["sqlite3", db, "DELETE FROM containers WHERE id = '%s'" % cid], check=True)
    env.d.start()
    deadline = time.time() + 10
    while pid_alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
    data_dir = os.path.join(env.d.data, "containers", cid)
    assert os.path.isdir(os.path.join(data_dir, "upper"))
    assert "%s: belongs to no container (no record in berth.db); left alone" % data_dir \
        in env.d.logtext()
    assert not mounts_mentioning(cid)
    assert not os.path.exists(os.path.join(env.d.run, "containers", cid))
    assert not os.path.exists(os.path.join(env.d.run, "runtime", cid))
    for d in _cgroup_parent_dirs(env.cgroup_parent):
        assert not os.path.exists(os.path.join(d, cid))
    subprocess.run(["rm", "-rf", data_dir], check=True)


def test_cgroup_parent_is_held_while_berthd_runs(tmp_path):
    """berthd makes its cgroup-parent in every hierarchy when it starts and keeps it while it
    runs (as dockerd keeps /docker), so a container's start and exit make and remove only
    the container's own directory.  A clean stop removes the parent once nothing is in it
    and leaves it while a container (which outlives berthd) still runs there."""
    root = str(tmp_path)
    os.chmod(root, 0o755)
    parent = "/berth-hold-test-%d" % os.getpid()
    e = start_env(root, config={"cgroup-parent": parent})
    try:
        held = _cgroup_parent_dirs(parent)
        assert held, "no cgroup parent made at start"
        inode = {d: os.stat(d).st_ino for d in held}
        e.ok("run", "--rm", "--network", "none", "busybox", "true")
        e.ok("run", "--rm", "--network", "none", "busybox", "true")
        # the very same directories: none was removed and made again by a container
        assert {d: os.stat(d).st_ino for d in _cgroup_parent_dirs(parent)} == inode
        cid = e.ok("run", "-d", "--network", "none", "busybox", "sleep", "600").strip()
        assert e.d.stop() == 0
        assert _cgroup_parent_dirs(parent) == held, "the parent of a running container went"
        assert all(os.path.isdir(os.path.join(d, cid)) for d in held)
        e.d.start()
        e.ok("rm", "-f", cid)
    finally:
        rc = stop_env(e)
    gone = not _cgroup_parent_dirs(parent)
    left = _remove_cgroup_parent(parent)
    assert rc == 0, e.d.logtext()[-3000:]
    assert not left, left
    assert gone, "berthd's clean stop left its empty cgroup parent"
