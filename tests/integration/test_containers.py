"""Containers through berthd, driven by the real docker CLI (28) and docker-py:
run (non-TTY, TTY on a pty, piped stdin, -d), ps, logs, exec, top, stats,
inspect, stop, kill, restart, rm, wait; the exit codes docker's CLI returns;
--rm leaving nothing; live restore across a SIGKILL of berthd; a killed shim;
restart policies; dockerd's errors for bad requests.  See container_util.py
for the image and the daemon.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from container_util import (busybox_layer, cgroup_dirs, image_archive, load_image,
                            mounts_mentioning, start_env, stop_env)

PTYDRIVE = "/work/shared/reference/tools/ptydrive.py"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ctr"))
    os.chmod(root, 0o755)
    e = start_env(root)
    yield e
    assert stop_env(e) == 0, e.d.logtext()[-3000:]


def test_run_prints_output_and_returns_the_exit_code(env):
    p = env.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert p.returncode == 3, p.stderr
    assert p.stdout == "out\n"
    assert p.stderr == "err\n"


def test_piped_stdin_reaches_the_container_and_closes(env):
    p = env.docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done",
                   input="hello\nworld\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hello\nworld\ndone\n"


def test_run_it_on_a_terminal(env):
    script = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "reference",
                          "tools", "ptydrive.py")
    script = script if os.path.exists(script) else PTYDRIVE
    p = subprocess.run([sys.executable, script,
                        "stty size\\r|RESIZE|stty size\\r|tty\\r|exit 4\\r",
                        "docker", "run", "-it", "--rm", "busybox", "sh"],
                       capture_output=True, text=True, env=env.env(), timeout=60)
    assert p.stdout.rstrip().endswith("exit=4"), p.stdout
    assert "40 120" in p.stdout and "50 150" in p.stdout, p.stdout
    assert "/dev/pts/0" in p.stdout


def test_detached_container_lifecycle(env):
    cid = env.ok("run", "-d", "--name", "life", "busybox", "sh", "-c",
                 "trap 'echo bye; exit 0' TERM; i=0; while true; do echo line $i; "
                 "echo err $i >&2; i=$((i+1)); sleep 0.2; done").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    try:
        ps = env.ok("ps", "--format", "{{.Names}} {{.Status}}")
        assert re.search(r"^life Up ", ps, re.M), ps
        time.sleep(1)
        logs = env.docker("logs", "life")
        assert logs.stdout.startswith("line 0\nline 1\n")
        assert logs.stderr.startswith("err 0\n")
        # the tail counts lines of both streams together, as docker's does
        tail = env.docker("logs", "--tail", "2", "life")
        assert re.fullmatch(r"line \d+\n", tail.stdout), tail
        assert re.fullmatch(r"err \d+\n", tail.stderr), tail
        assert env.ok("exec", "life", "sh", "-c", "echo in-exec; exit 0") == "in-exec\n"
        assert env.docker("exec", "life", "sh", "-c", "exit 7").returncode == 7
        top = env.ok("top", "life")
        assert "PID" in top.splitlines()[0] and "sleep" in top
        stats = env.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "life")
        assert re.fullmatch(r"life \d+\n", stats), stats
        info = env.inspect("life")
        assert info["State"]["Running"] and info["State"]["Pid"] > 0
        assert info["Name"] == "/life" and info["Config"]["Image"] == "busybox"
        t0 = time.time()
        env.ok("stop", "life")
        assert time.time() - t0 < 5  # the trap ends it: no 10 s wait
        info = env.inspect("life")
        assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 0
        assert "bye" in env.ok("logs", "life")
        assert env.ok("wait", "life") == "0\n"
    finally:
        env.docker("rm", "-f", "life")
    assert env.docker("inspect", "life").returncode == 1


def test_rm_leaves_nothing_behind(env):
    cid = env.ok("run", "-d", "busybox", "sleep", "30").strip()
    run_dir = os.path.join(env.d.run, "containers", cid)
    data_dir = os.path.join(env.d.data, "containers", cid)
    assert os.path.isdir(run_dir) and os.path.isdir(data_dir)
    assert mounts_mentioning(cid)
    assert cgroup_dirs(cid)
    env.ok("rm", "-f", cid)
    assert not os.path.exists(run_dir) and not os.path.exists(data_dir)
    assert not mounts_mentioning(cid)
    assert not cgroup_dirs(cid)
    assert not subprocess.run(["pgrep", "-f", "berth-shim " + run_dir]).returncode == 0


def test_auto_remove(env):
    p = env.docker("run", "--rm", "--name", "gone", "busybox", "true")
    assert p.returncode == 0, p.stderr
    assert env.docker("inspect", "gone").returncode == 1


def test_exit_codes_of_docker_cli(env):
    p = env.docker("run", "--rm", "busybox", "nosuchcommand")
    assert p.returncode == 127, (p.returncode, p.stderr)
    assert "executable file not found" in p.stderr
    p = env.docker("run", "--rm", "busybox", "/etc/passwd")
    assert p.returncode == 126, (p.returncode, p.stderr)
    assert "permission denied" in p.stderr
    p = env.docker("run", "--rm", "nosuchimage:v0")
    assert p.returncode == 125, (p.returncode, p.stderr)


def test_bad_requests_get_dockers_answers(env):
    p = env.docker("run", "-m", "1k", "busybox", "true")
    assert p.returncode == 125
    assert "Minimum memory limit allowed is 6MB" in p.stderr
    env.ok("create", "--name", "taken", "busybox", "true")
    try:
        p = env.docker("create", "--name", "taken", "busybox", "true")
        assert p.returncode == 1
        assert 'The container name "/taken" is already in use' in p.stderr
    finally:
        env.ok("rm", "taken")
    status, _, body = env.d.request("POST", "/containers/create", body=b"{not json",
                                    headers={"Content-Type": "application/json"})
    assert status == 400, body
    status, _, body = env.d.request("POST", "/containers/create?name=a/b",
                                    body=json.dumps({"Image": "busybox"}).encode(),
                                    headers={"Content-Type": "application/json"})
    assert status == 400 and b"Invalid container name" in body
    status, _, body = env.d.request("POST", "/containers/create",
                                    body=json.dumps({"Image": "busybox", "Cmd": 5}).encode(),
                                    headers={"Content-Type": "application/json"})
    assert status == 400, body
    status, _, body = env.d.request("POST", "/containers/nosuch/start")
    assert status == 404 and json.loads(body)["message"] == "No such container: nosuch"
    # nothing half-made is left by the failures
    assert env.ok("ps", "-aq") == ""


def test_security_defaults(env):
    out = env.ok("run", "--rm", "busybox", "sh", "-c",
                 "exec 2>&1; grep -E 'CapEff|Seccomp:|NoNewPrivs' /proc/self/status; "
                 "touch /sys/x; wc -c < /proc/timer_list; echo x > /proc/sys/kernel/domainname; true")
    assert "CapEff:\t00000000a80425fb" in out, out
    assert "Seccomp:\t2" in out, out
    assert "Read-only file system" in out, out
    # masked: /dev/null over it (the host's has text); /proc/sys read-only
    assert "\n0\n" in out, out
    assert out.count("Read-only file system") == 2, out
    # stdin, stdout, stderr and ls's own directory fd: nothing of berthd's or the shim's
    fds = env.ok("run", "--rm", "busybox", "ls", "/proc/self/fd").split()
    assert sorted(fds) == ["0", "1", "2", "3"], fds
    priv = env.ok("run", "--rm", "--privileged", "busybox", "sh", "-c",
                  "grep -E 'CapEff|Seccomp:' /proc/self/status")
    own = [l for l in open("/proc/self/status") if l.startswith("CapBnd")][0].split()[1]
    assert "CapEff:\t%s" % own in priv, priv
    assert "Seccomp:\t0" in priv


def test_live_restore_across_a_killed_daemon(env):
    cid = env.ok("run", "-d", "--name", "lr", "busybox", "sh", "-c",
                 "trap 'exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); "
                 "sleep 0.2; done").strip()
    short = env.ok("run", "-d", "--name", "lr-short", "busybox", "sh", "-c",
                   "sleep 1; exit 5").strip()
    try:
        time.sleep(0.5)
        env.d.proc.send_signal(signal.SIGKILL)
        env.d.proc.wait()
        env.d.log.close()
        time.sleep(1.5)  # lr-short ends while berthd is away
        env.d.start()
        assert "still running" in env.d.logtext()
        info = env.inspect("lr")
        assert info["State"]["Status"] == "running", info["State"]
        assert env.ok("exec", "lr", "sh", "-c", "echo restored") == "restored\n"
        before = env.ok("logs", "lr").count("tick")
        time.sleep(0.6)
        assert env.ok("logs", "lr").count("tick") > before  # the shim kept logging
        s = env.inspect("lr-short")["State"]
        assert s["Status"] == "exited" and s["ExitCode"] == 5, s
        env.ok("stop", "lr")
        assert env.inspect("lr")["State"]["ExitCode"] == 0
        # and once more: a second restart finds it stopped
        env.d.stop()
        env.d.start()
        assert env.inspect("lr")["State"]["Status"] == "exited"
    finally:
        env.docker("rm", "-f", cid, short)


def test_kill_returns_once_the_container_has_exited(env):
    """docker kill (SIGKILL) waits for the exit, so kill then rm or inspect find the
    container exited; a paused one is thawed to take it (the v1 freezer holds signals)."""
    for pause in (False, True):
        cid = env.ok("run", "-d", "busybox", "sh", "-c", "sleep 1000 & sleep 1001").strip()
        try:
            if pause:
                env.ok("pause", cid)
            env.ok("kill", cid)
            st = env.inspect(cid)["State"]
            assert (st["Status"], st["ExitCode"]) == ("exited", 137), st
            env.ok("rm", cid)
            assert not cgroup_dirs(cid)
        finally:
            env.docker("rm", "-f", cid)


def test_a_killed_shim_is_an_exit_not_a_hang(env):
    cid = env.ok("run", "-d", "busybox", "sleep", "60").strip()
    try:
        pid = int(open(os.path.join(env.d.run, "containers", cid, "shim.pid")).read().split()[0])
        os.kill(pid, signal.SIGKILL)
        assert env.ok("wait", cid).strip() == "137"
        s = env.inspect(cid)["State"]
        assert s["Status"] == "exited" and s["ExitCode"] == 137
        assert "killed" in s["Error"]
        assert not cgroup_dirs(cid)
    finally:
        env.docker("rm", "-f", cid)


def test_restart_policies(env):
    cid = env.ok("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c",
                 "exit 3").strip()
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            info = env.inspect(cid)
            if info["RestartCount"] == 2 and info["State"]["Status"] == "exited":
                break
            time.sleep(0.1)
        assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 3, info["State"]
        time.sleep(1)
        assert env.inspect(cid)["RestartCount"] == 2  # no third
    finally:
        env.docker("rm", "-f", cid)
    cid = env.ok("run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2").strip()
    try:
        deadline = time.time() + 20
        while env.inspect(cid)["RestartCount"] < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert env.inspect(cid)["RestartCount"] >= 2
        env.ok("stop", cid)
        n = env.inspect(cid)["RestartCount"]
        time.sleep(1)
        assert env.inspect(cid)["RestartCount"] == n  # a stop by hand stays stopped
    finally:
        env.docker("rm", "-f", cid)


def test_docker_py_containers_and_exec(env):
    import docker
    c = docker.DockerClient(base_url=env.host, version="1.41")
    out = c.containers.run("busybox", ["sh", "-c", "echo py"], remove=True)
    assert out == b"py\n"
    ctr = c.containers.run("busybox", ["sleep", "30"], detach=True, name="py-ctr")
    try:
        assert ctr.status in ("created", "running")
        ctr.reload()
        assert ctr.status == "running"
        r = ctr.exec_run(["sh", "-c", "echo e; exit 2"])
        assert r.exit_code == 2 and r.output == b"e\n"
        assert [x.name for x in c.containers.list()] == ["py-ctr"]
        ctr.kill()
        assert ctr.wait()["StatusCode"] == 137
    finally:
        ctr.remove(force=True)
    c.close()


def test_image_in_use_is_not_removed(env, tmp_path):
    # an image of its own (one name only): the busybox one has several
    archive = str(tmp_path / "inuse.tar")
    image_archive(archive, ["inuse:1"], [busybox_layer(env.root)], config={"Labels": {"t": "1"}})
    load_image(env.d, archive)
    cid = env.ok("create", "inuse:1", "true").strip()
    image = env.inspect(cid)["Image"]
    try:
        p = env.docker("rmi", "inuse:1")
        assert p.returncode == 1
        assert ('conflict: unable to remove repository reference "inuse:1" (must force) - '
                'container %s is using its referenced image %s' % (cid[:12], image[7:19])
                in p.stderr), p.stderr
        p = env.docker("rmi", image[7:19])
        assert p.returncode == 1
        assert "image is being used by stopped container %s" % cid[:12] in p.stderr, p.stderr
        env.ok("start", cid)
        # forced: the name goes, the image stays for its container
        assert "Untagged: inuse:1" in env.ok("rmi", "-f", "inuse:1")
        assert env.inspect(cid)["Image"] == image
        assert env.docker("image", "inspect", image).returncode == 0
    finally:
        env.ok("rm", "-f", cid)
        env.docker("rmi", image)


def test_init_reaps_forwards_and_exits_with_the_childs_status(env):
    out = env.ok("run", "--rm", "--init", "busybox", "sh", "-c",
                 "cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                 "(sleep 0.1 &) ; sleep 0.5; ps -o stat,comm | grep -c '^Z' || true")
    lines = out.splitlines()
    assert lines[0].startswith("/sbin/docker-init -- sh -c"), out
    assert lines[-1] == "0", out  # the orphaned sleep was reaped by the init
    cid = env.ok("run", "-d", "--init", "busybox", "sh", "-c",
                 "trap 'exit 42' TERM; while :; do sleep 0.1; done").strip()
    try:
        time.sleep(0.5)
        env.ok("kill", "-s", "TERM", cid)
        assert env.ok("wait", cid).strip() == "42"
    finally:
        env.docker("rm", "-f", cid)
    assert env.docker("run", "--rm", "--init", "busybox", "sh", "-c", "exit 9").returncode == 9


def _tar(entries):
    """entries: (name, kind, data_or_target, mode)."""
    import io
    import tarfile
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.mode = mode
            if kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            elif kind == "link":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
                t.addfile(ti)
            else:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
    return bio.getvalue()


def _hostile_image(env, tmp_path, tag, extra, config=None):
    archive = str(tmp_path / (tag.replace(":", "_") + ".tar"))
    image_archive(archive, [tag], [busybox_layer(env.root), _tar(extra)], config=config)
    load_image(env.d, archive)


def test_a_user_from_an_image_never_reads_the_hosts_passwd(env, tmp_path):
    # the image's /etc/passwd and /etc/group point at the host's, by absolute and relative
    # links; a user that exists only on the host must not be found
    host_user = "_apt"
    assert host_user + ":" in open("/etc/passwd").read()
    _hostile_image(env, tmp_path, "hostile-passwd:1",
                   [("etc", "dir", None, 0o755),
                    ("etc/passwd", "link", "../" * 40 + "etc/passwd", 0o777),
                    ("etc/group", "link", "/etc/group", 0o777)])
    target = "../" * 40 + "etc/passwd"
    # control: resolved as a plain host path (what a naive engine would do), the planted
    # link does reach the host's file, which has the user
    rootfs = os.path.join(env.d.data, "containers", "any", "rootfs")
    assert os.path.realpath(os.path.join(rootfs, "etc", target)) == "/etc/passwd"
    p = env.docker("run", "--rm", "--user", host_user, "hostile-passwd:1", "id")
    assert p.returncode == 125, (p.returncode, p.stderr)
    assert "unable to find user _apt: no matching entries in passwd file" in p.stderr, p.stderr
    assert env.ok("ps", "-aq") == ""
    # control: the same lookup finds a user the image itself has
    _hostile_image(env, tmp_path, "own-passwd:1",
                   [("etc", "dir", None, 0o755),
                    ("etc/passwd", "file", b"root:x:0:0::/root:/bin/sh\n_apt:x:42:7::/:/bin/sh\n",
                     0o644)])
    assert env.ok("run", "--rm", "--user", host_user, "own-passwd:1", "id", "-u") == "42\n"
    env.docker("rmi", "own-passwd:1")
    # the same image, a user of its own name: root resolves from the rootfs's view (a loop
    # inside it, so no file: uid 0), not from the host
    out = env.ok("run", "--rm", "hostile-passwd:1", "id", "-u")
    assert out == "0\n"
    env.docker("rmi", "hostile-passwd:1")
    # a FIFO as /etc/passwd and /etc/group: read by berthd, it would block the start forever
    _hostile_image(env, tmp_path, "fifo-passwd:1",
                   [("etc", "dir", None, 0o755), ("etc/passwd", "fifo", None, 0o644),
                    ("etc/group", "fifo", None, 0o644)])
    p = env.docker("run", "--rm", "--user", "nobody", "fifo-passwd:1", "id", timeout=20)
    assert p.returncode == 125, (p.returncode, p.stderr)
    assert "unable to find user nobody: no matching entries in passwd file" in p.stderr, p.stderr
    out = env.ok("run", "--rm", "--user", "7:8", "fifo-passwd:1", "grep", "^Uid:", "/proc/self/status",
                 timeout=20)
    assert out.split()[1] == "7", out
    env.docker("rmi", "fifo-passwd:1")


def test_hostile_image_configs_are_refused_with_one_line(env, tmp_path):
    _hostile_image(env, tmp_path, "hostile-wd:1", [("x", "dir", None, 0o755)],
                   config={"WorkingDir": "relative/dir"})
    p = env.docker("run", "--rm", "hostile-wd:1", "true")
    assert p.returncode == 125
    assert ("the working directory 'relative/dir' is invalid, it needs to be an absolute path"
            in p.stderr), p.stderr
    _hostile_image(env, tmp_path, "hostile-user:1", [("x", "dir", None, 0o755)],
                   config={"User": "99999999999999999999"})
    p = env.docker("run", "--rm", "hostile-user:1", "true")
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) <= 3, p.stderr
    assert "unable to find user 99999999999999999999" in p.stderr, p.stderr
    big_env = ["V%d=%s" % (i, "x" * 100) for i in range(3000)]
    _hostile_image(env, tmp_path, "hostile-env:1", [("x", "dir", None, 0o755)],
                   config={"Env": big_env + ["PATH=/bin"]})
    out = env.ok("run", "--rm", "hostile-env:1", "sh", "-c", "env | grep -c ^V")
    assert out == "3000\n"
    assert env.ok("ps", "-aq") == ""
    for t in ("hostile-wd:1", "hostile-user:1", "hostile-env:1"):
        env.docker("rmi", t)


def test_events_of_a_run(env):
    since = str(time.time() - 1)
    assert env.docker("run", "--rm", "--name", "evts", "-l", "role=test", "busybox", "sh", "-c",
                      "exit 2").returncode == 2
    until = str(time.time() + 1)
    out = env.ok("events", "--since", since, "--until", until, "--filter", "container=evts",
                 "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} "
                 "{{.Actor.Attributes.role}} {{.Actor.Attributes.exitCode}}")
    actions = [l.split()[1] for l in out.splitlines()]
    assert actions == ["create", "attach", "start", "die", "destroy"], out
    assert all(l.startswith("container ") and " evts test" in l for l in out.splitlines()), out
    assert out.splitlines()[3].endswith(" 2"), out  # die carries the exit code


def test_docker_20_10_cli_runs_containers(env):
    """Debian's docker.io client (20.10) against berthd: the same run paths as 28's."""
    from container_util import DOCKER_20
    assert subprocess.run([DOCKER_20, "--version"], capture_output=True,
                          text=True).stdout.startswith("Docker version 20.10")
    p = env.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3",
                   cli=DOCKER_20)
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")
    p = env.docker("run", "--rm", "-i", "busybox", "cat", input="piped\n", cli=DOCKER_20)
    assert (p.returncode, p.stdout) == (0, "piped\n")
    r = subprocess.run([sys.executable, PTYDRIVE, "stty size\\r|exit 6\\r", DOCKER_20, "run",
                        "-it", "--rm", "busybox", "sh"],
                       capture_output=True, text=True, env=env.env(), timeout=60)
    assert r.stdout.rstrip().endswith("exit=6") and "40 120" in r.stdout, r.stdout
    cid = env.docker("run", "-d", "busybox", "sh", "-c", "echo started; sleep 30",
                     cli=DOCKER_20).stdout.strip()
    try:
        time.sleep(0.5)
        assert env.docker("logs", cid, cli=DOCKER_20).stdout == "started\n"
        assert env.docker("exec", cid, "sh", "-c", "exit 4", cli=DOCKER_20).returncode == 4
        assert env.docker("stop", "-t", "1", cid, cli=DOCKER_20).returncode == 0
        assert env.inspect(cid)["State"]["ExitCode"] == 137
    finally:
        assert env.docker("rm", "-f", cid, cli=DOCKER_20).returncode == 0


def test_exec_leaks_no_fd_of_the_shim(env):
    cid = env.ok("run", "-d", "busybox", "sleep", "30").strip()
    try:
        fds = env.ok("exec", cid, "ls", "/proc/self/fd").split()
        assert sorted(fds) == ["0", "1", "2", "3"], fds
    finally:
        env.docker("rm", "-f", cid)


def test_an_image_of_130_layers_runs(env, tmp_path):
    layers = [busybox_layer(env.root)]
    for i in range(129):
        layers.append(_tar([("l", "dir", None, 0o755), ("l/%03d" % i, "file", b"%d\n" % i, 0o644)]))
    archive = str(tmp_path / "many.tar")
    image_archive(archive, ["many-layers:1"], layers)
    load_image(env.d, archive)
    try:
        out = env.ok("run", "--rm", "many-layers:1", "sh", "-c", "ls /l | wc -l; cat /l/128")
        assert out == "129\n128\n", out
    finally:
        env.docker("rmi", "many-layers:1")


def test_log_rotation_and_drivers(env):
    cid = env.ok("run", "-d", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox",
                 "sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done").strip()
    try:
        assert env.ok("wait", cid).strip() == "0"
        log = env.inspect(cid)["LogPath"]
        files = sorted(f for f in os.listdir(os.path.dirname(log))
                       if f.startswith(os.path.basename(log)))
        assert files == [os.path.basename(log), os.path.basename(log) + ".1",
                         os.path.basename(log) + ".2"], files
        assert all(os.path.getsize(os.path.join(os.path.dirname(log), f)) <= 2048 for f in files)
        lines = env.ok("logs", cid).splitlines()
        # what rotation kept: the newest lines, in order, ending with the last
        assert lines[-1] == "line-399" and len(lines) < 400
        nums = [int(l.split("-")[1]) for l in lines]
        assert nums == list(range(nums[0], 400)), nums[:5]
        for l in open(log):
            entry = json.loads(l)
            assert entry["stream"] == "stdout" and entry["log"].endswith("\n")
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", entry["time"])
    finally:
        env.docker("rm", "-f", cid)
    cid = env.ok("run", "-d", "--log-driver", "none", "busybox", "echo", "x").strip()
    try:
        env.ok("wait", cid)
        p = env.docker("logs", cid)
        assert p.returncode == 1
        assert "configured logging driver does not support reading" in p.stderr, p.stderr
    finally:
        env.docker("rm", "-f", cid)
    cid = env.ok("run", "-d", "--log-driver", "local", "busybox", "echo", "local-log").strip()
    try:
        env.ok("wait", cid)
        assert env.ok("logs", cid) == "local-log\n"
    finally:
        env.docker("rm", "-f", cid)


def test_local_log_driver_rotates_into_gzip_files_that_logs_reads(env):
    # the local driver compresses each rotated file (docker's default compress=true): the
    # monitor has the full berth-shim-helper do it (the lite one has no zlib)
    cid = env.ok("run", "-d", "--log-driver", "local", "--log-opt", "max-size=2k",
                 "--log-opt", "max-file=3", "busybox", "sh", "-c",
                 "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done").strip()
    try:
        env.ok("wait", cid)
        log = env.inspect(cid)["LogPath"]
        gz = log + ".1.gz"
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists(gz):
            time.sleep(0.05)
        assert os.path.exists(gz), os.listdir(os.path.dirname(log))
        import gzip
        with gzip.open(gz, "rt") as f:
            older = [json.loads(l)["log"] for l in f]
        assert older and all(l.startswith("line-") for l in older), older[:3]
        lines = env.ok("logs", cid).split()
        # what the kept files hold, oldest first, in order and ending with the last line
        nums = [int(l.split("-")[1]) for l in lines]
        assert nums == list(range(nums[0], 300)) and nums[0] > 0, nums[:5]
        # two rotated files of ~27 entries (about 75 bytes each) and the current one
        assert len(lines) >= 45, nums
        k = lines.index(older[0].strip())
        assert lines[k:k + len(older)] == [o.strip() for o in older]
    finally:
        env.docker("rm", "-f", cid)


def test_a_wiped_exec_root_marks_containers_exited_and_restarts_policies(env):
    keep = env.ok("run", "-d", "--restart", "always", "busybox", "sleep", "300").strip()
    plain = env.ok("run", "-d", "busybox", "sleep", "300").strip()
    try:
        # a reboot: every process gone, /run empty
        pids = [env.inspect(cid)["State"]["Pid"] for cid in (keep, plain)]
        env.d.proc.send_signal(signal.SIGKILL)
        env.d.proc.wait()
        env.d.log.close()
        for cid, pid in zip((keep, plain), pids):
            shim = int(open(os.path.join(env.d.run, "containers", cid, "shim.pid")).read().split()[0])
            os.kill(shim, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
        for d in (os.path.join(env.d.run, "containers"), os.path.join(env.d.run, "runtime")):
            shutil.rmtree(d, ignore_errors=True)
        env.d.start()
        s = env.inspect(plain)["State"]
        assert s["Status"] == "exited" and s["ExitCode"] == 137, s
        assert not cgroup_dirs(plain)  # found by its path and removed
        deadline = time.time() + 10
        while env.inspect(keep)["State"]["Status"] != "running" and time.time() < deadline:
            time.sleep(0.1)
        assert env.inspect(keep)["State"]["Status"] == "running"
    finally:
        env.docker("rm", "-f", keep, plain)


def test_unless_stopped_restarts_with_dockers_back_off(env):
    """A container that fails at once comes back under unless-stopped after 100 ms, then 200,
    400, 800... (dockerd's back-off): a handful of restarts in 3 s, not hundreds; a stop by
    hand keeps it down."""
    cid = env.ok("run", "-d", "--restart", "unless-stopped", "busybox", "sh", "-c",
                 "exit 3").strip()
    try:
        time.sleep(3)
        n = env.inspect(cid)["RestartCount"]
        # 0.1 + 0.2 + 0.4 + 0.8 + 1.6 = 3.1 s: four or five, give or take a start's time
        assert 3 <= n <= 6, n
        env.ok("stop", cid)
        n = env.inspect(cid)["RestartCount"]
        time.sleep(1)
        assert env.inspect(cid)["RestartCount"] == n
        assert env.inspect(cid)["State"]["Status"] == "exited"
    finally:
        env.docker("rm", "-f", cid)


def test_restart_policies_at_daemon_start_after_a_stop_by_hand(env):
    """dockerd 20.10's rules, seen from it: at its start, a container stopped by hand comes back
    under always and under on-failure (a stop's 137 is a failure), not under unless-stopped
    or no; one that exited 0 under on-failure, or was never started, stays; the restart is
    not counted."""
    cids = {}
    try:
        for pol in ("always", "unless-stopped", "on-failure", "on-failure:3", "no"):
            cids[pol] = env.ok("run", "-d", "--restart", pol, "--stop-signal", "KILL", "busybox",
                               "sleep", "300").strip()
            env.ok("stop", cids[pol])
        cids["created"] = env.ok("create", "--restart", "always", "busybox", "sleep",
                                 "300").strip()
        cids["exit0"] = env.ok("run", "-d", "--restart", "on-failure", "busybox",
                               "true").strip()
        env.ok("wait", cids["exit0"])
        assert env.d.stop() == 0
        env.d.start()
        want = {"always": "running", "on-failure": "running", "on-failure:3": "running",
                "unless-stopped": "exited", "no": "exited", "created": "created",
                "exit0": "exited"}
        deadline = time.time() + 10
        while time.time() < deadline:
            got = {k: env.inspect(c)["State"]["Status"] for k, c in cids.items()}
            if got == want:
                break
            time.sleep(0.1)
        assert got == want
        assert env.inspect(cids["always"])["RestartCount"] == 0
        # and a stop by hand after that holds while the daemon runs
        env.ok("stop", cids["always"])
        time.sleep(0.5)
        assert env.inspect(cids["always"])["State"]["Status"] == "exited"
    finally:
        env.docker("rm", "-f", *cids.values())


def test_followers_and_two_attachers_see_a_running_container_across_a_restart(env):
    """logs -f and two attach clients at once each get the lines a running container writes
    from then on, before and after berthd is killed and started again (live restore)."""
    from container_util import DOCKER
    cid = env.ok("run", "-d", "busybox", "sh", "-c",
                 "trap 'exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); "
                 "sleep 0.1; done").strip()

    def watch():
        procs = [subprocess.Popen([DOCKER, *args, cid], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=env.env())
                 for args in (["logs", "-f", "--since", "0s"], ["attach", "--no-stdin",
                              "--sig-proxy=false"], ["attach", "--no-stdin",
                              "--sig-proxy=false"])]
        time.sleep(1.5)
        seen = []
        for p in procs:
            p.kill()
            out, _ = p.communicate(timeout=10)
            seen.append({int(l.split()[1]) for l in out.splitlines() if l.startswith("tick ")})
        return seen

    try:
        for life in ("first", "restored"):
            seen = watch()
            assert all(len(s) >= 5 for s in seen), (life, seen)
            # the two attachers saw the same lines, and logs -f saw them too
            common = seen[1] & seen[2]
            assert len(common) >= 5 and len(common & seen[0]) >= 5, (life, seen)
            if life == "first":
                env.d.kill()
                env.d.start()
        assert env.inspect(cid)["State"]["Status"] == "running"
    finally:
        env.docker("rm", "-f", cid)


def test_stop_timeout_is_waited_and_the_daemon_socket_is_not_inside(env):
    # pid 1 without a handler ignores SIGTERM: stop waits --stop-timeout, then kills
    cid = env.ok("run", "-d", "--stop-timeout", "2", "busybox", "sleep", "300").strip()
    try:
        t0 = time.monotonic()
        env.ok("stop", cid)
        waited = time.monotonic() - t0
        assert 1.8 <= waited < 10, waited
        assert env.inspect(cid)["State"]["ExitCode"] == 137
    finally:
        env.docker("rm", "-f", cid)
    out = env.ok("run", "--rm", "busybox", "sh", "-c",
                 "for p in %s /run/berth/berth.sock /var/run/docker.sock; do "
                 "test -e $p && echo visible $p; done; echo done" % env.sock)
    assert out == "done\n", out


def _cg_file(cid, controller_files):
    """The first of the given cgroup files of a container that exists (v1 or v2)."""
    for f in controller_files:
        for d in cgroup_dirs(cid):
            p = os.path.join(d, f)
            if os.path.exists(p):
                return open(p).read().strip()
    return None


def test_memory_swappiness_takes_effect_on_cgroup_v1(env):
    if not os.path.exists("/sys/fs/cgroup/memory/memory.swappiness"):
        pytest.skip("needs the cgroup v1 memory controller (swappiness has no v2 file)")
    cid = env.ok("run", "-d", "--memory-swappiness", "30", "busybox", "sleep", "60").strip()
    try:
        assert _cg_file(cid, ["memory.swappiness"]) == "30"
        assert env.inspect(cid)["HostConfig"]["MemorySwappiness"] == 30
    finally:
        env.docker("rm", "-f", cid)


def test_run_flags_take_effect(env):
    out = env.ok("run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m", "busybox", "sh",
                 "-c", "exec 2>&1; touch /x; touch /scratch/ok && echo tmpfs-ok; true")
    assert "Read-only file system" in out and "tmpfs-ok" in out, out
    out = env.ok("run", "--rm", "--cap-drop", "ALL", "--cap-add", "CHOWN", "busybox", "grep",
                 "CapEff", "/proc/self/status")
    assert out.split()[1] == "0000000000000001", out
    out = env.ok("run", "--rm", "--ulimit", "nofile=123:456", "busybox", "sh", "-c",
                 "ulimit -n; ulimit -Hn")
    assert out.split() == ["123", "456"], out
    out = env.ok("run", "--rm", "--shm-size", "3m", "busybox", "df", "-k", "/dev/shm")
    assert " 3072 " in out, out
    out = env.ok("run", "--rm", "--sysctl", "kernel.shmmax=123456789", "busybox", "cat",
                 "/proc/sys/kernel/shmmax")
    assert out == "123456789\n", out
    out = env.ok("run", "--rm", "-u", "nobody", "-w", "/tmp", "-e", "A=1", "--entrypoint", "sh",
                 "-h", "myhost", "busybox", "-c", "id -u; pwd; echo $A; hostname")
    assert out.split() == ["65534", "/tmp", "1", "myhost"], out
    out = env.ok("run", "--rm", "--device", "/dev/null:/dev/xnull", "busybox", "sh", "-c",
                 "echo hi > /dev/xnull && echo ok")
    assert out == "ok\n", out
    cid = env.ok("run", "-d", "-m", "64m", "--cpus", "0.5", "--cpu-shares", "512",
                 "--pids-limit", "20", "busybox", "sleep", "30").strip()
    try:
        assert _cg_file(cid, ["memory.limit_in_bytes", "memory.max"]) == str(64 << 20)
        assert _cg_file(cid, ["pids.max"]) == "20"
        quota = _cg_file(cid, ["cpu.cfs_quota_us", "cpu.max"])
        assert quota in ("50000", "50000 100000"), quota
        assert _cg_file(cid, ["cpu.shares"]) in ("512", None)
        hc = env.inspect(cid)["HostConfig"]
        assert hc["Memory"] == 64 << 20 and hc["NanoCpus"] == 500000000 and hc["PidsLimit"] == 20
    finally:
        env.docker("rm", "-f", cid)
    # the stop signal and timeout the user asked for
    cid = env.ok("run", "-d", "--stop-signal", "USR1", "--stop-timeout", "1", "busybox", "sh",
                 "-c", "trap 'exit 11' USR1; while :; do sleep 0.1; done").strip()
    try:
        time.sleep(0.3)
        env.ok("stop", cid)
        assert env.inspect(cid)["State"]["ExitCode"] == 11
    finally:
        env.docker("rm", "-f", cid)


def _a_disk():
    """(/dev path, "major:minor") of a whole disk this host lets us read a byte of, or None."""
    for name in sorted(os.listdir("/sys/block"), key=lambda n: n.startswith(("loop", "zram"))):
        try:
            with open("/sys/block/%s/dev" % name) as f:
                numbers = f.read().strip()
            fd = os.open("/dev/" + name, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if len(os.read(fd, 1)) != 1:
                    continue
            finally:
                os.close(fd)
        except OSError:
            continue
        return "/dev/" + name, numbers
    return None


def test_blkio_throttles_and_device_cgroup_rules_take_effect(env):
    """--device-read-bps and friends, and --device-cgroup-rule, reach the cgroup as
    dockerd puts them there (they were once accepted and dropped)."""
    disk = _a_disk()
    loop = None
    if not disk:
        # no readable disk here: a loop device over a small file of our own
        backing = os.path.join(env.root, "blkio-disk.img")
        with open(backing, "wb") as f:
            f.truncate(1 << 20)
        loop = subprocess.run(["losetup", "--find", "--show", backing], capture_output=True,
                              text=True, check=True).stdout.strip()
        disk = _a_disk()
        assert disk, "the loop device %s made for this test cannot be read" % loop
    try:
        _blkio_checks(env, *disk)
    finally:
        if loop:
            subprocess.run(["losetup", "-d", loop], check=True)


def _blkio_checks(env, path, numbers):
    major, minor = numbers.split(":")
    cid = env.ok("run", "-d", "--device-read-bps", path + ":1mb", "--device-write-iops",
                 path + ":77", "busybox", "sleep", "30").strip()
    try:
        rbps = _cg_file(cid, ["blkio.throttle.read_bps_device", "io.max"])
        wiops = _cg_file(cid, ["blkio.throttle.write_iops_device", "io.max"])
        if rbps and rbps.startswith(numbers + " rbps"):  # v2: one line
            assert rbps == numbers + " rbps=1048576 wbps=max riops=max wiops=77", rbps
        else:
            assert rbps == numbers + " 1048576" and wiops == numbers + " 77", (rbps, wiops)
    finally:
        env.docker("rm", "-f", cid)
    p = env.docker("run", "--rm", "--device-read-bps", "/dev/nosuchdisk:1mb", "busybox", "true")
    # docker's CLI answers 127 to a start error saying "no such file or directory"
    assert p.returncode == 127 and "/dev/nosuchdisk: no such file or directory" in p.stderr, p
    # a block node made inside may not be opened, unless a rule allows it
    probe = "mknod /tmp/d b %s %s && head -c 1 /tmp/d | wc -c" % (major, minor)
    out = env.docker("run", "--rm", "busybox", "sh", "-c", probe)
    assert "Operation not permitted" in out.stderr and out.stdout == "0\n", out
    out = env.ok("run", "--rm", "--device-cgroup-rule", "b %s:* r" % major, "busybox",
                 "sh", "-c", probe)
    assert out == "1\n", out
    # the daemon checks a rule too (the docker CLI checks it before sending)
    status, _, body = env.d.request(
        "POST", "/containers/create", body=json.dumps(
            {"Image": "busybox", "HostConfig": {"DeviceCgroupRules": ["b 8:0 rwx"]}}),
        headers={"Content-Type": "application/json"})
    assert status == 201, body
    bad = json.loads(body)["Id"]
    try:
        status, _, body = env.d.request("POST", "/containers/%s/start" % bad)
        assert status == 500, body
        assert json.loads(body)["message"].endswith(
            "invalid device cgroup rule format: 'b 8:0 rwx'"), body
    finally:
        env.docker("rm", "-f", bad)


def test_a_private_cgroup_namespace_sees_its_own_cgroups(env):
    """With a cgroup namespace of its own, /sys/fs/cgroup holds the container's own
    cgroups (fresh mounts rooted at the namespace), never the host's root cgroup,
    which is what binding "/sys/fs/cgroup" + "/" from /proc/self/cgroup would give."""
    out = env.ok("run", "--rm", "--cgroupns", "private", "-m", "32m", "--pids-limit", "9",
                 "busybox", "sh", "-c",
                 "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                 "/sys/fs/cgroup/pids/pids.max 2>/dev/null || "
                 "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max")
    lines = out.splitlines()
    assert all(l.endswith(":/") for l in lines[:-2]), out
    assert lines[-2:] == [str(32 << 20), "9"], out


def test_seccomp_filters_are_reused_per_profile_and_a_damaged_cache_is_recompiled(env, tmp_path):
    cache = os.path.join(env.root, "run", "seccomp-cache")
    deny_mkdir = tmp_path / "deny-mkdir.json"
    deny_mkdir.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    probe = "grep Seccomp: /proc/self/status; mkdir /tmp/d 2>&1 && echo made; true"

    def both():
        default = env.ok("run", "--rm", "busybox", "sh", "-c", probe)
        custom = env.ok("run", "--rm", "--security-opt", "seccomp=%s" % deny_mkdir,
                        "busybox", "sh", "-c", probe)
        assert "Seccomp:\t2" in default and "made" in default, default
        assert "Seccomp:\t2" in custom and "made" not in custom, custom
        assert "Operation not permitted" in custom, custom

    for name in os.listdir(cache) if os.path.isdir(cache) else []:
        os.unlink(os.path.join(cache, name))  # a cache: emptied, it fills again
    both()
    both()  # from the cache: each profile still gets its own program
    entries = sorted(os.listdir(cache))
    assert len(entries) == 2, entries
    # damaged, truncated or writable by others: recompiled, never loaded
    for i, name in enumerate(entries):
        path = os.path.join(cache, name)
        with open(path, "r+b") as f:
            data = f.read()
            f.seek(0)
            f.truncate()
            f.write(data[:len(data) // 2] if i == 0 else data[:-8] + b"\xff" * 8)
    both()
    for name in entries:
        os.chmod(os.path.join(cache, name), 0o666)
        with open(os.path.join(cache, name), "ab") as f:
            f.write(b"junk")
    both()


def test_exec_exit_codes_are_never_lost(env):
    # the client inspects the exec as soon as its stream ends, which may be before berthd
    # has recorded the shim's answer: the code must still be the process's (about 2 in
    # 100 came back 0 before)
    cid = env.ok("run", "-d", "busybox", "sleep", "300").strip()
    try:
        codes = [env.docker("exec", cid, "sh", "-c", "exit 7").returncode for _ in range(150)]
        assert codes.count(7) == len(codes), codes
    finally:
        env.docker("rm", "-f", cid)


def test_supplementary_groups_as_dockerd_sets_them(env):
    """dockerd lists the user's primary group among its supplementary groups, then the groups
    of /etc/group naming the user, then --group-add (the first three answers taken from
    dockerd 20.10; the kernel keeps the list sorted, so `id` prints it in numeric order)."""
    def ids(*args):
        return env.ok("run", "--rm", *args, "busybox", "id").strip()
    assert ids("-u", "nobody") == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    assert ids() == "uid=0(root) gid=0(root) groups=0(root)"
    assert ids("-u", "1234") == "uid=1234 gid=0(root) groups=0(root)"
    assert ids("-u", "tester") == ("uid=1000(tester) gid=1000(tester) "
                                   "groups=29(audio),1000(tester)")
    assert ids("-u", "nobody", "--group-add", "audio") == (
        "uid=65534(nobody) gid=65534(nogroup) groups=29(audio),65534(nogroup)")
    # an exec's user is resolved the same way
    name = "groups-exec"
    env.ok("run", "-d", "--name", name, "busybox", "sleep", "60")
    try:
        assert env.ok("exec", "-u", "nobody", name, "id").strip() == (
            "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)")
        assert env.ok("exec", "-u", "tester", name, "id").strip() == (
            "uid=1000(tester) gid=1000(tester) groups=29(audio),1000(tester)")
        p = env.docker("exec", "-u", "nosuch", name, "id")
        assert p.returncode == 126, (p.returncode, p.stderr)
        assert "unable to find user nosuch: no matching entries in passwd file" in p.stdout + p.stderr
    finally:
        env.docker("rm", "-f", name)
