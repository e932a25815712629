"""config.json features of berth-runtime, observed from inside the container
with the static test helper: user and groups, umask, capabilities, rlimits,
no_new_privs, oom_score_adj, read-only root, mounts, masked and read-only
paths, devices, sysctl, hooks, user namespaces, cgroup resources."""
import json
import os
import stat
import subprocess
import time

import pytest

from runtime_util import RUNTIME, caps_mask, helper_json, leftovers, make_bundle, rt  # noqa: F401


def run_helper(rt, workdir, template, cid, edit=None, args=None):
    b = make_bundle(workdir, template, args or ["/bin/testhelper"], edit)
    p = rt("run", "-b", b, cid)
    assert p.returncode == 0, p.stderr
    return helper_json(p.stdout) if not args else p


def test_user_groups_umask(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [29, 4242],
                                "umask": 0o077}
    h = run_helper(rt, workdir, rootfs_template, unique_id, edit)
    assert (h["uid"], h["gid"], h["euid"]) == (1000, 1000, 1000)
    assert sorted(h["groups"]) == [29, 4242]
    assert h["umask"] == 0o077


def test_capability_sets(rt, workdir, rootfs_template, unique_id):
    want = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"]

    def edit(c):
        c["process"]["capabilities"] = {"bounding": want + ["CAP_SETUID"], "effective": want,
                                        "permitted": want}
    h = run_helper(rt, workdir, rootfs_template, unique_id, edit)
    assert int(h["CapEff"], 16) == caps_mask(want)
    assert int(h["CapPrm"], 16) == caps_mask(want)
    assert int(h["CapBnd"], 16) == caps_mask(want + ["CAP_SETUID"])
    assert int(h["CapInh"], 16) == 0
    assert int(h["CapAmb"], 16) == 0


def test_default_caps_leave_inheritable_and_ambient_empty(rt, workdir, rootfs_template,
                                                          unique_id):
    h = run_helper(rt, workdir, rootfs_template, unique_id)
    assert int(h["CapInh"], 16) == 0
    assert int(h["CapAmb"], 16) == 0
    assert int(h["CapEff"], 16) & caps_mask(["CAP_SYS_ADMIN"]) == 0
    assert int(h["CapEff"], 16) & caps_mask(["CAP_KILL"])


def test_ambient_capabilities_for_a_non_root_user(rt, workdir, rootfs_template, unique_id):
    want = ["CAP_NET_BIND_SERVICE"]

    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["capabilities"] = {k: want for k in
                                        ("bounding", "effective", "permitted", "inheritable",
                                         "ambient")}
    h = run_helper(rt, workdir, rootfs_template, unique_id, edit)
    assert int(h["CapAmb"], 16) == caps_mask(want)
    assert int(h["CapEff"], 16) == caps_mask(want)


def test_rlimits_nnp_oom(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1234, "hard": 2345},
                                   {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
        c["process"]["noNewPrivileges"] = True
        c["process"]["oomScoreAdj"] = 345
    h = run_helper(rt, workdir, rootfs_template, unique_id, edit)
    assert h["rlimits"]["RLIMIT_NOFILE"] == [1234, 2345]
    assert h["rlimits"]["RLIMIT_CORE"] == [0, 0]
    assert h["NoNewPrivs"] == "1"
    assert h["oom_score_adj"] == 345


def test_readonly_root_and_writable_tmpfs(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["root"]["readonly"] = True
        c["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                            "options": ["nosuid", "size=1m", "mode=1777"]})
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["sh", "-c", "touch /x 2>/dev/null && echo root-writable; "
                    "touch /scratch/y && echo scratch-ok; grep ' /scratch ' /proc/self/mountinfo"])
    lines = p.stdout.splitlines()
    assert "root-writable" not in lines
    assert "scratch-ok" in lines
    assert "size=1024k" in p.stdout and "nosuid" in p.stdout


def test_bind_mounts_with_flags(rt, workdir, rootfs_template, unique_id):
    host = os.path.join(workdir, "hostdir")
    os.makedirs(host)
    with open(os.path.join(host, "file"), "w") as f:
        f.write("from-host\n")
    hostfile = os.path.join(workdir, "single")
    with open(hostfile, "w") as f:
        f.write("single-file\n")

    def edit(c):
        c["mounts"] += [
            {"destination": "/data/ro", "type": "bind", "source": host,
             "options": ["rbind", "ro", "nosuid", "nodev", "rprivate"]},
            {"destination": "/data/rw", "source": host, "options": ["bind"]},
            {"destination": "/etc/single", "type": "bind", "source": hostfile,
             "options": ["bind", "ro"]},
        ]
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["sh", "-c", "cat /data/ro/file /etc/single; "
                    "touch /data/ro/new 2>/dev/null && echo ro-writable; "
                    "touch /data/rw/new && echo rw-ok; grep ' /data/ro ' /proc/self/mountinfo"])
    assert "from-host" in p.stdout and "single-file" in p.stdout
    assert "ro-writable" not in p.stdout and "rw-ok" in p.stdout
    ro_line = [l for l in p.stdout.splitlines() if " /data/ro " in l][0]
    assert " ro," in ro_line and "nosuid" in ro_line and "nodev" in ro_line
    assert os.path.exists(os.path.join(host, "new"))
    assert leftovers(rt, unique_id, os.path.join(workdir, "bundle")) == []


def test_masked_and_readonly_paths(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["maskedPaths"].append("/proc/cmdline")
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["sh", "-c", "stat -c '%t:%T' /proc/cmdline; wc -c < /proc/cmdline; "
                    "ls /proc/acpi 2>/dev/null | wc -l; "
                    "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable; "
                    "touch /proc/sysrq-trigger 2>/dev/null; echo done"])
    lines = p.stdout.splitlines()
    assert lines[0] == "1:3"  # /proc/cmdline is the host's /dev/null
    assert lines[1].strip() == "0"
    assert lines[2].strip() == "0"
    assert "sys-writable" not in lines


def test_default_and_configured_devices(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["devices"] = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
                                  "fileMode": 0o620, "uid": 1000, "gid": 0}]
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["sh", "-c", "for d in null zero full random urandom tty mynull; do "
                    "stat -c '%n %F %t:%T %a %u %g' /dev/$d; done; readlink /dev/ptmx; readlink /dev/fd; "
                    "echo x > /dev/mynull && echo mynull-writable; head -c 4 /dev/zero | wc -c"])
    out = p.stdout
    assert "/dev/null character special file 1:3 666 0 0" in out
    assert "/dev/urandom character special file 1:9 666" in out
    assert "/dev/tty character special file 5:0" in out
    assert "/dev/mynull character special file 1:3 620 1000 0" in out
    assert "pts/ptmx" in out and "/proc/self/fd" in out
    assert "mynull-writable" in out  # allowed in the devices cgroup too
    assert out.splitlines()[-1].strip() == "4"


def test_sysctl_and_domainname(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"}
        c["domainname"] = "example.test"
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax "
                    "/proc/sys/kernel/domainname"])
    assert p.stdout.split() == ["1", "12345", "example.test"]
    with open("/proc/sys/kernel/msgmax") as f:
        assert f.read().strip() != "12345"  # the host's ipc namespace is untouched


def test_hooks_get_state_on_stdin(rt, workdir, rootfs_template, unique_id):
    out = os.path.join(workdir, "hooks")
    os.makedirs(out)

    def hook(kind):
        return {"path": "/bin/sh", "args": ["sh", "-c", "cat > %s/%s.json" % (out, kind)],
                "timeout": 10}

    def edit(c):
        c["annotations"] = {"org.test.k": "v"}
        c["hooks"] = {k: [hook(k)] for k in ("prestart", "createRuntime", "poststart",
                                              "poststop")}
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    rt("create", "-b", b, unique_id, check=True)
    pid = rt.state(unique_id)["pid"]
    for k in ("prestart", "createRuntime"):
        st = json.load(open(os.path.join(out, k + ".json")))
        assert st["id"] == unique_id and st["pid"] == pid and st["bundle"] == b
        assert st["annotations"] == {"org.test.k": "v"}
    assert not os.path.exists(os.path.join(out, "poststart.json"))
    rt("start", unique_id, check=True)
    assert json.load(open(os.path.join(out, "poststart.json")))["id"] == unique_id
    rt("delete", "--force", unique_id, check=True)
    assert json.load(open(os.path.join(out, "poststop.json")))["id"] == unique_id


def test_failing_hook_fails_create_and_cleans_up(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]}
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    p = rt("create", "-b", b, unique_id)
    assert p.returncode != 0
    assert "createRuntime hook '/bin/sh': exited with status 4" in p.stderr
    assert leftovers(rt, unique_id, b) == []


def test_failing_poststart_and_poststop_hooks_warn_and_the_rest_runs(rt, workdir, rootfs_template,
                                                                     unique_id):
    """Runtime spec: a failing poststart or poststop hook is a warning; the remaining
    hooks run and start/delete succeed.  (runc 1.1 fails create on it and stops at the
    first failing poststop hook; crun follows the spec.)"""
    ran = os.path.join(workdir, "ran")
    log = os.path.join(workdir, "runtime.log")

    def hook(tag, rc):
        return {"path": "/bin/sh", "args": ["sh", "-c", "echo %s >> %s; exit %d" % (tag, ran, rc)]}

    def edit(c):
        c["hooks"] = {
            "poststart": [hook("poststart-1", 1), hook("poststart-2", 0)],
            "poststop": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1},
                         hook("poststop-2", 3), hook("poststop-3", 0)]}
    b = make_bundle(workdir, rootfs_template, ["sleep", "1000"], edit)
    rt("--log", log, "--log-format", "json", "create", "-b", b, unique_id, check=True)
    p = rt("--log", log, "--log-format", "json", "start", unique_id)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ("berth-runtime: warning: container '%s': poststart hook '/bin/sh': "
                        "exited with status 1 (a failing poststart hook is only a warning)\n"
                        % unique_id)
    assert rt.state(unique_id)["status"] == "running"
    with open(ran) as f:
        assert f.read().split() == ["poststart-1", "poststart-2"]

    p = rt("--log", log, "--log-format", "json", "delete", "--force", unique_id)
    assert p.returncode == 0, p.stderr
    assert p.stderr.splitlines() == [
        "berth-runtime: warning: container '%s': poststop hook '/bin/sleep': timed out after "
        "1 s (a failing poststop hook is only a warning)" % unique_id,
        "berth-runtime: warning: container '%s': poststop hook '/bin/sh': exited with status 3 "
        "(a failing poststop hook is only a warning)" % unique_id]
    with open(ran) as f:
        assert f.read().split() == ["poststart-1", "poststart-2", "poststop-2", "poststop-3"]
    assert leftovers(rt, unique_id, b) == []
    # --log takes the same warnings, in its format
    with open(log) as f:
        lines = [json.loads(line) for line in f]
    assert [(e["level"], e["msg"].split(": ", 1)[1].split(" (")[0]) for e in lines] == [
        ("warning", "poststart hook '/bin/sh': exited with status 1"),
        ("warning", "poststop hook '/bin/sleep': timed out after 1 s"),
        ("warning", "poststop hook '/bin/sh': exited with status 3")]


def test_failing_poststart_hook_does_not_fail_run(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["hooks"] = {"poststart": [{"path": "/bin/false", "args": ["false"]}]}
    b = make_bundle(workdir, rootfs_template, ["sh", "-c", "echo ran; exit 5"], edit)
    p = rt("run", "-b", b, unique_id)
    assert p.returncode == 5 and p.stdout == "ran\n", p.stderr
    assert "poststart hook '/bin/false': exited with status 1" in p.stderr
    assert leftovers(rt, unique_id, b) == []


def test_hook_timeout(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"],
                                    "timeout": 1}]}
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    p = rt("create", "-b", b, unique_id)
    assert p.returncode != 0 and "timed out after 1 s" in p.stderr
    assert leftovers(rt, unique_id, b) == []


def test_user_namespace_with_mappings(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        # sysfs needs a network namespace of the user namespace: the spec has one
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["sh", "-c", "id -u; cat /proc/self/uid_map; ls -ln /dev/null"])
    lines = p.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]


def test_cgroup_limits_applied(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["resources"] = {"memory": {"limit": 64 * 1024 * 1024},
                                   "pids": {"limit": 77}}
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["sh", "-c", "cat /proc/self/cgroup; echo --; cat /sys/fs/cgroup/pids/pids.max "
                    "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
    cgroups, limits = p.stdout.split("--\n")
    # The spec has no cgroup namespace: the process shows its cgroup as the host sees
    # it, in every hierarchy (a process left in the root cgroup would show "/").
    paths = {line.split(":", 2)[2] for line in cgroups.splitlines()}
    assert paths == {"/berth/" + unique_id}, cgroups
    assert limits.split() == ["77", str(64 * 1024 * 1024)]


def cgroup_mounts():
    """[(fstype, mount point, super options)] of the cgroup and cgroup2 mounts."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fstype, _, sopts = post.split()[:3]
            if fstype in ("cgroup", "cgroup2"):
                found.append((fstype, pre.split()[4], sopts))
    return found


def hugetlb_hierarchy():
    """(mount point, is_v2) of the hierarchy carrying hugetlb, v1 first (as the kernel
    binds a controller to one hierarchy only), or None.  On a hybrid host the cgroup2
    root is the host's: hugetlb there is usable only when the root already delegates
    it (its subtree_control), since the runtime never writes the host's root."""
    mounts = cgroup_mounts()
    hybrid = any(t == "cgroup" for t, _, _ in mounts)
    v2 = None
    for fstype, mp, sopts in mounts:
        if fstype == "cgroup" and "hugetlb" in sopts.split(","):
            return mp, False
        if fstype == "cgroup2":
            with open(os.path.join(mp, "cgroup.subtree_control" if hybrid
                                   else "cgroup.controllers")) as c:
                if "hugetlb" in c.read().split():
                    v2 = (mp, True)
    return v2


def hugetlb_limit_of(pid, mount, v2):
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if (v2 and ctrls == "") or (not v2 and "hugetlb" in ctrls.split(",")):
                knob = os.path.join(mount, path.lstrip("/"),
                                    "hugetlb.2MB.max" if v2 else "hugetlb.2MB.limit_in_bytes")
                if not os.path.exists(knob):  # the root cgroup has no limits
                    return path, None
                with open(knob) as k:
                    return path, int(k.read())
    raise AssertionError("pid %d is in no hugetlb hierarchy" % pid)


def test_hugetlb_limit_is_set_where_the_processes_are(rt, workdir, rootfs_template, unique_id):
    """On a hybrid host the hugetlb controller may sit on the cgroup2 mount while every
    other controller is v1 (this project's build machines): when the host's cgroup2 root
    delegates it, the limit is written in the cgroup2 cgroup that the init and every
    exec'd process are in; when it does not (the runtime never changes the host's root),
    or there is no hugetlb controller at all, create fails naming it -- never a limit
    accepted and dropped.  (runc 1.1 refuses it on hybrid: "cannot set hugetlb limit:
    container could not join or create cgroup".)"""
    if not os.path.exists("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("this kernel has no 2 MB huge pages")
    limit = 6 << 20

    def edit(c):
        c["linux"]["resources"] = {"hugepageLimits": [{"pageSize": "2MB", "limit": limit}]}
    b = make_bundle(workdir, rootfs_template, ["sleep", "1000"], edit)
    where = hugetlb_hierarchy()
    roots = {mp: open(os.path.join(mp, "cgroup.subtree_control")).read()
             for t, mp, _ in cgroup_mounts() if t == "cgroup2"}
    p = rt("run", "-d", "-b", b, unique_id)
    hybrid = any(t == "cgroup" for t, _, _ in cgroup_mounts())
    if hybrid:
        # the host's cgroup2 root is never reconfigured (it made crun refuse this host)
        for mp, before in roots.items():
            assert open(os.path.join(mp, "cgroup.subtree_control")).read() == before, mp
    if where is None:
        assert p.returncode != 0
        assert "hugepageLimits: the hugetlb cgroup controller is not available" in p.stderr
        assert leftovers(rt, unique_id, b) == []
        return
    assert p.returncode == 0, p.stderr
    mount, v2 = where
    init = rt.state(unique_id)["pid"]
    assert hugetlb_limit_of(init, mount, v2) == ("/berth/" + unique_id, limit)
    e = subprocess.Popen([RUNTIME, "--root", rt.root, "exec", unique_id, "sleep", "30"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            kids = [k for k in json.loads(rt("ps", "--format", "json", unique_id,
                                             check=True).stdout) if k != init]
            if kids:
                break
            time.sleep(0.05)
        assert kids, "the exec'd process never showed up"
        assert hugetlb_limit_of(int(kids[0]), mount, v2) == ("/berth/" + unique_id, limit)
    finally:
        e.kill()
        e.wait()


def test_seccomp_filter_in_init_and_exec(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1},
                         {"names": ["no_such_syscall_name"], "action": "SCMP_ACT_ERRNO"}]}
        c["root"]["readonly"] = False
    b = make_bundle(workdir, rootfs_template,
                    ["sh", "-c", "mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status; sleep 100"],
                    edit)
    rt("run", "-d", "-b", b, unique_id, check=True)
    p = rt("exec", unique_id, "sh", "-c", "mkdir /tmp/e 2>&1; grep Seccomp: /proc/self/status")
    assert "Operation not permitted" in p.stdout
    assert "Seccomp:\t2" in p.stdout
    assert not os.path.exists(os.path.join(b, "rootfs", "tmp", "e"))


def test_seccomp_with_no_new_privileges_for_a_user(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["process"]["noNewPrivileges"] = True
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO",
                                               "errnoRet": 38}]}
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit)
    assert p["cwd"] == "" and p["Seccomp"] == "2" and p["NoNewPrivs"] == "1"


def test_bad_seccomp_profile_is_refused(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                                 "architectures": ["SCMP_ARCH_NOPE"]}
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    p = rt("create", "-b", b, unique_id)
    assert p.returncode != 0 and "SCMP_ARCH_NOPE" in p.stderr
    assert leftovers(rt, unique_id, b) == []


def root_line(mountinfo):
    return [l for l in mountinfo.splitlines() if l.split()[4] == "/"][0]


def test_no_pivot_and_rootfs_propagation(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["rootfsPropagation"] = "shared"
    b = make_bundle(workdir, rootfs_template, ["cat", "/proc/self/mountinfo"], edit)
    for i, extra in enumerate(([], ["--no-pivot"])):
        p = rt("run", *extra, "-b", b, "%s-%d" % (unique_id, i))
        assert p.returncode == 0, p.stderr
        line = root_line(p.stdout)
        assert line.split()[3].endswith("/rootfs") and " shared:" in line
    b2 = os.path.join(workdir, "b2")
    os.makedirs(b2)
    os.rename(os.path.join(b, "rootfs"), os.path.join(b2, "rootfs"))
    with open(os.path.join(b, "config.json")) as f:
        cfg = json.load(f)
    del cfg["linux"]["rootfsPropagation"]
    with open(os.path.join(b2, "config.json"), "w") as f:
        json.dump(cfg, f)
    p = rt("run", "-b", b2, unique_id + "-p")
    assert p.returncode == 0, p.stderr
    assert " shared:" not in root_line(p.stdout)


def test_time_namespace_offsets(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 5},
                                     "boottime": {"secs": 172800, "nanosecs": 0}}
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["cat", "/proc/self/timens_offsets"])
    assert [l.split() for l in p.stdout.splitlines()] == [["monotonic", "86400", "5"],
                                                          ["boottime", "172800", "0"]]


def test_container_side_hooks(rt, workdir, rootfs_template, unique_id):
    out = os.path.join(workdir, "hookout")
    os.makedirs(out)

    def edit(c):
        c["root"]["readonly"] = False
        c["mounts"].append({"destination": "/hookout", "type": "bind", "source": out,
                            "options": ["bind"]})
        # createContainer runs before pivot_root (host paths), startContainer after it
        c["hooks"] = {
            "createContainer": [{"path": "/bin/sh",
                                 "args": ["sh", "-c", "cat > %s/cc.json" % out]}],
            "startContainer": [{"path": "/bin/sh",
                                "args": ["sh", "-c", "cat > /hookout/sc.json; hostname > "
                                         "/hookout/sc.host"]}],
        }
        c["hostname"] = "hooked"
    b = make_bundle(workdir, rootfs_template, ["true"], edit)
    rt("create", "-b", b, unique_id, check=True)
    cc = json.load(open(os.path.join(out, "cc.json")))
    assert cc["id"] == unique_id and cc["pid"] == rt.state(unique_id)["pid"]
    assert not os.path.exists(os.path.join(out, "sc.json"))
    rt("start", unique_id, check=True)
    for _ in range(100):
        if os.path.exists(os.path.join(out, "sc.host")):
            break
        time.sleep(0.05)
    assert json.load(open(os.path.join(out, "sc.json")))["id"] == unique_id
    assert open(os.path.join(out, "sc.host")).read().strip() == "hooked"


def test_scheduler_io_priority_personality(rt, workdir, rootfs_template, unique_id):
    def edit(c):
        c["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
        c["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
        c["linux"]["personality"] = {"domain": "LINUX32"}
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["sh", "-c", "cut -d' ' -f19,41 /proc/self/stat; uname -m"])
    nice_policy, arch = p.stdout.splitlines()
    assert nice_policy.split() == ["7", "3"]  # nice 7, SCHED_BATCH
    assert arch in ("i686", "i386")


def test_join_user_and_pid_namespaces_by_path(rt, workdir, rootfs_template, unique_id):
    def userns(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    a = make_bundle(workdir, rootfs_template, ["sleep", "100"], userns)
    rt("run", "-d", "-b", a, unique_id, check=True)
    pid = rt.state(unique_id)["pid"]
    other = os.path.join(workdir, "other")
    os.makedirs(other)

    def join(c):
        for n in c["linux"]["namespaces"]:
            if n["type"] in ("pid", "network"):
                n["path"] = "/proc/%d/ns/%s" % (pid, "net" if n["type"] == "network" else "pid")
        c["linux"]["namespaces"].append({"type": "user", "path": "/proc/%d/ns/user" % pid})
    b = make_bundle(other, rootfs_template,
                    ["sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/user"], join)
    p = rt("run", "-b", b, unique_id + "-j")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["0", "200000", "65536"]
    assert lines[1] == os.readlink("/proc/%d/ns/user" % pid)
    e = rt("exec", "--user", "1000:1000", unique_id, "sh", "-c", "id -u; cat /proc/self/uid_map")
    assert e.returncode == 0, e.stderr
    assert e.stdout.splitlines()[0] == "1000"
    assert e.stdout.splitlines()[1].split() == ["0", "200000", "65536"]


def test_seccomp_notify_listener_reaches_the_agent(rt, workdir, rootfs_template, unique_id):
    import array
    import socket
    import threading
    path = os.path.join(workdir, "agent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(2)
    got = []

    def agent():
        for _ in range(2):
            conn, _ = srv.accept()
            with conn:
                fds = array.array("i")
                data, anc, _, _ = conn.recvmsg(65536, socket.CMSG_LEN(fds.itemsize))
                for level, typ, d in anc:
                    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                        fds.frombytes(d[:fds.itemsize])
                got.append((json.loads(data), len(fds)))
                for fd in fds:
                    os.close(fd)  # no agent left: notified syscalls fail with ENOSYS
    t = threading.Thread(target=agent, daemon=True)
    t.start()

    def edit(c):
        c["root"]["readonly"] = False
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
                                 "listenerMetadata": "meta-" + unique_id,
                                 "syscalls": [{"names": ["mkdir", "mkdirat"],
                                               "action": "SCMP_ACT_NOTIFY"}]}
    try:
        b = make_bundle(workdir, rootfs_template, ["sleep", "100"], edit)
        rt("run", "-d", "-b", b, unique_id, check=True)
        p = rt("exec", unique_id, "sh", "-c", "mkdir /tmp/n 2>&1; echo done")
        assert "done" in p.stdout, p.stderr
        assert "Function not implemented" in p.stdout
        t.join(timeout=10)
        assert len(got) == 2
        for msg, nfds in got:
            assert nfds == 1 and msg["fds"] == ["seccompFd"]
            assert msg["metadata"] == "meta-" + unique_id
            assert msg["state"]["id"] == unique_id
        assert got[0][0]["pid"] == rt.state(unique_id)["pid"]
    finally:
        srv.close()


def test_idmapped_bind_mount(rt, workdir, rootfs_template, unique_id):
    host = os.path.join(workdir, "owned-by-root")
    os.makedirs(host)
    with open(os.path.join(host, "f"), "w") as f:
        f.write("x")

    def edit(c):
        c["mounts"].append({"destination": "/idm", "type": "bind", "source": host,
                            "options": ["bind", "idmap"],
                            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
                            "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]})
    p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                   ["stat", "-c", "%u %g", "/idm/f"])
    assert p.stdout.split() == ["1000", "2000"]
    assert os.stat(os.path.join(host, "f")).st_uid == 0
    assert leftovers(rt, unique_id, os.path.join(workdir, "bundle")) == []


def test_recursive_read_only_bind(rt, workdir, rootfs_template, unique_id):
    host = os.path.join(workdir, "tree")
    sub = os.path.join(host, "sub")
    os.makedirs(sub)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", sub], check=True)
    try:
        def edit(c):
            c["mounts"].append({"destination": "/tree", "type": "bind", "source": host,
                                "options": ["rbind", "rro"]})
        p = run_helper(rt, workdir, rootfs_template, unique_id, edit,
                       ["sh", "-c", "touch /tree/a 2>/dev/null && echo top-writable; "
                        "touch /tree/sub/b 2>/dev/null && echo sub-writable; echo done"])
        assert p.stdout.split() == ["done"]
        subprocess.run(["touch", os.path.join(sub, "c")], check=True)  # the host's stays rw
    finally:
        subprocess.run(["umount", "-l", sub], check=True)
