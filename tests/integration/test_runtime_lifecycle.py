"""berth-runtime's life cycle as containerd, podman and people drive it:
run, create/start/state/kill/delete, exec, ps, pause/resume, list, terminal
over --console-socket, spec, features, --version, logging."""
import array
import json
import os
import socket
import subprocess
import time

from runtime_util import (RUNTIME, cgroup_dirs, helper_json, leftovers, make_bundle, rt,  # noqa: F401
                          write_config, default_config)


def test_run_returns_the_exit_code_and_leaves_nothing(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    p = rt("run", "--bundle", b, unique_id)
    assert p.returncode == 3, p.stderr
    assert p.stdout == "out\n"
    assert "err" in p.stderr
    assert leftovers(rt, unique_id, b) == []


def test_run_killed_by_signal_reports_128_plus_signal(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "1000"])
    proc = subprocess.Popen([RUNTIME, "--root", rt.root, "run", "-b", b, unique_id])
    for _ in range(200):
        if rt("state", unique_id).stdout.find('"running"') >= 0:
            break
        time.sleep(0.02)
    rt("kill", unique_id, "KILL", check=True)
    assert proc.wait(timeout=30) == 137
    assert leftovers(rt, unique_id, b) == []


def test_hostname_env_cwd(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["hostname"] = "box-" + unique_id[-4:]
        c["process"]["env"].append("GREETING=hello world")
        c["process"]["cwd"] = "/tmp/work/dir"
    b = make_bundle(workdir, rootfs_template,
                    ["sh", "-c", 'echo "$GREETING"; hostname; pwd'], edit)
    p = rt("run", "--bundle", b, unique_id)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["hello world", "box-" + unique_id[-4:], "/tmp/work/dir"]


def test_create_start_state_kill_delete(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "1000"])
    pidfile = os.path.join(workdir, "pid")
    p = rt("create", "--bundle", b, "--pid-file", pidfile, unique_id)
    assert p.returncode == 0, p.stderr
    st = rt.state(unique_id)
    assert st["status"] == "created"
    assert st["id"] == unique_id and st["bundle"] == b
    assert st["ociVersion"].startswith("1.")
    pid = int(open(pidfile).read())
    assert st["pid"] == pid
    assert os.path.exists("/proc/%d" % pid)
    assert cgroup_dirs(unique_id), "the init is in its cgroup before start"
    with open("/proc/%d/cgroup" % pid) as f:
        assert "/berth/" + unique_id in f.read()

    assert rt("start", unique_id).returncode == 0
    assert rt.state(unique_id)["status"] == "running"
    again = rt("start", unique_id)
    assert again.returncode != 0 and "already running" in again.stderr

    refused = rt("delete", unique_id)
    assert refused.returncode != 0
    assert "not stopped" in refused.stderr and unique_id in refused.stderr

    assert rt("kill", unique_id, "KILL").returncode == 0
    for _ in range(100):
        if rt.state(unique_id)["status"] == "stopped":
            break
        time.sleep(0.05)
    st = rt.state(unique_id)
    assert st["status"] == "stopped" and st["pid"] == 0
    late = rt("kill", unique_id, "TERM")
    assert late.returncode != 0 and "not running" in late.stderr
    assert rt("delete", unique_id).returncode == 0
    assert leftovers(rt, unique_id, b) == []
    gone = rt("state", unique_id)
    assert gone.returncode != 0 and "does not exist" in gone.stderr


def test_delete_of_a_created_container_kills_its_init(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["true"])
    rt("create", "-b", b, unique_id, check=True)
    pid = rt.state(unique_id)["pid"]
    assert rt("delete", unique_id).returncode == 0
    assert not os.path.exists("/proc/%d/cmdline" % pid) or \
        open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    assert leftovers(rt, unique_id, b) == []


def test_kill_accepts_names_and_numbers(rt, workdir, rootfs_template, unique_id):
    """Each spelling of a signal reaches the container's init: its trap counts them."""
    def edit(c):
        c["root"]["readonly"] = False
    got = os.path.join(workdir, "bundle", "rootfs", "tmp", "got")
    b = make_bundle(workdir, rootfs_template,
                    ["sh", "-c", "trap 'echo USR1 >> /tmp/got' USR1; trap 'echo HUP >> /tmp/got' "
                     "HUP; : > /tmp/got; while :; do sleep 0.05; done"], edit)
    rt("run", "--detach", "--bundle", b, unique_id, check=True)

    def lines(n):
        deadline = time.time() + 10
        while time.time() < deadline:
            with open(got) as f:
                seen = f.read().split()
            if len(seen) >= n:
                return seen
            time.sleep(0.02)
        return seen

    deadline = time.time() + 10
    while not os.path.exists(got) and time.time() < deadline:
        time.sleep(0.02)
    bad = rt("kill", unique_id, "NOSUCHSIG")
    assert bad.returncode != 0 and "invalid signal 'NOSUCHSIG'" in bad.stderr
    want = []
    for sig, name in (("SIGUSR1", "USR1"), ("USR1", "USR1"), ("10", "USR1"), ("HUP", "HUP"),
                      ("1", "HUP")):
        # one at a time: a second signal sent before the first is handled would merge with it
        assert rt("kill", unique_id, sig).returncode == 0
        want.append(name)
        assert lines(len(want)) == want, "signal %s did not arrive" % sig
    assert rt.state(unique_id)["status"] == "running"
    assert rt("kill", "--all", unique_id, "9").returncode == 0
    for _ in range(100):
        if rt.state(unique_id)["status"] == "stopped":
            break
        time.sleep(0.05)
    assert rt.state(unique_id)["status"] == "stopped"
    assert rt("delete", unique_id).returncode == 0


def test_force_delete_of_a_running_container(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "1000"])
    rt("run", "-d", "-b", b, unique_id, check=True)
    assert rt("delete", "--force", unique_id).returncode == 0
    assert leftovers(rt, unique_id, b) == []
    # runc: deleting what is not there with --force is not an error
    assert rt("delete", "--force", unique_id).returncode == 0


def test_exec_ps_pause_resume_list(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["process"]["env"].append("FROM_CONFIG=1")
    b = make_bundle(workdir, rootfs_template, ["sleep", "1000"], edit)
    rt("run", "-d", "-b", b, unique_id, check=True)
    init = rt.state(unique_id)["pid"]

    p = rt("exec", "--env", "EXTRA=2", "--cwd", "/tmp", "--user", "1000:1000", unique_id,
           "sh", "-c", 'echo $FROM_CONFIG$EXTRA; pwd; id -u; id -g; exit 5')
    assert p.returncode == 5, p.stderr
    assert p.stdout.splitlines() == ["12", "/tmp", "1000", "1000"]

    proc = os.path.join(workdir, "process.json")
    with open(proc, "w") as f:
        json.dump({"args": ["sh", "-c", "echo from-process-file"], "cwd": "/",
                   "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}, f)
    p = rt("exec", "--process", proc, unique_id)
    assert p.returncode == 0 and p.stdout == "from-process-file\n", p.stderr

    pidfile = os.path.join(workdir, "exec.pid")
    rt("exec", "-d", "--pid-file", pidfile, unique_id, "sleep", "999", check=True)
    epid = int(open(pidfile).read())
    pids = json.loads(rt("ps", "--format", "json", unique_id, check=True).stdout)
    assert init in pids and epid in pids
    table = rt("ps", unique_id, check=True).stdout
    assert "PID" in table.splitlines()[0] and "sleep 999" in table

    missing = rt("exec", unique_id, "/no/such/program")
    assert missing.returncode != 0 and "/no/such/program" in missing.stderr

    assert rt("pause", unique_id).returncode == 0
    assert rt.state(unique_id)["status"] == "paused"
    denied = rt("exec", unique_id, "true")
    assert denied.returncode != 0 and "paused" in denied.stderr
    assert rt("resume", unique_id).returncode == 0
    assert rt.state(unique_id)["status"] == "running"

    lst = json.loads(rt("list", "--format", "json", check=True).stdout)
    assert [c["id"] for c in lst] == [unique_id]
    assert lst[0]["status"] == "running" and lst[0]["pid"] == init
    assert unique_id in rt("list", check=True).stdout


def _recv_fd(sock):
    conn, _ = sock.accept()
    with conn:
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:fds.itemsize])
        return fds[0], msg


def test_terminal_over_console_socket(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["process"]["terminal"] = True
        c["process"]["consoleSize"] = {"height": 33, "width": 101}
    b = make_bundle(workdir, rootfs_template,
                    ["sh", "-c", "tty; stty size; test -t 0 && echo stdin-is-tty"], edit)
    path = os.path.join(workdir, "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    try:
        no_sock = rt("create", "-b", b, unique_id + "x")
        assert no_sock.returncode != 0 and "console-socket" in no_sock.stderr
        assert leftovers(rt, unique_id + "x", b) == []

        proc = subprocess.Popen([RUNTIME, "--root", rt.root, "create", "-b", b,
                                 "--console-socket", path, unique_id],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        master, name = _recv_fd(srv)
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
        assert name.startswith(b"/dev/pts/")
        rt("start", unique_id, check=True)
        out = b""
        deadline = time.time() + 10
        while time.time() < deadline and b"stdin-is-tty" not in out:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        text = out.decode()
        assert "/dev/pts/0" in text
        assert "33 101" in text
        assert "stdin-is-tty" in text
    finally:
        srv.close()


def test_spec_features_version(rt, workdir):
    d = os.path.join(workdir, "spec")
    os.makedirs(d)
    cfg = default_config(d)
    assert cfg["ociVersion"].startswith("1.")
    types = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert {"pid", "mount", "network", "ipc", "uts"} <= types
    assert "/proc/kcore" in cfg["linux"]["maskedPaths"]
    assert "/proc/sys" in cfg["linux"]["readonlyPaths"]
    write_config(d, cfg)
    again = subprocess.run([RUNTIME, "spec", "-b", d], capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr

    feats = json.loads(rt("features", check=True).stdout)
    assert feats["ociVersionMax"].startswith("1.1")
    assert "poststop" in feats["hooks"] and "rbind" in feats["mountOptions"]
    assert "user" in feats["linux"]["namespaces"]
    assert "CAP_SYS_ADMIN" in feats["linux"]["capabilities"]
    v = rt("--version", check=True).stdout
    assert "berth-runtime version" in v and "spec: 1.1" in v


def test_json_log_on_failure(rt, workdir, unique_id):
    log = os.path.join(workdir, "log.json")
    p = subprocess.run([RUNTIME, "--root", rt.root, "--log", log, "--log-format", "json",
                        "state", unique_id], capture_output=True, text=True)
    assert p.returncode != 0
    assert len(p.stderr.strip().splitlines()) == 1
    last = json.loads(open(log).read().splitlines()[-1])
    assert last["level"] == "error"
    assert unique_id in last["msg"] and "does not exist" in last["msg"]
    assert last["time"].endswith("Z")


def test_run_forwards_signals_to_the_container(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template,
                    ["sh", "-c", "trap 'exit 9' TERM; while true; do sleep 0.1; done"])
    proc = subprocess.Popen([RUNTIME, "--root", rt.root, "run", "-b", b, unique_id])
    for _ in range(200):
        if '"running"' in rt("state", unique_id).stdout:
            break
        time.sleep(0.02)
    time.sleep(0.2)
    proc.terminate()
    assert proc.wait(timeout=30) == 9
    assert leftovers(rt, unique_id, b) == []


def test_force_delete_of_a_paused_container(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "1000"])
    rt("run", "-d", "-b", b, unique_id, check=True)
    rt("pause", unique_id, check=True)
    assert rt("delete", "--force", unique_id).returncode == 0
    assert leftovers(rt, unique_id, b) == []


def test_join_the_network_namespace_of_another_container(rt, workdir, rootfs_template,
                                                         unique_id):
    a = make_bundle(workdir, rootfs_template, ["sleep", "1000"])
    rt("run", "-d", "-b", a, unique_id, check=True)
    pid = rt.state(unique_id)["pid"]
    other = os.path.join(workdir, "other")
    os.makedirs(other)

    def edit(c):
        for n in c["linux"]["namespaces"]:
            if n["type"] == "network":
                n["path"] = "/proc/%d/ns/net" % pid
    b = make_bundle(other, rootfs_template, ["readlink", "/proc/self/ns/net"], edit)
    p = rt("run", "-b", b, unique_id + "-b")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == os.readlink("/proc/%d/ns/net" % pid)


def test_exec_additional_gids_run_keep_and_debug(rt, workdir, rootfs_template, unique_id):
    b = make_bundle(workdir, rootfs_template, ["sleep", "100"])
    rt("run", "-d", "-b", b, unique_id, check=True)
    p = rt("exec", "-g", "29", "--additional-gids", "4242", unique_id, "id", "-G")
    assert p.returncode == 0, p.stderr
    assert sorted(p.stdout.split()) == ["0", "29", "4242"]

    log = os.path.join(workdir, "debug.log")
    b2 = os.path.join(workdir, "b2")
    os.makedirs(b2)
    cfg = default_config(b2)
    cfg["root"]["path"] = os.path.join(b, "rootfs")
    cfg["process"]["args"] = ["true"]
    write_config(b2, cfg)
    p = rt("--log", log, "--debug", "run", "--keep", "-b", b2, unique_id + "-k")
    assert p.returncode == 0, p.stderr
    assert rt.state(unique_id + "-k")["status"] == "stopped"
    assert "level=debug" in open(log).read()
    assert rt("delete", unique_id + "-k").returncode == 0


def test_force_delete_clears_a_half_created_state_dir(rt, unique_id):
    os.makedirs(os.path.join(rt.root, unique_id))
    p = rt("delete", unique_id)
    assert p.returncode != 0 and "does not exist" in p.stderr
    assert rt("delete", "--force", unique_id).returncode == 0
    assert not os.path.exists(os.path.join(rt.root, unique_id))


def _cg_file(cid, *names):
    for d in cgroup_dirs(cid):
        for n in names:
            p = os.path.join(d, n)
            if os.path.exists(p):
                return open(p).read().strip()
    raise AssertionError("none of %s for %s" % (names, cid))


def test_update_resources_from_stdin_and_flags(rt, workdir, rootfs_template, unique_id):
    """runc update as containerd's shim calls it (--resources - with linux.resources JSON on
    stdin), and with flags: the running container's cgroup changes."""
    b = make_bundle(workdir, rootfs_template, ["sleep", "1000"])
    rt("run", "-d", "-b", b, unique_id, check=True)
    res = {"memory": {"limit": 48 << 20}, "pids": {"limit": 17},
           "cpu": {"quota": 30000, "period": 100000}}
    p = rt("update", "--resources", "-", unique_id, input=json.dumps(res))
    assert p.returncode == 0, p.stderr
    assert _cg_file(unique_id, "memory.max", "memory.limit_in_bytes") == str(48 << 20)
    assert _cg_file(unique_id, "pids.max") == "17"
    assert _cg_file(unique_id, "cpu.max", "cpu.cfs_quota_us") in ("30000 100000", "30000")
    p = rt("update", "--memory", "40m", "--pids-limit", "12", unique_id)
    assert p.returncode == 0, p.stderr
    assert _cg_file(unique_id, "memory.max", "memory.limit_in_bytes") == str(40 << 20)
    assert _cg_file(unique_id, "pids.max") == "12"
    bad = rt("update", "--resources", "-", unique_id, input='{"pids": {"limit": "x"}}')
    assert bad.returncode != 0 and "pids" in bad.stderr
    assert _cg_file(unique_id, "pids.max") == "12"
    rt("delete", "--force", unique_id, check=True)
    gone = rt("update", "--pids-limit", "5", unique_id)
    assert gone.returncode != 0 and unique_id in gone.stderr
