"""berth-runtime behaviours the OCI runtime-tools validation suite found missing.

Each test pins one fix made while running the suite against berth-runtime next
to runc (see the engines report): a config without a mount namespace, a
hostname in a joined uts namespace, fd hygiene under a seccomp profile that
denies close_range, and `start` returning only once the user's process runs.
"""
import os
import subprocess
import uuid

from runtime_util import leftovers, make_bundle, rt  # noqa: F401


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(path.rstrip("/") + "/")]


def without_mount_ns(cfg):
    lx = cfg["linux"]
    lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "mount"]
    lx.pop("maskedPaths", None)
    lx.pop("readonlyPaths", None)
    cfg["root"]["readonly"] = False


def test_no_mount_namespace_inherits_ours(rt, workdir, rootfs_template, unique_id):
    bundle = make_bundle(workdir, rootfs_template, args=["sleep", "100"], edit=without_mount_ns)
    rootfs = os.path.join(bundle, "rootfs")
    marker = "marker-" + uuid.uuid4().hex[:8]
    with open(os.path.join(rootfs, marker), "w") as f:
        f.write("inside\n")
    rt("create", "--bundle", bundle, unique_id, check=True)
    pid = rt.state(unique_id)["pid"]
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    # its /proc and /dev were mounted in our namespace, under its rootfs
    assert os.path.join(rootfs, "proc") in mounts_under(rootfs)
    rt("start", unique_id, check=True)
    # init and exec are both confined to the rootfs by chroot
    assert os.readlink(f"/proc/{pid}/root") == rootfs
    p = rt("exec", unique_id, "cat", "/" + marker)
    assert p.returncode == 0 and p.stdout == "inside\n", p.stderr
    rt("delete", "--force", unique_id, check=True)
    assert mounts_under(rootfs) == []
    assert leftovers(rt, unique_id, bundle) == []


def test_no_mount_namespace_refuses_masked_paths(rt, workdir, rootfs_template, unique_id):
    def edit(cfg):
        without_mount_ns(cfg)
        cfg["linux"]["maskedPaths"] = ["/proc/kcore"]

    bundle = make_bundle(workdir, rootfs_template, args=["true"], edit=edit)
    p = rt("create", "--bundle", bundle, unique_id)
    assert p.returncode != 0
    assert p.stderr.strip() == ("berth-runtime: config.json: linux.maskedPaths needs a mount "
                                "namespace"), p.stderr
    assert leftovers(rt, unique_id, bundle) == []


def test_hostname_in_joined_uts_namespace(rt, workdir, rootfs_template, unique_id):
    holder = subprocess.Popen(["unshare", "--uts", "sleep", "100"])
    try:
        ns = f"/proc/{holder.pid}/ns/uts"
        for _ in range(200):  # unshare has run once the namespace differs from ours
            if os.readlink(ns) != os.readlink("/proc/self/ns/uts"):
                break
            subprocess.run(["sleep", "0.01"])
        name = "joined-" + uuid.uuid4().hex[:6]

        def edit(cfg):
            for n in cfg["linux"]["namespaces"]:
                if n["type"] == "uts":
                    n["path"] = ns
            cfg["hostname"] = name

        bundle = make_bundle(workdir, rootfs_template, args=["hostname"], edit=edit)
        p = rt("run", "--bundle", bundle, unique_id)
        assert p.returncode == 0 and p.stdout == name + "\n", (p.stdout, p.stderr)
        seen = subprocess.run(["nsenter", "--uts=" + ns, "hostname"], capture_output=True,
                              text=True, check=True).stdout
        assert seen == name + "\n"
        assert os.uname().nodename != name
    finally:
        holder.kill()
        holder.wait()


def test_fds_closed_when_seccomp_denies_close_range(rt, workdir, rootfs_template, unique_id):
    """Without noNewPrivileges the filter is loaded before the fds are marked
    close-on-exec: a profile written before close_range existed denies it."""
    def edit(cfg):
        cfg["process"]["noNewPrivileges"] = False
        cfg["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}],
        }

    bundle = make_bundle(workdir, rootfs_template, args=["ls", "/proc/self/fd"], edit=edit)
    r, w = os.pipe()
    try:
        p = rt("run", "--bundle", bundle, unique_id, pass_fds=(r, w))
    finally:
        os.close(r)
        os.close(w)
    assert p.returncode == 0, p.stderr
    # 0-2 and the directory ls itself reads; none of ours
    assert sorted(p.stdout.split(), key=int) == ["0", "1", "2", "3"], p.stdout


def test_start_returns_once_the_process_runs(rt, workdir, rootfs_template, unique_id):
    def edit(cfg):  # runs in the init between start's release and the execve
        cfg["hooks"] = {"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "0.5"]}]}

    bundle = make_bundle(workdir, rootfs_template, args=["sleep", "100"], edit=edit)
    rt("create", "--bundle", bundle, unique_id, check=True)
    pid = rt.state(unique_id)["pid"]
    rt("start", unique_id, check=True)
    # no window in which the pid still runs our init code (a kill would hit that)
    assert os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "busybox"
    rt("delete", "--force", unique_id, check=True)
